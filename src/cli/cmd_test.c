/*
 * Test builds only (-Dtest_hooks=true): `clearvault test-secrets` prints
 * the keys a vault holds in memory, and a record's data key, as hex, so
 * that tests/cli/test_privsep.sh can prove that none of them is in the
 * api worker's memory. A release build has no such command.
 */
#ifdef CV_TEST_HOOKS
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "../store/store.h"
#include "../vault/vault_keys.h"
#include "cli.h"

static void
print_key(void *ctx, const char *label, const uint8_t *key, size_t len)
{
	char hex[2 * 64 + 1];

	(void)ctx;
	if (len > 64)
		return;
	sodium_bin2hex(hex, sizeof hex, key, len);
	printf("%s %s\n", label, hex);
}

int
cmd_test_secrets(int argc, char **argv)
{
	struct cv_vault *v = NULL;
	struct cv_store_row row = { 0 };
	uint8_t dek[CV_DEK_BYTES];
	cv_err r;

	if (argc < 3 || strcmp(argv[1], "--dir") != 0) {
		fprintf(stderr, "usage: clearvault test-secrets --dir DIR "
		    "[RECORD-ID]\n");
		return CLI_USAGE;
	}
	if ((r = cv_vault_open(argv[2], &v)) != CV_OK)
		return cli_fail("test-secrets", r);
	cv_keys_test_secrets(cv_vault_keys(v), print_key, NULL);
	if (argc > 3) {
		if ((r = cv_store_get(cv_vault_store(v), argv[3], &row)) ==
		    CV_OK)
			r = cv_keys_dek_unwrap(cv_vault_keys(v), argv[3],
			    row.gen, row.wdek, dek);
		cv_store_row_clear(&row);
		if (r != CV_OK) {
			cv_vault_close(v);
			return cli_fail("test-secrets", r);
		}
		print_key(NULL, "dek", dek, sizeof dek);
		sodium_memzero(dek, sizeof dek);
	}
	cv_vault_close(v);
	return CLI_OK;
}
#endif
