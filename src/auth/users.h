/*
 * Users of the server: a role, a client certificate from the vault CA and
 * a TOTP seed (RFC 6238, liboath) kept sealed in the database.
 */
#ifndef CV_AUTH_USERS_H
#define CV_AUTH_USERS_H

#include "../store/store.h"
#include "../vault/vault.h"
#include "ca.h"

enum cv_role { CV_ROLE_INVESTIGATOR, CV_ROLE_ADJUDICATOR,
	CV_ROLE_SECURITY_OFFICER, CV_ROLE_AUDITOR, CV_ROLE_ADMIN,
	CV_ROLE__COUNT };

extern const char *const cv_role_names[CV_ROLE__COUNT];

/* The role called NAME, or -1. */
int cv_role_parse(const char *name);

#define CV_TOTP_SEED_BYTES 20
#define CV_OTPAUTH_MAX 512
#define CV_CLIENT_CERT_DAYS 365

/* What `user add` hands out once: certificate, key and TOTP enrolment. */
struct cv_user_issue {
	struct cv_client_cert cert;
	char otpauth[CV_OTPAUTH_MAX];	/* secret: wiped by _clear */
};

/*
 * Adds user NAME ([a-z0-9._-], 1-64) with ROLE: issues a client
 * certificate and a TOTP seed, stores the user, the certificate's
 * fingerprint and the sealed seed. CV_ERR_EXISTS, CV_ERR_INVALID.
 */
cv_err cv_auth_user_add(struct cv_vault *v, const char *name,
    enum cv_role role, struct cv_user_issue *out) CV_MUST_CHECK;
void cv_user_issue_clear(struct cv_user_issue *u);

/* Users may not log in while disabled. CV_ERR_NOT_FOUND. */
cv_err cv_auth_user_disable(struct cv_vault *v, const char *name,
    int disabled) CV_MUST_CHECK;

/* Revokes all of NAME's certificates; *n is how many were live. */
cv_err cv_auth_user_revoke(struct cv_vault *v, const char *name,
    int *n) CV_MUST_CHECK;

int cv_auth_valid_name(const char *name);

#endif
