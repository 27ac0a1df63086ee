#!/usr/bin/env python3
"""A syslog collector for tests/cli/test_syslog.sh: PROTO (udp, or tcp with
RFC 6587 octet counting, parsed strictly) on 127.0.0.1:PORT (0: any free
port, written to PORTFILE); appends every message it gets to OUT as one
JSON line {"hex": ...} ({"error": ...} for a bad frame), until killed."""
import json
import os
import socket
import sys
import threading

proto, port, portfile, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], \
    sys.argv[4]
lock = threading.Lock()


def save(rec):
    with lock, open(out, "a") as f:
        f.write(json.dumps(rec) + "\n")


def frames(conn):
    """RFC 6587 3.4.1: MSG-LEN SP SYSLOG-MSG, MSG-LEN a NONZERO-DIGIT and
    digits; nothing between frames."""
    buf = b""
    while True:
        data = conn.recv(65536)
        if not data:
            if buf:
                save({"error": "a partial frame at the close: %r" % buf[:60]})
            return
        buf += data
        while buf:
            sp = buf.find(b" ")
            if sp < 0:
                if len(buf) > 6:
                    save({"error": "no length: %r" % buf[:60]})
                    return
                break
            n = buf[:sp]
            if not n.isdigit() or n[:1] == b"0" or len(n) > 6:
                save({"error": "bad length %r" % buf[:60]})
                return
            if len(buf) < sp + 1 + int(n):
                break
            save({"hex": buf[sp + 1:sp + 1 + int(n)].hex()})
            buf = buf[sp + 1 + int(n):]


if proto == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
if proto == "tcp":
    s.listen(8)
with open(portfile + ".tmp", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
os.rename(portfile + ".tmp", portfile)
while True:
    if proto == "udp":
        save({"hex": s.recv(70000).hex()})
    else:
        c, _ = s.accept()
        threading.Thread(target=frames, args=(c,), daemon=True).start()
