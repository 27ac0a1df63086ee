/*
 * The case question on a PostgreSQL vault (src/store/cases.c): a store
 * given an epoch watcher answers cv_store_case_allows from the process's
 * memo of the case's members, on a throwaway PostgreSQL. Three stores:
 * N1 and N1B are two connections of one server process (one watcher),
 * N2 another node. The memo answers without asking (shown by a lock on
 * the case tables that a question would wait out), gives the same
 * answers as the question, sees another node's change within a second
 * and this process's at once, keeps more cases than its slots by
 * reading them again, asks for a case too big to keep; a write
 * transaction's uncommitted change never reaches it; without a trigger
 * it is read again within a second all the same; an older database is
 * given the case tables' triggers it depends on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../pgutil.h"
#include "base/base.h"
#include "store/store.h"
#include "store/store_internal.h"

static char target[512];
static struct cv_store *n1, *n1b, *n2;
static struct cv_store_follow *fw;	/* N1's process's watcher */

static void
member(struct cv_store *s, const char *c, int record, const char *who,
    int add)
{
	int n;

	assert_int_equal(cv_store_case_member(s, c, record, who, add, &n),
	    CV_OK);
	assert_int_equal(n, 1);
}

static void
sql(struct cv_store *s, const char *q)
{
	assert_int_equal(db_exec(s->db, q), CV_OK);
}

/* S's answer for USER reading RID in case C, once it is WANT, for up to
 * a second: how long it took in microseconds, or -1. */
static int64_t
becomes(struct cv_store *s, const char *c, const char *user,
    const char *rid, cv_err want)
{
	int64_t t0 = cv_time_us();

	do {
		if (cv_store_case_allows(s, c, user, rid) == want)
			return cv_time_us() - t0;
		usleep(1000);
	} while (cv_time_us() - t0 < 1000000);
	return -1;
}

static int
setup(void **state)
{
	(void)state;
	if (cv_store_open(target, CV_STORE_CREATE, &n1) != CV_OK ||
	    cv_store_open(target, CV_STORE_OPEN, &n1b) != CV_OK ||
	    cv_store_open(target, CV_STORE_OPEN, &n2) != CV_OK ||
	    cv_store_follow_new(n1, &fw) != CV_OK || fw == NULL)
		return -1;
	cv_store_follow_use(n1, fw);
	cv_store_follow_use(n1b, fw);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	cv_store_close(n1);
	cv_store_close(n1b);
	cv_store_close(n2);
	cv_store_follow_free(fw);
	return 0;
}

/* Whether N1 and N1B answer case C-1 while N2 holds the case tables,
 * as the memo read just before says; -1: inconclusive, the memo was
 * older than 400 ms by the end. */
static int
from_memo(void)
{
	int64_t t0;
	cv_err a, b, c;

	assert_int_equal(cv_store_case_allows(n1, "C-1", "amy", "R-1"), CV_OK);
	t0 = cv_now_us();
	assert_int_equal(cv_store_begin(n2), CV_OK);
	sql(n2, "LOCK TABLE case_users, case_records IN ACCESS EXCLUSIVE"
	    " MODE");
	a = cv_store_case_allows(n1, "C-1", "amy", "R-1");
	b = cv_store_case_allows(n1b, "C-1", "bo", "R-2");
	c = cv_store_case_allows(n1, "C-1", "amy", "R-3");
	cv_store_rollback(n2);
	if (cv_now_us() - t0 >= 400000)
		return -1;
	return a == CV_OK && b == CV_OK && c == CV_ERR_NOT_FOUND;
}

/* The memo's answers are the question's, and it asks nothing. */
static void
test_answers(void **state)
{
	static const char *const users[] = { "amy", "bo", "cy" };
	static const char *const rids[] = { "R-1", "R-2", "R-3", "R-9" };
	int memo, i;

	(void)state;
	assert_true(n1->cases_watched && n2->cases_watched);
	assert_int_equal(cv_store_case_add(n2, "C-1", "t", "so", 1), CV_OK);
	member(n2, "C-1", 0, "amy", 1);
	member(n2, "C-1", 0, "bo", 1);
	member(n2, "C-1", 1, "R-1", 1);
	member(n2, "C-1", 1, "R-2", 1);
	assert_int_equal(cv_store_case_add(n2, "C-2", "t", "so", 1), CV_OK);
	member(n2, "C-2", 0, "cy", 1);
	member(n2, "C-2", 1, "R-3", 1);
	/* Records and no user: nobody reads them for it. */
	assert_int_equal(cv_store_case_add(n2, "C-0", "t", "so", 1), CV_OK);
	member(n2, "C-0", 1, "R-1", 1);
	/* N2 has no watcher: it asks, and is the reference. */
	assert_true(becomes(n1, "C-2", "cy", "R-3", CV_OK) >= 0);
	for (int c = 0; c < 4; c++)
		for (size_t u = 0; u < 3; u++)
			for (size_t r = 0; r < 4; r++) {
				const char *cs = c == 0 ? "C-1" : c == 1 ?
				    "C-2" : c == 2 ? "C-0" : "C-none";

				assert_int_equal(cv_store_case_allows(n1, cs,
				    users[u], rids[r]), cv_store_case_allows(
				    n2, cs, users[u], rids[r]));
			}
	assert_int_equal(cv_store_case_allows(n2, "C-1", "amy", "R-1"), CV_OK);

	/* No question: N2 holds the case tables against any reader. A
	 * question would wait for the lock and fail after 200 ms. Tried
	 * again when the machine stalled past the memo's 500 ms (then the
	 * memo is read again, rightly, and the try proves nothing). */
	sql(n1, "SET lock_timeout = 200");
	sql(n1b, "SET lock_timeout = 200");
	for (memo = -1, i = 0; memo < 0 && i < 10; i++)
		memo = from_memo();
	sql(n1, "SET lock_timeout = 10000");
	sql(n1b, "SET lock_timeout = 10000");
	assert_int_equal(memo, 1);
}

/* Another node's change: within a second. This process's: at once. */
static void
test_changes(void **state)
{
	(void)state;
	assert_int_equal(cv_store_case_allows(n1, "C-1", "amy", "R-2"), CV_OK);
	member(n2, "C-1", 1, "R-2", 0);
	assert_true(becomes(n1, "C-1", "amy", "R-2", CV_ERR_NOT_FOUND) >= 0);
	member(n2, "C-1", 0, "bo", 0);
	assert_true(becomes(n1b, "C-1", "bo", "R-1", CV_ERR_NOT_FOUND) >= 0);
	/* In a transaction on N1B: told at its commit, and N1 asks. */
	assert_int_equal(cv_store_case_allows(n1, "C-2", "cy", "R-9"),
	    CV_ERR_NOT_FOUND);
	assert_int_equal(cv_store_begin(n1b), CV_OK);
	member(n1b, "C-2", 1, "R-9", 1);
	assert_int_equal(cv_store_commit(n1b), CV_OK);
	assert_int_equal(cv_store_case_allows(n1, "C-2", "cy", "R-9"), CV_OK);
	member(n1b, "C-2", 0, "cy", 0);
	assert_int_equal(cv_store_case_allows(n1, "C-2", "cy", "R-3"),
	    CV_ERR_NOT_FOUND);
}

/* More cases than slots: each read again when its turn comes. */
static void
test_many_cases(void **state)
{
	char c[32], r[32];

	(void)state;
	for (int i = 0; i < CASE_MEMOS + 8; i++) {
		snprintf(c, sizeof c, "M-%d", i);
		snprintf(r, sizeof r, "R-M%d", i);
		assert_int_equal(cv_store_case_add(n2, c, "t", "so", 1),
		    CV_OK);
		member(n2, c, 0, "amy", 1);
		member(n2, c, 1, r, 1);
	}
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < CASE_MEMOS + 8; i++) {
			snprintf(c, sizeof c, "M-%d", i);
			snprintf(r, sizeof r, "R-M%d", i);
			assert_true(becomes(n1, c, "amy", r, CV_OK) >= 0);
			snprintf(r, sizeof r, "R-M%d", i + 1);
			assert_int_equal(cv_store_case_allows(n1, c, "amy", r),
			    CV_ERR_NOT_FOUND);
		}
}

/* A case of more records than are kept: asked, the same answers. */
static void
test_big_case(void **state)
{
	(void)state;
	assert_int_equal(cv_store_case_add(n2, "BIG", "t", "so", 1), CV_OK);
	member(n2, "BIG", 0, "amy", 1);
	sql(n2, "INSERT INTO case_records SELECT 'BIG', 'B-' || i FROM"
	    " generate_series(1, 20001) i");
	assert_true(becomes(n1, "BIG", "amy", "B-20001", CV_OK) >= 0);
	assert_int_equal(cv_store_case_allows(n1, "BIG", "amy", "B-1"), CV_OK);
	assert_int_equal(cv_store_case_allows(n1, "BIG", "amy", "B-20002"),
	    CV_ERR_NOT_FOUND);
	assert_int_equal(cv_store_case_allows(n1, "BIG", "bo", "B-1"),
	    CV_ERR_NOT_FOUND);
	sql(n2, "DELETE FROM case_records WHERE rid = 'B-7'");
	assert_true(becomes(n1, "BIG", "amy", "B-7", CV_ERR_NOT_FOUND) >= 0);
}

/*
 * A write transaction sees its own uncommitted change (and its own bump
 * of the epoch): what it asks inside must not reach the memo, or a
 * rollback would leave it there for the next commit anywhere to make
 * current. And a read inside a read transaction answers as before.
 */
static void
test_transactions(void **state)
{
	(void)state;
	assert_int_equal(cv_store_case_allows(n1, "C-1", "amy", "R-X"),
	    CV_ERR_NOT_FOUND);
	assert_int_equal(cv_store_begin(n1b), CV_OK);
	member(n1b, "C-1", 1, "R-X", 1);
	assert_int_equal(cv_store_case_allows(n1b, "C-1", "amy", "R-X"),
	    CV_OK);
	cv_store_rollback(n1b);
	/* Another node's commit moves the epoch by one, as N1B's did. */
	member(n2, "C-2", 0, "dee", 1);
	assert_true(becomes(n1, "C-2", "dee", "R-3", CV_OK) >= 0);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(cv_store_case_allows(n1, "C-1", "amy", "R-X"),
		    CV_ERR_NOT_FOUND);
		usleep(2000);
	}
	assert_int_equal(cv_store_read_begin(n1), CV_OK);
	assert_int_equal(cv_store_case_allows(n1, "C-1", "amy", "R-1"), CV_OK);
	assert_int_equal(cv_store_case_allows(n1, "C-1", "amy", "R-X"),
	    CV_ERR_NOT_FOUND);
	cv_store_read_end(n1);
}

/* Without its trigger (dropped, or disabled for a restore) the epoch
 * stands still: a memo is read again within a second all the same. */
static void
test_no_trigger(void **state)
{
	(void)state;
	member(n2, "C-1", 1, "R-6", 1);
	assert_true(becomes(n1, "C-1", "amy", "R-6", CV_OK) >= 0);
	sql(n2, "ALTER TABLE case_records DISABLE TRIGGER case_records_epoch");
	member(n2, "C-1", 1, "R-6", 0);
	assert_true(becomes(n1, "C-1", "amy", "R-6", CV_ERR_NOT_FOUND) >= 0);
	sql(n2, "ALTER TABLE case_records ENABLE TRIGGER case_records_epoch");
}

/* The certificates' memo too (cv_store_cert_user): found by review, it
 * had no age, so that with the certificates' trigger disabled a
 * revocation made on another node was never seen. Now within a second. */
static void
test_cert_no_trigger(void **state)
{
	struct cv_store_user u = { .name = "cal", .role = "investigator" }, gu;
	struct cv_store_cert c = { .fingerprint = "f1", .serial = "01",
	    .user = "cal", .not_after_us = INT64_MAX }, gc;
	struct cv_store_epoch e1, e2;
	int64_t t0;

	(void)state;
	assert_int_equal(cv_store_user_add(n2, &u), CV_OK);
	assert_int_equal(cv_store_cert_add(n2, &c), CV_OK);
	/* Memoised once N1's watcher has the epoch of these inserts (N2
	 * has no watcher: it asks the database). */
	t0 = cv_time_us();
	do {
		assert_int_equal(cv_store_epoch(n2, &e2), CV_OK);
		assert_int_equal(cv_store_epoch(n1, &e1), CV_OK);
		if (e1.data == e2.data)
			break;
		usleep(1000);
	} while (cv_time_us() - t0 < 2000000);
	assert_int_equal(e1.data, e2.data);
	assert_int_equal(cv_store_cert_user(n1, "f1", &gc, &gu), CV_OK);
	assert_int_equal(gc.revoked, 0);
	sql(n2, "ALTER TABLE certs DISABLE TRIGGER certs_epoch");
	sql(n2, "UPDATE certs SET revoked = 1 WHERE fingerprint = 'f1'");
	t0 = cv_time_us();
	do {
		assert_int_equal(cv_store_cert_user(n1, "f1", &gc, &gu), CV_OK);
		if (gc.revoked)
			break;
		usleep(1000);
	} while (cv_time_us() - t0 < 1500000);
	sql(n2, "ALTER TABLE certs ENABLE TRIGGER certs_epoch");
	assert_int_equal(gc.revoked, 1);
	assert_true(cv_time_us() - t0 < 1000000);
}

/* A database from before the case tables' triggers gets them when a
 * store opens it. */
static void
test_upgrade(void **state)
{
	struct cv_store *s = NULL;
	struct cv_db_stmt *st;

	(void)state;
	sql(n2, "DROP TRIGGER case_records_epoch ON case_records");
	assert_int_equal(cv_store_open(target, CV_STORE_OPEN, &s), CV_OK);
	assert_true(s->cases_watched);
	cv_store_close(s);
	/* Disabled: made again too. */
	sql(n2, "ALTER TABLE case_records DISABLE TRIGGER case_records_epoch");
	assert_int_equal(cv_store_open(target, CV_STORE_OPEN, &s), CV_OK);
	assert_true(s->cases_watched);
	assert_int_equal(db_prepare(s->db, "SELECT count(*) FROM pg_trigger"
	    " WHERE tgname = 'case_records_epoch' AND tgenabled <> 'D'", 0,
	    &st), CV_OK);
	assert_int_equal(db_step(st), CV_DB_ROW);
	assert_int_equal(db_column_int64(st, 0), 1);
	db_finalize(st);
	cv_store_close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_changes),
		cmocka_unit_test(test_many_cases),
		cmocka_unit_test(test_big_case),
		cmocka_unit_test(test_transactions),
		cmocka_unit_test(test_no_trigger),
		cmocka_unit_test(test_cert_no_trigger),
		cmocka_unit_test(test_upgrade),
	};
	int failed, up;

	if ((up = test_pg_up(target, sizeof target, "the case memo")) == 0)
		return 77;	/* skipped */
	if (up < 0)
		return 1;
	failed = cmocka_run_group_tests(tests, setup, teardown);
	test_pg_stop();
	return failed;
}
