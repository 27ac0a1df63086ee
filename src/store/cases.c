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

/* A case with more records (or users) than this is not kept in memory:
 * its reads ask the database, as without a watcher. CASE_MEMOS such
 * cases at most, each with up to this many records and as many users,
 * each id up to 65 bytes and a pointer: 16 x 2 x 20,000 x 73 = 47 MB at
 * worst for a process (record ids of 19 characters, few users: 9 MB). */
#define CASE_MEMO_RIDS 20000
/* A memo is read again after this whatever the epoch says. */
#define CASE_MEMO_AGE_US 500000
/* And not sooner than this after its last read (asked meanwhile). */
#define CASE_MEMO_RELOAD_US 100000

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
 * records once and answers from memory until the epoch moves, or
 * CASE_MEMO_AGE_US has passed whatever the epoch says (a trigger
 * dropped or disabled by hand, a restore with triggers off: the second
 * holds without them). Late by the watcher's bound at most, as a revoked
 * certificate is; never early: the epoch is read before the rows, and
 * the rows in one statement (one snapshot).
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
	free(m->rtext);
	memset(m, 0, sizeof *m);
}

/* V[0..N) pointed at the N strings of B, sorted; B's bytes move to
 * *TEXT (exactly as many as they need). */
static cv_err
memo_index(struct cv_buf *b, size_t n, char ***v, char **text)
{
	char *p;

	*v = NULL;
	if ((*text = malloc(b->len ? b->len : 1)) == NULL ||
	    (*v = calloc(n ? n : 1, sizeof **v)) == NULL) {
		free(*text);
		*text = NULL;
		return CV_ERR_NOMEM;
	}
	if (b->len)
		memcpy(*text, b->p, b->len);
	p = *text;
	for (size_t i = 0; i < n; i++) {
		(*v)[i] = p;
		p += strlen(p) + 1;
	}
	qsort(*v, n, sizeof **v, by_text);
	return CV_OK;
}

/* Case ID's users and records into M, which the caller has claimed and
 * cleared but for its id: one statement, so that the two lists are of
 * one moment. More than CASE_MEMO_RIDS of either: M->big. */
static cv_err
memo_read(struct cv_store *s, const char *id, struct case_memo *m)
{
	struct cv_buf b[2] = { { 0 }, { 0 } };
	size_t n[2] = { 0, 0 };
	struct cv_db_stmt *st;
	const char *v;
	int64_t k;
	cv_err r = CV_OK;
	int rc;

	/* A case no user is in is not kept (below): its records are not
	 * read, or naming it as a purpose would load them at every read. */
	if (store_stmt(s, "SELECT 0, \"user\" FROM (SELECT \"user\" FROM"
	    " case_users WHERE case_id = ?1 LIMIT ?2) cu UNION ALL SELECT 1,"
	    " rid FROM (SELECT rid FROM case_records WHERE case_id = ?1 AND"
	    " EXISTS (SELECT 1 FROM case_users WHERE case_id = ?1) LIMIT ?2)"
	    " cr", &st) != CV_OK)
		return cv_fail(CV_ERR_STORE, "cases: %s", db_errmsg(s->db));
	db_bind_text(st, 1, id);
	db_bind_int64(st, 2, CASE_MEMO_RIDS + 1);
	while (r == CV_OK && (rc = db_step(st)) == CV_DB_ROW) {
		k = db_column_int64(st, 0) != 0;
		if ((v = db_column_text(st, 1)) == NULL)
			v = "";
		if (n[k] < CASE_MEMO_RIDS && (r = cv_buf_add(&b[k], v,
		    strlen(v) + 1)) != CV_OK)
			break;
		n[k]++;
	}
	if (r == CV_OK && rc != CV_DB_DONE)
		r = cv_fail(CV_ERR_STORE, "cases: %s", db_errmsg(s->db));
	store_release(st);
	if (r != CV_OK)
		goto out;
	m->big = n[0] > CASE_MEMO_RIDS || n[1] > CASE_MEMO_RIDS;
	m->nusers = m->big ? 0 : n[0];
	m->nrids = m->big ? 0 : n[1];
	if (!m->big && (r = memo_index(&b[0], m->nusers, &m->users,
	    &m->text)) == CV_OK)
		r = memo_index(&b[1], m->nrids, &m->rids, &m->rtext);
 out:
	cv_buf_free(&b[0]);
	cv_buf_free(&b[1]);
	return r;
}

/* Whether M was read at epoch AT (-1: at any) and less than AGE before
 * NOW. */
static int
read_within(const struct case_memo *m, int64_t at, int64_t now, int64_t age)
{
	return (at < 0 || m->at == at) && now - m->read_us < age &&
	    now >= m->read_us;
}

/* F's slot for case ID, or the one to read it into (marked loading,
 * emptied, its id set): *SLOT, and whether it answers at epoch AT and
 * time NOW. -1: none free (every slot loading), or another connection is
 * reading it: ask the database. F locked. */
static int
memo_slot(struct cv_store_follow *f, const char *id, int64_t at, int64_t now,
    struct case_memo **slot)
{
	struct case_memo *m, *pick = NULL;
	char *copy;

	for (size_t i = 0; i < CASE_MEMOS; i++) {
		m = &f->cases[i];
		if (m->case_id && strcmp(m->case_id, id) == 0) {
			if (m->loading)
				return -1;
			if (read_within(m, at, now, CASE_MEMO_AGE_US)) {
				*slot = m;
				return 1;
			}
			/* Read again at most every CASE_MEMO_RELOAD_US: an
			 * epoch that moves all the time (records put into
			 * cases, certificates issued) would have every read
			 * load the whole case. Meanwhile, ask. */
			if (read_within(m, -1, now, CASE_MEMO_RELOAD_US))
				return -1;
			pick = m;
			break;
		}
		/* Another case's slot is taken only free or stale: a case
		 * named only to push one out (a made-up purpose) pushes
		 * out none that answers now. */
		if (m->loading || (m->case_id && read_within(m, at, now,
		    CASE_MEMO_AGE_US)))
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

/* M's answer for USER and RID: 1 allowed, 0 not, -1 ask (a case too big
 * to keep). F locked. */
static int
memo_answer(struct cv_store_follow *f, struct case_memo *m, const char *user,
    const char *rid)
{
	m->used = ++f->clock;
	if (m->big)
		return -1;
	return has(m->users, m->nusers, user) && has(m->rids, m->nrids, rid);
}

cv_err
cv_store_case_allows(struct cv_store *s, const char *id, const char *user,
    const char *rid)
{
	struct cv_store_follow *f = s->follow;
	struct cv_store_epoch at;
	struct case_memo *m, got = { 0 };
	int64_t now;
	int known, answer = -1;
	cv_err r;

	/*
	 * Outside a transaction only: inside one the epoch is that
	 * transaction's, and a write transaction's counts its own
	 * uncommitted bump, which a rollback would leave in the shared memo
	 * for another commit to make current. The epoch before the rows: a
	 * commit in between moves it, and the next question reads them again.
	 */
	if (f == NULL || !s->cases_watched || s->in_tx ||
	    cv_store_epoch(s, &at) != CV_OK)
		return ask_allows(s, id, user, rid);
	now = cv_now_us();
	pthread_mutex_lock(&f->lock);
	if ((known = memo_slot(f, id, at.data, now, &m)) == 1)
		answer = memo_answer(f, m, user, rid);
	pthread_mutex_unlock(&f->lock);
	if (known < 0 || (known == 1 && answer < 0))
		return ask_allows(s, id, user, rid);
	if (known == 1)
		return answer ? CV_OK : CV_ERR_NOT_FOUND;
	/* M is this connection's to fill: read outside the lock. */
	r = memo_read(s, id, &got);
	pthread_mutex_lock(&f->lock);
	/* A case no one is in (a purpose made up) is not kept: it would
	 * push real ones out. Its answer is no all the same. */
	if (r == CV_OK && got.nusers == 0 && !got.big)
		answer = 0;
	if (r == CV_OK && (got.nusers > 0 || got.big)) {
		got.case_id = m->case_id;
		got.at = at.data;
		got.read_us = now;
		*m = got;
		answer = memo_answer(f, m, user, rid);
	} else {
		store_case_memo_clear(&got);
		store_case_memo_clear(m);
	}
	pthread_mutex_unlock(&f->lock);
	if (r == CV_OK && answer >= 0)
		return answer ? CV_OK : CV_ERR_NOT_FOUND;
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
	    " 'case_users_epoch', 'case_records_epoch') AND tgenabled <> 'D'"
	    " AND tgfoid = 'cv_epoch_bump'::regproc", &st) != CV_OK)
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

#define CASE_ROW "SELECT c.id, c.title, c.created_by, c.created_us," \
    " (SELECT count(*) FROM case_users u WHERE u.case_id = c.id)," \
    " (SELECT count(*) FROM case_records r WHERE r.case_id = c.id)" \
    " FROM cases c "

cv_err
cv_store_case_list(struct cv_store *s, const char *user, const char *id,
    int (*fn)(void *ctx, const struct cv_store_case *c), void *ctx)
{
	struct cv_db_stmt *st;
	struct cv_store_case c;
	cv_err r = CV_OK;
	int rc;

	if (store_stmt(s, id ? CASE_ROW "WHERE c.id = ?1" : user ? CASE_ROW
	    "WHERE EXISTS (SELECT 1 FROM case_users m WHERE m.case_id = c.id"
	    " AND m.\"user\" = ?1) ORDER BY c.id" : CASE_ROW "ORDER BY c.id",
	    &st) != CV_OK)
		return cv_fail(CV_ERR_STORE, "cases: %s", db_errmsg(s->db));
	if (id || user)
		db_bind_text(st, 1, id ? id : user);
	while ((rc = db_step(st)) == CV_DB_ROW) {
		const char *cid = db_column_text(st, 0);
		const char *title = db_column_text(st, 1);
		const char *by = db_column_text(st, 2);

		c.id = cid ? cid : "";
		c.title = title ? title : "";
		c.created_by = by ? by : "";
		c.created_us = db_column_int64(st, 3);
		c.users = db_column_int64(st, 4);
		c.records = db_column_int64(st, 5);
		if (fn(ctx, &c) != 0)
			break;
	}
	if (rc != CV_DB_ROW && rc != CV_DB_DONE)
		r = cv_fail(CV_ERR_STORE, "cases: %s", db_errmsg(s->db));
	store_release(st);
	return r;
}

cv_err
cv_store_case_get(struct cv_store *s, const char *id, int records,
    int (*fn)(void *ctx, const char *member), void *ctx)
{
	struct cv_db_stmt *st;
	cv_err r = CV_OK;
	int rc;

	if ((r = cv_store_case_exists(s, id)) != CV_OK)
		return r;
	if (store_stmt(s, records ? "SELECT rid FROM case_records WHERE"
	    " case_id = ?1 ORDER BY rid" : "SELECT \"user\" FROM case_users"
	    " WHERE case_id = ?1 ORDER BY \"user\"", &st) != CV_OK)
		return cv_fail(CV_ERR_STORE, "cases: %s", db_errmsg(s->db));
	db_bind_text(st, 1, id);
	while ((rc = db_step(st)) == CV_DB_ROW) {
		const char *m = db_column_text(st, 0);
		if (fn(ctx, m ? m : "") != 0)
			break;
	}
	if (rc != CV_DB_ROW && rc != CV_DB_DONE)
		r = cv_fail(CV_ERR_STORE, "cases: %s", db_errmsg(s->db));
	store_release(st);
	return r;
}
