/* clearvault scope: whose records left, to whom, when, which sections. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../scope/scope.h"
#include "cli.h"

static const char use[] =
    "clearvault scope --dir DIR (--principal NAME | --cert FINGERPRINT | "
    "--session ID | --address IP) [--from T] [--to T] "
    "[--format table|json|csv] [--no-notify]";

static const char help[] =
    "usage: clearvault scope --dir DIR (--principal NAME | --cert FINGERPRINT\n"
    "           | --session ID | --address IP) [--from T] [--to T]\n"
    "           [--format table|json|csv] [--no-notify]\n\n"
    "Breach scoping from the audit log: every record whose data was returned\n"
    "to one subject in a time window, with the sections returned, the first\n"
    "and last time, and the people to notify (names and contact details).\n\n"
    "The log is verified first (as 'audit verify' does); if it does not\n"
    "verify, nothing is listed and the exit status is 1: an answer from an\n"
    "altered log could be missing records.\n\n"
    "Data returned means an entry with outcome allowed and sections returned,\n"
    "of a read: the server's records.get, the command line's get, and\n"
    "scope.notify (the names and contacts an earlier scope decrypted).\n"
    "Searches (records.search, find) return record ids only, never data,\n"
    "and are not counted; neither are denied or failed reads.\n\n"
    "The subject matches the entry field exactly (byte for byte):\n"
    "  --principal NAME    the actor: a server user, or the OS user of a\n"
    "                      command-line get\n"
    "  --cert FINGERPRINT  client certificate SHA-256 fingerprint (hex, as in\n"
    "                      'user list' and 'audit tail --json')\n"
    "  --session ID        server session id (the public one in the log)\n"
    "  --address IP        source address, e.g. 127.0.0.1\n\n"
    "options:\n"
    "  -d, --dir DIR       the vault folder (or $CLEARVAULT_DIR)\n"
    "      --from T        entries at or after T (RFC 3339 UTC,\n"
    "                      2026-11-25T10:00:00Z, or a date: its midnight UTC)\n"
    "      --to T          entries before T\n"
    "      --format F      table (default: aligned columns and a totals\n"
    "                      line), csv (a header row, a row per record) or\n"
    "                      json ({\"records\": [{\"id\", \"sections\",\n"
    "                      \"first_read\", \"last_read\"}], \"notify\",\n"
    "                      \"totals\", \"subject\", \"window\"})\n"
    "      --no-notify     do not decrypt names and contact details\n"
    "  -h, --help          this text\n\n"
    "Decrypting names and contacts (identity and contact sections only) is\n"
    "itself audited: besides its own entry (action scope, naming only the\n"
    "kind of subject), scope appends a scope.notify entry listing the record\n"
    "ids it decrypted, durable before anything is printed. A shredded record\n"
    "is listed with status \"shredded\" and no details.\n\n"
    "exit status: 0 done (also when nothing was returned), 1 error (the log\n"
    "does not verify, HSM failure, ...), 2 usage error\n";

struct opts {
	const char *dir, *subject;
	enum cv_scope_kind kind;
	enum cv_scope_format format;
	int64_t from, to;
	int notify;
};

static int
parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		CLI_OPT_DIR, CLI_OPT_HELP,
		CLI_OPT_SUBJECT,
		{ "format", required_argument, NULL, 'F' },
		{ "no-notify", no_argument, NULL, 'N' },
		{ 0, 0, 0, 0 }
	};
	const char *from = NULL, *to = NULL;
	int c, nsubj = 0;

	memset(o, 0, sizeof *o);
	o->format = CV_SCOPE_TABLE;
	o->from = INT64_MIN;
	o->to = INT64_MAX;
	o->notify = 1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "d:h", lo, NULL)) != -1) {
		switch (c) {
		case 'd': o->dir = optarg; break;
		case 'P': case 'C': case 'S': case 'A':
			o->kind = (enum cv_scope_kind)cli_subject_kind(c);
			o->subject = optarg;
			nsubj++;
			break;
		case 'f': from = optarg; break;
		case 't': to = optarg; break;
		case 'F':
			if (!strcmp(optarg, "table"))
				o->format = CV_SCOPE_TABLE;
			else if (!strcmp(optarg, "json"))
				o->format = CV_SCOPE_JSON;
			else if (!strcmp(optarg, "csv"))
				o->format = CV_SCOPE_CSV;
			else
				return cli_usage("scope", use, "no format "
				    "'%.40s' (table, json or csv)", optarg);
			break;
		case 'N': o->notify = 0; break;
		case 'h': cli_help(help); return -1;
		default: return cli_usage("scope", use, "bad option");
		}
	}
	if (optind != argc)
		return cli_usage("scope", use, "unexpected argument '%.40s'",
		    argv[optind]);
	if (nsubj != 1)
		return cli_usage("scope", use, "give exactly one of --principal, "
		    "--cert, --session, --address");
	if (*o->subject == '\0' || strlen(o->subject) > 1024)
		return cli_usage("scope", use, "the subject must be 1 to 1024 "
		    "bytes");
	if ((from && cv_scope_parse_time(from, &o->from) != CV_OK) ||
	    (to && cv_scope_parse_time(to, &o->to) != CV_OK))
		return cli_usage("scope", use, "%s", cv_err_detail());
	if (o->from >= o->to)
		return cli_usage("scope", use, "--from must be before --to");
	return CLI_OK;
}

static void
progress(void *ctx, uint64_t done, uint64_t total)
{
	(void)ctx;
	fprintf(stderr, "\rscope: %llu of %llu entries scanned (%.0f%%)\033[K",
	    (unsigned long long)done, (unsigned long long)total,
	    total ? 100.0 * (double)done / (double)total : 100.0);
}

/*
 * Verifies the log as `audit verify` does, read-only: a log that fails is
 * evidence and is left exactly as it is (no repair, no entry appended).
 * *entries gets the number verified: the scan covers those only.
 */
static int
verify(struct cv_vault *v, int tty, uint64_t *entries)
{
	struct cv_audit *ro = NULL;
	struct cv_audit_report rep;
	int rc = CLI_FAIL;
	cv_err r;

	if (tty)
		fprintf(stderr, "scope: verifying the audit log...");
	if ((r = cv_core_audit_open(v, 1, &ro)) != CV_OK) {
		if (tty)
			fputc('\n', stderr);
		return cli_fail("scope", r);
	}
	r = cv_audit_verify(ro, NULL, NULL, 0, &rep);
	if (tty)
		fprintf(stderr, "\r\033[K");
	if (r == CV_ERR_AUTH) {
		fprintf(stderr, "clearvault scope: the audit log does not verify "
		    "(entry %llu: %s); refusing to scope from a log that may "
		    "have been altered: run 'clearvault audit verify'\n",
		    (unsigned long long)rep.bad_index, rep.what);
		goto out;
	}
	if (r != CV_OK) {
		cli_fail("scope", r);
		goto out;
	}
	if (rep.note[0])
		fprintf(stderr, "clearvault scope: note: %s\n", rep.note);
	*entries = rep.entries;
	rc = CLI_OK;
 out:
	cv_audit_close(ro);
	return rc;
}

int
cmd_scope(int argc, char **argv)
{
	struct opts o;
	struct cv_vault *v = NULL;
	struct cv_audit *a = NULL;
	struct cv_scope_query q = { 0 };
	struct cv_scope_result *res = NULL;
	json_t *notify = NULL;
	struct cv_keyd *k = NULL;
	struct cv_keyd_client *kd = NULL;
	size_t nread = 0;
	uint64_t verified = 0;
	char why[200], t1[40], t2[40], detail[300], actor[64];
	int rc, tty = isatty(STDERR_FILENO);
	cv_err r, ar;

	if ((rc = parse(argc, argv, &o)) != CLI_OK)
		return rc < 0 ? CLI_OK : rc;
	if ((o.dir = cli_dir("scope", o.dir)) == NULL)
		return CLI_USAGE;
	rc = CLI_FAIL;
	if ((r = cv_vault_open(o.dir, &v)) != CV_OK)
		return cli_fail("scope", r);
	/* PostgreSQL: the read-write open moves what nodes staged into
	 * the log (cv_audit_settle) before the verify, so that the log
	 * scoped holds every entry made durable before the scope began.
	 * (Files: opened after, so a damaged log is refused untouched.) */
	if (cv_vault_db(v) && (r = cv_core_audit_open(v, 0, &a)) != CV_OK) {
		cli_fail("scope", r);
		goto out;
	}
	if (verify(v, tty, &verified) != CLI_OK)
		goto out;
	if (a == NULL && (r = cv_core_audit_open(v, 0, &a)) != CV_OK) {
		cli_fail("scope", r);
		goto out;
	}
	q.kind = o.kind;
	q.subject = o.subject;
	q.from_us = o.from;
	q.to_us = o.to;
	q.first = 0;
	q.last = verified;
	q.progress = tty ? progress : NULL;
	r = cv_scope_run(a, &q, &res);
	if (tty)
		fprintf(stderr, "\r\033[K");
	/* The subject itself may be personal (an address): only its kind. */
	cv_scope_format_time(o.from, t1, sizeof t1);
	cv_scope_format_time(o.to, t2, sizeof t2);
	snprintf(why, sizeof why, "by %s, %s to %s: %zu record(s) found in "
	    "%llu entries", cv_scope_kind_name(o.kind),
	    o.from == INT64_MIN ? "start" : t1, o.to == INT64_MAX ? "end" : t2,
	    res ? res->nrecords : 0,
	    (unsigned long long)(res ? res->totals.scanned : 0));
	snprintf(detail, sizeof detail, "%s", cv_err_detail());
	/* Write-ahead: the scope's entry, then each scope.notify entry, is
	 * durable before keyd decrypts a name under it. */
	ar = cli_record(a, "scope", r, r == CV_OK ? why : detail, NULL, 0, 0);
	if (ar == CV_OK && r == CV_OK && o.notify) {
		cli_actor(actor, sizeof actor, 0);
		if (cli_keyd("scope", v, a, &k, &kd) != CLI_OK)
			goto out;
		r = cv_scope_notify(v, cv_vault_store(v), kd, actor, res,
		    &notify, &nread);
		snprintf(detail, sizeof detail, "%s", cv_err_detail());
	}
	if (ar != CV_OK) {
		cli_fail("scope", ar);
		goto out;
	}
	if (r != CV_OK) {
		cv_err_set("%s", detail);
		cli_fail("scope", r);
		goto out;
	}
	if ((r = cv_scope_print(stdout, o.format, &q, res, notify)) != CV_OK) {
		cli_fail("scope", r);
		goto out;
	}
	rc = CLI_OK;
 out:
	json_decref(notify);
	cv_scope_result_free(res);
	cli_keyd_close(k, kd);
	cli_close(v, a);
	return rc;
}
