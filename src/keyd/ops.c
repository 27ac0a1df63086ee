/*
 * The key side's smaller services. Each takes a fixed purpose, never a
 * free one: the TOTP seed of a named user, the guard's saved state, the
 * canary list, the log's own checkpoint, one enrolment.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "../auth/session.h"
#include "../auth/users.h"
#include "../record/record.h"
#include "../witness/witness.h"
#include "keyd_internal.h"

#define TOTP_WINDOW_US (300LL * 1000000)
#define TOTP_FAILS_MAX 10	/* per user and window, whoever asks */
#define GUARD_CONTEXT "guard"	/* as sealed before privilege separation */

/* The counter of wrong codes for USER (one slot per hashed name). */
static struct totp_fails *
fails_of(struct cv_keyd *k, const char *user, int64_t now)
{
	uint8_t h[16];
	struct totp_fails *f;

	crypto_generichash(h, sizeof h, (const uint8_t *)user, strlen(user),
	    NULL, 0);
	f = &k->totp[(h[0] | h[1] << 8) % TOTP_USERS];
	if (memcmp(f->who, h, sizeof h) != 0 ||
	    now - f->since_us > TOTP_WINDOW_US) {
		memcpy(f->who, h, sizeof h);
		f->since_us = now;
		f->n = 0;
	}
	return f;
}

static cv_err
totp(struct cv_keyd *k, const char *user, const char *code,
    const uint8_t *sealed, size_t len, uint64_t *step)
{
	uint8_t seed[CV_TOTP_SEED_BYTES];
	char ctx[96];
	int64_t now = cv_time_us(), st;
	struct totp_fails *f;
	cv_err r;

	if (!cv_auth_valid_name(user))
		return cv_fail(CV_ERR_INVALID, "not a user name");
	pthread_mutex_lock(&k->mu);
	f = fails_of(k, user, now);
	r = f->n >= TOTP_FAILS_MAX ? CV_ERR_LIMIT : CV_OK;
	pthread_mutex_unlock(&k->mu);
	if (r != CV_OK)
		return cv_fail(r, "too many wrong TOTP codes for %s; try again "
		    "later", user);
	snprintf(ctx, sizeof ctx, "totp:%s", user);
	if (len != sizeof seed + CV_SEAL_OVERHEAD ||
	    cv_keys_unseal(k->keys, ctx, sealed, len, seed) !=
	    CV_OK)
		return cv_fail(CV_ERR_AUTH, "TOTP seed unusable");
	st = cv_auth_totp_step(seed, sizeof seed, code, now);
	sodium_memzero(seed, sizeof seed);
	if (st >= 0) {
		*step = (uint64_t)st;
		return CV_OK;
	}
	pthread_mutex_lock(&k->mu);
	f = fails_of(k, user, now);
	if (++f->n == TOTP_FAILS_MAX) {
		pthread_mutex_unlock(&k->mu);
		keyd_alert(k, "keyd.refused", user, "too many wrong TOTP codes: "
		    "the key process refuses more for a while", NULL);
	} else
		pthread_mutex_unlock(&k->mu);
	return cv_fail(CV_ERR_AUTH, "wrong TOTP code");
}

/*
 * The guard's state is the network process's, but it is kept sealed and
 * written here: that process opens no file once it runs, and cannot
 * replace the saved state with one of its own making.
 */
#define GUARD_FILE_MAX (2u << 30)

static cv_err
guard_path(struct cv_keyd *k, char *out, size_t size)
{
	return cv_path(out, size, "%s/guard.state", cv_vault_dir(k->v));
}

static cv_err
guard_save(struct cv_keyd *k, const uint8_t *in, size_t len)
{
	char path[1100];
	uint8_t *sealed;
	cv_err r;

	if ((sealed = malloc(len + CV_SEAL_OVERHEAD)) == NULL)
		return CV_ERR_NOMEM;
	if ((r = cv_keys_seal(k->keys, GUARD_CONTEXT, in, len,
	    sealed)) == CV_OK && (r = guard_path(k, path, sizeof path)) ==
	    CV_OK)
		r = cv_file_replace(path, sealed, len + CV_SEAL_OVERHEAD, 0600);
	free(sealed);
	return r;
}

/* CV_ERR_NOT_FOUND: none saved yet. A file that does not open is an
 * error naming it, never "none": the guard's memory of locks is not to
 * be wiped by a bad file. */
static cv_err
guard_load(struct cv_keyd *k, struct cv_buf *out)
{
	char path[1100], *sealed = NULL;
	size_t len = 0;
	cv_err r;

	if ((r = guard_path(k, path, sizeof path)) != CV_OK ||
	    (r = cv_file_read(path, GUARD_FILE_MAX, &sealed, &len)) != CV_OK)
		return r;
	if (len < CV_SEAL_OVERHEAD)
		r = cv_fail(CV_ERR_FORMAT, "%s: too short", path);
	else if ((r = cv_buf_reserve(out, len - CV_SEAL_OVERHEAD)) == CV_OK) {
		if ((r = cv_keys_unseal(k->keys, GUARD_CONTEXT,
		    (uint8_t *)sealed, len, out->p + out->len)) == CV_OK)
			out->len += len - CV_SEAL_OVERHEAD;
		else
			r = cv_fail(r, "%s: %s", path, "failed authentication "
			    "(altered, or from another vault)");
	}
	free(sealed);
	return r;
}

static cv_err
canaries(struct cv_keyd *k, struct cv_buf *out)
{
	struct cv_vault *v = keyd_vault_get(k);
	char **ids = NULL;
	size_t n = 0;
	cv_err r;

	if (v == NULL)
		return cv_fail(CV_ERR_STORE, "keyd: no database handle");
	r = cv_vault_canaries(v, &ids, &n);
	keyd_vault_put(k, v);
	if (r != CV_OK)
		return r;
	for (size_t i = 0; i < n && r == CV_OK; i++)
		if ((r = cv_buf_add(out, ids[i], strlen(ids[i]))) == CV_OK)
			r = cv_buf_add(out, "\n", 1);
	free(ids);
	return r;
}

/* What enrolment may ask of the keyring (cv_auth_keys): a TOTP seed
 * sealed to its user, a checked request signed by the CA. */
static cv_err
seal_totp(void *ctx, const char *name, const uint8_t *seed, size_t len,
    uint8_t *out)
{
	struct cv_keyd *k = ctx;
	char sctx[96];

	snprintf(sctx, sizeof sctx, "totp:%s", name);
	return cv_keys_seal(k->keys, sctx, seed, len, out);
}

static cv_err
sign_csr(void *ctx, const char *name, const char *role, unsigned days,
    const char *csr, size_t len, struct cv_client_cert *out)
{
	struct cv_keyd *k = ctx;

	return cv_ca_sign_csr(k->keys, cv_vault_dir(k->v), name, role, days,
	    csr, len, out);
}

static cv_err
enrol(struct cv_keyd *k, const char *name, const char *code,
    const uint8_t *csr, size_t len, struct cv_buf *out)
{
	const struct cv_auth_keys keys = { seal_totp, sign_csr, k,
	    cv_vault_id(k->v) };
	struct cv_user_issue iss;
	struct cv_vault *v;
	json_t *j = NULL;
	char *s = NULL;
	size_t n = 0;
	cv_err r;

	memset(&iss, 0, sizeof iss);
	if ((v = keyd_vault_get(k)) == NULL)
		return cv_fail(CV_ERR_STORE, "keyd: no database handle");
	r = cv_auth_enrol(cv_vault_store(v), &keys, name, code,
	    (const char *)csr, len, cv_time_us(), &iss);
	keyd_vault_put(k, v);
	if (r != CV_OK)
		goto out;
	/*
	 * The URI, which holds the TOTP secret, is not given to jansson:
	 * its dumper leaves copies of long strings on the thread's stack,
	 * where no free wipes them (found by test_memory_secrets). It is
	 * spliced in after the rest, as it needs no escaping: new_totp
	 * (auth/users.c) refused any character JSON would escape.
	 */
	j = json_pack("{s:s%, s:s}", "cert", iss.cert.cert_pem.p,
	    iss.cert.cert_pem.len, "fingerprint", iss.cert.fingerprint);
	if (j == NULL || (s = json_dumps(j, JSON_COMPACT)) == NULL ||
	    (n = strlen(s)) < 2 || s[n - 1] != '}') {
		r = CV_ERR_NOMEM;
		goto out;
	}
	if ((r = cv_buf_add(out, s, n - 1)) != CV_OK ||
	    (r = cv_buf_add(out, ",\"otpauth\":\"", 12)) != CV_OK ||
	    (r = cv_buf_add(out, iss.otpauth, strlen(iss.otpauth))) !=
	    CV_OK)
		goto out;
	r = cv_buf_add(out, "\"}", 2);
 out:
	if (s) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
	json_decref(j);
	cv_user_issue_clear(&iss);
	return r;
}

/* A record written (created, or a new version): sealed here, under a
 * fresh data key that never leaves. */
static cv_err
put(struct cv_keyd *k, const char *expect, int must_exist,
    const uint8_t *text, size_t len, uint64_t *version, struct cv_buf *out)
{
	struct cv_record_error re;
	char id[CV_RECORD_ID_MAX + 1];
	struct cv_vault *h;
	uint32_t v = 0;
	cv_err r;

	memset(&re, 0, sizeof re);
	if ((h = keyd_vault_get(k)) == NULL)
		return cv_fail(CV_ERR_STORE, "keyd: no database handle");
	r = cv_vault_put(h, (const char *)text, len, *expect ? expect :
	    NULL, must_exist, &re, id, &v);
	keyd_vault_put(k, h);
	if (r == CV_ERR_INVALID && re.path[0])
		return cv_fail(r, "field %s: %s", re.path, re.reason);
	if (r != CV_OK)
		return r;
	*version = v;
	return cv_buf_add(out, id, strlen(id));
}

int
cv_keyd_hsm_tick(struct cv_keyd *k)
{
	struct cv_keys *keys = k->keys;
	int was = cv_keys_lost(keys);
	cv_err r = cv_keys_check(keys);
	char reason[256];
	struct cv_audit_entry e = { .outcome = CV_AUDIT_ERROR,
	    .action = "hsm.unavailable", .actor = "serve", .source = "server" };
	uint64_t idx = 0;
	int logged;

	if ((r != CV_OK) == was)
		return was;
	if (r != CV_OK)
		snprintf(reason, sizeof reason, "%s: %s; every request refused "
		    "(503) until it is back", cv_strerror(r), cv_err_detail());
	else {
		e.outcome = CV_AUDIT_ALLOWED;
		e.action = "hsm.restored";
		snprintf(reason, sizeof reason, "the HSM token is back; "
		    "serving again");
	}
	e.reason = reason;
	logged = cv_audit_append(k->a, &e, &idx) == CV_OK;
	if (!logged)
		fprintf(stderr, "clearvault keyd: the HSM change could not be "
		    "logged: %s\n", cv_err_detail());
	keyd_alert_line(k, r != CV_OK ? "hsm_unavailable" : "hsm_restored",
	    r != CV_OK ? "critical" : "info", NULL, reason,
	    logged ? &idx : NULL);
	fprintf(stderr, "clearvault serve: %s\n", reason);
	return r != CV_OK;
}

/*
 * The latest checkpoint, with the witnesses' cosignatures when the
 * supervisor's pusher has stored a cosigned copy of that same note
 * (DIR/witness/checkpoint, read by name: keyd may open files, the api
 * worker may not).
 */
static cv_err
checkpoint(struct cv_keyd *k, struct cv_buf *out)
{
	struct cv_buf note = { 0 };
	cv_err r;

	if ((r = cv_audit_checkpoint(k->a, &note)) == CV_OK &&
	    (r = cv_witness_attach(cv_vault_dir(k->v), &note)) == CV_OK)
		r = cv_buf_add(out, note.p, note.len);
	cv_buf_free(&note);
	return r;
}

cv_err
keyd_ops(struct cv_keyd *k, const struct keyd_req *q, int remote,
    uint64_t *index, struct cv_buf *out)
{
	switch (q->type) {
	case KEYD_TOTP:
		return totp(k, q->s[0], q->s[1], q->data, q->len, index);
	case KEYD_GUARD_SAVE:
		return guard_save(k, q->data, q->len);
	case KEYD_GUARD_LOAD:
		return guard_load(k, out);
	case KEYD_CANARIES:
		return canaries(k, out);
	case KEYD_CHECKPOINT:
		return checkpoint(k, out);
	case KEYD_COSIGNED:
		return cv_witness_cosigned_get(cv_vault_dir(k->v), k->a, out);
	case KEYD_ENROL:
		/* From the network process: only for an account the log
		 * shows made under the two-person rule (enrol.c). */
		if (remote && !cv_auth_valid_name(q->s[0]))
			return cv_fail(CV_ERR_INVALID, "not a user name");
		if (remote && keyd_enrol_approved(k, q->s[0]) != CV_OK) {
			char d[256];

			snprintf(d, sizeof d, "%s", cv_err_detail());
			keyd_alert(k, "keyd.refused", q->s[0], d, NULL);
			return cv_fail(CV_ERR_AUTH, "%s", d);
		}
		return enrol(k, q->s[0], q->s[1], q->data, q->len, out);
	case KEYD_PUT:
		return put(k, q->s[0], q->flag, q->data, q->len, index, out);
	case KEYD_STATUS:
		*index = (uint64_t)cv_keys_lost(k->keys);
		return CV_OK;
	case KEYD_AUDIT_KEY: {
		/* Public: the network process checks the log's checkpoints
		 * with it (a scope verifies the log first). */
		uint8_t pk[CV_ED25519_PK];

		cv_keys_audit_pubkey(k->keys, pk);
		return cv_buf_add(out, pk, sizeof pk);
	}
	}
	return cv_fail(CV_ERR_INTERNAL, "keyd: no handler for request %u",
	    q->type);
}
