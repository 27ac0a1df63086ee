/*
 * The tamper-evident audit log: every operation on a vault is an entry,
 * durable before its data is returned; entries are the leaves of an
 * RFC 9162 Merkle tree whose roots are signed as C2SP checkpoints with
 * the vault's audit key.
 *
 *   DIR/audit/entries      u32 length || leaf bytes, appended (the truth)
 *   DIR/audit/offsets      u64 offset of each entry        (derived)
 *   DIR/audit/tree/L       hashes of complete subtrees of 2^L leaves,
 *                          32 bytes each; L = 0 holds leaf hashes (derived)
 *   DIR/audit/checkpoints  u32 length || signed note, appended
 *   DIR/audit/lock         serialises writers across processes
 *
 * Only `entries` is synced at every append (group commit); the derived
 * files are synced before each checkpoint and rebuilt from `entries` past
 * the last checkpoint after a crash, so a proof never needs more than
 * O(log n) reads.
 */
#ifndef CV_AUDIT_H
#define CV_AUDIT_H

#include <jansson.h>

#include "../base/base.h"
#include "../record/record.h"
#include "merkle.h"
#include "note.h"

struct cv_audit;

enum cv_audit_outcome {
	CV_AUDIT_ALLOWED = 1,
	CV_AUDIT_DENIED = 2,
	CV_AUDIT_ERROR = 3,
};

/* One entry. NULL strings are empty. Never record content, never keys. */
struct cv_audit_entry {
	int64_t time_us;	/* UTC microseconds; 0: now */
	enum cv_audit_outcome outcome;
	const char *action;	/* "get", "find", "load", ... */
	const char *actor;	/* CLI: the OS user; server: the principal */
	const char *cert;	/* client certificate fingerprint */
	const char *source;	/* source address */
	const char *session;
	const char *purpose;	/* case id */
	const char *reason;
	unsigned sections;	/* bit i: cv_record_sections[i] returned */
	const char *const *records;
	size_t nrecords;
};

#define CV_AUDIT_LEAF_VERSION 1
#define CV_AUDIT_MAX_LEAF 1048576

/*
 * The canonical leaf bytes of E (format in entry.c), appended to OUT.
 * CV_ERR_INVALID when a string is too long, E is too large, or its
 * outcome, time or sections are out of range: what is encoded is always
 * a valid entry (cv_audit_view).
 */
cv_err cv_audit_encode(const struct cv_audit_entry *e,
    struct cv_buf *out) CV_MUST_CHECK;

/*
 * Decodes leaf bytes into a JSON object (caller json_decref's) with the
 * fields of the entry; bytes of a string that are not valid UTF-8 show as
 * U+FFFD (the leaf keeps them exactly). CV_ERR_FORMAT when malformed
 * (exactly when cv_audit_view refuses the leaf).
 */
cv_err cv_audit_decode(const uint8_t *leaf, size_t len,
    json_t **out) CV_MUST_CHECK;

/*
 * Creates DIR/audit for a new vault. CV_ERR_EXISTS if present. DB NULL:
 * the log's files are in DIR/audit. Else the vault's PostgreSQL target
 * (postgresql://, checked as cv_store_open does): the log is there, as
 * large objects listed in a table cv_audit_files (CV_ERR_EXISTS if the
 * database has one), and DIR/audit keeps only what a repair sets aside.
 */
cv_err cv_audit_create(const char *dir, const char *db) CV_MUST_CHECK;

/*
 * Who signs the log's checkpoints: the vault audit key's public half, and
 * a function that signs with its private half (the keyring's holder: keyd,
 * or cv_core_audit_open on the command line). The log is handed this one
 * capability, never the keyring. SIGN NULL: a log that cannot sign (a
 * reader's); making a checkpoint then fails, and with PK all zero nothing
 * verifies against it.
 */
struct cv_audit_signer {
	uint8_t pk[CV_ED25519_PK];
	cv_note_sign_fn sign;
	void *ctx;
};

/*
 * Opens the log in VAULT_DIR/audit of the vault whose id (hex) is
 * VAULT_ID, its checkpoints signed by SIGNER (copied; its CTX must outlive
 * the log), repairing it after a crash: the files must agree with the
 * latest checkpoint (else CV_ERR_FORMAT: damage below it is refused,
 * never cut away); past it the derived files are rebuilt from the
 * entries, and a tail that is not a valid entry (a torn write) is cut,
 * its bytes kept in DIR/audit/torn-*, with a line on stderr and an
 * `audit.repair` entry saying so. READONLY: no repair, for
 * cv_audit_verify only. CV_ERR_NOT_FOUND without DIR/audit (fail closed:
 * callers then return nothing), CV_ERR_IO naming the file, CV_ERR_FORMAT.
 * DB: NULL, or the vault's PostgreSQL target, whose log it opens (two
 * connections, made now: one for the locked work, one for reads without
 * the lock); there a write's durability point is the COMMIT that ends
 * its lock, and CV_ERR_IO names PostgreSQL's failure.
 */
cv_err cv_audit_open(const char *vault_dir, const char *db,
    const char *vault_id,
    const struct cv_audit_signer *signer, int readonly,
    struct cv_audit **out) CV_MUST_CHECK;
void cv_audit_close(struct cv_audit *a);

/*
 * Opens now every file that reading A may need later: each tree level,
 * created empty where the log is not that tall yet (an empty level file
 * is what verify expects of it). For a process about to lose the right
 * to open files (the server's sandboxed worker). CV_ERR_IO naming the
 * file.
 */
cv_err cv_audit_preopen(struct cv_audit *a) CV_MUST_CHECK;

/*
 * Appends E and returns once it is durable (fsync), with its index in
 * *index (may be NULL). Concurrent callers share one fsync. On error the
 * entry may or may not be in the log, and the caller returns no data.
 * Makes a checkpoint if the last one is more than a second old.
 */
cv_err cv_audit_append(struct cv_audit *a, const struct cv_audit_entry *e,
    uint64_t *index) CV_MUST_CHECK;

/*
 * Called once per submitted entry, on the log's committer thread, when the
 * entry is durable (R == CV_OK, INDEX its position) or has failed (then
 * the caller returns no data). Must not block for long: later entries
 * wait behind it.
 */
typedef void cv_audit_done_fn(void *ctx, cv_err r, uint64_t index);

/*
 * cv_audit_append without waiting: E is queued for the next group commit
 * (copied; E may go at once) and DONE(CTX, ...) is called exactly once,
 * later, from a committer thread that the first call starts and
 * cv_audit_close stops after finishing the queue. Entries submitted while
 * a commit is running go out together in the next one. CV_ERR_INVALID
 * (entry too large), CV_ERR_NOMEM or CV_ERR_INTERNAL (no thread) come back
 * at once, and then DONE is not called.
 */
cv_err cv_audit_submit(struct cv_audit *a, const struct cv_audit_entry *e,
    cv_audit_done_fn *done, void *ctx) CV_MUST_CHECK;

/*
 * FN(CTX) runs on the committer thread after the DONE callbacks of each
 * group commit: for a submitter that gathers what its callbacks produce
 * (keyd sends a batch's replies as one write). Set before the first
 * cv_audit_submit.
 */
void cv_audit_on_batch(struct cv_audit *a, void (*fn)(void *), void *ctx);

/* N already encoded leaves, one after another in LEAVES, one fsync.
 * CV_ERR_INVALID (nothing written) if one is not a valid entry. */
cv_err cv_audit_append_leaves(struct cv_audit *a, const uint8_t *leaves,
    const size_t *lens, size_t n, uint64_t *first) CV_MUST_CHECK;

/* The number of entries. */
cv_err cv_audit_size(struct cv_audit *a, uint64_t *size) CV_MUST_CHECK;

/*
 * The number of entries once every entry made durable before the call is
 * in the log. On PostgreSQL a node's entries are durable as staged rows
 * before they are moved into the log (docs/scale-out.md); this moves them,
 * filling with an audit.gap entry an index whose node died before
 * committing it (after a second). Call before reading the log to answer
 * for everything that happened (scope, evidence). A handle opened
 * read-only, or on files: cv_audit_size.
 * CV_ERR_IO when the staged entries cannot be moved within 30 s.
 */
cv_err cv_audit_settle(struct cv_audit *a, uint64_t *size) CV_MUST_CHECK;

/*
 * The latest signed checkpoint note appended to OUT; a new one is made
 * first if the log grew since the last one (on demand).
 */
cv_err cv_audit_checkpoint(struct cv_audit *a,
    struct cv_buf *out) CV_MUST_CHECK;

/* The verifier key "name+keyid+base64" into OUT (256 bytes). */
cv_err cv_audit_vkey(struct cv_audit *a, char *out, size_t size)
    CV_MUST_CHECK;

/* Leaf bytes of entry INDEX appended to OUT. */
cv_err cv_audit_leaf(struct cv_audit *a, uint64_t index,
    struct cv_buf *out) CV_MUST_CHECK;

/* Stored tree node (level, index): for proofs. */
cv_err cv_audit_node(void *a, unsigned level, uint64_t index,
    uint8_t out[static CV_HASH_BYTES]);

/*
 * C2SP tlog-tiles (tiles.c): a tile is CV_AUDIT_TILE_WIDTH hashes of one
 * tree level, tiles of level L are hashes of tree level 8L; an entry
 * bundle is the same run of leaves, each as u16 length || leaf bytes.
 */
#define CV_AUDIT_TILE_HEIGHT 8
#define CV_AUDIT_TILE_WIDTH 256
#define CV_AUDIT_BUNDLE_MAX_ENTRY 65535

/*
 * The N (1 to 256) stored hashes of tree level LEVEL from index FIRST
 * (each the root of the 2^LEVEL leaves from FIRST << LEVEL), 32 bytes
 * each, appended to OUT in one read. CV_ERR_NOT_FOUND if the log holds
 * fewer (it does not check what a checkpoint covers: the caller does),
 * CV_ERR_INVALID for N out of range, CV_ERR_IO.
 */
cv_err cv_audit_hashes(struct cv_audit *a, unsigned level, uint64_t first,
    size_t n, struct cv_buf *out) CV_MUST_CHECK;

/*
 * Leaves FIRST to FIRST + N - 1 (N 1 to 256) appended to OUT as a
 * tlog-tiles entry bundle: each a big-endian u16 length and the leaf
 * bytes (which hash, with the 0x00 prefix, to the level-0 tile's hash).
 * CV_ERR_NOT_FOUND past the log; CV_ERR_LIMIT (nothing appended) when a
 * leaf is longer than CV_AUDIT_BUNDLE_MAX_ENTRY, which the format cannot
 * carry (GET /v1/audit/entries and `audit entries` still can);
 * CV_ERR_FORMAT when the files disagree (a damaged log), CV_ERR_IO.
 */
cv_err cv_audit_bundle(struct cv_audit *a, uint64_t first, size_t n,
    struct cv_buf *out) CV_MUST_CHECK;

/*
 * The stored checkpoint note of tree size SIZE appended to OUT;
 * CV_ERR_NOT_FOUND if none has that size.
 */
cv_err cv_audit_stored_checkpoint(struct cv_audit *a, uint64_t size,
    struct cv_buf *out) CV_MUST_CHECK;

/* The body of the latest stored checkpoint (size 0 if none yet). */
cv_err cv_audit_latest(struct cv_audit *a,
    struct cv_checkpoint *c) CV_MUST_CHECK;

/*
 * The latest stored checkpoint: its note appended to NOTE (nothing when
 * there is none yet: then C->size is 0) and its body in *C; made by
 * whichever process signs, read under the shared lock (a read-only
 * handle in another process sees it: the witness pusher's). Reads the
 * file's end, not the whole file, unlike cv_audit_stored_checkpoint.
 */
cv_err cv_audit_latest_note(struct cv_audit *a, struct cv_buf *note,
    struct cv_checkpoint *c) CV_MUST_CHECK;

/* An inclusion or a consistency proof, as `audit prove/consistency`
 * print them and `audit check` reads them. */
enum cv_proof_kind { CV_PROOF_INCLUSION = 1, CV_PROOF_CONSISTENCY = 2 };

struct cv_audit_proof {
	enum cv_proof_kind kind;
	uint64_t index, size1;	/* inclusion: index; consistency: size1 */
	uint64_t size;		/* the tree the proof is against (size2) */
	uint8_t leaf[CV_HASH_BYTES];			/* inclusion */
	uint8_t root1[CV_HASH_BYTES], root2[CV_HASH_BYTES];	/* consistency */
	uint8_t hash[CV_MERKLE_MAX_PROOF][CV_HASH_BYTES];
	size_t n;
};

/*
 * Inclusion proof of entry INDEX in the tree of SIZE entries; the
 * consistency proof from SIZE1 to SIZE2 with both roots. O(log n) reads.
 */
cv_err cv_audit_prove(struct cv_audit *a, uint64_t index, uint64_t size,
    struct cv_audit_proof *p) CV_MUST_CHECK;
cv_err cv_audit_consistency(struct cv_audit *a, uint64_t size1,
    uint64_t size2, struct cv_audit_proof *p) CV_MUST_CHECK;

/* P as the JSON object of the CLI (caller json_decref's). */
cv_err cv_audit_proof_json(const struct cv_audit_proof *p,
    json_t **out) CV_MUST_CHECK;
json_t *cv_audit_hash_json(const uint8_t h[static CV_HASH_BYTES]);

/* Parses proof JSON (outside input). CV_ERR_INVALID when malformed. */
cv_err cv_audit_proof_parse(const char *text, size_t len,
    struct cv_audit_proof *p) CV_MUST_CHECK;

/*
 * The outsider's check, with public material only: the checkpoint NOTE is
 * signed by VKEY, and P proves against it (with LEAF, if given, hashing to
 * the proof's leaf). CV_OK with a sentence in WHAT; CV_ERR_INVALID for
 * malformed input, CV_ERR_AUTH when something does not verify.
 */
cv_err cv_audit_check(const char *vkey, const char *note, size_t note_len,
    const struct cv_audit_proof *p, const uint8_t *leaf, size_t leaf_len,
    char *what, size_t what_size) CV_MUST_CHECK;

/* What `audit verify` found. */
struct cv_audit_report {
	uint64_t entries, checkpoints, given;
	double seconds;
	uint64_t bad_index;	/* with a failure: the first bad entry */
	char what[256];		/* with a failure: what is wrong */
	/* on success, when not empty: bytes past the latest checkpoint that
	 * are not an entry (a torn write), which the next open cuts */
	char note[256];
};

/*
 * Recomputes the tree from the entries, checks that every entry is a
 * valid one (cv_audit_view), every stored checkpoint (signature and
 * root), consistency with each of the N notes in GIVEN (older checkpoints
 * held elsewhere), and the derived files (offsets, every tree level) over
 * the part the latest stored checkpoint covers. CV_ERR_AUTH on tampering,
 * with rep->what naming it (edited, missing, reordered, truncated,
 * malformed, bad signature, rolled back, rewritten, derived file altered)
 * and rep->bad_index where there is one. A tail past the latest
 * checkpoint that is not an entry ends the verified log (rep->entries)
 * and is described in rep->note: it is what a crash leaves, and the next
 * read-write open cuts it. Holds the log's lock only to read the files'
 * sizes: writers go on meanwhile, and what they append is not verified.
 */
cv_err cv_audit_verify(struct cv_audit *a, const char *const *given,
    const size_t *given_len, size_t n,
    struct cv_audit_report *rep) CV_MUST_CHECK;

/*
 * Zero-copy reading of leaves, for scans over the whole log (breach
 * scoping): no allocation, no JSON, pointers into the leaf itself.
 */

/* The string fields of a leaf, in their order in format 1. */
enum cv_audit_field {
	CV_AUDIT_ACTION = 0,
	CV_AUDIT_ACTOR,
	CV_AUDIT_CERT,
	CV_AUDIT_SOURCE,
	CV_AUDIT_SESSION,
	CV_AUDIT_PURPOSE,
	CV_AUDIT_REASON,
	CV_AUDIT_NFIELDS
};

/* LEN bytes at P, inside the leaf; not NUL-terminated. */
struct cv_audit_str {
	const char *p;
	size_t len;
};

/* One leaf, viewed in place: valid while the leaf bytes are. */
struct cv_audit_view {
	uint64_t time_us;
	enum cv_audit_outcome outcome;
	unsigned sections;
	struct cv_audit_str f[CV_AUDIT_NFIELDS];	/* by enum cv_audit_field */
	uint32_t nrecords;
	const uint8_t *records;	/* nrecords × (u16 length || id bytes) */
	size_t records_len;
};

/*
 * Checks LEAF (LEN bytes) as cv_audit_decode does, every length against
 * the bounds, and fills *V with pointers into it. Accepts exactly what
 * cv_audit_decode accepts: this is what a valid entry is (strings are
 * not checked for valid UTF-8; callers that print them check). A frame
 * of the log that this refuses is never signed. CV_ERR_FORMAT when malformed
 * (*V is then unspecified). Allocates nothing, never reads outside LEAF.
 */
cv_err cv_audit_view(const uint8_t *leaf, size_t len,
    struct cv_audit_view *v) CV_MUST_CHECK;

/*
 * Only string field F of LEAF, walking the fields before it with the same
 * bounds checks (no check of what follows it): the cheap first test of a
 * scan. CV_ERR_FORMAT when the leaf is malformed up to F.
 */
cv_err cv_audit_view_field(const uint8_t *leaf, size_t len,
    enum cv_audit_field f, struct cv_audit_str *out) CV_MUST_CHECK;

/*
 * The next record id of V from *POS (start at 0): 1 with *OUT set and
 * *POS advanced, 0 after the last one. V must come from cv_audit_view.
 */
int cv_audit_view_record(const struct cv_audit_view *v, size_t *pos,
    struct cv_audit_str *out);

/*
 * Called by cv_audit_scan for each entry, in index order; LEAF is valid
 * only during the call. Anything but CV_OK stops the scan and is what
 * cv_audit_scan returns.
 */
typedef cv_err cv_audit_scan_fn(void *ctx, uint64_t index,
    const uint8_t *leaf, size_t len);

/*
 * Calls FN(CTX, ...) for entries FROM to TO - 1 (TO past the end: to the
 * end of the log as it is when the scan starts; entries appended later
 * are not seen). Reads the entries file sequentially in large chunks,
 * with the log's lock held only to fix where the scan ends: that prefix
 * is final, so writers never wait for a scan. *SCANNED (may be NULL) gets the
 * number of entries passed to FN. CV_ERR_FORMAT when the frames disagree
 * with the offsets (a damaged log: run cv_audit_verify), CV_ERR_IO,
 * CV_ERR_NOMEM, or FN's error.
 */
cv_err cv_audit_scan(struct cv_audit *a, uint64_t from, uint64_t to,
    cv_audit_scan_fn *fn, void *ctx, uint64_t *scanned) CV_MUST_CHECK;

/*
 * Copies the log into the new folder DEST (the backup's DIR/audit) up to
 * a signed checkpoint made now, of every entry appended before the call:
 * the copy opens as a log whose last checkpoint covers all of it. Others
 * may go on appending meanwhile (only the sizes are read under the lock).
 * *SIZE gets the entries copied; PROGRESS(ctx, bytes done, bytes in all).
 * CV_ERR_IO, CV_ERR_EXISTS (DEST exists).
 */
cv_err cv_audit_copy(struct cv_audit *a, const char *dest,
    void (*progress)(void *ctx, uint64_t done, uint64_t total), void *ctx,
    uint64_t *size) CV_MUST_CHECK;

#endif
