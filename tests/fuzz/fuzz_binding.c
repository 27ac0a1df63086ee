/* The token binding (read back from the HSM): accepted input round-trips
 * byte for byte; a version 1 binding comes back as version 2 with no
 * records (an empty last field). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keys/keys_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[P11_DATA_MAX];
	struct bind_rec b;
	size_t len = 0;

	if (bind_parse(data, size, &b) != CV_OK)
		return 0;
	if (bind_format(&b, out, sizeof out, &len) != CV_OK)
		abort();
	if (data[4] == 1) {
		if (len != size + 2 || out[4] != 2 || memcmp(out, data, 4) ||
		    memcmp(out + 5, data + 5, size - 5) || out[size] ||
		    out[size + 1])
			abort();
	} else if (len != size || memcmp(out, data, size) != 0)
		abort();
	return 0;
}
