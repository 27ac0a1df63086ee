#!/usr/bin/env python3
"""Steer the fault injection of a running server (base/fault.c, "ctl:").

  faultctl.py init FILE          a fresh control file (no fault)
  faultctl.py set FILE CLASS N   fail the Nth CLASS call of each process,
                                 counted from now
  faultctl.py off FILE           no fault from now (what fired is kept)
  faultctl.py fired FILE         "COUNT SITE": faults fired since the last
                                 set, and the last one's class.site: ask
                                 after off, so that none fires in between
The layout is struct ctl in base/fault.c.
"""
import os
import struct
import sys

MAGIC, GEN, N, PERSIST, WHAT, FIRED, LAST, SIZE = 0, 8, 12, 16, 20, 68, 72, 136


def rd(fd, off, n):
    return os.pread(fd, n, off)


def main(a):
    if len(a) < 2 or a[0] not in ("init", "set", "off", "fired"):
        sys.exit(__doc__)
    if a[0] == "init":
        with open(a[1], "wb") as f:
            f.write(b"CVFAULT1" + bytes(4096 - 8))
        return
    fd = os.open(a[1], os.O_RDWR)
    if a[0] == "fired":
        n = struct.unpack("<I", rd(fd, FIRED, 4))[0]
        last = rd(fd, LAST, 64).split(b"\0")[0].decode()
        print(n, last or "-")
        return
    what, n = (a[2], int(a[3])) if a[0] == "set" else ("", 0)
    # The spec first, the generation last: a process takes a spec only
    # when it sees a new generation.
    os.pwrite(fd, struct.pack("<II", n, 0), N)
    os.pwrite(fd, what.encode().ljust(48, b"\0")[:48], WHAT)
    if a[0] == "set":
        os.pwrite(fd, struct.pack("<I", 0), FIRED)
        os.pwrite(fd, bytes(64), LAST)
    gen = struct.unpack("<I", rd(fd, GEN, 4))[0]
    os.pwrite(fd, struct.pack("<I", (gen + 1) & 0xffffffff), GEN)
    os.close(fd)


if __name__ == "__main__":
    main(sys.argv[1:])
