#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../api/api.h"
#include "cli.h"

static const char use[] =
    "clearvault serve --dir DIR [--listen 127.0.0.1:8443] [--threads N] "
    "[--rate N]";

static const char help[] =
    "usage: clearvault serve --dir DIR [--listen ADDRESS:PORT] "
    "[--threads N]\n\n"
    "Serves the vault over HTTPS with mutual TLS: TLS 1.3 (1.2 with AEAD\n"
    "suites only), a server certificate from the vault CA (clearvault\n"
    "ca-cert prints it), client certificates from `clearvault enrol`,\n"
    "TOTP login (POST /v1/session) and bearer tokens bound to the\n"
    "certificate. Every request is an audit entry. Stops cleanly on\n"
    "SIGINT or SIGTERM. Port 0 picks a free port. One server per vault:\n"
    "a second one on the same folder refuses to start, naming the\n"
    "first one's PID (DIR/serve.lock).\n\n"
    "options:\n"
    "  -d, --dir DIR          the vault folder (or $CLEARVAULT_DIR)\n"
    "  -l, --listen ADDR:PORT where to listen (default 127.0.0.1:8443)\n"
    "  -j, --threads N        worker threads (default: one per processor)\n"
    "  -r, --rate N           requests per second per client certificate,\n"
    "                         bursts of twice that (default 2000; 0: off)\n"
    "      --no-guard         no read budgets, baselines or canaries: for a\n"
    "                         benchmark's baseline only (logged)\n"
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

/* A list that is missing or wrong would run the server with canaries off
 * (issue 18): refused, with how to repair it. */
static cv_err
canaries_ok(struct cv_vault *v)
{
	char **ids = NULL;
	size_t n = 0;
	cv_err r;

	r = cv_vault_canaries(v, &ids, &n);
	free(ids);
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
		{ 0, 0, 0, 0 }
	};
	struct cv_server_opts so = { .listen = "127.0.0.1:8443",
	    .rate = 2000 };
	const char *dir = NULL;
	struct where where;
	struct cv_vault *v = NULL;
	struct cv_audit *a = NULL;
	char why[300];
	int c, ok = 1, rc = CLI_FAIL, claim = -1;
	cv_err r = CV_OK, e;

	while ((c = getopt_long(argc, argv, "d:l:j:r:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'l': so.listen = optarg; break;
		case 'j':
			so.threads = (unsigned)cli_number(optarg, &ok);
			if (!ok || so.threads > 64)
				return cli_usage("serve", use, "bad --threads");
			break;
		case 'r':
			so.rate = (unsigned)cli_number(optarg, &ok);
			if (!ok || so.rate > 1000000)
				return cli_usage("serve", use, "bad --rate");
			break;
		case 'G': so.no_guard = 1; break;
		case 'h': return cli_help(help);
		default: return cli_usage("serve", use, "bad option");
		}
	}
	if (optind != argc)
		return cli_usage("serve", use, "unexpected argument '%s'",
		    argv[optind]);
	if ((dir = cli_dir("serve", dir)) == NULL)
		return CLI_USAGE;
	if (cli_open("serve", dir, &v, &a) != CLI_OK)
		goto out;
	/* The server checks the canary list too; here a refusal is on the
	 * log before anything starts. */
	if (!so.no_guard && (r = canaries_ok(v)) != CV_OK) {
		char detail[512];

		snprintf(detail, sizeof detail, "%s", cv_err_detail());
		if (cli_record(a, "serve.start", r, "canary list", NULL, 0,
		    0) != CV_OK)
			fprintf(stderr, "clearvault serve: cannot record the "
			    "refusal: %s\n", cv_err_detail());
		cv_err_set("%s", detail);
		cli_fail("serve", r);
		goto out;
	}
	where.dir = dir;
	where.listen = so.listen;
	so.ready = ready;
	so.ctx = &where;
	so.claimed = 1;
	/* Claimed before the start is logged: a start refused because
	 * another server has the vault is logged as refused. */
	r = cv_server_claim(dir, &claim);
	snprintf(why, sizeof why, "%s", r == CV_OK ? so.listen :
	    cv_err_detail());
	if ((e = cli_record(a, so.no_guard ? "serve.start.no-guard" :
	    "serve.start", r, why, NULL, 0, 0)) != CV_OK || r != CV_OK) {
		if (r != CV_OK)
			cv_err_set("%s", why);
		cli_fail("serve", r != CV_OK ? r : e);
		goto out;
	}
	if ((r = cv_server_run(v, a, &so)) != CV_OK) {
		cli_fail("serve", r);
		goto out;
	}
	if (cli_record(a, "serve.stop", CV_OK, NULL, NULL, 0, 0) != CV_OK)
		goto out;
	fprintf(stderr, "clearvault serve: stopped\n");
	rc = CLI_OK;
 out:
	/* After serve.stop is logged: the next server's start follows it. */
	if (claim >= 0)
		close(claim);
	cli_close(v, a);
	return rc;
}
