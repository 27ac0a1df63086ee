/*
 * The load generator for `clearvault serve`, printing
 *   server CONNS READS SECONDS P50_MS P99_MS ERRORS
 * libcurl multi spent ~65-125 us of CPU per request, which on a small
 * machine is CPU taken from the server under test; this one is plain
 * GnuTLS sessions and non-blocking sockets driven by one thread with epoll, requests formatted once at start, a minimal
 * HTTP/1.1 response parser, and no allocation per request.
 * All CONNS connections (TLS 1.3, client certificate, the server's
 * certificate verified against CA and the URL's host) are made before the
 * clock starts; each then has one request in flight at a time. With
 * RATE > 0 requests are paced (open loop) at RATE per second in total.
 * With INTERVAL > 0 (seconds; a soak, bench/soak.sh) it also prints, at
 * the end of every INTERVAL of the run, the replies completed in it:
 *   interval END_S READS P50_MS P99_MS ERRORS
 * (flushed at once, so a reader of the pipe sees each as it happens); the
 * final line's percentiles then come from a histogram of every reply
 * (0.2% resolution), as a long run's samples would not all fit.
 * Usage: bench_tls URL CA CERT KEY TOKEN CASE IDS CONNS SECONDS [RATE
 *     [INTERVAL]]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#define MAX_CONNS 256
#define MAX_SAMPLES 4000000
#define HEAD_MAX 16384		/* status line and headers of one response */
#define RBUF 17408		/* a whole TLS record and its header, at least */
#define SETUP_SECONDS 30.0	/* for all the first handshakes */
/* After SECONDS, how long replies still in flight are waited for; any
 * later are errors. MHD's own idle timeout is 30 s. */
#define DRAIN_SECONDS 30.0
/* TLS 1.3 only: what curl negotiates with the server too (it offers 1.2
 * as well), so both generators measure the same protocol. */
#define PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3"

enum state { DOWN, CONNECTING, HANDSHAKE, READY };

struct conn {
	int fd;
	enum state state;
	uint32_t events;	/* the epoll interest now registered */
	gnutls_session_t s;
	int busy;		/* a request is in flight */
	double started;		/* its scheduled (or actual) send time */
	const char *wp;		/* request bytes not yet sent */
	size_t wlen;
	size_t hlen;		/* header bytes in head */
	int have_head;
	int status;
	int close_after;	/* the reply said Connection: close */
	unsigned long long body_left;
	size_t rpos, rlen;	/* ciphertext read ahead, not yet to GnuTLS */
	char rbuf[RBUF];
	char head[HEAD_MAX];
};

static struct conn cs[MAX_CONNS];
static int ep = -1;
static int setup = 1;		/* still making the first connections */
static struct sockaddr_storage addr;
static socklen_t addrlen;
static char host[256];
static int host_is_ip;
static gnutls_certificate_credentials_t cred;
static gnutls_priority_t prio;
static double lat[MAX_SAMPLES];
static size_t nlat;
static unsigned errors, drops;

/*
 * Interval mode: lat holds the current interval's replies, the histogram
 * every reply of the run. Microseconds below 1024 exactly, above it 512
 * buckets per power of two, up to 2^40 us (12 days): far past any run.
 */
#define HIST_SUB 512
#define HIST_BUCKETS (1024 + 30 * HIST_SUB)
static int interval_mode;
static uint64_t hist[HIST_BUCKETS];
static uint64_t nhist;
static unsigned ierrors;	/* errors in the current interval */

static size_t
hist_bucket(double seconds)
{
	uint64_t us = seconds > 0 ? (uint64_t)(seconds * 1e6) : 0;
	unsigned e = 0;

	if (us < 1024)
		return (size_t)us;
	for (uint64_t v = us; v > 1; v >>= 1)
		e++;
	if (e >= 40)
		return HIST_BUCKETS - 1;
	return 1024 + (size_t)(e - 10) * HIST_SUB +
	    (size_t)((us >> (e - 9)) & (HIST_SUB - 1));
}

/* The bucket's lower bound, in seconds. */
static double
hist_value(size_t b)
{
	unsigned e;

	if (b < 1024)
		return (double)b / 1e6;
	e = (unsigned)((b - 1024) / HIST_SUB) + 10;
	return (double)(((uint64_t)HIST_SUB + (b - 1024) % HIST_SUB) <<
	    (e - 9)) / 1e6;
}

/* The latency below which a fraction Q of the run's replies fell. */
static double
hist_quantile(double q)
{
	uint64_t want = (uint64_t)((double)nhist * q), seen = 0;

	for (size_t b = 0; b < HIST_BUCKETS; b++) {
		seen += hist[b];
		if (seen > want)
			return hist_value(b);
	}
	return 0;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fputs("bench_tls: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Only on change: an epoll_ctl per request would be a syscall wasted. */
static void
want(struct conn *c, uint32_t ev)
{
	struct epoll_event e = { .events = ev, .data.ptr = c };

	if (c->events == ev)
		return;
	if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e) != 0)
		die("epoll_ctl: %s", strerror(errno));
	c->events = ev;
}

static void
conn_close(struct conn *c)
{
	if (c->state == DOWN)
		return;
	/* No close_notify: the server treats a bare close the same, and
	 * this is not what is being measured. */
	gnutls_deinit(c->s);
	close(c->fd);	/* also leaves the epoll set */
	c->fd = -1;
	c->state = DOWN;
	c->events = 0;
}

/*
 * The connection is lost. Its request in flight, if any, failed: an error,
 * as curl counts a failed transfer. The next request reconnects
 * (as curl does, its latency then includes the handshake). Before the
 * clock starts any failure is fatal: the setup is wrong.
 */
static void
drop(struct conn *c, const char *why, int rc)
{
	if (setup)
		die("connection %d: %s%s%s", (int)(c - cs), why,
		    rc ? ": " : "", rc ? gnutls_strerror(rc) : "");
	if (c->busy) {
		errors++;
		ierrors++;
		drops++;
		c->busy = 0;
	}
	conn_close(c);
}

/*
 * GnuTLS reads a record's 5-byte header, then its body: two recv calls a
 * record, and a reply is two records (headers, body). Reading all the
 * socket has at once and handing it over from here makes that one.
 */
static ssize_t
pull(gnutls_transport_ptr_t p, void *data, size_t size)
{
	struct conn *c = p;
	size_t n;

	if (c->rpos == c->rlen) {
		ssize_t r = recv(c->fd, c->rbuf, sizeof c->rbuf, 0);
		if (r <= 0) {
			if (r < 0)
				gnutls_transport_set_errno(c->s, errno);
			return r;
		}
		c->rpos = 0;
		c->rlen = (size_t)r;
	}
	n = c->rlen - c->rpos < size ? c->rlen - c->rpos : size;
	memcpy(data, c->rbuf + c->rpos, n);
	c->rpos += n;
	return (ssize_t)n;
}

/* Only asked for when GnuTLS must wait itself, which NONBLOCK avoids; a
 * custom pull must come with one that knows its buffer all the same. */
static int
pull_timeout(gnutls_transport_ptr_t p, unsigned int ms)
{
	struct conn *c = p;
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };

	if (c->rpos < c->rlen)
		return 1;
	return poll(&pfd, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms);
}

/* The transport is the connection, not a descriptor, so the push is ours
 * too; MSG_NOSIGNAL: a send to a closed socket is an error to count. */
static ssize_t
push(gnutls_transport_ptr_t p, const giovec_t *iov, int iovcnt)
{
	struct conn *c = p;
	struct msghdr m = { .msg_iov = (struct iovec *)(uintptr_t)iov,
	    .msg_iovlen = (size_t)iovcnt };
	ssize_t r = sendmsg(c->fd, &m, MSG_NOSIGNAL);

	if (r < 0)
		gnutls_transport_set_errno(c->s, errno);
	return r;
}

static void
conn_open(struct conn *c)
{
	struct epoll_event e;
	int one = 1, rc;

	c->fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		die("socket: %s", strerror(errno));
	/* A request is one small write; waiting to coalesce it is latency. */
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if ((rc = gnutls_init(&c->s, GNUTLS_CLIENT | GNUTLS_NONBLOCK)) < 0)
		die("gnutls_init: %s", gnutls_strerror(rc));
	if ((rc = gnutls_priority_set(c->s, prio)) < 0 ||
	    (rc = gnutls_credentials_set(c->s, GNUTLS_CRD_CERTIFICATE,
	    cred)) < 0)
		die("session: %s", gnutls_strerror(rc));
	/* As curl: SNI only for a name, and the peer's certificate must
	 * chain to CA and name the URL's host (a DNS or an IP SAN). */
	if (!host_is_ip && (rc = gnutls_server_name_set(c->s, GNUTLS_NAME_DNS,
	    host, strlen(host))) < 0)
		die("server name: %s", gnutls_strerror(rc));
	gnutls_session_set_verify_cert(c->s, host, 0);
	c->rpos = c->rlen = 0;
	gnutls_transport_set_ptr(c->s, c);
	gnutls_transport_set_pull_function(c->s, pull);
	gnutls_transport_set_pull_timeout_function(c->s, pull_timeout);
	gnutls_transport_set_vec_push_function(c->s, push);
	c->state = CONNECTING;
	c->events = EPOLLOUT;
	e.events = c->events;
	e.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e) != 0)
		die("epoll_ctl: %s", strerror(errno));
	if (connect(c->fd, (struct sockaddr *)&addr, addrlen) != 0 &&
	    errno != EINPROGRESS)
		drop(c, strerror(errno), 0);
	/* Even on success the first event comes from epoll: one path. */
}

static void
conn_send(struct conn *c)
{
	while (c->wlen > 0) {
		/* On E_AGAIN GnuTLS wants the very same call again. */
		ssize_t r = gnutls_record_send(c->s, c->wp, c->wlen);
		if (r > 0) {
			c->wp += r;
			c->wlen -= (size_t)r;
		} else if (r == GNUTLS_E_AGAIN) {
			want(c, EPOLLIN | EPOLLOUT);
			return;
		} else if (r != GNUTLS_E_INTERRUPTED) {
			drop(c, "send", (int)r);
			return;
		}
	}
	want(c, EPOLLIN);
}

static void conn_recv(struct conn *);

static void
handshake(struct conn *c)
{
	int rc;

	while ((rc = gnutls_handshake(c->s)) < 0) {
		if (rc == GNUTLS_E_AGAIN) {
			want(c, gnutls_record_get_direction(c->s) ? EPOLLOUT :
			    EPOLLIN);
			return;
		}
		if (rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR && setup) {
			gnutls_datum_t out;
			unsigned st = gnutls_session_get_verify_cert_status(
			    c->s);
			if (gnutls_certificate_verification_status_print(st,
			    GNUTLS_CRT_X509, &out, 0) == 0)
				die("server certificate (for %s): %s", host,
				    out.data);
		}
		if (gnutls_error_is_fatal(rc)) {
			drop(c, "handshake", rc);
			return;
		}
	}
	if (gnutls_protocol_get_version(c->s) != GNUTLS_TLS1_3)
		die("not TLS 1.3");
	c->state = READY;
	want(c, EPOLLIN);
	if (c->busy)
		conn_send(c);
	/* Read ahead is invisible to epoll. */
	if (c->state == READY && c->rpos < c->rlen)
		conn_recv(c);
}

static void
connected(struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof err;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err != 0) {
		drop(c, strerror(err), 0);
		return;
	}
	c->state = HANDSHAKE;
	handshake(c);
}

/* Case-insensitive header name match at the start of a line. */
static const char *
header(const char *line, const char *name)
{
	size_t n = strlen(name);

	if (strncasecmp(line, name, n) != 0 || line[n] != ':')
		return NULL;
	line += n + 1;
	while (*line == ' ' || *line == '\t')
		line++;
	return line;
}

/*
 * The status line and headers, NUL-terminated at the blank line. Only
 * what keeping the connection in step needs: the status, the body's
 * length, whether the server will close. A reply this parser cannot frame
 * is a fatal error, not a miscount.
 */
static void
parse_head(struct conn *c)
{
	char *p = c->head, *eol;
	int has_len = 0;

	if (strncmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ' ||
	    sscanf(p + 9, "%3d", &c->status) != 1)
		die("bad status line: %.60s", p);
	/* HTTP/1.0 closes unless asked not to; we never ask. */
	c->close_after = p[7] == '0';
	c->body_left = 0;
	for (p = strstr(p, "\r\n"); p != NULL && p[2] != '\0'; p = eol) {
		const char *v;
		p += 2;
		eol = strstr(p, "\r\n");
		if (eol != NULL)
			*eol = '\0';
		if ((v = header(p, "Content-Length")) != NULL) {
			char *end;
			errno = 0;
			c->body_left = strtoull(v, &end, 10);
			if (errno != 0 || end == v)
				die("bad Content-Length: %s", v);
			has_len = 1;
		} else if ((v = header(p, "Transfer-Encoding")) != NULL) {
			die("Transfer-Encoding %s: not supported", v);
		} else if ((v = header(p, "Connection")) != NULL &&
		    strncasecmp(v, "close", 5) == 0) {
			c->close_after = 1;
		}
		if (eol == NULL)
			break;
		*eol = '\r';
	}
	/* 1xx, 204 and 304 have no body; nothing else may omit its length
	 * or the end of this reply would be unknowable. */
	if (!has_len && !(c->status / 100 == 1 || c->status == 204 ||
	    c->status == 304))
		die("reply %d without Content-Length", c->status);
	if (c->status / 100 == 1)
		die("reply %d: interim replies not supported", c->status);
}

/* The reply is complete: only 200s are timed; anything else is an error. */
static void
done(struct conn *c)
{
	if (c->status != 200) {
		errors++;
		ierrors++;
	} else {
		double l = now() - c->started;
		if (nlat < MAX_SAMPLES)
			lat[nlat++] = l;
		if (interval_mode) {
			hist[hist_bucket(l)]++;
			nhist++;
		}
	}
	c->busy = 0;
	if (c->close_after)
		conn_close(c);
}

static void
conn_recv(struct conn *c)
{
	static char scratch[16384];	/* bodies are counted, not kept */

	for (;;) {
		char *buf;
		size_t cap;
		ssize_t r;
		if (!c->have_head) {
			buf = c->head + c->hlen;
			cap = HEAD_MAX - 1 - c->hlen;
			if (cap == 0)
				die("reply headers over %d bytes", HEAD_MAX);
		} else {
			buf = scratch;
			cap = sizeof scratch;
		}
		r = gnutls_record_recv(c->s, buf, cap);
		if (r == GNUTLS_E_AGAIN)
			return;
		if (r < 0 && !gnutls_error_is_fatal((int)r))
			continue;	/* interrupted, a warning alert */
		if (r <= 0) {
			/* EOF or a fatal error: the server closed. Between
			 * requests that is no failure (curl too reconnects
			 * quietly); drop counts it only if one is in flight. */
			if (c->busy)
				drop(c, "closed by the server", r < 0 ?
				    (int)r : 0);
			else
				conn_close(c);
			return;
		}
		if (!c->busy)
			die("connection %d: data without a request",
			    (int)(c - cs));
		if (!c->have_head) {
			size_t from = c->hlen > 3 ? c->hlen - 3 : 0;
			char *end;
			c->hlen += (size_t)r;
			c->head[c->hlen] = '\0';
			if ((end = strstr(c->head + from, "\r\n\r\n")) == NULL)
				continue;
			end[2] = '\0';	/* keep the last header's CRLF */
			parse_head(c);
			c->have_head = 1;
			r = (ssize_t)(c->hlen - (size_t)(end + 4 - c->head));
		}
		/* One request in flight, so more than the body is a bug. */
		if ((unsigned long long)r > c->body_left)
			die("connection %d: more bytes than Content-Length",
			    (int)(c - cs));
		c->body_left -= (unsigned long long)r;
		if (c->body_left == 0) {
			done(c);
			/* Nothing decrypted or read ahead: back to epoll
			 * rather than a read bound to say EAGAIN. */
			if (c->state == DOWN ||
			    (gnutls_record_check_pending(c->s) == 0 &&
			    c->rpos == c->rlen))
				return;
		}
	}
}

static void
on_event(struct conn *c, uint32_t ev)
{
	switch (c->state) {
	case DOWN:
		break;
	case CONNECTING:
		connected(c);
		break;
	case HANDSHAKE:
		handshake(c);
		break;
	case READY:
		if ((ev & EPOLLOUT) && c->wlen > 0)
			conn_send(c);
		if (c->state == READY && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)))
			conn_recv(c);
		break;
	}
}

/* Microsecond timeouts where the kernel has them: pacing at thousands a
 * second cannot sleep in whole milliseconds. */
static int
wait_events(struct epoll_event *evs, int n, double seconds)
{
	static int no_pwait2;
	struct timespec ts;
	int r;

	if (seconds < 0)
		seconds = 0;
	if (!no_pwait2) {
		ts.tv_sec = (time_t)seconds;
		ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
		r = epoll_pwait2(ep, evs, n, &ts, NULL);
		if (r >= 0 || errno != ENOSYS)
			return r;
		no_pwait2 = 1;
	}
	return epoll_wait(ep, evs, n, (int)(seconds * 1e3 + 0.999));
}

static void
poll_once(double seconds)
{
	struct epoll_event evs[MAX_CONNS];
	int n = wait_events(evs, MAX_CONNS, seconds);

	if (n < 0 && errno != EINTR)
		die("epoll_wait: %s", strerror(errno));
	for (int i = 0; i < n; i++)
		on_event(evs[i].data.ptr, evs[i].events);
}

static void
start(struct conn *c, const char *req, size_t len, double sched)
{
	c->busy = 1;
	c->started = sched;
	c->wp = req;
	c->wlen = len;
	c->hlen = 0;
	c->have_head = 0;
	if (c->state == DOWN)
		conn_open(c);	/* sends once the handshake is done */
	else if (c->state == READY)
		conn_send(c);
}

/* The interval that ended at END_S into the run, and a fresh one. */
static void
interval_line(double end_s)
{
	qsort(lat, nlat, sizeof *lat, cmp);
	printf("interval %.0f %zu %.3f %.3f %u\n", end_s, nlat,
	    nlat ? lat[nlat / 2] * 1e3 : 0, nlat ? lat[nlat * 99 / 100] * 1e3 :
	    0, ierrors);
	fflush(stdout);
	nlat = 0;
	ierrors = 0;
}

/* https://host[:port][/path], host a name, an IPv4 or a [IPv6]. */
static void
parse_url(const char *url, char *authority, size_t asize, const char **path)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_NUMERICSERV }, *ai;
	const char *a, *end, *port = "443";
	char pbuf[8], tmp[16];
	size_t n;
	int rc;

	if (strncasecmp(url, "https://", 8) != 0)
		die("URL must be https://: %s", url);
	a = url + 8;
	end = a + strcspn(a, "/");
	*path = *end ? end : "/";
	if ((n = (size_t)(end - a)) == 0 || n >= asize || n >= sizeof host)
		die("bad URL host: %s", url);
	memcpy(authority, a, n);
	authority[n] = '\0';
	if (*a == '[') {
		const char *rb = memchr(a, ']', n);
		if (rb == NULL)
			die("bad URL host: %s", url);
		memcpy(host, a + 1, (size_t)(rb - a - 1));
		host[rb - a - 1] = '\0';
		if (rb[1] == ':')
			port = rb + 2;
	} else {
		const char *colon = memchr(a, ':', n);
		size_t hl = colon ? (size_t)(colon - a) : n;
		memcpy(host, a, hl);
		host[hl] = '\0';
		if (colon)
			port = colon + 1;
	}
	n = strcspn(port, "/");
	if (n == 0 || n >= sizeof pbuf)
		die("bad URL port: %s", url);
	memcpy(pbuf, port, n);
	pbuf[n] = '\0';
	host_is_ip = inet_pton(AF_INET, host, tmp) == 1 ||
	    inet_pton(AF_INET6, host, tmp) == 1;
	if ((rc = getaddrinfo(host, pbuf, &hints, &ai)) != 0)
		die("%s: %s", host, gai_strerror(rc));
	memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
	addrlen = ai->ai_addrlen;
	freeaddrinfo(ai);
}

int
main(int argc, char **argv)
{
	const char *url, *ca, *cert, *key, *token, *kase, *path;
	char **ids = NULL, authority[300], *reqs;
	size_t nids = 0, *off, total = 0;
	double t0, until, next, rate = 0;
	double interval = 0;
	unsigned long ticks = 0;	/* intervals printed */
	int conns, rc;
	unsigned seed = 1;

	if (argc < 10 || argc > 12) {
		fprintf(stderr, "usage: bench_tls URL CA CERT KEY TOKEN CASE "
		    "IDS CONNS SECONDS [RATE [INTERVAL]]\n");
		return 2;
	}
	url = argv[1]; ca = argv[2]; cert = argv[3]; key = argv[4];
	token = argv[5]; kase = argv[6];
	conns = atoi(argv[8]);
	if (conns < 1 || conns > MAX_CONNS)
		return 2;
	if (argc >= 11)
		rate = atof(argv[10]);
	if (argc == 12 && (interval = atof(argv[11])) > 0)
		interval_mode = 1;
	if (bench_read_ids(argv[7], &ids, &nids) != 0)
		return 1;
	if (nids == 0)
		return 1;
	parse_url(url, authority, sizeof authority, &path);

	/* Every request there can be, formatted once: a request is then a
	 * pointer and a length. What curl would send, less nothing the
	 * server reads. */
#define REQ "GET %sv1/records/%s?purpose=%s HTTP/1.1\r\nHost: %s\r\n" \
	"Authorization: Bearer %s\r\nAccept: */*\r\n\r\n"
	if ((off = malloc((nids + 1) * sizeof *off)) == NULL)
		return 1;
	for (size_t i = 0; i < nids; i++) {
		off[i] = total;
		total += (size_t)snprintf(NULL, 0, REQ, path, ids[i], kase,
		    authority, token);
	}
	off[nids] = total;
	if ((reqs = malloc(total + 1)) == NULL)
		return 1;
	for (size_t i = 0; i < nids; i++) {
		snprintf(reqs + off[i], off[i + 1] - off[i] + 1, REQ, path,
		    ids[i], kase, authority, token);
		free(ids[i]);
	}
	free(ids);

	if ((rc = gnutls_global_init()) < 0 ||
	    (rc = gnutls_certificate_allocate_credentials(&cred)) < 0 ||
	    (rc = gnutls_priority_init(&prio, PRIORITIES, NULL)) < 0)
		die("gnutls: %s", gnutls_strerror(rc));
	if ((rc = gnutls_certificate_set_x509_trust_file(cred, ca,
	    GNUTLS_X509_FMT_PEM)) <= 0)
		die("%s: %s", ca, rc ? gnutls_strerror(rc) : "no certificate");
	if ((rc = gnutls_certificate_set_x509_key_file(cred, cert, key,
	    GNUTLS_X509_FMT_PEM)) < 0)
		die("%s, %s: %s", cert, key, gnutls_strerror(rc));
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1: %s", strerror(errno));

	/* Handshakes before the clock: the run measures requests. */
	for (int i = 0; i < conns; i++) {
		cs[i].fd = -1;
		conn_open(&cs[i]);
	}
	t0 = now();
	for (int ready = 0; ready < conns;) {
		if (now() - t0 > SETUP_SECONDS)
			die("only %d of %d connections after %.0f s", ready,
			    conns, SETUP_SECONDS);
		poll_once(1.0);
		ready = 0;
		for (int i = 0; i < conns; i++)
			ready += cs[i].state == READY;
	}
	setup = 0;

	t0 = now();
	until = t0 + atof(argv[9]);
	next = t0;
	/* Bounded by time; each connection has one request in flight. */
	for (;;) {
		double tnow = now(), wake, tick;
		int finished = tnow >= until, idle = 0, busy = 0;
		/* An interval's line once it is over; the last one at the
		 * run's end, before the drain (its stragglers go to the
		 * final line only). TICK is the next interval's end, from
		 * the start rather than summed: no drift, and the last one
		 * falls on the run's end exactly. */
		for (;;) {
			tick = t0 + (double)(ticks + 1) * interval;
			if (!interval_mode || tick > until + 1e-6 || tnow < tick)
				break;
			interval_line(tick - t0);
			ticks++;
		}
		for (int i = 0; i < conns; i++) {
			size_t k;
			if (cs[i].busy || finished ||
			    (rate > 0 && tnow < next)) {
				idle += !cs[i].busy;
				continue;
			}
			k = (size_t)rand_r(&seed) % nids;
			/* Open loop: the schedule, not the replies, sets the
			 * pace, and latency counts from the scheduled time. */
			start(&cs[i], reqs + off[k], off[k + 1] - off[k],
			    rate > 0 ? next : tnow);
			if (rate > 0)
				next += 1.0 / rate;
		}
		for (int i = 0; i < conns; i++)
			busy += cs[i].busy;
		if (finished && busy == 0)
			break;
		if (finished && tnow >= until + DRAIN_SECONDS) {
			errors += (unsigned)busy;	/* never answered */
			break;
		}
		/* Sleep until a reply, or the next send an idle connection
		 * is due for, or the end. */
		wake = finished ? until + DRAIN_SECONDS : until;
		if (!finished && rate > 0 && idle > 0 && next < wake)
			wake = next;
		if (interval_mode && tick <= until + 1e-6 && tick < wake)
			wake = tick;
		poll_once(wake - tnow);
	}
	if (drops > 0)
		fprintf(stderr, "bench_tls: %u connections lost with a "
		    "request in flight\n", drops);
	if (interval_mode) {
		printf("server %d %llu %.3f %.3f %.3f %u\n", conns,
		    (unsigned long long)nhist, until - t0,
		    hist_quantile(0.5) * 1e3, hist_quantile(0.99) * 1e3, errors);
	} else {
		qsort(lat, nlat, sizeof *lat, cmp);
		printf("server %d %zu %.3f %.3f %.3f %u\n", conns, nlat,
		    until - t0, nlat ? lat[nlat / 2] * 1e3 : 0,
		    nlat ? lat[nlat * 99 / 100] * 1e3 : 0, errors);
	}
	if (interval_mode) {
		/* Whoever samples the server at the last interval's line
		 * (bench/soak.sh: its descriptors) sees these connections
		 * open, as at every other line. */
		struct timespec hold = { .tv_sec = 1 };
		fflush(stdout);
		nanosleep(&hold, NULL);
	}
	for (int i = 0; i < conns; i++)
		conn_close(&cs[i]);
	gnutls_priority_deinit(prio);
	gnutls_certificate_free_credentials(cred);
	gnutls_global_deinit();
	free(off);
	free(reqs);
	close(ep);
	return 0;
}
