/*
 * The server's certificates, checked before it listens: a server started
 * with a damaged one would fail every handshake without a word.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

#include "../keys/keys.h"
#include "../base/base.h"
#include "serve.h"

/* 1 if the big-endian integer D is the 32 bytes at P: GnuTLS gives a
 * coordinate with a leading zero added (top bit set), or with its own
 * leading zeros dropped (NO_LZ). */
static int
coord_is(const gnutls_datum_t *d, const uint8_t *p)
{
	size_t i, lead = 0;

	while (lead < d->size && d->data[lead] == 0)
		lead++;
	if (d->size - lead > 32)
		return 0;
	for (i = 0; i < 32 - (d->size - lead); i++)
		if (p[i] != 0)
			return 0;
	return memcmp(d->data + lead, p + i, d->size - lead) == 0;
}

/* 1 if certificate CRT's key is the P-256 point PT. */
static int
cert_key_is(gnutls_x509_crt_t crt, const uint8_t pt[static CV_EC_POINT_BYTES])
{
	gnutls_pubkey_t pub = NULL;
	gnutls_ecc_curve_t curve;
	gnutls_datum_t x = { NULL, 0 }, y = { NULL, 0 };
	int same = 0;

	if (gnutls_pubkey_init(&pub) >= 0 &&
	    gnutls_pubkey_import_x509(pub, crt, 0) >= 0 &&
	    gnutls_pubkey_export_ecc_raw2(pub, &curve, &x, &y, 0) >= 0)
		same = curve == GNUTLS_ECC_CURVE_SECP256R1 &&
		    coord_is(&x, pt + 1) && coord_is(&y, pt + 33);
	gnutls_free(x.data);
	gnutls_free(y.data);
	if (pub)
		gnutls_pubkey_deinit(pub);
	return same;
}

/* 1 if certificate CRT's key is the Ed25519 public key PK. */
static int
cert_ed25519_is(gnutls_x509_crt_t crt, const uint8_t pk[static CV_SIGN_PK_BYTES])
{
	gnutls_pubkey_t pub = NULL;
	gnutls_ecc_curve_t curve;
	gnutls_datum_t x = { NULL, 0 };
	int same = 0;

	if (gnutls_pubkey_init(&pub) >= 0 &&
	    gnutls_pubkey_import_x509(pub, crt, 0) >= 0 &&
	    gnutls_pubkey_export_ecc_raw(pub, &curve, &x, NULL) >= 0)
		same = curve == GNUTLS_ECC_CURVE_ED25519 &&
		    x.size == CV_SIGN_PK_BYTES &&
		    memcmp(x.data, pk, CV_SIGN_PK_BYTES) == 0;
	gnutls_free(x.data);
	if (pub)
		gnutls_pubkey_deinit(pub);
	return same;
}

/*
 * PATH (PEM) as a certificate in *CRT; the error names the file. Exactly
 * one: the server trusts every certificate in a CA file, and a check of
 * the first alone would let a second one through.
 */
static cv_err
read_cert(const char *path, gnutls_x509_crt_t *crt, const char *fix)
{
	gnutls_x509_crt_t list[2];
	unsigned n = 2;
	gnutls_datum_t d;
	char *pem = NULL;
	size_t len;
	cv_err r;
	int rc;

	*crt = NULL;
	if ((r = cv_file_read(path, 65536, &pem, &len)) != CV_OK)
		return cv_fail(r, "%s: cannot read it; %s", path, fix);
	d.data = (unsigned char *)pem;
	d.size = (unsigned)len;
	rc = gnutls_x509_crt_list_import(list, &n, &d, GNUTLS_X509_FMT_PEM,
	    0);
	free(pem);
	if (rc == GNUTLS_E_SHORT_MEMORY_BUFFER || (rc >= 0 && n != 1)) {
		for (unsigned i = 0; rc >= 0 && i < n; i++)
			gnutls_x509_crt_deinit(list[i]);
		return cv_fail(CV_ERR_CRYPTO, "%s holds more than one "
		    "certificate; %s", path, fix);
	}
	if (rc < 0)
		return cv_fail(CV_ERR_CRYPTO, "%s: not a PEM certificate (%s); "
		    "%s", path, gnutls_strerror(rc), fix);
	*crt = list[0];
	return CV_OK;
}

#define SERVER_FIX "remove it and the next start issues a new one from " \
	"the vault CA"
#define CA_FIX "restore it from a backup (a new CA would void every " \
	"user's certificate)"
#define LEGACY_FIX "restore it from a backup, or remove it (the users it " \
	"certified then enrol again)"

/*
 * DIR/ca-ed25519.pem, if there is one, is trusted for client
 * certificates (cv_ca_trust_pem): it must be this vault's own former CA
 * (the keyring's Ed25519 CA key) and sign itself, or a file dropped into
 * the folder would let its owner's certificates through the TLS check.
 */
static cv_err
check_legacy(struct cv_keyd *k, const char *dir)
{
	gnutls_x509_crt_t ca = NULL;
	uint8_t pk[CV_SIGN_PK_BYTES];
	char path[1200];
	unsigned status = 0;
	struct stat st;
	cv_err r;

	if ((r = cv_path(path, sizeof path, "%s/ca-ed25519.pem", dir)) !=
	    CV_OK)
		return r;
	if (stat(path, &st) != 0)
		return CV_OK;
	if ((r = read_cert(path, &ca, LEGACY_FIX)) != CV_OK)
		return r;
	cv_keyd_pubkey(k, CV_SIGNER_CA, pk);
	if (!cert_ed25519_is(ca, pk))
		r = cv_fail(CV_ERR_CRYPTO, "%s is not this vault's former CA "
		    "(another key); %s", path, LEGACY_FIX);
	else if (gnutls_x509_crt_verify(ca, &ca, 1,
	    GNUTLS_VERIFY_DO_NOT_ALLOW_SAME, &status) < 0 || status != 0)
		r = cv_fail(CV_ERR_CRYPTO, "%s: its signature does not verify "
		    "(damaged); %s", path, LEGACY_FIX);
	gnutls_x509_crt_deinit(ca);
	return r;
}

cv_err
cv_serve_check_certs(struct cv_keyd *k, const char *dir)
{
	gnutls_x509_crt_t ca = NULL, crt = NULL;
	gnutls_x509_trust_list_t trust = NULL;
	gnutls_datum_t why = { NULL, 0 };
	uint8_t pk[CV_EC_POINT_BYTES];
	char path[1200];
	unsigned status = 0;
	cv_err r;

	if ((r = check_legacy(k, dir)) != CV_OK ||
	    (r = cv_path(path, sizeof path, "%s/ca.pem", dir)) != CV_OK ||
	    (r = read_cert(path, &ca, CA_FIX)) != CV_OK)
		goto out;
	cv_keyd_ec_pubkey(k, CV_EC_CA, pk);
	if (!cert_key_is(ca, pk)) {
		r = cv_fail(CV_ERR_CRYPTO, "%s is not this vault's CA (another "
		    "key); %s", path, CA_FIX);
		goto out;
	}
	/* Not trusted as itself: its own signature must verify. */
	if (gnutls_x509_crt_verify(ca, &ca, 1,
	    GNUTLS_VERIFY_DO_NOT_ALLOW_SAME, &status) < 0 || status != 0) {
		r = cv_fail(CV_ERR_CRYPTO, "%s: its signature does not verify "
		    "(damaged); %s", path, CA_FIX);
		goto out;
	}
	if ((r = cv_path(path, sizeof path, "%s/server.pem", dir)) != CV_OK ||
	    (r = read_cert(path, &crt, SERVER_FIX)) != CV_OK)
		goto out;
	cv_keyd_ec_pubkey(k, CV_EC_TLS, pk);
	if (!cert_key_is(crt, pk)) {
		r = cv_fail(CV_ERR_CRYPTO, "%s is for another key than this "
		    "vault's TLS key; %s", path, SERVER_FIX);
		goto out;
	}
	if (gnutls_x509_trust_list_init(&trust, 0) < 0 ||
	    gnutls_x509_trust_list_add_cas(trust, &ca, 1, 0) != 1) {
		r = cv_fail(CV_ERR_NOMEM, "trust list");
		goto out;
	}
	ca = NULL;	/* the list owns it now */
	if (gnutls_x509_trust_list_verify_crt(trust, &crt, 1, 0, &status,
	    NULL) < 0 || status != 0) {
		(void)gnutls_certificate_verification_status_print(status,
		    GNUTLS_CRT_X509, &why, 0);
		r = cv_fail(CV_ERR_CRYPTO, "%s does not verify against %s/ca.pem "
		    "(%s); %s", path, dir, why.data ? (char *)why.data :
		    "unknown", SERVER_FIX);
		goto out;
	}
	r = CV_OK;
 out:
	gnutls_free(why.data);
	if (trust)
		gnutls_x509_trust_list_deinit(trust, 1);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (ca)
		gnutls_x509_crt_deinit(ca);
	return r;
}

