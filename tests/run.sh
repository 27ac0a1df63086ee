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
	mkdir -p "$seeds/record" "$seeds/config" "$seeds/keyring" \
	    "$seeds/envelope" "$seeds/audit_entry" "$seeds/proof" \
	    "$seeds/api_bodies" "$seeds/guard_state" "$seeds/audit_view" \
	    "$seeds/evidence" "$seeds/csr" "$seeds/binding" \
	    "$seeds/backup_sums" "$seeds/keyd" "$seeds/alert_5424" \
	    "$seeds/tile_path" "$seeds/witness_request"
	printf '0/x001/x234/067.p/12' >"$seeds/tile_path/a"
	printf 'entries/x005/000' >"$seeds/tile_path/b"
	printf '7/000.p/255' >"$seeds/tile_path/c"
	printf 'CVTB\001\0000123456789abcdef0123456789abcdef\000\004host\000\006/srv/v' \
	    >"$seeds/binding/a"
	# keyd frames: a decrypt (ticket 5, alice, CV-1, identity), a blind
	# index, an append (allowed get by bob of CV-1)
	printf '\000\000\000\045\000\003\000\000\000\000\000\000\000\000\000\001\000\000\000\000\000\000\000\005\000\005alice\000\004CV-1\000\000\000\001' >"$seeds/keyd/a"
	printf '\000\000\000\024\000\004\000\000\000\000\000\000\000\000\000\002\001\000\000\000\003abc' >"$seeds/keyd/b"
	printf '\000\000\000\057\000\001\000\000\000\000\000\000\000\000\000\003\001\000\003get\000\003bob\000\000\000\000\000\000\000\000\000\000\000\000\000\001\000\000\000\001\000\004CV-1' >"$seeds/keyd/c"
	# an alert line as alert.c writes it, and a forged one
	printf '{"@timestamp":"2026-12-06T09:56:51.008085Z","event":{"kind":"alert","category":["intrusion_detection"],"action":"canary","severity":99,"id":"ebbc68f224d6cc7b2169816f52566ab0"},"message":"a canary record was read","log":{"level":"critical"},"rule":{"name":"canary"},"labels":{"vault_id":"77b12915e9c8eb7e"},"clearvault":{"session":"ce24","locked":true,"audit_indices":[29,30]},"user":{"name":"inv"},"source":{"ip":"127.0.0.1"}}\n' \
	    >"$seeds/alert_5424/a"
	printf '{"event":{"action":"k k"},"log":{"level":"info"},"user":{"name":"a\\n]\\"\\\\"},"message":"\\u001b\\u00e9"}' \
	    >"$seeds/alert_5424/b"
	printf '{"totp":"123456"}' >"$seeds/api_bodies/a"
	printf '{"users":["alice"],"records":["CV-1"]}' >"$seeds/api_bodies/b"
	printf '{"name":"bob","role":"auditor"}' >"$seeds/api_bodies/c"
	printf '{"title":"Breach review"}' >"$seeds/api_bodies/d"
	printf '{"role":"adjudicator"}' >"$seeds/api_bodies/e"
	printf '{"budget":[1,2,3,4,5,6]}' >"$seeds/api_bodies/f"
	printf '{"name":"amy","code":"ABCDE-FGHJK-MNPQR-STUVW","csr":"x"}' \
	    >"$seeds/api_bodies/g"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -subj /CN=amy -keyout /dev/null -out "$seeds/csr/ec" 2>/dev/null
	openssl req -new -newkey rsa:2048 -nodes -subj /CN=amy \
	    -keyout /dev/null -out "$seeds/csr/rsa" 2>/dev/null
	./build/clearvault gen --count 8 --seed 99 | split -l 1 - \
	    "$seeds/record/g"
	cp tests/fuzz/seeds/record/* "$seeds/record/" 2>/dev/null
	./build/clearvault init --dir "$seeds/v" 2>/dev/null
	./build/clearvault gen --count 3 | ./build/clearvault load \
	    --dir "$seeds/v" --quiet
	cp "$seeds/v/clearvault.conf" "$seeds/config/"
	printf 'handshake_timeout = 10\nidle_timeout = 30\n' |
	    cat "$seeds/v/clearvault.conf" - >"$seeds/config/timeouts"
	cp "$seeds/v/keyring" "$seeds/keyring/"
	sqlite3 "$seeds/v/vault.db" \
	    "SELECT writefile('$seeds/envelope/b' || id, body) FROM records" \
	    >/dev/null
	v="$seeds/v"
	./build/clearvault audit prove --dir "$v" --index 0 >"$seeds/p1"
	./build/clearvault audit checkpoint --dir "$v" >"$seeds/c1"
	(cat "$seeds/p1"; printf '\0'; cat "$seeds/c1") >"$seeds/proof/a"
	# add-checkpoint bodies: a first one, one with a proof, a note with
	# a cosignature line appended (the vault side's verifier)
	(printf 'old 0\n\n'; cat "$seeds/c1") >"$seeds/witness_request/a"
	(printf 'old 5\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n\n'
	    sed "1s|.*|PeterNeumann|" "$seeds/c1") >"$seeds/witness_request/b"
	printf 'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\342\200\224 witness.example/w1 Ro2ZuwAAAABkGFDLQB2dbiQ7rPMIDjq/twq5Ixt42T+awjiYS4+fxrnLnI31x5abVjZlhDVvZAcRRLyAiG4oQlhTgi4DsxiPwiDaDg==\n' \
	    >"$seeds/witness_request/c"
	./build/clearvault audit tail --dir "$v" --json -n 5 | python3 -c '
import base64, json, sys
for i, l in enumerate(sys.stdin):
    open(sys.argv[1] + "/e%d" % i, "wb").write(base64.b64decode(json.loads(l)["leaf"]))
' "$seeds/audit_entry"
	cp "$seeds"/audit_entry/* "$seeds/audit_view/"
	./build/clearvault evidence export --dir "$v" --incident fuzz \
	    --principal "$(id -un)" --out "$seeds/evidence/a" 2>/dev/null
	./build/clearvault backup --dir "$v" --out "$seeds/bk" --quiet &&
	    cp "$seeds/bk/SHA256SUMS" "$seeds/backup_sums/a"
	for t in record config keyring envelope audit_entry proof api_bodies \
	    guard_state audit_view evidence csr binding backup_sums keyd \
	    alert_5424 tile_path witness_request; do
		./build-fuzz/tests/fuzz/fuzz_$t -max_total_time="$FUZZ_SECONDS" \
		    -max_len=16384 -print_final_stats=0 \
		    -artifact_prefix="$seeds/crash-$t-" "$seeds/$t" \
		    >"$seeds/$t.log" 2>&1
		st=$?
		printf '%s: %s\n' "fuzz_$t" "$(grep -o 'Done [0-9]* runs' \
		    "$seeds/$t.log" || echo 'crashed')"
		[ $st -ne 0 ] && tail -30 "$seeds/$t.log"
		count "fuzz_$t" $st
	done
	rm -rf "$seeds"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
