#!/bin/bash
# A verification scan must not hold the log's lock: while `audit verify`
# or `scope` reads a big log, the server's logins and reads (each waits
# for its own audit entry) go on. To make "while" certain rather than a
# race, the scanning process is stopped (SIGSTOP) in the middle of its
# scan, as a slow disk, a swapped-out or throttled process would hold it;
# logins and reads must still answer within 2 s.
. "$(dirname "$0")/../cli/lib.sh"

SRV_PID=
SCAN_PID=
trap 'kill -CONT "$SCAN_PID" 2>/dev/null; kill "$SCAN_PID" "$SRV_PID" \
    2>/dev/null; cv_cleanup' EXIT
. "$(dirname "$0")/audit_reader.sh"

# A big log, made fast: 100,000 valid entries of 900 bytes (searches by
# "bulk") appended as a crash would leave them, then indexed and signed
# by the next open. About 90 MB of entries.
python3 - "$T/v/audit/entries" 100000 <<'PY'
import struct, sys, time
path, n = sys.argv[1], int(sys.argv[2])
t = int(time.time() * 1e6) - n
def s(b): return struct.pack(">H", len(b)) + b
rest = (s(b"records.search") + s(b"bulk") + s(b"") + s(b"10.1.2.3") +
        s(b"s1") + s(b"") + s(b"a bulk entry for a big log " * 32) +
        struct.pack(">I", 0))
with open(path, "ab") as f:
    f.write(b"".join(struct.pack(">I", 12 + len(rest)) +
                     struct.pack(">BQBH", 1, t + i, 2, 0) + rest
                     for i in range(n)))
PY
expect_ok "the big log is signed" "$CV" audit checkpoint --dir "$T/v"
BIG=$(stat -c %s "$T/v/audit/entries")

start_server "$T/v" || { bad "server start 2"; finish; exit 1; }

# stop_mid_scan PID: PID waits stopped at its start (scan_stopped); lets
# it go, then SIGSTOPs it once it has read 40 MB (its scan of the ~90 MB
# entries file is under way); fails if it ended first. Let go only once
# this watcher runs: a release build verifies the file in ~25 ms, less
# than Python takes to start.
stop_mid_scan() {
	python3 - "$1" $((40 << 20)) <<'PY'
import os, signal, sys, time
pid, mark = int(sys.argv[1]), int(sys.argv[2])
t0 = time.time()
while time.time() - t0 < 10:
    try:
        if open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0] == "T":
            break
    except OSError:
        sys.exit("the scan ended before it started")
    time.sleep(0.001)
else:
    sys.exit("the scan never stopped at its start")
os.kill(pid, signal.SIGCONT)
while time.time() - t0 < 60:
    try:
        io = dict(l.split(": ") for l in open("/proc/%d/io" % pid).read().splitlines())
    except OSError:
        sys.exit("the scan ended before it could be stopped")
    if int(io["rchar"]) >= mark:
        os.kill(pid, signal.SIGSTOP)
        sys.exit(0)
    time.sleep(0.0005)
sys.exit("the scan never got going")
PY
}

# timed DESC WANT CURL-REQ...: the request answers WANT within 2 s.
timed() {
	local what=$1 want=$2 t0 t1 secs
	shift 2
	t0=$(date +%s.%N)
	"$@"
	t1=$(date +%s.%N)
	secs=$(echo "$t1 - $t0" | bc)
	echo "$what: HTTP $code in $secs s"
	expect_code "$what" "$want"
	[ "$(echo "$secs < 2" | bc)" = 1 ] && ok ||
	    bad "$what: took $secs s behind a stopped scan"
}
req_capped() { # like req, but gives up after 6 s (a stalled server)
	local who=$1 m=$2 p=$3 tok=${5:-}
	code=$(curl -s -m 6 -o "$T/body" -w '%{http_code}' --cacert "$T/ca.pem" \
	    --cert "$T/$who.crt" --key "$T/$who.key" \
	    ${tok:+-H "Authorization: Bearer $tok"} -X "$m" "$URL${p#/}")
}
login_capped() {
	local c
	c=$(fresh_totp "$T/k/$1.otpauth" "$T/k/$1.step")
	code=$(curl -s -m 6 -o "$T/body" -w '%{http_code}' --cacert "$T/ca.pem" \
	    --cert "$T/k/$1.crt" --key "$T/k/$1.key" -X POST \
	    -H "Content-Type: application/json" -d "{\"totp\":\"$c\"}" \
	    "${URL}v1/session")
	tok=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1])).get('token',''))" "$T/body" 2>/dev/null)
}

# scan_stopped DESC CMD...: runs CMD in the background, stops it mid-scan,
# then logs in and reads; then lets it finish: it must succeed.
scan_stopped() {
	local what=$1
	shift
	# Stopped before it starts: stop_mid_scan lets it go.
	sh -c 'kill -STOP $$; exec "$@"' sh "$@" >"$T/scan.out" \
	    2>"$T/scan.err" &
	SCAN_PID=$!
	if ! stop_mid_scan "$SCAN_PID"; then
		bad "$what: not stopped mid-scan"
		wait "$SCAN_PID"
		return
	fi
	timed "$what: login" 201 login_capped inv
	timed "$what: read" 200 req_capped k/inv GET \
	    "/v1/records/$R1?purpose=$CASE" "" "$tok"
	timed "$what: session" 200 req_capped k/inv GET /v1/session "" "$tok"
	kill -CONT "$SCAN_PID"
	wait "$SCAN_PID"
	[ $? -eq 0 ] && ok || bad "$what: exit: $(head -c 300 "$T/scan.err")"
	SCAN_PID=
}

scan_stopped "verify" "$CV" audit verify --dir "$T/v"
grep -q "^verified 100" "$T/scan.out" && ok ||
    bad "verify covered the big log: $(cat "$T/scan.out")"
scan_stopped "scope" "$CV" scope --dir "$T/v" --principal inv \
    --format json --no-notify
expect_eq "scope found the read" "$R1" \
    "$(json_field "$T/scan.out" "' '.join(r['id'] for r in d['records'])")"
[ "$(stat -c %s "$T/v/audit/entries")" -gt "$BIG" ] && ok ||
    bad "the log grew meanwhile"
stop_server
expect_eq "server exit" 0 "$SRV_RC"
expect_ok "the log verifies" "$CV" audit verify --dir "$T/v"
finish
