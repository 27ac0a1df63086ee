#include <string.h>

#include "policy.h"

#define ALL ((1u << CV_RECORD_NSECTIONS) - 1)
#define SEC(name) (1u << (name))
enum { IDENTITY, CONTACT, HISTORY, FAMILY, FOREIGN, FINANCIAL, CONDUCT,
	BIOMETRICS, ADJUDICATION };

/* The README's table; administrators and auditors read no record data. */
static const unsigned sections[CV_ROLE__COUNT] = {
	[CV_ROLE_INVESTIGATOR] = ALL & ~SEC(ADJUDICATION),
	[CV_ROLE_ADJUDICATOR] = ALL,
	[CV_ROLE_SECURITY_OFFICER] = SEC(IDENTITY),
	[CV_ROLE_AUDITOR] = 0,
	[CV_ROLE_ADMIN] = 0,
	[CV_ROLE_METRICS] = 0,
};

static const unsigned char perms[CV_ROLE__COUNT][CV_PERM__COUNT] = {
	[CV_ROLE_INVESTIGATOR] = { [CV_PERM_READ_RECORDS] = 1 },
	[CV_ROLE_ADJUDICATOR] = { [CV_PERM_READ_RECORDS] = 1 },
	[CV_ROLE_SECURITY_OFFICER] = { [CV_PERM_READ_RECORDS] = 1,
	    [CV_PERM_MANAGE_CASES] = 1, [CV_PERM_GUARD] = 1 },
	[CV_ROLE_AUDITOR] = { [CV_PERM_READ_AUDIT] = 1 },
	[CV_ROLE_ADMIN] = { [CV_PERM_MANAGE_USERS] = 1 },
};

/*
 * Distinct records per minute / hour / day, soft (a fresh TOTP to go on)
 * and hard (refused and locked). Sized for one person's casework: an
 * adjudicator reviews a few dozen files a day, reading each a few times
 * (re-reads are free). A thief holding a session but not the TOTP
 * secret is held, at any pace, by the session budget (clearvault.conf:
 * session_records), which a step-up alone renews.
 */
static const struct cv_guard_limits budgets[CV_ROLE__COUNT] = {
	[CV_ROLE_INVESTIGATOR] = { { 20, 120, 400 }, { 40, 240, 800 } },
	[CV_ROLE_ADJUDICATOR] = { { 20, 120, 400 }, { 40, 240, 800 } },
	[CV_ROLE_SECURITY_OFFICER] = { { 20, 100, 300 }, { 40, 200, 600 } },
	/* auditor and admin read no record data at all */
};

void
cv_policy_budget(enum cv_role role, struct cv_guard_limits *out)
{
	memset(out, 0, sizeof *out);
	if ((unsigned)role < CV_ROLE__COUNT)
		*out = budgets[role];
}

/*
 * A file every six minutes: well above a few dozen a day, so that only
 * bulk reading stands out (the guard's volume check needs four times the
 * expectation: more than 40 distinct records in an hour, a minute's hard
 * budget). Used only until someone of the role has a learnt baseline.
 */
static const uint32_t usual_hour[CV_ROLE__COUNT] = {
	[CV_ROLE_INVESTIGATOR] = 10,
	[CV_ROLE_ADJUDICATOR] = 10,
	[CV_ROLE_SECURITY_OFFICER] = 10,
};

uint32_t
cv_policy_usual_hour(enum cv_role role, const struct cv_guard_limits *lim)
{
	uint64_t u;

	if ((unsigned)role >= CV_ROLE__COUNT || usual_hour[role] == 0 ||
	    budgets[role].soft[CV_GUARD_HOUR] == 0)
		return 0;
	u = (uint64_t)usual_hour[role] * lim->soft[CV_GUARD_HOUR] /
	    budgets[role].soft[CV_GUARD_HOUR];
	return u > UINT32_MAX ? UINT32_MAX : u ? (uint32_t)u : 1;
}

/*
 * Probation: an account with no history reads on a quarter of its
 * budgets, so that an account made for the purpose (a fraudulent
 * enrolment, an insider's second identity) gets out a quarter as much
 * before the first step-up and lock. A quarter still leaves a new
 * adjudicator a working day's casework (100 distinct records a day).
 */
void
cv_policy_probation(struct cv_guard_limits *lim)
{
	for (int w = 0; w < CV_GUARD__WINDOWS; w++) {
		if (lim->soft[w])
			lim->soft[w] = lim->soft[w] / 4 ? lim->soft[w] / 4 : 1;
		if (lim->hard[w])
			lim->hard[w] = lim->hard[w] / 4 ? lim->hard[w] / 4 : 1;
	}
}

int
cv_policy_on_probation(int64_t created_us, int64_t now_us, uint32_t days)
{
	if (days == 0)
		return 0;
	if (created_us >= now_us)
		return 1;
	/* Unsigned: the difference of any two int64 values fits. */
	return (uint64_t)now_us - (uint64_t)created_us <
	    (uint64_t)days * 86400 * 1000000;
}

unsigned
cv_policy_sections(enum cv_role role)
{
	return (unsigned)role < CV_ROLE__COUNT ? sections[role] : 0;
}

int
cv_policy_allows(enum cv_role role, enum cv_permission p)
{
	return (unsigned)role < CV_ROLE__COUNT && (unsigned)p < CV_PERM__COUNT &&
	    perms[role][p];
}

cv_err
cv_policy_need_to_know(struct cv_store *s, const char *user,
    const char *purpose, const char *rid)
{
	cv_err r;

	if (purpose == NULL || *purpose == '\0')
		return cv_fail(CV_ERR_AUTH, "a purpose (case id) is required");
	/* The usual case first, in one query; the reason only on refusal. */
	if ((r = cv_store_case_allows(s, purpose, user, rid)) !=
	    CV_ERR_NOT_FOUND)
		return r;
	if ((r = cv_store_case_exists(s, purpose)) != CV_OK)
		return r == CV_ERR_NOT_FOUND ? cv_fail(CV_ERR_AUTH, "no case "
		    "'%.40s'", purpose) : r;
	return cv_fail(CV_ERR_AUTH, "case '%.40s' does not hold both the "
	    "user and the record", purpose);
}
