#!/bin/bash
# Privilege separation, proven on the running server: the api worker has
# no PKCS#11 module, no keyring key and no data key in its memory, runs
# under seccomp with NoNewPrivs, and dies alone (and is restarted, logged,
# alerted) when it makes a forbidden system call; keyd has no network
# socket; a kill -9 of any process leaves no orphan and loses nothing
# acknowledged. Needs a test build (clearvault test-secrets).
. "$(dirname "$0")/lib.sh"

make_vault v 20 || { bad "setup"; finish; exit 1; }
add_users "$T/v" so:security_officer adj:adjudicator ||
    { bad "users"; finish; exit 1; }
R1=$(sed -n 1p "$T/v.jsonl" | cut -c8-26)
start_server "$T/v" || { bad "server start"; finish; exit 1; }
trap 'kill "$SRV_PID" 2>/dev/null; cv_cleanup' EXIT

# child COMM: the pid of the supervisor's child named COMM (empty: none)
child() {
	local p
	for p in $(cat /proc/"$SRV_PID"/task/*/children 2>/dev/null); do
		[ "$(cat /proc/"$p"/comm 2>/dev/null)" = "$1" ] && echo "$p"
	done
}
# flogin USER: a login with a code not used before (sessions live in the
# api worker: a new worker means new logins)
flogin() {
	last_code=$(fresh_totp "$T/k/$1.otpauth" "$T/$1.step")
	req "k/$1" POST /v1/session "{\"totp\":\"$last_code\"}"
	tok=$(json_field "$T/body" "d.get('token','')")
}
KEYD=$(child cv-keyd)
API=$(child cv-api)
[ -n "$KEYD" ] && [ -n "$API" ] && ok || bad "keyd ($KEYD) and api ($API)"
ps -o args= -p "$KEYD" | grep -q "^clearvault: keyd" && ok ||
    bad "keyd is named in ps: $(ps -o args= -p "$KEYD")"
ps -o args= -p "$API" | grep -q "^clearvault: api" && ok ||
    bad "api is named in ps"

# The PKCS#11 module is loaded by keyd only.
grep -q softhsm2 /proc/"$KEYD"/maps && ok || bad "keyd has the HSM module"
grep -q softhsm2 /proc/"$API"/maps && bad "the api worker maps softhsm2" ||
    ok
# The sandbox.
expect_eq "api NoNewPrivs" 1 \
    "$(awk '/^NoNewPrivs:/ { print $2 }' /proc/"$API"/status)"
expect_eq "api Seccomp (filter)" 2 \
    "$(awk '/^Seccomp:/ { print $2 }' /proc/"$API"/status)"
# keyd's sockets are its channels: Unix socketpairs, nothing on the net.
python3 - "$KEYD" <<'PY' && ok || bad "keyd has a network socket"
import os, sys
pid = sys.argv[1]
inodes = set()
for fd in os.listdir(f"/proc/{pid}/fd"):
    t = os.readlink(f"/proc/{pid}/fd/{fd}")
    if t.startswith("socket:["):
        inodes.add(t[8:-1])
assert inodes, "keyd has no channel at all"
net = set()
for f in ("tcp", "tcp6", "udp", "udp6", "raw", "raw6"):
    for line in open(f"/proc/{pid}/net/{f}").readlines()[1:]:
        net.add(line.split()[9])
unix = {l.split()[6] for l in open(f"/proc/{pid}/net/unix").readlines()[1:]}
assert not inodes & net, inodes & net
assert inodes <= unix, inodes - unix
PY

# Reads, then the api worker's memory is searched for every key keyd
# holds and for the data key of the record it just served.
flogin adj
t_adj=$tok
flogin so
t_so=$tok
req k/so POST /v1/cases '{"title":"Memory"}' "$t_so"
CASE=$(json_field "$T/body" "d['id']")
add_members k/so "$t_so" "$CASE" \
    "{\"users\":[\"adj\"],\"records\":[\"$R1\"]}"
expect_code "case" 200
for i in 1 2 3; do
	req k/adj GET "/v1/records/$R1?purpose=$CASE" "" "$t_adj"
	expect_code "read $i" 200
done
grep -q '"identity"' "$T/body" && ok || bad "the read returned data"
"$CV" test-secrets --dir "$T/v" "$R1" >"$T/secrets" 2>"$T/err" ||
    bad "test-secrets: $(cat "$T/err")"
[ "$(wc -l <"$T/secrets")" -ge 6 ] && ok || bad "keys listed"
# scan PID: the labels of the secrets found in PID's memory
scan() { scan_mem "$1" "$T/secrets"; }
in_keyd=$(scan "$KEYD")
# The scanner finds what is there: keyd holds the keyring.
echo "$in_keyd" | grep -q keyring && ok ||
    bad "the scan finds the keys in keyd (got: $in_keyd)"
in_api=$(scan "$API")
expect_eq "keys or data key in the api worker's memory" "" "$in_api"

# A system call outside the allowlist kills that worker only; the
# supervisor logs it, alerts, and starts another; the server goes on.
stop_server
expect_eq "clean stop" 0 "$SRV_RC"
CLEARVAULT_FAULT=api.forbidden_syscall:3 start_server "$T/v" ||
    bad "server start"
API=$(child cv-api)
for i in 1 2 3; do req "" GET /healthz; done
for _ in $(seq 1 50); do
	n=$(child cv-api)
	[ -n "$n" ] && [ "$n" != "$API" ] && break
	sleep 0.1
done
[ -n "$n" ] && [ "$n" != "$API" ] && ok || bad "a new api worker"
for _ in $(seq 1 50); do
	req "" GET /healthz
	[ "$code" = 200 ] && break
	sleep 0.1
done
expect_code "serving again" 200
grep -q '"action":"worker_died"' "$T/v/alerts.jsonl" && ok ||
    bad "alert for the dead worker"
grep -q 'signal 31' "$T/v/alerts.jsonl" && ok || bad "names SIGSYS"
stop_server

# kill -9 of each process in turn.
start_server "$T/v" || bad "server start"
flogin adj
t_adj=$tok
req k/adj GET "/v1/records/$R1?purpose=$CASE" "" "$t_adj"
expect_code "read before the kill" 200
before=$(grep -c . <("$CV" audit tail --dir "$T/v" -n 100000 2>/dev/null))
kill -9 "$(child cv-api)"
for _ in $(seq 1 50); do
	req "" GET /healthz
	[ "$code" = 200 ] && break
	sleep 0.1
done
expect_code "api killed: restarted" 200
KEYD=$(child cv-keyd)
API=$(child cv-api)
kill -9 "$KEYD"
wait "$SRV_PID" 2>/dev/null
rc=$?
[ "$rc" -ne 0 ] && ok || bad "keyd killed: serve fails (exit $rc)"
grep -q "key process" "$T/serve.err" && ok || bad "says why"
sleep 0.2
[ -d /proc/"$API" ] && bad "keyd killed: the api worker lives on" || ok
start_server "$T/v" || bad "restart after keyd's death"
SUP=$SRV_PID
KEYD=$(child cv-keyd)
API=$(child cv-api)
kill -9 "$SUP"
for _ in $(seq 1 50); do
	[ -d /proc/"$KEYD" ] || [ -d /proc/"$API" ] || break
	sleep 0.1
done
[ -d /proc/"$KEYD" ] && bad "supervisor killed: keyd lives on" || ok
[ -d /proc/"$API" ] && bad "supervisor killed: api lives on" || ok
start_server "$T/v" || bad "restart after the supervisor's death"
stop_server
expect_ok "the log verifies" "$CV" audit verify --dir "$T/v"
after=$(grep -c . <("$CV" audit tail --dir "$T/v" -n 100000 2>/dev/null))
[ "$after" -gt "$before" ] && ok || bad "entries kept ($before, $after)"
grep -q serve.worker_died <("$CV" audit tail --dir "$T/v" -n 100000) &&
    ok || bad "the dead worker is on the log"

# The sandboxed processes end with _exit (a sanitizer's leak check cannot
# run inside the filter): the same code, unconfined in one process, gets
# its leak check here, reads included.
start_server "$T/v" --one-process || bad "one-process start"
flogin adj
req k/adj GET "/v1/records/$R1?purpose=$CASE" "" "$tok"
expect_code "one process: a read" 200
stop_server
expect_eq "one process: clean stop (a leak report fails it)" 0 "$SRV_RC"
finish
