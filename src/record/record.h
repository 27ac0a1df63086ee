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

/*
 * Parses one JSON document of LEN bytes and validates it (types, required
 * fields, formats, sizes, no unknown or duplicate fields). On success *out
 * is the record (caller frees with json_decref). On CV_ERR_INVALID, *out is
 * NULL and *e says where and why; a parse error has path "(json)".
 */
cv_err cv_record_parse(const char *text, size_t len, json_t **out,
    struct cv_record_error *e) CV_MUST_CHECK;

/* Validates an already parsed record. CV_ERR_INVALID with *e filled. */
cv_err cv_record_validate(const json_t *rec,
    struct cv_record_error *e) CV_MUST_CHECK;

/* Well-formedness checks shared with the command line. */
int cv_record_valid_ssn(const char *s);
int cv_record_valid_date(const char *s);
int cv_record_valid_id(const char *s);

/*
 * The normalised SSN (nine digits) hashed by the SSN blind index.
 * CV_ERR_INVALID if SSN is not NNN-NN-NNNN.
 */
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
