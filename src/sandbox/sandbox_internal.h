/*
 * Inside the sandbox: the rule table (rules.c) that sandbox.c turns into
 * a seccomp filter and into documentation.
 */
#ifndef CV_SANDBOX_INTERNAL_H
#define CV_SANDBOX_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <seccomp.h>

#include "sandbox.h"

#define SB_API (1u << CV_SANDBOX_API)
#define SB_KEYD (1u << CV_SANDBOX_KEYD)
#define SB_BOTH (SB_API | SB_KEYD)

enum sb_action {
	SB_ALLOW,
	SB_ERRNO,	/* fails with sb_rule.err: for callers that cope */
};

/*
 * One row: syscall NR (with NAME for people), in the profiles of the
 * PROFILES mask, gets ACT when the optional condition holds (argument
 * ARG compared by OP with A and B, as struct scmp_arg_cmp; SELF puts the
 * caller's pid in A when the filter is built). Several rows of one
 * syscall combine as "any of". A call matching no row kills the
 * process. WHEN says the condition in words, WHY why the row exists.
 */
struct sb_rule {
	int nr;
	const char *name;
	unsigned profiles;
	bool sanitizer;		/* only when a sanitizer runtime is linked */
	enum sb_action act;
	int err;
	bool cond, self;
	unsigned arg;
	enum scmp_compare op;
	uint64_t a, b;
	const char *when;
	const char *why;
};

extern const struct sb_rule sb_rules[];
extern const size_t sb_nrules;

#endif
