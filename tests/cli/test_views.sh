#!/bin/bash
# What the web console reads (issue 14), through the real server: its
# files under / with a strict Content-Security-Policy and no inline
# script; GET /v1/cases (a reader's own, an officer's all) and
# /v1/cases/{id} (members only, one refusal for "not yours" and "none");
# the sections a role reads in GET /v1/session; GET /v1/locks; GET
# /v1/scope with exactly the CLI's answer (JSON and CSV); GET /v1/reads;
# the latest drill report (`drill run --vault`); sign-out; and every one
# on the audit log.
. "$(dirname "$0")/lib.sh"

SRV_PID=
trap 'kill "$SRV_PID" 2>/dev/null; cv_cleanup' EXIT
make_vault v 40 || { bad "setup"; finish; exit 1; }
add_users "$T/v" so:security_officer so2:security_officer inv:investigator \
    adj:adjudicator aud:auditor || { bad "users"; finish; exit 1; }
"$CV" canaries --dir "$T/v" >"$T/canaries"
CANARY=$(sed -n 1p "$T/canaries")
for i in $(seq 1 8); do eval "R$i=\$(sed -n ${i}p \"\$T/v.jsonl\" | cut -c8-26)"; done
code() { fresh_totp "$T/k/$1.otpauth" "$T/k/$1.step"; }
login2() {	# USER: a new session; its token in $tok
	req "k/$1" POST /v1/session "{\"totp\":\"$(code "$1")\"}"
	tok=$(json_field "$T/body" "d.get('token','')" 2>/dev/null)
}
hdr() {	# USER PATH: the response headers in $T/hdr
	curl -s -o "$T/body" -D "$T/hdr" --cacert "$T/ca.pem" \
	    ${1:+--cert "$T/$1.crt" --key "$T/$1.key"} "$URL${2#/}"
}

start_server "$T/v" || { bad "server start"; finish; exit 1; }

# ---- the console's files ---------------------------------------------------
hdr k/inv /
grep -q "^HTTP/1.1 200" "$T/hdr" && ok || bad "GET /: $(head -1 "$T/hdr")"
grep -qi "^content-type: text/html; charset=utf-8" "$T/hdr" && ok ||
    bad "GET /: not HTML"
csp=$(sed -n 's/^content-security-policy: //Ip' "$T/hdr" | tr -d '\r')
expect_eq "the console's CSP" "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'" "$csp"
grep -qi "^x-frame-options: DENY" "$T/hdr" && ok || bad "no X-Frame-Options"
python3 - "$T/body" <<'PY' && ok || bad "the page has inline script or style"
import re, sys
html = open(sys.argv[1]).read()
for tag in re.findall(r"<script\b[^>]*>", html):
    assert re.search(r'\bsrc="/[a-z]+\.js"', tag), tag
assert not re.search(r"<script\b[^>]*>[^<]+</script>", html), "inline script"
assert "<style" not in html and " style=" not in html, "inline style"
assert not re.search(r"\son[a-z]+=", html), "an inline event handler"
PY
for f in console.js views.js; do
	hdr k/inv "/$f"
	grep -qi "^content-type: text/javascript" "$T/hdr" && ok ||
	    bad "/$f: $(grep -i content-type "$T/hdr")"
	# Nothing that writes HTML from strings (text from the server is
	# put in with textContent), no storage of the token, no eval.
	! grep -nE "innerHTML|outerHTML|insertAdjacentHTML|document\.write|localStorage|sessionStorage|document\.cookie|eval\(|new Function" "$T/body" && ok ||
	    bad "/$f uses an unsafe DOM or storage API"
done
hdr k/inv /console.css
grep -qi "^content-type: text/css" "$T/hdr" && ok || bad "console.css type"
hdr "" /
grep -q "^HTTP/1.1 401" "$T/hdr" && ok ||
    bad "the console without a client certificate: $(head -1 "$T/hdr")"
hdr k/inv /v1/openapi.json
expect_eq "JSON replies: their CSP" "default-src 'none'; frame-ancestors 'none'" \
    "$(sed -n 's/^content-security-policy: //Ip' "$T/hdr" | tr -d '\r')"

# ---- sessions: the sections a role reads --------------------------------
for u in so so2 inv adj aud; do
	login2 "$u"
	expect_code "login $u" 201
	eval "t_$u=\$tok"
done
req k/inv GET /v1/session "" "$t_inv"
expect_eq "an investigator's sections" \
    "identity contact history family foreign financial conduct biometrics" \
    "$(json_field "$T/body" "' '.join(d['sections'])")"
req k/aud GET /v1/session "" "$t_aud"
expect_eq "an auditor reads no section" "" \
    "$(json_field "$T/body" "' '.join(d['sections'])")"

# ---- cases -------------------------------------------------------------------
req k/so POST /v1/cases '{"title":"Console review"}' "$t_so"
CA=$(json_field "$T/body" "d['id']")
add_members k/so "$t_so" "$CA" \
    "{\"users\":[\"inv\",\"adj\"],\"records\":[\"$R1\",\"$R2\",\"$R3\",\"$R4\",\"$CANARY\"]}"
expect_code "case A's members" 200
req k/so POST /v1/cases '{"title":"Other"}' "$t_so"
CB=$(json_field "$T/body" "d['id']")
add_members k/so "$t_so" "$CB" "{\"users\":[\"adj\"],\"records\":[\"$R5\"]}"
expect_code "case B's members" 200

req k/inv GET /v1/cases "" "$t_inv"
expect_code "inv lists cases" 200
# Records added to a case bring a canary along (one per 50, at least one:
# README, "Canaries"), listed like any record; 1 in 50 it is $CANARY,
# added by hand too (then 5).
python3 - "$T/body" "$CA" <<'PY' && ok || bad "inv sees its one case: $(cat "$T/body")"
import json, sys
c = json.load(open(sys.argv[1]))["cases"]
assert [x["id"] for x in c] == [sys.argv[2]], c
assert c[0]["title"] == "Console review" and c[0]["users"] == 2, c
assert c[0]["records"] in (5, 6), c
PY
req k/so GET /v1/cases "" "$t_so"
expect_eq "an officer sees every case" "2" \
    "$(json_field "$T/body" "len(d['cases'])")"
req k/aud GET /v1/cases "" "$t_aud"
expect_problem "an auditor has no cases" 403
req k/inv GET "/v1/cases/$CA" "" "$t_inv"
expect_code "inv opens its case" 200
python3 - "$T/body" "$R1 $R2 $R3 $R4 $CANARY" <<'PY' && ok || bad "the case's users and records: $(cat "$T/body")"
import json, sys
c = json.load(open(sys.argv[1]))
assert c["users"] == ["adj", "inv"], c
want = set(sys.argv[2].split())
assert want <= set(c["records"]) and len(c["records"]) in (5, 6), c
assert len(set(c["records"])) == len(c["records"]), "duplicates"
PY
req k/inv GET "/v1/cases/$CB" "" "$t_inv"
expect_problem "a case inv is not on" 403
body_b=$(cat "$T/body")
req k/inv GET "/v1/cases/CASE-000000000000" "" "$t_inv"
expect_problem "no such case: the same refusal" 403
expect_eq "one answer for 'not yours' and 'none'" "$body_b" "$(cat "$T/body")"
req k/so GET "/v1/cases/CASE-000000000000" "" "$t_so"
expect_problem "an officer: no such case" 404
req k/so GET "/v1/cases/bad%20id" "" "$t_so"
expect_problem "not a case id" 400

# ---- reads, then scope and the series -------------------------------------------
T0=$(python3 -c 'import datetime; print(datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))')
for r in "$R1" "$R2" "$R3"; do
	req k/inv GET "/v1/records/$r?purpose=$CA" "" "$t_inv"
	expect_code "inv reads $r" 200
done
req k/inv GET "/v1/records/$R1?purpose=$CA" "" "$t_inv"
req k/inv GET "/v1/records/$R5?purpose=$CB" "" "$t_inv"
expect_problem "inv outside its cases" 403

req k/so GET "/v1/scope?subject=inv" "" "$t_so"
expect_code "scope of inv" 200
cp "$T/body" "$T/api.json"
run "$CV" scope --dir "$T/v" --principal inv --format json --no-notify
cp "$T/out" "$T/cli.json"
python3 - "$T/api.json" "$T/cli.json" "$R1 $R2 $R3" <<'PY' && ok || bad "the API's scope is not the CLI's"
import json, sys
a, c = (json.load(open(p)) for p in sys.argv[1:3])
want = sorted(sys.argv[3].split())
assert [r["id"] for r in a["records"]] == want, a["records"]
for k in ("subject", "window", "records"):
    assert a[k] == c[k], (k, a[k], c[k])
assert a["totals"]["reads"] == 4 == c["totals"]["reads"], a["totals"]
assert a["totals"]["sections"] == c["totals"]["sections"], a["totals"]
PY
req k/so GET "/v1/scope?subject=inv&format=csv" "" "$t_so"
expect_code "scope as CSV" 200
run "$CV" scope --dir "$T/v" --principal inv --format csv --no-notify
expect_eq "the CSV is the CLI's" "$(cat "$T/out")" "$(cat "$T/body")"
req k/so GET "/v1/scope?subject=inv&from=$T0" "" "$t_so"
expect_eq "scope from a time" 3 "$(json_field "$T/body" "len(d['records'])")"
req k/so GET "/v1/scope?kind=cert&subject=$(openssl x509 -in "$T/k/adj.crt" -outform DER | sha256sum | cut -c1-64)" "" "$t_so"
expect_eq "scope of a certificate that read nothing" 0 \
    "$(json_field "$T/body" "len(d['records'])")"
for bad in "kind=person&subject=inv" "subject=" "subject=inv&from=yesterday" \
    "subject=inv&format=xml" "subject=in%0Av" "subject=%FF%FE"; do
	req k/so GET "/v1/scope?$bad" "" "$t_so"
	expect_problem "scope ?$bad" 400
done
req k/inv GET "/v1/scope?subject=inv" "" "$t_inv"
expect_problem "an investigator cannot scope" 403

req k/so GET "/v1/reads?user=inv&days=1" "" "$t_so"
expect_code "inv's reads over a day" 200
expect_eq "24 hourly buckets holding the 4 records returned" "24 4 3600" \
    "$(json_field "$T/body" "'%d %d %d' % (len(d['series']), sum(p['records'] for p in d['series']), d['bucket_seconds'])")"
req k/so GET "/v1/reads?user=inv&days=30&bucket=day" "" "$t_so"
expect_eq "by day" "30 4" \
    "$(json_field "$T/body" "'%d %d' % (len(d['series']), sum(p['records'] for p in d['series']))")"
for bad in "user=inv&days=0" "user=inv&days=91" "user=inv&bucket=week" \
    "user=../x" "days=2"; do
	req k/so GET "/v1/reads?$bad" "" "$t_so"
	expect_problem "reads ?$bad" 400
done
req k/aud GET "/v1/reads?user=inv" "" "$t_aud"
expect_problem "an auditor cannot see reads" 403

# ---- locks: a canary locks inv; two officers unlock ------------------------
req k/so GET /v1/locks "" "$t_so"
expect_eq "nobody locked" 0 "$(json_field "$T/body" "len(d['locks'])")"
req k/inv GET "/v1/records/$CANARY?purpose=$CA" "" "$t_inv"
expect_code "inv reads the canary" 200
req k/so GET /v1/locks "" "$t_so"
expect_eq "inv is locked" "inv investigator False" \
    "$(json_field "$T/body" "' '.join('%s %s %s' % (l['user'], l['role'], l['pending_approval']) for l in d['locks'])")"
req k/so POST /v1/users/inv/unlock "" "$t_so"
req k/so GET /v1/locks "" "$t_so"
expect_eq "one approval" "True" "$(json_field "$T/body" "d['locks'][0]['pending_approval']")"
req k/so2 POST /v1/users/inv/unlock "" "$t_so2"
req k/so GET /v1/locks "" "$t_so"
expect_eq "unlocked by the second" 0 "$(json_field "$T/body" "len(d['locks'])")"
req k/adj GET /v1/locks "" "$t_adj"
expect_problem "an adjudicator sees no locks" 403

# ---- the drill report ---------------------------------------------------------
req k/so GET /v1/drills/latest "" "$t_so"
expect_problem "no drill report yet" 404
expect_ok "a drill kept in the vault" "$CV" drill run 1 --records 200 \
    --vault "$T/v"
req k/aud GET /v1/drills/latest "" "$t_aud"
expect_code "an auditor reads the report" 200
expect_eq "its scenario and picture" "1 stolen password only True" \
    "$(json_field "$T/body" "'%d %s %s' % (d['report']['scenarios'][0]['scenario'], d['report']['scenarios'][0]['name'][:20], d['svg'].startswith('<svg') or d['svg'].startswith('<?xml'))")"
req k/adj GET /v1/drills/latest "" "$t_adj"
expect_problem "an adjudicator cannot" 403

# ---- sign-out ---------------------------------------------------------------------
req k/adj DELETE /v1/session "" "$t_adj"
expect_code "sign-out" 200
req k/adj GET /v1/session "" "$t_adj"
expect_problem "the token is dead after sign-out" 401

# ---- a scope that finds the log altered: refused, and the office alerted ----------
if ! on_pg "$T/v"; then
	req k/aud GET /v1/audit/checkpoint "" "$t_aud"
	expect_code "a checkpoint over the log so far" 200
	flip() {	# one byte of the first entry's text, and back
		python3 - "$T/v/audit/entries" <<'PY'
import sys
f = open(sys.argv[1], "r+b")
f.seek(40)
b = f.read(1)
f.seek(40)
f.write(bytes([b[0] ^ 0x20]))
PY
	}
	flip
	req k/so GET "/v1/scope?subject=inv" "" "$t_so"
	expect_problem "scope of an altered log" 500
	grep -q "does not verify" "$T/body" && ok || bad "says why: $(cat "$T/body")"
	grep '"rule":{"name":"audit_tampered"}' "$T/v/alerts.jsonl" |
	    grep -q '"level":"critical"' && ok ||
	    bad "no critical audit_tampered alert: $(tail -c 400 "$T/v/alerts.jsonl")"
	flip
	req k/so GET "/v1/scope?subject=inv" "" "$t_so"
	expect_code "the log restored: scope again" 200
fi

# ---- all on the log -----------------------------------------------------------------
stop_server
expect_eq "server exit status" 0 "$SRV_RC"
run "$CV" audit tail --dir "$T/v" --json -n 400
for a in console cases.list cases.get scope reads.series locks.list \
    drills.latest session.delete drill.report; do
	grep -q "\"action\":\"$a\"" "$T/out" && ok || bad "no $a entry on the log"
done
finish
