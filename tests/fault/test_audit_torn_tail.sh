#!/bin/bash
# A torn or damaged `audit/entries` after a power loss or an edit.
# Past the last checkpoint, a frame that is not a valid entry ends the log:
# the next open cuts it (the bytes kept aside, an `audit.repair` entry and
# a line on stderr say so) and nothing invalid is ever signed. Inside the
# checkpointed part, damage to the entries or to the derived files (tree
# levels, offsets) is tampering: `audit verify` fails, and the commands
# that meet it refuse, pointing at `audit verify`; nothing is cut. An
# entry verify accepts, every reader shows (bytes that are not UTF-8 too).
. "$(dirname "$0")/../cli/lib.sh"

make_vault v 20 --canaries 0 || { bad "setup"; finish; exit 1; }
ME=$(id -un)
id=$(sed -n 1p "$T/v.jsonl" | cut -c8-26)
for i in 1 2 3 4 5 6; do "$CV" get --dir "$T/v" "$id" >/dev/null 2>&1; done
"$CV" audit checkpoint --dir "$T/v" >"$T/held"
SIGNED=$(sed -n 2p "$T/held")
expect_ok "clean log verifies" "$CV" audit verify --dir "$T/v"
cp -a "$T/v" "$T/pristine"
restore() { rm -rf "$T/v"; cp -a "$T/pristine" "$T/v"; }

# py ARGS... <<'PY': python with the audit folder as argv[1]
py() { python3 - "$T/v/audit" "$@"; }
# The frames of the entries file, as python sees them.
FRAMES='
import os, sys
sys.path.insert(0, os.environ["CV_TESTLIB"])
import audit_files
def frames(d):
    return audit_files.frames(open(d + "/entries", "rb").read())
'

# rewrite_frame K EXPR: the start of frame K (a python index: -1 is the
# last) overwritten with the bytes of EXPR (n: the frame's length);
# prints the frame's size, 4 + n.
rewrite_frame() {
	py "$1" "$2" <<PY
$FRAMES
import struct, sys
d, k, expr = sys.argv[1], int(sys.argv[2]), sys.argv[3]
off, n = frames(d)[k]
with open(d + "/entries", "r+b") as f:
    f.seek(off)
    f.write(eval(expr))
print(4 + n)
PY
}

# tail_ok DESC CUT KEPT: after the damage, a command works, says on stderr how
# many bytes it cut, records that in an audit.repair entry, keeps the cut
# bytes aside; the log then holds the KEPT valid entries and verifies.
tail_ok() {
	local what=$1 cut=$2 before=$3
	expect_ok "$what: verify before any open" "$CV" audit verify --dir "$T/v"
	grep -q "torn.*$cut bytes\|$cut bytes.*torn" "$T/err" && ok ||
	    bad "$what: verify notes the torn tail: $(cat "$T/err")"
	expect_ok "$what: tail" "$CV" audit tail --dir "$T/v" --json -n 1000000
	cp "$T/out" "$T/log"
	grep -q "cut $cut bytes" "$T/err" && ok ||
	    bad "$what: tail says what it cut: $(cat "$T/err")"
	python3 - "$T/log" "$before" "$cut" <<'PY' && ok || bad "$what: the log after the cut"
import json, sys
es = [json.loads(l) for l in open(sys.argv[1])]
before, cut = int(sys.argv[2]), sys.argv[3]
# the entries that were there, the repair, and the tail itself
assert len(es) == before + 2, (len(es), before)
assert [e["index"] for e in es] == list(range(len(es)))
rep = es[-2]
assert rep["action"] == "audit.repair", rep
assert ("cut %s bytes" % cut) in rep["reason"], rep["reason"]
assert es[-1]["action"] == "audit.tail"
PY
	ls "$T/v/audit"/torn-* >/dev/null 2>&1 && ok || bad "$what: bytes kept aside"
	[ "$(cat "$T/v/audit"/torn-* | wc -c)" -eq "$cut" ] && ok ||
	    bad "$what: kept $(cat "$T/v/audit"/torn-* | wc -c) bytes, cut $cut"
	expect_ok "$what: checkpoint" "$CV" audit checkpoint --dir "$T/v"
	expect_eq "$what: the checkpoint covers the valid entries" \
	    "$((before + 2))" "$(sed -n 2p "$T/out")"
	expect_ok "$what: verify after" "$CV" audit verify --dir "$T/v"
	[ -s "$T/err" ] && bad "$what: verify still notes: $(cat "$T/err")" || ok
	expect_ok "$what: scope" "$CV" scope --dir "$T/v" --principal "$ME" \
	    --format json --no-notify
	expect_eq "$what: scope finds the get" "$id" \
	    "$(json_field "$T/out" "' '.join(r['id'] for r in d['records'])")"
	expect_ok "$what: evidence" "$CV" evidence export --dir "$T/v" \
	    --incident INC-1 --principal "$ME" --out "$T/ev-$cut.json"
	expect_ok "$what: verify at the end" "$CV" audit verify --dir "$T/v"
}

# 1. 64 zero bytes after the last entry: what some filesystems leave after
# a power loss between write and fdatasync.
head -c 64 /dev/zero >>"$T/v/audit/entries"
tail_ok "zero-filled tail" 64 "$((SIGNED + 1))"
restore

# 2. A frame of a plausible length whose bytes are not an entry.
{ printf '\0\0\0\020'; head -c 16 /dev/zero | tr '\0' '\253'; } \
    >>"$T/v/audit/entries"
tail_ok "garbage frame" 20 "$((SIGNED + 1))"
restore

# 3. The length of the last entry (past the last checkpoint: the
# audit.checkpoint entry itself) one short: it and what follows are cut.
last=$(rewrite_frame -1 'struct.pack(">I", n - 1)')
# That entry is gone from the log (kept aside): one fewer than before.
tail_ok "flipped length past the checkpoint" "$last" "$SIGNED"
restore

# refuses DESC ARGS...: clearvault ARGS fails and points at audit verify
# (tail streams: the entries before the damage may have been printed).
refuses() {
	local what=$1
	shift
	run "$CV" "$@"
	[ "$rc" -ne 0 ] && grep -q "audit verify" "$T/err" && ok ||
	    bad "$what: exit $rc: $(head -c 300 "$T/err")"
}

# Damage inside the checkpointed part: verify fails, commands refuse,
# nothing is cut, and they all agree.
refused() {	# DESC PATTERN
	local what=$1 pat=$2 size
	size=$(stat -c %s "$T/v/audit/entries")
	head -c "$size" "$T/v/audit/entries" >"$T/before"
	expect_fail "$what: verify" "FAILED.*$pat" "$CV" audit verify --dir "$T/v"
	refuses "$what: tail" audit tail --dir "$T/v" --json -n 1000000
	expect_fail "$what: scope" "audit verify\|does not verify" \
	    "$CV" scope --dir "$T/v" --principal "$ME" --no-notify
	# (each command's own entry is appended: the rest stays as it was)
	cmp -s "$T/before" <(head -c "$size" "$T/v/audit/entries") && ok ||
	    bad "$what: the entries were changed"
}

# 4. The length of entry 3 (signed) one longer.
rewrite_frame 3 'struct.pack(">I", n + 1)' >/dev/null
refused "flipped length inside" "entry 3"
restore

# 5. Zero bytes in the middle of the signed part (a lost block).
rewrite_frame 5 'bytes(4 + n)' >/dev/null
refused "zeroed entry inside" "entry 5"
restore

# flip FILE AT MASK: one byte of FILE xor-ed with MASK
flip() {
	python3 - "$@" <<'PY'
import sys
path, at, mask = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "r+b") as f:
    f.seek(at)
    b = f.read(1)
    f.seek(at)
    f.write(bytes([b[0] ^ mask]))
PY
}

# 6. A flipped byte in tree/1: proofs through it would not verify.
flip "$T/v/audit/tree/1" $((32 * 1 + 7)) 1
expect_fail "flipped tree/1 node: verify" "FAILED.*tree/1" \
    "$CV" audit verify --dir "$T/v"
restore

# 7. A flipped byte in offsets (entry 4's end): the entries no longer
# split where the index says.
flip "$T/v/audit/offsets" $((8 * 4 + 7)) 4
expect_fail "flipped offset: verify" "FAILED.*offsets" \
    "$CV" audit verify --dir "$T/v"
refuses "flipped offset: tail" audit tail --dir "$T/v" --json -n 1000000
restore

# 8. A valid entry holding bytes that are not UTF-8 (an id or a path as
# given on the command line): verify accepts it, so tail must show it.
"$CV" get --dir "$T/v" $'CV-\xff\xfe' >/dev/null 2>&1
expect_ok "not UTF-8: verify" "$CV" audit verify --dir "$T/v"
expect_ok "not UTF-8: tail shows it" "$CV" audit tail --dir "$T/v" -n 3
grep -q $'CV-\xef\xbf\xbd\xef\xbf\xbd' "$T/out" && ok ||
    bad "not UTF-8: shown as U+FFFD: $(cat "$T/out")"
restore

# The pristine log is untouched by all this and still verifies against
# the checkpoint held at the start.
expect_ok "pristine verifies against the held checkpoint" \
    "$CV" audit verify --dir "$T/v" --checkpoint "$T/held"
expect_eq "held checkpoint size" "$SIGNED" "$(sed -n 2p "$T/held")"
finish
