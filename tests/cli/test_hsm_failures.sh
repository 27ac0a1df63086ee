#!/bin/bash
# HSM missing, wrong PIN, wrong token, missing root key: a clear error, no
# data, nothing changed (fail closed).
. "$(dirname "$0")/lib.sh"

make_vault v 100 || { bad "setup"; finish; exit 1; }
id=$(head -1 "$T/v.jsonl" | cut -c8-26)
conf="$T/v/clearvault.conf"
cp "$conf" "$T/conf.orig"
cp "$T/v/token/pin" "$T/pin.orig"
d0=$(vault_digest "$T/v")

each_command() {	# DESC PATTERN: every command fails the same way
	expect_fail "$1: get" "$2" "$CV" get --dir "$T/v" "$id"
	expect_fail "$1: find" "$2" "$CV" find --dir "$T/v" --ssn 900-01-0001
	expect_fail "$1: load" "$2" "$CV" load --dir "$T/v" "$T/v.jsonl"
	expect_fail "$1: shred" "$2" "$CV" shred --dir "$T/v" "$id"
	expect_fail "$1: rotate" "$2" "$CV" rotate --dir "$T/v"
}

sed -i 's|^pkcs11_module = .*|pkcs11_module = /nonexistent/libhsm.so|' "$conf"
each_command "HSM module missing" "HSM unavailable: cannot load"
cp "$T/conf.orig" "$conf"

sed -i 's|^token_label = .*|token_label = elsewhere|' "$conf"
each_command "wrong token label" "HSM token not found: no token labelled 'elsewhere'"
cp "$T/conf.orig" "$conf"

printf 'not-the-pin' >"$T/v/token/pin"
each_command "wrong PIN" "HSM refused the PIN"
cp "$T/pin.orig" "$T/v/token/pin"

chmod 644 "$T/v/token/pin"
expect_fail "PIN file readable by others" "readable by others" \
    "$CV" get --dir "$T/v" "$id"
chmod 600 "$T/v/token/pin"
rm "$T/v/token/pin"
expect_fail "PIN file missing" "PIN file .* does not exist" \
    "$CV" get --dir "$T/v" "$id"
cp "$T/pin.orig" "$T/v/token/pin"
chmod 600 "$T/v/token/pin"

# The token's objects gone (a wiped or replaced HSM).
mv "$T/v/token/objects" "$T/objects.orig"
mkdir "$T/v/token/objects"
expect_fail "token gone" "HSM token not found" "$CV" get --dir "$T/v" "$id"
rmdir "$T/v/token/objects"
mv "$T/objects.orig" "$T/v/token/objects"

expect_eq "failures changed nothing" "$d0" "$(vault_digest "$T/v")"
expect_ok "works again" "$CV" get --dir "$T/v" "$id"
finish
