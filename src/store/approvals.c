/*
 * Two-person control: proposals waiting for a second person, and the
 * one-time enrolment codes of accounts that have no certificate yet.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

/* Written once for both dialects (store_internal.h); "user" quoted. */
#define SCHEMA(D) \
    "CREATE TABLE IF NOT EXISTS proposals(id " D##_ROWID "," \
    " kind TEXT NOT NULL, subject TEXT NOT NULL, args TEXT NOT NULL," \
    " proposer TEXT NOT NULL, created_us " D##_INT " NOT NULL," \
    " expires_us " D##_INT " NOT NULL, state TEXT NOT NULL DEFAULT" \
    " 'pending', approver TEXT NOT NULL DEFAULT '', decided_us " D##_INT \
    " NOT NULL DEFAULT 0, audit_index " D##_INT " NOT NULL DEFAULT -1);" \
    "CREATE INDEX IF NOT EXISTS proposals_state ON proposals(state, kind);" \
    /* An enrolment code is kept only as its hash: a copy of the \
     * database enrols nobody. */ \
    "CREATE TABLE IF NOT EXISTS enrolments(\"user\" TEXT PRIMARY KEY" \
    " REFERENCES users(name), code_hash " D##_BLOB " NOT NULL," \
    " expires_us " D##_INT " NOT NULL, fails " D##_INT " NOT NULL" \
    " DEFAULT 0);"

const char *const store_approvals_schema[2] = {
	[CV_DB_SQLITE] = SCHEMA(SQ),
	[CV_DB_POSTGRESQL] = SCHEMA(PG),
};

static cv_err
prep(struct cv_store *s, const char *q, struct cv_db_stmt **st)
{
	if (store_stmt(s, q, st) != CV_OK)
		return cv_fail(CV_ERR_STORE, "approvals: %s",
		    db_errmsg(s->db));
	return CV_OK;
}

/* Steps a statement that returns no row; releases it. */
static cv_err
done(struct cv_store *s, struct cv_db_stmt *st, int *changes)
{
	int rc = db_step(st);

	store_release(st);
	if (rc != CV_DB_DONE)
		return cv_fail(CV_ERR_STORE, "approvals: %s",
		    db_errmsg(s->db));
	if (changes)
		*changes = (int)db_changes(s->db);
	return CV_OK;
}

static void
text(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? (const char *)src : "");
}

cv_err
cv_store_proposal_add(struct cv_store *s, const struct cv_store_proposal *p,
    int64_t *id)
{
	struct cv_db_stmt *st;
	cv_err r;

	*id = 0;
	if ((r = prep(s, "INSERT INTO proposals(kind, subject, args, proposer,"
	    " created_us, expires_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", &st)) !=
	    CV_OK)
		return r;
	db_bind_text(st, 1, p->kind);
	db_bind_text(st, 2, p->subject);
	db_bind_text(st, 3, p->args ? p->args : "{}");
	db_bind_text(st, 4, p->proposer);
	db_bind_int64(st, 5, p->created_us);
	db_bind_int64(st, 6, p->expires_us);
	if ((r = done(s, st, NULL)) == CV_OK)
		*id = db_last_insert_id(s->db);
	return r;
}

#define PROPOSAL_COLS "id, kind, subject, args, proposer, created_us," \
	" expires_us, state, approver, decided_us, audit_index"

static cv_err
row_proposal(struct cv_db_stmt *st, struct cv_store_proposal *p)
{
	const char *args = db_column_text(st, 3);

	memset(p, 0, sizeof *p);
	p->id = db_column_int64(st, 0);
	text(p->kind, sizeof p->kind, db_column_text(st, 1));
	text(p->subject, sizeof p->subject, db_column_text(st, 2));
	if ((p->args = strdup(args ? (const char *)args : "{}")) == NULL)
		return CV_ERR_NOMEM;
	text(p->proposer, sizeof p->proposer, db_column_text(st, 4));
	p->created_us = db_column_int64(st, 5);
	p->expires_us = db_column_int64(st, 6);
	text(p->state, sizeof p->state, db_column_text(st, 7));
	text(p->approver, sizeof p->approver, db_column_text(st, 8));
	p->decided_us = db_column_int64(st, 9);
	p->audit_index = db_column_int64(st, 10);
	return CV_OK;
}

void
cv_store_proposal_clear(struct cv_store_proposal *p)
{
	if (p == NULL)
		return;
	free(p->args);
	memset(p, 0, sizeof *p);
}

cv_err
cv_store_proposal_get(struct cv_store *s, int64_t id,
    struct cv_store_proposal *p)
{
	struct cv_db_stmt *st;
	int rc;
	cv_err r;

	memset(p, 0, sizeof *p);
	if ((r = prep(s, "SELECT " PROPOSAL_COLS " FROM proposals WHERE"
	    " id = ?1", &st)) != CV_OK)
		return r;
	db_bind_int64(st, 1, id);
	if ((rc = db_step(st)) == CV_DB_ROW)
		r = row_proposal(st, p);
	else
		r = rc == CV_DB_DONE ? cv_fail(CV_ERR_NOT_FOUND, "no proposal "
		    "%lld", (long long)id) : cv_fail(CV_ERR_STORE,
		    "approvals: %s", db_errmsg(s->db));
	store_release(st);
	return r;
}

cv_err
cv_store_proposal_list(struct cv_store *s, int pending_only,
    int (*fn)(void *ctx, const struct cv_store_proposal *p), void *ctx)
{
	struct cv_store_proposal p;
	struct cv_db_stmt *st;
	int rc, stop = 0;
	cv_err r;

	if ((r = prep(s, "SELECT " PROPOSAL_COLS " FROM proposals WHERE"
	    " ?1 = 0 OR state = 'pending' ORDER BY id", &st)) != CV_OK)
		return r;
	db_bind_int64(st, 1, pending_only != 0);
	while (!stop && (rc = db_step(st)) == CV_DB_ROW) {
		if ((r = row_proposal(st, &p)) != CV_OK)
			break;
		stop = fn(ctx, &p);
		cv_store_proposal_clear(&p);
	}
	if (r == CV_OK && !stop && rc != CV_DB_DONE)
		r = cv_fail(CV_ERR_STORE, "approvals: %s", db_errmsg(s->db));
	store_release(st);
	return r;
}

cv_err
cv_store_proposal_decide(struct cv_store *s, int64_t id, const char *state,
    const char *approver, int64_t now_us)
{
	struct cv_db_stmt *st;
	int n = 0;
	cv_err r;

	/* Only from pending: a second decision (a replayed approval) finds
	 * nothing to change. */
	if ((r = prep(s, "UPDATE proposals SET state = ?2, approver = ?3,"
	    " decided_us = ?4 WHERE id = ?1 AND state = 'pending'", &st)) !=
	    CV_OK)
		return r;
	db_bind_int64(st, 1, id);
	db_bind_text(st, 2, state);
	db_bind_text(st, 3, approver);
	db_bind_int64(st, 4, now_us);
	if ((r = done(s, st, &n)) == CV_OK && n == 0)
		r = cv_fail(CV_ERR_EXISTS, "proposal %lld was already decided",
		    (long long)id);
	return r;
}

cv_err
cv_store_proposal_index(struct cv_store *s, int64_t id, uint64_t index)
{
	struct cv_db_stmt *st;
	cv_err r;

	if ((r = prep(s, "UPDATE proposals SET audit_index = ?2 WHERE"
	    " id = ?1", &st)) != CV_OK)
		return r;
	db_bind_int64(st, 1, id);
	db_bind_int64(st, 2, (int64_t)index);
	return done(s, st, NULL);
}

cv_err
cv_store_proposal_count(struct cv_store *s, const char *kind,
    const char *approver, int64_t since_us, int *n)
{
	struct cv_db_stmt *st;
	cv_err r;

	*n = 0;
	/* Cast: PostgreSQL cannot type a parameter it meets first in an
	 * IS NULL. */
	if ((r = prep(s, "SELECT count(*) FROM proposals WHERE state ="
	    " 'approved' AND decided_us >= ?3 AND (CAST(?1 AS TEXT) IS NULL"
	    " OR kind = ?1) AND (CAST(?2 AS TEXT) IS NULL OR approver = ?2)",
	    &st)) != CV_OK)
		return r;
	if (kind)
		db_bind_text(st, 1, kind);
	if (approver)
		db_bind_text(st, 2, approver);
	db_bind_int64(st, 3, since_us);
	if (db_step(st) == CV_DB_ROW)
		*n = db_column_int(st, 0);
	else
		r = cv_fail(CV_ERR_STORE, "approvals: %s", db_errmsg(s->db));
	store_release(st);
	return r;
}

cv_err
cv_store_enrol_set(struct cv_store *s, const char *user,
    const uint8_t hash[static CV_STORE_CODE_HASH], int64_t expires_us)
{
	struct cv_db_stmt *st;
	cv_err r;

	if ((r = prep(s, "INSERT INTO enrolments(\"user\", code_hash,"
	    " expires_us, fails) VALUES (?1, ?2, ?3, 0) ON CONFLICT(\"user\")"
	    " DO UPDATE SET code_hash = excluded.code_hash,"
	    " expires_us = excluded.expires_us, fails = 0", &st)) != CV_OK)
		return r;
	db_bind_text(st, 1, user);
	db_bind_blob(st, 2, hash, CV_STORE_CODE_HASH);
	db_bind_int64(st, 3, expires_us);
	return done(s, st, NULL);
}

cv_err
cv_store_enrol_get(struct cv_store *s, const char *user,
    uint8_t hash[static CV_STORE_CODE_HASH], int64_t *expires_us, int *fails)
{
	struct cv_db_stmt *st;
	int rc;
	cv_err r;

	if ((r = prep(s, "SELECT code_hash, expires_us, fails FROM enrolments"
	    " WHERE \"user\" = ?1", &st)) != CV_OK)
		return r;
	db_bind_text(st, 1, user);
	if ((rc = db_step(st)) == CV_DB_ROW &&
	    db_column_bytes(st, 0) == CV_STORE_CODE_HASH) {
		memcpy(hash, db_column_blob(st, 0), CV_STORE_CODE_HASH);
		*expires_us = db_column_int64(st, 1);
		*fails = db_column_int(st, 2);
	} else if (rc == CV_DB_ROW || rc == CV_DB_DONE)
		r = cv_fail(CV_ERR_NOT_FOUND, "no enrolment is open for "
		    "'%.64s'", user);
	else
		r = cv_fail(CV_ERR_STORE, "approvals: %s", db_errmsg(s->db));
	store_release(st);
	return r;
}

cv_err
cv_store_enrol_fail(struct cv_store *s, const char *user)
{
	struct cv_db_stmt *st;
	cv_err r;

	if ((r = prep(s, "UPDATE enrolments SET fails = fails + 1 WHERE"
	    " \"user\" = ?1", &st)) != CV_OK)
		return r;
	db_bind_text(st, 1, user);
	return done(s, st, NULL);
}

cv_err
cv_store_enrol_close(struct cv_store *s, const char *user)
{
	struct cv_db_stmt *st;
	cv_err r;

	if ((r = prep(s, "DELETE FROM enrolments WHERE \"user\" = ?1", &st)) !=
	    CV_OK)
		return r;
	db_bind_text(st, 1, user);
	return done(s, st, NULL);
}
