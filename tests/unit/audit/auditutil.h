/*
 * The audit log's unit tests' shared fixture: a vault with its log (in
 * files, or in the PostgreSQL at DB), a handle on it, faults switched
 * by a file, and one value read straight from the database. Static, as
 * pgutil.h is: each test is one file.
 */
#ifndef CV_AUDITUTIL_H
#define CV_AUDITUTIL_H

#include <libpq-fe.h>

#include "core/core.h"
#include "audit/audit.h"
#include "../testutil.h"

static const char *dir;
static struct cv_vault *v;
static struct cv_audit *a;
static char target[700];	/* the PostgreSQL run's URI */
static const char *db;		/* NULL: the files run */

static char fault_file[700];

/* Fault NAME fires while the file exists (a count would be spent by the
 * first group: the count is the process's). */
static void
fault_on(const char *name)
{
	char spec[800];
	FILE *f;

	snprintf(fault_file, sizeof fault_file, "%s/../fault", dir);
	assert_non_null(f = fopen(fault_file, "w"));
	fclose(f);
	snprintf(spec, sizeof spec, "%s:@%s", name, fault_file);
	setenv("CLEARVAULT_FAULT", spec, 1);
}

static void
fault_off(void)
{
	unsetenv("CLEARVAULT_FAULT");
	unlink(fault_file);
}

/* A new vault with its log at DB, and a handle A on it (no mover
 * thread until something is submitted). 0, or -1 on any failure. */
static int
audit_fixture_up(void)
{
	struct cv_vault_init_opts o = { .db = db };

	dir = test_vault_dir();
	if (cv_vault_init(dir, &o) != CV_OK ||
	    cv_audit_create(dir, db) != CV_OK ||
	    cv_vault_open(dir, &v) != CV_OK ||
	    cv_core_audit_open(v, 0, &a) != CV_OK)
		return -1;
	return 0;
}

/* A's log checkpointed, and verified: ENTRIES of them. */
static void
assert_log_verifies(uint64_t entries)
{
	struct cv_audit_report rep;

	assert_int_equal(cv_audit_checkpoint(a, NULL), CV_OK);
	assert_int_equal(cv_audit_verify(a, NULL, NULL, 0, &rep), CV_OK);
	assert_int_equal(rep.entries, entries);
}

static void
audit_fixture_down(void)
{
	cv_audit_close(a);
	cv_vault_close(v);
	test_rm_rf(dir);
}

/* One value of SQL on the PostgreSQL run's database, in binary: its
 * bytes into OUT (a fresh buffer, caller frees). */
static size_t
pg_value(const char *sql, uint8_t **out)
{
	PGconn *c = PQconnectdb(target);
	PGresult *res;
	size_t n;

	assert_int_equal(PQstatus(c), CONNECTION_OK);
	res = PQexecParams(c, sql, 0, NULL, NULL, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	n = (size_t)PQgetlength(res, 0, 0);
	assert_non_null(*out = malloc(n + 1));
	memcpy(*out, PQgetvalue(res, 0, 0), n);
	PQclear(res);
	PQfinish(c);
	return n;
}

#endif
