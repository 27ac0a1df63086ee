#!/bin/bash
# The audit log of a PostgreSQL vault lives in PostgreSQL (issue 13, step
# 3): nothing of it in DIR/audit, its entries readable through psql;
# `serve` and CLI commands (two processes, two sessions each) append to
# it at once and give one log, every index once, that verifies and
# proves, with scope and evidence on it (several servers on it:
# cli_nodes); when PostgreSQL ends the log's sessions under a running
# server, a read returns no data (fail closed).
# (cli_pg's search of the cluster's pages, WAL and log for SSNs covers
# the log too: it is in the same database.)
. "$(dirname "$0")/lib.sh"
PG_SH=$(cd "$(dirname "$0")/.." && pwd)/pg.sh
PSQL=/usr/lib/postgresql/15/bin/psql
chmod 711 "$T"
SRV_PID=
trap 'kill "$SRV_PID" 2>/dev/null; sh "$PG_SH" stop "$T/pg" >/dev/null 2>&1;
    rm -rf "$T"' EXIT
uri=$(sh "$PG_SH" start "$T/pg") || { bad "start PostgreSQL"; finish; exit 1; }
sql() { "$PSQL" -X -q -t -A -d "$uri" -c "$1" 2>&1; }
# The log's file NAME (a large object) as hex.
lo_hex() { sql "SELECT encode(lo_get(obj), 'hex') FROM cv_audit_files WHERE name = '$1'"; }

"$CV" gen --count 30 --seed 7 >"$T/v.jsonl"
grep -o '"ssn":"[0-9-]*"' "$T/v.jsonl" | cut -d'"' -f4 >"$T/ssns"
expect_ok "init" "$CV" init --dir "$T/v" --db "$uri"
expect_ok "load" "$CV" load --dir "$T/v" --quiet --canaries 0 "$T/v.jsonl"

# Where the log is: PostgreSQL, not the folder.
for f in entries offsets checkpoints lock tree; do
	[ ! -e "$T/v/audit/$f" ] && ok || bad "DIR/audit/$f exists"
done
expect_eq "the log's large objects" 67 "$(sql "SELECT count(*) FROM cv_audit_files")"
n0=$(sql "SELECT length(lo_get(obj)) / 8 FROM cv_audit_files WHERE name = 'offsets'")
[ "${n0:-0}" -ge 2 ] && ok || bad "entries in PostgreSQL: '$n0'"
# The load's entry, as psql sees it: the action's bytes in `entries`.
lo_hex entries | grep -q "$(printf 'load' | od -An -tx1 | tr -d ' \n')" &&
    ok || bad "the load's entry is not in the large object"

R=()
for i in 1 2 3 4 5 6; do R[$i]=$(sed -n ${i}p "$T/v.jsonl" | cut -c8-26); done
add_users "$T/v" so:security_officer inv:investigator ||
    { bad "users"; finish; exit 1; }
start_server "$T/v" || { bad "server start"; finish; exit 1; }
for u in so inv; do
	login "$u"
	expect_code "login $u" 201
	eval "t_$u=\$tok"
done
req k/so POST /v1/cases '{"title":"pg audit"}' "$t_so"
CASE=$(json_field "$T/body" "d['id']")
add_members k/so "$t_so" "$CASE" "{\"users\":[\"inv\"],\"records\":[\"${R[1]}\",\"${R[2]}\",\"${R[3]}\",\"${R[4]}\",\"${R[5]}\"]}"
expect_code "case filled" 200

# Two writers at once: the server's reads (its keyd's committer) and CLI
# gets in another process.
before=$(sql "SELECT length(lo_get(obj)) / 8 FROM cv_audit_files WHERE name = 'offsets'")
for k in 1 2 3 4; do
	for i in 1 2 3 4 5; do
		echo "/v1/records/${R[$i]}?purpose=$CASE"
	done
done >"$T/paths"
(
	for _ in $(seq 1 12); do
		"$CV" get --dir "$T/v" "${R[6]}" >/dev/null 2>>"$T/cli.err" ||
		    echo fail >>"$T/cli.fail"
	done
) &
cli=$!
batch inv "$t_inv" "$T/paths"
wait "$cli"
expect_eq "the server's 20 reads" 20 "$(grep -c '^200$' "$T/codes")"
[ ! -e "$T/cli.fail" ] && ok || bad "CLI gets failed: $(head -3 "$T/cli.err")"

# PostgreSQL ends the log's sessions (a crash, a failover, an operator):
# the server's next read cannot make its entry durable, and returns no
# data; the store's sessions are left alone.
ended=$(sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'clearvault audit'")
[ "${ended:-0}" -ge 2 ] && ok || bad "the server's log sessions: '$ended'"
req k/inv GET "/v1/records/${R[1]}?purpose=$CASE" "" "$t_inv"
expect_code "a read without its log" 503
grep -q -F -f "$T/ssns" "$T/body" && bad "data in the refusal" || ok
req k/inv GET "/v1/records/${R[2]}?purpose=$CASE" "" "$t_inv"
expect_code "and the next" 503
stop_server

# One log: dense, every index once, the reads of both writers in it.
expect_ok "audit verify" "$CV" audit verify --dir "$T/v"
"$CV" audit tail --dir "$T/v" --json -n 100000 >"$T/log"
python3 - "$T/log" "$before" <<'PY' && ok || bad "one log with both writers' entries"
import json, sys
es = [json.loads(l) for l in open(sys.argv[1])]
idx = [e["index"] for e in es]
assert idx == list(range(len(es))), "indexes not dense"
after = [e for e in es if e["index"] >= int(sys.argv[2])]
server = [e for e in after if e.get("actor") == "inv" and
          e["action"] == "records.get" and e["outcome"] == "allowed"]
cli = [e for e in after if e["action"] == "get" and e["outcome"] == "allowed"]
assert len(server) == 20, len(server)
assert len(cli) == 12, len(cli)
PY
expect_eq "offsets match the entries" "$(wc -l <"$T/log")" \
    "$(sql "SELECT length(lo_get(obj)) / 8 FROM cv_audit_files WHERE name = 'offsets'")"

# Proofs, scope and evidence on it.
expect_ok "checkpoint" "$CV" audit checkpoint --dir "$T/v"
cp "$T/out" "$T/ck"
expect_ok "pubkey" "$CV" audit pubkey --dir "$T/v"
cp "$T/out" "$T/pub"
last=$(($(wc -l <"$T/log") - 1))
expect_ok "prove" "$CV" audit prove --dir "$T/v" --index "$last" \
    --size "$(sed -n 2p "$T/ck")"
cp "$T/out" "$T/proof"
expect_ok "check inclusion" "$CV" audit check --pubkey "$(cat "$T/pub")" \
    --checkpoint "$T/ck" --proof "$T/proof"
run "$CV" scope --dir "$T/v" --principal inv --format json --no-notify
expect_eq "scope runs" 0 "$rc"
python3 - "$T/out" "${R[1]}" <<'PY' && ok || bad "scope: inv read 5 records: $(head -c 300 "$T/out")"
import json, sys
d = json.load(open(sys.argv[1]))
s = json.dumps(d)
assert sys.argv[2] in s, "R1 missing"
PY
expect_ok "evidence export" "$CV" evidence export --dir "$T/v" \
    --incident INC-PG-1 --principal inv --out "$T/ev.json"
expect_ok "evidence verify" "$CV" evidence verify "$T/ev.json" \
    --pubkey "$(cat "$T/pub")"

# An entry staged and never moved, as when every process of the node that
# staged it is killed at once (fault_kill_serve_pg found it): `audit
# verify` moves it first and counts it, and it is the log's last entry.
verified() { sed -n 's/^verified \([0-9]*\) entries.*/\1/p' "$T/out"; }
"$CV" audit tail --dir "$T/v" --json -n 1 >"$T/last"
leaf=$(json_field "$T/last" "d['leaf']")
at=$(sql "INSERT INTO cv_audit_staged(idx, pos, leaf) VALUES
    (nextval('cv_audit_idx'), 1, decode('$leaf', 'base64')) RETURNING idx" |
    head -1)
expect_ok "audit verify, a staged entry" "$CV" audit verify --dir "$T/v"
expect_eq "verify counts the staged entry" "$((at + 1))" "$(verified)"
expect_eq "nothing left staged" 0 "$(sql "SELECT count(*) FROM cv_audit_staged")"
"$CV" audit tail --dir "$T/v" --json -n 5 >"$T/last"
python3 - "$T/last" "$at" "$leaf" <<'PY' && ok || bad "the staged entry at its index"
import json, sys
es = {e["index"]: e for e in map(json.loads, open(sys.argv[1]))}
assert es[int(sys.argv[2])]["leaf"] == sys.argv[3]
PY

finish
