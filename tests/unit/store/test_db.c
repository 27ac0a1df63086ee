/*
 * The store's driver table (src/store/db.h) called directly on a real
 * SQLite file: what the store's functions rely on of any driver. Values
 * come back as they went in, the change count and the epoch move when
 * they should and only then, failures are told apart (a taken key, a
 * broken constraint, a bad statement, a bad bind), and a second writer
 * waits for the first and gives up after the time open was given.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <unistd.h>

#include <cmocka.h>

#include "../testutil.h"
#include "base/base.h"
#include "store/db.h"

static const struct cv_db_ops *const driver = &cv_db_sqlite;
static char path[700];
static struct cv_db *a, *b;	/* two connections to PATH */

static int
setup(void **state)
{
	(void)state;
	snprintf(path, sizeof path, "%s.db", test_vault_dir());
	if (db_open(driver, path, CV_DB_CREATE, 10.0, &a) != CV_OK ||
	    db_exec(a, "CREATE TABLE t(id INTEGER PRIMARY KEY, s TEXT,"
	    " b BLOB, n INTEGER, m INTEGER NOT NULL DEFAULT 0);"
	    "CREATE TABLE u(k TEXT PRIMARY KEY, v INTEGER)") != CV_OK ||
	    db_open(driver, path, 0, 10.0, &b) != CV_OK)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	db_close(a);
	db_close(b);
	test_rm_rf(path);
	return 0;
}

static struct cv_db_stmt *
prepared(struct cv_db *db, const char *sql)
{
	struct cv_db_stmt *st = NULL;

	assert_int_equal(db_prepare(db, sql, 0, &st), CV_OK);
	assert_non_null(st);
	return st;
}

/* Runs SQL on DB, no parameters, no row. */
static void
run(struct cv_db *db, const char *sql)
{
	assert_int_equal(db_exec(db, sql), CV_OK);
}

static void
test_round_trip(void **state)
{
	static const uint8_t nuls[] = { 0, 'a', 0, 0, 0xff, 0 };
	struct cv_db_stmt *ins, *sel;
	int64_t id[3];

	(void)state;
	run(a, "DELETE FROM t");
	ins = prepared(a, "INSERT INTO t(s, b, n) VALUES (?1, ?2, ?3)");
	db_bind_text(ins, 1, "h\xc3\xa9llo, w\xc3\xb6rld");
	db_bind_blob(ins, 2, nuls, sizeof nuls);
	db_bind_int64(ins, 3, INT64_MIN);
	assert_int_equal(db_step(ins), CV_DB_DONE);
	assert_int_equal(db_changes(a), 1);
	id[0] = db_last_insert_id(a);
	db_reset(ins);
	db_bind_null(ins, 1);
	db_bind_null(ins, 2);
	db_bind_int64(ins, 3, INT64_MAX);
	assert_int_equal(db_step(ins), CV_DB_DONE);
	id[1] = db_last_insert_id(a);
	/* An empty blob is a value, not a NULL; an empty string too. */
	db_reset(ins);
	db_bind_text(ins, 1, "");
	db_bind_blob(ins, 2, nuls, 0);
	db_bind_null(ins, 3);
	assert_int_equal(db_step(ins), CV_DB_DONE);
	id[2] = db_last_insert_id(a);
	assert_true(id[0] < id[1] && id[1] < id[2]);
	db_finalize(ins);

	sel = prepared(a, "SELECT s, b, n FROM t WHERE id = ?1");
	db_bind_int64(sel, 1, id[0]);
	assert_int_equal(db_step(sel), CV_DB_ROW);
	assert_string_equal(db_column_text(sel, 0),
	    "h\xc3\xa9llo, w\xc3\xb6rld");
	assert_int_equal(db_column_bytes(sel, 1), sizeof nuls);
	assert_memory_equal(db_column_blob(sel, 1), nuls, sizeof nuls);
	assert_true(db_column_int64(sel, 2) == INT64_MIN);
	assert_false(db_column_is_null(sel, 2));
	assert_int_equal(db_step(sel), CV_DB_DONE);

	db_reset(sel);
	db_bind_int64(sel, 1, id[1]);
	assert_int_equal(db_step(sel), CV_DB_ROW);
	assert_true(db_column_is_null(sel, 0));
	assert_null(db_column_text(sel, 0));
	assert_true(db_column_is_null(sel, 1));
	assert_int_equal(db_column_bytes(sel, 1), 0);
	assert_true(db_column_int64(sel, 2) == INT64_MAX);

	db_reset(sel);
	db_bind_int64(sel, 1, id[2]);
	assert_int_equal(db_step(sel), CV_DB_ROW);
	assert_false(db_column_is_null(sel, 0));
	assert_string_equal(db_column_text(sel, 0), "");
	assert_false(db_column_is_null(sel, 1));
	assert_int_equal(db_column_bytes(sel, 1), 0);
	assert_true(db_column_is_null(sel, 2));
	assert_int_equal(db_column_int64(sel, 2), 0);

	/* A reset keeps the binding, an unbinding reset makes it NULL. */
	db_reset(sel);
	assert_int_equal(db_step(sel), CV_DB_ROW);
	db_reset_unbind(sel);
	assert_int_equal(db_step(sel), CV_DB_DONE);
	db_finalize(sel);
}

static void
test_changes(void **state)
{
	struct cv_db_stmt *st;

	(void)state;
	run(a, "DELETE FROM t; INSERT INTO t(n) VALUES (1), (1), (2)");
	st = prepared(a, "UPDATE t SET m = m + 1 WHERE n = ?1");
	db_bind_int64(st, 1, 1);
	assert_int_equal(db_step(st), CV_DB_DONE);
	assert_int_equal(db_changes(a), 2);
	db_reset(st);
	db_bind_int64(st, 1, 7);
	assert_int_equal(db_step(st), CV_DB_DONE);
	assert_int_equal(db_changes(a), 0);
	db_finalize(st);
	/* A read changes nothing, and leaves the count as it was. */
	run(a, "DELETE FROM t WHERE n = 1");
	st = prepared(a, "SELECT count(*) FROM t");
	assert_int_equal(db_step(st), CV_DB_ROW);
	assert_int_equal(db_column_int64(st, 0), 1);
	db_finalize(st);
	assert_int_equal(db_changes(a), 2);
}

static int
same(const int64_t x[2], const int64_t y[2])
{
	return x[0] == y[0] && x[1] == y[1];
}

/* What cv_store_cert_user's memo is keyed by. */
static void
test_epoch(void **state)
{
	struct cv_db_stmt *st;
	int64_t e0[2], e1[2], e2[2];

	(void)state;
	assert_int_equal(db_epoch(a, &e0[0], &e0[1]), CV_OK);
	/* Reads, on either connection, move nothing. */
	st = prepared(b, "SELECT count(*) FROM u");
	assert_int_equal(db_step(st), CV_DB_ROW);
	db_finalize(st);
	st = prepared(a, "SELECT count(*) FROM u");
	assert_int_equal(db_step(st), CV_DB_ROW);
	db_finalize(st);
	assert_int_equal(db_epoch(a, &e1[0], &e1[1]), CV_OK);
	assert_true(same(e0, e1));
	/* Another connection's commit moves it. */
	assert_int_equal(db_begin(b, CV_DB_IMMEDIATE), CV_OK);
	run(b, "INSERT INTO u VALUES ('x', 1)");
	/* Not before the commit: a read of A still sees the old rows. */
	assert_int_equal(db_epoch(a, &e1[0], &e1[1]), CV_OK);
	assert_true(same(e0, e1));
	assert_int_equal(db_commit(b), CV_OK);
	assert_int_equal(db_epoch(a, &e1[0], &e1[1]), CV_OK);
	assert_false(same(e0, e1));
	/* So does this connection's own write. */
	run(a, "UPDATE u SET v = 2");
	assert_int_equal(db_epoch(a, &e2[0], &e2[1]), CV_OK);
	assert_false(same(e1, e2));
	/* And a rolled-back write of another leaves it. */
	assert_int_equal(db_begin(b, CV_DB_IMMEDIATE), CV_OK);
	run(b, "UPDATE u SET v = 3");
	assert_int_equal(db_rollback(b), CV_OK);
	assert_int_equal(db_epoch(a, &e1[0], &e1[1]), CV_OK);
	assert_true(same(e1, e2));
}

static int64_t
count_t(void)
{
	struct cv_db_stmt *st = prepared(b, "SELECT count(*) FROM t");
	int64_t n;

	assert_int_equal(db_step(st), CV_DB_ROW);
	n = db_column_int64(st, 0);
	db_finalize(st);
	return n;
}

static void
test_errors(void **state)
{
	struct cv_db_stmt *st = NULL;
	struct cv_db *ro = NULL;
	int64_t rows;

	(void)state;
	assert_int_equal(db_prepare(a, "SELEC 1", 0, &st), CV_ERR_STORE);
	assert_null(st);
	assert_non_null(strstr(db_errmsg(a), "syntax error"));
	assert_int_equal(db_prepare(a, "SELECT nope FROM t", 0, &st),
	    CV_ERR_STORE);
	assert_non_null(strstr(db_errmsg(a), "no such column: nope"));
	assert_int_equal(db_prepare(a, " -- nothing", 0, &st), CV_ERR_STORE);
	assert_int_equal(db_exec(a, "CREATE TABLE u(k)"), CV_ERR_STORE);
	assert_non_null(strstr(db_errmsg(a), "already exists"));

	/* A taken key and another broken constraint are told apart. */
	run(a, "DELETE FROM u; INSERT INTO u VALUES ('k', 1)");
	st = prepared(a, "INSERT INTO u VALUES (?1, 2)");
	db_bind_text(st, 1, "k");
	assert_int_equal(db_step(st), CV_DB_DUPLICATE);
	assert_non_null(strstr(db_errmsg(a), "UNIQUE constraint failed"));
	db_finalize(st);
	st = prepared(a, "INSERT INTO t(m) VALUES (?1)");
	db_bind_null(st, 1);
	assert_int_equal(db_step(st), CV_DB_CONSTRAINT);
	assert_non_null(strstr(db_errmsg(a), "NOT NULL constraint failed"));
	/* A bind that failed fails the step, which does not run. */
	rows = count_t();
	db_reset(st);
	db_bind_int64(st, 1, 5);
	db_bind_int64(st, 2, 6);
	db_bind_int64(st, 1, 7);	/* a good bind after it: still told */
	assert_int_equal(db_step(st), CV_DB_ERROR);
	assert_string_equal(db_errmsg(a), "column index out of range");
	assert_int_equal(count_t(), rows);
	db_reset(st);
	db_bind_int64(st, 1, 7);
	assert_int_equal(db_step(st), CV_DB_DONE);
	assert_int_equal(count_t(), rows + 1);
	db_finalize(st);

	/* Open: the detail names the target; read-only refuses writes. */
	cv_err_clear();
	assert_int_equal(db_open(driver, "/nonexistent/x.db", 0, 1.0, &ro),
	    CV_ERR_STORE);
	assert_null(ro);
	assert_non_null(strstr(cv_err_detail(), "cannot open "
	    "/nonexistent/x.db"));
	assert_int_equal(db_open(driver, path, CV_DB_READONLY, 1.0, &ro),
	    CV_OK);
	assert_int_equal(db_exec(ro, "DELETE FROM u"), CV_ERR_STORE);
	assert_non_null(strstr(db_errmsg(ro), "readonly"));
	db_close(ro);
}

struct holder {
	struct cv_db *db;
	double hold;
	cv_err r;
};

static void *
release_later(void *arg)
{
	struct holder *h = arg;

	usleep((useconds_t)(h->hold * 1e6));
	h->r = db_commit(h->db);
	return NULL;
}

/*
 * Two writers, as the store meets them (a server and a bulk load): the
 * second waits for the first's commit, and gives up after the busy time
 * given at open.
 */
static void
test_busy(void **state)
{
	struct holder h = { .db = a, .hold = 0.3, .r = CV_ERR_INTERNAL };
	struct cv_db *c = NULL;
	pthread_t t;
	double t0, waited;

	(void)state;
	assert_int_equal(db_begin(a, CV_DB_IMMEDIATE), CV_OK);
	run(a, "INSERT INTO u VALUES ('held', 1)");
	assert_int_equal(pthread_create(&t, NULL, release_later, &h), 0);
	t0 = cv_now();
	assert_int_equal(db_begin(b, CV_DB_IMMEDIATE), CV_OK);
	waited = cv_now() - t0;
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(h.r, CV_OK);
	assert_true(waited >= 0.25);
	/* It got the lock once it was free: it sees the first's row. */
	run(b, "UPDATE u SET v = 9 WHERE k = 'held'");
	assert_int_equal(db_changes(b), 1);
	assert_int_equal(db_commit(b), CV_OK);

	/* Held for good: a third connection with half a second to wait. */
	assert_int_equal(db_open(driver, path, 0, 0.5, &c), CV_OK);
	assert_int_equal(db_begin(a, CV_DB_IMMEDIATE), CV_OK);
	t0 = cv_now();
	assert_int_equal(db_begin(c, CV_DB_IMMEDIATE), CV_ERR_STORE);
	waited = cv_now() - t0;
	assert_non_null(strstr(db_errmsg(c), "database is locked"));
	assert_true(waited >= 0.45 && waited < 5.0);
	/* A reader is not held up by the writer (WAL). */
	assert_int_equal(db_begin(c, CV_DB_DEFERRED), CV_OK);
	run(c, "SELECT count(*) FROM u");
	assert_int_equal(db_commit(c), CV_OK);
	assert_int_equal(db_rollback(a), CV_OK);
	db_close(c);
}

static void
test_backup(void **state)
{
	char copy[800];
	struct cv_db *c = NULL;
	struct cv_db_stmt *st;

	(void)state;
	snprintf(copy, sizeof copy, "%s.copy", path);
	run(a, "DELETE FROM u; INSERT INTO u VALUES ('b', 42)");
	assert_int_equal(db_backup(a, copy, NULL, NULL), CV_OK);
	/* The copy is whole on its own, and the original goes on. */
	run(a, "UPDATE u SET v = 43");
	assert_int_equal(db_open(driver, copy, 0, 1.0, &c), CV_OK);
	st = prepared(c, "SELECT v FROM u WHERE k = 'b'");
	assert_int_equal(db_step(st), CV_DB_ROW);
	assert_int_equal(db_column_int64(st, 0), 42);
	db_finalize(st);
	db_close(c);
	assert_int_equal(db_checkpoint(a), CV_OK);
	assert_int_equal(db_durability(a, 0), CV_OK);
	assert_int_equal(db_durability(a, 1), CV_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_changes),
		cmocka_unit_test(test_epoch),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_busy),
		cmocka_unit_test(test_backup),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
