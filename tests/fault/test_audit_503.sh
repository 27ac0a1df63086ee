#!/bin/bash
# Write-ahead, seen from `scope`: a read whose audit entry could not be
# made durable is answered 503 and returns nothing, so scope must never
# count it as returned - not after the server goes on, and not after it is
# killed and the next open repairs the log. (audit.commit:K fails the K-th
# group commit of the server process after its bytes were written, as a
# failed fdatasync does.)
. "$(dirname "$0")/../cli/lib.sh"

SRV_PID=
trap 'kill -9 "$SRV_PID" 2>/dev/null; cv_cleanup' EXIT
. "$(dirname "$0")/audit_reader.sh"

# scope_ids: the ids scope says were returned to inv.
scope_ids() {
	"$CV" scope --dir "$T/v" --principal inv --format json --no-notify \
	    >"$T/scope.json" 2>"$T/scope.err" || { echo "scope failed:" \
	    "$(cat "$T/scope.err")"; return; }
	json_field "$T/scope.json" "' '.join(r['id'] for r in d['records'])"
}

# The server's batches: serve.start (1), inv's login (2), the read (3).
K=3

# 1. The read's commit fails, the server is killed before anything else
# is written: the next open must not bring the read back as returned.
CLEARVAULT_FAULT=audit.commit:$K start_server "$T/v" ||
    { bad "fault server"; finish; exit 1; }
fresh_login inv
expect_code "login" 201
req k/inv GET "/v1/records/$R1?purpose=$CASE" "" "$tok"
expect_code "the read whose entry failed" 503
grep -q "$(sed -n 1p "$T/v.jsonl" | grep -o '"ssn":"[0-9-]*"' | cut -d'"' -f4)" \
    "$T/body" && bad "data in the 503" || ok
crash_server
expect_eq "after kill -9: nothing returned" "" "$(scope_ids)"
expect_ok "the log verifies" "$CV" audit verify --dir "$T/v"

# 2. The same, but the server goes on: a later read is counted, the
# failed one is not, and nothing of it is left in the entries file.
CLEARVAULT_FAULT=audit.commit:$K start_server "$T/v" ||
    { bad "fault server 2"; finish; exit 1; }
fresh_login inv
req k/inv GET "/v1/records/$R1?purpose=$CASE" "" "$tok"
expect_code "the failed read again" 503
req k/inv GET "/v1/records/$R2?purpose=$CASE" "" "$tok"
expect_code "the next read" 200
stop_server
expect_eq "server exit" 0 "$SRV_RC"
expect_eq "only the read that was answered" "$R2" "$(scope_ids)"
expect_ok "the log verifies" "$CV" audit verify --dir "$T/v"
"$CV" audit tail --dir "$T/v" --json -n 100000 >"$T/log"
python3 - "$T/log" "$R1" <<'PY' && ok || bad "no entry of the failed reads"
import json, sys
es = [json.loads(l) for l in open(sys.argv[1])]
assert not [e for e in es if e["action"] == "records.get" and
            sys.argv[2] in e["records"] and e["outcome"] == "allowed"]
PY
finish
