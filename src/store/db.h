/*
 * The store's database driver (private to src/store/): a statement-level
 * interface under the store's functions, so that each of them is written
 * once, against this, and runs on any backend. A driver is a table of
 * operations (struct cv_db_ops); db_sqlite.c is the SQLite one, the only
 * file that names SQLite, db_pg.c and db_pg_open.c the PostgreSQL one.
 * Nothing above the store sees a driver.
 *
 * SQL is the store's own text, one string per statement where the two
 * dialects agree (most: ON CONFLICT upserts, COALESCE, FILTER). Parameters
 * are written `?N` (1-based); the PostgreSQL driver rewrites them to `$N`
 * once, at prepare. Where the dialects differ (column types, the rowid)
 * the store picks a string by db_sql(). Columns are numbered from 0,
 * parameters from 1, as in SQLite.
 *
 * Errors: operations that can fail return a cv_err without setting the
 * detail (cv_fail): the store words the message, with db_errmsg() for
 * the driver's own text ("users: UNIQUE constraint failed: ..."), as it
 * did when it called SQLite itself. Only open and backup, which have no
 * connection to ask, set the detail themselves.
 *
 * One connection is used by one thread at a time (as a cv_store).
 */
#ifndef CV_STORE_DB_H
#define CV_STORE_DB_H

#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"

/*
 * What every driver's connection and statement begin with: the wrappers
 * below reach the driver through it (one load and one indirect call; the
 * SQLite path pays nothing else). The rest of either struct is the
 * driver's and opaque to the store.
 */
struct cv_db {
	const struct cv_db_ops *ops;
};
struct cv_db_stmt {
	const struct cv_db_ops *ops;
};
/* A process's watcher of one database's epoch (follow_new). */
struct cv_db_follow {
	const struct cv_db_ops *ops;
};

/* open's flags. */
enum {
	CV_DB_CREATE = 1 << 0,	  /* a new database; refuse an existing one */
	CV_DB_READONLY = 1 << 1, /* every write fails */
};

/* prepare's flags. */
enum {
	/* Kept for the connection's life (the store's statement cache):
	 * a driver may place it where a one-off would not go. */
	CV_DB_PERSISTENT = 1 << 0,
};

/* What a step gave. Every failure is negative. */
enum cv_db_step {
	CV_DB_DONE = 0,		/* the statement has finished */
	CV_DB_ROW = 1,		/* a row is there to read with db_column_* */
	CV_DB_ERROR = -1,	/* anything else: db_errmsg() says what */
	CV_DB_DUPLICATE = -2,	/* a primary key or unique key was taken */
	CV_DB_CONSTRAINT = -3,	/* another constraint (NOT NULL, CHECK) */
};

/* Whose SQL a driver speaks: db_sql() picks the store's text by it. */
enum cv_db_dialect {
	CV_DB_SQLITE,
	CV_DB_POSTGRESQL,
};

enum cv_db_tx {
	CV_DB_DEFERRED,		/* locks taken as statements need them */
	CV_DB_IMMEDIATE,	/* the write lock now, waiting as open says */
};

/* A value of a bulk row (bulk_row below), typed as its column. */
enum cv_db_vtype {
	CV_DB_V_NULL,
	CV_DB_V_INT64,		/* i */
	CV_DB_V_TEXT,		/* p: NUL-terminated UTF-8 */
	CV_DB_V_BLOB,		/* p, n bytes */
};
struct cv_db_value {
	enum cv_db_vtype type;
	int64_t i;
	const void *p;
	size_t n;
};

struct cv_db_ops {
	enum cv_db_dialect dialect;
	/*
	 * Connects to TARGET (for SQLite a file's path, for PostgreSQL a
	 * libpq URI or conninfo) with CV_DB_* FLAGS.
	 * Waiting for another connection's lock (a step, begin or commit)
	 * lasts BUSY_SECONDS at most, then that call fails. The driver
	 * applies its own settings (SQLite: WAL, synchronous=FULL,
	 * secure_delete, ...) before returning. CV_ERR_STORE (or
	 * CV_ERR_NOMEM) with the detail set; *OUT is NULL on failure.
	 */
	cv_err (*open)(const char *target, unsigned flags, double busy_seconds,
	    struct cv_db **out);
	/* Every statement must be finalized first. NULL is a no-op. */
	void (*close)(struct cv_db *db);
	/* Runs SQL, which may be several statements (a schema), no rows. */
	cv_err (*exec)(struct cv_db *db, const char *sql);
	/* Compiles SQL, one statement, CV_DB_* FLAGS. CV_ERR_STORE. */
	cv_err (*prepare)(struct cv_db *db, const char *sql, unsigned flags,
	    struct cv_db_stmt **out);
	void (*finalize)(struct cv_db_stmt *st);
	/* Back to before its first step; UNBIND: every parameter NULL. */
	void (*reset)(struct cv_db_stmt *st, int unbind);

	/*
	 * Binds parameter I (from 1). Text and blobs are not copied: they
	 * must stay as they are until the statement is reset or the
	 * parameter bound again. A bind does not fail by itself: a failed
	 * one (an index out of range, a value too big, no memory) makes the
	 * statement's next step fail.
	 */
	void (*bind_int64)(struct cv_db_stmt *st, int i, int64_t v);
	void (*bind_text)(struct cv_db_stmt *st, int i, const char *v);
	void (*bind_blob)(struct cv_db_stmt *st, int i, const void *p,
	    size_t n);
	void (*bind_null)(struct cv_db_stmt *st, int i);

	enum cv_db_step (*step)(struct cv_db_stmt *st);

	/*
	 * Column I (from 0) of the current row. Text and blobs belong to
	 * the statement and last until its next step or reset. A NULL
	 * reads as 0, NULL text, a NULL blob of 0 bytes.
	 */
	int64_t (*column_int64)(struct cv_db_stmt *st, int i);
	const char *(*column_text)(struct cv_db_stmt *st, int i);
	const void *(*column_blob)(struct cv_db_stmt *st, int i);
	size_t (*column_bytes)(struct cv_db_stmt *st, int i);
	int (*column_is_null)(struct cv_db_stmt *st, int i);

	/* Rows changed by the last INSERT, UPDATE or DELETE that ran. */
	int64_t (*changes)(struct cv_db *db);
	/* The key the last INSERT gave its row (an INTEGER PRIMARY KEY). */
	int64_t (*last_insert_id)(struct cv_db *db);

	cv_err (*begin)(struct cv_db *db, enum cv_db_tx how);
	cv_err (*commit)(struct cv_db *db);
	cv_err (*rollback)(struct cv_db *db);

	/*
	 * What cv_store_epoch reports: *DATA changes when another
	 * connection commits (SQLite: PRAGMA data_version, any commit;
	 * PostgreSQL: a commit that changed a table carrying the driver's
	 * trigger cv_epoch_bump, see db_pg.c), *CHANGES counts this
	 * connection's own changed rows, so the pair moves on any such
	 * commit by anyone. Neither moves on a read or a rollback.
	 */
	cv_err (*epoch)(struct cv_db *db, int64_t *data, int64_t *changes);
	/*
	 * Watches TARGET's epoch (the DATA half) for the connections of
	 * this process that are given it (follow_use): a connection of its
	 * own and a thread, told of every commit that moves it, so that
	 * epoch outside a transaction costs those connections no round
	 * trip. It lags a commit by the time its notice takes to arrive
	 * (PostgreSQL: LISTEN, and the trigger's NOTIFY; asked again at
	 * least every quarter second whatever arrives); when its own
	 * connection fails it stops and they ask for themselves again.
	 * NULL where asking costs nothing (SQLite: a PRAGMA in the
	 * process). CV_ERR_STORE with the detail set.
	 */
	cv_err (*follow_new)(const char *target, double busy_seconds,
	    struct cv_db_follow **out);
	/* Stops and frees F; the connections given it must be closed or
	 * given NULL first. NULL is a no-op. */
	void (*follow_free)(struct cv_db_follow *f);
	/* DB answers epoch from F (NULL: asks again) from now on. */
	void (*follow_use)(struct cv_db *db, struct cv_db_follow *f);
	/* This process committed a change to the watched tables: F's value
	 * is not used until it has been read again after this call. */
	void (*follow_moved)(struct cv_db_follow *f);

	/* The driver's text for the last failure on DB. Never NULL. */
	const char *(*errmsg)(struct cv_db *db);

	/*
	 * FULL: each commit is on disk before it returns (the default);
	 * otherwise a crash may lose the last commits but never corrupts
	 * (a bulk load's middle transactions: vault/load.c).
	 */
	cv_err (*durability)(struct cv_db *db, int full);
	/* Folds what the driver keeps aside (SQLite: the WAL) into the
	 * database proper, so that a copy of the files is whole
	 * (PostgreSQL: nothing to do, its WAL is the server's). */
	cv_err (*checkpoint)(struct cv_db *db);
	/*
	 * A consistent copy of the database at PATH (which must not exist)
	 * while others write to it; PROGRESS (may be NULL) as it goes.
	 * The detail is set on failure; a partial copy is removed.
	 * PostgreSQL refuses (pg_dump and pg_basebackup copy it).
	 */
	cv_err (*backup)(struct cv_db *db, const char *path,
	    void (*progress)(void *ctx, uint64_t done, uint64_t total),
	    void *ctx);

	/*
	 * Rows in bulk into TABLE (an identifier the store writes, never
	 * input), NCOLS values a row, in the table's column order:
	 * bulk_begin, bulk_row for each row, bulk_end. Nothing else runs on
	 * DB in between. Rows go out in large writes and the database
	 * answers once, at bulk_end (PostgreSQL: COPY FROM STDIN in the
	 * binary format); *ROWS is how many it took. After a failed
	 * bulk_row the caller still calls bulk_end, with OK 0: the rows
	 * are not stored, and on PostgreSQL the transaction has failed
	 * (roll it back). CV_ERR_STORE, db_errmsg() says why.
	 *
	 * NULL where a prepared insert is as fast (SQLite: in the process,
	 * a statement costs no round trip, and rows staged first would be
	 * written twice): the store then writes row by row.
	 */
	cv_err (*bulk_begin)(struct cv_db *db, const char *table, int ncols);
	cv_err (*bulk_row)(struct cv_db *db, const struct cv_db_value *row);
	cv_err (*bulk_end)(struct cv_db *db, int ok, int64_t *rows);
};

/* The drivers. */
extern const struct cv_db_ops cv_db_sqlite;
extern const struct cv_db_ops cv_db_postgresql;

/*
 * The wrappers the store calls: each dispatches through the table, so
 * the store's code reads as it did on SQLite and never names a driver.
 */
static inline cv_err
db_open(const struct cv_db_ops *ops, const char *target, unsigned flags,
    double busy_seconds, struct cv_db **out)
{
	return ops->open(target, flags, busy_seconds, out);
}

static inline void
db_close(struct cv_db *db)
{
	if (db)
		db->ops->close(db);
}

/* SQLITE's text or PG's, as DB's dialect wants. Both must be string
 * literals (the statement cache tells statements apart by address). */
static inline const char *
db_sql(const struct cv_db *db, const char *sqlite, const char *pg)
{
	return db->ops->dialect == CV_DB_POSTGRESQL ? pg : sqlite;
}

static inline cv_err
db_exec(struct cv_db *db, const char *sql)
{
	return db->ops->exec(db, sql);
}

static inline cv_err
db_prepare(struct cv_db *db, const char *sql, unsigned flags,
    struct cv_db_stmt **out)
{
	return db->ops->prepare(db, sql, flags, out);
}

static inline void
db_finalize(struct cv_db_stmt *st)
{
	if (st)
		st->ops->finalize(st);
}

/* Keeps the bindings: the caller binds every parameter again. */
static inline void
db_reset(struct cv_db_stmt *st)
{
	st->ops->reset(st, 0);
}

static inline void
db_reset_unbind(struct cv_db_stmt *st)
{
	st->ops->reset(st, 1);
}

static inline void
db_bind_int64(struct cv_db_stmt *st, int i, int64_t v)
{
	st->ops->bind_int64(st, i, v);
}

static inline void
db_bind_text(struct cv_db_stmt *st, int i, const char *v)
{
	st->ops->bind_text(st, i, v);
}

static inline void
db_bind_blob(struct cv_db_stmt *st, int i, const void *p, size_t n)
{
	st->ops->bind_blob(st, i, p, n);
}

static inline void
db_bind_null(struct cv_db_stmt *st, int i)
{
	st->ops->bind_null(st, i);
}

static inline enum cv_db_step
db_step(struct cv_db_stmt *st)
{
	return st->ops->step(st);
}

static inline int64_t
db_column_int64(struct cv_db_stmt *st, int i)
{
	return st->ops->column_int64(st, i);
}

/* For flags and small counts. */
static inline int
db_column_int(struct cv_db_stmt *st, int i)
{
	return (int)st->ops->column_int64(st, i);
}

static inline const char *
db_column_text(struct cv_db_stmt *st, int i)
{
	return st->ops->column_text(st, i);
}

static inline const void *
db_column_blob(struct cv_db_stmt *st, int i)
{
	return st->ops->column_blob(st, i);
}

static inline size_t
db_column_bytes(struct cv_db_stmt *st, int i)
{
	return st->ops->column_bytes(st, i);
}

static inline int
db_column_is_null(struct cv_db_stmt *st, int i)
{
	return st->ops->column_is_null(st, i);
}

static inline int64_t
db_changes(struct cv_db *db)
{
	return db->ops->changes(db);
}

static inline int64_t
db_last_insert_id(struct cv_db *db)
{
	return db->ops->last_insert_id(db);
}

static inline cv_err
db_begin(struct cv_db *db, enum cv_db_tx how)
{
	return db->ops->begin(db, how);
}

static inline cv_err
db_commit(struct cv_db *db)
{
	return db->ops->commit(db);
}

static inline cv_err
db_rollback(struct cv_db *db)
{
	return db->ops->rollback(db);
}

static inline cv_err
db_epoch(struct cv_db *db, int64_t *data, int64_t *changes)
{
	return db->ops->epoch(db, data, changes);
}

/* Whether DB's driver keeps epochs on a watcher (follow_new). */
static inline int
db_can_follow(const struct cv_db *db)
{
	return db->ops->follow_new != NULL;
}

static inline cv_err
db_follow_new(const struct cv_db *db, const char *target, double busy_seconds,
    struct cv_db_follow **out)
{
	return db->ops->follow_new(target, busy_seconds, out);
}

static inline void
db_follow_use(struct cv_db *db, struct cv_db_follow *f)
{
	db->ops->follow_use(db, f);
}

static inline void
db_follow_moved(struct cv_db_follow *f)
{
	f->ops->follow_moved(f);
}

static inline void
db_follow_free(struct cv_db_follow *f)
{
	if (f)
		f->ops->follow_free(f);
}

static inline const char *
db_errmsg(struct cv_db *db)
{
	return db->ops->errmsg(db);
}

static inline cv_err
db_durability(struct cv_db *db, int full)
{
	return db->ops->durability(db, full);
}

static inline cv_err
db_checkpoint(struct cv_db *db)
{
	return db->ops->checkpoint(db);
}

static inline cv_err
db_backup(struct cv_db *db, const char *path,
    void (*progress)(void *ctx, uint64_t done, uint64_t total), void *ctx)
{
	return db->ops->backup(db, path, progress, ctx);
}

/* Whether DB's driver writes rows in bulk (bulk_begin). */
static inline int
db_can_bulk(const struct cv_db *db)
{
	return db->ops->bulk_begin != NULL;
}

static inline cv_err
db_bulk_begin(struct cv_db *db, const char *table, int ncols)
{
	return db->ops->bulk_begin(db, table, ncols);
}

static inline cv_err
db_bulk_row(struct cv_db *db, const struct cv_db_value *row)
{
	return db->ops->bulk_row(db, row);
}

static inline cv_err
db_bulk_end(struct cv_db *db, int ok, int64_t *rows)
{
	return db->ops->bulk_end(db, ok, rows);
}

#endif
