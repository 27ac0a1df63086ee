/*
 * A private SoftHSM2 token's token.object, kept whole across a kill -9.
 *
 * SoftHSM2 (2.6, file backend) rewrites token.object in place at every
 * successful C_Login, to store the token's flags (Token::loginUser ->
 * setTokenFlags -> ObjectFile::store): ftruncate to 0, then one write of
 * the whole file when it is closed; no copy, no rename. A process killed
 * between the two (any clearvault command logs in once, while it starts)
 * leaves it empty, and with it the token's label, its PIN blobs and the
 * key that encrypts every object: the token is gone ("no token labelled
 * ..."), and the vault with it. Found by tests/fault/test_kill_rotate.sh.
 *
 * So each token folder keeps a copy, token.object.kept (SoftHSM2 reads
 * only "*.object" files there), made after a login, when SoftHSM2 has
 * just written the file whole, and put back before the module is loaded
 * over a token.object that is shorter than it. A login changes nothing
 * of the file but its generation counter (the flags it stores are those
 * it found), so its length never changes after init. Both sides take SoftHSM2's own lock on the file (a POSIX
 * write lock on token.object while it stores), so a rewrite in progress
 * in another process is waited for, never taken for a torn one.
 *
 * For the private token only (DIR/token, the development default): a
 * real HSM keeps its state its own way.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keys_internal.h"

#define TOKEN_OBJECT "token.object"
#define KEPT ".kept"
#define TOKEN_OBJECT_MAX (64 * 1024)
#define GEN_BYTES 8		/* ObjectFile: the generation, then attributes */

/* PATH opened and locked (TYPE: F_RDLCK or F_WRLCK, waiting for a
 * writer, whose store holds F_WRLCK); -1 if there is none. */
static int
open_locked(const char *path, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET };
	int fd;

	if ((fd = open(path, (type == F_WRLCK ? O_RDWR : O_RDONLY) |
	    O_CLOEXEC)) < 0)
		return -1;
	while (fcntl(fd, F_SETLKW, &fl) != 0) {
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

/* Puts the kept copy back over a torn token.object of TOKDIR. */
static cv_err
mend(const char *tokdir)
{
	char path[PATH_MAX], kept[PATH_MAX], *text = NULL;
	struct stat st;
	size_t len = 0;
	int fd;
	cv_err r;

	if ((r = cv_path(path, sizeof path, "%s/" TOKEN_OBJECT, tokdir)) !=
	    CV_OK ||
	    (r = cv_path(kept, sizeof kept, "%s/" TOKEN_OBJECT KEPT,
	    tokdir)) != CV_OK)
		return r;
	/* No file or no lock: SoftHSM2 is the one to say what is wrong. */
	if ((fd = open_locked(path, F_WRLCK)) < 0)
		return CV_OK;
	if (fstat(fd, &st) != 0 || (r = cv_file_read(kept, TOKEN_OBJECT_MAX,
	    &text, &len)) != CV_OK) {
		r = r == CV_ERR_NOT_FOUND ? CV_OK : r;
		goto out;
	}
	if ((uint64_t)st.st_size >= len)
		goto out;
	/* Renamed over it while we hold the lock on the torn one: a writer
	 * waiting for that lock writes a file no longer anyone's. */
	if ((r = cv_file_replace(path, text, len, 0600)) != CV_OK)
		goto out;
	fprintf(stderr, "clearvault: %s was torn (%lld of %zu bytes: a "
	    "process killed while SoftHSM2 rewrote it); put back from %s\n",
	    path, (long long)st.st_size, len, kept);
 out:
	free(text);
	close(fd);
	return r;
}

/*
 * A copy of TOKDIR's token.object, unless the kept one says the same past
 * the generation counter SoftHSM2 bumps at every write (its first 8
 * bytes): a login leaves the rest as it was, so the copy is written once,
 * and again only if the token changed (a new PIN). Never a shorter one:
 * that would be a torn one, left since our login by a process killed.
 */
static cv_err
keep(const char *tokdir)
{
	char path[PATH_MAX], kept[PATH_MAX], *text = NULL, *old = NULL;
	size_t len = 0, olen = 0;
	int fd;
	cv_err r;

	if ((r = cv_path(path, sizeof path, "%s/" TOKEN_OBJECT, tokdir)) !=
	    CV_OK ||
	    (r = cv_path(kept, sizeof kept, "%s/" TOKEN_OBJECT KEPT,
	    tokdir)) != CV_OK)
		return r;
	if ((fd = open_locked(path, F_RDLCK)) < 0)
		return CV_OK;
	if ((r = cv_fd_read(fd, path, TOKEN_OBJECT_MAX, &text, &len)) !=
	    CV_OK || len <= GEN_BYTES)
		goto out;
	if ((r = cv_file_read(kept, TOKEN_OBJECT_MAX, &old, &olen)) ==
	    CV_OK && (olen > len || (olen == len &&
	    memcmp(old + GEN_BYTES, text + GEN_BYTES, len - GEN_BYTES) == 0)))
		goto out;
	if (r != CV_OK && r != CV_ERR_NOT_FOUND)
		goto out;
	r = cv_file_replace(kept, text, len, 0600);
 out:
	free(text);
	free(old);
	close(fd);
	return r;
}

/* FN on every token folder (objects/UUID) of the SoftHSM2 config CONF. */
static cv_err
each_token(const char *conf, cv_err (*fn)(const char *tokdir))
{
	char objects[PATH_MAX], tokdir[PATH_MAX];
	const char *slash = strrchr(conf, '/');
	struct dirent *d;
	struct stat st;
	DIR *dir;
	cv_err r = CV_OK;

	if ((r = cv_path(objects, sizeof objects, "%.*s/objects",
	    slash ? (int)(slash - conf) : 1, slash ? conf : ".")) != CV_OK)
		return r;
	if ((dir = opendir(objects)) == NULL)
		return CV_OK;	/* SoftHSM2 says so, at load */
	while (r == CV_OK && (d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.' || cv_path(tokdir, sizeof tokdir,
		    "%s/%s", objects, d->d_name) != CV_OK ||
		    stat(tokdir, &st) != 0 || !S_ISDIR(st.st_mode))
			continue;
		r = fn(tokdir);
	}
	closedir(dir);
	return r;
}

cv_err
softhsm_token_mend(const char *conf)
{
	return each_token(conf, mend);
}

cv_err
softhsm_token_keep(const char *conf)
{
	return each_token(conf, keep);
}
