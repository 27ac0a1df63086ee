/*
 * ECDSA P-256 key pairs made inside the token (the vault CA's): the
 * private half is sensitive and non-extractable, so a root shell on the
 * server can use it only while it is there, never take it away. Browsers
 * accept P-256 where they refuse Ed25519, hence the curve.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "keys_internal.h"

/* DER of the OID prime256v1 (1.2.840.10045.3.1.7). */
static const uint8_t p256_oid[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
	0x3d, 0x03, 0x01, 0x07 };

#define EC_ID_BYTES 16
#define EC_MAX_DUPS 8

/* Up to *N objects of class CLS and type EC labelled LABEL, and with ID
 * unless it is NULL. */
static cv_err
ec_find(struct p11 *p, CK_OBJECT_CLASS cls, const char *label,
    const uint8_t *id, CK_OBJECT_HANDLE *h, CK_ULONG *n)
{
	CK_KEY_TYPE kt = CKK_EC;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof cls },
		{ CKA_KEY_TYPE, &kt, sizeof kt },
		{ CKA_LABEL, (void *)(uintptr_t)label, strlen(label) },
		{ CKA_ID, (void *)(uintptr_t)id, EC_ID_BYTES },
	};
	CK_RV rv;

	rv = p->f->C_FindObjectsInit(p->sess, tmpl, id ? 4 : 3);
	if (rv != CKR_OK)
		return ck_fail(CV_ERR_HSM, "C_FindObjectsInit", rv);
	rv = p->f->C_FindObjects(p->sess, h, *n, n);
	(void)p->f->C_FindObjectsFinal(p->sess);
	if (rv != CKR_OK)
		return ck_fail(CV_ERR_HSM, "C_FindObjects", rv);
	return CV_OK;
}

cv_err
p11_ec_gen(struct p11 *p, const char *label)
{
	CK_MECHANISM mech = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	uint8_t id[EC_ID_BYTES];
	CK_ATTRIBUTE pub[] = {
		{ CKA_EC_PARAMS, (void *)(uintptr_t)p256_oid, sizeof p256_oid },
		{ CKA_TOKEN, &yes, sizeof yes },
		{ CKA_VERIFY, &yes, sizeof yes },
		{ CKA_LABEL, (void *)(uintptr_t)label, strlen(label) },
		{ CKA_ID, id, sizeof id },
	};
	CK_ATTRIBUTE priv[] = {
		{ CKA_TOKEN, &yes, sizeof yes },
		{ CKA_PRIVATE, &yes, sizeof yes },
		{ CKA_SENSITIVE, &yes, sizeof yes },
		{ CKA_EXTRACTABLE, &no, sizeof no },
		{ CKA_SIGN, &yes, sizeof yes },
		{ CKA_DECRYPT, &no, sizeof no },
		{ CKA_DERIVE, &no, sizeof no },
		{ CKA_LABEL, (void *)(uintptr_t)label, strlen(label) },
		{ CKA_ID, id, sizeof id },
	};
	CK_OBJECT_HANDLE hpub, hpriv;
	CK_RV rv;

	randombytes_buf(id, sizeof id);
	rv = p->f->C_GenerateKeyPair(p->sess, &mech, pub,
	    sizeof pub / sizeof pub[0], priv, sizeof priv / sizeof priv[0],
	    &hpub, &hpriv);
	if (rv != CKR_OK)
		return ck_fail(CV_ERR_HSM, "C_GenerateKeyPair (EC P-256)", rv);
	return CV_OK;
}

/* The uncompressed point of public key H: CKA_EC_POINT is a DER OCTET
 * STRING by the standard, the bare point in some modules. */
static cv_err
ec_point(struct p11 *p, CK_OBJECT_HANDLE h, uint8_t point[static P11_EC_POINT])
{
	uint8_t buf[80];
	CK_ATTRIBUTE a = { CKA_EC_POINT, buf, sizeof buf };
	const uint8_t *q = buf;
	CK_RV rv;

	if ((rv = p->f->C_GetAttributeValue(p->sess, h, &a, 1)) != CKR_OK)
		return ck_fail(CV_ERR_HSM, "C_GetAttributeValue (EC point)", rv);
	if (a.ulValueLen == P11_EC_POINT + 2 && buf[0] == 0x04 &&
	    buf[1] == P11_EC_POINT)
		q = buf + 2;
	else if (a.ulValueLen != P11_EC_POINT)
		return cv_fail(CV_ERR_HSM_KEY, "the token's EC key is not a "
		    "P-256 point (%lu bytes)", (unsigned long)a.ulValueLen);
	if (q[0] != 0x04)
		return cv_fail(CV_ERR_HSM_KEY, "the token's EC point is not "
		    "uncompressed");
	memcpy(point, q, P11_EC_POINT);
	return CV_OK;
}

cv_err
p11_ec_find(struct p11 *p, const char *label, CK_OBJECT_HANDLE *priv,
    uint8_t point[static P11_EC_POINT])
{
	CK_OBJECT_HANDLE h[EC_MAX_DUPS], pub;
	CK_ULONG n = EC_MAX_DUPS, npub = 1;
	uint8_t id[EC_ID_BYTES], best[EC_ID_BYTES];
	CK_ATTRIBUTE a = { CKA_ID, id, sizeof id };
	CK_ULONG i, pick = 0;
	cv_err r;

	if ((r = ec_find(p, CKO_PRIVATE_KEY, label, NULL, h, &n)) != CV_OK)
		return r;
	if (n == 0)
		return cv_fail(CV_ERR_NOT_FOUND, "no key '%s' in the token",
		    label);
	if (n == EC_MAX_DUPS)
		return cv_fail(CV_ERR_HSM_KEY, "%d or more keys '%s' in the "
		    "token: not one that every process would agree on",
		    EC_MAX_DUPS, label);
	/* Two processes that found none and made one at once: each takes
	 * the same one, the lowest id. */
	for (i = 0; i < n; i++) {
		a.ulValueLen = sizeof id;
		if (p->f->C_GetAttributeValue(p->sess, h[i], &a, 1) != CKR_OK ||
		    a.ulValueLen != sizeof id)
			return cv_fail(CV_ERR_HSM_KEY, "key '%s' in the token "
			    "has no usable id", label);
		if (i == 0 || memcmp(id, best, sizeof id) < 0) {
			memcpy(best, id, sizeof id);
			pick = i;
		}
	}
	if ((r = ec_find(p, CKO_PUBLIC_KEY, label, best, &pub, &npub)) != CV_OK)
		return r;
	if (npub != 1)
		return cv_fail(CV_ERR_HSM_KEY, "key '%s' in the token has no "
		    "public half", label);
	if ((r = ec_point(p, pub, point)) != CV_OK)
		return r;
	*priv = h[pick];
	return CV_OK;
}

cv_err
p11_ec_sign(struct p11 *p, CK_OBJECT_HANDLE priv,
    const uint8_t hash[static 32], uint8_t sig[static P11_EC_SIG])
{
	CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
	CK_ULONG len = P11_EC_SIG;
	CK_RV rv;

	if ((rv = p->f->C_SignInit(p->sess, &m, priv)) != CKR_OK)
		return ck_fail(CV_ERR_HSM, "C_SignInit (ECDSA)", rv);
	rv = p->f->C_Sign(p->sess, (CK_BYTE_PTR)(uintptr_t)hash, 32, sig, &len);
	if (rv != CKR_OK)
		return ck_fail(CV_ERR_HSM, "C_Sign (ECDSA)", rv);
	if (len != P11_EC_SIG)
		return cv_fail(CV_ERR_HSM, "the token's ECDSA signature has %lu "
		    "bytes, not %d", (unsigned long)len, P11_EC_SIG);
	return CV_OK;
}

/* Each object of class CLS labelled FROM, copied in the token as TO. */
static cv_err
copy_class(struct p11 *p, CK_OBJECT_CLASS cls, const char *from,
    const char *to)
{
	CK_OBJECT_HANDLE h[EC_MAX_DUPS], copy;
	CK_ULONG n = EC_MAX_DUPS;
	CK_ATTRIBUTE a = { CKA_LABEL, (void *)(uintptr_t)to, strlen(to) };
	CK_RV rv;
	cv_err r;

	if ((r = ec_find(p, cls, from, NULL, h, &n)) != CV_OK)
		return r;
	if (n == EC_MAX_DUPS)
		return cv_fail(CV_ERR_HSM_KEY, "too many keys '%s' to copy",
		    from);
	for (CK_ULONG i = 0; i < n; i++) {
		if ((rv = p->f->C_CopyObject(p->sess, h[i], &a, 1, &copy)) !=
		    CKR_OK)
			return ck_fail(CV_ERR_HSM, "C_CopyObject (EC key)", rv);
	}
	return CV_OK;
}

cv_err
p11_ec_copy(struct p11 *p, const char *from, const char *to)
{
	cv_err r;

	if ((r = copy_class(p, CKO_PRIVATE_KEY, from, to)) != CV_OK ||
	    (r = copy_class(p, CKO_PUBLIC_KEY, from, to)) != CV_OK)
		return r;
	return CV_OK;
}

cv_err
p11_ec_destroy(struct p11 *p, const char *label)
{
	static const CK_OBJECT_CLASS cls[2] = { CKO_PRIVATE_KEY,
		CKO_PUBLIC_KEY };
	CK_OBJECT_HANDLE h[EC_MAX_DUPS];
	CK_ULONG n;
	CK_RV rv;
	cv_err r;

	/* Bounded: a token holds few objects with one label. */
	for (int c = 0, rounds = 0; c < 2 && rounds < 64; rounds++) {
		n = EC_MAX_DUPS;
		if ((r = ec_find(p, cls[c], label, NULL, h, &n)) != CV_OK)
			return r;
		if (n == 0) {
			c++;
			continue;
		}
		for (CK_ULONG i = 0; i < n; i++) {
			if ((rv = p->f->C_DestroyObject(p->sess, h[i])) !=
			    CKR_OK)
				return ck_fail(CV_ERR_HSM, "C_DestroyObject",
				    rv);
		}
	}
	n = EC_MAX_DUPS;
	if ((r = ec_find(p, CKO_PRIVATE_KEY, label, NULL, h, &n)) != CV_OK)
		return r;
	return n == 0 ? CV_OK : cv_fail(CV_ERR_HSM, "too many objects "
	    "labelled %s to destroy", label);
}
