#!/bin/bash
# A vault whose records are in PostgreSQL (issue 13, step 2): init with
# --db on a throwaway PostgreSQL 15 (tests/pg.sh: a Unix socket, peer
# authentication, every statement logged with its parameters) and its
# first officers, load, get, find, shred, rotate, audit verify, each a
# separate command that finds the database through clearvault.conf; on a
# second database, a user granted through the server and a login. Then the server's files (base/,
# pg_wal/) and its log hold the record ids (so the search is real) and
# none of the SSNs the records carry in plaintext.
. "$(dirname "$0")/lib.sh"
# The postgres user runs the server from $T/pg (stopped by cv_cleanup).
chmod 711 "$T"
uri=$(sh "$PG_SH" start "$T/pg") || { bad "start PostgreSQL"; finish; exit 1; }
pgq() { "$PSQL" -X -q -t -A -d "$uri" -c "$1" 2>&1; }

"$CV" gen --count 200 --seed 7 >"$T/in.jsonl"
grep -o '"ssn":"[0-9-]*"' "$T/in.jsonl" | cut -d'"' -f4 >"$T/ssns"
expect_eq "every record has an SSN" 200 "$(sort -u "$T/ssns" | wc -l)"

# Refused before anything is made: a password, a path, TCP without TLS.
expect_fail "a password in the URI" "never with a password" \
    "$CV" init --dir "$T/pw" --db "postgresql://me:secret@/clearvault?host=$T/pg"
[ ! -e "$T/pw" ] && ok || bad "a refused init left $T/pw"
expect_fail "not a URI" "postgresql:// URI" \
    "$CV" init --dir "$T/p2" --db "$T/x.db"
expect_fail "TCP without verify-full" "sslmode=verify-full" \
    "$CV" init --dir "$T/p3" --db "postgresql://127.0.0.1/clearvault"

expect_ok "init" "$CV" init --dir "$T/v" --db "$uri" --officer so1 \
    --officer so2 --admin adm1
grep -qxF "db = $uri" "$T/v/clearvault.conf" && ok ||
    bad "clearvault.conf lacks the db line"
[ ! -e "$T/v/vault.db" ] && ok || bad "init made a SQLite file too"
expect_eq "the tables are in PostgreSQL" 1 \
    "$(pgq "SELECT count(*) FROM meta WHERE k = 'schema'")"
expect_fail "a second vault on the same database" "not empty" \
    "$CV" init --dir "$T/v2" --db "$uri"
expect_ok "user list" "$CV" user list --dir "$T/v"
for u in so1 so2 adm1; do
	grep -q "^$u " "$T/out" && ok || bad "user list lacks $u: $(cat "$T/out")"
done
expect_eq "users in PostgreSQL" 3 "$(pgq "SELECT count(*) FROM users")"

expect_ok "load" "$CV" load --dir "$T/v" --quiet "$T/in.jsonl"
# 200 records and the canaries the load planted, each with its key.
n=$(pgq "SELECT count(*) FROM records")
[ "$n" -gt 200 ] && ok || bad "records in PostgreSQL: $n"
expect_eq "a key per record" "$n" "$(pgq "SELECT count(*) FROM deks")"

line=$(sed -n 9p "$T/in.jsonl")
id=$(printf '%s' "$line" | cut -c8-26)
ssn=$(sed -n 9p "$T/ssns")
other=$(sed -n 10p "$T/in.jsonl" | cut -c8-26)
expect_ok "get" "$CV" get --dir "$T/v" "$other"
grep -qF "$(sed -n 10p "$T/ssns")" "$T/out" && ok ||
    bad "get did not give the record back"
expect_ok "find" "$CV" find --dir "$T/v" --ssn "$ssn"
expect_eq "found" "$id" "$(cat "$T/out")"
expect_ok "shred" "$CV" shred --dir "$T/v" "$id"
expect_fail "get after shred" "shredded" "$CV" get --dir "$T/v" "$id"
expect_ok "find after shred" "$CV" find --dir "$T/v" --ssn "$ssn"
expect_eq "not found after shred" "" "$(cat "$T/out")"
expect_eq "its key is gone" "0" \
    "$(pgq "SELECT count(*) FROM deks WHERE rid = '$id'")"
expect_ok "others unaffected" "$CV" get --dir "$T/v" "$other"
gen0=$(pgq "SELECT DISTINCT gen FROM deks")
expect_ok "rotate" "$CV" rotate --dir "$T/v"
gen1=$(pgq "SELECT DISTINCT gen FROM deks")
[ -n "$gen1" ] && [ "$gen1" != "$gen0" ] && ok ||
    bad "rotate left the keys' generation at '$gen0' -> '$gen1'"
expect_ok "get after rotate" "$CV" get --dir "$T/v" "$other"
expect_fail "still shredded after rotate" "shredded" \
    "$CV" get --dir "$T/v" "$id"
expect_ok "audit verify" "$CV" audit verify --dir "$T/v"
# backup copies the SQLite file; PostgreSQL's tools copy a database.
expect_fail "backup" "pg_dump" "$CV" backup --dir "$T/v" --out "$T/bk"

# Through the server, on a second vault (a second database): a user
# granted by two people (a proposal, its approval), enrolled, logged in.
runuser -u postgres -- "$PSQL" -X -q -h "$T/pg" -d postgres \
    -c "CREATE DATABASE cv2 OWNER \"$(id -un)\"" || bad "create cv2"
expect_ok "init a second vault" "$CV" init --dir "$T/w" \
    --db "postgresql:///cv2?host=$T/pg"
expect_ok "load it" "$CV" load --dir "$T/w" --quiet --canaries 0 "$T/in.jsonl"
add_users "$T/w" inv:investigator && ok || bad "grant a user through the server"
if start_server "$T/w"; then
	login inv
	expect_eq "login" 201 "$code"
	stop_server
	expect_eq "the server's exit" 0 "$SRV_RC"
else
	bad "server start"
fi

# What PostgreSQL wrote: its files after a clean stop (every page out of
# shared buffers), its WAL, its log of every statement and parameter.
sh "$PG_SH" stop "$T/pg" || bad "stop PostgreSQL"
pg_no_ssns "$T/pg" "$other" "$T/ssns"
finish
