/* Shared by unit tests that need a real vault (SoftHSM2 token + SQLite). */
#ifndef CV_TESTUTIL_H
#define CV_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A fresh folder name under $TMPDIR for a vault; the caller inits it. */
static inline const char *
test_vault_dir(void)
{
	static char dir[512];
	const char *tmp = getenv("TMPDIR");
	char tmpl[512];

	snprintf(tmpl, sizeof tmpl, "%s/cvtest-XXXXXX", tmp ? tmp : "/tmp");
	if (mkdtemp(tmpl) == NULL)
		abort();
	snprintf(dir, sizeof dir, "%s/vault", tmpl);
	return dir;
}

static inline void
test_rm_rf(const char *dir)
{
	char cmd[1200];

	snprintf(cmd, sizeof cmd, "rm -rf '%s/..'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

#endif
