#!/bin/bash
# gen: deterministic, synthetic (never-issued SSN areas), valid, sized.
. "$(dirname "$0")/lib.sh"

expect_ok "gen 1000" "$CV" gen --count 1000 --seed 3
cp "$T/out" "$T/a"
expect_ok "gen again" "$CV" gen --count 1000 --seed 3 --threads 1
cmp -s "$T/a" "$T/out" && ok || bad "same seed, different output"
expect_ok "gen other seed" "$CV" gen --count 1000 --seed 4
cmp -s "$T/a" "$T/out" && bad "different seeds, same output" || ok
expect_ok "gen a slice" "$CV" gen --count 10 --start 990 --seed 3
tail -n 10 "$T/a" | cmp -s - "$T/out" && ok || bad "--start is not a slice"
expect_eq "line count" 1000 "$(wc -l <"$T/a")"

python3 - "$T/a" <<'PY' && ok || bad "generated records are off"
import json, re, sys
ids, ssns, sizes = set(), set(), []
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    sizes.append(len(line.encode()))
    ids.add(r["id"])
    ssn = r["identity"]["ssn"]
    assert re.fullmatch(r"9\d\d-\d\d-\d{4}", ssn), ssn
    ssns.add(ssn)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", r["identity"]["birth_date"])
    for s in ("identity", "contact", "history", "family", "foreign",
              "financial", "conduct", "biometrics", "adjudication"):
        assert s in r, s
assert len(ids) == 1000 and len(ssns) == 1000
avg = sum(sizes) / len(sizes)
assert 1024 <= avg <= 3072, avg
assert min(sizes) >= 1024, min(sizes)
PY

expect_fail "gen needs --count" "count is required" "$CV" gen
expect_fail "gen rejects garbage" "not a number" "$CV" gen --count 12x
expect_ok "gen --help" "$CV" gen --help
grep -q "usage: clearvault gen" "$T/out" && ok || bad "gen --help text"
# A closed pipe ends it (SIGPIPE, as for any filter), without a hang.
timeout 20 sh -c "'$CV' gen --count 100000000 | head -c 10 >/dev/null"
[ $? -ne 124 ] && ok || bad "gen kept running into a closed pipe"
finish
