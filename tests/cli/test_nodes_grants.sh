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
expect_ok "load" "$CV" load --dir "$T/v" --quiet --canaries 0 "$T/v.jsonl"
# Sessions that may read far more than 20 records a TOTP proof (else no
# session budget ever leaves room for a grant: the last 32 records of any
# budget are decided one by one).
printf '%s\n' "probation_days = 0" "session_records = 100000" \
    >>"$T/v/clearvault.conf"
add_users "$T/v" so:security_officer big:investigator ||
    { bad "users"; finish; exit 1; }
# A day of 150 records; minutes and hours that do not stop it first.
set_budget "$T/v" big 100000/100000 100000/100000 150/150 && ok ||
    bad "big's budget"
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
req k/so POST /v1/cases '{"title":"grants"}' "$t_so"
CASE=$(json_field "$T/body" "d['id']")
cut -c8-26 "$T/v.jsonl" | sed -n 1,300p >"$T/case.ids"
add_members k/so "$t_so" "$CASE" "{\"users\":[\"big\"],\
\"records\":$(python3 -c "import json,sys; print(json.dumps(open(sys.argv[1]).read().split()))" "$T/case.ids")}"
expect_code "a case of 300 records" 200
login_fresh big
expect_code "login big" 201
t_big=$tok
sed -n 1,150p "$T/case.ids" | sed "s|^|/v1/records/|; s|\$|?purpose=$CASE|" \
    >"$T/p1"
sed -n 151,300p "$T/case.ids" | sed "s|^|/v1/records/|; s|\$|?purpose=$CASE|" \
    >"$T/p2"
L=$(wc -l <"$T/pg/log")
# 300 new records at once over the two nodes, one connection each.
( URL=${U[1]}; batch big "$t_big" "$T/p1"; cp "$T/codes" "$T/codes1" ) &
w1=$!
URL=${U[2]}
{
	echo "cacert = \"$T/ca.pem\""
	echo "cert = \"$T/k/big.crt\""
	echo "key = \"$T/k/big.key\""
	echo "header = \"Authorization: Bearer $t_big\""
	echo 'write-out = "%{http_code}\n"'
	echo silent
	while read -r p; do
		echo "url = \"$URL${p#/}\""
		echo "output = \"/dev/null\""
	done <"$T/p2"
} >"$T/curl2.cfg"
curl -K "$T/curl2.cfg" >"$T/codes2"
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
# Stopped, the nodes give their grants back with what they let out: the
# database's count of big's day is exactly what left.
stop_nodes 1 2
PIDS=()
expect_eq "no grant left" 0 "$(sql "SELECT count(*) FROM guard_grants")"
expect_eq "the vault's grants all back" 0 \
    "$(sql "SELECT g FROM guard_vault_grants")"
expect_eq "big's day in the database: what left" "$ok200" \
    "$(sql "SELECT n[3] FROM guard_user_counts WHERE u = 'big'")"
expect_eq "and each record once" "$ok200" \
    "$(sql "SELECT count(*) FROM guard_user_reads WHERE u = 'big'")"
finish
