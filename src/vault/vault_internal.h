/* Private to the vault module. */
#ifndef CV_VAULT_INTERNAL_H
#define CV_VAULT_INTERNAL_H

#include <jansson.h>

#include "../keys/keys.h"
#include "../record/record.h"
#include "../store/store.h"
#include "vault.h"
#include "vault_keys.h"

/*
 * Section envelope, format 1 (the records.body column). Big-endian.
 *
 *   u8 format=1 | u8 count | nonce[24] | count × ( u8 section | u32 len |
 *   box[len] )
 *
 * section is the 1-based index into cv_record_sections, strictly
 * increasing; box = XChaCha20-Poly1305 ciphertext || tag(16) of the
 * section's JSON under the record's data key, with nonce = the record
 * nonce with its last byte XORed with the section id (each data key seals
 * one body only, so nonces never repeat under a key) and associated data
 *   "cv-sec-v1" | u8 idlen | id | u8 section | u32 version
 * so that a box moved to another record, section or version fails.
 */
#define ENV_FORMAT 1
#define ENV_HEADER (2 + 24)
#define ENV_BOX_MIN 16
#define ENV_MAX_SECTION_BYTES (1u << 20)

struct env_section {
	uint8_t section;	/* 1-based */
	const uint8_t *box;
	size_t len;
};

/* Structure only, no crypto. CV_ERR_FORMAT with a detail. */
cv_err env_parse(const uint8_t *body, size_t len,
    struct env_section out[static CV_RECORD_NSECTIONS],
    size_t *n) CV_MUST_CHECK;

/*
 * Seals the sections of TEXT at SEC (len 0: absent) into *out (appended).
 * DEK must be fresh for this call: the boxes' nonces are one random nonce
 * varied by section id, unique only under a key used once.
 */
cv_err env_seal(const uint8_t dek[static CV_DEK_BYTES], const char *rid,
    uint32_t version, const char *text,
    const struct cv_record_span sec[CV_RECORD_NSECTIONS],
    struct cv_buf *out) CV_MUST_CHECK;

/*
 * Opens the sections in MASK (bit i = section index i) and appends each to
 * OUT as `,"name":JSON` in schema order; *present gets the mask of those
 * found. CV_ERR_AUTH when any box fails authentication: OUT is then back
 * at its old length, the bytes past it wiped.
 */
cv_err env_open(const uint8_t dek[static CV_DEK_BYTES], const char *rid,
    uint32_t version, const uint8_t *body, size_t len, unsigned mask,
    struct cv_buf *out, unsigned *present) CV_MUST_CHECK;

struct cv_vault {
	char dir[1024];
	struct cv_config cfg;
	struct shared_keys *sk;
	struct cv_store *store;
	cv_vault_canary_fn *canary_fn;	/* store-only handles */
	void *canary_ctx;
	int lock_fd;	/* DIR/load.lock while this handle holds it, or -1 */
};

struct shared_keys {
	struct cv_keys *k;
	int refs;	/* atomic */
};

/*
 * The canary list as it stands, appended to LIST (one id a line), *n ids.
 * Strict (LENIENT 0) it fails as cv_vault_canaries does. Lenient (a
 * replant) a list that is missing or does not open counts as empty and
 * ids without a record are left out, counted in *dropped. *stored: the
 * list is a row of the store (not none, nor a file of an older vault).
 */
cv_err vault_canaries_read(struct cv_vault *v, int lenient,
    struct cv_buf *list, size_t *n, size_t *dropped,
    int *stored) CV_MUST_CHECK;
/* Replaces the list with LIST, in the caller's write transaction. */
cv_err vault_canaries_write(struct cv_vault *v,
    const struct cv_buf *list) CV_MUST_CHECK;
/* After the list went into the store: the file of an older vault goes. */
void vault_canaries_file_drop(struct cv_vault *v);

/*
 * DIR/load.lock: one load (or rotation) at a time, across processes;
 * held until the load's outcome is on the log. Waits up to WAIT seconds,
 * then CV_ERR_LIMIT. The lock goes with the process, however it ends.
 */
#define CV_LOAD_LOCK_FILE "load.lock"
cv_err vault_lock(struct cv_vault *v, double wait) CV_MUST_CHECK;
void vault_unlock(struct cv_vault *v);
/* cv_vault_loads_settle's work, with the lock held. */
cv_err vault_settle(struct cv_vault *v, cv_load_audit_fn *fn,
    void *ctx) CV_MUST_CHECK;
/* Removes what unfinished load ID wrote, in short transactions, and
 * marks it void. */
cv_err vault_load_discard(struct cv_vault *v, int64_t id) CV_MUST_CHECK;
/* A new canary record appended to TEXT (one JSON line). */
cv_err vault_canary_make(struct cv_buf *text) CV_MUST_CHECK;
/*
 * In the last transaction of load LOAD: the canary list (read again,
 * inside the transaction that replaces it; leniently for a REPLANT) with
 * PLANTED (ids, one a line) added. Nothing in vault.db may tell canaries
 * from records (issue 17): when the load made new versions of VERSIONS
 * records, each listed canary gets one as likely as a record did, and
 * MOVED (canaries written after the load's last record) trade places
 * with random rows of the load. *DROPPED: listed ids without a record.
 */
cv_err vault_canaries_commit(struct cv_vault *v, int64_t load, int replant,
    const struct cv_buf *planted, const struct cv_buf *moved,
    uint64_t versions, size_t *dropped) CV_MUST_CHECK;

/*
 * Record ID decrypted onto the end of OUT as loaded ({"id":..., then the
 * sections of MASK, without the closing brace), its version in *VERSION,
 * the sections found in *PRESENT. CV_ERR_NOT_FOUND, CV_ERR_SHREDDED,
 * CV_ERR_AUTH; OUT as it was on failure.
 */
cv_err vault_text(struct cv_vault *v, const char *id, unsigned mask,
    struct cv_buf *out, uint32_t *version, unsigned *present) CV_MUST_CHECK;

/* The two blind indexes of a scanned record. */
cv_err vault_bidx(struct cv_keys *k, const struct cv_record_fields *f,
    uint8_t ssn_bi[static CV_BIDX_BYTES],
    uint8_t name_bi[static CV_BIDX_BYTES]) CV_MUST_CHECK;

/*
 * A new data key for F's record; its sections of TEXT sealed at VERSION
 * into BODY (reset first); P filled for cv_store_put (blind indexes
 * aside), pointing into BODY.
 */
cv_err vault_seal(struct cv_keys *k, const struct cv_record_fields *f,
    const char *text, uint32_t version, struct cv_store_put *p,
    struct cv_buf *body) CV_MUST_CHECK;

/*
 * In a write transaction of V's store: the record F scanned from TEXT
 * stored as cv_vault_put stores it (a new record, or with MUST_EXIST a new
 * version, the one it replaces kept); *VERSION as stored.
 */
cv_err vault_put_scanned(struct cv_vault *v, const struct cv_record_fields *f,
    const char *text, int must_exist, uint32_t *version) CV_MUST_CHECK;

#endif
