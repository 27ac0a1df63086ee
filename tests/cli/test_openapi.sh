#!/bin/bash
# docs/openapi.json says what the server returns, so it cannot drift again:
# every operation of the document is called on a real server at least once
# with a success and, where a test can reach them, with its errors (400,
# 401, 403, 404, 409, 410, 413, 422), by the roles that see different
# sections of a record; every reply is kept and tests/cli/openapi_check.py
# checks it against the document: its status documented for that operation,
# its content type documented for that status, a JSON body valid under that
# schema (JSON Schema 2020-12, as OpenAPI 3.1); the body of a request that
# succeeded valid under its requestBody schema. An operation of the document
# that this test never calls with a success fails it: a new endpoint is an
# entry in the document and a call here (api below). Every reply carries a
# Content-Security-Policy: the console's page a strict one (its own script,
# nothing inline), every other reply one that runs nothing.
. "$(dirname "$0")/lib.sh"
DOC=$(cd "$(dirname "$0")/../../docs" && pwd)/openapi.json

python3 -c 'import jsonschema' 2>/dev/null ||
    { bad "python3 jsonschema missing (scripts/deps.sh installs it)"; finish; exit 1; }

make_vault v 12 || { bad "setup"; finish; exit 1; }
echo "probation_days = 0" >>"$T/v/clearvault.conf"
add_users "$T/v" so:security_officer so2:security_officer inv:investigator \
    adj:adjudicator aud:auditor adm:admin prom:metrics ||
    { bad "users"; finish; exit 1; }
"$CV" canaries --dir "$T/v" >"$T/canaries"
rid() { sed -n "$1p" "$T/v.jsonl" | python3 -c 'import json,sys
print(json.load(sys.stdin)["id"])'; }
R1=$(rid 1) R2=$(rid 2) R3=$(rid 3) R9=$(rid 9)
CANARY=$(head -1 "$T/canaries")
SSN1=$(sed -n 1p "$T/v.jsonl" | python3 -c 'import json,sys
print(json.load(sys.stdin)["identity"]["ssn"])')
# A record of the vault's shape under a new id, to create.
sed -n 4p "$T/v.jsonl" | python3 -c 'import json,sys
r = json.load(sys.stdin); r["id"] = "oa-created-1"
print(json.dumps(r, separators=(",", ":")))' >"$T/new.json"
start_server "$T/v" || { bad "server start"; finish; exit 1; }
trap 'kill "$SRV_PID" 2>/dev/null; cv_cleanup' EXIT

# api DESC WANT USER METHOD PATH [BODY] [TOKEN]: one request (USER: keys
# under $T, "" for none; BODY "@FILE" for a file's), its status in $code
# and checked against WANT, its body in $T/body; the reply (and the
# request's body) kept in $T/calls for openapi_check.py; its CSP checked.
mkdir "$T/r"
n=0
CSP_DATA="default-src 'none'; frame-ancestors 'none'"
api() {
	local desc=$1 want=$2 who=$3 m=$4 p=$5 body=${6:-} tok=${7:-} args=()
	local out ct csp
	n=$((n + 1))
	[ -n "$who" ] && args+=(--cert "$T/$who.crt" --key "$T/$who.key")
	[ -n "$tok" ] && args+=(-H "Authorization: Bearer $tok")
	[ -n "$body" ] && args+=(-H "Content-Type: application/json" \
	    --data-binary "$body")
	out=$(curl -s -o "$T/r/$n" -D "$T/r/$n.h" \
	    -w '%{http_code}\t%{content_type}' \
	    --cacert "$T/ca.pem" -X "$m" "${args[@]}" "$URL${p#/}")
	code=${out%%	*}
	ct=${out#*	}
	[ "$code" = 000 ] && no_answer
	csp=$(sed -n 's/^content-security-policy: *//Ip' "$T/r/$n.h" | tr -d '\r')
	case $ct in
	text/html*)
		case $csp in
		"default-src 'none';"*"script-src 'self';"*) ;;
		*) bad "$desc: not the console's strict CSP: '$csp'" ;;
		esac
		case $csp in *unsafe*|*"*"*) bad "$desc: CSP allows too much: $csp" ;; esac ;;
	*) [ "$csp" = "$CSP_DATA" ] || bad "$desc: CSP '$csp', not '$CSP_DATA'" ;;
	esac
	cp "$T/r/$n" "$T/body"
	case $body in
	"") ;;
	@*) cp "${body#@}" "$T/r/$n.req" ;;
	*) printf '%s' "$body" >"$T/r/$n.req" ;;
	esac
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$m" "${p%%\?*}" "$code" "$ct" \
	    "$T/r/$n" "$desc" "${body:+$T/r/$n.req}" >>"$T/calls"
	expect_code "$desc" "$want"
}
field() { json_field "$T/body" "$1" 2>/dev/null; }
code_of() { fresh_totp "$T/k/$1.otpauth" "$T/k/$1.step"; }
session() {	# USER: a session of USER (201), its token in $tok
	api "log in $1" 201 "k/$1" POST /v1/session "{\"totp\":\"$(code_of "$1")\"}"
	tok=$(field "d['token']")
}

# ---- no session -----------------------------------------------------------
api "health" 200 "" GET /healthz
api "login without a client certificate" 401 "" POST /v1/session '{"totp":"123456"}'
api "login: not a code" 400 k/inv POST /v1/session '{"totp":123456}'
api "login: a wrong code" 401 k/inv POST /v1/session '{"totp":"000000"}'
api "login: a metrics account has no sessions" 403 k/prom POST /v1/session \
    "{\"totp\":\"$(code_of prom)\"}"
api "metrics: the metrics account's certificate alone" 200 k/prom GET /metrics
api "metrics: an investigator's certificate alone" 401 k/inv GET /metrics
api "enrol: not the expected body" 400 "" POST /v1/enrol '{"name":"x"}'
api "enrol: a code never issued" 403 "" POST /v1/enrol \
    '{"name":"nobody","code":"AAAAA-AAAAA-AAAAA-AAAAA","csr":"x"}'

# ---- the web console's files: a certificate, no session ----------------------
api "console: the page" 200 k/inv GET /
api "console: the script" 200 k/inv GET /console.js
api "console: the views" 200 k/inv GET /views.js
api "console: the style sheet" 200 k/inv GET /console.css
api "console: no client certificate" 401 "" GET /

session so; t_so=$tok
session so2; t_so2=$tok
session inv; t_inv=$tok
session adj; t_adj=$tok
session aud; t_aud=$tok
session adm; t_adm=$tok

# ---- the session ------------------------------------------------------------
api "whoami" 200 k/inv GET /v1/session "" "$t_inv"
expect_eq "whoami: an investigator's sections" \
    "identity contact history family foreign financial conduct biometrics" \
    "$(field "' '.join(d['sections'])")"
api "whoami: an auditor reads no section" 200 k/aud GET /v1/session "" "$t_aud"
expect_eq "whoami: no sections" "" "$(field "' '.join(d['sections'])")"
api "whoami without a token" 401 k/inv GET /v1/session
api "a request target over 8 KiB" 414 k/inv GET \
    "/v1/session?x=$(head -c 9000 /dev/zero | tr '\0' x)" "" "$t_inv"
api "the document" 200 k/inv GET /v1/openapi.json "" "$t_inv"
cmp -s "$T/body" "$DOC" && ok || bad "/v1/openapi.json is not docs/openapi.json"
api "the document without a token" 401 k/inv GET /v1/openapi.json
api "metrics with a session" 200 k/inv GET /metrics "" "$t_inv"
api "step-up: not a code" 400 k/inv POST /v1/session/step-up '{}' "$t_inv"
api "step-up: a wrong code" 401 k/inv POST /v1/session/step-up \
    '{"totp":"000000"}' "$t_inv"
api "step-up" 200 k/inv POST /v1/session/step-up \
    "{\"totp\":\"$(code_of inv)\"}" "$t_inv"

# ---- cases and two-person approval ------------------------------------------
api "case: an investigator makes none" 403 k/inv POST /v1/cases '{"title":"x"}' "$t_inv"
api "case: no title" 400 k/so POST /v1/cases '{"name":"x"}' "$t_so"
head -c 70000 /dev/zero | tr '\0' x >"$T/big"
api "case: a body over 64 KiB" 413 k/so POST /v1/cases "@$T/big" "$t_so"
api "case" 201 k/so POST /v1/cases '{"title":"openapi"}' "$t_so"
CASE=$(field "d['id']")
NOCASE="CASE-000000000000"
[ "$CASE" != "$NOCASE" ] || NOCASE="CASE-000000000001"
api "members: no such case" 404 k/so POST "/v1/cases/$NOCASE/members" \
    '{"users":["inv"]}' "$t_so"
api "members: not a case id" 400 k/so POST /v1/cases/nope/members \
    '{"users":["inv"]}' "$t_so"
api "members: not the expected body" 400 k/so POST "/v1/cases/$CASE/members" \
    '{"people":["inv"]}' "$t_so"
api "members: an investigator proposes none" 403 k/inv POST \
    "/v1/cases/$CASE/members" '{"users":["inv"]}' "$t_inv"
api "members proposed" 202 k/so POST "/v1/cases/$CASE/members" \
    "{\"users\":[\"inv\",\"adj\",\"so\"],\"records\":[\"$R1\",\"$R2\",\"$R3\",\"$CANARY\"]}" "$t_so"
P_MEM=$(field "d['proposal']")
api "proposals: an investigator sees none" 403 k/inv GET /v1/approvals "" "$t_inv"
api "proposals" 200 k/so2 GET /v1/approvals "" "$t_so2"
api "proposals, decided ones too" 200 k/adm GET "/v1/approvals?all=1" "" "$t_adm"
api "approve: its own proposer" 403 k/so POST "/v1/approvals/$P_MEM/approve" "" "$t_so"
api "approve: no such proposal" 404 k/so2 POST /v1/approvals/999999/approve "" "$t_so2"
api "approve" 200 k/so2 POST "/v1/approvals/$P_MEM/approve" "" "$t_so2"
api "approve: decided already" 409 k/so2 POST "/v1/approvals/$P_MEM/approve" "" "$t_so2"
api "cases: a reader's own" 200 k/inv GET /v1/cases "" "$t_inv"
expect_eq "cases: inv is on one" "$CASE" "$(field "' '.join(c['id'] for c in d['cases'])")"
api "cases: an officer's, all" 200 k/so GET /v1/cases "" "$t_so"
api "cases: an auditor works on none" 403 k/aud GET /v1/cases "" "$t_aud"
api "case: a member" 200 k/inv GET "/v1/cases/$CASE" "" "$t_inv"
grep -q "\"$CANARY\"" "$T/body" && ok || bad "the case's records: $(head -c 300 "$T/body")"
api "case: an officer" 200 k/so2 GET "/v1/cases/$CASE" "" "$t_so2"
api "case: not a reader's (or none)" 403 k/inv GET "/v1/cases/$NOCASE" "" "$t_inv"
api "case: an officer, no such case" 404 k/so GET "/v1/cases/$NOCASE" "" "$t_so"
api "case: not a case id" 400 k/so GET /v1/cases/nope "" "$t_so"
api "case: an auditor works on none" 403 k/aud GET "/v1/cases/$CASE" "" "$t_aud"

# ---- records, by role -------------------------------------------------------
api "search by SSN" 200 k/inv GET "/v1/records?purpose=$CASE&ssn=$SSN1" "" "$t_inv"
grep -q "\"$R1\"" "$T/body" && ok || bad "the search does not find $R1"
api "search by name and birth date" 200 k/adj GET \
    "/v1/records?purpose=$CASE&last=Nobody&dob=1970-01-01" "" "$t_adj"
api "search: not an SSN" 400 k/inv GET "/v1/records?purpose=$CASE&ssn=12" "" "$t_inv"
api "search: an auditor reads no record data" 403 k/aud GET \
    "/v1/records?purpose=$CASE&ssn=$SSN1" "" "$t_aud"
api "read: investigator (no adjudication)" 200 k/inv GET \
    "/v1/records/$R1?purpose=$CASE" "" "$t_inv"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
assert "adjudication" not in d and "identity" in d, sorted(d)' "$T/body" &&
    ok || bad "the investigator's sections: $(head -c 200 "$T/body")"
api "read: adjudicator (every section)" 200 k/adj GET \
    "/v1/records/$R1?purpose=$CASE" "" "$t_adj"
api "read: security officer (identity only)" 200 k/so GET \
    "/v1/records/$R2?purpose=$CASE" "" "$t_so"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
assert "identity" in d and "contact" not in d, sorted(d)' "$T/body" &&
    ok || bad "the officer's sections: $(head -c 200 "$T/body")"
api "read: some sections" 200 k/adj GET \
    "/v1/records/$R2?purpose=$CASE&section=identity&section=adjudication" "" "$t_adj"
api "read: an unknown section" 400 k/inv GET \
    "/v1/records/$R1?purpose=$CASE&section=secrets" "" "$t_inv"
api "read: outside the reader's cases" 403 k/inv GET \
    "/v1/records/$R9?purpose=$CASE" "" "$t_inv"
api "read: break-glass, no such record" 404 k/adj GET \
    "/v1/records/no-such-record?break_glass=checking%20a%20reference%20given%20by%20phone" \
    "" "$t_adj"
api "create: an auditor writes none" 403 k/aud POST "/v1/records?purpose=$CASE" \
    "@$T/new.json" "$t_aud"
api "create: not a valid record" 422 k/inv POST "/v1/records?purpose=$CASE" \
    '{"id":"oa-bad"}' "$t_inv"
api "create: not a case id" 400 k/inv POST "/v1/records?purpose=nope" \
    "@$T/new.json" "$t_inv"
api "create" 201 k/inv POST "/v1/records?purpose=$CASE" "@$T/new.json" "$t_inv"
api "create: it exists" 409 k/inv POST "/v1/records?purpose=$CASE" \
    "@$T/new.json" "$t_inv"
sed -n 1p "$T/v.jsonl" >"$T/r1.json"
api "update" 200 k/adj PUT "/v1/records/$R1?purpose=$CASE" "@$T/r1.json" "$t_adj"
api "update: the body's id is another" 422 k/adj PUT \
    "/v1/records/$R2?purpose=$CASE" "@$T/r1.json" "$t_adj"
sed -n 9p "$T/v.jsonl" >"$T/r9.json"
api "update: outside the writer's cases" 403 k/adj PUT \
    "/v1/records/$R9?purpose=$CASE" "@$T/r9.json" "$t_adj"
# A record of the case shredded (the operator's command, the server up).
sed -n 3p "$T/v.jsonl" >"$T/r3.json"
if "$CV" shred --dir "$T/v" "$R3" >/dev/null 2>"$T/shred.err"; then
	ok
	api "read: shredded" 410 k/adj GET "/v1/records/$R3?purpose=$CASE" "" "$t_adj"
	api "update: shredded" 410 k/adj PUT "/v1/records/$R3?purpose=$CASE" \
	    "@$T/r3.json" "$t_adj"
else
	bad "shred: $(head -c 300 "$T/shred.err")"
fi
api "members removed" 200 k/so DELETE "/v1/cases/$CASE/members" \
    '{"records":["oa-created-1"]}' "$t_so"
api "members removed: no such case" 404 k/so DELETE "/v1/cases/$NOCASE/members" \
    '{"records":["oa-created-1"]}' "$t_so"

# ---- breach scope, and a user's reads over time ---------------------------------
api "scope" 200 k/so GET "/v1/scope?subject=inv" "" "$t_so"
grep -q "\"$R1\"" "$T/body" && ok || bad "the scope of inv has no $R1"
api "scope: CSV" 200 k/so GET "/v1/scope?kind=principal&subject=inv&format=csv" "" "$t_so"
head -1 "$T/body" | grep -q '^id,sections,first_read,last_read,reads,' && ok ||
    bad "scope CSV: $(head -c 200 "$T/body")"
api "scope: a window" 200 k/so GET \
    "/v1/scope?kind=cert&subject=00&from=2020-01-01&to=2100-01-01T00:00:00Z&format=json" \
    "" "$t_so"
api "scope: no such kind" 400 k/so GET "/v1/scope?kind=person&subject=inv" "" "$t_so"
api "scope: no subject" 400 k/so GET "/v1/scope?subject=" "" "$t_so"
api "scope: not a time" 400 k/so GET "/v1/scope?subject=inv&from=yesterday" "" "$t_so"
api "scope: no such format" 400 k/so GET "/v1/scope?subject=inv&format=xml" "" "$t_so"
api "scope: an investigator scopes none" 403 k/inv GET "/v1/scope?subject=inv" "" "$t_inv"
api "reads: by the hour" 200 k/so GET "/v1/reads?user=inv&days=1" "" "$t_so"
api "reads: by the day" 200 k/so GET "/v1/reads?user=inv&days=30&bucket=day" "" "$t_so"
api "reads: 0 days" 400 k/so GET "/v1/reads?user=inv&days=0" "" "$t_so"
api "reads: no user" 400 k/so GET "/v1/reads?days=2" "" "$t_so"
api "reads: an auditor sees none" 403 k/aud GET "/v1/reads?user=inv" "" "$t_aud"

# ---- users ------------------------------------------------------------------
api "users: an investigator lists none" 403 k/inv GET /v1/users "" "$t_inv"
api "users" 200 k/adm GET /v1/users "" "$t_adm"
api "user: not the expected body" 400 k/adm POST /v1/users '{"name":"x"}' "$t_adm"
api "user proposed" 202 k/adm POST /v1/users '{"name":"newbie","role":"auditor"}' "$t_adm"
P_NEW=$(field "d['proposal']")
api "user approved: the enrolment code" 200 k/so POST "/v1/approvals/$P_NEW/approve" "" "$t_so"
ECODE=$(field "d['enrolment_code']")
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$T/newbie.key" -subj /CN=newbie -out "$T/newbie.csr" 2>/dev/null
python3 -c 'import json,sys
print(json.dumps({"name": "newbie", "code": sys.argv[1],
    "csr": open(sys.argv[2]).read()}))' "$ECODE" "$T/newbie.csr" >"$T/enrol.json"
api "enrol" 201 "" POST /v1/enrol "@$T/enrol.json"
api "user: existing" 409 k/adm POST /v1/users '{"name":"newbie","role":"auditor"}' "$t_adm"
api "user: role proposed" 202 k/adm POST /v1/users/newbie/role '{"role":"investigator"}' "$t_adm"
api "user: budget proposed" 202 k/adm POST /v1/users/newbie/budget '{"budget":null}' "$t_adm"
api "user: bad budget" 400 k/adm POST /v1/users/newbie/budget '{"budget":[1]}' "$t_adm"
api "user disabled" 200 k/adm POST /v1/users/newbie/disable "" "$t_adm"
api "user: enable proposed" 202 k/adm POST /v1/users/newbie/enable "" "$t_adm"
api "user: certificate revoked" 200 k/adm POST /v1/users/newbie/revoke-cert "" "$t_adm"
api "user: no such user" 404 k/adm POST /v1/users/ghost/disable "" "$t_adm"
api "user: no such action" 404 k/adm POST /v1/users/newbie/promote "" "$t_adm"
api "user: not a user name" 400 k/adm POST /v1/users/Not%20A%20Name/disable "" "$t_adm"
api "user: an investigator changes none" 403 k/inv POST /v1/users/newbie/disable "" "$t_inv"

# ---- a lock, and the two-person unlock --------------------------------------
api "unlock: nobody is locked" 404 k/so POST /v1/users/inv/unlock "" "$t_so"
api "locks: none" 200 k/so GET /v1/locks "" "$t_so"
api "read: a canary (returned, and its reader locked)" 200 k/inv GET \
    "/v1/records/$CANARY?purpose=$CASE" "" "$t_inv"
api "read: locked, the session ended" 401 k/inv GET \
    "/v1/records/$R1?purpose=$CASE" "" "$t_inv"
api "locks: inv" 200 k/so GET /v1/locks "" "$t_so"
expect_eq "locks: inv, no approval yet" "inv False" \
    "$(field "' '.join('%s %s' % (l['user'], l['pending_approval']) for l in d['locks'])")"
api "locks: not an officer" 403 k/adj GET /v1/locks "" "$t_adj"
api "unlock: not an officer" 403 k/adj POST /v1/users/inv/unlock "" "$t_adj"
api "unlock: not a user name" 400 k/so POST /v1/users/-x/unlock "" "$t_so"
api "unlock: the first officer" 200 k/so POST /v1/users/inv/unlock "" "$t_so"
api "unlock: the same officer again" 409 k/so POST /v1/users/inv/unlock "" "$t_so"
api "locks: one approval" 200 k/so2 GET /v1/locks "" "$t_so2"
api "unlock: the second officer" 200 k/so2 POST /v1/users/inv/unlock "" "$t_so2"
[ "$(field "d['unlocked']")" = True ] && ok || bad "inv not unlocked"
api "alerts: an investigator reads none" 403 k/adj GET /v1/alerts "" "$t_adj"
api "alerts" 200 k/so GET /v1/alerts "" "$t_so"
grep -q '"canary"' "$T/body" && ok || bad "no canary alert listed"

# ---- the audit log ----------------------------------------------------------
api "checkpoint: not an auditor" 403 k/adj GET /v1/audit/checkpoint "" "$t_adj"
# The log is sequenced a little after the entries are durable.
for _ in $(seq 1 50); do
	api "checkpoint" 200 k/aud GET /v1/audit/checkpoint "" "$t_aud"
	SIZE=$(sed -n 2p "$T/body")
	[ "${SIZE:-0}" -gt 2 ] && break
	sleep 0.2
done
api "entries" 200 k/aud GET "/v1/audit/entries?from=0&count=40" "" "$t_aud"
api "entries: count 0" 400 k/aud GET "/v1/audit/entries?count=0" "" "$t_aud"
api "inclusion proof" 200 k/aud GET "/v1/audit/proof?index=1&size=$SIZE" "" "$t_aud"
api "inclusion proof: no index" 400 k/aud GET /v1/audit/proof "" "$t_aud"
api "inclusion proof: past the tree" 400 k/aud GET \
    "/v1/audit/proof?index=$SIZE&size=$SIZE" "" "$t_aud"
api "consistency proof" 200 k/aud GET "/v1/audit/consistency?from=1&size=$SIZE" "" "$t_aud"
api "consistency proof: no from" 400 k/aud GET /v1/audit/consistency "" "$t_aud"
api "entries: an investigator reads none" 403 k/adj GET /v1/audit/entries "" "$t_adj"

# ---- the log as tlog-tiles: a full tile needs 256 entries (a request each)
for _ in $(seq 1 260); do echo /v1/session; done >"$T/paths"
batch aud "$t_aud" "$T/paths"
api "tlog checkpoint: not an auditor" 403 k/adj GET /checkpoint "" "$t_adj"
api "tlog checkpoint" 200 k/aud GET /checkpoint "" "$t_aud"
api "tile: not an auditor" 403 k/adj GET /tile/0/000 "" "$t_adj"
api "tile: no session" 401 k/aud GET /tile/0/000
api "tile" 200 k/aud GET /tile/0/000 "" "$t_aud"
api "tile: past the checkpoint" 404 k/aud GET /tile/1/000 "" "$t_aud"
api "tile: bad level" 400 k/aud GET /tile/01/000 "" "$t_aud"
api "partial tile" 200 k/aud GET /tile/0/000.p/7 "" "$t_aud"
api "partial tile: width 0" 400 k/aud GET /tile/0/000.p/0 "" "$t_aud"
api "entry bundle: not an auditor" 403 k/adj GET /tile/entries/000 "" "$t_adj"
api "entry bundle" 200 k/aud GET /tile/entries/000 "" "$t_aud"
api "entry bundle: past the checkpoint" 404 k/aud GET /tile/entries/999 "" "$t_aud"
api "partial entry bundle" 200 k/aud GET /tile/entries/000.p/3 "" "$t_aud"
api "partial entry bundle: bad width" 400 k/aud GET /tile/entries/000.p/256 "" "$t_aud"

# ---- the latest drill report -------------------------------------------------
api "drill report: none yet" 404 k/so GET /v1/drills/latest "" "$t_so"
expect_ok "a drill kept in the vault" "$CV" drill run 1 --records 200 \
    --vault "$T/v"
api "drill report: an auditor" 200 k/aud GET /v1/drills/latest "" "$t_aud"
api "drill report: an officer" 200 k/so GET /v1/drills/latest "" "$t_so"
api "drill report: an adjudicator sees none" 403 k/adj GET /v1/drills/latest "" "$t_adj"

# ---- sign-out ------------------------------------------------------------------
api "sign-out" 200 k/adj DELETE /v1/session "" "$t_adj"
api "sign-out: the token is dead" 401 k/adj GET /v1/session "" "$t_adj"
api "sign-out: no token" 401 k/adj DELETE /v1/session

# ---- every reply against the document ---------------------------------------
if python3 "$CV_TESTLIB/openapi_check.py" "$DOC" "$T/calls" >"$T/check.out"; then
	ok
else
	bad "replies that docs/openapi.json does not describe (above)"
fi
cat "$T/check.out"
stop_server
expect_eq "server exit status" 0 "$SRV_RC"
finish
