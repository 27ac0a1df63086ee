# Sourced (POSIX sh) by the demo, the benchmarks and the tests: users made the
# way the product requires, two people for every grant of read power.
#
# A vault gets three bootstrap users of its own, made by the operator while
# it has fewer than two security officers: cvboot-adm proposes, cvboot-so1
# approves, cvboot-so2 is the second officer that approvals need. Their
# keys are made by `clearvault enrol` in the folder BOOT. Everyone else is
# proposed by cvboot-adm, approved by cvboot-so1 and enrolled with
# `clearvault enrol --server`, through a server of its own.
#
# Needs CV (the clearvault binary). CVB_ADM, CVB_SO and CVB_SO2 rename the
# bootstrap users (the demo calls them admin, security_officer, officer2).

# A TOTP code never used before: a step is accepted once per user (across
# restarts too), so take the oldest usable step after the one in STEPFILE,
# waiting for the next step when all three are used, and remember it.
cv_fresh_totp() {	# OTPAUTH-FILE STEPFILE
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

cv_boot_users() {	# DIR BOOT
	local u c
	[ -f "$2/done" ] && return 0
	mkdir -p "$2"
	for u in "${CVB_ADM:-cvboot-adm}:admin" \
	    "${CVB_SO:-cvboot-so1}:security_officer" \
	    "${CVB_SO2:-cvboot-so2}:security_officer"; do
		c=$("$CV" user add --dir "$1" "${u%%:*}" --role "${u#*:}" |
		    sed -n 's/.*enrolment code \([A-Z0-9-]*\).*/\1/p')
		[ -n "$c" ] && "$CV" enrol --dir "$1" --name "${u%%:*}" \
		    --code "$c" --out "$2" >"$2/${u%%:*}.enrol" || return 1
	done
	: >"$2/done"
}

# Bootstrap user U's request to the server at URL with TOKEN (none for a
# login); the reply's JSON on stdout.
cv_boot_req() {	# BOOT CA URL U TOKEN METHOD PATH [BODY]
	if [ -n "${8:-}" ]; then
		curl -s --cacert "$2" --cert "$1/$4.crt" --key "$1/$4.key" \
		    ${5:+-H "Authorization: Bearer $5"} -X "$6" \
		    -H "Content-Type: application/json" -d "$8" "$3${7#/}"
	else
		curl -s --cacert "$2" --cert "$1/$4.crt" --key "$1/$4.key" \
		    ${5:+-H "Authorization: Bearer $5"} -X "$6" "$3${7#/}"
	fi
}

# A session of bootstrap user U: the token on stdout.
cv_boot_login() {	# BOOT CA URL U
	cv_boot_req "$1" "$2" "$3" "$4" "" POST /v1/session \
	    "{\"totp\":\"$(cv_fresh_totp "$1/$4.otpauth" "$1/$4.step")\"}" |
	    python3 -c 'import json,sys
print(json.load(sys.stdin).get("token", ""))' 2>/dev/null
}

# Starts a server of the bootstrap's own on DIR and logs in cvboot-adm and
# cvboot-so1: CVB_PID, CVB_URL, CVB_TADM, CVB_TSO. cv_grants_end stops it.
cv_grants_begin() {	# DIR BOOT CA
	CVB_DIR=$1 CVB_BOOT=$2 CVB_CA=$3 CVB_URL=
	cv_boot_users "$1" "$2" || return 1
	"$CV" ca-cert --dir "$1" >"$3"
	: >"$2/serve.out"	# not the child's redirection: see lib.sh
	env -u CLEARVAULT_GUARD_CLOCK "$CV" serve --dir "$1" \
	    --listen 127.0.0.1:0 >"$2/serve.out" 2>"$2/serve.err" &
	CVB_PID=$!
	for _ in $(seq 1 $((100 * ${CV_WAIT_FACTOR:-1}))); do
		CVB_URL=$(sed -n 's/.*listening on \(https:[^ ]*\).*/\1/p' \
		    "$2/serve.out")
		[ -n "$CVB_URL" ] && break
		sleep 0.1
	done
	[ -n "$CVB_URL" ] || return 1
	CVB_TADM=$(cv_boot_login "$2" "$3" "$CVB_URL" "${CVB_ADM:-cvboot-adm}")
	CVB_TSO=$(cv_boot_login "$2" "$3" "$CVB_URL" "${CVB_SO:-cvboot-so1}")
}

cv_grants_end() {	# (nothing to stop when begin failed before the server)
	[ -n "${CVB_PID:-}" ] || return 0
	kill "$CVB_PID" 2>/dev/null
	wait "$CVB_PID" 2>/dev/null
	CVB_PID=
}

# cvboot-adm proposes (POST PATH BODY), cvboot-so1 approves: the
# approval's JSON on stdout.
cv_grant() {	# PATH BODY
	local id
	id=$(cv_boot_req "$CVB_BOOT" "$CVB_CA" "$CVB_URL" \
	    "${CVB_ADM:-cvboot-adm}" "$CVB_TADM" POST "$1" "$2" |
	    python3 -c 'import json,sys
print(json.load(sys.stdin)["proposal"])' 2>/dev/null) || return 1
	cv_boot_req "$CVB_BOOT" "$CVB_CA" "$CVB_URL" "${CVB_SO:-cvboot-so1}" \
	    "$CVB_TSO" POST "/v1/approvals/$id/approve"
}

# Users NAME:ROLE..., granted and enrolled: their keys, certificates and
# TOTP secrets in KEYS. Between cv_grants_begin and cv_grants_end.
cv_grant_users() {	# KEYS NAME:ROLE...
	local keys=$1 u c
	shift
	for u in "$@"; do
		c=$(cv_grant /v1/users \
		    "{\"name\":\"${u%%:*}\",\"role\":\"${u#*:}\"}" |
		    python3 -c 'import json,sys
print(json.load(sys.stdin)["enrolment_code"])' 2>/dev/null)
		if [ -z "$c" ] || ! "$CV" enrol --server "$CVB_URL" \
		    --ca "$CVB_CA" --name "${u%%:*}" --code "$c" \
		    --out "$keys" >/dev/null; then
			echo "clearvault: granting ${u%%:*} failed" >&2
			return 1
		fi
	done
}
