#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

struct ids {
	char **v;
	size_t n, cap;
};

static int
collect(void *ctx, const char *id)
{
	struct ids *l = ctx;
	char **nv;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		if ((nv = realloc(l->v, l->cap * sizeof *nv)) == NULL)
			return 1;
		l->v = nv;
	}
	return (l->v[l->n++] = strdup(id)) == NULL;
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
	struct cv_audit *a = NULL;
	struct ids ids = { 0 };
	char reason[160];
	int c, rc = CLI_FAIL;
	cv_err r, ar;

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
	if (cli_open("find", dir, &v, &a) != CLI_OK)
		goto out;
	r = ssn ? cv_vault_find_ssn(v, ssn, collect, &ids) :
	    cv_vault_find_name(v, name, dob, collect, &ids);
	/* The search terms are personal data: only their kind is logged. */
	snprintf(reason, sizeof reason, "by %s, %zu found", ssn ? "SSN" :
	    "name and birth date", ids.n);
	if ((ar = cli_record(a, "find", r, reason, (const char *const *)ids.v,
	    ids.n, 0)) != CV_OK) {
		cli_fail("find", ar);
		goto out;
	}
	if (r != CV_OK) {
		cli_fail("find", r);
		goto out;
	}
	for (size_t i = 0; i < ids.n; i++)
		puts(ids.v[i]);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "clearvault find: cannot write output\n");
		goto out;
	}
	rc = CLI_OK;
 out:
	for (size_t i = 0; i < ids.n; i++)
		free(ids.v[i]);
	free(ids.v);
	cli_close(v, a);
	return rc;
}
