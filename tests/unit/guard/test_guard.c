/*
 * The exfiltration guard with an injected clock: budgets per sliding
 * window, distinct counting, step-up, hard-limit locks, canaries, the
 * two-person unlock, a fast thief, a low-and-slow thief over a week,
 * weeks of normal work, behaviour detectors, snapshots (round trip and
 * hostile bytes) and observe() against check().
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

static const struct cv_guard_limits *deflim = &cv_guard_limits_default;

struct req {
	const char *user, *addr, *case_id;
	const char *rids[8];
	size_t nrids;
	unsigned misses;
	bool search, stepped_up;
	const struct cv_guard_limits *lim;
};

static enum cv_guard_verdict
do_read(struct cv_guard *g, const struct req *q, int64_t t,
    struct cv_guard_decision *d)
{
	struct cv_guard_read r = { .user = q->user, .addr = q->addr,
	    .case_id = q->case_id, .rids = q->rids, .nrids = q->nrids,
	    .misses = q->misses, .search = q->search,
	    .stepped_up = q->stepped_up, .now_us = t,
	    .limits = q->lim ? q->lim : deflim };

	assert_int_equal(cv_guard_check(g, &r, d), CV_OK);
	return d->verdict;
}

/* One record, RID, for USER at T. */
static enum cv_guard_verdict
read1(struct cv_guard *g, const char *user, const char *rid, int64_t t,
    bool up, const struct cv_guard_limits *lim, struct cv_guard_decision *d)
{
	struct req q = { .user = user, .addr = "10.0.0.7", .case_id = "C-1",
	    .rids = { rid }, .nrids = 1, .stepped_up = up, .lim = lim };
	struct cv_guard_decision tmp;

	return do_read(g, &q, t, d ? d : &tmp);
}

static bool
has_alert(const struct cv_guard_decision *d, const char *kind,
    enum cv_guard_severity sev)
{
	for (size_t i = 0; i < d->nalerts; i++) {
		if (strcmp(d->alerts[i].kind, kind) == 0 &&
		    d->alerts[i].severity == sev)
			return true;
	}
	return false;
}

static void
counts(struct cv_guard *g, const char *user, int64_t t, uint32_t m,
    uint32_t h, uint32_t dd)
{
	struct cv_guard_user_info in;

	cv_guard_user_info(g, user, t, &in);
	assert_int_equal(in.counts[CV_GUARD_MINUTE], m);
	assert_int_equal(in.counts[CV_GUARD_HOUR], h);
	assert_int_equal(in.counts[CV_GUARD_DAY], dd);
}

static void
test_windows(void **state)
{
	static const struct cv_guard_limits lm = { { 3, 100, 100 },
	    { 5, 100, 100 } }, lh = { { 100, 5, 100 }, { 100, 8, 100 } },
	    ld = { { 100, 100, 5 }, { 100, 100, 8 } };
	struct cv_guard *g;
	char b[32];
	unsigned i;

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	/* Minute: 3 free, the 4th needs a step-up, a minute later it is free. */
	for (i = 0; i < 3; i++)
		assert_int_equal(read1(g, "m", rid(b, i), T0 + i * S, false, &lm,
		    NULL), CV_GUARD_ALLOW);
	assert_int_equal(read1(g, "m", rid(b, 3), T0 + 59 * S, false, &lm,
	    NULL), CV_GUARD_STEP_UP);
	/* Re-reading a record already counted is free. */
	assert_int_equal(read1(g, "m", rid(b, 1), T0 + 59 * S, false, &lm,
	    NULL), CV_GUARD_ALLOW);
	counts(g, "m", T0 + 59 * S, 3, 3, 3);
	/* The first one leaves the minute at exactly T0 + 60 s. */
	assert_int_equal(read1(g, "m", rid(b, 3), T0 + 60 * S, false, &lm,
	    NULL), CV_GUARD_ALLOW);
	counts(g, "m", T0 + 60 * S, 3, 4, 4);
	/* A record read 2 minutes ago counts again in the minute only. */
	assert_int_equal(read1(g, "m", rid(b, 0), T0 + 120 * S, false, &lm,
	    NULL), CV_GUARD_ALLOW);
	counts(g, "m", T0 + 120 * S, 1, 4, 4);

	/* Hour. */
	for (i = 0; i < 5; i++)
		assert_int_equal(read1(g, "h", rid(b, i), T0 + i * MIN, false, &lh,
		    NULL), CV_GUARD_ALLOW);
	assert_int_equal(read1(g, "h", rid(b, 5), T0 + 30 * MIN, false, &lh,
	    NULL), CV_GUARD_STEP_UP);
	assert_int_equal(read1(g, "h", rid(b, 5), T0 + HOUR - S, false, &lh,
	    NULL), CV_GUARD_STEP_UP);
	assert_int_equal(read1(g, "h", rid(b, 5), T0 + HOUR, false, &lh,
	    NULL), CV_GUARD_ALLOW);
	counts(g, "h", T0 + HOUR, 1, 5, 6);

	/* Day. */
	for (i = 0; i < 5; i++)
		assert_int_equal(read1(g, "d", rid(b, i), T0 + i * HOUR, false,
		    &ld, NULL), CV_GUARD_ALLOW);
	assert_int_equal(read1(g, "d", rid(b, 5), T0 + DAY - S, false, &ld,
	    NULL), CV_GUARD_STEP_UP);
	assert_int_equal(read1(g, "d", rid(b, 5), T0 + DAY, false, &ld,
	    NULL), CV_GUARD_ALLOW);
	counts(g, "d", T0 + DAY, 1, 1, 5);
	cv_guard_free(g);
}

static void
test_distinct_and_search(void **state)
{
	struct cv_guard *g;
	struct cv_guard_decision d;
	struct req q = { .user = "s", .addr = "10.0.0.7",
	    .rids = { "A", "B", "A", "C", "B" }, .nrids = 5 };

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	/* Repeats within a read count once. */
	assert_int_equal(do_read(g, &q, T0, &d), CV_GUARD_ALLOW);
	counts(g, "s", T0, 3, 3, 3);
	/* Search results count as records returned. */
	q.search = true;
	q.rids[0] = "D";
	q.rids[1] = "E";
	q.nrids = 2;
	assert_int_equal(do_read(g, &q, T0 + S, &d), CV_GUARD_ALLOW);
	counts(g, "s", T0 + S, 5, 5, 5);
	/* A search with no result counts nothing. */
	q.nrids = 0;
	assert_int_equal(do_read(g, &q, T0 + 2 * S, &d), CV_GUARD_ALLOW);
	counts(g, "s", T0 + 2 * S, 5, 5, 5);
	/* Bad requests: refused, nothing accounted, the decision says DENY. */
	assert_int_equal(cv_guard_check(g, &(struct cv_guard_read){
	    .user = "", .limits = deflim, .now_us = T0 }, &d), CV_ERR_INVALID);
	assert_int_equal(d.verdict, CV_GUARD_DENY);
	assert_int_equal(cv_guard_check(g, &(struct cv_guard_read){
	    .user = "s", .limits = &(struct cv_guard_limits){ { 5, 5, 5 },
	    { 4, 5, 5 } }, .now_us = T0 }, &d), CV_ERR_INVALID);
	assert_int_equal(cv_guard_check(g, &(struct cv_guard_read){
	    .user = "s", .nrids = 1, .limits = deflim, .now_us = T0 }, &d),
	    CV_ERR_INVALID);
	assert_int_equal(cv_guard_check(g, &(struct cv_guard_read){
	    .user = "s", .limits = deflim, .now_us = 0 }, &d), CV_ERR_INVALID);
	assert_int_equal(cv_guard_check(g, &(struct cv_guard_read){
	    .user = "s", .limits = NULL, .now_us = T0 }, &d), CV_ERR_INVALID);
	counts(g, "s", T0 + 2 * S, 5, 5, 5);
	cv_guard_free(g);
}

static void
test_step_up_and_hard_lock(void **state)
{
	struct cv_guard *g;
	struct cv_guard_decision d;
	struct cv_guard_user_info in;
	char b[32];
	unsigned i, ok = 0;

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	for (i = 0; i < deflim->hard[CV_GUARD_MINUTE]; i++)
		ok += read1(g, "h", rid(b, i), T0 + i * 1000, true, NULL, &d) ==
		    CV_GUARD_ALLOW;
	assert_int_equal(ok, deflim->hard[CV_GUARD_MINUTE]);
	/* One more, even stepped up: denied, locked. */
	assert_int_equal(read1(g, "h", rid(b, i), T0 + S, true, NULL, &d),
	    CV_GUARD_DENY);
	assert_true(d.locked_now);
	assert_true(has_alert(&d, "budget", CV_GUARD_CRITICAL));
	assert_true(cv_guard_locked(g, "h"));
	/* Locked: everything refused, even a record already read. */
	assert_int_equal(read1(g, "h", rid(b, 0), T0 + DAY * 2, true, NULL,
	    &d), CV_GUARD_DENY);
	assert_false(d.locked_now);
	assert_string_equal(d.reason, "user locked");
	counts(g, "h", T0 + S, 30, 30, 30);
	cv_guard_user_info(g, "h", T0 + S, &in);
	assert_true(in.locked);
	assert_string_equal(in.lock_reason, "read budget: hard limit");
	assert_false(cv_guard_locked(g, "other"));
	cv_guard_free(g);
}

static void
test_canary(void **state)
{
	static const char *const can[] = { "CV-CANARY-0001", "CV-CANARY-0002" };
	struct cv_guard *g;
	struct cv_guard_decision d;
	struct req q = { .user = "c", .addr = "10.0.0.7", .case_id = "C-1",
	    .rids = { "CV-REAL-1", "CV-CANARY-0002" }, .nrids = 2 };

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	assert_int_equal(cv_guard_set_canaries(g, can, 2), CV_OK);
	assert_true(cv_guard_is_canary(g, "CV-CANARY-0001"));
	assert_false(cv_guard_is_canary(g, "CV-REAL-1"));
	assert_int_equal(read1(g, "c", "CV-REAL-0", T0, false, NULL, &d),
	    CV_GUARD_ALLOW);
	assert_int_equal(d.nalerts, 0);
	assert_int_equal(do_read(g, &q, T0 + S, &d), CV_GUARD_ALLOW_THEN_LOCK);
	assert_true(d.locked_now);
	assert_true(has_alert(&d, "canary", CV_GUARD_CRITICAL));
	assert_true(cv_guard_locked(g, "c"));
	assert_int_equal(read1(g, "c", "CV-REAL-0", T0 + 2 * S, false, NULL,
	    &d), CV_GUARD_DENY);
	/* Clearing the set. */
	assert_int_equal(cv_guard_set_canaries(g, NULL, 0), CV_OK);
	assert_false(cv_guard_is_canary(g, "CV-CANARY-0001"));
	cv_guard_free(g);
}

static void
test_two_person_unlock(void **state)
{
	struct cv_guard *g;
	bool un;

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	assert_int_equal(cv_guard_unlock_approve(g, "u", "o1", T0, &un),
	    CV_ERR_NOT_FOUND);
	assert_int_equal(cv_guard_lock(g, "u", "manual", T0), CV_OK);
	assert_true(cv_guard_locked(g, "u"));
	/* The locked user cannot approve, at either step. */
	assert_int_equal(cv_guard_unlock_approve(g, "u", "u", T0, &un),
	    CV_ERR_AUTH);
	assert_false(un);
	assert_int_equal(cv_guard_unlock_approve(g, "u", "o1", T0 + S, &un),
	    CV_OK);
	assert_false(un);
	assert_true(cv_guard_locked(g, "u"));
	/* The same officer twice: refused. */
	assert_int_equal(cv_guard_unlock_approve(g, "u", "o1", T0 + 2 * S, &un),
	    CV_ERR_EXISTS);
	assert_false(un);
	assert_int_equal(cv_guard_unlock_approve(g, "u", "u", T0 + 2 * S, &un),
	    CV_ERR_AUTH);
	/* A locked officer cannot approve. */
	assert_int_equal(cv_guard_lock(g, "o3", "manual", T0), CV_OK);
	assert_int_equal(cv_guard_unlock_approve(g, "u", "o3", T0 + 2 * S, &un),
	    CV_ERR_AUTH);
	assert_true(cv_guard_locked(g, "u"));
	assert_int_equal(cv_guard_unlock_approve(g, "u", "o2", T0 + 3 * S, &un),
	    CV_OK);
	assert_true(un);
	assert_false(cv_guard_locked(g, "u"));
	assert_int_equal(read1(g, "u", "R1", T0 + 4 * S, false, NULL, NULL),
	    CV_GUARD_ALLOW);

	/* A first approval goes stale after a day. */
	assert_int_equal(cv_guard_lock(g, "u", "manual", T0 + 10 * S), CV_OK);
	assert_int_equal(cv_guard_unlock_approve(g, "u", "o1", T0 + 11 * S,
	    &un), CV_OK);
	assert_int_equal(cv_guard_unlock_approve(g, "u", "o2", T0 + 11 * S +
	    25 * HOUR, &un), CV_OK);
	assert_false(un);	/* o2's is now the first approval */
	assert_int_equal(cv_guard_unlock_approve(g, "u", "o1", T0 + 12 * S +
	    25 * HOUR, &un), CV_OK);
	assert_true(un);
	/* Locked again while an approval is pending: approvals start over. */
	assert_int_equal(cv_guard_lock(g, "u", "manual", T0 + DAY * 3), CV_OK);
	assert_int_equal(cv_guard_unlock_approve(g, "u", "o1", T0 + DAY * 3,
	    &un), CV_OK);
	assert_int_equal(cv_guard_lock(g, "u", "again", T0 + DAY * 3 + S),
	    CV_OK);
	assert_int_equal(cv_guard_unlock_approve(g, "u", "o2", T0 + DAY * 3 +
	    2 * S, &un), CV_OK);
	assert_false(un);
	assert_int_equal(cv_guard_unlock_approve(g, "u", "o1", T0 + DAY * 3 +
	    3 * S, &un), CV_OK);
	assert_true(un);
	assert_int_equal(cv_guard_unlock_approve(g, "", "o1", T0, &un),
	    CV_ERR_INVALID);
	/* Lifted elsewhere (two approvals on other nodes): the lock and
	 * its pending approval go, as a second approval here would. */
	assert_int_equal(cv_guard_lock(g, "v", "canary", T0 + DAY * 4), CV_OK);
	assert_int_equal(cv_guard_unlock_approve(g, "v", "o1", T0 + DAY * 4,
	    &un), CV_OK);
	assert_int_equal(cv_guard_unlock_lifted(g, "v", &un), CV_OK);
	assert_true(un);
	assert_false(cv_guard_locked(g, "v"));
	assert_int_equal(read1(g, "v", "R1", T0 + DAY * 4 + S, false, NULL,
	    NULL), CV_GUARD_ALLOW);
	assert_int_equal(cv_guard_unlock_lifted(g, "v", &un), CV_OK);
	assert_false(un);
	assert_int_equal(cv_guard_lock(g, "v", "again", T0 + DAY * 4 + 2 * S),
	    CV_OK);
	assert_int_equal(cv_guard_unlock_approve(g, "v", "o2", T0 + DAY * 4 +
	    3 * S, &un), CV_OK);
	assert_false(un);	/* o1's approval went with the lock */
	assert_int_equal(cv_guard_unlock_lifted(g, "", &un), CV_ERR_INVALID);
	cv_guard_free(g);
}

/* A stolen session reading as fast as it can, without the second factor. */
static void
test_fast_thief(void **state)
{
	struct cv_guard *g;
	struct cv_guard_decision d;
	char b[32];
	unsigned i, out = 0, before_step_up = 0;
	bool stepped = false;

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	for (i = 0; i < 100000; i++) {
		enum cv_guard_verdict v = read1(g, "t", rid(b, i),
		    T0 + 9 * HOUR + i * 10000, false, NULL, &d);
		if (v == CV_GUARD_ALLOW) {
			out++;
			if (!stepped)
				before_step_up++;
		} else if (v == CV_GUARD_STEP_UP) {
			stepped = true;
		} else {
			break;
		}
	}
	assert_true(stepped);
	assert_true(before_step_up <= deflim->soft[CV_GUARD_MINUTE]);
	/* Hammering on without the second factor locks within the minute. */
	assert_int_equal(d.verdict, CV_GUARD_DENY);
	assert_true(d.locked_now);
	assert_true(has_alert(&d, "behaviour", CV_GUARD_CRITICAL));
	assert_true(i * 10000 < MIN);
	assert_int_equal(out, deflim->soft[CV_GUARD_MINUTE]);
	cv_guard_free(g);
}

static const char *normal_addr = "10.1.2.3";

/*
 * Normal work: weekdays 9:00-17:00, one read a minute from a pool of
 * three cases of 40 records, from the usual address, a mistyped id and
 * a search now and then.
 */
static void
normal_day(struct cv_guard *g, const char *user, int64_t day0,
    unsigned *seed, unsigned *alerts)
{
	static const char *const cases[] = { "C-11", "C-12", "C-13" };
	struct cv_guard_decision d;
	char b[32];

	for (int m = 0; m < 8 * 60; m++) {
		unsigned c, k;
		struct req q = { .user = user, .addr = normal_addr };
		*seed = *seed * 1103515245 + 12345;
		c = (*seed >> 16) % 3;
		k = (*seed >> 8) % 40;
		q.case_id = cases[c];
		q.rids[0] = rid(b, 1000 + c * 40 + k);
		q.nrids = 1;
		q.misses = m % 60 == 17;
		q.search = m % 97 == 5;
		assert_int_equal(do_read(g, &q, day0 + 9 * HOUR + m * MIN +
		    (int64_t)(*seed % 50) * S, &d), CV_GUARD_ALLOW);
		*alerts += (unsigned)d.nalerts;
	}
}

static void
normal_weeks(struct cv_guard *g, const char *user, int64_t t, int weeks)
{
	unsigned seed = 7, alerts = 0;

	for (int w = 0; w < weeks; w++) {
		for (int day = 0; day < 5; day++)
			normal_day(g, user, t + w * WEEK + day * DAY, &seed,
			    &alerts);
	}
	assert_int_equal(alerts, 0);
}

static void
test_normal_work(void **state)
{
	struct cv_guard *g;
	struct cv_guard_user_info in;

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	/* From the first day of a brand-new user, for four weeks. */
	normal_weeks(g, "n", T0, 4);
	/* A new desk (address) for two more weeks: still nothing. */
	normal_addr = "10.1.2.99";
	normal_weeks(g, "n", T0 + 4 * WEEK, 2);
	normal_addr = "10.1.2.3";
	cv_guard_user_info(g, "n", T0 + 6 * WEEK, &in);
	assert_true(in.learned);
	assert_false(in.locked);
	assert_true(in.score < 1);
	cv_guard_free(g);
}

/*
 * Low and slow: a thief with the user's credential and second factor,
 * from the user's workstation and cases, reading a new record every
 * three minutes around the clock for a week, from Monday 00:00.
 */
static void
test_low_and_slow(void **state)
{
	struct cv_guard *g;
	struct cv_guard_decision d;
	const int64_t start = T0 + 2 * WEEK;
	int64_t first_alert = -1;
	unsigned per_day[7] = { 0 }, i = 0;
	char b[32];

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	normal_weeks(g, "ls", T0, 2);
	for (int64_t t = start; t < start + WEEK; t += 3 * MIN, i++) {
		struct req q = { .user = "ls", .addr = "10.1.2.3",
		    .case_id = "C-11", .rids = { rid(b, 50000 + i) },
		    .nrids = 1, .stepped_up = true };
		if (do_read(g, &q, t, &d) == CV_GUARD_ALLOW ||
		    d.verdict == CV_GUARD_ALLOW_THEN_LOCK)
			per_day[(t - start) / DAY]++;
		for (size_t k = 0; k < d.nalerts; k++) {
			if (first_alert < 0 &&
			    d.alerts[k].severity >= CV_GUARD_WARNING)
				first_alert = t;
		}
	}
	assert_true(first_alert >= 0);
	assert_true(first_alert - start < DAY);
	for (int day = 0; day < 7; day++)
		assert_true(per_day[day] <= deflim->hard[CV_GUARD_DAY]);
	/* In practice the off-hours detector stops it within a few hours. */
	assert_true(cv_guard_locked(g, "ls"));
	assert_true(per_day[0] < 100);
	cv_guard_free(g);
}

/*
 * The budget alone: a brand-new user (no baseline to compare with)
 * reading a record every two minutes around the clock, stepped up. The
 * daily hard limit bounds what leaves.
 */
static void
test_low_and_slow_budget(void **state)
{
	struct cv_guard *g;
	struct cv_guard_decision d;
	unsigned per_day[7] = { 0 }, i = 0, total = 0;
	char b[32];

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	for (int64_t t = T0; t < T0 + WEEK; t += 2 * MIN, i++) {
		if (read1(g, "b", rid(b, i), t, true, NULL, &d) ==
		    CV_GUARD_ALLOW) {
			per_day[(t - T0) / DAY]++;
			total++;
		}
	}
	for (int day = 0; day < 7; day++)
		assert_true(per_day[day] <= deflim->hard[CV_GUARD_DAY]);
	assert_int_equal(total, deflim->hard[CV_GUARD_DAY]);
	assert_true(cv_guard_locked(g, "b"));
	cv_guard_free(g);
}

static void
test_enumeration_and_sweep(void **state)
{
	struct cv_guard *g;
	struct cv_guard_decision d;
	struct req q = { .user = "e", .addr = "10.0.0.7", .misses = 1 };
	int i, warned = 0;

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	/* A few misses a minute: nothing. */
	for (i = 0; i < 5; i++) {
		assert_int_equal(do_read(g, &q, T0 + i * 10 * S, &d),
		    CV_GUARD_ALLOW);
		assert_int_equal(d.nalerts, 0);
	}
	/* Guessing ids: a warning, then a lock within the minute. */
	for (i = 0; i < 60 && do_read(g, &q, T0 + MIN + i * S, &d) !=
	    CV_GUARD_DENY; i++)
		warned |= has_alert(&d, "enumeration", CV_GUARD_WARNING);
	assert_true(warned);
	assert_true(i < 30);
	assert_true(d.locked_now);
	assert_true(has_alert(&d, "enumeration", CV_GUARD_CRITICAL));

	/* Blind-index sweep. */
	q.user = "w";
	q.misses = 0;
	q.search = true;
	for (i = 0; i < 60 && do_read(g, &q, T0 + i * S, &d) !=
	    CV_GUARD_DENY; i++)
		;
	assert_true(i < 30);
	assert_true(has_alert(&d, "sweep", CV_GUARD_CRITICAL));
	cv_guard_free(g);
}

static void
test_new_address_bulk(void **state)
{
	struct cv_guard *g;
	struct cv_guard_decision d;
	struct cv_guard_user_info in;
	char b[32];
	int i, seen = 0;

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	normal_weeks(g, "a", T0, 2);
	/* Monday 10:00, a new address, a new case, stepped up, bulk. */
	for (i = 0; i < 90; i++) {
		struct req q = { .user = "a", .addr = "203.0.113.9",
		    .case_id = "C-99", .rids = { rid(b, 70000 + i) },
		    .nrids = 1, .stepped_up = true };
		if (do_read(g, &q, T0 + 2 * WEEK + 10 * HOUR + i * 20 * S, &d) !=
		    CV_GUARD_ALLOW)
			break;
		seen |= has_alert(&d, "address", CV_GUARD_WARNING) ||
		    has_alert(&d, "case", CV_GUARD_WARNING);
	}
	cv_guard_user_info(g, "a", T0 + 2 * WEEK + 11 * HOUR, &in);
	assert_true(seen || in.locked);
	assert_true(in.score >= 50);
	cv_guard_free(g);
}

/* Some state of every kind, for the snapshot tests. */
static void
populate(struct cv_guard *g)
{
	static const char *const can[] = { "CV-CANARY-1", "CV-CANARY-2" };
	struct cv_guard_decision d;
	struct req q = { .user = "p", .addr = "10.0.0.1", .misses = 3,
	    .search = true };
	char b[32];
	bool un;

	assert_int_equal(cv_guard_set_canaries(g, can, 2), CV_OK);
	normal_weeks(g, "base", T0, 1);
	for (unsigned i = 0; i < 40; i++)
		(void)read1(g, "r", rid(b, i), T0 + WEEK + i * 7 * S, true, NULL,
		    NULL);
	assert_int_equal(do_read(g, &q, T0 + WEEK, &d), CV_GUARD_ALLOW);
	assert_int_equal(cv_guard_lock(g, "l", "manual: test", T0 + WEEK),
	    CV_OK);
	assert_int_equal(cv_guard_unlock_approve(g, "l", "o1", T0 + WEEK, &un),
	    CV_OK);
	assert_int_equal(cv_guard_lock(g, "l2", "", T0 + WEEK), CV_OK);
}

static void
snap(struct cv_guard *g, uint64_t idx, struct cv_buf *b)
{
	b->len = 0;
	assert_int_equal(cv_guard_save(g, idx, b), CV_OK);
}

static void
test_snapshot_round_trip(void **state)
{
	struct cv_guard *g, *h;
	struct cv_buf a = { 0 }, b = { 0 };
	struct cv_guard_decision d1, d2;
	struct cv_guard_user_info i1, i2;
	uint64_t idx = 0;
	char rb[32];
	bool un;

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	assert_int_equal(cv_guard_new(&h), CV_OK);
	populate(g);
	snap(g, 42, &a);
	assert_int_equal(cv_guard_load(h, a.p, a.len, &idx), CV_OK);
	assert_int_equal(idx, 42);
	snap(h, 42, &b);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.p, b.p, a.len);
	assert_true(cv_guard_is_canary(h, "CV-CANARY-2"));
	assert_true(cv_guard_locked(h, "l"));
	assert_true(cv_guard_locked(h, "l2"));
	cv_guard_user_info(h, "l", T0 + WEEK, &i2);
	assert_true(i2.pending_approval);
	assert_string_equal(i2.lock_reason, "manual: test");
	/* The same decisions, the same state afterwards. */
	for (unsigned i = 0; i < 60; i++) {
		int64_t t = T0 + WEEK + 10 * MIN + i * 3 * S;
		assert_int_equal(read1(g, "r", rid(rb, i * 3), t, false, NULL,
		    &d1), read1(h, "r", rid(rb, i * 3), t, false, NULL, &d2));
		assert_string_equal(d1.reason, d2.reason);
		assert_int_equal(d1.nalerts, d2.nalerts);
	}
	cv_guard_user_info(g, "base", T0 + WEEK, &i1);
	cv_guard_user_info(h, "base", T0 + WEEK, &i2);
	assert_memory_equal(&i1, &i2, sizeof i1);
	snap(g, 43, &a);
	snap(h, 43, &b);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.p, b.p, a.len);
	/* The pending approval survives: a second officer unlocks. */
	assert_int_equal(cv_guard_unlock_approve(h, "l", "o1", T0 + WEEK + S,
	    &un), CV_ERR_EXISTS);
	assert_int_equal(cv_guard_unlock_approve(h, "l", "o2", T0 + WEEK + S,
	    &un), CV_OK);
	assert_true(un);
	/* An empty guard round-trips too. */
	cv_guard_free(h);
	assert_int_equal(cv_guard_new(&h), CV_OK);
	snap(h, 0, &a);
	assert_int_equal(cv_guard_load(g, a.p, a.len, &idx), CV_OK);
	assert_false(cv_guard_locked(g, "l"));
	assert_false(cv_guard_is_canary(g, "CV-CANARY-2"));
	cv_buf_free(&a);
	cv_buf_free(&b);
	cv_guard_free(g);
	cv_guard_free(h);
}

static void
expect_refused(struct cv_guard *g, const uint8_t *p, size_t len,
    const struct cv_buf *before)
{
	struct cv_buf after = { 0 };
	uint64_t idx = 7;

	cv_err_clear();
	assert_int_equal(cv_guard_load(g, p, len, &idx), CV_ERR_INVALID);
	assert_int_equal(idx, 7);
	assert_true(strncmp(cv_err_detail(), "guard snapshot: ", 16) == 0);
	snap(g, 99, &after);
	assert_int_equal(after.len, before->len);
	assert_memory_equal(after.p, before->p, after.len);
	cv_buf_free(&after);
}

static void
test_snapshot_hostile(void **state)
{
	struct cv_guard *g, *h;
	struct cv_buf a = { 0 }, before = { 0 };
	uint8_t *m;

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	assert_int_equal(cv_guard_new(&h), CV_OK);
	populate(g);
	snap(g, 5, &a);
	/* H holds its own state, which a failed load must not touch. */
	assert_int_equal(cv_guard_lock(h, "mine", "keep", T0), CV_OK);
	assert_int_equal(read1(h, "x", "R", T0, false, NULL, NULL),
	    CV_GUARD_ALLOW);
	snap(h, 99, &before);
	for (size_t n = 0; n < a.len; n++)
		expect_refused(h, a.p, n, &before);
	m = malloc(a.len + 1);
	memcpy(m, a.p, a.len);
	m[a.len] = 0;
	expect_refused(h, m, a.len + 1, &before);	/* trailing byte */
	m[0] ^= 1;
	expect_refused(h, m, a.len, &before);		/* magic */
	m[0] ^= 1;
	m[11] = 2;
	expect_refused(h, m, a.len, &before);		/* version */
	assert_non_null(strstr(cv_err_detail(), "version 2"));
	m[11] = 1;
	/* The first canary made equal to the second: not ascending. */
	memcpy(m + 40, m + 48, 8);
	expect_refused(h, m, a.len, &before);
	memcpy(m, a.p, a.len);
	/* Counts larger than the bytes. */
	m[36] = 0xff;
	expect_refused(h, m, a.len, &before);
	memcpy(m, a.p, a.len);
	/* The first user's flags: an unknown bit. */
	m[56 + 4 + 38] = 0x80;
	expect_refused(h, m, a.len, &before);
	assert_non_null(strstr(cv_err_detail(), "user 0: unknown flags"));
	memcpy(m, a.p, a.len);
	/* Every single-byte flip is either refused cleanly or loads. */
	for (size_t i = 0; i < a.len; i++) {
		struct cv_guard *t;
		uint64_t idx;
		m[i] ^= 0x41;
		assert_int_equal(cv_guard_new(&t), CV_OK);
		cv_err e = cv_guard_load(t, m, a.len, &idx);
		assert_true(e == CV_OK || e == CV_ERR_INVALID);
		cv_guard_free(t);
		m[i] ^= 0x41;
	}
	assert_int_equal(cv_guard_load(h, NULL, 0, &(uint64_t){ 0 }),
	    CV_ERR_INVALID);
	free(m);
	cv_buf_free(&a);
	cv_buf_free(&before);
	cv_guard_free(g);
	cv_guard_free(h);
}

/* observe() leaves exactly the state check() leaves for allowed reads. */
static void
test_observe_like_check(void **state)
{
	struct cv_guard *g, *h;
	struct cv_buf a = { 0 }, b = { 0 };
	struct cv_guard_decision d;
	uint64_t idx;
	char rb[32];
	unsigned seed = 3;

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	assert_int_equal(cv_guard_new(&h), CV_OK);
	snap(g, 0, &a);
	assert_int_equal(cv_guard_load(h, a.p, a.len, &idx), CV_OK);
	for (unsigned i = 0; i < 3000; i++) {
		struct cv_guard_read r = { .user = i % 3 ? "o1" : "o2",
		    .addr = "10.9.9.9", .case_id = i % 5 ? "C-1" : "C-2",
		    .misses = i % 50 == 0, .search = i % 40 == 0,
		    .stepped_up = true, .limits = deflim };
		const char *ids[2];
		char rb2[32];
		seed = seed * 1103515245 + 12345;
		ids[0] = rid(rb, (seed >> 16) % 300);
		ids[1] = rid(rb2, (seed >> 4) % 300);
		r.rids = ids;
		r.nrids = 1 + (i % 7 == 0);
		r.now_us = T0 + (int64_t)i * 97 * S;
		assert_int_equal(cv_guard_check(g, &r, &d), CV_OK);
		assert_int_equal(d.verdict, CV_GUARD_ALLOW);
		assert_int_equal(cv_guard_observe(h, &r), CV_OK);
	}
	snap(g, 1, &a);
	snap(h, 1, &b);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.p, b.p, a.len);
	cv_buf_free(&a);
	cv_buf_free(&b);
	cv_guard_free(g);
	cv_guard_free(h);
}

static void
test_memory_grows_and_shrinks(void **state)
{
	struct cv_guard *g;
	size_t m0, m1, m2;
	char b[32];

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	m0 = cv_guard_memory(g);
	for (unsigned i = 0; i < 500; i++)
		(void)read1(g, "big", rid(b, i), T0 + i * 100 * S, true, NULL,
		    NULL);
	m1 = cv_guard_memory(g);
	assert_true(m1 > m0);
	/* Two days later one read: the set drops what expired and shrinks. */
	for (unsigned i = 0; i < 10; i++)
		(void)read1(g, "big", rid(b, 1000 + i), T0 + 3 * DAY + i * S, true,
		    NULL, NULL);
	m2 = cv_guard_memory(g);
	assert_true(m2 <= m1);
	counts(g, "big", T0 + 3 * DAY + 10 * S, 10, 10, 10);
	cv_guard_free(g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_windows),
		cmocka_unit_test(test_distinct_and_search),
		cmocka_unit_test(test_step_up_and_hard_lock),
		cmocka_unit_test(test_canary),
		cmocka_unit_test(test_two_person_unlock),
		cmocka_unit_test(test_fast_thief),
		cmocka_unit_test(test_normal_work),
		cmocka_unit_test(test_low_and_slow),
		cmocka_unit_test(test_low_and_slow_budget),
		cmocka_unit_test(test_enumeration_and_sweep),
		cmocka_unit_test(test_new_address_bulk),
		cmocka_unit_test(test_snapshot_round_trip),
		cmocka_unit_test(test_snapshot_hostile),
		cmocka_unit_test(test_observe_like_check),
		cmocka_unit_test(test_memory_grows_and_shrinks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
