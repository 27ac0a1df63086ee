/*
 * An alert as an RFC 5424 syslog message, made from its alerts.jsonl line
 * (alert.c): the supervisor makes it for the api worker's and keyd's
 * alerts, which reach it over the relay socketpair (serve/syslog.c), and
 * `clearvault get` for its own. The line is outside input here: a
 * compromised api worker writes what it likes into it (a user name with a
 * line feed, a "]" that would end the structured data, a megabyte of
 * message). So it is parsed with jansson (valid UTF-8, no NUL, duplicates
 * refused), only known fields are taken, each cut to a bound and escaped;
 * the header's fields are checked against RFC 5424's grammar or replaced.
 *
 *   <PRI>1 TIMESTAMP HOSTNAME clearvault PROCID MSGID [clearvault@32473
 *   event.id="..." ...] MSG
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "keyd.h"

/* The SD-ID: NAME@PEN. 32473 is the enterprise number RFC 5612 reserves
 * for documentation; a deployment with a PEN of its own may put it here. */
#define SD_ID "clearvault@32473"

/* Bounds (bytes before escaping): an escaped byte takes at most 4. */
#define VALUE_MAX 128
#define MSG_MAX 512
#define INDICES_MAX 16

/* Appends; 0 once anything failed. */
static int
add(struct cv_buf *b, const void *p, size_t n)
{
	return cv_buf_add(b, p, n) == CV_OK;
}

/* The first N bytes of S, cut back to a UTF-8 character boundary. */
static size_t
cut(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/*
 * S (N bytes, valid UTF-8) escaped: C0 controls and DEL as "#ooo" (octal,
 * as rsyslog writes them), so that no line feed, NUL or terminal escape
 * reaches a collector or a log file; in a PARAM-VALUE (SD) also '"', '\'
 * and ']' with a backslash, as RFC 5424 section 6.3.3 requires.
 */
static int
escaped(struct cv_buf *b, const char *s, size_t n, int sd)
{
	char o[5];
	int ok = 1;

	for (size_t i = 0; ok && i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f) {
			snprintf(o, sizeof o, "#%03o", c);
			ok = add(b, o, 4);
		} else if (sd && (c == '"' || c == '\\' || c == ']'))
			ok = add(b, "\\", 1) && add(b, s + i, 1);
		else
			ok = add(b, s + i, 1);
	}
	return ok;
}

/* The string at J.K1.K2 (K2 may be NULL), or NULL. */
static const char *
str(json_t *j, const char *k1, const char *k2)
{
	json_t *v = json_object_get(j, k1);

	if (k2)
		v = json_object_get(v, k2);
	return json_string_value(v);
}

/* NAME="V" for a non-empty string V; nothing otherwise. */
static int
param(struct cv_buf *b, const char *name, const char *v)
{
	if (v == NULL || *v == '\0')
		return 1;
	return add(b, " ", 1) && add(b, name, strlen(name)) &&
	    add(b, "=\"", 2) && escaped(b, v, cut(v, VALUE_MAX), 1) &&
	    add(b, "\"", 1);
}

/* RFC 5424 TIMESTAMP: the line's own if it has exactly the form alert.c
 * writes (so that the two can be matched), else now. */
static void
timestamp(const char *t, char out[static 40])
{
	static const char form[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";
	struct timespec ts;
	struct tm tm;
	size_t i, n;

	for (i = 0; t && i < sizeof form - 1; i++)
		if (form[i] == 'd' ? (t[i] < '0' || t[i] > '9') :
		    t[i] != form[i])
			break;
	if (t && i == sizeof form - 1 && t[i] == '\0') {
		memcpy(out, t, sizeof form);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 40 - n, ".%06ldZ", (long)(ts.tv_nsec / 1000));
}

/* The syslog severity of an alert's level, as its syslog() line has it:
 * critical is alert (1), warning 4, info 6. */
static int
severity(const char *level)
{
	if (level == NULL)
		return -1;
	return !strcmp(level, "critical") ? 1 : !strcmp(level, "warning") ?
	    4 : !strcmp(level, "info") ? 6 : -1;
}

cv_err
cv_keyd_alert_5424(const char *line, size_t len, const char *host, long pid,
    struct cv_buf *out)
{
	char head[400], when[40], msgid[33], hostname[256], procid[24];
	char num[24];
	const char *action, *msg;
	json_t *j = NULL, *idx, *locked;
	struct cv_buf b = { 0 };
	size_t i, n;
	int sev, ok, ascii = 1;
	cv_err r = CV_ERR_INVALID;

	*out = (struct cv_buf){ 0 };
	if (len > CV_ALERT_LINE_MAX ||
	    (j = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL)) ==
	    NULL || !json_is_object(j) ||
	    (action = str(j, "event", "action")) == NULL ||
	    (sev = severity(str(j, "log", "level"))) < 0) {
		r = cv_fail(CV_ERR_INVALID, "not an alert line");
		goto out;
	}
	/* MSGID: 1 to 32 printable US-ASCII characters, no space. */
	for (i = 0; i < 32 && action[i]; i++)
		msgid[i] = action[i] > ' ' && action[i] < 0x7f ? action[i] :
		    '_';
	msgid[i] = '\0';
	if (i == 0)
		snprintf(msgid, sizeof msgid, "-");
	/* HOSTNAME: the same rule, up to 255 (the caller's own name). */
	for (i = 0; host && i < 255 && host[i] > ' ' && host[i] < 0x7f; i++)
		hostname[i] = host[i];
	hostname[i] = '\0';
	if (i == 0 || (host && host[i] != '\0'))
		snprintf(hostname, sizeof hostname, "-");
	if (pid > 0)
		snprintf(procid, sizeof procid, "%ld", pid);
	else
		snprintf(procid, sizeof procid, "-");
	timestamp(str(j, "@timestamp", NULL), when);
	snprintf(head, sizeof head, "<%d>1 %s %s clearvault %s %s [" SD_ID,
	    10 * 8 + sev, when, hostname, procid, msgid);
	ok = add(&b, head, strlen(head)) &&
	    param(&b, "event.id", str(j, "event", "id")) &&
	    param(&b, "event.category",
	    json_string_value(json_array_get(json_object_get(
	    json_object_get(j, "event"), "category"), 0))) &&
	    param(&b, "log.level", str(j, "log", "level")) &&
	    param(&b, "rule.name", str(j, "rule", "name")) &&
	    param(&b, "labels.vault_id", str(j, "labels", "vault_id")) &&
	    param(&b, "user.name", str(j, "user", "name")) &&
	    param(&b, "source.ip", str(j, "source", "ip")) &&
	    param(&b, "clearvault.source", str(j, "clearvault", "source")) &&
	    param(&b, "clearvault.session", str(j, "clearvault", "session"));
	locked = json_object_get(json_object_get(j, "clearvault"), "locked");
	if (json_is_boolean(locked))
		ok = ok && param(&b, "clearvault.locked", json_is_true(locked) ?
		    "true" : "false");
	/* The audit entries, "12,13": one value (parsers disagree on
	 * repeated SD-PARAMs), at most INDICES_MAX of them. */
	idx = json_object_get(json_object_get(j, "clearvault"),
	    "audit_indices");
	for (i = 0, n = 0; ok && i < json_array_size(idx) && n < INDICES_MAX;
	    i++) {
		json_t *e = json_array_get(idx, i);

		if (!json_is_integer(e) || json_integer_value(e) < 0)
			continue;
		snprintf(num, sizeof num, "%lld",
		    (long long)json_integer_value(e));
		ok = (n == 0 ? add(&b, " clearvault.audit_indices=\"", 27) :
		    add(&b, ",", 1)) && add(&b, num, strlen(num));
		n++;
	}
	if (n > 0)
		ok = ok && add(&b, "\"", 1);
	ok = ok && add(&b, "]", 1);
	/* MSG: ASCII as it is (MSG-ANY); anything else is UTF-8 (jansson
	 * took only valid UTF-8), which RFC 5424 marks with a BOM. */
	msg = str(j, "message", NULL);
	if (ok && msg && *msg) {
		n = cut(msg, MSG_MAX);
		for (i = 0; i < n; i++)
			ascii &= (unsigned char)msg[i] < 0x80;
		ok = add(&b, " ", 1) && (ascii || add(&b, "\xef\xbb\xbf", 3)) &&
		    escaped(&b, msg, n, 0);
	}
	if (!ok) {
		r = CV_ERR_NOMEM;
		goto out;
	}
	*out = b;
	b = (struct cv_buf){ 0 };	/* transferred */
	r = CV_OK;
 out:
	cv_buf_free(&b);
	json_decref(j);
	return r;
}
