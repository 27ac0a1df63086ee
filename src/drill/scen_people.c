/*
 * Scenarios against two-person control: an administrator trying alone to
 * make anyone able to read (9), and two security officers who collude,
 * each approving what the other proposes (10).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../auth/users.h"
#include "drill_internal.h"

/* A request of the attacker that is not a read: a refusal goes on the
 * timeline, anything else only starts the clock. */
static cv_err
attempt(struct drill_ctx *c, struct cv_http *h, const char *m,
    const char *path, const char *tok, const char *body, int *st,
    char **reply)
{
	cv_err r;

	drill_attack_begins(c);
	r = cv_http_req(h, m, path, tok, body, NULL, st, reply);
	if (r == CV_OK && (*st < 200 || *st > 299))
		drill_mark(c, CV_DRILL_EV_REFUSED);
	return r;
}

static long long
proposal_of(const char *reply)
{
	json_t *j = json_loads(reply ? reply : "", 0, NULL);
	long long id = (long long)json_integer_value(json_object_get(j,
	    "proposal"));

	json_decref(j);
	return id;
}

/* POST /v1/enrol as NAME with a guessed CODE and a real CSR: *ST. */
static cv_err
enrol_guess(struct drill_ctx *c, struct cv_http *h, const char *name,
    const char *code, int *st)
{
	struct cv_client_cert cc;
	json_t *j = NULL;
	char *body = NULL;
	cv_err r;

	memset(&cc, 0, sizeof cc);
	if ((r = cv_ca_csr_new(name, &cc)) != CV_OK)
		goto out;
	j = json_pack("{s:s, s:s, s:s%}", "name", name, "code", code, "csr",
	    (const char *)cc.csr_pem.p, cc.csr_pem.len);
	if (j == NULL || (body = json_dumps(j, JSON_COMPACT)) == NULL) {
		r = CV_ERR_NOMEM;
		goto out;
	}
	r = attempt(c, h, "POST", "/v1/enrol", NULL, body, st, NULL);
out:
	free(body);
	json_decref(j);
	cv_client_cert_clear(&cc);
	return r;
}

/* Of the proposals IDS[0..N), how many GET /v1/approvals (as an officer)
 * lists as pending. */
static cv_err
still_pending(struct cv_http *h, const char *tok, const long long *ids,
    size_t n, int *pending)
{
	json_t *j = NULL, *x;
	char *reply = NULL;
	size_t i;
	int st;
	cv_err r;

	*pending = 0;
	if ((r = cv_http_req(h, "GET", "/v1/approvals", tok, NULL, NULL, &st,
	    &reply)) != CV_OK)
		goto out;
	if (st != 200 || (j = json_loads(reply, 0, NULL)) == NULL) {
		r = cv_fail(CV_ERR_IO, "GET /v1/approvals: HTTP %d", st);
		goto out;
	}
	json_array_foreach(json_object_get(j, "proposals"), i, x) {
		long long id = (long long)json_integer_value(json_object_get(x,
		    "id"));
		const char *s = json_string_value(json_object_get(x, "state"));
		for (size_t k = 0; k < n; k++)
			*pending += id == ids[k] && s && !strcmp(s, "pending");
	}
out:
	json_decref(j);
	free(reply);
	return r;
}

/* The accounts as the office's administrator sees them: how many named
 * PREFIX* exist in any state, whether USER is disabled, USER2's role. */
static cv_err
accounts(struct drill_env *e, const char *prefix, const char *user,
    int *made, int *disabled, const char *user2, char role[32])
{
	json_t *j = NULL, *x;
	char *reply = NULL;
	size_t i;
	int st;
	cv_err r;

	*made = 0;
	*disabled = 0;
	role[0] = '\0';
	if ((r = cv_http_req(e->adm, "GET", "/v1/users", e->adm_tok, NULL,
	    NULL, &st, &reply)) != CV_OK)
		goto out;
	if (st != 200 || (j = json_loads(reply, 0, NULL)) == NULL) {
		r = cv_fail(CV_ERR_IO, "GET /v1/users: HTTP %d", st);
		goto out;
	}
	json_array_foreach(json_object_get(j, "users"), i, x) {
		const char *n = json_string_value(json_object_get(x, "name"));
		const char *ro = json_string_value(json_object_get(x, "role"));
		if (n == NULL)
			continue;
		*made += !strncmp(n, prefix, strlen(prefix));
		if (!strcmp(n, user))
			*disabled = json_is_true(json_object_get(x, "disabled"));
		if (!strcmp(n, user2))
			snprintf(role, 32, "%s", ro ? ro : "");
	}
out:
	json_decref(j);
	free(reply);
	return r;
}

/*
 * 9. An enrolled administrator, alone, tries to make anyone able to read:
 * it proposes an adjudicator and a security officer of its own, the
 * re-enabling of a leaver's dormant account, a new role for itself and a
 * bigger budget, and tries to approve each itself; it guesses enrolment
 * codes, reads records (break-glass too), makes a case and joins one.
 */
#define NPROP 5

cv_err
drill_s9_rogue_admin(struct drill_ctx *c)
{
	static const struct {
		const char *path, *body;
	} props[NPROP] = {
		{ "/v1/users", "{\"name\":\"mole-adj\",\"role\":"
		    "\"adjudicator\"}" },
		{ "/v1/users", "{\"name\":\"mole-so\",\"role\":"
		    "\"security_officer\"}" },
		{ "/v1/users/leaver/enable", NULL },
		{ "/v1/users/rogue/role", "{\"role\":\"adjudicator\"}" },
		{ "/v1/users/leaver/budget", "{\"budget\":[1000,10000,100000,"
		    "2000,20000,200000]}" },
	};
	static const char *const guesses[] = { "AAAAA-AAAAA-AAAAA-AAAAA",
	    "22222-22222-22222-22222", "CLEAR-VAULT-ADMIN-00001" };
	struct drill_env *e = c->env;
	struct cv_http *so = NULL, *h = NULL;
	char tok[256], stok[256], cs[128], path[400], role[32];
	char *reply = NULL, kind[64][32];
	long long ids[NPROP];
	int64_t t[64], idx[64];
	int locked[64], st, granted = 0, enrolled = 0, other = 0, pending = 0;
	int made = 0, disabled = 0;
	size_t nprop = 0, nguess = 0, na = 0;
	cv_err r;

	/* A leaver's account the office disabled: re-enabling dormant
	 * accounts is an old way in. */
	if ((r = drill_stage(c, "rogue", "admin", 20, 0, &so, stok, cs)) ||
	    (r = drill_user(e, "leaver", "investigator")) ||
	    (r = cv_http_req(e->adm, "POST", "/v1/users/leaver/disable",
	    e->adm_tok, NULL, NULL, &st, NULL)))
		goto out;
	if (st != 200) {
		r = cv_fail(CV_ERR_IO, "disabling leaver: HTTP %d", st);
		goto out;
	}
	if ((r = drill_client(e, "rogue", &h)) ||
	    (r = drill_login(e, h, "rogue", tok)))
		goto out;
	/* Propose, then approve it oneself, as a lone insider would. */
	for (size_t i = 0; i < NPROP; i++) {
		free(reply);
		reply = NULL;
		if ((r = attempt(c, h, "POST", props[i].path, tok,
		    props[i].body, &st, &reply)))
			goto out;
		if (st != 202)
			continue;
		ids[nprop] = proposal_of(reply);
		snprintf(path, sizeof path, "/v1/approvals/%lld/approve",
		    ids[nprop++]);
		if ((r = attempt(c, h, "POST", path, tok, NULL, &st, NULL)))
			goto out;
		granted += st / 100 == 2;
	}
	/* The accounts it proposed: enrolment without the approver's code. */
	for (size_t i = 0; i < 2 * 3; i++, nguess++) {
		if ((r = enrol_guess(c, h, i < 3 ? "mole-adj" : "mole-so",
		    guesses[i % 3], &st)))
			goto out;
		enrolled += st / 100 == 2;
	}
	for (size_t i = 0; i < 20 && i < e->nids; i++)
		if ((r = drill_read(c, h, tok, e->ids[i], i % 2 ? cs : NULL,
		    &st, NULL)))
			goto out;
	snprintf(path, sizeof path, "/v1/records/%s?break_glass=urgent%%20"
	    "review%%20of%%20a%%20clearance", e->ids[20 % e->nids]);
	free(reply);
	reply = NULL;
	if ((r = attempt(c, h, "GET", path, tok, NULL, &st, &reply)))
		goto out;
	if (st == 200 && reply && strstr(reply, e->ids[20 % e->nids]) &&
	    (r = drill_expose(c, e->ids[20 % e->nids])))
		goto out;
	if ((r = attempt(c, h, "POST", "/v1/cases", tok,
	    "{\"title\":\"mine\"}", &st, NULL)))
		goto out;
	other += st / 100 == 2;
	snprintf(path, sizeof path, "/v1/cases/%s/members", cs);
	if ((r = attempt(c, h, "POST", path, tok, "{\"users\":[\"rogue\"]}",
	    &st, NULL)))
		goto out;
	other += st / 100 == 2;
	/* The office looks: an officer's list of proposals, the
	 * administrator's list of accounts. */
	if ((r = still_pending(so, stok, ids, nprop, &pending)) ||
	    (r = accounts(e, "mole", "leaver", &made, &disabled, "rogue",
	    role)))
		goto out;
	c->res->control = "policy.two_person";
	if ((r = drill_conclude(c, "rogue", c->first_us / 1000000)) ||
	    (r = drill_alerts(e, "rogue", 64, t, kind, locked, idx, &na)))
		goto out;
	c->res->goal_met = c->res->records_exposed == 0 && granted == 0 &&
	    enrolled == 0 && other == 0 && nprop == NPROP &&
	    pending == NPROP && made == 0 && disabled &&
	    !strcmp(role, "admin") && na > 0 &&
	    !strcmp(kind[0], "self_approval") &&
	    c->res->detected_after_ms >= 0 &&
	    c->res->detected_after_ms <= 1000 && c->res->scope_exact;
	drill_note(c, "%zu proposals (2 accounts, enable, role, budget): %d "
	    "pending; %zu approvals of its own: %d allowed; %zu guessed "
	    "enrolments: %d allowed; 21 reads (1 break-glass): %ld returned; "
	    "a case, joining one: %d allowed; accounts made: %d; leaver %s, "
	    "rogue %s", nprop, pending, nprop, granted, nguess, enrolled,
	    c->res->records_exposed, other, made, disabled ? "disabled" :
	    "ENABLED", role);
out:
	free(reply);
	cv_http_free(h);
	cv_http_free(so);
	return r;
}

/* ---- 10. two colluding officers ------------------------------------------ */

/* Proposals hold at most this many records (see the policy's each()). */
#define CHUNK 1000

/*
 * Officer H/TOK makes a case holding USERS (JSON array text) and every
 * record, in proposals of CHUNK records; the second officer approves each.
 */
static cv_err
case_of_all(struct drill_env *e, struct cv_http *h, const char *tok,
    const char *users, char case_id[128])
{
	struct cv_buf b = { 0 };
	char path[300], *reply = NULL;
	size_t n = e->nids < CHUNK ? e->nids : CHUNK;
	long long id;
	int st;
	cv_err r;

	if ((r = drill_case(e, h, tok, users, e->ids, n, case_id)) != CV_OK)
		return r;
	snprintf(path, sizeof path, "/v1/cases/%s/members", case_id);
	for (size_t at = n; at < e->nids; at += CHUNK) {
		b.len = 0;
		r = CV_ERR_NOMEM;
		if (cv_buf_add(&b, "{\"records\":[", 12))
			goto out;
		for (size_t i = at; i < e->nids && i < at + CHUNK; i++)
			if ((i > at && cv_buf_add(&b, ",", 1)) ||
			    cv_buf_add(&b, "\"", 1) || cv_buf_add(&b, e->ids[i],
			    strlen(e->ids[i])) || cv_buf_add(&b, "\"", 1))
				goto out;
		if (cv_buf_add(&b, "]}", 3))
			goto out;
		free(reply);
		reply = NULL;
		if ((r = cv_http_req(h, "POST", path, tok, (const char *)b.p,
		    NULL, &st, &reply)) != CV_OK)
			goto out;
		if (st != 202) {
			r = cv_fail(CV_ERR_IO, "case members: HTTP %d", st);
			goto out;
		}
		id = proposal_of(reply);
		free(reply);
		reply = NULL;
		if ((r = drill_approve(e, id, &reply)) != CV_OK)
			goto out;
	}
	r = CV_OK;
out:
	free(reply);
	cv_buf_free(&b);
	return r;
}

/* A colluder reading: every second record of the case from NEXT on. */
struct reader {
	const char *name;
	struct cv_http *h;
	char tok[256];
	size_t next;
	int stepped;	/* has stepped up (with its own TOTP) */
	int stopped;	/* the refusal's HTTP status; -1 not stopped by
			 * the vault (out of records or of patience) */
	long got;	/* replies carrying a record */
	int asked;
};

#define MAX_ASK 300	/* per reader: past this the guard failed anyway */

/*
 * One read by RD, as fast as it goes. At a soft budget it steps up with
 * a fresh code of its own TOTP, as colluders holding their secrets can;
 * any other refusal stops it.
 */
static cv_err
read_on(struct drill_ctx *c, struct reader *rd, const char *cs)
{
	struct drill_env *e = c->env;
	char code[8], body[64], *reply = NULL;
	int st;
	cv_err r;

	if (rd->next >= e->nids || rd->asked++ >= MAX_ASK) {
		rd->stopped = -1;
		return CV_OK;
	}
	if ((r = drill_read(c, rd->h, rd->tok, e->ids[rd->next], cs, &st,
	    &reply)) != CV_OK)
		goto out;
	if (st == 200) {
		rd->got++;
		rd->next += 2;
	} else if (st == 403 && !rd->stepped && reply &&
	    strstr(reply, "step-up")) {
		rd->stepped = 1;
		if ((r = drill_totp(e, rd->name, code)) != CV_OK)
			goto out;
		snprintf(body, sizeof body, "{\"totp\":\"%s\"}", code);
		if ((r = cv_http_req(rd->h, "POST", "/v1/session/step-up",
		    rd->tok, body, NULL, &st, NULL)) != CV_OK)
			goto out;
		if (st != 200)
			rd->stopped = st;
	} else {
		rd->stopped = st;
	}
out:
	free(reply);
	return r;
}

/* A new session for RD that the server may refuse (a locked user): *ST;
 * RD->tok is empty unless it got one. */
static cv_err
relogin(struct drill_env *e, struct reader *rd, int *st)
{
	char code[8], body[64], *reply = NULL;
	json_t *j;
	cv_err r;

	rd->tok[0] = '\0';
	if ((r = drill_totp(e, rd->name, code)) != CV_OK)
		return r;
	snprintf(body, sizeof body, "{\"totp\":\"%s\"}", code);
	if ((r = cv_http_req(rd->h, "POST", "/v1/session", NULL, body, NULL,
	    st, &reply)) != CV_OK)
		return r;
	if (*st == 201 && (j = json_loads(reply, 0, NULL)) != NULL) {
		const char *t = json_string_value(json_object_get(j, "token"));
		snprintf(rd->tok, sizeof rd->tok, "%s", t ? t : "");
		json_decref(j);
	}
	free(reply);
	return CV_OK;
}

/* A timeline mark at T_US (a time the vault recorded). */
static void
mark_at(struct drill_ctx *c, int64_t t_us, enum cv_drill_event_kind k)
{
	size_t n = c->res->nevents;

	drill_mark(c, k);
	if (c->res->nevents > n)
		c->res->events[n].t_ms = (t_us - c->t0_us) / 1000;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * drill_conclude for a crew: the first alert naming any of CREW[0..N)
 * past its BEFORE[u] older ones (its time from its audit entry), marks
 * for all of them, LOCKED[u] whether user u was locked, the control that
 * locked them, and scope as the union over the crew.
 */
static cv_err
crew_conclude(struct drill_ctx *c, const char *const *crew, size_t n,
    const size_t *before, int *lockedu)
{
	struct cv_drill_result *res = c->res;
	int64_t t[64], idx[64], first = -1, tu;
	char kind[64][32], fkind[32] = "", fwho[32] = "", **ids = NULL;
	char **all = NULL, **nv;
	int locked[64], refused, canary = 0, budget = 0;
	size_t na, nr, nids = 0, nall = 0, k;
	cv_err r;

	for (size_t u = 0; u < n; u++) {
		lockedu[u] = 0;
		if ((r = drill_alerts(c->env, crew[u], 64, t, kind, locked,
		    idx, &na)) != CV_OK)
			goto out;
		for (size_t i = before[u]; i < na; i++) {
			/* The alert's own time is to the second. */
			if (i == before[u]) {
				if ((r = drill_entry(c->env, crew[u], idx[i], 0,
				    &tu, &nr)) != CV_OK)
					goto out;
				t[i] = tu;
				if (first < 0 || tu < first) {
					first = tu;
					snprintf(fkind, sizeof fkind, "%s",
					    kind[i]);
					snprintf(fwho, sizeof fwho, "%s",
					    crew[u]);
				}
			}
			mark_at(c, t[i], locked[i] ? CV_DRILL_EV_LOCK :
			    CV_DRILL_EV_ALERT);
			lockedu[u] |= locked[i];
			canary |= locked[i] && !strcmp(kind[i], "canary");
			budget |= locked[i] && !strcmp(kind[i], "budget");
		}
		if ((r = drill_scope(c->env, "--principal", crew[u],
		    c->first_us / 1000000, &ids, &nids, &refused)) != CV_OK)
			goto out;
		if (refused) {
			res->scope_exact = 0;
			drill_note(c, "scope refused for %s", crew[u]);
		}
		if ((nv = realloc(all, (nall + nids + 1) * sizeof *all)) ==
		    NULL) {
			r = CV_ERR_NOMEM;
			goto out;
		}
		all = nv;
		for (size_t i = 0; i < nids; i++)
			all[nall++] = ids[i];	/* transferred */
		free(ids);
		ids = NULL;
		nids = 0;
	}
	if (first >= 0) {
		res->detected_after_ms = (first - c->first_us) / 1000;
		if (res->detected_after_ms < 0)
			res->detected_after_ms = 0;
		res->detection = "first alert";
		drill_note(c, "first alert: %s (%s)", fkind, fwho);
	}
	res->control = canary ? "guard.canary" : budget ? "guard.budget" :
	    "guard";
	/* Exact: the union over the crew is the set that left, no more. */
	if (nall > 1)
		qsort(all, nall, sizeof *all, cmp_str);
	for (size_t i = k = 0; i < nall; i++) {
		if (k && !strcmp(all[k - 1], all[i]))
			free(all[i]);
		else
			all[k++] = all[i];
	}
	nall = k;
	if (c->nexposed > 1)
		qsort(c->exposed, c->nexposed, sizeof *c->exposed, cmp_str);
	res->scope_exact = res->scope_exact && nall == c->nexposed;
	for (size_t i = 0; res->scope_exact && i < nall; i++)
		res->scope_exact = !strcmp(all[i], c->exposed[i]);
	r = CV_OK;
out:
	drill_strv_free(ids, nids);
	drill_strv_free(all, nall);
	return r;
}

/*
 * 10. Officers so and so2 collude. The administrator makes them an
 * adjudicator "mole" at their request and so2 approves it; so proposes a
 * case holding every record, the mole and itself, and so2 approves that
 * too. The mole and so then read as fast as they can (so sees the
 * identity section), stepping up with their own TOTP codes. Once they
 * are stopped, so2 approves unlocking the mole and so tries to give the
 * second approval; the mole tries to log in and read again.
 *
 * The bound: the README's hard budget per minute is 40 distinct records
 * for an adjudicator and for a security officer; the soft limit (20)
 * only wants a fresh TOTP code, which colluders have, and the read past
 * the hard one is refused and locks the reader. Two readers within a
 * minute: at most 40 + 40 = 80. Unlocking takes two officers other than
 * the locked user, so a pair who both read cannot unlock either reader.
 */
cv_err
drill_s10_collusion(struct drill_ctx *c)
{
	static const char *const crew[3] = { "mole", "so", "so2" };
	struct drill_env *e = c->env;
	struct reader rd[2];
	int64_t t[64], idx[64];
	char cs[128], kind[64][32];
	int locked[64], lockedu[3], st, u_so2 = 0, u_so = 0, again = 0;
	size_t before[3];
	long first_round;
	cv_err r;

	memset(rd, 0, sizeof rd);
	rd[0].name = "mole";
	rd[1].name = "so";
	rd[1].next = 1;
	if ((r = drill_user(e, "drill-adm", "admin")) ||
	    (r = drill_user(e, "so", "security_officer")) ||
	    (r = drill_user(e, "so2", "security_officer")) ||
	    (r = drill_serve(e, 0)) ||
	    (r = drill_client(e, "so", &rd[1].h)) ||
	    (r = drill_login(e, rd[1].h, "so", rd[1].tok)))
		goto out;
	for (size_t u = 0; u < 3; u++)
		if ((r = drill_alerts(e, crew[u], 64, t, kind, locked, idx,
		    &before[u])) != CV_OK)
			goto out;
	/* The plot: every step a real proposal and a real approval. */
	drill_attack_begins(c);
	if ((r = drill_user(e, "mole", "adjudicator")) ||
	    (r = case_of_all(e, rd[1].h, rd[1].tok, "[\"mole\",\"so\"]",
	    cs)) ||
	    (r = drill_client(e, "mole", &rd[0].h)) ||
	    (r = drill_login(e, rd[0].h, "mole", rd[0].tok)))
		goto out;
	for (size_t i = 0; !rd[0].stopped || !rd[1].stopped; i++)
		if (!rd[i % 2].stopped && (r = read_on(c, &rd[i % 2], cs)))
			goto out;
	first_round = rd[0].got + rd[1].got;
	/* Undoing the mole's lock: so2 approves, so (locked itself, its
	 * sessions ended) tries to, with a new session if it must. */
	if ((r = cv_http_req(e->so2, "POST", "/v1/users/mole/unlock",
	    e->so2_tok, NULL, NULL, &u_so2, NULL)) ||
	    (r = cv_http_req(rd[1].h, "POST", "/v1/users/mole/unlock",
	    rd[1].tok, NULL, NULL, &u_so, NULL)))
		goto out;
	if (u_so == 401 && (r = relogin(e, &rd[1], &st)) == CV_OK &&
	    st == 201)
		r = cv_http_req(rd[1].h, "POST", "/v1/users/mole/unlock",
		    rd[1].tok, NULL, NULL, &u_so, NULL);
	if (r != CV_OK)
		goto out;
	/* And the mole tries again, reading on if it may. */
	if ((r = relogin(e, &rd[0], &again)) != CV_OK)
		goto out;
	if (again == 201) {
		rd[0].stopped = rd[0].stepped = 0;
		while (!rd[0].stopped)
			if ((r = read_on(c, &rd[0], cs)) != CV_OK)
				goto out;
	}
	c->res->scope_exact = 1;
	if ((r = crew_conclude(c, crew, 3, before, lockedu)) != CV_OK)
		goto out;
	c->res->goal_met = c->res->records_exposed <= 80 &&
	    c->res->detected_after_ms >= 0 && c->res->scope_exact &&
	    rd[0].stopped > 0 && rd[1].stopped > 0;
	drill_note(c, "%zu records in the case; returned: mole %ld, so %ld "
	    "(stopped: HTTP %d, %d; locked: mole %s, so %s); unlocking the "
	    "mole: so2 HTTP %d, so HTTP %d; the mole's new login: HTTP %d, "
	    "%ld more", e->nids, rd[0].got, rd[1].got, rd[0].stopped,
	    rd[1].stopped, lockedu[0] ? "yes" : "no", lockedu[1] ? "yes" :
	    "no", u_so2, u_so, again, rd[0].got + rd[1].got - first_round);
out:
	cv_http_free(rd[0].h);
	cv_http_free(rd[1].h);
	return r;
}
