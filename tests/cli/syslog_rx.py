#!/usr/bin/env python3
"""A UDP syslog collector for tests/cli/test_syslog.sh: binds 127.0.0.1:PORT
(0: any free port, written to PORTFILE), appends every datagram it gets to
OUT as one JSON line {"hex": ...}, until it is killed."""
import json
import socket
import sys

port, portfile, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
with open(portfile + ".tmp", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
import os
os.rename(portfile + ".tmp", portfile)
while True:
    data = s.recv(70000)
    with open(out, "a") as f:
        f.write(json.dumps({"hex": data.hex()}) + "\n")
