# Shared by the command-level tests. Each test file is one scenario run
# against the real binary ($CLEARVAULT), a real SoftHSM2 token and a real
# database, in a temporary folder removed at exit: a SQLite file, or with
# CLEARVAULT_TEST_DB=postgresql a PostgreSQL 15 cluster of the test's own
# (tests/pg.sh, in $T/pg) where every vault the test makes gets a fresh
# database. A test that sets its own exit trap ends it with cv_cleanup.
set -u
CV=${CLEARVAULT:?set CLEARVAULT to the clearvault binary}
T=$(mktemp -d "${TMPDIR:-/tmp}/cvcli.XXXXXX")
PG_SH=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/pg.sh
# Python helpers of the tests (alerts.py): sys.path.insert(0, CV_TESTLIB).
export CV_TESTLIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PSQL=/usr/lib/postgresql/15/bin/psql
cv_cleanup() {
	[ -d "$T/pg" ] && sh "$PG_SH" stop "$T/pg" >/dev/null 2>&1
	[ -n "${CV_KEEP:-}" ] || rm -rf "$T"
}
trap cv_cleanup EXIT
case ${CLEARVAULT_TEST_DB:-sqlite} in
sqlite) ;;
postgresql)
	# The postgres user runs the server from $T/pg: it must reach it.
	chmod 711 "$T"
	sh "$PG_SH" start "$T/pg" >/dev/null ||
	    { echo "FAIL: cannot start PostgreSQL" >&2; exit 1; }
	# In front of the binary: an `init` without --db gets a database of
	# its own, empty as init wants it (a refused init leaves an unused
	# one); everything else, and init itself, is the binary's own process
	# (exec: the same pid, the same /proc/PID/exe).
	mkdir "$T/pgbin"
	cat >"$T/pgbin/clearvault" <<-EOF
	#!/bin/bash
	cv=$(printf %q "$CV") pg=$(printf %q "$T/pg") me=$(printf %q "$(id -un)")
	EOF
	cat >>"$T/pgbin/clearvault" <<-'EOF'
	if [ "${1:-}" = init ]; then
		case " $* " in *" --db "*|*" --db="*) ;; *)
			shift
			db=cv$$_$(date +%s%N)
			runuser -u postgres -- /usr/lib/postgresql/15/bin/psql -X -q \
			    -h "$pg" -d postgres -v ON_ERROR_STOP=1 \
			    -c "CREATE DATABASE $db OWNER \"$me\"" >/dev/null || exit 70
			exec "$cv" init --db "postgresql:///$db?host=$pg" "$@" ;;
		esac
	fi
	exec "$cv" "$@"
	EOF
	chmod 755 "$T/pgbin/clearvault"
	CV=$T/pgbin/clearvault
	;;
*)
	echo "CLEARVAULT_TEST_DB is sqlite or postgresql" >&2
	exit 2
	;;
esac
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

# QUERY on the database of vault DIR, whichever it is: rows one a line,
# columns separated by "|" (sqlite3's and psql's unaligned output alike).
sql() {	# DIR QUERY
	local uri
	uri=$(sed -n 's/^db = //p' "$1/clearvault.conf" 2>/dev/null)
	if [ -n "$uri" ]; then
		"$PSQL" -X -q -t -A -v ON_ERROR_STOP=1 -d "$uri" -c "$2"
	else
		sqlite3 "$1/vault.db" "$2"
	fi
}

# Whether vault DIR keeps its records in PostgreSQL.
on_pg() { grep -q '^db = ' "$1/clearvault.conf" 2>/dev/null; }

# The SQL for COLUMN (a blob) in hex, in the dialect of vault DIR's database.
hex_of() {	# DIR COLUMN
	if on_pg "$1"; then echo "encode($2, 'hex')"; else echo "hex($2)"; fi
}

# The bytes of vault DIR's audit log file NAME (entries, offsets...) into
# OUT: the file in DIR/audit, or on PostgreSQL its large object.
audit_file() {	# DIR NAME OUT
	if on_pg "$1"; then
		sql "$1" "SELECT encode(lo_get(obj), 'hex') FROM cv_audit_files
		    WHERE name = '$2'" | python3 -c "import sys
sys.stdout.buffer.write(bytes.fromhex(sys.stdin.read().strip()))" >"$3"
	else
		cp "$1/audit/$2" "$3"
	fi
}

# How many records.get entries with outcome allowed vault DIR's log holds
# for record ID: one for each time the record left.
allowed_reads() {	# DIR ID
	"$CV" audit tail --dir "$1" --json -n 1000000 >"$T/allowed.log" &&
	    python3 - "$T/allowed.log" "$2" <<'PY'
import json, sys
es = [json.loads(l) for l in open(sys.argv[1])]
print(len([e for e in es if e["action"] == "records.get" and
           sys.argv[2] in e.get("records", []) and
           e["outcome"] == "allowed"]))
PY
}

# The cluster in PGDIR (stopped: every page out of shared buffers):
# its pages, its WAL and its statement log hold record id ID (so the
# search is real) and none of the SSNs listed in file SSNS.
pg_no_ssns() {	# PGDIR ID SSNS
	local where
	for where in data/base data/pg_wal log; do
		grep -r -a -q -F "$2" "$1/$where" && ok ||
		    bad "record id not in $where: the search below finds nothing"
		if grep -r -a -l -F -f "$3" "$1/$where" >"$T/leak"; then
			bad "plaintext SSNs in $where: $(head -3 "$T/leak")"
		else ok; fi
	done
}

# SQL as the cluster's superuser (CREATE DATABASE).
pg_admin() {	# SQL
	runuser -u postgres -- "$PSQL" -X -q -h "$T/pg" -d postgres \
	    -v ON_ERROR_STOP=1 -c "$1" >/dev/null
}

# A copy of vault DIR's database as it is now, kept as NAME, and later
# put back in its place: an operator's backup and restore of the database
# (of the file, its WAL folded in; on PostgreSQL a database copied from
# it, and clearvault.conf pointed at a fresh copy of that).
db_save() {	# DIR NAME
	if on_pg "$1"; then
		pg_admin "CREATE DATABASE $2 TEMPLATE $(sed -n \
		    's|^db = postgresql:///\([^?]*\).*|\1|p' "$1/clearvault.conf")"
	else
		sql "$1" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null &&
		    cp "$1/vault.db" "$T/$2.db"
	fi
}
db_restore() {	# DIR NAME
	if on_pg "$1"; then
		DB_COPIES=$((${DB_COPIES:-0} + 1))
		pg_admin "CREATE DATABASE $2_$DB_COPIES TEMPLATE $2" &&
		    sed -i "s|^db = postgresql:///[^?]*|db = postgresql:///$2_$DB_COPIES|" \
		    "$1/clearvault.conf"
	else
		cp "$T/$2.db" "$1/vault.db" &&
		    rm -f "$1/vault.db-wal" "$1/vault.db-shm"
	fi
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

# Every grant of read power takes two people: the users the tests need are
# made as the product requires (scripts/users.sh), through each vault's
# own bootstrap users in $T/boot/VAULT (VAULT: the vault folder's name).
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/users.sh"

# Users NAME:ROLE... of vault DIR, their keys in $T/k; the vault's CA
# certificate in $T/ca.pem.
add_users() {	# DIR NAME:ROLE...
	local dir=$1 rc
	shift
	mkdir -p "$T/k"
	cv_grants_begin "$dir" "$T/boot/$(basename "$dir")" "$T/ca.pem" ||
	    { cv_grants_end; return 1; }
	cv_grant_users "$T/k" "$@"
	rc=$?
	cv_grants_end
	return $rc
}

# USER's own read budgets (each SOFT/HARD), granted as the product
# requires: proposed by cvboot-adm, approved by cvboot-so1, through a
# server of the bootstrap's own (none may be running on DIR). Several
# users' in one go (one login each of the two: TOTP codes are few).
set_budget() {	# DIR USER MINUTE HOUR DAY [USER MINUTE HOUR DAY]...
	local dir=$1 b rc
	shift
	cv_grants_begin "$dir" "$T/boot/$(basename "$dir")" "$T/ca.pem"
	rc=$?
	while [ $rc -eq 0 ] && [ $# -ge 4 ]; do
		b=$(echo "$2 $3 $4" | awk '{ split($1, m, "/");
		    split($2, h, "/"); split($3, d, "/");
		    printf "[%s,%s,%s,%s,%s,%s]", m[1], h[1], d[1], m[2], h[2],
		    d[2] }')
		cv_grant "/v1/users/$1/budget" "{\"budget\":$b}" |
		    grep -q '"state":"approved"'
		rc=$?
		shift 4
	done
	cv_grants_end
	return $rc
}

# A case TITLE made by the officer USER (keys in $T/k, TOKEN) on the
# running server, the records in IDSFILE and the users MEMBER... its
# members (add_members): its id in $CASE, the approval's status in $code.
new_case() {	# USER TOKEN TITLE IDSFILE MEMBER...
	local u=$1 t=$2 title=$3 f=$4
	shift 4
	req "k/$u" POST /v1/cases "{\"title\":\"$title\"}" "$t"
	CASE=$(json_field "$T/body" "d['id']")
	add_members "k/$u" "$t" "$CASE" "$(python3 -c 'import json, sys
print(json.dumps({"users": sys.argv[2:],
    "records": open(sys.argv[1]).read().split()}))' "$f" "$@")"
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
		BOOT_TOK=$(cv_boot_login "$T/boot/$vb" "$T/ca.pem" "$URL" \
		    cvboot-so1)
		BOOT_TOK_PID=$SRV_PID
	fi
	req "boot/$vb/cvboot-so1" POST "/v1/approvals/$id/approve" "" \
	    "$BOOT_TOK"
}

# Starts `serve` on a free loopback port; sets SRV_PID and URL. Waits
# 10 s for it, times CV_WAIT_FACTOR (the Valgrind run: tests/valgrind.sh).
start_server() {	# DIR [serve options...]
	local dir=$1
	SRV_DIR=$1
	shift
	# Emptied here, not by the redirection below: that happens in the
	# child, and the loop could read a previous server's address first
	# (seen once in cli_ha and cli_metrics, on a loaded machine).
	: >"$T/serve.out"
	"$CV" serve --dir "$dir" --listen 127.0.0.1:0 "$@" >"$T/serve.out" \
	    2>"$T/serve.err" &
	SRV_PID=$!
	for _ in $(seq 1 $((100 * ${CV_WAIT_FACTOR:-1}))); do
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

# A crash of the whole server: every process of it killed at once (a
# kill -9 of the supervisor alone lets its children stop cleanly).
crash_server() {
	local kids
	kids=$(cat /proc/"$SRV_PID"/task/*/children 2>/dev/null)
	kill -9 $kids "$SRV_PID" 2>/dev/null
	wait "$SRV_PID" 2>/dev/null
}

# HTTP helpers for tests that start a server (start_server sets URL).
req() {	# USER METHOD PATH [BODY] [TOKEN]: status in $code, body in $T/body
	local who=$1 m=$2 p=$3 body=${4:-} tok=${5:-} args=()
	[ -n "$who" ] && args+=(--cert "$T/$who.crt" --key "$T/$who.key")
	[ -n "$tok" ] && args+=(-H "Authorization: Bearer $tok")
	[ -n "$body" ] && args+=(-H "Content-Type: application/json" -d "$body")
	code=$(curl -s -o "$T/body" -w '%{http_code}' --cacert "$T/ca.pem" \
	    -X "$m" "${args[@]}" "$URL${p#/}")
	if [ "$code" = 000 ]; then no_answer; fi
}
# The first request of a test that gets no HTTP answer says what the
# server was doing (a failure seen once in a full run, after a restart,
# with nothing else to go on).
no_answer() {
	[ -n "${NO_ANSWER_SAID:-}" ] && return 0
	NO_ANSWER_SAID=1
	echo "no HTTP answer from $URL (server pid ${SRV_PID:-?}:" \
	    "$(kill -0 "${SRV_PID:-0}" 2>/dev/null && echo alive ||
	    echo gone)); the end of serve.out and serve.err:" >&2
	tail -n 5 "$T/serve.out" "$T/serve.err" >&2 2>/dev/null
}
login() {	# USER [DIR]: token in $tok, the code it used in $last_code
	last_code=$(totp "$T/${2:-k}/$1.otpauth")
	req "${2:-k}/$1" POST /v1/session "{\"totp\":\"$last_code\"}"
	tok=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1])).get('token',''))" "$T/body" 2>/dev/null)
}
# A login with a TOTP step never used before (each is accepted once):
# USER, keys in $T/k. Status in $code, the token in $tok.
login_fresh() {
	local c
	c=$(fresh_totp "$T/k/$1.otpauth" "$T/k/$1.step")
	req "k/$1" POST /v1/session "{\"totp\":\"$c\"}"
	tok=$(json_field "$T/body" "d.get('token','')" 2>/dev/null)
}
# Many GETs in ONE curl process (one kept-alive connection): USER (keys
# in $T/k) TOKEN PATHS [BODYDIR]. Status codes, one a line, in $T/codes;
# with BODYDIR, each reply body in BODYDIR/1, /2, ...
batch() {
	local i=0 id=${BATCH_ID:-}	# BATCH_ID: batches at once keep apart
	[ -n "${4:-}" ] && mkdir -p "$4"
	{
		echo "cacert = \"$T/ca.pem\""
		echo "cert = \"$T/k/$1.crt\""
		echo "key = \"$T/k/$1.key\""
		echo "header = \"Authorization: Bearer $2\""
		echo 'write-out = "%{http_code}\n"'
		echo silent
		while read -r p; do
			i=$((i + 1))
			echo "url = \"$URL${p#/}\""
			echo "output = \"${4:-/dev/null}${4:+/$i}\""
		done <"$3"
	} >"$T/curl$id.cfg"
	curl -K "$T/curl$id.cfg" >"$T/codes$id"
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

fresh_totp() { cv_fresh_totp "$@"; }

# The labels of the byte strings of FILE (lines "LABEL HEX") found in the
# memory of process PID (/proc/PID/mem: run as root), on one line.
scan_mem() {	# PID FILE
	python3 - "$1" "$2" <<'PY'
import sys
pid, path = sys.argv[1], sys.argv[2]
keys = [(l.split()[0], bytes.fromhex(l.split()[1])) for l in open(path)]
found = set()
with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb") as mem:
    for line in maps:
        f = line.split()
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        if "r" not in f[1] or hi - lo > 1 << 32 or (len(f) > 5 and
            f[5] in ("[vvar]", "[vsyscall]")):
            continue
        try:
            mem.seek(lo)
            b = mem.read(hi - lo)
        except OSError:
            continue
        for label, k in keys:
            if k in b:
                found.add(label)
print(" ".join(sorted(found)))
PY
}

# Tests of several `serve` nodes on a PostgreSQL of their own (cli_nodes,
# cli_nodes_grants): nodes_begin starts it (its URI in $uri; sql QUERY
# asks it) and stops it and every node at exit; start_node N DIR
# [serve options] starts node N on DIR, its URL in U[N], its PID in
# PIDS[N].
nodes_begin() {
	chmod 711 "$T"
	PIDS=()
	U=()
	trap 'kill "${PIDS[@]}" 2>/dev/null; wait 2>/dev/null
	    sh "$PG_SH" stop "$T/pg" >/dev/null 2>&1
	    [ -n "${CV_KEEP:-}" ] || rm -rf "$T"' EXIT
	uri=$(sh "$PG_SH" start "$T/pg") || return 1
	sql() { "$PSQL" -X -q -t -A -d "$uri" -c "$1" 2>&1; }
}
start_node() {	# N DIR [serve options]
	local n=$1 dir=$2
	shift 2
	: >"$T/n$n.out"	# as in start_server
	"$CV" serve --dir "$dir" --listen 127.0.0.1:0 "$@" >"$T/n$n.out" \
	    2>"$T/n$n.err" &
	PIDS[$n]=$!
	for _ in $(seq 1 $((150 * ${CV_WAIT_FACTOR:-1}))); do
		U[$n]=$(sed -n 's/.*listening on \(https:[^ ]*\).*/\1/p' \
		    "$T/n$n.out")
		[ -n "${U[$n]}" ] && return 0
		sleep 0.1
	done
	echo "node $n did not start: $(cat "$T/n$n.err")" >&2
	return 1
}
stop_nodes() {	# N...: stopped (SIGTERM), each expected to exit 0
	for n in "$@"; do
		kill "${PIDS[$n]}"
		wait "${PIDS[$n]}"
		expect_eq "node $n stops cleanly" 0 $?
		unset "PIDS[$n]"
	done
}
