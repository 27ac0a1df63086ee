/*
 * Per-session budgets: the distinct records each session returned since
 * its last TOTP proof (struct cv_guard_session).
 *
 * Why here and not in the session (src/auth): the count is one more
 * budget of the same decision, taken under the guard's mutex with the
 * others, so that reads in flight together cannot pass it and a read that
 * does not leave gives its records back (hold.c), exactly as for the
 * windows; and the guard holds records only as keyed hashes, where a
 * session table would have to hold ids.
 *
 * A session is known by the keyed hash of its public id. Its set is a
 * sorted array of record hashes, emptied when a read brings a later proof
 * than the one it counts from. Sessions are forgotten when the caller
 * says they have ended (cv_guard_sessions_expire), never for being idle:
 * the guard's clock can be simulated, and forgetting a live session would
 * give it a fresh budget.
 */
#include <stdlib.h>
#include <string.h>

#include "guard_internal.h"

#define MIN_TABLE 64

/* Where ID is in T, or the empty slot where it would go (T->cap > 0). */
static struct gsess *
slot(const struct gsessions *t, uint64_t id)
{
	size_t mask = t->cap - 1, i;

	for (i = (size_t)id & mask; t->t[i].id && t->t[i].id != id;
	    i = (i + 1) & mask)
		;
	return &t->t[i];
}

struct gsess *
guard_sess_find(const struct cv_guard *g, uint64_t id)
{
	struct gsess *s;

	if (g->sess.cap == 0 || id == 0)
		return NULL;
	s = slot(&g->sess, id);
	return s->id ? s : NULL;
}

/*
 * T's sessions that end at or after NOW (INT64_MIN: all) moved into a new
 * table of CAP slots; the others freed. On CV_ERR_NOMEM T is unchanged.
 */
static cv_err
rebuild(struct gsessions *t, size_t cap, int64_t now)
{
	struct gsessions n = { .cap = cap, .next_end = INT64_MAX };

	if ((n.t = calloc(cap, sizeof *n.t)) == NULL)
		return CV_ERR_NOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		struct gsess *s = &t->t[i];

		if (s->id == 0)
			continue;
		if (s->ends_us < now) {
			free(s->h);
			continue;
		}
		*slot(&n, s->id) = *s;
		n.n++;
		n.bytes += s->cap * sizeof *s->h;
		if (s->ends_us < n.next_end)
			n.next_end = s->ends_us;
	}
	free(t->t);
	*t = n;
	return CV_OK;
}

cv_err
guard_sess_get(struct cv_guard *g, const struct cv_guard_session *in,
    size_t n, struct gsess **out)
{
	struct gsessions *t = &g->sess;
	uint64_t id = guard_hash(g, DOM_SESSION, in->id);
	struct gsess *s = t->cap ? slot(t, id) : NULL;
	uint64_t *h;
	size_t cap;
	cv_err e;

	*out = NULL;
	if (s == NULL || s->id == 0) {
		if (t->n >= CV_GUARD_MAX_SESSIONS)
			return cv_fail(CV_ERR_LIMIT, "guard: more than %u "
			    "sessions", CV_GUARD_MAX_SESSIONS);
		if ((t->n + 1) * 2 > t->cap && (e = rebuild(t, t->cap ?
		    t->cap * 2 : MIN_TABLE, INT64_MIN)) != CV_OK)
			return e;
		s = slot(t, id);
		memset(s, 0, sizeof *s);
		s->id = id;
		s->proof_us = in->proof_us;
		s->ends_us = in->ends_us;
		s->spent = in->uncounted;
		t->n++;
		if (s->ends_us < t->next_end)
			t->next_end = s->ends_us;
	}
	/* A later proof starts a new count. An earlier one is a request
	 * that authenticated before a step-up and arrived after it: it
	 * counts in the new one, never back in the old. */
	if (in->proof_us > s->proof_us) {
		s->proof_us = in->proof_us;
		s->n = 0;
		s->spent = in->uncounted;
	}
	if (in->ends_us > s->ends_us)
		s->ends_us = in->ends_us;
	/* Room for all of this read before anything is decided: nothing
	 * may fail once it is. */
	if ((uint64_t)s->n + n > s->cap) {
		for (cap = s->cap ? s->cap : 8; cap < s->n + n; cap *= 2)
			;
		if ((h = realloc(s->h, cap * sizeof *h)) == NULL)
			return CV_ERR_NOMEM;
		t->bytes += (cap - s->cap) * sizeof *h;
		s->h = h;
		s->cap = (uint32_t)cap;
	}
	*out = s;
	return CV_OK;
}

/* The first place in sorted A (N long) not below H. */
static size_t
lower_bound(const uint64_t *a, size_t n, uint64_t h)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (a[mid] < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * A read brings a record or a handful; the set may hold thousands (a
 * session with a raised budget, a benchmark's): then one binary search
 * each, not a walk over the whole set. FEW: that case.
 */
#define FEW(n, s) ((n) * 16 < (s)->n)

uint32_t
guard_sess_new(const struct gsess *s, const uint64_t *h, size_t n)
{
	size_t i = 0, j = 0;
	uint32_t k = 0;

	if (FEW(n, s)) {
		for (j = 0; j < n; j++)
			k += guard_sorted_find(s->h, s->n, h[j]) < 0;
		return k;
	}
	/* Both sorted: one merge walk. */
	while (j < n) {
		if (i < s->n && s->h[i] < h[j]) {
			i++;
		} else {
			k += i == s->n || s->h[i] != h[j];
			j++;
		}
	}
	return k;
}

void
guard_sess_add(struct gsess *s, const uint64_t *h, size_t n, bool *added)
{
	size_t i, j, w;

	if (FEW(n, s)) {	/* room made by guard_sess_get */
		for (j = 0; j < n; j++) {
			i = lower_bound(s->h, s->n, h[j]);
			if (added)
				added[j] = i == s->n || s->h[i] != h[j];
			if (i < s->n && s->h[i] == h[j])
				continue;
			memmove(s->h + i + 1, s->h + i, (s->n - i) *
			    sizeof *s->h);
			s->h[i] = h[j];
			s->n++;
		}
		return;
	}
	i = s->n;
	j = n;
	w = s->n + guard_sess_new(s, h, n);

	/* Merged from the back, in place: W - I new ones still to place. */
	s->n = (uint32_t)w;
	while (j > 0) {
		if (i > 0 && s->h[i - 1] > h[j - 1]) {
			s->h[--w] = s->h[--i];
			continue;
		}
		if (added)
			added[j - 1] = i == 0 || s->h[i - 1] != h[j - 1];
		if (i == 0 || s->h[i - 1] != h[j - 1])
			s->h[--w] = h[j - 1];
		j--;
	}
}

long
guard_sorted_find(const uint64_t *a, size_t n, uint64_t h)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a[mid] == h)
			return (long)mid;
		if (a[mid] < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

void
guard_sess_remove(struct gsess *s, uint64_t h)
{
	long k = guard_sorted_find(s->h, s->n, h);

	if (k < 0)
		return;
	memmove(s->h + k, s->h + k + 1, (s->n - (size_t)k - 1) * sizeof *s->h);
	s->n--;
}

void
guard_sess_free(struct gsessions *t)
{
	for (size_t i = 0; i < t->cap; i++)
		free(t->t[i].h);
	free(t->t);
	memset(t, 0, sizeof *t);
}

void
cv_guard_sessions_expire(struct cv_guard *g, int64_t now_us)
{
	struct gsessions *t = &g->sess;
	size_t live = 0, cap = MIN_TABLE;

	guard_lock_mu(g);
	if (t->n == 0 || now_us <= t->next_end)
		goto out;
	for (size_t i = 0; i < t->cap; i++)
		live += t->t[i].id && t->t[i].ends_us >= now_us;
	while (cap < live * 2)
		cap *= 2;
	/* Without memory now, they are dropped at a later call. */
	(void)rebuild(t, cap, now_us);
out:
	guard_unlock_mu(g);
}
