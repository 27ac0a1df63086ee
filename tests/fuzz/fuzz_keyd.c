/*
 * keyd's request and reply decoders: the key process's whole surface
 * towards a possibly compromised network process. A frame that decodes
 * must re-encode to the same bytes (so nothing in it was skipped or read
 * twice); anything else must be refused without touching memory it does
 * not own.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keyd/keyd_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keyd_req q;
	struct keyd_reply rp;
	struct cv_buf b = { 0 };
	cv_err r = CV_OK;

	if (keyd_decode(data, size, &q) == CV_OK) {
		r = keyd_encode(&b, &q);
		/* Empty strings decode as absent and encode as empty: the
		 * same bytes. */
		if (r != CV_OK || b.len != size || memcmp(b.p, data, size) != 0)
			abort();
	}
	keyd_req_free(&q);
	if (keyd_decode_reply(data, size, &rp) == CV_OK &&
	    rp.status == CV_OK && rp.len > size)
		abort();
	cv_buf_free(&b);
	return 0;
}
