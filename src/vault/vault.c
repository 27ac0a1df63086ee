#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "vault_internal.h"

#define SOFTHSM_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define DEFAULT_TOKEN "clearvault"

static int
dir_is_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int empty = 1;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			empty = 0;
			break;
		}
	}
	closedir(d);
	return empty;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* Removes what a failed init made; DIR itself only if init made it. */
static void
init_undo(const char *dir, int made_dir)
{
	DIR *d;
	struct dirent *e;
	char path[PATH_MAX];

	if (made_dir) {
		(void)nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		return;
	}
	if ((d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (cv_path(path, sizeof path, "%s/%s", dir, e->d_name) ==
		    CV_OK)
			(void)nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
	closedir(d);
}

/* The private SoftHSM2 token: its config, object folder and PIN path. */
static cv_err
softhsm_setup(const char *absdir, struct cv_config *c)
{
	char path[CV_CONFIG_PATH_MAX], text[CV_CONFIG_PATH_MAX + 128];
	int n;
	cv_err r;

	if ((r = cv_path(path, sizeof path, "%s/token", absdir)) != CV_OK)
		return r;
	if (mkdir(path, 0700) != 0)
		return cv_fail(CV_ERR_IO, "cannot create %s", path);
	if ((r = cv_path(path, sizeof path, "%s/token/objects", absdir)) !=
	    CV_OK)
		return r;
	if (mkdir(path, 0700) != 0)
		return cv_fail(CV_ERR_IO, "cannot create %s", path);
	n = snprintf(text, sizeof text, "directories.tokendir = %s\n"
	    "objectstore.backend = file\nlog.level = ERROR\n"
	    "slots.removable = false\n", path);
	if (n < 0 || (size_t)n >= sizeof text)
		return CV_ERR_INVALID;
	if ((r = cv_path(path, sizeof path, "%s/token/softhsm2.conf",
	    absdir)) != CV_OK ||
	    (r = cv_file_create(path, text, (size_t)n, 0600)) != CV_OK)
		return r;
	strcpy(c->pkcs11_module, SOFTHSM_MODULE);
	strcpy(c->token_label, DEFAULT_TOKEN);
	strcpy(c->softhsm2_conf, "token/softhsm2.conf");
	strcpy(c->pin_file, "token/pin");
	return CV_OK;
}

static cv_err
copy_opt(char *dst, size_t size, const char *src, const char *what)
{
	if (src == NULL || *src == '\0' || strlen(src) >= size ||
	    strpbrk(src, "\n\r#") != NULL)
		return cv_fail(CV_ERR_INVALID, "bad %s", what);
	strcpy(dst, src);
	return CV_OK;
}

cv_err
cv_vault_init(const char *dir, const struct cv_vault_init_opts *o)
{
	struct cv_config c, loaded;
	char absdir[PATH_MAX];
	uint8_t id[CV_VAULT_ID_LEN / 2];
	int made_dir = 0, softhsm = o->pkcs11_module == NULL;
	cv_err r;

	memset(&c, 0, sizeof c);
	if (sodium_init() < 0)
		return CV_ERR_CRYPTO;
	if (!softhsm && (o->token_label == NULL || o->pin_file == NULL))
		return cv_fail(CV_ERR_INVALID, "--pkcs11-module needs --token "
		    "and --pin-file");
	if (mkdir(dir, 0700) == 0)
		made_dir = 1;
	else if (errno != EEXIST)
		return cv_fail(CV_ERR_IO, "cannot create %s: %s", dir,
		    strerror(errno));
	else if (!dir_is_empty(dir))
		return cv_fail(CV_ERR_EXISTS, "%s exists and is not empty; "
		    "refusing to touch it", dir);
	if (realpath(dir, absdir) == NULL) {
		r = cv_fail(CV_ERR_IO, "cannot resolve %s", dir);
		goto fail;
	}
	randombytes_buf(id, sizeof id);
	sodium_bin2hex(c.vault_id, sizeof c.vault_id, id, sizeof id);
	if (softhsm)
		r = softhsm_setup(absdir, &c);
	else if ((r = copy_opt(c.pkcs11_module, sizeof c.pkcs11_module,
	    o->pkcs11_module, "--pkcs11-module")) == CV_OK &&
	    (r = copy_opt(c.token_label, sizeof c.token_label,
	    o->token_label, "--token")) == CV_OK)
		r = copy_opt(c.pin_file, sizeof c.pin_file, o->pin_file,
		    "--pin-file");
	if (r == CV_OK && o->db)
		r = copy_opt(c.db, sizeof c.db, o->db, "--db");
	if (r == CV_OK && o->canaries >= 0)
		snprintf(c.canaries, sizeof c.canaries, "%lld",
		    (long long)(o->canaries > 9999999 ? 9999999 : o->canaries));
	if (r != CV_OK || (r = cv_config_save(absdir, &c)) != CV_OK ||
	    (r = cv_config_load(absdir, &loaded)) != CV_OK ||
	    (r = cv_keys_create(&loaded, absdir, softhsm)) != CV_OK)
		goto fail;
	{
		char db[PATH_MAX];
		struct cv_store *s = NULL;

		if ((r = cv_path(db, sizeof db, "%s/%s", absdir,
		    CV_STORE_FILE)) != CV_OK ||
		    (r = cv_store_open(loaded.db[0] ? loaded.db : db,
		    CV_STORE_CREATE, &s)) != CV_OK)
			goto fail;
		cv_store_close(s);
		/* Made now, so that a load that changes nothing makes no
		 * file either. */
		if ((r = cv_path(db, sizeof db, "%s/%s", absdir,
		    CV_LOAD_LOCK_FILE)) != CV_OK ||
		    (r = cv_file_create(db, "", 0, 0600)) != CV_OK)
			goto fail;
	}
	return CV_OK;
 fail:
	{
		char detail[512];

		snprintf(detail, sizeof detail, "%s", cv_err_detail());
		init_undo(dir, made_dir);
		cv_err_set("%s", detail);
	}
	return r;
}

static cv_err
open_store(struct cv_vault *v)
{
	char db[PATH_MAX];
	cv_err r;

	if (v->cfg.db[0])
		return cv_store_open(v->cfg.db, CV_STORE_OPEN, &v->store);
	if ((r = cv_path(db, sizeof db, "%s/%s", v->dir, CV_STORE_FILE)) !=
	    CV_OK)
		return r;
	return cv_store_open(db, CV_STORE_OPEN, &v->store);
}

cv_err
cv_vault_open(const char *dir, struct cv_vault **out)
{
	char records[CV_KEYS_RECORDS_MAX + 1];
	struct cv_vault *v;
	cv_err r;

	*out = NULL;
	if ((v = calloc(1, sizeof *v)) == NULL)
		return CV_ERR_NOMEM;
	if ((v->sk = calloc(1, sizeof *v->sk)) == NULL) {
		free(v);
		return CV_ERR_NOMEM;
	}
	v->sk->refs = 1;
	v->lock_fd = -1;
	if ((r = cv_path(v->dir, sizeof v->dir, "%s", dir)) != CV_OK ||
	    (r = cv_config_load(dir, &v->cfg)) != CV_OK ||
	    (r = open_store(v)) != CV_OK ||
	    (r = cv_store_identity(v->store, records, sizeof records)) !=
	    CV_OK ||
	    (r = cv_keys_open(&v->cfg, dir, records, &v->sk->k)) != CV_OK) {
		cv_vault_close(v);
		return r;
	}
	*out = v;
	return CV_OK;
}

cv_err
cv_vault_open_store(const char *dir, struct cv_vault **out)
{
	struct cv_vault *v;
	cv_err r;

	*out = NULL;
	/* No keys, but locked memory and randomness all the same. */
	if (sodium_init() < 0)
		return cv_fail(CV_ERR_CRYPTO, "libsodium did not initialise");
	if ((v = calloc(1, sizeof *v)) == NULL)
		return CV_ERR_NOMEM;
	if ((v->sk = calloc(1, sizeof *v->sk)) == NULL) {
		free(v);
		return CV_ERR_NOMEM;
	}
	v->sk->refs = 1;	/* and no keys: cv_vault_keys() is NULL */
	if ((r = cv_path(v->dir, sizeof v->dir, "%s", dir)) != CV_OK ||
	    (r = cv_config_load(dir, &v->cfg)) != CV_OK ||
	    (r = open_store(v)) != CV_OK) {
		cv_vault_close(v);
		return r;
	}
	*out = v;
	return CV_OK;
}

void
cv_vault_set_canary_source(struct cv_vault *v, cv_vault_canary_fn *fn,
    void *ctx)
{
	v->canary_fn = fn;
	v->canary_ctx = ctx;
}

cv_err
cv_vault_dup(struct cv_vault *v, struct cv_vault **out)
{
	struct cv_vault *d;
	cv_err r;

	*out = NULL;
	if ((d = calloc(1, sizeof *d)) == NULL)
		return CV_ERR_NOMEM;
	d->lock_fd = -1;
	memcpy(d->dir, v->dir, sizeof d->dir);
	d->cfg = v->cfg;
	d->sk = v->sk;
	d->canary_fn = v->canary_fn;
	d->canary_ctx = v->canary_ctx;
	__atomic_add_fetch(&v->sk->refs, 1, __ATOMIC_SEQ_CST);
	if ((r = open_store(d)) != CV_OK) {
		cv_vault_close(d);
		return r;
	}
	*out = d;
	return CV_OK;
}

void
cv_vault_close(struct cv_vault *v)
{
	if (v == NULL)
		return;
	vault_unlock(v);
	cv_store_close(v->store);
	if (v->sk && __atomic_sub_fetch(&v->sk->refs, 1,
	    __ATOMIC_SEQ_CST) == 0) {
		cv_keys_free(v->sk->k);
		free(v->sk);
	}
	free(v);
}

cv_err
vault_bidx(struct cv_keys *k, const struct cv_record_fields *f,
    uint8_t ssn_bi[static CV_BIDX_BYTES], uint8_t name_bi[static CV_BIDX_BYTES])
{
	char skey[CV_RECORD_SSN_KEY_MAX], nkey[CV_RECORD_NAME_KEY_MAX];
	cv_err r;

	if ((r = cv_record_ssn_key(f->ssn, skey)) == CV_OK &&
	    (r = cv_record_name_key(f->last, f->dob, nkey)) == CV_OK &&
	    (r = cv_keys_blind_index(k, CV_BIDX_SSN, skey, strlen(skey),
	    ssn_bi)) == CV_OK)
		r = cv_keys_blind_index(k, CV_BIDX_NAME, nkey, strlen(nkey),
		    name_bi);
	sodium_memzero(skey, sizeof skey);
	sodium_memzero(nkey, sizeof nkey);
	return r;
}

cv_err
vault_seal(struct cv_keys *k, const struct cv_record_fields *f,
    const char *text, uint32_t version, struct cv_store_put *p,
    struct cv_buf *body)
{
	uint8_t dek[CV_DEK_BYTES];
	cv_err r;

	body->len = 0;
	p->rid = f->id;
	p->version = version;
	if ((r = cv_keys_dek_new(k, f->id, dek, p->wdek, &p->gen)) == CV_OK)
		r = env_seal(dek, f->id, version, text, f->section, body);
	sodium_memzero(dek, sizeof dek);
	p->body = body->p;
	p->body_len = body->len;
	return r;
}

cv_err
vault_put_scanned(struct cv_vault *v, const struct cv_record_fields *f,
    const char *text, int must_exist, uint32_t *version)
{
	struct cv_store_put p;
	struct cv_buf body = { 0 };
	uint32_t old = 0;
	cv_err r;

	memset(&p, 0, sizeof p);
	r = cv_store_version(v->store, f->id, &old);
	if (r == CV_OK && !must_exist)
		r = cv_fail(CV_ERR_EXISTS, "record %s exists", f->id);
	else if (r == CV_ERR_NOT_FOUND && must_exist)
		r = cv_fail(CV_ERR_NOT_FOUND, "no record %s", f->id);
	else if (r == CV_ERR_NOT_FOUND)
		r = CV_OK;
	if (r == CV_OK &&
	    (r = vault_bidx(v->sk->k, f, p.ssn_bi, p.name_bi)) == CV_OK &&
	    (r = vault_seal(v->sk->k, f, text, old + 1, &p, &body)) == CV_OK &&
	    (r = cv_store_put(v->store, &p)) == CV_OK)
		*version = old + 1;
	cv_buf_free(&body);
	return r;
}

cv_err
cv_vault_put(struct cv_vault *v, const char *text, size_t len,
    const char *expect_id, int must_exist, struct cv_record_error *e,
    char id[CV_RECORD_ID_MAX + 1], uint32_t *version)
{
	struct cv_record_fields f;
	cv_err r;

	id[0] = '\0';
	if ((r = cv_record_scan(text, len, &f, e)) != CV_OK)
		return r;
	if (expect_id && strcmp(expect_id, f.id) != 0) {
		snprintf(e->path, sizeof e->path, "id");
		snprintf(e->reason, sizeof e->reason, "does not match the "
		    "record being written");
		sodium_memzero(&f, sizeof f);
		return CV_ERR_INVALID;
	}
	strcpy(id, f.id);
	if ((r = cv_store_begin(v->store)) != CV_OK)
		goto out;
	if ((r = vault_put_scanned(v, &f, text, must_exist, version)) ==
	    CV_OK)
		r = cv_store_commit(v->store);
	if (r != CV_OK)
		cv_store_rollback(v->store);
 out:
	sodium_memzero(&f, sizeof f);
	return r;
}

/* vault_text of a row already read (ROW, which the caller clears). */
static cv_err
row_text(struct cv_vault *v, const char *id, const struct cv_store_row *row,
    unsigned mask, struct cv_buf *out, uint32_t *version, unsigned *present)
{
	uint8_t dek[CV_DEK_BYTES];
	size_t start = out->len;
	cv_err r;

	*present = 0;
	if (row->shredded)
		return cv_fail(CV_ERR_SHREDDED, "record %s was shredded", id);
	*version = row->version;
	/* Ids are [A-Za-z0-9._-]: nothing to escape. */
	if ((r = cv_buf_add(out, "{\"id\":\"", 7)) != CV_OK ||
	    (r = cv_buf_add(out, id, strlen(id))) != CV_OK ||
	    (r = cv_buf_add(out, "\"", 1)) != CV_OK)
		goto out;
	if ((r = cv_keys_dek_unwrap(v->sk->k, id, row->gen, row->wdek, dek)) ==
	    CV_OK)
		r = env_open(dek, id, row->version, row->body, row->body_len,
		    mask, out, present);
 out:
	sodium_memzero(dek, sizeof dek);
	if (r != CV_OK) {
		sodium_memzero(out->p + start, out->len - start);
		out->len = start;
	}
	return r;
}

cv_err
vault_text(struct cv_vault *v, const char *id, unsigned mask,
    struct cv_buf *out, uint32_t *version, unsigned *present)
{
	struct cv_store_row row = { 0 };
	cv_err r;

	*present = 0;
	if ((r = cv_store_get(v->store, id, &row)) == CV_OK)
		r = row_text(v, id, &row, mask, out, version, present);
	cv_store_row_clear(&row);
	return r;
}

/* The sections named (NULL: all) as a mask: CV_ERR_INVALID for a name
 * that is none. */
static cv_err
mask_of(const char *const *sections, unsigned *mask)
{
	int idx;

	*mask = 0;
	if (sections == NULL)
		*mask = (1u << CV_RECORD_NSECTIONS) - 1;
	for (; sections && *sections; sections++) {
		if ((idx = cv_record_section_index(*sections)) < 0)
			return cv_fail(CV_ERR_INVALID, "no section '%.40s'",
			    *sections);
		*mask |= 1u << idx;
	}
	return CV_OK;
}

/* The record's text closed with its _meta (VERSION, the sections
 * PRESENT); OUT back at START on failure. */
static cv_err
close_text(struct cv_buf *out, size_t start, uint32_t version,
    unsigned present)
{
	char meta[256];
	size_t n;
	int first = 1;
	cv_err r;

	n = (size_t)snprintf(meta, sizeof meta, ",\"_meta\":{\"version\":%u,"
	    "\"sections\":[", version);
	for (int i = 0; i < CV_RECORD_NSECTIONS; i++) {
		if (present & (1u << i)) {
			n += (size_t)snprintf(meta + n, sizeof meta - n,
			    "%s\"%s\"", first ? "" : ",",
			    cv_record_sections[i]);
			first = 0;
		}
	}
	n += (size_t)snprintf(meta + n, sizeof meta - n, "]}}");
	if ((r = cv_buf_add(out, meta, n)) != CV_OK) {
		sodium_memzero(out->p + start, out->len - start);
		out->len = start;
	}
	return r;
}

cv_err
cv_vault_get_text(struct cv_vault *v, const char *id,
    const char *const *sections, struct cv_buf *out)
{
	unsigned mask, present = 0;
	uint32_t version = 0;
	size_t start = out->len;
	cv_err r;

	if (!cv_record_valid_id(id))
		return cv_fail(CV_ERR_INVALID, "not a record id");
	if ((r = mask_of(sections, &mask)) != CV_OK ||
	    (r = vault_text(v, id, mask, out, &version, &present)) != CV_OK)
		return r;
	return close_text(out, start, version, present);
}

struct cv_vault_rows {
	size_t n;
	const char **ids;		/* the caller's strings */
	struct cv_store_row *rows;
	cv_err *errs;
};

cv_err
cv_vault_rows_fetch(struct cv_vault *v, const char *const *ids, size_t n,
    struct cv_vault_rows **out)
{
	struct cv_vault_rows *b = NULL;
	cv_err r = CV_ERR_NOMEM;

	*out = NULL;
	for (size_t i = 0; i < n; i++)
		if (!cv_record_valid_id(ids[i]))
			return cv_fail(CV_ERR_INVALID, "not a record id");
	if ((b = calloc(1, sizeof *b)) == NULL ||
	    (b->ids = calloc(n ? n : 1, sizeof *b->ids)) == NULL ||
	    (b->rows = calloc(n ? n : 1, sizeof *b->rows)) == NULL ||
	    (b->errs = calloc(n ? n : 1, sizeof *b->errs)) == NULL)
		goto out;
	b->n = n;
	memcpy(b->ids, ids, n * sizeof *ids);
	if ((r = cv_store_get_many(v->store, ids, n, b->rows, b->errs)) !=
	    CV_OK)
		goto out;
	*out = b;
	b = NULL;	/* the caller's */
 out:
	cv_vault_rows_free(b);
	return r;
}

cv_err
cv_vault_rows_text(struct cv_vault *v, const struct cv_vault_rows *b,
    size_t i, const char *const *sections, struct cv_buf *out)
{
	unsigned mask, present = 0;
	uint32_t version = 0;
	size_t start = out->len;
	cv_err r;

	if (i >= b->n)
		return cv_fail(CV_ERR_INVALID, "no such row");
	if ((r = mask_of(sections, &mask)) != CV_OK)
		return r;
	if (b->errs[i] != CV_OK) {
		if (b->errs[i] == CV_ERR_FORMAT)
			return cv_fail(CV_ERR_FORMAT, "data key of %s has a "
			    "bad length", b->ids[i]);
		return b->errs[i];
	}
	if ((r = row_text(v, b->ids[i], &b->rows[i], mask, out, &version,
	    &present)) != CV_OK)
		return r;
	return close_text(out, start, version, present);
}

void
cv_vault_rows_free(struct cv_vault_rows *b)
{
	if (b == NULL)
		return;
	for (size_t i = 0; b->rows && i < b->n; i++)
		cv_store_row_clear(&b->rows[i]);
	free(b->rows);
	free(b->errs);
	free(b->ids);
	free(b);
}

cv_err
cv_vault_get(struct cv_vault *v, const char *id, const char *const *sections,
    json_t **out)
{
	struct cv_buf b = { 0 };
	cv_err r;

	*out = NULL;
	if ((r = cv_vault_get_text(v, id, sections, &b)) != CV_OK)
		goto out;
	r = cv_record_load_stored((const char *)b.p, b.len, id, out);
 out:
	cv_buf_free(&b);
	return r;
}

static cv_err
find(struct cv_vault *v, enum cv_bidx_kind kind, const char *key,
    int (*fn)(void *, const char *), void *ctx)
{
	uint8_t bi[CV_BIDX_BYTES];
	cv_err r;

	if ((r = cv_keys_blind_index(v->sk->k, kind, key, strlen(key), bi)) !=
	    CV_OK)
		return r;
	return cv_store_find(v->store, kind, bi, fn, ctx);
}

cv_err
cv_vault_find_ssn(struct cv_vault *v, const char *ssn,
    int (*fn)(void *, const char *), void *ctx)
{
	char key[CV_RECORD_SSN_KEY_MAX];
	cv_err r;

	if ((r = cv_record_ssn_key(ssn, key)) == CV_OK)
		r = find(v, CV_BIDX_SSN, key, fn, ctx);
	sodium_memzero(key, sizeof key);
	return r;
}

cv_err
cv_vault_find_name(struct cv_vault *v, const char *last, const char *dob,
    int (*fn)(void *, const char *), void *ctx)
{
	char key[CV_RECORD_NAME_KEY_MAX];
	cv_err r;

	if ((r = cv_record_name_key(last, dob, key)) == CV_OK)
		r = find(v, CV_BIDX_NAME, key, fn, ctx);
	sodium_memzero(key, sizeof key);
	return r;
}

cv_err
cv_vault_shred(struct cv_vault *v, const char *id)
{
	cv_err r;

	if (!cv_record_valid_id(id))
		return cv_fail(CV_ERR_INVALID, "not a record id");
	if ((r = cv_store_begin(v->store)) != CV_OK)
		return r;
	if ((r = cv_store_shred(v->store, id)) != CV_OK) {
		cv_store_rollback(v->store);
		if (r == CV_ERR_SHREDDED) {
			/* A shred whose checkpoint failed (below) is done by
			 * running it again. */
			if (cv_store_checkpoint(v->store) != CV_OK) {
				/* said below, by the first run */
			}
			cv_err_set("record %s was already shredded", id);
		}
		return r;
	}
	if ((r = cv_store_commit(v->store)) != CV_OK)
		return r;
	/* The deleted key must not survive in the write-ahead log. */
	if ((r = cv_store_checkpoint(v->store)) != CV_OK) {
		char why[256];

		snprintf(why, sizeof why, "%s", cv_err_detail());
		cv_err_set("record %s is shredded, but the write-ahead log may "
		    "still hold its old key (%s); run the shred again to clear "
		    "it", id, why);
	}
	return r;
}

cv_err
cv_vault_count(struct cv_vault *v, int64_t *records, int64_t *shredded)
{
	return cv_store_count(v->store, records, shredded);
}

const char *
cv_vault_dir(const struct cv_vault *v)
{
	return v->dir;
}

const char *
cv_vault_id(const struct cv_vault *v)
{
	return v->cfg.vault_id;
}

const char *
cv_vault_db(const struct cv_vault *v)
{
	return v->cfg.db[0] ? v->cfg.db : NULL;
}

struct cv_keys *
cv_vault_keys(struct cv_vault *v)
{
	return v->sk->k;
}

struct cv_store *
cv_vault_store(struct cv_vault *v)
{
	return v->store;
}

cv_err
cv_vault_backup_db(struct cv_vault *v, const char *path,
    void (*progress)(void *ctx, uint64_t done, uint64_t total), void *ctx)
{
	return cv_store_backup(v->store, path, progress, ctx);
}

cv_err
cv_vault_rebind(const char *dir, char *was, size_t size)
{
	struct cv_config c;
	cv_err r;

	snprintf(was, size, "?");
	if ((r = cv_config_load(dir, &c)) != CV_OK)
		return r;
	return cv_keys_rebind(&c, dir, was, size);
}

cv_err
cv_vault_restore_keys(const char *dir, char key_id[static CV_VAULT_ID_LEN + 1])
{
	struct cv_config c, raw;
	char path[PATH_MAX], *text = NULL;
	uint8_t id[CV_VAULT_ID_LEN / 2];
	size_t len;
	cv_err r;

	key_id[0] = '\0';
	if (sodium_init() < 0)
		return CV_ERR_CRYPTO;
	/* The file as written (relative paths stay relative, so that the
	 * vault can move), and as used. */
	if ((r = cv_config_load(dir, &c)) != CV_OK ||
	    (r = cv_path(path, sizeof path, "%s/%s", dir,
	    CV_CONFIG_FILE)) != CV_OK ||
	    (r = cv_file_read(path, CV_CONFIG_MAX_BYTES, &text, &len)) !=
	    CV_OK)
		goto out;
	if ((r = cv_config_parse(text, len, &raw)) != CV_OK)
		goto out;
	randombytes_buf(id, sizeof id);
	sodium_bin2hex(key_id, CV_VAULT_ID_LEN + 1, id, sizeof id);
	/* A private token here is a copy made for this vault alone: the
	 * original's key names go from it, so that nothing in it can ever
	 * be mistaken for the original's keys. */
	if ((r = cv_keys_rekey(&c, dir, key_id,
	    c.softhsm2_conf[0] != '\0')) != CV_OK)
		goto out;
	memcpy(raw.key_id, key_id, sizeof raw.key_id);
	/* XXX the keyring is sealed under the new roots from here on: a
	 * crash before the next line leaves a vault that does not open; the
	 * restore then reports a failure and removes it. */
	r = cv_config_replace(dir, &raw);
 out:
	free(text);
	return r;
}

const char *
cv_vault_key_id(const struct cv_vault *v)
{
	return v->cfg.key_id;
}
