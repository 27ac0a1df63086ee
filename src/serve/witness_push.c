/*
 * The witness pusher (witness_push.h): one thread, a round every 100 ms
 * (a shared lock and one read of the checkpoint file's end when nothing
 * changed). A round reads the latest checkpoint through the pusher's own
 * read-only log handle; each witness that has not cosigned that one yet,
 * and whose backoff has run out, gets an add-checkpoint request with
 * `old` the size it last cosigned (DIR/witness/H.size) and the
 * consistency proof from there. A cosignature counts only when it
 * verifies against the configured key; then the size is saved and the
 * note with every cosignature it has so far is saved as
 * DIR/witness/checkpoint, which keyd and `audit checkpoint` serve.
 *
 * One request at a time, witness after witness: a quorum of two or three
 * local witnesses is a few milliseconds; a slow one delays the others by
 * at most its timeout, and a failing one is skipped during its backoff.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../keyd/keyd.h"
#include "../witness/witness.h"
#include "witness_push.h"

#define ROUND_MS 100
#define TIMEOUT_MS 5000		/* connect, send and reply, per request */
#define LAST_TIMEOUT_MS 2000	/* in the round at stop */
#define BACKOFF_FIRST_MS 250
#define BACKOFF_MAX_MS 30000
#define EVENTS 16		/* alerts waiting to be logged */

/* One witness, as the thread sees it. */
struct wit {
	struct cv_config_witness c;
	uint64_t sent;		/* the size it last cosigned (saved) */
	int have;		/* LINE cosigns the current checkpoint */
	struct cv_buf line;	/* its verified cosignature line(s) */
	int64_t next_us;	/* not before (backoff) */
	unsigned backoff_ms;
	int failing;		/* no answer: said once per episode */
	int conflict;		/* alerted once per episode */
	int refused;		/* 403/404: alerted once per episode */
};

struct cv_witness_pusher {
	char dir[CV_CONFIG_PATH_MAX];
	char db[CV_CONFIG_PATH_MAX];
	char vault_id[CV_VAULT_ID_LEN + 1];
	int alerts_fd;
	int quorum_fd;		/* keyd's view of the quorum (keyd.h) */
	struct wit w[CV_CONFIG_WITNESS_MAX];
	unsigned n, quorum;
	int64_t alert_after_us;
	struct cv_audit *a;	/* read-only, opened by the thread */
	struct cv_buf note;	/* the latest checkpoint's note */
	struct cv_checkpoint cur;
	int64_t unmet_since;	/* 0: the latest quorum is current */
	int quorum_alerted;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	/* Alerts that are also to be audit entries, for the supervisor's
	 * thread (the one that talks to keyd): a ring under MU. */
	struct cv_witness_event ev[EVENTS];
	unsigned nev, lost;
	void (*notify)(void *);
	void *notify_ctx;
};

static void
alert(struct cv_witness_pusher *p, const char *kind, const char *severity,
    const char *detail)
{
	struct cv_witness_event *e;
	void (*notify)(void *) = NULL;

	cv_keyd_alert_write(p->alerts_fd, p->vault_id, kind, severity, NULL,
	    detail, NULL);
	fprintf(stderr, "clearvault serve: %s %s: %s\n", severity, kind,
	    detail);
	pthread_mutex_lock(&p->mu);
	if (p->nev < EVENTS) {
		e = &p->ev[p->nev++];
		snprintf(e->action, sizeof e->action, "%s", kind);
		/* witness_conflict -> witness.conflict, as entries go */
		e->action[7] = '.';
		e->outcome = !strcmp(severity, "info") ? CV_AUDIT_ALLOWED :
		    CV_AUDIT_ERROR;
		snprintf(e->reason, sizeof e->reason, "%s", detail);
		notify = p->notify;
	} else
		p->lost++;
	pthread_mutex_unlock(&p->mu);
	if (notify)
		notify(p->notify_ctx);
}

void
cv_witness_pusher_events(struct cv_witness_pusher *p,
    void (*fn)(void *ctx, const struct cv_witness_event *e), void *ctx)
{
	struct cv_witness_event ev[EVENTS];
	unsigned n, lost;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	n = p->nev;
	lost = p->lost;
	memcpy(ev, p->ev, n * sizeof ev[0]);
	p->nev = p->lost = 0;
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < n; i++)
		fn(ctx, &ev[i]);
	if (lost)
		fprintf(stderr, "clearvault serve: %u witness alerts were not "
		    "logged as entries (alerts.jsonl has them)\n", lost);
}

static void
backoff(struct wit *w)
{
	w->backoff_ms = w->backoff_ms == 0 ? BACKOFF_FIRST_MS :
	    w->backoff_ms >= BACKOFF_MAX_MS / 2 ? BACKOFF_MAX_MS :
	    w->backoff_ms * 2;
	w->next_us = cv_now_us() + (int64_t)w->backoff_ms * 1000;
}

static void quorum_put(struct cv_witness_pusher *p, int missing);

/* A witness that does not cosign for a reason of its own (WHY): a
 * warning once per episode, then stderr. */
static void
refused(struct cv_witness_pusher *p, struct wit *w, const char *why)
{
	char d[300];

	snprintf(d, sizeof d, "witness %s: %s", w->c.name, why);
	if (!w->refused)
		alert(p, "witness_refused", "warning", d);
	else
		fprintf(stderr, "clearvault serve: %s\n", d);
	w->refused = 1;
	backoff(w);
}

/* A rollback or a fork of this vault, as this witness sees it. */
static void
conflict(struct cv_witness_pusher *p, struct wit *w, const char *fmt, ...)
    CV_PRINTF(3, 4);
static void
conflict(struct cv_witness_pusher *p, struct wit *w, const char *fmt, ...)
{
	char d[600];
	va_list ap;
	int n;

	n = snprintf(d, sizeof d, "witness %s: ", w->c.name);
	va_start(ap, fmt);
	vsnprintf(d + n, sizeof d - (size_t)n, fmt, ap);
	va_end(ap);
	if (!w->conflict)
		alert(p, "witness_conflict", "critical", d);
	else
		fprintf(stderr, "clearvault serve: witness_conflict goes on: "
		    "%s\n", d);
	w->conflict = 1;
	backoff(w);
	/* Under refuse-reads a witness that says this vault was rolled
	 * back or forked stops reads at once, not after the alert time (a
	 * quorum of the others confirms again next round). */
	if (p->unmet_since == 0)
		p->unmet_since = cv_now_us();
	quorum_put(p, 1);
}

/*
 * The one line of REPLY that is a valid cosignature of NOTE by W's
 * configured key, in OUT (empty when none). Only that line is kept: a
 * witness may sign with several keys or algorithms under its name, and a
 * line that does not verify must never reach the stored note (it would
 * make the whole cosigned checkpoint unservable, reviewed).
 */
static cv_err
verified_line(const struct wit *w, const struct cv_buf *note,
    const struct cv_buf *reply, struct cv_buf *out, uint64_t *ts)
{
	const char *s = (const char *)reply->p, *end = s + reply->len, *nl;
	size_t nlen = strlen(w->c.name);
	struct cv_buf both = { 0 };
	cv_err r = CV_OK;

	out->len = 0;
	for (; s < end && out->len == 0; s = nl + 1) {
		if ((nl = memchr(s, '\n', (size_t)(end - s))) == NULL)
			break;
		if ((size_t)(nl - s) <= 4 + nlen + 1 ||
		    memcmp(s, "\xe2\x80\x94 ", 4) != 0 ||
		    memcmp(s + 4, w->c.name, nlen) != 0 || s[4 + nlen] != ' ')
			continue;
		both.len = 0;
		if ((r = cv_buf_add(&both, note->p, note->len)) != CV_OK ||
		    (r = cv_buf_add(&both, s, (size_t)(nl - s) + 1)) != CV_OK)
			break;
		if (cv_witness_cosig_verify(w->c.vkey, (const char *)both.p,
		    both.len, ts) == CV_OK)
			r = cv_buf_add(out, s, (size_t)(nl - s) + 1);
	}
	cv_buf_free(&both);
	return r;
}

/* 200: the reply must hold a cosignature by W's key of this very note. */
static void
accepted(struct cv_witness_pusher *p, struct wit *w,
    const struct cv_buf *reply)
{
	struct cv_buf mine = { 0 };
	uint64_t ts;
	cv_err r;

	if ((r = verified_line(w, &p->note, reply, &mine, &ts)) != CV_OK)
		goto out;
	if (mine.len == 0) {
		char d[300];

		/* Another key than configured, or a forged reply: nothing
		 * counts, and someone should look. */
		snprintf(d, sizeof d, "witness %s: its 200 reply holds no valid "
		    "cosignature of checkpoint %llu by the configured key",
		    w->c.name, (unsigned long long)p->cur.size);
		if (!w->refused)
			alert(p, "witness_refused", "warning", d);
		else
			fprintf(stderr, "clearvault serve: %s\n", d);
		w->refused = 1;
		backoff(w);
		goto out;
	}
	/* Saved before it counts: the next request's `old` is this size,
	 * and a restart must not send an older one (that is a 409 away). */
	if ((r = cv_witness_sent_save(p->dir, w->c.vkey, p->cur.size)) !=
	    CV_OK) {
		fprintf(stderr, "clearvault serve: witness %s: %s\n",
		    w->c.name, cv_err_detail());
		backoff(w);
		goto out;
	}
	if (w->conflict)
		fprintf(stderr, "clearvault serve: witness %s cosigns again "
		    "(size %llu)\n", w->c.name,
		    (unsigned long long)p->cur.size);
	w->sent = p->cur.size;
	w->line.len = 0;
	if (cv_buf_add(&w->line, mine.p, mine.len) == CV_OK)
		w->have = 1;
	w->backoff_ms = 0;
	w->next_us = 0;
	w->failing = w->conflict = w->refused = 0;
 out:
	cv_buf_free(&mine);
}

/*
 * One add-checkpoint exchange with W for the current checkpoint; a 409
 * that names a smaller size than we sent is tried once more from there
 * (our record of it was behind: a lost reply, a restore of DIR/witness).
 */
static void
push_one(struct cv_witness_pusher *p, struct wit *w, unsigned timeout_ms)
{
	struct cv_audit_proof pr;
	struct cv_buf body = { 0 }, reply = { 0 };
	uint64_t old = w->sent, theirs;
	int status, tries = 0;
	cv_err r;

 again:
	body.len = reply.len = 0;
	pr.n = 0;
	if (old > p->cur.size) {
		conflict(p, w, "it cosigned a tree of %llu entries, this "
		    "log's latest checkpoint has %llu (rolled back?)",
		    (unsigned long long)old, (unsigned long long)p->cur.size);
		goto out;
	}
	if (old > 0 && old < p->cur.size && (r = cv_audit_consistency(p->a,
	    old, p->cur.size, &pr)) != CV_OK) {
		fprintf(stderr, "clearvault serve: witness %s: no consistency "
		    "proof from %llu: %s\n", w->c.name,
		    (unsigned long long)old, cv_err_detail());
		backoff(w);
		goto out;
	}
	if ((r = cv_witness_req_format(old, (const uint8_t (*)[32])pr.hash,
	    pr.n, (const char *)p->note.p, p->note.len, &body)) != CV_OK)
		goto out;
	r = cv_witness_post(w->c.host, w->c.port, "/add-checkpoint", body.p,
	    body.len, timeout_ms, &status, &reply);
	if (r != CV_OK) {
		if (!w->failing)
			fprintf(stderr, "clearvault serve: witness %s (%s): "
			    "%s; retrying with backoff\n", w->c.name, w->c.url,
			    cv_err_detail());
		w->failing = 1;
		backoff(w);
		goto out;
	}
	w->failing = 0;
	switch (status) {
	case 200:
		accepted(p, w, &reply);
		break;
	case 409:
		if (cv_witness_size_parse((const char *)reply.p, reply.len,
		    &theirs) != CV_OK) {
			/* Our own size with another root is refused so (the
			 * witness says why in text): a fork at exactly the
			 * size it holds. Anything else without a size is a
			 * witness to look at; neither is dropped quietly. */
			if (old == p->cur.size)
				conflict(p, w, "it holds another tree of %llu "
				    "entries than this log's: a fork at its "
				    "size", (unsigned long long)old);
			else
				refused(p, w, "its 409 reply holds no size");
			break;
		}
		if (theirs > p->cur.size) {
			conflict(p, w, "it has cosigned a tree of %llu "
			    "entries, this log's latest checkpoint has %llu: "
			    "this vault was rolled back or forked",
			    (unsigned long long)theirs,
			    (unsigned long long)p->cur.size);
			break;
		}
		if (theirs != old && tries++ == 0) {
			old = theirs;
			goto again;
		}
		conflict(p, w, "it holds another tree of %llu entries than "
		    "this log's (409 at old %llu, checkpoint %llu): a fork",
		    (unsigned long long)theirs, (unsigned long long)old,
		    (unsigned long long)p->cur.size);
		break;
	case 422:
		conflict(p, w, "it refuses the consistency proof from %llu to "
		    "%llu entries: this log does not extend what it cosigned "
		    "(a rollback or a fork)", (unsigned long long)old,
		    (unsigned long long)p->cur.size);
		break;
	case 403:
	case 404:
		refused(p, w, status == 403 ? "answers 403: it does not "
		    "take this log's key (witness add-log)" : "answers 404: "
		    "it does not witness this log (witness add-log)");
		break;
	default:
		fprintf(stderr, "clearvault serve: witness %s: HTTP %d\n",
		    w->c.name, status);
		backoff(w);
		break;
	}
 out:
	cv_buf_free(&body);
	cv_buf_free(&reply);
}

/* The note and every cosignature it has, for keyd and the CLI. */
static void
save_cosigned(struct cv_witness_pusher *p)
{
	struct cv_buf all = { 0 };

	if (cv_buf_add(&all, p->note.p, p->note.len) != CV_OK)
		goto out;
	for (unsigned i = 0; i < p->n; i++)
		if (p->w[i].have && cv_buf_add(&all, p->w[i].line.p,
		    p->w[i].line.len) != CV_OK)
			goto out;
	if (cv_witness_cosigned_save(p->dir, (const char *)all.p, all.len) !=
	    CV_OK)
		fprintf(stderr, "clearvault serve: cannot save the cosigned "
		    "checkpoint: %s\n", cv_err_detail());
 out:
	cv_buf_free(&all);
}

/* The quorum's state for keyd, in one pwrite (keyd.h). Not written:
 * keyd goes on with the previous state, so a failure is said loudly. */
static void
quorum_put(struct cv_witness_pusher *p, int missing)
{
	uint8_t b[CV_KEYD_QUORUM_BYTES];

	if (p->quorum_fd < 0)
		return;
	cv_keyd_quorum_put(b, missing, missing ? p->unmet_since :
	    cv_now_us());
	if (pwrite(p->quorum_fd, b, sizeof b, 0) != (ssize_t)sizeof b)
		fprintf(stderr, "clearvault serve: cannot write the witness "
		    "quorum state for keyd: %s\n", strerror(errno));
}

static void
check_quorum(struct cv_witness_pusher *p, unsigned have)
{
	int64_t now = cv_now_us();
	char d[300];

	if (have >= p->quorum) {
		/* Confirmed this round (keyd refuses reads once this is
		 * too old: a pusher that stalls fails closed). */
		quorum_put(p, 0);
		if (p->quorum_alerted) {
			snprintf(d, sizeof d, "checkpoint %llu cosigned by %u "
			    "of %u witnesses (quorum %u)",
			    (unsigned long long)p->cur.size, have, p->n,
			    p->quorum);
			alert(p, "witness_quorum_restored", "info", d);
		}
		p->unmet_since = 0;
		p->quorum_alerted = 0;
		return;
	}
	if (p->unmet_since == 0)
		p->unmet_since = now;
	if (!p->quorum_alerted && now - p->unmet_since >= p->alert_after_us) {
		snprintf(d, sizeof d, "no checkpoint has a quorum of %u "
		    "cosignatures for %lld s (checkpoint %llu has %u of %u)",
		    p->quorum, (long long)((now - p->unmet_since) / 1000000),
		    (unsigned long long)p->cur.size, have, p->n);
		quorum_put(p, 1);
		alert(p, "witness_quorum_missing", "critical", d);
		p->quorum_alerted = 1;
	}
}

static void
round_once(struct cv_witness_pusher *p, int last)
{
	struct cv_checkpoint c;
	struct cv_audit_signer none = { .sign = NULL };
	unsigned have = 0, before = 0;
	int64_t now;

	if (p->a == NULL && cv_audit_open(p->dir, p->db[0] ? p->db : NULL,
	    p->vault_id, &none, 1, &p->a) != CV_OK) {
		/* The database away, say: tried again next round, and the
		 * quorum clock runs meanwhile. */
		p->a = NULL;
		goto quorum;
	}
	p->note.len = 0;
	if (cv_audit_latest_note(p->a, &p->note, &c) != CV_OK) {
		/* A handle gone bad (a database restart): a new one next
		 * round. The quorum clock keeps running meanwhile. */
		cv_audit_close(p->a);
		p->a = NULL;
		goto quorum;
	}
	if (c.size == 0)
		return;
	if (c.size != p->cur.size ||
	    memcmp(c.root, p->cur.root, sizeof c.root) != 0) {
		p->cur = c;
		for (unsigned i = 0; i < p->n; i++) {
			p->w[i].have = 0;
			/* A witness that answered last time is asked at
			 * once; one that is failing waits its turn. */
			if (!p->w[i].failing && !p->w[i].conflict &&
			    !p->w[i].refused)
				p->w[i].next_us = 0;
		}
	}
	for (unsigned i = 0; i < p->n; i++)
		before += (unsigned)p->w[i].have;
	for (unsigned i = 0; i < p->n; i++) {
		struct wit *w = &p->w[i];

		now = cv_now_us();
		if (!w->have && (now >= w->next_us || (last && !w->failing)))
			push_one(p, w, last ? LAST_TIMEOUT_MS : TIMEOUT_MS);
		have += (unsigned)w->have;
	}
	if (have > before)
		save_cosigned(p);
 quorum:
	/* A log this thread cannot read is a quorum it cannot confirm:
	 * HAVE stays 0 and the clock runs (reviewed: it froze at "met"). */
	check_quorum(p, have);
}

static void *
pusher(void *arg)
{
	struct cv_witness_pusher *p = arg;
	struct timespec until;
	int last;

	(void)pthread_setname_np(pthread_self(), "cv-witness");
	for (;;) {
		pthread_mutex_lock(&p->mu);
		if (!p->stop) {
			clock_gettime(CLOCK_MONOTONIC, &until);
			until.tv_nsec += ROUND_MS * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&p->cv, &p->mu, &until);
		}
		last = p->stop;
		pthread_mutex_unlock(&p->mu);
		round_once(p, last);
		if (last)
			break;
	}
	return NULL;
}

static void
pusher_free(struct cv_witness_pusher *p)
{
	for (unsigned i = 0; i < p->n; i++)
		cv_buf_free(&p->w[i].line);
	cv_buf_free(&p->note);
	cv_audit_close(p->a);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}

cv_err
cv_witness_pusher_start(const char *dir, const struct cv_config *cfg,
    int alerts_fd, int quorum_fd, void (*notify)(void *), void *notify_ctx,
    struct cv_witness_pusher **out)
{
	struct cv_witness_pusher *p;
	pthread_condattr_t ca;
	cv_err r = CV_ERR_INTERNAL;

	*out = NULL;
	if (cfg->nwitness == 0)
		return CV_OK;
	if ((p = calloc(1, sizeof *p)) == NULL)
		return CV_ERR_NOMEM;
	pthread_mutex_init(&p->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	p->alerts_fd = alerts_fd;
	p->quorum_fd = quorum_fd;
	p->notify = notify;
	p->notify_ctx = notify_ctx;
	p->n = cfg->nwitness;
	p->quorum = cfg->witness_quorum;
	p->alert_after_us = (int64_t)cfg->witness_alert_after * 1000000;
	if (cv_path(p->dir, sizeof p->dir, "%s", dir) != CV_OK ||
	    cv_path(p->db, sizeof p->db, "%s", cfg->db) != CV_OK) {
		r = CV_ERR_INVALID;
		goto fail;
	}
	memcpy(p->vault_id, cfg->vault_id, sizeof p->vault_id);
	for (unsigned i = 0; i < p->n; i++) {
		p->w[i].c = cfg->witness[i];
		if ((r = cv_witness_sent_load(dir, p->w[i].c.vkey,
		    &p->w[i].sent)) != CV_OK) {
			/* Unreadable: from 0, and the witness's 409 says
			 * where it is (one more round trip). */
			fprintf(stderr, "clearvault serve: %s\n",
			    cv_err_detail());
			p->w[i].sent = 0;
		}
	}
	if (pthread_create(&p->th, NULL, pusher, p) != 0) {
		r = cv_fail(CV_ERR_INTERNAL, "cannot start the witness "
		    "pusher thread");
		goto fail;
	}
	*out = p;
	return CV_OK;
 fail:
	pusher_free(p);
	return r;
}

void
cv_witness_pusher_stop(struct cv_witness_pusher *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	/* Nobody drains the events any more (keyd is gone): the last
	 * round's alerts are in alerts.jsonl only. */
	p->notify = NULL;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->th, NULL);
	pusher_free(p);
}
