/*
 * Alert lines (DIR/alerts.jsonl) in Elastic Common Schema field names, so
 * that a SIEM takes them as they are (Filebeat's filestream input with
 * the ndjson parser, or any JSON-lines shipper): every writer of the file
 * (the api worker's guard, keyd, the supervisor, `clearvault get`) goes
 * through cv_keyd_alert_emit, one shape for all. GET /v1/alerts and the
 * drills read the same lines. docs/web.md has an example.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "../config/config.h"
#include "keyd.h"

/*
 * RFC 5424 syslog (the vault's syslog_5424): one connected datagram
 * socket per process, opened before the process confines itself (a
 * confined process may not make sockets); sends never block.
 */
static int rfc5424_fd = -1;
/* Read at the open: a confined process may not ask (uname, getpid). */
static char rfc5424_host[256] = "-";
static long rfc5424_pid;

/* The SD-ID: name@PEN, with the enterprise number RFC 5612 sets aside
 * for documentation; a deployment with its own PEN may change it. */
#define SD_ID "clearvault@32473"

cv_err
cv_keyd_alert_syslog_open(const char *dir)
{
	struct cv_config cfg;
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	const char *t, *colon;
	char host[64];
	int fd = -1;
	cv_err r;

	if (rfc5424_fd >= 0)
		return CV_OK;
	if ((r = cv_config_load(dir, &cfg)) != CV_OK)
		return r;
	t = cfg.syslog_5424;
	if (!*t)
		return CV_OK;
	memset(&ss, 0, sizeof ss);
	if (!strncmp(t, "unix:", 5)) {
		struct sockaddr_un *u = (struct sockaddr_un *)&ss;

		if (strlen(t + 5) >= sizeof u->sun_path)
			return cv_fail(CV_ERR_CONFIG, "syslog_5424: path too "
			    "long");
		u->sun_family = AF_UNIX;
		strcpy(u->sun_path, t + 5);
		sl = sizeof *u;
	} else {	/* udp:ADDRESS:PORT, checked by the config parser */
		colon = strrchr(t + 4, ':');
		snprintf(host, sizeof host, "%.*s", (int)(colon - (t + 4)),
		    t + 4);
		if (host[0] == '[') {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

			host[strlen(host) - 1] = '\0';
			a->sin6_family = AF_INET6;
			a->sin6_port = htons((uint16_t)atoi(colon + 1));
			if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
				return cv_fail(CV_ERR_CONFIG, "syslog_5424: "
				    "bad address");
			sl = sizeof *a;
		} else {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;

			a->sin_family = AF_INET;
			a->sin_port = htons((uint16_t)atoi(colon + 1));
			if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
				return cv_fail(CV_ERR_CONFIG, "syslog_5424: "
				    "bad address");
			sl = sizeof *a;
		}
	}
	if ((fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) < 0 || connect(fd, (struct sockaddr *)&ss,
	    sl) != 0) {
		r = cv_fail(CV_ERR_IO, "syslog_5424 %s: %s", t,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return r;
	}
	if (gethostname(rfc5424_host, sizeof rfc5424_host) != 0 ||
	    !rfc5424_host[0] || strchr(rfc5424_host, ' '))
		snprintf(rfc5424_host, sizeof rfc5424_host, "-");
	rfc5424_host[sizeof rfc5424_host - 1] = '\0';
	rfc5424_pid = (long)getpid();
	rfc5424_fd = fd;
	return CV_OK;
}

/* Appends N bytes of P to B; 0 once anything failed (then B is sent
 * not at all). */
static int
add(struct cv_buf *b, const void *p, size_t n)
{
	return cv_buf_add(b, p, n) == CV_OK;
}

/* NAME="V", V as an RFC 5424 PARAM-VALUE ('"', '\\', ']' escaped);
 * nothing for an empty V. */
static int
sd_param(struct cv_buf *b, const char *name, const char *v)
{
	int ok;

	if (v == NULL || *v == '\0')
		return 1;
	ok = add(b, " ", 1) && add(b, name, strlen(name)) &&
	    add(b, "=\"", 2);
	for (; ok && *v; v++)
		ok = ((*v != '"' && *v != '\\' && *v != ']') ||
		    add(b, "\\", 1)) && add(b, v, 1);
	return ok && add(b, "\"", 1);
}

/*
 * <PRI>1 TIMESTAMP HOSTNAME clearvault PROCID KIND [clearvault@32473
 * ...] DETAIL: facility authpriv (10), severity alert (1) for critical,
 * warning (4) else.
 */
static void
rfc5424_send(const struct cv_keyd_alert *a, const char *when, const char *id)
{
	struct cv_buf b = { 0 };
	char head[512], num[32];
	const char *msg = a->detail && *a->detail ? a->detail : "-";
	int ok;

	if (rfc5424_fd < 0)
		return;
	snprintf(head, sizeof head, "<%d>1 %s %.255s clearvault %ld %.32s [",
	    10 * 8 + (!strcmp(a->severity, "critical") ? 1 : 4), when,
	    rfc5424_host, rfc5424_pid, a->kind);
	ok = add(&b, head, strlen(head)) && add(&b, SD_ID, sizeof SD_ID - 1) &&
	    sd_param(&b, "kind", a->kind) &&
	    sd_param(&b, "severity", a->severity) &&
	    sd_param(&b, "user", a->user) &&
	    sd_param(&b, "source", a->source) &&
	    sd_param(&b, "session", a->session) &&
	    sd_param(&b, "locked", a->locked ? "true" : "false");
	for (size_t i = 0; ok && i < a->n; i++) {
		snprintf(num, sizeof num, "%llu",
		    (unsigned long long)a->indices[i]);
		ok = sd_param(&b, "audit_index", num);
	}
	ok = ok && sd_param(&b, "vault", a->vault_id) &&
	    sd_param(&b, "event_id", id) && add(&b, "] ", 2) &&
	    add(&b, msg, strlen(msg));
	if (ok && send(rfc5424_fd, b.p, b.len, MSG_DONTWAIT |
	    MSG_NOSIGNAL) < 0 && errno != ECONNREFUSED)
		fprintf(stderr, "clearvault: syslog_5424: %s\n",
		    strerror(errno));
	cv_buf_free(&b);
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
	char *line = NULL;
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
	cv = json_pack("{s:s?, s:b, s:o}", "session", a->session &&
	    *a->session ? a->session : NULL, "locked", a->locked,
	    "audit_indices", idx ? idx : json_array());
	j = json_pack("{s:s, s:{s:s, s:[s], s:s, s:i, s:s, s:s, s:s},"
	    " s:s, s:{s:s}, s:{s:s}, s:{s:s, s:s, s:s}, s:{s:s?},"
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
	    "labels", "vault_id", a->vault_id,
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
	if (j == NULL || (line = json_dumps(j, JSON_COMPACT)) == NULL ||
	    fd < 0 || write(fd, line, strlen(line)) < 0 ||
	    write(fd, "\n", 1) < 0)
		fprintf(stderr, "clearvault: cannot write an alert (%s)\n",
		    a->kind);
	free(line);
	json_decref(j);
	rfc5424_send(a, when, id);
	syslog(LOG_AUTHPRIV | (strcmp(a->severity, "critical") == 0 ?
	    LOG_ALERT : LOG_WARNING), "%s %s: %s%s%s%s", a->severity,
	    a->kind, a->detail ? a->detail : "", a->user ? " user " : "",
	    a->user ? a->user : "", a->locked ? "; locked" : "");
}
