#include <stdio.h>

#include "../vault/vault.h"
#include "cli.h"

static const char use[] =
    "clearvault find --dir DIR (--ssn SSN | --name LAST --dob YYYY-MM-DD)";

static const char help[] =
    "usage: clearvault find --dir DIR (--ssn SSN | --name LAST --dob "
    "YYYY-MM-DD)\n\n"
    "Prints the ids of matching records, one per line, found through the\n"
    "blind indexes (keyed hashes) alone: nothing is decrypted. Names match\n"
    "case-insensitively (ASCII) with blanks folded. No match: no output,\n"
    "exit 0.\n\n"
    "options:\n"
    "  -d, --dir DIR          the vault folder (or $CLEARVAULT_DIR)\n"
    "      --ssn NNN-NN-NNNN  by Social Security number\n"
    "      --name LAST        by last name, with --dob\n"
    "      --dob YYYY-MM-DD   birth date\n"
    "  -h, --help             this text\n";

static int
print_id(void *ctx, const char *id)
{
	(void)ctx;
	return puts(id) == EOF;
}

int
cmd_find(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_DIR, CLI_OPT_HELP,
		{ "ssn", required_argument, NULL, 's' },
		{ "name", required_argument, NULL, 'n' },
		{ "dob", required_argument, NULL, 'b' },
		{ 0, 0, 0, 0 }
	};
	const char *dir = NULL, *ssn = NULL, *name = NULL, *dob = NULL;
	struct cv_vault *v = NULL;
	int c, rc = CLI_FAIL;
	cv_err r;

	while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 's': ssn = optarg; break;
		case 'n': name = optarg; break;
		case 'b': dob = optarg; break;
		case 'h': return cli_help(help);
		default: return cli_usage("find", use, "bad option");
		}
	}
	if (optind != argc)
		return cli_usage("find", use, "unexpected argument '%s'",
		    argv[optind]);
	if (!ssn == !(name || dob))
		return cli_usage("find", use, "give --ssn, or --name with "
		    "--dob");
	if (!ssn && !(name && dob))
		return cli_usage("find", use, "--name and --dob go together");
	if (ssn && !cv_record_valid_ssn(ssn))
		return cli_usage("find", use, "--ssn: not an SSN "
		    "(NNN-NN-NNNN)");
	if (dob && !cv_record_valid_date(dob))
		return cli_usage("find", use, "--dob: not a date "
		    "(YYYY-MM-DD)");
	if ((dir = cli_dir("find", dir)) == NULL)
		return CLI_USAGE;
	if ((r = cv_vault_open(dir, &v)) != CV_OK) {
		cli_fail("find", r);
		goto out;
	}
	r = ssn ? cv_vault_find_ssn(v, ssn, print_id, NULL) :
	    cv_vault_find_name(v, name, dob, print_id, NULL);
	if (r != CV_OK) {
		cli_fail("find", r);
		goto out;
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "clearvault find: cannot write output\n");
		goto out;
	}
	rc = CLI_OK;
 out:
	cv_vault_close(v);
	return rc;
}
