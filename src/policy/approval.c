/*
 * Two-person control. Whatever gives someone the power to read a record
 * they could not read before (a new account, a role, a bigger budget, an
 * enabled account, a reader or record added to a case) is a proposal by
 * one person that takes effect only when a second, different person of the
 * owning role approves it. Each step is an audit entry made durable inside
 * the transaction that records it, so the database never holds a decision
 * the log does not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "policy.h"

static const struct {
	const char *kind;
	enum cv_role proposer;	/* the role that proposes */
	int user_subject;	/* SUBJECT names a user */
} kinds[] = {
	{ "user.create", CV_ROLE_ADMIN, 1 },
	{ "user.role", CV_ROLE_ADMIN, 1 },
	{ "user.budget", CV_ROLE_ADMIN, 1 },
	{ "user.enable", CV_ROLE_ADMIN, 1 },
	{ "case.members", CV_ROLE_SECURITY_OFFICER, 0 },
	/* made by the read path, reviewed by an officer */
	{ "break_glass", CV_ROLE__COUNT, 1 },
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

static int
kind_index(const char *kind)
{
	for (size_t i = 0; i < NKINDS; i++) {
		if (strcmp(kinds[i].kind, kind) == 0)
			return (int)i;
	}
	return -1;
}

static int
role_arg(json_t *args)
{
	json_t *j = json_object_get(args, "role");

	return json_is_string(j) ? cv_role_parse(json_string_value(j)) : -1;
}

/* Budgets as stored: soft m/h/d then hard m/h/d, soft <= hard. */
static int
budget_arg(json_t *args, uint32_t out[static CV_STORE_BUDGET_N], int *clear)
{
	json_t *b = json_object_get(args, "budget"), *it;
	size_t i;

	*clear = json_is_null(b);
	if (*clear)
		return 1;
	if (!json_is_array(b) || json_array_size(b) != CV_STORE_BUDGET_N)
		return 0;
	json_array_foreach(b, i, it) {
		if (!json_is_integer(it) || json_integer_value(it) < 0 ||
		    json_integer_value(it) > 100000000)
			return 0;
		out[i] = (uint32_t)json_integer_value(it);
	}
	for (i = 0; i < 3; i++) {
		if (out[i] > out[i + 3])
			return 0;
	}
	return 1;
}

#define MAX_MEMBERS CV_POLICY_MAX_MEMBERS

/* Every entry of ARRAY (may be NULL) a string that CHECK accepts. MIXED:
 * a stored proposal's records, with the canaries mixed in when it was
 * made (1 + m / 50 for m records), which may pass MAX_MEMBERS by those. */
static cv_err
each(struct cv_store *s, json_t *array, int record, int mixed)
{
	struct cv_store_user u;
	json_t *it;
	uint32_t ver;
	size_t i;

	if (array == NULL)
		return CV_OK;
	if (!json_is_array(array) || json_array_size(array) >
	    (mixed ? MAX_MEMBERS + 1 + MAX_MEMBERS / 50 : MAX_MEMBERS))
		return cv_fail(CV_ERR_INVALID, "members must be lists of at "
		    "most %d", MAX_MEMBERS);
	json_array_foreach(array, i, it) {
		const char *v = json_string_value(it);
		if (v == NULL || (record ? cv_store_version(s, v, &ver) :
		    cv_store_user_get(s, v, &u)) != CV_OK)
			return cv_fail(CV_ERR_INVALID, "an entry of %s is not "
			    "a%s", record ? "records" : "users", record ?
			    " record" : " user");
	}
	return CV_OK;
}

/* Would the change be valid now? Checked at proposal and again at
 * approval (STORED: the proposal as kept, canaries mixed in), since the
 * world may have moved in between. */
static cv_err
validate(struct cv_store *s, const char *kind, const char *subject,
    json_t *args, int stored)
{
	struct cv_store_user u;
	uint32_t b[CV_STORE_BUDGET_N];
	int clear, have;
	cv_err r;

	if (!json_is_object(args))
		return cv_fail(CV_ERR_INVALID, "arguments must be an object");
	if (!strcmp(kind, "case.members")) {
		json_t *users = json_object_get(args, "users");
		json_t *recs = json_object_get(args, "records");
		if (cv_store_case_exists(s, subject) != CV_OK)
			return cv_fail(CV_ERR_NOT_FOUND, "no such case");
		if (json_array_size(users) + json_array_size(recs) == 0)
			return cv_fail(CV_ERR_INVALID, "nothing to add");
		if ((r = each(s, users, 0, 0)) != CV_OK ||
		    (r = each(s, recs, 1, stored)) != CV_OK)
			return r;
		return CV_OK;
	}
	if (!cv_auth_valid_name(subject))
		return cv_fail(CV_ERR_INVALID, "not a user name");
	have = cv_store_user_get(s, subject, &u) == CV_OK;
	if (!strcmp(kind, "user.create")) {
		int live = 0, all = 0;
		if (role_arg(args) < 0)
			return cv_fail(CV_ERR_INVALID, "no such role");
		if (have && (r = cv_store_cert_count(s, subject, &live,
		    &all)) != CV_OK)
			return r;
		if (live > 0)
			return cv_fail(CV_ERR_EXISTS, "user '%s' exists",
			    subject);
		return CV_OK;
	}
	if (!have)
		return cv_fail(CV_ERR_NOT_FOUND, "no user '%.64s'", subject);
	if (!strcmp(kind, "user.role")) {
		int ro = role_arg(args);
		if (ro < 0)
			return cv_fail(CV_ERR_INVALID, "no such role");
		if (!strcmp(cv_role_names[ro], u.role))
			return cv_fail(CV_ERR_EXISTS, "'%s' has that role "
			    "already", subject);
	} else if (!strcmp(kind, "user.budget")) {
		if (!budget_arg(args, b, &clear))
			return cv_fail(CV_ERR_INVALID, "budget: six numbers, "
			    "soft then hard per minute, hour, day, soft <= "
			    "hard; or null for the role's");
	} else if (!strcmp(kind, "user.enable")) {
		if (!u.disabled)
			return cv_fail(CV_ERR_EXISTS, "'%s' is enabled",
			    subject);
	}
	return CV_OK;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Records added to a case bring canaries along, one per 50 (at least
 * one), so that whoever sweeps a case meets a decoy. They join the
 * proposal itself, the list sorted: a case's members and the proposals
 * that made them, both in vault.db, must not differ by the canaries
 * (issue 17). ARGS is replaced by a copy that holds them.
 */
static cv_err
mix_canaries(struct cv_vault *v, json_t **args)
{
	json_t *recs = json_object_get(*args, "records"), *copy = NULL, *list;
	const char **all = NULL;
	char **ids = NULL;
	size_t n = 0, k, m, i;
	cv_err e;

	if (!json_is_array(recs) || (m = json_array_size(recs)) == 0)
		return CV_OK;
	if ((e = cv_vault_canaries(v, &ids, &n)) != CV_OK)
		return e;
	k = n ? 1 + m / 50 : 0;
	e = CV_ERR_NOMEM;
	if ((all = calloc(m + k, sizeof *all)) == NULL ||
	    (copy = json_deep_copy(*args)) == NULL ||
	    (list = json_array()) == NULL ||
	    json_object_set_new(copy, "records", list) != 0)
		goto out;
	for (i = 0; i < m; i++)
		all[i] = json_string_value(json_array_get(recs, i));
	for (i = 0; i < k; i++)
		all[m + i] = ids[randombytes_uniform((uint32_t)n)];
	qsort(all, m + k, sizeof *all, cmp_str);
	for (i = 0; i < m + k; i++) {
		if (all[i] == NULL || (i && !strcmp(all[i], all[i - 1])))
			continue;	/* validate() refuses a non-string */
		if (json_array_append_new(list, json_string(all[i])) != 0)
			goto out;
	}
	*args = copy;
	copy = NULL;	/* transferred */
	e = CV_OK;
 out:
	json_decref(copy);
	free(all);
	free(ids);
	return e;
}

cv_err
cv_policy_propose(struct cv_store *s, struct cv_vault *v,
    const struct cv_actor *by,
    const char *kind, const char *subject, json_t *args_in, int64_t now_us,
    cv_policy_audit_fn *audit, void *ctx, int64_t *id, uint64_t *index)
{
	struct cv_store_proposal p;
	json_t *args = args_in;
	char reason[256], *text = NULL;
	int k = kind_index(kind);
	cv_err r;

	*id = 0;
	*index = 0;
	memset(&p, 0, sizeof p);
	if (k < 0 || kinds[k].proposer == CV_ROLE__COUNT)
		return cv_fail(CV_ERR_INVALID, "not a kind of proposal");
	if (by->role != kinds[k].proposer)
		return cv_fail(CV_ERR_AUTH, "only %ss propose %s",
		    cv_role_names[kinds[k].proposer], kind);
	if (strlen(subject) >= sizeof p.subject)
		return cv_fail(CV_ERR_INVALID, "subject too long");
	if ((r = validate(s, kind, subject, args, 0)) != CV_OK)
		return r;
	if (!strcmp(kind, "case.members") &&
	    (r = mix_canaries(v, &args)) != CV_OK)
		return r;
	text = json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS);
	if (args != args_in)
		json_decref(args);
	if (text == NULL)
		return CV_ERR_NOMEM;
	snprintf(p.kind, sizeof p.kind, "%s", kind);
	snprintf(p.subject, sizeof p.subject, "%s", subject);
	snprintf(p.proposer, sizeof p.proposer, "%s", by->name);
	p.args = text;
	p.created_us = now_us;
	p.expires_us = now_us + (int64_t)CV_PROPOSAL_TTL_S * 1000000;
	if ((r = cv_store_begin(s)) != CV_OK)
		goto out;
	if ((r = cv_store_proposal_add(s, &p, id)) != CV_OK)
		goto fail;
	snprintf(reason, sizeof reason, "proposal %lld: %s %s %.120s; needs "
	    "a second person", (long long)*id, kind, subject, text);
	/* Durable before the proposal exists. */
	if ((r = audit(ctx, reason, index)) != CV_OK ||
	    (r = cv_store_proposal_index(s, *id, *index)) != CV_OK ||
	    (r = cv_store_commit(s)) != CV_OK)
		goto fail;
	goto out;
 fail:
	cv_store_rollback(s);
	*id = 0;
 out:
	free(text);
	return r;
}

static cv_err
apply(struct cv_store *s, const struct cv_store_proposal *p, json_t *args,
    int64_t now_us, struct cv_approval *out)
{
	uint32_t b[CV_STORE_BUDGET_N];
	json_t *it;
	size_t i;
	int clear, changed;
	cv_err r = CV_OK;

	if (!strcmp(p->kind, "user.create"))
		return cv_auth_user_create(s, p->subject,
		    (enum cv_role)role_arg(args), now_us, out->code);
	if (!strcmp(p->kind, "user.role"))
		return cv_store_user_set_role(s, p->subject,
		    cv_role_names[role_arg(args)]);
	if (!strcmp(p->kind, "user.budget")) {
		if (!budget_arg(args, b, &clear))
			return cv_fail(CV_ERR_INVALID, "bad budget");
		return cv_store_budget_set(s, p->subject, clear ? NULL : b);
	}
	if (!strcmp(p->kind, "user.enable"))
		return cv_store_user_disable(s, p->subject, 0);
	if (!strcmp(p->kind, "case.members")) {
		json_t *users = json_object_get(args, "users");
		json_t *recs = json_object_get(args, "records");
		json_array_foreach(users, i, it) {
			if (r == CV_OK)
				r = cv_store_case_member(s, p->subject, 0,
				    json_string_value(it), 1, &changed);
		}
		json_array_foreach(recs, i, it) {
			if (r == CV_OK)
				r = cv_store_case_member(s, p->subject, 1,
				    json_string_value(it), 1, &changed);
		}
		return r;
	}
	return CV_OK;	/* break_glass: a review changes nothing here */
}

/* Is NAME among the users a proposal would give read power to? */
static int
is_subject(const struct cv_store_proposal *p, json_t *args, const char *name)
{
	json_t *it;
	size_t i;

	if (kinds[kind_index(p->kind)].user_subject)
		return !strcmp(p->subject, name);
	json_array_foreach(json_object_get(args, "users"), i, it) {
		if (!strcmp(json_string_value(it), name))
			return 1;
	}
	return 0;
}

/* Signals for the security office (alerts), after an approval. */
static cv_err
signals(struct cv_store *s, const struct cv_store_proposal *p,
    const char *approver, int64_t now_us, struct cv_approval *out)
{
	time_t t = (time_t)(now_us / 1000000);
	struct tm tm;
	int n = 0, m;
	cv_err r;

	localtime_r(&t, &tm);
	if (tm.tm_wday == 0 || tm.tm_wday == 6 ||
	    tm.tm_hour < CV_WORK_HOUR_FROM || tm.tm_hour >= CV_WORK_HOUR_TO)
		out->alerts |= CV_APPROVAL_OFF_HOURS;
	if (!strncmp(p->kind, "user.", 5)) {
		int64_t since = now_us - (int64_t)CV_BURST_WINDOW_S * 1000000;
		if ((r = cv_store_proposal_count(s, "user.create", NULL, since,
		    &n)) != CV_OK ||
		    (r = cv_store_proposal_count(s, "user.role", NULL, since,
		    &m)) != CV_OK)
			return r;
		n += m;
		if ((r = cv_store_proposal_count(s, "user.enable", NULL, since,
		    &m)) != CV_OK)
			return r;
		if (n + m >= CV_BURST_ACCOUNTS)
			out->alerts |= CV_APPROVAL_BURST;
	}
	if ((r = cv_store_proposal_count(s, NULL, approver, now_us -
	    86400LL * 1000000, &n)) != CV_OK)
		return r;
	if (n >= CV_BUSY_APPROVER)
		out->alerts |= CV_APPROVAL_BUSY;
	return CV_OK;
}

cv_err
cv_policy_decide(struct cv_store *s, const struct cv_actor *by, int64_t id,
    int approve, int64_t now_us, cv_policy_audit_fn *audit, void *ctx,
    struct cv_approval *out)
{
	struct cv_store_proposal *p = &out->p;
	json_t *args = NULL;
	char reason[256];
	int officers = 0, began = 0;
	cv_err r;

	memset(out, 0, sizeof *out);
	if ((r = cv_store_begin(s)) != CV_OK)
		return r;
	began = 1;
	if ((r = cv_store_proposal_get(s, id, p)) != CV_OK)
		goto out;
	if (strcmp(p->state, "pending") != 0) {
		out->refusal = CV_REFUSE_DECIDED;
		r = cv_fail(CV_ERR_EXISTS, "proposal %lld is %s already",
		    (long long)id, p->state);
		goto out;
	}
	if ((args = json_loads(p->args, JSON_REJECT_DUPLICATES, NULL)) ==
	    NULL || kind_index(p->kind) < 0) {
		r = cv_fail(CV_ERR_FORMAT, "proposal %lld is malformed",
		    (long long)id);
		goto out;
	}
	/* Withdrawing one's own proposal needs nobody else; but a
	 * break-glass review is the reader's own, and not the reader's to
	 * close. */
	if (!approve && !strcmp(by->name, p->proposer) &&
	    kinds[kind_index(p->kind)].proposer != CV_ROLE__COUNT)
		goto decided;
	if (by->role != CV_ROLE_SECURITY_OFFICER) {
		out->refusal = CV_REFUSE_ROLE;
		r = cv_fail(CV_ERR_AUTH, "only security officers decide "
		    "proposals");
	} else if (!strcmp(by->name, p->proposer)) {
		out->refusal = CV_REFUSE_SELF;
		r = cv_fail(CV_ERR_AUTH, "the proposer cannot decide its own "
		    "proposal");
	} else if (is_subject(p, args, by->name)) {
		out->refusal = CV_REFUSE_SUBJECT;
		r = cv_fail(CV_ERR_AUTH, "a proposal about you needs another "
		    "officer");
	} else if (now_us > p->expires_us) {
		out->refusal = CV_REFUSE_EXPIRED;
		r = cv_fail(CV_ERR_AUTH, "proposal %lld expired", (long long)id);
		/* Kept expired: it can never be approved later. */
		if (cv_store_proposal_decide(s, id, "expired", "", now_us) ==
		    CV_OK && cv_store_commit(s) == CV_OK)
			began = 0;
	} else if ((r = cv_store_user_count_role(s,
	    cv_role_names[CV_ROLE_SECURITY_OFFICER], 1, &officers)) == CV_OK &&
	    officers < 2) {
		out->refusal = CV_REFUSE_QUORUM;
		r = cv_fail(CV_ERR_AUTH, "fewer than two security officers "
		    "can act: nothing can be approved");
	}
	if (r != CV_OK)
		goto out;
	if (approve && (r = validate(s, p->kind, p->subject, args, 1)) !=
	    CV_OK)
		goto out;
 decided:
	if ((r = cv_store_proposal_decide(s, id, approve ? "approved" :
	    "rejected", by->name, now_us)) != CV_OK)
		goto out;
	if (approve && ((r = apply(s, p, args, now_us, out)) != CV_OK ||
	    (r = signals(s, p, by->name, now_us, out)) != CV_OK))
		goto out;
	snprintf(reason, sizeof reason, "%s proposal %lld (audit index %lld) "
	    "by %.64s: %s %s", approve ? "approved" : "rejected",
	    (long long)id, (long long)p->audit_index, p->proposer, p->kind,
	    p->subject);
	/* Durable before the change is committed. */
	if ((r = audit(ctx, reason, &out->index)) != CV_OK ||
	    (r = cv_store_commit(s)) != CV_OK)
		goto out;
	began = 0;
	snprintf(p->state, sizeof p->state, "%s", approve ? "approved" :
	    "rejected");
	snprintf(p->approver, sizeof p->approver, "%s", by->name);
	p->decided_us = now_us;
 out:
	if (began)
		cv_store_rollback(s);
	json_decref(args);
	if (r != CV_OK)
		sodium_memzero(out->code, sizeof out->code);
	return r;
}

void
cv_approval_clear(struct cv_approval *a)
{
	cv_store_proposal_clear(&a->p);
	sodium_memzero(a->code, sizeof a->code);
}

cv_err
cv_policy_break_glass(struct cv_store *s, const char *user, const char *rid,
    const char *reason, int64_t now_us, int64_t *id)
{
	struct cv_store_proposal p;
	json_t *args = json_pack("{s:s, s:s}", "record", rid, "reason",
	    reason);
	cv_err r;

	*id = 0;
	memset(&p, 0, sizeof p);
	if (args == NULL || (p.args = json_dumps(args, JSON_COMPACT |
	    JSON_SORT_KEYS)) == NULL) {
		json_decref(args);
		return CV_ERR_NOMEM;
	}
	json_decref(args);
	snprintf(p.kind, sizeof p.kind, "break_glass");
	snprintf(p.subject, sizeof p.subject, "%s", user);
	snprintf(p.proposer, sizeof p.proposer, "%s", user);
	p.created_us = now_us;
	p.expires_us = now_us + (int64_t)CV_BREAK_GLASS_REVIEW_S * 1000000;
	r = cv_store_proposal_add(s, &p, id);
	free(p.args);
	return r;
}
