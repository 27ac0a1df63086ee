#!/bin/bash
# The guard during an audit-log outage. Every read then answers 503 and
# returns nothing, so nothing may be spent from the reader's budget:
# reads past the hard limit must not lock anyone, during the outage or
# after it, in memory or in guard.state. A lock the guard does decide
# then (a canary asked for) holds at once, and is written to the log,
# announced and saved once the log is back: no lock without its entry.
# Records the guard allowed that could not be decrypted (shredded: 410)
# did not leave either, and cost nothing.
# The outage: CLEARVAULT_FAULT=audit.write:@FILE fails every write to
# the log while FILE exists.
. "$(dirname "$0")/../cli/lib.sh"

SRV_PID=
trap 'kill "$SRV_PID" 2>/dev/null; cv_cleanup' EXIT

ids() { sed -n "$2,$3p" "$1" | cut -c8-26; }	# FILE FROM TO
jlist() { python3 -c "import json,sys; print(json.dumps(open(sys.argv[1]).read().split()))" "$1"; }
read_rec() {	# USER TOKEN RECORD
	req "k/$1" GET "/v1/records/$3?purpose=$CASE" "" "$2"
}
# Reads of records FROM..TO of the input by USER; the codes in $T/codes.
reads() {	# USER TOKEN FROM TO
	: >"$T/codes"
	for r in $(ids "$T/v.jsonl" "$3" "$4"); do
		read_rec "$1" "$2" "$r"
		echo "$code" >>"$T/codes"
	done
}
codes() { sort "$T/codes" | uniq -c | awk '{ printf "%s%sx%s", s, $1, $2; s=" " }'; }
# A login with a TOTP step never used before (each is accepted once).
login2() {	# USER: status in $code, the token in $tok
	local c
	c=$(fresh_totp "$T/k/$1.otpauth" "$T/k/$1.step")
	req "k/$1" POST /v1/session "{\"totp\":\"$c\"}"
	tok=$(json_field "$T/body" "d.get('token','')" 2>/dev/null)
}
log_back() {	# waits until the log takes entries again
	for _ in $(seq 1 50); do
		req "" GET /healthz
		[ "$code" = 200 ] && return 0
		sleep 0.2
	done
	return 1
}

make_vault v 120 || { bad "setup"; finish; exit 1; }
# Established accounts: an investigator's budget is 20 distinct records a
# minute before a step-up, 40 before a lock.
echo "probation_days = 0" >>"$T/v/clearvault.conf"
CANARY=$("$CV" canaries --dir "$T/v" | head -1)
add_users "$T/v" so:security_officer inv:investigator thief:investigator \
    shr:investigator ||
    { bad "users"; finish; exit 1; }
CLEARVAULT_FAULT="audit.write:@$T/outage" start_server "$T/v" ||
    { bad "server start"; finish; exit 1; }
for u in so inv thief shr; do
	login2 "$u"
	expect_code "login $u" 201
	eval "t_$u=\$tok"
done
req k/so POST /v1/cases '{"title":"outage"}' "$t_so"
CASE=$(json_field "$T/body" "d['id']")
{ ids "$T/v.jsonl" 1 110; echo "$CANARY"; } >"$T/case.ids"
add_members k/so "$t_so" "$CASE" \
    "{\"users\":[\"inv\",\"thief\",\"shr\"],\"records\":$(jlist "$T/case.ids")}"
expect_code "case with the readers, 110 records and a canary" 200

# ---- the outage --------------------------------------------------------
touch "$T/outage"
# 45 distinct records: past the hard limit of 40, had they counted.
reads inv "$t_inv" 1 45
expect_eq "outage: every read of inv answers 503" "45x503" "$(codes)"
# A canary asked for is the reader's own evidence: locked at once.
read_rec thief "$t_thief" "$CANARY"
expect_code "outage: the canary read answers 503" 503
reads thief "$t_thief" 1 3
expect_eq "outage: the thief's later reads answer 503" "3x503" "$(codes)"
rm -f "$T/outage"
log_back && ok || bad "the log came back"
# The waiting lock is retried once a second.
for _ in $(seq 1 50); do
	"$CV" audit tail --dir "$T/v" -n 20 | grep -q "guard.lock actor=thief" &&
	    break
	sleep 0.2
done

# ---- after it: nothing was spent -------------------------------------
reads inv "$t_inv" 46 65
expect_eq "inv: not locked, 20 new records within the budget" "20x200" \
    "$(codes)"
read_rec inv "$t_inv" "$(ids "$T/v.jsonl" 66 66)"
expect_problem "inv: the 21st distinct record asks for a step-up" 403
expect_eq "inv: step-up, not locked" "step-up required" \
    "$(json_field "$T/body" "d['title']")"
# The thief's lock held through the outage and holds now.
login2 thief
expect_problem "thief: login refused, locked" 403
expect_eq "thief: locked" "locked" "$(json_field "$T/body" "d['title']")"

# The lock is on the log, and its alert names that entry.
"$CV" audit tail --dir "$T/v" --json -n 100000 >"$T/log"
python3 - "$T/log" "$T/v/alerts.jsonl" <<'PY' && ok ||
import json, os, sys
es = [json.loads(l) for l in open(sys.argv[1])]
base = len(es) and es[0]["index"]
locks = [e for e in es if e["action"] == "guard.lock"]
assert [e["actor"] for e in locks] == ["thief"], locks
sys.path.insert(0, os.environ["CV_TESTLIB"])
import alerts
al = alerts.load(sys.argv[2])
mine = [a for a in al if a["user"] == "thief" and a["locked"]]
assert mine, al
for a in mine:
    assert a["audit_indices"], a
    named = [es[i - base] for i in a["audit_indices"]]
    assert any(e["action"] == "guard.lock" and e["actor"] == "thief"
               for e in named), (a, named)
assert not [a for a in al if a["user"] == "inv"], al
PY
    bad "one guard.lock entry (the thief's); its alert names it; none for inv"

# ---- records that could not be read: 410, nothing spent ---------------
for r in $(ids "$T/v.jsonl" 81 105); do
	"$CV" shred --dir "$T/v" "$r" >/dev/null 2>&1 || bad "shred $r"
done
# 25 distinct records: past the soft limit of 20, had they counted.
reads shr "$t_shr" 81 105
expect_eq "shredded: every read answers 410" "25x410" "$(codes)"
reads shr "$t_shr" 86 110
expect_eq "shr: 5 readable records within the budget" "5x200 20x410" \
    "$(codes)"

# ---- and after a restart: the same, from guard.state and the log -------
stop_server
expect_eq "server stops cleanly" 0 "$SRV_RC"
"$CV" access review --dir "$T/v" --format json >"$T/review.json"
expect_eq "saved: inv not locked, the thief locked" "False True" \
    "$(json_field "$T/review.json" \
    "' '.join(str(u['locked']) for u in sorted(d['users'], key=lambda u: u['name']) if u['name'] in ('inv', 'thief'))")"
start_server "$T/v" || { bad "restart"; finish; exit 1; }
login2 inv
expect_code "inv logs in after the restart" 201
read_rec inv "$tok" "$(ids "$T/v.jsonl" 46 46)"
expect_code "inv reads after the restart" 200
stop_server
finish
