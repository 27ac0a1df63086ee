/* Cases: which users may read which records, and for what purpose. */
#include <stdio.h>
#include <stdlib.h>
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
    " PRIMARY KEY(case_id, rid))" D##_NO_ROWID ";" \
    /* The watcher's memo of members (below): a commit moves the epoch */ \
    D##_EPOCH("cases") D##_EPOCH("case_users") D##_EPOCH("case_records")

/* A case with more records than this is not kept in memory: its reads
 * ask the database, as without a watcher. 32 such cases at most, some
 * 20 bytes a record: about 30 MB at worst for a process. */
#define CASE_MEMO_RIDS 50000

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
	if (changes) {
		*changes = (int)db_changes(s->db);
		if (rc == CV_DB_DONE && *changes > 0)
			store_moved(s);	/* the members' memo: below */
	}
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

/* The question itself, when no memo answers it. */
static cv_err
ask_allows(struct cv_store *s, const char *id, const char *user,
    const char *rid)
{
	return run(s, "SELECT 1 FROM case_users u JOIN case_records r ON"
	    " r.case_id = u.case_id WHERE u.case_id = ?1 AND u.\"user\" = ?2 AND"
	    " r.rid = ?3", id, user, rid, 0, NULL);
}

/*
 * The watcher's memo of a case's members. A server on PostgreSQL asked
 * the case's question on every record it read: one statement a read,
 * the largest share of the database's work left once the records
 * themselves were read in batches (docs/scale-out.md, step 7). A case's
 * members change seldom, by an officer, and every change moves the
 * epoch (the triggers above), so the process reads a case's users and
 * records once and answers from memory until the epoch moves. Late by
 * the watcher's bound at most, as a revoked certificate is (a notice's
 * travel, half a second if notices are lost); never early: the epoch
 * is read before the rows.
 */
static int
by_text(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
has(char **v, size_t n, const char *key)
{
	return n > 0 && bsearch(&key, v, n, sizeof *v, by_text) != NULL;
}

void
store_case_memo_clear(struct case_memo *m)
{
	free(m->case_id);
	free(m->users);
	free(m->rids);
	free(m->text);
	memset(m, 0, sizeof *m);
}

/* One column of Q (bound to ID, and to LIMIT when nonzero) into B as
 * NUL-ended strings; *N counts them. */
static cv_err
memo_column(struct cv_store *s, const char *q, const char *id, int64_t limit,
    struct cv_buf *b, size_t *n)
{
	struct cv_db_stmt *st;
	const char *v;
	cv_err r = CV_OK;
	int rc;

	*n = 0;
	if (store_stmt(s, q, &st) != CV_OK)
		return cv_fail(CV_ERR_STORE, "cases: %s", db_errmsg(s->db));
	db_bind_text(st, 1, id);
	if (limit)
		db_bind_int64(st, 2, limit);
	while (r == CV_OK && (rc = db_step(st)) == CV_DB_ROW) {
		v = db_column_text(st, 0);
		if (v == NULL)
			v = "";
		if ((r = cv_buf_add(b, v, strlen(v) + 1)) == CV_OK)
			(*n)++;
	}
	if (r == CV_OK && rc != CV_DB_DONE)
		r = cv_fail(CV_ERR_STORE, "cases: %s", db_errmsg(s->db));
	store_release(st);
	return r;
}

/* V[0..N) pointed at N strings from P on, sorted. */
static cv_err
memo_index(char *p, size_t n, char ***v)
{
	if ((*v = calloc(n ? n : 1, sizeof **v)) == NULL)
		return CV_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		(*v)[i] = p;
		p += strlen(p) + 1;
	}
	qsort(*v, n, sizeof **v, by_text);
	return CV_OK;
}

/* Case ID's users and (up to CASE_MEMO_RIDS) records into M, which the
 * caller has claimed and cleared but for its id. */
static cv_err
memo_read(struct cv_store *s, const char *id, struct case_memo *m)
{
	struct cv_buf b = { 0 };
	size_t ulen;
	cv_err r;

	if ((r = memo_column(s, "SELECT \"user\" FROM case_users WHERE"
	    " case_id = ?1", id, 0, &b, &m->nusers)) != CV_OK)
		goto out;
	ulen = b.len;
	if (m->nusers > 0 && (r = memo_column(s, "SELECT rid FROM"
	    " case_records WHERE case_id = ?1 LIMIT ?2", id,
	    CASE_MEMO_RIDS + 1, &b, &m->nrids)) != CV_OK)
		goto out;
	if (m->nrids > CASE_MEMO_RIDS) {
		m->big = 1;
		m->nrids = 0;
		b.len = ulen;	/* the users only */
	}
	if (b.len == 0 || (r = cv_buf_add(&b, "", 1)) != CV_OK)
		goto out;
	if ((r = memo_index((char *)b.p, m->nusers, &m->users)) != CV_OK ||
	    (r = memo_index((char *)b.p + ulen, m->nrids, &m->rids)) !=
	    CV_OK)
		goto out;
	m->text = (char *)b.p;
	b.p = NULL;
 out:
	cv_buf_free(&b);
	return r;
}

/* F's slot for case ID, or the one to read it into (marked loading,
 * emptied, its id set): *SLOT, and whether it answers at epoch AT. -1:
 * none free (every slot loading), or another connection is reading it:
 * ask the database. F locked. */
static int
memo_slot(struct cv_store_follow *f, const char *id, int64_t at,
    struct case_memo **slot)
{
	struct case_memo *m, *pick = NULL;
	char *copy;

	for (size_t i = 0; i < CASE_MEMOS; i++) {
		m = &f->cases[i];
		if (m->case_id && strcmp(m->case_id, id) == 0) {
			if (m->loading)
				return -1;
			if (m->at == at) {
				*slot = m;
				return 1;
			}
			pick = m;
			break;
		}
		if (m->loading)
			continue;
		/* A free slot first, then the least recently asked. */
		if (pick == NULL || (pick->case_id && (m->case_id == NULL ||
		    m->used < pick->used)))
			pick = m;
	}
	if (pick == NULL || (copy = strdup(id)) == NULL)
		return -1;
	store_case_memo_clear(pick);
	pick->case_id = copy;
	pick->loading = 1;
	*slot = pick;
	return 0;
}

/* M's answer for USER and RID: CV_OK, CV_ERR_NOT_FOUND; -1 for a case
 * too big to keep. F locked. */
static int
memo_answer(struct cv_store_follow *f, struct case_memo *m, const char *user,
    const char *rid)
{
	m->used = ++f->clock;
	if (!has(m->users, m->nusers, user))
		return CV_ERR_NOT_FOUND;
	if (m->big)
		return -1;
	return has(m->rids, m->nrids, rid) ? CV_OK : CV_ERR_NOT_FOUND;
}

cv_err
cv_store_case_allows(struct cv_store *s, const char *id, const char *user,
    const char *rid)
{
	struct cv_store_follow *f = s->follow;
	struct cv_store_epoch at;
	struct case_memo *m, got = { 0 };
	int known, answer = -1;
	cv_err r;

	/* The epoch before the rows: a commit in between moves it, and the
	 * next question reads them again. */
	if (f == NULL || !s->cases_watched || cv_store_epoch(s, &at) != CV_OK)
		return ask_allows(s, id, user, rid);
	pthread_mutex_lock(&f->lock);
	if ((known = memo_slot(f, id, at.data, &m)) == 1)
		answer = memo_answer(f, m, user, rid);
	pthread_mutex_unlock(&f->lock);
	if (known == 1)
		return answer >= 0 ? (cv_err)answer :
		    ask_allows(s, id, user, rid);
	if (known < 0)
		return ask_allows(s, id, user, rid);
	/* M is this connection's to fill: read outside the lock. */
	r = memo_read(s, id, &got);
	pthread_mutex_lock(&f->lock);
	if (r == CV_OK) {
		got.case_id = m->case_id;
		got.at = at.data;
		*m = got;
		answer = memo_answer(f, m, user, rid);
	} else {
		store_case_memo_clear(&got);
		store_case_memo_clear(m);
	}
	pthread_mutex_unlock(&f->lock);
	if (r == CV_OK && answer >= 0)
		return (cv_err)answer;
	return ask_allows(s, id, user, rid);
}

void
store_cases_upgrade(struct cv_store *s)
{
	struct cv_db_stmt *st;
	int64_t n = 0;

	if (s->db->ops->dialect != CV_DB_POSTGRESQL)
		return;
	if (store_stmt(s, "SELECT count(*) FROM pg_trigger WHERE tgrelid IN"
	    " ('cases'::regclass, 'case_users'::regclass,"
	    " 'case_records'::regclass) AND tgname IN ('cases_epoch',"
	    " 'case_users_epoch', 'case_records_epoch')", &st) != CV_OK)
		return;
	if (db_step(st) == CV_DB_ROW)
		n = db_column_int64(st, 0);
	store_release(st);
	if (n == 3) {
		s->cases_watched = 1;
		return;
	}
	/* Nodes that start together make them one after the other. */
	if (db_begin(s->db, CV_DB_IMMEDIATE) != CV_OK)
		return;
	if (db_exec(s->db, PG_EPOCH("cases") PG_EPOCH("case_users")
	    PG_EPOCH("case_records")) != CV_OK || db_commit(s->db) != CV_OK) {
		(void)db_rollback(s->db);
		return;
	}
	s->cases_watched = 1;
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
