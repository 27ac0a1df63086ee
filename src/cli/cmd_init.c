#include <stdio.h>
#include <string.h>

#include "../auth/users.h"
#include "../store/store.h"
#include "cli.h"

static const char use[] = "clearvault init --dir DIR [--db URI] "
    "[--pkcs11-module PATH --token LABEL --pin-file FILE] [--canaries N] "
    "[--officer NAME --officer NAME [--admin NAME]...]";

static const char help[] =
    "usage: clearvault init --dir DIR [--db URI] [--pkcs11-module PATH "
    "--token LABEL\n           --pin-file FILE] [--canaries N]\n"
    "           [--officer NAME --officer NAME [--admin NAME]...]\n\n"
    "Creates a vault in DIR (which must not exist, or be empty).\n\n"
    "Nothing that gives anyone power to read can happen with fewer than two\n"
    "security officers (every grant needs a second person), so init can\n"
    "create the first two, and administrators, at once: their accounts wait\n"
    "for enrolment, and a one-time enrolment code for each is printed, to\n"
    "hand to the person (who runs `clearvault enrol`). Later accounts are\n"
    "proposals that an officer approves.\n\n"
    "By default the root keys live in a SoftHSM2 token private to the vault\n"
    "(DIR/token), with a random user PIN in DIR/token/pin (mode 0600). That\n"
    "is the development default: whoever can read DIR/token can use the\n"
    "token. With --pkcs11-module, --token and --pin-file, an existing\n"
    "PKCS#11 token (a real HSM) holds the root keys instead.\n\n"
    "By default the records are in DIR/vault.db (SQLite). With --db, they\n"
    "are in a PostgreSQL database, which must exist and be empty, named by\n"
    "a libpq URI that clearvault.conf keeps (db = URI) for every later\n"
    "command: postgresql:///NAME?host=/SOCKET/DIR (a Unix socket, peer\n"
    "authentication) or postgresql://HOST/NAME?sslmode=verify-full&\n"
    "sslcert=...&sslkey=...&sslrootcert=... (TLS, a client certificate).\n"
    "A password in it is refused. The audit log, keys and token binding\n"
    "stay in DIR.\n\n"
    "options:\n"
    "  -d, --dir DIR            the vault folder (or $CLEARVAULT_DIR)\n"
    "      --db URI             the records in this PostgreSQL database\n"
    "      --pkcs11-module PATH PKCS#11 module of an existing token\n"
    "      --token LABEL        that token's label\n"
    "      --pin-file FILE      file holding the token's user PIN (0600)\n"
    "      --canaries N         the fewest canary records (decoys) loads\n"
    "                           keep in the vault (default 50)\n"
    "      --officer NAME       a first security officer (twice, or none)\n"
    "      --admin NAME         a first administrator (repeatable)\n"
    "  -h, --help               this text\n";

int
cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_DIR, CLI_OPT_HELP,
		{ "pkcs11-module", required_argument, NULL, 'm' },
		{ "token", required_argument, NULL, 't' },
		{ "pin-file", required_argument, NULL, 'p' },
		{ "canaries", required_argument, NULL, 'c' },
		{ "db", required_argument, NULL, 'D' },
		{ "officer", required_argument, NULL, 'O' },
		{ "admin", required_argument, NULL, 'A' },
		{ 0, 0, 0, 0 }
	};
	const char *officers[2], *admins[8];
	size_t nofficers = 0, nadmins = 0;
	struct cv_vault_init_opts o = { .canaries = -1 };
	struct cv_vault *v = NULL;
	struct cv_audit *a = NULL;
	struct cv_buf note = { 0 };
	const char *dir = NULL;
	cv_err r;
	int c;

	while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'm': o.pkcs11_module = optarg; break;
		case 't': o.token_label = optarg; break;
		case 'p': o.pin_file = optarg; break;
		case 'D': o.db = optarg; break;
		case 'c': {
			int ok;
			o.canaries = (int64_t)cli_number(optarg, &ok);
			if (!ok || o.canaries > 1000000)
				return cli_usage("init", use, "bad --canaries");
			break;
		}
		case 'O': case 'A':
			if (!cv_auth_valid_name(optarg))
				return cli_usage("init", use, "user names are "
				    "1-64 of a-z 0-9 . _ -");
			if (c == 'O' ? nofficers == 2 : nadmins == 8)
				return cli_usage("init", use, "two officers and "
				    "eight administrators at most");
			if (c == 'O')
				officers[nofficers++] = optarg;
			else
				admins[nadmins++] = optarg;
			break;
		case 'h': return cli_help(help);
		default: return cli_usage("init", use, "bad option");
		}
	}
	if (optind != argc)
		return cli_usage("init", use, "unexpected argument '%s'",
		    argv[optind]);
	if ((o.pkcs11_module || o.token_label || o.pin_file) &&
	    !(o.pkcs11_module && o.token_label && o.pin_file))
		return cli_usage("init", use, "--pkcs11-module, --token and "
		    "--pin-file go together");
	if (nofficers == 1 || (nofficers == 2 &&
	    !strcmp(officers[0], officers[1])))
		return cli_usage("init", use, "two different officers, or none");
	if (o.db && !cv_store_is_url(o.db))
		return cli_usage("init", use, "--db takes a postgresql:// URI");
	if ((dir = cli_dir("init", dir)) == NULL)
		return CLI_USAGE;
	if ((r = cv_vault_init(dir, &o)) != CV_OK)
		return cli_fail("init", r);
	/* The log's first entry is the vault's creation. */
	if ((r = cv_audit_create(dir, o.db)) != CV_OK)
		return cli_fail("init", r);
	if (cli_open("init", dir, &v, &a) != CLI_OK)
		return CLI_FAIL;
	if ((r = cli_record(a, "init", CV_OK, o.pkcs11_module ?
	    "keys in an existing PKCS#11 token" : "keys in a private SoftHSM2 "
	    "token", NULL, 0, 0)) != CV_OK ||
	    (r = cv_audit_checkpoint(a, &note)) != CV_OK) {
		cv_buf_free(&note);
		cli_close(v, a);
		return cli_fail("init", r);
	}
	cv_buf_free(&note);
	/* Administrators first: once two officers exist the bootstrap is
	 * closed. */
	for (size_t i = 0; i < nadmins + nofficers; i++) {
		int admin = i < nadmins;
		if (cli_user_bootstrap(v, a, admin ? admins[i] :
		    officers[i - nadmins], admin ? CV_ROLE_ADMIN :
		    CV_ROLE_SECURITY_OFFICER) != CLI_OK) {
			cli_close(v, a);
			return CLI_FAIL;
		}
	}
	cli_close(v, a);
	fprintf(stderr, "clearvault init: created vault %s (%s%s)\n", dir,
	    o.db ? "records in PostgreSQL, " : "",
	    o.pkcs11_module ? "keys in the given PKCS#11 token" :
	    "keys in a private SoftHSM2 token");
	return CLI_OK;
}
