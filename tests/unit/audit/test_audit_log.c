/*
 * The log through its API: concurrent appends share fsyncs and get
 * distinct, dense indexes; a torn last write is dropped at reopen; the
 * result verifies and proves. Run on files, then again with the log in a
 * throwaway PostgreSQL (tests/pg.sh), where two handles append to one
 * log and a lost COMMIT keeps nothing. Staging's own cases (holes, late
 * and lost writes) are in test_audit_stage.c.
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
#include <libpq-fe.h>

#include "core/core.h"
#include "../testutil.h"
#include "../pgutil.h"
#include "audit/audit.h"
#include "auditutil.h"

#define THREADS 4
#define EACH 200

static uint8_t seen[1 << 20];	/* by index */
static unsigned sub_done, sub_failed;

static int
setup(void **state)
{
	(void)state;
	memset(seen, 0, sizeof seen);
	sub_done = sub_failed = 0;
	return audit_fixture_up();
}

static int
teardown(void **state)
{
	(void)state;
	audit_fixture_down();
	return 0;
}

static pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;

/* EACH appends on *H as ACTOR, each index seen once. */
static void *
append_each(struct cv_audit **h, const char *actor)
{
	struct cv_audit_entry e = { .outcome = CV_AUDIT_ALLOWED,
	    .action = "get", .actor = actor };
	uint64_t idx;
	int dup;

	for (int i = 0; i < EACH; i++) {
		if (cv_audit_append(*h, &e, &idx) != CV_OK ||
		    idx >= sizeof seen)
			return (void *)1;
		pthread_mutex_lock(&seen_mu);
		dup = seen[idx]++;
		pthread_mutex_unlock(&seen_mu);
		if (dup)
			return (void *)1;
	}
	return NULL;
}

static void *
appender(void *arg)
{
	return append_each(&a, arg);
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

/* The bytes of the log's file NAME (DIR/audit/NAME, or its large object
 * in PostgreSQL); caller frees. */
static size_t
log_file(const char *name, uint8_t **out)
{
	char path[1200];
	long n;
	FILE *f;

	if (db) {
		/* (checkpoints is checkpoints.2 once staging is set up, so
		 * that a node of the earlier release does not open it) */
		snprintf(path, sizeof path, "SELECT lo_get(obj) FROM "
		    "cv_audit_files WHERE name IN ('%s', '%s.2')", name, name);
		return pg_value(path, out);
	}
	snprintf(path, sizeof path, "%s/audit/%s", dir, name);
	assert_non_null(f = fopen(path, "rb"));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	assert_true((n = ftell(f)) >= 0);
	rewind(f);
	assert_non_null(*out = malloc((size_t)n + 1));
	assert_int_equal(fread(*out, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return (size_t)n;
}

/* Stored checkpoints (u32 len || note || u32 len). */
static unsigned
stored_checkpoints(void)
{
	uint8_t *p;
	size_t len = log_file("checkpoints", &p), off = 0;
	unsigned n = 0;

	while (len - off >= 8) {
		off += 8 + ((uint32_t)p[off] << 24 | (uint32_t)p[off + 1] << 16 |
		    (uint32_t)p[off + 2] << 8 | p[off + 3]);
		n++;
	}
	assert_int_equal(off, len);
	free(p);
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
	uint8_t hit[SUBMITS] = { 0 };
	uint64_t before, after;
	struct cv_buf leaf = { 0 };

	(void)state;
	assert_int_equal(cv_audit_size(a, &before), CV_OK);
	for (uintptr_t i = 0; i < SUBMITS; i++)
		assert_int_equal(cv_audit_submit(a, &e, on_done, (void *)i),
		    CV_OK);
	wait_submits(SUBMITS);
	assert_int_equal(sub_failed, 0);
	/* (PostgreSQL: durable when staged, in the log once moved.) */
	assert_int_equal(cv_audit_settle(a, &after), CV_OK);
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

	/* A batch that cannot be made durable (its sync, or its staging)
	 * fails the waiter, and stores none. (A fresh handle: its
	 * checkpointer's first tick is a second away, so the injected
	 * fault meets the batch.) */
	cv_audit_close(a);
	assert_int_equal(cv_core_audit_open(v, 0, &a), CV_OK);
	fault_on(db ? "audit.commit" : "audit.sync");
	assert_int_equal(cv_audit_submit(a, &e, on_done, (void *)0), CV_OK);
	wait_submits(SUBMITS + 1);
	fault_off();
	assert_int_equal(sub_failed, 1);
	assert_int_equal(cv_audit_settle(a, &before), CV_OK);
	assert_int_equal(before, after);
}

/*
 * PostgreSQL: the log is in the database, not in DIR/audit; what the
 * API reads is what the database holds.
 */
static void
test_pg_in_database(void **state)
{
	char path[1200];
	struct cv_buf leaf = { 0 };
	uint8_t *entries, *offsets;
	size_t ne, no;
	uint64_t size;

	(void)state;
	snprintf(path, sizeof path, "%s/audit/entries", dir);
	assert_int_equal(access(path, F_OK), -1);
	/* Staging set up: no name an earlier release would open by. */
	(void)pg_value("SELECT count(*)::int FROM cv_audit_files WHERE name ="
	    " 'checkpoints'", &entries);
	assert_memory_equal(entries, "\0\0\0\0", 4);
	free(entries);
	assert_int_equal(cv_audit_size(a, &size), CV_OK);
	assert_true(size > 0);
	ne = log_file("entries", &entries);
	no = log_file("offsets", &offsets);
	assert_int_equal(no, size * 8);
	assert_true(ne > 4);
	/* Entry 0 as stored: u32 length || leaf. */
	assert_int_equal(cv_audit_leaf(a, 0, &leaf), CV_OK);
	assert_int_equal(entries[0] << 24 | entries[1] << 16 | entries[2] << 8 |
	    entries[3], leaf.len);
	assert_memory_equal(entries + 4, leaf.p, leaf.len);
	free(entries);
	free(offsets);
	cv_buf_free(&leaf);
}

/* Threads on a second handle: its own connections, so another session
 * for PostgreSQL, as another node would be. */
static struct cv_audit *b;

static void *
appender_b(void *arg)
{
	return append_each(&b, arg);
}

/*
 * Two writers on one log in PostgreSQL, each handle's committer batching:
 * one order, every index once, one tree that verifies; each handle sees
 * the other's entries.
 */
static void
test_pg_two_writers(void **state)
{
	pthread_t t[2 * THREADS];
	struct cv_audit_report rep;
	struct cv_buf la = { 0 }, lb = { 0 }, note = { 0 };
	struct cv_audit_proof p;
	struct cv_checkpoint c;
	uint64_t before, sa, sb;
	void *res;

	(void)state;
	assert_int_equal(cv_core_audit_open(v, 0, &b), CV_OK);
	assert_int_equal(cv_audit_size(a, &before), CV_OK);
	memset(seen, 0, sizeof seen);
	for (uint64_t i = 0; i < before; i++)
		seen[i] = 1;
	for (int i = 0; i < 2 * THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, i % 2 ?
		    appender_b : appender, i % 2 ? "node-b" : "node-a"), 0);
	for (int i = 0; i < 2 * THREADS; i++) {
		pthread_join(t[i], &res);
		assert_null(res);
	}
	/* A's mover thread (test_submit started it) may not have moved
	 * its last batches yet: settled, the log holds them all. */
	assert_int_equal(cv_audit_settle(a, &sa), CV_OK);
	assert_int_equal(cv_audit_size(b, &sb), CV_OK);
	assert_int_equal(sa, before + 2 * THREADS * EACH);
	assert_int_equal(sb, sa);
	for (uint64_t i = 0; i < sa; i++)
		assert_int_equal(seen[i], 1);
	/* The same entry through either handle. */
	assert_int_equal(cv_audit_leaf(a, sa - 1, &la), CV_OK);
	assert_int_equal(cv_audit_leaf(b, sa - 1, &lb), CV_OK);
	assert_int_equal(la.len, lb.len);
	assert_memory_equal(la.p, lb.p, la.len);
	/* Proofs on the merged log, from either handle, check against the
	 * other's checkpoint. */
	assert_int_equal(cv_audit_checkpoint(b, &note), CV_OK);
	assert_int_equal(cv_checkpoint_parse((char *)note.p, note.len, &c),
	    CV_OK);
	assert_int_equal(c.size, sa);
	for (uint64_t i = 0; i < sa; i += sa / 7) {
		assert_int_equal(cv_audit_prove(a, i, c.size, &p), CV_OK);
		assert_int_equal(cv_merkle_verify_inclusion(p.index, p.size,
		    p.leaf, (const uint8_t (*)[CV_HASH_BYTES])p.hash, p.n,
		    c.root), CV_OK);
	}
	assert_int_equal(cv_audit_consistency(a, before, c.size, &p), CV_OK);
	assert_memory_equal(p.root2, c.root, CV_HASH_BYTES);
	assert_int_equal(cv_merkle_verify_consistency(p.size1, p.size,
	    p.root1, p.root2, (const uint8_t (*)[CV_HASH_BYTES])p.hash, p.n),
	    CV_OK);
	assert_int_equal(cv_audit_verify(a, NULL, NULL, 0, &rep), CV_OK);
	assert_int_equal(rep.entries, sa);
	cv_buf_free(&note);
	cv_audit_close(b);
	b = NULL;
	cv_buf_free(&la);
	cv_buf_free(&lb);
}

/*
 * A batch whose staging never happens (the server ends the session just
 * before its INSERT): the append fails and nothing of it is in the log;
 * the next append connects again and takes the index the lost one did
 * not, and a new handle goes on from there with a log that verifies.
 */
static void
test_pg_commit_lost(void **state)
{
	struct cv_audit_entry e = { .outcome = CV_AUDIT_ALLOWED,
	    .action = "get", .actor = "lost" };
	uint64_t before, after, idx;

	(void)state;
	/* A handle with no mover thread (test_submit started one), so
	 * that the fault meets the staging, not a move. */
	cv_audit_close(a);
	assert_int_equal(cv_core_audit_open(v, 0, &a), CV_OK);
	assert_int_equal(cv_audit_size(a, &before), CV_OK);
	fault_on("audit.pg_kill");
	assert_int_equal(cv_audit_append(a, &e, &idx), CV_ERR_IO);
	fault_off();
	assert_int_equal(cv_audit_settle(a, &after), CV_OK);
	assert_int_equal(after, before);
	assert_int_equal(cv_audit_append(a, &e, &idx), CV_OK);
	assert_int_equal(idx, before);
	cv_audit_close(a);
	assert_int_equal(cv_core_audit_open(v, 0, &a), CV_OK);
	assert_int_equal(cv_audit_append(a, &e, &idx), CV_OK);
	assert_int_equal(idx, before + 1);
	assert_log_verifies(before + 2);
}

/* A batch that fails before its COMMIT is rolled back: the next one
 * takes its indexes, in the same handle. */
static void
test_pg_failed_batch(void **state)
{
	struct cv_audit_entry e = { .outcome = CV_AUDIT_ALLOWED,
	    .action = "get", .actor = "rolled back" };
	uint64_t before, after, idx;

	(void)state;
	/* (This handle's mover thread moves what it stages: settled, the
	 * log holds all of it.) */
	assert_int_equal(cv_audit_settle(a, &before), CV_OK);
	fault_on("audit.commit");
	assert_int_equal(cv_audit_append(a, &e, &idx), CV_ERR_IO);
	fault_off();
	assert_int_equal(cv_audit_append(a, &e, &idx), CV_OK);
	assert_int_equal(idx, before);
	assert_int_equal(cv_audit_settle(a, &after), CV_OK);
	assert_int_equal(after, before + 1);
	assert_log_verifies(before + 1);
}

/*
 * tlog-tiles reads: a run of hashes is the stored nodes, a bundle is the
 * leaves with u16 lengths; a leaf the format cannot carry is refused
 * with nothing appended; past the log (or a wrapping index) is not found.
 */
static void
test_tiles(void **state)
{
	struct cv_audit_entry e = { .outcome = CV_AUDIT_ALLOWED,
	    .action = "get", .actor = "tiler" };
	struct cv_buf out = { 0 }, leaf = { 0 };
	uint8_t h[CV_HASH_BYTES];
	uint64_t base, size, idx;
	char *big;
	size_t pos;

	(void)state;
	/* A fresh handle: test_submit leaves its own unable to log. */
	cv_audit_close(a);
	assert_int_equal(cv_core_audit_open(v, 0, &a), CV_OK);
	assert_int_equal(cv_audit_size(a, &base), CV_OK);
	for (int i = 0; i < 300; i++)
		assert_int_equal(cv_audit_append(a, &e, &idx), CV_OK);
	/* One leaf over 65535 bytes, in two fields that each fit. */
	assert_non_null(big = malloc(40001));
	memset(big, 'r', 40000);
	big[40000] = '\0';
	e.reason = big;
	e.purpose = big + 5000;
	assert_int_equal(cv_audit_append(a, &e, &idx), CV_OK);
	assert_int_equal(idx, base + 300);
	assert_int_equal(cv_audit_size(a, &size), CV_OK);

	assert_int_equal(cv_audit_hashes(a, 0, base, 256, &out), CV_OK);
	assert_int_equal(out.len, 256 * CV_HASH_BYTES);
	for (uint64_t i = 0; i < 256; i++) {
		assert_int_equal(cv_audit_node(a, 0, base + i, h), CV_OK);
		assert_memory_equal(out.p + i * CV_HASH_BYTES, h,
		    CV_HASH_BYTES);
	}
	out.len = 0;
	assert_int_equal(cv_audit_hashes(a, 8, 0, 1, &out), CV_OK);
	assert_int_equal(cv_audit_node(a, 8, 0, h), CV_OK);
	assert_memory_equal(out.p, h, CV_HASH_BYTES);
	out.len = 0;
	assert_int_equal(cv_audit_hashes(a, 0, size - 1, 2, &out),
	    CV_ERR_NOT_FOUND);
	assert_int_equal(cv_audit_hashes(a, 0, UINT64_MAX, 2, &out),
	    CV_ERR_NOT_FOUND);
	assert_int_equal(cv_audit_hashes(a, 64, 0, 1, &out), CV_ERR_NOT_FOUND);
	assert_int_equal(cv_audit_hashes(a, 0, 0, 0, &out), CV_ERR_INVALID);
	assert_int_equal(cv_audit_hashes(a, 0, 0, 257, &out), CV_ERR_INVALID);
	assert_int_equal(out.len, 0);

	/* The bundle of 256 leaves from BASE, one by one. */
	assert_int_equal(cv_audit_bundle(a, base, 256, &out), CV_OK);
	pos = 0;
	for (uint64_t i = 0; i < 256; i++) {
		size_t n = cv_get_u16be(out.p + pos);
		leaf.len = 0;
		assert_int_equal(cv_audit_leaf(a, base + i, &leaf), CV_OK);
		assert_int_equal(n, leaf.len);
		assert_memory_equal(out.p + pos + 2, leaf.p, n);
		pos += 2 + n;
	}
	assert_int_equal(pos, out.len);
	/* Up to the big leaf, and with it. */
	out.len = 0;
	assert_int_equal(cv_audit_bundle(a, base + 256, 44, &out), CV_OK);
	pos = out.len;
	assert_int_equal(cv_audit_bundle(a, base + 256, 45, &out),
	    CV_ERR_LIMIT);
	assert_int_equal(out.len, pos);
	assert_int_equal(cv_audit_bundle(a, size, 1, &out), CV_ERR_NOT_FOUND);
	assert_int_equal(cv_audit_bundle(a, UINT64_MAX, 2, &out),
	    CV_ERR_NOT_FOUND);
	assert_int_equal(cv_audit_bundle(a, 0, 0, &out), CV_ERR_INVALID);
	assert_int_equal(out.len, pos);
	free(big);
	cv_buf_free(&out);
	cv_buf_free(&leaf);
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
		cmocka_unit_test(test_tiles),
	};
	/* No torn writes in a transaction: the rest on PostgreSQL, and
	 * what only it has. */
	const struct CMUnitTest pg[] = {
		cmocka_unit_test(test_concurrent_appends),
		cmocka_unit_test(test_pg_in_database),
		cmocka_unit_test(test_checkpoints_paced),
		cmocka_unit_test(test_submit),
		cmocka_unit_test(test_pg_two_writers),
		cmocka_unit_test(test_pg_failed_batch),
		cmocka_unit_test(test_pg_commit_lost),
		cmocka_unit_test(test_tiles),
	};
	int failed, up;

	failed = cmocka_run_group_tests_name("files", tests, setup, teardown);
	if ((up = test_pg_up(target, sizeof target, "the log in it")) <= 0)
		return up < 0 ? 1 : failed;
	db = target;
	failed += cmocka_run_group_tests_name("postgresql", pg, setup,
	    teardown);
	test_pg_stop();
	return failed;
}
