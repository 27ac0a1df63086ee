/*
 * get throughput through the library: THREADS threads, each with its own
 * handle (cv_vault_dup), read random ids from IDS for SECONDS, decrypting
 * every section. Prints "get THREADS GETS SECONDS".
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

#include "base/base.h"
#include "vault/vault.h"

struct worker {
	struct cv_vault *v;
	char **ids;
	size_t nids;
	double until;
	unsigned long gets, fails;
	unsigned seed;
};

static void *
run(void *arg)
{
	struct worker *w = arg;
	struct cv_buf out = { 0 };

	/* Bounded by time and by count. */
	while (cv_now() < w->until && w->gets < 50000000UL) {
		for (int i = 0; i < 256; i++) {
			size_t k = (size_t)rand_r(&w->seed) % w->nids;
			out.len = 0;
			if (cv_vault_get_text(w->v, w->ids[k], NULL, &out) !=
			    CV_OK)
				w->fails++;
			w->gets++;
		}
	}
	cv_buf_free(&out);
	return NULL;
}

int
main(int argc, char **argv)
{
	struct cv_vault *v;
	struct worker w[16];
	pthread_t t[16];
	char **ids = NULL;
	size_t nids = 0;
	unsigned long gets = 0, fails = 0;
	int threads;
	double secs, t0;

	if (argc != 5 || (threads = atoi(argv[3])) < 1 || threads > 16 ||
	    (secs = atof(argv[4])) <= 0) {
		fprintf(stderr, "usage: bench_get DIR IDS THREADS SECONDS\n");
		return 2;
	}
	if (bench_read_ids(argv[2], &ids, &nids) != 0)
		return 1;
	if (nids == 0 || cv_vault_open(argv[1], &v) != CV_OK) {
		fprintf(stderr, "bench_get: %s\n", cv_err_detail());
		return 1;
	}
	t0 = cv_now();
	for (int i = 0; i < threads; i++) {
		w[i] = (struct worker){ .ids = ids, .nids = nids,
		    .until = t0 + secs, .seed = (unsigned)i + 1 };
		if (cv_vault_dup(v, &w[i].v) != CV_OK ||
		    pthread_create(&t[i], NULL, run, &w[i]) != 0)
			return 1;
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		gets += w[i].gets;
		fails += w[i].fails;
		cv_vault_close(w[i].v);
	}
	secs = cv_now() - t0;
	cv_vault_close(v);
	if (fails) {
		fprintf(stderr, "bench_get: %lu gets failed\n", fails);
		return 1;
	}
	printf("get %d %lu %.3f\n", threads, gets, secs);
	for (size_t i = 0; i < nids; i++)
		free(ids[i]);
	free(ids);
	return 0;
}
