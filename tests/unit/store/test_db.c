/*
 * The store's driver table (src/store/db.h) called directly, on a real
 * SQLite file and then on a real PostgreSQL 15 (a throwaway cluster that
 * tests/pg.sh starts, on a Unix socket): what the store's functions rely
 * on of any driver, the same assertions for both. Values come back as
 * they went in, the change count and the epoch move when they should and
 * only then, failures are told apart (a taken key, a broken constraint,
 * a bad statement, a bad bind), and a second writer waits for the first
 * and gives up after the time open was given. Only the drivers' own
 * words for a failure differ (struct flavour).
 *
 * Without PostgreSQL 15 installed the PostgreSQL half is skipped (said
 * on stderr); installed but failing to start, the test fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../testutil.h"
#include "../pgutil.h"
#include "base/base.h"
#include "store/db_pg_internal.h"
#include "store/store_internal.h"

/* The tables, in the store's way of writing a schema once for both. */
#define SCHEMA(D) \
	"CREATE TABLE t(id " D##_ROWID ", s TEXT, b " D##_BLOB ", n " D##_INT \
	", m " D##_INT " NOT NULL DEFAULT 0);" \
	"CREATE TABLE u(k TEXT PRIMARY KEY, v " D##_INT ");" D##_EPOCH("u")

/* A driver under test, and its own words for each failure. */
struct flavour {
	const char *name;
	const struct cv_db_ops *ops;
	const char *schema;
	const char *syntax, *no_column, *duplicate, *not_null, *bad_index,
	    *locked, *readonly, *bad_target;
};

static const struct flavour sqlite = {
	"sqlite", &cv_db_sqlite, SCHEMA(SQ),
	"syntax error", "no such column: nope", "UNIQUE constraint failed",
	"NOT NULL constraint failed", "column index out of range",
	"database is locked", "readonly", "/nonexistent/x.db",
};

static const struct flavour postgresql = {
	"postgresql", &cv_db_postgresql, SCHEMA(PG),
	"syntax error", "column \"nope\" does not exist",
	"duplicate key value violates unique constraint",
	"violates not-null constraint", "parameter index out of range",
	"lock timeout", "read-only", "postgresql:///clearvault?host=/nonexistent",
};

static const struct flavour *fl;	/* the one running */
static char target[700];		/* SQLite: a file; PostgreSQL: a URI */
static struct cv_db *a, *b;	/* two connections to TARGET */

static int
setup(void **state)
{
	(void)state;
	if (fl == &sqlite)
		snprintf(target, sizeof target, "%s.db", test_vault_dir());
	if (db_open(fl->ops, target, CV_DB_CREATE, 10.0, &a) != CV_OK ||
	    db_exec(a, fl->schema) != CV_OK ||
	    db_open(fl->ops, target, 0, 10.0, &b) != CV_OK) {
		fprintf(stderr, "setup: %s %s\n", cv_err_detail(),
		    a ? db_errmsg(a) : "");
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	db_close(a);
	db_close(b);
	a = b = NULL;
	if (fl == &sqlite)
		test_rm_rf(target);
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
	/* So does this connection's own write, to any table (PostgreSQL's
	 * counter only moves for the watched ones: the change count does). */
	st = prepared(a, "INSERT INTO t(n) VALUES (5)");
	assert_int_equal(db_step(st), CV_DB_DONE);
	db_finalize(st);
	assert_int_equal(db_epoch(a, &e2[0], &e2[1]), CV_OK);
	assert_false(same(e1, e2));
	run(a, "UPDATE u SET v = 2");
	assert_int_equal(db_epoch(a, &e1[0], &e1[1]), CV_OK);
	assert_false(same(e1, e2));
	assert_int_equal(db_epoch(a, &e2[0], &e2[1]), CV_OK);
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
	assert_non_null(strstr(db_errmsg(a), fl->syntax));
	assert_int_equal(db_prepare(a, "SELECT nope FROM t", 0, &st),
	    CV_ERR_STORE);
	assert_non_null(strstr(db_errmsg(a), fl->no_column));
	assert_int_equal(db_prepare(a, " -- nothing", 0, &st), CV_ERR_STORE);
	assert_int_equal(db_exec(a, "CREATE TABLE u(k TEXT)"), CV_ERR_STORE);
	assert_non_null(strstr(db_errmsg(a), "already exists"));

	/* A taken key and another broken constraint are told apart. */
	run(a, "DELETE FROM u; INSERT INTO u VALUES ('k', 1)");
	st = prepared(a, "INSERT INTO u VALUES (?1, 2)");
	db_bind_text(st, 1, "k");
	assert_int_equal(db_step(st), CV_DB_DUPLICATE);
	assert_non_null(strstr(db_errmsg(a), fl->duplicate));
	db_finalize(st);
	st = prepared(a, "INSERT INTO t(m) VALUES (?1)");
	db_bind_null(st, 1);
	assert_int_equal(db_step(st), CV_DB_CONSTRAINT);
	assert_non_null(strstr(db_errmsg(a), fl->not_null));
	/* A bind that failed fails the step, which does not run. */
	rows = count_t();
	db_reset(st);
	db_bind_int64(st, 1, 5);
	db_bind_int64(st, 2, 6);
	db_bind_int64(st, 1, 7);	/* a good bind after it: still told */
	assert_int_equal(db_step(st), CV_DB_ERROR);
	assert_string_equal(db_errmsg(a), fl->bad_index);
	assert_int_equal(count_t(), rows);
	db_reset(st);
	db_bind_int64(st, 1, 7);
	assert_int_equal(db_step(st), CV_DB_DONE);
	assert_int_equal(count_t(), rows + 1);
	db_finalize(st);

	/* Open: the detail names the target; read-only refuses writes. */
	cv_err_clear();
	assert_int_equal(db_open(fl->ops, fl->bad_target, 0, 1.0, &ro),
	    CV_ERR_STORE);
	assert_null(ro);
	assert_non_null(strstr(cv_err_detail(), "cannot open "));
	assert_non_null(strstr(cv_err_detail(), fl->bad_target));
	assert_int_equal(db_open(fl->ops, target, CV_DB_READONLY, 1.0, &ro),
	    CV_OK);
	assert_int_equal(db_exec(ro, "DELETE FROM u"), CV_ERR_STORE);
	assert_non_null(strstr(db_errmsg(ro), fl->readonly));
	db_close(ro);
	/* A new database: there is one already, which stays as it was. */
	assert_int_equal(db_open(fl->ops, target, CV_DB_CREATE, 1.0, &ro),
	    CV_ERR_EXISTS);
	assert_null(ro);
	assert_int_equal(count_t(), rows + 1);
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
	assert_int_equal(db_open(fl->ops, target, 0, 0.5, &c), CV_OK);
	assert_int_equal(db_begin(a, CV_DB_IMMEDIATE), CV_OK);
	t0 = cv_now();
	assert_int_equal(db_begin(c, CV_DB_IMMEDIATE), CV_ERR_STORE);
	waited = cv_now() - t0;
	assert_non_null(strstr(db_errmsg(c), fl->locked));
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
	run(a, "DELETE FROM u; INSERT INTO u VALUES ('b', 42)");
	if (fl == &postgresql) {
		/* Not clearvault's: the error says whose it is. */
		snprintf(copy, sizeof copy, "%s/copy", test_pg_dir);
		cv_err_clear();
		assert_int_equal(db_backup(a, copy, NULL, NULL), CV_ERR_STORE);
		assert_non_null(strstr(cv_err_detail(), "pg_dump"));
		assert_int_equal(access(copy, F_OK), -1);
		goto rest;
	}
	snprintf(copy, sizeof copy, "%s.copy", target);
	assert_int_equal(db_backup(a, copy, NULL, NULL), CV_OK);
	/* The copy is whole on its own, and the original goes on. */
	run(a, "UPDATE u SET v = 43");
	assert_int_equal(db_open(fl->ops, copy, 0, 1.0, &c), CV_OK);
	st = prepared(c, "SELECT v FROM u WHERE k = 'b'");
	assert_int_equal(db_step(st), CV_DB_ROW);
	assert_int_equal(db_column_int64(st, 0), 42);
	db_finalize(st);
	db_close(c);
 rest:
	assert_int_equal(db_checkpoint(a), CV_OK);
	assert_int_equal(db_durability(a, 0), CV_OK);
	assert_int_equal(db_durability(a, 1), CV_OK);
}

/*
 * Parameters as the store writes them, `?N` and a bare `?` (the highest
 * so far plus one), and nothing of the kind inside quoted text or a
 * comment: the PostgreSQL driver rewrites them itself.
 */
static void
test_parameters(void **state)
{
	struct cv_db_stmt *st;

	(void)state;
	st = prepared(a, "SELECT 'a?b', CAST(?2 AS TEXT) || CAST(?1 AS TEXT),"
	    " /* ?9 */ -- ?7\n CAST(? AS TEXT)");
	db_bind_text(st, 1, "x");
	db_bind_text(st, 2, "y");
	db_bind_text(st, 3, "z");
	assert_int_equal(db_step(st), CV_DB_ROW);
	assert_string_equal(db_column_text(st, 0), "a?b");
	assert_string_equal(db_column_text(st, 1), "yx");
	assert_string_equal(db_column_text(st, 2), "z");
	assert_int_equal(db_step(st), CV_DB_DONE);
	/* Three of them, not seven or nine. */
	db_reset(st);
	db_bind_text(st, 4, "w");
	assert_int_equal(db_step(st), CV_DB_ERROR);
	db_finalize(st);
}

/* Integers of every width, signs and truth values read as int64. */
static void
test_integers(void **state)
{
	struct cv_db_stmt *st;

	(void)state;
	st = prepared(a, "SELECT 1 = 1, 1 = 2, CAST(-5 AS SMALLINT), -70000,"
	    " CAST(?1 AS BIGINT), NULL");
	db_bind_int64(st, 1, -((int64_t)1 << 40));
	assert_int_equal(db_step(st), CV_DB_ROW);
	assert_int_equal(db_column_int64(st, 0), 1);
	assert_int_equal(db_column_int64(st, 1), 0);
	assert_int_equal(db_column_int64(st, 2), -5);
	assert_int_equal(db_column_int64(st, 3), -70000);
	assert_true(db_column_int64(st, 4) == -((int64_t)1 << 40));
	assert_true(db_column_is_null(st, 5));
	assert_int_equal(db_column_int64(st, 5), 0);
	db_finalize(st);
}

/*
 * A statement the server lost (a DEALLOCATE ALL on the connection, as a
 * pooler between node and database may send) is prepared again and run:
 * outside a transaction at once; in one, the step fails with the
 * transaction, and the first step after the rollback prepares it again.
 * Before, every later step failed until the connection was made again.
 */
static void
test_pg_deallocated(void **state)
{
	struct cv_db_stmt *st;
	struct cv_db *x = NULL;
	int64_t e[2];

	(void)state;
	run(a, "DELETE FROM u");
	run(a, "INSERT INTO u VALUES ('one', 1)");
	st = prepared(a, "SELECT v FROM u WHERE k = ?1");
	for (int round = 0; round < 3; round++) {
		if (round == 1)
			run(a, "DEALLOCATE ALL");
		if (round == 2) {
			assert_int_equal(db_begin(a, CV_DB_IMMEDIATE), CV_OK);
			run(a, "DEALLOCATE ALL");
			db_reset_unbind(st);
			db_bind_text(st, 1, "one");
			assert_int_equal(db_step(st), CV_DB_ERROR);
			assert_int_equal(db_rollback(a), CV_OK);
		}
		db_reset_unbind(st);
		db_bind_text(st, 1, "one");
		assert_int_equal(db_step(st), CV_DB_ROW);
		assert_int_equal(db_column_int64(st, 0), 1);
		assert_int_equal(db_step(st), CV_DB_DONE);
	}
	db_finalize(st);
	/* The driver's own statements (the epoch's, the last id's) too. */
	run(a, "DEALLOCATE ALL");
	assert_int_equal(db_epoch(a, &e[0], &e[1]), CV_OK);
	st = prepared(a, "INSERT INTO t(s, n) VALUES ('again', 1)");
	assert_int_equal(db_step(st), CV_DB_DONE);
	db_finalize(st);
	run(a, "DEALLOCATE ALL");
	assert_true(db_last_insert_id(a) > 0);
	/* A DISCARD ALL resets the settings the driver made too
	 * (synchronous_commit, lock_timeout...): nothing more runs on that
	 * connection, as before, and it says why. */
	assert_int_equal(db_open(fl->ops, target, 0, 10.0, &x), CV_OK);
	st = prepared(x, "SELECT v FROM u WHERE k = 'one'");
	assert_int_equal(db_step(st), CV_DB_ROW);
	db_reset(st);
	run(x, "DISCARD ALL");
	for (int i = 0; i < 2; i++) {
		assert_int_equal(db_step(st), CV_DB_ERROR);
		assert_non_null(strstr(db_errmsg(x), "settings were reset"));
	}
	db_finalize(st);
	db_close(x);
}


/*
 * PostgreSQL's own rules. The target: no password (the issue: a client
 * certificate or a socket's peer authentication), and TLS that checks
 * the server off a socket, refused before anything is sent. A column of
 * a type the driver does not read fails its step. A transaction in which
 * a statement failed does not commit (PostgreSQL rolled it back; SQLite
 * would have undone only the statement).
 */
static void
test_pg_rules(void **state)
{
	static const struct {
		const char *target, *says;
	} refused[] = {
		{ "postgresql://u:secret@/clearvault?host=/nonexistent",
		  "gives a password" },
		{ "postgresql:///clearvault?host=/nonexistent&password=x",
		  "gives a password" },
		{ "postgresql:///clearvault?host=/nonexistent&passfile=/x",
		  "gives a passfile" },
		{ "postgresql://127.0.0.1:1/clearvault", "sslmode=verify-full" },
		{ "postgresql://db.example/clearvault?sslmode=require",
		  "sslmode=verify-full" },
		{ "postgresql:///clearvault?host=/s,db.example",
		  "sslmode=verify-full" },
		{ "postgresql://%zz", "bad database target" },
	};
	struct cv_db_stmt *st;
	struct cv_db *x = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		cv_err_clear();
		assert_int_equal(db_open(fl->ops, refused[i].target, 0, 1.0,
		    &x), CV_ERR_STORE);
		assert_null(x);
		if (strstr(cv_err_detail(), refused[i].says) == NULL)
			fail_msg("%s: %s", refused[i].target, cv_err_detail());
	}

	st = prepared(a, "SELECT CAST(1.5 AS NUMERIC)");
	assert_int_equal(db_step(st), CV_DB_ERROR);
	assert_non_null(strstr(db_errmsg(a), "type the driver does not read"));
	db_finalize(st);

	run(a, "DELETE FROM u");
	assert_int_equal(db_begin(a, CV_DB_IMMEDIATE), CV_OK);
	run(a, "INSERT INTO u VALUES ('one', 1)");
	assert_int_equal(db_exec(a, "INSERT INTO u VALUES ('one', 2)"),
	    CV_ERR_STORE);
	assert_int_equal(db_commit(a), CV_ERR_STORE);
	assert_non_null(strstr(db_errmsg(a), "rolled back"));
	st = prepared(b, "SELECT count(*) FROM u");
	assert_int_equal(db_step(st), CV_DB_ROW);
	assert_int_equal(db_column_int64(st, 0), 0);
	db_finalize(st);
	/* And the connection goes on. */
	assert_int_equal(db_commit(a), CV_ERR_STORE);
	assert_string_equal(db_errmsg(a), "no transaction is active");
	run(a, "INSERT INTO u VALUES ('two', 2)");
}

/* A's epoch until it differs from E, for up to a second: how long it
 * took in microseconds, or -1. */
static int64_t
epoch_moves(const int64_t e[2])
{
	int64_t t0 = cv_time_us(), x[2];

	do {
		assert_int_equal(db_epoch(a, &x[0], &x[1]), CV_OK);
		if (!same(e, x))
			return cv_time_us() - t0;
		usleep(1000);
	} while (cv_time_us() - t0 < 1000000);
	return -1;
}

/*
 * The epoch's watcher (follow_new): a connection given it answers epoch
 * outside a transaction without asking the database (shown by a lock on
 * cv_epoch that would make the question wait out the lock timeout),
 * learns of another connection's commit from its notice, asks again
 * inside a transaction, and when the watcher's connection is killed
 * asks for itself again and still sees every commit. A database whose
 * trigger was made without the notice is given it by the watcher.
 */
static void
test_pg_follow(void **state)
{
	struct cv_db_follow *f = NULL;
	struct cv_db *x = NULL;
	struct cv_db_stmt *st;
	int64_t e0[2], e1[2], t0;
	pid_t pid;

	(void)state;
	/* An older database's trigger: no notice. */
	run(a, "CREATE OR REPLACE FUNCTION cv_epoch_bump() RETURNS trigger"
	    " LANGUAGE plpgsql AS $$BEGIN UPDATE cv_epoch SET n = n + 1;"
	    " RETURN NULL; END$$");
	assert_int_equal(fl->ops->follow_new(target, 2.0, &f), CV_OK);
	st = prepared(b, "SELECT position('pg_notify' IN prosrc) > 0 FROM"
	    " pg_proc WHERE proname = 'cv_epoch_bump'");
	assert_int_equal(db_step(st), CV_DB_ROW);
	assert_int_equal(db_column_int64(st, 0), 1);
	db_finalize(st);
	fl->ops->follow_use(a, f);
	assert_int_equal(db_epoch(a, &e0[0], &e0[1]), CV_OK);

	/* No question: B holds cv_epoch against any reader. */
	assert_int_equal(db_begin(b, CV_DB_IMMEDIATE), CV_OK);
	run(b, "LOCK TABLE cv_epoch IN ACCESS EXCLUSIVE MODE");
	t0 = cv_time_us();
	assert_int_equal(db_epoch(a, &e1[0], &e1[1]), CV_OK);
	assert_true(same(e0, e1));
	assert_true(cv_time_us() - t0 < 500000);
	assert_int_equal(db_rollback(b), CV_OK);

	/* B's commit: known within a second, by its notice. */
	run(b, "INSERT INTO u VALUES ('f1', 1)");
	assert_true(epoch_moves(e0) >= 0);
	assert_int_equal(db_epoch(a, &e0[0], &e0[1]), CV_OK);
	/* Inside a transaction A asks, as before. */
	assert_int_equal(db_begin(a, CV_DB_DEFERRED), CV_OK);
	assert_int_equal(db_epoch(a, &e1[0], &e1[1]), CV_OK);
	assert_true(same(e0, e1));
	assert_int_equal(db_commit(a), CV_OK);

	/* A commit in this process (follow_moved): the value is not used
	 * until read again after it (B's lock holds that read back). */
	assert_int_equal(db_begin(b, CV_DB_IMMEDIATE), CV_OK);
	run(b, "LOCK TABLE cv_epoch IN ACCESS EXCLUSIVE MODE");
	usleep(300000);		/* the watcher's next read waits on it */
	fl->ops->follow_moved(f);
	assert_true(pgdb_followed((const struct pg_follow *)f) < 0);
	assert_int_equal(db_rollback(b), CV_OK);
	for (int i = 0; i < 1000 && pgdb_followed(
	    (const struct pg_follow *)f) < 0; i++)
		usleep(1000);
	assert_true(pgdb_followed((const struct pg_follow *)f) >= 0);

	/* Its backend stopped (a hung server, a half-open link): the value
	 * goes stale within a second, and A sees B's commit by asking. */
	st = prepared(b, "SELECT pid FROM pg_stat_activity WHERE"
	    " application_name = 'clearvault epoch'");
	assert_int_equal(db_step(st), CV_DB_ROW);
	pid = (pid_t)db_column_int64(st, 0);
	db_finalize(st);
	assert_int_equal(kill(pid, SIGSTOP), 0);
	assert_int_equal(db_epoch(a, &e0[0], &e0[1]), CV_OK);
	run(b, "INSERT INTO u VALUES ('f3', 3)");
	t0 = epoch_moves(e0);
	assert_int_equal(kill(pid, SIGCONT), 0);
	assert_true(t0 >= 0);

	/* Its connection killed: A asks for itself, and sees B's commit at
	 * once. */
	assert_int_equal(db_open(fl->ops, target, 0, 2.0, &x), CV_OK);
	st = prepared(x, "SELECT count(pg_terminate_backend(pid)) FROM"
	    " pg_stat_activity WHERE application_name = 'clearvault epoch'");
	assert_int_equal(db_step(st), CV_DB_ROW);
	assert_int_equal(db_column_int64(st, 0), 1);
	db_finalize(st);
	db_close(x);
	for (int i = 0; i < 1000 && pgdb_followed(
	    (const struct pg_follow *)f) >= 0; i++)
		usleep(1000);
	assert_true(pgdb_followed((const struct pg_follow *)f) < 0);
	assert_int_equal(db_epoch(a, &e0[0], &e0[1]), CV_OK);
	run(b, "INSERT INTO u VALUES ('f2', 2)");
	assert_int_equal(db_epoch(a, &e1[0], &e1[1]), CV_OK);
	assert_false(same(e0, e1));
	fl->ops->follow_use(a, NULL);
	fl->ops->follow_free(f);
}

/* Rows in bulk of table t, each checked: S, B's BN bytes, N. */
static void
bulk_rows_are(int64_t want, const char *where)
{
	struct cv_db_stmt *st = prepared(b, where);

	assert_int_equal(db_step(st), CV_DB_ROW);
	assert_int_equal(db_column_int64(st, 0), want);
	db_finalize(st);
}

/*
 * Bulk rows through COPY (binary): values of every type come back as
 * they went, rows bigger than one send of the driver's buffer too; a row
 * the encoder refuses aborts the COPY and fails the transaction, and so
 * does one the server refuses (NULL in a NOT NULL column); nothing of
 * either is stored, and the connection goes on.
 */
static void
test_pg_bulk(void **state)
{
	static const uint8_t nuls[] = { 0, 'a', 0, 0, 0xff, 0 };
	uint8_t *big;
	struct cv_db_value v[3] = {
		{ CV_DB_V_TEXT, 0, "h\xc3\xa9llo", 0 },
		{ CV_DB_V_BLOB, 0, nuls, sizeof nuls },
		{ CV_DB_V_INT64, INT64_MIN, NULL, 0 },
	};
	struct cv_db_stmt *st;
	int64_t rows = -1;

	(void)state;
	assert_true(db_can_bulk(a));
	assert_false(db_can_bulk(&(struct cv_db){ &cv_db_sqlite }));
	assert_non_null(big = malloc(300000));
	for (size_t i = 0; i < 300000; i++)
		big[i] = (uint8_t)(i * 7);
	run(a, "DELETE FROM t");
	assert_int_equal(db_begin(a, CV_DB_IMMEDIATE), CV_OK);
	assert_int_equal(db_bulk_begin(a, "t(s, b, n)", 3), CV_OK);
	assert_int_equal(db_bulk_begin(a, "t(s, b, n)", 3), CV_ERR_STORE);
	assert_string_equal(db_errmsg(a), "a bulk write is running");
	assert_int_equal(db_bulk_row(a, v), CV_OK);
	v[0].type = CV_DB_V_NULL;
	v[1].n = 0;
	v[2].i = 7;
	assert_int_equal(db_bulk_row(a, v), CV_OK);
	v[1] = (struct cv_db_value){ CV_DB_V_BLOB, 0, big, 300000 };
	for (int i = 0; i < 3; i++)
		assert_int_equal(db_bulk_row(a, v), CV_OK);
	assert_int_equal(db_bulk_end(a, 1, &rows), CV_OK);
	assert_int_equal(rows, 5);
	assert_int_equal(db_commit(a), CV_OK);
	st = prepared(b, "SELECT s, b, n FROM t WHERE n < 0");
	assert_int_equal(db_step(st), CV_DB_ROW);
	assert_string_equal(db_column_text(st, 0), "h\xc3\xa9llo");
	assert_int_equal(db_column_bytes(st, 1), sizeof nuls);
	assert_memory_equal(db_column_blob(st, 1), nuls, sizeof nuls);
	assert_int_equal(db_column_int64(st, 2), INT64_MIN);
	db_finalize(st);
	bulk_rows_are(1, "SELECT count(*) FROM t WHERE s IS NULL AND n = 7"
	    " AND length(b) = 0");
	st = prepared(b, "SELECT b FROM t WHERE length(b) = 300000");
	for (int i = 0; i < 3; i++) {
		assert_int_equal(db_step(st), CV_DB_ROW);
		assert_memory_equal(db_column_blob(st, 0), big, 300000);
	}
	assert_int_equal(db_step(st), CV_DB_DONE);
	db_finalize(st);

	/* Refused by the encoder: the COPY is given up. */
	assert_int_equal(db_begin(a, CV_DB_IMMEDIATE), CV_OK);
	assert_int_equal(db_bulk_begin(a, "t(s, b, n)", 3), CV_OK);
	assert_int_equal(db_bulk_row(a, v), CV_OK);
	v[0] = (struct cv_db_value){ CV_DB_V_TEXT, 0, NULL, 0 };
	assert_int_equal(db_bulk_row(a, v), CV_ERR_STORE);
	assert_string_equal(db_errmsg(a), "a bad value");
	assert_int_equal(db_bulk_end(a, 0, &rows), CV_ERR_STORE);
	assert_int_equal(rows, 0);
	assert_string_equal(db_errmsg(a), "a bad value");
	assert_int_equal(db_commit(a), CV_ERR_STORE);
	/* Refused by the server: NULL into m, NOT NULL. */
	assert_int_equal(db_bulk_begin(a, "t(s, m)", 2), CV_OK);
	v[0] = (struct cv_db_value){ CV_DB_V_TEXT, 0, "x", 0 };
	v[1] = (struct cv_db_value){ CV_DB_V_NULL, 0, NULL, 0 };
	assert_int_equal(db_bulk_row(a, v), CV_OK);
	assert_int_equal(db_bulk_end(a, 1, &rows), CV_ERR_STORE);
	assert_non_null(strstr(db_errmsg(a), fl->not_null));
	assert_int_equal(db_bulk_end(a, 1, &rows), CV_ERR_STORE);
	assert_string_equal(db_errmsg(a), "no bulk write is running");
	assert_int_equal(db_bulk_row(a, v), CV_ERR_STORE);
	bulk_rows_are(5, "SELECT count(*) FROM t");
	run(a, "INSERT INTO t(s) VALUES ('after')");
	bulk_rows_are(6, "SELECT count(*) FROM t");
	free(big);
}

/* The PostgreSQL-only group, on the tables the shared one made. */
static int
reopen(void **state)
{
	(void)state;
	return db_open(fl->ops, target, 0, 10.0, &a) == CV_OK &&
	    db_open(fl->ops, target, 0, 10.0, &b) == CV_OK ? 0 : -1;
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
		cmocka_unit_test(test_parameters),
		cmocka_unit_test(test_integers),
	};
	const struct CMUnitTest pg_only[] = {
		cmocka_unit_test(test_pg_rules),
		cmocka_unit_test(test_pg_deallocated),
		cmocka_unit_test(test_pg_bulk),
		cmocka_unit_test(test_pg_follow),
	};
	int failed, up;

	fl = &sqlite;
	failed = cmocka_run_group_tests_name(fl->name, tests, setup, teardown);
	/* The second run on a throwaway PostgreSQL (tests/pgutil.h). */
	if ((up = test_pg_up(target, sizeof target, "its driver")) <= 0)
		return up < 0 ? 1 : failed;
	fl = &postgresql;
	failed += cmocka_run_group_tests_name(fl->name, tests, setup,
	    teardown);
	failed += cmocka_run_group_tests_name("postgresql_only", pg_only,
	    reopen, teardown);
	test_pg_stop();
	return failed;
}
