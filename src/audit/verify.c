/*
 * audit verify: recompute the tree from the entries as they are on disk
 * (no repair first: evidence is never touched) and hold every checkpoint,
 * stored or given, against it; every entry must be a valid one, and the
 * derived files (offsets, tree levels) must agree with the entries over
 * the checkpointed part, where proofs are served from them.
 *
 * The lock is held only to fix how much is verified: the entries and
 * checkpoints files up to their sizes then, and the derived files below
 * the latest checkpoint, are never rewritten (appends go past them, and
 * repair only rebuilds what follows the latest checkpoint), so the scan
 * itself holds nobody up.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit_internal.h"

#define CHUNK (8u << 20)
#define ITEMS_CHUNK (1u << 20)	/* bytes of a derived file read at once */

struct target {
	uint64_t size;
	uint8_t root[CV_HASH_BYTES];
	int given;		/* held elsewhere, not stored */
	unsigned num;		/* its position, for messages */
	int checked;
};

/* A compact range: roots of perfect subtrees, largest first. */
struct stack {
	uint8_t h[AUDIT_LEVELS][CV_HASH_BYTES];
	unsigned n;
	uint64_t size;
};

/* Fixed-size items of a derived file, read a chunk at a time. */
struct items {
	int fd;
	size_t size;		/* bytes per item */
	uint64_t count;		/* items that must be there */
	uint8_t *buf;
	uint64_t base, n;	/* items [base, base + n) are in buf */
};

/* The state of one verification. */
struct run {
	struct cv_audit *a;
	struct cv_audit_report *rep;
	uint64_t signed_size;	/* of the latest stored checkpoint */
	struct items offsets, level[AUDIT_LEVELS];
	/* the first derived item that disagrees: offsets (level -1) or a
	 * tree level, and its index */
	int bad_level;
	uint64_t bad_item;
	uint64_t first_malformed;
};

static void
stack_root(const struct stack *s, uint8_t out[CV_HASH_BYTES])
{
	if (s->n == 0) {
		cv_merkle_empty_root(out);
		return;
	}
	memcpy(out, s->h[s->n - 1], CV_HASH_BYTES);
	for (unsigned i = s->n - 1; i-- > 0;)
		cv_merkle_node_hash(s->h[i], out, out);
}

static int
cmp_target(const void *x, const void *y)
{
	const struct target *a = x, *b = y;

	return a->size < b->size ? -1 : a->size > b->size;
}

static cv_err
fail(struct cv_audit_report *rep, uint64_t idx, const char *fmt, ...)
    CV_PRINTF(3, 4);

static cv_err
fail(struct cv_audit_report *rep, uint64_t idx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rep->what, sizeof rep->what, fmt, ap);
	va_end(ap);
	rep->bad_index = idx;
	return cv_fail(CV_ERR_AUTH, "%s", rep->what);
}

/* Reads the stored checkpoints in the first SIZE bytes, checking each
 * signature. */
static cv_err
stored_targets(struct cv_audit *a, uint64_t size, const uint8_t pk[32],
    struct target **t, size_t *nt, struct cv_audit_report *rep)
{
	uint8_t len[4], len2[4];
	uint64_t off = 0;
	struct cv_buf note = { 0 };
	struct cv_checkpoint c;
	size_t tl, cap = 0;
	cv_err r = CV_OK;

	while (off < size) {
		uint32_t n;
		if (size - off < 8 ||
		    (r = audit_pread(a, a->fd_ckpt, len, 4, off)) != CV_OK ||
		    (n = cv_get_u32be(len)) > CV_NOTE_MAX_BYTES ||
		    size - off - 8 < n ||
		    (r = audit_pread(a, a->fd_ckpt, len2, 4, off + 4 + n)) !=
		    CV_OK || memcmp(len, len2, 4) != 0) {
			if (r == CV_OK)
				r = fail(rep, 0, "checkpoint file malformed at "
				    "byte %llu", (unsigned long long)off);
			break;
		}
		note.len = 0;
		if ((r = cv_buf_reserve(&note, n)) != CV_OK ||
		    (r = audit_pread(a, a->fd_ckpt, note.p, n, off + 4)) !=
		    CV_OK)
			break;
		note.len = n;
		if (cv_note_verify((char *)note.p, n, a->origin, pk, &tl) !=
		    CV_OK || cv_checkpoint_parse((char *)note.p, tl, &c) !=
		    CV_OK || strcmp(c.origin, a->origin) != 0) {
			r = fail(rep, 0, "bad signature: stored checkpoint "
			    "#%zu is not signed by this vault's audit key",
			    *nt + 1);
			break;
		}
		if (*nt == cap) {
			cap = cap ? cap * 2 : 64;
			struct target *nw = realloc(*t, cap * sizeof **t);
			if (nw == NULL) {
				r = CV_ERR_NOMEM;
				break;
			}
			*t = nw;
		}
		if (*nt > 0 && c.size < (*t)[*nt - 1].size) {
			r = fail(rep, c.size, "rolled back: stored checkpoint "
			    "#%zu has fewer entries than the one before it",
			    *nt + 1);
			break;
		}
		(*t)[*nt] = (struct target){ .size = c.size, .num =
		    (unsigned)*nt + 1 };
		memcpy((*t)[*nt].root, c.root, CV_HASH_BYTES);
		(*nt)++;
		rep->checkpoints++;
		off += 8 + n;
	}
	cv_buf_free(&note);
	return r;
}

/* The derived files must hold what the latest checkpoint covers. */
static cv_err
open_items(struct run *x)
{
	struct cv_audit *a = x->a;
	uint64_t s = x->signed_size, size;
	cv_err r;

	x->offsets = (struct items){ .fd = a->fd_offsets, .size = 8,
	    .count = s };
	for (unsigned l = 0; l < AUDIT_LEVELS && (s >> l); l++) {
		int fd = audit_level_fd(a, l);
		if (fd < 0)
			return audit_level_fail(a, l);
		x->level[l] = (struct items){ .fd = fd, .size = CV_HASH_BYTES,
		    .count = s >> l };
	}
	for (int l = -1; l < AUDIT_LEVELS; l++) {
		struct items *it = l < 0 ? &x->offsets : &x->level[l];
		if (it->count == 0)
			continue;
		if ((r = audit_size(a, it->fd, &size)) != CV_OK)
			return r;
		if (size / it->size < it->count) {
			if (l < 0)
				return fail(x->rep, size / 8,
				    "truncated: offsets holds %llu entries, "
				    "the latest checkpoint covers %llu",
				    (unsigned long long)size / 8,
				    (unsigned long long)s);
			return fail(x->rep, (size / 32) << l,
			    "truncated: tree/%d holds %llu nodes, the latest "
			    "checkpoint needs %llu", l,
			    (unsigned long long)size / 32,
			    (unsigned long long)it->count);
		}
	}
	return CV_OK;
}

/* Item I of IT (I < IT->count) at *OUT, valid until the next call. */
static cv_err
item(struct cv_audit *a, struct items *it, uint64_t i, const uint8_t **out)
{
	cv_err r;

	if (i < it->base || i >= it->base + it->n) {
		uint64_t per = ITEMS_CHUNK / it->size;
		if (it->buf == NULL && (it->buf = malloc(ITEMS_CHUNK)) == NULL)
			return CV_ERR_NOMEM;
		it->base = i;
		it->n = it->count - i < per ? it->count - i : per;
		if ((r = audit_pread(a, it->fd, it->buf, it->n * it->size,
		    i * it->size)) != CV_OK) {
			it->n = 0;
			return r;
		}
	}
	*out = it->buf + (i - it->base) * it->size;
	return CV_OK;
}

/* Holds derived item I of IT (level L, -1: offsets) against WANT. */
static cv_err
check_item(struct run *x, int l, uint64_t i, const uint8_t *want)
{
	struct items *it = l < 0 ? &x->offsets : &x->level[l];
	const uint8_t *got;
	cv_err r;

	if (x->bad_level != -2)
		return CV_OK;	/* the first is reported; enough */
	if ((r = item(x->a, it, i, &got)) != CV_OK)
		return r;
	if (memcmp(got, want, it->size) != 0) {
		x->bad_level = l;
		x->bad_item = i;
	}
	return CV_OK;
}

/*
 * Leaf I (hash H) joins the compact range; every node it completes is held
 * against the stored tree while inside the checkpointed part.
 */
static cv_err
push_leaf(struct run *x, struct stack *s, const uint8_t h[CV_HASH_BYTES])
{
	uint64_t i = s->size;
	unsigned l = 0;
	cv_err r;

	memcpy(s->h[s->n++], h, CV_HASH_BYTES);
	/* Merge while the new leaf completes a pair. */
	for (uint64_t k = i; k & 1; k >>= 1) {
		s->n--;
		cv_merkle_node_hash(s->h[s->n - 1], s->h[s->n], s->h[s->n - 1]);
		l++;
		if (i < x->signed_size && (r = check_item(x, (int)l,
		    ((i + 1) >> l) - 1, s->h[s->n - 1])) != CV_OK)
			return r;
	}
	s->size++;
	return CV_OK;
}

/* The stored leaf hash I (past the latest checkpoint) at OUT, *HAVE
 * set, if tree/0 holds it; *HAVE 0 if it does not. */
static cv_err
stored_leaf(struct run *x, uint64_t i, uint8_t out[CV_HASH_BYTES],
    int *have)
{
	uint64_t size;
	cv_err r;

	*have = 0;
	if ((r = audit_size(x->a, x->level[0].fd, &size)) != CV_OK)
		return r;
	if (size / CV_HASH_BYTES <= i)
		return CV_OK;
	if ((r = audit_pread(x->a, x->level[0].fd, out, CV_HASH_BYTES,
	    i * CV_HASH_BYTES)) != CV_OK)
		return r;
	*have = 1;
	return CV_OK;
}

static void
free_run(struct run *x)
{
	free(x->offsets.buf);
	for (unsigned l = 0; l < AUDIT_LEVELS; l++)
		free(x->level[l].buf);
}

/* What follows the last valid entry past the latest checkpoint. */
static void
torn_note(struct cv_audit_report *rep, uint64_t at, uint64_t bytes)
{
	snprintf(rep->note, sizeof rep->note, "a torn tail: %llu bytes at "
	    "byte %llu of the entries file, after entry %llu and past the "
	    "latest checkpoint, are not a valid entry; the next open cuts "
	    "them (and keeps them aside)", (unsigned long long)bytes,
	    (unsigned long long)at, (unsigned long long)rep->entries);
}

cv_err
cv_audit_verify(struct cv_audit *a, const char *const *given,
    const size_t *given_len, size_t ngiven, struct cv_audit_report *rep)
{
	struct run x = { .a = a, .rep = rep, .bad_level = -2,
	    .first_malformed = UINT64_MAX };
	struct target *t = NULL;
	size_t nt = 0, ti = 0, tl;
	struct stack *stk = NULL;
	struct cv_checkpoint c;
	struct cv_audit_view v;
	uint8_t pk[32], h[CV_HASH_BYTES], root[CV_HASH_BYTES], ob[8];
	uint8_t *buf = NULL;
	uint64_t off = 0, fsize = 0, csize = 0, i = 0, first_bad = UINT64_MAX;
	uint64_t fpos = 0;	/* where the frame at bpos starts in the file */
	uint8_t hm[2][CV_HASH_BYTES], sm[2][CV_HASH_BYTES];
	int have[2] = { 0, 0 };
	uint32_t bad_len = 0;
	size_t blen = 0, bpos = 0;
	double t0 = cv_now();
	cv_err r;

	memset(rep, 0, sizeof *rep);
	memcpy(pk, a->signer.pk, sizeof pk);
	/* How much there is to verify; then no lock. */
	if ((r = audit_lock(a, LOCK_SH)) != CV_OK)
		return r;
	if ((r = audit_size(a, a->fd_entries, &fsize)) == CV_OK &&
	    (r = audit_size(a, a->fd_ckpt, &csize)) == CV_OK)
		r = audit_ckpt_end(a, csize, &csize);
	audit_unlock(a);
	if (r != CV_OK)
		return r;
	if ((r = stored_targets(a, csize, pk, &t, &nt, rep)) != CV_OK)
		goto out;
	x.signed_size = nt ? t[nt - 1].size : 0;
	for (size_t g = 0; g < ngiven; g++) {
		if (cv_note_verify(given[g], given_len[g], a->origin, pk,
		    &tl) != CV_OK ||
		    cv_checkpoint_parse(given[g], tl, &c) != CV_OK) {
			r = fail(rep, 0, "bad signature: given checkpoint #%zu "
			    "is not signed by this vault's audit key", g + 1);
			goto out;
		}
		struct target *nw = realloc(t, (nt + 1) * sizeof *t);
		if (nw == NULL) {
			r = CV_ERR_NOMEM;
			goto out;
		}
		t = nw;
		t[nt] = (struct target){ .size = c.size, .given = 1,
		    .num = (unsigned)g + 1 };
		memcpy(t[nt].root, c.root, CV_HASH_BYTES);
		nt++;
		rep->given++;
	}
	if (nt)
		qsort(t, nt, sizeof *t, cmp_target);
	if ((r = open_items(&x)) != CV_OK)
		goto out;
	if ((stk = calloc(1, sizeof *stk)) == NULL ||
	    (buf = malloc(CHUNK + 4 + CV_AUDIT_MAX_LEAF)) == NULL) {
		r = CV_ERR_NOMEM;
		goto out;
	}
	while (ti < nt && t[ti].size == 0)
		t[ti++].checked = 1;
	/* Stream the frames; targets are checked as their size passes. */
	for (;;) {
		uint32_t n = 0;
		if (blen - bpos >= 4 &&
		    (n = cv_get_u32be(buf + bpos)) > CV_AUDIT_MAX_LEAF) {
			bad_len = n;
			break;	/* no frame boundary after this */
		}
		if (blen - bpos < 4 || blen - bpos < 4 + (size_t)n) {
			size_t keep = blen - bpos, want;
			memmove(buf, buf + bpos, keep);
			blen = keep;
			bpos = 0;
			want = fsize - off < CHUNK ? (size_t)(fsize - off) :
			    CHUNK;
			if (want == 0)
				break;
			if ((r = audit_pread(a, a->fd_entries, buf + blen,
			    want, off)) != CV_OK)
				goto out;
			off += want;
			blen += want;
			continue;
		}
		if (cv_audit_view(buf + bpos + 4, n, &v) != CV_OK) {
			if (i >= x.signed_size)
				break;	/* a torn tail: not an entry */
			if (x.first_malformed == UINT64_MAX)
				x.first_malformed = i;
		}
		cv_merkle_leaf_hash(buf + bpos + 4, n, h);
		bpos += 4 + n;
		fpos += 4 + n;
		/* Inside the checkpointed part the derived files must agree:
		 * the stored leaf hashes also name what changed. */
		if (i < x.signed_size) {
			const uint8_t *s;
			cv_put_u32be(ob, (uint32_t)(fpos >> 32));
			cv_put_u32be(ob + 4, (uint32_t)fpos);
			if ((r = check_item(&x, -1, i, ob)) != CV_OK ||
			    (r = item(a, &x.level[0], i, &s)) != CV_OK)
				goto out;
			if (first_bad == UINT64_MAX &&
			    memcmp(s, h, CV_HASH_BYTES) != 0)
				first_bad = i;
			if (first_bad != UINT64_MAX && i - first_bad < 2) {
				memcpy(hm[i - first_bad], h, CV_HASH_BYTES);
				memcpy(sm[i - first_bad], s, CV_HASH_BYTES);
				have[i - first_bad] = 1;
			}
		} else if (first_bad != UINT64_MAX && i - first_bad == 1) {
			/* The last checkpointed entry failed: the one after
			 * it tells a deletion or a swap by its stored hash.
			 * Nothing signs that hash; it only picks the message. */
			memcpy(hm[1], h, CV_HASH_BYTES);
			if ((r = stored_leaf(&x, i, sm[1], &have[1])) != CV_OK)
				goto out;
		}
		if ((r = push_leaf(&x, stk, h)) != CV_OK)
			goto out;
		i++;
		while (ti < nt && t[ti].size == i) {
			stack_root(stk, root);
			if (memcmp(root, t[ti].root, CV_HASH_BYTES) != 0)
				break;
			t[ti++].checked = 1;
		}
		/* An entry that failed its stored hash is the report: read
		 * on to the next one only, which tells a deletion or a swap
		 * from an edit, whatever checkpoint falls between (one right
		 * after the entry hid it). Else a root mismatch is: below. */
		if (first_bad != UINT64_MAX ? i - first_bad >= 2 :
		    ti < nt && t[ti].size == i && !t[ti].checked)
			break;
	}
	rep->entries = i;
	if (first_bad != UINT64_MAX || (x.signed_size > i && ti < nt)) {
		uint64_t m = first_bad != UINT64_MAX ? first_bad : i;
		if (have[0] && have[1] && memcmp(hm[0], sm[1], 32) == 0 &&
		    memcmp(hm[1], sm[0], 32) == 0)
			r = fail(rep, m, "reordered: entries %llu and %llu "
			    "were swapped", (unsigned long long)m,
			    (unsigned long long)m + 1);
		else if (have[0] && have[1] && memcmp(hm[0], sm[1], 32) == 0)
			r = fail(rep, m, "missing: entry %llu was deleted",
			    (unsigned long long)m);
		else if (have[0])
			r = fail(rep, m, "edited: entry %llu does not match "
			    "its recorded hash", (unsigned long long)m);
		else if (bad_len)
			r = fail(rep, i, "entry %llu: malformed (length %u); "
			    "the entries file was edited", (unsigned long long)
			    i, bad_len);
		else
			r = fail(rep, m, "truncated: the log ends at entry "
			    "%llu but %llu were recorded", (unsigned long long)i,
			    (unsigned long long)x.signed_size);
		goto out;
	}
	if (ti < nt) {
		struct target *y = &t[ti];
		if (y->size > i)
			r = y->given ? fail(rep, i, "rolled back: the given "
			    "checkpoint #%u covers %llu entries, the log has "
			    "%llu", y->num, (unsigned long long)y->size,
			    (unsigned long long)i) : fail(rep, i, "truncated: "
			    "stored checkpoint #%u covers %llu entries, the "
			    "log has %llu", y->num, (unsigned long long)y->size,
			    (unsigned long long)i);
		else
			r = fail(rep, y->size, "rewritten: the entries before "
			    "%llu do not match %s checkpoint #%u",
			    (unsigned long long)y->size, y->given ? "given" :
			    "stored", y->num);
		goto out;
	}
	if (x.first_malformed != UINT64_MAX) {
		r = fail(rep, x.first_malformed, "malformed: entry %llu is "
		    "not a valid entry, yet it is under a signed checkpoint "
		    "(written so, or the log was rewritten)",
		    (unsigned long long)x.first_malformed);
		goto out;
	}
	if (x.bad_level == -1) {
		r = fail(rep, x.bad_item, "derived file altered: offsets "
		    "does not match the entries at entry %llu (entries would "
		    "be read from the wrong place)",
		    (unsigned long long)x.bad_item);
		goto out;
	}
	if (x.bad_level >= 0) {
		r = fail(rep, x.bad_item << x.bad_level, "derived file "
		    "altered: tree/%d does not match the entries at node %llu "
		    "(proofs through it would not verify)", x.bad_level,
		    (unsigned long long)x.bad_item);
		goto out;
	}
	/* Past the last valid entry: only past the checkpoints, or the
	 * checks above would have failed. */
	if (fpos < fsize)
		torn_note(rep, fpos, fsize - fpos);
	r = CV_OK;
 out:
	rep->seconds = cv_now() - t0;
	free_run(&x);
	free(t);
	free(stk);
	free(buf);
	return r;
}
