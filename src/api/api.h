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
	/* The caller holds the vault's claim (cv_server_claim); otherwise
	 * cv_server_run claims the vault itself for as long as it runs. */
	int claimed;
	/* > 0: a listening socket to serve (the supervisor's, kept across
	 * worker restarts); otherwise LISTEN is bound here. */
	int listen_fd;
	/* The worker process: open what it needs, then enter the seccomp
	 * sandbox (src/sandbox) before taking a connection. */
	int sandbox;
	/* > 0: the supervisor's syslog counts (below), read for /metrics;
	 * 0 (stdin is never it): none. */
	int syslog_counts_fd;
};

/*
 * The supervisor's RFC 5424 counts (src/serve/syslog.c writes them into
 * a memfd it gives the api worker read-only): CV_SYSLOG_COUNTS_BYTES,
 * big-endian u64s: a version (1; 0 while no collector is configured),
 * alerts sent, not sent, refused (not alert lines).
 */
#define CV_SYSLOG_COUNTS_BYTES 32


/* A listening TCP socket on ADDR ("127.0.0.1:8443") in *FD.
 * CV_ERR_INVALID, CV_ERR_IO. */
cv_err cv_server_listen(const char *addr, int *fd) CV_MUST_CHECK;

/*
 * Claims vault folder DIR for this process's server: one server per
 * folder, because a SQLite vault's guard budgets and locks live in the
 * server's memory (two would each give a user a whole budget and never
 * learn of the other's locks). A PostgreSQL vault may have a server on
 * each copy of its folder (nodes): their budgets, session budgets and
 * locks are the database's (src/store/guard.c). An exclusive flock on DIR/serve.lock, which holds
 * our PID for the message of the next one refused; the kernel drops it
 * however the process ends (kill -9 too), so a file left behind blocks
 * nothing. *FD: release with cv_server_unclaim (-1 on error).
 * CV_ERR_EXISTS when another process holds it (the detail names its
 * PID), CV_ERR_IO.
 */
cv_err cv_server_claim(const char *dir, int *fd) CV_MUST_CHECK;
/* Releases the claim of FD (-1: nothing). */
void cv_server_unclaim(int fd);

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
