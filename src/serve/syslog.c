/*
 * The RFC 5424 sender and the supervisor's relay (syslog.h says why the
 * relay exists). Only the supervisor and `clearvault get`, neither of
 * them confined, ever hold a socket to the collector.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../api/api.h"
#include "../keyd/keyd.h"
#include "syslog.h"

#define CONNECT_TIMEOUT_MS 2000
#define SEND_TIMEOUT_S 2
#define BACKOFF_MAX_S 30
/* A UDP collector's name is looked up again this often even when
 * nothing failed (UDP may never say that the address went dead). */
#define UDP_REOPEN_S 300

struct cv_syslog {
	struct cv_syslog_target t;
	char label[CV_SYSLOG_TARGET_MAX + 8];	/* "udp:HOST:PORT" */
	char who[40];
	char host[256];		/* ours, for HOSTNAME */
	pthread_mutex_t mu;
	int fd;
	time_t opened, retry_at;
	unsigned backoff;
	uint64_t sent, unsent, refused;
	int down;		/* the last alert was not sent */
	int say_counts;		/* at the free, even when all were sent */
	int lost_earlier;	/* UDP: the kernel said one was refused */
};

cv_err
cv_syslog_new(const struct cv_syslog_target *t, const char *who,
    struct cv_syslog **out)
{
	struct cv_syslog *s;

	*out = NULL;
	if ((s = calloc(1, sizeof *s)) == NULL)
		return CV_ERR_NOMEM;
	s->t = *t;
	snprintf(s->label, sizeof s->label, "%s:%s%s%s:%s",
	    t->tcp ? "tcp" : "udp", strchr(t->host, ':') ? "[" : "", t->host,
	    strchr(t->host, ':') ? "]" : "", t->port);
	snprintf(s->who, sizeof s->who, "%s", who);
	/* Read once: it names this machine in every message. */
	if (gethostname(s->host, sizeof s->host) != 0)
		s->host[0] = '\0';
	s->host[sizeof s->host - 1] = '\0';
	pthread_mutex_init(&s->mu, NULL);
	s->fd = -1;
	s->backoff = 1;
	*out = s;
	return CV_OK;
}

static void
conn_close(struct cv_syslog *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/* A connected socket to one address of AI; -1 and errno on failure. */
static int
conn_one(const struct addrinfo *ai)
{
	struct timeval tv = { .tv_sec = SEND_TIMEOUT_S };
	struct pollfd p;
	socklen_t sl = sizeof(int);
	int fd, e = 0;

	if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, ai->ai_protocol)) < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		/* TCP: wait a bounded time, not the kernel's minutes. */
		if (errno != EINPROGRESS)
			goto fail;
		p.fd = fd;
		p.events = POLLOUT;
		if (poll(&p, 1, CONNECT_TIMEOUT_MS) != 1) {
			errno = ETIMEDOUT;
			goto fail;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) != 0)
			goto fail;
		if (e != 0) {
			errno = e;
			goto fail;
		}
	}
	/* TCP sends block, for at most SEND_TIMEOUT_S; UDP sends never. */
	if (ai->ai_socktype == SOCK_STREAM &&
	    (fcntl(fd, F_SETFL, 0) != 0 || setsockopt(fd, SOL_SOCKET,
	    SO_SNDTIMEO, &tv, sizeof tv) != 0))
		goto fail;
	return fd;
 fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

/* Opens S's connection (the name looked up now); 0 and WHY on failure. */
static int
conn_open(struct cv_syslog *s, char *why, size_t n)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC }, *res = NULL, *ai;
	int g;

	hints.ai_socktype = s->t.tcp ? SOCK_STREAM : SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((g = getaddrinfo(s->t.host, s->t.port, &hints, &res)) != 0) {
		snprintf(why, n, "%s", gai_strerror(g));
		return 0;
	}
	for (ai = res; ai && s->fd < 0; ai = ai->ai_next)
		if ((s->fd = conn_one(ai)) < 0)
			snprintf(why, n, "%s", strerror(errno));
	freeaddrinfo(res);
	if (s->fd < 0)
		return 0;
	s->opened = time(NULL);
	s->backoff = 1;
	return 1;
}

/*
 * 1 when a TCP collector closed or reset our connection. It never sends
 * anything, so readable means gone: found before a send, an alert is not
 * written into a connection that the kernel would then drop.
 */
static int
tcp_gone(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };

	return poll(&p, 1, 0) != 0;
}

/* One attempt on the current connection (opened if need be). */
static int
try_send(struct cv_syslog *s, const struct cv_buf *m, char *why, size_t n)
{
	char len[24];
	struct iovec iov[2];
	struct msghdr h = { .msg_iov = iov };
	size_t off = 0, total;
	ssize_t w;
	time_t now = time(NULL);

	if (s->fd >= 0 && (s->t.tcp ? tcp_gone(s->fd) :
	    now - s->opened > UDP_REOPEN_S))
		conn_close(s);
	if (s->fd < 0) {
		if (now < s->retry_at) {
			snprintf(why, n, "waiting to reconnect");
			return 0;
		}
		if (!conn_open(s, why, n)) {
			s->retry_at = now + (time_t)s->backoff;
			if ((s->backoff *= 2) > BACKOFF_MAX_S)
				s->backoff = BACKOFF_MAX_S;
			return 0;
		}
	}
	if (!s->t.tcp) {
		if (send(s->fd, m->p, m->len, MSG_NOSIGNAL | MSG_DONTWAIT) ==
		    (ssize_t)m->len)
			return 1;
		/* ECONNREFUSED is an earlier datagram's ICMP "port
		 * unreachable" (the collector was down): that one was lost,
		 * this one was not sent yet. */
		if (errno == ECONNREFUSED) {
			/* Counted as sent when the kernel took it. */
			if (s->sent > 0)
				s->sent--;
			s->unsent++;
			s->lost_earlier = 1;
		}
		snprintf(why, n, "%s", strerror(errno));
		conn_close(s);
		return 0;
	}
	/* RFC 6587 octet counting: "LEN SP MSG", no terminator. */
	snprintf(len, sizeof len, "%zu ", m->len);
	total = strlen(len) + m->len;
	while (off < total) {
		size_t l = strlen(len);

		iov[0].iov_base = len + (off < l ? off : l);
		iov[0].iov_len = off < l ? l - off : 0;
		iov[1].iov_base = m->p + (off > l ? off - l : 0);
		iov[1].iov_len = m->len - (off > l ? off - l : 0);
		h.msg_iovlen = 2;
		if ((w = sendmsg(s->fd, &h, MSG_NOSIGNAL)) <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			snprintf(why, n, "%s", w < 0 ? strerror(errno) :
			    "nothing sent");
			/* Half a frame would garble the next: a new
			 * connection. */
			conn_close(s);
			return 0;
		}
		off += (size_t)w;
	}
	return 1;
}

cv_err
cv_syslog_send(struct cv_syslog *s, const char *line, size_t len, long pid)
{
	struct cv_buf m;
	char why[160] = "";
	cv_err r;
	int ok;

	if ((r = cv_keyd_alert_5424(line, len, s->host, pid, &m)) != CV_OK) {
		pthread_mutex_lock(&s->mu);
		s->refused++;
		/* A flood of bad lines (a compromised worker's) must not
		 * flood the log: the 1st, 2nd, 4th, 8th, ... */
		if ((s->refused & (s->refused - 1)) == 0)
			fprintf(stderr, "%s: syslog_5424: refused %llu line(s) "
			    "that are not alerts (from pid %ld: %s)\n", s->who,
			    (unsigned long long)s->refused, pid,
			    cv_err_detail());
		pthread_mutex_unlock(&s->mu);
		return r == CV_ERR_NOMEM ? r : CV_ERR_INVALID;
	}
	pthread_mutex_lock(&s->mu);
	/* Twice: the first failure may be a collector that restarted (a
	 * closed connection, a pending "refused"); the second attempt is
	 * a new connection with a new lookup of its name. */
	ok = try_send(s, &m, why, sizeof why) ||
	    (s->fd < 0 && s->retry_at <= time(NULL) &&
	    try_send(s, &m, why, sizeof why));
	if (s->lost_earlier)
		fprintf(stderr, "%s: syslog_5424 %s: an alert was not sent (the "
		    "collector refused an earlier datagram: it was down); %llu "
		    "not sent so far\n", s->who, s->label,
		    (unsigned long long)s->unsent);
	s->lost_earlier = 0;
	if (ok) {
		s->sent++;
		if (s->down)
			fprintf(stderr, "%s: syslog_5424 %s: sending again "
			    "(%llu alert(s) not sent so far)\n", s->who,
			    s->label, (unsigned long long)s->unsent);
		s->down = 0;
	} else {
		s->unsent++;
		if (!s->down)
			fprintf(stderr, "%s: syslog_5424 %s: an alert was not "
			    "sent (%s); %llu not sent so far\n", s->who,
			    s->label, why, (unsigned long long)s->unsent);
		s->down = 1;
	}
	pthread_mutex_unlock(&s->mu);
	cv_buf_free(&m);
	return ok ? CV_OK : CV_ERR_IO;
}

void
cv_syslog_counts(struct cv_syslog *s, uint64_t *sent, uint64_t *unsent,
    uint64_t *refused)
{
	pthread_mutex_lock(&s->mu);
	*sent = s->sent;
	*unsent = s->unsent;
	*refused = s->refused;
	pthread_mutex_unlock(&s->mu);
}

void
cv_syslog_free(struct cv_syslog *s)
{
	if (s == NULL)
		return;
	/* A lost alert is always said; a server says its counts at every
	 * stop (cv_syslog_relay_stop), one `get` only when one was lost. */
	if (s->unsent || s->refused || (s->say_counts && s->sent))
		fprintf(stderr, "%s: syslog_5424 %s: %llu alert(s) sent, %llu "
		    "not sent, %llu refused\n", s->who, s->label,
		    (unsigned long long)s->sent,
		    (unsigned long long)s->unsent,
		    (unsigned long long)s->refused);
	conn_close(s);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

void
cv_syslog_sink(void *ctx, const char *line, size_t len)
{
	(void)cv_syslog_send(ctx, line, len, (long)getpid());
}

void
cv_syslog_relay_sink(void *ctx, const char *line, size_t len)
{
	static uint64_t lost;
	int fd = (int)(intptr_t)ctx;

	/* send(), not a new socket: the confined processes may send on a
	 * descriptor they were given, and this one reaches only the
	 * supervisor (a socketpair has no address to redirect). */
	if (send(fd, line, len, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)len)
		fprintf(stderr, "clearvault: an alert was not relayed to "
		    "syslog (%s); %llu so far\n", strerror(errno),
		    (unsigned long long)__atomic_add_fetch(&lost, 1,
		    __ATOMIC_RELAXED));
}

struct cv_syslog_relay {
	struct cv_syslog *s;	/* NULL: no collector */
	int fd, stop[2];
	/* The counts for /metrics (CV_SYSLOG_COUNTS_BYTES), a memfd: ours
	 * to write, a read-only descriptor of it for the api worker. */
	int counts, counts_ro;
	pthread_t thread;
	int running;
};

/* The counts into the memfd, in one pwrite; the api worker reads them
 * in one pread. XXX: Linux does not promise that a pread sees a 32-byte
 * pwrite whole; a torn read shows one count an alert behind, until the
 * next scrape. */
static void
counts_put(struct cv_syslog_relay *r)
{
	uint8_t c[CV_SYSLOG_COUNTS_BYTES];
	uint64_t v[3];

	if (r->counts < 0 || r->s == NULL)
		return;
	cv_syslog_counts(r->s, &v[0], &v[1], &v[2]);
	cv_put_u64be(c, 1);
	for (int i = 0; i < 3; i++)
		cv_put_u64be(c + 8 + 8 * i, v[i]);
	if (pwrite(r->counts, c, sizeof c, 0) != (ssize_t)sizeof c)
		fprintf(stderr, "clearvault serve: syslog counts: %s\n",
		    strerror(errno));
}

/* Reads and sends every line queued now. */
static void
relay_drain(struct cv_syslog_relay *r)
{
	char line[CV_ALERT_LINE_MAX];
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(struct ucred))];
	} u;
	struct iovec iov = { line, sizeof line };
	struct msghdr m;
	struct cmsghdr *c;
	struct ucred cred;
	ssize_t n;
	long pid;

	for (;;) {
		memset(&m, 0, sizeof m);
		m.msg_iov = &iov;
		m.msg_iovlen = 1;
		m.msg_control = u.b;
		m.msg_controllen = sizeof u.b;
		if ((n = recvmsg(r->fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC)) <
		    0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		if (r->s == NULL)
			continue;
		/* The sender's pid as the kernel saw it (SO_PASSCRED), not
		 * as the line says: PROCID names who raised the alert. */
		pid = 0;
		for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
			if (c->cmsg_level == SOL_SOCKET &&
			    c->cmsg_type == SCM_CREDENTIALS &&
			    c->cmsg_len == CMSG_LEN(sizeof cred)) {
				memcpy(&cred, CMSG_DATA(c), sizeof cred);
				pid = (long)cred.pid;
			}
		/* Longer than any line alert.c writes: cut off, refused. */
		if (m.msg_flags & MSG_TRUNC)
			n = 0;
		(void)cv_syslog_send(r->s, line, (size_t)n, pid);
		counts_put(r);
	}
}

static void *
relay_main(void *arg)
{
	struct cv_syslog_relay *r = arg;
	struct pollfd p[2];

	for (;;) {
		p[0] = (struct pollfd){ .fd = r->fd, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = r->stop[0], .events = POLLIN };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		relay_drain(r);
		if (p[1].revents)
			break;
		/* Every sending end closed (only at the stop: we hold one):
		 * nothing more can come, wait for the stop alone. */
		if ((p[0].revents & (POLLHUP | POLLERR)) &&
		    !(p[0].revents & POLLIN)) {
			p[1].revents = 0;
			while (poll(&p[1], 1, -1) < 0 && errno == EINTR)
				;
			break;
		}
	}
	return NULL;
}

cv_err
cv_syslog_relay_start(const struct cv_syslog_target *t, const char *who,
    int *send_fd, struct cv_syslog_relay **out)
{
	struct cv_syslog_relay *r;
	int sv[2] = { -1, -1 }, one = 1, big = 1 << 20;
	cv_err e = CV_ERR_INTERNAL;

	*out = NULL;
	*send_fd = -1;
	if ((r = calloc(1, sizeof *r)) == NULL)
		return CV_ERR_NOMEM;
	r->fd = r->stop[0] = r->stop[1] = r->counts = r->counts_ro = -1;
	if (t && (e = cv_syslog_new(t, who, &r->s)) != CV_OK)
		goto out;
	if (r->s)
		r->s->say_counts = 1;
	/* Records: one alert a message, whole or not at all. SEQPACKET, not
	 * DGRAM: an address given to sendto() on a connected datagram
	 * socket sends there instead (any local datagram socket), on a
	 * SEQPACKET one it is ignored, so this reaches us and nothing else.
	 * The children's end is non-blocking (an alert never waits for us)
	 * and has room for a burst (the kernel may cap it lower). */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0 ||
	    setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof one) !=
	    0 || fcntl(sv[1], F_SETFL, O_NONBLOCK) != 0 ||
	    pipe2(r->stop, O_CLOEXEC) != 0) {
		e = cv_fail(CV_ERR_INTERNAL, "the alert relay: %s",
		    strerror(errno));
		goto out;
	}
	/* Read-only for the worker through /proc: it cannot rewrite the
	 * counts (it could only lie about them in /metrics, which it
	 * renders anyway). */
	{
		char path[64];

		if ((r->counts = memfd_create("cv-syslog-counts",
		    MFD_CLOEXEC)) < 0 ||
		    ftruncate(r->counts, CV_SYSLOG_COUNTS_BYTES) != 0 ||
		    snprintf(path, sizeof path, "/proc/self/fd/%d",
		    r->counts) < 0 ||
		    (r->counts_ro = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			e = cv_fail(CV_ERR_INTERNAL, "the alert relay's "
			    "counts: %s", strerror(errno));
			goto out;
		}
		counts_put(r);
	}
	(void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
	(void)setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
	r->fd = sv[0];
	sv[0] = -1;
	if (pthread_create(&r->thread, NULL, relay_main, r) != 0) {
		e = cv_fail(CV_ERR_INTERNAL, "the alert relay: no thread");
		goto out;
	}
	r->running = 1;
	*send_fd = sv[1];
	sv[1] = -1;	/* transferred */
	*out = r;
	r = NULL;
	e = CV_OK;
 out:
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	cv_syslog_relay_stop(r);
	return e;
}

int
cv_syslog_relay_counts_fd(const struct cv_syslog_relay *r)
{
	return r->counts_ro;
}

void
cv_syslog_relay_stop(struct cv_syslog_relay *r)
{
	if (r == NULL)
		return;
	if (r->running) {
		/* The thread drains what is queued, then ends. */
		if (write(r->stop[1], "x", 1) != 1)
			fprintf(stderr, "clearvault: the alert relay did not "
			    "take its stop\n");
		pthread_join(r->thread, NULL);
	}
	for (int i = 0; i < 2; i++)
		if (r->stop[i] >= 0)
			close(r->stop[i]);
	if (r->fd >= 0)
		close(r->fd);
	if (r->counts >= 0)
		close(r->counts);
	if (r->counts_ro >= 0)
		close(r->counts_ro);
	cv_syslog_free(r->s);
	free(r);
}
