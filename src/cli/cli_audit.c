/* What every command shares with the audit log: open both, record once. */
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../scope/scope.h"
#include "cli.h"

int
cli_open(const char *cmd, const char *dir, struct cv_vault **v,
    struct cv_audit **a)
{
	cv_err r;

	*v = NULL;
	*a = NULL;
	if ((r = cv_vault_open(dir, v)) != CV_OK)
		return cli_fail(cmd, r);
	/* Fail closed: no log, no operation. A load killed before its
	 * outcome was recorded is settled first (load.settle). */
	if ((r = cv_core_audit_open(*v, 0, a)) != CV_OK ||
	    (r = cv_vault_loads_settle(*v, cli_load_audit, *a)) != CV_OK) {
		cli_fail(cmd, r);
		cli_close(*v, *a);
		*v = NULL;
		*a = NULL;
		return CLI_FAIL;
	}
	return CLI_OK;
}

void
cli_close(struct cv_vault *v, struct cv_audit *a)
{
	cv_audit_close(a);
	cv_vault_close(v);
}

int
cli_keyd(const char *cmd, struct cv_vault *v, struct cv_audit *a,
    struct cv_keyd **k, struct cv_keyd_client **c)
{
	cv_err r;

	*c = NULL;
	if ((r = cv_keyd_new(v, a, k)) != CV_OK ||
	    (r = cv_keyd_client_local(*k, c)) != CV_OK) {
		cv_keyd_free(*k);
		*k = NULL;
		return cli_fail(cmd, r);
	}
	return CLI_OK;
}

void
cli_keyd_close(struct cv_keyd *k, struct cv_keyd_client *c)
{
	cv_keyd_client_free(c);
	cv_keyd_free(k);
}

static cv_err
guard_state(void *ctx, struct cv_buf *out)
{
	return cv_keyd_guard_load(ctx, out);
}

cv_err
cli_access_review(struct cv_vault *v, struct cv_audit *a,
    struct cv_access_query *q, struct cv_access_review **out)
{
	struct cv_keyd *k = NULL;
	struct cv_keyd_client *c = NULL;
	cv_err r;

	*out = NULL;
	if ((r = cv_keyd_new(v, a, &k)) != CV_OK ||
	    (r = cv_keyd_client_local(k, &c)) != CV_OK)
		goto out;
	q->guard_state = guard_state;
	q->guard_ctx = c;
	r = cv_access_review(cv_vault_store(v), a, q, out);
 out:
	q->guard_state = NULL;
	q->guard_ctx = NULL;
	cv_keyd_client_free(c);
	cv_keyd_free(k);
	return r;
}

cv_err
cli_record(struct cv_audit *a, const char *action, cv_err result,
    const char *reason, const char *const *records, size_t n,
    unsigned sections)
{
	struct cv_audit_entry e = { 0 };
	struct passwd *pw = getpwuid(geteuid());
	char actor[64], why[300];

	snprintf(actor, sizeof actor, "%s", pw ? pw->pw_name : "?");
	if (result != CV_OK)
		snprintf(why, sizeof why, "%s%s%s", cv_strerror(result),
		    reason ? ": " : "", reason ? reason : "");
	e.outcome = result == CV_OK ? CV_AUDIT_ALLOWED : CV_AUDIT_ERROR;
	e.action = action;
	e.actor = actor;
	e.source = "cli";
	e.reason = result == CV_OK ? reason : why;
	e.records = records;
	e.nrecords = n;
	e.sections = sections;
	return cv_audit_append(a, &e, NULL);
}

cv_err
cli_record_at(struct cv_audit *a, const char *action, const char *reason,
    uint64_t *index)
{
	struct cv_audit_entry e = { 0 };
	char actor[64];

	cli_actor(actor, sizeof actor, 0);
	e.outcome = CV_AUDIT_ALLOWED;
	e.action = action;
	e.actor = actor;
	e.source = "cli";
	e.reason = reason;
	return cv_audit_append(a, &e, index);
}

void
cli_actor(char *out, size_t size, int prefixed)
{
	struct passwd *pw = getpwuid(geteuid());

	snprintf(out, size, "%s%s", prefixed ? "cli:" : "",
	    pw ? pw->pw_name : "?");
}

int
cli_subject_kind(int c)
{
	return c == 'P' ? CV_SCOPE_PRINCIPAL : c == 'C' ? CV_SCOPE_CERT :
	    c == 'S' ? CV_SCOPE_SESSION : CV_SCOPE_ADDRESS;
}
