/*
 * The supervisor's witness pusher (issue 15): each new checkpoint of the
 * vault's log goes to the witnesses of clearvault.conf (c2sp.org/
 * tlog-witness add-checkpoint), their cosignatures are checked and kept
 * in DIR/witness/ (witness.h), and what goes wrong is an alert.
 *
 * It lives in the supervisor, the one process of the server that may
 * reach the network: keyd and the api worker stay without a way out
 * (their seccomp filters are not touched). It reads the log through a
 * read-only handle of its own (the files, or the PostgreSQL database: the
 * same calls), never through keyd.
 *
 * Alerts (alerts.jsonl, and the syslog relay; each also an audit entry,
 * witness.conflict and so on, which the supervisor's thread appends):
 *   witness_conflict        critical: a witness has cosigned more than
 *                           this log holds, or refuses our consistency
 *                           proof: this vault was rolled back or forked.
 *                           Once per episode; the pushes go on (backoff).
 *   witness_refused         warning: 403/404, the witness does not know
 *                           this log or its key (a configuration matter)
 *   witness_quorum_missing  critical: no checkpoint got a quorum of valid
 *                           cosignatures for witness_alert_after seconds
 *   witness_quorum_restored info: a quorum again after that alert
 *
 * The same two moments are written to the quorum state (keyd.h,
 * cv_keyd_quorum_put) that keyd reads under witness_no_quorum =
 * refuse-reads: missing from the alert on, met again from the restore.
 */
#ifndef CV_SERVE_WITNESS_PUSH_H
#define CV_SERVE_WITNESS_PUSH_H

#include "../audit/audit.h"
#include "../base/base.h"
#include "../config/config.h"

struct cv_witness_pusher;

/* An alert of the pusher, to be an audit entry too: action
 * "witness.conflict" and so on, the alert's text as the reason. */
struct cv_witness_event {
	char action[40];
	enum cv_audit_outcome outcome;	/* ERROR, or ALLOWED for "restored" */
	char reason[600];
};

/*
 * Starts the pusher thread for the vault in DIR with CFG's witnesses (a
 * copy is kept; none configured: *OUT is NULL and nothing runs). Alerts
 * go to ALERTS_FD (the supervisor's alerts.jsonl; may be -1) at once,
 * and are queued as events (at most 16 between two drains): NOTIFY
 * (NOTIFY_CTX), if not NULL, is called on the pusher's thread after
 * each, and must not block. QUORUM_FD (may be -1; the caller's) is the
 * quorum state's memfd, written at each change. Start it once keyd has
 * opened the log (a repair at open is then done). The thread inherits
 * the caller's signal mask. CV_ERR_NOMEM, CV_ERR_INTERNAL.
 */
cv_err cv_witness_pusher_start(const char *dir, const struct cv_config *cfg,
    int alerts_fd, int quorum_fd, void (*notify)(void *), void *notify_ctx,
    struct cv_witness_pusher **out) CV_MUST_CHECK;

/* Hands each queued event to FN(CTX, event) on the caller's thread (the
 * supervisor's, which appends them to the log through keyd). NULL P:
 * nothing. */
void cv_witness_pusher_events(struct cv_witness_pusher *p,
    void (*fn)(void *ctx, const struct cv_witness_event *e), void *ctx);

/*
 * Stops it after one last round (the log's final checkpoint, made as
 * keyd closed it: call this after keyd has ended), in which a witness
 * that is reachable is tried at once and one that was failing is not
 * waited for. NULL: nothing.
 */
void cv_witness_pusher_stop(struct cv_witness_pusher *p);

#endif
