/*
 * The vault's own certificate authority: an ECDSA P-256 CA whose key never
 * leaves the HSM (GnuTLS signs through a callback into the keys module),
 * issuing the server's certificate (for 127.0.0.1, ::1 and localhost) and
 * the users' client certificates from requests (CSRs) whose keys the
 * users made and keep: the CA never holds a user's private key. P-256,
 * not Ed25519: browsers accept nothing else of ours.
 *
 *   DIR/ca.pem          the CA certificate (public; clients trust it)
 *   DIR/server.pem      the server certificate (public; its key is the
 *                       keys module's, see CV_EC_TLS)
 *   DIR/ca-ed25519.pem  a vault's CA from before P-256 (if it had one):
 *                       still trusted for the client certificates it
 *                       issued, issues nothing more
 */
#ifndef CV_AUTH_CA_H
#define CV_AUTH_CA_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "../base/base.h"
#include "../keys/keys.h"

#define CV_FINGERPRINT_HEX 64	/* SHA-256 of the certificate, hex */

/*
 * Makes DIR/ca.pem and DIR/server.pem if they are missing (vaults made
 * before the server existed get them here), and P-256 ones in place of
 * Ed25519 ones (the old CA kept as DIR/ca-ed25519.pem). VAULT_ID names
 * the CA. CV_ERR_IO, CV_ERR_HSM (the CA key signs in the token).
 */
cv_err cv_ca_ensure(struct cv_keys *k, const char *dir,
    const char *vault_id) CV_MUST_CHECK;

/*
 * The CAs a client certificate of this vault may chain to, as PEM
 * appended to *OUT (caller frees): DIR/ca.pem, then DIR/ca-ed25519.pem
 * if there is one. Errors of reading the files.
 */
cv_err cv_ca_trust_pem(const char *dir, struct cv_buf *out) CV_MUST_CHECK;

/*
 * A GnuTLS private key (ECDSA P-256, SHA-256) that signs with the keys
 * module's key WHICH through cv_keys_ec_sign; the key itself stays there
 * (the CA's in the HSM). K must outlive it; free with
 * gnutls_privkey_deinit.
 */
cv_err cv_ca_privkey(struct cv_keys *k, enum cv_ec which,
    gnutls_privkey_t *out) CV_MUST_CHECK;

/*
 * The same for a key held elsewhere: FN(CTX, ...) signs each SHA-256 hash
 * as cv_keys_ec_sign does, r || s (the server's network process asks its
 * key process). CTX must outlive the key.
 */
typedef cv_err cv_ca_sign_fn(void *ctx, const uint8_t hash[static 32],
    uint8_t sig[static CV_EC_SIG_BYTES]);
cv_err cv_ca_privkey_ext(cv_ca_sign_fn *fn, void *ctx,
    gnutls_privkey_t *out) CV_MUST_CHECK;

/*
 * A client certificate as it is made: the user's side holds key_pem (made
 * by cv_ca_csr_new and never sent anywhere), csr_pem and, once the CA has
 * answered, p12; the CA's side fills cert_pem, fingerprint and serial.
 */
struct cv_client_cert {
	struct cv_buf csr_pem;	/* PKCS#10 request (public) */
	struct cv_buf cert_pem;
	struct cv_buf key_pem;	/* secret: cv_client_cert_clear wipes it */
	struct cv_buf p12;	/* PKCS#12 (DER) of both, under p12_pass */
	char p12_pass[33];	/* random; secret */
	char fingerprint[CV_FINGERPRINT_HEX + 1];
	char serial[41];	/* hex */
};

#define CV_CSR_MAX 8192	/* bytes of PEM a request may have */

/*
 * The user's side of enrolment: a fresh ECDSA P-256 key (out->key_pem)
 * and a request for it signed by that key (out->csr_pem, CN = NAME).
 * Caller clears *out. CV_ERR_CRYPTO.
 */
cv_err cv_ca_csr_new(const char *name,
    struct cv_client_cert *out) CV_MUST_CHECK;

/*
 * Hostile input: CV_OK if CSR (LEN bytes of PEM) is a PKCS#10 request whose
 * signature verifies under its own key, an ECDSA P-256 or RSA 2048-4096
 * key. CV_ERR_INVALID with the reason otherwise.
 */
cv_err cv_ca_csr_check(const char *csr, size_t len) CV_MUST_CHECK;

/*
 * The CA's side: a client certificate for the key of CSR (checked as by
 * cv_ca_csr_check) with CN = NAME and OU = ROLE, client authentication
 * only, valid for DAYS days. Nothing of the request but its key is used.
 * Fills out->cert_pem, fingerprint, serial (caller clears). The CA never
 * sees or makes the private key. CV_ERR_INVALID, CV_ERR_CRYPTO.
 */
cv_err cv_ca_sign_csr(struct cv_keys *k, const char *dir, const char *name,
    const char *role, unsigned days, const char *csr, size_t csr_len,
    struct cv_client_cert *out) CV_MUST_CHECK;

/*
 * The user's side again: C's certificate and key as PKCS#12 (c->p12) under
 * a fresh random password (c->p12_pass), for browsers: both named "NAME
 * (clearvault CA <vault id>)" so a browser's list says whose and which
 * vault's, with the CA's certificate (the first in CA_PATH) so that one
 * import brings all three. CV_ERR_CRYPTO, CV_ERR_FORMAT (CA_PATH is not
 * a PEM certificate), errors of reading CA_PATH.
 */
cv_err cv_ca_p12(struct cv_client_cert *c, const char *name,
    const char *ca_path) CV_MUST_CHECK;

void cv_client_cert_clear(struct cv_client_cert *c);

/* SHA-256 fingerprint (hex) of a DER certificate. */
void cv_ca_fingerprint(const uint8_t *der, size_t len,
    char out[static CV_FINGERPRINT_HEX + 1]);

#endif
