/*
 * Leaf format 1, the bytes that are hashed. Big-endian integers; strings
 * are u16 length || UTF-8 bytes (no NUL).
 *
 *   u8 version=1 | u64 time_us | u8 outcome | u16 sections
 *   | str action | str actor | str cert | str source | str session
 *   | str purpose | str reason | u32 nrecords | nrecords × str record
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"

#define NSTR 7
/* The latest time cv_audit_decode can print (9999-12-31T23:59:59Z). */
#define MAX_TIME_US 253402300799999999LL

static const char *const str_names[NSTR] = { "action", "actor", "cert",
	"source", "session", "purpose", "reason" };

static cv_err
put_str(struct cv_buf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	uint8_t len[2];
	cv_err r;

	if (n > 65535)
		return cv_fail(CV_ERR_INVALID, "audit field too long");
	cv_put_u16be(len, (uint16_t)n);
	if ((r = cv_buf_add(b, len, 2)) != CV_OK)
		return r;
	return cv_buf_add(b, s, n);
}

cv_err
cv_audit_encode(const struct cv_audit_entry *e, struct cv_buf *out)
{
	const char *strs[NSTR] = { e->action, e->actor, e->cert, e->source,
		e->session, e->purpose, e->reason };
	uint8_t head[1 + 8 + 1 + 2], n[4];
	size_t start = out->len;
	int64_t t = e->time_us ? e->time_us : cv_time_us();
	cv_err r = CV_OK;

	/* Only what cv_audit_view accepts is written: a frame it refused
	 * would end the log at the next open (repair.c). */
	if (e->outcome < CV_AUDIT_ALLOWED || e->outcome > CV_AUDIT_ERROR ||
	    t < 0 || (uint64_t)t > MAX_TIME_US ||
	    e->sections >> CV_RECORD_NSECTIONS)
		return cv_fail(CV_ERR_INVALID, "audit entry: bad outcome, "
		    "time or sections");
	head[0] = CV_AUDIT_LEAF_VERSION;
	cv_put_u32be(head + 1, (uint32_t)((uint64_t)t >> 32));
	cv_put_u32be(head + 5, (uint32_t)t);
	head[9] = (uint8_t)e->outcome;
	cv_put_u16be(head + 10, (uint16_t)e->sections);
	if ((r = cv_buf_add(out, head, sizeof head)) != CV_OK)
		goto out;
	for (int i = 0; i < NSTR; i++) {
		if ((r = put_str(out, strs[i])) != CV_OK)
			goto out;
	}
	cv_put_u32be(n, (uint32_t)e->nrecords);
	if ((r = cv_buf_add(out, n, 4)) != CV_OK)
		goto out;
	for (size_t i = 0; i < e->nrecords; i++) {
		if ((r = put_str(out, e->records[i])) != CV_OK)
			goto out;
	}
	if (out->len - start > CV_AUDIT_MAX_LEAF)
		r = cv_fail(CV_ERR_INVALID, "audit entry too large");
 out:
	if (r != CV_OK)
		out->len = start;
	return r;
}

static const char *
outcome_name(unsigned o)
{
	switch (o) {
	case CV_AUDIT_ALLOWED: return "allowed";
	case CV_AUDIT_DENIED: return "denied";
	case CV_AUDIT_ERROR: return "error";
	}
	return NULL;
}

/* The length of the valid UTF-8 sequence at P (N > 0 bytes), as jansson
 * accepts it (no overlong forms, surrogates or values past U+10FFFF), or
 * 0 when it is not one. */
static size_t
utf8_len(const uint8_t *p, size_t n)
{
	uint32_t c;
	size_t k;

	if (p[0] < 0x80)
		return 1;
	k = p[0] < 0xC2 ? 0 : p[0] < 0xE0 ? 2 : p[0] < 0xF0 ? 3 :
	    p[0] < 0xF5 ? 4 : 0;
	if (k == 0 || n < k)
		return 0;
	c = p[0] & (0x7Fu >> k);
	for (size_t i = 1; i < k; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3Fu);
	}
	if ((k == 3 && (c < 0x800 || (c >= 0xD800 && c <= 0xDFFF))) ||
	    (k == 4 && (c < 0x10000 || c > 0x10FFFF)))
		return 0;
	return k;
}

/*
 * S (N bytes, no NUL) as a JSON string. A byte that is not part of valid
 * UTF-8 (an OS path that was not, say, logged in a reason) shows as
 * U+FFFD: every entry the log holds can be shown, and the leaf keeps the
 * exact bytes. NULL only without memory.
 */
static json_t *
json_text(const char *s, size_t n)
{
	const uint8_t *p = (const uint8_t *)s;
	json_t *j;
	char *t;
	size_t o = 0;

	if ((j = json_stringn(s, n)) != NULL)
		return j;
	if ((t = malloc(3 * n + 1)) == NULL)
		return NULL;
	for (size_t i = 0, k; i < n; i += k) {
		if ((k = utf8_len(p + i, n - i)) == 0) {
			memcpy(t + o, "\xEF\xBF\xBD", 3);
			o += 3;
			k = 1;
		} else {
			memcpy(t + o, p + i, k);
			o += k;
		}
	}
	j = json_stringn(t, o);
	free(t);
	return j;
}

/* Reads a length-prefixed string at *off; 0 when it does not fit. */
static int
get_str(const uint8_t *p, size_t len, size_t *off, const char **s, size_t *n)
{
	if (len - *off < 2)
		return 0;
	*n = cv_get_u16be(p + *off);
	*off += 2;
	if (len - *off < *n || memchr(p + *off, 0, *n) != NULL)
		return 0;
	*s = (const char *)p + *off;
	*off += *n;
	return 1;
}

cv_err
cv_audit_decode(const uint8_t *p, size_t len, json_t **out)
{
	json_t *o = NULL, *recs = NULL, *secs = NULL, *v;
	size_t off = 12, n, i;
	const char *s;
	uint64_t t;
	uint32_t nrec;
	char when[40];
	time_t sec;
	struct tm tm;
	const char *oc;

	*out = NULL;
	if (len < 12 || p[0] != CV_AUDIT_LEAF_VERSION)
		return cv_fail(CV_ERR_FORMAT, "audit entry: unknown format");
	if (len > CV_AUDIT_MAX_LEAF)
		return cv_fail(CV_ERR_FORMAT, "audit entry: too large");
	t = (uint64_t)cv_get_u32be(p + 1) << 32 | cv_get_u32be(p + 5);
	if ((oc = outcome_name(p[9])) == NULL)
		return cv_fail(CV_ERR_FORMAT, "audit entry: bad outcome");
	sec = (time_t)(t / 1000000);
	if (gmtime_r(&sec, &tm) == NULL || t > (uint64_t)MAX_TIME_US)
		return cv_fail(CV_ERR_FORMAT, "audit entry: bad time");
	snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (unsigned)(t % 1000000));
	if ((o = json_object()) == NULL || (secs = json_array()) == NULL ||
	    (recs = json_array()) == NULL)
		goto nomem;
	/* Every set is checked: an entry short of a field (no memory)
	 * would be printed as if the log held it so. */
	if (json_object_set_new(o, "time", json_string(when)) != 0 ||
	    json_object_set_new(o, "outcome", json_string(oc)) != 0)
		goto nomem;
	for (i = 0; i < CV_RECORD_NSECTIONS; i++) {
		if ((cv_get_u16be(p + 10) & (1u << i)) &&
		    json_array_append_new(secs,
		    json_string(cv_record_sections[i])) != 0)
			goto nomem;
	}
	if (cv_get_u16be(p + 10) >> CV_RECORD_NSECTIONS)
		goto bad;
	for (i = 0; i < NSTR; i++) {
		if (!get_str(p, len, &off, &s, &n))
			goto bad;
		if ((v = json_text(s, n)) == NULL ||
		    json_object_set_new(o, str_names[i], v) != 0)
			goto nomem;
	}
	if (len - off < 4)
		goto bad;
	nrec = cv_get_u32be(p + off);
	off += 4;
	for (i = 0; i < nrec; i++) {
		if (!get_str(p, len, &off, &s, &n))
			goto bad;
		if ((v = json_text(s, n)) == NULL ||
		    json_array_append_new(recs, v) != 0)
			goto nomem;
	}
	if (off != len)
		goto bad;
	/* set_new takes the reference, set or not. */
	v = recs;
	recs = NULL;
	if (json_object_set_new(o, "records", v) != 0)
		goto nomem;
	v = secs;
	secs = NULL;
	if (json_object_set_new(o, "sections", v) != 0)
		goto nomem;
	*out = o;
	return CV_OK;
 bad:
	json_decref(o);
	json_decref(recs);
	json_decref(secs);
	return cv_fail(CV_ERR_FORMAT, "audit entry: malformed");
 nomem:
	json_decref(o);
	json_decref(recs);
	json_decref(secs);
	return cv_fail(CV_ERR_NOMEM, "out of memory");
}
