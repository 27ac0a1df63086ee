/*
 * The connection policy: what a TCP connection may hold, and for how long.
 *
 * libmicrohttpd's own timeout is an idle timer (reset by every byte read)
 * and, in 0.9.75, is not applied to a connection that has not finished its
 * TLS handshake under MHD_USE_TURBO (such a connection, once timed out, is
 * never cleaned up: its socket stays in CLOSE-WAIT and its per-address
 * slot taken until restart). The server therefore runs without TURBO, and
 * keeps deadlines of its own: a connection must have sent a whole request
 * within handshake_timeout of its accept (the handshake included), and
 * each later request within idle_timeout of the reply before it. The main
 * loop shuts down the socket of a connection past its deadline (api_conns_
 * reap), whatever it trickles meanwhile; libmicrohttpd then sees the
 * connection end and cleans it up on its own thread, as for any client
 * that goes away. While the server works on a request (the request
 * received, the reply not yet written) no deadline runs: that time is
 * ours, not the client's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "../auth/ca.h"
#include "../config/config.h"
#include "api_internal.h"

/*
 * One accepted connection (libmicrohttpd's socket context): its deadline,
 * and what its TLS handshake proved, checked once: parsing and verifying
 * the client certificate on every request of a keep-alive connection would
 * cost more than the rest of the request.
 */
struct conn {
	struct conn *prev, *next;	/* in conns->list, under conns->mu */
	int fd;
	gnutls_session_t tls;	/* the library's; its transport is ours */
	int64_t deadline_ms;	/* CLOCK_MONOTONIC; 0: none */
	int reaped;		/* its socket was shut down (deadline passed) */
	int checked, ok;
	char fp[CV_FINGERPRINT_HEX + 1];
	char why[96];
};

struct conns {
	pthread_mutex_t mu;
	struct conn *list;
	int64_t handshake_ms, idle_ms;
	unsigned idle_s;
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

cv_err
api_conns_new(const char *dir, struct conns **out)
{
	struct cv_config cfg;
	struct conns *t;
	cv_err r;

	*out = NULL;
	if ((r = cv_config_load(dir, &cfg)) != CV_OK)
		return r;
	if ((t = calloc(1, sizeof *t)) == NULL)
		return CV_ERR_NOMEM;
	pthread_mutex_init(&t->mu, NULL);
	t->handshake_ms = (int64_t)cfg.handshake_timeout * 1000;
	t->idle_ms = (int64_t)cfg.idle_timeout * 1000;
	t->idle_s = cfg.idle_timeout;
	*out = t;
	return CV_OK;
}

void
api_conns_free(struct conns *t)
{
	if (t == NULL)
		return;
	/* The daemon is stopped: every connection has been notified closed
	 * and unlinked itself. */
	pthread_mutex_destroy(&t->mu);
	free(t);
}

unsigned
api_conns_idle_s(const struct conns *t)
{
	return t->idle_s;
}

/*
 * The TLS alert on a failed handshake. libmicrohttpd 0.9.75 closes a
 * connection whose handshake failed (no signature algorithm, suite or
 * version in common, a certificate refused) without a word, so a browser
 * reports a reset instead of why; it only logs a line, with no
 * connection, on the thread that ran the handshake, before it shuts the
 * socket down. Every TLS read and write of a connection goes through
 * tls_pull and tls_push, which note the session on their thread: the
 * session a handshake failure on this thread is logged for is the last
 * one noted (the failing call read or wrote on it; connections on one
 * thread run one at a time). api_conn_handshake_failed then sends the
 * alert on it, while its socket is still open.
 */
static _Thread_local gnutls_session_t tls_current;

static ssize_t
tls_pull(gnutls_transport_ptr_t p, void *buf, size_t len)
{
	struct conn *k = p;

	tls_current = k->tls;
	return recv(k->fd, buf, len, 0);
}

static ssize_t
tls_push(gnutls_transport_ptr_t p, const giovec_t *iov, int n)
{
	struct conn *k = p;
	struct msghdr m = { .msg_iov = (struct iovec *)(uintptr_t)iov,
	    .msg_iovlen = (size_t)n };

	tls_current = k->tls;
	return sendmsg(k->fd, &m, MSG_NOSIGNAL);
}

static int
tls_pull_timeout(gnutls_transport_ptr_t p, unsigned ms)
{
	struct conn *k = p;

	return gnutls_system_recv_timeout(
	    (gnutls_transport_ptr_t)(intptr_t)k->fd, ms);
}

static void
tls_watch(struct conn *k, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci == NULL || ci->tls_session == NULL || k->fd < 0)
		return;
	k->tls = ci->tls_session;
	gnutls_transport_set_ptr(k->tls, k);
	gnutls_transport_set_pull_function(k->tls, tls_pull);
	gnutls_transport_set_pull_timeout_function(k->tls, tls_pull_timeout);
	gnutls_transport_set_vec_push_function(k->tls, tls_push);
}

/* The session may be freed already (0.9.75 deinits it before this
 * notification): its address is compared, never used. */
static void
tls_closed(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci && ci->tls_session == tls_current)
		tls_current = NULL;
}

void
api_conn_handshake_failed(void)
{
	if (tls_current)
		(void)gnutls_alert_send(tls_current, GNUTLS_AL_FATAL,
		    GNUTLS_A_HANDSHAKE_FAILURE);
	tls_current = NULL;
}

void
api_conns_notify(void *cls, struct MHD_Connection *c, void **ctx,
    enum MHD_ConnectionNotificationCode code)
{
	struct conns *t = cls;
	const union MHD_ConnectionInfo *ci;
	struct conn *k;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		/* Out of memory: no context, no deadline of ours (the
		 * library's idle timeout still applies); client_cert then
		 * verifies on every request. */
		if ((k = calloc(1, sizeof *k)) == NULL)
			return;
		ci = MHD_get_connection_info(c,
		    MHD_CONNECTION_INFO_CONNECTION_FD);
		k->fd = ci ? ci->connect_fd : -1;
		k->deadline_ms = now_ms() + t->handshake_ms;
		tls_watch(k, c);
		pthread_mutex_lock(&t->mu);
		if ((k->next = t->list) != NULL)
			k->next->prev = k;
		t->list = k;
		pthread_mutex_unlock(&t->mu);
		*ctx = k;
		return;
	}
	/* Closed. The library closes the socket only after this returns:
	 * unlinked under the lock, the reaper can never shut down a
	 * descriptor number that another connection has been given. */
	if ((k = *ctx) == NULL)
		return;
	tls_closed(c);
	pthread_mutex_lock(&t->mu);
	if (k->prev)
		k->prev->next = k->next;
	else
		t->list = k->next;
	if (k->next)
		k->next->prev = k->prev;
	pthread_mutex_unlock(&t->mu);
	free(k);
	*ctx = NULL;
}

static struct conn *
conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

static void
set_deadline(struct conns *t, struct MHD_Connection *c, int64_t ms)
{
	struct conn *k = conn_of(c);

	if (k == NULL)
		return;
	pthread_mutex_lock(&t->mu);
	k->deadline_ms = ms;
	pthread_mutex_unlock(&t->mu);
}

void
api_conn_received(struct conns *t, struct MHD_Connection *c)
{
	set_deadline(t, c, 0);
}

int
api_conn_done(struct conns *t, struct MHD_Connection *c)
{
	struct conn *k = conn_of(c);
	int reaped;

	if (k == NULL)
		return 0;
	pthread_mutex_lock(&t->mu);
	k->deadline_ms = now_ms() + t->idle_ms;
	reaped = k->reaped;
	pthread_mutex_unlock(&t->mu);
	return reaped;
}

unsigned
api_conns_reap(struct conns *t)
{
	int64_t now = now_ms();
	unsigned n = 0;

	pthread_mutex_lock(&t->mu);
	for (struct conn *k = t->list; k; k = k->next) {
		if (k->deadline_ms == 0 || now < k->deadline_ms || k->reaped ||
		    k->fd < 0)
			continue;
		/*
		 * Not close(): the descriptor is the library's, and stays
		 * valid until it has seen the end (it reads EOF, or fails
		 * the handshake) and cleaned the connection up on its own
		 * thread, notifying us first.
		 */
		if (shutdown(k->fd, SHUT_RDWR) == 0 || errno == ENOTCONN) {
			k->reaped = 1;
			n++;
		}
	}
	pthread_mutex_unlock(&t->mu);
	return n;
}

static int
verify_client(struct server *srv, struct MHD_Connection *c,
    char fp[CV_FINGERPRINT_HEX + 1], char *why, size_t wsize)
{
	const union MHD_ConnectionInfo *ci;
	gnutls_session_t s;
	const gnutls_datum_t *chain;
	unsigned n = 0, status = 0;
	gnutls_x509_crt_t crt;

	fp[0] = '\0';
#ifdef CV_FUZZ
	/* Fuzzing builds: no handshake, the fingerprint the harness named
	 * for this socket (cv_server_fuzz_connect) as if its chain had
	 * verified. */
	if (srv->fuzz) {
		ci = MHD_get_connection_info(c,
		    MHD_CONNECTION_INFO_CONNECTION_FD);
		pthread_mutex_lock(&srv->mu);
		if (ci && ci->connect_fd == srv->fuzz_fd)
			memcpy(fp, srv->fuzz_cert, sizeof srv->fuzz_cert);
		pthread_mutex_unlock(&srv->mu);
		if (fp[0] == '\0')
			snprintf(why, wsize, "no client certificate");
		return fp[0] != '\0';
	}
#endif
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci == NULL || (s = ci->tls_session) == NULL) {
		snprintf(why, wsize, "no TLS session");
		return 0;
	}
	if ((chain = gnutls_certificate_get_peers(s, &n)) == NULL || n == 0) {
		snprintf(why, wsize, "no client certificate");
		return 0;
	}
	if (gnutls_x509_crt_init(&crt) < 0)
		return 0;
	if (gnutls_x509_crt_import(crt, &chain[0], GNUTLS_X509_FMT_DER) < 0 ||
	    gnutls_x509_trust_list_verify_crt(srv->trust, &crt, 1, 0, &status,
	    NULL) < 0 || status != 0) {
		snprintf(why, wsize, "client certificate not issued by this "
		    "vault's CA");
		gnutls_x509_crt_deinit(crt);
		return 0;
	}
	gnutls_x509_crt_deinit(crt);
	cv_ca_fingerprint(chain[0].data, chain[0].size, fp);
	return 1;
}

int
api_client_cert(struct server *srv, struct MHD_Connection *c,
    char fp[CV_FINGERPRINT_HEX + 1], char *why, size_t wsize)
{
	struct conn *k = conn_of(c);

	if (k == NULL)
		return verify_client(srv, c, fp, why, wsize);
	/* Only the connection's own thread gets here: no lock. */
	if (!k->checked) {
		k->ok = verify_client(srv, c, k->fp, k->why, sizeof k->why);
		k->checked = 1;
	}
	memcpy(fp, k->fp, sizeof k->fp);
	snprintf(why, wsize, "%s", k->why);
	return k->ok;
}
