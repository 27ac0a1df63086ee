/*
 * Project-wide error codes. Every fallible function returns a cv_err;
 * outputs travel through parameters.
 */
#ifndef CV_BASE_ERR_H
#define CV_BASE_ERR_H

#include <stddef.h>

#define CV_MUST_CHECK __attribute__((warn_unused_result))
#define CV_PRINTF(f, a) __attribute__((format(printf, f, a)))

typedef enum {
	CV_OK = 0,
	CV_ERR_INTERNAL,	/* a bug: an invariant did not hold */
	CV_ERR_NOMEM,
	CV_ERR_INVALID,		/* bad argument or bad outside input */
	CV_ERR_IO,		/* a file could not be read or written */
	CV_ERR_NOT_FOUND,
	CV_ERR_EXISTS,
	CV_ERR_SHREDDED,	/* the record's data key was destroyed */
	CV_ERR_AUTH,		/* ciphertext failed authentication */
	CV_ERR_HSM,		/* PKCS#11 module missing or failing */
	CV_ERR_HSM_PIN,		/* the token refused the PIN */
	CV_ERR_HSM_TOKEN,	/* no token with that label */
	CV_ERR_HSM_KEY,		/* a root key is missing from the token */
	CV_ERR_STORE,		/* the database failed */
	CV_ERR_FORMAT,		/* persisted bytes are malformed */
	CV_ERR_CONFIG,		/* vault configuration is missing or bad */
	CV_ERR_CRYPTO,		/* the crypto library failed */
	CV_ERR_INTERRUPTED,
	CV_ERR_LIMIT,		/* a rate or size limit was reached */
	CV_ERR_HSM_BOUND,	/* the token's keys are another vault's */
	CV_ERR_QUORUM,		/* no witness quorum: reads refused */
	CV_ERR__COUNT
} cv_err;

/* A static, human-readable name for r. Never NULL. */
const char *cv_strerror(cv_err r);

/*
 * A per-thread detail message for the last failure, set where the decision
 * was made (which file, which field, which token). Callers print it after
 * cv_strerror(). It never holds secrets or record content: callers of
 * cv_err_set must not pass them. Returns "" when nothing was set.
 */
void cv_err_set(const char *fmt, ...) CV_PRINTF(1, 2);
void cv_err_clear(void);
const char *cv_err_detail(void);

/* Sets the detail and returns r, for "return cv_fail(CV_ERR_X, ...)". */
cv_err cv_fail(cv_err r, const char *fmt, ...) CV_PRINTF(2, 3);

#endif
