/*
 * Holds: the records of a read the guard allowed that have not left yet
 * (cv_guard_reserve, then cv_guard_commit or cv_guard_cancel).
 *
 * The guard decides before anything leaves, so a held record counts in
 * the windows from the decision on: reads in flight together cannot pass
 * a limit between them. It is put in the record sets at once, as a
 * returned one is; what a cancel must undo is only the time it gave its
 * slot. For that each hold keeps, per record and per set (the user's,
 * and the vault's with a ceiling), the record's committed time BASE: the
 * time the slot would have without any outstanding hold. The invariant,
 * for every record h of a set:
 *
 *   slot time = max(BASE, the times of the outstanding holds of h)
 *
 * and every outstanding hold of h in that set has the same BASE. A new
 * hold takes BASE from another outstanding hold of h if there is one,
 * else from the slot; a commit (or a read counted at once, check and
 * observe) raises the BASE of the other holds of h to its time; a cancel
 * sets the slot to the maximum of its BASE and the other holds' times.
 * Learning (reads, first read, baseline) and the score points of the
 * volume detectors wait for the commit.
 *
 * A read's session (session.c) counts its records at once too. A hold
 * marks the records it added to the session's set (SADD: not there
 * before); a cancel takes them out again, unless another outstanding
 * hold of the same session and proof has them, which then owns them.
 *
 * Outstanding holds are few (reads in flight), so they are a list and
 * every lookup a walk of it with a binary search in each.
 */
#include <stdlib.h>
#include <string.h>

#include "guard_internal.h"

struct cv_guard_hold {
	struct cv_guard_hold *prev, *next;	/* in g->holds once put */
	bool put;
	bool vault;		/* also held in the vault's set */
	bool clean;
	uint64_t uid, gen;
	uint64_t sid;		/* the read's session; 0: none */
	int64_t sproof;		/* the proof it counted under */
	uint32_t late;		/* score points due at commit */
	struct signal s;	/* the read, for learning */
	size_t n;
	uint32_t *base_u, *base_v;	/* in the same block, after h */
	bool *sadd;		/* and these: added to the session's set */
	uint64_t h[];		/* sorted, unique */
};

cv_err
guard_hold_new(size_t n, struct cv_guard_hold **out)
{
	struct cv_guard_hold *x;

	*out = NULL;
	if ((x = calloc(1, sizeof *x + n * (sizeof x->h[0] + 2 *
	    sizeof(uint32_t) + sizeof(bool)))) == NULL)
		return CV_ERR_NOMEM;
	x->n = n;
	x->base_u = (uint32_t *)(x->h + n);
	x->base_v = x->base_u + n;
	x->sadd = (bool *)(x->base_v + n);
	*out = x;
	return CV_OK;
}

void
guard_hold_unused(struct cv_guard_hold **x)
{
	if (*x && !(*x)->put) {
		free(*x);
		*x = NULL;
	}
}

static long
find(const struct cv_guard_hold *x, uint64_t h)
{
	return guard_sorted_find(x->h, x->n, h);
}

/* Y holds records in the same set as X's user set (VAULT false) or
 * vault set (VAULT true). */
static bool
same_set(const struct cv_guard_hold *y, uint64_t uid, bool vault)
{
	return vault ? y->vault : y->uid == uid;
}

/* The BASE of h in that set of another outstanding hold than X, if any. */
static bool
other_base(const struct cv_guard *g, const struct cv_guard_hold *x,
    uint64_t uid, bool vault, uint64_t h, uint32_t *base)
{
	for (const struct cv_guard_hold *y = g->holds; y; y = y->next) {
		long k;
		if (y == x || !same_set(y, uid, vault) ||
		    (k = find(y, h)) < 0)
			continue;
		*base = vault ? y->base_v[k] : y->base_u[k];
		return true;
	}
	return false;
}

static uint32_t
slot_time(const struct gu *s, uint64_t h)
{
	long k = guard_set_find(s, h);

	return k < 0 ? 0 : gu_times(s)[k];
}

void
guard_hold_put(struct cv_guard *g, struct cv_guard_hold *x, struct gu *u,
    struct gu *v, const struct take *t, const struct signal *s)
{
	x->uid = u->id;
	x->vault = v != NULL;
	x->clean = t->clean;
	x->late = t->late;
	x->s = *s;
	x->gen = g->gen;
	memcpy(x->h, t->h, t->n * sizeof *t->h);
	for (size_t i = 0; i < x->n; i++) {
		if (!other_base(g, x, u->id, false, x->h[i], &x->base_u[i]))
			x->base_u[i] = slot_time(u, x->h[i]);
		if (v && !other_base(g, x, u->id, true, x->h[i],
		    &x->base_v[i]))
			x->base_v[i] = slot_time(v, x->h[i]);
	}
	guard_set_add(u, x->h, x->n, s->now, t->add);
	if (v)
		guard_set_add(v, x->h, x->n, s->now, t->vadd);
	if (t->sess) {
		x->sid = t->sess->id;
		x->sproof = t->sess->proof_us;
		guard_sess_add(t->sess, x->h, x->n, x->sadd);
	}
	x->put = true;
	x->next = g->holds;
	if (g->holds)
		g->holds->prev = x;
	g->holds = x;
}

void
guard_holds_raise(struct cv_guard *g, uint64_t uid, bool vault,
    const uint64_t *h, size_t n, uint32_t now)
{
	for (struct cv_guard_hold *y = g->holds; y; y = y->next) {
		bool mine = y->uid == uid, theirs = vault && y->vault;
		if (!mine && !theirs)
			continue;
		for (size_t i = 0; i < n; i++) {
			long k = find(y, h[i]);
			if (k < 0)
				continue;
			if (mine && y->base_u[k] < now)
				y->base_u[k] = now;
			if (theirs && y->base_v[k] < now)
				y->base_v[k] = now;
		}
	}
}

/* Records of session SID (proof PROOF) counted for good: no outstanding
 * hold may take them out of its set any more. */
void
guard_holds_claim(struct cv_guard *g, uint64_t sid, int64_t proof,
    const uint64_t *h, size_t n)
{
	for (struct cv_guard_hold *y = g->holds; y; y = y->next) {
		if (y->sid != sid || y->sproof != proof)
			continue;
		for (size_t i = 0; i < n; i++) {
			long k = find(y, h[i]);
			if (k >= 0)
				y->sadd[k] = false;
		}
	}
}

/* The score points UID's outstanding holds bring when they commit. */
uint32_t
guard_holds_late(const struct cv_guard *g, uint64_t uid)
{
	uint64_t p = 0;

	for (const struct cv_guard_hold *y = g->holds; y; y = y->next)
		p += y->uid == uid ? y->late : 0;
	return p > SCORE_MAX ? SCORE_MAX : (uint32_t)p;
}

/* Out of the list (X stays allocated). */
static void
unlink_hold(struct cv_guard *g, struct cv_guard_hold *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		g->holds = x->next;
	if (x->next)
		x->next->prev = x->prev;
	x->prev = x->next = NULL;
}

/* Gives every slot X raised back the time it would have without X. */
static void
restore(struct cv_guard *g, const struct cv_guard_hold *x, struct gu *set,
    bool vault)
{
	uint32_t *tt = gu_times(set);

	for (size_t i = 0; i < x->n; i++) {
		uint32_t t = vault ? x->base_v[i] : x->base_u[i];
		long k = guard_set_find(set, x->h[i]);

		/* Gone: dropped as older than a day, which is all that X's
		 * time could still be. */
		if (k < 0)
			continue;
		for (const struct cv_guard_hold *y = g->holds; y; y = y->next) {
			if (same_set(y, x->uid, vault) && y->s.now > t &&
			    find(y, x->h[i]) >= 0)
				t = y->s.now;
		}
		/* Time 0: in no window, dropped by the next rebuild. */
		tt[k] = t;
	}
	set->cnt_until = 0;	/* recounted on the next decision */
}

/* The records X added to its session's set out again, or handed to
 * another outstanding hold of the same session that has them too. */
static void
restore_session(struct cv_guard *g, const struct cv_guard_hold *x)
{
	struct gsess *ss = guard_sess_find(g, x->sid);

	if (ss == NULL || ss->proof_us != x->sproof)
		return;		/* gone, or counting from a later proof */
	for (size_t i = 0; i < x->n; i++) {
		struct cv_guard_hold *y;
		long k = -1;

		if (!x->sadd[i])
			continue;
		for (y = g->holds; y; y = y->next) {
			if (y->sid == x->sid && y->sproof == x->sproof &&
			    (k = find(y, x->h[i])) >= 0)
				break;
		}
		if (y)
			y->sadd[k] = true;
		else
			guard_sess_remove(ss, x->h[i]);
	}
}

void
cv_guard_commit(struct cv_guard *g, struct cv_guard_hold *x)
{
	struct gu *u;

	if (x == NULL)
		return;
	guard_lock_mu(g);
	unlink_hold(g, x);
	/* A load meanwhile replaced the state the hold was taken from. */
	if (x->gen == g->gen && (u = guard_find(g, x->uid)) != NULL) {
		guard_holds_raise(g, x->uid, x->vault, x->h, x->n, x->s.now);
		/* Taught in time order only: learning an hour older than
		 * the one being counted would wipe it (baseline_learn). */
		if (x->s.now / HOUR_S < u->acc_hour)
			x->clean = false;
		guard_learn(g, u, x->n, &x->s, x->clean);
		u->score = u->score + x->late > SCORE_MAX ? SCORE_MAX :
		    u->score + x->late;
	}
	guard_unlock_mu(g);
	free(x);
}

void
cv_guard_cancel(struct cv_guard *g, struct cv_guard_hold *x)
{
	struct gu *u, *v;

	if (x == NULL)
		return;
	guard_lock_mu(g);
	unlink_hold(g, x);
	if (x->gen == g->gen) {
		if ((u = guard_find(g, x->uid)) != NULL)
			restore(g, x, u, false);
		if (x->vault && (v = guard_find(g, guard_vault_id(g))) != NULL)
			restore(g, x, v, true);
		restore_session(g, x);
	}
	guard_unlock_mu(g);
	free(x);
}

void
guard_holds_free(struct cv_guard *g)
{
	struct cv_guard_hold *x, *next;

	for (x = g->holds; x; x = next) {
		next = x->next;
		free(x);
	}
	g->holds = NULL;
}
