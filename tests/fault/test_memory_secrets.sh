#!/bin/bash
# Secrets in the server's memory (issue 17, item 7): after a login and a
# few requests, the api worker's memory holds the session's token only as
# its SHA-256 (the lookup key), never the token itself; after an
# enrolment through the server, neither the api worker nor keyd holds the
# new user's TOTP secret (keyd keeps it sealed). Memory is read from
# /proc/PID/mem, as an attacker with the worker's memory image would. The
# control: the token's hash is found where the sessions live.
# Run by meson on the sanitizer build (ASan's free fill); tests/run.sh
# runs it on the release build too (base/wipe.c), there also with
# ONE_PROCESS=1: `serve --one-process`, keyd and the api one process.
. "$(dirname "$0")/../cli/lib.sh"

SRV_PID=
trap 'kill "$SRV_PID" 2>/dev/null; cv_cleanup' EXIT
make_vault v 5 || { bad "setup"; finish; exit 1; }
add_users "$T/v" adj:adjudicator || { bad "users"; finish; exit 1; }
start_server "$T/v" ${ONE_PROCESS:+--one-process} ||
    { bad "server start"; finish; exit 1; }

child() {	# COMM: the supervisor's child of that name
	local p
	for p in $(cat /proc/"$SRV_PID"/task/*/children 2>/dev/null); do
		[ "$(cat /proc/"$p"/comm 2>/dev/null)" = "$1" ] && echo "$p"
	done
}
if [ -n "${ONE_PROCESS:-}" ]; then
	API=$SRV_PID KEYD=$SRV_PID
else
	API=$(child cv-api)
	KEYD=$(child cv-keyd)
fi
[ -n "$API" ] && [ -n "$KEYD" ] && ok || bad "api ($API) and keyd ($KEYD)"

# A session and a few requests, each on its own connection, and two on
# one connection.
req k/adj POST /v1/session "{\"totp\":\"$(fresh_totp "$T/k/adj.otpauth" \
    "$T/adj.step")\"}"
expect_code "login" 201
tok=$(json_field "$T/body" "d['token']")
for i in 1 2 3; do
	req k/adj GET /v1/session "" "$tok"
	expect_code "request $i" 200
done
curl -s -o /dev/null -o /dev/null --cacert "$T/ca.pem" \
    --cert "$T/k/adj.crt" --key "$T/k/adj.key" \
    -H "Authorization: Bearer $tok" "${URL}v1/session" "${URL}v1/session"

# And a connection that stays open, idle after its reply, while the
# memory is read (a client's keep-alive connection does).
python3 - "$URL" "$T/ca.pem" "$T/k/adj.crt" "$T/k/adj.key" "$tok" \
    "$T/idle" <<'PY' &
import os, socket, ssl, sys, time, urllib.parse
url, ca, crt, key, tok, flag = sys.argv[1:]
u = urllib.parse.urlparse(url)
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(crt, key)
s = ctx.wrap_socket(socket.create_connection((u.hostname, u.port)),
                    server_hostname=u.hostname)
s.sendall(b"GET /v1/session HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
          + tok.encode() + b"\r\n\r\n")
got = b""
while b"\r\n\r\n" not in got or not got.rstrip().endswith(b"}"):
    got += s.recv(4096)
open(flag, "w").write(got.split(b" ")[1].decode())
while os.path.exists(flag):
    time.sleep(0.1)
s.close()
PY
IDLE=$!
for _ in $(seq 1 50); do [ -s "$T/idle" ] && break; sleep 0.1; done
expect_eq "a kept-alive connection's request" 200 "$(cat "$T/idle" 2>/dev/null)"

# An enrolment through this server: proposed, approved, enrolled.
CVB_BOOT=$T/boot/v CVB_CA=$T/ca.pem CVB_URL=$URL
CVB_TADM=$(cv_boot_login "$CVB_BOOT" "$CVB_CA" "$URL" cvboot-adm)
CVB_TSO=$(cv_boot_login "$CVB_BOOT" "$CVB_CA" "$URL" cvboot-so1)
expect_ok "enrolment through the server" cv_grant_users "$T/k" \
    newbie:investigator
secret=$(sed -n 's/.*secret=\([A-Z2-7]*\).*/\1/p' "$T/k/newbie.otpauth")
[ -n "$secret" ] && ok || bad "the new user's TOTP secret"
sleep 0.5	# the connections are closed and torn down

# scan PID LABEL=HEX...: the labels of those found in PID's memory
scan() {
	local pid=$1
	shift
	printf '%s\n' "$@" | tr = ' ' >"$T/wanted"
	scan_mem "$pid" "$T/wanted"
}
hex() { printf %s "$1" | od -An -v -tx1 | tr -d ' \n'; }
tok_raw=$(python3 -c 'import base64,sys; print(base64.urlsafe_b64decode(sys.argv[1] + "=").hex())' "$tok")
tok_hash=$(printf %s "$tok" | sha256sum | cut -d' ' -f1)
seed=$(python3 -c 'import base64,sys; print(base64.b32decode(sys.argv[1]).hex())' "$secret")

expect_eq "the token's hash is the session's key (the control)" hash \
    "$(scan "$API" hash="$tok_hash")"
expect_eq "token or TOTP secret in the api worker's memory" "" \
    "$(scan "$API" token="$(hex "$tok")" token-bytes="$tok_raw" \
    totp="$(hex "$secret")" totp-seed="$seed")"
expect_eq "the TOTP secret in keyd's memory" "" \
    "$(scan "$KEYD" totp="$(hex "$secret")" totp-seed="$seed")"
rm -f "$T/idle"
wait "$IDLE"
req k/adj GET /v1/session "" "$tok"
expect_code "the session still works" 200

stop_server
expect_eq "server exit status" 0 "$SRV_RC"
finish
