#!/bin/bash
# A stolen session read at a pace under every per-minute, hour and day
# budget (the guard's simulated clock: 400 reads over 4 simulated hours)
# gets at most the session budget out (20 distinct records since the
# session's last TOTP proof, `session_records` in clearvault.conf), then
# "step-up required"; a fresh TOTP step-up gives the session 20 more, and
# re-reading a record already returned is free. Behaviour checks do not
# wait for a user's own baseline: a user without one is held to the
# role's default (a volume alert) and, once colleagues of the same role
# have a learnt baseline, to theirs (bulk reading at night, when none of
# them reads, is an off_hours alert), while reading at their pace raises
# nothing.
. "$(dirname "$0")/../cli/lib.sh"

SRV_PID=
trap 'kill "$SRV_PID" 2>/dev/null; cv_cleanup' EXIT

ids() { sed -n "$2,$3p" "$1" | cut -c8-26; }	# FILE FROM TO
jlist() { python3 -c "import json,sys; print(json.dumps(open(sys.argv[1]).read().split()))" "$1"; }
# GETs of the case's records FROM..TO of the input in one curl process:
# USER TOKEN FROM TO [BODYDIR]. Codes, one a line, in $T/codes.
reads() {
	ids "$T/v.jsonl" "$3" "$4" |
	    sed "s|^|/v1/records/|; s|\$|?purpose=$CASE|" >"$T/paths"
	batch "$1" "$2" "$T/paths" ${5:+"$5"}
}
count() { grep -c "^$1\$" "$T/codes"; }
first_not() { grep -n -v "^$1\$" "$T/codes" | head -1 | cut -d: -f1; }
field() { json_field "$1" "d.get('$2','')" 2>/dev/null; }	# FILE KEY
# KIND for each of USER's alerts in alerts.jsonl, then its detail.
alerts_of() {
	python3 - "$T/v/alerts.jsonl" "$1" <<'PY'
import os, sys; sys.path.insert(0, os.environ["CV_TESTLIB"]); import alerts
for a in alerts.load(sys.argv[1]):
    if a["user"] == sys.argv[2]:
        print(a["kind"], a["detail"])
PY
}
clock() { echo "$1 $2" >"$T/clock"; }	# START STEP (seconds)
# USER read records FROM..TO at a record a minute (DESC): an alert of
# KIND naming WHOSE baseline, and the user stopped before the last.
held() {	# DESC USER FROM TO KIND WHOSE
	local n asked=$(($4 - $3 + 1))
	reads "$2" "$tok" "$3" "$4"
	n=$(count 200)
	echo "$1: $n of $asked returned at a record a minute"
	alerts_of "$2" >"$T/al"
	grep -q "^$5 .*($6" "$T/al" && ok ||
	    bad "$1: no $5 alert against the $6 baseline: $(cat "$T/al")"
	[ "$n" -lt "$asked" ] && ok || bad "$1: never stopped ($n)"
}
MON=1736121600	# Monday 2025-01-06 00:00 UTC

make_vault v 500 || { bad "setup"; finish; exit 1; }
echo "probation_days = 0" >>"$T/v/clearvault.conf"
cp "$T/v/clearvault.conf" "$T/conf"
add_users "$T/v" so:security_officer thief:investigator inv:investigator \
    fresh:investigator peer:investigator newbie:investigator ||
    { bad "users"; finish; exit 1; }
export CLEARVAULT_GUARD_CLOCK="$T/clock"
clock $((MON + 9 * 3600)) 36
start_server "$T/v" || { bad "server start"; finish; exit 1; }
login_fresh so
t_so=$tok
req k/so POST /v1/cases '{"title":"paced"}' "$t_so"
CASE=$(json_field "$T/body" "d['id']")
ids "$T/v.jsonl" 1 450 >"$T/case.ids"
add_members k/so "$t_so" "$CASE" "{\"users\":[\"thief\",\"inv\",\"fresh\",\
\"peer\",\"newbie\"],\"records\":$(jlist "$T/case.ids")}"
expect_code "a case of 450 records" 200

# ---- a paced thief on a stolen session ---------------------------------
# 400 distinct records, one every 36 simulated seconds: 100 an hour, under
# the investigator's soft budgets of 20 a minute, 120 an hour and 400 a
# day. Without the TOTP secret it never steps up.
login_fresh thief
expect_code "login thief" 201
reads thief "$tok" 1 400 "$T/b1"
n=$(count 200)
first=$(first_not 200)
echo "paced thief: $n records returned of 400 asked in 4 simulated hours"
expect_eq "paced thief: the session budget's 20 records, no more" 20 "$n"
expect_eq "paced thief: nothing after the first refusal" 21 "${first:-none}"
expect_eq "paced thief: refused with 403 step-up required" \
    "403 step-up required" "$(sed -n "${first:-1}p" "$T/codes") \
$(field "$T/b1/${first:-1}" title)"
field "$T/b1/${first:-1}" detail | grep -q "since this session's last TOTP" &&
    ok || bad "paced thief: the refusal names the session budget"
"$CV" audit tail --dir "$T/v" --json -n 100000 >"$T/log"
python3 - "$T/log" <<'PY' && ok || bad "paced thief: the refusal's entry"
import json, sys
es = [json.loads(l) for l in open(sys.argv[1])]
d = [e for e in es if e["actor"] == "thief" and e["outcome"] == "denied"]
assert d and "session budget" in d[0]["reason"], d[:1]
PY

# ---- the session's owner, with the TOTP secret --------------------------
login_fresh inv
expect_code "login inv" 201
t_inv=$tok
reads inv "$t_inv" 1 21 "$T/b2"
expect_eq "inv: 20 records, then step-up required" "20 403" \
    "$(count 200) $(sed -n 21p "$T/codes")"
reads inv "$t_inv" 5 5
expect_eq "inv: a record already returned is free" 200 "$(cat "$T/codes")"
c=$(fresh_totp "$T/k/inv.otpauth" "$T/k/inv.step")
req k/inv POST /v1/session/step-up "{\"totp\":\"$c\"}" "$t_inv"
expect_code "inv steps up with a fresh code" 200
reads inv "$t_inv" 21 41 "$T/b3"
expect_eq "inv: after the step-up, 20 more, then step-up required" \
    "20 403" "$(count 200) $(sed -n 21p "$T/codes")"
expect_eq "inv: step-up required" "step-up required" \
    "$(field "$T/b3/21" title)"
stop_server
expect_eq "server exit status" 0 "$SRV_RC"

# ---- configurable -------------------------------------------------------
{ cat "$T/conf"; echo "session_records = 0"; } >"$T/v/clearvault.conf"
expect_fail "session_records = 0 is refused" "session_records" \
    timeout 30 "$CV" serve --dir "$T/v" --listen 127.0.0.1:0
{ cat "$T/conf"; echo "session_records = 5"; } >"$T/v/clearvault.conf"
# The guard's clock goes on from where it was (a clock set back would
# find the records read "later" in every window).
clock $((MON + 86400 + 8 * 3600)) 36
start_server "$T/v" || { bad "restart"; finish; exit 1; }
# inv's session outlived the restart (sessions are rows of the store),
# but its count did not: a record it never read needs a step-up first.
reads inv "$t_inv" 300 300
expect_eq "a session from before the restart steps up before a new record" \
    403 "$(cat "$T/codes")"
login_fresh inv
expect_code "login inv (session_records = 5)" 201
reads inv "$tok" 100 105
expect_eq "session_records = 5: 5 records, then step-up required" "5 403" \
    "$(count 200) $(sed -n 6p "$T/codes")"
stop_server

# ---- behaviour without a baseline of one's own --------------------------
# The session budget out of the way, to see the behaviour checks alone.
{ cat "$T/conf"; echo "session_records = 100000"; } >"$T/v/clearvault.conf"
# A Tuesday, 10:00, one record a minute: under every budget. No
# investigator has a learnt baseline yet: the role's default holds.
clock $((MON + 86400 + 10 * 3600)) 60
start_server "$T/v" || { bad "restart"; finish; exit 1; }
login_fresh fresh
held "fresh account, no peers learnt" fresh 101 180 volume "role default"

# Three weeks of office work by a colleague (weekdays 09:00-16:40, a record
# every 20 minutes): the role's peers now have a baseline.
login_fresh peer
t_peer=$tok
at=1
for week in 1 2 3; do
	for day in 0 1 2 3 4; do
		clock $((MON + week * 604800 + day * 86400 + 9 * 3600)) 1200
		reads peer "$t_peer" "$at" $((at + 23))
		[ "$(count 200)" = 24 ] || bad "peer's day $week/$day: $(count 200)"
		at=$(( at + 24 > 400 ? 1 : at + 24 ))
	done
done
# A colleague without a baseline, at the peers' pace in their hours:
# nothing. The same at 02:00, when none of them ever reads: off_hours.
clock $((MON + 4 * 604800 + 2 * 86400 + 10 * 3600)) 240
login_fresh newbie
reads newbie "$tok" 200 214
expect_eq "newbie at 10:00: 15 records" 15 "$(count 200)"
expect_eq "newbie at 10:00: no alert" "" "$(alerts_of newbie)"
clock $((MON + 4 * 604800 + 3 * 86400 + 2 * 3600)) 60
held "newbie at 02:00" newbie 300 340 off_hours "peers'"
stop_server
expect_eq "server exit status (last)" 0 "$SRV_RC"
finish
