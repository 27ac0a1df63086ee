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
    "$(sql "$T/v" "SELECT count(*) FROM deks")"
# SQLite's WAL is emptied into the file; PostgreSQL's WAL keeps the wrapped
# key until rotate (docs/scale-out.md: what is left).
if ! on_pg "$T/v"; then
	[ ! -s "$T/v/vault.db-wal" ] && ok || bad "WAL not checkpointed after shred"
fi
other=$(sed -n 10p "$T/v.jsonl" | cut -c8-26)
expect_ok "others unaffected" "$CV" get --dir "$T/v" "$other"
finish
