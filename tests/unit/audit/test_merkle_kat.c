/*
 * RFC 9162 known answers (tests/kat/rfc9162-proofs): every vector's
 * verdict, wantErr cases included, and for valid vectors our generated
 * proof equals the published one byte for byte.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "audit/merkle.h"

static const char *kat_dir;
static int vectors;

/* The eight leaves the vectors are built from (tests/kat README). */
static const char *const leaves_hex[] = { "", "00", "10", "2021", "3031",
	"40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f" };

static cv_err
node(void *ctx, unsigned level, uint64_t index, uint8_t out[32])
{
	uint8_t l[32], r[32], bin[16];
	size_t len;

	(void)ctx;
	if (level == 0) {
		if (index >= 8)
			return CV_ERR_INVALID;
		sodium_hex2bin(bin, sizeof bin, leaves_hex[index],
		    strlen(leaves_hex[index]), NULL, &len, NULL);
		cv_merkle_leaf_hash(bin, len, out);
		return CV_OK;
	}
	if (node(ctx, level - 1, 2 * index, l) != CV_OK ||
	    node(ctx, level - 1, 2 * index + 1, r) != CV_OK)
		return CV_ERR_INVALID;
	cv_merkle_node_hash(l, r, out);
	return CV_OK;
}

/* Decodes a base64 hash; 0 unless it is exactly 32 bytes. */
static int
hash(const json_t *j, uint8_t out[32])
{
	const char *s = json_string_value(j);
	size_t len;

	if (s == NULL || sodium_base642bin(out, 32, s, strlen(s), NULL, &len,
	    NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
		return 0;
	return len == 32;
}

/* Any base64 value of up to 64 bytes, for comparisons without hashing. */
static int
raw(const json_t *j, uint8_t out[64], size_t *len)
{
	const char *s = json_string_value(j);

	return s != NULL && sodium_base642bin(out, 64, s, strlen(s), NULL,
	    len, NULL, sodium_base64_VARIANT_ORIGINAL) == 0;
}

static int
proof(const json_t *j, uint8_t p[][32], size_t *n)
{
	size_t i;
	json_t *it;

	*n = json_array_size(j);
	if (*n > CV_MERKLE_MAX_PROOF)
		return 0;
	json_array_foreach(j, i, it) {
		if (!hash(it, p[i]))
			return 0;
	}
	return 1;
}

static void
check_inclusion(const char *path, json_t *v)
{
	uint8_t leaf[32], root[32], p[CV_MERKLE_MAX_PROOF][32];
	uint8_t g[CV_MERKLE_MAX_PROOF][32];
	uint64_t idx = (uint64_t)json_integer_value(json_object_get(v,
	    "leafIdx"));
	uint64_t size = (uint64_t)json_integer_value(json_object_get(v,
	    "treeSize"));
	int want_err = json_is_true(json_object_get(v, "wantErr"));
	size_t n, gn;
	int ok;

	ok = hash(json_object_get(v, "leafHash"), leaf) &&
	    hash(json_object_get(v, "root"), root) &&
	    proof(json_object_get(v, "proof"), p, &n) &&
	    cv_merkle_verify_inclusion(idx, size, leaf, (const uint8_t (*)[32])p,
	    n, root) == CV_OK;
	if (ok == want_err)
		fail_msg("%s: verdict %s, want %s", path, ok ? "ok" : "error",
		    want_err ? "error" : "ok");
	if (ok && size <= 8) {
		assert_int_equal(cv_merkle_prove_inclusion(node, NULL, idx,
		    size, g, &gn), CV_OK);
		assert_int_equal(gn, n);
		assert_memory_equal(g, p, n * 32);
	}
	vectors++;
}

static void
check_consistency(const char *path, json_t *v)
{
	uint8_t r1[32], r2[32], p[CV_MERKLE_MAX_PROOF][32];
	uint8_t g[CV_MERKLE_MAX_PROOF][32];
	uint64_t s1 = (uint64_t)json_integer_value(json_object_get(v,
	    "size1"));
	uint64_t s2 = (uint64_t)json_integer_value(json_object_get(v,
	    "size2"));
	int want_err = json_is_true(json_object_get(v, "wantErr"));
	size_t n, gn;
	int ok;

	uint8_t a[64], b[64];
	size_t alen, blen;

	n = 0;
	if (s1 == s2 && s1 > 0) {
		/* Nothing is hashed: the roots need only be equal. */
		ok = raw(json_object_get(v, "root1"), a, &alen) &&
		    raw(json_object_get(v, "root2"), b, &blen) &&
		    alen == blen && memcmp(a, b, alen) == 0 &&
		    json_array_size(json_object_get(v, "proof")) == 0;
	} else
		ok = hash(json_object_get(v, "root1"), r1) &&
		    hash(json_object_get(v, "root2"), r2) &&
		    proof(json_object_get(v, "proof"), p, &n) &&
		    cv_merkle_verify_consistency(s1, s2, r1, r2,
		    (const uint8_t (*)[32])p, n) == CV_OK;
	if (ok == want_err)
		fail_msg("%s: verdict %s, want %s", path, ok ? "ok" : "error",
		    want_err ? "error" : "ok");
	if (ok && s2 <= 8) {
		assert_int_equal(cv_merkle_prove_consistency(node, NULL, s1,
		    s2, g, &gn), CV_OK);
		assert_int_equal(gn, n);
		assert_memory_equal(g, p, n * 32);
	}
	vectors++;
}

/*
 * Some vectors hold 2^64 - 1, past jansson's signed integers: read as -1,
 * which converts back to the same uint64_t.
 */
static json_t *
load(const char *path)
{
	static const char big[] = "18446744073709551615";
	char buf[8192], *p;
	size_t len;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return NULL;
	len = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[len] = '\0';
	while ((p = strstr(buf, big)) != NULL) {
		memcpy(p, "-1", 2);
		memmove(p + 2, p + sizeof big - 1, strlen(p + sizeof big - 1) + 1);
	}
	return json_loads(buf, 0, NULL);
}

static void
walk(const char *dir, int inclusion)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[1024];
	json_t *v;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (strstr(e->d_name, ".json") == NULL) {
			walk(path, inclusion);
			continue;
		}
		if ((v = load(path)) == NULL)
			fail_msg("%s: not JSON", path);
		if (inclusion)
			check_inclusion(path, v);
		else
			check_consistency(path, v);
		json_decref(v);
	}
	closedir(d);
}

static void
test_inclusion_vectors(void **state)
{
	char dir[1024];

	(void)state;
	snprintf(dir, sizeof dir, "%s/rfc9162-proofs/inclusion", kat_dir);
	vectors = 0;
	walk(dir, 1);
	assert_true(vectors > 80);
}

static void
test_consistency_vectors(void **state)
{
	char dir[1024];

	(void)state;
	snprintf(dir, sizeof dir, "%s/rfc9162-proofs/consistency", kat_dir);
	vectors = 0;
	walk(dir, 0);
	assert_true(vectors > 80);
}

static void
test_root_of_eight(void **state)
{
	uint8_t root[32], want[32];
	size_t len;
	const char *b64 = "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=";

	(void)state;
	assert_int_equal(cv_merkle_root(node, NULL, 8, root), CV_OK);
	sodium_base642bin(want, 32, b64, strlen(b64), NULL, &len, NULL,
	    sodium_base64_VARIANT_ORIGINAL);
	assert_memory_equal(root, want, 32);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_root_of_eight),
		cmocka_unit_test(test_inclusion_vectors),
		cmocka_unit_test(test_consistency_vectors),
	};

	if ((kat_dir = getenv("KAT_DIR")) == NULL)
		kat_dir = "tests/kat";
	return cmocka_run_group_tests(tests, NULL, NULL);
}
