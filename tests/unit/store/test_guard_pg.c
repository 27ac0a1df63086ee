/*
 * The guard's counts shared by the nodes of a PostgreSQL vault
 * (src/store/guard.c), on a throwaway PostgreSQL: two connections stand
 * for two nodes. Windows, re-reads, the soft limit and its step-up, the
 * session budget and a new proof, the ceiling across users, a lock one
 * node writes and the other obeys, and two nodes racing for one user's
 * budget: exactly the budget between them. The vault's count as a sum
 * of the users' is test_guard_vault_pg.c's.
 */
#include <pthread.h>

#include "guardpg.h"

static void
test_windows(void **state)
{
	unsigned w;

	(void)state;
	/* Three a minute on either node, the same count. */
	assert_int_equal(take(n1, "amy", NULL, 0, 1, T0, NULL), CV_TAKE_ALLOW);
	assert_int_equal(take(n2, "amy", NULL, 0, 2, T0 + SEC, NULL),
	    CV_TAKE_ALLOW);
	assert_int_equal(take(n1, "amy", NULL, 0, 3, T0 + 2 * SEC, NULL),
	    CV_TAKE_ALLOW);
	assert_int_equal(take(n2, "amy", NULL, 0, 4, T0 + 3 * SEC, &w),
	    CV_TAKE_STEP_UP);
	assert_int_equal(w, 1);
	/* A record read already is free. */
	assert_int_equal(take(n2, "amy", NULL, 0, 1, T0 + 4 * SEC, NULL),
	    CV_TAKE_ALLOW);
	/* Another user has a count of their own. */
	assert_int_equal(take(n2, "bo", NULL, 0, 4, T0 + 4 * SEC, NULL),
	    CV_TAKE_ALLOW);
	/* A minute on: the window is empty again. */
	assert_int_equal(take(n1, "amy", NULL, 0, 4, T0 + 2 * MIN, NULL),
	    CV_TAKE_ALLOW);
}

static void
test_stepped_up_and_hard(void **state)
{
	struct cv_store_take tk = { .user = "cy", .budget = 100, .n = 1,
	    .soft = { 1, 100, 1000 }, .hard = { 2, 200, 2000 },
	    .vhard = { 1000, 1000, 10000 }, .stepped_up = 1 };
	enum cv_store_verdict v;
	unsigned w, g;
	char b[32];
	const char *ids[1];

	(void)state;
	tk.rids = ids;
	for (unsigned i = 0; i < 3; i++) {
		ids[0] = rid(b, 100 + i);
		tk.now_us = T0 + 10 * MIN + i * SEC;
		assert_int_equal(cv_store_guard_take(i % 2 ? n2 : n1, &tk, &v,
		    &w, &g), CV_OK);
		/* Past the soft limit when stepped up; not past the hard. */
		assert_int_equal(v, i < 2 ? CV_TAKE_ALLOW : CV_TAKE_DENY);
	}
	assert_int_equal(w, 1);
}

static void
test_session(void **state)
{
	int64_t t = T0 + 20 * MIN;

	(void)state;
	tick(t);
	/* Five a session a proof, whichever node; minutes apart. */
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(take(i % 2 ? n2 : n1, "di", "s1", t, 200 + i,
		    t + i * MIN, NULL), CV_TAKE_ALLOW);
	assert_int_equal(take(n2, "di", "s1", t, 205, t + 6 * MIN, NULL),
	    CV_TAKE_SESSION);
	assert_int_equal(take(n1, "di", "s1", t, 202, t + 7 * MIN, NULL),
	    CV_TAKE_ALLOW);
	/* A later proof: five more. */
	assert_int_equal(take(n1, "di", "s1", t + 8 * MIN, 205, t + 8 * MIN,
	    NULL), CV_TAKE_ALLOW);
}

static void
test_ceiling(void **state)
{
	int64_t t = T0 + 40 * MIN;
	unsigned w;

	(void)state;
	/* The others' minutes have left (the tick brings them forward). */
	tick(t);
	/* Six a minute over the whole vault, two per user here. */
	for (unsigned i = 0; i < 6; i++) {
		char u[8];

		snprintf(u, sizeof u, "u%u", i / 2);
		assert_int_equal(take(i % 2 ? n2 : n1, u, NULL, 0, 300 + i, t,
		    NULL), CV_TAKE_ALLOW);
	}
	assert_int_equal(take(n2, "u9", NULL, 0, 306, t + SEC, &w),
	    CV_TAKE_CEILING);
	assert_int_equal(w, 1);
}

static int64_t ed_since;

static void
count_ed(void *ctx, const char *user, const char *reason, int64_t since)
{
	(void)reason;
	if (strcmp(user, "ed") == 0) {
		++*(int *)ctx;
		ed_since = since;
	}
}

static void
test_lock(void **state)
{
	int64_t t = T0 + 60 * MIN, since;
	int seen = 0;

	(void)state;
	tick(t);
	assert_int_equal(cv_store_guard_lock(n1, "ed", "canary", &since),
	    CV_OK);
	assert_true(since > 0);
	assert_int_equal(take(n2, "ed", NULL, 0, 400, t, NULL), CV_TAKE_LOCKED);
	assert_int_equal(cv_store_guard_locks(n2, count_ed, &seen), CV_OK);
	assert_int_equal(seen, 1);
	assert_true(ed_since == since);
	assert_int_equal(cv_store_guard_unlock(n2, "ed"), CV_OK);
	assert_int_equal(take(n1, "ed", NULL, 0, 400, t, NULL), CV_TAKE_ALLOW);
}

/* The two-person unlock across nodes: approvals are rows, one per
 * officer, bound to the lock (its row's time) they were given for. */
static unsigned nlifted;
static int64_t lifted_since;

static void
count_unlocks(void *ctx, const char *user, int64_t since)
{
	(void)ctx;
	if (strcmp(user, "ul") == 0) {
		nlifted++;
		lifted_since = since;
	}
}

static void
test_unlock(void **state)
{
	static const int64_t day = 86400LL * SEC;
	int64_t t = T0 + 20 * 1440 * MIN, after = 0, s1, s2, s3, s4, up;

	(void)state;
	tick(t);
	assert_int_equal(cv_store_guard_unlock_approve(n1, "ul", "o1", day,
	    &up), CV_ERR_NOT_FOUND);
	assert_int_equal(cv_store_guard_lock(n1, "ul", "canary", &s1), CV_OK);
	assert_int_equal(cv_store_guard_lock(n1, "ol", "canary", NULL), CV_OK);
	/* The user, and a locked officer, may not approve. */
	assert_int_equal(cv_store_guard_unlock_approve(n2, "ul", "ul", day,
	    &up), CV_ERR_AUTH);
	assert_int_equal(cv_store_guard_unlock_approve(n2, "ul", "ol", day,
	    &up), CV_ERR_AUTH);
	/* One officer on node 1, again on node 2: still one. */
	assert_int_equal(cv_store_guard_unlock_approve(n1, "ul", "o1", day,
	    &up), CV_OK);
	assert_int_equal(up, 0);
	assert_int_equal(cv_store_guard_unlock_approve(n2, "ul", "o1", day,
	    &up), CV_ERR_EXISTS);
	/* An approval past its time counts no more: o2's is the first. */
	assert_int_equal(cv_store_guard_unlock_approve(n2, "ul", "o2", 0,
	    &up), CV_OK);
	assert_int_equal(up, 0);
	/* Nor one given for an earlier lock of the user: the row deleted
	 * and the user locked again, o1's approval is a first one. */
	assert_int_equal(cv_store_guard_unlock(n1, "ul"), CV_OK);
	assert_int_equal(cv_store_guard_lock(n1, "ul", "canary", &s2), CV_OK);
	assert_true(s2 > s1);
	assert_int_equal(cv_store_guard_unlock_approve(n1, "ul", "o1", day,
	    &up), CV_OK);
	assert_int_equal(up, 0);
	/* Locked again while it is pending: the row's time moves on, under
	 * its lock, and the approval counts no more (as in a guard's
	 * memory); the first reason stays. */
	assert_int_equal(cv_store_guard_lock(n2, "ul", "again", &s3), CV_OK);
	assert_true(s3 > s2);
	assert_int_equal(cv_store_guard_unlock_approve(n2, "ul", "o2", day,
	    &up), CV_OK);
	assert_int_equal(up, 0);
	assert_int_equal(cv_store_guard_unlocked(n1, &after, count_unlocks,
	    NULL), CV_OK);
	assert_int_equal(nlifted, 0);
	/* The second officer, on the other node: the row goes, and every
	 * node can see which lock was lifted (its row's last time). */
	assert_int_equal(cv_store_guard_unlock_approve(n2, "ul", "o3", day,
	    &up), CV_OK);
	assert_true(up == s3);
	assert_int_equal(take(n1, "ul", NULL, 0, 401, t, NULL),
	    CV_TAKE_ALLOW);
	assert_int_equal(cv_store_guard_unlocked(n1, &after, count_unlocks,
	    NULL), CV_OK);
	assert_int_equal(nlifted, 1);
	assert_true(lifted_since == s3);
	assert_true(after > 0);
	/* A lock made after the row is gone names a later row: no node
	 * takes the unlock noted for the lifted one as its own. */
	assert_int_equal(cv_store_guard_lock(n1, "ul", "canary", &s4), CV_OK);
	assert_true(s4 > s3);
	assert_int_equal(cv_store_guard_unlock(n1, "ul"), CV_OK);
	assert_int_equal(cv_store_guard_unlock(n1, "ol"), CV_OK);
}

/*
 * A session's touch inside a read snapshot (a GET's) that another node
 * changed the row under: the touch loses (best effort), and the snapshot
 * goes on; without its savepoint PostgreSQL aborted the whole
 * transaction, and the request's next query failed.
 */
static void
test_touch_in_snapshot(void **state)
{
	struct cv_store_user u = { .name = "gus", .role = "investigator",
	    .created_us = T0, .totp_len = 1 };
	struct cv_store_session ss = { .id = "0011223344556677",
	    .user = "gus", .role = "investigator", .cert = "ab",
	    .created_us = T0, .used_us = T0, .expires_us = T0 + 3600 * SEC };
	struct cv_store_user back;

	(void)state;
	memset(ss.hash, 7, sizeof ss.hash);
	assert_int_equal(cv_store_user_add(n1, &u), CV_OK);
	assert_int_equal(cv_store_session_put(n1, &ss, T0), CV_OK);
	assert_int_equal(cv_store_read_begin(n1), CV_OK);
	assert_int_equal(cv_store_user_get(n1, "gus", &back), CV_OK);
	/* Another node touches it and commits. */
	assert_int_equal(cv_store_session_touch(n2, ss.hash, T0 + MIN, 0),
	    CV_OK);
	assert_int_not_equal(cv_store_session_touch(n1, ss.hash, T0 + 2 * MIN,
	    0), CV_OK);
	/* The snapshot is still good for the rest of the request. */
	assert_int_equal(cv_store_user_get(n1, "gus", &back), CV_OK);
	cv_store_read_end(n1);
	/* Outside it, the touch lands. */
	assert_int_equal(cv_store_session_touch(n1, ss.hash, T0 + 2 * MIN, 0),
	    CV_OK);
}

/* Two nodes race 40 distinct records each for one user whose day allows
 * 30: exactly 30 between them. */
struct racer {
	struct cv_store *s;
	unsigned first, allowed;
	cv_err e;
};

static void *
race(void *arg)
{
	struct racer *x = arg;
	char b[32];
	const char *ids[1] = { b };
	struct cv_store_take tk = { .user = "fay", .budget = 1000, .rids = ids,
	    .n = 1, .soft = { 1000, 1000, 30 }, .hard = { 1000, 1000, 30 },
	    .vhard = { 100000, 100000, 100000 } };
	enum cv_store_verdict v;
	unsigned w, g;

	for (unsigned i = 0; i < 40 && x->e == CV_OK; i++) {
		rid(b, x->first + i);
		tk.now_us = T0 + 90 * MIN + i;
		if ((x->e = cv_store_guard_take(x->s, &tk, &v, &w, &g)) == CV_OK &&
		    v == CV_TAKE_ALLOW)
			x->allowed++;
	}
	return NULL;
}

/* FN(A) and FN(B) at once, both to their end. */
static void
two_at_once(void *(*fn)(void *), void *a, void *b)
{
	pthread_t ta, tb;

	assert_int_equal(pthread_create(&ta, NULL, fn, a), 0);
	assert_int_equal(pthread_create(&tb, NULL, fn, b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
}

static void
test_race(void **state)
{
	struct racer a = { n1, 1000, 0, CV_OK }, b = { n2, 2000, 0, CV_OK };

	(void)state;
	two_at_once(race, &a, &b);
	assert_int_equal(a.e, CV_OK);
	assert_int_equal(b.e, CV_OK);
	assert_int_equal(a.allowed + b.allowed, 30);
}

/*
 * Grants: a node asks with its id and may let out the grant's records
 * without asking again; every other node's decisions count them as read
 * until the node gives them back with what it let out.
 */
/* How many new records from FIRST on NODE-less S allows before one is
 * refused. */
static unsigned
until_refused(struct cv_store *s, const char *user, unsigned first,
    const uint32_t lim[3], int64_t t)
{
	unsigned n = 0;

	enum cv_store_verdict v;

	while (n < 1000 && (v = gtake(s, user, NULL, first + n, NULL, 0, 0,
	    lim, t, NULL)) == CV_TAKE_ALLOW)
		n++;
	assert_int_equal(v, g_vday < 1000000 ? CV_TAKE_CEILING : g_soft ?
	    CV_TAKE_STEP_UP : CV_TAKE_DENY);
	return n;
}

static void
test_grants(void **state)
{
	static const uint32_t day200[3] = { 1000, 1000, 200 },
	    min100[3] = { 100, 1000, 1000 };
	int64_t t = T0 + 5 * 1440 * MIN;
	char b[10][32];
	const char *let[10];
	unsigned g;

	(void)state;
	tick(t);
	/* Node A's grant: 32 of the day's 200, the read itself one more. */
	assert_int_equal(gtake(n1, "gr", "A", 7000, NULL, 0, 32, day200, t,
	    &g), CV_TAKE_ALLOW);
	assert_int_equal(g, 32);
	/* Node B, asking at every read, gets what is left: 167. */
	assert_int_equal(until_refused(n2, "gr", 7001, day200, t + SEC), 167);
	/* A gives it back having let out 10: those count, the rest is free
	 * again (22). */
	for (unsigned i = 0; i < 10; i++)
		let[i] = rid(b[i], 7500 + i);
	assert_int_equal(gtake(n1, "gr", "A", 0, let, 10, 0, day200,
	    t + 2 * SEC, &g), CV_TAKE_ALLOW);
	assert_int_equal(g, 0);
	assert_int_equal(until_refused(n2, "gr", 7600, day200, t + 3 * SEC),
	    22);
	/* The same of a soft limit. A grant nobody gives back (its node
	 * died) holds each window until
	 * it has left it: the minute's 100 are 83 for the others, and 100
	 * again two minutes on. */
	g_soft = 1;
	assert_int_equal(gtake(n1, "gs", "C", 8000, NULL, 0, 16, min100, t,
	    &g), CV_TAKE_ALLOW);
	assert_int_equal(g, 16);
	assert_int_equal(until_refused(n2, "gs", 8001, min100, t + SEC), 83);
	assert_int_equal(until_refused(n2, "gs", 8200, min100, t + 2 * MIN),
	    100);
	/* Near a limit, no grant: the last 32 are decided one by one. */
	assert_int_equal(gtake(n1, "gs", "C", 8400, NULL, 0, 16, min100,
	    t + 4 * MIN, &g), CV_TAKE_ALLOW);
	assert_int_equal(g, 16);
	assert_int_equal(until_refused(n2, "gs", 8500, min100, t + 4 * MIN +
	    SEC), 83);
	/* C's grant back (unused): 85 of 100 with this read, allowed, and
	 * no grant (15 left, under the reserve). */
	assert_int_equal(gtake(n1, "gs", "C", 8700, NULL, 0, 16, min100,
	    t + 4 * MIN + 2 * SEC, &g), CV_TAKE_ALLOW);
	assert_int_equal(g, 0);
	assert_int_equal(until_refused(n2, "gs", 8800, min100, t + 4 * MIN +
	    3 * SEC), 15);
	g_soft = 0;
}

/* The vault's ceiling counts every node's grants until they are given
 * back, or forgotten a day after their lease. */
static void
test_grants_expire(void **state)
{
	static const uint32_t big[3] = { 100000, 100000, 100000 };
	int64_t t = T0 + 8 * 1440 * MIN;
	unsigned g;

	(void)state;
	tick(t);
	g_vday = 60;
	/* Node D: 13 of the vault's 60 ((60 - 1 - 32) / 2), then dies. */
	assert_int_equal(gtake(n1, "gx", "D", 9000, NULL, 0, 16, big, t, &g),
	    CV_TAKE_ALLOW);
	assert_int_equal(g, 13);
	assert_int_equal(until_refused(n2, "gy", 9100, big, t + SEC), 46);
	/* Two days on, gy's reads have aged out; the grant is held still,
	 * and gx's read too, as no tick has come since. */
	assert_int_equal(until_refused(n2, "gy", 9300, big, t + 2880 * MIN),
	    46);
	assert_int_equal(cv_store_guard_expire(n2, t + 2881 * MIN), CV_OK);
	assert_int_equal(until_refused(n2, "gy", 9500, big, t + 5000 * MIN),
	    60);
	g_vday = 1000000;
}

/* Two nodes with grants race for one user's day of 100: never more than
 * 100 between them, whatever they hold. */
struct gracer {
	struct cv_store *s;
	const char *node;
	unsigned first, allowed;
};

static void *
grace(void *arg)
{
	static const uint32_t day100[3] = { 1000, 1000, 100 };
	struct gracer *x = arg;
	char b[16][32];
	const char *let[16];
	size_t nlet = 0;
	unsigned left = 0, g;

	for (unsigned i = 0; i < 80; i++) {
		int64_t t = T0 + 6 * 1440 * MIN + i;

		if (left > 0) {		/* let out under the grant */
			left--;
			let[nlet] = rid(b[nlet], x->first + i);
			nlet++;
			x->allowed++;
			continue;
		}
		if (gtake(x->s, "gt", x->node, x->first + i, let, nlet, 8,
		    day100, t, &g) == CV_TAKE_ALLOW)
			x->allowed++;
		nlet = 0;
		left = g;
	}
	/* Given back with what it let out. */
	(void)gtake(x->s, "gt", x->node, 0, let, nlet, 0, day100,
	    T0 + 6 * 1440 * MIN + 100, &g);
	return NULL;
}

static void
test_grants_race(void **state)
{
	static const uint32_t day100[3] = { 1000, 1000, 100 };
	struct gracer a = { n1, "A", 20000, 0 }, b = { n2, "B", 30000, 0 };

	(void)state;
	two_at_once(grace, &a, &b);
	print_message("grants race: %u + %u of 100\n", a.allowed, b.allowed);
	assert_true(a.allowed + b.allowed <= 100);
	assert_true(a.allowed + b.allowed >= 100 - 2 * 8);
	/* Everything given back: what the two let out is all that counts. */
	assert_int_equal(until_refused(n1, "gt", 40000, day100,
	    T0 + 6 * 1440 * MIN + 200), 100 - a.allowed - b.allowed);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_windows),
		cmocka_unit_test(test_stepped_up_and_hard),
		cmocka_unit_test(test_session),
		cmocka_unit_test(test_ceiling),
		cmocka_unit_test(test_lock),
		cmocka_unit_test(test_race),
		cmocka_unit_test(test_grants),
		cmocka_unit_test(test_grants_race),
		cmocka_unit_test(test_grants_expire),
		cmocka_unit_test(test_unlock),
		cmocka_unit_test(test_touch_in_snapshot),
	};
	struct cv_store *s;
	char path[700];
	int failed, up;

	if ((up = test_pg_up(target, sizeof target, "the shared guard")) == 0)
		return 77;	/* skipped */
	if (up < 0)
		return 1;
	failed = cmocka_run_group_tests(tests, setup, teardown);
	/* And none of it on SQLite: one server, its guard in memory. */
	snprintf(path, sizeof path, "%s/sqlite.db", test_pg_dir);
	if (cv_store_open(path, CV_STORE_CREATE, &s) == CV_OK) {
		struct cv_store_take tk = { .user = "x" };
		enum cv_store_verdict v;
		unsigned w, g;

		if (cv_store_shared(s) || cv_store_guard_take(s, &tk, &v, &w,
		    &g) != CV_ERR_INVALID)
			failed++;
		cv_store_close(s);
	} else
		failed++;
	test_pg_stop();
	return failed;
}
