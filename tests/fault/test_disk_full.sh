#!/bin/bash
# Issue 16: the disk fills up. The vault lives on a small tmpfs that the
# test mounts in a mount namespace of its own (unshare -m as root, or
# unshare -rm as a user where user namespaces are allowed: gone with the
# test's processes whatever happens), and a filler file takes its last
# byte. On a full disk a `load` and a `rotate` fail, saying the disk is
# full, and change nothing; a running server refuses reads (503, no data)
# since their audit entries cannot be written, and serves again once
# space returns. Then the load and the rotation succeed, every record
# reads, and the log verifies. SQLite only: a PostgreSQL server's disk is
# the database's own business, not the vault folder's.
if [ -z "${CV_DISK_FULL_NS:-}" ]; then
	export CV_DISK_FULL_NS=1
	for how in -m -rm; do
		unshare $how true 2>/dev/null &&
		    exec unshare $how bash "$0" "$@"
	done
	# Meson's SKIP, said loudly: a machine that allows neither (a
	# container without CAP_SYS_ADMIN, user namespaces restricted)
	echo "SKIP: no mount namespace here (unshare -m needs root with" \
	    "CAP_SYS_ADMIN, unshare -rm user namespaces): no disk-full test" >&2
	exit 77
fi
. "$(dirname "$0")/../cli/lib.sh"

MNT=$T/mnt
SRV_PID=
trap 'kill -9 "$SRV_PID" 2>/dev/null; umount "$MNT" 2>/dev/null; cv_cleanup' \
    EXIT
mkdir -p "$MNT"
mount -t tmpfs -o size=64m cvfull "$MNT" ||
    { bad "mount a 64 MB tmpfs"; finish; exit 1; }
V=$MNT/v
fill() {	# [KB]: the disk full, or with KB left free
	dd if=/dev/zero of="$MNT/filler" bs=64k 2>/dev/null
	[ -z "${1:-}" ] || truncate -s -"$1"K "$MNT/filler"
	sync
}
unfill() { rm -f "$MNT/filler"; }
count() { sql "$V" "SELECT count(*) FROM records"; }
full_said() {	# DESC: the command's stderr ($T/err) names the cause
	if grep -q "disk I/O error" "$T/err" &&
	    ! grep -q "No space left on device" "$T/err"; then
		bad "$1: an I/O error with no reason: $(cat "$T/err")"
	elif grep -qi "no space left on device\|disk is full" "$T/err"; then
		ok
	else
		bad "$1: does not say the disk is full: $(cat "$T/err")"
	fi
}

"$CV" gen --count 2000 --seed 7 >"$T/a.jsonl"
"$CV" gen --count 2000 --seed 7 --start 2000 >"$T/b.jsonl"
"$CV" gen --count 2000 --seed 7 --start 4000 >"$T/c.jsonl"
"$CV" init --dir "$V" 2>/dev/null &&
    "$CV" load --dir "$V" --quiet "$T/a.jsonl" || { bad "setup"; finish; exit 1; }
id=$(sed -n 1p "$T/a.jsonl" | cut -c8-26)
last=$(sed -n 2000p "$T/a.jsonl" | cut -c8-26)
probes="$id $last"
[ "$(count)" -ge 2000 ] && ok || bad "records loaded: $(count)"

# A load of FILE on a disk with LOAD_KB left (empty: full) and a rotation
# with ROTATE_KB left fail saying so; the load stored nothing, the
# rotation stopped part-way with every record readable; with space back
# both finish and every key is under the one root.
full_round() {	# DESC FILE LOAD_KB ROTATE_KB
	local n r
	n=$(count)
	fill "$3"
	expect_fail "load, $1" "" "$CV" load --dir "$V" --quiet "$2"
	full_said "load, $1"
	unfill
	# (a command first: it settles what a failed load may have left hidden)
	expect_ok "a record reads after the load, $1" "$CV" get --dir "$V" "$id"
	expect_eq "the load stored nothing, $1" "$n" "$(count)"
	fill "$4"
	expect_fail "rotate, $1" "" "$CV" rotate --dir "$V" --quiet
	full_said "rotate, $1"
	unfill
	expect_ok "the log verifies, $1" "$CV" audit verify --dir "$V"
	for r in $probes; do
		expect_ok "record $r reads after the rotation, $1" \
		    "$CV" get --dir "$V" "$r"
	done
	expect_ok "the load, $1, space back" \
	    "$CV" load --dir "$V" --quiet "$2"
	[ "$(count)" -ge $((n + 2000)) ] && ok ||
	    bad "the load, $1, stored all: $(count) records, had $n"
	probes="$probes $(sed -n 2000p "$2" | cut -c8-26)"
	expect_ok "the rotation, $1, space back" "$CV" rotate --dir "$V" --quiet
	expect_eq "every key under one root, $1" 1 \
	    "$(sql "$V" "SELECT count(DISTINCT gen) FROM deks")"
}
full_round "disk full" "$T/b.jsonl" "" ""
# The disk fills up as they run: a load needs about 7 MB.
full_round "the disk filling up" "$T/c.jsonl" 1024 300

# A server: reads refused while the disk is full, served once space is
# back; every record served has its entry, none refused has one.
add_users "$V" so:security_officer inv:investigator ||
    { bad "users"; finish; exit 1; }
start_server "$V" || { bad "server start"; finish; exit 1; }
login so
t_so=$tok
login inv
t_inv=$tok
printf '%s\n' "$id" "$last" >"$T/case.ids"
new_case so "$t_so" "disk full" "$T/case.ids" inv
expect_code "the case made" 200
ssn=$(sed -n 1p "$T/a.jsonl" | grep -o '"ssn":"[0-9-]*"' | cut -d'"' -f4)
read_id() { req k/inv GET "/v1/records/$1?purpose=$CASE" "" "$t_inv"; }
read_id "$id"
expect_code "a read, space free" 200
# The log's appends fill the page they are in first: reads go on until
# one needs a new page, then every read is refused.
fill
served=0 refused=0
for i in $(seq 1 200); do
	read_id "$id"
	case $code in
	200) [ "$refused" -eq 0 ] && served=$((served + 1)) ||
	         bad "read $i served after a refusal, the disk still full" ;;
	503) refused=$((refused + 1))
	     grep -qs "$ssn" "$T/body" && bad "data in a refused read" ;;
	*) bad "read $i with the disk full: $code: $(head -c 200 "$T/body")" ;;
	esac
	[ "$refused" -ge 3 ] && break
	sleep 0.05
done
echo "# disk full: $served reads served (the log's last page), then refused"
expect_eq "reads refused while the disk is full" 3 "$refused"
grep -qi "audit" "$T/body" && ok || bad "the refusal names the log: $(cat "$T/body")"
unfill
for _ in $(seq 1 50); do
	read_id "$last"
	[ "$code" = 200 ] && break
	sleep 0.2
done
expect_code "served again once space is back" 200
read_id "$id"
expect_code "the first record too" 200
stop_server
SRV_PID=
expect_eq "server exit" 0 "$SRV_RC"

# before, while the log's last page had room, and after
expect_eq "an allowed entry for each read of the first record" \
    $((2 + served)) "$(allowed_reads "$V" "$id")"
expect_eq "an allowed entry for the read of the last" \
    1 "$(allowed_reads "$V" "$last")"
expect_ok "the log verifies at the end" "$CV" audit verify --dir "$V"
finish
