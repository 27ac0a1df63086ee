#!/bin/bash
# What a browser needs of the vault (issue 14, "browsers must be able to
# connect"): the CA and the server certificate are ECDSA P-256 (Chromium
# and Firefox refuse Ed25519: NSS's certutil would not even import the
# CA), a client offering only ECDSA signature algorithms gets through, a
# handshake that fails gets a TLS alert instead of a bare close, the
# user's PKCS#12 carries a friendly name and the CA and imports into NSS
# in one step, and the TOTP QR code reads back, from the terminal (black
# on white whatever the theme, a quiet zone of four modules) and from the
# PNG file, as the otpauth URI that names the vault.
. "$(dirname "$0")/lib.sh"

for t in certutil pk12util zbarimg script; do
	command -v "$t" >/dev/null ||
	    { bad "$t missing (scripts/deps.sh installs it)"; finish; exit 1; }
done
expect_ok "init with the first officers" "$CV" init --dir "$T/v" \
    --admin ann --officer olga --officer oscar
cp "$T/out" "$T/codes"
code() { sed -n "s/^user $1 .*enrolment code \([A-Z0-9-]*\).*/\1/p" "$T/codes"; }
VID=$(sed -n 's/^vault_id = //p' "$T/v/clearvault.conf")
expect_ok "ca-cert" "$CV" ca-cert --dir "$T/v"
cp "$T/out" "$T/ca.pem"

# ---- the certificates: P-256, signed with ECDSA ---------------------------
for f in "$T/ca.pem" "$T/v/server.pem"; do
	openssl x509 -in "$f" -noout -text >"$T/x" 2>&1
	grep -q "ASN1 OID: prime256v1" "$T/x" &&
	    grep -q "Signature Algorithm: ecdsa-with-SHA256" "$T/x" && ok ||
	    bad "$(basename "$f") is not ECDSA P-256: $(grep Algorithm "$T/x")"
done
# NSS is the certificate store of Chromium and Firefox on Linux.
mkdir "$T/nss"
expect_ok "NSS database" certutil -N -d "sql:$T/nss" --empty-password
expect_ok "NSS imports the vault CA" certutil -A -d "sql:$T/nss" -n vaultca \
    -t "CT,C,C" -i "$T/ca.pem"
expect_ok "NSS takes the server certificate" certutil -A -d "sql:$T/nss" \
    -n server -t ",," -i "$T/v/server.pem"
expect_ok "NSS verifies it as a TLS server's" certutil -V -d "sql:$T/nss" \
    -n server -u V
grep -q "certificate is valid" "$T/out" && ok ||
    bad "NSS: server certificate not valid: $(cat "$T/out")"

# ---- enrolment: the QR code, on a terminal and as a PNG --------------------
mkdir "$T/keys"
script -qec "'$CV' enrol --dir '$T/v' --name olga --code '$(code olga)' \
    --out '$T/keys' --qr-png '$T/olga.png'" /dev/null >"$T/tty" 2>&1 &&
    ok || bad "enrol on a terminal: $(tail -c 300 "$T/tty")"
URI=$(cat "$T/keys/olga.otpauth")
case $URI in
"otpauth://totp/clearvault%20$VID:olga?secret="*"&issuer=clearvault%20$VID&"*)
	ok ;;
*)	bad "the otpauth URI does not name the vault $VID: $URI" ;;
esac
expect_eq "PNG file mode" 600 "$(stat -c %a "$T/olga.png")"
expect_eq "the PNG reads back as the URI" "$URI" \
    "$(zbarimg -q --raw "$T/olga.png" 2>/dev/null)"
# The terminal's drawing, cell by cell (upper half block: foreground the
# upper module, background the lower), back into modules: every module
# explicitly black or white, four white ones all round, and a PBM image
# of it that reads back as the URI.
python3 - "$T/tty" "$T/tty.pbm" <<'PY' && ok || bad "the terminal QR code"
import re, sys
text = open(sys.argv[1], encoding="utf-8", errors="replace").read()
cell = re.compile(r"\x1b\[38;5;(\d+)m\x1b\[48;5;(\d+)m\u2580")
rows = []
for line in text.splitlines():
    cells = cell.findall(line)
    if not cells:
        continue
    rest = cell.sub("", line).replace("\x1b[0m", "").strip()
    assert rest == "", "a line with more than cells: %r" % rest[:80]
    col = {"16": 1, "231": 0}
    rows.append([col[a] for a, b in cells])
    rows.append([col[b] for a, b in cells])
assert rows, "no QR code drawn"
w = len(rows[0])
assert all(len(r) == w for r in rows), "ragged"
# The code is square and odd-sized; a last half row is padding.
if len(rows) == w + 1:
    assert not any(rows[-1]), "padding row not white"
    rows = rows[:-1]
assert len(rows) == w, (len(rows), w)
for r in rows[:4] + rows[-4:]:
    assert not any(r), "quiet zone: a dark module in the top or bottom four"
for r in rows:
    assert not any(r[:4] + r[-4:]), "quiet zone: a dark module at the side"
with open(sys.argv[2], "w") as f:
    f.write("P1\n%d %d\n" % (w * 4, w * 4))
    for r in rows:
        line = " ".join(str(v) for v in r for _ in range(4))
        for _ in range(4):
            f.write(line + "\n")
PY
expect_eq "the terminal's QR code reads back as the URI" "$URI" \
    "$(zbarimg -q --raw "$T/tty.pbm" 2>/dev/null)"
expect_fail "--qr-png refuses to replace a file" "exists" "$CV" enrol \
    --dir "$T/v" --name oscar --code "$(code oscar)" --out "$T/keys" \
    --qr-png "$T/olga.png"

# ---- PKCS#12: one import brings the key, its certificate and the CA -------
mkdir "$T/nss2"
certutil -N -d "sql:$T/nss2" --empty-password
expect_ok "pk12util imports the PKCS#12" pk12util -i "$T/keys/olga.p12" \
    -d "sql:$T/nss2" -w "$T/keys/olga.p12.pass"
expect_ok "certutil lists it" certutil -L -d "sql:$T/nss2"
grep -q "^olga (clearvault CA $VID) *u,u,u" "$T/out" && ok ||
    bad "no key and certificate named 'olga (clearvault CA $VID)': $(cat "$T/out")"
grep -q "clearvault CA $VID" "$T/out" &&
    [ "$(grep -c "clearvault CA $VID" "$T/out")" -ge 2 ] && ok ||
    bad "the CA's certificate is not in the PKCS#12: $(cat "$T/out")"
# Trusted as the officer's browser is told to (the CA came with it).
expect_ok "the CA from the PKCS#12 can be trusted" certutil -M \
    -d "sql:$T/nss2" -n "clearvault CA $VID" -t "CT,C,C"
expect_ok "NSS verifies olga's certificate as a TLS client's" certutil -V \
    -d "sql:$T/nss2" -n "olga (clearvault CA $VID)" -u C

# ---- TLS as browsers speak it ---------------------------------------------
start_server "$T/v" || { bad "server start"; finish; exit 1; }
HP=${URL#https://}
HP=${HP%/}
tls() {	# DESC: a handshake with openssl s_client's options after it
	local d=$1
	shift
	echo | timeout 10 openssl s_client -connect "$HP" -CAfile "$T/ca.pem" \
	    "$@" >"$T/tls" 2>&1
}
tls "ECDSA only" -sigalgs "ECDSA+SHA256" -groups P-256
grep -q "Verify return code: 0 (ok)" "$T/tls" && ok ||
    bad "a client offering only ECDSA P-256: $(grep -i -m3 'error\|alert' "$T/tls")"
grep -q "Peer signature type: ECDSA" "$T/tls" && ok || bad "not an ECDSA handshake"
for opts in "-sigalgs RSA-PSS+SHA256" "-tls1_2 -sigalgs RSA+SHA256" \
    "-tls1_1" "-ciphersuites TLS_AES_128_CCM_SHA256"; do
	tls "$opts" $opts
	grep -q "alert handshake failure" "$T/tls" && ok ||
	    bad "$opts: no handshake_failure alert: $(grep -i -m2 'error\|alert' "$T/tls")"
done
# The server is still well after those.
req "" GET /healthz
expect_code "healthz after refused handshakes" 200
# olga's certificate logs in (her TOTP was just made: a fresh step).
login olga keys
expect_code "olga logs in with her enrolled certificate" 201
stop_server
expect_eq "server exit status" 0 "$SRV_RC"
finish
