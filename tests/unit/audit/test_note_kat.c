/*
 * C2SP signed notes: the published vector (tests/kat/signed-note) is
 * reproduced byte for byte by our signer, accepted by our verifier, and
 * its tampered copy refused; checkpoint bodies round-trip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "audit/note.h"

static json_t *v;
static uint8_t pk[32], sk[64];

static cv_err
sign(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64])
{
	(void)ctx;
	crypto_sign_detached(sig, NULL, msg, len, sk);
	return CV_OK;
}

static const char *
s(const char *key)
{
	return json_string_value(json_object_get(v, key));
}

static int
setup(void **state)
{
	char path[1024];
	uint8_t seed[32];
	const char *dir = getenv("KAT_DIR");

	(void)state;
	snprintf(path, sizeof path, "%s/signed-note/peterneumann.json",
	    dir ? dir : "tests/kat");
	if ((v = json_load_file(path, 0, NULL)) == NULL ||
	    sodium_hex2bin(seed, 32, s("ed25519_seed_hex"), 64, NULL, NULL,
	    NULL) != 0)
		return -1;
	crypto_sign_seed_keypair(pk, sk, seed);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	json_decref(v);
	return 0;
}

static void
test_key(void **state)
{
	char out[256], name[CV_NOTE_NAME_MAX + 1], hex[9];
	uint8_t pk2[32];

	(void)state;
	snprintf(hex, sizeof hex, "%08x", cv_note_keyid("PeterNeumann", pk));
	assert_string_equal(hex, s("key_id_hex"));
	assert_int_equal(cv_note_vkey_format("PeterNeumann", pk, out,
	    sizeof out), CV_OK);
	assert_string_equal(out, s("verifier_key"));
	assert_int_equal(cv_note_vkey_parse(out, name, pk2), CV_OK);
	assert_string_equal(name, "PeterNeumann");
	assert_memory_equal(pk, pk2, 32);
	out[14] = out[14] == '0' ? '1' : '0';	/* the key id */
	assert_int_equal(cv_note_vkey_parse(out, name, pk2), CV_ERR_INVALID);
	assert_int_equal(cv_note_vkey_parse("nope", name, pk2),
	    CV_ERR_INVALID);
}

static void
test_sign_reproduces_vector(void **state)
{
	struct cv_buf out = { 0 };

	(void)state;
	assert_int_equal(cv_note_sign(s("text"), strlen(s("text")),
	    "PeterNeumann", pk, sign, NULL, &out), CV_OK);
	assert_int_equal(out.len, strlen(s("note")));
	assert_memory_equal(out.p, s("note"), out.len);
	cv_buf_free(&out);
}

static void
test_verify(void **state)
{
	size_t tl;
	uint8_t other[32];
	char note[1024];

	(void)state;
	assert_int_equal(cv_note_verify(s("note"), strlen(s("note")),
	    "PeterNeumann", pk, &tl), CV_OK);
	assert_int_equal(tl, strlen(s("text")));
	assert_int_equal(cv_note_verify(s("tampered_note"),
	    strlen(s("tampered_note")), "PeterNeumann", pk, &tl), CV_ERR_AUTH);
	memcpy(other, pk, 32);
	other[0] ^= 1;
	assert_int_equal(cv_note_verify(s("note"), strlen(s("note")),
	    "PeterNeumann", other, &tl), CV_ERR_AUTH);
	/* Malformed: no signature block, unterminated line. */
	assert_int_equal(cv_note_verify(s("text"), strlen(s("text")),
	    "PeterNeumann", pk, &tl), CV_ERR_INVALID);
	snprintf(note, sizeof note, "%s", s("note"));
	note[strlen(note) - 1] = '\0';
	assert_int_equal(cv_note_verify(note, strlen(note), "PeterNeumann",
	    pk, &tl), CV_ERR_INVALID);
	/* Other signers' lines of any length (a cosignature/v1 is 76 bytes,
	 * a post-quantum one kilobytes) are skipped, before or after ours:
	 * a cosigned checkpoint still verifies under the log's key. */
	{
		char big[700];

		memset(big, 'A', sizeof big - 1);
		big[sizeof big - 1] = '\0';
		snprintf(note, sizeof note, "%s\u2014 witness.example %s\n",
		    s("note"), big);
		assert_int_equal(cv_note_verify(note, strlen(note),
		    "PeterNeumann", pk, &tl), CV_OK);
		assert_int_equal(tl, strlen(s("text")));
	}
}

static void
test_checkpoint_body(void **state)
{
	struct cv_checkpoint c = { .size = 1234567 }, d;
	struct cv_buf out = { 0 };

	(void)state;
	strcpy(c.origin, "clearvault/0123456789abcdef");
	memset(c.root, 0xab, sizeof c.root);
	assert_int_equal(cv_checkpoint_format(&c, &out), CV_OK);
	assert_int_equal(cv_checkpoint_parse((char *)out.p, out.len, &d),
	    CV_OK);
	assert_string_equal(d.origin, c.origin);
	assert_int_equal(d.size, c.size);
	assert_memory_equal(d.root, c.root, 32);
	assert_memory_equal(out.p, "clearvault/0123456789abcdef\n1234567\nq6ur",
	    40);
	assert_int_equal(cv_checkpoint_parse("o\n012\nAAAA\n", 12, &d),
	    CV_ERR_INVALID);
	assert_int_equal(cv_checkpoint_parse("o\n12\nAAAA\n", 11, &d),
	    CV_ERR_INVALID);
	cv_buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_sign_reproduces_vector),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_checkpoint_body),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
