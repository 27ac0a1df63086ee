#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static const char use[] = "clearvault canaries --dir DIR [--replant]";

static const char help[] =
    "usage: clearvault canaries --dir DIR [--replant]\n\n"
    "Prints the ids of the vault's canary records, one per line: the decoys\n"
    "that `load` mixes in and that no legitimate task opens (the server\n"
    "locks whoever reads one). The list is sealed by the keyring, so this\n"
    "needs the HSM; the listing itself is an audit entry. A list that is\n"
    "missing, does not open or names records that are not in the vault is\n"
    "refused, here as by `serve` and `load`.\n\n"
    "options:\n"
    "  -d, --dir DIR   the vault folder (or $CLEARVAULT_DIR)\n"
    "  -R, --replant   repair the list instead: keep the listed canaries\n"
    "                  that are records, drop the rest, and plant new ones\n"
    "                  up to the vault's minimum (or one per 500 records)\n"
    "  -h, --help      this text\n";

/* A load of canaries only, that may start from a broken list. */
static int
replant(struct cv_vault *v, struct cv_audit *a)
{
	struct cv_load_opts lo = { .canaries = CV_CANARIES_AUTO, .replant = 1,
	    .audit = cli_load_audit, .audit_ctx = a };
	struct cv_load_stats st;
	struct cv_load_error le;
	char reason[160];
	cv_err r, ar;

	if ((lo.in = fopen("/dev/null", "r")) == NULL) {
		fprintf(stderr, "clearvault canaries: cannot open /dev/null\n");
		return CLI_FAIL;
	}
	r = cv_vault_load(v, &lo, &st, &le);
	fclose(lo.in);
	snprintf(reason, sizeof reason, "dropped %llu listed canaries without "
	    "a record, planted %llu (load %lld)",
	    (unsigned long long)st.dropped, (unsigned long long)st.canaries,
	    (long long)st.load);
	ar = cli_record(a, "canaries.replant", r, reason, NULL, 0, 0);
	if (ar == CV_OK && cv_vault_load_audited(v, st.load) != CV_OK)
		fprintf(stderr, "clearvault canaries: warning: %s\n",
		    cv_err_detail());
	if (ar != CV_OK || r != CV_OK)
		return cli_fail("canaries", ar != CV_OK ? ar : r);
	fprintf(stderr, "clearvault canaries: %s\n", reason);
	return CLI_OK;
}

int
cmd_canaries(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_DIR, CLI_OPT_HELP,
		{ "replant", no_argument, NULL, 'R' },
		{ 0, 0, 0, 0 }
	};
	const char *dir = NULL;
	struct cv_vault *v = NULL;
	struct cv_audit *a = NULL;
	char **ids = NULL, reason[64];
	size_t n = 0;
	int c, rc = CLI_FAIL, re = 0;
	cv_err r;

	while ((c = getopt_long(argc, argv, "d:Rh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'R': re = 1; break;
		case 'h': return cli_help(help);
		default: return cli_usage("canaries", use, "bad option");
		}
	}
	if (optind != argc)
		return cli_usage("canaries", use, "unexpected argument '%s'",
		    argv[optind]);
	if ((dir = cli_dir("canaries", dir)) == NULL)
		return CLI_USAGE;
	if (cli_open("canaries", dir, &v, &a) != CLI_OK)
		goto out;
	if (re) {
		rc = replant(v, a);
		goto out;
	}
	r = cv_vault_canaries(v, &ids, &n);
	snprintf(reason, sizeof reason, "%zu canaries listed", n);
	if (cli_record(a, "canaries.list", r, reason, NULL, 0, 0) != CV_OK ||
	    r != CV_OK) {
		cli_fail("canaries", r);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		printf("%s\n", ids[i]);
	rc = fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
 out:
	free(ids);
	cli_close(v, a);
	return rc;
}
