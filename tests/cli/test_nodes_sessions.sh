#!/bin/bash
# Two sessions of one user on one PostgreSQL node, both reading under
# grants of the shared guard at once (src/api/grants.c): a grant is the
# node's for the user and is given back in the name of the session that
# took it, so each session's budget counts exactly its own records. Were
# one session's records given back in the other's name, one would be
# refused early and the other let out more than its budget.
. "$(dirname "$0")/lib.sh"
nodes_begin || { bad "start PostgreSQL"; finish; exit 1; }
count() { grep -c "^$1\$" "$2"; }

"$CV" gen --count 200 --seed 17 >"$T/v.jsonl"
expect_ok "init" "$CV" init --dir "$T/v" --db "$uri"
expect_ok "load" "$CV" load --dir "$T/v" --quiet "$T/v.jsonl"
# 80 records a TOTP proof: room for grants (the last 32 of a budget are
# decided one by one), and the windows far away.
printf '%s\n' "probation_days = 0" "session_records = 80" \
    >>"$T/v/clearvault.conf"
add_users "$T/v" so:security_officer dup:investigator ||
    { bad "users"; finish; exit 1; }
set_budget "$T/v" dup 100000/100000 100000/100000 100000/100000 && ok ||
    bad "budget"
start_node 1 "$T/v" --threads 4 --rate 0 || { bad "node"; finish; exit 1; }
URL=${U[1]}
SRV_DIR=$T/v SRV_PID=${PIDS[1]}
login so
cut -c8-26 "$T/v.jsonl" | grep -vxFf <("$CV" canaries --dir "$T/v") \
    >"$T/case.ids"
new_case so "$tok" twice "$T/case.ids" dup
expect_code "a case" 200
login_fresh dup
expect_code "session A" 201
tA=$tok
login_fresh dup
expect_code "session B" 201
tB=$tok
paths() {	# FIRST LAST OUT: the case's records FIRST..LAST as GETs
	sed -n "$1,$2p" "$T/case.ids" |
	    sed "s|^|/v1/records/|; s|\$|?purpose=$CASE|" >"$3"
}
L=$(wc -l <"$T/pg/log")
# A reads ten under a grant, B one right after (A's grant still live on
# the node), then both at once: A 50 more, B 69 more, each within its 80.
paths 1 10 "$T/pA"
paths 11 11 "$T/pB"
BATCH_ID=1 batch dup "$tA" "$T/pA"
BATCH_ID=2 batch dup "$tB" "$T/pB"
cat "$T/codes1" "$T/codes2" >"$T/codes0"
paths 12 61 "$T/pA"
paths 62 130 "$T/pB"
( BATCH_ID=1; batch dup "$tA" "$T/pA" ) &
w=$!
BATCH_ID=2 batch dup "$tB" "$T/pB"
wait $w
cat "$T/codes0" >>"$T/codes1"
takes=$(tail -n +"$L" "$T/pg/log" | grep -c "cv_guard_take(")
echo "# sessions A and B: $(cat "$T/codes1" "$T/codes2" | grep -c '^200$') let out, $takes questions" >&2
expect_eq "sessions A and B: all 130" 130 \
    "$(cat "$T/codes1" "$T/codes2" | grep -c '^200$')"
[ "$takes" -lt 130 ] && ok || bad "$takes questions for 130 reads: no grant"
# Then each is held to its own budget, exactly: A has 20 left, B 10.
# (One refusal each: every read past a step-up adds to the user's
# behaviour score, and ten lock the user, every session with it.)
paths 131 151 "$T/pA2"
paths 152 162 "$T/pB2"
BATCH_ID=1 batch dup "$tA" "$T/pA2"
BATCH_ID=2 batch dup "$tB" "$T/pB2"
expect_eq "session A: 20 more of 21" 20 "$(count 200 "$T/codes1")"
expect_eq "session B: 10 more of 11" 10 "$(count 200 "$T/codes2")"
expect_eq "the last of each: a step-up" 2 \
    "$(cat "$T/codes1" "$T/codes2" | grep -c '^403$')"
stop_nodes 1
PIDS=()
expect_eq "no grant left" 0 "$(sql "SELECT count(*) FROM guard_grants")"
expect_eq "each session's count in the database" 80,80 \
    "$(sql "SELECT string_agg(n::text, ',') FROM guard_session_counts")"
expect_eq "both sessions' records" 160 \
    "$(sql "SELECT count(*) FROM guard_session_reads")"
finish
