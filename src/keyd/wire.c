/*
 * keyd's wire format (see keyd_internal.h). The decoder is the key
 * process's whole attack surface towards the network process, so it is
 * strict: every field is bounded, every byte is accounted for.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "../record/record.h"
#include "keyd_internal.h"

/* Encoding: a frame is built in place and its length patched at the end. */
static cv_err
begin(struct cv_buf *out, uint16_t type, uint64_t id, size_t *start)
{
	uint8_t h[KEYD_HDR];
	cv_err r;

	*start = out->len;
	memset(h, 0, sizeof h);
	cv_put_u16be(h + 4, type);
	cv_put_u64be(h + 8, id);
	if ((r = cv_buf_add(out, h, sizeof h)) != CV_OK)
		return r;
	return CV_OK;
}

static cv_err
end(struct cv_buf *out, size_t start)
{
	size_t n = out->len - start;

	if (n > CV_KEYD_MAX_MSG) {
		out->len = start;
		return cv_fail(CV_ERR_INVALID, "keyd: a request of %zu bytes "
		    "is over the limit", n);
	}
	cv_put_u32be(out->p + start, (uint32_t)(n - 4));
	return CV_OK;
}

static cv_err
add_u32(struct cv_buf *out, uint32_t v)
{
	uint8_t b[4];

	cv_put_u32be(b, v);
	return cv_buf_add(out, b, 4);
}

static cv_err
add_u64(struct cv_buf *out, uint64_t v)
{
	uint8_t b[8];

	cv_put_u64be(b, v);
	return cv_buf_add(out, b, 8);
}

static cv_err
add_str(struct cv_buf *out, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	uint8_t b[2];
	cv_err r;

	if (n > CV_KEYD_MAX_STR)
		return cv_fail(CV_ERR_INVALID, "keyd: a string of %zu bytes "
		    "is over the limit", n);
	cv_put_u16be(b, (uint16_t)n);
	if ((r = cv_buf_add(out, b, 2)) != CV_OK)
		return r;
	return n ? cv_buf_add(out, s, n) : CV_OK;
}

static cv_err
add_bytes(struct cv_buf *out, const void *p, size_t n)
{
	cv_err r;

	if (n > CV_KEYD_MAX_MSG)
		return cv_fail(CV_ERR_INVALID, "keyd: a field is too large");
	if ((r = add_u32(out, (uint32_t)n)) != CV_OK)
		return r;
	return n ? cv_buf_add(out, p, n) : CV_OK;
}

/*
 * The request table: each type's fields, in order. Field codes:
 *   E an audit entry, T a u64 ticket, S a string (up to two), M a u32
 *   section mask (not empty), K a u8 blind-index kind, B bytes (bounded
 *   by the type's max).
 */
static const struct spec {
	const char *name;
	const char *fields;
	size_t max;		/* of the B field */
	int index, text;	/* reply shape */
} specs[KEYD__TYPES] = {
	[KEYD_APPEND] =		{ "append", "E", 0, 1, 0 },
	[KEYD_READ] =		{ "read", "E", 0, 1, 1 },
	[KEYD_DECRYPT] =	{ "decrypt", "TSSM", 0, 0, 1 },
	[KEYD_BLIND_INDEX] =	{ "blind-index", "KB", CV_KEYD_MAX_STR, 0, 1 },
	[KEYD_SIGN_TLS] =	{ "sign-tls", "B", CV_KEYD_MAX_SIGN, 0, 1 },
	[KEYD_TOTP] =		{ "totp", "SSB", 256, 1, 0 },
	[KEYD_GUARD_SAVE] =	{ "guard-save", "B", CV_KEYD_MAX_MSG / 2, 0, 0 },
	[KEYD_GUARD_LOAD] =	{ "guard-load", "", 0, 0, 1 },
	[KEYD_CANARIES] =	{ "canaries", "", 0, 0, 1 },
	[KEYD_CHECKPOINT] =	{ "checkpoint", "", 0, 0, 1 },
	[KEYD_ENROL] =		{ "enrol", "SSB", 16384, 0, 1 },
	[KEYD_PUT] =		{ "put", "SFB", CV_RECORD_MAX_BYTES, 1, 1 },
	[KEYD_STATUS] =		{ "status", "", 0, 1, 0 },
	[KEYD_AUDIT_KEY] =	{ "audit-key", "", 0, 0, 1 },
	[KEYD_COSIGNED] =	{ "cosigned", "", 0, 0, 1 },
};

static const struct spec *
spec_of(uint16_t type)
{
	return type > 0 && type < KEYD__TYPES ? &specs[type] : NULL;
}

int
keyd_reply_index(uint16_t type)
{
	const struct spec *sp = spec_of(type);

	return sp && sp->index;
}

int
keyd_reply_text(uint16_t type)
{
	const struct spec *sp = spec_of(type);

	return sp && sp->text;
}

const char *
keyd_type_name(uint16_t type)
{
	const struct spec *sp = spec_of(type);

	return sp ? sp->name : NULL;
}

static cv_err
enc_entry(struct cv_buf *out, const struct cv_audit_entry *e)
{
	const char *f[] = { e->action, e->actor, e->cert, e->source,
	    e->session, e->purpose, e->reason };
	uint8_t o = (uint8_t)e->outcome;
	cv_err r;

	if (e->nrecords > CV_KEYD_MAX_RECORDS)
		return cv_fail(CV_ERR_INVALID, "keyd: %zu records in one "
		    "entry is over the limit", e->nrecords);
	if ((r = cv_buf_add(out, &o, 1)) != CV_OK)
		return r;
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
		if ((r = add_str(out, f[i])) != CV_OK)
			return r;
	if ((r = add_u32(out, e->sections)) != CV_OK ||
	    (r = add_u32(out, (uint32_t)e->nrecords)) != CV_OK)
		return r;
	for (size_t i = 0; i < e->nrecords; i++)
		if ((r = add_str(out, e->records[i])) != CV_OK)
			return r;
	return CV_OK;
}

cv_err
keyd_encode(struct cv_buf *out, const struct keyd_req *q)
{
	const struct spec *sp = spec_of(q->type);
	size_t start;
	int ns = 0;
	cv_err r;

	if (sp == NULL)
		return cv_fail(CV_ERR_INTERNAL, "keyd: no request type %u",
		    q->type);
	if ((r = begin(out, q->type, q->id, &start)) != CV_OK)
		return r;
	for (const char *f = sp->fields; *f && r == CV_OK; f++) {
		switch (*f) {
		case 'E': r = enc_entry(out, &q->e); break;
		case 'T': r = add_u64(out, q->u64); break;
		case 'S': r = add_str(out, q->s[ns++]); break;
		case 'M': r = add_u32(out, q->sections); break;
		case 'K': r = cv_buf_add(out, &q->kind, 1); break;
		case 'F': r = cv_buf_add(out, &q->flag, 1); break;
		case 'B':
			r = q->len > sp->max ? cv_fail(CV_ERR_INVALID,
			    "keyd: %s: %zu bytes is over the limit", sp->name,
			    q->len) : add_bytes(out, q->data, q->len);
			break;
		}
	}
	if (r == CV_OK)
		r = end(out, start);
	if (r != CV_OK)
		out->len = start;
	return r;
}

cv_err
keyd_enc_reply(struct cv_buf *out, uint16_t type, uint64_t id,
    cv_err status, const char *detail, uint64_t index, const uint8_t *text,
    size_t len)
{
	char d[256];
	size_t start;
	cv_err r;

	if ((r = begin(out, type | CV_KEYD_REPLY, id, &start)) != CV_OK)
		return r;
	if ((r = add_u32(out, (uint32_t)status)) != CV_OK)
		goto out;
	if (status != CV_OK) {
		snprintf(d, sizeof d, "%s", detail ? detail : "");
		r = add_str(out, d);
	} else {
		if (keyd_reply_index(type) &&
		    (r = add_u64(out, index)) != CV_OK)
			goto out;
		if (keyd_reply_text(type))
			r = add_bytes(out, text, len);
	}
	if (r == CV_OK)
		r = end(out, start);
 out:
	if (r != CV_OK)
		out->len = start;
	return r;
}

/* Decoding: a cursor that fails once and stays failed. */
struct cur {
	const uint8_t *p;
	size_t len, at;
	const char *bad;	/* the first problem, static */
};

static int
need(struct cur *c, size_t n, const char *what)
{
	if (c->bad)
		return 0;
	if (c->len - c->at < n) {
		c->bad = what;
		return 0;
	}
	return 1;
}

static uint8_t
u8(struct cur *c, const char *what)
{
	return need(c, 1, what) ? c->p[c->at++] : 0;
}

static uint32_t
u32(struct cur *c, const char *what)
{
	uint32_t v;

	if (!need(c, 4, what))
		return 0;
	v = cv_get_u32be(c->p + c->at);
	c->at += 4;
	return v;
}

static uint64_t
u64(struct cur *c, const char *what)
{
	uint64_t v;

	if (!need(c, 8, what))
		return 0;
	v = cv_get_u64be(c->p + c->at);
	c->at += 8;
	return v;
}

/*
 * A string field copied NUL-terminated to *dst (advanced); DST has room
 * for every string of the frame since they are fewer bytes than it.
 */
static const char *
str(struct cur *c, char **dst, const char *what)
{
	const char *s = *dst;
	size_t n;

	if (!need(c, 2, what))
		return NULL;
	n = cv_get_u16be(c->p + c->at);
	c->at += 2;
	if (n > CV_KEYD_MAX_STR) {
		c->bad = what;
		return NULL;
	}
	if (!need(c, n, what))
		return NULL;
	if (memchr(c->p + c->at, 0, n) != NULL) {
		c->bad = what;
		return NULL;
	}
	memcpy(*dst, c->p + c->at, n);
	(*dst)[n] = '\0';
	*dst += n + 1;
	c->at += n;
	return s;
}

static const uint8_t *
bytes(struct cur *c, size_t max, size_t *len, const char *what)
{
	const uint8_t *p;
	uint32_t n = u32(c, what);

	if (c->bad)
		return NULL;
	if (n > max || !need(c, n, what)) {
		c->bad = what;
		return NULL;
	}
	p = c->p + c->at;
	c->at += n;
	*len = n;
	return p;
}

cv_err
keyd_frame_len(const uint8_t hdr[static KEYD_HDR], size_t *len)
{
	uint32_t n = cv_get_u32be(hdr);

	if (n < KEYD_HDR - 4 || n > CV_KEYD_MAX_MSG - 4)
		return cv_fail(CV_ERR_FORMAT, "keyd: a frame of %lu bytes",
		    (unsigned long)n);
	*len = (size_t)n + 4;
	return CV_OK;
}

/* Header: length, type, zero, id. */
static int
header(struct cur *c, uint16_t *type, uint64_t *id)
{
	size_t n;

	if (c->len < KEYD_HDR || keyd_frame_len(c->p, &n) != CV_OK ||
	    n != c->len) {
		c->bad = "frame length";
		return 0;
	}
	*type = cv_get_u16be(c->p + 4);
	if (cv_get_u16be(c->p + 6) != 0) {
		c->bad = "header";
		return 0;
	}
	*id = cv_get_u64be(c->p + 8);
	c->at = KEYD_HDR;
	return 1;
}

static void
entry(struct cur *c, struct keyd_req *q, char **dst)
{
	const char **f[] = { &q->e.action, &q->e.actor, &q->e.cert,
	    &q->e.source, &q->e.session, &q->e.purpose, &q->e.reason };
	uint32_t n;
	uint8_t o;

	o = u8(c, "outcome");
	if (!c->bad && o != CV_AUDIT_ALLOWED && o != CV_AUDIT_DENIED &&
	    o != CV_AUDIT_ERROR)
		c->bad = "outcome";
	q->e.outcome = (enum cv_audit_outcome)o;
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
		*f[i] = str(c, dst, "entry field");
		if (*f[i] != NULL && **f[i] == '\0')
			*f[i] = NULL;	/* empty: absent, as encoded */
	}
	q->e.sections = u32(c, "sections");
	if (!c->bad && q->e.sections >> CV_RECORD_NSECTIONS)
		c->bad = "sections";
	n = u32(c, "record count");
	if (c->bad)
		return;
	/* Each id takes at least its 2-byte length on the wire. */
	if (n > CV_KEYD_MAX_RECORDS || n > (c->len - c->at) / 2) {
		c->bad = "record count";
		return;
	}
	if (n && (q->records = calloc(n, sizeof *q->records)) == NULL) {
		c->bad = "memory";
		return;
	}
	for (uint32_t i = 0; i < n && !c->bad; i++)
		if ((q->records[i] = str(c, dst, "record id")) != NULL &&
		    !cv_record_valid_id(q->records[i]))
			c->bad = "record id";
	q->e.records = q->records;
	q->e.nrecords = n;
}

cv_err
keyd_decode(const uint8_t *p, size_t len, struct keyd_req *q)
{
	struct cur c = { p, len, 0, NULL };
	const struct spec *sp;
	char *dst;
	int ns = 0;

	memset(q, 0, sizeof *q);
	if (!header(&c, &q->type, &q->id))
		goto bad;
	if ((sp = spec_of(q->type)) == NULL) {
		c.bad = "request type";
		goto bad;
	}
	/* Every string is shorter than the frame: one allocation holds
	 * them all, terminated. */
	if ((q->strs = dst = malloc(len + 1)) == NULL) {
		c.bad = "memory";
		goto bad;
	}
	for (const char *f = sp->fields; *f && !c.bad; f++) {
		switch (*f) {
		case 'E': entry(&c, q, &dst); break;
		case 'T': q->u64 = u64(&c, "ticket"); break;
		case 'S': q->s[ns++] = str(&c, &dst, "string"); break;
		case 'M':
			q->sections = u32(&c, "sections");
			if (!c.bad && (q->sections == 0 ||
			    q->sections >> CV_RECORD_NSECTIONS))
				c.bad = "sections";
			break;
		case 'K':
			q->kind = u8(&c, "kind");
			if (!c.bad && q->kind != CV_BIDX_SSN &&
			    q->kind != CV_BIDX_NAME)
				c.bad = "kind";
			break;
		case 'F':
			q->flag = u8(&c, "flag");
			if (!c.bad && q->flag > 1)
				c.bad = "flag";
			break;
		case 'B':
			q->data = bytes(&c, sp->max, &q->len, "bytes");
			break;
		}
	}
	/* DECRYPT's second string is a record id. */
	if (!c.bad && q->type == KEYD_DECRYPT && !cv_record_valid_id(q->s[1]))
		c.bad = "record id";
	if (!c.bad && c.at != c.len)
		c.bad = "trailing bytes";
	if (!c.bad)
		return CV_OK;
 bad:
	/* Our own allocation failing is not the sender's fault: no
	 * "malformed" (chan.c raises a violation for that). */
	if (c.bad != NULL && strcmp(c.bad, "memory") == 0)
		return cv_fail(CV_ERR_NOMEM, "keyd: out of memory decoding a "
		    "request");
	return cv_fail(CV_ERR_FORMAT, "keyd: malformed request (%s)", c.bad);
}

void
keyd_req_free(struct keyd_req *q)
{
	free(q->records);
	free(q->strs);
	memset(q, 0, sizeof *q);
}

cv_err
keyd_decode_reply(const uint8_t *p, size_t len, struct keyd_reply *r)
{
	struct cur c = { p, len, 0, NULL };
	uint32_t st;
	size_t n = 0;
	const uint8_t *s;

	memset(r, 0, sizeof *r);
	if (!header(&c, &r->type, &r->id))
		goto bad;
	if (!(r->type & CV_KEYD_REPLY) ||
	    (r->type & ~CV_KEYD_REPLY) == 0 ||
	    (r->type & ~CV_KEYD_REPLY) >= KEYD__TYPES) {
		c.bad = "reply type";
		goto bad;
	}
	r->type &= ~CV_KEYD_REPLY;
	st = u32(&c, "status");
	if (!c.bad && st >= CV_ERR__COUNT)
		c.bad = "status";
	r->status = (cv_err)st;
	if (c.bad)
		goto bad;
	if (r->status != CV_OK) {
		if (!need(&c, 2, "detail"))
			goto bad;
		n = cv_get_u16be(p + c.at);
		c.at += 2;
		if (n >= sizeof r->detail || !need(&c, n, "detail"))
			goto bad;
		memcpy(r->detail, p + c.at, n);
		r->detail[n] = '\0';
		c.at += n;
	} else {
		if (keyd_reply_index(r->type))
			r->index = u64(&c, "index");
		if (keyd_reply_text(r->type)) {
			s = bytes(&c, CV_KEYD_MAX_MSG, &n, "text");
			r->text = s;
			r->len = n;
		}
	}
	if (!c.bad && c.at != c.len)
		c.bad = "trailing bytes";
	if (!c.bad)
		return CV_OK;
 bad:
	return cv_fail(CV_ERR_FORMAT, "keyd: malformed reply (%s)",
	    c.bad ? c.bad : "detail");
}

/*
 * Frames in from a stream, read in large chunks: one read() brings in
 * every frame that is waiting (a reader under load otherwise makes two
 * system calls a frame). R->buf holds R->have bytes from R->at.
 */
cv_err
keyd_read_frame(struct keyd_reader *rd, const uint8_t **frame, size_t *len)
{
	size_t n;
	ssize_t k;
	cv_err r;

	for (;;) {
		size_t have = rd->have - rd->at;

		if (have >= KEYD_HDR) {
			if ((r = keyd_frame_len(rd->buf.p + rd->at, &n)) !=
			    CV_OK)
				return r;
			if (have >= n) {
				*frame = rd->buf.p + rd->at;
				*len = n;
				rd->at += n;
				return CV_OK;
			}
		} else
			n = KEYD_HDR;
		/* Move what is left to the front; make room for a whole
		 * frame and a chunk more. */
		if (rd->at) {
			memmove(rd->buf.p, rd->buf.p + rd->at, have);
			sodium_memzero(rd->buf.p + have, rd->have - have);
			rd->have = have;
			rd->at = 0;
		}
		rd->buf.len = rd->have;
		if ((r = cv_buf_reserve(&rd->buf, (n > have ? n - have : 0) +
		    65536)) != CV_OK)
			return r;
		k = read(rd->fd, rd->buf.p + rd->have, rd->buf.cap - rd->have);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return CV_ERR_IO;
		rd->have += (size_t)k;
	}
}

int
keyd_frame_buffered(const struct keyd_reader *rd)
{
	size_t have = rd->have - rd->at, n;

	/* A bad length is "there" too: the next read says what is wrong. */
	return have >= KEYD_HDR && (keyd_frame_len(rd->buf.p + rd->at, &n) !=
	    CV_OK || have >= n);
}

void
keyd_reader_free(struct keyd_reader *rd)
{
	rd->buf.len = rd->buf.cap;
	cv_buf_free(&rd->buf);	/* wipes: frames carry plaintext */
	rd->have = rd->at = 0;
}
