/*
 * Users of the server: a role, a client certificate from the vault CA and
 * a TOTP seed (RFC 6238, liboath) kept sealed in the database.
 */
#ifndef CV_AUTH_USERS_H
#define CV_AUTH_USERS_H

#include "../store/store.h"
#include "ca.h"

/* CV_ROLE_METRICS: a monitoring system's account; GET /metrics with its
 * certificate alone, nothing else, no session (api/routes.c). */
enum cv_role { CV_ROLE_INVESTIGATOR, CV_ROLE_ADJUDICATOR,
	CV_ROLE_SECURITY_OFFICER, CV_ROLE_AUDITOR, CV_ROLE_ADMIN,
	CV_ROLE_METRICS, CV_ROLE__COUNT };

extern const char *const cv_role_names[CV_ROLE__COUNT];

/* The role called NAME, or -1. */
int cv_role_parse(const char *name);

#define CV_TOTP_SEED_BYTES 20
#define CV_OTPAUTH_MAX 512
#define CV_CLIENT_CERT_DAYS 365

/* What enrolment hands the user once: the certificate and the TOTP
 * enrolment. The private key never reaches the server. */
struct cv_user_issue {
	struct cv_client_cert cert;
	char otpauth[CV_OTPAUTH_MAX];	/* secret: wiped by _clear */
};

#define CV_ENROL_CODE_CHARS 23	/* XXXXX-XXXXX-XXXXX-XXXXX */
#define CV_ENROL_TTL_S (24 * 3600)
#define CV_ENROL_FAILS_MAX 5

/*
 * Opens an account NAME ([a-z0-9._-], 1-64) with ROLE that has no
 * certificate and no TOTP seed yet, and a one-time enrolment code for it
 * (CODE, secret: good for CV_ENROL_TTL_S and CV_ENROL_FAILS_MAX wrong tries;
 * only its hash is stored). An existing user that holds no live
 * certificate gets ROLE and a new code (re-enrolment). Writes inside the
 * caller's transaction if one is open. Who may call this is the policy's
 * business (two-person rules), not this function's. CV_ERR_EXISTS (a user
 * with a live certificate), CV_ERR_INVALID.
 */
cv_err cv_auth_user_create(struct cv_store *s, const char *name,
    enum cv_role role, int64_t now_us,
    char code[static CV_ENROL_CODE_CHARS + 1]) CV_MUST_CHECK;

/*
 * What enrolment needs of the keyring's holder (keyd) and nothing else of
 * it: sealing a new TOTP seed to its user, and signing a checked
 * certificate request as that user's client certificate. CTX is the
 * holder's.
 */
struct cv_auth_keys {
	/* Seals the LEN bytes of SEED for user NAME into OUT
	 * (LEN + CV_SEAL_OVERHEAD bytes). */
	cv_err (*seal_totp)(void *ctx, const char *name, const uint8_t *seed,
	    size_t len, uint8_t *out);
	/* The PEM request CSR (LEN bytes, cv_ca_csr_check passed) as a
	 * client certificate for NAME with ROLE, good for DAYS (caller
	 * clears *out). */
	cv_err (*sign_csr)(void *ctx, const char *name, const char *role,
	    unsigned days, const char *csr, size_t len,
	    struct cv_client_cert *out);
	void *ctx;
	/* The vault's id, which names it in authenticator apps (the
	 * otpauth issuer "clearvault ID": one app may hold several vaults'
	 * codes); NULL: "clearvault" alone. */
	const char *vault_id;
};

/*
 * Enrolment, the user's half, in store S: with the code, the certificate
 * request CSR (LEN bytes of PEM, made by the user's own key: see
 * cv_ca_csr_new) becomes a client certificate (CN NAME, OU the account's
 * role) and the account a fresh TOTP seed sealed by KEYS; both go to *out
 * (caller clears; out->otpauth is secret and shown to the enrolling user
 * only). The code is then spent. A wrong code counts against the account
 * (CV_ERR_AUTH; CV_ERR_LIMIT once void); an expired one is CV_ERR_AUTH; a
 * bad CSR CV_ERR_INVALID, changing nothing.
 */
cv_err cv_auth_enrol(struct cv_store *s, const struct cv_auth_keys *keys,
    const char *name, const char *code, const char *csr, size_t csr_len,
    int64_t now_us, struct cv_user_issue *out) CV_MUST_CHECK;
void cv_user_issue_clear(struct cv_user_issue *u);

/* 1 if U has enrolled (holds a TOTP seed), 0 while enrolment is open. */
int cv_auth_enrolled(const struct cv_store_user *u);

/* Users may not log in while disabled. CV_ERR_NOT_FOUND. */
cv_err cv_auth_user_disable(struct cv_store *s, const char *name,
    int disabled) CV_MUST_CHECK;

/* Revokes all of NAME's certificates; *n is how many were live. */
cv_err cv_auth_user_revoke(struct cv_store *s, const char *name,
    int *n) CV_MUST_CHECK;

int cv_auth_valid_name(const char *name);

#endif
