/* Private to the store module. */
#ifndef CV_STORE_INTERNAL_H
#define CV_STORE_INTERNAL_H

#include "db.h"
#include "store.h"

struct cv_store {
	struct cv_db *db;
	struct cv_db_stmt *q[16];	/* store.c's prepared statements */
	int in_tx;
	/* users.c's, cases.c's and loads.c's statements, prepared on first
	 * use and kept: a server asks them on every request. */
	struct {
		const char *sql;	/* a string literal: compared by address */
		struct cv_db_stmt *st;
	} cache[96];
	size_t ncache;
	/* users.c's: certificate and user rows as last read, with the
	 * epoch they were read at (cv_store_cert_user). */
	struct cert_memo {
		struct cv_store_epoch at;
		struct cv_store_cert c;
		struct cv_store_user u;
		int used;
	} memo[8];
	unsigned memo_next;
};

/*
 * The cached statement for SQL (a string literal), reset and unbound.
 * Give it back with store_release, never db_finalize. CV_ERR_STORE (no
 * detail: db_errmsg says why) when it does not compile or the cache is
 * full.
 */
cv_err store_stmt(struct cv_store *s, const char *sql,
    struct cv_db_stmt **st);
void store_release(struct cv_db_stmt *st);

/* Users and their certificates (users.c). */
extern const char store_users_schema[];
/* Cases and their members (cases.c). */
extern const char store_cases_schema[];
/* Proposals and enrolment codes (approvals.c). */
extern const char store_approvals_schema[];
/* Loads, their pending versions and the canary list (loads.c). */
extern const char store_loads_schema[];
/* Earlier versions of records (versions.c). */
extern const char store_versions_schema[];

/*
 * In a write transaction, before RID's visible row is replaced: that
 * version (with its data key; a shredded one is not kept) goes to the
 * kept versions, replaced at NOW_US. No row: nothing to do.
 */
cv_err store_keep(struct cv_store *s, const char *rid, int64_t now_us);
/* The same for every record whose new version load LOAD applies now. */
cv_err store_keep_load(struct cv_store *s, int64_t load, int64_t now_us);
/* Deletes every kept version of RID (shredding: their keys too). */
cv_err store_kept_shred(struct cv_store *s, const char *rid);


/*
 * SQL: the records row R (an alias) may be read. A row written by a load
 * is hidden until that load is done (loads.c); every query that reads
 * records for a caller goes through this.
 */
#define VISIBLE(r) "(" r ".load IS NULL OR EXISTS (SELECT 1 FROM loads l" \
	" WHERE l.id = " r ".load AND l.state = 1))"

#endif
