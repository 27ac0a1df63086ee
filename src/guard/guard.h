/*
 * The exfiltration guard: decides, before any record is read from
 * storage, whether a read may go ahead, from per-user read budgets
 * (distinct records per sliding minute, hour and day), a per-session
 * budget (distinct records since the session's last TOTP proof),
 * vault-wide ceilings (the same windows over all users together), canary
 * records and a behaviour baseline (the user's, else their peers' or the
 * role's), and locks users until two officers unlock them.
 *
 * It sits between policy and audit and knows no roles: the caller passes
 * the effective limits with every request. It holds no names and no ids
 * in the clear: users, records, cases and addresses are kept as keyed
 * hashes (SipHash-2-4 under a random key per guard), so its memory and
 * its snapshots say nothing about whose records were read, as long as
 * the key (part of the snapshot: the caller seals it) stays secret.
 *
 * Every function is thread-safe (one mutex per guard). Times are UTC
 * microseconds since 1970, given by the caller (tests inject a clock);
 * they are kept at one-second resolution.
 */
#ifndef CV_GUARD_H
#define CV_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/base.h"

struct cv_guard;

enum { CV_GUARD_MINUTE, CV_GUARD_HOUR, CV_GUARD_DAY, CV_GUARD__WINDOWS };

/*
 * Distinct records per sliding window. Past soft: refused until the
 * request carries a fresh TOTP step-up; past hard: refused and the user
 * locked. soft <= hard for every window.
 */
struct cv_guard_limits {
	uint32_t soft[CV_GUARD__WINDOWS], hard[CV_GUARD__WINDOWS];
};

/* Minute 10/30, hour 100/250, day 300/600 (soft/hard). */
extern const struct cv_guard_limits cv_guard_limits_default;

#define CV_GUARD_MAX_RIDS 65536	/* records per read; page above that */
#define CV_GUARD_MAX_STR 1024	/* bytes in a user, address, case or id */

/*
 * The session a read is made in, for the per-session budget: a session
 * returns at most BUDGET distinct records since its last TOTP proof (its
 * login or a step-up), whatever the pace; past it the read gets STEP_UP,
 * and a proof later than PROOF_US starts a new count. The budgets per
 * window bound a user; this one bounds what a stolen session without the
 * TOTP secret gets out, however slowly it reads. The counts are kept in
 * memory only (a snapshot holds none), so a session whose proof this
 * guard did not see (UNCOUNTED: opened before this process started, the
 * sessions being rows of the store that outlive it) has its budget spent
 * until a later proof: a restart gives no stolen session a new budget.
 */
struct cv_guard_session {
	const char *id;		/* the session's public id, not empty */
	int64_t proof_us;	/* its last TOTP proof, on the caller's clock */
	int64_t ends_us;	/* it cannot live past this, on the clock of
				 * cv_guard_sessions_expire */
	uint32_t budget;	/* distinct records per proof, at least 1 */
	bool uncounted;		/* its count since PROOF_US is not known here */
};

#define CV_GUARD_MAX_SESSIONS (1u << 20)	/* tracked at once */
/* The reason of a STEP_UP at the session budget (a prefix callers may
 * test for). */
#define CV_GUARD_SESSION_REASON "session budget: records since the last " \
	"TOTP proof"

/* One read, as the caller is about to perform it. */
struct cv_guard_read {
	/* Vault-wide ceiling: distinct records returned over all users
	 * together per window, counted from the reads that carry one. Past
	 * soft: refused until a step-up, as for a user's own soft limit;
	 * past hard: refused (CV_GUARD_REFUSE), nobody locked. UINT32_MAX:
	 * no ceiling for that window. NULL: neither checked nor counted. */
	const struct cv_guard_limits *ceiling;
	/* LIMITS are a new account's probation budgets: the reasons and
	 * alerts of the budget checks say "probation". */
	bool probation;
	const char *user;		/* principal name, not empty */
	const char *addr;		/* source address text; NULL: unknown */
	const char *case_id;		/* purpose case; NULL: none */
	const char *const *rids;	/* records about to be returned */
	size_t nrids;			/* may repeat ids; 0 allowed */
	unsigned misses;	/* ids asked for but not found / not allowed */
	bool search;		/* a blind-index search */
	bool stepped_up;	/* the request carries a fresh TOTP step-up */
	int64_t now_us;		/* UTC microseconds, 1970 .. 2106 */
	const struct cv_guard_limits *limits;
	/* The per-session budget; NULL: none (the command line, replay).
	 * A stepped-up read is held to it too: the count restarts at the
	 * step-up, it does not stop. */
	const struct cv_guard_session *session;
	/* Behaviour defaults for a user without a learnt baseline of their
	 * own. PEER names the user's peer group (the role): the busiest
	 * learnt member's reads per hour of the week are the expectation;
	 * before any member has learnt, USUAL_HOUR records an hour at any
	 * hour (the role's default; 0: none). NULL: no peer group. */
	const char *peer;
	uint32_t usual_hour;
};

enum cv_guard_verdict {
	CV_GUARD_ALLOW,
	CV_GUARD_STEP_UP,	/* refused until a fresh TOTP step-up */
	CV_GUARD_DENY,		/* refused; the user is locked */
	CV_GUARD_ALLOW_THEN_LOCK, /* canary: return it, the user is locked */
	CV_GUARD_REFUSE,	/* refused, nobody locked: the vault-wide
				 * hard ceiling */
};

enum cv_guard_severity {
	CV_GUARD_INFO,		/* not raised today; for callers' own use */
	CV_GUARD_WARNING,
	CV_GUARD_CRITICAL,
};

/*
 * KIND is one of "canary", "budget", "ceiling", "step_up", "enumeration",
 * "sweep", "off_hours", "volume", "case", "address", "behaviour" (the
 * server adds "stopped_at_step_up" of its own). DETAIL is one line for
 * the security officer; it never holds ids or names.
 */
struct cv_guard_alert {
	enum cv_guard_severity severity;
	char kind[32];
	char detail[160];
};

#define CV_GUARD_MAX_ALERTS 4

struct cv_guard_decision {
	enum cv_guard_verdict verdict;
	char reason[64];	/* why, for the audit entry and the client */
	struct cv_guard_alert alerts[CV_GUARD_MAX_ALERTS];
	size_t nalerts;		/* most severe first; when more were raised
				 * than fit, the least severe were dropped */
	bool locked_now;	/* this decision locked the user */
};

/* What the guard holds about one user (admin views, tests). */
struct cv_guard_user_info {
	bool known;		/* the guard has state for the user */
	bool locked;
	bool learned;		/* past the learning period */
	bool pending_approval;	/* locked, one officer approved */
	uint32_t counts[CV_GUARD__WINDOWS]; /* distinct records in windows */
	uint32_t reads;		/* records returned, all time (saturating) */
	double score;		/* behaviour score, decayed to now */
	char lock_reason[64];
};

/*
 * A new, empty guard with a fresh random hashing key (*out; free with
 * cv_guard_free). CV_ERR_NOMEM, CV_ERR_CRYPTO (libsodium unusable).
 */
cv_err cv_guard_new(struct cv_guard **out) CV_MUST_CHECK;

/* Wipes and frees G (with its key, and any hold not yet committed or
 * cancelled: settle them first). NULL is fine. */
void cv_guard_free(struct cv_guard *g);

/*
 * Replaces the canary set with the N ids in RIDS (copied as keyed hashes
 * only; the strings are not kept). N = 0 clears it. CV_ERR_INVALID for a
 * NULL or overlong id (set unchanged), CV_ERR_NOMEM.
 */
cv_err cv_guard_set_canaries(struct cv_guard *g, const char *const *rids,
    size_t n) CV_MUST_CHECK;

/* RID is a canary. */
bool cv_guard_is_canary(const struct cv_guard *g, const char *rid);

/*
 * Decides read R and accounts it. Order: a locked user gets DENY; a read
 * that would take a window past its hard limit gets DENY and locks; a
 * read that would take a vault-wide window past its hard ceiling gets
 * REFUSE (DENY and a lock if it asks for a canary); a read holding a
 * canary gets ALLOW_THEN_LOCK (the caller returns it, the user is then
 * locked); past a soft limit or soft ceiling without R->stepped_up, or
 * past the session budget, gets STEP_UP (the reason names the user's
 * budget first, then the session's, then the ceiling); a behaviour
 * score reaching the lock threshold gets DENY and
 * locks; otherwise ALLOW. Only ALLOW and ALLOW_THEN_LOCK count R's
 * records as returned (for the user and, with a ceiling, vault-wide) and
 * teach the baseline; misses, searches and refused step-ups count
 * towards the behaviour score either way. A ceiling raises one "ceiling"
 * alert per crossing (warning at soft, critical at hard), not one per
 * read: it is raised again only after every window has fallen to 90% of
 * that level, so that a vault held at its ceiling does not alert on
 * every record that leaves a window.
 * D is always filled on CV_OK. Errors (nothing accounted, D says DENY so
 * that a caller ignoring the code still fails closed): CV_ERR_INVALID
 * for a malformed R (NULL/empty user, NULL id, overlong string, more than
 * CV_GUARD_MAX_RIDS ids, soft > hard, time out of range, a session
 * without an id or budget), CV_ERR_NOMEM, CV_ERR_LIMIT when the guard
 * tracks too many users or sessions. A server, which
 * learns only later whether the records left, reserves instead.
 */
cv_err cv_guard_check(struct cv_guard *g, const struct cv_guard_read *r,
    struct cv_guard_decision *d) CV_MUST_CHECK;

/*
 * The records of a read that cv_guard_reserve allowed, until they have
 * left or have not. They count in the user's windows (and the vault's)
 * from the decision on, so that reads in flight together cannot pass a
 * limit; they count as returned (reads, learning, the points of the
 * volume detectors) only once committed, and a cancelled hold leaves the
 * windows as if the read had not been allowed (reads of the same records
 * allowed meanwhile keep their own times).
 */
struct cv_guard_hold;

/*
 * Decides R as cv_guard_check does, with the same effects at once
 * (verdict, locks, alerts, misses, searches and refused step-ups
 * counting), except that on ALLOW or ALLOW_THEN_LOCK R's records are
 * held (*HOLD) rather than counted as returned. Every hold goes to
 * exactly one of cv_guard_commit (the records left: their audit entry is
 * durable and the reply goes out) and cv_guard_cancel (they did not: the
 * log failed, the record could not be read). A lock decided here stays
 * whichever it is: a canary asked for is evidence even if it never
 * left. *HOLD is NULL for the other verdicts, a read of no records and
 * on error. Errors as for check.
 */
cv_err cv_guard_reserve(struct cv_guard *g, const struct cv_guard_read *r,
    struct cv_guard_decision *d, struct cv_guard_hold **hold) CV_MUST_CHECK;

/*
 * Forgets the sessions whose ENDS_US is before NOW_US (same clock): they
 * cannot make another read. Call it now and then (a server: once a
 * second); until then an ended session only takes memory.
 */
void cv_guard_sessions_expire(struct cv_guard *g, int64_t now_us);

/* HOLD's records left: counted as returned. Frees HOLD; NULL is fine. */
void cv_guard_commit(struct cv_guard *g, struct cv_guard_hold *hold);

/* HOLD's records did not leave: out of the windows again. Frees HOLD;
 * NULL is fine. */
void cv_guard_cancel(struct cv_guard *g, struct cv_guard_hold *hold);

/*
 * Accounts R as check would account an allowed read (windows, baseline,
 * score; not R's session, nor its peer group) without deciding, alerting
 * or locking: for replaying the audit
 * entries after the snapshot's audit index after a restart. Locks found
 * in the log are replayed with cv_guard_lock. Errors as for check.
 */
cv_err cv_guard_observe(struct cv_guard *g,
    const struct cv_guard_read *r) CV_MUST_CHECK;

/*
 * Locks USER (known or not) with REASON (copied, cut to 63 bytes; must
 * hold no secrets); any pending unlock approval is dropped. Locking a
 * locked user keeps the first reason. CV_ERR_INVALID for an empty user.
 */
cv_err cv_guard_lock(struct cv_guard *g, const char *user,
    const char *reason, int64_t now_us) CV_MUST_CHECK;

/*
 * Whether USER's lock is this node's alone (UNSHARED: a vault shared by
 * several nodes could not take its row yet, src/api/locks.c) or every
 * node's. Kept by name in the snapshot, so that a restarted node shares
 * it again; unlocking forgets it. CV_ERR_NOT_FOUND when USER is not
 * locked, CV_ERR_INVALID for an empty name or one longer than
 * CV_GUARD_MAX_NAME, CV_ERR_NOMEM.
 */
#define CV_GUARD_MAX_NAME 255
cv_err cv_guard_lock_unshared(struct cv_guard *g, const char *user,
    bool unshared) CV_MUST_CHECK;

/*
 * FN(CTX, user) for each lock marked unshared, called with no mutex of
 * G held (FN may call into G); the name is FN's to copy. CV_ERR_NOMEM
 * before any call.
 */
typedef void cv_guard_name_fn(void *ctx, const char *user);
cv_err cv_guard_unshared_each(const struct cv_guard *g, cv_guard_name_fn *fn,
    void *ctx) CV_MUST_CHECK;

/* USER is locked. */
bool cv_guard_locked(const struct cv_guard *g, const char *user);
/* How many users are locked. */
size_t cv_guard_nlocked(const struct cv_guard *g);

/*
 * Two-person rule: OFFICER approves unlocking USER. The first approval is
 * kept for CV_GUARD_APPROVAL_TTL_S; a second one by a different officer
 * unlocks (*unlocked = true; the behaviour score restarts from zero, the
 * read windows are kept, so a user past a hard limit stays held by it).
 * Errors (nothing changed, *unlocked = false): CV_ERR_NOT_FOUND when USER
 * is not locked, CV_ERR_AUTH when OFFICER is USER or is locked
 * themselves, CV_ERR_EXISTS when
 * OFFICER already gave the pending approval, CV_ERR_INVALID for empty
 * names. Roles are the caller's business (policy).
 */
#define CV_GUARD_APPROVAL_TTL_S (24 * 3600)
cv_err cv_guard_unlock_approve(struct cv_guard *g, const char *user,
    const char *officer, int64_t now_us, bool *unlocked) CV_MUST_CHECK;

/*
 * USER's lock lifted elsewhere (a PostgreSQL vault's two-person unlock,
 * approved on any nodes: src/store/unlocks.c): dropped as a second
 * approval here would drop it (*unlocked = true; not locked: nothing
 * changes). CV_ERR_INVALID for an empty user.
 */
cv_err cv_guard_unlock_lifted(struct cv_guard *g, const char *user,
    bool *unlocked) CV_MUST_CHECK;

/* What the guard holds about USER at NOW_US (zeroed when unknown). */
void cv_guard_user_info(const struct cv_guard *g, const char *user,
    int64_t now_us, struct cv_guard_user_info *info);

/* Distinct records returned vault-wide in each window at NOW_US (reads
 * that carried a ceiling); zeros when none. */
void cv_guard_ceiling_counts(const struct cv_guard *g, int64_t now_us,
    uint32_t counts[CV_GUARD__WINDOWS]);

/*
 * Appends a versioned binary snapshot of all of G's state (key, canaries,
 * users: windows, baselines, scores, locks, pending approvals; the
 * vault-wide windows and ceiling alert state) and
 * AUDIT_INDEX (the first audit entry not yet reflected) to OUT. The bytes
 * include the hashing key: the caller seals them. CV_ERR_NOMEM.
 */
cv_err cv_guard_save(const struct cv_guard *g, uint64_t audit_index,
    struct cv_buf *out) CV_MUST_CHECK;

/*
 * Replaces all of G's state with the snapshot in P (hostile input: every
 * length, count and field is checked) and gives its audit index; holds
 * outstanding then are of the old state: settling them changes nothing.
 * On error G is unchanged: CV_ERR_INVALID with a detail naming what is
 * wrong and where, CV_ERR_NOMEM.
 */
cv_err cv_guard_load(struct cv_guard *g, const uint8_t *p, size_t len,
    uint64_t *audit_index) CV_MUST_CHECK;

/* Bytes of memory G holds (tables, per-user state, buffers). */
size_t cv_guard_memory(const struct cv_guard *g);

#endif
