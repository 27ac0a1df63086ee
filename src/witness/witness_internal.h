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

/* A log's state file (state.c): the last checkpoint cosigned. */
struct witness_state {
	char path[4096];
	int fd;			/* -1 until the file exists */
	uint64_t seq;		/* of the slot last written */
	int have;		/* a checkpoint was cosigned */
	int broken;		/* a write failed: no more until restart */
	uint64_t size;
	uint8_t root[32];
};

/* Reads PATH's state (S->path set) for ORIGIN; no file: never cosigned.
 * CV_ERR_FORMAT when the file holds no valid state. */
cv_err witness_state_load(struct witness_state *s,
    const char *origin) CV_MUST_CHECK;

/* Makes (SIZE, ROOT) with its NOTE the state, durable on CV_OK (one
 * pwrite and one fdatasync; the first time, the file is made). On
 * failure the state in memory is unchanged. */
cv_err witness_state_save(struct witness_state *s, const char *note,
    size_t len, uint64_t size, const uint8_t root[static 32]) CV_MUST_CHECK;
void witness_state_close(struct witness_state *s);

#endif
