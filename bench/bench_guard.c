/*
 * The exfiltration guard at scale, in one process: USERS users, each
 * with a realistic small history (20 reads over 10 hours from a pool of
 * 30 records, two cases, one address), then DECISIONS one-record reads
 * by random users on the warmed table. Reports decisions/s, the time of
 * one decision (mean, p50, p99), the memory held (cv_guard_memory and
 * the process's RSS), and as the baseline a plain open-addressing hash
 * table doing a lookup-or-insert of the same (user, record) keys, hashed
 * with the same SipHash.
 * Usage: bench_guard [USERS [DECISIONS]] (default 1,000,000 2,000,000).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"

#include <sodium.h>

#include "guard/guard.h"

#define HISTORY 20
#define POOL 30

static const int64_t T = 1893974400LL * 1000000 + 8 * 3600LL * 1000000;

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* VmRSS or VmHWM from /proc/self/status, in kB. */
static long
proc_kb(const char *field)
{
	char line[256];
	long kb = -1;
	size_t n = strlen(field);
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, field, n) == 0 && line[n] == ':')
			kb = strtol(line + n + 1, NULL, 10);
	}
	fclose(f);
	return kb;
}

static void
names(uint32_t user, uint32_t k, char u[16], char r[32], char c[16])
{
	snprintf(u, 16, "user%07u", user);
	snprintf(r, 32, "CV-%08X%08X", user * 2654435761u, k);
	snprintf(c, 16, "C-%u", user * 2 + k % 2);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The baseline: u64 keys, linear probing, lookup-or-insert. */
struct plain {
	uint64_t *k;
	size_t mask;
};

static int
plain_touch(struct plain *p, const uint8_t key[16], const char *user,
    const char *rid)
{
	uint8_t hu[8], hr[8];
	uint64_t a, b, k;
	size_t i;

	crypto_shorthash(hu, (const uint8_t *)user, strlen(user), key);
	crypto_shorthash(hr, (const uint8_t *)rid, strlen(rid), key);
	memcpy(&a, hu, 8);
	memcpy(&b, hr, 8);
	k = (a ^ b * 0x9E3779B97F4A7C15ull) | 1;
	for (i = k & p->mask; p->k[i]; i = (i + 1) & p->mask) {
		if (p->k[i] == k)
			return 0;
	}
	p->k[i] = k;
	return 1;
}

int
main(int argc, char **argv)
{
	uint32_t users = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) :
	    1000000;
	uint32_t n = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 2000000;
	struct cv_guard *g;
	struct cv_guard_decision d;
	struct plain p;
	uint8_t key[16];
	uint32_t *lat;
	uint64_t t0, t_warm, t_dec, t_plain, allowed = 0;
	long rss0, rss1, hwm;
	size_t mem, cap;
	char u[16], r[32], c[16];
	const char *rid = r;
	struct cv_guard_read rd = { .user = u, .addr = "10.20.30.40",
	    .case_id = c, .rids = &rid, .nrids = 1,
	    .limits = &cv_guard_limits_default };

	if (users == 0 || n == 0 || (lat = calloc(n, sizeof *lat)) == NULL) {
		fprintf(stderr, "usage: bench_guard [USERS [DECISIONS]]\n");
		return 2;
	}
	rss0 = proc_kb("VmRSS");
	if (cv_guard_new(&g) != CV_OK)
		return 1;

	/* Warm-up: HISTORY passes over all users, 30 minutes apart. */
	t0 = now_ns();
	for (uint32_t k = 0; k < HISTORY; k++) {
		for (uint32_t i = 0; i < users; i++) {
			names(i, (uint32_t)(bench_next() % POOL), u, r, c);
			rd.now_us = T + k * 1800LL * 1000000 + i % 1000 * 1000;
			if (cv_guard_check(g, &rd, &d) != CV_OK) {
				fprintf(stderr, "bench_guard: %s\n",
				    cv_err_detail());
				return 1;
			}
		}
	}
	t_warm = now_ns() - t0;
	mem = cv_guard_memory(g);
	rss1 = proc_kb("VmRSS");

	/* Decisions on the warmed table. */
	t0 = now_ns();
	for (uint32_t j = 0; j < n; j++) {
		uint64_t a, b;
		names((uint32_t)(bench_next() % users),
		    (uint32_t)(bench_next() % POOL), u, r, c);
		rd.now_us = T + HISTORY * 1800LL * 1000000 + j / 1000 * 1000000LL;
		a = now_ns();
		if (cv_guard_check(g, &rd, &d) != CV_OK)
			return 1;
		b = now_ns();
		lat[j] = (uint32_t)(b - a);
		allowed += d.verdict == CV_GUARD_ALLOW;
	}
	t_dec = now_ns() - t0;
	hwm = proc_kb("VmHWM");

	/* Baseline: the same keys into a plain hash table, same sequence. */
	crypto_shorthash_keygen(key);
	for (cap = 1024; cap < 2 * ((size_t)users * HISTORY + n); cap *= 2)
		;
	p.mask = cap - 1;
	if ((p.k = calloc(cap, sizeof *p.k)) == NULL)
		return 1;
	bench_rng = 88172645463325252ULL;
	for (uint32_t k = 0; k < HISTORY; k++) {
		for (uint32_t i = 0; i < users; i++) {
			names(i, (uint32_t)(bench_next() % POOL), u, r, c);
			plain_touch(&p, key, u, r);
		}
	}
	t0 = now_ns();
	for (uint32_t j = 0; j < n; j++) {
		names((uint32_t)(bench_next() % users),
		    (uint32_t)(bench_next() % POOL), u, r, c);
		plain_touch(&p, key, u, r);
	}
	t_plain = now_ns() - t0;

	qsort(lat, n, sizeof *lat, cmp_u32);
	printf("warm-up %u users x %d reads: %.0f decisions/s\n", users,
	    HISTORY, (double)users * HISTORY / (t_warm / 1e9));
	printf("decide %u one-record reads on the warmed table: %.0f "
	    "decisions/s, %.2f us mean, p50 %.2f us, p99 %.2f us, p99.9 "
	    "%.2f us, max %.1f us (target <= 5 us); %.0f%% allowed\n", n,
	    n / (t_dec / 1e9), t_dec / 1e3 / n, lat[n / 2] / 1e3,
	    lat[(size_t)n * 99 / 100] / 1e3, lat[(size_t)n * 999 / 1000] / 1e3,
	    lat[n - 1] / 1e3, 100.0 * (double)allowed / n);
	printf("plain hash table, lookup-or-insert of the same keys: %.2f us; "
	    "ratio %.2f\n", t_plain / 1e3 / n, (double)t_dec / (double)t_plain);
	printf("memory for %u users: cv_guard_memory %.0f MiB (%.0f bytes/"
	    "user), RSS %.0f MiB after warm-up (%.0f MiB above start), peak "
	    "%.0f MiB (target <= 1024 MiB for 1,000,000 users)\n", users,
	    mem / 1048576.0, (double)mem / users, rss1 / 1024.0,
	    (rss1 - rss0) / 1024.0, hwm / 1024.0);
	free(p.k);
	free(lat);
	cv_guard_free(g);
	return 0;
}
