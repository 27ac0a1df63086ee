/*
 * Alert lines (DIR/alerts.jsonl) in Elastic Common Schema field names, so
 * that a SIEM takes them as they are (Filebeat's filestream input with
 * the ndjson parser, or any JSON-lines shipper): every writer of the file
 * (the api worker's guard, keyd, the supervisor, `clearvault get`) goes
 * through cv_keyd_alert_emit, one shape for all. GET /v1/alerts and the
 * drills read the same lines. docs/web.md has an example.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "keyd.h"

static cv_keyd_alert_sink_fn *sink;
static void *sink_ctx;

void
cv_keyd_alert_sink(cv_keyd_alert_sink_fn *fn, void *ctx)
{
	sink = fn;
	sink_ctx = ctx;
}

void
cv_keyd_alert_selftest_hostile(void)
{
	/* What a compromised process could hand the sink: a user name and
	 * a message that would split the syslog line or end its structured
	 * data, a kind that is no MSGID, then junk and an oversized line. */
	static const char forged[] = "{\"@timestamp\":\"2026-01-02T03:04:05."
	    "000006Z\",\"event\":{\"action\":\"forged kind that is far too long "
	    "for a msgid\",\"id\":\"f0f0\"},\"log\":{\"level\":\"critical\"},"
	    "\"user\":{\"name\":\"eve\\n<81>1 - fake\\\"]\\\\x\"},"
	    "\"message\":\"line one\\r\\nline two\\u001b[31m\"}\n";
	static const char junk[] = "not json ] \n <13>1 forged";
	char *big;

	if (sink == NULL)
		return;
	sink(sink_ctx, forged, sizeof forged - 1);
	sink(sink_ctx, junk, sizeof junk - 1);
	if ((big = malloc(CV_ALERT_LINE_MAX + 100)) != NULL) {
		memset(big, ' ', CV_ALERT_LINE_MAX + 100);
		sink(sink_ctx, big, CV_ALERT_LINE_MAX + 100);
		free(big);
	}
}

/* ECS event.severity: Elastic's risk scale (low 21, medium 47, high 73,
 * critical 99); log.level keeps the word. */
static int
severity_num(const char *s)
{
	return !strcmp(s, "critical") ? 99 : !strcmp(s, "warning") ? 47 : 21;
}

/* ECS event.category for KIND: the HSM's are the host's, the two-person
 * rule's and the accounts' are identity management, keyd's refusals are
 * the process boundary's, the rest (the guard's) intrusion detection. */
static const char *
category(const char *kind)
{
	static const char *const iam[] = { "self_approval", "account_burst",
		"busy_approver", "approval_off_hours", "break_glass", NULL };

	if (!strncmp(kind, "hsm", 3))
		return "host";
	if (!strncmp(kind, "keyd", 4) || !strcmp(kind, "worker_died"))
		return "process";
	for (size_t i = 0; iam[i]; i++)
		if (!strcmp(kind, iam[i]))
			return "iam";
	return "intrusion_detection";
}

/* 1 if S looks like an IP address (ECS source.ip must be one). */
static int
is_ip(const char *s)
{
	return s && *s && strspn(s, "0123456789abcdefABCDEF.:") == strlen(s) &&
	    strpbrk(s, ".:") != NULL;
}

void
cv_keyd_alert_emit(int fd, const struct cv_keyd_alert *a)
{
	char when[40], id[33];
	uint8_t raw[16];
	struct timespec ts;
	struct tm tm;
	json_t *j = NULL, *cv = NULL, *idx = NULL;
	char *line = NULL, *nl;
	size_t len;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	len = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + len, sizeof when - len, ".%06ldZ",
	    (long)(ts.tv_nsec / 1000));
	randombytes_buf(raw, sizeof raw);
	sodium_bin2hex(id, sizeof id, raw, sizeof raw);
	if ((idx = json_array()) != NULL)
		for (size_t i = 0; i < a->n; i++)
			json_array_append_new(idx,
			    json_integer((json_int_t)a->indices[i]));
	cv = json_pack("{s:b, s:o}", "locked", a->locked, "audit_indices",
	    idx ? idx : json_array());
	if (cv && a->session && *a->session)
		json_object_set_new(cv, "session", json_string(a->session));
	j = json_pack("{s:s, s:{s:s, s:[s], s:s, s:i, s:s, s:s, s:s},"
	    " s:s, s:{s:s}, s:{s:s}, s:{s:s, s:s, s:s}, s:{s:s},"
	    " s:o}",
	    "@timestamp", when,
	    "event", "kind", "alert", "category", category(a->kind),
	    "action", a->kind, "severity", severity_num(a->severity),
	    "id", id, "dataset", "clearvault.alerts", "module", "clearvault",
	    "message", a->detail ? a->detail : "",
	    "log", "level", a->severity,
	    "rule", "name", a->kind,
	    "observer", "vendor", "clearvault", "product", "clearvault",
	    "version", CV_VERSION,
	    "labels", "vault_id", a->vault_id ? a->vault_id : "",
	    "clearvault", cv ? cv : json_object());
	if (j && a->user && *a->user)
		json_object_set_new(j, "user", json_pack("{s:s}", "name",
		    a->user));
	if (j && is_ip(a->source))
		json_object_set_new(j, "source", json_pack("{s:s}", "ip",
		    a->source));
	else if (j && a->source && *a->source)
		json_object_set_new(json_object_get(j, "clearvault"),
		    "source", json_string(a->source));
	/* One write, newline included: several threads and processes append
	 * to the file, and O_APPEND keeps a single write whole. */
	if (j == NULL || (line = json_dumps(j, JSON_COMPACT)) == NULL ||
	    (len = strlen(line), (nl = realloc(line, len + 2)) == NULL) ||
	    (line = nl, line[len] = '\n', line[len + 1] = '\0', fd < 0) ||
	    write(fd, line, len + 1) != (ssize_t)(len + 1))
		fprintf(stderr, "clearvault: cannot write an alert (%s)\n",
		    a->kind);
	/* The same line, not a second formatting: the syslog message is
	 * made from it where it is sent (alert_5424.c). */
	if (sink && line && line[len] == '\n') {
		if (len + 1 <= CV_ALERT_LINE_MAX)
			sink(sink_ctx, line, len + 1);
		else
			fprintf(stderr, "clearvault: an alert too long for "
			    "syslog (%s)\n", a->kind);
	}
	free(line);
	json_decref(j);
	syslog(LOG_AUTHPRIV | (strcmp(a->severity, "critical") == 0 ?
	    LOG_ALERT : LOG_WARNING), "%s %s: %s%s%s%s", a->severity,
	    a->kind, a->detail ? a->detail : "", a->user ? " user " : "",
	    a->user ? a->user : "", a->locked ? "; locked" : "");
}
