/*
 * PostgreSQL's binary COPY format as the store writes it (pgcopy.h):
 * known bytes for a header, a row of every value type and the trailer
 * (worked out by hand from the COPY reference page's "Binary Format"),
 * and the size checks: a row with more fields than a 16-bit count, a
 * value longer than a 32-bit length, a blob without bytes, an unknown
 * type, each refused with the buffer left as it was. A real server takes
 * these bytes in fault_load_pg and cli_pg (every load goes through COPY).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/pgcopy.h"

static void
test_known_bytes(void **state)
{
	static const uint8_t want[] = {
		/* header: signature, flags, extension length */
		'P', 'G', 'C', 'O', 'P', 'Y', 0x0a, 0xff, 0x0d, 0x0a, 0x00,
		0, 0, 0, 0, 0, 0, 0, 0,
		/* a row of 6 fields */
		0x00, 0x06,
		0, 0, 0, 8, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		0, 0, 0, 2, 'a', 'b',
		0xff, 0xff, 0xff, 0xff,			/* NULL */
		0, 0, 0, 2, 0x00, 0xff,
		0, 0, 0, 0,				/* an empty blob */
		0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
		/* a row of 1 field: the empty text */
		0x00, 0x01, 0, 0, 0, 0,
		/* trailer: -1 */
		0xff, 0xff,
	};
	static const uint8_t blob[] = { 0x00, 0xff };
	const struct cv_db_value row[] = {
		{ CV_DB_V_INT64, 0x0102030405060708, NULL, 0 },
		{ CV_DB_V_TEXT, 0, "ab", 0 },
		{ CV_DB_V_NULL, 0, NULL, 0 },
		{ CV_DB_V_BLOB, 0, blob, sizeof blob },
		{ CV_DB_V_BLOB, 0, NULL, 0 },
		{ CV_DB_V_INT64, -2, NULL, 0 },
	};
	const struct cv_db_value empty = { CV_DB_V_TEXT, 0, "", 0 };
	struct cv_buf b = { 0 };

	(void)state;
	assert_int_equal(pgcopy_header(&b), CV_OK);
	assert_int_equal(b.len, PGCOPY_HEADER_BYTES);
	assert_int_equal(pgcopy_row(&b, row, 6), CV_OK);
	assert_int_equal(pgcopy_row(&b, &empty, 1), CV_OK);
	assert_int_equal(pgcopy_trailer(&b), CV_OK);
	assert_int_equal(b.len, sizeof want);
	assert_memory_equal(b.p, want, sizeof want);
	cv_buf_free(&b);
}

/* Each refused, the buffer as it was (length and bytes). */
static void
test_sizes_checked(void **state)
{
	static const uint8_t one = 1;
	struct cv_db_value *many;
	struct cv_db_value v[2] = {
		{ CV_DB_V_INT64, 7, NULL, 0 },
		/* Longer than a field's 32-bit length: refused on the
		 * length alone, the bytes are never read. */
		{ CV_DB_V_BLOB, 0, &one, (size_t)INT32_MAX + 1 },
	};
	struct cv_buf b = { 0 };
	uint8_t *copy;
	size_t len;

	(void)state;
	assert_int_equal(pgcopy_header(&b), CV_OK);
	assert_int_equal(pgcopy_row(&b, v, 1), CV_OK);
	len = b.len;
	assert_non_null(copy = malloc(len));
	memcpy(copy, b.p, len);

	assert_int_equal(pgcopy_row(&b, v, 2), CV_ERR_LIMIT);
	v[1].n = (size_t)INT32_MAX;	/* the most the format has room for */
	v[1].p = NULL;
	assert_int_equal(pgcopy_row(&b, v, 2), CV_ERR_INVALID);
	v[1] = (struct cv_db_value){ (enum cv_db_vtype)99, 0, NULL, 0 };
	assert_int_equal(pgcopy_row(&b, v, 2), CV_ERR_INVALID);
	v[1] = (struct cv_db_value){ CV_DB_V_TEXT, 0, NULL, 0 };
	assert_int_equal(pgcopy_row(&b, v, 2), CV_ERR_INVALID);
	/* A field count past 16 bits; at the limit it fits. */
	assert_non_null(many = calloc(PGCOPY_MAX_FIELDS + 1, sizeof *many));
	assert_int_equal(pgcopy_row(&b, many, PGCOPY_MAX_FIELDS + 1),
	    CV_ERR_LIMIT);
	assert_int_equal(b.len, len);
	assert_memory_equal(b.p, copy, len);

	assert_int_equal(pgcopy_row(&b, many, PGCOPY_MAX_FIELDS), CV_OK);
	assert_int_equal(b.len, len + 2 + 4 * (size_t)PGCOPY_MAX_FIELDS);
	assert_int_equal(b.p[len], 0x7f);
	assert_int_equal(b.p[len + 1], 0xff);
	free(many);
	free(copy);
	cv_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_bytes),
		cmocka_unit_test(test_sizes_checked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
