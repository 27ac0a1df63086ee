/*
 * The guard's tables, read budgets and decisions.
 *
 * Users: a dense array in chunks of CHUNK, found through an
 * open-addressing index of keyed user hashes. Each user's record set
 * (set.c) gives the distinct records returned in each sliding window.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard_internal.h"

const struct cv_guard_limits cv_guard_limits_default = {
	.soft = { 10, 100, 300 },
	.hard = { 30, 250, 600 },
};

const char *const guard_window_name[CV_GUARD__WINDOWS] = { "minute",
    "hour", "day" };

/* ---- keys and hashes ---------------------------------------------- */

void
guard_derive(struct cv_guard *g)
{
	static const char *const ctx[DOM__COUNT] = { "clearvault guard user",
	    "clearvault guard record", "clearvault guard case",
	    "clearvault guard address", "clearvault guard session",
	    "clearvault guard peer" };

	for (int i = 0; i < DOM__COUNT; i++)
		crypto_generichash(g->sub[i], sizeof g->sub[i],
		    (const uint8_t *)ctx[i], strlen(ctx[i]), g->key,
		    sizeof g->key);
}

uint64_t
guard_hash(const struct cv_guard *g, int dom, const char *s)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v = 0;

	crypto_shorthash(h, (const uint8_t *)s, strlen(s), g->sub[dom]);
	for (int i = 0; i < 8; i++)
		v = v << 8 | h[i];
	return v ? v : 1;	/* 0 marks empty slots */
}

static uint32_t
hash32(const struct cv_guard *g, int dom, const char *s)
{
	uint64_t v = guard_hash(g, dom, s);

	return (uint32_t)(v >> 32) ? (uint32_t)(v >> 32) : 1;
}

/* ---- users -------------------------------------------------------- */

struct gu *
guard_user_at(const struct cv_guard *g, size_t n)
{
	return &g->chunks[n >> CHUNK_BITS][n & (CHUNK - 1)];
}

struct gu *
guard_find(const struct cv_guard *g, uint64_t id)
{
	size_t mask = g->icap - 1, i;

	if (g->icap == 0)
		return NULL;
	for (i = (size_t)id & mask; g->index[i].id; i = (i + 1) & mask) {
		if (g->index[i].id == id)
			return guard_user_at(g, g->index[i].n);
	}
	return NULL;
}

static void
index_put(struct islot *ix, size_t cap, uint64_t id, uint32_t n)
{
	size_t i;

	for (i = (size_t)id & (cap - 1); ix[i].id; i = (i + 1) & (cap - 1))
		;
	ix[i].id = id;
	ix[i].n = n;
}

cv_err
guard_add_user(struct cv_guard *g, uint64_t id, struct gu **out)
{
	struct gu **ch;
	struct gu *u;

	if (g->nusers >= MAX_USERS)
		return cv_fail(CV_ERR_LIMIT, "guard: more than %u users",
		    MAX_USERS);
	if ((g->nusers + 1) * 2 > g->icap) {
		size_t cap = g->icap ? g->icap * 2 : 1024;
		struct islot *ix = calloc(cap, sizeof *ix);
		if (ix == NULL)
			return CV_ERR_NOMEM;
		for (size_t i = 0; i < g->nusers; i++)
			index_put(ix, cap, guard_user_at(g, i)->id, (uint32_t)i);
		free(g->index);
		g->index = ix;
		g->icap = cap;
	}
	if (g->nusers == g->nchunks * CHUNK) {
		if ((ch = realloc(g->chunks, (g->nchunks + 1) *
		    sizeof *ch)) == NULL)
			return CV_ERR_NOMEM;
		g->chunks = ch;
		if ((ch[g->nchunks] = calloc(CHUNK, sizeof **ch)) == NULL)
			return CV_ERR_NOMEM;
		g->nchunks++;
	}
	u = guard_user_at(g, g->nusers);
	memset(u, 0, sizeof *u);
	u->id = id;
	index_put(g->index, g->icap, id, (uint32_t)g->nusers);
	g->nusers++;
	*out = u;
	return CV_OK;
}

void
guard_free_state(struct cv_guard *g)
{
	for (size_t i = 0; i < g->nusers; i++) {
		struct gu *u = guard_user_at(g, i);
		free(u->rh);
		guard_lock_drop(u);
	}
	for (size_t i = 0; i < g->nchunks; i++)
		free(g->chunks[i]);
	free(g->chunks);
	free(g->index);
	free(g->canary);
	guard_sess_free(&g->sess);
	g->chunks = NULL;
	g->index = NULL;
	g->canary = NULL;
	g->nchunks = g->nusers = g->icap = g->ncanary = 0;
	g->set_bytes = g->nlocks = 0;
}

cv_err
cv_guard_new(struct cv_guard **out)
{
	struct cv_guard *g;

	*out = NULL;
	if (sodium_init() < 0)
		return cv_fail(CV_ERR_CRYPTO, "libsodium failed to start");
	if ((g = calloc(1, sizeof *g)) == NULL)
		return CV_ERR_NOMEM;
	pthread_mutex_init(&g->mu, NULL);
	crypto_shorthash_keygen(g->key);
	guard_derive(g);
	*out = g;
	return CV_OK;
}

void
cv_guard_free(struct cv_guard *g)
{
	if (g == NULL)
		return;
	guard_holds_free(g);
	guard_free_state(g);
	free(g->scratch);
	pthread_mutex_destroy(&g->mu);
	sodium_memzero(g, sizeof *g);
	free(g);
}

/* ---- canaries ------------------------------------------------------ */

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Sorts and deduplicates H[0..n); returns the new length. */
static size_t
sort_unique(uint64_t *h, size_t n)
{
	size_t k;

	if (n < 16) {
		for (size_t i = 1; i < n; i++) {
			uint64_t v = h[i];
			size_t j = i;
			for (; j > 0 && h[j - 1] > v; j--)
				h[j] = h[j - 1];
			h[j] = v;
		}
	} else {
		qsort(h, n, sizeof *h, cmp_u64);
	}
	for (k = 0; k < n; k++) {
		if (k > 0 && h[k] == h[k - 1])
			break;
	}
	for (size_t i = k; i < n; i++) {
		if (h[i] != h[k - 1])
			h[k++] = h[i];
	}
	return n ? k : 0;
}

static bool
canary_has(const struct cv_guard *g, uint64_t h)
{
	return g->ncanary && bsearch(&h, g->canary, g->ncanary,
	    sizeof h, cmp_u64) != NULL;
}

void
guard_lock_mu(const struct cv_guard *g)
{
	pthread_mutex_lock((pthread_mutex_t *)&g->mu);
}

void
guard_unlock_mu(const struct cv_guard *g)
{
	pthread_mutex_unlock((pthread_mutex_t *)&g->mu);
}

cv_err
cv_guard_set_canaries(struct cv_guard *g, const char *const *rids, size_t n)
{
	uint64_t *h = NULL;
	cv_err r = CV_OK;

	if (n && rids == NULL)
		return cv_fail(CV_ERR_INVALID, "guard: no canary ids");
	for (size_t i = 0; i < n; i++) {
		if (rids[i] == NULL || strnlen(rids[i], CV_GUARD_MAX_STR + 1) >
		    CV_GUARD_MAX_STR)
			return cv_fail(CV_ERR_INVALID, "guard: canary %zu is "
			    "missing or too long", i);
	}
	if (n && (h = malloc(n * sizeof *h)) == NULL)
		return CV_ERR_NOMEM;
	guard_lock_mu(g);
	for (size_t i = 0; i < n; i++)
		h[i] = guard_hash(g, DOM_RID, rids[i]);
	free(g->canary);
	g->canary = h;
	g->ncanary = sort_unique(h, n);
	guard_unlock_mu(g);
	return r;
}

bool
cv_guard_is_canary(const struct cv_guard *g, const char *rid)
{
	bool yes;

	if (rid == NULL)
		return false;
	guard_lock_mu(g);
	yes = canary_has(g, guard_hash(g, DOM_RID, rid));
	guard_unlock_mu(g);
	return yes;
}

/* ---- decisions ----------------------------------------------------- */

bool
guard_str_ok(const char *s, bool may_be_null)
{
	return s == NULL ? may_be_null :
	    strnlen(s, CV_GUARD_MAX_STR + 1) <= CV_GUARD_MAX_STR;
}

bool
guard_time_ok(int64_t now_us)
{
	return now_us >= 1000000 && now_us / 1000000 <= (int64_t)UINT32_MAX;
}

static cv_err
validate(const struct cv_guard_read *r)
{
	if (r == NULL || r->user == NULL || r->user[0] == '\0' ||
	    !guard_str_ok(r->user, false))
		return cv_fail(CV_ERR_INVALID, "guard: no user, or too long");
	if (!guard_str_ok(r->addr, true) || !guard_str_ok(r->case_id, true))
		return cv_fail(CV_ERR_INVALID, "guard: address or case too "
		    "long");
	if (r->nrids > CV_GUARD_MAX_RIDS || (r->nrids && r->rids == NULL))
		return cv_fail(CV_ERR_INVALID, "guard: %zu record ids (at most "
		    "%d)", r->nrids, CV_GUARD_MAX_RIDS);
	for (size_t i = 0; i < r->nrids; i++) {
		if (!guard_str_ok(r->rids[i], false))
			return cv_fail(CV_ERR_INVALID, "guard: record id %zu "
			    "missing or too long", i);
	}
	if (r->limits == NULL)
		return cv_fail(CV_ERR_INVALID, "guard: no limits");
	for (int w = 0; w < CV_GUARD__WINDOWS; w++) {
		if (r->limits->soft[w] > r->limits->hard[w])
			return cv_fail(CV_ERR_INVALID, "guard: soft limit above "
			    "hard limit for the %s", guard_window_name[w]);
		if (r->ceiling && r->ceiling->soft[w] > r->ceiling->hard[w])
			return cv_fail(CV_ERR_INVALID, "guard: soft ceiling "
			    "above hard ceiling for the %s",
			    guard_window_name[w]);
	}
	if (!guard_time_ok(r->now_us))
		return cv_fail(CV_ERR_INVALID, "guard: time out of range");
	if (r->session && (r->session->id == NULL || r->session->id[0] ==
	    '\0' || !guard_str_ok(r->session->id, false) ||
	    r->session->budget == 0))
		return cv_fail(CV_ERR_INVALID, "guard: a session without an id "
		    "or a budget");
	if (r->peer && (r->peer[0] == '\0' || !guard_str_ok(r->peer, false)))
		return cv_fail(CV_ERR_INVALID, "guard: an empty or overlong "
		    "peer group");
	return CV_OK;
}

void
guard_alert(struct cv_guard_decision *d, enum cv_guard_severity sev,
    const char *kind, const char *fmt, ...)
{
	struct cv_guard_alert *a;
	va_list ap;
	size_t i;

	if (d->nalerts < CV_GUARD_MAX_ALERTS) {
		a = &d->alerts[d->nalerts++];
	} else {
		/* Full: replace the least severe one if this one is more. */
		for (i = 0, a = &d->alerts[0]; i < d->nalerts; i++) {
			if (d->alerts[i].severity < a->severity)
				a = &d->alerts[i];
		}
		if (a->severity >= sev)
			return;
	}
	a->severity = sev;
	snprintf(a->kind, sizeof a->kind, "%s", kind);
	va_start(ap, fmt);
	vsnprintf(a->detail, sizeof a->detail, fmt, ap);
	va_end(ap);
}

/* Most severe first, otherwise in the order raised. */
static void
sort_alerts(struct cv_guard_decision *d)
{
	for (size_t i = 1; i < d->nalerts; i++) {
		struct cv_guard_alert a = d->alerts[i];
		size_t j = i;
		for (; j > 0 && d->alerts[j - 1].severity < a.severity; j--)
			d->alerts[j] = d->alerts[j - 1];
		d->alerts[j] = a;
	}
}

static void
verdict(struct cv_guard_decision *d, enum cv_guard_verdict v,
    const char *reason)
{
	d->verdict = v;
	snprintf(d->reason, sizeof d->reason, "%s", reason);
}

/* Findings as alerts, their severity set by the score they led to. */
static void
finding_alerts(struct cv_guard_decision *d, const struct finding *f,
    size_t n, uint32_t score)
{
	enum cv_guard_severity sev = score >= SCORE_LOCK ? CV_GUARD_CRITICAL :
	    CV_GUARD_WARNING;

	if (score < SCORE_ALERT)
		return;		/* below the alert threshold: silent */
	for (size_t i = 0; i < n; i++)
		guard_alert(d, sev, f[i].kind, "%s (+%u, score %u)", f[i].detail,
		    f[i].points / SCORE_ONE, score / SCORE_ONE);
}

/* N records of a read have left: learning counters, baseline (and the
 * peer group's, from a learnt user). */
void
guard_learn(struct cv_guard *g, struct gu *u, size_t n,
    const struct signal *s, bool clean)
{
	if (n && u->first_s == 0)
		u->first_s = s->now;
	u->nreads = u->nreads + n > UINT32_MAX ? UINT32_MAX :
	    (uint32_t)(u->nreads + n);
	if (clean && n)
		baseline_learn(u, s->peer ? guard_find(g, s->peer) : NULL, s);
}

/*
 * The records of T leave: into the windows (the user's, and with V the
 * vault's) and, without a hold X, counted as returned at once. With X
 * they are held there until cv_guard_commit or cv_guard_cancel.
 */
static void
give(struct cv_guard *g, struct gu *u, struct gu *v, const struct take *t,
    const struct signal *s, struct cv_guard_hold *x)
{
	if (x) {
		guard_hold_put(g, x, u, v, t, s);
		return;
	}
	guard_set_add(u, t->h, t->n, s->now, t->add);
	if (v)
		guard_set_add(v, t->h, t->n, s->now, t->vadd);
	if (t->sess) {
		guard_sess_add(t->sess, t->h, t->n, NULL);
		guard_holds_claim(g, t->sess->id, t->sess->proof_us, t->h,
		    t->n);
	}
	/* Holds of the same records see this read's time as theirs. */
	guard_holds_raise(g, u->id, v != NULL, t->h, t->n, s->now);
	guard_learn(g, u, t->n, s, t->clean);
}

/* The points of F[0..n) due once the records have left. */
static uint32_t
late_points(const struct finding *f, size_t n)
{
	uint64_t p = 0;

	for (size_t i = 0; i < n; i++)
		p += f[i].late ? f[i].points : 0;
	return p > SCORE_MAX ? SCORE_MAX : (uint32_t)p;
}

/* The window W with the highest index (day, hour, minute) that C + ADD
 * takes past LEVEL, or -1: the longest window names the reason. */
static int
past(const uint32_t *c, const uint32_t *add, const uint32_t *level)
{
	for (int w = CV_GUARD__WINDOWS - 1; w >= 0; w--) {
		if ((uint64_t)c[w] + add[w] > level[w])
			return w;
	}
	return -1;
}

static const char *
soft_reason(int w, bool probation)
{
	static const char *const r[2][CV_GUARD__WINDOWS] = {
		{ "read budget: minute soft limit", "read budget: hour soft "
		    "limit", "read budget: day soft limit" },
		{ "probation budget: minute soft limit", "probation budget: "
		    "hour soft limit", "probation budget: day soft limit" },
	};

	return r[probation][w];
}

/* The pseudo-user of peer group NAME (baseline.c), made if need be. */
static cv_err
peer_user(struct cv_guard *g, const char *name, struct gu **out)
{
	uint64_t id = guard_hash(g, DOM_PEER, name);

	if ((*out = guard_find(g, id)) != NULL)
		return CV_OK;
	return guard_add_user(g, id, out);
}

/*
 * Decides R into D (NULL: observe, an allowed read replayed) and accounts
 * it. With HP, the records of an allowed read are held (*HP) rather than
 * counted as returned.
 */
static cv_err
account(struct cv_guard *g, const struct cv_guard_read *r,
    struct cv_guard_decision *d, struct cv_guard_hold **hp)
{
	static const char *const ceiling_reason[2][CV_GUARD__WINDOWS] = {
		{ "vault ceiling: minute soft limit", "vault ceiling: hour "
		    "soft limit", "vault ceiling: day soft limit" },
		{ "vault ceiling: minute hard limit", "vault ceiling: hour "
		    "hard limit", "vault ceiling: day hard limit" },
	};
	const struct cv_guard_limits *lim = r->limits, *cl = r->ceiling;
	uint32_t now = (uint32_t)(r->now_us / 1000000);
	uint32_t c[CV_GUARD__WINDOWS], add[CV_GUARD__WINDOWS] = { 0 };
	uint32_t vc[CV_GUARD__WINDOWS] = { 0 }, vadd[CV_GUARD__WINDOWS] = { 0 };
	uint32_t lo[CV_GUARD__WINDOWS], score, *tt, *vt = NULL;
	struct finding f[MAX_FINDINGS];
	struct signal s = { 0 };
	struct take t = { 0 };
	struct cv_guard_hold *x = NULL;
	int hard, soft, vhard = -1, vsoft = -1;
	bool canary = false, sover;
	uint64_t *h;
	struct gu *u, *v = NULL, *peer = NULL;
	struct gsess *ss = NULL;
	size_t n, nf;
	cv_err e;

	if ((u = guard_find(g, guard_hash(g, DOM_USER, r->user))) == NULL &&
	    (e = guard_add_user(g, guard_hash(g, DOM_USER, r->user),
	    &u)) != CV_OK)
		return e;
	if (d && (u->flags & GU_LOCKED)) {
		verdict(d, CV_GUARD_DENY, "user locked");
		return CV_OK;
	}
	if (cl && (e = guard_vault_user(g, &v)) != CV_OK)
		return e;
	if (r->peer && (e = peer_user(g, r->peer, &peer)) != CV_OK)
		return e;
	/* Only a decision counts for the session (replay has none). */
	if (d && r->session && (e = guard_sess_get(g, r->session, r->nrids,
	    &ss)) != CV_OK)
		return e;
	/* Both sets' room first: a rebuild uses the scratch buffer, which
	 * then holds this read's hashes. */
	guard_counts(u, now, c);
	if ((e = guard_room(g, u, now, c, r->nrids)) != CV_OK)
		return e;
	if (v) {
		guard_counts(v, now, vc);
		if ((e = guard_room(g, v, now, vc, r->nrids)) != CV_OK)
			return e;
		vt = gu_times(v);
		guard_ceiling_rearm(v, vc, cl);
	}
	if ((e = guard_scratch(g, r->nrids)) != CV_OK)
		return e;
	h = g->scratch;
	for (size_t i = 0; i < r->nrids; i++)
		h[i] = guard_hash(g, DOM_RID, r->rids[i]);
	n = sort_unique(h, r->nrids);
	/* Before anything is decided: nothing may fail after. */
	if (hp && n) {
		if ((e = guard_hold_new(g, n, hp)) != CV_OK)
			return e;
		x = *hp;	/* freed by the caller unless put */
	}
	tt = gu_times(u);
	for (int w = 0; w < CV_GUARD__WINDOWS; w++)
		lo[w] = now > guard_window_s[w] ? now - guard_window_s[w] : 0;
	for (size_t i = 0; i < n; i++) {
		long k = guard_set_find(u, h[i]);
		long kv = v ? guard_set_find(v, h[i]) : -1;
		canary |= canary_has(g, h[i]);
		for (int w = 0; w < CV_GUARD__WINDOWS; w++) {
			add[w] += k < 0 || tt[k] <= lo[w];
			if (v)
				vadd[w] += kv < 0 || vt[kv] <= lo[w];
		}
	}
	hard = past(c, add, lim->hard);
	soft = past(c, add, lim->soft);
	if (v) {
		vhard = past(vc, vadd, cl->hard);
		vsoft = past(vc, vadd, cl->soft);
	}
	sover = ss && (ss->spent ? guard_sess_new(ss, h, n) > 0 :
	    (uint64_t)ss->n + guard_sess_new(ss, h, n) > r->session->budget);

	baseline_decay(u, now);
	baseline_roll_minute(u, now);
	s.now = now;
	s.hour_after = c[CV_GUARD_HOUR] + add[CV_GUARD_HOUR];
	s.new_hour = add[CV_GUARD_HOUR];
	s.misses = r->misses > UINT16_MAX ? UINT16_MAX : r->misses;
	s.search = r->search;
	s.case_h = r->case_id ? hash32(g, DOM_CASE, r->case_id) : 0;
	s.addr_h = r->addr ? hash32(g, DOM_ADDR, r->addr) : 0;
	s.peer = peer ? peer->id : 0;
	s.usual = r->usual_hour;
	t.h = h;
	t.n = n;
	t.add = add;
	t.vadd = vadd;
	t.sess = ss;

	if (d == NULL) {	/* observe: an allowed read, replayed */
		s.returned = true;
		nf = baseline_detect(u, peer, &s, f);
		score = baseline_score_add(u, f, nf);
		baseline_count_attempt(u, &s);
		t.clean = nf == 0 && score < SCORE_ALERT;
		give(g, u, v, &t, &s, NULL);
		/* Past the soft ceiling only with a step-up, after its alert
		 * was raised live: not raised again. */
		if (v && vsoft >= 0)
			v->flags |= GU_CEIL_SOFT;
		return CV_OK;
	}
	if (hard >= 0) {
		baseline_count_attempt(u, &s);
		verdict(d, CV_GUARD_DENY, r->probation ? "probation budget: "
		    "hard limit" : "read budget: hard limit");
		guard_lock_user(g, u, d->reason, now);
		d->locked_now = true;
		guard_alert(d, CV_GUARD_CRITICAL, "budget", "%u distinct "
		    "records in the last %s, %shard limit %u; user locked",
		    c[hard] + add[hard], guard_window_name[hard], r->probation ?
		    "probation (a quarter of the budget) " : "",
		    lim->hard[hard]);
		if (canary)
			guard_alert(d, CV_GUARD_CRITICAL, "canary", "a canary "
			    "record was requested");
		return CV_OK;
	}
	if (vhard >= 0) {
		/* Nobody is locked for what all users read together; a
		 * canary asked for is still the reader's own evidence. */
		baseline_count_attempt(u, &s);
		verdict(d, CV_GUARD_REFUSE, ceiling_reason[1][vhard]);
		guard_ceiling_alert(d, v, cl, vc[vhard] + vadd[vhard], vhard,
		    true);
		if (canary) {
			verdict(d, CV_GUARD_DENY, "canary record requested");
			guard_lock_user(g, u, d->reason, now);
			d->locked_now = true;
			guard_alert(d, CV_GUARD_CRITICAL, "canary", "a canary "
			    "record was requested (refused at the vault "
			    "ceiling); user locked");
		}
		sort_alerts(d);
		return CV_OK;
	}
	if (canary) {
		baseline_count_attempt(u, &s);
		give(g, u, v, &t, &s, x);
		verdict(d, CV_GUARD_ALLOW_THEN_LOCK, "canary record");
		guard_lock_user(g, u, "canary record read", now);
		d->locked_now = true;
		guard_alert(d, CV_GUARD_CRITICAL, "canary", "a canary record "
		    "was read; user locked after this read");
		return CV_OK;
	}
	if (vsoft >= 0)		/* every reader steps up: alert once */
		guard_ceiling_alert(d, v, cl, vc[vsoft] + vadd[vsoft], vsoft,
		    false);
	if (((soft >= 0 || vsoft >= 0) && !r->stepped_up) || sover) {
		s.step_up_refused = true;
		s.returned = false;
	} else {
		s.returned = true;
	}
	nf = baseline_detect(u, peer, &s, f);
	score = baseline_score_add(u, f, nf);
	/* The points that reads in flight bring once they leave count
	 * here already: a burst of parallel reads is judged as a whole. */
	if (x && (score += guard_holds_late(u)) > SCORE_MAX)
		score = SCORE_MAX;
	baseline_count_attempt(u, &s);
	if (score >= SCORE_LOCK) {
		verdict(d, CV_GUARD_DENY, "behaviour score");
		guard_lock_user(g, u, "behaviour score", now);
		d->locked_now = true;
		guard_alert(d, CV_GUARD_CRITICAL, "behaviour", "behaviour score "
		    "%u reached the lock threshold %u; user locked",
		    score / SCORE_ONE, SCORE_LOCK / SCORE_ONE);
		finding_alerts(d, f, nf, score);
	} else if (s.step_up_refused) {
		/* The user's own budget names the reason when several hold
		 * (a step-up answers all of them). */
		verdict(d, CV_GUARD_STEP_UP, soft >= 0 && !r->stepped_up ?
		    soft_reason(soft, r->probation) : sover ?
		    CV_GUARD_SESSION_REASON : ceiling_reason[0][vsoft]);
		finding_alerts(d, f, nf, score);
	} else {
		t.clean = nf == 0 && score < SCORE_ALERT;
		/* Below the lock threshold, so nothing was cut at the
		 * maximum: the points of what is returned come off exactly,
		 * due when the records leave. */
		if (x) {
			t.late = late_points(f, nf);
			u->score -= t.late;
		}
		give(g, u, v, &t, &s, x);
		verdict(d, CV_GUARD_ALLOW, "ok");
		finding_alerts(d, f, nf, score);
	}
	sort_alerts(d);
	return CV_OK;
}

/* check (HOLD NULL) and reserve. */
static cv_err
decide(struct cv_guard *g, const struct cv_guard_read *r,
    struct cv_guard_decision *d, struct cv_guard_hold **hold)
{
	cv_err e;

	memset(d, 0, sizeof *d);
	verdict(d, CV_GUARD_DENY, "guard error");
	if ((e = validate(r)) != CV_OK)
		return e;
	guard_lock_mu(g);
	memset(d, 0, sizeof *d);
	if ((e = account(g, r, d, hold)) != CV_OK) {
		memset(d, 0, sizeof *d);
		verdict(d, CV_GUARD_DENY, "guard error");
	}
	if (hold)
		guard_hold_unused(hold);
	guard_unlock_mu(g);
	return e;
}

cv_err
cv_guard_check(struct cv_guard *g, const struct cv_guard_read *r,
    struct cv_guard_decision *d)
{
	return decide(g, r, d, NULL);
}

cv_err
cv_guard_reserve(struct cv_guard *g, const struct cv_guard_read *r,
    struct cv_guard_decision *d, struct cv_guard_hold **hold)
{
	*hold = NULL;
	return decide(g, r, d, hold);
}

cv_err
cv_guard_observe(struct cv_guard *g, const struct cv_guard_read *r)
{
	cv_err e;

	if ((e = validate(r)) != CV_OK)
		return e;
	guard_lock_mu(g);
	e = account(g, r, NULL, NULL);
	guard_unlock_mu(g);
	return e;
}
