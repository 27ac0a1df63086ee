/*
 * The ECDSA P-256 keys (keys.h): the CA's in the token, the server's TLS
 * key derived from the keyring's TLS seed.
 *
 * The TLS scalar is kept in sodium_malloc'd memory; nettle's arithmetic
 * needs it in GMP limbs for the length of one signature, wiped (every
 * allocated limb) before they are freed, and its scratch on the stack is
 * wiped after (sodium_stackzero). GMP's and nettle's own temporaries are
 * not in locked memory: the key process locks none of its pages.
 */
#include <string.h>

#include <gmp.h>
#include <nettle/bignum.h>
#include <nettle/ecc-curve.h>
#include <nettle/ecc.h>
#include <nettle/ecdsa.h>
#include <sodium.h>

#include "keys_internal.h"

/* The order of P-256's base point (FIPS 186-4 D.1.2.3). */
#define P256_N "ffffffff00000000ffffffffffffffff" \
	"bce6faada7179e84f3b9cac2fc632551"
#define TLS_TAG "clearvault tls p-256 v1"
/* Bytes of stack below a caller that a signature's or a derivation's
 * scratch may have used (nettle's ECC itch is well under 4 KiB). */
#define STACK_WIPE 16384

cv_err
keys_ec_label(const char *key_id, char *out, size_t size)
{
	return cv_path(out, size, "cv-%s-ca-p256", key_id);
}

/* Every limb Z has allocated, not only those in use (a value that
 * shrank leaves its old high limbs behind). */
static void
mpz_wipe(mpz_t z)
{
	size_t n = (size_t)z->_mp_alloc;

	if (n)
		sodium_memzero(z->_mp_d, n * sizeof(mp_limb_t));
	mpz_clear(z);
}

static void
scalar_wipe(struct ecc_scalar *s)
{
	sodium_memzero(s->p, (size_t)ecc_size(s->ecc) * sizeof(mp_limb_t));
	ecc_scalar_clear(s);
}

/* The scalar of the TLS key as nettle wants it; *S to scalar_wipe. */
static cv_err
tls_scalar(const struct cv_keys *k, struct ecc_scalar *s)
{
	mpz_t z;
	int ok;

	mpz_init(z);
	nettle_mpz_set_str_256_u(z, 32, k->tls_scalar);
	ecc_scalar_init(s, nettle_get_secp_256r1());
	ok = ecc_scalar_set(s, z);
	mpz_wipe(z);
	if (!ok) {
		scalar_wipe(s);
		return cv_fail(CV_ERR_CRYPTO, "the TLS key is out of range");
	}
	return CV_OK;
}

/* SHA-512 of the seed, reduced into [1, n-1]: uniform to within 2^-256. */
static cv_err
derive_tls(struct cv_keys *k, const uint8_t seed[static 32])
{
	crypto_hash_sha512_state st;
	uint8_t h[64];
	struct ecc_scalar s;
	struct ecc_point pt;
	mpz_t z, d, n, x, y;
	cv_err r;

	if ((k->tls_scalar = sodium_malloc(32)) == NULL)
		return CV_ERR_NOMEM;
	crypto_hash_sha512_init(&st);
	crypto_hash_sha512_update(&st, (const uint8_t *)TLS_TAG,
	    sizeof TLS_TAG);
	crypto_hash_sha512_update(&st, seed, 32);
	crypto_hash_sha512_final(&st, h);
	/* The reduction into its own variable: GMP copies an operand that
	 * is also the result onto the stack. */
	mpz_inits(z, d, n, NULL);
	nettle_mpz_set_str_256_u(z, sizeof h, h);
	sodium_memzero(h, sizeof h);
	mpz_set_str(n, P256_N, 16);
	mpz_sub_ui(n, n, 1);
	mpz_mod(d, z, n);
	mpz_add_ui(d, d, 1);
	nettle_mpz_get_str_256(32, k->tls_scalar, d);
	mpz_wipe(z);
	mpz_wipe(d);
	mpz_clear(n);
	sodium_mprotect_readonly(k->tls_scalar);

	if ((r = tls_scalar(k, &s)) != CV_OK)
		return r;
	ecc_point_init(&pt, nettle_get_secp_256r1());
	ecc_point_mul_g(&pt, &s);
	scalar_wipe(&s);
	mpz_inits(x, y, NULL);
	ecc_point_get(&pt, x, y);
	k->ec_point[CV_EC_TLS][0] = 0x04;
	nettle_mpz_get_str_256(32, k->ec_point[CV_EC_TLS] + 1, x);
	nettle_mpz_get_str_256(32, k->ec_point[CV_EC_TLS] + 33, y);
	mpz_clears(x, y, NULL);
	ecc_point_clear(&pt);
	/* What GMP and nettle left of the scalar on this stack. */
	sodium_stackzero(STACK_WIPE);
	return CV_OK;
}

cv_err
keys_ec_refind(struct cv_keys *k)
{
	uint8_t pt[CV_EC_POINT_BYTES];
	CK_OBJECT_HANDLE h;
	char label[64];
	cv_err r;

	if ((r = keys_ec_label(k->key_id, label, sizeof label)) != CV_OK ||
	    (r = p11_ec_find(&k->p11, label, &h, pt)) != CV_OK)
		return r;
	/* Found again (a new session): the same key, or the token is not
	 * what it was. Never a silent switch to another CA key. */
	if (k->ec_point[CV_EC_CA][0] == 0x04 &&
	    memcmp(pt, k->ec_point[CV_EC_CA], sizeof pt) != 0)
		return cv_fail(CV_ERR_HSM_KEY, "the token's CA key '%s' is "
		    "not the one this process started with", label);
	memcpy(k->ec_point[CV_EC_CA], pt, sizeof pt);
	k->ca_ec = h;
	return CV_OK;
}

cv_err
keys_ec_open(struct cv_keys *k, const uint8_t seed[static 32])
{
	char label[64];
	cv_err r;

	if ((r = derive_tls(k, seed)) != CV_OK ||
	    (r = keys_ec_label(k->key_id, label, sizeof label)) != CV_OK)
		return r;
	/* A vault made before the CA key lived in the token gets it now;
	 * only when there is none at all, never beside a damaged one. */
	if ((r = keys_ec_refind(k)) == CV_ERR_NOT_FOUND &&
	    (r = p11_ec_gen(&k->p11, label)) == CV_OK)
		r = keys_ec_refind(k);
	return r;
}

void
keys_ec_free(struct cv_keys *k)
{
	if (k->tls_scalar)
		sodium_free(k->tls_scalar);
	k->tls_scalar = NULL;
}

void
cv_keys_ec_pubkey(const struct cv_keys *k, enum cv_ec which,
    uint8_t point[static CV_EC_POINT_BYTES])
{
	if (k == NULL || (unsigned)which >= CV_EC__COUNT) {
		memset(point, 0, CV_EC_POINT_BYTES);
		return;
	}
	memcpy(point, k->ec_point[which], CV_EC_POINT_BYTES);
}

static void
rnd(void *ctx, size_t len, uint8_t *out)
{
	(void)ctx;
	randombytes_buf(out, len);
}

static cv_err
tls_sign(struct cv_keys *k, const uint8_t hash[static 32],
    uint8_t sig[static CV_EC_SIG_BYTES])
{
	struct ecc_scalar s;
	struct dsa_signature ds;
	cv_err r;

	if ((r = tls_scalar(k, &s)) != CV_OK)
		return r;
	dsa_signature_init(&ds);
	ecdsa_sign(&s, NULL, rnd, 32, hash, &ds);
	scalar_wipe(&s);
	nettle_mpz_get_str_256(32, sig, ds.r);
	nettle_mpz_get_str_256(32, sig + 32, ds.s);
	dsa_signature_clear(&ds);
	/* The nonce and its inverse, in nettle's scratch on this stack,
	 * give the key away with the signature. */
	sodium_stackzero(STACK_WIPE);
	return CV_OK;
}

cv_err
cv_keys_ec_sign(struct cv_keys *k, enum cv_ec which,
    const uint8_t hash[static 32], uint8_t sig[static CV_EC_SIG_BYTES])
{
	cv_err r;

	if (k == NULL)
		return cv_fail(CV_ERR_HSM, "no keys in this process: the key "
		    "process holds them");
	switch (which) {
	case CV_EC_TLS:
		return tls_sign(k, hash, sig);
	case CV_EC_CA:
		pthread_mutex_lock(&k->p11_mu);
		r = cv_keys_lost(k) ? cv_fail(CV_ERR_HSM, "the HSM token is "
		    "unavailable: the CA signs nothing until it is back") :
		    p11_ec_sign(&k->p11, k->ca_ec, hash, sig);
		pthread_mutex_unlock(&k->p11_mu);
		return r;
	default:
		return cv_fail(CV_ERR_INTERNAL, "no such key");
	}
}
