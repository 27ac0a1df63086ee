#!/bin/bash
# A copied, moved or restored vault and the HSM token it uses. Before the
# fix, `cp -a v c; clearvault rotate --dir c` rotated c's data keys inside
# v's token (the copied softhsm2.conf named v's token folder) and destroyed
# the root key v's keyring is sealed under: every record of v was lost. A
# moved vault failed with "C_Initialize failed (CKR 0x5)".
. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/shared_token.sh"

make_vault v 40 || { bad "setup"; finish; exit 1; }
first=$(sed -n 1p "$T/v.jsonl" | cut -c8-26)
last=$(sed -n 40p "$T/v.jsonl" | cut -c8-26)

readable() {	# DESC DIR: both probe records decrypt
	expect_ok "$1: first record" "$CV" get --dir "$2" "$first"
	expect_ok "$1: last record" "$CV" get --dir "$2" "$last"
}

# 1. A copy rotated: its own token changes, the original's does not.
cp -a "$T/v" "$T/c"
expect_ok "rotate the copy" "$CV" rotate --dir "$T/c"
readable "original after the copy's rotation" "$T/v"
readable "the rotated copy" "$T/c"
expect_ok "original's log verifies" "$CV" audit verify --dir "$T/v"
expect_ok "rotate the original too" "$CV" rotate --dir "$T/v"
readable "original after its own rotation" "$T/v"
readable "copy after the original's rotation" "$T/c"
grep -q "$T/v/" "$T/c/token/softhsm2.conf" &&
    bad "the copy's softhsm2.conf still names the original's token" || ok

# 2. A moved vault works where it now is.
mv "$T/c" "$T/moved"
readable "moved vault" "$T/moved"
expect_ok "moved vault rotates" "$CV" rotate --dir "$T/moved"
readable "original after the moved copy's rotation" "$T/v"

# 3. A vault pointed at another vault's token: refused, naming both.
"$CV" init --dir "$T/w" 2>/dev/null || bad "init w"
wid=$(sed -n 's/^vault_id = //p' "$T/w/clearvault.conf")
vid=$(sed -n 's/^vault_id = //p' "$T/v/clearvault.conf")
cp -a "$T/w" "$T/w.orig"
rm -rf "$T/w/token"
cp -a "$T/v/token" "$T/w/token"
expect_fail "another vault's token" "belongs to vault $vid" \
    "$CV" get --dir "$T/w" "$first"
grep -q "this vault is $wid" "$T/err" && ok ||
    bad "names this vault too: $(cat "$T/err")"
expect_fail "another vault's token: rotate" "belongs to vault $vid" \
    "$CV" rotate --dir "$T/w"
readable "the token's own vault, after the refusals" "$T/v"

# 4. A vault on a shared token (a real HSM: several vaults, one token),
#    copied with cp -a: the copy must not touch the original's keys.
shared_token || bad "shared token"
shared_vault x || bad "vault x on the shared token"
readable "vault on the shared token" "$T/x"
cp -a "$T/x" "$T/xc"
expect_fail "copy on the shared token: rotate refused" \
    "belong to the vault at $T/x," "$CV" rotate --dir "$T/xc"
grep -q "$T/xc" "$T/err" && ok || bad "names the copy: $(cat "$T/err")"
expect_fail "copy on the shared token: get refused" \
    "belong to the vault at $T/x," "$CV" get --dir "$T/xc" "$first"
readable "shared-token vault after its copy's refusals" "$T/x"
expect_ok "shared-token vault rotates" "$CV" rotate --dir "$T/x"
readable "shared-token vault after rotating" "$T/x"
# Moved (the original place gone): refused until the operator rebinds.
mv "$T/x" "$T/xm"
rm -rf "$T/xc"
expect_fail "moved, shared token: refused" "clearvault rebind" \
    "$CV" get --dir "$T/xm" "$first"
expect_ok "rebind" "$CV" rebind --dir "$T/xm"
readable "moved shared-token vault after rebind" "$T/xm"
"$CV" audit tail --dir "$T/xm" -n 10 >"$T/tail"
grep -q "vault.rebind" "$T/tail" && ok || bad "rebind audited: $(cat "$T/tail")"
unset SOFTHSM2_CONF
finish
