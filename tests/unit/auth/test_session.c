/*
 * Enrolment and sessions against a real vault and real TOTP codes, with
 * the clock given explicitly: the key made on the user's side, one-time
 * codes (spent, wrong, void, expired, another user's), hostile requests;
 * idle and absolute expiry, replay, certificate binding, lockout after
 * failures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <liboath/oath.h>
#include <sodium.h>

#include "../testutil.h"
#include "auth/session.h"
#include "vault/vault_keys.h"

static const char *dir;
static struct cv_vault *v;
static struct cv_store *db;

/* The key holder enrolment asks (keyd in the product), here the vault's
 * own keys. */
static cv_err
seal_here(void *ctx, const char *name, const uint8_t *sd, size_t len,
    uint8_t *out)
{
	char c[96];

	(void)ctx;
	snprintf(c, sizeof c, "totp:%s", name);
	return cv_keys_seal(cv_vault_keys(v), c, sd, len, out);
}

static cv_err
sign_here(void *ctx, const char *name, const char *role, unsigned days,
    const char *csr, size_t len, struct cv_client_cert *out)
{
	(void)ctx;
	return cv_ca_sign_csr(cv_vault_keys(v), cv_vault_dir(v), name, role,
	    days, csr, len, out);
}

static const struct cv_auth_keys keys = { seal_here, sign_here, NULL,
    NULL };
static struct cv_user_issue alice;
static char seed[CV_TOTP_SEED_BYTES];
static const int64_t T0 = 1900000000LL * 1000000;	/* a fixed "now" */

/* USER's account with ROLE, enrolled with a key made here. */
static cv_err
enrol(const char *user, enum cv_role role, struct cv_user_issue *out)
{
	struct cv_client_cert cc;
	char code[CV_ENROL_CODE_CHARS + 1];
	int64_t now = cv_time_us();
	cv_err r;

	if ((r = cv_auth_user_create(db, user, role, now, code)) != CV_OK ||
	    (r = cv_ca_csr_new(user, &cc)) != CV_OK)
		return r;
	r = cv_auth_enrol(db, &keys, user, code, (const char *)cc.csr_pem.p,
	    cc.csr_pem.len, now, out);
	cv_client_cert_clear(&cc);
	return r;
}

static int
setup(void **state)
{
	struct cv_vault_init_opts o = { 0 };
	char *b32, *bin = NULL;
	size_t len;

	(void)state;
	dir = test_vault_dir();
	if (cv_vault_init(dir, &o) != CV_OK || cv_vault_open(dir, &v) != CV_OK ||
	    (db = cv_vault_store(v)) == NULL ||
	    cv_ca_ensure(cv_vault_keys(v), dir, cv_vault_id(v)) != CV_OK ||
	    enrol("alice", CV_ROLE_INVESTIGATOR, &alice) != CV_OK)
		return -1;
	b32 = strstr(alice.otpauth, "secret=") + 7;
	*strchr(b32, '&') = '\0';
	if (oath_base32_decode(b32, strlen(b32), &bin, &len) != OATH_OK ||
	    len != sizeof seed)
		return -1;
	memcpy(seed, bin, len);
	free(bin);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	cv_user_issue_clear(&alice);
	cv_vault_close(v);
	test_rm_rf(dir);
	return 0;
}

/* The test's clock for codes: the time of the last code made. */
static int64_t code_now;

static void
code_at(int64_t us, char out[7])
{
	code_now = us;
	assert_int_equal(oath_totp_generate(seed, sizeof seed,
	    (time_t)(us / 1000000), 30, 0, 6, out), OATH_OK);
}

/* The TOTP checker the server gets from keyd, here with the vault's own
 * keys and the test's clock. */
static cv_err
totp_here(void *ctx, const char *user, const char *code,
    const uint8_t *sealed, size_t len, uint64_t *step)
{
	uint8_t sd[CV_TOTP_SEED_BYTES];
	char c[96];
	int64_t st;

	(void)ctx;
	snprintf(c, sizeof c, "totp:%s", user);
	if (len != sizeof sd + CV_SEAL_OVERHEAD ||
	    cv_keys_unseal(cv_vault_keys(v), c, sealed, len, sd) != CV_OK)
		return CV_ERR_AUTH;
	st = cv_auth_totp_step(sd, sizeof sd, code, code_now);
	sodium_memzero(sd, sizeof sd);
	if (st < 0)
		return CV_ERR_AUTH;
	*step = (uint64_t)st;
	return CV_OK;
}

static cv_err
sessions(struct cv_sessions **s)
{
	cv_err r = cv_sessions_new(s);

	if (r == CV_OK)
		cv_sessions_set_totp(*s, totp_here, NULL);
	return r;
}

static void
test_lifetimes(void **state)
{
	struct cv_sessions *s;
	struct cv_principal p;
	char tok[CV_TOKEN_CHARS + 1], other[CV_TOKEN_CHARS + 1], code[7];
	const char *fp = alice.cert.fingerprint;
	int64_t t = T0, min = 60LL * 1000000;

	(void)state;
	assert_int_equal(sessions(&s), CV_OK);
	code_at(t, code);
	assert_int_equal(cv_sessions_login(s, db, fp, code, t, tok, &p), CV_OK);
	assert_string_equal(p.user, "alice");
	assert_int_equal(p.role, CV_ROLE_INVESTIGATOR);
	/* The account's age travels with the session (probation). */
	{
		struct cv_store_user u;
		assert_int_equal(cv_store_user_get(db, "alice",
		    &u), CV_OK);
		assert_true(u.created_us > 0);
		assert_int_equal(p.created_us, u.created_us);
	}
	/* The same code again: refused, even in a later window. */
	assert_int_equal(cv_sessions_login(s, db, fp, code, t + 1000, other,
	    &p), CV_ERR_AUTH);
	assert_string_equal(other, "");
	/* Active use keeps it alive past 15 minutes... */
	for (int i = 1; i <= 30; i++)
		assert_int_equal(cv_sessions_check(s, db, tok, fp,
		    t + i * 14 * min, &p), CV_OK);
	/* ...but not past 8 hours. */
	assert_int_equal(cv_sessions_check(s, db, tok, fp, t + 481 * min, &p),
	    CV_ERR_AUTH);
	/* A new session, left idle for 16 minutes. */
	t += 10 * min;
	code_at(t, code);
	assert_int_equal(cv_sessions_login(s, db, fp, code, t, tok, &p), CV_OK);
	assert_int_equal(cv_sessions_check(s, db, tok, "00ff", t + min, &p),
	    CV_ERR_AUTH);
	assert_int_equal(cv_sessions_check(s, db, tok, fp, t + 16 * min, &p),
	    CV_ERR_AUTH);
	assert_int_equal(cv_sessions_check(s, db, "nonsense", fp, t, &p),
	    CV_ERR_AUTH);
	cv_sessions_free(s);
}

static void
test_lockout(void **state)
{
	struct cv_sessions *s;
	struct cv_principal p;
	char tok[CV_TOKEN_CHARS + 1], code[7];
	const char *fp = alice.cert.fingerprint;
	int64_t t = T0 + 3600LL * 1000000;

	(void)state;
	assert_int_equal(sessions(&s), CV_OK);
	for (int i = 0; i < CV_LOGIN_FAILS_MAX; i++)
		assert_int_equal(cv_sessions_login(s, db, fp, "000000", t, tok,
		    &p), CV_ERR_AUTH);
	code_at(t, code);
	assert_int_equal(cv_sessions_login(s, db, fp, code, t, tok, &p),
	    CV_ERR_LIMIT);
	/* After the window the right code works. */
	t += (CV_LOGIN_WINDOW_S + 31) * 1000000LL;
	code_at(t, code);
	assert_int_equal(cv_sessions_login(s, db, fp, code, t, tok, &p), CV_OK);
	assert_int_equal(cv_sessions_login(s, db, "ab", code, t, tok, &p),
	    CV_ERR_AUTH);
	cv_sessions_free(s);
}

static void
test_enrolment(void **state)
{
	struct cv_client_cert cc, other;
	struct cv_user_issue iss;
	struct cv_store_user u;
	char code[CV_ENROL_CODE_CHARS + 1], code2[CV_ENROL_CODE_CHARS + 1];
	char bad[CV_ENROL_CODE_CHARS + 1], *pem;
	int64_t now = cv_time_us();
	const char *csr;
	size_t len;

	(void)state;
	assert_int_equal(cv_ca_csr_new("bob", &cc), CV_OK);
	assert_int_equal(cv_ca_csr_new("carol", &other), CV_OK);
	csr = (const char *)cc.csr_pem.p;
	len = cc.csr_pem.len;
	assert_int_equal(cv_auth_user_create(db, "bob", CV_ROLE_ADJUDICATOR, now,
	    code), CV_OK);
	assert_int_equal(cv_auth_user_create(db, "carol", CV_ROLE_AUDITOR, now,
	    code2), CV_OK);
	assert_int_equal(strlen(code), CV_ENROL_CODE_CHARS);
	/* No seed and no certificate until enrolment: nothing to log in with. */
	assert_int_equal(cv_store_user_get(db, "bob", &u), CV_OK);
	assert_false(cv_auth_enrolled(&u));
	/* A live account cannot be opened again. */
	assert_int_equal(cv_auth_user_create(db, "alice", CV_ROLE_ADMIN, now,
	    bad), CV_ERR_EXISTS);
	/* Hostile requests are refused before a try is spent. */
	assert_int_equal(cv_auth_enrol(db, &keys, "bob", code, "garbage", 7,
	    now, &iss), CV_ERR_INVALID);
	pem = malloc(len);
	assert_non_null(pem);
	memcpy(pem, csr, len);
	pem[len / 2] = pem[len / 2] == 'A' ? 'B' : 'A';	/* breaks it */
	assert_int_equal(cv_auth_enrol(db, &keys, "bob", code, pem, len, now, &iss),
	    CV_ERR_INVALID);
	free(pem);
	/* Another user's code, a code for nobody, then the right one. */
	assert_int_equal(cv_auth_enrol(db, &keys, "bob", code2, csr, len, now, &iss),
	    CV_ERR_AUTH);
	assert_int_equal(cv_auth_enrol(db, &keys, "nobody", code, csr, len, now, &iss),
	    CV_ERR_AUTH);
	/* Case and dashes do not matter. */
	for (char *c = code; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
	assert_int_equal(cv_auth_enrol(db, &keys, "bob", code, csr, len, now,
	    &iss), CV_OK);
	assert_non_null(strstr(iss.otpauth, "otpauth://totp/clearvault:bob?"));
	assert_non_null(strstr((const char *)iss.cert.cert_pem.p,
	    "BEGIN CERTIFICATE"));
	cv_user_issue_clear(&iss);
	/* Spent. */
	assert_int_equal(cv_auth_enrol(db, &keys, "bob", code, csr, len, now,
	    &iss), CV_ERR_AUTH);
	/* Expired: carol's code a day and a second later. */
	assert_int_equal(cv_auth_enrol(db, &keys, "carol", code2,
	    (const char *)other.csr_pem.p, other.csr_pem.len, now +
	    (CV_ENROL_TTL_S + 1) * 1000000LL, &iss), CV_ERR_AUTH);
	/* Wrong codes make the enrolment void, even for the right one. */
	snprintf(bad, sizeof bad, "%s", code2);
	bad[0] = bad[0] == 'A' ? 'B' : 'A';
	for (int i = 0; i < CV_ENROL_FAILS_MAX; i++)
		assert_int_equal(cv_auth_enrol(db, &keys, "carol", bad,
		    (const char *)other.csr_pem.p, other.csr_pem.len, now,
		    &iss), CV_ERR_AUTH);
	assert_int_equal(cv_auth_enrol(db, &keys, "carol", code2,
	    (const char *)other.csr_pem.p, other.csr_pem.len, now, &iss),
	    CV_ERR_LIMIT);
	cv_client_cert_clear(&cc);
	cv_client_cert_clear(&other);
}

/*
 * Two nodes (two session sets on two connections to one store): a token
 * one issued works on the other, a step-up on one counts on the other,
 * an end on one counts on the other within a second, and a node started
 * later (a restart) knows every live session.
 */
static void
test_two_nodes(void **state)
{
	struct cv_sessions *n1, *n2, *n3;
	struct cv_vault *v2;
	struct cv_store *db2;
	struct cv_principal p, q;
	char tok[CV_TOKEN_CHARS + 1], code[7];
	const char *fp = alice.cert.fingerprint;
	int64_t t = T0 + 5 * 3600LL * 1000000, sec = 1000000;

	(void)state;
	assert_int_equal(cv_vault_dup(v, &v2), CV_OK);
	db2 = cv_vault_store(v2);
	assert_int_equal(sessions(&n1), CV_OK);
	assert_int_equal(sessions(&n2), CV_OK);
	code_at(t, code);
	assert_int_equal(cv_sessions_login(n1, db, fp, code, t, tok, &p),
	    CV_OK);
	assert_int_equal(cv_sessions_check(n2, db2, tok, fp, t + sec / 2, &q),
	    CV_OK);
	assert_string_equal(q.user, "alice");
	assert_string_equal(q.session, p.session);
	assert_int_equal(q.role, p.role);
	assert_int_equal(q.expires_us, p.expires_us);
	assert_int_equal(q.created_us, p.created_us);
	/* Bound to its certificate on every node. */
	assert_int_equal(cv_sessions_check(n2, db2, tok, "00ff", t + sec, &q),
	    CV_ERR_AUTH);
	/* A step-up on node 2 (a later code) counts on node 1. */
	code_at(t + 31 * sec, code);
	assert_int_equal(cv_sessions_step_up(n2, db2, tok, fp, code,
	    t + 31 * sec, &q), CV_OK);
	assert_int_equal(q.stepped_up_us, t + 31 * sec);
	assert_int_equal(cv_sessions_check(n1, db, tok, fp, t + 33 * sec, &p),
	    CV_OK);
	assert_int_equal(p.stepped_up_us, t + 31 * sec);
	/* A node started now knows it. */
	assert_int_equal(sessions(&n3), CV_OK);
	assert_int_equal(cv_sessions_check(n3, db, tok, fp, t + 34 * sec, &p),
	    CV_OK);
	cv_sessions_free(n3);
	/* Ended on node 2: node 1's copy counts for under a second more,
	 * then the store says no. */
	assert_int_equal(cv_sessions_end_user(n2, db2, "alice"), CV_OK);
	assert_int_equal(cv_sessions_check(n2, db2, tok, fp, t + 35 * sec, &q),
	    CV_ERR_AUTH);
	assert_int_equal(cv_sessions_check(n1, db, tok, fp,
	    t + 33 * sec + sec / 2, &p), CV_OK);
	assert_int_equal(cv_sessions_check(n1, db, tok, fp, t + 34 * sec, &p),
	    CV_ERR_AUTH);
	/* Idle on node 1 for 16 minutes though used on node 2 at minute 5:
	 * node 2's use reached the store, so node 1 still serves it. */
	t += 40 * sec;
	code_at(t + 30 * sec, code);
	assert_int_equal(cv_sessions_login(n1, db, fp, code, t + 30 * sec, tok,
	    &p), CV_OK);
	assert_int_equal(cv_sessions_check(n2, db2, tok, fp,
	    t + 330 * sec, &q), CV_OK);
	assert_int_equal(cv_sessions_check(n1, db, tok, fp,
	    t + 30 * sec + 16 * 60 * sec, &p), CV_OK);
	cv_sessions_free(n1);
	cv_sessions_free(n2);
	cv_vault_close(v2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_enrolment),
		cmocka_unit_test(test_lifetimes),
		cmocka_unit_test(test_lockout),
		cmocka_unit_test(test_two_nodes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
