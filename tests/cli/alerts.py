"""DIR/alerts.jsonl and GET /v1/alerts in the tests: the lines are in
Elastic Common Schema (src/keyd/alert.c); flat() gives each alert as a dict
of the names the tests check (kind, severity, user, detail, source,
session, locked, audit_indices, time), and checks the ECS fields a SIEM
relies on are there."""
import json

def flat(a):
    ev = a["event"]
    assert ev["kind"] == "alert" and ev["category"] and ev["id"], a
    assert a["@timestamp"].endswith("Z") and "." in a["@timestamp"], a
    assert a["rule"]["name"] == ev["action"], a
    assert a["labels"]["vault_id"], a
    cv = a.get("clearvault", {})
    return {"kind": ev["action"], "severity": a["log"]["level"],
            "user": a.get("user", {}).get("name"),
            "detail": a.get("message", ""),
            "source": a.get("source", {}).get("ip") or cv.get("source"),
            "session": cv.get("session") or "",
            "locked": cv.get("locked", False),
            "audit_indices": cv.get("audit_indices", []),
            "time": a["@timestamp"]}

def load(path):
    """The alerts of an alerts.jsonl file."""
    return [flat(json.loads(l)) for l in open(path) if l.strip()]

def of_api(path):
    """The alerts of a saved GET /v1/alerts reply."""
    return [flat(a) for a in json.load(open(path))["alerts"]]
