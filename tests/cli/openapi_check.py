#!/usr/bin/env python3
"""Real replies of the server against docs/openapi.json (tests/cli/test_openapi.sh).

    openapi_check.py DOC CALLS

DOC is the OpenAPI 3.1 document; CALLS has one reply a line, tab-separated:
METHOD, PATH (no query), STATUS, CONTENT-TYPE, a file with the body, what
the call was for and, optionally, a file with the request's body. Each reply must be documented: its path and method an
operation of DOC, its status one of that operation's responses, its content
type one of that response's media types; a JSON body must validate against
that media type's schema (JSON Schema 2020-12, the dialect of OpenAPI 3.1,
$ref resolved in DOC). A body of another type is checked by its type only.
The body of a request that succeeded (2xx) must be valid under the
operation's requestBody schema, and an operation with a required one must
have been sent one.
Every operation of DOC must have been called with a success (2xx) at least
once, so that an endpoint added to the document without a call in the test
fails. The document itself is checked too: an operationId each, camelCase
and unique; every response with a content type and a schema; every schema
valid. Failures go to stderr, one a line, "FAIL: ..."; exit status 1 if any.
"""
import json
import re
import sys

import jsonschema

METHODS = ("get", "put", "post", "delete", "options", "head", "patch",
           "trace")
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, file=sys.stderr)


def deref(doc, node):
    """A Response, Parameter... object given as {"$ref": "#/..."}."""
    seen = 0
    while isinstance(node, dict) and "$ref" in node and seen < 10:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise ValueError("only local references: " + ref)
        node = doc
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        seen += 1
    return node


def validator(doc, schema):
    """A 2020-12 validator of SCHEMA whose "#/..." references resolve in
    DOC: the schema is put under a root that carries DOC's components (an
    unknown keyword to JSON Schema, a place a JSON pointer can name), so the
    same code works with the jsonschema of Debian 12 (4.10) and newer."""
    root = {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": doc.get("components", {}), "allOf": [schema]}
    fc = jsonschema.FormatChecker(())

    @fc.checks("date-time")
    def date_time(v):
        return not isinstance(v, str) or re.fullmatch(
            r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})",
            v) is not None

    @fc.checks("date")
    def date(v):
        return not isinstance(v, str) or re.fullmatch(
            r"\d{4}-\d{2}-\d{2}", v) is not None

    return jsonschema.Draft202012Validator(root, format_checker=fc)


def operations(doc):
    """(path, method, operation) of every operation of DOC."""
    for path, item in doc.get("paths", {}).items():
        for m, op in item.items():
            if m in METHODS:
                yield path, m, op


def check_document(doc):
    ids = {}
    for path, m, op in operations(doc):
        where = "%s %s" % (m.upper(), path)
        oid = op.get("operationId")
        if not oid:
            fail(where + ": no operationId")
        elif not re.fullmatch(r"[a-z][a-zA-Z0-9]*", oid):
            fail(where + ": operationId %r is not camelCase" % oid)
        elif oid in ids:
            fail(where + ": operationId %r is also %s's" % (oid, ids[oid]))
        else:
            ids[oid] = where
        if not any(s.startswith("2") for s in op.get("responses", {})):
            fail(where + ": no success response")
        for status, resp in op.get("responses", {}).items():
            resp = deref(doc, resp)
            content = resp.get("content")
            if not content:
                fail("%s %s: no content type" % (where, status))
                continue
            for ctype, media in content.items():
                if "schema" not in media:
                    fail("%s %s %s: no schema" % (where, status, ctype))
                    continue
                try:
                    jsonschema.Draft202012Validator.check_schema(
                        media["schema"])
                    validator(doc, media["schema"]).is_valid(None)
                except Exception as e:	# a bad schema, a $ref to nothing
                    fail("%s %s %s: bad schema: %s" % (where, status, ctype,
                                                       str(e)[:200]))
    for name, schema in doc.get("components", {}).get("schemas", {}).items():
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as e:
            fail("components/schemas/%s: %s" % (name, e.message))


def path_matcher(doc):
    """PATH -> (template, item): a concrete path before a templated one (as
    OpenAPI says), then fewer parameters first."""
    ms = []
    for tmpl, item in doc.get("paths", {}).items():
        rx = "".join("[^/]+" if part.startswith("{") else re.escape(part)
                     for part in re.split(r"(\{[^}]+\})", tmpl))
        ms.append((tmpl.count("{"), tmpl, re.compile(rx + r"\Z"), item))
    ms.sort(key=lambda m: m[0])

    def match(path):
        for _, tmpl, rx, item in ms:
            if rx.match(path):
                return tmpl, item
        return None, None
    return match


def base_type(t):
    return t.split(";")[0].strip().lower()


def media_for(content, ctype):
    """The media type object of CONTENT for the reply's CTYPE: the exact
    header first, then the type without its parameters."""
    if ctype in content:
        return ctype, content[ctype]
    for k, v in content.items():
        if base_type(k) == base_type(ctype):
            return k, v
    return None, None


def check_json(doc, schema, data, call, what):
    try:
        errors = sorted(validator(doc, schema).iter_errors(data),
                        key=lambda e: str(list(e.absolute_path)))
    except Exception as e:	# reported with the document's checks
        fail("%s: cannot validate: %s" % (call, str(e)[:200]))
        return
    for e in errors[:5]:
        at = "/".join(str(p) for p in e.absolute_path) or "(body)"
        fail("%s: %s %s: %s" % (call, what, at, e.message[:300]))


def check_request(doc, op, call, sent):
    """The body SENT (a file, or "" for none) of a request that succeeded,
    against OP's requestBody."""
    rb = deref(doc, op.get("requestBody")) if op.get("requestBody") else None
    if not sent:
        if rb and rb.get("required"):
            fail(call + ": succeeded without the required request body")
        return
    if rb is None:
        fail(call + ": succeeded with a request body the document does "
             "not name")
        return
    media = rb.get("content", {}).get("application/json")
    if media is None:
        fail(call + ": no application/json request body documented")
        return
    try:
        data = json.load(open(sent, encoding="utf-8"))
    except (OSError, ValueError) as e:
        fail("%s: request body is not JSON: %s" % (call, e))
        return
    check_json(doc, media.get("schema", {}), data, call, "request")


def check_calls(doc, lines):
    match = path_matcher(doc)
    succeeded = set()
    exercised = {}
    for n, line in enumerate(lines, 1):
        f = line.rstrip("\n").split("\t")
        if len(f) < 5:
            fail("calls line %d: malformed" % n)
            continue
        method, path, status, ctype, body = f[:5]
        what = f[5] if len(f) > 5 else ""
        sent = f[6] if len(f) > 6 else ""
        call = "%s %s -> %s (%s)" % (method, path, status, what)
        tmpl, item = match(path)
        op = item.get(method.lower()) if item else None
        if op is None:
            fail(call + ": no such operation in the document")
            continue
        key = (tmpl, method.lower())
        exercised.setdefault(key, set()).add(status)
        responses = op.get("responses", {})
        resp = responses.get(status) or responses.get(status[0] + "XX")
        if resp is None:
            fail("%s: status %s not documented for %s (%s)" % (
                call, status, op.get("operationId"),
                " ".join(sorted(responses))))
            continue
        resp = deref(doc, resp)
        if status.startswith("2"):
            succeeded.add(key)
            check_request(doc, op, call, sent)
        content = resp.get("content") or {}
        if not ctype:
            fail(call + ": no Content-Type")
            continue
        mkey, media = media_for(content, ctype)
        if media is None:
            fail("%s: content type %r not documented (%s)" % (
                call, ctype, ", ".join(content) or "none"))
            continue
        bt = base_type(mkey)
        if not (bt == "application/json" or bt.endswith("+json")):
            continue	# text: its type is all that is checked
        try:
            data = json.load(open(body, encoding="utf-8"))
        except (OSError, ValueError) as e:
            fail("%s: body is not JSON: %s" % (call, e))
            continue
        check_json(doc, media.get("schema", {}), data, call, "reply")
    for path, m, op in operations(doc):
        key = (path, m)
        if key not in succeeded:
            fail("%s %s (%s) never answered with a success: add a call to "
                 "tests/cli/test_openapi.sh" % (m.upper(), path,
                                                 op.get("operationId")))
    # What was seen, for the log of the test.
    for path, m, op in operations(doc):
        print("  %-22s %s" % (op.get("operationId"), " ".join(
            sorted(exercised.get((path, m), ())))))


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    doc = json.load(open(sys.argv[1], encoding="utf-8"))
    check_document(doc)
    with open(sys.argv[2], encoding="utf-8") as f:
        check_calls(doc, f.readlines())
    print("%d problems" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
