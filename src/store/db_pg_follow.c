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
 * What it may get wrong is only late, never early, and boundedly so:
 * - a value is used for FOLLOW_FRESH_US after it was read at most: a
 *   watcher whose connection hangs (a stopped backend, a half-open TCP
 *   link) goes stale and the connections ask for themselves;
 * - a notice withdraws the value (-1) before the counter is read again,
 *   so a commit elsewhere is missed for the notice's travel time only,
 *   as it would be by a statement sent a moment earlier;
 * - a commit to the watched tables in this process (cv_store_follow_moved:
 *   a revocation through the API) withdraws it until a read that began
 *   after it, so no other request of this process is answered from
 *   before it;
 * - if its connection fails it withdraws the value for good and stops.
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
/* A value older than this is not used (two polls missed). */
#define FOLLOW_FRESH_US 500000
/* A read of the counter that takes longer stops the watcher. */
#define FOLLOW_DEADLINE_MS 2000

struct pg_follow {
	struct cv_db_follow base;	/* first */
	struct cv_db *db;		/* its own connection */
	pthread_t th;
	int started;
	int wake[2];		/* a byte on wake[1]: look at stop and moved */
	/* Atomics. */
	int stop;
	int64_t epoch;		/* -1: ask for yourself */
	int64_t read_us;	/* when EPOCH was read (monotonic) */
	uint64_t moved;		/* commits here to the watched tables */
	uint64_t moved_seen;	/* MOVED as it was when EPOCH's read began */
};

int64_t
pgdb_followed(const struct pg_follow *f)
{
	uint64_t m = __atomic_load_n(&f->moved, __ATOMIC_ACQUIRE);
	uint64_t seen = __atomic_load_n(&f->moved_seen, __ATOMIC_ACQUIRE);
	int64_t at = __atomic_load_n(&f->read_us, __ATOMIC_ACQUIRE);
	int64_t e = __atomic_load_n(&f->epoch, __ATOMIC_ACQUIRE);

	if (e < 0 || m != seen || cv_now_us() - at > FOLLOW_FRESH_US)
		return -1;
	return e;
}

static void
withdraw(struct pg_follow *f)
{
	__atomic_store_n(&f->epoch, -1, __ATOMIC_RELEASE);
}

/* Empties the wake pipe: 1 if the watcher is to stop. */
static int
woken(struct pg_follow *f)
{
	char b[64];

	while (read(f->wake[0], b, sizeof b) > 0)
		;
	return __atomic_load_n(&f->stop, __ATOMIC_ACQUIRE);
}

/*
 * Reads the counter and publishes it (its time, and MOVED as it was
 * before the read began); a notice that came with the answer may be of a
 * commit after its snapshot: *AGAIN. CV_ERR_STORE when the connection
 * fails or the answer takes FOLLOW_DEADLINE_MS, CV_ERR_INVALID when told
 * to stop meanwhile.
 */
static cv_err
reread(struct pg_follow *f, int *again)
{
	PGconn *c = to_db(f->db)->c;
	uint64_t m = __atomic_load_n(&f->moved, __ATOMIC_ACQUIRE);
	/* The epoch is as of the question, not of the answer, which may
	 * come up to the deadline later: its age counts from here. */
	int64_t asked = cv_now_us();
	int64_t until = asked + FOLLOW_DEADLINE_MS * 1000LL, n = -1, left;
	struct pollfd p[2] = { { .fd = PQsocket(c), .events = POLLIN },
	    { .fd = f->wake[0], .events = POLLIN } };
	PGresult *res;
	PGnotify *nt;

	*again = 0;
	if (!PQsendQuery(c, "SELECT n FROM cv_epoch"))
		return CV_ERR_STORE;
	while (PQisBusy(c)) {
		if ((left = until - cv_now_us()) <= 0)
			return CV_ERR_STORE;
		if (poll(p, 2, (int)(left / 1000) + 1) < 0 && errno != EINTR)
			return CV_ERR_STORE;
		if (p[1].revents && woken(f))
			return CV_ERR_INVALID;
		if (p[0].revents && !PQconsumeInput(c))
			return CV_ERR_STORE;
	}
	while ((res = PQgetResult(c)) != NULL) {
		if (PQresultStatus(res) == PGRES_TUPLES_OK &&
		    PQntuples(res) == 1)
			n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
	}
	while ((nt = PQnotifies(c)) != NULL) {
		PQfreemem(nt);
		*again = 1;
	}
	if (n < 0)
		return CV_ERR_STORE;
	__atomic_store_n(&f->epoch, n, __ATOMIC_RELEASE);
	__atomic_store_n(&f->read_us, asked, __ATOMIC_RELEASE);
	__atomic_store_n(&f->moved_seen, m, __ATOMIC_RELEASE);
	return CV_OK;
}

static void *
watch(void *arg)
{
	struct pg_follow *f = arg;
	PGconn *c = to_db(f->db)->c;
	struct pollfd p[2] = { { .fd = PQsocket(c), .events = POLLIN },
	    { .fd = f->wake[0], .events = POLLIN } };
	PGnotify *nt;
	int again;

	while (reread(f, &again) == CV_OK) {
		if (again) {
			withdraw(f);
			continue;
		}
		if (poll(p, 2, FOLLOW_POLL_MS) < 0 && errno != EINTR)
			break;
		if (p[1].revents && woken(f))
			break;
		if (p[0].revents == 0)
			continue;
		if (!PQconsumeInput(c))
			break;
		while ((nt = PQnotifies(c)) != NULL) {
			PQfreemem(nt);
			withdraw(f);
		}
	}
	withdraw(f);
	return NULL;
}

void
pgdb_follow_moved(struct cv_db_follow *base)
{
	struct pg_follow *f = (struct pg_follow *)base;

	if (f == NULL)
		return;
	__atomic_add_fetch(&f->moved, 1, __ATOMIC_ACQ_REL);
	(void)!write(f->wake[1], "", 1);	/* read again now */
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
	int again;
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
	if (pipe2(f->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		r = cv_fail(CV_ERR_IO, "cannot watch %s: pipe: %s", target,
		    strerror(errno));
		goto out;
	}
	if (reread(f, &again) != CV_OK) {
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
		__atomic_store_n(&f->stop, 1, __ATOMIC_RELEASE);
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
