/* The keyring file parser: accepted input round-trips byte for byte. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keys/keys_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[8 + KR_MAX_ENTRIES * (8 + KR_SEALED_BYTES)];
	struct kr kr;

	if (kr_parse(data, size, &kr) != CV_OK)
		return 0;
	if (kr_size(&kr) != size || size > sizeof out)
		abort();
	kr_write(&kr, out);
	if (memcmp(out, data, size) != 0)
		abort();
	return 0;
}
