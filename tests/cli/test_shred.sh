#!/bin/bash
# shred: the data key is destroyed; get says so, find forgets the record.
. "$(dirname "$0")/lib.sh"

make_vault v 100 --canaries 0 || { bad "setup"; finish; exit 1; }
line=$(sed -n 9p "$T/v.jsonl")
id=$(printf '%s' "$line" | cut -c8-26)
ssn=$(printf '%s' "$line" | grep -o '"ssn":"[0-9-]*"' | cut -d'"' -f4)
expect_ok "find before" "$CV" find --dir "$T/v" --ssn "$ssn"
expect_eq "found before" "$id" "$(cat "$T/out")"
expect_ok "shred" "$CV" shred --dir "$T/v" "$id"
expect_fail "get after shred" "shredded" "$CV" get --dir "$T/v" "$id"
expect_ok "find after" "$CV" find --dir "$T/v" --ssn "$ssn"
expect_eq "not found after" "" "$(cat "$T/out")"
expect_fail "shred twice" "already shredded" "$CV" shred --dir "$T/v" "$id"
expect_fail "shred unknown" "no record" "$CV" shred --dir "$T/v" CV-NOPE
expect_eq "no key row left" 99 \
    "$(sqlite3 "$T/v/vault.db" "SELECT count(*) FROM deks")"
[ ! -s "$T/v/vault.db-wal" ] && ok || bad "WAL not checkpointed after shred"
other=$(sed -n 10p "$T/v.jsonl" | cut -c8-26)
expect_ok "others unaffected" "$CV" get --dir "$T/v" "$other"
finish
