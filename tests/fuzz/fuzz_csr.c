/*
 * Certificate requests arrive from anyone who holds an enrolment code (or
 * none: POST /v1/enrol needs no client certificate). The check must never
 * crash, and what it accepts is a request GnuTLS parses and whose key it
 * can sign for.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/x509.h>

#include "auth/ca.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	gnutls_x509_crq_t crq;
	gnutls_datum_t d = { (unsigned char *)(uintptr_t)data,
	    (unsigned)size };

	if (cv_ca_csr_check((const char *)data, size) != CV_OK)
		return 0;
	/* Accepted: bounded, and really a self-signed request. */
	if (size == 0 || size > CV_CSR_MAX ||
	    gnutls_x509_crq_init(&crq) < 0)
		abort();
	if (gnutls_x509_crq_import(crq, &d, GNUTLS_X509_FMT_PEM) < 0 ||
	    gnutls_x509_crq_verify(crq, 0) < 0)
		abort();
	gnutls_x509_crq_deinit(crq);
	return 0;
}
