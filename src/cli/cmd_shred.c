#include <stdio.h>

#include "../vault/vault.h"
#include "cli.h"

static const char use[] = "clearvault shred --dir DIR ID";

static const char help[] =
    "usage: clearvault shred --dir DIR ID\n\n"
    "Crypto-shreds record ID: destroys its data key and blind indexes, so\n"
    "its ciphertext can never be decrypted again; 'get' then reports it as\n"
    "shredded and 'find' no longer returns it. Backups taken before the\n"
    "shred still hold the wrapped key until the next 'clearvault rotate'\n"
    "destroys the keyring key that wrapped it.\n\n"
    "options:\n"
    "  -d, --dir DIR   the vault folder (or $CLEARVAULT_DIR)\n"
    "  -h, --help      this text\n";

int
cmd_shred(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_DIR, CLI_OPT_HELP, { 0, 0, 0, 0 }
	};
	const char *dir = NULL;
	struct cv_vault *v = NULL;
	struct cv_audit *a = NULL;
	const char *id;
	int c, rc = CLI_FAIL;
	cv_err r, ar;

	while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'h': return cli_help(help);
		default: return cli_usage("shred", use, "bad option");
		}
	}
	if (argc - optind != 1)
		return cli_usage("shred", use, "give exactly one record id");
	if ((dir = cli_dir("shred", dir)) == NULL)
		return CLI_USAGE;
	id = argv[optind];
	if (cli_open("shred", dir, &v, &a) != CLI_OK)
		goto out;
	/* Write-ahead: the intent is durable before the key goes, so that
	 * no shred is without its entry even if the outcome's fails. */
	if ((ar = cli_record(a, "shred.begin", CV_OK, NULL, &id, 1, 0)) !=
	    CV_OK) {
		cli_fail("shred", ar);
		goto out;
	}
	r = cv_vault_shred(v, id);
	if (r == CV_ERR_NOT_FOUND)
		cv_err_set("no record '%.64s'", id);
	if ((ar = cli_record(a, "shred", r, r != CV_OK ? cv_err_detail() :
	    NULL, &id, 1, 0)) != CV_OK) {
		if (r == CV_OK) {
			/* Done, and shred.begin names it: not a failure. */
			fprintf(stderr, "clearvault shred: %s shredded; its "
			    "outcome entry could not be written (%s): the "
			    "shred.begin entry records it\n", id,
			    cv_err_detail());
			rc = CLI_OK;
		} else
			cli_fail("shred", ar);
		goto out;
	}
	if (r != CV_OK) {
		if (r == CV_ERR_NOT_FOUND)
			cv_err_set("no record '%.64s'", id);
		cli_fail("shred", r);
		goto out;
	}
	fprintf(stderr, "clearvault shred: %s shredded\n", id);
	rc = CLI_OK;
 out:
	cli_close(v, a);
	return rc;
}
