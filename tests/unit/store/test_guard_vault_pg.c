/*
 * The shared guard's vault-wide count (src/store/guard.c), on a throwaway
 * PostgreSQL, two connections for two nodes: the sum of the users'
 * counts against a model counted from scratch, a user who stopped
 * reading brought forward by the tick, six users asking for grants out
 * of one headroom at once, a record's reads within a second written
 * once, and an older release's database brought to this one's.
 */
#include <pthread.h>
#include <time.h>

#include "guardpg.h"

/*
 * The kept counts against the definition: random takes of three users
 * on two nodes, times moving on by seconds, minutes, hours and days,
 * checked take by take against distinct records per window counted from
 * scratch (what the function counted before it kept counts). Exact for
 * the user's windows, the session's budget and the vault's ceiling,
 * which is the sum of the users' counts, each as of its last take.
 */
#define M_USERS 3
#define M_RIDS 25

static unsigned m_ceilings;	/* refusals the definition makes */

struct mread {
	int64_t t[M_RIDS];	/* last allowed read, 0: never */
};

static unsigned
m_count(const struct mread *m, int64_t now, int64_t w, const unsigned *ids,
    unsigned n, unsigned *add)
{
	unsigned have = 0;

	*add = 0;
	for (unsigned r = 0; r < M_RIDS; r++)
		if (m->t[r] && m->t[r] > now - w)
			have++;
	for (unsigned i = 0; i < n; i++)
		if (!m->t[ids[i]] || m->t[ids[i]] <= now - w)
			++*add;
	return have;
}

/* The vault's count in window W for a take of user U that would leave
 * U's count at MINE: every other user's count as of that user's last
 * allowed take or tick (src/store/guard.c: the sums by user). */
static unsigned
m_vault(const struct mread *mu, const int64_t *mup, unsigned u, int64_t w,
    unsigned mine)
{
	unsigned sum = mine, add;

	for (unsigned v = 0; v < M_USERS; v++)
		if (v != u && mup[v])
			sum += m_count(&mu[v], mup[v], w, NULL, 0, &add);
	return sum;
}

static uint32_t
m_rand(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static int64_t
model_run(uint32_t seed, unsigned takes, unsigned vhard, int64_t start)
{
	static const int64_t w[3] = { 60 * SEC, 3600 * SEC, 86400 * SEC };
	struct mread mu[M_USERS] = { 0 };
	int64_t mup[M_USERS] = { 0 };	/* last allowed take: the count's time */
	struct mread ms[M_USERS] = { 0 };	/* per session, since proof */
	int64_t proof[M_USERS] = { 0 }, now = start;
	uint32_t x = seed;

	tick(start);
	for (unsigned k = 0; k < takes; k++) {
		unsigned u = m_rand(&x) % M_USERS, n = 1 + m_rand(&x) % 3;
		unsigned ids[3], have, add, win = 0, got_w, g;
		uint32_t r = m_rand(&x) % 100;
		char user[8], ses[8], b[3][32];
		const char *rids[3];
		struct cv_store_take tk = { .user = user, .session = ses,
		    .budget = 9, .rids = rids, .now_us = now,
		    .soft = { 5, 12, 20 }, .hard = { 7, 15, 25 },
		    .vhard = { vhard, vhard, vhard },
		    .stepped_up = m_rand(&x) % 3 == 0 };
		enum cv_store_verdict want = CV_TAKE_ALLOW, got;

		/* (steps of a third of a second too: two reads in one
		 * second, and the rounding of their times up to it) */
		now += r < 70 ? (1 + r % 5) * SEC - r % 3 * SEC / 3 :
		    r < 90 ? (30 + r) * SEC :
		    r < 98 ? (30 + r % 40) * MIN : (20 + r % 10) * 60 * MIN;
		tk.now_us = now;
		if (m_rand(&x) % 20 == 0) {	/* the nodes' tick */
			tick(now);
			for (unsigned v = 0; v < M_USERS; v++)
				if (mup[v] && mup[v] <= now - w[0])
					mup[v] = now;
		}
		if (m_rand(&x) % 10 == 0) {	/* a new TOTP proof */
			proof[u] = now;
			memset(&ms[u], 0, sizeof ms[u]);
		}
		tk.proof_us = proof[u];
		for (unsigned i = 0; i < n; i++) {
			do
				ids[i] = m_rand(&x) % M_RIDS;
			while ((i > 0 && ids[i] == ids[0]) ||
			    (i > 1 && ids[i] == ids[1]));
			rids[i] = rid(b[i], 5000 + ids[i]);
		}
		tk.n = n;
		snprintf(user, sizeof user, "m%x%u", seed & 15, u);
		snprintf(ses, sizeof ses, "s%x%u", seed & 15, u);
		for (int i = 0; i < 3 && want == CV_TAKE_ALLOW; i++) {
			have = m_count(&mu[u], now, w[i], ids, n, &add);
			win = (unsigned)i + 1;
			if (have + add > tk.hard[i])
				want = CV_TAKE_DENY;
			else if (!tk.stepped_up && have + add > tk.soft[i])
				want = CV_TAKE_STEP_UP;
			else if (m_vault(mu, mup, u, w[i], have + add) >
			    vhard)
				want = CV_TAKE_CEILING;
		}
		if (want == CV_TAKE_ALLOW) {
			win = 0;
			have = m_count(&ms[u], 1, INT64_MAX / 2, ids, n, &add);
			if (have + add > tk.budget)
				want = CV_TAKE_SESSION;
		}
		assert_int_equal(cv_store_guard_take(k % 2 ? n2 : n1, &tk,
		    &got, &got_w, &g), CV_OK);
		if (got != want)
			print_message("take %u: user m%u, %u records at +%lld "
			    "s: got %d want %d\n", k, u, n, (long long)((now -
			    start) / SEC), (int)got, (int)want);
		assert_int_equal(got, want);
		if (want != CV_TAKE_ALLOW && want != CV_TAKE_SESSION)
			assert_int_equal(got_w, win);
		m_ceilings += want == CV_TAKE_CEILING;
		if (want != CV_TAKE_ALLOW)
			continue;
		/* A read counts until its time rounded up to the second has
		 * left the window (src/store/guard.c); the session until a
		 * new proof. */
		for (unsigned i = 0; i < n; i++) {
			mu[u].t[ids[i]] = (now + SEC - 1) / SEC * SEC;
			ms[u].t[ids[i]] = now;
		}
		mup[u] = now;
	}
	return now;
}

static void
test_model(void **state)
{
	int64_t end;

	(void)state;
	/* Ten days after the other tests: their reads have left. */
	end = model_run(0x9e3779b9u, 1500, 1000000, T0 + 10 * 1440 * MIN);
	assert_int_equal(m_ceilings, 0);
	assert_int_equal(sql_int(SUMS_WRONG), 0);
	/* The ceiling at 30 records a window, the three users' counts
	 * summed (at 18 two thirds of the takes were refused), two days
	 * on, other users. */
	model_run(0x85ebca6bu, 1500, 30, end + 2 * 1440 * MIN);
	print_message("ceiling: %u of 1500 takes refused\n", m_ceilings);
	assert_true(m_ceilings > 100);
	assert_int_equal(sql_int(SUMS_WRONG), 0);
}

/* The row of USER's read of record I: its place in the table, which a
 * new version of the row changes. */
static void
row_of(const char *user, unsigned i, char out[64])
{
	struct cv_db_stmt *st;
	char b[32];

	assert_int_equal(db_prepare(n1->db, "SELECT ctid::TEXT FROM"
	    " guard_user_reads WHERE u = ?1 AND rid = ?2", 0, &st), CV_OK);
	db_bind_text(st, 1, user);
	db_bind_text(st, 2, rid(b, i));
	assert_int_equal(db_step(st), CV_DB_ROW);
	snprintf(out, 64, "%s", db_column_text(st, 0));
	db_finalize(st);
}

/* Reads of a record within one second write its row once; the record
 * counts until its read's second has left the window, never less. */
static void
test_second(void **state)
{
	/* (a year on: after the model's days, every window empty) */
	int64_t t = T0 + 365 * 1440 * MIN + SEC / 2;
	char r0[64], r1[64];

	(void)state;
	tick(t);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(take(n1, "sec", NULL, 0, 900 + i, t, NULL),
		    CV_TAKE_ALLOW);
	row_of("sec", 900, r0);
	assert_int_equal(take(n2, "sec", NULL, 0, 900, t + SEC / 4, NULL),
	    CV_TAKE_ALLOW);
	row_of("sec", 900, r1);
	assert_string_equal(r0, r1);
	/* A minute after the reads, they still count (three a minute):
	 * their second has not left. */
	assert_int_equal(take(n1, "sec", NULL, 0, 903, t + MIN, NULL),
	    CV_TAKE_STEP_UP);
	assert_int_equal(take(n1, "sec", NULL, 0, 903, t + MIN + SEC / 2,
	    NULL), CV_TAKE_ALLOW);
	/* In the next second the row is written again. */
	assert_int_equal(take(n2, "sec", NULL, 0, 900, t + MIN + SEC, NULL),
	    CV_TAKE_ALLOW);
	row_of("sec", 900, r1);
	assert_true(strcmp(r0, r1) != 0);
}

/*
 * The vault's count is the sum of its users': a record two users read
 * counts twice (failing closed); a user who stopped reading counts as of
 * the last read until the tick brings the user forward.
 */
/* USER takes record I at T on node S, under the vault's six a minute
 * only. */
static enum cv_store_verdict
vtake(struct cv_store *s, const char *user, unsigned i, int64_t t)
{
	char b[32];
	const char *ids[1] = { rid(b, i) };
	struct cv_store_take tk = { .user = user, .budget = 1000, .rids = ids,
	    .n = 1, .now_us = t, .soft = { 100, 100, 100 },
	    .hard = { 100, 100, 100 }, .vhard = { 6, 1000, 10000 } };
	enum cv_store_verdict v;
	unsigned w, g;

	assert_int_equal(cv_store_guard_take(s, &tk, &v, &w, &g), CV_OK);
	return v;
}

static void
test_vault_sums(void **state)
{
	int64_t t = T0 + 400 * 1440 * MIN;

	(void)state;
	tick(t);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(vtake(n1, "va", 950 + i, t), CV_TAKE_ALLOW);
	for (unsigned i = 0; i < 3; i++)	/* 950 again, 953, 954 */
		assert_int_equal(vtake(n2, "vb", i ? 952 + i : 950, t + SEC),
		    CV_TAKE_ALLOW);
	assert_int_equal(vtake(n2, "vb", 955, t + 2 * SEC), CV_TAKE_CEILING);
	/* Two minutes on, va's three still count: vb's own have left, its
	 * fourth record is refused. */
	for (unsigned i = 955; i < 958; i++)
		assert_int_equal(vtake(n2, "vb", i, t + 2 * MIN),
		    CV_TAKE_ALLOW);
	assert_int_equal(vtake(n2, "vb", 958, t + 2 * MIN), CV_TAKE_CEILING);
	/* The tick: va brought forward, its reads gone from the sums. */
	tick(t + 2 * MIN);
	assert_int_equal(sql_int("SELECT upto FROM guard_user_counts"
	    " WHERE u = 'va'"), t + 2 * MIN);
	assert_int_equal(vtake(n2, "vb", 958, t + 2 * MIN), CV_TAKE_ALLOW);
	assert_int_equal(sql_int(SUMS_WRONG), 0);
}

/*
 * Six users on six connections ask for grants at the same moment out of
 * a vault's day of 300: never more than 300 let out between them. The
 * sums' rows are by user, so only the one decision at a time over the
 * vault's grants keeps each from granting half of the same headroom.
 */
struct vracer {
	char user[8];
	unsigned first, allowed;
	pthread_barrier_t *go;
};

static void *
vrace(void *arg)
{
	static const uint32_t big[3] = { 100000, 100000, 100000 };
	struct vracer *x = arg;
	struct cv_store *s = NULL;
	char b[200][32];
	const char *let[200];
	size_t nlet = 0;
	unsigned left = 0, g;
	int64_t t = T0 + 500 * 1440 * MIN;
	int ok = cv_store_open(target, CV_STORE_OPEN, &s) == CV_OK;

	pthread_barrier_wait(x->go);
	for (unsigned i = 0; ok && i < 150; i++) {
		if (left > 0 && nlet < 200) {	/* let out under the grant */
			left--;
			let[nlet] = rid(b[nlet], x->first + i);
			nlet++;
			x->allowed++;
			continue;
		}
		if (gtake(s, x->user, x->user, x->first + i, let, nlet, 512,
		    big, t + i, &g) == CV_TAKE_ALLOW)
			x->allowed++;
		nlet = 0;
		left = g;
	}
	if (ok) {	/* given back with what it let out */
		(void)gtake(s, x->user, x->user, 0, let, nlet, 0, big,
		    t + 200, &g);
		cv_store_close(s);
	}
	return NULL;
}

static void
test_vault_grants_race(void **state)
{
	struct vracer x[6];
	pthread_t th[6];
	pthread_barrier_t go;
	unsigned sum = 0;

	(void)state;
	tick(T0 + 500 * 1440 * MIN);
	g_vday = 300;
	assert_int_equal(pthread_barrier_init(&go, NULL, 6), 0);
	for (unsigned i = 0; i < 6; i++) {
		x[i] = (struct vracer){ .first = 60000 + 1000 * i, .go = &go };
		snprintf(x[i].user, sizeof x[i].user, "vr%u", i);
		assert_int_equal(pthread_create(&th[i], NULL, vrace, &x[i]),
		    0);
	}
	for (unsigned i = 0; i < 6; i++) {
		pthread_join(th[i], NULL);
		print_message("%s: %u\n", x[i].user, x[i].allowed);
		sum += x[i].allowed;
	}
	pthread_barrier_destroy(&go);
	g_vday = 1000000;
	print_message("vault grants race: %u of 300\n", sum);
	assert_true(sum <= 300);
	assert_true(sum >= 300 - 6 * 32);
	assert_int_equal(sql_int("SELECT sum(g) FROM guard_vault_sums"), 0);
	assert_int_equal(sql_int(SUMS_WRONG), 0);
}

/* A database whose cv_guard_take is an older release's body is given
 * this one's when a store opens it. */
static void
test_upgrade(void **state)
{
	struct cv_store *s = NULL;

	(void)state;
	/* An older release's tables, and sums left wrong. */
	assert_int_equal(db_exec(n1->db, "CREATE TABLE guard_vault_reads"
	    "(rid TEXT PRIMARY KEY, k INT NOT NULL, t BIGINT NOT NULL);"
	    "UPDATE guard_vault_sums SET n = '{999,999,999}', g = 7"), CV_OK);
	assert_int_not_equal(sql_int(SUMS_WRONG), 0);
	assert_int_equal(db_exec(n1->db, "CREATE OR REPLACE FUNCTION "
	    "cv_guard_take(p_u TEXT, p_s TEXT, p_proof BIGINT, p_budget INT,"
	    " p_rids TEXT[], p_now BIGINT, p_soft INT[], p_hard INT[],"
	    " p_vhard INT[], p_up BOOLEAN, p_node TEXT, p_settle TEXT[],"
	    " p_chunk INT, p_lease BIGINT) RETURNS INT[] LANGUAGE plpgsql AS"
	    " $$BEGIN RETURN ARRAY[0, 0]; END$$"), CV_OK);
	assert_int_equal(cv_store_open(target, CV_STORE_OPEN, &s), CV_OK);
	assert_int_equal(sql_int(SUMS_WRONG), 0);
	assert_int_equal(sql_int("SELECT count(*) FROM guard_vault_sums"), 16);
	assert_int_equal(sql_int("SELECT to_regclass('guard_vault_reads')"
	    " IS NULL"), 1);
	assert_int_equal(sql_int("SELECT position('one probe a record'"
	    " IN prosrc) > 0 FROM pg_proc WHERE proname = 'cv_guard_take'"), 1);
	cv_store_close(s);
}

/* A connection whose transactions keep one snapshot (REPEATABLE READ,
 * as a database's default could say) would decide the vault on what it
 * saw before the locks: the guard's functions refuse to run there. */
static void
test_isolation(void **state)
{
	struct cv_store_take tk = { .user = "iso", .budget = 10,
	    .now_us = T0 + 600 * 1440 * MIN, .soft = { 10, 10, 10 },
	    .hard = { 10, 10, 10 }, .vhard = { 10, 10, 10 } };
	enum cv_store_verdict v;
	unsigned w, g;

	(void)state;
	assert_int_equal(db_exec(n2->db, "SET default_transaction_isolation"
	    " = 'repeatable read'"), CV_OK);
	assert_int_equal(cv_store_guard_take(n2, &tk, &v, &w, &g),
	    CV_ERR_STORE);
	assert_int_equal(cv_store_guard_expire(n2, tk.now_us), CV_ERR_STORE);
	assert_int_equal(db_exec(n2->db, "SET default_transaction_isolation"
	    " = 'read committed'"), CV_OK);
	tick(tk.now_us);
	assert_int_equal(cv_store_guard_take(n2, &tk, &v, &w, &g), CV_OK);
	assert_int_equal(v, CV_TAKE_ALLOW);
}

/* The tick never brings a user past the database's clock: a node whose
 * clock is a day ahead ages nobody's windows early. (Last: its user's
 * count is of today, ahead of every other test's time.) */
static void
test_clamp(void **state)
{
	int64_t now = (int64_t)time(NULL) * SEC;
	char b[32];
	const char *ids[1] = { rid(b, 990) };
	struct cv_store_take tk = { .user = "fast", .budget = 10, .rids = ids,
	    .n = 1, .now_us = now, .soft = { 10, 10, 10 },
	    .hard = { 10, 10, 10 }, .vhard = { 1000, 1000, 1000 } };
	enum cv_store_verdict v;
	unsigned w, g;

	(void)state;
	assert_int_equal(cv_store_guard_take(n1, &tk, &v, &w, &g), CV_OK);
	assert_int_equal(v, CV_TAKE_ALLOW);
	tick(now + 1440 * MIN);
	assert_int_equal(sql_int("SELECT upto FROM guard_user_counts"
	    " WHERE u = 'fast'"), now);
	assert_int_equal(sql_int("SELECT n[1] FROM guard_user_counts"
	    " WHERE u = 'fast'"), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model),
		cmocka_unit_test(test_second),
		cmocka_unit_test(test_vault_sums),
		cmocka_unit_test(test_vault_grants_race),
		cmocka_unit_test(test_upgrade),
		cmocka_unit_test(test_isolation),
		cmocka_unit_test(test_clamp),
	};
	int failed, up;

	if ((up = test_pg_up(target, sizeof target,
	    "the shared guard's vault count")) == 0)
		return 77;	/* skipped */
	if (up < 0)
		return 1;
	failed = cmocka_run_group_tests(tests, setup, teardown);
	test_pg_stop();
	return failed;
}
