/*
 * Cases, the unit of need-to-know: made by a security officer, filled by
 * proposals another officer approves (approval.c, which also mixes in the
 * canaries), emptied at once. Here and not in the HTTP layer, so that the
 * API, the command line and a future console do the same thing.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "../auth/users.h"
#include "policy.h"

int
cv_policy_valid_case_id(const char *id)
{
	return id != NULL && strlen(id) == 17 && strncmp(id, "CASE-", 5) == 0 &&
	    strspn(id + 5, "0123456789abcdef") == 12;
}

cv_err
cv_policy_case_create(struct cv_store *s, const char *title,
    const char *creator, int64_t now_us, char id[static CV_CASE_ID_MAX + 1])
{
	uint8_t rnd[6];
	size_t n = strlen(title);

	id[0] = '\0';
	if (n == 0 || n > 200)
		return cv_fail(CV_ERR_INVALID, "a case title is 1-200 bytes");
	randombytes_buf(rnd, sizeof rnd);
	snprintf(id, CV_CASE_ID_MAX + 1, "CASE-");
	sodium_bin2hex(id + 5, CV_CASE_ID_MAX + 1 - 5, rnd, sizeof rnd);
	return cv_store_case_add(s, id, title, creator, now_us);
}

cv_err
cv_policy_case_remove(struct cv_store *s, const char *case_id,
    const char *const *users, size_t nusers, const char *const *records,
    size_t nrecords, int *changed)
{
	struct cv_store_user u;
	uint32_t ver;
	int c;
	cv_err r = CV_OK;

	*changed = 0;
	if (!cv_policy_valid_case_id(case_id))
		return cv_fail(CV_ERR_INVALID, "not a case id");
	if (cv_store_case_exists(s, case_id) != CV_OK)
		return cv_fail(CV_ERR_NOT_FOUND, "no such case");
	/* Everything checked first: bad input changes nothing. */
	for (size_t i = 0; i < nusers; i++)
		if (cv_store_user_get(s, users[i], &u) != CV_OK)
			return cv_fail(CV_ERR_INVALID, "an entry of users is "
			    "not a user");
	for (size_t i = 0; i < nrecords; i++)
		if (cv_store_version(s, records[i], &ver) != CV_OK)
			return cv_fail(CV_ERR_INVALID, "an entry of records is "
			    "not a record");
	if ((r = cv_store_begin(s)) != CV_OK)
		return r;
	for (size_t i = 0; i < nusers && r == CV_OK; i++)
		if ((r = cv_store_case_member(s, case_id, 0, users[i], 0,
		    &c)) == CV_OK)
			*changed += c;
	for (size_t i = 0; i < nrecords && r == CV_OK; i++)
		if ((r = cv_store_case_member(s, case_id, 1, records[i], 0,
		    &c)) == CV_OK)
			*changed += c;
	if (r != CV_OK || (r = cv_store_commit(s)) != CV_OK) {
		cv_store_rollback(s);
		*changed = 0;
	}
	return r;
}
