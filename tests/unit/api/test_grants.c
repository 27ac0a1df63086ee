/*
 * A node's grants of the shared guard (src/api/grants.c), without a
 * database: a grant of N lets out N distinct records without asking,
 * however often each is read again; the read past it asks, giving back
 * the list of what left, each record once; a question that failed gets
 * the list back for the next one; out of memory, a read asks. The second test grows the list and its
 * index past their first sizes (32 and 64) to a full grant of 512.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/api_internal.h"

#define MANY 512	/* GRANT_CHUNK */

static char ids[MANY + 1][16];

/* One read of record I by amy's session, now: the grant's answer. */
static enum api_grant_use
read_one(struct api_grants *g, size_t i, struct cv_store_take *t)
{
	const char *rid = ids[i];

	memset(t, 0, sizeof *t);
	t->user = "amy";
	t->session = "s-1";
	t->proof_us = 1;
	t->now_us = cv_time_us();
	t->rids = (const char *const *)&rid;
	t->n = 1;
	return api_grants_use(g, t);
}

/* A read that asks (*T, its list given back as NSETTLE records): the
 * question answered with GRANT, or failed (OK 0). */
static void
ask(struct api_grants *g, size_t i, size_t nsettle, int ok, unsigned grant)
{
	struct cv_store_take t;

	assert_int_equal(read_one(g, i, &t), API_GRANT_ASK);
	assert_int_equal(t.nsettle, nsettle);
	/* each record once */
	for (size_t a = 0; a < t.nsettle; a++)
		for (size_t b = a + 1; b < t.nsettle; b++)
			assert_string_not_equal(t.settle[a], t.settle[b]);
	api_grants_done(g, &t, ok, grant);
}

static void
test_rereads(void **state)
{
	struct api_grants *g;
	struct cv_store_take t;

	(void)state;
	assert_int_equal(api_grants_new(&g), CV_OK);
	ask(g, 0, 0, 1, 3);
	for (int k = 0; k < 10; k++)
		assert_int_equal(read_one(g, 1, &t), API_GRANT_USED);
	assert_int_equal(read_one(g, 2, &t), API_GRANT_USED);
	assert_int_equal(read_one(g, 1, &t), API_GRANT_USED);
	assert_int_equal(read_one(g, 2, &t), API_GRANT_USED);
	assert_int_equal(read_one(g, 3, &t), API_GRANT_USED);
	/* Three let out, nothing left: the next read asks (a re-read too,
	 * since a grant with nothing left is not used), giving the three
	 * back. */
	ask(g, 4, 3, 1, 0);
	api_grants_free(g);
}

static void
test_full_grant(void **state)
{
	struct api_grants *g;
	struct cv_store_take t;

	(void)state;
	assert_int_equal(api_grants_new(&g), CV_OK);
	ask(g, MANY, 0, 1, MANY);
	for (size_t i = 0; i < 300; i++)
		assert_int_equal(read_one(g, i, &t), API_GRANT_USED);
	for (size_t i = 0; i < 300; i++)
		assert_int_equal(read_one(g, 299 - i, &t), API_GRANT_USED);
	for (size_t i = 300; i < MANY; i++)
		assert_int_equal(read_one(g, i, &t), API_GRANT_USED);
	/* The question fails: the list comes back, and the next read asks
	 * with it again. */
	ask(g, MANY, MANY, 0, 0);
	ask(g, 7, MANY, 1, 0);
	api_grants_free(g);
}

#ifdef CV_TEST_HOOKS
static char fault_file[64];

/*
 * Out of memory while a read is listed (src/base/fault.c fails every
 * allocation while FAULT_FILE exists): the read is not let out under the
 * grant but asks, and what the grant let out before goes back with it,
 * so nothing leaves uncounted.
 */
static void
test_no_memory(void **state)
{
	struct api_grants *g;
	struct cv_store_take t;
	FILE *f;

	(void)state;
	assert_int_equal(api_grants_new(&g), CV_OK);
	ask(g, 0, 0, 1, 10);
	assert_int_equal(read_one(g, 1, &t), API_GRANT_USED);
	assert_int_equal(read_one(g, 2, &t), API_GRANT_USED);
	assert_non_null(f = fopen(fault_file, "w"));
	fclose(f);
	assert_int_equal(read_one(g, 3, &t), API_GRANT_ASK);
	unlink(fault_file);
	assert_int_equal(t.nsettle, 2);
	api_grants_done(g, &t, 1, 0);
	api_grants_free(g);
}
#endif

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rereads),
		cmocka_unit_test(test_full_grant),
#ifdef CV_TEST_HOOKS
		cmocka_unit_test(test_no_memory),
#endif
	};

#ifdef CV_TEST_HOOKS
	char spec[100];

	/* Before any allocation: the class keeps the first spec it reads. */
	snprintf(fault_file, sizeof fault_file, "/tmp/cv-grants-oom.%ld",
	    (long)getpid());
	unlink(fault_file);
	snprintf(spec, sizeof spec, "alloc:@%s", fault_file);
	setenv("CLEARVAULT_FAULT", spec, 1);
#endif
	for (size_t i = 0; i <= MANY; i++)
		snprintf(ids[i], sizeof ids[i], "R-%zu", i);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
