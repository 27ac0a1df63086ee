/*
 * Private to the PostgreSQL driver (db_pg.c, db_pg_open.c): its
 * connection and statement, and what both files use.
 */
#ifndef CV_STORE_DB_PG_INTERNAL_H
#define CV_STORE_DB_PG_INTERNAL_H

#include <libpq-fe.h>

#include "db.h"

struct pg_db {
	struct cv_db base;	/* first: a cv_db * is a pg_db * */
	PGconn *c;
	unsigned next_name;	/* for the next statement's name */
	int64_t changes;	/* rows of the last INSERT, UPDATE or DELETE */
	int64_t total;		/* every row this connection changed (epoch) */
	/* Prepared once per connection, as the SQLite driver's PRAGMA. */
	struct cv_db_stmt *epoch, *lastval;
	struct pg_copy *copy;	/* a running bulk write (db_pg_copy.c) */
	/* The epoch read with a read transaction's BEGIN (one round trip
	 * for both), good until the next statement: -1 when none. */
	int64_t begun_epoch;
	struct pg_follow *follow;	/* the epoch's watcher, or NULL */
	/* What the open SET (pgdb_open), checked before a statement the
	 * server lost is prepared again (db_pg.c: again) */
	long lock_ms;
	int readonly;
	unsigned lost_gen;	/* moved by each statement found lost */
	char err[512];		/* the last failure's text */
};

struct pg_stmt {
	struct cv_db_stmt base;	/* first, as above */
	struct pg_db *db;
	char name[16];
	char *text;		/* as prepared: to prepare it again */
	/* The connection's lost_gen when last prepared: another means the
	 * server may no longer have it (db_pg.c: again) */
	unsigned gen;
	int n;			/* parameters: $1 .. $n */
	/* PQexecPrepared's arrays; a NULL value is an SQL NULL (as an
	 * unbound parameter is on SQLite). Text and blobs point at the
	 * caller's bytes (db.h: not copied), integers at num. */
	const char **val;
	int *len, *fmt;
	char (*num)[24];
	const char *bind_err;	/* the first failed bind since the reset */
	PGresult *res;		/* the running statement's rows, or NULL */
	int row;		/* the current one */
};

static inline struct pg_db *
to_db(struct cv_db *db)
{
	return (struct pg_db *)db;
}

static inline struct pg_stmt *
to_st(struct cv_db_stmt *st)
{
	return (struct pg_stmt *)st;
}

/* The last failure's text on D: TEXT, or RES's primary message (or the
 * connection's when RES has none). */
void pgdb_set_err(struct pg_db *d, const char *text);
void pgdb_result_err(struct pg_db *d, const PGresult *res);
/* Runs SQL (no parameters, maybe several statements) through the simple
 * protocol. CV_OK when it ran; CV_ERR_STORE with the failure on D. */
cv_err pgdb_simple(struct pg_db *d, const char *sql);
/* Frees Q's memory; the server's statement is left as it is. */
void pgdb_drop(struct pg_stmt *q);
/* Whether C still has the settings pgdb_open gave it (READONLY, WANT_MS):
 * after a statement found lost, a DISCARD ALL may have reset them too
 * (synchronous_commit among them), and then nothing more may run on it.
 * CV_ERR_STORE, with the reason in ERR (ERRLEN bytes), if not. */
cv_err pgdb_intact(PGconn *c, int readonly, long want_ms, char *err,
    size_t errlen);

/* db.h's open and close (db_pg_open.c). */
cv_err pgdb_open(const char *target, unsigned flags, double busy_seconds,
    struct cv_db **out);
void pgdb_close(struct cv_db *db);

/* The epoch's watcher (db_pg_follow.c): the last value it read, -1 when
 * it has none it can vouch for (a notice came, or it stopped). */
int64_t pgdb_followed(const struct pg_follow *f);
cv_err pgdb_follow_new(const char *target, double busy_seconds,
    struct cv_db_follow **out);
void pgdb_follow_free(struct cv_db_follow *f);
void pgdb_follow_use(struct cv_db *db, struct cv_db_follow *f);
void pgdb_follow_moved(struct cv_db_follow *f);
/* cv_epoch_bump's body (db_pg_open.c), for a new database and an older
 * one's upgrade. */
extern const char pgdb_epoch_bump[];

/* db.h's bulk rows, through COPY (db_pg_copy.c); and the state of one
 * that is running, freed (NULL is fine). */
struct pg_copy;
cv_err pgdb_bulk_begin(struct cv_db *db, const char *table, int ncols);
cv_err pgdb_bulk_row(struct cv_db *db, const struct cv_db_value *row);
cv_err pgdb_bulk_end(struct cv_db *db, int ok, int64_t *rows);
void pgdb_copy_free(struct pg_copy *c);

#endif
