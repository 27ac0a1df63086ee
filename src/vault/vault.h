/*
 * A vault: the encrypted record store in folder DIR, with its keys.
 * The command line and (later) the server call these same functions.
 *
 *   DIR/clearvault.conf   which HSM token and PIN file (config module)
 *   DIR/keyring           keyring keys, sealed by HSM root keys (keys)
 *   DIR/vault.db          records, wrapped data keys, blind indexes (store)
 *   DIR/token/            the private SoftHSM2 token, by default
 */
#ifndef CV_VAULT_H
#define CV_VAULT_H

#include <stdio.h>

#include <jansson.h>

#include "../base/base.h"
#include "../config/config.h"
#include "../record/record.h"

struct cv_vault;
struct cv_keys;
struct cv_store;

/* Where the root keys live. All NULL: a new SoftHSM2 token inside DIR. */
struct cv_vault_init_opts {
	const char *pkcs11_module;
	const char *token_label;
	const char *pin_file;
	/* The fewest canaries loads keep in the vault; < 0: CV_CANARIES_MIN */
	int64_t canaries;
	/* NULL: the records in DIR/vault.db (SQLite). Else an empty
	 * PostgreSQL database's postgresql:// URI, kept in clearvault.conf
	 * (cv_store_open says which connections it takes). */
	const char *db;
};

/*
 * Creates a vault in DIR, which must not exist or be empty. On failure
 * everything it created is removed. CV_ERR_EXISTS for a non-empty DIR or a
 * token that already holds this vault's keys; CV_ERR_HSM* when the token
 * cannot be used.
 */
cv_err cv_vault_init(const char *dir,
    const struct cv_vault_init_opts *o) CV_MUST_CHECK;

/*
 * Opens the vault in DIR: logs in to its HSM token and unseals the
 * keyring. Fails closed with the errors of cv_keys_open and cv_store_open.
 * Free with cv_vault_close.
 */
cv_err cv_vault_open(const char *dir, struct cv_vault **out) CV_MUST_CHECK;

/*
 * Another handle on the same vault with its own database connection and
 * shared keys, for another thread. Each handle is used by one thread at a
 * time; close every one.
 */
/*
 * The vault at DIR without its keys: its configuration and store only,
 * for the server's network process, which must not load the PKCS#11
 * module. Everything that needs a key fails on this handle; ask the key
 * process instead.
 */
cv_err cv_vault_open_store(const char *dir,
    struct cv_vault **out) CV_MUST_CHECK;
cv_err cv_vault_dup(struct cv_vault *v, struct cv_vault **out) CV_MUST_CHECK;
void cv_vault_close(struct cv_vault *v);

/* Loading JSON Lines. */
#define CV_LOAD_DIGEST_BYTES 32

/*
 * What a load's audit entries name: the load's number in the vault, the
 * SHA-256 of its input and what it stores. COMMITTED: settled, its
 * records were committed (1) or rolled back (0).
 */
struct cv_load_info {
	int64_t id;
	int committed;
	uint8_t digest[CV_LOAD_DIGEST_BYTES];
	uint64_t bytes, records, versions, canaries;
	int64_t started_us, decided_us;
};

enum cv_load_event {
	/* About to commit: the entry must be durable before this returns,
	 * and a failure stops the load (nothing stored). */
	CV_LOAD_BEGIN = 1,
	/* An earlier load whose outcome never reached the log (its process
	 * died) was settled: finished, or rolled back. */
	CV_LOAD_SETTLED,
};

/* Writes the audit entry of EV about load LI; CV_OK once durable. */
typedef cv_err cv_load_audit_fn(void *ctx, enum cv_load_event ev,
    const struct cv_load_info *li);

struct cv_load_stats {
	uint64_t lines;		/* input lines read */
	uint64_t stored;	/* records stored (new or new version) */
	uint64_t versions;	/* of which new versions of existing ids */
	uint64_t rejected;	/* bad records written to the reject file */
	uint64_t canaries;	/* decoys stored (not in stored) */
	uint64_t bytes;		/* input bytes read */
	uint64_t dropped;	/* replant: listed canaries without a record */
	double seconds;
	int64_t load;		/* the load's number (0: nothing committed) */
	uint8_t digest[CV_LOAD_DIGEST_BYTES];	/* SHA-256 of the input */
};

struct cv_load_error {
	uint64_t line;
	struct cv_record_error rec;
};

/* Canaries a load adds by default: 0.2% of its records, and as many as it
 * takes to bring the vault to CV_CANARIES_MIN. */
#define CV_CANARIES_AUTO (-1)
#define CV_CANARIES_MIN 50
#define CV_CANARY_RATE 500	/* one per this many records */

struct cv_load_opts {
	FILE *in;
	/* Decoys to mix into the input at random places (0: none), or
	 * CV_CANARIES_AUTO. Spread over the whole input when it is a regular
	 * file; from a pipe, the ones a rate cannot place go at its end. */
	int64_t canaries;
	/* NULL: the first bad record fails the run and nothing is stored.
	 * Otherwise bad records go here as JSON lines with their reason. */
	FILE *reject;
	unsigned threads;	/* 0: one per processor */
	/* Called from the loading thread about twice a second. */
	void (*progress)(void *ctx, const struct cv_load_stats *st);
	void *ctx;
	/* The write-ahead audit entries (NULL: none, for tests). */
	cv_load_audit_fn *audit;
	void *audit_ctx;
	/* An input that a done load had already (same SHA-256) is refused
	 * with CV_ERR_EXISTS unless this is set: then every record of it
	 * becomes a new version. */
	int new_version;
	/* Canaries only (an empty input): the listed canaries that are
	 * records are kept, the rest dropped, and new ones planted up to the
	 * vault's minimum or one per CV_CANARY_RATE records. Repairs a list
	 * that is missing, does not open or names missing records. */
	int replant;
};

/* The fewest canaries the vault keeps (`init --canaries`). */
int64_t cv_vault_canaries_min(const struct cv_vault *v);

/*
 * The vault's canary ids (decoys no legitimate task opens), known only
 * through the keyring: the list is sealed, in vault.db, committed with the
 * records it names. *ids is one allocation (the N pointers, then the
 * strings): free() it. No load yet: none (N = 0). Fails closed, with how
 * to recover (`canaries --replant`) in the detail: CV_ERR_NOT_FOUND when
 * the list is missing although loads planted canaries, CV_ERR_AUTH when it
 * does not open under this keyring, CV_ERR_FORMAT when it names records
 * that are not in the vault.
 */
cv_err cv_vault_canaries(struct cv_vault *v, char ***ids,
    size_t *n) CV_MUST_CHECK;

/*
 * Where a store-only handle (cv_vault_open_store) gets the canary list,
 * which only the keys can unseal: FN(CTX, ids, n) answers
 * cv_vault_canaries for V and the handles cv_vault_dup makes of it.
 */
typedef cv_err cv_vault_canary_fn(void *ctx, char ***ids, size_t *n);
void cv_vault_set_canary_source(struct cv_vault *v, cv_vault_canary_fn *fn,
    void *ctx);

/* Grows with every change of the canary list (0: none yet). */
cv_err cv_vault_canaries_stamp(struct cv_vault *v,
    int64_t *stamp) CV_MUST_CHECK;

/*
 * Validates, encrypts and stores every record of O->in, all good records
 * or nothing. It writes in short transactions (a server's logins and
 * reads never wait long behind it) whose records stay invisible until
 * the last one commits them all; before that commit, O->audit writes the
 * load's CV_LOAD_BEGIN entry. A record whose id exists becomes a new
 * version (new data key). One load at a time: it waits a few seconds for
 * another, then fails with CV_ERR_LIMIT; it first settles loads that died
 * (CV_LOAD_SETTLED entries). CV_ERR_INVALID on a bad record without a
 * reject file (*err says which line and why); CV_ERR_EXISTS for an input
 * already loaded (see new_version); CV_ERR_IO, CV_ERR_STORE; the errors of
 * cv_vault_canaries (unless replanting). *st is filled in any case. When
 * st->load is set, the caller records the outcome on the log and then
 * calls cv_vault_load_audited, whatever the result.
 */
cv_err cv_vault_load(struct cv_vault *v, const struct cv_load_opts *o,
    struct cv_load_stats *st, struct cv_load_error *err) CV_MUST_CHECK;

/*
 * The outcome of load LOAD (0: none) is on the log: the next open need
 * not settle it. Lets the next load run. A failure only means that the
 * next open writes a CV_LOAD_SETTLED entry for it as well.
 */
cv_err cv_vault_load_audited(struct cv_vault *v, int64_t load) CV_MUST_CHECK;

/*
 * Settles what loads killed before their outcome reached the log left: a
 * load that never committed is removed (its hidden records deleted), and
 * FN (may be NULL) writes a CV_LOAD_SETTLED entry for each, committed or
 * not. Does nothing while a load is running. Every command that opens the
 * vault with its log calls this.
 */
cv_err cv_vault_loads_settle(struct cv_vault *v, cv_load_audit_fn *fn,
    void *ctx) CV_MUST_CHECK;

/*
 * Stores one record given as JSON text (validated as `load` does). With
 * MUST_EXIST it only replaces an existing record (a new version); without,
 * it only creates. With EXPECT_ID, a record with another id is refused
 * (CV_ERR_INVALID, field "id") before anything is stored. *version gets
 * the stored version. CV_ERR_INVALID with
 * *e filled for a bad record, CV_ERR_EXISTS, CV_ERR_NOT_FOUND, CV_ERR_STORE.
 */
cv_err cv_vault_put(struct cv_vault *v, const char *text, size_t len,
    const char *expect_id, int must_exist, struct cv_record_error *e,
    char id[CV_RECORD_ID_MAX + 1], uint32_t *version) CV_MUST_CHECK;

/*
 * Record ID with the sections named in SECTIONS (NULL-terminated; NULL
 * for all) as a new JSON object in *out (caller json_decref's): "id", the
 * sections as loaded, and "_meta" {"version", "sections"}. Only the named
 * sections are decrypted. CV_ERR_INVALID (bad id or section name),
 * CV_ERR_NOT_FOUND, CV_ERR_SHREDDED, CV_ERR_AUTH (tampered or moved data).
 */
cv_err cv_vault_get(struct cv_vault *v, const char *id,
    const char *const *sections, json_t **out) CV_MUST_CHECK;

/*
 * The same record as compact JSON text appended to OUT, without building a
 * tree: sections are stored as validated JSON and spliced in as they
 * decrypt. On failure OUT is back at its old length. OUT holds plaintext:
 * cv_buf_free wipes it.
 */
cv_err cv_vault_get_text(struct cv_vault *v, const char *id,
    const char *const *sections, struct cv_buf *out) CV_MUST_CHECK;

/*
 * Several records' rows read at once (one statement on PostgreSQL, where
 * each is a round trip), then each opened as cv_vault_get_text would:
 * for a key process that has many reads waiting. IDS (N, checked:
 * CV_ERR_INVALID) must outlive *OUT (caller frees with
 * cv_vault_rows_free; the rows hold ciphertext only). CV_ERR_STORE when
 * the statement fails, CV_ERR_NOMEM.
 */
struct cv_vault_rows;
cv_err cv_vault_rows_fetch(struct cv_vault *v, const char *const *ids,
    size_t n, struct cv_vault_rows **out) CV_MUST_CHECK;
/* cv_vault_get_text of ROWS' I-th id, from its row as read; errors as
 * there (CV_ERR_NOT_FOUND, CV_ERR_SHREDDED, ...). */
cv_err cv_vault_rows_text(struct cv_vault *v, const struct cv_vault_rows *rows,
    size_t i, const char *const *sections, struct cv_buf *out)
    CV_MUST_CHECK;
/* Frees ROWS (NULL is a no-op); its ids stay the caller's. */
void cv_vault_rows_free(struct cv_vault_rows *rows);

/*
 * Ids of the records with this SSN, or this last name and birth date,
 * through the blind indexes only. FN(ctx, id) per match; non-zero stops.
 * CV_ERR_INVALID for a malformed SSN, name or date.
 */
cv_err cv_vault_find_ssn(struct cv_vault *v, const char *ssn,
    int (*fn)(void *ctx, const char *id), void *ctx) CV_MUST_CHECK;
cv_err cv_vault_find_name(struct cv_vault *v, const char *last,
    const char *dob, int (*fn)(void *ctx, const char *id),
    void *ctx) CV_MUST_CHECK;

/*
 * Destroys record ID's data key and blind indexes, and its kept earlier
 * versions with their keys; its ciphertext stays and can never be read
 * again. CV_ERR_NOT_FOUND, CV_ERR_SHREDDED.
 */
cv_err cv_vault_shred(struct cv_vault *v, const char *id) CV_MUST_CHECK;

/*
 * Makes record ID's kept VERSION (see cv_store_kept_list) its current
 * content again, as a new version (*now; a new data key), in one
 * transaction: the version it replaces is kept in turn, so nothing is
 * lost either way. For the operator (`clearvault versions --restore`):
 * the text never leaves this call. CV_ERR_INVALID (bad id, or a kept
 * version the schema no longer accepts: "field PATH: reason"),
 * CV_ERR_NOT_FOUND (no such record or kept version), CV_ERR_SHREDDED,
 * CV_ERR_AUTH (its ciphertext was altered), CV_ERR_STORE.
 */
cv_err cv_vault_version_restore(struct cv_vault *v, const char *id,
    uint32_t version, uint32_t *now) CV_MUST_CHECK;

struct cv_rotate_stats {
	uint64_t rewrapped, total;
	int resumed;	/* an interrupted rotation was finished */
	double seconds;
};

/*
 * A new keyring key; every data key rewrapped under it in committed
 * batches; the old key destroyed (keyring and HSM). Interrupted, a rerun
 * finishes the job; every record stays readable throughout.
 */
cv_err cv_vault_rotate(struct cv_vault *v,
    void (*progress)(void *ctx, const struct cv_rotate_stats *st),
    void *ctx, struct cv_rotate_stats *st) CV_MUST_CHECK;

/* The vault's folder and id (hex); borrowed, valid while V is. */
const char *cv_vault_dir(const struct cv_vault *v);
const char *cv_vault_id(const struct cv_vault *v);
/* Its PostgreSQL target (clearvault.conf's db), NULL for SQLite. */
const char *cv_vault_db(const struct cv_vault *v);

/*
 * V's database connection, for a process's composition root (a command,
 * the server's setup) to hand to the components that read and write
 * users, cases, proposals and sessions, and for the core to share V's
 * transaction. Components take a struct cv_store * and never a vault to
 * fetch it from (tests/structure/test_privsep.sh). Borrowed, valid while
 * V is; one thread at a time, as V.
 */
struct cv_store *cv_vault_store(struct cv_vault *v);

/* How many records, and how many of them are shredded. */
cv_err cv_vault_count(struct cv_vault *v, int64_t *records,
    int64_t *shredded) CV_MUST_CHECK;

/*
 * Backups (cmd_backup.c puts one together): the database as one
 * consistent copy at PATH (a new file), taken while others may write;
 * PROGRESS(ctx, pages done, pages in all).
 */
cv_err cv_vault_backup_db(struct cv_vault *v, const char *path,
    void (*progress)(void *ctx, uint64_t done, uint64_t total),
    void *ctx) CV_MUST_CHECK;

/*
 * A restored vault in DIR (its files in place, its token reachable) gets
 * keys of its own: a new random key id (in KEY_ID and DIR/clearvault.conf)
 * naming new HSM root keys that seal the same keyring keys, the token
 * bound to DIR. It can then never touch the keys of the vault it was
 * restored from, even on the same HSM token. See cv_keys_rekey.
 */
cv_err cv_vault_restore_keys(const char *dir,
    char key_id[static CV_VAULT_ID_LEN + 1]) CV_MUST_CHECK;

/*
 * The vault in DIR was moved there: its keys in the token are bound to
 * DIR from now on. WAS gets where they were bound. See cv_keys_rebind.
 */
cv_err cv_vault_rebind(const char *dir, char *was,
    size_t size) CV_MUST_CHECK;

/* The id naming V's keys in its token (the vault id, or a restore's). */
const char *cv_vault_key_id(const struct cv_vault *v);

/*
 * Files of a backup (backup.c). A backup lists its files with their
 * SHA-256 in SHA256SUMS, sha256sum's format ("HEX  PATH" lines).
 */
#define CV_BACKUP_PATH_MAX 200
#define CV_BACKUP_FILES_MAX 1024
struct cv_backup_file {
	char path[CV_BACKUP_PATH_MAX + 1];
	uint8_t sha256[32];
};

/*
 * Parses SHA256SUMS TEXT (outside input: a backup may have been altered)
 * into *OUT (N entries; caller frees). Only plain relative paths
 * ([A-Za-z0-9._-] parts, no "." or ".."), lower-case hex, each path once,
 * every line ended. CV_ERR_INVALID naming the line.
 */
cv_err cv_vault_sums_parse(const char *text, size_t len,
    struct cv_backup_file **out, size_t *n) CV_MUST_CHECK;

/* Bytes copied so far, of TOTAL; FN is called as they go (may be NULL). */
struct cv_copy_progress {
	uint64_t done, total;
	void (*fn)(void *ctx, uint64_t done, uint64_t total);
	void *ctx;
};

/*
 * Copies file SRC to the new file DST (0600, fsynced; refused if it
 * exists) and gives SRC's SHA-256 as read. DST NULL: only the checksum.
 * Symbolic links are refused. CV_ERR_NOT_FOUND, CV_ERR_EXISTS, CV_ERR_IO.
 */
cv_err cv_vault_copy_file(const char *src, const char *dst,
    uint8_t sha256[static 32], struct cv_copy_progress *pr) CV_MUST_CHECK;

/* Copies folder SRC into DST (made 0700 if absent): files and folders
 * only; anything else is refused. */
cv_err cv_vault_copy_tree(const char *src, const char *dst) CV_MUST_CHECK;

/* Removes DIR and everything under it (symbolic links not followed). */
void cv_vault_remove_tree(const char *dir);

#endif
