#!/bin/bash
# Evidence for partners: export gives exactly the subject's audit entries,
# each with a proof, a signed checkpoint and a STIX 2.1 bundle that an
# independent check (below, in Python) finds well-formed; verify accepts
# it offline with the log's public key and refuses any edit, another key,
# and a bundle that breaks the STIX rules.
. "$(dirname "$0")/lib.sh"

make_vault v 30 --canaries 0 || { bad "setup"; finish; exit 1; }
add_users "$T/v" so:security_officer inv:investigator other:investigator ||
    { bad "users"; finish; exit 1; }
R1=$(sed -n 1p "$T/v.jsonl" | cut -c8-26)
R2=$(sed -n 2p "$T/v.jsonl" | cut -c8-26)
R3=$(sed -n 3p "$T/v.jsonl" | cut -c8-26)
start_server "$T/v" || { bad "server start"; finish; exit 1; }
trap 'kill "$SRV_PID" 2>/dev/null; cv_cleanup' EXIT
for u in so inv other; do
	login "$u"
	expect_code "login $u" 201
	eval "t_$u=\$tok"
done
req k/so POST /v1/cases '{"title":"evidence"}' "$t_so"
CASE=$(json_field "$T/body" "d['id']")
add_members k/so "$t_so" "$CASE" \
    "{\"users\":[\"inv\",\"other\"],\"records\":[\"$R1\",\"$R2\"]}"
expect_code "case filled" 200
for r in "$R1" "$R2" "$R3"; do
	req k/inv GET "/v1/records/$r?purpose=$CASE" "" "$t_inv"
done
expect_problem "a record outside the case" 403
req k/other GET "/v1/records/$R1?purpose=$CASE" "" "$t_other"
expect_code "another user reads" 200
stop_server

"$CV" audit pubkey --dir "$T/v" >"$T/key"
expect_ok "export" "$CV" evidence export --dir "$T/v" --incident INC-2026-7 \
    --principal inv --out "$T/ev.json"
expect_eq "the file is private" 600 "$(stat -c %a "$T/ev.json")"
expect_fail "export does not replace a file" "exists" "$CV" evidence export \
    --dir "$T/v" --incident INC-2026-7 --principal inv --out "$T/ev.json"
expect_ok "verify" "$CV" evidence verify "$T/ev.json" --pubkey "$(cat "$T/key")"
grep -q "^verified: [0-9]* audit entries" "$T/out" && ok ||
    bad "verify says what it checked: $(cat "$T/out")"
expect_ok "verify with the key in a file" "$CV" evidence verify \
    "$T/ev.json" --pubkey "$T/key"

# Exactly the subject's entries, byte for byte the log's leaves.
"$CV" audit tail --dir "$T/v" --json -n 100000 >"$T/log"
python3 - "$T/ev.json" "$T/log" <<'PY' && ok || bad "exactly inv's entries"
import json, sys
ev = json.load(open(sys.argv[1]))
log = [json.loads(l) for l in open(sys.argv[2])]
want = {e["index"]: e["leaf"] for e in log if e.get("actor") == "inv"}
got = {e["index"]: e["leaf"] for e in ev["entries"]}
assert got == want, (sorted(got), sorted(want))
assert ev["subject"] == {"kind": "principal", "value": "inv"}
assert ev["incident"] == "INC-2026-7"
PY

# An independent reading of the STIX 2.1 rules the bundle must follow.
python3 - "$T/ev.json" <<'PY' && ok || bad "STIX 2.1 rules (independent check)"
import json, re, sys
ev = json.load(open(sys.argv[1]))
b = ev["bundle"]
U = r"[0-9a-f]{8}-[0-9a-f]{4}-[45][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$"
assert b["type"] == "bundle" and re.fullmatch("bundle--" + U, b["id"])
objs = {o["id"]: o for o in b["objects"]}
assert len(objs) == len(b["objects"]), "duplicate ids"
req = {"identity": ["name"], "incident": ["name"],
       "indicator": ["pattern", "pattern_type", "valid_from"],
       "observed-data": ["first_observed", "last_observed",
                         "number_observed", "object_refs"],
       "relationship": ["relationship_type", "source_ref", "target_ref"]}
types = set()
for i, o in objs.items():
    t = o["type"]
    types.add(t)
    assert re.fullmatch(re.escape(t) + "--" + U, i), i
    assert o["spec_version"] == "2.1", i
    if t in req:
        for k in ["created", "modified"] + req[t]:
            assert k in o, (i, k)
        assert re.match(TS, o["created"]) and re.match(TS, o["modified"])
        assert o["modified"] >= o["created"]
        if "created_by_ref" in o:
            assert objs[o["created_by_ref"]]["type"] == "identity"
    if t == "relationship":
        assert o["source_ref"] in objs and o["target_ref"] in objs, i
    if t == "observed-data":
        assert all(r in objs for r in o["object_refs"])
        assert 1 <= o["number_observed"] <= 999999999
        assert o["last_observed"] >= o["first_observed"]
        assert set(o["x_clearvault_audit_indices"]) == \
            {e["index"] for e in ev["entries"]}
    if t == "indicator":
        assert o["pattern_type"] == "stix" and o["pattern"].startswith("[")
assert {"identity", "incident", "indicator", "observed-data",
        "relationship", "user-account", "x509-certificate",
        "ipv4-addr"} <= types, types
inc = [i for i, o in objs.items() if o["type"] == "incident"]
rels = [o for o in objs.values() if o["type"] == "relationship"]
assert all(r["target_ref"] == inc[0] for r in rels)
pats = [o["pattern"] for o in objs.values() if o["type"] == "indicator"]
assert "[user-account:user_id = 'inv']" in pats, pats
assert "[ipv4-addr:value = '127.0.0.1']" in pats, pats
PY

# Anything changed is refused, and says what.
tamper() {	# DESC PATTERN PYTHON (edits d, the evidence)
	python3 - "$T/ev.json" "$T/bad.json" "$3" <<'PY'
import base64, json, sys
d = json.load(open(sys.argv[1]))
exec(sys.argv[3])
json.dump(d, open(sys.argv[2], "w"))
PY
	expect_fail "$1" "$2" "$CV" evidence verify "$T/bad.json" \
	    --pubkey "$T/key"
}
tamper "an edited entry" "does not lead to the checkpoint" '
l = bytearray(base64.b64decode(d["entries"][0]["leaf"])); l[-1] ^= 1
d["entries"][0]["leaf"] = base64.b64encode(bytes(l)).decode()'
tamper "an edited proof" "does not lead to the checkpoint" '
e = [x for x in d["entries"] if x["proof"]][0]
h = bytearray(base64.b64decode(e["proof"][0])); h[0] ^= 1
e["proof"][0] = base64.b64encode(bytes(h)).decode()'
tamper "an entry of someone else" "does not name the subject" '
d["subject"]["value"] = "other"'
tamper "an edited checkpoint" "not signed" '
d["log"]["checkpoint"] = d["log"]["checkpoint"].replace("\n", "\n\n", 1)'
tamper "a relationship to nothing" "must name objects in the bundle" '
d["bundle"]["objects"] = [o for o in d["bundle"]["objects"]
                          if o["type"] != "incident"]'
tamper "a malformed identifier" "is not" '
d["bundle"]["objects"][0]["id"] = "identity--not-a-uuid"'
tamper "a bad timestamp" "timestamps" '
d["bundle"]["objects"][1]["created"] = "yesterday"'
tamper "a cited entry not in the file" "does not prove" '
d["entries"] = d["entries"][1:]'
tamper "no entries" "required" 'd["entries"] = []'
# The bundle is not signed: every claim in it must follow from the proofs.
tamper "someone else named in the bundle" "names that user" '
for o in d["bundle"]["objects"]:
    if o["type"] == "user-account":
        o["user_id"] = "bob"'
tamper "an indicator for someone else" "follows from no proved entry" '
for o in d["bundle"]["objects"]:
    if o["type"] == "indicator" and "user-account" in o["pattern"]:
        o["pattern"] = "[user-account:user_id = '"'"'bob'"'"']"'
tamper "an object export never makes" "makes no" '
o = dict(d["bundle"]["objects"][0]); o["type"] = "malware"
o["id"] = "malware--" + o["id"].split("--")[1]; o["is_family"] = False
d["bundle"]["objects"].append(o)'
tamper "a reference to an object without a type" "names no identity" '
d["bundle"]["objects"].append({"id": "identity--00000000-0000-4000-8000-000000000002"})
d["bundle"]["objects"][1]["created_by_ref"] = "identity--00000000-0000-4000-8000-000000000002"'
tamper "another incident" "not the file" '
d["incident"] = "INC-other"'
tamper "not evidence" "not a clearvault evidence" 'd = {"a": 1}'
"$CV" init --dir "$T/w" 2>/dev/null
"$CV" audit pubkey --dir "$T/w" >"$T/otherkey"
expect_fail "another vault's key" "another log key" "$CV" evidence verify \
    "$T/ev.json" --pubkey "$T/otherkey"
printf 'not json' >"$T/junk"
expect_fail "junk" "not JSON" "$CV" evidence verify "$T/junk" \
    --pubkey "$T/key"

# The other subjects and the window.
cert=$(python3 -c '
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("actor") == "inv" and e.get("cert"):
        print(e["cert"]); break' "$T/log")
expect_ok "export by certificate" "$CV" evidence export --dir "$T/v" \
    --incident INC-2 --cert "$cert" --out "$T/ev2.json"
expect_ok "verify by certificate" "$CV" evidence verify "$T/ev2.json" \
    --pubkey "$T/key"
expect_ok "export by address" "$CV" evidence export --dir "$T/v" \
    --incident INC-3 --address 127.0.0.1 --out "$T/ev3.json"
expect_eq "by address: both users' entries" 1 "$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
pats = [o["pattern"] for o in d["bundle"]["objects"] if o["type"] == "indicator"]
print(int(any("inv" in p for p in pats) and any("other" in p for p in pats)))' \
    "$T/ev3.json")"
expect_fail "a window with nothing in it" "no audit entry" "$CV" evidence \
    export --dir "$T/v" --incident INC-4 --principal inv --from 2099-01-01 \
    --out "$T/ev4.json"
[ -e "$T/ev4.json" ] && bad "a failed export left a file" || ok
run "$CV" evidence export --dir "$T/v" --incident X --out "$T/x.json"
expect_eq "no subject: usage error" 2 "$rc"
run "$CV" evidence verify "$T/ev.json"
expect_eq "verify without a key: usage error" 2 "$rc"
expect_ok "the export is in the log" "$CV" audit tail --dir "$T/v" -n 20
grep -q " evidence.export " "$T/out" && ok || bad "no evidence.export entry"
finish
