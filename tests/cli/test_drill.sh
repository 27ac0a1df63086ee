#!/bin/bash
# clearvault drill: every scenario against a fresh vault and server, and
# the goals of the drill issue checked from the JSON report; the SVG
# timeline is well-formed with one lane per scenario; one scenario alone.
. "$(dirname "$0")/lib.sh"

expect_fail "drill: unknown scenario" "no scenario" "$CV" drill run 12
expect_fail "drill: no subcommand" "usage" "$CV" drill
"$CV" drill --help | grep -q "low and slow" && ok || bad "drill --help"

TMPDIR=$T "$CV" drill run all --records 300 --json "$T/r.json" \
    --svg "$T/t.svg" --markdown "$T/r.md" >"$T/report" 2>"$T/progress"
expect_eq "drill run all: every goal met (exit 0)" 0 $?
cat "$T/report"
python3 - "$T/r.json" <<'PY' && ok || bad "drill goals from the JSON report"
import json, sys
d = json.load(open(sys.argv[1]))
s = {x["scenario"]: x for x in d["scenarios"]}
assert sorted(s) == list(range(1, 12)), sorted(s)
for x in s.values():
    for k in ("scenario", "records_exposed", "detected_after_ms", "control",
              "scope_exact"):
        assert k in x, (x["scenario"], k)
    assert x["scope_exact"] is True, x
    assert x["goal_met"] is True, x
for n in (1, 5, 6, 7, 8, 9):
    assert s[n]["records_exposed"] == 0, s[n]
for n in (2, 4, 11):
    assert s[n]["records_exposed"] <= 25, s[n]
assert 1 <= s[2]["records_exposed"], s[2]
assert s[2]["detected_after_ms"] is not None, s[2]
assert s[3]["records_exposed"] <= 400, s[3]
assert s[3]["detected_simulated"] is True, s[3]
assert 0 <= s[3]["detected_after_ms"] <= 86400000, s[3]
assert s[7]["control"] == "audit.verify", s[7]
assert s[7]["detected_after_ms"] is not None, s[7]
want = {1: "mtls", 3: "guard.behaviour", 4: "need_to_know",
        5: "encryption", 6: "policy.sections", 8: "limits"}
for n, c in want.items():
    assert s[n]["control"] == c, (n, s[n]["control"])
assert s[2]["control"] in ("guard.step_up", "guard.canary", "guard.budget")
# 9: an administrator alone gets nothing granted, and the office hears of
# it from its first self-approval, within a second.
assert s[9]["control"] == "policy.two_person", s[9]
assert s[9]["detection"] == "first alert", s[9]
assert 0 <= s[9]["detected_after_ms"] <= 1000, s[9]
assert "first alert: self_approval" in s[9]["note"], s[9]
assert "5 proposals" in s[9]["note"] and ": 5 pending" in s[9]["note"], s[9]
assert "accounts made: 0" in s[9]["note"], s[9]
# 10: two colluding officers and their adjudicator: two readers, each
# locked at its hard budget of 40 a minute; they did get some out.
assert 1 <= s[10]["records_exposed"] <= 80, s[10]
assert s[10]["detected_after_ms"] is not None, s[10]
assert s[10]["control"] in ("guard.budget", "guard.canary"), s[10]
assert "mole's new login: HTTP 2" not in s[10]["note"], s[10]
# 11: drill 2's thief at 100 records an hour, under every budget per
# minute, hour and day: the session budget stops it at 20, and the
# refusals are noticed within simulated minutes.
assert 1 <= s[11]["records_exposed"] <= 20, s[11]
assert s[11]["control"] == "guard.session_budget", s[11]
assert s[11]["detected_simulated"] is True, s[11]
assert 0 <= s[11]["detected_after_ms"] <= 3600000, s[11]
assert "first refusal at read 21 " in s[11]["note"], s[11]
PY
python3 - "$T/t.svg" <<'PY' && ok || bad "SVG well-formed, one lane per scenario"
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
assert r.tag == ns + "svg", r.tag
lanes = [g for g in r.iter(ns + "g") if g.get("class") == "lane"]
assert [g.get("data-scenario") for g in lanes] == [str(i) for i in range(1, 12)]
marks = [e for g in lanes for e in g if e.tag in (ns + "rect", ns + "circle")]
assert any(e.get("fill") == "#999" for e in marks), "no read marks"
assert any(e.get("fill") in ("#f08c00", "#d00000") for e in marks), "no alerts"
PY
grep -q '^| 3 | low and slow' "$T/r.md" && ok || bad "markdown report"
expect_eq "progress: a line per scenario start" 11 \
    "$(grep -cE '^drill ([1-9]|1[01])/11: .*\.\.\.$' "$T/progress")"
expect_eq "no drill folder left behind" "" "$(ls "$T" | grep cvdrill)"

TMPDIR=$T "$CV" drill run 2 --records 300 --json "$T/r2.json" >/dev/null \
    2>&1
expect_eq "drill run 2 alone" 0 $?
python3 - "$T/r2.json" <<'PY' && ok || bad "drill run 2: one scenario"
import json, sys
d = json.load(open(sys.argv[1]))["scenarios"]
assert len(d) == 1 and d[0]["scenario"] == 2, d
assert 1 <= d[0]["records_exposed"] <= 25 and d[0]["scope_exact"], d
PY
[ -s "$T/drill-timeline.svg" ] && ok || bad "default SVG next to the JSON"
finish
