/*
 * A transparency-log witness (c2sp.org/tlog-witness): it keeps, for each
 * log it is configured to witness (by origin and the log's Ed25519
 * signed-note key), the latest checkpoint it cosigned, and cosigns a new
 * checkpoint only when a consistency proof shows it extends that one.
 * Its cosignatures are c2sp.org/tlog-cosignature "cosignature/v1"
 * (timestamped Ed25519, signature type 0x04).
 *
 * A witness holds no vault data: its folder (WDIR) holds its own key,
 * its name, the logs it witnesses and one state file per log. It sits
 * beside the audit module (whose note and Merkle code it uses), never
 * above the vault.
 *
 * Folder layout (all written atomically, the folder 0700):
 *   witness.conf   "name NAME\n"
 *   witness.key    "CVWK" 0x01 || 32-byte Ed25519 seed      (0600)
 *   logs           one "VKEY ORIGIN\n" line per trusted log key
 *   state/H        the last cosigned checkpoint note, in two slots written
 *                  in turn (state.c), H = hex SHA-256(origin)[:16]
 *   lock           flock'd by the one server that may use the folder
 */
#ifndef CV_WITNESS_H
#define CV_WITNESS_H

#include "../base/base.h"

#define CV_WITNESS_PK 32
#define CV_WITNESS_SIG 64
/* The spec: "The client MUST NOT send more than 63 consistency proof
 * lines." */
#define CV_WITNESS_MAX_PROOF 63
/* Bounds a request: the old size line, 63 proof lines of 45 bytes, the
 * blank line and a note of at most CV_NOTE_MAX_BYTES (16 KiB). */
#define CV_WITNESS_MAX_BODY (16384 + 64 * 46 + 32)
/* A cosignature line: "— " NAME " " base64(4 + 8 + 64) "\n". */
#define CV_WITNESS_LINE_MAX (4 + 128 + 1 + 104 + 2)
/* A vkey: NAME "+" 8 hex "+" base64(0x04 || pk). */
#define CV_WITNESS_VKEY_MAX 200

struct cv_witness;

/*
 * Creates the witness folder DIR (new, or an empty folder; made 0700)
 * with a new Ed25519 key named NAME (a signed-note key name: no spaces
 * or '+'). Writes its verifier key (type 0x04) into VKEY (SIZE bytes,
 * CV_WITNESS_VKEY_MAX is enough). CV_ERR_EXISTS when DIR already holds
 * a witness or other files, CV_ERR_INVALID for a bad name, CV_ERR_IO.
 */
cv_err cv_witness_init(const char *dir, const char *name, char *vkey,
    size_t size) CV_MUST_CHECK;

/*
 * Adds a log to witness: ORIGIN (its checkpoints' first line) whose
 * checkpoints are signed by the Ed25519 signed-note key VKEY (type
 * 0x01, as `clearvault audit pubkey` prints it). An origin may have
 * several keys (one call each); the same (origin, key) twice is
 * CV_ERR_EXISTS. A running server reads the list at its start.
 */
cv_err cv_witness_add_log(const char *dir, const char *origin,
    const char *vkey) CV_MUST_CHECK;

/*
 * Opens the witness in DIR: its key (into sodium_malloc memory, kept
 * PROT_NONE between signatures), its logs and their states. With LOCK,
 * takes DIR/lock (CV_ERR_EXISTS when another server holds it): one
 * process at a time may cosign, or two could each accept a different
 * checkpoint of the same size. Free with cv_witness_free.
 */
cv_err cv_witness_open(const char *dir, int lock,
    struct cv_witness **out) CV_MUST_CHECK;
void cv_witness_free(struct cv_witness *w);

/* The witness's name and verifier key (CV_WITNESS_VKEY_MAX bytes). */
const char *cv_witness_name(const struct cv_witness *w);
cv_err cv_witness_vkey(const struct cv_witness *w, char *out,
    size_t size) CV_MUST_CHECK;

/* A parsed add-checkpoint request body; NOTE points into the body. */
struct cv_witness_req {
	uint64_t old;
	uint8_t proof[CV_WITNESS_MAX_PROOF][32];
	size_t n;
	const char *note;
	size_t note_len;
};

/*
 * Parses an add-checkpoint body: "old N\n", at most 63 base64 hash
 * lines, "\n", then the checkpoint note (not checked here). Strict: no
 * leading zeroes, no '\r', no empty proof hash. CV_ERR_INVALID with a
 * detail when malformed (HTTP 400).
 */
cv_err cv_witness_req_parse(const char *body, size_t len,
    struct cv_witness_req *req) CV_MUST_CHECK;

/*
 * Handles one add-checkpoint request body (BODY, LEN bytes) as the spec
 * says, in this order: 400 malformed, 404 unknown origin, 403 no valid
 * signature by a trusted key, 400 old size above the checkpoint's, 409
 * old size not the size it last cosigned (body "SIZE\n", content type
 * text/x.tlog.size), 409 same size with another root, 422 bad
 * consistency proof; then the new state is persisted (fsync'd) and the
 * reply is 200 with one cosignature line. *STATUS gets the HTTP status,
 * REPLY the body, *CTYPE its content type (static). The check and the
 * update are one step per origin (a mutex): the spec's race where an
 * older request rolls back a newer one cannot happen.
 * Returns CV_OK whenever a reply was made (including 4xx); an error
 * (CV_ERR_IO: the state could not be persisted, nothing cosigned) is
 * a 500.
 */
cv_err cv_witness_add_checkpoint(struct cv_witness *w, const char *body,
    size_t len, int *status, const char **ctype,
    struct cv_buf *reply) CV_MUST_CHECK;

/*
 * The latest cosigned state of ORIGIN: *SIZE and ROOT (32 bytes), or
 * CV_ERR_NOT_FOUND when it never cosigned one (or the origin is
 * unknown).
 */
cv_err cv_witness_latest(struct cv_witness *w, const char *origin,
    uint64_t *size, uint8_t root[static 32]) CV_MUST_CHECK;

/* Runs the HTTP server on LISTEN ("ADDR:PORT", port 0 picks one) until
 * SIGINT/SIGTERM; READY(CTX, port) once it listens. */
cv_err cv_witness_serve(struct cv_witness *w, const char *listen,
    unsigned threads, void (*ready)(void *ctx, unsigned port),
    void *ctx) CV_MUST_CHECK;

/* --- cosignature/v1, for the witness and for those who check it --- */

/* SHA-256(NAME || "\n" || 0x04 || PK)[:4], big-endian. */
uint32_t cv_witness_keyid(const char *name,
    const uint8_t pk[static CV_WITNESS_PK]);

/* NAME "+" keyid "+" base64(0x04 || PK) into OUT. */
cv_err cv_witness_vkey_format(const char *name,
    const uint8_t pk[static CV_WITNESS_PK], char *out,
    size_t size) CV_MUST_CHECK;

/*
 * Parses a witness verifier key (type 0x04); the key id must match.
 * NAME gets at most 128 bytes and a NUL. CV_ERR_INVALID when malformed.
 */
cv_err cv_witness_vkey_parse(const char *vkey, char name[129],
    uint8_t pk[static CV_WITNESS_PK]) CV_MUST_CHECK;

/*
 * The signed message of a cosignature/v1: "cosignature/v1\ntime T\n"
 * followed by the checkpoint note's text TEXT (LEN bytes, ending in
 * '\n', no signature lines). Appended to OUT.
 */
cv_err cv_witness_cosig_message(const char *text, size_t len, uint64_t ts,
    struct cv_buf *out) CV_MUST_CHECK;

/*
 * Verifies cosignature lines for the vault side and `audit verify
 * --witness`: NOTE (LEN bytes) is a checkpoint note, with the witness's
 * reply lines appended to its signatures or not. Looks for lines by
 * VKEY's name and key id, and checks each against the note's text.
 * CV_OK with *TS (the newest such line's timestamp) when at least one
 * is there and all of them verify; CV_ERR_NOT_FOUND when none is there;
 * CV_ERR_AUTH when one does not verify; CV_ERR_INVALID when NOTE or
 * VKEY is malformed. Timestamps in the future are not refused here
 * (the spec leaves that to the verifier: compare *TS with the clock).
 */
cv_err cv_witness_cosig_verify(const char *vkey, const char *note,
    size_t len, uint64_t *ts) CV_MUST_CHECK;

/* --- the vault's side: pushing to witnesses (push.c, cosigned.c) --- */

/* The most witness keys a quorum is counted over. */
#define CV_WITNESS_QUORUM_KEYS 16
/* The most a witness's reply may be, headers included. */
#define CV_WITNESS_REPLY_MAX 8192

/*
 * POSTs BODY (LEN bytes) to http://HOST:PORT PATH over a new connection
 * (HTTP/1.1, Content-Length, Connection: close), all of it (the name
 * lookup aside: the resolver's own timeouts) within TIMEOUT_MS. *STATUS
 * gets the reply's status, REPLY its body (at most CV_WITNESS_REPLY_MAX
 * bytes with the headers, else CV_ERR_INVALID). CV_ERR_IO: no connection,
 * a timeout, a reset; CV_ERR_INVALID: not an HTTP reply.
 */
cv_err cv_witness_post(const char *host, const char *port, const char *path,
    const void *body, size_t len, unsigned timeout_ms, int *status,
    struct cv_buf *reply) CV_MUST_CHECK;

/*
 * A witness's HTTP/1.x reply IN (LEN bytes, outside input; need not be
 * NUL-terminated): *STATUS, and where its body is (*BODY_OFF,
 * *BODY_LEN: the Content-Length when given, which must fit, else the
 * rest). CV_ERR_INVALID when it is no HTTP reply.
 */
cv_err cv_witness_reply_parse(const char *in, size_t len, int *status,
    size_t *body_off, size_t *body_len) CV_MUST_CHECK;

/* An add-checkpoint body: "old OLD\n", the N proof hashes in base64 one a
 * line, "\n", the checkpoint NOTE (LEN bytes). Appended to OUT. */
cv_err cv_witness_req_format(uint64_t old, const uint8_t (*proof)[32],
    size_t n, const char *note, size_t len, struct cv_buf *out)
    CV_MUST_CHECK;

/* The body of a 409 ("SIZE\n", text/x.tlog.size). CV_ERR_INVALID. */
cv_err cv_witness_size_parse(const char *body, size_t len,
    uint64_t *size) CV_MUST_CHECK;

/*
 * How many of the witnesses VKEYS (N, at most CV_WITNESS_QUORUM_KEYS;
 * one vote per witness name) cosigned NOTE with a signature that
 * verifies: *VALID. WHY (WHYSIZE bytes) names the others and why
 * ("missing", "does not verify"). CV_ERR_INVALID for a malformed key or
 * note.
 */
cv_err cv_witness_quorum(const char *note, size_t len,
    const char *const *vkeys, size_t n, size_t *valid, char *why,
    size_t whysize) CV_MUST_CHECK;

/*
 * The vault's record of its witnesses in VAULT_DIR/witness/ (cosigned.c):
 * per witness (by VKEY) the size it last cosigned (0: never), and the
 * newest cosigned checkpoint (its note and cosignature lines). Saved
 * atomically; the folder is made 0700 on the first save.
 */
cv_err cv_witness_sent_load(const char *vault_dir, const char *vkey,
    uint64_t *size) CV_MUST_CHECK;
cv_err cv_witness_sent_save(const char *vault_dir, const char *vkey,
    uint64_t size) CV_MUST_CHECK;
cv_err cv_witness_cosigned_save(const char *vault_dir, const char *note,
    size_t len) CV_MUST_CHECK;
/* CV_ERR_NOT_FOUND when there is none; caller frees *OUT. */
cv_err cv_witness_cosigned_load(const char *vault_dir, char **out,
    size_t *len) CV_MUST_CHECK;

/*
 * The newest cosigned checkpoint in VAULT_DIR/witness/checkpoint,
 * appended to OUT after checks against the log A: the log's signature
 * (A's key), a root that is A's tree's at that size (a file from another
 * log or a fork is refused), nothing after the signatures but signature
 * lines. The cosignatures themselves are the reader's to verify.
 * CV_ERR_NOT_FOUND when there is none, CV_ERR_FORMAT when it does not
 * check out.
 */
struct cv_audit;
cv_err cv_witness_cosigned_get(const char *vault_dir, struct cv_audit *a,
    struct cv_buf *out) CV_MUST_CHECK;

/*
 * NOTE holds a checkpoint note as the log signed it: when
 * VAULT_DIR/witness/checkpoint holds that same note, byte for byte,
 * followed by cosignature lines, those lines are appended to NOTE (one
 * signed note, several signatures). Otherwise NOTE is left as it is
 * (CV_OK): a missing or odd file never keeps the log's checkpoint from
 * being served. CV_ERR_NOMEM only.
 */
cv_err cv_witness_attach(const char *vault_dir,
    struct cv_buf *note) CV_MUST_CHECK;

#endif
