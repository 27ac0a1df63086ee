#!/usr/bin/env python3
"""Fail every call of ours to the outside world, one at a time.

For each operation and each class of call (base/fault.c: alloc, file,
sqlite, p11, pq), run the operation with CLEARVAULT_FAULT=CLASS:N for
N = 1, 2, 3, ... until a run meets no fault. At every N the operation
must either fail with a clear error and change nothing (the vault's
digest equal, `audit verify` passing, nothing printed on stdout, no
sanitizer report), or succeed completely (its effect checked). The run
that meets no fault must succeed.

usage: every_site.py --cv BIN --work DIR [--ops a,b] [--classes a,b]
                     [--stride K] [--db postgresql]
Prints one line per operation and class, then the totals: runs, faults
fired, distinct call sites (by calling instruction) and violations.
Exit status 1 when any run broke the rule.
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

SANITIZER = re.compile(rb"Sanitizer|runtime error:|LeakSanitizer")
# An injected fault is never the data's fault: words that blame the data
# (or the log) for a failed allocation or read send an operator chasing
# a break-in that did not happen.
FALSE_BLAME = re.compile(rb"tamper|corrupt|malformed|not JSON|not an error|"
                         rb"forged|modified", re.I)
JSON_OOM = b"clearvault: out of memory in the JSON library"
FIRED = re.compile(r"clearvault fault: pid \d+ (\S+) call \d+ pc (0x[0-9a-f]+)")


class Ctx:
    def __init__(self, args):
        self.cv = os.path.abspath(args.cv)
        self.work = os.path.abspath(args.work)
        self.db = args.db
        self.violations = []
        self.sites = set()
        self.runs = 0
        self.fired = 0

    def run(self, argv, env=None, stdin=None, check=True):
        e = dict(os.environ)
        e.pop("CLEARVAULT_FAULT", None)
        if env:
            e.update(env)
        p = subprocess.run([self.cv] + argv, input=stdin, env=e,
                           capture_output=True, timeout=120)
        if check and p.returncode != 0:
            raise RuntimeError("%s: %s" % (" ".join(argv),
                               p.stderr.decode(errors="replace")[-2000:]))
        return p


def vault_digest(ctx, d):
    """Every file but the token's objects and the log, plus the database's
    logical content (a rolled-back write may leave bytes in the -wal)."""
    h = hashlib.sha256()
    for root, dirs, files in os.walk(d):
        dirs[:] = sorted(x for x in dirs if x != "audit" and
                         os.path.join(root, x) != os.path.join(d, "token",
                                                                 "objects"))
        for f in sorted(files):
            if f.startswith("vault.db") or f.endswith(".lock"):
                continue
            p = os.path.join(root, f)
            h.update(p.encode() + b"\0")
            with open(p, "rb") as fh:
                h.update(hashlib.sha256(fh.read()).digest())
    if os.path.exists(os.path.join(d, "vault.db")):
        dump = subprocess.run(["sqlite3", os.path.join(d, "vault.db"),
                               ".dump"], capture_output=True, check=True)
        # A load registers itself before its load.begin entry, so that a
        # killed one is settled (rolled back) later: that row is the
        # record of an attempt, as its audit entry is, not a change.
        h.update(b"\n".join(l for l in dump.stdout.split(b"\n")
                            if not l.startswith(b"INSERT INTO loads ")))
    return h.hexdigest()


def audit_ok(ctx, d):
    p = ctx.run(["audit", "verify", "--dir", d], check=False)
    return p.returncode == 0, p.stderr.decode(errors="replace")[-300:]


class Op:
    """One operation on a vault made by setup(); effect() checks a success."""
    stdin = None

    def __init__(self, ctx, name):
        self.ctx, self.name = ctx, name
        self.dir = os.path.join(ctx.work, name, "v")
        self.base = os.path.join(ctx.work, name, "base")

    def prepare(self):
        os.makedirs(os.path.dirname(self.dir), exist_ok=True)
        init = ["init", "--dir", self.dir]
        if self.ctx.db:
            init += ["--db", self.ctx.db + "_" + self.name]
        self.ctx.run(init)
        self.setup()
        shutil.copytree(self.dir, self.base, symlinks=True)
        self.digest = vault_digest(self.ctx, self.dir)

    def restore(self):
        shutil.rmtree(self.dir)
        shutil.copytree(self.base, self.dir, symlinks=True)

    def setup(self):
        pass

    def argv(self):
        raise NotImplementedError

    def effect(self, out):
        return None


def load_some(ctx, d, n, seed):
    data = ctx.run(["gen", "--count", str(n), "--seed", str(seed)]).stdout
    ctx.run(["load", "--dir", d, "--quiet"], stdin=data)
    return [json.loads(l)["id"] for l in data.splitlines()]


def count_records(ctx, d):
    out = subprocess.run(["sqlite3", os.path.join(d, "vault.db"),
                          "SELECT count(*) FROM records"],
                         capture_output=True, check=True).stdout
    return int(out)


class Load(Op):
    def setup(self):
        load_some(self.ctx, self.dir, 2, 1)
        self.before = count_records(self.ctx, self.dir)
        self.stdin = self.ctx.run(["gen", "--count", "3", "--seed",
                                   "2"]).stdout

    def argv(self):
        return ["load", "--dir", self.dir, "--quiet"]

    def effect(self, out):
        n = count_records(self.ctx, self.dir)
        return None if n == self.before + 3 else \
            "load succeeded with %d records, not %d" % (n, self.before + 3)


class Get(Op):
    def setup(self):
        self.id = load_some(self.ctx, self.dir, 3, 3)[1]
        self.want = self.ctx.run(["get", "--dir", self.dir, self.id]).stdout

    def argv(self):
        return ["get", "--dir", self.dir, self.id]

    def effect(self, out):
        return None if out == self.want else "get printed another record"


class Rotate(Op):
    # A rotate that fails part-way has rewrapped some batches: that is its
    # design (rerun finishes it), so a failure must leave every record
    # readable and a clean rerun must finish, rather than no change.
    partial_ok = True

    def setup(self):
        self.ids = load_some(self.ctx, self.dir, 3, 4)
        self.want = [self.ctx.run(["get", "--dir", self.dir, i]).stdout
                     for i in self.ids]
        self.ring = open(os.path.join(self.dir, "keyring"), "rb").read()

    def argv(self):
        return ["rotate", "--dir", self.dir, "--quiet"]

    def readable(self):
        for i, w in zip(self.ids, self.want):
            p = self.ctx.run(["get", "--dir", self.dir, i], check=False)
            if p.stdout != w:
                return "record %s unreadable after rotate: %s" % (
                    i, p.stderr.decode(errors="replace")[-300:])
        return None

    def effect(self, out):
        if open(os.path.join(self.dir, "keyring"), "rb").read() == self.ring:
            return "rotate succeeded but the keyring is the old one"
        return self.readable()

    def after_failure(self):
        bad = self.readable()
        if bad:
            return bad
        p = self.ctx.run(self.argv(), check=False)
        if p.returncode != 0:
            return "rotate rerun failed: %s" % p.stderr[-300:]
        return self.effect(p.stdout)


class Shred(Op):
    # Committed, then the WAL checkpoint that drops the old key failed:
    # the record is gone and logged, and the error says what is left to
    # do (run it again), which is all a failure there can honestly say.
    done_despite = b"is shredded, but"

    def setup(self):
        self.id = load_some(self.ctx, self.dir, 3, 5)[0]

    def argv(self):
        return ["shred", "--dir", self.dir, self.id]

    def effect(self, out):
        p = self.ctx.run(["get", "--dir", self.dir, self.id], check=False)
        if p.returncode == 0 or b"shredded" not in p.stderr:
            return "shred succeeded but get says: %s" % p.stderr[-200:]
        return None


class UserAdd(Op):
    def argv(self):
        return ["user", "add", "olga", "--role", "security_officer",
                "--dir", self.dir]

    def effect(self, out):
        p = self.ctx.run(["user", "list", "--dir", self.dir])
        return None if b"olga" in p.stdout else "user add left no olga"


class AuditAppend(Op):
    """`audit tail` appends its own entry before it prints."""
    def setup(self):
        load_some(self.ctx, self.dir, 2, 6)

    def argv(self):
        return ["audit", "tail", "--dir", self.dir, "-n", "3"]

    def effect(self, out):
        return None if b"audit.tail" in out or b"load" in out else \
            "audit tail printed no entries"


class Checkpoint(Op):
    def setup(self):
        load_some(self.ctx, self.dir, 2, 7)

    def argv(self):
        return ["audit", "checkpoint", "--dir", self.dir]

    def effect(self, out):
        lines = out.decode(errors="replace").split("\n")
        if len(lines) < 3 or not lines[1].isdigit():
            return "checkpoint printed no signed note"
        return None


OPS = {"load": Load, "get": Get, "rotate": Rotate, "shred": Shred,
       "user_add": UserAdd, "audit_append": AuditAppend,
       "checkpoint": Checkpoint}


def one(ctx, op, cls, n, flog):
    """Run OP with the Nth call of CLS failing; None or what broke."""
    if os.path.exists(flog):
        os.unlink(flog)
    p = ctx.run(op.argv(), env={"CLEARVAULT_FAULT": "%s:%d" % (cls, n),
                                "CLEARVAULT_FAULT_LOG": flog},
                stdin=op.stdin, check=False)
    ctx.runs += 1
    fired = []
    if os.path.exists(flog):
        fired = FIRED.findall(open(flog).read())
    for site, pc in fired:
        ctx.sites.add((op.name, site, pc))
    ctx.fired += len(fired)
    err = p.stderr
    where = "%s %s:%d" % (op.name, cls, n)
    if SANITIZER.search(err):
        return fired, "%s: sanitizer report: %s" % (where, err[-600:])
    # jansson cannot fail cleanly, so its allocator stops the process
    # (base.c, cv_json_malloc): a death, but a designed, fail-closed one.
    json_stop = p.returncode in (-6, 134) and JSON_OOM in err
    if (p.returncode < 0 or p.returncode > 125) and not json_stop:
        return fired, "%s: died (status %d): %s" % (where, p.returncode,
                                                    err[-300:])
    if p.returncode == 0:
        bad = op.effect(p.stdout)
        op.restore()
        return fired, ("%s: %s" % (where, bad)) if bad else None
    if not fired:
        return fired, "%s: failed with no fault: %s" % (where, err[-300:])
    msg = err.strip().split(b"\n")[-1] if err.strip() else b""
    if json_stop:
        msg = JSON_OOM
    if not msg.startswith(b"clearvault"):
        return fired, "%s: no clear error: %r" % (where, err[-300:])
    if FALSE_BLAME.search(msg):
        return fired, "%s: blames the data for %s: %s" % (
            where, fired[0][0], msg.decode(errors="replace"))
    if p.stdout and op.name in ("get",):
        return fired, "%s: printed data on failure" % where
    done = getattr(op, "done_despite", None)
    if done and done in err:
        bad = op.effect(p.stdout)
        op.restore()
        return fired, ("%s: %s" % (where, bad)) if bad else None
    if getattr(op, "partial_ok", False):
        bad = op.after_failure()
        op.restore()
        return fired, ("%s: %s" % (where, bad)) if bad else None
    if vault_digest(ctx, op.dir) != op.digest:
        op.restore()
        return fired, "%s: failed but changed the vault" % where
    ok, why = audit_ok(ctx, op.dir)
    if not ok:
        op.restore()
        return fired, "%s: audit verify fails after it: %s" % (where, why)
    return fired, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cv", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--ops", default=",".join(OPS))
    ap.add_argument("--classes", default="alloc,file,sqlite,p11")
    ap.add_argument("--stride", type=int, default=1,
                    help="test every Kth N of the alloc class (1: all)")
    ap.add_argument("--db", default=None)
    ap.add_argument("--limit", type=int, default=20000)
    a = ap.parse_args()
    ctx = Ctx(a)
    flog = os.path.join(ctx.work, "fault.log")
    for name in a.ops.split(","):
        op = OPS[name](ctx, name)
        op.prepare()
        for cls in a.classes.split(","):
            n, runs, step = 1, 0, a.stride if cls == "alloc" else 1
            while True:
                fired, res = one(ctx, op, cls, n, flog)
                runs += 1
                if res:
                    ctx.violations.append(res)
                    print("VIOLATION " + res, flush=True)
                if not fired:
                    break
                if n >= a.limit:
                    ctx.violations.append("%s %s: no end by N=%d" %
                                          (name, cls, n))
                    break
                n += step
            nsites = len({s for s in ctx.sites if s[0] == name and
                          s[1].split(".")[0] == cls})
            print("%-13s %-6s %5d runs  %4d calls  %3d sites" %
                  (name, cls, runs, n - 1, nsites), flush=True)
    print("total: %d runs, %d faults fired at %d distinct call sites, "
          "%d violations" % (ctx.runs, ctx.fired,
                             len({(s[1], s[2]) for s in ctx.sites}),
                             len(ctx.violations)))
    sys.exit(1 if ctx.violations else 0)


if __name__ == "__main__":
    main()
