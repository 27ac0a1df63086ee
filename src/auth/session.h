/*
 * Login and sessions: a TOTP code (RFC 6238, one use only) presented with
 * a valid client certificate buys a bearer token bound to that
 * certificate: 15 minutes idle, 8 hours at most. Sessions are rows of
 * the vault's store (the token's hash, never the token), so that every
 * node serves every session and an end on one node (disable, revoke, a
 * lock) counts on all within a second: each node trusts its own copy of
 * a row for at most that long.
 */
#ifndef CV_AUTH_SESSION_H
#define CV_AUTH_SESSION_H

#include "users.h"

#define CV_TOKEN_CHARS 43	/* 32 random bytes, base64url */
#define CV_SESSION_IDLE_S (15 * 60)
#define CV_SESSION_MAX_S (8 * 3600)
#define CV_LOGIN_FAILS_MAX 5	/* per certificate per window */
#define CV_LOGIN_WINDOW_S 300

struct cv_sessions;

struct cv_principal {
	char user[CV_USER_NAME_MAX + 1];
	enum cv_role role;
	char cert[CV_FINGERPRINT_HEX + 1];
	char session[17];	/* a public id for the log, not the token */
	int64_t expires_us;
	int64_t stepped_up_us;	/* last fresh TOTP after login; 0: none */
	int64_t opened_us;	/* the login (the session's first proof) */
	/* the user's own read budgets (`user budget`), as of login */
	int has_budget;
	uint32_t budget[CV_STORE_BUDGET_N];
	/* when the account was made (UTC microseconds), for probation */
	int64_t created_us;
};

/* How long a step-up lets a session read past its soft budgets. */
#define CV_STEP_UP_S (10 * 60)

cv_err cv_sessions_new(struct cv_sessions **out) CV_MUST_CHECK;
void cv_sessions_free(struct cv_sessions *s);

/*
 * Where TOTP codes are checked: FN(CTX, user, code, sealed seed, its
 * length, &step) returns CV_OK with the code's time step, CV_ERR_AUTH for
 * a wrong code or CV_ERR_LIMIT. Required before any login or step-up
 * (CV_ERR_INTERNAL without it): the server points it at its key process,
 * so that seeds are only ever unsealed there, never next to the network
 * code.
 */
typedef cv_err cv_sessions_totp_fn(void *ctx, const char *user,
    const char *code, const uint8_t *sealed, size_t len, uint64_t *step);
void cv_sessions_set_totp(struct cv_sessions *s, cv_sessions_totp_fn *fn,
    void *ctx);

/*
 * Checks CODE for USER (who must hold the certificate CERT, live and not
 * revoked, and be enabled) and opens a session. The token (NUL-terminated)
 * goes to TOKEN once the session is stored in DB for every node.
 * CV_ERR_AUTH for a wrong or reused code, CV_ERR_LIMIT
 * after CV_LOGIN_FAILS_MAX failures with this certificate in the window,
 * with the reason in the detail; *p is filled for the audit entry either
 * way (user and cert).
 */
cv_err cv_sessions_login(struct cv_sessions *s, struct cv_store *db,
    const char *cert, const char *code, int64_t now_us,
    char token[static CV_TOKEN_CHARS + 1], struct cv_principal *p)
    CV_MUST_CHECK;

/*
 * The session of TOKEN presented with certificate CERT, from this node's
 * copy or, when that is older than a second or missing (a session another
 * node opened), from store DB. CV_ERR_AUTH when unknown, ended, expired,
 * idle too long, or presented with another certificate; CV_ERR_STORE
 * when the store cannot say (no session then). Touches the idle timer
 * (in the store at most once a minute).
 */
cv_err cv_sessions_check(struct cv_sessions *s, struct cv_store *db,
    const char *token, const char *cert, int64_t now_us,
    struct cv_principal *p) CV_MUST_CHECK;

/*
 * Step-up: a fresh TOTP CODE (one use, failures limited as for login) for
 * the user of the session TOKEN presented with CERT; the session is then
 * stepped up (p->stepped_up_us = NOW_US). Errors as for login and check.
 */
cv_err cv_sessions_step_up(struct cv_sessions *s, struct cv_store *db,
    const char *token, const char *cert, const char *code, int64_t now_us,
    struct cv_principal *p) CV_MUST_CHECK;

/*
 * Sessions this node has seen used within the idle timeout and not past
 * their end at NOW_US (for /metrics: each node counts its own, a session
 * used on two nodes counts on both).
 */
size_t cv_sessions_active(struct cv_sessions *s, int64_t now_us);

/* Ends every session of USER (disable, revoke, lock), here and, through
 * the store DB, on every node. CV_ERR_STORE: ended here only. */
cv_err cv_sessions_end_user(struct cv_sessions *s, struct cv_store *db,
    const char *user) CV_MUST_CHECK;

/* The user holding live certificate CERT. CV_ERR_AUTH otherwise. */
cv_err cv_auth_cert_user(struct cv_store *db, const char *cert,
    struct cv_store_user *u) CV_MUST_CHECK;

/* The TOTP time step that CODE (6 digits) matches for SEED at NOW_US, one
 * step either side, or -1. */
int64_t cv_auth_totp_step(const uint8_t *seed, size_t len, const char *code,
    int64_t now_us);

#endif
