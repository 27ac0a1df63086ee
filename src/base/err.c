#include <stdarg.h>
#include <stdio.h>

#include "err.h"

static const char *const names[CV_ERR__COUNT] = {
	[CV_OK] = "success",
	[CV_ERR_INTERNAL] = "internal error",
	[CV_ERR_NOMEM] = "out of memory",
	[CV_ERR_INVALID] = "invalid input",
	[CV_ERR_IO] = "I/O error",
	[CV_ERR_NOT_FOUND] = "not found",
	[CV_ERR_EXISTS] = "already exists",
	[CV_ERR_SHREDDED] = "record shredded (its data key was destroyed)",
	[CV_ERR_AUTH] = "authentication failed (data tampered or moved)",
	[CV_ERR_HSM] = "HSM unavailable",
	[CV_ERR_HSM_PIN] = "HSM refused the PIN",
	[CV_ERR_HSM_TOKEN] = "HSM token not found",
	[CV_ERR_HSM_KEY] = "root key not found in the HSM token",
	[CV_ERR_STORE] = "database error",
	[CV_ERR_FORMAT] = "malformed stored data",
	[CV_ERR_CONFIG] = "bad vault configuration",
	[CV_ERR_CRYPTO] = "cryptography failure",
	[CV_ERR_INTERRUPTED] = "interrupted",
	[CV_ERR_LIMIT] = "limit reached",
	[CV_ERR_HSM_BOUND] = "the HSM token's keys belong to another vault",
	[CV_ERR_QUORUM] = "no witness quorum: reads refused by policy",
};

static _Thread_local char detail[512];

const char *
cv_strerror(cv_err r)
{
	if ((unsigned)r >= CV_ERR__COUNT || names[r] == NULL)
		return "unknown error";
	return names[r];
}

static void
vset(const char *fmt, va_list ap)
{
	vsnprintf(detail, sizeof detail, fmt, ap);
}

void
cv_err_set(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(fmt, ap);
	va_end(ap);
}

void
cv_err_clear(void)
{
	detail[0] = '\0';
}

const char *
cv_err_detail(void)
{
	return detail;
}

cv_err
cv_fail(cv_err r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(fmt, ap);
	va_end(ap);
	return r;
}
