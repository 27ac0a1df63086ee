#!/bin/bash
# Tampering with the log: each is detected by `audit verify` (given an
# earlier checkpoint where that is what detection needs), and the message
# names what happened.
. "$(dirname "$0")/lib.sh"

make_vault v 20 || { bad "setup"; finish; exit 1; }
id=$(sed -n 1p "$T/v.jsonl" | cut -c8-26)
for i in 1 2 3 4 5 6 7 8; do "$CV" get --dir "$T/v" "$id" >/dev/null 2>&1; done
"$CV" audit checkpoint --dir "$T/v" >"$T/held"
expect_ok "clean log verifies" "$CV" audit verify --dir "$T/v"
cp -a "$T/v" "$T/pristine"

# edit HOW [I]: rewrite entry I (default 4) and the one after it in the
# entries file (u32 length || leaf frames)
edit() {
	python3 - "$T/v/audit/entries" "$1" "${2:-4}" <<'PY'
import os, sys
sys.path.insert(0, os.environ["CV_TESTLIB"])
from audit_files import frames as of
path, how, i = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(path, "rb").read()
frames = [bytearray(data[o:o + 4 + n]) for o, n in of(data)]
if how == "edit":
    frames[i][-3] ^= 0x20
elif how == "delete":
    del frames[i]
elif how == "swap":
    frames[i], frames[i + 1] = frames[i + 1], frames[i]
elif how == "truncate":
    frames = frames[:6]
open(path, "wb").write(b"".join(bytes(f) for f in frames))
PY
}
restore() { rm -rf "$T/v"; cp -a "$T/pristine" "$T/v"; }

edit edit
expect_fail "edited entry" "FAILED at entry 4: edited" \
    "$CV" audit verify --dir "$T/v"
restore
edit delete
expect_fail "deleted entry" "FAILED at entry 4: missing: entry 4 was deleted" \
    "$CV" audit verify --dir "$T/v"
restore
edit swap
expect_fail "swapped entries" "reordered: entries 4 and 5 were swapped" \
    "$CV" audit verify --dir "$T/v"
restore
edit truncate
expect_fail "truncated log" "truncated" "$CV" audit verify --dir "$T/v"
restore
# Truncated everywhere, checkpoints included: only a held one tells.
python3 - "$T/v/audit" <<'PY'
import os, sys
sys.path.insert(0, os.environ["CV_TESTLIB"])
from audit_files import frames
d = sys.argv[1]
keep = 6
data = open(d + "/entries", "rb").read()
open(d + "/entries", "wb").write(data[:frames(data)[keep][0]])
os.truncate(d + "/offsets", keep * 8)
for l in os.listdir(d + "/tree"):
    os.truncate(d + "/tree/" + l, (keep >> int(l)) * 32)
open(d + "/checkpoints", "wb").write(b"")
PY
expect_ok "consistently truncated, nothing held: verifies" \
    "$CV" audit verify --dir "$T/v"
expect_fail "consistently truncated, checkpoint held" "rolled back" \
    "$CV" audit verify --dir "$T/v" --checkpoint "$T/held"
restore

# The latest checkpoint replaced by one signed with another key.
"$CV" init --dir "$T/other" 2>/dev/null
python3 - "$T/v/audit/checkpoints" "$T/other/audit/checkpoints" <<'PY'
import os, sys
sys.path.insert(0, os.environ["CV_TESTLIB"])
from audit_files import frames
def notes(p):	# each checkpoint's frame, whole
    d = open(p, "rb").read()
    return [d[o:o + 8 + n] for o, n in frames(d, 4)]
mine, theirs = notes(sys.argv[1]), notes(sys.argv[2])
open(sys.argv[1], "wb").write(b"".join(mine[:-1] + [theirs[-1]]))
PY
expect_fail "checkpoint by another key" "bad signature" \
    "$CV" audit verify --dir "$T/v"
restore

# The whole vault rolled back to an earlier copy.
for i in 1 2 3; do "$CV" get --dir "$T/v" "$id" >/dev/null 2>&1; done
"$CV" audit checkpoint --dir "$T/v" >"$T/later"
rm -rf "$T/v"
cp -a "$T/pristine" "$T/v"
expect_ok "rolled back, nothing held: verifies" "$CV" audit verify --dir "$T/v"
expect_fail "rolled back, later checkpoint held" "rolled back: the given" \
    "$CV" audit verify --dir "$T/v" --checkpoint "$T/later"
expect_fail "consistency from the later checkpoint" "rolled back\|has only" \
    "$CV" audit consistency --dir "$T/v" --from "$T/later"

# A checkpoint after every entry (as a slow machine's commands leave
# them): the one right after entry 4 must not hide how it was changed.
make_vault w 5 || bad "setup: a vault with a checkpoint per entry"
for i in 1 2 3 4 5 6 7 8; do
	"$CV" audit checkpoint --dir "$T/w" >/dev/null 2>&1
	"$CV" get --dir "$T/w" "$id" >/dev/null 2>&1
done
rm -rf "$T/v" "$T/pristine"
mv "$T/w" "$T/pristine"
restore
edit delete
expect_fail "deleted entry, checkpoint after it" \
    "FAILED at entry 4: missing: entry 4 was deleted" \
    "$CV" audit verify --dir "$T/v"
restore
edit swap
expect_fail "swapped entries, checkpoint after them" \
    "reordered: entries 4 and 5 were swapped" "$CV" audit verify --dir "$T/v"

# The last entry the latest checkpoint covers, with entries after it:
# only the next entry's stored hash (past the checkpoint) tells a
# deletion or a swap from an edit.
restore
for i in 1 2 3; do "$CV" get --dir "$T/v" "$id" >/dev/null 2>&1; done
"$CV" audit checkpoint --dir "$T/v" >/dev/null
for i in 1 2 3; do "$CV" get --dir "$T/v" "$id" >/dev/null 2>&1; done
k=$(python3 - "$T/v/audit/checkpoints" <<'PY'
import os, sys
sys.path.insert(0, os.environ["CV_TESTLIB"])
from audit_files import frames
d = open(sys.argv[1], "rb").read()
o, n = frames(d, 4)[-1]	# the latest checkpoint's size, less one
print(int(d[o + 4:o + 4 + n].split(b"\n")[1]) - 1)
PY
)
rm -rf "$T/pristine"
cp -a "$T/v" "$T/pristine"
edit delete "$k"
expect_fail "deleted, the last checkpointed entry" \
    "FAILED at entry $k: missing: entry $k was deleted" \
    "$CV" audit verify --dir "$T/v"
restore
edit swap "$k"
expect_fail "swapped, the last checkpointed entry and the next" \
    "reordered: entries $k and $((k + 1)) were swapped" \
    "$CV" audit verify --dir "$T/v"
restore
edit edit "$k"
expect_fail "edited, the last checkpointed entry" "FAILED at entry $k: edited" \
    "$CV" audit verify --dir "$T/v"
finish
