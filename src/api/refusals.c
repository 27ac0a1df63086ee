/*
 * Requests refused before they are routed, and every request an entry.
 *
 * The server's own checks come first, wherever libmicrohttpd lets them
 * (api_req_framing, on a request's first call: its headers are in): the
 * message framing of RFC 9112 section 6.3, and the sizes, each a 4xx
 * problem+json and an audit entry like any other refusal. The library's
 * own limits lie beyond ours, so that in the usual range a client never
 * meets them.
 *
 * What the library refuses by itself gets its own text/html reply: 0.9.75
 * has no hook to change it. It is audited all the same:
 * - a request whose request line it parsed is ours from then on (the URI
 *   callback, api_req_begin, makes its struct req), so one it refuses
 *   later (headers too large, a malformed header, no Host, a broken
 *   Content-Length or chunk) ends in on_done without a reply of ours, and
 *   api_req_unanswered writes its entry: source, path, the library's
 *   status. So does a request cut off at its deadline (conn.c) or
 *   abandoned by its client.
 * - a refusal before any request line (one longer than the library's
 *   buffer: 414; an HTTP version it cannot parse or speak: 400, 505) names
 *   no connection: the library tells only its log (api_http_log), on the
 *   worker's thread, and processes other connections on that thread
 *   before and after, so no connection can be blamed for certain. These
 *   are counted, by status, and the main loop writes one aggregate entry
 *   a second when there were any (api_http_refusals_tick); the count
 *   includes the refusals that also have an entry of their own.
 * Nothing is released by a refusal, so these entries are written without
 * holding the reply back (the library has sent it already).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_internal.h"

/* Above any URL or header block that the API needs; well below the
 * library's own limits (about 32 KiB, its buffer per connection), so that
 * ours answer first. */
#define API_MAX_URI 8192
#define API_MAX_HEADERS 16384

/* The statuses of the library's refusals that can come before a request
 * line, in api_http_log's count (413 and 431 never do). */
static const unsigned lib_status[API_LIB_STATUSES] = {
	400, 414, 505, 0	/* 0: any other */
};

/* Path of URI, no query (it may hold a search's terms), at most 180. */
static void
path_of(const char *uri, char *out, size_t size)
{
	size_t n = uri ? strcspn(uri, "?") : 0;

	if (n > 180)
		n = 180;
	snprintf(out, size, "%.*s", (int)n, uri ? uri : "");
}

void *
api_req_begin(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct req *r;

	if ((r = calloc(1, sizeof *r)) == NULL)
		return NULL;
	r->srv = cls;
	r->conn = c;
	r->uri_len = uri ? strlen(uri) : 0;
	r->begin_us = cv_time_us();
	path_of(uri, r->path, sizeof r->path);
	api_source_address(c, r->source, sizeof r->source);
	return r;
}

struct framing {
	unsigned lengths, encodings, hosts;
	const char *length;
};

static enum MHD_Result
count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct framing *f = cls;

	(void)kind;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
		f->lengths++;
		f->length = value;
	} else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0)
		f->encodings++;
	else if (strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0)
		f->hosts++;
	return MHD_YES;
}

/* R refused on its first call: the time from here is the server's (no
 * deadline while its entry is written). */
static int
refuse(struct req *r, unsigned status, const char *slug, const char *detail,
    enum MHD_Result *ret)
{
	api_conn_received(r->srv->conns, r->conn);
	*ret = api_problem(r, status, CV_AUDIT_DENIED, slug, detail);
	return 0;
}

int
api_req_framing(struct req *r, const char *version, enum MHD_Result *ret)
{
	const union MHD_ConnectionInfo *ci;
	struct framing f = { 0 };

	r->action = "http.refused";
	if (r->uri_len > API_MAX_URI)
		return refuse(r, 414, "URI too long", "request targets are "
		    "limited to 8192 bytes", ret);
	ci = MHD_get_connection_info(r->conn,
	    MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
	if (ci && ci->header_size > API_MAX_HEADERS)
		return refuse(r, 431, "request header fields too large",
		    "the request line and headers are limited to 16384 bytes",
		    ret);
	(void)MHD_get_connection_values(r->conn, MHD_HEADER_KIND,
	    count_framing, &f);
	/*
	 * RFC 9112 6.3: with both, the length is the chunked one, and a
	 * proxy in front that believed Content-Length would see another
	 * message boundary (request smuggling); several lengths are the
	 * same hazard. Refused, and the connection is closed after the
	 * reply (the library reads nothing more of an early reply's
	 * request).
	 */
	if (f.encodings && f.lengths)
		return refuse(r, 400, "bad request", "both Transfer-Encoding "
		    "and Content-Length (RFC 9112 6.3)", ret);
	if (f.lengths > 1)
		return refuse(r, 400, "bad request", "more than one "
		    "Content-Length (RFC 9112 6.3)", ret);
	/* RFC 9112 3.2: the library lets a missing one through. */
	if (f.hosts > 1 || (f.hosts == 0 &&
	    strcmp(version, MHD_HTTP_VERSION_1_1) == 0))
		return refuse(r, 400, "bad request", f.hosts ? "more than one "
		    "Host (RFC 9112 3.2)" : "HTTP/1.1 without Host (RFC 9112 "
		    "3.2)", ret);
	/* Before the body is read (the library has checked the number). */
	if (f.lengths && strtoull(f.length, NULL, 10) > API_MAX_BODY)
		return refuse(r, 413, "body too large", "request bodies are "
		    "limited to 64 KiB", ret);
	r->action = NULL;
	return 1;
}

static const char *
lib_what(unsigned status)
{
	switch (status) {
	case 400: return "malformed request";
	case 413: return "Content-Length or chunk too large";
	case 414: return "request line too long";
	case 431: return "request header fields too large";
	case 505: return "HTTP version not supported";
	default: return "refused";
	}
}

static void
logged(void *ctx, cv_err err, uint64_t index, const struct cv_buf *text)
{
	(void)ctx;
	(void)index;
	(void)text;
	if (err != CV_OK)
		fprintf(stderr, "clearvault serve: the entry of a refused "
		    "request was not written: %s\n", cv_strerror(err));
}

void
api_req_unanswered(struct req *r, enum MHD_RequestTerminationCode toe,
    int reaped)
{
	const union MHD_ConnectionInfo *ci;
	struct cv_audit_entry e;
	char why[96];
	unsigned status = 0;
	cv_err err;

	if (toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN)
		return;		/* a request cut short by our own stop */
	ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_HTTP_STATUS);
	if (ci && toe == MHD_REQUEST_TERMINATED_WITH_ERROR)
		status = ci->http_status;
	if (reaped)
		snprintf(r->reason, sizeof r->reason, "408 request not "
		    "received in time, connection closed: %.180s", r->path);
	else if (status)
		snprintf(r->reason, sizeof r->reason, "%u refused by the "
		    "HTTP library (%s; its own text/html reply): %.180s",
		    status, lib_what(status), r->path);
	else
		snprintf(r->reason, sizeof r->reason, "request abandoned "
		    "before it was complete: %.180s", r->path);
	/* The certificate, if the handshake got one (cached per
	 * connection). */
	if (!r->cert[0])
		(void)api_client_cert(r->srv, r->conn, r->cert, why,
		    sizeof why);
	memset(&e, 0, sizeof e);
	e.outcome = CV_AUDIT_DENIED;
	e.action = "http.refused";
	e.actor = r->who.user;
	e.cert = r->cert;
	e.source = r->source;
	e.session = r->who.session;
	e.reason = r->reason;
	__atomic_add_fetch(&r->srv->requests, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&r->srv->refused, 1, __ATOMIC_RELAXED);
	if ((err = cv_keyd_append_async(r->srv->kd, &e, logged, NULL)) !=
	    CV_OK)
		logged(NULL, err, 0, NULL);
}

/* The format of the library's one log line for a refusal it answers
 * itself (connection.c, transmit_error_response_len). */
static const char refusal_fmt[] = "Error processing request (HTTP response "
    "code is %u ('%s')). Closing connection.\n";
/* Its line for a failed TLS handshake (daemon.c, run_tls_handshake). */
static const char handshake_fmt[] = "Error: received handshake message out "
    "of context.\n";

void
api_http_log(void *cls, const char *fm, va_list ap)
{
	struct server *srv = cls;
	va_list aq;
	unsigned status, i;

	if (strcmp(fm, handshake_fmt) == 0)
		api_conn_handshake_failed();
	if (strcmp(fm, refusal_fmt) == 0) {
		va_copy(aq, ap);
		status = va_arg(aq, unsigned);
		va_end(aq);
		if (status == 413 || status == 431)
			goto out;
		for (i = 0; i < API_LIB_STATUSES - 1 && lib_status[i] != status;
		    i++)
			;
		__atomic_add_fetch(&srv->lib_refused[i], 1, __ATOMIC_RELAXED);
	}
 out:
	/* As the library's own logger: its lines on stderr. */
	vfprintf(stderr, fm, ap);
}

void
api_http_refusals_tick(struct server *srv)
{
	unsigned n[API_LIB_STATUSES], total = 0;
	char reason[256];
	size_t at;
	struct cv_audit_entry e = { .outcome = CV_AUDIT_DENIED,
	    .action = "http.refused", .actor = "", .cert = "", .source = "?",
	    .session = "", .reason = reason };

	for (unsigned i = 0; i < API_LIB_STATUSES; i++)
		total += n[i] = __atomic_exchange_n(&srv->lib_refused[i], 0,
		    __ATOMIC_RELAXED);
	if (total == 0)
		return;
	at = (size_t)snprintf(reason, sizeof reason, "the HTTP library "
	    "refused %u request%s with its own text/html reply:", total,
	    total == 1 ? "" : "s");
	for (unsigned i = 0; i < API_LIB_STATUSES && at < sizeof reason; i++) {
		if (n[i] == 0)
			continue;
		if (lib_status[i])
			at += (size_t)snprintf(reason + at, sizeof reason - at,
			    " %u x %u", n[i], lib_status[i]);
		else
			at += (size_t)snprintf(reason + at, sizeof reason - at,
			    " %u x other", n[i]);
	}
	if (at < sizeof reason)
		snprintf(reason + at, sizeof reason - at, " (a 400 after a "
		    "request line has an entry of its own too)");
	if (cv_keyd_append(srv->kd, &e, NULL) != CV_OK)
		fprintf(stderr, "clearvault serve: the entry of %u refusals "
		    "was not written: %s\n", total, cv_err_detail());
}
