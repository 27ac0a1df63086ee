/*
 * The vault's own certificate authority: an Ed25519 CA whose key never
 * leaves the keys module (GnuTLS signs through a callback), issuing the
 * server's certificate (for 127.0.0.1, ::1 and localhost) and the users'
 * client certificates (ECDSA P-256 keys, which the user keeps).
 *
 *   DIR/ca.pem      the CA certificate (public; clients trust it)
 *   DIR/server.pem  the server certificate (public; its key is a keyring
 *                   key, see CV_SIGNER_TLS)
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
 * before the server existed get them here). VAULT_ID names the CA.
 */
cv_err cv_ca_ensure(struct cv_keys *k, const char *dir,
    const char *vault_id) CV_MUST_CHECK;

/*
 * A GnuTLS private key that signs with keyring signer WHICH through
 * cv_keys_sign; the key itself stays in the keys module. K must outlive
 * it; free with gnutls_privkey_deinit.
 */
cv_err cv_ca_privkey(struct cv_keys *k, enum cv_signer which,
    gnutls_privkey_t *out) CV_MUST_CHECK;

/* A freshly issued client certificate and its key (PEM). */
struct cv_client_cert {
	struct cv_buf cert_pem;
	struct cv_buf key_pem;	/* secret: cv_client_cert_clear wipes it */
	struct cv_buf p12;	/* PKCS#12 (DER) of both, under p12_pass */
	char p12_pass[33];	/* random; secret */
	char fingerprint[CV_FINGERPRINT_HEX + 1];
	char serial[41];	/* hex */
};

/*
 * Issues a client certificate for user NAME (CN) with ROLE (OU), valid
 * for DAYS days, signed by the vault CA. The key pair is generated here
 * and handed over in *out (caller clears it).
 */
cv_err cv_ca_issue_client(struct cv_keys *k, const char *dir,
    const char *name, const char *role, unsigned days,
    struct cv_client_cert *out) CV_MUST_CHECK;
void cv_client_cert_clear(struct cv_client_cert *c);

/* SHA-256 fingerprint (hex) of a DER certificate. */
void cv_ca_fingerprint(const uint8_t *der, size_t len,
    char out[static CV_FINGERPRINT_HEX + 1]);

#endif
