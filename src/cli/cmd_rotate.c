#include <stdio.h>
#include <unistd.h>

#include "../vault/vault.h"
#include "cli.h"

static const char use[] = "clearvault rotate --dir DIR";

static const char help[] =
    "usage: clearvault rotate --dir DIR [--quiet]\n\n"
    "Makes a new keyring key (sealed by a new HSM root key), rewraps every\n"
    "record's data key under it in committed batches, then destroys the old\n"
    "keyring key and its HSM root key. Record ciphertext is not touched.\n"
    "If interrupted, running it again finishes the job; every record stays\n"
    "readable in between.\n\n"
    "options:\n"
    "  -d, --dir DIR   the vault folder (or $CLEARVAULT_DIR)\n"
    "  -q, --quiet     no progress and no summary\n"
    "  -h, --help      this text\n";

static void
progress(void *ctx, const struct cv_rotate_stats *st)
{
	(void)ctx;
	fprintf(stderr, "\r%llu of %llu data keys rewrapped (%.0f/s)  ",
	    (unsigned long long)st->rewrapped, (unsigned long long)st->total,
	    st->seconds > 0 ? (double)st->rewrapped / st->seconds : 0.0);
	fflush(stderr);
}

int
cmd_rotate(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_DIR, CLI_OPT_HELP,
		{ "quiet", no_argument, NULL, 'q' },
		{ 0, 0, 0, 0 }
	};
	const char *dir = NULL;
	struct cv_vault *v = NULL;
	struct cv_audit *a = NULL;
	struct cv_rotate_stats st;
	char reason[160];
	int c, quiet = 0, tty, rc = CLI_FAIL;
	cv_err r, ar;

	while ((c = getopt_long(argc, argv, "d:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'q': quiet = 1; break;
		case 'h': return cli_help(help);
		default: return cli_usage("rotate", use, "bad option");
		}
	}
	if (optind != argc)
		return cli_usage("rotate", use, "unexpected argument '%s'",
		    argv[optind]);
	if ((dir = cli_dir("rotate", dir)) == NULL)
		return CLI_USAGE;
	tty = !quiet && isatty(STDERR_FILENO);
	if (cli_open("rotate", dir, &v, &a) != CLI_OK)
		goto out;
	r = cv_vault_rotate(v, tty ? progress : NULL, NULL, &st);
	if (tty)
		fputc('\n', stderr);
	snprintf(reason, sizeof reason, "%llu data keys rewrapped%s",
	    (unsigned long long)st.rewrapped, st.resumed ?
	    " (resumed)" : "");
	if ((ar = cli_record(a, "rotate", r, reason, NULL, 0, 0)) != CV_OK) {
		cli_fail("rotate", ar);
		goto out;
	}
	if (r != CV_OK) {
		cli_fail("rotate", r);
		fprintf(stderr, "clearvault rotate: %llu data keys rewrapped "
		    "before the failure; run it again to finish\n",
		    (unsigned long long)st.rewrapped);
		goto out;
	}
	if (!quiet)
		fprintf(stderr, "clearvault rotate: %s: %llu data keys "
		    "rewrapped in %.2f s (%.0f keys/s); old key destroyed\n",
		    st.resumed ? "finished an interrupted rotation" :
		    "rotated", (unsigned long long)st.rewrapped, st.seconds,
		    st.seconds > 0 ? (double)st.rewrapped / st.seconds : 0.0);
	rc = CLI_OK;
 out:
	cli_close(v, a);
	return rc;
}
