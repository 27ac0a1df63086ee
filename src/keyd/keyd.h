/*
 * keyd: the key side of clearvault, behind one small typed interface.
 *
 * The key side owns the vault's keys (and so the HSM session), its store
 * of wrapped data keys and ciphertext, and the audit log's writer. Every
 * other part of clearvault reaches it through a struct cv_keyd_client and
 * the calls below, whether the key side runs in the same process (the
 * command line) or in the key process of `clearvault serve`, over a
 * channel: the same encoder, the same decoder, the same checks.
 *
 * What the key side will do, and for whom:
 *  - append an audit entry (it stamps the time itself);
 *  - release record plaintext only against an audit ticket: the index of
 *    a durable entry that names that record, those sections and that
 *    principal, with the outcome "allowed". CV_KEYD_READ writes the entry
 *    and then decrypts under the ticket it just got (one round trip);
 *    CV_KEYD_DECRYPT takes a ticket from an earlier entry. Data keys
 *    never leave the key side;
 *  - compute a blind index (search by SSN or name);
 *  - sign a TLS 1.3 server CertificateVerify with the server key, and
 *    nothing else with it.
 * A request that does not decode exactly (unknown type, bad size, a field
 * out of bounds, trailing bytes) ends the channel; a refused request is an
 * audit entry and an alert. See docs/privsep.md.
 */
#ifndef CV_KEYD_H
#define CV_KEYD_H

#include "../audit/audit.h"
#include "../base/base.h"
#include "../keys/keys.h"
#include "../store/store.h"
#include "../vault/vault.h"

struct cv_keyd;
struct cv_keyd_client;

/* Bounds that the decoder enforces on both sides. */
#define CV_KEYD_MAX_MSG (64u << 20)	/* one frame, header included */
#define CV_KEYD_MAX_STR 1024		/* an entry's string field */
#define CV_KEYD_MAX_RECORDS 20000	/* record ids in one entry */
#define CV_KEYD_MAX_SIGN 32		/* a TLS signature's SHA-256 hash */

/*
 * The key side over vault V and its open log A (both borrowed: they must
 * outlive it): the one holder of V's keyring, taken here and never handed
 * on. Refusals and protocol violations are appended to DIR/alerts.jsonl.
 */
cv_err cv_keyd_new(struct cv_vault *v, struct cv_audit *a,
    struct cv_keyd **out) CV_MUST_CHECK;
void cv_keyd_free(struct cv_keyd *k);

/*
 * Makes the vault CA (DIR/ca.pem) and the server's certificate
 * (DIR/server.pem) if missing, which keyd alone can sign: before the
 * server starts (its sandboxed processes cannot create files) and before
 * the command line signs or hands out the CA. Errors of cv_ca_ensure.
 */
cv_err cv_keyd_ca_ensure(struct cv_keyd *k) CV_MUST_CHECK;

/* The public half of Ed25519 signer WHICH (the audit key, and the CA of
 * vaults from before P-256: DIR/ca-ed25519.pem is checked against it). */
void cv_keyd_pubkey(const struct cv_keyd *k, enum cv_signer which,
    uint8_t pk[static CV_SIGN_PK_BYTES]);

/* The public point of P-256 key WHICH (the CA's and the TLS key's are
 * public knowledge), for checking certificates against it. */
void cv_keyd_ec_pubkey(const struct cv_keyd *k, enum cv_ec which,
    uint8_t pt[static CV_EC_POINT_BYTES]);

/*
 * Serves the channel FD (a connected AF_UNIX stream socket) until its peer
 * closes it (CV_OK) or sends a request that does not decode
 * (CV_ERR_FORMAT: the violation is logged, FD is shut down). Blocks; call
 * it on one thread per channel. FD stays the caller's to close. Replies to
 * entries still waiting for their commit are sent before it returns.
 */
cv_err cv_keyd_serve(struct cv_keyd *k, int fd) CV_MUST_CHECK;

/*
 * A client of K in the same process: requests are encoded and decoded
 * exactly as on a channel, then dispatched directly.
 */
cv_err cv_keyd_client_local(struct cv_keyd *k,
    struct cv_keyd_client **out) CV_MUST_CHECK;

/*
 * A client over channel FD (connected to a cv_keyd_serve). Starts a reader
 * thread; safe for many threads at once. Takes FD (closed on free). When
 * the channel fails, every pending and later call fails with CV_ERR_HSM
 * ("key process gone"): fail closed.
 */
cv_err cv_keyd_client_channel(int fd,
    struct cv_keyd_client **out) CV_MUST_CHECK;
void cv_keyd_client_free(struct cv_keyd_client *c);
/*
 * FN runs on C's reader thread once the channel has failed and every
 * caller has heard it: a process whose keys are behind the channel (the
 * api worker) ends there, to be started again with a fresh one.
 */
void cv_keyd_client_on_lost(struct cv_keyd_client *c, void (*fn)(void));

/*
 * Appends E to the audit log and returns once it is durable, with its index
 * in *index (may be NULL). The key side sets the time; E->time_us is not
 * sent.
 */
cv_err cv_keyd_append(struct cv_keyd_client *c,
    const struct cv_audit_entry *e, uint64_t *index) CV_MUST_CHECK;

/*
 * Called once per asynchronous request, on a thread of the client (never
 * the caller's): R the result, INDEX the entry's index when it was written,
 * TEXT the plaintext for a read (NULL otherwise; owned by the client:
 * valid only during the call, wiped after it).
 */
typedef void cv_keyd_done_fn(void *ctx, cv_err r, uint64_t index,
    const struct cv_buf *text);

/* cv_keyd_append without waiting: DONE(CTX, ...) is called exactly once
 * unless this returns an error. */
cv_err cv_keyd_append_async(struct cv_keyd_client *c,
    const struct cv_audit_entry *e, cv_keyd_done_fn *done,
    void *ctx) CV_MUST_CHECK;

/* cv_keys_blind_index on the key side. */
cv_err cv_keyd_blind_index(struct cv_keyd_client *c, enum cv_bidx_kind kind,
    const void *in, size_t len, uint8_t out[static CV_BIDX_BYTES])
    CV_MUST_CHECK;

/*
 * The server key's ECDSA P-256 signature (r || s, cv_keys_ec_sign) over
 * DATA, a SHA-256 hash (LEN 32; anything else is refused, CV_ERR_AUTH).
 * GnuTLS gives an external ECDSA key the handshake's hash only, so keyd
 * cannot see that it signs a handshake, as it could with Ed25519: see
 * docs/privsep.md.
 */
cv_err cv_keyd_sign_tls(struct cv_keyd_client *c, const uint8_t *data,
    size_t len, uint8_t sig[static CV_EC_SIG_BYTES]) CV_MUST_CHECK;

/*
 * TOTP: whether CODE is good now for USER, whose seed is SEALED (as kept
 * in the store, sealed for "totp:USER"): *step is the code's time step
 * (the caller refuses a step already used). The seed never leaves the key
 * side. CV_ERR_AUTH: wrong code; CV_ERR_LIMIT: too many wrong codes for
 * USER lately (the key side counts them, whoever asks).
 */
cv_err cv_keyd_totp(struct cv_keyd_client *c, const char *user,
    const char *code, const uint8_t *sealed, size_t len,
    uint64_t *step) CV_MUST_CHECK;

/*
 * The guard's state: saved sealed (for that one purpose) to
 * DIR/guard.state by the key side, or the last saved state appended to
 * STATE (CV_ERR_NOT_FOUND: none yet; CV_ERR_AUTH naming the file when it
 * does not open).
 */
cv_err cv_keyd_guard_save(struct cv_keyd_client *c, const uint8_t *state,
    size_t len) CV_MUST_CHECK;
cv_err cv_keyd_guard_load(struct cv_keyd_client *c,
    struct cv_buf *state) CV_MUST_CHECK;

/* The vault's canary ids, one a line, appended to IDS. */
cv_err cv_keyd_canaries(struct cv_keyd_client *c,
    struct cv_buf *ids) CV_MUST_CHECK;

/* The latest signed checkpoint (one is made if the log grew), appended to
 * NOTE; with the witnesses' cosignatures when the supervisor stored them
 * for that very checkpoint. */
cv_err cv_keyd_checkpoint(struct cv_keyd_client *c,
    struct cv_buf *note) CV_MUST_CHECK;

/* The newest checkpoint the witnesses cosigned (cv_witness_cosigned_get:
 * checked against this log), appended to NOTE; CV_ERR_NOT_FOUND when
 * there is none. */
cv_err cv_keyd_cosigned(struct cv_keyd_client *c,
    struct cv_buf *note) CV_MUST_CHECK;

/*
 * Enrolment (cv_auth_enrol on the key side): NAME's one-time CODE and the
 * user's certificate request CSR. The key side signs only for an account
 * whose creation the log shows proposed and approved by two different
 * people (see docs/privsep.md). ISSUED receives {"cert": PEM,
 * "fingerprint": hex, "otpauth": URI} (secret: wipe it).
 */
cv_err cv_keyd_enrol(struct cv_keyd_client *c, const char *name,
    const char *code, const char *csr, size_t len,
    struct cv_buf *issued) CV_MUST_CHECK;

/*
 * Writes the record TEXT (one JSON object) as cv_vault_put does: a new
 * record, or with MUST_EXIST a new version of EXPECT_ID (which the text's
 * id must match). Its data key is made and kept on the key side. *id and
 * *version as written. CV_ERR_INVALID ("field PATH: reason"),
 * CV_ERR_EXISTS, CV_ERR_NOT_FOUND.
 */
cv_err cv_keyd_put(struct cv_keyd_client *c, const char *expect_id,
    int must_exist, const char *text, size_t len,
    char id[static CV_RECORD_ID_MAX + 1], uint32_t *version) CV_MUST_CHECK;

/*
 * Opens now the N database handles K will lend its threads (at most 32),
 * and no more later: for a process about to enter its sandbox. Without
 * it handles are opened as threads need them.
 */
cv_err cv_keyd_prepare(struct cv_keyd *k, unsigned n) CV_MUST_CHECK;

/*
 * The calling thread's async requests to a key process over a channel
 * wait until cv_keyd_flush_thread (which src/api/poll.c calls before
 * every poll() of the process), then go out in one write. Only for
 * threads that call poll() between requests: the network workers.
 */
void cv_keyd_defer_thread(void);
void cv_keyd_flush_thread(void);

/*
 * Whether the HSM is still there (cv_keys_check), for the process that
 * holds the keys, every few seconds: a change either way is an audit
 * entry (hsm.unavailable / hsm.restored) and an alert. Returns 1 while it
 * is gone (the keys then refuse record work).
 */
int cv_keyd_hsm_tick(struct cv_keyd *k);

/* cv_keyd_hsm_tick every SECONDS on a thread of K's, until it is freed
 * (the server's key process). */
cv_err cv_keyd_watch_hsm(struct cv_keyd *k, unsigned seconds) CV_MUST_CHECK;

/*
 * witness_no_quorum = refuse-reads (issue 15). The supervisor's witness
 * pusher keeps the quorum's state, CV_KEYD_QUORUM_BYTES made by
 * cv_keyd_quorum_put (MISSING: no quorum for witness_alert_after, since
 * SINCE_US, cv_now_us's clock), at offset 0 of a memfd; keyd is handed a
 * read-only descriptor of it. After cv_keyd_refuse_reads(K, FD), every
 * decrypt of record data by K (a read, a ticket's release) reads FD
 * first (one pread) and is refused with CV_ERR_QUORUM while the quorum
 * is missing, or when FD cannot be read or holds anything else (fail
 * closed). While the quorum is there, SINCE_US is when the pusher last
 * confirmed it (each round): with MAX_AGE_US (> 0), a confirmation older
 * than that refuses reads too, so a pusher that stalls or dies fails
 * closed. FD stays the caller's.
 */
#define CV_KEYD_QUORUM_BYTES 32
void cv_keyd_quorum_put(uint8_t b[static CV_KEYD_QUORUM_BYTES], int missing,
    int64_t since_us);
void cv_keyd_refuse_reads(struct cv_keyd *k, int fd, int64_t max_age_us);

/* The audit log's public checkpoint key, in PK. */
cv_err cv_keyd_audit_key(struct cv_keyd_client *c, uint8_t pk[static 32])
    CV_MUST_CHECK;

/* *lost: 1 while the key side's HSM is gone. */
cv_err cv_keyd_status(struct cv_keyd_client *c, int *lost) CV_MUST_CHECK;

/*
 * One alert: a line of DIR/alerts.jsonl on FD, in Elastic Common Schema
 * field names (alert.c: @timestamp with microseconds, event.kind "alert",
 * event.category, event.action = rule.name = KIND, event.severity and
 * log.level, event.id, message = DETAIL, user.name, source.ip,
 * labels.vault_id; clearvault.session, .locked, .audit_indices: the audit
 * entries that record it; fields not given are left out), and syslog()
 * and the sink (cv_keyd_alert_sink). GET /v1/alerts and the drills read
 * these lines. Never fails: an alert that cannot be written is said on
 * stderr. Every field but KIND, SEVERITY and VAULT_ID may be NULL/0.
 */
struct cv_keyd_alert {
	const char *kind, *severity;	/* "warning", "critical" */
	const char *user, *detail, *source, *session, *vault_id;
	int locked;
	const uint64_t *indices;
	size_t n;
};
void cv_keyd_alert_emit(int fd, const struct cv_keyd_alert *a);
/* The same, for alerts of one entry (INDEX, may be NULL) and no session. */
void cv_keyd_alert_write(int fd, const char *vault_id, const char *kind,
    const char *severity, const char *user, const char *detail,
    const uint64_t *index);

/*
 * Where this process's alerts go besides alerts.jsonl: FN gets each
 * alert's line (newline included; LEN bytes, at most CV_ALERT_LINE_MAX)
 * on the thread that raised it and must not block. Set once, before the
 * process has threads that raise alerts; NULL: nowhere (the default). The
 * server's confined processes hand the line to the supervisor over the
 * relay socketpair (serve/syslog.c), which sends it on as RFC 5424.
 */
typedef void cv_keyd_alert_sink_fn(void *ctx, const char *line, size_t len);
void cv_keyd_alert_sink(cv_keyd_alert_sink_fn *fn, void *ctx);
/* Test hook (tests/cli/test_syslog.sh): hands the sink what a compromised
 * process could (a forged line with control bytes and SD specials in its
 * values, junk, an oversized line). Only test builds reach it. */
void cv_keyd_alert_selftest_hostile(void);

/*
 * The RFC 5424 message for alert line LINE (LEN bytes; outside input: it
 * may come from a compromised process) into *out (set on entry; caller
 * frees with cv_buf_free): PRI authpriv with the alert's severity,
 * TIMESTAMP the line's @timestamp (if well formed; else now), HOSTNAME
 * HOST, APP-NAME "clearvault", PROCID PID (0: "-"), MSGID the alert's
 * kind, structured data [clearvault@32473 ...] with the ECS fields under
 * their ECS names, MSG the message. Values are cut to a bound and
 * escaped (control bytes as #ooo; '"', '\', ']' in SD values), so the
 * message is one line of at most about 8 KiB. alert_5424.c has the
 * details. CV_ERR_INVALID if LINE is not an alert line (not JSON, no
 * event.action or log.level), CV_ERR_NOMEM.
 */
#define CV_ALERT_LINE_MAX 8192
cv_err cv_keyd_alert_5424(const char *line, size_t len, const char *host,
    long pid, struct cv_buf *out) CV_MUST_CHECK;

#endif
