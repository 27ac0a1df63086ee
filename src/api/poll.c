/*
 * poll() for the whole process, flushing first what the calling thread
 * held back for keyd (cv_keyd_defer_thread). libmicrohttpd's workers call
 * poll() once per round, after answering every connection that was ready:
 * the reads those connections asked for leave in one write, and keyd
 * wakes once per round instead of once per read. glibc's own poll is
 * __poll; this is the same ELF interposition as base/wipe.c's malloc.
 */
#include <poll.h>

#include "api_internal.h"

extern int __poll(struct pollfd *fds, nfds_t n, int timeout);

__attribute__((visibility("default"))) int poll(struct pollfd *fds,
    nfds_t n, int timeout);

int
poll(struct pollfd *fds, nfds_t n, int timeout)
{
	cv_keyd_flush_thread();
	return __poll(fds, n, timeout);
}

void
api_worker_defers(void)
{
	cv_keyd_defer_thread();
}
