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
 * Outstanding holds are as many as the reads in flight, hundreds on a
 * busy server: a walk of all of them for each record of each read made
 * the guard's cost grow with the concurrency (8% of the api worker's CPU
 * at 200 connections, 2% at 32). So every (hold, record) pair is also
 * chained in a hash table by record (g->hidx), and the lookups by record
 * visit only the holds of that record.
 */
#include <stdlib.h>
#include <string.h>

#include "guard_internal.h"

/* One record of one hold, chained in its bucket of g->hidx. */
struct guard_hnode {
	struct guard_hnode *next;
	struct cv_guard_hold *y;
	size_t k;		/* y->h[k] is the record */
};

struct cv_guard_hold {
	struct cv_guard_hold *prev, *next;	/* in g->holds once put */
	struct guard_hnode *nodes;	/* n, in the same block */
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

/* The first of the (hold, record) pairs of record H; follow ->next and
 * skip the pairs of other records that share the bucket. */
static struct guard_hnode *
pairs(const struct cv_guard *g, uint64_t h)
{
	return g->hcap ? g->hidx[h & (g->hcap - 1)] : NULL;
}

#define EACH_PAIR(G, H, ND) \
	for (struct guard_hnode *ND = pairs(G, H); ND; ND = ND->next) \
		if (ND->y->h[ND->k] == (H))

/*
 * Room for N more pairs at one per bucket on average. Without memory for
 * a bigger table the chains grow longer: slower, never wrong.
 */
static void
index_room(struct cv_guard *g, size_t n)
{
	struct guard_hnode **t;
	size_t cap = g->hcap ? g->hcap : 64;

	while (cap < g->hcount + n)
		cap *= 2;
	if (cap == g->hcap || (t = calloc(cap, sizeof *t)) == NULL)
		return;
	for (size_t i = 0; i < g->hcap; i++) {
		struct guard_hnode *nd, *next;

		for (nd = g->hidx[i]; nd; nd = next) {
			next = nd->next;
			nd->next = t[nd->y->h[nd->k] & (cap - 1)];
			t[nd->y->h[nd->k] & (cap - 1)] = nd;
		}
	}
	free(g->hidx);
	g->hidx = t;
	g->hcap = cap;
}

/* X's records into the index (X put), or out of it (X unlinked). */
static void
index_add(struct cv_guard *g, struct cv_guard_hold *x)
{
	/* guard_hold_new made room for X, under the same hold of the
	 * guard's mutex: hcap is not 0. */
	for (size_t i = 0; i < x->n; i++) {
		struct guard_hnode **b = &g->hidx[x->h[i] & (g->hcap - 1)];

		x->nodes[i] = (struct guard_hnode){ .next = *b, .y = x, .k = i };
		*b = &x->nodes[i];
	}
	g->hcount += x->n;
}

static void
index_remove(struct cv_guard *g, struct cv_guard_hold *x)
{
	for (size_t i = 0; i < x->n; i++) {
		struct guard_hnode **p = &g->hidx[x->h[i] & (g->hcap - 1)];

		while (*p && *p != &x->nodes[i])
			p = &(*p)->next;
		if (*p)
			*p = x->nodes[i].next;
	}
	g->hcount -= x->n;
}

cv_err
guard_hold_new(struct cv_guard *g, size_t n, struct cv_guard_hold **out)
{
	struct cv_guard_hold *x;

	*out = NULL;
	/* The index's first table now, where a failure can still refuse
	 * the read: after, a hold must go in whatever memory says. */
	index_room(g, n);
	if (g->hcap == 0)
		return CV_ERR_NOMEM;
	if ((x = calloc(1, sizeof *x + n * (sizeof x->h[0] +
	    sizeof(struct guard_hnode) + 2 * sizeof(uint32_t) +
	    sizeof(bool)))) == NULL)
		return CV_ERR_NOMEM;
	x->n = n;
	/* Widest alignment first: after h, the nodes' pointers. */
	x->nodes = (struct guard_hnode *)(x->h + n);
	x->base_u = (uint32_t *)(x->nodes + n);
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
	EACH_PAIR(g, h, nd) {
		const struct cv_guard_hold *y = nd->y;

		if (y == x || !same_set(y, uid, vault))
			continue;
		*base = vault ? y->base_v[nd->k] : y->base_u[nd->k];
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
	index_add(g, x);
	/* Exact below 16,777 holds of a user at SCORE_MAX each; the
	 * server takes 1,000 connections. */
	u->held_late = u->held_late > UINT32_MAX - x->late ? UINT32_MAX :
	    u->held_late + x->late;
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
	for (size_t i = 0; i < n; i++) {
		EACH_PAIR(g, h[i], nd) {
			struct cv_guard_hold *y = nd->y;
			bool mine = y->uid == uid, theirs = vault && y->vault;

			if (mine && y->base_u[nd->k] < now)
				y->base_u[nd->k] = now;
			if (theirs && y->base_v[nd->k] < now)
				y->base_v[nd->k] = now;
		}
	}
}

/* Records of session SID (proof PROOF) counted for good: no outstanding
 * hold may take them out of its set any more. */
void
guard_holds_claim(struct cv_guard *g, uint64_t sid, int64_t proof,
    const uint64_t *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		EACH_PAIR(g, h[i], nd) {
			if (nd->y->sid == sid && nd->y->sproof == proof)
				nd->y->sadd[nd->k] = false;
		}
	}
}

/* The score points U's outstanding holds bring when they commit (holds
 * of a state replaced since bring none: cv_guard_commit). */
uint32_t
guard_holds_late(const struct gu *u)
{
	return u->held_late > SCORE_MAX ? SCORE_MAX : u->held_late;
}

/* Out of the list and the index (X stays allocated). */
static void
unlink_hold(struct cv_guard *g, struct cv_guard_hold *x)
{
	struct gu *u;

	if (x->gen == g->gen && (u = guard_find(g, x->uid)) != NULL)
		u->held_late -= x->late < u->held_late ? x->late :
		    u->held_late;
	if (x->prev)
		x->prev->next = x->next;
	else
		g->holds = x->next;
	if (x->next)
		x->next->prev = x->prev;
	x->prev = x->next = NULL;
	index_remove(g, x);
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
		EACH_PAIR(g, x->h[i], nd) {
			if (same_set(nd->y, x->uid, vault) && nd->y->s.now > t)
				t = nd->y->s.now;
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
		struct guard_hnode *owner = NULL;

		if (!x->sadd[i])
			continue;
		EACH_PAIR(g, x->h[i], nd) {
			if (nd->y->sid == x->sid && nd->y->sproof == x->sproof) {
				owner = nd;
				break;
			}
		}
		if (owner)
			owner->y->sadd[owner->k] = true;
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
	free(g->hidx);
	g->hidx = NULL;
	g->hcap = g->hcount = 0;
}
