/* A backup's SHA256SUMS: every accepted path is plain and relative, and
 * the list written back is the input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vault/vault.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* No empty, "." or ".." part, not absolute. */
static int
plain(const char *p)
{
	size_t n;

	if (*p == '/')
		return 0;
	for (;;) {
		n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		if (p[n] == '\0')
			return 1;
		p += n + 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cv_backup_file *f = NULL;
	struct cv_buf b = { 0 };
	char hex[65];
	size_t n = 0;

	if (cv_vault_sums_parse((const char *)data, size, &f, &n) != CV_OK)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!plain(f[i].path))
			abort();
		sodium_bin2hex(hex, sizeof hex, f[i].sha256, 32);
		if (cv_buf_add(&b, hex, 64) != CV_OK ||
		    cv_buf_add(&b, "  ", 2) != CV_OK ||
		    cv_buf_add(&b, f[i].path, strlen(f[i].path)) != CV_OK ||
		    cv_buf_add(&b, "\n", 1) != CV_OK)
			abort();
	}
	if (b.len != size || memcmp(b.p, data, size) != 0)
		abort();
	cv_buf_free(&b);
	free(f);
	return 0;
}
