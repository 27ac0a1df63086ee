#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "../vault/vault.h"
#include "cli.h"

static const char use[] =
    "clearvault load --dir DIR [--reject FILE] [--canaries N] "
    "[--new-version] [FILE|-]";

static const char help[] =
    "usage: clearvault load --dir DIR [--reject FILE] [--canaries N] "
    "[--new-version] [FILE|-]\n\n"
    "Validates every record of FILE (JSON Lines; stdin when absent or '-')\n"
    "against the schema, encrypts each section under the record's own\n"
    "data key and stores it with its blind indexes. A record whose id\n"
    "exists becomes a new version. The run is atomic: on a bad record it\n"
    "prints FILE:LINE: field PATH: reason, exits 1 and stores nothing;\n"
    "killed, it stores nothing or everything, and the next command that\n"
    "opens the vault writes its outcome to the audit log (load.settle).\n"
    "An input loaded before (same SHA-256) is refused unless\n"
    "--new-version is given. Canary records (decoys no legitimate task\n"
    "opens; reading one locks the reader) are mixed in at random places;\n"
    "which ones they are is kept sealed by the keyring (clearvault\n"
    "canaries lists them).\n\n"
    "options:\n"
    "  -d, --dir DIR        the vault folder (or $CLEARVAULT_DIR)\n"
    "  -r, --reject FILE    write bad records with their reasons to FILE\n"
    "                       (JSON Lines) and load the rest\n"
    "  -c, --canaries N     canaries to add (default: one per 500 records,\n"
    "                       and at least 50 in the vault)\n"
    "  -V, --new-version    load an input that was loaded before again:\n"
    "                       every record of it becomes a new version\n"
    "  -j, --threads T      encrypting threads (default: one per processor)\n"
    "  -q, --quiet          no progress and no summary\n"
    "  -h, --help           this text\n";

/* "load N, input sha256 HEX" of a load, for its entries. */
static void
load_name(char *out, size_t size, int64_t id,
    const uint8_t digest[static CV_LOAD_DIGEST_BYTES])
{
	char hex[2 * CV_LOAD_DIGEST_BYTES + 1];

	sodium_bin2hex(hex, sizeof hex, digest, CV_LOAD_DIGEST_BYTES);
	snprintf(out, size, "load %lld, input sha256 %s", (long long)id, hex);
}

/* How far back a settle looks for the outcome its load wrote. */
#define OUTCOME_LOOKBACK 4096

struct outcome_find {
	const char *name;	/* "load N, input sha256 HEX" */
	int found;
};

static cv_err
outcome_match(void *ctx, uint64_t index, const uint8_t *leaf, size_t len)
{
	struct outcome_find *f = ctx;
	struct cv_audit_view v;
	const struct cv_audit_str *act, *why;
	size_t n = strlen(f->name);

	(void)index;
	if (cv_audit_view(leaf, len, &v) != CV_OK)
		return CV_OK;
	act = &v.f[CV_AUDIT_ACTION];
	why = &v.f[CV_AUDIT_REASON];
	/* The load's own entry: "...; load N, input sha256 HEX", allowed
	 * (the id names one load only). */
	if (v.outcome == CV_AUDIT_ALLOWED && act->len == 4 &&
	    memcmp(act->p, "load", 4) == 0 && why->len >= n + 2 &&
	    memcmp(why->p + why->len - n - 2, "; ", 2) == 0 &&
	    memcmp(why->p + why->len - n, f->name, n) == 0)
		f->found = 1;
	return CV_OK;
}

/*
 * Whether the log's last entries hold the committed outcome of load NAME:
 * a kill after that entry was durable and before the load was marked
 * audited leaves both. Not found, or the log unreadable here, the settle
 * writes its own (an outcome twice rather than none).
 */
static int
outcome_logged(struct cv_audit *a, const char *name)
{
	struct outcome_find f = { .name = name };
	uint64_t size;

	if (cv_audit_size(a, &size) != CV_OK ||
	    cv_audit_scan(a, size > OUTCOME_LOOKBACK ? size -
	    OUTCOME_LOOKBACK : 0, UINT64_MAX, outcome_match, &f, NULL) !=
	    CV_OK) {
		cv_err_clear();
		return 0;
	}
	return f.found;
}

cv_err
cli_load_audit(void *ctx, enum cv_load_event ev, const struct cv_load_info *li)
{
	struct cv_audit *a = ctx;
	char name[120], when[32], reason[300];
	time_t t = (time_t)(li->decided_us / 1000000);
	struct tm tm;

	load_name(name, sizeof name, li->id, li->digest);
	if (ev == CV_LOAD_BEGIN) {
		snprintf(reason, sizeof reason, "%s: committing %llu records "
		    "(%llu new versions) and %llu canaries", name,
		    (unsigned long long)li->records,
		    (unsigned long long)li->versions,
		    (unsigned long long)li->canaries);
		return cli_record(a, "load.begin", CV_OK, reason, NULL, 0, 0);
	}
	if (li->committed && outcome_logged(a, name))
		return CV_OK;
	gmtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (li->committed)
		snprintf(reason, sizeof reason, "%s: committed at %s with %llu "
		    "records (%llu new versions) and %llu canaries; its "
		    "process ended before marking its outcome recorded", name,
		    when,
		    (unsigned long long)li->records,
		    (unsigned long long)li->versions,
		    (unsigned long long)li->canaries);
	else
		snprintf(reason, sizeof reason, "load %lld: never committed "
		    "(its process ended first); what it wrote was removed at "
		    "%s: nothing stored", (long long)li->id, when);
	return cli_record(a, "load.settle", CV_OK, reason, NULL, 0, 0);
}

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
		{ "new-version", no_argument, NULL, 'V' },
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
	char reason[300], name[120];
	cv_err ar;
	struct stat sb;
	int c, ok, quiet = 0, rc = CLI_FAIL;
	cv_err r;

	while ((c = getopt_long(argc, argv, "d:r:j:c:Vqh", opts, NULL)) !=
	    -1) {
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
		case 'V': lo.new_version = 1; break;
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
	lo.audit = cli_load_audit;
	lo.audit_ctx = a;
	r = cv_vault_load(v, &lo, &st, &le);
	if (lo.progress)
		fputc('\n', stderr);
	/* A kill -9 between the commit and the outcome entry, for tests. */
	if (r == CV_OK && cv_fault("load.decided"))
		kill(getpid(), SIGKILL);
	name[0] = '\0';
	if (st.load)
		load_name(name, sizeof name, st.load, st.digest);
	snprintf(reason, sizeof reason, "%s: stored %llu (%llu new versions), "
	    "rejected %llu%s%s", strcmp(in, "-") ? in : "<stdin>",
	    (unsigned long long)st.stored, (unsigned long long)st.versions,
	    (unsigned long long)st.rejected, *name ? "; " : "", name);
	ar = cli_record(a, "load", r, reason, NULL, 0, 0);
	/* A kill -9 between the outcome entry and its mark, for tests. */
	if (ar == CV_OK && r == CV_OK && cv_fault("load.logged"))
		kill(getpid(), SIGKILL);
	/* Not settled if it failed: the next open records the outcome. */
	if (ar == CV_OK && cv_vault_load_audited(v, st.load) != CV_OK)
		fprintf(stderr, "clearvault load: warning: %s (the next "
		    "command records this load's outcome again)\n",
		    cv_err_detail());
	if (ar != CV_OK && r == CV_OK) {
		/* Committed, and load.begin (durable before the commit)
		 * names it: the load is done; only its outcome entry waits
		 * for the next command (load.settle). Saying "failed" here
		 * would be false (found by tests/fault/every_site.py). */
		fprintf(stderr, "clearvault load: the records are stored, but "
		    "the outcome entry could not be written (%s): the next "
		    "command that opens the vault records it\n",
		    cv_err_detail());
	} else if (ar != CV_OK) {
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
