/*
 * GET /metrics, the Prometheus text format (version 0.0.4): what an
 * operator's dashboards and alert rules need of a node. Counted here as
 * requests end, rendered at each scrape. One mutex: a request takes it
 * once, for a few additions; nothing is allocated after start.
 *
 * Who may scrape: a user of the role "metrics" with the client certificate
 * alone (no TOTP, no session: Prometheus cannot type codes), and that role
 * may do nothing else (routes.c); any other role with its session, as
 * before.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"

#define MAX_SERIES 160		/* (route, status) pairs; then "other" */
#define ROUTE_MAX 40
#define NB 12

/* Seconds; request durations and the log's commits share them. */
static const double bounds[NB] = { 0.0005, 0.001, 0.0025, 0.005, 0.01,
	0.025, 0.05, 0.1, 0.25, 0.5, 1, 5 };
static const char *const bounds_txt[NB] = { "0.0005", "0.001", "0.0025",
	"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "5" };

struct hist {
	uint64_t b[NB + 1];	/* per bucket (the last: +Inf), not cumulative */
	uint64_t n;
	int64_t sum_us;
};

struct series {
	char route[ROUTE_MAX];
	unsigned status;
	struct hist h;
};

static const char *const verdicts[] = {
	[CV_GUARD_ALLOW] = "allow", [CV_GUARD_STEP_UP] = "step_up",
	[CV_GUARD_DENY] = "deny", [CV_GUARD_ALLOW_THEN_LOCK] =
	"allow_then_lock", [CV_GUARD_REFUSE] = "refuse",
};
#define NVERDICTS (sizeof verdicts / sizeof verdicts[0])
static const char *const severities[] = { "info", "warning", "critical" };
#define NSEV (sizeof severities / sizeof severities[0])

struct api_metrics {
	pthread_mutex_t mu;
	struct series s[MAX_SERIES];
	size_t n;
	struct hist commit;
	uint64_t guard[NVERDICTS];
	uint64_t alerts[NSEV];
};

cv_err
api_metrics_new(struct api_metrics **out)
{
	struct api_metrics *m;

	if ((m = calloc(1, sizeof *m)) == NULL)
		return CV_ERR_NOMEM;
	pthread_mutex_init(&m->mu, NULL);
	*out = m;
	return CV_OK;
}

void
api_metrics_free(struct api_metrics *m)
{
	if (m == NULL)
		return;
	pthread_mutex_destroy(&m->mu);
	free(m);
}

static void
observe(struct hist *h, int64_t us)
{
	double s = (double)(us < 0 ? 0 : us) / 1e6;
	size_t i = 0;

	while (i < NB && s > bounds[i])
		i++;
	h->b[i]++;
	h->n++;
	h->sum_us += us < 0 ? 0 : us;
}

void
api_metrics_request(struct api_metrics *m, const char *route,
    unsigned status, int64_t us)
{
	struct series *s = NULL;
	size_t i;

	if (m == NULL)
		return;
	if (route == NULL || strlen(route) >= ROUTE_MAX)
		route = "other";
	pthread_mutex_lock(&m->mu);
	for (i = 0; i < m->n; i++) {
		if (m->s[i].status == status && !strcmp(m->s[i].route, route)) {
			s = &m->s[i];
			break;
		}
	}
	/* A full table folds what is new into one series: the routes are
	 * the server's own names, so it is not expected to fill. */
	if (s == NULL && m->n < MAX_SERIES) {
		s = &m->s[m->n++];
		snprintf(s->route, sizeof s->route, "%s", m->n == MAX_SERIES ?
		    "other" : route);
		s->status = m->n == MAX_SERIES ? 0 : status;
	} else if (s == NULL)
		s = &m->s[MAX_SERIES - 1];
	observe(&s->h, us);
	pthread_mutex_unlock(&m->mu);
}

void
api_metrics_commit(struct api_metrics *m, int64_t us)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->mu);
	observe(&m->commit, us);
	pthread_mutex_unlock(&m->mu);
}

void
api_metrics_guard(struct api_metrics *m, enum cv_guard_verdict v)
{
	if (m != NULL && (unsigned)v < NVERDICTS)
		__atomic_add_fetch(&m->guard[v], 1, __ATOMIC_RELAXED);
}

void
api_metrics_alert(struct api_metrics *m, enum cv_guard_severity s)
{
	if (m != NULL && (unsigned)s < NSEV)
		__atomic_add_fetch(&m->alerts[s], 1, __ATOMIC_RELAXED);
}

static cv_err
put(struct cv_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static cv_err
put(struct cv_buf *b, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof line)
		return cv_fail(CV_ERR_INTERNAL, "metrics line too long");
	return cv_buf_add(b, line, (size_t)n);
}

/* One histogram's lines; LABELS is "" or `a="b",`. */
static cv_err
put_hist(struct cv_buf *b, const char *name, const char *labels,
    const struct hist *h)
{
	uint64_t cum = 0;
	cv_err r = CV_OK;

	for (size_t i = 0; i < NB && r == CV_OK; i++) {
		cum += h->b[i];
		r = put(b, "%s_bucket{%sle=\"%s\"} %llu\n", name, labels,
		    bounds_txt[i], (unsigned long long)cum);
	}
	if (r == CV_OK)
		r = put(b, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels,
		    (unsigned long long)h->n);
	/* _sum and _count take the labels without the trailing comma. */
	if (r == CV_OK)
		r = put(b, "%s_sum%s%.*s%s %.6f\n", name, *labels ? "{" : "",
		    (int)(*labels ? strlen(labels) - 1 : 0), labels,
		    *labels ? "}" : "", (double)h->sum_us / 1e6);
	if (r == CV_OK)
		r = put(b, "%s_count%s%.*s%s %llu\n", name, *labels ? "{" : "",
		    (int)(*labels ? strlen(labels) - 1 : 0), labels,
		    *labels ? "}" : "", (unsigned long long)h->n);
	return r;
}

cv_err
api_metrics_render(struct api_metrics *m, const struct api_gauges *g,
    struct cv_buf *out)
{
	struct api_metrics *c;
	char labels[96];
	cv_err r;

	/* A copy of what the mutex guards, so that rendering holds no
	 * request up (the counters are atomics, read as they are). */
	if ((c = malloc(sizeof *c)) == NULL)
		return CV_ERR_NOMEM;
	pthread_mutex_lock(&m->mu);
	memcpy(c->s, m->s, sizeof c->s);
	c->n = m->n;
	c->commit = m->commit;
	pthread_mutex_unlock(&m->mu);

	r = put(out, "# HELP clearvault_build_info The running build.\n"
	    "# TYPE clearvault_build_info gauge\n"
	    "clearvault_build_info{version=\"%s\",vault=\"%s\"} 1\n",
	    CV_VERSION, g->vault_id);
	if (r == CV_OK)
		r = put(out, "# HELP clearvault_http_request_duration_seconds "
		    "Requests answered, from their start to their end, by "
		    "route (the audit log's action) and status.\n"
		    "# TYPE clearvault_http_request_duration_seconds "
		    "histogram\n");
	for (size_t i = 0; i < c->n && r == CV_OK; i++) {
		snprintf(labels, sizeof labels, "route=\"%s\",status=\"%u\",",
		    c->s[i].route, c->s[i].status);
		r = put_hist(out, "clearvault_http_request_duration_seconds",
		    labels, &c->s[i].h);
	}
	if (r == CV_OK)
		r = put(out, "# HELP clearvault_audit_commit_seconds From a "
		    "request's entry handed to the key process to the entry "
		    "durable in the log.\n"
		    "# TYPE clearvault_audit_commit_seconds histogram\n");
	if (r == CV_OK)
		r = put_hist(out, "clearvault_audit_commit_seconds", "",
		    &c->commit);
	if (r == CV_OK)
		r = put(out, "# HELP clearvault_guard_decisions_total The "
		    "guard's decisions on reads and searches, by outcome.\n"
		    "# TYPE clearvault_guard_decisions_total counter\n");
	for (size_t i = 0; i < NVERDICTS && r == CV_OK; i++)
		r = put(out, "clearvault_guard_decisions_total{outcome=\"%s\"} "
		    "%llu\n", verdicts[i], (unsigned long long)
		    __atomic_load_n(&m->guard[i], __ATOMIC_RELAXED));
	if (r == CV_OK)
		r = put(out, "# HELP clearvault_alerts_total Alerts raised "
		    "(alerts.jsonl, syslog), by severity.\n"
		    "# TYPE clearvault_alerts_total counter\n");
	for (size_t i = 1; i < NSEV && r == CV_OK; i++)
		r = put(out, "clearvault_alerts_total{severity=\"%s\"} %llu\n",
		    severities[i], (unsigned long long)__atomic_load_n(
		    &m->alerts[i], __ATOMIC_RELAXED));
	if (r == CV_OK && g->syslog)
		r = put(out, "# HELP clearvault_syslog_alerts_total Alerts the "
		    "supervisor sent to the RFC 5424 collector (sent), could "
		    "not send (unsent) or refused as no alert line (refused).\n"
		    "# TYPE clearvault_syslog_alerts_total counter\n"
		    "clearvault_syslog_alerts_total{outcome=\"sent\"} %llu\n"
		    "clearvault_syslog_alerts_total{outcome=\"unsent\"} %llu\n"
		    "clearvault_syslog_alerts_total{outcome=\"refused\"} "
		    "%llu\n", (unsigned long long)g->syslog_sent,
		    (unsigned long long)g->syslog_unsent,
		    (unsigned long long)g->syslog_refused);
	if (r == CV_OK)
		r = put(out, "# HELP clearvault_locked_users Users the guard "
		    "holds locked until two officers unlock them.\n"
		    "# TYPE clearvault_locked_users gauge\n"
		    "clearvault_locked_users %zu\n"
		    "# HELP clearvault_sessions_active Sessions used on this "
		    "node within the idle timeout.\n"
		    "# TYPE clearvault_sessions_active gauge\n"
		    "clearvault_sessions_active %zu\n"
		    "# HELP clearvault_requests_total HTTP requests answered.\n"
		    "# TYPE clearvault_requests_total counter\n"
		    "clearvault_requests_total %llu\n"
		    "# HELP clearvault_requests_refused_total Requests refused "
		    "or failed.\n"
		    "# TYPE clearvault_requests_refused_total counter\n"
		    "clearvault_requests_refused_total %llu\n"
		    "# HELP clearvault_audit_entries Entries in the audit "
		    "log.\n"
		    "# TYPE clearvault_audit_entries gauge\n"
		    "clearvault_audit_entries %llu\n"
		    "# HELP clearvault_hsm_up 1 while the HSM token answers.\n"
		    "# TYPE clearvault_hsm_up gauge\n"
		    "clearvault_hsm_up %d\n", g->locked, g->sessions,
		    (unsigned long long)g->requests,
		    (unsigned long long)g->refused,
		    (unsigned long long)g->audit_entries, g->hsm_up);
	free(c);
	return r;
}
