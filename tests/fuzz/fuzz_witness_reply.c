/*
 * What the vault's witness pusher reads from the network (src/witness/
 * push.c): a witness's HTTP reply, a 409's size body, and the quorum count
 * over a note that carries cosignature lines. The body must lie inside
 * the reply; a forged note must never count as cosigned.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "witness/witness.h"
#include "witness/witness_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The key of tests/unit/witness and the one text it signed (as in
 * fuzz_witness_request.c). */
static const char w_vkey[] = "witness.example/w1+468d99bb+"
    "BHm1Vi6P5lT5QHixEuipi6eQH4U65pW+1+DjkQutBJZk";
static const char w_text[] = "example.com/behind-the-sofa\n20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	const char *keys[2] = { w_vkey, w_vkey };
	size_t off, len, valid;
	uint64_t n;
	int st;
	char why[200];

	if (cv_witness_reply_parse(in, size, &st, &off, &len) == CV_OK &&
	    (st < 100 || st > 999 || off > size || len > size - off))
		abort();
	if (cv_witness_size_parse(in, size, &n) == CV_OK &&
	    (size < 2 || in[size - 1] != '\n'))
		abort();
	/* One vote per witness, and only the genuine text counts. */
	if (cv_witness_quorum(in, size, keys, 2, &valid, why,
	    sizeof why) == CV_OK && (valid > 1 || (valid == 1 &&
	    (witness_note_text_len(in, size) != sizeof w_text - 1 ||
	    memcmp(in, w_text, sizeof w_text - 1) != 0))))
		abort();
	return 0;
}
