/* The section envelope: each box opens only where it was sealed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "vault/vault_internal.h"

static const char text[] = "{\"a\":1}{\"b\":[2]}";
static struct cv_record_span spans[CV_RECORD_NSECTIONS] = {
	[0] = { 0, 7 },		/* identity: {"a":1} */
	[8] = { 7, 9 },		/* adjudication: {"b":[2]} */
};

static void
seal(const uint8_t *dek, const char *rid, uint32_t version, struct cv_buf *b)
{
	b->len = 0;
	assert_int_equal(env_seal(dek, rid, version, text, spans, b), CV_OK);
}

static void
test_roundtrip_and_mask(void **state)
{
	uint8_t dek[CV_DEK_BYTES];
	struct cv_buf body = { 0 }, out = { 0 };
	unsigned present;
	const char want[] = ",\"identity\":{\"a\":1},\"adjudication\":{\"b\":[2]}";

	(void)state;
	randombytes_buf(dek, sizeof dek);
	seal(dek, "R-1", 3, &body);
	assert_int_equal(env_open(dek, "R-1", 3, body.p, body.len, ~0u, &out,
	    &present), CV_OK);
	assert_int_equal(present, 1u | 1u << 8);
	assert_int_equal(out.len, strlen(want));
	assert_memory_equal(out.p, want, out.len);
	out.len = 0;
	assert_int_equal(env_open(dek, "R-1", 3, body.p, body.len, 1u << 8,
	    &out, &present), CV_OK);
	assert_int_equal(present, 1u << 8);
	assert_memory_equal(out.p, ",\"adjudication\"", 15);
	/* No plaintext in the body. */
	assert_null(memmem(body.p, body.len, "\"a\":1", 5));
	cv_buf_free(&body);
	cv_buf_free(&out);
}

static void
test_binding(void **state)
{
	uint8_t dek[CV_DEK_BYTES], other[CV_DEK_BYTES];
	struct cv_buf body = { 0 }, out = { 0 };
	unsigned present;
	struct env_section sec[CV_RECORD_NSECTIONS];
	size_t n;

	(void)state;
	randombytes_buf(dek, sizeof dek);
	randombytes_buf(other, sizeof other);
	seal(dek, "R-1", 3, &body);
	assert_int_equal(env_open(dek, "R-2", 3, body.p, body.len, ~0u, &out,
	    &present), CV_ERR_AUTH);
	assert_int_equal(out.len, 0);
	assert_int_equal(env_open(dek, "R-1", 4, body.p, body.len, ~0u, &out,
	    &present), CV_ERR_AUTH);
	assert_int_equal(env_open(other, "R-1", 3, body.p, body.len, ~0u,
	    &out, &present), CV_ERR_AUTH);
	/* Relabel the first box as another section: refused. */
	assert_int_equal(env_parse(body.p, body.len, sec, &n), CV_OK);
	assert_int_equal(n, 2);
	body.p[ENV_HEADER] = 2;
	assert_int_equal(env_open(dek, "R-1", 3, body.p, body.len, ~0u, &out,
	    &present), CV_ERR_AUTH);
	assert_int_equal(out.len, 0);
	cv_buf_free(&body);
	cv_buf_free(&out);
}

static void
test_malformed(void **state)
{
	uint8_t dek[CV_DEK_BYTES];
	struct cv_buf body = { 0 };
	struct env_section sec[CV_RECORD_NSECTIONS];
	size_t n;

	(void)state;
	randombytes_buf(dek, sizeof dek);
	seal(dek, "R-1", 1, &body);
	assert_int_equal(env_parse(body.p, body.len - 1, sec, &n),
	    CV_ERR_FORMAT);
	assert_int_equal(env_parse(body.p, 1, sec, &n), CV_ERR_FORMAT);
	body.p[0] = 9;
	assert_int_equal(env_parse(body.p, body.len, sec, &n), CV_ERR_FORMAT);
	body.p[0] = 1;
	body.p[1] = 10;
	assert_int_equal(env_parse(body.p, body.len, sec, &n), CV_ERR_FORMAT);
	cv_buf_free(&body);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_and_mask),
		cmocka_unit_test(test_binding),
		cmocka_unit_test(test_malformed),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
