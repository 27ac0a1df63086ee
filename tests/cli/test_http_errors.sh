#!/bin/bash
# Requests refused before routing: every one is an audit entry, and those
# the server decides are RFC 9457 problem+json: a body framed twice
# (Transfer-Encoding and Content-Length, two Content-Lengths: RFC 9112
# 6.3), no Host, a target, headers or a Content-Length over the limits.
# What libmicrohttpd refuses itself (beyond its own limits, or an HTTP
# version it cannot parse) keeps its text/html reply but is audited too:
# with source and path once a request line was parsed, else counted in an
# aggregate entry.
. "$(dirname "$0")/lib.sh"

"$CV" init --dir "$T/v" 2>/dev/null || bad "init"
start_server "$T/v" || { bad "server start"; finish; exit 1; }
trap 'kill "$SRV_PID" 2>/dev/null; cv_cleanup' EXIT
PORT=${URL##*:}
PORT=${PORT%/}

# raw TEXT: sends TEXT (printf escapes) over TLS as it is; the reply's
# status in $code, its Content-Type in $ctype, its body in $T/body.
raw() {
	python3 - "$PORT" "$T/v/ca.pem" "$T/body" "$1" <<'PY' >"$T/head"
import socket, ssl, sys
port, ca, body, text = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
data = text.encode().decode("unicode_escape").encode("latin1")
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                    server_hostname="127.0.0.1")
s.settimeout(10)
try:
    s.sendall(data)
except OSError:
    pass		# refused before all of it was read
out = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
except (OSError, ssl.SSLError):
    pass
head, _, rest = out.partition(b"\r\n\r\n")
lines = head.decode("latin1").split("\r\n")
ctype = [l.split(":", 1)[1].strip() for l in lines[1:]
         if l.lower().startswith("content-type:")]
open(body, "wb").write(rest)
print(lines[0].split(" ")[1] if " " in lines[0] else "000",
      ctype[0] if ctype else "-")
PY
	read -r code ctype <"$T/head"
}

# problem DESC STATUS: the last reply was STATUS as problem+json.
problem() {
	expect_problem "$1" "$2"
	expect_eq "$1: Content-Type" "application/problem+json" "$ctype"
}

pad() { python3 -c "print('$1' * $2, end='')"; }

raw 'POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'
problem "Transfer-Encoding and Content-Length" 400
raw 'POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\ncontent-length: 0\r\n\r\n0\r\n\r\n'
problem "Transfer-Encoding and Content-Length (case)" 400
raw 'POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello'
problem "two Content-Lengths" 400
raw 'POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 50\r\n\r\nhello'
problem "two different Content-Lengths" 400
raw 'GET /healthz HTTP/1.1\r\n\r\n'
problem "HTTP/1.1 without Host" 400
raw 'GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'
problem "two Hosts" 400
# Refused before the body is read: the 10 MB never need to be sent.
raw 'POST /v1/session HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n{"totp":'
problem "Content-Length over 64 KiB" 413
# curl, as a client would send them.
code=$(curl -s -o "$T/body" -w '%{http_code} %{content_type}' \
    --cacert "$T/v/ca.pem" "${URL}v1/$(pad a 10000)")
ctype=${code#* }
code=${code%% *}
problem "target over 8 KiB" 414
code=$(curl -s -o "$T/body" -w '%{http_code} %{content_type}' \
    -H "X-Pad: $(pad x 20000)" --cacert "$T/v/ca.pem" "${URL}healthz")
ctype=${code#* }
code=${code%% *}
problem "headers over 16 KiB" 431
# A well-formed request on the same footing is served.
raw 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
expect_code "plain request" 200

# Beyond the library's own limits: its reply, and an entry.
raw "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: $(pad x 48000)\r\n\r\n"
expect_code "headers over the library's limit" 431
raw "GET /$(pad a 48000) HTTP/1.1\r\nHost: x\r\n\r\n"
expect_code "request line over the library's limit" 414
raw 'GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n'
expect_code "HTTP/2.0 on HTTP/1" 505
raw 'GET /healthz HTTP/1.x\r\nHost: x\r\n\r\n'
expect_code "unparseable version" 400
sleep 2		# the aggregate entry is written once a second
stop_server
expect_eq "server exit status" 0 "$SRV_RC"

"$CV" audit tail --dir "$T/v" --json -n 100 >"$T/log"
python3 - "$T/log" <<'PY' && ok || bad "every refusal an audit entry"
import json, re, sys
es = [json.loads(l) for l in open(sys.argv[1])]
ref = [e for e in es if e["action"] == "http.refused"]
mine = [e for e in ref if e["source"] == "127.0.0.1"]
assert all(e["outcome"] == "denied" for e in ref), ref
def one(part):
    got = [e for e in mine if part in e["reason"]]
    assert len(got) == 1, (part, [e["reason"] for e in mine])
    return got[0]
assert len([e for e in mine if "both Transfer-Encoding and "
            "Content-Length" in e["reason"]]) == 2
assert len([e for e in mine if "more than one Content-Length"
            in e["reason"]]) == 2
one("HTTP/1.1 without Host")
one("more than one Host")
one("413 body too large")
one("414 URI too long")
one("431 request header fields too large: the request line")
lib = one("431 refused by the HTTP library")
assert lib["reason"].endswith(": /healthz"), lib
assert len(mine) == 10, [e["reason"] for e in mine]
# Before a request line, the library names no connection: counted.
agg = [e for e in ref if e["source"] == "?"]
counts = {}
for e in agg:
    for n, s in re.findall(r" (\d+) x (\d+)", e["reason"]):
        counts[s] = counts.get(s, 0) + int(n)
assert counts == {"414": 1, "505": 1, "400": 1}, counts
PY
finish
