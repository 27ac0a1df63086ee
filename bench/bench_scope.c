/*
 * Breach scoping at scale: a log of N realistic entries (1,000
 * principals, mostly record reads, 1-3 record ids from a pool of one
 * million), then the scope scan for one principal (cv_scope_run, the
 * core of `clearvault scope`, without notify) against the baseline of a
 * plain sequential read of the same entries file, both first as the
 * page cache holds the file after writing it and then with the file
 * dropped from the cache. Target: 100 million entries in <= 10 s.
 * Usage: bench_scope DIR [N]   (DIR must not exist; N default 1e8)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "core/core.h"
#include "bench_util.h"

#include "audit/audit.h"
#include "scope/scope.h"
#include "vault/vault.h"

#define BATCH 100000
#define PRINCIPALS 1000
#define POOL 1000000
#define SUBJECT 42
/* Disk per entry: the leaf (~170 bytes) and its frame, the offset and
 * about two tree hashes. */
#define BYTES_PER_ENTRY 260

static const char *const actions[] = { "records.get", "records.get",
	"records.get", "records.get", "records.get", "records.get",
	"records.get", "records.search", "session.create", "cases.members.add"
};
#define NACTIONS (sizeof actions / sizeof actions[0])

/* One batch of leaves; *expect counts SUBJECT's data-returning reads. */
static int
make_batch(struct cv_buf *leaves, size_t *lens, int64_t *t,
    uint64_t *expect)
{
	char ids[3][24], actor[16], cert[65], source[20], sess[17], purpose[24];
	const char *recs[3] = { ids[0], ids[1], ids[2] };

	leaves->len = 0;
	for (size_t i = 0; i < BATCH; i++) {
		uint64_t x = bench_next(), who = x % PRINCIPALS;
		const char *action = actions[(x >> 10) % NACTIONS];
		int denied = (x >> 20) % 20 == 0;
		size_t before = leaves->len, nrec = 1 + (x >> 24) % 3;
		struct cv_audit_entry e = { .time_us = (*t += 1000),
		    .outcome = denied ? CV_AUDIT_DENIED : CV_AUDIT_ALLOWED,
		    .action = action, .actor = actor, .cert = cert,
		    .source = source, .session = sess, .purpose = purpose,
		    .reason = denied ? "no case of yours holds this record" :
		    "", .records = recs, .nrecords = nrec };

		if (!strcmp(action, "records.get") && !denied)
			e.sections = (x >> 30) % 4 ? 0xff : 0x01;
		snprintf(actor, sizeof actor, "user%04llu",
		    (unsigned long long)who);
		snprintf(cert, sizeof cert, "%016llx%016llx%016llx%016llx",
		    (unsigned long long)who * 0x9e3779b97f4a7c15ULL, 1ULL,
		    2ULL, 3ULL);
		snprintf(source, sizeof source, "10.%llu.%llu.7",
		    (unsigned long long)who / 250, (unsigned long long)who %
		    250);
		snprintf(sess, sizeof sess, "%016llx", (unsigned long long)
		    (who * 1000003 + (uint64_t)*t / 3600000000LL));
		snprintf(purpose, sizeof purpose, "CASE-%012llu",
		    (unsigned long long)who % 97);
		for (size_t k = 0; k < nrec; k++)
			snprintf(ids[k], sizeof ids[k], "CV-%016llX",
			    (unsigned long long)(bench_next() % POOL) *
			    2654435761ULL);
		if (who == SUBJECT && e.sections)
			(*expect)++;
		if (cv_audit_encode(&e, leaves) != CV_OK)
			return -1;
		lens[i] = leaves->len - before;
	}
	return 0;
}

/* Reads PATH start to end in 8 MiB reads; bytes into *bytes. */
static double
plain_read(const char *path, uint64_t *bytes)
{
	size_t sz = 8u << 20;
	char *buf = malloc(sz);
	double t0 = cv_now();
	ssize_t n;
	int fd = open(path, O_RDONLY);

	*bytes = 0;
	if (fd < 0 || buf == NULL)
		exit(1);
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	while ((n = read(fd, buf, sz)) > 0)
		*bytes += (uint64_t)n;
	close(fd);
	free(buf);
	return cv_now() - t0;
}

/* Drops PATH from the page cache (written back first). */
static void
drop_cache(const char *path)
{
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return;
	(void)fdatasync(fd);
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);
}

static int
scope_once(struct cv_audit *a, const char *label, uint64_t expect)
{
	struct cv_scope_query q = { .kind = CV_SCOPE_PRINCIPAL,
	    .from_us = INT64_MIN, .to_us = INT64_MAX, .last = UINT64_MAX };
	struct cv_scope_result *res;
	char subject[16];

	snprintf(subject, sizeof subject, "user%04d", SUBJECT);
	q.subject = subject;
	if (cv_scope_run(a, &q, &res) != CV_OK) {
		fprintf(stderr, "bench_scope: %s\n", cv_err_detail());
		return -1;
	}
	printf("scope %s: %llu entries in %.2f s, %.0f entries/s "
	    "(%s the 10 s target for 100M: %.2f s at this rate); "
	    "principal %s: %llu reads of %zu records%s\n", label,
	    (unsigned long long)res->totals.scanned, res->totals.seconds,
	    (double)res->totals.scanned / res->totals.seconds,
	    1e8 / ((double)res->totals.scanned / res->totals.seconds) <=
	    10.0 ? "within" : "OVER",
	    1e8 / ((double)res->totals.scanned / res->totals.seconds),
	    subject, (unsigned long long)res->totals.matched, res->nrecords,
	    res->totals.matched == expect ? "" : " (WRONG COUNT)");
	cv_scope_result_free(res);
	return 0;
}

int
main(int argc, char **argv)
{
	struct cv_vault_init_opts o = { 0 };
	struct cv_vault *v;
	struct cv_audit *a;
	struct cv_buf leaves = { 0 };
	struct statvfs fs;
	size_t *lens;
	uint64_t n = 100000000, first, expect = 0, bytes, avail, done;
	int64_t t = 1767225600000000LL;	/* 2026-01-01 */
	char path[1200], parent[1100], *slash;
	double t0, secs;

	if (argc < 2 || argc > 3 ||
	    (argc == 3 && (n = strtoull(argv[2], NULL, 10)) < BATCH)) {
		fprintf(stderr, "usage: bench_scope DIR [N >= %d]\n", BATCH);
		return 2;
	}
	snprintf(parent, sizeof parent, "%s", argv[1]);
	if ((slash = strrchr(parent, '/')) != NULL)
		*slash = '\0';
	if (statvfs(slash ? parent : ".", &fs) == 0) {
		avail = (uint64_t)fs.f_bavail * fs.f_frsize;
		/* Keep a third of the free space free. */
		if (n * BYTES_PER_ENTRY > avail / 3 * 2) {
			uint64_t m = avail / 3 * 2 / BYTES_PER_ENTRY;
			printf("scaled down: %llu entries need ~%.1f GB, %.1f GB "
			    "free; using %llu\n", (unsigned long long)n,
			    (double)n * BYTES_PER_ENTRY / 1e9, (double)avail /
			    1e9, (unsigned long long)m);
			n = m;
		}
	}
	n = n / BATCH * BATCH;
	if (cv_vault_init(argv[1], &o) != CV_OK ||
	    cv_audit_create(argv[1], NULL) != CV_OK ||
	    cv_vault_open(argv[1], &v) != CV_OK ||
	    cv_core_audit_open(v, 0, &a) != CV_OK ||
	    (lens = calloc(BATCH, sizeof *lens)) == NULL) {
		fprintf(stderr, "bench_scope: %s\n", cv_err_detail());
		return 1;
	}
	t0 = cv_now();
	for (done = 0; done < n; done += BATCH) {
		if (make_batch(&leaves, lens, &t, &expect) != 0 ||
		    cv_audit_append_leaves(a, leaves.p, lens, BATCH, &first) !=
		    CV_OK) {
			fprintf(stderr, "bench_scope: %s\n", cv_err_detail());
			return 1;
		}
		if (isatty(STDERR_FILENO) && done % (BATCH * 20) == 0)
			fprintf(stderr, "\rbench_scope: %llu of %llu entries "
			    "written", (unsigned long long)done,
			    (unsigned long long)n);
	}
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "\r\033[K");
	snprintf(path, sizeof path, "%s/audit/entries", argv[1]);
	secs = plain_read(path, &bytes);
	printf("log: %llu entries, %.1f GB of entries (%.0f bytes each), "
	    "written in %.0f s\n", (unsigned long long)n, (double)bytes / 1e9,
	    (double)bytes / (double)n, cv_now() - t0);

	/* Warm: as the page cache holds the file after writing it. */
	secs = plain_read(path, &bytes);
	printf("plain read (page cache as left): %.2f s, %.2f GB/s\n", secs,
	    (double)bytes / secs / 1e9);
	if (scope_once(a, "(page cache as left)", expect) != 0)
		return 1;
	/* Cold: the file read from the disk. */
	drop_cache(path);
	secs = plain_read(path, &bytes);
	printf("plain read (dropped from cache): %.2f s, %.2f GB/s\n", secs,
	    (double)bytes / secs / 1e9);
	drop_cache(path);
	if (scope_once(a, "(dropped from cache)", expect) != 0)
		return 1;
	cv_buf_free(&leaves);
	free(lens);
	cv_audit_close(a);
	cv_vault_close(v);
	return 0;
}
