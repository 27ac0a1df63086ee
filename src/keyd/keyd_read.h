/*
 * The key side's two requests that release record plaintext. Only the
 * core's read path (src/core) includes this header: every caller that
 * wants a record goes through cv_core_admit and cv_core_read, so that
 * policy and the guard come first (tests/structure/test_privsep.sh checks
 * that no other module calls these).
 */
#ifndef CV_KEYD_READ_H
#define CV_KEYD_READ_H

#include "keyd.h"

/*
 * The one way to record plaintext: E must be an "allowed" entry naming
 * exactly one record and at least one section, for actor E->actor. The
 * key side decrypts only E->sections of that record, makes E durable, and
 * only then lets TEXT go: `{"id":...,<sections>,"_meta":{...}}` (caller
 * frees). On any error nothing was released and E was not written (the
 * caller records the refusal): CV_ERR_NOT_FOUND, CV_ERR_SHREDDED, the
 * record cannot be returned; CV_ERR_HSM_TOKEN, the HSM went; CV_ERR_IO,
 * the entry could not be made durable; CV_ERR_HSM, the key process is
 * gone (its entry may be on the log, its text is not out);
 * CV_ERR_INVALID, E is not a read.
 */
cv_err cv_keyd_read(struct cv_keyd_client *c, const struct cv_audit_entry *e,
    uint64_t *index, struct cv_buf *text) CV_MUST_CHECK;
cv_err cv_keyd_read_async(struct cv_keyd_client *c,
    const struct cv_audit_entry *e, cv_keyd_done_fn *done,
    void *ctx) CV_MUST_CHECK;

/*
 * Decrypts SECTIONS of record RID for PRINCIPAL under TICKET, the index of
 * a durable "allowed" entry by PRINCIPAL naming RID and at least those
 * sections. Anything else is CV_ERR_AUTH ("ticket refused"), logged and
 * alerted by the key side.
 */
cv_err cv_keyd_decrypt(struct cv_keyd_client *c, uint64_t ticket,
    const char *principal, const char *rid, unsigned sections,
    struct cv_buf *text) CV_MUST_CHECK;

#endif
