/*
 * The zero-copy leaf view: never reads outside the leaf, agrees with
 * cv_audit_decode (a leaf views exactly when it decodes, to the same
 * strings where they are UTF-8 and to U+FFFD where they are not), and its
 * field peek agrees with the full view.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[CV_AUDIT_NFIELDS] = { "action", "actor",
	"cert", "source", "session", "purpose", "reason" };

static void
inside(const uint8_t *leaf, size_t len, const void *p, size_t n)
{
	const uint8_t *q = p;

	if (q < leaf || q > leaf + len || n > (size_t)(leaf + len - q))
		abort();
}

/* X shows S: the same bytes if they are UTF-8, else with U+FFFD. */
static void
same_text(json_t *x, const struct cv_audit_str *s)
{
	json_t *t = json_stringn(s->p, s->len);

	if (!json_is_string(x))
		abort();
	if (t == NULL) {
		if (strstr(json_string_value(x), "\xEF\xBF\xBD") == NULL)
			abort();
		return;
	}
	if (!json_equal(x, t))
		abort();
	json_decref(t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cv_audit_view v;
	struct cv_audit_str s;
	json_t *j = NULL, *recs;
	size_t pos = 0, k = 0;
	uint8_t *leaf;
	int viewed, decoded;

	/* An exact-size copy: ASan catches a read one byte past the end. */
	if ((leaf = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(leaf, data, size);
	viewed = cv_audit_view(leaf, size, &v) == CV_OK;
	decoded = cv_audit_decode(leaf, size, &j) == CV_OK;
	if (decoded != viewed)
		abort();
	for (int f = 0; f < CV_AUDIT_NFIELDS; f++) {
		if (cv_audit_view_field(leaf, size, (enum cv_audit_field)f,
		    &s) != CV_OK) {
			if (viewed)
				abort();
			continue;
		}
		inside(leaf, size, s.p, s.len);
		if (viewed && (s.p != v.f[f].p || s.len != v.f[f].len))
			abort();
	}
	if (!viewed)
		goto out;
	inside(leaf, size, v.records, v.records_len);
	while (cv_audit_view_record(&v, &pos, &s)) {
		inside(leaf, size, s.p, s.len);
		k++;
	}
	if (k != v.nrecords || pos != v.records_len)
		abort();
	for (int f = 0; f < CV_AUDIT_NFIELDS; f++)
		same_text(json_object_get(j, names[f]), &v.f[f]);
	recs = json_object_get(j, "records");
	pos = 0;
	for (size_t i = 0; cv_audit_view_record(&v, &pos, &s); i++)
		same_text(json_array_get(recs, i), &s);
	if (json_array_size(recs) != v.nrecords ||
	    json_array_size(json_object_get(j, "sections")) !=
	    (size_t)__builtin_popcount(v.sections))
		abort();
 out:
	json_decref(j);
	free(leaf);
	return 0;
}
