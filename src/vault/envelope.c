#include <string.h>

#include <sodium.h>

#include "vault_internal.h"

#define AAD_TAG "cv-sec-v1"
#define NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG crypto_aead_xchacha20poly1305_ietf_ABYTES

cv_err
env_parse(const uint8_t *body, size_t len,
    struct env_section out[static CV_RECORD_NSECTIONS], size_t *n)
{
	size_t off = ENV_HEADER, count, i, blen;
	unsigned last = 0;

	*n = 0;
	if (len < ENV_HEADER || body[0] != ENV_FORMAT)
		return cv_fail(CV_ERR_FORMAT, "record body: unknown format");
	count = body[1];
	if (count > CV_RECORD_NSECTIONS)
		return cv_fail(CV_ERR_FORMAT, "record body: %zu sections",
		    count);
	for (i = 0; i < count; i++) {
		if (len - off < 5)
			return cv_fail(CV_ERR_FORMAT, "record body: truncated");
		if (body[off] <= last || body[off] > CV_RECORD_NSECTIONS)
			return cv_fail(CV_ERR_FORMAT, "record body: bad "
			    "section id %u", body[off]);
		last = body[off];
		blen = cv_get_u32be(body + off + 1);
		off += 5;
		if (blen < ENV_BOX_MIN || blen > ENV_MAX_SECTION_BYTES ||
		    blen > len - off)
			return cv_fail(CV_ERR_FORMAT, "record body: bad "
			    "section length");
		out[i] = (struct env_section){ (uint8_t)last, body + off,
		    blen };
		off += blen;
	}
	if (off != len)
		return cv_fail(CV_ERR_FORMAT, "record body: trailing bytes");
	*n = count;
	return CV_OK;
}

static size_t
sec_aad(const char *rid, uint8_t section, uint32_t version, uint8_t *aad)
{
	size_t n = sizeof AAD_TAG - 1, idlen = strlen(rid);

	memcpy(aad, AAD_TAG, n);
	aad[n++] = (uint8_t)idlen;
	memcpy(aad + n, rid, idlen);
	n += idlen;
	aad[n++] = section;
	cv_put_u32be(aad + n, version);
	return n + 4;
}

cv_err
env_seal(const uint8_t dek[static CV_DEK_BYTES], const char *rid,
    uint32_t version, const char *text,
    const struct cv_record_span sec[CV_RECORD_NSECTIONS], struct cv_buf *out)
{
	uint8_t aad[16 + CV_RECORD_ID_MAX], nonce[NONCE], *p;
	size_t aadlen, count = 0, start = out->len, need = ENV_HEADER;
	cv_err r;

	if (strlen(rid) > CV_RECORD_ID_MAX)
		return CV_ERR_INVALID;
	for (int i = 0; i < CV_RECORD_NSECTIONS; i++) {
		if (sec[i].len > ENV_MAX_SECTION_BYTES - ENV_BOX_MIN)
			return cv_fail(CV_ERR_INVALID, "section too large");
		if (sec[i].len) {
			count++;
			need += 5 + sec[i].len + TAG;
		}
	}
	if ((r = cv_buf_reserve(out, need)) != CV_OK)
		return r;
	/* One random draw per record, not per section: getrandom is a
	 * system call, and the key is never used again. */
	randombytes_buf(nonce, sizeof nonce);
	p = out->p + start;
	*p++ = ENV_FORMAT;
	*p++ = (uint8_t)count;
	memcpy(p, nonce, NONCE);
	p += NONCE;
	for (int i = 0; i < CV_RECORD_NSECTIONS; i++) {
		if (sec[i].len == 0)
			continue;
		*p = (uint8_t)(i + 1);
		cv_put_u32be(p + 1, (uint32_t)(sec[i].len + TAG));
		p += 5;
		nonce[NONCE - 1] ^= (uint8_t)(i + 1);
		aadlen = sec_aad(rid, (uint8_t)(i + 1), version, aad);
		crypto_aead_xchacha20poly1305_ietf_encrypt(p, NULL,
		    (const uint8_t *)text + sec[i].off, sec[i].len, aad,
		    aadlen, NULL, nonce, dek);
		nonce[NONCE - 1] ^= (uint8_t)(i + 1);
		p += sec[i].len + TAG;
	}
	out->len = start + need;
	return CV_OK;
}

cv_err
env_open(const uint8_t dek[static CV_DEK_BYTES], const char *rid,
    uint32_t version, const uint8_t *body, size_t len, unsigned mask,
    struct cv_buf *out, unsigned *present)
{
	struct env_section sec[CV_RECORD_NSECTIONS];
	uint8_t aad[16 + CV_RECORD_ID_MAX], nonce[NONCE];
	size_t n, i, aadlen, start = out->len, need = 0;
	unsigned long long ptlen;
	int rc;
	cv_err r;

	*present = 0;
	if (strlen(rid) > CV_RECORD_ID_MAX)
		return CV_ERR_INVALID;
	if ((r = env_parse(body, len, sec, &n)) != CV_OK)
		return r;
	memcpy(nonce, body + 2, NONCE);
	for (i = 0; i < n; i++)
		need += 24 + sec[i].len;
	if ((r = cv_buf_reserve(out, need)) != CV_OK)
		return r;
	for (i = 0; i < n; i++) {
		unsigned idx = sec[i].section - 1u;
		const char *name = cv_record_sections[idx];
		if (!(mask & (1u << idx)))
			continue;
		out->p[out->len++] = ',';
		out->p[out->len++] = '"';
		memcpy(out->p + out->len, name, strlen(name));
		out->len += strlen(name);
		out->p[out->len++] = '"';
		out->p[out->len++] = ':';
		aadlen = sec_aad(rid, sec[i].section, version, aad);
		nonce[NONCE - 1] ^= sec[i].section;
		rc = crypto_aead_xchacha20poly1305_ietf_decrypt(out->p +
		    out->len, &ptlen, NULL, sec[i].box, sec[i].len, aad,
		    aadlen, nonce, dek);
		nonce[NONCE - 1] ^= sec[i].section;
		if (rc != 0) {
			sodium_memzero(out->p + start, out->len - start);
			out->len = start;
			*present = 0;
			return cv_fail(CV_ERR_AUTH, "section %s of %s failed "
			    "authentication", name, rid);
		}
		out->len += (size_t)ptlen;
		*present |= 1u << idx;
	}
	return CV_OK;
}
