"""A strict RFC 5424 parser for the tests (test_syslog.sh): parse(bytes)
returns a dict or raises ValueError naming what is wrong. Stricter than
the RFC where clearvault promises more: no control byte anywhere, and a
backslash in a PARAM-VALUE only as an escape of '"', '\\' or ']'."""
import re

PRINT = rb"[\x21-\x7e]"
HEADER = re.compile(
    rb"<(?P<pri>[0-9]{1,3})>(?P<ver>[1-9][0-9]{0,2}) "
    rb"(?P<ts>-|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
    rb"(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})) "
    rb"(?P<host>" + PRINT + rb"{1,255}) (?P<app>" + PRINT + rb"{1,48}) "
    rb"(?P<procid>" + PRINT + rb"{1,128}) (?P<msgid>" + PRINT + rb"{1,32}) ")
SD_NAME = re.compile(rb'[\x21-\x7e]{1,32}')
BOM = b"\xef\xbb\xbf"


def _name(b, i):
    m = SD_NAME.match(b, i)
    if not m:
        raise ValueError("no SD-NAME at %d" % i)
    n = m.group(0)
    # SD-NAME: PRINTUSASCII except '=', SP, ']', '"'
    cut = min([k for k in (n.find(b"="), n.find(b"]"), n.find(b'"'))
               if k >= 0] or [len(n)])
    if cut == 0:
        raise ValueError("empty SD-NAME at %d" % i)
    return n[:cut].decode("ascii"), i + cut


def parse(b):
    if any(c < 0x20 or c == 0x7f for c in b):
        raise ValueError("a control byte in the message")
    m = HEADER.match(b)
    if not m:
        raise ValueError("header does not match RFC 5424: %r" % b[:120])
    pri = int(m.group("pri"))
    if pri > 191 or (len(m.group("pri")) > 1 and m.group("pri")[0:1] == b"0"):
        raise ValueError("bad PRI %d" % pri)
    out = {k: m.group(k).decode("ascii") for k in
           ("ts", "host", "app", "procid", "msgid")}
    out["facility"], out["severity"] = divmod(pri, 8)
    out["version"] = int(m.group("ver"))
    i = m.end()
    sd = {}
    if b[i:i + 1] == b"-":
        i += 1
    else:
        if b[i:i + 1] != b"[":
            raise ValueError("no STRUCTURED-DATA")
        while b[i:i + 1] == b"[":
            sdid, i = _name(b, i + 1)
            if sdid in sd:
                raise ValueError("SD-ID %s twice" % sdid)
            params = sd[sdid] = {}
            while b[i:i + 1] == b" ":
                name, i = _name(b, i + 1)
                if b[i:i + 2] != b'="':
                    raise ValueError("no =\" after %s" % name)
                i += 2
                v = bytearray()
                while True:
                    if i >= len(b):
                        raise ValueError("unterminated PARAM-VALUE")
                    c = b[i:i + 1]
                    if c == b"\\":
                        if b[i + 1:i + 2] not in (b'"', b"\\", b"]"):
                            raise ValueError("lone backslash in %s" % name)
                        v += b[i + 1:i + 2]
                        i += 2
                    elif c == b'"':
                        i += 1
                        break
                    elif c == b"]":
                        raise ValueError("unescaped ] in %s" % name)
                    else:
                        v += c
                        i += 1
                if name in params:
                    raise ValueError("PARAM-NAME %s twice" % name)
                params[name] = v.decode("utf-8")
            if b[i:i + 1] != b"]":
                raise ValueError("SD-ELEMENT %s not closed" % sdid)
            i += 1
    out["sd"] = sd
    if i == len(b):
        out["msg"] = None
    elif b[i:i + 1] != b" ":
        raise ValueError("no SP before MSG")
    else:
        msg = b[i + 1:]
        if msg.startswith(BOM):
            out["msg"] = msg[3:].decode("utf-8")
        elif all(c < 0x80 for c in msg):
            out["msg"] = msg.decode("ascii")
        else:
            raise ValueError("non-ASCII MSG without a BOM")
    return out
