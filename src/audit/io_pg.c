/*
 * The log's files in PostgreSQL, for a vault whose records are there
 * (issue 13, step 3): every node appends to one log and one tree. Each
 * file of the layout in audit.h (entries, offsets, checkpoints, tree/L)
 * is a large object, read and written at byte offsets with the server's
 * lo_get and lo_put, so that everything above this layer (group commit,
 * the tree, checkpoints, repair, verify, scan, proofs, copy) is the same
 * code on both backends. Their OIDs are in cv_audit_files, made at init.
 *
 * The file lock becomes a transaction: the exclusive lock is BEGIN and a
 * transaction-level advisory lock on a key of the vault id, the shared
 * lock the same with the shared advisory lock, and the unlock is COMMIT:
 * the durability point (synchronous commit), where a sync of a file was.
 * A COMMIT that fails fails what was written under the lock; nothing of
 * it counts, as a failed append in a file is cut.
 *
 * Round trips are what it costs (a Unix socket, ~0.1 ms each on a busy
 * VM): writes under the lock are kept here and sent with the COMMIT in
 * one statement string (before that if a read on W follows them), and
 * the lock's statement also measures `offsets`, which the caller asks
 * next. An append is two round trips and the COMMIT's flush.
 *
 * Threads: libpq connections are not thread-safe, and a read without the
 * lock must not run inside another thread's open transaction (it would
 * see uncommitted bytes). So two connections: W carries the locked work
 * (under the handle's io mutex, which the lock holds), R the reads made
 * without the lock (under its own mutex), one statement each, each in its
 * own snapshot. Below the size read under the lock, bytes are final on
 * both backends, which is what makes the unlocked reads safe.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "../store/store.h"
#include "audit_internal.h"
#include "pg_internal.h"

/* The handle whose lock this thread holds: its reads go through W. */
static _Thread_local const struct cv_audit *holder;

static const char *
file_name(unsigned h, char *buf, size_t size)
{
	if (h == AUDIT_PG_ENTRIES)
		return "entries";
	if (h == AUDIT_PG_OFFSETS)
		return "offsets";
	if (h == AUDIT_PG_CKPT)
		return "checkpoints";
	snprintf(buf, size, "tree/%u", h - AUDIT_PG_LEVEL0);
	return buf;
}

cv_err
audit_pg_fail(PGconn *c, const PGresult *res, const char *fmt, const char *arg)
{
	const char *m = res ? PQresultErrorField(res,
	    PG_DIAG_MESSAGE_PRIMARY) : NULL;
	char what[200];
	size_t n;

	if (m == NULL)
		m = PQerrorMessage(c);
	snprintf(what, sizeof what, fmt, arg);
	n = strlen(m);
	while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
		n--;
	return cv_fail(CV_ERR_IO, "audit log in PostgreSQL: cannot %s: %.*s",
	    what, (int)n, m);
}

/* The connection for this thread's statement: W under the lock, else R
 * (taken; give it back with done()). */
static PGconn *
conn(struct cv_audit *a)
{
	if (holder == a)
		return a->pg->w;
	pthread_mutex_lock(&a->pg->rmu);
	return a->pg->r;
}

static void
done(struct cv_audit *a, PGconn *c)
{
	if (c == a->pg->r)
		pthread_mutex_unlock(&a->pg->rmu);
}

/* SQL with N parameters (text unless FMTS says binary) on C; BINARY:
 * the results' format. */
static PGresult *
query(PGconn *c, const char *sql, int n, const char *const *vals,
    const int *lens, const int *fmts, int binary)
{
	return PQexecParams(c, sql, n, NULL, vals, lens, fmts, binary);
}

static int
one_value(const PGresult *res)
{
	return PQresultStatus(res) == PGRES_TUPLES_OK &&
	    PQntuples(res) == 1 && PQnfields(res) == 1;
}

/* Writes go through W only: under the exclusive lock, in its
 * transaction. */
static cv_err
locked_only(struct cv_audit *a, const char *what)
{
	if (holder != a)
		return cv_fail(CV_ERR_INTERNAL, "audit log: %s without the "
		    "lock", what);
	return CV_OK;
}

/* Forgets the kept writes (sent, or rolled back). */
static void
drop_puts(struct audit_pg *p)
{
	sodium_memzero(p->data.p, p->data.len);
	p->data.len = 0;
	p->nputs = 0;
}

/*
 * The kept writes as one statement (lo_put, left to right: the order
 * they were made), followed by TAIL (";COMMIT" or ""), into OUT.
 */
static cv_err
puts_sql(struct audit_pg *p, const char *tail, struct cv_buf *out)
{
	char head[96];
	cv_err r = CV_OK;

	for (size_t i = 0; i < p->nputs && r == CV_OK; i++) {
		const struct put *u = &p->puts[i];
		size_t at;
		snprintf(head, sizeof head, "%s lo_put(%s, %" PRIu64 ", "
		    "decode('", i ? "," : "SELECT", p->oid[u->h], u->off);
		if ((r = cv_buf_add(out, head, strlen(head))) != CV_OK ||
		    (r = cv_buf_reserve(out, 2 * u->len + 1)) != CV_OK)
			break;
		at = out->len;
		sodium_bin2hex((char *)out->p + at, 2 * u->len + 1,
		    p->data.p + u->at, u->len);
		out->len += 2 * u->len;
		r = cv_buf_add(out, "', 'hex'))", 10);
	}
	if (r == CV_OK)
		r = cv_buf_add(out, tail, strlen(tail) + 1);
	return r;
}

/* Sends the kept writes, in the transaction, without committing. */
static cv_err
flush(struct cv_audit *a)
{
	struct audit_pg *p = a->pg;
	struct cv_buf sql = { 0 };
	PGresult *res;
	cv_err r;

	if (p->nputs == 0)
		return CV_OK;
	if ((r = puts_sql(p, "", &sql)) == CV_OK) {
		res = PQexec(p->w, (const char *)sql.p);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			r = audit_pg_fail(p->w, res, "%s", "write the log");
		PQclear(res);
	}
	drop_puts(p);
	sodium_memzero(sql.p, sql.len);
	cv_buf_free(&sql);
	return r;
}

cv_err
audit_pg_write(struct cv_audit *a, unsigned h, const void *buf, size_t len,
    uint64_t off)
{
	struct audit_pg *p = a->pg;
	struct put *u = p->nputs ? &p->puts[p->nputs - 1] : NULL;
	char now[24];
	const char *v[2] = { now, p->oid[AUDIT_PG_CKPT] };
	PGresult *res;
	int fresh = 0;
	cv_err r;

	if ((r = locked_only(a, "a write")) != CV_OK)
		return r;
	if (h == AUDIT_PG_OFFSETS)
		p->offsets_known = 0;
	/* Kept for the COMMIT; one that continues the last is merged. */
	if (u == NULL || u->h != h || u->off + u->len != off) {
		if (p->nputs == p->cap) {
			size_t cap = p->cap ? 2 * p->cap : 80;
			struct put *n = realloc(p->puts, cap * sizeof *n);
			if (n == NULL)
				return CV_ERR_NOMEM;
			p->puts = n;
			p->cap = cap;
		}
		u = &p->puts[p->nputs++];
		*u = (struct put){ .h = h, .off = off, .at = p->data.len };
		fresh = 1;
	}
	if ((r = cv_buf_add(&p->data, buf, len)) != CV_OK) {
		if (u->len == 0)
			p->nputs--;
		return r;
	}
	u->len += len;
	if (h != AUDIT_PG_CKPT || !fresh)
		return CV_OK;
	/* What a file's mtime told: when the last checkpoint was written
	 * (audit_maybe_checkpoint), in the same transaction; once for the
	 * frame's three writes. */
	snprintf(now, sizeof now, "%lld", (long long)cv_time_us());
	res = query(a->pg->w, "UPDATE cv_audit_files SET mtime_us = $1::bigint"
	    " WHERE obj = $2::oid", 2, v, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		r = audit_pg_fail(a->pg->w, res, "date the %s", "checkpoints");
	PQclear(res);
	return r;
}

cv_err
audit_pg_read(struct cv_audit *a, unsigned h, void *buf, size_t len,
    uint64_t off)
{
	char so[24], sl[24], nb[16];
	const char *v[3] = { a->pg->oid[h], so, sl };
	PGresult *res;
	PGconn *c;
	cv_err r = CV_OK;

	if (len == 0)
		return CV_OK;
	if (len > INT32_MAX)
		return cv_fail(CV_ERR_INTERNAL, "audit log: a read of %zu "
		    "bytes", len);
	snprintf(so, sizeof so, "%" PRIu64, off);
	snprintf(sl, sizeof sl, "%zu", len);
	if (holder == a && (r = flush(a)) != CV_OK)
		return r;
	c = conn(a);
	res = query(c, "SELECT lo_get($1::oid, $2::bigint, $3::int)", 3, v,
	    NULL, NULL, 1);
	if (!one_value(res))
		r = audit_pg_fail(c, res, "read %s", file_name(h, nb, sizeof nb));
	else if ((size_t)PQgetlength(res, 0, 0) != len)
		r = cv_fail(CV_ERR_IO, "audit log in PostgreSQL: %s ends "
		    "before byte %" PRIu64 ", short of the %zu bytes wanted "
		    "there", file_name(h, nb, sizeof nb), off + len, len);
	else
		memcpy(buf, PQgetvalue(res, 0, 0), len);
	PQclear(res);
	done(a, c);
	return r;
}

cv_err
audit_pg_read_many(struct cv_audit *a, size_t n, const unsigned *h,
    const uint64_t *off, const size_t *len, uint8_t (*out)[CV_HASH_BYTES])
{
	struct cv_buf sql = { 0 };
	char part[96];
	PGresult *res = NULL;
	PGconn *c;
	cv_err r = CV_OK;

	if (n == 0)
		return CV_OK;
	for (size_t i = 0; i < n && r == CV_OK; i++) {
		if (len[i] > CV_HASH_BYTES)
			return cv_fail(CV_ERR_INTERNAL, "audit log: %zu bytes "
			    "a read", len[i]);
		snprintf(part, sizeof part, "%s lo_get(%s, %" PRIu64 ", %zu)",
		    i ? "," : "SELECT", a->pg->oid[h[i]], off[i], len[i]);
		r = cv_buf_add(&sql, part, strlen(part));
	}
	if (r == CV_OK)
		r = cv_buf_add(&sql, "", 1);
	if (r == CV_OK && holder == a)
		r = flush(a);
	if (r != CV_OK) {
		cv_buf_free(&sql);
		return r;
	}
	c = conn(a);
	res = PQexecParams(c, (const char *)sql.p, 0, NULL, NULL, NULL, NULL,
	    1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    PQnfields(res) != (int)n)
		r = audit_pg_fail(c, res, "%s", "read the log");
	for (size_t i = 0; r == CV_OK && i < n; i++) {
		char nb[16];
		if ((size_t)PQgetlength(res, 0, (int)i) != len[i])
			r = cv_fail(CV_ERR_IO, "audit log in PostgreSQL: %s "
			    "ends before byte %" PRIu64, file_name(h[i], nb,
			    sizeof nb), off[i] + len[i]);
		else
			memcpy(out[i], PQgetvalue(res, 0, (int)i), len[i]);
	}
	PQclear(res);
	done(a, c);
	cv_buf_free(&sql);
	return r;
}

/*
 * In PostgreSQL, the right edge in one round trip rather than one per
 * level: what an appender pays each time another node appended.
 */
cv_err
audit_pg_load_edge(struct cv_audit *a, uint64_t size)
{
	uint8_t got[AUDIT_LEVELS + 1][CV_HASH_BYTES];
	unsigned h[AUDIT_LEVELS + 1], lv[AUDIT_LEVELS + 1];
	uint64_t off[AUDIT_LEVELS + 1];
	size_t len[AUDIT_LEVELS + 1], n = 0;
	cv_err r;

	/* Where the last entry ends, then the edge's nodes. */
	if (size) {
		h[n] = AUDIT_PG_OFFSETS;
		len[n] = 8;
		off[n++] = (size - 1) * 8;
	}
	for (unsigned l = 0; l < AUDIT_LEVELS; l++) {
		uint64_t c = size >> l;
		if (c & 1) {
			lv[n] = l;
			h[n] = AUDIT_PG_LEVEL0 + l;
			len[n] = CV_HASH_BYTES;
			off[n++] = (c - 1) * CV_HASH_BYTES;
		}
	}
	a->size = size;
	a->end = 0;
	if ((r = audit_pg_read_many(a, n, h, off, len, got)) != CV_OK)
		return r;
	for (size_t i = 0; i < n; i++) {
		if (h[i] == AUDIT_PG_OFFSETS)
			a->end = (uint64_t)cv_get_u32be(got[i]) << 32 |
			    cv_get_u32be(got[i] + 4);
		else
			memcpy(a->edge[lv[i]], got[i], CV_HASH_BYTES);
	}
	return CV_OK;
}

cv_err
audit_pg_size(struct cv_audit *a, unsigned h, uint64_t *size)
{
	const char *v[1] = { a->pg->oid[h] };
	char nb[16];
	PGresult *res;
	PGconn *c;
	cv_err r = CV_OK;

	if (holder == a && h == AUDIT_PG_OFFSETS && a->pg->offsets_known) {
		*size = a->pg->offsets_size;
		return CV_OK;
	}
	if (holder == a && (r = flush(a)) != CV_OK)
		return r;
	c = conn(a);
	res = query(c, "SELECT lo_lseek64(lo_open($1::oid, " INV_READ "), 0, "
	    "2)", 1, v, NULL, NULL, 0);
	if (!one_value(res))
		r = audit_pg_fail(c, res, "measure %s", file_name(h, nb, sizeof nb));
	else
		*size = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	done(a, c);
	return r;
}

cv_err
audit_pg_ckpt_stat(struct cv_audit *a, uint64_t *size, double *when)
{
	PGresult *res;
	PGconn *c;
	cv_err r = CV_OK;

	if (holder == a && (r = flush(a)) != CV_OK)
		return r;
	c = conn(a);
	res = query(c, "SELECT lo_lseek64(lo_open(obj, " INV_READ "), 0, 2),"
	    " mtime_us FROM cv_audit_files WHERE obj = $1::oid", 1,
	    (const char *const[]){ a->pg->oid[AUDIT_PG_CKPT] }, NULL, NULL,
	    0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		r = audit_pg_fail(c, res, "measure the %s", "checkpoints");
	else {
		*size = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
		*when = (double)strtoll(PQgetvalue(res, 0, 1), NULL, 10) / 1e6;
	}
	PQclear(res);
	done(a, c);
	return r;
}

cv_err
audit_pg_truncate(struct cv_audit *a, unsigned h, uint64_t len)
{
	char sl[24], nb[16];
	const char *v[2] = { a->pg->oid[h], sl };
	PGresult *res;
	cv_err r;

	if ((r = locked_only(a, "a truncation")) != CV_OK ||
	    (r = flush(a)) != CV_OK)
		return r;
	if (h == AUDIT_PG_OFFSETS)
		a->pg->offsets_known = 0;
	snprintf(sl, sizeof sl, "%" PRIu64, len);
	res = query(a->pg->w, "SELECT lo_truncate64(lo_open($1::oid, "
	    INV_WRITE "), $2::bigint)", 2, v, NULL, NULL, 0);
	if (!one_value(res))
		r = audit_pg_fail(a->pg->w, res, "truncate %s", file_name(h, nb,
		    sizeof nb));
	PQclear(res);
	return r;
}

/* Under a->io. */
cv_err
audit_pg_lock(struct cv_audit *a, int how)
{
	char sql[256];
	PGresult *res;
	cv_err r = CV_OK;
	int n;

	/* One round trip (the simple protocol answers for the last
	 * statement): the lock, then the size of `offsets` under it, which
	 * every caller's refresh asks first. LOCK_NB: the size, or -1 when
	 * another session holds the lock. */
	if (how & LOCK_NB)
		n = snprintf(sql, sizeof sql, "BEGIN; SELECT CASE WHEN "
		    "pg_try_advisory_xact_lock(%s) THEN lo_lseek64(lo_open(%s, "
		    INV_READ "), 0, 2) ELSE -1 END", a->pg->key,
		    a->pg->oid[AUDIT_PG_OFFSETS]);
	else
		n = snprintf(sql, sizeof sql, "BEGIN; SELECT "
		    "pg_advisory_xact_lock%s(%s); SELECT lo_lseek64(lo_open(%s, "
		    INV_READ "), 0, 2)", how == LOCK_EX ? "" : "_shared",
		    a->pg->key, a->pg->oid[AUDIT_PG_OFFSETS]);
	/* Cut short, it would fail every lock (found so: the mover's). */
	if (n < 0 || (size_t)n >= sizeof sql)
		return cv_fail(CV_ERR_INTERNAL, "audit log: the lock's SQL");
	res = PQexec(a->pg->w, sql);
	if (one_value(res) && strcmp(PQgetvalue(res, 0, 0), "-1") == 0) {
		/* Another node holds it (LOCK_NB). */
		PQclear(res);
		PQclear(PQexec(a->pg->w, "ROLLBACK"));
		return cv_fail(CV_ERR_LIMIT, "audit log in PostgreSQL: another "
		    "node holds the sequencer");
	}
	if (!one_value(res)) {
		r = audit_pg_fail(a->pg->w, res, "take the %s lock", how & LOCK_EX ?
		    "log's" : "log's shared");
		PQclear(PQexec(a->pg->w, "ROLLBACK"));
	} else {
		a->pg->offsets_size = strtoull(PQgetvalue(res, 0, 0), NULL,
		    10);
		a->pg->offsets_known = 1;
		holder = a;
	}
	PQclear(res);
	return r;
}

/* Under a->io: COMMIT, or ROLLBACK when !COMMIT. */
cv_err
audit_pg_unlock(struct cv_audit *a, int commit)
{
	struct audit_pg *p = a->pg;
	struct cv_buf sql = { 0 };
	PGresult *res;
	cv_err r = CV_OK;

	holder = NULL;
	p->offsets_known = 0;
	/* Tests: the server ends the session just before the COMMIT, as a
	 * crash or pg_terminate_backend would. */
	if (commit && cv_fault("audit.pg_kill"))
		PQclear(PQexec(p->w, "SELECT pg_terminate_backend("
		    "pg_backend_pid())"));
	/* The kept writes and the COMMIT, one round trip; PQexec answers
	 * with the first failure or the COMMIT's result. */
	if (commit && p->nputs && (r = puts_sql(p, "; COMMIT", &sql)) !=
	    CV_OK) {
		drop_puts(p);
		PQclear(PQexec(p->w, "ROLLBACK"));
		return r;
	}
	drop_puts(p);
	res = PQexec(p->w, sql.len ? (const char *)sql.p : commit ? "COMMIT" :
	    "ROLLBACK");
	sodium_memzero(sql.p, sql.len);
	cv_buf_free(&sql);
	/* A transaction a failed statement aborted answers COMMIT with a
	 * ROLLBACK: that is a failure too, never a silent success. */
	if (PQresultStatus(res) != PGRES_COMMAND_OK ||
	    (commit && strcmp(PQcmdStatus(res), "COMMIT") != 0))
		r = PQresultStatus(res) == PGRES_COMMAND_OK ?
		    cv_fail(CV_ERR_IO, "audit log in PostgreSQL: the "
		    "transaction was rolled back") :
		    audit_pg_fail(p->w, res, "%s", commit ? "commit" : "roll back");
	/* A write that failed left the transaction open, aborted. */
	if (r != CV_OK && PQtransactionStatus(p->w) != PQTRANS_IDLE)
		PQclear(PQexec(p->w, "ROLLBACK"));
	PQclear(res);
	return r;
}

cv_err
audit_pg_connect(const char *db, int readonly, PGconn **out)
{
	return cv_store_pg_connect(db, readonly, LOCK_WAIT_S,
	    (struct pg_conn **)out);
}

void
audit_pg_close(struct audit_pg *p)
{
	if (p == NULL)
		return;
	PQfinish(p->w);
	PQfinish(p->r);
	if (p->s)
		PQfinish(p->s);
	if (p->db) {
		sodium_memzero(p->db, strlen(p->db));
		free(p->db);
	}
	pthread_mutex_destroy(&p->smu);
	drop_puts(p);
	cv_buf_free(&p->data);
	free(p->puts);
	pthread_mutex_destroy(&p->rmu);
	free(p);
}

cv_err
audit_pg_open(struct cv_audit *a, const char *db, const char *vault_id,
    int readonly)
{
	struct audit_pg *p;
	PGresult *res = NULL;
	unsigned found = 0;
	cv_err r;

	if ((p = calloc(1, sizeof *p)) == NULL)
		return CV_ERR_NOMEM;
	pthread_mutex_init(&p->rmu, NULL);
	pthread_mutex_init(&p->smu, NULL);
	if ((p->db = strdup(db)) == NULL) {
		r = CV_ERR_NOMEM;
		goto out;
	}
	snprintf(p->key, sizeof p->key, "%lld",
	    (long long)cv_store_pg_lock_key("audit log", vault_id));
	if ((r = audit_pg_connect(db, readonly, &p->w)) != CV_OK ||
	    (r = audit_pg_connect(db, readonly, &p->r)) != CV_OK)
		goto out;
	/* Named apart from the store's, for whoever watches the sessions
	 * (pg_stat_activity). */
	res = PQexec(p->w, "SET application_name = 'clearvault audit'");
	PQclear(res);
	res = PQexec(p->r, "SET application_name = 'clearvault audit'");
	PQclear(res);
	res = PQexec(p->w, "SELECT name, obj FROM cv_audit_files");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		r = audit_pg_fail(p->w, res, "open the %s", "log (cv_audit_files)");
		goto out;
	}
	for (int i = 0; i < PQntuples(res); i++) {
		const char *name = PQgetvalue(res, i, 0);
		char nb[16];
		for (unsigned h = 0; h < AUDIT_PG_FILES; h++) {
			/* (checkpoints.2 once staging is set up:
			 * stage_pg.c) */
			if ((strcmp(name, file_name(h, nb, sizeof nb)) == 0 ||
			    (h == AUDIT_PG_CKPT &&
			    strcmp(name, "checkpoints.2") == 0)) &&
			    !p->oid[h][0]) {
				snprintf(p->oid[h], sizeof p->oid[h], "%s",
				    PQgetvalue(res, i, 1));
				found++;
			}
		}
	}
	if (found != AUDIT_PG_FILES) {
		r = cv_fail(CV_ERR_FORMAT, "audit log in PostgreSQL: "
		    "cv_audit_files names %u of the log's %u large objects",
		    found, AUDIT_PG_FILES);
		goto out;
	}
	a->pg = p;
	p = NULL;
	/* The staging objects (stage_pg.c), made by the first node. */
	if (!readonly && (r = audit_pg_stage_setup(a)) != CV_OK) {
		p = a->pg;
		a->pg = NULL;
	}
 out:
	PQclear(res);
	audit_pg_close(p);
	return r;
}

cv_err
audit_pg_create(const char *db)
{
	static const char sql[] =
	    "BEGIN;"
	    "CREATE TABLE cv_audit_files(name TEXT PRIMARY KEY,"
	    " obj OID NOT NULL UNIQUE, mtime_us BIGINT NOT NULL DEFAULT 0);"
	    "INSERT INTO cv_audit_files(name, obj)"
	    " SELECT n, lo_create(0) FROM unnest(ARRAY['entries', 'offsets',"
	    " 'checkpoints']) AS n"
	    " UNION ALL SELECT 'tree/' || l, lo_create(0)"
	    " FROM generate_series(0, 63) AS l;"
	    "COMMIT";
	PGconn *c = NULL;
	PGresult *res;
	cv_err r;

	if ((r = audit_pg_connect(db, 0, &c)) != CV_OK)
		return r;
	res = PQexec(c, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		r = st && strcmp(st, "42P07") == 0 ? cv_fail(CV_ERR_EXISTS,
		    "audit log in PostgreSQL: the database has one already") :
		    audit_pg_fail(c, res, "%s", "create the log");
	}
	PQclear(res);
	PQfinish(c);
	return r;
}
