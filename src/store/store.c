#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "store_internal.h"

#define SCHEMA_VERSION "1"

enum { Q_VERSION, Q_STATE, Q_INSERT, Q_PUT, Q_PUT_DEK, Q_GET, Q_FIND_SSN, Q_FIND_NAME,
	Q_ID, Q_HAS_DEK, Q_DEL_DEK, Q_CLEAR_BI, Q_SCAN, Q_SET_DEK, Q__N };
_Static_assert(Q__N <= sizeof ((struct cv_store *)0)->q /
    sizeof(sqlite3_stmt *), "room for every statement");

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
	[Q_INSERT] = "INSERT INTO records(rid, version, ssn_bi, name_bi, body, "
	    "load) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(rid) DO NOTHING",

	[Q_PUT_DEK] = "INSERT OR REPLACE INTO deks(rec, rid, gen, wdek) "
	    "VALUES (?1, ?4, ?2, ?3)",
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

static const char schema[] =
    "CREATE TABLE meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);"
    "INSERT INTO meta VALUES ('schema', '" SCHEMA_VERSION "');"
    /* body: the encrypted sections; *_bi: blind indexes (keyed hashes);
     * load: the load that wrote it (loads.c), NULL for a single put */
    "CREATE TABLE records(id INTEGER PRIMARY KEY, rid TEXT NOT NULL UNIQUE,"
    " version INTEGER NOT NULL, ssn_bi BLOB, name_bi BLOB,"
    " body BLOB NOT NULL, load INTEGER);"
    "CREATE INDEX records_ssn ON records(ssn_bi);"
    "CREATE INDEX records_name ON records(name_bi);"
    /* Data keys apart from the bodies: rotation reads and rewrites small
     * rows only (rid, which the wrapping binds, is copied here for that),
     * and shredding deletes one. */
    "CREATE TABLE deks(rec INTEGER PRIMARY KEY, rid TEXT NOT NULL,"
    " gen INTEGER NOT NULL, wdek BLOB NOT NULL);";


static cv_err
db_fail(struct cv_store *s, const char *what)
{
	return cv_fail(CV_ERR_STORE, "%s: %s", what,
	    s->db ? sqlite3_errmsg(s->db) : "no database");
}

static cv_err
exec(struct cv_store *s, const char *q)
{
	if (sqlite3_exec(s->db, q, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(s, "database");
	return CV_OK;
}

static cv_err
check_schema(struct cv_store *s)
{
	sqlite3_stmt *st = NULL;
	cv_err r = CV_ERR_STORE;

	if (sqlite3_prepare_v2(s->db, "SELECT v FROM meta WHERE k = 'schema'",
	    -1, &st, NULL) != SQLITE_OK) {
		r = cv_fail(CV_ERR_STORE, "not a clearvault database");
		goto out;
	}
	if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_text(st, 0) ==
	    NULL || strcmp((const char *)sqlite3_column_text(st, 0),
	    SCHEMA_VERSION) != 0) {
		r = cv_fail(CV_ERR_STORE, "unsupported database schema");
		goto out;
	}
	r = CV_OK;
 out:
	sqlite3_finalize(st);
	return r;
}

/*
 * Waiting for another connection's write lock: tries again every
 * millisecond, for BUSY_SECONDS at most. SQLite's own handler backs off
 * to 100 ms between tries, and a bulk load, which lets go of the lock
 * between its short transactions only briefly, then starves a server's
 * login for seconds.
 */
#define BUSY_SECONDS 10.0

static int
busy(void *ctx, int tries)
{
	struct cv_store *s = ctx;

	if (tries == 0)
		s->busy_since = cv_now();
	else if (cv_now() - s->busy_since >= BUSY_SECONDS)
		return 0;
	nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	return 1;
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
	sqlite3_stmt *st = NULL;
	int have;
	cv_err r;

	have = sqlite3_prepare_v2(s->db, "SELECT load FROM records LIMIT 0",
	    -1, &st, NULL) == SQLITE_OK;
	sqlite3_finalize(st);
	if (have)
		return CV_OK;
	if ((r = exec(s, "BEGIN IMMEDIATE")) != CV_OK)
		return r;
	/* Another process may have been first. */
	have = sqlite3_prepare_v2(s->db, "SELECT load FROM records LIMIT 0",
	    -1, &st, NULL) == SQLITE_OK;
	sqlite3_finalize(st);
	if (!have && ((r = exec(s, "ALTER TABLE records ADD COLUMN load "
	    "INTEGER")) != CV_OK ||
	    (r = exec(s, "INSERT INTO loads(state, audited, started_us) "
	    "SELECT 1, 1, 0 WHERE EXISTS (SELECT 1 FROM records)")) != CV_OK)) {
		(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return r;
	}
	return exec(s, "COMMIT");
}

cv_err
cv_store_open(const char *path, enum cv_store_mode mode,
    struct cv_store **out)
{
	struct cv_store *s;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
	cv_err r = CV_ERR_STORE;

	*out = NULL;
	if ((s = calloc(1, sizeof *s)) == NULL)
		return CV_ERR_NOMEM;
	if (mode == CV_STORE_CREATE)
		flags |= SQLITE_OPEN_CREATE | SQLITE_OPEN_EXCLUSIVE;
	if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
		r = cv_fail(CV_ERR_STORE, "cannot open %s: %s", path,
		    s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto out;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_handler(s->db, busy, s);
	/* Records are ~3 KiB: 4 KiB pages would hold one each and waste a
	 * quarter of the file. Only takes effect on a new database. */
	if (mode == CV_STORE_CREATE &&
	    (r = exec(s, "PRAGMA page_size=16384")) != CV_OK)
		goto out;
	/*
	 * secure_delete: freed bytes (a shredded key, an old version) are
	 * zeroed in the file. temp_store: no temp files beside the vault.
	 */
	if ((r = exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	    "PRAGMA secure_delete=ON; PRAGMA temp_store=MEMORY;"
	    "PRAGMA cache_size=-1048576; PRAGMA mmap_size=68719476736")) != CV_OK)
		goto out;
	if (mode == CV_STORE_CREATE) {
		if ((r = exec(s, "BEGIN")) != CV_OK ||
		    (r = exec(s, schema)) != CV_OK ||
		    (r = exec(s, store_users_schema)) != CV_OK ||
		    (r = exec(s, store_cases_schema)) != CV_OK ||
		    (r = exec(s, store_approvals_schema)) != CV_OK ||
		    (r = exec(s, store_loads_schema)) != CV_OK ||
		    (r = exec(s, store_versions_schema)) != CV_OK ||
		    (r = exec(s, "COMMIT")) != CV_OK)
			goto out;
	} else if ((r = check_schema(s)) != CV_OK ||
	    /* Tables added after schema 1 shipped: created if missing. */
	    (r = exec(s, store_users_schema)) != CV_OK ||
	    (r = exec(s, store_cases_schema)) != CV_OK ||
	    (r = exec(s, store_approvals_schema)) != CV_OK ||
	    (r = exec(s, store_loads_schema)) != CV_OK ||
	    (r = exec(s, store_versions_schema)) != CV_OK ||
	    (r = add_load_column(s)) != CV_OK)
		goto out;
	for (int i = 0; i < Q__N; i++) {
		if (sqlite3_prepare_v3(s->db, sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &s->q[i], NULL) != SQLITE_OK) {
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
		sqlite3_finalize(s->q[i]);
	for (size_t i = 0; i < s->ncache; i++)
		sqlite3_finalize(s->cache[i].st);
	sqlite3_close(s->db);
	free(s);
}

static cv_err
begin(struct cv_store *s, const char *how)
{
	cv_err r;

	if ((r = exec(s, how)) == CV_OK)
		s->in_tx = 1;
	return r;
}

/* The server opens and closes a read transaction per request: prepared
 * once, not parsed each time. */
static const char sql_read_begin[] = "BEGIN DEFERRED", sql_commit[] = "COMMIT";

static int
step_cached(struct cv_store *s, const char *text)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = store_stmt(s, text, &st)) != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

cv_err
cv_store_read_begin(struct cv_store *s)
{
	if (step_cached(s, sql_read_begin) != SQLITE_OK)
		return db_fail(s, "database");
	s->in_tx = 1;
	return CV_OK;
}

void
cv_store_read_end(struct cv_store *s)
{
	/* A read transaction has nothing to lose if COMMIT fails. */
	(void)step_cached(s, sql_commit);
	s->in_tx = 0;
}

static const char sql_data_version[] = "PRAGMA data_version";

cv_err
cv_store_epoch(struct cv_store *s, struct cv_store_epoch *e)
{
	sqlite3_stmt *st;
	int rc;

	if (store_stmt(s, sql_data_version, &st) != SQLITE_OK)
		return db_fail(s, "database");
	rc = sqlite3_step(st);
	e->data = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	store_release(st);
	if (rc != SQLITE_ROW)
		return db_fail(s, "database");
	e->changes = sqlite3_total_changes64(s->db);
	return CV_OK;
}

cv_err
cv_store_sync(struct cv_store *s, int full)
{
	return exec(s, full ? "PRAGMA synchronous=FULL" :
	    "PRAGMA synchronous=NORMAL");
}

cv_err
cv_store_begin(struct cv_store *s)
{
	return begin(s, "BEGIN IMMEDIATE");
}

cv_err
cv_store_commit(struct cv_store *s)
{
	cv_err r;

	if ((r = exec(s, "COMMIT")) == CV_OK)
		s->in_tx = 0;
	return r;
}

void
cv_store_rollback(struct cv_store *s)
{
	(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	s->in_tx = 0;
}

/* Prepared statement I, reset and bound to RID as ?1. */
static sqlite3_stmt *
with_rid(struct cv_store *s, int i, const char *rid)
{
	sqlite3_stmt *st = s->q[i];

	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, rid, -1, SQLITE_STATIC);
	return st;
}

cv_err
cv_store_version(struct cv_store *s, const char *rid, uint32_t *version)
{
	sqlite3_stmt *st = with_rid(s, Q_VERSION, rid);
	int rc = sqlite3_step(st);

	if (rc == SQLITE_DONE)
		return CV_ERR_NOT_FOUND;
	if (rc != SQLITE_ROW)
		return db_fail(s, "read version");
	*version = (uint32_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return CV_OK;
}

cv_err
cv_store_state(struct cv_store *s, const char *rid, uint32_t *version)
{
	sqlite3_stmt *st = with_rid(s, Q_STATE, rid);
	int rc = sqlite3_step(st), shredded;

	if (rc == SQLITE_DONE)
		return CV_ERR_NOT_FOUND;
	if (rc != SQLITE_ROW)
		return db_fail(s, "read version");
	*version = (uint32_t)sqlite3_column_int64(st, 0);
	shredded = sqlite3_column_int(st, 1);
	sqlite3_reset(st);
	return shredded ? CV_ERR_SHREDDED : CV_OK;
}

/* Runs Q_INSERT or Q_PUT for P, then writes P's data key. */
static cv_err
write_record(struct cv_store *s, int q, const struct cv_store_put *p,
    int *exists)
{
	sqlite3_stmt *st = with_rid(s, q, p->rid);
	int64_t id;
	int rc;

	sqlite3_bind_int64(st, 2, p->version);
	sqlite3_bind_blob(st, 3, p->ssn_bi, CV_BIDX_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, p->name_bi, CV_BIDX_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob64(st, 5, p->body, p->body_len, SQLITE_STATIC);
	if (p->load)
		sqlite3_bind_int64(st, 6, p->load);
	else
		sqlite3_bind_null(st, 6);
	if (exists) {
		/* No RETURNING on the hot path: changes() tells. */
		if (sqlite3_step(st) != SQLITE_DONE)
			return db_fail(s, "write record");
		if (sqlite3_changes(s->db) == 0) {
			*exists = 1;
			return CV_OK;
		}
		id = sqlite3_last_insert_rowid(s->db);
	} else {
		if ((rc = sqlite3_step(st)) != SQLITE_ROW)
			return db_fail(s, "write record");
		id = sqlite3_column_int64(st, 0);
		if (sqlite3_step(st) != SQLITE_DONE)
			return db_fail(s, "write record");
	}
	st = s->q[Q_PUT_DEK];
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, p->gen);
	sqlite3_bind_blob(st, 3, p->wdek, CV_WDEK_BYTES, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, p->rid, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
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
	sqlite3_stmt *st = with_rid(s, Q_GET, rid);
	const void *body;
	int rc;
	cv_err r = CV_ERR_STORE;

	memset(row, 0, sizeof *row);
	if ((rc = sqlite3_step(st)) == SQLITE_DONE)
		return CV_ERR_NOT_FOUND;
	if (rc != SQLITE_ROW)
		return db_fail(s, "read record");
	row->version = (uint32_t)sqlite3_column_int64(st, 0);
	body = sqlite3_column_blob(st, 1);
	row->body_len = (size_t)sqlite3_column_bytes(st, 1);
	if (sqlite3_column_type(st, 2) == SQLITE_NULL) {
		row->shredded = 1;
	} else {
		row->gen = (uint32_t)sqlite3_column_int64(st, 2);
		if (sqlite3_column_bytes(st, 3) != CV_WDEK_BYTES) {
			r = cv_fail(CV_ERR_FORMAT, "data key of %s has a bad "
			    "length", rid);
			goto out;
		}
		memcpy(row->wdek, sqlite3_column_blob(st, 3), CV_WDEK_BYTES);
	}
	if ((row->body = malloc(row->body_len ? row->body_len : 1)) == NULL) {
		r = CV_ERR_NOMEM;
		goto out;
	}
	if (row->body_len)
		memcpy(row->body, body, row->body_len);
	r = CV_OK;
 out:
	sqlite3_reset(st);
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
	sqlite3_stmt *st = s->q[kind == CV_BIDX_SSN ? Q_FIND_SSN :
	    Q_FIND_NAME];
	int rc;

	sqlite3_reset(st);
	sqlite3_bind_blob(st, 1, bi, CV_BIDX_BYTES, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (fn(ctx, (const char *)sqlite3_column_text(st, 0)) != 0)
			break;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(s, "search");
	return CV_OK;
}

static cv_err
step_done(struct cv_store *s, sqlite3_stmt *st, int64_t id, const char *what)
{
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_DONE)
		return db_fail(s, what);
	return CV_OK;
}

cv_err
cv_store_shred(struct cv_store *s, const char *rid)
{
	sqlite3_stmt *st = with_rid(s, Q_ID, rid);
	int64_t id;
	int rc;
	cv_err r;

	if ((rc = sqlite3_step(st)) == SQLITE_DONE)
		return CV_ERR_NOT_FOUND;
	if (rc != SQLITE_ROW)
		return db_fail(s, "find record");
	id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	st = s->q[Q_HAS_DEK];
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return CV_ERR_SHREDDED;
	if (rc != SQLITE_ROW)
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
dek_rows(struct cv_store *s, sqlite3_stmt *st, int64_t after, uint32_t gen,
    int64_t base, struct cv_store_dek *out, size_t max, size_t *n)
{
	const char *rid;
	int rc = SQLITE_DONE;
	cv_err r = CV_OK;

	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, after);
	sqlite3_bind_int64(st, 2, gen);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)(max - *n));
	while (*n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct cv_store_dek *d = &out[*n];
		rid = (const char *)sqlite3_column_text(st, 1);
		if (rid == NULL || strlen(rid) >= sizeof d->rid ||
		    sqlite3_column_bytes(st, 3) != CV_WDEK_BYTES) {
			r = cv_fail(CV_ERR_FORMAT, "malformed data key row");
			break;
		}
		d->ref = base + sqlite3_column_int64(st, 0);
		strcpy(d->rid, rid);
		d->gen = (uint32_t)sqlite3_column_int64(st, 2);
		memcpy(d->wdek, sqlite3_column_blob(st, 3), CV_WDEK_BYTES);
		(*n)++;
	}
	if (r == CV_OK && *n < max && rc != SQLITE_DONE)
		r = db_fail(s, "scan data keys");
	sqlite3_reset(st);
	return r;
}

cv_err
cv_store_dek_scan(struct cv_store *s, int64_t after, uint32_t gen,
    struct cv_store_dek *out, size_t max, size_t *n)
{
	sqlite3_stmt *st;
	cv_err r = CV_OK;

	*n = 0;
	if (after < KEPT_REF)
		r = dek_rows(s, s->q[Q_SCAN], after, gen, 0, out, max, n);
	if (r == CV_OK && *n < max) {
		if (store_stmt(s, sql_kept_scan, &st) != SQLITE_OK)
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
	sqlite3_stmt *st = s->q[Q_SET_DEK];
	int rc;

	if (ref >= KEPT_REF) {
		if (store_stmt(s, sql_kept_set, &st) != SQLITE_OK)
			return db_fail(s, "update data key");
		ref -= KEPT_REF;
	}
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, ref);
	sqlite3_bind_int64(st, 2, gen);
	sqlite3_bind_blob(st, 3, wdek, CV_WDEK_BYTES, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return db_fail(s, "update data key");
	return CV_OK;
}

static cv_err
count(struct cv_store *s, const char *q, int64_t *n)
{
	sqlite3_stmt *st = NULL;
	cv_err r = CV_OK;

	if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		r = db_fail(s, "count");
	else
		*n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
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
	return exec(s, "PRAGMA wal_checkpoint(TRUNCATE)");
}

int
store_stmt(struct cv_store *s, const char *text, sqlite3_stmt **st)
{
	for (size_t i = 0; i < s->ncache; i++) {
		if (s->cache[i].sql == text) {
			*st = s->cache[i].st;
			return SQLITE_OK;
		}
	}
	if (s->ncache == sizeof s->cache / sizeof s->cache[0])
		return SQLITE_FULL;
	if (sqlite3_prepare_v3(s->db, text, -1, SQLITE_PREPARE_PERSISTENT, st,
	    NULL) != SQLITE_OK)
		return SQLITE_ERROR;
	s->cache[s->ncache].sql = text;
	s->cache[s->ncache++].st = *st;
	return SQLITE_OK;
}

void
store_release(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}
