/*
 * Storage of the audit log (layout in audit.h), appends with group
 * commit and checkpoints. Crash repair is in repair.c, verification in
 * verify.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "audit_internal.h"

#define RING AUDIT_RING

/* The full path of the log's file behind FD, for messages. */
static void
file_path(const struct cv_audit *a, int fd, char *out, size_t size)
{
	const char *name = "?";

	if (fd >= 0 && fd == a->fd_entries)
		name = "entries";
	else if (fd >= 0 && fd == a->fd_offsets)
		name = "offsets";
	else if (fd >= 0 && fd == a->fd_ckpt)
		name = "checkpoints";
	else if (fd >= 0 && fd == a->fd_lock)
		name = "lock";
	for (unsigned l = 0; fd >= 0 && l < AUDIT_LEVELS; l++) {
		if (fd == a->fd_level[l]) {
			if (a->pg)
				snprintf(out, size, "tree/%u of the log in "
				    "PostgreSQL", l);
			else
				snprintf(out, size, "%s/tree/%u", a->dir, l);
			return;
		}
	}
	if (a->pg)
		snprintf(out, size, "%s of the log in PostgreSQL", name);
	else
		snprintf(out, size, "%s/%s", a->dir, name);
}

cv_err
audit_io_fail(struct cv_audit *a, int fd, const char *what)
{
	char path[1200];
	int e = errno;

	file_path(a, fd, path, sizeof path);
	return cv_fail(CV_ERR_IO, "audit log: cannot %s %s: %s", what, path,
	    strerror(e));
}

cv_err
audit_level_fail(struct cv_audit *a, unsigned level)
{
	int e = errno;

	return cv_fail(CV_ERR_IO, "audit log: cannot open %s/tree/%u: %s",
	    a->dir, level, strerror(e));
}

cv_err
audit_pread(struct cv_audit *a, int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	ssize_t n;

	if (a->pg)
		return audit_pg_read(a, (unsigned)fd, buf, len, off);
	while (len) {
		if ((n = pread(fd, p, len, (off_t)off)) < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return audit_io_fail(a, fd, "read");
		if (n == 0) {
			char path[1200];

			file_path(a, fd, path, sizeof path);
			return cv_fail(CV_ERR_IO, "audit log: %s ends at byte "
			    "%llu, before the %zu bytes wanted there", path,
			    (unsigned long long)off, len);
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return CV_OK;
}

cv_err
audit_pwrite(struct cv_audit *a, int fd, const void *buf, size_t len,
    uint64_t off)
{
	const uint8_t *p = buf;
	ssize_t n;

	if (cv_fault("audit.write")) {
		errno = EIO;
		return audit_io_fail(a, fd, "write");
	}
	if (a->pg)
		return audit_pg_write(a, (unsigned)fd, buf, len, off);
	while (len) {
		if ((n = pwrite(fd, p, len, (off_t)off)) < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return audit_io_fail(a, fd, "write");
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return CV_OK;
}

cv_err
audit_sync(struct cv_audit *a, int fd)
{
	if (cv_fault("audit.sync")) {
		errno = EIO;
		return audit_io_fail(a, fd, "sync");
	}
	/* In PostgreSQL the unlock's COMMIT is the sync. */
	if (!a->pg && fdatasync(fd) != 0)
		return audit_io_fail(a, fd, "sync");
	return CV_OK;
}

int
audit_level_fd(struct cv_audit *a, unsigned level)
{
	char path[1200];

	if (level >= AUDIT_LEVELS)
		return -1;
	if (a->fd_level[level] < 0 && !a->pg &&
	    cv_path(path, sizeof path, "%s/tree/%u", a->dir, level) == CV_OK)
		a->fd_level[level] = open(path, O_RDWR | O_CREAT | O_CLOEXEC,
		    0600);
	return a->fd_level[level];
}

cv_err
cv_audit_preopen(struct cv_audit *a)
{
	for (unsigned l = 0; l < AUDIT_LEVELS; l++)
		if (audit_level_fd(a, l) < 0)
			return audit_level_fail(a, l);
	return CV_OK;
}

cv_err
cv_audit_node(void *ctx, unsigned level, uint64_t index,
    uint8_t out[static CV_HASH_BYTES])
{
	struct cv_audit *a = ctx;
	int fd;

	if (level >= AUDIT_LEVELS || index >= (a->size >> level))
		return cv_fail(CV_ERR_INTERNAL, "audit log: no node %u/%llu",
		    level, (unsigned long long)index);
	if ((fd = audit_level_fd(a, level)) < 0)
		return audit_level_fail(a, level);
	return audit_pread(a, fd, out, CV_HASH_BYTES, index * CV_HASH_BYTES);
}

cv_err
audit_entry_end(struct cv_audit *a, uint64_t count, uint64_t *end)
{
	uint8_t b[8];
	cv_err r;

	*end = 0;
	if (count == 0)
		return CV_OK;
	if ((r = audit_pread(a, a->fd_offsets, b, 8, (count - 1) * 8)) !=
	    CV_OK)
		return r;
	*end = (uint64_t)cv_get_u32be(b) << 32 | cv_get_u32be(b + 4);
	return CV_OK;
}

cv_err
audit_load_state(struct cv_audit *a, uint64_t size)
{
	cv_err r;

	if (a->pg)
		return audit_pg_load_edge(a, size);
	a->size = size;
	if ((r = audit_entry_end(a, size, &a->end)) != CV_OK)
		return r;
	for (unsigned l = 0; l < AUDIT_LEVELS; l++) {
		uint64_t c = size >> l;
		if (c & 1) {
			if ((r = cv_audit_node(a, l, c - 1, a->edge[l])) !=
			    CV_OK)
				return r;
		}
	}
	return CV_OK;
}

/* Under the lock: catch up with appends made by other processes. */
cv_err
audit_refresh(struct cv_audit *a)
{
	uint64_t size;
	cv_err r;

	if ((r = audit_size(a, a->fd_offsets, &size)) != CV_OK)
		return r;
	if (size / 8 == a->size && !a->stale)
		return CV_OK;
	/* Another process wrote: which tree files it touched is unknown. */
	a->dirty = ~(uint64_t)0;
	a->offsets_dirty = 1;
	if ((r = audit_load_state(a, size / 8)) != CV_OK)
		a->stale = 1;
	else
		a->stale = 0;
	return r;
}

cv_err
audit_size(struct cv_audit *a, int fd, uint64_t *size)
{
	struct stat st;

	if (a->pg)
		return audit_pg_size(a, (unsigned)fd, size);
	if (fstat(fd, &st) != 0)
		return audit_io_fail(a, fd, "stat");
	*size = (uint64_t)st.st_size;
	return CV_OK;
}

cv_err
audit_truncate(struct cv_audit *a, int fd, uint64_t len)
{
	if (a->pg)
		return audit_pg_truncate(a, (unsigned)fd, len);
	if (ftruncate(fd, (off_t)len) != 0)
		return audit_io_fail(a, fd, "truncate");
	return CV_OK;
}

cv_err
audit_index_leaves(struct cv_audit *a, const uint8_t *frames, size_t flen,
    size_t n)
{
	struct cv_buf lv[AUDIT_LEVELS] = { 0 }, offs = { 0 };
	uint64_t start[AUDIT_LEVELS], end = a->end, i = a->size;
	uint8_t h[CV_HASH_BYTES], b[8];
	size_t off = 0;
	unsigned l, top = 0;
	cv_err r = CV_OK;

	for (l = 0; l < AUDIT_LEVELS; l++)
		start[l] = a->size >> l;
	for (size_t k = 0; k < n; k++, i++) {
		uint32_t len = cv_get_u32be(frames + off);
		cv_merkle_leaf_hash(frames + off + 4, len, h);
		off += 4 + len;
		end += 4 + len;
		cv_put_u32be(b, (uint32_t)(end >> 32));
		cv_put_u32be(b + 4, (uint32_t)end);
		if ((r = cv_buf_add(&offs, b, 8)) != CV_OK)
			goto out;
		/* Carry up: node (l, j) completes when leaf i ends it. */
		for (l = 0;; l++) {
			if ((r = cv_buf_add(&lv[l], h, CV_HASH_BYTES)) != CV_OK)
				goto out;
			if (l > top)
				top = l;
			if ((((i + 1) >> l) & 1) == 1) {
				memcpy(a->edge[l], h, CV_HASH_BYTES);
				break;
			}
			cv_merkle_node_hash(a->edge[l], h, h);
		}
	}
	if (off != flen) {
		r = cv_fail(CV_ERR_INTERNAL, "audit: frame lengths");
		goto out;
	}
	if ((r = audit_pwrite(a, a->fd_offsets, offs.p, offs.len, a->size * 8)) !=
	    CV_OK)
		goto out;
	for (l = 0; l <= top; l++) {
		int fd = audit_level_fd(a, l);
		if (fd < 0) {
			r = audit_level_fail(a, l);
			goto out;
		}
		if (lv[l].len && (r = audit_pwrite(a, fd, lv[l].p, lv[l].len,
		    start[l] * CV_HASH_BYTES)) != CV_OK)
			goto out;
		if (lv[l].len)
			a->dirty |= (uint64_t)1 << l;
	}
	a->offsets_dirty = 1;
	a->size = i;
	a->end = end;
 out:
	for (l = 0; l < AUDIT_LEVELS; l++)
		cv_buf_free(&lv[l]);
	cv_buf_free(&offs);
	return r;
}

/*
 * flock serialises processes, but two threads of one process share the
 * lock (same open file): the mutex serialises those.
 */
cv_err
audit_lock(struct cv_audit *a, int how)
{
	cv_err r;

	pthread_mutex_lock(&a->io);
	if (a->pg) {
		if ((r = audit_pg_lock(a, how)) != CV_OK)
			pthread_mutex_unlock(&a->io);
		return r;
	}
	while (flock(a->fd_lock, how) != 0) {
		if (errno != EINTR) {
			r = audit_io_fail(a, a->fd_lock, "lock");
			pthread_mutex_unlock(&a->io);
			return r;
		}
	}
	return CV_OK;
}

cv_err
audit_unlock(struct cv_audit *a)
{
	cv_err r = CV_OK;

	if (a->pg) {
		/* Failed, memory may hold what the log does not. */
		if ((r = audit_pg_unlock(a, 1)) != CV_OK)
			a->stale = 1;
	} else
		(void)flock(a->fd_lock, LOCK_UN);
	pthread_mutex_unlock(&a->io);
	return r;
}

void
audit_abort(struct cv_audit *a)
{
	if (a->pg) {
		(void)audit_pg_unlock(a, 0);
		a->stale = 1;
	} else
		(void)flock(a->fd_lock, LOCK_UN);
	pthread_mutex_unlock(&a->io);
}

#define lock audit_lock
#define unlock audit_unlock

/*
 * A batch that failed is not logged, and its callers answer with a
 * refusal: its bytes must not stay behind in `entries`, where the next
 * open would re-index them as entries (and scope count a read that
 * returned nothing). So they are cut, durably, before anyone is answered.
 * If even that fails the disk is not to be trusted: this handle takes no
 * more entries (fail closed), and the bytes may come back at the next
 * open (docs/audit.md, write-ahead).
 */
static void
cut_failed(struct cv_audit *a, uint64_t base, uint64_t at)
{
	cv_err r;

	if (ftruncate(a->fd_entries, (off_t)at) != 0)
		r = audit_io_fail(a, a->fd_entries, "truncate");
	else
		r = audit_sync(a, a->fd_entries);
	if (ftruncate(a->fd_offsets, (off_t)(base * 8)) != 0) {
		/* only derived: the next open rebuilds it */
	}
	/* Back to where the batch began, in memory too. */
	if (audit_load_state(a, base) != CV_OK && r == CV_OK)
		r = CV_ERR_IO;
	if (r != CV_OK) {
		a->broken = 1;
		fprintf(stderr, "clearvault: %s; a failed audit append could "
		    "not be cut at byte %llu: this process logs nothing more\n",
		    cv_err_detail(), (unsigned long long)at);
	}
}

cv_err
audit_write_batch(struct cv_audit *a, const uint8_t *frames, size_t flen, size_t n,
    uint64_t *idx)
{
	char detail[512];
	uint64_t at = 0, base = 0;
	cv_err r;

	if (a->pg)
		return audit_stage_batch(a, frames, flen, n, idx);
	if ((r = lock(a, LOCK_EX)) != CV_OK)
		return r;
	if (a->broken) {
		r = cv_fail(CV_ERR_IO, "audit log: %s/entries: an earlier "
		    "failed append could not be cut; restart after checking "
		    "the disk", a->dir);
		goto out;
	}
	if ((r = audit_refresh(a)) != CV_OK)
		goto out;
	base = a->size;
	at = a->end;
	if ((r = audit_pwrite(a, a->fd_entries, frames, flen, at)) != CV_OK ||
	    (r = audit_index_leaves(a, frames, flen, n)) != CV_OK ||
	    (r = cv_fault("audit.commit") ? cv_fail(CV_ERR_IO, "audit log: "
	    "cannot sync %s/entries: injected commit failure", a->dir) :
	    audit_sync(a, a->fd_entries)) != CV_OK) {
		/* The caller hears the first failure, not the cut's. */
		snprintf(detail, sizeof detail, "%s", cv_err_detail());
		cut_failed(a, base, at);
		cv_err_set("%s", detail);
	}
 out:
	/* In PostgreSQL the COMMIT: until it returned, nothing is
	 * durable, and its failure fails the whole batch. */
	if (r == CV_OK)
		r = unlock(a);
	else
		unlock(a);
	for (size_t i = 0; r == CV_OK && i < n; i++)
		idx[i] = base + i;
	return r;
}

/*
 * Group commit: the first waiter writes everything queued so far with one
 * fsync; the others wait for their batch.
 */
static cv_err
commit(struct cv_audit *a, const uint8_t *frame, size_t flen, size_t n,
    uint64_t *index)
{
	int64_t mine;
	size_t pos;
	cv_err r;

	pthread_mutex_lock(&a->mu);
	if ((r = cv_buf_add(&a->open, frame, flen)) != CV_OK) {
		pthread_mutex_unlock(&a->mu);
		return r;
	}
	pos = a->open_n;
	a->open_n += n;
	mine = a->open_batch;
	while (a->committed_batch < mine) {
		if (!a->committing) {
			struct cv_buf b = a->open;
			size_t bn = a->open_n;
			int64_t id = a->open_batch++;
			uint64_t *ix;

			a->open = a->spare;
			a->open.len = 0;
			a->open_n = 0;
			a->committing = 1;
			pthread_mutex_unlock(&a->mu);
			if ((ix = calloc(bn, sizeof *ix)) == NULL)
				r = CV_ERR_NOMEM;
			else
				r = audit_write_batch(a, b.p, b.len, bn, ix);
			pthread_mutex_lock(&a->mu);
			sodium_memzero(b.p, b.len);
			b.len = 0;
			a->spare = b;
			free(a->idx[id % RING]);
			a->idx[id % RING] = ix;
			a->ring_batch[id % RING] = id;
			a->errs[id % RING] = r;
			a->committed_batch = id;
			a->committing = 0;
			pthread_cond_broadcast(&a->cv);
		} else
			pthread_cond_wait(&a->cv, &a->mu);
	}
	/* A waiter asleep for RING batches finds its slot reused: its
	 * entry is durable, but which index is lost (refused: no data). */
	if (a->ring_batch[mine % RING] != mine)
		r = cv_fail(CV_ERR_INTERNAL, "audit: batch %" PRId64 "'s "
		    "result was overwritten before its waiter read it", mine);
	else
		r = a->errs[mine % RING];
	if (index && r == CV_OK)
		*index = a->idx[mine % RING][pos];
	pthread_mutex_unlock(&a->mu);
	return r;
}

cv_err
audit_frame(const struct cv_audit_entry *e, struct cv_buf *b)
{
	size_t at = b->len;
	cv_err r;

	if ((r = cv_buf_add(b, "\0\0\0\0", 4)) != CV_OK ||
	    (r = cv_audit_encode(e, b)) != CV_OK) {
		b->len = at;
		return r;
	}
	cv_put_u32be(b->p + at, (uint32_t)(b->len - at - 4));
	return CV_OK;
}

cv_err
cv_audit_append(struct cv_audit *a, const struct cv_audit_entry *e,
    uint64_t *index)
{
	struct cv_buf b = { 0 };
	cv_err r;

	if ((r = audit_frame(e, &b)) != CV_OK)
		goto out;
	if ((r = commit(a, b.p, b.len, 1, index)) != CV_OK)
		goto out;
	r = audit_maybe_checkpoint(a);
 out:
	cv_buf_free(&b);
	return r;
}

cv_err
cv_audit_append_leaves(struct cv_audit *a, const uint8_t *leaves,
    const size_t *lens, size_t n, uint64_t *first)
{
	struct cv_buf b = { 0 };
	size_t off = 0;
	uint8_t len[4];
	cv_err r = CV_OK;

	for (size_t i = 0; i < n && r == CV_OK; i++) {
		struct cv_audit_view v;
		/* Only valid entries are logged (see cv_audit_encode). */
		if (lens[i] > CV_AUDIT_MAX_LEAF ||
		    cv_audit_view(leaves + off, lens[i], &v) != CV_OK) {
			r = cv_fail(CV_ERR_INVALID, "audit entry %zu of %zu: "
			    "not a valid entry", i, n);
			break;
		}
		cv_put_u32be(len, (uint32_t)lens[i]);
		if ((r = cv_buf_add(&b, len, 4)) == CV_OK)
			r = cv_buf_add(&b, leaves + off, lens[i]);
		off += lens[i];
	}
	if (r == CV_OK)
		r = commit(a, b.p, b.len, n, first);
	if (r == CV_OK)
		r = audit_maybe_checkpoint(a);
	cv_buf_free(&b);
	return r;
}

cv_err
cv_audit_size(struct cv_audit *a, uint64_t *size)
{
	cv_err r;

	if ((r = lock(a, LOCK_SH)) != CV_OK)
		return r;
	r = audit_refresh(a);
	*size = a->size;
	unlock(a);
	return r;
}

/*
 * The lock covers only where the entry is; its bytes are read after. An
 * entry below the size is final (appends go past it, a failed append is
 * cut past it, repair cuts only what is not an entry), so a reader never
 * holds up the writers for longer than two small reads.
 */
cv_err
cv_audit_leaf(struct cv_audit *a, uint64_t index, struct cv_buf *out)
{
	uint64_t start = 0, end = 0;
	uint8_t b[16];
	size_t at = out->len;
	cv_err r;

	for (int again = 0;; again = 1) {
		if ((r = lock(a, LOCK_SH)) != CV_OK)
			return r;
		if ((r = audit_refresh(a)) != CV_OK || index < a->size)
			break;
		unlock(a);
		/* Durable but not moved yet: its staged row. A row leaves
		 * the table as the log grows past it, in one transaction:
		 * not found there, the log is looked at once more. */
		if (a->pg && !again && (r = audit_pg_staged_leaf(a, index,
		    out)) != CV_ERR_NOT_FOUND)
			return r;
		if (a->pg == NULL || again)
			return cv_fail(CV_ERR_NOT_FOUND, "no audit entry %llu "
			    "(the log has %llu)", (unsigned long long)index,
			    (unsigned long long)a->size);
	}
	/* Where it starts and ends: adjacent in `offsets`, one read (a
	 * round trip in PostgreSQL). */
	if (r == CV_OK && index == 0 &&
	    (r = audit_pread(a, a->fd_offsets, b + 8, 8, 0)) == CV_OK)
		memset(b, 0, 8);
	else if (r == CV_OK)
		r = audit_pread(a, a->fd_offsets, b, 16, (index - 1) * 8);
	unlock(a);
	if (r != CV_OK)
		return r;
	start = (uint64_t)cv_get_u32be(b) << 32 | cv_get_u32be(b + 4);
	end = (uint64_t)cv_get_u32be(b + 8) << 32 | cv_get_u32be(b + 12);
	if (end < start + 4 || end - start - 4 > CV_AUDIT_MAX_LEAF)
		return cv_fail(CV_ERR_FORMAT, "audit log: entry %llu is out of "
		    "bounds in %s/offsets; run 'clearvault audit verify'",
		    (unsigned long long)index, a->dir);
	/* The frame whole, one read. */
	if ((r = cv_buf_reserve(out, end - start)) != CV_OK ||
	    (r = audit_pread(a, a->fd_entries, out->p + at, end - start,
	    start)) != CV_OK)
		return r;
	/* The frame's own length must agree with the index. */
	if (cv_get_u32be(out->p + at) != end - start - 4)
		return cv_fail(CV_ERR_FORMAT, "audit log: entry %llu in "
		    "%s/entries does not match its offsets; run 'clearvault "
		    "audit verify'", (unsigned long long)index, a->dir);
	memmove(out->p + at, out->p + at + 4, end - start - 4);
	out->len = at + end - start - 4;
	return CV_OK;
}

static cv_err
open_file(struct cv_audit *a, const char *name, int *fd)
{
	char path[1200];
	cv_err r;

	if ((r = cv_path(path, sizeof path, "%s/%s", a->dir, name)) != CV_OK)
		return r;
	if ((*fd = open(path, O_RDWR | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return cv_fail(CV_ERR_NOT_FOUND, "audit log: %s is "
			    "missing", path);
		return cv_fail(CV_ERR_IO, "audit log: cannot open %s: %s",
		    path, strerror(errno));
	}
	return CV_OK;
}

cv_err
cv_audit_create(const char *dir, const char *db)
{
	static const char *const files[] = { "entries", "offsets",
		"checkpoints", "lock" };
	char path[1200];
	cv_err r;

	if ((r = cv_path(path, sizeof path, "%s/audit", dir)) != CV_OK)
		return r;
	if (mkdir(path, 0700) != 0)
		return cv_fail(errno == EEXIST ? CV_ERR_EXISTS : CV_ERR_IO,
		    "cannot create %s", path);
	/* DIR/audit stays, for what a repair sets aside on this node. */
	if (db)
		return audit_pg_create(db);
	if ((r = cv_path(path, sizeof path, "%s/audit/tree", dir)) != CV_OK)
		return r;
	if (mkdir(path, 0700) != 0)
		return cv_fail(CV_ERR_IO, "cannot create %s", path);
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		if ((r = cv_path(path, sizeof path, "%s/audit/%s", dir,
		    files[i])) != CV_OK ||
		    (r = cv_file_create(path, "", 0, 0600)) != CV_OK)
			return r;
	}
	return CV_OK;
}

cv_err
cv_audit_open(const char *vault_dir, const char *db, const char *vault_id,
    const struct cv_audit_signer *signer, int readonly, struct cv_audit **out)
{
	struct cv_audit *a;
	uint64_t size;
	cv_err r;

	*out = NULL;
	if ((a = calloc(1, sizeof *a)) == NULL)
		return CV_ERR_NOMEM;
	a->fd_entries = a->fd_offsets = a->fd_ckpt = a->fd_lock = -1;
	for (unsigned l = 0; l < AUDIT_LEVELS; l++)
		a->fd_level[l] = -1;
	pthread_mutex_init(&a->mu, NULL);
	pthread_mutex_init(&a->io, NULL);
	pthread_mutex_init(&a->ckpt_mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	pthread_mutex_init(&a->qmu, NULL);
	{
		/* The committer's short waits must not follow the wall
		 * clock. */
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&a->qcv, &ca);
		pthread_condattr_destroy(&ca);
	}
	pthread_cond_init(&a->qcv_tick, NULL);
	a->committed_batch = -1;
	a->dirty = ~(uint64_t)0;	/* what earlier processes left unsynced */
	a->offsets_dirty = 1;
	if (signer)
		a->signer = *signer;
	if ((r = cv_path(a->dir, sizeof a->dir, "%s/audit", vault_dir)) !=
	    CV_OK ||
	    (r = cv_path(a->origin, sizeof a->origin, "clearvault/%s",
	    vault_id)) != CV_OK)
		goto fail;
	a->readonly = readonly;
	if (db) {
		if ((r = audit_pg_open(a, db, vault_id, readonly)) != CV_OK)
			goto fail;
		a->fd_entries = AUDIT_PG_ENTRIES;
		a->fd_offsets = AUDIT_PG_OFFSETS;
		a->fd_ckpt = AUDIT_PG_CKPT;
		for (unsigned l = 0; l < AUDIT_LEVELS; l++)
			a->fd_level[l] = AUDIT_PG_LEVEL0 + (int)l;
	} else if ((r = open_file(a, "lock", &a->fd_lock)) != CV_OK ||
	    (r = open_file(a, "entries", &a->fd_entries)) != CV_OK ||
	    (r = open_file(a, "offsets", &a->fd_offsets)) != CV_OK ||
	    (r = open_file(a, "checkpoints", &a->fd_ckpt)) != CV_OK)
		goto fail;
	if (!readonly && (r = audit_repair(a)) != CV_OK)
		goto fail;
	/* What other nodes staged, in the log before this process reads
	 * it (a command's scope or proof covers all that was durable). */
	if (!readonly && a->pg && (r = cv_audit_settle(a, &size)) != CV_OK)
		goto fail;
	*out = a;
	return CV_OK;
 fail:
	cv_audit_close(a);
	return r;
}

void
cv_audit_close(struct cv_audit *a)
{
	if (a == NULL)
		return;
	audit_committer_stop(a);
	if (a->pg) {
		audit_pg_close(a->pg);
		a->fd_entries = a->fd_offsets = a->fd_ckpt = -1;
		for (unsigned l = 0; l < AUDIT_LEVELS; l++)
			a->fd_level[l] = -1;
	}
	if (a->fd_entries >= 0)
		close(a->fd_entries);
	if (a->fd_offsets >= 0)
		close(a->fd_offsets);
	if (a->fd_ckpt >= 0)
		close(a->fd_ckpt);
	if (a->fd_lock >= 0)
		close(a->fd_lock);
	for (unsigned l = 0; l < AUDIT_LEVELS; l++) {
		if (a->fd_level[l] >= 0)
			close(a->fd_level[l]);
	}
	cv_buf_free(&a->open);
	cv_buf_free(&a->spare);
	for (size_t i = 0; i < RING; i++)
		free(a->idx[i]);
	pthread_mutex_destroy(&a->mu);
	pthread_mutex_destroy(&a->io);
	pthread_mutex_destroy(&a->ckpt_mu);
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->qmu);
	pthread_cond_destroy(&a->qcv);
	pthread_cond_destroy(&a->qcv_tick);
	cv_buf_free(&a->queue);
	free(a->waiters);
	free(a);
}
