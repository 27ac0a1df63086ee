/* clearvault access review: recertifying who can read record data. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../access/access.h"
#include "../scope/scope.h"
#include "cli.h"

#define ACTION_REVIEW "access.review"
#define ACTION_DISABLE "access.disable-unused"

/*
 * Test-only: the review's "now" as an RFC 3339 UTC time, so that tests
 * see a month of idleness without waiting for it (as
 * CLEARVAULT_GUARD_CLOCK does for the guard). The review's audit entry
 * names the time used whenever it is set.
 */
#define NOW_ENV "CLEARVAULT_ACCESS_NOW"

static const char use[] =
    "clearvault access review --dir DIR [--days N] [--unused N] [--all] "
    "[--format table|json] [--disable-unused]";

static const char help[] =
    "usage: clearvault access review --dir DIR [--days N] [--unused N]\n"
    "           [--all] [--format table|json] [--disable-unused]\n\n"
    "Access recertification: every user with read power (roles\n"
    "investigator, adjudicator, security_officer; --all adds auditor and\n"
    "admin) with role, state (active, locked by the guard, disabled),\n"
    "creation date, cases, last login (the last allowed login in the audit\n"
    "log) and the number of distinct records read in the last N days.\n"
    "Read means what 'clearvault scope' counts: allowed server reads and\n"
    "command-line gets that returned sections (searches return ids only).\n\n"
    "An account is unused when it has not logged in for --unused days; one\n"
    "that never logged in counts from its creation.\n\n"
    "options:\n"
    "  -d, --dir DIR       the vault folder (or $CLEARVAULT_DIR)\n"
    "      --days N        the window of records read, in days (default 90)\n"
    "      --unused N      idle days that make an account unused (default\n"
    "                      30); both 1 to 36500\n"
    "      --all           every role, also those that read no records\n"
    "      --format F      table (default: aligned columns and a summary\n"
    "                      line) or json ({\"generated_at\", \"window_days\",\n"
    "                      \"unused_days\", \"users\": [{\"name\", \"role\",\n"
    "                      \"state\", \"locked\", \"created\", \"cases\",\n"
    "                      \"last_login\" (null: never), \"records_read\",\n"
    "                      \"unused\", \"disabled_now\"}], \"totals\"})\n"
    "      --disable-unused  disable every unused account still enabled\n"
    "                      (as 'user disable' does; 'user enable' undoes it)\n"
    "  -h, --help          this text\n\n"
    "The review is an audit entry (access.review), durable before anything\n"
    "is printed; each account disabled is one more (access.disable-unused),\n"
    "durable before the change is committed. The log is opened as by every\n"
    "command (damage after the last checkpoint is refused); run 'clearvault\n"
    "audit verify' for a full check.\n\n"
    "exit status: 0 done, 1 error (nothing is printed), 2 usage error\n";

struct opts {
	const char *dir;
	unsigned long long days, unused;
	int json, all, disable;
};

static int
days_opt(const char *name, const char *arg, unsigned long long *out)
{
	int ok;

	*out = cli_number(arg, &ok);
	if (!ok || *out < 1 || *out > CV_ACCESS_MAX_DAYS)
		return cli_usage("access", use, "%s wants a number of days, 1 "
		    "to %d, not '%.40s'", name, CV_ACCESS_MAX_DAYS, arg);
	return CLI_OK;
}

static int
parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		CLI_OPT_DIR, CLI_OPT_HELP,
		{ "days", required_argument, NULL, 'D' },
		{ "unused", required_argument, NULL, 'U' },
		{ "all", no_argument, NULL, 'a' },
		{ "format", required_argument, NULL, 'F' },
		{ "disable-unused", no_argument, NULL, 'X' },
		{ 0, 0, 0, 0 }
	};
	int c, rc;

	memset(o, 0, sizeof *o);
	o->days = 90;
	o->unused = 30;
	if (argc < 2)
		return cli_usage("access", use, "which subcommand? (review)");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		cli_help(help);
		return -1;
	}
	if (strcmp(argv[1], "review") != 0)
		return cli_usage("access", use, "unknown subcommand '%.40s' "
		    "(review)", argv[1]);
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "d:h", lo, NULL)) != -1) {
		switch (c) {
		case 'd': o->dir = optarg; break;
		case 'D':
			if ((rc = days_opt("--days", optarg, &o->days)) != CLI_OK)
				return rc;
			break;
		case 'U':
			if ((rc = days_opt("--unused", optarg, &o->unused)) !=
			    CLI_OK)
				return rc;
			break;
		case 'a': o->all = 1; break;
		case 'F':
			if (!strcmp(optarg, "table"))
				o->json = 0;
			else if (!strcmp(optarg, "json"))
				o->json = 1;
			else
				return cli_usage("access", use, "no format "
				    "'%.40s' (table or json)", optarg);
			break;
		case 'X': o->disable = 1; break;
		case 'h': cli_help(help); return -1;
		default: return cli_usage("access", use, "bad option");
		}
	}
	if (optind != argc)
		return cli_usage("access", use, "unexpected argument '%.40s'",
		    argv[optind]);
	return CLI_OK;
}

/* The review's "now": the clock, or the test-only override. */
static int
review_now(int64_t *now, int *overridden)
{
	const char *s = getenv(NOW_ENV);

	*overridden = s != NULL && *s != '\0';
	if (!*overridden) {
		*now = cv_time_us();
		return CLI_OK;
	}
	if (cv_scope_parse_time(s, now) != CV_OK || *now <= 0)
		return cli_usage("access", use, "%s: %s", NOW_ENV,
		    cv_err_detail());
	return CLI_OK;
}

static void
progress(void *ctx, uint64_t done, uint64_t total)
{
	(void)ctx;
	fprintf(stderr, "\raccess review: %llu of %llu entries scanned "
	    "(%.0f%%)\033[K", (unsigned long long)done,
	    (unsigned long long)total,
	    total ? 100.0 * (double)done / (double)total : 100.0);
}

/*
 * Disables U in one store transaction that commits only once its audit
 * entry is durable: no account is switched off unrecorded. A refusal is
 * an entry too.
 */
static cv_err
disable_one(struct cv_vault *v, struct cv_audit *a,
    struct cv_access_user *u, unsigned days)
{
	struct cv_store *s = cv_vault_store(v);
	char why[200], last[40];
	cv_err r, ar;

	if (u->last_login_us)
		cv_scope_format_time(u->last_login_us, last, sizeof last);
	else
		snprintf(last, sizeof last, "never");
	snprintf(why, sizeof why, "user %s (%s): no login in %u day%s (last "
	    "login: %s)", u->name, u->role, days, days == 1 ? "" : "s", last);
	if ((r = cv_store_begin(s)) == CV_OK &&
	    (r = cv_store_user_disable(s, u->name, 1)) != CV_OK)
		cv_store_rollback(s);
	ar = cli_record(a, ACTION_DISABLE, r, why, NULL, 0, 0);
	if (r != CV_OK)
		return r;
	if (ar != CV_OK) {
		cv_store_rollback(s);
		return ar;
	}
	if ((r = cv_store_commit(s)) != CV_OK) {
		cv_store_rollback(s);
		/* The log now says disabled; say that it did not hold. */
		snprintf(why, sizeof why, "user %s: the disable just logged "
		    "did not commit", u->name);
		if (cli_record(a, ACTION_DISABLE, r, why, NULL, 0, 0) != CV_OK)
			fprintf(stderr, "clearvault access: cannot log that "
			    "disabling %s failed\n", u->name);
		return r;
	}
	u->disabled = true;
	u->disabled_now = true;
	return CV_OK;
}

static int
print(const struct opts *o, const struct cv_access_review *res)
{
	json_t *j = NULL;
	cv_err r;

	if (!o->json)
		r = cv_access_print_table(stdout, res);
	else if ((r = cv_access_json(res, &j)) == CV_OK &&
	    (json_dumpf(j, stdout, JSON_INDENT(2)) != 0 ||
	    fputc('\n', stdout) == EOF))
		r = cv_fail(CV_ERR_IO, "cannot write the review");
	json_decref(j);
	if (r == CV_OK && fflush(stdout) != 0)
		r = cv_fail(CV_ERR_IO, "cannot write the review");
	return r == CV_OK ? CLI_OK : cli_fail("access", r);
}

int
cmd_access(int argc, char **argv)
{
	struct opts o;
	struct cv_vault *v = NULL;
	struct cv_audit *a = NULL;
	struct cv_access_query q = { 0 };
	struct cv_access_review *res = NULL;
	char why[300], detail[300], when[40];
	int rc, overridden, tty = isatty(STDERR_FILENO);
	cv_err r, ar;

	if ((rc = parse(argc, argv, &o)) != CLI_OK)
		return rc < 0 ? CLI_OK : rc;
	if ((o.dir = cli_dir("access", o.dir)) == NULL)
		return CLI_USAGE;
	if ((rc = review_now(&q.now_us, &overridden)) != CLI_OK)
		return rc;
	q.window_days = (uint32_t)o.days;
	q.unused_days = (uint32_t)o.unused;
	q.all_roles = o.all != 0;
	q.progress = tty ? progress : NULL;
	if ((rc = cli_open("access", o.dir, &v, &a)) != CLI_OK)
		goto out;
	rc = CLI_FAIL;
	r = cli_access_review(v, a, &q, &res);
	if (tty && r == CV_OK && res->seconds >= 1.0)
		fprintf(stderr, "\r\033[K");
	snprintf(detail, sizeof detail, "%s", cv_err_detail());
	cv_scope_format_time(q.now_us, when, sizeof when);
	snprintf(why, sizeof why, "%zu user(s) with %s, %zu unused (no login "
	    "in %u days), reads over %u days, as of %s%s; %llu entries "
	    "scanned%s", res ? res->nusers : 0, o.all ? "any role" :
	    "read power", res ? res->nunused : 0, q.unused_days,
	    q.window_days, when, overridden ? " (" NOW_ENV ")" : "",
	    (unsigned long long)(res ? res->scanned : 0),
	    o.disable ? "; disabling the unused" : "");
	/* Write-ahead: the review is on record before anyone reads it, and
	 * before any account is disabled because of it. */
	if ((ar = cli_record(a, ACTION_REVIEW, r, r == CV_OK ? why : detail,
	    NULL, 0, 0)) != CV_OK) {
		cli_fail("access", ar);
		goto out;
	}
	if (r != CV_OK) {
		cv_err_set("%s", detail);
		cli_fail("access", r);
		goto out;
	}
	for (size_t i = 0; o.disable && i < res->nusers; i++) {
		struct cv_access_user *u = &res->users[i];
		if (!u->unused || u->disabled)
			continue;
		if ((r = disable_one(v, a, u, q.unused_days)) != CV_OK) {
			cli_fail("access", r);
			fprintf(stderr, "clearvault access: stopped at %s; the "
			    "accounts disabled before it stay disabled\n",
			    u->name);
			goto out;
		}
	}
	rc = print(&o, res);
 out:
	cv_access_review_free(res);
	cli_close(v, a);
	return rc;
}
