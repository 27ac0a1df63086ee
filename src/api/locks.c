/*
 * The locks the guard decides, in the server: no lock without its audit
 * entry.
 *
 * A lock holds in memory the moment the guard decides it, and the user's
 * sessions end at once: fail closed. It is kept (guard.state) and
 * announced (alerts) only together with its "guard.lock" entry, which is
 * what replays it after a crash and explains it to whoever reads the log.
 * When the log cannot take that entry (an outage: every reply is a 503
 * then, and nothing leaves), the lock waits here with the alerts of the
 * request that caused it; the entry is retried every second, and once it
 * lands the alerts go out naming it and the guard's state is saved.
 * Meanwhile no snapshot is written, so a server that stops or crashes
 * before the log is back forgets the lock, as the log never heard of the
 * refused requests that led to it either: the log is the truth.
 *
 * And the two-person unlock: each approval is an entry ("users.unlock"),
 * which a restart replays after the locks before it. On a PostgreSQL
 * vault the approvals are rows beside the lock's (src/store/unlocks.c):
 * the two officers may use any two nodes, and every node's guard drops
 * the lock it holds in memory within a tick of the unlock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../policy/policy.h"
#include "api_internal.h"

/* A lock whose entry the log has not taken yet. */
struct unlogged {
	char user[CV_USER_NAME_MAX + 1];
	char reason[64];
	char cert[CV_FINGERPRINT_HEX + 1];
	char source[64];
	char session[17];
	struct cv_guard_alert alerts[CV_GUARD_MAX_ALERTS];
	size_t nalerts;
};

/* A lock row this node wrote or found (a PostgreSQL vault's), by the
 * row's time: an unlock of that row, or of a later time of it, drops the
 * lock this node's guard holds; a lock whose row could not be written is
 * not here, and no unlock noted elsewhere drops it. */
struct known {
	char user[CV_USER_NAME_MAX + 1];
	int64_t since;
};

/* A lock of this node's guard not yet every node's: its row, or the end
 * of the user's sessions, could not be written through the database.
 * Until both are, the user's reads and logins on other nodes are not
 * refused by this lock (found by review: it stayed so for good), so each
 * tick writes them again (share_pending). */
struct unshared {
	char user[CV_USER_NAME_MAX + 1];
	char reason[64];
	int row, sessions;	/* still to write */
};

struct lock_queue {
	pthread_mutex_t mu;
	struct unlogged *q;
	size_t n, cap;		/* N read without the mutex: atomics */
	/* The shared unlocks (under umu, apart from mu). */
	pthread_mutex_t umu;
	struct known *known;
	size_t nknown, capknown;
	int known_loaded;	/* the rows there were at start */
	int64_t unlocked_after;	/* the latest shared unlock seen */
	int unlocks_failing;	/* logged once until they work again */
	struct unshared *pend;	/* under umu too */
	size_t npend, cappend;
	int pend_loaded;	/* the guard's unshared locks, at start */
	int pend_dirty;		/* the guard's marks changed: save */
	size_t pend_at;		/* where the next tick starts */
};

cv_err
api_locks_start(struct server *srv)
{
	if ((srv->locks = calloc(1, sizeof *srv->locks)) == NULL)
		return CV_ERR_NOMEM;
	pthread_mutex_init(&srv->locks->mu, NULL);
	pthread_mutex_init(&srv->locks->umu, NULL);
	return CV_OK;
}

void
api_locks_stop(struct server *srv)
{
	struct lock_queue *lq = srv->locks;

	if (lq == NULL)
		return;
	if (lq->n)
		fprintf(stderr, "clearvault serve: %zu lock(s) never reached "
		    "the audit log; they end with this server\n", lq->n);
	pthread_mutex_destroy(&lq->mu);
	pthread_mutex_destroy(&lq->umu);
	if (lq->npend)
		fprintf(stderr, "clearvault serve: %zu lock(s) never reached "
		    "the other nodes; they hold in this node's guard state, "
		    "and the next start shares them\n", lq->npend);
	free(lq->q);
	free(lq->known);
	free(lq->pend);
	free(lq);
	srv->locks = NULL;
}

int
api_locks_unlogged(struct server *srv)
{
	return srv->locks && __atomic_load_n(&srv->locks->n, __ATOMIC_ACQUIRE);
}

static void
entry_of(const struct unlogged *u, struct cv_audit_entry *e)
{
	memset(e, 0, sizeof *e);
	e->outcome = CV_AUDIT_ALLOWED;
	e->action = "guard.lock";
	e->actor = u->user;
	e->cert = u->cert;
	e->source = u->source;
	e->session = u->session;
	e->reason = u->reason;
}

/* Queues U (copied); on no memory the lock still holds, unlogged. */
static void
queue(struct lock_queue *lq, const struct unlogged *u)
{
	pthread_mutex_lock(&lq->mu);
	if (lq->n == lq->cap) {
		size_t cap = lq->cap ? 2 * lq->cap : 16;
		struct unlogged *p = realloc(lq->q, cap * sizeof *p);
		if (p) {
			lq->q = p;
			lq->cap = cap;
		}
	}
	if (lq->n < lq->cap) {
		lq->q[lq->n] = *u;
		__atomic_store_n(&lq->n, lq->n + 1, __ATOMIC_RELEASE);
	} else {
		/* XXX the next snapshot keeps this lock without its entry:
		 * fail closed rather than forget it in memory too. */
		fprintf(stderr, "clearvault serve: no memory to queue the lock "
		    "of %s for the log\n", u->user);
	}
	pthread_mutex_unlock(&lq->mu);
}

void
api_lock_decided(struct req *r, const char *why)
{
	struct unlogged u;
	struct cv_audit_entry e;
	uint64_t index;

	/* Out of the request's read snapshot first: the lock row and the
	 * ended sessions must be every node's (and this node's other
	 * threads') now, not when the request ends. */
	api_read_end(r);
	api_share_lock(r->srv, api_store(r->srv), r->who.user, why);
	api_end_sessions(r->srv, api_store(r->srv), r->who.user);
	memset(&u, 0, sizeof u);
	snprintf(u.user, sizeof u.user, "%s", r->who.user);
	snprintf(u.reason, sizeof u.reason, "%s", why);
	snprintf(u.cert, sizeof u.cert, "%s", r->cert);
	snprintf(u.source, sizeof u.source, "%s", r->source);
	snprintf(u.session, sizeof u.session, "%s", r->who.session);
	entry_of(&u, &e);
	/* On this thread, durable before it is kept: a lock is rare, and
	 * the request waits for its own entry anyway. */
	if (cv_keyd_append(r->srv->kd, &e, &index) == CV_OK) {
		if (api_guard_save(r->srv) != CV_OK)
			fprintf(stderr, "clearvault serve: cannot save the "
			    "guard's state: %s\n", cv_err_detail());
		return;
	}
	fprintf(stderr, "clearvault serve: the lock of %s could not be logged "
	    "(%s); it holds, and is retried every second\n", u.user,
	    cv_err_detail());
	if (r->srv->locks)
		queue(r->srv->locks, &u);
}

int
api_locks_defer_alerts(struct req *r)
{
	struct lock_queue *lq = r->srv->locks;
	int found = 0;

	if (!api_locks_unlogged(r->srv))
		return 0;
	pthread_mutex_lock(&lq->mu);
	for (size_t i = 0; i < lq->n && !found; i++) {
		struct unlogged *u = &lq->q[i];
		if (strcmp(u->user, r->who.user) != 0)
			continue;
		found = 1;
		for (size_t k = 0; k < r->gd.nalerts &&
		    u->nalerts < CV_GUARD_MAX_ALERTS; k++)
			u->alerts[u->nalerts++] = r->gd.alerts[k];
	}
	pthread_mutex_unlock(&lq->mu);
	return found;
}

/* Takes the queued lock of USER out into *OUT; 0 if it is not there. */
static int
take(struct lock_queue *lq, const char *user, struct unlogged *out)
{
	int found = 0;

	pthread_mutex_lock(&lq->mu);
	for (size_t i = 0; i < lq->n; i++) {
		if (strcmp(lq->q[i].user, user) == 0) {
			*out = lq->q[i];
			lq->q[i] = lq->q[lq->n - 1];
			__atomic_store_n(&lq->n, lq->n - 1, __ATOMIC_RELEASE);
			found = 1;
			break;
		}
	}
	pthread_mutex_unlock(&lq->mu);
	return found;
}

void
api_locks_tick(struct server *srv)
{
	struct lock_queue *lq = srv->locks;
	struct unlogged batch[16], u;
	struct cv_audit_entry e;
	size_t n, logged = 0;
	uint64_t index;

	if (!api_locks_unlogged(srv))
		return;
	/* Copies, so that the fsyncs hold no mutex; the alerts are taken
	 * out with the lock, once its entry is in. */
	pthread_mutex_lock(&lq->mu);
	n = lq->n < 16 ? lq->n : 16;
	memcpy(batch, lq->q, n * sizeof *batch);
	pthread_mutex_unlock(&lq->mu);
	for (size_t i = 0; i < n; i++) {
		entry_of(&batch[i], &e);
		if (cv_keyd_append(srv->kd, &e, &index) != CV_OK)
			break;	/* still down: the next tick */
		logged++;
		if (!take(lq, batch[i].user, &u))
			continue;
		for (size_t k = 0; k < u.nalerts; k++)
			api_guard_alert(srv, u.user, u.session, u.source,
			    &u.alerts[k], 1, &index, 1);
	}
	if (logged && api_guard_save(srv) != CV_OK)
		fprintf(stderr, "clearvault serve: cannot save the guard's "
		    "state: %s\n", cv_err_detail());
}

/* Where USER's known lock row is, or lq->nknown if none (umu held). */
static size_t
known_find(const struct lock_queue *lq, const char *user)
{
	size_t i;

	for (i = 0; i < lq->nknown && strcmp(lq->known[i].user, user); i++)
		;
	return i;
}

/* USER's lock row known at SINCE (umu held); out of memory: not known,
 * and then dropped by no unlock noted elsewhere (fails closed). */
static void
known_set(struct lock_queue *lq, const char *user, int64_t since)
{
	size_t i = known_find(lq, user);

	if (i == lq->nknown) {
		if (lq->nknown == lq->capknown) {
			size_t cap = lq->capknown ? 2 * lq->capknown : 16;
			struct known *k = realloc(lq->known, cap * sizeof *k);

			if (k == NULL)
				return;
			lq->known = k;
			lq->capknown = cap;
		}
		snprintf(lq->known[i].user, sizeof lq->known[i].user, "%s",
		    user);
		lq->nknown++;
	}
	lq->known[i].since = since;
}

/* Whether the lock row of USER this node knows is the one lifted at
 * SINCE, or that row before a later lock of it (every lock gives the
 * row a new since, and resets its approvals); forgotten then (umu
 * held). */
static int
known_lifted(struct lock_queue *lq, const char *user, int64_t since)
{
	size_t i = known_find(lq, user);

	if (i == lq->nknown || lq->known[i].since > since)
		return 0;	/* not known, or locked again since */
	lq->known[i] = lq->known[--lq->nknown];
	return 1;
}

/* Where USER is in the locks still to share, or lq->npend (umu held). */
static size_t
pend_find(const struct lock_queue *lq, const char *user)
{
	size_t i;

	for (i = 0; i < lq->npend && strcmp(lq->pend[i].user, user); i++)
		;
	return i;
}

/*
 * USER's lock to be written again: its row (WHY not NULL) and/or the end
 * of its sessions (umu held). The guard marks it, so that its saved state
 * keeps it for the next start (a crash, a restart after a failover). No
 * memory: the lock holds here only, and this says so.
 */
static int
pend(struct server *srv, const char *user, const char *why, int sessions)
{
	struct lock_queue *lq = srv->locks;
	size_t i = pend_find(lq, user);

	if (i == lq->npend) {
		if (lq->npend == lq->cappend) {
			size_t cap = lq->cappend ? 2 * lq->cappend : 8;
			struct unshared *v = realloc(lq->pend, cap * sizeof *v);

			if (v == NULL) {
				fprintf(stderr, "clearvault serve: no memory to "
				    "retry the lock of %s on other nodes\n",
				    user);
				return 0;
			}
			lq->pend = v;
			lq->cappend = cap;
		}
		memset(&lq->pend[i], 0, sizeof lq->pend[i]);
		snprintf(lq->pend[i].user, sizeof lq->pend[i].user, "%s",
		    user);
		lq->npend++;
	}
	/* Every time, not only for a new entry: the entry may be of a lock
	 * lifted here and decided again since, which the guard keeps as a
	 * new lock without the mark. */
	if (srv->guard && cv_guard_lock_unshared(srv->guard, user, true) ==
	    CV_OK)
		lq->pend_dirty = 1;
	else
		cv_err_clear();	/* here until this server ends */
	if (why) {
		snprintf(lq->pend[i].reason, sizeof lq->pend[i].reason, "%s",
		    why);
		lq->pend[i].row = 1;
	}
	if (sessions)
		lq->pend[i].sessions = 1;
	return 1;
}

/* Lock and pend, for a caller without umu. */
static void
pend_locked(struct server *srv, const char *user, const char *why,
    int sessions)
{
	pthread_mutex_lock(&srv->locks->umu);
	(void)pend(srv, user, why, sessions);
	pthread_mutex_unlock(&srv->locks->umu);
}

/* Whether USER's lock row is still to be written (umu held). */
static int
row_pending(const struct lock_queue *lq, const char *user)
{
	size_t i = pend_find(lq, user);

	return i < lq->npend && lq->pend[i].row;
}

void
api_end_sessions_later(struct server *srv, const char *user)
{
	if (srv->locks == NULL || !api_shared(srv) ||
	    !api_guard_locked(srv, user))
		return;
	pend_locked(srv, user, NULL, 1);
}

struct reshare {
	struct server *srv;
	int failed;		/* one not queued (no memory) */
};

/* A lock the guard kept as unshared before this start: its row and the
 * end of its sessions, written again (pend_load holds umu). */
static void
reshare(void *ctx, const char *user)
{
	struct reshare *rs = ctx;
	struct cv_guard_user_info info;

	cv_guard_user_info(rs->srv->guard, user, api_guard_now(rs->srv),
	    &info);
	fprintf(stderr, "clearvault serve: the lock of %s, from before this "
	    "start, is not every node's yet; its row is written again (every "
	    "second)\n", user);
	if (!pend(rs->srv, user, info.lock_reason[0] ? info.lock_reason :
	    "locked", 1))
		rs->failed = 1;
}

/* Once, before the first look at the rows: the guard's unshared locks.
 * 0 if they could not be listed (no memory): no look at the rows until
 * they are, or an older row could pass for one of theirs. */
static int
pend_load(struct server *srv)
{
	struct lock_queue *lq = srv->locks;
	int loaded;
	struct reshare rs = { srv, 0 };

	pthread_mutex_lock(&lq->umu);
	/* Again until every one is queued (pend finds a queued one by
	 * name). */
	if (!lq->pend_loaded && srv->guard) {
		if (cv_guard_unshared_each(srv->guard, reshare, &rs) == CV_OK &&
		    !rs.failed)
			lq->pend_loaded = 1;
		else
			cv_err_clear();	/* the next look */
	}
	loaded = lq->pend_loaded || srv->guard == NULL;
	pthread_mutex_unlock(&lq->umu);
	return loaded;
}

/*
 * The locks not yet every node's, written again on the tick's handle, no
 * mutex held meanwhile; one whose user this guard no longer holds locked
 * (unlocked here meanwhile) is dropped, not written.
 */
static void
share_pending(struct server *srv)
{
	struct lock_queue *lq = srv->locks;
	struct unshared v[16];
	int64_t since[16];
	int row[16], ses[16], save;
	size_t n, k, at;

	pthread_mutex_lock(&lq->umu);
	if ((n = lq->npend < 16 ? lq->npend : 16) == 0)
		goto out;	/* umu held: a mark may still want saving */
	/* 16 a tick, from where the last tick stopped: an entry that keeps
	 * failing does not keep those after it waiting. */
	at = lq->pend_at % lq->npend;
	for (size_t i = 0; i < n; i++) {
		v[i] = lq->pend[(at + i) % lq->npend];
		if (v[i].row)	/* no unlock noted meanwhile drops it */
			(void)known_lifted(lq, v[i].user, INT64_MAX);
	}
	lq->pend_at = at + n;
	pthread_mutex_unlock(&lq->umu);
	for (size_t i = 0; i < n; i++) {
		row[i] = ses[i] = 0;
		if (!api_guard_locked(srv, v[i].user))
			continue;
		row[i] = v[i].row && cv_store_guard_lock(srv->store,
		    v[i].user, v[i].reason, &since[i]) == CV_OK;
		ses[i] = v[i].sessions && cv_sessions_end_user(srv->sessions,
		    srv->store, v[i].user) == CV_OK;
	}
	pthread_mutex_lock(&lq->umu);
	for (size_t i = 0; i < n; i++) {
		if ((k = pend_find(lq, v[i].user)) == lq->npend)
			continue;
		if (row[i]) {
			lq->pend[k].row = 0;
			known_set(lq, v[i].user, since[i]);
		}
		if (ses[i])
			lq->pend[k].sessions = 0;
		if (!api_guard_locked(srv, v[i].user)) {
			/* Lifted here while the row was written: the row
			 * stands, and two approvals lift it (fails closed). */
			if (row[i])
				fprintf(stderr, "clearvault serve: the lock of "
				    "%s was lifted here as its row was written; "
				    "the row holds until two officers approve\n",
				    v[i].user);
			lq->pend[k].row = lq->pend[k].sessions = 0;
		} else if (!lq->pend[k].row && !lq->pend[k].sessions)
			fprintf(stderr, "clearvault serve: the lock of %s now "
			    "holds on every node\n", v[i].user);
		if (lq->pend[k].row || lq->pend[k].sessions)
			continue;
		lq->pend[k] = lq->pend[--lq->npend];
		/* Not locked any more here: nothing to unmark. */
		if (cv_guard_lock_unshared(srv->guard, v[i].user, false) ==
		    CV_OK)
			lq->pend_dirty = 1;
		else
			cv_err_clear();
	}
 out:
	save = lq->pend_dirty;
	lq->pend_dirty = 0;
	pthread_mutex_unlock(&lq->umu);
	if (save && api_guard_save(srv) != CV_OK) {
		fprintf(stderr, "clearvault serve: cannot save the guard's "
		    "state: %s\n", cv_err_detail());
		pthread_mutex_lock(&lq->umu);
		lq->pend_dirty = 1;	/* the next tick */
		pthread_mutex_unlock(&lq->umu);
	}
}

struct seen {
	char user[CV_USER_NAME_MAX + 1];
	int64_t since;
};

struct seen_list {
	struct seen *v;
	size_t n, cap;
	int nomem;
};

static void
unlock_seen(void *ctx, const char *user, int64_t since)
{
	struct seen_list *l = ctx;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct seen *v = realloc(l->v, cap * sizeof *v);

		if (v == NULL) {
			l->nomem = 1;
			return;
		}
		l->v = v;
		l->cap = cap;
	}
	snprintf(l->v[l->n].user, sizeof l->v[l->n].user, "%s", user);
	l->v[l->n++].since = since;
}

static void
row_found(void *ctx, const char *user, const char *reason, int64_t since)
{
	(void)reason;
	unlock_seen(ctx, user, since);
}

/*
 * The unlocks noted since the last look, read on DB (the caller's
 * handle) with no mutex held, then applied to this node's guard: a lock
 * goes only if this node knows it as the row lifted. Saved if any did.
 * The first look after a start takes the lock rows there are as the
 * rows of the locks this guard holds from before (each was written, or
 * joined, before the restart, unless its write failed then: such a lock
 * is taken for the user's row, if another node made one).
 */
static cv_err
unlocks_sync(struct server *srv, struct cv_store *db)
{
	struct lock_queue *lq = srv->locks;
	struct seen_list l = { 0 }, rows = { 0 };
	unsigned dropped = 0;
	int64_t after;
	int loaded;
	cv_err e = CV_OK;

	/* Before the rows: see row_pending below. */
	if (!pend_load(srv))
		return cv_fail(CV_ERR_NOMEM, "no memory for the locks still "
		    "to share");
	pthread_mutex_lock(&lq->umu);
	after = lq->unlocked_after;
	loaded = lq->known_loaded;
	pthread_mutex_unlock(&lq->umu);
	if (!loaded && (e = cv_store_guard_locks(db, row_found, &rows)) ==
	    CV_OK && rows.nomem)
		e = CV_ERR_NOMEM;
	if (e == CV_OK && (e = cv_store_guard_unlocked(db, &after, unlock_seen,
	    &l)) == CV_OK && l.nomem)
		e = CV_ERR_NOMEM;	/* the cursor stays: read again */
	pthread_mutex_lock(&lq->umu);
	if (e == CV_OK && !lq->known_loaded) {
		/* A lock decided here meanwhile is known by its own write;
		 * one whose row is still to be written is not an older
		 * row's (an unlock of that one must not drop it). */
		for (size_t i = 0; i < rows.n; i++)
			if (known_find(lq, rows.v[i].user) == lq->nknown &&
			    !row_pending(lq, rows.v[i].user))
				known_set(lq, rows.v[i].user, rows.v[i].since);
		lq->known_loaded = 1;
	}
	for (size_t i = 0; e == CV_OK && i < l.n; i++) {
		bool gone = false;

		if (known_lifted(lq, l.v[i].user, l.v[i].since) &&
		    cv_guard_unlock_lifted(srv->guard, l.v[i].user, &gone) ==
		    CV_OK && gone)
			dropped++;
	}
	if (e == CV_OK && after > lq->unlocked_after)
		lq->unlocked_after = after;
	pthread_mutex_unlock(&lq->umu);
	free(l.v);
	free(rows.v);
	if (dropped && api_guard_save(srv) != CV_OK)
		fprintf(stderr, "clearvault serve: cannot save the guard's "
		    "state: %s\n", cv_err_detail());
	return e;
}

void
api_unlocks_tick(struct server *srv)
{
	struct lock_queue *lq = srv->locks;

	if (lq == NULL || srv->guard == NULL || !api_shared(srv))
		return;
	(void)pend_load(srv);
	share_pending(srv);
	if (unlocks_sync(srv, srv->store) != CV_OK) {
		if (!lq->unlocks_failing++)
			fprintf(stderr, "clearvault serve: cannot read the "
			    "unlocks of other nodes (their locks stay held "
			    "here): %s\n", cv_err_detail());
		return;
	}
	lq->unlocks_failing = 0;
}

/*
 * The reasons of a successful "users.unlock" entry: the user, then one of
 * these. Replay reads them back, so they are a format (docs/audit.md).
 */
#define UNLOCK_FIRST " unlock approved (1 of 2)"
#define UNLOCK_SECOND " unlocked (second approval)"

/*
 * An approval of the two-person unlock, from its entry: the user named in
 * REASON approved by ACTOR at T, through the same rule as live, so that a
 * lock, its approvals and a later lock replay in the log's order. An
 * approval the state already holds (the snapshot was saved between the
 * decision and its entry) is refused by that rule and changes nothing.
 */
cv_err
api_unlock_replay(struct server *srv, const char *actor, const char *reason,
    int64_t t)
{
	char user[CV_USER_NAME_MAX + 1];
	size_t n = reason ? strlen(reason) : 0, k = 0;
	bool unlocked;
	cv_err r;

	if (n > strlen(UNLOCK_FIRST) && strcmp(reason + n -
	    strlen(UNLOCK_FIRST), UNLOCK_FIRST) == 0)
		k = n - strlen(UNLOCK_FIRST);
	else if (n > strlen(UNLOCK_SECOND) && strcmp(reason + n -
	    strlen(UNLOCK_SECOND), UNLOCK_SECOND) == 0)
		k = n - strlen(UNLOCK_SECOND);
	if (k == 0 || k >= sizeof user)
		return CV_OK;
	memcpy(user, reason, k);
	user[k] = '\0';
	if (!cv_auth_valid_name(user))
		return CV_OK;
	r = cv_guard_unlock_approve(srv->guard, user, actor, t, &unlocked);
	return r == CV_ERR_NOMEM ? r : CV_OK;
}

void
api_share_lock(struct server *srv, struct cv_store *db, const char *user,
    const char *why)
{
	int64_t since;
	cv_err e;

	/* A new lock here is no row's until its row is written: no unlock
	 * of an earlier row may drop it meanwhile, nor after a failed
	 * write. */
	if (srv->locks) {
		pthread_mutex_lock(&srv->locks->umu);
		(void)known_lifted(srv->locks, user, INT64_MAX);
		pthread_mutex_unlock(&srv->locks->umu);
	}
	/* (The fault: a node whose handles are all taken, for cli_nodes.) */
	if (db == NULL || !cv_store_shared(db) ||
	    cv_fault("locks.no_handle")) {
		if (!api_shared(srv))
			return;
		e = cv_fail(CV_ERR_STORE, "no database handle");
	} else
		e = cv_store_guard_lock(db, user, why, &since);
	if (e != CV_OK) {
		fprintf(stderr, "clearvault serve: the lock of %s holds on this "
		    "node only until its row is written (tried again every "
		    "second): %s\n", user, cv_err_detail());
		if (srv->locks)
			pend_locked(srv, user, why, 0);
		return;
	}
	if (srv->locks) {
		pthread_mutex_lock(&srv->locks->umu);
		known_set(srv->locks, user, since);
		pthread_mutex_unlock(&srv->locks->umu);
	}
}

/* POST /v1/users/{name}/unlock: one of the two officers it takes. */
enum MHD_Result
api_unlock(struct req *r, const char *user)
{
	struct cv_store *db = api_store(r->srv);
	int64_t now = api_guard_now(r->srv), lifted = 0;
	bool unlocked = false, shared = false, gone = false;
	cv_err e = CV_ERR_NOT_FOUND;

	r->action = "users.unlock";
	if (!cv_policy_allows(r->who.role, CV_PERM_GUARD))
		return api_forbidden(r, "only security officers unlock users");
	if (r->srv->guard == NULL)
		return api_problem(r, 409, CV_AUDIT_DENIED, "conflict",
		    "the guard is off");
	if (db == NULL && api_shared(r->srv))
		return api_problem(r, 503, CV_AUDIT_ERROR, "unavailable",
		    "the vault cannot be reached");
	/* A lock row, which every node obeys: its approvals are rows too,
	 * so that they count whichever nodes the officers use. This node's
	 * guard drops its own lock only if it is that row's (a lock it holds
	 * alone, or from before a restart, stays: its own two approvals). */
	if (db != NULL && cv_store_shared(db)) {
		/* Up to date first: the rows of the locks held here (a node
		 * that has just started) and the unlocks noted elsewhere. */
		if ((e = unlocks_sync(r->srv, db)) != CV_OK)
			return api_internal(r, e);
		e = cv_store_guard_unlock_approve(db, user, r->who.user,
		    (int64_t)CV_GUARD_APPROVAL_TTL_S * 1000000, &lifted);
		shared = e == CV_OK;
		unlocked = shared && lifted > 0;
		if (unlocked) {
			int mine;

			pthread_mutex_lock(&r->srv->locks->umu);
			mine = known_lifted(r->srv->locks, user, lifted);
			pthread_mutex_unlock(&r->srv->locks->umu);
			if (mine && cv_guard_unlock_lifted(r->srv->guard, user,
			    &gone) != CV_OK)
				gone = false;
			if (cv_guard_locked(r->srv->guard, user))
				fprintf(stderr, "clearvault serve: %s's lock "
				    "row is lifted; the lock this node holds "
				    "alone stays (two approvals here lift "
				    "it)\n", user);
		}
	}
	/* No row: a lock this node holds alone (its row could not be
	 * written), or a SQLite vault's. */
	if (e == CV_ERR_NOT_FOUND)
		e = cv_guard_unlock_approve(r->srv->guard, user, r->who.user,
		    now, &unlocked);
	if (e == CV_ERR_NOT_FOUND)
		return api_problem(r, 404, CV_AUDIT_DENIED, "not found",
		    "that user is not locked");
	if (e == CV_ERR_AUTH)
		return api_forbidden(r, "a locked officer, or the locked user, "
		    "cannot approve");
	if (e == CV_ERR_EXISTS)
		return api_problem(r, 409, CV_AUDIT_DENIED, "conflict",
		    "you already approved: a second, different security "
		    "officer must");
	if (e != CV_OK)
		return api_internal(r, e);
	/* An approval the database took stands, and its entry must say so
	 * whether or not this node's state is saved (it changed only if a
	 * lock was dropped here); the memory rule's is kept only saved. */
	if ((!shared || gone) && (e = api_guard_save(r->srv)) != CV_OK) {
		if (!shared)
			return api_internal(r, e);
		fprintf(stderr, "clearvault serve: cannot save the guard's "
		    "state: %s\n", cv_err_detail());
	}
	snprintf(r->reason, sizeof r->reason, "%s%s", user, unlocked ?
	    UNLOCK_SECOND : UNLOCK_FIRST);
	return api_json(r, 200, json_pack("{s:s, s:b, s:i}", "user", user,
	    "unlocked", unlocked, "approvals", unlocked ? 2 : 1));
}
