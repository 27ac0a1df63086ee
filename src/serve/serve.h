/*
 * `clearvault serve` as three kinds of process (see docs/privsep.md):
 *
 *   supervisor   starts the others, restarts a dead api worker, stops
 *                everything when the key process dies; holds no key and
 *                no client connection
 *   keyd         the vault's keys (the PKCS#11 module, the keyring), the
 *                audit log's only writer; no network socket
 *   api          TLS, HTTP, sessions, policy, guard; under seccomp; asks
 *                keyd for everything that needs a key
 *
 * Each child is the same binary, re-executed with `serve --proc ROLE` and
 * its channels on fixed descriptors, so that it starts from a clean
 * address space rather than a copy of its parent's.
 */
#ifndef CV_SERVE_H
#define CV_SERVE_H

#include "../api/api.h"
#include "../keyd/keyd.h"
#include "../keys/keys.h"

/* Descriptors a child finds its channels on. */
#define CV_SERVE_FD_SUP 3	/* keyd: the supervisor's channel */
#define CV_SERVE_FD_PASS 4	/* keyd: new api channels arrive here */
#define CV_SERVE_FD_API 5	/* keyd: the first api channel */
#define CV_SERVE_FD_KEYD 3	/* api: its channel to keyd */
/* The api worker's exit when its channel to keyd failed: start it again
 * (a fresh channel), as after a crash. */
#define CV_SERVE_EXIT_KEYD_LOST 75
#define CV_SERVE_FD_LISTEN 4	/* api: the supervisor's listening socket */
/* Both: the sending end of the supervisor's alert relay (syslog.h). */
#define CV_SERVE_FD_KEYD_RELAY 6
#define CV_SERVE_FD_API_RELAY 5
/* api: the supervisor's syslog counts, read-only (api.h) */
#define CV_SERVE_FD_API_SYSLOG_COUNTS 6
/* keyd: the witness quorum's state, read-only (keyd.h,
 * cv_keyd_refuse_reads) */
#define CV_SERVE_FD_KEYD_QUORUM 7

struct cv_serve_opts {
	const char *dir;
	struct cv_server_opts api;
	/* the options of the command line, passed on to the api worker */
	const char *listen_arg, *threads_arg, *rate_arg;
	/* --syslog: the collector (cv_config_syslog_target's form), over
	 * the vault's syslog_5424; the supervisor's alone */
	const char *syslog_arg;
};

/*
 * The supervisor: starts keyd and the api worker and watches them until
 * SIGINT or SIGTERM (then stops the api worker first, so that every
 * reply it owes is logged, then keyd). It relays every alert the
 * children raise to the syslog collector, if there is one (syslog.h). A worker that dies is logged,
 * alerted and restarted (at most 5 times a minute); when keyd dies the
 * worker is stopped and this returns CV_ERR_HSM.
 */
cv_err cv_serve_supervise(const struct cv_serve_opts *o) CV_MUST_CHECK;

/* The key process's main: serves its channels until the supervisor's
 * closes. CANARIES: refuse to start without a sound canary list. */
cv_err cv_serve_keyd(const char *dir, int canaries) CV_MUST_CHECK;

/*
 * A canary list that is missing or wrong would run the server with
 * canaries off (issue 18): refused, the refusal logged (serve.start,
 * error) with how to repair it.
 */
cv_err cv_serve_canaries_ok(struct cv_vault *v, struct cv_audit *a)
    CV_MUST_CHECK;

/* The api worker's main: the HTTPS server over its keyd channel. */
cv_err cv_serve_api(const struct cv_serve_opts *o) CV_MUST_CHECK;

/*
 * Before the server starts, against keyd K's public keys: DIR/ca.pem is
 * the vault CA (the keyring's CA key, its own signature verifies) and
 * DIR/server.pem is for the TLS key and verifies against it, in date.
 * CV_ERR_CRYPTO naming the file and what to do.
 */
cv_err cv_serve_check_certs(struct cv_keyd *k,
    const char *dir) CV_MUST_CHECK;

#endif
