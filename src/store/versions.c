/*
 * Earlier versions of records. Replacing a record (a put over a visible
 * row, a load's new versions) first copies the version it replaces, with
 * its wrapped data key, into `versions`, in the same transaction: an
 * update never destroys the only copy. Nothing that serves reads looks
 * here and the rows carry no blind index, so a kept version is found by
 * no search and returned by no read; `clearvault versions` lists them and
 * makes one current again. Shredding deletes them with the record's key
 * (their keys are the record's keys); rotation rewraps their keys with the
 * others (cv_store_dek_scan in store.c goes on into this table).
 */
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

/* Written once for both dialects (store_internal.h). replaced_us: when
 * a newer version took its place. */
#define SCHEMA(D) \
    "CREATE TABLE IF NOT EXISTS versions(id " D##_ROWID "," \
    " rid TEXT NOT NULL, version " D##_INT " NOT NULL, body " D##_BLOB \
    " NOT NULL, gen " D##_INT " NOT NULL, wdek " D##_BLOB " NOT NULL," \
    " replaced_us " D##_INT " NOT NULL, UNIQUE(rid, version));"

const char *const store_versions_schema[2] = {
	[CV_DB_SQLITE] = SCHEMA(SQ),
	[CV_DB_POSTGRESQL] = SCHEMA(PG),
};

static cv_err
fail(struct cv_store *s, const char *what)
{
	return cv_fail(CV_ERR_STORE, "versions: %s: %s", what,
	    db_errmsg(s->db));
}

static cv_err
prep(struct cv_store *s, const char *q, struct cv_db_stmt **st)
{
	if (store_stmt(s, q, st) != CV_OK)
		return fail(s, "prepare");
	return CV_OK;
}

/* Steps ST, which returns no row, and releases it. */
static cv_err
done(struct cv_store *s, struct cv_db_stmt *st, const char *what)
{
	int rc = db_step(st);

	store_release(st);
	return rc == CV_DB_DONE ? CV_OK : fail(s, what);
}

/*
 * A shredded version (no data key) is not kept: its ciphertext can never
 * be opened again. A row still hidden by its unfinished load was never a
 * version anyone could read: not kept either. (?2 is cast: PostgreSQL
 * would type a bare parameter in a SELECT's list as text, which the
 * INSERT then refuses for an integer column.)
 */
cv_err
store_keep(struct cv_store *s, const char *rid, int64_t now_us)
{
	struct cv_db_stmt *st;
	cv_err r;

	if ((r = prep(s, "INSERT INTO versions(rid, version, body, gen, wdek,"
	    " replaced_us) SELECT r.rid, r.version, r.body, d.gen, d.wdek,"
	    " CAST(?2 AS BIGINT)"
	    " FROM records r JOIN deks d ON d.rec = r.id WHERE r.rid = ?1"
	    " AND " VISIBLE("r"), &st)) != CV_OK)
		return r;
	db_bind_text(st, 1, rid);
	db_bind_int64(st, 2, now_us);
	return done(s, st, "keep");
}

cv_err
store_keep_load(struct cv_store *s, int64_t load, int64_t now_us)
{
	struct cv_db_stmt *st;
	cv_err r;

	/* Exactly the rows load_done replaces: the base each was made on. */
	if ((r = prep(s, "INSERT INTO versions(rid, version, body, gen, wdek,"
	    " replaced_us) SELECT r.rid, r.version, r.body, d.gen, d.wdek,"
	    " CAST(?2 AS BIGINT)"
	    " FROM load_versions v JOIN records r ON r.rid = v.rid AND"
	    " r.version = v.base JOIN deks d ON d.rec = r.id"
	    " WHERE v.load = ?1", &st)) != CV_OK)
		return r;
	db_bind_int64(st, 1, load);
	db_bind_int64(st, 2, now_us);
	return done(s, st, "keep a load's replaced versions");
}

cv_err
store_kept_shred(struct cv_store *s, const char *rid)
{
	struct cv_db_stmt *st;
	cv_err r;

	if ((r = prep(s, "DELETE FROM versions WHERE rid = ?1", &st)) != CV_OK)
		return r;
	db_bind_text(st, 1, rid);
	return done(s, st, "shred");
}

cv_err
cv_store_kept_list(struct cv_store *s, const char *rid,
    int (*fn)(void *ctx, const struct cv_store_kept *k), void *ctx)
{
	struct cv_store_kept k;
	struct cv_db_stmt *st;
	int rc;
	cv_err r;

	if ((r = prep(s, "SELECT version, replaced_us, length(body) FROM"
	    " versions WHERE rid = ?1 ORDER BY version DESC", &st)) != CV_OK)
		return r;
	db_bind_text(st, 1, rid);
	while ((rc = db_step(st)) == CV_DB_ROW) {
		k.version = (uint32_t)db_column_int64(st, 0);
		k.replaced_us = db_column_int64(st, 1);
		k.body_len = (size_t)db_column_int64(st, 2);
		if (fn(ctx, &k) != 0) {
			rc = CV_DB_DONE;
			break;
		}
	}
	store_release(st);
	return rc == CV_DB_DONE ? CV_OK : fail(s, "list");
}

cv_err
cv_store_kept_get(struct cv_store *s, const char *rid, uint32_t version,
    struct cv_store_row *row)
{
	struct cv_db_stmt *st;
	int rc;
	cv_err r;

	memset(row, 0, sizeof *row);
	if ((r = prep(s, "SELECT body, gen, wdek FROM versions WHERE"
	    " rid = ?1 AND version = ?2", &st)) != CV_OK)
		return r;
	db_bind_text(st, 1, rid);
	db_bind_int64(st, 2, version);
	if ((rc = db_step(st)) != CV_DB_ROW) {
		store_release(st);
		return rc == CV_DB_DONE ? CV_ERR_NOT_FOUND : fail(s, "read");
	}
	row->version = version;
	row->gen = (uint32_t)db_column_int64(st, 1);
	row->body_len = db_column_bytes(st, 0);
	if (db_column_bytes(st, 2) != CV_WDEK_BYTES)
		r = cv_fail(CV_ERR_FORMAT, "data key of %s version %u has a "
		    "bad length", rid, version);
	else if ((row->body = malloc(row->body_len ? row->body_len : 1)) ==
	    NULL)
		r = CV_ERR_NOMEM;
	else {
		memcpy(row->wdek, db_column_blob(st, 2), CV_WDEK_BYTES);
		if (row->body_len)
			memcpy(row->body, db_column_blob(st, 0),
			    row->body_len);
	}
	store_release(st);
	if (r != CV_OK)
		cv_store_row_clear(row);
	return r;
}

cv_err
cv_store_kept_count(struct cv_store *s, int64_t *n)
{
	struct cv_db_stmt *st;
	int rc;
	cv_err r;

	if ((r = prep(s, "SELECT count(*) FROM versions", &st)) != CV_OK)
		return r;
	if ((rc = db_step(st)) == CV_DB_ROW)
		*n = db_column_int64(st, 0);
	store_release(st);
	return rc == CV_DB_ROW ? CV_OK : fail(s, "count");
}
