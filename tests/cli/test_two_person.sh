#!/bin/bash
# Two-person control against the real server: no single person, and no
# single stolen credential, gives anyone the power to read. An
# administrator alone only proposes; an officer cannot add itself to a
# case; proposer = approver, subject = approver, expired and replayed
# approvals, too few officers: refused and audited. Break-glass reads
# alert at once and lock their reader when nobody reviews them in time.
# Approvals off hours, bursts of accounts and busy approvers alert.
. "$(dirname "$0")/lib.sh"

login2() {	# USER: a fresh code, a session; token in $tok
	req "k/$1" POST /v1/session \
	    "{\"totp\":\"$(fresh_totp "$T/k/$1.otpauth" "$T/k/$1.step")\"}"
	tok=$(json_field "$T/body" "d.get('token','')" 2>/dev/null)
}
field() { json_field "$T/body" "$1" 2>/dev/null; }
sq() { sql "$T/v" "$1"; }
alerts_of() {	# KIND: how many alerts of KIND are in alerts.jsonl
	grep -c "\"action\":\"$1\"" "$T/v/alerts.jsonl" 2>/dev/null || true
}

make_vault v 200 || { bad "setup"; finish; exit 1; }
add_users "$T/v" adm:admin soa:security_officer sob:security_officer \
    inv:investigator || { bad "users"; finish; exit 1; }
R1=$(sed -n 1p "$T/v.jsonl" | cut -c8-26)
R2=$(sed -n 2p "$T/v.jsonl" | cut -c8-26)
start_server "$T/v" || { bad "server start"; finish; exit 1; }
trap 'kill "$SRV_PID" 2>/dev/null; cv_cleanup' EXIT
login2 adm; t_adm=$tok
login2 soa; t_soa=$tok
login2 sob; t_sob=$tok
login2 inv; t_inv=$tok
[ -n "$t_adm" ] && [ -n "$t_soa" ] && [ -n "$t_sob" ] && [ -n "$t_inv" ] &&
    ok || bad "logins"

# ---- an administrator alone makes nobody able to read --------------------
req k/adm POST /v1/users '{"name":"mole","role":"adjudicator"}' "$t_adm"
expect_code "admin: a new adjudicator is a proposal" 202
P_MOLE=$(field "d['proposal']")
for secret in private_key otpauth enrolment_code certificate; do
	grep -q "\"$secret\"" "$T/body" && bad "proposal reply holds $secret" ||
	    ok
done
req k/adm GET /v1/users "" "$t_adm"
grep -q '"mole"' "$T/body" && bad "a proposal made an account" || ok
req k/adm POST "/v1/approvals/$P_MOLE/approve" "" "$t_adm"
expect_problem "admin approves its own proposal" 403
req "" POST /v1/enrol "{\"name\":\"mole\",\"code\":\"AAAAA-AAAAA-AAAAA-AAAAA\",\"csr\":\"x\"}"
# keyd signs nothing for an account the log does not show approved.
expect_problem "enrol without an approval" 403
"$CV" enrol --server "$URL" --ca "$T/ca.pem" --name mole \
    --code AAAAA-AAAAA-AAAAA-AAAAA --out "$T" >/dev/null 2>&1 &&
    bad "enrolled without an approval" || ok
req k/adm POST /v1/users/inv/role '{"role":"adjudicator"}' "$t_adm"
expect_code "admin: a role change is a proposal" 202
P_ROLE=$(field "d['proposal']")
req k/adm POST /v1/users/inv/budget \
    '{"budget":[1000,1000,1000,2000,2000,2000]}' "$t_adm"
expect_code "admin: a budget raise is a proposal" 202
P_BUDGET=$(field "d['proposal']")
req k/adm POST /v1/users/inv/budget '{"budget":[10,5,1,1,1,1]}' "$t_adm"
expect_problem "budget soft above hard" 400
expect_eq "inv: still an investigator, no budget of its own" \
    "investigator|0" "$(sq "SELECT role, (SELECT count(*) FROM budgets) FROM users WHERE name = 'inv'")"
req k/adm POST /v1/users/inv/disable "" "$t_adm"
expect_code "admin disables alone (takes power away)" 200
req k/adm POST /v1/users/inv/enable "" "$t_adm"
expect_code "admin: enabling is a proposal" 202
P_ENABLE=$(field "d['proposal']")
login2 inv
expect_problem "inv stays disabled" 401
req k/soa POST /v1/users '{"name":"mole2","role":"auditor"}' "$t_soa"
expect_problem "an officer does not propose accounts" 403

# ---- a second person: a security officer approves ------------------------
req k/soa GET /v1/approvals "" "$t_soa"
expect_code "officer lists proposals" 200
python3 - "$T/body" "$P_MOLE" "$P_ROLE" "$P_ENABLE" <<'PY' && ok || bad "pending proposals listed"
import json, sys
d = {p["id"]: p for p in json.load(open(sys.argv[1]))["proposals"]}
for i in sys.argv[2:]:
    assert d[int(i)]["state"] == "pending" and d[int(i)]["proposer"] == "adm"
assert d[int(sys.argv[2])]["args"] == {"role": "adjudicator"}
PY
req k/soa POST "/v1/approvals/$P_ENABLE/approve" "" "$t_soa"
expect_code "officer approves enabling inv" 200
login2 inv
expect_code "inv enabled by two people" 201
t_inv=$tok
req k/inv GET /v1/approvals "" "$t_inv"
expect_problem "a reader sees no proposals" 403
req k/soa POST "/v1/approvals/$P_ENABLE/approve" "" "$t_soa"
expect_problem "a replayed approval" 409
req k/sob POST "/v1/approvals/$P_ROLE/reject" "" "$t_sob"
expect_code "officer rejects the role change" 200
req k/soa POST "/v1/approvals/$P_ROLE/approve" "" "$t_soa"
expect_problem "approving a rejected proposal" 409
expect_eq "inv still an investigator" investigator \
    "$(sq "SELECT role FROM users WHERE name = 'inv'")"
req k/soa POST "/v1/approvals/$P_MOLE/approve" "" "$t_soa"
expect_code "officer approves mole" 200
CODE=$(field "d['enrolment_code']")
IDX=$(field "d['audit_index']")
[ -n "$CODE" ] && ok || bad "the approver gets the enrolment code"
expect_ok "mole enrols with its own key" "$CV" enrol --server "$URL" \
    --ca "$T/ca.pem" --name mole --code "$CODE" --out "$T/k"
expect_fail "the code is good once" "refused" "$CV" enrol --server "$URL" \
    --ca "$T/ca.pem" --name mole --code "$CODE" --out "$T"
login2 mole
expect_code "mole logs in" 201
t_mole=$tok
req k/mole GET "/v1/records/$R1" "" "$t_mole"
expect_problem "mole reads nothing without a case" 403

# ---- cases: an officer cannot give itself a record -----------------------
req k/soa POST /v1/cases '{"title":"two people"}' "$t_soa"
CASE=$(field "d['id']")
req k/soa POST "/v1/cases/$CASE/members" \
    "{\"users\":[\"soa\"],\"records\":[\"$R1\"]}" "$t_soa"
expect_code "an officer adding itself: a proposal" 202
P_SELF=$(field "d['proposal']")
req k/soa GET "/v1/records/$R1?purpose=$CASE" "" "$t_soa"
expect_problem "soa cannot read by proposing" 403
req k/soa POST "/v1/approvals/$P_SELF/approve" "" "$t_soa"
expect_problem "proposer = approver" 403
req k/soa POST "/v1/cases/$CASE/members" "{\"users\":[\"sob\"]}" "$t_soa"
P_SOB=$(field "d['proposal']")
req k/sob POST "/v1/approvals/$P_SOB/approve" "" "$t_sob"
expect_problem "subject = approver" 403
req k/sob POST "/v1/approvals/$P_SELF/approve" "" "$t_sob"
expect_code "a second officer approves" 200
req k/soa GET "/v1/records/$R1?purpose=$CASE" "" "$t_soa"
expect_code "now soa reads (identity only)" 200
req k/soa DELETE "/v1/cases/$CASE/members" '{"users":["soa"]}' "$t_soa"
expect_code "removing takes one person" 200
req k/soa GET "/v1/records/$R1?purpose=$CASE" "" "$t_soa"
expect_problem "removed at once" 403

# ---- expired proposals ----------------------------------------------------
req k/adm POST /v1/users '{"name":"late","role":"auditor"}' "$t_adm"
P_LATE=$(field "d['proposal']")
sq "UPDATE proposals SET expires_us = 1 WHERE id = $P_LATE"
req k/soa POST "/v1/approvals/$P_LATE/approve" "" "$t_soa"
expect_problem "an expired proposal" 410
req k/soa POST "/v1/approvals/$P_LATE/approve" "" "$t_soa"
expect_problem "expired for good" 409
expect_eq "no account from an expired proposal" 0 \
    "$(sq "SELECT count(*) FROM users WHERE name = 'late'")"

# ---- break-glass ----------------------------------------------------------
req k/inv GET "/v1/records/$R2" "" "$t_inv"
expect_problem "outside its cases: refused" 403
req k/inv GET "/v1/records/$R2?break_glass=short" "" "$t_inv"
expect_problem "break-glass wants a reason" 400
n0=$(alerts_of break_glass)
req k/inv GET "/v1/records/$R2?break_glass=subject%20in%20hospital%2C%20next%20of%20kin%20needed" "" "$t_inv"
expect_code "break-glass read" 200
expect_eq "a critical alert at once" $((n0 + 1)) "$(alerts_of break_glass)"
P_GLASS=$(sq "SELECT id FROM proposals WHERE kind = 'break_glass' AND subject = 'inv'")
[ -n "$P_GLASS" ] && ok || bad "no review opened"
req k/inv POST "/v1/approvals/$P_GLASS/reject" "" "$t_inv"
expect_problem "a reader decides no review" 403
req k/sob GET "/v1/records/$R2?break_glass=an%20officer%20in%20a%20hurry%20again" "" "$t_sob"
expect_code "an officer's break-glass read" 200
P_OGLASS=$(sq "SELECT max(id) FROM proposals WHERE kind = 'break_glass'")
req k/sob POST "/v1/approvals/$P_OGLASS/reject" "" "$t_sob"
expect_problem "the reader cannot withdraw its own review" 403
req k/sob POST "/v1/approvals/$P_OGLASS/approve" "" "$t_sob"
expect_problem "nor approve it" 403
req k/soa POST "/v1/approvals/$P_OGLASS/approve" "" "$t_soa"
expect_code "another officer reviews it" 200
req k/sob POST "/v1/approvals/$P_GLASS/approve" "" "$t_sob"
expect_code "an officer reviews it" 200
req k/inv GET "/v1/records/$R1?break_glass=checking%20an%20address%20for%20a%20visit" "" "$t_inv"
expect_code "a second break-glass read" 200
P_GLASS2=$(sq "SELECT max(id) FROM proposals WHERE kind = 'break_glass'")
sq "UPDATE proposals SET expires_us = 1 WHERE id = $P_GLASS2"
for _ in $(seq 1 30); do
	[ "$(sq "SELECT state FROM proposals WHERE id = $P_GLASS2")" = expired ] &&
	    break
	sleep 0.5
done
login2 inv
expect_problem "not reviewed in time: the reader is locked" 403

# ---- too few officers: nothing can be approved ----------------------------
"$CV" init --dir "$T/x" --admin ax --officer ox --officer oy >"$T/xcodes"
xcode() { sed -n "s/^user $1 .*enrolment code \([A-Z0-9-]*\).*/\1/p" "$T/xcodes"; }
mkdir -p "$T/xk"
for u in ax ox; do
	"$CV" enrol --dir "$T/x" --name $u --code "$(xcode $u)" --out "$T/xk" \
	    >/dev/null || bad "enrol $u"
done
stop_server
start_server "$T/x" || { bad "server x"; finish; exit 1; }
"$CV" ca-cert --dir "$T/x" >"$T/ca.pem"
xlogin() {
	req "xk/$1" POST /v1/session \
	    "{\"totp\":\"$(fresh_totp "$T/xk/$1.otpauth" "$T/xk/$1.step")\"}"
	tok=$(field "d.get('token','')")
}
xlogin ax; t_ax=$tok
xlogin ox; t_ox=$tok
req xk/ax POST /v1/users '{"name":"reader","role":"adjudicator"}' "$t_ax"
P_X=$(field "d['proposal']")
req xk/ox POST "/v1/approvals/$P_X/approve" "" "$t_ox"
expect_problem "one enrolled officer cannot approve" 403
grep -q "fewer than two security officers" "$T/body" && ok ||
    bad "says why: $(cat "$T/body")"
stop_server

# ---- alerts on approvals ---------------------------------------------------
# Local working hours: the server runs in a zone where it is 03:00 now.
h=$(date -u +%H)
off=$(( (3 - 10#$h + 24) % 24 ))
[ $off -gt 12 ] && off=$((off - 24))
if [ $off -ge 0 ]; then export TZ="ZZZ-$off"; else export TZ="ZZZ+$((-off))"; fi
"$CV" ca-cert --dir "$T/v" >"$T/ca.pem"
start_server "$T/v" || { bad "server restart"; finish; exit 1; }
unset TZ
login2 adm; t_adm=$tok
login2 sob; t_sob=$tok
n0=$(alerts_of approval_off_hours)
req k/adm POST /v1/users/mole/budget '{"budget":[1,1,1,2,2,2]}' "$t_adm"
req k/sob POST "/v1/approvals/$(field "d['proposal']")/approve" "" "$t_sob"
expect_code "an approval at 03:00 local" 200
expect_eq "off hours: alerted" $((n0 + 1)) "$(alerts_of approval_off_hours)"
[ "$(alerts_of account_burst)" -ge 1 ] && ok ||
    bad "creating several accounts within the hour raised no alert"
for i in $(seq 1 9); do
	req k/adm POST /v1/users/mole/budget \
	    "{\"budget\":[$i,$i,$i,20,20,20]}" "$t_adm"
	req k/sob POST "/v1/approvals/$(field "d['proposal']")/approve" "" \
	    "$t_sob"
done
[ "$(alerts_of busy_approver)" -ge 1 ] && ok ||
    bad "ten approvals in a day by one officer raised no alert"
stop_server

# ---- every step is on the log, and approvals name their proposal ----------
"$CV" audit tail --dir "$T/v" --json -n 2000 >"$T/log"
python3 - "$T/log" "$P_MOLE" "$IDX" <<'PY' && ok || bad "audit trail"
import json, sys
es = {e["index"]: e for e in map(json.loads, open(sys.argv[1]))}
prop = [e for e in es.values() if e["reason"].startswith("proposal %s:" % sys.argv[2])]
assert len(prop) == 1 and prop[0]["action"] == "users.add", prop
appr = es[int(sys.argv[3])]
assert appr["action"] == "approvals.approve" and appr["actor"] == "soa", appr
assert "(audit index %d)" % prop[0]["index"] in appr["reason"], appr
denied = [e for e in es.values() if e["action"] == "approvals.approve"
          and e["outcome"] == "denied"]
reasons = " | ".join(e["reason"] for e in denied)
for why in ("not an officer", "its proposer", "empower the approver",
            "expired", "already"):
    assert why in reasons, (why, reasons)
assert any(e["action"] == "guard.lock" and "not reviewed" in e["reason"]
           for e in es.values())
assert any(e["action"] == "records.get" and e["reason"].startswith("break-glass")
           for e in es.values())
PY
secret=$(sed 's/.*secret=\([A-Z2-7]*\).*/\1/' "$T/k/mole.otpauth")
grep -qF "$secret" "$T/log" && bad "a TOTP secret in the log" || ok
grep -qF "$CODE" "$T/log" && bad "an enrolment code in the log" || ok
finish
