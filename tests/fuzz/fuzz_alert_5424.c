/*
 * The supervisor's parser of relayed alert lines (src/keyd/alert_5424.c):
 * the bytes come from a process that may be compromised. Whatever it
 * accepts is one line (no control byte), starts with an authpriv PRI and
 * stays within the bound the header promises.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keyd/keyd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cv_buf m;

	if (cv_keyd_alert_5424((const char *)data, size, "fuzz", 1, &m) !=
	    CV_OK)
		return 0;
	if (m.len < 6 || memcmp(m.p, "<8", 2) != 0 || m.len > 8192)
		abort();
	for (size_t i = 0; i < m.len; i++)
		if (m.p[i] < 0x20 || m.p[i] == 0x7f)
			abort();
	cv_buf_free(&m);
	return 0;
}
