/*
 * The file side of backups: copying with a checksum, whole folders (the
 * private token), and the list of checksums a backup carries
 * (SHA256SUMS, in sha256sum's own format, so that `sha256sum -c` checks a
 * backup without clearvault).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "vault_internal.h"

#define CHUNK (1u << 20)

/* Relative, no "." or ".." parts, no empty parts, a plain alphabet. */
static int
safe_path(const char *p, size_t n)
{
	size_t i, part = 0;

	if (n == 0 || n > CV_BACKUP_PATH_MAX || p[0] == '/' || p[n - 1] == '/')
		return 0;
	for (i = 0; i <= n; i++) {
		if (i == n || p[i] == '/') {
			if (part == 0 || (part == 1 && p[i - 1] == '.') ||
			    (part == 2 && p[i - 1] == '.' && p[i - 2] == '.'))
				return 0;
			part = 0;
			continue;
		}
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' &&
		    p[i] <= 'Z') || (p[i] >= '0' && p[i] <= '9') ||
		    p[i] == '.' || p[i] == '_' || p[i] == '-'))
			return 0;
		part++;
	}
	return 1;
}

cv_err
cv_vault_sums_parse(const char *text, size_t len,
    struct cv_backup_file **out, size_t *n)
{
	struct cv_backup_file *f = NULL, *grown;
	const char *p = text, *end = text + len, *nl;
	size_t cap = 0, line = 0, plen;
	cv_err r = CV_ERR_INVALID;

	*out = NULL;
	*n = 0;
	while (p < end) {
		line++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL) {
			r = cv_fail(CV_ERR_INVALID, "SHA256SUMS line %zu: no "
			    "newline at the end", line);
			goto fail;
		}
		if (nl - p < 64 + 2 + 1 || p[64] != ' ' || p[65] != ' ') {
			r = cv_fail(CV_ERR_INVALID, "SHA256SUMS line %zu: "
			    "expected 'SHA256  PATH'", line);
			goto fail;
		}
		plen = (size_t)(nl - p - 66);
		if (!safe_path(p + 66, plen)) {
			r = cv_fail(CV_ERR_INVALID, "SHA256SUMS line %zu: a "
			    "path that is not a plain relative one", line);
			goto fail;
		}
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			if (cap > CV_BACKUP_FILES_MAX ||
			    (grown = realloc(f, cap * sizeof *f)) == NULL) {
				r = cap > CV_BACKUP_FILES_MAX ?
				    cv_fail(CV_ERR_INVALID, "SHA256SUMS: more "
				    "than %d files", CV_BACKUP_FILES_MAX) :
				    CV_ERR_NOMEM;
				goto fail;
			}
			f = grown;
		}
		if (sodium_hex2bin(f[*n].sha256, sizeof f[*n].sha256, p, 64,
		    NULL, NULL, NULL) != 0 || strspn(p,
		    "0123456789abcdef") < 64) {
			r = cv_fail(CV_ERR_INVALID, "SHA256SUMS line %zu: not "
			    "a lower-case hex SHA-256", line);
			goto fail;
		}
		memcpy(f[*n].path, p + 66, plen);
		f[*n].path[plen] = '\0';
		for (size_t i = 0; i < *n; i++) {
			if (strcmp(f[i].path, f[*n].path) == 0) {
				r = cv_fail(CV_ERR_INVALID, "SHA256SUMS line "
				    "%zu: %s twice", line, f[*n].path);
				goto fail;
			}
		}
		(*n)++;
		p = nl + 1;
	}
	*out = f;
	return CV_OK;
 fail:
	free(f);
	*n = 0;
	return r;
}

cv_err
cv_vault_copy_file(const char *src, const char *dst,
    uint8_t sha256[static 32], struct cv_copy_progress *pr)
{
	crypto_hash_sha256_state st;
	uint8_t *buf = NULL;
	int in = -1, out = -1;
	ssize_t k;
	cv_err r = CV_ERR_IO;

	crypto_hash_sha256_init(&st);
	if ((buf = malloc(CHUNK)) == NULL)
		return CV_ERR_NOMEM;
	if ((in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		r = cv_fail(errno == ENOENT ? CV_ERR_NOT_FOUND : CV_ERR_IO,
		    "cannot read %s: %s", src, strerror(errno));
		goto out;
	}
	if (dst && (out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) < 0) {
		r = cv_fail(errno == EEXIST ? CV_ERR_EXISTS : CV_ERR_IO,
		    "cannot create %s: %s", dst, strerror(errno));
		goto out;
	}
	for (;;) {
		if ((k = read(in, buf, CHUNK)) < 0) {
			if (errno == EINTR)
				continue;
			r = cv_fail(CV_ERR_IO, "cannot read %s: %s", src,
			    strerror(errno));
			goto out;
		}
		if (k == 0)
			break;
		crypto_hash_sha256_update(&st, buf, (unsigned long long)k);
		for (ssize_t w = 0; out >= 0 && w < k; ) {
			ssize_t m = write(out, buf + w, (size_t)(k - w));
			if (m < 0 && errno == EINTR)
				continue;
			if (m <= 0) {
				r = cv_fail(CV_ERR_IO, "cannot write %s: %s",
				    dst, strerror(errno));
				goto out;
			}
			w += m;
		}
		if (pr && pr->fn) {
			pr->done += (uint64_t)k;
			pr->fn(pr->ctx, pr->done, pr->total);
		}
	}
	if (out >= 0 && fsync(out) != 0) {
		r = cv_fail(CV_ERR_IO, "cannot sync %s: %s", dst,
		    strerror(errno));
		goto out;
	}
	crypto_hash_sha256_final(&st, sha256);
	r = CV_OK;
 out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (r != CV_OK && out >= 0)
		(void)unlink(dst);
	free(buf);
	return r;
}

cv_err
cv_vault_copy_tree(const char *src, const char *dst)
{
	DIR *d;
	struct dirent *e;
	struct stat st;
	char s[CV_CONFIG_PATH_MAX], t[CV_CONFIG_PATH_MAX];
	uint8_t sum[32];
	cv_err r = CV_OK;

	if (mkdir(dst, 0700) != 0 && !(errno == EEXIST &&
	    stat(dst, &st) == 0 && S_ISDIR(st.st_mode)))
		return cv_fail(CV_ERR_IO, "cannot create %s: %s", dst,
		    strerror(errno));
	if ((d = opendir(src)) == NULL)
		return cv_fail(errno == ENOENT ? CV_ERR_NOT_FOUND : CV_ERR_IO,
		    "cannot read %s: %s", src, strerror(errno));
	while (r == CV_OK && (e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if ((r = cv_path(s, sizeof s, "%s/%s", src, e->d_name)) !=
		    CV_OK ||
		    (r = cv_path(t, sizeof t, "%s/%s", dst, e->d_name)) !=
		    CV_OK)
			break;
		if (lstat(s, &st) != 0)
			r = cv_fail(CV_ERR_IO, "%s: %s", s, strerror(errno));
		else if (S_ISDIR(st.st_mode))
			r = cv_vault_copy_tree(s, t);
		else if (S_ISREG(st.st_mode))
			r = cv_vault_copy_file(s, t, sum, NULL);
		else
			r = cv_fail(CV_ERR_INVALID, "%s is neither a file nor "
			    "a folder; refusing to copy it", s);
	}
	closedir(d);
	return r;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

void
cv_vault_remove_tree(const char *dir)
{
	(void)nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
