/*
 * The server's request-body parsers (login, case, members, user), all on
 * the same input: nothing may crash, and what is accepted is in range.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cv_buf b = { (uint8_t *)(uintptr_t)data, size, size };
	char code[7], title[201], name[CV_USER_NAME_MAX + 1];
	json_t *u, *r, *hold;
	int role;

	if (api_body_login(&b, code) && strspn(code, "0123456789") != 6)
		abort();
	if (api_body_case(&b, title) && (strlen(title) == 0 ||
	    strlen(title) > 200))
		abort();
	if (api_body_members(&b, &u, &r, &hold)) {
		if (json_array_size(u) > API_MAX_MEMBERS ||
		    json_array_size(r) > API_MAX_MEMBERS)
			abort();
		json_decref(hold);
	}
	if (api_body_user(&b, name, &role) && (role < 0 ||
	    !cv_auth_valid_name(name)))
		abort();
	return 0;
}
