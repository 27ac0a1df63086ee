/*
 * Checkpoints: signed at most once a second while entries arrive and on
 * demand, stored as u32 length || note || u32 length so that the latest
 * is read from the end of the file.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "audit_internal.h"

#define lock audit_lock
#define unlock audit_unlock

/* At most once a second while entries arrive, across processes. */
cv_err
audit_maybe_checkpoint(struct cv_audit *a)
{
	struct stat st;
	uint64_t size;
	double last;
	cv_err r;

	if (a->pg) {
		if ((r = audit_pg_ckpt_stat(a, &size, &last)) != CV_OK)
			return r;
	} else if (fstat(a->fd_ckpt, &st) != 0)
		return audit_io_fail(a, a->fd_ckpt, "stat");
	else {
		size = (uint64_t)st.st_size;
		last = (double)st.st_mtim.tv_sec +
		    (double)st.st_mtim.tv_nsec / 1e9;
	}
	if (size > 0 && (double)cv_time_us() / 1e6 - last < 1.0)
		return CV_OK;
	return audit_checkpoint_now(a, NULL);
}

/*
 * Under no lock; takes it twice. A new checkpoint if the tree grew. The
 * derived files are synced in between, without the lock: appends go on
 * meanwhile (the bytes of the first N entries are already written, and a
 * sync of later ones too does no harm), so a checkpoint never holds the
 * log still for the dozens of fsyncs a deep tree needs.
 */
cv_err
audit_checkpoint_now(struct cv_audit *a, struct cv_buf *out)
{
	struct cv_checkpoint c;
	struct cv_buf body = { 0 }, note = { 0 };
	uint8_t pk[CV_AUDIT_PK_BYTES], len[4];
	int fds[AUDIT_LEVELS + 1], offsets_dirty;
	unsigned nfds = 0;
	uint64_t dirty;
	uint64_t at, n;
	cv_err r;

	pthread_mutex_lock(&a->ckpt_mu);
	if ((r = lock(a, LOCK_EX)) != CV_OK) {
		pthread_mutex_unlock(&a->ckpt_mu);
		return r;
	}
	if ((r = audit_refresh(a)) != CV_OK ||
	    (r = audit_latest_checkpoint(a, &note, &c)) != CV_OK)
		goto out;
	if (note.len && c.size >= a->size)
		goto done;
	n = a->size;
	if (a->offsets_dirty)
		fds[nfds++] = a->fd_offsets;
	for (unsigned l = 0; l < AUDIT_LEVELS && (n >> l); l++) {
		if (!(a->dirty & ((uint64_t)1 << l)))
			continue;
		if ((fds[nfds++] = audit_level_fd(a, l)) < 0) {
			r = audit_level_fail(a, l);
			goto out;
		}
	}
	dirty = a->dirty;
	offsets_dirty = a->offsets_dirty;
	a->dirty = 0;
	a->offsets_dirty = 0;
	unlock(a);
	/* The derived files must be durable up to the checkpoint: repair
	 * starts from the last one. Only those written since their last
	 * sync (a fresh handle counts everything as written). */
	for (unsigned i = 0; i < nfds; i++) {
		if ((r = audit_sync(a, fds[i])) != CV_OK) {
			if (lock(a, LOCK_EX) == CV_OK) {
				a->dirty |= dirty;
				a->offsets_dirty |= offsets_dirty;
				unlock(a);
			}
			goto unlocked;
		}
	}
	if ((r = lock(a, LOCK_EX)) != CV_OK)
		goto unlocked;
	if ((r = audit_latest_checkpoint(a, &note, &c)) != CV_OK)
		goto out;
	if (note.len && c.size >= n)
		goto done;	/* another thread or process was quicker */
	memset(&c, 0, sizeof c);
	strcpy(c.origin, a->origin);
	c.size = n;
	memcpy(pk, a->signer.pk, sizeof pk);
	note.len = 0;
	if (a->signer.sign == NULL) {
		r = cv_fail(CV_ERR_HSM, "this process holds no audit key: "
		    "checkpoints are signed by the key process");
		goto out;
	}
	if ((r = cv_merkle_root(cv_audit_node, a, n, c.root)) != CV_OK ||
	    (r = cv_checkpoint_format(&c, &body)) != CV_OK ||
	    (r = cv_note_sign((const char *)body.p, body.len, a->origin, pk,
	    a->signer.sign, a->signer.ctx, &note)) != CV_OK)
		goto out;
	/* Frame: u32 length || note || u32 length, readable from the end. */
	if ((r = audit_size(a, a->fd_ckpt, &at)) != CV_OK)
		goto out;
	cv_put_u32be(len, (uint32_t)note.len);
	if ((r = audit_pwrite(a, a->fd_ckpt, len, 4, at)) != CV_OK ||
	    (r = audit_pwrite(a, a->fd_ckpt, note.p, note.len, at + 4)) !=
	    CV_OK ||
	    (r = audit_pwrite(a, a->fd_ckpt, len, 4, at + 4 + note.len)) !=
	    CV_OK ||
	    (r = audit_sync(a, a->fd_ckpt)) != CV_OK) {
		/* Not acknowledged, so not kept: a half frame at the tail
		 * would make the latest checkpoint unreadable. If even the
		 * cut fails, the next read-write open cuts it (repair.c). */
		if (!a->pg && ftruncate(a->fd_ckpt, (off_t)at) == 0 &&
		    audit_sync(a, a->fd_ckpt) != CV_OK) {
			/* repair.c cuts it at the next open */
		}
		goto out;
	}
 done:
	if (out)
		r = cv_buf_add(out, note.p, note.len);
 out:
	/* In PostgreSQL the note counts once committed, and not at all
	 * when anything failed (a half-written frame). */
	if (r == CV_OK)
		r = unlock(a);
	else
		audit_abort(a);
 unlocked:
	pthread_mutex_unlock(&a->ckpt_mu);
	cv_buf_free(&body);
	cv_buf_free(&note);
	return r;
}

cv_err
cv_audit_checkpoint(struct cv_audit *a, struct cv_buf *out)
{
	return audit_checkpoint_now(a, out);
}

cv_err
audit_ckpt_end(struct cv_audit *a, uint64_t size, uint64_t *end)
{
	uint8_t len[4], len2[4];
	uint64_t off = 0;
	uint32_t n;
	cv_err r;

	*end = size;
	if (size == 0)
		return CV_OK;
	/* The common case in O(1): the last frame's two lengths agree. */
	if (size >= 8) {
		if ((r = audit_pread(a, a->fd_ckpt, len, 4, size - 4)) != CV_OK)
			return r;
		n = cv_get_u32be(len);
		if (n <= CV_NOTE_MAX_BYTES && size - 8 >= n) {
			if ((r = audit_pread(a, a->fd_ckpt, len2, 4,
			    size - 8 - n)) != CV_OK)
				return r;
			if (memcmp(len, len2, 4) == 0)
				return CV_OK;
		}
	}
	while (size - off >= 8) {
		if ((r = audit_pread(a, a->fd_ckpt, len, 4, off)) != CV_OK)
			return r;
		n = cv_get_u32be(len);
		if (n > CV_NOTE_MAX_BYTES || size - off - 8 < n)
			break;
		if ((r = audit_pread(a, a->fd_ckpt, len2, 4, off + 4 + n)) !=
		    CV_OK)
			return r;
		if (memcmp(len, len2, 4) != 0)
			return CV_OK;	/* damage, not a tear: readers say so */
		off += 8 + n;
	}
	/* Only a frame that runs past the end is torn; anything else is
	 * damage, left for the readers to report. */
	if (size - off >= 4) {
		if ((r = audit_pread(a, a->fd_ckpt, len, 4, off)) != CV_OK)
			return r;
		n = cv_get_u32be(len);
		if (n <= CV_NOTE_MAX_BYTES && size - off - 8 >= n)
			return CV_OK;
	}
	*end = off;
	return CV_OK;
}

cv_err
audit_latest_checkpoint(struct cv_audit *a, struct cv_buf *note,
    struct cv_checkpoint *c)
{
	uint64_t size;
	uint8_t len[4];
	uint32_t n;
	cv_err r;

	memset(c, 0, sizeof *c);
	note->len = 0;
	if ((r = audit_size(a, a->fd_ckpt, &size)) != CV_OK ||
	    (r = audit_ckpt_end(a, size, &size)) != CV_OK)
		return r;
	if (size == 0)
		return CV_OK;
	if ((r = audit_pread(a, a->fd_ckpt, len, 4, size - 4)) != CV_OK)
		return r;
	n = cv_get_u32be(len);
	if (n > CV_NOTE_MAX_BYTES || size < 8 + (uint64_t)n)
		return cv_fail(CV_ERR_FORMAT, "audit log: checkpoint file is "
		    "malformed");
	if ((r = cv_buf_reserve(note, n)) != CV_OK ||
	    (r = audit_pread(a, a->fd_ckpt, note->p, n, size - 4 - n)) !=
	    CV_OK)
		return r;
	note->len = n;
	return cv_checkpoint_parse((const char *)note->p, n, c);
}

cv_err
cv_audit_latest(struct cv_audit *a, struct cv_checkpoint *c)
{
	struct cv_buf note = { 0 };
	cv_err r;

	if ((r = lock(a, LOCK_SH)) != CV_OK)
		return r;
	r = audit_latest_checkpoint(a, &note, c);
	unlock(a);
	cv_buf_free(&note);
	return r;
}

cv_err
cv_audit_latest_note(struct cv_audit *a, struct cv_buf *note,
    struct cv_checkpoint *c)
{
	struct cv_buf tmp = { 0 };
	cv_err r;

	if ((r = lock(a, LOCK_SH)) != CV_OK)
		return r;
	r = audit_latest_checkpoint(a, &tmp, c);
	unlock(a);
	if (r == CV_OK)
		r = cv_buf_add(note, tmp.p, tmp.len);
	cv_buf_free(&tmp);
	return r;
}

cv_err
cv_audit_stored_checkpoint(struct cv_audit *a, uint64_t size,
    struct cv_buf *out)
{
	struct cv_checkpoint c;
	uint8_t len[4];
	uint64_t off = 0, fsize;
	uint32_t n;
	cv_err r;

	if ((r = lock(a, LOCK_SH)) != CV_OK)
		return r;
	if ((r = audit_size(a, a->fd_ckpt, &fsize)) != CV_OK)
		goto out;
	r = cv_fail(CV_ERR_NOT_FOUND, "no stored checkpoint of size %llu",
	    (unsigned long long)size);
	while (fsize - off >= 8) {
		size_t start = out->len;
		cv_err e;
		if ((e = audit_pread(a, a->fd_ckpt, len, 4, off)) != CV_OK) {
			r = e;
			break;
		}
		n = cv_get_u32be(len);
		if (n > CV_NOTE_MAX_BYTES || fsize - off - 8 < n) {
			r = cv_fail(CV_ERR_FORMAT, "audit log: checkpoint file "
			    "is malformed");
			break;
		}
		if ((e = cv_buf_reserve(out, n)) != CV_OK ||
		    (e = audit_pread(a, a->fd_ckpt, out->p + start, n,
		    off + 4)) != CV_OK) {
			r = e;
			break;
		}
		if (cv_checkpoint_parse((char *)out->p + start, n, &c) ==
		    CV_OK && c.size == size) {
			out->len = start + n;
			r = CV_OK;
			break;
		}
		off += 8 + n;
	}
 out:
	unlock(a);
	return r;
}

cv_err
cv_audit_vkey(struct cv_audit *a, char *out, size_t size)
{
	uint8_t pk[CV_AUDIT_PK_BYTES];

	memcpy(pk, a->signer.pk, sizeof pk);
	return cv_note_vkey_format(a->origin, pk, out, size);
}

