#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "record.h"

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

int
cv_record_valid_email(const char *s)
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

int
cv_record_valid_phone(const char *s)
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

int
cv_record_valid_base64(const char *s, size_t n)
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

cv_err
cv_record_parse(const char *text, size_t len, json_t **out,
    struct cv_record_error *e)
{
	struct cv_record_fields f;
	json_error_t je;
	cv_err r;

	*out = NULL;
	if ((r = cv_record_scan(text, len, &f, e)) != CV_OK)
		return r;
	if ((*out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je)) ==
	    NULL) {
		/* The scanner accepted what jansson refuses: a bug in one. */
		snprintf(e->path, sizeof e->path, "(json)");
		snprintf(e->reason, sizeof e->reason, "column %d: %.120s",
		    je.column, je.text);
		return CV_ERR_INTERNAL;
	}
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

cv_err
cv_record_load_stored(const char *text, size_t len, const char *id,
    json_t **out)
{
	json_error_t je, again;

	if ((*out = json_loadb(text, len, 0, &je)) != NULL)
		return CV_OK;
	if (json_error_code(&je) == json_error_out_of_memory)
		return cv_fail(CV_ERR_NOMEM, "out of memory reading record %s",
		    id);
	/* Damage fails the same way twice; a lack of memory seldom does. */
	if ((*out = json_loadb(text, len, 0, &again)) != NULL)
		return CV_OK;
	if (json_error_code(&again) == json_error_out_of_memory ||
	    again.position != je.position || strcmp(again.text, je.text) != 0)
		return cv_fail(CV_ERR_NOMEM, "out of memory reading record %s",
		    id);
	return cv_fail(CV_ERR_FORMAT, "stored record %s is not JSON (%s)", id,
	    je.text);
}
