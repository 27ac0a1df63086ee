#!/bin/bash
# The HSM token goes away under a running server (its folder moved, or
# the PIN no longer accepted): before the fix the server went on serving
# from the keys it held in memory. Now reads are refused (503, fail
# closed) within a few seconds, with an alert and an audit entry; when the
# token comes back the server says so and serves again.
. "$(dirname "$0")/../cli/lib.sh"

BOUND=8	# seconds: the check runs every 2 s

make_vault v 20 || { bad "setup"; finish; exit 1; }
add_users "$T/v" so:security_officer inv:investigator ||
    { bad "users"; finish; exit 1; }
R1=$(sed -n 1p "$T/v.jsonl" | cut -c8-26)
start_server "$T/v" || { bad "server start"; finish; exit 1; }
trap 'kill "$SRV_PID" 2>/dev/null; cv_cleanup' EXIT
login so
t_so=$tok
login inv
t_inv=$tok
req k/so POST /v1/cases '{"title":"HSM check"}' "$t_so"
CASE=$(json_field "$T/body" "d['id']")
add_members k/so "$t_so" "$CASE" "{\"users\":[\"inv\"],\"records\":[\"$R1\"]}"
expect_code "members added" 200
read_r1() { req k/inv GET "/v1/records/$R1?purpose=$CASE" "" "$t_inv"; }
read_r1
expect_code "read with the token present" 200

# until_code WANT: polls the read for up to BOUND seconds; $waited
until_code() {
	local start=$(date +%s.%N)
	for _ in $(seq 1 $((BOUND * 10))); do
		read_r1
		[ "$code" = "$1" ] && break
		sleep 0.1
	done
	waited=$(python3 -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" \
	    "$start" "$(date +%s.%N)")
}

gone_and_back() {	# DESC HOW-TO-BREAK HOW-TO-MEND
	local n0
	n0=$(grep -c hsm_unavailable "$T/v/alerts.jsonl" 2>/dev/null)
	eval "$2"
	until_code 503
	echo "$1: refused after ${waited}s"
	expect_problem "$1: read refused within ${BOUND}s (took ${waited}s)" 503
	grep -q "HSM" "$T/body" && ok || bad "$1: says why: $(cat "$T/body")"
	req "" GET /healthz
	expect_code "$1: /healthz says so" 503
	[ "$(grep -c hsm_unavailable "$T/v/alerts.jsonl" 2>/dev/null)" -gt \
	    "${n0:-0}" ] && ok || bad "$1: no hsm_unavailable alert"
	eval "$3"
	until_code 200
	echo "$1: served again after ${waited}s"
	expect_code "$1: reads again once the token is back (${waited}s)" 200
	grep -q hsm_restored "$T/v/alerts.jsonl" && ok ||
	    bad "$1: no hsm_restored alert"
}

gone_and_back "token folder moved away" \
    'mv "$T/v/token/objects" "$T/objects.away"' \
    'mv "$T/objects.away" "$T/v/token/objects"'
cp "$T/v/token/pin" "$T/pin.orig"
gone_and_back "PIN no longer accepted" \
    'printf "not-the-pin" >"$T/v/token/pin"' \
    'cp "$T/pin.orig" "$T/v/token/pin"'

stop_server
expect_eq "server exit status" 0 "$SRV_RC"
"$CV" audit tail --dir "$T/v" --json -n 400 >"$T/log"
python3 - "$T/log" <<'PY' && ok || bad "audit entries of the HSM's absence"
import json, sys
es = [json.loads(l) for l in open(sys.argv[1])]
acts = [e["action"] for e in es]
assert acts.count("hsm.unavailable") == 2, acts
assert acts.count("hsm.restored") == 2, acts
ref = [e for e in es if e["action"] == "hsm.refused" and e["outcome"] != "allowed"
       and "HSM" in e["reason"]]
assert ref, "refused reads name the HSM"
PY
finish
