/*
 * A consistent copy of the database while others write to it (a running
 * server). How is the driver's (db.h: backup; SQLite's online backup
 * API, under one read transaction that pins a snapshot).
 */
#include <unistd.h>

#include "store_internal.h"

cv_err
cv_store_backup(struct cv_store *s, const char *path,
    void (*progress)(void *ctx, uint64_t done, uint64_t total), void *ctx)
{
	if (access(path, F_OK) == 0)
		return cv_fail(CV_ERR_EXISTS, "%s exists", path);
	return db_backup(s->db, path, progress, ctx);
}
