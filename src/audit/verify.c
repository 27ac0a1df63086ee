/*
 * audit verify: recompute the tree from the entries as they are on disk
 * (no repair first: evidence is never touched) and hold every checkpoint,
 * stored or given, against it.
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

static void
push_leaf(struct stack *s, const uint8_t h[CV_HASH_BYTES])
{
	uint64_t k = s->size;

	memcpy(s->h[s->n++], h, CV_HASH_BYTES);
	/* Merge while the new leaf completes a pair. */
	for (; k & 1; k >>= 1) {
		s->n--;
		cv_merkle_node_hash(s->h[s->n - 1], s->h[s->n], s->h[s->n - 1]);
	}
	s->size++;
}

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

/* Reads every stored checkpoint, checking each signature. */
static cv_err
stored_targets(struct cv_audit *a, const uint8_t pk[32], struct target **t,
    size_t *nt, struct cv_audit_report *rep)
{
	struct stat st;
	uint8_t len[4];
	uint64_t off = 0;
	struct cv_buf note = { 0 };
	struct cv_checkpoint c;
	size_t tl, cap = 0;
	cv_err r = CV_OK;

	if (fstat(a->fd_ckpt, &st) != 0)
		return cv_fail(CV_ERR_IO, "audit log: cannot stat checkpoints");
	while (off < (uint64_t)st.st_size) {
		uint32_t n;
		if ((uint64_t)st.st_size - off < 8 ||
		    (r = audit_pread(a, a->fd_ckpt, len, 4, off)) != CV_OK ||
		    (n = cv_get_u32be(len)) > CV_NOTE_MAX_BYTES ||
		    (uint64_t)st.st_size - off - 8 < n) {
			r = fail(rep, 0, "checkpoint file malformed at byte "
			    "%llu", (unsigned long long)off);
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

cv_err
cv_audit_verify(struct cv_audit *a, const char *const *given,
    const size_t *given_len, size_t ngiven, struct cv_audit_report *rep)
{
	struct target *t = NULL;
	size_t nt = 0, ti = 0, tl;
	struct stack *stk = NULL;
	struct cv_checkpoint c;
	uint8_t pk[32], h[CV_HASH_BYTES], root[CV_HASH_BYTES];
	uint8_t *buf = NULL, *stored = NULL;
	uint64_t off = 0, fsize, nstored, i = 0, first_bad = UINT64_MAX;
	uint64_t sbase = 0, scount = 0;
	uint8_t hm[2][CV_HASH_BYTES], sm[2][CV_HASH_BYTES];
	int have[2] = { 0, 0 };
	size_t blen = 0, bpos = 0;
	struct stat st;
	double t0 = cv_now();
	cv_err r;

	memset(rep, 0, sizeof *rep);
	cv_keys_audit_pubkey(a->keys, pk);
	if ((r = audit_lock(a, LOCK_SH)) != CV_OK)
		return r;
	if ((r = stored_targets(a, pk, &t, &nt, rep)) != CV_OK)
		goto out;
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
	if (fstat(a->fd_entries, &st) != 0 ||
	    (stk = calloc(1, sizeof *stk)) == NULL ||
	    (buf = malloc(CHUNK + 4 + CV_AUDIT_MAX_LEAF)) == NULL ||
	    (stored = malloc(CHUNK)) == NULL) {
		r = CV_ERR_NOMEM;
		goto out;
	}
	fsize = (uint64_t)st.st_size;
	nstored = 0;
	if (audit_level_fd(a, 0) >= 0 && fstat(a->fd_level[0], &st) == 0)
		nstored = (uint64_t)st.st_size / CV_HASH_BYTES;
	while (ti < nt && t[ti].size == 0)
		t[ti++].checked = 1;
	/* Stream the frames; targets are checked as their size passes. */
	for (;;) {
		uint32_t n;
		if (blen - bpos < 4 || blen - bpos < 4 +
		    (size_t)cv_get_u32be(buf + bpos)) {
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
		n = cv_get_u32be(buf + bpos);
		if (n > CV_AUDIT_MAX_LEAF) {
			r = fail(rep, i, "entry %llu: malformed (length %u); "
			    "the entries file was edited", (unsigned long long)
			    i, n);
			goto out;
		}
		cv_merkle_leaf_hash(buf + bpos + 4, n, h);
		bpos += 4 + n;
		/* Against the stored leaf hashes, to name what changed. */
		if (i < nstored) {
			const uint8_t *s;
			if (i >= sbase + scount) {
				/* Stored leaf hashes, a chunk at a time. */
				sbase = i;
				scount = nstored - i < CHUNK / CV_HASH_BYTES ?
				    nstored - i : CHUNK / CV_HASH_BYTES;
				if ((r = audit_pread(a, a->fd_level[0], stored,
				    scount * CV_HASH_BYTES,
				    sbase * CV_HASH_BYTES)) != CV_OK)
					goto out;
			}
			s = stored + (i - sbase) * CV_HASH_BYTES;
			if (first_bad == UINT64_MAX &&
			    memcmp(s, h, CV_HASH_BYTES) != 0)
				first_bad = i;
			if (first_bad != UINT64_MAX && i - first_bad < 2) {
				memcpy(hm[i - first_bad], h, CV_HASH_BYTES);
				memcpy(sm[i - first_bad], s, CV_HASH_BYTES);
				have[i - first_bad] = 1;
			}
		}
		push_leaf(stk, h);
		i++;
		while (ti < nt && t[ti].size == i) {
			stack_root(stk, root);
			if (memcmp(root, t[ti].root, CV_HASH_BYTES) != 0)
				break;
			t[ti++].checked = 1;
		}
		if (ti < nt && t[ti].size == i && !t[ti].checked)
			break;	/* a root mismatch: report below */
	}
	rep->entries = i;
	if (first_bad != UINT64_MAX || (nstored > i && ti < nt)) {
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
		else
			r = fail(rep, m, "truncated: the log ends at entry "
			    "%llu but %llu were recorded", (unsigned long long)i,
			    (unsigned long long)nstored);
		goto out;
	}
	if (ti < nt) {
		struct target *x = &t[ti];
		if (x->size > i)
			r = x->given ? fail(rep, i, "rolled back: the given "
			    "checkpoint #%u covers %llu entries, the log has "
			    "%llu", x->num, (unsigned long long)x->size,
			    (unsigned long long)i) : fail(rep, i, "truncated: "
			    "stored checkpoint #%u covers %llu entries, the "
			    "log has %llu", x->num, (unsigned long long)x->size,
			    (unsigned long long)i);
		else
			r = fail(rep, x->size, "rewritten: the entries before "
			    "%llu do not match %s checkpoint #%u",
			    (unsigned long long)x->size, x->given ? "given" :
			    "stored", x->num);
		goto out;
	}
	r = CV_OK;
 out:
	rep->seconds = cv_now() - t0;
	audit_unlock(a);
	free(t);
	free(stk);
	free(buf);
	free(stored);
	return r;
}
