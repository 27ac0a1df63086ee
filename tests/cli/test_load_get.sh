#!/bin/bash
# load, get, find: what goes in comes out, and search uses blind indexes.
. "$(dirname "$0")/lib.sh"

"$CV" gen --count 2000 --seed 11 >"$T/in.jsonl"
"$CV" init --dir "$T/v" 2>/dev/null
expect_ok "load a file" "$CV" load --dir "$T/v" "$T/in.jsonl"
grep -q "stored 2000 records" "$T/err" && ok || bad "load summary: $(cat "$T/err")"

# Every record reads back with the same keys and values.
python3 - "$CV" "$T" <<'PY' && ok || bad "get does not return what was loaded"
import json, random, subprocess, sys
cv, t = sys.argv[1], sys.argv[2]
lines = open(t + "/in.jsonl", encoding="utf-8").read().splitlines()
for line in random.Random(1).sample(lines, 40):
    want = json.loads(line)
    out = subprocess.run([cv, "get", "--dir", t + "/v", want["id"]],
                         capture_output=True, check=True).stdout
    got = json.loads(out)
    meta = got.pop("_meta")
    assert got == want, want["id"]
    assert meta["version"] == 1
PY

id=$(sed -n 17p "$T/in.jsonl" | cut -c8-26)
expect_ok "get sections" "$CV" get --dir "$T/v" "$id" --section identity \
    --section adjudication --compact
expect_eq "only the asked sections" "['identity', 'adjudication']" \
    "$(json_field "$T/out" "[k for k in d if k not in ('id', '_meta')]")"
ssn=$(json_field "$T/out" "d['identity']['ssn']")
last=$(json_field "$T/out" "d['identity']['name']['last']")
dob=$(json_field "$T/out" "d['identity']['birth_date']")

expect_ok "find by SSN" "$CV" find --dir "$T/v" --ssn "$ssn"
expect_eq "find by SSN" "$id" "$(cat "$T/out")"
want=$(python3 -c "
import json,sys
for l in open(sys.argv[1]):
    r=json.loads(l)
    if r['identity']['name']['last']==sys.argv[2] and r['identity']['birth_date']==sys.argv[3]: print(r['id'])
" "$T/in.jsonl" "$last" "$dob" | sort)
lower=$(printf '%s' "$last" | tr 'A-Z' 'a-z')
expect_ok "find by name, any case" "$CV" find --dir "$T/v" --name " $lower" \
    --dob "$dob"
expect_eq "find by name" "$want" "$(sort "$T/out")"
expect_ok "find, no match" "$CV" find --dir "$T/v" --ssn 999-99-9998
expect_eq "no match prints nothing" "" "$(cat "$T/out")"
expect_fail "find, bad SSN" "not an SSN" "$CV" find --dir "$T/v" --ssn 12
expect_fail "find, name without dob" "go together" "$CV" find --dir "$T/v" \
    --name Smith
expect_fail "find, both" "give --ssn" "$CV" find --dir "$T/v" --ssn "$ssn" \
    --name Smith --dob 1990-01-01

expect_fail "get unknown id" "no record" "$CV" get --dir "$T/v" CV-NOPE
expect_fail "get bad section" "no section" "$CV" get --dir "$T/v" "$id" \
    --section secrets
expect_fail "get two ids" "exactly one" "$CV" get --dir "$T/v" a b
expect_fail "get not a vault" "not a vault" "$CV" get --dir "$T" "$id"

# Loading from stdin; the same id again becomes version 2.
sed -n 17p "$T/in.jsonl" | sed 's/"status":"[a-z]*"/"status":"revoked"/' \
    >"$T/v2.jsonl"
expect_ok "load from stdin" sh -c "'$CV' load --dir '$T/v' <'$T/v2.jsonl'"
grep -q "1 new versions" "$T/err" && ok || bad "new version not counted"
expect_ok "get new version" "$CV" get --dir "$T/v" "$id" --compact
expect_eq "version 2" "2 revoked" \
    "$(json_field "$T/out" "d['_meta']['version'], d['adjudication']['status']" | tr -d '(),'"'")"
expect_ok "find still one" "$CV" find --dir "$T/v" --ssn "$ssn"
expect_eq "find after new version" "$id" "$(cat "$T/out")"
finish
