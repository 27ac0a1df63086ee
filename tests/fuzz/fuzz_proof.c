/*
 * What `audit check` reads from outsiders: proof JSON, signed notes and
 * checkpoint bodies. Input: proof JSON, a NUL byte, then a note.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char vkey[] =
	    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
	const uint8_t *nul = memchr(data, 0, size);
	struct cv_audit_proof p;
	struct cv_checkpoint c;
	char what[300];
	size_t plen = nul ? (size_t)(nul - data) : size;
	const char *note = nul ? (const char *)nul + 1 : "";
	size_t nlen = nul ? size - plen - 1 : 0;

	(void)cv_checkpoint_parse(note, nlen, &c);
	if (cv_audit_proof_parse((const char *)data, plen, &p) != CV_OK)
		return 0;
	if (p.n > CV_MERKLE_MAX_PROOF)
		abort();
	/* Forged input must never check out against a real key. */
	if (cv_audit_check(vkey, note, nlen, &p, NULL, 0, what,
	    sizeof what) == CV_OK)
		abort();
	return 0;
}
