/* Users (administrators), metrics, and the OpenAPI document. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../policy/policy.h"
#include "api_internal.h"

extern const char cv_openapi_json[];


struct list {
	struct cv_store *s;
	json_t *arr;
};

static int
add_user(void *ctx, const struct cv_store_user *u)
{
	struct list *l = ctx;
	int live = 0, all = 0;

	if (cv_store_cert_count(l->s, u->name, &live, &all) != CV_OK)
		return 1;
	json_array_append_new(l->arr, json_pack("{s:s, s:s, s:b, s:s, s:i}",
	    "name", u->name, "role", u->role, "disabled", u->disabled,
	    "state", u->disabled ? "disabled" : !cv_auth_enrolled(u) ?
	    "enrolling" : "active", "certificates", live));
	return 0;
}

static enum MHD_Result
users_list(struct req *r, struct cv_store *db)
{
	struct list l = { db, json_array() };
	cv_err e;

	r->action = "users.list";
	if ((e = cv_store_user_list(l.s, add_user, &l)) != CV_OK) {
		json_decref(l.arr);
		return api_internal(r, e);
	}
	return api_json(r, 200, json_pack("{s:o}", "users", l.arr));
}

/*
 * {"name", "role"}: a proposal. The account exists only once a security
 * officer approves; its enrolment code goes to that officer, and the key
 * and the TOTP secret only ever to the user (POST /v1/enrol).
 */
static enum MHD_Result
users_add(struct req *r)
{
	char name[CV_USER_NAME_MAX + 1];
	int ro;

	r->action = "users.add";
	if (!api_body_user(&r->body, name, &ro)) {
		return api_problem(r, 400, CV_AUDIT_DENIED, "bad request",
		    "expected {\"name\": \"a-z0-9._-\", \"role\": one of "
		    "investigator adjudicator security_officer auditor "
		    "admin metrics}");
	}
	return api_propose(r, "user.create", name, json_pack("{s:s}", "role",
	    cv_role_names[ro]));
}

static enum MHD_Result
users_change(struct req *r, struct cv_store *db, const char *name,
    const char *what)
{
	json_t *args;
	int n = 0, ro;
	cv_err e;

	/* What gives power back or more of it takes two people. */
	if (!strcmp(what, "enable")) {
		r->action = "users.enable";
		return api_propose(r, "user.enable", name, json_object());
	}
	if (!strcmp(what, "role")) {
		r->action = "users.role";
		if (!api_body_role(&r->body, &ro))
			return api_problem(r, 400, CV_AUDIT_DENIED,
			    "bad request", "expected {\"role\": \"...\"}");
		return api_propose(r, "user.role", name, json_pack("{s:s}",
		    "role", cv_role_names[ro]));
	}
	if (!strcmp(what, "budget")) {
		r->action = "users.budget";
		if (!api_body_budget(&r->body, &args))
			return api_problem(r, 400, CV_AUDIT_DENIED,
			    "bad request", "expected {\"budget\": [soft per "
			    "minute, hour, day, hard per minute, hour, day]} "
			    "with soft <= hard, or {\"budget\": null}");
		return api_propose(r, "user.budget", name, args);
	}
	/* Taking power away needs one person. */
	if (!strcmp(what, "disable")) {
		r->action = "users.disable";
		e = cv_auth_user_disable(db, name, 1);
	} else if (!strcmp(what, "revoke-cert")) {
		r->action = "users.revoke-cert";
		e = cv_auth_user_revoke(db, name, &n);
	} else
		return api_problem(r, 404, CV_AUDIT_DENIED, "not found",
		    "no such endpoint");
	snprintf(r->reason, sizeof r->reason, "user %.64s", name);
	if (e == CV_ERR_NOT_FOUND)
		return api_problem(r, 404, CV_AUDIT_DENIED, "not found",
		    "no such user");
	if (e != CV_OK)
		return api_internal(r, e);
	/* At once: the user's sessions end now. */
	api_end_sessions(r->srv, api_store(r->srv), name);
	return api_json(r, 200, json_pack("{s:s, s:s}", "name", name,
	    "result", what));
}

enum MHD_Result
api_users(struct req *r, const char *rest)
{
	struct cv_store *db = api_store(r->srv);
	char name[CV_USER_NAME_MAX + 1];
	const char *slash;

	r->action = "users";
	if (!cv_policy_allows(r->who.role, CV_PERM_MANAGE_USERS))
		return api_forbidden(r, "only administrators manage users");
	if (db == NULL)
		return api_internal(r, CV_ERR_STORE);
	if (*rest == '\0')
		return !strcmp(r->method, "GET") ? users_list(r, db) :
		    !strcmp(r->method, "POST") ? users_add(r) :
		    api_problem(r, 405, CV_AUDIT_DENIED, "method not allowed",
		    "GET or POST");
	if (*rest != '/' || (slash = strchr(rest + 1, '/')) == NULL ||
	    (size_t)(slash - rest - 1) > CV_USER_NAME_MAX ||
	    strcmp(r->method, "POST") != 0)
		return api_problem(r, 404, CV_AUDIT_DENIED, "not found",
		    "no such endpoint");
	memcpy(name, rest + 1, (size_t)(slash - rest - 1));
	name[slash - rest - 1] = '\0';
	if (!cv_auth_valid_name(name))
		return api_problem(r, 400, CV_AUDIT_DENIED, "bad request",
		    "not a user name");
	return users_change(r, db, name, slash + 1);
}

enum MHD_Result
api_metrics(struct req *r)
{
	struct server *srv = r->srv;
	struct cv_buf b = { 0 };
	struct api_gauges g = {
		.vault_id = cv_vault_id(srv->v),
		.locked = srv->guard ? cv_guard_nlocked(srv->guard) : 0,
		.sessions = cv_sessions_active(srv->sessions, cv_time_us()),
		.requests = __atomic_load_n(&srv->requests, __ATOMIC_RELAXED),
		.refused = __atomic_load_n(&srv->refused, __ATOMIC_RELAXED),
		.hsm_up = !__atomic_load_n(&srv->hsm_lost, __ATOMIC_ACQUIRE),
	};
	cv_err e;

	r->action = "metrics";
	if (cv_audit_size(srv->a, &g.audit_entries) != CV_OK)
		g.audit_entries = 0;
	if (srv->syslog_counts_fd > 0) {
		uint8_t c[CV_SYSLOG_COUNTS_BYTES];

		/* One pread of what the supervisor wrote in one pwrite. */
		if (pread(srv->syslog_counts_fd, c, sizeof c, 0) ==
		    (ssize_t)sizeof c && cv_get_u64be(c) == 1) {
			g.syslog = 1;
			g.syslog_sent = cv_get_u64be(c + 8);
			g.syslog_unsent = cv_get_u64be(c + 16);
			g.syslog_refused = cv_get_u64be(c + 24);
		}
	}
	if ((e = api_metrics_render(srv->metrics, &g, &b)) != CV_OK) {
		cv_buf_free(&b);
		return api_internal(r, e);
	}
	return api_reply(r, 200, CV_AUDIT_ALLOWED,
	    "text/plain; version=0.0.4", &b);
}

enum MHD_Result
api_openapi(struct req *r)
{
	struct cv_buf b = { 0 };

	r->action = "openapi";
	if (cv_buf_add(&b, cv_openapi_json, strlen(cv_openapi_json)) != CV_OK)
		return api_internal(r, CV_ERR_NOMEM);
	return api_reply(r, 200, CV_AUDIT_ALLOWED, "application/json", &b);
}
