/*
 * The api worker: the HTTPS server, with a store handle that holds no key,
 * a read-only view of the audit log, and its channel to keyd for the rest.
 */
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/prctl.h>

#include "../core/core.h"
#include "../keyd/keyd.h"
#include "serve.h"
#include "syslog.h"

/*
 * The log, read-only, with its public key from keyd (this process holds
 * no keyring): a breach scope verifies the checkpoints with it.
 */
static cv_err
audit_open(struct cv_vault *v, struct cv_keyd_client *kd,
    struct cv_audit **out)
{
	struct cv_audit_signer s = { .sign = NULL };
	cv_err r;

	if ((r = cv_keyd_audit_key(kd, s.pk)) != CV_OK)
		return r;
	return cv_audit_open(cv_vault_dir(v), cv_vault_db(v), cv_vault_id(v),
	    &s, 1, out);
}

/*
 * Without its channel this process holds no key: every handshake and read
 * would fail while it went on listening. It ends instead, and the
 * supervisor starts a fresh one (serve.h).
 */
static volatile sig_atomic_t lost;

static void
keyd_lost(void)
{
	fprintf(stderr, "clearvault api: the channel to the key process "
	    "failed; ending for a fresh one\n");
	lost = 1;
	/* A stop as on SIGTERM: what is in flight is answered (503s). */
	raise(SIGTERM);
}

cv_err
cv_serve_api(const struct cv_serve_opts *o)
{
	struct cv_keyd_client *kd = NULL;
	struct cv_vault *v = NULL;
	struct cv_audit *a = NULL;
	cv_err r;

	prctl(PR_SET_NAME, "cv-api");
	/* Alerts go to syslog through the supervisor: this process never
	 * holds a socket that could reach the network (syslog.h). */
	cv_keyd_alert_sink(cv_syslog_relay_sink,
	    (void *)(intptr_t)CV_SERVE_FD_API_RELAY);
	if ((r = cv_keyd_client_channel(CV_SERVE_FD_KEYD, &kd)) != CV_OK)
		goto out;
	cv_keyd_client_on_lost(kd, keyd_lost);
	if ((r = cv_vault_open_store(o->dir, &v)) != CV_OK ||
	    (r = audit_open(v, kd, &a)) != CV_OK)
		goto out;
	{
		struct cv_server_opts so = o->api;

		so.listen_fd = CV_SERVE_FD_LISTEN;
		so.syslog_counts_fd = CV_SERVE_FD_API_SYSLOG_COUNTS;
		so.sandbox = 1;
		r = cv_server_run(v, a, kd, &so);
	}
 out:
	if (r != CV_OK)
		fprintf(stderr, "clearvault api: %s: %s\n", cv_strerror(r),
		    cv_err_detail());
	cv_audit_close(a);
	cv_vault_close(v);
	cv_keyd_client_free(kd);
	/* Sandboxed: what runs at exit() (a sanitizer's leak check: ptrace,
	 * /proc) would be killed by the filter. The leak check of this code
	 * runs in `serve --one-process` (tests/cli/test_privsep.sh). */
	fflush(NULL);
	_exit(lost ? CV_SERVE_EXIT_KEYD_LOST : r == CV_OK ? 0 : 1);
}
