/*
 * The review: users and cases from the store, locks from the guard's
 * snapshot, then one pass over the audit log for logins and reads.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../guard/guard.h"
#include "../policy/policy.h"
#include "../scope/scope.h"
#include "access.h"

#define ARENA_CHUNK 65536
#define LOOK_EVERY 262144	/* entries between looks at the clock */

/* Record ids read, one copy per (user, id) pair, in chunks that never
 * move (slots point into them). */
struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	char mem[];
};

struct pair_slot {
	uint64_t hash;
	const char *id;		/* NULL: empty slot */
	uint32_t user;		/* index into the review's users */
};

struct pair_set {
	struct arena_chunk *chunks;
	struct pair_slot *slot;
	size_t nslots, n;
};

struct scan {
	struct cv_access_review *res;
	struct pair_set set;
	int64_t window_from;	/* reads at or after this count */
	uint64_t lock_from;	/* guard.lock entries from here replayed */
	uint64_t total, next_look;
	double t0, last_report;
	int reported;
};

static void
set_free(struct pair_set *s)
{
	struct arena_chunk *c, *next;

	for (c = s->chunks; c; c = next) {
		next = c->next;
		free(c);
	}
	free(s->slot);
	memset(s, 0, sizeof *s);
}

static cv_err
set_grow(struct pair_set *s)
{
	size_t n = s->nslots ? s->nslots * 2 : 1024;
	struct pair_slot *slot = calloc(n, sizeof *slot);

	if (slot == NULL)
		return CV_ERR_NOMEM;
	for (size_t i = 0; i < s->nslots; i++) {
		size_t j;
		if (s->slot[i].id == NULL)
			continue;
		for (j = s->slot[i].hash & (n - 1); slot[j].id;
		    j = (j + 1) & (n - 1))
			;
		slot[j] = s->slot[i];
	}
	free(s->slot);
	s->slot = slot;
	s->nslots = n;
	return CV_OK;
}

/*
 * Adds (USER, the N bytes at ID); *added says whether it was new. FNV-1a
 * as in scope: ids come from log entries that only the vault writes, not
 * from someone choosing keys to collide.
 */
static cv_err
set_add(struct pair_set *s, uint32_t user, const char *id, size_t n,
    int *added)
{
	uint64_t h = 1469598103934665603ULL;
	struct arena_chunk *c;
	size_t j, mask;
	char *copy;
	cv_err r;

	*added = 0;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)id[i]) * 1099511628211ULL;
	h ^= (uint64_t)user * 0x9e3779b97f4a7c15ULL;
	h ^= h >> 29;
	if ((s->n + 1) * 2 > s->nslots && (r = set_grow(s)) != CV_OK)
		return r;
	mask = s->nslots - 1;
	for (j = h & mask; s->slot[j].id; j = (j + 1) & mask) {
		const struct pair_slot *x = &s->slot[j];
		if (x->hash == h && x->user == user &&
		    strncmp(x->id, id, n) == 0 && x->id[n] == '\0')
			return CV_OK;
	}
	c = s->chunks;
	if (c == NULL || c->cap - c->used < n + 1) {
		size_t cap = n + 1 > ARENA_CHUNK ? n + 1 : ARENA_CHUNK;
		if ((c = malloc(sizeof *c + cap)) == NULL)
			return CV_ERR_NOMEM;
		c->next = s->chunks;
		c->used = 0;
		c->cap = cap;
		s->chunks = c;
	}
	copy = c->mem + c->used;
	memcpy(copy, id, n);
	copy[n] = '\0';
	c->used += n + 1;
	s->slot[j] = (struct pair_slot){ .hash = h, .id = copy, .user = user };
	s->n++;
	*added = 1;
	return CV_OK;
}

/* Roles granted no record section read nothing: listed with --all only.
 * A role this build does not know is listed, not silently left out. */
static bool
reads_records(const char *role)
{
	int ro = cv_role_parse(role);

	return ro < 0 || cv_policy_sections((enum cv_role)ro) != 0;
}

struct collect {
	struct cv_access_review *res;
	size_t cap;
	cv_err err;
};

static int
collect_user(void *ctx, const struct cv_store_user *su)
{
	struct collect *c = ctx;
	struct cv_access_review *res = c->res;
	struct cv_access_user *u;

	if (!res->q.all_roles && !reads_records(su->role))
		return 0;
	if (res->nusers == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 32;
		struct cv_access_user *nu = realloc(res->users,
		    cap * sizeof *nu);
		if (nu == NULL) {
			c->err = CV_ERR_NOMEM;
			return 1;
		}
		res->users = nu;
		c->cap = cap;
	}
	u = &res->users[res->nusers++];
	memset(u, 0, sizeof *u);
	snprintf(u->name, sizeof u->name, "%s", su->name);
	snprintf(u->role, sizeof u->role, "%s", su->role);
	u->disabled = su->disabled != 0;
	u->created_us = su->created_us;
	return 0;
}

struct case_list {
	struct cv_access_user *u;
	size_t cap;
	cv_err err;
};

static int
collect_case(void *ctx, const char *id)
{
	struct case_list *c = ctx;
	struct cv_access_user *u = c->u;

	if (u->ncases == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		char **nc = realloc(u->cases, cap * sizeof *nc);
		if (nc == NULL) {
			c->err = CV_ERR_NOMEM;
			return 1;
		}
		u->cases = nc;
		c->cap = cap;
	}
	if ((u->cases[u->ncases] = strdup(id)) == NULL) {
		c->err = CV_ERR_NOMEM;
		return 1;
	}
	u->ncases++;
	return 0;
}

static int
cmp_user(const void *a, const void *b)
{
	return strcmp(((const struct cv_access_user *)a)->name,
	    ((const struct cv_access_user *)b)->name);
}

/* Users with read power (or all) and their cases, sorted by name. */
static cv_err
load_users(struct cv_store *s, struct cv_access_review *res)
{
	struct collect c = { .res = res };
	cv_err r;

	if ((r = cv_store_user_list(s, collect_user, &c)) != CV_OK)
		return r;
	if (c.err != CV_OK)
		return c.err;
	/* The scan looks actors up by binary search: sort here rather than
	 * trust the store's order to be bytewise. */
	if (res->nusers)
		qsort(res->users, res->nusers, sizeof *res->users, cmp_user);
	for (size_t i = 0; i < res->nusers && !res->q.locks_only; i++) {
		struct case_list cl = { .u = &res->users[i] };
		if ((r = cv_store_user_cases(s, res->users[i].name,
		    collect_case, &cl)) != CV_OK)
			return r;
		if (cl.err != CV_OK)
			return cl.err;
	}
	return CV_OK;
}

/*
 * Locks as the server would hold them after a restart: its sealed
 * snapshot (written by keyd at every lock and unlock, and unsealed by
 * keyd: Q->guard_state), then *FROM, the first
 * audit entry the snapshot does not reflect: guard.lock entries from
 * there on are locks too (the scan replays them, as the server does).
 * No snapshot yet (no server has run): no lock but those in the log.
 * A snapshot that does not open is refused, as the server refuses it.
 */
static cv_err
load_locks(const struct cv_access_query *q, struct cv_access_review *res,
    uint64_t *from)
{
	struct cv_buf plain = { 0 };
	struct cv_guard *g = NULL;
	cv_err r;

	*from = 0;
	if (q->guard_state == NULL)
		return cv_fail(CV_ERR_INTERNAL, "access: no way to read the "
		    "guard's state");
	if ((r = q->guard_state(q->guard_ctx, &plain)) == CV_ERR_NOT_FOUND) {
		r = CV_OK;
		goto out;
	}
	if (r != CV_OK)
		goto out;
	if ((r = cv_guard_new(&g)) != CV_OK ||
	    (r = cv_guard_load(g, plain.p, plain.len, from)) != CV_OK)
		goto out;
	for (size_t i = 0; i < res->nusers; i++)
		res->users[i].locked = cv_guard_locked(g, res->users[i].name);
 out:
	cv_buf_free(&plain);	/* wiped: it holds the guard's hashing key */
	cv_guard_free(g);
	return r;
}

static bool
is_action(const struct cv_audit_str *a, const char *name)
{
	size_t n = strlen(name);

	return a->len == n && memcmp(a->p, name, n) == 0;
}

/* The user whose name is the N bytes at S, or NULL. */
static struct cv_access_user *
find_user(const struct cv_access_review *res, const struct cv_audit_str *s)
{
	size_t lo = 0, hi = res->nusers;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *name = res->users[mid].name;
		int c = strncmp(name, s->p, s->len);
		if (c == 0)
			c = name[s->len] == '\0' ? 0 : 1;
		if (c == 0)
			return &res->users[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void
progress(struct scan *x, uint64_t done)
{
	const struct cv_access_query *q = &x->res->q;
	double now;

	x->next_look = done + LOOK_EVERY;
	if (q->progress == NULL)
		return;
	now = cv_now();
	/* Quiet for a second: most reviews are over by then. */
	if (now - x->t0 < 1.0 || now - x->last_report < 0.5)
		return;
	x->last_report = now;
	x->reported = 1;
	q->progress(q->ctx, done, x->total);
}

static cv_err
on_entry(void *ctx, uint64_t index, const uint8_t *leaf, size_t len)
{
	struct scan *x = ctx;
	struct cv_audit_str s;
	struct cv_audit_view v;
	struct cv_access_user *u;
	const struct cv_audit_str *action;
	size_t pos = 0;
	int64_t t;
	int added;
	cv_err r;

	if (index >= x->next_look)
		progress(x, index);
	/* The actor first: most entries belong to nobody under review. */
	if (cv_audit_view_field(leaf, len, CV_AUDIT_ACTOR, &s) != CV_OK)
		goto malformed;
	if ((u = find_user(x->res, &s)) == NULL)
		return CV_OK;
	if (cv_audit_view(leaf, len, &v) != CV_OK)
		goto malformed;
	t = (int64_t)v.time_us;
	action = &v.f[CV_AUDIT_ACTION];
	if (is_action(action, "session.create")) {
		if (v.outcome == CV_AUDIT_ALLOWED && t > u->last_login_us)
			u->last_login_us = t;
		return CV_OK;
	}
	/* As the server's replay (src/api/watch.c): any guard.lock entry
	 * after the snapshot locks its actor. */
	if (is_action(action, "guard.lock")) {
		if (index >= x->lock_from)
			u->locked = true;
		return CV_OK;
	}
	if (t < x->window_from || !cv_scope_returns_data(&v))
		return CV_OK;
	while (cv_audit_view_record(&v, &pos, &s)) {
		if ((r = set_add(&x->set, (uint32_t)(u - x->res->users), s.p,
		    s.len, &added)) != CV_OK)
			return r;
		u->records_read += (uint64_t)added;
	}
	return CV_OK;
 malformed:
	return cv_fail(CV_ERR_FORMAT, "audit entry %llu is malformed: a "
	    "review that skipped it could miss a login or a read; run "
	    "'clearvault audit verify'", (unsigned long long)index);
}

cv_err
cv_access_review(struct cv_store *s, struct cv_audit *a,
    const struct cv_access_query *q, struct cv_access_review **out)
{
	struct cv_access_review *res = NULL;
	struct scan x = { 0 };
	int64_t idle_from;
	cv_err r;

	*out = NULL;
	if (q->window_days < 1 || q->window_days > CV_ACCESS_MAX_DAYS ||
	    q->unused_days < 1 || q->unused_days > CV_ACCESS_MAX_DAYS ||
	    q->now_us <= 0)
		return cv_fail(CV_ERR_INVALID, "access review: bad query");
	if ((res = calloc(1, sizeof *res)) == NULL)
		return CV_ERR_NOMEM;
	res->q = *q;
	x.res = res;
	x.t0 = x.last_report = cv_now();
	x.next_look = LOOK_EVERY;
	x.window_from = q->locks_only ? INT64_MAX :
	    q->now_us - (int64_t)q->window_days * CV_ACCESS_DAY_US;
	if ((r = load_users(s, res)) != CV_OK ||
	    (r = load_locks(q, res, &x.lock_from)) != CV_OK ||
	    (r = cv_audit_settle(a, &x.total)) != CV_OK)
		goto out;
	/* Nobody to review: the log has nothing to say about them. */
	if (res->nusers && (r = cv_audit_scan(a, q->locks_only ?
	    x.lock_from : 0, x.total, on_entry, &x, &res->scanned)) != CV_OK)
		goto out;
	if (x.reported)
		q->progress(q->ctx, res->scanned, x.total);
	idle_from = q->now_us - (int64_t)q->unused_days * CV_ACCESS_DAY_US;
	for (size_t i = 0; i < res->nusers; i++) {
		struct cv_access_user *u = &res->users[i];
		int64_t last = u->last_login_us ? u->last_login_us :
		    u->created_us;
		u->unused = last < idle_from;
		res->nunused += u->unused;
	}
	/* The caller's callbacks and their contexts end with this call. */
	res->q.progress = NULL;
	res->q.ctx = NULL;
	res->q.guard_state = NULL;
	res->q.guard_ctx = NULL;
	res->seconds = cv_now() - x.t0;
	*out = res;
	res = NULL;
 out:
	set_free(&x.set);
	cv_access_review_free(res);
	return r;
}

void
cv_access_review_free(struct cv_access_review *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->nusers; i++) {
		for (size_t k = 0; k < r->users[i].ncases; k++)
			free(r->users[i].cases[k]);
		free(r->users[i].cases);
	}
	free(r->users);
	free(r);
}

const char *
cv_access_state(const struct cv_access_user *u)
{
	return u->disabled ? "disabled" : u->locked ? "locked" : "active";
}

const struct cv_access_user *
cv_access_user(const struct cv_access_review *r, const char *name)
{
	struct cv_audit_str s = { .p = name, .len = strlen(name) };

	return find_user(r, &s);
}
