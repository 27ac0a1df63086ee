/*
 * clearvault enrol: the new user's side of enrolment. The key is made
 * here, on the user's machine, and never leaves it; the server (or, for
 * the operator's bootstrap, the vault itself) signs the request against
 * the one-time enrolment code and hands back the certificate and the TOTP
 * secret, shown once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "../auth/users.h"
#include "../client/client.h"
#include "cli.h"

static const char use[] =
    "clearvault enrol --name NAME --out FOLDER (--server URL --ca FILE | "
    "--dir DIR) [--code CODE] [--qr-png FILE]";

static const char help[] =
    "usage: clearvault enrol --name NAME --out FOLDER\n"
    "           (--server https://HOST:PORT --ca CA.pem | --dir DIR)\n"
    "           [--code CODE] [--qr-png FILE]\n\n"
    "Makes your key (ECDSA P-256) and a certificate request here, sends the\n"
    "request with your one-time enrolment code, and writes what comes back:\n"
    "  FOLDER/NAME.key       your private key (0600; it never left here)\n"
    "  FOLDER/NAME.crt       your certificate from the vault CA\n"
    "  FOLDER/NAME.p12       both as PKCS#12 for a browser, password in\n"
    "                        FOLDER/NAME.p12.pass (0600)\n"
    "  FOLDER/NAME.otpauth   your TOTP secret (0600), also shown once as a\n"
    "                        QR code for an authenticator app\n\n"
    "  --server URL  the clearvault server (POST /v1/enrol); --ca the vault\n"
    "                CA certificate (`clearvault ca-cert`)\n"
    "  --dir DIR     enrol against the vault folder directly (the\n"
    "                operator's bootstrap of the first officers)\n"
    "  --code CODE   the enrolment code; without it, read from stdin\n"
    "  --qr-png FILE the TOTP secret's QR code also as a PNG image (0600),\n"
    "                for an authenticator app when the terminal's will not\n"
    "                scan\n";

/* The code from stdin, one line, without echo on a terminal. */
static int
read_code(char *code, size_t size)
{
	size_t n;

	if (isatty(STDIN_FILENO))
		fprintf(stderr, "enrolment code: ");
	if (fgets(code, (int)size, stdin) == NULL)
		return 0;
	n = strcspn(code, "\r\n");
	code[n] = '\0';
	return n > 0;
}

static cv_err
enrol_server(const char *url, const char *ca, const char *name,
    const char *code, struct cv_client_cert *cc, char *otpauth, size_t size)
{
	struct cv_http *h = NULL;
	char host[256], *reply = NULL, *body = NULL;
	unsigned port;
	int status = 0;
	json_t *req = NULL, *j = NULL;
	const char *crt, *otp;
	cv_err r;

	if ((r = cv_http_parse_url(url, host, sizeof host, &port)) != CV_OK ||
	    (r = cv_http_new(ca, NULL, NULL, host, port, &h)) != CV_OK)
		goto out;
	req = json_pack("{s:s, s:s, s:s%}", "name", name, "code", code, "csr",
	    (const char *)cc->csr_pem.p, cc->csr_pem.len);
	if (req == NULL || (body = json_dumps(req, JSON_COMPACT)) == NULL) {
		r = CV_ERR_NOMEM;
		goto out;
	}
	if ((r = cv_http_req(h, "POST", "/v1/enrol", NULL, body, NULL,
	    &status, &reply)) != CV_OK)
		goto out;
	if (status == 0) {
		r = cv_fail(CV_ERR_IO, "cannot reach %s (or its certificate is "
		    "not from the CA in %s)", url, ca);
		goto out;
	}
	j = reply ? json_loads(reply, 0, NULL) : NULL;
	if (status != 201) {
		const char *d = json_string_value(json_object_get(j, "detail"));
		r = cv_fail(status == 403 ? CV_ERR_AUTH : CV_ERR_INVALID,
		    "the server said %d: %s", status, d ? d : "(no detail)");
		goto out;
	}
	crt = json_string_value(json_object_get(j, "certificate"));
	otp = json_string_value(json_object_get(j, "otpauth"));
	if (crt == NULL || otp == NULL || strlen(otp) >= size ||
	    strncmp(otp, "otpauth://", 10) != 0) {
		r = cv_fail(CV_ERR_FORMAT, "the server's reply is not an "
		    "enrolment");
		goto out;
	}
	snprintf(otpauth, size, "%s", otp);
	r = cv_buf_add(&cc->cert_pem, crt, strlen(crt));
 out:
	if (body) {
		sodium_memzero(body, strlen(body));
		free(body);
	}
	if (reply) {
		sodium_memzero(reply, strlen(reply));
		free(reply);
	}
	json_decref(req);
	json_decref(j);
	cv_http_free(h);
	return r;
}

/* At the vault itself: the operator's in-process keyd signs and seals,
 * as the server's would; this command is handed no key either. */
static cv_err
enrol_dir(const char *dir, const char *name, const char *code,
    struct cv_client_cert *cc, char *otpauth, size_t size)
{
	struct cv_vault *v = NULL;
	struct cv_audit *a = NULL;
	struct cv_keyd *k = NULL;
	struct cv_keyd_client *kd = NULL;
	struct cv_buf issued = { 0 };
	json_t *j = NULL;
	const char *crt, *otp;
	char reason[160];
	cv_err r, ar;

	if (cli_open("enrol", dir, &v, &a) != CLI_OK)
		return CV_ERR_INTERRUPTED;	/* reported already */
	if (cli_keyd("enrol", v, a, &k, &kd) != CLI_OK) {
		cli_close(v, a);
		return CV_ERR_INTERRUPTED;
	}
	if ((r = cv_keyd_ca_ensure(k)) == CV_OK)
		r = cv_keyd_enrol(kd, name, code,
		    (const char *)cc->csr_pem.p, cc->csr_pem.len, &issued);
	snprintf(reason, sizeof reason, "user %s: %s", name, r == CV_OK ?
	    "enrolled" : cv_err_detail());
	/* Nothing is handed out before its entry is durable. */
	if ((ar = cli_record(a, "users.enrol", r, reason, NULL, 0, 0)) !=
	    CV_OK && r == CV_OK)
		r = ar;
	if (r == CV_OK) {
		j = json_loadb((const char *)issued.p, issued.len, 0, NULL);
		crt = json_string_value(json_object_get(j, "cert"));
		otp = json_string_value(json_object_get(j, "otpauth"));
		if (crt == NULL || otp == NULL || strlen(otp) >= size)
			r = cv_fail(CV_ERR_INTERNAL, "keyd's enrolment reply "
			    "is malformed");
		else {
			snprintf(otpauth, size, "%s", otp);
			r = cv_buf_add(&cc->cert_pem, crt, strlen(crt));
		}
	}
	/* The reply holds the TOTP seed: jansson's copies are wiped as they
	 * are freed (json_set_alloc_funcs in main), the buffer by
	 * cv_buf_free. */
	json_decref(j);
	cv_buf_free(&issued);
	cli_keyd_close(k, kd);
	cli_close(v, a);
	return r;
}

static int
write_out(const char *folder, const char *name, const char *ext,
    const void *data, size_t len, unsigned mode)
{
	char path[1200];
	cv_err r;

	if ((r = cv_path(path, sizeof path, "%s/%s.%s", folder, name, ext)) !=
	    CV_OK || (r = cv_file_create(path, data, len, mode)) != CV_OK)
		return cli_fail("enrol", r);
	return CLI_OK;
}

int
cmd_enrol(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_DIR, CLI_OPT_HELP,
		{ "name", required_argument, NULL, 'n' },
		{ "code", required_argument, NULL, 'c' },
		{ "out", required_argument, NULL, 'o' },
		{ "server", required_argument, NULL, 's' },
		{ "ca", required_argument, NULL, 'a' },
		{ "qr-png", required_argument, NULL, 'q' },
		{ 0, 0, 0, 0 }
	};
	const char *dir = NULL, *name = NULL, *out = NULL, *server = NULL;
	const char *ca = NULL, *png = NULL;
	char code[64] = "", otpauth[CV_OTPAUTH_MAX] = "", path[1200];
	char capath[1200];
	struct cv_client_cert cc;
	struct stat st;
	int c, rc = CLI_FAIL;
	cv_err r;

	memset(&cc, 0, sizeof cc);
	while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'n': name = optarg; break;
		case 'c':
			snprintf(code, sizeof code, "%s", optarg);
			break;
		case 'o': out = optarg; break;
		case 's': server = optarg; break;
		case 'a': ca = optarg; break;
		case 'q': png = optarg; break;
		case 'h': return cli_help(help);
		default: return cli_usage("enrol", use, "bad option");
		}
	}
	if (optind != argc)
		return cli_usage("enrol", use, "unexpected argument '%s'",
		    argv[optind]);
	if (name == NULL || !cv_auth_valid_name(name))
		return cli_usage("enrol", use, "--name: your user name (1-64 of "
		    "a-z 0-9 . _ -)");
	if (out == NULL || stat(out, &st) != 0 || !S_ISDIR(st.st_mode))
		return cli_usage("enrol", use, "--out must be an existing "
		    "folder");
	if (!!server == !!dir || (server && ca == NULL))
		return cli_usage("enrol", use, "give --server URL with --ca FILE, "
		    "or --dir DIR");
	/* Never over an existing key: it may be someone's only copy. */
	if (cv_path(path, sizeof path, "%s/%s.key", out, name) != CV_OK ||
	    stat(path, &st) == 0)
		return cli_usage("enrol", use, "%s exists; choose another "
		    "--out", path);
	if (png && stat(png, &st) == 0)
		return cli_usage("enrol", use, "--qr-png: %s exists", png);
	if (code[0] == '\0' && !read_code(code, sizeof code))
		return cli_usage("enrol", use, "no enrolment code");
	if ((r = cv_ca_csr_new(name, &cc)) != CV_OK) {
		cli_fail("enrol", r);
		goto out;
	}
	r = server ? enrol_server(server, ca, name, code, &cc, otpauth,
	    sizeof otpauth) : enrol_dir(dir, name, code, &cc, otpauth,
	    sizeof otpauth);
	if (r == CV_ERR_INTERRUPTED)
		goto out;
	if (r == CV_ERR_AUTH || r == CV_ERR_LIMIT) {
		fprintf(stderr, "clearvault enrol: refused: %s\n",
		    cv_err_detail());
		goto out;
	}
	if (r == CV_OK && !server)
		r = cv_path(capath, sizeof capath, "%s/ca.pem", dir);
	if (r != CV_OK || (r = cv_ca_p12(&cc, name, server ? ca : capath)) !=
	    CV_OK) {
		cli_fail("enrol", r);
		goto out;
	}
	if (write_out(out, name, "key", cc.key_pem.p, cc.key_pem.len, 0600) ||
	    write_out(out, name, "crt", cc.cert_pem.p, cc.cert_pem.len,
	    0644) ||
	    write_out(out, name, "p12", cc.p12.p, cc.p12.len, 0600) ||
	    write_out(out, name, "p12.pass", cc.p12_pass,
	    strlen(cc.p12_pass), 0600) ||
	    write_out(out, name, "otpauth", otpauth, strlen(otpauth), 0600))
		goto out;
	printf("enrolled %s: key %s/%s.key (made here, 0600), certificate "
	    "%s/%s.crt,\nPKCS#12 %s/%s.p12 (password in %s.p12.pass)\n\n"
	    "TOTP secret, shown once (also in %s/%s.otpauth):\n%s\n\n", name,
	    out, name, out, name, out, name, name, out, name, otpauth);
	cli_print_qr(otpauth);
	/* Enrolled all the same without the image (the code is spent):
	 * the secret is in NAME.otpauth, so a warning, not a failure. */
	if (png && cli_qr_png(otpauth, png) != CV_OK)
		fprintf(stderr, "clearvault enrol: warning: no QR image: %s "
		    "(the secret is in %s/%s.otpauth)\n", cv_err_detail(), out,
		    name);
	else if (png)
		printf("QR code of the TOTP secret: %s (0600)\n", png);
	rc = fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
 out:
	sodium_memzero(code, sizeof code);
	sodium_memzero(otpauth, sizeof otpauth);
	cv_client_cert_clear(&cc);
	return rc;
}
