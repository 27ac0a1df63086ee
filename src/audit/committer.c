/*
 * Appends that do not wait: the server's worker threads must not sleep
 * through an fsync while other connections are ready, so entries are
 * queued here and one thread writes each queue with one fsync, then tells
 * every submitter. Whatever arrives during a commit goes out in the next
 * one, so batches grow with the load.
 *
 * An fsync costs this kind of machine (a VM, virtio disk) 50-90 us of CPU
 * and two device round trips whatever it carries, so committing each
 * handful of entries the moment it arrives spends most of the CPU of a
 * moderate load on fsyncs. A batch therefore waits for company: until
 * COMMIT_FULL entries are queued, or COMMIT_WINDOW_US has passed since the
 * previous commit began. Under heavy load batches fill at once and nothing
 * waits; an entry arriving after a quiet spell goes at once too; between
 * the two a reply waits at most COMMIT_WINDOW_US more.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "audit_internal.h"

#define COMMIT_FULL 16
#ifdef CV_FUZZ
/* Fuzzing builds (tests/fuzz/fuzz_http.c): one client, one request at a
 * time; no company ever comes, and waiting for it would be most of an
 * input's time. */
#define COMMIT_WINDOW_US 0
#else
#define COMMIT_WINDOW_US 800
#endif

static long
elapsed_us(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - since->tv_sec) * 1000000L +
	    (now.tv_nsec - since->tv_nsec) / 1000;
}

/* Under qmu, with entries queued: wait for the batch to fill. */
static void
wait_for_company(struct cv_audit *a, const struct timespec *last)
{
	struct timespec until = *last;

	until.tv_nsec += COMMIT_WINDOW_US * 1000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	while (a->nwaiters < COMMIT_FULL && !a->committer_stop &&
	    elapsed_us(last) < COMMIT_WINDOW_US) {
		if (pthread_cond_timedwait(&a->qcv, &a->qmu, &until) != 0)
			break;
	}
}

static void *
committer(void *arg)
{
	struct cv_audit *a = arg;
	struct cv_buf batch = { 0 };
	struct audit_waiter *w = NULL;
	uint64_t *ix = NULL;
	size_t n = 0, wcap = 0, ixcap = 0;
	struct timespec last = { 0 };

	(void)pthread_setname_np(pthread_self(), "cv-committer");
	pthread_mutex_lock(&a->qmu);
	for (;;) {
		struct cv_buf tb;
		struct audit_waiter *tw;
		size_t tc;
		cv_err r;

		while (a->nwaiters == 0 && !a->committer_stop)
			pthread_cond_wait(&a->qcv, &a->qmu);
		if (a->nwaiters == 0)
			break;
		wait_for_company(a, &last);
		clock_gettime(CLOCK_MONOTONIC, &last);
		/* Take the queue; leave the (empty) buffers of the last
		 * round for the submitters, so nothing is reallocated. */
		tb = a->queue;
		a->queue = batch;
		a->queue.len = 0;
		batch = tb;
		tw = a->waiters;
		tc = a->waiters_cap;
		a->waiters = w;
		a->waiters_cap = wcap;
		w = tw;
		wcap = tc;
		n = a->nwaiters;
		a->nwaiters = 0;
		pthread_mutex_unlock(&a->qmu);

		/* Checkpoints are the checkpointer's, off this path; but one
		 * that failed fails the batches after it: fail closed. Before
		 * they are written, not after: an entry made durable and then
		 * refused would be counted by scope as data returned. The
		 * failure may be over (the disk is back): tried again first,
		 * rather than refusing on a stale verdict. */
		r = (cv_err)__atomic_load_n(&a->ckpt_err, __ATOMIC_ACQUIRE);
		if (r != CV_OK) {
			r = audit_maybe_checkpoint(a);
			__atomic_store_n(&a->ckpt_err, (int)r,
			    __ATOMIC_RELEASE);
		}
		if (r == CV_OK && n > ixcap) {
			uint64_t *t = realloc(ix, n * sizeof *ix);
			if (t == NULL)
				r = CV_ERR_NOMEM;
			else {
				ix = t;
				ixcap = n;
			}
		}
		if (r == CV_OK)
			r = audit_write_batch(a, batch.p, batch.len, n, ix);
		for (size_t i = 0; i < n; i++)
			w[i].done(w[i].ctx, r, r == CV_OK ? ix[i] : 0);
		if (a->on_batch)
			a->on_batch(a->on_batch_ctx);
		sodium_memzero(batch.p, batch.len);
		batch.len = 0;
		pthread_mutex_lock(&a->qmu);
	}
	pthread_mutex_unlock(&a->qmu);
	cv_buf_free(&batch);
	free(w);
	free(ix);
	return NULL;
}

/* Once a second, a checkpoint if the log grew (the at-most-once-a-second
 * rule of the synchronous path, kept by audit_maybe_checkpoint). */
static void *
checkpointer(void *arg)
{
	struct cv_audit *a = arg;
	struct timespec until;

	(void)pthread_setname_np(pthread_self(), "cv-checkpoint");
	pthread_mutex_lock(&a->qmu);
	while (!a->committer_stop) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		pthread_cond_timedwait(&a->qcv_tick, &a->qmu, &until);
		if (a->committer_stop)
			break;
		pthread_mutex_unlock(&a->qmu);
		__atomic_store_n(&a->ckpt_err, (int)audit_maybe_checkpoint(a),
		    __ATOMIC_RELEASE);
		pthread_mutex_lock(&a->qmu);
	}
	pthread_mutex_unlock(&a->qmu);
	return NULL;
}

/*
 * PostgreSQL: staged entries into the log, unless another node's mover is
 * at it (docs/scale-out.md). The releases do not wait for it; readers that
 * must see everything settle first (cv_audit_settle). Every MOVE_MIN_NS
 * while there is work (again at once only after a full chunk: more was
 * waiting). A round's cost is mostly its own (the lock, the large
 * objects' last pages rewritten, a COMMIT), so fewer, larger rounds cost
 * less: 17 a second at 8,000 reads/s, where rounds back to back were 280
 * (docs/scale-out.md, "What the database spent on a read"). A round
 * that finds none (or finds another node moving) doubles the wait up to
 * MOVE_MAX_NS, so that idle nodes do not spend the database's CPU on
 * empty rounds (four round trips each).
 */
#define MOVE_MIN_NS 50000000L
#define MOVE_MAX_NS 160000000L

static void *
mover(void *arg)
{
	struct cv_audit *a = arg;
	struct timespec until;
	uint64_t hole_at = UINT64_MAX, hole_next = 0;
	double hole_since = 0;
	long wait_ns = MOVE_MIN_NS;
	int busy;

	(void)pthread_setname_np(pthread_self(), "cv-mover");
	pthread_mutex_lock(&a->qmu);
	while (!a->committer_stop) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += wait_ns;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&a->qcv_tick, &a->qmu, &until);
		if (a->committer_stop)
			break;
		pthread_mutex_unlock(&a->qmu);
		/* A failure is the readers' to report, when they settle. */
		if (audit_move_some(a, &hole_since, &hole_at, &hole_next,
		    &busy) != CV_OK) {
			cv_err_clear();
			busy = 0;
		}
		wait_ns = busy ? MOVE_MIN_NS : wait_ns * 2 > MOVE_MAX_NS ?
		    MOVE_MAX_NS : wait_ns * 2;
		pthread_mutex_lock(&a->qmu);
	}
	pthread_mutex_unlock(&a->qmu);
	return NULL;
}

void
cv_audit_on_batch(struct cv_audit *a, void (*fn)(void *), void *ctx)
{
	a->on_batch = fn;
	a->on_batch_ctx = ctx;
}

cv_err
cv_audit_submit(struct cv_audit *a, const struct cv_audit_entry *e,
    cv_audit_done_fn *done, void *ctx)
{
	size_t at;
	cv_err r;

	pthread_mutex_lock(&a->qmu);
	if (!a->committer_on) {
		/* Without it, the committer moves each batch itself. */
		if (a->pg && !a->mover_on &&
		    pthread_create(&a->mover, NULL, mover, a) == 0)
			__atomic_store_n(&a->mover_on, 1, __ATOMIC_RELEASE);
		if (pthread_create(&a->committer, NULL, committer, a) != 0) {
			r = cv_fail(CV_ERR_INTERNAL, "audit: cannot start the "
			    "committer thread");
			goto out;
		}
		if (pthread_create(&a->checkpointer, NULL, checkpointer,
		    a) != 0) {
			a->committer_stop = 1;
			pthread_cond_broadcast(&a->qcv);
			pthread_mutex_unlock(&a->qmu);
			pthread_join(a->committer, NULL);
			pthread_mutex_lock(&a->qmu);
			a->committer_stop = 0;
			r = cv_fail(CV_ERR_INTERNAL, "audit: cannot start the "
			    "checkpointer thread");
			goto out;
		}
		a->committer_on = 1;
	}
	if (a->nwaiters == a->waiters_cap) {
		size_t cap = a->waiters_cap ? 2 * a->waiters_cap : 64;
		struct audit_waiter *w = realloc(a->waiters, cap * sizeof *w);

		if (w == NULL) {
			r = CV_ERR_NOMEM;
			goto out;
		}
		a->waiters = w;
		a->waiters_cap = cap;
	}
	at = a->queue.len;
	if ((r = audit_frame(e, &a->queue)) != CV_OK) {
		a->queue.len = at;
		goto out;
	}
	a->waiters[a->nwaiters].done = done;
	a->waiters[a->nwaiters].ctx = ctx;
	if (++a->nwaiters == 1 || a->nwaiters == COMMIT_FULL)
		pthread_cond_signal(&a->qcv);
 out:
	pthread_mutex_unlock(&a->qmu);
	return r;
}

void
audit_committer_stop(struct cv_audit *a)
{
	int on;

	pthread_mutex_lock(&a->qmu);
	on = a->committer_on;
	a->committer_stop = 1;
	pthread_cond_broadcast(&a->qcv);
	pthread_cond_broadcast(&a->qcv_tick);
	pthread_mutex_unlock(&a->qmu);
	if (on) {
		pthread_join(a->committer, NULL);
		pthread_join(a->checkpointer, NULL);
	}
	if (a->mover_on) {
		uint64_t at = UINT64_MAX, next = 0;
		double since = 0;
		int busy;

		pthread_join(a->mover, NULL);
		__atomic_store_n(&a->mover_on, 0, __ATOMIC_RELEASE);
		/* What is staged yet, moved unless another node is at it
		 * (then that node's mover, or the next open, does it). */
		if (audit_move_some(a, &since, &at, &next, &busy) != CV_OK)
			cv_err_clear();
	}
	if (on) {
		/* What was committed last gets its checkpoint now; if it
		 * cannot, the next open starts from the one before. */
		if (audit_maybe_checkpoint(a) != CV_OK)
			a->ckpt_err = CV_ERR_IO;
	}
	a->committer_on = 0;
}
