#!/bin/bash
# When a file of the audit log cannot be opened, read, written or synced,
# the error names that exact file (its full path), not the folder: the
# operator must know which of entries, offsets, checkpoints, lock or
# tree/L to look at. Every such failure fails closed (no data printed).
. "$(dirname "$0")/../cli/lib.sh"

make_vault v 3 --canaries 0 || { bad "setup"; finish; exit 1; }
id=$(sed -n 1p "$T/v.jsonl" | cut -c8-26)
A=$T/v/audit
expect_ok "get works" "$CV" get --dir "$T/v" "$id"
"$CV" audit checkpoint --dir "$T/v" >/dev/null 2>&1

# in_place_of NAME: NAME replaced by a folder (open fails: EISDIR), then
# a get, an audit tail and a (read-only) audit verify must name it.
in_place_of() {
	mv "$A/$1" "$T/saved"
	mkdir "$A/$1"
	expect_fail "$1 unopenable: get" "$A/$1" "$CV" get --dir "$T/v" "$id"
	expect_fail "$1 unopenable: tail" "$A/$1" \
	    "$CV" audit tail --dir "$T/v"
	rmdir "$A/$1"
	mv "$T/saved" "$A/$1"
}
for f in entries offsets checkpoints lock; do in_place_of "$f"; done
mv "$A/offsets" "$T/saved"
mkdir "$A/offsets"
expect_fail "offsets unopenable: verify" "$A/offsets" \
    "$CV" audit verify --dir "$T/v"
rmdir "$A/offsets"
mv "$T/saved" "$A/offsets"
mv "$A/offsets" "$T/saved"
expect_fail "offsets missing: get" "$A/offsets" "$CV" get --dir "$T/v" "$id"
mv "$T/saved" "$A/offsets"

# A tree level that cannot be opened: named too.
mv "$A/tree/0" "$T/saved"
mkdir "$A/tree/0"
expect_fail "tree/0 unopenable: verify" "$A/tree/0" \
    "$CV" audit verify --dir "$T/v"
expect_fail "tree/0 unopenable: get" "$A/tree/0" "$CV" get --dir "$T/v" "$id"
rmdir "$A/tree/0"
mv "$T/saved" "$A/tree/0"

# Failed writes and syncs of an entry name the entries file.
CLEARVAULT_FAULT=audit.sync:1 expect_fail "sync fails: get" "$A/entries" \
    "$CV" get --dir "$T/v" "$id"
# (the first write of an open may be the repair's, to offsets)
CLEARVAULT_FAULT=audit.write:1 expect_fail "write fails: get" \
    "cannot write $A/\(entries\|offsets\)" \
    "$CV" get --dir "$T/v" "$id"

expect_ok "works again" "$CV" get --dir "$T/v" "$id"
expect_ok "and verifies" "$CV" audit verify --dir "$T/v"
finish
