/*
 * The key side: the request table, audit tickets, refusals.
 *
 * A read is checked and decrypted as it arrives, while its entry waits
 * for the log's committer (group commit); the text is held here and goes
 * out from the commit callback, once the entry is durable, or is wiped if
 * the entry failed. Plaintext exists before its entry only inside this
 * process; what leaves it always has its entry on disk first. Working
 * while the fsync runs, and replying from the committer, keeps a read to
 * two thread hand-offs in this process (channel -> committer -> channel).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "../auth/ca.h"
#include "../record/record.h"
#include "keyd_internal.h"


/* An entry being committed; a read's text waits in it. */
struct job {
	struct cv_keyd *k;
	keyd_send_fn *send;
	void *sendctx;
	uint16_t type;
	uint64_t id;
	struct cv_buf text;
};


static void
reply(struct cv_keyd *k, keyd_send_fn *send, void *ctx, uint16_t type,
    uint64_t id, cv_err st, const char *detail, uint64_t index,
    const struct cv_buf *text)
{
	struct cv_buf f = { 0 };

	(void)k;
	if (keyd_enc_reply(&f, type, id, st, detail, index,
	    text ? text->p : NULL, text ? text->len : 0) != CV_OK) {
		/* Too large or no memory: say so rather than go silent. */
		f.len = 0;
		if (keyd_enc_reply(&f, type, id, CV_ERR_NOMEM,
		    "keyd: the reply could not be built", 0, NULL, 0) != CV_OK)
			f.len = 0;
	}
	send(ctx, f.len ? &f : NULL);
	cv_buf_free(&f);
}

/*
 * A refusal or a protocol violation: an audit entry (synchronous, so that
 * it is on disk before the caller hears "no"), an alert line, syslog.
 */
void
keyd_alert_line(struct cv_keyd *k, const char *kind, const char *severity,
    const char *user, const char *detail, const uint64_t *index)
{
	/* alerts.jsonl is opened at the first alert. */
	pthread_mutex_lock(&k->mu);
	if (k->alerts_fd < 0) {
		char path[1100];

		if (cv_path(path, sizeof path, "%s/alerts.jsonl",
		    cv_vault_dir(k->v)) == CV_OK)
			k->alerts_fd = open(path, O_WRONLY | O_APPEND |
			    O_CREAT | O_CLOEXEC, 0600);
	}
	pthread_mutex_unlock(&k->mu);
	cv_keyd_alert_write(k->alerts_fd, cv_vault_id(k->v), kind, severity,
	    user, detail, index);
}

void
keyd_alert(struct cv_keyd *k, const char *kind, const char *actor,
    const char *detail, const char *rid)
{
	struct cv_audit_entry e = { 0 };
	uint64_t index = 0;
	cv_err r;

	e.outcome = CV_AUDIT_DENIED;
	e.action = kind;
	e.actor = actor && *actor ? actor : "keyd";
	e.reason = detail;
	e.records = rid ? &rid : NULL;
	e.nrecords = rid ? 1 : 0;
	if ((r = cv_audit_append(k->a, &e, &index)) == CV_OK) {
		pthread_mutex_lock(&k->mu);
		if (index + 1 > k->durable)
			k->durable = index + 1;
		pthread_mutex_unlock(&k->mu);
	}
	keyd_alert_line(k, strcmp(kind, "keyd.violation") == 0 ?
	    "keyd_violation" : "keyd_refused", "critical", actor, detail,
	    r == CV_OK ? &index : NULL);
}

void
cv_keyd_alert_write(int fd, const char *vault_id, const char *kind,
    const char *severity, const char *user, const char *detail,
    const uint64_t *index)
{
	struct cv_keyd_alert a = { .kind = kind, .severity = severity,
	    .user = user, .detail = detail, .vault_id = vault_id,
	    .indices = index, .n = index ? 1 : 0 };

	cv_keyd_alert_emit(fd, &a);
}

void
keyd_violation(struct cv_keyd *k, const char *why)
{
	keyd_alert(k, "keyd.violation", NULL, why, NULL);
}

/*
 * The ticket: entry INDEX is durable, was allowed, is PRINCIPAL's, names
 * RID and covers SECTIONS. Read back from the log, not from memory: the
 * log is what an auditor will see.
 */
static cv_err
check_ticket(struct cv_keyd *k, uint64_t index, const char *principal,
    const char *rid, unsigned sections)
{
	struct cv_buf leaf = { 0 };
	struct cv_audit_view v;
	struct cv_audit_str s;
	size_t pos = 0, n = strlen(rid);
	const char *why = NULL;
	int named = 0;
	cv_err r;

	pthread_mutex_lock(&k->mu);
	if (index >= k->durable)
		why = "the ticket's entry is not durable";
	pthread_mutex_unlock(&k->mu);
	if (why)
		goto out;
	if ((r = cv_audit_leaf(k->a, index, &leaf)) != CV_OK) {
		why = r == CV_ERR_NOT_FOUND ? "the ticket is not a durable "
		    "audit entry" : "the ticket's entry cannot be read";
		goto out;
	}
	if (cv_audit_view(leaf.p, leaf.len, &v) != CV_OK) {
		why = "the ticket's entry is malformed";
		goto out;
	}
	s = v.f[CV_AUDIT_ACTOR];
	if (v.outcome != CV_AUDIT_ALLOWED)
		why = "the ticket's entry was not allowed";
	else if (s.len != strlen(principal) ||
	    memcmp(s.p, principal, s.len) != 0)
		why = "the ticket belongs to another principal";
	else if (sections & ~v.sections)
		why = "the ticket does not cover these sections";
	while (!why && cv_audit_view_record(&v, &pos, &s))
		if (s.len == n && memcmp(s.p, rid, n) == 0)
			named = 1;
	if (!why && !named)
		why = "the ticket names another record";
 out:
	cv_buf_free(&leaf);
	if (why == NULL)
		return CV_OK;
	return cv_fail(CV_ERR_AUTH, "ticket %llu refused: %s",
	    (unsigned long long)index, why);
}

/* A read's record as keyd_dispatch_reads read it with others. */
struct prefetched {
	struct cv_vault *v;		/* a handle with the keys */
	struct cv_vault_rows *rows;
	size_t i;			/* this read's row */
};

/*
 * The only place record plaintext is made: SECTIONS of record RID into
 * OUT, from its row in PRE when given, else read now. Callers hold it
 * back until the entry that names it is durable.
 */
static cv_err
decrypt_with(struct cv_keyd *k, const char *rid, unsigned sections,
    const struct prefetched *pre, struct cv_buf *out)
{
	const char *names[CV_RECORD_NSECTIONS + 1];
	struct cv_vault *v;
	size_t n = 0;
	cv_err r;

	/* Before anything is decrypted, so before the entry of a read:
	 * the api worker writes the refusal's (read_failed). */
	if ((r = keyd_quorum_gate(k)) != CV_OK)
		return r;
	for (int i = 0; i < CV_RECORD_NSECTIONS; i++)
		if (sections & (1u << i))
			names[n++] = cv_record_sections[i];
	names[n] = NULL;
	if (pre)
		r = cv_vault_rows_text(pre->v, pre->rows, pre->i, names, out);
	else {
		if ((v = keyd_vault_get(k)) == NULL)
			return cv_fail(CV_ERR_STORE, "keyd: no database "
			    "handle");
		r = cv_vault_get_text(v, rid, names, out);
		keyd_vault_put(k, v);
	}
	/* The token went (cv_keys_check): said apart from "no key
	 * process", which the caller hears as CV_ERR_HSM. */
	if (r == CV_ERR_HSM && cv_keys_lost(k->keys))
		r = CV_ERR_HSM_TOKEN;
	return r;
}

static cv_err
decrypt(struct cv_keyd *k, const char *rid, unsigned sections,
    struct cv_buf *out)
{
	return decrypt_with(k, rid, sections, NULL, out);
}

/* DECRYPT: a ticket from outside is read back from the log and checked
 * field by field before anything is decrypted. */
static cv_err
release(struct cv_keyd *k, uint64_t ticket, const char *principal,
    const char *rid, unsigned sections, struct cv_buf *out)
{
	if (check_ticket(k, ticket, principal, rid, sections) != CV_OK) {
		keyd_alert(k, "keyd.refused", principal, cv_err_detail(), rid);
		return cv_fail(CV_ERR_AUTH, "ticket %llu refused",
		    (unsigned long long)ticket);
	}
	return decrypt(k, rid, sections, out);
}

static void
job_done(struct cv_keyd *k, struct job *j)
{
	cv_buf_free(&j->text);	/* wiped */
	free(j);
	pthread_mutex_lock(&k->mu);
	if (--k->pending == 0)
		pthread_cond_broadcast(&k->cv);	/* cv_keyd_free */
	pthread_mutex_unlock(&k->mu);
}

/* The committer's callback: the entry is durable (or failed), and a
 * read's text leaves now (or never). */
static void
committed(void *ctx, cv_err r, uint64_t index)
{
	struct job *j = ctx;
	struct cv_keyd *k = j->k;
	char detail[200];

	keyd_hold_replies();
	if (r == CV_OK) {
		pthread_mutex_lock(&k->mu);
		if (index + 1 > k->durable)
			k->durable = index + 1;
		pthread_mutex_unlock(&k->mu);
		reply(k, j->send, j->sendctx, j->type, j->id, CV_OK, NULL,
		    index, j->type == KEYD_READ ? &j->text : NULL);
	} else {
		/* The log's own detail is this thread's; one code for "not
		 * on the log", whatever the log's own error. */
		snprintf(detail, sizeof detail, "%s; nothing was released",
		    cv_err_detail());
		reply(k, j->send, j->sendctx, j->type, j->id,
		    j->type == KEYD_READ ? CV_ERR_IO : r, detail, index, NULL);
	}
	job_done(k, j);
}

/*
 * APPEND and READ: the entry is the request. A read is decrypted first,
 * so that a record that cannot be returned (gone, shredded, the HSM lost)
 * is refused before the log could say "allowed" for it.
 */
static cv_err
submit(struct cv_keyd *k, struct keyd_req *q, keyd_send_fn *send, void *ctx,
    const struct prefetched *pre)
{
	struct cv_audit_entry e = q->e;
	struct job *j;
	cv_err r;

	/* Unauthenticated requests have no actor; every entry has an
	 * action, and a read has a reader. */
	if (e.action == NULL)
		return cv_fail(CV_ERR_INVALID, "an entry needs an action");
	if (q->type == KEYD_READ && (e.actor == NULL ||
	    e.outcome != CV_AUDIT_ALLOWED ||
	    e.nrecords != 1 || e.sections == 0))
		return cv_fail(CV_ERR_INVALID, "a read names one record and "
		    "its sections, allowed");
	e.time_us = 0;	/* the key side's clock, not the caller's */
	if ((j = calloc(1, sizeof *j)) == NULL)
		return CV_ERR_NOMEM;
	j->k = k;
	j->send = send;
	j->sendctx = ctx;
	j->type = q->type;
	j->id = q->id;
	if (q->type == KEYD_READ && (r = decrypt_with(k, e.records[0],
	    e.sections, pre, &j->text)) != CV_OK) {
		cv_buf_free(&j->text);
		free(j);
		return r;
	}
	pthread_mutex_lock(&k->mu);
	k->pending++;
	pthread_mutex_unlock(&k->mu);
	if ((r = cv_audit_submit(k->a, &e, committed, j)) != CV_OK)
		job_done(k, j);
	return r;
}

/* Entries only the operator's own process writes: a channel that tries
 * is refused, and it is an alert. */
static cv_err
entry_allowed(struct cv_keyd *k, const struct keyd_req *q, int remote)
{
	if (remote && q->e.source && (!strcmp(q->e.source, "cli") ||
	    !strncmp(q->e.action ? q->e.action : "", "keyd.", 5))) {
		keyd_alert(k, "keyd.refused", q->e.actor, "an entry in the "
		    "command line's or keyd's name, from the network process",
		    NULL);
		return cv_fail(CV_ERR_AUTH, "that entry is not the network "
		    "process's to write");
	}
	return CV_OK;
}

void
keyd_dispatch_reads(struct cv_keyd *k, struct keyd_req *q, size_t n,
    keyd_send_fn *send, void *ctx, int remote)
{
	const char *ids[KEYD_READ_BATCH];
	struct prefetched pre = { 0 };
	struct cv_vault *v;
	size_t m = 0, at[KEYD_READ_BATCH];
	cv_err r;

	/* The rows of the reads that name one good record; the others
	 * (and all, if the rows cannot be read at once) go one by one,
	 * as they would alone, to be refused or answered there. */
	for (size_t i = 0; i < n && i < KEYD_READ_BATCH; i++) {
		at[i] = SIZE_MAX;
		if (q[i].type == KEYD_READ && q[i].e.nrecords == 1 &&
		    cv_record_valid_id(q[i].e.records[0])) {
			at[i] = m;
			ids[m++] = q[i].e.records[0];
		}
	}
	/* The pool's handle for the statement only: the reads that go one
	 * by one below take one each (holding it would let channels wait
	 * on each other for the pool), and a row's text needs only the
	 * keys, which every handle shares. */
	if (n > 1 && m > 1 && (v = keyd_vault_get(k)) != NULL) {
		if (cv_vault_rows_fetch(v, ids, m, &pre.rows) != CV_OK)
			pre.rows = NULL;
		keyd_vault_put(k, v);
	}
	pre.v = k->v;
	for (size_t i = 0; i < n; i++) {
		if (pre.rows == NULL || i >= KEYD_READ_BATCH ||
		    at[i] == SIZE_MAX) {
			keyd_dispatch(k, &q[i], send, ctx, remote);
			continue;
		}
		cv_err_clear();
		pre.i = at[i];
		if ((r = entry_allowed(k, &q[i], remote)) == CV_OK &&
		    (r = submit(k, &q[i], send, ctx, &pre)) == CV_OK)
			continue;
		reply(k, send, ctx, q[i].type, q[i].id, r, cv_err_detail(), 0,
		    NULL);
	}
	cv_vault_rows_free(pre.rows);
}

void
keyd_dispatch(struct cv_keyd *k, struct keyd_req *q, keyd_send_fn *send,
    void *ctx, int remote)
{
	struct cv_buf out = { 0 };
	uint8_t b[CV_EC_SIG_BYTES > CV_BIDX_BYTES ? CV_EC_SIG_BYTES :
	    CV_BIDX_BYTES];
	uint64_t index = 0;
	cv_err r;

	cv_err_clear();
	switch (q->type) {
	case KEYD_APPEND:
	case KEYD_READ:
		if ((r = entry_allowed(k, q, remote)) == CV_OK &&
		    (r = submit(k, q, send, ctx, NULL)) == CV_OK)
			return;	/* replied to after the commit */
		break;
	case KEYD_DECRYPT:
		r = release(k, q->u64, q->s[0], q->s[1], q->sections, &out);
		break;
	case KEYD_BLIND_INDEX:
		if ((r = cv_keys_blind_index(k->keys,
		    (enum cv_bidx_kind)q->kind, q->data, q->len, b)) == CV_OK)
			r = cv_buf_add(&out, b, CV_BIDX_BYTES);
		break;
	case KEYD_SIGN_TLS:
		/* A SHA-256 hash, all GnuTLS gives an external ECDSA key:
		 * what was hashed cannot be checked here (docs/privsep.md). */
		if (q->len != 32) {
			keyd_alert(k, "keyd.refused", NULL, "a TLS signature "
			    "over something that is not a SHA-256 hash", NULL);
			r = cv_fail(CV_ERR_AUTH, "the server key signs SHA-256 "
			    "hashes only");
			break;
		}
		if ((r = cv_keys_ec_sign(k->keys, CV_EC_TLS, q->data, b)) ==
		    CV_OK)
			r = cv_buf_add(&out, b, CV_EC_SIG_BYTES);
		break;
	default:
		r = keyd_ops(k, q, remote, &index, &out);
	}
	reply(k, send, ctx, q->type, q->id, r, r ? cv_err_detail() : NULL,
	    index, &out);
	sodium_memzero(b, sizeof b);
	cv_buf_free(&out);
}

cv_err
cv_keyd_new(struct cv_vault *v, struct cv_audit *a, struct cv_keyd **out)
{
	struct cv_keyd *k;
	cv_err r = CV_OK;

	*out = NULL;
	if ((k = calloc(1, sizeof *k)) == NULL)
		return CV_ERR_NOMEM;
	k->v = v;
	k->keys = cv_vault_keys(v);
	k->a = a;
	k->alerts_fd = -1;
	k->quorum_fd = -1;
	pthread_mutex_init(&k->mu, NULL);
	pthread_cond_init(&k->cv, NULL);
	pthread_cond_init(&k->tick, NULL);
	pthread_cond_init(&k->poolcv, NULL);
	k->pool_max = KEYD_POOL;
	/* alerts.jsonl is opened at the first alert: a command that raises
	 * none leaves the vault as it was. */
	/* What the log holds when it is opened was made durable (and
	 * repaired) before: tickets up to here are good. */
	if ((r = cv_audit_size(a, &k->durable)) != CV_OK) {
		cv_keyd_free(k);
		return r;
	}
	cv_audit_on_batch(a, keyd_release_replies, NULL);
	*out = k;
	return CV_OK;
}

cv_err
cv_keyd_ca_ensure(struct cv_keyd *k)
{
	return cv_ca_ensure(k->keys, cv_vault_dir(k->v), cv_vault_id(k->v));
}

void
cv_keyd_pubkey(const struct cv_keyd *k, enum cv_signer which,
    uint8_t pk[static CV_SIGN_PK_BYTES])
{
	cv_keys_pubkey(k->keys, which, pk);
}

void
cv_keyd_ec_pubkey(const struct cv_keyd *k, enum cv_ec which,
    uint8_t pt[static CV_EC_POINT_BYTES])
{
	cv_keys_ec_pubkey(k->keys, which, pt);
}

struct cv_vault *
keyd_vault_get(struct cv_keyd *k)
{
	struct cv_vault *v = NULL;

	pthread_mutex_lock(&k->mu);
	for (;;) {
		if (k->nfree > 0) {
			v = k->freev[--k->nfree];
			break;
		}
		if (k->npool < k->pool_max) {
			if (cv_vault_dup(k->v, &v) == CV_OK)
				k->pool[k->npool++] = v;
			break;
		}
		pthread_cond_wait(&k->poolcv, &k->mu);
	}
	pthread_mutex_unlock(&k->mu);
	return v;
}

void
keyd_vault_put(struct cv_keyd *k, struct cv_vault *v)
{
	if (v == NULL)
		return;
	pthread_mutex_lock(&k->mu);
	k->freev[k->nfree++] = v;
	pthread_cond_signal(&k->poolcv);
	pthread_mutex_unlock(&k->mu);
}

cv_err
cv_keyd_prepare(struct cv_keyd *k, unsigned n)
{
	struct cv_vault *v;
	uint32_t ver;
	cv_err r = CV_OK;

	if (n > KEYD_POOL)
		n = KEYD_POOL;
	pthread_mutex_lock(&k->mu);
	while (r == CV_OK && (unsigned)k->npool < n) {
		if ((r = cv_vault_dup(k->v, &v)) != CV_OK)
			break;
		k->pool[k->npool++] = v;
		k->freev[k->nfree++] = v;
		/* SQLite opens its -wal and -shm files at the first
		 * statement: now, not inside the sandbox. */
		if ((r = cv_store_version(cv_vault_store(v), "CV-0", &ver)) ==
		    CV_ERR_NOT_FOUND)
			r = CV_OK;
	}
	if (r == CV_OK)
		k->pool_max = k->npool;
	pthread_mutex_unlock(&k->mu);
	return r;
}

struct watch_arg {
	struct cv_keyd *k;
	unsigned seconds;
};

static void *
watch_hsm(void *arg)
{
	struct watch_arg w = *(struct watch_arg *)arg;
	struct cv_keyd *k = w.k;
	struct timespec until;

	free(arg);
	pthread_mutex_lock(&k->mu);
	while (!k->stopping) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += w.seconds;
		pthread_cond_timedwait(&k->tick, &k->mu, &until);
		if (k->stopping)
			break;
		pthread_mutex_unlock(&k->mu);
		(void)cv_keyd_hsm_tick(k);
		pthread_mutex_lock(&k->mu);
	}
	pthread_mutex_unlock(&k->mu);
	return NULL;
}

cv_err
cv_keyd_watch_hsm(struct cv_keyd *k, unsigned seconds)
{
	struct watch_arg *w;

	if (k->watching)
		return CV_OK;
	if ((w = malloc(sizeof *w)) == NULL)
		return CV_ERR_NOMEM;
	w->k = k;
	w->seconds = seconds ? seconds : 1;
	if (pthread_create(&k->watcher, NULL, watch_hsm, w) != 0) {
		free(w);
		return cv_fail(CV_ERR_INTERNAL, "keyd: no thread");
	}
	k->watching = 1;
	return CV_OK;
}

void
cv_keyd_free(struct cv_keyd *k)
{
	if (k == NULL)
		return;
	/* Every submitted entry is answered before keyd goes. */
	pthread_mutex_lock(&k->mu);
	while (k->pending > 0)
		pthread_cond_wait(&k->cv, &k->mu);
	k->stopping = 1;
	pthread_cond_broadcast(&k->cv);
	pthread_cond_broadcast(&k->tick);
	pthread_mutex_unlock(&k->mu);
	if (k->watching)
		pthread_join(k->watcher, NULL);
	if (k->alerts_fd >= 0)
		close(k->alerts_fd);
	for (int i = 0; i < k->npool; i++)
		cv_vault_close(k->pool[i]);
	pthread_mutex_destroy(&k->mu);
	pthread_cond_destroy(&k->cv);
	pthread_cond_destroy(&k->tick);
	pthread_cond_destroy(&k->poolcv);
	free(k);
}
