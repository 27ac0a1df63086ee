#!/bin/bash
# Issue 18, item 4: phantom canaries. The canary list was written (a file)
# before the records it named were committed: a load that died at its
# commit left ids of records that do not exist, and the next load planted
# too few. A deleted list let the server start with canaries silently
# off. Now the list is a sealed row of the database, committed with its
# records; a list that is missing, does not open or names records that
# are not there stops serve, load and canaries with an error that says
# what is wrong and how to repair it (canaries --replant).
. "$(dirname "$0")/../cli/lib.sh"

SRV_PID=
trap 'kill "$SRV_PID" 2>/dev/null; cv_cleanup' EXIT
raw() { sql "$1" "$2"; }
# Every listed canary is a record of the vault (>= MIN of them): prints
# what is wrong, if anything.
canaries_real() {	# DIR MIN
	local n=0 missing=0
	"$CV" canaries --dir "$1" >"$T/can" 2>"$T/can.err" ||
	    { echo "canaries refused: $(cat "$T/can.err")"; return 1; }
	while read -r c; do
		n=$((n + 1))
		"$CV" get --dir "$1" "$c" --section identity >/dev/null \
		    2>&1 || missing=$((missing + 1))
	done <"$T/can"
	[ "$missing" -eq 0 ] && [ "$n" -ge "$2" ] && return 0
	echo "$n canaries listed, $missing of them not records"
	return 1
}
# serve refuses to start, saying PATTERN and how to repair
serve_refused() {	# DESC DIR PATTERN
	"$CV" serve --dir "$2" --listen 127.0.0.1:0 >"$T/s.out" 2>"$T/s.err" &
	SRV_PID=$!
	for _ in $(seq 1 100); do
		grep -q "listening on" "$T/s.out" && break
		kill -0 "$SRV_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$SRV_PID" 2>/dev/null; then
		bad "$1: the server started"
		kill "$SRV_PID"
		wait "$SRV_PID" 2>/dev/null
		return
	fi
	wait "$SRV_PID" 2>/dev/null
	grep -q -- "$3" "$T/s.err" && grep -q -- "--replant" "$T/s.err" &&
	    ok || bad "$1: $(head -c 400 "$T/s.err")"
}
serve_starts() {	# DESC DIR
	start_server "$2" && ok || { bad "$1"; return; }
	stop_server
}

"$CV" gen --count 1000 --seed 31 >"$T/one.jsonl"
"$CV" gen --count 1000 --seed 32 >"$T/two.jsonl"
"$CV" gen --count 1000 --seed 33 >"$T/three.jsonl"

# ---- a load that fails at its commit leaves no canary behind ----------
"$CV" init --dir "$T/v" 2>/dev/null
CLEARVAULT_FAULT=load.commit:1 "$CV" load --dir "$T/v" --quiet \
    "$T/one.jsonl" 2>/dev/null
[ $? -ne 0 ] && ok || bad "the injected fault did not fail the load"
expect_ok "the next load" "$CV" load --dir "$T/v" "$T/two.jsonl"
grep -q "and 50 canaries" "$T/err" && ok ||
    bad "the next load plants the full 50: $(cat "$T/err")"
why=$(canaries_real "$T/v" 50) && ok || bad "after a failed load: $why"

# ---- a restored backup: the list comes back with its records ----------
db_save "$T/v" backup
expect_ok "a third load" "$CV" load --dir "$T/v" --canaries 20 \
    --quiet "$T/three.jsonl"
db_restore "$T/v" backup
why=$(canaries_real "$T/v" 50) && ok || bad "after a restore: $why"
serve_starts "serve after a restore" "$T/v"

# ---- the list deleted ---------------------------------------------------
db_save "$T/v" good
rm -f "$T/v/canaries"
raw "$T/v" "DELETE FROM canary_list" 2>/dev/null
serve_refused "serve without the list" "$T/v" "canary list is missing"
expect_fail "load without the list" "canary list is missing" \
    "$CV" load --dir "$T/v" "$T/three.jsonl"
expect_fail "listing without the list" "canary list is missing" \
    "$CV" canaries --dir "$T/v"
expect_ok "replant" "$CV" canaries --dir "$T/v" --replant
grep -q "planted 50" "$T/err" && ok || bad "replanted: $(cat "$T/err")"
why=$(canaries_real "$T/v" 50) && ok || bad "after a replant: $why"
serve_starts "serve after a replant" "$T/v"

# ---- a listed canary that is not a record ------------------------------
db_restore "$T/v" good
c=$("$CV" canaries --dir "$T/v" | head -1)
raw "$T/v" "DELETE FROM deks WHERE rid = '$c'; DELETE FROM records WHERE rid = '$c'"
serve_refused "serve with a phantom canary" "$T/v" \
    "names 1 records that are not in the vault"
expect_fail "load with a phantom canary" "names 1 records" \
    "$CV" load --dir "$T/v" "$T/three.jsonl"
expect_ok "replant" "$CV" canaries --dir "$T/v" --replant
grep -q "dropped 1 listed canaries without a record, planted 1" "$T/err" &&
    ok || bad "replant of one: $(cat "$T/err")"
why=$(canaries_real "$T/v" 50) && ok || bad "after the replant: $why"

# ---- a list that does not open -----------------------------------------
zeros="zeroblob(100)"
on_pg "$T/v" && zeros="decode(repeat('00', 100), 'hex')"
raw "$T/v" "UPDATE canary_list SET sealed = $zeros" 2>/dev/null
echo garbage >"$T/v/canaries"	# and the file of an older vault
serve_refused "serve with a forged list" "$T/v" "does not open"
expect_ok "replant" "$CV" canaries --dir "$T/v" --replant
why=$(canaries_real "$T/v" 50) && ok || bad "after the replant: $why"
serve_starts "serve after the last replant" "$T/v"
"$CV" audit tail --dir "$T/v" -n 1000 --json >"$T/log"
# On PostgreSQL the log is in the database, which db_restore rolled back
# to before the first replant: that entry went with it.
n=3
on_pg "$T/v" && n=2
expect_eq "every replant is on the log" $n \
    "$(grep -c '"action":"canaries.replant"' "$T/log")"
finish
