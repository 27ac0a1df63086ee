#!/bin/bash
# Stolen or edited data: another vault cannot decrypt this database, and a
# data key or body moved between records fails authentication instead of
# returning wrong data.
. "$(dirname "$0")/lib.sh"

make_vault a 200 || { bad "setup a"; finish; exit 1; }
"$CV" init --dir "$T/b" 2>/dev/null
id1=$(sed -n 1p "$T/a.jsonl" | cut -c8-26)
id2=$(sed -n 2p "$T/a.jsonl" | cut -c8-26)
expect_ok "get in its own vault" "$CV" get --dir "$T/a" "$id1"

# The database stolen into another vault (another token): its file, or
# on PostgreSQL the other vault pointed at this one's database.
if on_pg "$T/a"; then
	sed -i "s|^db = .*|$(grep '^db = ' "$T/a/clearvault.conf")|" \
	    "$T/b/clearvault.conf"
else
	cp "$T/a/vault.db" "$T/b/vault.db"
	rm -f "$T/b/vault.db-wal" "$T/b/vault.db-shm"
fi
# On PostgreSQL the log is in the database too: the other vault stops at
# its checkpoints, signed by a key it does not hold, before any record.
want="authentication failed"
on_pg "$T/a" && want="not signed by this vault's audit key"
expect_fail "stolen database elsewhere" "$want" \
    "$CV" get --dir "$T/b" "$id1"

# Each edit below is undone before the next: the file copied back, or on
# PostgreSQL the edited columns set back from copies of the two tables.
if on_pg "$T/a"; then
	sql "$T/a" "CREATE TABLE orig_deks AS SELECT rec, wdek FROM deks;
	    CREATE TABLE orig_records AS SELECT id, body, version FROM records"
	restore() {
		sql "$T/a" "UPDATE deks SET wdek = o.wdek FROM orig_deks o
		    WHERE o.rec = deks.rec; UPDATE records SET body = o.body,
		    version = o.version FROM orig_records o WHERE o.id = records.id"
	}
	zero="'\\x00'::bytea"
else
	cp "$T/a/vault.db" "$T/orig.db"
	restore() { cp "$T/orig.db" "$T/a/vault.db"; }
	zero="x'00'"
fi
# Record 1's wrapped data key replaced by record 2's.
sql "$T/a" "UPDATE deks SET wdek = (SELECT d.wdek FROM deks d JOIN records r ON r.id = d.rec WHERE r.rid = '$id2') WHERE rec = (SELECT id FROM records WHERE rid = '$id1');"
expect_fail "moved data key" "authentication failed" \
    "$CV" get --dir "$T/a" "$id1"
restore
# Record 1's encrypted sections replaced by record 2's.
sql "$T/a" "UPDATE records SET body = (SELECT body FROM records WHERE rid = '$id2') WHERE rid = '$id1';"
expect_fail "moved sections" "authentication failed" \
    "$CV" get --dir "$T/a" "$id1"
restore
# A version number rolled back: the sections are bound to their version.
sql "$T/a" "UPDATE records SET version = 2 WHERE rid = '$id1';"
expect_fail "changed version" "authentication failed" \
    "$CV" get --dir "$T/a" "$id1"
restore
# One flipped byte in the ciphertext.
sql "$T/a" "UPDATE records SET body = substr(body, 1, 100) || $zero || substr(body, 102) WHERE rid = '$id1';"
expect_fail "flipped byte" "authentication failed" \
    "$CV" get --dir "$T/a" "$id1"
restore
# A truncated body is refused as malformed.
sql "$T/a" "UPDATE records SET body = substr(body, 1, 50) WHERE rid = '$id1';"
expect_fail "truncated body" "malformed" "$CV" get --dir "$T/a" "$id1"
restore
expect_ok "restored" "$CV" get --dir "$T/a" "$id1"

# The keyring altered: the vault does not open at all.
cp "$T/a/keyring" "$T/keyring.orig"
printf '\x00' | dd of="$T/a/keyring" bs=1 seek=40 conv=notrunc 2>/dev/null
expect_fail "altered keyring" "authentication failed\|malformed" \
    "$CV" get --dir "$T/a" "$id1"
cp "$T/b/keyring" "$T/a/keyring"
expect_fail "another vault's keyring" "not found\|authentication" \
    "$CV" get --dir "$T/a" "$id1"
cp "$T/keyring.orig" "$T/a/keyring"
expect_ok "restored keyring" "$CV" get --dir "$T/a" "$id1"
finish
