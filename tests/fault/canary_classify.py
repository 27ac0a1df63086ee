#!/usr/bin/env python3
"""An attacker's try at telling canaries from real records (issue 17,
item 4), from what they can see without the HSM: vault.db (ids, row
order, body sizes and section layout, versions, loads, key generations)
and what searches reveal (which id answers to which SSN, last name and
birth date).

Each feature scores every record; its AUC over the canaries against the
real records says how well it tells them apart (0.5: chance; 0 or 1: it
finds them all). Fails when any feature does better than chance by more
than MARGIN (the AUC of a random score over 50 canaries and thousands of
records has a standard deviation of about 0.04).

usage: canary_classify.py ROWS CANARY_IDS KNOWN_JSONL [MARGIN]
ROWS: the records as test_canary_ids.sh reads them from the vault's
database (SQLite or PostgreSQL), one a line, "|" between the columns
id, rid, version, body in hex, load, ssn_bi and name_bi missing (1/0),
the key's generation, the wrapped key's length.
KNOWN_JSONL: one {"id", "ssn", "last", "dob"} a line (search results).
"""
import collections
import json
import sys

M64 = (1 << 64) - 1
SPACE = 100 * 99 * 9999     # the SSN space of `gen` (areas 900-999)


def unmix64(z):
    """Inverse of the splitmix64 finalizer the generator once used."""
    def unxorshift(x, s):
        r = x
        for _ in range(64 // s + 1):
            r = x ^ (r >> s)
        return r & M64
    z = unxorshift(z, 31)
    z = (z * pow(0x94d049bb133111eb, -1, 1 << 64)) & M64
    z = unxorshift(z, 27)
    z = (z * pow(0xbf58476d1ce4e5b9, -1, 1 << 64)) & M64
    return unxorshift(z, 30)


def auc(scores, positive):
    """Mann-Whitney AUC of SCORES (dict id -> number) for POSITIVE ids."""
    ranked = sorted(scores.items(), key=lambda kv: kv[1])
    rank, i = {}, 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][1] == ranked[i][1]:
            j += 1
        for k in range(i, j):
            rank[ranked[k][0]] = (i + j + 1) / 2
        i = j
    pos = [rank[r] for r in scores if r in positive]
    n1, n2 = len(pos), len(scores) - len(pos)
    return (sum(pos) - n1 * (n1 + 1) / 2) / (n1 * n2)


def cluster_sizes(values, window):
    """For each value, how many values lie within WINDOW of it."""
    vs = sorted(values)
    import bisect
    return {v: bisect.bisect_right(vs, v + window) -
            bisect.bisect_left(vs, v - window) for v in set(vs)}


def sections(body):
    """Section ids and lengths, in the clear in a body's header."""
    n, off, out = body[1], 2 + 24, []   # format, count, nonce
    for _ in range(n):
        blen = int.from_bytes(body[off + 1:off + 5], "big")
        out.append((body[off], blen))
        off += 5 + blen
    return out


def main():
    rowfile, canfile, knownfile = sys.argv[1:4]
    margin = float(sys.argv[4]) if len(sys.argv) > 4 else 0.17
    canaries = set(open(canfile).read().split())
    def num(x):
        return int(x) if x != "" else None
    rows = []
    for line in open(rowfile):
        c = line.rstrip("\n").split("|")
        rows.append((int(c[0]), c[1], num(c[2]), bytes.fromhex(c[3]),
                     num(c[4]), int(c[5]), int(c[6]), num(c[7]), num(c[8])))
    assert canaries <= {r[1] for r in rows}, "canaries missing from the db"
    f = collections.defaultdict(dict)

    # Ids: structure (the old generator's invertible mix clusters one
    # seed's ids), value, shape, bit count.
    ids = {}
    for r in rows:
        rid = r[1]
        try:
            ids[rid] = int(rid[3:], 16) if rid.startswith("CV-") else None
        except ValueError:
            ids[rid] = None
    inv = {rid: unmix64(v) >> 20 for rid, v in ids.items() if v is not None}
    cl = collections.Counter(inv.values())
    shape = collections.Counter(
        (len(rid), rid[:3], all(c in "0123456789ABCDEF" for c in rid[3:]))
        for rid in ids)
    for rid, v in ids.items():
        f["id: seed cluster (unmixed)"][rid] = cl[inv[rid]] if rid in inv \
            else 0
        f["id: value"][rid] = v if v is not None else -1
        f["id: set bits"][rid] = bin(v).count("1") if v is not None else -1
        f["id: shape frequency"][rid] = shape[
            (len(rid), rid[:3],
             all(c in "0123456789ABCDEF" for c in rid[3:]))]

    # Rows: position in the load, size, sections, version, load, keys.
    loads = collections.defaultdict(list)
    for r in rows:
        loads[r[4]].append(r[0])
    loadpos = {}
    for ld, rowids in loads.items():
        rowids.sort()
        for i, x in enumerate(rowids):
            loadpos[x] = i / max(1, len(rowids) - 1)
    order = sorted(rows)
    allpos = {r[0]: i for i, r in enumerate(order)}
    # Placed by byte offset, a canary would follow a longer row than most.
    before = {order[i][1]: len(order[i - 1][3]) if i else 0
              for i in range(len(order))}
    after = {order[i][1]: len(order[i + 1][3]) if i + 1 < len(order) else 0
             for i in range(len(order))}
    layout = collections.Counter(tuple(s for s, _ in sections(r[3]))
                                 for r in rows)
    for r in rows:
        rid, secs = r[1], sections(r[3])
        f["row: position in its load"][rid] = loadpos[r[0]]
        f["row: position in the table"][rid] = allpos[r[0]]
        f["row: body size"][rid] = len(r[3])
        f["row: size of the row before"][rid] = before[rid]
        f["row: size of the row after"][rid] = after[rid]
        f["row: section layout frequency"][rid] = layout[
            tuple(s for s, _ in secs)]
        f["row: identity section size"][rid] = dict(secs).get(1, 0)
        f["row: version"][rid] = r[2]
        f["row: load"][rid] = r[4] if r[4] is not None else -1
        f["row: records in its load"][rid] = len(loads[r[4]])
        f["row: blind indexes missing"][rid] = r[5] * 2 + r[6]
        f["row: key generation"][rid] = (r[7] or 0) * 1000 + (r[8] or 0)

    # Search results: the SSN and name each id answers to. The old
    # generator put one seed's SSNs on a lattice (index * 1000003 + c).
    known = {}
    for line in open(knownfile):
        k = json.loads(line)
        known[k["id"]] = k
    lat = {}
    for rid, k in known.items():
        a, g, s = (int(x) for x in k["ssn"].split("-"))
        n = (a - 900) * 99 * 9999 + (g - 1) * 9999 + (s - 1)
        lat[rid] = n * pow(1000003, -1, SPACE) % SPACE
    near = cluster_sizes(lat.values(), len(lat))
    names = collections.Counter((k["last"], k["dob"]) for k in known.values())
    for rid, k in known.items():
        f["search: SSN lattice neighbours"][rid] = near[lat[rid]]
        f["search: SSN value"][rid] = k["ssn"]
        f["search: birth year"][rid] = int(k["dob"][:4])
        f["search: name+dob shared"][rid] = names[(k["last"], k["dob"])]

    worst, failed = 0.0, []
    print("%-36s %6s  %s" % ("feature", "AUC", "canaries in its top 50"))
    for name, scores in f.items():
        pos = canaries & scores.keys()
        if not pos or len(pos) == len(scores):
            continue
        a = auc(scores, pos)
        top = sorted(scores, key=lambda x: scores[x],
                     reverse=a >= 0.5)[:len(pos)]
        hits = sum(t in pos for t in top)
        print("%-36s %6.3f  %d/%d" % (name, a, hits, len(pos)))
        worst = max(worst, abs(a - 0.5))
        if abs(a - 0.5) > margin:
            failed.append(name)
    print("records %d, canaries %d, worst |AUC - 0.5| %.3f (margin %.2f)"
          % (len(rows), len(canaries), worst, margin))
    if failed:
        print("canaries recognisable by: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
