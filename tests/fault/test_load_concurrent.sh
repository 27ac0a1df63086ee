#!/bin/bash
# Issue 18, item 7: a long `clearvault load` next to a running server.
# Before the fix the load held SQLite's write lock for its whole run:
# logins (which record the TOTP step used) waited up to the 10 s busy
# timeout and failed "database is locked", and reads queued behind them
# for the server's few worker threads. Now the loader commits in short
# batches: every login and read during a 100k-record load answers in
# under 2 s and none fails.
. "$(dirname "$0")/../cli/lib.sh"

SRV_PID= LOAD_PID=
trap 'kill "$SRV_PID" "$LOAD_PID" 2>/dev/null; cv_cleanup' EXIT
LIMIT=2.0
N=${CV_FAULT_LOAD_RECORDS:-100000}
USERS="i1 i2 i3 i4 i5 i6 i7 i8"

make_vault v 100 || { bad "setup"; finish; exit 1; }
"$CV" gen --count "$N" --seed 9 >"$T/big.jsonl"
ul=()
for u in $USERS; do ul+=("$u:investigator"); done
add_users "$T/v" so:security_officer "${ul[@]}" ||
    { bad "users"; finish; exit 1; }
start_server "$T/v" || { bad "server start"; finish; exit 1; }

code() { fresh_totp "$T/k/$1.otpauth" "$T/k/$1.step"; }
login_as() {	# USER: token in $tok
	req "k/$1" POST /v1/session "{\"totp\":\"$(code "$1")\"}"
	tok=$(json_field "$T/body" "d.get('token','')" 2>/dev/null)
}
login_as so
t_so=$tok
req k/so POST /v1/cases '{"title":"concurrent load"}' "$t_so"
CASE=$(json_field "$T/body" "d['id']")
R=$(head -1 "$T/v.jsonl" | cut -c8-26)
add_members k/so "$t_so" "$CASE" \
    "{\"users\":$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))' \
    $USERS),\"records\":[\"$R\"]}"
expect_code "case with the readers" 200
for u in $USERS; do
	login_as "$u"
	eval "t_$u=\$tok"
done

# timed USER WHAT METHOD PATH [BODY] [TOKEN]: one request, its status and
# seconds appended to $T/times
timed() {
	local who=$1 what=$2 m=$3 p=$4 body=${5:-} t=${6:-} args=()
	[ -n "$t" ] && args+=(-H "Authorization: Bearer $t")
	[ -n "$body" ] && args+=(-H "Content-Type: application/json" \
	    -d "$body")
	curl -s -o "$T/body" -w "$what %{http_code} %{time_total}\n" \
	    --max-time 30 --cacert "$T/ca.pem" --cert "$T/k/$who.crt" \
	    --key "$T/k/$who.key" -X "$m" "${args[@]}" "$URL${p#/}" \
	    >>"$T/times"
}

: >"$T/times"
"$CV" load --dir "$T/v" --quiet "$T/big.jsonl" 2>"$T/load.err" &
LOAD_PID=$!
sleep 0.3
# While the load runs: a login (two per user at most, so that no TOTP
# step has to be waited for), a session check and a record read a round.
i=0 logins=0
while kill -0 "$LOAD_PID" 2>/dev/null; do
	set -- $USERS
	shift $((i % 8))
	u=$1
	if [ "$logins" -lt 16 ]; then
		timed "$u" login POST /v1/session \
		    "{\"totp\":\"$(code "$u")\"}"
		logins=$((logins + 1))
	fi
	eval "t=\$t_$u"
	timed "$u" session GET /v1/session "" "$t"
	timed "$u" read GET "/v1/records/$R?purpose=$CASE" "" "$t"
	i=$((i + 1))
	sleep 0.2
done
wait "$LOAD_PID"
expect_eq "the load succeeded ($(tail -c 300 "$T/load.err"))" 0 $?
LOAD_PID=
"$CV" get --dir "$T/v" "$(tail -1 "$T/big.jsonl" | cut -c8-26)" \
    >/dev/null 2>&1 && ok || bad "the load's last record is stored"

echo "during the load: $(grep -c . "$T/times") requests," \
    "$(grep -c '^login' "$T/times") logins; slowest:"
sort -k3 -g -r "$T/times" | head -3
[ "$(grep -c '^login' "$T/times")" -ge 4 ] && ok ||
    bad "too few logins while the load ran"
[ "$(grep -c '^read' "$T/times")" -ge 4 ] && ok ||
    bad "too few reads while the load ran"
awk -v lim="$LIMIT" '
	$1 == "login" && $2 != 201 { print "login failed: " $0; bad = 1 }
	$1 != "login" && $2 != 200 { print $1 " failed: " $0; bad = 1 }
	$3 + 0 >= lim { print "slower than " lim " s: " $0; bad = 1 }
	END { exit bad }' "$T/times" >"$T/slow" && ok ||
    bad "logins and reads during the load: $(head -5 "$T/slow")"
stop_server
expect_eq "server exit status" 0 "$SRV_RC"
finish
