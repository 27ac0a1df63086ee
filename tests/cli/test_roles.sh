#!/bin/bash
# Every role against every endpoint: the allow/deny table of the README,
# each cell a real request to the real server, each one audited.
. "$(dirname "$0")/lib.sh"

make_vault v 10 || { bad "setup"; finish; exit 1; }
"$CV" gen --count 6 --seed 99 >"$T/new.jsonl"
roles="investigator adjudicator security_officer auditor admin"
add_users "$T/v" $(for r in $roles; do echo "$r:$r"; done) ||
    { bad "users"; finish; exit 1; }
R1=$(sed -n 1p "$T/v.jsonl" | cut -c8-26)
SSN1=$(sed -n 1p "$T/v.jsonl" | grep -o '"ssn":"[0-9-]*"' | cut -d'"' -f4)
start_server "$T/v" || { bad "server start"; finish; exit 1; }
trap 'kill "$SRV_PID" 2>/dev/null; cp "$T/serve.err" /tmp/roles-serve.err 2>/dev/null; cv_cleanup' EXIT
for r in $roles; do login "$r"; eval "t_$r=\$tok"; done
req k/security_officer POST /v1/cases '{"title":"roles"}' "$t_security_officer"
CASE=$(json_field "$T/body" "d['id']")
add_members k/security_officer "$t_security_officer" "$CASE" \
    "{\"users\":[\"investigator\",\"adjudicator\",\"security_officer\",\"auditor\",\"admin\"],\"records\":[\"$R1\"]}"
expect_code "setup case" 200

n=0
cell() {	# ROLE WANT METHOD PATH [BODY]
	local role=$1 want=$2 t
	eval "t=\$t_$role"
	req "k/$role" "$3" "$4" "${5:-}" "$t"
	if [ "$code" = "$want" ]; then ok; else
		bad "$role $3 $4: HTTP $code, want $want: $(head -c 200 "$T/body")"
	fi
}
allow() {	# WANT-IF-ALLOWED "ALLOWED ROLES" METHOD PATH [BODY]
	local w=$1 allowed=$2; shift 2
	for r in $roles; do
		case " $allowed " in
		*" $r "*) cell "$r" "$w" "$@" ;;
		*) cell "$r" 403 "$@" ;;
		esac
	done
}
readers="investigator adjudicator security_officer"
writers="investigator adjudicator"
allow 200 "$roles" GET /v1/session
allow 200 "$readers" GET "/v1/records/$R1?purpose=$CASE"
allow 200 "$readers" GET "/v1/records?ssn=$SSN1&purpose=$CASE"
body1=$(sed -n 1p "$T/v.jsonl")
# An update replaces the whole record: only a role that reads all of it.
allow 200 "adjudicator" PUT "/v1/records/$R1?purpose=$CASE" "$body1"
for r in $roles; do
	n=$((n + 1))
	rec=$(sed -n "${n}p" "$T/new.jsonl")
	case " $writers " in
	*" $r "*) cell "$r" 201 POST "/v1/records?purpose=$CASE" "$rec" ;;
	*) cell "$r" 403 POST "/v1/records?purpose=$CASE" "$rec" ;;
	esac
done
allow 201 "security_officer" POST /v1/cases '{"title":"t"}'
allow 202 "security_officer" POST "/v1/cases/$CASE/members" '{"users":["admin"]}'
allow 200 "admin" GET /v1/users
for r in $roles; do
	case $r in
	admin) cell "$r" 202 POST /v1/users "{\"name\":\"new-$r\",\"role\":\"auditor\"}" ;;
	*) cell "$r" 403 POST /v1/users "{\"name\":\"new-$r\",\"role\":\"auditor\"}" ;;
	esac
done
allow 200 "auditor" GET /v1/audit/checkpoint
allow 200 "auditor" GET "/v1/audit/entries?from=0&count=5"
allow 200 "auditor" GET "/v1/audit/proof?index=1"
allow 200 "$roles" GET /metrics
allow 200 "$roles" GET /v1/openapi.json

# Details of a few cells.
req k/adjudicator PUT "/v1/records/$R1?purpose=$CASE" \
    "$(sed -n 2p "$T/v.jsonl")" "$t_adjudicator"
expect_problem "PUT with another record's body" 422
req k/investigator PUT "/v1/records/$R1?purpose=$CASE" "$body1" \
    "$t_investigator"
expect_problem "an investigator's update (it reads no adjudication)" 403
req k/investigator POST "/v1/records?purpose=$CASE" '{"id":"x"}' \
    "$t_investigator"
expect_problem "invalid record" 422
grep -q "identity" "$T/body" && ok || bad "names the field"
req k/investigator POST "/v1/records?purpose=$CASE" "$(sed -n 1p "$T/new.jsonl")" \
    "$t_investigator"
expect_problem "create twice" 409
req k/admin POST /v1/users '{"name":"x y","role":"admin"}' "$t_admin"
expect_problem "bad user name" 400
req k/admin POST /v1/users/investigator/disable "" "$t_admin"
expect_code "admin disables a user" 200
req k/investigator GET /v1/session "" "$t_investigator"
expect_problem "disabled at once" 401
req k/admin GET /metrics "" "$t_admin"
grep -q "^clearvault_requests_total [0-9]" "$T/body" && ok || bad "metrics"
req k/admin GET /v1/openapi.json "" "$t_admin"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['openapi'].startswith('3.1')" \
    "$T/body" && ok || bad "OpenAPI 3.1 document"

stop_server
expect_eq "server exit status" 0 "$SRV_RC"
"$CV" audit tail --dir "$T/v" --json -n 400 >"$T/log"
python3 - "$T/log" <<'PY' && ok || bad "every request audited"
import json, sys
es = [json.loads(l) for l in open(sys.argv[1])]
http = [e for e in es if e["source"] == "127.0.0.1"]
assert len(http) >= 80, len(http)
assert sum(e["outcome"] == "denied" for e in http) >= 35
# enrolment is how a client gets a certificate: it has none yet
assert all(e["cert"] for e in http if e["action"] != "users.enrol")
PY
finish
