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

#include "keyd.h"

#define KEYD_HDR 16
#define CV_KEYD_REPLY 0x8000u

enum keyd_type {
	KEYD_APPEND = 1,	/* entry -> u64 index */
	KEYD_READ = 2,		/* entry -> u64 index, bytes text */
	KEYD_DECRYPT = 3,	/* u64 ticket, str principal, str rid,
				 * u32 sections -> bytes text */
	KEYD_BLIND_INDEX = 4,	/* u8 kind, str value -> bytes[16] */
	KEYD_SIGN_TLS = 5,	/* bytes data -> bytes[64] */
	KEYD__TYPES
};

/* A decoded entry: strings point into the frame (NUL-terminated copies
 * are made by the decoder in STR, so the frame can be const). */
struct keyd_entry {
	struct cv_audit_entry e;
	const char **records;	/* malloc'd array of pointers into strs */
	char *strs;		/* malloc'd: every string, NUL-terminated */
};

/* One decoded request. */
struct keyd_req {
	uint16_t type;
	uint64_t id;
	struct keyd_entry ent;		/* APPEND, READ */
	uint64_t ticket;		/* DECRYPT */
	const char *principal, *rid;	/* DECRYPT: into strs */
	unsigned sections;		/* DECRYPT */
	uint8_t kind;			/* BLIND_INDEX */
	const uint8_t *data;		/* BLIND_INDEX value, SIGN_TLS data */
	size_t len;
	char *strs;			/* DECRYPT's strings */
};

/*
 * Decodes the frame P (LEN bytes, header included) as a request into *R
 * (free with keyd_req_free, also after a failure). CV_ERR_FORMAT with a
 * detail when anything is off: unknown type, a field past the end or out
 * of its bounds, a NUL inside a string, trailing bytes.
 */
cv_err keyd_decode(const uint8_t *p, size_t len,
    struct keyd_req *r) CV_MUST_CHECK;
void keyd_req_free(struct keyd_req *r);

/* Encoders: append a frame to OUT. */
cv_err keyd_enc_entry(struct cv_buf *out, uint16_t type, uint64_t id,
    const struct cv_audit_entry *e) CV_MUST_CHECK;
cv_err keyd_enc_decrypt(struct cv_buf *out, uint64_t id, uint64_t ticket,
    const char *principal, const char *rid, unsigned sections)
    CV_MUST_CHECK;
cv_err keyd_enc_blob(struct cv_buf *out, uint16_t type, uint64_t id,
    uint8_t kind, const void *data, size_t len) CV_MUST_CHECK;

/* Reply frames: status CV_OK with INDEX (APPEND, READ) and/or TEXT (READ,
 * DECRYPT, BLIND_INDEX, SIGN_TLS), or an error with its detail. */
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

/* The length of the frame starting at HDR (KEYD_HDR bytes), header
 * included; CV_ERR_FORMAT when it is out of bounds. */
cv_err keyd_frame_len(const uint8_t hdr[static KEYD_HDR],
    size_t *len) CV_MUST_CHECK;

/* The key side's handling of one decoded request; calls SEND(CTX, frame)
 * with the reply exactly once, possibly later, from another thread. */
typedef void keyd_send_fn(void *ctx, const struct cv_buf *frame);
void keyd_dispatch(struct cv_keyd *k, struct keyd_req *r,
    keyd_send_fn *send, void *ctx);

/* Logs and alerts a request that did not decode (the channel is then
 * closed by the caller). */
void keyd_violation(struct cv_keyd *k, const char *why);

#endif
