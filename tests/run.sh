#!/bin/sh
# make check: the release build, the unit and command-level tests under
# AddressSanitizer + UndefinedBehaviorSanitizer, and a short run of every
# fuzz target. Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${FUZZ_SECONDS:-15}
passed=0
failed=0
note() { printf '== %s\n' "$*"; }
count() {	# NAME STATUS
	if [ "$2" -eq 0 ]; then passed=$((passed + 1)); else
		failed=$((failed + 1)); echo "FAILED: $1"; fi
}
setup() {	# DIR [meson options...]
	d=$1; shift
	[ -f "$d/build.ninja" ] || meson setup "$d" "$@" >/dev/null
}

note "release build"
setup build -Dtests=false && ninja -C build >/dev/null
count "release build" $?
# The release binary has no test hooks and refuses their knobs.
for k in CLEARVAULT_FAULT CLEARVAULT_STEP_UP_WAIT_S CLEARVAULT_ACCESS_NOW; do
	env "$k=x" ./build/clearvault --version 2>&1 | grep -q "test hook"
	count "release build refuses $k" $?
done
./build/clearvault test-secrets --dir . >/dev/null 2>&1
[ $? -eq 0 ] && st=1 || st=0
count "release build has no test-secrets" $st
# ...and a simulated guard clock on anything but a drill's scratch vault.
hv=$(mktemp -d "${TMPDIR:-/tmp}/cvhooks.XXXXXX")
./build/clearvault init --dir "$hv/v" >/dev/null 2>&1
CLEARVAULT_GUARD_CLOCK="$hv/clock" timeout 60 ./build/clearvault serve \
    --dir "$hv/v" --listen 127.0.0.1:0 >/dev/null 2>"$hv/err"
[ $? -ne 0 ] && grep -q "for drills and tests" "$hv/err"
count "release serve refuses a simulated clock" $?
rm -rf "$hv"
# The release build wipes freed memory its own way (base/wipe.c, not
# ASan's fill): the memory test on it, split and in one process.
for one in "" 1; do
	CLEARVAULT=./build/clearvault ONE_PROCESS=$one \
	    bash tests/fault/test_memory_secrets.sh >build/memory.log 2>&1
	st=$?
	count "release build wipes freed memory${one:+ (--one-process)}" $st
	[ $st -eq 0 ] || tail -5 build/memory.log
done

note "sanitizer build (ASan + UBSan)"
setup build-asan -Db_sanitize=address,undefined -Dbuildtype=debug \
    -Db_lundef=false -Dtest_hooks=true && ninja -C build-asan >/dev/null
st=$?
count "sanitizer build" $st
if [ $st -eq 0 ]; then
	note "unit and command-level tests"
	meson test -C build-asan --print-errorlogs --num-processes 2 \
	    >build-asan/check.log 2>&1
	grep -E '^ *[0-9]+/[0-9]+ ' build-asan/check.log
	for r in $(python3 -c '
import json
for l in open("build-asan/meson-logs/testlog.json"):
    print(0 if json.loads(l)["result"] == "OK" else 1)'); do
		count "test" "$r"
	done
	grep -q '^Fail: *0' build-asan/check.log ||
	    sed -n '/^=* [0-9]*\/[0-9]* =*$/,$p' build-asan/check.log | tail -60
fi

note "fuzzing (${FUZZ_SECONDS}s per target)"
CC=clang setup build-fuzz -Dfuzz=true -Dtests=false \
    -Db_sanitize=address,undefined -Db_lundef=false &&
    ninja -C build-fuzz >/dev/null
st=$?
count "fuzz build" $st
if [ $st -eq 0 ]; then
	seeds=$(mktemp -d "${TMPDIR:-/tmp}/cvseeds.XXXXXX")
	# fuzz_http's vault (tmpfs when there is one), gone even after a crash
	[ -w /dev/shm ] && export FUZZ_HTTP_DIR=$(mktemp -d /dev/shm/cvfuzz.XXXXXX)
	sh tests/fuzz/seeds.sh "$seeds/seeds"
	for f in build-fuzz/tests/fuzz/fuzz_*; do
		[ -f "$f" ] && [ -x "$f" ] || continue
		t=${f##*/fuzz_}
		# Every crash found so far, once: libFuzzer runs the files
		# given and fails on the first that crashes.
		if [ -n "$(ls tests/fuzz/regress/$t 2>/dev/null)" ]; then
			"$f" -artifact_prefix="$seeds/regress-$t-" \
			    tests/fuzz/regress/$t/* >"$seeds/$t.regress.log" 2>&1
			st=$?
			[ $st -ne 0 ] && tail -30 "$seeds/$t.regress.log"
			count "fuzz_$t regressions" $st
		fi
		# From the committed corpus and fresh seeds; what it finds
		# goes to a scratch folder (make fuzz merges into the corpus).
		c=tests/fuzz/corpus/$t
		[ -d "$c" ] || c=
		mkdir -p "$seeds/new-$t"
		"$f" -max_total_time="$FUZZ_SECONDS" \
		    -max_len=16384 -print_final_stats=0 \
		    -artifact_prefix="$seeds/crash-$t-" "$seeds/new-$t" \
		    ${c:+"$c"} "$seeds/seeds/$t" >"$seeds/$t.log" 2>&1
		st=$?
		printf '%s: %s\n' "fuzz_$t" "$(grep -o 'Done [0-9]* runs' \
		    "$seeds/$t.log" || echo 'crashed')"
		[ $st -ne 0 ] && tail -30 "$seeds/$t.log"
		count "fuzz_$t" $st
	done
	rm -rf "$seeds" ${FUZZ_HTTP_DIR:+"$FUZZ_HTTP_DIR"}
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
