/*
 * The key process's end of a channel: frames in, one at a time through
 * the decoder, replies out under a lock (they come from the reading
 * thread and the log's committer).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "keyd_internal.h"

struct chan {
	int fd;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int inflight;	/* requests not yet answered (held ones too) */
	int broken;
	struct cv_buf held;	/* replies of the batch being committed */
	int nheld;
};

/*
 * The committer answers a whole batch of reads at once: their replies are
 * held here per channel and written with one send each at the batch's end
 * (keyd_release_replies), so that the network process wakes once per
 * batch, not once per read. Only the committer thread holds.
 */
#define HOLD_CHANS 8
static _Thread_local int holding;
static _Thread_local struct chan *held_on[HOLD_CHANS];
static _Thread_local int nheld_on;

void
keyd_hold_replies(void)
{
	holding = 1;
}

/* Under CH->mu: the bytes of FRAME (or of what is held) go out. */
static void
put(struct chan *ch, const uint8_t *p, size_t n)
{
	while (!ch->broken && n) {
		ssize_t k = send(ch->fd, p, n, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			ch->broken = 1;
			break;
		}
		p += k;
		n -= (size_t)k;
	}
	if (ch->broken)
		(void)shutdown(ch->fd, SHUT_RDWR);
}

static void
flush(struct chan *ch)
{
	pthread_mutex_lock(&ch->mu);
	put(ch, ch->held.p, ch->held.len);
	cv_buf_free(&ch->held);	/* wiped: it carried record text */
	ch->inflight -= ch->nheld;
	ch->nheld = 0;
	pthread_cond_broadcast(&ch->cv);
	pthread_mutex_unlock(&ch->mu);
}

void
keyd_release_replies(void *unused)
{
	(void)unused;
	for (int i = 0; i < nheld_on; i++)
		flush(held_on[i]);
	nheld_on = 0;
	holding = 0;
}

static void
chan_send(void *ctx, const struct cv_buf *frame)
{
	struct chan *ch = ctx;
	int i;

	if (holding && frame != NULL) {
		for (i = 0; i < nheld_on && held_on[i] != ch; i++)
			;
		if (i == nheld_on) {
			if (nheld_on == HOLD_CHANS)	/* room: one goes now */
				flush(held_on[--nheld_on]);
			held_on[nheld_on++] = ch;
		}
		pthread_mutex_lock(&ch->mu);
		if (cv_buf_add(&ch->held, frame->p, frame->len) == CV_OK) {
			ch->nheld++;	/* still in flight until sent */
			pthread_mutex_unlock(&ch->mu);
			return;
		}
		pthread_mutex_unlock(&ch->mu);
		flush(ch);	/* no memory to hold it: what is held, then it */
	}
	pthread_mutex_lock(&ch->mu);
	if (frame == NULL)
		ch->broken = 1;
	put(ch, frame ? frame->p : NULL, frame ? frame->len : 0);
	ch->inflight--;
	pthread_cond_broadcast(&ch->cv);
	pthread_mutex_unlock(&ch->mu);
}

/* Dispatches the NQ requests read together (Q, from frames F of N
 * bytes): the reads, then what ended them; then frees and wipes them. */
static void
run(struct cv_keyd *k, struct chan *ch, struct keyd_req *q,
    const uint8_t *const *f, const size_t *n, size_t nq)
{
	size_t nr = q[nq - 1].type == KEYD_READ ? nq : nq - 1;

	pthread_mutex_lock(&ch->mu);
	ch->inflight += (int)nq;
	pthread_mutex_unlock(&ch->mu);
	if (nr == 1)
		keyd_dispatch(k, &q[0], chan_send, ch, 1);
	else if (nr > 1)
		keyd_dispatch_reads(k, q, nr, chan_send, ch, 1);
	if (nr < nq)
		keyd_dispatch(k, &q[nr], chan_send, ch, 1);
	for (size_t i = 0; i < nq; i++) {
		keyd_req_free(&q[i]);
		sodium_memzero((uint8_t *)(uintptr_t)f[i], n[i]);
	}
}

/*
 * READ requests that arrived together are dispatched together, so that
 * their records are read in one statement (on PostgreSQL each is a round
 * trip): those already whole in the reader's buffer after the first,
 * without waiting for more; the first request of another type ends the
 * batch and goes after it, in order.
 */
cv_err
cv_keyd_serve(struct cv_keyd *k, int fd)
{
	struct chan ch = { .fd = fd };
	struct keyd_reader rd = { .fd = fd };
	const uint8_t *f[KEYD_READ_BATCH];
	size_t n[KEYD_READ_BATCH], nq;
	struct keyd_req q[KEYD_READ_BATCH];
	char why[256];
	int bad;
	cv_err r = CV_OK;

	pthread_mutex_init(&ch.mu, NULL);
	pthread_cond_init(&ch.cv, NULL);
	for (;;) {
		nq = 0;
		bad = 0;
		do {
			if ((r = keyd_read_frame(&rd, &f[nq], &n[nq])) !=
			    CV_OK) {
				bad = r == CV_ERR_FORMAT;
				break;	/* else the peer went */
			}
			if ((r = keyd_decode(f[nq], n[nq], &q[nq])) != CV_OK) {
				keyd_req_free(&q[nq]);
				/* Our own lack of memory is not the api's
				 * doing: the channel ends (the worker is
				 * started again) with no violation alarm. */
				bad = r != CV_ERR_NOMEM;
				break;
			}
			nq++;
		} while (q[nq - 1].type == KEYD_READ &&
		    nq < KEYD_READ_BATCH && keyd_frame_buffered(&rd));
		if (bad)
			snprintf(why, sizeof why, "%s", cv_err_detail());
		/* What came before a bad frame is dispatched, as it was
		 * when each came alone. */
		if (nq > 0)
			run(k, &ch, q, f, n, nq);
		if (bad)
			goto bad;
		if (r != CV_OK) {	/* the peer went: not a violation */
			r = CV_OK;
			goto out;
		}
	}
 bad:
	/* An api process that sends what our encoder never makes is not
	 * ours any more: cut it off, and say so. */
	keyd_violation(k, why);
	r = CV_ERR_FORMAT;
	(void)shutdown(fd, SHUT_RDWR);
 out:
	pthread_mutex_lock(&ch.mu);
	while (ch.inflight > 0)
		pthread_cond_wait(&ch.cv, &ch.mu);
	pthread_mutex_unlock(&ch.mu);
	pthread_mutex_destroy(&ch.mu);
	pthread_cond_destroy(&ch.cv);
	keyd_reader_free(&rd);
	return r;
}
