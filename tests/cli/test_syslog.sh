#!/bin/bash
# Alerts as RFC 5424 syslog (issue 14) to a real UDP collector on loopback:
# the api worker's (a canary read), keyd's (an enrolment it refuses) and
# the supervisor's (a dead worker) reach it through the supervisor's relay
# (docs/web.md, "Alerts for a SIEM"), `clearvault get` sends its own. Each
# datagram must parse as RFC 5424 (a strict parser, rfc5424.py) and match
# its alerts.jsonl line field by field; PROCID is the process that raised
# it. A collector restarted on the same port gets the alerts after its
# restart, and the one lost while it was down is counted in the
# supervisor's log; the same over TCP with octet counting (RFC 6587). With test hooks, a worker that forges alerts (control
# bytes, '"', '\', ']' in values, junk, an oversized line) gets them
# escaped or refused, never passed on raw. The confined processes still
# hold no network socket.
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

make_vault v 20 || { bad "setup"; finish; exit 1; }
echo "probation_days = 0" >>"$T/v/clearvault.conf"
add_users "$T/v" so:security_officer inv:investigator inv2:investigator ||
    { bad "users"; finish; exit 1; }
"$CV" canaries --dir "$T/v" >"$T/canaries"
python3 -c 'import json,sys
print(json.loads(open(sys.argv[1]).readline())["id"])' "$T/v.jsonl" >"$T/mine"
head -2 "$T/canaries" >>"$T/mine"
CAN1=$(sed -n 1p "$T/canaries")
CAN2=$(sed -n 2p "$T/canaries")
CAN3=$(sed -n 3p "$T/canaries")

RX_PID=
RX_PROTO=udp
RX_OUT=$T/got
rx_start() {	# PORT (0: any)
	rm -f "$T/rxport"
	python3 "$HERE/syslog_rx.py" "$RX_PROTO" "$1" "$T/rxport" "$RX_OUT" &
	RX_PID=$!
	for _ in $(seq 1 50); do
		[ -s "$T/rxport" ] && break
		sleep 0.1
	done
	PORT=$(cat "$T/rxport" 2>/dev/null)
	[ -n "$PORT" ]
}
rx_stop() { kill "$RX_PID" 2>/dev/null; wait "$RX_PID" 2>/dev/null; }
# Waits until the collector holds N datagrams of alert KIND (MSGID).
# Counted by kind: other alerts may come too (approval_off_hours, when
# the test runs outside working hours).
rx_wait() {	# KIND N
	for _ in $(seq 1 100); do
		[ "$(python3 -c 'import json, sys
print(sum(1 for l in open(sys.argv[1])
    if (" %s [" % sys.argv[2]).encode() in
    bytes.fromhex(json.loads(l).get("hex", ""))))' \
		    "$RX_OUT" "$1" 2>/dev/null || echo 0)" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
child() {	# NAME: the server's child process of that name
	for p in $(cat /proc/"$SRV_PID"/task/*/children 2>/dev/null); do
		[ "$(cat /proc/"$p"/comm 2>/dev/null)" = "$1" ] && echo "$p"
	done
}
trap 'rx_stop; kill "$SRV_PID" 2>/dev/null; cv_cleanup' EXIT

# The target's form is checked: a usage error, a config error.
"$CV" serve --dir "$T/v" --syslog "udp:bad host:514" >/dev/null 2>"$T/err"
expect_eq "--syslog with a bad host is a usage error" 2 $?
cp "$T/v/clearvault.conf" "$T/conf.good"
echo "syslog_5424 = udp:127.0.0.1:0" >>"$T/v/clearvault.conf"
"$CV" canaries --dir "$T/v" >/dev/null 2>"$T/err" && bad "port 0 taken" ||
    { grep -q "syslog_5424 must be" "$T/err" && ok || bad "config error"; }
cp "$T/conf.good" "$T/v/clearvault.conf"

rx_start 0 || { bad "collector start"; finish; exit 1; }
echo "syslog_5424 = udp:127.0.0.1:$PORT" >>"$T/v/clearvault.conf"
start_server "$T/v" || { bad "server start"; finish; exit 1; }
SUP=$SRV_PID
KEYD=$(child cv-keyd)
API1=$(child cv-api)
[ -n "$KEYD" ] && [ -n "$API1" ] && ok || bad "the server's children"
# The confined processes hold no socket but AF_UNIX ones (the relay is a
# socketpair): no UDP or TCP socket of theirs reaches the collector.
for p in "$KEYD" "$API1"; do
	inodes=$(ls -l /proc/"$p"/fd 2>/dev/null |
	    sed -n 's/.*socket:\[\([0-9]*\)\].*/\1/p')
	for i in $inodes; do
		if grep -qw "$i" /proc/net/udp /proc/net/udp6 2>/dev/null; then
			bad "pid $p holds a UDP socket"
		fi
	done
done
ok

login so
t_so=$tok
login inv
t_inv=$tok
new_case so "$t_so" "syslog" "$T/mine" inv inv2
expect_code "case" 200
# 1. The api worker: a canary read.
req k/inv GET "/v1/records/$CAN1?purpose=$CASE" "" "$t_inv"
expect_code "a canary read" 200
rx_wait canary 1 && ok || bad "the canary alert reached the collector"
# 2. keyd: an enrolment of an account the log does not show approved.
req "" POST /v1/enrol \
    '{"name":"mole","code":"AAAAA-AAAAA-AAAAA-AAAAA","csr":"x"}'
expect_problem "enrol without an approval" 403
grep -q '"action":"keyd_refused"' "$T/v/alerts.jsonl" && ok ||
    bad "keyd raised its alert"
rx_wait keyd_refused 1 && ok || bad "keyd's alert reached the collector"
# 3. The supervisor: a worker killed.
kill -9 "$API1"
for _ in $(seq 1 50); do
	API2=$(child cv-api)
	[ -n "$API2" ] && [ "$API2" != "$API1" ] && break
	sleep 0.1
done
rx_wait worker_died 1 && ok || bad "the supervisor's alert reached the collector"

# The collector restarts on the same port; an alert raised while it is
# down is lost (UDP), the next ones arrive.
rx_stop
kill -9 "$API2"
for _ in $(seq 1 50); do
	API3=$(child cv-api)
	[ -n "$API3" ] && [ "$API3" != "$API2" ] && break
	sleep 0.1
done
sleep 0.5
rx_start "$PORT" || bad "collector restart on port $PORT"
for _ in $(seq 1 50); do
	req "" GET /healthz
	[ "$code" = 200 ] && break
	sleep 0.1
done
login inv2
req k/inv2 GET "/v1/records/$CAN2?purpose=$CASE" "" "$tok"
expect_code "a canary read after the restart" 200
rx_wait canary 2 && ok || bad "an alert after the collector's restart"
# The supervisor's counts in the api worker's /metrics.
req k/so GET /metrics "" "$t_so"
expect_code "metrics" 200
python3 - "$T/body" <<'PY' && ok || bad "syslog counts in /metrics"
import re, sys
t = open(sys.argv[1]).read()
c = dict(re.findall(r'^clearvault_syslog_alerts_total\{outcome="(\w+)"\} '
                    r'(\d+)$', t, re.M))
assert "# TYPE clearvault_syslog_alerts_total counter" in t, t
assert int(c["sent"]) >= 4 and c["unsent"] == "1" and c["refused"] == "0", c
PY

# 4. A forging worker (test builds only).
HOOKS=0
env CLEARVAULT_FAULT=x "$CV" --version 2>&1 | grep -q "test hook" || HOOKS=1
stop_server
expect_eq "server exit status" 0 "$SRV_RC"
grep -q "syslog_5424 udp:127.0.0.1:$PORT: an alert was not sent" \
    "$T/serve.err" && ok || bad "the lost alert is said in the log"
grep -Eq "syslog_5424 udp:127.0.0.1:$PORT: [0-9]+ alert\(s\) sent, [1-9][0-9]* not sent, 0 refused" \
    "$T/serve.err" && ok || bad "the counts at the stop ($(tail -3 "$T/serve.err"))"
if [ $HOOKS = 1 ]; then
	CLEARVAULT_FAULT=api.hostile_alert:1 start_server "$T/v" ||
	    bad "server start (hostile)"
	req "" GET /healthz
	rx_wait forged_kind_that_is_far_too_long 1 && ok ||
	    bad "the forged alert, escaped"
	sleep 0.3
	stop_server
	grep -Eq "syslog_5424 udp:127.0.0.1:$PORT: [0-9]+ alert\(s\) sent, 0 not sent, 2 refused" \
	    "$T/serve.err" && ok || bad "junk and the oversized line refused"
	expect_eq "server exit status (hostile)" 0 "$SRV_RC"
else
	echo "note: no test hooks in $CV: the forged-alert part is skipped"
fi

# 5. The command line sends its own.
"$CV" get --dir "$T/v" "$CAN3" >/dev/null 2>"$T/get.err"
expect_eq "get of a canary" 0 $?
rx_wait canary 3 && ok || bad "get's alert reached the collector"
expect_eq "get says nothing when all was sent" "" "$(cat "$T/get.err")"
rx_stop

# 6. TCP with octet counting, from `serve --syslog` (over the vault's
# syslog_5424): keyd's refused enrolments. The collector restarts; the
# alert while it is down is counted, the next arrives on a new connection.
RX_PROTO=tcp
RX_OUT=$T/got.tcp
UDP_N=$(wc -l <"$T/got")
rx_start 0 || bad "TCP collector start"
start_server "$T/v" --syslog "tcp:127.0.0.1:$PORT" ||
    bad "server start (TCP)"
enrol_mole() {
	req "" POST /v1/enrol \
	    '{"name":"mole","code":"AAAAA-AAAAA-AAAAA-AAAAA","csr":"x"}'
}
enrol_mole
rx_wait keyd_refused 1 && ok || bad "over TCP"
rx_stop
sleep 0.3
enrol_mole
sleep 0.3
rx_start "$PORT" || bad "TCP collector restart on port $PORT"
sleep 1.2	# past the pause before the next connection
enrol_mole
rx_wait keyd_refused 2 && ok || bad "over TCP after the collector's restart"
stop_server
expect_eq "server exit status (TCP)" 0 "$SRV_RC"
grep -Eq "syslog_5424 tcp:127.0.0.1:$PORT: [0-9]+ alert\(s\) sent, 1 not sent, 0 refused" \
    "$T/serve.err" && ok || bad "TCP counts ($(tail -3 "$T/serve.err"))"
rx_stop
expect_eq "--syslog wins over syslog_5424" "$UDP_N" "$(wc -l <"$T/got")"
python3 - "$HERE" "$T/got.tcp" <<'PY' && ok || bad "RFC 5424 over TCP"
import json, sys
sys.path.insert(0, sys.argv[1])
import rfc5424
n = 0
for l in open(sys.argv[2]):
    r = json.loads(l)
    assert "error" not in r, r
    m = rfc5424.parse(bytes.fromhex(r["hex"]))
    n += m["msgid"] == "keyd_refused"
assert n == 2, n
PY

python3 - "$HERE" "$T/got" "$T/v/alerts.jsonl" \
    "$SUP" "$KEYD" "$API1" "$API3" "$HOOKS" <<'PY' && ok || bad "RFC 5424"
import json, socket, sys
sys.path.insert(0, sys.argv[1])
import rfc5424
got = [bytes.fromhex(json.loads(l)["hex"]) for l in open(sys.argv[2])]
lines = {}
for l in open(sys.argv[3]):
    a = json.loads(l)
    lines[a["event"]["id"]] = a
sup, keyd, api1, api3, hooks = sys.argv[4:9]
host = socket.gethostname()
sev = {"critical": 1, "warning": 4, "info": 6}
seen = {}
for raw in got:
    m = rfc5424.parse(raw)
    assert m["version"] == 1 and m["facility"] == 10, m
    assert m["host"] == host and m["app"] == "clearvault", m
    assert m["procid"].isdigit(), m
    assert list(m["sd"]) == ["clearvault@32473"], m
    sd = m["sd"]["clearvault@32473"]
    if sd.get("event.id") == "f0f0":    # the forged one
        assert hooks == "1"
        assert m["msgid"] == "forged_kind_that_is_far_too_long", m
        assert sd["user.name"] == 'eve#012<81>1 - fake"]\\x', sd
        assert m["msg"] == "line one#015#012line two#033[31m", m
        assert m["procid"] not in (sup, keyd), m
        assert m["ts"] == "2026-01-02T03:04:05.000006Z", m
        seen["forged"] = 1
        continue
    a = lines[sd["event.id"]]     # KeyError: not an alert of the file
    assert m["ts"] == a["@timestamp"], (m, a)
    assert m["msgid"] == a["event"]["action"] == sd["rule.name"], (m, a)
    assert m["severity"] == sev[a["log"]["level"]], (m, a)
    assert sd["log.level"] == a["log"]["level"], sd
    assert sd["event.category"] == a["event"]["category"][0], sd
    assert sd["labels.vault_id"] == a["labels"]["vault_id"], sd
    assert m["msg"] == a["message"], (m, a)
    assert sd.get("user.name") == a.get("user", {}).get("name"), (sd, a)
    assert sd.get("source.ip") == a.get("source", {}).get("ip"), (sd, a)
    cv = a["clearvault"]
    assert sd.get("clearvault.source") == cv.get("source"), (sd, a)
    assert sd.get("clearvault.session") == cv.get("session"), (sd, a)
    assert sd["clearvault.locked"] == str(cv["locked"]).lower(), (sd, a)
    assert sd.get("clearvault.audit_indices") == (",".join(
        map(str, cv["audit_indices"])) or None), (sd, a)
    seen.setdefault(m["msgid"], []).append((m["procid"], sd))
# Who raised what: PROCID is the kernel's word for the sender.
c = seen["canary"]
assert c[0][0] == api1 and c[0][1]["user.name"] == "inv", c
assert c[0][1]["source.ip"] == "127.0.0.1", c
assert c[0][1]["clearvault.locked"] == "true", c
assert c[1][0] == api3 and c[1][1]["user.name"] == "inv2", c
assert c[2][1]["clearvault.source"] == "cli", c
assert c[2][0] not in (sup, keyd, api1, api3), c
k = seen["keyd_refused"]
assert k[0][0] == keyd and k[0][1]["user.name"] == "mole", k
w = seen["worker_died"]
assert w[0][0] == sup and len(w) == 1, w   # the second one was lost
assert hooks == "0" or "forged" in seen, seen
print("%d datagrams checked" % len(got))
PY
finish
