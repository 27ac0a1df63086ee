/*
 * What the web console shows that no other route did: the cases a user
 * works on, the users locked, the breach scope of a subject, a user's
 * reads over time and the latest drill report. Every one is a GET through
 * the same authentication, roles and audit log as the rest of the API.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../policy/policy.h"
#include "../scope/scope.h"
#include "api_internal.h"

static const char *
arg(struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND,
	    name);
}

/* A list being built; FAILED once an item could not be added (the walk
 * stops, and the reply is an error, never a list cut short). */
struct list {
	json_t *arr;
	int failed;
};

static int
add_case(void *ctx, const struct cv_store_case *c)
{
	struct list *l = ctx;
	char when[32];

	cv_scope_format_time(c->created_us, when, sizeof when);
	l->failed |= json_array_append_new(l->arr, json_pack("{s:s, s:s, s:s, "
	    "s:s, s:I, s:I}", "id", c->id, "title", c->title, "created_by",
	    c->created_by, "created_at", when, "users", (json_int_t)c->users,
	    "records", (json_int_t)c->records)) != 0;
	return l->failed;
}

/* E, or CV_ERR_NOMEM if L failed (a name or title not UTF-8 too). */
static cv_err
walked(cv_err e, const struct list *l)
{
	return e == CV_OK && l->failed ? cv_fail(CV_ERR_NOMEM, "a list could "
	    "not be made") : e;
}

/* GET /v1/cases: a security officer's, every case; a reader's, its own. */
enum MHD_Result
api_cases_list(struct req *r)
{
	struct cv_store *db = api_store(r->srv);
	int all = cv_policy_allows(r->who.role, CV_PERM_MANAGE_CASES);
	struct list l = { 0 };
	cv_err e;

	r->action = "cases.list";
	if (!all && !cv_policy_allows(r->who.role, CV_PERM_READ_RECORDS))
		return api_forbidden(r, "this role works on no cases");
	if (db == NULL)
		return api_internal(r, CV_ERR_STORE);
	if ((l.arr = json_array()) == NULL)
		return api_internal(r, CV_ERR_NOMEM);
	if ((e = walked(cv_store_case_list(db, all ? NULL : r->who.user, NULL,
	    add_case, &l), &l)) != CV_OK) {
		json_decref(l.arr);
		return api_internal(r, e);
	}
	return api_json(r, 200, json_pack("{s:o}", "cases", l.arr));
}

static int
add_member(void *ctx, const char *m)
{
	struct list *l = ctx;

	l->failed |= json_array_append_new(l->arr, json_string(m)) != 0;
	return l->failed;
}

/*
 * GET /v1/cases/{id}: its title, users and record ids, to a security
 * officer or to a member. Ids are not record data (a search returns them
 * too); reading one is a records.get of its own.
 */
enum MHD_Result
api_case_get(struct req *r, const char *id)
{
	struct cv_store *db = api_store(r->srv);
	int officer = cv_policy_allows(r->who.role, CV_PERM_MANAGE_CASES);
	struct list users = { 0 }, recs = { 0 }, one = { 0 };
	json_t *c;
	cv_err e;

	r->action = "cases.get";
	if (!cv_policy_valid_case_id(id))
		return api_problem(r, 400, CV_AUDIT_DENIED, "bad request",
		    "not a case id");
	r->purpose = id;
	if (!officer && !cv_policy_allows(r->who.role, CV_PERM_READ_RECORDS))
		return api_forbidden(r, "this role works on no cases");
	if (db == NULL)
		return api_internal(r, CV_ERR_STORE);
	/* One answer for "no such case" and "not yours": a reader learns
	 * nothing about the cases it is not on. */
	if (!officer && (e = cv_store_case_has_user(db, id, r->who.user)) !=
	    CV_OK)
		return e == CV_ERR_NOT_FOUND ? api_forbidden(r, "not a case "
		    "of yours") : api_internal(r, e);
	if ((users.arr = json_array()) == NULL ||
	    (recs.arr = json_array()) == NULL ||
	    (one.arr = json_array()) == NULL) {
		e = CV_ERR_NOMEM;
		goto fail;
	}
	if ((e = walked(cv_store_case_list(db, NULL, id, add_case, &one),
	    &one)) != CV_OK || (e = walked(cv_store_case_get(db, id, 0,
	    add_member, &users), &users)) != CV_OK || (e = walked(
	    cv_store_case_get(db, id, 1, add_member, &recs), &recs)) != CV_OK)
		goto fail;
	if ((c = json_array_get(one.arr, 0)) == NULL) {
		e = CV_ERR_NOT_FOUND;
		goto fail;
	}
	snprintf(r->reason, sizeof r->reason, "%zu user(s), %zu record(s)",
	    json_array_size(users.arr), json_array_size(recs.arr));
	json_object_del(c, "users");
	json_object_del(c, "records");
	/* json_object_set_new takes its value even when it fails. */
	e = json_object_set_new(c, "users", users.arr) != 0 ? CV_ERR_NOMEM :
	    CV_OK;
	users.arr = NULL;
	if (e == CV_OK && json_object_set_new(c, "records", recs.arr) != 0)
		e = CV_ERR_NOMEM;
	recs.arr = NULL;
	if (e != CV_OK)
		goto fail;
	json_incref(c);
	json_decref(one.arr);
	return api_json(r, 200, c);
 fail:
	json_decref(users.arr);
	json_decref(recs.arr);
	json_decref(one.arr);
	if (e == CV_ERR_NOT_FOUND)
		return api_problem(r, 404, CV_AUDIT_DENIED, "not found",
		    "no such case");
	return api_internal(r, e);
}

struct locks {
	struct server *srv;
	json_t *arr;
	int64_t now;
	int failed;
};

static int
add_if_locked(void *ctx, const struct cv_store_user *u)
{
	struct locks *l = ctx;
	struct cv_guard_user_info in;

	cv_guard_user_info(l->srv->guard, u->name, l->now, &in);
	if (!in.locked)
		return 0;
	l->failed |= json_array_append_new(l->arr, json_pack("{s:s, s:s, s:s, "
	    "s:b}", "user", u->name, "role", u->role, "reason", in.lock_reason,
	    "pending_approval", in.pending_approval)) != 0;
	return l->failed;
}

static void
add_lock_row(void *ctx, const char *user, const char *reason, int64_t since)
{
	struct locks *l = ctx;

	(void)since;
	for (size_t i = 0; i < json_array_size(l->arr); i++) {
		if (!strcmp(json_string_value(json_object_get(
		    json_array_get(l->arr, i), "user")), user))
			return;
	}
	l->failed |= json_array_append_new(l->arr, json_pack("{s:s, s:s, s:s, "
	    "s:b}", "user", user, "role", "", "reason", reason,
	    "pending_approval", 0)) != 0;
}

/*
 * GET /v1/locks: the users locked, for the security officers who unlock
 * them (two of them: POST /v1/users/{name}/unlock). This node's guard, and
 * on a PostgreSQL vault the lock rows every node obeys.
 */
enum MHD_Result
api_locks(struct req *r)
{
	struct cv_store *db = api_store(r->srv);
	struct locks l = { r->srv, NULL, api_guard_now(r->srv), 0 };
	cv_err e;

	r->action = "locks.list";
	if (!cv_policy_allows(r->who.role, CV_PERM_GUARD))
		return api_forbidden(r, "only security officers see locks");
	if (db == NULL)
		return api_internal(r, CV_ERR_STORE);
	if ((l.arr = json_array()) == NULL)
		return api_internal(r, CV_ERR_NOMEM);
	e = r->srv->guard == NULL ? CV_OK :
	    cv_store_user_list(db, add_if_locked, &l);
	if (e == CV_OK && cv_store_shared(db))
		e = cv_store_guard_locks(db, add_lock_row, &l);
	/* A locked user left off the officers' screen would stay locked
	 * unseen: no list rather than a short one. */
	if (e == CV_OK && l.failed)
		e = cv_fail(CV_ERR_NOMEM, "the list of locks could not be made");
	/* A PostgreSQL vault's approvals are rows, whichever node took
	 * them. */
	for (size_t i = 0; e == CV_OK && cv_store_shared(db) &&
	    i < json_array_size(l.arr); i++) {
		json_t *x = json_array_get(l.arr, i);
		int n = 0;

		e = cv_store_guard_unlock_pending(db, json_string_value(
		    json_object_get(x, "user")), (int64_t)CV_GUARD_APPROVAL_TTL_S
		    * 1000000, &n);
		if (e == CV_OK && n > 0)
			json_object_set_new(x, "pending_approval", json_true());
	}
	if (e != CV_OK) {
		json_decref(l.arr);
		return api_internal(r, e);
	}
	return api_json(r, 200, json_pack("{s:o, s:b}", "locks", l.arr,
	    "guard", r->srv->guard != NULL));
}

/* S is UTF-8 (jansson checks it) without control characters. */
static int
text_ok(const char *s)
{
	json_t *j = json_string(s);
	int ok = j != NULL;

	json_decref(j);
	for (; ok && *s; s++)
		ok = (unsigned char)*s >= 0x20 && *s != 0x7f;
	return ok;
}

/* ?kind=principal|cert|session|address&subject=...&from=&to=: *Q. */
static int
scope_query(struct req *r, struct cv_scope_query *q, char *why, size_t wn)
{
	const char *kind = arg(r, "kind"), *from = arg(r, "from"),
	    *to = arg(r, "to");
	static const char *const kinds[] = { "principal", "cert", "session",
	    "address" };

	memset(q, 0, sizeof *q);
	q->kind = kind == NULL ? CV_SCOPE_PRINCIPAL : 0;
	for (int i = 0; kind && i < 4; i++) {
		if (!strcmp(kind, kinds[i]))
			q->kind = (enum cv_scope_kind)(CV_SCOPE_PRINCIPAL + i);
	}
	q->subject = arg(r, "subject");
	q->from_us = INT64_MIN;
	q->to_us = INT64_MAX;
	q->last = UINT64_MAX;
	if (q->kind == 0) {
		snprintf(why, wn, "kind is one of principal, cert, session, "
		    "address");
		return 0;
	}
	if (q->subject == NULL || *q->subject == '\0' ||
	    strlen(q->subject) > 200 || !text_ok(q->subject)) {
		snprintf(why, wn, "subject= is required: up to 200 bytes of "
		    "UTF-8 text, no control characters");
		return 0;
	}
	if ((from && *from && cv_scope_parse_time(from, &q->from_us) !=
	    CV_OK) || (to && *to && cv_scope_parse_time(to, &q->to_us) !=
	    CV_OK) || q->from_us >= q->to_us) {
		snprintf(why, wn, "from= and to= are RFC 3339 UTC times or "
		    "dates, from before to");
		return 0;
	}
	return 1;
}

/* One scan of the whole log at a time per node (a scope verifies it
 * first, reads over time scan it): each holds a network thread while it
 * runs, and a second waits for nobody: 429. */
static pthread_mutex_t scope_mu = PTHREAD_MUTEX_INITIALIZER;

/*
 * GET /v1/scope: the records whose data was returned to a subject, the
 * same answer as `clearvault scope` (the log verified first, then the
 * same scan), as JSON or (format=csv) CSV. Audited as "scope", like the
 * command's; the subject may be personal (an address): only its kind is
 * logged.
 */
enum MHD_Result
api_scope(struct req *r)
{
	struct cv_scope_query q;
	struct cv_scope_result *res = NULL;
	struct cv_audit_report rep;
	const char *fmt = arg(r, "format");
	char why[200];
	struct cv_buf b = { 0 };
	char *text = NULL;
	size_t tlen = 0;
	FILE *f;
	int csv;
	cv_err e;

	r->action = "scope";
	if (!cv_policy_allows(r->who.role, CV_PERM_GUARD))
		return api_forbidden(r, "only security officers scope a breach");
	if (!scope_query(r, &q, why, sizeof why))
		return api_problem(r, 400, CV_AUDIT_DENIED, "bad request", why);
	if (fmt && strcmp(fmt, "json") && strcmp(fmt, "csv"))
		return api_problem(r, 400, CV_AUDIT_DENIED, "bad request",
		    "format is json or csv");
	csv = fmt && !strcmp(fmt, "csv");
	api_read_end(r);
	if (pthread_mutex_trylock(&scope_mu) != 0)
		return api_problem(r, 429, CV_AUDIT_DENIED, "too many requests",
		    "a scope is running on this node; try again when it is "
		    "done");
	e = cv_audit_verify(r->srv->a, NULL, NULL, 0, &rep);
	if (e == CV_ERR_AUTH) {
		char detail[300];
		struct cv_guard_alert al = { .severity = CV_GUARD_CRITICAL,
		    .kind = "audit_tampered" };

		pthread_mutex_unlock(&scope_mu);
		snprintf(detail, sizeof detail, "the audit log does not verify "
		    "(entry %llu: %s): no exact scope exists; run 'clearvault "
		    "audit verify'", (unsigned long long)rep.bad_index,
		    rep.what);
		/* Found while scoping a breach: the security office must
		 * hear of it at once, not only from this officer's screen. */
		snprintf(al.detail, sizeof al.detail, "the audit log does not "
		    "verify (entry %llu: %s), found by a breach scope",
		    (unsigned long long)rep.bad_index, rep.what);
		api_guard_alert(r->srv, r->who.user, r->who.session, r->source,
		    &al, 0, NULL, 0);
		return api_problem(r, 500, CV_AUDIT_ERROR, "internal error",
		    detail);
	}
	if (e == CV_OK) {
		q.last = rep.entries;
		e = cv_scope_run(r->srv->a, &q, &res);
	}
	pthread_mutex_unlock(&scope_mu);
	if (e != CV_OK)
		return api_internal(r, e);
	if ((f = open_memstream(&text, &tlen)) == NULL) {
		cv_scope_result_free(res);
		return api_internal(r, CV_ERR_NOMEM);
	}
	e = cv_scope_print(f, csv ? CV_SCOPE_CSV : CV_SCOPE_JSON, &q, res,
	    NULL);
	if (fclose(f) != 0 && e == CV_OK)
		e = CV_ERR_NOMEM;
	snprintf(r->reason, sizeof r->reason, "by %s: %zu record(s) found in "
	    "%llu entries", cv_scope_kind_name(q.kind), res->nrecords,
	    (unsigned long long)res->totals.scanned);
	cv_scope_result_free(res);
	if (e == CV_OK && cv_buf_add(&b, text, tlen) != CV_OK)
		e = CV_ERR_NOMEM;
	free(text);
	if (e != CV_OK) {
		cv_buf_free(&b);
		return api_internal(r, e);
	}
	return api_reply(r, 200, CV_AUDIT_ALLOWED, csv ? "text/csv" :
	    "application/json", &b);
}

#define SERIES_MAX 2400		/* 100 days by the hour */

/*
 * GET /v1/reads?user=NAME&days=N&bucket=hour|day: the records returned
 * to a user over the last N days (1 to 90, default 7), per hour or per
 * day, from the log (as scope counts them). For a chart, not for
 * evidence: the log is not verified first (scope does that).
 */
enum MHD_Result
api_reads(struct req *r)
{
	struct cv_scope_query q = { .kind = CV_SCOPE_PRINCIPAL,
	    .last = UINT64_MAX };
	const char *days_s = arg(r, "days"), *bucket = arg(r, "bucket");
	long days = days_s ? strtol(days_s, NULL, 10) : 7;
	int64_t step, now = cv_time_us();
	uint64_t *counts = NULL;
	char when[40];
	json_t *a = NULL;
	size_t n;
	cv_err e;

	r->action = "reads.series";
	if (!cv_policy_allows(r->who.role, CV_PERM_GUARD))
		return api_forbidden(r, "only security officers see a user's "
		    "reads");
	q.subject = arg(r, "user");
	if (q.subject == NULL || !cv_auth_valid_name(q.subject) ||
	    days < 1 || days > 90 || (days_s && strspn(days_s,
	    "0123456789") != strlen(days_s)) || (bucket &&
	    strcmp(bucket, "hour") && strcmp(bucket, "day")))
		return api_problem(r, 400, CV_AUDIT_DENIED, "bad request",
		    "user=NAME, days=1..90, bucket=hour|day");
	step = (bucket && !strcmp(bucket, "day") ? 86400LL : 3600LL) *
	    1000000;
	/* Whole buckets, the last one holding now. */
	q.to_us = (now / step + 1) * step;
	q.from_us = q.to_us - (int64_t)days * 86400 * 1000000;
	n = (size_t)((q.to_us - q.from_us) / step);
	if (n > SERIES_MAX)
		return api_problem(r, 400, CV_AUDIT_DENIED, "bad request",
		    "more than 2,400 buckets: use bucket=day");
	api_read_end(r);
	if ((counts = calloc(n, sizeof *counts)) == NULL ||
	    (a = json_array()) == NULL) {
		free(counts);
		return api_internal(r, CV_ERR_NOMEM);
	}
	if (pthread_mutex_trylock(&scope_mu) != 0) {
		free(counts);
		json_decref(a);
		return api_problem(r, 429, CV_AUDIT_DENIED, "too many requests",
		    "a scan of the log is running on this node; try again when "
		    "it is done");
	}
	e = cv_scope_series(r->srv->a, &q, step, counts, n);
	pthread_mutex_unlock(&scope_mu);
	if (e != CV_OK) {
		free(counts);
		json_decref(a);
		return api_internal(r, e);
	}
	for (size_t i = 0; i < n; i++) {
		cv_scope_format_time(q.from_us + (int64_t)i * step, when,
		    sizeof when);
		json_array_append_new(a, json_pack("{s:s, s:I}", "t", when,
		    "records", (json_int_t)counts[i]));
	}
	free(counts);
	snprintf(r->reason, sizeof r->reason, "reads of %s, %ld day(s)",
	    q.subject, days);
	return api_json(r, 200, json_pack("{s:s, s:I, s:o}", "user",
	    q.subject, "bucket_seconds", (json_int_t)(step / 1000000),
	    "series", a));
}

/* GET /v1/drills/latest: the report of the last `drill run --vault`. */
enum MHD_Result
api_drill_latest(struct req *r)
{
	struct cv_store *db = api_store(r->srv);
	struct cv_store_report rep;
	json_t *j;
	char when[40];
	cv_err e;

	r->action = "drills.latest";
	if (!cv_policy_allows(r->who.role, CV_PERM_GUARD) &&
	    !cv_policy_allows(r->who.role, CV_PERM_READ_AUDIT))
		return api_forbidden(r, "only security officers and auditors "
		    "see drill reports");
	if (db == NULL)
		return api_internal(r, CV_ERR_STORE);
	if ((e = cv_store_report_latest(db, &rep)) == CV_ERR_NOT_FOUND)
		return api_problem(r, 404, CV_AUDIT_DENIED, "not found",
		    "no drill report yet: run 'clearvault drill run all "
		    "--vault DIR'");
	if (e != CV_OK)
		return api_internal(r, e);
	cv_scope_format_time(rep.written_us, when, sizeof when);
	if ((j = json_loads(rep.report, 0, NULL)) == NULL) {
		cv_store_report_clear(&rep);
		return api_internal(r, cv_fail(CV_ERR_FORMAT, "the stored "
		    "drill report is not JSON"));
	}
	j = json_pack("{s:s, s:s, s:o, s:s}", "written_at", when, "written_by",
	    rep.by, "report", j, "svg", rep.svg);
	cv_store_report_clear(&rep);
	return api_json(r, 200, j);
}
