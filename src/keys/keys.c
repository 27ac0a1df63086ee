#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "keys_internal.h"

#define KEYRING_FILE "keyring"
#define PIN_BYTES 24
#define SEAL_AAD_TAG "clearvault keyring v1"
#define DEK_AAD_TAG "cv-dek-v1"

static const uint8_t signer_purpose[CV_SIGNER__COUNT] = {
	[CV_SIGNER_AUDIT] = KR_AUDIT, [CV_SIGNER_CA] = KR_CA,
	[CV_SIGNER_TLS] = KR_TLS,
};

cv_err
keys_root_label(const struct cv_keys *k, uint32_t gen, char *out,
    size_t size)
{
	return cv_path(out, size, "cv-%s-root-%u", k->key_id, gen);
}

static size_t
seal_aad(const struct cv_keys *k, const struct kr_entry *e, uint8_t *aad)
{
	size_t n = sizeof SEAL_AAD_TAG - 1;

	memcpy(aad, SEAL_AAD_TAG, n);
	memcpy(aad + n, k->vault_id, CV_VAULT_ID_LEN);
	n += CV_VAULT_ID_LEN;
	cv_put_u32be(aad + n, e->gen);
	aad[n + 4] = e->purpose;
	return n + 5;
}

static void
entry_wipe(struct kr_entry *e)
{
	if (e->key)
		sodium_free(e->key);	/* wipes before unmapping */
	memset(e, 0, sizeof *e);
}

cv_err
keys_entry_seal(struct cv_keys *k, struct kr_entry *e, CK_OBJECT_HANDLE root)
{
	uint8_t aad[64];
	size_t aadlen = seal_aad(k, e, aad);

	if (p11_seal(&k->p11, root, aad, aadlen, e->key, KR_KEY_BYTES,
	    e->sealed) != CV_OK)
		return CV_ERR_HSM;
	return CV_OK;
}

/* Generates a key for E in locked memory and seals it under root GEN. */
static cv_err
entry_make(struct cv_keys *k, struct kr_entry *e, CK_OBJECT_HANDLE root)
{
	cv_err r;

	if ((e->key = sodium_malloc(KR_KEY_BYTES)) == NULL)
		return CV_ERR_NOMEM;
	randombytes_buf(e->key, KR_KEY_BYTES);
	if ((r = keys_entry_seal(k, e, root)) != CV_OK)
		return r;
	sodium_mprotect_readonly(e->key);
	return CV_OK;
}

cv_err
keys_entry_unseal(struct cv_keys *k, struct kr_entry *e)
{
	CK_OBJECT_HANDLE root;
	char label[64];
	uint8_t aad[64];
	size_t aadlen;
	cv_err r;

	if ((r = keys_root_label(k, e->gen, label, sizeof label)) != CV_OK ||
	    (r = p11_find_key(&k->p11, label, &root)) != CV_OK)
		return r;
	if ((e->key = sodium_malloc(KR_KEY_BYTES)) == NULL)
		return CV_ERR_NOMEM;
	aadlen = seal_aad(k, e, aad);
	if ((r = p11_unseal(&k->p11, root, aad, aadlen, e->sealed,
	    KR_SEALED_BYTES, e->key)) != CV_OK)
		return r;
	/*
	 * Read-only, not no-access: many threads unwrap data keys at once,
	 * and toggling protection is process-wide, so it would race.
	 */
	sodium_mprotect_readonly(e->key);
	return CV_OK;
}

cv_err
keys_keyring_save(struct cv_keys *k, int create)
{
	uint8_t buf[8 + KR_MAX_ENTRIES * (8 + KR_SEALED_BYTES)];
	size_t len = kr_size(&k->kr);

	kr_write(&k->kr, buf);
	if (create)
		return cv_file_create(k->path, buf, len, 0600);
	return cv_file_replace(k->path, buf, len, 0600);
}

/* Picks the current KEK (newest active) and the blind-index key. */
static cv_err
index_entries(struct cv_keys *k)
{
	k->cur = k->bidx = NULL;
	for (size_t i = 0; i < k->kr.n; i++) {
		struct kr_entry *e = &k->kr.e[i];
		if (e->purpose == KR_KEK && e->state == KR_ACTIVE &&
		    (k->cur == NULL || e->gen > k->cur->gen))
			k->cur = e;
		if (e->purpose == KR_BIDX)
			k->bidx = e;
	}
	if (k->cur == NULL || k->bidx == NULL)
		return cv_fail(CV_ERR_FORMAT, "keyring: no active key");
	return CV_OK;
}

static struct kr_entry *
find_purpose(const struct cv_keys *k, uint8_t purpose)
{
	for (size_t i = 0; i < k->kr.n; i++) {
		if (k->kr.e[i].purpose == purpose)
			return (struct kr_entry *)&k->kr.e[i];
	}
	return NULL;
}

/*
 * The permanent key of PURPOSE, made (sealed by root 0) if this keyring
 * predates it.
 */
static cv_err
ensure_entry(struct cv_keys *k, uint8_t purpose, struct kr_entry **out)
{
	struct kr_entry *e = find_purpose(k, purpose);
	CK_OBJECT_HANDLE root;
	char label[64];
	cv_err r;

	if (e == NULL) {
		if (k->kr.n == KR_MAX_ENTRIES)
			return cv_fail(CV_ERR_INTERNAL, "keyring full");
		e = &k->kr.e[k->kr.n];
		*e = (struct kr_entry){ .gen = 0, .purpose = purpose,
		    .state = KR_ACTIVE };
		if ((r = keys_root_label(k, 0, label, sizeof label)) != CV_OK ||
		    (r = p11_find_key(&k->p11, label, &root)) != CV_OK ||
		    (r = entry_make(k, e, root)) != CV_OK) {
			entry_wipe(e);
			return r;
		}
		k->kr.n++;
		if ((r = keys_keyring_save(k, 0)) != CV_OK ||
		    (r = index_entries(k)) != CV_OK)
			return r;
		e = find_purpose(k, purpose);
	}
	*out = e;
	return CV_OK;
}

/* Expands every signing seed; makes the sealing key available. */
static cv_err
permanent_keys(struct cv_keys *k)
{
	struct kr_entry *e;
	cv_err r;

	for (int i = 0; i < CV_SIGNER__COUNT; i++) {
		if ((r = ensure_entry(k, signer_purpose[i], &e)) != CV_OK)
			return r;
		if ((k->signer[i].sk = sodium_malloc(
		    crypto_sign_SECRETKEYBYTES)) == NULL)
			return CV_ERR_NOMEM;
		if (crypto_sign_seed_keypair(k->signer[i].pk, k->signer[i].sk,
		    e->key) != 0)
			return CV_ERR_CRYPTO;
		/* Only the audit key signs with Ed25519 now: the others'
		 * public halves are all that is kept of them here. */
		if (i != CV_SIGNER_AUDIT) {
			sodium_free(k->signer[i].sk);
			k->signer[i].sk = NULL;
			continue;
		}
		sodium_mprotect_readonly(k->signer[i].sk);
	}
	/* The P-256 keys: the TLS key from the same seed as the Ed25519
	 * one (a keyring of any age has it), the CA's in the token. */
	if ((r = ensure_entry(k, KR_TLS, &e)) != CV_OK ||
	    (r = keys_ec_open(k, e->key)) != CV_OK)
		return r;
	/* Looked up at each use: rotation compacts the entry array. */
	return ensure_entry(k, KR_SEAL, &e);
}

cv_err
keys_read_pin(const char *path, char *pin, size_t size)
{
	struct stat st;
	char *text = NULL;
	size_t len;
	cv_err r;

	if (stat(path, &st) == 0 && (st.st_mode & 077))
		return cv_fail(CV_ERR_CONFIG, "PIN file %s is readable by "
		    "others (chmod 600 it)", path);
	if ((r = cv_file_read(path, 256, &text, &len)) != CV_OK)
		return r == CV_ERR_NOT_FOUND ? cv_fail(CV_ERR_CONFIG,
		    "PIN file %s does not exist", path) : r;
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	if (len == 0 || len >= size) {
		sodium_memzero(text, len);
		free(text);
		return cv_fail(CV_ERR_CONFIG, "PIN file %s is empty or too "
		    "long", path);
	}
	memcpy(pin, text, len);
	pin[len] = '\0';
	sodium_memzero(text, len);
	free(text);
	return CV_OK;
}

/* A private token's token.object not mended or kept (softhsm.c): said,
 * not fatal; the token decides whether it opens. */
static void
token_warn(const char *conf)
{
	fprintf(stderr, "clearvault: warning: the token of %s: %s\n", conf,
	    cv_err_detail());
	cv_err_clear();
}

static void
token_keep(const struct cv_keys *k, const struct cv_config *cfg)
{
	if (k->private_token && softhsm_token_keep(cfg->softhsm2_conf) !=
	    CV_OK)
		token_warn(cfg->softhsm2_conf);
}

static cv_err
keys_alloc(const struct cv_config *cfg, const char *dir, struct cv_keys **out)
{
	struct cv_keys *k;
	char abs[PATH_MAX];
	cv_err r;

	*out = NULL;
	if (sodium_init() < 0)
		return CV_ERR_CRYPTO;
	if ((k = calloc(1, sizeof *k)) == NULL)
		return CV_ERR_NOMEM;
	pthread_mutex_init(&k->p11_mu, NULL);
	memcpy(k->vault_id, cfg->vault_id, sizeof k->vault_id);
	memcpy(k->key_id, cfg->key_id, sizeof k->key_id);
	memcpy(k->label, cfg->token_label, sizeof k->label);
	memcpy(k->pin_file, cfg->pin_file, sizeof k->pin_file);
	k->private_token = cfg->softhsm2_conf[0] != '\0';
	if (realpath(dir, abs) == NULL || strlen(abs) >= sizeof k->dir) {
		r = cv_fail(CV_ERR_IO, "cannot resolve %s", dir);
		goto fail;
	}
	strcpy(k->dir, abs);
	/* A private token moves and is copied with its vault: its config
	 * must name the token beside it, never the place it was made. */
	if ((r = cv_path(k->path, sizeof k->path, "%s/%s", dir,
	    KEYRING_FILE)) != CV_OK ||
	    (k->private_token &&
	    (r = softhsm_conf_fix(cfg->softhsm2_conf)) != CV_OK))
		goto fail;
	if (k->private_token && softhsm_token_mend(cfg->softhsm2_conf) !=
	    CV_OK)
		token_warn(cfg->softhsm2_conf);
	if ((r = p11_load(&k->p11, cfg->pkcs11_module,
	    cfg->softhsm2_conf)) != CV_OK)
		goto fail;
	*out = k;
	return CV_OK;
 fail:
	free(k);
	return r;
}

/* A handle opened without keys (the server's network process) must fail
 * closed, not crash, if a key operation is still routed to it. */
static cv_err
no_keys(void)
{
	return cv_fail(CV_ERR_HSM, "no keys in this process: the key process "
	    "holds them");
}

cv_err
cv_keys_create(const struct cv_config *cfg, const char *dir, int new_token)
{
	struct cv_keys *k = NULL;
	CK_OBJECT_HANDLE root0, root1;
	char pin[128], so_pin[64], label[64];
	uint8_t raw[PIN_BYTES];
	struct stat st;
	cv_err r;

	if ((r = keys_alloc(cfg, dir, &k)) != CV_OK)
		return r;
	if (stat(k->path, &st) == 0) {
		r = cv_fail(CV_ERR_EXISTS, "%s already exists", k->path);
		goto out;
	}
	if (new_token) {
		randombytes_buf(raw, sizeof raw);
		sodium_bin2base64(pin, sizeof pin, raw, sizeof raw,
		    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		randombytes_buf(raw, sizeof raw);
		sodium_bin2base64(so_pin, sizeof so_pin, raw, sizeof raw,
		    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		if ((r = cv_file_create(cfg->pin_file, pin, strlen(pin),
		    0600)) != CV_OK ||
		    (r = p11_init_token(&k->p11, cfg->token_label, so_pin,
		    pin)) != CV_OK)
			goto out;
	} else if ((r = keys_read_pin(cfg->pin_file, pin, sizeof pin)) != CV_OK ||
	    (r = p11_login(&k->p11, cfg->token_label, pin)) != CV_OK)
		goto out;
	token_keep(k, cfg);

	/* Generation 0 seals the permanent keys, 1 the first KEK. */
	if ((r = keys_root_label(k, 0, label, sizeof label)) != CV_OK)
		goto out;
	if (p11_find_key(&k->p11, label, &root0) == CV_OK) {
		r = cv_fail(CV_ERR_EXISTS, "the token already holds keys of "
		    "vault %s", k->vault_id);
		goto out;
	}
	if ((r = p11_gen_key(&k->p11, label, &root0)) != CV_OK ||
	    (r = keys_root_label(k, 1, label, sizeof label)) != CV_OK ||
	    (r = p11_gen_key(&k->p11, label, &root1)) != CV_OK ||
	    (r = keys_ec_label(k->key_id, label, sizeof label)) != CV_OK ||
	    (r = p11_ec_destroy(&k->p11, label)) != CV_OK ||
	    (r = p11_ec_gen(&k->p11, label)) != CV_OK)
		goto out;
	k->kr.e[0] = (struct kr_entry){ .gen = 0, .purpose = KR_BIDX,
	    .state = KR_ACTIVE };
	k->kr.e[1] = (struct kr_entry){ .gen = 1, .purpose = KR_KEK,
	    .state = KR_ACTIVE };
	k->kr.n = 2;
	/* The permanent keys (audit, CA, TLS, sealing), all under root 0. */
	for (uint8_t p = KR_AUDIT; p <= KR__LAST; p++)
		k->kr.e[k->kr.n++] = (struct kr_entry){ .gen = 0,
		    .purpose = p, .state = KR_ACTIVE };
	for (size_t i = 0; i < k->kr.n; i++) {
		if ((r = entry_make(k, &k->kr.e[i], k->kr.e[i].gen == 0 ?
		    root0 : root1)) != CV_OK)
			goto out;
	}
	if ((r = bind_write(k)) != CV_OK ||
	    (r = keys_keyring_save(k, 1)) != CV_OK)
		goto out;
	r = CV_OK;
 out:
	sodium_memzero(pin, sizeof pin);
	sodium_memzero(so_pin, sizeof so_pin);
	sodium_memzero(raw, sizeof raw);
	cv_keys_free(k);
	return r;
}

cv_err
keys_open_bare(const struct cv_config *cfg, const char *dir,
    struct cv_keys **out)
{
	struct cv_keys *k = NULL;
	char pin[128];
	cv_err r;

	*out = NULL;
	if ((r = keys_alloc(cfg, dir, &k)) != CV_OK)
		return r;
	if ((r = keys_read_pin(cfg->pin_file, pin, sizeof pin)) != CV_OK ||
	    (r = p11_login(&k->p11, cfg->token_label, pin)) != CV_OK)
		goto out;
	token_keep(k, cfg);
	*out = k;
	k = NULL; /* transferred */
 out:
	sodium_memzero(pin, sizeof pin);
	cv_keys_free(k);
	return r;
}

cv_err
keys_load_keyring(struct cv_keys *k)
{
	char *buf = NULL;
	size_t len;
	cv_err r;

	if ((r = cv_file_read(k->path, 4096, &buf, &len)) != CV_OK) {
		if (r == CV_ERR_NOT_FOUND)
			r = cv_fail(CV_ERR_FORMAT, "%s is missing", k->path);
		return r;
	}
	if ((r = kr_parse((uint8_t *)buf, len, &k->kr)) != CV_OK)
		goto out;
	for (size_t i = 0; i < k->kr.n; i++) {
		if ((r = keys_entry_unseal(k, &k->kr.e[i])) != CV_OK)
			goto out;
	}
	r = index_entries(k);
 out:
	free(buf);
	return r;
}

cv_err
cv_keys_open(const struct cv_config *cfg, const char *dir,
    const char *records, struct cv_keys **out)
{
	struct cv_keys *k = NULL;
	cv_err r;

	*out = NULL;
	if (records && strlen(records) > CV_KEYS_RECORDS_MAX)
		return cv_fail(CV_ERR_INVALID, "the records' name is too long");
	if ((r = keys_open_bare(cfg, dir, &k)) != CV_OK)
		goto out;
	snprintf(k->records, sizeof k->records, "%s", records ? records : "");
	if ((r = bind_check(k)) != CV_OK ||
	    (r = keys_load_keyring(k)) != CV_OK ||
	    (r = permanent_keys(k)) != CV_OK)
		goto out;
	*out = k;
	k = NULL; /* transferred */
 out:
	cv_keys_free(k);
	return r;
}

void
cv_keys_free(struct cv_keys *k)
{
	if (k == NULL)
		return;
	for (size_t i = 0; i < KR_MAX_ENTRIES; i++)
		entry_wipe(&k->kr.e[i]);
	for (int i = 0; i < CV_SIGNER__COUNT; i++) {
		if (k->signer[i].sk)
			sodium_free(k->signer[i].sk);
	}
	keys_ec_free(k);
	p11_close(&k->p11);
	pthread_mutex_destroy(&k->p11_mu);
	sodium_memzero(k, sizeof *k);
	free(k);
}

static size_t
dek_aad(const char *rid, uint32_t gen, uint8_t *aad)
{
	size_t n = sizeof DEK_AAD_TAG - 1, idlen = strlen(rid);

	memcpy(aad, DEK_AAD_TAG, n);
	aad[n++] = (uint8_t)idlen;
	memcpy(aad + n, rid, idlen);
	n += idlen;
	cv_put_u32be(aad + n, gen);
	return n + 4;
}

static const struct kr_entry *
find_kek(const struct cv_keys *k, uint32_t gen)
{
	for (size_t i = 0; i < k->kr.n; i++) {
		if (k->kr.e[i].purpose == KR_KEK && k->kr.e[i].gen == gen)
			return &k->kr.e[i];
	}
	return NULL;
}

/*
 * Wrapping nonces, drawn 4 KiB at a time: one getrandom per data key
 * would be most of a rotation's cost. Nonces are public; data keys
 * themselves always come straight from randombytes_buf.
 */
static void
nonce(uint8_t out[static crypto_aead_xchacha20poly1305_ietf_NPUBBYTES])
{
	static _Thread_local uint8_t pool[4096];
	static _Thread_local size_t left;
	const size_t n = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;

	if (left < n) {
		randombytes_buf(pool, sizeof pool);
		left = sizeof pool;
	}
	memcpy(out, pool + sizeof pool - left, n);
	left -= n;
}

/* WDEK's nonce must already be random. */
static cv_err
wrap(const struct kr_entry *kek, const char *rid, const uint8_t *dek,
    uint8_t *wdek)
{
	uint8_t aad[16 + 256];
	size_t aadlen;

	if (strlen(rid) > 255)
		return CV_ERR_INVALID;
	aadlen = dek_aad(rid, kek->gen, aad);
	crypto_aead_xchacha20poly1305_ietf_encrypt(
	    wdek + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, NULL, dek,
	    CV_DEK_BYTES, aad, aadlen, NULL, wdek, kek->key);
	return CV_OK;
}

/* Fail closed while the token is gone (cv_keys_check): the keys in
 * memory must not outlive the HSM they came from. */
static cv_err
token_gone(void)
{
	return cv_fail(CV_ERR_HSM, "the HSM token is unavailable: no record "
	    "key is used until it is back");
}

cv_err
cv_keys_dek_new(struct cv_keys *k, const char *rid,
    uint8_t dek[static CV_DEK_BYTES], uint8_t wdek[static CV_WDEK_BYTES],
    uint32_t *gen)
{
	cv_err r;

	if (k == NULL)
		return no_keys();
	if (cv_keys_lost(k)) {
		sodium_memzero(dek, CV_DEK_BYTES);
		return token_gone();
	}

	randombytes_buf(dek, CV_DEK_BYTES);
	nonce(wdek);
	*gen = k->cur->gen;
	if ((r = wrap(k->cur, rid, dek, wdek)) != CV_OK)
		sodium_memzero(dek, CV_DEK_BYTES);
	return r;
}

cv_err
cv_keys_dek_unwrap(struct cv_keys *k, const char *rid, uint32_t gen,
    const uint8_t wdek[static CV_WDEK_BYTES], uint8_t dek[static CV_DEK_BYTES])
{
	const struct kr_entry *kek;
	uint8_t aad[16 + 256];
	unsigned long long len;
	size_t aadlen;

	if (k == NULL)
		return no_keys();
	if (cv_keys_lost(k)) {
		sodium_memzero(dek, CV_DEK_BYTES);
		return token_gone();
	}
	if ((kek = find_kek(k, gen)) == NULL) {
		sodium_memzero(dek, CV_DEK_BYTES);
		return cv_fail(CV_ERR_NOT_FOUND, "key generation %u is not "
		    "in the keyring", gen);
	}
	if (strlen(rid) > 255)
		return CV_ERR_INVALID;
	aadlen = dek_aad(rid, gen, aad);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(dek, &len, NULL,
	    wdek + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
	    CV_WDEK_BYTES - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
	    aad, aadlen, wdek, kek->key) != 0 || len != CV_DEK_BYTES) {
		sodium_memzero(dek, CV_DEK_BYTES);
		return cv_fail(CV_ERR_AUTH, "the data key of %s failed "
		    "authentication", rid);
	}
	return CV_OK;
}

cv_err
cv_keys_dek_rewrap(struct cv_keys *k, const char *rid, uint32_t gen,
    const uint8_t wdek[static CV_WDEK_BYTES], uint32_t *newgen,
    uint8_t newwdek[static CV_WDEK_BYTES])
{
	uint8_t dek[CV_DEK_BYTES];
	cv_err r;

	if (k == NULL)
		return no_keys();
	if ((r = cv_keys_dek_unwrap(k, rid, gen, wdek, dek)) == CV_OK) {
		*newgen = k->cur->gen;
		nonce(newwdek);
		r = wrap(k->cur, rid, dek, newwdek);
	}
	sodium_memzero(dek, sizeof dek);
	return r;
}

cv_err
cv_keys_blind_index(struct cv_keys *k, enum cv_bidx_kind kind,
    const void *in, size_t len, uint8_t out[static CV_BIDX_BYTES])
{
	crypto_generichash_state st;
	uint8_t tag = (uint8_t)kind;

	if (k == NULL)
		return no_keys();
	if (cv_keys_lost(k))
		return token_gone();

	if (crypto_generichash_init(&st, k->bidx->key, KR_KEY_BYTES,
	    CV_BIDX_BYTES) != 0 ||
	    crypto_generichash_update(&st, &tag, 1) != 0 ||
	    crypto_generichash_update(&st, in, len) != 0 ||
	    crypto_generichash_final(&st, out, CV_BIDX_BYTES) != 0) {
		sodium_memzero(&st, sizeof st);
		return CV_ERR_CRYPTO;
	}
	sodium_memzero(&st, sizeof st);
	return CV_OK;
}

void
cv_keys_pubkey(const struct cv_keys *k, enum cv_signer which,
    uint8_t pk[static CV_SIGN_PK_BYTES])
{
	if (k == NULL) {	/* no keys here: a key that verifies nothing */
		memset(pk, 0, CV_SIGN_PK_BYTES);
		return;
	}
	memcpy(pk, k->signer[which].pk, CV_SIGN_PK_BYTES);
}

cv_err
cv_keys_sign(struct cv_keys *k, enum cv_signer which, const uint8_t *msg,
    size_t len, uint8_t sig[static CV_SIGN_BYTES])
{
	if (k == NULL)
		return no_keys();
	if ((unsigned)which >= CV_SIGNER__COUNT || k->signer[which].sk == NULL)
		return cv_fail(CV_ERR_INTERNAL, "that Ed25519 key signs nothing");
	if (crypto_sign_detached(sig, NULL, msg, len, k->signer[which].sk) !=
	    0)
		return CV_ERR_CRYPTO;
	return CV_OK;
}

void
cv_keys_audit_pubkey(const struct cv_keys *k,
    uint8_t pk[static CV_AUDIT_PK_BYTES])
{
	cv_keys_pubkey(k, CV_SIGNER_AUDIT, pk);
}

cv_err
cv_keys_audit_sign(struct cv_keys *k, const uint8_t *msg, size_t len,
    uint8_t sig[static CV_AUDIT_SIG_BYTES])
{
	if (k == NULL)
		return no_keys();
	return cv_keys_sign(k, CV_SIGNER_AUDIT, msg, len, sig);
}

#define SEAL_TAG "cv-seal-v1:"
#define XN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES

/* The sealing key (looked up: rotation compacts the array) and the
 * associated data that binds CONTEXT (256 bytes at most). */
static cv_err
seal_setup(struct cv_keys *k, const char *context,
    const struct kr_entry **e, uint8_t aad[static 256], size_t *len)
{
	size_t n = strlen(context);

	if ((*e = find_purpose(k, KR_SEAL)) == NULL)
		return cv_fail(CV_ERR_INTERNAL, "no sealing key");
	if (sizeof SEAL_TAG - 1 + n > 256)
		return cv_fail(CV_ERR_INVALID, "seal context too long");
	memcpy(aad, SEAL_TAG, sizeof SEAL_TAG - 1);
	memcpy(aad + sizeof SEAL_TAG - 1, context, n);
	*len = sizeof SEAL_TAG - 1 + n;
	return CV_OK;
}

cv_err
cv_keys_seal(struct cv_keys *k, const char *context, const uint8_t *pt,
    size_t len, uint8_t *out)
{
	const struct kr_entry *e;
	uint8_t aad[256];
	size_t alen = 0;
	cv_err r;

	if (k == NULL)
		return no_keys();
	if ((r = seal_setup(k, context, &e, aad, &alen)) != CV_OK)
		return r;
	randombytes_buf(out, XN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + XN, NULL, pt, len,
	    aad, alen, NULL, out, e->key);
	return CV_OK;
}

cv_err
cv_keys_unseal(struct cv_keys *k, const char *context, const uint8_t *in,
    size_t len, uint8_t *pt)
{
	const struct kr_entry *e;
	uint8_t aad[256];
	size_t alen = 0;
	cv_err r;

	if (k == NULL)
		return no_keys();
	if (len < CV_SEAL_OVERHEAD)
		return cv_fail(CV_ERR_FORMAT, "sealed value too short");
	if ((r = seal_setup(k, context, &e, aad, &alen)) != CV_OK)
		return r;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, NULL, NULL,
	    in + XN, len - XN, aad, alen, in, e->key) != 0)
		return cv_fail(CV_ERR_AUTH, "sealed value for %s failed "
		    "authentication", context);
	return CV_OK;
}

uint32_t
cv_keys_current_gen(const struct cv_keys *k)
{
	return k->cur->gen;
}

cv_err
cv_keys_rotate_begin(struct cv_keys *k, int *resumed)
{
	struct kr_entry *e;
	CK_OBJECT_HANDLE root;
	char label[64];
	uint32_t gen = 0;
	size_t i;
	cv_err r;

	if (k == NULL)
		return no_keys();
	*resumed = 0;
	for (i = 0; i < k->kr.n; i++) {
		if (k->kr.e[i].state == KR_RETIRING)
			*resumed = 1;
		if (k->kr.e[i].gen > gen)
			gen = k->kr.e[i].gen;
	}
	if (*resumed)
		return CV_OK;
	if (k->kr.n == KR_MAX_ENTRIES)
		return cv_fail(CV_ERR_INTERNAL, "keyring full");
	gen++;
	/* A root key left by a run that died before saving the keyring. */
	if ((r = keys_root_label(k, gen, label, sizeof label)) != CV_OK ||
	    (r = p11_destroy(&k->p11, label)) != CV_OK ||
	    (r = p11_gen_key(&k->p11, label, &root)) != CV_OK)
		return r;
	e = &k->kr.e[k->kr.n];
	*e = (struct kr_entry){ .gen = gen, .purpose = KR_KEK,
	    .state = KR_ACTIVE };
	if ((r = entry_make(k, e, root)) != CV_OK)
		goto fail;
	for (i = 0; i < k->kr.n; i++) {
		if (k->kr.e[i].purpose == KR_KEK)
			k->kr.e[i].state = KR_RETIRING;
	}
	k->kr.n++;
	if ((r = keys_keyring_save(k, 0)) != CV_OK) {
		k->kr.n--;
		for (i = 0; i < k->kr.n; i++) {
			if (k->kr.e[i].purpose == KR_KEK)
				k->kr.e[i].state = KR_ACTIVE;
		}
		/*
		 * The new root stays in the token: a save can fail after its
		 * rename (the folder's sync), leaving on disk a keyring that
		 * names it, and destroying it would make every record
		 * unreadable. The next rotate resumes from that keyring or,
		 * if the old one is still in place, destroys this root first
		 * (above). Found by tests/fault/every_site.py (file:N).
		 */
		entry_wipe(e);
		return r;
	}
	return index_entries(k);
 fail:
	entry_wipe(e);
	(void)p11_destroy(&k->p11, label);
	return r;
}

cv_err
cv_keys_rotate_finish(struct cv_keys *k)
{
	size_t i, j, ngone = 0;
	struct kr_entry kept[KR_MAX_ENTRIES];
	char label[64];
	cv_err r;

	if (k == NULL)
		return no_keys();
	memset(kept, 0, sizeof kept);
	for (i = j = 0; i < k->kr.n; i++) {
		if (k->kr.e[i].state == KR_RETIRING)
			ngone++;
		else
			kept[j++] = k->kr.e[i];
	}
	if (ngone == 0)
		return CV_OK;
	/* Save first: a keyring naming a destroyed root would not open. */
	for (i = 0; i < k->kr.n; i++) {
		if (k->kr.e[i].state == KR_RETIRING)
			entry_wipe(&k->kr.e[i]);
	}
	memcpy(k->kr.e, kept, sizeof kept);
	k->kr.n = j;
	sodium_memzero(kept, sizeof kept);
	if ((r = index_entries(k)) != CV_OK ||
	    (r = keys_keyring_save(k, 0)) != CV_OK)
		return r;
	if (cv_fault("rotate.saved"))
		kill(getpid(), SIGKILL);	/* as kill -9 */
	/*
	 * The roots of every generation below the current one: the retired
	 * ones, and any that a run killed between the save above and these
	 * destroys left behind. No keyring names such a root any more, so
	 * only here can it go; kept, it would open the backups made before
	 * it was retired. KEK generations only grow, and root 0 seals the
	 * permanent keys (never a KEK's): 1 .. current - 1.
	 */
	for (uint32_t g = 1; g < k->cur->gen; g++) {
		for (i = 0; i < k->kr.n && k->kr.e[i].gen != g; i++)
			;
		if (i < k->kr.n)
			continue;	/* named: not retired */
		if ((r = keys_root_label(k, g, label, sizeof label)) != CV_OK ||
		    (r = p11_destroy(&k->p11, label)) != CV_OK)
			return r;
	}
	return CV_OK;
}

#ifdef CV_TEST_HOOKS
void
cv_keys_test_secrets(const struct cv_keys *k,
    void (*fn)(void *ctx, const char *label, const uint8_t *key, size_t len),
    void *ctx)
{
	char label[64];

	for (size_t i = 0; i < k->kr.n; i++) {
		if (k->kr.e[i].key == NULL)
			continue;
		snprintf(label, sizeof label, "keyring-%u-%u",
		    (unsigned)k->kr.e[i].purpose, (unsigned)k->kr.e[i].gen);
		fn(ctx, label, k->kr.e[i].key, KR_KEY_BYTES);
	}
	for (int i = 0; i < CV_SIGNER__COUNT; i++)
		if (k->signer[i].sk) {
			snprintf(label, sizeof label, "signer-%d", i);
			fn(ctx, label, k->signer[i].sk, 32);	/* the seed */
		}
	if (k->tls_scalar)
		fn(ctx, "tls-p256", k->tls_scalar, 32);
}
#endif
