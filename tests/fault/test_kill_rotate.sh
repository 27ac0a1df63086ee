#!/bin/bash
# Issue 16, rotate: `clearvault rotate` killed (kill -9) at random moments
# over the whole of its run, on a vault of 16,000 records and 500 kept
# versions (rewrapped in three batches). After each kill `audit verify`
# passes and every record sampled still decrypts (under whichever key
# wraps it: at most the old generation and the new one); a rerun
# finishes, leaving every data key, kept versions' too, under one new
# generation (one past the one before, or two if the killed run had
# finished), and the token holding as many objects as before: the old
# root key destroyed, no new one left behind.
. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/kill_lib.sh"

WANT=$(kill_target ROTATE 35)
N=${KILL_ROTATE_RECORDS:-16000}
t_start=$(now_ms)

make_vault v "$N" || { bad "setup"; finish; exit 1; }
head -500 "$T/v.jsonl" >"$T/few.jsonl"
"$CV" load --dir "$T/v" --quiet --new-version "$T/few.jsonl" ||
    { bad "new versions"; finish; exit 1; }
id_at() { sed -n "$1p" "$T/v.jsonl" | cut -c8-26; }	# LINE
# Every data key's generation and the count: "GEN|N" lines, both tables.
gens() {
	sql "$T/v" "SELECT gen, count(*) FROM (SELECT gen FROM deks UNION ALL
	    SELECT gen FROM versions) AS g GROUP BY gen ORDER BY gen" |
	    tr '\n' ' ' | sed 's/ $//'
}
# The token's objects that have a label (root keys, the CA's pair, the
# vault's binding record). Not the ones SoftHSM2 leaves when killed while
# it makes one (C_GenerateKey writes the object's file attribute by
# attribute): an empty file, or a key with no label and no value, that
# nothing can find and that holds nothing.
objects() {
	local f n=0
	for f in "$T"/v/token/objects/*/*.object; do
		softhsm2-dump-file "$f" 2>/dev/null | grep -A2 CKA_LABEL |
		    grep -q "(length [1-9]" && n=$((n + 1))
	done
	echo "$n"
}
# (canaries get new versions too, as often as records: more than 500)
total=$(sql "$T/v" "SELECT (SELECT count(*) FROM deks) +
    (SELECT count(*) FROM versions)")

# One rotation unkilled: how long it runs (the kills spread over it).
t0=$(now_ms)
expect_ok "an unkilled rotation" "$CV" rotate --dir "$T/v" --quiet
dur=$(($(now_ms) - t0))
echo "an unkilled rotation of $total data keys: $dur ms"
expect_eq "every key on generation 2" "2|$total" "$(gens)"
objs=$(objects)

# What a kill while SoftHSM2 rewrites token.object (at every login: any
# command, early in its run) leaves: the file empty, and the token gone
# with every key ("no token labelled 'clearvault'": the vault no longer
# opened). The next command puts back the copy kept after a login.
tokobj=$(ls "$T"/v/token/objects/*/token.object)
: >"$tokobj"
expect_ok "a torn token.object: the vault opens" "$CV" get --dir "$T/v" \
    "$(id_at 1)" --section identity
grep -q "token.object was torn (0 of [0-9]* bytes" "$T/err" && ok ||
    bad "the mend is said: $(head -c 300 "$T/err")"
[ -s "$tokobj" ] && ok || bad "token.object put back"

# The kill that showed a root key left for good: after the
# keyring was saved without the old key, before the old key's root was
# destroyed. No keyring named it any more, so no rerun destroyed it.
CLEARVAULT_FAULT=rotate.saved:1 "$CV" rotate --dir "$T/v" --quiet \
    2>/dev/null &
wait $! 2>/dev/null
expect_eq "killed between the save and the destroy" 137 $?
expect_eq "one more object in the token meanwhile" $((objs + 1)) "$(objects)"
expect_ok "the next rotation" "$CV" rotate --dir "$T/v" --quiet
expect_eq "every key on generation 4" "4|$total" "$(gens)"
expect_eq "the token's objects: the left root destroyed too" "$objs" \
    "$(objects)"

round=0
while [ "$KILLS" -lt "$WANT" ] && [ "$round" -lt $((2 * WANT)) ]; do
	round=$((round + 1))
	g0=$(sql "$T/v" "SELECT max(gen) FROM deks")
	delay=$(rand_ms "$dur")
	"$CV" rotate --dir "$T/v" --quiet 2>"$T/rot.err" &
	pid=$!
	sleep_ms "$delay"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	krc=$?
	what="round $round (delay $delay ms of $dur, exit $krc)"
	case $krc in
	137) KILLS=$((KILLS + 1)) ;;
	0) ;;
	*) bad "$what: rotate exit $krc: $(head -c 300 "$T/rot.err")" ;;
	esac

	expect_ok "$what: audit verify" "$CV" audit verify --dir "$T/v"
	torn_seen
	mid=$(gens)
	case " $mid " in
	" $g0|$total "|" $((g0 + 1))|$total "|" $g0|"*" $((g0 + 1))|"*) ok ;;
	*) bad "$what: keys on generations $mid (was $g0)" ;;
	esac
	for line in $((1 + $(rand_ms 500))) $((1 + $(rand_ms "$N"))); do
		expect_ok "$what: record $line decrypts" "$CV" get --dir "$T/v" \
		    "$(id_at "$line")" --section identity
	done
	expect_ok "$what: the rerun finishes" "$CV" rotate --dir "$T/v"
	resumed=$(grep -c "finished an interrupted rotation" "$T/err")
	g=$(sql "$T/v" "SELECT max(gen) FROM deks")
	expect_eq "$what: every key on one new generation" "$g|$total" "$(gens)"
	if [ "$krc" -eq 0 ]; then
		expect_eq "$what: two rotations" $((g0 + 2)) "$g"
	elif [ "$g" -ne $((g0 + 1)) ] && [ "$g" -ne $((g0 + 2)) ]; then
		bad "$what: generation $g after $g0"
	fi
	[ "$resumed" = 0 ] || [ "$g" -eq $((g0 + 1)) ] && ok ||
	    bad "$what: resumed, yet a generation more"
	expect_eq "$what: the token's objects (old root gone)" "$objs" \
	    "$(objects)"
	expect_ok "$what: a record decrypts after" "$CV" get --dir "$T/v" \
	    "$(id_at $((1 + $(rand_ms "$N"))))" --section identity
	echo "$what: keys on $mid; the rerun $([ "$resumed" = 1 ] &&
	    echo resumed || echo rotated): generation $g"
	[ "$fails" -eq 0 ] || break
done
# The kept versions' keys went along: one is restored, and reads.
expect_ok "a kept version restores" "$CV" versions --dir "$T/v" "$(id_at 1)" \
    --restore 1
expect_ok "and reads" "$CV" get --dir "$T/v" "$(id_at 1)" --section identity
expect_ok "audit verify at the end" "$CV" audit verify --dir "$T/v"
kills_done rotate $((($(now_ms) - t_start) / 1000))
echo "rotate: token.object torn by $TORN of the kills, and put back"
finish
