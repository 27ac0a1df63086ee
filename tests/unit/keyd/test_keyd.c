/*
 * keyd against a real vault (SoftHSM2 token, SQLite, audit log): record
 * plaintext comes out only under a durable entry that names that record,
 * those sections and that principal; every refusal is on the log and in
 * alerts.jsonl; a malformed request ends the channel. Each case runs in
 * process and over a socketpair to a key side in a forked process.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/core.h"
#include "../testutil.h"
#include "gen/gen.h"
#include "keyd/keyd.h"
#include "keyd/keyd_internal.h"
#include "keyd/keyd_read.h"
#include "auth/users.h"
#include "record/record.h"

static const char *dir;
static char rid[2][CV_RECORD_ID_MAX + 1];

struct side {
	struct cv_vault *v;
	struct cv_audit *a;
	struct cv_keyd *k;
	struct cv_keyd_client *c;
	pid_t child;
	int fd;		/* the raw channel, for hostile frames */
};

static int
setup(void **state)
{
	struct cv_vault_init_opts o = { 0 };
	struct cv_vault *v = NULL;
	struct cv_buf in = { 0 };
	struct cv_record_error re;
	uint32_t ver;

	(void)state;
	dir = test_vault_dir();
	if (cv_vault_init(dir, &o) != CV_OK || cv_audit_create(dir, NULL) != CV_OK ||
	    cv_vault_open(dir, &v) != CV_OK)
		return -1;
	for (int i = 0; i < 2; i++) {
		in.len = 0;
		if (cv_gen_record(42, (uint64_t)i, &in) != CV_OK ||
		    cv_vault_put(v, (const char *)in.p, in.len, NULL, 0, &re,
		    rid[i], &ver) != CV_OK)
			return -1;
	}
	cv_buf_free(&in);
	cv_vault_close(v);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	test_rm_rf(dir);
	return 0;
}

static void
open_side(struct side *s)
{
	memset(s, 0, sizeof *s);
	s->fd = -1;
	assert_int_equal(cv_vault_open(dir, &s->v), CV_OK);
	assert_int_equal(cv_core_audit_open(s->v, 0, &s->a), CV_OK);
	assert_int_equal(cv_keyd_new(s->v, s->a, &s->k), CV_OK);
}

static void
close_side(struct side *s)
{
	cv_keyd_free(s->k);
	cv_audit_close(s->a);
	cv_vault_close(s->v);
}

/* The child's side of the socketpair SV: keyd serves it until it ends.
 * Exits 0 when the peer went, 3 when it was cut off for a bad frame. */
static void
serve_child(int sv[2])
{
	struct side k;
	cv_err r;

	close(sv[0]);
	open_side(&k);
	r = cv_keyd_serve(k.k, sv[1]);
	close_side(&k);
	_exit(r == CV_OK ? 0 : 3);
}

/* The key side in a child process, served over a socketpair. */
static void
start(struct side *s, int remote)
{
	int sv[2];

	if (!remote) {
		open_side(s);
		assert_int_equal(cv_keyd_client_local(s->k, &s->c), CV_OK);
		return;
	}
	memset(s, 0, sizeof *s);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
	if ((s->child = fork()) == 0)
		serve_child(sv);
	assert_true(s->child > 0);
	close(sv[1]);
	s->fd = dup(sv[0]);
	assert_int_equal(cv_keyd_client_channel(sv[0], &s->c), CV_OK);
}

/* Returns the child's exit status (0 when in process). */
static int
stop(struct side *s)
{
	int st = 0;

	cv_keyd_client_free(s->c);
	if (s->fd >= 0)
		close(s->fd);
	if (s->child) {
		assert_int_equal(waitpid(s->child, &st, 0), s->child);
		return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
	}
	close_side(s);
	return 0;
}

/* TEXT (not NUL-terminated) holds S. */
static const void *
has(const struct cv_buf *text, const char *s)
{
	return memmem(text->p, text->len, s, strlen(s));
}

static struct cv_audit_entry
read_entry(const char *actor, const char **rec, unsigned sections)
{
	struct cv_audit_entry e = { 0 };

	e.outcome = CV_AUDIT_ALLOWED;
	e.action = "records.get";
	e.actor = actor;
	e.sections = sections;
	e.records = rec;
	e.nrecords = 1;
	return e;
}

static unsigned
sec(const char *name)
{
	return 1u << cv_record_section_index(name);
}

static int
alerts_mention(const char *what)
{
	char path[700], *text = NULL;
	size_t n;
	int found;

	snprintf(path, sizeof path, "%s/alerts.jsonl", dir);
	if (cv_file_read(path, 1 << 20, &text, &n) != CV_OK)
		return 0;
	found = strstr(text, what) != NULL;
	free(text);
	return found;
}

static void
reads(int remote)
{
	struct side s;
	const char *r0 = rid[0];
	struct cv_audit_entry e = read_entry("alice", &r0,
	    sec("identity") | sec("contact"));
	struct cv_buf t = { 0 };
	uint64_t idx = 0, idx2 = 0;

	start(&s, remote);
	/* The read writes its entry, then releases just those sections. */
	assert_int_equal(cv_keyd_read(s.c, &e, &idx, &t), CV_OK);
	assert_non_null(has(&t, "\"identity\""));
	assert_non_null(has(&t, "\"contact\""));
	assert_null(has(&t, "\"financial\""));
	/* The same ticket opens a subset of the sections again... */
	t.len = 0;
	assert_int_equal(cv_keyd_decrypt(s.c, idx, "alice", rid[0],
	    sec("identity"), &t), CV_OK);
	assert_non_null(has(&t, "\"identity\""));
	/* ...but not another section, record or principal. */
	assert_int_equal(cv_keyd_decrypt(s.c, idx, "alice", rid[0],
	    sec("financial"), &t), CV_ERR_AUTH);
	assert_int_equal(cv_keyd_decrypt(s.c, idx, "alice", rid[1],
	    sec("identity"), &t), CV_ERR_AUTH);
	assert_int_equal(cv_keyd_decrypt(s.c, idx, "mallory", rid[0],
	    sec("identity"), &t), CV_ERR_AUTH);
	/* Not a ticket that is no entry at all (not durable, or never). */
	assert_int_equal(cv_keyd_decrypt(s.c, idx + 1000, "alice", rid[0],
	    sec("identity"), &t), CV_ERR_AUTH);
	/* A denied entry is no ticket. */
	e.outcome = CV_AUDIT_DENIED;
	assert_int_equal(cv_keyd_append(s.c, &e, &idx2), CV_OK);
	assert_true(idx2 > idx);
	assert_int_equal(cv_keyd_decrypt(s.c, idx2, "alice", rid[0],
	    sec("identity"), &t), CV_ERR_AUTH);
	/* A read must be allowed, of one record, with sections. */
	assert_int_equal(cv_keyd_read(s.c, &e, NULL, &t), CV_ERR_INVALID);
	e.outcome = CV_AUDIT_ALLOWED;
	e.sections = 0;
	assert_int_equal(cv_keyd_read(s.c, &e, NULL, &t), CV_ERR_INVALID);
	assert_true(alerts_mention("ticket"));
	assert_true(alerts_mention("keyd_refused"));
	cv_buf_free(&t);
	assert_int_equal(stop(&s), 0);
}

static void
test_reads_local(void **state)
{
	(void)state;
	reads(0);
}

static void
test_reads_channel(void **state)
{
	(void)state;
	reads(1);
}

/* STATE into FD as the supervisor's pusher writes it. */
static void
quorum_write(int fd, int missing, int64_t since_us)
{
	uint8_t b[CV_KEYD_QUORUM_BYTES];

	cv_keyd_quorum_put(b, missing, since_us);
	assert_int_equal(pwrite(fd, b, sizeof b, 0), (ssize_t)sizeof b);
}

/* witness_no_quorum = refuse-reads: keyd reads the state before every
 * decrypt, and refuses while the quorum is missing or the state cannot
 * be read (fail closed). */
static void
test_refuse_reads(void **state)
{
	struct side s;
	const char *r0 = rid[0];
	struct cv_audit_entry e = read_entry("alice", &r0, sec("identity"));
	struct cv_buf t = { 0 };
	uint8_t b[CV_KEYD_QUORUM_BYTES];
	uint64_t idx = 0;
	int fd;

	(void)state;
	assert_true((fd = memfd_create("test-quorum", MFD_CLOEXEC)) >= 0);
	start(&s, 0);
	/* Not under the policy: the state is not read. */
	quorum_write(fd, 1, cv_now_us());
	assert_int_equal(cv_keyd_read(s.c, &e, &idx, &t), CV_OK);
	cv_keyd_refuse_reads(s.k, fd, 0);
	quorum_write(fd, 0, 0);
	t.len = 0;
	assert_int_equal(cv_keyd_read(s.c, &e, &idx, &t), CV_OK);
	assert_non_null(has(&t, "\"identity\""));
	/* Missing for 5 s: neither a read nor a ticket's release. */
	quorum_write(fd, 1, cv_now_us() - 5500000);
	t.len = 0;
	assert_int_equal(cv_keyd_read(s.c, &e, NULL, &t), CV_ERR_QUORUM);
	assert_string_equal(cv_err_detail(), "no witness quorum for 5 s: "
	    "reads refused by policy");
	assert_int_equal(t.len, 0);
	assert_int_equal(cv_keyd_decrypt(s.c, idx, "alice", rid[0],
	    sec("identity"), &t), CV_ERR_QUORUM);
	assert_int_equal(t.len, 0);
	/* A state that is not whole, or none at all: refused. */
	cv_keyd_quorum_put(b, 0, 0);
	b[31] ^= 1;
	assert_int_equal(pwrite(fd, b, sizeof b, 0), (ssize_t)sizeof b);
	assert_int_equal(cv_keyd_read(s.c, &e, NULL, &t), CV_ERR_QUORUM);
	assert_non_null(strstr(cv_err_detail(), "cannot be read"));
	assert_int_equal(ftruncate(fd, 8), 0);
	assert_int_equal(cv_keyd_read(s.c, &e, NULL, &t), CV_ERR_QUORUM);
	cv_keyd_refuse_reads(s.k, -1, 0);
	assert_int_equal(cv_keyd_read(s.c, &e, NULL, &t), CV_ERR_QUORUM);
	/* The quorum back: reads again. */
	cv_keyd_refuse_reads(s.k, fd, 0);
	quorum_write(fd, 0, 0);
	assert_int_equal(cv_keyd_read(s.c, &e, NULL, &t), CV_OK);
	assert_non_null(has(&t, "\"identity\""));
	/* With a freshness bound: a confirmation too old (a pusher that
	 * stalled) refuses, a fresh one reads. */
	cv_keyd_refuse_reads(s.k, fd, 10 * 1000000);
	quorum_write(fd, 0, cv_now_us() - 11 * 1000000);
	t.len = 0;
	assert_int_equal(cv_keyd_read(s.c, &e, NULL, &t), CV_ERR_QUORUM);
	assert_non_null(strstr(cv_err_detail(), "last confirmed 11 s ago"));
	quorum_write(fd, 0, cv_now_us());
	assert_int_equal(cv_keyd_read(s.c, &e, NULL, &t), CV_OK);
	cv_buf_free(&t);
	assert_int_equal(stop(&s), 0);
	close(fd);
}

static void
test_refusals_are_logged(void **state)
{
	struct side s;
	struct cv_buf leaf = { 0 };
	uint64_t size, i;
	int found = 0;
	struct cv_audit_view v;
	struct cv_buf t = { 0 };

	(void)state;
	start(&s, 0);
	assert_int_equal(cv_keyd_decrypt(s.c, 0, "eve", rid[0],
	    sec("identity"), &t), CV_ERR_AUTH);
	assert_int_equal(cv_audit_size(s.a, &size), CV_OK);
	for (i = 0; i < size; i++) {
		leaf.len = 0;
		assert_int_equal(cv_audit_leaf(s.a, i, &leaf), CV_OK);
		assert_int_equal(cv_audit_view(leaf.p, leaf.len, &v), CV_OK);
		if (v.f[CV_AUDIT_ACTION].len == 12 &&
		    memcmp(v.f[CV_AUDIT_ACTION].p, "keyd.refused", 12) == 0 &&
		    v.f[CV_AUDIT_ACTOR].len == 3 &&
		    memcmp(v.f[CV_AUDIT_ACTOR].p, "eve", 3) == 0)
			found = 1;
	}
	assert_true(found);
	cv_buf_free(&leaf);
	cv_buf_free(&t);
	assert_int_equal(stop(&s), 0);
}

static void
test_sign_only_hashes(void **state)
{
	uint8_t h[33], sig[CV_EC_SIG_BYTES];
	struct side s;

	(void)state;
	start(&s, 1);
	memset(h, 0xab, sizeof h);
	assert_int_equal(cv_keyd_sign_tls(s.c, h, 32, sig), CV_OK);
	/* A note, or anything else but a hash, is refused; longer than a
	 * hash does not even pass the wire (the channel ends). */
	assert_int_equal(cv_keyd_sign_tls(s.c, (const uint8_t *)"hello",
	    5, sig), CV_ERR_AUTH);
	assert_int_not_equal(cv_keyd_sign_tls(s.c, h, 33, sig), CV_OK);
	(void)stop(&s);
}

static void
test_blind_index_same_both_ways(void **state)
{
	uint8_t a[CV_BIDX_BYTES], b[CV_BIDX_BYTES];
	struct side s;

	(void)state;
	start(&s, 1);
	assert_int_equal(cv_keyd_blind_index(s.c, CV_BIDX_SSN, "900-12-3456",
	    11, a), CV_OK);
	assert_int_equal(stop(&s), 0);
	start(&s, 0);
	assert_int_equal(cv_keyd_blind_index(s.c, CV_BIDX_SSN, "900-12-3456",
	    11, b), CV_OK);
	assert_int_equal(stop(&s), 0);
	assert_memory_equal(a, b, sizeof a);
}

static void
test_guard_state_and_totp(void **state)
{
	struct side s;
	struct cv_buf plain = { 0 };
	uint8_t seed[20], box[20 + CV_SEAL_OVERHEAD];
	uint64_t step;
	int i;

	(void)state;
	start(&s, 0);
	/* The guard's state is saved sealed by keyd and comes back the
	 * same; a file altered on disk is refused, naming it. */
	assert_int_equal(cv_keyd_guard_load(s.c, &plain), CV_ERR_NOT_FOUND);
	assert_int_equal(cv_keyd_guard_save(s.c, (const uint8_t *)"state", 5),
	    CV_OK);
	assert_int_equal(cv_keyd_guard_load(s.c, &plain), CV_OK);
	assert_int_equal(plain.len, 5);
	assert_memory_equal(plain.p, "state", 5);
	{
		char path[700], *t = NULL;
		size_t n;

		snprintf(path, sizeof path, "%s/guard.state", dir);
		assert_int_equal(cv_file_read(path, 1 << 20, &t, &n), CV_OK);
		assert_int_equal(n, 5 + CV_SEAL_OVERHEAD);
		assert_null(memmem(t, n, "state", 5));	/* sealed */
		t[n - 1] ^= 1;
		assert_int_equal(cv_file_replace(path, t, n, 0600), CV_OK);
		free(t);
	}
	plain.len = 0;
	assert_int_equal(cv_keyd_guard_load(s.c, &plain), CV_ERR_AUTH);
	assert_non_null(strstr(cv_err_detail(), "guard.state"));
	/* A seed sealed for bob is no seed for carol; wrong codes are
	 * counted by the key side and cut off after ten. */
	memset(seed, 7, sizeof seed);
	assert_int_equal(cv_keys_seal(cv_vault_keys(s.v), "totp:bob", seed,
	    sizeof seed, box), CV_OK);
	assert_int_equal(cv_keyd_totp(s.c, "carol", "123456", box,
	    sizeof box, &step), CV_ERR_AUTH);
	for (i = 0; i < 10; i++)
		if (cv_keyd_totp(s.c, "bob", "000000", box, sizeof box,
		    &step) == CV_OK)
			break;	/* 000000 happened to be the code: unlucky */
	if (i == 10)
		assert_int_equal(cv_keyd_totp(s.c, "bob", "000001", box,
		    sizeof box, &step), CV_ERR_LIMIT);
	assert_true(alerts_mention("too many wrong TOTP codes"));
	cv_buf_free(&plain);
	assert_int_equal(stop(&s), 0);
}

/*
 * From a channel (the network process), keyd signs a certificate only for
 * an account whose creation the log shows approved by a second person;
 * and that process cannot write the command line's bootstrap entries.
 */
static void
test_enrol_needs_the_logged_approval(void **state)
{
	struct side s, l;
	struct cv_buf out = { 0 };
	struct cv_audit_entry e = { 0 };
	char code[CV_ENROL_CODE_CHARS + 1], reason[200];
	uint64_t prop;
	struct cv_vault *v;

	(void)state;
	/* A pending admin account with a code, as a compromised network
	 * process could make one in the store. */
	assert_int_equal(cv_vault_open(dir, &v), CV_OK);
	assert_int_equal(cv_auth_user_create(cv_vault_store(v), "eve", CV_ROLE_ADMIN,
	    cv_time_us(), code), CV_OK);
	cv_vault_close(v);
	start(&s, 1);
	assert_int_equal(cv_keyd_enrol(s.c, "eve", code, "x", 1, &out),
	    CV_ERR_AUTH);
	/* Forging the bootstrap entry from the channel is refused. */
	e.outcome = CV_AUDIT_ALLOWED;
	e.action = "user.add";
	e.actor = "root";
	e.source = "cli";
	e.reason = "bootstrap: user eve, role admin, awaiting enrolment";
	assert_int_equal(cv_keyd_append(s.c, &e, NULL), CV_ERR_AUTH);
	assert_int_equal(cv_keyd_enrol(s.c, "eve", code, "x", 1, &out),
	    CV_ERR_AUTH);
	/* A proposal approved by its own proposer is no approval. */
	memset(&e, 0, sizeof e);
	e.outcome = CV_AUDIT_ALLOWED;
	e.action = "users.add";
	e.actor = "mallory";
	e.reason = "proposal 7: user.create eve {\"role\":\"admin\"}; needs "
	    "a second person";
	assert_int_equal(cv_keyd_append(s.c, &e, &prop), CV_OK);
	snprintf(reason, sizeof reason, "approved proposal 7 (audit index "
	    "%llu) by mallory: user.create eve", (unsigned long long)prop);
	e.action = "approvals.approve";
	e.reason = reason;
	assert_int_equal(cv_keyd_append(s.c, &e, NULL), CV_OK);
	assert_int_equal(cv_keyd_enrol(s.c, "eve", code, "x", 1, &out),
	    CV_ERR_AUTH);
	/* Approved by a second person: keyd goes on to the enrolment
	 * itself (here a CSR that is not one: refused as such). */
	e.actor = "trent";
	assert_int_equal(cv_keyd_append(s.c, &e, NULL), CV_OK);
	assert_int_equal(cv_keyd_enrol(s.c, "eve", code, "x", 1, &out),
	    CV_ERR_INVALID);
	assert_int_equal(stop(&s), 0);
	/* In the operator's own process the bootstrap needs no approval. */
	start(&l, 0);
	assert_int_equal(cv_keyd_enrol(l.c, "eve", code, "x", 1, &out),
	    CV_ERR_INVALID);
	assert_int_equal(stop(&l), 0);
	cv_buf_free(&out);
}

/*
 * Requests that arrive together (one write): the reads among them are
 * answered from rows read at once, each as it would be alone, in the
 * right reply: two good reads (one record twice), one of no record, one
 * in the command line's name (refused), then an append that ends the
 * batch and a read after it. Then a bad frame after a good read: the
 * channel is cut, as when each came alone.
 */
static void
test_reads_together(void **state)
{
	const char *r0 = rid[0], *r1 = rid[1], *none = "CV-NO-SUCH-RECORD";
	struct keyd_req q[7] = { { 0 } };
	struct cv_buf out = { 0 };
	struct keyd_reader rd = { .fd = -1 };
	uint8_t bad[KEYD_HDR + 4];
	struct keyd_reply rp;
	const uint8_t *f;
	size_t n;
	int sv[2], st, got = 0;
	pid_t child;
	static const cv_err want[7] = { CV_OK, CV_OK, CV_ERR_NOT_FOUND,
	    CV_ERR_AUTH, CV_OK, CV_OK, CV_OK };

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
	if ((child = fork()) == 0)
		serve_child(sv);
	close(sv[1]);
	for (int i = 0; i < 7; i++) {
		q[i].type = i == 4 ? KEYD_APPEND : KEYD_READ;
		q[i].id = 100 + (uint64_t)i;
		q[i].e = read_entry("alice", i == 1 || i == 5 ? &r1 :
		    i == 2 ? &none : &r0, sec("identity"));
		if (i == 3)
			q[i].e.source = "cli";
		assert_int_equal(keyd_encode(&out, &q[i]), CV_OK);
	}
	assert_int_equal(write(sv[0], out.p, out.len), (ssize_t)out.len);
	rd.fd = sv[0];
	while (got < 7) {
		assert_int_equal(keyd_read_frame(&rd, &f, &n), CV_OK);
		assert_int_equal(keyd_decode_reply(f, n, &rp), CV_OK);
		assert_true(rp.id >= 100 && rp.id < 107);
		assert_int_equal(rp.status, want[rp.id - 100]);
		if (rp.id == 100 || rp.id == 106)
			assert_non_null(memmem(rp.text, rp.len, rid[0],
			    strlen(rid[0])));
		if (rp.id == 101 || rp.id == 105)
			assert_non_null(memmem(rp.text, rp.len, rid[1],
			    strlen(rid[1])));
		got++;
	}
	/* A good read, then a frame of no type, in one write. */
	out.len = 0;
	assert_int_equal(keyd_encode(&out, &q[0]), CV_OK);
	memset(bad, 0, sizeof bad);
	cv_put_u32be(bad, sizeof bad - 4);
	cv_put_u16be(bad + 4, 77);	/* no such type */
	assert_int_equal(cv_buf_add(&out, bad, sizeof bad), CV_OK);
	assert_int_equal(write(sv[0], out.p, out.len), (ssize_t)out.len);
	/* The read went ahead (its reply may be cut off with the channel,
	 * as when it came alone); nothing else is answered. */
	while (keyd_read_frame(&rd, &f, &n) == CV_OK) {
		assert_int_equal(keyd_decode_reply(f, n, &rp), CV_OK);
		assert_int_equal(rp.id, 100);
		assert_int_equal(rp.status, CV_OK);
	}
	assert_int_equal(waitpid(child, &st, 0), child);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 3);
	assert_true(alerts_mention("keyd_violation"));
	close(sv[0]);
	keyd_reader_free(&rd);
	cv_buf_free(&out);
}

/* A frame our encoder never makes ends the channel: a violation. */
static void
test_malformed_request_ends_channel(void **state)
{
	uint8_t bad[KEYD_HDR + 4];
	struct side s;
	struct cv_buf t = { 0 };

	(void)state;
	start(&s, 1);
	memset(bad, 0, sizeof bad);
	cv_put_u32be(bad, sizeof bad - 4);
	cv_put_u16be(bad + 4, 77);	/* no such type */
	assert_int_equal(write(s.fd, bad, sizeof bad), (ssize_t)sizeof bad);
	/* The channel is gone: calls fail closed, nothing hangs. */
	assert_int_equal(cv_keyd_decrypt(s.c, 0, "alice", rid[0],
	    sec("identity"), &t), CV_ERR_HSM);
	assert_int_equal(stop(&s), 3);
	assert_true(alerts_mention("keyd_violation"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reads_local),
		cmocka_unit_test(test_reads_channel),
		cmocka_unit_test(test_refuse_reads),
		cmocka_unit_test(test_refusals_are_logged),
		cmocka_unit_test(test_sign_only_hashes),
		cmocka_unit_test(test_blind_index_same_both_ways),
		cmocka_unit_test(test_malformed_request_ends_channel),
		cmocka_unit_test(test_reads_together),
		cmocka_unit_test(test_guard_state_and_totp),
		cmocka_unit_test(test_enrol_needs_the_logged_approval),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
