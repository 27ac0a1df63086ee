#!/bin/bash
# The vault's side of witnessing (issue 15): the supervisor pushes each new
# checkpoint to two real witnesses (`clearvault witness serve` on
# 127.0.0.1), quorum 2. Normal operation: `audit checkpoint` and GET
# /v1/audit/checkpoint serve one note with both cosignatures, which an
# independent checker (cosig_check.py) verifies, and `audit verify
# --witness` passes. A vault copied back to an older state is refused by
# both witnesses: critical witness_conflict alerts, and `audit verify
# --witness` fails naming the missing quorum. A witness down: the log keeps
# working, witness_quorum_missing after witness_alert_after, and the
# cosignatures catch up when it is back. With witness_no_quorum =
# refuse-reads, a record read past witness_alert_after without a quorum is
# a 503 (keyd refuses to decrypt) and a denied entry, until the quorum is
# back. Config errors name the key. On
# SQLite and on PostgreSQL (the pusher's read-only log handle is the
# database's there; the rollback is a copy of the database).
. "$(dirname "$0")/lib.sh"
CHECK=$(dirname "$0")/cosig_check.py
WPID1= WPID2= SRV_PID=
trap 'kill $WPID1 $WPID2 $SRV_PID 2>/dev/null; cv_cleanup' EXIT

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# start_witness N: witness N on its port $PORTn, pid in $WPIDn
start_witness() {
	local port
	eval "port=\$PORT$1"
	: >"$T/w$1.out"
	"$CV" witness serve --dir "$T/w$1" --listen "127.0.0.1:$port" \
	    >"$T/w$1.out" 2>"$T/w$1.err" &
	eval "WPID$1=$!"
	for _ in $(seq 100); do
		grep -q "listening on" "$T/w$1.out" && return 0
		sleep 0.1
	done
	bad "witness $1 did not start: $(cat "$T/w$1.err")"
	return 1
}
stop_witness() {
	local pid
	eval "pid=\$WPID$1"
	kill "$pid" && wait "$pid"
	eval "WPID$1="
}
# cosigs FILE: how many cosignature lines of our two witnesses FILE has
cosigs() {
	grep -c -e "^— ig.example/w1 " -e "^— partner.example/w2 " "$1"
}
# alerts DIR KIND: the alerts of KIND in DIR/alerts.jsonl, "severity|detail"
alerts() {
	python3 -c '
import sys; sys.path.insert(0, sys.argv[3])
import alerts
for a in alerts.load(sys.argv[1]):
    if a["kind"] == sys.argv[2]: print(a["severity"] + "|" + a["detail"])
' "$1/alerts.jsonl" "$2" "$CV_TESTLIB" 2>/dev/null
}
# wait_for SECONDS CMD...: until CMD succeeds (polled every 0.5 s)
wait_for() {
	local n=$(($1 * 2))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.5
		n=$((n - 1))
	done
	return 1
}
# The same for a CMD that is itself a request, an entry: polled every
# 1.5 s, so that the checkpoint made for the last one (at most a second
# later) has been pushed before the next request is served; asked faster,
# each request is served a brand-new checkpoint no witness has seen yet.
wait_quiet() {
	local n=$(($1 * 2 / 3))
	shift
	while [ "$n" -gt 0 ]; do
		sleep 1.5
		"$@" && return 0
		n=$((n - 1))
	done
	return 1
}

make_vault v 3 || { bad "make vault"; finish; exit 1; }
add_users "$T/v" aud:auditor so:security_officer inv:investigator ||
    { bad "users"; finish; exit 1; }
R1=$(sed -n 1p "$T/v.jsonl" | cut -c8-26)
LOGKEY=$("$CV" audit pubkey --dir "$T/v")
ORIGIN=$("$CV" audit checkpoint --dir "$T/v" | head -1)
W1=$("$CV" witness init --dir "$T/w1" --name ig.example/w1)
W2=$("$CV" witness init --dir "$T/w2" --name partner.example/w2)
W3=$("$CV" witness init --dir "$T/w3" --name nobody.example/w3)
for w in w1 w2; do
	"$CV" witness add-log --dir "$T/$w" --origin "$ORIGIN" --vkey "$LOGKEY" ||
	    bad "add-log $w"
done
PORT1=$(free_port)
PORT2=$(free_port)
start_witness 1 && start_witness 2 || { finish; exit 1; }

# ---- configuration: strict, errors name the key -------------------------
CONF=$T/v/clearvault.conf
cp "$CONF" "$T/conf.orig"
conf_fails() {	# DESC PATTERN LINE...
	local desc=$1 pat=$2
	shift 2
	cp "$T/conf.orig" "$CONF"
	printf '%s\n' "$@" >>"$CONF"
	expect_fail "config: $desc" "$pat" "$CV" audit pubkey --dir "$T/v"
}
conf_fails "not http" "'witness' must be" "witness = https://127.0.0.1:1 $W1"
conf_fails "no key" "'witness' must be" "witness = http://127.0.0.1:1"
conf_fails "a log key, not a witness's" "'witness' must be" \
    "witness = http://127.0.0.1:1 $LOGKEY"
conf_fails "a path" "'witness' must be" "witness = http://127.0.0.1:1/x/ $W1"
conf_fails "the same witness twice" "'witness' must be" \
    "witness = http://127.0.0.1:1 $W1" "witness = http://127.0.0.1:2 $W1"
conf_fails "quorum above the witnesses" "witness_quorum is above" \
    "witness = http://127.0.0.1:1 $W1" "witness_quorum = 2"
conf_fails "quorum 0" "'witness_quorum' must be" \
    "witness = http://127.0.0.1:1 $W1" "witness_quorum = 0"
conf_fails "alert time" "'witness_alert_after' must be" \
    "witness_alert_after = 5s"
conf_fails "no-quorum policy" "'witness_no_quorum' must be" \
    "witness = http://127.0.0.1:1 $W1" "witness_no_quorum = stop"
conf_fails "refuse-reads without witnesses" "needs witness lines" \
    "witness_no_quorum = refuse-reads"
cp "$T/conf.orig" "$CONF"
cat >>"$CONF" <<EOF
witness = http://127.0.0.1:$PORT1/ $W1
witness = http://127.0.0.1:$PORT2 $W2
witness_quorum = 2
witness_alert_after = 3
EOF
expect_ok "a good witness configuration" "$CV" audit pubkey --dir "$T/v"

expect_fail "--cosigned before any witness cosigned" \
    "no cosigned checkpoint yet" "$CV" audit checkpoint --dir "$T/v" --cosigned

# ---- normal operation: every checkpoint cosigned by both -----------------
start_server "$T/v" || { bad "server start"; finish; exit 1; }
login aud
AUD=$tok
# Each request is an entry, and the checkpoint it is served with was made
# for it; a cosigned one is there once the pusher's round has run.
api_cosigned() {
	req k/aud GET /v1/audit/checkpoint "" "$AUD"
	[ "$code" = 200 ] && [ "$(cosigs "$T/body")" = 2 ]
}
wait_quiet 15 api_cosigned && ok ||
    bad "GET /v1/audit/checkpoint never had both cosignatures: $(cat "$T/body")"
cp "$T/body" "$T/api_ck"
sed '1,/^$/d' "$T/api_ck" >"$T/api_sigs"
for w in "$W1" "$W2"; do
	run python3 "$CHECK" "$LOGKEY" "$w" "$T/api_ck" "$T/api_sigs"
	expect_eq "API checkpoint: independent check of ${w%%+*}: $(cat "$T/err")" \
	    "ok $(sed -n 2p "$T/api_ck")" "$(cut -d' ' -f1,2 "$T/out")"
done
# the newest cosigned one, asked for as such: at once, whatever the traffic
req k/aud GET "/v1/audit/checkpoint?cosigned=1" "" "$AUD"
expect_eq "GET ?cosigned=1" 200 "$code"
expect_eq "GET ?cosigned=1: both cosignatures" 2 "$(cosigs "$T/body")"
req k/aud GET "/v1/audit/checkpoint?cosigned=2" "" "$AUD"
expect_eq "GET ?cosigned=2" 400 "$code"
expect_ok "audit checkpoint --cosigned" \
    "$CV" audit checkpoint --dir "$T/v" --cosigned
expect_eq "--cosigned: both cosignatures" 2 "$(cosigs "$T/out")"
cli_cosigned() {
	"$CV" audit checkpoint --dir "$T/v" >"$T/cli_ck" 2>"$T/err" &&
	    [ "$(cosigs "$T/cli_ck")" = 2 ]
}
wait_quiet 15 cli_cosigned && ok ||
    bad "audit checkpoint never had both cosignatures: $(cat "$T/cli_ck" "$T/err")"
sed '1,/^$/d' "$T/cli_ck" >"$T/cli_sigs"
for w in "$W1" "$W2"; do
	run python3 "$CHECK" "$LOGKEY" "$w" "$T/cli_ck" "$T/cli_sigs"
	expect_eq "CLI checkpoint: independent check of ${w%%+*}: $(cat "$T/err")" \
	    "ok $(sed -n 2p "$T/cli_ck")" "$(cut -d' ' -f1,2 "$T/out")"
done
# one signed note: the log's signature first, then the cosignatures
expect_eq "the log's signature stays first" "— $ORIGIN" \
    "$(sed '1,/^$/d' "$T/cli_ck" | head -1 | cut -d' ' -f1,2)"
# the outsider's check with the quorum
"$CV" audit prove --dir "$T/v" --index 0 --size "$(sed -n 2p "$T/cli_ck")" \
    >"$T/proof"
expect_ok "audit check --witness x2 --quorum 2" "$CV" audit check \
    --pubkey "$LOGKEY" --checkpoint "$T/cli_ck" --proof "$T/proof" \
    --witness "$W1" --witness "$W2" --quorum 2
expect_fail "audit check: a witness that did not cosign" "no witness quorum" \
    "$CV" audit check --pubkey "$LOGKEY" --checkpoint "$T/cli_ck" \
    --proof "$T/proof" --witness "$W1" --witness "$W3" --quorum 2
grep -q "nobody.example/w3 (missing)" "$T/err" && ok ||
    bad "the missing witness is named: $(cat "$T/err")"
expect_fail "audit check: one witness counted once" "no witness quorum" \
    "$CV" audit check --pubkey "$LOGKEY" --checkpoint "$T/cli_ck" \
    --proof "$T/proof" --witness "$W1" --witness "$W1" --quorum 2
stop_server
expect_eq "server stops cleanly" 0 "$SRV_RC"
expect_ok "audit verify --witness x2 --quorum 2 (stopped server)" \
    "$CV" audit verify --dir "$T/v" --witness "$W1" --witness "$W2" --quorum 2
grep -q "cosigned by a quorum of 2" "$T/out" && ok || bad "verify says the quorum"
expect_fail "verify: --quorum above the keys" "quorum must be" \
    "$CV" audit verify --dir "$T/v" --witness "$W1" --quorum 2
expect_eq "DIR/witness is private" 700 "$(stat -c %a "$T/v/witness")"
# A cosigned file that is not this log's (here: its log signature
# altered) is neither served with the note nor as the cosigned one.
cp -a "$T/v" "$T/vt"
python3 - "$T/vt/witness/checkpoint" <<-'PY'
	import sys
	b = bytearray(open(sys.argv[1], "rb").read())
	i = b.index(b"\n\n") + 2 + 60	# inside the log's signature
	b[i] = ord("A") if b[i] != ord("A") else ord("B")
	open(sys.argv[1], "wb").write(bytes(b))
PY
expect_fail "--cosigned: an altered file is refused" \
    "not a cosigned checkpoint of this log" \
    "$CV" audit checkpoint --dir "$T/vt" --cosigned
expect_fail "verify --witness: an altered file counts for nothing" \
    "no witness quorum" "$CV" audit verify --dir "$T/vt" \
    --witness "$W1" --witness "$W2"
rm -rf "$T/vt"

# ---- a vault copied back to an older state -------------------------------
# The folder and its database as they are now (on PostgreSQL the log is in
# the database: a copy of it, put under the copied folder later).
cp -a "$T/v" "$T/vold"
db_save "$T/v" vsnap || bad "database snapshot"
OLD_SIZE=$(sed -n 2p "$T/v/witness/checkpoint")
# (the session token outlives a restart of the server)
start_server "$T/v" || { bad "server restart"; finish; exit 1; }
newer() {
	req k/aud GET /v1/audit/checkpoint "" "$AUD"
	[ "$(cosigs "$T/body")" = 2 ] &&
	    [ "$(sed -n 2p "$T/body")" -gt $((OLD_SIZE + 2)) ]
}
wait_quiet 15 newer && ok || bad "no newer cosigned checkpoint"
stop_server
NEW_SIZE=$(sed -n 2p "$T/v/witness/checkpoint")
rm -f "$T/vold/alerts.jsonl"
db_restore "$T/vold" vsnap || bad "database restore"
start_server "$T/vold" || { bad "server on the old copy"; finish; exit 1; }
conflicts() { [ "$(alerts "$T/vold" witness_conflict | wc -l)" -ge 2 ]; }
wait_for 10 conflicts && ok ||
    bad "no witness_conflict from both witnesses: $(cat "$T/serve.err")"
alerts "$T/vold" witness_conflict >"$T/conflicts"
expect_eq "conflict alerts are critical" "" \
    "$(grep -v '^critical|' "$T/conflicts")"
grep -q "ig.example/w1.*$NEW_SIZE" "$T/conflicts" &&
    grep -q "partner.example/w2.*$NEW_SIZE" "$T/conflicts" && ok ||
    bad "the alerts name the witness and its size $NEW_SIZE: $(cat "$T/conflicts")"
# and the rolled-back log itself says so (the supervisor appends them)
entries_of() {	# DIR ACTION: how many entries of ACTION its log has
	"$CV" audit tail --dir "$1" -n 1000 | grep -c " $2 "
}
has_entries() { [ "$(entries_of "$T/vold" witness.conflict)" -ge 2 ]; }
wait_for 5 has_entries && ok ||
    bad "no witness.conflict entries in the log: $("$CV" audit tail --dir "$T/vold" -n 5)"
stop_server
# A fork: the old copy grows past what the witnesses cosigned, with other
# entries. A witness's 409 names its size; the proof from there is of
# another tree, and the witness refuses it (422).
for _ in $(seq $((NEW_SIZE - OLD_SIZE + 3))); do
	"$CV" audit checkpoint --dir "$T/vold" >/dev/null
done
rm -f "$T/vold/alerts.jsonl"
start_server "$T/vold" || { bad "server on the fork"; finish; exit 1; }
wait_for 10 conflicts && ok ||
    bad "no witness_conflict for the fork: $(cat "$T/serve.err")"
alerts "$T/vold" witness_conflict >"$T/conflicts"
expect_eq "fork: both refuse the consistency proof" 2 \
    "$(grep -c "^critical|.*refuses the consistency proof from $NEW_SIZE" \
    "$T/conflicts")"
stop_server
expect_fail "audit verify --witness on the rolled-back copy" \
    "no witness quorum" "$CV" audit verify --dir "$T/vold" \
    --witness "$W1" --witness "$W2" --quorum 2
grep -q "ig.example/w1 (missing)" "$T/err" && ok ||
    bad "verify names the missing cosignatures: $(cat "$T/err")"

# ---- a witness down: the log keeps working, an alert, then catch-up -------
start_server "$T/v" || { bad "server restart 2"; finish; exit 1; }
stop_witness 2
grow_and_check() {
	req k/aud GET /v1/audit/checkpoint "" "$AUD"
	[ "$code" = 200 ] && [ -n "$(alerts "$T/v" witness_quorum_missing)" ]
}
wait_quiet 15 grow_and_check && ok ||
    bad "no witness_quorum_missing alert with a witness down"
expect_eq "the log keeps serving" 200 "$code"
expect_eq "quorum_missing is critical" critical \
    "$(alerts "$T/v" witness_quorum_missing | head -1 | cut -d'|' -f1)"
expect_eq "one alert per episode" 1 \
    "$(alerts "$T/v" witness_quorum_missing | wc -l)"
start_witness 2 || { finish; exit 1; }
wait_quiet 45 api_cosigned && ok ||
    bad "cosignatures did not catch up: $(cat "$T/body")"
restored() { [ -n "$(alerts "$T/v" witness_quorum_restored)" ]; }
wait_for 5 restored && ok || bad "no witness_quorum_restored alert"
expect_eq "restored is info" info \
    "$(alerts "$T/v" witness_quorum_restored | head -1 | cut -d'|' -f1)"
both_entries() {
	[ "$(entries_of "$T/v" witness.quorum_missing)" = 1 ] &&
	    [ "$(entries_of "$T/v" witness.quorum_restored)" = 1 ]
}
wait_for 5 both_entries && ok || bad "quorum entries in the log"
stop_server
expect_eq "server stops cleanly (2)" 0 "$SRV_RC"

# ---- witness_no_quorum = refuse-reads: no quorum, no record data ----------
echo "witness_no_quorum = refuse-reads" >>"$CONF"
expect_fail "refuse-reads: not with --one-process" "one-process" \
    timeout 20 "$CV" serve --dir "$T/v" --one-process --listen 127.0.0.1:0
start_server "$T/v" || { bad "server restart 3"; finish; exit 1; }
for u in so inv; do
	login "$u"
	eval "t_$u=\$tok"
done
req k/so POST /v1/cases '{"title":"quorum"}' "$t_so"
CASE=$(json_field "$T/body" "d['id']")
add_members k/so "$t_so" "$CASE" "{\"users\":[\"inv\"],\"records\":[\"$R1\"]}"
expect_code "case filled" 200
read_r1() { req k/inv GET "/v1/records/$R1?purpose=$CASE" "" "$t_inv"; }
read_r1
expect_code "refuse-reads: a read with the quorum there" 200
stop_witness 2
refused() { read_r1; [ "$code" = 503 ]; }
wait_quiet 20 refused && ok ||
    bad "no 503 without a quorum: $code $(cat "$T/body")"
expect_eq "the refusal says why" 1 "$(json_field "$T/body" \
    "int(d['detail'].startswith('no witness quorum for ') and \
    d['detail'].endswith(' s: reads refused by policy'))")"
expect_problem "the refusal" 503
expect_eq "the alert came first" 2 \
    "$(alerts "$T/v" witness_quorum_missing | wc -l)"
denied() {
	"$CV" audit tail --dir "$T/v" -n 50 | grep " records.get " |
	    grep "denied" | grep -c "reads refused by policy"
}
[ "$(denied)" -ge 1 ] && ok ||
    bad "no denied entry: $("$CV" audit tail --dir "$T/v" -n 5)"
start_witness 2 || { finish; exit 1; }
served() { read_r1; [ "$code" = 200 ]; }
wait_quiet 45 served && ok ||
    bad "reads not back with the quorum: $code $(cat "$T/body")"
expect_eq "restored before reads came back" 2 \
    "$(alerts "$T/v" witness_quorum_restored | wc -l)"
stop_server
expect_eq "server stops cleanly (3)" 0 "$SRV_RC"
finish
