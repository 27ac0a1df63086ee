/* Shared by unit tests that need a real vault (SoftHSM2 token + SQLite). */
#ifndef CV_TESTUTIL_H
#define CV_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char test_parent[512];

/* A fresh folder name under $TMPDIR for a vault; the caller inits it. */
static inline const char *
test_vault_dir(void)
{
	static char dir[600];
	const char *tmp = getenv("TMPDIR");

	snprintf(test_parent, sizeof test_parent, "%s/cvtest-XXXXXX",
	    tmp ? tmp : "/tmp");
	if (mkdtemp(test_parent) == NULL)
		abort();
	snprintf(dir, sizeof dir, "%s/vault", test_parent);
	return dir;
}

/* Removes what test_vault_dir made. */
static inline void
test_rm_rf(const char *dir)
{
	char cmd[1200];

	(void)dir;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", test_parent);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", test_parent);
}

#endif
