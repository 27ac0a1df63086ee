#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/pkcs12.h>
#include <gnutls/x509.h>
#include <nettle/sha2.h>
#include <sodium.h>

#include "ca.h"

#define CA_YEARS 10
#define SERVER_DAYS 825

#define LEGACY_CA "ca-ed25519.pem"

struct signer_ctx {
	cv_ca_sign_fn *fn;
	void *ctx;
	struct cv_keys *k;	/* for keys_sign */
	enum cv_ec which;
};

static cv_err
keys_sign(void *ctx, const uint8_t hash[static 32],
    uint8_t sig[static CV_EC_SIG_BYTES])
{
	struct signer_ctx *c = ctx;

	return cv_keys_ec_sign(c->k, c->which, hash, sig);
}

static cv_err
tls_fail(const char *what, int rc)
{
	return cv_fail(CV_ERR_CRYPTO, "%s: %s", what, gnutls_strerror(rc));
}

/*
 * ECDSA by the signer over the SHA-256 hash GnuTLS made (it hands an
 * external key the hash, never the data, for ECDSA), DER-encoded as X.509
 * and TLS want.
 */
static int
sign_hash(gnutls_privkey_t key, gnutls_sign_algorithm_t algo, void *ud,
    unsigned int flags, const gnutls_datum_t *hash, gnutls_datum_t *sig)
{
	struct signer_ctx *c = ud;
	uint8_t rs[CV_EC_SIG_BYTES];
	gnutls_datum_t r = { rs, 32 }, s = { rs + 32, 32 };
	int rc;

	(void)key;
	(void)flags;
	if (algo != GNUTLS_SIGN_ECDSA_SHA256 &&
	    algo != GNUTLS_SIGN_ECDSA_SECP256R1_SHA256)
		return GNUTLS_E_UNSUPPORTED_SIGNATURE_ALGORITHM;
	if (hash->size != 32 || c->fn(c->ctx, hash->data, rs) != CV_OK)
		return GNUTLS_E_PK_SIGN_FAILED;
	rc = gnutls_encode_rs_value(sig, &r, &s);
	sodium_memzero(rs, sizeof rs);
	return rc;
}

static int
info(gnutls_privkey_t key, unsigned int flags, void *ud)
{
	gnutls_sign_algorithm_t a;

	(void)key;
	(void)ud;
	if (flags & GNUTLS_PRIVKEY_INFO_PK_ALGO)
		return GNUTLS_PK_ECDSA;
	if (flags & GNUTLS_PRIVKEY_INFO_PK_ALGO_BITS)
		return 256;
	if (flags & GNUTLS_PRIVKEY_INFO_HAVE_SIGN_ALGO) {
		a = GNUTLS_FLAGS_TO_SIGN_ALGO(flags);
		return a == GNUTLS_SIGN_ECDSA_SHA256 ||
		    a == GNUTLS_SIGN_ECDSA_SECP256R1_SHA256;
	}
	return -1;
}

static void
deinit(gnutls_privkey_t key, void *ud)
{
	(void)key;
	sodium_free(ud);
}

static cv_err
privkey(struct signer_ctx *c, gnutls_privkey_t *out)
{
	int rc;

	if ((rc = gnutls_privkey_init(out)) < 0) {
		sodium_free(c);
		return tls_fail("privkey", rc);
	}
	if ((rc = gnutls_privkey_import_ext4(*out, c, NULL, sign_hash, NULL,
	    deinit, info, 0)) < 0) {
		sodium_free(c);
		gnutls_privkey_deinit(*out);
		*out = NULL;
		return tls_fail("privkey import", rc);
	}
	return CV_OK;
}

cv_err
cv_ca_privkey(struct cv_keys *k, enum cv_ec which, gnutls_privkey_t *out)
{
	struct signer_ctx *c;

	*out = NULL;
	if ((c = sodium_malloc(sizeof *c)) == NULL)
		return CV_ERR_NOMEM;
	c->fn = keys_sign;
	c->ctx = c;
	c->k = k;
	c->which = which;
	return privkey(c, out);
}

cv_err
cv_ca_privkey_ext(cv_ca_sign_fn *fn, void *ctx, gnutls_privkey_t *out)
{
	struct signer_ctx *c;

	*out = NULL;
	if ((c = sodium_malloc(sizeof *c)) == NULL)
		return CV_ERR_NOMEM;
	c->fn = fn;
	c->ctx = ctx;
	c->k = NULL;
	return privkey(c, out);
}

static cv_err
signer_pubkey(struct cv_keys *k, enum cv_ec which, gnutls_pubkey_t *out)
{
	uint8_t pt[CV_EC_POINT_BYTES];
	gnutls_datum_t x = { pt + 1, 32 }, y = { pt + 33, 32 };
	int rc;

	cv_keys_ec_pubkey(k, which, pt);
	if ((rc = gnutls_pubkey_init(out)) < 0)
		return tls_fail("pubkey", rc);
	if ((rc = gnutls_pubkey_import_ecc_raw(*out, GNUTLS_ECC_CURVE_SECP256R1,
	    &x, &y)) < 0) {
		gnutls_pubkey_deinit(*out);
		*out = NULL;
		return tls_fail("pubkey import", rc);
	}
	return CV_OK;
}

/* Common fields: v3, random positive serial, validity from a minute ago. */
static int
crt_base(gnutls_x509_crt_t crt, const char *cn, long days, char *serial_hex)
{
	uint8_t serial[16];
	time_t now = time(NULL);
	int rc;

	randombytes_buf(serial, sizeof serial);
	serial[0] &= 0x7f;
	serial[0] |= 0x01;
	if (serial_hex)
		sodium_bin2hex(serial_hex, 33, serial, sizeof serial);
	if ((rc = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
	    (rc = gnutls_x509_crt_set_serial(crt, serial, sizeof serial)) < 0 ||
	    (rc = gnutls_x509_crt_set_activation_time(crt, now - 60)) < 0 ||
	    (rc = gnutls_x509_crt_set_expiration_time(crt,
	    now + days * 86400)) < 0 ||
	    (rc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME,
	    0, cn, (unsigned)strlen(cn))) < 0)
		return rc;
	return 0;
}

static cv_err
export_pem(gnutls_x509_crt_t crt, struct cv_buf *out)
{
	gnutls_datum_t d = { 0 };
	cv_err r;
	int rc;

	if ((rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d)) < 0)
		return tls_fail("export", rc);
	r = cv_buf_add(out, d.data, d.size);
	gnutls_free(d.data);
	return r;
}

static cv_err
load_ca(const char *dir, gnutls_x509_crt_t *ca)
{
	char path[1200], *pem = NULL;
	size_t len;
	gnutls_datum_t d;
	cv_err r;
	int rc;

	if ((r = cv_path(path, sizeof path, "%s/ca.pem", dir)) != CV_OK ||
	    (r = cv_file_read(path, 65536, &pem, &len)) != CV_OK)
		return r;
	d.data = (unsigned char *)pem;
	d.size = (unsigned)len;
	if ((rc = gnutls_x509_crt_init(ca)) < 0 ||
	    (rc = gnutls_x509_crt_import(*ca, &d, GNUTLS_X509_FMT_PEM)) < 0)
		r = tls_fail("CA certificate", rc);
	free(pem);
	return r;
}

/*
 * ISSUER (DIR/ca.pem) is for the CA key the token holds: a token whose
 * key was replaced would otherwise issue certificates that verify
 * nowhere (and spend a user's one-time enrolment code on one).
 */
static cv_err
issuer_is_ours(struct cv_keys *k, gnutls_x509_crt_t issuer)
{
	gnutls_pubkey_t pub = NULL;
	uint8_t a[64], b[64];
	size_t alen = sizeof a, blen = sizeof b;
	cv_err r;

	if ((r = signer_pubkey(k, CV_EC_CA, &pub)) != CV_OK)
		return r;
	if (gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, a,
	    &alen) < 0 || gnutls_x509_crt_get_key_id(issuer,
	    GNUTLS_KEYID_USE_SHA256, b, &blen) < 0 || alen != blen ||
	    memcmp(a, b, alen) != 0)
		r = cv_fail(CV_ERR_CRYPTO, "the vault's ca.pem is not for the "
		    "CA key in the HSM token (the token's key was replaced, "
		    "or ca.pem): nothing is signed");
	gnutls_pubkey_deinit(pub);
	return r;
}

/* Signs CRT (subject key PUB) as the CA. */
static cv_err
ca_sign(struct cv_keys *k, gnutls_x509_crt_t crt, gnutls_x509_crt_t issuer,
    gnutls_pubkey_t pub)
{
	gnutls_privkey_t ca = NULL;
	uint8_t id[64];
	size_t idlen = sizeof id;
	cv_err r;
	int rc;

	if ((rc = gnutls_x509_crt_set_pubkey(crt, pub)) < 0 ||
	    (rc = gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA1, id,
	    &idlen)) < 0 ||
	    (rc = gnutls_x509_crt_set_subject_key_id(crt, id, idlen)) < 0)
		return tls_fail("certificate", rc);
	if (issuer != crt && (r = issuer_is_ours(k, issuer)) != CV_OK)
		return r;
	if ((r = cv_ca_privkey(k, CV_EC_CA, &ca)) != CV_OK)
		return r;
	if (issuer != crt) {
		idlen = sizeof id;
		if ((rc = gnutls_x509_crt_get_subject_key_id(issuer, id,
		    &idlen, NULL)) < 0 ||
		    (rc = gnutls_x509_crt_set_authority_key_id(crt, id,
		    idlen)) < 0) {
			gnutls_privkey_deinit(ca);
			return tls_fail("authority key id", rc);
		}
	}
	rc = gnutls_x509_crt_privkey_sign(crt, issuer, ca, GNUTLS_DIG_SHA256,
	    0);
	gnutls_privkey_deinit(ca);
	return rc < 0 ? tls_fail("signing", rc) : CV_OK;
}

/* Signs CRT as ISSUER and writes it as a new public PEM file at PATH. */
static cv_err
issue_to_file(struct cv_keys *k, gnutls_x509_crt_t crt,
    gnutls_x509_crt_t issuer, gnutls_pubkey_t pub, const char *path)
{
	struct cv_buf pem = { 0 };
	cv_err r;

	if ((r = ca_sign(k, crt, issuer, pub)) == CV_OK &&
	    (r = export_pem(crt, &pem)) == CV_OK)
		r = cv_file_create(path, pem.p, pem.len, 0644);
	cv_buf_free(&pem);
	return r;
}

static cv_err
make_ca(struct cv_keys *k, const char *path, const char *vault_id)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_pubkey_t pub = NULL;
	char cn[128];
	cv_err r;
	int rc;

	snprintf(cn, sizeof cn, "clearvault CA %s", vault_id);
	if ((r = signer_pubkey(k, CV_EC_CA, &pub)) != CV_OK)
		goto out;
	if ((rc = gnutls_x509_crt_init(&crt)) < 0 ||
	    (rc = crt_base(crt, cn, 365L * CA_YEARS, NULL)) < 0 ||
	    (rc = gnutls_x509_crt_set_basic_constraints(crt, 1, 0)) < 0 ||
	    (rc = gnutls_x509_crt_set_key_usage(crt,
	    GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN)) < 0) {
		r = tls_fail("CA certificate", rc);
		goto out;
	}
	r = issue_to_file(k, crt, crt, pub, path);
 out:
	gnutls_x509_crt_deinit(crt);
	gnutls_pubkey_deinit(pub);
	return r;
}

static cv_err
make_server(struct cv_keys *k, const char *dir, const char *path)
{
	gnutls_x509_crt_t crt = NULL, ca = NULL;
	gnutls_pubkey_t pub = NULL;
	static const uint8_t v4[4] = { 127, 0, 0, 1 };
	static const uint8_t v6[16] = { [15] = 1 };
	cv_err r;
	int rc;

	if ((r = load_ca(dir, &ca)) != CV_OK ||
	    (r = signer_pubkey(k, CV_EC_TLS, &pub)) != CV_OK)
		goto out;
	if ((rc = gnutls_x509_crt_init(&crt)) < 0 ||
	    (rc = crt_base(crt, "localhost", SERVER_DAYS, NULL)) < 0 ||
	    (rc = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
	    (rc = gnutls_x509_crt_set_key_usage(crt,
	    GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
	    (rc = gnutls_x509_crt_set_key_purpose_oid(crt,
	    GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0 ||
	    (rc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME,
	    "localhost", 9, GNUTLS_FSAN_APPEND)) < 0 ||
	    (rc = gnutls_x509_crt_set_subject_alt_name(crt,
	    GNUTLS_SAN_IPADDRESS, v4, 4, GNUTLS_FSAN_APPEND)) < 0 ||
	    (rc = gnutls_x509_crt_set_subject_alt_name(crt,
	    GNUTLS_SAN_IPADDRESS, v6, 16, GNUTLS_FSAN_APPEND)) < 0) {
		r = tls_fail("server certificate", rc);
		goto out;
	}
	r = issue_to_file(k, crt, ca, pub, path);
 out:
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_crt_deinit(ca);
	gnutls_pubkey_deinit(pub);
	return r;
}

/* 1 if the certificate in PEM file PATH has an Ed25519 key (made before
 * the vault's certificates were P-256). */
static int
is_ed25519(const char *path)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t d;
	char *pem = NULL;
	size_t len;
	int ed = 0;

	if (cv_file_read(path, 65536, &pem, &len) != CV_OK)
		return 0;
	d.data = (unsigned char *)pem;
	d.size = (unsigned)len;
	if (gnutls_x509_crt_init(&crt) >= 0 &&
	    gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM) >= 0)
		ed = gnutls_x509_crt_get_pk_algorithm(crt, NULL) ==
		    GNUTLS_PK_EDDSA_ED25519;
	if (crt)
		gnutls_x509_crt_deinit(crt);
	free(pem);
	return ed;
}

cv_err
cv_ca_ensure(struct cv_keys *k, const char *dir, const char *vault_id)
{
	char ca[1200], srv[1200], old[1200];
	struct stat st;
	int fd = -1;
	cv_err r;

	if ((r = cv_path(ca, sizeof ca, "%s/ca.pem", dir)) != CV_OK ||
	    (r = cv_path(srv, sizeof srv, "%s/server.pem", dir)) != CV_OK ||
	    (r = cv_path(old, sizeof old, "%s/" LEGACY_CA, dir)) != CV_OK)
		return r;
	/* Two processes (a server's keyd, `ca-cert`) at once: one at a
	 * time, each deciding on what the other left. The lock is on the
	 * folder itself: a command that only reads creates no file. */
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    flock(fd, LOCK_EX) != 0) {
		r = cv_fail(CV_ERR_IO, "%s: cannot lock it: %s", dir,
		    strerror(errno));
		goto out;
	}
	/*
	 * An Ed25519 CA (browsers refuse it) makes way for a P-256 one;
	 * kept beside it so that the certificates it issued still log in,
	 * never over a former CA already kept. The rename is the commit
	 * point: a crash after it leaves no CA, and the next start makes
	 * one.
	 */
	if (is_ed25519(ca)) {
		/* link + unlink where the file system has no NOREPLACE:
		 * link refuses an existing name as well. */
		if (renameat2(AT_FDCWD, ca, AT_FDCWD, old,
		    RENAME_NOREPLACE) != 0 && (errno != EINVAL ||
		    link(ca, old) != 0 || unlink(ca) != 0)) {
			r = cv_fail(CV_ERR_IO, "cannot keep the Ed25519 CA %s "
			    "as %s: %s", ca, old, strerror(errno));
			goto out;
		}
		(void)unlink(srv);
	}
	if (stat(ca, &st) != 0) {
		(void)unlink(srv);	/* issued by the CA that is gone */
		if ((r = make_ca(k, ca, vault_id)) != CV_OK)
			goto out;
	}
	if (is_ed25519(srv) && unlink(srv) != 0) {
		r = cv_fail(CV_ERR_IO, "%s: %s", srv, strerror(errno));
		goto out;
	}
	if (stat(srv, &st) != 0 && (r = make_server(k, dir, srv)) != CV_OK)
		goto out;
	r = CV_OK;
 out:
	if (fd >= 0)
		close(fd);	/* and the lock with it */
	return r;
}

cv_err
cv_ca_trust_pem(const char *dir, struct cv_buf *out)
{
	char path[1200], *pem = NULL;
	size_t len;
	cv_err r;

	if ((r = cv_path(path, sizeof path, "%s/ca.pem", dir)) != CV_OK ||
	    (r = cv_file_read(path, 65536, &pem, &len)) != CV_OK ||
	    (r = cv_buf_add(out, pem, len)) != CV_OK)
		goto out;
	free(pem);
	pem = NULL;
	if ((r = cv_path(path, sizeof path, "%s/" LEGACY_CA, dir)) != CV_OK)
		goto out;
	if ((r = cv_file_read(path, 65536, &pem, &len)) == CV_ERR_NOT_FOUND) {
		r = CV_OK;
		goto out;
	}
	if (r != CV_OK || (r = cv_buf_add(out, "\n", 1)) != CV_OK ||
	    (r = cv_buf_add(out, pem, len)) != CV_OK)
		goto out;
 out:
	free(pem);
	if (r != CV_OK)
		cv_buf_free(out);
	return r;
}

void
cv_ca_fingerprint(const uint8_t *der, size_t len,
    char out[static CV_FINGERPRINT_HEX + 1])
{
	struct sha256_ctx c;
	uint8_t d[32];

	sha256_init(&c);
	sha256_update(&c, len, der);
	sha256_digest(&c, sizeof d, d);
	sodium_bin2hex(out, CV_FINGERPRINT_HEX + 1, d, sizeof d);
}

static cv_err make_p12(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key,
    gnutls_x509_crt_t ca, const char *friendly, struct cv_client_cert *out);

/*
 * The subject's public key from a CSR, if the CSR is well formed, signed by
 * that key (proof of possession) and the key is one browsers and our TLS
 * stack accept for client authentication: ECDSA P-256, or RSA of 2048 to
 * 4096 bits. Everything else the CSR says (names, extensions) is ignored:
 * the CA decides what goes into the certificate.
 */
static cv_err
csr_pubkey(const char *pem, size_t len, gnutls_pubkey_t *out)
{
	gnutls_x509_crq_t crq = NULL;
	gnutls_datum_t d;
	gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
	unsigned bits = 0;
	int rc, algo;
	cv_err r = CV_ERR_INVALID;

	*out = NULL;
	if (len == 0 || len > CV_CSR_MAX || memchr(pem, '\0', len) != NULL)
		return cv_fail(CV_ERR_INVALID, "certificate request: empty, "
		    "over %d bytes, or not text", CV_CSR_MAX);
	d.data = (unsigned char *)(uintptr_t)pem;
	d.size = (unsigned)len;
	if ((rc = gnutls_x509_crq_init(&crq)) < 0) {
		r = tls_fail("certificate request", rc);
		goto out;
	}
	if ((rc = gnutls_x509_crq_import(crq, &d, GNUTLS_X509_FMT_PEM)) < 0) {
		r = cv_fail(CV_ERR_INVALID, "certificate request: not a PEM "
		    "PKCS#10 request (%s)", gnutls_strerror(rc));
		goto out;
	}
	if ((rc = gnutls_x509_crq_verify(crq, 0)) < 0) {
		r = cv_fail(CV_ERR_INVALID, "certificate request: its "
		    "signature does not verify (%s)", gnutls_strerror(rc));
		goto out;
	}
	if ((rc = gnutls_pubkey_init(out)) < 0 ||
	    (rc = gnutls_pubkey_import_x509_crq(*out, crq, 0)) < 0) {
		r = cv_fail(CV_ERR_INVALID, "certificate request: public key: "
		    "%s", gnutls_strerror(rc));
		goto out;
	}
	algo = gnutls_pubkey_get_pk_algorithm(*out, &bits);
	if (algo == GNUTLS_PK_ECDSA &&
	    gnutls_pubkey_export_ecc_raw(*out, &curve, NULL, NULL) >= 0 &&
	    curve == GNUTLS_ECC_CURVE_SECP256R1)
		r = CV_OK;
	else if (algo == GNUTLS_PK_RSA && bits >= 2048 && bits <= 4096)
		r = CV_OK;
	else
		r = cv_fail(CV_ERR_INVALID, "certificate request: the key must "
		    "be ECDSA P-256 or RSA of 2048-4096 bits");
 out:
	if (r != CV_OK) {
		gnutls_pubkey_deinit(*out);
		*out = NULL;
	}
	if (crq)
		gnutls_x509_crq_deinit(crq);
	return r;
}

cv_err
cv_ca_csr_check(const char *pem, size_t len)
{
	gnutls_pubkey_t pub = NULL;
	cv_err r = csr_pubkey(pem, len, &pub);

	gnutls_pubkey_deinit(pub);
	return r;
}

cv_err
cv_ca_sign_csr(struct cv_keys *k, const char *dir, const char *name,
    const char *role, unsigned days, const char *csr, size_t csr_len,
    struct cv_client_cert *out)
{
	gnutls_x509_crt_t crt = NULL, ca = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t d = { 0 };
	cv_err r;
	int rc;

	memset(out, 0, sizeof *out);
	if ((r = csr_pubkey(csr, csr_len, &pub)) != CV_OK ||
	    (r = load_ca(dir, &ca)) != CV_OK)
		goto out;
	if ((rc = gnutls_x509_crt_init(&crt)) < 0 ||
	    (rc = crt_base(crt, name, days, out->serial)) < 0 ||
	    (rc = gnutls_x509_crt_set_dn_by_oid(crt,
	    GNUTLS_OID_X520_ORGANIZATIONAL_UNIT_NAME, 0, role,
	    (unsigned)strlen(role))) < 0 ||
	    (rc = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
	    (rc = gnutls_x509_crt_set_key_usage(crt,
	    GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
	    (rc = gnutls_x509_crt_set_key_purpose_oid(crt,
	    GNUTLS_KP_TLS_WWW_CLIENT, 0)) < 0) {
		r = tls_fail("client certificate", rc);
		goto out;
	}
	if ((r = ca_sign(k, crt, ca, pub)) != CV_OK ||
	    (r = export_pem(crt, &out->cert_pem)) != CV_OK)
		goto out;
	if ((rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &d)) < 0) {
		r = tls_fail("export", rc);
		goto out;
	}
	cv_ca_fingerprint(d.data, d.size, out->fingerprint);
	gnutls_free(d.data);
 out:
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_crt_deinit(ca);
	gnutls_pubkey_deinit(pub);
	if (r != CV_OK)
		cv_client_cert_clear(out);
	return r;
}

cv_err
cv_ca_csr_new(const char *name, struct cv_client_cert *out)
{
	gnutls_x509_crq_t crq = NULL;
	gnutls_privkey_t priv = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_x509_privkey_t key = NULL;
	gnutls_datum_t d = { 0 };
	cv_err r = CV_ERR_CRYPTO;
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = gnutls_privkey_init(&priv)) < 0 ||
	    (rc = gnutls_privkey_generate(priv, GNUTLS_PK_ECDSA,
	    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0)) < 0 ||
	    (rc = gnutls_pubkey_init(&pub)) < 0 ||
	    (rc = gnutls_pubkey_import_privkey(pub, priv, 0, 0)) < 0 ||
	    (rc = gnutls_x509_crq_init(&crq)) < 0 ||
	    (rc = gnutls_x509_crq_set_version(crq, 1)) < 0 ||
	    (rc = gnutls_x509_crq_set_dn_by_oid(crq,
	    GNUTLS_OID_X520_COMMON_NAME, 0, name, (unsigned)strlen(name))) < 0 ||
	    (rc = gnutls_x509_crq_set_pubkey(crq, pub)) < 0 ||
	    (rc = gnutls_x509_crq_privkey_sign(crq, priv, GNUTLS_DIG_SHA256,
	    0)) < 0 ||
	    (rc = gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_PEM, &d)) < 0) {
		r = tls_fail("certificate request", rc);
		goto out;
	}
	r = cv_buf_add(&out->csr_pem, d.data, d.size);
	gnutls_free(d.data);
	d.data = NULL;
	if (r != CV_OK)
		goto out;
	if ((rc = gnutls_privkey_export_x509(priv, &key)) < 0 ||
	    (rc = gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM,
	    &d)) < 0) {
		r = tls_fail("key export", rc);
		goto out;
	}
	r = cv_buf_add(&out->key_pem, d.data, d.size);
	sodium_memzero(d.data, d.size);
	gnutls_free(d.data);
 out:
	if (crq)
		gnutls_x509_crq_deinit(crq);
	gnutls_x509_privkey_deinit(key);
	gnutls_privkey_deinit(priv);
	gnutls_pubkey_deinit(pub);
	if (r != CV_OK)
		cv_client_cert_clear(out);
	return r;
}

cv_err
cv_ca_p12(struct cv_client_cert *c, const char *name, const char *ca_path)
{
	gnutls_x509_crt_t crt = NULL, ca = NULL;
	gnutls_x509_privkey_t key = NULL;
	gnutls_datum_t d;
	char friendly[160], cn[96];
	size_t cnlen = sizeof cn;
	char *pem = NULL;
	size_t len;
	cv_err r = CV_OK;
	int rc;

	/* The CA's certificate (the first in the file: the current CA). */
	if ((r = cv_file_read(ca_path, 65536, &pem, &len)) != CV_OK)
		return cv_fail(r, "%s: cannot read the CA certificate",
		    ca_path);
	d.data = (unsigned char *)pem;
	d.size = (unsigned)len;
	if ((rc = gnutls_x509_crt_init(&ca)) < 0 ||
	    (rc = gnutls_x509_crt_import(ca, &d, GNUTLS_X509_FMT_PEM)) < 0) {
		r = cv_fail(CV_ERR_FORMAT, "%s: not a PEM certificate (%s)",
		    ca_path, gnutls_strerror(rc));
		goto out;
	}
	/* "olga (clearvault CA 2c48...)": which vault, in a browser's list. */
	if (gnutls_x509_crt_get_dn_by_oid(ca, GNUTLS_OID_X520_COMMON_NAME, 0,
	    0, cn, &cnlen) < 0)
		snprintf(cn, sizeof cn, "clearvault");
	snprintf(friendly, sizeof friendly, "%s (%s)", name, cn);
	d.data = c->cert_pem.p;
	d.size = (unsigned)c->cert_pem.len;
	if ((rc = gnutls_x509_crt_init(&crt)) < 0 ||
	    (rc = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM)) < 0 ||
	    (rc = gnutls_x509_privkey_init(&key)) < 0 ||
	    (d.data = c->key_pem.p, d.size = (unsigned)c->key_pem.len,
	    rc = gnutls_x509_privkey_import(key, &d, GNUTLS_X509_FMT_PEM)) < 0)
		r = tls_fail("PKCS#12 input", rc);
	else
		r = make_p12(crt, key, ca, friendly, c);
 out:
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_crt_deinit(ca);
	gnutls_x509_privkey_deinit(key);
	free(pem);
	return r;
}

void
cv_client_cert_clear(struct cv_client_cert *c)
{
	cv_buf_free(&c->csr_pem);
	cv_buf_free(&c->cert_pem);
	cv_buf_free(&c->key_pem);
	cv_buf_free(&c->p12);
	sodium_memzero(c, sizeof *c);
}

/*
 * The certificate and its key as PKCS#12, AES-256 encrypted, SHA-256 MAC,
 * both under FRIENDLY, with the CA's certificate: one file a browser
 * imports in one step.
 */
static cv_err
make_p12(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key,
    gnutls_x509_crt_t ca, const char *friendly, struct cv_client_cert *out)
{
	gnutls_pkcs12_t p12 = NULL;
	gnutls_pkcs12_bag_t cbag = NULL, kbag = NULL;
	gnutls_datum_t id = { 0 }, der = { 0 };
	uint8_t raw[24], kid[64];
	size_t kidlen = sizeof kid;
	cv_err r = CV_ERR_CRYPTO;
	int rc, idx;

	randombytes_buf(raw, sizeof raw);
	sodium_bin2base64(out->p12_pass, sizeof out->p12_pass, raw, sizeof raw,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof raw);
	if ((rc = gnutls_x509_crt_get_key_id(crt, 0, kid, &kidlen)) < 0)
		goto out;
	id.data = kid;
	id.size = (unsigned)kidlen;
	if ((rc = gnutls_pkcs12_init(&p12)) < 0 ||
	    (rc = gnutls_pkcs12_bag_init(&cbag)) < 0 ||
	    (rc = gnutls_pkcs12_bag_init(&kbag)) < 0 ||
	    (idx = rc = gnutls_pkcs12_bag_set_crt(cbag, crt)) < 0 ||
	    (rc = gnutls_pkcs12_bag_set_key_id(cbag, (unsigned)idx, &id)) < 0 ||
	    (rc = gnutls_pkcs12_bag_set_friendly_name(cbag, (unsigned)idx,
	    friendly)) < 0 ||
	    (rc = gnutls_pkcs12_bag_set_crt(cbag, ca)) < 0 ||
	    (rc = gnutls_pkcs12_bag_encrypt(cbag, out->p12_pass,
	    GNUTLS_PKCS_PBES2_AES_256)) < 0 ||
	    (idx = rc = gnutls_pkcs12_bag_set_privkey(kbag, key,
	    out->p12_pass, GNUTLS_PKCS_PBES2_AES_256)) < 0 ||
	    (rc = gnutls_pkcs12_bag_set_key_id(kbag, (unsigned)idx, &id)) < 0 ||
	    (rc = gnutls_pkcs12_bag_set_friendly_name(kbag, (unsigned)idx,
	    friendly)) < 0 ||
	    (rc = gnutls_pkcs12_set_bag(p12, cbag)) < 0 ||
	    (rc = gnutls_pkcs12_set_bag(p12, kbag)) < 0 ||
	    (rc = gnutls_pkcs12_generate_mac2(p12, GNUTLS_MAC_SHA256,
	    out->p12_pass)) < 0 ||
	    (rc = gnutls_pkcs12_export2(p12, GNUTLS_X509_FMT_DER, &der)) < 0)
		goto out;
	r = cv_buf_add(&out->p12, der.data, der.size);
 out:
	if (r == CV_ERR_CRYPTO)
		cv_err_set("PKCS#12: %s", gnutls_strerror(rc));
	gnutls_free(der.data);
	if (cbag)
		gnutls_pkcs12_bag_deinit(cbag);
	if (kbag)
		gnutls_pkcs12_bag_deinit(kbag);
	if (p12)
		gnutls_pkcs12_deinit(p12);
	return r;
}
