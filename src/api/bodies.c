/*
 * Request bodies: each parser takes outside bytes and gives either the
 * values the handler needs or a refusal; nothing else reads a body. Kept
 * apart from libmicrohttpd so that the fuzz target can drive them.
 */
#include <string.h>

#include "../auth/users.h"
#include "../policy/policy.h"
#include "../record/record.h"
#include "api_internal.h"

static json_t *
object(const struct cv_buf *b)
{
	json_t *j = json_loadb((const char *)b->p, b->len,
	    JSON_REJECT_DUPLICATES, NULL);

	if (j != NULL && !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

int
api_body_login(const struct cv_buf *b, char code[static 7])
{
	json_t *j = object(b);
	const char *s = json_string_value(json_object_get(j, "totp"));
	int ok = j && json_object_size(j) == 1 && s && strlen(s) == 6 &&
	    strspn(s, "0123456789") == 6;

	if (ok)
		memcpy(code, s, 7);
	json_decref(j);
	return ok;
}

int
api_body_case(const struct cv_buf *b, char title[static 201])
{
	json_t *j = object(b);
	const char *s = json_string_value(json_object_get(j, "title"));
	size_t n = s ? json_string_length(json_object_get(j, "title")) : 0;
	int ok = j && json_object_size(j) == 1 && s && n > 0 && n <= 200 &&
	    strlen(s) == n;

	if (ok)
		memcpy(title, s, n + 1);
	json_decref(j);
	return ok;
}

int
api_body_members(const struct cv_buf *b, json_t **users, json_t **records,
    json_t **hold)
{
	json_t *j = object(b), *u, *r, *it;
	size_t i;

	*users = *records = *hold = NULL;
	if (j == NULL)
		return 0;
	u = json_object_get(j, "users");
	r = json_object_get(j, "records");
	if (json_object_size(j) == 0 ||
	    json_object_size(j) != (size_t)(!!u + !!r) ||
	    (u && (!json_is_array(u) ||
	    json_array_size(u) > CV_POLICY_MAX_MEMBERS)) ||
	    (r && (!json_is_array(r) ||
	    json_array_size(r) > CV_POLICY_MAX_MEMBERS)))
		goto bad;
	json_array_foreach(u, i, it) {
		if (!json_is_string(it) ||
		    !cv_auth_valid_name(json_string_value(it)))
			goto bad;
	}
	json_array_foreach(r, i, it) {
		if (!json_is_string(it) ||
		    !cv_record_valid_id(json_string_value(it)))
			goto bad;
	}
	*users = u;
	*records = r;
	*hold = j;
	return 1;
 bad:
	json_decref(j);
	return 0;
}

int
api_body_user(const struct cv_buf *b, char name[static CV_USER_NAME_MAX + 1],
    int *role)
{
	json_t *j = object(b);
	const char *n = json_string_value(json_object_get(j, "name"));
	const char *r = json_string_value(json_object_get(j, "role"));
	int ok = j && json_object_size(j) == 2 && n && r &&
	    cv_auth_valid_name(n) && (*role = cv_role_parse(r)) >= 0;

	if (ok)
		strcpy(name, n);
	json_decref(j);
	return ok;
}

int
api_body_role(const struct cv_buf *b, int *role)
{
	json_t *j = object(b);
	const char *r = json_string_value(json_object_get(j, "role"));
	int ok = j && json_object_size(j) == 1 && r &&
	    (*role = cv_role_parse(r)) >= 0;

	json_decref(j);
	return ok;
}

int
api_body_budget(const struct cv_buf *b, json_t **args)
{
	json_t *j = object(b), *v = json_object_get(j, "budget"), *it;
	size_t i;
	int ok = j && json_object_size(j) == 1 && v && (json_is_null(v) ||
	    (json_is_array(v) && json_array_size(v) == CV_STORE_BUDGET_N));

	json_array_foreach(v, i, it) {
		if (!json_is_integer(it) || json_integer_value(it) < 0 ||
		    json_integer_value(it) > 100000000)
			ok = 0;
	}
	for (i = 0; ok && json_is_array(v) && i < 3; i++) {
		if (json_integer_value(json_array_get(v, i)) >
		    json_integer_value(json_array_get(v, i + 3)))
			ok = 0;
	}
	*args = ok ? j : NULL;
	if (!ok)
		json_decref(j);
	return ok;
}

int
api_body_enrol(const struct cv_buf *b, char name[static CV_USER_NAME_MAX + 1],
    char code[static CV_ENROL_CODE_MAX + 1], const char **csr, json_t **hold)
{
	json_t *j = object(b);
	const char *n = json_string_value(json_object_get(j, "name"));
	const char *c = json_string_value(json_object_get(j, "code"));
	const char *q = json_string_value(json_object_get(j, "csr"));
	int ok = j && json_object_size(j) == 3 && n && c && q &&
	    cv_auth_valid_name(n) && strlen(c) <= CV_ENROL_CODE_MAX &&
	    json_string_length(json_object_get(j, "csr")) == strlen(q) &&
	    strlen(q) > 0 && strlen(q) <= CV_CSR_MAX;

	*csr = NULL;
	*hold = NULL;
	if (!ok) {
		json_decref(j);
		return 0;
	}
	strcpy(name, n);
	strcpy(code, c);
	*csr = q;
	*hold = j;
	return 1;
}
