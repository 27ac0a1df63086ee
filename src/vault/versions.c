/*
 * Restoring a kept version (store/versions.c keeps what every update
 * replaces). The operator's way back after a wrong or malicious update:
 * the old text is decrypted here and sealed again as the newest version,
 * under a new data key; it never leaves the call.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "vault_internal.h"

#define ALL_SECTIONS ((1u << CV_RECORD_NSECTIONS) - 1)

/* Kept version VERSION of ID as record text in OUT. */
static cv_err
open_kept(struct cv_vault *v, const char *id, uint32_t version,
    struct cv_buf *out)
{
	struct cv_store_row row = { 0 };
	uint8_t dek[CV_DEK_BYTES];
	unsigned present = 0;
	cv_err r;

	if ((r = cv_store_kept_get(v->store, id, version, &row)) != CV_OK) {
		if (r == CV_ERR_NOT_FOUND)
			cv_err_set("record %s keeps no version %u", id,
			    version);
		return r;
	}
	/* Ids are [A-Za-z0-9._-]: nothing to escape. */
	if ((r = cv_buf_add(out, "{\"id\":\"", 7)) == CV_OK &&
	    (r = cv_buf_add(out, id, strlen(id))) == CV_OK &&
	    (r = cv_buf_add(out, "\"", 1)) == CV_OK &&
	    (r = cv_keys_dek_unwrap(v->sk->k, id, row.gen, row.wdek, dek)) ==
	    CV_OK &&
	    (r = env_open(dek, id, version, row.body, row.body_len,
	    ALL_SECTIONS, out, &present)) == CV_OK)
		r = cv_buf_add(out, "}", 1);
	sodium_memzero(dek, sizeof dek);
	cv_store_row_clear(&row);
	return r;
}

cv_err
cv_vault_version_restore(struct cv_vault *v, const char *id,
    uint32_t version, uint32_t *now)
{
	struct cv_record_fields f;
	struct cv_record_error e;
	struct cv_buf text = { 0 };
	uint32_t current;
	cv_err r;

	memset(&f, 0, sizeof f);
	memset(&e, 0, sizeof e);
	if (!cv_record_valid_id(id))
		return cv_fail(CV_ERR_INVALID, "not a record id");
	if ((r = cv_store_begin(v->store)) != CV_OK)
		return r;
	r = cv_store_state(v->store, id, &current);
	if (r == CV_ERR_NOT_FOUND)
		cv_err_set("no record %s", id);
	else if (r == CV_ERR_SHREDDED)
		cv_err_set("record %s was shredded", id);
	if (r != CV_OK || (r = open_kept(v, id, version, &text)) != CV_OK)
		goto out;
	/* Valid when it was stored; the schema may have moved since. */
	if ((r = cv_record_scan((const char *)text.p, text.len, &f, &e)) !=
	    CV_OK) {
		r = cv_fail(r, "version %u no longer validates: field %s: %s",
		    version, e.path, e.reason);
		goto out;
	}
	if ((r = vault_put_scanned(v, &f, (const char *)text.p, 1, now)) ==
	    CV_OK)
		r = cv_store_commit(v->store);
 out:
	if (r != CV_OK)
		cv_store_rollback(v->store);
	sodium_memzero(&f, sizeof f);
	cv_buf_free(&text);
	return r;
}
