/*
 * The scan: one pass over the log, matching each entry cheaply (its
 * subject field first, through a view that copies nothing), and an
 * open-addressing table of the records returned, keyed by id.
 */
#include <stdlib.h>
#include <string.h>

#include "scope.h"

#define ARENA_CHUNK 65536
#define PROGRESS_EVERY 1048576	/* entries between looks at the clock */

/* Ids live in chunks that never move: records point into them. */
struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	char mem[];
};

struct scope_store {
	struct arena_chunk *chunks;
	/* slot -> record index + 1 (0: empty); hashes beside, to skip most
	 * string compares */
	uint32_t *slot;
	uint64_t *hash;
	size_t nslots;
	size_t cap;		/* of the records array */
};

struct run {
	const struct cv_scope_query *q;
	struct cv_scope_result *res;
	enum cv_audit_field field;
	size_t slen;
	uint64_t total, next_look;
	double last_report;
	int reported;		/* a long scan: its end is reported too */
};

const char *
cv_scope_kind_name(enum cv_scope_kind k)
{
	switch (k) {
	case CV_SCOPE_PRINCIPAL: return "principal";
	case CV_SCOPE_CERT: return "cert";
	case CV_SCOPE_SESSION: return "session";
	case CV_SCOPE_ADDRESS: return "address";
	}
	return "?";
}

/* FNV-1a: ids are short, and this is not a place an attacker chooses
 * keys to collide (they come from verified log entries). */
static uint64_t
hash_id(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 1099511628211ULL;
	return h;
}

static cv_err
arena_copy(struct scope_store *st, const char *s, size_t n, char **out)
{
	struct arena_chunk *c = st->chunks;

	if (c == NULL || c->cap - c->used < n + 1) {
		size_t cap = n + 1 > ARENA_CHUNK ? n + 1 : ARENA_CHUNK;
		if ((c = malloc(sizeof *c + cap)) == NULL)
			return CV_ERR_NOMEM;
		c->next = st->chunks;
		c->used = 0;
		c->cap = cap;
		st->chunks = c;
	}
	*out = c->mem + c->used;
	memcpy(*out, s, n);
	(*out)[n] = '\0';
	c->used += n + 1;
	return CV_OK;
}

/* Doubles the table (or makes the first one) and re-inserts every id. */
static cv_err
grow_table(struct cv_scope_result *res)
{
	struct scope_store *st = res->store;
	size_t n = st->nslots ? st->nslots * 2 : 1024;
	uint32_t *slot = calloc(n, sizeof *slot);
	uint64_t *hash = calloc(n, sizeof *hash);

	if (slot == NULL || hash == NULL) {
		free(slot);
		free(hash);
		return CV_ERR_NOMEM;
	}
	for (size_t i = 0; i < st->nslots; i++) {
		size_t j;
		if (st->slot[i] == 0)
			continue;
		for (j = st->hash[i] & (n - 1); slot[j]; j = (j + 1) & (n - 1))
			;
		slot[j] = st->slot[i];
		hash[j] = st->hash[i];
	}
	free(st->slot);
	free(st->hash);
	st->slot = slot;
	st->hash = hash;
	st->nslots = n;
	return CV_OK;
}

/* The record of id S (N bytes), made on first sight; *rec points at it. */
static cv_err
lookup(struct cv_scope_result *res, const char *s, size_t n,
    struct cv_scope_record **rec)
{
	struct scope_store *st = res->store;
	uint64_t h = hash_id(s, n);
	size_t j, mask;
	char *id;
	cv_err r;

	if ((res->nrecords + 1) * 2 > st->nslots &&
	    (r = grow_table(res)) != CV_OK)
		return r;
	mask = st->nslots - 1;
	for (j = h & mask; st->slot[j]; j = (j + 1) & mask) {
		struct cv_scope_record *x = &res->records[st->slot[j] - 1];
		if (st->hash[j] == h && strncmp(x->id, s, n) == 0 &&
		    x->id[n] == '\0') {
			*rec = x;
			return CV_OK;
		}
	}
	if (res->nrecords == UINT32_MAX - 1)
		return cv_fail(CV_ERR_LIMIT, "scope: too many records");
	if (res->nrecords == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 256;
		struct cv_scope_record *nr = realloc(res->records,
		    cap * sizeof *nr);
		if (nr == NULL)
			return CV_ERR_NOMEM;
		res->records = nr;
		st->cap = cap;
	}
	if ((r = arena_copy(st, s, n, &id)) != CV_OK)
		return r;
	*rec = &res->records[res->nrecords];
	**rec = (struct cv_scope_record){ .id = id, .first_us = INT64_MAX,
	    .last_us = INT64_MIN };
	st->slot[j] = (uint32_t)++res->nrecords;
	st->hash[j] = h;
	return CV_OK;
}

/* Actions whose allowed entries carry record data to the actor. */
static int
data_action(const struct cv_audit_str *a)
{
	return (a->len == 11 && memcmp(a->p, "records.get", 11) == 0) ||
	    (a->len == 3 && memcmp(a->p, "get", 3) == 0) ||
	    (a->len == 12 && memcmp(a->p, "scope.notify", 12) == 0);
}

bool
cv_scope_returns_data(const struct cv_audit_view *v)
{
	return v->outcome == CV_AUDIT_ALLOWED && v->sections != 0 &&
	    data_action(&v->f[CV_AUDIT_ACTION]);
}

static void
progress(struct run *x, uint64_t done)
{
	double now;

	x->next_look = done + PROGRESS_EVERY;
	if (x->q->progress == NULL || (now = cv_now()) - x->last_report < 0.5)
		return;
	x->last_report = now;
	x->reported = 1;
	x->q->progress(x->q->ctx, done, x->total);
}

static cv_err
on_entry(void *ctx, uint64_t index, const uint8_t *leaf, size_t len)
{
	struct run *x = ctx;
	const struct cv_scope_query *q = x->q;
	struct cv_audit_str s;
	struct cv_audit_view v;
	struct cv_scope_record *rec = NULL;
	int64_t t;
	size_t pos = 0;
	cv_err r;

	if (index - q->first >= x->next_look)
		progress(x, index - q->first);
	/* The subject first: most entries are someone else's. */
	if (cv_audit_view_field(leaf, len, x->field, &s) != CV_OK)
		goto malformed;
	if (s.len != x->slen || memcmp(s.p, q->subject, s.len) != 0)
		return CV_OK;
	if (cv_audit_view(leaf, len, &v) != CV_OK)
		goto malformed;
	t = (int64_t)v.time_us;
	if (t < q->from_us || t >= q->to_us || !cv_scope_returns_data(&v))
		return CV_OK;
	x->res->totals.matched++;
	while (cv_audit_view_record(&v, &pos, &s)) {
		if ((r = lookup(x->res, s.p, s.len, &rec)) != CV_OK)
			return r;
		rec->sections |= v.sections;
		rec->reads++;
		if (t < rec->first_us)
			rec->first_us = t;
		if (t > rec->last_us)
			rec->last_us = t;
	}
	return CV_OK;
 malformed:
	return cv_fail(CV_ERR_FORMAT, "audit entry %llu is malformed: it "
	    "cannot be attributed, so no exact scope exists; run "
	    "'clearvault audit verify'", (unsigned long long)index);
}

static int
cmp_record(const void *a, const void *b)
{
	return strcmp(((const struct cv_scope_record *)a)->id,
	    ((const struct cv_scope_record *)b)->id);
}

static enum cv_audit_field
field_of(enum cv_scope_kind k)
{
	switch (k) {
	case CV_SCOPE_CERT: return CV_AUDIT_CERT;
	case CV_SCOPE_SESSION: return CV_AUDIT_SESSION;
	case CV_SCOPE_ADDRESS: return CV_AUDIT_SOURCE;
	case CV_SCOPE_PRINCIPAL: break;
	}
	return CV_AUDIT_ACTOR;
}

cv_err
cv_scope_run(struct cv_audit *a, const struct cv_scope_query *q,
    struct cv_scope_result **out)
{
	struct cv_scope_result *res = NULL;
	struct run x = { .q = q };
	uint64_t size, end;
	double t0 = cv_now();
	cv_err r;

	*out = NULL;
	if (q->subject == NULL || *q->subject == '\0' ||
	    strlen(q->subject) > 65535 || q->kind < CV_SCOPE_PRINCIPAL ||
	    q->kind > CV_SCOPE_ADDRESS || q->from_us >= q->to_us)
		return cv_fail(CV_ERR_INVALID, "scope: bad query");
	if ((res = calloc(1, sizeof *res)) == NULL ||
	    (res->store = calloc(1, sizeof *res->store)) == NULL) {
		r = CV_ERR_NOMEM;
		goto out;
	}
	if ((r = cv_audit_settle(a, &size)) != CV_OK)
		goto out;
	end = q->last < size ? q->last : size;
	x.res = res;
	x.field = field_of(q->kind);
	x.slen = strlen(q->subject);
	x.total = end > q->first ? end - q->first : 0;
	x.next_look = PROGRESS_EVERY;
	x.last_report = t0;
	if ((r = cv_audit_scan(a, q->first, end, on_entry, &x,
	    &res->totals.scanned)) != CV_OK)
		goto out;
	if (x.reported)
		q->progress(q->ctx, res->totals.scanned, x.total);
	/* The table is done with: sorting moves the records it indexes. */
	free(res->store->slot);
	free(res->store->hash);
	res->store->slot = NULL;
	res->store->hash = NULL;
	res->store->nslots = 0;
	if (res->nrecords)
		qsort(res->records, res->nrecords, sizeof *res->records,
		    cmp_record);
	for (size_t i = 0; i < res->nrecords; i++) {
		for (int k = 0; k < CV_RECORD_NSECTIONS; k++) {
			if (res->records[i].sections & (1u << k))
				res->totals.section_records[k]++;
		}
	}
	res->totals.seconds = cv_now() - t0;
	*out = res;
	res = NULL;
 out:
	cv_scope_result_free(res);
	return r;
}

void
cv_scope_result_free(struct cv_scope_result *r)
{
	struct arena_chunk *c, *next;

	if (r == NULL)
		return;
	if (r->store) {
		for (c = r->store->chunks; c; c = next) {
			next = c->next;
			free(c);
		}
		free(r->store->slot);
		free(r->store->hash);
		free(r->store);
	}
	free(r->records);
	free(r);
}

struct series {
	const struct cv_scope_query *q;
	enum cv_audit_field field;
	size_t slen;
	int64_t bucket_us;
	uint64_t *counts;	/* the window fits: checked by the caller */
};

static cv_err
on_series(void *ctx, uint64_t index, const uint8_t *leaf, size_t len)
{
	struct series *x = ctx;
	struct cv_audit_str s;
	struct cv_audit_view v;
	int64_t t;

	if (cv_audit_view_field(leaf, len, x->field, &s) != CV_OK)
		goto malformed;
	if (s.len != x->slen || memcmp(s.p, x->q->subject, s.len) != 0)
		return CV_OK;
	if (cv_audit_view(leaf, len, &v) != CV_OK)
		goto malformed;
	t = (int64_t)v.time_us;
	if (t < x->q->from_us || t >= x->q->to_us ||
	    !cv_scope_returns_data(&v))
		return CV_OK;
	x->counts[(t - x->q->from_us) / x->bucket_us] += v.nrecords;
	return CV_OK;
 malformed:
	return cv_fail(CV_ERR_FORMAT, "audit entry %llu is malformed",
	    (unsigned long long)index);
}

cv_err
cv_scope_series(struct cv_audit *a, const struct cv_scope_query *q,
    int64_t bucket_us, uint64_t *counts, size_t n)
{
	struct series x = { .q = q, .bucket_us = bucket_us, .counts = counts };
	uint64_t size;
	cv_err r;

	if (q->subject == NULL || *q->subject == '\0' ||
	    strlen(q->subject) > 65535 || q->kind < CV_SCOPE_PRINCIPAL ||
	    q->kind > CV_SCOPE_ADDRESS || bucket_us <= 0 || n == 0 ||
	    q->from_us >= q->to_us || q->from_us < 0 ||
	    (uint64_t)(q->to_us - q->from_us - 1) / (uint64_t)bucket_us >= n)
		return cv_fail(CV_ERR_INVALID, "scope: bad series query");
	memset(counts, 0, n * sizeof *counts);
	x.field = field_of(q->kind);
	x.slen = strlen(q->subject);
	if ((r = cv_audit_settle(a, &size)) != CV_OK)
		return r;
	return cv_audit_scan(a, q->first, q->last < size ? q->last : size,
	    on_series, &x, NULL);
}
