#!/bin/bash
# No plaintext at rest: no field value of any loaded record is in any file
# under the vault folder (database, WAL, journals, token, keyring).
. "$(dirname "$0")/lib.sh"

make_vault v 1500 || { bad "setup"; finish; exit 1; }
# Also a second run's new versions and a shred, to exercise the WAL.
head -100 "$T/v.jsonl" | "$CV" load --dir "$T/v" --quiet
"$CV" shred --dir "$T/v" "$(sed -n 5p "$T/v.jsonl" | cut -c8-26)" 2>/dev/null
ls "$T/v" >"$T/files"

cat >"$T/scan.py" <<'PY'
import json, os, re, sys
needles, ids = set(), []
def walk(x):
    if isinstance(x, dict):
        for v in x.values(): walk(v)
    elif isinstance(x, list):
        for v in x: walk(v)
    elif isinstance(x, str):
        # Long enough that random bytes cannot match by chance.
        if len(x.encode()) >= 6: needles.add(x.encode())
    elif isinstance(x, int) and not isinstance(x, bool) and x >= 100000:
        needles.add(str(x).encode())
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    # The record id is the one value kept in the clear, by design (see
    # README, "Security model"): audit entries and cases refer to it.
    ids.append(r.pop("id"))
    walk(r)
    ssn = r["identity"]["ssn"]
    needles.add(ssn.replace("-", "").encode())
# Ids are in the clear, so digit runs inside them are no evidence; nor
# are words that the database's own schema uses ("revoked"). The ids of
# the canaries that load adds are random and in no input line: taken from
# the database, or a 6-digit value inside one (about one run in 200)
# reads as a leak.
import sqlite3
db = sqlite3.connect(sys.argv[2] + "/vault.db")
schema = " ".join(r[0] or "" for r in db.execute(
    "SELECT sql FROM sqlite_master"))
ids += [r[0] for r in db.execute("SELECT rid FROM records")]
joined = (" ".join(ids) + " " + schema).encode()
needles = {n for n in needles if n not in joined}
blobs = []
for root, _, files in os.walk(sys.argv[2]):
    for f in files:
        blobs.append((os.path.join(root, f), open(os.path.join(root, f), "rb").read()))
# Every 6-byte window of the files in one set; a needle is looked for in
# full only where its first 6 bytes occur.
windows = set()
for _, b in blobs:
    windows.update(b[i:i + 6] for i in range(len(b) - 5))
found = [(p, n) for n in needles if n[:6] in windows
         for p, b in blobs if n in b]
for p, n in found[:5]:
    print("plaintext", n[:40], "in", p, file=sys.stderr)
print(len(needles), "values checked in", len(blobs), "files", file=sys.stderr)
sys.exit(1 if found else 0)
PY
python3 "$T/scan.py" "$T/v.jsonl" "$T/v" && ok || bad "plaintext found at rest"
# The check itself can fail: one e-mail address planted in the token
# folder is found.
head -1 "$T/v.jsonl" | grep -o '"email":"[^"]*"' >"$T/v/token/note"
python3 "$T/scan.py" "$T/v.jsonl" "$T/v" 2>/dev/null && \
    bad "the scan misses a planted value" || ok
finish
