/*
 * evidence verify: everything in an evidence file checked with public
 * material only. The file is outside input: every field is checked for
 * presence, type and bounds before it is used.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "evidence_internal.h"

#define BAD(code, ...) do { snprintf(rep->what, sizeof rep->what, \
	__VA_ARGS__); r = (code); goto out; } while (0)

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static enum cv_scope_kind
kind_of(const char *s)
{
	for (int k = CV_SCOPE_PRINCIPAL; k <= CV_SCOPE_ADDRESS; k++) {
		if (s && !strcmp(s, cv_scope_kind_name((enum cv_scope_kind)k)))
			return (enum cv_scope_kind)k;
	}
	return 0;
}

/* One entry: its leaf names the subject and its proof reaches ROOT. */
/* VALUE (LEN bytes) into SET, as the export would have put it there. */
static void
gather(json_t *set, const struct cv_audit_str *v, int ip)
{
	char t[256];
	uint8_t bin[16];

	if (v->len == 0 || v->len >= sizeof t)
		return;
	memcpy(t, v->p, v->len);
	t[v->len] = '\0';
	if (ip && inet_pton(AF_INET, t, bin) != 1 &&
	    inet_pton(AF_INET6, t, bin) != 1)
		return;
	json_object_set_new(set, t, json_true());
}

static cv_err
check_entry(json_t *e, size_t i, uint64_t size, const uint8_t *root,
    enum cv_scope_kind kind, const char *subject, uint64_t *index,
    json_t *seen[3], struct cv_evidence_report *rep)
{
	struct cv_audit_view view;
	json_t *proof = json_object_get(e, "proof"), *h;
	const char *lb = json_string_value(json_object_get(e, "leaf"));
	uint8_t (*hash)[CV_HASH_BYTES] = NULL, lh[CV_HASH_BYTES];
	uint8_t *leaf = NULL;
	size_t len = 0, k;
	json_int_t ix = json_integer_value(json_object_get(e, "index"));
	struct cv_audit_str s;
	cv_err r = CV_OK;

	if (!json_is_object(e) || !json_is_integer(json_object_get(e,
	    "index")) || ix < 0 || (uint64_t)ix >= size || lb == NULL ||
	    !json_is_array(proof) || json_array_size(proof) >
	    CV_MERKLE_MAX_PROOF)
		BAD(CV_ERR_INVALID, "entries[%zu]: index (below the "
		    "checkpoint's size), leaf and proof are required", i);
	*index = (uint64_t)ix;
	if (strlen(lb) > 4 * (CV_AUDIT_MAX_LEAF / 3 + 2) ||
	    (leaf = malloc(strlen(lb) / 4 * 3 + 3)) == NULL)
		BAD(CV_ERR_INVALID, "entries[%zu]: leaf too large", i);
	if (sodium_base642bin(leaf, strlen(lb) / 4 * 3 + 3, lb, strlen(lb),
	    NULL, &len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
		BAD(CV_ERR_INVALID, "entries[%zu]: leaf is not base64", i);
	if ((hash = calloc(json_array_size(proof) + 1, sizeof *hash)) == NULL)
		BAD(CV_ERR_NOMEM, "out of memory");
	json_array_foreach(proof, k, h) {
		const char *t = json_string_value(h);
		size_t n = 0;
		if (t == NULL || sodium_base642bin(hash[k], CV_HASH_BYTES, t,
		    strlen(t), NULL, &n, NULL,
		    sodium_base64_VARIANT_ORIGINAL) != 0 || n != CV_HASH_BYTES)
			BAD(CV_ERR_INVALID, "entries[%zu]: proof[%zu] is not "
			    "a base64 SHA-256 hash", i, k);
	}
	cv_merkle_leaf_hash(leaf, len, lh);
	if (cv_merkle_verify_inclusion(*index, size, lh,
	    (const uint8_t (*)[CV_HASH_BYTES])hash, json_array_size(proof),
	    root) != CV_OK)
		BAD(CV_ERR_AUTH, "entry %llu: its proof does not lead to the "
		    "checkpoint's root (edited, or not in the log)",
		    (unsigned long long)*index);
	if (cv_audit_view_field(leaf, len, evidence_field(kind), &s) !=
	    CV_OK)
		BAD(CV_ERR_INVALID, "entry %llu: not an audit entry",
		    (unsigned long long)*index);
	if (s.len != strlen(subject) || memcmp(s.p, subject, s.len) != 0)
		BAD(CV_ERR_AUTH, "entry %llu does not name the subject",
		    (unsigned long long)*index);
	if (cv_audit_view(leaf, len, &view) != CV_OK)
		BAD(CV_ERR_INVALID, "entry %llu: not an audit entry",
		    (unsigned long long)*index);
	gather(seen[0], &view.f[CV_AUDIT_ACTOR], 0);
	gather(seen[1], &view.f[CV_AUDIT_CERT], 0);
	gather(seen[2], &view.f[CV_AUDIT_SOURCE], 1);
 out:
	free(leaf);
	free(hash);
	return r;
}

/* The patterns export writes for the values of SEEN: users, certificates,
 * addresses. */
static int
known_pattern(const char *p, json_t *seen[3])
{
	const char *v;
	json_t *x;
	char want[400];

	json_object_foreach(seen[0], v, x) {
		snprintf(want, sizeof want, "[user-account:user_id = '%s']", v);
		if (!strcmp(p, want))
			return 1;
	}
	json_object_foreach(seen[1], v, x) {
		snprintf(want, sizeof want, "[x509-certificate:hashes."
		    "'SHA-256' = '%s']", v);
		if (!strcmp(p, want))
			return 1;
	}
	json_object_foreach(seen[2], v, x) {
		snprintf(want, sizeof want, "[%s:value = '%s']", strchr(v, ':') ?
		    "ipv6-addr" : "ipv4-addr", v);
		if (!strcmp(p, want))
			return 1;
	}
	return 0;
}

/* One object's claims against the proved entries. */
static cv_err
claim(json_t *o, const char *incident, json_t *seen[3],
    struct cv_evidence_report *rep)
{
	const char *t = json_string_value(json_object_get(o, "type"));
	const char *id = json_string_value(json_object_get(o, "id"));
	const char *v;
	cv_err r = CV_OK;

	if (!strcmp(t, "identity") || !strcmp(t, "relationship") ||
	    !strcmp(t, "observed-data"))
		return CV_OK;	/* their references were checked */
	if (!strcmp(t, "incident")) {
		v = json_string_value(json_object_get(o, "name"));
		if (v == NULL || strcmp(v, incident) != 0)
			BAD(CV_ERR_AUTH, "%s: not the file's incident", id);
	} else if (!strcmp(t, "user-account")) {
		v = json_string_value(json_object_get(o, "user_id"));
		if (v == NULL || !json_object_get(seen[0], v))
			BAD(CV_ERR_AUTH, "%s: no proved entry names that user",
			    id);
	} else if (!strcmp(t, "x509-certificate")) {
		v = json_string_value(json_object_get(json_object_get(o,
		    "hashes"), "SHA-256"));
		if (v == NULL || !json_object_get(seen[1], v))
			BAD(CV_ERR_AUTH, "%s: no proved entry names that "
			    "certificate", id);
	} else if (!strcmp(t, "ipv4-addr") || !strcmp(t, "ipv6-addr")) {
		v = json_string_value(json_object_get(o, "value"));
		if (v == NULL || !json_object_get(seen[2], v))
			BAD(CV_ERR_AUTH, "%s: no proved entry names that "
			    "address", id);
	} else if (!strcmp(t, "indicator")) {
		v = json_string_value(json_object_get(o, "pattern"));
		if (v == NULL || !known_pattern(v, seen))
			BAD(CV_ERR_AUTH, "%s: its pattern follows from no "
			    "proved entry", id);
	} else
		BAD(CV_ERR_AUTH, "%s: evidence export makes no %s objects", id,
		    t);
 out:
	return r;
}

cv_err
cv_evidence_verify(const char *text, size_t len, const char *vkey,
    struct cv_evidence_report *rep)
{
	json_t *j = NULL, *log, *ents, *objs, *o;
	json_error_t je;
	const char *note, *fvkey, *subject;
	char name[CV_NOTE_NAME_MAX + 1];
	uint8_t pk[CV_ED25519_PK];
	struct cv_checkpoint c;
	enum cv_scope_kind kind;
	uint64_t *idx = NULL;
	size_t n, i, tl;
	json_t *seen[3] = { json_object(), json_object(), json_object() };
	cv_err r = CV_OK;

	memset(rep, 0, sizeof *rep);
	if (!seen[0] || !seen[1] || !seen[2])
		BAD(CV_ERR_NOMEM, "out of memory");
	if (len > CV_EVIDENCE_MAX_BYTES)
		BAD(CV_ERR_INVALID, "the file is larger than %u bytes",
		    CV_EVIDENCE_MAX_BYTES);
	if ((j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je)) == NULL)
		BAD(CV_ERR_INVALID, "not JSON: %s (line %d)", je.text, je.line);
	if (json_integer_value(json_object_get(j, "clearvault_evidence")) != 1)
		BAD(CV_ERR_INVALID, "not a clearvault evidence file (version "
		    "1)");
	log = json_object_get(j, "log");
	ents = json_object_get(j, "entries");
	note = json_string_value(json_object_get(log, "checkpoint"));
	fvkey = json_string_value(json_object_get(log, "vkey"));
	subject = json_string_value(json_object_get(json_object_get(j,
	    "subject"), "value"));
	kind = kind_of(json_string_value(json_object_get(json_object_get(j,
	    "subject"), "kind")));
	if (note == NULL || fvkey == NULL || !json_is_array(ents) ||
	    json_array_size(ents) == 0 || json_array_size(ents) >
	    CV_EVIDENCE_MAX_ENTRIES || subject == NULL || *subject == '\0' ||
	    kind == 0 || json_string_value(json_object_get(j, "incident")) ==
	    NULL)
		BAD(CV_ERR_INVALID, "incident, subject, log (vkey, checkpoint) "
		    "and entries are required");
	/* The partner's own copy of the key is what counts. */
	if (strcmp(fvkey, vkey) != 0)
		BAD(CV_ERR_AUTH, "the file names another log key than the one "
		    "given");
	if (cv_note_vkey_parse(vkey, name, pk) != CV_OK)
		BAD(CV_ERR_INVALID, "the given key is not a verifier key "
		    "(name+keyid+base64)");
	if (cv_note_verify(note, strlen(note), name, pk, &tl) != CV_OK)
		BAD(CV_ERR_AUTH, "the checkpoint is not signed by that key: %s",
		    cv_err_detail());
	if (cv_checkpoint_parse(note, tl, &c) != CV_OK)
		BAD(CV_ERR_INVALID, "the checkpoint body is malformed");
	if (json_integer_value(json_object_get(log, "size")) !=
	    (json_int_t)c.size)
		BAD(CV_ERR_INVALID, "log size and checkpoint size differ");
	rep->size = c.size;
	n = json_array_size(ents);
	if ((idx = calloc(n, sizeof *idx)) == NULL)
		BAD(CV_ERR_NOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		if ((r = check_entry(json_array_get(ents, i), i, c.size, c.root,
		    kind, subject, &idx[i], seen, rep)) != CV_OK)
			goto out;
		if (i > 0 && idx[i] <= idx[i - 1])
			BAD(CV_ERR_INVALID, "entries must be in index order, "
			    "each once");
	}
	rep->entries = n;
	if (cv_evidence_check_stix(json_object_get(j, "bundle"), rep->what,
	    sizeof rep->what) != CV_OK) {
		r = CV_ERR_INVALID;
		goto out;
	}
	objs = json_object_get(json_object_get(j, "bundle"), "objects");
	rep->objects = json_array_size(objs);
	/* The bundle is not signed: every claim in it must follow from the
	 * proved entries, or a third party could have written it. */
	json_array_foreach(objs, i, o) {
		if ((r = claim(o, json_string_value(json_object_get(j,
		    "incident")), seen, rep)) != CV_OK)
			goto out;
	}
	/* What the bundle says it observed is in the file, proved. */
	json_array_foreach(objs, i, o) {
		json_t *ai = json_object_get(o, "x_clearvault_audit_indices"), *x;
		size_t k;
		json_array_foreach(ai, k, x) {
			uint64_t v = (uint64_t)json_integer_value(x);
			if (!json_is_integer(x) || json_integer_value(x) < 0 ||
			    bsearch(&v, idx, n, sizeof *idx, cmp_u64) == NULL)
				BAD(CV_ERR_AUTH, "the bundle cites audit entry "
				    "%llu, which the file does not prove",
				    (unsigned long long)v);
		}
	}
 out:
	free(idx);
	json_decref(j);
	for (i = 0; i < 3; i++)
		json_decref(seen[i]);
	return r;
}
