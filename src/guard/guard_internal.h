/*
 * Inside the guard: shared by guard.c (tables, budgets, decisions),
 * set.c (record sets and windows), ceiling.c (the vault-wide windows),
 * hold.c (reads allowed but not yet returned), lock.c (locks, unlock,
 * views), baseline.c (behaviour), session.c (per-session budgets) and
 * snapshot.c (save/load).
 */
#ifndef CV_GUARD_INTERNAL_H
#define CV_GUARD_INTERNAL_H

#include <pthread.h>

#include <sodium.h>

#include "guard.h"

#define MINUTE_S 60u
#define HOUR_S 3600u
#define DAY_S 86400u
#define WEEK_HOURS 168

/* Hash domains: one subkey each, so a user and a record never collide.
 * A peer group (baseline.c) is a pseudo-user whose id is hashed in its
 * own domain, so that no user name can reach it. */
enum { DOM_USER, DOM_RID, DOM_CASE, DOM_ADDR, DOM_SESSION, DOM_PEER,
    DOM__COUNT };

/* Usual cases and source addresses kept per user (bounded, LRU). */
#define NCASES 6
#define NADDRS 4

/*
 * Behaviour score, in 1/256 points so that snapshots keep it exactly.
 * Points from the detectors (baseline.c) add up and halve every hour. A
 * warning needs about two independent strong signals or one sustained
 * one (SCORE_ALERT); a lock about twice that (SCORE_LOCK), so that one
 * odd read never locks anyone but a thief is stopped within tens of
 * records rather than hundreds.
 */
#define SCORE_ONE 256u
#define SCORE_ALERT (50u * SCORE_ONE)
#define SCORE_LOCK (100u * SCORE_ONE)
#define SCORE_MAX (1000u * SCORE_ONE)

/* A usual case or address: hash, last day seen, days seen (saturating). */
struct place {
	uint32_t h;
	uint16_t day;
	uint8_t days;
	uint8_t pad;
};

/* A lock and its pending approval; allocated only for locked users. */
struct glock {
	uint32_t at;
	uint32_t approved_at;	/* 0: no approval yet */
	uint64_t approver;	/* keyed hash of the first officer */
	char reason[64];
	/* The user's name while the lock is this node's alone (GU_UNSHARED:
	 * cv_guard_lock_unshared); NULL once every node has it. The guard
	 * keeps users by hash only, and a restart needs the name to share
	 * the lock again. */
	char *name;
};

/*
 * One user. RH is the record set: an open-addressing table (linear
 * probing, power-of-two CAP) of keyed record hashes (0: empty) followed
 * by CAP u32 last-read times; entries older than a day are dropped when
 * the table is rebuilt. USED counts occupied slots, expired or not.
 */
struct gu {
	uint64_t id;		/* keyed hash of the name; never 0 */
	uint64_t *rh;
	struct glock *lock;
	uint32_t cap, used;
	uint32_t first_s;	/* first record returned (learning) */
	uint32_t nreads;	/* records returned, saturating */
	uint32_t score;		/* behaviour score, SCORE_ONE units */
	uint32_t score_s;	/* when score was last decayed */
	/* The window counts as of CNT_AT, good until CNT_UNTIL (the first
	 * second a counted record leaves a window; 0: recount). A reader of
	 * thousands of records a day would otherwise cost a scan of them on
	 * every decision. Not saved: recounted after a load. */
	uint32_t cnt[CV_GUARD__WINDOWS], cnt_at, cnt_until;
	uint32_t minute;	/* minute number of miss[0], srch[0] */
	uint16_t miss[2], srch[2];	/* [0] this minute, [1] the last */
	uint32_t acc_hour;	/* hour number (since 1970) ACC counts in */
	uint16_t acc;		/* records this hour, not yet in HIST */
	uint16_t week;		/* week number the histogram was aged to */
	uint8_t flags;
	uint8_t pad;
	struct place cases[NCASES], addrs[NADDRS];
	uint8_t hist[WEEK_HOURS];	/* records per hour-of-week, aged;
					 * the current hour is in ACC */
	/* Score points the user's outstanding holds of this state bring
	 * when they commit (hold.c). In what was the struct's padding: not
	 * saved, 0 after a load. */
	uint32_t held_late;
};

#define GU_LOCKED 1u
/* The vault pseudo-user only (ceiling.c): its ceiling alert was raised
 * at soft / hard and not yet re-armed. */
#define GU_CEIL_SOFT 2u
#define GU_CEIL_HARD 4u
/* A locked user whose lock is not yet every node's (lock->name set). */
#define GU_UNSHARED 8u
#define GU_FLAGS (GU_LOCKED | GU_CEIL_SOFT | GU_CEIL_HARD | GU_UNSHARED)

static inline uint32_t *
gu_times(const struct gu *u)
{
	return u->rh ? (uint32_t *)(u->rh + u->cap) : NULL;
}

/* Users live in chunks (no big reallocs); the index maps id -> number. */
#define CHUNK_BITS 12
#define CHUNK (1u << CHUNK_BITS)
#define MAX_USERS (1u << 24)

struct islot {
	uint64_t id;	/* 0: empty */
	uint32_t n;
	uint32_t pad;
};

/*
 * One session's per-session budget (session.c): the keyed hashes of the
 * distinct records it returned (or holds) since its last TOTP proof,
 * sorted. Memory only: a restart ends every session.
 */
struct gsess {
	uint64_t id;		/* keyed hash of the session id; 0: free */
	int64_t proof_us, ends_us;
	uint32_t n, cap;
	uint64_t *h;
	bool spent;	/* its budget used up before this guard saw it */
};

/* Open addressing on the id (linear probing, power-of-two CAP, load at
 * most 1/2); rebuilt when sessions expire. */
struct gsessions {
	struct gsess *t;
	size_t cap, n, bytes;
	int64_t next_end;	/* the earliest ENDS_US in the table */
};

struct cv_guard {
	pthread_mutex_t mu;
	uint8_t key[crypto_shorthash_KEYBYTES];
	uint8_t sub[DOM__COUNT][crypto_shorthash_KEYBYTES];
	struct gu **chunks;
	size_t nchunks, nusers;
	struct islot *index;
	size_t icap;		/* power of two, load <= 1/2 */
	uint64_t *canary;	/* sorted keyed hashes */
	size_t ncanary;
	uint64_t *scratch;	/* record hashes of a read; set rebuilds */
	size_t nscratch;
	size_t set_bytes;	/* sum of record set sizes */
	size_t nlocks;
	struct cv_guard_hold *holds;	/* outstanding, newest first */
	/* The outstanding holds by record (hold.c): bucket h & (hcap - 1)
	 * chains every (hold, record) pair of h. hcap is 0 or a power of
	 * two; hcount pairs are in it. */
	struct guard_hnode **hidx;
	size_t hcap, hcount;
	uint64_t gen;		/* state generation: a load starts a new one */
	struct gsessions sess;	/* not in snapshots: a load clears them */
};

/* guard.c and set.c */
void guard_derive(struct cv_guard *g);
uint64_t guard_hash(const struct cv_guard *g, int dom, const char *s);
struct gu *guard_user_at(const struct cv_guard *g, size_t n);
struct gu *guard_find(const struct cv_guard *g, uint64_t id);
cv_err guard_add_user(struct cv_guard *g, uint64_t id, struct gu **out);
cv_err guard_scratch(struct cv_guard *g, size_t n);
cv_err guard_set_rebuild(struct cv_guard *g, struct gu *u, uint32_t now,
    size_t extra);
void guard_set_put(struct gu *u, uint64_t h, uint32_t t);
void guard_free_state(struct cv_guard *g);
void guard_set_counts(const struct gu *u, uint32_t now,
    uint32_t c[CV_GUARD__WINDOWS]);
void guard_counts(struct gu *u, uint32_t now, uint32_t c[CV_GUARD__WINDOWS]);
cv_err guard_room(struct cv_guard *g, struct gu *u, uint32_t now,
    const uint32_t c[CV_GUARD__WINDOWS], size_t n);
long guard_set_find(const struct gu *u, uint64_t h);
void guard_set_add(struct gu *u, const uint64_t *h, size_t n, uint32_t now,
    const uint32_t add[CV_GUARD__WINDOWS]);
void guard_alert(struct cv_guard_decision *d, enum cv_guard_severity sev,
    const char *kind, const char *fmt, ...) CV_PRINTF(4, 5);
extern const char *const guard_window_name[CV_GUARD__WINDOWS];
extern const uint32_t guard_window_s[CV_GUARD__WINDOWS];
bool guard_str_ok(const char *s, bool may_be_null);
bool guard_time_ok(int64_t now_us);
void guard_lock_mu(const struct cv_guard *g);
void guard_unlock_mu(const struct cv_guard *g);

/* ceiling.c */
uint64_t guard_vault_id(const struct cv_guard *g);
cv_err guard_vault_user(struct cv_guard *g, struct gu **out);
void guard_ceiling_rearm(struct gu *v, const uint32_t c[CV_GUARD__WINDOWS],
    const struct cv_guard_limits *cl);
void guard_ceiling_alert(struct cv_guard_decision *d, struct gu *v,
    const struct cv_guard_limits *cl, uint32_t count, int w, bool hard);

/* lock.c */
void guard_lock_user(struct cv_guard *g, struct gu *u, const char *reason,
    uint32_t now);
/* U's lock and its name freed, U not locked (the count is the caller's). */
void guard_lock_drop(struct gu *u);

/* baseline.c */

/* What one read adds, as the detectors see it. */
struct signal {
	uint32_t now;
	uint32_t hour_after;	/* distinct records in the last hour, after */
	uint32_t new_hour;	/* of which new to the hour window */
	unsigned misses;
	bool search;
	bool step_up_refused;
	bool returned;		/* the records would leave */
	uint32_t case_h, addr_h;	/* 0: none given */
	uint64_t peer;		/* the peer group's pseudo-user; 0: none */
	uint32_t usual;		/* the role's default records an hour */
};

/* One detector that fired: its kind, points (SCORE_ONE units), detail.
 * LATE: it measures records returned (volume, off_hours, case,
 * address), so its points are due only once they have left. */
struct finding {
	const char *kind;
	uint32_t points;
	bool late;
	char detail[120];
};

#define MAX_FINDINGS 6

bool baseline_learned(const struct gu *u, uint32_t now);
void baseline_decay(struct gu *u, uint32_t now);
void baseline_roll_minute(struct gu *u, uint32_t now);
/* PEER: the user's peer group (NULL: none), for a user not learnt yet. */
size_t baseline_detect(const struct gu *u, const struct gu *peer,
    const struct signal *s, struct finding *f);
void baseline_learn(struct gu *u, struct gu *peer, const struct signal *s);
void baseline_count_attempt(struct gu *u, const struct signal *s);
uint32_t baseline_score_add(struct gu *u, const struct finding *f,
    size_t n);

/* guard.c: the records of a read that left count as returned. */
void guard_learn(struct cv_guard *g, struct gu *u, size_t n,
    const struct signal *s, bool clean);

/* hold.c */

/* The records a read takes out, as decided (hashes sorted, unique). */
struct take {
	const uint64_t *h;
	size_t n;
	const uint32_t *add, *vadd;	/* new to each window (user, vault) */
	bool clean;			/* teach the baseline */
	uint32_t late;			/* score points due once they leave */
	struct gsess *sess;		/* the read's session, or NULL */
};

cv_err guard_hold_new(struct cv_guard *g, size_t n,
    struct cv_guard_hold **out);
void guard_hold_put(struct cv_guard *g, struct cv_guard_hold *x,
    struct gu *u, struct gu *v, const struct take *t,
    const struct signal *s);
void guard_holds_raise(struct cv_guard *g, uint64_t uid, bool vault,
    const uint64_t *h, size_t n, uint32_t now);
void guard_hold_unused(struct cv_guard_hold **x);
uint32_t guard_holds_late(const struct gu *u);
void guard_holds_claim(struct cv_guard *g, uint64_t sid, int64_t proof,
    const uint64_t *h, size_t n);
void guard_holds_free(struct cv_guard *g);

/* session.c */
/* Where H is in the ascending A[0..n), or -1. */
long guard_sorted_find(const uint64_t *a, size_t n, uint64_t h);
cv_err guard_sess_get(struct cv_guard *g, const struct cv_guard_session *s,
    size_t n, struct gsess **out);
struct gsess *guard_sess_find(const struct cv_guard *g, uint64_t id);
uint32_t guard_sess_new(const struct gsess *s, const uint64_t *h, size_t n);
void guard_sess_add(struct gsess *s, const uint64_t *h, size_t n,
    bool *added);
void guard_sess_remove(struct gsess *s, uint64_t h);
void guard_sess_free(struct gsessions *t);

#endif
