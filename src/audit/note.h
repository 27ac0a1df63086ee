/*
 * C2SP signed notes (c2sp.org/signed-note) with Ed25519 signatures, and
 * the tlog-checkpoint body they carry (c2sp.org/tlog-checkpoint), so that
 * existing transparency-log witnesses and verifiers can check our log.
 *
 * Private to the audit module and the witness (src/witness: its
 * cosignature keys are signed-note keys of another type); tests and fuzz
 * targets include it.
 */
#ifndef CV_AUDIT_NOTE_H
#define CV_AUDIT_NOTE_H

#include "../base/base.h"
#include "merkle.h"

#define CV_NOTE_NAME_MAX 128
#define CV_NOTE_MAX_BYTES 16384
#define CV_ED25519_PK 32
#define CV_ED25519_SIG 64

/* Signed-note key types (the byte before the key): the log's Ed25519
 * keys, and witnesses' timestamped cosignature/v1 keys. */
#define CV_NOTE_ALG_ED25519 0x01
#define CV_NOTE_ALG_COSIG_V1 0x04

/* A key name: 1 to CV_NOTE_NAME_MAX bytes, no space, '+' or control. */
int cv_note_valid_name(const char *s, size_t n);

/* Key ID: the first 4 bytes of SHA-256(name || "\n" || ALG || pk); the
 * _alg forms take the type, the others are Ed25519's (0x01). */
uint32_t cv_note_keyid(const char *name,
    const uint8_t pk[static CV_ED25519_PK]);
uint32_t cv_note_keyid_alg(const char *name, uint8_t alg,
    const uint8_t pk[static CV_ED25519_PK]);
cv_err cv_note_vkey_format_alg(const char *name, uint8_t alg,
    const uint8_t pk[static CV_ED25519_PK], char *out,
    size_t size) CV_MUST_CHECK;
/* As cv_note_vkey_parse, for a key of type ALG (another type: refused). */
cv_err cv_note_vkey_parse_alg(const char *s, uint8_t alg,
    char name[CV_NOTE_NAME_MAX + 1],
    uint8_t pk[static CV_ED25519_PK]) CV_MUST_CHECK;

/* "name+keyid(8 hex)+base64(0x01 || pk)" into OUT (at least 256 bytes). */
cv_err cv_note_vkey_format(const char *name,
    const uint8_t pk[static CV_ED25519_PK], char *out,
    size_t size) CV_MUST_CHECK;

/*
 * Parses a verifier key. CV_ERR_INVALID with a detail when malformed: bad
 * name, key id not matching the key, unknown algorithm, bad base64.
 */
cv_err cv_note_vkey_parse(const char *s, char name[CV_NOTE_NAME_MAX + 1],
    uint8_t pk[static CV_ED25519_PK]) CV_MUST_CHECK;

/* A signer: signs MSG into SIG with the key whose public half is known. */
typedef cv_err (*cv_note_sign_fn)(void *ctx, const uint8_t *msg, size_t len,
    uint8_t sig[static CV_ED25519_SIG]);

/*
 * The signed note of TEXT (which must end in '\n'): TEXT, a blank line and
 * one signature line by NAME. Appended to OUT.
 */
cv_err cv_note_sign(const char *text, size_t len, const char *name,
    const uint8_t pk[static CV_ED25519_PK], cv_note_sign_fn sign, void *ctx,
    struct cv_buf *out) CV_MUST_CHECK;

/*
 * Checks that NOTE (LEN bytes) is a well-formed signed note with a valid
 * signature by key (NAME, PK); other signers' lines are ignored. *text_len
 * gets the length of the signed text. CV_ERR_INVALID when malformed,
 * CV_ERR_AUTH when no valid signature by that key.
 */
cv_err cv_note_verify(const char *note, size_t len, const char *name,
    const uint8_t pk[static CV_ED25519_PK], size_t *text_len) CV_MUST_CHECK;

/* A checkpoint body: origin, tree size, root. */
struct cv_checkpoint {
	char origin[CV_NOTE_NAME_MAX + 1];
	uint64_t size;
	uint8_t root[CV_HASH_BYTES];
};

cv_err cv_checkpoint_format(const struct cv_checkpoint *c,
    struct cv_buf *out) CV_MUST_CHECK;

/*
 * Parses the checkpoint body at the start of a note's text (extension
 * lines after the root are allowed and ignored). CV_ERR_INVALID when
 * malformed.
 */
cv_err cv_checkpoint_parse(const char *text, size_t len,
    struct cv_checkpoint *c) CV_MUST_CHECK;

#endif
