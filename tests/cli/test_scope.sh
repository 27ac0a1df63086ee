#!/bin/bash
# clearvault scope against reads made through the real server and the
# command line: exactly the records whose data was returned to a
# principal, certificate, session or address in a window (no denied
# read, no search result, nothing extra), with their sections and
# first/last times; the people to notify; its own audit entries; a
# tampered log refused; usage errors. Each answer is checked against
# hard-coded expectations and against an independent computation from
# `audit tail --json`.
. "$(dirname "$0")/lib.sh"

SRV_PID=
trap 'kill "$SRV_PID" 2>/dev/null; cv_cleanup' EXIT
make_vault v 50 --canaries 0 || { bad "setup"; finish; exit 1; }
add_users "$T/v" so:security_officer inva:investigator invb:investigator \
    aud:auditor || { bad "users"; finish; exit 1; }
for i in 1 2 3 4 5 6; do eval "R$i=\$(sed -n ${i}p \"\$T/v.jsonl\" | cut -c8-26)"; done
SSN6=$(sed -n 6p "$T/v.jsonl" | grep -o '"ssn":"[0-9-]*"' | cut -d'"' -f4)
ME=$(id -un)
INV="identity,contact,history,family,foreign,financial,conduct,biometrics"

# A fresh TOTP code for USER: a step is accepted once per user, so a
# second login takes the next unused step (as in test_guard.sh).
code() {	# USER
	fresh_totp "$T/k/$1.otpauth" "$T/k/$1.step"
}
login2() {	# USER: a new session; its token in $tok
	req "k/$1" POST /v1/session "{\"totp\":\"$(code "$1")\"}"
	tok=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1])).get('token',''))" "$T/body" 2>/dev/null)
}
now() { python3 -c 'import datetime; print(datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))'; }
mark() { sleep 0.3; now; sleep 0.3; }

start_server "$T/v" || { bad "server start"; finish; exit 1; }
for u in so inva invb; do
	login2 "$u"
	expect_code "login $u" 201
	eval "t_$u=\$tok"
done
req k/so POST /v1/cases '{"title":"Scope review"}' "$t_so"
expect_code "case created" 201
CASE=$(json_field "$T/body" "d['id']")
add_members k/so "$t_so" "$CASE" \
    "{\"users\":[\"inva\",\"invb\"],\"records\":[\"$R1\",\"$R2\",\"$R3\",\"$R6\"]}"
expect_code "members added" 200
get() {	# WHO TOKEN RECORD [EXTRA QUERY]
	req "k/$1" GET "/v1/records/$3?purpose=$CASE${4:-}" "" "$2"
}

T0=$(mark)
# Session 1 of A: R1 (all granted sections), R2 (identity only).
get inva "$t_inva" "$R1"
expect_code "A reads R1" 200
get inva "$t_inva" "$R2" "&section=identity"
expect_code "A reads R2 identity" 200
T1=$(mark)
# Session 2 of A: R1 again.
login2 inva
expect_code "A logs in again" 201
t_inva2=$tok
get inva "$t_inva2" "$R1"
expect_code "A reads R1 again" 200
T2=$(mark)
get invb "$t_invb" "$R3"
expect_code "B reads R3" 200
get inva "$t_inva2" "$R4"
expect_problem "A is refused R4 (not in the case)" 403
req k/inva GET "/v1/records?ssn=$SSN6&purpose=$CASE" "" "$t_inva2"
expect_code "A searches by SSN" 200
expect_eq "the search returns R6's id" "[\"$R6\"]" \
    "$(json_field "$T/body" "json.dumps(d['ids'])" | tr -d ' ')"
T3=$(mark)
expect_ok "CLI get of R5" "$CV" get --dir "$T/v" "$R5"
stop_server
expect_eq "server exit status" 0 "$SRV_RC"

"$CV" audit tail --dir "$T/v" --json -n 100000 >"$T/log"
CERT_A=$(python3 -c "
import json, sys
print([e for e in map(json.loads, open(sys.argv[1])) if e['actor'] == 'inva' and e['cert']][0]['cert'])" "$T/log")
read -r S1 S2 < <(python3 -c "
import json, sys
s = []
for e in map(json.loads, open(sys.argv[1])):
    if e['actor'] == 'inva' and e['action'] == 'records.get' and e['session'] not in s:
        s.append(e['session'])
print(*s)" "$T/log")
expect_eq "A's cert is a fingerprint" 64 "${#CERT_A}"
[ -n "$S1" ] && [ -n "$S2" ] && [ "$S1" != "$S2" ] && ok ||
    bad "two sessions of A in the log: '$S1' '$S2'"

# scope_json DESC WANT_IDS SCOPE-ARGS...: --format json --no-notify; the
# ids must be WANT_IDS (space-separated, sorted) and every record must
# match an independent computation from the log dumped just before.
scope_json() {
	local desc=$1 want=$2
	shift 2
	"$CV" audit tail --dir "$T/v" --json -n 100000 >"$T/log"
	run "$CV" scope --dir "$T/v" --format json --no-notify "$@"
	if [ "$rc" -ne 0 ]; then
		bad "$desc: exit $rc: $(head -c 300 "$T/err")"
		return
	fi
	cp "$T/out" "$T/scope.json"
	expect_eq "$desc: records" "$want" \
	    "$(json_field "$T/scope.json" "' '.join(r['id'] for r in d['records'])")"
	python3 - "$T/log" "$T/scope.json" "$@" <<'PY' && ok || bad "$desc: differs from the log"
import json, sys
log, got, args = sys.argv[1], json.load(open(sys.argv[2])), sys.argv[3:]
field = {"--principal": "actor", "--cert": "cert", "--session": "session",
         "--address": "source"}
opt = dict(zip(args[::2], args[1::2]))
key = [k for k in field if k in opt][0]
def norm(t):	# a date means its midnight; compare as fixed-width strings
    if len(t) == 10: t += "T00:00:00Z"
    if "." not in t: t = t[:-1] + ".000000Z"
    return t
lo, hi = norm(opt.get("--from", "0000-01-01")), norm(opt.get("--to", "9999-12-31"))
want = {}
for e in map(json.loads, open(log)):
    if (e[field[key]] == opt[key] and e["outcome"] == "allowed" and
        e["sections"] and e["action"] in ("records.get", "get", "scope.notify")
        and lo <= e["time"] < hi):
        for r in e["records"]:
            w = want.setdefault(r, {"s": set(), "t": []})
            w["s"] |= set(e["sections"]); w["t"].append(e["time"])
order = ["identity", "contact", "history", "family", "foreign", "financial",
         "conduct", "biometrics", "adjudication"]
exp = [{"id": r, "sections": [s for s in order if s in w["s"]],
        "first_read": min(w["t"]), "last_read": max(w["t"])}
       for r, w in sorted(want.items())]
assert got["records"] == exp, (got["records"], exp)
assert got["totals"]["records"] == len(exp)
assert got["subject"] == {"kind": key[2:], "value": opt[key]}, got["subject"]
PY
}
sections_of() {	# RECORD: its sections in $T/scope.json
	json_field "$T/scope.json" "','.join([r for r in d['records'] if r['id'] == '$1'][0]['sections'])"
}
field_of() {	# RECORD KEY
	json_field "$T/scope.json" "[r for r in d['records'] if r['id'] == '$1'][0]['$2']"
}
sorted() { printf '%s\n' "$@" | sort | tr '\n' ' ' | sed 's/ $//'; }

scope_json "principal A" "$(sorted "$R1" "$R2")" --principal inva
expect_eq "A: R1 sections" "$INV" "$(sections_of "$R1")"
expect_eq "A: R2 sections (identity only)" identity "$(sections_of "$R2")"
f=$(field_of "$R1" first_read); l=$(field_of "$R1" last_read)
[[ "$T0" < "$f" && "$f" < "$T1" && "$T1" < "$l" && "$l" < "$T2" ]] && ok ||
    bad "A: R1 first/last read out of order: $T0 $f $T1 $l $T2"
expect_eq "A: R2 read once" "$(field_of "$R2" first_read)" \
    "$(field_of "$R2" last_read)"
scope_json "principal B" "$R3" --principal invb
expect_eq "B: R3 sections" "$INV" "$(sections_of "$R3")"
scope_json "A's certificate" "$(sorted "$R1" "$R2")" --cert "$CERT_A"
scope_json "A's first session" "$(sorted "$R1" "$R2")" --session "$S1"
expect_eq "session 1: R1 read once" "$(field_of "$R1" first_read)" \
    "$(field_of "$R1" last_read)"
scope_json "A's second session" "$R1" --session "$S2"
scope_json "address 127.0.0.1" "$(sorted "$R1" "$R2" "$R3")" \
    --address 127.0.0.1
scope_json "the CLI get by $ME" "$R5" --principal "$ME"
scope_json "address cli" "$R5" --address cli
scope_json "A from T1" "$R1" --principal inva --from "$T1"
expect_eq "A from T1: R1's first read is the second one" \
    "$(field_of "$R1" first_read)" "$(field_of "$R1" last_read)"
scope_json "A to T1" "$(sorted "$R1" "$R2")" --principal inva --to "$T1"
scope_json "A from T0 to T1" "$(sorted "$R1" "$R2")" --principal inva \
    --from "$T0" --to "$T1"
scope_json "A from T2: only refused reads and a search" "" \
    --principal inva --from "$T2"
scope_json "B to T2" "" --principal invb --to "$T2"
scope_json "address from T1 to T3" "$(sorted "$R1" "$R3")" \
    --address 127.0.0.1 --from "$T1" --to "$T3"
scope_json "a date window: to tomorrow" "$(sorted "$R1" "$R2")" \
    --principal inva --to "$(date -u -d tomorrow +%F)"
scope_json "a date window: from tomorrow" "" --principal inva \
    --from "$(date -u -d tomorrow +%F)"
scope_json "nobody" "" --principal nobody
scope_json "a prefix of a name is not the name" "" --principal inv

# JSON keys, exactly.
run "$CV" scope --dir "$T/v" --principal inva --format json
python3 - "$T/out" <<'PY' && ok || bad "json keys"
import json, sys
d = json.load(open(sys.argv[1]))
assert set(d) == {"records", "notify", "totals", "subject", "window"}, set(d)
for r in d["records"]:
    assert set(r) == {"id", "sections", "first_read", "last_read"}, set(r)
for n in d["notify"]:
    assert set(n) == {"id", "status", "name", "email", "phones", "address"}, set(n)
assert d["window"] == {"from": None, "to": None}
assert d["totals"]["records"] == 2 and d["totals"]["reads"] == 3, d["totals"]
assert d["totals"]["sections"]["identity"] == 2 and d["totals"]["sections"]["contact"] == 1
PY
cp "$T/out" "$T/notify.json"
# The people to notify, against the records as loaded.
python3 - "$T/notify.json" "$T/v.jsonl" "$R1" "$R2" <<'PY' && ok || bad "notify names and contacts"
import json, sys
d = json.load(open(sys.argv[1]))
loaded = {r["id"]: r for r in map(json.loads, open(sys.argv[2]))}
assert [n["id"] for n in d["notify"]] == sorted(sys.argv[3:5])
for n in d["notify"]:
    r = loaded[n["id"]]
    nm = r["identity"]["name"]
    assert n["status"] == "ok"
    assert n["name"] == nm["first"] + " " + nm["last"], (n["name"], nm)
    c = r.get("contact", {})
    assert n["email"] == c.get("email"), (n["email"], c.get("email"))
    assert n["phones"] == c.get("phones", [])
    assert n["address"] in c["addresses"]
    assert "ssn" not in json.dumps(n) and r["identity"]["ssn"] not in json.dumps(n)
PY
# Its own entries: "scope" naming only the kind of subject, then
# "scope.notify" naming the ids decrypted.
"$CV" audit tail --dir "$T/v" --json -n 3 >"$T/tail"
python3 - "$T/tail" "$R1" "$R2" <<'PY' && ok || bad "scope's audit entries"
import json, sys
s, n, _ = map(json.loads, open(sys.argv[1]))
assert s["action"] == "scope" and s["outcome"] == "allowed", s
assert s["reason"].startswith("by principal") and "inva" not in json.dumps(s), s
assert s["records"] == [] and s["sections"] == []
assert n["action"] == "scope.notify" and n["records"] == sorted(sys.argv[2:4]), n
assert n["sections"] == ["identity", "contact"], n
PY
# The names the OS user just decrypted were returned to it: scope says so.
scope_json "the OS user after a notify" "$(sorted "$R1" "$R2" "$R5")" \
    --principal "$ME"
expect_eq "notify returned identity and contact of R1" identity,contact \
    "$(sections_of "$R1")"

# --no-notify: one entry, no decryption.
"$CV" audit tail --dir "$T/v" --json -n 100000 >"$T/log1"
expect_ok "no-notify" "$CV" scope --dir "$T/v" --principal inva --no-notify
"$CV" audit tail --dir "$T/v" --json -n 100000 >"$T/log2"
python3 - "$T/log1" "$T/log2" <<'PY' && ok || bad "--no-notify leaves one scope entry and no notify entry"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
new = [e["action"] for e in b[len(a):]]
assert new == ["scope", "audit.tail"], new
PY
grep -q "people to notify" "$T/out" && bad "no-notify printed notify rows" || ok
grep -q "^totals: 2 records (3 reads) returned to principal 'inva', all time" \
    "$T/out" && ok || bad "table totals line: $(tail -1 "$T/out")"
[ "$(grep -c "^CV-" "$T/out")" = 2 ] && ok || bad "table rows"

# CSV: a header row, a row per record.
run "$CV" scope --dir "$T/v" --principal inva --format csv
python3 - "$T/out" "$R1" "$R2" <<'PY' && ok || bad "csv"
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
assert rows[0] == ["id", "sections", "first_read", "last_read", "reads",
    "notify_status", "name", "email", "phones", "address"], rows[0]
assert [r[0] for r in rows[1:]] == sorted(sys.argv[2:4]), rows
r1 = [r for r in rows if r[0] == sys.argv[2]][0]
assert r1[1].startswith("identity,contact,") and r1[4] == "2" and r1[5] == "ok"
PY

# A shredded record: said so in its notify row.
"$CV" shred --dir "$T/v" "$R2" >/dev/null 2>&1
run "$CV" scope --dir "$T/v" --principal inva --format json
expect_eq "shredded record's notify row" "shredded None" \
    "$(json_field "$T/out" "' '.join(str(x) for x in [[n for n in d['notify'] if n['id'] == '$R2'][0][k] for k in ('status', 'name')])")"
expect_eq "a shredded record is still in scope" "$(sorted "$R1" "$R2")" \
    "$(json_field "$T/out" "' '.join(r['id'] for r in d['records'])")"
"$CV" audit tail --dir "$T/v" --json -n 2 | head -1 >"$T/tail"
expect_eq "only the readable record was decrypted" "scope.notify [\"$R1\"]" \
    "$(json_field "$T/tail" "d['action'] + ' ' + json.dumps(d['records'])")"

# A tampered log: refused, nothing listed, nothing appended. (The log's
# file; a PostgreSQL vault's is a large object, whose tampering is not
# tested here.)
if ! on_pg "$T/v"; then
cp -a "$T/v" "$T/vt"
python3 - "$T/vt/audit/entries" <<'PY'
import os, sys
sys.path.insert(0, os.environ["CV_TESTLIB"])
from audit_files import frames
data = bytearray(open(sys.argv[1], "rb").read())
off = frames(data)[6][0]	# into the 7th entry
data[off + 20] ^= 0x20
open(sys.argv[1], "wb").write(bytes(data))
PY
size=$(stat -c %s "$T/vt/audit/entries")
expect_fail "tampered log refused" "audit log does not verify (entry 6: edited" \
    "$CV" scope --dir "$T/vt" --principal inva
expect_eq "tampered log: exit 1" 1 "$rc"
expect_eq "tampered log: nothing appended" "$size" \
    "$(stat -c %s "$T/vt/audit/entries")"
expect_fail "tampered log refused (json)" "does not verify" \
    "$CV" scope --dir "$T/vt" --address 127.0.0.1 --format json
fi

# Usage errors: exit 2, nothing printed.
usage() {	# DESC PATTERN ARGS...
	local desc=$1 pat=$2
	shift 2
	expect_fail "$desc" "$pat" "$CV" scope --dir "$T/v" "$@"
	expect_eq "$desc: exit 2" 2 "$rc"
}
usage "no subject" "exactly one of" 
usage "two subjects" "exactly one of" --principal inva --address 127.0.0.1
usage "empty subject" "1 to 1024" --principal ""
usage "bad --from" "not a UTC time" --principal inva --from yesterday
usage "bad --to" "not a UTC time" --principal inva --to 2026-02-30
usage "offset time" "not a UTC time" --principal inva --to 2026-01-01T10:00:00+02:00
usage "from after to" "before --to" --principal inva --from 2026-01-02 \
    --to 2026-01-01
usage "bad format" "no format" --principal inva --format xml
usage "stray argument" "unexpected argument" --principal inva extra
usage "unknown option" "bad option" --principal inva --bogus
run env -u CLEARVAULT_DIR "$CV" scope --principal inva
expect_eq "no vault folder: exit 2" 2 "$rc"
expect_ok "--help" "$CV" scope --help
grep -q "records.search" "$T/out" && grep -q -- "--no-notify" "$T/out" &&
    ok || bad "--help explains searches and --no-notify"
expect_ok "listed in the command table" "$CV" --help
grep -q "^  scope " "$T/out" && ok || bad "scope not in clearvault --help"
finish
