/*
 * Private to the audit module's PostgreSQL files (io_pg.c: the log's files
 * as large objects; stage_pg.c: entries staged per node before they are
 * moved into them).
 */
#ifndef CV_AUDIT_PG_INTERNAL_H
#define CV_AUDIT_PG_INTERNAL_H

#include <libpq-fe.h>

#include "audit_internal.h"

/* Large object modes (libpq/libpq-fs.h). */
#define INV_WRITE "131072"
#define INV_READ "262144"
/* How long a writer waits for another node's batch or checkpoint. */
#define LOCK_WAIT_S 30.0

/* A write kept for the COMMIT. */
struct put {
	unsigned h;
	uint64_t off;
	size_t at, len;		/* its bytes in the handle's `data` */
};

struct audit_pg {
	PGconn *w, *r;
	pthread_mutex_t rmu;	/* R's */
	/* S: staging's (stage_pg.c), opened at its first use, under smu;
	 * DB: the connection string it is opened with */
	PGconn *s;
	int s_prepared;		/* S has its INSERT (stage_pg.c) */
	int s_lost;		/* S lost it in a transaction: check S */
	pthread_mutex_t smu;
	char *db;
	char oid[AUDIT_PG_FILES][16];	/* decimal, as parameters */
	char key[24];		/* the advisory lock's, decimal */
	/* Under the lock (a->io): writes not yet sent, and the size of
	 * `offsets` the lock's statement read (until a write to it). */
	struct put *puts;
	size_t nputs, cap;
	struct cv_buf data;
	uint64_t offsets_size;
	int offsets_known;
};

/* CV_ERR_IO: "cannot " FMT (with ARG), and RES's primary message (or
 * C's), without the newline. */
cv_err audit_pg_fail(PGconn *c, const PGresult *res, const char *fmt,
    const char *arg);
/* A new connection to DB (read-only: a standby's is enough). */
cv_err audit_pg_connect(const char *db, int readonly, PGconn **out)
    CV_MUST_CHECK;

#endif
