/*
 * Entries staged per node (docs/scale-out.md, "the log's entries staged
 * per node"). A batch becomes durable as rows of cv_audit_staged, each
 * given its final index by the sequence cv_audit_idx, in one autocommit
 * INSERT on a connection of its own (S): no lock shared with the other
 * nodes, so their commits group in the WAL instead of taking turns under
 * the sequencer. One node at a time, under the sequencer, moves the rows
 * that follow the log without a gap into the log's large objects and
 * deletes them in the same transaction (stage.c), so each entry lands
 * exactly once, at its index.
 *
 * An index taken and never committed (a node killed mid-INSERT) is a gap
 * the mover fills with an audit.gap entry once it is old enough; a late
 * INSERT of that index then fails on the primary key and releases
 * nothing (its caller hears the failure).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../store/store.h"
#include "pg_internal.h"

#define BYTEA_OID 17
#define STAGE_STMT "cv_stage"
/* The trigger's SQLSTATE for a row below the moved size (its own, so
 * that a filler can tell "moved already" from a failure). */
#define STAGE_MOVED_STATE "CV001"

static cv_err stage_conn(struct audit_pg *p);

/*
 * The staging objects, made once per database by whichever node opens it
 * first, under the sequencer: the sequence starts at the log's size, so
 * an index it gives was never the log's. A node of an earlier release
 * would append at the log's size, past the sequence, under indices the
 * sequence gives again: `checkpoints` is renamed so that such a node
 * does not open the log (it wants every name). One that is running keeps
 * its handle: stop every node before the first of this release starts.
 */
cv_err
audit_pg_stage_setup(struct cv_audit *a)
{
	struct audit_pg *p = a->pg;
	char sql[2048];
	PGresult *res;
	cv_err r = CV_OK;

	pthread_mutex_lock(&p->smu);
	r = stage_conn(p);
	pthread_mutex_unlock(&p->smu);
	if (r != CV_OK)
		return r;
	res = PQexec(p->w, "SELECT to_regclass('cv_audit_staged') IS NOT NULL");
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	    strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
		PQclear(res);
		return CV_OK;
	}
	PQclear(res);
	/* cv_audit_moved: the log's size as the last move committed it. A
	 * row staged below it would never be moved (a node that took an
	 * index, stalled past its filler and the filler's move, then
	 * committed): the trigger refuses it, after the key's wait, so it
	 * sees any move that deleted the filler it waited on. */
	if ((size_t)snprintf(sql, sizeof sql, "BEGIN;"
	    " SELECT pg_advisory_xact_lock(%s);"
	    " DO $$ DECLARE s bigint; BEGIN"
	    " IF to_regclass('cv_audit_staged') IS NULL THEN"
	    " s := lo_lseek64(lo_open(%s, " INV_READ "), 0, 2) / 8;"
	    " CREATE SEQUENCE cv_audit_idx MINVALUE 0 START 0 CACHE 1;"
	    " PERFORM setval('cv_audit_idx', s, false);"
	    " CREATE TABLE cv_audit_staged(idx bigint PRIMARY KEY,"
	    " pos int NOT NULL, leaf bytea NOT NULL);"
	    " CREATE TABLE cv_audit_moved(size bigint NOT NULL);"
	    " INSERT INTO cv_audit_moved VALUES (s);"
	    " CREATE FUNCTION cv_audit_staged_check() RETURNS trigger"
	    " LANGUAGE plpgsql AS $f$ BEGIN IF EXISTS (SELECT 1 FROM"
	    " cv_audit_new n WHERE n.idx < (SELECT size FROM cv_audit_moved))"
	    " THEN RAISE EXCEPTION 'audit entry index in the log already'"
	    " USING ERRCODE = '" STAGE_MOVED_STATE "'; END IF; RETURN NULL;"
	    " END $f$;"
	    " CREATE TRIGGER cv_audit_staged_check AFTER INSERT ON"
	    " cv_audit_staged REFERENCING NEW TABLE AS cv_audit_new"
	    " FOR EACH STATEMENT EXECUTE FUNCTION cv_audit_staged_check();"
	    " UPDATE cv_audit_files SET name = 'checkpoints.2'"
	    " WHERE name = 'checkpoints';"
	    " END IF; END $$; COMMIT", p->key, p->oid[AUDIT_PG_OFFSETS]) >=
	    sizeof sql)
		return cv_fail(CV_ERR_INTERNAL, "audit log: staging's SQL");
	res = PQexec(p->w, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		r = audit_pg_fail(p->w, res, "%s", "add the log's staging");
	PQclear(res);
	if (r != CV_OK && PQtransactionStatus(p->w) != PQTRANS_IDLE)
		PQclear(PQexec(p->w, "ROLLBACK"));
	return r;
}

static int
sqlstate_is(const PGresult *res, const char *state)
{
	const char *s = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	return s != NULL && strcmp(s, state) == 0;
}

/*
 * S, connected (again if it broke). Under smu. Opened with the handle
 * (audit_pg_stage_setup): a server's key process opens no socket once
 * sandboxed, where a broken S stays broken (its batches fail: closed).
 */
static cv_err
stage_conn(struct audit_pg *p)
{
	cv_err r;

	if (p->s && PQstatus(p->s) == CONNECTION_OK)
		return CV_OK;
	if (p->s)
		PQfinish(p->s);
	p->s = NULL;
	if ((r = audit_pg_connect(p->db, 0, &p->s)) != CV_OK)
		return r;
	PQclear(PQexec(p->s, "SET application_name = 'clearvault audit'"));
	p->s_prepared = 0;
	return CV_OK;
}

/* Whether S still has the settings it was opened with: CV_ERR_IO if
 * not, or if that cannot be asked. */
static cv_err
intact(struct audit_pg *p)
{
	char why[300];

	if (cv_store_pg_intact((struct pg_conn *)p->s, 0, LOCK_WAIT_S) ==
	    CV_OK)
		return CV_OK;
	/* A copy: the detail is the buffer cv_fail writes. */
	snprintf(why, sizeof why, "%s", cv_err_detail());
	return cv_fail(CV_ERR_IO, "audit log in PostgreSQL: cannot stage "
	    "the log's entries: %s", why);
}

/* Rows FIRST.. of N leaves of FRAMES (from *OFF on) in one INSERT on S,
 * as one bytea[] in PostgreSQL's binary array format: a frame (a 4-byte
 * big-endian length, the leaf) is that format's element already, so the
 * array is a header and the frames as they are. */
static cv_err
stage_chunk(struct audit_pg *p, const uint8_t *frames, size_t *off,
    size_t first, size_t n, uint64_t *idx)
{
	struct cv_buf arr = { 0 };
	uint8_t head[20];
	const char *v[1];
	int len[1], fmt[1] = { 1 };
	PGresult *res = NULL;
	size_t at = *off;
	int retried = 0;
	cv_err r;

	for (size_t i = 0; i < n; i++)
		*off += 4 + (size_t)cv_get_u32be(frames + *off);
	if (*off - at > INT32_MAX - sizeof head)
		return cv_fail(CV_ERR_INTERNAL, "audit: %zu bytes to stage",
		    *off - at);
	cv_put_u32be(head, 1);			/* dimensions */
	cv_put_u32be(head + 4, 0);		/* no NULLs */
	cv_put_u32be(head + 8, BYTEA_OID);
	cv_put_u32be(head + 12, (uint32_t)n);
	cv_put_u32be(head + 16, 1);		/* lower bound */
	if ((r = cv_buf_add(&arr, head, sizeof head)) != CV_OK ||
	    (r = cv_buf_add(&arr, frames + at, *off - at)) != CV_OK)
		goto out;
	v[0] = (const char *)arr.p;
	len[0] = (int)arr.len;
	/* Prepared once a connection (at its first batch: the table may
	 * not exist when S connects): parsed and planned at every batch, it
	 * cost PostgreSQL about as much as it took to run. */
	if (p->s_lost) {
		if ((r = intact(p)) != CV_OK)
			goto out;
		p->s_lost = 0;
		p->s_prepared = 0;
	}
	for (;;) {
		if (!p->s_prepared) {
			res = PQprepare(p->s, STAGE_STMT, "INSERT INTO"
			    " cv_audit_staged(idx, pos, leaf) SELECT"
			    " nextval('cv_audit_idx'), o, l FROM"
			    " unnest($1::bytea[]) WITH ORDINALITY AS t(l, o)"
			    " RETURNING idx, pos", 1, NULL);
			if (PQresultStatus(res) != PGRES_COMMAND_OK) {
				r = audit_pg_fail(p->s, res, "%s", "prepare "
				    "the staging");
				goto out;
			}
			PQclear(res);
			p->s_prepared = 1;
		}
		res = PQexecPrepared(p->s, STAGE_STMT, 1, v, len, fmt, 0);
		if (!cv_store_pg_lost_statement(res))
			break;
		/* The server lost it (a DEALLOCATE sent on S, as a pooler
		 * may): nothing ran. Prepared again and run once more,
		 * unless a transaction failed with it (the batch fails;
		 * the next one checks S and prepares it), or S lost its
		 * settings too (a DISCARD ALL: synchronous_commit may be
		 * off now, and an entry must be durable before its read
		 * is answered; the batch fails, and so does every batch
		 * after it, as before). */
		if (retried || PQtransactionStatus(p->s) != PQTRANS_IDLE) {
			p->s_lost = 1;
			break;
		}
		if ((r = intact(p)) != CV_OK)
			goto out;
		p->s_prepared = 0;
		PQclear(res);
		res = NULL;
		retried = 1;
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK ||
	    PQntuples(res) != (int)n || PQnfields(res) != 2) {
		r = audit_pg_fail(p->s, res, "%s", "stage the log's entries");
		goto out;
	}
	for (int i = 0; i < (int)n; i++) {
		long pos = strtol(PQgetvalue(res, i, 1), NULL, 10);
		if (pos < 1 || pos > (long)n) {
			r = cv_fail(CV_ERR_INTERNAL, "audit log in PostgreSQL: "
			    "staging answered row %ld of %zu", pos, n);
			goto out;
		}
		idx[first + (size_t)pos - 1] = strtoull(PQgetvalue(res, i, 0),
		    NULL, 10);
	}
 out:
	PQclear(res);
	sodium_memzero(arr.p, arr.len);
	cv_buf_free(&arr);
	return r;
}

cv_err
audit_pg_stage(struct cv_audit *a, const uint8_t *frames, size_t flen,
    size_t n, uint64_t *idx)
{
	struct audit_pg *p = a->pg;
	size_t off = 0;
	int tx = n > AUDIT_PG_STAGE_CHUNK;
	PGresult *res;
	cv_err r;

	/* The frames' lengths checked before anything is durable: a batch
	 * refused after its INSERT would be logged reads never answered. */
	for (size_t i = 0; i < n; i++) {
		uint32_t len;

		if (flen - off < 4 || (len = cv_get_u32be(frames + off)) == 0 ||
		    len > CV_AUDIT_MAX_LEAF || flen - off - 4 < len)
			return cv_fail(CV_ERR_INTERNAL, "audit: frame %zu of "
			    "%zu", i, n);
		off += 4 + (size_t)len;
	}
	if (off != flen)
		return cv_fail(CV_ERR_INTERNAL, "audit: frame lengths");
	off = 0;
	pthread_mutex_lock(&p->smu);
	if ((r = stage_conn(p)) != CV_OK)
		goto out;
	/* Tests: the server ends the session before the INSERT, as a
	 * crash would: nothing of the batch is staged. */
	if (cv_fault("audit.pg_kill"))
		PQclear(PQexec(p->s, "SELECT pg_terminate_backend("
		    "pg_backend_pid())"));
	/* Tests: the session's prepared statements dropped, as a pooler's
	 * DEALLOCATE ALL or DISCARD ALL would. */
	if (cv_fault("audit.pg_deallocate"))
		PQclear(PQexec(p->s, "DEALLOCATE ALL"));
	if (cv_fault("audit.pg_discard"))
		PQclear(PQexec(p->s, "DISCARD ALL"));
	/* More than a statement's rows: one transaction, all or none. */
	if (tx) {
		res = PQexec(p->s, "BEGIN");
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			r = audit_pg_fail(p->s, res, "%s", "stage the log's "
			    "entries");
		PQclear(res);
	}
	for (size_t i = 0, k; r == CV_OK && i < n; i += k) {
		k = n - i < AUDIT_PG_STAGE_CHUNK ? n - i : AUDIT_PG_STAGE_CHUNK;
		r = stage_chunk(p, frames, &off, i, k, idx);
	}
	if (r == CV_OK && off != flen)
		r = cv_fail(CV_ERR_INTERNAL, "audit: frame lengths");
	if (tx && r == CV_OK) {
		res = PQexec(p->s, "COMMIT");
		if (PQresultStatus(res) != PGRES_COMMAND_OK ||
		    strcmp(PQcmdStatus(res), "COMMIT") != 0)
			r = audit_pg_fail(p->s, res, "%s", "commit the log's "
			    "staged entries");
		PQclear(res);
	}
	if (r != CV_OK && tx && PQtransactionStatus(p->s) != PQTRANS_IDLE)
		PQclear(PQexec(p->s, "ROLLBACK"));
 out:
	pthread_mutex_unlock(&p->smu);
	return r;
}

cv_err
audit_pg_staged(struct cv_audit *a, uint64_t from, struct cv_buf *frames,
    size_t *n, uint64_t *next)
{
	struct audit_pg *p = a->pg;
	char f[24], lim[16];
	const char *v[2] = { f, lim };
	PGresult *res;
	uint8_t len[4];
	cv_err r = CV_OK;

	*n = 0;
	*next = from;
	if (p->nputs)
		return cv_fail(CV_ERR_INTERNAL, "audit log: staged entries "
		    "read after a write");
	snprintf(f, sizeof f, "%" PRIu64, from);
	snprintf(lim, sizeof lim, "%d", AUDIT_PG_STAGE_CHUNK);
	/* The run that follows the log with no hole; and, when there is
	 * none, the next index the sequence gives: past FROM, a hole. */
	res = PQexecParams(p->w, "SELECT idx, leaf FROM cv_audit_staged"
	    " WHERE idx >= $1::bigint ORDER BY idx LIMIT $2::int", 2, NULL,
	    v, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != 2) {
		r = audit_pg_fail(p->w, res, "%s", "read the staged entries");
		goto out;
	}
	for (int i = 0; i < PQntuples(res); i++) {
		uint64_t ix = 0;
		const uint8_t *b = (const uint8_t *)PQgetvalue(res, i, 0);
		int bl = PQgetlength(res, i, 1);
		if (PQgetlength(res, i, 0) != 8)
			break;
		for (int k = 0; k < 8; k++)
			ix = ix << 8 | b[k];
		if (ix != from + *n)
			break;
		if (bl < 1 || bl > CV_AUDIT_MAX_LEAF) {
			r = cv_fail(CV_ERR_FORMAT, "audit log in PostgreSQL: "
			    "staged entry %" PRIu64 " is %d bytes", ix, bl);
			goto out;
		}
		cv_put_u32be(len, (uint32_t)bl);
		if ((r = cv_buf_add(frames, len, 4)) != CV_OK ||
		    (r = cv_buf_add(frames, PQgetvalue(res, i, 1),
		    (size_t)bl)) != CV_OK)
			goto out;
		(*n)++;
	}
	PQclear(res);
	res = NULL;
	if (*n > 0) {
		*next = from + *n;
		goto out;
	}
	res = PQexec(p->w, "SELECT CASE WHEN is_called THEN last_value + 1"
	    " ELSE last_value END FROM cv_audit_idx");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		r = audit_pg_fail(p->w, res, "%s", "read the log's sequence");
	else
		*next = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
 out:
	PQclear(res);
	return r;
}

cv_err
audit_pg_unstage(struct cv_audit *a, uint64_t from, uint64_t upto)
{
	char f[24], u[24];
	const char *v[2] = { f, u };
	PGresult *res;
	cv_err r = CV_OK;

	/* From FROM, not from the table's start: rows below it went with
	 * the moves before (the trigger refuses any staged there since), but
	 * their index entries stay until a vacuum, and an unbounded range
	 * walked them all at every move (74 us of PostgreSQL's time a read
	 * at 3,700 reads/s, against 2 bounded). */
	snprintf(f, sizeof f, "%" PRIu64, from);
	snprintf(u, sizeof u, "%" PRIu64, upto);
	res = PQexecParams(a->pg->w, "WITH d AS (DELETE FROM cv_audit_staged"
	    " WHERE idx >= $1::bigint AND idx < $2::bigint)"
	    " UPDATE cv_audit_moved SET size = $2::bigint", 2, NULL, v, NULL,
	    NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		r = audit_pg_fail(a->pg->w, res, "%s", "delete the moved "
		    "staged entries");
	PQclear(res);
	return r;
}

cv_err
audit_pg_fill(struct cv_audit *a, uint64_t at, const uint8_t *leaf,
    size_t len)
{
	struct audit_pg *p = a->pg;
	char g[24];
	const char *v[2] = { g, (const char *)leaf };
	int lens[2] = { 0, (int)len }, fmts[2] = { 0, 1 };
	PGresult *res;
	cv_err r;

	snprintf(g, sizeof g, "%" PRIu64, at);
	pthread_mutex_lock(&p->smu);
	if ((r = stage_conn(p)) != CV_OK)
		goto out;
	/* An INSERT of AT still running makes this wait, then do nothing;
	 * after this one, that INSERT fails on the key. */
	res = PQexecParams(p->s, "INSERT INTO cv_audit_staged(idx, pos, leaf)"
	    " VALUES ($1::bigint, 0, $2::bytea) ON CONFLICT (idx) DO NOTHING",
	    2, NULL, v, lens, fmts, 0);
	/* Refused by the trigger: another node filled AT and moved it
	 * while this one waited (the same hole, seen by both). */
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    !sqlstate_is(res, STAGE_MOVED_STATE))
		r = audit_pg_fail(p->s, res, "%s", "fill a gap in the log");
	PQclear(res);
 out:
	pthread_mutex_unlock(&p->smu);
	return r;
}

cv_err
audit_pg_staged_leaf(struct cv_audit *a, uint64_t index, struct cv_buf *out)
{
	struct audit_pg *p = a->pg;
	char ix[24];
	const char *v[1] = { ix };
	PGresult *res;
	cv_err r;

	snprintf(ix, sizeof ix, "%" PRIu64, index);
	pthread_mutex_lock(&p->rmu);
	res = PQexecParams(p->r, "SELECT leaf FROM cv_audit_staged"
	    " WHERE idx = $1::bigint", 1, NULL, v, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		r = audit_pg_fail(p->r, res, "%s", "read a staged entry");
	else if (PQntuples(res) != 1)
		r = CV_ERR_NOT_FOUND;
	else if (PQgetlength(res, 0, 0) < 1 ||
	    PQgetlength(res, 0, 0) > CV_AUDIT_MAX_LEAF)
		r = cv_fail(CV_ERR_FORMAT, "audit log in PostgreSQL: staged "
		    "entry %s is %d bytes", ix, PQgetlength(res, 0, 0));
	else
		r = cv_buf_add(out, PQgetvalue(res, 0, 0),
		    (size_t)PQgetlength(res, 0, 0));
	pthread_mutex_unlock(&p->rmu);
	PQclear(res);
	return r;
}

cv_err
audit_pg_taken(struct cv_audit *a, uint64_t *next)
{
	struct audit_pg *p = a->pg;
	PGresult *res;
	cv_err r = CV_OK;

	pthread_mutex_lock(&p->rmu);
	res = PQexec(p->r, "SELECT CASE WHEN is_called THEN last_value + 1"
	    " ELSE last_value END FROM cv_audit_idx");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		r = audit_pg_fail(p->r, res, "%s", "read the log's sequence");
	else
		*next = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	pthread_mutex_unlock(&p->rmu);
	PQclear(res);
	return r;
}
