#!/usr/bin/env python3
"""An independent check of a witness's reply, written from the C2SP texts
(signed-note, tlog-checkpoint, tlog-cosignature) with hashlib and the
cryptography package's Ed25519, sharing no code with clearvault.

usage: cosig_check.py LOG_VKEY WITNESS_VKEY CHECKPOINT_FILE REPLY_FILE

Checks the log's signature (type 0x01) on the checkpoint, then every
reply line by the witness's name and key id (type 0x04) as cosignature/v1.
Prints "ok SIZE TIMESTAMP" or an error and exits 1.
"""
import base64
import hashlib
import struct
import sys
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def vkey(s, alg):
    name, keyid, b = s.split("+", 2)
    raw = base64.b64decode(b, validate=True)
    if raw[0] != alg or len(raw) != 33:
        sys.exit("vkey %s: type %d, want %d" % (name, raw[0], alg))
    want = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    if want.hex() != keyid:
        sys.exit("vkey %s: key id %s, computed %s" % (name, keyid, want.hex()))
    return name, want, Ed25519PublicKey.from_public_bytes(raw[1:])


def sig_lines(block):
    for line in block.split("\n"):
        if not line:
            continue
        if not line.startswith("\u2014 "):
            sys.exit("not a signature line: %r" % line)
        name, b = line[2:].split(" ")
        yield name, base64.b64decode(b, validate=True)


def main():
    log_name, log_id, log_pk = vkey(sys.argv[1], 0x01)
    w_name, w_id, w_pk = vkey(sys.argv[2], 0x04)
    note = open(sys.argv[3], "rb").read().decode("utf-8")
    reply = open(sys.argv[4], "rb").read().decode("utf-8")
    cut = note.rindex("\n\n")
    text, sigs = note[: cut + 1], note[cut + 2 :]
    ok = False
    for name, raw in sig_lines(sigs):
        if name == log_name and raw[:4] == log_id:
            log_pk.verify(raw[4:], text.encode())  # raises if bad
            ok = True
    if not ok:
        sys.exit("no log signature")
    lines = text.split("\n")
    size = int(lines[1])
    if not reply.endswith("\n"):
        sys.exit("reply does not end in a newline")
    n = 0
    for name, raw in sig_lines(reply):
        if name != w_name or raw[:4] != w_id:
            continue
        if len(raw) != 4 + 8 + 64:
            sys.exit("cosignature is %d bytes" % len(raw))
        (ts,) = struct.unpack(">Q", raw[4:12])
        if ts >= 2**63 or abs(ts - time.time()) > 600:
            sys.exit("cosignature time %d is not now" % ts)
        msg = ("cosignature/v1\ntime %d\n" % ts + text).encode()
        try:
            w_pk.verify(raw[12:], msg)
        except InvalidSignature:
            sys.exit("cosignature does not verify")
        n += 1
    if n == 0:
        sys.exit("no cosignature by %s" % w_name)
    print("ok %d %d" % (size, ts))


main()
