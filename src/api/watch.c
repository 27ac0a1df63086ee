/*
 * The guard in the server: its state kept across restarts (a sealed
 * snapshot plus the audit entries after it), its verdict on every read
 * before any record leaves storage, locks, the two-person unlock, step-up
 * and the alerts it raises (DIR/alerts.jsonl, syslog, GET /v1/alerts).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "../policy/policy.h"
#include "api_internal.h"

#define SNAPSHOT_CONTEXT "guard"
#define SNAPSHOT_MAX (2u << 30)
#define ALERTS_MAX_BYTES (64u << 20)
#define ALERTS_REPLY 1000	/* the newest alerts GET /v1/alerts returns */

/*
 * The guard's clock. Tests and drills replay a week in seconds:
 * CLEARVAULT_GUARD_CLOCK names a file "START STEP" (seconds); each reading
 * advances by STEP from START, restarting when the file changes. Sessions,
 * TOTP and the log keep real time.
 */
int64_t
api_guard_now(struct server *srv)
{
	const char *f = getenv("CLEARVAULT_GUARD_CLOCK");
	struct stat sb;
	int64_t t;

	if (f == NULL || *f == '\0')
		return cv_time_us();
	pthread_mutex_lock(&srv->clock_mu);
	if (stat(f, &sb) == 0 && sb.st_mtim.tv_nsec + sb.st_mtim.tv_sec *
	    1000000000LL != srv->clock_mtime) {
		FILE *fp = fopen(f, "r");
		long long start = 0, step = 0;

		if (fp && fscanf(fp, "%lld %lld", &start, &step) == 2) {
			srv->clock_start = start * 1000000;
			srv->clock_step = step * 1000000;
			srv->clock_n = 0;
			srv->clock_mtime = sb.st_mtim.tv_nsec +
			    sb.st_mtim.tv_sec * 1000000000LL;
		}
		if (fp)
			fclose(fp);
	}
	t = srv->clock_start ? srv->clock_start + srv->clock_n++ *
	    srv->clock_step : cv_time_us();
	pthread_mutex_unlock(&srv->clock_mu);
	return t;
}

static cv_err
snapshot_path(struct server *srv, char *out, size_t size)
{
	return cv_path(out, size, "%s/guard.state", cv_vault_dir(srv->v));
}

cv_err
api_guard_save(struct server *srv)
{
	struct cv_buf b = { 0 };
	uint8_t *sealed = NULL;
	uint64_t index;
	char path[1200];
	cv_err r;

	/* The size first: decisions taken meanwhile are in the snapshot and
	 * replayed again at worst, which only makes the guard stricter. */
	pthread_mutex_lock(&srv->save_mu);
	if ((r = cv_audit_size(srv->a, &index)) != CV_OK ||
	    (r = cv_guard_save(srv->guard, index, &b)) != CV_OK)
		goto out;
	if ((sealed = malloc(b.len + CV_SEAL_OVERHEAD)) == NULL) {
		r = CV_ERR_NOMEM;
		goto out;
	}
	if ((r = cv_keys_seal(cv_vault_keys(srv->v), SNAPSHOT_CONTEXT, b.p,
	    b.len, sealed)) != CV_OK ||
	    (r = snapshot_path(srv, path, sizeof path)) != CV_OK)
		goto out;
	r = cv_file_replace(path, sealed, b.len + CV_SEAL_OVERHEAD, 0600);
 out:
	pthread_mutex_unlock(&srv->save_mu);
	free(sealed);
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

/* One logged entry back into the guard: reads and locks. */
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
	if ((strcmp(action, "records.get") && strcmp(action,
	    "records.search")) || outcome == NULL ||
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
	 * but must be well-formed. */
	rd.limits = &lim;
	r = cv_guard_observe(srv->guard, &rd);
	free(ids);
	return r == CV_ERR_INVALID ? CV_OK : r;
}

cv_err
api_guard_start(struct server *srv)
{
	char path[1200], *sealed = NULL, **ids = NULL;
	uint8_t *plain = NULL;
	uint64_t from = 0, size;
	struct cv_buf leaf = { 0 };
	size_t len = 0, n = 0;
	struct stat sb;
	cv_err r;

	if ((r = cv_guard_new(&srv->guard)) != CV_OK ||
	    (r = snapshot_path(srv, path, sizeof path)) != CV_OK)
		return r;
	r = cv_file_read(path, SNAPSHOT_MAX, &sealed, &len);
	if (r == CV_OK) {
		/* A snapshot that does not open is refused, not ignored: the
		 * guard's memory of locks is not to be wiped by a bad file. */
		if (len < CV_SEAL_OVERHEAD ||
		    (plain = malloc(len - CV_SEAL_OVERHEAD + 1)) == NULL) {
			r = len < CV_SEAL_OVERHEAD ? cv_fail(CV_ERR_FORMAT,
			    "%s: too short", path) : CV_ERR_NOMEM;
			goto out;
		}
		if ((r = cv_keys_unseal(cv_vault_keys(srv->v),
		    SNAPSHOT_CONTEXT, (uint8_t *)sealed, len, plain)) !=
		    CV_OK ||
		    (r = cv_guard_load(srv->guard, plain,
		    len - CV_SEAL_OVERHEAD, &from)) != CV_OK)
			goto out;
	} else if (r != CV_ERR_NOT_FOUND)
		goto out;
	/* The canary list is the truth; the snapshot's copy may be older. */
	if (cv_path(path, sizeof path, "%s/canaries", cv_vault_dir(srv->v)) ==
	    CV_OK && stat(path, &sb) == 0)
		srv->canaries_mtime = (int64_t)sb.st_mtim.tv_sec * 1000000000 +
		    sb.st_mtim.tv_nsec;
	if ((r = cv_vault_canaries(srv->v, &ids, &n)) != CV_OK ||
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
	if (plain)
		sodium_memzero(plain, len - CV_SEAL_OVERHEAD);
	free(plain);
	free(sealed);
	free(ids);
	cv_buf_free(&leaf);
	return r;
}

void
api_guard_tick(struct server *srv)
{
	char path[1200], **ids = NULL;
	struct stat sb;
	int64_t m;
	size_t n;

	/* A load while the server runs brings new canaries: the guard
	 * knows them within a second. */
	if (srv->guard == NULL || cv_path(path, sizeof path, "%s/canaries",
	    cv_vault_dir(srv->v)) != CV_OK || stat(path, &sb) != 0)
		return;
	m = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
	if (m == srv->canaries_mtime)
		return;
	if (cv_vault_canaries(srv->v, &ids, &n) == CV_OK &&
	    cv_guard_set_canaries(srv->guard, (const char *const *)ids, n) ==
	    CV_OK)
		srv->canaries_mtime = m;
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
	if (api_guard_save(srv) != CV_OK)
		fprintf(stderr, "clearvault serve: cannot save the guard's "
		    "state: %s\n", cv_err_detail());
	cv_guard_free(srv->guard);
	srv->guard = NULL;
}

static const char *const severities[] = { "info", "warning", "critical" };

/* Escapes S as a JSON string body into OUT. */
static void
json_text(const char *s, char *out, size_t size)
{
	json_t *j = json_string(s ? s : "");
	char *t = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;

	snprintf(out, size, "%s", t ? t : "\"\"");
	free(t);
	json_decref(j);
}

void
api_guard_emit(struct req *r, uint64_t index, int durable)
{
	struct server *srv = r->srv;
	/* Sized for the worst escaping of each field (\uXXXX a byte). */
	char line[4096], when[32], user[512], detail[1024], src[512];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_text(r->who.user, user, sizeof user);
	json_text(r->source, src, sizeof src);
	for (size_t i = 0; i < r->gd.nalerts; i++) {
		const struct cv_guard_alert *al = &r->gd.alerts[i];
		int n;

		json_text(al->detail, detail, sizeof detail);
		n = snprintf(line, sizeof line, "{\"time\":\"%s\",\"user\":%s,"
		    "\"severity\":\"%s\",\"kind\":\"%s\",\"detail\":%s,"
		    "\"source\":%s,\"session\":\"%s\",\"locked\":%s,"
		    "\"audit_indices\":[", when, user,
		    severities[al->severity], al->kind, detail, src,
		    r->who.session, r->gd.locked_now ? "true" : "false");
		if (durable)
			n += snprintf(line + n, sizeof line - (size_t)n,
			    "%llu", (unsigned long long)index);
		n += snprintf(line + n, sizeof line - (size_t)n, "]}\n");
		if (n > 0 && (size_t)n < sizeof line && srv->alerts_fd >= 0 &&
		    write(srv->alerts_fd, line, (size_t)n) != n)
			fprintf(stderr, "clearvault serve: cannot write an "
			    "alert\n");
		syslog(LOG_AUTHPRIV | (al->severity == CV_GUARD_CRITICAL ?
		    LOG_ALERT : LOG_WARNING), "guard %s: user %s %s (%s) "
		    "audit index %llu%s", severities[al->severity],
		    r->who.user, al->kind, al->detail,
		    (unsigned long long)index, r->gd.locked_now ?
		    "; locked" : "");
	}
	__atomic_add_fetch(&srv->alerts, r->gd.nalerts, __ATOMIC_RELAXED);
}

/* On the committer thread: nothing to wait for. */
static void
lock_logged(void *ctx, cv_err err, uint64_t index)
{
	(void)ctx;
	(void)index;
	if (err != CV_OK)
		fprintf(stderr, "clearvault serve: a lock could not be "
		    "logged\n");
}

/* USER was locked by this request: end their sessions, keep it. */
static void
after_lock(struct req *r, const char *why)
{
	struct cv_audit_entry e = { .outcome = CV_AUDIT_ALLOWED,
	    .action = "guard.lock", .actor = r->who.user, .cert = r->cert,
	    .source = r->source, .session = r->who.session, .reason = why };

	cv_sessions_end_user(r->srv->sessions, r->who.user);
	if (api_guard_save(r->srv) != CV_OK)
		fprintf(stderr, "clearvault serve: cannot save the guard's "
		    "state: %s\n", cv_err_detail());
	if (cv_audit_submit(r->srv->a, &e, lock_logged, NULL) != CV_OK)
		fprintf(stderr, "clearvault serve: a lock could not be "
		    "logged\n");
}

/* The guard's decision on R (into r->gd), and a lock's consequences. */
static cv_err
decide(struct req *r, const char *const *rids, size_t n, unsigned misses,
    int search)
{
	struct cv_guard_limits lim;
	struct cv_guard_read rd = { 0 };
	int64_t now = cv_time_us();
	cv_err e;

	cv_policy_budget(r->who.role, &lim);
	if (r->who.has_budget && cv_policy_allows(r->who.role,
	    CV_PERM_READ_RECORDS)) {
		for (int w = 0; w < CV_GUARD__WINDOWS; w++) {
			lim.soft[w] = r->who.budget[w];
			lim.hard[w] = r->who.budget[w + 3];
		}
	}
	rd.user = r->who.user;
	rd.addr = r->source;
	rd.case_id = r->purpose;
	rd.rids = rids;
	rd.nrids = n;
	rd.misses = misses;
	rd.search = search != 0;
	rd.stepped_up = r->who.stepped_up_us &&
	    now - r->who.stepped_up_us < (int64_t)CV_STEP_UP_S * 1000000;
	rd.now_us = api_guard_now(r->srv);
	rd.limits = &lim;
	if ((e = cv_guard_check(r->srv->guard, &rd, &r->gd)) != CV_OK)
		return e;
	if (r->gd.locked_now)
		after_lock(r, r->gd.reason);
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
	if (r->gd.verdict == CV_GUARD_ALLOW ||
	    r->gd.verdict == CV_GUARD_ALLOW_THEN_LOCK)
		return 1;
	/* Refused: a search returns none of what it found. */
	if (search) {
		r->records = NULL;
		r->nrecords = 0;
	}
	switch (r->gd.verdict) {
	case CV_GUARD_STEP_UP:
		*ret = api_problem(r, 403, CV_AUDIT_DENIED, "step-up required",
		    "read budget reached: POST /v1/session/step-up with a "
		    "fresh TOTP code to go on");
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
	char path[1200], *text = NULL;
	size_t len = 0, start = 0, count = 0;
	struct cv_buf out = { 0 };
	cv_err e;

	r->action = "alerts.list";
	if (!cv_policy_allows(r->who.role, CV_PERM_GUARD))
		return api_forbidden(r, "only security officers read alerts");
	if ((e = cv_path(path, sizeof path, "%s/alerts.jsonl",
	    cv_vault_dir(r->srv->v))) != CV_OK)
		return api_internal(r, e);
	e = cv_file_read(path, ALERTS_MAX_BYTES, &text, &len);
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

/* POST /v1/users/{name}/unlock: one of the two officers it takes. */
enum MHD_Result
api_unlock(struct req *r, const char *user)
{
	bool unlocked = false;
	cv_err e;

	r->action = "users.unlock";
	if (!cv_policy_allows(r->who.role, CV_PERM_GUARD))
		return api_forbidden(r, "only security officers unlock users");
	if (r->srv->guard == NULL)
		return api_problem(r, 409, CV_AUDIT_DENIED, "conflict",
		    "the guard is off");
	e = cv_guard_unlock_approve(r->srv->guard, user, r->who.user,
	    api_guard_now(r->srv), &unlocked);
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
	if ((e = api_guard_save(r->srv)) != CV_OK)
		return api_internal(r, e);
	snprintf(r->reason, sizeof r->reason, "%s %s", user, unlocked ?
	    "unlocked (second approval)" : "unlock approved (1 of 2)");
	return api_json(r, 200, json_pack("{s:s, s:b, s:i}", "user", user,
	    "unlocked", unlocked, "approvals", unlocked ? 2 : 1));
}
