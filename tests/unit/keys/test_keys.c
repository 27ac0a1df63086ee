/* The key hierarchy against a real SoftHSM2 token. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <sodium.h>

#include "../testutil.h"
#include "keys/keys_internal.h"
#include "vault/vault.h"

static const char *dir;
static struct cv_config cfg;

static int
setup(void **state)
{
	struct cv_vault_init_opts o = { 0 };

	(void)state;
	dir = test_vault_dir();
	if (cv_vault_init(dir, &o) != CV_OK ||
	    cv_config_load(dir, &cfg) != CV_OK)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	test_rm_rf(dir);
	return 0;
}

static struct cv_keys *
open_keys(void)
{
	struct cv_keys *k = NULL;

	assert_int_equal(cv_keys_open(&cfg, dir, NULL, &k), CV_OK);
	return k;
}

static void
test_dek_roundtrip_and_binding(void **state)
{
	struct cv_keys *k = open_keys();
	uint8_t dek[CV_DEK_BYTES], wdek[CV_WDEK_BYTES], out[CV_DEK_BYTES];
	uint32_t gen;

	(void)state;
	assert_int_equal(cv_keys_dek_new(k, "R-1", dek, wdek, &gen), CV_OK);
	assert_int_equal(gen, 1);
	assert_int_equal(cv_keys_dek_unwrap(k, "R-1", gen, wdek, out), CV_OK);
	assert_memory_equal(dek, out, CV_DEK_BYTES);
	/* Moved to another record: refused, and nothing leaks out. */
	assert_int_equal(cv_keys_dek_unwrap(k, "R-2", gen, wdek, out),
	    CV_ERR_AUTH);
	assert_true(sodium_is_zero(out, sizeof out));
	assert_int_equal(cv_keys_dek_unwrap(k, "R-1", 7, wdek, out),
	    CV_ERR_NOT_FOUND);
	wdek[40] ^= 1;
	assert_int_equal(cv_keys_dek_unwrap(k, "R-1", gen, wdek, out),
	    CV_ERR_AUTH);
	cv_keys_free(k);
}

static void
test_blind_index(void **state)
{
	struct cv_keys *k = open_keys();
	uint8_t a[CV_BIDX_BYTES], b[CV_BIDX_BYTES], c[CV_BIDX_BYTES];

	(void)state;
	assert_int_equal(cv_keys_blind_index(k, CV_BIDX_SSN, "912345678", 9,
	    a), CV_OK);
	assert_int_equal(cv_keys_blind_index(k, CV_BIDX_SSN, "912345678", 9,
	    b), CV_OK);
	assert_int_equal(cv_keys_blind_index(k, CV_BIDX_NAME, "912345678", 9,
	    c), CV_OK);
	assert_memory_equal(a, b, sizeof a);
	assert_memory_not_equal(a, c, sizeof a);
	cv_keys_free(k);
}

static void
test_rotation_destroys_old_key(void **state)
{
	struct cv_keys *k = open_keys();
	uint8_t dek[CV_DEK_BYTES], wdek[CV_WDEK_BYTES], w2[CV_WDEK_BYTES];
	uint8_t out[CV_DEK_BYTES];
	char path[1100], *old = NULL;
	size_t oldlen;
	uint32_t gen, g2;
	int resumed;
	FILE *f;

	(void)state;
	snprintf(path, sizeof path, "%s/keyring", dir);
	assert_int_equal(cv_file_read(path, 4096, &old, &oldlen), CV_OK);
	assert_int_equal(cv_keys_dek_new(k, "R-9", dek, wdek, &gen), CV_OK);
	assert_int_equal(cv_keys_rotate_begin(k, &resumed), CV_OK);
	assert_false(resumed);
	assert_int_equal(cv_keys_current_gen(k), gen + 1);
	/* Mid-rotation both generations open. */
	assert_int_equal(cv_keys_dek_unwrap(k, "R-9", gen, wdek, out), CV_OK);
	assert_int_equal(cv_keys_dek_rewrap(k, "R-9", gen, wdek, &g2, w2),
	    CV_OK);
	assert_int_equal(g2, gen + 1);
	cv_keys_free(k);
	/* An interrupted rotation resumes instead of starting another. */
	k = open_keys();
	assert_int_equal(cv_keys_rotate_begin(k, &resumed), CV_OK);
	assert_true(resumed);
	assert_int_equal(cv_keys_rotate_finish(k), CV_OK);
	assert_int_equal(cv_keys_dek_unwrap(k, "R-9", gen, wdek, out),
	    CV_ERR_NOT_FOUND);
	assert_int_equal(cv_keys_dek_unwrap(k, "R-9", g2, w2, out), CV_OK);
	assert_memory_equal(out, dek, sizeof dek);
	cv_keys_free(k);
	/* A copy of the old keyring is useless: its root key is gone. */
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(old, 1, oldlen, f), oldlen);
	fclose(f);
	k = NULL;
	assert_int_equal(cv_keys_open(&cfg, dir, NULL, &k), CV_ERR_HSM_KEY);
	assert_null(k);
	free(old);
}

static void
test_signers_and_sealing(void **state)
{
	struct cv_keys *k = open_keys();
	uint8_t pk[32], sig[64], box[16 + CV_SEAL_OVERHEAD], out[16];
	const uint8_t msg[] = "checkpoint";

	(void)state;
	for (int w = 0; w < CV_SIGNER__COUNT; w++) {
		cv_keys_pubkey(k, w, pk);
		if (w != CV_SIGNER_AUDIT) {
			/* Kept for their public halves only. */
			assert_int_equal(cv_keys_sign(k, w, msg, sizeof msg,
			    sig), CV_ERR_INTERNAL);
			continue;
		}
		assert_int_equal(cv_keys_sign(k, w, msg, sizeof msg, sig),
		    CV_OK);
		assert_int_equal(crypto_sign_verify_detached(sig, msg,
		    sizeof msg, pk), 0);
	}
	assert_int_equal(cv_keys_seal(k, "totp:alice", (const uint8_t *)
	    "0123456789abcdef", 16, box), CV_OK);
	assert_int_equal(cv_keys_unseal(k, "totp:alice", box, sizeof box,
	    out), CV_OK);
	assert_memory_equal(out, "0123456789abcdef", 16);
	assert_int_equal(cv_keys_unseal(k, "totp:bob", box, sizeof box, out),
	    CV_ERR_AUTH);
	box[30] ^= 1;
	assert_int_equal(cv_keys_unseal(k, "totp:alice", box, sizeof box,
	    out), CV_ERR_AUTH);
	cv_keys_free(k);
}

/* 1 if SIG (r || s) over HASH verifies under the P-256 point PT. */
static int
ec_verifies(const uint8_t pt[CV_EC_POINT_BYTES], const uint8_t hash[32],
    const uint8_t sig[CV_EC_SIG_BYTES])
{
	gnutls_pubkey_t pub;
	gnutls_datum_t x = { (uint8_t *)pt + 1, 32 }, y = { (uint8_t *)pt + 33,
	    32 }, r = { (uint8_t *)sig, 32 }, s = { (uint8_t *)sig + 32, 32 },
	    h = { (uint8_t *)hash, 32 }, der = { NULL, 0 };
	int ok;

	assert_int_equal(gnutls_pubkey_init(&pub), 0);
	assert_int_equal(gnutls_pubkey_import_ecc_raw(pub,
	    GNUTLS_ECC_CURVE_SECP256R1, &x, &y), 0);
	assert_int_equal(gnutls_encode_rs_value(&der, &r, &s), 0);
	ok = gnutls_pubkey_verify_hash2(pub, GNUTLS_SIGN_ECDSA_SHA256, 0, &h,
	    &der) >= 0;
	gnutls_free(der.data);
	gnutls_pubkey_deinit(pub);
	return ok;
}

/* The P-256 keys sign verifiably; the CA's lives in the token, sensitive
 * and non-extractable; both are the same at the next open. */
static void
test_p256_keys(void **state)
{
	struct cv_keys *k = open_keys(), *k2;
	uint8_t pt[CV_EC__COUNT][CV_EC_POINT_BYTES], pt2[CV_EC_POINT_BYTES];
	uint8_t hash[32], sig[CV_EC_SIG_BYTES], value[64];
	CK_BBOOL extractable = CK_TRUE, sensitive = CK_FALSE;
	CK_ATTRIBUTE a[2] = {
		{ CKA_EXTRACTABLE, &extractable, sizeof extractable },
		{ CKA_SENSITIVE, &sensitive, sizeof sensitive },
	};
	CK_ATTRIBUTE v = { CKA_VALUE, value, sizeof value };

	(void)state;
	crypto_hash_sha256(hash, (const uint8_t *)"tbs", 3);
	for (int w = 0; w < CV_EC__COUNT; w++) {
		cv_keys_ec_pubkey(k, w, pt[w]);
		assert_int_equal(pt[w][0], 0x04);
		assert_int_equal(cv_keys_ec_sign(k, w, hash, sig), CV_OK);
		assert_true(ec_verifies(pt[w], hash, sig));
		hash[0] ^= 1;
		assert_false(ec_verifies(pt[w], hash, sig));
		hash[0] ^= 1;
	}
	assert_memory_not_equal(pt[CV_EC_CA], pt[CV_EC_TLS],
	    CV_EC_POINT_BYTES);
	assert_int_equal(k->p11.f->C_GetAttributeValue(k->p11.sess, k->ca_ec,
	    a, 2), CKR_OK);
	assert_int_equal(extractable, CK_FALSE);
	assert_int_equal(sensitive, CK_TRUE);
	assert_int_equal(k->p11.f->C_GetAttributeValue(k->p11.sess, k->ca_ec,
	    &v, 1), CKR_ATTRIBUTE_SENSITIVE);
	cv_keys_free(k);
	k2 = open_keys();
	for (int w = 0; w < CV_EC__COUNT; w++) {
		cv_keys_ec_pubkey(k2, w, pt2);
		assert_memory_equal(pt[w], pt2, CV_EC_POINT_BYTES);
	}
	cv_keys_free(k2);
}

static void
test_keyring_parse(void **state)
{
	struct kr kr;
	uint8_t buf[8 + 2 * (8 + KR_SEALED_BYTES)];

	(void)state;
	memset(&kr, 0, sizeof kr);
	kr.n = 2;
	kr.e[0] = (struct kr_entry){ .gen = 0, .purpose = KR_BIDX,
	    .state = KR_ACTIVE };
	kr.e[1] = (struct kr_entry){ .gen = 1, .purpose = KR_KEK,
	    .state = KR_ACTIVE };
	assert_int_equal(kr_size(&kr), sizeof buf);
	kr_write(&kr, buf);
	assert_int_equal(kr_parse(buf, sizeof buf, &kr), CV_OK);
	assert_int_equal(kr.n, 2);
	assert_int_equal(kr_parse(buf, sizeof buf - 1, &kr), CV_ERR_FORMAT);
	buf[4] = 2;
	assert_int_equal(kr_parse(buf, sizeof buf, &kr), CV_ERR_FORMAT);
	buf[4] = 1;
	buf[8 + 8 + KR_SEALED_BYTES + 4] = KR_BIDX;	/* duplicate kind */
	buf[8 + 8 + KR_SEALED_BYTES + 3] = 0;
	assert_int_equal(kr_parse(buf, sizeof buf, &kr), CV_ERR_FORMAT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dek_roundtrip_and_binding),
		cmocka_unit_test(test_blind_index),
		cmocka_unit_test(test_signers_and_sealing),
		cmocka_unit_test(test_p256_keys),
		cmocka_unit_test(test_keyring_parse),
		cmocka_unit_test(test_rotation_destroys_old_key),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
