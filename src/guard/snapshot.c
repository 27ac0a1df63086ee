/*
 * Guard snapshots: all state as versioned binary, so that a restarted
 * server resumes budgets, baselines and locks and replays only the audit
 * entries after the snapshot's index. Big-endian throughout:
 *
 *   "cvguard\0"  u32 version (1)  u64 audit index  key[16]
 *   u32 ncanary  ncanary x u64    (strictly ascending, not 0)
 *   u32 nusers   then per user:
 *     u64 id  u32 first_s nreads score score_s minute
 *     u16 miss[2] srch[2] week  u8 flags  u32 acc_hour  u16 acc
 *     NCASES + NADDRS x (u32 hash, u16 day, u8 days)
 *     168 x u8 histogram
 *     u32 nrec  nrec x (u64 hash, u32 time)   (hash, time not 0)
 *     if locked: u32 at, u32 approved_at, u64 approver, u8 n, n bytes
 *     if unshared: u8 n, n bytes (the user's name, hashing to id)
 *   and nothing after.
 *
 * Flags: 1 locked; 2 and 4 (soft / hard ceiling alert raised) only on
 * the vault pseudo-user (ceiling.c), which is never locked; 8 (with 1
 * only) the lock is not yet every node's, and the user's name follows
 * it. Snapshots from before flag 8 never set it and load as they are;
 * those from before the ceiling have no pseudo-user and load as they are.
 * Peer groups (baseline.c) are users too, with a histogram and no
 * records; snapshots without them load as they are. Sessions' budgets
 * (session.c) are not saved: a restart ends every session.
 *
 * The bytes hold the hashing key: the caller seals them. Loading treats
 * them as hostile anyway (a sealed file can still be an old, truncated
 * or buggy one): every count is checked against the bytes left before
 * anything is allocated, and G changes only when all of it is good.
 */
#include <stdlib.h>
#include <string.h>

#include "guard_internal.h"

#define SNAP_MAGIC "cvguard"	/* with its NUL: 8 bytes */
#define SNAP_VERSION 1
#define PLACE_BYTES 7
#define USER_FIXED (8 + 5 * 4 + 5 * 2 + 1 + 6 + (NCASES + NADDRS) * \
    PLACE_BYTES + WEEK_HOURS + 4)
#define REC_BYTES 12
#define MAX_RECS (1u << 26)

struct rec {
	uint64_t h;
	uint32_t t;
};

static int
cmp_rec(const void *a, const void *b)
{
	uint64_t x = ((const struct rec *)a)->h, y = ((const struct rec *)b)->h;

	return x < y ? -1 : x > y;
}

static uint8_t *
put_places(uint8_t *p, const struct place *pl, size_t n)
{
	for (size_t i = 0; i < n; i++, p += PLACE_BYTES) {
		cv_put_u32be(p, pl[i].h);
		cv_put_u16be(p + 4, pl[i].day);
		p[6] = pl[i].days;
	}
	return p;
}

static cv_err
save_user(const struct gu *u, struct cv_buf *out)
{
	uint8_t fix[USER_FIXED], rec[REC_BYTES], *p = fix;
	const uint32_t *tt = gu_times(u);
	struct rec *e = NULL;
	uint32_t nrec = 0;
	cv_err r = CV_OK;

	cv_put_u64be(p, u->id);
	cv_put_u32be(p + 8, u->first_s);
	cv_put_u32be(p + 12, u->nreads);
	cv_put_u32be(p + 16, u->score);
	cv_put_u32be(p + 20, u->score_s);
	cv_put_u32be(p + 24, u->minute);
	cv_put_u16be(p + 28, u->miss[0]);
	cv_put_u16be(p + 30, u->miss[1]);
	cv_put_u16be(p + 32, u->srch[0]);
	cv_put_u16be(p + 34, u->srch[1]);
	cv_put_u16be(p + 36, u->week);
	p[38] = u->flags;
	cv_put_u32be(p + 39, u->acc_hour);
	cv_put_u16be(p + 43, u->acc);
	p = put_places(p + 45, u->cases, NCASES);
	p = put_places(p, u->addrs, NADDRS);
	memcpy(p, u->hist, WEEK_HOURS);
	p += WEEK_HOURS;
	if (u->cap && (e = malloc((size_t)u->cap * sizeof *e)) == NULL)
		return CV_ERR_NOMEM;
	/* Time 0: a hold cancelled (hold.c), in no window. Held records
	 * are saved as held: a snapshot taken meanwhile counts them, which
	 * is stricter at worst, until the next one. */
	for (uint32_t i = 0; i < u->cap; i++) {
		if (u->rh[i] && tt[i]) {
			e[nrec].h = u->rh[i];
			e[nrec++].t = tt[i];
		}
	}
	/* Ascending hashes: one encoding per state, whatever the layout. */
	if (nrec)
		qsort(e, nrec, sizeof *e, cmp_rec);
	cv_put_u32be(p, nrec);
	if ((r = cv_buf_add(out, fix, sizeof fix)) != CV_OK)
		goto out;
	for (uint32_t i = 0; i < nrec; i++) {
		cv_put_u64be(rec, e[i].h);
		cv_put_u32be(rec + 8, e[i].t);
		if ((r = cv_buf_add(out, rec, sizeof rec)) != CV_OK)
			goto out;
	}
	if (u->flags & GU_LOCKED) {
		uint8_t l[17];
		const struct glock *k = u->lock;
		size_t n = k ? strlen(k->reason) : 0;
		cv_put_u32be(l, k ? k->at : 0);
		cv_put_u32be(l + 4, k ? k->approved_at : 0);
		cv_put_u64be(l + 8, k ? k->approver : 0);
		l[16] = (uint8_t)n;
		if ((r = cv_buf_add(out, l, sizeof l)) != CV_OK ||
		    (r = cv_buf_add(out, k ? k->reason : "", n)) != CV_OK)
			goto out;
		if (u->flags & GU_UNSHARED) {	/* k and its name are set */
			l[0] = (uint8_t)strlen(k->name);
			if ((r = cv_buf_add(out, l, 1)) != CV_OK ||
			    (r = cv_buf_add(out, k->name, l[0])) != CV_OK)
				goto out;
		}
	}
out:
	free(e);
	return r;
}

cv_err
cv_guard_save(const struct cv_guard *g, uint64_t audit_index,
    struct cv_buf *out)
{
	uint8_t h[8 + 4 + 8 + crypto_shorthash_KEYBYTES + 4], v[8];
	size_t start = out->len;
	cv_err r;

	pthread_mutex_lock((pthread_mutex_t *)&g->mu);
	memcpy(h, SNAP_MAGIC, 8);
	cv_put_u32be(h + 8, SNAP_VERSION);
	cv_put_u64be(h + 12, audit_index);
	memcpy(h + 20, g->key, sizeof g->key);
	cv_put_u32be(h + 20 + sizeof g->key, (uint32_t)g->ncanary);
	r = cv_buf_add(out, h, sizeof h);
	sodium_memzero(h, sizeof h);
	if (r != CV_OK)
		goto out;
	for (size_t i = 0; i < g->ncanary; i++) {
		cv_put_u64be(v, g->canary[i]);
		if ((r = cv_buf_add(out, v, 8)) != CV_OK)
			goto out;
	}
	cv_put_u32be(v, (uint32_t)g->nusers);
	if ((r = cv_buf_add(out, v, 4)) != CV_OK)
		goto out;
	for (size_t i = 0; i < g->nusers; i++) {
		if ((r = save_user(guard_user_at(g, i), out)) != CV_OK)
			goto out;
	}
out:
	pthread_mutex_unlock((pthread_mutex_t *)&g->mu);
	if (r != CV_OK) {
		sodium_memzero(out->p + start, out->len - start);
		out->len = start;
	}
	return r;
}

/* ---- load ---------------------------------------------------------- */

struct rd {
	const uint8_t *p;
	size_t len, off;
};

/* The next N bytes, or NULL when fewer are left. */
static const uint8_t *
take(struct rd *r, size_t n)
{
	const uint8_t *q;

	if (r->len - r->off < n)
		return NULL;
	q = r->p + r->off;
	r->off += n;
	return q;
}

static cv_err
bad(const struct rd *r, const char *what, size_t user)
{
	if (user == SIZE_MAX)
		return cv_fail(CV_ERR_INVALID, "guard snapshot: %s (at byte "
		    "%zu)", what, r->off);
	return cv_fail(CV_ERR_INVALID, "guard snapshot: user %zu: %s (at "
	    "byte %zu)", user, what, r->off);
}

static const uint8_t *
get_places(const uint8_t *p, struct place *pl, size_t n, bool *ok)
{
	for (size_t i = 0; i < n; i++, p += PLACE_BYTES) {
		pl[i].h = cv_get_u32be(p);
		pl[i].day = cv_get_u16be(p + 4);
		pl[i].days = p[6];
		pl[i].pad = 0;
		if (pl[i].h == 0 ? pl[i].day || pl[i].days : !pl[i].days)
			*ok = false;
		for (size_t j = 0; j < i && pl[i].h; j++) {
			if (pl[j].h == pl[i].h)
				*ok = false;
		}
	}
	return p;
}

static cv_err
load_lock(struct cv_guard *t, struct rd *r, struct gu *u, size_t ui)
{
	const uint8_t *p;
	struct glock *k;
	size_t n;

	if ((p = take(r, 17)) == NULL)
		return bad(r, "truncated in the lock", ui);
	n = p[16];
	if ((u->lock = k = calloc(1, sizeof *k)) == NULL)
		return CV_ERR_NOMEM;
	k->at = cv_get_u32be(p);
	k->approved_at = cv_get_u32be(p + 4);
	k->approver = cv_get_u64be(p + 8);
	if ((k->approved_at == 0) != (k->approver == 0))
		return bad(r, "approval without approver or the reverse", ui);
	if (k->approver == u->id)
		return bad(r, "the locked user approved their own unlock", ui);
	if (n >= sizeof k->reason)
		return bad(r, "lock reason too long", ui);
	if ((p = take(r, n)) == NULL)
		return bad(r, "truncated in the lock reason", ui);
	for (size_t i = 0; i < n; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return bad(r, "control character in the lock reason",
			    ui);
	}
	memcpy(k->reason, p, n);
	if (!(u->flags & GU_UNSHARED))
		return CV_OK;
	if ((p = take(r, 1)) == NULL || (n = p[0]) == 0 ||
	    (p = take(r, n)) == NULL)
		return bad(r, "truncated in the unshared lock's name", ui);
	for (size_t i = 0; i < n; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return bad(r, "control character in the unshared "
			    "lock's name", ui);
	}
	if ((k->name = malloc(n + 1)) == NULL)
		return CV_ERR_NOMEM;
	memcpy(k->name, p, n);
	k->name[n] = '\0';
	/* The name is the one the user is kept under, or it would share
	 * (or fail to share) someone else's lock. */
	if (guard_hash(t, DOM_USER, k->name) != u->id)
		return bad(r, "the unshared lock's name is not its user's",
		    ui);
	return CV_OK;
}

static cv_err
load_user(struct cv_guard *t, struct rd *r, size_t ui)
{
	const uint8_t *p, *q;
	struct gu *u;
	uint32_t nrec, cap = 8;
	uint64_t id, prev = 0;
	bool ok = true;
	cv_err e;

	if ((p = take(r, USER_FIXED)) == NULL)
		return bad(r, "truncated", ui);
	if ((id = cv_get_u64be(p)) == 0)
		return bad(r, "id 0", ui);
	if (guard_find(t, id) != NULL)
		return bad(r, "same id as an earlier user", ui);
	if ((e = guard_add_user(t, id, &u)) != CV_OK)
		return e;
	u->first_s = cv_get_u32be(p + 8);
	u->nreads = cv_get_u32be(p + 12);
	u->score = cv_get_u32be(p + 16);
	u->score_s = cv_get_u32be(p + 20);
	u->minute = cv_get_u32be(p + 24);
	u->miss[0] = cv_get_u16be(p + 28);
	u->miss[1] = cv_get_u16be(p + 30);
	u->srch[0] = cv_get_u16be(p + 32);
	u->srch[1] = cv_get_u16be(p + 34);
	u->week = cv_get_u16be(p + 36);
	u->flags = p[38];
	if (u->flags & ~GU_FLAGS)
		return bad(r, "unknown flags", ui);
	if (id == guard_vault_id(t) ? (u->flags & GU_LOCKED) != 0 :
	    (u->flags & (GU_CEIL_SOFT | GU_CEIL_HARD)) != 0)
		return bad(r, "ceiling flags on a user, or the vault locked",
		    ui);
	if ((u->flags & GU_UNSHARED) && !(u->flags & GU_LOCKED))
		return bad(r, "an unshared lock on a user not locked", ui);
	if (u->score > SCORE_MAX)
		return bad(r, "score out of range", ui);
	if ((u->first_s == 0) != (u->nreads == 0))
		return bad(r, "reads without a first read or the reverse", ui);
	u->acc_hour = cv_get_u32be(p + 39);
	u->acc = cv_get_u16be(p + 43);
	q = get_places(p + 45, u->cases, NCASES, &ok);
	q = get_places(q, u->addrs, NADDRS, &ok);
	if (!ok)
		return bad(r, "malformed usual cases or addresses", ui);
	memcpy(u->hist, q, WEEK_HOURS);
	nrec = cv_get_u32be(q + WEEK_HOURS);
	if (nrec > MAX_RECS || (size_t)nrec > (r->len - r->off) / REC_BYTES)
		return bad(r, "record count larger than the bytes left", ui);
	while (nrec && (uint64_t)nrec * 4 > (uint64_t)cap * 3)
		cap *= 2;
	if (nrec) {
		if ((u->rh = calloc(cap, REC_BYTES)) == NULL)
			return CV_ERR_NOMEM;
		u->cap = cap;
		t->set_bytes += (size_t)cap * REC_BYTES;
	}
	for (uint32_t i = 0; i < nrec; i++) {
		uint64_t h;
		uint32_t ts;
		if ((p = take(r, REC_BYTES)) == NULL)
			return bad(r, "truncated in the records", ui);
		h = cv_get_u64be(p);
		ts = cv_get_u32be(p + 8);
		if (h == 0 || ts == 0)
			return bad(r, "record hash or time 0", ui);
		if (h <= prev)
			return bad(r, "record hashes not strictly ascending",
			    ui);
		prev = h;
		guard_set_put(u, h, ts);
	}
	if (u->flags & GU_LOCKED) {
		t->nlocks++;
		if ((e = load_lock(t, r, u, ui)) != CV_OK)
			return e;
	}
	return CV_OK;
}

static cv_err
load_all(struct cv_guard *t, struct rd *r, uint64_t *audit_index)
{
	const uint8_t *p;
	uint32_t n;
	cv_err e;

	if ((p = take(r, 8)) == NULL || memcmp(p, SNAP_MAGIC, 8) != 0)
		return bad(r, "not a guard snapshot", SIZE_MAX);
	if ((p = take(r, 4)) == NULL)
		return bad(r, "truncated in the header", SIZE_MAX);
	if (cv_get_u32be(p) != SNAP_VERSION)
		return cv_fail(CV_ERR_INVALID, "guard snapshot: version %u "
		    "(this build reads %u)", cv_get_u32be(p), SNAP_VERSION);
	if ((p = take(r, 8 + sizeof t->key + 4)) == NULL)
		return bad(r, "truncated in the header", SIZE_MAX);
	*audit_index = cv_get_u64be(p);
	memcpy(t->key, p + 8, sizeof t->key);
	guard_derive(t);
	n = cv_get_u32be(p + 8 + sizeof t->key);
	if ((size_t)n > (r->len - r->off) / 8)
		return bad(r, "canary count larger than the bytes left",
		    SIZE_MAX);
	if (n && (t->canary = malloc((size_t)n * 8)) == NULL)
		return CV_ERR_NOMEM;
	for (uint32_t i = 0; i < n; i++) {
		if ((p = take(r, 8)) == NULL)
			return bad(r, "truncated in the canaries", SIZE_MAX);
		t->canary[i] = cv_get_u64be(p);
		if (t->canary[i] == 0 ||
		    (i && t->canary[i] <= t->canary[i - 1]))
			return bad(r, "canaries not strictly ascending",
			    SIZE_MAX);
	}
	t->ncanary = n;
	if ((p = take(r, 4)) == NULL)
		return bad(r, "truncated before the users", SIZE_MAX);
	n = cv_get_u32be(p);
	if (n > MAX_USERS || (size_t)n > (r->len - r->off) / USER_FIXED)
		return bad(r, "user count larger than the bytes left",
		    SIZE_MAX);
	for (uint32_t i = 0; i < n; i++) {
		if ((e = load_user(t, r, i)) != CV_OK)
			return e;
	}
	if (r->off != r->len)
		return bad(r, "bytes after the last user", SIZE_MAX);
	return CV_OK;
}

cv_err
cv_guard_load(struct cv_guard *g, const uint8_t *p, size_t len,
    uint64_t *audit_index)
{
	struct cv_guard *t, old;
	struct rd r = { p, len, 0 };
	uint64_t idx = 0;
	cv_err e;

	if (p == NULL && len)
		return cv_fail(CV_ERR_INVALID, "guard snapshot: no bytes");
	if ((t = calloc(1, sizeof *t)) == NULL)
		return CV_ERR_NOMEM;
	if ((e = load_all(t, &r, &idx)) != CV_OK)
		goto out;
	/* All good: swap the state in, keep G's mutex and scratch. */
	pthread_mutex_lock(&g->mu);
	old = *g;
	memcpy(g->key, t->key, sizeof g->key);
	memcpy(g->sub, t->sub, sizeof g->sub);
	g->chunks = t->chunks;
	g->nchunks = t->nchunks;
	g->nusers = t->nusers;
	g->index = t->index;
	g->icap = t->icap;
	g->canary = t->canary;
	g->ncanary = t->ncanary;
	g->set_bytes = t->set_bytes;
	g->nlocks = t->nlocks;
	/* None: sessions end with the server that ran them, and the old
	 * ones' hashes were under the old key. */
	g->sess = t->sess;
	g->gen++;	/* outstanding holds are of the old state */
	pthread_mutex_unlock(&g->mu);
	*t = old;	/* the old state, freed below */
	t->scratch = NULL;
	*audit_index = idx;
out:
	guard_free_state(t);
	sodium_memzero(t, sizeof *t);
	free(t);
	return e;
}
