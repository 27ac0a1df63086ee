/*
 * The sandbox, each case in a forked child (a filter is for life): the
 * kernel shows it in force on every thread; what the api worker does
 * (threads, memory, randomness, pipes, poll on a socketpair, writes to
 * a real WAL-mode vault database through the store) still works; what
 * it must not do kills it with SIGSYS, files by name fail with EACCES;
 * keyd keeps its files (a real SoftHSM2 token: load, get, audit,
 * rotate) but no network; and docs/sandbox.md is what the code enforces.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "core/core.h"
#include "../testutil.h"
#include "audit/audit.h"
#include "gen/gen.h"
#include "sandbox/sandbox.h"
#include "store/store.h"
#include "vault/vault.h"

/* A failed check inside a child: say where, and exit 3 (not a signal). */
#define CHECK(c) do { if (!(c)) child_fail(__LINE__, #c); } while (0)

static void
child_fail(int line, const char *what)
{
	fprintf(stderr, "test_sandbox.c:%d: in the child: %s (errno %s; %s)\n",
	    line, what, strerrorname_np(errno) ? strerrorname_np(errno) : "0",
	    cv_err_detail());
	_exit(3);
}

static void
enter(enum cv_sandbox_profile p)
{
	CHECK(cv_sandbox_enter(p) == CV_OK);
}

typedef void child_fn(void *arg);

/* FN(ARG) in a child that exits 0 if FN returns; its wait status. */
static int
in_child(child_fn *fn, void *arg)
{
	pid_t pid;
	int st;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fn(arg);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static void
expect_ok(int st)
{
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("child: exit %d, signal %d", WIFEXITED(st) ?
		    WEXITSTATUS(st) : -1, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static void
expect_sigsys(int st, const char *what)
{
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
		fail_msg("%s: exit %d, signal %d, not SIGSYS", what,
		    WIFEXITED(st) ? WEXITSTATUS(st) : -1,
		    WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* The status file behind FD, read again from the start. */
static void
status_has(int fd, const char *seccomp, const char *nnp)
{
	char buf[4096];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);

	CHECK(n > 0);
	buf[n] = '\0';
	if (seccomp)
		CHECK(strstr(buf, seccomp) != NULL);
	if (nnp)
		CHECK(strstr(buf, nnp) != NULL);
}

/* -- the filter is in force ---------------------------------------- */

static void
child_status(void *arg)
{
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);

	(void)arg;
	CHECK(fd >= 0);
	status_has(fd, "\nSeccomp:\t0\n", "\nNoNewPrivs:\t0\n");
	enter(CV_SANDBOX_API);
	status_has(fd, "\nSeccomp:\t2\n", "\nNoNewPrivs:\t1\n");
}

static void
test_status_shows_filter(void **state)
{
	(void)state;
	expect_ok(in_child(child_status, NULL));
}

struct waiter {
	int go[2], tid[2];
};

static void *
wait_then_forbidden(void *arg)
{
	struct waiter *w = arg;
	pid_t tid = gettid();
	char c;

	if (write(w->tid[1], &tid, sizeof tid) != sizeof tid ||
	    read(w->go[0], &c, 1) != 1)
		return NULL;
	cv_sandbox_selftest_forbidden();
	return NULL;
}

/* A thread that exists before enter is filtered too (TSYNC), and its
 * forbidden call kills the whole process, not just the thread. */
static void
child_tsync(void *arg)
{
	struct waiter w;
	pthread_t t;
	pid_t tid;
	char path[64];
	int fd;

	(void)arg;
	CHECK(pipe(w.go) == 0 && pipe(w.tid) == 0);
	CHECK(pthread_create(&t, NULL, wait_then_forbidden, &w) == 0);
	CHECK(read(w.tid[0], &tid, sizeof tid) == sizeof tid);
	snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)tid);
	CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0);
	enter(CV_SANDBOX_API);
	status_has(fd, "\nSeccomp:\t2\n", "\nNoNewPrivs:\t1\n");
	CHECK(write(w.go[1], "x", 1) == 1);
	pthread_join(t, NULL);
	/* Still alive: the thread's call was not filtered. */
	fprintf(stderr, "the earlier thread was not filtered\n");
}

static void
test_threads_before_enter_are_filtered(void **state)
{
	(void)state;
	expect_sigsys(in_child(child_tsync, NULL), "forbidden call in an "
	    "earlier thread");
}

/* -- what the api worker does still works -------------------------- */

#define ROWS 4000
#define BODY 4096

struct db {
	char path[700];
};

static void *
thread_work(void *arg)
{
	uint8_t key[32], more[32];
	void *big, *small[16];

	(void)arg;
	randombytes_buf(key, sizeof key);
	if (getrandom(more, sizeof more, 0) != sizeof more)
		return NULL;
	/* 8 MiB is past malloc's mmap threshold: mmap, not the heap. */
	if ((big = malloc(8u << 20)) == NULL)
		return NULL;
	memset(big, 0xa5, 8u << 20);
	for (size_t i = 0; i < 16; i++) {
		if ((small[i] = malloc(24 + i * 40)) == NULL)
			return NULL;
		memset(small[i], (int)i, 24 + i * 40);
	}
	for (size_t i = 0; i < 16; i++)
		free(small[i]);
	free(big);
	return arg;
}

static void
put_row(struct cv_store *s, unsigned i, const uint8_t *body)
{
	struct cv_store_put p = { .version = 1, .gen = 1, .body = body,
	    .body_len = BODY };
	char rid[32];
	int exists = 0;

	snprintf(rid, sizeof rid, "CV-%016X", i * 2654435761u);
	p.rid = rid;
	randombytes_buf(p.wdek, sizeof p.wdek);
	randombytes_buf(p.ssn_bi, sizeof p.ssn_bi);
	randombytes_buf(p.name_bi, sizeof p.name_bi);
	CHECK(cv_store_insert(s, &p, &exists) == CV_OK && !exists);
}

static void
child_api_work(void *arg)
{
	const struct db *db = arg;
	struct cv_store *s = NULL;
	struct cv_store_row row = { 0 };
	struct pollfd ev = { .events = POLLIN };
	pthread_t t[8];
	int ids[8];
	int p[2], sp[2], unsent = -1;
	uid_t euid = geteuid();
	int64_t records, shredded;
	uint8_t *body, *secret;
	char buf[64];
	void *ret;

	/* Opened before entering, as the worker will. */
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == 0);
	CHECK(cv_store_open(db->path, CV_STORE_OPEN, &s) == CV_OK);
	/* The first read opens the -wal and -shm files. */
	CHECK(cv_store_count(s, &records, &shredded) == CV_OK && records == 0);
	enter(CV_SANDBOX_API);

	for (size_t i = 0; i < 8; i++)
		CHECK(pthread_create(&t[i], NULL, thread_work, &ids[i]) == 0);
	for (size_t i = 0; i < 8; i++)
		CHECK(pthread_join(t[i], &ret) == 0 && ret == &ids[i]);

	CHECK((secret = sodium_malloc(64)) != NULL);
	randombytes_buf(secret, 64);
	CHECK(sodium_mprotect_noaccess(secret) == 0);
	CHECK(sodium_mprotect_readwrite(secret) == 0);
	sodium_free(secret);

	/* As MHD does: name a thread, ask a socket for unsent bytes. */
	CHECK(pthread_setname_np(pthread_self(), "cv-test") == 0);
	CHECK(ioctl(sp[0], TIOCOUTQ, &unsent) == 0 && unsent == 0);
	CHECK(geteuid() == euid);

	CHECK(write(p[1], "pipe", 4) == 4 && read(p[0], buf, 4) == 4);
	CHECK(memcmp(buf, "pipe", 4) == 0);

	/* As MHD's event loop does (MHD_USE_POLL). */
	ev.fd = sp[1];
	CHECK(send(sp[0], "request", 7, MSG_NOSIGNAL) == 7);
	CHECK(poll(&ev, 1, 5000) == 1 && (ev.revents & POLLIN));
	CHECK(recv(sp[1], buf, sizeof buf, 0) == 7);
	CHECK(memcmp(buf, "request", 7) == 0);

	/* 16 MB in four commits: past SQLite's auto-checkpoint (1000
	 * pages), so the checkpoint path runs in the sandbox too. */
	CHECK((body = malloc(BODY)) != NULL);
	randombytes_buf(body, BODY);
	for (unsigned i = 0; i < ROWS; i++) {
		if (i % (ROWS / 4) == 0)
			CHECK(cv_store_begin(s) == CV_OK);
		put_row(s, i, body);
		if (i % (ROWS / 4) == ROWS / 4 - 1)
			CHECK(cv_store_commit(s) == CV_OK);
	}
	CHECK(cv_store_get(s, "CV-0000000000000000", &row) == CV_OK);
	CHECK(row.body_len == BODY && memcmp(row.body, body, BODY) == 0);
	cv_store_row_clear(&row);
	CHECK(cv_store_count(s, &records, &shredded) == CV_OK);
	CHECK(records == ROWS && shredded == 0);
	CHECK(cv_store_checkpoint(s) == CV_OK);
	free(body);
	/* The last connection would delete the -wal: refused softly. */
	cv_store_close(s);
}

static void
test_api_work_still_works(void **state)
{
	const char *dir = test_vault_dir();
	struct cv_store *s = NULL;
	struct db db;
	int64_t records, shredded;

	(void)state;
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(db.path, sizeof db.path, "%s/%s", dir, CV_STORE_FILE);
	assert_int_equal(cv_store_open(db.path, CV_STORE_CREATE, &s), CV_OK);
	cv_store_close(s);
	expect_ok(in_child(child_api_work, &db));
	/* What the sandboxed child committed is there for the next one. */
	assert_int_equal(cv_store_open(db.path, CV_STORE_OPEN, &s), CV_OK);
	assert_int_equal(cv_store_count(s, &records, &shredded), CV_OK);
	assert_int_equal(records, ROWS);
	cv_store_close(s);
	test_rm_rf(dir);
}

/* -- files by name fail softly, the worker lives on ---------------- */

static void
child_api_soft(void *arg)
{
	const char *file = arg;
	struct stat st;
	int fd;

	CHECK((fd = open(file, O_RDONLY | O_CLOEXEC)) >= 0);
	enter(CV_SANDBOX_API);
	errno = 0;
	CHECK(open(file, O_RDONLY) == -1 && errno == EACCES);
	CHECK(openat(AT_FDCWD, "/etc/passwd", O_RDONLY) == -1 &&
	    errno == EACCES);
	CHECK(fopen("/proc/self/maps", "r") == NULL && errno == EACCES);
	CHECK(open("/tmp/cv-sandbox-new", O_WRONLY | O_CREAT, 0600) == -1 &&
	    errno == EACCES);
	CHECK(stat(file, &st) == -1 && errno == EACCES);
	CHECK(access(file, R_OK) == -1 && errno == EACCES);
	CHECK(unlink(file) == -1 && errno == EACCES);
	CHECK(fstat(fd, &st) == 0 && st.st_nlink == 1);
	CHECK(socket(AF_UNIX, SOCK_DGRAM, 0) == -1 && errno == EACCES);
	CHECK(syscall(SYS_clone3, NULL, 0) == -1 && errno == ENOSYS);
}

static void
test_api_files_by_name_fail_softly(void **state)
{
	char file[] = "/tmp/cv-sandbox-XXXXXX";
	int fd = mkstemp(file);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	expect_ok(in_child(child_api_soft, file));
	assert_int_equal(access(file, F_OK), 0);
	unlink(file);
}

/* -- what kills ----------------------------------------------------- */

enum forbidden {
	F_HOOK, F_INET6, F_NETLINK, F_EXECVE, F_FORK, F_PTRACE, F_MMAP_EXEC,
	F_MPROTECT_EXEC, F_KILL_PARENT, F_TGKILL_PARENT, F_CONNECT, F_BIND,
	F_LISTEN, F_ACCEPT, F_MKDIR, F_X32, F_PRCTL, F_TIOCSTI, F__COUNT
};

static const char *const forbidden_names[F__COUNT] = {
	"cv_sandbox_selftest_forbidden", "socket(AF_INET6)",
	"socket(AF_NETLINK)", "execve", "fork", "ptrace", "mmap(PROT_EXEC)",
	"mprotect(PROT_EXEC)", "kill(parent)", "tgkill(parent)", "connect",
	"bind", "listen", "accept", "mkdir", "an x32 syscall",
	"prctl(PR_SET_DUMPABLE)", "ioctl(TIOCSTI)",
};

struct try {
	enum cv_sandbox_profile profile;
	enum forbidden what;
};

static void
child_forbidden(void *arg)
{
	const struct try *t = arg;
	char *const argv[] = { "true", NULL };
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	socklen_t unlen = offsetof(struct sockaddr_un, sun_path) + 6;
	int sp[2];
	void *m;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
	CHECK((m = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) != MAP_FAILED);
	memcpy(un.sun_path, "\0cvsbx", 6);	/* abstract: no file */
	enter(t->profile);
	switch (t->what) {
	case F_HOOK:
		cv_sandbox_selftest_forbidden();
		break;
	case F_INET6:
		socket(AF_INET6, SOCK_STREAM, 0);
		break;
	case F_NETLINK:
		socket(AF_NETLINK, SOCK_RAW, 0);
		break;
	case F_EXECVE:
		execve("/bin/true", argv, argv + 1);
		break;
	case F_FORK:
		if (fork() == 0)
			_exit(0);
		break;
	case F_PTRACE:
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		break;
	case F_MMAP_EXEC:
		mmap(NULL, 4096, PROT_READ | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		break;
	case F_MPROTECT_EXEC:
		mprotect(m, 4096, PROT_READ | PROT_EXEC);
		break;
	case F_KILL_PARENT:
		kill(getppid(), 0);
		break;
	case F_TGKILL_PARENT:
		syscall(SYS_tgkill, getppid(), getppid(), 0);
		break;
	case F_CONNECT:
		connect(sp[0], (struct sockaddr *)&un, unlen);
		break;
	case F_BIND:
		bind(sp[0], (struct sockaddr *)&un, unlen);
		break;
	case F_LISTEN:
		listen(sp[0], 1);
		break;
	case F_ACCEPT:
		accept(sp[0], NULL, NULL);
		break;
	case F_MKDIR:
		mkdir("/tmp/cv-sandbox-dir", 0700);
		break;
	case F_X32:
		/* getpid in the x32 ABI: same arch token, x32 bit set. */
		syscall(0x40000000 | SYS_getpid);
		break;
	case F_PRCTL:
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
		break;
	case F_TIOCSTI:
		/* Typing into the terminal: a classic escape. */
		ioctl(0, TIOCSTI, "x");
		break;
	case F__COUNT:
		break;
	}
	fprintf(stderr, "%s: not killed\n", forbidden_names[t->what]);
}

static void
expect_all_forbidden(enum cv_sandbox_profile p)
{
	for (int i = 0; i < F__COUNT; i++) {
		struct try t = { p, (enum forbidden)i };

		expect_sigsys(in_child(child_forbidden, &t),
		    forbidden_names[i]);
	}
}

static void
test_api_forbidden_kills(void **state)
{
	(void)state;
	expect_all_forbidden(CV_SANDBOX_API);
}

static void
test_keyd_forbidden_kills(void **state)
{
	(void)state;
	expect_all_forbidden(CV_SANDBOX_KEYD);
}

/* Without a filter the hook returns: it is the filter that kills. */
static void
child_unfiltered_hook(void *arg)
{
	(void)arg;
	cv_sandbox_selftest_forbidden();
}

static void
test_hook_unfiltered_returns(void **state)
{
	(void)state;
	expect_ok(in_child(child_unfiltered_hook, NULL));
}

/* -- keyd keeps its files ------------------------------------------- */

static void
child_keyd_files(void *arg)
{
	const char *dir = arg;
	char a[700], b[700];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd, seen = 0;

	enter(CV_SANDBOX_KEYD);
	snprintf(a, sizeof a, "%s/a.tmp", dir);
	snprintf(b, sizeof b, "%s/b", dir);
	CHECK((fd = open(a, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) >= 0);
	CHECK(write(fd, "keyd", 4) == 4 && fsync(fd) == 0 && close(fd) == 0);
	CHECK(rename(a, b) == 0 && stat(b, &st) == 0 && st.st_size == 4);
	CHECK((d = opendir(dir)) != NULL);
	while ((de = readdir(d)) != NULL)
		seen += strcmp(de->d_name, "b") == 0;
	CHECK(closedir(d) == 0 && seen == 1);
	CHECK(socket(AF_UNIX, SOCK_STREAM, 0) == -1 && errno == EACCES);
	CHECK(unlink(b) == 0);
}

static void
test_keyd_files_work(void **state)
{
	char dir[] = "/tmp/cv-sandbox-XXXXXX";

	(void)state;
	assert_non_null(mkdtemp(dir));
	expect_ok(in_child(child_keyd_files, dir));
	assert_int_equal(rmdir(dir), 0);
}

#define VAULT_N 40

static void
child_keyd_vault(void *arg)
{
	const char *dir = arg;
	struct cv_vault *v = NULL;
	struct cv_audit *a = NULL;
	struct cv_load_opts o = { 0 };
	struct cv_load_stats st;
	struct cv_load_error err;
	struct cv_rotate_stats rs;
	struct cv_buf in = { 0 }, out = { 0 };
	struct cv_audit_entry e = { .outcome = CV_AUDIT_ALLOWED,
	    .action = "sandbox-test", .actor = "keyd" };
	char id[20];

	for (uint64_t i = 0; i < VAULT_N; i++)
		CHECK(cv_gen_record(7, i, &in) == CV_OK);
	memcpy(id, in.p + 7, 19);
	id[19] = '\0';
	/* keyd loads the PKCS#11 module and unseals the keyring first. */
	CHECK(cv_vault_open(dir, &v) == CV_OK);
	enter(CV_SANDBOX_KEYD);
	CHECK((o.in = fmemopen(in.p, in.len, "r")) != NULL);
	CHECK(cv_vault_load(v, &o, &st, &err) == CV_OK);
	fclose(o.in);
	CHECK(cv_vault_get_text(v, id, NULL, &out) == CV_OK && out.len > 0);
	CHECK(cv_core_audit_open(v, 0, &a) == CV_OK);
	CHECK(cv_audit_append(a, &e, NULL) == CV_OK);
	out.len = 0;
	CHECK(cv_audit_checkpoint(a, &out) == CV_OK);
	cv_audit_close(a);
	/* A new root key in the token, the old one destroyed. */
	CHECK(cv_vault_rotate(v, NULL, NULL, &rs) == CV_OK);
	CHECK(rs.rewrapped >= VAULT_N);
	cv_vault_close(v);
	cv_buf_free(&in);
	cv_buf_free(&out);
}

static void
test_keyd_vault_works(void **state)
{
	const char *dir = test_vault_dir();
	struct cv_vault_init_opts o = { 0 };
	struct cv_vault *v = NULL;
	int64_t records, shredded;

	(void)state;
	assert_int_equal(cv_vault_init(dir, &o), CV_OK);
	assert_int_equal(cv_audit_create(dir, NULL), CV_OK);
	expect_ok(in_child(child_keyd_vault, (void *)dir));
	assert_int_equal(cv_vault_open(dir, &v), CV_OK);
	assert_int_equal(cv_vault_count(v, &records, &shredded), CV_OK);
	assert_true(records >= VAULT_N);
	cv_vault_close(v);
	test_rm_rf(dir);
}

/* -- a sanitizer's report still comes out ------------------------- */

extern void __sanitizer_print_stack_trace(void) __attribute__((weak));

static void
child_overflow(void *arg)
{
	int *err = arg;
	volatile size_t i = 16;
	char *p;

	CHECK(dup2(*err, 2) == 2);
	CHECK((p = malloc(16)) != NULL);
	enter(CV_SANDBOX_API);
	p[i] = 'x';	/* one past the end */
	free(p);
}

/*
 * In a sanitizer build a bug found inside the sandbox must be reported
 * and end the process as the sanitizer intends, not as a SIGSYS from
 * the report's own syscalls (which would read as an intrusion).
 */
static void
test_sanitizer_report_survives(void **state)
{
	char buf[65536];
	size_t len = 0;
	ssize_t n;
	int pfd[2], st;

	(void)state;
	if (__sanitizer_print_stack_trace == NULL)
		skip();
	assert_int_equal(pipe(pfd), 0);
	/* A report is a few KiB: it fits the pipe while we wait. */
	st = in_child(child_overflow, &pfd[1]);
	close(pfd[1]);
	while (len < sizeof buf - 1 &&
	    (n = read(pfd[0], buf + len, sizeof buf - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(pfd[0]);
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS)
		fail_msg("the report was killed by the filter:\n%s", buf);
	assert_true(WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st)));
	if (strstr(buf, "heap-buffer-overflow") == NULL)
		fail_msg("no report:\n%s", buf);
}

/* -- the documentation is the table -------------------------------- */

static void
test_docs_match_rules(void **state)
{
	const char *kat = getenv("KAT_DIR");
	char path[1024], *doc = NULL, *table;
	size_t len, tlen;
	FILE *f;

	(void)state;
	assert_non_null(kat);
	for (int d = 0; d < 2; d++) {
		const char *name = d ? "README.md" : "docs/sandbox.md";

		snprintf(path, sizeof path, "%s/../../%s", kat, name);
		assert_int_equal(cv_file_read(path, 1 << 20, &doc, &len),
		    CV_OK);
		for (int p = 0; p < CV_SANDBOX__COUNT; p++) {
			assert_non_null(f = open_memstream(&table, &tlen));
			assert_int_equal(cv_sandbox_describe(
			    (enum cv_sandbox_profile)p, f), CV_OK);
			fclose(f);
			if (strstr(doc, table) == NULL)
				fail_msg("%s lacks the %s table as the code "
				    "prints it:\n%s", name,
				    cv_sandbox_profile_name(
				    (enum cv_sandbox_profile)p), table);
			free(table);
		}
		free(doc);
	}
	assert_int_equal(cv_sandbox_describe(CV_SANDBOX__COUNT, stdout),
	    CV_ERR_INVALID);
	assert_int_equal(cv_sandbox_enter(CV_SANDBOX__COUNT), CV_ERR_INVALID);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_shows_filter),
		cmocka_unit_test(test_threads_before_enter_are_filtered),
		cmocka_unit_test(test_api_work_still_works),
		cmocka_unit_test(test_api_files_by_name_fail_softly),
		cmocka_unit_test(test_hook_unfiltered_returns),
		cmocka_unit_test(test_api_forbidden_kills),
		cmocka_unit_test(test_keyd_forbidden_kills),
		cmocka_unit_test(test_keyd_files_work),
		cmocka_unit_test(test_keyd_vault_works),
		cmocka_unit_test(test_sanitizer_report_survives),
		cmocka_unit_test(test_docs_match_rules),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
