/* The configuration parser: every refusal names its line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"

#define GOOD "vault_id = 0123456789abcdef\n" \
	"pkcs11_module = /usr/lib/x.so  # comment\n" \
	"token_label = clearvault\npin_file = token/pin\n"

static void
expect(const char *text, cv_err want, const char *detail_part)
{
	struct cv_config c;

	assert_int_equal(cv_config_parse(text, strlen(text), &c), want);
	if (detail_part && strstr(cv_err_detail(), detail_part) == NULL)
		fail_msg("detail '%s' lacks '%s'", cv_err_detail(),
		    detail_part);
	if (want != CV_OK)
		assert_int_equal(c.pkcs11_module[0], '\0');
}

static void
test_good(void **state)
{
	struct cv_config c;

	(void)state;
	assert_int_equal(cv_config_parse(GOOD, strlen(GOOD), &c), CV_OK);
	assert_string_equal(c.pkcs11_module, "/usr/lib/x.so");
	assert_string_equal(c.pin_file, "token/pin");
	assert_string_equal(c.softhsm2_conf, "");
}

static void
test_refusals(void **state)
{
	(void)state;
	expect(GOOD "colour = blue\n", CV_ERR_CONFIG, "line 5: unknown key");
	expect(GOOD "pin_file = again\n", CV_ERR_CONFIG, "line 5: 'pin_file' "
	    "given twice");
	expect(GOOD "no equals sign\n", CV_ERR_CONFIG, "line 5: expected");
	expect(GOOD "softhsm2_conf =\n", CV_ERR_CONFIG, "is empty");
	expect("vault_id = 0123456789abcdef\n", CV_ERR_CONFIG, "missing");
	expect("vault_id = XYZ\npkcs11_module = a\ntoken_label = b\n"
	    "pin_file = c\n", CV_ERR_CONFIG, "hex digits");
	expect(GOOD "token_label\x01 = x\n", CV_ERR_CONFIG, "control");
	expect(GOOD "canaries = 5x\n", CV_ERR_CONFIG, "must be a number");
	expect(GOOD "canaries = -5\n", CV_ERR_CONFIG, "must be a number");
	expect(GOOD "canaries = 12345678\n", CV_ERR_CONFIG, "too long");
	expect(GOOD "canaries = 70\n", CV_OK, NULL);
	expect("vault_id = 0123456789abcdef\npkcs11_module = a\n"
	    "token_label = 012345678901234567890123456789012\npin_file = c\n",
	    CV_ERR_CONFIG, "too long");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
