#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../evidence/evidence.h"
#include "cli.h"

static const char use[] =
    "clearvault evidence export --dir DIR --incident ID (--principal NAME | "
    "--cert FINGERPRINT | --session ID | --address IP) [--from T] [--to T] "
    "--out FILE\n"
    "       clearvault evidence verify FILE --pubkey KEY";

static const char help[] =
    "usage: clearvault evidence export --dir DIR --incident ID SUBJECT\n"
    "           [--from T] [--to T] --out FILE\n"
    "       clearvault evidence verify FILE --pubkey KEY\n\n"
    "export writes, for a partner, every audit entry naming the subject in\n"
    "the window (logins and refusals too), each with its inclusion proof,\n"
    "the signed checkpoint they prove against, the log's public key, and a\n"
    "STIX 2.1 bundle (identity, incident, indicators for the certificates,\n"
    "addresses and users involved, observed-data citing the entries,\n"
    "relationships). verify checks such a file offline, with nothing but\n"
    "the key (`clearvault audit pubkey` prints it; KEY may be the key or a\n"
    "file holding it): signature, every proof, that every entry names the\n"
    "subject, and the STIX rules.\n\n"
    "subject (one):\n"
    "      --principal NAME     a server user, or an OS user of the CLI\n"
    "      --cert FINGERPRINT   a client certificate's SHA-256 fingerprint\n"
    "      --session ID         a session id (from the audit log)\n"
    "      --address IP         a source address\n"
    "options:\n"
    "  -d, --dir DIR            the vault folder (or $CLEARVAULT_DIR)\n"
    "      --incident ID        the incident's name (1-200 bytes)\n"
    "      --from T, --to T     the window, RFC 3339 UTC or YYYY-MM-DD\n"
    "                           (from inclusive, to exclusive)\n"
    "  -o, --out FILE           where the evidence goes (0600)\n"
    "      --pubkey KEY         verify: the log's verifier key\n"
    "  -h, --help               this text\n";

static int
verify(const char *file, const char *key)
{
	char *text = NULL, *kt = NULL;
	size_t len, kl;
	struct cv_evidence_report rep;
	cv_err r;

	/* A key, or a file holding one. */
	if (cv_file_read(key, 4096, &kt, &kl) == CV_OK) {
		while (kl && (kt[kl - 1] == '\n' || kt[kl - 1] == '\r'))
			kt[--kl] = '\0';
		key = kt;
	}
	if ((r = cv_file_read(file, CV_EVIDENCE_MAX_BYTES, &text, &len)) !=
	    CV_OK) {
		free(kt);
		return cli_fail("evidence", r);
	}
	r = cv_evidence_verify(text, len, key, &rep);
	free(text);
	free(kt);
	if (r != CV_OK) {
		fprintf(stderr, "clearvault evidence: NOT VERIFIED: %s\n",
		    rep.what);
		return CLI_FAIL;
	}
	printf("verified: %llu audit entries proved against a checkpoint of "
	    "%llu entries signed by the given key; %llu STIX objects follow "
	    "the rules\n", (unsigned long long)rep.entries,
	    (unsigned long long)rep.size, (unsigned long long)rep.objects);
	return fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
}

int
cmd_evidence(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_DIR, CLI_OPT_HELP,
		{ "incident", required_argument, NULL, 'i' },
		CLI_OPT_SUBJECT,
		{ "out", required_argument, NULL, 'o' },
		{ "pubkey", required_argument, NULL, 'k' },
		{ 0, 0, 0, 0 }
	};
	struct cv_scope_query q = { .from_us = 0, .to_us = INT64_MAX,
	    .first = 0, .last = UINT64_MAX };
	const char *dir = NULL, *incident = NULL, *outp = NULL, *key = NULL;
	const char *sub;
	struct cv_vault *v = NULL;
	struct cv_audit *a = NULL;
	json_t *ev = NULL;
	char reason[300], *text = NULL;
	int c, nsub = 0, rc = CLI_FAIL;
	cv_err r, ar;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return argc < 2 ? cli_usage("evidence", use, "export or "
		    "verify?") : cli_help(help);
	sub = argv[1];
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "d:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'i': incident = optarg; break;
		case 'P': case 'C': case 'S': case 'A':
			q.kind = (enum cv_scope_kind)cli_subject_kind(c);
			q.subject = optarg;
			nsub++;
			break;
		case 'f': case 't':
			if (cv_scope_parse_time(optarg, c == 'f' ? &q.from_us :
			    &q.to_us) != CV_OK)
				return cli_usage("evidence", use, "bad time "
				    "'%s' (RFC 3339 UTC or YYYY-MM-DD)", optarg);
			break;
		case 'o': outp = optarg; break;
		case 'k': key = optarg; break;
		case 'h': return cli_help(help);
		default: return cli_usage("evidence", use, "bad option");
		}
	}
	if (!strcmp(sub, "verify")) {
		if (argc - optind != 1 || key == NULL)
			return cli_usage("evidence", use, "verify wants FILE "
			    "and --pubkey KEY");
		return verify(argv[optind], key);
	}
	if (strcmp(sub, "export") != 0)
		return cli_usage("evidence", use, "unknown subcommand '%s'", sub);
	if (optind != argc)
		return cli_usage("evidence", use, "unexpected argument '%s'",
		    argv[optind]);
	if (nsub != 1 || incident == NULL || outp == NULL)
		return cli_usage("evidence", use, "export wants --incident, "
		    "--out and exactly one subject");
	if (q.from_us >= q.to_us)
		return cli_usage("evidence", use, "--from must be before --to");
	if ((dir = cli_dir("evidence", dir)) == NULL)
		return CLI_USAGE;
	if (cli_open("evidence", dir, &v, &a) != CLI_OK)
		goto out;
	r = cv_evidence_export(a, cv_vault_id(v), incident, &q, &ev);
	if (r == CV_OK && (text = json_dumps(ev, JSON_INDENT(1))) == NULL)
		r = CV_ERR_NOMEM;
	if (r == CV_OK)
		r = cv_file_create(outp, text, strlen(text), 0600);
	/* Which subject was exported is the log's business; the entries
	 * themselves are already in it. */
	snprintf(reason, sizeof reason, "incident %.100s: %s %.64s, %zu "
	    "entries", incident, cv_scope_kind_name(q.kind), q.subject,
	    ev ? json_array_size(json_object_get(ev, "entries")) : 0);
	if ((ar = cli_record(a, "evidence.export", r, reason, NULL, 0, 0)) !=
	    CV_OK || r != CV_OK) {
		if (r == CV_ERR_EXISTS)
			cv_err_set("%s exists; not replaced", outp);
		cli_fail("evidence", r != CV_OK ? r : ar);
		goto out;
	}
	fprintf(stderr, "clearvault evidence: %zu entries, proved against a "
	    "checkpoint of %lld, in %s\n", json_array_size(json_object_get(ev,
	    "entries")), (long long)json_integer_value(json_object_get(
	    json_object_get(ev, "log"), "size")), outp);
	rc = CLI_OK;
 out:
	free(text);
	json_decref(ev);
	cli_close(v, a);
	return rc;
}
