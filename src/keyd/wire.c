/*
 * keyd's wire format (see keyd_internal.h). The decoder is the key
 * process's whole attack surface towards the network process, so it is
 * strict: every field is bounded, every byte is accounted for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../record/record.h"
#include "keyd_internal.h"

static void
put_u64(uint8_t *p, uint64_t v)
{
	cv_put_u32be(p, (uint32_t)(v >> 32));
	cv_put_u32be(p + 4, (uint32_t)v);
}

static uint64_t
get_u64(const uint8_t *p)
{
	return (uint64_t)cv_get_u32be(p) << 32 | cv_get_u32be(p + 4);
}

/* Encoding: a frame is built in place and its length patched at the end. */
static cv_err
begin(struct cv_buf *out, uint16_t type, uint64_t id, size_t *start)
{
	uint8_t h[KEYD_HDR];
	cv_err r;

	*start = out->len;
	memset(h, 0, sizeof h);
	cv_put_u16be(h + 4, type);
	put_u64(h + 8, id);
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

	put_u64(b, v);
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

cv_err
keyd_enc_entry(struct cv_buf *out, uint16_t type, uint64_t id,
    const struct cv_audit_entry *e)
{
	const char *f[] = { e->action, e->actor, e->cert, e->source,
	    e->session, e->purpose, e->reason };
	size_t start, i;
	uint8_t o = (uint8_t)e->outcome;
	cv_err r;

	if (e->nrecords > CV_KEYD_MAX_RECORDS)
		return cv_fail(CV_ERR_INVALID, "keyd: %zu records in one "
		    "entry is over the limit", e->nrecords);
	if ((r = begin(out, type, id, &start)) != CV_OK ||
	    (r = cv_buf_add(out, &o, 1)) != CV_OK)
		goto out;
	for (i = 0; i < sizeof f / sizeof f[0]; i++)
		if ((r = add_str(out, f[i])) != CV_OK)
			goto out;
	if ((r = add_u32(out, e->sections)) != CV_OK ||
	    (r = add_u32(out, (uint32_t)e->nrecords)) != CV_OK)
		goto out;
	for (i = 0; i < e->nrecords; i++)
		if ((r = add_str(out, e->records[i])) != CV_OK)
			goto out;
	r = end(out, start);
 out:
	if (r != CV_OK)
		out->len = start;
	return r;
}

cv_err
keyd_enc_decrypt(struct cv_buf *out, uint64_t id, uint64_t ticket,
    const char *principal, const char *rid, unsigned sections)
{
	size_t start;
	cv_err r;

	if ((r = begin(out, KEYD_DECRYPT, id, &start)) != CV_OK)
		return r;
	if ((r = add_u64(out, ticket)) != CV_OK ||
	    (r = add_str(out, principal)) != CV_OK ||
	    (r = add_str(out, rid)) != CV_OK ||
	    (r = add_u32(out, sections)) != CV_OK ||
	    (r = end(out, start)) != CV_OK)
		out->len = start;
	return r;
}

cv_err
keyd_enc_blob(struct cv_buf *out, uint16_t type, uint64_t id, uint8_t kind,
    const void *data, size_t len)
{
	size_t start;
	cv_err r;

	if ((r = begin(out, type, id, &start)) != CV_OK)
		return r;
	if ((type == KEYD_BLIND_INDEX &&
	    (r = cv_buf_add(out, &kind, 1)) != CV_OK) ||
	    (r = add_bytes(out, data, len)) != CV_OK ||
	    (r = end(out, start)) != CV_OK)
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
		if ((type == KEYD_APPEND || type == KEYD_READ) &&
		    (r = add_u64(out, index)) != CV_OK)
			goto out;
		if (type != KEYD_APPEND)
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
	v = get_u64(c->p + c->at);
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
	*id = get_u64(c->p + 8);
	c->at = KEYD_HDR;
	return 1;
}

static int
entry(struct cur *c, struct keyd_entry *ke)
{
	const char **f[] = { &ke->e.action, &ke->e.actor, &ke->e.cert,
	    &ke->e.source, &ke->e.session, &ke->e.purpose, &ke->e.reason };
	char *dst;
	uint32_t n;
	uint8_t o;

	/* Every string is shorter than the frame: one allocation holds
	 * them all, terminated. */
	if ((ke->strs = malloc(c->len + 1)) == NULL) {
		c->bad = "memory";
		return 0;
	}
	dst = ke->strs;
	o = u8(c, "outcome");
	if (!c->bad && o != CV_AUDIT_ALLOWED && o != CV_AUDIT_DENIED &&
	    o != CV_AUDIT_ERROR)
		c->bad = "outcome";
	ke->e.outcome = (enum cv_audit_outcome)o;
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
		*f[i] = str(c, &dst, "entry field");
		if (*f[i] != NULL && **f[i] == '\0')
			*f[i] = NULL;	/* empty: absent, as encoded */
	}
	ke->e.sections = u32(c, "sections");
	if (!c->bad && ke->e.sections >> CV_RECORD_NSECTIONS)
		c->bad = "sections";
	n = u32(c, "record count");
	if (c->bad)
		return 0;
	/* Each id takes at least its 2-byte length on the wire. */
	if (n > CV_KEYD_MAX_RECORDS || n > (c->len - c->at) / 2) {
		c->bad = "record count";
		return 0;
	}
	if (n && (ke->records = calloc(n, sizeof *ke->records)) == NULL) {
		c->bad = "memory";
		return 0;
	}
	for (uint32_t i = 0; i < n && !c->bad; i++)
		if ((ke->records[i] = str(c, &dst, "record id")) != NULL &&
		    !cv_record_valid_id(ke->records[i]))
			c->bad = "record id";
	ke->e.records = ke->records;
	ke->e.nrecords = n;
	return !c->bad;
}

cv_err
keyd_decode(const uint8_t *p, size_t len, struct keyd_req *r)
{
	struct cur c = { p, len, 0, NULL };
	char *dst;

	memset(r, 0, sizeof *r);
	if (!header(&c, &r->type, &r->id))
		goto bad;
	switch (r->type) {
	case KEYD_APPEND:
	case KEYD_READ:
		(void)entry(&c, &r->ent);
		break;
	case KEYD_DECRYPT:
		if ((r->strs = dst = malloc(len + 1)) == NULL) {
			c.bad = "memory";
			break;
		}
		r->ticket = u64(&c, "ticket");
		r->principal = str(&c, &dst, "principal");
		r->rid = str(&c, &dst, "record id");
		if (r->rid && !cv_record_valid_id(r->rid))
			c.bad = "record id";
		r->sections = u32(&c, "sections");
		if (!c.bad && (r->sections == 0 ||
		    r->sections >> CV_RECORD_NSECTIONS))
			c.bad = "sections";
		break;
	case KEYD_BLIND_INDEX:
		r->kind = u8(&c, "kind");
		if (!c.bad && r->kind != CV_BIDX_SSN && r->kind != CV_BIDX_NAME)
			c.bad = "kind";
		r->data = bytes(&c, CV_KEYD_MAX_STR, &r->len, "value");
		break;
	case KEYD_SIGN_TLS:
		r->data = bytes(&c, CV_KEYD_MAX_SIGN, &r->len, "data");
		break;
	default:
		c.bad = "request type";
	}
	if (!c.bad && c.at != c.len)
		c.bad = "trailing bytes";
	if (!c.bad)
		return CV_OK;
 bad:
	return cv_fail(CV_ERR_FORMAT, "keyd: malformed request (%s)", c.bad);
}

void
keyd_req_free(struct keyd_req *r)
{
	free(r->ent.records);
	free(r->ent.strs);
	free(r->strs);
	memset(r, 0, sizeof *r);
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
		if (r->type == KEYD_APPEND || r->type == KEYD_READ)
			r->index = u64(&c, "index");
		if (r->type != KEYD_APPEND) {
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
