/*
 * Sessions every node of a vault shares: a row per live session, keyed by
 * the SHA-256 of its bearer token (the token is never stored). The rows
 * are the truth; auth keeps a copy per node for at most a second
 * (auth/session.c).
 */
#include <stdio.h>
#include <string.h>

#include "store_internal.h"

/* Made where missing in an older SQLite vault (store.c's upgrade). */
#define SCHEMA(D) \
    "CREATE TABLE IF NOT EXISTS sessions(hash " D##_BLOB " PRIMARY KEY," \
    " id TEXT NOT NULL, \"user\" TEXT NOT NULL REFERENCES users(name)," \
    " role TEXT NOT NULL, cert TEXT NOT NULL," \
    " created_us " D##_INT " NOT NULL, used_us " D##_INT " NOT NULL," \
    " expires_us " D##_INT " NOT NULL," \
    " stepped_up_us " D##_INT " NOT NULL);" \
    "CREATE INDEX IF NOT EXISTS sessions_user ON sessions(\"user\");"

const char *const store_sessions_schema[2] = {
	[CV_DB_SQLITE] = SCHEMA(SQ),
	[CV_DB_POSTGRESQL] = SCHEMA(PG),
};

static cv_err
prep(struct cv_store *s, const char *q, struct cv_db_stmt **st)
{
	if (store_stmt(s, q, st) != CV_OK)
		return cv_fail(CV_ERR_STORE, "sessions: %s",
		    db_errmsg(s->db));
	return CV_OK;
}

/* Runs ST to its end and releases it. */
static cv_err
run(struct cv_store *s, struct cv_db_stmt *st)
{
	int rc = db_step(st);
	cv_err r = CV_OK;

	if (rc == CV_DB_DUPLICATE)
		r = cv_fail(CV_ERR_EXISTS, "sessions: already exists");
	else if (rc != CV_DB_DONE)
		r = cv_fail(CV_ERR_STORE, "sessions: %s", db_errmsg(s->db));
	store_release(st);
	return r;
}

cv_err
cv_store_session_put(struct cv_store *s, const struct cv_store_session *ss,
    int64_t now_us)
{
	struct cv_db_stmt *st;
	cv_err r;

	/* The ended and expired go first: the table holds live ones only. */
	if ((r = prep(s, "DELETE FROM sessions WHERE expires_us < ?1 OR "
	    "used_us < ?2", &st)) != CV_OK)
		return r;
	db_bind_int64(st, 1, now_us);
	db_bind_int64(st, 2, now_us - CV_STORE_SESSION_IDLE_US);
	if ((r = run(s, st)) != CV_OK ||
	    (r = prep(s, "INSERT INTO sessions VALUES (?1, ?2, ?3, ?4, ?5, "
	    "?6, ?7, ?8, ?9)", &st)) != CV_OK)
		return r;
	db_bind_blob(st, 1, ss->hash, sizeof ss->hash);
	db_bind_text(st, 2, ss->id);
	db_bind_text(st, 3, ss->user);
	db_bind_text(st, 4, ss->role);
	db_bind_text(st, 5, ss->cert);
	db_bind_int64(st, 6, ss->created_us);
	db_bind_int64(st, 7, ss->used_us);
	db_bind_int64(st, 8, ss->expires_us);
	db_bind_int64(st, 9, ss->stepped_up_us);
	return run(s, st);
}

static void
column_text(struct cv_db_stmt *st, int i, char *out, size_t size)
{
	const char *t = db_column_text(st, i);

	snprintf(out, size, "%s", t ? t : "");
}

cv_err
cv_store_session_get(struct cv_store *s,
    const uint8_t hash[static CV_STORE_SESSION_HASH],
    struct cv_store_session *out)
{
	struct cv_db_stmt *st;
	int rc;
	cv_err r;

	memset(out, 0, sizeof *out);
	if ((r = prep(s, "SELECT id, \"user\", role, cert, created_us, "
	    "used_us, expires_us, stepped_up_us FROM sessions WHERE "
	    "hash = ?1", &st)) != CV_OK)
		return r;
	db_bind_blob(st, 1, hash, CV_STORE_SESSION_HASH);
	if ((rc = db_step(st)) == CV_DB_ROW) {
		memcpy(out->hash, hash, sizeof out->hash);
		column_text(st, 0, out->id, sizeof out->id);
		column_text(st, 1, out->user, sizeof out->user);
		column_text(st, 2, out->role, sizeof out->role);
		column_text(st, 3, out->cert, sizeof out->cert);
		out->created_us = db_column_int64(st, 4);
		out->used_us = db_column_int64(st, 5);
		out->expires_us = db_column_int64(st, 6);
		out->stepped_up_us = db_column_int64(st, 7);
	} else if (rc == CV_DB_DONE)
		r = CV_ERR_NOT_FOUND;
	else
		r = cv_fail(CV_ERR_STORE, "sessions: %s", db_errmsg(s->db));
	store_release(st);
	return r;
}

cv_err
cv_store_session_touch(struct cv_store *s,
    const uint8_t hash[static CV_STORE_SESSION_HASH], int64_t used_us,
    int64_t stepped_up_us)
{
	struct cv_db_stmt *st;
	cv_err r;

	/* Inside the caller's transaction (a GET's read snapshot), a
	 * savepoint: on PostgreSQL a failed statement (another node's touch
	 * of the same row) would abort the whole transaction, and the
	 * request with it, for a timestamp. */
	if (s->in_tx && db_exec(s->db, "SAVEPOINT cv_touch") != CV_OK)
		return cv_fail(CV_ERR_STORE, "sessions: %s", db_errmsg(s->db));
	/* Never backwards: another node may have written a later time. */
	if ((r = prep(s, "UPDATE sessions SET used_us = CASE WHEN ?2 > "
	    "used_us THEN ?2 ELSE used_us END, stepped_up_us = CASE WHEN ?3 > "
	    "stepped_up_us THEN ?3 ELSE stepped_up_us END WHERE hash = ?1",
	    &st)) == CV_OK) {
		db_bind_blob(st, 1, hash, CV_STORE_SESSION_HASH);
		db_bind_int64(st, 2, used_us);
		db_bind_int64(st, 3, stepped_up_us);
		if ((r = run(s, st)) == CV_OK && db_changes(s->db) == 0)
			r = CV_ERR_NOT_FOUND;
	}
	if (s->in_tx) {
		if (r != CV_OK && r != CV_ERR_NOT_FOUND)
			(void)db_exec(s->db, "ROLLBACK TO SAVEPOINT cv_touch");
		(void)db_exec(s->db, "RELEASE SAVEPOINT cv_touch");
	}
	return r;
}

cv_err
cv_store_session_end_user(struct cv_store *s, const char *user)
{
	struct cv_db_stmt *st;
	cv_err r;

	if ((r = prep(s, "DELETE FROM sessions WHERE \"user\" = ?1", &st)) !=
	    CV_OK)
		return r;
	db_bind_text(st, 1, user);
	return run(s, st);
}
