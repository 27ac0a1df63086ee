#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "base.h"

cv_err
cv_buf_reserve(struct cv_buf *b, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (b->cap - b->len >= n)
		return CV_OK;
	if (n > SIZE_MAX / 2 - b->len)
		return CV_ERR_NOMEM;
	cap = b->cap ? b->cap : 256;
	while (cap - b->len < n)
		cap *= 2;
	/*
	 * Not realloc: the old block may hold plaintext and must be wiped
	 * before it goes back to the allocator.
	 */
	if ((p = malloc(cap)) == NULL)
		return CV_ERR_NOMEM;
	if (b->len)
		memcpy(p, b->p, b->len);
	if (b->p) {
		sodium_memzero(b->p, b->cap);
		free(b->p);
	}
	b->p = p;
	b->cap = cap;
	return CV_OK;
}

cv_err
cv_buf_add(struct cv_buf *b, const void *data, size_t n)
{
	cv_err r;

	if ((r = cv_buf_reserve(b, n)) != CV_OK)
		return r;
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	return CV_OK;
}

void
cv_free_wiped(void *p)
{
	if (p == NULL)
		return;
	sodium_memzero(p, malloc_usable_size(p));
	free(p);
}

void *
cv_json_malloc(size_t n)
{
	static const char msg[] = "clearvault: out of memory in the JSON "
	    "library, which cannot fail cleanly; stopping\n";
	void *p;

	if ((p = malloc(n)) == NULL) {
		if (write(2, msg, sizeof msg - 1) < 0) {
			/* nothing more to say */
		}
		abort();
	}
	return p;
}

void
cv_buf_free(struct cv_buf *b)
{
	if (b->p) {
		sodium_memzero(b->p, b->cap);
		free(b->p);
	}
	b->p = NULL;
	b->len = b->cap = 0;
}

static cv_err
write_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;
	ssize_t n;

	while (len) {
		if ((n = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return CV_ERR_IO;
		}
		p += n;
		len -= (size_t)n;
	}
	return CV_OK;
}

static cv_err
write_new(const char *path, const void *data, size_t len, unsigned mode)
{
	int fd;
	cv_err r;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode);
	if (fd < 0) {
		if (errno == EEXIST)
			return cv_fail(CV_ERR_EXISTS, "%s already exists", path);
		return cv_fail(CV_ERR_IO, "cannot create %s: %s", path,
		    strerror(errno));
	}
	if ((r = write_all(fd, data, len)) != CV_OK || fsync(fd) != 0) {
		cv_err_set("cannot write %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return CV_ERR_IO;
	}
	if (close(fd) != 0)
		return cv_fail(CV_ERR_IO, "cannot close %s", path);
	return CV_OK;
}

static cv_err
sync_parent(const char *path)
{
	char tmp[4096];
	int fd;

	if (strlen(path) >= sizeof tmp)
		return CV_ERR_INVALID;
	strcpy(tmp, path);
	if ((fd = open(dirname(tmp), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return cv_fail(CV_ERR_IO, "cannot open folder of %s", path);
	if (fsync(fd) != 0) {
		close(fd);
		return cv_fail(CV_ERR_IO, "cannot sync folder of %s", path);
	}
	close(fd);
	return CV_OK;
}

cv_err
cv_file_create(const char *path, const void *data, size_t len, unsigned mode)
{
	cv_err r;

	if ((r = write_new(path, data, len, mode)) != CV_OK)
		return r;
	return sync_parent(path);
}

cv_err
cv_file_replace(const char *path, const void *data, size_t len, unsigned mode)
{
	char tmp[4096];
	cv_err r;

	if ((r = cv_path(tmp, sizeof tmp, "%s.tmp", path)) != CV_OK)
		return r;
	/* A leftover from a crash is ours to replace. */
	(void)unlink(tmp);
	if ((r = write_new(tmp, data, len, mode)) != CV_OK)
		return r;
	if (rename(tmp, path) != 0) {
		unlink(tmp);
		return cv_fail(CV_ERR_IO, "cannot replace %s: %s", path,
		    strerror(errno));
	}
	return sync_parent(path);
}

cv_err
cv_fd_read(int fd, const char *name, size_t max, char **out, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	ssize_t n;
	cv_err r = CV_ERR_IO;

	*out = NULL;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		cv_err_set("%s is not a regular file", name);
		goto out;
	}
	if ((size_t)st.st_size > max) {
		r = cv_fail(CV_ERR_INVALID, "%s is larger than %zu bytes",
		    name, max);
		goto out;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		r = CV_ERR_NOMEM;
		goto out;
	}
	/* From the start, whatever the descriptor's position: pread. */
	while (got < (size_t)st.st_size) {
		n = pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cv_err_set("cannot read %s", name);
			goto out;
		}
		if (n == 0)
			break;	/* shorter than it was: a writer truncated */
		got += (size_t)n;
	}
	buf[got] = '\0';
	*out = buf;
	buf = NULL; /* transferred */
	if (len)
		*len = got;
	r = CV_OK;
 out:
	free(buf);
	return r;
}

cv_err
cv_file_read(const char *path, size_t max, char **out, size_t *len)
{
	int fd;
	cv_err r;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return cv_fail(CV_ERR_NOT_FOUND, "%s does not exist",
			    path);
		return cv_fail(CV_ERR_IO, "cannot open %s: %s", path,
		    strerror(errno));
	}
	r = cv_fd_read(fd, path, max, out, len);
	close(fd);
	return r;
}

cv_err
cv_path(char *out, size_t outsz, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, outsz, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= outsz)
		return cv_fail(CV_ERR_INVALID, "path too long");
	return CV_OK;
}

double
cv_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t
cv_now_us(void)
{
	return (int64_t)(cv_now() * 1e6);
}

int64_t
cv_time_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
