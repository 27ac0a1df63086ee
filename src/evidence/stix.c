/*
 * The STIX 2.1 pieces of an evidence file: identifiers, timestamps and
 * the rules `evidence verify` checks a bundle against (the subset of the
 * specification's MUSTs that concerns the objects we write and any a
 * partner would expect in their place).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <nettle/sha1.h>
#include <sodium.h>

#include "evidence_internal.h"

/* RFC 4122 text form of 16 bytes, with version V set. */
static void
uuid_text(uint8_t u[16], int v, char out[37])
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	u[6] = (uint8_t)((u[6] & 0x0f) | (v << 4));
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[u[i] >> 4];
		out[o++] = hex[u[i] & 15];
	}
	out[o] = '\0';
}

void
stix_id_random(const char *type, char *out, size_t size)
{
	uint8_t u[16];
	char t[37];

	randombytes_buf(u, sizeof u);
	uuid_text(u, 4, t);
	snprintf(out, size, "%s--%s", type, t);
}

void
stix_id_sco(const char *type, const char *canon, char *out, size_t size)
{
	/* STIX 2.1 section 2.9: UUIDv5 in the SCO namespace over the
	 * canonical JSON of the contributing properties. */
	static const uint8_t ns[16] = { 0x00, 0xab, 0xed, 0xb4, 0xaa, 0x42,
	    0x46, 0x6c, 0x9c, 0x01, 0xfe, 0xd2, 0x33, 0x15, 0xa9, 0xb7 };
	struct sha1_ctx c;
	uint8_t d[SHA1_DIGEST_SIZE];
	char t[37];

	sha1_init(&c);
	sha1_update(&c, sizeof ns, ns);
	sha1_update(&c, strlen(canon), (const uint8_t *)canon);
	sha1_digest(&c, sizeof d, d);
	uuid_text(d, 5, t);
	snprintf(out, size, "%s--%s", type, t);
}

void
stix_time(int64_t us, char *out, size_t size)
{
	time_t s = (time_t)(us / 1000000);
	struct tm tm;

	gmtime_r(&s, &tm);
	snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)(us % 1000000 / 1000));
}

/* "YYYY-MM-DDTHH:MM:SS[.s+]Z", a real date and time; seconds since 1970
 * (fraction dropped) in *T. */
static int
parse_time(const char *s, int64_t *t)
{
	struct tm tm = { 0 };
	int y, mo, d, h, mi, se, n = 0;
	size_t i;

	/* Digits exactly where they belong: sscanf alone takes signs. */
	if (s == NULL || strlen(s) < 20)
		return 0;
	for (i = 0; i < 19; i++) {
		int digit = s[i] >= '0' && s[i] <= '9';
		if ((i == 4 || i == 7) ? s[i] != '-' : i == 10 ? s[i] != 'T' :
		    (i == 13 || i == 16) ? s[i] != ':' : !digit)
			return 0;
	}
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &se,
	    &n) != 6 || n != 19)
		return 0;
	i = 19;
	if (s[i] == '.') {
		i++;
		if (s[i] < '0' || s[i] > '9')
			return 0;
		while (s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (s[i] != 'Z' || s[i + 1] != '\0' || mo < 1 || mo > 12 || d < 1 ||
	    d > 31 || h > 23 || mi > 59 || se > 60)
		return 0;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	*t = (int64_t)timegm(&tm);
	/* timegm normalises 31 February: a different day is no date. */
	{
		time_t back = (time_t)*t;
		struct tm chk;
		gmtime_r(&back, &chk);
		if (chk.tm_mday != d && !(se == 60 && chk.tm_mday == d + 1))
			return 0;
	}
	return 1;
}

/* TYPE--uuid with TYPE as given (lower-case hex UUID). */
static int
valid_id(const char *id, const char *type)
{
	size_t tl = strlen(type);
	const char *u;

	if (id == NULL || strncmp(id, type, tl) != 0 || strncmp(id + tl, "--",
	    2) != 0)
		return 0;
	u = id + tl + 2;
	if (strlen(u) != 36)
		return 0;
	for (int i = 0; i < 36; i++) {
		int dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? u[i] != '-' : !strchr("0123456789abcdef", u[i]) ||
		    u[i] == '\0')
			return 0;
	}
	return 1;
}

static int
valid_type(const char *t)
{
	size_t n = t ? strlen(t) : 0;

	return n >= 3 && n <= 250 && strspn(t, "abcdefghijklmnopqrstuvwxyz"
	    "0123456789-") == n && t[0] != '-' && t[n - 1] != '-';
}

static const char *
str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

#define FAIL(...) do { snprintf(what, size, __VA_ARGS__); \
	return CV_ERR_INVALID; } while (0)

/* The object with id ID, from the bundle's index (id -> object). */
static json_t *
find(json_t *index, const char *id)
{
	return id ? json_object_get(index, id) : NULL;
}

static const char *const sdos[] = { "attack-pattern", "campaign",
	"course-of-action", "grouping", "identity", "incident", "indicator",
	"infrastructure", "intrusion-set", "location", "malware",
	"malware-analysis", "note", "observed-data", "opinion", "report",
	"threat-actor", "tool", "vulnerability", "relationship", "sighting",
	NULL };

static int
is_sdo(const char *t)
{
	for (int i = 0; sdos[i]; i++) {
		if (!strcmp(t, sdos[i]))
			return 1;
	}
	return 0;
}

/* The rules for one object O (number I); OBJS is the id index. */
static cv_err
check_object(json_t *objs, size_t i, json_t *o, char *what, size_t size)
{
	const char *type = str(o, "type"), *id = str(o, "id");
	int64_t c, m, a, b;

	if (!json_is_object(o))
		FAIL("object %zu: not an object", i);
	if (!valid_type(type))
		FAIL("object %zu: type missing or malformed", i);
	if (!valid_id(id, type))
		FAIL("object %zu (%s): id is not %s--<UUID>", i, type, type);
	if (str(o, "spec_version") == NULL || strcmp(str(o, "spec_version"),
	    "2.1") != 0)
		FAIL("%s: spec_version must be \"2.1\"", id);
	if (is_sdo(type)) {
		if (!parse_time(str(o, "created"), &c) ||
		    !parse_time(str(o, "modified"), &m))
			FAIL("%s: created and modified must be RFC 3339 UTC "
			    "timestamps", id);
		if (m < c)
			FAIL("%s: modified is before created", id);
		if (json_object_get(o, "created_by_ref")) {
			json_t *by = find(objs, str(o, "created_by_ref"));
			if (by == NULL || str(by, "type") == NULL ||
			    strcmp(str(by, "type"), "identity"))
				FAIL("%s: created_by_ref names no identity in "
				    "the bundle", id);
		}
	}
	if (!strcmp(type, "identity") || !strcmp(type, "incident")) {
		if (str(o, "name") == NULL || !*str(o, "name"))
			FAIL("%s: name is required", id);
	} else if (!strcmp(type, "indicator")) {
		if (str(o, "pattern") == NULL || str(o, "pattern_type") == NULL ||
		    !parse_time(str(o, "valid_from"), &a))
			FAIL("%s: pattern, pattern_type and valid_from are "
			    "required", id);
		if (json_object_get(o, "valid_until") &&
		    (!parse_time(str(o, "valid_until"), &b) || b <= a))
			FAIL("%s: valid_until must be after valid_from", id);
	} else if (!strcmp(type, "observed-data")) {
		json_t *refs = json_object_get(o, "object_refs"), *r;
		json_int_t n = json_integer_value(json_object_get(o,
		    "number_observed"));
		size_t k;
		if (!parse_time(str(o, "first_observed"), &a) ||
		    !parse_time(str(o, "last_observed"), &b) || b < a)
			FAIL("%s: first_observed and last_observed are required"
			    ", last not before first", id);
		if (!json_is_integer(json_object_get(o, "number_observed")) ||
		    n < 1 || n > 999999999)
			FAIL("%s: number_observed must be 1 to 999,999,999", id);
		if (!json_is_array(refs) || json_array_size(refs) == 0)
			FAIL("%s: object_refs is required", id);
		json_array_foreach(refs, k, r) {
			if (find(objs, json_string_value(r)) == NULL)
				FAIL("%s: object_refs[%zu] is not in the "
				    "bundle", id, k);
		}
	} else if (!strcmp(type, "relationship")) {
		if (str(o, "relationship_type") == NULL)
			FAIL("%s: relationship_type is required", id);
		if (find(objs, str(o, "source_ref")) == NULL ||
		    find(objs, str(o, "target_ref")) == NULL)
			FAIL("%s: source_ref and target_ref must name objects "
			    "in the bundle", id);
	} else if (!strcmp(type, "ipv4-addr") || !strcmp(type, "ipv6-addr")) {
		if (str(o, "value") == NULL)
			FAIL("%s: value is required", id);
	} else if (!strcmp(type, "x509-certificate")) {
		if (!json_is_object(json_object_get(o, "hashes")))
			FAIL("%s: hashes is required here", id);
	} else if (!strcmp(type, "user-account")) {
		if (str(o, "user_id") == NULL)
			FAIL("%s: user_id is required here", id);
	}
	return CV_OK;
}

cv_err
cv_evidence_check_stix(json_t *b, char *what, size_t size)
{
	json_t *objs = json_object_get(b, "objects"), *o, *index;
	size_t i;
	cv_err r = CV_OK;

	if (!json_is_object(b) || str(b, "type") == NULL ||
	    strcmp(str(b, "type"), "bundle") != 0)
		FAIL("not a STIX bundle (type must be \"bundle\")");
	if (!valid_id(str(b, "id"), "bundle"))
		FAIL("bundle: id is not bundle--<UUID>");
	if (!json_is_array(objs) || json_array_size(objs) == 0)
		FAIL("bundle: objects must be a non-empty list");
	/* An index first: references are looked up, not searched for, so
	 * a hostile bundle cannot make this quadratic. */
	if ((index = json_object()) == NULL)
		FAIL("out of memory");
	json_array_foreach(objs, i, o) {
		const char *id = str(o, "id");
		if (id == NULL)
			continue;	/* check_object names it */
		if (json_object_get(index, id)) {
			snprintf(what, size, "%s: the id is used twice", id);
			r = CV_ERR_INVALID;
			goto out;
		}
		if (json_object_set(index, id, o) != 0) {
			snprintf(what, size, "out of memory");
			r = CV_ERR_NOMEM;
			goto out;
		}
	}
	json_array_foreach(objs, i, o) {
		if ((r = check_object(index, i, o, what, size)) != CV_OK)
			break;
	}
 out:
	json_decref(index);
	return r;
}
