/*
 * The server's request-body parsers (login, case, members, user, role,
 * budget, enrol, break-glass reason), all on
 * the same input: nothing may crash, and what is accepted is in range.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cv_buf b = { (uint8_t *)(uintptr_t)data, size, size };
	char code[7], title[201], name[CV_USER_NAME_MAX + 1];
	char ecode[CV_ENROL_CODE_MAX + 1], *text;
	const char *csr;
	json_t *u, *r, *hold, *args;
	int role;

	if (api_body_login(&b, code) && strspn(code, "0123456789") != 6)
		abort();
	if (api_body_case(&b, title) && (strlen(title) == 0 ||
	    strlen(title) > 200))
		abort();
	if (api_body_members(&b, &u, &r, &hold)) {
		if (json_array_size(u) > CV_POLICY_MAX_MEMBERS ||
		    json_array_size(r) > CV_POLICY_MAX_MEMBERS)
			abort();
		json_decref(hold);
	}
	if (api_body_user(&b, name, &role) && (role < 0 ||
	    !cv_auth_valid_name(name)))
		abort();
	if (api_body_role(&b, &role) && role < 0)
		abort();
	if (api_body_budget(&b, &args)) {
		json_t *v = json_object_get(args, "budget");
		if (!json_is_null(v) && json_array_size(v) != CV_STORE_BUDGET_N)
			abort();
		json_decref(args);
	}
	if (api_body_enrol(&b, name, ecode, &csr, &hold)) {
		if (!cv_auth_valid_name(name) || strlen(ecode) >
		    CV_ENROL_CODE_MAX || strlen(csr) > CV_CSR_MAX)
			abort();
		json_decref(hold);
	}
	/* As a query value: NUL-terminated. */
	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (cv_core_break_glass_reason(text) && (strlen(text) < 10 ||
	    strlen(text) > 200))
		abort();
	free(text);
	return 0;
}
