/*
 * The stored section envelope (a stolen or edited database is hostile
 * input): parse, then try to open under a fixed key. Nothing may crash,
 * and nothing forged may open.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vault/vault_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t dek[CV_DEK_BYTES];
	struct env_section sec[CV_RECORD_NSECTIONS];
	struct cv_buf out = { 0 };
	unsigned present;
	size_t n;
	cv_err r;

	if (env_parse(data, size, sec, &n) != CV_OK)
		return 0;
	r = env_open(dek, "R-1", 1, data, size, ~0u, &out, &present);
	/* Opening a box needs the key: only an empty record opens. */
	if (r == CV_OK && present != 0)
		abort();
	cv_buf_free(&out);
	return 0;
}
