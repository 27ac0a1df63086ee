/*
 * The key process: opens the vault (the only process of the server that
 * loads the PKCS#11 module and unseals the keyring) and its log, and
 * serves the channels it is given. It has no network socket: its channels
 * are socketpairs made by the supervisor, one more for each api worker.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include "../auth/ca.h"
#include "../config/config.h"
#include "../core/core.h"
#include "../keyd/keyd.h"
#include "../sandbox/sandbox.h"
#include "serve.h"
#include "syslog.h"

#define MAX_CHANNELS 64

struct kp {
	struct cv_keyd *k;
	pthread_mutex_t mu;
	int fds[MAX_CHANNELS];
	pthread_t threads[MAX_CHANNELS];
	int n;
};

struct chan_arg {
	struct kp *kp;
	int fd;
};

static void *
serve_channel(void *arg)
{
	struct chan_arg *c = arg;
	int fd = c->fd;
	struct kp *kp = c->kp;

	free(c);
	if (cv_keyd_serve(kp->k, fd) != CV_OK)
		fprintf(stderr, "clearvault keyd: a channel was cut off: %s\n",
		    cv_err_detail());
	/* The api worker is gone or was cut off: its end closes too. */
	(void)shutdown(fd, SHUT_RDWR);
	return NULL;
}

static cv_err
add_channel(struct kp *kp, int fd)
{
	struct chan_arg *c;
	cv_err r = CV_OK;

	pthread_mutex_lock(&kp->mu);
	if (kp->n == MAX_CHANNELS) {
		r = cv_fail(CV_ERR_LIMIT, "too many channels");
		goto out;
	}
	if ((c = malloc(sizeof *c)) == NULL) {
		r = CV_ERR_NOMEM;
		goto out;
	}
	c->kp = kp;
	c->fd = fd;
	kp->fds[kp->n] = fd;
	if (pthread_create(&kp->threads[kp->n], NULL, serve_channel, c) != 0) {
		free(c);
		r = cv_fail(CV_ERR_INTERNAL, "no thread");
		goto out;
	}
	kp->n++;
 out:
	pthread_mutex_unlock(&kp->mu);
	if (r != CV_OK)
		close(fd);
	return r;
}

/* New api channels, one descriptor per message (SCM_RIGHTS). */
static void *
take_channels(void *arg)
{
	struct kp *kp = arg;
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} u;
	char one;
	struct iovec iov = { &one, 1 };
	struct msghdr m;
	struct cmsghdr *c;
	ssize_t n;
	int fd;

	for (;;) {
		memset(&m, 0, sizeof m);
		m.msg_iov = &iov;
		m.msg_iovlen = 1;
		m.msg_control = u.b;
		m.msg_controllen = sizeof u.b;
		if ((n = recvmsg(CV_SERVE_FD_PASS, &m, MSG_CMSG_CLOEXEC)) < 0 &&
		    errno == EINTR)
			continue;
		if (n <= 0)
			break;
		c = CMSG_FIRSTHDR(&m);
		if (c == NULL || c->cmsg_level != SOL_SOCKET ||
		    c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len != CMSG_LEN(sizeof(int)) ||
		    (m.msg_flags & MSG_CTRUNC))
			continue;
		memcpy(&fd, CMSG_DATA(c), sizeof fd);
		if (add_channel(kp, fd) != CV_OK)
			fprintf(stderr, "clearvault keyd: %s\n",
			    cv_err_detail());
	}
	return NULL;
}

static pid_t supervisor;

/*
 * SIGTERM after the supervisor died (PR_SET_PDEATHSIG): stop taking
 * requests; what was taken is answered. While the supervisor lives, a
 * signal to the whole process group (^C, timeout) is its to act on: it
 * stops the api worker first, logs the stop through us, then closes our
 * channel, which ends us.
 */
static void
on_term(int sig)
{
	(void)sig;
	if (getppid() != supervisor)
		(void)shutdown(CV_SERVE_FD_SUP, SHUT_RD);
}

cv_err
cv_serve_canaries_ok(struct cv_vault *v, struct cv_audit *a)
{
	struct cv_audit_entry e = { 0 };
	char **ids = NULL, why[512];
	size_t n = 0;
	cv_err r;

	r = cv_vault_canaries(v, &ids, &n);
	free(ids);
	if (r == CV_OK)
		return CV_OK;
	snprintf(why, sizeof why, "%s", cv_err_detail());
	e.outcome = CV_AUDIT_ERROR;
	e.action = "serve.start";
	e.actor = "serve";
	e.reason = "canary list";
	if (cv_audit_append(a, &e, NULL) != CV_OK)
		fprintf(stderr, "clearvault serve: cannot record the refusal: "
		    "%s\n", cv_err_detail());
	return cv_fail(r, "%s", why);
}

cv_err
cv_serve_keyd(const char *dir, int check_canaries)
{
	struct kp kp = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct sigaction act = { .sa_handler = on_term };
	struct cv_vault *v = NULL;
	struct cv_audit *a = NULL;
	struct cv_config cfg;
	pthread_t taker;
	int taking = 0;
	cv_err r;

	prctl(PR_SET_NAME, "cv-keyd");
	/* As the api worker's: through the supervisor (syslog.h). */
	cv_keyd_alert_sink(cv_syslog_relay_sink,
	    (void *)(intptr_t)CV_SERVE_FD_KEYD_RELAY);
	supervisor = getppid();
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((r = cv_vault_open(dir, &v)) != CV_OK ||
	    (r = cv_core_audit_open(v, 0, &a)) != CV_OK ||
	    (check_canaries && (r = cv_serve_canaries_ok(v, a)) != CV_OK) ||
	    (r = cv_keyd_new(v, a, &kp.k)) != CV_OK ||
	    /* The api worker reads these; it cannot make them. */
	    (r = cv_keyd_ca_ensure(kp.k)) != CV_OK ||
	    /* A damaged certificate stops the start, naming the file. */
	    (r = cv_serve_check_certs(kp.k, dir)) != CV_OK ||
	    (r = cv_config_load(dir, &cfg)) != CV_OK)
		goto out;
	/* The supervisor's pusher says whether the witnesses' quorum is
	 * there; keyd, which alone decrypts, enforces the policy. A
	 * descriptor that is missing or unreadable refuses every read. */
	/* A confirmation older than the alert time and a minute (a round
	 * asks up to eight witnesses, 5 s each) means the pusher stopped:
	 * reads stop too. */
	if (cfg.witness_no_quorum == CV_CONFIG_NO_QUORUM_REFUSE_READS)
		cv_keyd_refuse_reads(kp.k, CV_SERVE_FD_KEYD_QUORUM,
		    ((int64_t)cfg.witness_alert_after + 60) * 1000000);
	/* Confined once the PKCS#11 module is loaded and the files are
	 * open: no network, no exec, no new code (fail closed). */
	openlog("clearvault", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
	if ((r = cv_keyd_prepare(kp.k, 8)) != CV_OK ||
	    (r = cv_sandbox_enter(CV_SANDBOX_KEYD)) != CV_OK ||
	    (r = cv_keyd_watch_hsm(kp.k, 2)) != CV_OK ||
	    (r = add_channel(&kp, CV_SERVE_FD_API)) != CV_OK)
		goto out;
	if (pthread_create(&taker, NULL, take_channels, &kp) == 0)
		taking = 1;
	/* The supervisor's channel, on this thread: when it ends, so do
	 * we. */
	r = cv_keyd_serve(kp.k, CV_SERVE_FD_SUP);
	(void)shutdown(CV_SERVE_FD_PASS, SHUT_RDWR);
	if (taking)
		pthread_join(taker, NULL);
	pthread_mutex_lock(&kp.mu);
	for (int i = 0; i < kp.n; i++)
		(void)shutdown(kp.fds[i], SHUT_RD);
	pthread_mutex_unlock(&kp.mu);
	for (int i = 0; i < kp.n; i++) {
		pthread_join(kp.threads[i], NULL);
		close(kp.fds[i]);
	}
 out:
	if (r != CV_OK)
		fprintf(stderr, "clearvault keyd: %s: %s\n", cv_strerror(r),
		    cv_err_detail());
	cv_keyd_free(kp.k);
	cv_audit_close(a);
	cv_vault_close(v);
	/* Sandboxed: see cv_serve_api. */
	fflush(NULL);
	_exit(r == CV_OK ? 0 : 1);
}
