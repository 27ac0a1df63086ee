/*
 * Alerts to a SIEM as RFC 5424 syslog (issue 14), without a way out to the
 * network for the confined processes (docs/web.md, "Alerts for a SIEM").
 *
 * The api worker and keyd hand each alert's line (the alerts.jsonl line,
 * alert.c) to the supervisor over one AF_UNIX SOCK_SEQPACKET socketpair made
 * before they confine themselves: the "relay". The supervisor, which is
 * not confined, reads it on a thread of its own, learns the sender's pid
 * from the kernel (SO_PASSCRED), makes the RFC 5424 message from the line
 * as from outside input (cv_keyd_alert_5424) and sends it to the
 * collector, reconnecting (and looking the name up again) when the
 * collector went away, and counting what it could not send.
 *
 * `clearvault get` is not confined and not under a supervisor: it sends
 * its canary alert to the collector itself (cv_syslog_sink).
 */
#ifndef CV_SERVE_SYSLOG_H
#define CV_SERVE_SYSLOG_H

#include <stdint.h>

#include "../base/base.h"
#include "../config/config.h"

/* A sender to one collector. Thread-safe. */
struct cv_syslog;

/*
 * A sender to T; WHO starts its log lines on stderr ("clearvault serve").
 * Nothing is sent or looked up yet: a collector that is down now is
 * tried at the first alert. CV_ERR_NOMEM.
 */
cv_err cv_syslog_new(const struct cv_syslog_target *t, const char *who,
    struct cv_syslog **out) CV_MUST_CHECK;

/*
 * Sends alert line LINE (LEN bytes, outside input) as RFC 5424 with
 * PROCID PID. UDP: one datagram (RFC 5426); TCP: octet counting (RFC
 * 6587), the connection kept. A send that fails is tried once more on a
 * new connection (a new lookup of the name); a collector that still
 * cannot be reached is tried again after a pause (1 s, doubling to 30 s),
 * alerts in between are counted as not sent. A connection or a TCP send
 * waits at most about 2 s (a name lookup as long as the resolver's own
 * timeouts: the supervisor's relay thread waits, never a confined
 * process). CV_OK sent, CV_ERR_INVALID not an alert line (counted as
 * refused), CV_ERR_IO not sent (counted).
 */
cv_err cv_syslog_send(struct cv_syslog *s, const char *line, size_t len,
    long pid);

/* Alerts sent, not sent, and refused (not alert lines) so far. */
void cv_syslog_counts(struct cv_syslog *s, uint64_t *sent,
    uint64_t *unsent, uint64_t *refused);

/* Says the counts on stderr (one line) if an alert was not sent or
 * refused (a relay's: always), and frees S. NULL: nothing. */
void cv_syslog_free(struct cv_syslog *s);

/* A cv_keyd_alert_sink_fn for an unconfined process: CTX is a struct
 * cv_syslog; sends with this process's pid. */
void cv_syslog_sink(void *ctx, const char *line, size_t len);

/* A cv_keyd_alert_sink_fn for a process given the relay's sending end:
 * CTX is the descriptor ((void *)(intptr_t)fd, non-blocking). Never
 * blocks: a line the relay cannot take now is said on stderr and lost
 * for syslog (alerts.jsonl has it). */
void cv_syslog_relay_sink(void *ctx, const char *line, size_t len);

/*
 * The supervisor's end: makes the relay socketpair, *send_fd the end to
 * give the children (and to use as the supervisor's own sink), and
 * starts the thread that reads the other end and sends to T (NULL: no
 * collector; lines are read and dropped). WHO as for cv_syslog_new.
 */
struct cv_syslog_relay;
cv_err cv_syslog_relay_start(const struct cv_syslog_target *t,
    const char *who, int *send_fd, struct cv_syslog_relay **out)
    CV_MUST_CHECK;

/* A read-only descriptor of R's counts for /metrics (api.h,
 * CV_SYSLOG_COUNTS_BYTES), for the api worker; R keeps it. */
int cv_syslog_relay_counts_fd(const struct cv_syslog_relay *r);

/* Sends what is queued, stops the thread, says the counts, frees. The
 * sending ends should be closed (the children gone) first. */
void cv_syslog_relay_stop(struct cv_syslog_relay *r);

#endif
