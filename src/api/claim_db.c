/*
 * The server's claim on a vault whose records are in PostgreSQL (issue
 * 13). The folder's flock (cv_server_claim) stops a second server on one
 * folder; but a copy of the folder on another node shares the database,
 * and the guard's budgets and locks are still each server's memory until
 * they move into PostgreSQL (step 4 of docs/scale-out.md). So, until
 * then, the claim is the database's: a session-level advisory lock on a
 * key of the vault id, held by a connection of its own for as long as
 * the server runs. PostgreSQL drops it with the session, however the
 * process ends (kill -9 included), so nothing left behind blocks a
 * restart. The log itself needs no claim: several writers append to it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "../config/config.h"
#include "../store/store.h"
#include "api_internal.h"

/* This process's claim: a process serves one vault. */
static PGconn *held;

/* Who holds KEY: its application_name ("clearvault serve HOST pid N"). */
static void
holder(PGconn *c, long long key, char *out, size_t size)
{
	char sql[400];
	PGresult *res;

	snprintf(sql, sizeof sql, "SELECT a.application_name FROM pg_locks l"
	    " JOIN pg_stat_activity a ON a.pid = l.pid"
	    " WHERE l.locktype = 'advisory' AND l.granted"
	    " AND l.classid = %lld AND l.objid = %lld AND l.objsubid = 1",
	    (key >> 32) & 0xffffffffLL, key & 0xffffffffLL);
	res = PQexec(c, sql);
	snprintf(out, size, "%s", PQresultStatus(res) == PGRES_TUPLES_OK &&
	    PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "?");
	PQclear(res);
}

cv_err
api_claim_db(const char *dir)
{
	struct cv_config cfg;
	char sql[200], host[64] = "?", who[128];
	long long key;
	PGresult *res;
	PGconn *c = NULL;
	int got;
	cv_err r;

	if ((r = cv_config_load(dir, &cfg)) != CV_OK)
		return r;
	if (!cfg.db[0])
		return CV_OK;
	key = (long long)cv_store_pg_lock_key("serve", cfg.vault_id);
	if ((r = cv_store_pg_connect(cfg.db, 1, 10.0,
	    (struct pg_conn **)&c)) != CV_OK)
		return r;
	/* Named, for the message of the next one refused. */
	(void)gethostname(host, sizeof host - 1);
	host[strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789.-")] = '\0';
	snprintf(who, sizeof who, "clearvault serve %s pid %ld", host,
	    (long)getpid());
	snprintf(sql, sizeof sql, "SET application_name = '%s'", who);
	res = PQexec(c, sql);
	PQclear(res);
	snprintf(sql, sizeof sql, "SELECT pg_try_advisory_lock(%lld)", key);
	res = PQexec(c, sql);
	got = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	    strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		r = cv_fail(CV_ERR_STORE, "cannot claim the vault's database: "
		    "%s", PQerrorMessage(c));
	PQclear(res);
	if (r == CV_OK && !got) {
		holder(c, key, who, sizeof who);
		r = cv_fail(CV_ERR_EXISTS, "another clearvault serve (%s) is "
		    "running on this vault's database: one server per vault "
		    "until the guard's counts are in PostgreSQL", who);
	}
	if (r != CV_OK) {
		PQfinish(c);
		return r;
	}
	held = c;
	return CV_OK;
}

void
api_unclaim_db(void)
{
	PQfinish(held);
	held = NULL;
}
