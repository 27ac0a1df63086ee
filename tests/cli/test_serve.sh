#!/bin/bash
# The server: mutual TLS, TOTP login, sessions bound to the certificate;
# every refusal is a 4xx problem+json and an audit entry.
. "$(dirname "$0")/lib.sh"

"$CV" init --dir "$T/v" 2>/dev/null
"$CV" init --dir "$T/w" 2>/dev/null
mkdir -p "$T/k2"
# alice of another vault (w): same name, another CA
add_users "$T/w" alice:investigator && mv "$T/k"/alice.* "$T/k2/" ||
    bad "users of w"
add_users "$T/v" alice:investigator bob:adjudicator carol:auditor \
    dave:auditor || bad "users of v"
start_server "$T/v" || { bad "server start"; finish; exit 1; }
trap 'kill "$SRV_PID" 2>/dev/null; cv_cleanup' EXIT

req "" GET /healthz
expect_code "healthz without a certificate" 200
req "" GET /v1/session
expect_problem "no certificate" 401
req "k2/alice" POST /v1/session '{"totp":"123456"}'
expect_problem "another CA's certificate" 401
grep -q "not issued by this vault" "$T/body" && ok || bad "names the CA"

login alice
expect_code "login" 201
[ ${#tok} -eq 43 ] && ok || bad "token shape"
t_alice=$tok
req k/alice GET /v1/session "" "$t_alice"
expect_code "session works" 200
expect_eq "session user" alice "$(json_field "$T/body" "d['user']")"
# The very code that just logged in, again (not a fresh one: the 30 s
# window may have turned).
req k/alice POST /v1/session "{\"totp\":\"$last_code\"}"
expect_problem "replayed TOTP" 401
req k/bob POST /v1/session '{"totp":"000000"}'
expect_problem "wrong TOTP" 401
req k/bob POST /v1/session "{\"totp\":\"$(totp "$T/k/bob.otpauth" 5)\"}"
expect_problem "TOTP from the future" 401
req k/bob POST /v1/session '{"totp":123456}'
expect_problem "TOTP not a string" 400
req k/bob POST /v1/session '{"totp":"1","x":2}'
expect_problem "unknown field" 400
req k/bob POST /v1/session '{"totp":'
expect_problem "broken JSON" 400
req k/bob GET /v1/session "" "$t_alice"
expect_problem "token with another certificate" 401
grep -q "another certificate" "$T/body" && ok || bad "says why"
req k/alice GET /v1/session "" "x$t_alice"
expect_problem "forged token" 401
req k/alice GET /v1/nothing "" "$t_alice"
expect_problem "unknown endpoint" 404
req k/bob POST /v1/session "$(printf '{"totp":"\377\376"}')"
expect_problem "bad UTF-8" 400
req k/bob POST /v1/session '{"totp":"12345678901234567890"}'
expect_problem "overlong value" 400
req k/bob POST /v1/session '{"totp":"123456","totp":"123456"}'
expect_problem "duplicate key" 400
req k/bob GET "/v1/session/../../etc/passwd"
expect_problem "path tricks" 401
big=$(python3 -c "print('{\"totp\":\"' + 'x' * 70000 + '\"}')")
req k/bob POST /v1/session "$big"
expect_problem "body too large" 413

# Five wrong codes: the certificate is locked out for a while.
for i in 1 2 3 4 5; do req k/carol POST /v1/session '{"totp":"000000"}'; done
login carol
expect_problem "rate limited after failures" 429
grep -q "too many" "$T/body" && ok || bad "rate limit reason" 

# Changes take effect without a restart, by another process too: what
# each worker thread keeps of a certificate and its user (asked on every
# request, so several first) is read again after any commit.
live() {	# USER TOKEN WANT LABEL: four requests, each on its own connection
	local i
	for i in 1 2 3 4; do
		req "k/$1" GET /v1/session "" "$2"
		expect_code "$4 ($i)" "$3"
	done
}
live alice "$t_alice" 200 "live certificate"
"$CV" user revoke-cert --dir "$T/v" alice 2>/dev/null
live alice "$t_alice" 401 "revoked certificate, live session"
login bob
t_bob=$tok
live bob "$t_bob" 200 "live user"
"$CV" user disable --dir "$T/v" bob 2>/dev/null
live bob "$t_bob" 401 "disabled user, live session"
login dave
expect_code "login dave" 201
t_dave=$tok

stop_server
grep -q "stopped" "$T/serve.err" && ok || bad "clean shutdown"
cp "$T/serve.err" "$T/serve1.err"

# A low request-rate limit per certificate: a burst beyond it gets 429s.
# (Rate 1, bursts of 2: however slow this machine is, most of 30 go over;
# the last refusal is kept, whatever the last reply was.)
start_server "$T/v" --rate 1 || bad "second server start"
# A session outlives a restart, as it works on any node: it is a row of
# the vault's store, not of one process's memory.
tok=$t_dave
req k/dave GET /v1/session "" "$tok"
expect_code "a session from before the restart" 200
limited=0
for i in $(seq 1 30); do
	req k/dave GET /v1/session "" "$tok"
	[ "$code" = 429 ] && limited=$((limited + 1)) && cp "$T/body" "$T/429"
done
[ "$limited" -ge 10 ] && ok || bad "rate limit: only $limited of 30 refused"
code=429
cp "$T/429" "$T/body" 2>/dev/null
expect_problem "over the request rate" 429
stop_server
cp "$T/serve1.err" "$T/serve.err"
expect_eq "server exit status" 0 "$SRV_RC"
"$CV" audit tail --dir "$T/v" --json -n 100 >"$T/log"
python3 - "$T/log" <<'PY' && ok || bad "audit entries of requests"
import json, sys
es = [json.loads(l) for l in open(sys.argv[1])]
http = [e for e in es if e["source"] == "127.0.0.1"]
assert len(http) >= 20, len(http)
den = [e for e in http if e["outcome"] == "denied"]
assert any("no client certificate" in e["reason"] for e in den)
assert any("already used" in e["reason"] for e in den)
assert any("another certificate" in e["reason"] for e in den)
assert any("revoked" in e["reason"] for e in den)
assert any("disabled" in e["reason"] for e in den)
ok = [e for e in http if e["action"] == "session.create" and e["outcome"] == "allowed"]
assert ok and all(len(e["cert"]) == 64 for e in ok)
assert all(e["session"] for e in http if e["action"] == "session.get" and e["outcome"] == "allowed")
PY
finish
