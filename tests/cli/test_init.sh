#!/bin/bash
# init: creates a vault with a private token, refuses to touch existing ones.
. "$(dirname "$0")/lib.sh"

expect_ok "init" "$CV" init --dir "$T/v"
# The records' database: vault.db, or (CLEARVAULT_TEST_DB=postgresql) a
# PostgreSQL database named in clearvault.conf, and then no vault.db.
db=vault.db
on_pg "$T/v" && db= && { [ ! -e "$T/v/vault.db" ] && ok || bad "a vault.db too"; }
for f in clearvault.conf keyring $db token/pin token/softhsm2.conf; do
	[ -f "$T/v/$f" ] && ok || bad "init did not create $f"
done
expect_eq "the schema in the vault's database" 1 \
    "$(sql "$T/v" "SELECT count(*) FROM meta WHERE k = 'schema'")"
expect_eq "pin file mode" 600 "$(stat -c %a "$T/v/token/pin")"
expect_eq "vault folder mode" 700 "$(stat -c %a "$T/v")"
d0=$(vault_digest "$T/v")
expect_fail "init refuses a vault" "not empty" "$CV" init --dir "$T/v"
expect_eq "refused init changed nothing" "$d0" "$(vault_digest "$T/v")"
mkdir "$T/other" && touch "$T/other/keep"
expect_fail "init refuses a non-empty folder" "refusing" \
    "$CV" init --dir "$T/other"
[ -f "$T/other/keep" ] && ok || bad "init touched a non-empty folder"
mkdir "$T/empty"
expect_ok "init into an empty folder" "$CV" init --dir "$T/empty"

# With an existing PKCS#11 token: the vault's keys go there.
mkdir -p "$T/hsm/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
    "$T/hsm/tokens" >"$T/hsm/conf"
if command -v softhsm2-util >/dev/null; then
	SOFTHSM2_CONF="$T/hsm/conf" softhsm2-util --init-token --free \
	    --label ops --so-pin 12345678 --pin 87654321 >/dev/null
	printf '87654321' >"$T/hsm/pin"
	chmod 600 "$T/hsm/pin"
	export SOFTHSM2_CONF="$T/hsm/conf"
	expect_ok "init on an existing token" "$CV" init --dir "$T/ext" \
	    --pkcs11-module /usr/lib/softhsm/libsofthsm2.so --token ops \
	    --pin-file "$T/hsm/pin"
	"$CV" gen --count 5 >"$T/five.jsonl"
	expect_ok "load into it" "$CV" load --dir "$T/ext" "$T/five.jsonl"
	id=$(head -1 "$T/five.jsonl" | cut -c8-26)
	expect_ok "get from it" "$CV" get --dir "$T/ext" "$id"
	printf 'wrong' >"$T/hsm/badpin"
	chmod 600 "$T/hsm/badpin"
	expect_fail "init with a wrong PIN" "refused the PIN" "$CV" init \
	    --dir "$T/ext2" --pkcs11-module /usr/lib/softhsm/libsofthsm2.so \
	    --token ops --pin-file "$T/hsm/badpin"
	[ -e "$T/ext2" ] && bad "failed init left files behind" || ok
	expect_fail "init with a wrong label" "token not found" "$CV" init \
	    --dir "$T/ext3" --pkcs11-module /usr/lib/softhsm/libsofthsm2.so \
	    --token nosuch --pin-file "$T/hsm/pin"
	unset SOFTHSM2_CONF
fi
expect_fail "half the HSM options" "go together" "$CV" init --dir "$T/x" \
    --token ops
unset CLEARVAULT_DIR
expect_fail "no vault folder" "no vault folder" "$CV" init
CLEARVAULT_DIR="$T/envdir" expect_ok "CLEARVAULT_DIR" "$CV" init
[ -f "$T/envdir/keyring" ] && ok || bad "CLEARVAULT_DIR not used"
for c in init gen load get find rotate shred; do
	expect_ok "$c --help" "$CV" "$c" --help
	grep -q "usage: clearvault $c" "$T/out" && ok || bad "$c --help text"
done
expect_ok "clearvault --help" "$CV" --help
expect_fail "unknown command" "unknown command" "$CV" frobnicate
finish
