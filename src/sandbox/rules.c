/*
 * The allowlists, one row per syscall and condition, each with its
 * reason. This table is the policy: sandbox.c builds the seccomp filter
 * from it and prints it for docs/sandbox.md. x86_64 only (argument
 * positions are those of x86_64; sandbox.c refuses other
 * architectures).
 *
 * Files by name fail softly (EACCES) in the api worker instead of
 * killing it: libraries probe paths now and then (SQLite's hot-journal
 * check and /dev/urandom seed, glibc's thread names and locale files),
 * and turning such a harmless, failed probe into a dead worker and a
 * false alarm would teach operators to ignore the alarm. What a
 * compromised worker could do with them is nothing: the call fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/ioctl.h>

#include "sandbox_internal.h"

#define SYS(n) .nr = SCMP_SYS(n), .name = #n
#define ALLOW .act = SB_ALLOW
#define ERR(e) .act = SB_ERRNO, .err = (e)
/* Argument I, masked by M, equals V. */
#define IF_MASKED(i, m, v, text) .cond = true, .arg = (i), \
	.op = SCMP_CMP_MASKED_EQ, .a = (m), .b = (v), .when = (text)
#define IF_EQ(i, v, text) .cond = true, .arg = (i), .op = SCMP_CMP_EQ, \
	.a = (v), .when = (text)
#define IF_SELF(i, text) .cond = true, .self = true, .arg = (i), \
	.op = SCMP_CMP_EQ, .when = (text)
#define SANITIZER .sanitizer = true

const struct sb_rule sb_rules[] = {
	/* Memory. */
	{ SYS(brk), .profiles = SB_BOTH, ALLOW,
	  .why = "malloc grows the heap" },
	{ SYS(mmap), .profiles = SB_BOTH, ALLOW,
	  IF_MASKED(2, PROT_EXEC, 0, "prot has no PROT_EXEC"),
	  .why = "malloc arenas and large blocks, thread stacks, SQLite's "
	  "mappings of the database and its -shm index (descriptors opened "
	  "before); never new executable memory" },
	{ SYS(mprotect), .profiles = SB_BOTH, ALLOW,
	  IF_MASKED(2, PROT_EXEC, 0, "prot has no PROT_EXEC"),
	  .why = "guard pages of stacks and arenas, libsodium's guarded "
	  "secret memory; never makes memory executable" },
	{ SYS(munmap), .profiles = SB_BOTH, ALLOW,
	  .why = "free() of large blocks, thread stacks, SQLite mappings" },
	{ SYS(mremap), .profiles = SB_BOTH, ALLOW,
	  .why = "realloc() of large blocks; SQLite grows its mapping of "
	  "the database (protection is kept, so never executable)" },
	{ SYS(madvise), .profiles = SB_BOTH, ALLOW,
	  .why = "free() returns memory (MADV_DONTNEED), libsodium keeps "
	  "secrets out of core dumps (MADV_DONTDUMP)" },
	{ SYS(mlock), .profiles = SB_BOTH, ALLOW,
	  .why = "sodium_malloc locks secret memory out of swap" },
	{ SYS(munlock), .profiles = SB_BOTH, ALLOW,
	  .why = "sodium_free unlocks it after wiping" },

	/* Threads, signals, time. */
	{ SYS(futex), .profiles = SB_BOTH, ALLOW,
	  .why = "mutexes and condition variables (glibc, SQLite, MHD, "
	  "GnuTLS)" },
	{ SYS(clone), .profiles = SB_BOTH, ALLOW,
	  IF_MASKED(0, CLONE_THREAD, CLONE_THREAD, "flags has CLONE_THREAD"),
	  .why = "pthread_create; without CLONE_THREAD it would be a new "
	  "process" },
	{ SYS(clone3), .profiles = SB_BOTH, ERR(ENOSYS),
	  .why = "glibc 2.34+ tries clone3 first in pthread_create; its "
	  "flags are in memory a filter cannot read, so it fails as if "
	  "missing and glibc falls back to clone, whose flags are checked" },
	{ SYS(prctl), .profiles = SB_BOTH, ALLOW,
	  IF_EQ(0, PR_SET_NAME, "option is PR_SET_NAME"),
	  .why = "threads name themselves (MHD-worker, cv-committer, "
	  "cv-checkpoint), also when they start after the filter" },
	{ SYS(set_robust_list), .profiles = SB_BOTH, ALLOW,
	  .why = "a new thread registers its robust mutex list (glibc)" },
	{ SYS(rseq), .profiles = SB_BOTH, ALLOW,
	  .why = "a new thread registers restartable sequences (glibc "
	  "2.35+)" },
	{ SYS(sched_yield), .profiles = SB_BOTH, ALLOW,
	  .why = "spinning locks yield the CPU" },
	{ SYS(exit), .profiles = SB_BOTH, ALLOW,
	  .why = "a thread ends" },
	{ SYS(exit_group), .profiles = SB_BOTH, ALLOW,
	  .why = "the process ends" },
	{ SYS(geteuid), .profiles = SB_BOTH, ALLOW,
	  .why = "SQLite gives files it creates as root the database's "
	  "owner; getpwuid(geteuid()) names the actor of a log line" },
	{ SYS(getppid), .profiles = SB_KEYD, ALLOW,
	  .why = "keyd's SIGTERM handler: a signal to the whole group is the "
	  "supervisor's to act on while it lives" },
	{ SYS(sysinfo), .profiles = SB_BOTH, ALLOW,
	  .why = "glibc's qsort asks for the memory size (sysconf "
	  "_SC_PHYS_PAGES) before sorting a large array (the guard's "
	  "snapshot of many users)" },
	{ SYS(getpid), .profiles = SB_BOTH, ALLOW,
	  .why = "SQLite's fork check, log lines" },
	{ SYS(gettid), .profiles = SB_BOTH, ALLOW,
	  .why = "thread ids (glibc, sanitizers, log lines)" },
	{ SYS(tgkill), .profiles = SB_BOTH, ALLOW,
	  IF_SELF(0, "the target is this process"),
	  .why = "abort() and raise() signal the process itself (a failed "
	  "assertion must still end in SIGABRT); never another process" },
	{ SYS(rt_sigprocmask), .profiles = SB_BOTH, ALLOW,
	  .why = "pthread_create and abort() block signals around their "
	  "critical steps" },
	{ SYS(rt_sigaction), .profiles = SB_BOTH, ALLOW,
	  .why = "the first pthread_create installs glibc's SIGCANCEL and "
	  "SIGSETXID handlers; abort() resets SIGABRT's" },
	{ SYS(restart_syscall), .profiles = SB_BOTH, ALLOW,
	  .why = "the kernel resumes a sleep (clock_nanosleep) that a "
	  "signal interrupted, SIGTERM at shutdown included" },
	{ SYS(rt_sigreturn), .profiles = SB_BOTH, ALLOW,
	  .why = "return from a signal handler (SIGTERM asks for a clean "
	  "stop)" },
	{ SYS(clock_gettime), .profiles = SB_BOTH, ALLOW,
	  .why = "time stamps and timeouts where the vDSO falls back to "
	  "the kernel" },
	{ SYS(gettimeofday), .profiles = SB_BOTH, ALLOW,
	  .why = "the same, for older callers" },
	{ SYS(clock_nanosleep), .profiles = SB_BOTH, ALLOW,
	  .why = "sleep() and SQLite's busy wait" },

	/* Descriptors opened before entering. */
	{ SYS(read), .profiles = SB_BOTH, ALLOW,
	  .why = "reading open descriptors" },
	{ SYS(write), .profiles = SB_BOTH, ALLOW,
	  .why = "writing open descriptors (alerts, stderr)" },
	{ SYS(writev), .profiles = SB_BOTH, ALLOW,
	  .why = "glibc's fatal messages (\"malloc(): corrupted ...\") "
	  "go out with writev before abort()" },
	{ SYS(pread64), .profiles = SB_BOTH, ALLOW,
	  .why = "SQLite reads pages of the database and the -wal" },
	{ SYS(pwrite64), .profiles = SB_BOTH, ALLOW,
	  .why = "SQLite writes pages to the -wal, checkpoints and -shm" },
	{ SYS(fadvise64), .profiles = SB_BOTH, ALLOW,
	  .why = "the audit log's scans (enrolment checks, replay, "
	  "verify) ask the kernel to read ahead" },
	{ SYS(lseek), .profiles = SB_BOTH, ALLOW,
	  .why = "file positions (stdio, SQLite)" },
	{ SYS(fsync), .profiles = SB_BOTH, ALLOW,
	  .why = "durable commits (synchronous=FULL) and audit entries" },
	{ SYS(fdatasync), .profiles = SB_BOTH, ALLOW,
	  .why = "SQLite's commit sync on Linux" },
	{ SYS(ftruncate), .profiles = SB_BOTH, ALLOW,
	  .why = "SQLite truncates the -wal after a checkpoint" },
	{ SYS(newfstatat), .profiles = SB_API, ALLOW,
	  IF_MASKED(3, AT_EMPTY_PATH, AT_EMPTY_PATH, "flags has AT_EMPTY_PATH"),
	  .why = "glibc's fstat() (an open descriptor and an empty path). "
	  "XXX: the flag does not forbid a path, so a file's metadata, "
	  "never its content, can still be read by name" },
	{ SYS(newfstatat), .profiles = SB_API, ERR(EACCES),
	  IF_MASKED(3, AT_EMPTY_PATH, 0, "flags has no AT_EMPTY_PATH"),
	  .why = "stat() by name (SQLite's -wal and hot-journal checks, "
	  "its temp-folder search, the server's file watch) fails softly" },
	{ SYS(fcntl), .profiles = SB_BOTH, ALLOW,
	  .why = "SQLite's POSIX locks on the database and -shm, "
	  "O_NONBLOCK and FD_CLOEXEC on sockets" },
	{ SYS(ioctl), .profiles = SB_BOTH, ALLOW,
	  IF_EQ(1, TCGETS, "request is TCGETS"),
	  .why = "isatty(): stdio's buffering and the sanitizers' report "
	  "colours ask whether a descriptor is a terminal" },
	{ SYS(ioctl), .profiles = SB_API, ALLOW,
	  IF_EQ(1, TIOCOUTQ, "request is TIOCOUTQ"),
	  .why = "MHD asks how much of a reply the socket has not sent yet "
	  "(SIOCOUTQ) before it closes or corks a connection" },
	{ SYS(flock), .profiles = SB_BOTH, ALLOW,
	  .why = "the audit log's writer lock (audit/lock), serialising "
	  "appends across processes" },
	{ SYS(close), .profiles = SB_BOTH, ALLOW,
	  .why = "closing descriptors" },
	{ SYS(getrandom), .profiles = SB_BOTH, ALLOW,
	  .why = "randomness for libsodium, GnuTLS, session tokens" },

	/* Sockets opened before entering. */
	{ SYS(accept4), .profiles = SB_API, ALLOW,
	  .why = "MHD accepts connections on its listening socket" },
	{ SYS(recvfrom), .profiles = SB_BOTH, ALLOW,
	  .why = "TLS records from clients; replies over the socketpair" },
	{ SYS(sendto), .profiles = SB_BOTH, ALLOW,
	  .why = "TLS records to clients (MSG_NOSIGNAL); requests over the "
	  "socketpair; alerts to the supervisor's relay (a socketpair: "
	  "syslog goes out from the supervisor, never from here)" },
	{ SYS(recvmsg), .profiles = SB_BOTH, ALLOW,
	  .why = "messages on the SEQPACKET socketpair between api and keyd" },
	{ SYS(sendmsg), .profiles = SB_BOTH, ALLOW,
	  .why = "the same, sending; MHD's gathered header and body" },
	{ SYS(shutdown), .profiles = SB_BOTH, ALLOW,
	  .why = "MHD ends a connection; keyd ends a channel (a violation, "
	  "or its stop)" },
	{ SYS(setsockopt), .profiles = SB_API, ALLOW,
	  .why = "MHD sets TCP_NODELAY / TCP_CORK and linger per "
	  "connection" },
	{ SYS(getsockopt), .profiles = SB_API, ALLOW,
	  .why = "MHD reads SO_ERROR and socket options" },
	{ SYS(getsockname), .profiles = SB_API, ALLOW,
	  .why = "MHD's connection addresses" },
	{ SYS(getpeername), .profiles = SB_API, ALLOW,
	  .why = "the client's address for the audit entry" },
	{ SYS(eventfd2), .profiles = SB_API, ALLOW,
	  .why = "MHD's start: the event fd that wakes each worker thread" },
	{ SYS(poll), .profiles = SB_BOTH, ALLOW,
	  .why = "MHD's event loop (MHD_USE_POLL: epoll spins on a "
	  "handshake that waits for bytes) and waiting on one descriptor "
	  "with a timeout (a reply on the socketpair)" },
	{ SYS(socket), .profiles = SB_BOTH, ERR(EACCES),
	  IF_EQ(0, AF_UNIX, "domain is AF_UNIX"),
	  .why = "glibc's syslog() reconnects to /dev/log after the log "
	  "daemon restarts: it fails softly (openlog with LOG_NDELAY "
	  "before entering); any other domain kills" },

	/* Files by name: the api worker has none, keyd needs them. */
	{ SYS(openat), .profiles = SB_API, ERR(EACCES),
	  .why = "no file is opened by name; a library that probes one "
	  "fails softly (see the top of rules.c)" },
	{ SYS(open), .profiles = SB_API, ERR(EACCES),
	  .why = "the same for the old syscall (the sanitizers' reports "
	  "try /proc/self/maps with it)" },
	{ SYS(access), .profiles = SB_API, ERR(EACCES),
	  .why = "SQLite's read-write check of a file by name fails "
	  "softly" },
	{ SYS(unlink), .profiles = SB_API, ERR(EACCES),
	  .why = "SQLite deletes the -wal when the last connection "
	  "closes; refused softly, the next opener recovers it" },

	{ SYS(openat), .profiles = SB_KEYD, ALLOW,
	  .why = "SoftHSM2 token objects, SQLite's files, the audit log" },
	{ SYS(open), .profiles = SB_KEYD, ALLOW,
	  .why = "the same, for callers of the old syscall" },
	{ SYS(newfstatat), .profiles = SB_KEYD, ALLOW,
	  .why = "fstat() and stat() by name (SoftHSM2, SQLite)" },
	{ SYS(access), .profiles = SB_KEYD, ALLOW,
	  .why = "SQLite's read-write check of a file" },
	{ SYS(unlink), .profiles = SB_KEYD, ALLOW,
	  .why = "SoftHSM2 deletes token objects and their locks, SQLite "
	  "its -wal and -shm" },
	{ SYS(rename), .profiles = SB_KEYD, ALLOW,
	  .why = "files replaced atomically (cv_file_replace: checkpoints, "
	  "guard state)" },
	{ SYS(getdents64), .profiles = SB_KEYD, ALLOW,
	  .why = "SoftHSM2 lists the token's object files" },

	/* Sanitizer builds only (ASan/UBSan runtimes). */
	{ SYS(sigaltstack), .profiles = SB_BOTH, SANITIZER, ALLOW,
	  .why = "ASan gives each thread an alternate signal stack to "
	  "report stack overflows" },
	{ SYS(sched_getaffinity), .profiles = SB_BOTH, SANITIZER, ALLOW,
	  .why = "ASan finds each new thread's stack with "
	  "pthread_getattr_np, which reads the thread's CPU mask" },
};

const size_t sb_nrules = sizeof sb_rules / sizeof sb_rules[0];
