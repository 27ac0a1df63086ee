/* Cases: which users may read which records, and for what purpose. */
#include <stdio.h>
#include <string.h>

#include "store_internal.h"

/* "user" quoted: PostgreSQL reserves the word (users.c). */
#define SCHEMA(D) \
    "CREATE TABLE IF NOT EXISTS cases(id TEXT PRIMARY KEY," \
    " title TEXT NOT NULL, created_by TEXT NOT NULL," \
    " created_us " D##_INT " NOT NULL);" \
    "CREATE TABLE IF NOT EXISTS case_users(case_id TEXT NOT NULL" \
    " REFERENCES cases(id), \"user\" TEXT NOT NULL," \
    " PRIMARY KEY(case_id, \"user\"))" D##_NO_ROWID ";" \
    "CREATE TABLE IF NOT EXISTS case_records(case_id TEXT NOT NULL" \
    " REFERENCES cases(id), rid TEXT NOT NULL," \
    " PRIMARY KEY(case_id, rid))" D##_NO_ROWID ";"

const char *const store_cases_schema[2] = {
	[CV_DB_SQLITE] = SCHEMA(SQ),
	[CV_DB_POSTGRESQL] = SCHEMA(PG),
};

static cv_err
run(struct cv_store *s, const char *q, const char *a, const char *b,
    const char *c, int64_t d, int *changes)
{
	struct cv_db_stmt *st;
	int rc;

	if (store_stmt(s, q, &st) != CV_OK)
		return cv_fail(CV_ERR_STORE, "cases: %s", db_errmsg(s->db));
	db_bind_text(st, 1, a);
	if (b)
		db_bind_text(st, 2, b);
	if (c)
		db_bind_text(st, 3, c);
	if (d)
		db_bind_int64(st, 4, d);
	rc = db_step(st);
	store_release(st);
	if (changes)
		*changes = (int)db_changes(s->db);
	if (rc == CV_DB_ROW)
		return CV_OK;
	if (rc == CV_DB_DONE)
		return changes ? CV_OK : CV_ERR_NOT_FOUND;
	if (rc == CV_DB_DUPLICATE || rc == CV_DB_CONSTRAINT)
		return cv_fail(CV_ERR_EXISTS, "already exists");
	return cv_fail(CV_ERR_STORE, "cases: %s", db_errmsg(s->db));
}

cv_err
cv_store_case_add(struct cv_store *s, const char *id, const char *title,
    const char *by, int64_t now_us)
{
	int n;

	return run(s, "INSERT INTO cases(id, title, created_by, created_us)"
	    " VALUES (?1, ?2, ?3, ?4)", id, title, by, now_us, &n);
}

cv_err
cv_store_case_exists(struct cv_store *s, const char *id)
{
	return run(s, "SELECT 1 FROM cases WHERE id = ?1", id, NULL, NULL, 0,
	    NULL);
}

cv_err
cv_store_case_member(struct cv_store *s, const char *id, int record,
    const char *who, int add, int *changed)
{
	const char *q;

	if (record)
		q = add ? "INSERT INTO case_records(case_id, rid) VALUES"
		    " (?1, ?2) ON CONFLICT DO NOTHING" : "DELETE FROM"
		    " case_records WHERE case_id = ?1 AND rid = ?2";
	else
		q = add ? "INSERT INTO case_users(case_id, \"user\") VALUES"
		    " (?1, ?2) ON CONFLICT DO NOTHING" : "DELETE FROM"
		    " case_users WHERE case_id = ?1 AND \"user\" = ?2";
	return run(s, q, id, who, NULL, 0, changed);
}

cv_err
cv_store_case_allows(struct cv_store *s, const char *id, const char *user,
    const char *rid)
{
	return run(s, "SELECT 1 FROM case_users u JOIN case_records r ON"
	    " r.case_id = u.case_id WHERE u.case_id = ?1 AND u.\"user\" = ?2 AND"
	    " r.rid = ?3", id, user, rid, 0, NULL);
}

cv_err
cv_store_case_has_user(struct cv_store *s, const char *id, const char *user)
{
	return run(s, "SELECT 1 FROM case_users WHERE case_id = ?1 AND"
	    " \"user\" = ?2", id, user, NULL, 0, NULL);
}

cv_err
cv_store_user_cases(struct cv_store *s, const char *user,
    int (*fn)(void *ctx, const char *case_id), void *ctx)
{
	struct cv_db_stmt *st;
	cv_err r = CV_OK;
	int rc;

	/* case_users is keyed (case_id, user): this walks the table. It is
	 * asked once per user by a review, not per request, and the table
	 * holds one row per assignment, so no second index is kept for it. */
	if (store_stmt(s, "SELECT case_id FROM case_users WHERE \"user\" = ?1"
	    " ORDER BY case_id", &st) != CV_OK)
		return cv_fail(CV_ERR_STORE, "cases: %s", db_errmsg(s->db));
	db_bind_text(st, 1, user);
	while ((rc = db_step(st)) == CV_DB_ROW) {
		const char *id = db_column_text(st, 0);
		if (fn(ctx, id ? (const char *)id : "") != 0)
			break;
	}
	if (rc != CV_DB_ROW && rc != CV_DB_DONE)
		r = cv_fail(CV_ERR_STORE, "cases: %s", db_errmsg(s->db));
	store_release(st);
	return r;
}
