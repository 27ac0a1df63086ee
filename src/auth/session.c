#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <liboath/oath.h>
#include <nettle/sha2.h>
#include <sodium.h>

#include "session.h"

#define MAX_SESSIONS 65536
#define MAX_TRACKED 65536

struct sess {
	uint8_t hash[32];	/* SHA-256 of the token: no token in memory */
	struct cv_principal p;
	int64_t created_us, used_us;
	int64_t seen_us;	/* last read from, or written to, the store */
	int64_t stored_used_us;	/* the last use the store holds */
};

/* How long a node trusts its copy of a session: an end on another node
 * (disable, revoke, lock) counts here within this. */
#define SEEN_US 1000000
/* How stale the store's last use may get: another node's idle check is
 * at most this early. */
#define TOUCH_US (60LL * 1000000)

/* Per certificate: failed logins; per user: the last TOTP step used. */
struct track {
	char key[CV_FINGERPRINT_HEX + 1];
	int64_t window_us;
	unsigned fails;
	uint64_t last_step;
};

struct cv_sessions {
	pthread_mutex_t mu;
	struct sess *s;
	size_t n;
	struct track *t;
	size_t nt;
	cv_sessions_totp_fn *totp;	/* keyd's check; required */
	void *totp_ctx;
};

void
cv_sessions_set_totp(struct cv_sessions *s, cv_sessions_totp_fn *fn,
    void *ctx)
{
	s->totp = fn;
	s->totp_ctx = ctx;
}

cv_err
cv_sessions_new(struct cv_sessions **out)
{
	struct cv_sessions *s;

	*out = NULL;
	if ((s = calloc(1, sizeof *s)) == NULL ||
	    (s->s = calloc(MAX_SESSIONS, sizeof *s->s)) == NULL ||
	    (s->t = calloc(MAX_TRACKED, sizeof *s->t)) == NULL) {
		cv_sessions_free(s);
		return CV_ERR_NOMEM;
	}
	pthread_mutex_init(&s->mu, NULL);
	*out = s;
	return CV_OK;
}

void
cv_sessions_free(struct cv_sessions *s)
{
	if (s == NULL)
		return;
	if (s->s)
		sodium_memzero(s->s, MAX_SESSIONS * sizeof *s->s);
	free(s->s);
	free(s->t);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static void
token_hash(const char *token, uint8_t out[32])
{
	struct sha256_ctx c;

	sha256_init(&c);
	sha256_update(&c, strlen(token), (const uint8_t *)token);
	sha256_digest(&c, 32, out);
}

static struct track *
track(struct cv_sessions *s, const char *key)
{
	for (size_t i = 0; i < s->nt; i++) {
		if (strcmp(s->t[i].key, key) == 0)
			return &s->t[i];
	}
	if (s->nt == MAX_TRACKED)
		return NULL;
	snprintf(s->t[s->nt].key, sizeof s->t[s->nt].key, "%s", key);
	return &s->t[s->nt++];
}

cv_err
cv_auth_cert_user(struct cv_store *db, const char *cert,
    struct cv_store_user *u)
{
	struct cv_store_cert c;
	cv_err r;

	if ((r = cv_store_cert_user(db, cert, &c, u)) !=
	    CV_OK)
		return r == CV_ERR_NOT_FOUND && c.user[0] == '\0' ?
		    cv_fail(CV_ERR_AUTH, "certificate not issued by this "
		    "vault") : r;
	if (c.revoked)
		return cv_fail(CV_ERR_AUTH, "certificate revoked");
	if (c.not_after_us < cv_time_us())
		return cv_fail(CV_ERR_AUTH, "certificate expired");
	if (u->disabled)
		return cv_fail(CV_ERR_AUTH, "user disabled");
	return CV_OK;
}

int64_t
cv_auth_totp_step(const uint8_t *seed, size_t len, const char *code,
    int64_t now_us)
{
	uint64_t counter = 0;
	int pos;

	if (strlen(code) != 6 || strspn(code, "0123456789") != 6)
		return -1;
	if (oath_totp_validate3((const char *)seed, len,
	    (time_t)(now_us / 1000000), OATH_TOTP_DEFAULT_TIME_STEP_SIZE, 0, 1,
	    &pos, &counter, code) < 0)
		return -1;
	return (int64_t)counter;
}

/*
 * CODE is USER's current TOTP code, not used before (under s->mu).
 * Failures count against CERT; *TC is its tracker.
 */
static cv_err
check_code(struct cv_sessions *s, struct cv_store *db,
    const struct cv_store_user *u, const char *cert, const char *code,
    int64_t now_us, struct track **tcp)
{
	struct track *tc, *tu;
	int64_t step;
	uint64_t used, st = 0;
	cv_err r;

	if ((*tcp = tc = track(s, cert)) == NULL)
		return cv_fail(CV_ERR_AUTH, "too many clients");
	if (now_us - tc->window_us > (int64_t)CV_LOGIN_WINDOW_S * 1000000) {
		tc->window_us = now_us;
		tc->fails = 0;
	}
	if (tc->fails >= CV_LOGIN_FAILS_MAX)
		return cv_fail(CV_ERR_LIMIT, "too many failed logins; try "
		    "again later");
	/* The key process checks the code; the seed stays there. */
	if (s->totp == NULL)
		return cv_fail(CV_ERR_INTERNAL, "sessions: no TOTP checker");
	r = s->totp(s->totp_ctx, u->name, code, u->totp_sealed, u->totp_len,
	    &st);
	if (r == CV_ERR_LIMIT)
		return r;
	step = r == CV_OK ? (int64_t)st : -1;
	if (step < 0) {
		tc->fails++;
		return cv_fail(CV_ERR_AUTH, "wrong TOTP code");
	}
	/* One use per code, across restarts: the step is kept in the
	 * database before the code is accepted. */
	if ((tu = track(s, u->name)) == NULL)
		return cv_fail(CV_ERR_AUTH, "too many clients");
	if ((r = cv_store_totp_step(db, u->name, &used)) !=
	    CV_OK)
		return r;
	if (used > tu->last_step)
		tu->last_step = used;
	if ((uint64_t)step <= tu->last_step) {
		tc->fails++;
		return cv_fail(CV_ERR_AUTH, "TOTP code already used");
	}
	if ((r = cv_store_totp_step_set(db, u->name,
	    (uint64_t)step)) != CV_OK)
		return r;
	tu->last_step = (uint64_t)step;
	return CV_OK;
}

static cv_err
store_put(struct cv_store *db, const struct sess *ss, const char *role,
    int64_t now_us)
{
	struct cv_store_session row;
	cv_err r;

	memset(&row, 0, sizeof row);
	memcpy(row.hash, ss->hash, sizeof row.hash);
	snprintf(row.id, sizeof row.id, "%s", ss->p.session);
	snprintf(row.user, sizeof row.user, "%s", ss->p.user);
	snprintf(row.role, sizeof row.role, "%s", role);
	snprintf(row.cert, sizeof row.cert, "%s", ss->p.cert);
	row.created_us = ss->created_us;
	row.used_us = ss->used_us;
	row.expires_us = ss->p.expires_us;
	row.stepped_up_us = ss->p.stepped_up_us;
	r = cv_store_session_put(db, &row, now_us);
	sodium_memzero(&row, sizeof row);
	return r;
}

cv_err
cv_sessions_login(struct cv_sessions *s, struct cv_store *db, const char *cert,
    const char *code, int64_t now_us, char token[static CV_TOKEN_CHARS + 1],
    struct cv_principal *p)
{
	struct cv_store_user u;
	struct track *tc;
	uint8_t raw[32], id[8];
	struct sess *ss;
	cv_err r;

	memset(p, 0, sizeof *p);
	token[0] = '\0';
	snprintf(p->cert, sizeof p->cert, "%s", cert);
	if ((r = cv_auth_cert_user(db, cert, &u)) != CV_OK)
		return r;
	snprintf(p->user, sizeof p->user, "%s", u.name);
	p->role = (enum cv_role)cv_role_parse(u.role);
	r = cv_store_budget_get(db, u.name, p->budget);
	if (r != CV_OK && r != CV_ERR_NOT_FOUND)
		return r;	/* fail closed: budgets unknown, no session */
	p->has_budget = r == CV_OK;
	p->created_us = u.created_us;
	pthread_mutex_lock(&s->mu);
	if ((r = check_code(s, db, &u, cert, code, now_us, &tc)) != CV_OK)
		goto out;
	if (s->n == MAX_SESSIONS) {
		/* Drop expired ones first; refuse if all are live. */
		size_t j = 0;
		for (size_t i = 0; i < s->n; i++) {
			if (now_us - s->s[i].used_us <
			    (int64_t)CV_SESSION_IDLE_S * 1000000)
				s->s[j++] = s->s[i];
		}
		s->n = j;
		if (s->n == MAX_SESSIONS) {
			r = cv_fail(CV_ERR_AUTH, "too many sessions");
			goto out;
		}
	}
	randombytes_buf(raw, sizeof raw);
	sodium_bin2base64(token, CV_TOKEN_CHARS + 1, raw, sizeof raw,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	randombytes_buf(id, sizeof id);
	sodium_bin2hex(p->session, sizeof p->session, id, sizeof id);
	p->expires_us = now_us + (int64_t)CV_SESSION_MAX_S * 1000000;
	p->opened_us = now_us;
	ss = &s->s[s->n];
	memset(ss, 0, sizeof *ss);
	token_hash(token, ss->hash);
	ss->p = *p;
	ss->created_us = ss->used_us = ss->seen_us = ss->stored_used_us =
	    now_us;
	/* Every node's: no token before its row is stored. */
	if ((r = store_put(db, ss, u.role, now_us)) != CV_OK) {
		sodium_memzero(token, CV_TOKEN_CHARS + 1);
		sodium_memzero(ss, sizeof *ss);
		goto out;
	}
	s->n++;
	tc->fails = 0;
 out:
	pthread_mutex_unlock(&s->mu);
	sodium_memzero(raw, sizeof raw);
	return r;
}

size_t
cv_sessions_active(struct cv_sessions *s, int64_t now_us)
{
	size_t n = 0;

	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->n; i++)
		n += now_us - s->s[i].used_us <=
		    (int64_t)CV_SESSION_IDLE_S * 1000000 &&
		    now_us < s->s[i].p.expires_us;
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* The copy of H, or NULL (under s->mu). */
static struct sess *
find(struct cv_sessions *s, const uint8_t h[32])
{
	for (size_t i = 0; i < s->n; i++) {
		if (sodium_memcmp(s->s[i].hash, h, 32) == 0)
			return &s->s[i];
	}
	return NULL;
}

static void
drop(struct cv_sessions *s, struct sess *ss)
{
	*ss = s->s[--s->n];
	sodium_memzero(&s->s[s->n], sizeof s->s[s->n]);
}

/*
 * The store's row of H as this node's copy (under s->mu): a session
 * another node made, or one this node has not confirmed for SEEN_US.
 * CV_ERR_AUTH when the row is gone (ended or expired anywhere).
 */
static cv_err
refresh(struct cv_sessions *s, struct cv_store *db, const uint8_t h[32],
    int64_t now_us, struct sess **out)
{
	struct cv_store_session row;
	struct cv_store_user u;
	struct sess *ss = find(s, h);
	uint32_t budget[CV_STORE_BUDGET_N];
	int role;
	cv_err r, rb;

	*out = NULL;
	if ((r = cv_store_session_get(db, h, &row)) == CV_ERR_NOT_FOUND) {
		if (ss)
			drop(s, ss);
		return cv_fail(CV_ERR_AUTH, "unknown or expired session");
	}
	if (r != CV_OK)
		return r;	/* fail closed: no store, no session */
	if ((role = cv_role_parse(row.role)) < 0 ||
	    (r = cv_store_user_get(db, row.user, &u)) == CV_ERR_NOT_FOUND) {
		r = cv_fail(CV_ERR_AUTH, "session of an unknown user or role");
		goto out;
	}
	if (r != CV_OK)
		goto out;	/* the store failed: not the session's fault */
	if ((rb = cv_store_budget_get(db, row.user, budget)) != CV_OK &&
	    rb != CV_ERR_NOT_FOUND) {
		r = rb;
		goto out;
	}
	if (ss == NULL) {
		if (s->n == MAX_SESSIONS) {
			r = cv_fail(CV_ERR_AUTH, "too many sessions");
			goto out;
		}
		ss = &s->s[s->n++];
		memset(ss, 0, sizeof *ss);
		memcpy(ss->hash, h, sizeof ss->hash);
	}
	snprintf(ss->p.user, sizeof ss->p.user, "%s", row.user);
	ss->p.role = (enum cv_role)role;
	snprintf(ss->p.cert, sizeof ss->p.cert, "%s", row.cert);
	snprintf(ss->p.session, sizeof ss->p.session, "%s", row.id);
	ss->p.expires_us = row.expires_us;
	ss->p.opened_us = row.created_us;
	if (row.stepped_up_us > ss->p.stepped_up_us)
		ss->p.stepped_up_us = row.stepped_up_us;
	ss->p.has_budget = rb == CV_OK;
	memcpy(ss->p.budget, budget, sizeof budget);
	ss->p.created_us = u.created_us;
	ss->created_us = row.created_us;
	if (row.used_us > ss->used_us)
		ss->used_us = row.used_us;
	ss->stored_used_us = row.used_us;
	ss->seen_us = now_us;
	*out = ss;
 out:
	sodium_memzero(&u, sizeof u);
	return r;
}

cv_err
cv_sessions_check(struct cv_sessions *s, struct cv_store *db,
    const char *token, const char *cert, int64_t now_us,
    struct cv_principal *p)
{
	uint8_t h[32];
	struct sess *ss;
	int64_t touch = 0, stepped = 0;
	cv_err r = cv_fail(CV_ERR_AUTH, "unknown or expired session");

	memset(p, 0, sizeof *p);
	if (strlen(token) != CV_TOKEN_CHARS)
		return r;
	token_hash(token, h);
	pthread_mutex_lock(&s->mu);
	if (((ss = find(s, h)) == NULL || now_us - ss->seen_us >= SEEN_US ||
	    now_us < ss->seen_us) &&
	    (r = refresh(s, db, h, now_us, &ss)) != CV_OK)
		goto out;
	if (strcmp(ss->p.cert, cert) != 0) {
		r = cv_fail(CV_ERR_AUTH, "session bound to another "
		    "certificate");
		goto out;
	}
	if (now_us - ss->used_us > (int64_t)CV_SESSION_IDLE_S * 1000000 ||
	    now_us - ss->created_us > (int64_t)CV_SESSION_MAX_S * 1000000) {
		drop(s, ss);
		r = cv_fail(CV_ERR_AUTH, "session expired");
		goto out;
	}
	ss->used_us = now_us;
	if (now_us - ss->stored_used_us >= TOUCH_US) {
		ss->stored_used_us = touch = now_us;
		stepped = ss->p.stepped_up_us;
	}
	*p = ss->p;
	r = CV_OK;
 out:
	pthread_mutex_unlock(&s->mu);
	/* Best effort: a lost touch only makes another node's idle check
	 * earlier, by at most TOUCH_US. */
	if (touch && cv_store_session_touch(db, h, touch, stepped) ==
	    CV_ERR_NOT_FOUND) {
		memset(p, 0, sizeof *p);
		r = cv_fail(CV_ERR_AUTH, "session ended");
	}
	return r;
}

cv_err
cv_sessions_step_up(struct cv_sessions *s, struct cv_store *db,
    const char *token, const char *cert, const char *code, int64_t now_us,
    struct cv_principal *p)
{
	struct cv_store_user u;
	struct track *tc;
	struct sess *ss;
	uint8_t h[32];
	cv_err r;

	if ((r = cv_sessions_check(s, db, token, cert, now_us, p)) != CV_OK)
		return r;
	if ((r = cv_auth_cert_user(db, cert, &u)) != CV_OK)
		return r;
	token_hash(token, h);
	pthread_mutex_lock(&s->mu);
	if ((r = check_code(s, db, &u, cert, code, now_us, &tc)) != CV_OK)
		goto out;
	tc->fails = 0;
	if ((ss = find(s, h)) == NULL) {
		r = cv_fail(CV_ERR_AUTH, "session ended");
		goto out;
	}
	ss->p.stepped_up_us = now_us;
	*p = ss->p;
 out:
	pthread_mutex_unlock(&s->mu);
	/* The step-up counts on every node: stored before it is used. */
	if (r == CV_OK && (r = cv_store_session_touch(db, h, now_us,
	    now_us)) != CV_OK) {
		if (r == CV_ERR_NOT_FOUND)
			r = cv_fail(CV_ERR_AUTH, "session ended");
		memset(p, 0, sizeof *p);
	}
	return r;
}

cv_err
cv_sessions_end_user(struct cv_sessions *s, struct cv_store *db,
    const char *user)
{
	size_t j = 0;
	/* The rows first: a check that reads one after this could bring the
	 * session back into memory. */
	cv_err r = cv_store_session_end_user(db, user);

	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->s[i].p.user, user) != 0)
			s->s[j++] = s->s[i];
	}
	s->n = j;
	pthread_mutex_unlock(&s->mu);
	return r;
}
