/* The audit log over the API (auditors), in the CLI's JSON shapes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../policy/policy.h"
#include "../keyd/keyd.h"
#include "api_internal.h"

#define MAX_ENTRIES 1000

static uint64_t
number(const char *s, int *ok)
{
	char *end;
	unsigned long long v;

	*ok = 0;
	if (*s < '0' || *s > '9' || strlen(s) > 19)
		return 0;
	v = strtoull(s, &end, 10);
	if (*end != '\0')
		return 0;
	*ok = 1;
	return v;
}

static int
arg_u64(struct req *r, const char *name, uint64_t *v, int *have)
{
	const char *s = MHD_lookup_connection_value(r->conn,
	    MHD_GET_ARGUMENT_KIND, name);
	int ok;

	*have = s != NULL;
	if (s == NULL)
		return 1;
	*v = number(s, &ok);
	return ok;
}

static enum MHD_Result
bad(struct req *r, const char *detail)
{
	return api_problem(r, 400, CV_AUDIT_DENIED, "bad request", detail);
}

static enum MHD_Result
fail(struct req *r, cv_err e)
{
	if (e == CV_ERR_INVALID || e == CV_ERR_NOT_FOUND)
		return api_problem(r, e == CV_ERR_NOT_FOUND ? 404 : 400,
		    CV_AUDIT_DENIED, e == CV_ERR_NOT_FOUND ? "not found" :
		    "bad request", cv_err_detail());
	snprintf(r->reason, sizeof r->reason, "%s: %s", cv_strerror(e),
	    cv_err_detail());
	return api_problem(r, 500, CV_AUDIT_ERROR, "internal error",
	    "the request failed; see the audit log");
}

/*
 * The latest checkpoint (with its cosignatures once the witnesses have
 * them), or with ?cosigned=1 the newest one the witnesses cosigned: under
 * steady traffic the latest is usually a step ahead of them. keyd reads
 * the cosigned copy: this process opens no file.
 */
static enum MHD_Result
checkpoint(struct req *r)
{
	struct cv_buf note = { 0 };
	uint64_t cosigned = 0;
	int has;
	cv_err e;

	if (!arg_u64(r, "cosigned", &cosigned, &has) || cosigned > 1)
		return bad(r, "cosigned is 0 or 1");
	if ((e = cosigned ? cv_keyd_cosigned(r->srv->kd, &note) :
	    cv_keyd_checkpoint(r->srv->kd, &note)) != CV_OK)
		return fail(r, e);
	return api_reply(r, 200, CV_AUDIT_ALLOWED, "text/plain; charset=utf-8",
	    &note);
}

static enum MHD_Result
entries(struct req *r)
{
	uint64_t from = 0, count = 100, size;
	int hf, hc;
	struct cv_buf leaf = { 0 };
	json_t *arr = json_array(), *e;
	uint8_t h[CV_HASH_BYTES];
	char *b64 = NULL;
	cv_err err;

	if (!arg_u64(r, "from", &from, &hf) || !arg_u64(r, "count", &count,
	    &hc) || count == 0 || count > MAX_ENTRIES) {
		json_decref(arr);
		return bad(r, "from and count (1-1000) are whole numbers");
	}
	if ((err = cv_audit_size(r->srv->a, &size)) != CV_OK) {
		json_decref(arr);
		return fail(r, err);
	}
	for (uint64_t i = from; i < size && i < from + count; i++) {
		size_t bl;
		leaf.len = 0;
		if ((err = cv_audit_leaf(r->srv->a, i, &leaf)) != CV_OK ||
		    (err = cv_audit_decode(leaf.p, leaf.len, &e)) != CV_OK)
			break;
		bl = sodium_base64_ENCODED_LEN(leaf.len,
		    sodium_base64_VARIANT_ORIGINAL);
		if ((b64 = realloc(b64, bl)) == NULL) {
			json_decref(e);
			err = CV_ERR_NOMEM;
			break;
		}
		sodium_bin2base64(b64, bl, leaf.p, leaf.len,
		    sodium_base64_VARIANT_ORIGINAL);
		cv_merkle_leaf_hash(leaf.p, leaf.len, h);
		json_object_set_new(e, "index", json_integer((json_int_t)i));
		json_object_set_new(e, "leaf", json_string(b64));
		json_object_set_new(e, "leaf_hash", cv_audit_hash_json(h));
		json_array_append_new(arr, e);
	}
	free(b64);
	cv_buf_free(&leaf);
	if (err != CV_OK) {
		json_decref(arr);
		return fail(r, err);
	}
	return api_json(r, 200, json_pack("{s:I, s:o}", "size",
	    (json_int_t)size, "entries", arr));
}

static enum MHD_Result
proof(struct req *r, int consistency)
{
	struct cv_audit_proof p;
	struct cv_checkpoint c;
	uint64_t a = 0, b = 0;
	int ha, hb;
	json_t *j;
	cv_err e;

	if (!arg_u64(r, consistency ? "from" : "index", &a, &ha) ||
	    !arg_u64(r, "size", &b, &hb) || !ha)
		return bad(r, consistency ? "from (and size) are whole "
		    "numbers" : "index (and size) are whole numbers");
	if (!hb) {
		if ((e = cv_audit_latest(r->srv->a, &c)) != CV_OK)
			return fail(r, e);
		b = c.size;
	}
	e = consistency ? cv_audit_consistency(r->srv->a, a, b, &p) :
	    cv_audit_prove(r->srv->a, a, b, &p);
	if (e != CV_OK || (e = cv_audit_proof_json(&p, &j)) != CV_OK)
		return fail(r, e);
	return api_json(r, 200, j);
}

enum MHD_Result
api_audit(struct req *r, const char *what)
{
	r->action = strcmp(what, "checkpoint") == 0 ? "audit.checkpoint" :
	    strcmp(what, "entries") == 0 ? "audit.entries" :
	    strcmp(what, "proof") == 0 ? "audit.proof" :
	    strcmp(what, "consistency") == 0 ? "audit.consistency" : "audit";
	if (!cv_policy_allows(r->who.role, CV_PERM_READ_AUDIT))
		return api_problem(r, 403, CV_AUDIT_DENIED, "forbidden",
		    "only auditors read the audit log");
	if (!strcmp(what, "checkpoint"))
		return checkpoint(r);
	if (!strcmp(what, "entries"))
		return entries(r);
	if (!strcmp(what, "proof"))
		return proof(r, 0);
	if (!strcmp(what, "consistency"))
		return proof(r, 1);
	return api_problem(r, 404, CV_AUDIT_DENIED, "not found",
	    "no such endpoint");
}
