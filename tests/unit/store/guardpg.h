/*
 * What the shared guard's tests (test_guard_pg.c, test_guard_vault_pg.c)
 * share: a throwaway PostgreSQL with two connections standing for two
 * nodes, a clock of their own, and takes of one record. Each test file
 * is a program of its own, so its statics are its own too.
 */
#ifndef CV_TEST_GUARDPG_H
#define CV_TEST_GUARDPG_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../pgutil.h"
#include "store/store.h"
#include "store/store_internal.h"

static char target[512];
static struct cv_store *n1, *n2;	/* two nodes */
/* (in the past: cv_guard_expire never goes past the database's clock) */
static const int64_t T0 = 1600000000LL * 1000000, SEC = 1000000;
#define MIN (60 * SEC)

static inline const char *
rid(char b[32], unsigned i)
{
	snprintf(b, 32, "CV-%08u", i);
	return b;
}

/* USER (session SES, proof PROOF) takes record I at T on node S. */
static inline enum cv_store_verdict
take(struct cv_store *s, const char *user, const char *ses, int64_t proof,
    unsigned i, int64_t t, unsigned *w)
{
	char b[32];
	const char *ids[1] = { rid(b, i) };
	struct cv_store_take tk = { .user = user, .session = ses,
	    .proof_us = proof, .budget = 5, .rids = ids, .n = 1, .now_us = t,
	    .soft = { 3, 100, 1000 }, .hard = { 4, 200, 2000 },
	    .vhard = { 6, 1000, 10000 } };
	enum cv_store_verdict v;
	unsigned wd, g;

	if (cv_store_guard_take(s, &tk, &v, w ? w : &wd, &g) != CV_OK)
		fail_msg("take: %s", cv_err_detail());
	assert_int_equal(g, 0);
	return v;
}

/* Every node's tick, once a minute: users idle for a minute brought
 * forward to T, their counts in the vault's sums with them. A test whose
 * time jumps ahead calls it first, as the minutes between would have. */
static inline void
tick(int64_t t)
{
	if (cv_store_guard_expire(n1, t) != CV_OK)
		fail_msg("tick: %s", cv_err_detail());
}

/* The first column of Q's one row on node 1, as a number. */
static inline int64_t
sql_int(const char *q)
{
	struct cv_db_stmt *st;
	int64_t v;

	if (db_prepare(n1->db, q, 0, &st) != CV_OK)
		fail_msg("%s: %s", q, db_errmsg(n1->db));
	if (db_step(st) != CV_DB_ROW)
		fail_msg("%s: %s", q, db_errmsg(n1->db));
	v = db_column_int64(st, 0);
	db_finalize(st);
	return v;
}

/* The vault's sums by user row that are not what they are by definition:
 * the users' counts and the grants of each row (src/store/guard.c). */
#define SUMS_WRONG "SELECT count(*) FROM guard_vault_sums vs WHERE" \
    " vs.n <> (SELECT ARRAY[coalesce(sum(uc.n[1]), 0)," \
    " coalesce(sum(uc.n[2]), 0), coalesce(sum(uc.n[3]), 0)]::INT[]" \
    " FROM guard_user_counts uc WHERE hashtext(uc.u) & 15 = vs.k)" \
    " OR vs.g <> (SELECT coalesce(sum(gg.g), 0) FROM guard_grants gg" \
    " WHERE hashtext(gg.u) & 15 = vs.k)"

static int g_soft;	/* LIM below is the soft limit, else the hard */
static uint32_t g_vday = 1000000;	/* the vault's ceiling, every window */

static inline enum cv_store_verdict
gtake(struct cv_store *s, const char *user, const char *node, unsigned i,
    const char *const *settle, size_t nsettle, uint32_t chunk,
    const uint32_t lim[3], int64_t t, unsigned *grant)
{
	char b[32];
	const char *ids[1] = { rid(b, i) };
	struct cv_store_take tk = { .user = user, .budget = 1000, .rids = ids,
	    .n = i ? 1 : 0, .now_us = t, .vhard = { g_vday, g_vday, g_vday },
	    .node = node, .settle = settle, .nsettle = nsettle,
	    .chunk = chunk, .lease_us = SEC / 2 };
	enum cv_store_verdict v;
	unsigned w, g;

	for (int k = 0; k < 3; k++) {
		tk.soft[k] = g_soft ? lim[k] : UINT32_MAX;
		tk.hard[k] = g_soft ? UINT32_MAX : lim[k];
	}
	assert_int_equal(cv_store_guard_take(s, &tk, &v, &w, grant ? grant :
	    &g), CV_OK);
	return v;
}

static int
setup(void **state)
{
	(void)state;
	return cv_store_open(target, CV_STORE_CREATE, &n1) == CV_OK &&
	    cv_store_open(target, CV_STORE_OPEN, &n2) == CV_OK ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	cv_store_close(n1);
	cv_store_close(n2);
	return 0;
}

#endif
