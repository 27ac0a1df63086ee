/*
 * Crash repair, at every read-write open. The latest checkpoint is the
 * boundary: below it the files were synced before it was signed, so
 * damage there is tampering, refused and never cut away. Past it
 * `entries` is the truth and the derived files are rebuilt from it. A
 * frame past the boundary that is not a valid entry (a torn write: the
 * zeros or garbage a power loss between write and fdatasync leaves) ends
 * the log there: the rest is set aside in a file, cut, and the cut is an
 * entry of its own, so that nothing but valid entries is ever signed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "audit_internal.h"

#define CHUNK (8u << 20)

/* What a repair cut. */
struct cut {
	uint64_t at, bytes;	/* where in `entries`, how much */
	uint64_t after;		/* entries before it */
	uint8_t hash[crypto_hash_sha256_BYTES];	/* of the cut bytes */
	char kept[64];		/* where they are kept, under DIR/audit */
};

static cv_err
damaged(struct cv_audit *a, uint64_t size)
{
	return cv_fail(CV_ERR_FORMAT, "audit log: the files in %s disagree "
	    "with the latest checkpoint (%llu entries): damage below it; run "
	    "'clearvault audit verify'", a->dir, (unsigned long long)size);
}

/*
 * A checkpoint frame torn at the tail of `checkpoints` (its write failed
 * or a crash cut it short, before the sync that acknowledges it) is cut,
 * so that the next one follows the last whole frame.
 */
static cv_err
cut_torn_checkpoint(struct cv_audit *a)
{
	uint64_t size, end;
	cv_err r;

	if ((r = audit_size(a, a->fd_ckpt, &size)) != CV_OK ||
	    (r = audit_ckpt_end(a, size, &end)) != CV_OK || end == size)
		return r;
	if (ftruncate(a->fd_ckpt, (off_t)end) != 0)
		return audit_io_fail(a, a->fd_ckpt, "truncate");
	if ((r = audit_sync(a, a->fd_ckpt)) != CV_OK)
		return r;
	fprintf(stderr, "clearvault: audit log %s: cut a torn checkpoint "
	    "frame (%llu bytes at byte %llu): an interrupted write\n", a->dir,
	    (unsigned long long)(size - end), (unsigned long long)end);
	return CV_OK;
}

/*
 * The latest checkpoint C (NOTE) is this vault's, and the files agree
 * with it at its end: the stored tree gives its root, and the last entry
 * it covers lies where the offsets say and is included under that root.
 * O(log n) reads. Whatever is appended next builds on exactly these.
 */
static cv_err
check_boundary(struct cv_audit *a, const struct cv_buf *note,
    const struct cv_checkpoint *c)
{
	uint8_t pk[CV_AUDIT_PK_BYTES], root[CV_HASH_BYTES], h[CV_HASH_BYTES];
	uint8_t proof[CV_MERKLE_MAX_PROOF][CV_HASH_BYTES], len[4];
	struct cv_audit_view v;
	struct cv_buf leaf = { 0 };
	uint64_t start;
	size_t tl, n;
	cv_err r;

	memcpy(pk, a->signer.pk, sizeof pk);
	if (cv_note_verify((const char *)note->p, note->len, a->origin, pk,
	    &tl) != CV_OK)
		return cv_fail(CV_ERR_FORMAT, "audit log: the latest "
		    "checkpoint in %s/checkpoints is not signed by this "
		    "vault's audit key; run 'clearvault audit verify'", a->dir);
	if (c->size == 0)
		return CV_OK;
	if ((r = cv_merkle_root(cv_audit_node, a, c->size, root)) != CV_OK ||
	    (r = audit_entry_end(a, c->size - 1, &start)) != CV_OK)
		goto out;
	if (memcmp(root, c->root, CV_HASH_BYTES) != 0 ||
	    a->end < start + 4 || a->end - start - 4 > CV_AUDIT_MAX_LEAF) {
		r = damaged(a, c->size);
		goto out;
	}
	if ((r = audit_pread(a, a->fd_entries, len, 4, start)) != CV_OK ||
	    (r = cv_buf_reserve(&leaf, a->end - start - 4)) != CV_OK ||
	    (r = audit_pread(a, a->fd_entries, leaf.p, a->end - start - 4,
	    start + 4)) != CV_OK)
		goto out;
	leaf.len = a->end - start - 4;
	cv_merkle_leaf_hash(leaf.p, leaf.len, h);
	/* A level that cannot be read is said as such (naming the file),
	 * not as damage. */
	if ((r = cv_merkle_prove_inclusion(cv_audit_node, a, c->size - 1,
	    c->size, proof, &n)) != CV_OK)
		goto out;
	if (cv_get_u32be(len) != leaf.len ||
	    cv_audit_view(leaf.p, leaf.len, &v) != CV_OK ||
	    cv_merkle_verify_inclusion(c->size - 1, c->size, h,
	    (const uint8_t (*)[CV_HASH_BYTES])proof, n, c->root) != CV_OK) {
		r = damaged(a, c->size);
		goto out;
	}
	r = CV_OK;
 out:
	cv_buf_free(&leaf);
	return r;
}

static cv_err
write_all(int fd, const uint8_t *p, size_t len)
{
	ssize_t n;

	while (len) {
		if ((n = write(fd, p, len)) < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return CV_ERR_IO;
		p += n;
		len -= (size_t)n;
	}
	return CV_OK;
}

/*
 * Copies bytes FROM to TO of `entries` into a new file DIR/audit/torn-*,
 * durably (file and folder synced), hashing them, before they are cut: a
 * tail past the last checkpoint is unsigned, and what a repair removes
 * stays at hand for whoever looks into it.
 */
static cv_err
keep_aside(struct cv_audit *a, uint64_t from, uint64_t to, struct cut *cut)
{
	crypto_hash_sha256_state hs;
	char path[1200];
	uint8_t *buf = NULL;
	int fd = -1, dfd = -1;
	cv_err r;

	snprintf(cut->kept, sizeof cut->kept, "torn-%llu-%lld",
	    (unsigned long long)from, (long long)cv_time_us());
	if ((r = cv_path(path, sizeof path, "%s/%s", a->dir, cut->kept)) !=
	    CV_OK)
		return r;
	if ((buf = malloc(CHUNK)) == NULL)
		return CV_ERR_NOMEM;
	crypto_hash_sha256_init(&hs);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) < 0) {
		r = cv_fail(CV_ERR_IO, "audit log: cannot create %s: %s", path,
		    strerror(errno));
		goto out;
	}
	for (uint64_t off = from; off < to;) {
		size_t n = to - off < CHUNK ? (size_t)(to - off) : CHUNK;
		if ((r = audit_pread(a, a->fd_entries, buf, n, off)) != CV_OK)
			goto out;
		crypto_hash_sha256_update(&hs, buf, n);
		if (write_all(fd, buf, n) != CV_OK) {
			r = cv_fail(CV_ERR_IO, "audit log: cannot write %s: %s",
			    path, strerror(errno));
			goto out;
		}
		off += n;
	}
	crypto_hash_sha256_final(&hs, cut->hash);
	if (fsync(fd) != 0 || (dfd = open(a->dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0 || fsync(dfd) != 0) {
		r = cv_fail(CV_ERR_IO, "audit log: cannot sync %s: %s", path,
		    strerror(errno));
		goto out;
	}
	r = CV_OK;
 out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	free(buf);
	return r;
}

/*
 * Under the exclusive lock: re-reads and re-indexes everything past the
 * latest checkpoint, a chunk at a time, strictly; a frame that is not a
 * valid entry ends the log, and the rest is kept aside and cut (*CUT).
 * The derived files are written over in place (never truncated first), so
 * that readers without the lock see the same bytes throughout.
 */
static cv_err
repair_locked(struct cv_audit *a, struct cut *cut)
{
	struct cv_checkpoint c;
	struct cv_buf note = { 0 }, buf = { 0 };
	struct cv_audit_view v;
	uint64_t end, next, osize;
	int bad = 0;
	cv_err r;

	if (!a->pg && (r = cut_torn_checkpoint(a)) != CV_OK)
		goto out;
	if ((r = audit_latest_checkpoint(a, &note, &c)) != CV_OK)
		goto out;
	if ((r = audit_size(a, a->fd_offsets, &osize)) != CV_OK)
		goto out;
	if (osize / 8 < c.size) {
		r = cv_fail(CV_ERR_FORMAT, "audit log: %s/offsets is truncated "
		    "below the last checkpoint (%llu entries); run 'clearvault "
		    "audit verify'", a->dir, (unsigned long long)c.size);
		goto out;
	}
	if ((r = audit_load_state(a, c.size)) != CV_OK ||
	    (note.len && (r = check_boundary(a, &note, &c)) != CV_OK))
		goto out;
	if ((r = audit_size(a, a->fd_entries, &end)) != CV_OK)
		goto out;
	if (end < a->end) {
		r = cv_fail(CV_ERR_FORMAT, "audit log: %s/entries is truncated "
		    "below the last checkpoint; run 'clearvault audit verify'",
		    a->dir);
		goto out;
	}
	/* BUF holds the bytes from a->end (the next frame) to NEXT. */
	for (next = a->end;;) {
		size_t pos = 0, n = 0, want;
		while (buf.len - pos >= 4) {
			uint32_t len = cv_get_u32be(buf.p + pos);
			if (len > CV_AUDIT_MAX_LEAF) {
				bad = 1;
				break;
			}
			if (buf.len - pos - 4 < len)
				break;	/* more to read, or torn */
			if (cv_audit_view(buf.p + pos + 4, len, &v) != CV_OK) {
				bad = 1;
				break;
			}
			pos += 4 + (size_t)len;
			n++;
		}
		if (n && (r = audit_index_leaves(a, buf.p, pos, n)) != CV_OK)
			goto out;
		if (pos) {
			memmove(buf.p, buf.p + pos, buf.len - pos);
			buf.len -= pos;
		}
		if (bad || next == end)
			break;
		want = end - next < CHUNK ? (size_t)(end - next) : CHUNK;
		if ((r = cv_buf_reserve(&buf, want)) != CV_OK ||
		    (r = audit_pread(a, a->fd_entries, buf.p + buf.len, want,
		    next)) != CV_OK)
			goto out;
		buf.len += want;
		next += want;
	}
	if ((r = audit_truncate(a, a->fd_offsets, a->size * 8)) != CV_OK)
		goto out;
	if (a->end < end) {
		cut->at = a->end;
		cut->bytes = end - a->end;
		cut->after = a->size;
		if ((r = keep_aside(a, a->end, end, cut)) != CV_OK)
			goto out;
		if ((r = audit_truncate(a, a->fd_entries, a->end)) != CV_OK)
			goto out;
		/* Durable before anything is appended where it was. */
		r = audit_sync(a, a->fd_entries);
	}
 out:
	cv_buf_free(&note);
	cv_buf_free(&buf);
	return r;
}

cv_err
audit_repair(struct cv_audit *a)
{
	struct cv_audit_entry e = { .outcome = CV_AUDIT_ERROR,
	    .action = "audit.repair" };
	struct cut cut = { 0 };
	char why[400], hex[2 * crypto_hash_sha256_BYTES + 1];
	cv_err r;

	if ((r = audit_lock(a, LOCK_EX)) != CV_OK)
		return r;
	/* In PostgreSQL a transaction: all of the repair or none. */
	if ((r = repair_locked(a, &cut)) == CV_OK)
		r = audit_unlock(a);
	else
		audit_abort(a);
	if (r != CV_OK || cut.bytes == 0)
		return r;
	sodium_bin2hex(hex, sizeof hex, cut.hash, sizeof cut.hash);
	snprintf(why, sizeof why, "cut %llu bytes at byte %llu (after %llu "
	    "entries): not a valid entry (a torn write); kept in audit/%s, "
	    "sha256 %s", (unsigned long long)cut.bytes,
	    (unsigned long long)cut.at, (unsigned long long)cut.after,
	    cut.kept, hex);
	/* Said once, where it happened: the operator sees it at once, and
	 * the log keeps it. */
	fprintf(stderr, "clearvault: audit log %s: %s\n", a->dir, why);
	e.reason = why;
	return cv_audit_append(a, &e, NULL);
}
