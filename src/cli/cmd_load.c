#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../vault/vault.h"
#include "cli.h"

static const char use[] =
    "clearvault load --dir DIR [--reject FILE] [--canaries N] [FILE|-]";

static const char help[] =
    "usage: clearvault load --dir DIR [--reject FILE] [--canaries N] "
    "[FILE|-]\n\n"
    "Validates every record of FILE (JSON Lines; stdin when absent or '-')\n"
    "against the schema, encrypts each section under the record's own\n"
    "data key and stores it with its blind indexes. A record whose id\n"
    "exists becomes a new version. The run is atomic: on a bad record it\n"
    "prints FILE:LINE: field PATH: reason, exits 1 and stores nothing.\n"
    "Canary records (decoys no legitimate task opens; reading one locks\n"
    "the reader) are mixed in at random places; which ones they are is\n"
    "kept sealed by the keyring (clearvault canaries lists them).\n\n"
    "options:\n"
    "  -d, --dir DIR        the vault folder (or $CLEARVAULT_DIR)\n"
    "  -r, --reject FILE    write bad records with their reasons to FILE\n"
    "                       (JSON Lines) and load the rest\n"
    "  -c, --canaries N     canaries to add (default: one per 500 records,\n"
    "                       and at least 50 in the vault)\n"
    "  -j, --threads T      encrypting threads (default: one per processor)\n"
    "  -q, --quiet          no progress and no summary\n"
    "  -h, --help           this text\n";

struct prog {
	off_t size;	/* of the input, 0 if unknown */
};

static void
progress(void *ctx, const struct cv_load_stats *st)
{
	const struct prog *p = ctx;
	double rate = st->seconds > 0 ? (double)st->stored / st->seconds : 0;

	fprintf(stderr, "\r%llu records, %.0f/s", (unsigned long long)
	    st->stored, rate);
	if (p->size > 0 && st->bytes > 0 && st->bytes < (uint64_t)p->size) {
		double left = st->seconds * ((double)p->size /
		    (double)st->bytes - 1);
		fprintf(stderr, ", %.0f%%, ETA %.0f s  ", 100.0 *
		    (double)st->bytes / (double)p->size, left);
	}
	fflush(stderr);
}

int
cmd_load(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_DIR, CLI_OPT_HELP,
		{ "reject", required_argument, NULL, 'r' },
		{ "threads", required_argument, NULL, 'j' },
		{ "canaries", required_argument, NULL, 'c' },
		{ "quiet", no_argument, NULL, 'q' },
		{ 0, 0, 0, 0 }
	};
	const char *dir = NULL, *rpath = NULL, *in = "-";
	struct cv_load_opts lo = { .canaries = CV_CANARIES_AUTO };
	struct cv_load_stats st;
	struct cv_load_error le;
	struct cv_vault *v = NULL;
	struct cv_audit *a = NULL;
	struct prog pg = { 0 };
	char reason[200];
	cv_err ar;
	struct stat sb;
	int c, ok, quiet = 0, rc = CLI_FAIL;
	cv_err r;

	while ((c = getopt_long(argc, argv, "d:r:j:c:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'r': rpath = optarg; break;
		case 'c':
			lo.canaries = (int64_t)cli_number(optarg, &ok);
			if (!ok || lo.canaries > 1000000)
				return cli_usage("load", use, "bad --canaries");
			break;
		case 'j':
			lo.threads = (unsigned)cli_number(optarg, &ok);
			if (!ok || lo.threads > 64)
				return cli_usage("load", use, "bad --threads");
			break;
		case 'q': quiet = 1; break;
		case 'h': return cli_help(help);
		default: return cli_usage("load", use, "bad option");
		}
	}
	if (argc - optind > 1)
		return cli_usage("load", use, "one input file at most");
	if (optind < argc)
		in = argv[optind];
	if ((dir = cli_dir("load", dir)) == NULL)
		return CLI_USAGE;
	lo.in = stdin;
	if (strcmp(in, "-") != 0 && (lo.in = fopen(in, "r")) == NULL) {
		fprintf(stderr, "clearvault load: cannot open %s: %s\n", in,
		    strerror(errno));
		return CLI_FAIL;
	}
	if (fstat(fileno(lo.in), &sb) == 0 && S_ISREG(sb.st_mode))
		pg.size = sb.st_size;
	if (rpath && (lo.reject = fopen(rpath, "w")) == NULL) {
		fprintf(stderr, "clearvault load: cannot create %s: %s\n",
		    rpath, strerror(errno));
		goto out;
	}
	if (cli_open("load", dir, &v, &a) != CLI_OK)
		goto out;
	if (!quiet && isatty(STDERR_FILENO)) {
		lo.progress = progress;
		lo.ctx = &pg;
	}
	r = cv_vault_load(v, &lo, &st, &le);
	if (lo.progress)
		fputc('\n', stderr);
	snprintf(reason, sizeof reason, "%s: stored %llu (%llu new versions), "
	    "rejected %llu", strcmp(in, "-") ? in : "<stdin>",
	    (unsigned long long)st.stored, (unsigned long long)st.versions,
	    (unsigned long long)st.rejected);
	if ((ar = cli_record(a, "load", r, reason, NULL, 0, 0)) != CV_OK) {
		cli_fail("load", ar);
		goto out;
	}
	if (r == CV_ERR_INVALID && le.line) {
		fprintf(stderr, "%s:%llu: field %s: %s\n",
		    strcmp(in, "-") ? in : "<stdin>",
		    (unsigned long long)le.line, le.rec.path, le.rec.reason);
		fprintf(stderr, "clearvault load: nothing stored (use "
		    "--reject FILE to load the good records)\n");
		goto out;
	}
	if (r != CV_OK) {
		cli_fail("load", r);
		fprintf(stderr, "clearvault load: nothing stored\n");
		goto out;
	}
	if (lo.reject && fflush(lo.reject) != 0) {
		fprintf(stderr, "clearvault load: cannot write %s\n", rpath);
		goto out;
	}
	if (!quiet)
		fprintf(stderr, "clearvault load: stored %llu records (%llu "
		    "new versions) and %llu canaries, rejected %llu, in %.2f s "
		    "(%.0f records/s)\n", (unsigned long long)st.stored,
		    (unsigned long long)st.versions,
		    (unsigned long long)st.canaries,
		    (unsigned long long)st.rejected, st.seconds,
		    st.seconds > 0 ? (double)st.stored / st.seconds : 0.0);
	rc = CLI_OK;
 out:
	cli_close(v, a);
	if (lo.in && lo.in != stdin)
		fclose(lo.in);
	if (lo.reject && fclose(lo.reject) != 0)
		rc = CLI_FAIL;
	return rc;
}
