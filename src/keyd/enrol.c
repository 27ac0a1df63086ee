/*
 * Enrolment as keyd sees it. The network process can write the store (an
 * enrolment row with a code it chose) but not forge what the log holds
 * without leaving it there: so for a request from a channel keyd signs a
 * certificate only for an account whose creation the log shows either
 * bootstrapped at the command line (entries only the operator's own,
 * in-process keyd writes) or proposed by one person and approved by
 * another, neither of them the account itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyd_internal.h"

/* How far back the log is searched: a code lives 24 hours and a proposal
 * 72, so its approval and its proposal are younger than this. */
#define LOOKBACK_US (100LL * 3600 * 1000000)
#define PROPOSALS_MAX 64

struct find {
	const char *name;
	char boot[160];		/* "bootstrap: user NAME," */
	char want[200];		/* ": user.create NAME" */
	struct prop {
		long long n;
		uint64_t index;
		char proposer[CV_KEYD_MAX_STR + 1];
	} p[PROPOSALS_MAX];
	size_t np;
	int ok;
};

static int
is(const struct cv_audit_str *s, const char *lit)
{
	return s->len == strlen(lit) && memcmp(s->p, lit, s->len) == 0;
}

static void
copy(char *out, size_t size, const struct cv_audit_str *s)
{
	size_t n = s->len < size - 1 ? s->len : size - 1;

	memcpy(out, s->p, n);
	out[n] = '\0';
}

static cv_err
look(void *ctx, uint64_t index, const uint8_t *leaf, size_t len)
{
	struct find *f = ctx;
	struct cv_audit_view v;
	char reason[400], actor[CV_KEYD_MAX_STR + 1], by[CV_KEYD_MAX_STR + 1];
	long long n, at;
	int used = 0;

	if (cv_audit_view(leaf, len, &v) != CV_OK ||
	    v.outcome != CV_AUDIT_ALLOWED)
		return CV_OK;
	copy(reason, sizeof reason, &v.f[CV_AUDIT_REASON]);
	copy(actor, sizeof actor, &v.f[CV_AUDIT_ACTOR]);
	if (is(&v.f[CV_AUDIT_SOURCE], "cli") &&
	    is(&v.f[CV_AUDIT_ACTION], "user.add") &&
	    strncmp(reason, f->boot, strlen(f->boot)) == 0) {
		f->ok = 1;
		return CV_OK;
	}
	if (sscanf(reason, "proposal %lld:%n", &n, &used) == 1 && used &&
	    strncmp(reason + used - 1, f->want, strlen(f->want)) == 0 &&
	    reason[used - 1 + strlen(f->want)] == ' ' &&
	    f->np < PROPOSALS_MAX) {
		f->p[f->np].n = n;
		f->p[f->np].index = index;
		/* The operator proposes as "cli:USER" (cli_actor). */
		snprintf(f->p[f->np].proposer, sizeof f->p[f->np].proposer,
		    "%s%s", is(&v.f[CV_AUDIT_SOURCE], "cli") ? "cli:" : "",
		    actor);
		f->np++;
		return CV_OK;
	}
	if (!is(&v.f[CV_AUDIT_ACTION], "approvals.approve") ||
	    sscanf(reason, "approved proposal %lld (audit index %lld) by "
	    "%1024[^:]%n", &n, &at, by, &used) != 3)
		return CV_OK;
	if (strcmp(reason + used, f->want) != 0)
		return CV_OK;
	for (size_t i = 0; i < f->np; i++)
		if (f->p[i].n == n && (long long)f->p[i].index == at &&
		    strcmp(f->p[i].proposer, by) == 0 &&
		    strcmp(actor, by) != 0 && strcmp(actor, f->name) != 0 &&
		    strcmp(f->p[i].proposer, f->name) != 0)
			f->ok = 1;
	return CV_OK;
}

/* The first index whose entry is not older than SINCE_US (the log's times
 * only grow: keyd stamps them). */
static cv_err
first_since(struct cv_keyd *k, int64_t since_us, uint64_t size,
    uint64_t *out)
{
	struct cv_buf leaf = { 0 };
	struct cv_audit_view v;
	uint64_t lo = 0, hi = size;
	cv_err r = CV_OK;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		leaf.len = 0;
		if ((r = cv_audit_leaf(k->a, mid, &leaf)) != CV_OK ||
		    (r = cv_audit_view(leaf.p, leaf.len, &v)) != CV_OK)
			break;
		if ((int64_t)v.time_us < since_us)
			lo = mid + 1;
		else
			hi = mid;
	}
	cv_buf_free(&leaf);
	*out = lo;
	return r;
}

cv_err
keyd_enrol_approved(struct cv_keyd *k, const char *name)
{
	struct find *f;
	uint64_t size, from;
	cv_err r;

	if ((f = calloc(1, sizeof *f)) == NULL)
		return CV_ERR_NOMEM;
	f->name = name;
	snprintf(f->boot, sizeof f->boot, "bootstrap: user %s,", name);
	snprintf(f->want, sizeof f->want, ": user.create %s", name);
	if ((r = cv_audit_settle(k->a, &size)) == CV_OK &&
	    (r = first_since(k, cv_time_us() - LOOKBACK_US, size, &from)) ==
	    CV_OK)
		r = cv_audit_scan(k->a, from, size, look, f, NULL);
	if (r == CV_OK && !f->ok)
		r = cv_fail(CV_ERR_AUTH, "the log shows no approved creation "
		    "of %s (a proposal and another person's approval) and no "
		    "bootstrap", name);
	free(f);
	return r;
}
