/*
 * The witness's folder, key and per-log state, and the add-checkpoint
 * decision (c2sp.org/tlog-witness). HTTP is serve.c's business; this file
 * turns a request body into a status and a reply.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <nettle/sha2.h>
#include <sodium.h>

#include "../audit/merkle.h"
#include "../audit/note.h"
#include "witness_internal.h"

#define KEY_MAGIC "CVWK\x01"
#define KEY_MAGIC_LEN 5
#define MAX_KEYS 8		/* trusted keys per origin */
#define MAX_LOGS 1024
#define LOGS_MAX_BYTES (MAX_LOGS * 400)

struct wkey {
	char name[CV_NOTE_NAME_MAX + 1];
	uint8_t pk[CV_ED25519_PK];
};

struct wlog {
	char origin[CV_NOTE_NAME_MAX + 1];
	struct wkey keys[MAX_KEYS];
	size_t nkeys;
	/* Check and update are one step under it (the spec's race). */
	pthread_mutex_t mu;
	struct witness_state st;
};

struct cv_witness {
	char dir[PATH_MAX];
	char name[CV_NOTE_NAME_MAX + 1];
	uint8_t pk[CV_WITNESS_PK];
	/* crypto_sign secret key (seed || pk), sodium_malloc'd, PROT_NONE
	 * between signatures; key_mu serialises the unlock/lock pair. */
	uint8_t *sk;
	pthread_mutex_t key_mu;
	struct wlog *logs;
	size_t nlogs;
	int lock_fd;
};

/* An origin as a checkpoint's first line carries it. */
static int
valid_origin(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CV_NOTE_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

cv_err
cv_witness_init(const char *dir, const char *name, char *vkey, size_t size)
{
	uint8_t *sk = NULL, pk[CV_WITNESS_PK];
	uint8_t *file = NULL;
	char path[PATH_MAX], conf[CV_NOTE_NAME_MAX + 8];
	DIR *d = NULL;
	struct dirent *e;
	cv_err r = CV_ERR_INTERNAL;

	if (sodium_init() < 0)
		return CV_ERR_CRYPTO;
	if (!witness_valid_name(name))
		return cv_fail(CV_ERR_INVALID, "witness name: non-empty, at "
		    "most 128 bytes, no spaces or '+' (a schema-less URL such "
		    "as example.org/witness)");
	if (mkdir(dir, 0700) != 0) {
		if (errno != EEXIST)
			return cv_fail(CV_ERR_IO, "cannot create %s: %s", dir,
			    strerror(errno));
		/* An existing folder only when empty: never mix with (or
		 * replace) another witness's key. */
		if ((d = opendir(dir)) == NULL)
			return cv_fail(CV_ERR_IO, "cannot read %s", dir);
		while ((e = readdir(d)) != NULL)
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
				closedir(d);
				return cv_fail(CV_ERR_EXISTS, "%s is not empty",
				    dir);
			}
		closedir(d);
		if (chmod(dir, 0700) != 0)
			return cv_fail(CV_ERR_IO, "cannot chmod %s", dir);
	}
	if ((sk = sodium_malloc(crypto_sign_SECRETKEYBYTES)) == NULL ||
	    (file = sodium_malloc(KEY_MAGIC_LEN + 32)) == NULL) {
		r = CV_ERR_NOMEM;
		goto out;
	}
	randombytes_buf(file + KEY_MAGIC_LEN, 32);
	memcpy(file, KEY_MAGIC, KEY_MAGIC_LEN);
	if (crypto_sign_seed_keypair(pk, sk, file + KEY_MAGIC_LEN) != 0) {
		r = CV_ERR_CRYPTO;
		goto out;
	}
	snprintf(conf, sizeof conf, "name %s\n", name);
	if ((r = cv_path(path, sizeof path, "%s/witness.key", dir)) != CV_OK ||
	    (r = cv_file_create(path, file, KEY_MAGIC_LEN + 32, 0600)) !=
	    CV_OK ||
	    (r = cv_path(path, sizeof path, "%s/logs", dir)) != CV_OK ||
	    (r = cv_file_create(path, "", 0, 0600)) != CV_OK ||
	    (r = cv_path(path, sizeof path, "%s/state", dir)) != CV_OK)
		goto out;
	if (mkdir(path, 0700) != 0) {
		r = cv_fail(CV_ERR_IO, "cannot create %s: %s", path,
		    strerror(errno));
		goto out;
	}
	/* Last: a folder with witness.conf is a complete witness. */
	if ((r = cv_path(path, sizeof path, "%s/witness.conf", dir)) != CV_OK ||
	    (r = cv_file_create(path, conf, strlen(conf), 0600)) != CV_OK ||
	    (r = cv_witness_vkey_format(name, pk, vkey, size)) != CV_OK)
		goto out;
	r = CV_OK;
 out:
	sodium_free(sk);	/* wipes */
	sodium_free(file);
	return r;
}

/* Reads DIR's "logs" file into LOGS (one per origin). */
static cv_err
load_logs(struct cv_witness *w)
{
	char path[PATH_MAX], *buf = NULL, *line, *nl, *sp;
	size_t len;
	struct wlog *l;
	cv_err r;

	if ((r = cv_path(path, sizeof path, "%s/logs", w->dir)) != CV_OK ||
	    (r = cv_file_read(path, LOGS_MAX_BYTES, &buf, &len)) != CV_OK)
		return r;
	for (line = buf; *line; line = nl + 1) {
		struct wkey k;
		size_t i;

		if ((nl = strchr(line, '\n')) == NULL ||
		    (sp = memchr(line, ' ', (size_t)(nl - line))) == NULL) {
			r = cv_fail(CV_ERR_FORMAT, "%s: bad line", path);
			goto out;
		}
		*sp = *nl = '\0';
		if ((r = cv_note_vkey_parse(line, k.name, k.pk)) != CV_OK ||
		    !valid_origin(sp + 1)) {
			r = cv_fail(CV_ERR_FORMAT, "%s: bad line for %s", path,
			    sp + 1);
			goto out;
		}
		for (i = 0; i < w->nlogs; i++)
			if (strcmp(w->logs[i].origin, sp + 1) == 0)
				break;
		if (i == w->nlogs) {
			if (w->nlogs == MAX_LOGS) {
				r = cv_fail(CV_ERR_LIMIT, "%s: more than %d "
				    "logs", path, MAX_LOGS);
				goto out;
			}
			l = &w->logs[w->nlogs++];
			l->st.fd = -1;	/* none yet: cv_witness_free closes */
			snprintf(l->origin, sizeof l->origin, "%s", sp + 1);
			pthread_mutex_init(&l->mu, NULL);
		}
		l = &w->logs[i];
		if (l->nkeys == MAX_KEYS) {
			r = cv_fail(CV_ERR_LIMIT, "%s: more than %d keys for %s",
			    path, MAX_KEYS, l->origin);
			goto out;
		}
		l->keys[l->nkeys++] = k;
	}
	r = CV_OK;
 out:
	free(buf);
	return r;
}

/* state/ + hex SHA-256(origin)[:16]: origins may hold '/' and more. */
static cv_err
state_path(const char *dir, const char *origin, char *out, size_t size)
{
	uint8_t d[32];
	char hex[33];
	struct sha256_ctx c;

	sha256_init(&c);
	sha256_update(&c, strlen(origin), (const uint8_t *)origin);
	sha256_digest(&c, sizeof d, d);
	sodium_bin2hex(hex, sizeof hex, d, 16);
	return cv_path(out, size, "%s/state/%s", dir, hex);
}

static cv_err
load_state(const char *dir, struct wlog *l)
{
	cv_err r;

	l->st.fd = -1;
	if ((r = state_path(dir, l->origin, l->st.path, sizeof l->st.path)) !=
	    CV_OK)
		return r;
	return witness_state_load(&l->st, l->origin);
}

static cv_err
load_key(struct cv_witness *w)
{
	char path[PATH_MAX], *buf = NULL;
	size_t len = 0;
	struct stat st;
	cv_err r;

	if ((r = cv_path(path, sizeof path, "%s/witness.key", w->dir)) !=
	    CV_OK)
		return r;
	if (stat(path, &st) == 0 && (st.st_mode & 077) != 0)
		return cv_fail(CV_ERR_CONFIG, "%s: readable by others (chmod "
		    "600 it)", path);
	if ((r = cv_file_read(path, 64, &buf, &len)) != CV_OK)
		return r;
	if (len != KEY_MAGIC_LEN + 32 || memcmp(buf, KEY_MAGIC,
	    KEY_MAGIC_LEN) != 0) {
		r = cv_fail(CV_ERR_FORMAT, "%s: not a witness key", path);
		goto out;
	}
	if ((w->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES)) == NULL) {
		r = CV_ERR_NOMEM;
		goto out;
	}
	if (crypto_sign_seed_keypair(w->pk, w->sk,
	    (const uint8_t *)buf + KEY_MAGIC_LEN) != 0) {
		r = CV_ERR_CRYPTO;
		goto out;
	}
	sodium_mprotect_noaccess(w->sk);
	r = CV_OK;
 out:
	if (buf)
		sodium_memzero(buf, len);
	free(buf);
	return r;
}

static cv_err
load_name(struct cv_witness *w)
{
	char path[PATH_MAX], *buf = NULL;
	size_t len;
	cv_err r;

	if ((r = cv_path(path, sizeof path, "%s/witness.conf", w->dir)) !=
	    CV_OK)
		return r;
	if ((r = cv_file_read(path, 256, &buf, &len)) != CV_OK)
		return r == CV_ERR_NOT_FOUND ? cv_fail(CV_ERR_NOT_FOUND,
		    "%s is not a witness folder (clearvault witness init)",
		    w->dir) : r;
	if (len < 6 || memcmp(buf, "name ", 5) != 0 || buf[len - 1] != '\n' ||
	    len - 6 > CV_NOTE_NAME_MAX) {
		r = cv_fail(CV_ERR_FORMAT, "%s: bad name line", path);
		goto out;
	}
	memcpy(w->name, buf + 5, len - 6);
	w->name[len - 6] = '\0';
	r = witness_valid_name(w->name) ? CV_OK : cv_fail(CV_ERR_FORMAT,
	    "%s: bad name", path);
 out:
	free(buf);
	return r;
}

cv_err
cv_witness_open(const char *dir, int lock, struct cv_witness **out)
{
	struct cv_witness *w;
	char path[PATH_MAX];
	cv_err r;

	*out = NULL;
	if (sodium_init() < 0)
		return CV_ERR_CRYPTO;
	if ((w = calloc(1, sizeof *w)) == NULL ||
	    (w->logs = calloc(MAX_LOGS, sizeof *w->logs)) == NULL) {
		free(w);
		return CV_ERR_NOMEM;
	}
	w->lock_fd = -1;
	pthread_mutex_init(&w->key_mu, NULL);
	if ((r = cv_path(w->dir, sizeof w->dir, "%s", dir)) != CV_OK ||
	    (r = load_name(w)) != CV_OK)
		goto out;
	if (lock) {
		if ((r = cv_path(path, sizeof path, "%s/lock", dir)) != CV_OK)
			goto out;
		if ((w->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC,
		    0600)) < 0) {
			r = cv_fail(CV_ERR_IO, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (flock(w->lock_fd, LOCK_EX | LOCK_NB) != 0) {
			r = cv_fail(CV_ERR_EXISTS, "another witness server "
			    "uses %s", dir);
			goto out;
		}
	}
	if ((r = load_key(w)) != CV_OK || (r = load_logs(w)) != CV_OK)
		goto out;
	for (size_t i = 0; i < w->nlogs; i++)
		if ((r = load_state(dir, &w->logs[i])) != CV_OK)
			goto out;
	*out = w;
	w = NULL;	/* transferred */
	r = CV_OK;
 out:
	cv_witness_free(w);
	return r;
}

void
cv_witness_free(struct cv_witness *w)
{
	if (w == NULL)
		return;
	sodium_free(w->sk);	/* unlocks, wipes, frees */
	for (size_t i = 0; i < w->nlogs; i++) {
		pthread_mutex_destroy(&w->logs[i].mu);
		witness_state_close(&w->logs[i].st);
	}
	free(w->logs);
	pthread_mutex_destroy(&w->key_mu);
	if (w->lock_fd >= 0)
		close(w->lock_fd);	/* releases the flock */
	free(w);
}

const char *
cv_witness_name(const struct cv_witness *w)
{
	return w->name;
}

cv_err
cv_witness_vkey(const struct cv_witness *w, char *out, size_t size)
{
	return cv_witness_vkey_format(w->name, w->pk, out, size);
}

cv_err
cv_witness_add_log(const char *dir, const char *origin, const char *vkey)
{
	char path[PATH_MAX], name[CV_NOTE_NAME_MAX + 1], *buf = NULL, *p;
	uint8_t pk[CV_ED25519_PK];
	struct cv_buf nb = { 0 };
	size_t len = 0, vl = strlen(vkey);
	cv_err r;

	if (!valid_origin(origin))
		return cv_fail(CV_ERR_INVALID, "origin: 1 to 128 bytes, no "
		    "control characters");
	if ((r = cv_note_vkey_parse(vkey, name, pk)) != CV_OK)
		return r;
	if ((r = cv_path(path, sizeof path, "%s/witness.conf", dir)) != CV_OK)
		return r;
	if (access(path, F_OK) != 0)
		return cv_fail(CV_ERR_NOT_FOUND, "%s is not a witness folder "
		    "(clearvault witness init)", dir);
	if ((r = cv_path(path, sizeof path, "%s/logs", dir)) != CV_OK ||
	    (r = cv_file_read(path, LOGS_MAX_BYTES, &buf, &len)) != CV_OK)
		goto out;
	/* The same (key, origin) line twice: nothing to add. */
	for (p = buf; (p = strstr(p, vkey)) != NULL; p++)
		if ((p == buf || p[-1] == '\n') && p[vl] == ' ' &&
		    strncmp(p + vl + 1, origin, strlen(origin)) == 0 &&
		    p[vl + 1 + strlen(origin)] == '\n') {
			r = cv_fail(CV_ERR_EXISTS, "%s is already witnessed "
			    "with that key", origin);
			goto out;
		}
	if ((r = cv_buf_add(&nb, buf, len)) != CV_OK ||
	    (r = cv_buf_add(&nb, vkey, vl)) != CV_OK ||
	    (r = cv_buf_add(&nb, " ", 1)) != CV_OK ||
	    (r = cv_buf_add(&nb, origin, strlen(origin))) != CV_OK ||
	    (r = cv_buf_add(&nb, "\n", 1)) != CV_OK ||
	    (r = cv_file_replace(path, nb.p, nb.len, 0600)) != CV_OK)
		goto out;
	r = CV_OK;
 out:
	cv_buf_free(&nb);
	free(buf);
	return r;
}

static struct wlog *
find_log(struct cv_witness *w, const char *origin)
{
	for (size_t i = 0; i < w->nlogs; i++)
		if (strcmp(w->logs[i].origin, origin) == 0)
			return &w->logs[i];
	return NULL;
}

cv_err
cv_witness_latest(struct cv_witness *w, const char *origin, uint64_t *size,
    uint8_t root[static 32])
{
	struct wlog *l = find_log(w, origin);
	cv_err r = CV_ERR_NOT_FOUND;

	*size = 0;
	if (l == NULL)
		return cv_fail(CV_ERR_NOT_FOUND, "unknown origin");
	pthread_mutex_lock(&l->mu);
	if (l->st.have) {
		*size = l->st.size;
		memcpy(root, l->st.root, CV_HASH_BYTES);
		r = CV_OK;
	}
	pthread_mutex_unlock(&l->mu);
	return r;
}

/* The cosignature of the checkpoint text TEXT as one line into OUT. */
static cv_err
cosign(struct cv_witness *w, const char *text, size_t len,
    struct cv_buf *out)
{
	struct cv_buf msg = { 0 };
	uint8_t sig[CV_WITNESS_SIG];
	uint64_t ts = (uint64_t)time(NULL);
	int bad;
	cv_err r;

	if ((r = cv_witness_cosig_message(text, len, ts, &msg)) != CV_OK)
		goto out;
	pthread_mutex_lock(&w->key_mu);
	sodium_mprotect_readonly(w->sk);
	bad = crypto_sign_detached(sig, NULL, msg.p, msg.len, w->sk);
	sodium_mprotect_noaccess(w->sk);
	pthread_mutex_unlock(&w->key_mu);
	if (bad) {
		r = CV_ERR_CRYPTO;
		goto out;
	}
	r = witness_cosig_line(w->name, w->pk, sig, ts, out);
 out:
	cv_buf_free(&msg);
	return r;
}

/* A plain-text reply. */
static cv_err
say(int *status, int code, struct cv_buf *reply, const char *fmt, ...)
    CV_PRINTF(4, 5);

static cv_err
say(int *status, int code, struct cv_buf *reply, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	*status = code;
	reply->len = 0;
	return cv_buf_add(reply, line, (size_t)n);
}

cv_err
cv_witness_add_checkpoint(struct cv_witness *w, const char *body,
    size_t len, int *status, const char **ctype, struct cv_buf *reply)
{
	struct cv_witness_req *req = NULL;
	struct cv_checkpoint c;
	struct wlog *l;
	size_t tlen = 0;
	int verified = 0, locked = 0;
	cv_err r, v;

	*status = 500;
	*ctype = "text/plain; charset=utf-8";
	if ((req = malloc(sizeof *req)) == NULL)
		return CV_ERR_NOMEM;
	if (cv_witness_req_parse(body, len, req) != CV_OK ||
	    cv_checkpoint_parse(req->note, req->note_len, &c) != CV_OK) {
		r = say(status, 400, reply, "%s", cv_err_detail());
		goto out;
	}
	if ((l = find_log(w, c.origin)) == NULL) {
		r = say(status, 404, reply, "unknown log origin");
		goto out;
	}
	/* Signatures by keys we do not trust for this origin are ignored
	 * (cv_note_verify skips other signers' lines). */
	for (size_t i = 0; i < l->nkeys && !verified; i++) {
		v = cv_note_verify(req->note, req->note_len, l->keys[i].name,
		    l->keys[i].pk, &tlen);
		if (v == CV_OK)
			verified = 1;
		else if (v == CV_ERR_INVALID) {
			r = say(status, 400, reply, "%s", cv_err_detail());
			goto out;
		}
	}
	if (!verified) {
		r = say(status, 403, reply, "no valid signature by a key "
		    "trusted for this origin");
		goto out;
	}
	/* The checkpoint as signed (its lines all inside the text). */
	if (cv_checkpoint_parse(req->note, tlen, &c) != CV_OK) {
		r = say(status, 400, reply, "%s", cv_err_detail());
		goto out;
	}
	if (req->old > c.size) {
		r = say(status, 400, reply, "old size %" PRIu64 " is larger "
		    "than the checkpoint's %" PRIu64, req->old, c.size);
		goto out;
	}
	/* The empty tree has one root: nothing else is a size-0 tree. */
	if (c.size == 0) {
		uint8_t empty[CV_HASH_BYTES];

		cv_merkle_empty_root(empty);
		if (sodium_memcmp(empty, c.root, CV_HASH_BYTES) != 0) {
			r = say(status, 422, reply, "a tree of size 0 has the "
			    "root SHA-256(\"\")");
			goto out;
		}
	}
	pthread_mutex_lock(&l->mu);
	locked = 1;
	if (req->old != (l->st.have ? l->st.size : 0)) {
		*status = 409;
		*ctype = "text/x.tlog.size";
		reply->len = 0;
		char sz[32];
		int n = snprintf(sz, sizeof sz, "%" PRIu64 "\n",
		    l->st.have ? l->st.size : 0);
		r = cv_buf_add(reply, sz, (size_t)n);
		goto out;
	}
	if (l->st.have && c.size == l->st.size) {
		/* The same tree again: only with the same root (else a
		 * fork), and an empty proof. */
		if (sodium_memcmp(c.root, l->st.root, CV_HASH_BYTES) != 0) {
			fprintf(stderr, "clearvault witness: %s: a second "
			    "root for size %" PRIu64 " refused (a fork?)\n",
			    l->origin, c.size);
			r = say(status, 409, reply, "a different root hash "
			    "for the size already cosigned");
			goto out;
		}
		if (req->n != 0) {
			r = say(status, 422, reply, "the proof between equal "
			    "sizes is empty");
			goto out;
		}
	} else if (req->old == 0) {
		/* An empty tree is a prefix of any: nothing to prove. */
		if (req->n != 0) {
			r = say(status, 422, reply, "the proof from size 0 "
			    "must be empty");
			goto out;
		}
	} else if (cv_merkle_verify_consistency(req->old, c.size, l->st.root,
	    c.root, (const uint8_t (*)[CV_HASH_BYTES])req->proof,
	    req->n) != CV_OK) {
		fprintf(stderr, "clearvault witness: %s: size %" PRIu64
		    " not proved consistent with %" PRIu64 ": %s\n",
		    l->origin, c.size, l->st.size, cv_err_detail());
		r = say(status, 422, reply, "consistency proof does not "
		    "verify");
		goto out;
	}
	/* Durable before any cosignature leaves: after a crash here the
	 * witness holds the new size, so the old one can never be cosigned
	 * again, whether or not the client saw the reply. The same tree
	 * again changes nothing to keep (and a replay of the public
	 * checkpoint must not cost a flush). */
	if (!(l->st.have && c.size == l->st.size) &&
	    (r = witness_state_save(&l->st, req->note, req->note_len, c.size,
	    c.root)) != CV_OK)
		goto out;
	reply->len = 0;
	if ((r = cosign(w, req->note, tlen, reply)) != CV_OK)
		goto out;
	*status = 200;
	r = CV_OK;
 out:
	if (locked)
		pthread_mutex_unlock(&l->mu);
	if (r != CV_OK)
		*status = 500;
	free(req);
	return r;
}
