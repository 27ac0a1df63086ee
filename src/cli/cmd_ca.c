#include <stdio.h>
#include <stdlib.h>

#include "../auth/ca.h"
#include "cli.h"

static const char use[] = "clearvault ca-cert --dir DIR";

static const char help[] =
    "usage: clearvault ca-cert --dir DIR\n\n"
    "Prints the vault CA's certificate (PEM), which clients trust to reach\n"
    "the server and which signs their certificates. Made on first use. The\n"
    "CA key is ECDSA P-256, made inside the HSM token: it never leaves it.\n"
    "A vault from before keeps its Ed25519 CA as DIR/ca-ed25519.pem, still\n"
    "trusted for the client certificates it issued.\n\n"
    "options:\n"
    "  -d, --dir DIR   the vault folder (or $CLEARVAULT_DIR)\n"
    "  -h, --help      this text\n";

int
cmd_ca_cert(int argc, char **argv)
{
	const char *dir = NULL;
	struct cv_vault *v = NULL;
	struct cv_audit *a = NULL;
	struct cv_keyd *k = NULL;
	char path[1200], *pem = NULL;
	size_t len;
	int c, rc = CLI_FAIL;
	cv_err r;

	if ((c = cli_dir_only("ca-cert", argc, argv, use, help, &dir)) >= 0)
		return c;
	if (cli_open("ca-cert", dir, &v, &a) != CLI_OK)
		goto out;
	/* keyd makes the CA if the vault has none yet. */
	if ((r = cv_keyd_new(v, a, &k)) == CV_OK &&
	    (r = cv_keyd_ca_ensure(k)) == CV_OK &&
	    (r = cv_path(path, sizeof path, "%s/ca.pem", dir)) == CV_OK)
		r = cv_file_read(path, 65536, &pem, &len);
	if (cli_record(a, "ca-cert", r, NULL, NULL, 0, 0) != CV_OK ||
	    r != CV_OK) {
		cli_fail("ca-cert", r);
		goto out;
	}
	rc = fwrite(pem, 1, len, stdout) == len && fflush(stdout) == 0 ?
	    CLI_OK : CLI_FAIL;
 out:
	free(pem);
	cv_keyd_free(k);
	cli_close(v, a);
	return rc;
}
