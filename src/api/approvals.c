/*
 * Two-person control over HTTP: proposals (users, cases), their approval
 * by a second person, enrolment of a new account with a CSR, break-glass
 * reviews that fall due. The rules themselves are the policy module's
 * (cv_policy_propose, cv_policy_decide); this file maps them to requests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../policy/policy.h"
#include "../keyd/keyd.h"
#include "api_internal.h"

static char *
when(int64_t us, char out[static 32])
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return out;
}

/* The policy's audit hook: this request's own entry, durable now. */
static cv_err
audit_now(void *ctx, const char *reason, uint64_t *index)
{
	struct req *r = ctx;

	snprintf(r->reason, sizeof r->reason, "%s", reason);
	return api_audit_now(r, CV_AUDIT_ALLOWED, index);
}

static void
actor_of(struct req *r, struct cv_actor *a)
{
	a->name = r->who.user;
	a->role = r->who.role;
}

/* A refusal of the policy as problem+json; the detail is the reason. */
static enum MHD_Result
refused(struct req *r, cv_err e, unsigned auth_status)
{
	char detail[200];

	snprintf(detail, sizeof detail, "%s", cv_err_detail());
	switch (e) {
	case CV_ERR_AUTH:
		return auth_status == 410 ? api_problem(r, 410, CV_AUDIT_DENIED,
		    "gone", detail) : api_forbidden(r, detail);
	case CV_ERR_NOT_FOUND:
		return api_problem(r, 404, CV_AUDIT_DENIED, "not found", detail);
	case CV_ERR_EXISTS:
		return api_problem(r, 409, CV_AUDIT_DENIED, "conflict", detail);
	case CV_ERR_INVALID:
		return api_problem(r, 400, CV_AUDIT_DENIED, "bad request",
		    detail);
	default:
		return api_internal(r, e);
	}
}

enum MHD_Result
api_propose(struct req *r, const char *kind, const char *subject,
    json_t *args)
{
	struct cv_vault *v = api_vault(r->srv);
	struct cv_store *db = api_store(r->srv);
	struct cv_actor by;
	int64_t id = 0, now = cv_time_us();
	uint64_t index = 0;
	char exp[32];
	cv_err e;

	if (db == NULL) {
		json_decref(args);
		return api_internal(r, CV_ERR_STORE);
	}
	actor_of(r, &by);
	e = cv_policy_propose(db, v, &by, kind, subject, args, now, audit_now, r,
	    &id, &index);
	json_decref(args);
	if (e != CV_OK)
		return refused(r, e, 403);
	return api_json(r, 202, json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:s}",
	    "proposal", (json_int_t)id, "kind", kind, "subject", subject,
	    "state", "pending", "proposer", r->who.user, "audit_index",
	    (json_int_t)index, "expires_at", when(now +
	    (int64_t)CV_PROPOSAL_TTL_S * 1000000, exp)));
}

static int
add_proposal(void *ctx, const struct cv_store_proposal *p)
{
	json_t *arr = ctx, *args = json_loads(p->args, 0, NULL);
	char c[32], x[32];

	json_array_append_new(arr, json_pack("{s:I, s:s, s:s, s:o, s:s, s:s,"
	    " s:s, s:s, s:I}", "id", (json_int_t)p->id, "kind", p->kind,
	    "subject", p->subject, "args", args ? args : json_object(),
	    "proposer", p->proposer, "state", p->state, "created_at",
	    when(p->created_us, c), "expires_at", when(p->expires_us, x),
	    "audit_index", (json_int_t)p->audit_index));
	return json_array_size(arr) >= 1000;
}

/* Local alerts of an approval, emitted with its entry. */
static void
approval_alerts(struct req *r, unsigned alerts)
{
	static const struct {
		unsigned bit;
		const char *kind, *detail;
	} a[] = {
		{ CV_APPROVAL_OFF_HOURS, "approval_off_hours", "a grant of "
		    "read power was approved outside working hours" },
		{ CV_APPROVAL_BURST, "account_burst", "several accounts were "
		    "created, re-roled or enabled within an hour" },
		{ CV_APPROVAL_BUSY, "busy_approver", "one officer approved "
		    "many proposals within a day" },
	};

	for (size_t i = 0; i < sizeof a / sizeof a[0]; i++) {
		struct cv_guard_alert *al;
		if (!(alerts & a[i].bit) ||
		    r->gd.nalerts == CV_GUARD_MAX_ALERTS)
			continue;
		al = &r->gd.alerts[r->gd.nalerts++];
		al->severity = CV_GUARD_WARNING;
		snprintf(al->kind, sizeof al->kind, "%s", a[i].kind);
		snprintf(al->detail, sizeof al->detail, "%s", a[i].detail);
	}
}

/*
 * An attempt to approve what two-person control keeps from the caller: a
 * proposal of its own, one that would empower it, or any decision by a
 * role that decides none. No office's workflow does this (the proposer
 * withdraws with /reject; others wait for an officer), so it is a lone
 * attempt to grant read power and the security office hears of it at
 * once, with the refused request's own audit entry. Critical, like
 * break-glass: the control held, but someone tried to go around it.
 * Rejections are left out: refusing a grant widens nobody's reading.
 */
static void
self_approval_alert(struct req *r, const char *detail)
{
	struct cv_guard_alert *al;

	if (r->gd.nalerts == CV_GUARD_MAX_ALERTS)
		return;
	al = &r->gd.alerts[r->gd.nalerts++];
	memset(al, 0, sizeof *al);
	al->severity = CV_GUARD_CRITICAL;
	snprintf(al->kind, sizeof al->kind, "self_approval");
	snprintf(al->detail, sizeof al->detail, "%s", detail);
}

static int
self_refusal(enum cv_refusal why)
{
	return why == CV_REFUSE_ROLE || why == CV_REFUSE_SELF ||
	    why == CV_REFUSE_SUBJECT;
}

static enum MHD_Result
decide(struct req *r, struct cv_store *db, int64_t id, int approve)
{
	struct cv_approval ap;
	struct cv_actor by;
	json_t *j;
	char exp[32];
	enum MHD_Result ret;
	cv_err e;

	r->action = approve ? "approvals.approve" : "approvals.reject";
	if (api_guard_locked(r->srv, r->who.user))
		return api_forbidden(r, "a locked account decides nothing");
	actor_of(r, &by);
	e = cv_policy_decide(db, &by, id, approve, cv_time_us(), audit_now, r,
	    &ap);
	if (e != CV_OK) {
		if (approve && e == CV_ERR_AUTH && self_refusal(ap.refusal)) {
			char d[160];
			snprintf(d, sizeof d, "approval of proposal %lld (%.24s "
			    "%.40s by %.40s) refused: %s", (long long)id,
			    ap.p.kind, ap.p.subject, ap.p.proposer,
			    ap.refusal == CV_REFUSE_ROLE ? "not an officer" :
			    ap.refusal == CV_REFUSE_SELF ? "its proposer" :
			    "it would empower the approver");
			snprintf(r->reason, sizeof r->reason, "%s", d);
			self_approval_alert(r, d);
		}
		ret = refused(r, e, ap.refusal == CV_REFUSE_EXPIRED ? 410 :
		    403);
		cv_approval_clear(&ap);
		return ret;
	}
	/* A new role or an enabled account starts with a fresh login. */
	if (approve && (!strcmp(ap.p.kind, "user.role") ||
	    !strcmp(ap.p.kind, "user.budget")))
		api_end_sessions(r->srv, api_store(r->srv),
		    ap.p.subject);
	/* A break-glass read judged a misuse: the reader is locked. */
	if (!approve && !strcmp(ap.p.kind, "break_glass") &&
	    strcmp(r->who.user, ap.p.proposer) != 0)
		api_lock_user(r->srv, ap.p.subject, "break-glass read "
		    "rejected on review");
	approval_alerts(r, ap.alerts);
	j = json_pack("{s:I, s:s, s:s, s:s, s:I}", "proposal", (json_int_t)id,
	    "kind", ap.p.kind, "subject", ap.p.subject, "state", ap.p.state,
	    "audit_index", (json_int_t)ap.index);
	if (j && ap.code[0]) {
		/* To the approver only, to hand over out of band. */
		json_object_set_new(j, "enrolment_code", json_string(ap.code));
		json_object_set_new(j, "enrolment_expires_at", json_string(
		    when(ap.p.decided_us + (int64_t)CV_ENROL_TTL_S * 1000000,
		    exp)));
	}
	cv_approval_clear(&ap);
	/* jansson's copies of the code are wiped as they are freed
	 * (json_set_alloc_funcs in main), the reply's by the library's
	 * free (respond in server.c). */
	return api_json(r, 200, j);
}

enum MHD_Result
api_approvals(struct req *r, const char *rest)
{
	struct cv_store *db = api_store(r->srv);
	char *end;
	long long id;

	r->action = "approvals";
	if (r->who.role != CV_ROLE_ADMIN &&
	    r->who.role != CV_ROLE_SECURITY_OFFICER) {
		size_t n = strlen(rest);
		/* Not even a proposal's reader: no lookup, the path says it. */
		if (!strcmp(r->method, "POST") && n > 8 &&
		    !strcmp(rest + n - 8, "/approve")) {
			r->action = "approvals.approve";
			self_approval_alert(r, "an approval by a role that "
			    "decides no proposal");
		}
		return api_forbidden(r, "only administrators and security "
		    "officers see proposals");
	}
	if (db == NULL)
		return api_internal(r, CV_ERR_STORE);
	if (*rest == '\0' && !strcmp(r->method, "GET")) {
		const char *all = MHD_lookup_connection_value(r->conn,
		    MHD_GET_ARGUMENT_KIND, "all");
		json_t *arr = json_array();
		cv_err e;
		r->action = "approvals.list";
		if ((e = cv_store_proposal_list(db,
		    !(all && !strcmp(all, "1")), add_proposal, arr)) != CV_OK) {
			json_decref(arr);
			return api_internal(r, e);
		}
		return api_json(r, 200, json_pack("{s:o}", "proposals", arr));
	}
	if (*rest != '/' || rest[1] < '1' || rest[1] > '9' ||
	    strcmp(r->method, "POST") != 0)
		return api_problem(r, 404, CV_AUDIT_DENIED, "not found",
		    "no such endpoint");
	id = strtoll(rest + 1, &end, 10);
	if (id <= 0 || id > (1LL << 53) ||
	    (strcmp(end, "/approve") != 0 && strcmp(end, "/reject") != 0))
		return api_problem(r, 404, CV_AUDIT_DENIED, "not found",
		    "no such endpoint");
	return decide(r, db, id, !strcmp(end, "/approve"));
}

enum MHD_Result
api_enrol(struct req *r)
{
	char name[CV_USER_NAME_MAX + 1], code[CV_ENROL_CODE_MAX + 1];
	struct cv_buf issued = { 0 };
	json_t *hold = NULL, *j = NULL;
	json_error_t je;
	const char *csr;
	enum MHD_Result ret;
	cv_err e;

	r->action = "users.enrol";
	if (!api_body_enrol(&r->body, name, code, &csr, &hold))
		return api_problem(r, 400, CV_AUDIT_DENIED, "bad request",
		    "expected {\"name\": \"...\", \"code\": \"XXXXX-XXXXX-"
		    "XXXXX-XXXXX\", \"csr\": \"-----BEGIN CERTIFICATE "
		    "REQUEST-----...\"}");
	/* The log names who tried, even when it fails. */
	snprintf(r->who.user, sizeof r->who.user, "%s", name);
	/* The key process checks the code and signs; the CA key is there. */
	e = cv_keyd_enrol(r->srv->kd, name, code, csr, strlen(csr), &issued);
	sodium_memzero(code, sizeof code);
	json_decref(hold);
	if (e != CV_OK) {
		char detail[200];
		snprintf(r->reason, sizeof r->reason, "enrolment refused: %s",
		    cv_err_detail());
		snprintf(detail, sizeof detail, "%s", cv_err_detail());
		if (e == CV_ERR_INVALID)
			return api_problem(r, 400, CV_AUDIT_DENIED,
			    "bad request", detail);
		/* Whether an enrolment is open is nobody's business. */
		if (e == CV_ERR_AUTH || e == CV_ERR_LIMIT)
			return api_problem(r, 403, CV_AUDIT_DENIED, "forbidden",
			    "enrolment refused");
		return api_internal(r, e);
	}
	if ((j = json_loadb((const char *)issued.p, issued.len, 0, &je)) ==
	    NULL || !json_is_string(json_object_get(j, "fingerprint"))) {
		cv_buf_free(&issued);
		json_decref(j);
		return api_internal(r, CV_ERR_FORMAT);
	}
	cv_buf_free(&issued);
	snprintf(r->reason, sizeof r->reason, "enrolled, certificate %.16s",
	    json_string_value(json_object_get(j, "fingerprint")));
	ret = api_json(r, 201, json_pack("{s:s, s:O, s:O, s:O}", "name", name,
	    "certificate", json_object_get(j, "cert"), "fingerprint",
	    json_object_get(j, "fingerprint"), "otpauth",
	    json_object_get(j, "otpauth")));
	/* As above: every copy of the TOTP URI is wiped as it is freed. */
	json_decref(j);
	return ret;
}

void
api_lock_user(struct server *srv, const char *user, const char *why)
{
	/* The calling thread's handle: a request's, or the main loop's. */
	struct cv_store *db = api_store(srv);
	struct req r;
	struct cv_guard_alert *al;
	uint64_t index = 0;
	cv_err e;

	memset(&r, 0, sizeof r);
	r.srv = srv;
	r.action = "guard.lock";
	snprintf(r.who.user, sizeof r.who.user, "%s", user);
	snprintf(r.source, sizeof r.source, "server");
	snprintf(r.reason, sizeof r.reason, "%s", why);
	if (srv->guard != NULL)
		e = cv_guard_lock(srv->guard, user, why, api_guard_now(srv));
	else
		e = db ? cv_store_user_disable(db, user, 1) : CV_ERR_STORE;
	api_share_lock(srv, db, user, why);
	api_end_sessions(srv, db, user);
	/* Saved after the row's write, so that a lock still to share is
	 * saved marked as such (locks.c). */
	if (srv->guard != NULL && e == CV_OK)
		e = api_guard_save(srv);
	if (e != CV_OK)
		fprintf(stderr, "clearvault serve: cannot lock %s: %s\n", user,
		    cv_err_detail());
	al = &r.gd.alerts[r.gd.nalerts++];
	al->severity = CV_GUARD_CRITICAL;
	snprintf(al->kind, sizeof al->kind, "break_glass");
	snprintf(al->detail, sizeof al->detail, "%.150s", why);
	r.gd.locked_now = true;
	e = api_audit_now(&r, CV_AUDIT_ALLOWED, &index);
	api_guard_emit(&r, index, e == CV_OK);
}

/*
 * Once in a while from the main thread: break-glass reads nobody reviewed
 * in time lock their reader. The review is marked expired first, so that
 * a lock happens once.
 */
struct due {
	int64_t now;
	int64_t ids[64];
	char users[64][CV_USER_NAME_MAX + 1];
	size_t n;
};

static int
collect_due(void *ctx, const struct cv_store_proposal *p)
{
	struct due *d = ctx;

	if (!strcmp(p->kind, "break_glass") && p->expires_us < d->now) {
		d->ids[d->n] = p->id;
		snprintf(d->users[d->n], sizeof d->users[0], "%s", p->subject);
		d->n++;
	}
	return d->n == 64;
}

void
api_approvals_tick(struct server *srv)
{
	struct cv_store *s = srv->store;
	struct due d;
	char why[128];

	memset(&d, 0, sizeof d);
	d.now = cv_time_us();
	if (cv_store_proposal_list(s, 1, collect_due, &d) != CV_OK)
		return;
	for (size_t i = 0; i < d.n; i++) {
		if (cv_store_proposal_decide(s, d.ids[i], "expired", "",
		    d.now) != CV_OK)
			continue;
		snprintf(why, sizeof why, "break-glass read %lld not reviewed "
		    "in time", (long long)d.ids[i]);
		api_lock_user(srv, d.users[i], why);
	}
}
