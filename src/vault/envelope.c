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
	size_t off = 2, count, i, blen;
	unsigned last = 0;

	*n = 0;
	if (len < 2 || body[0] != ENV_FORMAT)
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
    uint32_t version, const struct cv_buf plain[CV_RECORD_NSECTIONS],
    struct cv_buf *out)
{
	uint8_t aad[16 + CV_RECORD_ID_MAX], *p;
	size_t aadlen, count = 0, start = out->len, need = 2;
	cv_err r;

	if (strlen(rid) > CV_RECORD_ID_MAX)
		return CV_ERR_INVALID;
	for (int i = 0; i < CV_RECORD_NSECTIONS; i++) {
		if (plain[i].len > ENV_MAX_SECTION_BYTES - ENV_BOX_MIN)
			return cv_fail(CV_ERR_INVALID, "section too large");
		if (plain[i].len) {
			count++;
			need += 5 + NONCE + plain[i].len + TAG;
		}
	}
	if ((r = cv_buf_reserve(out, need)) != CV_OK)
		return r;
	p = out->p + start;
	*p++ = ENV_FORMAT;
	*p++ = (uint8_t)count;
	for (int i = 0; i < CV_RECORD_NSECTIONS; i++) {
		if (plain[i].len == 0)
			continue;
		*p = (uint8_t)(i + 1);
		cv_put_u32be(p + 1, (uint32_t)(NONCE + plain[i].len + TAG));
		p += 5;
		randombytes_buf(p, NONCE);
		aadlen = sec_aad(rid, (uint8_t)(i + 1), version, aad);
		crypto_aead_xchacha20poly1305_ietf_encrypt(p + NONCE, NULL,
		    plain[i].p, plain[i].len, aad, aadlen, NULL, p, dek);
		p += NONCE + plain[i].len + TAG;
	}
	out->len = start + need;
	return CV_OK;
}

cv_err
env_open(const uint8_t dek[static CV_DEK_BYTES], const char *rid,
    uint32_t version, const uint8_t *body, size_t len, unsigned mask,
    json_t *obj)
{
	struct env_section sec[CV_RECORD_NSECTIONS];
	json_t *parsed[CV_RECORD_NSECTIONS] = { 0 };
	uint8_t aad[16 + CV_RECORD_ID_MAX];
	unsigned char *pt = NULL;
	size_t n, i, aadlen, ptcap = 0;
	unsigned long long ptlen;
	cv_err r;

	if (strlen(rid) > CV_RECORD_ID_MAX)
		return CV_ERR_INVALID;
	if ((r = env_parse(body, len, sec, &n)) != CV_OK)
		return r;
	for (i = 0; i < n; i++) {
		unsigned idx = sec[i].section - 1u;
		if (!(mask & (1u << idx)))
			continue;
		if (sec[i].len - ENV_BOX_MIN + 1 > ptcap) {
			if (pt) {
				sodium_memzero(pt, ptcap);
				free(pt);
			}
			ptcap = sec[i].len;
			if ((pt = malloc(ptcap)) == NULL) {
				r = CV_ERR_NOMEM;
				goto out;
			}
		}
		aadlen = sec_aad(rid, sec[i].section, version, aad);
		if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &ptlen,
		    NULL, sec[i].box + NONCE, sec[i].len - NONCE, aad, aadlen,
		    sec[i].box, dek) != 0) {
			r = cv_fail(CV_ERR_AUTH, "section %s of %s failed "
			    "authentication", cv_record_sections[idx], rid);
			goto out;
		}
		parsed[idx] = json_loadb((const char *)pt, (size_t)ptlen,
		    JSON_DECODE_ANY, NULL);
		sodium_memzero(pt, (size_t)ptlen);
		if (parsed[idx] == NULL) {
			r = cv_fail(CV_ERR_FORMAT, "section %s of %s is not "
			    "JSON", cv_record_sections[idx], rid);
			goto out;
		}
	}
	/* All or nothing: only now does anything reach OBJ. */
	for (i = 0; i < CV_RECORD_NSECTIONS; i++) {
		if (parsed[i] && json_object_set_new(obj,
		    cv_record_sections[i], parsed[i]) != 0) {
			parsed[i] = NULL;
			r = CV_ERR_NOMEM;
			goto out;
		}
		parsed[i] = NULL;
	}
	r = CV_OK;
 out:
	for (i = 0; i < CV_RECORD_NSECTIONS; i++)
		json_decref(parsed[i]);
	if (pt) {
		sodium_memzero(pt, ptcap);
		free(pt);
	}
	return r;
}
