#!/bin/bash
# Grants of the shared guard through two `serve` nodes (src/api/grants.c):
# a reader whose budgets are far from spent reads without a question to
# the database at every record (each node asks for a grant, lets records
# out under it, gives it back with what it let out), and still the two
# nodes together let out no more than the reader's day budget, and the
# database's count, once the nodes have stopped, is exactly what left.
. "$(dirname "$0")/lib.sh"
nodes_begin || { bad "start PostgreSQL"; finish; exit 1; }
count() { grep -c "^$1\$" "$2"; }

"$CV" gen --count 400 --seed 13 >"$T/v.jsonl"
expect_ok "init" "$CV" init --dir "$T/v" --db "$uri"
expect_ok "load" "$CV" load --dir "$T/v" --quiet "$T/v.jsonl"
"$CV" canaries --dir "$T/v" >"$T/canaries"
CANARY=$(sed -n 2p "$T/canaries")
# Sessions that may read far more than 20 records a TOTP proof (else no
# session budget ever leaves room for a grant: the last 32 records of any
# budget are decided one by one).
printf '%s\n' "probation_days = 0" "session_records = 100000" \
    >>"$T/v/clearvault.conf"
add_users "$T/v" so:security_officer big:investigator big2:investigator \
    big3:investigator ||
    { bad "users"; finish; exit 1; }
# A day of 150 records (big2: 1,000); minutes and hours that do not
# stop it first.
set_budget "$T/v" big 100000/100000 100000/100000 150/150 \
    big2 100000/100000 100000/100000 1000/1000 \
    big3 100000/100000 100000/100000 1000/1000 && ok || bad "budgets"
cp -a "$T/v" "$T/v2"
rm -f "$T/v2/serve.lock"
for n in 1 2; do
	start_node $n "$T/v${n#1}" --threads 4 --rate 0 ||
	    { bad "node $n"; finish; exit 1; }
done
URL=${U[1]}
SRV_DIR=$T/v SRV_PID=${PIDS[1]}
login so
t_so=$tok
cut -c8-26 "$T/v.jsonl" | sed -n 1,300p >"$T/case.ids"
new_case so "$t_so" grants "$T/case.ids" big big3
expect_code "a case of 300 records" 200
GRANTS_CASE=$CASE
login_fresh big
expect_code "login big" 201
t_big=$tok
sed -n 1,150p "$T/case.ids" | sed "s|^|/v1/records/|; s|\$|?purpose=$CASE|" \
    >"$T/p1"
sed -n 151,300p "$T/case.ids" | sed "s|^|/v1/records/|; s|\$|?purpose=$CASE|" \
    >"$T/p2"
L=$(wc -l <"$T/pg/log")
# 300 new records at once over the two nodes, one connection each.
( URL=${U[1]} BATCH_ID=1; batch big "$t_big" "$T/p1" ) &
w1=$!
URL=${U[2]} BATCH_ID=2 batch big "$t_big" "$T/p2"
wait $w1
cat "$T/codes1" "$T/codes2" >"$T/codes"
ok200=$(count 200 "$T/codes")
other=$(grep -vc '^200$' "$T/codes")
takes=$(tail -n +"$L" "$T/pg/log" | grep -c "cv_guard_take(")
echo "# $ok200 of 300 let out ($(count 200 "$T/codes1") on node 1), $takes questions to the database" >&2
[ "$ok200" -le 150 ] && ok || bad "two nodes let out $ok200 of a day of 150"
[ "$ok200" -ge 100 ] && ok || bad "only $ok200 of a day of 150 let out"
[ "$((ok200 + other))" -eq 300 ] && ok || bad "answers: $ok200 + $other"
# The rest: a step-up asked (403), then the session waits for it (401).
expect_eq "the rest refused, none failed" "$other" \
    "$(grep -c '^40[13]$' "$T/codes")"
[ "$takes" -lt "$((ok200 / 2))" ] && ok ||
    bad "$takes questions to the database for $ok200 records: no grants"
# A lock on node 2 stops reads under node 1's grant within a second (its
# lease, 0.5 s, and the session's end): big2 reads on node 1 (a grant),
# reads a canary on node 2, and reads on at node 1 until refused.
login_fresh big2
expect_code "login big2" 201
t_big2=$tok
{ sed -n 301,400p "$T/v.jsonl" | cut -c8-26; echo "$CANARY"; } >"$T/case2.ids"
URL=${U[1]}
new_case so "$t_so" lease "$T/case2.ids" big2
expect_code "a case for big2" 200
CASE2=$CASE
rd2() {	# NODE RID
	URL=${U[$1]}
	req k/big2 GET "/v1/records/$2?purpose=$CASE2" "" "$t_big2"
}
for i in 1 2 3; do rd2 1 "$(sed -n ${i}p "$T/case2.ids")"; done
expect_code "big2 reads on node 1" 200
rd2 2 "$CANARY"
expect_code "the canary on node 2" 200
t0=$(date +%s.%N)
n=0
for i in $(seq 4 60); do
	rd2 1 "$(sed -n ${i}p "$T/case2.ids")"
	[ "$code" = 200 ] || break
	n=$((n + 1))
done
el=$(echo "$(date +%s.%N) - $t0" | bc)
echo "# node 1 refused big2 ${el%???????} s after the canary ($n reads let out before)" >&2
case $code in 401|403) ok ;; *) bad "big2 on node 1 after the lock: HTTP $code" ;; esac
awk -v e="$el" 'BEGIN { exit !(e < 1) }' && ok ||
    bad "the lock took $el s to reach node 1 under its grant"

# A question that fails (the guard's table gone from under the function)
# gives nothing back: what node 1 let out under its grant is counted
# once the database answers again (by the next question or the tick),
# not dropped with the failed question.
login_fresh big3
expect_code "login big3" 201
t_big3=$tok
rd3() {	# LINE of case.ids, on node 1
	URL=${U[1]}
	req k/big3 GET "/v1/records/$(sed -n "$1p" "$T/case.ids")?purpose=$GRANTS_CASE" \
	    "" "$t_big3"
}
n3=0
L=$(wc -l <"$T/pg/log")
for i in $(seq 1 10); do
	rd3 "$i"
	[ "$code" = 200 ] && n3=$((n3 + 1))
done
expect_eq "big3's ten" 10 "$n3"
takes=$(tail -n +"$L" "$T/pg/log" | grep -c "cv_guard_take(")
[ "$takes" -le 2 ] && ok || bad "big3's ten asked $takes times: no grant"
# Read again: answered, and counted once in the database (below). That a
# grant counts a re-read once is tests/unit/api/test_grants.c's.
again=0
for i in 3 1 10 3; do
	rd3 "$i"
	[ "$code" = 200 ] && again=$((again + 1))
done
expect_eq "big3's re-reads" 4 "$again"
sql "ALTER TABLE guard_user_counts RENAME TO guard_user_counts_gone" >/dev/null
sleep 0.7	# the grant's lease over: the next read asks
rd3 11
[ "${code:0:1}" = 5 ] && ok || bad "a read with the count gone: HTTP $code"
# and the tick (once a second) tries to give it back: 1.5 s, longer
# under Valgrind (CV_WAIT_FACTOR), where a tick can take longer
tried="cannot give back 1 grant of the shared guard (tried again)"
for _ in $(seq 1 $((15 * ${CV_WAIT_FACTOR:-1}))); do
	grep -q "$tried" "$T/n1.err" && break
	sleep 0.1
done
grep -q "$tried" "$T/n1.err" && ok || bad "node 1's tick did not try: $(cat "$T/n1.err")"
sql "ALTER TABLE guard_user_counts_gone RENAME TO guard_user_counts" >/dev/null
rd3 12
expect_code "big3 reads again, the count back" 200
[ "$code" = 200 ] && n3=$((n3 + 1))

# Stopped, the nodes give their grants back with what they let out: the
# database's count of big's day is exactly what left.
stop_nodes 1 2
PIDS=()
expect_eq "no grant left" 0 "$(sql "SELECT count(*) FROM guard_grants")"
expect_eq "the vault's grants all back" 0 \
    "$(sql "SELECT sum(g) FROM guard_vault_sums")"
expect_eq "big's day in the database: what left" "$ok200" \
    "$(sql "SELECT n[3] FROM guard_user_counts WHERE u = 'big'")"
expect_eq "and each record once" "$ok200" \
    "$(sql "SELECT count(*) FROM guard_user_reads WHERE u = 'big'")"
expect_eq "big3's records through the failed question: all counted" "$n3" \
    "$(sql "SELECT count(*) FROM guard_user_reads WHERE u = 'big3'")"
expect_eq "big3's day: each record once, re-read or not" "$n3" \
    "$(sql "SELECT n[3] FROM guard_user_counts WHERE u = 'big3'")"
finish
