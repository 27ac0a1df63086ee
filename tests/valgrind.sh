#!/bin/sh
# make check-valgrind: the command-level tests (tests/cli, SQLite; with
# VALGRIND_SUITES="cli fault" the fault tests too) against a plain debug
# build, build-valgrind (no sanitizer, test hooks), every clearvault
# process under Valgrind's Memcheck (tests/valgrind/clearvault). Not part
# of make check: it takes hours, not minutes.
#
# A test fails as it would anywhere, and also when one of its processes
# had a Memcheck error (an invalid read or write, a use of uninitialised
# memory, a definite leak): that process exits 99, and its report is
# printed here, kept in build-valgrind/valgrind-logs/TEST/PID.log.
# VALGRIND_TESTS="serve rotate" runs those only; VALGRIND_JOBS=N builds
# with N jobs; VALGRIND_WAIT=F waits F times as long for a server to start
# (default 20: one takes ~10 s to listen under Memcheck).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-valgrind
suites=${VALGRIND_SUITES:-cli}
# What cannot hold without the sandbox, which Valgrind cannot run
# (tests/valgrind/clearvault): test_privsep checks seccomp and SIGSYS.
skip=" privsep "

command -v valgrind >/dev/null ||
    { echo "check-valgrind: valgrind is not installed" >&2; exit 1; }
if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" -Dbuildtype=debug -Dtest_hooks=true \
	    -Dtests=false >/dev/null || exit 1
fi
ninja -C "$build" ${VALGRIND_JOBS:+-j "$VALGRIND_JOBS"} >/dev/null || exit 1
logs=$build/valgrind-logs
rm -rf "$logs"
mkdir -p "$logs"

# The suite's list: tests/meson.build's cli_tests (fault_tests).
list() {	# SUITE
	sed -n "/^$1_tests = \[/,/^\]/p" "$root/tests/meson.build" |
	    grep -o "'[a-z0-9_]*'" | tr -d "'"
}

pass=0 fail=0 skipped=0 vgfail=0
t0=$(date +%s)
for suite in $suites; do
	for name in ${VALGRIND_TESTS:-$(list "$suite")}; do
		[ -f "$root/tests/$suite/test_$name.sh" ] || continue
		case $skip in *" $name "*)
			echo "SKIP $suite/$name (needs the sandbox)"
			skipped=$((skipped + 1))
			continue ;;
		esac
		out=$logs/$suite-$name
		mkdir -p "$out"
		s=$(date +%s)
		CLEARVAULT=$root/tests/valgrind/clearvault \
		    CV_VALGRIND_BIN=$build/clearvault CV_VALGRIND_LOGS=$out \
		    CV_WAIT_FACTOR=${VALGRIND_WAIT:-20} \
		    timeout 7200 bash "$root/tests/$suite/test_$name.sh" \
		    >"$out/test.out" 2>&1
		rc=$?
		s=$(($(date +%s) - s))
		# Memcheck writes nothing for a clean process (-q).
		find "$out" -name '*.log' -empty -delete
		reports=$(find "$out" -name '*.log' | wc -l)
		if [ "$rc" -eq 0 ] && [ "$reports" -eq 0 ]; then
			echo "PASS $suite/$name (${s} s)"
			pass=$((pass + 1))
			continue
		fi
		fail=$((fail + 1))
		echo "FAIL $suite/$name (${s} s, exit $rc, $reports Memcheck" \
		    "reports)"
		grep '^FAIL' "$out/test.out" | head -5 | sed 's/^/    /'
		if [ "$reports" -gt 0 ]; then
			vgfail=$((vgfail + 1))
			for f in $(find "$out" -name '*.log' | head -3); do
				echo "    --- $f"
				head -40 "$f" | sed 's/^/    /'
			done
		fi
	done
done
echo "check-valgrind: $pass passed, $fail failed ($vgfail with Memcheck" \
    "reports), $skipped skipped, in $(($(date +%s) - t0)) s; logs in $logs"
[ "$fail" -eq 0 ]
