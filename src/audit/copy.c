/*
 * A copy of the log up to a durable, signed checkpoint, while others go on
 * appending (a running server): the backup's log.
 *
 * Everything below a checkpoint is final: `entries`, `offsets` and the
 * tree files only grow, and a checkpoint is written only once the derived
 * files are synced up to it. So the sizes are read under the lock, at a
 * checkpoint, and the prefixes copied without it: appends go on meanwhile.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit_internal.h"

#define COPY_CHUNK (1u << 20)

struct copy_job {
	uint64_t done, total;
	void (*progress)(void *ctx, uint64_t done, uint64_t total);
	void *ctx;
};

/* The first LEN bytes of FD into a new file PATH (0600), fsynced. */
static cv_err
copy_prefix(struct cv_audit *a, int fd, uint64_t len, const char *path,
    struct copy_job *job)
{
	uint8_t *buf;
	uint64_t off = 0;
	size_t n;
	int out;
	cv_err r = CV_OK;

	if ((buf = malloc(COPY_CHUNK)) == NULL)
		return CV_ERR_NOMEM;
	if ((out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) < 0) {
		free(buf);
		return cv_fail(errno == EEXIST ? CV_ERR_EXISTS : CV_ERR_IO,
		    "cannot create %s: %s", path, strerror(errno));
	}
	while (off < len && r == CV_OK) {
		n = len - off > COPY_CHUNK ? COPY_CHUNK : (size_t)(len - off);
		if ((r = audit_pread(a, fd, buf, n, off)) != CV_OK)
			break;
		for (size_t w = 0; w < n; ) {
			ssize_t k = write(out, buf + w, n - w);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				r = cv_fail(CV_ERR_IO, "cannot write %s: %s",
				    path, strerror(errno));
				break;
			}
			w += (size_t)k;
		}
		off += n;
		job->done += n;
		if (job->progress)
			job->progress(job->ctx, job->done, job->total);
	}
	if (r == CV_OK && fsync(out) != 0)
		r = cv_fail(CV_ERR_IO, "cannot sync %s: %s", path,
		    strerror(errno));
	close(out);
	free(buf);
	return r;
}

static cv_err
sync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) != 0) {
		if (fd >= 0)
			close(fd);
		return cv_fail(CV_ERR_IO, "cannot sync %s", path);
	}
	close(fd);
	return CV_OK;
}

cv_err
cv_audit_copy(struct cv_audit *a, const char *dest,
    void (*progress)(void *ctx, uint64_t done, uint64_t total), void *ctx,
    uint64_t *size)
{
	struct cv_checkpoint c;
	struct cv_buf note = { 0 };
	struct copy_job job = { .progress = progress, .ctx = ctx };
	uint64_t end = 0, ckpt_len = 0, n = 0;
	char path[1300];
	int locked = 0;
	cv_err r;

	*size = 0;
	/* A checkpoint of everything logged so far (this backup's own
	 * entry included): the derived files are synced up to it. */
	if ((r = cv_audit_checkpoint(a, NULL)) != CV_OK ||
	    (r = audit_lock(a, LOCK_SH)) != CV_OK)
		goto out;
	locked = 1;
	if ((r = audit_refresh(a)) != CV_OK ||
	    (r = audit_latest_checkpoint(a, &note, &c)) != CV_OK)
		goto out;
	n = c.size;
	if ((r = audit_size(a, a->fd_ckpt, &ckpt_len)) != CV_OK)
		goto out;
	if ((r = audit_entry_end(a, n, &end)) != CV_OK)
		goto out;
	/* Opened now, under the lock: the copies below read these. */
	for (unsigned l = 0; l < AUDIT_LEVELS && (n >> l); l++) {
		if (audit_level_fd(a, l) < 0) {
			r = audit_level_fail(a, l);
			goto out;
		}
		job.total += (n >> l) * CV_HASH_BYTES;
	}
	audit_unlock(a);
	locked = 0;
	job.total += end + n * 8 + ckpt_len;

	if ((r = cv_path(path, sizeof path, "%s/tree", dest)) != CV_OK)
		goto out;
	if (mkdir(dest, 0700) != 0 || mkdir(path, 0700) != 0) {
		r = cv_fail(CV_ERR_IO, "cannot create %s: %s", path,
		    strerror(errno));
		goto out;
	}
	if ((r = cv_path(path, sizeof path, "%s/entries", dest)) != CV_OK ||
	    (r = copy_prefix(a, a->fd_entries, end, path, &job)) != CV_OK ||
	    (r = cv_path(path, sizeof path, "%s/offsets", dest)) != CV_OK ||
	    (r = copy_prefix(a, a->fd_offsets, n * 8, path, &job)) != CV_OK ||
	    (r = cv_path(path, sizeof path, "%s/checkpoints", dest)) !=
	    CV_OK ||
	    (r = copy_prefix(a, a->fd_ckpt, ckpt_len, path, &job)) != CV_OK ||
	    (r = cv_path(path, sizeof path, "%s/lock", dest)) != CV_OK ||
	    (r = cv_file_create(path, "", 0, 0600)) != CV_OK)
		goto out;
	for (unsigned l = 0; l < AUDIT_LEVELS && (n >> l); l++) {
		if ((r = cv_path(path, sizeof path, "%s/tree/%u", dest, l)) !=
		    CV_OK ||
		    (r = copy_prefix(a, a->fd_level[l],
		    (n >> l) * CV_HASH_BYTES, path, &job)) != CV_OK)
			goto out;
	}
	if ((r = cv_path(path, sizeof path, "%s/tree", dest)) != CV_OK ||
	    (r = sync_dir(path)) != CV_OK || (r = sync_dir(dest)) != CV_OK)
		goto out;
	*size = n;
 out:
	if (locked)
		audit_unlock(a);
	cv_buf_free(&note);
	return r;
}
