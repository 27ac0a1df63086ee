/*
 * The audit log at scale, in one process: durable batched appends (and,
 * as the baseline, the same frames appended to a plain file with the same
 * fsyncs), a full verify, and inclusion proofs at the final size.
 * Usage: bench_audit DIR N BATCH [DB]. DIR must not exist. DB: an empty
 * PostgreSQL database's URI, for a vault whose log is there (issue 13).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "audit/audit.h"
#include "vault/vault.h"

static struct cv_buf leaves;
static size_t *lens;

/* A typical read entry: one record, one case, a reason. */
static void
make_leaves(size_t batch)
{
	char rid[32], sess[40];
	const char *recs[1] = { rid };

	lens = calloc(batch, sizeof *lens);
	for (size_t i = 0; i < batch; i++) {
		struct cv_audit_entry e = { .outcome = CV_AUDIT_ALLOWED,
		    .action = "get", .actor = "investigator7",
		    .source = "127.0.0.1", .session = sess,
		    .purpose = "CASE-2025-0042", .sections = 0x1ff,
		    .records = recs, .nrecords = 1 };
		size_t before = leaves.len;
		snprintf(rid, sizeof rid, "CV-%016zX", i * 2654435761u);
		snprintf(sess, sizeof sess, "s-%zu", i % 97);
		if (cv_audit_encode(&e, &leaves) != CV_OK)
			exit(1);
		lens[i] = leaves.len - before;
	}
}

/* A writer of its own: N entries in batches of BATCH on A. */
struct writer {
	struct cv_audit *a;
	uint64_t n, batch;
	int failed;
};

static void *
write_all(void *arg)
{
	struct writer *w = arg;
	uint64_t first;

	for (uint64_t done = 0; done < w->n; done += w->batch) {
		if (cv_audit_append_leaves(w->a, leaves.p, lens,
		    (size_t)w->batch, &first) != CV_OK) {
			w->failed = 1;
			break;
		}
	}
	return NULL;
}

/*
 * Two handles (for PostgreSQL two sessions each, as two nodes) appending
 * N/2 entries each at once: the rate of both together.
 */
static double
two_writers(struct cv_vault *v, struct cv_audit *a, uint64_t n,
    uint64_t batch)
{
	struct writer w[2] = { { .a = a }, { 0 } };
	pthread_t t[2];
	double t0;

	if (cv_core_audit_open(v, 0, &w[1].a) != CV_OK)
		return -1;
	t0 = cv_now();
	for (int i = 0; i < 2; i++) {
		w[i].n = n / 2;
		w[i].batch = batch;
		if (pthread_create(&t[i], NULL, write_all, &w[i]) != 0)
			exit(1);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	t0 = cv_now() - t0;
	cv_audit_close(w[1].a);
	return w[0].failed || w[1].failed ? -1 : (double)(n / 2 / batch *
	    batch * 2) / t0;
}

int
main(int argc, char **argv)
{
	struct cv_vault_init_opts o = { .db = argc == 5 ? argv[4] : NULL };
	struct cv_vault *v;
	struct cv_audit *a;
	struct cv_audit_report rep;
	struct cv_audit_proof p;
	struct cv_buf note = { 0 }, frames = { 0 };
	struct cv_checkpoint c;
	uint64_t n, batch, first;
	double t0, t_app, t_base, t_prove, t_check;
	char path[1200];
	int fd;

	if (argc < 4 || argc > 5 || (n = strtoull(argv[2], NULL, 10)) == 0 ||
	    (batch = strtoull(argv[3], NULL, 10)) == 0 || batch > n) {
		fprintf(stderr, "usage: bench_audit DIR N BATCH [DB]\n");
		return 2;
	}
	if (cv_vault_init(argv[1], &o) != CV_OK ||
	    cv_audit_create(argv[1], o.db) != CV_OK ||
	    cv_vault_open(argv[1], &v) != CV_OK ||
	    cv_core_audit_open(v, 0, &a) != CV_OK) {
		fprintf(stderr, "bench_audit: %s\n", cv_err_detail());
		return 1;
	}
	make_leaves((size_t)batch);

	/* Baseline: the same frames, a plain file, the same fsyncs. */
	for (size_t i = 0, off = 0; i < batch; off += lens[i++]) {
		uint8_t l[4];
		cv_put_u32be(l, (uint32_t)lens[i]);
		if (cv_buf_add(&frames, l, 4) != CV_OK ||
		    cv_buf_add(&frames, leaves.p + off, lens[i]) != CV_OK)
			return 1;
	}
	snprintf(path, sizeof path, "%s/baseline", argv[1]);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		return 1;
	t0 = cv_now();
	for (uint64_t done = 0; done < n; done += batch) {
		if (write(fd, frames.p, frames.len) != (ssize_t)frames.len ||
		    fdatasync(fd) != 0)
			return 1;
	}
	t_base = cv_now() - t0;
	close(fd);
	unlink(path);

	t0 = cv_now();
	for (uint64_t done = 0; done < n; done += batch) {
		if (cv_audit_append_leaves(a, leaves.p, lens, (size_t)batch,
		    &first) != CV_OK) {
			fprintf(stderr, "bench_audit: %s\n", cv_err_detail());
			return 1;
		}
	}
	t_app = cv_now() - t0;
	n = (n / batch) * batch;
	if (cv_audit_checkpoint(a, &note) != CV_OK ||
	    cv_checkpoint_parse((char *)note.p, note.len, &c) != CV_OK)
		return 1;
	printf("append %llu entries (%zu bytes each, batches of %llu) to %s: "
	    "%.0f entries/s durable; plain file with the same fsyncs %.0f "
	    "entries/s; ratio %.2f\n", (unsigned long long)n,
	    leaves.len / (size_t)batch, (unsigned long long)batch,
	    o.db ? "PostgreSQL" : "files", (double)n / t_app, (double)n / t_base, t_base / t_app);

	if (o.db) {
		double two = two_writers(v, a, n, batch);
		if (two < 0) {
			fprintf(stderr, "bench_audit: %s\n", cv_err_detail());
			return 1;
		}
		printf("two writers (two handles, two sessions each, as two "
		    "nodes), %llu entries each: %.0f entries/s together; "
		    "ratio to one %.2f\n", (unsigned long long)(n / 2),
		    two, two / ((double)n / t_app));
		if (cv_audit_checkpoint(a, NULL) != CV_OK)
			return 1;
	}
	if (cv_audit_verify(a, NULL, NULL, 0, &rep) != CV_OK) {
		fprintf(stderr, "bench_audit: verify: %s\n", rep.what);
		return 1;
	}
	printf("verify %llu entries: %.2f s, %.0f entries/s\n",
	    (unsigned long long)rep.entries, rep.seconds,
	    (double)rep.entries / rep.seconds);

	/* Proofs at the final size, random indexes. */
	t_prove = t_check = 0;
	srand(7);
	for (int i = 0; i < 10000; i++) {
		uint64_t idx = ((uint64_t)rand() << 31 | (uint64_t)rand()) %
		    c.size;
		t0 = cv_now();
		if (cv_audit_prove(a, idx, c.size, &p) != CV_OK)
			return 1;
		t_prove += cv_now() - t0;
		t0 = cv_now();
		if (cv_merkle_verify_inclusion(p.index, p.size, p.leaf,
		    (const uint8_t (*)[CV_HASH_BYTES])p.hash, p.n, c.root) !=
		    CV_OK)
			return 1;
		t_check += cv_now() - t0;
	}
	printf("inclusion proof at %llu entries: %.1f us to make, %.1f us "
	    "to verify (%zu hashes)\n", (unsigned long long)c.size,
	    t_prove / 10000 * 1e6, t_check / 10000 * 1e6, p.n);
	cv_buf_free(&note);
	cv_buf_free(&frames);
	cv_buf_free(&leaves);
	free(lens);
	cv_audit_close(a);
	cv_vault_close(v);
	return 0;
}
