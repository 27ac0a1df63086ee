/*
 * Record sets: each user's (and the vault pseudo-user's, ceiling.c) keyed
 * hash and last-read second of every record returned in the last day; a
 * record counts in a window when it was last read less than the window's
 * length ago, which is exactly "distinct records returned in the sliding
 * window" at one-second resolution. The set is rebuilt (expired entries
 * dropped, resized) only when it fills, in place through a scratch buffer
 * when the size does not change, so a steady reader costs no allocation.
 */
#include <stdlib.h>
#include <string.h>

#include "guard_internal.h"

const uint32_t guard_window_s[CV_GUARD__WINDOWS] = { MINUTE_S, HOUR_S,
    DAY_S };

#define MIN_SET 8
#define SHRINK_ABOVE 64	/* sets this small are not worth shrinking */
#define FITS(n, cap) ((uint64_t)(n) * 4 <= (uint64_t)(cap) * 3)

cv_err
guard_scratch(struct cv_guard *g, size_t n)
{
	uint64_t *p;
	size_t cap;

	if (n <= g->nscratch)
		return CV_OK;
	for (cap = g->nscratch ? g->nscratch : 64; cap < n; cap *= 2)
		;
	if ((p = malloc(cap * sizeof *p)) == NULL)
		return CV_ERR_NOMEM;
	free(g->scratch);
	g->scratch = p;
	g->nscratch = cap;
	return CV_OK;
}

long
guard_set_find(const struct gu *u, uint64_t h)
{
	size_t mask = (size_t)u->cap - 1, i;

	if (u->cap == 0)
		return -1;
	for (i = (size_t)h & mask; u->rh[i]; i = (i + 1) & mask) {
		if (u->rh[i] == h)
			return (long)i;
	}
	return -1;
}

/* Inserts or refreshes H; the caller made room (FITS(used + 1, cap)). */
void
guard_set_put(struct gu *u, uint64_t h, uint32_t t)
{
	size_t mask = (size_t)u->cap - 1, i;
	uint32_t *tt = gu_times(u);

	for (i = (size_t)h & mask; u->rh[i] && u->rh[i] != h;
	    i = (i + 1) & mask)
		;
	if (u->rh[i] == 0) {
		u->rh[i] = h;
		tt[i] = t;
		u->used++;
	} else if (t > tt[i]) {
		tt[i] = t;
	}
}

static bool
live(uint32_t t, uint32_t now)
{
	return t > (now > DAY_S ? now - DAY_S : 0);
}

/*
 * Drops entries older than a day and sizes the set for EXTRA more. The
 * live entries pass through the guard's scratch buffer (which must not
 * hold anything the caller still needs).
 */
cv_err
guard_set_rebuild(struct cv_guard *g, struct gu *u, uint32_t now,
    size_t extra)
{
	uint32_t *tt = gu_times(u), cap = MIN_SET;
	size_t n = 0, old = (size_t)u->cap * 12;
	uint64_t *keep, *rh;

	for (uint32_t i = 0; i < u->cap; i++)
		n += u->rh[i] && live(tt[i], now);
	while (!FITS(n + extra, cap)) {
		if (cap >= (1u << 30))
			return cv_fail(CV_ERR_LIMIT, "guard: record set full");
		cap *= 2;
	}
	if (guard_scratch(g, 2 * n) != CV_OK)
		return CV_ERR_NOMEM;
	keep = g->scratch;
	n = 0;
	for (uint32_t i = 0; i < u->cap; i++) {
		if (u->rh[i] && live(tt[i], now)) {
			keep[2 * n] = u->rh[i];
			keep[2 * n + 1] = tt[i];
			n++;
		}
	}
	if (cap != u->cap) {
		if ((rh = malloc((size_t)cap * 12)) == NULL)
			return CV_ERR_NOMEM;
		free(u->rh);
		u->rh = rh;
		u->cap = cap;
		u->cnt_until = 0;
		g->set_bytes = g->set_bytes - old + (size_t)cap * 12;
	}
	memset(u->rh, 0, (size_t)u->cap * 12);
	u->used = 0;
	for (size_t i = 0; i < n; i++)
		guard_set_put(u, keep[2 * i], (uint32_t)keep[2 * i + 1]);
	return CV_OK;
}

/* Distinct records in each window: last read less than its length ago. */
void
guard_set_counts(const struct gu *u, uint32_t now,
    uint32_t c[CV_GUARD__WINDOWS])
{
	const uint32_t *tt = gu_times(u);
	uint32_t lo[CV_GUARD__WINDOWS], c0 = 0, c1 = 0, c2 = 0;

	for (int w = 0; w < CV_GUARD__WINDOWS; w++)
		lo[w] = now > guard_window_s[w] ? now - guard_window_s[w] : 0;
	/* Empty slots have time 0, which no window holds. */
	for (uint32_t i = 0; i < u->cap; i++) {
		c0 += tt[i] > lo[0];
		c1 += tt[i] > lo[1];
		c2 += tt[i] > lo[2];
	}
	c[0] = c0;
	c[1] = c1;
	c[2] = c2;
}

/* guard_set_counts, from the cache while no counted record can have
 * left a window since it was filled. */
void
guard_counts(struct gu *u, uint32_t now, uint32_t c[CV_GUARD__WINDOWS])
{
	const uint32_t *tt;
	uint32_t until = UINT32_MAX;

	if (u->cnt_until && now >= u->cnt_at && now < u->cnt_until) {
		u->cnt_at = now;	/* still exact now */
		memcpy(c, u->cnt, sizeof u->cnt);
		return;
	}
	guard_set_counts(u, now, c);
	tt = gu_times(u);
	for (uint32_t i = 0; i < u->cap; i++) {
		for (int w = 0; w < CV_GUARD__WINDOWS; w++) {
			uint32_t lo = now > guard_window_s[w] ?
			    now - guard_window_s[w] : 0;
			if (tt[i] > lo && tt[i] + guard_window_s[w] < until)
				until = tt[i] + guard_window_s[w];
		}
	}
	memcpy(u->cnt, c, sizeof u->cnt);
	u->cnt_at = now;
	u->cnt_until = until;
}

/*
 * The N record hashes H are returned at NOW: into U's set and windows.
 * ADD: how many of them each window did not hold yet (the cached counts
 * grow by that; the new times leave the minute window first).
 */
void
guard_set_add(struct gu *u, const uint64_t *h, size_t n, uint32_t now,
    const uint32_t add[CV_GUARD__WINDOWS])
{
	for (size_t i = 0; i < n; i++)
		guard_set_put(u, h[i], now);
	if (u->cnt_until && now == u->cnt_at) {
		for (int w = 0; w < CV_GUARD__WINDOWS; w++)
			u->cnt[w] += add[w];
		if (n && now + guard_window_s[CV_GUARD_MINUTE] < u->cnt_until)
			u->cnt_until = now + guard_window_s[CV_GUARD_MINUTE];
	} else
		u->cnt_until = 0;
}

/*
 * Room in U's set for N more, before anything is decided, so that nothing
 * can fail once the decision is made; a set that is mostly expired
 * shrinks. A rebuild drops only what no window holds (C: U's counts now),
 * so the counts stay right. Uses the scratch buffer.
 */
cv_err
guard_room(struct cv_guard *g, struct gu *u, uint32_t now,
    const uint32_t c[CV_GUARD__WINDOWS], size_t n)
{
	if (FITS((size_t)u->used + n, u->cap) && !(u->cap > SHRINK_ABOVE &&
	    ((uint64_t)c[CV_GUARD_DAY] + n) * 8 < u->cap))
		return CV_OK;
	return guard_set_rebuild(g, u, now, n);
}
