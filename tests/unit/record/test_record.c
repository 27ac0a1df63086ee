/* The record scanner: what it accepts, what it refuses and how it says so. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "record/record.h"

/* A minimal valid record; %s slots let tests swap one part. */
static const char minimal[] =
    "{\"id\":\"R-1\",\"identity\":{\"name\":{\"first\":\"Ann\","
    "\"last\":\"Lee\"},\"ssn\":\"912-34-5678\",\"birth_date\":"
    "\"1980-02-29\",\"birth_place\":{\"city\":\"Reston\",\"country\":"
    "\"United States\"},\"citizenship\":[\"United States\"]},"
    "\"adjudication\":{\"clearance_level\":\"secret\","
    "\"investigation_tier\":\"T3\",\"status\":\"granted\"}}";

static cv_err
scan(const char *text, struct cv_record_fields *f, struct cv_record_error *e)
{
	return cv_record_scan(text, strlen(text), f, e);
}

/* Replaces the first FROM in minimal with TO and scans the result. */
static cv_err
scan_with(const char *from, const char *to, struct cv_record_error *e)
{
	char buf[4096];
	struct cv_record_fields f;
	const char *at = strstr(minimal, from);

	assert_non_null(at);
	snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - minimal), minimal, to,
	    at + strlen(from));
	return scan(buf, &f, e);
}

static void
expect_refusal(const char *from, const char *to, const char *path,
    const char *reason_part)
{
	struct cv_record_error e;

	assert_int_equal(scan_with(from, to, &e), CV_ERR_INVALID);
	assert_string_equal(e.path, path);
	if (strstr(e.reason, reason_part) == NULL)
		fail_msg("reason '%s' lacks '%s'", e.reason, reason_part);
}

static void
test_minimal_accepted_and_captured(void **state)
{
	struct cv_record_fields f;
	struct cv_record_error e;
	const char *sec;

	(void)state;
	assert_int_equal(scan(minimal, &f, &e), CV_OK);
	assert_string_equal(f.id, "R-1");
	assert_string_equal(f.ssn, "912-34-5678");
	assert_string_equal(f.last, "Lee");
	assert_string_equal(f.dob, "1980-02-29");
	/* Sections are byte spans of the text as written. */
	sec = minimal + f.section[8].off;
	assert_memory_equal(sec, "{\"clearance_level\"", 18);
	assert_int_equal(sec[f.section[8].len - 1], '}');
	assert_int_equal(f.section[1].len, 0);	/* no contact section */
}

static void
test_escapes_decoded_before_checks(void **state)
{
	struct cv_record_error e;

	(void)state;
	/* "\u0039" is '9': a valid SSN spelled with an escape. */
	assert_int_equal(scan_with("\"912-34-5678\"",
	    "\"\\u00391\\u0032-34-5678\"", &e), CV_OK);
	/* Keys are decoded too: "\u0069d" is "id", so this is a duplicate. */
	expect_refusal("{\"id\":\"R-1\",", "{\"id\":\"R-1\",\"\\u0069d\":\"R-2\",",
	    "id", "duplicate");
}

static void
test_json_syntax_errors(void **state)
{
	struct cv_record_fields f;
	struct cv_record_error e;
	static const char *const bad[] = {
		"", "{", "[]", "{\"id\":\"R-1\"", "{\"id\":\"R-1\",}",
		"{\"id\":'R'}", "{\"id\":\"R-1\"} x", "nul",
		"{\"id\":\"R\\x\"}", "{\"id\":\"R\x01\"}",
		"{\"id\":\"\\ud800\"}", "{\"id\":\"\\u0000\"}",
		"{\"id\":\"\xc0\xaf\"}", "{\"id\":\"\xed\xa0\x80\"}",
		"{\"id\":\"\xf4\x90\x80\x80\"}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (scan(bad[i], &f, &e) != CV_ERR_INVALID)
			fail_msg("accepted bad JSON #%zu", i);
	}
	assert_int_equal(scan("{\"id\":\"R\x01\"}", &f, &e), CV_ERR_INVALID);
	assert_string_equal(e.path, "(json)");
	assert_non_null(strstr(e.reason, "column 9"));
}

static void
test_schema_errors_name_the_field(void **state)
{
	(void)state;
	expect_refusal("\"912-34-5678\"", "\"000-12-3456\"", "identity.ssn",
	    "not an SSN");
	expect_refusal("\"912-34-5678\"", "912345678", "identity.ssn",
	    "must be a string");
	expect_refusal("\"1980-02-29\"", "\"1981-02-29\"",
	    "identity.birth_date", "not a date");
	expect_refusal("\"secret\"", "\"cosmic\"",
	    "adjudication.clearance_level", "not one of");
	expect_refusal("[\"United States\"]", "[]", "identity.citizenship",
	    "1 to 4 items");
	expect_refusal("\"first\":\"Ann\",", "\"first\":\"Ann\",\"nick\":1,",
	    "identity.name.nick", "unknown field");
	expect_refusal("\"first\":\"Ann\",", "", "identity.name.first",
	    "required field is missing");
	expect_refusal("\"R-1\"", "\"R 1\"", "id", "id must be");
	expect_refusal("\"Lee\"", "\"\"", "identity.name.last",
	    "1 to 64 characters");
	expect_refusal(",\"adjudication\"", ",\"contact\":{\"addresses\":"
	    "[{\"street\":\"1 Main\",\"city\":\"X\",\"country\":\"US\","
	    "\"from\":\"2020-01-01\"}],\"phones\":[{\"type\":\"home\","
	    "\"number\":\"12\"}]},\"adjudication\"",
	    "contact.phones[0].number", "7 to 32 characters");
	expect_refusal(",\"adjudication\"", ",\"financial\":{\"bankruptcy\":"
	    "false,\"delinquent_debts\":[],\"foreign_assets\":false,"
	    "\"annual_income\":1.5},\"adjudication\"",
	    "financial.annual_income", "must be an integer");
	expect_refusal(",\"adjudication\"", ",\"financial\":{\"bankruptcy\":"
	    "false,\"delinquent_debts\":[],\"foreign_assets\":false,"
	    "\"annual_income\":99999999999999999999},\"adjudication\"",
	    "financial.annual_income", "must be from");
	expect_refusal(",\"adjudication\"", ",\"financial\":{\"bankruptcy\":"
	    "null,\"delinquent_debts\":[],\"foreign_assets\":false},"
	    "\"adjudication\"", "financial.bankruptcy", "true or false");
}

static void
test_lengths_count_characters(void **state)
{
	char name[300];
	struct cv_record_error e;

	(void)state;
	/* 64 two-byte characters are 64 characters, not 128. */
	strcpy(name, "\"");
	for (int i = 0; i < 64; i++)
		strcat(name, "\xc3\xa9");
	strcat(name, "\"");
	assert_int_equal(scan_with("\"Lee\"", name, &e), CV_OK);
	name[strlen(name) - 1] = '\0';
	strcat(name, "x\"");
	assert_int_equal(scan_with("\"Lee\"", name, &e), CV_ERR_INVALID);
}

static void
test_size_limit(void **state)
{
	static char big[CV_RECORD_MAX_BYTES + 2];
	struct cv_record_fields f;
	struct cv_record_error e;

	(void)state;
	memset(big, ' ', sizeof big - 1);
	assert_int_equal(cv_record_scan(big, sizeof big - 1, &f, &e),
	    CV_ERR_INVALID);
	assert_non_null(strstr(e.reason, "longer than"));
}

static void
test_validators(void **state)
{
	char key[CV_RECORD_NAME_KEY_MAX], ssn[CV_RECORD_SSN_KEY_MAX];

	(void)state;
	assert_true(cv_record_valid_ssn("999-99-9999"));
	assert_false(cv_record_valid_ssn("666-12-3456"));
	assert_false(cv_record_valid_ssn("123-00-3456"));
	assert_false(cv_record_valid_ssn("123-45-0000"));
	assert_false(cv_record_valid_ssn("123-45-678"));
	assert_true(cv_record_valid_date("2000-02-29"));
	assert_false(cv_record_valid_date("1900-02-29"));
	assert_false(cv_record_valid_date("2021-04-31"));
	assert_false(cv_record_valid_date("2021-4-01"));
	assert_true(cv_record_valid_email("a.b@example.org"));
	assert_false(cv_record_valid_email("a@b"));
	assert_false(cv_record_valid_email("a b@example.org"));
	assert_true(cv_record_valid_base64("QUJD", 4));
	assert_false(cv_record_valid_base64("QUJ", 3));
	assert_false(cv_record_valid_base64("Q=JD", 4));
	assert_int_equal(cv_record_ssn_key("912-34-5678", ssn), CV_OK);
	assert_string_equal(ssn, "912345678");
	assert_int_equal(cv_record_name_key("  Van  der Berg ", "1990-01-02",
	    key), CV_OK);
	assert_string_equal(key, "van der berg|1990-01-02");
	assert_int_equal(cv_record_name_key("   ", "1990-01-02", key),
	    CV_ERR_INVALID);
	assert_int_equal(cv_record_name_key("Lee", "1990-13-02", key),
	    CV_ERR_INVALID);
}

static void
test_parse_gives_tree(void **state)
{
	struct cv_record_error e;
	json_t *j;

	(void)state;
	assert_int_equal(cv_record_parse(minimal, strlen(minimal), &j, &e),
	    CV_OK);
	assert_string_equal(json_string_value(json_object_get(j, "id")),
	    "R-1");
	json_decref(j);
	assert_int_equal(cv_record_parse("{}", 2, &j, &e), CV_ERR_INVALID);
	assert_null(j);
	assert_string_equal(e.path, "id");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_accepted_and_captured),
		cmocka_unit_test(test_escapes_decoded_before_checks),
		cmocka_unit_test(test_json_syntax_errors),
		cmocka_unit_test(test_schema_errors_name_the_field),
		cmocka_unit_test(test_lengths_count_characters),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_validators),
		cmocka_unit_test(test_parse_gives_tree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
