/*
 * Holds (cv_guard_reserve, commit, cancel), with an injected clock: only
 * records that left count; reads in flight count against the limits
 * together; a cancel gives back exactly what its hold took, whatever
 * other holds and reads of the same records did meanwhile (the user's
 * windows and the vault's); the volume detectors' points wait for the
 * commit; snapshots after a cancel load; a load makes old holds inert.
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


static const struct cv_guard_limits lim = { { 5, 100, 100 },
    { 8, 200, 200 } };
static const struct cv_guard_limits ceil3 = { { 3, 1000, 1000 },
    { 3, 1000, 1000 } };

/* USER reserves record I at T (CL: a ceiling); the verdict; *X the hold. */
static enum cv_guard_verdict
res(struct cv_guard *g, const char *user, unsigned i, int64_t t,
    const struct cv_guard_limits *cl, struct cv_guard_hold **x)
{
	char b[32];
	const char *ids[1] = { rid(b, i) };
	struct cv_guard_read r = { .user = user, .addr = "10.0.0.7",
	    .case_id = "C-1", .rids = ids, .nrids = 1, .now_us = t,
	    .limits = &lim, .ceiling = cl, .stepped_up = true };
	struct cv_guard_decision d;

	assert_int_equal(cv_guard_reserve(g, &r, &d, x), CV_OK);
	assert_true((*x != NULL) == (d.verdict == CV_GUARD_ALLOW ||
	    d.verdict == CV_GUARD_ALLOW_THEN_LOCK));
	return d.verdict;
}

/* res() that must allow: the hold. */
static struct cv_guard_hold *
held(struct cv_guard *g, const char *user, unsigned i, int64_t t,
    const struct cv_guard_limits *cl)
{
	struct cv_guard_hold *x;

	assert_int_equal(res(g, user, i, t, cl, &x), CV_GUARD_ALLOW);
	return x;
}

static uint32_t
minute(struct cv_guard *g, const char *user, int64_t t)
{
	struct cv_guard_user_info in;

	cv_guard_user_info(g, user, t, &in);
	return in.counts[0];
}

/* Forty reads past a hard limit of 8, every one cancelled (the log is
 * down): nothing spent, nobody locked, nothing learnt. */
static void
test_cancelled_reads_cost_nothing(void **state)
{
	struct cv_guard *g;
	struct cv_guard_hold *x;
	struct cv_guard_user_info in;

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	for (unsigned i = 0; i < 40; i++) {
		x = held(g, "u", i, T0 + i * S, NULL);
		cv_guard_cancel(g, x);
	}
	cv_guard_user_info(g, "u", T0 + 40 * S, &in);
	assert_false(in.locked);
	assert_int_equal(in.counts[0] + in.counts[1] + in.counts[2], 0);
	assert_int_equal(in.reads, 0);
	/* Committed ones count as check counts them. */
	for (unsigned i = 0; i < 5; i++) {
		x = held(g, "u", i, T0 + 41 * S, NULL);
		cv_guard_commit(g, x);
	}
	cv_guard_user_info(g, "u", T0 + 41 * S, &in);
	assert_int_equal(in.counts[0], 5);
	assert_int_equal(in.reads, 5);
	cv_guard_commit(g, NULL);
	cv_guard_cancel(g, NULL);
	cv_guard_free(g);
}

/* Reads in flight together are held to the limit, before any leaves. */
static void
test_in_flight_count(void **state)
{
	struct cv_guard *g;
	struct cv_guard_hold *x[9];

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	for (unsigned i = 0; i < 8; i++)
		x[i] = held(g, "u", i, T0, NULL);
	assert_int_equal(res(g, "u", 8, T0, NULL, &x[8]), CV_GUARD_DENY);
	assert_null(x[8]);
	assert_true(cv_guard_locked(g, "u"));
	for (unsigned i = 0; i < 8; i++)
		cv_guard_cancel(g, x[i]);
	assert_int_equal(minute(g, "u", T0), 0);
	cv_guard_free(g);
}

/* One record, several holds and reads: a cancel restores the time the
 * others gave it, never an older one. */
static void
test_same_record(void **state)
{
	struct cv_guard *g;
	struct cv_guard_hold *a, *b, *c;

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	/* Read (and left) at T0; held again at T0 + 30 s, cancelled: it
	 * leaves the minute at T0 + 60 s as the first read says. */
	a = held(g, "u", 1, T0, NULL);
	cv_guard_commit(g, a);
	a = held(g, "u", 1, T0 + 30 * S, NULL);
	cv_guard_cancel(g, a);
	assert_int_equal(minute(g, "u", T0 + 59 * S), 1);
	assert_int_equal(minute(g, "u", T0 + 60 * S), 0);
	/* Two holds of record 2; the later one commits, the earlier one is
	 * cancelled after: the commit's time stays. */
	a = held(g, "u", 2, T0 + 100 * S, NULL);
	b = held(g, "u", 2, T0 + 110 * S, NULL);
	cv_guard_commit(g, b);
	cv_guard_cancel(g, a);
	assert_int_equal(minute(g, "u", T0 + 169 * S), 1);
	assert_int_equal(minute(g, "u", T0 + 170 * S), 0);
	/* Three holds of record 3: the newest cancelled first keeps the
	 * middle one's time while it is outstanding; all cancelled: gone. */
	a = held(g, "u", 3, T0 + 200 * S, NULL);
	b = held(g, "u", 3, T0 + 210 * S, NULL);
	c = held(g, "u", 3, T0 + 220 * S, NULL);
	cv_guard_cancel(g, c);
	assert_int_equal(minute(g, "u", T0 + 269 * S), 1);
	assert_int_equal(minute(g, "u", T0 + 270 * S), 0);
	cv_guard_cancel(g, a);
	cv_guard_cancel(g, b);
	assert_int_equal(minute(g, "u", T0 + 221 * S), 0);
	/* Another user's holds of the same record are theirs alone. */
	a = held(g, "u", 4, T0 + 300 * S, NULL);
	b = held(g, "w", 4, T0 + 300 * S, NULL);
	cv_guard_commit(g, b);
	cv_guard_cancel(g, a);
	assert_int_equal(minute(g, "u", T0 + 301 * S), 0);
	assert_int_equal(minute(g, "w", T0 + 301 * S), 1);
	cv_guard_free(g);
}

/*
 * Hundreds in flight at once, as a busy server has them (the holds are
 * indexed by record, and the index grows past its first table several
 * times): 600 holds of 150 records, four of each, then every third
 * committed and the others cancelled, interleaved. What stays counted is
 * exactly the records of the committed ones.
 */
static void
test_many_in_flight(void **state)
{
	static const struct cv_guard_limits wide = { { 1000, 1000, 1000 },
	    { 2000, 2000, 2000 } };
	struct cv_guard *g;
	struct cv_guard_hold *x[600];
	struct cv_guard_decision d;
	char b[32];

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	for (unsigned j = 0; j < 600; j++) {
		const char *ids[1] = { rid(b, j % 150) };
		struct cv_guard_read r = { .user = "u", .addr = "10.0.0.7",
		    .case_id = "C-1", .rids = ids, .nrids = 1,
		    .now_us = T0 + j * 1000, .limits = &wide,
		    .stepped_up = true };

		assert_int_equal(cv_guard_reserve(g, &r, &d, &x[j]), CV_OK);
		assert_non_null(x[j]);
	}
	assert_int_equal(minute(g, "u", T0 + S), 150);
	/* 7 and 600 are coprime: every hold once, in a scattered order. */
	for (unsigned i = 0; i < 600; i++) {
		unsigned j = i * 7 % 600;

		if (j % 3 == 0)
			cv_guard_commit(g, x[j]);
		else
			cv_guard_cancel(g, x[j]);
	}
	/* Record r had a committed hold iff r % 3 == 0 (150 = 3 * 50). */
	assert_int_equal(minute(g, "u", T0 + S), 50);
	cv_guard_free(g);
}

/* The vault's windows: a cancelled read takes nothing from the ceiling;
 * one committed by another user keeps its place there. */
static void
test_ceiling(void **state)
{
	struct cv_guard *g;
	struct cv_guard_hold *a, *b;
	uint32_t c[CV_GUARD__WINDOWS];

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	for (unsigned i = 0; i < 10; i++) {
		a = held(g, "u", i, T0 + i * S, &ceil3);
		cv_guard_cancel(g, a);
	}
	cv_guard_ceiling_counts(g, T0 + 10 * S, c);
	assert_int_equal(c[0], 0);
	a = held(g, "u", 20, T0 + 20 * S, &ceil3);
	b = held(g, "w", 20, T0 + 21 * S, &ceil3);
	cv_guard_commit(g, b);
	cv_guard_cancel(g, a);
	cv_guard_ceiling_counts(g, T0 + 22 * S, c);
	assert_int_equal(c[0], 1);
	cv_guard_ceiling_counts(g, T0 + 81 * S, c);
	assert_int_equal(c[0], 0);
	cv_guard_free(g);
}

/* A learnt user reading at night: the volume points of records that
 * never left are not kept; of records that left, they are. */
static void
test_late_points(void **state)
{
	struct cv_guard *g;
	struct cv_guard_hold *x[20];
	struct cv_guard_user_info in;
	struct cv_guard_decision d;
	const int64_t night = T0 + 2 * DAY + 3 * HOUR;	/* Wednesday */
	char b[32];

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	/* Monday 09:00-10:00: 60 records, learnt. */
	for (unsigned i = 0; i < 60; i++) {
		const char *ids[1] = { rid(b, 1000 + i) };
		struct cv_guard_read r = { .user = "u", .addr = "10.0.0.7",
		    .case_id = "C-1", .rids = ids, .nrids = 1,
		    .now_us = T0 + 9 * HOUR + i * MIN,
		    .limits = &cv_guard_limits_default, .stepped_up = true };
		assert_int_equal(cv_guard_check(g, &r, &d), CV_OK);
		assert_int_equal(d.verdict, CV_GUARD_ALLOW);
	}
	for (int round = 0; round < 2; round++) {
		int64_t t = night + round * 4 * HOUR;
		for (unsigned i = 0; i < 20; i++) {
			const char *ids[1] = { rid(b, 2000 + 100 * round + i) };
			struct cv_guard_read r = { .user = "u",
			    .addr = "10.0.0.7", .case_id = "C-1", .rids = ids,
			    .nrids = 1, .now_us = t + i * S,
			    .limits = &cv_guard_limits_default,
			    .stepped_up = true };
			assert_int_equal(cv_guard_reserve(g, &r, &d, &x[i]),
			    CV_OK);
			assert_int_equal(d.verdict, CV_GUARD_ALLOW);
		}
		/* Twenty records in the hour at an hour with no baseline:
		 * the ten past VOL_MIN are 5 points each, once they left;
		 * the decisions saw them already (a warning at 50). */
		assert_int_equal(d.nalerts, 1);
		assert_string_equal(d.alerts[0].kind, "off_hours");
		cv_guard_user_info(g, "u", t + 20 * S, &in);
		assert_true(in.score < 1);
		for (unsigned i = 0; i < 20; i++) {
			if (round == 0)
				cv_guard_cancel(g, x[i]);
			else
				cv_guard_commit(g, x[i]);
		}
		cv_guard_user_info(g, "u", t + 20 * S, &in);
		if (round == 0)
			assert_true(in.score < 1);
		else
			assert_true(in.score > 45 && in.score <= 50);
	}
	cv_guard_free(g);
}

/* A snapshot after cancels (slots at time 0) loads; a hold taken before
 * a load is inert after it. */
static void
test_snapshot_and_load(void **state)
{
	struct cv_guard *g, *h;
	struct cv_guard_hold *a, *b;
	struct cv_buf buf = { 0 };
	uint64_t idx;

	(void)state;
	assert_int_equal(cv_guard_new(&g), CV_OK);
	assert_int_equal(cv_guard_new(&h), CV_OK);
	a = held(g, "u", 1, T0, NULL);
	cv_guard_cancel(g, a);
	a = held(g, "u", 2, T0, NULL);
	cv_guard_commit(g, a);
	assert_int_equal(cv_guard_save(g, 7, &buf), CV_OK);
	assert_int_equal(cv_guard_load(h, buf.p, buf.len, &idx), CV_OK);
	assert_int_equal(idx, 7);
	assert_int_equal(minute(h, "u", T0 + S), 1);
	/* Held in H, then H is loaded over: settling the hold is inert. */
	a = held(h, "u", 3, T0 + S, NULL);
	b = held(h, "u", 4, T0 + S, NULL);
	assert_int_equal(minute(h, "u", T0 + S), 3);
	assert_int_equal(cv_guard_load(h, buf.p, buf.len, &idx), CV_OK);
	cv_guard_cancel(h, a);
	cv_guard_commit(h, b);
	assert_int_equal(minute(h, "u", T0 + S), 1);
	cv_buf_free(&buf);
	cv_guard_free(g);
	/* One left outstanding is freed with the guard. */
	a = held(h, "u", 5, T0 + S, NULL);
	cv_guard_free(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cancelled_reads_cost_nothing),
		cmocka_unit_test(test_in_flight_count),
		cmocka_unit_test(test_same_record),
		cmocka_unit_test(test_many_in_flight),
		cmocka_unit_test(test_ceiling),
		cmocka_unit_test(test_late_points),
		cmocka_unit_test(test_snapshot_and_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
