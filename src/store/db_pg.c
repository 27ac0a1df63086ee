/*
 * The PostgreSQL driver (db.h) on libpq, its statements (db_pg_open.c:
 * its connection); with that file the only one of the store that names
 * libpq. A connection is one PGconn, used by one thread at a time.
 *
 * Statements are prepared on the server, one named statement each
 * ("cv1", "cv2", ... per connection), after the store's `?N` parameters
 * are rewritten to `$N`. A step runs the statement on its first call and
 * fetches the whole result (PQexecPrepared), then hands out its rows one
 * by one: the store's statements return a handful of rows (the biggest,
 * the rotation's scan, is LIMITed), and a finished exchange leaves the
 * connection free, so the store may run another statement while it still
 * reads a row, as it does on SQLite.
 *
 * Parameters go out as text (integers in decimal, so that the server's
 * inferred type, int4 or int8, parses them either way) and blobs as
 * binary bytea; results come back binary and are read by their type:
 * int2, int4, int8, bool, bytea, text, varchar, bpchar, name. A result
 * with any other column type fails its step rather than be misread.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db_pg_internal.h"
#include "store.h"

/* Type OIDs of the results the driver reads (pg_type.dat; fixed). */
enum {
	OID_BOOL = 16, OID_BYTEA = 17, OID_NAME = 19, OID_INT8 = 20,
	OID_INT2 = 21, OID_INT4 = 23, OID_TEXT = 25, OID_BPCHAR = 1042,
	OID_VARCHAR = 1043,
};

/* libpq's limit on a statement's parameters (a 16-bit count). */
#define MAX_PARAMS 65535

/*
 * The key of the transaction-level advisory lock every write transaction
 * takes (begin IMMEDIATE): "cvstore" in ASCII. The audit log's sequencer
 * (issue 13, step 3) is planned on the vault id's key, a different lock.
 */
#define WRITE_LOCK_KEY "27996260941132389"

void
pgdb_set_err(struct pg_db *d, const char *text)
{
	size_t n;

	snprintf(d->err, sizeof d->err, "%s", text ? text : "unknown error");
	/* libpq's texts end in a newline. */
	n = strlen(d->err);
	while (n > 0 && (d->err[n - 1] == '\n' || d->err[n - 1] == ' '))
		d->err[--n] = '\0';
}

/*
 * RES's failure, or the connection's. Only the primary message: the
 * DETAIL line of a unique violation quotes the key's value, and the
 * store's errors reach logs and terminals.
 */
void
pgdb_result_err(struct pg_db *d, const PGresult *res)
{
	const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) :
	    NULL;

	pgdb_set_err(d, m ? m : PQerrorMessage(d->c));
}

/* A command's changed rows, kept for changes() and the epoch. */
static void
count_rows(struct pg_db *d, const PGresult *res)
{
	const char *tag = PQcmdStatus((PGresult *)res), *n;

	if (strncmp(tag, "INSERT ", 7) != 0 && strncmp(tag, "UPDATE ", 7) != 0 &&
	    strncmp(tag, "DELETE ", 7) != 0 && strncmp(tag, "MERGE ", 6) != 0)
		return;
	n = PQcmdTuples((PGresult *)res);
	d->changes = *n ? strtoll(n, NULL, 10) : 0;
	d->total += d->changes;
}

cv_err
pgdb_simple(struct pg_db *d, const char *sql)
{
	PGresult *res = PQexec(d->c, sql);
	ExecStatusType s = PQresultStatus(res);
	cv_err r = CV_OK;

	d->err[0] = '\0';
	d->begun_epoch = -1;
	if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK ||
	    s == PGRES_EMPTY_QUERY)
		count_rows(d, res);
	else {
		pgdb_result_err(d, res);
		r = CV_ERR_STORE;
	}
	PQclear(res);
	return r;
}

static cv_err
pg_exec(struct cv_db *db, const char *sql)
{
	struct pg_db *d = to_db(db);
	cv_err r = pgdb_simple(d, sql);

	/* Several statements give one result, the last's: the epoch's count
	 * moves whatever the others did (too often is safe, never too
	 * rarely). */
	if (r == CV_OK)
		d->total++;
	return r;
}

void
pgdb_drop(struct pg_stmt *q)
{
	if (q == NULL)
		return;
	PQclear(q->res);
	free(q->text);
	free(q->val);
	free(q->len);
	free(q->fmt);
	free(q->num);
	free(q);
}

/*
 * SQL with the store's parameters, `?N` or a bare `?` (the highest number
 * so far plus one, as SQLite counts), written `$N`, outside quoted text
 * and comments. *N: the highest number. NULL (with *WHY) when the text
 * holds no statement, a number out of range, or memory ran out.
 */
static char *
rewrite(const char *sql, int *n, const char **why)
{
	size_t len = strlen(sql);
	char *out, *o, quote = 0;
	const char *p = sql;
	int any = 0;

	*n = 0;
	*why = "out of memory";
	/* The longest growth: a bare `?` becomes `$65535`. */
	if (len > (SIZE_MAX - 1) / 6 || (out = malloc(len * 6 + 1)) == NULL)
		return NULL;
	o = out;
	while (*p) {
		if (quote) {
			if (*p == quote)
				quote = 0;
			*o++ = *p++;
		} else if (*p == '\'' || *p == '"') {
			quote = *p;
			any = 1;
			*o++ = *p++;
		} else if (p[0] == '-' && p[1] == '-') {
			while (*p && *p != '\n')
				*o++ = *p++;
		} else if (p[0] == '/' && p[1] == '*') {
			const char *e = strstr(p + 2, "*/");
			size_t k = e ? (size_t)(e + 2 - p) : strlen(p);
			memcpy(o, p, k);
			o += k;
			p += k;
		} else if (*p == '?') {
			long v = 0;
			p++;
			if (*p >= '0' && *p <= '9') {
				while (*p >= '0' && *p <= '9' && v <= MAX_PARAMS)
					v = v * 10 + (*p++ - '0');
			} else
				v = *n + 1;
			if (v < 1 || v > MAX_PARAMS) {
				*why = "parameter number out of range";
				free(out);
				return NULL;
			}
			if (v > *n)
				*n = (int)v;
			o += sprintf(o, "$%ld", v);
			any = 1;
		} else {
			if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r' &&
			    *p != ';')
				any = 1;
			*o++ = *p++;
		}
	}
	*o = '\0';
	if (!any) {
		*why = "no statement";
		free(out);
		return NULL;
	}
	return out;
}

static cv_err
pg_prepare(struct cv_db *db, const char *sql, unsigned flags,
    struct cv_db_stmt **out)
{
	struct pg_db *d = to_db(db);
	struct pg_stmt *q = NULL;
	const char *why;
	PGresult *res = NULL;
	char *text = NULL;
	int n;
	cv_err r = CV_ERR_STORE;

	/* Every statement is named and kept on the server until finalize:
	 * PERSISTENT changes nothing here. */
	(void)flags;
	*out = NULL;
	d->err[0] = '\0';
	if ((text = rewrite(sql, &n, &why)) == NULL) {
		pgdb_set_err(d, why);
		return CV_ERR_STORE;
	}
	if ((q = calloc(1, sizeof *q)) == NULL ||
	    (n > 0 && ((q->val = calloc((size_t)n, sizeof *q->val)) == NULL ||
	    (q->len = calloc((size_t)n, sizeof *q->len)) == NULL ||
	    (q->fmt = calloc((size_t)n, sizeof *q->fmt)) == NULL ||
	    (q->num = calloc((size_t)n, sizeof *q->num)) == NULL))) {
		pgdb_set_err(d, "out of memory");
		r = CV_ERR_NOMEM;
		goto out;
	}
	q->base.ops = &cv_db_postgresql;
	q->db = d;
	q->n = n;
	snprintf(q->name, sizeof q->name, "cv%u", ++d->next_name);
	res = PQprepare(d->c, q->name, text, 0, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		pgdb_result_err(d, res);
		goto out;
	}
	q->text = text;
	q->gen = d->lost_gen;
	text = NULL;
	*out = &q->base;
	q = NULL; /* transferred */
	r = CV_OK;
 out:
	PQclear(res);
	free(text);
	pgdb_drop(q);
	return r;
}

static void
pg_finalize(struct cv_db_stmt *st)
{
	struct pg_stmt *q = to_st(st);
	char sql[32];

	if (q == NULL)
		return;
	/* The server keeps it until the connection ends otherwise. It
	 * fails in a transaction that already failed: left to the end of
	 * the connection, then. */
	if (PQstatus(q->db->c) == CONNECTION_OK &&
	    PQtransactionStatus(q->db->c) != PQTRANS_INERROR) {
		snprintf(sql, sizeof sql, "DEALLOCATE %s", q->name);
		PQclear(PQexec(q->db->c, sql));
	}
	pgdb_drop(q);
}

static void
pg_reset(struct cv_db_stmt *st, int unbind)
{
	struct pg_stmt *q = to_st(st);

	PQclear(q->res);
	q->res = NULL;
	q->bind_err = NULL;
	if (unbind) {
		for (int i = 0; i < q->n; i++)
			q->val[i] = NULL;
	}
}

/* Parameter I (from 1) of Q, or -1 with the bind's failure noted. */
static int
slot(struct pg_stmt *q, int i)
{
	if (i >= 1 && i <= q->n)
		return i - 1;
	if (q->bind_err == NULL)
		q->bind_err = "parameter index out of range";
	return -1;
}

static void
pg_bind_int64(struct cv_db_stmt *st, int i, int64_t v)
{
	struct pg_stmt *q = to_st(st);
	int k = slot(q, i);

	if (k < 0)
		return;
	snprintf(q->num[k], sizeof q->num[k], "%lld", (long long)v);
	q->val[k] = q->num[k];
	q->fmt[k] = 0;
}

static void
pg_bind_text(struct cv_db_stmt *st, int i, const char *v)
{
	struct pg_stmt *q = to_st(st);
	int k = slot(q, i);

	if (k < 0)
		return;
	q->val[k] = v;	/* NULL binds NULL, as on SQLite */
	q->fmt[k] = 0;
}

static void
pg_bind_blob(struct cv_db_stmt *st, int i, const void *p, size_t n)
{
	struct pg_stmt *q = to_st(st);
	int k = slot(q, i);

	if (k < 0)
		return;
	if (n > INT_MAX) {
		if (q->bind_err == NULL)
			q->bind_err = "value too big";
		return;
	}
	/* A NULL pointer binds NULL, as on SQLite; an empty blob is "". */
	q->val[k] = p == NULL ? NULL : n == 0 ? "" : p;
	q->len[k] = (int)n;
	q->fmt[k] = 1;
}

static void
pg_bind_null(struct cv_db_stmt *st, int i)
{
	struct pg_stmt *q = to_st(st);
	int k = slot(q, i);

	if (k >= 0)
		q->val[k] = NULL;
}

/* Whether every column of RES is of a type the column readers know. */
static int
readable(struct pg_db *d, const PGresult *res)
{
	char text[96];

	for (int i = 0; i < PQnfields(res); i++) {
		switch (PQftype(res, i)) {
		case OID_BOOL: case OID_BYTEA: case OID_NAME: case OID_INT8:
		case OID_INT2: case OID_INT4: case OID_TEXT: case OID_BPCHAR:
		case OID_VARCHAR:
			continue;
		}
		snprintf(text, sizeof text, "column %d is of a type the driver "
		    "does not read (OID %u)", i, (unsigned)PQftype(res, i));
		pgdb_set_err(d, text);
		return 0;
	}
	return 1;
}

/* SQLSTATE class 23: integrity constraints. */
static enum cv_db_step
failed(struct pg_db *d, const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	pgdb_result_err(d, res);
	if (state && strcmp(state, "23505") == 0)
		return CV_DB_DUPLICATE;
	if (state && strncmp(state, "23", 2) == 0)
		return CV_DB_CONSTRAINT;
	return CV_DB_ERROR;
}

/*
 * A statement the server no longer has (SQLSTATE 26000): a DEALLOCATE
 * ALL or DISCARD ALL sent on the connection by something else, as a
 * pooler between node and database may. Without this every later step
 * of the statement failed until the connection was made again, and a
 * node whose log's or guard's statements failed served nothing (closed,
 * but down). Such a step did not run, so running it again is safe.
 */
int
cv_store_pg_lost_statement(const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	return PQresultStatus(res) == PGRES_FATAL_ERROR && state != NULL &&
	    strcmp(state, "26000") == 0;
}

/*
 * Q prepared again under its name, once the connection is found to have
 * the settings it was opened with: a DISCARD ALL drops the statements
 * and resets those (synchronous_commit among them), and a statement run
 * without them could answer before its write is durable; then nothing
 * runs, as before. A name the server still has (42P05: the loss was of
 * another statement) is as good. CV_DB_DONE, else the failure.
 */
static enum cv_db_step
again(struct pg_db *d, struct pg_stmt *q)
{
	PGresult *res;
	const char *state;
	enum cv_db_step rc = CV_DB_DONE;

	if (pgdb_intact(d->c, d->readonly, d->lock_ms, d->err,
	    sizeof d->err) != CV_OK)
		return CV_DB_ERROR;
	res = PQprepare(d->c, q->name, q->text, 0, NULL);
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (PQresultStatus(res) == PGRES_COMMAND_OK ||
	    (state != NULL && strcmp(state, "42P05") == 0)) {
		q->gen = d->lost_gen;
	} else
		rc = failed(d, res);
	PQclear(res);
	return rc;
}

static enum cv_db_step
pg_step(struct cv_db_stmt *st)
{
	struct pg_stmt *q = to_st(st);
	struct pg_db *d = q->db;
	enum cv_db_step rc;

	if (q->bind_err) {
		/* Not run: a parameter is not what the caller meant. */
		pgdb_set_err(d, q->bind_err);
		q->bind_err = NULL;
		return CV_DB_ERROR;
	}
	d->err[0] = '\0';
	if (q->res) {
		if (++q->row < PQntuples(q->res))
			return CV_DB_ROW;
		/* Done; a step after this runs it again (SQLite's too). */
		PQclear(q->res);
		q->res = NULL;
		return CV_DB_DONE;
	}
	d->begun_epoch = -1;
	/* Prepared before a statement of the connection was found lost
	 * (a DEALLOCATE ALL takes them all, this one too): again first. */
	if (q->gen != d->lost_gen &&
	    (rc = again(d, q)) != CV_DB_DONE)
		return rc;
	q->res = PQexecPrepared(d->c, q->name, q->n, q->val, q->len, q->fmt, 1);
	if (cv_store_pg_lost_statement(q->res)) {
		/* Not run: run again once it is prepared again, unless a
		 * transaction it began in has failed with it (its caller
		 * rolls back; the next step prepares it first). */
		d->lost_gen++;	/* Q and every other: prepared first */
		if (PQtransactionStatus(d->c) == PQTRANS_IDLE) {
			PQclear(q->res);
			q->res = NULL;
			if ((rc = again(d, q)) != CV_DB_DONE)
				return rc;
			q->res = PQexecPrepared(d->c, q->name, q->n, q->val,
			    q->len, q->fmt, 1);
		}
	}
	q->row = 0;
	switch (PQresultStatus(q->res)) {
	case PGRES_TUPLES_OK:
		/* INSERT ... RETURNING has rows and a count. */
		count_rows(d, q->res);
		if (!readable(d, q->res)) {
			rc = CV_DB_ERROR;
			break;
		}
		if (PQntuples(q->res) > 0)
			return CV_DB_ROW;
		rc = CV_DB_DONE;
		break;
	case PGRES_COMMAND_OK:
		count_rows(d, q->res);
		rc = CV_DB_DONE;
		break;
	default:
		rc = failed(d, q->res);
		break;
	}
	PQclear(q->res);
	q->res = NULL;
	return rc;
}

/* The current row's column I, or NULL (no row, no such column, NULL). */
static const char *
value(struct pg_stmt *q, int i)
{
	if (q->res == NULL || i < 0 || i >= PQnfields(q->res) ||
	    PQgetisnull(q->res, q->row, i))
		return NULL;
	return PQgetvalue(q->res, q->row, i);
}

/* Big-endian, as the binary format sends integers. */
static int64_t
be(const char *v, int n)
{
	uint64_t x = 0;

	for (int i = 0; i < n; i++)
		x = x << 8 | (unsigned char)v[i];
	if (n < 8 && (x >> (n * 8 - 1)) & 1)
		x |= ~(uint64_t)0 << (n * 8);	/* sign-extended */
	return (int64_t)x;
}

static int64_t
pg_column_int64(struct cv_db_stmt *st, int i)
{
	struct pg_stmt *q = to_st(st);
	const char *v = value(q, i);

	if (v == NULL)
		return 0;
	switch (PQftype(q->res, i)) {
	case OID_INT8: return be(v, 8);
	case OID_INT4: return be(v, 4);
	case OID_INT2: return be(v, 2);
	case OID_BOOL: return *v != 0;
	case OID_TEXT: case OID_VARCHAR: case OID_BPCHAR: case OID_NAME:
		return strtoll(v, NULL, 10);
	}
	return 0;
}

static const char *
pg_column_text(struct cv_db_stmt *st, int i)
{
	struct pg_stmt *q = to_st(st);
	const char *v = value(q, i);

	/* libpq ends every value with a NUL, binary ones too: text and
	 * bytea read as text as they are. An integer has no text here (the
	 * store reads none so). */
	if (v == NULL)
		return NULL;
	switch (PQftype(q->res, i)) {
	case OID_TEXT: case OID_VARCHAR: case OID_BPCHAR: case OID_NAME:
	case OID_BYTEA:
		return v;
	}
	return NULL;
}

static const void *
pg_column_blob(struct cv_db_stmt *st, int i)
{
	return value(to_st(st), i);
}

static size_t
pg_column_bytes(struct cv_db_stmt *st, int i)
{
	struct pg_stmt *q = to_st(st);

	return value(q, i) ? (size_t)PQgetlength(q->res, q->row, i) : 0;
}

static int
pg_column_is_null(struct cv_db_stmt *st, int i)
{
	struct pg_stmt *q = to_st(st);

	return q->res == NULL || i < 0 || i >= PQnfields(q->res) ||
	    PQgetisnull(q->res, q->row, i);
}

static int64_t
pg_changes(struct cv_db *db)
{
	return to_db(db)->changes;
}

/* A statement of the driver's own, prepared on first use and kept. */
static cv_err
kept(struct pg_db *d, const char *sql, struct cv_db_stmt **st)
{
	if (*st)
		return CV_OK;
	return pg_prepare(&d->base, sql, CV_DB_PERSISTENT, st);
}

/*
 * lastval(): the value the session's last nextval() gave, which for the
 * store is the identity column of the INSERT it just ran (no trigger of
 * the store's calls nextval). 0, with the error kept, when the session
 * made none yet; that failure fails a transaction it runs in, which the
 * commit then reports.
 */
static int64_t
pg_last_insert_id(struct cv_db *db)
{
	struct pg_db *d = to_db(db);
	int64_t id = 0;

	if (kept(d, "SELECT lastval()", &d->lastval) != CV_OK)
		return 0;
	if (pg_step(d->lastval) == CV_DB_ROW)
		id = pg_column_int64(d->lastval, 0);
	pg_reset(d->lastval, 0);
	return id;
}

/*
 * DEFERRED: REPEATABLE READ, one snapshot from the first statement on, as
 * a SQLite read transaction has. IMMEDIATE: the store counts on SQLite's
 * single writer (a load's rows numbered from max(id) + 1, a check then a
 * write), so every write transaction takes one transaction-level advisory
 * lock first and writers run one at a time, as there; lock_timeout (the
 * busy time) bounds the wait. READ COMMITTED under that lock sees every
 * earlier writer's commit, as BEGIN IMMEDIATE does.
 */
static cv_err
pg_begin(struct cv_db *db, enum cv_db_tx how)
{
	struct pg_db *d = to_db(db);

	if (how == CV_DB_DEFERRED) {
		/* The epoch is what a read transaction asks first (the
		 * store's memo): asked with the BEGIN, it is the snapshot's
		 * as it would be first thing after it, one round trip less
		 * on every GET. */
		PGresult *res = PQexec(d->c, "BEGIN ISOLATION LEVEL "
		    "REPEATABLE READ; SELECT n FROM cv_epoch");
		cv_err r = CV_OK;

		d->err[0] = '\0';
		d->begun_epoch = -1;
		if (PQresultStatus(res) == PGRES_TUPLES_OK &&
		    PQntuples(res) == 1 && PQnfields(res) == 1)
			d->begun_epoch = strtoll(PQgetvalue(res, 0, 0), NULL,
			    10);
		else if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			pgdb_result_err(d, res);
			r = CV_ERR_STORE;
		}
		PQclear(res);
		/* As a failed BEGIN: no transaction left open. */
		if (r != CV_OK && PQtransactionStatus(d->c) != PQTRANS_IDLE) {
			char keep[sizeof d->err];
			memcpy(keep, d->err, sizeof keep);
			(void)pgdb_simple(d, "ROLLBACK");
			memcpy(d->err, keep, sizeof keep);
		}
		return r;
	}
	if (pgdb_simple(d, "BEGIN ISOLATION LEVEL READ COMMITTED;"
	    " SELECT pg_advisory_xact_lock(" WRITE_LOCK_KEY ")") == CV_OK)
		return CV_OK;
	/* As a failed BEGIN IMMEDIATE: no transaction left open. */
	if (PQtransactionStatus(d->c) == PQTRANS_INERROR) {
		char keep[sizeof d->err];
		memcpy(keep, d->err, sizeof keep);
		(void)pgdb_simple(d, "ROLLBACK");
		memcpy(d->err, keep, sizeof keep);
	}
	return CV_ERR_STORE;
}

/* Whether a transaction is open, as SQLite refuses COMMIT without. */
static int
in_tx(struct pg_db *d)
{
	PGTransactionStatusType t = PQtransactionStatus(d->c);

	if (t == PQTRANS_INTRANS || t == PQTRANS_INERROR)
		return 1;
	pgdb_set_err(d, t == PQTRANS_IDLE ? "no transaction is active" :
	    PQerrorMessage(d->c));
	return 0;
}

static cv_err
pg_commit(struct cv_db *db)
{
	struct pg_db *d = to_db(db);
	PGresult *res;
	cv_err r = CV_OK;

	if (!in_tx(d))
		return CV_ERR_STORE;
	/*
	 * A transaction in which a statement failed ends in a rollback,
	 * which COMMIT reports as a success tagged ROLLBACK: a failure
	 * here, or the caller would believe its writes are in.
	 */
	res = PQexec(d->c, "COMMIT");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		pgdb_result_err(d, res);
		r = CV_ERR_STORE;
	} else if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
		pgdb_set_err(d, "the transaction had failed and was rolled back");
		r = CV_ERR_STORE;
	}
	PQclear(res);
	return r;
}

static cv_err
pg_rollback(struct cv_db *db)
{
	struct pg_db *d = to_db(db);

	if (!in_tx(d))
		return CV_ERR_STORE;
	return pgdb_simple(d, "ROLLBACK");
}

/*
 * DATA: cv_epoch's counter, which a statement trigger on the watched
 * tables (users, certs: what cv_store_cert_user keeps) bumps in the
 * writer's transaction. So it moves when another connection commits a
 * change to them and not when one rolls back, and inside a read
 * transaction it is that snapshot's, as the rows read with it; reads and
 * writes to other tables leave it (SQLite's data_version moves on any
 * commit: more misses, never fewer). CHANGES: this connection's own
 * changed rows, which its own uncommitted writes move.
 */
static cv_err
pg_epoch(struct cv_db *db, int64_t *data, int64_t *changes)
{
	struct pg_db *d = to_db(db);
	enum cv_db_step rc;

	*data = *changes = 0;
	if (d->begun_epoch >= 0 &&
	    PQtransactionStatus(d->c) == PQTRANS_INTRANS) {
		*data = d->begun_epoch;
		*changes = d->total;
		return CV_OK;
	}
	/* Outside a transaction the watcher's value is as good as a
	 * statement's: a commit after it is one a statement just before
	 * that commit would have missed too. */
	if (d->follow && PQtransactionStatus(d->c) == PQTRANS_IDLE &&
	    (*data = pgdb_followed(d->follow)) >= 0) {
		*changes = d->total;
		return CV_OK;
	}
	if (kept(d, "SELECT n FROM cv_epoch", &d->epoch) != CV_OK)
		return CV_ERR_STORE;
	if ((rc = pg_step(d->epoch)) == CV_DB_ROW)
		*data = pg_column_int64(d->epoch, 0);
	pg_reset(d->epoch, 0);
	if (rc != CV_DB_ROW) {
		if (rc == CV_DB_DONE)
			pgdb_set_err(d, "cv_epoch has no row");
		return CV_ERR_STORE;
	}
	*changes = d->total;
	return CV_OK;
}

static const char *
pg_errmsg(struct cv_db *db)
{
	struct pg_db *d = to_db(db);

	return d->err[0] ? d->err : "not an error";
}

/* The session's synchronous_commit: off loses the last commits in a
 * crash of the server, never corrupts (PostgreSQL's WAL stays whole). */
static cv_err
pg_durability(struct cv_db *db, int full)
{
	return pgdb_simple(to_db(db), full ? "SET synchronous_commit = on" :
	    "SET synchronous_commit = off");
}

/*
 * Nothing to do: PostgreSQL's WAL is the server's, checkpointed by the
 * server (CHECKPOINT wants a superuser or pg_checkpoint, which the
 * vault's role is not), and no copy of its files is ever made by
 * clearvault: a database's copy is pg_dump's or pg_basebackup's.
 */
static cv_err
pg_checkpoint(struct cv_db *db)
{
	(void)db;
	return CV_OK;
}

static cv_err
pg_backup(struct cv_db *db, const char *path,
    void (*progress)(void *ctx, uint64_t done, uint64_t total), void *ctx)
{
	(void)progress;
	(void)ctx;
	pgdb_set_err(to_db(db), "not on PostgreSQL");
	return cv_fail(CV_ERR_STORE, "cannot back up to %s: this vault's "
	    "database is in PostgreSQL; copy it with pg_dump or "
	    "pg_basebackup (with the vault folder, as for a SQLite vault)",
	    path);
}

const struct cv_db_ops cv_db_postgresql = {
	.dialect = CV_DB_POSTGRESQL,
	.open = pgdb_open,
	.close = pgdb_close,
	.exec = pg_exec,
	.prepare = pg_prepare,
	.finalize = pg_finalize,
	.reset = pg_reset,
	.bind_int64 = pg_bind_int64,
	.bind_text = pg_bind_text,
	.bind_blob = pg_bind_blob,
	.bind_null = pg_bind_null,
	.step = pg_step,
	.column_int64 = pg_column_int64,
	.column_text = pg_column_text,
	.column_blob = pg_column_blob,
	.column_bytes = pg_column_bytes,
	.column_is_null = pg_column_is_null,
	.changes = pg_changes,
	.last_insert_id = pg_last_insert_id,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.epoch = pg_epoch,
	.follow_new = pgdb_follow_new,
	.follow_free = pgdb_follow_free,
	.follow_use = pgdb_follow_use,
	.follow_moved = pgdb_follow_moved,
	.errmsg = pg_errmsg,
	.durability = pg_durability,
	.checkpoint = pg_checkpoint,
	.backup = pg_backup,
	.bulk_begin = pgdb_bulk_begin,
	.bulk_row = pgdb_bulk_row,
	.bulk_end = pgdb_bulk_end,
};
