/*
 * The people to notify: names and contact details, decrypting only the
 * identity and contact sections of each record (docs/schema.md).
 */
#include <stdlib.h>
#include <string.h>

#include "scope.h"

#define NOTIFY_SECTIONS_N 2

/* "First Last" from identity.name; NULL when absent. */
static json_t *
full_name(json_t *rec)
{
	json_t *name = json_object_get(json_object_get(rec, "identity"),
	    "name");
	const char *first = json_string_value(json_object_get(name, "first"));
	const char *last = json_string_value(json_object_get(name, "last"));
	char *s;
	json_t *j;
	size_t n;

	if (first == NULL || last == NULL)
		return json_null();
	n = strlen(first) + strlen(last) + 2;
	if ((s = malloc(n)) == NULL)
		return NULL;
	snprintf(s, n, "%s %s", first, last);
	j = json_string(s);
	free(s);
	return j;
}

/*
 * Where to write to: the address without an end date that began last; if
 * every one has ended, the one that ended last. Dates are YYYY-MM-DD, so
 * string order is time order.
 */
static json_t *
current_address(json_t *contact)
{
	json_t *best = NULL, *it;
	const char *bkey = NULL;
	int bopen = 0;
	size_t i;

	json_array_foreach(json_object_get(contact, "addresses"), i, it) {
		const char *to = json_string_value(json_object_get(it, "to"));
		const char *from = json_string_value(json_object_get(it,
		    "from"));
		const char *key = to ? to : from;
		int open = to == NULL;

		if (key == NULL)
			continue;
		if (best == NULL || open > bopen ||
		    (open == bopen && strcmp(key, bkey) > 0)) {
			best = it;
			bkey = key;
			bopen = open;
		}
	}
	return best ? json_deep_copy(best) : json_null();
}

/* The row of one decrypted record (TEXT: its identity and contact). */
static cv_err
row_of(const char *id, const struct cv_buf *text, json_t **row)
{
	json_t *rec, *contact, *phones, *email;
	json_error_t je;

	if ((rec = json_loadb((const char *)text->p, text->len, 0, &je)) ==
	    NULL)
		return cv_fail(CV_ERR_FORMAT, "stored record %s is not JSON",
		    id);
	contact = json_object_get(rec, "contact");
	phones = json_object_get(contact, "phones");
	email = json_object_get(contact, "email");
	/* Absent details are null (or no phones), never missing keys. */
	*row = json_pack("{s:s, s:s, s:o, s:O, s:o, s:o}",
	    "id", id, "status", "ok",
	    "name", full_name(rec),
	    "email", email ? email : json_null(),
	    "phones", phones ? json_deep_copy(phones) : json_array(),
	    "address", current_address(contact));
	json_decref(rec);
	return *row ? CV_OK : CV_ERR_NOMEM;
}

/* A row that says why there are no details. */
static json_t *
missing_row(const char *id, const char *status, const char *error)
{
	json_t *row = json_pack("{s:s, s:s, s:n, s:n, s:[], s:n}", "id", id,
	    "status", status, "name", "email", "phones", "address");

	if (row && error)
		json_object_set_new(row, "error", json_string(error));
	return row;
}

cv_err
cv_scope_notify(struct cv_vault *v, const struct cv_scope_result *r,
    json_t **out, const char ***ids, size_t *nids)
{
	static const char *const secs[NOTIFY_SECTIONS_N + 1] = { "identity",
		"contact", NULL };
	struct cv_buf text = { 0 };
	json_t *rows = NULL, *row = NULL;
	const char **got = NULL;
	size_t n = 0;
	char why[300];
	cv_err e, ret = CV_OK;

	*out = NULL;
	*ids = NULL;
	*nids = 0;
	if ((rows = json_array()) == NULL ||
	    (got = calloc(r->nrecords ? r->nrecords : 1, sizeof *got)) ==
	    NULL) {
		ret = CV_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < r->nrecords; i++) {
		const char *id = r->records[i].id;

		text.len = 0;
		e = cv_vault_get_text(v, id, secs, &text);
		if (e == CV_OK) {
			if ((e = row_of(id, &text, &row)) == CV_OK)
				got[n++] = id;
			else if (e == CV_ERR_FORMAT)
				row = missing_row(id, "unreadable",
				    cv_err_detail());
		} else if (e == CV_ERR_SHREDDED)
			row = missing_row(id, "shredded", NULL);
		else if (e == CV_ERR_NOT_FOUND || e == CV_ERR_INVALID)
			row = missing_row(id, "not found", NULL);
		else if (e == CV_ERR_AUTH) {
			/* This record's data was altered: say so, go on. */
			snprintf(why, sizeof why, "%s: %s", cv_strerror(e),
			    cv_err_detail());
			row = missing_row(id, "unreadable", why);
		} else {
			/* The vault itself fails (HSM, database): stop. */
			ret = e;
			goto out;
		}
		if (row == NULL || json_array_append_new(rows, row) != 0) {
			ret = CV_ERR_NOMEM;
			goto out;
		}
		row = NULL;
	}
	*out = rows;
	*ids = got;
	*nids = n;
	rows = NULL;
	got = NULL;
 out:
	cv_buf_free(&text);	/* wipes the plaintext */
	json_decref(rows);
	free(got);
	return ret;
}
