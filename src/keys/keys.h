/*
 * The key hierarchy, and the only code that touches the HSM or an
 * unwrapped keyring key.
 *
 *   HSM root keys (AES-256, non-extractable, one per key generation)
 *     └ seal the keyring keys (DIR/keyring): data-key wrapping keys (KEKs),
 *       the blind-index key
 *         └ a KEK wraps each record's data key (XChaCha20-Poly1305)
 *
 * The interface is narrow (new/unwrap/rewrap a data key, compute a blind
 * index, rotate) so that it can move behind a process boundary unchanged.
 * After cv_keys_open, every call but rotation is safe from many threads.
 */
#ifndef CV_KEYS_H
#define CV_KEYS_H

#include "../base/base.h"
#include "../config/config.h"

#define CV_DEK_BYTES 32
#define CV_WDEK_BYTES 72	/* nonce(24) || ciphertext(32) || tag(16) */
#define CV_BIDX_BYTES 16

struct cv_keys;

/* Blind-index kinds: hashed as a prefix so two kinds never collide. */
enum cv_bidx_kind { CV_BIDX_SSN = 1, CV_BIDX_NAME = 2 };

/*
 * Creates the keys of a new vault described by CFG under folder DIR.
 * With NEW_TOKEN (the SoftHSM2 default) it initialises the first free slot
 * of CFG's module as token CFG->token_label, with a random user PIN written
 * to CFG->pin_file (0600, never replaced) and a random SO PIN that is
 * discarded. Otherwise it logs in to the existing token with the PIN in
 * CFG->pin_file. Then it generates the HSM root keys and the keyring and
 * writes DIR/keyring. CV_ERR_EXISTS if DIR/keyring exists; CV_ERR_HSM*
 * when the token cannot be reached or refuses.
 */
cv_err cv_keys_create(const struct cv_config *cfg, const char *dir,
    int new_token) CV_MUST_CHECK;

/*
 * Logs in to CFG's token, unseals DIR/keyring into locked memory and
 * returns the handle in *out (free with cv_keys_free). Fails closed:
 * CV_ERR_HSM (module missing or failing), CV_ERR_HSM_TOKEN (no such token),
 * CV_ERR_HSM_PIN (PIN refused), CV_ERR_HSM_KEY (root key missing),
 * CV_ERR_AUTH (keyring altered or from another token), CV_ERR_FORMAT,
 * CV_ERR_CONFIG (PIN file missing or readable by others),
 * CV_ERR_HSM_BOUND (the token's keys serve this vault elsewhere: a copy).
 *
 * RECORDS names the one database that every node of the vault shares
 * (cv_store_identity), or is "" (or NULL) for a vault whose records are
 * in its folder. The token's binding accepts any folder of the vault
 * whose records are the ones it names (the nodes of one vault, on one
 * machine or many, on one shared HSM), and refuses a copy of the vault
 * with records of its own, whose rotation would destroy the keys the
 * original still needs.
 */
#define CV_KEYS_RECORDS_MAX 255
cv_err cv_keys_open(const struct cv_config *cfg, const char *dir,
    const char *records, struct cv_keys **out) CV_MUST_CHECK;

/* Wipes every key and logs out. NULL is a no-op. */
void cv_keys_free(struct cv_keys *k);

/*
 * A fresh random data key for record RID in DEK (caller wipes it), and the
 * same key wrapped under the current KEK in WDEK, with that KEK's
 * generation in *gen. The wrapping binds RID and GEN.
 */
cv_err cv_keys_dek_new(struct cv_keys *k, const char *rid,
    uint8_t dek[static CV_DEK_BYTES], uint8_t wdek[static CV_WDEK_BYTES],
    uint32_t *gen) CV_MUST_CHECK;

/*
 * Unwraps record RID's data key. CV_ERR_AUTH when WDEK was not wrapped for
 * RID under generation GEN (tampered, or moved from another record);
 * CV_ERR_NOT_FOUND when generation GEN's key is gone. DEK is wiped on
 * failure.
 */
cv_err cv_keys_dek_unwrap(struct cv_keys *k, const char *rid, uint32_t gen,
    const uint8_t wdek[static CV_WDEK_BYTES],
    uint8_t dek[static CV_DEK_BYTES]) CV_MUST_CHECK;

/* Unwraps and wraps again under the current KEK, never exposing the DEK. */
cv_err cv_keys_dek_rewrap(struct cv_keys *k, const char *rid, uint32_t gen,
    const uint8_t wdek[static CV_WDEK_BYTES], uint32_t *newgen,
    uint8_t newwdek[static CV_WDEK_BYTES]) CV_MUST_CHECK;

/* Keyed hash of IN under the blind-index key, domain-separated by KIND. */
cv_err cv_keys_blind_index(struct cv_keys *k, enum cv_bidx_kind kind,
    const void *in, size_t len, uint8_t out[static CV_BIDX_BYTES])
    CV_MUST_CHECK;

/*
 * Ed25519 signing keys kept in the keyring (a keyring made before one of
 * them existed gets it at the next open). The audit log's checkpoints sign
 * with CV_SIGNER_AUDIT. CV_SIGNER_CA is the CA of vaults from before the
 * P-256 CA: only its public key is kept (to check DIR/ca-ed25519.pem), it
 * signs nothing (cv_keys_sign refuses). CV_SIGNER_TLS's seed is the P-256
 * TLS key's (cv_keys_ec_*); its Ed25519 form signs nothing either. Private
 * halves never leave this module.
 */
enum cv_signer { CV_SIGNER_AUDIT, CV_SIGNER_CA, CV_SIGNER_TLS,
	CV_SIGNER__COUNT };
#define CV_AUDIT_PK_BYTES 32
#define CV_AUDIT_SIG_BYTES 64
#define CV_SIGN_PK_BYTES 32
#define CV_SIGN_BYTES 64
void cv_keys_pubkey(const struct cv_keys *k, enum cv_signer which,
    uint8_t pk[static CV_SIGN_PK_BYTES]);
cv_err cv_keys_sign(struct cv_keys *k, enum cv_signer which,
    const uint8_t *msg, size_t len,
    uint8_t sig[static CV_SIGN_BYTES]) CV_MUST_CHECK;
/* The audit key: cv_keys_pubkey/cv_keys_sign with CV_SIGNER_AUDIT. */
void cv_keys_audit_pubkey(const struct cv_keys *k,
    uint8_t pk[static CV_AUDIT_PK_BYTES]);
cv_err cv_keys_audit_sign(struct cv_keys *k, const uint8_t *msg, size_t len,
    uint8_t sig[static CV_AUDIT_SIG_BYTES]) CV_MUST_CHECK;

/*
 * The ECDSA P-256 keys, for what browsers take (they refuse Ed25519
 * certificates): the vault CA's key, made inside the HSM and never out of
 * it (non-extractable; a vault made before it existed gets it at its next
 * open), and the server's TLS key, derived from the keyring's TLS seed
 * and held in this module's locked memory. The TLS key is not in the HSM
 * so that a server whose token went away can still say so over TLS (503,
 * /healthz) instead of failing every handshake: see docs/web.md.
 * cv_keys_ec_sign: ECDSA over HASH (a SHA-256 hash: GnuTLS hashes what
 * it signs), as r || s (32 bytes each, big-endian). CV_ERR_HSM when the
 * token does not sign (the CA).
 */
enum cv_ec { CV_EC_CA, CV_EC_TLS, CV_EC__COUNT };
#define CV_EC_POINT_BYTES 65	/* 0x04 || x || y */
#define CV_EC_SIG_BYTES 64
void cv_keys_ec_pubkey(const struct cv_keys *k, enum cv_ec which,
    uint8_t point[static CV_EC_POINT_BYTES]);
cv_err cv_keys_ec_sign(struct cv_keys *k, enum cv_ec which,
    const uint8_t hash[static 32],
    uint8_t sig[static CV_EC_SIG_BYTES]) CV_MUST_CHECK;

/*
 * Small secrets kept in the database (TOTP seeds): sealed with
 * XChaCha20-Poly1305 under the keyring's sealing key, bound to CONTEXT
 * (for example "totp:alice") so a sealed value moved elsewhere fails.
 * Sealed size = LEN + CV_SEAL_OVERHEAD. cv_keys_unseal: CV_ERR_AUTH.
 */
#define CV_SEAL_OVERHEAD 40
cv_err cv_keys_seal(struct cv_keys *k, const char *context,
    const uint8_t *pt, size_t len, uint8_t *out) CV_MUST_CHECK;
cv_err cv_keys_unseal(struct cv_keys *k, const char *context,
    const uint8_t *in, size_t len, uint8_t *pt) CV_MUST_CHECK;

/* The generation new data keys are wrapped under. */
uint32_t cv_keys_current_gen(const struct cv_keys *k);

/*
 * Rotation, in two durable steps so that an interrupted run can be
 * finished by running it again:
 * cv_keys_rotate_begin makes a new KEK (and HSM root key) current and keeps
 * the old ones as "retiring"; if a rotation is already under way it only
 * reports it (*resumed = 1). The caller then rewraps every data key.
 * cv_keys_rotate_finish deletes the retiring KEKs from the keyring and
 * destroys their HSM root keys, so no copy of the keyring can bring them
 * back. Not safe concurrently with other calls on K.
 */
cv_err cv_keys_rotate_begin(struct cv_keys *k, int *resumed) CV_MUST_CHECK;
cv_err cv_keys_rotate_finish(struct cv_keys *k) CV_MUST_CHECK;

/*
 * The token's presence, for a process that holds the keys for long (the
 * server): logs in to CFG's token again with the PIN file's PIN (so a
 * changed PIN is noticed) and looks for the current root keys. On failure
 * the keys refuse record work (cv_keys_dek_new, _unwrap, _rewrap,
 * cv_keys_blind_index: CV_ERR_HSM) until a check succeeds again;
 * signing goes on, so that refusals can still be logged and served. A
 * PIN the token refused is not offered again until the PIN file
 * changes (a real HSM locks its PIN after a few wrong tries). One thread
 * at a time, not during a rotation. CV_ERR_HSM* with the reason.
 */
cv_err cv_keys_check(struct cv_keys *k) CV_MUST_CHECK;
/* 1 while the last check failed. Any thread. */
int cv_keys_lost(struct cv_keys *k);

/*
 * Binds CFG's keys in the token to the vault now at DIR, after the
 * operator moved it there (see bind.c): refused (CV_ERR_HSM_BOUND) when
 * the keys are another vault's or the vault they are bound to is still
 * at its place on this machine (a copy, not a move). WAS gets the place
 * they were bound to ("(none)": unbound until now).
 */
cv_err cv_keys_rebind(const struct cv_config *cfg, const char *dir,
    char *was, size_t size) CV_MUST_CHECK;

/*
 * A restored vault's own keys: new HSM root keys named after NEW_KEY_ID,
 * every keyring key sealed again under them (the keys' values stay: the
 * records, the audit log and the certificates are unchanged), DIR/keyring
 * replaced and the token bound to DIR. CFG is the restored vault's
 * configuration, still with the key id of the vault it came from; the
 * binding of those keys is not checked (it names the original). With
 * DROP_OLD (a private token copied for this vault alone) the old root
 * keys and binding are destroyed in that token; on a shared token they
 * stay: they are the original vault's. On failure the new roots go.
 */
cv_err cv_keys_rekey(const struct cv_config *cfg, const char *dir,
    const char *new_key_id, int drop_old) CV_MUST_CHECK;

#ifdef CV_TEST_HOOKS
/*
 * Test builds only: FN(CTX, label, key, len) for every key K holds in
 * memory (keyring keys, signing keys), so that a test can search another
 * process's memory for them. Not compiled into release builds.
 */
void cv_keys_test_secrets(const struct cv_keys *k,
    void (*fn)(void *ctx, const char *label, const uint8_t *key, size_t len),
    void *ctx);
#endif

#endif
