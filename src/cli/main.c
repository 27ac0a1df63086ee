/* clearvault: one command, subcommands dispatched through a table. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <jansson.h>

#include "cli.h"


static const struct cli_cmd cmds[] = {
	{ "init", cmd_init, "create a vault (and its HSM keys)" },
	{ "gen", cmd_gen, "write synthetic records as JSON Lines" },
	{ "load", cmd_load, "validate, encrypt and store records" },
	{ "get", cmd_get, "print one record, or some of its sections" },
	{ "find", cmd_find, "find record ids by SSN, or last name and birth "
	    "date" },
	{ "rotate", cmd_rotate, "new keyring key; rewrap every data key" },
	{ "shred", cmd_shred, "destroy one record's data key for good" },
	{ "versions", cmd_versions, "a record's kept earlier versions; restore "
	    "one" },
	{ "backup", cmd_backup, "a consistent copy that holds no usable key" },
	{ "restore", cmd_restore, "a backup as a new vault with keys of its "
	    "own" },
	{ "rebind", cmd_rebind, "a vault moved to another folder takes its "
	    "keys along" },
	{ "serve", cmd_serve, "the HTTPS API (mutual TLS, TOTP login)" },
	{ "user", cmd_user, "propose, list, disable users; revoke their "
	    "certificates" },
	{ "enrol", cmd_enrol, "a new user's key, certificate and TOTP, made on "
	    "the user's side" },
	{ "access", cmd_access, "review who can read records; disable unused" },
#ifdef CV_TEST_HOOKS
	{ "test-secrets", cmd_test_secrets, "(test builds) print the keys" },
#endif
	{ "ca-cert", cmd_ca_cert, "print the vault CA certificate" },
	{ "canaries", cmd_canaries, "list the canary (decoy) record ids" },
	{ "scope", cmd_scope, "which records' data left, to whom, when" },
	{ "evidence", cmd_evidence, "evidence for partners: export, verify" },
	{ "drill", cmd_drill, "attack drills against a fresh vault and server" },
	{ "witness", cmd_witness, "cosign other logs' checkpoints (C2SP "
	    "tlog-witness)" },
	{ "audit", cmd_audit, "the tamper-evident log: checkpoints, proofs, "
	    "verify" },
};
#define NCMDS (sizeof cmds / sizeof cmds[0])

static void
usage(FILE *f)
{
	fprintf(f, "usage: clearvault COMMAND [OPTIONS]\n\n"
	    "An encrypted personnel-records vault with HSM-held keys.\n\n"
	    "commands:\n");
	for (size_t i = 0; i < NCMDS; i++)
		fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\nEvery command takes --help. The vault folder is --dir DIR "
	    "or $CLEARVAULT_DIR.\n");
}

const char *
cli_dir(const char *cmd, const char *opt)
{
	const char *d = opt ? opt : getenv("CLEARVAULT_DIR");

	if (d == NULL || *d == '\0') {
		fprintf(stderr, "clearvault %s: no vault folder: give --dir DIR "
		    "or set CLEARVAULT_DIR\n", cmd);
		return NULL;
	}
	return d;
}

int
cli_dir_only(const char *cmd, int argc, char **argv, const char *use,
    const char *help, const char **dir)
{
	static const struct option opts[] = {
		CLI_OPT_DIR, CLI_OPT_HELP, { 0, 0, 0, 0 }
	};
	const char *d = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': d = optarg; break;
		case 'h': return cli_help(help);
		default: return cli_usage(cmd, use, "bad option");
		}
	}
	if (optind != argc)
		return cli_usage(cmd, use, "unexpected argument '%s'",
		    argv[optind]);
	if ((*dir = cli_dir(cmd, d)) == NULL)
		return CLI_USAGE;
	return -1;
}

int
cli_fail(const char *cmd, cv_err r)
{
	const char *d = cv_err_detail();

	if (*d)
		fprintf(stderr, "clearvault %s: %s: %s\n", cmd,
		    cv_strerror(r), d);
	else
		fprintf(stderr, "clearvault %s: %s\n", cmd, cv_strerror(r));
	return CLI_FAIL;
}

int
cli_usage(const char *cmd, const char *use, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "clearvault %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: %s\n(see clearvault %s --help)\n", use, cmd);
	return CLI_USAGE;
}

int
cli_help(const char *help)
{
	fputs(help, stdout);
	return CLI_OK;
}

unsigned long long
cli_number(const char *s, int *ok)
{
	char *end;
	unsigned long long v;

	*ok = 0;
	if (s == NULL || *s < '0' || *s > '9')
		return 0;
	v = strtoull(s, &end, 10);
	if (*end != '\0')
		return 0;
	*ok = 1;
	return v;
}

#ifndef CV_TEST_HOOKS
static const char *const test_only[] = { "CLEARVAULT_FAULT",
	"CLEARVAULT_STEP_UP_WAIT_S", "CLEARVAULT_ACCESS_NOW",
	"CLEARVAULT_TEST_EXEC", "CLEARVAULT_TEST_NO_SANDBOX" };
#endif

int
main(int argc, char **argv)
{
	struct rlimit no_core = { 0, 0 };

	/* Key material and record plaintext pass through this process:
	 * never into a core file, never readable by a ptrace'ing peer. */
	(void)setrlimit(RLIMIT_CORE, &no_core);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	umask(077);
	/* jansson's strings carry session tokens, TOTP URIs and record
	 * text: wiped when jansson lets go of them (before any JSON). */
	json_set_alloc_funcs(cv_json_malloc, cv_free_wiped);

#ifndef CV_TEST_HOOKS
	/* Test knobs do nothing here; one set by mistake (or by someone
	 * hoping it does) is refused rather than silently ignored. */
	for (size_t i = 0; i < sizeof test_only / sizeof test_only[0]; i++)
		if (getenv(test_only[i]) != NULL) {
			fprintf(stderr, "clearvault: %s is a test hook, not in "
			    "this build; unset it\n", test_only[i]);
			return CLI_USAGE;
		}
#endif
	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return CLI_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("clearvault %s\n", CV_VERSION);
		return CLI_OK;
	}
	for (size_t i = 0; i < NCMDS; i++) {
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].run(argc - 1, argv + 1);
	}
	fprintf(stderr, "clearvault: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return CLI_USAGE;
}
