/* The daemon: TLS, client certificates, request bodies, replies. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <syslog.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <jansson.h>
#include <sodium.h>

#include "../auth/ca.h"
#include "../sandbox/sandbox.h"
#include "api_internal.h"

/* TLS 1.3; TLS 1.2 only with AEAD suites and forward secrecy. */
#define PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:" \
	"-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:" \
	"-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_PRECEDENCE"

static volatile sig_atomic_t stop;
/* One server per process: the TLS callback has no other way to find it. */
static struct server *the_server;
static _Thread_local struct cv_vault *thread_vault;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct cv_vault *
api_vault(struct server *srv)
{
	struct cv_vault *v;

	if (thread_vault)
		return thread_vault;
	/* One database connection per worker thread, closed at shutdown;
	 * in the sandbox, one of those opened before it (no file can be
	 * opened after). */
	pthread_mutex_lock(&srv->mu);
	if (srv->pooled) {
		if (srv->given < srv->nhandles)
			thread_vault = srv->handles[srv->given++];
	} else if (srv->nhandles < API_MAX_THREADS &&
	    cv_vault_dup(srv->v, &v) == CV_OK) {
		cv_store_follow_use(cv_vault_store(v), srv->follow);
		srv->handles[srv->nhandles++] = v;
		thread_vault = v;
	}
	pthread_mutex_unlock(&srv->mu);
	return thread_vault;
}

struct cv_store *
api_store(struct server *srv)
{
	struct cv_vault *v = api_vault(srv);

	return v ? cv_vault_store(v) : NULL;
}

void
api_read_end(struct req *r)
{
	if (r->txn) {
		cv_store_read_end(r->txn);
		r->txn = NULL;
	}
}

int
api_shared(struct server *srv)
{
	return srv->store != NULL && cv_store_shared(srv->store);
}

void
api_end_sessions(struct server *srv, struct cv_store *db, const char *user)
{
	cv_err e = db ? cv_sessions_end_user(srv->sessions, db, user) :
	    CV_ERR_STORE;

	if (e != CV_OK) {
		fprintf(stderr, "clearvault serve: %s's sessions ended on this "
		    "node only: %s\n", user, cv_err_detail());
		/* A locked user's, on every node too, once the store works:
		 * a thief's session must not outlive the lock elsewhere. */
		api_end_sessions_later(srv, user);
	}
}

/* The server certificate, with a key that signs inside the keys module. */
static int
cert_cb(gnutls_session_t s, const gnutls_datum_t *req_ca_dn, int nreqs,
    const gnutls_pk_algorithm_t *algos, int nalgos, gnutls_pcert_st **pcert,
    unsigned int *plen, gnutls_privkey_t *key)
{
	struct server *srv = the_server;

	(void)s;
	(void)req_ca_dn;
	(void)nreqs;
	(void)algos;
	(void)nalgos;
	if (srv == NULL)
		return -1;
	*pcert = &srv->pcert;
	*plen = 1;
	*key = srv->tls_key;
	return 0;
}

void
api_source_address(struct MHD_Connection *c, char *out, size_t size)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	snprintf(out, size, "?");
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || (sa = ci->client_addr) == NULL)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    out, (socklen_t)size);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
		    (socklen_t)size);
}

static void
entry_of(struct req *r, enum cv_audit_outcome outcome,
    struct cv_audit_entry *e)
{
	memset(e, 0, sizeof *e);
	e->outcome = outcome;
	e->action = r->action ? r->action : "http";
	e->actor = r->who.user[0] ? r->who.user : "";
	e->cert = r->cert;
	e->source = r->source;
	e->session = r->who.session;
	e->purpose = r->purpose;
	e->reason = r->reason;
	e->records = r->records;
	e->nrecords = r->nrecords;
	e->sections = r->sections;
}

/* keyd's answer to R's entry: durable (or failed); for a read, TEXT is
 * what keyd released under it. */
static void
answered(struct req *r, cv_err err, uint64_t index, const struct cv_buf *text)
{
	r->audited = err;
	if (r->reading) {
		/* keyd's words, for the refusal's entry and problem
		 * (read_failed): "no witness quorum for N s: ..." */
		if (err == CV_ERR_QUORUM)
			snprintf(r->reason, sizeof r->reason, "%s",
			    cv_err_detail());
		r->out.len = 0;
		if (err == CV_OK && text && text->len &&
		    cv_buf_add(&r->out, text->p, text->len) != CV_OK)
			r->audited = CV_ERR_NOMEM;
		/* The budget counts what left: text, not an entry alone;
		 * a read keyd refused has no entry (read_failed writes
		 * one). */
		api_guard_settle(r, r->audited == CV_OK);
		api_guard_emit(r, index, err == CV_OK);
	} else
		api_guard_emit(r, index, err == CV_OK);
}

/* On the keyd client's thread: the parked reply may go now. */
static void
on_durable(void *ctx, cv_err err, uint64_t index, const struct cv_buf *text)
{
	struct req *r = ctx;
	struct server *srv = r->srv;

	if (err == CV_OK)
		api_metrics_commit(srv->metrics, cv_time_us() - r->submit_us);
	answered(r, err, index, text);
	MHD_resume_connection(r->conn);
	__atomic_sub_fetch(&srv->suspended, 1, __ATOMIC_SEQ_CST);
}

/*
 * One TLS record per reply. libmicrohttpd hands GnuTLS the headers and the
 * body separately, so a record went out as two TLS records, two sendmsg
 * calls, two TCP segments and often two wakeups of the client: corking the
 * session for the reply and uncorking it once the library has written all
 * of it (on_done) sends one. The library also corks the socket for small
 * replies and tracks that state itself; what we send after its last write
 * may find the socket still corked (measured: 200 ms, the kernel's cork
 * limit), so the uncork pushes it out with TCP_NODELAY, which sends what
 * is queued whatever the cork. Not above CORK_MAX nor into a non-empty
 * send queue, so that the uncork cannot find the socket full: a client
 * that does not read must never hold a worker.
 */
#define CORK_MAX 8192

static void
cork(struct req *r, size_t body_len)
{
	const union MHD_ConnectionInfo *ci;
	gnutls_session_t s;
	int fd, queued;

	if (body_len > CORK_MAX || (ci = MHD_get_connection_info(r->conn,
	    MHD_CONNECTION_INFO_CONNECTION_FD)) == NULL)
		return;
	fd = ci->connect_fd;
	if ((ci = MHD_get_connection_info(r->conn,
	    MHD_CONNECTION_INFO_GNUTLS_SESSION)) == NULL ||
	    (s = ci->tls_session) == NULL)
		return;
	if (ioctl(fd, SIOCOUTQ, &queued) != 0 || queued != 0)
		return;
	gnutls_record_cork(s);
	r->corked = s;
	r->corked_fd = fd;
}

/* The whole reply is in GnuTLS's buffer: send it as one record. */
static void
uncork(struct req *r)
{
	struct pollfd p = { .fd = r->corked_fd, .events = POLLOUT };
	int rc = gnutls_record_uncork(r->corked, 0), one = 1;

	/* Not expected (see cork); bounded if it happens anyway. */
	for (int i = 0; i < 10 && (rc == GNUTLS_E_AGAIN ||
	    rc == GNUTLS_E_INTERRUPTED); i++) {
		(void)poll(&p, 1, 100);
		rc = gnutls_record_uncork(r->corked, 0);
	}
	(void)setsockopt(r->corked_fd, IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof one);
	r->corked = NULL;
}

#define CONSOLE_CSP "default-src 'none'; script-src 'self'; " \
    "style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; " \
    "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

static enum MHD_Result
respond(struct req *r, unsigned status, const char *type, struct cv_buf *body)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t len = body->len;
	void *p = body->p;

	r->status = status;	/* for /metrics, whichever path answered */
	/* MHD takes our bytes (no copy of its own that it would free
	 * unwiped) and wipes them when it is done (issue 17). */
	*body = (struct cv_buf){ 0 };
	resp = MHD_create_response_from_buffer_with_free_callback_cls(len, p,
	    cv_free_wiped, p);
	if (resp == NULL) {
		cv_free_wiped(p);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", type);
	/* Only a success may be kept: a refusal or a 503 must be asked
	 * again. */
	MHD_add_response_header(resp, "Cache-Control", r->cache &&
	    status >= 200 && status < 300 ? r->cache : "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	/* The console's page runs its own script and nothing else: no
	 * inline script or style, no other origin, no frame around it (docs/
	 * web.md). Every other reply is data and may run nothing at all. */
	MHD_add_response_header(resp, "Content-Security-Policy",
	    strncmp(type, "text/html", 9) == 0 ? CONSOLE_CSP :
	    "default-src 'none'; frame-ancestors 'none'");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Cross-Origin-Opener-Policy",
	    "same-origin");
	MHD_add_response_header(resp, "Cross-Origin-Resource-Policy",
	    "same-origin");
	MHD_add_response_header(resp, "Strict-Transport-Security",
	    "max-age=31536000");
	cork(r, len);
	r->replied = 1;
	ret = MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static cv_err
problem_body(unsigned status, const char *slug, const char *detail,
    struct cv_buf *out)
{
	json_t *j = json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank",
	    "title", slug, "status", (int)status, "detail", detail);
	char *s;
	cv_err r;

	if (j == NULL || (s = json_dumps(j, JSON_COMPACT)) == NULL) {
		json_decref(j);
		return CV_ERR_NOMEM;
	}
	r = cv_buf_add(out, s, strlen(s));
	free(s);
	json_decref(j);
	return r;
}

/* The 503 that goes out instead of BODY when the log failed. */
static enum MHD_Result
fail_closed(struct req *r, struct cv_buf *body)
{
	struct cv_buf p = { 0 };

	cv_buf_free(body);
	if (problem_body(503, "audit log unavailable", "the request "
	    "could not be recorded; nothing was returned", &p) != CV_OK)
		return MHD_NO;
	return respond(r, 503, "application/problem+json", &p);
}

static enum MHD_Result read_failed(struct req *r, cv_err e);

/* Fuzzing builds count the requests parked for their entry: the harness
 * drives the daemon (cv_server_fuzz_run) and must know when nothing is
 * left to answer. Only the daemon's thread, the harness's, changes it. */
static void
parked(struct server *srv, int n)
{
#ifdef CV_FUZZ
	srv->fuzz_parked += n;
#else
	(void)srv;
	(void)n;
#endif
}

/* The reply held back by api_reply, now that the log has answered. */
static enum MHD_Result
release(struct req *r)
{
	if (r->waiting)
		parked(r->srv, -1);
	r->waiting = 0;
	if (r->reading && r->audited != CV_OK)
		return read_failed(r, r->audited);
	if (r->audited != CV_OK)
		return fail_closed(r, &r->out);
	return respond(r, r->status, r->type, &r->out);
}

/* A read while the server drains: R's pass spent, waiting. */
static cv_err
read_now(struct req *r, const struct cv_audit_entry *e, uint64_t *index,
    struct cv_buf *text)
{
	struct cv_core_pass *p = r->pass;

	r->pass = NULL;
	return cv_core_read_wait(r->srv->kd, p, e, index, text);
}

/*
 * R's entry E goes to keyd (a read's too: keyd releases its text under
 * it), and R's reply (r->status, r->type, r->out) waits for the answer.
 * The connection is parked meanwhile and this worker thread goes on with
 * others; once the server drains, the answer is awaited here instead.
 */
static enum MHD_Result
await_entry(struct req *r, const struct cv_audit_entry *e)
{
	struct server *srv = r->srv;
	cv_err err;

	/* Counted before draining is read: see cv_server_run. */
	__atomic_add_fetch(&srv->suspended, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&srv->draining, __ATOMIC_SEQ_CST)) {
		struct cv_buf text = { 0 };
		uint64_t index = 0;

		__atomic_sub_fetch(&srv->suspended, 1, __ATOMIC_SEQ_CST);
		err = r->reading ? read_now(r, e, &index, &text) :
		    cv_keyd_append(srv->kd, e, &index);
		answered(r, err, index, &text);
		cv_buf_free(&text);
		return release(r);
	}
	r->waiting = 1;
	parked(srv, 1);
	r->submit_us = cv_time_us();
	MHD_suspend_connection(r->conn);
	/* On success keyd's answer may already have come: only a refusal
	 * to take the request is ours to handle. */
	if (r->reading) {
		struct cv_core_pass *p = r->pass;

		r->pass = NULL;	/* spent, whatever happens */
		err = cv_core_read(srv->kd, p, e, on_durable, r);
	} else
		err = cv_keyd_append_async(srv->kd, e, on_durable, r);
	if (err != CV_OK) {
		r->audited = err;
		api_guard_emit(r, 0, 0);
		MHD_resume_connection(r->conn);
		__atomic_sub_fetch(&srv->suspended, 1, __ATOMIC_SEQ_CST);
	}
	return MHD_YES;
}

enum MHD_Result
api_reply(struct req *r, unsigned status, enum cv_audit_outcome outcome,
    const char *type, struct cv_buf *body)
{
	struct server *srv = r->srv;
	struct cv_audit_entry e;

	/* Release the snapshot before waiting for the log. */
	api_read_end(r);
	__atomic_add_fetch(&srv->requests, 1, __ATOMIC_RELAXED);
	if (outcome != CV_AUDIT_ALLOWED)
		__atomic_add_fetch(&srv->refused, 1, __ATOMIC_RELAXED);
	/* Recorded already (api_audit_now), durable: nothing to wait for.
	 * A failure after that is recorded as one more entry. */
	if (r->preaudited && outcome == CV_AUDIT_ALLOWED) {
		if (r->gd.nalerts)
			api_guard_emit(r, r->preaudit_index, 1);
		return respond(r, status, type, body);
	}
	entry_of(r, outcome, &e);
	r->status = status;
	r->type = type;
	r->out = *body;
	*body = (struct cv_buf){ 0 };
	return await_entry(r, &e);
}

/*
 * keyd released nothing for a read, and wrote no entry for it: the record
 * is gone or shredded, or the HSM went (keyd decrypts before the entry),
 * or the entry itself could not be made durable, or keyd refuses reads
 * by policy (witness_no_quorum = refuse-reads: a 503 with keyd's
 * detail). The refusal is an entry of its own; without the log, fail
 * closed.
 */
static enum MHD_Result
read_failed(struct req *r, cv_err e)
{
	struct cv_audit_entry en;
	enum cv_audit_outcome outcome = CV_AUDIT_DENIED;
	unsigned status = e == CV_ERR_NOT_FOUND ? 404 : e == CV_ERR_SHREDDED ?
	    410 : 0;
	struct cv_buf p = { 0 };

	cv_buf_free(&r->out);
	if (e == CV_ERR_QUORUM) {
		/* r->reason is keyd's detail (answered). */
		if (r->reason[0] == '\0')
			snprintf(r->reason, sizeof r->reason, "%s",
			    cv_strerror(e));
		r->sections = 0;
		entry_of(r, CV_AUDIT_DENIED, &en);
		if (cv_keyd_append(r->srv->kd, &en, NULL) != CV_OK)
			return fail_closed(r, &p);
		if (problem_body(503, "reads refused", r->reason, &p) !=
		    CV_OK)
			return MHD_NO;
		return respond(r, 503, "application/problem+json", &p);
	}
	if (e == CV_ERR_HSM_TOKEN) {
		/* keyd's HSM went: every request is refused from now on,
		 * not only after the next status check. */
		__atomic_store_n(&r->srv->hsm_lost, 1, __ATOMIC_RELEASE);
		outcome = CV_AUDIT_ERROR;
	} else if (status == 0)	/* the log, or keyd itself */
		return fail_closed(r, &r->out);
	snprintf(r->reason, sizeof r->reason, "not released: %s",
	    cv_strerror(e));
	r->sections = 0;
	entry_of(r, outcome, &en);
	if (cv_keyd_append(r->srv->kd, &en, NULL) != CV_OK)
		return fail_closed(r, &p);
	if (status == 0) {
		if (problem_body(503, "HSM unavailable", "the vault's HSM "
		    "token cannot be reached; nothing is served until it is "
		    "back", &p) != CV_OK)
			return MHD_NO;
		return respond(r, 503, "application/problem+json", &p);
	}
	if (problem_body(status, status == 404 ? "not found" : "gone",
	    status == 404 ? "no such record" : "the record was shredded",
	    &p) != CV_OK)
		return MHD_NO;
	return respond(r, status, "application/problem+json", &p);
}

enum MHD_Result
api_reply_read(struct req *r)
{
	struct server *srv = r->srv;
	struct cv_audit_entry e;

	api_read_end(r);
	__atomic_add_fetch(&srv->requests, 1, __ATOMIC_RELAXED);
	r->reading = 1;
	r->status = 200;
	r->type = "application/json";
	entry_of(r, CV_AUDIT_ALLOWED, &e);
	return await_entry(r, &e);
}

cv_err
api_audit_now(struct req *r, enum cv_audit_outcome outcome, uint64_t *index)
{
	struct cv_audit_entry e;
	cv_err err;

	entry_of(r, outcome, &e);
	if ((err = cv_keyd_append(r->srv->kd, &e, index)) != CV_OK)
		return err;
	r->preaudited = 1;
	r->preaudit_index = *index;
	return CV_OK;
}

enum MHD_Result
api_problem(struct req *r, unsigned status, enum cv_audit_outcome outcome,
    const char *slug, const char *detail)
{
	struct cv_buf b = { 0 };

	if (!r->reason[0])
		snprintf(r->reason, sizeof r->reason, "%u %s: %s", status,
		    slug, detail);
	if (problem_body(status, slug, detail, &b) != CV_OK)
		return MHD_NO;
	return api_reply(r, status, outcome, "application/problem+json", &b);
}

#define MAX_BUCKETS 4096

int
api_rate_ok(struct server *srv, const char *cert)
{
	struct bucket *b = NULL;
	double now = cv_now();
	int ok;

	if (srv->rate == 0)
		return 1;
	pthread_mutex_lock(&srv->mu);
	for (size_t i = 0; i < srv->nbuckets; i++) {
		if (strcmp(srv->buckets[i].cert, cert) == 0) {
			b = &srv->buckets[i];
			break;
		}
	}
	if (b == NULL) {
		/* Full: start over (a flood of certificates is refused
		 * earlier, by the CA check). */
		if (srv->nbuckets == MAX_BUCKETS)
			srv->nbuckets = 0;
		b = &srv->buckets[srv->nbuckets++];
		snprintf(b->cert, sizeof b->cert, "%s", cert);
		b->tokens = 2.0 * srv->rate;
		b->at = now;
	}
	/* Refill, up to a burst of two seconds' worth. */
	b->tokens += (now - b->at) * srv->rate;
	if (b->tokens > 2.0 * srv->rate)
		b->tokens = 2.0 * srv->rate;
	b->at = now;
	if ((ok = b->tokens >= 1.0))
		b->tokens -= 1.0;
	pthread_mutex_unlock(&srv->mu);
	return ok;
}

enum MHD_Result
api_forbidden(struct req *r, const char *detail)
{
	return api_problem(r, 403, CV_AUDIT_DENIED, "forbidden", detail);
}

enum MHD_Result
api_internal(struct req *r, cv_err e)
{
	/* The client learns nothing of the cause; the log gets it. */
	snprintf(r->reason, sizeof r->reason, "%s: %s", cv_strerror(e),
	    cv_err_detail());
	return api_problem(r, 500, CV_AUDIT_ERROR, "internal error",
	    "the request failed; see the audit log");
}

/*
 * The HSM token is gone (hsm_tick): the keys in memory must not outlive
 * it, so nothing is served, /healthz included (a load balancer takes the
 * node out). The path goes into the entry (no query: it may hold a
 * search's terms).
 */
static enum MHD_Result
hsm_refuse(struct req *r, const char *url)
{
	r->action = "hsm.refused";
	snprintf(r->reason, sizeof r->reason, "503 HSM unavailable: %s %.180s",
	    r->method, url);
	return api_problem(r, 503, CV_AUDIT_DENIED, "HSM unavailable",
	    "the vault's HSM token cannot be reached; nothing is served "
	    "until it is back");
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **ctx)
{
	struct server *srv = cls;
	struct req *r = *ctx;
	enum MHD_Result ret;
	char why[128];

	/* Made by api_req_begin once the request line was parsed; none
	 * only without memory. */
	if (r == NULL)
		return MHD_NO;
	api_worker_defers();
	if (r->waiting)
		return release(r);
	/* Test builds: a worker that breaks its sandbox (tests/cli/
	 * test_privsep.sh). cv_fault is 0 in release builds. */
	if (!r->started && cv_fault("api.forbidden_syscall"))
		cv_sandbox_selftest_forbidden();
	/* ...and one that forges alerts (tests/cli/test_syslog.sh). */
	if (!r->started && cv_fault("api.hostile_alert"))
		cv_keyd_alert_selftest_hostile();
	if (!r->started) {
		r->started = 1;
		r->method = method;
		r->url = url;
		if (!api_req_framing(r, version, &ret))
			return ret;
		return MHD_YES;
	}
	if (*upload_size) {
		if (r->body.len + *upload_size > API_MAX_BODY)
			r->too_big = 1;
		else if (cv_buf_add(&r->body, upload, *upload_size) != CV_OK)
			return MHD_NO;
		*upload_size = 0;
		return MHD_YES;
	}
	/* Wholly received: the time from here is the server's. */
	api_conn_received(srv->conns, c);
	if (r->too_big)
		return api_problem(r, 413, CV_AUDIT_DENIED, "body too large",
		    "request bodies are limited to 64 KiB");
	/* Enrolment is how a new user gets a certificate at all. */
	if (strcmp(url, "/healthz") != 0 && strcmp(url, "/v1/enrol") != 0 &&
	    !api_client_cert(srv, c, r->cert, why, sizeof why)) {
		r->action = "unauthenticated";
		return api_problem(r, 401, CV_AUDIT_DENIED, "unauthorized",
		    why);
	}
	if (r->cert[0] && !api_rate_ok(srv, r->cert)) {
		r->action = "rate-limited";
		return api_problem(r, 429, CV_AUDIT_DENIED,
		    "too many requests", "request rate limit of this "
		    "certificate reached");
	}
	/* A scrape goes on without the HSM (it reads no key), so that
	 * clearvault_hsm_up == 0 can be seen; entries are still signed. */
	if (__atomic_load_n(&srv->hsm_lost, __ATOMIC_ACQUIRE) &&
	    !(strcmp(url, "/metrics") == 0 && strcmp(method, "GET") == 0))
		return hsm_refuse(r, url);
	return api_route(r);
}

static void
on_done(void *cls, struct MHD_Connection *c, void **ctx,
    enum MHD_RequestTerminationCode toe)
{
	struct server *srv = cls;
	struct req *r = *ctx;
	int reaped = api_conn_done(srv->conns, c);

	if (r) {
		/* Every request is an entry: one the library refused, cut
		 * off or abandoned has its own now. */
		if (!r->replied)
			api_req_unanswered(r, toe, reaped);
		else
			api_metrics_request(srv->metrics, r->action, r->status,
			    cv_time_us() - r->begin_us);
		/* Any other ending closes the connection: nothing to send. */
		if (r->corked && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
			uncork(r);
		/* A pass not spent read nothing: its hold goes back. */
		cv_core_pass_free(r->pass);
		/* Held records no reply settled (none should be left):
		 * counted, as nobody can say they did not leave. */
		api_guard_settle(r, 1);
		if (r->txn)
			cv_store_read_end(r->txn);
		cv_buf_free(&r->body);
		cv_buf_free(&r->out);
		free(r);
	}
	*ctx = NULL;
}

/* Handshake signatures come from keyd, which holds the server key. */
static cv_err
tls_sign(void *ctx, const uint8_t hash[static 32],
    uint8_t sig[static CV_EC_SIG_BYTES])
{
	struct server *srv = ctx;

	return cv_keyd_sign_tls(srv->kd, hash, 32, sig);
}

static cv_err
totp_check(void *ctx, const char *user, const char *code,
    const uint8_t *sealed, size_t len, uint64_t *step)
{
	struct server *srv = ctx;

	return cv_keyd_totp(srv->kd, user, code, sealed, len, step);
}

/* The canary list, from keyd, in cv_vault_canaries's shape: one
 * allocation, the pointers then the strings. */
static cv_err
canaries(void *ctx, char ***ids, size_t *n)
{
	struct server *srv = ctx;
	struct cv_buf b = { 0 };
	size_t count = 0, at = 0;
	char **list, *text;
	cv_err r;

	*ids = NULL;
	*n = 0;
	if ((r = cv_keyd_canaries(srv->kd, &b)) != CV_OK)
		goto out;
	for (size_t i = 0; i < b.len; i++)
		count += b.p[i] == '\n';
	if ((list = malloc((count + 1) * sizeof *list + b.len + 1)) == NULL) {
		r = CV_ERR_NOMEM;
		goto out;
	}
	text = (char *)(list + count + 1);
	if (b.len)
		memcpy(text, b.p, b.len);
	text[b.len] = '\0';
	for (size_t i = 0; i < count; i++) {
		list[i] = text + at;
		at += strcspn(text + at, "\n");
		text[at++] = '\0';
	}
	list[count] = NULL;
	*ids = list;
	*n = count;
 out:
	cv_buf_free(&b);
	return r;
}

static cv_err
load_tls(struct server *srv, const char *dir)
{
	struct cv_buf cas = { 0 };
	char path[1200], *pem = NULL;
	size_t len;
	gnutls_datum_t d;
	cv_err r;
	int rc;

	/* The certificates are made by whoever holds the keys (keyd, before
	 * this process starts); here they are only read. */
	if ((r = cv_path(path, sizeof path, "%s/server.pem", dir)) != CV_OK ||
	    (r = cv_file_read(path, 65536, &pem, &len)) != CV_OK)
		return r;
	d.data = (unsigned char *)pem;
	d.size = (unsigned)len;
	rc = gnutls_pcert_import_x509_raw(&srv->pcert, &d, GNUTLS_X509_FMT_PEM,
	    0);
	free(pem);
	if (rc < 0)
		return cv_fail(CV_ERR_CRYPTO, "server certificate: %s",
		    gnutls_strerror(rc));
	/* The P-256 CA, and an Ed25519 one of before if the vault had it:
	 * the client certificates it issued still log in. */
	if ((r = cv_ca_privkey_ext(tls_sign, srv, &srv->tls_key)) != CV_OK ||
	    (r = cv_ca_trust_pem(dir, &cas)) != CV_OK ||
	    (r = cv_buf_add(&cas, "", 1)) != CV_OK)
		goto out;
	d.data = cas.p;
	d.size = (unsigned)cas.len - 1;
	if ((rc = gnutls_x509_trust_list_init(&srv->trust, 0)) < 0 ||
	    (rc = gnutls_x509_trust_list_add_trust_mem(srv->trust, &d, NULL,
	    GNUTLS_X509_FMT_PEM, 0, 0)) < 1) {
		r = cv_fail(CV_ERR_CRYPTO, "CA certificate unusable");
		goto out;
	}
	/* MHD needs it for the CA list it sends: a C string. */
	srv->ca_pem = (char *)cas.p;
	cas.p = NULL;
	r = CV_OK;
 out:
	cv_buf_free(&cas);
	return r;
}

/*
 * From the main loop, every HSM_CHECK_S seconds: keyd watches its HSM
 * (logging and alerting a change, cv_keyd_hsm_tick); this process asks
 * whether it is there, and while it is not every request is refused
 * (hsm_refuse). A key process that does not answer counts as gone.
 */
#define HSM_CHECK_S 2

static void
hsm_tick(struct server *srv)
{
	int lost = 1;

	if (cv_keyd_status(srv->kd, &lost) != CV_OK)
		lost = 1;	/* no answer: fail closed */
	__atomic_store_n(&srv->hsm_lost, lost, __ATOMIC_RELEASE);
}

static cv_err
parse_listen(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	unsigned long port;
	char *end;

	memset(sa, 0, sizeof *sa);
	if (colon == NULL || (size_t)(colon - s) >= sizeof host)
		return cv_fail(CV_ERR_INVALID, "--listen wants ADDRESS:PORT");
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || port > 65535 ||
	    inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return cv_fail(CV_ERR_INVALID, "--listen wants IPv4:PORT, "
		    "for example 127.0.0.1:8443");
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return CV_OK;
}

cv_err
cv_server_listen(const char *addr, int *fd)
{
	struct sockaddr_in sa;
	int f, one = 1;
	cv_err r;

	*fd = -1;
	if ((r = parse_listen(addr, &sa)) != CV_OK)
		return r;
	if ((f = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return cv_fail(CV_ERR_IO, "socket: %s", strerror(errno));
	(void)setsockopt(f, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(f, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    listen(f, 1024) != 0) {
		r = cv_fail(CV_ERR_IO, "cannot listen on %s: %s", addr,
		    strerror(errno));
		close(f);
		return r;
	}
	*fd = f;
	return CV_OK;
}

cv_err
cv_server_claim(const char *dir, int *fd)
{
	char path[1200], pid[24];
	ssize_t n;
	int f, k, busy;
	cv_err r;

	*fd = -1;
	if ((r = cv_path(path, sizeof path, "%s/serve.lock", dir)) != CV_OK)
		return r;
	if ((f = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) < 0)
		return cv_fail(CV_ERR_IO, "%s: %s", path, strerror(errno));
	if (flock(f, LOCK_EX | LOCK_NB) != 0) {
		busy = errno == EWOULDBLOCK;
		r = cv_fail(CV_ERR_IO, "%s: %s", path, strerror(errno));
		/* Empty if the holder has not written it yet: "?". */
		n = pread(f, pid, sizeof pid - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strspn(pid, "0123456789")] = '\0';
		close(f);
		if (busy)
			r = cv_fail(CV_ERR_EXISTS, "another clearvault serve "
			    "(pid %s) is running on %s: one server per vault",
			    *pid ? pid : "?", dir);
		return r;
	}
	/* Ours until the process ends: the PID left by a dead one is
	 * overwritten, never believed. */
	k = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(f, 0) != 0 || pwrite(f, pid, (size_t)k, 0) != k) {
		r = cv_fail(CV_ERR_IO, "%s: %s", path, strerror(errno));
		close(f);
		return r;
	}
	*fd = f;
	return CV_OK;
}

void
cv_server_unclaim(int fd)
{
	if (fd < 0)
		return;
	close(fd);
}

/*
 * Everything the worker will touch, opened now: after cv_sandbox_enter it
 * can open nothing (docs/sandbox.md). A database connection for every
 * thread that may ask (each with a statement run, so that SQLite has
 * opened its -wal and -shm files), every level file of the log, syslog.
 */
static cv_err
before_sandbox(struct server *srv, unsigned threads)
{
	struct cv_vault *v;
	uint32_t ver;
	cv_err r;

	openlog("clearvault", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
	if ((r = cv_audit_preopen(srv->a)) != CV_OK)
		return r;
	pthread_mutex_lock(&srv->mu);
	for (unsigned i = 0; i < threads + 4 && srv->nhandles <
	    API_MAX_THREADS; i++) {
		if ((r = cv_vault_dup(srv->v, &v)) != CV_OK)
			break;
		cv_store_follow_use(cv_vault_store(v), srv->follow);
		srv->handles[srv->nhandles++] = v;
		if ((r = cv_store_version(cv_vault_store(v), "CV-0", &ver)) ==
		    CV_ERR_NOT_FOUND)
			r = CV_OK;
		if (r != CV_OK)
			break;
	}
	srv->given = 0;
	srv->pooled = 1;
	pthread_mutex_unlock(&srv->mu);
	return r;
}

cv_err
cv_server_run(struct cv_vault *v, struct cv_audit *a,
    struct cv_keyd_client *kd, const struct cv_server_opts *o)
{
	struct server srv = { .v = v, .store = cv_vault_store(v), .a = a,
	    .kd = kd, .started_us = cv_time_us(),
	    .mu = PTHREAD_MUTEX_INITIALIZER, .rate = o->rate,
	    .save_mu = PTHREAD_MUTEX_INITIALIZER,
	    .clock_mu = PTHREAD_MUTEX_INITIALIZER, .alerts_fd = -1,
	    .alerts_rfd = -1, .clock_fd = -1,
	    .syslog_counts_fd = o->syslog_counts_fd };
	char path[1200];
	struct sockaddr_in sa;
	struct MHD_Daemon *d = NULL;
	struct MHD_OptionItem where[2] = { { MHD_OPTION_END, 0, NULL },
	    { MHD_OPTION_END, 0, NULL } };
	const union MHD_DaemonInfo *di;
	struct sigaction act = { .sa_handler = on_signal };
	unsigned threads = o->threads ? o->threads :
	    (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	unsigned flags = MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_POLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME |
	    MHD_USE_ITC;
	int signals = 1;

	int claim = -1;

	if (threads > API_MAX_THREADS)
		threads = API_MAX_THREADS;
	if ((srv.buckets = calloc(MAX_BUCKETS, sizeof *srv.buckets)) == NULL)
		return CV_ERR_NOMEM;
	cv_err r;

	/* Before anything of the vault is touched. */
	if (!o->claimed && (r = cv_server_claim(cv_vault_dir(v), &claim)) !=
	    CV_OK)
		goto out;

	/* Whatever asks the vault for its canaries asks keyd. */
	cv_vault_set_canary_source(v, canaries, &srv);
	if ((r = parse_listen(o->listen ? o->listen : "127.0.0.1:8443",
	    &sa)) != CV_OK ||
	    (r = cv_sessions_new(&srv.sessions)) != CV_OK ||
	    (r = api_metrics_new(&srv.metrics)) != CV_OK ||
	    (cv_sessions_set_totp(srv.sessions, totp_check, &srv), 0) ||
	    (r = load_tls(&srv, cv_vault_dir(v))) != CV_OK ||
	    (r = cv_path(path, sizeof path, "%s/alerts.jsonl",
	    cv_vault_dir(v))) != CV_OK)
		goto out;
	if ((srv.alerts_fd = open(path, O_WRONLY | O_APPEND | O_CREAT |
	    O_CLOEXEC, 0600)) < 0) {
		r = cv_fail(CV_ERR_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if ((srv.alerts_rfd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		r = cv_fail(CV_ERR_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	/* Without its watcher a request asks the epoch itself: slower,
	 * as correct. */
	if (cv_store_follow_new(srv.store, &srv.follow) != CV_OK)
		fprintf(stderr, "clearvault serve: no watcher of the "
		    "database's epoch (each request asks it): %s\n",
		    cv_err_detail());
	cv_store_follow_use(srv.store, srv.follow);
	/* Fail closed: no guard state, no reads (unless asked, for a
	 * benchmark's baseline). */
	if (!o->no_guard && (r = api_guard_start(&srv)) != CV_OK)
		goto out;
	if ((r = api_conns_new(cv_vault_dir(v), &srv.conns)) != CV_OK)
		goto out;
#ifdef CV_FUZZ
	/* cv_server_fuzz_connect hands in the connections: no socket, no
	 * TLS (the HTTPS options below are then ignored, with a line each
	 * in the log), no thread of the library's (the harness runs its
	 * event loop: cv_server_fuzz_run; poll is for library threads
	 * only), and the fuzzer keeps its own signal handlers. */
	if (o->fuzz) {
		stop = 0;	/* a server again, after cv_server_fuzz_stop */
		srv.fuzz = 1;
		flags = (flags & ~(unsigned)(MHD_USE_TLS |
		    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL)) |
		    MHD_USE_NO_LISTEN_SOCKET;
		signals = 0;
	}
#endif
	openlog("clearvault", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
	the_server = &srv;
	if (signals) {
		sigaction(SIGINT, &act, NULL);
		sigaction(SIGTERM, &act, NULL);
	}
	signal(SIGPIPE, SIG_IGN);
	/* The worker process: confined before the first connection is
	 * taken, for good (fail closed: no sandbox, no server). */
	if (o->sandbox && ((r = before_sandbox(&srv, threads)) != CV_OK ||
	    (r = cv_sandbox_enter(CV_SANDBOX_API)) != CV_OK))
		goto out;
	/* One or the other: a socket the supervisor keeps across worker
	 * restarts, or the address. */
	if (o->listen_fd > 0) {
		where[0].option = MHD_OPTION_LISTEN_SOCKET;
		where[0].value = o->listen_fd;
	} else {
		where[0].option = MHD_OPTION_SOCK_ADDR;
		where[0].ptr_value = &sa;
	}
#ifdef CV_FUZZ
	if (srv.fuzz)
		where[0].option = MHD_OPTION_END;	/* neither */
#endif
	/*
	 * poll, not epoll, and no MHD_USE_TURBO (libmicrohttpd 0.9.75):
	 * under TURBO a connection timed out before its TLS handshake ended
	 * is never cleaned up (no TLS shutdown moves it out of the handshake
	 * state, the only state from which the cleanup is reached), so its
	 * socket stays in CLOSE-WAIT, its per-address slot is never given
	 * back and the worker spins at 100% CPU; with epoll, a handshake
	 * that waits for more bytes stays on the ready list (the handshake
	 * does not clear its read-ready flag), which spins a worker for as
	 * long as a client trickles one. poll waits on such a socket
	 * instead. Our own deadlines: conn.c.
	 */
	d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, &srv,
	    MHD_OPTION_ARRAY, where,
	    MHD_OPTION_HTTPS_CERT_CALLBACK, cert_cb,
	    MHD_OPTION_HTTPS_MEM_TRUST, srv.ca_pem,
	    MHD_OPTION_HTTPS_PRIORITIES, PRIORITIES,
	    MHD_OPTION_THREAD_POOL_SIZE, threads < 1 ? 1u : threads,
	    MHD_OPTION_CONNECTION_LIMIT, 1000u,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, 200u,
	    MHD_OPTION_CONNECTION_TIMEOUT, api_conns_idle_s(srv.conns),
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
	    MHD_OPTION_EXTERNAL_LOGGER, api_http_log, &srv,
	    MHD_OPTION_URI_LOG_CALLBACK, api_req_begin, &srv,
	    MHD_OPTION_NOTIFY_COMPLETED, on_done, &srv,
	    MHD_OPTION_NOTIFY_CONNECTION, api_conns_notify, srv.conns,
	    MHD_OPTION_END);
	if (d == NULL) {
		r = cv_fail(CV_ERR_IO, "cannot listen on %s", o->listen ?
		    o->listen : "127.0.0.1:8443");
		goto out;
	}
#ifdef CV_FUZZ
	srv.daemon = d;
#endif
	di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	if (o->ready) {
		struct sockaddr_in got;
		socklen_t gl = sizeof got;
		unsigned port = di && di->port ? di->port : ntohs(sa.sin_port);

		if (o->listen_fd > 0 && getsockname(o->listen_fd,
		    (struct sockaddr *)&got, &gl) == 0)
			port = ntohs(got.sin_port);
		o->ready(o->ctx, port);
	}
	/* The guard's state is saved every few seconds; the log holds what
	 * happened since, so a crash loses nothing. */
	for (int tick = 0; !stop; tick++) {
		sleep(1);
		(void)api_conns_reap(srv.conns);
		api_http_refusals_tick(&srv);
		if (tick % HSM_CHECK_S == 0)
			hsm_tick(&srv);
		api_guard_tick(&srv);
		if (tick % 10 == 5)
			api_approvals_tick(&srv);
		if (srv.guard && tick % 10 == 9 && api_guard_save(&srv) != CV_OK)
			fprintf(stderr, "clearvault serve: cannot save the "
			    "guard's state: %s\n", cv_err_detail());
	}
	/* MHD must not be stopped with connections still suspended: from
	 * now on replies wait in place, and the parked ones finish. */
	__atomic_store_n(&srv.draining, 1, __ATOMIC_SEQ_CST);
	/* However long the log takes: stopping MHD with a connection still
	 * parked would free what the committer is about to touch. */
	for (int i = 1; __atomic_load_n(&srv.suspended, __ATOMIC_SEQ_CST) > 0;
	    i++) {
		usleep(1000);
		if (i % 10000 == 0)
			fprintf(stderr, "clearvault serve: waiting for the audit "
			    "log to finish %d replies\n",
			    __atomic_load_n(&srv.suspended, __ATOMIC_SEQ_CST));
	}
	r = CV_OK;
 out:
	/* The supervisor's listening socket outlives this worker: MHD's
	 * stop would shut it down for the next worker too (found by
	 * tests/fault: a worker replaced after a stop, not a crash, got no
	 * connections). Quiesced, MHD lets go of it untouched. */
	if (d && o->listen_fd > 0)
		(void)MHD_quiesce_daemon(d);
	if (d)
		MHD_stop_daemon(d);
	api_conns_free(srv.conns);
	api_guard_stop(&srv);
	if (srv.alerts_fd >= 0)
		close(srv.alerts_fd);
	if (srv.alerts_rfd >= 0)
		close(srv.alerts_rfd);
	if (srv.clock_fd >= 0)
		close(srv.clock_fd);
	if (srv.tls_key)
		gnutls_privkey_deinit(srv.tls_key);
	gnutls_pcert_deinit(&srv.pcert);
	if (srv.trust)
		gnutls_x509_trust_list_deinit(srv.trust, 1);
	free(srv.ca_pem);
	cv_sessions_free(srv.sessions);
	api_metrics_free(srv.metrics);
	free(srv.buckets);
	for (size_t i = 0; i < srv.nhandles; i++)
		cv_vault_close(srv.handles[i]);
	cv_store_follow_use(srv.store, NULL);	/* the caller's */
	cv_store_follow_free(srv.follow);
	pthread_mutex_destroy(&srv.mu);
	the_server = NULL;
	cv_server_unclaim(claim);
	return r;
}

#ifdef CV_FUZZ
cv_err
cv_server_fuzz_connect(int fd, const char *cert)
{
	struct server *srv = the_server;
	/* Some address for the entry's source and the per-address limit. */
	struct sockaddr_in sa = { .sin_family = AF_INET,
	    .sin_port = htons(1), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	if (srv == NULL || !srv->fuzz || srv->daemon == NULL) {
		close(fd);
		return cv_fail(CV_ERR_INVALID, "no server in fuzzing mode");
	}
	/* This thread runs the daemon (cv_server_fuzz_run): a database
	 * handle it holds from a server before this one closed with it. */
	if (srv->fuzz_conns++ == 0)
		thread_vault = NULL;
	pthread_mutex_lock(&srv->mu);
	srv->fuzz_fd = fd;
	snprintf(srv->fuzz_cert, sizeof srv->fuzz_cert, "%s",
	    cert ? cert : "");
	pthread_mutex_unlock(&srv->mu);
	/* The library closes FD if it cannot take it. */
	if (MHD_add_connection(srv->daemon, fd, (struct sockaddr *)&sa,
	    sizeof sa) != MHD_YES)
		return cv_fail(CV_ERR_IO, "the daemon refused a connection");
	return CV_OK;
}

int
cv_server_fuzz_run(int wait_ms)
{
	struct server *srv = the_server;

	if (srv == NULL || !srv->fuzz || srv->daemon == NULL)
		return -1;
	/* A parked request is resumed on keyd's thread, which cannot wake
	 * the library's select() (no thread of its own: no ITC), so wait
	 * here for an answer (suspended falls below parked). */
	for (int i = 0; i < wait_ms * 20 && srv->fuzz_parked > 0 &&
	    __atomic_load_n(&srv->suspended, __ATOMIC_SEQ_CST) >=
	    srv->fuzz_parked; i++)
		usleep(50);
	(void)MHD_run_wait(srv->daemon, 0);
	/* What a worker's poll() does before it waits (poll.c). */
	cv_keyd_flush_thread();
	return srv->fuzz_parked;
}

void
cv_server_fuzz_stop(void)
{
	stop = 1;
}
#endif
