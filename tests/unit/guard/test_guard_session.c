/*
 * The per-session budget and the behaviour defaults of users without a
 * baseline, with an injected clock: a session returns at most its budget
 * of distinct records since its last TOTP proof, at any pace (re-reads
 * free, a later proof starts a new count, a step-up within the old proof
 * does not); reads in flight count together and a cancel gives back
 * exactly what its hold took; sessions are forgotten only when they end,
 * and not kept by a load. A user not learnt yet is held to the role's
 * default, then to the learnt peers' hours; the peers' baseline survives
 * a snapshot.
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


/* Budgets no test here reaches: the session's is the one that holds. */
static const struct cv_guard_limits wide = { { 1000, 10000, 100000 },
    { 2000, 20000, 200000 } };

/* USER reads record I at T in session SES (NULL: none), stepped up or
 * not; PEER and USUAL as the server passes them. */
struct rd {
	const char *user;
	const struct cv_guard_session *ses;
	const char *peer;
	uint32_t usual;
	bool up;
};

static enum cv_guard_verdict
reserve(struct cv_guard *g, const struct rd *q, unsigned i, int64_t t,
    struct cv_guard_decision *d, struct cv_guard_hold **x)
{
	char b[32];
	const char *ids[1] = { rid(b, i) };
	struct cv_guard_read r = { .user = q->user, .addr = "10.0.0.7",
	    .case_id = "C-1", .rids = ids, .nrids = 1, .now_us = t,
	    .limits = &wide, .stepped_up = q->up, .session = q->ses,
	    .peer = q->peer, .usual_hour = q->usual };

	assert_int_equal(cv_guard_reserve(g, &r, d, x), CV_OK);
	return d->verdict;
}

/* One read, left at once (committed). */
static enum cv_guard_verdict
read1(struct cv_guard *g, const struct rd *q, unsigned i, int64_t t,
    struct cv_guard_decision *d)
{
	struct cv_guard_decision tmp;
	struct cv_guard_hold *x;
	enum cv_guard_verdict v = reserve(g, q, i, t, d ? d : &tmp, &x);

	cv_guard_commit(g, x);
	return v;
}

static bool
has_alert(const struct cv_guard_decision *d, const char *kind,
    const char *in_detail)
{
	for (size_t i = 0; i < d->nalerts; i++) {
		if (strcmp(d->alerts[i].kind, kind) == 0 && (in_detail == NULL ||
		    strstr(d->alerts[i].detail, in_detail)))
			return true;
	}
	return false;
}

/* Twenty distinct records an hour apart, then step-up; re-reads free; a
 * fresh proof gives twenty more; a step-up flag alone does not. */
static void
test_budget_any_pace(void **state)
{
	struct cv_guard_session s = { .id = "0123456789abcdef", .proof_us = 0,
	    .ends_us = T0 + 1000 * DAY, .budget = 20 };
	struct cv_guard_session s2 = s;
	struct rd q = { .user = "thief", .ses = &s };
	struct cv_guard_decision d;
	struct cv_guard *g;
	unsigned i;

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	for (i = 0; i < 20; i++)
		assert_int_equal(read1(g, &q, i, T0 + i * HOUR, NULL),
		    CV_GUARD_ALLOW);
	/* A day and more later: every window is empty, the session's
	 * count is not. */
	assert_int_equal(read1(g, &q, 20, T0 + 2 * DAY, &d), CV_GUARD_STEP_UP);
	assert_string_equal(d.reason, CV_GUARD_SESSION_REASON);
	assert_int_equal(read1(g, &q, 7, T0 + 2 * DAY, NULL), CV_GUARD_ALLOW);
	/* The step-up flag is for the soft limits; the session counts from
	 * its proof. */
	q.up = true;
	assert_int_equal(read1(g, &q, 21, T0 + 2 * DAY, NULL),
	    CV_GUARD_STEP_UP);
	/* A later proof: twenty more, whatever was read before. */
	s.proof_us = T0 + 2 * DAY;
	for (i = 100; i < 120; i++)
		assert_int_equal(read1(g, &q, i, T0 + 2 * DAY + i * MIN, NULL),
		    CV_GUARD_ALLOW);
	assert_int_equal(read1(g, &q, 120, T0 + 3 * DAY, &d),
	    CV_GUARD_STEP_UP);
	/* A request that authenticated before the proof counts in the new
	 * count, never back in the old one. */
	s.proof_us = 0;
	assert_int_equal(read1(g, &q, 121, T0 + 3 * DAY, NULL),
	    CV_GUARD_STEP_UP);
	/* Another session of the same user has its own count. */
	s2.id = "fedcba9876543210";
	q.ses = &s2;
	assert_int_equal(read1(g, &q, 200, T0 + 3 * DAY, NULL),
	    CV_GUARD_ALLOW);
	/* No session (the command line): no session budget. */
	q.ses = NULL;
	assert_int_equal(read1(g, &q, 300, T0 + 3 * DAY, NULL),
	    CV_GUARD_ALLOW);
	cv_guard_free(g);
}

/* A raised budget: thousands of records in one session's set (one
 * binary search per read there, not a walk); re-reads of any of them
 * free, one more new one refused, and a cancelled read gives back only
 * what it added. */
static void
test_large_set(void **state)
{
	struct cv_guard_session s = { .id = "00112233445566aa", .proof_us = 0,
	    .ends_us = T0 + 1000 * DAY, .budget = 3000 };
	struct cv_guard_limits big = { { 100000, 100000, 100000 },
	    { 200000, 200000, 200000 } };
	struct rd q = { .user = "bench", .ses = &s };
	struct cv_guard_decision d;
	struct cv_guard_hold *x;
	struct cv_guard *g;
	char b[32];
	const char *ids[1];
	struct cv_guard_read r = { .user = "bench", .addr = "10.0.0.7",
	    .case_id = "C-1", .rids = ids, .nrids = 1, .limits = &big,
	    .session = &s };
	unsigned i;

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	for (i = 0; i < 2999; i++) {
		ids[0] = rid(b, (i * 7919u) % 5000u);	/* no order */
		r.now_us = T0 + i * MIN;
		assert_int_equal(cv_guard_reserve(g, &r, &d, &x), CV_OK);
		assert_int_equal(d.verdict, CV_GUARD_ALLOW);
		cv_guard_commit(g, x);
	}
	/* One left: a new record taken and given back keeps it so. */
	ids[0] = rid(b, 4998);	/* 4998 and 4996: not among those */
	assert_int_equal(cv_guard_reserve(g, &r, &d, &x), CV_OK);
	assert_int_equal(d.verdict, CV_GUARD_ALLOW);
	cv_guard_cancel(g, x);
	for (i = 0; i < 2999; i += 97)
		assert_int_equal(read1(g, &q, (i * 7919u) % 5000u,
		    T0 + 3000 * MIN, NULL), CV_GUARD_ALLOW);
	assert_int_equal(read1(g, &q, 4998, T0 + 3001 * MIN, NULL),
	    CV_GUARD_ALLOW);
	assert_int_equal(read1(g, &q, 4996, T0 + 3002 * MIN, &d),
	    CV_GUARD_STEP_UP);
	assert_string_equal(d.reason, CV_GUARD_SESSION_REASON);
	cv_guard_free(g);
}

/* One read of several records counts them all; past the budget the
 * whole read is refused. */
static void
test_many_in_one_read(void **state)
{
	struct cv_guard_session s = { .id = "aaaa", .ends_us = T0 + DAY,
	    .budget = 5 };
	char b[8][32];
	const char *ids[8];
	struct cv_guard_read r = { .user = "u", .rids = ids, .nrids = 4,
	    .now_us = T0, .limits = &wide, .session = &s };
	struct cv_guard_decision d;
	struct cv_guard *g;

	(void)state;
	for (unsigned i = 0; i < 8; i++)
		ids[i] = rid(b[i], i);
	ids[3] = ids[0];	/* a repeat counts once */
	assert_int_equal(cv_guard_new(&g), CV_OK);
	assert_int_equal(cv_guard_check(g, &r, &d), CV_OK);
	assert_int_equal(d.verdict, CV_GUARD_ALLOW);
	r.rids = ids + 4;	/* 4 new: 3 + 4 > 5 */
	assert_int_equal(cv_guard_check(g, &r, &d), CV_OK);
	assert_int_equal(d.verdict, CV_GUARD_STEP_UP);
	r.nrids = 2;		/* 3 + 2 = 5 */
	assert_int_equal(cv_guard_check(g, &r, &d), CV_OK);
	assert_int_equal(d.verdict, CV_GUARD_ALLOW);
	r.rids = ids;
	r.nrids = 3;		/* all counted already */
	assert_int_equal(cv_guard_check(g, &r, &d), CV_OK);
	assert_int_equal(d.verdict, CV_GUARD_ALLOW);
	cv_guard_free(g);
}

/* Reads in flight count together; a cancelled one gives back exactly
 * what it added, and a record two reads hold stays counted until both
 * are settled. */
static void
test_holds(void **state)
{
	struct cv_guard_session s = { .id = "bbbb", .ends_us = T0 + DAY,
	    .budget = 3 };
	struct rd q = { .user = "u", .ses = &s };
	struct cv_guard_hold *x[4];
	struct cv_guard_decision d;
	struct cv_guard *g;

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(reserve(g, &q, i, T0, &d, &x[i]),
		    CV_GUARD_ALLOW);
	assert_int_equal(reserve(g, &q, 3, T0, &d, &x[3]), CV_GUARD_STEP_UP);
	assert_null(x[3]);
	/* Record 0 again, in flight too: not new. */
	assert_int_equal(reserve(g, &q, 0, T0, &d, &x[3]), CV_GUARD_ALLOW);
	cv_guard_cancel(g, x[1]);	/* record 1 never left */
	cv_guard_cancel(g, x[0]);	/* record 0: the other read has it */
	assert_int_equal(reserve(g, &q, 5, T0, &d, &x[0]), CV_GUARD_ALLOW);
	assert_int_equal(reserve(g, &q, 6, T0, &d, &x[1]), CV_GUARD_STEP_UP);
	cv_guard_commit(g, x[3]);	/* record 0 left after all */
	cv_guard_commit(g, x[2]);
	cv_guard_commit(g, x[0]);
	/* 0, 2 and 5 left: the budget is spent, re-reads are free. */
	assert_int_equal(read1(g, &q, 1, T0, NULL), CV_GUARD_STEP_UP);
	assert_int_equal(read1(g, &q, 0, T0, NULL), CV_GUARD_ALLOW);
	/* A hold cancelled after a new proof leaves the new count alone. */
	s.proof_us = T0;
	assert_int_equal(reserve(g, &q, 10, T0, &d, &x[0]), CV_GUARD_ALLOW);
	s.proof_us = T0 + S;
	assert_int_equal(reserve(g, &q, 10, T0, &d, &x[1]), CV_GUARD_ALLOW);
	cv_guard_cancel(g, x[0]);
	assert_int_equal(reserve(g, &q, 11, T0, &d, &x[0]), CV_GUARD_ALLOW);
	assert_int_equal(reserve(g, &q, 12, T0, &d, &x[2]), CV_GUARD_ALLOW);
	assert_int_equal(reserve(g, &q, 13, T0, &d, &x[3]), CV_GUARD_STEP_UP);
	cv_guard_commit(g, x[0]);
	cv_guard_commit(g, x[1]);
	cv_guard_commit(g, x[2]);
	cv_guard_free(g);
}

/* Sessions are forgotten once ended, and not before; a load keeps none
 * (a restart ends them); malformed sessions are refused. */
static void
test_expire_load_invalid(void **state)
{
	struct cv_guard_session s = { .id = "cccc", .ends_us = T0 + HOUR,
	    .budget = 1 };
	struct rd q = { .user = "u", .ses = &s };
	struct cv_guard_decision d;
	struct cv_guard_hold *x;
	struct cv_buf b = { 0 };
	struct cv_guard_read bad = { .user = "u", .now_us = T0,
	    .limits = &wide, .session = &s };
	struct cv_guard *g;
	uint64_t idx;
	size_t m0, m1;

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	m0 = cv_guard_memory(g);
	assert_int_equal(read1(g, &q, 1, T0, NULL), CV_GUARD_ALLOW);
	assert_int_equal(read1(g, &q, 2, T0, NULL), CV_GUARD_STEP_UP);
	m1 = cv_guard_memory(g);
	assert_true(m1 > m0);
	cv_guard_sessions_expire(g, T0 + HOUR);	/* not ended yet */
	assert_int_equal(read1(g, &q, 2, T0, NULL), CV_GUARD_STEP_UP);
	cv_guard_sessions_expire(g, T0 + HOUR + 1);
	assert_true(cv_guard_memory(g) < m1);
	/* Only a session that can make no read is forgotten. */
	s.ends_us = T0 + 2 * HOUR;
	assert_int_equal(read1(g, &q, 2, T0, NULL), CV_GUARD_ALLOW);
	assert_int_equal(read1(g, &q, 3, T0, NULL), CV_GUARD_STEP_UP);
	/* A hold outstanding across a load changes nothing when settled. */
	s.id = "dddd";
	assert_int_equal(reserve(g, &q, 4, T0, &d, &x), CV_GUARD_ALLOW);
	assert_int_equal(cv_guard_save(g, 7, &b), CV_OK);
	assert_int_equal(cv_guard_load(g, b.p, b.len, &idx), CV_OK);
	cv_guard_cancel(g, x);
	s.id = "cccc";
	assert_int_equal(read1(g, &q, 3, T0, NULL), CV_GUARD_ALLOW);
	/* Refused, nothing counted. */
	s.budget = 0;
	assert_int_equal(cv_guard_check(g, &bad, &d), CV_ERR_INVALID);
	assert_int_equal(d.verdict, CV_GUARD_DENY);
	s.budget = 1;
	s.id = "";
	assert_int_equal(cv_guard_check(g, &bad, &d), CV_ERR_INVALID);
	s.id = NULL;
	assert_int_equal(cv_guard_check(g, &bad, &d), CV_ERR_INVALID);
	bad.session = NULL;
	bad.peer = "";
	assert_int_equal(cv_guard_check(g, &bad, &d), CV_ERR_INVALID);
	cv_buf_free(&b);
	cv_guard_free(g);
}

/*
 * N reads of new records by Q at one a minute from T, going on while
 * they are allowed; the decision of the last in *D. Returns how many
 * were allowed.
 */
static unsigned
minutes(struct cv_guard *g, const struct rd *q, unsigned from, unsigned n,
    int64_t t, struct cv_guard_decision *d, bool *alerted, const char *kind,
    const char *in_detail)
{
	unsigned ok = 0;

	for (unsigned i = 0; i < n; i++) {
		enum cv_guard_verdict v = read1(g, q, from + i, t + i * MIN, d);
		*alerted |= has_alert(d, kind, in_detail);
		if (v != CV_GUARD_ALLOW)
			break;
		ok++;
	}
	return ok;
}

/* Without a baseline of one's own: silent before (no defaults given),
 * the role's default, then the peers' hours; the peers' baseline is
 * kept by a snapshot. */
static void
test_defaults(void **state)
{
	struct rd q = { .user = "new", .peer = "investigator", .usual = 10 };
	struct rd old = { .user = "old", .peer = "investigator", .usual = 10 };
	struct cv_guard_decision d;
	struct cv_buf b = { 0 };
	struct cv_guard *g;
	bool alerted = false;
	unsigned n, at = 1000;
	uint64_t idx;

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	/* No defaults: sixty an hour from a new user raise nothing. */
	q.user = "silent";
	q.peer = NULL;
	q.usual = 0;
	n = minutes(g, &q, 0, 60, T0 + 10 * HOUR, &d, &alerted, "volume",
	    NULL);
	assert_int_equal(n, 60);
	assert_false(alerted);
	/* The role's default: past four times it, points; a lock soon. */
	q.user = "new";
	q.peer = "investigator";
	q.usual = 10;
	n = minutes(g, &q, 100, 90, T0 + 10 * HOUR, &d, &alerted, "volume",
	    "week 10 (role default");
	assert_true(alerted);
	assert_true(n > 40 && n < 90);
	assert_int_equal(d.verdict, CV_GUARD_DENY);
	assert_string_equal(d.reason, "behaviour score");
	/* Three weeks of office hours by a colleague: weekdays 09:00-17:00,
	 * three records an hour. */
	for (int w = 1; w <= 3; w++) {
		for (int day = 0; day < 5; day++) {
			for (int k = 0; k < 24; k++, at++) {
				int64_t t = T0 + w * WEEK + day * DAY +
				    9 * HOUR + k * 20 * MIN;
				assert_int_equal(read1(g, &old, at % 300 + 1000,
				    t, NULL), CV_GUARD_ALLOW);
			}
		}
	}
	/* A newcomer at the peers' hours and pace: nothing. */
	alerted = false;
	q.user = "newcomer";
	n = minutes(g, &q, 2000, 15, T0 + 4 * WEEK + 2 * DAY + 10 * HOUR, &d,
	    &alerted, "volume", NULL);
	assert_int_equal(n, 15);
	assert_false(alerted);
	/* At 02:00, when no peer ever reads: off_hours, then a lock, where
	 * the role's default alone would not have scored a point. */
	alerted = false;
	n = minutes(g, &q, 3000, 45, T0 + 4 * WEEK + 3 * DAY + 2 * HOUR, &d,
	    &alerted, "off_hours", "(peers'");
	assert_true(alerted);
	assert_true(n < 40);
	/* Saved and loaded, the peers' baseline holds. */
	assert_int_equal(cv_guard_save(g, 1, &b), CV_OK);
	assert_int_equal(cv_guard_load(g, b.p, b.len, &idx), CV_OK);
	alerted = false;
	q.user = "third";
	n = minutes(g, &q, 4000, 45, T0 + 4 * WEEK + 4 * DAY + 2 * HOUR, &d,
	    &alerted, "off_hours", "(peers'");
	assert_true(alerted);
	assert_true(n < 40);
	cv_buf_free(&b);
	cv_guard_free(g);
}

/* A session proved before this guard started (a restart; the session
 * outlived it in the store): its count is unknown here, so its budget is
 * spent until a later proof, then it counts as usual. */
static void
test_uncounted(void **state)
{
	struct cv_guard_session s = { .id = "0123456789abcdef",
	    .proof_us = T0 - HOUR, .ends_us = T0 + DAY, .budget = 3,
	    .uncounted = true };
	struct rd q = { .user = "thief", .ses = &s };
	struct cv_guard_decision d;
	struct cv_guard *g;

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	assert_int_equal(read1(g, &q, 1, T0, &d), CV_GUARD_STEP_UP);
	assert_string_equal(d.reason, CV_GUARD_SESSION_REASON);
	assert_int_equal(read1(g, &q, 2, T0 + MIN, NULL), CV_GUARD_STEP_UP);
	/* A step-up seen here: three, as for any session. */
	s.proof_us = T0 + MIN;
	s.uncounted = false;
	for (unsigned i = 1; i <= 3; i++)
		assert_int_equal(read1(g, &q, i, T0 + 2 * MIN, NULL),
		    CV_GUARD_ALLOW);
	assert_int_equal(read1(g, &q, 4, T0 + 3 * MIN, NULL),
	    CV_GUARD_STEP_UP);
	cv_guard_free(g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_budget_any_pace),
		cmocka_unit_test(test_uncounted),
		cmocka_unit_test(test_large_set),
		cmocka_unit_test(test_many_in_one_read),
		cmocka_unit_test(test_holds),
		cmocka_unit_test(test_expire_load_invalid),
		cmocka_unit_test(test_defaults),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
