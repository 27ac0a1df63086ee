#!/bin/bash
# Nodes of one PostgreSQL vault on one shared HSM token, as in production
# (a network HSM that every node reaches): here a SoftHSM2 token outside
# every folder. The token's binding names the vault's database (the
# cluster's system identifier and the database's name), so every folder
# whose records are that database is a node and opens the keys; a copy of
# the vault with records of its own (its database copied, the folder
# pointed at the copy) is refused, as a copied SQLite vault is, because a
# rotation there would destroy the root keys the original still needs.
# A rotation on one node: the others fail closed until its keyring is
# copied to them (README: several nodes).
. "$(dirname "$0")/lib.sh"
PG_SH=$(cd "$(dirname "$0")/.." && pwd)/pg.sh
PSQL=/usr/lib/postgresql/15/bin/psql
chmod 711 "$T"
trap 'sh "$PG_SH" stop "$T/pg" >/dev/null 2>&1
    [ -n "${CV_KEEP:-}" ] || rm -rf "$T"' EXIT
uri=$(sh "$PG_SH" start "$T/pg") || { bad "start PostgreSQL"; finish; exit 1; }

# One token for every node, outside their folders.
mkdir -p "$T/hsm/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
    "$T/hsm/tokens" >"$T/hsm/conf"
export SOFTHSM2_CONF="$T/hsm/conf"
softhsm2-util --init-token --free --label ops --so-pin 12345678 \
    --pin 87654321 >/dev/null || { bad "make the token"; finish; exit 1; }
printf '87654321' >"$T/hsm/pin"
chmod 600 "$T/hsm/pin"
HSM=(--pkcs11-module /usr/lib/softhsm/libsofthsm2.so --token ops
    --pin-file "$T/hsm/pin")

"$CV" gen --count 20 --seed 5 >"$T/in.jsonl"
expect_ok "init on the shared token" "$CV" init --dir "$T/v" --db "$uri" \
    "${HSM[@]}"
expect_ok "load" "$CV" load --dir "$T/v" --quiet --canaries 0 "$T/in.jsonl"
id=$(head -1 "$T/in.jsonl" | cut -c8-26)
cp -a "$T/v" "$T/v2"
rm -f "$T/v2/serve.lock"

# ---- a second node's folder: the same records, the same keys ----------
expect_ok "get on node 2" "$CV" get --dir "$T/v2" "$id"
grep -q "$id" "$T/out" && ok || bad "node 2 read nothing"
expect_ok "get on node 1 after it" "$CV" get --dir "$T/v" "$id"
expect_ok "audit verify on node 2" "$CV" audit verify --dir "$T/v2"

# ---- a copy with records of its own: refused ---------------------------
pg_admin "CREATE DATABASE copied TEMPLATE clearvault"
cp -a "$T/v" "$T/v3"
rm -f "$T/v3/serve.lock"
sed -i "s|^db = postgresql:///clearvault|db = postgresql:///copied|" \
    "$T/v3/clearvault.conf"
grep -q "^db = postgresql:///copied" "$T/v3/clearvault.conf" && ok ||
    bad "the copy's folder names the copied database"
expect_fail "a copy with a database of its own" "records of its own" \
    "$CV" get --dir "$T/v3" "$id"
expect_fail "its rotate, refused before any key is made" \
    "records of its own" "$CV" rotate --dir "$T/v3"
expect_ok "the nodes go on" "$CV" get --dir "$T/v2" "$id"

# ---- a rotation on node 2 -----------------------------------------------
expect_ok "rotate on node 2" "$CV" rotate --dir "$T/v2"
expect_ok "node 2 reads under the new generation" "$CV" get --dir "$T/v2" "$id"
expect_fail "node 1, its keyring stale, returns nothing" "" \
    "$CV" get --dir "$T/v" "$id"
cp "$T/v2/keyring" "$T/v/keyring"
expect_ok "node 1 with node 2's keyring" "$CV" get --dir "$T/v" "$id"
grep -q "$id" "$T/out" && ok || bad "node 1 read nothing"
unset SOFTHSM2_CONF

# ---- a SQLite vault's copy on a shared token: refused as before ---------
export SOFTHSM2_CONF="$T/hsm/conf"
softhsm2-util --init-token --free --label lite --so-pin 12345678 \
    --pin 87654321 >/dev/null || bad "a second token"
expect_ok "a SQLite vault on a shared token" "$CV" init --dir "$T/s" \
    --pkcs11-module /usr/lib/softhsm/libsofthsm2.so --token lite \
    --pin-file "$T/hsm/pin"
expect_ok "load it" "$CV" load --dir "$T/s" --quiet --canaries 0 "$T/in.jsonl"
cp -a "$T/s" "$T/s2"
expect_fail "its copy" "is a copy of it" "$CV" get --dir "$T/s2" "$id"
unset SOFTHSM2_CONF
finish
