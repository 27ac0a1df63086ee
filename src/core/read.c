/*
 * The one read path: admit (policy, guard), then spend the pass (entry,
 * keyd's decrypt). A pass is the only way to keyd's decrypting requests;
 * it holds the guard's reservation until the answer settles it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../keyd/keyd_read.h"
#include "../policy/policy.h"
#include "../record/record.h"
#include "core.h"

struct cv_core_pass {
	char rid[CV_RECORD_ID_MAX + 1];
	unsigned sections;
	int64_t review;			/* break-glass */
	struct cv_core_gate gate;	/* reserved when gate.settle is set */
	cv_core_done_fn *done;
	void *arg;
	char user[];			/* the reader, as long as it is */
};

#define ALL_SECTIONS ((1u << CV_RECORD_NSECTIONS) - 1)

int
cv_core_break_glass_reason(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 10 || n > 200)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/* The gate's hold, counted (LEFT) or given back; once. */
static void
settle(struct cv_core_pass *p, int left)
{
	if (p->gate.settle) {
		p->gate.settle(p->gate.ctx, left);
		p->gate.settle = NULL;
	}
}

void
cv_core_pass_free(struct cv_core_pass *p)
{
	if (p == NULL)
		return;
	settle(p, 0);
	free(p);
}

unsigned
cv_core_pass_sections(const struct cv_core_pass *p)
{
	return p->sections;
}

int64_t
cv_core_pass_review(const struct cv_core_pass *p)
{
	return p->review;
}

cv_err
cv_core_admit(struct cv_vault *v, const struct cv_core_reader *who,
    const struct cv_core_ask *ask, const struct cv_core_gate *gate,
    struct cv_core_pass **pass, enum cv_core_refusal *why)
{
	struct cv_core_pass *p = NULL;
	unsigned granted;
	int glass = 0;
	cv_err r;

	*pass = NULL;
	*why = CV_CORE_ADMITTED;
	if (who->user == NULL || strlen(who->user) > CV_KEYD_MAX_STR)
		return cv_fail(CV_ERR_INVALID, "a read needs its reader");
	if (!cv_record_valid_id(ask->rid))
		return cv_fail(CV_ERR_INVALID, "not a record id");
	if (ask->sections & ~ALL_SECTIONS)
		return cv_fail(CV_ERR_INVALID, "no such section");
	/* Policy: the role's sections, then the reader's cases. */
	granted = who->operator ? ALL_SECTIONS : cv_policy_sections(who->role);
	if (!who->operator &&
	    (!cv_policy_allows(who->role, CV_PERM_READ_RECORDS) ||
	    granted == 0)) {
		*why = CV_CORE_NO_READS;
		return cv_fail(CV_ERR_AUTH, "this role reads no record data");
	}
	if (ask->sections & ~granted) {
		*why = CV_CORE_SECTION;
		return cv_fail(CV_ERR_AUTH, "a requested section is not "
		    "granted to this role");
	}
	if (!who->operator && (r = cv_policy_need_to_know(cv_vault_store(v),
	    who->user, ask->purpose, ask->rid)) != CV_OK) {
		if (r != CV_ERR_AUTH)
			return r;
		if (ask->break_glass == NULL) {
			if (gate && gate->miss)
				gate->miss(gate->ctx);
			*why = CV_CORE_NOT_IN_CASE;
			return r;	/* policy's own detail */
		}
		if (!cv_core_break_glass_reason(ask->break_glass)) {
			*why = CV_CORE_BAD_REASON;
			return cv_fail(CV_ERR_AUTH, "break_glass wants the "
			    "reason: 10-200 characters of text");
		}
		glass = 1;
	}
	if ((p = calloc(1, sizeof *p + strlen(who->user) + 1)) == NULL)
		return CV_ERR_NOMEM;
	snprintf(p->rid, sizeof p->rid, "%s", ask->rid);
	memcpy(p->user, who->user, strlen(who->user) + 1);
	p->sections = ask->sections ? ask->sections : granted;
	/* The guard, before anything is read from storage: from here the
	 * record is held in the reader's budget until the answer. */
	if (gate && gate->reserve) {
		if ((r = gate->reserve(gate->ctx, ask->rid, glass)) != CV_OK) {
			free(p);
			if (r == CV_ERR_AUTH)
				*why = CV_CORE_GUARD;
			return r;
		}
		p->gate = *gate;
	}
	/* A read outside one's cases is reviewed by another officer in
	 * time, or the reader is locked (the server's approvals tick). */
	if (glass && (r = cv_policy_break_glass(cv_vault_store(v), who->user,
	    ask->rid, ask->break_glass, cv_time_us(), &p->review)) != CV_OK) {
		cv_core_pass_free(p);
		return r;
	}
	*pass = p;
	return CV_OK;
}

/* The read's entry: the caller's context, the pass's facts. A
 * break-glass pass is refused (and freed): its entry comes first. */
static cv_err
entry_of(struct cv_core_pass *p, const struct cv_audit_entry *ctx,
    const char **rid, struct cv_audit_entry *e)
{
	if (p->review) {
		cv_core_pass_free(p);
		return cv_fail(CV_ERR_INVALID, "a break-glass read is "
		    "decrypted under its own entry");
	}
	*e = *ctx;
	*rid = p->rid;
	e->outcome = CV_AUDIT_ALLOWED;
	e->actor = p->user;
	e->records = rid;
	e->nrecords = 1;
	e->sections = p->sections;
	return CV_OK;
}

static void
answered(void *ctx, cv_err e, uint64_t index, const struct cv_buf *text)
{
	struct cv_core_pass *p = ctx;
	cv_core_done_fn *done = p->done;
	void *arg = p->arg;

	/* The budget counts what left: text, not an entry alone. */
	settle(p, e == CV_OK);
	free(p);
	done(arg, e, index, text);
}

cv_err
cv_core_read(struct cv_keyd_client *kd, struct cv_core_pass *p,
    const struct cv_audit_entry *ctx, cv_core_done_fn *done, void *arg)
{
	struct cv_audit_entry e;
	const char *rid;
	cv_err r;

	if ((r = entry_of(p, ctx, &rid, &e)) != CV_OK)
		return r;
	p->done = done;
	p->arg = arg;
	if ((r = cv_keyd_read_async(kd, &e, answered, p)) != CV_OK)
		cv_core_pass_free(p);
	return r;
}

cv_err
cv_core_read_wait(struct cv_keyd_client *kd, struct cv_core_pass *p,
    const struct cv_audit_entry *ctx, uint64_t *index, struct cv_buf *text)
{
	struct cv_audit_entry e;
	const char *rid;
	cv_err r;

	if ((r = entry_of(p, ctx, &rid, &e)) != CV_OK)
		return r;
	r = cv_keyd_read(kd, &e, index, text);
	settle(p, r == CV_OK);
	free(p);
	return r;
}

cv_err
cv_core_read_under(struct cv_keyd_client *kd, struct cv_core_pass *p,
    uint64_t ticket, struct cv_buf *text)
{
	cv_err r;

	r = cv_keyd_decrypt(kd, ticket, p->user, p->rid, p->sections, text);
	settle(p, r == CV_OK);
	free(p);
	return r;
}
