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
#ifdef CV_FUZZ
	/* Fuzzing builds only: see cv_server_fuzz_connect. */
	int fuzz;
#endif
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

#ifdef CV_FUZZ
/*
 * Fuzzing builds only (CV_FUZZ, set by meson -Dfuzz=true; tests/fuzz/
 * fuzz_http.c). With o->fuzz, cv_server_run serves plain HTTP with no
 * listening socket and no event loop thread of its own, and leaves
 * SIGINT and SIGTERM to the fuzzer. One thread, the harness's, then
 * hands it connections and runs its event loop:
 *
 * cv_server_fuzz_connect: FD (one end of a connected stream socket, the
 * server's from now on, closed on error too) is served as a client whose
 * certificate has fingerprint CERT ("" or NULL: none), taken as verified:
 * what is fuzzed is the HTTP layer and the handler behind the TLS
 * handshake, not GnuTLS. CV_ERR_INVALID when no server runs in this
 * mode, CV_ERR_IO.
 *
 * cv_server_fuzz_run: one round of the event loop (reads, the handler,
 * writes, closes), waiting up to WAIT_MS for something to do; how many
 * requests are parked until keyd has logged them (their replies come in
 * a later round), -1 without a server in this mode.
 */
cv_err cv_server_fuzz_connect(int fd, const char *cert) CV_MUST_CHECK;
int cv_server_fuzz_run(int wait_ms);
/* Ends the cv_server_run of fuzzing mode, as SIGTERM ends a server (it
 * notices within a second); another may start then. */
void cv_server_fuzz_stop(void);
#endif

#endif
