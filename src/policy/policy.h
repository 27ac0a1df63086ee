/*
 * Who may do what: the sections each role may read (enforced by
 * decrypting only those), the endpoints each role may call, and
 * need-to-know through cases.
 */
#ifndef CV_POLICY_H
#define CV_POLICY_H

#include "../auth/users.h"
#include "../guard/guard.h"
#include "../vault/vault.h"

enum cv_permission {
	CV_PERM_READ_RECORDS,	/* records of one's cases */
	CV_PERM_MANAGE_CASES,	/* create cases, add and remove members */
	CV_PERM_READ_AUDIT,
	CV_PERM_MANAGE_USERS,
	CV_PERM_GUARD,		/* read alerts; approve unlocking a user */
	CV_PERM__COUNT
};

/* Bit i: section cv_record_sections[i] may be decrypted for ROLE. */
unsigned cv_policy_sections(enum cv_role role);

int cv_policy_allows(enum cv_role role, enum cv_permission p);

/* ROLE's read budgets (README table); all zero for roles that read no
 * record data. */
void cv_policy_budget(enum cv_role role, struct cv_guard_limits *out);

/*
 * The records an hour a member of ROLE on the read budgets LIM (the
 * role's or the user's own, before probation) reads at a usual pace: the
 * guard's behaviour default for a user without a baseline whose peers
 * have none either (cv_guard_read.usual_hour). The role's pace, scaled by
 * LIM's soft hour against the role's: a budget raised by two people
 * raises it too. At least 1; 0 for roles that read nothing.
 */
uint32_t cv_policy_usual_hour(enum cv_role role,
    const struct cv_guard_limits *lim);

/*
 * A new account's probation budgets: each of *LIM's limits becomes a
 * quarter of itself, rounded down but at least 1 (a limit of 0 stays 0:
 * probation never loosens anything). Soft <= hard still holds.
 */
void cv_policy_probation(struct cv_guard_limits *lim);

/*
 * The account created at CREATED_US (UTC microseconds) is on probation at
 * NOW_US: younger than DAYS days (DAYS 0: probation is off). A creation
 * time after NOW_US (a clock set back, a test clock) counts as young: the
 * stricter reading.
 */
int cv_policy_on_probation(int64_t created_us, int64_t now_us,
    uint32_t days);

/*
 * USER may read record RID for case PURPOSE: the case exists and holds
 * both. CV_OK, or CV_ERR_AUTH with a detail saying which check failed.
 */
cv_err cv_policy_need_to_know(struct cv_store *s, const char *user,
    const char *purpose, const char *rid) CV_MUST_CHECK;

/* ---- two-person control (approval.c) ------------------------------- */

#include <jansson.h>

/* Who acts: a server user, or the operator at the command line
 * ("cli:OSUSER", acting as an administrator). */
struct cv_actor {
	const char *name;
	enum cv_role role;
};

#define CV_PROPOSAL_TTL_S (72 * 3600)	/* pending proposals expire */
#define CV_BREAK_GLASS_REVIEW_S (4 * 3600) /* reviewed by then, or locked */
/* Alerts: approvals outside these local hours or on a weekend; this many
 * accounts created, re-roled or enabled within the window; an approver
 * deciding this many proposals in a day. */
#define CV_WORK_HOUR_FROM 7
#define CV_WORK_HOUR_TO 19
#define CV_BURST_WINDOW_S 3600
#define CV_BURST_ACCOUNTS 3
#define CV_BUSY_APPROVER 10

/*
 * Writes the audit entry of a proposal or decision with REASON and waits
 * until it is durable; its index in *INDEX. Called inside the store
 * transaction that records the step: if it fails, nothing is recorded.
 */
typedef cv_err cv_policy_audit_fn(void *ctx, const char *reason,
    uint64_t *index);

/*
 * BY proposes a change of KIND to SUBJECT with ARGS (borrowed):
 *   user.create  SUBJECT a new user name, {"role": R}
 *   user.role    SUBJECT a user, {"role": R}
 *   user.budget  SUBJECT a user, {"budget": [sm, sh, sd, hm, hh, hd]} or
 *                {"budget": null} (back to the role's)
 *   user.enable  SUBJECT a disabled user, {}
 *   case.members SUBJECT a case id, {"users": [...], "records": [...]}
 * Administrators propose user changes, security officers case changes.
 * Nothing changes until cv_policy_decide approves it; in store S, with V
 * only for its canary list (mixed into grants). *ID is the
 * proposal, *INDEX the audit entry AUDIT wrote. CV_ERR_AUTH (wrong role),
 * CV_ERR_INVALID, CV_ERR_NOT_FOUND, CV_ERR_EXISTS (nothing to change), with
 * the reason in the detail; then nothing is written.
 */
cv_err cv_policy_propose(struct cv_store *s, struct cv_vault *v,
    const struct cv_actor *by,
    const char *kind, const char *subject, json_t *args, int64_t now_us,
    cv_policy_audit_fn *audit, void *ctx, int64_t *id,
    uint64_t *index) CV_MUST_CHECK;

enum cv_refusal {
	CV_REFUSE_NONE,
	CV_REFUSE_ROLE,		/* only security officers decide */
	CV_REFUSE_SELF,		/* the proposer cannot approve */
	CV_REFUSE_SUBJECT,	/* nor the person it would empower */
	CV_REFUSE_EXPIRED,
	CV_REFUSE_DECIDED,	/* approved or rejected already (a replay) */
	CV_REFUSE_QUORUM,	/* fewer than two officers can act */
};

#define CV_APPROVAL_OFF_HOURS 1u
#define CV_APPROVAL_BURST 2u
#define CV_APPROVAL_BUSY 4u

struct cv_approval {
	struct cv_store_proposal p;	/* as decided */
	enum cv_refusal refusal;	/* why it was refused */
	/* user.create: the new account's one-time enrolment code, for the
	 * approver to hand to the person out of band (secret; the proposer
	 * never sees it). */
	char code[CV_ENROL_CODE_CHARS + 1];
	unsigned alerts;		/* CV_APPROVAL_* raised */
	uint64_t index;			/* the decision's audit entry */
};

/*
 * BY approves (APPROVE) or rejects proposal ID. Approval needs a security
 * officer who is neither the proposer nor a person the change empowers,
 * a proposal still pending and not expired, and at least two enrolled
 * security officers; the change is checked again and applied in the same
 * transaction as the decision and its audit entry (which names the
 * proposal's own entry index). The proposer may withdraw (reject) its own.
 * *out says what happened (caller clears with cv_approval_clear).
 * CV_ERR_NOT_FOUND; CV_ERR_EXISTS when already decided; CV_ERR_AUTH with
 * out->refusal; errors of the change itself (CV_ERR_INVALID...).
 */
cv_err cv_policy_decide(struct cv_store *s, const struct cv_actor *by,
    int64_t id, int approve, int64_t now_us, cv_policy_audit_fn *audit,
    void *ctx, struct cv_approval *out) CV_MUST_CHECK;
void cv_approval_clear(struct cv_approval *a);

/*
 * Break-glass: USER read record RID outside its cases, giving REASON. A
 * review (a "break_glass" proposal, *ID) is opened that a security officer
 * other than USER must decide within CV_BREAK_GLASS_REVIEW_S.
 */
cv_err cv_policy_break_glass(struct cv_store *s, const char *user,
    const char *rid, const char *reason, int64_t now_us,
    int64_t *id) CV_MUST_CHECK;

/* Cases (cases.c). */
#define CV_CASE_ID_MAX 17	/* "CASE-" and 12 hex digits */
#define CV_POLICY_MAX_MEMBERS 1000	/* users or records one proposal names */

/* 1 if ID has the shape of a case id. */
int cv_policy_valid_case_id(const char *id);

/*
 * A new case TITLE (1-200 bytes) made by CREATOR, its id in ID. Who may
 * is the caller's check (a security officer). Members join by proposal
 * (cv_policy_propose, kind "case.members"), approved by a second officer.
 * CV_ERR_INVALID, CV_ERR_STORE.
 */
cv_err cv_policy_case_create(struct cv_store *s, const char *title,
    const char *creator, int64_t now_us,
    char id[static CV_CASE_ID_MAX + 1]) CV_MUST_CHECK;

/*
 * Takes USERS and RECORDS out of case CASE_ID at once (removing takes
 * power away: one person may). All or nothing; every name is checked
 * before anything changes. *CHANGED: how many memberships ended.
 * CV_ERR_INVALID (a name that is no user or record), CV_ERR_NOT_FOUND
 * (no such case), CV_ERR_STORE.
 */
cv_err cv_policy_case_remove(struct cv_store *s, const char *case_id,
    const char *const *users, size_t nusers, const char *const *records,
    size_t nrecords, int *changed) CV_MUST_CHECK;

#endif
