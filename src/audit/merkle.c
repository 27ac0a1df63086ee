/*
 * SHA-256 through nettle, which uses the CPU's SHA extensions where they
 * exist: verification hashes every entry, and libsodium's portable
 * SHA-256 is about three times slower here.
 */
#include <string.h>

#include <nettle/sha2.h>

#include "merkle.h"

void
cv_merkle_leaf_hash(const void *data, size_t len,
    uint8_t out[static CV_HASH_BYTES])
{
	struct sha256_ctx c;
	static const uint8_t prefix = 0x00;

	sha256_init(&c);
	sha256_update(&c, 1, &prefix);
	sha256_update(&c, len, data);
	sha256_digest(&c, CV_HASH_BYTES, out);
}

void
cv_merkle_node_hash(const uint8_t left[static CV_HASH_BYTES],
    const uint8_t right[static CV_HASH_BYTES], uint8_t out[static CV_HASH_BYTES])
{
	struct sha256_ctx c;
	uint8_t buf[1 + 2 * CV_HASH_BYTES];

	buf[0] = 0x01;
	memcpy(buf + 1, left, CV_HASH_BYTES);
	memcpy(buf + 1 + CV_HASH_BYTES, right, CV_HASH_BYTES);
	sha256_init(&c);
	sha256_update(&c, sizeof buf, buf);
	sha256_digest(&c, CV_HASH_BYTES, out);
}

void
cv_merkle_empty_root(uint8_t out[static CV_HASH_BYTES])
{
	struct sha256_ctx c;

	sha256_init(&c);
	sha256_digest(&c, CV_HASH_BYTES, out);
}

/* Largest power of two strictly below n (n >= 2). */
static uint64_t
split(uint64_t n)
{
	uint64_t k = 1;

	while (k << 1 < n)
		k <<= 1;
	return k;
}

static unsigned
log2_exact(uint64_t n)
{
	unsigned l = 0;

	while ((1ULL << l) < n)
		l++;
	return l;
}

/*
 * MTH(D[start:start+n]). START is a multiple of the largest power of two
 * not above n, as every call below guarantees, so a power-of-two range is
 * one stored node and any other splits into O(log n) of them.
 */
static cv_err
range_hash(cv_merkle_node_fn fn, void *ctx, uint64_t start, uint64_t n,
    uint8_t out[static CV_HASH_BYTES])
{
	uint8_t l[CV_HASH_BYTES], r[CV_HASH_BYTES];
	uint64_t k;
	cv_err e;

	if ((n & (n - 1)) == 0) {
		unsigned lv = log2_exact(n);
		return fn(ctx, lv, start >> lv, out);
	}
	k = split(n);
	if ((e = range_hash(fn, ctx, start, k, l)) != CV_OK ||
	    (e = range_hash(fn, ctx, start + k, n - k, r)) != CV_OK)
		return e;
	cv_merkle_node_hash(l, r, out);
	return CV_OK;
}

cv_err
cv_merkle_root(cv_merkle_node_fn fn, void *ctx, uint64_t size,
    uint8_t out[static CV_HASH_BYTES])
{
	if (size == 0) {
		cv_merkle_empty_root(out);
		return CV_OK;
	}
	return range_hash(fn, ctx, 0, size, out);
}

/* PATH(m, D[start:start+n]), appended to proof in RFC order. */
static cv_err
path(cv_merkle_node_fn fn, void *ctx, uint64_t m, uint64_t start, uint64_t n,
    uint8_t proof[][CV_HASH_BYTES], size_t *len)
{
	uint64_t k;
	cv_err e;

	if (n <= 1)
		return CV_OK;
	k = split(n);
	if (m < k) {
		if ((e = path(fn, ctx, m, start, k, proof, len)) != CV_OK)
			return e;
		return range_hash(fn, ctx, start + k, n - k, proof[(*len)++]);
	}
	if ((e = path(fn, ctx, m - k, start + k, n - k, proof, len)) != CV_OK)
		return e;
	return range_hash(fn, ctx, start, k, proof[(*len)++]);
}

cv_err
cv_merkle_prove_inclusion(cv_merkle_node_fn fn, void *ctx, uint64_t index,
    uint64_t size, uint8_t proof[][CV_HASH_BYTES], size_t *n)
{
	*n = 0;
	if (index >= size)
		return cv_fail(CV_ERR_INVALID, "index %llu is not below tree "
		    "size %llu", (unsigned long long)index,
		    (unsigned long long)size);
	return path(fn, ctx, index, 0, size, proof, n);
}

/* SUBPROOF(m, D[start:start+n], b) of RFC 9162 2.1.4.1. */
static cv_err
subproof(cv_merkle_node_fn fn, void *ctx, uint64_t m, uint64_t start,
    uint64_t n, int b, uint8_t proof[][CV_HASH_BYTES], size_t *len)
{
	uint64_t k;
	cv_err e;

	if (m == n) {
		if (b)
			return CV_OK;
		return range_hash(fn, ctx, start, n, proof[(*len)++]);
	}
	k = split(n);
	if (m <= k) {
		if ((e = subproof(fn, ctx, m, start, k, b, proof, len)) !=
		    CV_OK)
			return e;
		return range_hash(fn, ctx, start + k, n - k, proof[(*len)++]);
	}
	if ((e = subproof(fn, ctx, m - k, start + k, n - k, 0, proof, len)) !=
	    CV_OK)
		return e;
	return range_hash(fn, ctx, start, k, proof[(*len)++]);
}

cv_err
cv_merkle_prove_consistency(cv_merkle_node_fn fn, void *ctx, uint64_t size1,
    uint64_t size2, uint8_t proof[][CV_HASH_BYTES], size_t *n)
{
	*n = 0;
	if (size1 == 0 || size1 > size2)
		return cv_fail(CV_ERR_INVALID, "no consistency proof from "
		    "size %llu to %llu", (unsigned long long)size1,
		    (unsigned long long)size2);
	if (size1 == size2)
		return CV_OK;
	return subproof(fn, ctx, size1, 0, size2, 1, proof, n);
}

cv_err
cv_merkle_verify_inclusion(uint64_t index, uint64_t size,
    const uint8_t leaf[static CV_HASH_BYTES],
    const uint8_t proof[][CV_HASH_BYTES], size_t n,
    const uint8_t root[static CV_HASH_BYTES])
{
	uint8_t r[CV_HASH_BYTES];
	uint64_t fn = index, sn = size - 1;
	size_t i;

	if (index >= size)
		return cv_fail(CV_ERR_AUTH, "index %llu is not below tree "
		    "size %llu", (unsigned long long)index,
		    (unsigned long long)size);
	memcpy(r, leaf, CV_HASH_BYTES);
	for (i = 0; i < n; i++) {
		if (sn == 0)
			return cv_fail(CV_ERR_AUTH, "inclusion proof too "
			    "long");
		if ((fn & 1) || fn == sn) {
			cv_merkle_node_hash(proof[i], r, r);
			if (!(fn & 1)) {
				while (fn != 0 && !(fn & 1)) {
					fn >>= 1;
					sn >>= 1;
				}
			}
		} else {
			cv_merkle_node_hash(r, proof[i], r);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0)
		return cv_fail(CV_ERR_AUTH, "inclusion proof too short");
	if (memcmp(r, root, CV_HASH_BYTES) != 0)
		return cv_fail(CV_ERR_AUTH, "inclusion proof does not lead to "
		    "the root");
	return CV_OK;
}

cv_err
cv_merkle_verify_consistency(uint64_t size1, uint64_t size2,
    const uint8_t root1[static CV_HASH_BYTES],
    const uint8_t root2[static CV_HASH_BYTES],
    const uint8_t proof[][CV_HASH_BYTES], size_t n)
{
	uint8_t fr[CV_HASH_BYTES], sr[CV_HASH_BYTES];
	uint64_t fn, sn;
	size_t i = 0;

	if (size1 > size2)
		return cv_fail(CV_ERR_AUTH, "the older tree is larger");
	if (size1 == size2) {
		if (n != 0)
			return cv_fail(CV_ERR_AUTH, "equal sizes need an "
			    "empty proof");
		if (memcmp(root1, root2, CV_HASH_BYTES) != 0)
			return cv_fail(CV_ERR_AUTH, "equal sizes, different "
			    "roots");
		if (size1 == 0)
			return cv_fail(CV_ERR_AUTH, "empty trees prove "
			    "nothing");
		return CV_OK;
	}
	if (size1 == 0)
		return cv_fail(CV_ERR_AUTH, "a proof from the empty tree "
		    "proves nothing");
	if (n == 0)
		return cv_fail(CV_ERR_AUTH, "empty consistency proof");
	fn = size1 - 1;
	sn = size2 - 1;
	/* If size1 is a power of two, root1 is the first proof node. */
	if ((size1 & (size1 - 1)) == 0) {
		memcpy(fr, root1, CV_HASH_BYTES);
		memcpy(sr, root1, CV_HASH_BYTES);
	} else {
		memcpy(fr, proof[0], CV_HASH_BYTES);
		memcpy(sr, proof[0], CV_HASH_BYTES);
		i = 1;
	}
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	for (; i < n; i++) {
		if (sn == 0)
			return cv_fail(CV_ERR_AUTH, "consistency proof too "
			    "long");
		if ((fn & 1) || fn == sn) {
			cv_merkle_node_hash(proof[i], fr, fr);
			cv_merkle_node_hash(proof[i], sr, sr);
			if (!(fn & 1)) {
				while (fn != 0 && !(fn & 1)) {
					fn >>= 1;
					sn >>= 1;
				}
			}
		} else {
			cv_merkle_node_hash(sr, proof[i], sr);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0)
		return cv_fail(CV_ERR_AUTH, "consistency proof too short");
	if (memcmp(fr, root1, CV_HASH_BYTES) != 0)
		return cv_fail(CV_ERR_AUTH, "consistency proof does not lead "
		    "to the old root");
	if (memcmp(sr, root2, CV_HASH_BYTES) != 0)
		return cv_fail(CV_ERR_AUTH, "consistency proof does not lead "
		    "to the new root");
	return CV_OK;
}
