/*
 * The witness: cosignature/v1 bytes against values computed independently
 * (Python: hashlib and the cryptography package's Ed25519, from the C2SP
 * texts; the script is in the comment below), the request parser's edges,
 * and the add-checkpoint decision fed every RFC 9162 consistency vector
 * in tests/kat/rfc9162-proofs (through the audit module's Merkle code).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <jansson.h>
#include <sodium.h>

#include "audit/merkle.h"
#include "audit/note.h"
#include "testutil.h"
#include "witness/witness.h"
#include "witness/witness_internal.h"

/*
 * Computed with:
 *   sk = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
 *   kid = sha256(name + b"\n" + b"\x04" + pk)[:4]
 *   msg = b"cosignature/v1\ntime 1679315147\n" + TEXT
 *   line = "— " + name + " " + b64(kid + pack(">Q", ts) + sk.sign(msg))
 */
static const char name[] = "witness.example/w1";
static const char pk_hex[] =
    "79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664";
static const char vkey[] = "witness.example/w1+468d99bb+"
    "BHm1Vi6P5lT5QHixEuipi6eQH4U65pW+1+DjkQutBJZk";
/* The checkpoint of c2sp.org/tlog-cosignature's example. */
static const char text[] = "example.com/behind-the-sofa\n20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
static const char line[] = "\xe2\x80\x94 witness.example/w1 "
    "Ro2ZuwAAAABkGFDLQB2dbiQ7rPMIDjq/twq5Ixt42T+awjiYS4+fxrnLnI31x5abVjZl"
    "hDVvZAcRRLyAiG4oQlhTgi4DsxiPwiDaDg==\n";
#define TS 1679315147u

static void
test_keyid_vkey(void **state)
{
	uint8_t seed[32], pk[32], sk[64], want[32], got_pk[32];
	char buf[CV_WITNESS_VKEY_MAX], nm[129];

	(void)state;
	for (int i = 0; i < 32; i++)
		seed[i] = (uint8_t)(i + 1);
	assert_int_equal(crypto_sign_seed_keypair(pk, sk, seed), 0);
	assert_int_equal(sodium_hex2bin(want, 32, pk_hex, 64, NULL, NULL,
	    NULL), 0);
	assert_memory_equal(pk, want, 32);
	assert_int_equal(cv_witness_keyid(name, pk), 0x468d99bbu);
	/* Not the plain Ed25519 (0x01) id of the same key. */
	assert_int_not_equal(cv_note_keyid(name, pk), 0x468d99bbu);
	assert_int_equal(cv_witness_vkey_format(name, pk, buf, sizeof buf),
	    CV_OK);
	assert_string_equal(buf, vkey);
	assert_int_equal(cv_witness_vkey_parse(vkey, nm, got_pk), CV_OK);
	assert_string_equal(nm, name);
	assert_memory_equal(got_pk, pk, 32);
	/* A wrong id, a type-0x01 key, garbage. */
	assert_int_equal(cv_witness_vkey_parse("witness.example/w1+468d99bc+"
	    "BHm1Vi6P5lT5QHixEuipi6eQH4U65pW+1+DjkQutBJZk", nm, got_pk),
	    CV_ERR_INVALID);
	assert_int_equal(cv_note_vkey_format(name, pk, buf, sizeof buf),
	    CV_OK);
	assert_int_equal(cv_witness_vkey_parse(buf, nm, got_pk),
	    CV_ERR_INVALID);
	assert_int_equal(cv_witness_vkey_parse("x", nm, got_pk),
	    CV_ERR_INVALID);
	sodium_memzero(sk, sizeof sk);
}

static void
test_message_and_line(void **state)
{
	static const char want_msg[] = "cosignature/v1\ntime 1679315147\n"
	    "example.com/behind-the-sofa\n20852163\n"
	    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
	struct cv_buf msg = { 0 }, out = { 0 };
	uint8_t seed[32], pk[32], sk[64], sig[64];

	(void)state;
	assert_int_equal(cv_witness_cosig_message(text, strlen(text), TS,
	    &msg), CV_OK);
	assert_int_equal(msg.len, strlen(want_msg));
	assert_memory_equal(msg.p, want_msg, msg.len);
	for (int i = 0; i < 32; i++)
		seed[i] = (uint8_t)(i + 1);
	assert_int_equal(crypto_sign_seed_keypair(pk, sk, seed), 0);
	assert_int_equal(crypto_sign_detached(sig, NULL, msg.p, msg.len, sk),
	    0);
	assert_int_equal(witness_cosig_line(name, pk, sig, TS, &out), CV_OK);
	assert_int_equal(out.len, strlen(line));
	assert_memory_equal(out.p, line, out.len);
	/* No text without its final newline; no time past 2^63 - 1. */
	assert_int_equal(cv_witness_cosig_message(text, strlen(text) - 1, TS,
	    &msg), CV_ERR_INVALID);
	assert_int_equal(cv_witness_cosig_message(text, strlen(text),
	    (uint64_t)1 << 63, &msg), CV_ERR_INVALID);
	cv_buf_free(&msg);
	cv_buf_free(&out);
	sodium_memzero(sk, sizeof sk);
}

static void
test_verify(void **state)
{
	char note[1024], bad[1024];
	uint64_t ts;
	size_t n;

	(void)state;
	/* The log's own line first (not checked here), then ours. */
	n = (size_t)snprintf(note, sizeof note, "%s\n\xe2\x80\x94 "
	    "example.com/behind-the-sofa AAAAAAAA\n%s", text, line);
	assert_int_equal(cv_witness_cosig_verify(vkey, note, n, &ts), CV_OK);
	assert_int_equal(ts, TS);
	/* One bit of the text: refused. */
	memcpy(bad, note, n);
	bad[30] ^= 1;
	assert_int_equal(cv_witness_cosig_verify(vkey, bad, n, &ts),
	    CV_ERR_AUTH);
	/* The timestamp is signed too. */
	memcpy(bad, note, n);
	bad[n - strlen(line) + 4 + strlen(name) + 1 + 8] ^= 1;
	assert_int_not_equal(cv_witness_cosig_verify(vkey, bad, n, &ts),
	    CV_OK);
	/* Without our line: not found. */
	n = (size_t)snprintf(note, sizeof note, "%s\n\xe2\x80\x94 "
	    "example.com/behind-the-sofa AAAAAAAA\n", text);
	assert_int_equal(cv_witness_cosig_verify(vkey, note, n, &ts),
	    CV_ERR_NOT_FOUND);
	assert_int_equal(cv_witness_cosig_verify(vkey, text, strlen(text),
	    &ts), CV_ERR_INVALID);
}

static void
test_parse(void **state)
{
	struct cv_witness_req q;
	static const char h[] = "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n";
	char big[64 * 46 + 64];
	size_t n = 0;

	(void)state;
#define P(s) cv_witness_req_parse(s, sizeof s - 1, &q)
	assert_int_equal(P("old 0\n\nx"), CV_OK);
	assert_int_equal(q.old, 0);
	assert_int_equal(q.n, 0);
	assert_int_equal(q.note_len, 1);
	assert_int_equal(P("old 18446744073709551615\n"
	    "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n\nx"), CV_OK);
	assert_true(q.old == UINT64_MAX && q.n == 1);
	assert_int_equal(P("old 18446744073709551616\n\nx"), CV_ERR_INVALID);
	assert_int_equal(P("old 01\n\nx"), CV_ERR_INVALID);
	assert_int_equal(P("old  1\n\nx"), CV_ERR_INVALID);
	assert_int_equal(P("old -1\n\nx"), CV_ERR_INVALID);
	assert_int_equal(P("old 1\r\n\nx"), CV_ERR_INVALID);
	assert_int_equal(P("new 1\n\nx"), CV_ERR_INVALID);
	assert_int_equal(P("old 1\n\n"), CV_ERR_INVALID);
	assert_int_equal(P("old 1\nx\n"), CV_ERR_INVALID);
	assert_int_equal(P("old 1\n"
	    "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw\n\nx"),
	    CV_ERR_INVALID);
	assert_int_equal(P("old 1\n"
	    "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw==\n\nx"),
	    CV_ERR_INVALID);
	/* 63 lines are fine, 64 are not. */
	n = (size_t)snprintf(big, sizeof big, "old 5\n");
	for (int i = 0; i < 63; i++, n += sizeof h - 1)
		memcpy(big + n, h, sizeof h - 1);
	memcpy(big + n, "\nx", 2);
	assert_int_equal(cv_witness_req_parse(big, n + 2, &q), CV_OK);
	assert_int_equal(q.n, 63);
	memcpy(big + n, h, sizeof h - 1);
	memcpy(big + n + sizeof h - 1, "\nx", 2);
	assert_int_equal(cv_witness_req_parse(big, n + sizeof h + 1, &q),
	    CV_ERR_INVALID);
#undef P
}

/* --- the decision, with every consistency vector --- */

static uint8_t log_sk[64], log_pk[32];
static int kat_ok, kat_refused, kat_skipped;

static cv_err
sign_log(void *ctx, const uint8_t *m, size_t len, uint8_t sig[static 64])
{
	(void)ctx;
	crypto_sign_detached(sig, NULL, m, len, log_sk);
	return CV_OK;
}

static void
body(struct cv_buf *b, const char *origin, uint64_t old, uint64_t size,
    const uint8_t root[32], const uint8_t (*proof)[32], size_t n)
{
	struct cv_checkpoint c = { .size = size };
	struct cv_buf t = { 0 };
	char l[64];

	snprintf(c.origin, sizeof c.origin, "%s", origin);
	memcpy(c.root, root, 32);
	b->len = 0;
	snprintf(l, sizeof l, "old %llu\n", (unsigned long long)old);
	assert_int_equal(cv_buf_add(b, l, strlen(l)), CV_OK);
	for (size_t i = 0; i < n; i++) {
		sodium_bin2base64(l, sizeof l, proof[i], 32,
		    sodium_base64_VARIANT_ORIGINAL);
		assert_int_equal(cv_buf_add(b, l, strlen(l)), CV_OK);
		assert_int_equal(cv_buf_add(b, "\n", 1), CV_OK);
	}
	assert_int_equal(cv_buf_add(b, "\n", 1), CV_OK);
	assert_int_equal(cv_checkpoint_format(&c, &t), CV_OK);
	assert_int_equal(cv_note_sign((const char *)t.p, t.len, "kat.example/log",
	    log_pk, sign_log, NULL, b), CV_OK);
	cv_buf_free(&t);
}

static int
b64hash(json_t *j, uint8_t out[32])
{
	size_t n;
	const char *s = json_string_value(j);

	return s && sodium_base642bin(out, 32, s, strlen(s), NULL, &n, NULL,
	    sodium_base64_VARIANT_ORIGINAL) == 0 && n == 32;
}

static int
post(struct cv_witness *w, struct cv_buf *b)
{
	struct cv_buf reply = { 0 };
	const char *ct;
	int st;

	assert_int_equal(cv_witness_add_checkpoint(w, (const char *)b->p,
	    b->len, &st, &ct, &reply), CV_OK);
	cv_buf_free(&reply);
	return st;
}

static void
one_vector(struct cv_witness *w, const char *origin, json_t *v)
{
	uint8_t r1[32], r2[32], proof[CV_WITNESS_MAX_PROOF][32];
	json_t *pj = json_object_get(v, "proof"), *e;
	json_int_t s1 = json_integer_value(json_object_get(v, "size1"));
	json_int_t s2 = json_integer_value(json_object_get(v, "size2"));
	int want_err = json_is_true(json_object_get(v, "wantErr"));
	struct cv_buf b = { 0 };
	size_t i, n = json_array_size(pj);
	int st, want;

	/* A root that is not a hash cannot be in a checkpoint at all, nor
	 * a proof line that is not one in a request. */
	if (!b64hash(json_object_get(v, "root1"), r1) ||
	    !b64hash(json_object_get(v, "root2"), r2) ||
	    n > CV_WITNESS_MAX_PROOF) {
		kat_skipped++;
		return;
	}
	json_array_foreach(pj, i, e)
		if (!b64hash(e, proof[i])) {
			kat_skipped++;
			return;
		}
	/* The witness first holds (size1, root1). */
	if (s1 != 0) {
		body(&b, origin, 0, (uint64_t)s1, r1, NULL, 0);
		assert_int_equal(post(w, &b), 200);
	}
	body(&b, origin, (uint64_t)s1, (uint64_t)s2, r2,
	    (const uint8_t (*)[32])proof, n);
	st = post(w, &b);
	/* tlog-witness: from size 0 nothing is proved and the proof MUST
	 * be empty, where RFC 9162's verifier refuses any proof from 0. */
	want = s1 == 0 ? n == 0 : !want_err;
	if ((st == 200) != want)
		fail_msg("%s (%s): status %d, want %s", origin,
		    json_string_value(json_object_get(v, "desc")), st,
		    want ? "200" : "a refusal");
	if (st == 200)
		kat_ok++;
	else
		kat_refused++;
	cv_buf_free(&b);
}

static void
test_consistency_vectors(void **state)
{
	const char *kat = getenv("KAT_DIR"), *dir = test_vault_dir();
	char path[2048], vk[256], origin[64], key[CV_WITNESS_VKEY_MAX];
	struct cv_witness *w = NULL;
	json_t *vs[200];
	size_t nv = 0;

	(void)state;
	assert_non_null(kat);
	crypto_sign_keypair(log_pk, log_sk);
	assert_int_equal(cv_note_vkey_format("kat.example/log", log_pk, vk,
	    sizeof vk), CV_OK);
	assert_int_equal(cv_witness_init(dir, "kat.example/witness", key,
	    sizeof key), CV_OK);
	for (int sub = 0; sub < 10; sub++) {
		DIR *d;
		struct dirent *e;

		snprintf(path, sizeof path, "%s/rfc9162-proofs/consistency/%d",
		    kat, sub);
		if ((d = opendir(path)) == NULL)
			continue;
		while ((e = readdir(d)) != NULL && nv < 200) {
			char f[2400];
			json_error_t err;

			if (!strstr(e->d_name, ".json"))
				continue;
			snprintf(f, sizeof f, "%s/%s", path, e->d_name);
			/* jansson refuses sizes of 2^64 - 1 (past its
			 * signed integers): those vectors are skipped. */
			if ((vs[nv] = json_load_file(f, 0, &err)) == NULL) {
				kat_skipped++;
				continue;
			}
			if (!json_is_integer(json_object_get(vs[nv], "size1")) ||
			    !json_is_integer(json_object_get(vs[nv], "size2"))) {
				json_decref(vs[nv]);
				kat_skipped++;
				continue;
			}
			snprintf(origin, sizeof origin, "kat/%zu", nv);
			assert_int_equal(cv_witness_add_log(dir, origin, vk),
			    CV_OK);
			nv++;
		}
		closedir(d);
	}
	assert_true(nv > 80);
	assert_int_equal(cv_witness_open(dir, 1, &w), CV_OK);
	for (size_t i = 0; i < nv; i++) {
		snprintf(origin, sizeof origin, "kat/%zu", i);
		one_vector(w, origin, vs[i]);
		json_decref(vs[i]);
	}
	print_message("consistency vectors: %d cosigned, %d refused, %d "
	    "skipped (not expressible as a request)\n", kat_ok, kat_refused,
	    kat_skipped);
	/* One happy path per tree; the rest are tampered. */
	assert_true(kat_ok >= 5 && kat_refused > 50);
	cv_witness_free(w);
	/* One server per folder. */
	assert_int_equal(cv_witness_open(dir, 1, &w), CV_OK);
	{
		struct cv_witness *w2 = NULL;
		assert_int_equal(cv_witness_open(dir, 1, &w2), CV_ERR_EXISTS);
		assert_null(w2);
	}
	cv_witness_free(w);
	sodium_memzero(log_sk, sizeof log_sk);
	test_rm_rf(dir);
}

/* Flips byte OFF of ORIGIN's state file, DIR/state/hex(SHA-256)[:16]. */
static void
flip(const char *dir, const char *origin, long off)
{
	char cmd[1400], hex[33];
	uint8_t d[32];

	crypto_hash_sha256(d, (const uint8_t *)origin, strlen(origin));
	sodium_bin2hex(hex, sizeof hex, d, 16);
	snprintf(cmd, sizeof cmd, "printf '\\377' | dd of='%s/state/%s' bs=1 "
	    "seek=%ld conv=notrunc status=none", dir, hex, off);
	assert_int_equal(system(cmd), 0);
}

/*
 * A torn write spoils only the slot being written: the witness comes back
 * with the state before it (nothing of the torn one was cosigned). A file
 * with no valid slot at all is refused.
 */
static void
test_state_slots(void **state)
{
	const char *dir = test_vault_dir();
	char vk[256], key[CV_WITNESS_VKEY_MAX];
	uint8_t r1[32], r2[32], got[32];
	struct cv_witness *w = NULL;
	struct cv_buf b = { 0 };
	uint64_t size;

	(void)state;
	crypto_sign_keypair(log_pk, log_sk);
	assert_int_equal(cv_note_vkey_format("kat.example/log", log_pk, vk,
	    sizeof vk), CV_OK);
	assert_int_equal(cv_witness_init(dir, "t.example/w", key, sizeof key),
	    CV_OK);
	assert_int_equal(cv_witness_add_log(dir, "t/1", vk), CV_OK);
	assert_int_equal(cv_witness_add_log(dir, "t/0", vk), CV_OK);
	assert_int_equal(cv_witness_open(dir, 1, &w), CV_OK);
	assert_int_equal(cv_witness_latest(w, "t/1", &size, got),
	    CV_ERR_NOT_FOUND);
	/* A size-0 tree has one root. */
	cv_merkle_leaf_hash("a", 1, r1);
	body(&b, "t/0", 0, 0, r1, NULL, 0);
	assert_int_equal(post(w, &b), 422);
	cv_merkle_empty_root(r1);
	body(&b, "t/0", 0, 0, r1, NULL, 0);
	assert_int_equal(post(w, &b), 200);
	/* Size 1 (leaf "a"), then size 2 (leaves "a", "b"). */
	cv_merkle_leaf_hash("a", 1, r1);
	cv_merkle_leaf_hash("b", 1, got);
	cv_merkle_node_hash(r1, got, r2);
	body(&b, "t/1", 0, 1, r1, NULL, 0);
	assert_int_equal(post(w, &b), 200);
	body(&b, "t/1", 1, 2, r2, (const uint8_t (*)[32])got, 1);
	assert_int_equal(post(w, &b), 200);
	cv_witness_free(w);
	assert_int_equal(cv_witness_open(dir, 1, &w), CV_OK);
	assert_int_equal(cv_witness_latest(w, "t/1", &size, got), CV_OK);
	assert_int_equal(size, 2);
	assert_memory_equal(got, r2, 32);
	cv_witness_free(w);
	/* The second write went to slot 0 (seq 2): torn, size 1 is back,
	 * and the witness goes on from there. */
	flip(dir, "t/1", 40);
	assert_int_equal(cv_witness_open(dir, 1, &w), CV_OK);
	assert_int_equal(cv_witness_latest(w, "t/1", &size, got), CV_OK);
	assert_int_equal(size, 1);
	assert_memory_equal(got, r1, 32);
	body(&b, "t/1", 1, 2, r2, (const uint8_t (*)[32])got, 0);
	assert_int_equal(post(w, &b), 422);	/* no proof */
	cv_witness_free(w);
	/* Both slots spoilt: refused, not taken for "never cosigned". */
	flip(dir, "t/1", 20480 + 40);
	assert_int_equal(cv_witness_open(dir, 1, &w), CV_ERR_FORMAT);
	assert_null(w);
	cv_buf_free(&b);
	test_rm_rf(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keyid_vkey),
		cmocka_unit_test(test_message_and_line),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_consistency_vectors),
		cmocka_unit_test(test_state_slots),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
