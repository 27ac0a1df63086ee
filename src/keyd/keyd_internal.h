/*
 * Private to keyd: the wire format and its decoder (fuzzed by
 * tests/fuzz/fuzz_keyd.c).
 *
 * A frame, big-endian:
 *   u32 length of what follows | u16 type | u16 zero | u64 request id | body
 * A reply has the request's type with CV_KEYD_REPLY set and the same id;
 * its body is u32 status (a cv_err), then, for CV_OK, the type's reply
 * fields, else a string: the error detail.
 * Fields: u8, u32, u64; str = u16 length || bytes (no NUL byte);
 * bytes = u32 length || bytes. Each type's body is a fixed sequence of
 * fields and must be consumed exactly.
 */
#ifndef CV_KEYD_INTERNAL_H
#define CV_KEYD_INTERNAL_H

#include <pthread.h>

#include "../vault/vault_keys.h"
#include "keyd.h"

#define KEYD_HDR 16
#define CV_KEYD_REPLY 0x8000u

enum keyd_type {
	KEYD_APPEND = 1,	/* entry -> index */
	KEYD_READ,		/* entry -> index, text */
	KEYD_DECRYPT,		/* u64 ticket, str principal, str rid,
				 * u32 sections -> text */
	KEYD_BLIND_INDEX,	/* u8 kind, bytes value -> text[16] */
	KEYD_SIGN_TLS,		/* bytes data -> text[64] */
	KEYD_TOTP,		/* str user, str code, bytes sealed seed
				 * -> index: the code's time step */
	KEYD_GUARD_SAVE,	/* bytes state -> (DIR/guard.state, sealed) */
	KEYD_GUARD_LOAD,	/* -> text: the state saved last */
	KEYD_CANARIES,		/* -> text: ids, one a line */
	KEYD_CHECKPOINT,	/* -> text: the latest signed note */
	KEYD_ENROL,		/* str name, str code, bytes csr -> text:
				 * JSON certificate and otpauth */
	KEYD_PUT,		/* str expect_id, u8 must_exist, bytes
				 * record -> index: version, text: id */
	KEYD_STATUS,		/* -> index: 1 while the HSM is gone */
	KEYD_AUDIT_KEY,		/* -> text[32]: the log's public key */
	KEYD_COSIGNED,		/* -> text: the newest cosigned checkpoint
				 * (DIR/witness/checkpoint, checked) */
	KEYD__TYPES
};

/*
 * A request's fields. Which of them a type has, in which order and within
 * which bounds is keyd's request table (wire.c), used by the encoder and
 * the decoder alike so that the two cannot disagree.
 */
struct keyd_req {
	uint16_t type;
	uint64_t id;
	struct cv_audit_entry e;	/* entry */
	uint64_t u64;			/* DECRYPT: ticket */
	const char *s[2];		/* strings, NUL-terminated */
	unsigned sections;		/* DECRYPT */
	uint8_t kind;			/* BLIND_INDEX */
	uint8_t flag;			/* PUT: must exist */
	const uint8_t *data;		/* bytes */
	size_t len;
	/* the decoder's allocations */
	const char **records;
	char *strs;
};

/* Reply shape of TYPE: 1 if it carries an index / a text. */
int keyd_reply_index(uint16_t type);
int keyd_reply_text(uint16_t type);
/* TYPE's name in the table ("read", "decrypt", ...), or NULL. */
const char *keyd_type_name(uint16_t type);

/*
 * Decodes the frame P (LEN bytes, header included) as a request into *R
 * (free with keyd_req_free, also after a failure). CV_ERR_FORMAT with a
 * detail when anything is off: unknown type, a field past the end or out
 * of its bounds, a NUL inside a string, trailing bytes.
 */
cv_err keyd_decode(const uint8_t *p, size_t len,
    struct keyd_req *r) CV_MUST_CHECK;
void keyd_req_free(struct keyd_req *r);

/* The frame of request R (R->type, R->id and the type's fields), appended
 * to OUT. CV_ERR_INVALID when a field is out of its bounds. */
cv_err keyd_encode(struct cv_buf *out, const struct keyd_req *r)
    CV_MUST_CHECK;

/* Reply frames: status CV_OK with INDEX and/or TEXT as the type has them,
 * or an error with its detail. */
cv_err keyd_enc_reply(struct cv_buf *out, uint16_t type, uint64_t id,
    cv_err status, const char *detail, uint64_t index,
    const uint8_t *text, size_t len) CV_MUST_CHECK;

/* A decoded reply: TEXT points into the frame. */
struct keyd_reply {
	uint16_t type;
	uint64_t id;
	cv_err status;
	char detail[256];
	uint64_t index;
	const uint8_t *text;
	size_t len;
};
cv_err keyd_decode_reply(const uint8_t *p, size_t len,
    struct keyd_reply *r) CV_MUST_CHECK;

/* A buffered reader of frames from a stream FD. */
struct keyd_reader {
	int fd;
	struct cv_buf buf;
	size_t have, at;
};

/* The next frame from RD: *FRAME (LEN bytes) points into RD's buffer,
 * valid until the next call. CV_ERR_IO at the end of the stream (or a
 * frame cut short), CV_ERR_FORMAT for a length out of bounds,
 * CV_ERR_NOMEM. */
cv_err keyd_read_frame(struct keyd_reader *rd, const uint8_t **frame,
    size_t *len) CV_MUST_CHECK;
/* Frees RD's buffer (wiped). */
void keyd_reader_free(struct keyd_reader *rd);
/* Whether a whole frame is in RD's buffer already: keyd_read_frame then
 * returns it without a system call and without moving the frames it
 * returned before. */
int keyd_frame_buffered(const struct keyd_reader *rd);

/* The length of the frame starting at HDR (KEYD_HDR bytes), header
 * included; CV_ERR_FORMAT when it is out of bounds. */
cv_err keyd_frame_len(const uint8_t hdr[static KEYD_HDR],
    size_t *len) CV_MUST_CHECK;

/* The key side's handling of one decoded request; calls SEND(CTX, frame)
 * with the reply exactly once, possibly later, from another thread. */
typedef void keyd_send_fn(void *ctx, const struct cv_buf *frame);
void keyd_dispatch(struct cv_keyd *k, struct keyd_req *r,
    keyd_send_fn *send, void *ctx, int remote);
/* keyd_dispatch of N READ requests that arrived together (Q[0..N-1]):
 * their records' rows are read in one statement first. */
void keyd_dispatch_reads(struct cv_keyd *k, struct keyd_req *q, size_t n,
    keyd_send_fn *send, void *ctx, int remote);
/* The most READ requests read together. */
#define KEYD_READ_BATCH 32

/* On the log's committer thread, during a batch's callbacks: replies to
 * channels are held and sent together by keyd_release_replies, which
 * cv_keyd_new registers as the log's end-of-batch hook (chan.c). */
void keyd_hold_replies(void);
void keyd_release_replies(void *unused);

#define KEYD_POOL 32
#define TOTP_USERS 1024		/* wrong-code counters kept */

struct cv_keyd {
	struct cv_vault *v;
	struct cv_keys *keys;	/* V's keyring: the only holder in the server */
	struct cv_audit *a;
	int alerts_fd;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stopping, pending;
	uint64_t durable;	/* entries below this index are on disk */
	/* Database handles for the threads that read or write records: a
	 * SQLite connection (and its cached statements) is one thread's at
	 * a time. Dups of V: the keys are shared, the connection is not. */
	struct cv_vault *pool[KEYD_POOL];
	int npool, nfree, pool_max;
	struct cv_vault *freev[KEYD_POOL];
	pthread_cond_t poolcv;
	pthread_t watcher;	/* cv_keyd_watch_hsm */
	pthread_cond_t tick;	/* the watcher's own: the end of pending work
				 * is signalled on cv */
	int watching;
	/* wrong TOTP codes per user (hashed name), whoever asked */
	struct totp_fails {
		uint8_t who[16];
		int64_t since_us;
		unsigned n;
	} totp[TOTP_USERS];
	/* witness_no_quorum = refuse-reads (quorum.c): the supervisor's
	 * state, read-only; -1 until cv_keyd_refuse_reads */
	int refuse_reads, quorum_fd;
	int64_t quorum_max_age_us;	/* 0: no freshness check */
};

/* Under refuse-reads, CV_ERR_QUORUM (with the detail the api worker
 * shows) while the witness quorum is missing or its state unreadable;
 * CV_OK otherwise. Before every decrypt of record data. */
cv_err keyd_quorum_gate(struct cv_keyd *k) CV_MUST_CHECK;

/* The requests beyond reading and appending (ops.c): *INDEX and OUT as
 * the type's reply has them. REMOTE: the request came over a channel
 * (the network process), not from this process. */
cv_err keyd_ops(struct cv_keyd *k, const struct keyd_req *q, int remote,
    uint64_t *index, struct cv_buf *out) CV_MUST_CHECK;

/* CV_OK if the log shows NAME's account bootstrapped at the command line
 * or proposed and approved by two other people (enrol.c); CV_ERR_AUTH. */
cv_err keyd_enrol_approved(struct cv_keyd *k, const char *name)
    CV_MUST_CHECK;

/* A database handle of this thread's own until keyd_vault_put (waits
 * while all are lent); NULL when none can be opened. */
struct cv_vault *keyd_vault_get(struct cv_keyd *k);
void keyd_vault_put(struct cv_keyd *k, struct cv_vault *v);

/* One line of alerts.jsonl (opened at the first), and syslog. */
void keyd_alert_line(struct cv_keyd *k, const char *kind,
    const char *severity, const char *user, const char *detail,
    const uint64_t *index);

/* A refusal: an audit entry, an alert line, syslog. */
void keyd_alert(struct cv_keyd *k, const char *kind, const char *actor,
    const char *detail, const char *rid);

/* Logs and alerts a request that did not decode (the channel is then
 * closed by the caller). */
void keyd_violation(struct cv_keyd *k, const char *why);

#endif
