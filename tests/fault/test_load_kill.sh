#!/bin/bash
# Issue 18, item 3: a load killed after its commit stored every record
# with no audit entry (the `load` entry came ~2 s after the commit), and
# a rerun of the same input silently made a second version of every
# record. Now a durable load.begin entry (naming the input's SHA-256 and
# the counts) precedes the commit, the next command that opens the vault
# writes the outcome of a killed load (load.settle: committed, or rolled
# back), and the same input again is refused unless --new-version.
# CLEARVAULT_FAULT=load.decided:1 kills the command (SIGKILL) just after
# the commit, load.logged:1 just after its outcome entry, load.batch:1 just
# after the first of its short transactions.
. "$(dirname "$0")/../cli/lib.sh"

N=20000
"$CV" gen --count "$N" --seed 21 >"$T/in.jsonl"
sum=$(sha256sum "$T/in.jsonl" | cut -d' ' -f1)
first=$(head -1 "$T/in.jsonl" | cut -c8-26)
last=$(tail -1 "$T/in.jsonl" | cut -c8-26)
raw() { sql "$1" "$2"; }
actions() {	# DIR: the action of every audit entry, one a line
	"$CV" audit tail --dir "$1" --json -n 1000 |
	    python3 -c 'import json,sys
for l in sys.stdin:
    a = json.loads(l)["action"]
    if a != "audit.tail": print(a)'
}
killed() { ("$@"; exit $?) 2>/dev/null; }	# CMD...: no "Killed" from the shell
entry() {	# DIR ACTION: the reason of the last entry of ACTION
	"$CV" audit tail --dir "$1" --json -n 1000 |
	    python3 -c 'import json,sys
r = [json.loads(l) for l in sys.stdin]
print([e["reason"] for e in r if e["action"] == sys.argv[1]][-1])' "$2"
}
version() {	# DIR ID
	"$CV" get --dir "$1" "$2" --section identity |
	    json_field /dev/stdin "d['_meta']['version']"
}

# ---- killed between the commit and its outcome entry ------------------
"$CV" init --dir "$T/a" 2>/dev/null
CLEARVAULT_FAULT=load.decided:1 killed "$CV" load --dir "$T/a" --quiet \
    "$T/in.jsonl"
expect_eq "killed after the commit" 137 $?
# Before anything opens the vault again: the entry was there first.
audit_file "$T/a" entries "$T/entries"
expect_eq "the log's last entry, before the next open" load.begin \
    "$(python3 - "$T/entries" <<'PY'
import os, struct, sys
sys.path.insert(0, os.environ["CV_TESTLIB"])
from audit_files import leaves
last = leaves(open(sys.argv[1], "rb").read())[-1]
# leaf: u8 version, u64 time, u8 outcome, u16 sections, string action
n = struct.unpack(">H", last[12:14])[0]
print(last[14:14 + n].decode())
PY
)"
[ "$(raw "$T/a" "SELECT count(*) FROM records")" -ge "$N" ] && ok ||
    bad "the records were committed before the kill"
expect_ok "the next command reads them" "$CV" get --dir "$T/a" "$last"
actions "$T/a" | tail -4 | tr '\n' ' ' >"$T/acts"
expect_eq "load.begin, then the outcome settled by the next open" \
    "init load.begin load.settle get " "$(cat "$T/acts")"
begin=$(entry "$T/a" load.begin)
case "$begin" in
*"sha256 $sum"*"$N records"*) ok ;;
*) bad "load.begin names the input and the count: $begin" ;;
esac
case "$(entry "$T/a" load.settle)" in
*"sha256 $sum: committed"*) ok ;;
*) bad "load.settle: $(entry "$T/a" load.settle)" ;;
esac
expect_ok "a second open settles nothing more" "$CV" get --dir "$T/a" \
    "$first"
expect_eq "one settle entry" 1 "$(actions "$T/a" | grep -c load.settle)"

# The same input again: refused, nothing changed.
n0=$(raw "$T/a" "SELECT count(*) FROM records")
expect_fail "the same input again is refused" "loaded already, as load 1" \
    "$CV" load --dir "$T/a" "$T/in.jsonl"
grep -q -- "--new-version" "$T/err" && ok || bad "names --new-version"
expect_eq "still version 1" 1 "$(version "$T/a" "$first")"
expect_eq "no row added" "$n0" "$(raw "$T/a" "SELECT count(*) FROM records")"
# Through a pipe (no size to compare first): refused all the same.
expect_fail "the same input from a pipe" "loaded already" \
    sh -c "'$CV' load --dir '$T/a' <'$T/in.jsonl'"
expect_eq "still version 1, after the pipe" 1 "$(version "$T/a" "$first")"
head -300 "$T/in.jsonl" >"$T/few.jsonl"
expect_ok "asked for: new versions" "$CV" load --dir "$T/a" --new-version \
    --quiet "$T/few.jsonl"
expect_ok "asked for, a second time" "$CV" load --dir "$T/a" \
    --new-version "$T/few.jsonl"
grep -q "300 new versions" "$T/err" && ok || bad "versions: $(cat "$T/err")"
expect_eq "version 3 now" 3 "$(version "$T/a" "$first")"
expect_eq "untouched beyond the input" 1 "$(version "$T/a" "$last")"

# ---- killed between its outcome entry and marking it recorded ----------
# (a kill -9 loop found it: the next open wrote a second outcome)
"$CV" init --dir "$T/d" 2>/dev/null
CLEARVAULT_FAULT=load.logged:1 killed "$CV" load --dir "$T/d" --quiet \
    "$T/few.jsonl"
expect_eq "killed after the outcome entry" 137 $?
expect_ok "the next command" "$CV" get --dir "$T/d" "$first"
actions "$T/d" | tr '\n' ' ' >"$T/acts"
expect_eq "one outcome: the load's own, no settle" \
    "init load.begin load get " "$(cat "$T/acts")"
expect_eq "the load marked recorded" 0 \
    "$(raw "$T/d" "SELECT count(*) FROM loads WHERE audited = 0")"

# ---- killed before its last commit: nothing stored ---------------------
"$CV" init --dir "$T/b" 2>/dev/null
CLEARVAULT_FAULT=load.batch:1 killed "$CV" load --dir "$T/b" --quiet \
    "$T/in.jsonl"
expect_eq "killed after its first short transaction" 137 $?
[ "$(raw "$T/b" "SELECT count(*) FROM records")" -gt 0 ] && ok ||
    bad "the test did not kill it after a commit"
expect_fail "its records are not there" "no record" \
    "$CV" get --dir "$T/b" "$first"
case "$(entry "$T/b" load.settle)" in
*"never committed"*"nothing stored"*) ok ;;
*) bad "load.settle of a rolled-back load: $(entry "$T/b" load.settle)" ;;
esac
expect_eq "no row, no key left" "0 0" \
    "$(raw "$T/b" "SELECT count(*) FROM records") $(raw "$T/b" \
    "SELECT count(*) FROM deks")"
expect_ok "the rerun is no duplicate" "$CV" load --dir "$T/b" "$T/in.jsonl"
grep -q "stored $N records (0 new versions)" "$T/err" && ok ||
    bad "rerun: $(cat "$T/err")"

# ---- kill -9 from outside, at whatever moment the records appear -------
"$CV" init --dir "$T/c" 2>/dev/null
"$CV" load --dir "$T/c" --quiet "$T/in.jsonl" 2>/dev/null &
pid=$!
for _ in $(seq 1 2000); do
	[ "$(raw "$T/c" "SELECT count(*) FROM records" 2>/dev/null)" -ge "$N" ] \
	    2>/dev/null && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.01
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
"$CV" audit tail --dir "$T/c" --json -n 1000 >"$T/log"
if "$CV" get --dir "$T/c" "$last" >/dev/null 2>&1; then
	# Stored: the log has said so since before the commit.
	python3 - "$T/log" "$sum" <<'PY' && ok || bad "stored, but the log does not say so"
import json, sys
es = [json.loads(l) for l in open(sys.argv[1])]
acts = [e["action"] for e in es]
b = acts.index("load.begin")
assert sys.argv[2] in es[b]["reason"]
out = [e for e in es[b + 1:] if e["action"] in ("load", "load.settle")]
assert out and out[0]["outcome"] == "allowed", out
assert "never" not in out[0]["reason"], out
PY
else
	python3 - "$T/log" <<'PY' && ok || bad "not stored, but the log says so"
import json, sys
es = [json.loads(l) for l in open(sys.argv[1])]
assert not any(e["action"] == "load" and e["outcome"] == "allowed"
               for e in es)
assert not any(e["action"] == "load.settle" and "committed at" in e["reason"]
               for e in es)
PY
fi
finish
