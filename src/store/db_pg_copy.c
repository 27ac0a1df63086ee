/*
 * The PostgreSQL driver's bulk rows (db.h): COPY table FROM STDIN in the
 * binary format (pgcopy.h), so that a load's rows cost the server one
 * parse and one answer per batch rather than a round trip each. The rows
 * are encoded into a buffer and handed to libpq in large pieces; the
 * server answers at the end, with the row count or the first failure.
 *
 * COPY's data goes in CopyData messages, which log_statement does not
 * log (only the COPY statement's text); what a row holds is the store's
 * business (ciphertext, blind indexes, wrapped keys: no plaintext).
 */
#include <stdio.h>
#include <stdlib.h>

#include "db_pg_internal.h"
#include "pgcopy.h"

/* What is encoded before it goes to libpq: a few rows of a load. */
#define SEND_BYTES (256u * 1024)

struct pg_copy {
	int ncols;
	struct cv_buf buf;	/* encoded, not yet sent */
};

void
pgdb_copy_free(struct pg_copy *c)
{
	if (c == NULL)
		return;
	cv_buf_free(&c->buf);
	free(c);
}

/* Hands the buffer to libpq; CV_ERR_STORE with the reason on D. */
static cv_err
send_buf(struct pg_db *d)
{
	struct cv_buf *b = &d->copy->buf;
	size_t off = 0, n;

	/* PQputCopyData takes an int's worth at a time. */
	while (off < b->len) {
		n = b->len - off < (size_t)INT32_MAX ? b->len - off :
		    (size_t)INT32_MAX;
		if (PQputCopyData(d->c, (const char *)b->p + off, (int)n) != 1) {
			pgdb_set_err(d, PQerrorMessage(d->c));
			return CV_ERR_STORE;
		}
		off += n;
	}
	/* Kept for the next rows: it holds what the tables will (no
	 * plaintext), and cv_buf_free wipes it at the end all the same. */
	b->len = 0;
	return CV_OK;
}

cv_err
pgdb_bulk_begin(struct cv_db *db, const char *table, int ncols)
{
	struct pg_db *d = to_db(db);
	char sql[160];
	PGresult *res;
	int copying;

	if (d->copy) {
		pgdb_set_err(d, "a bulk write is running");
		return CV_ERR_STORE;
	}
	if (ncols < 1 || ncols > PGCOPY_MAX_FIELDS ||
	    snprintf(sql, sizeof sql, "COPY %s FROM STDIN (FORMAT binary)",
	    table) >= (int)sizeof sql) {
		pgdb_set_err(d, "bad bulk write");
		return CV_ERR_STORE;
	}
	if ((d->copy = calloc(1, sizeof *d->copy)) == NULL ||
	    pgcopy_header(&d->copy->buf) != CV_OK) {
		pgdb_copy_free(d->copy);
		d->copy = NULL;
		pgdb_set_err(d, "out of memory");
		return CV_ERR_STORE;
	}
	d->copy->ncols = ncols;
	res = PQexec(d->c, sql);
	if (!(copying = PQresultStatus(res) == PGRES_COPY_IN)) {
		pgdb_result_err(d, res);
		pgdb_copy_free(d->copy);
		d->copy = NULL;
	}
	PQclear(res);
	return copying ? CV_OK : CV_ERR_STORE;
}

cv_err
pgdb_bulk_row(struct cv_db *db, const struct cv_db_value *row)
{
	struct pg_db *d = to_db(db);
	cv_err r;

	if (d->copy == NULL) {
		pgdb_set_err(d, "no bulk write is running");
		return CV_ERR_STORE;
	}
	if ((r = pgcopy_row(&d->copy->buf, row, (size_t)d->copy->ncols)) !=
	    CV_OK) {
		pgdb_set_err(d, r == CV_ERR_LIMIT ? "a value too long for COPY" :
		    r == CV_ERR_NOMEM ? "out of memory" : "a bad value");
		return CV_ERR_STORE;
	}
	return d->copy->buf.len >= SEND_BYTES ? send_buf(d) : CV_OK;
}

cv_err
pgdb_bulk_end(struct cv_db *db, int ok, int64_t *rows)
{
	struct pg_db *d = to_db(db);
	PGresult *res;
	cv_err r = CV_OK;
	int ended;

	*rows = 0;
	if (d->copy == NULL) {
		pgdb_set_err(d, "no bulk write is running");
		return CV_ERR_STORE;
	}
	if (ok && (pgcopy_trailer(&d->copy->buf) != CV_OK ||
	    send_buf(d) != CV_OK))
		ok = 0;
	/* Whatever happened, the server must leave COPY: a failure
	 * message makes it fail the statement (and the transaction). */
	ended = PQputCopyEnd(d->c, ok ? NULL : "the client gave up") == 1;
	pgdb_copy_free(d->copy);
	d->copy = NULL;
	if (!ended) {
		pgdb_set_err(d, PQerrorMessage(d->c));
		r = CV_ERR_STORE;
	}
	/* COPY's result, then NULL (as PQexec would collect them). A
	 * given-up COPY keeps the reason already on D (the failed row's). */
	while ((res = PQgetResult(d->c)) != NULL) {
		if (r == CV_OK && ok &&
		    PQresultStatus(res) == PGRES_COMMAND_OK)
			d->total += *rows = strtoll(PQcmdTuples(res), NULL,
			    10);	/* the epoch's count, as an INSERT's */
		else if (r == CV_OK && ok) {
			pgdb_result_err(d, res);
			r = CV_ERR_STORE;
		}
		PQclear(res);
	}
	return ok ? r : CV_ERR_STORE;
}
