/* Users and certificates: few rows, statements cached per connection. */
#include <stdio.h>
#include <string.h>

#include "store_internal.h"

/*
 * "user" is quoted throughout: a reserved word of PostgreSQL's (SQLite
 * takes the quoted name as the same column).
 */
#define SCHEMA(D) \
    "CREATE TABLE IF NOT EXISTS users(name TEXT PRIMARY KEY," \
    " role TEXT NOT NULL, disabled " D##_INT " NOT NULL DEFAULT 0," \
    " created_us " D##_INT " NOT NULL, totp " D##_BLOB " NOT NULL);" \
    "CREATE TABLE IF NOT EXISTS certs(fingerprint TEXT PRIMARY KEY," \
    " serial TEXT NOT NULL, \"user\" TEXT NOT NULL REFERENCES users(name)," \
    " not_after_us " D##_INT " NOT NULL, revoked " D##_INT " NOT NULL" \
    " DEFAULT 0);" \
    "CREATE INDEX IF NOT EXISTS certs_user ON certs(\"user\");" \
    /* the last TOTP time step each user has used: a code works once, \
     * across restarts too */ \
    "CREATE TABLE IF NOT EXISTS totp_steps(\"user\" TEXT PRIMARY KEY" \
    " REFERENCES users(name), step " D##_INT " NOT NULL);" \
    /* per-user read budgets overriding the role's (soft and hard per \
     * minute, hour, day) */ \
    "CREATE TABLE IF NOT EXISTS budgets(\"user\" TEXT PRIMARY KEY" \
    " REFERENCES users(name), sm " D##_INT ", sh " D##_INT "," \
    " sd " D##_INT ", hm " D##_INT ", hh " D##_INT ", hd " D##_INT ");" \
    /* cv_store_cert_user's memo: a commit to these moves the epoch */ \
    D##_EPOCH("users") D##_EPOCH("certs")

const char *const store_users_schema[2] = {
	[CV_DB_SQLITE] = SCHEMA(SQ),
	[CV_DB_POSTGRESQL] = SCHEMA(PG),
};

static cv_err
prep(struct cv_store *s, const char *q, struct cv_db_stmt **st)
{
	if (store_stmt(s, q, st) != CV_OK)
		return cv_fail(CV_ERR_STORE, "users: %s",
		    db_errmsg(s->db));
	return CV_OK;
}

static cv_err
done(struct cv_store *s, struct cv_db_stmt *st, const char *what)
{
	int rc = db_step(st);
	cv_err r = CV_OK;

	if (rc == CV_DB_DUPLICATE)
		r = cv_fail(CV_ERR_EXISTS, "%s: already exists", what);
	else if (rc != CV_DB_DONE)
		r = cv_fail(CV_ERR_STORE, "%s: %s", what,
		    db_errmsg(s->db));
	store_release(st);
	return r;
}

/* done, for a change to users or certs: the epoch's watcher is told. */
static cv_err
changed(struct cv_store *s, struct cv_db_stmt *st, const char *what)
{
	cv_err r = done(s, st, what);

	if (r == CV_OK)
		store_moved(s);
	return r;
}

static void
copy_text(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? (const char *)src : "");
}

cv_err
cv_store_user_add(struct cv_store *s, const struct cv_store_user *u)
{
	struct cv_db_stmt *st;
	cv_err r;

	if ((r = prep(s, "INSERT INTO users(name, role, disabled, created_us,"
	    " totp) VALUES (?1, ?2, 0, ?3, ?4)", &st)) != CV_OK)
		return r;
	db_bind_text(st, 1, u->name);
	db_bind_text(st, 2, u->role);
	db_bind_int64(st, 3, u->created_us);
	db_bind_blob(st, 4, u->totp_sealed, u->totp_len);
	if ((r = changed(s, st, "user")) == CV_ERR_EXISTS)
		cv_err_set("user '%s' exists", u->name);
	return r;
}

static void
row_user(struct cv_db_stmt *st, struct cv_store_user *u)
{
	size_t n = db_column_bytes(st, 4);

	memset(u, 0, sizeof *u);
	copy_text(u->name, sizeof u->name, db_column_text(st, 0));
	copy_text(u->role, sizeof u->role, db_column_text(st, 1));
	u->disabled = db_column_int(st, 2);
	u->created_us = db_column_int64(st, 3);
	/* An account not enrolled yet has no secret: the blob is NULL, and
	 * memcpy from NULL is undefined even for 0 bytes. */
	if (n > 0 && n <= sizeof u->totp_sealed) {
		memcpy(u->totp_sealed, db_column_blob(st, 4), n);
		u->totp_len = n;
	}
}

#define USER_COLS "name, role, disabled, created_us, totp"

cv_err
cv_store_user_get(struct cv_store *s, const char *name,
    struct cv_store_user *u)
{
	struct cv_db_stmt *st;
	int rc;
	cv_err r;

	if ((r = prep(s, "SELECT " USER_COLS " FROM users WHERE name = ?1",
	    &st)) != CV_OK)
		return r;
	db_bind_text(st, 1, name);
	if ((rc = db_step(st)) == CV_DB_ROW)
		row_user(st, u);
	else
		r = rc == CV_DB_DONE ? cv_fail(CV_ERR_NOT_FOUND, "no user "
		    "'%.64s'", name) : cv_fail(CV_ERR_STORE, "users: %s",
		    db_errmsg(s->db));
	store_release(st);
	return r;
}

cv_err
cv_store_user_list(struct cv_store *s,
    int (*fn)(void *ctx, const struct cv_store_user *u), void *ctx)
{
	struct cv_store_user u;
	struct cv_db_stmt *st;
	int rc;
	cv_err r;

	if ((r = prep(s, "SELECT " USER_COLS " FROM users ORDER BY name",
	    &st)) != CV_OK)
		return r;
	while ((rc = db_step(st)) == CV_DB_ROW) {
		row_user(st, &u);
		if (fn(ctx, &u) != 0)
			break;
	}
	if (rc != CV_DB_ROW && rc != CV_DB_DONE)
		r = cv_fail(CV_ERR_STORE, "users: %s", db_errmsg(s->db));
	store_release(st);
	return r;
}

cv_err
cv_store_user_disable(struct cv_store *s, const char *name, int disabled)
{
	struct cv_db_stmt *st;
	cv_err r;

	if ((r = prep(s, "UPDATE users SET disabled = ?2 WHERE name = ?1",
	    &st)) != CV_OK)
		return r;
	db_bind_text(st, 1, name);
	db_bind_int64(st, 2, disabled);
	if ((r = changed(s, st, "user")) == CV_OK && (int)db_changes(s->db) == 0)
		r = cv_fail(CV_ERR_NOT_FOUND, "no user '%.64s'", name);
	return r;
}

cv_err
cv_store_cert_add(struct cv_store *s, const struct cv_store_cert *c)
{
	struct cv_db_stmt *st;
	cv_err r;

	if ((r = prep(s, "INSERT INTO certs(fingerprint, serial, \"user\","
	    " not_after_us, revoked) VALUES (?1, ?2, ?3, ?4, 0)", &st)) !=
	    CV_OK)
		return r;
	db_bind_text(st, 1, c->fingerprint);
	db_bind_text(st, 2, c->serial);
	db_bind_text(st, 3, c->user);
	db_bind_int64(st, 4, c->not_after_us);
	return changed(s, st, "certificate");
}

cv_err
cv_store_cert_get(struct cv_store *s, const char *fingerprint,
    struct cv_store_cert *c)
{
	struct cv_db_stmt *st;
	int rc;
	cv_err r;

	memset(c, 0, sizeof *c);
	if ((r = prep(s, "SELECT fingerprint, serial, \"user\", not_after_us,"
	    " revoked FROM certs WHERE fingerprint = ?1", &st)) != CV_OK)
		return r;
	db_bind_text(st, 1, fingerprint);
	if ((rc = db_step(st)) == CV_DB_ROW) {
		copy_text(c->fingerprint, sizeof c->fingerprint,
		    db_column_text(st, 0));
		copy_text(c->serial, sizeof c->serial,
		    db_column_text(st, 1));
		copy_text(c->user, sizeof c->user, db_column_text(st, 2));
		c->not_after_us = db_column_int64(st, 3);
		c->revoked = db_column_int(st, 4);
	} else
		r = rc == CV_DB_DONE ? cv_fail(CV_ERR_NOT_FOUND, "unknown "
		    "certificate") : cv_fail(CV_ERR_STORE, "certs: %s",
		    db_errmsg(s->db));
	store_release(st);
	return r;
}

/* A certificate's and its user's memo is read again after this. */
#define CERT_MEMO_AGE_US 500000

cv_err
cv_store_cert_user(struct cv_store *s, const char *fingerprint,
    struct cv_store_cert *c, struct cv_store_user *u)
{
	const size_t n = sizeof s->memo / sizeof s->memo[0];
	struct cv_store_epoch at;
	struct cert_memo *m;
	int64_t now = cv_now_us();
	int known;
	cv_err r;

	/* The epoch before the rows: a commit in between makes the next
	 * call read them again, never the other way round. And read again
	 * after CERT_MEMO_AGE_US whatever the epoch says, as the cases'
	 * memo is (cases.c): a trigger dropped or disabled, or a restore
	 * that moved the epoch back, would keep a revoked certificate or a
	 * disabled user let in until something else moved it. */
	known = cv_store_epoch(s, &at) == CV_OK;
	for (size_t i = 0; known && i < n; i++) {
		m = &s->memo[i];
		if (m->used && m->at.data == at.data &&
		    m->at.changes == at.changes && now >= m->read_us &&
		    now - m->read_us < CERT_MEMO_AGE_US &&
		    strcmp(m->c.fingerprint, fingerprint) == 0) {
			*c = m->c;
			*u = m->u;
			return CV_OK;
		}
	}
	if ((r = cv_store_cert_get(s, fingerprint, c)) != CV_OK ||
	    (r = cv_store_user_get(s, c->user, u)) != CV_OK)
		return r;
	if (known) {
		m = &s->memo[s->memo_next++ % n];
		m->at = at;
		m->read_us = now;
		m->c = *c;
		m->u = *u;
		m->used = 1;
	}
	return CV_OK;
}

cv_err
cv_store_cert_revoke_user(struct cv_store *s, const char *user, int *n)
{
	struct cv_db_stmt *st;
	cv_err r;

	*n = 0;
	if ((r = prep(s, "UPDATE certs SET revoked = 1 WHERE \"user\" = ?1 AND"
	    " revoked = 0", &st)) != CV_OK)
		return r;
	db_bind_text(st, 1, user);
	if ((r = changed(s, st, "certificate")) == CV_OK)
		*n = (int)db_changes(s->db);
	return r;
}

cv_err
cv_store_cert_count(struct cv_store *s, const char *user, int *live, int *all)
{
	struct cv_db_stmt *st;
	cv_err r;

	*live = *all = 0;
	if ((r = prep(s, "SELECT count(*), count(*) FILTER (WHERE revoked = 0)"
	    " FROM certs WHERE \"user\" = ?1", &st)) != CV_OK)
		return r;
	db_bind_text(st, 1, user);
	if (db_step(st) == CV_DB_ROW) {
		*all = db_column_int(st, 0);
		*live = db_column_int(st, 1);
	} else
		r = cv_fail(CV_ERR_STORE, "certs: %s", db_errmsg(s->db));
	store_release(st);
	return r;
}

cv_err
cv_store_budget_set(struct cv_store *s, const char *user,
    const uint32_t *v)
{
	struct cv_db_stmt *st;
	cv_err r;

	if (v == NULL) {
		if ((r = prep(s, "DELETE FROM budgets WHERE \"user\" = ?1", &st)) !=
		    CV_OK)
			return r;
		db_bind_text(st, 1, user);
		return done(s, st, "budgets");
	}
	if ((r = prep(s, "INSERT INTO budgets VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
	    " ?7) ON CONFLICT(\"user\") DO UPDATE SET sm = excluded.sm,"
	    " sh = excluded.sh, sd = excluded.sd, hm = excluded.hm,"
	    " hh = excluded.hh, hd = excluded.hd", &st)) != CV_OK)
		return r;
	db_bind_text(st, 1, user);
	for (int i = 0; i < CV_STORE_BUDGET_N; i++)
		db_bind_int64(st, i + 2, v[i]);
	return done(s, st, "budgets");
}

cv_err
cv_store_budget_get(struct cv_store *s, const char *user, uint32_t *v)
{
	struct cv_db_stmt *st;
	int rc;
	cv_err r;

	if ((r = prep(s, "SELECT sm, sh, sd, hm, hh, hd FROM budgets WHERE"
	    " \"user\" = ?1", &st)) != CV_OK)
		return r;
	db_bind_text(st, 1, user);
	if ((rc = db_step(st)) == CV_DB_ROW) {
		for (int i = 0; i < CV_STORE_BUDGET_N; i++)
			v[i] = (uint32_t)db_column_int64(st, i);
	} else
		r = rc == CV_DB_DONE ? CV_ERR_NOT_FOUND : cv_fail(CV_ERR_STORE,
		    "budgets: %s", db_errmsg(s->db));
	store_release(st);
	return r;
}

cv_err
cv_store_totp_step(struct cv_store *s, const char *user, uint64_t *step)
{
	struct cv_db_stmt *st;
	int rc;
	cv_err r;

	*step = 0;
	if ((r = prep(s, "SELECT step FROM totp_steps WHERE \"user\" = ?1",
	    &st)) != CV_OK)
		return r;
	db_bind_text(st, 1, user);
	if ((rc = db_step(st)) == CV_DB_ROW)
		*step = (uint64_t)db_column_int64(st, 0);
	else if (rc != CV_DB_DONE)
		r = cv_fail(CV_ERR_STORE, "totp: %s", db_errmsg(s->db));
	store_release(st);
	return r;
}

cv_err
cv_store_totp_step_set(struct cv_store *s, const char *user, uint64_t step)
{
	struct cv_db_stmt *st;
	cv_err r;

	if ((r = prep(s, "INSERT INTO totp_steps VALUES (?1, ?2) ON CONFLICT"
	    "(\"user\") DO UPDATE SET step = excluded.step", &st)) != CV_OK)
		return r;
	db_bind_text(st, 1, user);
	db_bind_int64(st, 2, (int64_t)step);
	return done(s, st, "totp");
}

cv_err
cv_store_user_set_role(struct cv_store *s, const char *name, const char *role)
{
	struct cv_db_stmt *st;
	cv_err r;

	if ((r = prep(s, "UPDATE users SET role = ?2 WHERE name = ?1", &st)) !=
	    CV_OK)
		return r;
	db_bind_text(st, 1, name);
	db_bind_text(st, 2, role);
	if ((r = changed(s, st, "user")) == CV_OK && (int)db_changes(s->db) == 0)
		r = cv_fail(CV_ERR_NOT_FOUND, "no user '%.64s'", name);
	return r;
}

cv_err
cv_store_user_set_totp(struct cv_store *s, const char *name,
    const uint8_t *sealed, size_t len)
{
	struct cv_db_stmt *st;
	cv_err r;

	if ((r = prep(s, "UPDATE users SET totp = ?2 WHERE name = ?1", &st)) !=
	    CV_OK)
		return r;
	db_bind_text(st, 1, name);
	db_bind_blob(st, 2, sealed, len);
	if ((r = changed(s, st, "user")) == CV_OK && (int)db_changes(s->db) == 0)
		r = cv_fail(CV_ERR_NOT_FOUND, "no user '%.64s'", name);
	return r;
}

cv_err
cv_store_user_count_role(struct cv_store *s, const char *role,
    int enrolled_only, int *n)
{
	struct cv_db_stmt *st;
	cv_err r;

	*n = 0;
	if ((r = prep(s, "SELECT count(*) FROM users u WHERE role = ?1 AND"
	    " disabled = 0 AND (?2 = 0 OR EXISTS (SELECT 1 FROM certs c WHERE"
	    " c.\"user\" = u.name AND c.revoked = 0))", &st)) != CV_OK)
		return r;
	db_bind_text(st, 1, role);
	db_bind_int64(st, 2, enrolled_only != 0);
	if (db_step(st) == CV_DB_ROW)
		*n = db_column_int(st, 0);
	else
		r = cv_fail(CV_ERR_STORE, "users: %s", db_errmsg(s->db));
	store_release(st);
	return r;
}
