/*
 * Breach scoping: from the audit log alone, exactly which records' data
 * was returned to one subject (a principal, a client certificate, a
 * session or a source address) in a time window, which sections of each,
 * first and last, and whom to notify.
 *
 * "Returned" means an entry with outcome allowed, a non-empty section
 * mask and an action that hands record data out: the server's
 * `records.get`, the command line's `get`, and `scope.notify` (names and
 * contact details decrypted by `clearvault scope` itself). Searches
 * (`records.search`, `find`) return ids only, never data, and are not
 * counted; denied and failed reads are not either.
 *
 * The scan is a single pass over the entries file through zero-copy views
 * (cv_audit_scan, cv_audit_view): no JSON, no allocation per entry.
 * Callers verify the log first (cv_audit_verify): an exact answer from a
 * log that does not verify would be a false one.
 */
#ifndef CV_SCOPE_H
#define CV_SCOPE_H

#include <stdio.h>

#include <jansson.h>

#include "../audit/audit.h"
#include "../base/base.h"
#include "../keyd/keyd.h"
#include "../record/record.h"
#include "../vault/vault.h"

/* Which field of an entry names the subject. */
enum cv_scope_kind {
	CV_SCOPE_PRINCIPAL = 1,	/* actor: server principal or CLI OS user */
	CV_SCOPE_CERT,		/* client certificate fingerprint */
	CV_SCOPE_SESSION,	/* session id (public, not the token) */
	CV_SCOPE_ADDRESS,	/* source address */
};

/* "principal", "cert", "session", "address". */
const char *cv_scope_kind_name(enum cv_scope_kind k);

/* Progress, about twice a second: DONE of TOTAL entries scanned. */
typedef void cv_scope_progress_fn(void *ctx, uint64_t done, uint64_t total);

struct cv_scope_query {
	enum cv_scope_kind kind;
	const char *subject;	/* compared byte for byte; not empty */
	/* Entry times in [from_us, to_us), UTC microseconds. */
	int64_t from_us, to_us;
	/* Entries [first, last) by index; last past the end: to the end. */
	uint64_t first, last;
	cv_scope_progress_fn *progress;	/* may be NULL */
	void *ctx;
};

/* One record returned to the subject. */
struct cv_scope_record {
	const char *id;		/* NUL-terminated, owned by the result */
	unsigned sections;	/* bit i: cv_record_sections[i], ever returned */
	int64_t first_us, last_us;	/* first and last entry returning it */
	uint64_t reads;		/* entries returning it */
};

struct cv_scope_totals {
	uint64_t scanned;	/* entries examined */
	uint64_t matched;	/* of those, data returned to the subject */
	uint64_t section_records[CV_RECORD_NSECTIONS];	/* records per section */
	double seconds;		/* the scan */
};

struct cv_scope_result {
	struct cv_scope_record *records;	/* sorted by id (bytewise) */
	size_t nrecords;
	struct cv_scope_totals totals;
	struct scope_store *store;	/* private: the table and its ids */
};

/*
 * The entry viewed in V handed record data to its actor: outcome allowed,
 * a non-empty section mask, and an action that returns data (above). The
 * one definition of "records read" that scope and the access review
 * share, so that both count the same entries.
 */
bool cv_scope_returns_data(const struct cv_audit_view *v);

/*
 * Scans entries Q->first to Q->last - 1 of A and fills *OUT (free with
 * cv_scope_result_free) with every record returned to the subject in the
 * window. Malformed entries are not skipped: CV_ERR_FORMAT names the
 * first (an answer that ignored one could miss a record). CV_ERR_INVALID
 * for a bad query; CV_ERR_NOMEM, CV_ERR_IO. On failure *OUT is NULL.
 */
cv_err cv_scope_run(struct cv_audit *a, const struct cv_scope_query *q,
    struct cv_scope_result **out) CV_MUST_CHECK;
void cv_scope_result_free(struct cv_scope_result *r);

/*
 * Reads over time: COUNTS[i] (N of them, zeroed first) gets the number of
 * records returned to Q's subject (as cv_scope_run counts them) by
 * entries timed in [Q->from_us + i * BUCKET_US, the next), entries
 * Q->first to Q->last - 1. Q->from_us must be a time, and the window fit
 * in N buckets; else CV_ERR_INVALID. CV_ERR_FORMAT for a malformed entry,
 * CV_ERR_IO, CV_ERR_NOMEM.
 */
cv_err cv_scope_series(struct cv_audit *a, const struct cv_scope_query *q,
    int64_t bucket_us, uint64_t *counts, size_t n) CV_MUST_CHECK;

/*
 * The people to notify: for each record of R, only its identity and
 * contact sections, and a JSON array in *OUT (caller json_decref's), in
 * R's order, of {"id", "status", "name", "email", "phones", "address"};
 * status is "ok", "shredded", "not found" (S, V's store, says which) or
 * "unreadable" (then only "id", "status" and "error"); the rest is read
 * from V through the core. The records that can be read are named
 * first in "scope.notify" entries by ACTOR, appended through KD (up to
 * 20,000 ids an entry); keyd decrypts each under its entry. *NREAD is how
 * many were named. The rows hold personal data: print them, never log
 * them.
 */
cv_err cv_scope_notify(struct cv_vault *v, struct cv_store *s,
    struct cv_keyd_client *kd,
    const char *actor, const struct cv_scope_result *r, json_t **out,
    size_t *nread) CV_MUST_CHECK;

/* Output formats. */
enum cv_scope_format {
	CV_SCOPE_TABLE = 1,	/* aligned columns, then a totals line */
	CV_SCOPE_CSV,		/* RFC 4180, a header row, a row per record */
	CV_SCOPE_JSON,		/* one object, see cv_scope_json */
};

/*
 * The whole answer as one JSON object (caller json_decref's):
 * {"subject": {"kind", "value"}, "window": {"from", "to"} (null: open),
 *  "records": [{"id", "sections", "first_read", "last_read", "reads"}],
 *  "notify": [...] (only with NOTIFY), "totals": {...}}.
 * CV_ERR_FORMAT when an id is not UTF-8, CV_ERR_NOMEM.
 */
cv_err cv_scope_json(const struct cv_scope_query *q,
    const struct cv_scope_result *r, json_t *notify,
    json_t **out) CV_MUST_CHECK;

/*
 * Writes the answer to F in format FMT; NOTIFY (may be NULL) from
 * cv_scope_notify. CV_ERR_IO when F cannot be written.
 */
cv_err cv_scope_print(FILE *f, enum cv_scope_format fmt,
    const struct cv_scope_query *q, const struct cv_scope_result *r,
    json_t *notify) CV_MUST_CHECK;

/*
 * Parses an RFC 3339 UTC time ("2026-11-25T10:00:00Z", optional fraction
 * to microseconds) or a date ("2026-11-25": its midnight, UTC) into
 * microseconds since 1970. CV_ERR_INVALID otherwise.
 */
cv_err cv_scope_parse_time(const char *s, int64_t *us) CV_MUST_CHECK;

/* US as "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" in OUT (28 bytes or more). */
void cv_scope_format_time(int64_t us, char *out, size_t size);

#endif
