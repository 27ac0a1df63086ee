# The browser tests' set-up, to source from bash (after tests/cli/lib.sh
# when the test uses it): a $HOME for Chromium whose NSS database trusts
# the vault CA and holds a user's key and certificate, and a managed
# policy that picks that certificate without a prompt.
#
#   web_require                    exit 77 (meson's skip) unless possible
#   web_home DIR CA.pem            DIR/.pki/nssdb, the CA trusted (CT,C,C)
#   web_import_p12 DIR P12 PASSFILE   a user's PKCS#12 into DIR's database
#   web_autoselect URL             the policy file for URL's origin
#   web_cleanup                    removes the policy file (at exit too)
#
# Chromium on Linux takes client certificates and trusted CAs from
# $HOME/.pki/nssdb. Its policies come from /etc/chromium/policies/managed:
# one file per test run, named uniquely, removed by the exit trap. The
# directory is read by EVERY Chromium on the machine, and when several
# files set the same policy the last one by name wins (no merging): the
# pattern is therefore any port of 127.0.0.1 for the vault CA's
# certificates, the same whichever test writes it. Two test runs at once
# that need different certificates on 127.0.0.1 would still clash.

WEB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WEB_POLICY_DIR=${WEB_POLICY_DIR:-/etc/chromium/policies/managed}
WEB_POLICY=

# Skips the test (exit 77, with the reason on stderr) when the browser
# tests cannot run here: no chromium, no NSS tools, or no way to write
# the policy that selects the client certificate.
web_require() {
	local why=
	CHROMIUM=${CHROMIUM:-$(command -v chromium)}
	if [ -z "$CHROMIUM" ] || [ ! -x "$CHROMIUM" ]; then
		why="chromium missing (Debian package chromium; scripts/deps.sh)"
	elif ! command -v certutil >/dev/null ||
	    ! command -v pk12util >/dev/null; then
		why="certutil/pk12util missing (libnss3-tools; scripts/deps.sh)"
	elif ! command -v python3 >/dev/null; then
		why="python3 missing"
	elif [ "$(id -u)" -ne 0 ] && [ ! -w "$WEB_POLICY_DIR" ]; then
		why="not root: cannot write Chromium's policy in $WEB_POLICY_DIR"
	elif ! mkdir -p "$WEB_POLICY_DIR" 2>/dev/null ||
	    [ ! -w "$WEB_POLICY_DIR" ]; then
		why="$WEB_POLICY_DIR is not writable"
	fi
	if [ -n "$why" ]; then
		echo "SKIP: browser test: $why" >&2
		exit 77
	fi
	export CHROMIUM
}

# DIR/.pki/nssdb: a fresh NSS database (no password) trusting CA.pem for
# TLS servers and clients.
web_home() {	# DIR CA.pem
	local db=$1/.pki/nssdb
	mkdir -p "$db" &&
	certutil -N -d "sql:$db" --empty-password &&
	certutil -A -d "sql:$db" -n "clearvault test CA" -t "CT,C,C" \
	    -i "$2"
}

# A user's key and certificate (and the CA in it) from PKCS#12 P12, its
# password in file PASSFILE, into DIR's NSS database.
web_import_p12() {	# DIR P12 PASSFILE
	pk12util -i "$2" -w "$3" -d "sql:$1/.pki/nssdb" >/dev/null
}

# The managed policy AutoSelectCertificateForUrls for URL's host (any of
# its ports), the vault CA's certificates: the browsers started from now
# on present the user's certificate there without asking. Removed by
# web_cleanup, which the exit trap runs.
web_autoselect() {	# URL
	local host
	host=${1#https://}
	host=${host%%/*}
	host=${host%:*}
	web_cleanup
	WEB_POLICY=$WEB_POLICY_DIR/clearvault-test-$$-$(date +%s%N).json
	# Written beside the folder and moved in: Chromium watches it, and a
	# browser starting elsewhere must not read half a file.
	python3 - "$host" >"$WEB_POLICY_DIR/../.${WEB_POLICY##*/}" <<'PY' &&
import json, sys
rule = {"pattern": "https://%s:*" % sys.argv[1], "filter": {}}
print(json.dumps({"AutoSelectCertificateForUrls": [json.dumps(rule)]}))
PY
	chmod 644 "$WEB_POLICY_DIR/../.${WEB_POLICY##*/}" &&
	mv "$WEB_POLICY_DIR/../.${WEB_POLICY##*/}" "$WEB_POLICY" ||
	    { rm -f "$WEB_POLICY_DIR/../.${WEB_POLICY##*/}"; WEB_POLICY=;
	    return 1; }
}

web_cleanup() {
	[ -n "$WEB_POLICY" ] && rm -f "$WEB_POLICY"
	WEB_POLICY=
}

# At exit, the policy file goes, then lib.sh's own clean-up if there is
# one; a TERM or INT (a meson timeout, ^C) exits through it too.
trap 'web_cleanup; declare -F cv_cleanup >/dev/null && cv_cleanup' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
