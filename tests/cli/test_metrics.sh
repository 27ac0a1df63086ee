#!/bin/bash
# /metrics for a monitoring system: a user of the role "metrics" scrapes
# with its certificate alone and can do nothing else (no session, no
# record, no other route); the text has what an operator needs (request
# durations by route and status, the log's commit latency, the guard's
# decisions, alerts by severity, locked users, active sessions,
# build_info) and counts what happened; docs/prometheus.yml, as shipped,
# makes a real Prometheus scrape it.
. "$(dirname "$0")/lib.sh"

make_vault v 20 || { bad "setup"; finish; exit 1; }
echo "probation_days = 0" >>"$T/v/clearvault.conf"
add_users "$T/v" so:security_officer inv:investigator prom:metrics ||
    { bad "users"; finish; exit 1; }
VID=$(sed -n 's/^vault_id = //p' "$T/v/clearvault.conf")
"$CV" canaries --dir "$T/v" >"$T/canaries"
ids() { python3 -c 'import json,sys
for l in list(open(sys.argv[1]))[int(sys.argv[2]) - 1:int(sys.argv[3])]:
    print(json.loads(l)["id"])' "$@"; }
ids "$T/v.jsonl" 1 3 >"$T/mine"
head -1 "$T/canaries" >>"$T/mine"
start_server "$T/v" || { bad "server start"; finish; exit 1; }
trap 'kill "$SRV_PID" ${PROM_PID:-} 2>/dev/null; cv_cleanup' EXIT

scrape() { req k/prom GET /metrics; }
val() {	# METRIC-WITH-LABELS: its value in $T/body, or "none"
	python3 - "$T/body" "$1" <<'PY'
import sys
want = sys.argv[2]
for line in open(sys.argv[1]):
    if line.startswith(want + " "):
        print(line.split()[-1]); break
else:
    print("none")
PY
}
scrape
expect_code "metrics account scrapes with its certificate alone" 200
grep -q "^clearvault_build_info{version=\"[0-9.]*\",vault=\"$VID\"} 1$" \
    "$T/body" && ok || bad "no build_info: $(head -c 300 "$T/body")"
expect_eq "no user locked yet" 0 "$(val clearvault_locked_users)"

# ---- the metrics account can do nothing else -------------------------------
c=$(totp "$T/k/prom.otpauth")
req k/prom POST /v1/session "{\"totp\":\"$c\"}"
expect_code "metrics account: no session" 403
R1=$(head -1 "$T/mine")
for p in /v1/session /v1/alerts "/v1/records/$R1" /v1/users /v1/audit/checkpoint; do
	req k/prom GET "$p"
	expect_code "metrics account: GET $p" 401
done
# Others still need a session for /metrics: a certificate alone is not
# enough.
req k/inv GET /metrics
expect_code "an investigator's certificate alone" 401
login inv
t_inv=$tok
req k/inv GET /metrics "" "$t_inv"
expect_code "an investigator with a session" 200

# ---- what happened shows --------------------------------------------------
login so
t_so=$tok
new_case so "$t_so" "metrics" "$T/mine" inv
expect_code "case with inv and the records" 200
for r in $(head -3 "$T/mine"); do
	req k/inv GET "/v1/records/$r?purpose=$CASE" "" "$t_inv"
	expect_code "read $r" 200
done
req k/inv GET "/v1/records/$(tail -1 "$T/mine")?purpose=$CASE" "" "$t_inv"
expect_code "a canary is returned (and locks inv)" 200
req k/inv GET "/v1/records/$R1?purpose=$CASE" "" "$t_inv"
[ "$code" = 403 ] || [ "$code" = 401 ] && ok ||
    bad "inv not refused after the canary: $code"
scrape
expect_code "scrape after the reads" 200
cp "$T/body" "$T/metrics.txt"
python3 - "$T/metrics.txt" <<'PY' && ok || bad "metrics after the reads"
import re, sys
m = {}
for line in open(sys.argv[1]):
    if line.startswith("#") or not line.strip():
        continue
    k, v = line.rsplit(" ", 1)
    m[k] = float(v)
def get(k):
    assert k in m, "missing: " + k
    return m[k]
ok_reads = get('clearvault_http_request_duration_seconds_count{route="records.get",status="200"}')
assert ok_reads >= 4, ok_reads
# buckets are cumulative and end at the count
b = [(k, v) for k, v in m.items() if k.startswith(
    'clearvault_http_request_duration_seconds_bucket{route="records.get",status="200"')]
vals = [v for k, v in b]
assert vals == sorted(vals) and vals[-1] == ok_reads, b
assert get('clearvault_http_request_duration_seconds_count{route="session.create",status="201"}') >= 2
assert get("clearvault_audit_commit_seconds_count") >= 6
assert get('clearvault_audit_commit_seconds_bucket{le="+Inf"}') == get("clearvault_audit_commit_seconds_count")
assert get('clearvault_guard_decisions_total{outcome="allow"}') >= 3
assert get('clearvault_guard_decisions_total{outcome="allow_then_lock"}') >= 1
assert get('clearvault_alerts_total{severity="critical"}') >= 1
assert get("clearvault_locked_users") == 1
assert get("clearvault_sessions_active") >= 1
assert get("clearvault_hsm_up") == 1
PY
# The token gone: every other request is refused (503), the scrape goes
# on and says so; back when the token is.
hsm_is() {	# WANT: polls the scrape for up to 10 s
	for _ in $(seq 1 50); do
		scrape
		[ "$code" = 200 ] && [ "$(val clearvault_hsm_up)" = "$1" ] &&
		    return 0
		sleep 0.2
	done
	return 1
}
mv "$T/v/token/objects" "$T/objects.away"
hsm_is 0 && ok || bad "hsm_up does not drop to 0: $code $(val clearvault_hsm_up)"
req k/inv GET /v1/session "" "$t_inv"
expect_code "other requests refused while the token is gone" 503
mv "$T/objects.away" "$T/v/token/objects"
hsm_is 1 && ok || bad "hsm_up not back to 1"
# Scrapes are requests like any other: each is in the log.
stop_server
"$CV" audit tail --dir "$T/v" --json -n 200 >"$T/log"
python3 - "$T/log" <<'PY' && ok || bad "scrapes audited"
import json, sys
es = [json.loads(l) for l in open(sys.argv[1])]
s = [e for e in es if e["action"] == "metrics" and e["actor"] == "prom"]
assert len(s) >= 2 and all(e["outcome"] == "allowed" for e in s), s[:2]
cert = s[0]["cert"]
d = [e for e in es if e["cert"] == cert and e["outcome"] != "allowed"]
assert len(d) >= 6, "refusals of the metrics account not logged: %d" % len(d)
PY

# ---- a real Prometheus, with the shipped scrape config ---------------------
PROM=$(command -v prometheus || true)
if [ -z "$PROM" ]; then
	bad "prometheus missing (scripts/deps.sh installs it)"
	finish
	exit 1
fi
start_server "$T/v" || { bad "server restart"; finish; exit 1; }
HP=${URL#https://}
HP=${HP%/}
PPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DOCS=$(cd "$(dirname "$0")/../../docs" && pwd)
sed -e "s|/etc/prometheus/clearvault/ca.pem|$T/ca.pem|" \
    -e "s|/etc/prometheus/clearvault/prom.crt|$T/k/prom.crt|" \
    -e "s|/etc/prometheus/clearvault/prom.key|$T/k/prom.key|" \
    -e "s|vault.example:8443|$HP|" -e "s|scrape_interval: 15s|scrape_interval: 1s|" \
    "$DOCS/prometheus.yml" >"$T/prometheus.yml"
grep -q "$HP" "$T/prometheus.yml" && ok || bad "the config's target was not set"
"$PROM" --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom" \
    --web.listen-address="127.0.0.1:$PPORT" >"$T/prom.log" 2>&1 &
PROM_PID=$!
q() { curl -s "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$1"; }
got=""
for _ in $(seq 1 60); do
	got=$(q 'up{job="clearvault"}' | python3 -c 'import json,sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "")' 2>/dev/null)
	[ "$got" = 1 ] && break
	sleep 0.5
done
expect_eq "Prometheus scrapes the node (up == 1)" 1 "$got"
got=$(q "clearvault_build_info{vault=\"$VID\"}" | python3 -c 'import json,sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "")' 2>/dev/null)
expect_eq "Prometheus has build_info" 1 "$got"
kill "$PROM_PID" 2>/dev/null
wait "$PROM_PID" 2>/dev/null
PROM_PID=
stop_server
expect_eq "server exit status" 0 "$SRV_RC"
finish
