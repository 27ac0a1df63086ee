# Shared by the command-level tests. Each test file is one scenario run
# against the real binary ($CLEARVAULT), a real SoftHSM2 token and a real
# SQLite file, in a temporary folder removed at exit.
set -u
CV=${CLEARVAULT:?set CLEARVAULT to the clearvault binary}
T=$(mktemp -d "${TMPDIR:-/tmp}/cvcli.XXXXXX")
trap 'rm -rf "$T"' EXIT
fails=0
checks=0

ok() { checks=$((checks + 1)); }
bad() {
	checks=$((checks + 1))
	fails=$((fails + 1))
	echo "FAIL: $*" >&2
}

# run CMD...: runs it, keeping stdout in $T/out, stderr in $T/err, status in rc
run() {
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
}

# expect_ok DESC CMD...: the command succeeds
expect_ok() {
	desc=$1; shift
	run "$@"
	if [ "$rc" -eq 0 ]; then ok; else
		bad "$desc: exit $rc: $(head -c 500 "$T/err")"; fi
}

# expect_fail DESC PATTERN CMD...: fails, stderr matches PATTERN, no stdout
expect_fail() {
	desc=$1; pat=$2; shift 2
	run "$@"
	if [ "$rc" -eq 0 ]; then bad "$desc: succeeded"; return; fi
	if ! grep -q -- "$pat" "$T/err"; then
		bad "$desc: stderr lacks '$pat': $(head -c 500 "$T/err")"
		return
	fi
	if [ -s "$T/out" ]; then bad "$desc: printed data on failure"; return; fi
	ok
}

# expect_eq DESC WANT GOT
expect_eq() {
	if [ "$2" = "$3" ]; then ok; else bad "$1: want '$2', got '$3'"; fi
}

# json_field FILE EXPR: a value from a JSON file (python3 ships with meson)
json_field() {
	python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"
}

finish() {
	echo "$checks checks, $fails failed"
	[ "$fails" -eq 0 ]
}

# A vault with N generated records (seed 7) at $T/$1; input in $T/$1.jsonl
make_vault() {	# NAME COUNT [load options...]
	n=$1 c=$2
	shift 2
	"$CV" gen --count "$c" --seed 7 >"$T/$n.jsonl" &&
	"$CV" init --dir "$T/$n" 2>/dev/null &&
	"$CV" load --dir "$T/$n" --quiet "$@" "$T/$n.jsonl"
}

# Digest of every file of a vault, to show that nothing changed. Left
# out: the token's own files (SoftHSM2 rewrites them at every login) and
# the audit log (a refused operation is an entry: that is its job).
vault_digest() {
	find "$1" \( -path "$1/token/objects" -o -path "$1/audit" \) -prune \
	    -o -type f -print0 | sort -z |
	    xargs -0 sha256sum | sha256sum
}

# The current TOTP code of an otpauth:// file (RFC 6238, SHA-1, 30 s).
# OFFSET moves it by whole steps (to test the accepted window).
totp() {
	python3 - "$1" "${2:-0}" <<'PY'
import base64, hashlib, hmac, struct, sys, time
s = open(sys.argv[1]).read().split("secret=")[1].split("&")[0]
k = base64.b32decode(s)
c = int(time.time()) // 30 + int(sys.argv[2])
h = hmac.new(k, struct.pack(">Q", c), hashlib.sha1).digest()
o = h[-1] & 15
print("%06d" % ((struct.unpack(">I", h[o:o + 4])[0] & 0x7fffffff) % 1000000))
PY
}

# Every grant of read power takes two people, so each vault the tests use
# gets three bootstrap users of its own (made by the operator while the
# vault has fewer than two officers): cvboot-adm proposes, cvboot-so1
# approves, cvboot-so2 makes the second officer. Their keys are in
# $T/boot/VAULT (VAULT: the vault folder's name), made by `clearvault enrol`.
boot_users() {	# DIR
	local dir=$1 b u c
	b="$T/boot/$(basename "$1")"
	[ -f "$b/done" ] && return 0
	mkdir -p "$b"
	for u in cvboot-adm:admin cvboot-so1:security_officer \
	    cvboot-so2:security_officer; do
		c=$("$CV" user add --dir "$dir" "${u%%:*}" --role "${u#*:}" |
		    sed -n 's/.*enrolment code \([A-Z0-9-]*\).*/\1/p')
		[ -n "$c" ] && "$CV" enrol --dir "$dir" --name "${u%%:*}" \
		    --code "$c" --out "$b" >/dev/null || return 1
	done
	: >"$b/done"
}

# A session of bootstrap user U of vault VB on the server at URL_: token
# on stdout. Codes are good once, so each login takes a fresh one.
boot_login() {	# VB U URL_
	local b="$T/boot/$1"
	curl -s --cacert "$T/ca.pem" --cert "$b/$2.crt" --key "$b/$2.key" \
	    -d "{\"totp\":\"$(fresh_totp "$b/$2.otpauth" "$b/$2.step")\"}" \
	    "$3v1/session" | python3 -c 'import json,sys
print(json.load(sys.stdin).get("token", ""))' 2>/dev/null
}

# Bootstrap user U's request METHOD PATH [BODY] to URL_ with TOKEN; the
# reply's JSON on stdout.
boot_req() {	# VB U TOKEN URL_ METHOD PATH [BODY]
	local b="$T/boot/$1" args=()
	[ -n "${7:-}" ] && args+=(-H "Content-Type: application/json" -d "$7")
	curl -s --cacert "$T/ca.pem" --cert "$b/$2.crt" --key "$b/$2.key" \
	    -H "Authorization: Bearer $3" -X "$5" "${args[@]}" "$4${6#/}"
}

# Users NAME:ROLE... of vault DIR, their keys in $T/k; the vault's CA
# certificate in $T/ca.pem. Each is proposed by cvboot-adm, approved by
# cvboot-so1 and enrolled with `clearvault enrol --server`, through a
# server of its own that is stopped again.
add_users() {	# DIR NAME:ROLE...
	local dir=$1 vb u id c pid url tadm tso rc=0
	shift
	vb=$(basename "$dir")
	mkdir -p "$T/k"
	boot_users "$dir" || return 1
	"$CV" ca-cert --dir "$dir" >"$T/ca.pem"
	env -u CLEARVAULT_GUARD_CLOCK "$CV" serve --dir "$dir" \
	    --listen 127.0.0.1:0 >"$T/boot/$vb/serve.out" \
	    2>"$T/boot/$vb/serve.err" &
	pid=$!
	for _ in $(seq 1 100); do
		url=$(sed -n 's/.*listening on \(https:[^ ]*\).*/\1/p' \
		    "$T/boot/$vb/serve.out")
		[ -n "$url" ] && break
		sleep 0.1
	done
	tadm=$(boot_login "$vb" cvboot-adm "$url")
	tso=$(boot_login "$vb" cvboot-so1 "$url")
	for u in "$@"; do
		id=$(boot_req "$vb" cvboot-adm "$tadm" "$url" POST /v1/users \
		    "{\"name\":\"${u%%:*}\",\"role\":\"${u#*:}\"}" |
		    python3 -c 'import json,sys
print(json.load(sys.stdin)["proposal"])' 2>/dev/null)
		c=$(boot_req "$vb" cvboot-so1 "$tso" "$url" POST \
		    "/v1/approvals/$id/approve" | python3 -c 'import json,sys
print(json.load(sys.stdin)["enrolment_code"])' 2>/dev/null)
		if [ -z "$c" ] || ! "$CV" enrol --server "$url" --ca "$T/ca.pem" \
		    --name "${u%%:*}" --code "$c" --out "$T/k" >/dev/null; then
			echo "add_users: ${u%%:*} failed" >&2
			rc=1
			break
		fi
	done
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return $rc
}

# Adds members to a case on the running server: the officer USER (a path
# under $T, as for req) proposes, the vault's cvboot-so1 approves. $code is
# the approval's status (200), or the proposal's when it was refused.
add_members() {	# USER TOKEN CASE BODY
	local vb id
	vb=$(basename "$SRV_DIR")
	req "$1" POST "/v1/cases/$3/members" "$4" "$2"
	[ "$code" = 202 ] || return 0
	id=$(json_field "$T/body" "d['proposal']")
	if [ "${BOOT_TOK_PID:-}" != "$SRV_PID" ]; then
		BOOT_TOK=$(boot_login "$vb" cvboot-so1 "$URL")
		BOOT_TOK_PID=$SRV_PID
	fi
	req "boot/$vb/cvboot-so1" POST "/v1/approvals/$id/approve" "" \
	    "$BOOT_TOK"
}

# Starts `serve` on a free loopback port; sets SRV_PID and URL.
start_server() {	# DIR [serve options...]
	local dir=$1
	SRV_DIR=$1
	shift
	"$CV" serve --dir "$dir" --listen 127.0.0.1:0 "$@" >"$T/serve.out" \
	    2>"$T/serve.err" &
	SRV_PID=$!
	for _ in $(seq 1 100); do
		URL=$(sed -n 's/.*listening on \(https:[^ ]*\).*/\1/p' \
		    "$T/serve.out")
		[ -n "$URL" ] && return 0
		sleep 0.1
	done
	echo "server did not start: $(cat "$T/serve.err")" >&2
	return 1
}

stop_server() {	# sets SRV_RC (a sanitizer's leak report makes it non-zero)
	kill "$SRV_PID" 2>/dev/null
	wait "$SRV_PID" 2>/dev/null
	SRV_RC=$?
}

# HTTP helpers for tests that start a server (start_server sets URL).
req() {	# USER METHOD PATH [BODY] [TOKEN]: status in $code, body in $T/body
	local who=$1 m=$2 p=$3 body=${4:-} tok=${5:-} args=()
	[ -n "$who" ] && args+=(--cert "$T/$who.crt" --key "$T/$who.key")
	[ -n "$tok" ] && args+=(-H "Authorization: Bearer $tok")
	[ -n "$body" ] && args+=(-H "Content-Type: application/json" -d "$body")
	code=$(curl -s -o "$T/body" -w '%{http_code}' --cacert "$T/ca.pem" \
	    -X "$m" "${args[@]}" "$URL${p#/}")
}
login() {	# USER [DIR]: token in $tok, the code it used in $last_code
	last_code=$(totp "$T/${2:-k}/$1.otpauth")
	req "${2:-k}/$1" POST /v1/session "{\"totp\":\"$last_code\"}"
	tok=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1])).get('token',''))" "$T/body" 2>/dev/null)
}
expect_code() {	# DESC WANT
	if [ "$code" = "$2" ]; then ok; else
		bad "$1: HTTP $code, want $2: $(head -c 300 "$T/body")"; fi
}
expect_problem() {	# DESC WANT
	expect_code "$1" "$2"
	python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['status']==int(sys.argv[2]) and d['title']" \
	    "$T/body" "$2" 2>/dev/null && ok || bad "$1: not problem+json"
}

# A TOTP code never used before: a step is accepted once per user (across
# restarts too), so take the oldest usable step after the one in STEPFILE,
# waiting for the next step when all three are used, and remember it.
fresh_totp() {	# OTPAUTH-FILE STEPFILE
	python3 - "$1" "$2" <<'PY'
import base64, hashlib, hmac, struct, sys, time
k = base64.b32decode(open(sys.argv[1]).read().split("secret=")[1].split("&")[0])
try:
    last = int(open(sys.argv[2]).read())
except OSError:
    last = -1
while True:
    t = time.time()
    now = int(t) // 30
    step = max(now - 1 if t % 30 < 20 else now, last + 1)
    if step <= now + 1:
        break
    time.sleep(30 - t % 30 + 0.2)
open(sys.argv[2], "w").write(str(step))
h = hmac.new(k, struct.pack(">Q", step), hashlib.sha1).digest()
o = h[-1] & 15
print("%06d" % ((struct.unpack(">I", h[o:o + 4])[0] & 0x7fffffff) % 1000000))
PY
}
