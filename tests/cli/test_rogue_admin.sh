#!/bin/bash
# Going around two-person control alone: an administrator approving its own
# proposal, an officer approving its own or one that empowers it, an
# investigator calling approve. Each is refused (403), leaves the proposal
# pending, and raises a critical "self_approval" alert naming the caller
# and the refused request's audit entry. A second officer's approval, a
# replay and a proposer withdrawing its own proposal raise none.
. "$(dirname "$0")/lib.sh"

make_vault v 10 || { bad "setup"; finish; exit 1; }
add_users "$T/v" rogue:admin inv:investigator ||
    { bad "users"; finish; exit 1; }
start_server "$T/v" || { bad "server start"; finish; exit 1; }
trap 'kill "$SRV_PID" 2>/dev/null; cv_cleanup' EXIT
B=boot/v
login rogue; t_rogue=$tok
login inv; t_inv=$tok
t_so1=$(cv_boot_login "$T/boot/v" "$T/ca.pem" "$URL" cvboot-so1)
t_so2=$(cv_boot_login "$T/boot/v" "$T/ca.pem" "$URL" cvboot-so2)
[ -n "$t_so1" ] && [ -n "$t_so2" ] && ok || bad "officers' sessions"
proposal() { json_field "$T/body" "d['proposal']"; }

# ---- the administrator, alone ---------------------------------------------
req k/rogue POST /v1/users '{"name":"mole","role":"adjudicator"}' "$t_rogue"
expect_code "an administrator proposes an account" 202
P1=$(proposal)
req k/rogue POST "/v1/approvals/$P1/approve" "" "$t_rogue"
expect_problem "the proposer approves its own (administrator)" 403

# ---- officers, on a case proposal -----------------------------------------
req $B/cvboot-so1 POST /v1/cases '{"title":"t"}' "$t_so1"
expect_code "a case" 201
CASE=$(json_field "$T/body" "d['id']")
req $B/cvboot-so1 POST "/v1/cases/$CASE/members" \
    '{"users":["cvboot-so2"]}' "$t_so1"
expect_code "an officer proposes a second officer into a case" 202
P2=$(proposal)
req $B/cvboot-so1 POST "/v1/approvals/$P2/approve" "" "$t_so1"
expect_problem "the proposer approves its own (officer)" 403
req $B/cvboot-so2 POST "/v1/approvals/$P2/approve" "" "$t_so2"
expect_problem "the officer it would empower approves" 403
req k/inv POST "/v1/approvals/$P1/approve" "" "$t_inv"
expect_problem "an investigator approves" 403

# ---- what is not an attempt raises nothing --------------------------------
req k/inv GET /v1/approvals "" "$t_inv"
expect_problem "an investigator lists proposals" 403
req $B/cvboot-so1 POST "/v1/approvals/$P1/approve" "" "$t_so1"
expect_code "a second person approves" 200
req $B/cvboot-so2 POST "/v1/approvals/$P1/approve" "" "$t_so2"
expect_problem "a replay" 409
req k/rogue POST /v1/users '{"name":"temp","role":"auditor"}' "$t_rogue"
P3=$(proposal)
req k/rogue POST "/v1/approvals/$P3/reject" "" "$t_rogue"
expect_code "the proposer withdraws its own" 200
req $B/cvboot-so2 GET /v1/approvals "" "$t_so2"
python3 - "$T/body" "$P2" <<'PY' && ok || bad "the refused proposal pending"
import json, sys
p = {x["id"]: x for x in json.load(open(sys.argv[1]))["proposals"]}
assert p[int(sys.argv[2])]["state"] == "pending", p
PY

stop_server
expect_eq "server exit status" 0 "$SRV_RC"
"$CV" audit tail --dir "$T/v" --json -n 1000 >"$T/log"
python3 - "$T/log" "$T/v/alerts.jsonl" "$P1" \
    "$P2" <<'PY' && ok || bad "a self_approval alert per attempt, with its entry"
import json
import os, sys; sys.path.insert(0, os.environ["CV_TESTLIB"]); import alerts
log = {}
for l in open(sys.argv[1]):
    e = json.loads(l)
    log[e["index"]] = e
al = alerts.load(sys.argv[2])
sa = [a for a in al if a["kind"] == "self_approval"]
who = sorted(a["user"] for a in sa)
assert who == ["cvboot-so1", "cvboot-so2", "inv", "rogue"], who
for a in sa:
    assert a["severity"] == "critical" and not a["locked"], a
    assert len(a["audit_indices"]) == 1, a
    e = log[a["audit_indices"][0]]
    assert e["actor"] == a["user"], (a, e)
    assert e["action"] == "approvals.approve", (a, e)
    assert e["outcome"] == "denied", (a, e)
by = {a["user"]: a for a in sa}
p1, p2 = sys.argv[3], sys.argv[4]
assert "proposal %s " % p1 in by["rogue"]["detail"], by["rogue"]
assert "not an officer" in by["rogue"]["detail"], by["rogue"]
assert "its proposer" in by["cvboot-so1"]["detail"], by["cvboot-so1"]
assert "proposal %s " % p2 in by["cvboot-so2"]["detail"]
assert "empower" in by["cvboot-so2"]["detail"], by["cvboot-so2"]
# The audit entry says why too, not only the alert.
assert "proposal %s " % p1 in log[by["rogue"]["audit_indices"][0]]["reason"]
PY
expect_ok "the log verifies" "$CV" audit verify --dir "$T/v"
finish
