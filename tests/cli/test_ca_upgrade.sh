#!/bin/bash
# A vault from before the P-256 CA (tests/data/ed25519-vault.tar.gz, made
# by tests/data/make_ed25519_vault.sh with such a release): its next start
# moves the Ed25519 CA aside (ca-ed25519.pem), makes a P-256 CA in the HSM
# and a P-256 server certificate, and keeps accepting the client
# certificates the old CA issued; new users get certificates from the new
# CA; the log verifies across the change.
. "$(dirname "$0")/lib.sh"

DATA=$(cd "$(dirname "$0")/../data" && pwd)
tar -C "$T" -xzf "$DATA/ed25519-vault.tar.gz" ||
    { bad "fixture"; finish; exit 1; }
pk() { openssl x509 -in "$1" -noout -text | grep "Public Key Algorithm"; }
pk "$T/v/ca.pem" | grep -q ED25519 && ok || bad "the fixture's CA is not Ed25519"
cp "$T/v/ca.pem" "$T/old-ca.pem"
# The fixture was made in another folder: the operator's move.
expect_ok "rebind the moved vault" "$CV" rebind --dir "$T/v"

start_server "$T/v" || { bad "server start"; finish; exit 1; }
trap 'kill "$SRV_PID" 2>/dev/null; cv_cleanup' EXIT
pk "$T/v/ca.pem" | grep -q id-ecPublicKey && ok || bad "ca.pem is not P-256"
pk "$T/v/server.pem" | grep -q id-ecPublicKey && ok ||
    bad "server.pem is not P-256"
cmp -s "$T/old-ca.pem" "$T/v/ca-ed25519.pem" && ok ||
    bad "the Ed25519 CA is not kept as ca-ed25519.pem"
expect_ok "the server certificate chains to the new CA" openssl verify \
    -CAfile "$T/v/ca.pem" "$T/v/server.pem"
"$CV" ca-cert --dir "$T/v" >"$T/ca.pem"
cmp -s "$T/ca.pem" "$T/v/ca.pem" && ok || bad "ca-cert is not the new CA"

# olga's certificate is the old CA's; she logs in as before.
openssl verify -CAfile "$T/old-ca.pem" "$T/k/olga.crt" >/dev/null 2>&1 &&
    ok || bad "olga's certificate is not the old CA's"
login_fresh olga
expect_code "olga logs in with her Ed25519-CA certificate" 201
# A certificate of neither CA is still refused.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/k/mallory.key" -out "$T/k/mallory.crt" -days 1 \
    -subj "/CN=olga/OU=investigator" 2>/dev/null
cp "$T/k/olga.otpauth" "$T/k/mallory.otpauth"
login mallory
[ "$code" != 201 ] && ok || bad "a self-made certificate logged in"
stop_server
expect_eq "server exit status" 0 "$SRV_RC"

# A second start changes nothing more.
cp "$T/v/ca.pem" "$T/ca1.pem"
start_server "$T/v" || { bad "second start"; finish; exit 1; }
cmp -s "$T/ca1.pem" "$T/v/ca.pem" && ok || bad "the second start made a new CA"
stop_server

# A new user: granted by the bootstrap's officers (their certificates are
# the old CA's too), enrolled under the new CA.
add_users "$T/v" nina:investigator || bad "a new user after the upgrade"
openssl verify -CAfile "$T/v/ca.pem" "$T/k/nina.crt" >/dev/null 2>&1 &&
    ok || bad "nina's certificate is not the new CA's"
openssl x509 -in "$T/k/nina.crt" -noout -text |
    grep -q "ecdsa-with-SHA256" && ok || bad "nina's certificate is not ECDSA-signed"
start_server "$T/v" || { bad "third start"; finish; exit 1; }
login nina
expect_code "nina logs in with her P-256-CA certificate" 201
login_fresh olga
expect_code "olga still logs in" 201
stop_server

# A former CA that is not this vault's (dropped into the folder) would let
# its owner's certificates through the TLS check: the server refuses to
# start instead, naming the file.
cp "$T/v/ca-ed25519.pem" "$T/legacy.keep"
openssl req -x509 -newkey ed25519 -nodes -keyout "$T/evil.key" \
    -out "$T/v/ca-ed25519.pem" -days 1 -subj "/CN=clearvault CA evil" \
    2>/dev/null
"$CV" serve --dir "$T/v" --listen 127.0.0.1:0 >"$T/out" 2>"$T/err" &
pid=$!
for _ in $(seq 1 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
if kill -0 $pid 2>/dev/null; then
	kill $pid
	bad "the server started with a foreign ca-ed25519.pem"
else
	grep -q "ca-ed25519.pem is not this vault's former CA" "$T/err" && ok ||
	    bad "no refusal naming ca-ed25519.pem: $(cat "$T/err")"
fi
wait $pid 2>/dev/null
cp "$T/legacy.keep" "$T/v/ca-ed25519.pem"
expect_ok "audit verify across the change" "$CV" audit verify --dir "$T/v"
finish
