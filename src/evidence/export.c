/*
 * evidence export: the entries that name a subject, proved against a
 * fresh checkpoint, and a STIX 2.1 bundle that describes them.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "evidence_internal.h"

#define MAX_VALUES 100	/* distinct certificates, addresses, users kept */

enum cv_audit_field
evidence_field(enum cv_scope_kind k)
{
	switch (k) {
	case CV_SCOPE_CERT: return CV_AUDIT_CERT;
	case CV_SCOPE_SESSION: return CV_AUDIT_SESSION;
	case CV_SCOPE_ADDRESS: return CV_AUDIT_SOURCE;
	default: return CV_AUDIT_ACTOR;
	}
}

/* What the scan gathers. */
struct gather {
	const struct cv_scope_query *q;
	enum cv_audit_field field;
	size_t sublen;
	uint64_t *idx;
	size_t n, cap;
	int64_t first_us, last_us;
	/* distinct users, certificates, addresses seen with the subject */
	json_t *users, *certs, *addrs;
	cv_err err;
};

static void
note_value(json_t *set, const struct cv_audit_str *s)
{
	char v[256];

	if (s->len == 0 || s->len >= sizeof v || json_object_size(set) >=
	    MAX_VALUES)
		return;
	memcpy(v, s->p, s->len);
	v[s->len] = '\0';
	/* Only printable ASCII goes into patterns and names. */
	for (size_t i = 0; i < s->len; i++) {
		if (v[i] < 0x21 || v[i] > 0x7e || v[i] == '\'' || v[i] == '\\')
			return;
	}
	json_object_set_new(set, v, json_true());
}

static cv_err
on_entry(void *ctx, uint64_t index, const uint8_t *leaf, size_t len)
{
	struct gather *g = ctx;
	struct cv_audit_str s;
	struct cv_audit_view v;
	cv_err r;

	if ((r = cv_audit_view_field(leaf, len, g->field, &s)) != CV_OK)
		return r;
	if (s.len != g->sublen || memcmp(s.p, g->q->subject, s.len) != 0)
		return CV_OK;
	if ((r = cv_audit_view(leaf, len, &v)) != CV_OK)
		return r;
	if ((int64_t)v.time_us < g->q->from_us ||
	    (int64_t)v.time_us >= g->q->to_us)
		return CV_OK;
	if (g->n == CV_EVIDENCE_MAX_ENTRIES)
		return cv_fail(CV_ERR_LIMIT, "more than %d entries name the "
		    "subject: narrow the window", CV_EVIDENCE_MAX_ENTRIES);
	if (g->n == g->cap) {
		size_t cap = g->cap ? 2 * g->cap : 256;
		uint64_t *p = realloc(g->idx, cap * sizeof *p);
		if (p == NULL)
			return CV_ERR_NOMEM;
		g->idx = p;
		g->cap = cap;
	}
	g->idx[g->n++] = index;
	if (g->first_us == 0 || (int64_t)v.time_us < g->first_us)
		g->first_us = (int64_t)v.time_us;
	if ((int64_t)v.time_us > g->last_us)
		g->last_us = (int64_t)v.time_us;
	note_value(g->users, &v.f[CV_AUDIT_ACTOR]);
	note_value(g->certs, &v.f[CV_AUDIT_CERT]);
	/* Only addresses are addresses: the CLI logs its source as "cli". */
	{
		const struct cv_audit_str *a = &v.f[CV_AUDIT_SOURCE];
		char ip[64];
		uint8_t bin[16];
		if (a->len < sizeof ip) {
			memcpy(ip, a->p, a->len);
			ip[a->len] = '\0';
			if (inet_pton(AF_INET, ip, bin) == 1 ||
			    inet_pton(AF_INET6, ip, bin) == 1)
				note_value(g->addrs, a);
		}
	}
	return CV_OK;
}

/* A cyber-observable: KEY = VALUE, with its deterministic id. */
static json_t *
sco(const char *type, const char *key, const char *value, char *id,
    size_t idsize)
{
	json_t *props = strcmp(type, "x509-certificate") == 0 ?
	    json_pack("{s:{s:s}}", "hashes", "SHA-256", value) :
	    json_pack("{s:s}", key, value);
	char *canon = props ? json_dumps(props, JSON_COMPACT |
	    JSON_SORT_KEYS) : NULL;
	json_t *o = NULL;

	if (canon) {
		stix_id_sco(type, canon, id, idsize);
		o = json_pack("{s:s, s:s, s:s}", "type", type, "spec_version",
		    "2.1", "id", id);
		if (o && json_object_update(o, props) != 0) {
			json_decref(o);
			o = NULL;
		}
	}
	free(canon);
	json_decref(props);
	return o;
}

/* An SDO's common part: type, id, spec_version, created, modified. */
static json_t *
sdo(const char *type, const char *now, const char *by, char *id,
    size_t idsize)
{
	json_t *o;

	stix_id_random(type, id, idsize);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", type,
	    "spec_version", "2.1", "id", id, "created", now, "modified", now);
	if (o && by)
		json_object_set_new(o, "created_by_ref", json_string(by));
	return o;
}

static int
add(json_t *objs, json_t *o)
{
	return o != NULL && json_array_append_new(objs, o) == 0;
}

static cv_err
relate(json_t *objs, const char *now, const char *by, const char *rel,
    const char *src, const char *dst)
{
	char id[STIX_ID_MAX];
	json_t *o = sdo("relationship", now, by, id, sizeof id);

	if (o == NULL || json_object_set_new(o, "relationship_type",
	    json_string(rel)) || json_object_set_new(o, "source_ref",
	    json_string(src)) || json_object_set_new(o, "target_ref",
	    json_string(dst)) || !add(objs, o))
		return CV_ERR_NOMEM;
	return CV_OK;
}

/* Observables and indicators for each value of SET. */
static cv_err
observe(json_t *objs, json_t *refs, json_t *set, const char *kind,
    const char *now, const char *by, const char *incident_id,
    const char *from)
{
	const char *v;
	json_t *x;

	json_object_foreach(set, v, x) {
		const char *type = !strcmp(kind, "user") ? "user-account" :
		    !strcmp(kind, "cert") ? "x509-certificate" :
		    strchr(v, ':') ? "ipv6-addr" : "ipv4-addr";
		const char *key = !strcmp(kind, "user") ? "user_id" : "value";
		char sid[STIX_ID_MAX], iid[STIX_ID_MAX], pat[400];
		json_t *ind;
		cv_err r;

		if (!add(objs, sco(type, key, v, sid, sizeof sid)) ||
		    json_array_append_new(refs, json_string(sid)))
			return CV_ERR_NOMEM;
		if (!strcmp(kind, "cert"))
			snprintf(pat, sizeof pat, "[x509-certificate:hashes."
			    "'SHA-256' = '%s']", v);
		else if (!strcmp(kind, "user"))
			snprintf(pat, sizeof pat, "[user-account:user_id = "
			    "'%s']", v);
		else
			snprintf(pat, sizeof pat, "[%s:value = '%s']", type, v);
		ind = sdo("indicator", now, by, iid, sizeof iid);
		if (ind == NULL || json_object_update_new(ind, json_pack(
		    "{s:s, s:[s], s:s, s:s, s:s}", "name", v, "indicator_types",
		    "compromised", "pattern", pat, "pattern_type", "stix",
		    "valid_from", from)) != 0 || !add(objs, ind))
			return CV_ERR_NOMEM;
		if ((r = relate(objs, now, by, "indicates", iid,
		    incident_id)) != CV_OK)
			return r;
	}
	return CV_OK;
}

static cv_err
bundle(const char *vault_id, const char *incident, const struct gather *g,
    json_t **out)
{
	char now[40], first[40], last[40], ident[STIX_ID_MAX],
	    inc[STIX_ID_MAX], od[STIX_ID_MAX], bid[STIX_ID_MAX], name[120];
	json_t *objs = json_array(), *refs = json_array(), *idx = json_array();
	json_t *o;
	cv_err r = CV_ERR_NOMEM;

	*out = NULL;
	stix_time(cv_time_us(), now, sizeof now);
	stix_time(g->first_us, first, sizeof first);
	stix_time(g->last_us, last, sizeof last);
	if (objs == NULL || refs == NULL || idx == NULL)
		goto out;
	snprintf(name, sizeof name, "clearvault vault %s", vault_id);
	if (!add(objs, o = sdo("identity", now, NULL, ident, sizeof ident)) ||
	    json_object_update_new(o, json_pack("{s:s, s:s}", "name", name,
	    "identity_class", "organization")))
		goto out;
	if (!add(objs, o = sdo("incident", now, ident, inc, sizeof inc)) ||
	    json_object_update_new(o, json_pack("{s:s, s:s}", "name",
	    incident, "description", "Audit entries of clearvault naming the "
	    "subject; each is in the file with an inclusion proof.")))
		goto out;
	if ((r = observe(objs, refs, g->users, "user", now, ident, inc,
	    first)) != CV_OK ||
	    (r = observe(objs, refs, g->certs, "cert", now, ident, inc,
	    first)) != CV_OK ||
	    (r = observe(objs, refs, g->addrs, "addr", now, ident, inc,
	    first)) != CV_OK)
		goto out;
	r = CV_ERR_NOMEM;
	for (size_t i = 0; i < g->n; i++) {
		if (json_array_append_new(idx, json_integer((json_int_t)
		    g->idx[i])))
			goto out;
	}
	if (json_array_size(refs) == 0) {
		r = cv_fail(CV_ERR_INVALID, "the entries name no user, "
		    "certificate or address to observe");
		goto out;
	}
	if (!add(objs, o = sdo("observed-data", now, ident, od, sizeof od)) ||
	    json_object_update_new(o, json_pack("{s:s, s:s, s:I, s:O, s:O}",
	    "first_observed", first, "last_observed", last,
	    "number_observed", (json_int_t)g->n, "object_refs", refs,
	    "x_clearvault_audit_indices", idx)))
		goto out;
	if ((r = relate(objs, now, ident, "related-to", od, inc)) != CV_OK)
		goto out;
	stix_id_random("bundle", bid, sizeof bid);
	if ((*out = json_pack("{s:s, s:s, s:O}", "type", "bundle", "id", bid,
	    "objects", objs)) == NULL) {
		r = CV_ERR_NOMEM;
		goto out;
	}
	r = CV_OK;
 out:
	json_decref(objs);
	json_decref(refs);
	json_decref(idx);
	return r;
}

/* Each entry with its leaf and its proof against the tree of SIZE. */
static cv_err
entries(struct cv_audit *a, const struct gather *g, uint64_t size,
    json_t *arr)
{
	struct cv_buf leaf = { 0 };
	struct cv_audit_proof p;
	char b64[sodium_base64_ENCODED_LEN(CV_HASH_BYTES,
	    sodium_base64_VARIANT_ORIGINAL)];
	cv_err r = CV_OK;

	for (size_t i = 0; i < g->n && r == CV_OK; i++) {
		json_t *proof = json_array(), *e;
		char *lb = NULL;
		size_t bl;

		leaf.len = 0;
		if (proof == NULL) {
			r = CV_ERR_NOMEM;
			break;
		}
		if ((r = cv_audit_leaf(a, g->idx[i], &leaf)) != CV_OK ||
		    (r = cv_audit_prove(a, g->idx[i], size, &p)) != CV_OK) {
			json_decref(proof);
			break;
		}
		for (size_t k = 0; k < p.n; k++) {
			sodium_bin2base64(b64, sizeof b64, p.hash[k],
			    CV_HASH_BYTES, sodium_base64_VARIANT_ORIGINAL);
			json_array_append_new(proof, json_string(b64));
		}
		bl = sodium_base64_ENCODED_LEN(leaf.len,
		    sodium_base64_VARIANT_ORIGINAL);
		if ((lb = malloc(bl)) == NULL) {
			json_decref(proof);
			r = CV_ERR_NOMEM;
			break;
		}
		sodium_bin2base64(lb, bl, leaf.p, leaf.len,
		    sodium_base64_VARIANT_ORIGINAL);
		e = json_pack("{s:I, s:s, s:o}", "index", (json_int_t)g->idx[i],
		    "leaf", lb, "proof", proof);
		free(lb);
		if (e == NULL || json_array_append_new(arr, e) != 0)
			r = CV_ERR_NOMEM;
	}
	cv_buf_free(&leaf);
	return r;
}

cv_err
cv_evidence_export(struct cv_audit *a, const char *vault_id,
    const char *incident, const struct cv_scope_query *q, json_t **out)
{
	struct gather g = { 0 };
	struct cv_buf note = { 0 };
	struct cv_checkpoint c;
	char vkey[256], from[40], to[40];
	json_t *b = NULL, *arr = NULL;
	cv_err r;

	*out = NULL;
	if (incident == NULL || *incident == '\0' || strlen(incident) > 200 ||
	    q->subject == NULL || *q->subject == '\0' ||
	    q->kind < CV_SCOPE_PRINCIPAL || q->kind > CV_SCOPE_ADDRESS)
		return cv_fail(CV_ERR_INVALID, "evidence: an incident id "
		    "(1-200 bytes) and a subject are required");
	g.q = q;
	g.field = evidence_field(q->kind);
	g.sublen = strlen(q->subject);
	g.users = json_object();
	g.certs = json_object();
	g.addrs = json_object();
	if (g.users == NULL || g.certs == NULL || g.addrs == NULL) {
		r = CV_ERR_NOMEM;
		goto out;
	}
	if ((r = cv_audit_scan(a, q->first, q->last, on_entry, &g, NULL)) !=
	    CV_OK)
		goto out;
	if (g.n == 0) {
		r = cv_fail(CV_ERR_NOT_FOUND, "no audit entry names %s '%.64s' "
		    "in that window", cv_scope_kind_name(q->kind), q->subject);
		goto out;
	}
	/* After the scan: the checkpoint covers every entry found. */
	if ((r = cv_audit_checkpoint(a, &note)) != CV_OK ||
	    (r = cv_checkpoint_parse((const char *)note.p, note.len, &c)) !=
	    CV_OK || (r = cv_audit_vkey(a, vkey, sizeof vkey)) != CV_OK)
		goto out;
	if ((r = bundle(vault_id, incident, &g, &b)) != CV_OK)
		goto out;
	if ((arr = json_array()) == NULL) {
		r = CV_ERR_NOMEM;
		goto out;
	}
	if ((r = entries(a, &g, c.size, arr)) != CV_OK)
		goto out;
	cv_scope_format_time(q->from_us, from, sizeof from);
	cv_scope_format_time(q->to_us, to, sizeof to);
	*out = json_pack("{s:i, s:s, s:{s:s, s:s}, s:{s:s?, s:s?}, s:O, "
	    "s:{s:s, s:I, s:s%}, s:O}", "clearvault_evidence", 1, "incident",
	    incident, "subject", "kind", cv_scope_kind_name(q->kind), "value",
	    q->subject, "window", "from", q->from_us > 0 ? from : NULL, "to",
	    q->to_us < INT64_MAX ? to : NULL, "bundle", b, "log", "vkey", vkey,
	    "size", (json_int_t)c.size, "checkpoint", (const char *)note.p,
	    note.len, "entries", arr);
	if (*out == NULL)
		r = cv_fail(CV_ERR_NOMEM, "evidence: cannot build the file");
 out:
	json_decref(b);
	json_decref(arr);
	json_decref(g.users);
	json_decref(g.certs);
	json_decref(g.addrs);
	free(g.idx);
	cv_buf_free(&note);
	return r;
}
