/*
 * Proofs as JSON (the shapes of `audit prove` and `audit consistency`)
 * and the outsider's check: public material only, no vault.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include <sodium.h>

#include "audit_internal.h"

static cv_err
b64(json_t *arr, const uint8_t *h)
{
	char s[sodium_base64_ENCODED_LEN(CV_HASH_BYTES,
	    sodium_base64_VARIANT_ORIGINAL)];

	sodium_bin2base64(s, sizeof s, h, CV_HASH_BYTES,
	    sodium_base64_VARIANT_ORIGINAL);
	return json_array_append_new(arr, json_string(s)) == 0 ? CV_OK :
	    CV_ERR_NOMEM;
}

json_t *
cv_audit_hash_json(const uint8_t h[static CV_HASH_BYTES])
{
	json_t *a = json_array(), *s;

	if (a == NULL || b64(a, h) != CV_OK) {
		json_decref(a);
		return NULL;
	}
	s = json_incref(json_array_get(a, 0));
	json_decref(a);
	return s;
}

cv_err
cv_audit_proof_json(const struct cv_audit_proof *p, json_t **out)
{
	json_t *o, *arr = json_array();
	cv_err r = CV_OK;

	*out = NULL;
	for (size_t i = 0; arr && i < p->n && r == CV_OK; i++)
		r = b64(arr, p->hash[i]);
	if (arr == NULL || r != CV_OK) {
		json_decref(arr);
		return CV_ERR_NOMEM;
	}
	if (p->kind == CV_PROOF_INCLUSION)
		o = json_pack("{s:I, s:I, s:o, s:o}", "index",
		    (json_int_t)p->index, "size", (json_int_t)p->size,
		    "leaf_hash", cv_audit_hash_json(p->leaf), "proof", arr);
	else
		o = json_pack("{s:I, s:I, s:o, s:o, s:o}", "size1",
		    (json_int_t)p->size1, "size2", (json_int_t)p->size,
		    "root1", cv_audit_hash_json(p->root1), "root2",
		    cv_audit_hash_json(p->root2), "proof", arr);
	if (o == NULL)
		return CV_ERR_NOMEM;
	*out = o;
	return CV_OK;
}

static int
get_hash(const json_t *j, uint8_t out[CV_HASH_BYTES])
{
	const char *s = json_string_value(j);
	size_t len;

	return s && sodium_base642bin(out, CV_HASH_BYTES, s, strlen(s), NULL,
	    &len, NULL, sodium_base64_VARIANT_ORIGINAL) == 0 &&
	    len == CV_HASH_BYTES;
}

static int
get_size(const json_t *j, uint64_t *v)
{
	if (!json_is_integer(j) || json_integer_value(j) < 0)
		return 0;
	*v = (uint64_t)json_integer_value(j);
	return 1;
}

cv_err
cv_audit_proof_parse(const char *text, size_t len, struct cv_audit_proof *p)
{
	json_error_t je;
	json_t *j, *arr, *it;
	size_t i;
	cv_err r = CV_ERR_INVALID;

	memset(p, 0, sizeof *p);
	if ((j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je)) == NULL)
		return cv_fail(CV_ERR_INVALID, "proof: line %d: %.100s",
		    je.line, je.text);
	if (!json_is_object(j))
		goto bad;
	arr = json_object_get(j, "proof");
	if (!json_is_array(arr) || json_array_size(arr) > CV_MERKLE_MAX_PROOF)
		goto bad;
	json_array_foreach(arr, i, it) {
		if (!get_hash(it, p->hash[i]))
			goto bad;
	}
	p->n = json_array_size(arr);
	if (json_object_get(j, "index")) {
		p->kind = CV_PROOF_INCLUSION;
		if (!get_size(json_object_get(j, "index"), &p->index) ||
		    !get_size(json_object_get(j, "size"), &p->size) ||
		    !get_hash(json_object_get(j, "leaf_hash"), p->leaf) ||
		    json_object_size(j) != 4)
			goto bad;
	} else {
		p->kind = CV_PROOF_CONSISTENCY;
		if (!get_size(json_object_get(j, "size1"), &p->size1) ||
		    !get_size(json_object_get(j, "size2"), &p->size) ||
		    !get_hash(json_object_get(j, "root1"), p->root1) ||
		    !get_hash(json_object_get(j, "root2"), p->root2) ||
		    json_object_size(j) != 5)
			goto bad;
	}
	r = CV_OK;
 bad:
	json_decref(j);
	if (r != CV_OK) {
		memset(p, 0, sizeof *p);
		return cv_fail(CV_ERR_INVALID, "proof: not an inclusion or "
		    "consistency proof of clearvault's shape");
	}
	return CV_OK;
}

cv_err
cv_audit_check(const char *vkey, const char *note, size_t note_len,
    const struct cv_audit_proof *p, const uint8_t *leaf, size_t leaf_len,
    char *what, size_t what_size)
{
	char name[CV_NOTE_NAME_MAX + 1];
	uint8_t pk[32], lh[CV_HASH_BYTES];
	struct cv_checkpoint c;
	size_t tl;
	cv_err r;

	if ((r = cv_note_vkey_parse(vkey, name, pk)) != CV_OK ||
	    (r = cv_note_verify(note, note_len, name, pk, &tl)) != CV_OK ||
	    (r = cv_checkpoint_parse(note, tl, &c)) != CV_OK)
		return r;
	if (strcmp(c.origin, name) != 0)
		return cv_fail(CV_ERR_AUTH, "checkpoint origin '%s' is not "
		    "the key's name", c.origin);
	if (c.size != p->size)
		return cv_fail(CV_ERR_AUTH, "the proof is for tree size %llu, "
		    "the checkpoint has %llu", (unsigned long long)p->size,
		    (unsigned long long)c.size);
	if (p->kind == CV_PROOF_INCLUSION) {
		if (leaf) {
			cv_merkle_leaf_hash(leaf, leaf_len, lh);
			if (memcmp(lh, p->leaf, CV_HASH_BYTES) != 0)
				return cv_fail(CV_ERR_AUTH, "the leaf does "
				    "not hash to the proof's leaf_hash");
		}
		if ((r = cv_merkle_verify_inclusion(p->index, p->size, p->leaf,
		    (const uint8_t (*)[CV_HASH_BYTES])p->hash, p->n,
		    c.root)) != CV_OK)
			return r;
		snprintf(what, what_size, "entry %llu is in the log of %llu "
		    "entries signed by %s", (unsigned long long)p->index,
		    (unsigned long long)c.size, name);
		return CV_OK;
	}
	if (memcmp(c.root, p->root2, CV_HASH_BYTES) != 0)
		return cv_fail(CV_ERR_AUTH, "the proof's root2 is not the "
		    "checkpoint's root");
	if ((r = cv_merkle_verify_consistency(p->size1, p->size, p->root1,
	    p->root2, (const uint8_t (*)[CV_HASH_BYTES])p->hash, p->n)) !=
	    CV_OK)
		return r;
	snprintf(what, what_size, "the log of %llu entries extends the one "
	    "of %llu (append-only), signed by %s", (unsigned long long)c.size,
	    (unsigned long long)p->size1, name);
	return CV_OK;
}

/* P's proof (and roots) with the nodes of FN. */
static cv_err
prove(cv_merkle_node_fn fn, void *ctx, struct cv_audit_proof *p)
{
	cv_err r;

	if (p->kind == CV_PROOF_INCLUSION)
		return cv_merkle_prove_inclusion(fn, ctx, p->index, p->size,
		    p->hash, &p->n);
	if ((r = cv_merkle_prove_consistency(fn, ctx, p->size1, p->size,
	    p->hash, &p->n)) != CV_OK ||
	    (r = cv_merkle_root(fn, ctx, p->size1, p->root1)) != CV_OK)
		return r;
	return cv_merkle_root(fn, ctx, p->size, p->root2);
}

/*
 * In PostgreSQL a node is a round trip, and a proof asks for dozens: so
 * they are read in one. Which nodes the RFC 9162 algorithms ask for
 * depends on the index and sizes only, never on the hashes, so a first
 * run on blank nodes lists them (a few microseconds of hashing).
 */
#define PROOF_NODES 256

struct nodes {
	struct cv_audit *a;
	int listing;
	size_t n;
	unsigned h[PROOF_NODES];
	uint64_t off[PROOF_NODES];
	size_t len[PROOF_NODES];
	uint8_t hash[PROOF_NODES][CV_HASH_BYTES];
};

static cv_err
listed_node(void *ctx, unsigned level, uint64_t index,
    uint8_t out[static CV_HASH_BYTES])
{
	struct nodes *s = ctx;

	/* Out of range: cv_audit_node says why. Past the list's room: read
	 * one at a time. */
	if (level >= AUDIT_LEVELS || index >= (s->a->size >> level))
		return cv_audit_node(s->a, level, index, out);
	if (s->listing) {
		if (s->n < PROOF_NODES) {
			s->h[s->n] = AUDIT_PG_LEVEL0 + level;
			s->off[s->n] = index * CV_HASH_BYTES;
			s->len[s->n++] = CV_HASH_BYTES;
		}
		memset(out, 0, CV_HASH_BYTES);
		return CV_OK;
	}
	for (size_t i = 0; i < s->n; i++) {
		if (s->h[i] == AUDIT_PG_LEVEL0 + level &&
		    s->off[i] == index * CV_HASH_BYTES) {
			memcpy(out, s->hash[i], CV_HASH_BYTES);
			return CV_OK;
		}
	}
	return cv_audit_node(s->a, level, index, out);
}

cv_err
audit_locked_proof(struct cv_audit *a, struct cv_audit_proof *p)
{
	struct cv_audit_proof blank;
	struct nodes *s = NULL;
	cv_err r;

	if ((r = audit_lock(a, LOCK_SH)) != CV_OK)
		return r;
	if ((r = audit_refresh(a)) != CV_OK)
		goto out;
	if (p->size > a->size) {
		r = cv_fail(CV_ERR_INVALID, "the log has only %llu entries",
		    (unsigned long long)a->size);
		goto out;
	}
	if (a->pg == NULL) {
		r = prove(cv_audit_node, a, p);
		goto out;
	}
	if ((s = calloc(1, sizeof *s)) == NULL) {
		r = CV_ERR_NOMEM;
		goto out;
	}
	s->a = a;
	s->listing = 1;
	blank = *p;
	if ((r = prove(listed_node, s, &blank)) != CV_OK ||
	    (r = audit_pg_read_many(a, s->n, s->h, s->off, s->len,
	    s->hash)) != CV_OK)
		goto out;
	s->listing = 0;
	r = prove(listed_node, s, p);
 out:
	(void)audit_unlock(a);
	free(s);
	return r;
}

cv_err
cv_audit_prove(struct cv_audit *a, uint64_t index, uint64_t size,
    struct cv_audit_proof *p)
{
	struct cv_buf leaf = { 0 };
	cv_err r;

	memset(p, 0, sizeof *p);
	p->kind = CV_PROOF_INCLUSION;
	p->index = index;
	p->size = size;
	if ((r = cv_audit_leaf(a, index, &leaf)) != CV_OK)
		goto out;
	cv_merkle_leaf_hash(leaf.p, leaf.len, p->leaf);
	r = audit_locked_proof(a, p);
 out:
	cv_buf_free(&leaf);
	return r;
}

cv_err
cv_audit_consistency(struct cv_audit *a, uint64_t size1, uint64_t size2,
    struct cv_audit_proof *p)
{
	memset(p, 0, sizeof *p);
	p->kind = CV_PROOF_CONSISTENCY;
	p->size1 = size1;
	p->size = size2;
	return audit_locked_proof(a, p);
}
