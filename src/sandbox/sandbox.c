/*
 * Entering the sandbox (NO_NEW_PRIVS, then the filter built from
 * rules.c), printing its rules, and the test hook.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "sandbox_internal.h"

/*
 * Defined by every sanitizer runtime (ASan, UBSan, ...), absent
 * otherwise: the weak reference tells at run time whether the runtime
 * that will report errors is in the process, whichever flags this file
 * was compiled with.
 */
extern void __sanitizer_print_stack_trace(void) __attribute__((weak));

static bool
sanitized(void)
{
	return __sanitizer_print_stack_trace != NULL;
}

const char *
cv_sandbox_profile_name(enum cv_sandbox_profile p)
{
	switch (p) {
	case CV_SANDBOX_API:
		return "api";
	case CV_SANDBOX_KEYD:
		return "keyd";
	case CV_SANDBOX__COUNT:
		break;
	}
	return "?";
}

/*
 * What would otherwise happen lazily, inside the filter, where it fails:
 * libsodium picks its random source once, and SQLite seeds its PRNG from
 * /dev/urandom on first use after a fork (it needs random salts each
 * time it restarts the -wal). Refused, SQLite would fall back to time
 * and pid: not dangerous, but weaker than it should be.
 */
static cv_err
prepare(void)
{
	uint8_t seed[16];

	if (sodium_init() < 0)
		return cv_fail(CV_ERR_CRYPTO, "sandbox: sodium_init failed");
	sqlite3_randomness(sizeof seed, seed);
	sodium_memzero(seed, sizeof seed);
	return CV_OK;
}

static int
add_rule(scmp_filter_ctx ctx, const struct sb_rule *r)
{
	uint32_t act = r->act == SB_ALLOW ? SCMP_ACT_ALLOW :
	    SCMP_ACT_ERRNO((uint32_t)r->err);
	struct scmp_arg_cmp c = { .arg = r->arg, .op = r->op,
	    .datum_a = r->a, .datum_b = r->b };

	if (!r->cond)
		return seccomp_rule_add_exact_array(ctx, act, r->nr, 0, NULL);
	if (r->self)
		c.datum_a = (uint64_t)getpid();
	return seccomp_rule_add_exact_array(ctx, act, r->nr, 1, &c);
}

cv_err
cv_sandbox_enter(enum cv_sandbox_profile p)
{
	scmp_filter_ctx ctx = NULL;
	const char *step = "seccomp_init";
	unsigned api;
	cv_err r = CV_ERR_INTERNAL;
	int rc = -ENOMEM;

	if ((unsigned)p >= CV_SANDBOX__COUNT)
		return cv_fail(CV_ERR_INVALID, "sandbox: unknown profile %d",
		    (int)p);
#ifdef CV_TEST_HOOKS
	/*
	 * Valgrind does not implement seccomp(2) (ENOSYS: libseccomp's API
	 * level 1 below), so under it no process could enter its sandbox
	 * and the server would not start. The suite's Valgrind run
	 * (tests/valgrind.sh) asks for none; a release build refuses the
	 * variable (main.c).
	 */
	if (getenv("CLEARVAULT_TEST_NO_SANDBOX") != NULL) {
		fprintf(stderr, "clearvault: CLEARVAULT_TEST_NO_SANDBOX: no "
		    "sandbox (a test run)\n");
		return prepare();
	}
#endif
	/* The rows name x86_64's syscalls and argument positions; on any
	 * other architecture they would filter the wrong things. */
	if (seccomp_arch_native() != SCMP_ARCH_X86_64)
		return cv_fail(CV_ERR_INTERNAL, "sandbox: only x86_64 is "
		    "supported; refusing to run unfiltered");
	/* 3: SECCOMP_RET_KILL_PROCESS; TSYNC is level 2. */
	if ((api = seccomp_api_get()) < 3)
		return cv_fail(CV_ERR_INTERNAL, "sandbox: the kernel's seccomp "
		    "is too old (libseccomp API level %u, 3 needed)", api);
	if ((r = prepare()) != CV_OK)
		return r;
	r = CV_ERR_INTERNAL;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return cv_fail(CV_ERR_INTERNAL, "sandbox: PR_SET_NO_NEW_PRIVS: "
		    "%s", strerror(errno));
	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
		goto out;
	/* A 32-bit (int 0x80) or x32 call would bypass rows written for
	 * x86_64: kill it. libseccomp also refuses x32 numbers itself. */
	step = "filter attributes";
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS)) < 0 ||
	    (rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) < 0 ||
	    (rc = seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1)) < 0)
		goto out;
	for (size_t i = 0; i < sb_nrules; i++) {
		const struct sb_rule *rule = &sb_rules[i];

		if (!(rule->profiles & (1u << p)) ||
		    (rule->sanitizer && !sanitized()))
			continue;
		step = rule->name;
		if ((rc = add_rule(ctx, rule)) < 0)
			goto out;
	}
	step = "seccomp_load";
	if ((rc = seccomp_load(ctx)) < 0)
		goto out;
	r = CV_OK;
 out:
	if (r != CV_OK)
		cv_fail(r, "sandbox: %s: %s", step, strerror(-rc));
	seccomp_release(ctx);
	return r;
}

cv_err
cv_sandbox_describe(enum cv_sandbox_profile p, FILE *out)
{
	if ((unsigned)p >= CV_SANDBOX__COUNT)
		return cv_fail(CV_ERR_INVALID, "sandbox: unknown profile %d",
		    (int)p);
	fprintf(out, "| syscall | action | why |\n|---|---|---|\n");
	for (size_t i = 0; i < sb_nrules; i++) {
		const struct sb_rule *rule = &sb_rules[i];

		if (!(rule->profiles & (1u << p)))
			continue;
		fprintf(out, "| `%s` | %s%s%s%s | %s |\n", rule->name,
		    rule->act == SB_ALLOW ? "allow" :
		    strerrorname_np(rule->err),
		    rule->cond ? " if " : "", rule->cond ? rule->when : "",
		    rule->sanitizer ? " (sanitizer builds only)" : "",
		    rule->why);
	}
	if (fflush(out) != 0 || ferror(out))
		return cv_fail(CV_ERR_IO, "sandbox: cannot print the rules");
	return CV_OK;
}

void
cv_sandbox_selftest_forbidden(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd >= 0)
		close(fd);
}
