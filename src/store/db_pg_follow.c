/*
 * The epoch's watcher (db.h follow_new) on PostgreSQL: one connection
 * that LISTENs on channel cv_epoch, whose trigger (db_pg_open.c) sends a
 * notice with every commit that moves the counter, and a thread that
 * reads the counter again when one arrives, or after a quarter of a
 * second in any case. The connections given it then answer epoch outside
 * a transaction from memory: a server's request that used to ask the
 * counter first (its certificate's memo, users.c) sends one statement
 * less.
 *
 * What it may get wrong is only late, never early: between a commit and
 * the watcher's next read the old value stands, as it would for a
 * statement sent just before that commit; when a notice arrives the
 * value is withdrawn (-1) before the counter is read again, so the
 * connections ask for themselves meanwhile. If its connection fails, it
 * withdraws the value for good and stops.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../base/base.h"
#include "db_pg_internal.h"

/* Asked again this often whatever arrives: a lost notice (a database
 * whose trigger could not be given the NOTIFY) costs this much, well
 * within the second in which a revoked certificate must be refused. */
#define FOLLOW_POLL_MS 250

struct pg_follow {
	struct cv_db_follow base;	/* first */
	struct cv_db *db;		/* its own connection */
	pthread_t th;
	int started;
	int wake[2];		/* a byte on wake[1]: stop */
	int64_t epoch;		/* atomic; -1: ask for yourself */
};

int64_t
pgdb_followed(const struct pg_follow *f)
{
	return __atomic_load_n(&f->epoch, __ATOMIC_ACQUIRE);
}

static void
withdraw(struct pg_follow *f)
{
	__atomic_store_n(&f->epoch, -1, __ATOMIC_RELEASE);
}

static cv_err
reread(struct pg_follow *f)
{
	struct pg_db *d = to_db(f->db);
	PGresult *res = PQexec(d->c, "SELECT n FROM cv_epoch");
	cv_err r = CV_ERR_STORE;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
		__atomic_store_n(&f->epoch, strtoll(PQgetvalue(res, 0, 0),
		    NULL, 10), __ATOMIC_RELEASE);
		r = CV_OK;
	}
	PQclear(res);
	return r;
}

/* Frees the notices that came; whether any did. */
static int
drain(PGconn *c)
{
	PGnotify *n;
	int any = 0;

	while ((n = PQnotifies(c)) != NULL) {
		PQfreemem(n);
		any = 1;
	}
	return any;
}

static void *
watch(void *arg)
{
	struct pg_follow *f = arg;
	PGconn *c = to_db(f->db)->c;
	struct pollfd p[2] = { { .fd = PQsocket(c), .events = POLLIN },
	    { .fd = f->wake[0], .events = POLLIN } };

	while (reread(f) == CV_OK) {
		/* A notice read with the answer may be of a commit after
		 * its snapshot: read again. */
		if (drain(c)) {
			withdraw(f);
			continue;
		}
		if (poll(p, 2, FOLLOW_POLL_MS) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (p[0].revents == 0)
			continue;
		if (!PQconsumeInput(c))
			break;
		if (drain(c))
			withdraw(f);
	}
	withdraw(f);
	return NULL;
}

/* A database made before the trigger sent its notice gets it now; when
 * that fails (the role may not replace the function) the watcher still
 * reads the counter every FOLLOW_POLL_MS. */
static void
upgrade(struct pg_db *d)
{
	PGresult *res = PQexec(d->c, "SELECT position('pg_notify' IN prosrc)"
	    " = 0 FROM pg_proc WHERE proname = 'cv_epoch_bump' AND"
	    " pronamespace = current_schema()::regnamespace");
	int old = PQresultStatus(res) == PGRES_TUPLES_OK &&
	    PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';

	PQclear(res);
	if (!old)
		return;
	/* Two nodes starting at once replace it one after the other. */
	if (pgdb_simple(d, "BEGIN; SELECT pg_advisory_xact_lock("
	    "hashtext('cv_epoch_bump'))") == CV_OK &&
	    pgdb_simple(d, pgdb_epoch_bump) == CV_OK)
		(void)pgdb_simple(d, "COMMIT");
	else
		(void)pgdb_simple(d, "ROLLBACK");
}

cv_err
pgdb_follow_new(const char *target, double busy_seconds,
    struct cv_db_follow **out)
{
	struct pg_follow *f;
	struct pg_db *d;
	cv_err r;

	*out = NULL;
	if ((f = calloc(1, sizeof *f)) == NULL)
		return CV_ERR_NOMEM;
	f->base.ops = &cv_db_postgresql;
	f->wake[0] = f->wake[1] = -1;
	f->epoch = -1;
	if ((r = pgdb_open(target, 0, busy_seconds, &f->db)) != CV_OK)
		goto out;
	d = to_db(f->db);
	upgrade(d);
	if (pgdb_simple(d, "SET application_name = 'clearvault epoch';"
	    " LISTEN cv_epoch") != CV_OK) {
		r = cv_fail(CV_ERR_STORE, "cannot watch %s: %s", target,
		    d->err);
		goto out;
	}
	if (pipe2(f->wake, O_CLOEXEC) != 0) {
		r = cv_fail(CV_ERR_IO, "cannot watch %s: pipe: %s", target,
		    strerror(errno));
		goto out;
	}
	if (reread(f) != CV_OK) {
		r = cv_fail(CV_ERR_STORE, "cannot watch %s: %s", target,
		    PQerrorMessage(d->c));
		goto out;
	}
	if (pthread_create(&f->th, NULL, watch, f) != 0) {
		r = cv_fail(CV_ERR_NOMEM, "cannot watch %s: no thread",
		    target);
		goto out;
	}
	f->started = 1;
	*out = &f->base;
	f = NULL;	/* the caller's */
	r = CV_OK;
 out:
	pgdb_follow_free(f ? &f->base : NULL);
	return r;
}

void
pgdb_follow_free(struct cv_db_follow *base)
{
	struct pg_follow *f = (struct pg_follow *)base;

	if (f == NULL)
		return;
	if (f->started) {
		(void)!write(f->wake[1], "", 1);
		pthread_join(f->th, NULL);
	}
	if (f->wake[0] >= 0)
		close(f->wake[0]);
	if (f->wake[1] >= 0)
		close(f->wake[1]);
	pgdb_close(f->db);
	free(f);
}

void
pgdb_follow_use(struct cv_db *db, struct cv_db_follow *f)
{
	to_db(db)->follow = (struct pg_follow *)f;
}
