#!/bin/sh
# The privilege boundary as a property of the source, checked on every
# build: record plaintext is made in one place (keyd, under a checked
# audit ticket), the network process's code holds no key and writes no
# audit entry itself. A new caller that breaks this fails here, before any
# review.
set -u
cd "$(dirname "$0")/../.."
fails=0
checks=0
# forbid PATTERN DIRS... (allowed: files under ALLOW, a regex of paths)
forbid() {
	what=$1 pat=$2 allow=$3
	shift 3
	checks=$((checks + 1))
	hits=$(grep -rnE "$pat" "$@" --include='*.c' | grep -vE "$allow")
	if [ -n "$hits" ]; then
		echo "FAIL: $what:"
		echo "$hits" | sed 's/^/  /'
		fails=$((fails + 1))
	fi
}
forbid "record plaintext outside keyd" \
    '\bcv_vault_get(_text)?\(|\benv_open\(|\bcv_keys_dek_unwrap\(' \
    '^src/(keyd|vault|keys)/|^src/cli/cmd_test.c:' src
# Sealed secrets (TOTP seeds, the guard's state, the canary list) are
# opened by keyd alone; the command line asks an in-process keyd.
forbid "unsealing outside keyd" '\bcv_keys_unseal\(' \
    '^src/(keyd|vault|keys)/' src
# One read path: policy and the guard come before any decrypting request
# (src/core); nothing else asks keyd for plaintext.
forbid "keyd's decrypting requests outside the core's read path" \
    '\bcv_keyd_(read|read_async|decrypt)\(|keyd/keyd_read\.h' \
    '^src/(core|keyd)/' src
forbid "a read that skips cv_core_admit (a pass made by hand)" \
    'struct cv_core_pass[[:space:]]*[{=]|sizeof[[:space:]]*\(?[[:space:]]*struct cv_core_pass' \
    '^src/core/' src
forbid "a key operation in the api worker's code" \
    '\bcv_vault_keys\(|\bcv_keys_[a-z_]+\(|\bcv_ca_privkey\(' '^$' src/api
forbid "an audit write in the api worker's code (keyd writes the log)" \
    '\bcv_audit_(append|submit|append_leaves|checkpoint)\(' '^$' src/api
forbid "the PKCS#11 module in the api worker's code" \
    '\bC_[A-Z][A-Za-z]+\(|p11_kit|pkcs11' '^$' src/api src/serve/api_proc.c
# The vault handle hands out no keyring: keyd's constructor takes it, the
# core's composition gives the log a checkpoint signer, and nothing else
# reaches it (the test-only key dump excepted).
forbid "the keyring reached outside keyd and the core" \
    'vault_keys\.h|\bcv_vault_keys\(' \
    '^src/(vault|keyd|core)/|^src/cli/cmd_test.c:' src
# Components are handed their store; only a process's composition root
# (the commands, src/serve, the api's thread setup, keyd's pool) and the
# core take it from a vault handle.
forbid "a component that takes a vault handle apart for its store" \
    '\bcv_vault_store\(' \
    '^src/(vault|core|cli|serve)/|^src/api/server.c:|^src/keyd/(serve|ops).c:' \
    src
forbid "the audit log knowing the vault (it is handed a directory and a signer)" \
    'vault/vault\.h|\bstruct cv_vault\b' '^$' src/audit
# The witness pusher talks to the network: only the supervisor runs it,
# never keyd or the api worker, whose sandboxes have no way out.
forbid "a witness request outside the supervisor's pusher" \
    '\bcv_witness_post\(|\bcv_witness_pusher_start\(' \
    '^src/witness/push\.c:|^src/serve/(witness_push|supervise)\.c:' src
echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ]
