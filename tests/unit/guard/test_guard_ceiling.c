/*
 * The guard's vault-wide ceiling and probation budgets, with an injected
 * clock: soft and hard crossings over several users (each far below
 * their own budget), one alert per crossing, no lock, the windows
 * sliding and the alert re-armed only well below the level, a canary
 * asked for at the hard ceiling, snapshots and replay keeping the
 * vault's windows and alert state, and probation budgets named in the
 * reasons. (A file of its own: test_guard.c is at its size limit.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "guard/guard.h"
#include "guard_test.h"
#include "policy/policy.h"

#define NONE UINT32_MAX

/* Users' own budgets far above everything these tests read. */
static const struct cv_guard_limits big = { { 1000, 10000, 10000 },
    { 2000, 20000, 20000 } };

/* USER reads record number I at T under ceiling CL (NULL: none). */
static enum cv_guard_verdict
rd(struct cv_guard *g, const char *user, unsigned i, int64_t t, bool up,
    const struct cv_guard_limits *cl, struct cv_guard_decision *d)
{
	char b[32];
	const char *ids[1] = { rid(b, i) };
	struct cv_guard_read r = { .user = user, .addr = "10.0.0.7",
	    .case_id = "C-1", .rids = ids, .nrids = 1, .stepped_up = up,
	    .now_us = t, .limits = &big, .ceiling = cl };
	struct cv_guard_decision tmp;

	assert_int_equal(cv_guard_check(g, &r, d ? d : &tmp), CV_OK);
	return (d ? d : &tmp)->verdict;
}

static size_t
n_alerts(const struct cv_guard_decision *d, const char *kind,
    enum cv_guard_severity sev)
{
	size_t n = 0;

	for (size_t i = 0; i < d->nalerts; i++)
		n += strcmp(d->alerts[i].kind, kind) == 0 &&
		    d->alerts[i].severity == sev;
	return n;
}

static uint32_t
vault_hour(struct cv_guard *g, int64_t t)
{
	uint32_t c[CV_GUARD__WINDOWS];

	cv_guard_ceiling_counts(g, t, c);
	return c[CV_GUARD_HOUR];
}

/* Soft: everyone steps up, one warning; hard: everyone refused, one
 * critical alert, nobody locked; re-reading stays free. */
static void
test_soft_hard(void **state)
{
	static const struct cv_guard_limits cl = { { NONE, 5, NONE },
	    { NONE, 8, NONE } };
	static const char *const users[] = { "ann", "bob", "cat" };
	struct cv_guard_decision d;
	struct cv_guard_user_info in;
	struct cv_guard *g;
	int64_t t = T0;
	unsigned i;

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	for (i = 0; i < 5; i++)
		assert_int_equal(rd(g, users[i % 3], i, t += S, false, &cl, &d),
		    CV_GUARD_ALLOW);
	assert_int_equal(vault_hour(g, t), 5);
	/* The sixth distinct record, by a user who has read two. */
	assert_int_equal(rd(g, "cat", 5, t += S, false, &cl, &d),
	    CV_GUARD_STEP_UP);
	assert_string_equal(d.reason, "vault ceiling: hour soft limit");
	assert_int_equal(n_alerts(&d, "ceiling", CV_GUARD_WARNING), 1);
	assert_non_null(strstr(d.alerts[0].detail, "6 distinct records"));
	/* Every reader is held, and the crossing alerts once. */
	assert_int_equal(rd(g, "ann", 6, t += S, false, &cl, &d),
	    CV_GUARD_STEP_UP);
	assert_int_equal(n_alerts(&d, "ceiling", CV_GUARD_WARNING), 0);
	assert_int_equal(rd(g, "dan", 7, t += S, false, &cl, &d),
	    CV_GUARD_STEP_UP);
	assert_int_equal(n_alerts(&d, "ceiling", CV_GUARD_WARNING), 0);
	/* Re-reading a record already counted adds nothing: below soft. */
	assert_int_equal(rd(g, "dan", 2, t += S, false, &cl, &d),
	    CV_GUARD_ALLOW);
	/* A stepped-up session goes on, up to the hard ceiling. */
	for (i = 5; i < 8; i++) {
		assert_int_equal(rd(g, users[i % 3], i, t += S, true, &cl, &d),
		    CV_GUARD_ALLOW);
		assert_int_equal(d.nalerts, 0);
	}
	assert_int_equal(vault_hour(g, t), 8);
	assert_int_equal(rd(g, "bob", 8, t += S, true, &cl, &d),
	    CV_GUARD_REFUSE);
	assert_string_equal(d.reason, "vault ceiling: hour hard limit");
	assert_int_equal(n_alerts(&d, "ceiling", CV_GUARD_CRITICAL), 1);
	assert_false(d.locked_now);
	assert_false(cv_guard_locked(g, "bob"));
	assert_int_equal(rd(g, "ann", 9, t += S, true, &cl, &d),
	    CV_GUARD_REFUSE);
	assert_int_equal(d.nalerts, 0);
	assert_false(cv_guard_locked(g, "ann"));
	/* Refused reads count nowhere; a stepped-up re-read still works. */
	assert_int_equal(vault_hour(g, t), 8);
	cv_guard_user_info(g, "bob", t, &in);
	assert_int_equal(in.counts[CV_GUARD_HOUR], 3);
	assert_int_equal(rd(g, "cat", 0, t += S, true, &cl, &d),
	    CV_GUARD_ALLOW);
	/* The ceiling is no user: "" is not a name anyone can read under. */
	cv_guard_user_info(g, "", t, &in);
	assert_false(in.known);
	/* Reads without a ceiling are not counted vault-wide. */
	assert_int_equal(rd(g, "eve", 50, t += S, false, NULL, &d),
	    CV_GUARD_ALLOW);
	assert_int_equal(vault_hour(g, t), 8);
	cv_guard_free(g);
}

/* The windows slide; a vault held at its ceiling is one crossing; one
 * that fell well below and comes back is another. */
static void
test_slides_and_rearms(void **state)
{
	static const struct cv_guard_limits cl = { { NONE, 100, NONE },
	    { NONE, 200, NONE } };
	struct cv_guard_decision d;
	struct cv_guard *g;
	unsigned i, next = 0;
	int64_t t;

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	for (i = 0; i < 100; i++)
		assert_int_equal(rd(g, i % 2 ? "ann" : "bob", next++,
		    T0 + i * S, false, &cl, &d), CV_GUARD_ALLOW);
	assert_int_equal(rd(g, "ann", next, T0 + 100 * S, false, &cl, &d),
	    CV_GUARD_STEP_UP);
	assert_int_equal(n_alerts(&d, "ceiling", CV_GUARD_WARNING), 1);
	/* An hour after the first read it has left: one more gets in, the
	 * next is held again, and that is the same crossing. */
	t = T0 + HOUR;
	assert_int_equal(vault_hour(g, t), 99);
	assert_int_equal(rd(g, "ann", next++, t, false, &cl, &d),
	    CV_GUARD_ALLOW);
	assert_int_equal(rd(g, "bob", next, t, false, &cl, &d),
	    CV_GUARD_STEP_UP);
	assert_int_equal(n_alerts(&d, "ceiling", CV_GUARD_WARNING), 0);
	/* Half of them gone: re-armed; back up past 100 is a new alert. */
	t = T0 + HOUR + 50 * S;
	assert_int_equal(vault_hour(g, t), 50);
	for (i = 0; i < 50; i++)
		assert_int_equal(rd(g, "bob", next++, t, false, &cl, &d),
		    CV_GUARD_ALLOW);
	assert_int_equal(rd(g, "ann", next, t, false, &cl, &d),
	    CV_GUARD_STEP_UP);
	assert_int_equal(n_alerts(&d, "ceiling", CV_GUARD_WARNING), 1);
	/* A day later nothing is left in any window. */
	assert_int_equal(rd(g, "ann", next, T0 + 2 * DAY, false, &cl, &d),
	    CV_GUARD_ALLOW);
	assert_int_equal(d.nalerts, 0);
	assert_int_equal(vault_hour(g, T0 + 2 * DAY), 1);
	cv_guard_free(g);
}

/* The day window, and a canary asked for at the hard ceiling: refused,
 * and the reader (not the ceiling) is locked for it. */
static void
test_day_and_canary(void **state)
{
	static const struct cv_guard_limits cl = { { NONE, NONE, 3 },
	    { NONE, NONE, 4 } };
	struct cv_guard_decision d;
	struct cv_guard *g;
	char b[32];
	const char *canary = rid(b, 77);

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	assert_int_equal(cv_guard_set_canaries(g, &canary, 1), CV_OK);
	for (unsigned i = 0; i < 4; i++)	/* one every 5 hours */
		assert_int_equal(rd(g, "ann", i, T0 + i * 5 * HOUR, true, &cl,
		    &d), CV_GUARD_ALLOW);
	assert_int_equal(rd(g, "bob", 4, T0 + 20 * HOUR, true, &cl, &d),
	    CV_GUARD_REFUSE);
	assert_string_equal(d.reason, "vault ceiling: day hard limit");
	assert_int_equal(rd(g, "bob", 77, T0 + 21 * HOUR, true, &cl, &d),
	    CV_GUARD_DENY);
	assert_true(d.locked_now);
	assert_true(cv_guard_locked(g, "bob"));
	assert_int_equal(n_alerts(&d, "canary", CV_GUARD_CRITICAL), 1);
	assert_false(cv_guard_locked(g, "ann"));
	/* A day after the first read, the first has left the window. */
	assert_int_equal(rd(g, "ann", 5, T0 + 24 * HOUR + S, true, &cl, &d),
	    CV_GUARD_ALLOW);
	cv_guard_free(g);
}

/* Saved and loaded: the vault's windows and its alert state. Replayed
 * after an older snapshot: the windows again, and no second alert. */
static void
test_snapshot_and_replay(void **state)
{
	static const struct cv_guard_limits cl = { { NONE, 4, NONE },
	    { NONE, 6, NONE } };
	struct cv_buf old = { 0 }, now = { 0 };
	struct cv_guard_decision d;
	struct cv_guard *g, *h, *k;
	uint64_t idx;
	int64_t t = T0;
	char b[32];
	const char *ids[1];

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(rd(g, "ann", i, t += S, false, &cl, &d),
		    CV_GUARD_ALLOW);
	assert_int_equal(cv_guard_save(g, 3, &old), CV_OK);
	/* After the snapshot: one more, and a stepped-up crossing. */
	assert_int_equal(rd(g, "bob", 3, t += S, false, &cl, &d),
	    CV_GUARD_ALLOW);
	assert_int_equal(rd(g, "bob", 4, t += S, true, &cl, &d),
	    CV_GUARD_ALLOW);
	assert_int_equal(n_alerts(&d, "ceiling", CV_GUARD_WARNING), 1);
	assert_int_equal(cv_guard_save(g, 5, &now), CV_OK);

	/* The newer snapshot: same counts, the crossing already alerted. */
	assert_int_equal(cv_guard_new(&h), CV_OK);
	assert_int_equal(cv_guard_load(h, now.p, now.len, &idx), CV_OK);
	assert_int_equal(idx, 5);
	assert_int_equal(vault_hour(h, t), 5);
	assert_int_equal(rd(h, "cat", 5, t += S, false, &cl, &d),
	    CV_GUARD_STEP_UP);
	assert_int_equal(n_alerts(&d, "ceiling", CV_GUARD_WARNING), 0);
	/* ... and the windows slide on after a load as before. */
	assert_int_equal(vault_hour(h, T0 + HOUR + 3 * S), 2);

	/* The older one plus the two reads replayed from the log. */
	assert_int_equal(cv_guard_new(&k), CV_OK);
	assert_int_equal(cv_guard_load(k, old.p, old.len, &idx), CV_OK);
	assert_int_equal(vault_hour(k, t), 3);
	for (unsigned i = 3; i < 5; i++) {
		struct cv_guard_read r = { .user = "bob", .rids = ids,
		    .nrids = 1, .now_us = T0 + (i + 1) * S, .limits = &big,
		    .ceiling = &cl };
		ids[0] = rid(b, i);
		assert_int_equal(cv_guard_observe(k, &r), CV_OK);
	}
	assert_int_equal(vault_hour(k, t), 5);
	assert_int_equal(rd(k, "cat", 5, t, false, &cl, &d),
	    CV_GUARD_STEP_UP);
	assert_int_equal(n_alerts(&d, "ceiling", CV_GUARD_WARNING), 0);

	cv_guard_free(g);
	cv_guard_free(h);
	cv_guard_free(k);
	cv_buf_free(&old);
	cv_buf_free(&now);
}

/* Hostile snapshots: a ceiling flag on a user, a lock on the vault. */
static void
test_snapshot_flags(void **state)
{
	static const struct cv_guard_limits cl = { { NONE, 4, NONE },
	    { NONE, 6, NONE } };
	/* Header 44 bytes (no canaries); a user's fixed part 287 bytes,
	 * its flags at 38; one record (12 bytes) for the first user. */
	const size_t u0 = 44, u1 = 44 + 287 + 12, flags = 38;
	struct cv_buf b = { 0 };
	struct cv_guard *g, *h;
	uint64_t idx;

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	assert_int_equal(cv_guard_new(&h), CV_OK);
	assert_int_equal(rd(g, "ann", 0, T0, false, &cl, NULL),
	    CV_GUARD_ALLOW);
	assert_int_equal(cv_guard_save(g, 1, &b), CV_OK);
	assert_int_equal(b.len, u1 + 287 + 12);
	assert_int_equal(cv_guard_load(h, b.p, b.len, &idx), CV_OK);
	b.p[u0 + flags] |= 2;
	assert_int_equal(cv_guard_load(h, b.p, b.len, &idx), CV_ERR_INVALID);
	assert_non_null(strstr(cv_err_detail(), "user 0: ceiling flags"));
	b.p[u0 + flags] &= (uint8_t)~2;
	b.p[u1 + flags] |= 1;
	assert_int_equal(cv_guard_load(h, b.p, b.len, &idx), CV_ERR_INVALID);
	assert_non_null(strstr(cv_err_detail(), "user 1: ceiling flags"));
	b.p[u1 + flags] &= (uint8_t)~1;
	b.p[u1 + flags] |= 6;	/* both alerts raised: fine */
	assert_int_equal(cv_guard_load(h, b.p, b.len, &idx), CV_OK);
	cv_guard_free(g);
	cv_guard_free(h);
	cv_buf_free(&b);
}

static void
test_bad_ceiling(void **state)
{
	static const struct cv_guard_limits cl = { { NONE, 9, NONE },
	    { NONE, 8, NONE } };
	struct cv_guard_decision d;
	struct cv_guard *g;
	char b[32];
	const char *ids[1] = { rid(b, 1) };
	struct cv_guard_read r = { .user = "ann", .rids = ids, .nrids = 1,
	    .now_us = T0, .limits = &big, .ceiling = &cl };

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	assert_int_equal(cv_guard_check(g, &r, &d), CV_ERR_INVALID);
	assert_int_equal(d.verdict, CV_GUARD_DENY);
	assert_int_equal(cv_guard_observe(g, &r), CV_ERR_INVALID);
	cv_guard_free(g);
}

/* Probation: a quarter of each budget (at least 1, 0 stays 0), and the
 * reasons and alerts of the budget checks say so. */
static void
test_probation(void **state)
{
	struct cv_guard_limits lim = { { 20, 120, 400 }, { 40, 240, 3 } };
	struct cv_guard_limits zero = { { 0, 0, 0 }, { 0, 0, 0 } };
	struct cv_guard_decision d;
	struct cv_guard *g;
	char b[32];
	const char *ids[1];
	struct cv_guard_read r = { .user = "new", .rids = ids, .nrids = 1,
	    .limits = &lim, .probation = true };
	unsigned i;

	(void)state;
	cv_policy_probation(&lim);
	assert_int_equal(lim.soft[0], 5);
	assert_int_equal(lim.soft[1], 30);
	assert_int_equal(lim.soft[2], 100);
	assert_int_equal(lim.hard[0], 10);
	assert_int_equal(lim.hard[1], 60);
	assert_int_equal(lim.hard[2], 1);	/* 3 / 4 rounds to 0: 1 */
	cv_policy_probation(&zero);
	assert_int_equal(zero.soft[0] | zero.hard[2], 0);
	assert_true(cv_policy_on_probation(T0, T0 + 13 * DAY, 14));
	assert_false(cv_policy_on_probation(T0, T0 + 14 * DAY, 14));
	assert_true(cv_policy_on_probation(T0 + S, T0, 14));	/* clock back */
	assert_false(cv_policy_on_probation(T0, T0 + S, 0));	/* off */
	assert_false(cv_policy_on_probation(INT64_MIN, INT64_MAX, 3650));

	lim = (struct cv_guard_limits){ { 2, 100, 100 }, { 3, 100, 100 } };
	assert_int_equal(cv_guard_new(&g), CV_OK);
	for (i = 0; i < 3; i++) {	/* the third past soft, stepped up */
		ids[0] = rid(b, i);
		r.now_us = T0 + i * S;
		r.stepped_up = i == 2;
		assert_int_equal(cv_guard_check(g, &r, &d), CV_OK);
		assert_int_equal(d.verdict, CV_GUARD_ALLOW);
	}
	r.stepped_up = false;
	ids[0] = rid(b, 9);
	assert_int_equal(cv_guard_check(g, &r, &d), CV_OK);
	assert_int_equal(d.verdict, CV_GUARD_DENY);
	assert_string_equal(d.reason, "probation budget: hard limit");
	assert_non_null(strstr(d.alerts[0].detail, "probation"));
	cv_guard_free(g);

	/* The soft limit, and the same read without probation. */
	assert_int_equal(cv_guard_new(&g), CV_OK);
	for (i = 0; i < 3; i++) {
		ids[0] = rid(b, i);
		r.now_us = T0 + i * S;
		assert_int_equal(cv_guard_check(g, &r, &d), CV_OK);
	}
	assert_int_equal(d.verdict, CV_GUARD_STEP_UP);
	assert_string_equal(d.reason, "probation budget: minute soft limit");
	r.probation = false;
	assert_int_equal(cv_guard_check(g, &r, &d), CV_OK);
	assert_string_equal(d.reason, "read budget: minute soft limit");
	cv_guard_free(g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_soft_hard),
		cmocka_unit_test(test_slides_and_rearms),
		cmocka_unit_test(test_day_and_canary),
		cmocka_unit_test(test_snapshot_and_replay),
		cmocka_unit_test(test_snapshot_flags),
		cmocka_unit_test(test_bad_ceiling),
		cmocka_unit_test(test_probation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
