/*
 * Whole-log scans: a zero-copy view of leaf format 1 (entry.c has the
 * format) and a sequential reader of the entries file.
 *
 * A scan reads the file in large chunks on a reader thread while the
 * caller's callback walks the previous chunk, so reading (a copy out of
 * the page cache, or the disk) and matching overlap. Each chunk buffer
 * has headroom in front of it: a frame cut by a chunk boundary has its
 * head copied there, just before the rest of it, and is then walked in
 * place like any other.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include "audit_internal.h"

#define SCAN_CHUNK (8u << 20)
#define SCAN_HEAD (4u + CV_AUDIT_MAX_LEAF)
/* The latest time cv_audit_decode can print (9999-12-31T23:59:59Z). */
#define MAX_TIME_US 253402300799999999ULL

static cv_err
bad(void)
{
	return cv_fail(CV_ERR_FORMAT, "audit entry: malformed");
}

/* The string at *off; 0 when it does not fit or holds a NUL. */
static int
take_str(const uint8_t *p, size_t len, size_t *off, struct cv_audit_str *s)
{
	size_t n;

	if (len - *off < 2)
		return 0;
	n = cv_get_u16be(p + *off);
	*off += 2;
	if (len - *off < n || memchr(p + *off, 0, n) != NULL)
		return 0;
	s->p = (const char *)p + *off;
	s->len = n;
	*off += n;
	return 1;
}

/* The fixed head every leaf must have: length, version. */
static int
head_ok(const uint8_t *p, size_t len)
{
	return len >= 12 && len <= CV_AUDIT_MAX_LEAF &&
	    p[0] == CV_AUDIT_LEAF_VERSION;
}

cv_err
cv_audit_view(const uint8_t *p, size_t len, struct cv_audit_view *v)
{
	size_t off = 12, start;
	uint32_t i;

	if (!head_ok(p, len))
		return bad();
	v->time_us = (uint64_t)cv_get_u32be(p + 1) << 32 | cv_get_u32be(p + 5);
	if (v->time_us > MAX_TIME_US)
		return bad();
	if (p[9] < CV_AUDIT_ALLOWED || p[9] > CV_AUDIT_ERROR)
		return bad();
	v->outcome = (enum cv_audit_outcome)p[9];
	v->sections = cv_get_u16be(p + 10);
	if (v->sections >> CV_RECORD_NSECTIONS)
		return bad();
	for (i = 0; i < CV_AUDIT_NFIELDS; i++) {
		if (!take_str(p, len, &off, &v->f[i]))
			return bad();
	}
	if (len - off < 4)
		return bad();
	v->nrecords = cv_get_u32be(p + off);
	off += 4;
	start = off;
	for (i = 0; i < v->nrecords; i++) {
		struct cv_audit_str s;
		if (!take_str(p, len, &off, &s))
			return bad();
	}
	if (off != len)
		return bad();
	v->records = p + start;
	v->records_len = len - start;
	return CV_OK;
}

cv_err
cv_audit_view_field(const uint8_t *p, size_t len, enum cv_audit_field f,
    struct cv_audit_str *out)
{
	size_t off = 12;

	if (!head_ok(p, len) || (unsigned)f >= CV_AUDIT_NFIELDS)
		return bad();
	for (unsigned i = 0; i <= (unsigned)f; i++) {
		if (!take_str(p, len, &off, out))
			return bad();
	}
	return CV_OK;
}

int
cv_audit_view_record(const struct cv_audit_view *v, size_t *pos,
    struct cv_audit_str *out)
{
	size_t n;

	/* cv_audit_view checked every length: only the end needs a test. */
	if (*pos + 2 > v->records_len)
		return 0;
	n = cv_get_u16be(v->records + *pos);
	out->p = (const char *)v->records + *pos + 2;
	out->len = n;
	*pos += 2 + n;
	return 1;
}

/* A chunk buffer: headroom, then up to SCAN_CHUNK bytes of the file. */
struct slot {
	uint8_t *mem;		/* SCAN_HEAD + SCAN_CHUNK bytes */
	size_t len;		/* bytes read after the headroom */
	int full;
	cv_err err;
};

struct scan {
	struct cv_audit *a;
	uint64_t start, end;	/* byte range of the entries scanned */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct slot slot[2];
	int stop;		/* the consumer gave up: reader, go home */
};

/*
 * The reader thread: chunk k into slot k % 2, in order, without the lock:
 * the bytes before the end taken at the start are final (appends go past
 * it, a failed append is cut past it, a repair cuts only what is not an
 * entry), so writers never wait for a scan.
 */
static void *
reader(void *arg)
{
	struct scan *s = arg;
	uint64_t off = s->start;
	cv_err r = CV_OK;

	for (unsigned k = 0; off < s->end; k++) {
		struct slot *sl = &s->slot[k % 2];
		size_t want = s->end - off < SCAN_CHUNK ?
		    (size_t)(s->end - off) : SCAN_CHUNK;
		int stop;

		pthread_mutex_lock(&s->mu);
		while (sl->full && !s->stop)
			pthread_cond_wait(&s->cv, &s->mu);
		stop = s->stop;
		pthread_mutex_unlock(&s->mu);
		if (stop)
			break;
		r = audit_pread(s->a, s->a->fd_entries, sl->mem + SCAN_HEAD,
		    want, off);
		pthread_mutex_lock(&s->mu);
		sl->len = r == CV_OK ? want : 0;
		sl->err = r;
		sl->full = 1;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		off += want;
		if (r != CV_OK)
			break;
	}
	return NULL;
}

/* Waits for slot K % 2 to be filled; its read error, if any. */
static cv_err
wait_full(struct scan *s, unsigned k)
{
	struct slot *sl = &s->slot[k % 2];
	cv_err r;

	pthread_mutex_lock(&s->mu);
	while (!sl->full)
		pthread_cond_wait(&s->cv, &s->mu);
	r = sl->err;
	pthread_mutex_unlock(&s->mu);
	return r;
}

static void
release(struct scan *s, unsigned k)
{
	pthread_mutex_lock(&s->mu);
	s->slot[k % 2].full = 0;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static cv_err
mismatch(uint64_t index)
{
	return cv_fail(CV_ERR_FORMAT, "audit log: the entries file does not "
	    "match its offsets near entry %llu; run 'clearvault audit verify'",
	    (unsigned long long)index);
}

/*
 * The consumer: frames walked in place; a frame cut at a chunk's end is
 * copied into the next chunk's headroom, just before its continuation.
 */
static cv_err
walk(struct scan *s, uint64_t from, uint64_t count, cv_audit_scan_fn *fn,
    void *ctx, uint64_t *done)
{
	const uint8_t *tail = NULL;
	size_t ntail = 0;
	uint64_t consumed = 0, i = 0, total = s->end - s->start;
	cv_err r;

	for (unsigned k = 0;; k++) {
		struct slot *sl = &s->slot[k % 2];
		const uint8_t *p, *lim;

		if ((r = wait_full(s, k)) != CV_OK)
			return r;
		/* The cut frame's head, in front of its continuation. */
		if (ntail)
			memcpy(sl->mem + SCAN_HEAD - ntail, tail, ntail);
		if (k > 0)
			release(s, k - 1);
		p = sl->mem + SCAN_HEAD - ntail;
		lim = sl->mem + SCAN_HEAD + sl->len;
		consumed += sl->len;
		for (;;) {
			uint32_t n;
			if (lim - p < 4)
				break;
			n = cv_get_u32be(p);
			if (n > CV_AUDIT_MAX_LEAF)
				return cv_fail(CV_ERR_FORMAT, "audit log: entry "
				    "%llu: bad length %u; run 'clearvault audit "
				    "verify'", (unsigned long long)(from + i), n);
			if ((size_t)(lim - p) - 4 < n)
				break;
			if (i == count)
				return mismatch(from + i);
			if ((r = fn(ctx, from + i, p + 4, n)) != CV_OK)
				return r;
			p += 4 + (size_t)n;
			i++;
			*done = i;
		}
		tail = p;
		ntail = (size_t)(lim - p);
		if (consumed == total)
			break;
	}
	return ntail != 0 || i != count ? mismatch(from + i) : CV_OK;
}

cv_err
cv_audit_scan(struct cv_audit *a, uint64_t from, uint64_t to,
    cv_audit_scan_fn *fn, void *ctx, uint64_t *scanned)
{
	struct scan s = { .a = a };
	pthread_t th;
	int started = 0;
	uint64_t done = 0;
	cv_err r;

	if (scanned)
		*scanned = 0;
	pthread_mutex_init(&s.mu, NULL);
	pthread_cond_init(&s.cv, NULL);
	/* Where the scan starts and ends, fixed now under the lock. */
	if ((r = audit_lock(a, LOCK_SH)) != CV_OK)
		goto out;
	if ((r = audit_refresh(a)) == CV_OK) {
		if (to > a->size)
			to = a->size;
		if (from > to)
			from = to;
		if ((r = audit_entry_end(a, from, &s.start)) == CV_OK)
			r = audit_entry_end(a, to, &s.end);
	}
	audit_unlock(a);
	if (r != CV_OK)
		goto out;
	if (from == to)
		goto out;
	if (s.end <= s.start) {
		r = cv_fail(CV_ERR_FORMAT, "audit log: offsets out of order at "
		    "entry %llu; run 'clearvault audit verify'",
		    (unsigned long long)from);
		goto out;
	}
	for (int k = 0; k < 2; k++) {
		if ((s.slot[k].mem = malloc(SCAN_HEAD + SCAN_CHUNK)) == NULL) {
			r = CV_ERR_NOMEM;
			goto out;
		}
	}
	/* Tell the kernel to read ahead far: the file goes by once. */
	if (!a->pg)
		(void)posix_fadvise(a->fd_entries, (off_t)s.start,
		    (off_t)(s.end - s.start), POSIX_FADV_SEQUENTIAL);
	if (pthread_create(&th, NULL, reader, &s) != 0) {
		r = cv_fail(CV_ERR_INTERNAL, "audit scan: no reader thread");
		goto out;
	}
	started = 1;
	r = walk(&s, from, to - from, fn, ctx, &done);
 out:
	if (started) {
		pthread_mutex_lock(&s.mu);
		s.stop = 1;
		pthread_cond_broadcast(&s.cv);
		pthread_mutex_unlock(&s.mu);
		pthread_join(th, NULL);
	}
	if (scanned)
		*scanned = done;
	free(s.slot[0].mem);
	free(s.slot[1].mem);
	pthread_cond_destroy(&s.cv);
	pthread_mutex_destroy(&s.mu);
	return r;
}
