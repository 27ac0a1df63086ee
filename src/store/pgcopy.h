/*
 * PostgreSQL's binary COPY format (the "PGCOPY" file format of the COPY
 * reference page), written into a buffer: a 19-byte header, one tuple per
 * row (a 16-bit field count, then each field as a 32-bit length, -1 for
 * NULL, and its bytes), a 16-bit -1 trailer; every integer big-endian.
 * Values as the driver's bulk rows give them (db.h): int64 as int8, text
 * as its bytes (no NUL), blobs as bytea. Private to the store; the
 * PostgreSQL driver sends the buffer with PQputCopyData (db_pg_copy.c).
 * No libpq here, so that the unit test checks the bytes alone.
 */
#ifndef CV_STORE_PGCOPY_H
#define CV_STORE_PGCOPY_H

#include <stddef.h>
#include <stdint.h>

#include "../base/base.h"
#include "db.h"

/* The header's bytes: signature, flags (none), extension length (0). */
#define PGCOPY_HEADER_BYTES 19
/* A tuple's field count is a signed 16-bit integer. */
#define PGCOPY_MAX_FIELDS INT16_MAX
/* A field's length is a signed 32-bit integer (the server's own limit,
 * 1 GB a value, is lower and is the server's to enforce). */
#define PGCOPY_MAX_FIELD INT32_MAX

/* Each appends to B (a zeroed cv_buf, freed with cv_buf_free, which
 * wipes it). The header: CV_ERR_NOMEM. */
cv_err pgcopy_header(struct cv_buf *b);
/*
 * Appends one tuple of the N values V. CV_ERR_LIMIT when N or a value's
 * length does not fit the format, CV_ERR_INVALID for a value of no known
 * type or a blob of bytes without a pointer, CV_ERR_NOMEM; on failure
 * the buffer is as it was.
 */
cv_err pgcopy_row(struct cv_buf *b, const struct cv_db_value *v, size_t n);
/* The trailer. CV_ERR_NOMEM. */
cv_err pgcopy_trailer(struct cv_buf *b);

#endif
