#!/bin/bash
# Issue 11, against the real server: the vault-wide read ceiling (set low
# in clearvault.conf) makes every reader step up at its soft level, even
# one far below their own budget, and refuses every read at its hard
# level without locking anyone, with one alert per crossing; its windows
# survive a restart and a crash (the log is replayed). Probation: a new
# account stops at a quarter of its budget, with probation_days = 0 at
# the full budget. A session refused with "step-up required" that does
# not step up raises "stopped_at_step_up" once (an audit entry too); one
# that steps up does not, one that fails its step-up still does. A bad
# ceiling line stops the server with the line named.
. "$(dirname "$0")/lib.sh"

SRV_PID=
trap 'kill "$SRV_PID" 2>/dev/null; cv_cleanup' EXIT
mkdir -p "$T/k"
# Test only: the stopped-session wait shortened from 300 s.
WAIT=4
export CLEARVAULT_STEP_UP_WAIT_S=$WAIT

code() { fresh_totp "$T/k/$1.otpauth" "$T/k/$1.step"; }
login2() {	# USER: a fresh code; token in $tok and t_USER
	req "k/$1" POST /v1/session "{\"totp\":\"$(code "$1")\"}"
	tok=$(json_field "$T/body" "d.get('token','')" 2>/dev/null)
	eval "t_$1=\$tok"
}
title() { json_field "$T/body" "d.get('title','')" 2>/dev/null; }
detail() { json_field "$T/body" "d.get('detail','')" 2>/dev/null; }
rid() { sed -n "$2p" "$T/$1.jsonl" | cut -c8-26; }	# VAULT LINE
get() {	# USER VAULT LINE: GET that record under $CASE
	local t
	eval "t=\$t_$1"
	req "k/$1" GET "/v1/records/$(rid "$2" "$3")?purpose=$CASE" "" "$t"
}
step_up() {	# USER [CODE]
	local t
	eval "t=\$t_$1"
	req "k/$1" POST /v1/session/step-up \
	    "{\"totp\":\"${2:-$(code "$1")}\"}" "$t"
}
mkcase() {	# OFFICER VAULT USERS-JSON N: a case of the first N records
	local t
	eval "t=\$t_$1"
	req "k/$1" POST /v1/cases '{"title":"casework"}' "$t"
	CASE=$(json_field "$T/body" "d['id']")
	sed -n "1,$4p" "$T/$2.jsonl" | cut -c8-26 >"$T/case.ids"
	add_members "k/$1" "$t" "$CASE" "{\"users\":$3,\"records\":$(
	    python3 -c "import json,sys; print(json.dumps(open(sys.argv[1]).read().split()))" \
	    "$T/case.ids")}"
	expect_code "case of $4 records" 200
}
# KIND USER SEVERITY lines of DIR/alerts.jsonl, KIND given: of that kind
alerts() {	# DIR [KIND]
	python3 - "$1/alerts.jsonl" "${2:-}" <<'PY'
import os, sys; sys.path.insert(0, os.environ["CV_TESTLIB"]); import alerts
for a in alerts.load(sys.argv[1]):
    if not sys.argv[2] or a["kind"] == sys.argv[2]:
        print(a["kind"], a["user"], a["severity"])
PY
}
nalerts() { alerts "$1" "$2" | grep -c "${3:-.}"; }	# DIR KIND [PATTERN]

# ---- the vault-wide ceiling ------------------------------------------------
make_vault c 60 || { bad "setup"; finish; exit 1; }
# Readers far below their own budgets (20 a minute, probation off); the
# whole vault at 6 (soft) and 10 (hard) distinct records an hour.
cat >>"$T/c/clearvault.conf" <<'EOF'
# issue 11 test: a tiny vault-wide ceiling
ceiling_hour = 6/10
probation_days = 0
EOF
add_users "$T/c" so:security_officer r1:investigator r2:investigator \
    r3:investigator r4:investigator || { bad "users"; finish; exit 1; }
start_server "$T/c" || { bad "server start"; finish; exit 1; }
for u in so r1 r2 r3; do
	login2 "$u"
	expect_code "login $u" 201
done
mkcase so c '["r1","r2","r3","r4"]' 30
for i in 1 2 3; do
	get r1 c "$i"
	expect_code "r1 reads record $i" 200
	get r2 c "$((i + 3))"
	expect_code "r2 reads record $((i + 3))" 200
done
expect_eq "no ceiling alert below the soft level" 0 \
    "$(nalerts "$T/c" ceiling)"
# Six distinct records in the vault: r3, who has read none, is held.
get r3 c 7
expect_problem "soft ceiling: r3 (0 read of 20) must step up" 403
expect_eq "soft ceiling: step-up required" "step-up required" "$(title)"
case "$(detail)" in
*vault-wide*) ok ;;
*) bad "soft ceiling: the detail names the vault-wide ceiling: $(detail)" ;;
esac
get r1 c 8
expect_problem "soft ceiling: r1 must step up too" 403
expect_eq "r1: step-up required" "step-up required" "$(title)"
get r2 c 4
expect_code "soft ceiling: re-reading a counted record is free" 200
expect_eq "soft ceiling: one warning for the crossing" \
    "ceiling r3 warning" "$(alerts "$T/c" ceiling)"
# r3 steps up at once; r2 tries with a wrong code; r1 stops here.
step_up r3
expect_code "r3 steps up" 200
get r3 c 7
expect_code "stepped up: r3 reads past the soft ceiling" 200
get r2 c 9
expect_problem "r2 held" 403
step_up r2 000000
expect_problem "r2: a wrong step-up code" 401

# ---- stopped at the step-up --------------------------------------------------
for _ in $(seq 1 $((WAIT * 5))); do
	[ "$(nalerts "$T/c" stopped_at_step_up)" -ge 2 ] && break
	sleep 1
done
sleep 2	# anything more would have come by now
expect_eq "stopped_at_step_up: r1 and r2 (a failed step-up is no step-up)" \
    "r1 r2" "$(alerts "$T/c" stopped_at_step_up | cut -d' ' -f2 | sort |
    tr '\n' ' ' | sed 's/ $//')"
expect_eq "stopped_at_step_up: a warning" 2 \
    "$(nalerts "$T/c" stopped_at_step_up warning)"
"$CV" audit tail --dir "$T/c" --json -n 1000 >"$T/log"
python3 - "$T/c/alerts.jsonl" "$T/log" <<'PY' && ok ||
import json
import os, sys; sys.path.insert(0, os.environ["CV_TESTLIB"]); import alerts
log = {}
for l in open(sys.argv[2]):
    e = json.loads(l)
    log[e["index"]] = e
for a in alerts.load(sys.argv[1]):
    if a["kind"] != "stopped_at_step_up":
        continue
    refusal, entry = (log[i] for i in a["audit_indices"])
    assert refusal["action"] == "records.get", refusal
    assert refusal["outcome"] == "denied", refusal
    assert refusal["session"] == a["session"], (refusal, a)
    assert refusal["actor"] == a["user"], refusal
    assert entry["action"] == "guard.alert", entry
    assert entry["actor"] == a["user"] and entry["session"] == a["session"]
    assert "stopped_at_step_up" in entry["reason"], entry
PY
    bad "stopped_at_step_up: names the refusal and its guard.alert entry"
# Once per session: refused again, still one alert.
get r1 c 10
expect_problem "r1 still held" 403
sleep $((WAIT + 3))
expect_eq "stopped_at_step_up: once per session" 1 \
    "$(nalerts "$T/c" stopped_at_step_up r1)"
expect_eq "stopped_at_step_up: none for the session that stepped up" 0 \
    "$(nalerts "$T/c" stopped_at_step_up r3)"

# ---- restart, then a crash: the ceiling's windows from the log -----------
stop_server
expect_eq "server exit status (SIGTERM)" 0 "$SRV_RC"
snap=$(sha256sum <"$T/c/guard.state")
start_server "$T/c" || { bad "server restart"; finish; exit 1; }
# At once, before the first periodic snapshot (10 s after start), by a
# user with unused TOTP steps (no wait for a fresh code).
login2 r4
step_up r4
expect_code "r4 steps up after the restart" 200
for i in 11 12; do
	get r4 c "$i"
	expect_code "r4 reads record $i (vault: 8 then 9)" 200
done
crash_server
expect_eq "no snapshot since the restart: these reads are only in the log" \
    "$snap" "$(sha256sum <"$T/c/guard.state")"
start_server "$T/c" || { bad "server restart after kill -9"; finish; exit 1; }
for u in r1 r2 r3; do login2 "$u"; done
step_up r3
expect_code "r3 steps up after the crash" 200
get r3 c 13
expect_code "the tenth distinct record" 200
get r3 c 14
expect_problem "hard ceiling: the eleventh refused (replayed windows)" 403
expect_eq "hard ceiling: its title" "vault ceiling" "$(title)"
case "$(detail)" in
*"every read is refused"*) ok ;;
*) bad "hard ceiling: a clear detail: $(detail)" ;;
esac
get r1 c 15
expect_problem "hard ceiling: r1 refused too" 403
expect_eq "hard ceiling: r1 told why" "vault ceiling" "$(title)"
get r2 c 16
expect_problem "hard ceiling: r2 refused too" 403
get r3 c 17
expect_problem "hard ceiling: again" 403
expect_eq "one warning and one critical alert, restarts and all" \
    "ceiling r3 warning
ceiling r3 critical" "$(alerts "$T/c" ceiling)"
# Nobody is locked by what the vault read as a whole.
req k/r1 GET /v1/session "" "$t_r1"
expect_code "hard ceiling: r1's session lives" 200
login2 r2
expect_code "hard ceiling: r2 logs in (not locked)" 201
expect_eq "no lock, no budget alert" 0 \
    "$(alerts "$T/c" | grep -vc -e '^ceiling ' -e '^stopped_at_step_up ' \
    -e '^account_burst ' -e '^approval_off_hours ' -e '^busy_approver ')"
"$CV" audit tail --dir "$T/c" --json -n 1000 >"$T/log"
python3 - "$T/log" <<'PY' && ok || bad "ceiling refusals audited as denied"
import json, sys
es = [json.loads(l) for l in open(sys.argv[1])]
hard = [e for e in es if e["reason"] == "guard: vault ceiling: hour hard limit"]
assert len(hard) == 4 and all(e["outcome"] == "denied" for e in hard), hard
assert {e["actor"] for e in hard} == {"r1", "r2", "r3"}, hard
soft = [e for e in es if e["reason"] == "guard: vault ceiling: hour soft limit"]
assert len(soft) >= 3 and all(e["outcome"] == "denied" for e in soft), soft
assert not [e for e in es if e["action"] == "guard.lock"]
PY
stop_server
expect_eq "server exit status" 0 "$SRV_RC"

# ---- probation ---------------------------------------------------------------
make_vault p 40 || { bad "setup p"; finish; exit 1; }
add_users "$T/p" po:security_officer pn:investigator pz:investigator ||
    { bad "users (p)"; finish; exit 1; }
for u in pn pz; do	# 8 a minute before a step-up, 12 before a lock
	set_budget "$T/p" "$u" 8/12 100/200 100/200
	expect_eq "budget for $u" 0 $?
done
start_server "$T/p" || { bad "server start (p)"; finish; exit 1; }
login2 po
login2 pn
expect_code "login pn" 201
mkcase po p '["pn","pz"]' 30
n=0
for i in $(seq 1 10); do
	get pn p "$i"
	[ "$code" = 200 ] || break
	n=$((n + 1))
done
expect_eq "probation (default 14 days): a quarter of 8 before a step-up" \
    2 "$n"
expect_problem "probation: then held" 403
expect_eq "probation: step-up required" "step-up required" "$(title)"
step_up pn
expect_code "pn steps up" 200
get pn p 3
expect_code "pn: the third record after the step-up" 200
get pn p 4
expect_problem "probation: locked at a quarter of 12" 403
expect_eq "probation: locked" "locked" "$(title)"
expect_eq "probation: the lock's alert says so" 1 \
    "$(grep '"action":"budget"' "$T/p/alerts.jsonl" | grep -c probation)"
"$CV" audit tail --dir "$T/p" --json -n 1000 >"$T/log"
python3 - "$T/log" <<'PY' && ok || bad "probation named in the audit reasons"
import json, sys
es = [json.loads(l) for l in open(sys.argv[1]) if '"pn"' in l]
r = [e["reason"] for e in es if e["outcome"] == "denied" and
     e["action"] == "records.get"]
assert r == ["guard: probation budget: minute soft limit",
             "guard: probation budget: hard limit"], r
PY
stop_server
echo "probation_days = 0" >>"$T/p/clearvault.conf"
start_server "$T/p" || { bad "server start (p, no probation)"; finish; exit 1; }
login2 pz
n=0
for i in $(seq 11 20); do
	get pz p "$i"
	[ "$code" = 200 ] || break
	n=$((n + 1))
done
expect_eq "probation_days = 0: the full 8 before a step-up" 8 "$n"
expect_eq "probation_days = 0: then step-up required" "step-up required" \
    "$(title)"
"$CV" audit tail --dir "$T/p" --json -n 1000 >"$T/log"
expect_eq "probation_days = 0: the user's own budget named" \
    "guard: read budget: minute soft limit" "$(python3 -c '
import json, sys
print(*[e["reason"] for e in map(json.loads, open(sys.argv[1]))
        if e["actor"] == "pz" and e["outcome"] == "denied"], sep="|")' \
    "$T/log")"
stop_server

# ---- a bad ceiling line: the server does not start, the line is named ----
echo "ceiling_day = 500/400" >>"$T/p/clearvault.conf"
line=$(wc -l <"$T/p/clearvault.conf")
expect_fail "soft above hard" "line $line: 'ceiling_day' must be SOFT/HARD" \
    timeout 30 "$CV" serve --dir "$T/p" --listen 127.0.0.1:0
finish
