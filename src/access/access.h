/*
 * Access recertification: who can read record data, on which cases, when
 * each of them last logged in and how many distinct records each read
 * lately, and which accounts have gone unused (issue 11, two-person
 * control: a person reviews, the log records the review).
 *
 * Everything comes from the vault itself: users and their cases from the
 * store, the guard's locks from its sealed snapshot (DIR/guard.state),
 * logins and reads from one pass over the audit log (cv_audit_scan, with
 * the zero-copy views: no JSON, no allocation per entry). "Read" means
 * what breach scoping means by it (cv_scope_returns_data), so a review
 * and a scope never disagree about what someone read.
 */
#ifndef CV_ACCESS_H
#define CV_ACCESS_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "../audit/audit.h"
#include "../base/base.h"
#include "../store/store.h"
#include "../vault/vault.h"

#define CV_ACCESS_DAY_US (86400LL * 1000000)
/* The longest window either option takes: a hundred years. */
#define CV_ACCESS_MAX_DAYS 36500

/* Progress of the log scan: DONE of TOTAL entries. */
typedef void cv_access_progress_fn(void *ctx, uint64_t done, uint64_t total);

struct cv_access_query {
	int64_t now_us;		/* the review's "now", UTC microseconds */
	uint32_t window_days;	/* records read in the last N days (>= 1) */
	uint32_t unused_days;	/* no login in N days: unused (>= 1) */
	bool all_roles;		/* also roles that read no record data */
	/* Only who is locked (and each user's name, role, state): no
	 * cases, logins or reads, and the log read only after the guard's
	 * snapshot. For `user list`, which must not scan a whole log. */
	bool locks_only;
	/* Called about twice a second once the scan has run for a second;
	 * may be NULL. */
	cv_access_progress_fn *progress;
	void *ctx;
	/*
	 * The guard's last saved state, unsealed by the key side (keyd is
	 * the one place that unseals: the CLI asks an in-process one), appended
	 * to OUT: CV_ERR_NOT_FOUND when none was saved yet, an error naming
	 * the file when it does not open. Required.
	 */
	cv_err (*guard_state)(void *ctx, struct cv_buf *out);
	void *guard_ctx;
};

/* One account under review. */
struct cv_access_user {
	char name[CV_USER_NAME_MAX + 1];
	char role[32];
	bool disabled;		/* in the store: may not log in */
	bool locked;		/* by the guard: may not log in until unlocked */
	bool unused;		/* no login in unused_days (see below) */
	bool disabled_now;	/* set by the caller that disabled it */
	int64_t created_us;
	int64_t last_login_us;	/* the last allowed session.create; 0: never */
	uint64_t records_read;	/* distinct records read in the window */
	char **cases;		/* ids of the cases holding the user */
	size_t ncases;
};

struct cv_access_review {
	struct cv_access_user *users;	/* sorted by name (bytewise) */
	size_t nusers;
	size_t nunused;
	struct cv_access_query q;	/* as asked (progress cleared) */
	uint64_t scanned;		/* audit entries scanned */
	double seconds;			/* the whole review */
};

/*
 * Reviews the users of store S with read power (a role that is granted
 * record sections: investigator, adjudicator, security_officer; every role
 * with Q->all_roles; a role this build does not know is always listed, as
 * the cautious reading), scanning all of A once. An account is unused
 * when its last login, or its creation if it never logged in, is more
 * than Q->unused_days before Q->now_us. *OUT (free with
 * cv_access_review_free) on success, NULL otherwise.
 * Errors: CV_ERR_INVALID (bad query), CV_ERR_STORE, CV_ERR_FORMAT (an
 * audit entry that cannot be read: no review is made from part of the
 * log), CV_ERR_AUTH or CV_ERR_FORMAT for a guard snapshot that does not
 * open (refused, as the server refuses it), CV_ERR_NOMEM, CV_ERR_IO.
 */
cv_err cv_access_review(struct cv_store *s, struct cv_audit *a,
    const struct cv_access_query *q,
    struct cv_access_review **out) CV_MUST_CHECK;
void cv_access_review_free(struct cv_access_review *r);

/*
 * The review as one JSON object (caller json_decref's):
 * {"generated_at", "window_days", "unused_days", "users": [{"name",
 *  "role", "state", "locked", "created", "cases", "last_login" (null:
 *  never), "records_read", "unused", "disabled_now"}], "totals": {"users",
 *  "unused", "disabled_now"}}; times RFC 3339 UTC. "state" is "disabled",
 * else "locked", else "active". CV_ERR_FORMAT for a string that is not
 * UTF-8, CV_ERR_NOMEM.
 */
cv_err cv_access_json(const struct cv_access_review *r,
    json_t **out) CV_MUST_CHECK;

/*
 * The review for people: aligned columns, a row per user, then a summary
 * line. CV_ERR_IO when F cannot be written.
 */
cv_err cv_access_print_table(FILE *f,
    const struct cv_access_review *r) CV_MUST_CHECK;

/* "disabled", "locked" or "active". */
const char *cv_access_state(const struct cv_access_user *u);

/* R's user NAME, or NULL. */
const struct cv_access_user *cv_access_user(const struct cv_access_review *r,
    const char *name);

#endif
