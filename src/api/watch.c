/*
 * The guard in the server: its state kept across restarts (a sealed
 * snapshot plus the audit entries after it), its verdict on every read
 * before any record leaves storage (the user's budgets, on probation a
 * quarter of them, the session budget and the vault-wide ceiling from
 * clearvault.conf), step-up, sessions that stop at a step-up, and the
 * alerts it raises (DIR/alerts.jsonl, syslog, GET /v1/alerts). Locks and
 * the two-person unlock: locks.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "../config/config.h"
#include "../policy/policy.h"
#include "api_internal.h"

#define ALERTS_MAX_BYTES (64u << 20)
#define ALERTS_REPLY 1000	/* the newest alerts GET /v1/alerts returns */

/*
 * A session refused with "step-up required" that has not stepped up this
 * long after raises "stopped_at_step_up": someone who can answer the
 * step-up does so within a minute or two, a thief holding only a session
 * stops there and would otherwise leave no alert. Tests shorten it with
 * CLEARVAULT_STEP_UP_WAIT_S (seconds, 1 to this; test use only: it can
 * only shorten the wait, never turn the alert off).
 */
#define CV_STEP_UP_WAIT_S 300
#define STOPS_MAX 65536	/* sessions tracked: as many as can live */

/* A session refused with "step-up required", until it steps up or its
 * alert is raised; kept after the alert (so that it is raised once per
 * session) until the session cannot be alive any more. */
struct stop {
	char session[17];
	char user[CV_USER_NAME_MAX + 1];
	char source[64];
	char cert[CV_FINGERPRINT_HEX + 1];
	int64_t at_us;		/* the first refusal, real time */
	uint64_t index;		/* its audit entry, if DURABLE */
	int durable, alerted;
};

struct guard_watch {
	pthread_mutex_t mu;
	struct stop *s;
	size_t n, cap;		/* N read without the mutex: atomics */
	int64_t wait_us;
};

/*
 * The guard's clock. Tests and drills replay a week in seconds:
 * CLEARVAULT_GUARD_CLOCK names a file "START STEP" (seconds); each reading
 * advances by STEP from START, restarting when the file changes. Sessions,
 * TOTP and the log keep real time. ADVANCE 0: the time the next reading
 * will have, without taking it (the tick's: never ahead of the reads).
 */
static int64_t
guard_clock(struct server *srv, int advance)
{
	struct stat sb;
	char buf[64];
	ssize_t n;
	int64_t t;

	if (srv->clock_fd < 0)
		return cv_time_us();
	/* Read through the descriptor opened at start (the worker opens no
	 * file once it runs); the writer rewrites the file in place. */
	pthread_mutex_lock(&srv->clock_mu);
	if (fstat(srv->clock_fd, &sb) == 0 && sb.st_mtim.tv_nsec +
	    sb.st_mtim.tv_sec * 1000000000LL != srv->clock_mtime &&
	    (n = pread(srv->clock_fd, buf, sizeof buf - 1, 0)) > 0) {
		long long start = 0, step = 0;

		buf[n] = '\0';
		if (sscanf(buf, "%lld %lld", &start, &step) == 2) {
			srv->clock_start = start * 1000000;
			srv->clock_step = step * 1000000;
			srv->clock_n = 0;
			srv->clock_mtime = sb.st_mtim.tv_nsec +
			    sb.st_mtim.tv_sec * 1000000000LL;
		}
	}
	t = srv->clock_start ? srv->clock_start + srv->clock_n *
	    srv->clock_step : cv_time_us();
	if (advance)
		srv->clock_n++;
	pthread_mutex_unlock(&srv->clock_mu);
	return t;
}

int64_t
api_guard_now(struct server *srv)
{
	return guard_clock(srv, 1);
}

cv_err
api_guard_save(struct server *srv)
{
	struct cv_buf b = { 0 };
	uint64_t index;
	cv_err r;

	/* A lock is kept only with its entry (locks.c): while one waits
	 * for the log, so does the snapshot, and a crash meanwhile resumes
	 * from the last one and the log, which agree. */
	if (api_locks_unlogged(srv))
		return CV_OK;
	/* The size first: decisions taken meanwhile are in the snapshot and
	 * replayed again at worst, which only makes the guard stricter. */
	pthread_mutex_lock(&srv->save_mu);
	if ((r = cv_audit_size(srv->a, &index)) != CV_OK ||
	    (r = cv_guard_save(srv->guard, index, &b)) != CV_OK)
		goto out;
	/* keyd seals and writes it: this process opens no file. */
	r = cv_keyd_guard_save(srv->kd, b.p, b.len);
 out:
	pthread_mutex_unlock(&srv->save_mu);
	cv_buf_free(&b);
	return r;
}

/* "2026-11-25T10:00:00.123456Z" -> microseconds. */
static int64_t
parse_time(const char *s)
{
	struct tm tm = { 0 };
	unsigned us = 0;

	if (s == NULL || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%6uZ", &tm.tm_year,
	    &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
	    &us) != 7)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) * 1000000 + us;
}

/* One logged entry back into the guard: reads, locks and unlocks. */
static cv_err
replay(struct server *srv, json_t *e)
{
	const char *action = json_string_value(json_object_get(e, "action"));
	const char *actor = json_string_value(json_object_get(e, "actor"));
	const char *outcome = json_string_value(json_object_get(e,
	    "outcome"));
	json_t *recs = json_object_get(e, "records");
	int64_t t = parse_time(json_string_value(json_object_get(e, "time")));
	struct cv_guard_limits lim = { 0 };
	struct cv_guard_read rd = { 0 };
	const char **ids;
	cv_err r;

	if (action == NULL || actor == NULL || *actor == '\0' || t <= 0)
		return CV_OK;
	if (!strcmp(action, "guard.lock"))
		return cv_guard_lock(srv->guard, actor, "replayed from the log",
		    t);
	if (!strcmp(action, "users.unlock") && outcome &&
	    !strcmp(outcome, "allowed"))
		return api_unlock_replay(srv, actor, json_string_value(
		    json_object_get(e, "reason")), t);
	/* Writes count against the budgets as reads do (records.c). */
	if ((strcmp(action, "records.get") && strcmp(action,
	    "records.search") && strcmp(action, "records.update") &&
	    strcmp(action, "records.create")) || outcome == NULL ||
	    strcmp(outcome, "allowed") || json_array_size(recs) == 0)
		return CV_OK;
	if ((ids = calloc(json_array_size(recs), sizeof *ids)) == NULL)
		return CV_ERR_NOMEM;
	for (size_t i = 0; i < json_array_size(recs); i++)
		ids[i] = json_string_value(json_array_get(recs, i));
	rd.user = actor;
	rd.addr = json_string_value(json_object_get(e, "source"));
	rd.case_id = json_string_value(json_object_get(e, "purpose"));
	if (rd.case_id && *rd.case_id == '\0')
		rd.case_id = NULL;
	rd.rids = ids;
	rd.nrids = json_array_size(recs);
	rd.search = !strcmp(action, "records.search");
	rd.now_us = t;
	/* Observe only accounts: the limits matter for deciding, not here,
	 * but must be well-formed. The ceiling's windows count every read,
	 * as they did live. */
	rd.limits = &lim;
	rd.ceiling = &srv->ceiling;
	r = cv_guard_observe(srv->guard, &rd);
	free(ids);
	return r == CV_ERR_INVALID ? CV_OK : r;
}

/* The guard's settings: clearvault.conf, and the test-only wait. */
static cv_err
settings(struct server *srv)
{
	const char *w = getenv("CLEARVAULT_STEP_UP_WAIT_S");
	struct cv_config cfg;
	cv_err r;

	if ((r = cv_config_load(cv_vault_dir(srv->v), &cfg)) != CV_OK)
		return r;
#ifndef CV_TEST_HOOKS
	{
		/* A simulated guard clock rewinds budgets: in a release
		 * build only a drill's scratch vault takes one. */
		char marker[1200];
		struct stat sb;
		const char *c = getenv("CLEARVAULT_GUARD_CLOCK");

		if (c && *c && (cv_path(marker, sizeof marker, "%s/drill-vault",
		    cv_vault_dir(srv->v)) != CV_OK || stat(marker, &sb) != 0))
			return cv_fail(CV_ERR_CONFIG, "CLEARVAULT_GUARD_CLOCK is "
			    "for drills and tests: this vault is neither");
	}
#endif
	{
		/* The simulated clock's file, opened now (made empty if it
		 * is not there yet: the drill writes it later, in place). */
		const char *c = getenv("CLEARVAULT_GUARD_CLOCK");

		if (c && *c && (srv->clock_fd = open(c, O_RDONLY | O_CREAT |
		    O_CLOEXEC, 0600)) < 0)
			return cv_fail(CV_ERR_IO, "%s: %s", c, strerror(errno));
	}
	srv->ceiling.soft[CV_GUARD_MINUTE] = UINT32_MAX;
	srv->ceiling.hard[CV_GUARD_MINUTE] = UINT32_MAX;
	srv->ceiling.soft[CV_GUARD_HOUR] = cfg.ceiling_hour[0];
	srv->ceiling.hard[CV_GUARD_HOUR] = cfg.ceiling_hour[1];
	srv->ceiling.soft[CV_GUARD_DAY] = cfg.ceiling_day[0];
	srv->ceiling.hard[CV_GUARD_DAY] = cfg.ceiling_day[1];
	srv->probation_days = cfg.probation_days;
	srv->session_records = cfg.session_records;
	srv->watch->wait_us = (int64_t)CV_STEP_UP_WAIT_S * 1000000;
	if (w && *w) {
		char *end;
		long v = strtol(w, &end, 10);
		if (*end || end == w || v < 1 || v > CV_STEP_UP_WAIT_S)
			return cv_fail(CV_ERR_INVALID, "CLEARVAULT_STEP_UP_"
			    "WAIT_S must be 1 to %d seconds", CV_STEP_UP_WAIT_S);
		srv->watch->wait_us = (int64_t)v * 1000000;
	}
	return CV_OK;
}

cv_err
api_guard_start(struct server *srv)
{
	char **ids = NULL;
	uint64_t from = 0, size;
	struct cv_buf leaf = { 0 }, plain = { 0 };
	size_t n = 0;
	cv_err r;

	if ((r = cv_guard_new(&srv->guard)) != CV_OK ||
	    (r = api_locks_start(srv)) != CV_OK ||
	    (api_shared(srv) && (r = api_grants_new(&srv->grants)) != CV_OK))
		return r;
	if ((srv->watch = calloc(1, sizeof *srv->watch)) == NULL)
		return CV_ERR_NOMEM;
	pthread_mutex_init(&srv->watch->mu, NULL);
	if ((r = settings(srv)) != CV_OK)
		return r;
	/* A snapshot that does not open is refused, not ignored: the
	 * guard's memory of locks is not to be wiped by a bad file. */
	r = cv_keyd_guard_load(srv->kd, &plain);
	if (r == CV_OK && (r = cv_guard_load(srv->guard, plain.p, plain.len,
	    &from)) != CV_OK) {
		char d[256];

		snprintf(d, sizeof d, "%s", cv_err_detail());
		cv_err_set("%s/guard.state: %s", cv_vault_dir(srv->v), d);
		goto out;
	} else if (r != CV_OK && r != CV_ERR_NOT_FOUND)
		goto out;
	/* The canary list is the truth; the snapshot's copy may be older.
	 * A list that is missing or wrong stops the start (fail closed). */
	if ((r = cv_vault_canaries_stamp(srv->v, &srv->canaries_stamp)) !=
	    CV_OK ||
	    (r = cv_vault_canaries(srv->v, &ids, &n)) != CV_OK ||
	    (r = cv_guard_set_canaries(srv->guard, (const char *const *)ids,
	    n)) != CV_OK)
		goto out;
	/* What happened after the snapshot, from the log. */
	if ((r = cv_audit_size(srv->a, &size)) != CV_OK)
		goto out;
	for (uint64_t i = from; i < size; i++) {
		json_t *e = NULL;

		leaf.len = 0;
		if ((r = cv_audit_leaf(srv->a, i, &leaf)) != CV_OK ||
		    (r = cv_audit_decode(leaf.p, leaf.len, &e)) != CV_OK)
			goto out;
		r = replay(srv, e);
		json_decref(e);
		if (r != CV_OK)
			goto out;
	}
	srv->guard_replayed = size - from;
	r = CV_OK;
 out:
	cv_buf_free(&plain);
	free(ids);
	cv_buf_free(&leaf);
	return r;
}

static void watch_tick(struct server *srv);

void
api_guard_tick(struct server *srv)
{
	char **ids = NULL;
	int64_t m;
	size_t n;

	if (srv->guard == NULL)
		return;
	api_locks_tick(srv);
	api_unlocks_tick(srv);
	api_grants_tick(srv->grants, srv->store, 0, guard_clock(srv, 0));
	watch_tick(srv);
	/* Sessions end in real time, whatever the guard's clock says. */
	cv_guard_sessions_expire(srv->guard, cv_time_us());
	/* A load while the server runs brings new canaries: the guard
	 * knows them within a second. */
	if (cv_vault_canaries_stamp(srv->v, &m) != CV_OK ||
	    m == srv->canaries_stamp)
		return;
	if (cv_vault_canaries(srv->v, &ids, &n) == CV_OK &&
	    cv_guard_set_canaries(srv->guard, (const char *const *)ids, n) ==
	    CV_OK)
		srv->canaries_stamp = m;
	else
		fprintf(stderr, "clearvault serve: cannot reload the canaries: "
		    "%s\n", cv_err_detail());
	free(ids);
}

void
api_guard_stop(struct server *srv)
{
	if (srv->guard == NULL)
		return;
	api_locks_tick(srv);	/* a last chance for locks to be logged */
	if (api_guard_save(srv) != CV_OK)
		fprintf(stderr, "clearvault serve: cannot save the guard's "
		    "state: %s\n", cv_err_detail());
	api_locks_stop(srv);
	/* What this node let out under its grants is counted before it
	 * goes, every grant given back: the server takes no more
	 * requests (its daemon stopped first), so none lets out more. */
	api_grants_tick(srv->grants, srv->store, 1, guard_clock(srv, 0));
	api_grants_free(srv->grants);
	srv->grants = NULL;
	cv_guard_free(srv->guard);
	srv->guard = NULL;
	if (srv->watch) {
		pthread_mutex_destroy(&srv->watch->mu);
		free(srv->watch->s);
		free(srv->watch);
		srv->watch = NULL;
	}
}

static const char *const severities[] = { "info", "warning", "critical" };

void
api_guard_alert(struct server *srv, const char *user, const char *session,
    const char *source, const struct cv_guard_alert *al, int locked,
    const uint64_t *indices, size_t n)
{
	struct cv_keyd_alert a = { .kind = al->kind,
	    .severity = severities[al->severity], .user = user,
	    .detail = al->detail, .source = source, .session = session,
	    .vault_id = cv_vault_id(srv->v), .locked = locked,
	    .indices = indices, .n = n };

	cv_keyd_alert_emit(srv->alerts_fd, &a);
	__atomic_add_fetch(&srv->alerts, 1, __ATOMIC_RELAXED);
	api_metrics_alert(srv->metrics, al->severity);
}

/*
 * The stopped-session bookkeeping of a logged request: a "step-up
 * required" refusal starts the wait for its session (the first one
 * counts), a request of a waiting session that has stepped up since ends
 * it. A successful POST /v1/session/step-up is such a request: it carries
 * the new step-up time.
 */
static void
watch_note(struct req *r, uint64_t index, int durable)
{
	struct guard_watch *w = r->srv->watch;
	struct stop *st = NULL;
	size_t i;

	if (w == NULL || r->who.session[0] == '\0' || (r->step_up_refused_us ==
	    0 && __atomic_load_n(&w->n, __ATOMIC_ACQUIRE) == 0))
		return;
	/* XXX a linear search on the committer thread while any session
	 * is tracked: fine for the few sessions a day that meet a step-up
	 * (and the table is empty on the fast path); a hash table if that
	 * ever grows. */
	pthread_mutex_lock(&w->mu);
	for (i = 0; i < w->n; i++) {
		if (strcmp(w->s[i].session, r->who.session) == 0) {
			st = &w->s[i];
			break;
		}
	}
	if (st && !st->alerted && r->who.stepped_up_us >= st->at_us) {
		w->s[i] = w->s[w->n - 1];
		__atomic_store_n(&w->n, w->n - 1, __ATOMIC_RELEASE);
	} else if (st == NULL && r->step_up_refused_us) {
		if (w->n == w->cap && w->cap < STOPS_MAX) {
			size_t cap = w->cap ? 2 * w->cap : 64;
			struct stop *p = realloc(w->s, cap * sizeof *p);
			if (p) {
				w->s = p;
				w->cap = cap;
			}
		}
		if (w->n == w->cap) {
			fprintf(stderr, "clearvault serve: too many sessions "
			    "stopped at a step-up to watch\n");
			goto out;
		}
		st = &w->s[w->n];
		memset(st, 0, sizeof *st);
		snprintf(st->session, sizeof st->session, "%s", r->who.session);
		snprintf(st->user, sizeof st->user, "%s", r->who.user);
		snprintf(st->source, sizeof st->source, "%s", r->source);
		snprintf(st->cert, sizeof st->cert, "%s", r->cert);
		st->at_us = r->step_up_refused_us;
		st->index = index;
		st->durable = durable;
		__atomic_store_n(&w->n, w->n + 1, __ATOMIC_RELEASE);
	}
 out:
	pthread_mutex_unlock(&w->mu);
}

void
api_guard_settle(struct req *r, int left)
{
	if (r->hold == NULL)
		return;
	if (left)
		cv_guard_commit(r->srv->guard, r->hold);
	else
		cv_guard_cancel(r->srv->guard, r->hold);
	r->hold = NULL;
}

void
api_guard_emit(struct req *r, uint64_t index, int durable)
{
	/* Durable: the reply goes out with the records; not: a 503. */
	api_guard_settle(r, durable);
	watch_note(r, index, durable);
	/* A lock not on the log yet is announced with its entry. */
	if (!durable && r->gd.locked_now && api_locks_defer_alerts(r))
		return;
	for (size_t i = 0; i < r->gd.nalerts; i++)
		api_guard_alert(r->srv, r->who.user, r->who.session, r->source,
		    &r->gd.alerts[i], r->gd.locked_now, &index, durable ? 1 : 0);
}

/*
 * Raises the stopped-session alert of ST: an audit entry (action
 * "guard.alert") first, durable, then the alert naming the refusal and
 * that entry. A user locked meanwhile was alerted on already.
 */
static void
stopped_alert(struct server *srv, const struct stop *st, int64_t wait_us)
{
	struct cv_guard_alert al = { .severity = CV_GUARD_WARNING,
	    .kind = "stopped_at_step_up" };
	struct cv_audit_entry e = { .outcome = CV_AUDIT_ALLOWED,
	    .action = "guard.alert", .actor = st->user, .cert = st->cert,
	    .source = st->source, .session = st->session };
	uint64_t idx[2];
	char reason[160];
	size_t n = 0;

	if (api_guard_locked(srv, st->user))
		return;
	snprintf(al.detail, sizeof al.detail, "a session refused with "
	    "\"step-up required\" did not step up within %lld s",
	    (long long)(wait_us / 1000000));
	snprintf(reason, sizeof reason, "stopped_at_step_up: no step-up "
	    "within %lld s of the refusal%s", (long long)(wait_us / 1000000),
	    st->durable ? "" : " (its entry was not logged)");
	e.reason = reason;
	if (st->durable)
		idx[n++] = st->index;
	if (cv_keyd_append(srv->kd, &e, &idx[n]) == CV_OK)
		n++;
	else
		fprintf(stderr, "clearvault serve: an alert could not be "
		    "logged: %s\n", cv_err_detail());
	api_guard_alert(srv, st->user, st->session, st->source, &al, 0, idx, n);
}

/* Sessions whose wait is over: alerted once each, outside the mutex
 * (the log's fsync is not to hold the committer's bookkeeping). */
static void
watch_tick(struct server *srv)
{
	struct guard_watch *w = srv->watch;
	struct stop due[64];
	size_t ndue = 0, j = 0;
	int64_t now = cv_time_us();

	if (w == NULL || __atomic_load_n(&w->n, __ATOMIC_ACQUIRE) == 0)
		return;
	pthread_mutex_lock(&w->mu);
	for (size_t i = 0; i < w->n; i++) {
		struct stop *st = &w->s[i];
		if (st->alerted && now - st->at_us >
		    (int64_t)CV_SESSION_MAX_S * 1000000)
			continue;	/* the session is over: dropped */
		if (!st->alerted && now - st->at_us >= w->wait_us &&
		    ndue < sizeof due / sizeof due[0]) {
			st->alerted = 1;
			due[ndue++] = *st;
		}
		w->s[j++] = *st;
	}
	__atomic_store_n(&w->n, j, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&w->mu);
	for (size_t i = 0; i < ndue; i++)
		stopped_alert(srv, &due[i], w->wait_us);
}

/*
 * The guard's decision on R (into r->gd), and its consequences: a lock
 * ends the user's sessions, a ceiling crossing is saved at once (one
 * alert per crossing, a crash notwithstanding).
 */
static cv_err
decide(struct req *r, const char *const *rids, size_t n, unsigned misses,
    int search)
{
	struct cv_guard_limits lim;
	struct cv_guard_read rd = { 0 };
	/* The session's last TOTP proof: its login (every session starts
	 * with one; its own id tells sessions apart) or its last step-up. */
	struct cv_guard_session sess = { .id = r->who.session,
	    .proof_us = r->who.stepped_up_us, .ends_us = r->who.expires_us,
	    .budget = r->srv->session_records,
	    /* Its last proof before this process: counted by a server
	     * gone, so taken as spent. Not on a PostgreSQL vault, whose
	     * count is the database's, across nodes and restarts
	     * (api_shared_take decides after this): a node started after the
	     * login would step up, score and lock every such session. */
	    .uncounted = !api_shared(r->srv) && (r->who.stepped_up_us >
	    r->who.opened_us ? r->who.stepped_up_us : r->who.opened_us) <
	    r->srv->started_us };
	int64_t now = cv_time_us();
	int reader = cv_policy_allows(r->who.role, CV_PERM_READ_RECORDS);
	cv_err e;

	cv_policy_budget(r->who.role, &lim);
	if (r->who.has_budget && reader) {
		for (int w = 0; w < CV_GUARD__WINDOWS; w++) {
			lim.soft[w] = r->who.budget[w];
			lim.hard[w] = r->who.budget[w + 3];
		}
	}
	/* Behaviour defaults for a user without a baseline: the role's
	 * pace at their budget (before probation: a new account reads at
	 * the usual pace, only less of it), and the role's learnt members as
	 * peers, for users on the role's budgets (one with budgets of their
	 * own is not reading as the others do). */
	if (reader) {
		rd.usual_hour = cv_policy_usual_hour(r->who.role, &lim);
		if (!r->who.has_budget)
			rd.peer = cv_role_names[r->who.role];
	}
	/* Read once: each reading of the test clock advances it. The
	 * account's age is the guard's business, on the guard's clock. */
	rd.now_us = api_guard_now(r->srv);
	if (reader && cv_policy_on_probation(r->who.created_us, rd.now_us,
	    r->srv->probation_days)) {
		cv_policy_probation(&lim);
		rd.probation = true;
	}
	rd.ceiling = &r->srv->ceiling;
	rd.user = r->who.user;
	rd.addr = r->source;
	rd.case_id = r->purpose;
	rd.rids = rids;
	rd.nrids = n;
	rd.misses = misses;
	rd.search = search != 0;
	rd.stepped_up = r->who.stepped_up_us &&
	    now - r->who.stepped_up_us < (int64_t)CV_STEP_UP_S * 1000000;
	rd.limits = &lim;
	if (r->who.session[0] != '\0')
		rd.session = &sess;
	/* Records allowed are held until their entry is durable (then
	 * they leave) or has failed (then nothing did): api_guard_emit. */
	api_guard_settle(r, 0);
	if ((e = cv_guard_reserve(r->srv->guard, &rd, &r->gd, &r->hold)) !=
	    CV_OK)
		return e;
	if ((r->gd.verdict == CV_GUARD_ALLOW ||
	    r->gd.verdict == CV_GUARD_ALLOW_THEN_LOCK) &&
	    (e = api_shared_take(r, &rd, &lim)) != CV_OK) {
		api_guard_settle(r, 0);
		if (r->gd.locked_now)	/* a canary's lock stands */
			api_lock_decided(r, r->gd.reason);
		return e;
	}
	if (r->gd.locked_now)
		api_lock_decided(r, r->gd.reason);
	for (size_t i = 0; i < r->gd.nalerts && !r->gd.locked_now; i++) {
		if (strcmp(r->gd.alerts[i].kind, "ceiling") == 0) {
			if (api_guard_save(r->srv) != CV_OK)
				fprintf(stderr, "clearvault serve: cannot save "
				    "the guard's state: %s\n", cv_err_detail());
			break;
		}
	}
	return CV_OK;
}

int
api_guard_read(struct req *r, const char *const *rids, size_t n,
    int search, enum MHD_Result *ret)
{
	cv_err e;

	if (r->srv->guard == NULL)
		return 1;	/* --no-guard (benchmarks only) */
	if ((e = decide(r, rids, n, 0, search)) != CV_OK) {
		*ret = api_internal(r, e);
		return 0;
	}
	snprintf(r->reason, sizeof r->reason, "guard: %s", r->gd.reason);
	api_metrics_guard(r->srv->metrics, r->gd.verdict);
	if (r->gd.verdict == CV_GUARD_ALLOW ||
	    r->gd.verdict == CV_GUARD_ALLOW_THEN_LOCK)
		return 1;
	/* Refused: a search returns none of what it found. */
	if (search) {
		r->records = NULL;
		r->nrecords = 0;
	}
	switch (r->gd.verdict) {
	case CV_GUARD_STEP_UP: {
		char detail[200];

		r->step_up_refused_us = cv_time_us();
		if (strncmp(r->gd.reason, "vault ceiling", 13) == 0)
			snprintf(detail, sizeof detail, "the vault-wide read "
			    "ceiling is reached");
		else if (strcmp(r->gd.reason, CV_GUARD_SESSION_REASON) == 0)
			snprintf(detail, sizeof detail, "session budget "
			    "reached: %u distinct records since this session's "
			    "last TOTP code (login or step-up)",
			    r->srv->session_records);
		else
			snprintf(detail, sizeof detail, "read budget reached");
		snprintf(detail + strlen(detail), sizeof detail -
		    strlen(detail), ": POST /v1/session/step-up with a fresh "
		    "TOTP code to go on");
		*ret = api_problem(r, 403, CV_AUDIT_DENIED, "step-up required",
		    detail);
		return 0;
	}
	case CV_GUARD_REFUSE:
		*ret = api_problem(r, 403, CV_AUDIT_DENIED, "vault ceiling",
		    "the vault-wide read ceiling is reached: every read is "
		    "refused for now; the security office has been alerted");
		return 0;
	default:
		*ret = api_problem(r, 403, CV_AUDIT_DENIED, "locked",
		    "this account is locked; the security office has been "
		    "alerted");
		return 0;
	}
}

void
api_guard_miss(struct req *r)
{
	/* A miss is evidence too (enumeration). The reply stays the
	 * refusal it was; a lock it causes is logged on its own. */
	if (r->srv->guard && decide(r, NULL, 0, 1, 0) != CV_OK)
		memset(&r->gd, 0, sizeof r->gd);
}

int
api_guard_locked(struct server *srv, const char *user)
{
	return srv->guard && cv_guard_locked(srv->guard, user);
}

/* GET /v1/alerts: the newest alerts, oldest first. */
enum MHD_Result
api_alerts(struct req *r)
{
	char *text = NULL;
	size_t len = 0, start = 0, count = 0;
	struct cv_buf out = { 0 };
	cv_err e;

	r->action = "alerts.list";
	if (!cv_policy_allows(r->who.role, CV_PERM_GUARD))
		return api_forbidden(r, "only security officers read alerts");
	/* The file as keyd and this process append to it, read through
	 * the descriptor opened at start. */
	e = r->srv->alerts_rfd < 0 ? CV_ERR_NOT_FOUND :
	    cv_fd_read(r->srv->alerts_rfd, "alerts.jsonl", ALERTS_MAX_BYTES,
	    &text, &len);
	if (e != CV_OK && e != CV_ERR_NOT_FOUND)
		return api_internal(r, e);
	/* Whole lines only, the last ALERTS_REPLY of them. */
	while (len && text[len - 1] != '\n')
		len--;
	for (size_t i = len; i > 0; i--) {
		if (text[i - 1] == '\n' && i != len && ++count == ALERTS_REPLY) {
			start = i;
			break;
		}
	}
	if (cv_buf_add(&out, "{\"alerts\":[", 11) != CV_OK)
		goto nomem;
	for (size_t i = start; i < len;) {
		char *nl = memchr(text + i, '\n', len - i);
		size_t n = (size_t)(nl - (text + i));
		if ((out.len > 11 && cv_buf_add(&out, ",", 1) != CV_OK) ||
		    cv_buf_add(&out, text + i, n) != CV_OK)
			goto nomem;
		i += n + 1;
	}
	if (cv_buf_add(&out, "]}", 2) != CV_OK)
		goto nomem;
	free(text);
	snprintf(r->reason, sizeof r->reason, "alerts listed");
	return api_reply(r, 200, CV_AUDIT_ALLOWED, "application/json", &out);
 nomem:
	free(text);
	cv_buf_free(&out);
	return api_internal(r, CV_ERR_NOMEM);
}
