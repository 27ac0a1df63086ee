/*
 * More API scenarios: an insider outside their cases, an administrator
 * reading records, and a hostile-input flood.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drill_internal.h"


/* A GET or POST by the attacker that returns no record data. */
static cv_err
probe(struct drill_ctx *c, struct cv_http *h, const char *m,
    const char *path, const char *tok, const char *body, int *st)
{
	cv_err r;

	drill_attack_begins(c);
	r = cv_http_req(h, m, path, tok, body, NULL, st, NULL);
	drill_mark(c, *st >= 200 && *st < 300 ? CV_DRILL_EV_READ :
	    CV_DRILL_EV_REFUSED);
	return r;
}

/* 4. An investigator reads records outside their cases: under their own
 * case's purpose, with no purpose, and by searching for SSNs. */
cv_err
drill_s4_insider(struct drill_ctx *c)
{
	struct drill_env *e = c->env;
	struct cv_http *so = NULL, *h = NULL;
	char tok[256], stok[256], cs[128], path[300], msg[200];
	size_t n = e->nids, asked = 0, srch = 0;
	int st;
	cv_err r;

	if ((r = drill_stage(c, "insider", "investigator", 20, 0, &so, stok, cs)) ||
	    (r = drill_client(e, "insider", &h)) ||
	    (r = drill_login(e, h, "insider", tok)))
		goto out;
	for (size_t i = 20; i < n && asked < 100; i++, asked++)
		if ((r = drill_read(c, h, tok, e->ids[i], asked % 2 ? cs :
		    NULL, &st, NULL)))
			goto out;
	for (size_t i = 120; i < n && srch < 20; i++, srch++) {
		snprintf(path, sizeof path, "/v1/records?ssn=%s&purpose=%s",
		    e->ssns[i], cs);
		if ((r = probe(c, h, "GET", path, tok, NULL, &st)))
			goto out;
	}
	c->res->control = "need_to_know";
	r = drill_conclude(c, "insider", c->first_us / 1000000);
	c->res->goal_met = c->res->records_exposed <= 25 &&
	    c->res->scope_exact;
	snprintf(msg, sizeof msg, "%zu reads and %zu searches outside the "
	    "insider's case", asked, srch);
	drill_note(c, "%s", msg);
out:
	cv_http_free(h);
	cv_http_free(so);
	return r;
}

/* 6. An administrator (manages users) tries to read record data. */
cv_err
drill_s6_admin(struct drill_ctx *c)
{
	struct drill_env *e = c->env;
	struct cv_http *so = NULL, *h = NULL;
	char tok[256], stok[256], cs[128], path[400], body[300];
	int st, ok2xx = 0;
	cv_err r;

	if ((r = drill_stage(c, "admin1", "admin", 20, 0, &so, stok, cs)) ||
	    (r = drill_client(e, "admin1", &h)) ||
	    (r = drill_login(e, h, "admin1", tok)))
		goto out;
	for (size_t i = 0; i < 20 && i < e->nids; i++)
		if ((r = drill_read(c, h, tok, e->ids[i], i % 2 ? cs : NULL,
		    &st, NULL)))
			goto out;
	snprintf(path, sizeof path, "/v1/records?ssn=%s&purpose=%s",
	    e->ssns[0], cs);
	if ((r = probe(c, h, "GET", path, tok, NULL, &st)))
		goto out;
	ok2xx += st / 100 == 2;
	if ((r = probe(c, h, "POST", "/v1/cases", tok,
	    "{\"title\":\"mine\"}", &st)))
		goto out;
	ok2xx += st / 100 == 2;
	snprintf(path, sizeof path, "/v1/cases/%s/members", cs);
	if ((r = probe(c, h, "POST", path, tok, "{\"users\":[\"admin1\"],"
	    "\"records\":[]}", &st)))
		goto out;
	ok2xx += st / 100 == 2;
	if ((r = probe(c, h, "GET", "/v1/audit/entries?from=0&count=10", tok,
	    NULL, &st)))
		goto out;
	ok2xx += st / 100 == 2;
	if ((r = probe(c, h, "GET", "/v1/alerts", tok, NULL, &st)))
		goto out;
	ok2xx += st / 100 == 2;
	snprintf(body, sizeof body, "{\"totp\":\"000000\"}");
	(void)body;
	c->res->control = "policy.sections";
	r = drill_conclude(c, "admin1", c->first_us / 1000000);
	c->res->goal_met = c->res->records_exposed == 0 && ok2xx == 0 &&
	    c->res->scope_exact;
	snprintf(path, sizeof path, "20 reads, a search, a case, joining a "
	    "case, the audit log, alerts: %d allowed", ok2xx);
	drill_note(c, "%s", path);
out:
	cv_http_free(h);
	cv_http_free(so);
	return r;
}

#define FLOOD 2000
#define NCONN 4

/* 8. Malformed bodies, bad UTF-8, huge headers and bodies, path tricks,
 * no certificate, bad tokens, from several connections; then a
 * legitimate user must still be served. */
cv_err
drill_s8_flood(struct drill_ctx *c)
{
	struct drill_env *e = c->env;
	struct cv_http *so = NULL, *h[NCONN] = { 0 }, *lg = NULL;
	char tok[256], stok[256], cs[128], path[400], msg[300];
	static const char raw[] = "GET /v1/records/\0%00 HTTP/1.1\r\n"
	    "Host: \r\n\r\n";
	char *big = NULL, *hdr = NULL;
	int st, legit = 0, counts[6] = { 0 };
	cv_err r;

	if ((r = drill_stage(c, "legit", "investigator", 20, 0, &so, stok, cs)) ||
	    (r = drill_user(e, "flood", "investigator")))
		goto out;
	for (int i = 0; i < NCONN; i++)
		if ((r = drill_client(e, i % 2 ? "flood" : NULL, &h[i])))
			goto out;
	r = CV_ERR_NOMEM;
	if ((big = malloc(80 << 10)) == NULL || (hdr = malloc(40 << 10)) ==
	    NULL)
		goto out;
	memcpy(big, "{\"title\":\"", 10);
	memset(big + 10, 'A', (80 << 10) - 13);
	memcpy(big + (80 << 10) - 3, "\"}", 3);
	memcpy(hdr, "X-Pad: ", 7);
	memset(hdr + 7, 'x', (40 << 10) - 10);
	memcpy(hdr + (40 << 10) - 3, "\r\n", 3);
	for (int i = 0; i < FLOOD; i++) {
		struct cv_http *x = h[i % NCONN];
		const char *id = e->ids[(size_t)i % e->nids];

		drill_attack_begins(c);
		switch (i % 8) {
		case 0:
			r = cv_http_req(x, "POST", "/v1/session", NULL,
			    "{\"totp\":", NULL, &st, NULL);
			break;
		case 1:
			r = cv_http_req(x, "POST", "/v1/session", NULL,
			    "{\"totp\":\"\xff\xfe\xc0\x80\"}", NULL, &st, NULL);
			break;
		case 2:
			snprintf(path, sizeof path, "/v1/records/..%%2F..%%2F"
			    "vault.db?purpose=%s", cs);
			r = cv_http_req(x, "GET", path, "AAAA", NULL, NULL,
			    &st, NULL);
			break;
		case 3:
			r = drill_read(c, x, "bm90LWEtdG9rZW4=", id, cs, &st,
			    NULL);
			break;
		case 4:
			snprintf(path, sizeof path, "/v1/records?ssn=%%27%%20OR"
			    "%%201%%3D1%%20--&purpose=%s", cs);
			r = cv_http_req(x, "GET", path, "x", NULL, NULL,
			    &st, NULL);
			break;
		case 5:
			r = cv_http_req(x, "GET", i % 64 == 5 ?
			    "/v1/records/CV-0000000000000000" : "/healthz",
			    "\x01\x02", NULL, i % 64 == 5 ? hdr : NULL, &st,
			    NULL);
			break;
		case 6:
			r = cv_http_req(x, "POST", "/v1/cases", "x",
			    i % 64 == 6 ? big : "[[[[[[[[[[[[", NULL, &st,
			    NULL);
			break;
		default:
			r = cv_http_raw(x, raw, sizeof raw - 1, &st);
			break;
		}
		if (r != CV_OK)
			goto out;
		counts[st == 0 ? 0 : st < 300 ? 1 : st == 400 ? 2 : st == 401 ?
		    3 : st == 429 ? 4 : 5]++;
		if ((i % 8) != 3)
			drill_mark(c, CV_DRILL_EV_REFUSED);
	}
	/* Legitimate work goes on. */
	if ((r = drill_client(e, "legit", &lg)) ||
	    (r = drill_login(e, lg, "legit", tok)))
		goto out;
	snprintf(path, sizeof path, "/v1/records/%s?purpose=%s", e->ids[0], cs);
	if ((r = cv_http_req(lg, "GET", path, tok, NULL, NULL, &st, NULL)))
		goto out;
	legit = st == 200;
	c->res->control = "limits";
	if ((r = drill_conclude(c, "flood", c->first_us / 1000000)))
		goto out;
	c->res->goal_met = c->res->records_exposed == 0 && legit &&
	    c->res->scope_exact;
	snprintf(msg, sizeof msg, "%d requests on %d connections: %d no "
	    "handshake or dropped, %d 2xx (/healthz), %d 400, %d 401, %d 429, "
	    "%d other; then a legitimate read: %s", FLOOD, NCONN, counts[0],
	    counts[1], counts[2], counts[3], counts[4], counts[5],
	    legit ? "200" : "FAILED");
	drill_note(c, "%s", msg);
out:
	for (int i = 0; i < NCONN; i++)
		cv_http_free(h[i]);
	cv_http_free(lg);
	cv_http_free(so);
	free(big);
	free(hdr);
	return r;
}
