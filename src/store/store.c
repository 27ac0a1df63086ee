#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

#define SCHEMA_VERSION "1"

#define SQL_INSERT "INSERT INTO records(rid, version, ssn_bi, name_bi, " \
	"body, load) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(rid) DO NOTHING"
/* SQLite's is faster without RETURNING (changes() and the rowid tell);
 * PostgreSQL's spares a round trip for lastval(). */
static const char sql_insert_pg[] = SQL_INSERT " RETURNING id";

enum { Q_VERSION, Q_STATE, Q_INSERT, Q_PUT, Q_PUT_DEK, Q_GET, Q_FIND_SSN, Q_FIND_NAME,
	Q_ID, Q_HAS_DEK, Q_DEL_DEK, Q_CLEAR_BI, Q_SCAN, Q_SET_DEK, Q__N };
_Static_assert(Q__N <= sizeof ((struct cv_store *)0)->q /
    sizeof(struct cv_db_stmt *), "room for every statement");

static const char *const sql[Q__N] = {
	[Q_VERSION] = "SELECT version FROM records r WHERE rid = ?1 AND "
	    VISIBLE("r"),
	[Q_STATE] = "SELECT r.version, d.rec IS NULL FROM records r "
	    "LEFT JOIN deks d ON d.rec = r.id WHERE r.rid = ?1 AND "
	    VISIBLE("r"),
	/* A put over a hidden row of an unfinished load takes it over: the
	 * row is the put's from then on, and visible (excluded.load). */
	[Q_PUT] = "INSERT INTO records(rid, version, ssn_bi, name_bi, body, "
	    "load) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(rid) DO UPDATE "
	    "SET version = excluded.version, ssn_bi = excluded.ssn_bi, "
	    "name_bi = excluded.name_bi, body = excluded.body, "
	    "load = excluded.load RETURNING id",
	[Q_INSERT] = SQL_INSERT,
	[Q_PUT_DEK] = "INSERT INTO deks(rec, rid, gen, wdek) VALUES (?1, ?4, "
	    "?2, ?3) ON CONFLICT(rec) DO UPDATE SET rid = excluded.rid, "
	    "gen = excluded.gen, wdek = excluded.wdek",
	[Q_GET] = "SELECT r.version, r.body, d.gen, d.wdek FROM records r "
	    "LEFT JOIN deks d ON d.rec = r.id WHERE r.rid = ?1 AND "
	    VISIBLE("r"),
	[Q_FIND_SSN] = "SELECT rid FROM records r WHERE ssn_bi = ?1 AND "
	    VISIBLE("r"),
	[Q_FIND_NAME] = "SELECT rid FROM records r WHERE name_bi = ?1 AND "
	    VISIBLE("r"),
	[Q_ID] = "SELECT id FROM records r WHERE rid = ?1 AND " VISIBLE("r"),
	[Q_HAS_DEK] = "SELECT 1 FROM deks WHERE rec = ?1",
	[Q_DEL_DEK] = "DELETE FROM deks WHERE rec = ?1",
	[Q_CLEAR_BI] = "UPDATE records SET ssn_bi = NULL, name_bi = NULL "
	    "WHERE id = ?1",
	[Q_SCAN] = "SELECT rec, rid, gen, wdek FROM deks "
	    "WHERE rec > ?1 AND gen != ?2 ORDER BY rec LIMIT ?3",
	[Q_SET_DEK] = "UPDATE deks SET gen = ?2, wdek = ?3 WHERE rec = ?1",
};

/*
 * Written once for both dialects (store_internal.h). records: body, the
 * encrypted sections; *_bi, blind indexes (keyed hashes); load, the load
 * that wrote it (loads.c), NULL for a single put. deks: data keys apart
 * from the bodies: rotation reads and rewrites small rows only (rid,
 * which the wrapping binds, is copied here for that), and shredding
 * deletes one.
 */
#define SCHEMA(D) \
    "CREATE TABLE meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);" \
    "INSERT INTO meta VALUES ('schema', '" SCHEMA_VERSION "');" \
    "CREATE TABLE records(id " D##_ROWID ", rid TEXT NOT NULL UNIQUE," \
    " version " D##_INT " NOT NULL, ssn_bi " D##_BLOB ", name_bi " D##_BLOB \
    ", body " D##_BLOB " NOT NULL, load " D##_INT ")" D##_INLINE ";" \
    "CREATE INDEX records_ssn ON records(ssn_bi);" \
    "CREATE INDEX records_name ON records(name_bi);" \
    "CREATE TABLE deks(rec " D##_KEY ", rid TEXT NOT NULL," \
    " gen " D##_INT " NOT NULL, wdek " D##_BLOB " NOT NULL);"

static const char *const schema[2] = {
	[CV_DB_SQLITE] = SCHEMA(SQ),
	[CV_DB_POSTGRESQL] = SCHEMA(PG),
};


static cv_err
db_fail(struct cv_store *s, const char *what)
{
	return cv_fail(CV_ERR_STORE, "%s: %s", what,
	    s->db ? db_errmsg(s->db) : "no database");
}

static cv_err
exec(struct cv_store *s, const char *q)
{
	if (db_exec(s->db, q) != CV_OK)
		return db_fail(s, "database");
	return CV_OK;
}

static cv_err
begin(struct cv_store *s, enum cv_db_tx how)
{
	if (db_begin(s->db, how) != CV_OK)
		return db_fail(s, "database");
	s->in_tx = 1;
	return CV_OK;
}

static void
tell_moved(struct cv_store *s)
{
	if (s->follow)
		db_follow_moved(s->follow->f);
}

void
store_moved(struct cv_store *s)
{
	if (s->in_tx)
		s->moved = 1;
	else
		tell_moved(s);
}

static cv_err
commit(struct cv_store *s)
{
	if (db_commit(s->db) != CV_OK) {
		s->moved = 0;
		return db_fail(s, "database");
	}
	s->in_tx = 0;
	if (s->moved)
		tell_moved(s);
	s->moved = 0;
	return CV_OK;
}

static cv_err
check_schema(struct cv_store *s)
{
	struct cv_db_stmt *st = NULL;
	const char *v;
	cv_err r = CV_ERR_STORE;

	if (db_prepare(s->db, "SELECT v FROM meta WHERE k = 'schema'", 0,
	    &st) != CV_OK) {
		r = cv_fail(CV_ERR_STORE, "not a clearvault database");
		goto out;
	}
	if (db_step(st) != CV_DB_ROW || (v = db_column_text(st, 0)) == NULL ||
	    strcmp(v, SCHEMA_VERSION) != 0) {
		r = cv_fail(CV_ERR_STORE, "unsupported database schema");
		goto out;
	}
	r = CV_OK;
 out:
	db_finalize(st);
	return r;
}

/*
 * How long a statement waits for another connection's write lock before
 * it fails: a bulk load holds it for one short transaction at a time
 * (the driver retries often, so a server's login gets in between).
 */
#define BUSY_SECONDS 10.0

/* Whether records has its load column (a prepare fails without). */
static int
has_load_column(struct cv_store *s)
{
	struct cv_db_stmt *st = NULL;
	int have;

	have = db_prepare(s->db, "SELECT load FROM records LIMIT 0", 0,
	    &st) == CV_OK;
	db_finalize(st);
	return have;
}

/*
 * A database from before loads were kept gets records.load. Its records
 * were loaded, or put, before: they count as one done load (already on
 * the log), so that a canary list is required of it as of any vault that
 * had a load (vault/canary.c).
 */
static cv_err
add_load_column(struct cv_store *s)
{
	cv_err r;

	if (has_load_column(s))
		return CV_OK;
	if (db_begin(s->db, CV_DB_IMMEDIATE) != CV_OK)
		return db_fail(s, "database");
	/* Another process may have been first. */
	if (!has_load_column(s) && ((r = exec(s, "ALTER TABLE records ADD "
	    "COLUMN load INTEGER")) != CV_OK ||
	    (r = exec(s, "INSERT INTO loads(state, audited, started_us) "
	    "SELECT 1, 1, 0 WHERE EXISTS (SELECT 1 FROM records)")) != CV_OK)) {
		(void)db_rollback(s->db);
		return r;
	}
	return commit(s);
}

/* The tables added after schema 1 shipped, with the first ones. */
static const char *const *const schemas[] = {
	store_users_schema, store_cases_schema, store_approvals_schema,
	store_loads_schema, store_versions_schema, store_sessions_schema,
	store_guard_schema, store_unlocks_schema, store_reports_schema,
};

/* Every table, in a new database, in one transaction. */
static cv_err
create_tables(struct cv_store *s)
{
	enum cv_db_dialect d = s->db->ops->dialect;
	cv_err r;

	if ((r = begin(s, CV_DB_DEFERRED)) != CV_OK ||
	    (r = exec(s, schema[d])) != CV_OK)
		return r;
	for (size_t i = 0; i < sizeof schemas / sizeof schemas[0]; i++) {
		if ((r = exec(s, schemas[i][d])) != CV_OK)
			return r;
	}
	return commit(s);
}

/*
 * The tables added after schema 1 shipped, made where missing. Only
 * SQLite vaults are that old: PostgreSQL vaults are new in the release
 * that added sessions, and were made with all of them; since then only
 * the case tables' triggers came (store_cases_upgrade), the shared
 * unlock and the drill reports' table.
 */
static cv_err
upgrade(struct cv_store *s)
{
	cv_err r;

	if (s->db->ops->dialect != CV_DB_SQLITE) {
		store_cases_upgrade(s);
		/* Two nodes that make it at once: one of them fails, and
		 * the table is there all the same. */
		(void)exec(s, store_reports_schema[CV_DB_POSTGRESQL]);
		if ((r = store_unlocks_upgrade(s)) != CV_OK)
			return r;
		return store_guard_upgrade(s);
	}
	for (size_t i = 0; i < sizeof schemas / sizeof schemas[0]; i++) {
		if ((r = exec(s, schemas[i][CV_DB_SQLITE])) != CV_OK)
			return r;
	}
	return add_load_column(s);
}

/* The one place that picks the driver: by the target's form. */
static const struct cv_db_ops *
driver_of(const char *target)
{
	if (cv_store_is_url(target))
		return &cv_db_postgresql;
	return &cv_db_sqlite;
}

int
cv_store_is_url(const char *target)
{
	return strncmp(target, "postgresql://", 13) == 0 ||
	    strncmp(target, "postgres://", 11) == 0;
}

cv_err
cv_store_open(const char *path, enum cv_store_mode mode,
    struct cv_store **out)
{
	struct cv_store *s;
	const char *text;
	cv_err r = CV_ERR_STORE;

	*out = NULL;
	if ((s = calloc(1, sizeof *s)) == NULL ||
	    (s->target = strdup(path)) == NULL) {
		free(s);
		return CV_ERR_NOMEM;
	}
	if ((r = db_open(driver_of(path), path, mode == CV_STORE_CREATE ?
	    CV_DB_CREATE : 0, BUSY_SECONDS, &s->db)) != CV_OK)
		goto out;
	if (mode == CV_STORE_CREATE) {
		if ((r = create_tables(s)) != CV_OK)
			goto out;
		store_cases_upgrade(s);	/* sets cases_watched */
	} else if ((r = check_schema(s)) != CV_OK ||
	    (r = upgrade(s)) != CV_OK)
		goto out;
	for (int i = 0; i < Q__N; i++) {
		text = i == Q_INSERT ? db_sql(s->db, sql[i], sql_insert_pg) :
		    sql[i];
		if (db_prepare(s->db, text, CV_DB_PERSISTENT, &s->q[i]) !=
		    CV_OK) {
			r = db_fail(s, "prepare");
			goto out;
		}
	}
	*out = s;
	s = NULL; /* transferred */
	r = CV_OK;
 out:
	cv_store_close(s);
	return r;
}

void
cv_store_close(struct cv_store *s)
{
	if (s == NULL)
		return;
	if (s->in_tx)
		cv_store_rollback(s);
	for (int i = 0; i < Q__N; i++)
		db_finalize(s->q[i]);
	for (size_t i = 0; i < s->ncache; i++)
		db_finalize(s->cache[i].st);
	db_close(s->db);
	free(s->target);
	free(s);
}

cv_err
cv_store_read_begin(struct cv_store *s)
{
	return begin(s, CV_DB_DEFERRED);
}

void
cv_store_read_end(struct cv_store *s)
{
	/* A read transaction has nothing to lose if COMMIT fails. */
	(void)db_commit(s->db);
	s->in_tx = 0;
}

cv_err
cv_store_epoch(struct cv_store *s, struct cv_store_epoch *e)
{
	if (db_epoch(s->db, &e->data, &e->changes) != CV_OK)
		return db_fail(s, "database");
	return CV_OK;
}

cv_err
cv_store_follow_new(struct cv_store *s, struct cv_store_follow **out)
{
	struct cv_store_follow *w;
	cv_err r;

	*out = NULL;
	if (!db_can_follow(s->db))
		return CV_OK;
	if ((w = calloc(1, sizeof *w)) == NULL)
		return CV_ERR_NOMEM;
	if ((r = db_follow_new(s->db, s->target, BUSY_SECONDS, &w->f)) !=
	    CV_OK) {
		free(w);
		return r;
	}
	if (pthread_mutex_init(&w->lock, NULL) != 0) {
		db_follow_free(w->f);
		free(w);
		return CV_ERR_NOMEM;
	}
	*out = w;
	return CV_OK;
}

void
cv_store_follow_use(struct cv_store *s, struct cv_store_follow *f)
{
	if (!db_can_follow(s->db))
		return;
	s->follow = f;
	db_follow_use(s->db, f ? f->f : NULL);
}

void
cv_store_follow_free(struct cv_store_follow *f)
{
	if (f == NULL)
		return;
	db_follow_free(f->f);
	for (size_t i = 0; i < CASE_MEMOS; i++)
		store_case_memo_clear(&f->cases[i]);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

cv_err
cv_store_sync(struct cv_store *s, int full)
{
	if (db_durability(s->db, full) != CV_OK)
		return db_fail(s, "database");
	return CV_OK;
}

cv_err
cv_store_begin(struct cv_store *s)
{
	return begin(s, CV_DB_IMMEDIATE);
}

cv_err
cv_store_commit(struct cv_store *s)
{
	return commit(s);
}

void
cv_store_rollback(struct cv_store *s)
{
	(void)db_rollback(s->db);
	s->in_tx = 0;
	s->moved = 0;
}

/* Prepared statement I, reset and bound to RID as ?1. */
static struct cv_db_stmt *
with_rid(struct cv_store *s, int i, const char *rid)
{
	struct cv_db_stmt *st = s->q[i];

	db_reset(st);
	db_bind_text(st, 1, rid);
	return st;
}

cv_err
cv_store_version(struct cv_store *s, const char *rid, uint32_t *version)
{
	struct cv_db_stmt *st = with_rid(s, Q_VERSION, rid);
	int rc = db_step(st);

	if (rc == CV_DB_DONE)
		return CV_ERR_NOT_FOUND;
	if (rc != CV_DB_ROW)
		return db_fail(s, "read version");
	*version = (uint32_t)db_column_int64(st, 0);
	db_reset(st);
	return CV_OK;
}

cv_err
cv_store_state(struct cv_store *s, const char *rid, uint32_t *version)
{
	struct cv_db_stmt *st = with_rid(s, Q_STATE, rid);
	int rc = db_step(st), shredded;

	if (rc == CV_DB_DONE)
		return CV_ERR_NOT_FOUND;
	if (rc != CV_DB_ROW)
		return db_fail(s, "read version");
	*version = (uint32_t)db_column_int64(st, 0);
	shredded = db_column_int(st, 1);
	db_reset(st);
	return shredded ? CV_ERR_SHREDDED : CV_OK;
}

/* Runs Q_INSERT or Q_PUT for P, then writes P's data key. */
static cv_err
write_record(struct cv_store *s, int q, const struct cv_store_put *p,
    int *exists)
{
	struct cv_db_stmt *st = with_rid(s, q, p->rid);
	int64_t id;
	int rc;

	db_bind_int64(st, 2, p->version);
	db_bind_blob(st, 3, p->ssn_bi, CV_BIDX_BYTES);
	db_bind_blob(st, 4, p->name_bi, CV_BIDX_BYTES);
	db_bind_blob(st, 5, p->body, p->body_len);
	if (p->load)
		db_bind_int64(st, 6, p->load);
	else
		db_bind_null(st, 6);
	if (exists) {
		/* A row: the id RETURNING gave (sql_insert_pg). None: a
		 * conflict, or SQLite's insert, which changes() tells apart. */
		if ((rc = db_step(st)) == CV_DB_ROW) {
			id = db_column_int64(st, 0);
			rc = db_step(st);
		} else if (rc == CV_DB_DONE) {
			if (db_changes(s->db) == 0) {
				*exists = 1;
				return CV_OK;
			}
			id = db_last_insert_id(s->db);
		}
		if (rc != CV_DB_DONE)
			return db_fail(s, "write record");
	} else {
		if ((rc = db_step(st)) != CV_DB_ROW)
			return db_fail(s, "write record");
		id = db_column_int64(st, 0);
		if (db_step(st) != CV_DB_DONE)
			return db_fail(s, "write record");
	}
	st = s->q[Q_PUT_DEK];
	db_reset(st);
	db_bind_int64(st, 1, id);
	db_bind_int64(st, 2, p->gen);
	db_bind_blob(st, 3, p->wdek, CV_WDEK_BYTES);
	db_bind_text(st, 4, p->rid);
	if (db_step(st) != CV_DB_DONE)
		return db_fail(s, "write data key");
	return CV_OK;
}

cv_err
cv_store_insert(struct cv_store *s, const struct cv_store_put *p, int *exists)
{
	*exists = 0;
	return write_record(s, Q_INSERT, p, exists);
}

cv_err
cv_store_put(struct cv_store *s, const struct cv_store_put *p)
{
	cv_err r;

	/* The version replaced stays (versions.c): one statement in the
	 * put's own transaction, a no-op for a new record. */
	if ((r = store_keep(s, p->rid, cv_time_us())) != CV_OK)
		return r;
	return write_record(s, Q_PUT, p, NULL);
}

cv_err
cv_store_get(struct cv_store *s, const char *rid, struct cv_store_row *row)
{
	struct cv_db_stmt *st = with_rid(s, Q_GET, rid);
	int rc;
	cv_err r;

	memset(row, 0, sizeof *row);
	if ((rc = db_step(st)) == CV_DB_DONE)
		return CV_ERR_NOT_FOUND;
	if (rc != CV_DB_ROW)
		return db_fail(s, "read record");
	r = store_row_of(st, 0, rid, row);
	db_reset(st);
	if (r != CV_OK)
		cv_store_row_clear(row);
	return r;
}

void
cv_store_row_clear(struct cv_store_row *row)
{
	free(row->body);
	memset(row, 0, sizeof *row);
}

cv_err
cv_store_find(struct cv_store *s, enum cv_bidx_kind kind,
    const uint8_t bi[static CV_BIDX_BYTES],
    int (*fn)(void *ctx, const char *rid), void *ctx)
{
	struct cv_db_stmt *st = s->q[kind == CV_BIDX_SSN ? Q_FIND_SSN :
	    Q_FIND_NAME];
	int rc;

	db_reset(st);
	db_bind_blob(st, 1, bi, CV_BIDX_BYTES);
	while ((rc = db_step(st)) == CV_DB_ROW) {
		if (fn(ctx, db_column_text(st, 0)) != 0)
			break;
	}
	db_reset(st);
	if (rc != CV_DB_ROW && rc != CV_DB_DONE)
		return db_fail(s, "search");
	return CV_OK;
}

static cv_err
step_done(struct cv_store *s, struct cv_db_stmt *st, int64_t id,
    const char *what)
{
	db_reset(st);
	db_bind_int64(st, 1, id);
	if (db_step(st) != CV_DB_DONE)
		return db_fail(s, what);
	return CV_OK;
}

cv_err
cv_store_shred(struct cv_store *s, const char *rid)
{
	struct cv_db_stmt *st = with_rid(s, Q_ID, rid);
	int64_t id;
	int rc;
	cv_err r;

	if ((rc = db_step(st)) == CV_DB_DONE)
		return CV_ERR_NOT_FOUND;
	if (rc != CV_DB_ROW)
		return db_fail(s, "find record");
	id = db_column_int64(st, 0);
	db_reset(st);
	st = s->q[Q_HAS_DEK];
	db_reset(st);
	db_bind_int64(st, 1, id);
	rc = db_step(st);
	db_reset(st);
	if (rc == CV_DB_DONE)
		return CV_ERR_SHREDDED;
	if (rc != CV_DB_ROW)
		return db_fail(s, "find data key");
	if ((r = step_done(s, s->q[Q_DEL_DEK], id, "delete data key")) !=
	    CV_OK ||
	    (r = store_kept_shred(s, rid)) != CV_OK)
		return r;
	return step_done(s, s->q[Q_CLEAR_BI], id, "clear blind indexes");
}

/*
 * Positions (cv_store_dek.ref) at or past this are kept versions' keys
 * (versions.c), REF - KEPT_REF their row id: the rotation's scan walks
 * the records' keys, then these, and resumes anywhere in either.
 */
#define KEPT_REF ((int64_t)1 << 62)

static const char sql_kept_scan[] = "SELECT id, rid, gen, wdek FROM "
    "versions WHERE id > ?1 AND gen != ?2 ORDER BY id LIMIT ?3";
static const char sql_kept_set[] = "UPDATE versions SET gen = ?2, "
    "wdek = ?3 WHERE id = ?1";

/* The rows of scan ST (position, rid, gen, wdek) after AFTER, into OUT
 * from *N up to MAX, each at BASE + its position. */
static cv_err
dek_rows(struct cv_store *s, struct cv_db_stmt *st, int64_t after,
    uint32_t gen, int64_t base, struct cv_store_dek *out, size_t max,
    size_t *n)
{
	const char *rid;
	int rc = CV_DB_DONE;
	cv_err r = CV_OK;

	db_reset(st);
	db_bind_int64(st, 1, after);
	db_bind_int64(st, 2, gen);
	db_bind_int64(st, 3, (int64_t)(max - *n));
	while (*n < max && (rc = db_step(st)) == CV_DB_ROW) {
		struct cv_store_dek *d = &out[*n];
		rid = db_column_text(st, 1);
		if (rid == NULL || strlen(rid) >= sizeof d->rid ||
		    db_column_bytes(st, 3) != CV_WDEK_BYTES) {
			r = cv_fail(CV_ERR_FORMAT, "malformed data key row");
			break;
		}
		d->ref = base + db_column_int64(st, 0);
		strcpy(d->rid, rid);
		d->gen = (uint32_t)db_column_int64(st, 2);
		memcpy(d->wdek, db_column_blob(st, 3), CV_WDEK_BYTES);
		(*n)++;
	}
	if (r == CV_OK && *n < max && rc != CV_DB_DONE)
		r = db_fail(s, "scan data keys");
	db_reset(st);
	return r;
}

cv_err
cv_store_dek_scan(struct cv_store *s, int64_t after, uint32_t gen,
    struct cv_store_dek *out, size_t max, size_t *n)
{
	struct cv_db_stmt *st;
	cv_err r = CV_OK;

	*n = 0;
	if (after < KEPT_REF)
		r = dek_rows(s, s->q[Q_SCAN], after, gen, 0, out, max, n);
	if (r == CV_OK && *n < max) {
		if (store_stmt(s, sql_kept_scan, &st) != CV_OK)
			return db_fail(s, "scan data keys");
		r = dek_rows(s, st, after >= KEPT_REF ? after - KEPT_REF : 0,
		    gen, KEPT_REF, out, max, n);
		store_release(st);
	}
	return r;
}

cv_err
cv_store_dek_set(struct cv_store *s, int64_t ref, uint32_t gen,
    const uint8_t wdek[static CV_WDEK_BYTES])
{
	struct cv_db_stmt *st = s->q[Q_SET_DEK];
	int rc;

	if (ref >= KEPT_REF) {
		if (store_stmt(s, sql_kept_set, &st) != CV_OK)
			return db_fail(s, "update data key");
		ref -= KEPT_REF;
	}
	db_reset(st);
	db_bind_int64(st, 1, ref);
	db_bind_int64(st, 2, gen);
	db_bind_blob(st, 3, wdek, CV_WDEK_BYTES);
	rc = db_step(st);
	db_reset(st);
	if (rc != CV_DB_DONE)
		return db_fail(s, "update data key");
	return CV_OK;
}

static cv_err
count(struct cv_store *s, const char *q, int64_t *n)
{
	struct cv_db_stmt *st = NULL;
	cv_err r = CV_OK;

	if (db_prepare(s->db, q, 0, &st) != CV_OK ||
	    db_step(st) != CV_DB_ROW)
		r = db_fail(s, "count");
	else
		*n = db_column_int64(st, 0);
	db_finalize(st);
	return r;
}

cv_err
cv_store_count(struct cv_store *s, int64_t *records, int64_t *shredded)
{
	int64_t keys = 0;
	cv_err r;

	if ((r = count(s, "SELECT count(*) FROM records r WHERE " VISIBLE("r"),
	    records)) != CV_OK ||
	    (r = count(s, "SELECT count(*) FROM deks d JOIN records r ON "
	    "r.id = d.rec WHERE " VISIBLE("r"), &keys)) != CV_OK)
		return r;
	*shredded = *records - keys;
	return CV_OK;
}

cv_err
cv_store_checkpoint(struct cv_store *s)
{
	if (db_checkpoint(s->db) != CV_OK)
		return db_fail(s, "database");
	return CV_OK;
}

cv_err
store_stmt(struct cv_store *s, const char *text, struct cv_db_stmt **st)
{
	for (size_t i = 0; i < s->ncache; i++) {
		if (s->cache[i].sql == text) {
			*st = s->cache[i].st;
			return CV_OK;
		}
	}
	if (s->ncache == sizeof s->cache / sizeof s->cache[0] ||
	    db_prepare(s->db, text, CV_DB_PERSISTENT, st) != CV_OK)
		return CV_ERR_STORE;
	s->cache[s->ncache].sql = text;
	s->cache[s->ncache++].st = *st;
	return CV_OK;
}

void
store_release(struct cv_db_stmt *st)
{
	db_reset_unbind(st);
}

cv_err
cv_store_identity(struct cv_store *s, char *out, size_t size)
{
	struct cv_db_stmt *st;
	cv_err r = CV_OK;

	if (size)
		*out = '\0';
	if (!cv_store_shared(s))
		return CV_OK;
	if (store_stmt(s, "SELECT 'postgresql:' || system_identifier || '/' "
	    "|| current_database() FROM pg_control_system()", &st) != CV_OK)
		return cv_fail(CV_ERR_STORE, "the database's identity: %s",
		    db_errmsg(s->db));
	if (db_step(st) != CV_DB_ROW)
		r = cv_fail(CV_ERR_STORE, "the database's identity: %s",
		    db_errmsg(s->db));
	else if ((size_t)snprintf(out, size, "%s", db_column_text(st, 0)) >=
	    size)
		r = cv_fail(CV_ERR_STORE, "the database's identity is too "
		    "long");
	store_release(st);
	return r;
}
