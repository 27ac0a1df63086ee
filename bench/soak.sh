#!/bin/sh
# make soak: a long run of the server at a steady read rate, watching it
# for leaks (issue 16).
#   usage: [SOAK_SECONDS=N] [SOAK_RATE=R] ... make soak
#          (or sh bench/soak.sh after make; --help prints this)
# On loopback, against a fresh vault of its own:
#   1. the maximum: audited reads over SOAK_CAP_CONNS (64) keep-alive
#      mTLS connections, unthrottled, for SOAK_MAX_SECONDS (15);
#   2. the soak: SOAK_SECONDS (600) of audited reads paced at SOAK_RATE
#      (default 60% of that maximum) over SOAK_CONNS (64) connections
#      (bench/bench_tls, open loop: latency from each read's scheduled
#      time; one read in flight per connection, so as many as the
#      maximum had: at 32 the schedule fell behind on a busy machine),
#      with logins (a new session every 5 s), searches and reads
#      of other users, case changes (a case made and its members
#      approved every 30 s) and one canary read at SOAK_CANARY_AT
#      seconds (default 40% in) by a user of its own, who must be locked
#      while the others read on;
#   3. every 10 s a row: reads, p50/p99 of the interval, resident
#      memory, open descriptors and CPU time per read summed over the
#      server's processes (supervisor, keyd, api worker), the machine's
#      load average;
#   4. at the end a verdict (bench/soak_report.py): memory flat, no
#      descriptor growth, p99 stable, the same processes, the rate held
#      without errors, the mixed work as expected; then the server
#      stopped, `audit verify` run, and the audited reads counted
#      against the reads the clients received.
# Exit 1 if anything failed. The samples (samples.csv), the mixed work
# (mix.log), the summary and a chart (soak.svg) go to SOAK_OUT (default
# soak-report/ in the repository). SOAK_RECORDS (default 100,000): the
# vault's size; the reads go to a case of 10,000 of them. The vault and
# its audit log (an entry per read) are made in $TMPDIR and removed at
# the end. SOAK_SECONDS >= 60.
set -eu
case ${1:-} in
-h | --help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
esac
cd "$(dirname "$0")/.."
ROOT=$(pwd)
B=./build
CV=$B/clearvault
GEN=$B/bench/bench_tls
S=${SOAK_SECONDS:-600}
N=${SOAK_RECORDS:-100000}
C=${SOAK_CONNS:-64}
CC=${SOAK_CAP_CONNS:-64}
MAXS=${SOAK_MAX_SECONDS:-15}
CANARY_AT=${SOAK_CANARY_AT:-$((S * 2 / 5))}
OUT=${SOAK_OUT:-soak-report}
case $OUT in /*) ;; *) OUT=$ROOT/$OUT ;; esac
INTERVAL=10
[ "$S" -ge 60 ] || { echo "soak: SOAK_SECONDS must be >= 60" >&2; exit 2; }
[ -x "$GEN" ] || { echo "soak: $GEN missing (make all)" >&2; exit 1; }
mkdir -p "$OUT"
rm -f "$OUT/samples.csv" "$OUT/mix.log" "$OUT/summary.txt" "$OUT/soak.svg"
W=$(mktemp -d "${TMPDIR:-/tmp}/cvsoak.XXXXXX")
spid= mixpid= CVB_PID=
# Only what this script started: the servers (the grants' one of
# scripts/users.sh, the soak's) and the mixed work.
trap 'set +e; [ -z "$mixpid$spid$CVB_PID" ] ||
    kill $mixpid $spid $CVB_PID 2>/dev/null
    wait 2>/dev/null; rm -rf "$W"' EXIT
trap 'exit 1' INT TERM
V=$W/v K=$W/users BOOT=$W/boot
now() { date +%s.%N; }
say() { echo "soak: $*"; }

say "$N records, $(nproc) cores, $(date -u '+%F %T') UTC"
# ---- the vault: records, users, cases ----------------------------------
$CV init --dir "$V" 2>/dev/null
$CV gen --count "$N" --seed 1 >"$W/in.jsonl"
$CV load --dir "$V" --quiet "$W/in.jsonl"
# The reads' case: the first 10,000 records, their SSNs for the
# searches; the canary's case: the next five.
head -n 10005 "$W/in.jsonl" | python3 -c 'import json, sys
with open(sys.argv[1], "w") as i, open(sys.argv[2], "w") as s, \
    open(sys.argv[3], "w") as c:
    for n, l in enumerate(sys.stdin):
        r = json.loads(l)
        print(r["id"], file=i if n < 10000 else c)
        print(r["identity"]["ssn"], file=s)' "$W/case_ids" "$W/ssns" \
    "$W/c_ids"
rm -f "$W/in.jsonl"
CANARY=$($CV canaries --dir "$V" | head -n 1)

. scripts/users.sh
DESKS="desk1 desk2 desk3 desk4 desk5 desk6 desk7 desk8"
budget() {	# USER [6 numbers]: between cv_grants_begin and cv_grants_end
	cv_grant "/v1/users/$1/budget" "{\"budget\":[$2]}" |
	    grep -q '"state":"approved"'
}
mkdir -p "$K"
cv_grants_begin "$V" "$BOOT" "$K/ca.pem"
cv_grant_users "$K" officer:security_officer reader:investigator \
    canr:investigator $(for d in $DESKS; do echo "$d:investigator"; done)
# The reader's budgets out of the way (as make bench's): the guard still
# decides and counts every read. The desks' high enough for their
# reads at a new account's probation (a quarter). The canary's reader
# keeps the role's.
budget reader 90000000,90000000,90000000,100000000,100000000,100000000
for d in $DESKS; do
	budget "$d" 400,4000,40000,800,8000,80000
done
cv_grants_end
CVB_PID=
# Nor the vault-wide ceiling, nor the session budget (20 records per TOTP
# code by default) for the reader's one session.
printf '%s\n' 'ceiling_hour = 90000000/100000000' \
    'ceiling_day = 90000000/100000000' 'session_records = 1000000' \
    >>"$V/clearvault.conf"

$CV serve --dir "$V" --listen 127.0.0.1:0 --rate 0 >"$W/serve.out" 2>&1 &
spid=$!
URL=
for _ in $(seq 1 100); do
	URL=$(sed -n 's/.*listening on \(https:[^ ]*\).*/\1/p' "$W/serve.out")
	[ -n "$URL" ] && break
	sleep 0.1
done
[ -n "$URL" ] || { echo "soak: the server did not start:" >&2
    cat "$W/serve.out" >&2; exit 1; }

# USER TOKEN METHOD PATH [BODY]: the status on stdout, the body in $W/body.
req() {
	if [ -n "${5:-}" ]; then
		curl -s -o "$W/body" -w '%{http_code}' --cacert "$K/ca.pem" \
		    --cert "$K/$1.crt" --key "$K/$1.key" \
		    ${2:+-H "Authorization: Bearer $2"} -X "$3" \
		    -H "Content-Type: application/json" -d "$5" "$URL${4#/}"
	else
		curl -s -o "$W/body" -w '%{http_code}' --cacert "$K/ca.pem" \
		    --cert "$K/$1.crt" --key "$K/$1.key" \
		    ${2:+-H "Authorization: Bearer $2"} -X "$3" "$URL${4#/}"
	fi
}
field() { python3 -c 'import json, sys
print(json.load(open(sys.argv[1])).get(sys.argv[2], ""))' "$W/body" "$1" \
    2>/dev/null; }
# USER: a session, with a TOTP step never used before; the status in
# $code, the token in $tok.
login() {
	code=$(req "$1" "" POST /v1/session \
	    "{\"totp\":\"$(cv_fresh_totp "$K/$1.otpauth" "$K/$1.step")\"}")
	tok=$(field token)
}
# CASE BODY: members proposed by the officer and approved by a second
# officer (cvboot-so1); the approval's status in $code.
members() {
	code=$(req officer "$t_off" POST "/v1/cases/$1/members" "$2")
	[ "$code" = 202 ] || return 0
	code=$(curl -s -o "$W/body" -w '%{http_code}' --cacert "$K/ca.pem" \
	    --cert "$BOOT/cvboot-so1.crt" --key "$BOOT/cvboot-so1.key" \
	    -H "Authorization: Bearer $t_so1" -X POST \
	    "${URL}v1/approvals/$(field proposal)/approve")
}
# TITLE IDS-FILE USER...: a case made by the officer, with the records
# of IDS-FILE (a thousand per proposal) and the users as members; its id
# in $kase, the last approval's status in $code.
mkcase() {
	title=$1 f=$2
	shift 2
	code=$(req officer "$t_off" POST /v1/cases "{\"title\":\"$title\"}")
	kase=$(field id)
	[ "$code" = 201 ] && [ -n "$kase" ] || return 0
	for from in $(seq 1 1000 "$(wc -l <"$f")"); do
		members "$kase" "{\"records\":[$(sed -n \
		    "$from,$((from + 999))p" "$f" | sed 's/.*/"&"/' |
		    paste -sd,)]}"
		[ "$code" = 200 ] || return 0
	done
	members "$kase" "{\"users\":[$(printf '"%s",' "$@" | sed 's/,$//')]}"
}
login officer
t_off=$tok
t_so1=$(cv_boot_login "$BOOT" "$K/ca.pem" "$URL" cvboot-so1)
[ -n "$t_off" ] && [ -n "$t_so1" ] ||
    { echo "soak: the officers cannot log in" >&2; exit 1; }
# Case A: the reader's and the desks' 10,000 records. Case C: five
# records and a canary, the canary's reader alone.
mkcase soak "$W/case_ids" reader $DESKS
[ "$code" = 200 ] || { echo "soak: case A: $code $(cat "$W/body")" >&2
    exit 1; }
case_a=$kase
echo "$CANARY" | cat "$W/c_ids" - >"$W/c_case"
mkcase canary "$W/c_case" canr
[ "$code" = 200 ] || { echo "soak: case C: $code $(cat "$W/body")" >&2
    exit 1; }
case_c=$kase
login reader
t_reader=$tok
[ "$code" = 201 ] || { echo "soak: the reader cannot log in" >&2; exit 1; }

# ---- the server's processes ---------------------------------------------
# The serve process, its children and theirs, each as "PID NAME".
procs() {
	echo "$spid server"
	for k in $(cat /proc/"$spid"/task/*/children 2>/dev/null); do
		echo "$k $(cat /proc/"$k"/comm 2>/dev/null)"
		for g in $(cat /proc/"$k"/task/*/children 2>/dev/null); do
			echo "$g $(cat /proc/"$g"/comm 2>/dev/null)"
		done
	done
}
# RSS (kB), open descriptors, those of them on the audit log's tree
# files and the CPU time used so far (clock ticks) summed over them,
# then per process NAME:PID:RSS:FDS: one line. The tree files are one
# per level of the log's Merkle tree (at most 64, src/audit/log.c): the
# api worker opens all 64 before its sandbox closes, keyd each as the
# log reaches it, so keyd holds one more each time the log doubles.
# Growth, but bounded and no leak: the verdict judges the others.
sample() {
	procs | while read -r p name; do
		r=$(sed -n "s/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p" \
		    /proc/"$p"/status 2>/dev/null)
		f=$(ls /proc/"$p"/fd 2>/dev/null | wc -l)
		l=$(ls -l /proc/"$p"/fd 2>/dev/null | grep -c '/audit/tree/' ||
		    true)
		# utime + stime: fields 14 and 15, 12 and 13 after "(comm) "
		c=$(sed 's/.*) //' /proc/"$p"/stat 2>/dev/null |
		    awk '{ print $12 + $13 }')
		echo "$name $p ${r:-0} $f $l ${c:-0}"
	done | awk '{ r += $3; f += $4; l += $5; c += $6
	    d = d " " $1 ":" $2 ":" $3 ":" $4 } END { print r, f, l, c d }'
}
say "server $URL, processes: $(procs | awk '{ printf "%s%s %s", s, $2, $1; s = ", " }')"

# ---- 1. the maximum ------------------------------------------------------
set -- $($GEN "$URL" "$K/ca.pem" "$K/reader.crt" "$K/reader.key" \
    "$t_reader" "$case_a" "$W/case_ids" "$CC" "$MAXS")
max=$(python3 -c "print(round($3 / $4))")
say "maximum: $max audited reads/s over $CC connections, ${MAXS} s unthrottled (p50 $5 ms, p99 $6 ms, errors $7)"
max_reads=$3 max_errors=$7
RATE=${SOAK_RATE:-$(python3 -c "print(round(0.6 * $max))")}
say "soak: ${S} s at $RATE reads/s over $C connections ($(python3 -c "print(round(100 * $RATE / $max))")% of the maximum); the canary at ${CANARY_AT} s"

# ---- 2. the mixed work, on its own schedule ----------------------------
# One line per operation: SECONDS OPERATION STATUS [DETAIL].
mix() {
	t0=$(now)
	n=0 d=0
	for at in $(seq 0 $((S - 1))); do
		# Sleep to the second AT; a late one runs at once.
		sleep "$(awk "BEGIN { d = $t0 + $at - $(now)
		    print (d > 0 ? d : 0) }")"
		if [ $((at % 5)) -eq 2 ]; then
			# A login of the next desk; a search and two reads in it.
			set -- $DESKS
			shift $((d % $#))
			u=$1
			d=$((d + 1))
			login "$u"
			echo "$at login $code $u"
			if [ "$code" = 201 ]; then
				k=$(( (d * 7919) % 10000 + 1 ))
				# The record of that SSN must be found.
				ssn=$(sed -n "${k}p" "$W/ssns")
				code=$(req "$u" "$tok" GET \
				    "/v1/records?purpose=$case_a&ssn=$ssn")
				grep -q "$(sed -n "${k}p" "$W/case_ids")" \
				    "$W/body" || code="$code-not-found"
				echo "$at search $code $u"
				for j in 1 2; do
					r=$(sed -n "$(( (k + j * 101) % 10000 + 1 ))p" \
					    "$W/case_ids")
					echo "$at desk_read $(req "$u" "$tok" GET \
					    "/v1/records/$r?purpose=$case_a") $u"
				done
			fi
		fi
		if [ $((at % 30)) -eq 15 ]; then
			# A case change: a new case, a desk and 20 records
			# added, approved by the second officer.
			n=$((n + 1))
			set -- $DESKS
			shift $((n % $#))
			sed -n "$((n * 20 + 1)),$((n * 20 + 20))p" \
			    "$W/case_ids" >"$W/change_ids"
			mkcase "soak-$n" "$W/change_ids" "$1"
			echo "$at case_change $code $kase"
		fi
		if [ "$at" -eq "$CANARY_AT" ]; then
			# The canary's reader: a record of its case, the
			# canary (returned, and the user locked), then nothing.
			login canr
			echo "$at canary_login $code canr"
			echo "$at canary_case_read $(req canr "$tok" GET \
			    "/v1/records/$(sed -n 1p "$W/c_ids")?purpose=$case_c") canr"
			echo "$at canary_read $(req canr "$tok" GET \
			    "/v1/records/$CANARY?purpose=$case_c") canr"
			echo "$at canary_after $(req canr "$tok" GET \
			    "/v1/records/$(sed -n 2p "$W/c_ids")?purpose=$case_c") canr"
			login canr
			echo "$at canary_relogin $code $(field title | tr ' ' _)"
			code=$(req officer "$t_off" GET /v1/locks)
			echo "$at canary_locks $code $(grep -o '"canr"' "$W/body" |
			    head -n 1 | tr -d '"')"
		fi
	done
}
mix >"$OUT/mix.log" 2>"$W/mix.err" &
mixpid=$!

# ---- 3. the soak: reads, and a sample of the server every 10 s ---------
# cpu: the server's CPU time per read in the interval (all its processes;
# the mixed work's requests included), load: the machine's 1-minute
# load average (2 cores here, shared: a p99 excursion with a high load
# and an unchanged cpu is the machine, not the server).
TCK=$(getconf CLK_TCK)
echo "time_s,reads,errors,p50_ms,p99_ms,rss_kb,fds,log_tree_fds,cpu_us_per_read,load1,processes" \
    >"$OUT/samples.csv"
printf '%6s %8s %7s %8s %8s %7s %5s %4s %6s %5s\n' time reads reads/s \
    p50_ms p99_ms rss_MB fds tree cpu_us load
cpu0=$(sample | cut -d' ' -f4)
$GEN "$URL" "$K/ca.pem" "$K/reader.crt" "$K/reader.key" "$t_reader" \
    "$case_a" "$W/case_ids" "$C" "$S" "$RATE" "$INTERVAL" |
while read -r kind t reads p50 p99 errs; do
	if [ "$kind" != interval ]; then
		echo "$kind $t $reads $p50 $p99 $errs" >"$W/total"
		continue
	fi
	set -- $(sample)
	load=$(cut -d' ' -f1 /proc/loadavg)
	cpu=$(awk "BEGIN { printf \"%.1f\", ($4 - $cpu0) * 1e6 / $TCK / \
	    ($reads > 0 ? $reads : 1) }")
	cpu0=$4
	echo "$t,$reads,$errs,$p50,$p99,$1,$2,$3,$cpu,$load,$5 $6 $7" \
	    >>"$OUT/samples.csv"
	printf '%6s %8s %7s %8s %8s %7s %5s %4s %6s %5s%s\n' "$t" "$reads" \
	    "$((reads / INTERVAL))" "$p50" "$p99" \
	    "$(awk "BEGIN { printf \"%.1f\", $1 / 1024 }")" "$2" "$3" \
	    "$cpu" "$load" "$([ "$errs" = 0 ] || echo "  errors $errs")"
done
wait $mixpid || true
mixpid=
[ -s "$W/total" ] || { echo "soak: bench_tls failed" >&2; exit 1; }
set -- $(cat "$W/total")
total_reads=$3 total_errors=$7
say "reads: $total_reads in ${S} s ($(python3 -c "print(round($3 / $4))")/s), p50 $5 ms, p99 $6 ms, errors $7"

# ---- 4. the verdict; the server stopped, the log verified and counted --
ok=1
python3 bench/soak_report.py "$OUT" "$S" "$RATE" "$max" "$total_reads" \
    "$total_errors" "$CANARY_AT" >"$OUT/summary.txt" || ok=0
cat "$OUT/summary.txt"
# From here on the lines go to the summary too.
say() { echo "soak: $*" | tee -a "$OUT/summary.txt"; }
kill $spid
wait $spid && src=0 || src=$?
spid=
[ "$src" = 0 ] || { say "FAIL: the server exited $src"; ok=0; }
if $CV audit verify --dir "$V" >"$W/verify" 2>&1; then
	say "audit verify: $(tail -n 1 "$W/verify")"
else
	say "FAIL: audit verify: $(tail -n 3 "$W/verify")"
	ok=0
fi
# Allowed record reads per actor, from every entry of the log.
$CV audit tail --dir "$V" -n 1000000000000 |
    awk '$3 == "allowed" && $4 == "records.get" { n[$5]++ }
    END { for (a in n) print substr(a, 7), n[a] }' >"$W/audited"
audited() { awk -v u="$1" '$1 == u { print $2 }' "$W/audited"; }
a_reader=$(audited reader)
got=$((max_reads + total_reads))
desk_got=$(awk '$2 == "desk_read" && $3 == 200' "$OUT/mix.log" | wc -l)
a_desk=$(awk '$1 ~ /^desk/ { s += $2 } END { print s + 0 }' "$W/audited")
say "audited reads: reader ${a_reader:-0} (its clients received $got: the maximum's $max_reads and the soak's $total_reads), desks $a_desk (received $desk_got), canr $(audited canr)"
# A reply lost on the way (an error on the client's side) may have been
# audited; nothing may have been received that is not in the log.
python3 -c "import sys
a, g, e = map(int, sys.argv[1:])
sys.exit(0 if g <= a <= g + e else 1)" "${a_reader:-0}" "$got" \
    "$((max_errors + total_errors))" ||
    { say "FAIL: audited reads of the reader do not match its replies"; ok=0; }
[ "$a_desk" = "$desk_got" ] ||
    { say "FAIL: audited desk reads do not match their replies"; ok=0; }

[ "$ok" = 1 ] && say "PASS" && exit 0
say "FAIL (the samples, the mixed work and the chart: $OUT)"
exit 1
