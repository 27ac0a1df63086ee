/* Routes: login, sessions, health. Each handler ends in one reply. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "../policy/policy.h"
#include "api_internal.h"

#define reply_json api_json

static char *
iso8601(int64_t us, char *out, size_t size)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return out;
}

/* A lock row another node wrote (a PostgreSQL vault); a store that
 * cannot say counts as locked. */
static int
shared_locked(struct req *r)
{
	struct cv_store *db = api_store(r->srv);
	int locked = 0;

	if (db == NULL)
		return 1;
	if (!cv_store_shared(db))
		return 0;
	return cv_store_guard_locked(db, r->who.user, &locked) != CV_OK ||
	    locked;
}

/* The user of R's certificate has the role "metrics" (*U filled). */
static int
metrics_cert(struct req *r, struct cv_store *db, struct cv_store_user *u)
{
	return db != NULL && r->cert[0] != '\0' &&
	    cv_auth_cert_user(db, r->cert, u) == CV_OK &&
	    cv_role_parse(u->role) == CV_ROLE_METRICS;
}

/*
 * GET /metrics by a monitoring system: its certificate alone (a scraper
 * types no TOTP code), of a user of the role "metrics", which may do
 * nothing else. Anyone else needs a session, as for any route.
 */
static enum MHD_Result
scrape(struct req *r)
{
	struct cv_store *db = api_store(r->srv);
	struct cv_store_user u;

	r->action = "metrics";
	if (db == NULL)
		return api_problem(r, 503, CV_AUDIT_ERROR, "unavailable",
		    "the vault cannot be reached");
	if (!metrics_cert(r, db, &u)) {
		api_read_end(r);
		return api_problem(r, 401, CV_AUDIT_DENIED, "unauthorized",
		    "no bearer token, and the certificate is not a metrics "
		    "account's");
	}
	api_read_end(r);
	snprintf(r->who.user, sizeof r->who.user, "%s", u.name);
	r->who.role = CV_ROLE_METRICS;
	return api_metrics(r);
}

static enum MHD_Result
login(struct req *r)
{
	struct cv_store *db = api_store(r->srv);
	struct cv_store_user u;
	char token[CV_TOKEN_CHARS + 1] = "", when[32], code[7] = "";
	enum MHD_Result ret;
	cv_err e;

	r->action = "session.create";
	if (db == NULL)
		return api_problem(r, 503, CV_AUDIT_ERROR, "unavailable",
		    "the vault cannot be reached");
	if (metrics_cert(r, db, &u)) {
		snprintf(r->who.user, sizeof r->who.user, "%s", u.name);
		snprintf(r->reason, sizeof r->reason, "login refused: a "
		    "metrics account has no sessions");
		return api_problem(r, 403, CV_AUDIT_DENIED, "forbidden",
		    "a metrics account scrapes GET /metrics with its "
		    "certificate and has no sessions");
	}
	if (!api_body_login(&r->body, code))
		return api_problem(r, 400, CV_AUDIT_DENIED, "bad request",
		    "expected {\"totp\": \"123456\"}");
	e = cv_sessions_login(r->srv->sessions, db, r->cert, code, cv_time_us(),
	    token, &r->who);
	if (e != CV_OK) {
		/* The client learns only that it failed, or to wait; the log
		 * gets the reason. */
		snprintf(r->reason, sizeof r->reason, "login refused: %s",
		    cv_err_detail());
		ret = e == CV_ERR_LIMIT ? api_problem(r, 429, CV_AUDIT_DENIED,
		    "too many requests", "too many failed logins; try again "
		    "later") : api_problem(r, 401, CV_AUDIT_DENIED,
		    "unauthorized", "login refused");
	} else if (api_guard_locked(r->srv, r->who.user) ||
	    shared_locked(r)) {
		/* Locked until two officers say otherwise: no new session. */
		api_end_sessions(r->srv, api_store(r->srv), r->who.user);
		snprintf(r->reason, sizeof r->reason, "login refused: locked");
		ret = api_problem(r, 403, CV_AUDIT_DENIED, "locked",
		    "this account is locked; ask the security office");
	} else {
		snprintf(r->reason, sizeof r->reason, "login");
		ret = reply_json(r, 201, json_pack("{s:s, s:s}", "token", token,
		    "expires_at", iso8601(r->who.expires_us, when,
		    sizeof when)));
	}
	/* The server keeps only the token's hash (session.c); the code is
	 * spent. */
	sodium_memzero(token, sizeof token);
	sodium_memzero(code, sizeof code);
	return ret;
}

/* A failure of ours (the database, memory, the disk, the token), not a
 * refusal of the caller: 503, and no session is ended for it. */
static int
unavailable(cv_err e)
{
	return e == CV_ERR_STORE || e == CV_ERR_NOMEM || e == CV_ERR_IO ||
	    e == CV_ERR_HSM;
}

/*
 * The bearer token, checked against the certificate and the user: 1 yes,
 * 0 no (401), -1 not known now (503; found by tests/fault: a failed
 * database read had been a 401 that also ended the user's sessions).
 */
static int
authenticate(struct req *r)
{
	struct cv_store *db = api_store(r->srv);
	struct cv_store_user u;
	const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	cv_err e;

	if (h == NULL || strncmp(h, "Bearer ", 7) != 0) {
		snprintf(r->reason, sizeof r->reason, "no bearer token");
		return 0;
	}
	if (db == NULL)
		return -1;
	if ((e = cv_sessions_check(r->srv->sessions, db, h + 7, r->cert,
	    cv_time_us(), &r->who)) != CV_OK) {
		snprintf(r->reason, sizeof r->reason, "%s", cv_err_detail());
		return unavailable(e) ? -1 : 0;
	}
	/* A metrics account has no sessions (login refuses it); one made
	 * elsewhere (a node of an older release) is refused here too. */
	if (r->who.role == CV_ROLE_METRICS) {
		snprintf(r->reason, sizeof r->reason, "a metrics account's "
		    "session");
		return 0;
	}
	/* Disabling or revoking takes effect at once, without a restart. */
	if ((e = cv_auth_cert_user(db, r->cert, &u)) != CV_OK) {
		snprintf(r->reason, sizeof r->reason, "%s", cv_err_detail());
		api_read_end(r);
		if (unavailable(e))
			return -1;
		api_end_sessions(r->srv, api_store(r->srv), r->who.user);
		return 0;
	}
	return 1;
}

/* POST /v1/session/step-up {"totp": "123456"}: past the soft budgets. */
static enum MHD_Result
step_up(struct req *r)
{
	struct cv_store *db = api_store(r->srv);
	const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	char code[7], when[32];
	cv_err e;

	r->action = "session.step-up";
	if (db == NULL)
		return api_internal(r, CV_ERR_STORE);
	if (!api_body_login(&r->body, code))
		return api_problem(r, 400, CV_AUDIT_DENIED, "bad request",
		    "expected {\"totp\": \"123456\"}");
	e = cv_sessions_step_up(r->srv->sessions, db, h + 7, r->cert, code,
	    cv_time_us(), &r->who);
	if (e != CV_OK) {
		snprintf(r->reason, sizeof r->reason, "step-up refused: %s",
		    cv_err_detail());
		return e == CV_ERR_LIMIT ? api_problem(r, 429, CV_AUDIT_DENIED,
		    "too many requests", "too many failed codes; try again "
		    "later") : api_problem(r, 401, CV_AUDIT_DENIED,
		    "unauthorized", "step-up refused");
	}
	snprintf(r->reason, sizeof r->reason, "stepped up");
	return reply_json(r, 200, json_pack("{s:s}", "stepped_up_until",
	    iso8601(r->who.stepped_up_us + (int64_t)CV_STEP_UP_S * 1000000,
	    when, sizeof when)));
}

static enum MHD_Result
whoami(struct req *r)
{
	unsigned mask = cv_policy_sections(r->who.role);
	json_t *secs = json_array();
	char when[32];

	r->action = "session.get";
	/* The sections this role reads: what the console's forms show. */
	for (int i = 0; secs && i < CV_RECORD_NSECTIONS; i++) {
		if (mask & (1u << i))
			json_array_append_new(secs,
			    json_string(cv_record_sections[i]));
	}
	if (secs == NULL)
		return api_internal(r, CV_ERR_NOMEM);
	return reply_json(r, 200, json_pack("{s:s, s:s, s:s, s:s, s:o}", "user",
	    r->who.user, "role", cv_role_names[r->who.role], "session",
	    r->who.session, "expires_at", iso8601(r->who.expires_us, when,
	    sizeof when), "sections", secs));
}

/* GET /v1/records/ID, the route below. */
static int
is_record_read(const struct req *r)
{
	return !strncmp(r->url, "/v1/records/", 12) &&
	    strchr(r->url + 12, '/') == NULL;
}

enum MHD_Result
api_route(struct req *r)
{
	int get = !strcmp(r->method, "GET"), post = !strcmp(r->method, "POST");
	int auth;

	if (!strcmp(r->url, "/healthz")) {
		r->action = "healthz";
		if (!get)
			return api_problem(r, 405, CV_AUDIT_DENIED,
			    "method not allowed", "GET only");
		return reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
	}
	if (!strcmp(r->url, "/v1/session") && post)
		return login(r);
	if (!strcmp(r->url, "/v1/enrol")) {
		r->action = "users.enrol";
		if (!post)
			return api_problem(r, 405, CV_AUDIT_DENIED,
			    "method not allowed", "POST only");
		return api_enrol(r);
	}
	r->action = "request";
	/* A GET only reads: all of its queries in one read transaction;
	 * but a record's read asks the database one question (need to
	 * know: the certificate's rows are a memo kept by the epoch, the
	 * session is in memory), and on PostgreSQL a transaction around it
	 * is two more statements than the question (docs/scale-out.md). */
	if (get && !is_record_read(r)) {
		struct cv_store *db = api_store(r->srv);
		if (db && cv_store_read_begin(db) == CV_OK)
			r->txn = db;
	}
	/* The console's files: before any session, as its login page. */
	if (get && api_console_path(r->url))
		return api_console(r);
	if (!strcmp(r->url, "/metrics") && get &&
	    MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION) == NULL)
		return scrape(r);
	if ((auth = authenticate(r)) < 0) {
		char detail[300];
		snprintf(detail, sizeof detail, "503 sessions unavailable: %s",
		    r->reason);
		snprintf(r->reason, sizeof r->reason, "%s", detail);
		return api_problem(r, 503, CV_AUDIT_ERROR, "unavailable",
		    "the session cannot be checked now; try again");
	}
	if (auth == 0) {
		char detail[300];
		snprintf(detail, sizeof detail, "%s", r->reason);
		r->reason[0] = '\0';
		return api_problem(r, 401, CV_AUDIT_DENIED, "unauthorized",
		    detail);
	}
	if (!strcmp(r->url, "/v1/session") && get)
		return whoami(r);
	if (!strcmp(r->url, "/v1/session") && !strcmp(r->method, "DELETE")) {
		/* Signing out ends every session of the user, on every
		 * node: one left open elsewhere is the one to worry about. */
		r->action = "session.delete";
		api_read_end(r);
		api_end_sessions(r->srv, api_store(r->srv), r->who.user);
		snprintf(r->reason, sizeof r->reason, "signed out");
		return reply_json(r, 200, json_pack("{s:b}", "ended", 1));
	}
	if (!strcmp(r->url, "/v1/session/step-up") && post)
		return step_up(r);
	if (!strcmp(r->url, "/v1/alerts") && get)
		return api_alerts(r);
	if (!strncmp(r->url, "/v1/users/", 10) && post) {
		const char *slash = strchr(r->url + 10, '/');
		char name[CV_USER_NAME_MAX + 1];
		size_t n = slash ? (size_t)(slash - r->url - 10) : 0;
		if (slash && !strcmp(slash, "/unlock") && n > 0 &&
		    n <= CV_USER_NAME_MAX) {
			memcpy(name, r->url + 10, n);
			name[n] = '\0';
			if (!cv_auth_valid_name(name))
				return api_problem(r, 400, CV_AUDIT_DENIED,
				    "bad request", "not a user name");
			return api_unlock(r, name);
		}
	}
	if (get && is_record_read(r))
		return api_record_get(r, r->url + 12);
	if (!strcmp(r->url, "/metrics") && get)
		return api_metrics(r);
	if (!strcmp(r->url, "/v1/openapi.json") && get)
		return api_openapi(r);
	if (!strcmp(r->url, "/v1/approvals") ||
	    !strncmp(r->url, "/v1/approvals/", 14))
		return api_approvals(r, r->url + 13);
	if (!strncmp(r->url, "/v1/users", 9))
		return api_users(r, r->url + 9);
	if (!strcmp(r->url, "/v1/records") && get)
		return api_record_search(r);
	if (!strcmp(r->url, "/v1/records") && post)
		return api_record_put(r, NULL);
	if (!strncmp(r->url, "/v1/records/", 12) && !strcmp(r->method, "PUT") &&
	    strchr(r->url + 12, '/') == NULL)
		return api_record_put(r, r->url + 12);
	if (!strncmp(r->url, "/v1/audit/", 10) && get)
		return api_audit(r, r->url + 10);
	if (!strcmp(r->url, "/checkpoint") || !strncmp(r->url, "/tile/", 6))
		return api_tlog(r);
	if (!strcmp(r->url, "/v1/cases") && post)
		return api_case_create(r);
	if (!strcmp(r->url, "/v1/cases") && get)
		return api_cases_list(r);
	if (!strncmp(r->url, "/v1/cases/", 10) && get &&
	    strchr(r->url + 10, '/') == NULL)
		return api_case_get(r, r->url + 10);
	if (get && !strcmp(r->url, "/v1/locks"))
		return api_locks(r);
	if (get && !strcmp(r->url, "/v1/scope"))
		return api_scope(r);
	if (get && !strcmp(r->url, "/v1/reads"))
		return api_reads(r);
	if (get && !strcmp(r->url, "/v1/drills/latest"))
		return api_drill_latest(r);
	if (!strncmp(r->url, "/v1/cases/", 10)) {
		char id[64];
		const char *slash = strchr(r->url + 10, '/');
		int del = !strcmp(r->method, "DELETE");
		if (slash && !strcmp(slash, "/members") && (post || del) &&
		    (size_t)(slash - r->url - 10) < sizeof id) {
			memcpy(id, r->url + 10, (size_t)(slash - r->url - 10));
			id[slash - r->url - 10] = '\0';
			return api_case_members(r, id, post);
		}
	}
	return api_problem(r, 404, CV_AUDIT_DENIED, "not found",
	    "no such endpoint");
}
