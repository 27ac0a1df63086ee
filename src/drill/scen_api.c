/*
 * The scenarios played through the HTTPS API: a stolen password, a
 * stolen certificate and session read fast, low and slow for a simulated
 * week, the stolen session read slowly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "drill_internal.h"

#define MONDAY 1736121600LL	/* Monday 2025-01-06 00:00 UTC */


/* 1. A password and a user name, no certificate, no TOTP secret. */
cv_err
drill_s1_password(struct drill_ctx *c)
{
	struct cv_http *so = NULL, *h = NULL;
	char tok[256], cs[128];
	int st;
	cv_err r;

	if ((r = drill_stage(c, "alice", "investigator", 20, 0, &so, tok, cs)) ||
	    (r = drill_client(c->env, NULL, &h)))
		goto out;
	drill_attack_begins(c);
	for (int i = 0; i < 5; i++) {
		if ((r = cv_http_req(h, "POST", "/v1/session", NULL,
		    "{\"user\":\"alice\",\"password\":\"Summer2015!\","
		    "\"totp\":\"123456\"}", NULL, &st, NULL)))
			goto out;
		drill_mark(c, st == 201 ? CV_DRILL_EV_READ :
		    CV_DRILL_EV_REFUSED);
	}
	for (size_t i = 0; i < 20 && i < c->env->nids; i++)
		if ((r = drill_read(c, h, "Summer2015!", c->env->ids[i], cs,
		    &st, NULL)))
			goto out;
	c->res->control = "mtls";
	c->scope_opt = "--address";
	c->scope_subject = "127.0.0.1";
	r = drill_conclude(c, "alice", c->first_us / 1000000);
	c->res->goal_met = c->res->records_exposed == 0 &&
	    c->res->scope_exact;
	snprintf(c->res->note + strlen(c->res->note), sizeof c->res->note -
	    strlen(c->res->note), "%sno client certificate: every request "
	    "refused (%s)", c->res->note[0] ? "; " : "",
	    st ? "HTTP 401" : "handshake refused");
out:
	cv_http_free(h);
	cv_http_free(so);
	return r;
}

/* 2. The 2015 path: a contractor's certificate and a live session (no
 * TOTP secret), every record of the case as fast as possible. */
cv_err
drill_s2_fast(struct drill_ctx *c)
{
	struct cv_http *so = NULL, *h = NULL;
	char tok[256], stok[256], cs[128];
	int st, n200 = 0, n403 = 0, n401 = 0;
	cv_err r;

	if ((r = drill_stage(c, "thief", "investigator", 100, 0, &so, stok, cs)) ||
	    (r = drill_client(c->env, "thief", &h)) ||
	    (r = drill_login(c->env, h, "thief", tok)))
		goto out;
	for (size_t i = 0; i < 100 && i < c->env->nids; i++) {
		if ((r = drill_read(c, h, tok, c->env->ids[i], cs, &st, NULL)))
			goto out;
		n200 += st == 200;
		n403 += st == 403;
		n401 += st == 401;
	}
	if ((r = cv_http_req(h, "POST", "/v1/session/step-up", tok,
	    "{\"totp\":\"000000\"}", NULL, &st, NULL)))
		goto out;
	c->res->control = "guard.step_up";
	r = drill_conclude(c, "thief", c->first_us / 1000000);
	c->res->goal_met = c->res->records_exposed <= 25 &&
	    c->res->scope_exact && c->res->detected_after_ms >= 0;
	snprintf(c->res->note + strlen(c->res->note), sizeof c->res->note -
	    strlen(c->res->note), "; 100 asked: %d returned, %d refused "
	    "(403), %d after the lock (401)", n200, n403, n401);
out:
	cv_http_free(h);
	cv_http_free(so);
	return r;
}

static cv_err
set_clock(struct drill_env *e, long long start, long long step)
{
	FILE *f = fopen(e->clock, "w");

	if (f == NULL)
		return cv_fail(CV_ERR_IO, "%s: cannot write", e->clock);
	fprintf(f, "%lld %lld\n", start, step);
	return fclose(f) == 0 ? CV_OK : CV_ERR_IO;
}

/* 3. Low and slow on a learnt session: a record every 5 simulated minutes,
 * day and night, for a week, after three weeks of office work. The
 * session budget is set out of the way (the victim's 360 reads are one
 * session here, where a real one would step up every 20): this drill
 * measures the behaviour detectors, drill 11 the session budget. */
cv_err
drill_s3_slow(struct drill_ctx *c)
{
	struct cv_http *so = NULL, *h = NULL;
	char tok[256], stok[256], cs[128], path[300];
	size_t ncase = c->env->nids < 300 ? c->env->nids : 300, at = 0;
	int64_t t[64], idx[64], sim0 = (MONDAY + 3 * 604800 + 9 * 3600) * 1000000LL;
	char kind[64][32];
	int locked[64], st, fails = 0, first_bad = -1;
	size_t na, reads = 0, nalert = 0;
	int64_t from_s;
	cv_err r;

	if ((r = drill_conf_add(c->env, "session_records = 100000")) ||
	    (r = drill_stage(c, "lw", "investigator", ncase, 1, &so, stok, cs)) ||
	    (r = drill_client(c->env, "lw", &h)) ||
	    (r = drill_login(c->env, h, "lw", tok)))
		goto out;
	/* Three weeks of office work: weekdays from 09:00, every 20 min. */
	for (int week = 0; week < 3; week++) {
		for (int day = 0; day < 5; day++) {
			if ((r = set_clock(c->env, MONDAY + week * 604800 +
			    day * 86400 + 9 * 3600, 1200)))
				goto out;
			for (int i = 0; i < 24; i++, at++) {
				snprintf(path, sizeof path, "/v1/records/%s"
				    "?purpose=%s", c->env->ids[at % ncase], cs);
				if ((r = cv_http_req(h, "GET", path, tok,
				    NULL, NULL, &st, NULL)))
					goto out;
			}
		}
	}
	/* The thief's reads are those from the next whole second on. */
	from_s = cv_time_us() / 1000000 + 1;
	usleep((useconds_t)(from_s * 1000000 - cv_time_us() + 20000));
	if ((r = set_clock(c->env, sim0 / 1000000, 300)))
		goto out;
	c->t0_us = cv_time_us();	/* the timeline shows the week only */
	c->res->nevents = 0;
	for (int i = 0; i < 2016 && fails < 10; i++, at++) {
		if ((r = drill_read(c, h, tok, c->env->ids[at % ncase], cs, &st,
		    NULL)))
			goto out;
		reads++;
		fails = st == 200 ? 0 : fails + 1;
		if (st != 200 && first_bad < 0)
			first_bad = i;
	}
	c->res->control = "guard.behaviour";
	c->alerts_placed = 1;
	if ((r = drill_alerts(c->env, "lw", 64, t, kind, locked, idx, &na)))
		goto out;
	/* The alert's entry: how many of the thief's reads came before it,
	 * each 5 simulated minutes after the last. */
	if (na && (r = drill_entry(c->env, "lw", idx[0], from_s * 1000000,
	    &t[0], &nalert)))
		goto out;
	if (na) {
		c->res->detected_after_ms = (int64_t)nalert * 300000;
		c->res->detected_simulated = 1;
		c->res->detection = "first alert (simulated time)";
	} else if (first_bad >= 0) {
		c->res->detected_after_ms = (int64_t)first_bad * 300000;
		c->res->detected_simulated = 1;
		c->res->detection = "first refusal (simulated time)";
	}
	/* On the timeline: the alerts at the first refusal. */
	for (size_t i = 0; i < c->res->nevents && na; i++) {
		if (c->res->events[i].kind == CV_DRILL_EV_REFUSED) {
			int64_t tm = c->res->events[i].t_ms;
			drill_mark(c, CV_DRILL_EV_ALERT);
			c->res->events[c->res->nevents - 1].t_ms = tm;
			if (locked[na - 1]) {
				drill_mark(c, CV_DRILL_EV_LOCK);
				c->res->events[c->res->nevents - 1].t_ms = tm;
			}
			break;
		}
	}
	snprintf(c->res->note, sizeof c->res->note, "after 360 baseline reads "
	    "in 3 weeks: %zu asked, first refusal at read %d (%.1f simulated "
	    "h); first alert: %s%s", reads, first_bad + 1,
	    first_bad * 300 / 3600.0, na ? kind[0] : "none",
	    na && locked[0] ? " (locked)" : "");
	r = drill_conclude(c, "lw", from_s);
	c->res->goal_met = c->res->records_exposed <= 400 &&
	    c->res->detected_after_ms >= 0 &&
	    c->res->detected_after_ms <= 86400000 && c->res->scope_exact;
out:
	cv_http_free(h);
	cv_http_free(so);
	return r;
}

/*
 * 11. Drill 2's thief, paced: the certificate and a live session, no TOTP
 * secret, one record every PACE simulated seconds (100 an hour: under
 * every soft budget per minute, hour and day) for four simulated hours.
 * Only the session budget, 20 distinct records since the session's last
 * TOTP proof, stands in its way; it asks on until the session is ended.
 */
#define PACE 36
cv_err
drill_s11_paced(struct drill_ctx *c)
{
	struct cv_http *so = NULL, *h = NULL;
	char tok[256], stok[256], cs[128], kind[64][32];
	size_t ncase = c->env->nids < 400 ? c->env->nids : 400, na, nalert = 0;
	int64_t t[64], idx[64];
	int locked[64], st, n200 = 0, n403 = 0, n401 = 0, first_bad = -1;
	cv_err r;

	if ((r = drill_stage(c, "thief", "investigator", ncase, 1, &so, stok,
	    cs)) ||
	    (r = drill_client(c->env, "thief", &h)) ||
	    (r = drill_login(c->env, h, "thief", tok)) ||
	    (r = set_clock(c->env, MONDAY + 9 * 3600, PACE)))
		goto out;
	for (size_t i = 0; i < ncase && n401 == 0; i++) {
		if ((r = drill_read(c, h, tok, c->env->ids[i], cs, &st, NULL)))
			goto out;
		n200 += st == 200;
		n403 += st == 403;
		n401 += st == 401;	/* the session is over: no more */
		if (st != 200 && first_bad < 0)
			first_bad = (int)i;
	}
	c->res->control = "guard.session_budget";
	/* Detection on the guard's clock: the thief's reads before the
	 * first alert's entry, each PACE simulated seconds after the last. */
	if ((r = drill_alerts(c->env, "thief", 64, t, kind, locked, idx, &na)))
		goto out;
	if (na && (r = drill_entry(c->env, "thief", idx[0], c->first_us,
	    &t[0], &nalert)))
		goto out;
	if (na) {
		c->res->detected_after_ms = (int64_t)nalert * PACE * 1000;
		c->res->detected_simulated = 1;
		c->res->detection = "first alert (simulated time)";
	} else if (first_bad >= 0) {
		c->res->detected_after_ms = (int64_t)first_bad * PACE * 1000;
		c->res->detected_simulated = 1;
		c->res->detection = "first refusal (simulated time)";
	}
	drill_note(c, "a record every %d simulated s (100 an hour): %d asked, "
	    "%d returned, %d refused (403), %d after the lock (401); first "
	    "refusal at read %d (%.1f simulated min); first alert: %s%s",
	    PACE, n200 + n403 + n401, n200, n403, n401, first_bad + 1,
	    first_bad * PACE / 60.0, na ? kind[0] : "none",
	    na && locked[0] ? " (locked)" : "");
	r = drill_conclude(c, "thief", c->first_us / 1000000);
	c->res->goal_met = c->res->records_exposed <= 25 &&
	    c->res->detected_after_ms >= 0 && c->res->scope_exact;
out:
	cv_http_free(h);
	cv_http_free(so);
	return r;
}
