#!/bin/bash
# The exfiltration guard against the real server. Proves that: canaries
# are real-looking, distinct decoys; a stolen session without the TOTP
# secret gets at most the soft minute budget (20) before a step-up is
# demanded; with the secret, at most the hard minute budget (40) before the
# user is locked; reading a canary returns it and locks the reader; every
# alert names its triggering audit entry and is in alerts.jsonl; only
# security officers read alerts and it takes two of them to unlock; normal
# work and weeks of a normal baseline raise nothing, while a low-and-slow
# thief on a learnt session (simulated week, CLEARVAULT_GUARD_CLOCK) is
# caught within a simulated day; locks and budgets survive a restart and
# a crash (kill -9: the audit log is replayed).
. "$(dirname "$0")/lib.sh"

SRV_PID=
trap 'kill "$SRV_PID" 2>/dev/null; cv_cleanup' EXIT
mkdir -p "$T/k"

# A fresh TOTP code for USER: each step is accepted once per user and
# only one step either side of now, so take the oldest usable step not
# used yet, waiting for the next one when all three are used.
code() {	# USER
	fresh_totp "$T/k/$1.otpauth" "$T/k/$1.step"
}
login2() {	# USER: POST /v1/session with a fresh code ($last_code); $tok
	last_code=$(code "$1")
	req "k/$1" POST /v1/session "{\"totp\":\"$last_code\"}"
	tok=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1])).get('token',''))" "$T/body" 2>/dev/null)
}
title() { json_field "$T/body" "d.get('title','')" 2>/dev/null; }
ids() {	# FILE FROM TO: record ids of input lines FROM..TO, one a line
	sed -n "$2,$3p" "$1" | cut -c8-26
}
jlist() {	# FILE: its lines as a JSON array of strings
	python3 -c "import json,sys; print(json.dumps(open(sys.argv[1]).read().split()))" "$1"
}
paths() {	# CASE IDFILE: the read paths of those records under CASE
	sed "s|^|/v1/records/|; s|\$|?purpose=$1|" "$2"
}
count() { grep -c "^$1\$" "$T/codes"; }
first_not() { grep -n -v "^$1\$" "$T/codes" | head -1 | cut -d: -f1; }
alerts() {	# the officer's GET /v1/alerts into $T/alerts.json
	req "k/$1" GET /v1/alerts "" "$2"
	cp "$T/body" "$T/alerts.json"
}
# KIND SEVERITY LOCKED for each of USER's alerts in $T/alerts.json
alerts_of() {
	python3 - "$T/alerts.json" "$1" <<'PY'
import os, sys; sys.path.insert(0, os.environ["CV_TESTLIB"]); import alerts
for a in alerts.of_api(sys.argv[1]):
    if a["user"] == sys.argv[2]:
        print(a["kind"], a["severity"], str(a["locked"]).lower())
PY
}
audit_json() {	# DIR: every audit entry, one JSON object a line, in $T/log
	"$CV" audit tail --dir "$1" --json -n 100000000 >"$T/log"
}

# ---- 1. canaries: real-looking, distinct, not in the input -------------
make_vault v 300 || { bad "setup"; finish; exit 1; }
# Established accounts, on the README's budgets: probation (a quarter of
# them for new accounts) is tested in test_ceiling.sh.
echo "probation_days = 0" >>"$T/v/clearvault.conf"
"$CV" canaries --dir "$T/v" >"$T/canaries"
expect_eq "canaries listed" 0 $?
python3 - "$T/canaries" "$T/v.jsonl" <<'PY' && ok || bad "canaries: >= 50, distinct, none in the input"
import json, sys
c = open(sys.argv[1]).read().split()
ins = {json.loads(l)["id"] for l in open(sys.argv[2])}
assert len(c) >= 50, len(c)
assert len(set(c)) == len(c), "duplicates"
assert not set(c) & ins, "canary id in the input"
assert all(x.startswith("CV-") and len(x) == len(next(iter(ins))) for x in c)
PY
"$CV" get --dir "$T/v" "$(ids "$T/v.jsonl" 1 1)" >"$T/real.json"
mkdir -p "$T/cget"
while read -r c; do
	"$CV" get --dir "$T/v" "$c" >"$T/cget/$c" 2>&1
done <"$T/canaries"
python3 - "$T/canaries" "$T/real.json" "$T/cget" "$T/v.jsonl" <<'PY' && ok ||
import json, sys
real = json.load(open(sys.argv[2]))
# Each section's keys and their value types, over every loaded record.
seen, ssns = {}, set()
for l in open(sys.argv[4]):
    d = json.loads(l)
    ssns.add(d["identity"]["ssn"])
    for s, v in d.items():
        if isinstance(v, dict):
            for k, x in v.items():
                seen.setdefault(s, {}).setdefault(k, set()).add(type(x))
for cid in open(sys.argv[1]).read().split():
    c = json.load(open(sys.argv[3] + "/" + cid))
    assert c["id"] == cid, cid
    assert list(c) == list(real), (cid, list(c))
    assert set(c["_meta"]) == set(real["_meta"]), cid
    for s, v in c.items():
        if s in ("id", "_meta"):
            continue
        for k, x in v.items():
            assert type(x) in seen[s].get(k, ()), (cid, s, k)
    assert c["identity"]["ssn"] not in ssns, cid
PY
    bad "every canary readable with get, shaped like a record"
# Reading a canary on the command line alerts the security office too; a
# real record does not.
expect_eq "a CLI alert per canary read, none for the real record" \
    "$(wc -l <"$T/canaries")" "$(grep -c '"action":"canary".*"source":"cli"' \
    "$T/v/alerts.jsonl")"
"$CV" gen --count 20 --seed 8 >"$T/more.jsonl"
"$CV" load --dir "$T/v" --quiet --canaries 0 "$T/more.jsonl"
expect_eq "second load" 0 $?
"$CV" get --dir "$T/v" "$(ids "$T/more.jsonl" 1 1)" >/dev/null 2>&1 &&
    ok || bad "second load stored its records"
"$CV" canaries --dir "$T/v" | cmp -s - "$T/canaries" &&
    ok || bad "load --canaries 0 added canaries to a vault"
make_vault z 20 --canaries 0
expect_eq "a vault loaded with --canaries 0 has none" 0 \
    "$("$CV" canaries --dir "$T/z" | wc -l)"
CANARY=$(sed -n 7p "$T/canaries")

# ---- users and cases ---------------------------------------------------
add_users "$T/v" so:security_officer so2:security_officer aud:auditor \
    adm:admin norm:investigator thief1:investigator thief2:investigator \
    canr:investigator p15:investigator pcrash:investigator ||
    { bad "users"; finish; exit 1; }
# The guard's clock: real time until the file exists (scenario 9).
export CLEARVAULT_GUARD_CLOCK="$T/clock9"
start_server "$T/v" || { bad "server start"; finish; exit 1; }
for u in so so2 aud adm norm; do
	login2 "$u"
	expect_code "login $u" 201
	eval "t_$u=\$tok"
done
mkcase() {	# TITLE USERS-JSON IDFILE: the new case's id in $CASE
	req k/so POST /v1/cases "{\"title\":\"$1\"}" "$t_so"
	CASE=$(json_field "$T/body" "d['id']")
	add_members k/so "$t_so" "$CASE" \
	    "{\"users\":$2,\"records\":$(jlist "$3")}"
	expect_code "case $1" 200
}
ids "$T/v.jsonl" 1 60 >"$T/a.ids"
mkcase "thieves" '["thief1","thief2"]' "$T/a.ids"
CA=$CASE
ids "$T/v.jsonl" 61 80 >"$T/b.ids"
mkcase "normal work" '["norm"]' "$T/b.ids"
CB=$CASE
{ ids "$T/v.jsonl" 81 85; echo "$CANARY"; } >"$T/c.ids"
mkcase "canary" '["canr"]' "$T/c.ids"
CC=$CASE
ids "$T/v.jsonl" 100 160 >"$T/d.ids"
mkcase "restarts" '["p15","pcrash"]' "$T/d.ids"
CD=$CASE

# ---- 8. normal work raises nothing --------------------------------------
n200=0
for r in $(head -10 "$T/b.ids"); do
	req k/norm GET "/v1/records/$r?purpose=$CB" "" "$t_norm"
	[ "$code" = 200 ] && n200=$((n200 + 1))
	sleep 0.3
done
expect_eq "normal pace: 10 distinct records read" 10 "$n200"
alerts so "$t_so"
expect_code "alerts listed" 200
expect_eq "normal work: no alert" "" "$(alerts_of norm)"

# ---- 2. fast thief without the TOTP secret ------------------------------
login2 thief1
expect_code "login thief1" 201
t_thief1=$tok
paths "$CA" "$T/a.ids" >"$T/a.paths"
batch thief1 "$t_thief1" "$T/a.paths" "$T/b1"
n200=$(count 200)
first=$(first_not 200)
echo "fast thief without TOTP: $n200 records returned of 60 asked"
[ "$n200" -ge 1 ] && [ "$n200" -le 20 ] && ok ||
    bad "fast thief: $n200 records returned, want 1..20"
expect_eq "fast thief: no record after the first refusal" \
    "$((n200 + 1))" "${first:-none}"
expect_eq "first refusal: 403" 403 "$(sed -n "${first:-1}p" "$T/codes")"
expect_eq "first refusal: step-up required" "step-up required" \
    "$(json_field "$T/b1/${first:-1}" "d['title']" 2>/dev/null)"
# Refused step-ups count: ten of them lock the user (baseline.c), and a
# lock ends the user's sessions.
n403=$(count 403)
expect_eq "fast thief: 403s, then 401s once locked" "$((60 - n200))" \
    "$((n403 + $(count 401)))"
expect_eq "fast thief: the 401s come last" "$((n200 + n403 + 1))" \
    "$(grep -n '^401$' "$T/codes" | head -1 | cut -d: -f1)"
expect_eq "fast thief: locked by the refused step-ups" "locked" \
    "$(json_field "$T/b1/$((n200 + n403))" "d['title']" 2>/dev/null)"
req k/thief1 POST /v1/session/step-up '{"totp":"000000"}' "$t_thief1"
[ "$code" = 401 ] && ok || bad "thief1: step-up with a wrong code: $code"
req k/thief1 GET "/v1/records/$(sed -n 1p "$T/a.ids")?purpose=$CA" "" \
    "$t_thief1"
[ "$code" != 200 ] && ok || bad "thief1: a read after the lock succeeded"

# ---- 3. thief with the TOTP secret --------------------------------------
login2 thief2
expect_code "login thief2" 201
t_thief2=$tok
head -21 "$T/a.paths" >"$T/a21.paths"
batch thief2 "$t_thief2" "$T/a21.paths" "$T/b2"
p1=$(count 200)
expect_eq "thief2: 20 records before the step-up" 20 "$p1"
expect_eq "thief2: then step-up required" "step-up required" \
    "$(json_field "$T/b2/21" "d['title']" 2>/dev/null)"
su=$(code thief2)
req k/thief2 POST /v1/session/step-up "{\"totp\":\"$su\"}" "$t_thief2"
expect_code "thief2 steps up with a fresh code" 200
req k/thief2 POST /v1/session/step-up "{\"totp\":\"$su\"}" "$t_thief2"
expect_problem "thief2: the same code again is refused" 401
sed -n 21,60p "$T/a.paths" >"$T/a40.paths"
batch thief2 "$t_thief2" "$T/a40.paths" "$T/b3"
p2=$(count 200)
first=$(first_not 200)
echo "thief with TOTP: $p1 + $p2 records returned"
[ $((p1 + p2)) -le 40 ] && [ "$p2" -ge 1 ] && ok ||
    bad "thief2: $p1 + $p2 records returned, want <= 40 and some after step-up"
expect_eq "thief2: refused at the hard limit with 403" 403 \
    "$(sed -n "${first:-1}p" "$T/codes")"
expect_eq "thief2: locked" "locked" \
    "$(json_field "$T/b3/${first:-1}" "d['title']" 2>/dev/null)"
expect_eq "thief2: no record after the lock" "$p2" \
    "$(head -n "${first:-0}" "$T/codes" | grep -c '^200$')"
expect_eq "thief2: sessions ended after the lock" 0 \
    "$(tail -n +"$(( ${first:-0} + 1 ))" "$T/codes" | grep -vc '^401$')"
login2 thief2
expect_problem "thief2: login refused when locked" 403
expect_eq "thief2: login says locked" locked "$(title)"
LOCK41=$(sed -n "$(( 20 + ${first:-1} ))p" "$T/a.ids")

# ---- 4. canary read -------------------------------------------------------
login2 canr
expect_code "login canr" 201
t_canr=$tok
for r in $(head -2 "$T/c.ids"); do
	req k/canr GET "/v1/records/$r?purpose=$CC" "" "$t_canr"
	expect_code "canr reads a case record" 200
done
req k/canr GET "/v1/records/$CANARY?purpose=$CC" "" "$t_canr"
expect_code "the canary is returned" 200
expect_eq "the canary's record" "$CANARY" "$(json_field "$T/body" "d['id']")"
expect_eq "the canary has the investigator's sections" \
    "identity,contact,history,family,foreign,financial,conduct,biometrics" \
    "$(json_field "$T/body" "','.join(k for k in d if k not in ('id','_meta'))")"
req k/canr GET "/v1/records/$(sed -n 3p "$T/c.ids")?purpose=$CC" "" "$t_canr"
expect_problem "after the canary: session ended" 401

# ---- 5. alerts ---------------------------------------------------------------
alerts so "$t_so"
expect_code "alerts listed" 200
audit_json "$T/v"
python3 - "$T/alerts.json" "$T/log" "$T/v/alerts.jsonl" "$CANARY" \
    "$LOCK41" <<'PY' && ok || bad "alerts name their triggering reads"
import json
import os, sys; sys.path.insert(0, os.environ["CV_TESTLIB"]); import alerts
al = alerts.of_api(sys.argv[1])
log = {}
for l in open(sys.argv[2]):
    e = json.loads(l)
    log[e["index"]] = e
lines = alerts.load(sys.argv[3])
assert lines == al, "alerts.jsonl differs from GET /v1/alerts"
# Approvals raise alerts of their own (add_users makes many accounts at
# once): here only the guard's, which name reads.
al = [a for a in al if a["kind"] not in ("account_burst",
      "approval_off_hours", "busy_approver")]
for a in al:
    assert a["kind"] and a["severity"] in ("warning", "critical"), a
    assert a["audit_indices"], a
    for i in a["audit_indices"]:
        e = log[i]
        want = "get" if a["source"] == "cli" else "records.get"
        assert e["actor"] == a["user"] and e["action"] == want, (a, e)
        # (a CLI canary alert names the read's own entry: its record)
        assert a["source"] != "cli" or e["outcome"] == "allowed" and \
            len(e["records"]) == 1 and e["records"][0].startswith("CV-"), (a, e)
        assert e["session"] == a["session"], (a, e)
def of(u, kind):
    return [a for a in al if a["user"] == u and a["kind"] == kind]
c = of("canr", "canary")
assert len(c) == 1 and c[0]["severity"] == "critical" and c[0]["locked"], c
e = log[c[0]["audit_indices"][0]]
assert e["records"] == [sys.argv[4]] and e["outcome"] == "allowed", e
b = of("thief2", "budget")
assert len(b) == 1 and b[0]["severity"] == "critical" and b[0]["locked"], b
e = log[b[0]["audit_indices"][0]]
assert e["records"] == [sys.argv[5]] and e["outcome"] == "denied", e
assert "hard limit" in e["reason"], e
assert of("thief1", "step_up"), "no step_up alert for thief1"
assert any(a["locked"] and a["severity"] == "critical"
           for a in al if a["user"] == "thief1"), "thief1 not locked"
assert not [a for a in al if a["user"] == "norm"]
PY
for u in norm aud adm; do
	eval "req k/$u GET /v1/alerts '' \"\$t_$u\""
	expect_problem "$u reads no alerts" 403
done

# ---- 6. two-person unlock ---------------------------------------------------
req k/so POST /v1/users/canr/unlock "" "$t_so"
expect_code "first officer approves" 200
expect_eq "first approval" "False 1" \
    "$(json_field "$T/body" "d['unlocked'], d['approvals']" | tr -d '(),')"
req k/so POST /v1/users/canr/unlock "" "$t_so"
expect_problem "the same officer again" 409
req k/norm POST /v1/users/canr/unlock "" "$t_norm"
expect_problem "an investigator cannot approve" 403
req k/canr POST /v1/users/canr/unlock "" "$t_canr"
expect_problem "the locked user cannot (no session)" 401
req k/so2 POST /v1/users/norm/unlock "" "$t_so2"
expect_problem "a user not locked" 404
login2 canr
expect_problem "after the canary (and one approval): login refused" 403
expect_eq "after the canary: locked" locked "$(title)"
req k/so2 POST /v1/users/canr/unlock "" "$t_so2"
expect_code "second officer approves" 200
expect_eq "second approval unlocks" "True 2" \
    "$(json_field "$T/body" "d['unlocked'], d['approvals']" | tr -d '(),')"
login2 canr
expect_code "unlocked user logs in" 201
req k/canr GET "/v1/records/$(sed -n 3p "$T/c.ids")?purpose=$CC" "" "$tok"
expect_code "unlocked user reads again" 200
audit_json "$T/v"
python3 - "$T/log" <<'PY' && ok || bad "every unlock step audited"
import json
es = [json.loads(l) for l in open(__import__("sys").argv[1])]
u = [(e["actor"], e["outcome"]) for e in es if e["action"] == "users.unlock"]
assert u == [("so", "allowed"), ("so", "denied"), ("norm", "denied"),
             ("so2", "denied"), ("so2", "allowed")], u
PY

# ---- 8 again: no alert for normal work after all this -------------------------
alerts so "$t_so"
expect_eq "normal work: still no alert" "" "$(alerts_of norm)"

# ---- 9. restart keeps locks and budgets; a crash replays the log -----------
# From now on the guard's clock stands still: no window rolls over.
echo "$(date +%s) 0" >"$T/clock9"
login2 p15
expect_code "login p15" 201
c15=$last_code
paths "$CD" "$T/d.ids" >"$T/d.paths"
head -15 "$T/d.paths" >"$T/d15.paths"
batch p15 "$tok" "$T/d15.paths"
expect_eq "p15 reads 15 before the restart" 15 "$(count 200)"
stop_server
expect_eq "server exit status (SIGTERM)" 0 "$SRV_RC"
[ -s "$T/v/guard.state" ] && ok || bad "guard state saved at exit"
snap=$(sha256sum <"$T/v/guard.state")
start_server "$T/v" || { bad "server restart"; finish; exit 1; }
# "A TOTP code is accepted once" (README), a restart notwithstanding: the
# code p15 logged in with a moment ago is still within its 30 s window.
req k/p15 POST /v1/session "{\"totp\":\"$c15\"}"
expect_problem "after a restart: a used TOTP code is refused" 401
# The crash, at once (before the server's first periodic snapshot, 10 s
# after start): these reads are only in the log.
login2 pcrash
expect_code "login pcrash" 201
sed -n 31,45p "$T/d.paths" >"$T/dc.paths"
batch pcrash "$tok" "$T/dc.paths"
expect_eq "pcrash reads 15 before the crash" 15 "$(count 200)"
crash_server
expect_eq "no snapshot since the restart: the reads are only in the log" \
    "$snap" "$(sha256sum <"$T/v/guard.state")"
start_server "$T/v" || { bad "server restart after kill -9"; finish; exit 1; }
login2 thief1
expect_problem "after a restart and a crash: locked user refused" 403
expect_eq "after a restart and a crash: locked" locked "$(title)"
# USER LINES DIR WHEN: USER read 15 records before WHEN; LINES of the
# case's paths give at most 5 more, then a step-up.
budget_kept() {
	login2 "$1"
	expect_code "login $1 after the $4" 201
	sed -n "$2p" "$T/d.paths" >"$T/$3.paths"
	batch "$1" "$tok" "$T/$3.paths" "$T/$3"
	n=$(count 200)
	first=$(first_not 200)
	echo "after a $4: $n more records for $1 (15 before)"
	[ "$n" -le 5 ] && ok || bad "after a $4: budget forgotten ($n more)"
	expect_eq "after a $4: step-up required" "step-up required" \
	    "$(json_field "$T/$3/${first:-1}" "d['title']" 2>/dev/null)"
}
budget_kept p15 16,25 b9 restart
budget_kept pcrash 46,55 b10 crash
stop_server
expect_eq "server exit status" 0 "$SRV_RC"

# ---- 7. low and slow over simulated weeks ------------------------------------
make_vault w 400 || { bad "setup w"; finish; exit 1; }
echo "probation_days = 0" >>"$T/w/clearvault.conf"
# The weeks below are one session: the session budget (20 records per TOTP
# proof, tests/fault/test_guard_paced.sh) out of the way, to see the
# behaviour baseline alone.
echo "session_records = 100000" >>"$T/w/clearvault.conf"
add_users "$T/w" so7:security_officer lw:investigator ||
    { bad "users (w)"; finish; exit 1; }
export CLEARVAULT_GUARD_CLOCK="$T/clock7"
start_server "$T/w" || { bad "server start (w)"; finish; exit 1; }
login2 so7
t_so7=$tok
login2 lw
expect_code "login lw" 201
t_lw=$tok
ids "$T/w.jsonl" 1 300 >"$T/w.ids"
req k/so7 POST /v1/cases '{"title":"casework"}' "$t_so7"
CW=$(json_field "$T/body" "d['id']")
add_members k/so7 "$t_so7" "$CW" \
    "{\"users\":[\"lw\"],\"records\":$(jlist "$T/w.ids")}"
expect_code "case of 300 records" 200
paths "$CW" "$T/w.ids" >"$T/w.paths"
pick() {	# FROM N: N paths of the case, going round from FROM
	awk -v from="$1" -v n="$2" '{ p[NR - 1] = $0 }
	    END { for (i = 0; i < n; i++) print p[(from + i) % NR] }' \
	    "$T/w.paths"
}
MON=1736121600	# Monday 2025-01-06 00:00 UTC
# Three weeks of office work: weekdays 09:00-16:40, a record every 20 min.
at=0
: >"$T/base.codes"
for week in 0 1 2; do
	for day in 0 1 2 3 4; do
		echo "$((MON + week * 604800 + day * 86400 + 9 * 3600)) 1200" \
		    >"$T/clock7"
		pick "$at" 24 >"$T/day.paths"
		at=$((at + 24))
		batch lw "$t_lw" "$T/day.paths"
		cat "$T/codes" >>"$T/base.codes"
	done
done
expect_eq "baseline: every read allowed" 360 "$(grep -c '^200$' "$T/base.codes")"
alerts so7 "$t_so7"
expect_eq "baseline: no alert" "" "$(alerts_of lw)"
# The thief on that session: a record every 5 minutes, day and night, for
# a week from Monday 09:00 of the fourth week.
"$CV" audit tail --dir "$T/w" --json -n 1 >"$T/last"
base=$(( $(json_field "$T/last" "d['index']") + 1 ))
echo "$((MON + 3 * 604800 + 9 * 3600)) 300" >"$T/clock7"
pick "$at" 2016 >"$T/week.paths"
batch lw "$t_lw" "$T/week.paths"
n200=$(count 200)
first=$(first_not 200)
echo "low and slow: $n200 records returned in a simulated week (2016 asked)"
[ "$n200" -le 800 ] && ok || bad "low and slow: $n200 records, more than the day's hard budget"
[ "${first:-9999}" -le 288 ] && ok ||
    bad "low and slow: not stopped within a simulated day (first refusal: ${first:-none})"
expect_eq "low and slow: stopped by a lock" 403 "$(sed -n "${first:-1}p" "$T/codes")"
alerts so7 "$t_so7"
python3 - "$T/alerts.json" "$base" <<'PY' && ok || bad "low and slow: alerted within a simulated day"
import os, sys; sys.path.insert(0, os.environ["CV_TESTLIB"]); import alerts
al = [a for a in alerts.of_api(sys.argv[1]) if a["user"] == "lw"]
assert al, "no alert"
k = min(i for a in al for i in a["audit_indices"]) - int(sys.argv[2]) + 1
print("low and slow: first alert at read %d; kinds %s" %
      (k, sorted({a["kind"] for a in al})))
assert 1 <= k <= 288, k
assert any(a["locked"] for a in al), "no lock"
PY
stop_server
expect_eq "server exit status (w)" 0 "$SRV_RC"
# Fail closed: a guard state that does not open (altered, or from another
# vault) stops the server from starting; it is not silently forgotten.
python3 - "$T/w/guard.state" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read()); b[len(b) // 2] ^= 1
open(sys.argv[1], "wb").write(bytes(b))
PY
expect_fail "an altered guard state: the server refuses to start" \
    "failed authentication" timeout 30 "$CV" serve --dir "$T/w" \
    --listen 127.0.0.1:0
finish
