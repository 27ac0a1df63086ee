/* A throwaway PostgreSQL for unit tests that run on both backends. */
#ifndef CV_PGUTIL_H
#define CV_PGUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char test_pg_dir[600];	/* the cluster's folder */

static inline void test_pg_stop(void);

/*
 * Starts one with tests/pg.sh (PG_SH, from meson) in a folder of its
 * own. 1: started, TARGET (SIZE bytes) is its URI; 0: no PostgreSQL 15
 * here (said on stderr: WHAT is not tested); -1: it would not start
 * (said, and cleaned up).
 */
static inline int
test_pg_up(char *target, size_t size, const char *what)
{
	const char *sh = getenv("PG_SH"), *tmp = getenv("TMPDIR");
	char cmd[1400];
	FILE *p;
	int rc;

	if (access("/usr/lib/postgresql/15/bin/initdb", X_OK) != 0) {
		fprintf(stderr, "no PostgreSQL 15 here: %s is not tested\n",
		    what);
		return 0;
	}
	if (sh == NULL) {
		fprintf(stderr, "PG_SH is not set (tests/pg.sh)\n");
		return -1;
	}
	snprintf(test_pg_dir, sizeof test_pg_dir, "%s/cvpg-XXXXXX",
	    tmp ? tmp : "/tmp");
	/* The postgres user runs the server: it must reach the folder. */
	if (mkdtemp(test_pg_dir) == NULL || chmod(test_pg_dir, 0711) != 0)
		return -1;
	snprintf(cmd, sizeof cmd, "sh '%s' start '%s/pg'", sh, test_pg_dir);
	if ((p = popen(cmd, "r")) == NULL)
		return -1;
	if (fgets(target, (int)size, p) == NULL)
		target[0] = '\0';
	rc = pclose(p);
	target[strcspn(target, "\n")] = '\0';
	if (rc == 0 && target[0])
		return 1;
	fprintf(stderr, "tests/pg.sh did not start PostgreSQL\n");
	test_pg_stop();
	return -1;
}

static inline void
test_pg_stop(void)
{
	char cmd[1400];

	snprintf(cmd, sizeof cmd, "sh '%s' stop '%s/pg'; rm -rf '%s'",
	    getenv("PG_SH"), test_pg_dir, test_pg_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", test_pg_dir);
}

#endif
