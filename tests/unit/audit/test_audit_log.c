/*
 * The log through its API: concurrent appends share fsyncs and get
 * distinct, dense indexes; a torn last write is dropped at reopen; the
 * result verifies and proves.
 */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/core.h"
#include "../testutil.h"
#include "audit/audit.h"

#define THREADS 4
#define EACH 200

static const char *dir;
static struct cv_vault *v;
static struct cv_audit *a;
static uint8_t seen[THREADS * EACH + 1];

static int
setup(void **state)
{
	struct cv_vault_init_opts o = { 0 };

	(void)state;
	dir = test_vault_dir();
	if (cv_vault_init(dir, &o) != CV_OK || cv_audit_create(dir) != CV_OK ||
	    cv_vault_open(dir, &v) != CV_OK || cv_core_audit_open(v, 0, &a) != CV_OK)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	cv_audit_close(a);
	cv_vault_close(v);
	test_rm_rf(dir);
	return 0;
}

static void *
appender(void *arg)
{
	struct cv_audit_entry e = { .outcome = CV_AUDIT_ALLOWED,
	    .action = "get", .actor = arg };
	uint64_t idx;

	for (int i = 0; i < EACH; i++) {
		if (cv_audit_append(a, &e, &idx) != CV_OK ||
		    idx >= THREADS * EACH || seen[idx]++)
			return (void *)1;
	}
	return NULL;
}

static void
test_concurrent_appends(void **state)
{
	pthread_t t[THREADS];
	void *res;
	uint64_t size;
	struct cv_audit_report rep;

	(void)state;
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, appender,
		    "tester"), 0);
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], &res);
		assert_null(res);
	}
	assert_int_equal(cv_audit_size(a, &size), CV_OK);
	assert_int_equal(size, THREADS * EACH);
	for (int i = 0; i < THREADS * EACH; i++)
		assert_int_equal(seen[i], 1);
	assert_int_equal(cv_audit_verify(a, NULL, NULL, 0, &rep), CV_OK);
	assert_int_equal(rep.entries, THREADS * EACH);
}

static void
test_torn_write_dropped(void **state)
{
	char path[1200];
	uint64_t size, idx;
	int fd;
	struct cv_audit_entry e = { .outcome = CV_AUDIT_DENIED,
	    .action = "get" };
	struct cv_audit_proof p;
	struct cv_checkpoint c;
	struct cv_buf note = { 0 }, leaf = { 0 };

	(void)state;
	assert_int_equal(cv_audit_size(a, &size), CV_OK);
	/* Half a frame at the end, as a crash mid-write leaves it. */
	snprintf(path, sizeof path, "%s/audit/entries", dir);
	fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "\0\0\0\x40zz", 6), 6);
	close(fd);
	cv_audit_close(a);
	assert_int_equal(cv_core_audit_open(v, 0, &a), CV_OK);
	/* The cut is an entry of its own, then the log goes on. */
	assert_int_equal(cv_audit_leaf(a, size, &leaf), CV_OK);
	assert_non_null(memmem(leaf.p, leaf.len, "audit.repair", 12));
	assert_non_null(memmem(leaf.p, leaf.len, "cut 6 bytes", 11));
	assert_int_equal(cv_audit_append(a, &e, &idx), CV_OK);
	assert_int_equal(idx, size + 1);
	assert_int_equal(cv_audit_checkpoint(a, &note), CV_OK);
	assert_int_equal(cv_checkpoint_parse((char *)note.p, note.len, &c),
	    CV_OK);
	assert_int_equal(c.size, size + 2);
	assert_int_equal(cv_audit_prove(a, idx, c.size, &p), CV_OK);
	assert_int_equal(cv_merkle_verify_inclusion(p.index, p.size, p.leaf,
	    (const uint8_t (*)[CV_HASH_BYTES])p.hash, p.n, c.root), CV_OK);
	cv_buf_free(&note);
	cv_buf_free(&leaf);
}

/*
 * Zeros after the last entry (a power loss between write and fdatasync):
 * verify notes them and counts only the entries; the next open cuts them,
 * keeps them aside, and never signs them.
 */
static void
test_zero_tail_cut(void **state)
{
	char path[1200];
	static const uint8_t zeros[64];
	struct cv_audit *ro = NULL;
	struct cv_audit_report rep;
	struct cv_checkpoint c;
	struct cv_buf note = { 0 };
	uint64_t size, after;
	int fd;

	(void)state;
	assert_int_equal(cv_audit_checkpoint(a, &note), CV_OK);
	assert_int_equal(cv_audit_size(a, &size), CV_OK);
	snprintf(path, sizeof path, "%s/audit/entries", dir);
	fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, zeros, sizeof zeros), (ssize_t)sizeof zeros);
	close(fd);
	assert_int_equal(cv_core_audit_open(v, 1, &ro), CV_OK);
	assert_int_equal(cv_audit_verify(ro, NULL, NULL, 0, &rep), CV_OK);
	assert_int_equal(rep.entries, size);
	assert_non_null(strstr(rep.note, "64 bytes"));
	cv_audit_close(ro);
	cv_audit_close(a);
	assert_int_equal(cv_core_audit_open(v, 0, &a), CV_OK);
	assert_int_equal(cv_audit_size(a, &after), CV_OK);
	assert_int_equal(after, size + 1);	/* the audit.repair entry */
	note.len = 0;
	assert_int_equal(cv_audit_checkpoint(a, &note), CV_OK);
	assert_int_equal(cv_checkpoint_parse((char *)note.p, note.len, &c),
	    CV_OK);
	assert_int_equal(c.size, size + 1);
	assert_int_equal(cv_core_audit_open(v, 1, &ro), CV_OK);
	assert_int_equal(cv_audit_verify(ro, NULL, NULL, 0, &rep), CV_OK);
	assert_int_equal(rep.entries, size + 1);
	assert_string_equal(rep.note, "");
	cv_audit_close(ro);
	cv_buf_free(&note);
}

/* Checkpoints in DIR/audit/checkpoints (u32 len || note || u32 len). */
static unsigned
stored_checkpoints(void)
{
	char path[1200];
	uint8_t len[4];
	unsigned n = 0;
	FILE *f;

	snprintf(path, sizeof path, "%s/audit/checkpoints", dir);
	assert_non_null(f = fopen(path, "rb"));
	while (fread(len, 1, 4, f) == 4) {
		uint32_t l = (uint32_t)len[0] << 24 | (uint32_t)len[1] << 16 |
		    (uint32_t)len[2] << 8 | len[3];
		assert_int_equal(fseek(f, (long)l + 4, SEEK_CUR), 0);
		n++;
	}
	fclose(f);
	return n;
}

static void
test_checkpoints_paced(void **state)
{
	struct cv_audit_entry e = { .outcome = CV_AUDIT_ALLOWED,
	    .action = "get" };
	unsigned before = stored_checkpoints(), after;
	double t0 = cv_now(), secs;

	(void)state;
	/* Appends for about 1.5 s: at most one checkpoint a second. */
	while (cv_now() - t0 < 1.5)
		assert_int_equal(cv_audit_append(a, &e, NULL), CV_OK);
	secs = cv_now() - t0;
	after = stored_checkpoints();
	assert_true(after - before >= 1);
	assert_true(after - before <= (unsigned)secs + 1);
}

/* cv_audit_submit: every waiter hears once, with its own index. */
#define SUBMITS 500
static pthread_mutex_t sub_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sub_cv = PTHREAD_COND_INITIALIZER;
static unsigned sub_done, sub_failed;
static uint64_t sub_index[SUBMITS];

static void
on_done(void *ctx, cv_err r, uint64_t index)
{
	pthread_mutex_lock(&sub_mu);
	if (r == CV_OK)
		sub_index[(uintptr_t)ctx] = index;
	else
		sub_failed++;
	sub_done++;
	pthread_cond_broadcast(&sub_cv);
	pthread_mutex_unlock(&sub_mu);
}

static void
wait_submits(unsigned n)
{
	pthread_mutex_lock(&sub_mu);
	while (sub_done < n)
		pthread_cond_wait(&sub_cv, &sub_mu);
	pthread_mutex_unlock(&sub_mu);
}

static void
test_submit(void **state)
{
	struct cv_audit_entry e = { .outcome = CV_AUDIT_ALLOWED,
	    .action = "records.get", .actor = "async" };
	static uint8_t hit[SUBMITS];
	uint64_t before, after;
	struct cv_buf leaf = { 0 };

	(void)state;
	assert_int_equal(cv_audit_size(a, &before), CV_OK);
	for (uintptr_t i = 0; i < SUBMITS; i++)
		assert_int_equal(cv_audit_submit(a, &e, on_done, (void *)i),
		    CV_OK);
	wait_submits(SUBMITS);
	assert_int_equal(sub_failed, 0);
	assert_int_equal(cv_audit_size(a, &after), CV_OK);
	assert_int_equal(after, before + SUBMITS);
	for (int i = 0; i < SUBMITS; i++) {
		assert_true(sub_index[i] >= before && sub_index[i] < after);
		assert_int_equal(hit[sub_index[i] - before]++, 0);
	}
	/* Submitted in order from one thread: stored in that order. */
	for (int i = 1; i < SUBMITS; i++)
		assert_true(sub_index[i] > sub_index[i - 1]);
	assert_int_equal(cv_audit_leaf(a, sub_index[7], &leaf), CV_OK);
	assert_non_null(memmem(leaf.p, leaf.len, "async", 5));
	cv_buf_free(&leaf);
	/* The checkpointer signs what was submitted within about a second. */
	{
		unsigned n0 = stored_checkpoints();
		struct cv_checkpoint c;
		double t0 = cv_now();
		while (stored_checkpoints() == n0 && cv_now() - t0 < 5)
			usleep(50000);
		assert_int_equal(cv_audit_latest(a, &c), CV_OK);
		assert_true(c.size >= after);
	}

	/* A log that cannot be synced fails the waiter, and stores none.
	 * (A fresh handle: its checkpointer's first tick is a second away,
	 * so the injected fault meets the batch.) */
	cv_audit_close(a);
	assert_int_equal(cv_core_audit_open(v, 0, &a), CV_OK);
	setenv("CLEARVAULT_FAULT", "audit.sync:1", 1);
	assert_int_equal(cv_audit_submit(a, &e, on_done, (void *)0), CV_OK);
	wait_submits(SUBMITS + 1);
	unsetenv("CLEARVAULT_FAULT");
	assert_int_equal(sub_failed, 1);
	assert_int_equal(cv_audit_size(a, &before), CV_OK);
	assert_int_equal(before, after);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent_appends),
		cmocka_unit_test(test_torn_write_dropped),
		cmocka_unit_test(test_zero_tail_cut),
		cmocka_unit_test(test_checkpoints_paced),
		cmocka_unit_test(test_submit),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
