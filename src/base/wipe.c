/*
 * Every freed heap block wiped, once a server process asks for it.
 *
 * The TLS and HTTP libraries free request and reply plaintext (bearer
 * tokens, TOTP URIs, record text) without wiping it, in blocks we never
 * see. This file replaces malloc's entry points for the whole process (the
 * interposition glibc documents under "Replacing malloc"): until
 * cv_wipe_frees() is called they hand straight to glibc's own allocator
 * (__libc_malloc and friends); after it, free() and a moving realloc()
 * zero the whole block glibc gave (malloc_usable_size) before giving it
 * back. glibc's own setting for this (the perturb tunable) fills blocks on
 * malloc as well as on free and only works with the thread cache off,
 * which cost the server about 6% of its reads; this costs one memset per
 * free. aligned_alloc and the other memalign-style calls stay glibc's:
 * their blocks come back through this free() like any other.
 *
 * Not in sanitizer builds: their runtimes replace malloc themselves (and
 * ASan fills freed memory on request: the supervisor's ASAN_OPTIONS).
 */
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"

/* meson defines CV_NO_WIPE_ALLOC for every sanitizer build (their
 * runtimes replace malloc too); these catch a build made otherwise. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define CV_NO_WIPE_ALLOC 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CV_NO_WIPE_ALLOC 1
#endif

#ifndef CV_NO_WIPE_ALLOC
static int wiping;

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

#define CV_PUBLIC __attribute__((visibility("default")))

/* Our own declarations: these are not the library's prototypes' users. */
CV_PUBLIC void *malloc(size_t n);
CV_PUBLIC void *calloc(size_t k, size_t n);
CV_PUBLIC void *realloc(void *p, size_t n);
CV_PUBLIC void free(void *p);

/*
 * The first two words of a block stay: glibc's free writes its list
 * pointers there and keeps the thread cache's double-free key in the
 * second, which a wipe would erase (a double free, which glibc aborts
 * on, would then go through and link the block twice). What can remain
 * of a freed block is those 16 bytes, and only for blocks that do not go
 * to a list (merged into their neighbours): no token or seed fits. A
 * pointer glibc would refuse as misaligned is not touched either: glibc
 * aborts on it before any use, where a wipe with a size read from a
 * bogus header would write first.
 */
#define WIPE_SKIP (2 * sizeof(void *))

static void
wipe(void *p)
{
	size_t n;

	if ((uintptr_t)p % (2 * sizeof(size_t)) != 0)
		return;
	n = malloc_usable_size(p);
	if (n <= WIPE_SKIP || (uintptr_t)p + n < (uintptr_t)p)
		return;
	/* Not memset: a store into a block about to be freed is dead to the
	 * compiler. */
	explicit_bzero((char *)p + WIPE_SKIP, n - WIPE_SKIP);
}

void *
malloc(size_t n)
{
	return __libc_malloc(n);
}

void *
calloc(size_t k, size_t n)
{
	return __libc_calloc(k, n);
}

void
free(void *p)
{
	if (p != NULL && __atomic_load_n(&wiping, __ATOMIC_RELAXED))
		wipe(p);
	__libc_free(p);
}

/* glibc may move a block it grows and free the old one unwiped: when
 * wiping, a growth past the block is a new block, a copy and a free. */
void *
realloc(void *p, size_t n)
{
	size_t have;
	void *q;

	if (p == NULL || !__atomic_load_n(&wiping, __ATOMIC_RELAXED))
		return __libc_realloc(p, n);
	if (n == 0) {
		free(p);
		return NULL;
	}
	if ((have = malloc_usable_size(p)) >= n)
		return p;
	if ((q = __libc_malloc(n)) == NULL)
		return NULL;
	memcpy(q, p, have);
	free(p);
	return q;
}
#endif

int
cv_wipe_frees(void)
{
#ifdef CV_NO_WIPE_ALLOC
	return 0;
#else
	__atomic_store_n(&wiping, 1, __ATOMIC_RELAXED);
	return 1;
#endif
}
