/*
 * Fault injection, compiled into test builds only (-Dtest_hooks=true).
 *
 * Two kinds of site:
 *  - named points a test aims at (cv_fault("audit.sync")): the failure
 *    the code takes is chosen by the code;
 *  - every call of ours to the outside world that can fail: allocation,
 *    file I/O, SQLite, libpq and PKCS#11. The link step wraps the libc,
 *    SQLite and libpq symbols (-Wl,--wrap, src/meson.build) so that every
 *    call from our objects comes here first; PKCS#11 goes through a shim
 *    function list (keys/p11_fault.c); jansson allocates through
 *    cv_json_malloc (base.c), whose malloc is ours. Libraries' own
 *    internal calls are not ours and are not counted.
 *
 * CLEARVAULT_FAULT selects one class and a count, SQLite's malloc-test
 * way: "alloc:N", "file:N", "ipc:N" (read and write on sockets),
 * "sqlite:N", "pq:N", "p11:N", "io:N" (all but alloc) or "any:N" fails the Nth matching call of this process;
 * "file.fsync:N" names one site of a class; "CLASS:N+" fails the Nth
 * and every later one (a disk that stays full); "CLASS:@FILE" fails every
 * call while FILE exists. A test loops N = 1, 2, ... until no fault
 * fires. Each fault that fires is reported as one line to the file
 * CLEARVAULT_FAULT_LOG (or stderr): the process, the site, N and the
 * calling instruction's offset in its object, for addr2line.
 *
 * A running server is steered through a control file instead:
 * CLEARVAULT_FAULT="ctl:PATH" maps PATH (struct ctl below, written by
 * tests/fault/faultctl.py) shared at the first call, before any sandbox.
 * The test writes a new spec and bumps its generation; every process
 * then counts from zero again (or only process PID, for "CLASS@PID"), and adds each fault it fires to the
 * file's count, so the test can tell whether its request met one.
 *
 * Counts are per process; a child made by fork goes on from its parent's
 * count, one made by exec starts at zero.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base.h"

#ifndef CV_TEST_HOOKS

int
cv_fault(const char *name)
{
	(void)name;
	return 0;	/* release builds: no fault injection at all */
}

int
cv_fault_at(const char *cls, const char *site)
{
	(void)cls;
	(void)site;
	return 0;
}

#else

#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <libpq-fe.h>
#include <sodium.h>
#include <sqlite3.h>

/* The control file's layout (tests/fault/faultctl.py writes it). */
struct ctl {
	char magic[8];			/* "CVFAULT1" */
	_Atomic uint32_t gen;		/* bumped after the spec changes */
	uint32_t n, persist;
	char what[48];
	_Atomic uint32_t fired;		/* faults fired under this spec */
	char last[64];			/* the last one's class.site */
};

static struct {
	_Atomic int state;		/* 0 unread, 1 read */
	pthread_mutex_t mu;
	char what[48];			/* class, class.site or point name */
	unsigned long n;		/* the call that fails (0: none) */
	int persist;			/* "N+": and every one after it */
	const char *file;		/* "@FILE": while FILE exists */
	char path[256];			/* FILE's copy */
	char seen[256];			/* the environment value parsed */
	pid_t pid;			/* ctl "CLASS@PID": that process only */
	struct ctl *ctl;		/* "ctl:PATH" */
	uint32_t gen;			/* the ctl generation counted */
} spec = { .mu = PTHREAD_MUTEX_INITIALIZER };
static _Atomic unsigned long hits;

/* The real calls, for the wrappers and for our own reporting. */
void *__real_malloc(size_t);
int __real_open64(const char *, int, ...);
ssize_t __real_write(int, const void *, size_t);


static void
ctl_map(const char *path)
{
	void *m;
	int fd;

	if ((fd = __real_open64(path, O_RDWR | O_CLOEXEC)) < 0)
		return;
	m = mmap(NULL, sizeof(struct ctl), PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0);
	close(fd);
	/* A process started while a spec is armed (a worker restarted
	 * after its fault) does not take it: "from now" meant the
	 * processes that were running. */
	if (m != MAP_FAILED && memcmp(m, "CVFAULT1", 8) == 0) {
		spec.ctl = m;
		spec.gen = atomic_load(&spec.ctl->gen);
	}
	else if (m != MAP_FAILED)
		munmap(m, sizeof(struct ctl));
}

/* Under spec.mu: the spec of environment value F (NULL: none). */
static void
spec_parse(const char *f)
{
	const char *colon;
	size_t n;

	spec.what[0] = '\0';
	spec.n = 0;
	spec.persist = 0;
	spec.file = NULL;
	snprintf(spec.seen, sizeof spec.seen, "%s", f ? f : "");
	if (f != NULL && strncmp(f, "ctl:", 4) == 0)
		ctl_map(f + 4);
	else if (f != NULL && (colon = strchr(f, ':')) != NULL &&
	    (n = (size_t)(colon - f)) > 0 && n < sizeof spec.what) {
		memcpy(spec.what, f, n);
		spec.what[n] = '\0';
		if (colon[1] == '@') {
			snprintf(spec.path, sizeof spec.path, "%s", colon + 2);
			spec.file = spec.path;
		} else {
			char *end;

			spec.n = strtoul(colon + 1, &end, 10);
			spec.persist = *end == '+';
		}
	}
}

static void
spec_read(void)
{
	if (atomic_load(&spec.state))
		return;
	pthread_mutex_lock(&spec.mu);
	if (!atomic_load(&spec.state)) {
		spec_parse(getenv("CLEARVAULT_FAULT"));
		atomic_store(&spec.state, 1);
	}
	pthread_mutex_unlock(&spec.mu);
}

/*
 * The named points read the environment at every call, as the unit tests
 * set and unset it within one process (the count goes on across changes,
 * as it always did). The generic classes, called on every allocation,
 * keep what they read first.
 */
static void
spec_reread(void)
{
	const char *f = getenv("CLEARVAULT_FAULT");

	spec_read();
	if (spec.ctl != NULL || strcmp(f ? f : "", spec.seen) == 0)
		return;
	pthread_mutex_lock(&spec.mu);
	spec_parse(f);
	pthread_mutex_unlock(&spec.mu);
}

/* A new spec in the control file: take it, and count from zero. */
static void
ctl_refresh(void)
{
	uint32_t g = atomic_load(&spec.ctl->gen);

	if (g == spec.gen)
		return;
	pthread_mutex_lock(&spec.mu);
	if (g != spec.gen) {
		char *at;

		memcpy(spec.what, spec.ctl->what, sizeof spec.what);
		spec.what[sizeof spec.what - 1] = '\0';
		spec.pid = 0;
		if ((at = strchr(spec.what, '@')) != NULL) {
			spec.pid = (pid_t)strtol(at + 1, NULL, 10);
			*at = '\0';
		}
		spec.n = spec.ctl->n;
		spec.persist = spec.ctl->persist != 0;
		atomic_store(&hits, 0);
		spec.gen = g;
	}
	pthread_mutex_unlock(&spec.mu);
}

static int
is_generic(const char *cls)
{
	static const char *const classes[] = { "alloc", "file", "ipc",
	    "sqlite", "pq", "p11" };

	for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
		if (strcmp(cls, classes[i]) == 0)
			return 1;
	return 0;
}

static int
matches(const char *cls, const char *site)
{
	size_t n = strlen(cls);

	if (strcmp(spec.what, "any") == 0)
		return 1;
	if (strcmp(spec.what, "io") == 0)
		return strcmp(cls, "alloc") != 0;
	if (strncmp(spec.what, cls, n) != 0)
		return 0;
	return spec.what[n] == '\0' ||
	    (spec.what[n] == '.' && strcmp(spec.what + n + 1, site) == 0);
}

/* One line a fault, written with the real calls (no recursion). */
static void
report(const char *cls, const char *site, unsigned long n, const void *pc)
{
	const char *path = getenv("CLEARVAULT_FAULT_LOG");
	char line[256];
	Dl_info di;
	unsigned long off = 0;
	int fd = -1, len;

	if (pc != NULL && dladdr(pc, &di) && di.dli_fbase != NULL)
		off = (unsigned long)((const char *)pc -
		    (const char *)di.dli_fbase);
	len = snprintf(line, sizeof line, "clearvault fault: pid %d %s%s%s "
	    "call %lu pc 0x%lx\n", (int)getpid(), cls, site ? "." : "",
	    site ? site : "", n, off);
	if (len <= 0 || (size_t)len >= sizeof line)
		return;
	/* A sandboxed process cannot open files: stderr then. */
	if (path != NULL)
		fd = __real_open64(path, O_WRONLY | O_APPEND | O_CREAT |
		    O_CLOEXEC, 0600);
	if (__real_write(fd >= 0 ? fd : 2, line, (size_t)len) < 0) {
		/* nothing to do: the fault fires all the same */
	}
	if (fd >= 0)
		close(fd);
}

static int
fire(const char *cls, const char *site, const void *pc)
{
	unsigned long k;

	spec_read();
	if (spec.ctl != NULL)
		ctl_refresh();
	if (spec.what[0] == '\0' || (spec.pid != 0 && spec.pid != getpid()))
		return 0;
	if (site != NULL || is_generic(cls)) {
		if (!is_generic(cls) || !matches(cls, site))
			return 0;
	} else if (strcmp(spec.what, cls) != 0)
		return 0;
	if (spec.file != NULL) {
		if (access(spec.file, F_OK) != 0)
			return 0;
		k = atomic_fetch_add(&hits, 1) + 1;
	} else {
		k = atomic_fetch_add(&hits, 1) + 1;
		if (k < spec.n || (k > spec.n && !spec.persist))
			return 0;
	}
	report(cls, site, k, pc);
	if (spec.ctl != NULL) {
		snprintf(spec.ctl->last, sizeof spec.ctl->last, "%s.%s", cls,
		    site ? site : "");
		atomic_fetch_add(&spec.ctl->fired, 1);
	}
	return 1;
}

int
cv_fault(const char *name)
{
	/* Named points (audit.sync...) match their own name only. */
	spec_reread();
	return fire(name, NULL, NULL);
}

int
cv_fault_at(const char *cls, const char *site)
{
	return fire(cls, site, __builtin_return_address(0));
}

#define FAULT(cls, site) fire(cls, site, __builtin_return_address(0))

/* ---- allocation ---------------------------------------------------- */

void *__real_calloc(size_t, size_t);
void *__real_realloc(void *, size_t);
char *__real_strdup(const char *);
char *__real_strndup(const char *, size_t);
void *__real_sodium_malloc(size_t);

void *__wrap_malloc(size_t);
void *__wrap_calloc(size_t, size_t);
void *__wrap_realloc(void *, size_t);
char *__wrap_strdup(const char *);
char *__wrap_strndup(const char *, size_t);
void *__wrap_sodium_malloc(size_t);

#define FAIL_ALLOC(site) do { \
	if (FAULT("alloc", site)) { errno = ENOMEM; return NULL; } \
} while (0)

void *
__wrap_malloc(size_t n)
{
	FAIL_ALLOC("malloc");
	return __real_malloc(n);
}

void *
__wrap_calloc(size_t k, size_t n)
{
	FAIL_ALLOC("calloc");
	return __real_calloc(k, n);
}

void *
__wrap_realloc(void *p, size_t n)
{
	FAIL_ALLOC("realloc");
	return __real_realloc(p, n);
}

char *
__wrap_strdup(const char *s)
{
	FAIL_ALLOC("strdup");
	return __real_strdup(s);
}

char *
__wrap_strndup(const char *s, size_t n)
{
	FAIL_ALLOC("strndup");
	return __real_strndup(s, n);
}

void *
__wrap_sodium_malloc(size_t n)
{
	FAIL_ALLOC("sodium_malloc");
	return __real_sodium_malloc(n);
}


/* ---- files ------------------------------------------------------------ */

/* meson builds with _FILE_OFFSET_BITS=64: glibc's headers then call the
 * 64-bit names, and those are the symbols the link step wraps. */
FILE *__real_fopen64(const char *, const char *);
ssize_t __real_read(int, void *, size_t);
ssize_t __real_pread64(int, void *, size_t, off_t);
ssize_t __real_pwrite64(int, const void *, size_t, off_t);
size_t __real_fwrite(const void *, size_t, size_t, FILE *);
int __real_fsync(int);
int __real_fdatasync(int);
int __real_rename(const char *, const char *);
int __real_ftruncate64(int, off_t);

int __wrap_open64(const char *, int, ...);
FILE *__wrap_fopen64(const char *, const char *);
ssize_t __wrap_read(int, void *, size_t);
ssize_t __wrap_pread64(int, void *, size_t, off_t);
ssize_t __wrap_write(int, const void *, size_t);
ssize_t __wrap_pwrite64(int, const void *, size_t, off_t);
size_t __wrap_fwrite(const void *, size_t, size_t, FILE *);
int __wrap_fsync(int);
int __wrap_fdatasync(int);
int __wrap_rename(const char *, const char *);
int __wrap_ftruncate64(int, off_t);

/*
 * read and write on a socket (the channels between our processes, a
 * client's connection) are class "ipc", not "file": a broken channel is
 * another failure than a broken disk, and is tested as one. The fstat is
 * paid only while a fault is asked for.
 */
static const char *
fd_class(int fd)
{
	struct stat st;

	spec_read();
	if (spec.what[0] == '\0' && spec.ctl == NULL)
		return "file";
	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) ? "ipc" : "file";
}

/* EIO for most: the failure no caller may mistake for "absent". A write
 * fails as a full disk does. */
#define FAIL_IO(site, err) do { \
	if (FAULT("file", site)) { errno = (err); return -1; } \
} while (0)
#define FAIL_FD(fd, site, err) do { \
	if (FAULT(fd_class(fd), site)) { errno = (err); return -1; } \
} while (0)

int
__wrap_open64(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	FAIL_IO("open", EIO);
	return __real_open64(path, flags, mode);
}

FILE *
__wrap_fopen64(const char *path, const char *how)
{
	if (FAULT("file", "fopen")) {
		errno = EIO;
		return NULL;
	}
	return __real_fopen64(path, how);
}

ssize_t
__wrap_read(int fd, void *p, size_t n)
{
	FAIL_FD(fd, "read", EIO);
	return __real_read(fd, p, n);
}

ssize_t
__wrap_pread64(int fd, void *p, size_t n, off_t at)
{
	FAIL_IO("pread", EIO);
	return __real_pread64(fd, p, n, at);
}

ssize_t
__wrap_write(int fd, const void *p, size_t n)
{
	FAIL_FD(fd, "write", ENOSPC);
	return __real_write(fd, p, n);
}

ssize_t
__wrap_pwrite64(int fd, const void *p, size_t n, off_t at)
{
	FAIL_IO("pwrite", ENOSPC);
	return __real_pwrite64(fd, p, n, at);
}

size_t
__wrap_fwrite(const void *p, size_t size, size_t n, FILE *f)
{
	if (FAULT("file", "fwrite")) {
		errno = ENOSPC;
		return 0;
	}
	return __real_fwrite(p, size, n, f);
}

int
__wrap_fsync(int fd)
{
	FAIL_IO("fsync", EIO);
	return __real_fsync(fd);
}

int
__wrap_fdatasync(int fd)
{
	FAIL_IO("fdatasync", EIO);
	return __real_fdatasync(fd);
}

int
__wrap_rename(const char *from, const char *to)
{
	FAIL_IO("rename", EIO);
	return __real_rename(from, to);
}

int
__wrap_ftruncate64(int fd, off_t n)
{
	FAIL_IO("ftruncate", EIO);
	return __real_ftruncate64(fd, n);
}

/* ---- SQLite --------------------------------------------------------- */

int __real_sqlite3_open_v2(const char *, sqlite3 **, int, const char *);
int __real_sqlite3_prepare_v3(sqlite3 *, const char *, int, unsigned int,
    sqlite3_stmt **, const char **);
int __real_sqlite3_step(sqlite3_stmt *);
int __real_sqlite3_exec(sqlite3 *, const char *,
    int (*)(void *, int, char **, char **), void *, char **);
int __real_sqlite3_bind_int64(sqlite3_stmt *, int, sqlite3_int64);
int __real_sqlite3_bind_text(sqlite3_stmt *, int, const char *, int,
    void (*)(void *));
int __real_sqlite3_bind_blob64(sqlite3_stmt *, int, const void *,
    sqlite3_uint64, void (*)(void *));
int __real_sqlite3_bind_null(sqlite3_stmt *, int);
sqlite3_backup *__real_sqlite3_backup_init(sqlite3 *, const char *,
    sqlite3 *, const char *);
int __real_sqlite3_backup_step(sqlite3_backup *, int);

int __wrap_sqlite3_open_v2(const char *, sqlite3 **, int, const char *);
int __wrap_sqlite3_prepare_v3(sqlite3 *, const char *, int, unsigned int,
    sqlite3_stmt **, const char **);
int __wrap_sqlite3_step(sqlite3_stmt *);
int __wrap_sqlite3_exec(sqlite3 *, const char *,
    int (*)(void *, int, char **, char **), void *, char **);
int __wrap_sqlite3_bind_int64(sqlite3_stmt *, int, sqlite3_int64);
int __wrap_sqlite3_bind_text(sqlite3_stmt *, int, const char *, int,
    void (*)(void *));
int __wrap_sqlite3_bind_blob64(sqlite3_stmt *, int, const void *,
    sqlite3_uint64, void (*)(void *));
int __wrap_sqlite3_bind_null(sqlite3_stmt *, int);
sqlite3_backup *__wrap_sqlite3_backup_init(sqlite3 *, const char *,
    sqlite3 *, const char *);
int __wrap_sqlite3_backup_step(sqlite3_backup *, int);

int
__wrap_sqlite3_open_v2(const char *path, sqlite3 **db, int flags,
    const char *vfs)
{
	if (FAULT("sqlite", "open_v2")) {
		*db = NULL;	/* as SQLite does when it cannot allocate */
		return SQLITE_NOMEM;
	}
	return __real_sqlite3_open_v2(path, db, flags, vfs);
}

int
__wrap_sqlite3_prepare_v3(sqlite3 *db, const char *sql, int n,
    unsigned int flags, sqlite3_stmt **st, const char **tail)
{
	if (FAULT("sqlite", "prepare_v3")) {
		*st = NULL;
		return SQLITE_IOERR;
	}
	return __real_sqlite3_prepare_v3(db, sql, n, flags, st, tail);
}

int
__wrap_sqlite3_step(sqlite3_stmt *st)
{
	if (FAULT("sqlite", "step"))
		return SQLITE_IOERR;
	return __real_sqlite3_step(st);
}

int
__wrap_sqlite3_exec(sqlite3 *db, const char *sql,
    int (*cb)(void *, int, char **, char **), void *arg, char **err)
{
	if (FAULT("sqlite", "exec")) {
		if (err != NULL)
			*err = NULL;
		return SQLITE_IOERR;
	}
	return __real_sqlite3_exec(db, sql, cb, arg, err);
}

/* SQLite calls a bind's destructor even when the bind fails. */
static int
bind_fails(void (*del)(void *), const void *p)
{
	if (!FAULT("sqlite", "bind"))
		return 0;
	if (del != SQLITE_STATIC && del != SQLITE_TRANSIENT && del != NULL)
		del((void *)(uintptr_t)p);
	return 1;
}

int
__wrap_sqlite3_bind_int64(sqlite3_stmt *st, int i, sqlite3_int64 v)
{
	if (bind_fails(NULL, NULL))
		return SQLITE_NOMEM;
	return __real_sqlite3_bind_int64(st, i, v);
}

int
__wrap_sqlite3_bind_text(sqlite3_stmt *st, int i, const char *v, int n,
    void (*del)(void *))
{
	if (bind_fails(del, v))
		return SQLITE_NOMEM;
	return __real_sqlite3_bind_text(st, i, v, n, del);
}

int
__wrap_sqlite3_bind_blob64(sqlite3_stmt *st, int i, const void *v,
    sqlite3_uint64 n, void (*del)(void *))
{
	if (bind_fails(del, v))
		return SQLITE_NOMEM;
	return __real_sqlite3_bind_blob64(st, i, v, n, del);
}

int
__wrap_sqlite3_bind_null(sqlite3_stmt *st, int i)
{
	if (bind_fails(NULL, NULL))
		return SQLITE_NOMEM;
	return __real_sqlite3_bind_null(st, i);
}

sqlite3_backup *
__wrap_sqlite3_backup_init(sqlite3 *dst, const char *dn, sqlite3 *src,
    const char *sn)
{
	if (FAULT("sqlite", "backup_init"))
		return NULL;
	return __real_sqlite3_backup_init(dst, dn, src, sn);
}

int
__wrap_sqlite3_backup_step(sqlite3_backup *b, int pages)
{
	if (FAULT("sqlite", "backup_step"))
		return SQLITE_IOERR;
	return __real_sqlite3_backup_step(b, pages);
}

/* ---- libpq ---------------------------------------------------------- */

/* A NULL result is libpq's own "out of memory or cannot send": callers
 * see PGRES_FATAL_ERROR from PQresultStatus(NULL). */
PGconn *__real_PQconnectdbParams(const char *const *, const char *const *,
    int);
PGresult *__real_PQexec(PGconn *, const char *);
PGresult *__real_PQexecParams(PGconn *, const char *, int, const Oid *,
    const char *const *, const int *, const int *, int);
PGresult *__real_PQexecPrepared(PGconn *, const char *, int,
    const char *const *, const int *, const int *, int);
PGresult *__real_PQprepare(PGconn *, const char *, const char *, int,
    const Oid *);
int __real_PQputCopyData(PGconn *, const char *, int);
int __real_PQputCopyEnd(PGconn *, const char *);
int __real_PQsendQuery(PGconn *, const char *);
int __real_PQconsumeInput(PGconn *);

PGconn *__wrap_PQconnectdbParams(const char *const *, const char *const *,
    int);
PGresult *__wrap_PQexec(PGconn *, const char *);
PGresult *__wrap_PQexecParams(PGconn *, const char *, int, const Oid *,
    const char *const *, const int *, const int *, int);
PGresult *__wrap_PQexecPrepared(PGconn *, const char *, int,
    const char *const *, const int *, const int *, int);
PGresult *__wrap_PQprepare(PGconn *, const char *, const char *, int,
    const Oid *);
int __wrap_PQputCopyData(PGconn *, const char *, int);
int __wrap_PQputCopyEnd(PGconn *, const char *);
int __wrap_PQsendQuery(PGconn *, const char *);
int __wrap_PQconsumeInput(PGconn *);

PGconn *
__wrap_PQconnectdbParams(const char *const *k, const char *const *v, int x)
{
	return FAULT("pq", "connectdb") ? NULL :
	    __real_PQconnectdbParams(k, v, x);
}

PGresult *
__wrap_PQexec(PGconn *c, const char *q)
{
	return FAULT("pq", "exec") ? NULL : __real_PQexec(c, q);
}

PGresult *
__wrap_PQexecParams(PGconn *c, const char *q, int n, const Oid *t,
    const char *const *v, const int *l, const int *f, int rf)
{
	return FAULT("pq", "exec_params") ? NULL :
	    __real_PQexecParams(c, q, n, t, v, l, f, rf);
}

PGresult *
__wrap_PQexecPrepared(PGconn *c, const char *s, int n, const char *const *v,
    const int *l, const int *f, int rf)
{
	return FAULT("pq", "exec_prepared") ? NULL :
	    __real_PQexecPrepared(c, s, n, v, l, f, rf);
}

PGresult *
__wrap_PQprepare(PGconn *c, const char *s, const char *q, int n,
    const Oid *t)
{
	return FAULT("pq", "prepare") ? NULL : __real_PQprepare(c, s, q, n, t);
}

int
__wrap_PQputCopyData(PGconn *c, const char *p, int n)
{
	return FAULT("pq", "put_copy_data") ? -1 :
	    __real_PQputCopyData(c, p, n);
}

int
__wrap_PQputCopyEnd(PGconn *c, const char *err)
{
	return FAULT("pq", "put_copy_end") ? -1 : __real_PQputCopyEnd(c, err);
}

int
__wrap_PQsendQuery(PGconn *c, const char *q)
{
	return FAULT("pq", "send_query") ? 0 : __real_PQsendQuery(c, q);
}

int
__wrap_PQconsumeInput(PGconn *c)
{
	return FAULT("pq", "consume_input") ? 0 : __real_PQconsumeInput(c);
}

#endif /* CV_TEST_HOOKS */
