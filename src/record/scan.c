/*
 * A schema-driven JSON scanner for records: one pass over the text that
 * checks JSON syntax (RFC 8259, strict UTF-8, no NUL) and the schema at
 * the same time, builds no tree and keeps only what storage needs: the
 * byte span of each section and the blind-index inputs.
 *
 * Why not jansson here: building a jansson tree of a 2.6 KiB record costs
 * about 40 us, which alone caps `load` at a quarter of the rate the store
 * must reach. jansson still parses everything else, and the fuzz target
 * checks that every record this scanner accepts is JSON jansson accepts.
 *
 * Recursion depth is bounded by the schema: unknown fields are refused
 * before their values are read.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "record.h"
#include "schema.h"

#define STR_MAX_BYTES (4 * 8192 + 8)
#define KEY_MAX_BYTES 64

struct scan {
	const unsigned char *s, *p, *end;
	struct cv_record_fields *f;
	struct cv_record_error *e;
	/* Where we are, as frames: rendered into text only on an error. */
	struct frame {
		const char *name;	/* NULL: array index idx */
		size_t idx;
	} path[16];
	size_t depth;
	char buf[STR_MAX_BYTES];
	size_t blen, cps, hw;	/* hw: the most of buf ever used */
};

static cv_err
refuse(struct scan *sc, const char *fmt, const char *arg)
{
	char *o = sc->e->path;
	size_t n = 0, size = sizeof sc->e->path;

	o[0] = '\0';
	for (size_t i = 0; i < sc->depth && n < size; i++) {
		const struct frame *f = &sc->path[i];
		int w = f->name ? snprintf(o + n, size - n, "%s%.40s",
		    i ? "." : "", f->name) : snprintf(o + n, size - n, "[%zu]",
		    f->idx);
		if (w < 0)
			break;
		n += (size_t)w;
	}
	if (sc->depth == 0)
		snprintf(o, size, "(record)");
	snprintf(sc->e->reason, sizeof sc->e->reason, fmt, arg);
	return CV_ERR_INVALID;
}

static cv_err
syntax(struct scan *sc, const char *what)
{
	snprintf(sc->e->path, sizeof sc->e->path, "(json)");
	snprintf(sc->e->reason, sizeof sc->e->reason, "column %zu: %s",
	    (size_t)(sc->p - sc->s) + 1, what);
	return CV_ERR_INVALID;
}

static void
ws(struct scan *sc)
{
	while (sc->p < sc->end && (*sc->p == ' ' || *sc->p == '\t' ||
	    *sc->p == '\n' || *sc->p == '\r'))
		sc->p++;
}

static int
hex4(const unsigned char *p, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		unsigned c = p[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			d = (c | 0x20) - 'a' + 10;
		else
			return 0;
		*v = *v << 4 | d;
	}
	return 1;
}

/* Length of a valid UTF-8 sequence at p (lead byte >= 0x80), or 0. */
static size_t
utf8_seq(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0];
	size_t n;
	unsigned lo = 0x80, hi = 0xbf;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)	/* no UTF-16 surrogates */
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)	/* nothing past U+10FFFF */
			hi = 0x8f;
	} else
		return 0;
	if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++) {
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	}
	return n;
}

static void
put_utf8(char *o, size_t *n, unsigned cp)
{
	if (cp < 0x80) {
		o[(*n)++] = (char)cp;
	} else if (cp < 0x800) {
		o[(*n)++] = (char)(0xc0 | cp >> 6);
		o[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		o[(*n)++] = (char)(0xe0 | cp >> 12);
		o[(*n)++] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		o[(*n)++] = (char)(0xf0 | cp >> 18);
		o[(*n)++] = (char)(0x80 | (cp >> 12 & 0x3f));
		o[(*n)++] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[(*n)++] = (char)(0x80 | (cp & 0x3f));
	}
}

/*
 * Decodes the string at sc->p (on its opening quote) into OUT, at most
 * MAXCP code points (CAP >= 4 * MAXCP + 1 bytes). Returns 0 on success,
 * 1 when longer than MAXCP (scanning stops there), -1 on a JSON error
 * (already reported).
 */
static int
string(struct scan *sc, char *out, size_t maxcp, size_t *outlen, size_t *cps)
{
	const unsigned char *p = sc->p + 1, *end = sc->end;
	size_t n = 0, cp = 0, k;
	unsigned u, lo;

	for (;;) {
		if (p == end) {
			sc->p = p;
			*outlen = n;
			syntax(sc, "unterminated string");
			return -1;
		}
		if (*p == '"')
			break;
		if (cp == maxcp) {
			*cps = cp + 1;
			*outlen = n;
			return 1;
		}
		if (*p < 0x20) {
			sc->p = p;
			*outlen = n;
			syntax(sc, "control character in string");
			return -1;
		}
		if (*p < 0x80 && *p != '\\') {
			out[n++] = (char)*p++;
		} else if (*p >= 0x80) {
			if ((k = utf8_seq(p, end)) == 0) {
				sc->p = p;
				*outlen = n;
				syntax(sc, "invalid UTF-8");
				return -1;
			}
			memcpy(out + n, p, k);
			n += k;
			p += k;
		} else {
			if (end - p < 2)
				goto bad_escape;
			switch (p[1]) {
			case '"': out[n++] = '"'; break;
			case '\\': out[n++] = '\\'; break;
			case '/': out[n++] = '/'; break;
			case 'b': out[n++] = '\b'; break;
			case 'f': out[n++] = '\f'; break;
			case 'n': out[n++] = '\n'; break;
			case 'r': out[n++] = '\r'; break;
			case 't': out[n++] = '\t'; break;
			case 'u':
				if (end - p < 6 || !hex4(p + 2, &u))
					goto bad_escape;
				if (u >= 0xdc00 && u <= 0xdfff)
					goto bad_escape;
				if (u >= 0xd800 && u <= 0xdbff) {
					if (end - p < 12 || p[6] != '\\' ||
					    p[7] != 'u' || !hex4(p + 8, &lo) ||
					    lo < 0xdc00 || lo > 0xdfff)
						goto bad_escape;
					u = 0x10000 + ((u - 0xd800) << 10) +
					    (lo - 0xdc00);
					p += 6;
				}
				if (u == 0) {
					sc->p = p;
					*outlen = n;
					syntax(sc, "\\u0000 in string");
					return -1;
				}
				put_utf8(out, &n, u);
				p += 4;
				break;
			default:
				goto bad_escape;
			}
			p += 2;
		}
		cp++;
	}
	out[n] = '\0';
	sc->p = p + 1;
	*outlen = n;
	*cps = cp;
	return 0;
 bad_escape:
	sc->p = p;
	*outlen = n;
	syntax(sc, "invalid escape in string");
	return -1;
}

/* The schema is at most a few levels deep; path holds them all. */
static void
push(struct scan *sc, const char *name, size_t idx)
{
	if (sc->depth < sizeof sc->path / sizeof sc->path[0])
		sc->path[sc->depth] = (struct frame){ name, idx };
	sc->depth++;
}

static void
pop(struct scan *sc)
{
	sc->depth--;
}

static const char *
type_name(const struct node *n)
{
	switch (n->kind) {
	case N_OBJ: return "an object";
	case N_ARR: return "an array";
	case N_STR: return "a string";
	case N_INT: return "an integer";
	case N_BOOL: return "true or false";
	}
	return "?";
}

static cv_err
length_error(struct scan *sc, const struct node *n)
{
	char lim[64];

	if (n->min == n->max)
		snprintf(lim, sizeof lim, "%lld", n->min);
	else
		snprintf(lim, sizeof lim, "%lld to %lld", n->min, n->max);
	return refuse(sc, "length must be %s characters", lim);
}

static cv_err
check_format(struct scan *sc, const struct node *n)
{
	const char *s = sc->buf;

	switch (n->fmt) {
	case S_TEXT:
		return CV_OK;
	case S_ID:
		return cv_record_valid_id(s) ? CV_OK : refuse(sc, "%s",
		    "id must be letters, digits, '-', '_' or '.'");
	case S_SSN:
		return cv_record_valid_ssn(s) ? CV_OK : refuse(sc, "%s",
		    "not an SSN (NNN-NN-NNNN, no 000/666 area, 00 group or "
		    "0000 serial)");
	case S_DATE:
		return cv_record_valid_date(s) ? CV_OK : refuse(sc, "%s",
		    "not a date (YYYY-MM-DD)");
	case S_EMAIL:
		return cv_record_valid_email(s) ? CV_OK : refuse(sc, "%s",
		    "not an e-mail address");
	case S_PHONE:
		return cv_record_valid_phone(s) ? CV_OK : refuse(sc, "%s",
		    "not a phone number");
	case S_BASE64:
		return cv_record_valid_base64(s, sc->blen) ? CV_OK :
		    refuse(sc, "%s", "not base64");
	case S_ENUM:
		for (const char *const *c = n->choices; *c; c++) {
			if (strcmp(*c, s) == 0)
				return CV_OK;
		}
		return refuse(sc, "'%s' is not one of the allowed values",
		    sc->blen > 40 ? "(long value)" : s);
	}
	return CV_ERR_INTERNAL;
}

static void
capture(struct scan *sc, int cap)
{
	char *dst = NULL;
	size_t cap_size = 0;

	switch (cap) {
	case CAP_ID: dst = sc->f->id; cap_size = sizeof sc->f->id; break;
	case CAP_SSN: dst = sc->f->ssn; cap_size = sizeof sc->f->ssn; break;
	case CAP_LAST: dst = sc->f->last; cap_size = sizeof sc->f->last;
		break;
	case CAP_DOB: dst = sc->f->dob; cap_size = sizeof sc->f->dob; break;
	default: return;
	}
	/* The schema bounds these strings below the capture sizes. */
	if (sc->blen < cap_size)
		memcpy(dst, sc->buf, sc->blen + 1);
}

static cv_err value(struct scan *sc, const struct node *n, int cap);

static cv_err
object(struct scan *sc, const struct node *n)
{
	const struct field *f;
	char key[4 * KEY_MAX_BYTES + 1];
	size_t klen, kcps;
	unsigned long seen = 0;
	unsigned idx;
	int rc;
	cv_err r;

	sc->p++;
	ws(sc);
	if (sc->p < sc->end && *sc->p == '}') {
		sc->p++;
		goto required;
	}
	for (;;) {
		if (sc->p == sc->end || *sc->p != '"')
			return syntax(sc, "expected a field name");
		if ((rc = string(sc, key, KEY_MAX_BYTES, &klen, &kcps)) < 0)
			return CV_ERR_INVALID;
		if (rc > 0) {
			push(sc, "(long name)", 0);
			return refuse(sc, "%s", "unknown field");
		}
		for (f = n->fields, idx = 0; f->name; f++, idx++) {
			if (strlen(f->name) == klen &&
			    memcmp(f->name, key, klen) == 0)
				break;
		}
		push(sc, f->name ? f->name : key, 0);
		if (f->name == NULL)
			return refuse(sc, "%s", "unknown field");
		if (seen & (1ul << idx))
			return refuse(sc, "%s", "duplicate field");
		seen |= 1ul << idx;
		ws(sc);
		if (sc->p == sc->end || *sc->p != ':')
			return syntax(sc, "expected ':'");
		sc->p++;
		ws(sc);
		if ((r = value(sc, f->node, f->capture)) != CV_OK)
			return r;
		pop(sc);
		ws(sc);
		if (sc->p < sc->end && *sc->p == ',') {
			sc->p++;
			ws(sc);
			continue;
		}
		if (sc->p < sc->end && *sc->p == '}') {
			sc->p++;
			break;
		}
		return syntax(sc, "expected ',' or '}'");
	}
 required:
	for (f = n->fields, idx = 0; f->name; f++, idx++) {
		if (f->required && !(seen & (1ul << idx))) {
			push(sc, f->name, 0);
			return refuse(sc, "%s", "required field is missing");
		}
	}
	return CV_OK;
}

static cv_err
items_error(struct scan *sc, const struct node *n)
{
	char lim[64];

	snprintf(lim, sizeof lim, "%lld to %lld", n->min, n->max);
	return refuse(sc, "must have %s items", lim);
}

static cv_err
array(struct scan *sc, const struct node *n)
{
	size_t count = 0;
	cv_err r;

	sc->p++;
	ws(sc);
	if (sc->p < sc->end && *sc->p == ']') {
		sc->p++;
		goto done;
	}
	for (;;) {
		if (count == (size_t)n->max)
			return items_error(sc, n);
		push(sc, NULL, count);
		if ((r = value(sc, n->items, CAP_NONE)) != CV_OK)
			return r;
		pop(sc);
		count++;
		ws(sc);
		if (sc->p < sc->end && *sc->p == ',') {
			sc->p++;
			ws(sc);
			continue;
		}
		if (sc->p < sc->end && *sc->p == ']') {
			sc->p++;
			break;
		}
		return syntax(sc, "expected ',' or ']'");
	}
 done:
	if (count < (size_t)n->min)
		return items_error(sc, n);
	return CV_OK;
}

static cv_err
number(struct scan *sc, const struct node *n)
{
	const unsigned char *p = sc->p, *end = sc->end;
	unsigned long long v = 0, limit;
	int neg = 0, real = 0, overflow = 0;
	char lim[64];

	if (*p == '-') {
		neg = 1;
		p++;
	}
	if (p == end || *p < '0' || *p > '9')
		return sc->p = p, syntax(sc, "invalid number");
	limit = neg ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX;
	if (*p == '0')
		p++;
	else {
		while (p < end && *p >= '0' && *p <= '9') {
			unsigned d = *p++ - '0';
			if (v > (limit - d) / 10)
				overflow = 1;
			else
				v = v * 10 + d;
		}
	}
	if (p < end && *p == '.') {
		real = 1;
		if (++p == end || *p < '0' || *p > '9')
			return sc->p = p, syntax(sc, "invalid number");
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		real = 1;
		if (++p < end && (*p == '+' || *p == '-'))
			p++;
		if (p == end || *p < '0' || *p > '9')
			return sc->p = p, syntax(sc, "invalid number");
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (n->kind != N_INT)
		return refuse(sc, "must be %s", type_name(n));
	if (real)
		return refuse(sc, "must be %s", type_name(n));
	{
		long long x = neg ? (v == (unsigned long long)LLONG_MAX + 1 ?
		    LLONG_MIN : -(long long)v) : (long long)v;
		if (overflow || x < n->min || x > n->max) {
			snprintf(lim, sizeof lim, "%lld to %lld", n->min,
			    n->max);
			return refuse(sc, "must be from %s", lim);
		}
	}
	sc->p = p;
	return CV_OK;
}

static cv_err
literal(struct scan *sc, const struct node *n)
{
	static const char *const lits[] = { "true", "false", "null" };

	for (int i = 0; i < 3; i++) {
		size_t len = strlen(lits[i]);
		if ((size_t)(sc->end - sc->p) >= len &&
		    memcmp(sc->p, lits[i], len) == 0) {
			if (i == 2 || n->kind != N_BOOL)
				return refuse(sc, "must be %s", type_name(n));
			sc->p += len;
			return CV_OK;
		}
	}
	return syntax(sc, "invalid literal");
}

static cv_err
value(struct scan *sc, const struct node *n, int cap)
{
	const unsigned char *start = sc->p;
	int rc;
	cv_err r;

	if (sc->p == sc->end)
		return syntax(sc, "value expected");
	switch (*sc->p) {
	case '{':
		if (n->kind != N_OBJ)
			return refuse(sc, "must be %s", type_name(n));
		r = object(sc, n);
		break;
	case '[':
		if (n->kind != N_ARR)
			return refuse(sc, "must be %s", type_name(n));
		r = array(sc, n);
		break;
	case '"':
		if (n->kind != N_STR)
			return refuse(sc, "must be %s", type_name(n));
		rc = string(sc, sc->buf, (size_t)n->max, &sc->blen, &sc->cps);
		if (sc->blen + 1 > sc->hw)
			sc->hw = sc->blen + 1;
		if (rc < 0)
			return CV_ERR_INVALID;
		if (rc > 0 || sc->cps < (size_t)n->min)
			return length_error(sc, n);
		if ((r = check_format(sc, n)) == CV_OK)
			capture(sc, cap);
		break;
	case 't': case 'f': case 'n':
		r = literal(sc, n);
		break;
	default:
		if (*sc->p == '-' || (*sc->p >= '0' && *sc->p <= '9'))
			r = number(sc, n);
		else
			r = syntax(sc, "value expected");
	}
	if (r == CV_OK && cap >= CAP_SECTION) {
		sc->f->section[cap - CAP_SECTION].off =
		    (size_t)(start - sc->s);
		sc->f->section[cap - CAP_SECTION].len =
		    (size_t)(sc->p - start);
	}
	return r;
}

cv_err
cv_record_scan(const char *text, size_t len, struct cv_record_fields *out,
    struct cv_record_error *e)
{
	/* Per thread and reused: the decode buffer is too big for a worker's
	 * stack and a malloc per record shows in the profile. */
	static _Thread_local struct scan work;
	struct scan *sc = &work;
	cv_err r;

	memset(out, 0, sizeof *out);
	memset(e, 0, sizeof *e);
	if (len > CV_RECORD_MAX_BYTES) {
		snprintf(e->path, sizeof e->path, "(record)");
		snprintf(e->reason, sizeof e->reason, "longer than %d bytes",
		    CV_RECORD_MAX_BYTES);
		return CV_ERR_INVALID;
	}
	sc->s = sc->p = (const unsigned char *)text;
	sc->end = sc->s + len;
	sc->f = out;
	sc->e = e;
	sc->depth = sc->hw = 0;
	ws(sc);
	if ((r = value(sc, &cv_schema_record, CAP_NONE)) == CV_OK) {
		ws(sc);
		if (sc->p != sc->end)
			r = syntax(sc, "end of data expected");
	}
	sodium_memzero(sc->buf, sc->hw);
	if (r != CV_OK)
		memset(out, 0, sizeof *out);
	return r;
}
