/*
 * Evidence for partners who do not trust us: a STIX 2.1 bundle describing
 * an incident (its subject as indicators and observed data) together with
 * the audit entries behind it, an inclusion proof for each, the signed
 * checkpoint they prove against and the log's public key, in one JSON
 * file that `evidence verify` checks offline:
 *
 *   {"clearvault_evidence": 1, "incident": ID,
 *    "subject": {"kind", "value"}, "window": {"from", "to"},
 *    "bundle": {STIX 2.1 bundle},
 *    "log": {"vkey": "name+keyid+base64", "size": N,
 *            "checkpoint": "signed note text"},
 *    "entries": [{"index": I, "leaf": base64, "proof": [base64, ...]}]}
 *
 * The bundle's observed-data objects name the entries they summarise in
 * "x_clearvault_audit_indices".
 */
#ifndef CV_EVIDENCE_H
#define CV_EVIDENCE_H

#include <jansson.h>

#include "../scope/scope.h"

#define CV_EVIDENCE_MAX_BYTES (256u << 20)
#define CV_EVIDENCE_MAX_ENTRIES 1000000

/*
 * The evidence of incident INCIDENT (1-200 bytes of UTF-8) about Q's
 * subject in Q's window: every entry naming the subject (any action or
 * outcome: logins and refusals are evidence too), proved against a fresh
 * checkpoint of A. *OUT is the JSON object (caller json_decref's).
 * CV_ERR_LIMIT past CV_EVIDENCE_MAX_ENTRIES entries (narrow the window),
 * CV_ERR_NOT_FOUND when no entry names the subject, CV_ERR_INVALID for a
 * bad query, CV_ERR_IO, CV_ERR_NOMEM.
 */
cv_err cv_evidence_export(struct cv_audit *a, const char *vault_id,
    const char *incident, const struct cv_scope_query *q,
    json_t **out) CV_MUST_CHECK;

/* What `evidence verify` found. */
struct cv_evidence_report {
	uint64_t entries;	/* entries proved */
	uint64_t objects;	/* STIX objects checked */
	uint64_t size;		/* the checkpoint's tree size */
	char what[256];		/* on failure: the first thing wrong */
};

/*
 * Checks evidence TEXT (LEN bytes, hostile) offline with the log's
 * verifier key VKEY: the checkpoint is signed by VKEY, every entry's
 * proof leads from its leaf to the checkpoint's root, every entry names
 * the subject, the bundle follows the STIX 2.1 rules checked here
 * (required properties, identifier format, timestamps, relationship
 * targets inside the bundle) and its audit indices are entries of the
 * file. CV_OK; CV_ERR_INVALID for malformed input, CV_ERR_AUTH for
 * something that does not verify; REP->what says which.
 */
cv_err cv_evidence_verify(const char *text, size_t len, const char *vkey,
    struct cv_evidence_report *rep) CV_MUST_CHECK;

/*
 * The STIX 2.1 rules alone, on bundle B: CV_OK, or CV_ERR_INVALID with
 * WHAT naming the object and the rule.
 */
cv_err cv_evidence_check_stix(json_t *b, char *what,
    size_t what_size) CV_MUST_CHECK;

#endif
