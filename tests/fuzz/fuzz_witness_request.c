/*
 * What a witness reads from the network: an add-checkpoint body (old
 * size, proof lines, a checkpoint note), taken through the whole decision
 * of a real witness folder made once, and the cosignature verifier the
 * vault side will run on a witness's reply. Forged input must never be
 * cosigned nor check out.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "witness/witness.h"
#include "witness/witness_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The log key of tests/fuzz/fuzz_proof.c (nobody here holds its secret):
 * its checkpoints get as far as the signature check. */
static const char log_vkey[] =
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
static const char w_vkey[] = "witness.example/w1+468d99bb+"
    "BHm1Vi6P5lT5QHixEuipi6eQH4U65pW+1+DjkQutBJZk";
/* The one text that key signed (tests/unit/witness): a seed. */
static const char w_text[] = "example.com/behind-the-sofa\n20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
static struct cv_witness *w;
static char tmp[] = "/tmp/cvfuzzw.XXXXXX";

static void
cleanup(void)
{
	char cmd[64];

	cv_witness_free(w);
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmp);
}

static void
setup(void)
{
	char wdir[64], key[CV_WITNESS_VKEY_MAX];

	if (mkdtemp(tmp) == NULL)
		abort();
	atexit(cleanup);
	snprintf(wdir, sizeof wdir, "%s/w", tmp);
	if (cv_witness_init(wdir, "fuzz.example/w", key, sizeof key) != CV_OK ||
	    cv_witness_add_log(wdir, "PeterNeumann", log_vkey) != CV_OK ||
	    cv_witness_add_log(wdir, "example.com/behind-the-sofa",
	    log_vkey) != CV_OK ||
	    cv_witness_open(wdir, 0, &w) != CV_OK)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cv_witness_req q;
	struct cv_buf reply = { 0 };
	const char *ct, *body = (const char *)data;
	uint64_t ts;
	int st;

	if (w == NULL)
		setup();
	if (cv_witness_req_parse(body, size, &q) == CV_OK) {
		if (q.n > CV_WITNESS_MAX_PROOF || q.note < body ||
		    q.note + q.note_len != body + size || q.note_len == 0)
			abort();
	}
	if (cv_witness_add_checkpoint(w, body, size, &st, &ct, &reply) ==
	    CV_OK && (st == 200 || st < 400 || st > 422))
		abort();
	cv_buf_free(&reply);
	/* Only the genuine text verifies. */
	if (cv_witness_cosig_verify(w_vkey, body, size, &ts) == CV_OK &&
	    (witness_note_text_len(body, size) != sizeof w_text - 1 ||
	    memcmp(body, w_text, sizeof w_text - 1) != 0))
		abort();
	return 0;
}
