#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/sha2.h>
#include <sodium.h>

#include "note.h"

#define EM_DASH "\xe2\x80\x94"
int
cv_note_valid_name(const char *s, size_t n)
{
	if (n == 0 || n > CV_NOTE_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c == '+' || c == 0x7f)
			return 0;
	}
	return 1;
}

uint32_t
cv_note_keyid_alg(const char *name, uint8_t alg,
    const uint8_t pk[static CV_ED25519_PK])
{
	struct sha256_ctx c;
	uint8_t d[32];

	sha256_init(&c);
	sha256_update(&c, strlen(name), (const uint8_t *)name);
	sha256_update(&c, 1, (const uint8_t *)"\n");
	sha256_update(&c, 1, &alg);
	sha256_update(&c, CV_ED25519_PK, pk);
	sha256_digest(&c, sizeof d, d);
	return cv_get_u32be(d);
}

uint32_t
cv_note_keyid(const char *name, const uint8_t pk[static CV_ED25519_PK])
{
	return cv_note_keyid_alg(name, CV_NOTE_ALG_ED25519, pk);
}

cv_err
cv_note_vkey_format_alg(const char *name, uint8_t alg,
    const uint8_t pk[static CV_ED25519_PK], char *out, size_t size)
{
	uint8_t key[1 + CV_ED25519_PK];
	char b64[sodium_base64_ENCODED_LEN(sizeof key,
	    sodium_base64_VARIANT_ORIGINAL)];

	if (!cv_note_valid_name(name, strlen(name)))
		return cv_fail(CV_ERR_INVALID, "bad key name");
	key[0] = alg;
	memcpy(key + 1, pk, CV_ED25519_PK);
	sodium_bin2base64(b64, sizeof b64, key, sizeof key,
	    sodium_base64_VARIANT_ORIGINAL);
	return cv_path(out, size, "%s+%08" PRIx32 "+%s", name,
	    cv_note_keyid_alg(name, alg, pk), b64);
}

cv_err
cv_note_vkey_format(const char *name, const uint8_t pk[static CV_ED25519_PK],
    char *out, size_t size)
{
	return cv_note_vkey_format_alg(name, CV_NOTE_ALG_ED25519, pk, out,
	    size);
}

cv_err
cv_note_vkey_parse_alg(const char *s, uint8_t alg,
    char name[CV_NOTE_NAME_MAX + 1], uint8_t pk[static CV_ED25519_PK])
{
	const char *p1 = strchr(s, '+'), *p2;
	uint8_t key[1 + CV_ED25519_PK + 1];
	char hex[9];
	size_t len;
	unsigned long id;
	char *end;

	if (p1 == NULL || (p2 = strchr(p1 + 1, '+')) == NULL ||
	    !cv_note_valid_name(s, (size_t)(p1 - s)))
		return cv_fail(CV_ERR_INVALID, "verifier key: expected "
		    "name+keyid+key");
	if (p2 - p1 - 1 != 8)
		return cv_fail(CV_ERR_INVALID, "verifier key: key id must be "
		    "8 hex digits");
	memcpy(hex, p1 + 1, 8);
	hex[8] = '\0';
	id = strtoul(hex, &end, 16);
	if (*end != '\0' || strspn(hex, "0123456789abcdef") != 8)
		return cv_fail(CV_ERR_INVALID, "verifier key: bad key id");
	if (sodium_base642bin(key, sizeof key, p2 + 1, strlen(p2 + 1), NULL,
	    &len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    len != 1 + CV_ED25519_PK)
		return cv_fail(CV_ERR_INVALID, "verifier key: bad key bytes");
	if (key[0] != alg)
		return cv_fail(CV_ERR_INVALID, "verifier key: %s",
		    alg == CV_NOTE_ALG_ED25519 ? "not Ed25519" : "not a "
		    "cosignature/v1 (type 0x04) key");
	memcpy(name, s, (size_t)(p1 - s));
	name[p1 - s] = '\0';
	memcpy(pk, key + 1, CV_ED25519_PK);
	if (cv_note_keyid_alg(name, alg, pk) != id)
		return cv_fail(CV_ERR_INVALID, "verifier key: key id does not "
		    "match the key");
	return CV_OK;
}

cv_err
cv_note_vkey_parse(const char *s, char name[CV_NOTE_NAME_MAX + 1],
    uint8_t pk[static CV_ED25519_PK])
{
	return cv_note_vkey_parse_alg(s, CV_NOTE_ALG_ED25519, name, pk);
}

/* Text: UTF-8 lines ending in '\n', no other control characters. */
static int
valid_text(const char *t, size_t n)
{
	if (n == 0 || t[n - 1] != '\n')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];
		if ((c < 0x20 && c != '\n') || c == 0x7f)
			return 0;
	}
	return 1;
}

cv_err
cv_note_sign(const char *text, size_t len, const char *name,
    const uint8_t pk[static CV_ED25519_PK], cv_note_sign_fn sign, void *ctx,
    struct cv_buf *out)
{
	uint8_t sig[4 + CV_ED25519_SIG];
	char b64[sodium_base64_ENCODED_LEN(sizeof sig,
	    sodium_base64_VARIANT_ORIGINAL)];
	cv_err r;

	if (!valid_text(text, len) || !cv_note_valid_name(name, strlen(name)))
		return cv_fail(CV_ERR_INVALID, "note text or key name "
		    "malformed");
	cv_put_u32be(sig, cv_note_keyid(name, pk));
	if ((r = sign(ctx, (const uint8_t *)text, len, sig + 4)) != CV_OK)
		return r;
	sodium_bin2base64(b64, sizeof b64, sig, sizeof sig,
	    sodium_base64_VARIANT_ORIGINAL);
	if ((r = cv_buf_add(out, text, len)) != CV_OK ||
	    (r = cv_buf_add(out, "\n" EM_DASH " ", 5)) != CV_OK ||
	    (r = cv_buf_add(out, name, strlen(name))) != CV_OK ||
	    (r = cv_buf_add(out, " ", 1)) != CV_OK ||
	    (r = cv_buf_add(out, b64, strlen(b64))) != CV_OK)
		return r;
	return cv_buf_add(out, "\n", 1);
}

cv_err
cv_note_verify(const char *note, size_t len, const char *name,
    const uint8_t pk[static CV_ED25519_PK], size_t *text_len)
{
	const char *sep = NULL, *p, *end = note + len, *nl, *sp;
	/* Room for other signers' signatures too: a witness's cosignature
	 * (c2sp.org/tlog-cosignature) is key id, timestamp and signature,
	 * 76 bytes; a note carrying one must still verify for the log. */
	uint8_t sig[256];
	uint32_t want = cv_note_keyid(name, pk);
	size_t tlen, siglen, nsig = 0;
	int found = 0;

	*text_len = 0;
	if (len > CV_NOTE_MAX_BYTES || len < 2)
		return cv_fail(CV_ERR_INVALID, "note: empty or too long");
	/* The text ends at the last "\n\n" followed by signature lines. */
	for (p = note; p + 1 < end; p++) {
		if (p[0] == '\n' && p[1] == '\n')
			sep = p;
	}
	if (sep == NULL)
		return cv_fail(CV_ERR_INVALID, "note: no signatures");
	tlen = (size_t)(sep - note) + 1;
	if (!valid_text(note, tlen))
		return cv_fail(CV_ERR_INVALID, "note: text is malformed");
	for (p = sep + 2; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			return cv_fail(CV_ERR_INVALID, "note: signature line "
			    "not terminated");
		if ((size_t)(nl - p) < 5 || memcmp(p, EM_DASH " ", 4) != 0)
			return cv_fail(CV_ERR_INVALID, "note: bad signature "
			    "line");
		p += 4;
		if ((sp = memchr(p, ' ', (size_t)(nl - p))) == NULL ||
		    !cv_note_valid_name(p, (size_t)(sp - p)))
			return cv_fail(CV_ERR_INVALID, "note: bad signer "
			    "name");
		if (++nsig > 100)
			return cv_fail(CV_ERR_INVALID, "note: too many "
			    "signatures");
		if (nl - sp - 1 < 8)
			return cv_fail(CV_ERR_INVALID, "note: bad signature "
			    "encoding");
		/* Another signer's line (a witness's cosignature, a key of
		 * another type, of any length) is not ours to read: skipped
		 * as c2sp.org/signed-note says, and so is a second good line
		 * of ours (one verification a note is enough). */
		if ((size_t)(sp - p) != strlen(name) ||
		    memcmp(p, name, strlen(name)) != 0 || found)
			continue;
		if (sodium_base642bin(sig, sizeof sig, sp + 1,
		    (size_t)(nl - sp - 1), NULL, &siglen, NULL,
		    sodium_base64_VARIANT_ORIGINAL) != 0 || siglen < 4)
			return cv_fail(CV_ERR_INVALID, "note: bad signature "
			    "encoding");
		if (cv_get_u32be(sig) != want)
			continue;	/* the same name, another key */
		if (siglen == 4 + CV_ED25519_SIG &&
		    crypto_sign_verify_detached(sig + 4,
		    (const uint8_t *)note, tlen, pk) == 0)
			found = 1;
		else
			return cv_fail(CV_ERR_AUTH, "note: signature by %s "
			    "does not verify", name);
	}
	if (!found)
		return cv_fail(CV_ERR_AUTH, "note: not signed by %s", name);
	*text_len = tlen;
	return CV_OK;
}

cv_err
cv_checkpoint_format(const struct cv_checkpoint *c, struct cv_buf *out)
{
	char b64[sodium_base64_ENCODED_LEN(CV_HASH_BYTES,
	    sodium_base64_VARIANT_ORIGINAL)], line[64];
	cv_err r;
	int n;

	if (!cv_note_valid_name(c->origin, strlen(c->origin)))
		return cv_fail(CV_ERR_INVALID, "bad origin");
	sodium_bin2base64(b64, sizeof b64, c->root, CV_HASH_BYTES,
	    sodium_base64_VARIANT_ORIGINAL);
	n = snprintf(line, sizeof line, "\n%" PRIu64 "\n", c->size);
	if ((r = cv_buf_add(out, c->origin, strlen(c->origin))) != CV_OK ||
	    (r = cv_buf_add(out, line, (size_t)n)) != CV_OK ||
	    (r = cv_buf_add(out, b64, strlen(b64))) != CV_OK)
		return r;
	return cv_buf_add(out, "\n", 1);
}

cv_err
cv_checkpoint_parse(const char *text, size_t len, struct cv_checkpoint *c)
{
	const char *p = text, *end = text + len, *nl;
	char num[24];
	size_t n, hl;

	memset(c, 0, sizeof *c);
	if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL ||
	    (n = (size_t)(nl - p)) == 0 || n > CV_NOTE_NAME_MAX)
		return cv_fail(CV_ERR_INVALID, "checkpoint: bad origin line");
	memcpy(c->origin, p, n);
	c->origin[n] = '\0';
	p = nl + 1;
	if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL ||
	    (n = (size_t)(nl - p)) == 0 || n >= sizeof num ||
	    strspn(p, "0123456789") < n || (n > 1 && *p == '0'))
		return cv_fail(CV_ERR_INVALID, "checkpoint: bad tree size");
	memcpy(num, p, n);
	num[n] = '\0';
	errno = 0;
	c->size = strtoull(num, NULL, 10);
	if (errno != 0)
		return cv_fail(CV_ERR_INVALID, "checkpoint: tree size too "
		    "large");
	p = nl + 1;
	if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL ||
	    sodium_base642bin(c->root, CV_HASH_BYTES, p, (size_t)(nl - p),
	    NULL, &hl, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    hl != CV_HASH_BYTES)
		return cv_fail(CV_ERR_INVALID, "checkpoint: bad root hash");
	return CV_OK;
}
