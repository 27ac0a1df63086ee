/*
 * What `evidence verify` reads from outsiders: a whole evidence file. A
 * real key is given, so nothing made up may ever verify; the STIX rules
 * alone run on whatever bundle the input holds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evidence/evidence.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char vkey[] =
	    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
	struct cv_evidence_report rep;
	json_t *j;
	char what[256];

	if (cv_evidence_verify((const char *)data, size, vkey, &rep) == CV_OK)
		abort();
	if ((j = json_loadb((const char *)data, size, 0, NULL)) != NULL) {
		(void)cv_evidence_check_stix(json_object_get(j, "bundle"),
		    what, sizeof what);
		json_decref(j);
	}
	return 0;
}
