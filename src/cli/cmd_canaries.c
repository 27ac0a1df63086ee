#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static const char use[] = "clearvault canaries --dir DIR";

static const char help[] =
    "usage: clearvault canaries --dir DIR\n\n"
    "Prints the ids of the vault's canary records, one per line: the decoys\n"
    "that `load` mixes in and that no legitimate task opens (the server\n"
    "locks whoever reads one). The list is sealed by the keyring, so this\n"
    "needs the HSM; the listing itself is an audit entry.\n\n"
    "options:\n"
    "  -d, --dir DIR   the vault folder (or $CLEARVAULT_DIR)\n"
    "  -h, --help      this text\n";

int
cmd_canaries(int argc, char **argv)
{
	const char *dir = NULL;
	struct cv_vault *v = NULL;
	struct cv_audit *a = NULL;
	char **ids = NULL, reason[64];
	size_t n = 0;
	int c, rc = CLI_FAIL;
	cv_err r;

	if ((c = cli_dir_only("canaries", argc, argv, use, help, &dir)) >= 0)
		return c;
	if (cli_open("canaries", dir, &v, &a) != CLI_OK)
		goto out;
	r = cv_vault_canaries(v, &ids, &n);
	snprintf(reason, sizeof reason, "%zu canaries listed", n);
	if (cli_record(a, "canaries.list", r, reason, NULL, 0, 0) != CV_OK ||
	    r != CV_OK) {
		cli_fail("canaries", r);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		printf("%s\n", ids[i]);
	rc = fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
 out:
	free(ids);
	cli_close(v, a);
	return rc;
}
