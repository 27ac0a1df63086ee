#!/usr/bin/env bash
# usage: make fuzz   (or: bash tests/fuzz/campaign.sh)
#
# The fuzzing campaign (issue 16; not part of make check): builds
# build-fuzz (clang, ASan + UBSan, libFuzzer), then runs every target for
# FUZZ_SECONDS, starting from its committed corpus tests/fuzz/corpus/
# <target>/ and fresh seeds (tests/fuzz/seeds.sh). New inputs go to a
# scratch folder and are merged back into the corpus with -merge=1, which
# adds only those that add coverage. Crash, leak, timeout and out-of-memory
# reproducers go to FUZZ_CRASHES/<target>/; once fixed, one belongs in
# tests/fuzz/regress/<target>/, named for what it found (make check runs
# them). Prints, and writes to FUZZ_OUT, per target: executions, exec/s,
# the final cov: and ft:, the corpus's size before and after, crashes.
# Exits non-zero if any target crashed.
#
#   FUZZ_SECONDS  per target (default 1800: 30 minutes)
#   FUZZ_JOBS     targets at once, one process each (default 1)
#   FUZZ_ONLY     a comma-separated list of targets (default all), by
#                 name without fuzz_: FUZZ_ONLY=http,record
#   FUZZ_OUT      the summary (default fuzz-report.txt)
#   FUZZ_CRASHES  where reproducers go (default fuzz-crashes)
#
# Example: FUZZ_SECONDS=60 FUZZ_ONLY=http,record make fuzz
set -u
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "$(dirname "$0")/../.."
FUZZ_SECONDS=${FUZZ_SECONDS:-1800}
FUZZ_JOBS=${FUZZ_JOBS:-1}
FUZZ_ONLY=${FUZZ_ONLY:-}
FUZZ_OUT=${FUZZ_OUT:-fuzz-report.txt}
FUZZ_CRASHES=${FUZZ_CRASHES:-fuzz-crashes}
MAX_LEN=16384	# as make check

# One target T: fuzz, merge, and a line of results in $work/T.result.
one() {
	local t=$1 f=build-fuzz/tests/fuzz/fuzz_$1 c=tests/fuzz/corpus/$1
	local log=$work/$t.log new=$work/new/$t out=$FUZZ_CRASHES/$t
	local before after st crashes last execs rate

	mkdir -p "$c" "$new" "$out"
	before=$(ls "$c" | wc -l)
	"$f" -max_total_time="$FUZZ_SECONDS" -max_len=$MAX_LEN -timeout=60 \
	    -print_final_stats=1 -artifact_prefix="$out/" \
	    "$new" "$c" "$work/seeds/$t" >"$log" 2>&1
	st=$?
	# Only what adds coverage to the committed corpus: the fresh seeds
	# and what this run found.
	"$f" -merge=1 -max_len=$MAX_LEN -artifact_prefix="$out/" \
	    "$c" "$new" "$work/seeds/$t" >"$work/$t.merge.log" 2>&1 ||
	    echo "fuzz_$t: merge failed, see $work/$t.merge.log" >&2
	after=$(ls "$c" | wc -l)
	# Not slow-unit-*: libFuzzer keeps those too, and they are no crash.
	crashes=$(ls "$out" | grep -cE '^(crash|leak|timeout|oom)-')
	[ -n "$(ls "$out")" ] || rmdir "$out"
	last=$(grep -E '^#[0-9]+[[:space:]]' "$log" | tail -1)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	printf '%-16s %11s %7s %6s %6s %5s -> %-5s %s%s\n' "$t" \
	    "${execs:-?}" "${rate:-?}" \
	    "$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')" \
	    "$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')" \
	    "$before" "$after" "$crashes" \
	    "$([ $st -ne 0 ] && echo " (exit $st)")" \
	    >"$work/$t.result"
	cat "$work/$t.result"
	# Its time run out without a crash, and libFuzzer said so.
	[ $st -eq 0 ] && [ "$crashes" -eq 0 ] && : >"$work/$t.ok"
}

if [ "${1:-}" = --one ]; then
	work=$2
	one "$3"
	exit 0
fi

CC=clang
export CC
[ -f build-fuzz/build.ninja ] || meson setup build-fuzz -Dfuzz=true \
    -Dtests=false -Db_sanitize=address,undefined -Db_lundef=false \
    >/dev/null || exit 1
ninja -C build-fuzz >/dev/null || exit 1

targets=
for f in build-fuzz/tests/fuzz/fuzz_*; do
	[ -f "$f" ] && [ -x "$f" ] || continue
	t=${f##*/fuzz_}
	if [ -n "$FUZZ_ONLY" ] && ! echo ",$FUZZ_ONLY," | grep -q ",$t,"; then
		continue
	fi
	targets="$targets $t"
done
if [ -z "$targets" ]; then
	echo "make fuzz: no target matches FUZZ_ONLY=$FUZZ_ONLY" >&2
	exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/cvfuzz.XXXXXX")
# fuzz_http's vaults: tmpfs when there is one, removed even after a crash
if [ -w /dev/shm ]; then
	FUZZ_HTTP_DIR=$(mktemp -d /dev/shm/cvfuzz.XXXXXX)
	export FUZZ_HTTP_DIR
fi
trap 'rm -rf "$work" ${FUZZ_HTTP_DIR:+"$FUZZ_HTTP_DIR"}' EXIT
# The seeds' vault is made by the fuzzing build's own command (no
# release build needed); its leak check is the unit tests' business.
CLEARVAULT=build-fuzz/clearvault ASAN_OPTIONS=detect_leaks=0 \
    sh tests/fuzz/seeds.sh "$work/seeds" >/dev/null 2>&1 ||
    echo "make fuzz: some seeds could not be made" >&2
export FUZZ_SECONDS MAX_LEN FUZZ_CRASHES

n=$(echo $targets | wc -w)
echo "make fuzz: $n targets, ${FUZZ_SECONDS}s each, $FUZZ_JOBS at a time"
header=$(printf '%-16s %11s %7s %6s %6s %14s %s' target execs exec/s cov \
    ft "corpus" crashes)
echo "$header"
printf '%s\n' $targets |
    xargs -P "$FUZZ_JOBS" -I{} bash "$self" --one "$work" {}

{
	echo "make fuzz, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(git rev-parse \
	    --short HEAD 2>/dev/null), ${FUZZ_SECONDS}s per target"
	echo "$header"
	for t in $targets; do
		cat "$work/$t.result" 2>/dev/null ||
		    printf '%-16s did not run\n' "$t"
	done
} >"$FUZZ_OUT"
bad=
for t in $targets; do
	[ -f "$work/$t.ok" ] || bad="$bad $t"
done
if [ -n "$bad" ]; then
	# The logs go with the work folder: keep them with the crashes.
	for t in $bad; do
		mkdir -p "$FUZZ_CRASHES/$t"
		cp "$work/$t.log" "$FUZZ_CRASHES/$t/fuzz.log" 2>/dev/null
	done
	echo "make fuzz: crashes in:$bad; reproducers and logs in" \
	    "$FUZZ_CRASHES/ (summary: $FUZZ_OUT)"
	exit 1
fi
echo "make fuzz: no crashes (summary: $FUZZ_OUT)"
