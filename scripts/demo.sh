#!/bin/sh
# make run: a demo vault under demo/, 100,000 synthetic records, and a look
# at what it does. Everything is recreated at each run.
set -eu
cd "$(dirname "$0")/.."
CV=./build/clearvault
V=demo/vault
SEED=2015
N=${DEMO_RECORDS:-100000}

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

rm -rf demo
mkdir -p demo
say "A new vault: root keys in a private SoftHSM2 token, never extractable"
show $CV init --dir $V

say "Load $N synthetic SF-86-style records (SSNs from the never-issued 900-999 range)"
printf '$ %s\n' "$CV gen --count $N --seed $SEED | $CV load --dir $V"
$CV gen --count "$N" --seed $SEED | $CV load --dir $V

rec=$($CV gen --count 1 --start 41 --seed $SEED)
id=$(printf '%s' "$rec" | cut -c8-26)
ssn=$(printf '%s' "$rec" | grep -o '"ssn":"[0-9-]*"' | cut -d'"' -f4)
last=$(printf '%s' "$rec" | grep -o '"last":"[^"]*"' | head -1 | cut -d'"' -f4)
dob=$(printf '%s' "$rec" | grep -o '"birth_date":"[0-9-]*"' | head -1 |
    cut -d'"' -f4)

say "Read one record, only the sections asked for (only those are decrypted)"
show $CV get --dir $V "$id" --section identity --section adjudication

say "Find by SSN and by last name + birth date: blind indexes, no decryption"
show $CV find --dir $V --ssn "$ssn"
show $CV find --dir $V --name "$last" --dob "$dob"

say "What a thief who copies the folder gets: no plaintext anywhere"
printf '$ grep -rF "%s" %s   (the SSN)\n' "$ssn" "$V"
if grep -rqF "$ssn" "$V"; then echo "FOUND - this is a bug"; exit 1; fi
echo "(no match)"
printf '$ grep -rF "%s" %s   (the last name)\n' "$last" "$V"
if grep -rqF "\"$last\"" "$V"; then echo "FOUND - this is a bug"; exit 1; fi
echo "(no match)"
printf '$ sqlite3 %s/vault.db "SELECT rid, hex(substr(body, 1, 24)) FROM records LIMIT 2"\n' "$V"
sqlite3 $V/vault.db "SELECT rid, hex(substr(body, 1, 24)) FROM records LIMIT 2"

say "Rotate the keyring key: every data key rewrapped, the old key destroyed"
show $CV rotate --dir $V

say "Crypto-shred one record"
show $CV shred --dir $V "$id"
printf '$ %s\n' "$CV get --dir $V $id"
$CV get --dir $V "$id" || true

say "Every operation above is in the audit log, durable before its data was shown"
show $CV audit tail --dir $V -n 6
show $CV audit checkpoint --dir $V
show $CV audit verify --dir $V

say "Done. The vault is in $V; try: $CV --help"
