/*
 * Small shared helpers: byte order, a growable buffer, files. The public
 * header of the base module; everything else in clearvault sits above it.
 */
#ifndef CV_BASE_H
#define CV_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

static inline void
cv_put_u16be(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
cv_put_u32be(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint16_t
cv_get_u16be(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t
cv_get_u32be(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static inline void
cv_put_u64be(uint8_t *p, uint64_t v)
{
	cv_put_u32be(p, (uint32_t)(v >> 32));
	cv_put_u32be(p + 4, (uint32_t)v);
}

static inline uint64_t
cv_get_u64be(const uint8_t *p)
{
	return (uint64_t)cv_get_u32be(p) << 32 | cv_get_u32be(p + 4);
}

/* A growable byte buffer. Zero-initialise, then append; cv_buf_free(). */
struct cv_buf {
	uint8_t *p;
	size_t len, cap;
};

/* Makes room for n more bytes. CV_ERR_NOMEM leaves b unchanged. */
cv_err cv_buf_reserve(struct cv_buf *b, size_t n) CV_MUST_CHECK;
cv_err cv_buf_add(struct cv_buf *b, const void *data, size_t n) CV_MUST_CHECK;
/* Wipes the contents before freeing: buffers may have held plaintext. */
void cv_buf_free(struct cv_buf *b);

/*
 * free(P) after wiping the whole block malloc gave (malloc_usable_size),
 * for memory whose size the freeing code does not know: jansson's
 * strings, a reply handed to the HTTP library. NULL is fine.
 */
void cv_free_wiped(void *p);
/*
 * malloc for jansson (json_set_alloc_funcs): ends the process (abort)
 * when memory runs out instead of returning NULL. jansson's parser and
 * printer drop some failed allocations on the floor (a character not
 * saved, a piece not appended) and carry on, so a record would be read
 * or printed silently altered; found by tests/fault/every_site.py.
 * Fail closed: no data rather than wrong data.
 */
void *cv_json_malloc(size_t n);

/*
 * From now on every free() in this process wipes the block it frees, the
 * libraries' included (base/wipe.c replaces malloc's entry points). Call
 * it before any thread starts. Returns 1, or 0 in a sanitizer build,
 * where it does nothing (ASan's own free fill is asked for instead).
 */
int cv_wipe_frees(void);

/*
 * Creates PATH with MODE (O_EXCL: never replaces a file) holding DATA, and
 * fsyncs it. CV_ERR_EXISTS when PATH exists, CV_ERR_IO otherwise.
 */
cv_err cv_file_create(const char *path, const void *data, size_t len,
    unsigned mode) CV_MUST_CHECK;

/*
 * Replaces PATH atomically: writes PATH.tmp, fsyncs, renames, fsyncs the
 * folder. A crash leaves either the old or the new content.
 */
cv_err cv_file_replace(const char *path, const void *data, size_t len,
    unsigned mode) CV_MUST_CHECK;

/*
 * Reads all of PATH into a new NUL-terminated buffer (*out, caller frees
 * with free(); callers reading secrets wipe it first). Files over MAX bytes
 * are refused with CV_ERR_INVALID. CV_ERR_NOT_FOUND if PATH is absent.
 */
/* cv_file_read on the open file FD (NAME for messages), from its start. */
cv_err cv_fd_read(int fd, const char *name, size_t max, char **out,
    size_t *len) CV_MUST_CHECK;
cv_err cv_file_read(const char *path, size_t max, char **out,
    size_t *len) CV_MUST_CHECK;

/* snprintf into a fixed buffer; CV_ERR_INVALID if it does not fit. */
cv_err cv_path(char *out, size_t outsz, const char *fmt, ...)
    CV_PRINTF(3, 4) CV_MUST_CHECK;

/* Monotonic seconds, for rates and progress. */
double cv_now(void);
/* The same clock in microseconds: ages and deadlines kept as integers. */
int64_t cv_now_us(void);

/* Wall-clock time: microseconds since 1970-01-01 UTC. */
int64_t cv_time_us(void);



/*
 * Fault injection for tests (base/fault.c, tests/fault/), compiled into
 * test builds only; both return 0 in release builds.
 *
 * cv_fault: 1 when CLEARVAULT_FAULT is "NAME:N" and this is the Nth call
 * with NAME in this process, or "NAME:@FILE" and FILE exists (every call
 * fails while it does): a named point a test aims at.
 *
 * cv_fault_at: the same for a call of class CLS ("p11"...) at SITE, one
 * of the calls a CLEARVAULT_FAULT of "CLS:N", "CLS.SITE:N", "io:N" or
 * "any:N" counts (the syntax is at the top of fault.c). For wrappers of
 * calls that the link step cannot wrap (PKCS#11's function list).
 */
int cv_fault(const char *name);
int cv_fault_at(const char *cls, const char *site);
#endif
