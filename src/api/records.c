/* Records and cases: need-to-know and per-role sections. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "../policy/policy.h"
#include "api_internal.h"

#define MAX_MEMBERS CV_POLICY_MAX_MEMBERS

/* The ?purpose= argument, if it is a case id at all; NULL otherwise, so
 * that no stranger string reaches the log. */
static const char *
purpose_arg(struct req *r, int *bad)
{
	const char *p = MHD_lookup_connection_value(r->conn,
	    MHD_GET_ARGUMENT_KIND, "purpose");

	*bad = p != NULL && !cv_policy_valid_case_id(p);
	return *bad ? NULL : p;
}


enum MHD_Result
api_json(struct req *r, unsigned status, json_t *j)
{
	struct cv_buf b = { 0 };
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	/* S may hold a token, a TOTP URI: wiped (cv_free_wiped). */
	if (s == NULL || cv_buf_add(&b, s, strlen(s)) != CV_OK) {
		cv_free_wiped(s);
		return api_internal(r, CV_ERR_NOMEM);
	}
	cv_free_wiped(s);
	return api_reply(r, status, CV_AUDIT_ALLOWED, "application/json", &b);
}

struct sections {
	unsigned mask;
	int bad;
};

static enum MHD_Result
collect_section(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct sections *s = cls;
	int i;

	(void)kind;
	if (strcmp(key, "section") != 0)
		return MHD_YES;
	if (value == NULL || (i = cv_record_section_index(value)) < 0)
		s->bad = 1;
	else
		s->mask |= 1u << i;
	return MHD_YES;
}

/* The guard, as the read path's gate (cv_core_admit): R's session. */
static cv_err
gate_reserve(void *ctx, const char *rid, int outside)
{
	struct req *r = ctx;

	(void)rid;	/* r->records names it */
	if (outside)	/* break-glass: for no case of the reader's */
		r->purpose = NULL;
	return api_guard_read(r, r->records, 1, 0, &r->gate_ret) ? CV_OK :
	    cv_fail(CV_ERR_AUTH, "refused by the guard");
}

static void
gate_settle(void *ctx, int left)
{
	api_guard_settle(ctx, left);
}

static void
gate_miss(void *ctx)
{
	api_guard_miss(ctx);
}

/*
 * Break-glass: a reader may open a record outside its cases by giving a
 * reason. Nothing is locked, but the security office is alerted at once
 * (critical), and the review the read path opened must be decided by
 * another officer in time, or the reader is locked (api_approvals_tick).
 */
static void
break_glass_alert(struct req *r, const char *why, int64_t review)
{
	struct cv_guard_alert *al;

	snprintf(r->reason, sizeof r->reason, "break-glass (review %lld): "
	    "%.200s", (long long)review, why);
	if (r->gd.nalerts == CV_GUARD_MAX_ALERTS)
		r->gd.nalerts--;	/* this one matters more */
	memmove(&r->gd.alerts[1], &r->gd.alerts[0],
	    r->gd.nalerts * sizeof r->gd.alerts[0]);
	r->gd.nalerts++;
	al = &r->gd.alerts[0];
	memset(al, 0, sizeof *al);
	al->severity = CV_GUARD_CRITICAL;
	snprintf(al->kind, sizeof al->kind, "break_glass");
	/* Raised before the record is known to exist (a break-glass probe
	 * of ids is as much the office's business as a read): "asked". */
	snprintf(al->detail, sizeof al->detail, "a record outside the "
	    "reader's cases was asked for by break-glass (review %lld)",
	    (long long)review);
}

/* A break-glass read: on the log before its data leaves, and its review
 * names that entry; keyd decrypts under that entry. */
static enum MHD_Result
break_glass_read(struct req *r, struct cv_store *db, const char *id)
{
	struct cv_core_pass *p = r->pass;
	struct cv_buf out = { 0 };
	uint64_t index = 0;
	uint32_t ver;
	cv_err e;

	/* Known before the entry, so that the log does not say "allowed"
	 * for a read that cannot return anything. */
	if ((e = cv_store_state(db, id, &ver)) != CV_OK) {
		cv_core_pass_free(p);	/* nothing will leave */
		r->pass = NULL;
	}
	if (e == CV_ERR_NOT_FOUND)
		return api_problem(r, 404, CV_AUDIT_DENIED, "not found",
		    "no such record");
	if (e == CV_ERR_SHREDDED)
		return api_problem(r, 410, CV_AUDIT_DENIED, "gone",
		    "the record was shredded");
	if (e != CV_OK)
		return api_internal(r, e);
	r->pass = NULL;	/* spent below, whatever happens */
	if ((e = api_audit_now(r, CV_AUDIT_ALLOWED, &index)) != CV_OK ||
	    (e = cv_store_proposal_index(db,
	    cv_core_pass_review(p), index)) != CV_OK) {
		cv_core_pass_free(p);
		p = NULL;
	}
	if (p && (e = cv_core_read_under(r->srv->kd, p, index, &out)) ==
	    CV_OK)	/* durable already: it leaves now */
		return api_reply(r, 200, CV_AUDIT_ALLOWED, "application/json",
		    &out);
	cv_buf_free(&out);
	if (r->preaudited) {	/* the entry is there: no data */
		r->sections = 0;
		if (e == CV_ERR_QUORUM) {	/* keyd's policy */
			snprintf(r->reason, sizeof r->reason, "%s",
			    cv_err_detail()[0] ? cv_err_detail() :
			    cv_strerror(e));
			return api_problem(r, 503, CV_AUDIT_DENIED,
			    "reads refused", r->reason);
		}
		return e == CV_ERR_SHREDDED ? api_problem(r, 410,
		    CV_AUDIT_ERROR, "gone", "the record was shredded") :
		    api_internal(r, e);
	}
	return api_problem(r, 503, CV_AUDIT_ERROR, "audit log unavailable",
	    "the request could not be recorded; nothing was returned");
}

/* GET /v1/records/ID: through the one read path (src/core). */
enum MHD_Result
api_record_get(struct req *r, const char *id)
{
	struct cv_vault *v = api_vault(r->srv);
	struct sections want = { 0, 0 };
	struct cv_core_reader who = { .user = r->who.user,
	    .role = r->who.role };
	struct cv_core_gate gate = { .reserve = gate_reserve,
	    .settle = gate_settle, .miss = gate_miss, .ctx = r };
	struct cv_core_ask ask = { .rid = id };
	enum cv_core_refusal why;
	int badp;
	cv_err e;

	r->action = "records.get";
	if ((r->purpose = purpose_arg(r, &badp)) == NULL && badp)
		return api_problem(r, 400, CV_AUDIT_DENIED, "bad request",
		    "purpose is not a case id");
	if (!cv_record_valid_id(id))
		return api_problem(r, 400, CV_AUDIT_DENIED, "bad request",
		    "not a record id");
	r->one[0] = id;
	r->records = r->one;
	r->nrecords = 1;
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND,
	    collect_section, &want);
	if (want.bad)
		return api_problem(r, 400, CV_AUDIT_DENIED, "bad request",
		    "unknown section");
	if (v == NULL)
		return api_internal(r, CV_ERR_STORE);
	ask.sections = want.mask;
	ask.purpose = r->purpose;
	ask.break_glass = MHD_lookup_connection_value(r->conn,
	    MHD_GET_ARGUMENT_KIND, "break_glass");
	/* A break-glass read writes its review: out of the read snapshot
	 * first. */
	if (ask.break_glass)
		api_read_end(r);
	if ((e = cv_core_admit(v, &who, &ask, &gate, &r->pass, &why)) !=
	    CV_OK) {
		if (why != CV_CORE_GUARD)
			snprintf(r->reason, sizeof r->reason, "%s",
			    cv_err_detail());
		switch (why) {
		case CV_CORE_NO_READS:
		case CV_CORE_SECTION:
			return api_forbidden(r, cv_err_detail());
		case CV_CORE_NOT_IN_CASE:
			return api_forbidden(r, "no case of yours holds this "
			    "record");
		case CV_CORE_BAD_REASON:
			return api_problem(r, 400, CV_AUDIT_DENIED,
			    "bad request", cv_err_detail());
		case CV_CORE_GUARD:
			return r->gate_ret;
		default:
			return api_internal(r, e);
		}
	}
	r->sections = cv_core_pass_sections(r->pass);
	if (cv_core_pass_review(r->pass)) {
		break_glass_alert(r, ask.break_glass,
		    cv_core_pass_review(r->pass));
		return break_glass_read(r, api_store(r->srv), id);
	}
	/* keyd: the record decrypted, its entry durable, then only these
	 * sections; a record it cannot return is refused before the entry
	 * (read_failed). */
	return api_reply_read(r);
}

/* {"title": "..."} -> a new case. */
enum MHD_Result
api_case_create(struct req *r)
{
	struct cv_store *db = api_store(r->srv);
	char title[201], id[CV_CASE_ID_MAX + 1];
	cv_err e;

	r->action = "cases.create";
	if (!cv_policy_allows(r->who.role, CV_PERM_MANAGE_CASES))
		return api_forbidden(r, "only security officers manage cases");
	if (!api_body_case(&r->body, title))
		return api_problem(r, 400, CV_AUDIT_DENIED, "bad request",
		    "expected {\"title\": \"...\"} (1-200 bytes)");
	e = db ? cv_policy_case_create(db, title, r->who.user,
	    cv_time_us(), id) : CV_ERR_STORE;
	if (e != CV_OK)
		return api_internal(r, e);
	snprintf(r->case_id, sizeof r->case_id, "%s", id);
	r->purpose = r->case_id;
	return api_json(r, 201, json_pack("{s:s}", "id", id));
}

/* The strings of JSON array A (borrowed from it), in *OUT (free()). */
static cv_err
strings(json_t *a, const char ***out, size_t *n)
{
	json_t *it;
	size_t i;

	*n = json_array_size(a);
	if ((*out = calloc(*n ? *n : 1, sizeof **out)) == NULL)
		return CV_ERR_NOMEM;
	json_array_foreach(a, i, it)
		(*out)[i] = json_string_value(it);
	return CV_OK;
}

/*
 * {"users": [...], "records": [...]}: adding is a proposal that a second
 * security officer approves (POST /v1/approvals/{id}/approve); removing
 * takes power away and happens at once (cv_policy_case_remove).
 */
enum MHD_Result
api_case_members(struct req *r, const char *id, int add)
{
	struct cv_store *db = api_store(r->srv);
	const char **us = NULL, **rs = NULL;
	size_t nu = 0, nr = 0;
	json_t *j, *users, *recs;
	int changed = 0;
	enum MHD_Result ret;
	cv_err e;

	r->action = add ? "cases.members.add" : "cases.members.remove";
	r->purpose = cv_policy_valid_case_id(id) ? id : NULL;
	if (!cv_policy_allows(r->who.role, CV_PERM_MANAGE_CASES))
		return api_forbidden(r, "only security officers manage cases");
	if (!cv_policy_valid_case_id(id))
		return api_problem(r, 400, CV_AUDIT_DENIED, "bad request",
		    "not a case id");
	if (db == NULL)
		return api_internal(r, CV_ERR_STORE);
	if (cv_store_case_exists(db, id) != CV_OK)
		return api_problem(r, 404, CV_AUDIT_DENIED, "not found",
		    "no such case");
	if (!api_body_members(&r->body, &users, &recs, &j))
		return api_problem(r, 400, CV_AUDIT_DENIED, "bad request",
		    "expected {\"users\": [...], \"records\": [...]}");
	if (add)
		return api_propose(r, "case.members", id, j);
	if ((e = strings(users, &us, &nu)) == CV_OK &&
	    (e = strings(recs, &rs, &nr)) == CV_OK)
		e = cv_policy_case_remove(db, id, us, nu, rs, nr,
		    &changed);
	free(us);
	free(rs);
	if (e == CV_ERR_INVALID) {
		char d[200];

		snprintf(d, sizeof d, "%s", cv_err_detail());
		json_decref(j);
		return api_problem(r, 400, CV_AUDIT_DENIED, "bad request", d);
	}
	if (e != CV_OK) {
		json_decref(j);
		return api_internal(r, e);
	}
	snprintf(r->reason, sizeof r->reason, "%zu users, %zu records, %d "
	    "changed", nu, nr, changed);
	json_decref(j);
	ret = api_json(r, 200, json_pack("{s:s, s:i}", "id", id, "changed",
	    changed));
	return ret;
}

struct found {
	struct cv_store *s;
	const struct cv_guard *guard;
	const char *user, *purpose;
	json_t *ids;
	size_t n;
	char canary[CV_RECORD_ID_MAX + 1];	/* one outside the case */
};

static int
keep_if_allowed(void *ctx, const char *id)
{
	struct found *f = ctx;

	/* Search results are filtered by need-to-know like reads. */
	if (cv_store_case_allows(f->s, f->purpose, f->user, id) == CV_OK) {
		json_array_append_new(f->ids, json_string(id));
		f->n++;
	} else if (f->guard && !f->canary[0] &&
	    cv_guard_is_canary(f->guard, id)) {
		snprintf(f->canary, sizeof f->canary, "%s", id);
	}
	return f->n >= MAX_MEMBERS;
}

/*
 * Search by blind index: the key string is made here, its keyed hash by
 * keyd (the blind-index key stays there), the lookup in the store.
 */
static cv_err
find(struct req *r, struct cv_store *db, const char *ssn, const char *last,
    const char *dob, struct found *f)
{
	char key[CV_RECORD_NAME_KEY_MAX > CV_RECORD_SSN_KEY_MAX ?
	    CV_RECORD_NAME_KEY_MAX : CV_RECORD_SSN_KEY_MAX];
	uint8_t bi[CV_BIDX_BYTES];
	enum cv_bidx_kind kind = ssn ? CV_BIDX_SSN : CV_BIDX_NAME;
	cv_err e;

	if ((e = ssn ? cv_record_ssn_key(ssn, key) :
	    cv_record_name_key(last, dob, key)) == CV_OK &&
	    (e = cv_keyd_blind_index(r->srv->kd, kind, key, strlen(key),
	    bi)) == CV_OK)
		e = cv_store_find(db, kind, bi, keep_if_allowed,
		    f);
	sodium_memzero(key, sizeof key);
	return e;
}

enum MHD_Result
api_record_search(struct req *r)
{
	struct cv_store *db = api_store(r->srv);
	const char *ssn = MHD_lookup_connection_value(r->conn,
	    MHD_GET_ARGUMENT_KIND, "ssn");
	const char *last = MHD_lookup_connection_value(r->conn,
	    MHD_GET_ARGUMENT_KIND, "last");
	const char *dob = MHD_lookup_connection_value(r->conn,
	    MHD_GET_ARGUMENT_KIND, "dob");
	struct found f = { 0 };
	const char **ids;
	enum MHD_Result ret;
	int badp;
	cv_err e;

	r->action = "records.search";
	if ((r->purpose = purpose_arg(r, &badp)) == NULL && badp)
		return api_problem(r, 400, CV_AUDIT_DENIED, "bad request",
		    "purpose is not a case id");
	if (!cv_policy_allows(r->who.role, CV_PERM_READ_RECORDS) ||
	    cv_policy_sections(r->who.role) == 0)
		return api_forbidden(r, "this role reads no record data");
	if ((ssn == NULL) == (last == NULL && dob == NULL) ||
	    (!ssn && (!last || !dob)) || (ssn && !cv_record_valid_ssn(ssn)) ||
	    (dob && !cv_record_valid_date(dob)))
		return api_problem(r, 400, CV_AUDIT_DENIED, "bad request",
		    "search by ssn=NNN-NN-NNNN, or last=NAME&dob=YYYY-MM-DD");
	if (r->purpose == NULL || db == NULL ||
	    cv_store_case_exists(db, r->purpose) != CV_OK)
		return api_forbidden(r, "a purpose (an existing case id) is "
		    "required");
	if ((f.ids = json_array()) == NULL)
		return api_internal(r, CV_ERR_NOMEM);
	f.s = db;
	f.guard = r->srv->guard;
	f.user = r->who.user;
	f.purpose = r->purpose;
	e = find(r, db, ssn, last, dob, &f);
	if (e != CV_OK) {
		json_decref(f.ids);
		return e == CV_ERR_INVALID ? api_problem(r, 400,
		    CV_AUDIT_DENIED, "bad request", cv_err_detail()) :
		    api_internal(r, e);
	}
	/* Every id returned is named in the entry, for breach scoping. */
	if ((ids = calloc(f.n + 1, sizeof *ids)) == NULL) {
		json_decref(f.ids);
		return api_internal(r, CV_ERR_NOMEM);
	}
	for (size_t i = 0; i < f.n; i++)
		ids[i] = json_string_value(json_array_get(f.ids, i));
	r->records = ids;
	r->nrecords = f.n;
	/*
	 * A canary outside the caller's cases that answers to the search is
	 * read, for the guard, like one inside (issue 17): a sweep of the
	 * blind indexes trips it though it returns nothing. Not when the
	 * search found a record of the case: that is a look-up of one's own
	 * subject, whose name and birth date a canary may share.
	 */
	if (f.canary[0] && f.n == 0)
		ids[f.n] = f.canary;
	if (!api_guard_read(r, ids, f.n + (f.canary[0] && f.n == 0), 1,
	    &ret)) {
		/* Refused: nothing was returned, so the entry names none. */
		r->records = NULL;
		r->nrecords = 0;
	} else {
		/* The search terms are personal data: only their kind is
		 * logged. */
		size_t at = strlen(r->reason);
		snprintf(r->reason + at, sizeof r->reason - at, "%sby %s, %zu "
		    "found", at ? "; " : "", ssn ? "SSN" : "name and birth date",
		    f.n);
		ret = api_json(r, 200, json_pack("{s:O}", "ids", f.ids));
	}
	r->records = NULL;
	free(ids);
	json_decref(f.ids);
	return ret;
}

/*
 * The id of the record in R's body, which must be valid (as `load` and
 * keyd validate it) and, for a PUT, be PATH_ID's: 0 with the reason in
 * DETAIL otherwise. Nothing is counted or stored for a body refused here.
 */
static int
body_id(struct req *r, const char *path_id, char id[CV_RECORD_ID_MAX + 1],
    char *detail, size_t size)
{
	struct cv_record_fields f;
	struct cv_record_error re;
	int ok;

	memset(&re, 0, sizeof re);
	if (cv_record_scan((const char *)r->body.p, r->body.len, &f, &re) !=
	    CV_OK) {
		snprintf(detail, size, "field %s: %s", re.path, re.reason);
		return 0;
	}
	snprintf(id, CV_RECORD_ID_MAX + 1, "%s", f.id);
	/* The fields hold the record's SSN and name. */
	sodium_memzero(&f, sizeof f);
	if ((ok = path_id == NULL || strcmp(path_id, id) == 0) == 0)
		snprintf(detail, size, "field id: does not match the record "
		    "being written");
	return ok;
}

/*
 * A record the writer may not touch: the same 403 whether it exists
 * outside the writer's cases or not at all, so that writes are no oracle
 * of what exists elsewhere; counted by the guard as a miss (enumeration),
 * as a refused read is. The log says what happened.
 */
static enum MHD_Result
write_refused(struct req *r, const char *why)
{
	snprintf(r->reason, sizeof r->reason, "%s", why);
	api_guard_miss(r);
	return api_forbidden(r, "no case of yours holds this record");
}

/*
 * POST of an id that exists: a conflict for a writer whose case holds
 * it (they may read it anyway), otherwise refused like any record
 * outside their cases.
 */
static enum MHD_Result
create_exists(struct req *r, struct cv_store *s, const char *id)
{
	cv_err e = cv_store_case_allows(s, r->purpose, r->who.user, id);

	if (e == CV_OK)
		return api_problem(r, 409, CV_AUDIT_DENIED, "conflict",
		    "a record with this id exists; PUT it instead");
	if (e != CV_ERR_NOT_FOUND)
		return api_internal(r, e);
	return write_refused(r, "create refused: a record with this id "
	    "exists outside the writer's cases");
}

/*
 * POST /v1/records?purpose=CASE creates a record and adds it to the case;
 * PUT /v1/records/{id}?purpose=CASE stores a new version (the one it
 * replaces is kept, store/versions.c). Readers of records in a case that
 * holds them may write them; the body is the whole record, validated as
 * `load` validates. A write counts against the writer's budgets as a read
 * of that record does: the guard decides it first (step-up, lock,
 * canary), so a session stopped for reading writes nothing either.
 */
enum MHD_Result
api_record_put(struct req *r, const char *path_id)
{
	struct cv_store *db = api_store(r->srv);
	struct cv_store *s;
	char id[CV_RECORD_ID_MAX + 1], detail[400];
	uint32_t version = 0, current;
	enum MHD_Result ret;
	int changed, badp;
	size_t at;
	cv_err e;

	r->action = path_id ? "records.update" : "records.create";
	if ((r->purpose = purpose_arg(r, &badp)) == NULL && badp)
		return api_problem(r, 400, CV_AUDIT_DENIED, "bad request",
		    "purpose is not a case id");
	if (path_id && !cv_record_valid_id(path_id))
		return api_problem(r, 400, CV_AUDIT_DENIED, "bad request",
		    "not a record id");
	if (path_id) {
		r->one[0] = path_id;
		r->records = r->one;
		r->nrecords = 1;
	}
	if (!cv_policy_allows(r->who.role, CV_PERM_READ_RECORDS) ||
	    r->who.role == CV_ROLE_SECURITY_OFFICER)
		return api_forbidden(r, "only investigators and adjudicators "
		    "write records");
	/* An update replaces the whole record: a role that does not read
	 * every section (an investigator: not the adjudication) would
	 * overwrite what it cannot see, or drop it. */
	if (path_id && cv_policy_sections(r->who.role) !=
	    (1u << CV_RECORD_NSECTIONS) - 1)
		return api_forbidden(r, "an update replaces the whole record, "
		    "and this role does not read all of it: adjudicators "
		    "update records");
	if (db == NULL)
		return api_internal(r, CV_ERR_STORE);
	if (r->purpose == NULL)
		return api_forbidden(r, "a purpose (a case of yours) is required");
	s = db;
	if (!path_id && (cv_store_case_exists(s, r->purpose) != CV_OK ||
	    cv_store_case_has_user(s, r->purpose, r->who.user) != CV_OK))
		/* The writer must belong to the case the record joins. */
		return api_forbidden(r, "a purpose (a case of yours) is "
		    "required");
	if (!body_id(r, path_id, id, detail, sizeof detail))
		return api_problem(r, 422, CV_AUDIT_DENIED, "invalid record",
		    detail);
	r->one[0] = id;
	r->records = r->one;
	r->nrecords = 1;
	if (path_id && (e = cv_policy_need_to_know(s, r->who.user, r->purpose,
	    id)) != CV_OK)
		return e == CV_ERR_AUTH ? write_refused(r, cv_err_detail()) :
		    api_internal(r, e);
	e = cv_store_state(s, id, &current);
	if (!path_id && (e == CV_OK || e == CV_ERR_SHREDDED))
		return create_exists(r, s, id);
	if (path_id && e == CV_ERR_NOT_FOUND)
		return api_problem(r, 404, CV_AUDIT_DENIED, "not found",
		    "no such record");
	if (path_id && e == CV_ERR_SHREDDED)
		/* Shredded is for good: no new version brings it back. */
		return api_problem(r, 410, CV_AUDIT_DENIED, "gone",
		    "the record was shredded");
	if (e != CV_OK && e != CV_ERR_NOT_FOUND)
		return api_internal(r, e);
	if (!api_guard_read(r, r->records, 1, 0, &ret))
		return ret;
	/* Sealed by keyd, under a data key made there. */
	e = cv_keyd_put(r->srv->kd, path_id, path_id != NULL,
	    (const char *)r->body.p, r->body.len, id, &version);
	if (e != CV_OK)
		api_guard_settle(r, 0);	/* nothing was written */
	if (e == CV_ERR_INVALID) {
		snprintf(detail, sizeof detail, "%s", cv_err_detail());
		return api_problem(r, 422, CV_AUDIT_DENIED, "invalid record",
		    detail);
	}
	if (e == CV_ERR_EXISTS)	/* made meanwhile */
		return create_exists(r, s, id);
	if (e == CV_ERR_NOT_FOUND)
		return api_problem(r, 404, CV_AUDIT_DENIED, "not found",
		    "no such record");
	if (e != CV_OK)
		return api_internal(r, e);
	if (!path_id && (e = cv_store_case_member(s, r->purpose, 1, id, 1,
	    &changed)) != CV_OK)
		return api_internal(r, e);
	at = strlen(r->reason);
	snprintf(r->reason + at, sizeof r->reason - at, "%sversion %u",
	    at ? "; " : "", version);
	ret = api_json(r, path_id ? 200 : 201, json_pack("{s:s, s:i}", "id",
	    id, "version", (int)version));
	/* ID lives on this stack: the entry has been taken already. */
	r->records = NULL;
	r->nrecords = 0;
	return ret;
}
