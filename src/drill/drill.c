/*
 * Running one drill scenario: its stage, the bookkeeping every attacker
 * shares (timeline, exposed records, detection, scope) and the goals.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drill_internal.h"

struct scenario {
	const char *name, *goal;
	cv_err (*run)(struct drill_ctx *);
};

static const struct scenario scenarios[CV_DRILL_NSCENARIOS] = {
	{ "stolen password only", "0 exposed", drill_s1_password },
	{ "stolen certificate + live session, fast", "<= 25 exposed",
	    drill_s2_fast },
	{ "low and slow for a simulated week", "<= one day's budget exposed, "
	    "alert within a simulated day", drill_s3_slow },
	{ "insider outside their cases", "<= 25 exposed", drill_s4_insider },
	{ "stolen database file and backup", "0 exposed", drill_s5_files },
	{ "administrator reading records", "0 exposed", drill_s6_admin },
	{ "audit log edited, cut, truncated", "0 exposed, each detected by "
	    "audit verify", drill_s7_audit },
	{ "hostile-input flood", "0 exposed, server still serves",
	    drill_s8_flood },
	{ "rogue administrator, alone", "0 exposed, every grant pending, "
	    "alert within 1 s", drill_s9_rogue_admin },
	{ "two colluding security officers", "<= 80 exposed (2 readers x "
	    "40/min hard budget), alerted, both stopped", drill_s10_collusion },
	{ "stolen certificate + live session, paced", "<= 25 exposed",
	    drill_s11_paced },
};

const char *
cv_drill_name(int scenario)
{
	if (scenario < 1 || scenario > CV_DRILL_NSCENARIOS)
		return NULL;
	return scenarios[scenario - 1].name;
}

static void
add_event(struct cv_drill_result *r, int64_t t_ms,
    enum cv_drill_event_kind k)
{
	if (r->nevents == r->capevents) {
		size_t cap = r->capevents ? 2 * r->capevents : 256;
		struct cv_drill_event *ev = realloc(r->events,
		    cap * sizeof *ev);
		if (ev == NULL)
			return;	/* the timeline is best effort */
		r->events = ev;
		r->capevents = cap;
	}
	r->events[r->nevents].t_ms = t_ms;
	r->events[r->nevents++].kind = k;
}

void
drill_mark(struct drill_ctx *c, enum cv_drill_event_kind k)
{
	add_event(c->res, (cv_time_us() - c->t0_us) / 1000, k);
}

void
drill_note(struct drill_ctx *c, const char *fmt, ...)
{
	size_t n = strlen(c->res->note);
	va_list ap;

	if (n && n + 2 < sizeof c->res->note) {
		memcpy(c->res->note + n, "; ", 3);
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(c->res->note + n, sizeof c->res->note - n, fmt, ap);
	va_end(ap);
}

void
drill_attack_begins(struct drill_ctx *c)
{
	if (c->first_us == 0)
		c->first_us = cv_time_us();
}

cv_err
drill_expose(struct drill_ctx *c, const char *id)
{
	char **v;

	for (size_t i = 0; i < c->nexposed; i++)
		if (!strcmp(c->exposed[i], id))
			return CV_OK;
	if (c->nexposed == c->capexposed) {
		size_t cap = c->capexposed ? 2 * c->capexposed : 64;
		if ((v = realloc(c->exposed, cap * sizeof *v)) == NULL)
			return CV_ERR_NOMEM;
		c->exposed = v;
		c->capexposed = cap;
	}
	if ((c->exposed[c->nexposed] = strdup(id)) == NULL)
		return CV_ERR_NOMEM;
	c->nexposed++;
	c->res->records_exposed = (long)c->nexposed;
	return CV_OK;
}

cv_err
drill_read(struct drill_ctx *c, struct cv_http *h, const char *tok,
    const char *id, const char *purpose, int *status, char **body_out)
{
	char path[400], *body = NULL;
	cv_err r;

	drill_attack_begins(c);
	if (purpose)
		snprintf(path, sizeof path, "/v1/records/%s?purpose=%s", id,
		    purpose);
	else
		snprintf(path, sizeof path, "/v1/records/%s", id);
	if ((r = cv_http_req(h, "GET", path, tok, NULL, NULL, status,
	    &body)) != CV_OK)
		return r;
	/* Data reached the attacker: a 200 carrying the record. */
	if (*status == 200 && body && strstr(body, id)) {
		drill_mark(c, CV_DRILL_EV_READ);
		r = drill_expose(c, id);
	} else {
		drill_mark(c, CV_DRILL_EV_REFUSED);
	}
	if (body_out)
		*body_out = body;
	else
		free(body);
	return r;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

cv_err
drill_conclude(struct drill_ctx *c, const char *user, int64_t scope_from_s)
{
	struct cv_drill_result *res = c->res;
	int64_t t[64];
	char kind[64][32];
	int locked[64], refused;
	int64_t idx[64];
	size_t nr;
	char **ids = NULL;
	size_t n, nids = 0;
	cv_err r;

	if ((r = drill_alerts(c->env, user, 64, t, kind, locked, idx, &n)) !=
	    CV_OK)
		goto out;
	/* The alert's own time is to the second: take its audit entry's. */
	if (n > 0 && !c->alerts_placed && (r = drill_entry(c->env, user,
	    idx[0], 0, &t[0], &nr)) != CV_OK)
		goto out;
	for (size_t i = 0; i < n && !c->alerts_placed; i++)
		add_event(res, (t[i] - c->t0_us) / 1000, locked[i] ?
		    CV_DRILL_EV_LOCK : CV_DRILL_EV_ALERT);
	if (n > 0 && res->detected_after_ms < 0) {
		res->detected_after_ms = c->first_us ? (t[0] - c->first_us) /
		    1000 : 0;
		if (res->detected_after_ms < 0)
			res->detected_after_ms = 0;
		res->detection = "first alert";
		snprintf(res->note + strlen(res->note), sizeof res->note -
		    strlen(res->note), "%sfirst alert: %s%s",
		    res->note[0] ? "; " : "", kind[0],
		    locked[0] ? " (locked)" : "");
		if (!strcmp(kind[0], "canary"))
			res->control = "guard.canary";
		else if (!strcmp(kind[0], "budget"))
			res->control = "guard.budget";
		else if (!strcmp(kind[0], "step_up"))
			res->control = "guard.step_up";
	}
	if (res->detected_after_ms < 0) {
		/* No alert: the first audited refusal. */
		for (size_t i = 0; i < res->nevents; i++) {
			if (res->events[i].kind != CV_DRILL_EV_REFUSED)
				continue;
			res->detected_after_ms = res->events[i].t_ms -
			    (c->first_us - c->t0_us) / 1000;
			if (res->detected_after_ms < 0)
				res->detected_after_ms = 0;
			res->detection = "first refusal (audited)";
			break;
		}
	}
	if ((r = drill_scope(c->env, c->scope_opt ? c->scope_opt :
	    "--principal", c->scope_subject ? c->scope_subject : user,
	    scope_from_s, &ids,
	    &nids, &refused)) != CV_OK)
		goto out;
	if (c->nexposed > 1)
		qsort(c->exposed, c->nexposed, sizeof *c->exposed, cmp_str);
	res->scope_exact = !refused && nids == c->nexposed;
	for (size_t i = 0; res->scope_exact && i < nids; i++)
		res->scope_exact = !strcmp(ids[i], c->exposed[i]);
out:
	drill_strv_free(ids, nids);
	return r;
}

cv_err
cv_drill_run(const struct cv_drill_opts *o, int scenario,
    struct cv_drill_result *out)
{
	struct drill_ctx c = { 0 };
	const struct scenario *s;
	int64_t start;
	cv_err r;

	memset(out, 0, sizeof *out);
	if (scenario < 1 || scenario > CV_DRILL_NSCENARIOS)
		return cv_fail(CV_ERR_INVALID, "no scenario %d", scenario);
	s = &scenarios[scenario - 1];
	out->scenario = scenario;
	out->name = s->name;
	out->goal = s->goal;
	out->control = "none";
	out->detection = "not detected";
	out->detected_after_ms = -1;
	c.o = o;
	c.res = out;
	c.t0_us = cv_time_us();
	start = c.t0_us;
	if ((r = drill_env_new(o->exe, o->records, &c.env)) != CV_OK)
		goto out;
	r = s->run(&c);
	out->duration_ms = (cv_time_us() - start) / 1000;
out:
	drill_env_free(c.env);
	drill_strv_free(c.exposed, c.nexposed);
	return r;
}

void
cv_drill_result_free(struct cv_drill_result *r)
{
	if (r == NULL)
		return;
	free(r->events);
	r->events = NULL;
	r->nevents = r->capevents = 0;
}
