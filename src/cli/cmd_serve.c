#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../api/api.h"
#include "../auth/ca.h"
#include "../keyd/keyd.h"
#include "../serve/serve.h"
#include "../serve/syslog.h"
#include "cli.h"

static const char use[] =
    "clearvault serve --dir DIR [--listen 127.0.0.1:8443] [--threads N] "
    "[--rate N] [--syslog udp|tcp:HOST:PORT]";

static const char help[] =
    "usage: clearvault serve --dir DIR [--listen ADDRESS:PORT] "
    "[--threads N]\n\n"
    "Serves the vault over HTTPS with mutual TLS: TLS 1.3 (1.2 with AEAD\n"
    "suites only), a server certificate from the vault CA (clearvault\n"
    "ca-cert prints it), client certificates from `clearvault enrol`,\n"
    "TOTP login (POST /v1/session) and bearer tokens bound to the\n"
    "certificate. Every request is an audit entry. Stops cleanly on\n"
    "SIGINT or SIGTERM. Port 0 picks a free port.\n\n"
    "Runs as three processes (docs/privsep.md): a supervisor; keyd, the\n"
    "only one with the HSM session, the keys and the audit log's writer;\n"
    "and an api worker under seccomp that handles the network and asks\n"
    "keyd for every key operation and every audited read.\n\n"
    "Witnesses (clearvault.conf: witness = http://HOST:PORT VKEY, one line\n"
    "each; witness_quorum, default all; witness_alert_after, default 300\n"
    "s): the supervisor pushes each new checkpoint to them (C2SP\n"
    "tlog-witness), checks their cosignatures and keeps them in DIR/witness;\n"
    "`audit checkpoint` and GET /v1/audit/checkpoint serve them with the\n"
    "note. A witness that has seen more, or refuses the proof, raises the\n"
    "critical alert witness_conflict; no quorum for witness_alert_after\n"
    "raises witness_quorum_missing. See README, \"Witnesses\".\n\n"
    "options:\n"
    "  -d, --dir DIR          the vault folder (or $CLEARVAULT_DIR)\n"
    "  -l, --listen ADDR:PORT where to listen (default 127.0.0.1:8443)\n"
    "  -j, --threads N        worker threads (default: one per processor)\n"
    "  -r, --rate N           requests per second per client certificate,\n"
    "                         bursts of twice that (default 2000; 0: off)\n"
    "      --syslog udp:HOST:PORT | tcp:HOST:PORT\n"
    "                         also send every alert to this collector as\n"
    "                         RFC 5424 syslog with structured data (UDP, or\n"
    "                         TCP with octet counting); HOST a name, an IPv4\n"
    "                         address or [an IPv6 one]. Default: the vault's\n"
    "                         syslog_5424 in clearvault.conf, else none. The\n"
    "                         supervisor sends; the confined processes hand\n"
    "                         it their alerts and never touch the network.\n"
    "      --no-guard         no read budgets, baselines or canaries: for a\n"
    "                         benchmark's baseline only (logged)\n"
    "      --one-process      keyd in the same process as the api: for a\n"
    "                         benchmark's baseline only (logged; no\n"
    "                         supervisor, so no witness pushes)\n"
    "  -h, --help             this text\n";

struct where {
	const char *dir, *listen;
};

static void
ready(void *ctx, unsigned port)
{
	const struct where *w = ctx;
	const char *colon = strrchr(w->listen, ':');

	/* The address as given (the port may have been 0: the real one). */
	printf("clearvault serve: listening on https://%.*s:%u/ (vault %s)\n",
	    (int)(colon - w->listen), w->listen, port, w->dir);
	fflush(stdout);
}

/* --one-process: the same server with keyd in process (a baseline for
 * the cost of the process boundary; no isolation). */
static cv_err
one_process(const struct cv_serve_opts *so)
{
	struct cv_vault *v = NULL, *va = NULL;
	struct cv_audit *a = NULL;
	struct cv_keyd *k = NULL;
	struct cv_keyd_client *kd = NULL;
	struct cv_syslog *sl = NULL;
	struct cv_syslog_target t;
	struct cv_config cfg;
	cv_err r;

	if (cli_open("serve", so->dir, &v, &a) != CLI_OK)
		return CV_ERR_INTERNAL;
	/* No supervisor, no pusher: nothing would know the quorum, and
	 * reads would go on as if it were there. */
	if (cv_config_load(so->dir, &cfg) == CV_OK &&
	    cfg.witness_no_quorum == CV_CONFIG_NO_QUORUM_REFUSE_READS) {
		r = cv_fail(CV_ERR_CONFIG, "witness_no_quorum = refuse-reads "
		    "needs the supervisor's witness pusher: not with "
		    "--one-process");
		goto out;
	}
	/* Not confined: its alerts go to the collector directly. */
	if (((so->syslog_arg && cv_config_syslog_target(so->syslog_arg,
	    &t) == CV_OK) || (!so->syslog_arg && cv_config_load(so->dir,
	    &cfg) == CV_OK && cfg.syslog_5424[0] &&
	    cv_config_syslog_target(cfg.syslog_5424, &t) == CV_OK)) &&
	    cv_syslog_new(&t, "clearvault serve", &sl) == CV_OK)
		cv_keyd_alert_sink(cv_syslog_sink, sl);
	if (!so->api.no_guard && (r = cv_serve_canaries_ok(v, a)) != CV_OK)
		goto out;
	if ((r = cv_keyd_new(v, a, &k)) != CV_OK ||
	    (r = cv_keyd_ca_ensure(k)) != CV_OK ||
	    (r = cv_serve_check_certs(k, so->dir)) != CV_OK ||
	    (r = cv_keyd_watch_hsm(k, 2)) != CV_OK ||
	    (r = cv_keyd_client_local(k, &kd)) != CV_OK ||
	    (r = cli_record(a, "serve.start.one-process", CV_OK,
	    so->api.listen, NULL, 0, 0)) != CV_OK ||
	    /* The api's own handle: what it routes to keyd (the canary
	     * list) must not come back to it through keyd's. */
	    (r = cv_vault_dup(v, &va)) != CV_OK ||
	    (r = cv_server_run(va, a, kd, &so->api)) != CV_OK)
		goto out;
	r = cli_record(a, "serve.stop", CV_OK, NULL, NULL, 0, 0);
 out:
	cv_vault_close(va);
	cv_keyd_client_free(kd);
	cv_keyd_free(k);
	cli_close(v, a);
	cv_keyd_alert_sink(NULL, NULL);
	cv_syslog_free(sl);
	return r;
}

/*
 * One server per vault (cv_server_claim), claimed before anything starts;
 * a start refused because another server has the vault is logged as
 * refused (through this process's own handle: there is no keyd yet).
 */
static cv_err
claim(struct cv_serve_opts *so, int *fd)
{
	struct cv_vault *v = NULL;
	struct cv_audit *a = NULL;
	char why[300];
	cv_err r;

	so->api.claimed = 1;
	if ((r = cv_server_claim(so->dir, fd)) == CV_OK)
		return CV_OK;
	snprintf(why, sizeof why, "%s", cv_err_detail());
	if (cli_open("serve", so->dir, &v, &a) == CLI_OK) {
		if (cli_record(a, so->api.no_guard ? "serve.start.no-guard" :
		    "serve.start", r, why, NULL, 0, 0) != CV_OK)
			fprintf(stderr, "clearvault serve: cannot log the "
			    "refused start\n");
		cli_close(v, a);
	}
	cv_err_set("%s", why);
	return r;
}

int
cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_DIR, CLI_OPT_HELP,
		{ "listen", required_argument, NULL, 'l' },
		{ "threads", required_argument, NULL, 'j' },
		{ "rate", required_argument, NULL, 'r' },
		{ "no-guard", no_argument, NULL, 'G' },
		{ "one-process", no_argument, NULL, 'O' },
		{ "proc", required_argument, NULL, 'P' },
		{ "syslog", required_argument, NULL, 'S' },
		{ 0, 0, 0, 0 }
	};
	struct cv_serve_opts so = { .api = { .listen = "127.0.0.1:8443",
	    .rate = 2000 } };
	const char *proc = NULL;
	struct where where;
	int c, ok = 1, one = 0, fd = -1;
	cv_err r = CV_OK;

	while ((c = getopt_long(argc, argv, "d:l:j:r:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': so.dir = optarg; break;
		case 'l': so.api.listen = so.listen_arg = optarg; break;
		case 'j':
			so.threads_arg = optarg;
			so.api.threads = (unsigned)cli_number(optarg, &ok);
			if (!ok || so.api.threads > 64)
				return cli_usage("serve", use, "bad --threads");
			break;
		case 'r':
			so.rate_arg = optarg;
			so.api.rate = (unsigned)cli_number(optarg, &ok);
			if (!ok || so.api.rate > 1000000)
				return cli_usage("serve", use, "bad --rate");
			break;
		case 'G': so.api.no_guard = 1; break;
		case 'O': one = 1; break;
		case 'P': proc = optarg; break;
		case 'S': {
			struct cv_syslog_target t;

			if (cv_config_syslog_target(optarg, &t) != CV_OK)
				return cli_usage("serve", use, "bad --syslog: %s",
				    cv_err_detail());
			so.syslog_arg = optarg;
			break;
		}
		case 'h': return cli_help(help);
		default: return cli_usage("serve", use, "bad option");
		}
	}
	if (optind != argc)
		return cli_usage("serve", use, "unexpected argument '%s'",
		    argv[optind]);
	if ((so.dir = cli_dir("serve", so.dir)) == NULL)
		return CLI_USAGE;
	/* Every serve process, one-process too: see base/wipe.c. */
	cv_wipe_frees();
	where.dir = so.dir;
	where.listen = so.api.listen;
	so.api.ready = ready;
	so.api.ctx = &where;
	if (proc && strcmp(proc, "keyd") == 0)
		r = cv_serve_keyd(so.dir, !so.api.no_guard);
	else if (proc && strcmp(proc, "api") == 0) {
		so.api.claimed = 1;	/* by the supervisor */
		r = cv_serve_api(&so);
	} else if (proc)
		return cli_usage("serve", use, "--proc is keyd or api (internal)");
	else if ((r = claim(&so, &fd)) != CV_OK)
		;
	else if (one)
		r = one_process(&so);
	else
		r = cv_serve_supervise(&so);
	/* After serve.stop is logged: the next server's start follows it. */
	cv_server_unclaim(fd);
	if (r != CV_OK) {
		if (!proc)
			cli_fail("serve", r);
		return CLI_FAIL;
	}
	if (!proc)
		fprintf(stderr, "clearvault serve: stopped\n");
	return CLI_OK;
}
