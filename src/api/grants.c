/*
 * The node's side of the shared guard (src/store/guard.c): its take
 * (api_shared_take, at the end), and its grants: for each
 * user, how many more new records this node may let out without asking
 * the database, until a short lease ends, and which ones it let out
 * under the grant (given back, and counted, at the user's next take or
 * by the tick once the lease is over).
 *
 * Why: asking the database at every read costs a transaction of some
 * twenty statements under the user's lock (~0.8 ms on the benchmark's
 * machine), which made a PostgreSQL node 25 times slower than a SQLite
 * one. A grant is reserved in the database against every budget it
 * touches (the user's windows, the session's, the vault's ceiling), so
 * that what all nodes let out never passes a budget; the database hands
 * out at most half of what is left above a reserve of 32 records, so the
 * last records of every budget are still decided one read at a time.
 * What this costs: a budget can look spent up to a lease early on the
 * other nodes (a grant not used up holds its records until it is given
 * back), and a node that dies holding a grant takes its records out of
 * the user's windows until they would have aged out (never fewer: fails
 * closed).
 *
 * A lock on another node stops reads here when the lease ends (0.5 s);
 * this node's own guard refuses a user it locked at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "api_internal.h"

/* Records a grant may hold. A question costs the database some 3 ms
 * whatever it settles, and ~35 us a record settled: at 128 a heavy
 * reader's node asked 60 times a second (docs/scale-out.md, step 7).
 * Only a budget far from spent gets this much (half of what is left above
 * 32); what a dead node's grant holds back is at most this, failing
 * closed, and so is what this node may still let out under a grant in
 * the lease after another node locked the user. */
#define GRANT_CHUNK 512
#define GRANT_LEASE_US 500000		/* how long one may be used */
#define GRANT_WAIT_NS 20000000L		/* for another read's question */
#define GRANT_EXPIRE_US 60000000LL	/* dead nodes' grants, forgotten */
#define GRANT_BUCKETS 256

struct grant {
	struct grant *next;
	char *user, *session;		/* session NULL: none */
	int64_t proof_us, until_us;	/* until: on the guard's clock */
	int64_t made_us;		/* real time, for the tick */
	int64_t last_us;		/* the latest read let out, guard's clock */
	int up;				/* given to a stepped-up read */
	int asking;			/* a thread is asking the database */
	unsigned left;			/* new records it still allows */
	char **let;			/* what it let out */
	size_t nlet, letcap;
	/* LET's index: a read asks whether its record is in LET, under the
	 * node's one lock, at every read; a list walked with strcmp cost a
	 * grant of 512 some 130,000 comparisons. Open addressing, SETCAP a
	 * power of two over twice NLET, each slot an index into LET plus
	 * one (0: empty). */
	uint32_t *set;
	size_t setcap;
};

struct api_grants {
	pthread_mutex_t mu;
	pthread_cond_t cv;		/* a question answered */
	char node[33];			/* this process, in the database */
	int64_t expired_us;		/* the last cv_store_guard_expire */
	struct grant *b[GRANT_BUCKETS];
};

cv_err
api_grants_new(struct api_grants **out)
{
	struct api_grants *g;
	unsigned char id[16];

	*out = NULL;
	if ((g = calloc(1, sizeof *g)) == NULL)
		return CV_ERR_NOMEM;
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	/* A restarted node is another node: the grants of the process
	 * before it are held until they age out, never used again. */
	randombytes_buf(id, sizeof id);
	sodium_bin2hex(g->node, sizeof g->node, id, sizeof id);
	*out = g;
	return CV_OK;
}

/* FNV-1a: the names and ids hashed here are the node's own users' and
 * what they read, not chosen to collide with each other's buckets by
 * anyone but a reader, who slows only their own grant. */
static uint32_t
str_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static void
let_free(char **let, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(let[i]);
	free(let);
}

static void
grant_free(struct grant *e)
{
	free(e->user);
	free(e->session);
	let_free(e->let, e->nlet);
	free(e->set);
	free(e);
}

/* E's list handed away (to a question, which owns it now); the index
 * goes with it. */
static void
let_forget(struct grant *e)
{
	e->let = NULL;
	e->nlet = e->letcap = 0;
	free(e->set);
	e->set = NULL;
	e->setcap = 0;
}

/* Whether RID is in E's list. */
static int
let_has(const struct grant *e, const char *rid)
{
	size_t m;

	if (e->setcap == 0)
		return 0;
	m = e->setcap - 1;
	for (size_t i = str_hash(rid) & m; e->set[i]; i = (i + 1) & m)
		if (strcmp(e->let[e->set[i] - 1], rid) == 0)
			return 1;
	return 0;
}

/* LET[AT] into E's index, which has room. */
static void
set_put(struct grant *e, size_t at)
{
	size_t m = e->setcap - 1, i = str_hash(e->let[at]) & m;

	while (e->set[i])
		i = (i + 1) & m;
	e->set[i] = (uint32_t)at + 1;
}

/* E's index with room for one more of its list (made again, larger,
 * when half full). */
static cv_err
set_fit(struct grant *e)
{
	size_t cap = e->setcap ? e->setcap : 64;
	uint32_t *set;

	if (e->setcap && 2 * (e->nlet + 1) <= e->setcap)
		return CV_OK;
	if (e->nlet >= UINT32_MAX / 4)
		return CV_ERR_NOMEM;
	while (2 * (e->nlet + 1) > cap)
		cap *= 2;
	if ((set = calloc(cap, sizeof *set)) == NULL)
		return CV_ERR_NOMEM;
	free(e->set);
	e->set = set;
	e->setcap = cap;
	for (size_t i = 0; i < e->nlet; i++)
		set_put(e, i);
	return CV_OK;
}

/* RID added to E's list and its index. */
static cv_err
let_add(struct grant *e, const char *rid)
{
	char **p;
	size_t cap;

	if (set_fit(e) != CV_OK)
		return CV_ERR_NOMEM;
	if (e->nlet == e->letcap) {
		cap = e->letcap ? 2 * e->letcap : 32;
		if ((p = realloc(e->let, cap * sizeof *p)) == NULL)
			return CV_ERR_NOMEM;
		e->let = p;
		e->letcap = cap;
	}
	if ((e->let[e->nlet] = strdup(rid)) == NULL)
		return CV_ERR_NOMEM;
	set_put(e, e->nlet++);
	return CV_OK;
}

void
api_grants_free(struct api_grants *g)
{
	if (g == NULL)
		return;
	for (size_t i = 0; i < GRANT_BUCKETS; i++) {
		struct grant *e = g->b[i], *next;

		for (; e; e = next) {
			next = e->next;
			grant_free(e);
		}
	}
	pthread_mutex_destroy(&g->mu);
	pthread_cond_destroy(&g->cv);
	free(g);
}

static struct grant **
slot(struct api_grants *g, const char *user)
{
	struct grant **p;

	for (p = &g->b[str_hash(user) % GRANT_BUCKETS]; *p; p = &(*p)->next)
		if (strcmp((*p)->user, user) == 0)
			break;
	return p;
}

static int
same_id(const struct grant *e, const struct cv_store_take *t)
{
	if (!e->session || !t->session)
		return e->session == t->session;
	return strcmp(e->session, t->session) == 0;
}

static int
same_session(const struct grant *e, const struct cv_store_take *t)
{
	return same_id(e, t) && e->proof_us == t->proof_us;
}

/* How many of T's records E has not let out yet. */
static unsigned
fresh(const struct grant *e, const struct cv_store_take *t)
{
	unsigned n = 0;

	for (size_t i = 0; i < t->n; i++)
		n += !let_has(e, t->rids[i]);
	return n;
}

static cv_err
let_out(struct grant *e, const struct cv_store_take *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (!let_has(e, t->rids[i]) && let_add(e, t->rids[i]) != CV_OK)
			return CV_ERR_NOMEM;
	return CV_OK;
}

enum api_grant_use
api_grants_use(struct api_grants *g, struct cv_store_take *t)
{
	struct grant **p, *e;
	enum api_grant_use u = API_GRANT_EXACT;
	unsigned n;

	if (g == NULL)
		return u;
	pthread_mutex_lock(&g->mu);
	/* Another read of the user is asking: wait for its grant (one
	 * question in flight per user and node), but not for long. */
	for (int waited = 0;; waited++) {
		struct timespec ts;

		e = *(p = slot(g, t->user));
		if (!e || !e->asking)
			break;
		if (waited == 1)
			goto out;	/* still asking: decide exactly */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += GRANT_WAIT_NS;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&g->cv, &g->mu, &ts);
	}
	if (e && e->left && same_session(e, t) && e->up == !!t->stepped_up &&
	    t->now_us < e->until_us &&
	    cv_time_us() - e->made_us < GRANT_LEASE_US &&
	    (n = fresh(e, t)) <= e->left) {
		if (let_out(e, t) == CV_OK) {
			e->left -= n;
			if (t->now_us > e->last_us)
				e->last_us = t->now_us;
			u = API_GRANT_USED;
		}
		/* out of memory: ask (what it let out stays listed) */
		if (u == API_GRANT_USED)
			goto out;
	}
	/* Another session's grant is given back in that session's name
	 * (its records count against its budget, not this one's): by its
	 * next question or the tick. Until then this read asks alone. */
	if (e && !same_id(e, t) && (e->left || e->nlet))
		goto out;
	if (e == NULL) {
		if ((e = calloc(1, sizeof *e)) == NULL ||
		    (e->user = strdup(t->user)) == NULL) {
			free(e);
			goto out;	/* exact, then */
		}
		*p = e;
	}
	/* This read asks, giving back the grant and what it let out. */
	e->asking = 1;
	e->left = 0;
	t->node = g->node;
	t->settle = (const char *const *)e->let;
	t->nsettle = e->nlet;
	/* Counted no earlier than the latest of them was let out (another
	 * thread may have read the clock after this one did). */
	if (e->nlet && e->last_us > t->now_us)
		t->now_us = e->last_us;
	let_forget(e);
	t->chunk = GRANT_CHUNK;
	t->lease_us = GRANT_LEASE_US;
	u = API_GRANT_ASK;
 out:
	pthread_mutex_unlock(&g->mu);
	return u;
}

void
api_grants_done(struct api_grants *g, struct cv_store_take *t, int ok,
    unsigned grant)
{
	struct grant **p, *e;

	if (g == NULL || t->node == NULL)
		return;
	pthread_mutex_lock(&g->mu);
	e = *(p = slot(g, t->user));
	/*
	 * A question that failed gave nothing back: the database still
	 * holds the grant's row, and the next question of this node, which
	 * deletes that row, must count what was let out under it. Nothing
	 * was let out since (the grant was withdrawn when it asked), so the
	 * list goes back as it was.
	 */
	if (!ok && e && e->nlet == 0 && t->nsettle > 0) {
		/* (nlet is 0: while a question is out no read uses the
		 * grant and the tick passes it by.) */
		e->let = (char **)t->settle;
		/* No index: with nothing left, no read looks in the list
		 * before a question or the tick hands it away again. */
		e->nlet = e->letcap = t->nsettle;
		e->asking = 0;
		t->settle = NULL;
		t->nsettle = 0;
		goto out;
	}
	let_free((char **)t->settle, t->nsettle);
	t->settle = NULL;
	t->nsettle = 0;
	if (e != NULL) {
		e->asking = 0;
		free(e->session);
		e->session = t->session ? strdup(t->session) : NULL;
		if (t->session && e->session == NULL)
			grant = 0;	/* cannot tell its session: unused */
		e->proof_us = t->proof_us;
		e->up = !!t->stepped_up;
		e->left = grant;
		e->until_us = t->now_us + GRANT_LEASE_US;
		e->made_us = cv_time_us();
		if (grant == 0) {
			*p = e->next;
			grant_free(e);
		}
	}
 out:
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

/*
 * Gives back, in the database, every grant whose lease is over, with what
 * it let out (counted there). From the main thread, on its own store. A
 * give-back that fails keeps the grant (used no more) and its list, to be
 * tried again a lease later: the database still holds the grant's row,
 * and this node's next question for the user would delete it. When the
 * node stops (ALL), one that fails is dropped: the row, never deleted by
 * this node again (a restarted node is another), holds its records until
 * they would have aged out.
 */
void
api_grants_tick(struct api_grants *g, struct cv_store *db, int all,
    int64_t guard_now)
{
	int64_t now = cv_time_us();
	unsigned failed = 0;

	if (g == NULL || db == NULL)
		return;
	if (now - g->expired_us >= GRANT_EXPIRE_US) {
		g->expired_us = now;
		if (cv_store_guard_expire(db, guard_now) != CV_OK)
			fprintf(stderr, "clearvault serve: cannot age the "
			    "shared guard's idle users and dead grants: %s\n",
			    cv_err_detail());
	}
	for (size_t i = 0; i < GRANT_BUCKETS; i++) {
		for (;;) {
			struct cv_store_take t = { 0 };
			struct grant **p, *e;
			enum cv_store_verdict v;
			unsigned w, back;

			/* Asking for the user, as a read would: left in the
			 * table so that no read asks beside it (the second
			 * question would take this one's grant row away
			 * with the records it let out uncounted). */
			pthread_mutex_lock(&g->mu);
			for (e = g->b[i]; e != NULL; e = e->next)
				if (!e->asking && (all ||
				    now - e->made_us >= GRANT_LEASE_US))
					break;
			if (e)
				e->asking = 1;
			pthread_mutex_unlock(&g->mu);
			if (e == NULL)
				break;
			t.user = e->user;
			t.session = e->session;
			t.proof_us = e->proof_us;
			/* The latest read let out (not the lease's end, which
			 * may be ahead: the user's count, brought forward to
			 * it, would let other records leave its windows
			 * early), or the question's time. */
			t.now_us = e->nlet ? e->last_us : e->until_us -
			    GRANT_LEASE_US;
			t.node = g->node;
			t.settle = (const char *const *)e->let;
			t.nsettle = e->nlet;
			t.stepped_up = 1;
			for (int k = 0; k < 3; k++)
				t.soft[k] = t.hard[k] = t.vhard[k] = UINT32_MAX;
			t.budget = INT32_MAX;
			if (cv_store_guard_take(db, &t, &v, &w, &back) !=
			    CV_OK && ++failed && !all) {
				/* This tick's NOW, not the clock's: the next
				 * pass of this loop must not pick it again. */
				pthread_mutex_lock(&g->mu);
				e->asking = 0;
				e->left = 0;
				e->made_us = now;
				pthread_cond_broadcast(&g->cv);
				pthread_mutex_unlock(&g->mu);
				/* The database is not answering: the others
				 * wait for the next tick, not one timeout
				 * each on the main thread. */
				goto out;
			}
			pthread_mutex_lock(&g->mu);
			for (p = &g->b[i]; *p != e; p = &(*p)->next)
				;
			*p = e->next;
			grant_free(e);
			pthread_cond_broadcast(&g->cv);
			pthread_mutex_unlock(&g->mu);
		}
	}
 out:
	if (failed)	/* one line a tick, however many users */
		fprintf(stderr, "clearvault serve: cannot give back %u "
		    "grant%s of the shared guard (%s): %s\n", failed,
		    failed == 1 ? "" : "s", all ? "held in the database until "
		    "they age out" : "tried again", cv_err_detail());
}

/*
 * A PostgreSQL vault's nodes share one count (src/store/guard.c): once
 * this node's guard allows RD, the store decides it again for every node
 * at once, and a refusal there takes this node's hold back and answers
 * as the guard would. Outside the request's read transaction, whose
 * snapshot would hide the other nodes' reads.
 */
cv_err
api_shared_take(struct req *r, const struct cv_guard_read *rd,
    const struct cv_guard_limits *lim)
{
	struct cv_store *db = api_store(r->srv);
	const struct cv_guard_limits *cl = &r->srv->ceiling;
	struct cv_store_take t = { .user = rd->user, .rids = rd->rids,
	    .n = rd->nrids, .now_us = rd->now_us,
	    .stepped_up = rd->stepped_up };
	static const char *const win[4] = { "", "minute", "hour", "day" };
	enum cv_store_verdict v;
	enum api_grant_use use;
	unsigned w, g;
	cv_err e;

	if (db == NULL || !cv_store_shared(db))
		return db ? CV_OK : CV_ERR_STORE;
	api_read_end(r);
	if (rd->session) {
		t.session = rd->session->id;
		t.proof_us = rd->session->proof_us > r->who.opened_us ?
		    rd->session->proof_us : r->who.opened_us;
		t.budget = rd->session->budget;
	}
	for (int i = 0; i < 3; i++) {
		t.soft[i] = lim->soft[i];
		t.hard[i] = lim->hard[i];
		t.vhard[i] = cl->hard[i];
	}
	if ((use = api_grants_use(r->srv->grants, &t)) == API_GRANT_USED)
		return CV_OK;
	e = cv_store_guard_take(db, &t, &v, &w, &g);
	api_grants_done(r->srv->grants, &t, e == CV_OK, e == CV_OK && v ==
	    CV_TAKE_ALLOW ? g : 0);
	if (e != CV_OK)
		return e;	/* fail closed */
	if (v == CV_TAKE_ALLOW)
		return CV_OK;
	api_guard_settle(r, 0);	/* nothing leaves: the hold goes back */
	if (r->gd.verdict == CV_GUARD_ALLOW_THEN_LOCK) {
		/* A canary touched: refused here, and its lock and alerts
		 * stand whatever the shared count says (else a thief who
		 * spent a budget over other nodes trips one unseen). */
		r->gd.verdict = CV_GUARD_DENY;
		return CV_OK;
	}
	r->gd.nalerts = 0;
	r->gd.locked_now = false;
	switch (v) {
	case CV_TAKE_SESSION:
		r->gd.verdict = CV_GUARD_STEP_UP;
		snprintf(r->gd.reason, sizeof r->gd.reason, "%s",
		    CV_GUARD_SESSION_REASON);
		break;
	case CV_TAKE_STEP_UP:
		r->gd.verdict = CV_GUARD_STEP_UP;
		snprintf(r->gd.reason, sizeof r->gd.reason, "soft per %s, "
		    "all nodes", win[w & 3]);
		break;
	case CV_TAKE_CEILING:
		r->gd.verdict = CV_GUARD_REFUSE;
		snprintf(r->gd.reason, sizeof r->gd.reason, "vault ceiling "
		    "per %s, all nodes", win[w & 3]);
		break;
	case CV_TAKE_DENY:
		/* Past a hard limit on the shared count: locked, as this
		 * node's guard locks at its own. */
		r->gd.verdict = CV_GUARD_DENY;
		snprintf(r->gd.reason, sizeof r->gd.reason, "hard per %s, "
		    "all nodes", win[w & 3]);
		if ((e = cv_guard_lock(r->srv->guard, rd->user, r->gd.reason,
		    rd->now_us)) != CV_OK)
			return e;
		r->gd.locked_now = true;	/* api_lock_decided follows */
		break;
	default:
		r->gd.verdict = CV_GUARD_DENY;
		snprintf(r->gd.reason, sizeof r->gd.reason, "locked on "
		    "another node");
		api_end_sessions(r->srv, db, rd->user);
		break;
	}
	return CV_OK;
}
