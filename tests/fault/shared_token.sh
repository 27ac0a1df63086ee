# Sourced by fault tests: a SoftHSM2 token outside any vault, standing for
# a real HSM that several vaults share (label "shared", user PIN in
# $T/hsm/pin). Exports SOFTHSM2_CONF: vaults made with --pkcs11-module
# then use it.
shared_token() {
	mkdir -p "$T/hsm/tokens"
	printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
	    "$T/hsm/tokens" >"$T/hsm/softhsm2.conf"
	export SOFTHSM2_CONF="$T/hsm/softhsm2.conf"
	printf '1234-shared' >"$T/hsm/pin"
	chmod 600 "$T/hsm/pin"
	softhsm2-util --init-token --free --label shared --pin 1234-shared \
	    --so-pin 5678-shared >/dev/null
}

# A vault NAME on the shared token, with the records of $T/v.jsonl.
shared_vault() {	# NAME
	"$CV" init --dir "$T/$1" --pkcs11-module /usr/lib/softhsm/libsofthsm2.so \
	    --token shared --pin-file "$T/hsm/pin" 2>/dev/null &&
	"$CV" load --dir "$T/$1" --quiet "$T/v.jsonl"
}
