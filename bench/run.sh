#!/bin/sh
# make bench: clearvault against a baseline measured in the same run.
#   load    clearvault load  vs  the same JSON lines as plain SQLite rows
#   get     records/s through the library on every core (target 50,000)
#   rotate  data keys rewrapped per second (target 200,000)
#   audit   durable appends/s vs a plain file with the same fsyncs, full
#           verify/s, inclusion proof time at 10 million entries
# BENCH_RECORDS (default 1,000,000) sets the size. Needs ~8 GB of disk at
# the default size, in $TMPDIR.
set -eu
cd "$(dirname "$0")/.."
N=${BENCH_RECORDS:-1000000}
B=./build
W=$(mktemp -d "${TMPDIR:-/tmp}/cvbench.XXXXXX")
trap 'rm -rf "$W"' EXIT
cores=$(nproc)

rate() { python3 -c "print(f'{$1 / $2:,.0f}')"; }
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
now() { date +%s.%N; }

echo "clearvault benchmark: $N records, $cores cores, $(date -u +%F)"

t0=$(now)
$B/clearvault gen --count "$N" --seed 1 >"$W/in.jsonl"
t1=$(now)
gen_s=$(python3 -c "print($t1 - $t0)")
size=$(stat -c %s "$W/in.jsonl")
echo "gen:      $(rate "$N" "$gen_s") records/s ($(python3 -c "print(round($size / $N))") bytes/record)"

# The baseline first, then clearvault, on the same file, same batching
# (one transaction), same pragmas.
out=$($B/bench/plain_sqlite "$W/plain.db" "$W/in.jsonl")
plain_s=$(echo "$out" | awk '{print $3}')
rm -f "$W"/plain.db*

$B/clearvault init --dir "$W/v" 2>/dev/null
t0=$(now)
$B/clearvault load --dir "$W/v" --quiet "$W/in.jsonl"
t1=$(now)
load_s=$(python3 -c "print($t1 - $t0)")
load_r=$(python3 -c "print($N / $load_s)")
echo "load:     $(rate "$N" "$load_s") records/s; plain SQLite $(rate "$N" "$plain_s") rows/s; ratio $(ratio "$plain_s" "$load_s") (target >= 0.50)"
echo "          22 million records: $(python3 -c "print(f'{22e6 / $load_r / 60:.1f}')") minutes at this rate"
echo "          database: $(du -sh "$W/v/vault.db" | cut -f1)"

cut -c8-26 "$W/in.jsonl" >"$W/ids"
rm -f "$W/in.jsonl"
set -- $($B/bench/bench_get "$W/v" "$W/ids" 1 5)
get1=$(rate "$3" "$4")
set -- $($B/bench/bench_get "$W/v" "$W/ids" "$cores" 5)
echo "get:      $(rate "$3" "$4") records/s on $cores threads ($get1 on one; target >= 50,000)"

out=$($B/clearvault rotate --dir "$W/v" 2>&1)
keys_s=$(echo "$out" | sed -n 's/.*(\([0-9]*\) keys\/s).*/\1/p')
echo "rotate:   $(python3 -c "print(f'{$keys_s:,}')") keys/s (target >= 200,000)"

# The audit log at 10 million entries (BENCH_AUDIT_ENTRIES to change).
AN=${BENCH_AUDIT_ENTRIES:-10000000}
$B/bench/bench_audit "$W/audit" "$AN" 10000 | sed 's/^/audit:    /'
echo "          targets: append >= 500,000/s, verify >= 3,000,000/s, proof <= 100 us"
