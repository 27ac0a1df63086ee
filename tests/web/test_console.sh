#!/bin/bash
# The web console (issue 14) in headless Chromium against a real server,
# each user with the certificate of their enrolment in an NSS database,
# picked by policy: an investigator signs in (certificate + TOTP, by
# keyboard), opens a case, finds a record by SSN, reads it by sections,
# is refused outside the case, hits the step-up limit and steps up in the
# dialog; reading a canary locks them (the locked screen) and a security
# officer sees the alert appear without a reload; two officers unlock;
# the breach scope shown matches `clearvault scope --format json`; the
# reads chart and the drill report render; an auditor checks the signed
# checkpoint and an inclusion proof in the browser; the page fits a
# narrow window; no CSP violation, no script error anywhere. Screenshots
# of the main screens go to $CV_SCREENSHOTS (README; default: the test's
# folder). Skipped (77) without chromium or the right to write its
# policy.
. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/nss.sh"
web_require
export PYTHONDONTWRITEBYTECODE=1

SHOTS=${CV_SCREENSHOTS:-$T/shots}
mkdir -p "$SHOTS"
make_vault v 60 || { bad "setup"; finish; exit 1; }
add_users "$T/v" so:security_officer so2:security_officer inv:investigator \
    aud:auditor || { bad "users"; finish; exit 1; }
"$CV" canaries --dir "$T/v" >"$T/canaries"
CANARY=$(sed -n 1p "$T/canaries")
"$CV" audit pubkey --dir "$T/v" >"$T/vkey" || bad "audit pubkey"
ids() { sed -n "$1,$2p" "$T/v.jsonl" | cut -c8-26; }
for u in so so2 inv aud; do
	expect_ok "NSS database for $u" web_home "$T/home-$u" "$T/ca.pem"
	expect_ok "$u's PKCS#12" web_import_p12 "$T/home-$u" "$T/k/$u.p12" \
	    "$T/k/$u.p12.pass"
done
expect_ok "a drill report kept in the vault" "$CV" drill run 1 \
    --records 200 --vault "$T/v"

start_server "$T/v" || { bad "server start"; finish; exit 1; }
expect_ok "the policy file" web_autoselect "$URL"
login_fresh so
t_so=$tok
req k/so POST /v1/cases '{"title":"Background investigation 4711"}' "$t_so"
CA=$(json_field "$T/body" "d['id']")
add_members k/so "$t_so" "$CA" "$(python3 -c 'import json, sys
print(json.dumps({"users": ["inv"], "records": sys.argv[1:]}))' \
    $(ids 1 30) "$CANARY")"
expect_code "case A" 200
req k/so POST /v1/cases '{"title":"Someone else'"'"'s"}' "$t_so"
CB=$(json_field "$T/body" "d['id']")
add_members k/so "$t_so" "$CB" "{\"users\":[\"so2\"],\"records\":[\"$(ids 40 40)\"]}"
expect_code "case B" 200

python3 - "$T/cfg.json" <<PY
import json, sys
line = open("$T/v.jsonl").readline()
rec = json.loads(line)
json.dump({"url": "$URL", "tmp": "$T", "shots": "$SHOTS", "k": "$T/k",
    "homes": {u: "$T/home-" + u for u in ("so", "so2", "inv", "aud")},
    "case_a": "$CA", "case_b": "$CB", "records": """$(ids 1 30)""".split(),
    "outside": "$(ids 40 40)", "canary": "$CANARY",
    "ssn1": rec["identity"]["ssn"], "last1": rec["identity"]["name"]["last"],
    "vkey": open("$T/vkey").read().strip()}, open(sys.argv[1], "w"))
PY
if TMPDIR=$T PYTHONPATH=$WEB_DIR timeout 240 python3 \
    "$WEB_DIR/console_test.py" "$T/cfg.json" >"$T/py.out" 2>&1; then
	ok
	cat "$T/py.out"
else
	bad "the console in Chromium: $(cat "$T/py.out")"
fi

# The scope the page showed is the command line's, record by record.
run "$CV" scope --dir "$T/v" --principal inv --format json --no-notify
python3 - "$T/scope-page.json" "$T/out" <<'PY' && ok || bad "the console's scope is not the CLI's"
import json, sys
page, cli = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
got = [(r[0], r[1], r[2], r[3]) for r in page["rows"]]
when = lambda s: s.replace("T", " ").split(".")[0].rstrip("Z") + " UTC"
want = [(r["id"], ", ".join(r["sections"]), when(r["first_read"]),
         when(r["last_read"])) for r in cli["records"]]
assert got == want, (got, want)
assert len(got) >= 3, len(got)
assert page["total"].startswith("%d record(s)" % len(want)), page["total"]
PY
for s in login cases record edit stepup locked alerts locks scope reads drill \
    narrow audit; do
	[ -s "$SHOTS/console-$s.png" ] && ok || bad "no screenshot $s"
done
stop_server
expect_eq "server exit status" 0 "$SRV_RC"
finish
