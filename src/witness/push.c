/*
 * The vault's side of c2sp.org/tlog-witness: a small HTTP/1.1 client for
 * add-checkpoint (one blocking POST per connection, bounded in time and
 * in the size of what it reads back), and the request and 409 formats.
 *
 * Everything a witness sends back is outside input: the status line and
 * the headers are parsed only as far as needed, the body is bounded, and
 * a cosignature counts only once cv_witness_cosig_verify says so (the
 * caller's job).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "witness_internal.h"

/* Milliseconds left before DEADLINE (cv_now_us), at least 0. */
static int
left_ms(int64_t deadline)
{
	int64_t d = (deadline - cv_now_us()) / 1000;

	return d < 0 ? 0 : d > 60000 ? 60000 : (int)d;
}

/* Waits for EVENTS on FD until DEADLINE: 1 ready, 0 timed out. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int n;

	do {
		n = poll(&p, 1, left_ms(deadline));
	} while (n < 0 && errno == EINTR);
	return n > 0;
}

/* A non-blocking TCP connection to HOST:PORT, made before DEADLINE. */
static cv_err
dial(const char *host, const char *port, int64_t deadline, int *out)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
	    .ai_family = AF_UNSPEC }, *res = NULL, *ai;
	int fd = -1, e, err = 0;
	socklen_t el = sizeof err;
	cv_err r = CV_ERR_IO;

	*out = -1;
	/* The resolver keeps its own timeouts (resolv.conf): a name that
	 * does not resolve delays this thread, never a request. */
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0)
		return cv_fail(CV_ERR_IO, "witness %s: %s", host,
		    gai_strerror(e));
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    (errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline) &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 &&
		    err == 0))
			break;
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		r = cv_fail(CV_ERR_IO, "witness %s:%s: cannot connect%s%s",
		    host, port, err ? ": " : "", err ? strerror(err) : "");
		goto out;
	}
	*out = fd;
	r = CV_OK;
 out:
	freeaddrinfo(res);
	return r;
}

static cv_err
send_all(int fd, const void *data, size_t len, int64_t deadline)
{
	const char *p = data;
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return cv_fail(CV_ERR_IO, "witness: send: %s",
			    strerror(errno));
		if (!wait_fd(fd, POLLOUT, deadline))
			return cv_fail(CV_ERR_IO, "witness: send timed out");
	}
	return CV_OK;
}

/* The value of header NAME (NUL-terminated copy in OUT), or 0. */
static int
header(const char *head, size_t hlen, const char *name, char *out,
    size_t size)
{
	const char *p = head, *end = head + hlen, *nl, *v;
	size_t nl_len = strlen(name);

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if ((size_t)(nl - p) > nl_len && p[nl_len] == ':' &&
		    strncasecmp(p, name, nl_len) == 0) {
			for (v = p + nl_len + 1; v < nl && (*v == ' ' ||
			    *v == '\t'); v++)
				;
			size_t n = (size_t)(nl - v);
			while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == ' '))
				n--;
			if (n >= size)
				return 0;
			memcpy(out, v, n);
			out[n] = '\0';
			return 1;
		}
	}
	return 0;
}

cv_err
cv_witness_reply_parse(const char *in, size_t len, int *status,
    size_t *body_off, size_t *body_len)
{
	const char *hend;
	char cl[24], *e;
	unsigned long long want;
	size_t hlen, blen;
	int st = 0;

	*status = 0;
	*body_off = *body_len = 0;
	if (len < 12 || memcmp(in, "HTTP/1.", 7) != 0 || in[8] != ' ' ||
	    (hend = memmem(in, len, "\r\n\r\n", 4)) == NULL)
		goto bad;
	for (int i = 9; i < 12; i++) {
		if (in[i] < '0' || in[i] > '9')
			goto bad;
		st = st * 10 + (in[i] - '0');
	}
	if (st < 100 || (len > 12 && in[12] != ' ' && in[12] != '\r'))
		goto bad;
	hlen = (size_t)(hend - in);
	blen = len - hlen - 4;
	if (header(in, hlen, "Content-Length", cl, sizeof cl)) {
		errno = 0;
		want = strtoull(cl, &e, 10);
		if (*e != '\0' || cl[0] < '0' || cl[0] > '9' || errno != 0 ||
		    want > blen)
			goto bad;	/* cut short */
		blen = (size_t)want;
	}
	*status = st;
	*body_off = hlen + 4;
	*body_len = blen;
	return CV_OK;
 bad:
	return cv_fail(CV_ERR_INVALID, "witness: malformed HTTP reply");
}

cv_err
cv_witness_post(const char *host, const char *port, const char *path,
    const void *body, size_t len, unsigned timeout_ms, int *status,
    struct cv_buf *reply)
{
	int64_t deadline = cv_now_us() + (int64_t)timeout_ms * 1000;
	struct cv_buf in = { 0 };
	char head[600];
	int fd = -1, n, v6;
	ssize_t got;
	size_t off, len2;
	cv_err r;

	*status = 0;
	/* An IPv6 literal goes in brackets in Host (RFC 9110, 7.2). */
	v6 = strchr(host, ':') != NULL;
	n = snprintf(head, sizeof head, "POST %s HTTP/1.1\r\nHost: %s%s%s:%s"
	    "\r\nUser-Agent: clearvault/" CV_VERSION "\r\nContent-Type: "
	    "text/plain\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
	    path, v6 ? "[" : "", host, v6 ? "]" : "", port, len);
	if (n < 0 || (size_t)n >= sizeof head)
		return cv_fail(CV_ERR_INVALID, "witness: URL too long");
	if ((r = dial(host, port, deadline, &fd)) != CV_OK ||
	    (r = send_all(fd, head, (size_t)n, deadline)) != CV_OK ||
	    (r = send_all(fd, body, len, deadline)) != CV_OK)
		goto out;
	/* Connection: close: the reply ends where the stream does; read
	 * at most CV_WITNESS_REPLY_MAX bytes of it. */
	for (;;) {
		if ((r = cv_buf_reserve(&in, 4096)) != CV_OK)
			goto out;
		got = recv(fd, in.p + in.len, 4096, 0);
		if (got == 0)
			break;
		if (got > 0) {
			in.len += (size_t)got;
			if (in.len > CV_WITNESS_REPLY_MAX) {
				r = cv_fail(CV_ERR_INVALID, "witness: reply "
				    "over %d bytes", CV_WITNESS_REPLY_MAX);
				goto out;
			}
			continue;
		}
		if (errno != EAGAIN && errno != EINTR) {
			r = cv_fail(CV_ERR_IO, "witness: recv: %s",
			    strerror(errno));
			goto out;
		}
		if (!wait_fd(fd, POLLIN, deadline)) {
			r = cv_fail(CV_ERR_IO, "witness: no reply in %u ms",
			    timeout_ms);
			goto out;
		}
	}
	if ((r = cv_witness_reply_parse((const char *)in.p, in.len, status,
	    &off, &len2)) != CV_OK ||
	    (r = cv_buf_add(reply, in.p + off, len2)) != CV_OK)
		goto out;
	r = CV_OK;
 out:
	if (fd >= 0)
		close(fd);
	cv_buf_free(&in);
	return r;
}

cv_err
cv_witness_req_format(uint64_t old, const uint8_t (*proof)[32], size_t n,
    const char *note, size_t len, struct cv_buf *out)
{
	char line[64];
	cv_err r;

	if (n > CV_WITNESS_MAX_PROOF)
		return cv_fail(CV_ERR_INVALID, "a proof of %zu hashes", n);
	snprintf(line, sizeof line, "old %llu\n", (unsigned long long)old);
	if ((r = cv_buf_add(out, line, strlen(line))) != CV_OK)
		return r;
	for (size_t i = 0; i < n; i++) {
		sodium_bin2base64(line, sizeof line, proof[i], 32,
		    sodium_base64_VARIANT_ORIGINAL);
		if ((r = cv_buf_add(out, line, strlen(line))) != CV_OK ||
		    (r = cv_buf_add(out, "\n", 1)) != CV_OK)
			return r;
	}
	if ((r = cv_buf_add(out, "\n", 1)) != CV_OK)
		return r;
	return cv_buf_add(out, note, len);
}

cv_err
cv_witness_size_parse(const char *body, size_t len, uint64_t *size)
{
	uint64_t x = 0;
	size_t i;

	*size = 0;
	/* "SIZE\n": a decimal without leading zeroes. */
	if (len < 2 || len > 21 || body[len - 1] != '\n' ||
	    (body[0] == '0' && len > 2))
		return cv_fail(CV_ERR_INVALID, "witness: 409 without a size");
	for (i = 0; i + 1 < len; i++) {
		unsigned d = (unsigned)(body[i] - '0');
		if (body[i] < '0' || body[i] > '9' ||
		    x > (UINT64_MAX - d) / 10)
			return cv_fail(CV_ERR_INVALID, "witness: 409 without "
			    "a size");
		x = x * 10 + d;
	}
	*size = x;
	return CV_OK;
}

cv_err
cv_witness_quorum(const char *note, size_t len, const char *const *vkeys,
    size_t n, size_t *valid, char *why, size_t whysize)
{
	char name[129], seen[CV_WITNESS_QUORUM_KEYS][129];
	uint8_t pk[CV_WITNESS_PK], seenpk[CV_WITNESS_QUORUM_KEYS][CV_WITNESS_PK];
	size_t nseen = 0, k = 0;
	uint64_t ts;
	cv_err r;

	*valid = 0;
	if (whysize)
		why[0] = '\0';
	if (n > CV_WITNESS_QUORUM_KEYS)
		return cv_fail(CV_ERR_INVALID, "more than %d witness keys",
		    CV_WITNESS_QUORUM_KEYS);
	for (size_t i = 0; i < n; i++) {
		size_t j;
		if ((r = cv_witness_vkey_parse(vkeys[i], name, pk)) != CV_OK)
			return cv_fail(r, "witness key %zu is not a "
			    "cosignature verifier key", i + 1);
		/* One party, one vote: the same name given twice (or two
		 * keys of one name) counts once, and so does one key under
		 * two names (the cosigned message does not hold the name:
		 * a line relabelled would verify for both). */
		for (j = 0; j < nseen; j++)
			if (!strcmp(seen[j], name) ||
			    sodium_memcmp(seenpk[j], pk, CV_WITNESS_PK) == 0)
				break;
		if (j < nseen)
			continue;
		memcpy(seenpk[nseen], pk, CV_WITNESS_PK);
		memcpy(seen[nseen++], name, sizeof name);
		r = cv_witness_cosig_verify(vkeys[i], note, len, &ts);
		if (r == CV_OK) {
			k++;
			continue;
		}
		if (r == CV_ERR_INVALID)
			return r;
		if (whysize && strlen(why) + strlen(name) + 40 < whysize)
			snprintf(why + strlen(why), whysize - strlen(why),
			    "%s%s %s", why[0] ? ", " : "", name,
			    r == CV_ERR_AUTH ? "(does not verify)" :
			    "(missing)");
	}
	*valid = k;
	return CV_OK;
}
