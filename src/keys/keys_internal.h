/* Private to the keys module. */
#ifndef CV_KEYS_INTERNAL_H
#define CV_KEYS_INTERNAL_H

#include <pthread.h>

#include <p11-kit/pkcs11.h>

#include "keys.h"

/* One logged-in session on the vault's token. */
struct p11 {
	CK_FUNCTION_LIST *f;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE sess;
	int have_sess, logged_in, loaded;
};

/* LIST itself, or in test builds the copy that injects faults
 * (p11_fault.c); the copy is static: one module per process. */
CK_FUNCTION_LIST *p11_fault_list(CK_FUNCTION_LIST *list);
/* R with "PKCS#11 WHAT failed (CKR RV)" as its detail. */
cv_err ck_fail(cv_err r, const char *what, CK_RV rv);
cv_err p11_load(struct p11 *p, const char *module, const char *softhsm_conf);
/* Initialises the first free slot's token as LABEL (SoftHSM2 only). */
cv_err p11_init_token(struct p11 *p, const char *label, const char *so_pin,
    const char *user_pin);
cv_err p11_login(struct p11 *p, const char *label, const char *pin);
/* CV_ERR_HSM_KEY when no key has LABEL. */
cv_err p11_find_key(struct p11 *p, const char *label, CK_OBJECT_HANDLE *h);
/* A new token-resident, sensitive, non-extractable AES-256 key. */
cv_err p11_gen_key(struct p11 *p, const char *label, CK_OBJECT_HANDLE *h);
/* Destroys every object labelled LABEL; none is not an error. */
cv_err p11_destroy(struct p11 *p, const char *label);
/*
 * AES-256-GCM inside the token. Sealed form: iv(12) || ct || tag(16).
 * p11_unseal returns CV_ERR_AUTH when the tag does not verify.
 */
#define P11_SEAL_OVERHEAD 28
cv_err p11_seal(struct p11 *p, CK_OBJECT_HANDLE key, const uint8_t *aad,
    size_t aadlen, const uint8_t *pt, size_t ptlen, uint8_t *out);
cv_err p11_unseal(struct p11 *p, CK_OBJECT_HANDLE key, const uint8_t *aad,
    size_t aadlen, const uint8_t *in, size_t inlen, uint8_t *pt);
void p11_close(struct p11 *p);

/*
 * Data objects (CKO_DATA, private, application "clearvault"): the token's
 * side of the binding between a vault and its keys (see bind.c). Get:
 * CV_ERR_NOT_FOUND when none has LABEL; *LEN in: room, out: length. Put
 * replaces. Each calls FN(ctx, value, len) for every clearvault object
 * until FN returns non-zero.
 */
#define P11_DATA_MAX 2048
cv_err p11_data_get(struct p11 *p, const char *label, uint8_t *buf,
    size_t *len);
cv_err p11_data_put(struct p11 *p, const char *label, const uint8_t *buf,
    size_t len);
cv_err p11_data_drop(struct p11 *p, const char *label);
cv_err p11_data_each(struct p11 *p, int (*fn)(void *ctx, const uint8_t *buf,
    size_t len), void *ctx);
/* The token's serial number (blanks trimmed). */
cv_err p11_token_info(struct p11 *p, char serial[static 17]);
/* A new session and login on token LABEL: the token is asked again. */
cv_err p11_relogin(struct p11 *p, const char *label, const char *pin);

/* A private SoftHSM2 token's config file CONF names the object folder
 * beside it (bind.c), whichever folder the vault has been moved to. */
cv_err softhsm_conf_fix(const char *conf);
/*
 * A private SoftHSM2 token's token.object, which SoftHSM2 rewrites in
 * place at every login (softhsm.c): _keep copies it after a login,
 * _mend puts the copy back, before the module loads, over one a kill
 * left torn. Best effort: the token has the last word.
 */
cv_err softhsm_token_keep(const char *conf);
cv_err softhsm_token_mend(const char *conf);

/*
 * ECDSA P-256 key pairs in the token (p11_ec.c). p11_ec_gen: a new pair
 * labelled LABEL, the private half sensitive, non-extractable, for
 * signing only. p11_ec_find: the private half and the public point
 * (uncompressed); of several pairs under LABEL, the one with the lowest
 * CKA_ID, so that processes which made one at once agree; CV_ERR_NOT_FOUND
 * when none (CV_ERR_HSM_KEY: some, but none usable). p11_ec_sign: raw ECDSA (r || s) over a SHA-256 HASH.
 * p11_ec_copy: the pairs labelled FROM copied in the token as TO (they
 * stay non-extractable). p11_ec_destroy: none left under LABEL.
 */
#define P11_EC_POINT 65
#define P11_EC_SIG 64
cv_err p11_ec_gen(struct p11 *p, const char *label);
cv_err p11_ec_find(struct p11 *p, const char *label, CK_OBJECT_HANDLE *priv,
    uint8_t point[static P11_EC_POINT]);
cv_err p11_ec_sign(struct p11 *p, CK_OBJECT_HANDLE priv,
    const uint8_t hash[static 32], uint8_t sig[static P11_EC_SIG]);
cv_err p11_ec_copy(struct p11 *p, const char *from, const char *to);
cv_err p11_ec_destroy(struct p11 *p, const char *label);

/* The keyring file: which keys exist, each sealed by its HSM root key. */
#define KR_MAGIC "CVKR"
#define KR_VERSION 1
#define KR_MAX_ENTRIES 16
#define KR_KEY_BYTES 32
#define KR_SEALED_BYTES (KR_KEY_BYTES + P11_SEAL_OVERHEAD)

enum kr_purpose { KR_KEK = 1, KR_BIDX = 2, KR_AUDIT = 3, KR_CA = 4,
	KR_TLS = 5, KR_SEAL = 6, KR__LAST = KR_SEAL };
enum kr_state { KR_ACTIVE = 1, KR_RETIRING = 2 };

struct kr_entry {
	uint32_t gen;
	uint8_t purpose, state;
	uint8_t sealed[KR_SEALED_BYTES];
	uint8_t *key;	/* sodium_malloc'd, read-only once filled */
};

struct kr {
	struct kr_entry e[KR_MAX_ENTRIES];
	size_t n;
};

struct cv_keys {
	struct p11 p11;
	char vault_id[CV_VAULT_ID_LEN + 1];
	/* Names this vault's objects in the token: the vault id, or the
	 * one a restore gave it (see cv_config). */
	char key_id[CV_VAULT_ID_LEN + 1];
	char path[CV_CONFIG_PATH_MAX + 16];	/* DIR/keyring */
	char dir[CV_CONFIG_PATH_MAX];		/* DIR, resolved */
	char label[CV_TOKEN_LABEL_MAX + 1];	/* the token's */
	char pin_file[CV_CONFIG_PATH_MAX];
	int private_token;	/* a SoftHSM2 token inside DIR */
	/* Where the records are, when every node of the vault shares them
	 * (cv_keys_open); "" for a vault of one folder. */
	char records[CV_KEYS_RECORDS_MAX + 1];
	/* The token check (cv_keys_check): set while the token is gone; a
	 * PIN the token refused is not offered again (a real HSM locks
	 * its PIN after a few wrong tries). */
	int lost;		/* atomic */
	uint8_t refused_pin[16];
	int have_refused_pin;
	struct kr kr;
	struct kr_entry *cur;	/* the active KEK */
	struct kr_entry *bidx;
	/* The P-256 keys (ec.c): the CA's in the token (its handle, found
	 * again after each check), the TLS key's scalar here. p11_mu
	 * serialises the token's session between signers and the check. */
	pthread_mutex_t p11_mu;
	CK_OBJECT_HANDLE ca_ec;
	uint8_t ec_point[CV_EC__COUNT][CV_EC_POINT_BYTES];
	uint8_t *tls_scalar;	/* sodium_malloc'd, 32 bytes */
	/* Signing keys: seeds in the keyring, expanded forms here. */
	struct {
		uint8_t *sk;	/* sodium_malloc'd, 64 bytes */
		uint8_t pk[CV_SIGN_PK_BYTES];
	} signer[CV_SIGNER__COUNT];
};

/* keys.c's helpers for bind.c. */
/* Loads the module and logs in to the token; no binding checked, no
 * keyring read. */
cv_err keys_open_bare(const struct cv_config *cfg, const char *dir,
    struct cv_keys **out) CV_MUST_CHECK;
/* Reads, parses and unseals DIR/keyring into K. */
cv_err keys_load_keyring(struct cv_keys *k) CV_MUST_CHECK;
cv_err keys_root_label(const struct cv_keys *k, uint32_t gen, char *out,
    size_t size);
/* Seals E->key (filled) under ROOT into E->sealed. */
cv_err keys_entry_seal(struct cv_keys *k, struct kr_entry *e,
    CK_OBJECT_HANDLE root);
cv_err keys_entry_unseal(struct cv_keys *k, struct kr_entry *e);
cv_err keys_keyring_save(struct cv_keys *k, int create);
cv_err keys_read_pin(const char *path, char *pin, size_t size);
/* ec.c: the token's CA key label; the P-256 keys found (the CA's made if
 * the token has none yet) and derived (the TLS key, from SEED). */
cv_err keys_ec_label(const char *key_id, char *out, size_t size);
cv_err keys_ec_open(struct cv_keys *k, const uint8_t seed[static 32])
    CV_MUST_CHECK;
/* The CA key's handle found again (after a new session). */
cv_err keys_ec_refind(struct cv_keys *k) CV_MUST_CHECK;
void keys_ec_free(struct cv_keys *k);

/*
 * The binding (bind.c): a data object "cv-KEYID-vault" in the token names
 * the vault whose keys these are (vault id, key id, machine, folder).
 * bind_check at open: CV_OK when the token's keys are this vault's here;
 * a refusal naming both vaults otherwise (another vault's token, a copy
 * of a vault that is still there, a vault moved from elsewhere). A token
 * holding this vault's keys but no binding (a vault made before it
 * existed) is bound at once. bind_write binds the keys to K's folder.
 */
cv_err bind_check(struct cv_keys *k) CV_MUST_CHECK;
cv_err bind_write(struct cv_keys *k) CV_MUST_CHECK;

/*
 * The binding's bytes, version 2 (all integers big-endian):
 *   "CVTB" | u8 version=2 | u8 0 | vault_id[16] | key_id[16] |
 *   u16 len | machine[len] | u16 len | folder[len] | u16 len | records[len]
 * Version 1, read still, ends after the folder (no records: "").
 * bind_parse: CV_ERR_FORMAT on any malformation (bad magic or version,
 * ids not lower-case hex, lengths past the end, trailing bytes, a NUL or
 * control byte in a string).
 */
#define BIND_MACHINE_MAX 255
struct bind_rec {
	char vault_id[CV_VAULT_ID_LEN + 1];
	char key_id[CV_VAULT_ID_LEN + 1];
	char machine[BIND_MACHINE_MAX + 1];
	char dir[CV_CONFIG_PATH_MAX];
	char records[CV_KEYS_RECORDS_MAX + 1];	/* "" when folder-bound */
};
cv_err bind_parse(const uint8_t *buf, size_t len,
    struct bind_rec *out) CV_MUST_CHECK;
cv_err bind_format(const struct bind_rec *b, uint8_t *out, size_t size,
    size_t *len) CV_MUST_CHECK;

/*
 * Parses keyring file bytes (no key is unsealed). CV_ERR_FORMAT with a
 * detail on any malformation: bad magic or version, truncation, trailing
 * bytes, unknown purpose or state, duplicate (gen, purpose).
 */
cv_err kr_parse(const uint8_t *buf, size_t len, struct kr *out) CV_MUST_CHECK;
/* Serialises KR into OUT (at least kr_size(KR) bytes). */
size_t kr_size(const struct kr *kr);
void kr_write(const struct kr *kr, uint8_t *out);

#endif
