/*
 * A lock not yet every node's (cv_guard_lock_unshared): kept by name in
 * the snapshot, so that a restarted node writes its row again
 * (src/api/locks.c); forgotten when shared or unlocked; a snapshot whose
 * name is not its user's, or which marks a user not locked, is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../../src/guard/guard.h"
#include "guard_test.h"

struct names {
	char v[4][32];
	size_t n;
};

static void
collect(void *ctx, const char *user)
{
	struct names *l = ctx;

	assert_true(l->n < 4);
	snprintf(l->v[l->n++], sizeof l->v[0], "%s", user);
}

static size_t
unshared(struct cv_guard *g, struct names *l)
{
	memset(l, 0, sizeof *l);
	assert_int_equal(cv_guard_unshared_each(g, collect, l), CV_OK);
	return l->n;
}

static void
snap(struct cv_guard *g, struct cv_buf *b)
{
	b->len = 0;
	assert_int_equal(cv_guard_save(g, 3, b), CV_OK);
}

static void
test_kept_until_shared(void **state)
{
	struct cv_guard *g, *h;
	struct cv_buf a = { 0 }, b = { 0 };
	struct cv_guard_user_info info;
	struct names l;
	uint64_t idx;
	bool un;

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	assert_int_equal(cv_guard_new(&h), CV_OK);
	assert_int_equal(cv_guard_lock(g, "late", "canary read", T0), CV_OK);
	assert_int_equal(cv_guard_lock(g, "other", "manual", T0), CV_OK);
	assert_int_equal(unshared(g, &l), 0);
	assert_int_equal(cv_guard_lock_unshared(g, "nobody", true),
	    CV_ERR_NOT_FOUND);
	assert_int_equal(cv_guard_lock_unshared(g, "", true), CV_ERR_INVALID);
	assert_int_equal(cv_guard_lock_unshared(g, "late", true), CV_OK);
	assert_int_equal(cv_guard_lock_unshared(g, "late", true), CV_OK);
	assert_int_equal(unshared(g, &l), 1);
	assert_string_equal(l.v[0], "late");

	/* Through a snapshot: the name, the lock and its reason. */
	snap(g, &a);
	assert_int_equal(cv_guard_load(h, a.p, a.len, &idx), CV_OK);
	assert_int_equal(unshared(h, &l), 1);
	assert_string_equal(l.v[0], "late");
	assert_true(cv_guard_locked(h, "late"));
	cv_guard_user_info(h, "late", T0, &info);
	assert_string_equal(info.lock_reason, "canary read");
	snap(h, &b);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.p, b.p, a.len);

	/* Shared: forgotten, and the snapshot loses the name (1 + 4). */
	assert_int_equal(cv_guard_lock_unshared(h, "late", false), CV_OK);
	assert_int_equal(unshared(h, &l), 0);
	snap(h, &b);
	assert_int_equal(b.len + 5, a.len);
	assert_true(cv_guard_locked(h, "late"));

	/* Unlocked by two officers: forgotten with the lock; a new lock
	 * starts shared. */
	assert_int_equal(cv_guard_lock_unshared(h, "late", true), CV_OK);
	assert_int_equal(cv_guard_unlock_approve(h, "late", "o1", T0 + S,
	    &un), CV_OK);
	assert_int_equal(cv_guard_unlock_approve(h, "late", "o2", T0 + S,
	    &un), CV_OK);
	assert_true(un);
	assert_int_equal(unshared(h, &l), 0);
	assert_int_equal(cv_guard_lock(h, "late", "again", T0 + 2 * S),
	    CV_OK);
	assert_int_equal(unshared(h, &l), 0);

	/* Lifted on other nodes: the same. */
	assert_int_equal(unshared(g, &l), 1);
	assert_int_equal(cv_guard_unlock_lifted(g, "late", &un), CV_OK);
	assert_true(un);
	assert_int_equal(unshared(g, &l), 0);
	assert_int_equal(cv_guard_lock_unshared(g, "late", false),
	    CV_ERR_NOT_FOUND);
	cv_buf_free(&a);
	cv_buf_free(&b);
	cv_guard_free(g);
	cv_guard_free(h);
}

/* Offset of the first user's flags: header, no canaries, the count. */
#define FLAGS_AT (8 + 4 + 8 + 16 + 4 + 4 + 38)

static void
refused(const uint8_t *p, size_t len, const char *why)
{
	struct cv_guard *t;
	uint64_t idx;

	assert_int_equal(cv_guard_new(&t), CV_OK);
	cv_err_clear();
	assert_int_equal(cv_guard_load(t, p, len, &idx), CV_ERR_INVALID);
	if (why && strstr(cv_err_detail(), why) == NULL)
		fail_msg("refused for \"%s\", not \"%s\"", cv_err_detail(),
		    why);
	cv_guard_free(t);
}

static void
test_hostile(void **state)
{
	struct cv_guard *g;
	struct cv_buf a = { 0 };
	uint8_t *m;

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	assert_int_equal(cv_guard_lock(g, "late", "r", T0), CV_OK);
	assert_int_equal(cv_guard_lock_unshared(g, "late", true), CV_OK);
	snap(g, &a);
	assert_int_equal(a.p[FLAGS_AT], 1 | 8);
	/* The name is the snapshot's last bytes: "late". */
	assert_memory_equal(a.p + a.len - 5, "\4late", 5);
	m = malloc(a.len);
	for (size_t n = 0; n < a.len; n++)
		refused(a.p, n, NULL);
	memcpy(m, a.p, a.len);
	m[a.len - 1] = 'f';	/* "latf": another user's name */
	refused(m, a.len, "is not its user's");
	m[a.len - 1] = 1;
	refused(m, a.len, "control character");
	memcpy(m, a.p, a.len);
	m[a.len - 5] = 0;	/* no name */
	refused(m, a.len - 4, "truncated in the unshared");
	memcpy(m, a.p, a.len);
	m[FLAGS_AT] = 8;	/* unshared, not locked */
	refused(m, a.len, "not locked");
	free(m);
	cv_buf_free(&a);
	cv_guard_free(g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kept_until_shared),
		cmocka_unit_test(test_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
