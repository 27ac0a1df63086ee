/*
 * The SQLite driver (db.h): the only file of the store that names
 * SQLite. A connection is one sqlite3 handle in WAL mode, opened without
 * SQLite's own mutex (one thread at a time, as a cv_store).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "../base/base.h"
#include "db.h"

struct sq_db {
	struct cv_db base;	/* first: a cv_db * is a sq_db * */
	sqlite3 *h;
	double busy_since;	/* when the current wait for a lock began */
	double busy_limit;	/* seconds, from open */
	/* BEGIN DEFERRED, BEGIN IMMEDIATE, COMMIT, ROLLBACK and the epoch's
	 * PRAGMA: a server runs a read transaction per request, so these
	 * are prepared once, not parsed each time. */
	sqlite3_stmt *tx[4], *data_version;
	/* A failed bind's text (db.h: the step after it fails), standing
	 * in for sqlite3_errmsg, which a later good bind clears. */
	const char *err;
	char msg[256];		/* handle_msg's text */
};

struct sq_stmt {
	struct cv_db_stmt base;	/* first, as above */
	sqlite3_stmt *h;
	struct sq_db *db;
	int bind_rc;		/* the first failed bind since the reset */
};

enum { TX_DEFERRED, TX_IMMEDIATE, TX_COMMIT, TX_ROLLBACK };
static const char *const tx_sql[] = {
	[TX_DEFERRED] = "BEGIN DEFERRED",
	[TX_IMMEDIATE] = "BEGIN IMMEDIATE",
	[TX_COMMIT] = "COMMIT",
	[TX_ROLLBACK] = "ROLLBACK",
};

static struct sq_db *
to_db(struct cv_db *db)
{
	return (struct sq_db *)db;
}

static struct sq_stmt *
to_st(struct cv_db_stmt *st)
{
	return (struct sq_stmt *)st;
}

/*
 * Waiting for another connection's write lock: tries again every
 * millisecond, for busy_limit seconds at most. SQLite's own handler backs
 * off to 100 ms between tries, and a bulk load, which lets go of the lock
 * between its short transactions only briefly, then starves a server's
 * login for seconds.
 */
static int
busy(void *ctx, int tries)
{
	struct sq_db *d = ctx;

	if (tries == 0)
		d->busy_since = cv_now();
	else if (cv_now() - d->busy_since >= d->busy_limit)
		return 0;
	nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	return 1;
}

/*
 * The handle's message, and for an I/O error the system's reason with
 * it: SQLite says "disk I/O error" for a full disk (its shared-memory
 * file cannot grow), which hides what an operator must do. Only where
 * SQLite records a failed system call's errno (IOERR, CANTOPEN: it never
 * clears it, so not for FULL, whose message says it, nor for the IOERR
 * codes that are no failed call).
 */
static const char *
handle_msg(struct sq_db *d)
{
	int xc = sqlite3_extended_errcode(d->h), ec = xc & 0xff, e;

	if ((ec == SQLITE_IOERR || ec == SQLITE_CANTOPEN) &&
	    xc != SQLITE_IOERR_SHORT_READ && xc != SQLITE_IOERR_NOMEM &&
	    xc != SQLITE_IOERR_CORRUPTFS &&
	    (e = sqlite3_system_errno(d->h)) != 0) {
		snprintf(d->msg, sizeof d->msg, "%s (%s)",
		    sqlite3_errmsg(d->h), strerror(e));
		return d->msg;
	}
	return sqlite3_errmsg(d->h);
}

/*
 * RC as returned; an error the handle did not record itself (a failed
 * allocation before the call began, say) would read "not an error" or an
 * older error through sqlite3_errmsg, so its own text is kept instead.
 */
static int
rc_noted(struct sq_db *d, int rc)
{
	if (rc != SQLITE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE &&
	    (sqlite3_extended_errcode(d->h) & 0xff) != (rc & 0xff))
		d->err = sqlite3_errstr(rc);
	return rc;
}

static cv_err
sq_exec(struct cv_db *db, const char *sql)
{
	struct sq_db *d = to_db(db);

	d->err = NULL;
	return rc_noted(d, sqlite3_exec(d->h, sql, NULL, NULL, NULL)) ==
	    SQLITE_OK ? CV_OK : CV_ERR_STORE;
}

/* open's settings: the detail worded as the store did before the driver. */
static cv_err
setting(struct sq_db *d, const char *sql)
{
	if (sq_exec(&d->base, sql) != CV_OK)
		return cv_fail(CV_ERR_STORE, "database: %s",
		    d->err ? d->err : handle_msg(d));
	return CV_OK;
}

static void
sq_close(struct cv_db *db)
{
	struct sq_db *d = to_db(db);

	if (d == NULL)
		return;
	for (size_t i = 0; i < sizeof d->tx / sizeof d->tx[0]; i++)
		sqlite3_finalize(d->tx[i]);
	sqlite3_finalize(d->data_version);
	sqlite3_close(d->h);
	free(d);
}

static cv_err
sq_open(const char *target, unsigned flags, double busy_seconds,
    struct cv_db **out)
{
	struct sq_db *d;
	int oflags = SQLITE_OPEN_NOMUTEX;
	cv_err r = CV_ERR_STORE;

	*out = NULL;
	/* sqlite3_open_v2 ignores SQLITE_OPEN_EXCLUSIVE: the file is made
	 * here, empty (a new database to SQLite), or refused if it exists.
	 * 0644, as SQLite makes its own. */
	if (flags & CV_DB_CREATE) {
		int fd = open(target, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
		    0644);
		if (fd < 0)
			return cv_fail(errno == EEXIST ? CV_ERR_EXISTS :
			    CV_ERR_STORE, "cannot create %s: %s", target,
			    strerror(errno));
		(void)close(fd);
	}
	if ((d = calloc(1, sizeof *d)) == NULL)
		return CV_ERR_NOMEM;
	d->base.ops = &cv_db_sqlite;
	d->busy_limit = busy_seconds;
	oflags |= flags & CV_DB_READONLY ? SQLITE_OPEN_READONLY :
	    SQLITE_OPEN_READWRITE;
	if (flags & CV_DB_CREATE)
		oflags |= SQLITE_OPEN_CREATE;
	if (sqlite3_open_v2(target, &d->h, oflags, NULL) != SQLITE_OK) {
		r = cv_fail(CV_ERR_STORE, "cannot open %s: %s", target,
		    d->h ? handle_msg(d) : "out of memory");
		goto out;
	}
	sqlite3_extended_result_codes(d->h, 1);
	sqlite3_busy_handler(d->h, busy, d);
	/* Records are ~3 KiB: 4 KiB pages would hold one each and waste a
	 * quarter of the file. Only takes effect on a new database. */
	if ((flags & CV_DB_CREATE) &&
	    (r = setting(d, "PRAGMA page_size=16384")) != CV_OK)
		goto out;
	/*
	 * secure_delete: freed bytes (a shredded key, an old version) are
	 * zeroed in the file. temp_store: no temp files beside the vault
	 * (and none a sandboxed process could not open).
	 */
	if ((r = setting(d, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	    "PRAGMA secure_delete=ON; PRAGMA temp_store=MEMORY;"
	    "PRAGMA cache_size=-1048576; PRAGMA mmap_size=68719476736")) !=
	    CV_OK)
		goto out;
	*out = &d->base;
	d = NULL; /* transferred */
	r = CV_OK;
 out:
	sq_close(d ? &d->base : NULL);
	return r;
}

static cv_err
sq_prepare(struct cv_db *db, const char *sql, unsigned flags,
    struct cv_db_stmt **out)
{
	struct sq_db *d = to_db(db);
	struct sq_stmt *q;
	int rc;

	*out = NULL;
	d->err = NULL;
	if ((q = calloc(1, sizeof *q)) == NULL) {
		d->err = "out of memory";
		return CV_ERR_NOMEM;
	}
	if ((rc = rc_noted(d, sqlite3_prepare_v3(d->h, sql, -1,
	    flags & CV_DB_PERSISTENT ? SQLITE_PREPARE_PERSISTENT : 0, &q->h,
	    NULL))) != SQLITE_OK || q->h == NULL) {
		/* No statement at all (only blanks or a comment) is an
		 * error here: every step of it would fail anyway. */
		if (rc == SQLITE_OK)
			d->err = "no statement";
		free(q);
		return CV_ERR_STORE;
	}
	q->base.ops = &cv_db_sqlite;
	q->db = d;
	*out = &q->base;
	return CV_OK;
}

static void
sq_finalize(struct cv_db_stmt *st)
{
	struct sq_stmt *q = to_st(st);

	if (q == NULL)
		return;
	sqlite3_finalize(q->h);
	free(q);
}

static void
sq_reset(struct cv_db_stmt *st, int unbind)
{
	struct sq_stmt *q = to_st(st);

	sqlite3_reset(q->h);
	if (unbind)
		sqlite3_clear_bindings(q->h);
	q->bind_rc = SQLITE_OK;
}

static void
noted(struct sq_stmt *q, int rc)
{
	if (rc != SQLITE_OK && q->bind_rc == SQLITE_OK)
		q->bind_rc = rc;
}

static void
sq_bind_int64(struct cv_db_stmt *st, int i, int64_t v)
{
	noted(to_st(st), sqlite3_bind_int64(to_st(st)->h, i, v));
}

static void
sq_bind_text(struct cv_db_stmt *st, int i, const char *v)
{
	noted(to_st(st), sqlite3_bind_text(to_st(st)->h, i, v, -1, SQLITE_STATIC));
}

static void
sq_bind_blob(struct cv_db_stmt *st, int i, const void *p, size_t n)
{
	noted(to_st(st), sqlite3_bind_blob64(to_st(st)->h, i, p, n, SQLITE_STATIC));
}

static void
sq_bind_null(struct cv_db_stmt *st, int i)
{
	noted(to_st(st), sqlite3_bind_null(to_st(st)->h, i));
}

static enum cv_db_step
sq_step(struct cv_db_stmt *st)
{
	struct sq_stmt *q = to_st(st);
	int rc;

	if (q->bind_rc != SQLITE_OK) {
		/* Not run: a parameter is not what the caller meant. */
		q->db->err = sqlite3_errstr(q->bind_rc);
		q->bind_rc = SQLITE_OK;
		return CV_DB_ERROR;
	}
	q->db->err = NULL;
	switch ((rc = rc_noted(q->db, sqlite3_step(q->h)))) {
	case SQLITE_ROW:
		return CV_DB_ROW;
	case SQLITE_DONE:
		return CV_DB_DONE;
	case SQLITE_CONSTRAINT_PRIMARYKEY:
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_ROWID:
		return CV_DB_DUPLICATE;
	}
	return (rc & 0xff) == SQLITE_CONSTRAINT ? CV_DB_CONSTRAINT :
	    CV_DB_ERROR;
}

static int64_t
sq_column_int64(struct cv_db_stmt *st, int i)
{
	return sqlite3_column_int64(to_st(st)->h, i);
}

static const char *
sq_column_text(struct cv_db_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(to_st(st)->h, i);
}

static const void *
sq_column_blob(struct cv_db_stmt *st, int i)
{
	return sqlite3_column_blob(to_st(st)->h, i);
}

static size_t
sq_column_bytes(struct cv_db_stmt *st, int i)
{
	return (size_t)sqlite3_column_bytes(to_st(st)->h, i);
}

static int
sq_column_is_null(struct cv_db_stmt *st, int i)
{
	return sqlite3_column_type(to_st(st)->h, i) == SQLITE_NULL;
}

static int64_t
sq_changes(struct cv_db *db)
{
	return sqlite3_changes64(to_db(db)->h);
}

static int64_t
sq_last_insert_id(struct cv_db *db)
{
	return sqlite3_last_insert_rowid(to_db(db)->h);
}

/* Prepared statement *P for SQL, made on first use and kept. */
static int
kept(struct sq_db *d, const char *sql, sqlite3_stmt **p)
{
	if (*p != NULL)
		return SQLITE_OK;
	return rc_noted(d, sqlite3_prepare_v3(d->h, sql, -1,
	    SQLITE_PREPARE_PERSISTENT, p, NULL));
}

static cv_err
tx(struct cv_db *db, int which)
{
	struct sq_db *d = to_db(db);
	int rc;

	d->err = NULL;
	if (kept(d, tx_sql[which], &d->tx[which]) != SQLITE_OK)
		return CV_ERR_STORE;
	rc = rc_noted(d, sqlite3_step(d->tx[which]));
	/* The reset keeps the step's error for sqlite3_errmsg. */
	sqlite3_reset(d->tx[which]);
	return rc == SQLITE_DONE ? CV_OK : CV_ERR_STORE;
}

static cv_err
sq_begin(struct cv_db *db, enum cv_db_tx how)
{
	return tx(db, how == CV_DB_IMMEDIATE ? TX_IMMEDIATE : TX_DEFERRED);
}

static cv_err
sq_commit(struct cv_db *db)
{
	return tx(db, TX_COMMIT);
}

static cv_err
sq_rollback(struct cv_db *db)
{
	return tx(db, TX_ROLLBACK);
}

/*
 * data_version moves when another connection commits, total_changes
 * when this one writes: a cache keyed by the pair is good until either
 * moves.
 */
static cv_err
sq_epoch(struct cv_db *db, int64_t *data, int64_t *changes)
{
	struct sq_db *d = to_db(db);
	int rc;

	*data = *changes = 0;
	d->err = NULL;
	if (kept(d, "PRAGMA data_version", &d->data_version) != SQLITE_OK)
		return CV_ERR_STORE;
	if ((rc = rc_noted(d, sqlite3_step(d->data_version))) == SQLITE_ROW)
		*data = sqlite3_column_int64(d->data_version, 0);
	sqlite3_reset(d->data_version);
	if (rc != SQLITE_ROW)
		return CV_ERR_STORE;
	*changes = sqlite3_total_changes64(d->h);
	return CV_OK;
}

static const char *
sq_errmsg(struct cv_db *db)
{
	struct sq_db *d = to_db(db);

	return d->err ? d->err : handle_msg(d);
}

static cv_err
sq_durability(struct cv_db *db, int full)
{
	return sq_exec(db, full ? "PRAGMA synchronous=FULL" :
	    "PRAGMA synchronous=NORMAL");
}

static cv_err
sq_checkpoint(struct cv_db *db)
{
	return sq_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
}

#define PAGES_PER_STEP 1024

/* Through SQLite's online backup API. */
static cv_err
sq_backup(struct cv_db *db, const char *path,
    void (*progress)(void *ctx, uint64_t done, uint64_t total), void *ctx)
{
	struct sq_db *d = to_db(db);
	sqlite3 *dst = NULL;
	sqlite3_backup *b = NULL;
	int rc, open_read = 0;
	cv_err r = CV_ERR_STORE;

	d->err = NULL;
	/*
	 * One read transaction around every step: in WAL mode it pins one
	 * snapshot, so writers go on (into the WAL) and the copy is of one
	 * moment. Without it each step reads anew, and every write by
	 * another connection would restart the copy from the first page.
	 */
	if (rc_noted(d, sqlite3_exec(d->h, "BEGIN; SELECT count(*) FROM "
	    "sqlite_schema", NULL, NULL, NULL)) != SQLITE_OK) {
		r = cv_fail(CV_ERR_STORE, "backup: cannot start a read: %s",
		    sq_errmsg(&d->base));
		goto out;
	}
	open_read = 1;
	if (sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_EXCLUSIVE, NULL) != SQLITE_OK) {
		r = cv_fail(CV_ERR_STORE, "cannot create %s: %s", path,
		    dst ? sqlite3_errmsg(dst) : "out of memory");
		goto out;
	}
	if ((b = sqlite3_backup_init(dst, "main", d->h, "main")) == NULL) {
		r = cv_fail(CV_ERR_STORE, "backup: %s", sqlite3_errmsg(dst));
		goto out;
	}
	do {
		rc = sqlite3_backup_step(b, PAGES_PER_STEP);
		if (progress && (rc == SQLITE_OK || rc == SQLITE_DONE))
			progress(ctx, (uint64_t)(sqlite3_backup_pagecount(b) -
			    sqlite3_backup_remaining(b)),
			    (uint64_t)sqlite3_backup_pagecount(b));
	} while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
	if (rc != SQLITE_DONE) {
		r = cv_fail(CV_ERR_STORE, "backup to %s: %s", path,
		    sqlite3_errstr(rc));
		goto out;
	}
	(void)sqlite3_backup_finish(b);
	b = NULL;
	/* The copy is a database of its own, in one file: no WAL beside it,
	 * on disk before the backup says it is done. */
	if (sqlite3_exec(dst, "PRAGMA journal_mode=DELETE; "
	    "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK) {
		r = cv_fail(CV_ERR_STORE, "backup %s: %s", path,
		    sqlite3_errmsg(dst));
		goto out;
	}
	r = CV_OK;
 out:
	if (b)
		(void)sqlite3_backup_finish(b);
	if (dst && sqlite3_close(dst) != SQLITE_OK && r == CV_OK)
		r = cv_fail(CV_ERR_STORE, "cannot close %s", path);
	if (open_read)
		(void)sqlite3_exec(d->h, "COMMIT", NULL, NULL, NULL);
	if (r != CV_OK && dst)
		(void)unlink(path);
	return r;
}

const struct cv_db_ops cv_db_sqlite = {
	.dialect = CV_DB_SQLITE,
	.open = sq_open,
	.close = sq_close,
	.exec = sq_exec,
	.prepare = sq_prepare,
	.finalize = sq_finalize,
	.reset = sq_reset,
	.bind_int64 = sq_bind_int64,
	.bind_text = sq_bind_text,
	.bind_blob = sq_bind_blob,
	.bind_null = sq_bind_null,
	.step = sq_step,
	.column_int64 = sq_column_int64,
	.column_text = sq_column_text,
	.column_blob = sq_column_blob,
	.column_bytes = sq_column_bytes,
	.column_is_null = sq_column_is_null,
	.changes = sq_changes,
	.last_insert_id = sq_last_insert_id,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.epoch = sq_epoch,
	.errmsg = sq_errmsg,
	.durability = sq_durability,
	.checkpoint = sq_checkpoint,
	.backup = sq_backup,
};
