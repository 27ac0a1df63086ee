/*
 * The people to notify: names and contact details, decrypting only the
 * identity and contact sections of each record (docs/schema.md).
 */
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "../store/store.h"
#include "scope.h"

/* Record ids one entry names (the key side takes up to
 * CV_KEYD_MAX_RECORDS). */
#define NOTIFY_IDS_PER_ENTRY 20000

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
	cv_err r;

	if ((r = cv_record_load_stored((const char *)text->p, text->len, id,
	    &rec)) != CV_OK)
		return r;
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

/* One row for record ID: decrypted under TICKET, or why not. */
static cv_err
row_for(struct cv_vault *v, struct cv_keyd_client *kd, uint64_t ticket,
    const char *actor, const char *id, unsigned mask, struct cv_buf *text,
    json_t **row)
{
	struct cv_core_reader who = { .user = actor, .operator = 1 };
	struct cv_core_ask ask = { .rid = id, .sections = mask };
	struct cv_core_pass *pass;
	enum cv_core_refusal refused;
	char why[300];
	cv_err e;

	text->len = 0;
	*row = NULL;
	/* The operator's read, through the one read path, under the entry
	 * that names every record to notify. */
	if ((e = cv_core_admit(v, &who, &ask, NULL, &pass, &refused)) ==
	    CV_OK)
		e = cv_core_read_under(kd, pass, ticket, text);
	if (e == CV_OK) {
		if ((e = row_of(id, text, row)) == CV_ERR_FORMAT) {
			*row = missing_row(id, "unreadable", cv_err_detail());
			e = CV_OK;
		}
		return e;
	}
	if (e == CV_ERR_SHREDDED)
		*row = missing_row(id, "shredded", NULL);
	else if (e == CV_ERR_NOT_FOUND)
		*row = missing_row(id, "not found", NULL);
	else if (e == CV_ERR_AUTH && strncmp(cv_err_detail(), "ticket", 6)) {
		/* This record's data was altered: say so, go on. */
		snprintf(why, sizeof why, "%s: %s", cv_strerror(e),
		    cv_err_detail());
		*row = missing_row(id, "unreadable", why);
	} else
		return e;	/* the vault itself fails: stop */
	return CV_OK;
}

cv_err
cv_scope_notify(struct cv_vault *v, struct cv_store *s,
    struct cv_keyd_client *kd,
    const char *actor, const struct cv_scope_result *r, json_t **out,
    size_t *nread)
{
	unsigned mask = 1u << cv_record_section_index("identity") |
	    1u << cv_record_section_index("contact");
	struct cv_audit_entry e = { 0 };
	struct cv_buf text = { 0 };
	json_t *rows = NULL, *row = NULL;
	const char **ids = NULL;
	char why[128];
	uint32_t ver;
	size_t parts, part = 0;
	uint64_t ticket;
	cv_err ret = CV_OK;

	*out = NULL;
	*nread = 0;
	if ((rows = json_array()) == NULL ||
	    (ids = calloc(r->nrecords ? r->nrecords : 1, sizeof *ids)) ==
	    NULL) {
		ret = CV_ERR_NOMEM;
		goto out;
	}
	/* Entries name only records that can be read: a shredded one is
	 * not "returned" to anyone. */
	for (size_t i = 0; i < r->nrecords; i++)
		if (cv_store_state(s, r->records[i].id, &ver) ==
		    CV_OK)
			ids[(*nread)++] = r->records[i].id;
	parts = (*nread + NOTIFY_IDS_PER_ENTRY - 1) / NOTIFY_IDS_PER_ENTRY;
	e.outcome = CV_AUDIT_ALLOWED;
	e.action = "scope.notify";
	e.actor = actor;
	e.source = "cli";
	e.reason = why;
	e.sections = mask;
	for (size_t i = 0, at = 0; i < r->nrecords; i++) {
		const char *id = r->records[i].id;

		/* Each part's entry is durable before keyd decrypts any
		 * record it names: it is their ticket. */
		if (at < *nread && id == ids[at] &&
		    at % NOTIFY_IDS_PER_ENTRY == 0) {
			e.records = ids + at;
			e.nrecords = *nread - at < NOTIFY_IDS_PER_ENTRY ?
			    *nread - at : NOTIFY_IDS_PER_ENTRY;
			snprintf(why, sizeof why, "names and contact details "
			    "of %zu record(s) to notify", *nread);
			if (parts > 1)
				snprintf(why + strlen(why), sizeof why -
				    strlen(why), " (part %zu of %zu)", ++part,
				    parts);
			if ((ret = cv_keyd_append(kd, &e, &ticket)) != CV_OK)
				goto out;
		}
		if (at < *nread && id == ids[at]) {
			at++;
			ret = row_for(v, kd, ticket, actor, id, mask, &text,
			    &row);
		} else {
			ret = CV_OK;
			row = cv_store_state(s, id, &ver) ==
			    CV_ERR_SHREDDED ? missing_row(id, "shredded",
			    NULL) : missing_row(id, "not found", NULL);
		}
		if (ret != CV_OK)
			goto out;
		if (row == NULL || json_array_append_new(rows, row) != 0) {
			ret = CV_ERR_NOMEM;
			goto out;
		}
		row = NULL;
	}
	*out = rows;
	rows = NULL;
 out:
	cv_buf_free(&text);	/* wipes the plaintext */
	json_decref(rows);
	free(ids);
	return ret;
}
