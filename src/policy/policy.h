/*
 * Who may do what: the sections each role may read (enforced by
 * decrypting only those), the endpoints each role may call, and
 * need-to-know through cases.
 */
#ifndef CV_POLICY_H
#define CV_POLICY_H

#include "../auth/users.h"
#include "../guard/guard.h"

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

#endif
