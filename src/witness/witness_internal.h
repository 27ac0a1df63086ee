/* Private to the witness module. */
#ifndef CV_WITNESS_INTERNAL_H
#define CV_WITNESS_INTERNAL_H

#include "witness.h"

/* A signed-note key name (also: the witness's own name). */
int witness_valid_name(const char *s);

/* The length of a signed note's text (through the '\n' before the last
 * blank line); 0 when the note has no blank line. */
size_t witness_note_text_len(const char *note, size_t len);

/* Appends "— NAME base64(keyid || ts || sig)\n" to OUT. */
cv_err witness_cosig_line(const char *name,
    const uint8_t pk[static CV_WITNESS_PK],
    const uint8_t sig[static CV_WITNESS_SIG], uint64_t ts,
    struct cv_buf *out) CV_MUST_CHECK;

#endif
