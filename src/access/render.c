/* What the review prints: one JSON object, or aligned columns. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../scope/scope.h"
#include "access.h"

static json_t *
time_json(int64_t us)
{
	char t[40];

	cv_scope_format_time(us, t, sizeof t);
	return json_string(t);
}

static json_t *
user_json(const struct cv_access_user *u)
{
	json_t *o, *cases;

	if ((cases = json_array()) == NULL)
		return NULL;
	for (size_t i = 0; i < u->ncases; i++) {
		/* NULL for an id that is not UTF-8: the caller says so. */
		if (json_array_append_new(cases, json_string(u->cases[i])) !=
		    0) {
			json_decref(cases);
			return NULL;
		}
	}
	o = json_pack("{s:s, s:s, s:s, s:b, s:o, s:o, s:o, s:I, s:b, s:b}",
	    "name", u->name, "role", u->role, "state", cv_access_state(u),
	    "locked", u->locked, "created", time_json(u->created_us),
	    "cases", cases, "last_login", u->last_login_us ?
	    time_json(u->last_login_us) : json_null(),
	    "records_read", (json_int_t)u->records_read, "unused", u->unused,
	    "disabled_now", u->disabled_now);
	return o;
}

cv_err
cv_access_json(const struct cv_access_review *r, json_t **out)
{
	json_t *o, *users;
	size_t now = 0;

	*out = NULL;
	for (size_t i = 0; i < r->nusers; i++)
		now += r->users[i].disabled_now;
	o = json_pack("{s:o, s:I, s:I, s:[], s:{s:I, s:I, s:I}}",
	    "generated_at", time_json(r->q.now_us),
	    "window_days", (json_int_t)r->q.window_days,
	    "unused_days", (json_int_t)r->q.unused_days, "users",
	    "totals", "users", (json_int_t)r->nusers,
	    "unused", (json_int_t)r->nunused,
	    "disabled_now", (json_int_t)now);
	if (o == NULL)
		return CV_ERR_NOMEM;
	users = json_object_get(o, "users");
	for (size_t i = 0; i < r->nusers; i++) {
		json_t *u = user_json(&r->users[i]);
		if (u == NULL || json_array_append_new(users, u) != 0) {
			json_decref(o);
			return cv_fail(CV_ERR_FORMAT, "access review: user '%s': "
			    "its role or a case id is not UTF-8",
			    r->users[i].name);
		}
	}
	*out = o;
	return CV_OK;
}

/* Bytes a terminal would act on (escapes, controls) shown as '?'. */
static void
safe_copy(char *out, size_t size, const char *s)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < size; i++)
		out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	out[i] = '\0';
}

/* The case ids of U, comma-separated, into a new string ("-": none). */
static char *
case_list(const struct cv_access_user *u)
{
	size_t n = 2;
	char *s, *p;

	for (size_t i = 0; i < u->ncases; i++)
		n += strlen(u->cases[i]) + 1;
	if ((s = malloc(n)) == NULL)
		return NULL;
	strcpy(s, u->ncases ? "" : "-");
	p = s + strlen(s);
	for (size_t i = 0; i < u->ncases; i++) {
		size_t k = strlen(u->cases[i]);
		if (i)
			*p++ = ',';
		safe_copy(p, k + 1, u->cases[i]);
		p += k;
	}
	*p = '\0';
	return s;
}

/* "2026-11-25T10:00:00Z", to the second: enough for people. */
static void
short_time(int64_t us, char *out, size_t size, int date_only)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	if (us < 0 || gmtime_r(&t, &tm) == NULL) {
		snprintf(out, size, "?");
		return;
	}
	strftime(out, size, date_only ? "%Y-%m-%d" : "%Y-%m-%dT%H:%M:%SZ",
	    &tm);
}

enum { C_USER, C_ROLE, C_STATE, C_CREATED, C_LOGIN, C_READ, C_UNUSED,
	C_N };

cv_err
cv_access_print_table(FILE *f, const struct cv_access_review *r)
{
	static const char *const head[C_N] = { "USER", "ROLE", "STATE",
	    "CREATED", "LAST LOGIN", "READ", "UNUSED" };
	int w[C_N];
	char cell[C_N][72], when[40], hdr_read[32];
	size_t disabled_now = 0;

	snprintf(hdr_read, sizeof hdr_read, "READ %ud", r->q.window_days);
	for (int c = 0; c < C_N; c++)
		w[c] = (int)strlen(c == C_READ ? hdr_read : head[c]);
	/* Two passes, one to measure and one to print: the columns fit the
	 * widest cell, whatever the names. */
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1 && r->nusers)
			fprintf(f, "%-*s  %-*s  %-*s  %-*s  %-*s  %*s  %-*s  "
			    "CASES\n", w[0], head[0], w[1], head[1], w[2],
			    head[2], w[3], head[3], w[4], head[4], w[5],
			    hdr_read, w[6], head[6]);
		for (size_t i = 0; i < r->nusers; i++) {
			const struct cv_access_user *u = &r->users[i];
			char *cases;

			safe_copy(cell[C_USER], sizeof cell[C_USER], u->name);
			safe_copy(cell[C_ROLE], sizeof cell[C_ROLE], u->role);
			snprintf(cell[C_STATE], sizeof cell[C_STATE], "%s%s",
			    cv_access_state(u), u->disabled_now ? " (now)" :
			    u->disabled && u->locked ? ",locked" : "");
			short_time(u->created_us, cell[C_CREATED],
			    sizeof cell[C_CREATED], 1);
			if (u->last_login_us)
				short_time(u->last_login_us, cell[C_LOGIN],
				    sizeof cell[C_LOGIN], 0);
			else
				snprintf(cell[C_LOGIN], sizeof cell[C_LOGIN],
				    "never");
			snprintf(cell[C_READ], sizeof cell[C_READ], "%llu",
			    (unsigned long long)u->records_read);
			snprintf(cell[C_UNUSED], sizeof cell[C_UNUSED], "%s",
			    u->unused ? "unused" : "-");
			if (pass == 0) {
				for (int c = 0; c < C_N; c++) {
					int n = (int)strlen(cell[c]);
					w[c] = n > w[c] ? n : w[c];
				}
				disabled_now += u->disabled_now;
				continue;
			}
			if ((cases = case_list(u)) == NULL)
				return CV_ERR_NOMEM;
			fprintf(f, "%-*s  %-*s  %-*s  %-*s  %-*s  %*s  %-*s  %s\n",
			    w[0], cell[0], w[1], cell[1], w[2], cell[2], w[3],
			    cell[3], w[4], cell[4], w[5], cell[5], w[6], cell[6],
			    cases);
			free(cases);
		}
	}
	short_time(r->q.now_us, when, sizeof when, 0);
	fprintf(f, "%s%zu user%s with %s, %zu unused (no login in %u day%s); "
	    "READ: distinct records read in the last %u day%s; as of %s",
	    r->nusers ? "\n" : "", r->nusers, r->nusers == 1 ? "" : "s",
	    r->q.all_roles ? "any role" : "read power", r->nunused,
	    r->q.unused_days, r->q.unused_days == 1 ? "" : "s",
	    r->q.window_days, r->q.window_days == 1 ? "" : "s", when);
	if (disabled_now)
		fprintf(f, "; %zu disabled now", disabled_now);
	fputc('\n', f);
	return ferror(f) ? cv_fail(CV_ERR_IO, "cannot write the review") :
	    CV_OK;
}
