/*
 * A small HTTPS client for clearvault's own server: blocking sockets,
 * GnuTLS, one kept-alive connection, optional client certificate. Enough
 * HTTP/1.1 for the server's replies (Content-Length or chunked bodies).
 * Used by `clearvault enrol` and by the drills' attackers.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "client.h"

#define REPLY_MAX (64u << 20)

struct cv_http {
	gnutls_certificate_credentials_t cred;
	gnutls_session_t s;
	int fd;
	unsigned port;
	char host[256];
	struct cv_buf in;	/* bytes received, not yet consumed */
};

cv_err
cv_http_new(const char *ca_pem, const char *cert, const char *key,
    const char *host, unsigned port, struct cv_http **out)
{
	struct cv_http *h;
	cv_err r = CV_ERR_CRYPTO;

	*out = NULL;
	if (strlen(host) >= sizeof h->host || port == 0 || port > 65535)
		return cv_fail(CV_ERR_INVALID, "bad host or port");
	if ((h = calloc(1, sizeof *h)) == NULL)
		return CV_ERR_NOMEM;
	h->fd = -1;
	h->port = port;
	snprintf(h->host, sizeof h->host, "%s", host);
	if (gnutls_certificate_allocate_credentials(&h->cred) < 0) {
		h->cred = NULL;
		goto out;
	}
	if (gnutls_certificate_set_x509_trust_file(h->cred, ca_pem,
	    GNUTLS_X509_FMT_PEM) <= 0) {
		r = cv_fail(CV_ERR_IO, "%s: no CA certificate", ca_pem);
		goto out;
	}
	if (cert && key && gnutls_certificate_set_x509_key_file(h->cred, cert,
	    key, GNUTLS_X509_FMT_PEM) < 0) {
		r = cv_fail(CV_ERR_IO, "%s: bad certificate or key", cert);
		goto out;
	}
	*out = h;
	h = NULL;
	r = CV_OK;
out:
	cv_http_free(h);
	return r;
}

static void
disconnect(struct cv_http *h)
{
	if (h->s) {
		gnutls_deinit(h->s);
		h->s = NULL;
	}
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
	h->in.len = 0;
}

void
cv_http_free(struct cv_http *h)
{
	if (h == NULL)
		return;
	disconnect(h);
	if (h->cred)
		gnutls_certificate_free_credentials(h->cred);
	cv_buf_free(&h->in);
	free(h);
}

/* Connects and handshakes; 0 on success, -1 on a refusal or error. */
static int
connect_tls(struct cv_http *h)
{
	struct addrinfo hints = { 0 }, *ai = NULL;
	struct timeval tv = { 30, 0 };
	char port[8];
	int one = 1, rc;

	if (h->s)
		return 0;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof port, "%u", h->port);
	if (getaddrinfo(h->host, port, &hints, &ai) != 0 || ai == NULL)
		return -1;
	h->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (h->fd < 0) {
		freeaddrinfo(ai);
		return -1;
	}
	(void)setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	(void)setsockopt(h->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	(void)setsockopt(h->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	rc = connect(h->fd, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (rc != 0)
		goto fail;
	/* A server that answers before the body is all sent (a 413) and
	 * closes makes the rest of the send fail with EPIPE: an error for
	 * this request, not a SIGPIPE that kills the command (cli_drill's
	 * hostile-input flood died of it under load). */
	if (gnutls_init(&h->s, GNUTLS_CLIENT | GNUTLS_NO_SIGNAL) < 0) {
		h->s = NULL;
		goto fail;
	}
	if (gnutls_set_default_priority(h->s) < 0 ||
	    gnutls_credentials_set(h->s, GNUTLS_CRD_CERTIFICATE, h->cred) < 0)
		goto fail;
	gnutls_session_set_verify_cert(h->s, h->host, 0);
	gnutls_transport_set_int(h->s, h->fd);
	gnutls_handshake_set_timeout(h->s, 30000);
	do {
		rc = gnutls_handshake(h->s);
	} while (rc < 0 && !gnutls_error_is_fatal(rc));
	if (rc < 0)
		goto fail;
	return 0;
fail:
	disconnect(h);
	return -1;
}

static int
send_all(struct cv_http *h, const char *p, size_t n)
{
	while (n) {
		ssize_t w = gnutls_record_send(h->s, p, n);
		if (w < 0 && !gnutls_error_is_fatal((int)w))
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads more into h->in; -1 at end or error. */
static int
fill(struct cv_http *h)
{
	char buf[16384];
	ssize_t n;

	do {
		n = gnutls_record_recv(h->s, buf, sizeof buf);
	} while (n < 0 && !gnutls_error_is_fatal((int)n));
	if (n <= 0 || h->in.len + (size_t)n > REPLY_MAX)
		return -1;
	return cv_buf_add(&h->in, buf, (size_t)n) == CV_OK ? 0 : -1;
}

static const char *
find_crlf2(struct cv_http *h)
{
	for (size_t i = 0; i + 3 < h->in.len; i++)
		if (!memcmp(h->in.p + i, "\r\n\r\n", 4))
			return (const char *)h->in.p + i;
	return NULL;
}

/* A header's value within HEAD (case-insensitive name), or NULL. */
static const char *
header(const char *head, const char *name)
{
	size_t n = strlen(name);

	for (const char *l = strstr(head, "\r\n"); l; l = strstr(l, "\r\n")) {
		l += 2;
		if (!strncasecmp(l, name, n) && l[n] == ':') {
			l += n + 1;
			while (*l == ' ')
				l++;
			return l;
		}
	}
	return NULL;
}

/* Reads one reply: status and body; -1 when the connection failed. */
static int
read_reply(struct cv_http *h, int *status, struct cv_buf *body,
    int *close_after)
{
	const char *end, *v;
	char *head = NULL;
	size_t hlen;
	int ret = -1;

	while ((end = find_crlf2(h)) == NULL)
		if (fill(h) != 0)
			return -1;
	hlen = (size_t)(end - (const char *)h->in.p);
	if ((head = strndup((const char *)h->in.p, hlen)) == NULL)
		return -1;
	memmove(h->in.p, h->in.p + hlen + 4, h->in.len - hlen - 4);
	h->in.len -= hlen + 4;
	if (sscanf(head, "HTTP/1.%*d %d", status) != 1)
		goto out;
	v = header(head, "Connection");
	*close_after = v && !strncasecmp(v, "close", 5);
	if ((v = header(head, "Transfer-Encoding")) &&
	    !strncasecmp(v, "chunked", 7)) {
		for (;;) {
			char *nl;
			unsigned long sz;

			while ((nl = memmem(h->in.p, h->in.len, "\r\n", 2)) ==
			    NULL)
				if (fill(h) != 0)
					goto out;
			sz = strtoul((const char *)h->in.p, NULL, 16);
			size_t skip = (size_t)(nl - (char *)h->in.p) + 2;
			while (h->in.len < skip + sz + 2)
				if (fill(h) != 0)
					goto out;
			if (cv_buf_add(body, h->in.p + skip, sz) != CV_OK)
				goto out;
			memmove(h->in.p, h->in.p + skip + sz + 2,
			    h->in.len - skip - sz - 2);
			h->in.len -= skip + sz + 2;
			if (sz == 0)
				break;
		}
	} else {
		size_t len = 0;

		if ((v = header(head, "Content-Length")))
			len = strtoul(v, NULL, 10);
		else if (*status != 204 && *status != 304) {
			/* Until the connection closes. */
			while (fill(h) == 0)
				;
			len = h->in.len;
			*close_after = 1;
		}
		while (h->in.len < len)
			if (fill(h) != 0)
				goto out;
		if (cv_buf_add(body, h->in.p, len) != CV_OK)
			goto out;
		memmove(h->in.p, h->in.p + len, h->in.len - len);
		h->in.len -= len;
	}
	ret = 0;
out:
	free(head);
	return ret;
}

static cv_err
exchange(struct cv_http *h, const char *req, size_t len, int *status,
    char **body_out)
{
	struct cv_buf body = { 0 };
	int close_after = 0;
	cv_err r = CV_OK;

	*status = 0;
	if (body_out)
		*body_out = NULL;
	for (int attempt = 0; attempt < 2; attempt++) {
		int fresh = h->s == NULL;

		body.len = 0;
		if (connect_tls(h) != 0)
			goto out;
		if (send_all(h, req, len) == 0 &&
		    read_reply(h, status, &body, &close_after) == 0)
			break;
		*status = 0;
		disconnect(h);
		if (fresh)
			break;	/* a kept-alive connection may have timed out */
	}
	if (close_after)
		disconnect(h);
	if (body_out && *status) {
		if (cv_buf_add(&body, "", 1) != CV_OK) {
			r = CV_ERR_NOMEM;
			goto out;
		}
		*body_out = (char *)body.p;
		body.p = NULL;
	}
out:
	free(body.p);
	return r;
}

cv_err
cv_http_req(struct cv_http *h, const char *method, const char *path,
    const char *token, const char *body, const char *extra, int *status,
    char **body_out)
{
	struct cv_buf req = { 0 };
	char line[1024];
	cv_err r = CV_ERR_NOMEM;
	int n;

	n = snprintf(line, sizeof line, "%s ", method);
	if (cv_buf_add(&req, line, (size_t)n) != CV_OK ||
	    cv_buf_add(&req, path, strlen(path)) != CV_OK)
		goto out;
	n = snprintf(line, sizeof line, " HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n",
	    h->port);
	if (cv_buf_add(&req, line, (size_t)n) != CV_OK)
		goto out;
	if (token) {
		n = snprintf(line, sizeof line, "Authorization: Bearer %s\r\n",
		    token);
		if (cv_buf_add(&req, line, (size_t)n) != CV_OK)
			goto out;
	}
	if (extra && cv_buf_add(&req, extra, strlen(extra)) != CV_OK)
		goto out;
	if (body) {
		n = snprintf(line, sizeof line, "Content-Type: application/json"
		    "\r\nContent-Length: %zu\r\n", strlen(body));
		if (cv_buf_add(&req, line, (size_t)n) != CV_OK)
			goto out;
	}
	if (cv_buf_add(&req, "\r\n", 2) != CV_OK ||
	    (body && cv_buf_add(&req, body, strlen(body)) != CV_OK))
		goto out;
	r = exchange(h, (const char *)req.p, req.len, status, body_out);
out:
	free(req.p);
	return r;
}

cv_err
cv_http_raw(struct cv_http *h, const char *raw, size_t len,
    int *status)
{
	cv_err r;

	disconnect(h);
	r = exchange(h, raw, len, status, NULL);
	disconnect(h);
	return r;
}

cv_err
cv_http_parse_url(const char *url, char *host, size_t hostsize,
    unsigned *port)
{
	const char *h, *end, *p;
	unsigned long v = 443;
	char *e;
	size_t n;

	if (strncmp(url, "https://", 8) != 0)
		return cv_fail(CV_ERR_INVALID, "the server's URL must start "
		    "with https://");
	h = url + 8;
	if (*h == '[') {	/* [::1]:8443 */
		if ((end = strchr(h, ']')) == NULL)
			return cv_fail(CV_ERR_INVALID, "unclosed [ in URL");
		p = end + 1;
		h++;
	} else {
		end = h + strcspn(h, ":/");
		p = end;
	}
	n = (size_t)(end - h);
	if (n == 0 || n >= hostsize)
		return cv_fail(CV_ERR_INVALID, "no host in URL");
	if (*p == ':') {
		v = strtoul(p + 1, &e, 10);
		if (e == p + 1 || v == 0 || v > 65535)
			return cv_fail(CV_ERR_INVALID, "bad port in URL");
		p = e;
	}
	if (*p != '\0' && strcmp(p, "/") != 0)
		return cv_fail(CV_ERR_INVALID, "the URL must name the server "
		    "only (https://HOST:PORT)");
	memcpy(host, h, n);
	host[n] = '\0';
	*port = (unsigned)v;
	return CV_OK;
}
