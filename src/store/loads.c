/*
 * Bulk loads and the canary list.
 *
 * A load writes its records in many short transactions, so that the
 * write lock is never held for long, each row tagged with the load's id.
 * Reads see a tagged row only once its load is done (store.c, VISIBLE),
 * so the load still stores all or nothing: its last transaction marks it
 * done, or a later one removes what it wrote. A new version of a record
 * that exists would be visible at once: it waits in load_versions until
 * that last transaction.
 */
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

/*
 * Written once for both dialects (store_internal.h). state:
 * CV_STORE_LOAD_*; audited: its outcome is on the audit log; first_rec:
 * no row of the load has a smaller id (for discarding). load_versions'
 * base: the version the new one replaces, checked when applied.
 */
#define SCHEMA(D) \
    "CREATE TABLE IF NOT EXISTS loads(id " D##_ROWID "," \
    " state " D##_INT " NOT NULL, audited " D##_INT " NOT NULL DEFAULT 0," \
    " digest " D##_BLOB ", bytes " D##_INT " NOT NULL DEFAULT 0," \
    " records " D##_INT " NOT NULL DEFAULT 0," \
    " versions " D##_INT " NOT NULL DEFAULT 0," \
    " canaries " D##_INT " NOT NULL DEFAULT 0," \
    " first_rec " D##_INT " NOT NULL DEFAULT 0," \
    " started_us " D##_INT " NOT NULL, decided_us " D##_INT " NOT NULL" \
    " DEFAULT 0);" \
    "CREATE INDEX IF NOT EXISTS loads_digest ON loads(digest);" \
    "CREATE TABLE IF NOT EXISTS load_versions(load " D##_INT " NOT NULL," \
    " rid TEXT NOT NULL, base " D##_INT " NOT NULL, version " D##_INT \
    " NOT NULL, ssn_bi " D##_BLOB ", name_bi " D##_BLOB ", body " D##_BLOB \
    " NOT NULL, gen " D##_INT " NOT NULL, wdek " D##_BLOB " NOT NULL," \
    " PRIMARY KEY(load, rid));" \
    "CREATE TABLE IF NOT EXISTS canary_list(one " D##_KEY \
    " CHECK (one = 1), stamp " D##_INT " NOT NULL, sealed " D##_BLOB \
    " NOT NULL);"

const char *const store_loads_schema[2] = {
	[CV_DB_SQLITE] = SCHEMA(SQ),
	[CV_DB_POSTGRESQL] = SCHEMA(PG),
};

static cv_err
prep(struct cv_store *s, const char *q, struct cv_db_stmt **st)
{
	if (store_stmt(s, q, st) != CV_OK)
		return cv_fail(CV_ERR_STORE, "loads: %s", db_errmsg(s->db));
	return CV_OK;
}

/* Steps a statement that returns no row; releases it. */
static cv_err
done(struct cv_store *s, struct cv_db_stmt *st, int *changes)
{
	int rc = db_step(st);

	store_release(st);
	if (rc != CV_DB_DONE)
		return cv_fail(CV_ERR_STORE, "loads: %s", db_errmsg(s->db));
	if (changes)
		*changes = (int)db_changes(s->db);
	return CV_OK;
}

/* A step that wanted one row: CV_OK (there was one), CV_ERR_NOT_FOUND. */
static cv_err
one_row(struct cv_store *s, int rc)
{
	if (rc == CV_DB_ROW)
		return CV_OK;
	if (rc == CV_DB_DONE)
		return CV_ERR_NOT_FOUND;
	return cv_fail(CV_ERR_STORE, "loads: %s", db_errmsg(s->db));
}

/* Runs Q with ?1 = A (and ?2 = B unless B < 0), no row wanted. */
static cv_err
run2(struct cv_store *s, const char *q, int64_t a, int64_t b, int *changes)
{
	struct cv_db_stmt *st;
	cv_err r;

	if ((r = prep(s, q, &st)) != CV_OK)
		return r;
	db_bind_int64(st, 1, a);
	if (b >= 0)
		db_bind_int64(st, 2, b);
	return done(s, st, changes);
}

/* One integer from Q with ?1 = A; CV_ERR_NOT_FOUND without a row. */
static cv_err
int_of(struct cv_store *s, const char *q, int64_t a, int64_t *out)
{
	struct cv_db_stmt *st;
	int rc;
	cv_err r;

	if ((r = prep(s, q, &st)) != CV_OK)
		return r;
	db_bind_int64(st, 1, a);
	rc = db_step(st);
	if (rc == CV_DB_ROW)
		*out = db_column_int64(st, 0);
	store_release(st);
	return one_row(s, rc);
}

cv_err
cv_store_load_new(struct cv_store *s, int64_t now_us, int64_t *id)
{
	struct cv_db_stmt *st;
	cv_err r;

	*id = 0;
	/* Inside the caller's write transaction nobody else inserts, so the
	 * load's first row gets max + 1 at the least. */
	if ((r = prep(s, "INSERT INTO loads(state, started_us, first_rec)"
	    " VALUES (0, ?1, (SELECT COALESCE(max(id), 0) + 1 FROM records))",
	    &st)) != CV_OK)
		return r;
	db_bind_int64(st, 1, now_us);
	if ((r = done(s, st, NULL)) == CV_OK)
		*id = db_last_insert_id(s->db);
	return r;
}

cv_err
cv_store_load_insert(struct cv_store *s, const struct cv_store_put *p,
    int *exists, int *own, uint32_t *version)
{
	struct cv_db_stmt *st;
	int64_t load = 0, pending = 0;
	int rc, visible = 0;
	cv_err r;

	*own = 0;
	if ((r = cv_store_insert(s, p, exists)) != CV_OK || !*exists)
		return r;
	if ((r = prep(s, "SELECT r.version, r.load, " VISIBLE("r") " FROM"
	    " records r WHERE r.rid = ?1", &st)) != CV_OK)
		return r;
	db_bind_text(st, 1, p->rid);
	if ((rc = db_step(st)) == CV_DB_ROW) {
		*version = (uint32_t)db_column_int64(st, 0);
		load = db_column_int64(st, 1);
		visible = db_column_int(st, 2);
	}
	store_release(st);
	if ((r = one_row(s, rc)) != CV_OK)
		return r == CV_ERR_NOT_FOUND ? cv_fail(CV_ERR_INTERNAL,
		    "record %s vanished", p->rid) : r;
	if (load == p->load) {
		*own = 1;
		return CV_OK;
	}
	if (!visible)
		return cv_fail(CV_ERR_EXISTS, "record %s belongs to load %lld, "
		    "which has not finished", p->rid, (long long)load);
	/* A second new version of it in the same load builds on the first. */
	if ((r = prep(s, "SELECT version FROM load_versions WHERE load = ?1"
	    " AND rid = ?2", &st)) != CV_OK)
		return r;
	db_bind_int64(st, 1, p->load);
	db_bind_text(st, 2, p->rid);
	if ((rc = db_step(st)) == CV_DB_ROW)
		pending = db_column_int64(st, 0);
	store_release(st);
	if ((r = one_row(s, rc)) != CV_OK && r != CV_ERR_NOT_FOUND)
		return r;
	if (pending > *version)
		*version = (uint32_t)pending;
	return CV_OK;
}

static int
cmp_rid(const void *a, const void *b)
{
	return strcmp((*(const struct cv_store_put *const *)a)->rid,
	    (*(const struct cv_store_put *const *)b)->rid);
}

/*
 * Whether two of PUT's N records share a rid (a record twice in one
 * batch: the second is a new version of the first, one at a time).
 */
static cv_err
twice(const struct cv_store_put *const *put, size_t n, int *found)
{
	const struct cv_store_put **sorted;

	*found = 0;
	if ((sorted = malloc(n * sizeof *sorted)) == NULL)
		return CV_ERR_NOMEM;
	memcpy(sorted, put, n * sizeof *sorted);
	qsort(sorted, n, sizeof *sorted, cmp_rid);
	for (size_t i = 1; i < n && !*found; i++)
		*found = strcmp(sorted[i - 1]->rid, sorted[i]->rid) == 0;
	free(sorted);
	return CV_OK;
}

/* PUT's rids as an SQL array literal, {"a","b"}, into B (NUL-ended). */
static cv_err
rid_array(const struct cv_store_put *const *put, size_t n, struct cv_buf *b)
{
	cv_err r = cv_buf_add(b, "{", 1);

	for (size_t i = 0; r == CV_OK && i < n; i++) {
		/* Ids are letters, digits, '-', '_', '.' (record/scan.c);
		 * quoted and escaped all the same. */
		r = cv_buf_add(b, i ? ",\"" : "\"", i ? 2 : 1);
		for (const char *c = put[i]->rid; r == CV_OK && *c; c++) {
			if (*c == '"' || *c == '\\')
				r = cv_buf_add(b, "\\", 1);
			if (r == CV_OK)
				r = cv_buf_add(b, c, 1);
		}
		if (r == CV_OK)
			r = cv_buf_add(b, "\"", 1);
	}
	return r != CV_OK ? r : cv_buf_add(b, "}", 2);	/* and the NUL */
}

/*
 * N ids for new records, in order, into IDS; none when a rid of PUT is
 * taken (*TAKEN). From the records' own sequence, as a row's default
 * would be: under the write lock nobody takes one meanwhile, and a later
 * insert without an id gets a higher one.
 */
static cv_err
new_ids(struct cv_store *s, const struct cv_store_put *const *put, size_t n,
    int64_t *ids, int *taken)
{
	struct cv_buf rids = { 0 };
	struct cv_db_stmt *st;
	size_t got = 0;
	int rc = CV_DB_DONE;
	cv_err r;

	*taken = 1;
	if ((r = twice(put, n, taken)) != CV_OK || *taken ||
	    (r = rid_array(put, n, &rids)) != CV_OK ||
	    (r = prep(s, "SELECT nextval(pg_get_serial_sequence('records',"
	    " 'id')) FROM generate_series(1, CAST(?2 AS BIGINT)) WHERE NOT"
	    " EXISTS (SELECT 1 FROM records WHERE rid = ANY(CAST(?1 AS"
	    " TEXT[])))", &st)) != CV_OK)
		goto out;
	db_bind_text(st, 1, (const char *)rids.p);
	db_bind_int64(st, 2, (int64_t)n);
	while (got < n && (rc = db_step(st)) == CV_DB_ROW)
		ids[got++] = db_column_int64(st, 0);
	store_release(st);
	if (rc != CV_DB_ROW && rc != CV_DB_DONE)
		r = cv_fail(CV_ERR_STORE, "loads: %s", db_errmsg(s->db));
	else if ((*taken = got == 0) == 0 && got != n)
		r = cv_fail(CV_ERR_INTERNAL, "loads: %zu ids for %zu records",
		    got, n);
 out:
	cv_buf_free(&rids);
	return r;
}

/* Writes COLS of TABLE in bulk, row I's values from FILL(PUT[I], ID). */
static cv_err
bulk(struct cv_store *s, const char *table, int cols,
    const struct cv_store_put *const *put, const int64_t *ids, size_t n,
    void (*fill)(struct cv_db_value *v, const struct cv_store_put *p,
    int64_t id))
{
	struct cv_db_value v[8];
	int64_t rows = 0;
	int ok = 1;

	if (db_bulk_begin(s->db, table, cols) != CV_OK)
		return cv_fail(CV_ERR_STORE, "loads: %s", db_errmsg(s->db));
	for (size_t i = 0; ok && i < n; i++) {
		fill(v, put[i], ids[i]);
		ok = db_bulk_row(s->db, v) == CV_OK;
	}
	if (db_bulk_end(s->db, ok, &rows) != CV_OK)
		return cv_fail(CV_ERR_STORE, "loads: %s", db_errmsg(s->db));
	if (rows != (int64_t)n)
		return cv_fail(CV_ERR_INTERNAL, "loads: %lld of %zu rows "
		    "written", (long long)rows, n);
	return CV_OK;
}

static struct cv_db_value
int_v(int64_t i)
{
	return (struct cv_db_value){ CV_DB_V_INT64, i, NULL, 0 };
}

static struct cv_db_value
blob_v(const void *p, size_t n)
{
	return (struct cv_db_value){ CV_DB_V_BLOB, 0, p, n };
}

#define RECORD_COLS "records(id, rid, version, ssn_bi, name_bi, body, load)"
static void
record_row(struct cv_db_value *v, const struct cv_store_put *p, int64_t id)
{
	v[0] = int_v(id);
	v[1] = (struct cv_db_value){ CV_DB_V_TEXT, 0, p->rid, 0 };
	v[2] = int_v(p->version);
	v[3] = blob_v(p->ssn_bi, CV_BIDX_BYTES);
	v[4] = blob_v(p->name_bi, CV_BIDX_BYTES);
	v[5] = blob_v(p->body, p->body_len);
	v[6] = int_v(p->load);
}

#define DEK_COLS "deks(rec, rid, gen, wdek)"
static void
dek_row(struct cv_db_value *v, const struct cv_store_put *p, int64_t id)
{
	v[0] = int_v(id);
	v[1] = (struct cv_db_value){ CV_DB_V_TEXT, 0, p->rid, 0 };
	v[2] = int_v(p->gen);
	v[3] = blob_v(p->wdek, CV_WDEK_BYTES);
}

/*
 * Only a driver with bulk rows (PostgreSQL) runs this, and new_ids's
 * statement, which is PostgreSQL's. The rows go straight into records
 * and deks: no staging table, so each is written once; whether a rid is
 * taken is asked first, under the write lock, for the whole batch.
 */
cv_err
cv_store_load_bulk(struct cv_store *s, const struct cv_store_put *const *put,
    size_t n, int *written)
{
	int64_t *ids = NULL;
	int taken = 1;
	cv_err r;

	*written = 0;
	if (!db_can_bulk(s->db))
		return CV_OK;
	if (n == 0) {
		*written = 1;
		return CV_OK;
	}
	if ((ids = malloc(n * sizeof *ids)) == NULL)
		return CV_ERR_NOMEM;
	if ((r = new_ids(s, put, n, ids, &taken)) == CV_OK && !taken &&
	    (r = bulk(s, RECORD_COLS, 7, put, ids, n, record_row)) == CV_OK &&
	    (r = bulk(s, DEK_COLS, 4, put, ids, n, dek_row)) == CV_OK)
		*written = 1;
	free(ids);
	return r;
}

cv_err
cv_store_load_version(struct cv_store *s, const struct cv_store_put *p,
    int own)
{
	struct cv_db_stmt *st;
	cv_err r;

	if (own)
		return cv_store_put(s, p);
	if ((r = prep(s, "INSERT INTO load_versions(load, rid, base, version,"
	    " ssn_bi, name_bi, body, gen, wdek) VALUES (?1, ?2, (SELECT version"
	    " FROM records WHERE rid = ?2), ?3, ?4, ?5, ?6, ?7, ?8)"
	    " ON CONFLICT(load, rid) DO UPDATE SET version = excluded.version,"
	    " ssn_bi = excluded.ssn_bi, name_bi = excluded.name_bi,"
	    " body = excluded.body, gen = excluded.gen, wdek = excluded.wdek",
	    &st)) != CV_OK)
		return r;
	db_bind_int64(st, 1, p->load);
	db_bind_text(st, 2, p->rid);
	db_bind_int64(st, 3, p->version);
	db_bind_blob(st, 4, p->ssn_bi, CV_BIDX_BYTES);
	db_bind_blob(st, 5, p->name_bi, CV_BIDX_BYTES);
	db_bind_blob(st, 6, p->body, p->body_len);
	db_bind_int64(st, 7, p->gen);
	db_bind_blob(st, 8, p->wdek, CV_WDEK_BYTES);
	return done(s, st, NULL);
}

cv_err
cv_store_load_swap(struct cv_store *s, int64_t load, const char *rid,
    uint64_t pick)
{
	struct cv_db_stmt *st;
	int64_t c = 0, first = 0, x, other = -1;
	int rc;
	cv_err r;

	if ((r = prep(s, "SELECT r.id, l.first_rec FROM records r JOIN loads l"
	    " ON l.id = r.load WHERE r.rid = ?1 AND r.load = ?2 AND"
	    " l.state = 0", &st)) != CV_OK)
		return r;
	db_bind_text(st, 1, rid);
	db_bind_int64(st, 2, load);
	if ((rc = db_step(st)) == CV_DB_ROW) {
		c = db_column_int64(st, 0);
		first = db_column_int64(st, 1);
	}
	store_release(st);
	if ((r = one_row(s, rc)) != CV_OK)
		return r == CV_ERR_NOT_FOUND ? cv_fail(CV_ERR_INVALID, "record "
		    "%s is not of open load %lld", rid, (long long)load) : r;
	if (c < first)
		return cv_fail(CV_ERR_INTERNAL, "load %lld: a row before its "
		    "first", (long long)load);
	x = first + (int64_t)(pick % (uint64_t)(c - first + 1));
	if (x == c)
		return CV_OK;
	/* Rows written meanwhile by others (a record made through the API)
	 * and rows deleted leave holes: the caller picks again. */
	if ((r = int_of(s, "SELECT COALESCE(load, 0) FROM records WHERE id = ?1",
	    x, &other)) != CV_OK && r != CV_ERR_NOT_FOUND)
		return r;
	if (r == CV_ERR_NOT_FOUND || other != load)
		return CV_ERR_NOT_FOUND;
	/* Every table that names a record by its rowid: records and deks.
	 * X goes to -X, C to X, -X to C: the same statement twice (the
	 * negative key bound from here, as PostgreSQL cannot type -$1). */
	if ((r = run2(s, "UPDATE records SET id = -id WHERE id = ?1", x, -1,
	    NULL)) != CV_OK ||
	    (r = run2(s, "UPDATE records SET id = ?2 WHERE id = ?1", c, x,
	    NULL)) != CV_OK ||
	    (r = run2(s, "UPDATE records SET id = ?2 WHERE id = ?1", -x, c,
	    NULL)) != CV_OK ||
	    (r = run2(s, "UPDATE deks SET rec = -rec WHERE rec = ?1", x, -1,
	    NULL)) != CV_OK ||
	    (r = run2(s, "UPDATE deks SET rec = ?2 WHERE rec = ?1", c, x,
	    NULL)) != CV_OK)
		return r;
	return run2(s, "UPDATE deks SET rec = ?2 WHERE rec = ?1", -x, c, NULL);
}

cv_err
cv_store_load_done(struct cv_store *s, const struct cv_store_load *l,
    int64_t now_us)
{
	struct cv_db_stmt *st;
	int64_t pending = 0;
	int changed = 0;
	cv_err r;

	if ((r = int_of(s, "SELECT count(*) FROM load_versions WHERE"
	    " load = ?1", l->id, &pending)) != CV_OK ||
	    /* What they replace stays (versions.c). */
	    (r = store_keep_load(s, l->id, now_us)) != CV_OK ||
	    (r = run2(s, "UPDATE records SET version = v.version,"
	    " ssn_bi = v.ssn_bi, name_bi = v.name_bi, body = v.body"
	    " FROM load_versions v WHERE v.load = ?1 AND records.rid = v.rid"
	    " AND records.version = v.base", l->id, -1, &changed)) != CV_OK)
		return r;
	if (changed != pending)
		return cv_fail(CV_ERR_EXISTS, "%lld of the records this load "
		    "makes new versions of were changed while it ran",
		    (long long)(pending - changed));
	/* The WHERE before ON CONFLICT is what tells SQLite's parser the
	 * upsert from the join's ON. */
	if ((r = run2(s, "INSERT INTO deks(rec, rid, gen, wdek)"
	    " SELECT r.id, v.rid, v.gen, v.wdek FROM load_versions v"
	    " JOIN records r ON r.rid = v.rid WHERE v.load = ?1"
	    " ON CONFLICT(rec) DO UPDATE SET rid = excluded.rid,"
	    " gen = excluded.gen, wdek = excluded.wdek", l->id, -1,
	    NULL)) != CV_OK ||
	    (r = run2(s, "DELETE FROM load_versions WHERE load = ?1", l->id,
	    -1, NULL)) != CV_OK ||
	    (r = prep(s, "UPDATE loads SET state = 1, digest = ?2, bytes = ?3,"
	    " records = ?4, versions = ?5, canaries = ?6, decided_us = ?7"
	    " WHERE id = ?1 AND state = 0", &st)) != CV_OK)
		return r;
	db_bind_int64(st, 1, l->id);
	db_bind_blob(st, 2, l->digest, sizeof l->digest);
	db_bind_int64(st, 3, l->bytes);
	db_bind_int64(st, 4, l->records);
	db_bind_int64(st, 5, l->versions);
	db_bind_int64(st, 6, l->canaries);
	db_bind_int64(st, 7, now_us);
	if ((r = done(s, st, &changed)) != CV_OK)
		return r;
	if (changed != 1)
		return cv_fail(CV_ERR_INTERNAL, "load %lld is not open",
		    (long long)l->id);
	return CV_OK;
}

cv_err
cv_store_load_discard(struct cv_store *s, int64_t id, size_t max, size_t *n)
{
	int a = 0, b = 0;
	cv_err r;

	*n = 0;
	/* Keys first: a key without its record would be an orphan, never
	 * the reverse. Rows are found from first_rec on, by the rowid. */
	if ((r = run2(s, "DELETE FROM deks WHERE rec IN (SELECT id FROM"
	    " records WHERE id >= (SELECT first_rec FROM loads WHERE id = ?1)"
	    " AND load = ?1 LIMIT ?2)", id, (int64_t)max, NULL)) != CV_OK ||
	    (r = run2(s, "DELETE FROM records WHERE id IN (SELECT id FROM"
	    " records WHERE id >= (SELECT first_rec FROM loads WHERE id = ?1)"
	    " AND load = ?1 LIMIT ?2)", id, (int64_t)max, &a)) != CV_OK ||
	    (r = run2(s, "DELETE FROM load_versions WHERE load = ?1 AND rid IN"
	    " (SELECT rid FROM load_versions WHERE load = ?1 LIMIT ?2)", id,
	    (int64_t)max, &b)) != CV_OK)
		return r;
	*n = (size_t)a + (size_t)b;
	return CV_OK;
}

cv_err
cv_store_load_void(struct cv_store *s, int64_t id, int64_t now_us)
{
	return run2(s, "UPDATE loads SET state = 2, decided_us = ?2"
	    " WHERE id = ?1 AND state = 0", id, now_us, NULL);
}

cv_err
cv_store_load_audited(struct cv_store *s, int64_t id)
{
	return run2(s, "UPDATE loads SET audited = 1 WHERE id = ?1", id, -1,
	    NULL);
}

static void
load_of(struct cv_db_stmt *st, struct cv_store_load *l)
{
	memset(l, 0, sizeof *l);
	l->id = db_column_int64(st, 0);
	l->state = db_column_int(st, 1);
	l->audited = db_column_int(st, 2);
	if (db_column_bytes(st, 3) == sizeof l->digest)
		memcpy(l->digest, db_column_blob(st, 3), sizeof l->digest);
	l->bytes = db_column_int64(st, 4);
	l->records = db_column_int64(st, 5);
	l->versions = db_column_int64(st, 6);
	l->canaries = db_column_int64(st, 7);
	l->started_us = db_column_int64(st, 8);
	l->decided_us = db_column_int64(st, 9);
}

#define LOAD_COLS "id, state, audited, digest, bytes, records, versions," \
	" canaries, started_us, decided_us"

cv_err
cv_store_load_find(struct cv_store *s,
    const uint8_t digest[static CV_STORE_DIGEST_BYTES],
    struct cv_store_load *l)
{
	struct cv_db_stmt *st;
	int rc;
	cv_err r;

	if ((r = prep(s, "SELECT " LOAD_COLS " FROM loads WHERE digest = ?1"
	    " AND state = 1 ORDER BY id DESC LIMIT 1", &st)) != CV_OK)
		return r;
	db_bind_blob(st, 1, digest, CV_STORE_DIGEST_BYTES);
	if ((rc = db_step(st)) == CV_DB_ROW)
		load_of(st, l);
	store_release(st);
	return one_row(s, rc);
}

cv_err
cv_store_load_sized(struct cv_store *s, int64_t bytes, int *any)
{
	int64_t n = 0;
	cv_err r;

	r = int_of(s, "SELECT count(*) FROM loads WHERE state = 1 AND"
	    " bytes = ?1", bytes, &n);
	*any = n > 0;
	return r;
}

cv_err
cv_store_load_unsettled(struct cv_store *s, struct cv_store_load *out,
    size_t max, size_t *n)
{
	struct cv_db_stmt *st;
	int rc = CV_DB_DONE;
	cv_err r;

	*n = 0;
	if ((r = prep(s, "SELECT " LOAD_COLS " FROM loads WHERE audited = 0"
	    " ORDER BY id", &st)) != CV_OK)
		return r;
	while (*n < max && (rc = db_step(st)) == CV_DB_ROW)
		load_of(st, &out[(*n)++]);
	store_release(st);
	if (rc != CV_DB_ROW && rc != CV_DB_DONE)
		return cv_fail(CV_ERR_STORE, "loads: %s", db_errmsg(s->db));
	return CV_OK;
}

cv_err
cv_store_loads_any(struct cv_store *s, int *any)
{
	int64_t n = 0;
	cv_err r;

	r = int_of(s, "SELECT count(*) FROM loads WHERE state = ?1", 1, &n);
	*any = n > 0;
	return r;
}

cv_err
cv_store_canaries_get(struct cv_store *s, uint8_t **sealed, size_t *len,
    int64_t *stamp)
{
	struct cv_db_stmt *st;
	int rc;
	cv_err r;

	*sealed = NULL;
	*len = 0;
	if ((r = prep(s, "SELECT stamp, sealed FROM canary_list", &st)) !=
	    CV_OK)
		return r;
	if ((rc = db_step(st)) == CV_DB_ROW) {
		*stamp = db_column_int64(st, 0);
		*len = db_column_bytes(st, 1);
		if ((*sealed = malloc(*len ? *len : 1)) == NULL)
			r = CV_ERR_NOMEM;
		else if (*len)
			memcpy(*sealed, db_column_blob(st, 1), *len);
	}
	store_release(st);
	return r != CV_OK ? r : one_row(s, rc);
}

cv_err
cv_store_canaries_set(struct cv_store *s, const uint8_t *sealed, size_t len)
{
	struct cv_db_stmt *st;
	cv_err r;

	if ((r = prep(s, "INSERT INTO canary_list(one, stamp, sealed)"
	    " VALUES (1, 1, ?1) ON CONFLICT(one) DO UPDATE SET"
	    " stamp = canary_list.stamp + 1, sealed = excluded.sealed", &st)) !=
	    CV_OK)
		return r;
	db_bind_blob(st, 1, sealed, len);
	return done(s, st, NULL);
}

cv_err
cv_store_canaries_stamp(struct cv_store *s, int64_t *stamp)
{
	cv_err r;

	*stamp = 0;
	r = int_of(s, "SELECT stamp FROM canary_list WHERE one = ?1", 1,
	    stamp);
	return r == CV_ERR_NOT_FOUND ? CV_OK : r;
}
