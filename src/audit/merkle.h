/*
 * RFC 9162 section 2.1 Merkle trees over SHA-256: leaf hash
 * SHA-256(0x00 || data), node hash SHA-256(0x01 || left || right), and
 * inclusion and consistency proofs, generated and verified.
 *
 * Private to the audit module (audit.h is the public header); the KAT
 * test and fuzz targets include it directly.
 */
#ifndef CV_AUDIT_MERKLE_H
#define CV_AUDIT_MERKLE_H

#include "../base/base.h"

#define CV_HASH_BYTES 32
#define CV_MERKLE_MAX_PROOF 64

void cv_merkle_leaf_hash(const void *data, size_t len,
    uint8_t out[static CV_HASH_BYTES]);
void cv_merkle_node_hash(const uint8_t left[static CV_HASH_BYTES],
    const uint8_t right[static CV_HASH_BYTES],
    uint8_t out[static CV_HASH_BYTES]);
/* SHA-256 of nothing: the root of the empty tree. */
void cv_merkle_empty_root(uint8_t out[static CV_HASH_BYTES]);

/*
 * Where proofs get their hashes: the hash of the complete, aligned subtree
 * of 2^LEVEL leaves starting at leaf INDEX << LEVEL. Returns CV_OK or an
 * error (storage unreadable), which the proof functions pass on.
 */
typedef cv_err (*cv_merkle_node_fn)(void *ctx, unsigned level,
    uint64_t index, uint8_t out[static CV_HASH_BYTES]);

/* The root of the first SIZE leaves (SIZE > 0), in O(log SIZE) reads. */
cv_err cv_merkle_root(cv_merkle_node_fn fn, void *ctx, uint64_t size,
    uint8_t out[static CV_HASH_BYTES]) CV_MUST_CHECK;

/*
 * The inclusion proof of leaf INDEX in the tree of SIZE leaves (RFC 9162
 * 2.1.3.1) into proof[], *n hashes. CV_ERR_INVALID if INDEX >= SIZE.
 */
cv_err cv_merkle_prove_inclusion(cv_merkle_node_fn fn, void *ctx,
    uint64_t index, uint64_t size,
    uint8_t proof[][CV_HASH_BYTES], size_t *n) CV_MUST_CHECK;

/* The consistency proof from SIZE1 to SIZE2 (0 < SIZE1 <= SIZE2). */
cv_err cv_merkle_prove_consistency(cv_merkle_node_fn fn, void *ctx,
    uint64_t size1, uint64_t size2,
    uint8_t proof[][CV_HASH_BYTES], size_t *n) CV_MUST_CHECK;

/*
 * RFC 9162 2.1.3.2. CV_OK when PROOF shows the leaf with hash LEAF at
 * INDEX in the tree of SIZE leaves with ROOT; CV_ERR_AUTH otherwise (with
 * a detail saying why).
 */
cv_err cv_merkle_verify_inclusion(uint64_t index, uint64_t size,
    const uint8_t leaf[static CV_HASH_BYTES],
    const uint8_t proof[][CV_HASH_BYTES], size_t n,
    const uint8_t root[static CV_HASH_BYTES]) CV_MUST_CHECK;

/*
 * RFC 9162 2.1.4.2. A proof from size 0 proves nothing and is refused;
 * equal sizes need an empty proof and equal roots. CV_ERR_AUTH otherwise.
 */
cv_err cv_merkle_verify_consistency(uint64_t size1, uint64_t size2,
    const uint8_t root1[static CV_HASH_BYTES],
    const uint8_t root2[static CV_HASH_BYTES],
    const uint8_t proof[][CV_HASH_BYTES], size_t n) CV_MUST_CHECK;

#endif
