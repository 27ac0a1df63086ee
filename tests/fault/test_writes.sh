#!/bin/bash
# Writes against the real server (issue 17, item 5). A write counts
# against the writer's budgets as a read of that record does: a session
# stopped for a step-up writes nothing either (PUT replaced records after
# the read budget was used up). An update keeps the version it replaces,
# readable by no API call, listed and restored by the operator
# (`clearvault versions`), rewrapped by rotation and destroyed by
# shredding; a load's new version keeps the old one too. Creating an id
# that exists outside the writer's cases answers the same 403 as a record
# that is not there (it answered 409: an existence oracle).
. "$(dirname "$0")/../cli/lib.sh"

SRV_PID=
trap 'kill "$SRV_PID" 2>/dev/null; cv_cleanup' EXIT
make_vault v 40 --canaries 0 || { bad "setup"; finish; exit 1; }
"$CV" gen --count 3 --seed 99 >"$T/new.jsonl"
add_users "$T/v" so:security_officer w:adjudicator x:investigator ||
    { bad "users"; finish; exit 1; }
for i in 1 2 3 4 5 6 7 8 20; do
	eval "R$i=\$(sed -n ${i}p \"\$T/v.jsonl\" | cut -c8-26)"
done
code() { fresh_totp "$T/k/$1.otpauth" "$T/k/$1.step"; }
login2() {	# USER: a session, its token in $tok
	req "k/$1" POST /v1/session "{\"totp\":\"$(code "$1")\"}"
	tok=$(json_field "$T/body" "d.get('token','')" 2>/dev/null)
}
edited() {	# LINE FILE: that record with another first name, one line
	sed -n "$1p" "${2:-$T/v.jsonl}" | python3 -c 'import json, sys
d = json.loads(sys.stdin.read()); d["identity"]["name"]["first"] = "Edited"
print(json.dumps(d, separators=(",", ":")))'
}
version_of() { json_field "$T/body" "d['_meta']['version']" 2>/dev/null; }
first_of() { json_field "$T/body" "d['identity']['name']['first']" 2>/dev/null; }
title() { json_field "$T/body" "d.get('title','')" 2>/dev/null; }

start_server "$T/v" || { bad "server start"; finish; exit 1; }
for u in so w x; do
	login2 "$u"
	expect_code "login $u" 201
	eval "t_$u=\$tok"
done
req k/so POST /v1/cases '{"title":"Writes"}' "$t_so"
C1=$(json_field "$T/body" "d['id']")
add_members k/so "$t_so" "$C1" "{\"users\":[\"w\",\"x\"],\"records\":[\"$R1\",\"$R2\",\"$R3\",\"$R4\",\"$R5\",\"$R6\",\"$R7\",\"$R8\"]}"
expect_code "case of w and x" 200
req k/so POST /v1/cases '{"title":"Elsewhere"}' "$t_so"
C2=$(json_field "$T/body" "d['id']")
add_members k/so "$t_so" "$C2" "{\"users\":[\"x\"],\"records\":[\"$R20\"]}"
expect_code "a case without w" 200

# ---- writes count against the budget ---------------------------------------
# w is new: on probation, 5 distinct records a minute before a step-up.
for i in 1 2 3 4 5; do
	eval "r=\$R$i"
	req k/w PUT "/v1/records/$r?purpose=$C1" "$(edited "$i")" "$t_w"
	expect_code "w updates record $i" 200
done
req k/w GET "/v1/records/$R6?purpose=$C1" "" "$t_w"
expect_problem "five writes used the budget: a read asks for a step-up" 403
expect_eq "five writes used the budget" "step-up required" "$(title)"
req k/w PUT "/v1/records/$R7?purpose=$C1" "$(edited 7)" "$t_w"
expect_problem "past the budget, a PUT asks for a step-up" 403
expect_eq "PUT: step-up required" "step-up required" "$(title)"
req k/w POST "/v1/records?purpose=$C1" "$(sed -n 1p "$T/new.jsonl")" "$t_w"
expect_problem "past the budget, a POST asks for a step-up" 403
req k/x GET "/v1/records/$R7?purpose=$C1" "" "$t_x"
expect_eq "the refused PUT changed nothing" "1 $(sed -n 7p "$T/v.jsonl" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["identity"]["name"]["first"])')" \
    "$(version_of) $(first_of)"
req k/w POST /v1/session/step-up "{\"totp\":\"$(code w)\"}" "$t_w"
expect_code "w steps up" 200
req k/w PUT "/v1/records/$R7?purpose=$C1" "$(edited 7)" "$t_w"
expect_code "stepped up, the PUT goes through" 200
req k/x GET "/v1/records/$R1?purpose=$C1" "" "$t_x"
expect_eq "R1 as updated" "2 Edited" "$(version_of) $(first_of)"

# ---- creation is no existence oracle ------------------------------------------
# R20 exists, in a case without w; NEW1 exists nowhere.
NEW1=$(sed -n 1p "$T/new.jsonl" | cut -c8-26)
req k/w PUT "/v1/records/$NEW1?purpose=$C1" "$(sed -n 1p "$T/new.jsonl")" "$t_w"
expect_problem "PUT of a record that does not exist" 403
cp "$T/body" "$T/absent.body"
req k/w POST "/v1/records?purpose=$C1" "$(sed -n 20p "$T/v.jsonl")" "$t_w"
expect_problem "POST of an id that exists outside w's cases" 403
cmp -s "$T/body" "$T/absent.body" && ok ||
    bad "the answer differs from a missing record's: $(cat "$T/body") / $(cat "$T/absent.body")"
req k/w POST "/v1/records?purpose=$C1" "$(sed -n 8p "$T/v.jsonl")" "$t_w"
expect_problem "POST of an id in w's own case: a conflict" 409
req k/x GET "/v1/records/$R20?purpose=$C2" "" "$t_x"
expect_eq "R20 untouched" 1 "$(version_of)"

# ---- kept versions: listed and restored by the operator only -----------------
expect_ok "versions of R1" "$CV" versions --dir "$T/v" "$R1"
grep -q "^version 2  current" "$T/out" && grep -q "^version 1  kept" "$T/out" &&
    ok || bad "versions lists the current and the kept one: $(cat "$T/out")"
# The kept ciphertext is in the store, as ciphertext (no name in it).
expect_eq "kept rows of R1" 1 \
    "$(sql "$T/v" "SELECT count(*) FROM versions WHERE rid = '$R1'")"
expect_ok "restore version 1 of R1" "$CV" versions --dir "$T/v" "$R1" \
    --restore 1
grep -q "version 1 restored as version 3" "$T/err" && ok ||
    bad "restore says what it did: $(cat "$T/err")"
req k/x GET "/v1/records/$R1?purpose=$C1" "" "$t_x"
python3 - "$T/body" "$T/v.jsonl" <<'PY' && ok || bad "R1 is its first version again"
import json, sys
got = json.load(open(sys.argv[1])); meta = got.pop("_meta")
assert meta["version"] == 3, meta
want = json.loads(open(sys.argv[2]).readline())
want.pop("adjudication", None)	# x is an investigator
assert got == want, (sorted(got), sorted(want), [k for k in want if got.get(k) != want[k]])
PY
expect_ok "versions of R1 after" "$CV" versions --dir "$T/v" "$R1"
expect_eq "two kept now" "version 3 current|version 2 kept|version 1 kept" \
    "$(awk '{ print $1, $2, $3 }' "$T/out" | tr -d , | paste -sd'|')"
expect_fail "no such kept version" "keeps no version 9" \
    "$CV" versions --dir "$T/v" "$R1" --restore 9
expect_fail "a bad version number" "version number" \
    "$CV" versions --dir "$T/v" "$R1" --restore 0

# ---- a load's new version keeps the old one ------------------------------------
edited 8 >"$T/r8.jsonl"
expect_ok "load a new version of R8" "$CV" load --dir "$T/v" --quiet \
    --canaries 0 "$T/r8.jsonl"
expect_ok "versions of R8" "$CV" versions --dir "$T/v" "$R8"
grep -q "^version 1  kept" "$T/out" && ok || bad "load kept R8's: $(cat "$T/out")"

# ---- shredding destroys every version's key ---------------------------------------
expect_ok "shred R1" "$CV" shred --dir "$T/v" "$R1"
expect_eq "no kept version of R1 left" 0 \
    "$(sql "$T/v" "SELECT count(*) FROM versions WHERE rid = '$R1'")"
expect_ok "versions of the shredded R1" "$CV" versions --dir "$T/v" "$R1"
expect_eq "shredded, nothing kept" "version 3  current, shredded" "$(cat "$T/out")"
expect_fail "nothing to restore" "shredded" \
    "$CV" versions --dir "$T/v" "$R1" --restore 2
req k/w PUT "/v1/records/$R1?purpose=$C1" "$(edited 1)" "$t_w"
expect_problem "a shredded record takes no new version" 410

stop_server
expect_eq "server exit status" 0 "$SRV_RC"

# ---- rotation rewraps the kept versions' keys ---------------------------------------
expect_ok "rotate" "$CV" rotate --dir "$T/v"
expect_ok "restore R2's first version after the rotation" \
    "$CV" versions --dir "$T/v" "$R2" --restore 1
expect_ok "get R2" "$CV" get --dir "$T/v" "$R2"
python3 - "$T/out" "$T/v.jsonl" <<'PY' && ok || bad "R2 as loaded again"
import json, sys
got = json.load(open(sys.argv[1])); got.pop("_meta")
assert got == json.loads(open(sys.argv[2]).readlines()[1])
PY

# ---- the log ----------------------------------------------------------------------
"$CV" audit tail --dir "$T/v" --json -n 100000 >"$T/log"
python3 - "$T/log" "$R7" "$R1" <<'PY' && ok || bad "writes and restores audited"
import json, sys
es = [json.loads(l) for l in open(sys.argv[1])]
w = [e for e in es if e["actor"] == "w" and e["action"].startswith("records.")]
refused = [e for e in w if e["action"] == "records.update" and
           e["outcome"] == "denied" and e["records"] == [sys.argv[2]]]
assert refused and refused[0]["reason"].startswith("guard: "), refused
ok = [e for e in w if e["action"] == "records.update" and e["outcome"] == "allowed"]
assert len(ok) == 6 and all("version 2" in e["reason"] for e in ok), ok
create = [e for e in w if e["action"] == "records.create" and
          e["outcome"] == "denied" and "exists outside" in e["reason"]]
assert len(create) == 1, create
rs = [e for e in es if e["action"] == "versions.restore" and e["outcome"] == "allowed"]
assert [e["records"] for e in rs][:1] == [[sys.argv[3]]], rs
PY
finish
