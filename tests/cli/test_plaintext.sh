#!/bin/bash
# No plaintext at rest: no field value of any loaded record is in any file
# under the vault folder (database, WAL, journals, token, keyring), nor on
# PostgreSQL in any file of the cluster (tables, WAL, the log of every
# statement and parameter).
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
schema = open(sys.argv[3]).read()
ids += open(sys.argv[4]).read().split()
joined = (" ".join(ids) + " " + schema).encode()
needles = {n for n in needles if n not in joined}
if len(sys.argv) > 5:
    # PostgreSQL: the needles are written out for grep, which searches
    # the cluster (too big for the window set below).
    with open(sys.argv[5], "wb") as f:
        f.write(b"\n".join(sorted(needles)) + b"\n")
    print(len(needles), "values to look for", file=sys.stderr)
    sys.exit(0)
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
# The database's own words and the record ids, which are no evidence.
sql "$T/v" "SELECT rid FROM records" >"$T/ids"
if on_pg "$T/v"; then
	# Its names (tables, columns, indexes, the epoch trigger's function
	# and its text), as sqlite_master's text below.
	sql "$T/v" "SELECT relname FROM pg_class c JOIN pg_namespace n ON
	    n.oid = c.relnamespace WHERE nspname = 'public' UNION ALL SELECT
	    attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
	    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE nspname =
	    'public' UNION ALL SELECT proname || ' ' || prosrc FROM pg_proc p
	    JOIN pg_namespace n ON n.oid = p.pronamespace WHERE nspname =
	    'public'" >"$T/schema"
else
	sql "$T/v" "SELECT sql FROM sqlite_master" >"$T/schema"
fi
scan() {	# the vault folder, and on PostgreSQL the whole cluster
	if ! on_pg "$T/v"; then
		python3 "$T/scan.py" "$T/v.jsonl" "$T/v" "$T/schema" "$T/ids"
		return
	fi
	python3 "$T/scan.py" "$T/v.jsonl" "$T/v" "$T/schema" "$T/ids" \
	    "$T/needles" || return 1
	# What an empty cluster already holds (PostgreSQL's own catalog, which
	# a new database copies from template1, base/1; initdb's settings) is
	# no evidence.
	# grep -o shows no match that overlaps one shown: again without those
	# found, until none is new.
	cp "$T/needles" "$T/needles2"
	: >"$T/baseline"
	while LC_ALL=C grep -r -a -o -h -F -f "$T/needles2" \
	    "$T/pg/data/base/1" "$T/pg/data"/*.conf | sort -u >"$T/found" && [ -s "$T/found" ]; do
		cat "$T/found" >>"$T/baseline"
		LC_ALL=C grep -v -x -F -f "$T/baseline" "$T/needles" \
		    >"$T/needles2"
	done
	echo "$(wc -l <"$T/baseline") found in an empty database" >&2
	# The log shows a bytea parameter in hex ('\x...'), where digits
	# match by chance and a leak would hide: searched with those decoded.
	python3 - "$T/pg/log" "$T/log.bin" <<-'PY' || return 1
	import re, sys
	t = open(sys.argv[1], "rb").read()
	t, n = re.subn(rb"'\\x([0-9a-f]*)'",
	    lambda m: bytes.fromhex(m.group(1).decode()), t)
	# The audit log's writes (large objects) are sent as hex text:
	# its digits are no evidence, its bytes are what is stored.
	t, k = re.subn(rb"decode\('([0-9a-f]*)', *'hex'\)",
	    lambda m: bytes.fromhex(m.group(1).decode()), t)
	n += k
	# A batch of staged entries is one bytea[] parameter, logged as an
	# array literal: each element "\\x..." (its backslash escaped).
	t, k = re.subn(rb'"\\\\x([0-9a-f]*)"',
	    lambda m: bytes.fromhex(m.group(1).decode()), t)
	n += k
	open(sys.argv[2], "wb").write(t)
	# A load sends its rows by COPY, which the statement log leaves
	# out; what is sent as bytea parameters (lookups, keys) is decoded.
	print(f"{n} bytea parameters in the log, decoded", file=sys.stderr)
	PY
	LC_ALL=C grep -r -a -o -F -f "$T/needles2" "$T/v" "$T/pg/data" \
	    "$T/log.bin" | sort -u >"$T/leaks"
	head -20 "$T/leaks" >&2
	[ ! -s "$T/leaks" ]
}
# PostgreSQL stopped first: every page out of its shared buffers.
if on_pg "$T/v"; then sh "$PG_SH" stop "$T/pg" || bad "stop PostgreSQL"; fi
scan && ok || bad "plaintext found at rest"
# The check itself can fail: one e-mail address planted in the token
# folder is found.
head -1 "$T/v.jsonl" | grep -o '"email":"[^"]*"' >"$T/v/token/note"
scan 2>/dev/null && bad "the scan misses a planted value" || ok
finish
