/*
 * The one read path against a real vault (SoftHSM2 token, SQLite file,
 * audit log) and an in-process keyd: what cv_core_admit refuses, that the
 * guard's hold is settled exactly once whatever happens, and that a read
 * leaves exactly one entry naming its reader, record and sections.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../testutil.h"
#include "audit/audit.h"
#include "core/core.h"
#include "gen/gen.h"
#include "keyd/keyd.h"
#include "record/record.h"
#include "store/store.h"

#define CASE "CASE-00000000c0de"
#define IDENTITY (1u << 0)

static const char *dir;
static char rid[3][CV_RECORD_ID_MAX + 1];
static struct cv_vault *v;
static struct cv_audit *a;
static struct cv_keyd *k;
static struct cv_keyd_client *kd;

/* A gate that counts what the core asks of it. */
struct gate {
	int reserves, settled, left, misses, outside;
	cv_err answer;
};

static cv_err
g_reserve(void *ctx, const char *id, int outside)
{
	struct gate *g = ctx;

	(void)id;
	g->reserves++;
	g->outside = outside;
	return g->answer;
}

static void
g_settle(void *ctx, int left)
{
	struct gate *g = ctx;

	g->settled++;
	g->left = left;
}

static void
g_miss(void *ctx)
{
	((struct gate *)ctx)->misses++;
}

static struct cv_core_gate
gate_of(struct gate *g)
{
	struct cv_core_gate cg = { g_reserve, g_settle, g_miss, g };

	return cg;
}

static uint64_t
log_size(void)
{
	uint64_t n = 0;

	assert_int_equal(cv_audit_size(a, &n), CV_OK);
	return n;
}

static int
setup(void **state)
{
	struct cv_vault_init_opts o = { 0 };
	struct cv_buf in = { 0 };
	struct cv_record_error re;
	uint32_t ver;
	int changed;

	(void)state;
	dir = test_vault_dir();
	if (cv_vault_init(dir, &o) != CV_OK || cv_audit_create(dir, NULL) != CV_OK ||
	    cv_vault_open(dir, &v) != CV_OK)
		return -1;
	for (int i = 0; i < 3; i++) {
		in.len = 0;
		if (cv_gen_record(7, (uint64_t)i, &in) != CV_OK ||
		    cv_vault_put(v, (const char *)in.p, in.len, NULL, 0, &re,
		    rid[i], &ver) != CV_OK)
			return -1;
	}
	cv_buf_free(&in);
	/* inv reads rid[0] and rid[2] for CASE; rid[1] is in no case. */
	if (cv_store_case_add(cv_vault_store(v), CASE, "t", "so", 1) != CV_OK ||
	    cv_store_case_member(cv_vault_store(v), CASE, 0, "inv", 1,
	    &changed) != CV_OK ||
	    cv_store_case_member(cv_vault_store(v), CASE, 1, rid[0], 1,
	    &changed) != CV_OK ||
	    cv_store_case_member(cv_vault_store(v), CASE, 1, rid[2], 1,
	    &changed) != CV_OK ||
	    cv_vault_shred(v, rid[2]) != CV_OK ||
	    cv_core_audit_open(v, 0, &a) != CV_OK ||
	    cv_keyd_new(v, a, &k) != CV_OK ||
	    cv_keyd_client_local(k, &kd) != CV_OK)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	cv_keyd_client_free(kd);
	cv_keyd_free(k);
	cv_audit_close(a);
	cv_vault_close(v);
	test_rm_rf(dir);
	return 0;
}

static void
test_refusals(void **state)
{
	struct cv_core_reader inv = { .user = "inv",
	    .role = CV_ROLE_INVESTIGATOR };
	struct cv_core_reader aud = { .user = "aud", .role = CV_ROLE_AUDITOR };
	struct cv_core_ask ask = { .rid = rid[0], .purpose = CASE };
	struct cv_core_pass *p = (void *)1;
	struct gate g = { .answer = CV_OK };
	struct cv_core_gate cg = gate_of(&g);
	enum cv_core_refusal why;
	uint64_t n0 = log_size();

	(void)state;
	/* A role that reads no record data. */
	assert_int_equal(cv_core_admit(v, &aud, &ask, &cg, &p, &why),
	    CV_ERR_AUTH);
	assert_int_equal(why, CV_CORE_NO_READS);
	assert_null(p);
	/* Not a record id; a section that does not exist. */
	ask.rid = "../etc/passwd";
	assert_int_equal(cv_core_admit(v, &inv, &ask, &cg, &p, &why),
	    CV_ERR_INVALID);
	ask.rid = rid[0];
	ask.sections = 1u << CV_RECORD_NSECTIONS;
	assert_int_equal(cv_core_admit(v, &inv, &ask, &cg, &p, &why),
	    CV_ERR_INVALID);
	/* No case of the reader's holds rid[1]: the guard hears of it. */
	ask.sections = 0;
	ask.rid = rid[1];
	assert_int_equal(cv_core_admit(v, &inv, &ask, &cg, &p, &why),
	    CV_ERR_AUTH);
	assert_int_equal(why, CV_CORE_NOT_IN_CASE);
	assert_int_equal(g.misses, 1);
	/* Nor without a purpose. */
	ask.rid = rid[0];
	ask.purpose = NULL;
	assert_int_equal(cv_core_admit(v, &inv, &ask, &cg, &p, &why),
	    CV_ERR_AUTH);
	assert_int_equal(why, CV_CORE_NOT_IN_CASE);
	/* Break-glass wants a real reason. */
	ask.rid = rid[1];
	ask.purpose = CASE;
	ask.break_glass = "because";
	assert_int_equal(cv_core_admit(v, &inv, &ask, &cg, &p, &why),
	    CV_ERR_AUTH);
	assert_int_equal(why, CV_CORE_BAD_REASON);
	/* The guard refuses: nothing held, nothing to settle. */
	ask.rid = rid[0];
	ask.break_glass = NULL;
	g.answer = CV_ERR_AUTH;
	assert_int_equal(cv_core_admit(v, &inv, &ask, &cg, &p, &why),
	    CV_ERR_AUTH);
	assert_int_equal(why, CV_CORE_GUARD);
	assert_int_equal(g.reserves, 1);
	assert_int_equal(g.settled, 0);
	/* Refusals are the caller's to log: the core wrote nothing. */
	assert_int_equal(log_size(), n0);
}

static void
test_read_and_settle(void **state)
{
	struct cv_core_reader inv = { .user = "inv",
	    .role = CV_ROLE_INVESTIGATOR };
	struct cv_core_ask ask = { .rid = rid[0], .purpose = CASE,
	    .sections = IDENTITY };
	struct cv_audit_entry ctx = { .action = "records.get",
	    .source = "test" };
	struct cv_core_pass *p;
	struct gate g = { .answer = CV_OK };
	struct cv_core_gate cg = gate_of(&g);
	enum cv_core_refusal why;
	struct cv_buf text = { 0 }, leaf = { 0 };
	struct cv_audit_view view;
	uint64_t n0 = log_size(), index = 0;

	(void)state;
	/* Admitted, then dropped: the hold goes back, once. */
	assert_int_equal(cv_core_admit(v, &inv, &ask, &cg, &p, &why), CV_OK);
	assert_int_equal(cv_core_pass_sections(p), IDENTITY);
	cv_core_pass_free(p);
	assert_int_equal(g.settled, 1);
	assert_int_equal(g.left, 0);
	/* Admitted and read: one entry, then the text; counted, once. */
	assert_int_equal(cv_core_admit(v, &inv, &ask, &cg, &p, &why), CV_OK);
	assert_int_equal(cv_core_read_wait(kd, p, &ctx, &index, &text), CV_OK);
	assert_int_equal(g.settled, 2);
	assert_int_equal(g.left, 1);
	assert_int_equal(log_size(), n0 + 1);
	assert_int_equal(index, n0);
	assert_non_null(memmem(text.p, text.len, "\"identity\"", 10));
	assert_null(memmem(text.p, text.len, "\"financial\"", 11));
	assert_int_equal(cv_audit_leaf(a, index, &leaf), CV_OK);
	assert_int_equal(cv_audit_view(leaf.p, leaf.len, &view), CV_OK);
	assert_int_equal(view.outcome, CV_AUDIT_ALLOWED);
	assert_int_equal(view.sections, IDENTITY);
	assert_int_equal(view.f[CV_AUDIT_ACTOR].len, 3);
	assert_memory_equal(view.f[CV_AUDIT_ACTOR].p, "inv", 3);
	/* A shredded record: refused before its entry, hold given back. */
	ask.rid = rid[2];
	assert_int_equal(cv_core_admit(v, &inv, &ask, &cg, &p, &why), CV_OK);
	assert_int_equal(cv_core_read_wait(kd, p, &ctx, NULL, &text),
	    CV_ERR_SHREDDED);
	assert_int_equal(g.settled, 3);
	assert_int_equal(g.left, 0);
	assert_int_equal(log_size(), n0 + 1);
	cv_buf_free(&text);
	cv_buf_free(&leaf);
}

static void
test_under_ticket(void **state)
{
	struct cv_core_reader op = { .user = "cli:root", .operator = 1 };
	struct cv_core_reader inv = { .user = "inv",
	    .role = CV_ROLE_INVESTIGATOR };
	struct cv_core_ask ask = { .rid = rid[0], .sections = IDENTITY };
	const char *names[1] = { rid[0] };
	struct cv_audit_entry e = { .outcome = CV_AUDIT_ALLOWED,
	    .action = "scope.notify", .actor = "cli:root", .source = "cli",
	    .records = names, .nrecords = 1, .sections = IDENTITY };
	struct cv_core_pass *p;
	struct gate g = { .answer = CV_OK };
	struct cv_core_gate cg = gate_of(&g);
	enum cv_core_refusal why;
	struct cv_buf text = { 0 };
	uint64_t ticket;

	(void)state;
	assert_int_equal(cv_keyd_append(kd, &e, &ticket), CV_OK);
	/* The operator under the entry that names the record. */
	assert_int_equal(cv_core_admit(v, &op, &ask, NULL, &p, &why), CV_OK);
	assert_int_equal(cv_core_read_under(kd, p, ticket, &text), CV_OK);
	assert_non_null(memmem(text.p, text.len, rid[0], strlen(rid[0])));
	/* Another reader under the operator's entry: keyd refuses. */
	ask.purpose = CASE;
	assert_int_equal(cv_core_admit(v, &inv, &ask, &cg, &p, &why), CV_OK);
	assert_int_equal(cv_core_read_under(kd, p, ticket, &text),
	    CV_ERR_AUTH);
	assert_int_equal(g.left, 0);
	/* A break-glass pass opens its review, is outside the reader's
	 * cases for the guard, and reads only under its own entry. */
	ask.rid = rid[1];
	ask.break_glass = "a fire in the records room, ticket 4711";
	assert_int_equal(cv_core_admit(v, &inv, &ask, &cg, &p, &why), CV_OK);
	assert_true(cv_core_pass_review(p) > 0);
	assert_int_equal(g.outside, 1);
	assert_int_equal(cv_core_read_wait(kd, p, &e, NULL, &text),
	    CV_ERR_INVALID);
	assert_int_equal(g.left, 0);
	cv_buf_free(&text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_read_and_settle),
		cmocka_unit_test(test_under_ticket),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
