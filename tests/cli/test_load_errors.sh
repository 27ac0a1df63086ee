#!/bin/bash
# A bad record: FILE:LINE: field PATH: reason, non-zero exit, nothing stored.
. "$(dirname "$0")/lib.sh"

"$CV" gen --count 50 --seed 5 >"$T/good.jsonl"
"$CV" init --dir "$T/v" 2>/dev/null
d0=$(vault_digest "$T/v")

bad_at() {	# LINE SED-EXPR: good.jsonl with line LINE edited
	sed "$1$2" "$T/good.jsonl" >"$T/bad.jsonl"
}
bad_at 30 's/"ssn":"9/"ssn":"0/; s/"ssn":"0\(..\)/"ssn":"000/'
expect_fail "bad SSN" "bad.jsonl:30: field identity.ssn: not an SSN" \
    "$CV" load --dir "$T/v" "$T/bad.jsonl"
grep -q "nothing stored" "$T/err" && ok || bad "does not say nothing stored"
id1=$(head -1 "$T/good.jsonl" | cut -c8-26)
expect_fail "nothing stored" "no record" "$CV" get --dir "$T/v" "$id1"

bad_at 7 's/"birth_date":"[0-9-]*"/"birth_date":"1999-02-30"/'
expect_fail "bad date" "bad.jsonl:7: field identity.birth_date: not a date" \
    "$CV" load --dir "$T/v" "$T/bad.jsonl"
bad_at 3 's/"adjudication":{/"adjudication":{"x":1,/'
expect_fail "unknown field" "bad.jsonl:3: field adjudication.x: unknown field" \
    "$CV" load --dir "$T/v" "$T/bad.jsonl"
bad_at 4 's/"first":"[^"]*",//'
expect_fail "missing field" "bad.jsonl:4: field identity.name.first: required" \
    "$CV" load --dir "$T/v" "$T/bad.jsonl"
bad_at 5 's/}$/,/'
expect_fail "broken JSON" "bad.jsonl:5: field (json): column" \
    "$CV" load --dir "$T/v" "$T/bad.jsonl"
bad_at 6 's/"height_cm":[0-9]*/"height_cm":"tall"/'
expect_fail "wrong type" "bad.jsonl:6: field biometrics.height_cm: must be an integer" \
    "$CV" load --dir "$T/v" "$T/bad.jsonl"
python3 -c "print('{\"id\":\"' + 'x' * 70000 + '\"}')" >"$T/long.jsonl"
expect_fail "overlong line" "long.jsonl:1: field (record): line longer" \
    "$CV" load --dir "$T/v" "$T/long.jsonl"
printf '\xff\xfe\n' >"$T/bin.jsonl"
expect_fail "binary garbage" "bin.jsonl:1: field (json)" \
    "$CV" load --dir "$T/v" "$T/bin.jsonl"
expect_fail "missing file" "cannot open" "$CV" load --dir "$T/v" "$T/nope"
expect_eq "failed loads changed nothing" "$d0" "$(vault_digest "$T/v")"

# --reject: the bad ones go to a file with reasons, the rest are loaded.
bad_at 30 's/"ssn":"9\(..\)/"ssn":"666/'
sed -i '10s/"status":"[a-z]*"/"status":"maybe"/' "$T/bad.jsonl"
expect_ok "load with --reject" "$CV" load --dir "$T/v" --reject "$T/rej" \
    "$T/bad.jsonl"
grep -q "stored 48 records" "$T/err" && ok || bad "summary: $(cat "$T/err")"
grep -q "rejected 2" "$T/err" && ok || bad "rejected count"
expect_eq "reject file lines" 2 "$(wc -l <"$T/rej")"
python3 - "$T/rej" "$T/bad.jsonl" <<'PY' && ok || bad "reject file content"
import json, sys
rej = [json.loads(l) for l in open(sys.argv[1])]
src = open(sys.argv[2]).read().splitlines()
assert [r["line"] for r in rej] == [10, 30], rej
assert rej[0]["field"] == "adjudication.status"
assert rej[1]["field"] == "identity.ssn" and "SSN" in rej[1]["reason"]
assert rej[1]["record"] == src[29]
PY
id30=$(sed -n 30p "$T/good.jsonl" | cut -c8-26)
expect_fail "rejected record not stored" "no record" "$CV" get --dir "$T/v" "$id30"
expect_ok "others stored" "$CV" get --dir "$T/v" "$id1"
finish
