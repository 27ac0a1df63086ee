#!/bin/bash
# rotate: every data key rewrapped, ciphertext untouched, old key destroyed,
# and an interrupted rotation is finished by a rerun with no record
# unreadable in between.
. "$(dirname "$0")/lib.sh"

make_vault v 20000 --canaries 0 || { bad "setup"; finish; exit 1; }
first=$(sed -n 1p "$T/v.jsonl" | cut -c8-26)
last=$(sed -n 20000p "$T/v.jsonl" | cut -c8-26)
sql "$T/v" "SELECT sum(length(body)), count(*) FROM records" >"$T/bodies0"
sql "$T/v" "SELECT $(hex_of "$T/v" wdek) FROM deks ORDER BY rec LIMIT 1" >"$T/wdek0"
cp "$T/v/keyring" "$T/keyring.gen1"

expect_ok "rotate" "$CV" rotate --dir "$T/v"
grep -q "20000 data keys rewrapped" "$T/err" && ok || bad "summary: $(cat "$T/err")"
expect_eq "all keys on generation 2" "2|20000" \
    "$(sql "$T/v" "SELECT gen, count(*) FROM deks GROUP BY gen ORDER BY gen")"
sql "$T/v" "SELECT $(hex_of "$T/v" wdek) FROM deks ORDER BY rec LIMIT 1" >"$T/wdek1"
cmp -s "$T/wdek0" "$T/wdek1" && bad "wrapped key unchanged" || ok
sql "$T/v" "SELECT sum(length(body)), count(*) FROM records" >"$T/bodies1"
cmp -s "$T/bodies0" "$T/bodies1" && ok || bad "ciphertext changed"
expect_ok "first readable" "$CV" get --dir "$T/v" "$first"
expect_ok "last readable" "$CV" get --dir "$T/v" "$last"

# The old keyring is useless now: its HSM root key was destroyed.
cp "$T/v/keyring" "$T/keyring.gen2"
cp "$T/keyring.gen1" "$T/v/keyring"
expect_fail "old keyring after rotation" "root key not found" \
    "$CV" get --dir "$T/v" "$first"
cp "$T/keyring.gen2" "$T/v/keyring"

# Interrupted after the first committed batch.
CLEARVAULT_FAULT=rotate.batch:1 expect_fail "interrupted rotation" \
    "interrupted" "$CV" rotate --dir "$T/v"
grep -q "run it again" "$T/err" && ok || bad "no advice to rerun"
expect_eq "half rewrapped" "2|11808 3|8192" \
    "$(sql "$T/v" "SELECT gen, count(*) FROM deks GROUP BY gen ORDER BY gen" | tr '\n' ' ' | sed 's/ $//')"
expect_ok "rewrapped record readable" "$CV" get --dir "$T/v" "$first"
expect_ok "not yet rewrapped record readable" "$CV" get --dir "$T/v" "$last"
expect_ok "rerun finishes" "$CV" rotate --dir "$T/v"
grep -q "finished an interrupted rotation" "$T/err" && ok || bad "resume not said"
expect_eq "all on generation 3" "3|20000" \
    "$(sql "$T/v" "SELECT gen, count(*) FROM deks GROUP BY gen ORDER BY gen")"
expect_ok "readable after" "$CV" get --dir "$T/v" "$last"
finish
