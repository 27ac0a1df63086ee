/*
 * The vault through its library API, on a real token and database: a
 * SQLite file, then (when PostgreSQL 15 is here) a throwaway PostgreSQL
 * that tests/pg.sh starts.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../testutil.h"
#include "../pgutil.h"
#include "gen/gen.h"
#include "store/store.h"
#include "vault/vault.h"

#define N 300

static const char *dir;
static const char *db;		/* NULL: SQLite; else a PostgreSQL URI */
static struct cv_vault *v;
static struct cv_buf input;

static int
setup(void **state)
{
	struct cv_vault_init_opts o = { .db = db };

	(void)state;
	dir = test_vault_dir();
	for (uint64_t i = 0; i < N; i++) {
		if (cv_gen_record(42, i, &input) != CV_OK)
			return -1;
	}
	if (cv_vault_init(dir, &o) != CV_OK || cv_vault_open(dir, &v) != CV_OK)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	cv_vault_close(v);
	cv_buf_free(&input);
	test_rm_rf(dir);
	return 0;
}

static cv_err
load_opts(const void *data, size_t len, int new_version, int64_t canaries,
    struct cv_load_stats *st, struct cv_load_error *err)
{
	struct cv_load_opts o = { .new_version = new_version,
	    .canaries = canaries };
	cv_err r;

	o.in = fmemopen((void *)(uintptr_t)data, len, "r");
	assert_non_null(o.in);
	r = cv_vault_load(v, &o, st, err);
	fclose(o.in);
	return r;
}

static cv_err
load(const void *data, size_t len, struct cv_load_stats *st,
    struct cv_load_error *err)
{
	return load_opts(data, len, 0, 0, st, err);
}

/* Nth generated line's id (the generator writes "id" first). */
static void
nth_id(size_t n, char *id)
{
	const char *p = (const char *)input.p;

	for (size_t i = 0; i < n; i++)
		p = strchr(p, '\n') + 1;
	memcpy(id, p + 7, 19);
	id[19] = '\0';
}

static void
test_load_is_atomic(void **state)
{
	struct cv_load_stats st;
	struct cv_load_error err;
	int64_t records, shredded;
	struct cv_buf bad = { 0 };

	(void)state;
	/* A bad line at the end: nothing of the run is stored. */
	assert_int_equal(cv_buf_add(&bad, input.p, input.len), CV_OK);
	assert_int_equal(cv_buf_add(&bad, "{\"id\":\"x\"}\n", 11), CV_OK);
	assert_int_equal(load(bad.p, bad.len, &st, &err), CV_ERR_INVALID);
	assert_int_equal(err.line, N + 1);
	assert_string_equal(err.rec.path, "identity");
	assert_int_equal(cv_vault_count(v, &records, &shredded), CV_OK);
	assert_int_equal(records, 0);
	/* A failure at commit time: nothing stored either. */
	setenv("CLEARVAULT_FAULT", "load.commit:1", 1);
	assert_int_equal(load(input.p, input.len, &st, &err), CV_ERR_IO);
	unsetenv("CLEARVAULT_FAULT");
	assert_int_equal(cv_vault_count(v, &records, &shredded), CV_OK);
	assert_int_equal(records, 0);
	assert_int_equal(load(input.p, input.len, &st, &err), CV_OK);
	assert_int_equal(st.stored, N);
	assert_int_equal(cv_vault_count(v, &records, &shredded), CV_OK);
	assert_int_equal(records, N);
	cv_buf_free(&bad);
}

static void
test_load(void **state)
{
	struct cv_load_stats st;
	struct cv_load_error err;

	(void)state;
	assert_int_equal(load(input.p, input.len, &st, &err), CV_OK);
	assert_int_equal(st.stored, N);
}

struct reader {
	struct cv_vault *v;
	int ok;
};

static void *
read_all(void *arg)
{
	struct reader *rd = arg;
	struct cv_buf out = { 0 };
	char id[32];

	rd->ok = 1;
	for (size_t i = 0; i < N; i++) {
		nth_id(i, id);
		out.len = 0;
		if (cv_vault_get_text(rd->v, id, NULL, &out) != CV_OK ||
		    memcmp(out.p, "{\"id\":\"", 7) != 0)
			rd->ok = 0;
	}
	cv_buf_free(&out);
	return NULL;
}

static void
test_parallel_readers(void **state)
{
	struct reader rd[2];
	pthread_t t[2];

	(void)state;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(cv_vault_dup(v, &rd[i].v), CV_OK);
		assert_int_equal(pthread_create(&t[i], NULL, read_all, &rd[i]),
		    0);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		assert_true(rd[i].ok);
		cv_vault_close(rd[i].v);
	}
}

static int
count_match(void *ctx, const char *id)
{
	(void)id;
	(*(int *)ctx)++;
	return 0;
}

static void
test_get_find_shred(void **state)
{
	char id[32];
	json_t *rec = NULL;
	const char *secs[] = { "identity", NULL };
	const char *bad[] = { "identity", "nope", NULL };
	int n = 0;

	(void)state;
	nth_id(5, id);
	assert_int_equal(cv_vault_get(v, id, secs, &rec), CV_OK);
	assert_non_null(json_object_get(rec, "identity"));
	assert_null(json_object_get(rec, "adjudication"));
	assert_int_equal(cv_vault_find_ssn(v, json_string_value(
	    json_object_get(json_object_get(rec, "identity"), "ssn")),
	    count_match, &n), CV_OK);
	assert_int_equal(n, 1);
	assert_int_equal(cv_vault_shred(v, id), CV_OK);
	n = 0;
	assert_int_equal(cv_vault_find_ssn(v, json_string_value(
	    json_object_get(json_object_get(rec, "identity"), "ssn")),
	    count_match, &n), CV_OK);
	assert_int_equal(n, 0);
	json_decref(rec);
	assert_int_equal(cv_vault_get(v, id, NULL, &rec), CV_ERR_SHREDDED);
	assert_null(rec);
	assert_int_equal(cv_vault_shred(v, id), CV_ERR_SHREDDED);
	assert_int_equal(cv_vault_get(v, "no-such", NULL, &rec),
	    CV_ERR_NOT_FOUND);
	assert_int_equal(cv_vault_get(v, "bad id", NULL, &rec),
	    CV_ERR_INVALID);
	assert_int_equal(cv_vault_get(v, id, bad, &rec), CV_ERR_INVALID);
}

/*
 * The same input again is refused (a rerun after a crash must not make a
 * second version of everything) unless new versions are asked for; the
 * canaries the loads planted are all records.
 */
static void
test_rerun_and_canaries(void **state)
{
	struct cv_load_stats st;
	struct cv_load_error err;
	int64_t records, shredded, before;
	char **ids = NULL, id[32];
	size_t n = 0;
	json_t *rec = NULL;

	(void)state;
	assert_int_equal(cv_vault_count(v, &before, &shredded), CV_OK);
	assert_int_equal(load(input.p, input.len, &st, &err), CV_ERR_EXISTS);
	assert_int_equal(st.stored, 0);
	assert_int_equal(cv_vault_count(v, &records, &shredded), CV_OK);
	assert_int_equal(records, before);
	assert_int_equal(load_opts(input.p, input.len, 1, CV_CANARIES_AUTO, &st,
	    &err), CV_OK);
	assert_int_equal(st.versions, N);
	assert_true(st.load > 0);
	nth_id(0, id);
	assert_int_equal(cv_vault_get(v, id, NULL, &rec), CV_OK);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    rec, "_meta"), "version")), 2);
	json_decref(rec);
	/* This vault's minimum is 0 (setup): the canaries are the rate's. */
	assert_int_equal(cv_vault_canaries(v, &ids, &n), CV_OK);
	assert_int_equal(n, st.canaries);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(cv_vault_get(v, ids[i], NULL, &rec), CV_OK);
		json_decref(rec);
	}
	free(ids);
}

static int
count_kept(void *ctx, const struct cv_store_kept *k)
{
	(void)k;
	(*(int *)ctx)++;
	return 0;
}

/*
 * The load above replaced every record: the versions it replaced are
 * kept (not the one shredded before it), rotation's scan walks their keys
 * after the records' in batches that resume across the two, a rotation
 * keeps them restorable, and shredding takes them away.
 */
static void
test_kept_versions(void **state)
{
	struct cv_store *s = cv_vault_store(v);
	struct cv_store_dek d[7];
	struct cv_rotate_stats rs;
	int64_t kept, records, shredded, after = 0, seen = 0;
	uint32_t now = 0;
	size_t n;
	char id[32];
	json_t *rec = NULL, *want;
	json_error_t je;
	int nk = 0;

	(void)state;
	assert_int_equal(cv_store_kept_count(s, &kept), CV_OK);
	assert_int_equal(kept, N - 1);
	assert_int_equal(cv_vault_count(v, &records, &shredded), CV_OK);
	do {
		assert_int_equal(cv_store_dek_scan(s, after, 0, d, 7, &n),
		    CV_OK);
		for (size_t i = 0; i < n; i++) {
			assert_true(d[i].ref > after);
			after = d[i].ref;
		}
		seen += (int64_t)n;
	} while (n);
	assert_int_equal(seen, records - shredded + kept);
	assert_int_equal(cv_vault_rotate(v, NULL, NULL, &rs), CV_OK);
	assert_int_equal((int64_t)rs.rewrapped, seen);
	nth_id(0, id);
	assert_int_equal(cv_vault_version_restore(v, id, 1, &now), CV_OK);
	assert_int_equal(now, 3);
	assert_int_equal(cv_vault_get(v, id, NULL, &rec), CV_OK);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    rec, "_meta"), "version")), 3);
	json_object_del(rec, "_meta");
	want = json_loadb((const char *)input.p, (size_t)(strchr(
	    (const char *)input.p, '\n') - (const char *)input.p), 0, &je);
	assert_true(json_equal(rec, want));
	json_decref(want);
	json_decref(rec);
	assert_int_equal(cv_store_kept_list(s, id, count_kept, &nk), CV_OK);
	assert_int_equal(nk, 2);
	assert_int_equal(cv_vault_version_restore(v, id, 9, &now),
	    CV_ERR_NOT_FOUND);
	assert_int_equal(cv_vault_shred(v, id), CV_OK);
	nk = 0;
	assert_int_equal(cv_store_kept_list(s, id, count_kept, &nk), CV_OK);
	assert_int_equal(nk, 0);
	assert_int_equal(cv_vault_version_restore(v, id, 1, &now),
	    CV_ERR_SHREDDED);
}

/*
 * Rows read together (the key process's batch) give each record as
 * cv_vault_get_text does, a shredded and a missing one refused as there,
 * the same id twice both; a bad id is refused before anything is read.
 */
static void
test_rows(void **state)
{
	char a[32], b[32], sh[32], c[32];
	const char *ids[] = { a, sh, "CV-NO-SUCH-RECORD", a, b, c };
	const char *const secs[][3] = { { NULL }, { NULL }, { NULL },
	    { "identity", NULL }, { NULL }, { "adjudication", NULL } };
	const char *bad[] = { a, "bad id" };
	struct cv_vault_rows *rows = NULL;
	struct cv_buf got = { 0 }, want = { 0 };
	cv_err r, w;

	(void)state;
	nth_id(1, a);
	nth_id(11, sh);
	nth_id(7, b);
	nth_id(299, c);
	assert_int_equal(cv_vault_shred(v, sh), CV_OK);
	assert_int_equal(cv_vault_rows_fetch(v, ids, 6, &rows), CV_OK);
	for (size_t i = 0; i < 6; i++) {
		got.len = want.len = 0;
		r = cv_vault_rows_text(v, rows, i, secs[i][0] ? secs[i] : NULL,
		    &got);
		w = cv_vault_get_text(v, ids[i], secs[i][0] ? secs[i] : NULL,
		    &want);
		assert_int_equal(r, w);
		assert_int_equal(got.len, want.len);
		if (got.len)
			assert_memory_equal(got.p, want.p, got.len);
	}
	assert_int_equal(cv_vault_rows_text(v, rows, 1, NULL, &got),
	    CV_ERR_SHREDDED);
	assert_int_equal(cv_vault_rows_text(v, rows, 2, NULL, &got),
	    CV_ERR_NOT_FOUND);
	assert_int_equal(cv_vault_rows_text(v, rows, 6, NULL, &got),
	    CV_ERR_INVALID);
	cv_vault_rows_free(rows);
	rows = NULL;
	assert_int_equal(cv_vault_rows_fetch(v, bad, 2, &rows), CV_ERR_INVALID);
	assert_null(rows);
	cv_buf_free(&got);
	cv_buf_free(&want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_is_atomic),
		cmocka_unit_test(test_parallel_readers),
		cmocka_unit_test(test_get_find_shred),
		cmocka_unit_test(test_rerun_and_canaries),
		cmocka_unit_test(test_kept_versions),
		cmocka_unit_test(test_rows),
	};
	/* On PostgreSQL: the records loaded, then what reads them (the
	 * load's failure hooks are SQLite's). */
	const struct CMUnitTest pg_tests[] = {
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_parallel_readers),
		cmocka_unit_test(test_get_find_shred),
		cmocka_unit_test(test_rows),
	};
	static char target[700];
	int failed, up;

	failed = cmocka_run_group_tests_name("sqlite", tests, setup,
	    teardown);
	if ((up = test_pg_up(target, sizeof target, "the vault on it")) <= 0)
		return up < 0 ? 1 : failed;
	db = target;
	failed += cmocka_run_group_tests_name("postgresql", pg_tests, setup,
	    teardown);
	test_pg_stop();
	return failed;
}
