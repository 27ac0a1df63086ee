#!/bin/bash
# The audit log through the CLI: every command is an entry, written before
# its data is printed; checkpoints, proofs and the outsider's check.
. "$(dirname "$0")/lib.sh"

make_vault v 50 || { bad "setup"; finish; exit 1; }
id=$(sed -n 3p "$T/v.jsonl" | cut -c8-26)
ssn=$(sed -n 3p "$T/v.jsonl" | grep -o '"ssn":"[0-9-]*"' | cut -d'"' -f4)
expect_ok "get" "$CV" get --dir "$T/v" "$id" --section identity
expect_ok "find" "$CV" find --dir "$T/v" --ssn "$ssn"
expect_fail "get unknown" "no record" "$CV" get --dir "$T/v" CV-NOPE
expect_ok "tail" "$CV" audit tail --dir "$T/v" --json -n 20
python3 - "$T/out" "$id" <<'PY' && ok || bad "entries are not what happened"
import base64, hashlib, json, sys
es = [json.loads(l) for l in open(sys.argv[1])]
acts = [e["action"] for e in es]
assert acts == ["init", "load.begin", "load", "get", "find", "get",
                "audit.tail"], acts
assert [e["index"] for e in es] == list(range(7))
get, find, miss = es[3], es[4], es[5]
assert get["records"] == [sys.argv[2]] and get["sections"] == ["identity"]
assert get["outcome"] == "allowed" and get["actor"]
assert find["records"] == [sys.argv[2]] and "SSN" in find["reason"]
assert miss["outcome"] == "error" and "not found" in miss["reason"]
for e in es:   # anyone can recompute a leaf hash
    leaf = base64.b64decode(e["leaf"])
    h = hashlib.sha256(b"\0" + leaf).digest()
    assert base64.b64encode(h).decode() == e["leaf_hash"]
PY
grep -q "$ssn" "$T/out" && bad "an SSN went into the log" || ok

# Fail closed: if the entry cannot be made durable, no data is printed.
CLEARVAULT_FAULT=audit.sync:1 expect_fail "get, log not durable" \
    "I/O error" "$CV" get --dir "$T/v" "$id"
CLEARVAULT_FAULT=audit.write:1 expect_fail "find, log not writable" \
    "I/O error" "$CV" find --dir "$T/v" --ssn "$ssn"
chmod 000 "$T/v/audit/entries"
if [ "$(id -u)" -ne 0 ]; then
	expect_fail "get, log unreadable" "audit" "$CV" get --dir "$T/v" "$id"
fi
chmod 600 "$T/v/audit/entries"
mv "$T/v/audit" "$T/audit.away"
expect_fail "get, log missing" "audit log" "$CV" get --dir "$T/v" "$id"
mv "$T/audit.away" "$T/v/audit"
expect_ok "works again" "$CV" get --dir "$T/v" "$id"

# Checkpoints, proofs, and the outsider's check with public material.
expect_ok "checkpoint" "$CV" audit checkpoint --dir "$T/v"
cp "$T/out" "$T/ck1"
expect_eq "checkpoint origin" "clearvault/" "$(head -1 "$T/ck1" | cut -c1-11)"
expect_ok "pubkey" "$CV" audit pubkey --dir "$T/v"
cp "$T/out" "$T/pub"
size1=$(sed -n 2p "$T/ck1")
expect_ok "prove" "$CV" audit prove --dir "$T/v" --index 2 --size "$size1"
cp "$T/out" "$T/proof"
expect_ok "check inclusion" "$CV" audit check --pubkey "$(cat "$T/pub")" \
    --checkpoint "$T/ck1" --proof "$T/proof"
grep -q "^OK: entry 2 is in the log" "$T/out" && ok || bad "check output"
expect_ok "leaf of entry 2" "$CV" audit tail --dir "$T/v" --json -n 1000
python3 -c "
import base64, json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e['index'] == 2: open(sys.argv[2], 'wb').write(base64.b64decode(e['leaf']))
" "$T/out" "$T/leaf2"
expect_ok "check with the leaf" "$CV" audit check --pubkey "$(cat "$T/pub")" \
    --checkpoint "$T/ck1" --proof "$T/proof" --leaf "$T/leaf2"
printf 'x' >>"$T/leaf2"
expect_fail "check with another leaf" "does not hash" "$CV" audit check \
    --pubkey "$(cat "$T/pub")" --checkpoint "$T/ck1" --proof "$T/proof" \
    --leaf "$T/leaf2"
sed 's/"index":2/"index":3/' "$T/proof" >"$T/proof3"
expect_fail "check a moved index" "authentication failed" "$CV" audit check \
    --pubkey "$(cat "$T/pub")" --checkpoint "$T/ck1" --proof "$T/proof3"
"$CV" init --dir "$T/w" 2>/dev/null
"$CV" audit pubkey --dir "$T/w" >"$T/otherpub"
expect_fail "check with another key" "signed\|verify" "$CV" audit check \
    --pubkey "$(cat "$T/otherpub")" --checkpoint "$T/ck1" --proof "$T/proof"
printf '{"index":1}' >"$T/junk"
expect_fail "check junk proof" "invalid input" "$CV" audit check \
    --pubkey "$(cat "$T/pub")" --checkpoint "$T/ck1" --proof "$T/junk"

expect_ok "more work" "$CV" get --dir "$T/v" "$id"
expect_ok "consistency" "$CV" audit consistency --dir "$T/v" --from "$T/ck1"
cp "$T/out" "$T/cons"
size2=$(json_field "$T/cons" "d['size2']")
expect_eq "consistency from" "$size1" "$(json_field "$T/cons" "d['size1']")"
expect_ok "checkpoint of size2" "$CV" audit checkpoint --dir "$T/v" \
    --size "$size2"
cp "$T/out" "$T/ck2"
expect_ok "check consistency" "$CV" audit check --pubkey "$(cat "$T/pub")" \
    --checkpoint "$T/ck2" --proof "$T/cons"
grep -q "append-only" "$T/out" && ok || bad "consistency check output"
expect_ok "verify" "$CV" audit verify --dir "$T/v" --checkpoint "$T/ck1" \
    --checkpoint "$T/ck2"
grep -q "^verified [0-9]* entries" "$T/out" && ok || bad "verify output"
expect_fail "audit without subcommand" "which subcommand" "$CV" audit
expect_fail "audit unknown" "unknown subcommand" "$CV" audit frob --dir "$T/v"
expect_ok "audit --help" "$CV" audit --help
finish
