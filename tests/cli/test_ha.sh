#!/bin/bash
# High availability (issue 13): a PostgreSQL primary and a synchronous
# streaming standby, both started here (tests/pg.sh start, standby). A
# node serves reads, writes a record, and a canary read locks its reader;
# then the primary is killed (kill -9 of the postmaster), the standby
# promoted and the node pointed at it (db = in its clearvault.conf, and a
# restart). Nothing acknowledged is lost: every read answered 200 has its
# entry, the written record and the lock are there, and `audit verify`
# passes on the promoted database.
. "$(dirname "$0")/lib.sh"
PG_SH=$(cd "$(dirname "$0")/.." && pwd)/pg.sh
PSQL=/usr/lib/postgresql/15/bin/psql
chmod 711 "$T"
SRV_PID=
trap 'kill -9 "$SRV_PID" $(cat /proc/"$SRV_PID"/task/*/children 2>/dev/null) \
    2>/dev/null; sh "$PG_SH" stop "$T/s" >/dev/null 2>&1
    sh "$PG_SH" stop "$T/p" >/dev/null 2>&1
    [ -n "${CV_KEEP:-}" ] || rm -rf "$T"' EXIT
up=$(sh "$PG_SH" start "$T/p") || { bad "start the primary"; finish; exit 1; }
us=$(sh "$PG_SH" standby "$T/p" "$T/s") ||
    { bad "start the standby"; finish; exit 1; }
ok
sql() { "$PSQL" -X -q -t -A -d "$1" -c "$2" 2>&1; }
expect_eq "the standby is synchronous" sync \
    "$(runuser -u postgres -- "$PSQL" -X -t -A -h "$T/p" -d postgres \
    -c "SELECT sync_state FROM pg_stat_replication")"
ids() { sed -n "$2,$3p" "$1" | cut -c8-26; }	# FILE FROM TO

"$CV" gen --count 100 --seed 13 >"$T/v.jsonl"
"$CV" gen --count 1 --seed 14 >"$T/new.jsonl"
NEW=$(cut -c8-26 "$T/new.jsonl")
expect_ok "init" "$CV" init --dir "$T/v" --db "$up"
expect_ok "load" "$CV" load --dir "$T/v" --quiet "$T/v.jsonl"
echo "probation_days = 0" >>"$T/v/clearvault.conf"
"$CV" canaries --dir "$T/v" >"$T/canaries"
CANARY=$(sed -n 4p "$T/canaries")
add_users "$T/v" so:security_officer inv:investigator canr:investigator ||
    { bad "users"; finish; exit 1; }
start_server "$T/v" || { bad "server start"; finish; exit 1; }
login so
expect_code "login so" 201
t_so=$tok
{ ids "$T/v.jsonl" 1 30; echo "$CANARY"; } >"$T/case.ids"
new_case so "$t_so" ha "$T/case.ids" inv canr
expect_code "a case" 200

# ---- acknowledged work on the primary ----------------------------------
login_fresh inv
expect_code "login inv" 201
t_inv=$tok
ids "$T/v.jsonl" 1 12 | sed "s|^|/v1/records/|; s|\$|?purpose=$CASE|" \
    >"$T/paths"
batch inv "$t_inv" "$T/paths"
expect_eq "12 reads answered" 12 "$(grep -c '^200$' "$T/codes")"
req k/inv POST "/v1/records?purpose=$CASE" "$(cat "$T/new.jsonl")" "$t_inv"
expect_code "a record written" 201
login_fresh canr
expect_code "login canr" 201
req k/canr GET "/v1/records/$CANARY?purpose=$CASE" "" "$tok"
expect_code "canr reads a canary (and is locked)" 200
expect_eq "the lock is a row on the primary" 1 \
    "$(sql "$up" "SELECT count(*) FROM guard_locks WHERE u = 'canr'")"
# What the standby already has: a synchronous COMMIT waited for it.
expect_eq "the standby has the lock" 1 \
    "$(sql "$us" "SELECT count(*) FROM guard_locks WHERE u = 'canr'")"

# ---- the primary dies; the standby takes over --------------------------
kill -9 "$(head -1 "$T/p/data/postmaster.pid")"
sleep 0.5
req k/inv GET "/v1/records/$(ids "$T/v.jsonl" 13 13)?purpose=$CASE" "" \
    "$t_inv"
case "$code" in 200) bad "a read answered with the database gone" ;; *) ok ;; esac
crash_server
sh "$PG_SH" promote "$T/s" || bad "promote"
sed -i "s|^db = .*|db = $us|" "$T/v/clearvault.conf"
start_server "$T/v" || { bad "server start on the standby"; finish; exit 1; }

# ---- nothing acknowledged was lost --------------------------------------
expect_ok "audit verify on the promoted database" \
    "$CV" audit verify --dir "$T/v"
"$CV" audit tail --dir "$T/v" --json -n 100000000 >"$T/log"
python3 - "$T/log" "$NEW" <<'PY' && ok || bad "the acknowledged entries"
import json, sys
es = [json.loads(l) for l in open(sys.argv[1])]
got = [e for e in es if e["actor"] == "inv" and e["action"] == "records.get"
       and e["outcome"] == "allowed"]
assert len(got) >= 12, len(got)
made = [e for e in es if e["action"] == "records.create" and
        e["outcome"] == "allowed"]
assert len(made) == 1, made
locks = [e for e in es if e["action"] == "guard.lock" and e["actor"] == "canr"]
assert locks, "no guard.lock entry"
PY
expect_ok "the written record" "$CV" get --dir "$T/v" "$NEW"
# inv's session is a row: it outlived the failover, and its count too
# (13 of its 20: 12 reads and the record it wrote), so it reads on
# without a step-up.
req k/inv GET "/v1/records/$(ids "$T/v.jsonl" 15 15)?purpose=$CASE" "" \
    "$t_inv"
expect_code "inv's session from before the failover reads" 200
expect_eq "its count went on from the primary's" 14 \
    "$(sql "$us" "SELECT count(*) FROM guard_session_reads g JOIN sessions s
    ON s.id = g.s WHERE s.\"user\" = 'inv'")"
login_fresh canr
expect_code "canr still locked after the failover" 403
login_fresh inv
expect_code "inv logs in on the promoted database" 201
req k/inv GET "/v1/records/$(ids "$T/v.jsonl" 14 14)?purpose=$CASE" "" "$tok"
expect_code "and reads" 200
stop_server
expect_eq "server exit status" 0 "$SRV_RC"
finish
