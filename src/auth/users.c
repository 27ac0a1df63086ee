#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <liboath/oath.h>
#include <sodium.h>

#include "users.h"

const char *const cv_role_names[CV_ROLE__COUNT] = {
	"investigator", "adjudicator", "security_officer", "auditor", "admin",
};

int
cv_role_parse(const char *name)
{
	for (int i = 0; i < CV_ROLE__COUNT; i++) {
		if (strcmp(name, cv_role_names[i]) == 0)
			return i;
	}
	return -1;
}

int
cv_auth_valid_name(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n <= CV_USER_NAME_MAX &&
	    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789._-") == n &&
	    name[0] != '.' && name[0] != '-';
}

cv_err
cv_auth_user_add(struct cv_vault *v, const char *name, enum cv_role role,
    struct cv_user_issue *out)
{
	struct cv_keys *k = cv_vault_keys(v);
	struct cv_store *s = cv_vault_store(v);
	struct cv_store_user u;
	struct cv_store_cert c;
	uint8_t seed[CV_TOTP_SEED_BYTES];
	char ctx[96], *b32 = NULL;
	size_t b32len = 0;
	cv_err r;

	memset(out, 0, sizeof *out);
	memset(&u, 0, sizeof u);
	if (!cv_auth_valid_name(name))
		return cv_fail(CV_ERR_INVALID, "user names are 1-64 of a-z, "
		    "0-9, '.', '_', '-'");
	if ((unsigned)role >= CV_ROLE__COUNT)
		return cv_fail(CV_ERR_INVALID, "no such role");
	if (cv_store_user_get(s, name, &u) == CV_OK)
		return cv_fail(CV_ERR_EXISTS, "user '%s' exists", name);
	if ((r = cv_ca_ensure(k, cv_vault_dir(v), cv_vault_id(v))) != CV_OK)
		return r;
	randombytes_buf(seed, sizeof seed);
	snprintf(ctx, sizeof ctx, "totp:%s", name);
	if (oath_init() != OATH_OK ||
	    oath_base32_encode((const char *)seed, sizeof seed, &b32,
	    &b32len) != OATH_OK) {
		r = cv_fail(CV_ERR_CRYPTO, "TOTP seed encoding failed");
		goto out;
	}
	snprintf(out->otpauth, sizeof out->otpauth, "otpauth://totp/"
	    "clearvault:%s?secret=%s&issuer=clearvault&algorithm=SHA1&"
	    "digits=6&period=30", name, b32);
	strcpy(u.name, name);
	strcpy(u.role, cv_role_names[role]);
	u.created_us = cv_time_us();
	u.totp_len = sizeof seed + CV_SEAL_OVERHEAD;
	if ((r = cv_keys_seal(k, ctx, seed, sizeof seed, u.totp_sealed)) !=
	    CV_OK ||
	    (r = cv_ca_issue_client(k, cv_vault_dir(v), name,
	    cv_role_names[role], CV_CLIENT_CERT_DAYS, &out->cert)) != CV_OK)
		goto out;
	memset(&c, 0, sizeof c);
	strcpy(c.fingerprint, out->cert.fingerprint);
	strcpy(c.serial, out->cert.serial);
	strcpy(c.user, name);
	c.not_after_us = u.created_us + (int64_t)CV_CLIENT_CERT_DAYS *
	    86400 * 1000000;
	if ((r = cv_store_begin(s)) != CV_OK)
		goto out;
	if ((r = cv_store_user_add(s, &u)) != CV_OK ||
	    (r = cv_store_cert_add(s, &c)) != CV_OK) {
		cv_store_rollback(s);
		goto out;
	}
	r = cv_store_commit(s);
 out:
	sodium_memzero(seed, sizeof seed);
	if (b32) {
		sodium_memzero(b32, b32len);
		free(b32);
	}
	if (r != CV_OK)
		cv_user_issue_clear(out);
	return r;
}

void
cv_user_issue_clear(struct cv_user_issue *u)
{
	cv_client_cert_clear(&u->cert);
	sodium_memzero(u->otpauth, sizeof u->otpauth);
}

cv_err
cv_auth_user_disable(struct cv_vault *v, const char *name, int disabled)
{
	return cv_store_user_disable(cv_vault_store(v), name, disabled);
}

cv_err
cv_auth_user_revoke(struct cv_vault *v, const char *name, int *n)
{
	struct cv_store_user u;
	cv_err r;

	if ((r = cv_store_user_get(cv_vault_store(v), name, &u)) != CV_OK)
		return r;
	return cv_store_cert_revoke_user(cv_vault_store(v), name, n);
}
