#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "../config/config.h"
#include "../core/core.h"
#include "../serve/syslog.h"
#include "../vault/vault.h"
#include "cli.h"

static const char use[] =
    "clearvault get --dir DIR ID [--section NAME]... [--compact]";

static const char help[] =
    "usage: clearvault get --dir DIR ID [--section NAME]... [--compact]\n\n"
    "Prints record ID as JSON: the keys and values as loaded, plus \"_meta\"\n"
    "(version, sections present). Only the requested sections are\n"
    "decrypted. Sections: identity contact history family foreign\n"
    "financial conduct biometrics adjudication.\n\n"
    "Reading a canary record raises a critical alert: a line of\n"
    "DIR/alerts.jsonl, syslog, and, if clearvault.conf names a collector\n"
    "(syslog_5424), an RFC 5424 message sent to it from this process.\n\n"
    "options:\n"
    "  -d, --dir DIR        the vault folder (or $CLEARVAULT_DIR)\n"
    "  -s, --section NAME   only this section (repeatable)\n"
    "  -c, --compact        one line instead of indented JSON\n"
    "  -h, --help           this text\n\n"
    "exit status: 0 found, 1 error (not found, shredded, HSM failure, ...)\n";

/*
 * Canaries are no one's business, on the command line too: whoever reads
 * one gets it (an operator holding the HSM may), and the security office
 * is told at once, as the server tells it (DIR/alerts.jsonl, syslog, and
 * the vault's syslog_5424 collector: sent from here, this process being
 * neither confined nor under a supervisor; a collector that cannot be
 * reached is said on stderr and does not fail the read).
 * INDEX: the read's own entry (not the log's last, which on a vault of
 * several nodes may be another's).
 */
static void
canary_alert(struct cv_vault *v, const char *id, uint64_t index)
{
	struct passwd *pw = getpwuid(geteuid());
	struct cv_config cfg;
	struct cv_syslog_target t;
	struct cv_syslog *sl = NULL;
	char **ids = NULL, path[1200];
	size_t n = 0, i;
	int fd = -1;
	struct cv_keyd_alert a = { .kind = "canary", .severity = "critical",
	    .user = pw ? pw->pw_name : "?", .detail = "a canary record was "
	    "read with clearvault get", .source = "cli",
	    .vault_id = cv_vault_id(v), .indices = &index, .n = 1 };

	if (cv_vault_canaries(v, &ids, &n) != CV_OK)
		n = 0;
	for (i = 0; i < n && strcmp(ids[i], id) != 0; i++)
		;
	free(ids);
	if (i == n)
		return;
	if (cv_path(path, sizeof path, "%s/alerts.jsonl", cv_vault_dir(v)) ==
	    CV_OK)
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
		    0600);
	if (cv_config_load(cv_vault_dir(v), &cfg) == CV_OK &&
	    cfg.syslog_5424[0] && cv_config_syslog_target(cfg.syslog_5424,
	    &t) == CV_OK && cv_syslog_new(&t, "clearvault get", &sl) == CV_OK)
		cv_keyd_alert_sink(cv_syslog_sink, sl);
	cv_keyd_alert_emit(fd, &a);
	cv_keyd_alert_sink(NULL, NULL);
	cv_syslog_free(sl);
	if (fd >= 0)
		close(fd);
}

int
cmd_get(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_DIR, CLI_OPT_HELP,
		{ "section", required_argument, NULL, 's' },
		{ "compact", no_argument, NULL, 'c' },
		{ 0, 0, 0, 0 }
	};
	const char *dir = NULL, *secs[CV_RECORD_NSECTIONS + 1] = { 0 };
	const char *id;
	struct cv_vault *v = NULL;
	struct cv_audit *a = NULL;
	struct cv_keyd *k = NULL;
	struct cv_keyd_client *kd = NULL;
	struct cv_audit_entry e = { 0 };
	uint64_t index = 0;	/* the read's entry in the log */
	struct cv_buf text = { 0 };
	json_t *rec = NULL;
	char *printed = NULL;
	char actor[64];
	struct cv_core_reader who = { .user = actor, .operator = 1 };
	struct cv_core_ask ask = { 0 };
	struct cv_core_pass *pass;
	enum cv_core_refusal why;
	size_t nsec = 0, i;
	unsigned mask = 0;
	int c, compact = 0, rc = CLI_FAIL;
	cv_err r, ar;

	while ((c = getopt_long(argc, argv, "d:s:ch", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 's':
			if (nsec == CV_RECORD_NSECTIONS)
				return cli_usage("get", use, "too many "
				    "--section");
			if (cv_record_section_index(optarg) < 0)
				return cli_usage("get", use, "no section "
				    "'%s'", optarg);
			secs[nsec++] = optarg;
			break;
		case 'c': compact = 1; break;
		case 'h': return cli_help(help);
		default: return cli_usage("get", use, "bad option");
		}
	}
	if (argc - optind != 1)
		return cli_usage("get", use, "give exactly one record id");
	if ((dir = cli_dir("get", dir)) == NULL)
		return CLI_USAGE;
	id = argv[optind];
	if (cli_open("get", dir, &v, &a) != CLI_OK ||
	    cli_keyd("get", v, a, &k, &kd) != CLI_OK)
		goto out;
	for (i = 0; i < nsec; i++)
		mask |= 1u << cv_record_section_index(secs[i]);
	if (mask == 0)
		mask = (1u << CV_RECORD_NSECTIONS) - 1;
	cli_actor(actor, sizeof actor, 0);
	/* Through the one read path (src/core), as the operator: keyd
	 * decrypts, makes the entry durable, and only then lets the text
	 * go. A record that cannot be read is refused before its entry says
	 * "allowed"; the refusal is an entry of its own. */
	ask.rid = id;
	ask.sections = mask;
	e.action = "get";
	e.source = "cli";
	if ((r = cv_core_admit(v, &who, &ask, NULL, &pass, &why)) == CV_OK &&
	    (r = cv_core_read_wait(kd, pass, &e, &index, &text)) != CV_OK) {
		if (r == CV_ERR_NOT_FOUND)
			cv_err_set("no record '%.64s'", id);
		else if (r == CV_ERR_SHREDDED)
			cv_err_set("record %s was shredded", id);
	}
	if (r != CV_OK) {
		if (r != CV_ERR_IO && r != CV_ERR_HSM &&
		    (ar = cli_record(a, "get", r, cv_err_detail(), &id, 1, 0)) !=
		    CV_OK) {
			cli_fail("get", ar);
			goto out;
		}
		cli_fail("get", r);
		goto out;
	}
	if ((r = cv_record_load_stored((const char *)text.p, text.len, id,
	    &rec)) != CV_OK) {
		cli_fail("get", r);
		goto out;
	}
	canary_alert(v, id, index);
	/* Whole or nothing on stdout: formatted in memory first, so that
	 * running out of memory half-way prints no half record. */
	if ((printed = json_dumps(rec, compact ? JSON_COMPACT :
	    JSON_INDENT(2))) == NULL) {
		cli_fail("get", cv_fail(CV_ERR_NOMEM, "out of memory printing "
		    "record %s", id));
		goto out;
	}
	if (fputs(printed, stdout) == EOF || fputc('\n', stdout) == EOF ||
	    fflush(stdout) != 0) {
		fprintf(stderr, "clearvault get: cannot write output\n");
		goto out;
	}
	rc = CLI_OK;
 out:
	if (printed) {
		sodium_memzero(printed, strlen(printed));
		free(printed);
	}
	json_decref(rec);
	cv_buf_free(&text);
	cli_keyd_close(k, kd);
	cli_close(v, a);
	return rc;
}
