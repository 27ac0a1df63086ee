/*
 * Canary records: decoys made by the same generator as test data, loaded
 * among the real records, that no legitimate task ever opens. Which ids
 * they are is kept only in DIR/canaries, sealed by the keyring: the
 * database holds them exactly like any other record.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../gen/gen.h"
#include "vault_internal.h"

#define CANARY_CONTEXT "canaries"
#define CANARY_FILE_MAX (64u << 20)	/* ~3 million ids */

/* The unsealed list: ids, one per line. An absent file is empty. */
static cv_err
read_list(struct cv_vault *v, struct cv_buf *out)
{
	char path[1100], *sealed = NULL;
	size_t len = 0;
	cv_err r;

	if ((r = cv_path(path, sizeof path, "%s/canaries", v->dir)) != CV_OK)
		return r;
	r = cv_file_read(path, CANARY_FILE_MAX, &sealed, &len);
	if (r == CV_ERR_NOT_FOUND)
		return CV_OK;
	if (r != CV_OK)
		return r;
	if (len < CV_SEAL_OVERHEAD) {
		r = cv_fail(CV_ERR_FORMAT, "%s: too short", path);
		goto out;
	}
	if ((r = cv_buf_reserve(out, len - CV_SEAL_OVERHEAD)) != CV_OK)
		goto out;
	if ((r = cv_keys_unseal(v->sk->k, CANARY_CONTEXT, (uint8_t *)sealed,
	    len, out->p + out->len)) != CV_OK)
		goto out;
	out->len += len - CV_SEAL_OVERHEAD;
 out:
	free(sealed);
	return r;
}

int64_t
cv_vault_canaries_min(const struct cv_vault *v)
{
	return v->cfg.canaries[0] ? strtoll(v->cfg.canaries, NULL, 10) :
	    CV_CANARIES_MIN;
}

cv_err
cv_vault_canaries(struct cv_vault *v, char ***ids, size_t *n)
{
	struct cv_buf b = { 0 };
	size_t count = 0, at;
	char **list, *text;
	cv_err r;

	if (v->canary_fn)
		return v->canary_fn(v->canary_ctx, ids, n);
	*ids = NULL;
	*n = 0;
	if ((r = read_list(v, &b)) != CV_OK)
		goto out;
	for (size_t i = 0; i < b.len; i++)
		count += b.p[i] == '\n';
	if (b.len && b.p[b.len - 1] != '\n') {
		r = cv_fail(CV_ERR_FORMAT, "canary list: truncated");
		goto out;
	}
	/* One allocation: the pointers, then the strings. */
	if ((list = malloc(count * sizeof *list + b.len + 1)) == NULL) {
		r = CV_ERR_NOMEM;
		goto out;
	}
	text = (char *)(list + count);
	if (b.len)
		memcpy(text, b.p, b.len);
	text[b.len] = '\0';
	at = 0;
	for (size_t i = 0; i < count; i++) {
		char *nl = strchr(text + at, '\n');
		*nl = '\0';
		list[i] = text + at;
		at = (size_t)(nl - text) + 1;
	}
	*ids = list;
	*n = count;
 out:
	cv_buf_free(&b);
	return r;
}

cv_err
vault_canaries_add(struct cv_vault *v, const struct cv_buf *ids)
{
	struct cv_buf b = { 0 };
	char path[1100];
	uint8_t *sealed = NULL;
	cv_err r;

	if (ids->len == 0)
		return CV_OK;
	if ((r = read_list(v, &b)) != CV_OK ||
	    (r = cv_buf_add(&b, ids->p, ids->len)) != CV_OK)
		goto out;
	if (b.len + CV_SEAL_OVERHEAD > CANARY_FILE_MAX) {
		r = cv_fail(CV_ERR_LIMIT, "too many canaries");
		goto out;
	}
	if ((sealed = malloc(b.len + CV_SEAL_OVERHEAD)) == NULL) {
		r = CV_ERR_NOMEM;
		goto out;
	}
	if ((r = cv_keys_seal(v->sk->k, CANARY_CONTEXT, b.p, b.len,
	    sealed)) != CV_OK ||
	    (r = cv_path(path, sizeof path, "%s/canaries", v->dir)) != CV_OK)
		goto out;
	r = cv_file_replace(path, sealed, b.len + CV_SEAL_OVERHEAD, 0600);
 out:
	free(sealed);
	cv_buf_free(&b);
	return r;
}

cv_err
vault_canary_make(struct cv_buf *text, struct cv_buf *ids)
{
	uint64_t seed, index;
	size_t start = text->len;
	const char *p, *q, *rec;
	cv_err r;

	/* A fresh seed each time: nothing ties canaries to each other. */
	randombytes_buf(&seed, sizeof seed);
	randombytes_buf(&index, sizeof index);
	index %= 98990100;	/* where gen promises distinct ids */
	if ((r = cv_gen_record(seed, index, text)) != CV_OK)
		return r;
	/* TEXT may hold other records before this one. */
	rec = (const char *)text->p + start;
	if ((p = memmem(rec, text->len - start, "\"id\":\"", 6)) == NULL ||
	    (q = memchr(p + 6, '"', text->len - (size_t)(p + 6 -
	    (const char *)text->p))) == NULL)
		return cv_fail(CV_ERR_INTERNAL, "canary: generated record "
		    "without an id");
	if ((r = cv_buf_add(ids, p + 6, (size_t)(q - p - 6))) != CV_OK)
		return r;
	return cv_buf_add(ids, "\n", 1);
}
