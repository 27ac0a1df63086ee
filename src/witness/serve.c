/*
 * The witness's HTTP server: POST /add-checkpoint (c2sp.org/tlog-witness)
 * and nothing else.
 *
 * Plain HTTP, no client certificates, on purpose: the tlog-witness
 * protocol's transport is an HTTP POST and its payload authenticates
 * itself. A checkpoint counts only with a valid signature by a log key
 * the witness was configured with, and only when a consistency proof ties
 * it to what the witness already cosigned; a reply is a signature anyone
 * can check. An attacker on the path can drop or replay requests, which
 * a log's own retries and the witness's idempotence absorb, but cannot
 * make the witness cosign a rollback or a fork. What it can learn is a
 * checkpoint (origin, size, root hash), which is public by design (it
 * reveals no entry). Put it behind a TLS proxy (or a C2SP https-bastion)
 * for confidentiality if wanted; nothing here depends on it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "witness.h"

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct req {
	struct cv_buf body;
	int too_big;
};

static enum MHD_Result
reply(struct MHD_Connection *c, unsigned status, const char *ctype,
    const void *data, size_t len)
{
	struct MHD_Response *res;
	enum MHD_Result ret;

	res = MHD_create_response_from_buffer(len, (void *)(uintptr_t)data,
	    MHD_RESPMEM_MUST_COPY);
	if (res == NULL)
		return MHD_NO;
	MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(res, "X-Content-Type-Options", "nosniff");
	ret = MHD_queue_response(c, status, res);
	MHD_destroy_response(res);
	return ret;
}

static enum MHD_Result
text(struct MHD_Connection *c, unsigned status, const char *msg)
{
	return reply(c, status, "text/plain; charset=utf-8", msg, strlen(msg));
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *data,
    size_t *data_len, void **con_cls)
{
	struct cv_witness *w = cls;
	struct req *rq = *con_cls;
	struct cv_buf out = { 0 };
	const char *ctype;
	int status;
	enum MHD_Result ret;
	cv_err r;

	(void)version;
	if (strcmp(url, "/add-checkpoint") != 0)
		return text(c, MHD_HTTP_NOT_FOUND, "not found\n");
	if (strcmp(method, "POST") != 0) {
		static const char msg[] = "add-checkpoint takes POST\n";
		struct MHD_Response *res = MHD_create_response_from_buffer(
		    sizeof msg - 1, (void *)(uintptr_t)msg,
		    MHD_RESPMEM_PERSISTENT);
		if (res == NULL)
			return MHD_NO;
		MHD_add_response_header(res, "Allow", "POST");
		ret = MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, res);
		MHD_destroy_response(res);
		return ret;
	}
	if (rq == NULL) {
		if ((rq = calloc(1, sizeof *rq)) == NULL)
			return MHD_NO;
		*con_cls = rq;
		return MHD_YES;
	}
	if (*data_len > 0) {
		/* Bounded: a request is at most one 16 KiB note and 63
		 * hashes; the rest is read and dropped, then refused. */
		if (rq->too_big || rq->body.len + *data_len >
		    CV_WITNESS_MAX_BODY)
			rq->too_big = 1;
		else if (cv_buf_add(&rq->body, data, *data_len) != CV_OK)
			return MHD_NO;
		*data_len = 0;
		return MHD_YES;
	}
	if (rq->too_big)
		return text(c, 413, "request too "
		    "large\n");
	r = cv_witness_add_checkpoint(w, (const char *)rq->body.p,
	    rq->body.len, &status, &ctype, &out);
	if (r != CV_OK) {
		fprintf(stderr, "clearvault witness: add-checkpoint: %s: %s\n",
		    cv_strerror(r), cv_err_detail());
		ret = text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "the witness "
		    "could not record the checkpoint; nothing was cosigned\n");
	} else
		ret = reply(c, (unsigned)status, ctype, out.p, out.len);
	cv_buf_free(&out);
	return ret;
}

static void
on_done(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (rq) {
		cv_buf_free(&rq->body);
		free(rq);
	}
	*con_cls = NULL;
}

static cv_err
parse_listen(const char *s, struct sockaddr_in *sa)
{
	char host[64], *end;
	const char *colon = strrchr(s, ':');
	unsigned long port;

	memset(sa, 0, sizeof *sa);
	if (colon == NULL || (size_t)(colon - s) >= sizeof host)
		return cv_fail(CV_ERR_INVALID, "--listen wants IPv4:PORT");
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || port > 65535 ||
	    inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return cv_fail(CV_ERR_INVALID, "--listen wants IPv4:PORT, "
		    "for example 127.0.0.1:7380");
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return CV_OK;
}

static void
http_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	fputs("clearvault witness: http: ", stderr);
	vfprintf(stderr, fmt, ap);
}

cv_err
cv_witness_serve(struct cv_witness *w, const char *listen, unsigned threads,
    void (*ready)(void *ctx, unsigned port), void *ctx)
{
	struct sigaction act = { .sa_handler = on_signal };
	struct sockaddr_in sa;
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *di;
	struct MHD_OptionItem pool[2] = { { MHD_OPTION_END, 0, NULL },
	    { MHD_OPTION_END, 0, NULL } };
	cv_err r;

	if ((r = parse_listen(listen, &sa)) != CV_OK)
		return r;
	sigaction(SIGINT, &act, NULL);
	sigaction(SIGTERM, &act, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* A pool only for 2 or more (1 is the polling thread alone). */
	if (threads >= 2) {
		pool[0].option = MHD_OPTION_THREAD_POOL_SIZE;
		pool[0].value = threads;
	}
	/* The logger first: MHD's own rule. */
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
	    MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, w,
	    MHD_OPTION_EXTERNAL_LOGGER, http_log, NULL,
	    MHD_OPTION_SOCK_ADDR, &sa,
	    MHD_OPTION_ARRAY, pool,
	    MHD_OPTION_CONNECTION_LIMIT, 256u,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, 64u,
	    MHD_OPTION_CONNECTION_TIMEOUT, 30u,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
	    MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
	    MHD_OPTION_END);
	if (d == NULL)
		return cv_fail(CV_ERR_IO, "cannot listen on %s", listen);
	di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	if (ready)
		ready(ctx, di && di->port ? di->port : ntohs(sa.sin_port));
	/* The signal may land on any thread: look at the flag. */
	while (!stop)
		usleep(100 * 1000);
	MHD_stop_daemon(d);
	return CV_OK;
}
