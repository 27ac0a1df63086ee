/*
 * The vault's record of its witnesses, in VAULT/witness/ (made 0700):
 *
 *   checkpoint   the newest checkpoint a witness cosigned: the log's note
 *                followed by every valid cosignature line it got
 *   H.size       per witness (H = hex SHA-256(vkey)[:8]): "VKEY\nSIZE\n",
 *                the size that witness last cosigned, the `old` of the
 *                next request
 *
 * The supervisor's pusher writes them (each atomically: cv_file_replace);
 * keyd and the command line read `checkpoint` to serve a note with its
 * cosignatures. A reader treats the files as outside input: a file that
 * is not what it should be is ignored (the log's own signature still
 * stands), never trusted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "../audit/audit.h"
#include "witness_internal.h"

#define EM_DASH "\xe2\x80\x94"
#define MAX_FILE (16384 + CV_WITNESS_QUORUM_KEYS * CV_WITNESS_LINE_MAX)

static cv_err
folder(const char *vault_dir, char *out, size_t size, int make)
{
	cv_err r;

	if ((r = cv_path(out, size, "%s/witness", vault_dir)) != CV_OK)
		return r;
	if (make && mkdir(out, 0700) != 0 && errno != EEXIST)
		return cv_fail(CV_ERR_IO, "%s: %s", out, strerror(errno));
	return CV_OK;
}

static cv_err
size_path(const char *vault_dir, const char *vkey, char *out, size_t size,
    int make)
{
	uint8_t h[crypto_hash_sha256_BYTES];
	char dir[4096], hex[17];
	cv_err r;

	crypto_hash_sha256(h, (const uint8_t *)vkey, strlen(vkey));
	sodium_bin2hex(hex, sizeof hex, h, 8);
	if ((r = folder(vault_dir, dir, sizeof dir, make)) != CV_OK)
		return r;
	return cv_path(out, size, "%s/%s.size", dir, hex);
}

cv_err
cv_witness_sent_load(const char *vault_dir, const char *vkey, uint64_t *size)
{
	char path[4096], *text = NULL, *nl, *e;
	size_t len, vl = strlen(vkey);
	unsigned long long v;
	cv_err r;

	*size = 0;
	if ((r = size_path(vault_dir, vkey, path, sizeof path, 0)) != CV_OK)
		return r;
	if ((r = cv_file_read(path, 512, &text, &len)) != CV_OK)
		return r == CV_ERR_NOT_FOUND ? CV_OK : r;
	r = cv_fail(CV_ERR_FORMAT, "%s: not a witness's size", path);
	if (len < vl + 3 || memcmp(text, vkey, vl) != 0 || text[vl] != '\n' ||
	    (nl = strchr(text + vl + 1, '\n')) == NULL || nl[1] != '\0' ||
	    text[vl + 1] < '0' || text[vl + 1] > '9')
		goto out;
	errno = 0;
	v = strtoull(text + vl + 1, &e, 10);
	if (e != nl || errno != 0)
		goto out;
	*size = v;
	r = CV_OK;
 out:
	free(text);
	return r;
}

cv_err
cv_witness_sent_save(const char *vault_dir, const char *vkey, uint64_t size)
{
	char path[4096], text[CV_WITNESS_VKEY_MAX + 32];
	int n;
	cv_err r;

	if ((r = size_path(vault_dir, vkey, path, sizeof path, 1)) != CV_OK)
		return r;
	n = snprintf(text, sizeof text, "%s\n%llu\n", vkey,
	    (unsigned long long)size);
	if (n < 0 || (size_t)n >= sizeof text)
		return cv_fail(CV_ERR_INVALID, "witness key too long");
	return cv_file_replace(path, text, (size_t)n, 0600);
}

cv_err
cv_witness_cosigned_save(const char *vault_dir, const char *note, size_t len)
{
	char dir[4096], path[4200];
	cv_err r;

	if ((r = folder(vault_dir, dir, sizeof dir, 1)) != CV_OK ||
	    (r = cv_path(path, sizeof path, "%s/checkpoint", dir)) != CV_OK)
		return r;
	return cv_file_replace(path, note, len, 0600);
}

cv_err
cv_witness_cosigned_load(const char *vault_dir, char **out, size_t *len)
{
	char dir[4096], path[4200];
	cv_err r;

	*out = NULL;
	*len = 0;
	if ((r = folder(vault_dir, dir, sizeof dir, 0)) != CV_OK ||
	    (r = cv_path(path, sizeof path, "%s/checkpoint", dir)) != CV_OK)
		return r;
	return cv_file_read(path, MAX_FILE, out, len);
}

/* 1 if [P, P + LEN) is nothing but signature lines ("— " ... "\n"). */
static int
only_sig_lines(const char *p, size_t len)
{
	const char *end = p + len, *nl;
	size_t n = 0;

	if (len == 0)
		return 0;
	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL ||
		    (size_t)(nl - p) < 5 || (size_t)(nl - p) >
		    CV_WITNESS_LINE_MAX || memcmp(p, EM_DASH " ", 4) != 0 ||
		    ++n > CV_WITNESS_QUORUM_KEYS)
			return 0;
		for (const char *q = p + 4; q < nl; q++)
			if ((unsigned char)*q < 0x20 || *q == 0x7f)
				return 0;
	}
	return 1;
}

cv_err
cv_witness_attach(const char *vault_dir, struct cv_buf *note)
{
	char *text = NULL;
	size_t len;
	cv_err r;

	/* No file, an unreadable or another checkpoint's: the note as the
	 * log signed it. Only the cosignature lines are taken over, and
	 * only when the file's note is byte for byte this one. */
	if (note->len == 0 ||
	    cv_witness_cosigned_load(vault_dir, &text, &len) != CV_OK ||
	    len <= note->len || memcmp(text, note->p, note->len) != 0 ||
	    note->p[note->len - 1] != '\n' ||
	    !only_sig_lines(text + note->len, len - note->len) ||
	    len > CV_NOTE_MAX_BYTES) {
		free(text);
		return CV_OK;
	}
	r = cv_buf_add(note, text + note->len, len - note->len);
	free(text);
	return r;
}

cv_err
cv_witness_cosigned_get(const char *vault_dir, struct cv_audit *a,
    struct cv_buf *out)
{
	struct cv_checkpoint c, latest;
	struct cv_audit_proof p;
	char *text = NULL, vkey[256], name[CV_NOTE_NAME_MAX + 1], *sig;
	uint8_t pk[CV_ED25519_PK];
	size_t len, tlen;
	cv_err r;

	if ((r = cv_witness_cosigned_load(vault_dir, &text, &len)) != CV_OK) {
		if (r == CV_ERR_NOT_FOUND)
			r = cv_fail(r, "no cosigned checkpoint yet (no "
			    "witness has cosigned one, or none is configured)");
		goto out;
	}
	/* The detail is set after the checks, which set their own. */
	r = CV_ERR_FORMAT;
	if (len > CV_NOTE_MAX_BYTES ||
	    cv_audit_vkey(a, vkey, sizeof vkey) != CV_OK ||
	    cv_note_vkey_parse(vkey, name, pk) != CV_OK ||
	    cv_note_verify(text, len, name, pk, &tlen) != CV_OK ||
	    cv_checkpoint_parse(text, tlen, &c) != CV_OK || c.size == 0 ||
	    !only_sig_lines(text + tlen + 1, len - tlen - 1) ||
	    cv_audit_latest(a, &latest) != CV_OK || latest.size < c.size ||
	    cv_audit_consistency(a, c.size, latest.size, &p) != CV_OK ||
	    sodium_memcmp(p.root1, c.root, sizeof c.root) != 0)
		goto out;
	/* At least one line that is not the log's own. */
	for (sig = text + tlen + 1; sig < text + len; sig = strchr(sig, '\n')
	    + 1)
		if (strncmp(sig + 4, name, strlen(name)) != 0 ||
		    sig[4 + strlen(name)] != ' ')
			break;
	if (sig >= text + len)
		goto out;
	r = cv_buf_add(out, text, len);
 out:
	free(text);
	if (r == CV_ERR_FORMAT)
		r = cv_fail(r, "%s/witness/checkpoint is not a cosigned "
		    "checkpoint of this log", vault_dir);
	return r;
}
