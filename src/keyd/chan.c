/*
 * The key process's end of a channel: frames in, one at a time through
 * the decoder, replies out under a lock (they come from the reading
 * thread, the log's committer and keyd's workers).
 */
#include <errno.h>
#include <pthread.h>
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
	int inflight;	/* requests not yet answered */
	int broken;
};

static void
chan_send(void *ctx, const struct cv_buf *frame)
{
	struct chan *ch = ctx;
	const uint8_t *p = frame ? frame->p : NULL;
	size_t n = frame ? frame->len : 0;

	pthread_mutex_lock(&ch->mu);
	if (frame == NULL)
		ch->broken = 1;
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
	ch->inflight--;
	pthread_cond_broadcast(&ch->cv);
	pthread_mutex_unlock(&ch->mu);
}

cv_err
cv_keyd_serve(struct cv_keyd *k, int fd)
{
	struct chan ch = { .fd = fd };
	struct keyd_reader rd = { .fd = fd };
	const uint8_t *f;
	size_t n;
	struct keyd_req q;
	cv_err r = CV_OK;

	pthread_mutex_init(&ch.mu, NULL);
	pthread_cond_init(&ch.cv, NULL);
	for (;;) {
		if ((r = keyd_read_frame(&rd, &f, &n)) == CV_ERR_FORMAT)
			goto bad;
		if (r != CV_OK) {	/* the peer went: not a violation */
			r = CV_OK;
			break;
		}
		if ((r = keyd_decode(f, n, &q)) != CV_OK) {
			keyd_req_free(&q);
			goto bad;
		}
		pthread_mutex_lock(&ch.mu);
		ch.inflight++;
		pthread_mutex_unlock(&ch.mu);
		keyd_dispatch(k, &q, chan_send, &ch, 1);
		keyd_req_free(&q);
		sodium_memzero((uint8_t *)(uintptr_t)f, n);
	}
	goto out;
 bad:
	/* An api process that sends what our encoder never makes is not
	 * ours any more: cut it off, and say so. */
	keyd_violation(k, cv_err_detail());
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
