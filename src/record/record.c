#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "record.h"
#include "schema.h"

const char *const cv_record_sections[CV_RECORD_NSECTIONS] = {
	"identity", "contact", "history", "family", "foreign", "financial",
	"conduct", "biometrics", "adjudication",
};

int
cv_record_section_index(const char *name)
{
	for (int i = 0; i < CV_RECORD_NSECTIONS; i++) {
		if (strcmp(name, cv_record_sections[i]) == 0)
			return i;
	}
	return -1;
}

static int
digits(const char *s, int n)
{
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
	}
	return 1;
}

int
cv_record_valid_ssn(const char *s)
{
	if (strlen(s) != 11 || !digits(s, 3) || s[3] != '-' ||
	    !digits(s + 4, 2) || s[6] != '-' || !digits(s + 7, 4))
		return 0;
	/* Never-assigned values per the SSA: area 000 and 666, zero group
	 * or serial. Area 900-999 is never issued, hence synthetic data. */
	if (memcmp(s, "000", 3) == 0 || memcmp(s, "666", 3) == 0 ||
	    memcmp(s + 4, "00", 2) == 0 || memcmp(s + 7, "0000", 4) == 0)
		return 0;
	return 1;
}

int
cv_record_valid_date(const char *s)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
		30, 31 };
	int y, m, d, leap;

	if (strlen(s) != 10 || !digits(s, 4) || s[4] != '-' ||
	    !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2))
		return 0;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
	    (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 1850 || y > 2200 || m < 1 || m > 12 || d < 1 ||
	    d > mdays[m - 1])
		return 0;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return !(m == 2 && d == 29 && !leap);
}

int
cv_record_valid_id(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CV_RECORD_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_' && s[i] != '.')
			return 0;
	}
	return 1;
}

static int
valid_email(const char *s)
{
	const char *at = strchr(s, '@');

	if (at == NULL || at == s || strchr(at + 1, '@') != NULL ||
	    strchr(at + 1, '.') == NULL || at[1] == '.' ||
	    s[strlen(s) - 1] == '.')
		return 0;
	for (; *s; s++) {
		if ((unsigned char)*s <= ' ' || *s == '"' || *s == '<' ||
		    *s == '>' || *s == '\\' || *s == ',')
			return 0;
	}
	return 1;
}

static int
valid_phone(const char *s)
{
	int nd = 0;

	for (; *s; s++) {
		if (isdigit((unsigned char)*s))
			nd++;
		else if (strchr("+-() .", *s) == NULL)
			return 0;
	}
	return nd >= 7;
}

static int
valid_base64(const char *s, size_t n)
{
	size_t i, pad = 0;

	if (n % 4 != 0)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad || !(isalnum(c) || c == '+' || c == '/'))
			return 0;
	}
	return pad <= 2;
}

/* Counts code points: limits are in characters, not bytes. */
static size_t
utf8_len(const char *s, size_t n)
{
	size_t cps = 0;

	for (size_t i = 0; i < n; i++)
		cps += ((unsigned char)s[i] & 0xc0) != 0x80;
	return cps;
}

struct vctx {
	char path[160];
	size_t plen;
	struct cv_record_error *e;
};

static cv_err
refuse(struct vctx *v, const char *fmt, const char *arg)
{
	snprintf(v->e->path, sizeof v->e->path, "%s",
	    v->plen ? v->path : "(record)");
	snprintf(v->e->reason, sizeof v->e->reason, fmt, arg);
	return CV_ERR_INVALID;
}

static const char *
type_name(const struct node *n)
{
	switch (n->kind) {
	case N_OBJ: return "an object";
	case N_ARR: return "an array";
	case N_STR: return "a string";
	case N_INT: return "an integer";
	case N_BOOL: return "true or false";
	}
	return "?";
}

static cv_err check(struct vctx *v, const struct node *n, const json_t *j);

static cv_err
check_string(struct vctx *v, const struct node *n, const json_t *j)
{
	const char *s = json_string_value(j);
	size_t len = json_string_length(j), cps = utf8_len(s, len);
	char lim[64];

	if (cps < (size_t)n->min || cps > (size_t)n->max) {
		if (n->min == n->max)
			snprintf(lim, sizeof lim, "%lld", n->min);
		else
			snprintf(lim, sizeof lim, "%lld to %lld", n->min,
			    n->max);
		return refuse(v, "length must be %s characters", lim);
	}
	switch (n->fmt) {
	case S_TEXT:
		return CV_OK;
	case S_ID:
		if (!cv_record_valid_id(s))
			return refuse(v, "%s", "id must be letters, digits, "
			    "'-', '_' or '.'");
		return CV_OK;
	case S_SSN:
		if (!cv_record_valid_ssn(s))
			return refuse(v, "%s", "not an SSN (NNN-NN-NNNN, no "
			    "000/666 area, 00 group or 0000 serial)");
		return CV_OK;
	case S_DATE:
		if (!cv_record_valid_date(s))
			return refuse(v, "%s", "not a date (YYYY-MM-DD)");
		return CV_OK;
	case S_EMAIL:
		return valid_email(s) ? CV_OK :
		    refuse(v, "%s", "not an e-mail address");
	case S_PHONE:
		return valid_phone(s) ? CV_OK :
		    refuse(v, "%s", "not a phone number");
	case S_BASE64:
		return valid_base64(s, len) ? CV_OK :
		    refuse(v, "%s", "not base64");
	case S_ENUM:
		for (const char *const *c = n->choices; *c; c++) {
			if (strcmp(*c, s) == 0)
				return CV_OK;
		}
		return refuse(v, "'%s' is not one of the allowed values",
		    len > 40 ? "(long value)" : s);
	}
	return CV_ERR_INTERNAL;
}

/* Appends ".name" or "[i]" to the path; returns the old length. */
static size_t
push(struct vctx *v, const char *name, size_t idx)
{
	size_t old = v->plen;
	int n;

	if (name)
		n = snprintf(v->path + old, sizeof v->path - old, "%s%s",
		    old ? "." : "", name);
	else
		n = snprintf(v->path + old, sizeof v->path - old, "[%zu]",
		    idx);
	if (n > 0)
		v->plen = old + (size_t)n < sizeof v->path ? old + (size_t)n :
		    sizeof v->path - 1;
	return old;
}

static void
pop(struct vctx *v, size_t old)
{
	v->plen = old;
	v->path[old] = '\0';
}

static cv_err
check_object(struct vctx *v, const struct node *n, const json_t *j)
{
	const struct field *f;
	const char *key;
	json_t *val;
	size_t old;
	cv_err r;

	json_object_foreach((json_t *)j, key, val) {
		for (f = n->fields; f->name; f++) {
			if (strcmp(f->name, key) == 0)
				break;
		}
		old = push(v, strlen(key) > 40 ? "(long name)" : key, 0);
		if (f->name == NULL)
			return refuse(v, "%s", "unknown field");
		if ((r = check(v, f->node, val)) != CV_OK)
			return r;
		pop(v, old);
	}
	for (f = n->fields; f->name; f++) {
		if (f->required && json_object_get(j, f->name) == NULL) {
			push(v, f->name, 0);
			return refuse(v, "%s", "required field is missing");
		}
	}
	return CV_OK;
}

static cv_err
check(struct vctx *v, const struct node *n, const json_t *j)
{
	size_t i, old;
	json_t *it;
	cv_err r;
	char lim[64];

	switch (n->kind) {
	case N_OBJ:
		if (!json_is_object(j))
			return refuse(v, "must be %s", type_name(n));
		return check_object(v, n, j);
	case N_ARR:
		if (!json_is_array(j))
			return refuse(v, "must be %s", type_name(n));
		if (json_array_size(j) < (size_t)n->min ||
		    json_array_size(j) > (size_t)n->max) {
			snprintf(lim, sizeof lim, "%lld to %lld", n->min,
			    n->max);
			return refuse(v, "must have %s items", lim);
		}
		json_array_foreach(j, i, it) {
			old = push(v, NULL, i);
			if ((r = check(v, n->items, it)) != CV_OK)
				return r;
			pop(v, old);
		}
		return CV_OK;
	case N_STR:
		if (!json_is_string(j))
			return refuse(v, "must be %s", type_name(n));
		return check_string(v, n, j);
	case N_INT:
		if (!json_is_integer(j))
			return refuse(v, "must be %s", type_name(n));
		if (json_integer_value(j) < n->min ||
		    json_integer_value(j) > n->max) {
			snprintf(lim, sizeof lim, "%lld to %lld", n->min,
			    n->max);
			return refuse(v, "must be from %s", lim);
		}
		return CV_OK;
	case N_BOOL:
		if (!json_is_boolean(j))
			return refuse(v, "must be %s", type_name(n));
		return CV_OK;
	}
	return CV_ERR_INTERNAL;
}

cv_err
cv_record_validate(const json_t *rec, struct cv_record_error *e)
{
	struct vctx v = { .plen = 0, .e = e };

	v.path[0] = '\0';
	return check(&v, &cv_schema_record, rec);
}

cv_err
cv_record_parse(const char *text, size_t len, json_t **out,
    struct cv_record_error *e)
{
	json_error_t je;
	json_t *j;
	cv_err r;

	*out = NULL;
	if (len > CV_RECORD_MAX_BYTES) {
		snprintf(e->path, sizeof e->path, "(record)");
		snprintf(e->reason, sizeof e->reason, "longer than %d bytes",
		    CV_RECORD_MAX_BYTES);
		return CV_ERR_INVALID;
	}
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (j == NULL) {
		snprintf(e->path, sizeof e->path, "(json)");
		snprintf(e->reason, sizeof e->reason, "column %d: %.120s",
		    je.column, je.text);
		return CV_ERR_INVALID;
	}
	if ((r = cv_record_validate(j, e)) != CV_OK) {
		json_decref(j);
		return r;
	}
	*out = j;
	return CV_OK;
}

cv_err
cv_record_ssn_key(const char *ssn, char out[static CV_RECORD_SSN_KEY_MAX])
{
	if (!cv_record_valid_ssn(ssn))
		return cv_fail(CV_ERR_INVALID, "not an SSN (NNN-NN-NNNN)");
	memcpy(out, ssn, 3);
	memcpy(out + 3, ssn + 4, 2);
	memcpy(out + 5, ssn + 7, 4);
	out[9] = '\0';
	return CV_OK;
}

cv_err
cv_record_name_key(const char *last, const char *dob,
    char out[static CV_RECORD_NAME_KEY_MAX])
{
	size_t n = 0;
	int space = 0;

	if (!cv_record_valid_date(dob))
		return cv_fail(CV_ERR_INVALID, "not a date (YYYY-MM-DD)");
	for (; *last; last++) {
		unsigned char c = (unsigned char)*last;
		if (c == ' ' || c == '\t') {
			space = n > 0;
			continue;
		}
		if (n + 2 + 11 >= CV_RECORD_NAME_KEY_MAX)
			return cv_fail(CV_ERR_INVALID, "last name too long");
		if (space)
			out[n++] = ' ';
		space = 0;
		out[n++] = (char)(c < 0x80 ? tolower(c) : c);
	}
	if (n == 0)
		return cv_fail(CV_ERR_INVALID, "empty last name");
	out[n++] = '|';
	memcpy(out + n, dob, 10);
	out[n + 10] = '\0';
	return CV_OK;
}
