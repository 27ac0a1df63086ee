/*
 * The two-person unlock shared by every node of a PostgreSQL vault. A lock
 * is a row (guard_locks, guard.c) that every node obeys; the approvals
 * that lift it are rows too, so that two officers may approve on any two
 * nodes, and a lock decided by a node that has since died can still be
 * lifted. Each node's own guard learns of an unlock from guard_unlocked
 * (cv_store_guard_unlocked, from its tick), which names the row lifted by
 * its time (since, on the database's clock): the node drops the lock it
 * holds in memory only if it wrote or joined that row, at that time or
 * before; a lock whose row it could not write is never dropped so. A
 * SQLite vault has one server and
 * its approvals in its guard's memory: none of this exists there.
 */
#include <stdio.h>
#include <string.h>

#include "store_internal.h"

/*
 * One approval, decided in one transaction under the lock row's own row
 * lock: approvals of one user on several nodes are taken one after the
 * other. An approval counts for the lock it was given for (since) and
 * for p_ttl, on the database's clock (one clock for every node); the second one by another officer deletes the lock row and
 * the approvals, and notes the unlock for the nodes' guards. Returns the
 * lifted row's since (> 0: unlocked), 0 first approval, -1 not locked,
 * -2 the officer is the user or is locked, -3 the officer's approval is
 * the pending one.
 */
/* Named in the function's body: a database with another body is given
 * this one when a store opens it. The sequence names lock rows (a row
 * made before it has its node's time in microseconds: smaller). */
#define UNLOCK_VERSION "cv_guard_unlock_approve v3."
#define PG_UNLOCK \
    "CREATE TABLE IF NOT EXISTS guard_unlocks(u TEXT NOT NULL," \
    " officer TEXT NOT NULL, since BIGINT NOT NULL, t BIGINT NOT NULL," \
    " PRIMARY KEY (u, officer));" \
    "CREATE TABLE IF NOT EXISTS guard_unlocked(u TEXT PRIMARY KEY," \
    " since BIGINT NOT NULL, t BIGINT NOT NULL);" \
    "ALTER TABLE guard_unlocked ADD COLUMN IF NOT EXISTS since BIGINT" \
    " NOT NULL DEFAULT 0;" \
    "CREATE SEQUENCE IF NOT EXISTS guard_lock_since START WITH" \
    " 4000000000000000;" \
    "CREATE INDEX IF NOT EXISTS guard_unlocked_t ON guard_unlocked(t);" \
    "DROP FUNCTION IF EXISTS cv_guard_unlock_approve(TEXT, TEXT, BIGINT);" \
    "CREATE FUNCTION cv_guard_unlock_approve(p_u TEXT, p_o TEXT,\n" \
    " p_ttl BIGINT) RETURNS BIGINT LANGUAGE plpgsql AS $$\n" \
    "DECLARE sn BIGINT; k INT;\n" \
    " -- " UNLOCK_VERSION "\n" \
    " p_now BIGINT := (extract(epoch FROM clock_timestamp()) * 1e6)::BIGINT;\n" \
    "BEGIN\n" \
    " SELECT since INTO sn FROM guard_locks WHERE u = p_u FOR UPDATE;\n" \
    " IF NOT FOUND THEN RETURN -1; END IF;\n" \
    " IF p_o = p_u OR EXISTS (SELECT 1 FROM guard_locks WHERE u = p_o) THEN\n" \
    "  RETURN -2;\n" \
    " END IF;\n" \
    " -- approvals of an earlier lock, or past their time, count no more\n" \
    " DELETE FROM guard_unlocks WHERE u = p_u AND (since <> sn OR\n" \
    "  t < p_now - p_ttl OR t > p_now);\n" \
    " INSERT INTO guard_unlocks VALUES (p_u, p_o, sn, p_now)\n" \
    "  ON CONFLICT DO NOTHING;\n" \
    " IF NOT FOUND THEN RETURN -3; END IF;\n" \
    " SELECT count(*) INTO k FROM guard_unlocks WHERE u = p_u;\n" \
    " IF k < 2 THEN RETURN 0; END IF;\n" \
    " DELETE FROM guard_locks WHERE u = p_u;\n" \
    " DELETE FROM guard_unlocks WHERE u = p_u;\n" \
    " INSERT INTO guard_unlocked (u, since, t) VALUES (p_u, sn, p_now)\n" \
    "  ON CONFLICT (u)\n" \
    "  DO UPDATE SET since = excluded.since, t = excluded.t;\n" \
    " RETURN greatest(sn, 1);\n" \
    "END $$;"

const char *const store_unlocks_schema[2] = {
	[CV_DB_SQLITE] = "",
	[CV_DB_POSTGRESQL] = PG_UNLOCK,
};

cv_err
store_unlocks_upgrade(struct cv_store *s)
{
	struct cv_db_stmt *st;
	int rc;

	if (!cv_store_shared(s))
		return CV_OK;
	if (store_stmt(s, "SELECT 1 FROM pg_proc WHERE proname ="
	    " 'cv_guard_unlock_approve' AND position('" UNLOCK_VERSION "' IN"
	    " prosrc) > 0", &st) != CV_OK)
		return cv_fail(CV_ERR_STORE, "guard: %s", db_errmsg(s->db));
	rc = db_step(st);
	store_release(st);
	if (rc == CV_DB_ROW)
		return CV_OK;
	if (rc != CV_DB_DONE)
		return cv_fail(CV_ERR_STORE, "guard: %s", db_errmsg(s->db));
	/* Not made (a role without the right): the older function, or none,
	 * stays; new lock rows cannot be named (no sequence) and hold on
	 * their nodes only. Fails closed either way; said on stderr. */
	if (db_begin(s->db, CV_DB_IMMEDIATE) == CV_OK &&
	    db_exec(s->db, PG_UNLOCK) == CV_OK && db_commit(s->db) == CV_OK)
		return CV_OK;
	fprintf(stderr, "clearvault: cannot make the shared unlock's function "
	    "(unlocks refused until a role that may opens the vault): %s\n",
	    db_errmsg(s->db));
	(void)db_rollback(s->db);
	return CV_OK;
}

cv_err
cv_store_guard_unlock_approve(struct cv_store *s, const char *user,
    const char *officer, int64_t ttl_us, int64_t *lifted)
{
	struct cv_db_stmt *st;
	int64_t v = 0;
	int rc;
	cv_err r = CV_OK;

	*lifted = 0;
	if (!cv_store_shared(s))
		return cv_fail(CV_ERR_INVALID, "the shared guard needs a "
		    "PostgreSQL vault");
	if (store_stmt(s, "SELECT cv_guard_unlock_approve(?1, ?2, ?3)",
	    &st) != CV_OK)
		return cv_fail(CV_ERR_STORE, "guard: %s", db_errmsg(s->db));
	db_bind_text(st, 1, user);
	db_bind_text(st, 2, officer);
	db_bind_int64(st, 3, ttl_us);
	if ((rc = db_step(st)) == CV_DB_ROW)
		v = db_column_int64(st, 0);
	else
		r = cv_fail(CV_ERR_STORE, "guard: %s", db_errmsg(s->db));
	store_release(st);
	if (rc != CV_DB_ROW)
		return r;
	if (v >= 0) {
		*lifted = v;
		return CV_OK;
	}
	switch (v) {
	case -1:
		return cv_fail(CV_ERR_NOT_FOUND, "guard: %s is not locked",
		    user);
	case -2:
		return cv_fail(CV_ERR_AUTH, "guard: the officer is the user or "
		    "is locked");
	default:
		return cv_fail(CV_ERR_EXISTS, "guard: the second approval must "
		    "come from another officer");
	}
}

cv_err
cv_store_guard_unlock_pending(struct cv_store *s, const char *user,
    int64_t ttl_us, int *n)
{
	struct cv_db_stmt *st;
	int rc;
	cv_err r = CV_OK;

	*n = 0;
	if (!cv_store_shared(s))
		return cv_fail(CV_ERR_INVALID, "the shared guard needs a "
		    "PostgreSQL vault");
	/* As cv_guard_unlock_approve counts them: of this lock row, not
	 * past their time on the database's clock. */
	if (store_stmt(s, "SELECT count(*) FROM guard_unlocks a JOIN"
	    " guard_locks l ON a.u = l.u AND a.since = l.since WHERE"
	    " a.u = ?1 AND a.t >= (extract(epoch FROM clock_timestamp()) *"
	    " 1e6)::BIGINT - ?2", &st) != CV_OK)
		return cv_fail(CV_ERR_STORE, "guard: %s", db_errmsg(s->db));
	db_bind_text(st, 1, user);
	db_bind_int64(st, 2, ttl_us);
	if ((rc = db_step(st)) == CV_DB_ROW)
		*n = (int)db_column_int64(st, 0);
	else
		r = cv_fail(CV_ERR_STORE, "guard: %s", db_errmsg(s->db));
	store_release(st);
	return r;
}

/* How far back the unlocks are read again: one whose approval began
 * before a later one (its time) but committed after that one was read. */
#define UNLOCKED_MARGIN_US (600 * 1000000LL)

cv_err
cv_store_guard_unlocked(struct cv_store *s, int64_t *after_us,
    void (*fn)(void *ctx, const char *user, int64_t since), void *ctx)
{
	struct cv_db_stmt *st;
	int64_t last = *after_us;
	int rc;

	if (!cv_store_shared(s))
		return CV_OK;
	if (store_stmt(s, "SELECT u, t, since FROM guard_unlocked WHERE t > ?1"
	    " ORDER BY t", &st) != CV_OK)
		return cv_fail(CV_ERR_STORE, "guard: %s", db_errmsg(s->db));
	db_bind_int64(st, 1, *after_us - UNLOCKED_MARGIN_US);
	while ((rc = db_step(st)) == CV_DB_ROW) {
		const char *u = db_column_text(st, 0);
		int64_t t = db_column_int64(st, 1);

		if (u != NULL)
			fn(ctx, u, db_column_int64(st, 2));
		if (t > last)
			last = t;
	}
	store_release(st);
	if (rc != CV_DB_DONE)
		return cv_fail(CV_ERR_STORE, "guard: %s", db_errmsg(s->db));
	*after_us = last;
	return CV_OK;
}
