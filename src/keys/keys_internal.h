/* Private to the keys module. */
#ifndef CV_KEYS_INTERNAL_H
#define CV_KEYS_INTERNAL_H

#include <p11-kit/pkcs11.h>

#include "keys.h"

/* One logged-in session on the vault's token. */
struct p11 {
	CK_FUNCTION_LIST *f;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE sess;
	int have_sess, logged_in, loaded;
};

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
