#!/bin/bash
# Backup and restore. A backup taken while a server serves and a load
# writes is one consistent moment; it holds no plaintext and without its
# token opens nothing; restore checks every file, never overwrites a
# vault, and gives the restored vault keys of its own, so that rotating
# it beside the original (on the same HSM token even) leaves the
# original whole. Before the fix there was no backup or restore, and a
# copy restored beside its original destroyed the original's root key at
# its first rotation.
. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/shared_token.sh"

make_vault v 300 || { bad "setup"; finish; exit 1; }
first=$(sed -n 1p "$T/v.jsonl" | cut -c8-26)
last=$(sed -n 300p "$T/v.jsonl" | cut -c8-26)
"$CV" gen --count 20000 --seed 9 --start 300 >"$T/more.jsonl"
readable() {	# DESC DIR
	expect_ok "$1: first record" "$CV" get --dir "$2" "$first"
	expect_ok "$1: last record" "$CV" get --dir "$2" "$last"
}

for c in backup restore rebind; do
	expect_ok "$c --help" "$CV" $c --help
	grep -q "usage: clearvault $c" "$T/out" && ok || bad "$c --help text"
done
expect_fail "backup needs --out" "--out FOLDER is required" \
    "$CV" backup --dir "$T/v"
expect_fail "backup inside the vault" "three separate folders" \
    "$CV" backup --dir "$T/v" --out "$T/v/b"
mkdir "$T/full" && touch "$T/full/x"
expect_fail "backup into a non-empty folder" "not empty" \
    "$CV" backup --dir "$T/v" --out "$T/full"
expect_eq "a refused backup leaves the folder alone" x "$(ls "$T/full")"

# 1. A backup while a server answers requests and a load writes records.
start_server "$T/v" || { bad "server start"; finish; exit 1; }
trap 'kill "$SRV_PID" "${LOADER:-}" "${POKER:-}" 2>/dev/null; cv_cleanup' EXIT
( while :; do curl -s -o /dev/null --cacert "$T/v/ca.pem" "${URL}healthz"; done ) &
POKER=$!
"$CV" load --dir "$T/v" --quiet "$T/more.jsonl" &
LOADER=$!
sleep 0.5
kill -0 "$LOADER" 2>/dev/null && ok || bad "the load ended before the backup"
expect_ok "backup of a busy vault" "$CV" backup --dir "$T/v" --out "$T/b" \
    --token-out "$T/tok"
wait "$LOADER"
kill "$POKER"
wait "$POKER" 2>/dev/null
stop_server
expect_eq "server exit status" 0 "$SRV_RC"

[ -e "$T/b/token" ] && bad "the backup holds the token" || ok
[ -f "$T/tok/pin" ] && [ -d "$T/tok/objects" ] && ok ||
    bad "the token's copy: $(ls "$T/tok")"
(cd "$T/b" && sha256sum --quiet -c SHA256SUMS) && ok || bad "sha256sum -c"
grep -q "^audit_entries = [1-9]" "$T/b/backup.info" && ok ||
    bad "backup.info: $(cat "$T/b/backup.info")"
python3 - "$T/b" "$T/v.jsonl" "$T/more.jsonl" <<'PY' && ok || bad "plaintext in the backup"
import json, os, sys
vals = set()
for f in sys.argv[2:]:
    for k, line in enumerate(open(f)):
        if k == 500:
            break
        r = json.loads(line)
        i = r["identity"]
        vals.add(i["ssn"].encode())
        vals.add(i["ssn"].replace("-", "").encode())
        vals.add(i["name"]["last"].encode() + b'"')
        vals.add(r["contact"]["email"].encode())
blobs = []
for d, _, fs in os.walk(sys.argv[1]):
    for f in fs:
        blobs.append(open(os.path.join(d, f), "rb").read())
found = [v for v in vals for b in blobs if v in b]
assert not found, found[:5]
PY
expect_fail "the backup alone opens nothing" "token" \
    "$CV" get --dir "$T/b" "$first"

# 2. Restore: refusals first.
expect_fail "restore without the private token" "give --token" \
    "$CV" restore --from "$T/b" --dir "$T/r"
[ -e "$T/r" ] && bad "a refused restore left $T/r" || ok
expect_fail "restore over a vault" "holds a vault" \
    "$CV" restore --from "$T/b" --dir "$T/v" --token "$T/tok"
expect_fail "restore into a non-empty folder" "not empty" \
    "$CV" restore --from "$T/b" --dir "$T/full" --token "$T/tok"
cp -a "$T/b" "$T/b2"
python3 - "$T/b2/vault.db" <<'PY'
import sys
p = sys.argv[1]
d = bytearray(open(p, "rb").read())
d[len(d) // 2] ^= 1
open(p, "wb").write(bytes(d))
PY
expect_fail "an altered backup" "vault.db does not match its checksum" \
    "$CV" restore --from "$T/b2" --dir "$T/r2" --token "$T/tok"
[ -e "$T/r2" ] && bad "a refused restore left $T/r2" || ok

expect_ok "restore" "$CV" restore --from "$T/b" --dir "$T/r" --token "$T/tok"
readable "restored vault" "$T/r"
vid=$(sed -n 's/^vault_id = //p' "$T/v/clearvault.conf")
expect_eq "restored vault keeps the vault id" "$vid" \
    "$(sed -n 's/^vault_id = //p' "$T/r/clearvault.conf")"
kid=$(sed -n 's/^key_id = //p' "$T/r/clearvault.conf")
[ -n "$kid" ] && [ "$kid" != "$vid" ] && ok || bad "restored key id: '$kid'"
grep -q "$T/v/" "$T/r/token/softhsm2.conf" &&
    bad "the restored token config names the original's" || ok
expect_ok "restored log verifies" "$CV" audit verify --dir "$T/r"
"$CV" audit tail --dir "$T/r" -n 400 >"$T/tail"
grep -q " backup " "$T/tail" && ok || bad "the backup's own entry is in it"
grep -q " restore " "$T/tail" && ok || bad "the restore is logged"
sqlite3 "$T/r/vault.db" "pragma integrity_check" >"$T/ic" 2>&1
expect_eq "restored database integrity" ok "$(cat "$T/ic")"
n=$(sqlite3 "$T/r/vault.db" "select count(*) from records where rid like 'CV-%'")
# The load is one transaction: all of it or none of it.
[ "$n" -lt 20000 ] || [ "$n" -ge 20300 ] && ok || bad "a load half in: $n"

[ -e "$T/r/backup.info" ] && bad "backup.info copied into the vault" || ok
# A token kept as objects/ and pin only: its config is made anew.
cp -a "$T/tok" "$T/tok2"
rm "$T/tok2/softhsm2.conf"
expect_ok "restore with a token lacking its config" \
    "$CV" restore --from "$T/b" --dir "$T/r4" --token "$T/tok2"
readable "restored from objects and pin" "$T/r4"

# 3. The restored vault rotated beside the original, and the other way.
expect_ok "rotate the restored vault" "$CV" rotate --dir "$T/r"
readable "original after the restored vault's rotation" "$T/v"
readable "restored vault after its rotation" "$T/r"
expect_ok "rotate the original" "$CV" rotate --dir "$T/v"
readable "restored vault after the original's rotation" "$T/r"
# A rotation makes earlier backups unreadable: it destroys the old roots.
expect_fail "a backup from before a rotation" "a rotation after the backup" \
    "$CV" restore --from "$T/b" --dir "$T/r3" --token "$T/v/token"

# 4. A shared token (a real HSM): restored beside the original on the
#    same token, rotated, and the original still reads.
shared_token || bad "shared token"
shared_vault x || bad "vault x on the shared token"
expect_fail "--token-out with a real HSM" "external HSM" \
    "$CV" backup --dir "$T/x" --out "$T/xb0" --token-out "$T/xt0"
expect_ok "backup on the shared token" "$CV" backup --dir "$T/x" --out "$T/xb"
expect_fail "--token with a real HSM" "named in its clearvault.conf" \
    "$CV" restore --from "$T/xb" --dir "$T/xr" --token "$T/tok"
expect_ok "restore on the shared token" "$CV" restore --from "$T/xb" --dir "$T/xr"
readable "restored on the shared token" "$T/xr"
expect_ok "rotate the restored one" "$CV" rotate --dir "$T/xr"
readable "original on the shared token after the restored one rotated" "$T/x"
expect_ok "rotate the original" "$CV" rotate --dir "$T/x"
readable "restored on the shared token after the original rotated" "$T/xr"
unset SOFTHSM2_CONF
finish
