/*
 * The supervisor: one table of processes, each re-executed from this
 * binary with its channels on fixed descriptors; SIGCHLD decides what
 * happens next.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../config/config.h"
#include "../keyd/keyd.h"
#include "serve.h"
#include "syslog.h"
#include "witness_push.h"

#define RESTARTS_PER_MINUTE 5

enum { P_KEYD, P_API, P__N };

struct proc {
	const char *role;	/* as in `serve --proc ROLE` and in ps */
	pid_t pid;
	int status;
};

struct sup {
	const struct cv_serve_opts *o;
	struct proc procs[P__N];
	int pass_fd;		/* new api channels go to keyd through it */
	int listen_fd;		/* every api worker serves this socket */
	struct cv_keyd_client *kd;
	int alerts_fd;
	int relay_fd;		/* the children's end of the alert relay */
	/* The witness quorum's state (keyd.h): ours to write (the
	 * pusher's), a read-only descriptor of it for keyd. */
	int quorum_fd, quorum_ro;
	char vault_id[CV_VAULT_ID_LEN + 1];	/* for the alerts */
	time_t restarts[RESTARTS_PER_MINUTE];
	char **env;		/* the children's environment (child_env) */
};

/*
 * The children wipe what they free (the TLS and HTTP libraries free
 * request and reply plaintext without wiping it): in a release build
 * base/wipe.c does it, switched on by `serve` before anything else; in a
 * sanitizer build ASan's allocator does it when asked, here: our
 * environment with that setting added (after any the operator set, so
 * that it wins), made before a fork: the child only execs.
 */
#define WIPE_ASAN "max_free_fill_size=2147483647:free_fill_byte=0"

extern char **environ;

static cv_err
child_env(char ***out)
{
	const char *asan = getenv("ASAN_OPTIONS");
	size_t n = 0, k = 0, len;
	char **e;

	while (environ[n])
		n++;
	if ((e = calloc(n + 2, sizeof *e)) == NULL)
		return CV_ERR_NOMEM;
	/* e[0] is ours (freed with the array), then the rest. */
	len = sizeof "ASAN_OPTIONS=:" + (asan ? strlen(asan) : 0) +
	    sizeof WIPE_ASAN;
	if ((e[k++] = malloc(len)) == NULL) {
		free(e);
		return CV_ERR_NOMEM;
	}
	snprintf(e[0], len, "ASAN_OPTIONS=%s%s%s", asan ? asan : "",
	    asan ? ":" : "", WIPE_ASAN);
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "ASAN_OPTIONS=", 13) != 0)
			e[k++] = environ[i];
	*out = e;
	return CV_OK;
}

static void
child_env_free(char **e)
{
	if (e == NULL)
		return;
	free(e[0]);
	free(e);
}

/*
 * What a child execs: this very binary (/proc/self/exe: the file this
 * process runs, even if replaced on disk since). Test builds take
 * CLEARVAULT_TEST_EXEC instead: under Valgrind, /proc/self/exe is
 * Valgrind's own tool, which cannot load as the client (the suite's
 * Valgrind wrapper names the binary: tests/valgrind.sh).
 */
static const char *
self_exe(void)
{
#ifdef CV_TEST_HOOKS
	const char *e = getenv("CLEARVAULT_TEST_EXEC");

	if (e && *e)
		return e;
#endif
	return "/proc/self/exe";
}

/*
 * Starts ROLE with FDS moved to 3, 4, ... and nothing else open past
 * stderr. The child dies with us (PR_SET_PDEATHSIG), so that no orphan
 * keeps the HSM session or the port.
 */
static cv_err
spawn(struct sup *s, int which, const int *fds, int n, const sigset_t *old)
{
	const struct cv_serve_opts *o = s->o;
	struct proc *p = &s->procs[which];
	char name[64];
	const char *argv[16], *exe;
	pid_t parent = getpid(), pid;
	int k = 0, hi[8];

	snprintf(name, sizeof name, "clearvault: %s", p->role);
	argv[k++] = name;
	argv[k++] = "serve";
	argv[k++] = "--proc";
	argv[k++] = p->role;
	argv[k++] = "--dir";
	argv[k++] = o->dir;
	if (which == P_KEYD && o->api.no_guard)
		argv[k++] = "--no-guard";
	if (which == P_API) {
		if (o->listen_arg) {
			argv[k++] = "--listen";
			argv[k++] = o->listen_arg;
		}
		if (o->threads_arg) {
			argv[k++] = "--threads";
			argv[k++] = o->threads_arg;
		}
		if (o->rate_arg) {
			argv[k++] = "--rate";
			argv[k++] = o->rate_arg;
		}
		if (o->api.no_guard)
			argv[k++] = "--no-guard";
	}
	argv[k] = NULL;
	exe = self_exe();
	fflush(NULL);
	if ((pid = fork()) < 0)
		return cv_fail(CV_ERR_INTERNAL, "fork: %s", strerror(errno));
	if (pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 ||
		    getppid() != parent)
			_exit(70);
		/* Out of the way first, then down into place. */
		for (int i = 0; i < n; i++)
			if ((hi[i] = fcntl(fds[i], F_DUPFD, 64)) < 0)
				_exit(71);
		for (int i = 0; i < n; i++)
			if (dup2(hi[i], 3 + i) < 0)
				_exit(71);
		if (close_range(3 + (unsigned)n, ~0u, 0) != 0)
			_exit(71);
		sigprocmask(SIG_SETMASK, old, NULL);
		execve(exe, (char *const *)argv, s->env);
		_exit(72);
	}
	p->pid = pid;
	return CV_OK;
}

/* A fresh api channel: one end to keyd (SCM_RIGHTS), one for the api. */
static cv_err
api_channel(struct sup *s, int *api_end)
{
	int sv[2];
	char one = 'c';
	struct iovec iov = { &one, 1 };
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr m = { 0 };
	struct cmsghdr *c;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return cv_fail(CV_ERR_INTERNAL, "socketpair: %s",
		    strerror(errno));
	memset(&u, 0, sizeof u);
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = u.b;
	m.msg_controllen = sizeof u.b;
	c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &sv[0], sizeof(int));
	if (sendmsg(s->pass_fd, &m, MSG_NOSIGNAL) != 1) {
		close(sv[0]);
		close(sv[1]);
		return cv_fail(CV_ERR_HSM, "the key process does not take a "
		    "new channel");
	}
	close(sv[0]);
	*api_end = sv[1];
	return CV_OK;
}

static void
log_event(struct sup *s, const char *action, enum cv_audit_outcome out,
    const char *reason, const char *kind)
{
	struct cv_audit_entry e = { 0 };
	uint64_t index = 0;
	cv_err r;

	e.outcome = out;
	e.action = action;
	e.actor = "serve";
	e.reason = reason;
	r = cv_keyd_append(s->kd, &e, &index);
	if (kind)
		cv_keyd_alert_write(s->alerts_fd, s->vault_id, kind,
		    "critical", NULL, reason, r == CV_OK ? &index : NULL);
	if (r != CV_OK)
		fprintf(stderr, "clearvault serve: cannot log %s: %s\n",
		    action, cv_err_detail());
}

/* The pusher's alerts as entries too: the log of a vault that was rolled
 * back says so itself, next to what it did meanwhile. */
static void
witness_event(void *ctx, const struct cv_witness_event *e)
{
	log_event(ctx, e->action, e->outcome, e->reason, NULL);
}

/* On the pusher's thread: wakes the supervisor's sigwait (SIGUSR1 is
 * blocked in every thread of this process, so only sigwait takes it). */
static void
witness_notify(void *ctx)
{
	(void)ctx;
	kill(getpid(), SIGUSR1);
}

/*
 * The quorum state's memfd, "met" until the pusher says otherwise: keyd
 * reads it under witness_no_quorum = refuse-reads. Read-only for keyd
 * through /proc, as the syslog counts are for the api worker.
 */
static cv_err
quorum_state(struct sup *s)
{
	uint8_t b[CV_KEYD_QUORUM_BYTES];
	char path[64];

	/* Met as of the start: the pusher confirms it each round, or keyd
	 * stops reads once that is too old. */
	cv_keyd_quorum_put(b, 0, cv_now_us());
	if ((s->quorum_fd = memfd_create("cv-witness-quorum",
	    MFD_CLOEXEC)) < 0 ||
	    pwrite(s->quorum_fd, b, sizeof b, 0) != (ssize_t)sizeof b ||
	    snprintf(path, sizeof path, "/proc/self/fd/%d",
	    s->quorum_fd) < 0 ||
	    (s->quorum_ro = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return cv_fail(CV_ERR_INTERNAL, "the witness quorum state: %s",
		    strerror(errno));
	return CV_OK;
}

static int
restart_allowed(struct sup *s)
{
	time_t now = time(NULL);
	int i, oldest = 0;

	for (i = 1; i < RESTARTS_PER_MINUTE; i++)
		if (s->restarts[i] < s->restarts[oldest])
			oldest = i;
	if (now - s->restarts[oldest] < 60)
		return 0;
	s->restarts[oldest] = now;
	return 1;
}

static void
describe(int st, char *out, size_t n)
{
	if (WIFSIGNALED(st))
		snprintf(out, n, "killed by signal %d (%s)%s", WTERMSIG(st),
		    strsignal(WTERMSIG(st)), WTERMSIG(st) == SIGSYS ?
		    ": a system call outside its sandbox" : "");
	else if (WEXITSTATUS(st) == CV_SERVE_EXIT_KEYD_LOST)
		snprintf(out, n, "lost its channel to the key process");
	else
		snprintf(out, n, "exited with status %d", WEXITSTATUS(st));
}

/* 0 when P stopped cleanly (or was not running). */
static int
stop_proc(struct proc *p)
{
	if (p->pid <= 0)
		return 0;
	kill(p->pid, SIGTERM);
	while (waitpid(p->pid, &p->status, 0) < 0 && errno == EINTR)
		;
	p->pid = 0;
	return !(WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0);
}

cv_err
cv_serve_supervise(const struct cv_serve_opts *o)
{
	struct sup s = { .o = o, .pass_fd = -1, .listen_fd = -1,
	    .alerts_fd = -1, .relay_fd = -1, .quorum_fd = -1,
	    .quorum_ro = -1 };
	struct cv_syslog_relay *relay = NULL;
	struct cv_witness_pusher *pusher = NULL;
	struct cv_syslog_target target, *tp = NULL;
	struct cv_config cfg;
	int have_cfg = 0;
	sigset_t mask, old;
	int sup[2] = { -1, -1 }, pass[2] = { -1, -1 }, api[2] = { -1, -1 };
	int fds[5], sig, st, stopping = 0;
	char why[200], path[1100];
	pid_t pid;
	cv_err r;

	s.procs[P_KEYD].role = "keyd";
	s.procs[P_API].role = "api";
	if ((r = child_env(&s.env)) != CV_OK)
		return r;
	{
		if (cv_config_load(o->dir, &cfg) == CV_OK) {
			have_cfg = 1;
			memcpy(s.vault_id, cfg.vault_id, sizeof s.vault_id);
			if (cfg.syslog_5424[0] && !o->syslog_arg &&
			    cv_config_syslog_target(cfg.syslog_5424,
			    &target) == CV_OK)
				tp = &target;
		}
		/* Checked by `serve` already (a usage error). */
		if (o->syslog_arg && cv_config_syslog_target(o->syslog_arg,
		    &target) == CV_OK)
			tp = &target;
	}
	if (cv_path(path, sizeof path, "%s/alerts.jsonl", o->dir) == CV_OK)
		s.alerts_fd = open(path, O_WRONLY | O_APPEND | O_CREAT |
		    O_CLOEXEC, 0600);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);	/* the witness pusher has an event */
	sigprocmask(SIG_BLOCK, &mask, &old);
	signal(SIGPIPE, SIG_IGN);
	/* The relay's thread inherits the blocked signals: they stay this
	 * thread's to sigwait for. It runs whether or not there is a
	 * collector, so the children need not know. */
	if ((r = cv_syslog_relay_start(tp, "clearvault serve", &s.relay_fd,
	    &relay)) != CV_OK)
		goto out;
	/* The supervisor's own alerts (a dead worker) take the same way. */
	cv_keyd_alert_sink(cv_syslog_relay_sink,
	    (void *)(intptr_t)s.relay_fd);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sup) != 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pass) != 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, api) != 0) {
		r = cv_fail(CV_ERR_INTERNAL, "socketpair: %s",
		    strerror(errno));
		goto out;
	}
	if ((r = quorum_state(&s)) != CV_OK)
		goto out;
	fds[0] = sup[1];
	fds[1] = pass[1];
	fds[2] = api[1];
	fds[3] = s.relay_fd;	/* CV_SERVE_FD_KEYD_RELAY */
	fds[4] = s.quorum_ro;	/* CV_SERVE_FD_KEYD_QUORUM */
	if ((r = spawn(&s, P_KEYD, fds, 5, &old)) != CV_OK)
		goto out;
	close(s.quorum_ro);
	s.quorum_ro = -1;
	close(sup[1]);
	close(pass[1]);
	close(api[1]);
	sup[1] = pass[1] = api[1] = -1;
	s.pass_fd = pass[0];
	pass[0] = -1;
	if ((r = cv_keyd_client_channel(sup[0], &s.kd)) != CV_OK) {
		sup[0] = -1;
		goto out;
	}
	sup[0] = -1;
	/* The first entry doubles as "keyd is up": it answers only once
	 * the vault and its log are open. */
	{
		struct cv_audit_entry e = { .outcome = CV_AUDIT_ALLOWED,
		    .action = o->api.no_guard ? "serve.start.no-guard" :
		    "serve.start", .actor = "serve",
		    .reason = o->api.listen };
		if ((r = cv_keyd_append(s.kd, &e, NULL)) != CV_OK)
			goto out;
	}
	/* keyd has opened (and, if need be, repaired) the log: the pusher
	 * may read it now. Its thread, like the relay's, inherits the
	 * blocked signals. */
	if (have_cfg && (r = cv_witness_pusher_start(o->dir, &cfg,
	    s.alerts_fd, s.quorum_fd, witness_notify, NULL, &pusher)) !=
	    CV_OK)
		goto out;
	/* The port is ours, not a worker's: a restarted worker serves the
	 * same one, and the worker needs no bind() in its sandbox. */
	if ((r = cv_server_listen(o->api.listen, &s.listen_fd)) != CV_OK)
		goto out;
	fds[0] = api[0];
	fds[1] = s.listen_fd;
	fds[2] = s.relay_fd;	/* CV_SERVE_FD_API_RELAY */
	fds[3] = cv_syslog_relay_counts_fd(relay);
	if ((r = spawn(&s, P_API, fds, 4, &old)) != CV_OK)
		goto out;
	close(api[0]);
	api[0] = -1;
	for (;;) {
		if (sigwait(&mask, &sig) != 0)
			continue;
		if (sig == SIGUSR1) {
			cv_witness_pusher_events(pusher, witness_event, &s);
			continue;
		}
		if (sig != SIGCHLD) {
			stopping = 1;
			/* A worker that does not stop cleanly (a sanitizer's
			 * report, a crash on the way out) is a failed stop. */
			if (stop_proc(&s.procs[P_API]) != 0) {
				describe(s.procs[P_API].status, why,
				    sizeof why);
				r = cv_fail(CV_ERR_INTERNAL, "the api worker %s "
				    "while stopping", why);
				goto out;
			}
			break;
		}
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
			if (pid == s.procs[P_KEYD].pid) {
				s.procs[P_KEYD].pid = 0;
				describe(st, why, sizeof why);
				fprintf(stderr, "clearvault serve: the key "
				    "process %s; stopping\n", why);
				(void)stop_proc(&s.procs[P_API]);
				r = cv_fail(CV_ERR_HSM, "the key process %s",
				    why);
				goto out;
			}
			if (pid != s.procs[P_API].pid)
				continue;
			s.procs[P_API].pid = 0;
			/* An exit is a decision, not a crash: 0 a stop
			 * (SIGTERM to the whole group), anything else a
			 * refusal to serve (it said why). Only a death by
			 * signal, or a lost key channel, is restarted. */
			if (WIFEXITED(st) &&
			    WEXITSTATUS(st) != CV_SERVE_EXIT_KEYD_LOST) {
				stopping = 1;
				if (WEXITSTATUS(st) == 0)
					goto done;
				r = cv_fail(CV_ERR_INTERNAL, "the api worker "
				    "refused to serve");
				goto out;
			}
			describe(st, why, sizeof why);
			fprintf(stderr, "clearvault serve: the api worker %s\n",
			    why);
			log_event(&s, "serve.worker_died", CV_AUDIT_ERROR, why,
			    "worker_died");
			if (!restart_allowed(&s)) {
				r = cv_fail(CV_ERR_INTERNAL, "the api worker "
				    "died %d times in a minute",
				    RESTARTS_PER_MINUTE);
				goto out;
			}
			fds[1] = s.listen_fd;
			fds[2] = s.relay_fd;
			fds[3] = cv_syslog_relay_counts_fd(relay);
			if ((r = api_channel(&s, &fds[0])) != CV_OK ||
			    (r = spawn(&s, P_API, fds, 4, &old)) != CV_OK)
				goto out;
			close(fds[0]);
		}
	}
 done:
	r = CV_OK;
 out:
	(void)stop_proc(&s.procs[P_API]);
	if (s.kd && stopping) {
		struct cv_audit_entry e = { .outcome = CV_AUDIT_ALLOWED,
		    .action = "serve.stop", .actor = "serve" };
		if (cv_keyd_append(s.kd, &e, NULL) != CV_OK)
			fprintf(stderr, "clearvault serve: cannot log the "
			    "stop\n");
	}
	/* keyd ends when its supervisor channel closes. */
	cv_keyd_client_free(s.kd);
	if (s.pass_fd >= 0)
		close(s.pass_fd);
	if (s.listen_fd >= 0)
		close(s.listen_fd);
	if (s.procs[P_KEYD].pid > 0) {
		while (waitpid(s.procs[P_KEYD].pid, &st, 0) < 0 &&
		    errno == EINTR)
			;
		if (r == CV_OK && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
			r = cv_fail(CV_ERR_HSM, "the key process did not stop "
			    "cleanly");
	}
	/* After keyd: its last checkpoint goes to the witnesses too. A
	 * wake-up the pusher sent and sigwait did not take must not outlive
	 * the mask (SIGUSR1's default action ends the process). */
	cv_witness_pusher_stop(pusher);
	{
		sigset_t usr1;
		struct timespec zero = { 0, 0 };

		sigemptyset(&usr1);
		sigaddset(&usr1, SIGUSR1);
		while (sigtimedwait(&usr1, NULL, &zero) == SIGUSR1)
			;
	}
	for (int i = 0; i < 2; i++) {
		if (sup[i] >= 0)
			close(sup[i]);
		if (pass[i] >= 0)
			close(pass[i]);
		if (api[i] >= 0)
			close(api[i]);
	}
	if (s.alerts_fd >= 0)
		close(s.alerts_fd);
	/* After the pusher, its writer. */
	if (s.quorum_fd >= 0)
		close(s.quorum_fd);
	if (s.quorum_ro >= 0)
		close(s.quorum_ro);
	/* Every child is gone: what they relayed is queued; sent now. */
	cv_keyd_alert_sink(NULL, NULL);
	if (s.relay_fd >= 0)
		close(s.relay_fd);
	cv_syslog_relay_stop(relay);
	child_env_free(s.env);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return r;
}
