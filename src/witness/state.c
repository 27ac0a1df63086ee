/*
 * A log's witness state on disk: the last checkpoint cosigned, durable
 * before the cosignature leaves, with one flush per update.
 *
 * state/H is two slots of SLOT_BYTES, written in turn (slot = seq % 2)
 * with pwrite + fdatasync, never renamed:
 *
 *   "CVWS" 0x01 | seq u64be | len u32be | note[len] | SHA-256(all before)
 *
 * A crash in the middle of a write spoils only the slot being written;
 * the other one still holds the state before, and nothing of the new one
 * was cosigned (the reply is made after the flush). The valid slot with
 * the higher seq is the state. The first write goes to slot 1: a file
 * whose slot 0 is still all zeroes and has no valid slot was never
 * completely written (never cosigned). Any other file without a valid
 * slot is refused (fail closed: the witness cannot know what it signed).
 * The checksum catches torn writes, not an attacker with the disk: that
 * one has the key too.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nettle/sha2.h>

#include "../audit/note.h"
#include "witness_internal.h"

#define SLOT_MAGIC "CVWS\x01"
#define SLOT_HEAD (5 + 8 + 4)
#define SLOT_BYTES 20480
_Static_assert(SLOT_HEAD + CV_WITNESS_MAX_BODY + 32 <= SLOT_BYTES,
    "a slot holds the largest note");

static void
digest(const uint8_t *p, size_t n, uint8_t out[32])
{
	struct sha256_ctx c;

	sha256_init(&c);
	sha256_update(&c, n, p);
	sha256_digest(&c, 32, out);
}

/* Slot S of BUF: 1 with *SEQ and its checkpoint in C when valid. */
static int
slot_valid(const uint8_t *s, const char *origin, uint64_t *seq,
    struct cv_checkpoint *c)
{
	uint8_t d[32];
	uint32_t len;
	size_t tl;

	if (memcmp(s, SLOT_MAGIC, 5) != 0)
		return 0;
	len = cv_get_u32be(s + 13);
	if (len > SLOT_BYTES - SLOT_HEAD - 32)
		return 0;
	digest(s, SLOT_HEAD + len, d);
	if (memcmp(d, s + SLOT_HEAD + len, 32) != 0)
		return 0;
	if ((tl = witness_note_text_len((const char *)s + SLOT_HEAD, len)) ==
	    0 || cv_checkpoint_parse((const char *)s + SLOT_HEAD, tl, c) !=
	    CV_OK || strcmp(c->origin, origin) != 0)
		return 0;
	*seq = cv_get_u64be(s + 5);
	return 1;
}

static int
all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

cv_err
witness_state_load(struct witness_state *s, const char *origin)
{
	uint8_t *buf = NULL;
	struct cv_checkpoint c[2];
	uint64_t seq[2];
	int ok[2];
	ssize_t n;
	cv_err r;

	s->have = 0;
	s->seq = 0;
	if ((s->fd = open(s->path, O_RDWR | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return CV_OK;	/* never cosigned */
		return cv_fail(CV_ERR_IO, "%s: %s", s->path, strerror(errno));
	}
	if ((buf = calloc(2, SLOT_BYTES)) == NULL)
		return CV_ERR_NOMEM;
	if ((n = pread(s->fd, buf, 2 * SLOT_BYTES, 0)) < 0) {
		r = cv_fail(CV_ERR_IO, "%s: %s", s->path, strerror(errno));
		goto out;
	}
	for (int i = 0; i < 2; i++)
		ok[i] = slot_valid(buf + i * SLOT_BYTES, origin, &seq[i], &c[i]);
	if (!ok[0] && !ok[1]) {
		r = all_zero(buf, SLOT_BYTES) ? CV_OK : cv_fail(CV_ERR_FORMAT,
		    "%s: no valid state of %s (refusing to guess what was "
		    "cosigned)", s->path, origin);
		goto out;
	}
	{
		int i = ok[0] && (!ok[1] || seq[0] > seq[1]) ? 0 : 1;
		s->have = 1;
		s->seq = seq[i];
		s->size = c[i].size;
		memcpy(s->root, c[i].root, 32);
	}
	r = CV_OK;
 out:
	free(buf);
	return r;
}

/* The file, made once: two zeroed slots, flushed with its folder. */
static cv_err
create(struct witness_state *s)
{
	char dir[PATH_MAX], *slash;
	int dfd;

	if ((s->fd = open(s->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) < 0)
		return cv_fail(CV_ERR_IO, "cannot create %s: %s", s->path,
		    strerror(errno));
	if (ftruncate(s->fd, 2 * SLOT_BYTES) != 0 || fsync(s->fd) != 0)
		return cv_fail(CV_ERR_IO, "%s: %s", s->path, strerror(errno));
	if (cv_path(dir, sizeof dir, "%s", s->path) != CV_OK ||
	    (slash = strrchr(dir, '/')) == NULL)
		return CV_ERR_INTERNAL;
	*slash = '\0';
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return cv_fail(CV_ERR_IO, "cannot open %s", dir);
	if (fsync(dfd) != 0) {
		close(dfd);
		return cv_fail(CV_ERR_IO, "cannot sync %s", dir);
	}
	close(dfd);
	return CV_OK;
}

cv_err
witness_state_save(struct witness_state *s, const char *note, size_t len,
    uint64_t size, const uint8_t root[static 32])
{
	uint8_t *buf = NULL;
	uint64_t seq = s->seq + 1;
	size_t n = SLOT_HEAD + len + 32;
	cv_err r;

	/* After a failed flush the file's content is unknown (and Linux
	 * may have dropped the dirty pages): no more updates until a
	 * restart reads what is really there. */
	if (s->broken)
		return cv_fail(CV_ERR_IO, "%s: an earlier write failed; "
		    "restart the witness", s->path);
	if (len > SLOT_BYTES - SLOT_HEAD - 32)
		return cv_fail(CV_ERR_INVALID, "checkpoint too large");
	if (s->fd < 0 && (r = create(s)) != CV_OK) {
		/* Only a file this call made is removed: one that exists
		 * (EEXIST) records what was cosigned. */
		if (s->fd >= 0) {
			close(s->fd);
			s->fd = -1;
			(void)unlink(s->path);
		}
		return r;
	}
	if ((buf = malloc(n)) == NULL)
		return CV_ERR_NOMEM;
	memcpy(buf, SLOT_MAGIC, 5);
	cv_put_u64be(buf + 5, seq);
	cv_put_u32be(buf + 13, (uint32_t)len);
	memcpy(buf + SLOT_HEAD, note, len);
	digest(buf, SLOT_HEAD + len, buf + SLOT_HEAD + len);
	if (cv_fault("witness.state_write") ||
	    pwrite(s->fd, buf, n, (off_t)(seq % 2) * SLOT_BYTES) != (ssize_t)n ||
	    fdatasync(s->fd) != 0) {
		s->broken = 1;
		r = cv_fail(CV_ERR_IO, "cannot write %s: %s", s->path,
		    strerror(errno));
		goto out;
	}
	s->seq = seq;
	s->have = 1;
	s->size = size;
	memcpy(s->root, root, 32);
	r = CV_OK;
 out:
	free(buf);
	return r;
}

void
witness_state_close(struct witness_state *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}
