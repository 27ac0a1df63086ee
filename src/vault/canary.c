/*
 * Canary records: decoys made by the same generator as test data, loaded
 * among the real records, that no legitimate task ever opens. Which ids
 * they are is kept only in the canary list, sealed by the keyring: the
 * database holds them exactly like any other record. The list is a row of
 * the store, written in the transaction that commits the records it
 * names, so it can never name records that do not exist; vaults made
 * before kept it in DIR/canaries, read until their next load moves it.
 * Nothing else in vault.db may tell them apart (issue 17): their ids are
 * the generator's, their rows placed, versioned and named in cases as
 * records are (load.c, vault_canaries_commit, policy/approval.c).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "../gen/gen.h"
#include "vault_internal.h"

#define CANARY_CONTEXT "canaries"
#define CANARY_FILE_MAX (64u << 20)	/* ~3 million ids */
#define LEGACY_FILE "canaries"

#define REPLANT "run `clearvault canaries --dir %s --replant` to repair it"

/* Unseals SEALED (LEN bytes) onto the end of OUT. */
static cv_err
unseal(struct cv_vault *v, const uint8_t *sealed, size_t len,
    struct cv_buf *out)
{
	cv_err r;

	if (len < CV_SEAL_OVERHEAD || len > CANARY_FILE_MAX)
		return cv_fail(CV_ERR_FORMAT, "the canary list has a bad "
		    "length");
	if ((r = cv_buf_reserve(out, len - CV_SEAL_OVERHEAD)) != CV_OK)
		return r;
	if ((r = cv_keys_unseal(v->sk->k, CANARY_CONTEXT, sealed, len,
	    out->p + out->len)) != CV_OK)
		return r;
	out->len += len - CV_SEAL_OVERHEAD;
	return CV_OK;
}

/*
 * The unsealed list, one id a line, onto the end of OUT: the store's, or
 * an older vault's file. *found 0: there is none; *stored: the store's.
 */
static cv_err
read_sealed(struct cv_vault *v, struct cv_buf *out, int *found, int *stored)
{
	char path[1100], *file = NULL;
	uint8_t *sealed = NULL;
	size_t len = 0;
	int64_t stamp;
	cv_err r;

	*found = *stored = 0;
	r = cv_store_canaries_get(v->store, &sealed, &len, &stamp);
	if (r == CV_OK) {
		*found = *stored = 1;
		r = unseal(v, sealed, len, out);
		free(sealed);
		return r;
	}
	if (r != CV_ERR_NOT_FOUND ||
	    (r = cv_path(path, sizeof path, "%s/" LEGACY_FILE, v->dir)) !=
	    CV_OK)
		return r;
	r = cv_file_read(path, CANARY_FILE_MAX, &file, &len);
	if (r == CV_ERR_NOT_FOUND)
		return CV_OK;
	if (r == CV_OK) {
		*found = 1;
		r = unseal(v, (const uint8_t *)file, len, out);
	}
	free(file);
	return r;
}

int64_t
cv_vault_canaries_min(const struct cv_vault *v)
{
	return v->cfg.canaries[0] ? strtoll(v->cfg.canaries, NULL, 10) :
	    CV_CANARIES_MIN;
}

cv_err
vault_canaries_read(struct cv_vault *v, int lenient, struct cv_buf *list,
    size_t *n, size_t *dropped, int *stored)
{
	struct cv_buf b = { 0 };
	size_t at = 0, missing = 0, start = list->len;
	uint32_t ver;
	int found, any;
	cv_err r;

	*n = *dropped = 0;
	r = read_sealed(v, &b, &found, stored);
	if (r == CV_ERR_AUTH || r == CV_ERR_FORMAT) {
		if (!lenient) {
			cv_err_set("the canary list does not open under this "
			    "vault's keyring (tampered with, or another "
			    "vault's): " REPLANT, v->dir);
			goto out;
		}
		b.len = 0;	/* replaced as a whole */
		r = CV_OK;
	} else if (r != CV_OK)
		goto out;
	/* Canaries planted and no list: someone deleted it, and a server
	 * would run with canaries off without a word. */
	if (!found && !lenient &&
	    ((r = cv_store_loads_any(v->store, &any)) != CV_OK ||
	    (any && (r = cv_fail(CV_ERR_NOT_FOUND, "the canary list is "
	    "missing from %s/vault.db although loads have planted canaries: "
	    "without it canaries are off; " REPLANT, v->dir, v->dir)) !=
	    CV_OK)))
		goto out;
	if (b.len && b.p[b.len - 1] != '\n') {
		r = lenient ? CV_OK : cv_fail(CV_ERR_FORMAT, "the canary list "
		    "is truncated: " REPLANT, v->dir);
		if (r != CV_OK)
			goto out;
		b.len = 0;
	}
	/* Each listed id must be a record: one indexed probe each. */
	while (at < b.len) {
		char *id = (char *)b.p + at, *nl = memchr(id, '\n', b.len - at);
		size_t len = (size_t)(nl - id);

		at += len + 1;
		*nl = '\0';
		r = cv_store_version(v->store, id, &ver);
		if (r == CV_ERR_NOT_FOUND) {
			missing++;
			continue;
		}
		if (r != CV_OK ||
		    (r = cv_buf_add(list, id, len)) != CV_OK ||
		    (r = cv_buf_add(list, "\n", 1)) != CV_OK)
			goto out;
		(*n)++;
	}
	r = CV_OK;
	if (missing && !lenient)
		r = cv_fail(CV_ERR_FORMAT, "the canary list names %zu records "
		    "that are not in the vault: list and database do not "
		    "belong together (a restored or edited vault.db?); "
		    REPLANT, missing, v->dir);
	*dropped = missing;
 out:
	if (r != CV_OK) {
		sodium_memzero(list->p + start, list->len - start);
		list->len = start;
		*n = 0;
	}
	cv_buf_free(&b);
	return r;
}

cv_err
cv_vault_canaries(struct cv_vault *v, char ***ids, size_t *n)
{
	struct cv_buf b = { 0 };
	size_t count = 0, dropped, at = 0;
	char **list, *text;
	int stored;
	cv_err r;

	if (v->canary_fn)
		return v->canary_fn(v->canary_ctx, ids, n);
	*ids = NULL;
	*n = 0;
	if ((r = vault_canaries_read(v, 0, &b, &count, &dropped, &stored)) !=
	    CV_OK)
		goto out;
	/* One allocation: the pointers, then the strings. */
	if ((list = malloc(count * sizeof *list + b.len + 1)) == NULL) {
		r = CV_ERR_NOMEM;
		goto out;
	}
	text = (char *)(list + count);
	if (b.len)
		memcpy(text, b.p, b.len);
	text[b.len] = '\0';
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
cv_vault_canaries_stamp(struct cv_vault *v, int64_t *stamp)
{
	return cv_store_canaries_stamp(v->store, stamp);
}

cv_err
vault_canaries_write(struct cv_vault *v, const struct cv_buf *list)
{
	uint8_t *sealed;
	cv_err r;

	if (list->len + CV_SEAL_OVERHEAD > CANARY_FILE_MAX)
		return cv_fail(CV_ERR_LIMIT, "too many canaries");
	if ((sealed = malloc(list->len + CV_SEAL_OVERHEAD)) == NULL)
		return CV_ERR_NOMEM;
	if ((r = cv_keys_seal(v->sk->k, CANARY_CONTEXT, list->p, list->len,
	    sealed)) == CV_OK)
		r = cv_store_canaries_set(v->store, sealed,
		    list->len + CV_SEAL_OVERHEAD);
	free(sealed);
	return r;
}

void
vault_canaries_file_drop(struct cv_vault *v)
{
	char path[1100];

	if (cv_path(path, sizeof path, "%s/" LEGACY_FILE, v->dir) == CV_OK)
		(void)unlink(path);
}

cv_err
vault_canary_make(struct cv_buf *text)
{
	uint64_t seed, index;
	cv_err r;

	/* A fresh secret seed each time: nothing ties canaries to each
	 * other, and their ids, made by the generator's keyed permutation,
	 * look like any set's (gen.c). Seed and index would tell this one
	 * from the records: not kept. */
	randombytes_buf(&seed, sizeof seed);
	randombytes_buf(&index, sizeof index);
	index %= 98990100;	/* where gen promises distinct ids */
	r = cv_gen_record(seed, index, text);
	sodium_memzero(&seed, sizeof seed);
	sodium_memzero(&index, sizeof index);
	return r;
}

/* A new version of canary ID by LOAD: its text sealed again. */
static cv_err
reversion(struct cv_vault *v, int64_t load, const char *id)
{
	struct cv_buf text = { 0 }, body = { 0 };
	struct cv_record_fields f;
	struct cv_record_error e;
	struct cv_store_put put;
	uint32_t version = 0;
	unsigned present;
	cv_err r;

	memset(&put, 0, sizeof put);
	memset(&f, 0, sizeof f);
	r = vault_text(v, id, (1u << CV_RECORD_NSECTIONS) - 1, &text, &version,
	    &present);
	if (r == CV_ERR_SHREDDED)
		return CV_OK;	/* no key: no new version of it either */
	if (r != CV_OK ||
	    (r = cv_buf_add(&text, "}", 1)) != CV_OK)
		goto out;
	if (cv_record_scan((const char *)text.p, text.len, &f, &e) != CV_OK) {
		r = cv_fail(CV_ERR_FORMAT, "canary %s: field %s: %s", id,
		    e.path, e.reason);
		goto out;
	}
	put.load = load;
	if ((r = vault_bidx(v->sk->k, &f, put.ssn_bi, put.name_bi)) == CV_OK &&
	    (r = vault_seal(v->sk->k, &f, (const char *)text.p, version + 1,
	    &put, &body)) == CV_OK)
		r = cv_store_load_version(v->store, &put, 0);
 out:
	sodium_memzero(&f, sizeof f);
	sodium_memzero(text.p, text.len);
	cv_buf_free(&text);
	cv_buf_free(&body);
	return r;
}

/* The next id of LIST (one a line, as the list is kept) from *AT into
 * ID: 1, or 0 at the end, -1 for an id too long to be one. */
static int
next_id(const struct cv_buf *list, size_t *at,
    char id[static CV_RECORD_ID_MAX + 1])
{
	const char *p = (const char *)list->p + *at, *nl;
	size_t len;

	if (*at >= list->len ||
	    (nl = memchr(p, '\n', list->len - *at)) == NULL)
		return 0;
	len = (size_t)(nl - p);
	*at += len + 1;
	if (len > CV_RECORD_ID_MAX)
		return -1;
	memcpy(id, p, len);
	id[len] = '\0';
	return 1;
}

/* Each canary of LIST a new version by LOAD, as likely as VERSIONS
 * records of the vault got one. */
static cv_err
reversion_some(struct cv_vault *v, int64_t load, const struct cv_buf *list,
    uint64_t versions)
{
	int64_t records, shredded;
	uint64_t real, n = 0, pick;
	size_t at = 0;
	char id[CV_RECORD_ID_MAX + 1];
	int got = 0;
	cv_err r;

	if (versions == 0 || list->len == 0)
		return CV_OK;
	for (size_t i = 0; i < list->len; i++)
		n += list->p[i] == '\n';
	/* Visible rows only: the records there were before this load. */
	if ((r = cv_store_count(v->store, &records, &shredded)) != CV_OK)
		return r;
	real = records > (int64_t)n ? (uint64_t)records - n : 0;
	while (r == CV_OK && (got = next_id(list, &at, id)) > 0) {
		randombytes_buf(&pick, sizeof pick);
		/* As likely as for a real record: VERSIONS in REAL. */
		if (real > 0 && pick % real < versions)
			r = reversion(v, load, id);
	}
	return r == CV_OK && got < 0 ? cv_fail(CV_ERR_FORMAT, "canary list: "
	    "an id too long") : r;
}

/* The canaries of IDS, rows of LOAD, moved to random places among its
 * rows. */
static cv_err
scatter(struct cv_vault *v, int64_t load, const struct cv_buf *ids)
{
	size_t at = 0;
	uint64_t pick;
	char id[CV_RECORD_ID_MAX + 1];
	cv_err r = CV_OK;

	while (r == CV_OK && next_id(ids, &at, id) > 0) {
		/* A place taken by a row of someone else's (a record made
		 * through the API meanwhile): pick again. Were half the places
		 * such rows, 16 misses would be one chance in 65,536; then the
		 * canary stays where it is. */
		for (int tries = 0; tries < 16; tries++) {
			randombytes_buf(&pick, sizeof pick);
			if ((r = cv_store_load_swap(v->store, load, id,
			    pick)) != CV_ERR_NOT_FOUND)
				break;
			r = CV_OK;
		}
	}
	return r;
}

cv_err
vault_canaries_commit(struct cv_vault *v, int64_t load, int replant,
    const struct cv_buf *planted, const struct cv_buf *moved,
    uint64_t versions, size_t *dropped)
{
	struct cv_buf list = { 0 };
	size_t have;
	int stored;
	cv_err r;

	*dropped = 0;
	if ((r = vault_canaries_read(v, replant, &list, &have, dropped,
	    &stored)) == CV_OK &&
	    (r = reversion_some(v, load, &list, versions)) == CV_OK &&
	    (r = scatter(v, load, moved)) == CV_OK &&
	    (planted->len || replant || !stored) &&
	    (r = cv_buf_add(&list, planted->p, planted->len)) == CV_OK)
		r = vault_canaries_write(v, &list);
	cv_buf_free(&list);
	return r;
}
