/*
 * The PostgreSQL driver's connection (db_pg.c has its statements): the
 * target's checks before and after connecting, the session's settings,
 * and a new vault's database.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../base/base.h"
#include "db_pg_internal.h"
#include "store.h"

/* Notices ("relation exists, skipping") are not for the operator's
 * terminal: libpq's default prints them to stderr. */
static void
quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

void
pgdb_close(struct cv_db *db)
{
	struct pg_db *d = to_db(db);

	if (d == NULL)
		return;
	/* The server drops a session's statements with the session. */
	pgdb_drop((struct pg_stmt *)d->epoch);
	pgdb_drop((struct pg_stmt *)d->lastval);
	pgdb_copy_free(d->copy);
	PQfinish(d->c);
	free(d);
}

/* OPT's value in a parsed conninfo, NULL when not given. */
static const char *
option(const PQconninfoOption *o, const char *key)
{
	for (; o && o->keyword; o++) {
		if (strcmp(o->keyword, key) == 0)
			return o->val && *o->val ? o->val : NULL;
	}
	return NULL;
}

/* Whether HOSTS (libpq's comma-separated list) are all Unix sockets. */
static int
sockets_only(const char *hosts)
{
	const char *h = hosts;

	/* No host: libpq's default, the socket in /var/run/postgresql
	 * (unless PGHOST says otherwise: checked again once connected). */
	if (h == NULL)
		return 1;
	for (;;) {
		if (*h != '/' && *h != '@')
			return 0;
		if ((h = strchr(h, ',')) == NULL)
			return 1;
		h++;
	}
}

/*
 * The rule, before any byte goes out: a Unix socket (peer
 * authentication) or TLS that verifies the server, and never a password
 * in the target (a password would live in clearvault.conf).
 */
static cv_err
check_target(const char *target)
{
	static const char *const secrets[] = { "password", "passfile",
	    "sslpassword" };
	PQconninfoOption *o;
	char *msg = NULL;
	const char *mode;
	cv_err r = CV_OK;

	if ((o = PQconninfoParse(target, &msg)) == NULL) {
		r = cv_fail(CV_ERR_STORE, "bad database target: %s",
		    msg ? msg : "out of memory");
		PQfreemem(msg);
		return r;
	}
	for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
		if (option(o, secrets[i])) {
			r = cv_fail(CV_ERR_STORE, "the database target gives a "
			    "%s: clearvault connects with a TLS client "
			    "certificate or on a Unix socket with peer "
			    "authentication, never with a password", secrets[i]);
			goto out;
		}
	}
	mode = option(o, "sslmode");
	if ((option(o, "hostaddr") || !sockets_only(option(o, "host"))) &&
	    (mode == NULL || strcmp(mode, "verify-full") != 0))
		r = cv_fail(CV_ERR_STORE, "the database target is not a Unix "
		    "socket, so it needs sslmode=verify-full (TLS that checks "
		    "the server's name) and a client certificate "
		    "(sslcert, sslkey)");
 out:
	PQconninfoFree(o);
	return r;
}

/* Once connected: what the server and the environment made of it. */
static cv_err
check_link(struct pg_db *d, const char *target)
{
	const char *host = PQhost(d->c), *mode;
	PQconninfoOption *o;
	PGresult *res;
	int cert, verified = 0;

	if (PQconnectionUsedPassword(d->c))
		return cv_fail(CV_ERR_STORE, "%s asked for a password (from "
		    "PGPASSWORD or ~/.pgpass): clearvault connects with a TLS "
		    "client certificate or on a Unix socket with peer "
		    "authentication only", target);
	if (host && (host[0] == '/' || host[0] == '@'))
		return CV_OK;
	/* PGHOST and PGSSLMODE may have made it TCP, or less than
	 * verify-full, behind check_target's back. */
	if ((o = PQconninfo(d->c)) != NULL)
		verified = (mode = option(o, "sslmode")) != NULL &&
		    strcmp(mode, "verify-full") == 0;
	PQconninfoFree(o);
	if (!PQsslInUse(d->c) || !verified)
		return cv_fail(CV_ERR_STORE, "the connection to %s is not TLS "
		    "with sslmode=verify-full", target);
	/* Whether the server saw a client certificate: its own view. */
	res = PQexec(d->c, "SELECT client_dn IS NOT NULL FROM pg_stat_ssl"
	    " WHERE pid = pg_backend_pid()");
	cert = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	    strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!cert)
		return cv_fail(CV_ERR_STORE, "the connection to %s presents no "
		    "client certificate (sslcert, sslkey)", target);
	return CV_OK;
}

/*
 * What cv_store_epoch's DATA counts (see pg_epoch): one row, bumped by a
 * statement trigger on each table that carries cv_epoch_bump (the
 * store's PostgreSQL schema puts it on users, certs and the case
 * tables), which also tells
 * the listeners on channel cv_epoch at the commit. Made with a new
 * database, before the store's tables.
 */
#define EPOCH_BUMP \
    " FUNCTION cv_epoch_bump() RETURNS trigger LANGUAGE plpgsql AS" \
    " $$BEGIN UPDATE cv_epoch SET n = n + 1;" \
    " PERFORM pg_notify('cv_epoch', ''); RETURN NULL; END$$"
static const char epoch_schema[] =
    "CREATE TABLE cv_epoch(one INTEGER PRIMARY KEY CHECK (one = 1),"
    " n BIGINT NOT NULL);"
    "INSERT INTO cv_epoch VALUES (1, 0);"
    "CREATE" EPOCH_BUMP;
/* The NOTIFY tells the epoch's watchers (db_pg_follow.c) at the commit;
 * a database made before it had none and is given it by the first. */
const char pgdb_epoch_bump[] = "CREATE OR REPLACE" EPOCH_BUMP;

/* CV_DB_CREATE: a new vault wants a database with nothing in it. */
static cv_err
create(struct pg_db *d, const char *target)
{
	PGresult *res;
	int empty;

	res = PQexec(d->c, "SELECT count(*) FROM pg_catalog.pg_class c JOIN"
	    " pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	    " WHERE n.nspname = current_schema()");
	empty = PQresultStatus(res) == PGRES_TUPLES_OK &&
	    PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "0") == 0;
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		pgdb_result_err(d, res);
	PQclear(res);
	if (d->err[0])
		return cv_fail(CV_ERR_STORE, "cannot open %s: %s", target,
		    d->err);
	if (!empty)
		return cv_fail(CV_ERR_EXISTS, "the database of %s is not empty;"
		    " refusing to touch it", target);
	if (pgdb_simple(d, epoch_schema) != CV_OK)
		return cv_fail(CV_ERR_STORE, "cannot open %s: %s", target,
		    d->err);
	return CV_OK;
}

/* lock_timeout in milliseconds for BUSY_SECONDS: never 0, which would
 * mean forever. */
static long
lock_ms(double busy_seconds)
{
	long ms = busy_seconds <= 0 ? 1 : busy_seconds > 86400 ? 86400000 :
	    (long)(busy_seconds * 1000);

	return ms > 0 ? ms : 1;
}

cv_err
pgdb_open(const char *target, unsigned flags, double busy_seconds,
    struct cv_db **out)
{
	/* The target last: what it says wins over these defaults. */
	const char *const keys[] = { "connect_timeout", "application_name",
	    "client_encoding", "dbname", NULL };
	const char *vals[] = { "10", "clearvault", "UTF8", target, NULL };
	struct pg_db *d = NULL;
	char set[320];
	long ms;
	cv_err r;

	*out = NULL;
	if ((r = check_target(target)) != CV_OK)
		return r;
	if ((d = calloc(1, sizeof *d)) == NULL)
		return CV_ERR_NOMEM;
	d->base.ops = &cv_db_postgresql;
	d->begun_epoch = -1;
	if ((d->c = PQconnectdbParams(keys, vals, 1)) == NULL) {
		r = CV_ERR_NOMEM;
		goto out;
	}
	if (PQstatus(d->c) != CONNECTION_OK) {
		pgdb_set_err(d, PQerrorMessage(d->c));
		r = cv_fail(CV_ERR_STORE, "cannot open %s: %s", target, d->err);
		goto out;
	}
	PQsetNoticeProcessor(d->c, quiet, NULL);
	if ((r = check_link(d, target)) != CV_OK)
		goto out;
	/* lock_timeout bounds every wait for a lock, the write lock of
	 * begin IMMEDIATE included; 0 would mean forever. */
	ms = lock_ms(busy_seconds);
	/* READ COMMITTED whatever the database's default: the shared
	 * guard's functions decide by what each statement sees after its
	 * locks (they refuse to run otherwise). */
	d->lock_ms = ms;
	d->readonly = (flags & CV_DB_READONLY) != 0;
	snprintf(set, sizeof set, "SET client_min_messages = error;"
	    " SET lock_timeout = %ld; SET synchronous_commit = on;"
	    " SET default_transaction_isolation = 'read committed';"
	    " SET default_transaction_read_only = %s", d->lock_ms,
	    d->readonly ? "on" : "off");
	if (pgdb_simple(d, set) != CV_OK) {
		r = cv_fail(CV_ERR_STORE, "cannot open %s: %s", target, d->err);
		goto out;
	}
	if ((flags & CV_DB_CREATE) && (r = create(d, target)) != CV_OK)
		goto out;
	*out = &d->base;
	d = NULL; /* transferred */
	r = CV_OK;
 out:
	pgdb_close(d ? &d->base : NULL);
	return r;
}


cv_err
cv_store_pg_connect(const char *target, int readonly, double busy_seconds,
    struct pg_conn **out)
{
	struct cv_db *db;
	struct pg_db *d;
	cv_err r;

	*out = NULL;
	if ((r = pgdb_open(target, readonly ? CV_DB_READONLY : 0,
	    busy_seconds, &db)) != CV_OK)
		return r;
	/* The checked connection without the driver around it. */
	d = to_db(db);
	*out = d->c;
	d->c = NULL;
	pgdb_close(db);
	return CV_OK;
}

cv_err
pgdb_intact(PGconn *c, int readonly, long want_ms, char *err, size_t errlen)
{
	char ms[32];
	const char *v[2] = { readonly ? "on" : "off", ms };
	PGresult *res;
	int ok;

	snprintf(ms, sizeof ms, "%ldms", want_ms);
	res = PQexecParams(c, "SELECT current_setting('synchronous_commit') ="
	    " 'on' AND current_setting('default_transaction_isolation') ="
	    " 'read committed' AND"
	    " current_setting('default_transaction_read_only') = $1 AND"
	    " current_setting('lock_timeout')::interval = $2::interval", 2,
	    NULL, v, NULL, NULL, 0);
	ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	    strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!ok)
		snprintf(err, errlen, "the connection's settings were reset "
		    "(a DISCARD ALL?) or cannot be read: nothing more runs on "
		    "it until it is made again");
	return ok ? CV_OK : CV_ERR_STORE;
}

cv_err
cv_store_pg_intact(struct pg_conn *c, int readonly, double busy_seconds)
{
	char err[200];

	if (pgdb_intact((PGconn *)c, readonly, lock_ms(busy_seconds), err,
	    sizeof err) != CV_OK)
		return cv_fail(CV_ERR_STORE, "%s", err);
	return CV_OK;
}

int64_t
cv_store_pg_lock_key(const char *purpose, const char *vault_id)
{
	uint8_t h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_state st;
	uint64_t k = 0;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)"clearvault ", 11);
	crypto_hash_sha256_update(&st, (const uint8_t *)purpose,
	    strlen(purpose) + 1);
	crypto_hash_sha256_update(&st, (const uint8_t *)vault_id,
	    strlen(vault_id));
	crypto_hash_sha256_final(&st, h);
	for (int i = 0; i < 8; i++)
		k = k << 8 | h[i];
	return (int64_t)(k >> 1);
}
