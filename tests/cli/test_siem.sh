#!/bin/bash
# Alerts for a SIEM: every line of alerts.jsonl is in Elastic Common Schema
# field names (@timestamp with microseconds, event.kind/category/action/
# severity/id, user.name, source.ip, rule.name, labels.vault_id, and the
# audit entries in clearvault.audit_indices), from every writer (the api
# worker's guard, `clearvault get`); with syslog_5424 set, each alert
# also goes out as an RFC 5424 message with structured data, to a real
# UDP receiver here, carrying the same event id; a bad target is refused
# at start with the reason.
. "$(dirname "$0")/lib.sh"

make_vault v 20 || { bad "setup"; finish; exit 1; }
echo "probation_days = 0" >>"$T/v/clearvault.conf"
add_users "$T/v" so:security_officer inv:investigator ||
    { bad "users"; finish; exit 1; }
VID=$(sed -n 's/^vault_id = //p' "$T/v/clearvault.conf")
"$CV" canaries --dir "$T/v" >"$T/canaries"
python3 -c 'import json,sys
print(json.loads(open(sys.argv[1]).readline())["id"])' "$T/v.jsonl" >"$T/mine"
head -1 "$T/canaries" >>"$T/mine"
CAN2=$(sed -n 2p "$T/canaries")

# The receiver: every datagram, one a line.
PORT=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 - "$PORT" "$T/syslog" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
with open(sys.argv[2], "ab", buffering=0) as f:
    while True:
        d, _ = s.recvfrom(65536)
        f.write(d.replace(b"\n", b" ") + b"\n")
PY
RECV=$!
trap 'kill "$SRV_PID" $RECV 2>/dev/null; cv_cleanup' EXIT
sleep 0.3

# A bad target stops the start, naming the key.
cp "$T/v/clearvault.conf" "$T/conf.keep"
echo "syslog_5424 = udp:example.org:514" >>"$T/v/clearvault.conf"
expect_fail "a bad syslog_5424 is refused" "syslog_5424" "$CV" serve \
    --dir "$T/v" --listen 127.0.0.1:0
cp "$T/conf.keep" "$T/v/clearvault.conf"
echo "syslog_5424 = udp:127.0.0.1:$PORT" >>"$T/v/clearvault.conf"

# Only alerts from here on go to the receiver too.
FROM=$(wc -l <"$T/v/alerts.jsonl" 2>/dev/null || echo 0)
start_server "$T/v" || { bad "server start"; finish; exit 1; }
login so
t_so=$tok
login inv
t_inv=$tok
new_case so "$t_so" "siem" "$T/mine" inv
expect_code "case" 200
req k/inv GET "/v1/records/$(tail -1 "$T/mine")?purpose=$CASE" "" "$t_inv"
expect_code "a canary read (an alert, and inv locked)" 200
req k/so GET /v1/alerts "" "$t_so"
expect_code "alerts listed" 200
cp "$T/body" "$T/api.json"
stop_server
# The command line's alert, through the same writer.
"$CV" get --dir "$T/v" "$CAN2" >/dev/null 2>&1
sleep 0.5
"$CV" audit tail --dir "$T/v" --json -n 100000 >"$T/log"

python3 - "$T/v/alerts.jsonl" "$T/api.json" "$T/log" "$VID" "$T/syslog" \
    "$FROM" <<'PY' && ok || bad "ECS lines and RFC 5424 messages"
import json, re, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
api = json.load(open(sys.argv[2]))["alerts"]
log = {e["index"]: e for e in map(json.loads, open(sys.argv[3]))}
vid = sys.argv[4]
ts = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
ids = set()
for a in lines:
    assert ts.match(a["@timestamp"]), a["@timestamp"]
    ev = a["event"]
    assert ev["kind"] == "alert" and isinstance(ev["category"], list), ev
    assert ev["category"][0] in ("intrusion_detection", "iam", "host",
                                 "process"), ev
    assert ev["severity"] in (21, 47, 99) and re.match(r"^[0-9a-f]{32}$",
                                                       ev["id"]), ev
    assert ev["id"] not in ids, "event ids repeat"
    ids.add(ev["id"])
    assert a["rule"]["name"] == ev["action"] and a["message"], a
    assert a["labels"]["vault_id"] == vid, a
    assert a["log"]["level"] in ("warning", "critical"), a
    assert {"vendor", "product", "version"} <= set(a["observer"]), a
    for i in a["clearvault"]["audit_indices"]:
        assert i in log, (i, a)
# GET /v1/alerts gives the same lines (those written while it ran).
assert api == lines[:len(api)], "GET /v1/alerts differs from the file"
can = [a for a in lines if a["event"]["action"] == "canary"]
web = [a for a in can if a.get("source", {}).get("ip") == "127.0.0.1"]
cli = [a for a in can if a["clearvault"].get("source") == "cli"]
assert len(web) == 1 and len(cli) == 1, can
w = web[0]
assert w["user"]["name"] == "inv" and w["event"]["severity"] == 99, w
assert w["event"]["category"] == ["intrusion_detection"], w
assert w["clearvault"]["locked"] is True and w["clearvault"]["session"], w
e = log[w["clearvault"]["audit_indices"][0]]
assert e["actor"] == "inv" and e["action"] == "records.get", e
# RFC 5424: <PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG, one per alert
# of the server's processes (the command line has no target: it reads
# the same file, so it sends too).
sd = re.compile(r'^<(\d+)>1 (\S+) (\S+) clearvault (\d+) (\S+) '
                r'\[clearvault@32473((?: [a-z_]+="(?:[^"\\\]]|\\.)*")+)\] (.*)$')
msgs = {}
for l in open(sys.argv[5]):
    m = sd.match(l.rstrip("\n"))
    assert m, "not RFC 5424 with structured data: %r" % l
    pri, when, host, pid, msgid, params, text = m.groups()
    assert ts.match(when), when
    p = dict(re.findall(r'([a-z_]+)="((?:[^"\\\]]|\\.)*)"', params))
    assert p["kind"] == msgid and p["vault"] == vid, p
    assert int(pri) == 10 * 8 + (1 if p["severity"] == "critical" else 4)
    msgs[p["event_id"]] = (p, text)
for a in lines[int(sys.argv[6]):]:
    assert a["event"]["id"] in msgs, "alert not sent to syslog: %s" % a
    p, text = msgs[a["event"]["id"]]
    assert text == a["message"] and p["kind"] == a["event"]["action"], p
p, _ = msgs[w["event"]["id"]]
assert p["user"] == "inv" and p["source"] == "127.0.0.1", p
assert p["locked"] == "true" and p["audit_index"] == str(
    w["clearvault"]["audit_indices"][0]), p
print("%d alerts, %d syslog messages" % (len(lines), len(msgs)))
PY
expect_eq "server exit status" 0 "$SRV_RC"
finish
