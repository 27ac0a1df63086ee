/*
 * DIR/keyring, version 1. All integers big-endian.
 *
 *   "CVKR" | u8 version=1 | u8 reserved=0 | u16 count
 *   count × ( u32 gen | u8 purpose | u8 state | u16 len | sealed[len] )
 *
 * sealed = AES-256-GCM by the HSM root key of generation gen:
 * iv(12) || ciphertext(32) || tag(16). The file itself holds no usable key.
 */
#include <string.h>

#include "keys_internal.h"

#define KR_HEADER 8
#define KR_ENTRY_FIXED 8

cv_err
kr_parse(const uint8_t *buf, size_t len, struct kr *out)
{
	size_t off = KR_HEADER, n, i, j;
	struct kr_entry *e;

	memset(out, 0, sizeof *out);
	if (len < KR_HEADER || memcmp(buf, KR_MAGIC, 4) != 0)
		return cv_fail(CV_ERR_FORMAT, "keyring: not a keyring file");
	if (buf[4] != KR_VERSION || buf[5] != 0)
		return cv_fail(CV_ERR_FORMAT, "keyring: unsupported version "
		    "%u", buf[4]);
	n = cv_get_u16be(buf + 6);
	if (n == 0 || n > KR_MAX_ENTRIES)
		return cv_fail(CV_ERR_FORMAT, "keyring: %zu entries", n);
	for (i = 0; i < n; i++) {
		e = &out->e[i];
		if (len - off < KR_ENTRY_FIXED)
			goto trunc;
		e->gen = cv_get_u32be(buf + off);
		e->purpose = buf[off + 4];
		e->state = buf[off + 5];
		if (cv_get_u16be(buf + off + 6) != KR_SEALED_BYTES)
			return cv_fail(CV_ERR_FORMAT, "keyring: entry %zu has "
			    "a bad length", i);
		off += KR_ENTRY_FIXED;
		if (len - off < KR_SEALED_BYTES)
			goto trunc;
		memcpy(e->sealed, buf + off, KR_SEALED_BYTES);
		off += KR_SEALED_BYTES;
		if (e->purpose < KR_KEK || e->purpose > KR__LAST ||
		    (e->state != KR_ACTIVE && e->state != KR_RETIRING) ||
		    (e->purpose != KR_KEK && e->state != KR_ACTIVE))
			return cv_fail(CV_ERR_FORMAT, "keyring: entry %zu is "
			    "of an unknown kind", i);
		for (j = 0; j < i; j++) {
			if (out->e[j].gen == e->gen &&
			    out->e[j].purpose == e->purpose)
				return cv_fail(CV_ERR_FORMAT, "keyring: entry "
				    "%zu is a duplicate", i);
		}
	}
	if (off != len)
		return cv_fail(CV_ERR_FORMAT, "keyring: trailing bytes");
	out->n = n;
	return CV_OK;
 trunc:
	memset(out, 0, sizeof *out);
	return cv_fail(CV_ERR_FORMAT, "keyring: truncated");
}

size_t
kr_size(const struct kr *kr)
{
	return KR_HEADER + kr->n * (KR_ENTRY_FIXED + KR_SEALED_BYTES);
}

void
kr_write(const struct kr *kr, uint8_t *out)
{
	size_t off = KR_HEADER;

	memcpy(out, KR_MAGIC, 4);
	out[4] = KR_VERSION;
	out[5] = 0;
	cv_put_u16be(out + 6, (uint16_t)kr->n);
	for (size_t i = 0; i < kr->n; i++) {
		cv_put_u32be(out + off, kr->e[i].gen);
		out[off + 4] = kr->e[i].purpose;
		out[off + 5] = kr->e[i].state;
		cv_put_u16be(out + off + 6, KR_SEALED_BYTES);
		memcpy(out + off + KR_ENTRY_FIXED, kr->e[i].sealed,
		    KR_SEALED_BYTES);
		off += KR_ENTRY_FIXED + KR_SEALED_BYTES;
	}
}
