/*
 * The callers' end of keyd. A request is encoded, carried (to a key
 * process over a channel, or in process straight to keyd_dispatch after
 * the same decoder), and its reply decoded and matched by request id.
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
#include "keyd_read.h"

#define BUCKETS 256

/* A request waiting for its reply. */
struct pend {
	struct pend *next;
	uint64_t id;
	cv_keyd_done_fn *fn;	/* async; NULL: a caller waits */
	void *ctx;
	/* filled for a waiting caller */
	int done;
	cv_err st;
	char detail[256];
	uint64_t index;
	struct cv_buf *text;
};

struct cv_keyd_client {
	struct cv_keyd *local;	/* in process, or: */
	int fd;			/* a channel */
	pthread_t reader;
	int reading;
	pthread_mutex_t mu, wmu;
	pthread_cond_t cv;
	uint64_t next_id;
	int dead;
	void (*on_lost)(void);
	struct pend *b[BUCKETS];
};

static void
fail_all(struct cv_keyd_client *c);

static void
complete(struct cv_keyd_client *c, const uint8_t *p, size_t len)
{
	struct keyd_reply rp;
	struct pend **pp, *q = NULL;
	struct cv_buf text;

	if (keyd_decode_reply(p, len, &rp) != CV_OK) {
		fail_all(c);
		return;
	}
	pthread_mutex_lock(&c->mu);
	for (pp = &c->b[rp.id % BUCKETS]; *pp; pp = &(*pp)->next)
		if ((*pp)->id == rp.id) {
			q = *pp;
			*pp = q->next;
			break;
		}
	if (q == NULL || q->fn) {
		pthread_mutex_unlock(&c->mu);
		if (q == NULL)
			return;	/* nobody waits for it: dropped */
		text.p = (uint8_t *)(uintptr_t)rp.text;
		text.len = text.cap = rp.len;
		if (rp.status != CV_OK)
			cv_err_set("%s", rp.detail);
		q->fn(q->ctx, rp.status, rp.index, rp.text ? &text : NULL);
		free(q);
		return;
	}
	q->st = rp.status;
	q->index = rp.index;
	snprintf(q->detail, sizeof q->detail, "%s", rp.detail);
	if (rp.status == CV_OK && q->text && rp.len &&
	    cv_buf_add(q->text, rp.text, rp.len) != CV_OK)
		q->st = CV_ERR_NOMEM;
	q->done = 1;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

/* The key side is gone: every caller hears it, none hangs. */
static void
fail_all(struct cv_keyd_client *c)
{
	struct pend *q, *async = NULL;

	pthread_mutex_lock(&c->mu);
	c->dead = 1;
	for (int i = 0; i < BUCKETS; i++)
		while ((q = c->b[i]) != NULL) {
			c->b[i] = q->next;
			if (q->fn) {
				q->next = async;
				async = q;
			} else {
				q->st = CV_ERR_HSM;
				snprintf(q->detail, sizeof q->detail, "the key "
				    "process is gone");
				q->done = 1;
			}
		}
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	while ((q = async) != NULL) {
		async = q->next;
		cv_err_set("the key process is gone");
		q->fn(q->ctx, CV_ERR_HSM, 0, NULL);
		free(q);
	}
}

static int
write_full(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return 0;
		p += k;
		n -= (size_t)k;
	}
	return 1;
}

static void *
reader(void *arg)
{
	struct cv_keyd_client *c = arg;
	struct keyd_reader rd = { .fd = c->fd };
	const uint8_t *f;
	void (*lost)(void);
	size_t n;

	while (keyd_read_frame(&rd, &f, &n) == CV_OK) {
		complete(c, f, n);
		sodium_memzero((uint8_t *)(uintptr_t)f, n);
	}
	keyd_reader_free(&rd);
	fail_all(c);
	pthread_mutex_lock(&c->mu);
	lost = c->on_lost;
	pthread_mutex_unlock(&c->mu);
	if (lost)
		lost();
	return NULL;
}

void
cv_keyd_client_on_lost(struct cv_keyd_client *c, void (*fn)(void))
{
	pthread_mutex_lock(&c->mu);
	c->on_lost = fn;
	pthread_mutex_unlock(&c->mu);
}

/* The in-process key side replies here, after the same decoder. */
static void
local_send(void *ctx, const struct cv_buf *frame)
{
	struct cv_keyd_client *c = ctx;

	if (frame == NULL) {
		fail_all(c);
		return;
	}
	complete(c, frame->p, frame->len);
}

/*
 * Frames of a thread's async requests, held until the thread is about to
 * wait in poll() (cv_keyd_flush_thread, from src/api/poll.c): a network
 * worker answers several connections per round, and one write for all of
 * their requests wakes keyd once instead of once per read. Only threads
 * that call poll() between requests opt in (cv_keyd_defer_thread).
 */
static _Thread_local struct {
	int on;
	struct cv_keyd_client *c;
	struct cv_buf out;
} deferred;
static pthread_key_t deferred_key;
static pthread_once_t deferred_once = PTHREAD_ONCE_INIT;

static void
deferred_end(void *unused)
{
	(void)unused;
	cv_buf_free(&deferred.out);
}

static void
deferred_init(void)
{
	(void)pthread_key_create(&deferred_key, deferred_end);
}

void
cv_keyd_defer_thread(void)
{
	if (deferred.on)
		return;
	(void)pthread_once(&deferred_once, deferred_init);
	/* Any non-NULL value: the key only runs deferred_end at exit. */
	if (pthread_setspecific(deferred_key, &deferred) == 0)
		deferred.on = 1;
}

void
cv_keyd_flush_thread(void)
{
	struct cv_keyd_client *c = deferred.c;
	int ok;

	if (c == NULL || deferred.out.len == 0)
		return;
	pthread_mutex_lock(&c->wmu);
	ok = write_full(c->fd, deferred.out.p, deferred.out.len);
	pthread_mutex_unlock(&c->wmu);
	sodium_memzero(deferred.out.p, deferred.out.len);
	deferred.out.len = 0;
	if (!ok)
		(void)shutdown(c->fd, SHUT_RDWR);	/* the reader fails all */
}

/* Sends FRAME (request id ID) and registers Q for its reply; an async
 * one (ASYNC) may wait for the thread's next poll(). */
static cv_err
carry(struct cv_keyd_client *c, struct cv_buf *frame, struct pend *q,
    int async)
{
	struct keyd_req rq;
	cv_err r;

	pthread_mutex_lock(&c->mu);
	if (c->dead) {
		pthread_mutex_unlock(&c->mu);
		return cv_fail(CV_ERR_HSM, "the key process is gone");
	}
	q->next = c->b[q->id % BUCKETS];
	c->b[q->id % BUCKETS] = q;
	pthread_mutex_unlock(&c->mu);
	if (c->local) {
		if ((r = keyd_decode(frame->p, frame->len, &rq)) != CV_OK) {
			/* Our own lack of memory is no violation. */
			if (r != CV_ERR_NOMEM)
				keyd_violation(c->local, cv_err_detail());
			keyd_req_free(&rq);
			fail_all(c);	/* answers Q */
			return CV_OK;
		}
		keyd_dispatch(c->local, &rq, local_send, c, 0);
		keyd_req_free(&rq);
		return CV_OK;
	}
	if (async && deferred.on && (deferred.c == NULL || deferred.c == c)) {
		deferred.c = c;
		if (cv_buf_add(&deferred.out, frame->p, frame->len) == CV_OK)
			return CV_OK;
	}
	/* In order: what this thread holds goes first. */
	if (deferred.c == c)
		cv_keyd_flush_thread();
	pthread_mutex_lock(&c->wmu);
	r = write_full(c->fd, frame->p, frame->len) ? CV_OK : CV_ERR_HSM;
	pthread_mutex_unlock(&c->wmu);
	if (r != CV_OK) {
		(void)shutdown(c->fd, SHUT_RDWR);	/* the reader fails all */
		return CV_OK;	/* Q is answered by fail_all */
	}
	return CV_OK;
}

static uint64_t
new_id(struct cv_keyd_client *c)
{
	return __atomic_add_fetch(&c->next_id, 1, __ATOMIC_RELAXED);
}

/* Synchronous call: FRAME built with request id ID. */
static cv_err
call(struct cv_keyd_client *c, struct cv_buf *frame, uint64_t id,
    uint64_t *index, struct cv_buf *text)
{
	struct pend q;
	cv_err r;

	memset(&q, 0, sizeof q);
	q.id = id;
	q.text = text;
	if ((r = carry(c, frame, &q, 0)) != CV_OK)
		return r;
	pthread_mutex_lock(&c->mu);
	while (!q.done)
		pthread_cond_wait(&c->cv, &c->mu);
	pthread_mutex_unlock(&c->mu);
	if (index)
		*index = q.index;
	if (q.st != CV_OK)
		return cv_fail(q.st, "%s", q.detail);
	return CV_OK;
}

static cv_err
call_async(struct cv_keyd_client *c, struct cv_buf *frame, uint64_t id,
    cv_keyd_done_fn *done, void *ctx)
{
	struct pend *q;
	cv_err r;

	if ((q = calloc(1, sizeof *q)) == NULL)
		return CV_ERR_NOMEM;
	q->id = id;
	q->fn = done;
	q->ctx = ctx;
	if ((r = carry(c, frame, q, 1)) != CV_OK) {
		/* Not registered, or already answered by fail_all. */
		pthread_mutex_lock(&c->mu);
		for (struct pend **pp = &c->b[id % BUCKETS]; *pp;
		    pp = &(*pp)->next)
			if (*pp == q) {
				*pp = q->next;
				free(q);
				break;
			}
		pthread_mutex_unlock(&c->mu);
	}
	return r;
}

static cv_err
new_client(struct cv_keyd_client **out)
{
	struct cv_keyd_client *c;

	if ((c = calloc(1, sizeof *c)) == NULL)
		return CV_ERR_NOMEM;
	c->fd = -1;
	pthread_mutex_init(&c->mu, NULL);
	pthread_mutex_init(&c->wmu, NULL);
	pthread_cond_init(&c->cv, NULL);
	*out = c;
	return CV_OK;
}

cv_err
cv_keyd_client_local(struct cv_keyd *k, struct cv_keyd_client **out)
{
	cv_err r;

	if ((r = new_client(out)) == CV_OK)
		(*out)->local = k;
	return r;
}

cv_err
cv_keyd_client_channel(int fd, struct cv_keyd_client **out)
{
	struct cv_keyd_client *c;
	cv_err r;

	if ((r = new_client(&c)) != CV_OK) {
		close(fd);
		return r;
	}
	c->fd = fd;
	if (pthread_create(&c->reader, NULL, reader, c) != 0) {
		cv_keyd_client_free(c);
		return cv_fail(CV_ERR_INTERNAL, "keyd: no thread");
	}
	c->reading = 1;
	*out = c;
	return CV_OK;
}

void
cv_keyd_client_free(struct cv_keyd_client *c)
{
	if (c == NULL)
		return;
	/* Our own close is not a lost channel. */
	if (c->local == NULL)
		cv_keyd_client_on_lost(c, NULL);
	if (c->fd >= 0)
		(void)shutdown(c->fd, SHUT_RDWR);
	if (c->reading)
		pthread_join(c->reader, NULL);
	if (c->fd >= 0)
		close(c->fd);
	pthread_mutex_destroy(&c->mu);
	pthread_mutex_destroy(&c->wmu);
	pthread_cond_destroy(&c->cv);
	free(c);
}

/* Encodes Q with a fresh id and makes the call. */
static cv_err
request(struct cv_keyd_client *c, struct keyd_req *q, uint64_t *index,
    struct cv_buf *text, cv_keyd_done_fn *done, void *ctx)
{
	struct cv_buf f = { 0 };
	cv_err r;

	q->id = new_id(c);
	if ((r = keyd_encode(&f, q)) == CV_OK)
		r = done ? call_async(c, &f, q->id, done, ctx) :
		    call(c, &f, q->id, index, text);
	cv_buf_free(&f);
	return r;
}

cv_err
cv_keyd_append(struct cv_keyd_client *c, const struct cv_audit_entry *e,
    uint64_t *index)
{
	struct keyd_req q = { .type = KEYD_APPEND, .e = *e };

	return request(c, &q, index, NULL, NULL, NULL);
}

cv_err
cv_keyd_append_async(struct cv_keyd_client *c,
    const struct cv_audit_entry *e, cv_keyd_done_fn *done, void *ctx)
{
	struct keyd_req q = { .type = KEYD_APPEND, .e = *e };

	return request(c, &q, NULL, NULL, done, ctx);
}

cv_err
cv_keyd_read(struct cv_keyd_client *c, const struct cv_audit_entry *e,
    uint64_t *index, struct cv_buf *text)
{
	struct keyd_req q = { .type = KEYD_READ, .e = *e };

	return request(c, &q, index, text, NULL, NULL);
}

cv_err
cv_keyd_read_async(struct cv_keyd_client *c, const struct cv_audit_entry *e,
    cv_keyd_done_fn *done, void *ctx)
{
	struct keyd_req q = { .type = KEYD_READ, .e = *e };

	return request(c, &q, NULL, NULL, done, ctx);
}

cv_err
cv_keyd_decrypt(struct cv_keyd_client *c, uint64_t ticket,
    const char *principal, const char *rid, unsigned sections,
    struct cv_buf *text)
{
	struct keyd_req q = { .type = KEYD_DECRYPT, .u64 = ticket,
	    .s = { principal, rid }, .sections = sections };

	return request(c, &q, NULL, text, NULL, NULL);
}

/* A call whose reply text must be exactly N bytes, into OUT. */
static cv_err
fixed(struct cv_keyd_client *c, struct keyd_req *q, uint8_t *out, size_t n)
{
	struct cv_buf t = { 0 };
	cv_err r;

	if ((r = request(c, q, NULL, &t, NULL, NULL)) == CV_OK) {
		if (t.len != n)
			r = cv_fail(CV_ERR_FORMAT, "keyd: a reply of %zu "
			    "bytes", t.len);
		else
			memcpy(out, t.p, n);
	}
	cv_buf_free(&t);
	return r;
}

cv_err
cv_keyd_blind_index(struct cv_keyd_client *c, enum cv_bidx_kind kind,
    const void *in, size_t len, uint8_t out[static CV_BIDX_BYTES])
{
	struct keyd_req q = { .type = KEYD_BLIND_INDEX, .kind = (uint8_t)kind,
	    .data = in, .len = len };

	return fixed(c, &q, out, CV_BIDX_BYTES);
}

cv_err
cv_keyd_sign_tls(struct cv_keyd_client *c, const uint8_t *data, size_t len,
    uint8_t sig[static CV_EC_SIG_BYTES])
{
	struct keyd_req q = { .type = KEYD_SIGN_TLS, .data = data,
	    .len = len };

	return fixed(c, &q, sig, CV_EC_SIG_BYTES);
}

cv_err
cv_keyd_totp(struct cv_keyd_client *c, const char *user, const char *code,
    const uint8_t *sealed, size_t len, uint64_t *step)
{
	struct keyd_req q = { .type = KEYD_TOTP, .s = { user, code },
	    .data = sealed, .len = len };

	return request(c, &q, step, NULL, NULL, NULL);
}

cv_err
cv_keyd_guard_save(struct cv_keyd_client *c, const uint8_t *state,
    size_t len)
{
	struct keyd_req q = { .type = KEYD_GUARD_SAVE, .data = state,
	    .len = len };

	return request(c, &q, NULL, NULL, NULL, NULL);
}

cv_err
cv_keyd_guard_load(struct cv_keyd_client *c, struct cv_buf *state)
{
	struct keyd_req q = { .type = KEYD_GUARD_LOAD };

	return request(c, &q, NULL, state, NULL, NULL);
}

cv_err
cv_keyd_canaries(struct cv_keyd_client *c, struct cv_buf *ids)
{
	struct keyd_req q = { .type = KEYD_CANARIES };

	return request(c, &q, NULL, ids, NULL, NULL);
}

cv_err
cv_keyd_checkpoint(struct cv_keyd_client *c, struct cv_buf *note)
{
	struct keyd_req q = { .type = KEYD_CHECKPOINT };

	return request(c, &q, NULL, note, NULL, NULL);
}

cv_err
cv_keyd_cosigned(struct cv_keyd_client *c, struct cv_buf *note)
{
	struct keyd_req q = { .type = KEYD_COSIGNED };

	return request(c, &q, NULL, note, NULL, NULL);
}

cv_err
cv_keyd_enrol(struct cv_keyd_client *c, const char *name, const char *code,
    const char *csr, size_t len, struct cv_buf *issued)
{
	struct keyd_req q = { .type = KEYD_ENROL, .s = { name, code },
	    .data = (const uint8_t *)csr, .len = len };

	return request(c, &q, NULL, issued, NULL, NULL);
}

cv_err
cv_keyd_put(struct cv_keyd_client *c, const char *expect_id, int must_exist,
    const char *text, size_t len, char id[static CV_RECORD_ID_MAX + 1],
    uint32_t *version)
{
	struct keyd_req q = { .type = KEYD_PUT, .s = { expect_id ? expect_id :
	    "" }, .flag = must_exist ? 1 : 0, .data = (const uint8_t *)text,
	    .len = len };
	struct cv_buf t = { 0 };
	uint64_t v = 0;
	cv_err r;

	id[0] = '\0';
	if ((r = request(c, &q, &v, &t, NULL, NULL)) == CV_OK) {
		if (t.len == 0 || t.len > CV_RECORD_ID_MAX || v > UINT32_MAX)
			r = cv_fail(CV_ERR_FORMAT, "keyd: a bad reply to put");
		else {
			memcpy(id, t.p, t.len);
			id[t.len] = '\0';
			*version = (uint32_t)v;
		}
	}
	cv_buf_free(&t);
	return r;
}

cv_err
cv_keyd_audit_key(struct cv_keyd_client *c, uint8_t pk[static 32])
{
	struct keyd_req q = { .type = KEYD_AUDIT_KEY };
	struct cv_buf t = { 0 };
	cv_err r;

	if ((r = request(c, &q, NULL, &t, NULL, NULL)) == CV_OK &&
	    t.len != 32)
		r = cv_fail(CV_ERR_FORMAT, "keyd: an audit key of %zu bytes",
		    t.len);
	if (r == CV_OK)
		memcpy(pk, t.p, 32);
	cv_buf_free(&t);
	return r;
}

cv_err
cv_keyd_status(struct cv_keyd_client *c, int *lost)
{
	struct keyd_req q = { .type = KEYD_STATUS };
	uint64_t v = 1;
	cv_err r;

	r = request(c, &q, &v, NULL, NULL, NULL);
	*lost = r != CV_OK || v != 0;	/* unreachable counts as gone */
	return r;
}
