/*
 * Records' rows as stored (ciphertext, wrapped data key), one or several
 * at once: what a read decrypts (src/vault).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

cv_err
store_array_text(struct cv_buf *b, const char *const *ids, size_t n,
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
			return cv_fail(CV_ERR_INVALID, "not a record id");
		if ((i && (r = cv_buf_add(b, ",", 1)) != CV_OK) ||
		    (r = cv_buf_add(b, t, strlen(t))) != CV_OK)
			return r;
	}
	if (r == CV_OK)
		r = cv_buf_add(b, "}", 2);	/* with its NUL */
	return r;
}

cv_err
store_row_of(struct cv_db_stmt *st, int c, const char *rid,
    struct cv_store_row *row)
{
	const void *body;

	row->version = (uint32_t)db_column_int64(st, c);
	body = db_column_blob(st, c + 1);
	row->body_len = db_column_bytes(st, c + 1);
	if (db_column_is_null(st, c + 2)) {
		row->shredded = 1;
	} else {
		row->gen = (uint32_t)db_column_int64(st, c + 2);
		if (db_column_bytes(st, c + 3) != CV_WDEK_BYTES)
			return cv_fail(CV_ERR_FORMAT, "data key of %s has a "
			    "bad length", rid);
		memcpy(row->wdek, db_column_blob(st, c + 3), CV_WDEK_BYTES);
	}
	if ((row->body = malloc(row->body_len ? row->body_len : 1)) == NULL)
		return CV_ERR_NOMEM;
	if (row->body_len)
		memcpy(row->body, body, row->body_len);
	return CV_OK;
}

cv_err
cv_store_get_many(struct cv_store *s, const char *const *rids, size_t n,
    struct cv_store_row *rows, cv_err *errs)
{
	struct cv_buf arr = { 0 };
	struct cv_db_stmt *st = NULL;
	const char *rid;
	size_t i;
	int rc;
	cv_err r;

	for (i = 0; i < n; i++) {
		memset(&rows[i], 0, sizeof rows[i]);
		errs[i] = CV_ERR_NOT_FOUND;
	}
	/* In the process a statement costs nothing: one each. */
	if (s->db->ops->dialect != CV_DB_POSTGRESQL) {
		for (i = 0, r = CV_OK; r == CV_OK && i < n; i++)
			if ((errs[i] = cv_store_get(s, rids[i], &rows[i])) ==
			    CV_ERR_STORE)
				r = CV_ERR_STORE;
		goto out;
	}
	if ((r = store_array_text(&arr, rids, n, NULL)) != CV_OK)
		goto out;
	/* The array behind a subquery: the planner cannot see its length,
	 * so the plan it keeps costs the same as one made for the call, and
	 * it keeps it. Seen, a batch of one to four records costed below
	 * the kept plan, and the statement was planned again at every call
	 * (two nodes of 16 connections: a quarter of its time). */
	if ((r = store_stmt(s, "SELECT r.rid, r.version, r.body, d.gen,"
	    " d.wdek FROM records r LEFT JOIN deks d ON d.rec = r.id"
	    " WHERE r.rid = ANY(CAST((SELECT ?1::text[]) AS text[])) AND "
	    VISIBLE("r"), &st)) != CV_OK) {
		r = cv_fail(CV_ERR_STORE, "read records: %s", db_errmsg(s->db));
		goto out;
	}
	db_bind_text(st, 1, (const char *)arr.p);
	while ((rc = db_step(st)) == CV_DB_ROW) {
		rid = db_column_text(st, 0);
		/* The same id may be asked twice: each gets the row. */
		for (i = 0; i < n; i++) {
			if (errs[i] != CV_ERR_NOT_FOUND ||
			    strcmp(rids[i], rid) != 0)
				continue;
			errs[i] = store_row_of(st, 1, rid, &rows[i]);
			if (errs[i] != CV_OK)
				cv_store_row_clear(&rows[i]);
		}
	}
	r = rc == CV_DB_DONE ? CV_OK : cv_fail(CV_ERR_STORE,
	    "read records: %s", db_errmsg(s->db));
 out:
	if (st)
		store_release(st);
	cv_buf_free(&arr);
	if (r != CV_OK) {
		for (i = 0; i < n; i++)
			cv_store_row_clear(&rows[i]);
	}
	return r;
}
