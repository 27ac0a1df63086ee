/*
 * The log as C2SP tlog-tiles resources: hash tiles are runs of one
 * stored tree level (DIR/audit/tree/L holds exactly the hashes a tile
 * lists), entry bundles are runs of leaves reframed with a u16 length.
 * What may be served (what a checkpoint covers) is the caller's choice;
 * here only what the log holds is read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include "audit_internal.h"

cv_err
cv_audit_hashes(struct cv_audit *a, unsigned level, uint64_t first, size_t n,
    struct cv_buf *out)
{
	size_t at = out->len;
	cv_err r;

	if (n == 0 || n > CV_AUDIT_TILE_WIDTH)
		return cv_fail(CV_ERR_INVALID, "a tile is 1 to %d hashes",
		    CV_AUDIT_TILE_WIDTH);
	if ((r = cv_buf_reserve(out, n * CV_HASH_BYTES)) != CV_OK)
		return r;
	if ((r = audit_lock(a, LOCK_SH)) != CV_OK)
		return r;
	if ((r = audit_refresh(a)) != CV_OK)
		goto out;
	/* FIRST + N must not wrap: FIRST comes from a request path. */
	if (level >= AUDIT_LEVELS || first > (a->size >> level) ||
	    n > (a->size >> level) - first) {
		r = cv_fail(CV_ERR_NOT_FOUND, "the log has no %zu hashes of "
		    "level %u from %llu", n, level, (unsigned long long)first);
		goto out;
	}
	if (audit_level_fd(a, level) < 0) {
		r = audit_level_fail(a, level);
		goto out;
	}
	/* Nodes below the size are final: one contiguous read. */
	if ((r = audit_pread(a, audit_level_fd(a, level), out->p + at,
	    n * CV_HASH_BYTES, first * CV_HASH_BYTES)) != CV_OK)
		goto out;
	out->len = at + n * CV_HASH_BYTES;
 out:
	(void)audit_unlock(a);
	return r;
}

/* Where entries FIRST .. FIRST + N - 1 end (ENDS[0..N-1]) and where the
 * first starts (*START), from `offsets`, under the shared lock. */
static cv_err
bounds(struct cv_audit *a, uint64_t first, size_t n, uint64_t *start,
    uint64_t *ends)
{
	uint8_t b[8 * (CV_AUDIT_TILE_WIDTH + 1)];
	size_t skip = first == 0 ? 0 : 1;
	cv_err r;

	if ((r = audit_lock(a, LOCK_SH)) != CV_OK)
		return r;
	if ((r = audit_refresh(a)) == CV_OK && (first > a->size ||
	    n > a->size - first))
		r = cv_fail(CV_ERR_NOT_FOUND, "the log has no %zu entries "
		    "from %llu (it has %llu)", n, (unsigned long long)first,
		    (unsigned long long)a->size);
	/* Adjacent in `offsets`: one read (a round trip in PostgreSQL). */
	if (r == CV_OK)
		r = audit_pread(a, a->fd_offsets, b, 8 * (n + skip),
		    (first - skip) * 8);
	(void)audit_unlock(a);
	if (r != CV_OK)
		return r;
	*start = skip ? cv_get_u64be(b) : 0;
	for (size_t i = 0; i < n; i++)
		ends[i] = cv_get_u64be(b + 8 * (i + skip));
	return CV_OK;
}

cv_err
cv_audit_bundle(struct cv_audit *a, uint64_t first, size_t n,
    struct cv_buf *out)
{
	uint64_t ends[CV_AUDIT_TILE_WIDTH], start = 0, prev;
	struct cv_buf raw = { 0 };
	size_t at = out->len, pos = 0;
	cv_err r;

	if (n == 0 || n > CV_AUDIT_TILE_WIDTH)
		return cv_fail(CV_ERR_INVALID, "a bundle is 1 to %d entries",
		    CV_AUDIT_TILE_WIDTH);
	if ((r = bounds(a, first, n, &start, ends)) != CV_OK)
		return r;
	/* Every length checked before anything is read: a bundle is then
	 * at most 256 × (4 + 65535) bytes, whatever the offsets say. */
	prev = start;
	for (size_t i = 0; i < n; i++) {
		if (ends[i] < prev + 4 || ends[i] - prev - 4 >
		    CV_AUDIT_MAX_LEAF) {
			r = cv_fail(CV_ERR_FORMAT, "audit log: entry %llu is "
			    "out of bounds in %s/offsets; run 'clearvault "
			    "audit verify'", (unsigned long long)(first + i),
			    a->dir);
			goto out;
		}
		if (ends[i] - prev - 4 > CV_AUDIT_BUNDLE_MAX_ENTRY) {
			r = cv_fail(CV_ERR_LIMIT, "audit entry %llu is %llu "
			    "bytes, more than an entry bundle's u16 length "
			    "can carry", (unsigned long long)(first + i),
			    (unsigned long long)(ends[i] - prev - 4));
			goto out;
		}
		prev = ends[i];
	}
	/* Entries below the size are final (see cv_audit_leaf): read
	 * without the lock, writers never wait for a bundle. */
	if ((r = cv_buf_reserve(&raw, prev - start)) != CV_OK ||
	    (r = audit_pread(a, a->fd_entries, raw.p, prev - start,
	    start)) != CV_OK)
		goto out;
	raw.len = prev - start;
	/* u32 length || leaf becomes u16 length || leaf: 2 bytes less. */
	if ((r = cv_buf_reserve(out, raw.len - 2 * n)) != CV_OK)
		goto out;
	prev = start;
	for (size_t i = 0; i < n; i++) {
		size_t len = (size_t)(ends[i] - prev - 4);

		/* The frame's own length must agree with the index. */
		if (cv_get_u32be(raw.p + pos) != len) {
			r = cv_fail(CV_ERR_FORMAT, "audit log: entry %llu in "
			    "%s/entries does not match its offsets; run "
			    "'clearvault audit verify'",
			    (unsigned long long)(first + i), a->dir);
			goto out;
		}
		cv_put_u16be(out->p + out->len, (uint16_t)len);
		memcpy(out->p + out->len + 2, raw.p + pos + 4, len);
		out->len += 2 + len;
		pos += 4 + len;
		prev = ends[i];
	}
	r = CV_OK;
 out:
	if (r != CV_OK)
		out->len = at;
	cv_buf_free(&raw);
	return r;
}
