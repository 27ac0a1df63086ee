#!/bin/bash
# Makes tests/data/ed25519-vault.tar.gz, the fixture of test_ca_upgrade.sh:
# a vault made by a release from before the CA was P-256 (its CA and
# server certificates Ed25519), with five records and users enrolled
# under that CA (olga, an investigator, and the bootstrap's officers),
# their keys, certificates and TOTP secrets beside it. Not run by
# make check; run by hand with such a release's binary (commit b92ac3e or
# earlier) to make the fixture again:
#   tests/data/make_ed25519_vault.sh /path/to/old/clearvault
set -eu
here=$(cd "$(dirname "$0")" && pwd)
export CLEARVAULT=$1
. "$here/../cli/lib.sh"
make_vault v 5
add_users "$T/v" olga:investigator
rm -f "$T/boot/v/serve.out" "$T/boot/v/serve.err"
tar -C "$T" --owner=0 --group=0 -czf "$here/ed25519-vault.tar.gz" v v.jsonl k boot
echo "wrote $here/ed25519-vault.tar.gz"
