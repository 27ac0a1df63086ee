/*
 * clearvault witness: an independent cosigner of transparency logs
 * (c2sp.org/tlog-witness), clearvault's audit log among them. It holds
 * no vault data, only its key and what it last cosigned per log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../witness/witness.h"
#include "cli.h"

static const char use[] =
    "clearvault witness init|add-log|serve --dir WDIR ... (--help)";

static const char help[] =
    "usage: clearvault witness init --dir WDIR --name NAME\n"
    "       clearvault witness add-log --dir WDIR --origin ORIGIN --vkey VKEY\n"
    "       clearvault witness serve --dir WDIR [--listen ADDR:PORT] "
    "[--threads N]\n"
    "       clearvault witness vkey --dir WDIR\n\n"
    "A witness checks that each new checkpoint of a log extends the last\n"
    "one it cosigned (a Merkle consistency proof) and only then cosigns it\n"
    "(C2SP tlog-witness, cosignature/v1). A log rolled back to an older\n"
    "copy, or forked to show different readers different histories, is\n"
    "refused (409 or 422) by every witness that saw the newer one. Run it\n"
    "on another machine, by another office: it holds no vault data.\n\n"
    "  init     a new witness folder WDIR (0700) with its own Ed25519 key\n"
    "           (WDIR/witness.key, 0600) named NAME, a schema-less URL such\n"
    "           as ig.example.gov/witness; prints its verifier key, which\n"
    "           the logs' operators and verifiers configure.\n"
    "  add-log  witness the log ORIGIN (its checkpoints' first line, as\n"
    "           `clearvault audit checkpoint` shows) signed by VKEY (as\n"
    "           `clearvault audit pubkey` prints it). Several keys for one\n"
    "           origin: one add-log each. A running server reads the list\n"
    "           when it starts: restart it.\n"
    "  serve    POST /add-checkpoint over plain HTTP on ADDR:PORT (default\n"
    "           127.0.0.1:7380; port 0 picks one). No TLS and no client\n"
    "           certificates, as the protocol intends: a request counts only\n"
    "           with the log's signature and a valid proof, and a reply is a\n"
    "           signature anyone can check. One server per WDIR (a lock).\n"
    "           Stops on SIGINT or SIGTERM.\n"
    "  vkey     print the witness's verifier key again.\n\n"
    "options:\n"
    "  -d, --dir WDIR        the witness folder\n"
    "  -n, --name NAME       (init) the witness's key name\n"
    "  -o, --origin ORIGIN   (add-log) the log's origin line\n"
    "  -k, --vkey VKEY       (add-log) the log's signed-note verifier key\n"
    "  -l, --listen ADDR:PORT  (serve) where to listen\n"
    "  -j, --threads N       (serve) worker threads (default 2)\n"
    "  -h, --help            this text\n";

static void
ready(void *ctx, unsigned port)
{
	const char *listen = ctx;
	const char *colon = strrchr(listen, ':');

	printf("clearvault witness: listening on http://%.*s:%u/\n",
	    (int)(colon - listen), listen, port);
	fflush(stdout);
}

int
cmd_witness(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_DIR, CLI_OPT_HELP,
		{ "name", required_argument, NULL, 'n' },
		{ "origin", required_argument, NULL, 'o' },
		{ "vkey", required_argument, NULL, 'k' },
		{ "listen", required_argument, NULL, 'l' },
		{ "threads", required_argument, NULL, 'j' },
		{ 0, 0, 0, 0 }
	};
	const char *dir = NULL, *name = NULL, *origin = NULL, *vkey = NULL;
	const char *listen = "127.0.0.1:7380", *sub;
	char key[CV_WITNESS_VKEY_MAX];
	struct cv_witness *w = NULL;
	unsigned long long threads = 2;
	int c, ok = 1, rc = CLI_FAIL;
	cv_err r;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return argc < 2 ? cli_usage("witness", use, "which "
		    "subcommand?") : cli_help(help);
	sub = argv[1];
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "d:n:o:k:l:j:h", opts, NULL)) !=
	    -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'n': name = optarg; break;
		case 'o': origin = optarg; break;
		case 'k': vkey = optarg; break;
		case 'l': listen = optarg; break;
		case 'j': threads = cli_number(optarg, &ok); break;
		case 'h': return cli_help(help);
		default: return cli_usage("witness", use, "bad option");
		}
	}
	if (!ok || threads < 1 || threads > 64)
		return cli_usage("witness", use, "--threads wants 1 to 64");
	if (optind != argc)
		return cli_usage("witness", use, "unexpected '%s'",
		    argv[optind]);
	if (dir == NULL)
		return cli_usage("witness", use, "--dir WDIR is needed");
	if (!strcmp(sub, "init")) {
		if (name == NULL)
			return cli_usage("witness", use, "init needs --name");
		if ((r = cv_witness_init(dir, name, key, sizeof key)) != CV_OK)
			return cli_fail("witness init", r);
		printf("%s\n", key);
		return CLI_OK;
	}
	if (!strcmp(sub, "add-log")) {
		if (origin == NULL || vkey == NULL)
			return cli_usage("witness", use, "add-log needs --origin "
			    "and --vkey");
		if ((r = cv_witness_add_log(dir, origin, vkey)) != CV_OK)
			return cli_fail("witness add-log", r);
		fprintf(stderr, "clearvault witness: witnessing %s\n", origin);
		return CLI_OK;
	}
	if (!strcmp(sub, "vkey")) {
		if ((r = cv_witness_open(dir, 0, &w)) != CV_OK ||
		    (r = cv_witness_vkey(w, key, sizeof key)) != CV_OK) {
			cli_fail("witness vkey", r);
			goto out;
		}
		printf("%s\n", key);
		rc = CLI_OK;
		goto out;
	}
	if (!strcmp(sub, "serve")) {
		if ((r = cv_witness_open(dir, 1, &w)) != CV_OK ||
		    (r = cv_witness_serve(w, listen, (unsigned)threads, ready,
		    (void *)(uintptr_t)listen)) != CV_OK) {
			cli_fail("witness serve", r);
			goto out;
		}
		rc = CLI_OK;
		goto out;
	}
	return cli_usage("witness", use, "unknown subcommand '%s'", sub);
 out:
	cv_witness_free(w);
	return rc;
}
