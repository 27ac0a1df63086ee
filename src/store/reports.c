/*
 * Drill reports: the latest ones a vault's officers can see in the web
 * console. In the database, not a file, because the api worker opens no
 * file by name (docs/sandbox.md) and every node of a PostgreSQL vault
 * must show the same report.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

#define SCHEMA(D) \
    "CREATE TABLE IF NOT EXISTS drill_reports(id " D##_ROWID "," \
    " written_us " D##_INT " NOT NULL, written_by TEXT NOT NULL," \
    " report TEXT NOT NULL, svg TEXT NOT NULL);"

const char *const store_reports_schema[2] = {
	[CV_DB_SQLITE] = SCHEMA(SQ),
	[CV_DB_POSTGRESQL] = SCHEMA(PG),
};

/* Only the latest ten are kept (the DELETE below): the console shows
 * one, and a report holds no record data worth a history (the drill's
 * vault is gone). */

cv_err
cv_store_report_put(struct cv_store *s, const char *by, int64_t now_us,
    const char *report, const char *svg)
{
	struct cv_db_stmt *st;
	int rc;

	if (store_stmt(s, "INSERT INTO drill_reports(written_us, written_by,"
	    " report, svg) VALUES (?1, ?2, ?3, ?4)", &st) != CV_OK)
		return cv_fail(CV_ERR_STORE, "reports: %s", db_errmsg(s->db));
	db_bind_int64(st, 1, now_us);
	db_bind_text(st, 2, by);
	db_bind_text(st, 3, report);
	db_bind_text(st, 4, svg);
	rc = db_step(st);
	store_release(st);
	if (rc != CV_DB_DONE)
		return cv_fail(CV_ERR_STORE, "reports: %s", db_errmsg(s->db));
	if (store_stmt(s, "DELETE FROM drill_reports WHERE id NOT IN (SELECT"
	    " id FROM drill_reports ORDER BY id DESC LIMIT 10)", &st) != CV_OK)
		return cv_fail(CV_ERR_STORE, "reports: %s", db_errmsg(s->db));
	rc = db_step(st);
	store_release(st);
	if (rc != CV_DB_DONE)
		return cv_fail(CV_ERR_STORE, "reports: %s", db_errmsg(s->db));
	return CV_OK;
}

cv_err
cv_store_report_latest(struct cv_store *s, struct cv_store_report *out)
{
	struct cv_db_stmt *st;
	cv_err r = CV_ERR_NOT_FOUND;
	const char *by, *rep, *svg;
	int rc;

	memset(out, 0, sizeof *out);
	if (store_stmt(s, "SELECT written_us, written_by, report, svg FROM"
	    " drill_reports ORDER BY id DESC LIMIT 1", &st) != CV_OK)
		return cv_fail(CV_ERR_STORE, "reports: %s", db_errmsg(s->db));
	rc = db_step(st);
	if (rc == CV_DB_ROW) {
		out->written_us = db_column_int64(st, 0);
		by = db_column_text(st, 1);
		rep = db_column_text(st, 2);
		svg = db_column_text(st, 3);
		snprintf(out->by, sizeof out->by, "%s", by ? by : "");
		if ((out->report = strdup(rep ? rep : "")) == NULL ||
		    (out->svg = strdup(svg ? svg : "")) == NULL) {
			cv_store_report_clear(out);
			r = CV_ERR_NOMEM;
		} else
			r = CV_OK;
	} else if (rc != CV_DB_DONE)
		r = cv_fail(CV_ERR_STORE, "reports: %s", db_errmsg(s->db));
	store_release(st);
	return r;
}

void
cv_store_report_clear(struct cv_store_report *r)
{
	free(r->report);
	free(r->svg);
	r->report = r->svg = NULL;
}
