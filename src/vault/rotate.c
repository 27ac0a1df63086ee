#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vault_internal.h"

#define BATCH 8192

cv_err
cv_vault_rotate(struct cv_vault *v,
    void (*progress)(void *ctx, const struct cv_rotate_stats *st),
    void *ctx, struct cv_rotate_stats *st)
{
	struct cv_keys *k = v->sk->k;
	struct cv_store_dek *d = NULL;
	int64_t after = 0, records, shredded, kept;
	double t0 = cv_now(), last = t0;
	uint32_t gen;
	size_t n, i;
	cv_err r;

	memset(st, 0, sizeof *st);
	/*
	 * No load meanwhile: its data keys, wrapped under the key it opened
	 * with, would outlive the old key's destruction unreadable.
	 */
	if ((r = vault_lock(v, 10)) != CV_OK)
		return r;
	if ((r = cv_store_count(v->store, &records, &shredded)) != CV_OK ||
	    (r = cv_store_kept_count(v->store, &kept)) != CV_OK)
		goto out;
	/* Kept versions' keys too: every one of them stays restorable. */
	st->total = (uint64_t)(records - shredded + kept);
	if ((d = calloc(BATCH, sizeof *d)) == NULL) {
		r = CV_ERR_NOMEM;
		goto out;
	}
	if ((r = cv_keys_rotate_begin(k, &st->resumed)) != CV_OK)
		goto out;
	gen = cv_keys_current_gen(k);
	/*
	 * Each batch commits on its own. Until rotate_finish both the old and
	 * the new key are in the keyring, so a record is readable whichever
	 * key wraps it, and a rerun only has the remainder left to do.
	 */
	for (;;) {
		if ((r = cv_store_dek_scan(v->store, after, gen, d, BATCH,
		    &n)) != CV_OK)
			goto out;
		if (n == 0)
			break;
		if ((r = cv_store_begin(v->store)) != CV_OK)
			goto out;
		for (i = 0; i < n; i++) {
			uint32_t ng;
			uint8_t w[CV_WDEK_BYTES];
			if ((r = cv_keys_dek_rewrap(k, d[i].rid, d[i].gen,
			    d[i].wdek, &ng, w)) != CV_OK ||
			    (r = cv_store_dek_set(v->store, d[i].ref, ng, w)) !=
			    CV_OK) {
				cv_store_rollback(v->store);
				goto out;
			}
		}
		if ((r = cv_store_commit(v->store)) != CV_OK)
			goto out;
		if (cv_fault("rotate.batch")) {
			r = cv_fail(CV_ERR_INTERRUPTED, "fault injected after "
			    "a rotation batch");
			goto out;
		}
		after = d[n - 1].ref;
		st->rewrapped += n;
		st->seconds = cv_now() - t0;
		if (progress && st->seconds - (last - t0) >= 0.5) {
			last = cv_now();
			progress(ctx, st);
		}
	}
	if ((r = cv_keys_rotate_finish(k)) != CV_OK)
		goto out;
	/* Old wrapped keys must not linger in the write-ahead log. */
	r = cv_store_checkpoint(v->store);
 out:
	st->seconds = cv_now() - t0;
	if (d) {
		sodium_memzero(d, BATCH * sizeof *d);
		free(d);
	}
	vault_unlock(v);
	return r;
}
