/*
 * The guard's counts shared by every node of a PostgreSQL vault: what each
 * user read when, what each session read since its last TOTP proof, what
 * the vault returned when, and the locks. One statement decides a read
 * for every node at once (cv_guard_take, a PL/pgSQL function: one round
 * trip, under an advisory lock on the user, so that a user's reads on
 * three nodes are decided one after the other against one count). Each
 * node's own guard stays in front (src/guard: behaviour, alerts, the
 * quick refusals); this is the count no node can escape. A SQLite vault
 * has one server (cv_server_claim) and its guard in memory only: none of
 * this exists there.
 */
#include <stdio.h>
#include <string.h>

#include "store_internal.h"

/*
 * Windows as in src/guard: a record counts in a window once, however
 * often it is read there (the last read's time is kept). The vault-wide
 * ceiling is counted without a lock across users, so that users do not
 * wait for each other: concurrent reads of different users may pass it
 * by as many records as are decided at that moment.
 */
#define PG_SCHEMA \
    "CREATE TABLE guard_user_reads(u TEXT NOT NULL, rid TEXT NOT NULL," \
    " t BIGINT NOT NULL, PRIMARY KEY (u, rid));" \
    "CREATE INDEX guard_user_reads_t ON guard_user_reads(u, t);" \
    "CREATE TABLE guard_session_reads(s TEXT NOT NULL, rid TEXT NOT NULL," \
    " proof BIGINT NOT NULL, PRIMARY KEY (s, rid));" \
    "CREATE TABLE guard_vault_reads(rid TEXT PRIMARY KEY," \
    " t BIGINT NOT NULL);" \
    "CREATE INDEX guard_vault_reads_t ON guard_vault_reads(t);" \
    "CREATE TABLE guard_locks(u TEXT PRIMARY KEY, reason TEXT NOT NULL," \
    " since BIGINT NOT NULL);" \
    "CREATE FUNCTION cv_guard_take(p_u TEXT, p_s TEXT, p_proof BIGINT," \
    " p_budget INT, p_rids TEXT[], p_now BIGINT, p_soft INT[]," \
    " p_hard INT[], p_vhard INT[], p_up BOOLEAN) RETURNS INT" \
    " LANGUAGE plpgsql AS $$\n" \
    "DECLARE\n" \
    " w BIGINT[] := ARRAY[60000000, 3600000000, 86400000000];\n" \
    " n_have INT; n_add INT;\n" \
    "BEGIN\n" \
    /* counts, not records: losing the last few in a crash of the \
     * database is the price of not waiting for its disk on every read */ \
    " PERFORM set_config('synchronous_commit', 'off', true);\n" \
    " PERFORM pg_advisory_xact_lock(hashtext('cv_guard ' || p_u));\n" \
    " IF EXISTS (SELECT 1 FROM guard_locks WHERE u = p_u) THEN\n" \
    "  RETURN 40;\n" \
    " END IF;\n" \
    " DELETE FROM guard_user_reads WHERE u = p_u AND t <= p_now - w[3];\n" \
    " FOR i IN 1..3 LOOP\n" \
    "  SELECT count(*) INTO n_have FROM guard_user_reads\n" \
    "   WHERE u = p_u AND t > p_now - w[i];\n" \
    "  SELECT count(*) INTO n_add FROM unnest(p_rids) AS r(rid)\n" \
    "   LEFT JOIN guard_user_reads g ON g.u = p_u AND g.rid = r.rid\n" \
    "   WHERE g.t IS NULL OR g.t <= p_now - w[i];\n" \
    "  IF n_have + n_add > p_hard[i] THEN RETURN 20 + i; END IF;\n" \
    "  IF NOT p_up AND n_have + n_add > p_soft[i] THEN RETURN 10 + i; END IF;\n" \
    "  SELECT count(*) INTO n_have FROM guard_vault_reads\n" \
    "   WHERE t > p_now - w[i];\n" \
    "  SELECT count(*) INTO n_add FROM unnest(p_rids) AS r(rid)\n" \
    "   LEFT JOIN guard_vault_reads g ON g.rid = r.rid\n" \
    "   WHERE g.t IS NULL OR g.t <= p_now - w[i];\n" \
    "  IF n_have + n_add > p_vhard[i] THEN RETURN 30 + i; END IF;\n" \
    " END LOOP;\n" \
    " IF p_s IS NOT NULL THEN\n" \
    "  DELETE FROM guard_session_reads WHERE s = p_s AND proof < p_proof;\n" \
    "  SELECT count(*) INTO n_have FROM guard_session_reads WHERE s = p_s;\n" \
    "  SELECT count(*) INTO n_add FROM unnest(p_rids) AS r(rid)\n" \
    "   WHERE NOT EXISTS (SELECT 1 FROM guard_session_reads g\n" \
    "    WHERE g.s = p_s AND g.rid = r.rid);\n" \
    "  IF n_have + n_add > p_budget THEN RETURN 14; END IF;\n" \
    "  INSERT INTO guard_session_reads SELECT p_s, r.rid, p_proof\n" \
    "   FROM unnest(p_rids) AS r(rid) ON CONFLICT DO NOTHING;\n" \
    " END IF;\n" \
    " INSERT INTO guard_user_reads SELECT p_u, r.rid, p_now\n" \
    "  FROM unnest(p_rids) AS r(rid)\n" \
    "  ON CONFLICT (u, rid) DO UPDATE SET t = excluded.t;\n" \
    " INSERT INTO guard_vault_reads SELECT r.rid, p_now\n" \
    "  FROM unnest(p_rids) AS r(rid)\n" \
    "  ON CONFLICT (rid) DO UPDATE SET t = excluded.t;\n" \
    " RETURN 0;\n" \
    "END $$;"

const char *const store_guard_schema[2] = {
	[CV_DB_SQLITE] = "",
	[CV_DB_POSTGRESQL] = PG_SCHEMA,
};

int
cv_store_shared(const struct cv_store *s)
{
	return s->db->ops->dialect == CV_DB_POSTGRESQL;
}

static cv_err
prep(struct cv_store *s, const char *q, struct cv_db_stmt **st)
{
	if (!cv_store_shared(s))
		return cv_fail(CV_ERR_INVALID, "the shared guard needs a "
		    "PostgreSQL vault");
	if (store_stmt(s, q, st) != CV_OK)
		return cv_fail(CV_ERR_STORE, "guard: %s", db_errmsg(s->db));
	return CV_OK;
}

/* "{a,b,c}" of N ids, or of three numbers: a PostgreSQL array literal.
 * Record ids and numbers need no quoting (cv_record_valid_id). */
static cv_err
array_text(struct cv_buf *b, const char *const *ids, size_t n,
    const uint32_t *nums)
{
	char num[16];
	cv_err r = cv_buf_add(b, "{", 1);

	for (size_t i = 0; r == CV_OK && i < n; i++) {
		const char *t = ids ? ids[i] : num;

		if (!ids)
			snprintf(num, sizeof num, "%d", nums[i] > INT32_MAX ?
			    INT32_MAX : (int)nums[i]);
		else if (strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq"
		    "rstuvwxyz0123456789-_.") != strlen(t) || *t == '\0')
			return cv_fail(CV_ERR_INVALID, "guard: not a record id");
		if ((i && (r = cv_buf_add(b, ",", 1)) != CV_OK) ||
		    (r = cv_buf_add(b, t, strlen(t))) != CV_OK)
			return r;
	}
	if (r == CV_OK)
		r = cv_buf_add(b, "}", 2);	/* with its NUL */
	return r;
}

cv_err
cv_store_guard_take(struct cv_store *s, const struct cv_store_take *t,
    enum cv_store_verdict *v, unsigned *window)
{
	struct cv_buf rids = { 0 }, soft = { 0 }, hard = { 0 }, vhard = { 0 };
	struct cv_db_stmt *st = NULL;
	int rc, code;
	cv_err r;

	*v = CV_TAKE_ALLOW;
	*window = 0;
	if ((r = prep(s, "SELECT cv_guard_take(?1, ?2, ?3, ?4, ?5::text[], "
	    "?6, ?7::int[], ?8::int[], ?9::int[], ?10 <> 0)", &st)) != CV_OK)
		return r;
	if ((r = array_text(&rids, t->rids, t->n, NULL)) != CV_OK ||
	    (r = array_text(&soft, NULL, 3, t->soft)) != CV_OK ||
	    (r = array_text(&hard, NULL, 3, t->hard)) != CV_OK ||
	    (r = array_text(&vhard, NULL, 3, t->vhard)) != CV_OK)
		goto out;
	db_bind_text(st, 1, t->user);
	if (t->session)
		db_bind_text(st, 2, t->session);
	else
		db_bind_null(st, 2);
	db_bind_int64(st, 3, t->proof_us);
	db_bind_int64(st, 4, t->budget);
	db_bind_text(st, 5, (const char *)rids.p);
	db_bind_int64(st, 6, t->now_us);
	db_bind_text(st, 7, (const char *)soft.p);
	db_bind_text(st, 8, (const char *)hard.p);
	db_bind_text(st, 9, (const char *)vhard.p);
	db_bind_int64(st, 10, t->stepped_up);
	if ((rc = db_step(st)) != CV_DB_ROW) {
		r = cv_fail(CV_ERR_STORE, "guard: %s", db_errmsg(s->db));
		goto out;
	}
	code = (int)db_column_int64(st, 0);
	*window = (unsigned)code % 10;
	*v = code == 0 ? CV_TAKE_ALLOW : code == 40 ? CV_TAKE_LOCKED :
	    code == 14 ? CV_TAKE_SESSION : code < 20 ? CV_TAKE_STEP_UP :
	    code < 30 ? CV_TAKE_DENY : CV_TAKE_CEILING;
 out:
	if (st)
		store_release(st);
	cv_buf_free(&rids);
	cv_buf_free(&soft);
	cv_buf_free(&hard);
	cv_buf_free(&vhard);
	return r;
}

cv_err
cv_store_guard_lock(struct cv_store *s, const char *user, const char *reason,
    int64_t now_us)
{
	struct cv_db_stmt *st;
	cv_err r;

	if ((r = prep(s, "INSERT INTO guard_locks VALUES (?1, ?2, ?3) "
	    "ON CONFLICT (u) DO NOTHING", &st)) != CV_OK)
		return r;
	db_bind_text(st, 1, user);
	db_bind_text(st, 2, reason);
	db_bind_int64(st, 3, now_us);
	if (db_step(st) != CV_DB_DONE)
		r = cv_fail(CV_ERR_STORE, "guard: %s", db_errmsg(s->db));
	store_release(st);
	return r;
}

cv_err
cv_store_guard_unlock(struct cv_store *s, const char *user)
{
	struct cv_db_stmt *st;
	cv_err r;

	if ((r = prep(s, "DELETE FROM guard_locks WHERE u = ?1", &st)) !=
	    CV_OK)
		return r;
	db_bind_text(st, 1, user);
	if (db_step(st) != CV_DB_DONE)
		r = cv_fail(CV_ERR_STORE, "guard: %s", db_errmsg(s->db));
	store_release(st);
	return r;
}

cv_err
cv_store_guard_locked(struct cv_store *s, const char *user, int *locked)
{
	struct cv_db_stmt *st;
	int rc;
	cv_err r;

	*locked = 0;
	if ((r = prep(s, "SELECT 1 FROM guard_locks WHERE u = ?1", &st)) !=
	    CV_OK)
		return r;
	db_bind_text(st, 1, user);
	if ((rc = db_step(st)) == CV_DB_ROW)
		*locked = 1;
	else if (rc != CV_DB_DONE)
		r = cv_fail(CV_ERR_STORE, "guard: %s", db_errmsg(s->db));
	store_release(st);
	return r;
}

cv_err
cv_store_guard_locks(struct cv_store *s,
    void (*fn)(void *ctx, const char *user, const char *reason),
    void *ctx)
{
	struct cv_db_stmt *st;
	int rc;
	cv_err r;

	if ((r = prep(s, "SELECT u, reason FROM guard_locks ORDER BY u",
	    &st)) != CV_OK)
		return r;
	while ((rc = db_step(st)) == CV_DB_ROW)
		fn(ctx, db_column_text(st, 0), db_column_text(st, 1));
	if (rc != CV_DB_DONE)
		r = cv_fail(CV_ERR_STORE, "guard: %s", db_errmsg(s->db));
	store_release(st);
	return r;
}
