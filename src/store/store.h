/*
 * Storage of encrypted records. Knows nothing of keys or plaintext: it
 * keeps opaque bytes (wrapped data keys, section envelopes, blind-index
 * hashes) and is the only code that knows which database is in use
 * (SQLite, DIR/vault.db, or PostgreSQL, the URI clearvault.conf's db
 * gives).
 *
 * A cv_store is one connection: use it from one thread at a time; open
 * one per thread for parallel reads.
 */
#ifndef CV_STORE_H
#define CV_STORE_H

#include "../base/base.h"
#include "../keys/keys.h"

#define CV_STORE_FILE "vault.db"

struct cv_store;

enum cv_store_mode { CV_STORE_CREATE, CV_STORE_OPEN };

/*
 * Opens (or with CV_STORE_CREATE creates, refusing an existing file) the
 * database at PATH: a SQLite file, or a PostgreSQL database when PATH is
 * a postgresql:// or postgres:// URI (cv_store_is_url; CV_STORE_CREATE
 * then wants an empty database, CV_ERR_EXISTS otherwise, and the URI may
 * not hold a password: a Unix socket with peer authentication, or TLS
 * with sslmode=verify-full and a client certificate). CV_ERR_STORE with
 * a detail on failure.
 */
cv_err cv_store_open(const char *path, enum cv_store_mode mode,
    struct cv_store **out) CV_MUST_CHECK;
/* NULL is a no-op; an open transaction is rolled back. */
void cv_store_close(struct cv_store *s);
/* Whether TARGET names a PostgreSQL database (a postgresql:// or
 * postgres:// URI) rather than a SQLite file. */
int cv_store_is_url(const char *target);
/*
 * A libpq connection (a PGconn, libpq-fe.h) to the PostgreSQL database
 * TARGET, made and checked as cv_store_open's own (no password, a Unix
 * socket or TLS with verify-full and a client certificate), with its
 * session settings: synchronous commit, a lock_timeout of BUSY_SECONDS,
 * read-only transactions when READONLY. For another module's own tables
 * (the audit log's). The caller owns it (PQfinish). CV_ERR_STORE with a
 * detail on failure.
 */
struct pg_conn;
cv_err cv_store_pg_connect(const char *target, int readonly,
    double busy_seconds, struct pg_conn **out) CV_MUST_CHECK;
/* Whether C, made by cv_store_pg_connect with READONLY and BUSY_SECONDS,
 * still has the settings it was made with (synchronous_commit on among
 * them): asked after the server is found to have lost a prepared
 * statement, which a DISCARD ALL does as it resets them. CV_ERR_STORE
 * if not, or if it cannot be asked: the connection is not to be used. */
cv_err cv_store_pg_intact(struct pg_conn *c, int readonly,
    double busy_seconds) CV_MUST_CHECK;
/* Whether RES (a libpq PGresult) failed because the server no longer
 * has the prepared statement it named (SQLSTATE 26000): prepared again,
 * once cv_store_pg_intact says the connection may be used. */
struct pg_result;
int cv_store_pg_lost_statement(const struct pg_result *res);
/* The key of an advisory lock of PURPOSE ("audit log", "serve") on the
 * vault VAULT_ID's database: 63 bits of a hash of both, apart from the
 * store's own write lock (a fixed key). */
int64_t cv_store_pg_lock_key(const char *purpose, const char *vault_id);

/*
 * A read transaction: one snapshot and one lock round for several reads
 * (a server request does five). Not nested with cv_store_begin.
 */
cv_err cv_store_read_begin(struct cv_store *s) CV_MUST_CHECK;
void cv_store_read_end(struct cv_store *s);

/*
 * What this connection sees of the database, as a pair that differs from
 * every earlier one once anything was committed since, by this connection
 * or any other (another process's included): SQLite's data_version and
 * this connection's change count. On PostgreSQL "anything" is a change
 * to users, certs or cases (a counter their triggers bump): keep nothing
 * else by it there. Inside a read transaction, that snapshot's. For keeping
 * what the database said (a certificate is live) until it may have
 * changed; CV_ERR_STORE when it cannot be read.
 */
struct cv_store_epoch {
	int64_t data, changes;
};
cv_err cv_store_epoch(struct cv_store *s, struct cv_store_epoch *e)
    CV_MUST_CHECK;

/*
 * A watcher of S's database's epoch for this process (a server's): on
 * PostgreSQL a connection of its own that is told of each commit that
 * moves the epoch, and a thread; the stores given it (cv_store_follow_use)
 * answer cv_store_epoch outside a transaction from it, without a round
 * trip, a notice's time behind the database (milliseconds; a quarter of
 * a second at most, else it stops and they ask again themselves). *OUT
 * is NULL on SQLite, where asking costs nothing: use and free take NULL.
 * Caller frees with cv_store_follow_free, after closing the stores given
 * it. CV_ERR_STORE (cannot connect or LISTEN), CV_ERR_NOMEM.
 */
struct cv_store_follow;
cv_err cv_store_follow_new(struct cv_store *s, struct cv_store_follow **out)
    CV_MUST_CHECK;
/* S answers its epoch from F (NULL: asks the database again). */
void cv_store_follow_use(struct cv_store *s, struct cv_store_follow *f);
void cv_store_follow_free(struct cv_store_follow *f);

/*
 * Whether a commit waits for the disk (FULL, the default) or only keeps
 * the database consistent (0: a crash may lose the last commits, never
 * corrupt). A bulk load's hidden transactions need no fsync each; its last
 * one, which makes them visible, does, and syncs the earlier ones with it.
 */
cv_err cv_store_sync(struct cv_store *s, int full) CV_MUST_CHECK;

/* Transactions. cv_store_begin takes the write lock at once. */
cv_err cv_store_begin(struct cv_store *s) CV_MUST_CHECK;
cv_err cv_store_commit(struct cv_store *s) CV_MUST_CHECK;
void cv_store_rollback(struct cv_store *s);

/*
 * One record as stored. BODY is owned by the caller of cv_store_put.
 * LOAD: the load writing it (0: none, visible at once).
 */
struct cv_store_put {
	const char *rid;
	int64_t load;
	uint32_t version;
	uint32_t gen;
	uint8_t wdek[CV_WDEK_BYTES];
	uint8_t ssn_bi[CV_BIDX_BYTES], name_bi[CV_BIDX_BYTES];
	const uint8_t *body;
	size_t body_len;
};

/*
 * Current version of RID in *version, or CV_ERR_NOT_FOUND. Here and in
 * every read below, records of a load that is not done do not exist.
 */
cv_err cv_store_version(struct cv_store *s, const char *rid,
    uint32_t *version) CV_MUST_CHECK;
/* The same, and CV_ERR_SHREDDED when RID's data key is gone. */
cv_err cv_store_state(struct cv_store *s, const char *rid,
    uint32_t *version) CV_MUST_CHECK;

/*
 * Inserts P if no record has its rid; otherwise sets *exists and writes
 * nothing. The fast path of a bulk load: one index probe, not two.
 */
cv_err cv_store_insert(struct cv_store *s, const struct cv_store_put *p,
    int *exists) CV_MUST_CHECK;

/*
 * Inserts P, or replaces the record with P's rid (a new version); the
 * version it replaces is kept (see cv_store_kept_list).
 */
cv_err cv_store_put(struct cv_store *s,
    const struct cv_store_put *p) CV_MUST_CHECK;

/* A record read back. body points into row-owned memory. */
struct cv_store_row {
	uint32_t version;
	int shredded;		/* no data key: wdek and gen are unset */
	uint32_t gen;
	uint8_t wdek[CV_WDEK_BYTES];
	uint8_t *body;		/* malloc'd; cv_store_row_clear frees */
	size_t body_len;
};

/* CV_ERR_NOT_FOUND if there is no record RID. */
cv_err cv_store_get(struct cv_store *s, const char *rid,
    struct cv_store_row *row) CV_MUST_CHECK;
void cv_store_row_clear(struct cv_store_row *row);

/*
 * cv_store_get of N records at once, in one statement on PostgreSQL
 * (one each on SQLite, where a statement costs no round trip): ROWS[i]
 * and ERRS[i] as cv_store_get's for RIDS[i] (CV_ERR_NOT_FOUND, or
 * CV_ERR_FORMAT for a bad data key); clear each row. The return value
 * is the statement's: CV_ERR_STORE (no row kept), CV_ERR_INVALID (not
 * a record id), CV_ERR_NOMEM.
 */
cv_err cv_store_get_many(struct cv_store *s, const char *const *rids,
    size_t n, struct cv_store_row *rows, cv_err *errs) CV_MUST_CHECK;

/*
 * Record ids whose blind index of KIND equals BI, through the index only.
 * Calls FN(ctx, rid) for each; a non-zero return stops the walk.
 */
cv_err cv_store_find(struct cv_store *s, enum cv_bidx_kind kind,
    const uint8_t bi[static CV_BIDX_BYTES],
    int (*fn)(void *ctx, const char *rid), void *ctx) CV_MUST_CHECK;

/*
 * Destroys RID's wrapped data key and blind indexes, and every kept
 * version of it with its key (secure delete: the bytes are overwritten in
 * the file). CV_ERR_NOT_FOUND, CV_ERR_SHREDDED.
 */
cv_err cv_store_shred(struct cv_store *s, const char *rid) CV_MUST_CHECK;

/*
 * Kept versions: a record replaced by a newer version (cv_store_put, a
 * load's new versions) keeps the one it replaced, ciphertext and wrapped
 * data key, so that an update never destroys the only copy. They have no
 * blind index and no read of the server returns them; `clearvault
 * versions` lists them and restores one (vault/versions.c).
 */
struct cv_store_kept {
	uint32_t version;
	int64_t replaced_us;	/* when a newer version took its place */
	size_t body_len;
};

/* FN(CTX, k) for RID's kept versions, newest first; a non-zero return
 * stops the walk. None is not an error. CV_ERR_STORE. */
cv_err cv_store_kept_list(struct cv_store *s, const char *rid,
    int (*fn)(void *ctx, const struct cv_store_kept *k),
    void *ctx) CV_MUST_CHECK;
/* RID's kept VERSION as a row (cv_store_row_clear it). CV_ERR_NOT_FOUND,
 * CV_ERR_FORMAT, CV_ERR_STORE, CV_ERR_NOMEM. */
cv_err cv_store_kept_get(struct cv_store *s, const char *rid,
    uint32_t version, struct cv_store_row *row) CV_MUST_CHECK;
/* How many versions are kept, of all records. */
cv_err cv_store_kept_count(struct cv_store *s, int64_t *n) CV_MUST_CHECK;

/* Wrapped data keys, for rotation: the records' and the kept versions'. */
struct cv_store_dek {
	int64_t ref;	/* opaque position; pass back to cv_store_dek_set */
	char rid[72];
	uint32_t gen;
	uint8_t wdek[CV_WDEK_BYTES];
};

/*
 * Up to MAX wrapped keys after position AFTER (0 to start) whose
 * generation is not GEN, in position order; *n is how many. The records'
 * keys come first, then the kept versions' (cv_store_kept_list).
 */
cv_err cv_store_dek_scan(struct cv_store *s, int64_t after, uint32_t gen,
    struct cv_store_dek *out, size_t max, size_t *n) CV_MUST_CHECK;
cv_err cv_store_dek_set(struct cv_store *s, int64_t ref, uint32_t gen,
    const uint8_t wdek[static CV_WDEK_BYTES]) CV_MUST_CHECK;

/* Counts: all records, and those with a data key under generation GEN. */
cv_err cv_store_count(struct cv_store *s, int64_t *records,
    int64_t *shredded) CV_MUST_CHECK;

/* Users of the server and their client certificates. */
#define CV_USER_NAME_MAX 64

struct cv_store_user {
	char name[CV_USER_NAME_MAX + 1];
	char role[32];
	int disabled;
	int64_t created_us;
	uint8_t totp_sealed[128];	/* sealed TOTP seed (keys module) */
	size_t totp_len;
};

/*
 * Sessions every node shares (auth/session.c keeps a copy per node for at
 * most a second). HASH is the SHA-256 of the bearer token; the token is
 * never stored.
 */
#define CV_STORE_SESSION_HASH 32
#define CV_STORE_SESSION_IDLE_US (15LL * 60 * 1000000)
struct cv_store_session {
	uint8_t hash[CV_STORE_SESSION_HASH];
	char id[17];			/* the public id the log names */
	char user[CV_USER_NAME_MAX + 1];
	char role[32];
	char cert[65];			/* the fingerprint it is bound to */
	int64_t created_us, used_us, expires_us, stepped_up_us;
};

/* Stores a new session SS, first deleting the expired and idle ones as of
 * NOW_US. CV_ERR_EXISTS (its hash taken), CV_ERR_STORE. */
cv_err cv_store_session_put(struct cv_store *s,
    const struct cv_store_session *ss, int64_t now_us) CV_MUST_CHECK;
/* The session of HASH; CV_ERR_NOT_FOUND when ended, expired or unknown. */
cv_err cv_store_session_get(struct cv_store *s,
    const uint8_t hash[static CV_STORE_SESSION_HASH],
    struct cv_store_session *out) CV_MUST_CHECK;
/* Moves its last use and step-up forward (never back: another node may
 * have written later ones). CV_ERR_NOT_FOUND when it is gone. */
cv_err cv_store_session_touch(struct cv_store *s,
    const uint8_t hash[static CV_STORE_SESSION_HASH], int64_t used_us,
    int64_t stepped_up_us) CV_MUST_CHECK;
/* Ends every session of USER on every node (disable, revoke, lock). */
cv_err cv_store_session_end_user(struct cv_store *s,
    const char *user) CV_MUST_CHECK;

/*
 * The guard's counts every node of a PostgreSQL vault shares (guard.c):
 * cv_store_shared says whether S has them (a SQLite vault has one server
 * and its guard in memory only; the functions below are CV_ERR_INVALID
 * there).
 */
int cv_store_shared(const struct cv_store *s);
/*
 * Which records these are, for the binding of the vault's keys to them
 * (cv_keys_open): on PostgreSQL the cluster's system identifier and the
 * database's name ("postgresql:ID/NAME": a standby promoted in its place
 * has the same; a dump restored elsewhere has not), on SQLite "" (the
 * records are the folder's). OUT holds SIZE bytes.
 */
cv_err cv_store_identity(struct cv_store *s, char *out,
    size_t size) CV_MUST_CHECK;

/* One read, as the guard decides it (limits as in src/guard: per sliding
 * minute, hour and day; UINT32_MAX none). */
struct cv_store_take {
	const char *user;
	const char *session;	/* its public id; NULL: no session budget */
	int64_t proof_us;	/* the session's last TOTP proof */
	uint32_t budget;	/* distinct records per proof */
	const char *const *rids;
	size_t n;
	int64_t now_us;
	uint32_t soft[3], hard[3];	/* the user's */
	uint32_t vhard[3];		/* the vault-wide ceiling's */
	int stepped_up;		/* soft limits waived */
	/* Grants (NULL node: none asked, none given back). The node's
	 * last grant for this user ends: SETTLE (NSETTLE ids) is what it
	 * let out under it, counted whatever the verdict. An allowed read
	 * may bring a new one of at most CHUNK records, good for LEASE_US:
	 * what the node may let out without asking (*grant). */
	const char *node;
	const char *const *settle;
	size_t nsettle;
	uint32_t chunk;
	int64_t lease_us;
};

enum cv_store_verdict {
	CV_TAKE_ALLOW,		/* counted on every node */
	CV_TAKE_STEP_UP,	/* a soft limit of window *window */
	CV_TAKE_SESSION,	/* the session's budget */
	CV_TAKE_DENY,		/* a hard limit of window *window */
	CV_TAKE_CEILING,	/* the vault-wide ceiling of window *window */
	CV_TAKE_LOCKED,		/* a lock row (any node's) */
};

/*
 * Decides T against every node's counts in one statement, under a lock
 * on the user, and counts it when allowed (nothing counted otherwise).
 * *window: 1 minute, 2 hour, 3 day. *grant: the records T->node may let
 * out for T->user without asking (0: none; the caller's to count down
 * and give back, with what it let out, at its next take or settle). Must not run inside a transaction of
 * S's (it would decide on that transaction's snapshot). CV_ERR_STORE
 * (fail closed: no read), CV_ERR_INVALID (a SQLite vault, a bad id).
 */
cv_err cv_store_guard_take(struct cv_store *s, const struct cv_store_take *t,
    enum cv_store_verdict *v, unsigned *window,
    unsigned *grant) CV_MUST_CHECK;
/* Once a minute: grants whose lease ended a day before NOW_US (their
 * nodes never gave them back) forgotten, what they held free again; and
 * up to 500 users (a tenth of a second) who have not read for a minute
 * brought forward, so that what left their windows leaves the vault's
 * ceiling count too (until then it counts them as of their last read:
 * early, never late). Never past the database's clock. One node at a
 * time: another's call meanwhile does nothing. CV_ERR_STORE: the
 * database failed, or its connection is not READ COMMITTED. */
cv_err cv_store_guard_expire(struct cv_store *s,
    int64_t now_us) CV_MUST_CHECK;
/*
 * A lock every node obeys: USER's row, made with REASON, or, if USER has
 * one, given a new since (pending unlock approvals then count no more).
 * *SINCE (if not NULL): the row's since after it, a number of one
 * sequence for the vault (larger for a later lock), which names this
 * lock to cv_store_guard_unlocked. CV_ERR_STORE.
 */
cv_err cv_store_guard_lock(struct cv_store *s, const char *user,
    const char *reason, int64_t *since) CV_MUST_CHECK;
cv_err cv_store_guard_unlock(struct cv_store *s,
    const char *user) CV_MUST_CHECK;
/*
 * Two-person rule across nodes: OFFICER approves lifting USER's lock row.
 * The first approval stands for TTL_US on the database's clock (and for
 * that row only: a new lock of USER gives the row a new since); a second
 * one by another officer deletes the row (*LIFTED: the row's since, > 0;
 * else 0) and notes the unlock for every node (cv_store_guard_unlocked).
 * Errors (nothing changed): CV_ERR_NOT_FOUND no lock row, CV_ERR_AUTH
 * OFFICER is USER or has a lock row, CV_ERR_EXISTS OFFICER gave the
 * pending approval, CV_ERR_INVALID not a PostgreSQL vault, CV_ERR_STORE.
 * Roles are the caller's business.
 */
cv_err cv_store_guard_unlock_approve(struct cv_store *s, const char *user,
    const char *officer, int64_t ttl_us, int64_t *lifted) CV_MUST_CHECK;
/* *N: the approvals pending on USER's lock row (0 or 1), as counted by
 * cv_store_guard_unlock_approve with TTL_US. CV_ERR_INVALID not a
 * PostgreSQL vault, CV_ERR_STORE. */
cv_err cv_store_guard_unlock_pending(struct cv_store *s, const char *user,
    int64_t ttl_us, int *n) CV_MUST_CHECK;
/*
 * FN(CTX, user, since) for each unlock noted after *AFTER_US less a
 * margin (the second approval's time on the database's clock; an unlock
 * may commit after a later one was read), oldest first: SINCE names the
 * lock row lifted (cv_store_guard_lock's), so that a node drops only the
 * lock it knows as that row. *AFTER_US then the
 * latest. Nothing on a SQLite vault. CV_ERR_STORE.
 */
cv_err cv_store_guard_unlocked(struct cv_store *s, int64_t *after_us,
    void (*fn)(void *ctx, const char *user, int64_t since),
    void *ctx) CV_MUST_CHECK;
/* *LOCKED: whether USER has a lock row. */
cv_err cv_store_guard_locked(struct cv_store *s, const char *user,
    int *locked) CV_MUST_CHECK;
/* FN(CTX, user, reason, since) for every lock row, by user. */
cv_err cv_store_guard_locks(struct cv_store *s,
    void (*fn)(void *ctx, const char *user, const char *reason,
    int64_t since), void *ctx) CV_MUST_CHECK;

/*
 * A user's own read budgets, overriding the role's: soft per minute, hour,
 * day, then hard per minute, hour, day. Set with V NULL removes them; get
 * gives CV_ERR_NOT_FOUND when the user has none.
 */
#define CV_STORE_BUDGET_N 6
cv_err cv_store_budget_set(struct cv_store *s, const char *user,
    const uint32_t *v) CV_MUST_CHECK;
cv_err cv_store_budget_get(struct cv_store *s, const char *user,
    uint32_t *v) CV_MUST_CHECK;

/* The last TOTP time step USER used (0: none), and recording a new one. */
cv_err cv_store_totp_step(struct cv_store *s, const char *user,
    uint64_t *step) CV_MUST_CHECK;
cv_err cv_store_totp_step_set(struct cv_store *s, const char *user,
    uint64_t step) CV_MUST_CHECK;

/* CV_ERR_EXISTS if NAME exists. */
cv_err cv_store_user_add(struct cv_store *s,
    const struct cv_store_user *u) CV_MUST_CHECK;
/* CV_ERR_NOT_FOUND if there is no such user. */
cv_err cv_store_user_get(struct cv_store *s, const char *name,
    struct cv_store_user *u) CV_MUST_CHECK;
cv_err cv_store_user_list(struct cv_store *s,
    int (*fn)(void *ctx, const struct cv_store_user *u),
    void *ctx) CV_MUST_CHECK;
cv_err cv_store_user_disable(struct cv_store *s, const char *name,
    int disabled) CV_MUST_CHECK;

struct cv_store_cert {
	char fingerprint[65];	/* SHA-256 of the DER certificate, hex */
	char serial[41];
	char user[CV_USER_NAME_MAX + 1];
	int64_t not_after_us;
	int revoked;
};

cv_err cv_store_cert_add(struct cv_store *s,
    const struct cv_store_cert *c) CV_MUST_CHECK;
/* CV_ERR_NOT_FOUND for an unknown fingerprint. */
cv_err cv_store_cert_get(struct cv_store *s, const char *fingerprint,
    struct cv_store_cert *c) CV_MUST_CHECK;
/*
 * The certificate FINGERPRINT and the user it names, as cv_store_cert_get
 * and cv_store_user_get give them, for a server asking on every request:
 * the rows are kept per connection with the epoch they were read at
 * (cv_store_epoch) and read again once anything was committed since.
 * CV_ERR_NOT_FOUND for an unknown certificate (C zeroed) or user; the
 * caller judges revoked, expired and disabled.
 */
cv_err cv_store_cert_user(struct cv_store *s, const char *fingerprint,
    struct cv_store_cert *c, struct cv_store_user *u) CV_MUST_CHECK;
/* Revokes every certificate of USER; *n gets how many were live. */
cv_err cv_store_cert_revoke_user(struct cv_store *s, const char *user,
    int *n) CV_MUST_CHECK;
/* Certificates of USER, live ones counted in *live. */
cv_err cv_store_cert_count(struct cv_store *s, const char *user,
    int *live, int *all) CV_MUST_CHECK;

/* Changes NAME's role. CV_ERR_NOT_FOUND. */
cv_err cv_store_user_set_role(struct cv_store *s, const char *name,
    const char *role) CV_MUST_CHECK;
/* Stores NAME's sealed TOTP seed (LEN bytes; 0 for none yet). */
cv_err cv_store_user_set_totp(struct cv_store *s, const char *name,
    const uint8_t *sealed, size_t len) CV_MUST_CHECK;
/*
 * How many users of ROLE are enabled (and, with ENROLLED_ONLY, hold a live
 * certificate, i.e. can act).
 */
cv_err cv_store_user_count_role(struct cv_store *s, const char *role,
    int enrolled_only, int *n) CV_MUST_CHECK;

/*
 * Proposals (two-person control): a change that gives someone power to
 * read, waiting for a second person. KIND and SUBJECT say what (e.g.
 * "user.create" of a user name, "case.members" of a case id), ARGS the
 * details as JSON (owned: cv_store_proposal_clear frees it). STATE is
 * "pending", "approved", "rejected" or "expired". AUDIT_INDEX is the log
 * index of the entry that recorded the proposal (-1 until known).
 */
struct cv_store_proposal {
	int64_t id;
	char kind[32];
	char subject[80];
	char *args;
	char proposer[CV_USER_NAME_MAX + 8];	/* a user, or cli:OSUSER */
	int64_t created_us, expires_us;
	char state[12];
	char approver[CV_USER_NAME_MAX + 8];
	int64_t decided_us;
	int64_t audit_index;
};

/* Adds P (id, state, approver and decision ignored); its id in *ID. */
cv_err cv_store_proposal_add(struct cv_store *s,
    const struct cv_store_proposal *p, int64_t *id) CV_MUST_CHECK;
/* CV_ERR_NOT_FOUND. The caller clears *P. */
cv_err cv_store_proposal_get(struct cv_store *s, int64_t id,
    struct cv_store_proposal *p) CV_MUST_CHECK;
/* FN for each proposal (only pending ones with PENDING_ONLY) by id; P is
 * valid during the call only; a non-zero return stops the walk. */
cv_err cv_store_proposal_list(struct cv_store *s, int pending_only,
    int (*fn)(void *ctx, const struct cv_store_proposal *p),
    void *ctx) CV_MUST_CHECK;
/*
 * Moves proposal ID from pending to STATE, decided by APPROVER at NOW_US.
 * CV_ERR_EXISTS if it is no longer pending (decided already: a replay).
 */
cv_err cv_store_proposal_decide(struct cv_store *s, int64_t id,
    const char *state, const char *approver, int64_t now_us) CV_MUST_CHECK;
cv_err cv_store_proposal_index(struct cv_store *s, int64_t id,
    uint64_t index) CV_MUST_CHECK;
/* Approved proposals decided since SINCE_US, of KIND and by APPROVER
 * (either NULL for any). */
cv_err cv_store_proposal_count(struct cv_store *s, const char *kind,
    const char *approver, int64_t since_us, int *n) CV_MUST_CHECK;
void cv_store_proposal_clear(struct cv_store_proposal *p);

/*
 * Enrolment codes of accounts that have no certificate yet, kept only as
 * a hash. get gives CV_ERR_NOT_FOUND when none is open.
 */
#define CV_STORE_CODE_HASH 32
cv_err cv_store_enrol_set(struct cv_store *s, const char *user,
    const uint8_t hash[static CV_STORE_CODE_HASH],
    int64_t expires_us) CV_MUST_CHECK;
cv_err cv_store_enrol_get(struct cv_store *s, const char *user,
    uint8_t hash[static CV_STORE_CODE_HASH], int64_t *expires_us,
    int *fails) CV_MUST_CHECK;
cv_err cv_store_enrol_fail(struct cv_store *s, const char *user)
    CV_MUST_CHECK;
cv_err cv_store_enrol_close(struct cv_store *s, const char *user)
    CV_MUST_CHECK;

/*
 * Cases: a case holds users and records; a user reads a record only for
 * a case that holds both (need-to-know). CV_ERR_EXISTS for a duplicate
 * case id; cv_store_case_exists and cv_store_case_allows return CV_OK or
 * CV_ERR_NOT_FOUND.
 */
cv_err cv_store_case_add(struct cv_store *s, const char *id,
    const char *title, const char *by, int64_t now_us) CV_MUST_CHECK;
cv_err cv_store_case_exists(struct cv_store *s, const char *id)
    CV_MUST_CHECK;
/* Adds (ADD) or removes a user, or a record (RECORD), of case ID. */
cv_err cv_store_case_member(struct cv_store *s, const char *id, int record,
    const char *who, int add, int *changed) CV_MUST_CHECK;
/*
 * On a store given an epoch watcher (cv_store_follow_use), answered from
 * the process's memo of case ID's members, read again once the epoch has
 * moved: a change made on another node is seen as late as a revoked
 * certificate is, and one made in this process at once. A case of more
 * than 20,000 records or users, and a store without a watcher, ask every
 * time.
 */
cv_err cv_store_case_allows(struct cv_store *s, const char *id,
    const char *user, const char *rid) CV_MUST_CHECK;
cv_err cv_store_case_has_user(struct cv_store *s, const char *id,
    const char *user) CV_MUST_CHECK;

/*
 * The cases that hold USER, in id order (bytewise): FN(CTX, case_id) for
 * each, CASE_ID valid during the call only; a non-zero return stops the
 * walk (CV_OK). No case is not an error. CV_ERR_STORE.
 */
cv_err cv_store_user_cases(struct cv_store *s, const char *user,
    int (*fn)(void *ctx, const char *case_id), void *ctx) CV_MUST_CHECK;

/* A case as the list below gives it; the strings valid during FN only. */
struct cv_store_case {
	const char *id, *title, *created_by;
	int64_t created_us;
	int64_t users, records;		/* how many of each it holds */
};
/*
 * Case ID alone (ID not NULL; none: FN is not called), else every case
 * (USER NULL) or the cases that hold USER, in id order: FN(CTX, case)
 * for each; a non-zero return stops the walk (CV_OK). CV_ERR_STORE.
 */
cv_err cv_store_case_list(struct cv_store *s, const char *user,
    const char *id,
    int (*fn)(void *ctx, const struct cv_store_case *c), void *ctx)
    CV_MUST_CHECK;
/*
 * The users (RECORDS 0) or record ids (RECORDS 1) of case ID, in order:
 * FN(CTX, member), MEMBER valid during the call only; non-zero stops.
 * CV_ERR_NOT_FOUND when there is no such case; CV_ERR_STORE.
 */
cv_err cv_store_case_get(struct cv_store *s, const char *id, int records,
    int (*fn)(void *ctx, const char *member), void *ctx) CV_MUST_CHECK;

/*
 * Drill reports (`clearvault drill run --vault`), the latest shown by the
 * web console; the latest ten are kept. REPORT is the drill's JSON, SVG
 * its timeline picture. put: CV_ERR_STORE. latest: *OUT filled (its
 * strings the caller's, freed by cv_store_report_clear), CV_ERR_NOT_FOUND
 * when there is none, CV_ERR_NOMEM, CV_ERR_STORE.
 */
struct cv_store_report {
	int64_t written_us;
	char by[64];
	char *report, *svg;
};
cv_err cv_store_report_put(struct cv_store *s, const char *by,
    int64_t now_us, const char *report, const char *svg) CV_MUST_CHECK;
cv_err cv_store_report_latest(struct cv_store *s,
    struct cv_store_report *out) CV_MUST_CHECK;
void cv_store_report_clear(struct cv_store_report *r);

/*
 * Bulk loads (see loads.c). A load writes its records in many short
 * transactions, tagged with its id (cv_store_put.load), and they stay
 * invisible to every read until cv_store_load_done, in its last one,
 * makes them all visible at once. A load that never gets there is removed
 * with cv_store_load_discard and cv_store_load_void. AUDITED marks a load
 * whose outcome is on the audit log; the vault settles the others.
 */
enum cv_store_load_state {
	CV_STORE_LOAD_OPEN = 0,		/* writing; its records hidden */
	CV_STORE_LOAD_DONE = 1,		/* committed: its records visible */
	CV_STORE_LOAD_VOID = 2,		/* rolled back: its records removed */
};

#define CV_STORE_DIGEST_BYTES 32

struct cv_store_load {
	int64_t id;
	int state;			/* enum cv_store_load_state */
	int audited;
	uint8_t digest[CV_STORE_DIGEST_BYTES];	/* SHA-256 of the input */
	int64_t bytes, records, versions, canaries;
	int64_t started_us, decided_us;	/* wall clock (cv_time_us) */
};

/* In a write transaction: a new open load, its id in *ID. */
cv_err cv_store_load_new(struct cv_store *s, int64_t now_us,
    int64_t *id) CV_MUST_CHECK;

/*
 * cv_store_insert for load P->load. When the rid exists, *exists is set
 * and *version is its version as the load sees it (its own row, the new
 * version it already made, or the visible record), *own whether the row is
 * the load's own. CV_ERR_EXISTS when the row is another unfinished load's.
 */
cv_err cv_store_load_insert(struct cv_store *s, const struct cv_store_put *p,
    int *exists, int *own, uint32_t *version) CV_MUST_CHECK;

/*
 * The N records PUT of one load, all new, as N cv_store_load_insert
 * calls that each found its rid free would write them, in one go where
 * the database takes rows in bulk (PostgreSQL: one query for the ids,
 * one COPY into records and one into deks), in a write transaction.
 * *WRITTEN 0: nothing was written,
 * because the database has no bulk path (SQLite: the caller's row by row
 * is as fast) or a rid among them is taken (stored, or twice among
 * them); the caller then writes them one at a time with
 * cv_store_load_insert, which tells those cases apart. CV_ERR_STORE:
 * roll the transaction back.
 */
cv_err cv_store_load_bulk(struct cv_store *s,
    const struct cv_store_put *const *put, size_t n, int *written)
    CV_MUST_CHECK;

/*
 * A new version of a record that exists, by load P->load: replaces the
 * load's OWN row, or else waits, hidden, until cv_store_load_done.
 */
cv_err cv_store_load_version(struct cv_store *s, const struct cv_store_put *p,
    int own) CV_MUST_CHECK;

/*
 * Moves record RID, a row of open load LOAD, to a place among the load's
 * rows from its first to RID's own, chosen by PICK (uniform over them when
 * PICK is): the two rows trade places, their data keys with them. For
 * rows that had to be written last (the canaries a load adds at the end
 * of a pipe), so that their place says nothing. CV_ERR_NOT_FOUND when the
 * place picked is not the load's (pick again); CV_ERR_INVALID when RID is
 * not a row of open load LOAD.
 */
cv_err cv_store_load_swap(struct cv_store *s, int64_t load, const char *rid,
    uint64_t pick) CV_MUST_CHECK;

/*
 * In the load's last transaction: applies its new versions (CV_ERR_EXISTS
 * if one of those records changed meanwhile), keeps L's digest and counts
 * and marks it done, so that its records are visible from the commit on.
 */
cv_err cv_store_load_done(struct cv_store *s, const struct cv_store_load *l,
    int64_t now_us) CV_MUST_CHECK;

/*
 * Removes up to MAX rows (records with their keys, pending versions) of
 * unfinished load ID, *N how many: call in short transactions until 0,
 * then cv_store_load_void. Secure delete wipes the bytes.
 */
cv_err cv_store_load_discard(struct cv_store *s, int64_t id, size_t max,
    size_t *n) CV_MUST_CHECK;
cv_err cv_store_load_void(struct cv_store *s, int64_t id,
    int64_t now_us) CV_MUST_CHECK;
cv_err cv_store_load_audited(struct cv_store *s, int64_t id) CV_MUST_CHECK;

/* The latest done load of an input with DIGEST, or CV_ERR_NOT_FOUND. */
cv_err cv_store_load_find(struct cv_store *s,
    const uint8_t digest[static CV_STORE_DIGEST_BYTES],
    struct cv_store_load *l) CV_MUST_CHECK;
/* Whether a done load read exactly BYTES input bytes. */
cv_err cv_store_load_sized(struct cv_store *s, int64_t bytes,
    int *any) CV_MUST_CHECK;
/* Up to MAX loads whose outcome is not on the audit log, oldest first. */
cv_err cv_store_load_unsettled(struct cv_store *s, struct cv_store_load *out,
    size_t max, size_t *n) CV_MUST_CHECK;
/* Whether any load is done (loads made before loads were kept count as
 * one). */
cv_err cv_store_loads_any(struct cv_store *s, int *any) CV_MUST_CHECK;

/*
 * The sealed canary list (vault/canary.c): one row, written in the same
 * transaction as the records it names. get: a malloc'd copy, CV_ERR_NOT_FOUND
 * without a row; STAMP grows with every set (0: no list), so that a server
 * sees a change with one cheap query.
 */
cv_err cv_store_canaries_get(struct cv_store *s, uint8_t **sealed,
    size_t *len, int64_t *stamp) CV_MUST_CHECK;
cv_err cv_store_canaries_set(struct cv_store *s, const uint8_t *sealed,
    size_t len) CV_MUST_CHECK;
cv_err cv_store_canaries_stamp(struct cv_store *s,
    int64_t *stamp) CV_MUST_CHECK;

/*
 * Moves the write-ahead log into the main file and truncates it, so that
 * overwritten bytes (a shredded key) leave no copy in DIR/vault.db-wal.
 */
cv_err cv_store_checkpoint(struct cv_store *s) CV_MUST_CHECK;

/*
 * A consistent copy of the whole database (one moment, while other
 * connections go on writing) as a new file PATH, fsynced; PROGRESS(ctx,
 * pages done, pages in all) after each step. Not inside a transaction of
 * S. CV_ERR_EXISTS if PATH exists, CV_ERR_STORE (PATH removed).
 */
cv_err cv_store_backup(struct cv_store *s, const char *path,
    void (*progress)(void *ctx, uint64_t done, uint64_t total),
    void *ctx) CV_MUST_CHECK;

#endif
