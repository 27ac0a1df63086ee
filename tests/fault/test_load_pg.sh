#!/bin/bash
# Issue 13: a load into PostgreSQL goes through COPY (binary), a COPY
# into records and one into deks per batch of 256 records, with the
# all-or-nothing rule of a load into SQLite (test_load_kill.sh): a bad
# record without a reject file stores nothing, a load killed after one of
# its short transactions leaves nothing visible and the next command
# settles it (rolled back, rows and keys gone), a rerun stores it all.
# Records that exist (new versions) fall back to one statement each;
# rotate rewraps in batches that each commit, and resumes. The
# server's log (every statement, tests/pg.sh) shows the COPY and no
# per-record insert, and no SSN of the input reaches the cluster's files,
# WAL or log. CLEARVAULT_FAULT needs -Dtest_hooks=true.
. "$(dirname "$0")/../cli/lib.sh"
PG_SH=$(cd "$(dirname "$0")/.." && pwd)/pg.sh
PSQL=/usr/lib/postgresql/15/bin/psql
chmod 711 "$T"
trap 'sh "$PG_SH" stop "$T/pg" >/dev/null 2>&1; rm -rf "$T"' EXIT
uri=$(sh "$PG_SH" start "$T/pg") || { bad "start PostgreSQL"; finish; exit 1; }
base=${uri%%\?*}
opts=${uri#*\?}
newdb() {	# NAME: a fresh database on the cluster, its URI
	runuser -u postgres -- "$PSQL" -X -q -h "$T/pg" -d postgres \
	    -c "CREATE DATABASE $1 OWNER \"$(id -un)\"" >/dev/null ||
	    bad "create database $1"
	echo "postgresql:///$1?$opts"
}
sql() { "$PSQL" -X -q -t -A -d "$1" -c "$2" 2>&1; }
killed() { ("$@"; exit $?) 2>/dev/null; }
entry() {	# DIR ACTION: the reason of the last entry of ACTION
	"$CV" audit tail --dir "$1" --json -n 1000 |
	    python3 -c 'import json,sys
r = [json.loads(l) for l in sys.stdin]
print([e["reason"] for e in r if e["action"] == sys.argv[1]][-1])' "$2"
}
[ "$base" = "postgresql:///clearvault" ] || bad "tests/pg.sh's URI: $uri"

N=3000
"$CV" gen --count "$N" --seed 23 >"$T/in.jsonl"
grep -o '"ssn":"[0-9-]*"' "$T/in.jsonl" | cut -d'"' -f4 >"$T/ssns"
first=$(head -1 "$T/in.jsonl" | cut -c8-26)
last=$(tail -1 "$T/in.jsonl" | cut -c8-26)

# ---- a load through COPY ----------------------------------------------
u=$(newdb cv_a)
"$CV" init --dir "$T/a" --db "$u" 2>/dev/null || bad "init a"
before=$(wc -l <"$T/pg/log")
expect_ok "load" "$CV" load --dir "$T/a" --canaries 0 "$T/in.jsonl"
grep -q "stored $N records (0 new versions)" "$T/err" && ok ||
    bad "load: $(cat "$T/err")"
tail -n +"$((before + 1))" "$T/pg/log" >"$T/loadlog"
grep -q "COPY records(id, rid, version, ssn_bi, name_bi, body, load) FROM STDIN (FORMAT binary)" "$T/loadlog" &&
    grep -q "COPY deks(rec, rid, gen, wdek) FROM STDIN (FORMAT binary)" \
    "$T/loadlog" && ok || bad "the load did not COPY"
# A COPY per batch of 256 for each table, no insert of a record.
copies=$(grep -c "COPY records" "$T/loadlog")
[ "$copies" -ge $((N / 256)) ] && [ "$copies" -le $((N / 256 + 2)) ] && ok ||
    bad "$copies COPYs for $N records"
expect_eq "no INSERT of a record" 0 "$(grep -c "INSERT INTO records" "$T/loadlog")"
expect_eq "records and keys" "$N $N" \
    "$(sql "$u" "SELECT count(*) FROM records") $(sql "$u" "SELECT count(*) FROM deks")"
expect_ok "get the first" "$CV" get --dir "$T/a" "$first"
grep -qF "$(head -1 "$T/ssns")" "$T/out" && ok || bad "get: $(head -c 300 "$T/out")"
expect_ok "get the last" "$CV" get --dir "$T/a" "$last"
expect_ok "find" "$CV" find --dir "$T/a" --ssn "$(sed -n 1000p "$T/ssns")"
expect_eq "found" "$(sed -n 1000p "$T/in.jsonl" | cut -c8-26)" "$(cat "$T/out")"
# In input order: the rows' ids follow the lines.
expect_eq "ids in input order" "1 $N" \
    "$(sql "$u" "SELECT id FROM records WHERE rid = '$first'") $(sql "$u" "SELECT id FROM records WHERE rid = '$last'")"

# New versions: rids that exist, one statement each (the fallback).
head -600 "$T/in.jsonl" >"$T/few.jsonl"
expect_ok "new versions" "$CV" load --dir "$T/a" --new-version \
    --canaries 0 "$T/few.jsonl"
grep -q "stored 600 records (600 new versions)" "$T/err" && ok ||
    bad "new versions: $(cat "$T/err")"
expect_ok "get a new version" "$CV" get --dir "$T/a" "$first" \
    --section identity
expect_eq "version 2" 2 "$(json_field "$T/out" "d['_meta']['version']")"
# The same record twice in one input, among new ones: the second is a
# new version of the first, within the load.
"$CV" gen --count 300 --seed 24 >"$T/dup.jsonl"
sed -n 5p "$T/dup.jsonl" >>"$T/dup.jsonl"
dup=$(sed -n 5p "$T/dup.jsonl" | cut -c8-26)
expect_ok "a record twice" "$CV" load --dir "$T/a" --canaries 0 "$T/dup.jsonl"
grep -q "stored 301 records (1 new versions)" "$T/err" && ok ||
    bad "twice: $(cat "$T/err")"
expect_ok "get the twice-loaded" "$CV" get --dir "$T/a" "$dup" --section identity
expect_eq "its version" 2 "$(json_field "$T/out" "d['_meta']['version']")"

# ---- a bad record and no reject file: nothing stored ------------------
u=$(newdb cv_b)
"$CV" init --dir "$T/b" --db "$u" 2>/dev/null || bad "init b"
sed '2500s/"ssn":"[0-9-]*"/"ssn":"nope"/' "$T/in.jsonl" >"$T/bad.jsonl"
expect_fail "a bad record at line 2500" "bad.jsonl:2500: field identity.ssn" \
    "$CV" load --dir "$T/b" "$T/bad.jsonl"
expect_eq "nothing stored" "0 0" \
    "$(sql "$u" "SELECT count(*) FROM records") $(sql "$u" "SELECT count(*) FROM deks")"
expect_fail "the first record is not there" "no record" \
    "$CV" get --dir "$T/b" "$first"
# With a reject file: the others, through COPY, the bad one rejected.
expect_ok "with a reject file" "$CV" load --dir "$T/b" --canaries 0 \
    --reject "$T/rej" "$T/bad.jsonl"
grep -q "stored $((N - 1)) records" "$T/err" && ok || bad "reject: $(cat "$T/err")"
expect_eq "one rejected, at its line" 2500 \
    "$(json_field "$T/rej" "d['line']")"
expect_eq "the others stored" "$((N - 1))" "$(sql "$u" "SELECT count(*) FROM records")"

# ---- killed after its first short transaction ---------------------------
u=$(newdb cv_c)
"$CV" init --dir "$T/c" --db "$u" 2>/dev/null || bad "init c"
# Long enough to pass its first short transaction (0.25 s) however fast
# COPY is here.
"$CV" gen --count 20000 --seed 24 >"$T/big.jsonl"
big1=$(head -1 "$T/big.jsonl" | cut -c8-26)
CLEARVAULT_FAULT=load.batch:1 killed "$CV" load --dir "$T/c" --quiet \
    "$T/big.jsonl"
expect_eq "killed after its first short transaction" 137 $?
[ "$(sql "$u" "SELECT count(*) FROM records")" -gt 0 ] && ok ||
    bad "the test did not kill it after a commit"
expect_fail "its records are not there" "no record" \
    "$CV" get --dir "$T/c" "$big1"
case "$(entry "$T/c" load.settle)" in
*"never committed"*"nothing stored"*) ok ;;
*) bad "load.settle of a rolled-back load: $(entry "$T/c" load.settle)" ;;
esac
expect_eq "no row, no key left" "0 0" \
    "$(sql "$u" "SELECT count(*) FROM records") $(sql "$u" "SELECT count(*) FROM deks")"
expect_ok "the rerun" "$CV" load --dir "$T/c" "$T/in.jsonl"
grep -q "stored $N records (0 new versions)" "$T/err" && ok ||
    bad "rerun: $(cat "$T/err")"
expect_ok "the last after the rerun" "$CV" get --dir "$T/c" "$last"

# ---- rotate rewraps in committed batches (8,192 keys each) ---------------
"$CV" gen --count 6000 --seed 25 >"$T/more.jsonl"
expect_ok "more records" "$CV" load --dir "$T/c" --quiet "$T/more.jsonl"
keys=$(sql "$u" "SELECT count(*) FROM deks")
g0=$(sql "$u" "SELECT DISTINCT gen FROM deks")
CLEARVAULT_FAULT=rotate.batch:1 expect_fail "rotate stopped after a batch" \
    "interrupted" "$CV" rotate --dir "$T/c"
expect_eq "one batch committed" "$g0|$((keys - 8192)) $((g0 + 1))|8192" \
    "$(sql "$u" "SELECT gen, count(*) FROM deks GROUP BY gen ORDER BY gen" | tr '\n' ' ' | sed 's/ $//')"
expect_ok "a rewrapped record" "$CV" get --dir "$T/c" "$first"
expect_ok "the rerun finishes" "$CV" rotate --dir "$T/c"
grep -q "finished an interrupted rotation" "$T/err" && ok || bad "resume: $(cat "$T/err")"
expect_eq "every key rewrapped" "$((g0 + 1))|$keys" \
    "$(sql "$u" "SELECT gen, count(*) FROM deks GROUP BY gen")"
expect_ok "a record after" "$CV" get --dir "$T/c" "$last"

# ---- what reached PostgreSQL: no plaintext ------------------------------
sh "$PG_SH" stop "$T/pg" || bad "stop PostgreSQL"
pg_no_ssns "$T/pg" "$last" "$T/ssns"
finish
