#!/bin/bash
# Alerts for a SIEM: every line of alerts.jsonl is in Elastic Common Schema
# field names (@timestamp with microseconds, event.kind/category/action/
# severity/id, user.name, source.ip, rule.name, labels.vault_id, and the
# audit entries in clearvault.audit_indices), from every writer (the api
# worker's guard, `clearvault get`), checked on the raw lines: no field
# may be missing, none null.
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

trap 'kill "$SRV_PID" 2>/dev/null; cv_cleanup' EXIT
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

python3 - "$T/v/alerts.jsonl" "$T/api.json" "$T/log" "$VID" \
    <<'PY' && ok || bad "ECS lines"
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
# Nothing null: a field not known is left out.
def nulls(o, at=""):
    if o is None:
        return [at]
    if isinstance(o, dict):
        return [n for k, v in o.items() for n in nulls(v, at + "." + k)]
    if isinstance(o, list):
        return [n for v in o for n in nulls(v, at)]
    return []
for a in lines:
    assert not nulls(a), (nulls(a), a)
print("%d alerts checked" % len(lines))
PY
expect_eq "server exit status" 0 "$SRV_RC"
finish
