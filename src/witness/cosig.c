/*
 * The bytes a witness shares with the world: cosignature/v1 lines
 * (c2sp.org/tlog-cosignature), its verifier key (c2sp.org/signed-note,
 * type 0x04) and the add-checkpoint request body (c2sp.org/tlog-witness).
 * Every parser here reads hostile input (tests/fuzz/fuzz_witness_request).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "../audit/note.h"
#include "witness_internal.h"

#define EM_DASH "\xe2\x80\x94"
/* c2sp.org/signed-note: 0x04, timestamped Ed25519 witness cosignatures;
 * the key's name, id and text are signed-note's (src/audit/note.c). */
#define ALG_COSIG_V1 CV_NOTE_ALG_COSIG_V1

int
witness_valid_name(const char *s)
{
	return cv_note_valid_name(s, strlen(s));
}

uint32_t
cv_witness_keyid(const char *name, const uint8_t pk[static CV_WITNESS_PK])
{
	return cv_note_keyid_alg(name, ALG_COSIG_V1, pk);
}

cv_err
cv_witness_vkey_format(const char *name,
    const uint8_t pk[static CV_WITNESS_PK], char *out, size_t size)
{
	if (!witness_valid_name(name))
		return cv_fail(CV_ERR_INVALID, "bad witness name");
	return cv_note_vkey_format_alg(name, ALG_COSIG_V1, pk, out, size);
}

cv_err
cv_witness_vkey_parse(const char *s, char name[129],
    uint8_t pk[static CV_WITNESS_PK])
{
	return cv_note_vkey_parse_alg(s, ALG_COSIG_V1, name, pk);
}

cv_err
cv_witness_cosig_message(const char *text, size_t len, uint64_t ts,
    struct cv_buf *out)
{
	char head[64];
	int n;
	cv_err r;

	/* The spec bounds the timestamp to 2^63 - 1. */
	if (len == 0 || text[len - 1] != '\n' || ts > INT64_MAX)
		return cv_fail(CV_ERR_INVALID, "cosignature: bad text or time");
	n = snprintf(head, sizeof head, "cosignature/v1\ntime %" PRIu64 "\n",
	    ts);
	if ((r = cv_buf_add(out, head, (size_t)n)) != CV_OK)
		return r;
	return cv_buf_add(out, text, len);
}

cv_err
witness_cosig_line(const char *name, const uint8_t pk[static CV_WITNESS_PK],
    const uint8_t sig[static CV_WITNESS_SIG], uint64_t ts, struct cv_buf *out)
{
	uint8_t raw[4 + 8 + CV_WITNESS_SIG];
	char b64[sodium_base64_ENCODED_LEN(sizeof raw,
	    sodium_base64_VARIANT_ORIGINAL)];
	cv_err r;

	cv_put_u32be(raw, cv_witness_keyid(name, pk));
	cv_put_u64be(raw + 4, ts);
	memcpy(raw + 12, sig, CV_WITNESS_SIG);
	sodium_bin2base64(b64, sizeof b64, raw, sizeof raw,
	    sodium_base64_VARIANT_ORIGINAL);
	if ((r = cv_buf_add(out, EM_DASH " ", 4)) != CV_OK ||
	    (r = cv_buf_add(out, name, strlen(name))) != CV_OK ||
	    (r = cv_buf_add(out, " ", 1)) != CV_OK ||
	    (r = cv_buf_add(out, b64, strlen(b64))) != CV_OK)
		return r;
	return cv_buf_add(out, "\n", 1);
}

/* The text of a signed note: up to and including the '\n' before the
 * last blank line. 0 when there is none. */
size_t
witness_note_text_len(const char *note, size_t len)
{
	const char *sep = NULL;

	for (size_t i = 0; i + 1 < len; i++)
		if (note[i] == '\n' && note[i + 1] == '\n')
			sep = note + i;
	return sep ? (size_t)(sep - note) + 1 : 0;
}

cv_err
cv_witness_cosig_verify(const char *vkey, const char *note, size_t len,
    uint64_t *ts)
{
	char name[CV_NOTE_NAME_MAX + 1];
	uint8_t pk[CV_WITNESS_PK], raw[4 + 8 + CV_WITNESS_SIG + 1];
	struct cv_buf msg = { 0 };
	const char *p, *end = note + len, *nl, *sp;
	size_t tlen, rawlen, nlen, found = 0;
	uint32_t want;
	uint64_t t, newest = 0;
	cv_err r;

	*ts = 0;
	if ((r = cv_witness_vkey_parse(vkey, name, pk)) != CV_OK)
		return r;
	want = cv_witness_keyid(name, pk);
	nlen = strlen(name);
	if (len > CV_WITNESS_MAX_BODY ||
	    (tlen = witness_note_text_len(note, len)) == 0)
		return cv_fail(CV_ERR_INVALID, "note: no signature lines");
	for (p = note + tlen + 1; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL) {
			r = cv_fail(CV_ERR_INVALID, "note: signature line not "
			    "terminated");
			goto out;
		}
		if ((size_t)(nl - p) < 5 || memcmp(p, EM_DASH " ", 4) != 0) {
			r = cv_fail(CV_ERR_INVALID, "note: bad signature line");
			goto out;
		}
		p += 4;
		if ((sp = memchr(p, ' ', (size_t)(nl - p))) == NULL ||
		    (size_t)(sp - p) != nlen || memcmp(p, name, nlen) != 0)
			continue;	/* another signer's */
		if (sodium_base642bin(raw, sizeof raw, sp + 1,
		    (size_t)(nl - sp - 1), NULL, &rawlen, NULL,
		    sodium_base64_VARIANT_ORIGINAL) != 0 || rawlen < 4 ||
		    cv_get_u32be(raw) != want)
			continue;	/* same name, another key (or type) */
		/* Name and key id match ours: it MUST verify. */
		t = rawlen == sizeof raw - 1 ? cv_get_u64be(raw + 4) : 0;
		msg.len = 0;
		if (rawlen != sizeof raw - 1 || t > INT64_MAX ||
		    cv_witness_cosig_message(note, tlen, t, &msg) != CV_OK ||
		    crypto_sign_verify_detached(raw + 12, msg.p, msg.len,
		    pk) != 0) {
			r = cv_fail(CV_ERR_AUTH, "cosignature by %s does not "
			    "verify", name);
			goto out;
		}
		found++;
		if (t > newest)
			newest = t;
	}
	if (found == 0) {
		r = cv_fail(CV_ERR_NOT_FOUND, "no cosignature by %s", name);
		goto out;
	}
	*ts = newest;
	r = CV_OK;
 out:
	cv_buf_free(&msg);
	return r;
}

/* A decimal with no leading zeroes ("0" alone), at most 2^64 - 1. */
static int
parse_u64(const char *p, size_t n, uint64_t *v)
{
	uint64_t x = 0;

	if (n == 0 || n > 20 || (n > 1 && p[0] == '0'))
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned d;
		if (p[i] < '0' || p[i] > '9')
			return 0;
		d = (unsigned)(p[i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			return 0;
		x = x * 10 + d;
	}
	*v = x;
	return 1;
}

cv_err
cv_witness_req_parse(const char *body, size_t len, struct cv_witness_req *req)
{
	const char *p = body, *end = body + len, *nl;
	size_t hl;

	memset(req, 0, sizeof *req);
	if (len > CV_WITNESS_MAX_BODY)
		return cv_fail(CV_ERR_INVALID, "request: too large");
	if ((nl = memchr(p, '\n', len)) == NULL || nl - p < 5 ||
	    memcmp(p, "old ", 4) != 0 ||
	    !parse_u64(p + 4, (size_t)(nl - p - 4), &req->old))
		return cv_fail(CV_ERR_INVALID, "request: the first line must "
		    "be \"old SIZE\"");
	for (p = nl + 1;; p = nl + 1) {
		if (p >= end || (nl = memchr(p, '\n', (size_t)(end - p))) ==
		    NULL)
			return cv_fail(CV_ERR_INVALID, "request: no blank line "
			    "before the checkpoint");
		if (nl == p)
			break;
		if (req->n == CV_WITNESS_MAX_PROOF)
			return cv_fail(CV_ERR_INVALID, "request: more than %d "
			    "proof lines", CV_WITNESS_MAX_PROOF);
		/* sodium's decoder with no ignored characters and no
		 * trailing bytes: exactly one canonical-length hash. */
		if (nl - p != 44 || sodium_base642bin(req->proof[req->n], 32,
		    p, 44, NULL, &hl, NULL,
		    sodium_base64_VARIANT_ORIGINAL) != 0 || hl != 32)
			return cv_fail(CV_ERR_INVALID, "request: proof line %zu "
			    "is not a base64 SHA-256 hash", req->n + 1);
		req->n++;
	}
	req->note = nl + 1;
	req->note_len = (size_t)(end - req->note);
	if (req->note_len == 0)
		return cv_fail(CV_ERR_INVALID, "request: no checkpoint");
	return CV_OK;
}
