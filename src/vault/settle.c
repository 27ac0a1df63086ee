/*
 * Loads that did not finish: the lock that keeps loads one at a time, and
 * settling what a killed load left. A load is on the log before it
 * commits (CV_LOAD_BEGIN) and its outcome after; a process killed in
 * between leaves a load whose outcome nobody wrote, committed or not.
 * The next open finds it (loads.audited = 0) and writes the outcome.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "vault_internal.h"

/* Rows removed per transaction when a load is rolled back: the write
 * lock is held for a few milliseconds at a time. */
#define DISCARD_BATCH 2000
#define SETTLE_MAX 16

cv_err
vault_lock(struct cv_vault *v, double wait)
{
	char path[1100];
	double t0 = cv_now();
	int fd;
	cv_err r;

	if (v->lock_fd >= 0)
		return CV_OK;
	if ((r = cv_path(path, sizeof path, "%s/%s", v->dir,
	    CV_LOAD_LOCK_FILE)) != CV_OK)
		return r;
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return cv_fail(CV_ERR_IO, "%s: %s", path, strerror(errno));
	while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			r = cv_fail(CV_ERR_IO, "%s: %s", path, strerror(errno));
			close(fd);
			return r;
		}
		if (cv_now() - t0 >= wait) {
			close(fd);
			return cv_fail(CV_ERR_LIMIT, "another load or a key "
			    "rotation is running on this vault; one at a time: "
			    "try again when it has finished");
		}
		nanosleep(&(struct timespec){ .tv_nsec = 50000000 }, NULL);
	}
	v->lock_fd = fd;
	return CV_OK;
}

void
vault_unlock(struct cv_vault *v)
{
	if (v->lock_fd < 0)
		return;
	close(v->lock_fd);	/* releases the flock */
	v->lock_fd = -1;
}

cv_err
vault_load_discard(struct cv_vault *v, int64_t id)
{
	size_t n;
	cv_err r;

	do {
		if ((r = cv_store_begin(v->store)) != CV_OK)
			return r;
		if ((r = cv_store_load_discard(v->store, id, DISCARD_BATCH,
		    &n)) != CV_OK ||
		    (n == 0 && (r = cv_store_load_void(v->store, id,
		    cv_time_us())) != CV_OK) ||
		    (r = cv_store_commit(v->store)) != CV_OK) {
			cv_store_rollback(v->store);
			return r;
		}
	} while (n > 0);
	return CV_OK;
}

static void
info_of(const struct cv_store_load *l, struct cv_load_info *li)
{
	memset(li, 0, sizeof *li);
	li->id = l->id;
	li->committed = l->state == CV_STORE_LOAD_DONE;
	memcpy(li->digest, l->digest, sizeof li->digest);
	li->bytes = (uint64_t)l->bytes;
	li->records = (uint64_t)l->records;
	li->versions = (uint64_t)l->versions;
	li->canaries = (uint64_t)l->canaries;
	li->started_us = l->started_us;
	li->decided_us = l->decided_us;
}

cv_err
vault_settle(struct cv_vault *v, cv_load_audit_fn *fn, void *ctx)
{
	struct cv_store_load l[SETTLE_MAX];
	struct cv_load_info li;
	size_t n;
	cv_err r;

	/* Each round marks what it saw, so the next one sees the rest. */
	do {
		if ((r = cv_store_load_unsettled(v->store, l, SETTLE_MAX,
		    &n)) != CV_OK)
			return r;
		for (size_t i = 0; i < n; i++) {
			/* Holding the lock, an open load is a dead one. */
			if (l[i].state == CV_STORE_LOAD_OPEN) {
				if ((r = vault_load_discard(v, l[i].id)) !=
				    CV_OK)
					return r;
				l[i].state = CV_STORE_LOAD_VOID;
				l[i].decided_us = cv_time_us();
			}
			info_of(&l[i], &li);
			if ((fn && (r = fn(ctx, CV_LOAD_SETTLED, &li)) !=
			    CV_OK) ||
			    (r = cv_store_load_audited(v->store, l[i].id)) !=
			    CV_OK)
				return r;
		}
	} while (n == SETTLE_MAX);
	return CV_OK;
}

cv_err
cv_vault_loads_settle(struct cv_vault *v, cv_load_audit_fn *fn, void *ctx)
{
	struct cv_store_load l;
	size_t n;
	cv_err r;

	/* The common case costs one query of a small table, no file. */
	if ((r = cv_store_load_unsettled(v->store, &l, 1, &n)) != CV_OK ||
	    n == 0)
		return r;
	if ((r = vault_lock(v, 0)) == CV_ERR_LIMIT) {
		/* A load is running: it settles the dead ones itself. */
		cv_err_clear();
		return CV_OK;
	}
	if (r != CV_OK)
		return r;
	r = vault_settle(v, fn, ctx);
	vault_unlock(v);
	return r;
}

cv_err
cv_vault_load_audited(struct cv_vault *v, int64_t load)
{
	cv_err r = CV_OK;

	if (load > 0)
		r = cv_store_load_audited(v->store, load);
	vault_unlock(v);
	return r;
}
