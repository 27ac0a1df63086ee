/*
 * Moving staged entries into the log (PostgreSQL only; stage_pg.c says
 * what staging is). Whoever holds the sequencer moves the rows that follow
 * the log without a hole, writes them as any append does (entries,
 * offsets, tree) and deletes them in the same transaction. A process with
 * no mover thread (a command) moves its own entries before it goes on, and
 * every read-write open moves what other nodes left, so that what a
 * command then reads (scope, evidence, a proof) holds every entry made
 * durable before it began.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>

#include <sodium.h>

#include "audit_internal.h"

/* How long a hole at the log's end waits for the INSERT that took its
 * index before an audit.gap entry fills it; and how long a settle waits
 * in all. */
#define GAP_WAIT_S 1.0
#define SETTLE_WAIT_S 30.0

/*
 * One round under the sequencer: the staged run that follows the log.
 * WAIT: block for the lock, else CV_ERR_LIMIT when another node holds it.
 * *MOVED: entries moved; *SIZE: the log's size as this round committed
 * or found it (read under the lock: the handle's own may be ahead of a
 * COMMIT that failed, or moving under another thread). When nothing
 * follows the log but the sequence has given indices past it (a hole, or
 * an INSERT in flight), *HOLE is the log's size and *NEXT the sequence's
 * next index; else *HOLE is UINT64_MAX.
 */
static cv_err
move_once(struct cv_audit *a, int wait, size_t *moved, uint64_t *size,
    uint64_t *hole, uint64_t *next)
{
	struct cv_buf frames = { 0 };
	uint64_t at;
	size_t n = 0;
	cv_err r;

	*moved = 0;
	*hole = UINT64_MAX;
	*next = 0;
	if ((r = wait ? audit_lock(a, LOCK_EX) : audit_try_lock(a)) != CV_OK)
		return r;
	if ((r = audit_refresh(a)) != CV_OK ||
	    (r = audit_pg_staged(a, a->size, &frames, &n, next)) != CV_OK)
		goto fail;
	at = a->size;
	if (n == 0) {
		if (*next > a->size)
			*hole = a->size;
	} else if ((r = audit_pwrite(a, a->fd_entries, frames.p, frames.len,
	    a->end)) != CV_OK ||
	    (r = audit_index_leaves(a, frames.p, frames.len, n)) != CV_OK ||
	    (r = audit_pg_unstage(a, at, a->size)) != CV_OK)
		goto fail;
	/* The COMMIT: the move, and the rows' deletion, or neither. */
	if ((r = audit_unlock(a)) == CV_OK) {
		*moved = n;
		*size = at + n;
	}
	goto out;
 fail:
	audit_abort(a);
 out:
	sodium_memzero(frames.p, frames.len);
	cv_buf_free(&frames);
	return r;
}

/* The audit.gap entry that fills index AT for good, unless a row has it. */
static cv_err
fill_one(struct cv_audit *a, uint64_t at)
{
	char why[200];
	struct cv_audit_entry e = {
		.outcome = CV_AUDIT_ERROR, .action = "audit.gap",
		.actor = "clearvault", .source = "audit", .reason = why,
	};
	struct cv_buf leaf = { 0 };
	cv_err r;

	snprintf(why, sizeof why, "index %" PRIu64 " was taken and not "
	    "committed within %.0f s (a node that died, or a database that "
	    "restarted): nothing was released under it", at, GAP_WAIT_S);
	if ((r = cv_audit_encode(&e, &leaf)) == CV_OK)
		r = audit_pg_fill(a, at, leaf.p, leaf.len);
	cv_buf_free(&leaf);
	return r;
}

/*
 * A hole seen: H->at (the log's size) to H->next (the sequence's next
 * index then). Once it has stayed GAP_WAIT_S, every index of it without
 * a row is filled at once (a database that restarted skips up to 32: one
 * wait for all, not one each). *FILLED: whether it was.
 */
struct hole {
	uint64_t at, next;
	double since;
};

static cv_err
hole_seen(struct cv_audit *a, struct hole *h, uint64_t at, uint64_t next,
    int *filled)
{
	cv_err r = CV_OK;

	*filled = 0;
	if (at != h->at) {
		h->at = at;
		h->next = next;
		h->since = cv_now();
		return CV_OK;
	}
	if (cv_now() - h->since < GAP_WAIT_S)
		return CV_OK;
	for (uint64_t g = h->at; g < h->next && r == CV_OK; g++)
		r = fill_one(a, g);
	h->at = UINT64_MAX;
	*filled = r == CV_OK;
	return r;
}

/* Moves (blocking) until the log holds every index below UNTIL; *SIZE
 * its size then. */
static cv_err
settle_to(struct cv_audit *a, uint64_t until, uint64_t *size)
{
	struct hole h = { .at = UINT64_MAX };
	uint64_t hole, next;
	double t0 = cv_now();
	size_t moved;
	int filled;
	cv_err r;

	for (;;) {
		if ((r = move_once(a, 1, &moved, size, &hole, &next)) != CV_OK)
			return r;
		if (*size >= until)
			return CV_OK;
		if (moved)
			continue;
		if (hole == UINT64_MAX) {
			/* UNTIL came from the sequence: past the size. */
			hole = *size;
			next = until;
		}
		if ((r = hole_seen(a, &h, hole, next, &filled)) != CV_OK)
			return r;
		if (filled)
			continue;
		if (cv_now() - t0 >= SETTLE_WAIT_S)
			return cv_fail(CV_ERR_IO, "audit log in PostgreSQL: "
			    "entries below %" PRIu64 " are not staged after "
			    "%.0f s (the log has %" PRIu64 ")", until,
			    SETTLE_WAIT_S, *size);
		nanosleep(&(struct timespec){ .tv_nsec = 2000000 }, NULL);
	}
}

cv_err
audit_try_lock(struct cv_audit *a)
{
	cv_err r;

	pthread_mutex_lock(&a->io);
	if ((r = audit_pg_lock(a, LOCK_EX | LOCK_NB)) != CV_OK)
		pthread_mutex_unlock(&a->io);
	return r;
}

cv_err
audit_stage_batch(struct cv_audit *a, const uint8_t *frames, size_t flen,
    size_t n, uint64_t *idx)
{
	uint64_t top = 0;
	cv_err r;

	if (cv_fault("audit.commit"))
		return cv_fail(CV_ERR_IO, "audit log: cannot stage entries: "
		    "injected commit failure");
	if ((r = audit_pg_stage(a, frames, flen, n, idx)) != CV_OK ||
	    __atomic_load_n(&a->mover_on, __ATOMIC_ACQUIRE))
		return r;
	for (size_t i = 0; i < n; i++)
		if (idx[i] + 1 > top)
			top = idx[i] + 1;
	/* Durable all the same if this fails: the next open moves them. */
	if (settle_to(a, top, &top) != CV_OK)
		cv_err_clear();
	return CV_OK;
}

cv_err
cv_audit_settle(struct cv_audit *a, uint64_t *size)
{
	uint64_t until;
	cv_err r;

	if (a->pg == NULL || a->readonly)
		return cv_audit_size(a, size);
	if ((r = audit_pg_taken(a, &until)) != CV_OK)
		return r;
	return settle_to(a, until, size);
}

cv_err
audit_move_some(struct cv_audit *a, double *hole_since, uint64_t *hole_at,
    uint64_t *hole_next, int *busy)
{
	struct hole h = { *hole_at, *hole_next, *hole_since };
	uint64_t hole, next, size;
	size_t moved;
	int filled;
	cv_err r;

	*busy = 0;
	do {
		r = move_once(a, 0, &moved, &size, &hole, &next);
		if (r == CV_ERR_LIMIT) {
			/* Another node is moving, or reading under the
			 * shared lock: the hole seen stays watched (a
			 * reset here would never let it age). */
			cv_err_clear();
			return CV_OK;
		}
		if (r == CV_OK && moved > 0)
			*busy = 1;
		/* Again at once only after a full round: more was waiting.
		 * Rounds back to back until one found nothing kept the mover
		 * at it without a pause under load, each round moving what
		 * the last one's time let in, at a round's fixed cost. */
	} while (r == CV_OK && moved == AUDIT_PG_STAGE_CHUNK);
	if (r == CV_OK && hole != UINT64_MAX)
		r = hole_seen(a, &h, hole, next, &filled);
	else
		h.at = UINT64_MAX;
	*hole_at = h.at;
	*hole_next = h.next;
	*hole_since = h.since;
	if (h.at != UINT64_MAX)
		*busy = 1;
	return r;
}
