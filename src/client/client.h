/*
 * An HTTPS/1.1 client for clearvault's own server, on GnuTLS: what the
 * command line (`enrol`) and the drills' attackers use to talk to it.
 */
#ifndef CV_CLIENT_H
#define CV_CLIENT_H

#include "../base/base.h"


struct cv_http;

/*
 * A client of https://HOST:PORT/ trusting only the CA in CA_PEM (a file; the
 * server's certificate must name HOST), presenting CERT/KEY (files) when
 * both are given. Connects lazily, keeps the connection alive, reconnects
 * after an error. CV_ERR_IO (unreadable CA, certificate or key).
 */
cv_err cv_http_new(const char *ca_pem, const char *cert, const char *key,
    const char *host, unsigned port, struct cv_http **out) CV_MUST_CHECK;
void cv_http_free(struct cv_http *h);

/*
 * One request. TOKEN (bearer) and BODY (JSON) may be NULL; EXTRA is raw
 * header lines ("Name: value\r\n"...) or NULL. *STATUS is the HTTP status,
 * 0 when the connection or the handshake failed (then CV_OK too: for an
 * attacker a refused handshake is an answer). *BODY_OUT (may be NULL) gets
 * the reply body, NUL-terminated, to free().
 */
cv_err cv_http_req(struct cv_http *h, const char *method,
    const char *path, const char *token, const char *body, const char *extra,
    int *status, char **body_out) CV_MUST_CHECK;

/* Sends RAW bytes as they are on a fresh connection and reads one reply. */
cv_err cv_http_raw(struct cv_http *h, const char *raw, size_t len,
    int *status) CV_MUST_CHECK;

/*
 * Splits URL "https://HOST[:PORT][/]" into HOST (without brackets for an
 * IPv6 literal) and *PORT (default 443). CV_ERR_INVALID otherwise.
 */
cv_err cv_http_parse_url(const char *url, char *host, size_t hostsize,
    unsigned *port) CV_MUST_CHECK;

#endif
