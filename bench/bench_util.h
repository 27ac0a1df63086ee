/*
 * Small pieces the benchmark programs share. Header-only: bench_tls links
 * no clearvault library.
 */
#ifndef CV_BENCH_UTIL_H
#define CV_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The lines of PATH (record ids, one a line) as strings in *IDS (never
 * freed: the programs exit). 0 on success, -1 when the file cannot be
 * read or memory runs out.
 */
static inline int
bench_read_ids(const char *path, char ***ids, size_t *n)
{
	char line[128], **v = NULL;
	size_t cap = 0, k = 0;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		if (k == cap) {
			char **w;
			cap = cap ? cap * 2 : 1024;
			if ((w = realloc(v, cap * sizeof *v)) == NULL)
				goto fail;
			v = w;
		}
		if ((v[k++] = strdup(line)) == NULL)
			goto fail;
	}
	fclose(f);
	*ids = v;
	*n = k;
	return 0;
 fail:
	fclose(f);
	return -1;
}

/* xorshift64: reproducible, fast, good enough to pick keys. */
static uint64_t bench_rng = 88172645463325252ULL;

static inline uint64_t
bench_next(void)
{
	bench_rng ^= bench_rng << 13;
	bench_rng ^= bench_rng >> 7;
	bench_rng ^= bench_rng << 17;
	return bench_rng;
}

#endif
