#!/bin/bash
# Two servers on one vault: the guard's budgets and locks live in the
# server's memory, so a second server would give every user a second
# budget and never hear of the first one's locks. The second one must
# refuse to start, naming the first one's PID, and log its refusal; once
# the first dies (kill -9 included: no clean-up runs), its lock file is
# stale and must not block the next start.
. "$(dirname "$0")/../cli/lib.sh"

SRV_PID=
P2=
trap 'kill "$SRV_PID" $P2 2>/dev/null; cv_cleanup' EXIT

make_vault v 5 || { bad "setup"; finish; exit 1; }
"$CV" ca-cert --dir "$T/v" >"$T/ca.pem"
start_server "$T/v" || { bad "server 1 start"; finish; exit 1; }
P1=$SRV_PID
req "" GET /healthz
expect_code "server 1 answers" 200

# Server 2, another port: refused at once, before it listens.
run timeout 20 "$CV" serve --dir "$T/v" --listen 127.0.0.1:0
expect_eq "server 2 exits with 1" 1 "$rc"
grep -q "pid $P1\b" "$T/err" && ok ||
    bad "server 2 names server 1's pid $P1: $(head -c 300 "$T/err")"
grep -q "listening" "$T/out" && bad "server 2 listened" || ok
# Its refusal is on the log; it logged no start.
"$CV" audit tail --dir "$T/v" --json -n 1000 >"$T/log"
python3 - "$T/log" <<'PY' && ok || bad "the log: one start, then the refused one"
import json, sys
es = [json.loads(l) for l in open(sys.argv[1])]
starts = [e for e in es if e["action"] == "serve.start"]
assert len(starts) == 2, starts
assert starts[0]["outcome"] == "allowed", starts[0]
assert starts[1]["outcome"] == "error" and "pid" in starts[1]["reason"], \
    starts[1]
PY
req "" GET /healthz
expect_code "server 1 still answers" 200

# kill -9: no handler runs, serve.lock stays behind with a dead PID.
kill -9 "$P1"
wait "$P1" 2>/dev/null
[ -s "$T/v/serve.lock" ] && ok || bad "serve.lock left behind by kill -9"
start_server "$T/v" || bad "server 2 starts after server 1 died"
P2=$SRV_PID
req "" GET /healthz
expect_code "server 2 answers" 200
expect_eq "serve.lock names server 2" "$P2" "$(tr -dc 0-9 <"$T/v/serve.lock")"
stop_server
P2=
expect_eq "server 2 stops cleanly" 0 "$SRV_RC"
# A clean stop: the next one starts too.
start_server "$T/v" || bad "a third server starts after a clean stop"
stop_server
finish
