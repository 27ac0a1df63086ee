/*
 * Staging on PostgreSQL: each node makes its batch durable as rows of
 * cv_audit_staged at indices from one sequence, and a mover appends them
 * to the log in order. What a node that dies, stalls or loses its COMMIT
 * leaves behind: a staged leaf is readable before it moves, a hole is
 * filled after a second, a late INSERT below the log is refused, a slow
 * INSERT is waited for, and a lost move is done again, once.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "core/core.h"
#include "../testutil.h"
#include "../pgutil.h"
#include "audit/audit.h"
#include "auditutil.h"

static int
setup(void **state)
{
	(void)state;
	return audit_fixture_up();
}

static int
teardown(void **state)
{
	(void)state;
	audit_fixture_down();
	return 0;
}

static char stage_state[6];	/* pg_stage_raw's SQLSTATE when it failed */

/* Stages LEAF as another node would: at the sequence's next index, or at
 * AT when AT >= 0. Its index, or -1 if the INSERT failed (STAGE_STATE
 * says why). */
static int64_t
pg_stage_raw(const struct cv_buf *leaf, int64_t at)
{
	PGconn *c = PQconnectdb(target);
	const char *vals[2] = { (const char *)leaf->p, NULL };
	int lens[2] = { (int)leaf->len, 0 }, fmts[2] = { 1, 0 };
	char ats[24];
	PGresult *res;
	int64_t idx = -1;

	assert_int_equal(PQstatus(c), CONNECTION_OK);
	snprintf(ats, sizeof ats, "%lld", (long long)at);
	vals[1] = ats;
	res = PQexecParams(c, at < 0 ? "INSERT INTO cv_audit_staged(idx, pos,"
	    " leaf) VALUES (nextval('cv_audit_idx'), 1, $1) RETURNING idx" :
	    "INSERT INTO cv_audit_staged(idx, pos, leaf) VALUES ($2::bigint,"
	    " 1, $1) RETURNING idx", at < 0 ? 1 : 2, NULL, vals, lens, fmts, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		idx = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	else
		snprintf(stage_state, sizeof stage_state, "%s",
		    PQresultErrorField(res, PG_DIAG_SQLSTATE) ?
		    PQresultErrorField(res, PG_DIAG_SQLSTATE) : "?");
	PQclear(res);
	PQfinish(c);
	return idx;
}

/*
 * Staging (PostgreSQL): an entry staged by another node is read from its
 * row until it is moved, and from the log after, the same bytes. An
 * index taken and never committed (a node that died between nextval and
 * its COMMIT) is filled with an audit.gap entry after a second; the
 * entries after it move on, a late INSERT of that index fails, and the
 * log verifies.
 */
static void
test_pg_staged(void **state)
{
	struct cv_audit_entry e = { .outcome = CV_AUDIT_ALLOWED,
	    .action = "get", .actor = "node-c" };
	struct cv_buf leaf = { 0 }, got = { 0 };
	struct cv_audit_view vw;
	uint64_t before, size, idx;
	uint8_t *taken;
	int64_t at;
	double t0;

	(void)state;
	/* A handle with no mover thread: nothing moves but what it asks. */
	cv_audit_close(a);
	assert_int_equal(cv_core_audit_open(v, 0, &a), CV_OK);
	assert_int_equal(cv_audit_settle(a, &before), CV_OK);
	assert_int_equal(cv_audit_encode(&e, &leaf), CV_OK);
	assert_int_equal(at = pg_stage_raw(&leaf, -1), (int64_t)before);
	assert_int_equal(cv_audit_size(a, &size), CV_OK);
	assert_int_equal(size, before);
	assert_int_equal(cv_audit_leaf(a, before, &got), CV_OK);
	assert_int_equal(got.len, leaf.len);
	assert_memory_equal(got.p, leaf.p, leaf.len);
	assert_int_equal(cv_audit_settle(a, &size), CV_OK);
	assert_int_equal(size, before + 1);
	got.len = 0;
	assert_int_equal(cv_audit_leaf(a, before, &got), CV_OK);
	assert_memory_equal(got.p, leaf.p, leaf.len);

	/* The hole: an index taken, no row. */
	(void)pg_value("SELECT nextval('cv_audit_idx')", &taken);
	free(taken);
	e.actor = "after the hole";
	t0 = cv_now();
	assert_int_equal(cv_audit_append(a, &e, &idx), CV_OK);
	assert_int_equal(idx, before + 2);
	assert_true(cv_now() - t0 >= 0.9);
	assert_int_equal(cv_audit_settle(a, &size), CV_OK);
	assert_int_equal(size, before + 3);
	got.len = 0;
	assert_int_equal(cv_audit_leaf(a, before + 1, &got), CV_OK);
	assert_int_equal(cv_audit_view(got.p, got.len, &vw), CV_OK);
	assert_int_equal(vw.outcome, CV_AUDIT_ERROR);
	assert_int_equal(vw.f[CV_AUDIT_ACTION].len, 9);
	assert_memory_equal(vw.f[CV_AUDIT_ACTION].p, "audit.gap", 9);
	/* The node that took it comes back late: refused, by the trigger
	 * (the filler is moved: the key alone would let it in). */
	assert_int_equal(pg_stage_raw(&leaf, (int64_t)before + 1), -1);
	assert_string_equal(stage_state, "CV001");
	assert_log_verifies(before + 3);
	cv_buf_free(&leaf);
	cv_buf_free(&got);
}

/*
 * The staging statement lost on the server (a DEALLOCATE ALL on the
 * node's staging session, as a pooler may send): prepared again and run,
 * the batch staged once at its index; before, every batch failed until
 * the connection was made again.
 */
static void
test_pg_deallocated(void **state)
{
	struct cv_audit_entry e = { .outcome = CV_AUDIT_ALLOWED,
	    .action = "get", .actor = "deallocated" };
	uint64_t before, after, idx;

	(void)state;
	cv_audit_close(a);
	assert_int_equal(cv_core_audit_open(v, 0, &a), CV_OK);
	assert_int_equal(cv_audit_settle(a, &before), CV_OK);
	assert_int_equal(cv_audit_append(a, &e, &idx), CV_OK);	/* prepared */
	assert_int_equal(idx, before);
	for (int i = 1; i <= 2; i++) {
		fault_on("audit.pg_deallocate");
		assert_int_equal(cv_audit_append(a, &e, &idx), CV_OK);
		fault_off();
		assert_int_equal(idx, before + (uint64_t)i);
	}
	assert_int_equal(cv_audit_settle(a, &after), CV_OK);
	assert_int_equal(after, before + 3);
	assert_log_verifies(before + 3);
	/* A DISCARD ALL resets the session's settings too (synchronous
	 * commit among them): nothing more is staged on it, as before. */
	fault_on("audit.pg_discard");
	assert_int_equal(cv_audit_append(a, &e, &idx), CV_ERR_IO);
	fault_off();
	assert_non_null(strstr(cv_err_detail(), "settings were reset"));
	assert_int_equal(cv_audit_append(a, &e, &idx), CV_ERR_IO);
	assert_int_equal(cv_audit_settle(a, &after), CV_OK);
	assert_int_equal(after, before + 3);
}

/*
 * A move whose COMMIT never happens (the server ends the mover's session
 * just before it): nothing moved, the rows still staged; the next open
 * moves them, once, at the same indices, and the log verifies.
 */
static void
test_pg_move_lost(void **state)
{
	struct cv_audit_entry e = { .outcome = CV_AUDIT_ALLOWED,
	    .action = "get", .actor = "moved twice?" };
	struct cv_buf leaf = { 0 }, got = { 0 };
	uint64_t before, size;

	(void)state;
	cv_audit_close(a);
	assert_int_equal(cv_core_audit_open(v, 0, &a), CV_OK);
	assert_int_equal(cv_audit_settle(a, &before), CV_OK);
	assert_int_equal(cv_audit_encode(&e, &leaf), CV_OK);
	assert_int_equal(pg_stage_raw(&leaf, -1), (int64_t)before);
	assert_int_equal(pg_stage_raw(&leaf, -1), (int64_t)before + 1);
	fault_on("audit.pg_kill");
	assert_int_equal(cv_audit_settle(a, &size), CV_ERR_IO);
	fault_off();
	cv_audit_close(a);
	assert_int_equal(cv_core_audit_open(v, 0, &a), CV_OK);
	assert_int_equal(cv_audit_size(a, &size), CV_OK);
	assert_int_equal(size, before + 2);
	for (uint64_t i = before; i < before + 2; i++) {
		got.len = 0;
		assert_int_equal(cv_audit_leaf(a, i, &got), CV_OK);
		assert_int_equal(got.len, leaf.len);
		assert_memory_equal(got.p, leaf.p, leaf.len);
	}
	assert_log_verifies(before + 2);
	cv_buf_free(&leaf);
	cv_buf_free(&got);
}

/* Commits the open transaction of ARG (a PGconn) 1.5 s from now: an
 * INSERT that outlives the mover's patience for its hole. NULL if the
 * COMMIT succeeded (cmocka's asserts are the main thread's). */
static void *
commit_late(void *arg)
{
	PGresult *res;
	int ok;

	usleep(1500000);
	res = PQexec(arg, "COMMIT");
	ok = PQresultStatus(res) == PGRES_COMMAND_OK &&
	    strcmp(PQcmdStatus(res), "COMMIT") == 0;
	PQclear(res);
	return ok ? NULL : (void *)1;
}

/*
 * A filler that meets an INSERT still open on its index waits for it, and
 * then does nothing: the entry of the node that was slow is what the log
 * holds, not a gap.
 */
static void
test_pg_slow_insert(void **state)
{
	struct cv_audit_entry e = { .outcome = CV_AUDIT_ALLOWED,
	    .action = "get", .actor = "slow node" };
	struct cv_buf leaf = { 0 }, got = { 0 };
	const char *vals[1];
	int lens[1], fmts[1] = { 1 };
	PGconn *c = PQconnectdb(target);
	PGresult *res;
	pthread_t t;
	void *res_t;
	uint64_t before, size;
	int64_t at;

	(void)state;
	assert_int_equal(cv_audit_settle(a, &before), CV_OK);
	assert_int_equal(cv_audit_encode(&e, &leaf), CV_OK);
	vals[0] = (const char *)leaf.p;
	lens[0] = (int)leaf.len;
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	PQclear(PQexec(c, "BEGIN"));
	res = PQexecParams(c, "INSERT INTO cv_audit_staged(idx, pos, leaf)"
	    " VALUES (nextval('cv_audit_idx'), 1, $1) RETURNING idx", 1, NULL,
	    vals, lens, fmts, 0);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	at = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	assert_int_equal(at, (int64_t)before);
	assert_int_equal(pthread_create(&t, NULL, commit_late, c), 0);
	/* A second: the hole is old, the filler waits on the key. */
	assert_int_equal(cv_audit_settle(a, &size), CV_OK);
	assert_int_equal(pthread_join(t, &res_t), 0);
	assert_null(res_t);
	assert_int_equal(size, before + 1);
	assert_int_equal(cv_audit_leaf(a, before, &got), CV_OK);
	assert_int_equal(got.len, leaf.len);
	assert_memory_equal(got.p, leaf.p, leaf.len);
	PQfinish(c);
	cv_buf_free(&leaf);
	cv_buf_free(&got);
}

int
main(void)
{
	const struct CMUnitTest pg[] = {
		cmocka_unit_test(test_pg_staged),
		cmocka_unit_test(test_pg_slow_insert),
		cmocka_unit_test(test_pg_move_lost),
		cmocka_unit_test(test_pg_deallocated),
	};
	int failed, up;

	if ((up = test_pg_up(target, sizeof target, "staging")) <= 0)
		return up < 0 ? 1 : 0;
	db = target;
	failed = cmocka_run_group_tests_name("staging", pg, setup, teardown);
	test_pg_stop();
	return failed;
}
