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
    # Always there: a missing one fails here, not as a default that a
    # negative check would take for an answer.
    cv = a["clearvault"]
    assert isinstance(cv["locked"], bool), a
    assert isinstance(cv["audit_indices"], list), a
    # Left out when not known: user, source, session.
    return {"kind": ev["action"], "severity": a["log"]["level"],
            "user": a.get("user", {}).get("name"),
            "detail": a["message"],
            "source": a.get("source", {}).get("ip") or cv.get("source"),
            "session": cv.get("session", ""),
            "locked": cv["locked"],
            "audit_indices": cv["audit_indices"],
            "time": a["@timestamp"]}

def load(path):
    """The alerts of an alerts.jsonl file."""
    return [flat(json.loads(l)) for l in open(path) if l.strip()]

def of_api(path):
    """The alerts of a saved GET /v1/alerts reply."""
    return [flat(a) for a in json.load(open(path))["alerts"]]
