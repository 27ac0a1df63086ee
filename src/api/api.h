/*
 * The HTTPS API: libmicrohttpd over GnuTLS, mutual TLS with client
 * certificates from the vault CA, TOTP login, bearer sessions bound to the
 * certificate, RFC 9457 problem+json errors. Every request, refused and
 * malformed ones included, is an audit entry, and data leaves only after
 * its entry is durable.
 */
#ifndef CV_API_H
#define CV_API_H

#include "../audit/audit.h"
#include "../keyd/keyd.h"
#include "../vault/vault.h"

struct cv_server_opts {
	const char *listen;	/* "127.0.0.1:8443" */
	unsigned threads;	/* 0: one per processor */
	unsigned rate;		/* requests/s per certificate; 0: no limit */
	int no_guard;		/* benchmarks only: reads without the guard */
	/* Called once the socket is listening (for tests and make run). */
	void (*ready)(void *ctx, unsigned port);
	void *ctx;
};

/*
 * Serves vault V until SIGINT or SIGTERM. V may be a store-only handle
 * (cv_vault_open_store): everything that needs a key, and every audit
 * entry, goes to the key side through KD; A is read for proofs and the
 * guard's replay. CV_ERR_INVALID for a bad address, CV_ERR_IO when the
 * port cannot be had.
 */
cv_err cv_server_run(struct cv_vault *v, struct cv_audit *a,
    struct cv_keyd_client *kd, const struct cv_server_opts *o)
    CV_MUST_CHECK;

#endif
