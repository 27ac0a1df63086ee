#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
/* Only for the witness's verifier key's form (a parser with no state):
 * a config error should name the key, not surface at the first push. */
#include "../witness/witness.h"

/*
 * A key either copies its text into a string field (OFF, SIZE) or, with
 * PARSE, is a number checked and stored by it: PARSE gets the value's text
 * (NUL-terminated, at most SIZE - 1 bytes) and returns 0 to refuse it, and
 * FORM says what was expected, for the error that names the line.
 */
struct key {
	const char *name;
	size_t off, size;
	int required;
	int (*parse)(const char *v, struct cv_config *c);
	const char *form;
	int multi;	/* may be given on several lines (witness) */
};

/* A decimal number 0 .. MAX: digits only, no sign, no blanks. */
static int
number(const char *v, uint32_t max, uint32_t *out)
{
	uint64_t n = 0;

	if (*v == '\0')
		return 0;
	for (; *v; v++) {
		if (*v < '0' || *v > '9' || (n = n * 10 + (uint64_t)(*v - '0')) >
		    max)
			return 0;
	}
	*out = (uint32_t)n;
	return 1;
}

/* "SOFT/HARD", 1 <= SOFT <= HARD <= CV_CEILING_MAX (blanks around '/'). */
static int
soft_hard(const char *v, uint32_t out[2])
{
	char a[16], b[16];
	const char *slash = strchr(v, '/'), *e;
	size_t n;

	if (slash == NULL)
		return 0;
	for (e = slash; e > v && (e[-1] == ' ' || e[-1] == '\t'); e--)
		;
	n = (size_t)(e - v);
	if (n >= sizeof a)
		return 0;
	memcpy(a, v, n);
	a[n] = '\0';
	for (v = slash + 1; *v == ' ' || *v == '\t'; v++)
		;
	if (strlen(v) >= sizeof b)
		return 0;
	strcpy(b, v);
	return number(a, CV_CEILING_MAX, &out[0]) &&
	    number(b, CV_CEILING_MAX, &out[1]) && out[0] >= 1 &&
	    out[0] <= out[1];
}

static int
parse_hour(const char *v, struct cv_config *c)
{
	c->given |= CV_CONFIG_GIVEN_CEILING_HOUR;
	return soft_hard(v, c->ceiling_hour);
}

static int
parse_day(const char *v, struct cv_config *c)
{
	c->given |= CV_CONFIG_GIVEN_CEILING_DAY;
	return soft_hard(v, c->ceiling_day);
}

static int
parse_probation(const char *v, struct cv_config *c)
{
	c->given |= CV_CONFIG_GIVEN_PROBATION;
	return number(v, CV_PROBATION_DAYS_MAX, &c->probation_days);
}

/* A whole number, 1 .. MAX. */
static int
positive(const char *v, uint32_t max, uint32_t *out)
{
	return number(v, max, out) && *out >= 1;
}

static int
parse_session(const char *v, struct cv_config *c)
{
	c->given |= CV_CONFIG_GIVEN_SESSION_RECORDS;
	return positive(v, CV_SESSION_RECORDS_MAX, &c->session_records);
}

static int
parse_handshake(const char *v, struct cv_config *c)
{
	c->given |= CV_CONFIG_GIVEN_HANDSHAKE;
	return positive(v, CV_HANDSHAKE_TIMEOUT_MAX, &c->handshake_timeout);
}

static int
parse_idle(const char *v, struct cv_config *c)
{
	c->given |= CV_CONFIG_GIVEN_IDLE;
	return positive(v, CV_IDLE_TIMEOUT_MAX, &c->idle_timeout);
}

static int
parse_quorum(const char *v, struct cv_config *c)
{
	c->given |= CV_CONFIG_GIVEN_WITNESS_QUORUM;
	return positive(v, CV_CONFIG_WITNESS_MAX, &c->witness_quorum);
}

static int
parse_alert_after(const char *v, struct cv_config *c)
{
	c->given |= CV_CONFIG_GIVEN_WITNESS_ALERT;
	return positive(v, CV_WITNESS_ALERT_AFTER_MAX,
	    &c->witness_alert_after);
}

static int
parse_no_quorum(const char *v, struct cv_config *c)
{
	c->given |= CV_CONFIG_GIVEN_WITNESS_NO_QUORUM;
	if (!strcmp(v, "alert"))
		c->witness_no_quorum = CV_CONFIG_NO_QUORUM_ALERT;
	else if (!strcmp(v, "refuse-reads"))
		c->witness_no_quorum = CV_CONFIG_NO_QUORUM_REFUSE_READS;
	else
		return 0;
	return 1;
}

/*
 * "http://HOST:PORT[/] VKEY": one more witness. HOST:PORT is checked as a
 * syslog collector's is (DNS letters, IPv4, [IPv6]); no path, no
 * userinfo, no TLS: the protocol's payload authenticates itself (README,
 * "Witnesses"). Two witnesses of the same name or key are refused: a
 * quorum of one party counted twice is no quorum.
 */
static int
parse_witness(const char *v, struct cv_config *c)
{
	struct cv_config_witness *w;
	struct cv_syslog_target t;
	uint8_t pk[CV_WITNESS_PK];
	char hp[CV_CONFIG_WITNESS_URL_MAX + 8];
	const char *sp;
	size_t n;

	if (c->nwitness == CV_CONFIG_WITNESS_MAX)
		return 0;
	w = &c->witness[c->nwitness];
	if (strncmp(v, "http://", 7) != 0 || (sp = strpbrk(v, " \t")) == NULL)
		return 0;
	n = (size_t)(sp - v);
	if (n >= sizeof w->url)
		return 0;
	memcpy(w->url, v, n);
	w->url[n] = '\0';
	for (v = sp; *v == ' ' || *v == '\t'; v++)
		;
	if (strlen(v) >= sizeof w->vkey ||
	    cv_witness_vkey_parse(v, w->name, pk) != CV_OK)
		return 0;
	strcpy(w->vkey, v);
	n = strlen(w->url + 7);
	if (n > 0 && w->url[7 + n - 1] == '/')
		n--;
	snprintf(hp, sizeof hp, "tcp:%.*s", (int)n, w->url + 7);
	if (strchr(hp + 4, '/') || strchr(hp + 4, '@') ||
	    cv_config_syslog_target(hp, &t) != CV_OK)
		return 0;
	memcpy(w->host, t.host, sizeof w->host);
	memcpy(w->port, t.port, sizeof w->port);
	/* One party, one vote: a name, or a key under another name (the
	 * cosigned message does not hold the name), only once. */
	for (unsigned i = 0; i < c->nwitness; i++) {
		char on[sizeof w->name];
		uint8_t opk[sizeof pk];

		if (!strcmp(c->witness[i].name, w->name) ||
		    (cv_witness_vkey_parse(c->witness[i].vkey, on, opk) ==
		    CV_OK && memcmp(opk, pk, sizeof pk) == 0))
			return 0;
	}
	c->nwitness++;
	return 1;
}

cv_err
cv_config_syslog_target(const char *text, struct cv_syslog_target *out)
{
	const char *h, *colon, *end;
	size_t n;
	unsigned long port;
	char *e;

	memset(out, 0, sizeof *out);
	if (strncmp(text, "udp:", 4) == 0)
		out->tcp = 0;
	else if (strncmp(text, "tcp:", 4) == 0)
		out->tcp = 1;
	else
		goto bad;
	h = text + 4;
	if ((colon = strrchr(h, ':')) == NULL || colon[1] < '0' ||
	    colon[1] > '9' || strlen(colon + 1) > 5)
		goto bad;
	port = strtoul(colon + 1, &e, 10);
	if (*e != '\0' || port == 0 || port > 65535)
		goto bad;
	snprintf(out->port, sizeof out->port, "%lu", port);
	end = colon;
	if (*h == '[') {	/* [IPv6] */
		if (end - h < 3 || end[-1] != ']')
			goto bad;
		h++;
		end--;
		n = (size_t)(end - h);
		if (strspn(h, "0123456789abcdefABCDEF:.") < n)
			goto bad;
	} else {
		/* A name or an IPv4 address: the letters of DNS names only,
		 * so that nothing odd reaches the resolver or a log line. */
		n = (size_t)(end - h);
		if (n == 0 || strspn(h, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") < n ||
		    *h == '-' || *h == '.')
			goto bad;
	}
	if (n == 0 || n >= sizeof out->host)
		goto bad;
	memcpy(out->host, h, n);
	out->host[n] = '\0';
	return CV_OK;
 bad:
	memset(out, 0, sizeof *out);
	return cv_fail(CV_ERR_CONFIG, "syslog_5424 must be udp:HOST:PORT or "
	    "tcp:HOST:PORT (HOST a name, an IPv4 address or [an IPv6 one])");
}

#define K(n, f, req) { n, offsetof(struct cv_config, f), \
	sizeof(((struct cv_config *)0)->f), req, NULL, NULL, 0 }
/* Numbers: the longest text worth reading is SIZE - 1 bytes. */
#define N(n, size, fn, form) { n, 0, size, 0, fn, form, 0 }
static const struct key keys[] = {
	K("vault_id", vault_id, 1),
	K("key_id", key_id, 0),
	K("pkcs11_module", pkcs11_module, 1),
	K("token_label", token_label, 1),
	K("pin_file", pin_file, 1),
	K("softhsm2_conf", softhsm2_conf, 0),
	K("canaries", canaries, 0),
	K("db", db, 0),
	K("syslog_5424", syslog_5424, 0),
	N("ceiling_hour", 40, parse_hour, "SOFT/HARD, whole numbers with "
	    "1 <= SOFT <= HARD <= 100000000"),
	N("ceiling_day", 40, parse_day, "SOFT/HARD, whole numbers with "
	    "1 <= SOFT <= HARD <= 100000000"),
	N("probation_days", 8, parse_probation, "a whole number of days, 0 "
	    "(off) to 3650"),
	N("session_records", 12, parse_session, "a whole number of records, "
	    "1 to 1000000"),
	N("handshake_timeout", 8, parse_handshake, "a whole number of "
	    "seconds, 1 to 300"),
	N("idle_timeout", 8, parse_idle, "a whole number of seconds, 1 to "
	    "3600"),
	{ "witness", 0, CV_CONFIG_WITNESS_URL_MAX + CV_CONFIG_WITNESS_VKEY_MAX +
	    8, 0, parse_witness, "'http://HOST:PORT VKEY' (VKEY a witness's "
	    "cosignature key, as `clearvault witness init` prints it; at most "
	    "8 witnesses, each name and key once)", 1 },
	N("witness_quorum", 4, parse_quorum, "a whole number of witnesses, "
	    "1 to the number of witness lines"),
	N("witness_alert_after", 8, parse_alert_after, "a whole number of "
	    "seconds, 1 to 604800"),
	N("witness_no_quorum", 16, parse_no_quorum, "'alert' or "
	    "'refuse-reads'"),
};
#undef K
#undef N
#define NKEYS (sizeof keys / sizeof keys[0])

/* The defaults of the parsed keys. */
static void
defaults(struct cv_config *c)
{
	c->ceiling_hour[0] = CV_CEILING_HOUR_SOFT;
	c->ceiling_hour[1] = CV_CEILING_HOUR_HARD;
	c->ceiling_day[0] = CV_CEILING_DAY_SOFT;
	c->ceiling_day[1] = CV_CEILING_DAY_HARD;
	c->probation_days = CV_PROBATION_DAYS;
	c->session_records = CV_SESSION_RECORDS;
	c->handshake_timeout = CV_HANDSHAKE_TIMEOUT_S;
	c->idle_timeout = CV_IDLE_TIMEOUT_S;
	c->witness_alert_after = CV_WITNESS_ALERT_AFTER_S;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* CV_VAULT_ID_LEN lower-case hex digits, NUL-terminated. */
static int
hex_id(const char *id)
{
	return strspn(id, "0123456789abcdef") == CV_VAULT_ID_LEN &&
	    id[CV_VAULT_ID_LEN] == '\0';
}

/* Trims [*s, *e) of blanks. */
static void
trim(const char **s, const char **e)
{
	while (*s < *e && is_space(**s))
		(*s)++;
	while (*e > *s && is_space((*e)[-1]))
		(*e)--;
}

cv_err
cv_config_parse(const char *text, size_t len, struct cv_config *out)
{
	const char *p = text, *end = text + len, *nl, *eq, *ks, *ke, *vs, *ve;
	unsigned seen = 0, line = 0;
	/* above every number key's size, and a witness line's */
	char num[CV_CONFIG_WITNESS_URL_MAX + CV_CONFIG_WITNESS_VKEY_MAX + 8];
	size_t i;

	memset(out, 0, sizeof *out);
	defaults(out);
	while (p < end) {
		line++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		for (const char *q = p; q < nl; q++) {
			if ((unsigned char)*q < 0x20 && *q != '\t')
				goto bad_char;
		}
		ks = p;
		ke = nl;
		if ((eq = memchr(p, '#', (size_t)(nl - p))) != NULL)
			ke = eq;
		trim(&ks, &ke);
		p = nl + (nl < end);
		if (ks == ke)
			continue;
		if ((eq = memchr(ks, '=', (size_t)(ke - ks))) == NULL) {
			memset(out, 0, sizeof *out);
			return cv_fail(CV_ERR_CONFIG, "line %u: expected "
			    "'key = value'", line);
		}
		vs = eq + 1;
		ve = ke;
		ke = eq;
		trim(&ks, &ke);
		trim(&vs, &ve);
		for (i = 0; i < NKEYS; i++) {
			if ((size_t)(ke - ks) == strlen(keys[i].name) &&
			    memcmp(ks, keys[i].name, (size_t)(ke - ks)) == 0)
				break;
		}
		if (i == NKEYS) {
			memset(out, 0, sizeof *out);
			return cv_fail(CV_ERR_CONFIG, "line %u: unknown key "
			    "'%.*s'", line, (int)(ke - ks > 40 ? 40 : ke - ks),
			    ks);
		}
		if ((seen & (1u << i)) && !keys[i].multi) {
			memset(out, 0, sizeof *out);
			return cv_fail(CV_ERR_CONFIG, "line %u: '%s' given "
			    "twice", line, keys[i].name);
		}
		if (vs == ve || (size_t)(ve - vs) >= keys[i].size) {
			memset(out, 0, sizeof *out);
			return cv_fail(CV_ERR_CONFIG, "line %u: '%s' is empty "
			    "or too long", line, keys[i].name);
		}
		seen |= 1u << i;
		if (keys[i].parse == NULL) {
			memcpy((char *)out + keys[i].off, vs, (size_t)(ve - vs));
			continue;
		}
		memcpy(num, vs, (size_t)(ve - vs));
		num[ve - vs] = '\0';
		if (!keys[i].parse(num, out)) {
			memset(out, 0, sizeof *out);
			return cv_fail(CV_ERR_CONFIG, "line %u: '%s' must be %s",
			    line, keys[i].name, keys[i].form);
		}
	}
	for (i = 0; i < NKEYS; i++) {
		if (keys[i].required && !(seen & (1u << i))) {
			memset(out, 0, sizeof *out);
			return cv_fail(CV_ERR_CONFIG, "missing '%s'",
			    keys[i].name);
		}
	}
	/* The store picks its driver by this form (cv_store_is_url). */
	if (out->db[0] && strncmp(out->db, "postgresql://", 13) != 0 &&
	    strncmp(out->db, "postgres://", 11) != 0) {
		memset(out, 0, sizeof *out);
		return cv_fail(CV_ERR_CONFIG, "db must be a postgresql:// URI "
		    "(a SQLite vault has no db line: its database is "
		    "vault.db)");
	}
	if (out->canaries[0] && strspn(out->canaries, "0123456789") !=
	    strlen(out->canaries)) {
		memset(out, 0, sizeof *out);
		return cv_fail(CV_ERR_CONFIG, "canaries must be a number");
	}
	if (!hex_id(out->vault_id)) {
		memset(out, 0, sizeof *out);
		return cv_fail(CV_ERR_CONFIG, "vault_id must be %d lower-case "
		    "hex digits", CV_VAULT_ID_LEN);
	}
	if (out->syslog_5424[0]) {
		struct cv_syslog_target t;
		cv_err r;

		if ((r = cv_config_syslog_target(out->syslog_5424, &t)) !=
		    CV_OK) {
			memset(out, 0, sizeof *out);
			return r;
		}
	}
	if (out->witness_quorum > out->nwitness) {
		unsigned n = out->nwitness;

		memset(out, 0, sizeof *out);
		return cv_fail(CV_ERR_CONFIG, "witness_quorum is above the "
		    "number of witness lines (%u)", n);
	}
	if (!(out->given & CV_CONFIG_GIVEN_WITNESS_QUORUM))
		out->witness_quorum = out->nwitness;
	/* Without witnesses there is never a quorum: every read would be
	 * refused, which is a mistake, not a policy. */
	if (out->witness_no_quorum == CV_CONFIG_NO_QUORUM_REFUSE_READS &&
	    out->nwitness == 0) {
		memset(out, 0, sizeof *out);
		return cv_fail(CV_ERR_CONFIG, "witness_no_quorum = "
		    "refuse-reads needs witness lines");
	}
	if (out->key_id[0] == '\0')
		memcpy(out->key_id, out->vault_id, sizeof out->key_id);
	else if (!hex_id(out->key_id)) {
		memset(out, 0, sizeof *out);
		return cv_fail(CV_ERR_CONFIG, "key_id must be %d lower-case "
		    "hex digits", CV_VAULT_ID_LEN);
	}
	return CV_OK;
 bad_char:
	memset(out, 0, sizeof *out);
	return cv_fail(CV_ERR_CONFIG, "line %u: control character", line);
}

static cv_err
resolve(const char *dir, char *path, size_t size)
{
	char tmp[CV_CONFIG_PATH_MAX];

	if (path[0] == '\0' || path[0] == '/')
		return CV_OK;
	if (cv_path(tmp, sizeof tmp, "%s/%s", dir, path) != CV_OK ||
	    strlen(tmp) >= size)
		return cv_fail(CV_ERR_CONFIG, "path too long: %s", path);
	strcpy(path, tmp);
	return CV_OK;
}

cv_err
cv_config_load(const char *dir, struct cv_config *out)
{
	char path[CV_CONFIG_PATH_MAX], *text = NULL, detail[400];
	size_t len;
	cv_err r;

	memset(out, 0, sizeof *out);
	if ((r = cv_path(path, sizeof path, "%s/%s", dir,
	    CV_CONFIG_FILE)) != CV_OK)
		return r;
	if ((r = cv_file_read(path, CV_CONFIG_MAX_BYTES, &text, &len))
	    != CV_OK) {
		if (r == CV_ERR_NOT_FOUND)
			return cv_fail(CV_ERR_CONFIG, "%s is not a vault (no "
			    "%s; create one with 'clearvault init')", dir,
			    CV_CONFIG_FILE);
		return r == CV_ERR_NOMEM ? r : CV_ERR_CONFIG;
	}
	r = cv_config_parse(text, len, out);
	free(text);
	if (r != CV_OK) {
		snprintf(detail, sizeof detail, "%s", cv_err_detail());
		return cv_fail(r, "%s: %s", path, detail);
	}
	if ((r = resolve(dir, out->pkcs11_module,
	    sizeof out->pkcs11_module)) != CV_OK ||
	    (r = resolve(dir, out->pin_file, sizeof out->pin_file)) != CV_OK ||
	    (r = resolve(dir, out->softhsm2_conf,
	    sizeof out->softhsm2_conf)) != CV_OK)
		return r;
	return CV_OK;
}

/* Appends to TEXT (SIZE bytes, *N used); 0 when it does not fit. */
static int CV_PRINTF(4, 5)
appendf(char *text, size_t size, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int m;

	if (*n >= size)
		return 0;
	va_start(ap, fmt);
	m = vsnprintf(text + *n, size - *n, fmt, ap);
	va_end(ap);
	if (m < 0 || (size_t)m >= size - *n)
		return 0;
	*n += (size_t)m;
	return 1;
}

static cv_err
save(const char *dir, const struct cv_config *c, int replace)
{
	char path[CV_CONFIG_PATH_MAX],
	    text[5 * CV_CONFIG_PATH_MAX + CV_SYSLOG_TARGET_MAX + 512 +
	    CV_CONFIG_WITNESS_MAX * (CV_CONFIG_WITNESS_URL_MAX +
	    CV_CONFIG_WITNESS_VKEY_MAX + 16) + 64];
	size_t n = 0;
	/* Written only when it is not the vault id (after a restore). */
	int keyid = c->key_id[0] && strcmp(c->key_id, c->vault_id) != 0;
	cv_err r;

	if ((r = cv_path(path, sizeof path, "%s/%s", dir,
	    CV_CONFIG_FILE)) != CV_OK)
		return r;
	if (!appendf(text, sizeof text, &n,
	    "# clearvault vault configuration\n"
	    "vault_id = %s\npkcs11_module = %s\ntoken_label = %s\n"
	    "pin_file = %s\n%s%s%s%s%s%s%s%s%s%s%s%s", c->vault_id,
	    c->pkcs11_module, c->token_label, c->pin_file,
	    c->db[0] ? "db = " : "", c->db, c->db[0] ? "\n" : "",
	    keyid ? "key_id = " : "", keyid ? c->key_id : "",
	    keyid ? "\n" : "",
	    c->softhsm2_conf[0] ? "softhsm2_conf = " : "",
	    c->softhsm2_conf, c->softhsm2_conf[0] ? "\n" : "",
	    c->canaries[0] ? "canaries = " : "", c->canaries,
	    c->canaries[0] ? "\n" : "") ||
	    ((c->given & CV_CONFIG_GIVEN_CEILING_HOUR) && !appendf(text,
	    sizeof text, &n, "ceiling_hour = %u/%u\n", c->ceiling_hour[0],
	    c->ceiling_hour[1])) ||
	    ((c->given & CV_CONFIG_GIVEN_CEILING_DAY) && !appendf(text,
	    sizeof text, &n, "ceiling_day = %u/%u\n", c->ceiling_day[0],
	    c->ceiling_day[1])) ||
	    ((c->given & CV_CONFIG_GIVEN_PROBATION) && !appendf(text,
	    sizeof text, &n, "probation_days = %u\n", c->probation_days)) ||
	    ((c->given & CV_CONFIG_GIVEN_SESSION_RECORDS) && !appendf(text,
	    sizeof text, &n, "session_records = %u\n",
	    c->session_records)) ||
	    ((c->given & CV_CONFIG_GIVEN_HANDSHAKE) && !appendf(text,
	    sizeof text, &n, "handshake_timeout = %u\n",
	    c->handshake_timeout)) ||
	    ((c->given & CV_CONFIG_GIVEN_IDLE) && !appendf(text, sizeof text,
	    &n, "idle_timeout = %u\n", c->idle_timeout)) ||
	    /* A restore rewrites the file: the collector stays. */
	    (c->syslog_5424[0] && !appendf(text, sizeof text, &n,
	    "syslog_5424 = %s\n", c->syslog_5424)) ||
	    ((c->given & CV_CONFIG_GIVEN_WITNESS_QUORUM) && !appendf(text,
	    sizeof text, &n, "witness_quorum = %u\n", c->witness_quorum)) ||
	    ((c->given & CV_CONFIG_GIVEN_WITNESS_ALERT) && !appendf(text,
	    sizeof text, &n, "witness_alert_after = %u\n",
	    c->witness_alert_after)) ||
	    ((c->given & CV_CONFIG_GIVEN_WITNESS_NO_QUORUM) && !appendf(text,
	    sizeof text, &n, "witness_no_quorum = %s\n",
	    c->witness_no_quorum == CV_CONFIG_NO_QUORUM_REFUSE_READS ?
	    "refuse-reads" : "alert")))
		return CV_ERR_INTERNAL;
	/* A restore rewrites the file: its witnesses stay too. */
	for (unsigned i = 0; i < c->nwitness; i++)
		if (!appendf(text, sizeof text, &n, "witness = %s %s\n",
		    c->witness[i].url, c->witness[i].vkey))
			return CV_ERR_INTERNAL;
	if (replace)
		return cv_file_replace(path, text, n, 0600);
	return cv_file_create(path, text, n, 0600);
}

cv_err
cv_config_save(const char *dir, const struct cv_config *c)
{
	return save(dir, c, 0);
}

cv_err
cv_config_replace(const char *dir, const struct cv_config *c)
{
	return save(dir, c, 1);
}
