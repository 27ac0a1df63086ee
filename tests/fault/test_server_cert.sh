#!/bin/bash
# A damaged server certificate (or one whose key is not the vault's TLS
# key, or a damaged CA certificate): the server refuses to start, naming
# the file, instead of starting and failing every handshake.
. "$(dirname "$0")/../cli/lib.sh"

"$CV" init --dir "$T/v" 2>/dev/null || bad "init v"
"$CV" init --dir "$T/w" 2>/dev/null || bad "init w"
"$CV" ca-cert --dir "$T/v" >/dev/null || bad "ca-cert v"
"$CV" ca-cert --dir "$T/w" >/dev/null || bad "ca-cert w"
cp "$T/v/server.pem" "$T/server.orig"
cp "$T/v/ca.pem" "$T/ca.orig"

# serve_refused DESC FILE: serve exits non-zero at once, naming FILE, and
# never listens.
serve_refused() {
	timeout 60 "$CV" serve --dir "$T/v" --listen 127.0.0.1:0 \
	    >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]; then
		bad "$1: server ran (exit $rc)"
	elif grep -q listening "$T/out"; then
		bad "$1: it listened"
	elif ! grep -q -- "$2" "$T/err"; then
		bad "$1: stderr does not name $2: $(head -c 400 "$T/err")"
	else
		ok
	fi
}

# flip FILE LINE: one base64 character changed on that line of a PEM
# (its 50th: a full line's last 14, within an ECDSA signature's last 100)
flip() {
	python3 - "$1" "$2" <<'PY'
import sys
path, n = sys.argv[1], int(sys.argv[2])
lines = open(path).read().split("\n")
s = lines[n]
assert len(s) == 64, "not a full base64 line: %r" % s
c = s[50]
lines[n] = s[:50] + ("A" if c != "A" else "B") + s[51:]
open(path, "w").write("\n".join(lines))
PY
}

# The signature (near the end): parses, but the CA did not sign this.
flip "$T/v/server.pem" $(($(wc -l <"$T/v/server.pem") - 3))
serve_refused "server.pem with a broken signature" "$T/v/server.pem"
cp "$T/server.orig" "$T/v/server.pem"

# Another vault's certificate: a fine certificate, for another key.
cp "$T/w/server.pem" "$T/v/server.pem"
serve_refused "another vault's server.pem" "$T/v/server.pem"
cp "$T/server.orig" "$T/v/server.pem"

# Cut short, or not PEM at all.
head -c 300 "$T/server.orig" >"$T/v/server.pem"
serve_refused "truncated server.pem" "$T/v/server.pem"
echo garbage >"$T/v/server.pem"
serve_refused "garbage server.pem" "$T/v/server.pem"
cp "$T/server.orig" "$T/v/server.pem"

# The CA certificate: another vault's, and damaged.
cp "$T/w/ca.pem" "$T/v/ca.pem"
serve_refused "another vault's ca.pem" "$T/v/ca.pem"
cp "$T/ca.orig" "$T/v/ca.pem"
flip "$T/v/ca.pem" $(($(wc -l <"$T/v/ca.pem") - 3))
serve_refused "ca.pem with a broken signature" "$T/v/ca.pem"
cp "$T/ca.orig" "$T/v/ca.pem"

# Put right, it starts and a client completes a handshake.
start_server "$T/v" || bad "server start after the repair"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/v/ca.pem" \
    "${URL}healthz")
expect_eq "handshake and /healthz" 200 "$code"
stop_server
finish
