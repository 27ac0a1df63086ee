#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <liboath/oath.h>
#include <sodium.h>

#include "users.h"

/* Enrolment codes: 20 characters of an alphabet without look-alikes
 * (no I, L, O, 0, 1): 99 bits, typed in groups of five. */
#define CODE_LEN 20
static const char code_alphabet[] = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";

const char *const cv_role_names[CV_ROLE__COUNT] = {
	"investigator", "adjudicator", "security_officer", "auditor", "admin",
	"metrics",
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

/* The code as typed, without dashes and blanks, upper case; 0 if it is
 * not 20 characters of the code alphabet. */
static int
code_norm(const char *code, char out[static CODE_LEN + 1])
{
	size_t n = 0;

	for (const char *c = code; *c; c++) {
		char ch = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
		if (ch == '-' || ch == ' ')
			continue;
		if (n == CODE_LEN || strchr(code_alphabet, ch) == NULL)
			return 0;
		out[n++] = ch;
	}
	out[n] = '\0';
	return n == CODE_LEN;
}

/* The stored form: BLAKE2b of the user name and the code, so that a code
 * is good for its own account only. */
static void
code_hash(const char *name, const char *norm,
    uint8_t out[static CV_STORE_CODE_HASH])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, CV_STORE_CODE_HASH);
	crypto_generichash_update(&st, (const uint8_t *)"clearvault enrol",
	    17);
	crypto_generichash_update(&st, (const uint8_t *)name,
	    strlen(name) + 1);
	crypto_generichash_update(&st, (const uint8_t *)norm, CODE_LEN);
	crypto_generichash_final(&st, out, CV_STORE_CODE_HASH);
}

cv_err
cv_auth_user_create(struct cv_store *s, const char *name, enum cv_role role,
    int64_t now_us, char code[static CV_ENROL_CODE_CHARS + 1])
{
	struct cv_store_user u;
	uint8_t h[CV_STORE_CODE_HASH];
	char norm[CODE_LEN + 1];
	int live = 0, all = 0;
	cv_err r;

	code[0] = '\0';
	memset(&u, 0, sizeof u);
	if (!cv_auth_valid_name(name))
		return cv_fail(CV_ERR_INVALID, "user names are 1-64 of a-z, "
		    "0-9, '.', '_', '-'");
	if ((unsigned)role >= CV_ROLE__COUNT)
		return cv_fail(CV_ERR_INVALID, "no such role");
	if ((r = cv_store_user_get(s, name, &u)) == CV_OK) {
		/* Re-enrolment: only for an account that holds no live
		 * certificate (its key was lost, or all were revoked). */
		if ((r = cv_store_cert_count(s, name, &live, &all)) != CV_OK)
			return r;
		if (live > 0)
			return cv_fail(CV_ERR_EXISTS, "user '%s' exists and "
			    "holds a live certificate", name);
		if ((r = cv_store_user_set_role(s, name,
		    cv_role_names[role])) != CV_OK ||
		    (r = cv_store_user_set_totp(s, name, NULL, 0)) != CV_OK)
			return r;
	} else if (r == CV_ERR_NOT_FOUND) {
		snprintf(u.name, sizeof u.name, "%s", name);
		snprintf(u.role, sizeof u.role, "%s", cv_role_names[role]);
		u.created_us = now_us;
		u.totp_len = 0;	/* no seed until the user enrols */
		if ((r = cv_store_user_add(s, &u)) != CV_OK)
			return r;
	} else
		return r;
	for (size_t i = 0; i < CODE_LEN; i++)
		norm[i] = code_alphabet[randombytes_uniform(
		    (uint32_t)sizeof code_alphabet - 1)];
	norm[CODE_LEN] = '\0';
	code_hash(name, norm, h);
	if ((r = cv_store_enrol_set(s, name, h, now_us +
	    (int64_t)CV_ENROL_TTL_S * 1000000)) == CV_OK)
		snprintf(code, CV_ENROL_CODE_CHARS + 1, "%.5s-%.5s-%.5s-%.5s",
		    norm, norm + 5, norm + 10, norm + 15);
	sodium_memzero(norm, sizeof norm);
	return r;
}

/* A fresh TOTP seed for NAME: sealed into *U, and its otpauth:// URI. */
static cv_err
new_totp(const struct cv_auth_keys *keys, const char *name,
    struct cv_store_user *u,
    char otpauth[static CV_OTPAUTH_MAX])
{
	uint8_t seed[CV_TOTP_SEED_BYTES];
	char iss[48], *b32 = NULL;
	size_t b32len = 0;
	cv_err r;

	randombytes_buf(seed, sizeof seed);
	if (oath_init() != OATH_OK ||
	    oath_base32_encode((const char *)seed, sizeof seed, &b32,
	    &b32len) != OATH_OK) {
		r = cv_fail(CV_ERR_CRYPTO, "TOTP seed encoding failed");
		goto out;
	}
	/* Key URI format: the issuer in the label and as a parameter, URL-
	 * encoded (a vault id is hex, a user name [a-z0-9._-]). */
	snprintf(iss, sizeof iss, "clearvault%s%.32s", keys->vault_id ?
	    "%20" : "", keys->vault_id ? keys->vault_id : "");
	if (snprintf(otpauth, CV_OTPAUTH_MAX, "otpauth://totp/%s:%s?"
	    "secret=%s&issuer=%s&algorithm=SHA1&digits=6&period=30", iss,
	    name, b32, iss) >= CV_OTPAUTH_MAX) {
		r = cv_fail(CV_ERR_INTERNAL, "otpauth URI too long");
		goto out;
	}
	/* keyd splices the URI into JSON unescaped (keyd/ops.c): refused
	 * here, before the enrolment commits and spends its code. */
	for (size_t i = 0; otpauth[i]; i++)
		if (otpauth[i] < 0x21 || otpauth[i] > 0x7e ||
		    otpauth[i] == '"' || otpauth[i] == '\\') {
			r = cv_fail(CV_ERR_INTERNAL, "otpauth URI with a "
			    "character JSON would escape");
			goto out;
		}
	u->totp_len = sizeof seed + CV_SEAL_OVERHEAD;
	r = keys->seal_totp(keys->ctx, name, seed, sizeof seed,
	    u->totp_sealed);
 out:
	sodium_memzero(seed, sizeof seed);
	if (b32) {
		sodium_memzero(b32, b32len);
		free(b32);
	}
	return r;
}

cv_err
cv_auth_enrol(struct cv_store *s, const struct cv_auth_keys *keys,
    const char *name, const char *code, const char *csr, size_t csr_len,
    int64_t now_us, struct cv_user_issue *out)
{
	struct cv_store_user u;
	struct cv_store_cert c;
	uint8_t want[CV_STORE_CODE_HASH], got[CV_STORE_CODE_HASH];
	char norm[CODE_LEN + 1];
	int64_t expires;
	int fails, began = 0;
	cv_err r;

	memset(out, 0, sizeof *out);
	if (!cv_auth_valid_name(name))
		return cv_fail(CV_ERR_INVALID, "not a user name");
	/* Checked before the code, so that a bad request spends no try. */
	if ((r = cv_ca_csr_check(csr, csr_len)) != CV_OK)
		return r;
	if ((r = cv_store_begin(s)) != CV_OK)
		return r;
	began = 1;
	if (cv_store_user_get(s, name, &u) != CV_OK ||
	    cv_store_enrol_get(s, name, want, &expires, &fails) != CV_OK) {
		r = cv_fail(CV_ERR_AUTH, "no enrolment is open for '%.64s'",
		    name);
		goto out;
	}
	if (fails >= CV_ENROL_FAILS_MAX) {
		r = cv_fail(CV_ERR_LIMIT, "too many wrong codes: this "
		    "enrolment is void; ask for a new one");
		goto out;
	}
	if (now_us > expires) {
		r = cv_fail(CV_ERR_AUTH, "the enrolment code has expired; ask "
		    "for a new one");
		goto out;
	}
	if (!code_norm(code, norm))
		memset(got, 0, sizeof got);
	else
		code_hash(name, norm, got);
	sodium_memzero(norm, sizeof norm);
	if (sodium_memcmp(want, got, sizeof want) != 0) {
		/* The failure is kept although the enrolment fails. */
		if (cv_store_enrol_fail(s, name) == CV_OK &&
		    cv_store_commit(s) == CV_OK)
			began = 0;
		r = cv_fail(CV_ERR_AUTH, "wrong enrolment code (%d of %d "
		    "tries left)", CV_ENROL_FAILS_MAX - fails - 1,
		    CV_ENROL_FAILS_MAX);
		goto out;
	}
	memset(&c, 0, sizeof c);
	if ((r = new_totp(keys, name, &u, out->otpauth)) != CV_OK ||
	    (r = keys->sign_csr(keys->ctx, name, u.role, CV_CLIENT_CERT_DAYS,
	    csr, csr_len, &out->cert)) != CV_OK)
		goto out;
	snprintf(c.fingerprint, sizeof c.fingerprint, "%s",
	    out->cert.fingerprint);
	snprintf(c.serial, sizeof c.serial, "%s", out->cert.serial);
	snprintf(c.user, sizeof c.user, "%s", name);
	c.not_after_us = now_us + (int64_t)CV_CLIENT_CERT_DAYS * 86400 *
	    1000000;
	if ((r = cv_store_user_set_totp(s, name, u.totp_sealed,
	    u.totp_len)) != CV_OK ||
	    (r = cv_store_cert_add(s, &c)) != CV_OK ||
	    (r = cv_store_totp_step_set(s, name, 0)) != CV_OK ||
	    (r = cv_store_enrol_close(s, name)) != CV_OK ||
	    (r = cv_store_commit(s)) != CV_OK)
		goto out;
	began = 0;
 out:
	if (began)
		cv_store_rollback(s);
	sodium_memzero(&u, sizeof u);
	if (r != CV_OK)
		cv_user_issue_clear(out);
	return r;
}

int
cv_auth_enrolled(const struct cv_store_user *u)
{
	return u->totp_len > 0;
}

void
cv_user_issue_clear(struct cv_user_issue *u)
{
	cv_client_cert_clear(&u->cert);
	sodium_memzero(u->otpauth, sizeof u->otpauth);
}

cv_err
cv_auth_user_disable(struct cv_store *s, const char *name, int disabled)
{
	return cv_store_user_disable(s, name, disabled);
}

cv_err
cv_auth_user_revoke(struct cv_store *s, const char *name, int *n)
{
	struct cv_store_user u;
	cv_err r;

	if ((r = cv_store_user_get(s, name, &u)) != CV_OK)
		return r;
	return cv_store_cert_revoke_user(s, name, n);
}
