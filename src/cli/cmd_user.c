/* clearvault user: the people who may use the server. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <qrencode.h>

#include "../auth/users.h"
#include "cli.h"

static const char use[] =
    "clearvault user (add NAME --role ROLE --out FOLDER | list | "
    "disable NAME | enable NAME | revoke-cert NAME | budget NAME "
    "(--minute S/H --hour S/H --day S/H | --clear)) --dir DIR";

static const char help[] =
    "usage: clearvault user SUBCOMMAND --dir DIR ...\n\n"
    "  add NAME --role ROLE --out FOLDER\n"
    "        a client certificate and key signed by the vault CA\n"
    "        (FOLDER/NAME.crt, FOLDER/NAME.key mode 0600, and both as\n"
    "        FOLDER/NAME.p12 with its password in NAME.p12.pass) and a TOTP\n"
    "        secret, shown once as an otpauth:// URI and a QR code, and\n"
    "        written to FOLDER/NAME.otpauth (0600) for automation.\n"
    "        Roles: investigator adjudicator security_officer auditor admin\n"
    "  list                       users, roles, state, live certificates\n"
    "  disable NAME | enable NAME the user may not / may log in\n"
    "  revoke-cert NAME           revokes every certificate of NAME\n"
    "  budget NAME --minute S/H --hour S/H --day S/H\n"
    "        NAME's own read budgets instead of the role's: distinct\n"
    "        records per minute, hour and day, soft (a fresh TOTP to go on)\n"
    "        and hard (refused and locked), e.g. --minute 20/40; taken at\n"
    "        NAME's next login. --clear goes back to the role's.\n";

/* The QR code in the terminal, two modules per character cell. */
static void
print_qr(const char *text)
{
	QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
	int w, quiet = 2;

	if (q == NULL)
		return;
	w = q->width;
	for (int y = -quiet; y < w + quiet; y += 2) {
		for (int x = -quiet; x < w + quiet; x++) {
			int top = y >= 0 && y < w && x >= 0 && x < w &&
			    (q->data[y * w + x] & 1);
			int bot = y + 1 >= 0 && y + 1 < w && x >= 0 && x < w &&
			    (q->data[(y + 1) * w + x] & 1);
			/* Dark modules as spaces on a light background. */
			fputs(top && bot ? " " : top ? "\xe2\x96\x84" : bot ?
			    "\xe2\x96\x80" : "\xe2\x96\x88", stdout);
		}
		putchar('\n');
	}
	QRcode_free(q);
}

static int
write_out(const char *folder, const char *name, const char *ext,
    const void *data, size_t len, unsigned mode)
{
	char path[1200];
	cv_err r;

	if ((r = cv_path(path, sizeof path, "%s/%s.%s", folder, name, ext)) !=
	    CV_OK || (r = cv_file_create(path, data, len, mode)) != CV_OK) {
		cli_fail("user add", r);
		return CLI_FAIL;
	}
	return CLI_OK;
}

static int
print_user(void *ctx, const struct cv_store_user *u)
{
	struct cv_vault *v = ctx;
	int live = 0, all = 0;
	time_t t = (time_t)(u->created_us / 1000000);
	char when[32];

	if (cv_store_cert_count(cv_vault_store(v), u->name, &live, &all) !=
	    CV_OK)
		return 1;
	strftime(when, sizeof when, "%Y-%m-%d", gmtime(&t));
	printf("%-24s %-17s %-8s %d/%d certs  created %s\n", u->name, u->role,
	    u->disabled ? "disabled" : "active", live, all, when);
	return 0;
}

int
cmd_user(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_DIR, CLI_OPT_HELP,
		{ "role", required_argument, NULL, 'r' },
		{ "out", required_argument, NULL, 'o' },
		{ "minute", required_argument, NULL, 'm' },
		{ "hour", required_argument, NULL, 'H' },
		{ "day", required_argument, NULL, 'D' },
		{ "clear", no_argument, NULL, 'C' },
		{ 0, 0, 0, 0 }
	};
	uint32_t budget[CV_STORE_BUDGET_N];
	int nb = 0, clear = 0;
	const char *dir = NULL, *role = NULL, *out = NULL, *sub, *name = NULL;
	struct cv_vault *v = NULL;
	struct cv_audit *a = NULL;
	struct cv_user_issue iss;
	char action[32], reason[128] = "";
	struct stat st;
	int c, rc = CLI_FAIL, n = 0, ro = -1;
	cv_err r = CV_OK, ar;

	memset(&iss, 0, sizeof iss);
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return argc < 2 ? cli_usage("user", use, "which subcommand?") :
		    cli_help(help);
	sub = argv[1];
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'r': role = optarg; break;
		case 'o': out = optarg; break;
		case 'm': case 'H': case 'D': {
			int w = c == 'm' ? 0 : c == 'H' ? 1 : 2;
			unsigned long long so, ha;
			char extra;
			if (sscanf(optarg, "%llu/%llu%c", &so, &ha, &extra) != 2 ||
			    so > ha || ha > 100000000)
				return cli_usage("user", use, "budgets are SOFT/HARD "
				    "with SOFT <= HARD, e.g. 20/40");
			budget[w] = (uint32_t)so;
			budget[w + 3] = (uint32_t)ha;
			nb |= 1 << w;
			break;
		}
		case 'C': clear = 1; break;
		case 'h': return cli_help(help);
		default: return cli_usage("user", use, "bad option");
		}
	}
	if (strcmp(sub, "list") != 0) {
		if (argc - optind != 1)
			return cli_usage("user", use, "give one user name");
		name = argv[optind];
	} else if (optind != argc)
		return cli_usage("user", use, "unexpected argument");
	if (strcmp(sub, "add") && strcmp(sub, "list") &&
	    strcmp(sub, "disable") && strcmp(sub, "enable") &&
	    strcmp(sub, "revoke-cert") && strcmp(sub, "budget"))
		return cli_usage("user", use, "unknown subcommand '%s'", sub);
	if (!strcmp(sub, "budget") && (clear ? nb != 0 : nb != 7))
		return cli_usage("user", use, "budget wants --minute, --hour and "
		    "--day, or --clear");
	if (!strcmp(sub, "add")) {
		if (role == NULL || (ro = cv_role_parse(role)) < 0)
			return cli_usage("user", use, "--role must be one of "
			    "investigator adjudicator security_officer auditor "
			    "admin");
		if (out == NULL || stat(out, &st) != 0 || !S_ISDIR(st.st_mode))
			return cli_usage("user", use, "--out must be an "
			    "existing folder");
		if (!cv_auth_valid_name(name))
			return cli_usage("user", use, "user names are 1-64 of "
			    "a-z 0-9 . _ -");
	}
	if ((dir = cli_dir("user", dir)) == NULL)
		return CLI_USAGE;
	if (cli_open("user", dir, &v, &a) != CLI_OK)
		goto out;
	snprintf(action, sizeof action, "user.%s", sub);
	if (!strcmp(sub, "add")) {
		r = cv_auth_user_add(v, name, (enum cv_role)ro, &iss);
		snprintf(reason, sizeof reason, "user %s, role %s, certificate "
		    "%.16s", name, role, iss.cert.fingerprint);
	} else if (!strcmp(sub, "disable") || !strcmp(sub, "enable")) {
		r = cv_auth_user_disable(v, name, !strcmp(sub, "disable"));
		snprintf(reason, sizeof reason, "user %s", name);
	} else if (!strcmp(sub, "budget")) {
		struct cv_store_user u;
		if ((r = cv_store_user_get(cv_vault_store(v), name, &u)) ==
		    CV_OK)
			r = cv_store_budget_set(cv_vault_store(v), name,
			    clear ? NULL : budget);
		if (clear)
			snprintf(reason, sizeof reason, "user %s: the role's "
			    "budgets", name);
		else
			snprintf(reason, sizeof reason, "user %s: %u/%u a "
			    "minute, %u/%u an hour, %u/%u a day", name,
			    budget[0], budget[3], budget[1], budget[4],
			    budget[2], budget[5]);
	} else if (!strcmp(sub, "revoke-cert")) {
		r = cv_auth_user_revoke(v, name, &n);
		snprintf(reason, sizeof reason, "user %s, %d certificates "
		    "revoked", name, n);
	}
	/* User management is audited like everything else. */
	if ((ar = cli_record(a, action, r, reason[0] ? reason : NULL, NULL, 0,
	    0)) != CV_OK || r != CV_OK) {
		cli_fail("user", r != CV_OK ? r : ar);
		goto out;
	}
	if (!strcmp(sub, "list")) {
		if ((r = cv_store_user_list(cv_vault_store(v), print_user, v)) !=
		    CV_OK) {
			cli_fail("user list", r);
			goto out;
		}
	} else if (!strcmp(sub, "add")) {
		if (write_out(out, name, "crt", iss.cert.cert_pem.p,
		    iss.cert.cert_pem.len, 0644) != CLI_OK ||
		    write_out(out, name, "key", iss.cert.key_pem.p,
		    iss.cert.key_pem.len, 0600) != CLI_OK ||
		    write_out(out, name, "p12", iss.cert.p12.p,
		    iss.cert.p12.len, 0600) != CLI_OK ||
		    write_out(out, name, "p12.pass", iss.cert.p12_pass,
		    strlen(iss.cert.p12_pass), 0600) != CLI_OK ||
		    write_out(out, name, "otpauth", iss.otpauth,
		    strlen(iss.otpauth), 0600) != CLI_OK)
			goto out;
		printf("user %s (%s): certificate %s/%s.crt, key %s/%s.key, "
		    "PKCS#12 %s/%s.p12 (password in %s.p12.pass)\n"
		    "certificate fingerprint (SHA-256): %s\n\n"
		    "TOTP enrolment, shown once (also in %s/%s.otpauth):\n%s\n\n",
		    name, role, out, name, out, name, out, name, name,
		    iss.cert.fingerprint, out, name, iss.otpauth);
		if (isatty(STDOUT_FILENO))
			print_qr(iss.otpauth);
	} else
		fprintf(stderr, "clearvault user: %s\n", !strcmp(sub,
		    "revoke-cert") || !strcmp(sub, "budget") ? reason :
		    sub[0] == 'd' ? "disabled" : "enabled");
	rc = fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
 out:
	cv_user_issue_clear(&iss);
	cli_close(v, a);
	return rc;
}
