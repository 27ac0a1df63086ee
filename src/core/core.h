/*
 * core: the one read path. Record plaintext reaches a caller only through
 * here, in one order: policy (role, sections, need-to-know or a
 * break-glass review), then the guard, then a durable audit entry, then
 * keyd's decrypt of exactly the sections admitted. The API, `clearvault
 * get` and scope's notification list call it (the drills read through the
 * API); keyd's decrypting requests are declared in keyd/keyd_read.h, which
 * only this module includes.
 *
 * A read is two calls: cv_core_admit decides and hands out a pass, which
 * cannot be made any other way (opaque); cv_core_read (or _wait, or
 * _under) spends it. The split is where a server parks a connection: the
 * decision is synchronous, the entry's fsync is not.
 *
 * The core is also where a vault's parts are put together for a process
 * (cv_core_audit_open): components are handed the one capability they use
 * (the log a checkpoint signer, auth a key holder's enrolment requests)
 * and never the keyring, which only keyd and this module reach
 * (vault/vault_keys.h).
 */
#ifndef CV_CORE_H
#define CV_CORE_H

#include "../auth/users.h"
#include "../base/base.h"
#include "../keyd/keyd.h"
#include "../vault/vault.h"

struct cv_core_pass;

/*
 * Opens V's audit log (cv_audit_open, READONLY as there) handing it V's
 * audit key as its checkpoint signer, the only key the log uses. On a
 * handle without keys (cv_vault_open_store) the log cannot sign and its
 * checkpoints verify against no key: a reader's. V must outlive the log.
 * Errors of cv_audit_open.
 */
cv_err cv_core_audit_open(struct cv_vault *v, int readonly,
    struct cv_audit **out) CV_MUST_CHECK;

/* Who reads. */
struct cv_core_reader {
	const char *user;	/* the entry's actor */
	enum cv_role role;	/* a session's role (ignored for the operator) */
	/* The operator at the command line, who holds the HSM: every
	 * section, no case, no session guard (its reads are entries with
	 * source "cli", and a canary read is an alert, cmd_get). */
	int operator;
};

/* What is asked. */
struct cv_core_ask {
	const char *rid;	/* a record id */
	unsigned sections;	/* bit i: cv_record_sections[i]; 0: all granted */
	const char *purpose;	/* the case it is read for (may be NULL) */
	/* Outside the reader's cases: the reason (10-200 printable bytes)
	 * for a break-glass read, which opens a review (NULL: refused). */
	const char *break_glass;
};

/*
 * The guard step, kept by whoever keeps the guard's state (the server:
 * budgets and baselines per user, in memory). RESERVE holds RID in the
 * reader's budget (OUTSIDE: a break-glass read, for no case of theirs): CV_OK allowed, CV_ERR_AUTH refused (the gate tells its
 * own caller how), anything else a failure. SETTLE gives the hold back
 * (LEFT 0) or counts it (LEFT 1: the text went out); the core calls it
 * exactly once after a CV_OK reserve. MISS: a need-to-know refusal, which
 * the guard counts too (may be NULL).
 */
struct cv_core_gate {
	cv_err (*reserve)(void *ctx, const char *rid, int outside);
	void (*settle)(void *ctx, int left);
	void (*miss)(void *ctx);
	void *ctx;
};

/* Why cv_core_admit said no (CV_ERR_AUTH). */
enum cv_core_refusal {
	CV_CORE_ADMITTED,
	CV_CORE_NO_READS,	/* the role reads no record data */
	CV_CORE_SECTION,	/* a section asked for is not granted */
	CV_CORE_NOT_IN_CASE,	/* no case of the reader's holds it */
	CV_CORE_BAD_REASON,	/* break-glass reason malformed */
	CV_CORE_GUARD,		/* the gate refused */
};

/* 1 if S is a usable break-glass reason: 10-200 bytes, no control
 * characters. */
int cv_core_break_glass_reason(const char *s);

/*
 * Decides WHO's ASK against the vault V (a handle of the calling thread's)
 * and, when a GATE is given, the guard. *PASS (caller frees with
 * cv_core_pass_free, or spends it) is the right to one read of ASK->rid,
 * of the sections admitted. CV_ERR_AUTH with *WHY when refused (nothing
 * held); CV_ERR_INVALID (not a record id, a section out of range),
 * CV_ERR_STORE, CV_ERR_NOMEM. A break-glass pass has its review already
 * open (cv_core_pass_review).
 */
cv_err cv_core_admit(struct cv_vault *v, const struct cv_core_reader *who,
    const struct cv_core_ask *ask, const struct cv_core_gate *gate,
    struct cv_core_pass **pass, enum cv_core_refusal *why) CV_MUST_CHECK;

/* The sections PASS admits (what the entry names). */
unsigned cv_core_pass_sections(const struct cv_core_pass *pass);

/* The break-glass review PASS opened, or 0. */
int64_t cv_core_pass_review(const struct cv_core_pass *pass);

/* Gives the guard's hold back (nothing was read) and frees PASS. */
void cv_core_pass_free(struct cv_core_pass *pass);

/*
 * Called once with the answer: E CV_OK and TEXT (the record's JSON, the
 * admitted sections only; valid during the call, wiped after) with its
 * entry durable at INDEX; or an error, nothing released and no entry
 * written (cv_keyd_read: CV_ERR_NOT_FOUND, CV_ERR_SHREDDED,
 * CV_ERR_HSM_TOKEN, CV_ERR_IO, CV_ERR_HSM). The gate is settled first.
 */
typedef void cv_core_done_fn(void *ctx, cv_err e, uint64_t index,
    const struct cv_buf *text);

/*
 * Spends PASS (always: freed whatever the result): the entry CTX (its
 * action, cert, source, session, purpose and reason; the core sets actor,
 * outcome, record and sections) is made durable by keyd, which then
 * decrypts the admitted sections. DONE(ARG, ...) is called once, from
 * keyd's client thread, unless this returns an error. A break-glass pass
 * is CV_ERR_INVALID here: its entry comes first (cv_core_read_under).
 */
cv_err cv_core_read(struct cv_keyd_client *kd, struct cv_core_pass *pass,
    const struct cv_audit_entry *ctx, cv_core_done_fn *done, void *arg)
    CV_MUST_CHECK;

/* cv_core_read, waiting: *INDEX (may be NULL) and TEXT (caller frees). */
cv_err cv_core_read_wait(struct cv_keyd_client *kd, struct cv_core_pass *pass,
    const struct cv_audit_entry *ctx, uint64_t *index, struct cv_buf *text)
    CV_MUST_CHECK;

/*
 * Spends PASS under TICKET, an entry the caller made durable first that
 * names the reader, this record and at least these sections (a
 * break-glass read's own entry, which its review names; the one entry
 * of scope's notification list). keyd checks the ticket against the log:
 * CV_ERR_AUTH if it does not fit (logged and alerted there).
 */
cv_err cv_core_read_under(struct cv_keyd_client *kd,
    struct cv_core_pass *pass, uint64_t ticket, struct cv_buf *text)
    CV_MUST_CHECK;

#endif
