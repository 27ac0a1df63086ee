/*
 * The syscall sandbox of the server's processes (issue 12, privilege
 * separation): PR_SET_NO_NEW_PRIVS, then a seccomp allowlist built with
 * libseccomp, one per process kind. Whatever is not on the list kills
 * the whole process with SIGSYS, so its parent sees why it died.
 *
 * The lists are data (sandbox_internal.h, rules.c): one row per syscall
 * and argument condition, each with its reason. cv_sandbox_describe
 * prints them, and docs/sandbox.md holds that output (a unit test
 * compares the two), so the code and the documentation cannot drift.
 *
 * Only x86_64 is supported: on any other architecture cv_sandbox_enter
 * refuses rather than let a process run unfiltered.
 */
#ifndef CV_SANDBOX_H
#define CV_SANDBOX_H

#include <stdio.h>

#include "../base/err.h"

enum cv_sandbox_profile {
	/*
	 * The network-facing api worker: TLS, HTTP, JSON and SQLite on
	 * descriptors opened before entering. No file can be opened by
	 * name (open/openat fail with EACCES), no socket created, no
	 * process started or traced, no executable memory mapped.
	 */
	CV_SANDBOX_API,
	/*
	 * The key process (keyd): files (PKCS#11 token, SQLite, audit
	 * log) but no network: socket() fails (AF_UNIX, with EACCES) or
	 * kills (any other domain), connect(), bind(), listen() and
	 * accept() kill it, as do execve and ptrace. Enter it after the
	 * PKCS#11 module is loaded: mapping new code is refused.
	 */
	CV_SANDBOX_KEYD,
	CV_SANDBOX__COUNT
};

/* "api", "keyd"; "?" for a value outside the enum. */
const char *cv_sandbox_profile_name(enum cv_sandbox_profile p);

/*
 * Confines the calling process, all of its threads included (the
 * filter is synchronised to every thread, so it may be called after
 * MHD's or SQLite's threads exist), for the rest of its life: it
 * cannot be undone, and it may be called once per process.
 *
 * Before calling: open every file, database and socket the process will
 * use. For SQLite in WAL mode that means a statement already run on
 * each connection (the -wal and -shm files are opened by the first
 * read, not by sqlite3_open; without it every statement fails with
 * SQLITE_IOERR) and temp_store=MEMORY (or large sorts fail), as
 * cv_store_open sets; syslog needs openlog(..., LOG_NDELAY, ...). In
 * the api profile a file the process did not open before is out of
 * reach for good (EACCES). A sandboxed process should end with
 * _exit(): in sanitizer builds the leak check at exit() needs ptrace
 * and /proc, which the filter refuses (it would die of SIGSYS).
 *
 * It seeds libsodium and SQLite's PRNG itself before loading the
 * filter (both would otherwise read /dev/urandom lazily, inside it).
 *
 * Returns CV_OK once the filter is in force. CV_ERR_INVALID for an
 * unknown profile, CV_ERR_INTERNAL (with a detail) when the
 * architecture is not x86_64, the kernel lacks seccomp filters with
 * SECCOMP_RET_KILL_PROCESS and TSYNC, or libseccomp fails. On any error
 * the process may already carry NO_NEW_PRIVS but no filter: the caller
 * must fail closed and exit, never serve unconfined.
 */
cv_err cv_sandbox_enter(enum cv_sandbox_profile p) CV_MUST_CHECK;

/*
 * Prints profile P's list to OUT as the rows of a Markdown table,
 * "| syscall | action | why |", one row per rule in the order of the
 * source table; rows that exist only in sanitizer builds are marked so
 * and printed in every build. CV_ERR_INVALID for an unknown profile,
 * CV_ERR_IO if OUT fails.
 */
cv_err cv_sandbox_describe(enum cv_sandbox_profile p, FILE *out)
    CV_MUST_CHECK;

/*
 * Test hook: makes a syscall that no profile allows (socket(AF_INET)),
 * so that a sandboxed caller is killed by SIGSYS. Unsandboxed, the
 * socket is closed again and the function returns. Only test builds
 * should make it reachable.
 */
void cv_sandbox_selftest_forbidden(void);

#endif
