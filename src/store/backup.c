/*
 * A consistent copy of the database while others write to it (a running
 * server), through SQLite's online backup API.
 */
#include <stdio.h>
#include <unistd.h>

#include "store_internal.h"

#define PAGES_PER_STEP 1024

cv_err
cv_store_backup(struct cv_store *s, const char *path,
    void (*progress)(void *ctx, uint64_t done, uint64_t total), void *ctx)
{
	sqlite3 *dst = NULL;
	sqlite3_backup *b = NULL;
	int rc, open_read = 0;
	cv_err r = CV_ERR_STORE;

	if (access(path, F_OK) == 0)
		return cv_fail(CV_ERR_EXISTS, "%s exists", path);
	/*
	 * One read transaction around every step: in WAL mode it pins one
	 * snapshot, so writers go on (into the WAL) and the copy is of one
	 * moment. Without it each step reads anew, and every write by
	 * another connection would restart the copy from the first page.
	 */
	if (sqlite3_exec(s->db, "BEGIN; SELECT count(*) FROM sqlite_schema",
	    NULL, NULL, NULL) != SQLITE_OK) {
		r = cv_fail(CV_ERR_STORE, "backup: cannot start a read: %s",
		    sqlite3_errmsg(s->db));
		goto out;
	}
	open_read = 1;
	if (sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_EXCLUSIVE, NULL) != SQLITE_OK) {
		r = cv_fail(CV_ERR_STORE, "cannot create %s: %s", path,
		    dst ? sqlite3_errmsg(dst) : "out of memory");
		goto out;
	}
	if ((b = sqlite3_backup_init(dst, "main", s->db, "main")) == NULL) {
		r = cv_fail(CV_ERR_STORE, "backup: %s", sqlite3_errmsg(dst));
		goto out;
	}
	do {
		rc = sqlite3_backup_step(b, PAGES_PER_STEP);
		if (progress && (rc == SQLITE_OK || rc == SQLITE_DONE))
			progress(ctx, (uint64_t)(sqlite3_backup_pagecount(b) -
			    sqlite3_backup_remaining(b)),
			    (uint64_t)sqlite3_backup_pagecount(b));
	} while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
	if (rc != SQLITE_DONE) {
		r = cv_fail(CV_ERR_STORE, "backup to %s: %s", path,
		    sqlite3_errstr(rc));
		goto out;
	}
	(void)sqlite3_backup_finish(b);
	b = NULL;
	/* The copy is a database of its own, in one file: no WAL beside it,
	 * on disk before the backup says it is done. */
	if (sqlite3_exec(dst, "PRAGMA journal_mode=DELETE; "
	    "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK) {
		r = cv_fail(CV_ERR_STORE, "backup %s: %s", path,
		    sqlite3_errmsg(dst));
		goto out;
	}
	r = CV_OK;
 out:
	if (b)
		(void)sqlite3_backup_finish(b);
	if (dst && sqlite3_close(dst) != SQLITE_OK && r == CV_OK)
		r = cv_fail(CV_ERR_STORE, "cannot close %s", path);
	if (open_read)
		(void)sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	if (r != CV_OK && dst)
		(void)unlink(path);
	return r;
}
