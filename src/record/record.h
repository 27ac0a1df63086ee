/*
 * The personnel record: its schema (docs/schema.md), validation of outside
 * input against it, and the normalised forms that blind indexes hash.
 */
#ifndef CV_RECORD_H
#define CV_RECORD_H

#include <jansson.h>

#include "../base/base.h"

#define CV_RECORD_MAX_BYTES 65536	/* one JSON line */
#define CV_RECORD_ID_MAX 64
#define CV_RECORD_NSECTIONS 9
#define CV_RECORD_SSN_KEY_MAX 10	/* nine digits + NUL */
#define CV_RECORD_NAME_KEY_MAX 80	/* last name + '|' + date + NUL */

/* Section names in their fixed order; index + 1 is the on-disk section id. */
extern const char *const cv_record_sections[CV_RECORD_NSECTIONS];

/* Index of section NAME, or -1 if there is no such section. */
int cv_record_section_index(const char *name);

/* Where and why a record was refused: "field PATH: REASON". */
struct cv_record_error {
	char path[160];
	char reason[160];
};

#define CV_RECORD_LAST_MAX 256	/* bytes: 64 code points of UTF-8 */

/* A byte range of the scanned text. */
struct cv_record_span {
	size_t off, len;
};

/* What storage needs of a valid record, captured by cv_record_scan. */
struct cv_record_fields {
	/* Each section's JSON value as written; len 0 when absent. */
	struct cv_record_span section[CV_RECORD_NSECTIONS];
	char id[CV_RECORD_ID_MAX + 1];
	char ssn[12];
	char last[CV_RECORD_LAST_MAX + 1];	/* identity.name.last */
	char dob[11];				/* identity.birth_date */
};

/*
 * Checks that TEXT (LEN bytes) is one JSON object that follows the schema:
 * strict JSON (UTF-8, no NUL, no duplicate or unknown fields), types,
 * required fields, formats, sizes. On success fills *out. On
 * CV_ERR_INVALID, *e says where and why ("(json)" for a syntax error,
 * with the column) and *out is zeroed. Builds no tree: fast enough for
 * bulk loads.
 */
cv_err cv_record_scan(const char *text, size_t len,
    struct cv_record_fields *out, struct cv_record_error *e) CV_MUST_CHECK;

/*
 * cv_record_scan, then the record as a jansson tree in *out (caller
 * json_decref's). *out is NULL on failure.
 */
cv_err cv_record_parse(const char *text, size_t len, json_t **out,
    struct cv_record_error *e) CV_MUST_CHECK;

/* Well-formedness checks shared with the command line. */
int cv_record_valid_ssn(const char *s);
int cv_record_valid_date(const char *s);
int cv_record_valid_id(const char *s);
int cv_record_valid_email(const char *s);
int cv_record_valid_phone(const char *s);
int cv_record_valid_base64(const char *s, size_t len);

/*
 * The normalised SSN (nine digits) hashed by the SSN blind index.
 * CV_ERR_INVALID if SSN is not NNN-NN-NNNN.
 */
/*
 * A stored record's text (ours, decrypted) as a jansson tree in *out
 * (caller frees). CV_ERR_NOMEM when memory ran out: jansson reports a
 * failed allocation in its lexer as a syntax error, so a failure is
 * parsed once more before the text is called damaged (CV_ERR_FORMAT,
 * naming ID); an operator told "not JSON" looks for tampering.
 */
cv_err cv_record_load_stored(const char *text, size_t len, const char *id,
    json_t **out) CV_MUST_CHECK;
cv_err cv_record_ssn_key(const char *ssn,
    char out[static CV_RECORD_SSN_KEY_MAX]) CV_MUST_CHECK;

/*
 * The normalised (last name, birth date) hashed by the name blind index:
 * ASCII letters lower-cased, blanks trimmed and folded. CV_ERR_INVALID on a
 * bad date or an empty or overlong name.
 */
cv_err cv_record_name_key(const char *last, const char *dob,
    char out[static CV_RECORD_NAME_KEY_MAX]) CV_MUST_CHECK;

#endif
