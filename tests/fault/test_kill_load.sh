#!/bin/bash
# Issue 16, load: `clearvault load` of a few thousand records killed
# (kill -9) at random moments over the whole of its run. After each kill
# the vault opens, the next command settles the killed load (load.settle,
# before its own entry), `audit verify` passes, the load is all or
# nothing (both ends of the input there or neither; the rows exactly the
# count before, or that plus the input and the canaries its load.begin
# entry named; no hidden row, key or pending version left; the canary
# list opens and names records that are there), and the log says which:
# a commit has its load.begin and one outcome saying committed, a
# rollback no outcome saying so. An input that did not go in is the next
# round's again: it must load (not "loaded already").
. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/kill_lib.sh"

WANT=$(kill_target LOAD 45)
N=${KILL_LOAD_RECORDS:-3000}
t_start=$(now_ms)
count() { sql "$T/v" "SELECT count(*) FROM $1"; }	# TABLE

"$CV" init --dir "$T/v" 2>/dev/null || { bad "init"; finish; exit 1; }
# Two loads unkilled: how long a load runs (the kills spread over the
# longer, and a quarter past it, as the machine's load varies).
dur=0
for s in 0 "$N"; do
	"$CV" gen --count "$N" --seed 16 --start "$s" >"$T/in.jsonl"
	t0=$(now_ms)
	expect_ok "an unkilled load" "$CV" load --dir "$T/v" --quiet \
	    "$T/in.jsonl"
	t0=$(($(now_ms) - t0))
	[ "$t0" -gt "$dur" ] && dur=$t0
done
echo "an unkilled load of $N records: $dur ms"
expect_eq "no key without its record" "$(count records)" "$(count deks)"
expect_ok "audit verify" "$CV" audit verify --dir "$T/v"
log_since "$T/v" 0 "$T/log"
next=$LOG_SIZE
rm "$T/in.jsonl"

# The checks after a kill of the load of $T/in.jsonl ($before rows
# before it): $in says whether it went in.
check_round() {	# WHAT
	local what=$1 first last after
	# (also "start": the next input's, past this one if it went in)
	first=$(head -1 "$T/in.jsonl" | cut -c8-26)
	last=$(tail -1 "$T/in.jsonl" | cut -c8-26)
	# The vault opens; the first command settles what the kill left.
	run "$CV" get --dir "$T/v" "$first" --section identity
	torn_seen
	if [ "$rc" -eq 0 ]; then in=1; elif grep -q "no record" "$T/err"; then
		in=0
	else
		bad "$what: the vault does not open: $(head -c 300 "$T/err")"
		return 1
	fi
	run "$CV" get --dir "$T/v" "$last" --section identity
	[ "$rc" -eq "$((in ? 0 : 1))" ] && ok ||
	    bad "$what: the first record in: $in, the last: exit $rc"
	expect_ok "$what: audit verify" "$CV" audit verify --dir "$T/v"
	log_since "$T/v" "$next" "$T/log"
	next=$LOG_SIZE
	after=$(count records)
	expect_eq "$what: no key without its record" "$after" "$(count deks)"
	expect_eq "$what: nothing hidden or pending left" "0 0" \
	    "$(count "loads WHERE audited = 0") $(count load_versions)"
	python3 - "$T/log" "$in" "$(wc -l <"$T/in.jsonl")" "$before" \
	    "$after" <<-'PY' ||
	import calendar, json, re, sys, time
	stamp = lambda t: calendar.timegm(time.strptime(t, "%Y-%m-%dT%H:%M:%SZ"))
	es = [json.loads(l) for l in open(sys.argv[1])]
	inn, n, before, after = (int(x) for x in sys.argv[2:])
	acts = [e["action"] for e in es]
	begin = [e for e in es if e["action"] == "load.begin"]
	outs = [e for e in es if e["action"] == "load.settle" or
	        (e["action"] == "load" and e["outcome"] == "allowed")]
	said = [e for e in outs if "committed at" in e["reason"] or
	        e["action"] == "load"]
	# Settled by the first command that opened the vault, before its entry.
	settle = [i for i, a in enumerate(acts) if a == "load.settle"]
	assert len(settle) <= 1 and (not settle or acts[settle[0] + 1] == "get"), acts
	assert acts.count("load") <= 1, acts
	# Its time is the wall clock's (it said 1970: a monotonic clock).
	for e in outs:
	    m = re.search(r" at (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)", e["reason"])
	    assert e["action"] == "load" or (m and abs(stamp(m[1]) -
	        stamp(e["time"][:19] + "Z")) < 3600), ("at", e["time"], e["reason"])
	if inn:
	    assert len(begin) == 1, ("committed without load.begin", acts)
	    m = re.search(r"committing (\d+) records \(0 new versions\) and (\d+) "
	                  "canaries", begin[0]["reason"])
	    assert m and int(m[1]) == n, begin[0]["reason"]
	    assert after == before + n + int(m[2]), (before, after, m[2])
	    assert len(outs) == 1 and len(said) == 1, ("one outcome: committed", outs)
	    assert acts.index("load.begin") < acts.index(outs[0]["action"]), acts
	else:
	    assert after == before, ("rolled back, rows left", before, after)
	    assert not said, ("not committed, the log says so", said)
	    # (a load killed after a commit along the way, before its
	    # load.begin: settled, with no load.begin before)
	    assert len(begin) <= len(outs) <= 1, ("load.begin, no outcome", acts)
	PY
	    bad "$what: the log and the rows disagree (entries in $T/log)"
	expect_ok "$what: the canary list opens" "$CV" canaries --dir "$T/v"
	if [ "$in" -eq 1 ]; then
		start=$((start + N))
		rm -f "$T/in.jsonl"
	fi
	echo "$what: $([ "$in" = 1 ] && echo committed ||
	    echo "rolled back"), $after rows"
}

start=$((2 * N)) round=0
# First, the kill that showed a lost outcome: after the load's load.begin
# entry, before its commit, in a load short enough to commit only once
# (its row was in that one transaction: nothing for the next open to
# settle, and the log said "committing" and then nothing).
"$CV" gen --count 100 --seed 16 --start "$start" >"$T/in.jsonl"
before=$(count records)
CLEARVAULT_FAULT=load.begun:1 "$CV" load --dir "$T/v" --quiet \
    "$T/in.jsonl" 2>"$T/load.err" &
wait $! 2>/dev/null
expect_eq "killed after load.begin" 137 $?
check_round "killed after load.begin"
grep -q '"action":"load.settle".*never committed' "$T/log" && ok ||
    bad "load.begin, then load.settle: rolled back (entries in $T/log)"
rm -f "$T/in.jsonl"

while [ "$KILLS" -lt "$WANT" ] && [ "$round" -lt $((2 * WANT)) ]; do
	round=$((round + 1))
	[ -s "$T/in.jsonl" ] ||
	    "$CV" gen --count "$N" --seed 16 --start "$start" >"$T/in.jsonl"
	before=$(count records)
	delay=$(rand_ms $((dur * 5 / 4)))
	"$CV" load --dir "$T/v" --quiet "$T/in.jsonl" 2>"$T/load.err" &
	pid=$!
	sleep_ms "$delay"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	lrc=$?
	what="round $round (delay $delay ms of $dur, exit $lrc)"
	case $lrc in
	137) KILLS=$((KILLS + 1)) ;;
	0) ;;
	*) bad "$what: load exit $lrc: $(head -c 300 "$T/load.err")" ;;
	esac

	check_round "$what" || break
	[ "$fails" -eq 0 ] || break
done
# What stayed out goes in now, once.
[ -s "$T/in.jsonl" ] ||
    "$CV" gen --count "$N" --seed 16 --start "$start" >"$T/in.jsonl"
expect_ok "the last input loads" "$CV" load --dir "$T/v" --quiet "$T/in.jsonl"
expect_ok "audit verify at the end" "$CV" audit verify --dir "$T/v"
kills_done load $((($(now_ms) - t_start) / 1000))
echo "load: token.object torn by $TORN of the kills, and put back"
finish
