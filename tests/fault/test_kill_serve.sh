#!/bin/bash
# Issue 16, serve: a server under read load killed (kill -9) at random
# moments: its supervisor alone (the children then stop on SIGTERM), all
# three processes at once, keyd alone (the server stops) or the api
# worker alone (the supervisor starts another). A reader, one of a few
# investigators taking turns (each login needs a TOTP step never used),
# reads records of its case in a loop of curl runs, one to ten requests
# each (kept-alive within a run), keeping every reply. After each kill:
# `audit verify` passes; every record a reader was sent (a 200, whole or
# cut short by the kill) has its allowed entry naming that reader and
# record; a user locked before the kill (a canary read, its 200 received)
# is still locked, offline (`user list`) and to the next server; and the
# budget a user spent before the kills (bud: 24 distinct records an
# hour, 3 read in some rounds) is still spent at the end: what is left
# is 24 less what the rounds read.
. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/kill_lib.sh"

SRV_PID=
RDR=
trap 'kill $RDR "$SRV_PID" 2>/dev/null; cv_cleanup' EXIT

WANT=$(kill_target SERVE 40)
NR=10		# readers taking turns (a login a round; each user's
		# TOTP gives one fresh step in 30 s after the first three)
NT=4		# thieves: one canary read each, in rounds 3, 13, 23, 33
BUD=24		# bud's soft budget a minute and an hour
t_start=$(now_ms)

make_vault v 300 || { bad "setup"; finish; exit 1; }
# The vault-wide ceiling well above the readers: on PostgreSQL it is the
# sum of the users' distinct records (docs/scale-out.md), ten readers of
# 250 records.
{ echo "probation_days = 0"; echo "session_records = 100000"
  echo "ceiling_hour = 100000/200000"; echo "ceiling_day = 400000/800000"; } \
    >>"$T/v/clearvault.conf"
readers=() thieves=()
for i in $(seq 1 $NR); do readers+=("r$i"); done
for i in $(seq 1 $NT); do thieves+=("t$i"); done
add_users "$T/v" so:security_officer bud:investigator \
    $(printf '%s:investigator ' "${readers[@]}" "${thieves[@]}") ||
    { bad "users"; finish; exit 1; }
# The readers read on budgets no reading here reaches; bud on a small one.
set_budget "$T/v" bud "$BUD/48" "$BUD/48" 1000/2000 $(for u in \
    "${readers[@]}"; do echo "$u 5000/10000 100000/200000 400000/800000"; \
    done) || { bad "budgets: $(tail -3 "$T/boot/v/serve.err")"; finish
    exit 1; }
canaries=$("$CV" canaries --dir "$T/v") || { bad "canaries"; finish; exit 1; }
cut -c8-26 "$T/v.jsonl" | head -250 >"$T/ids"		# the readers'
cut -c8-26 "$T/v.jsonl" | sed -n '251,300p' >"$T/bud.ids"	# bud's
echo "$canaries" | head -$NT >"$T/canaries"

# The case: readers, bud and thieves; the records above and the canaries.
start_server "$T/v" || { bad "server start"; finish; exit 1; }
login_fresh so
cat "$T/ids" "$T/bud.ids" "$T/canaries" >"$T/case.ids"
new_case so "$tok" "kill loop" "$T/case.ids" bud "${readers[@]}" \
    "${thieves[@]}"
expect_code "the case" 200
stop_server

# GETs of random case records by USER (TOKEN) until $T/stop exists, each
# reply's body in DIR; per request "CODE EXIT FILE URL" in DIR/codes. It
# stops at its first failure: after a kill of the api worker the session
# must step up (the count of a session proved before the worker started
# is not known to it), and every request refused for that adds to the
# reader's behaviour score (ten lock it).
reader_loop() {	# USER TOKEN DIR
	local n=0 i k
	mkdir -p "$3"
	while [ ! -e "$T/stop" ]; do
		n=$((n + 1))
		k=$((1 + RANDOM % 10))
		{
			echo "cacert = \"$T/ca.pem\""
			echo "cert = \"$T/k/$1.crt\""
			echo "key = \"$T/k/$1.key\""
			echo "header = \"Authorization: Bearer $2\""
			echo 'write-out = "%{http_code} %{exitcode} %{filename_effective} %{url_effective}\n"'
			echo "max-time = 10"
			echo silent
			echo fail
			echo fail-early
			i=0
			for id in $(shuf -n "$k" "$T/ids"); do
				i=$((i + 1))
				echo "url = \"${URL}v1/records/$id?purpose=$CASE\""
				echo "output = \"$3/$n.$i\""
			done
		} >"$3/cfg"
		curl -K "$3/cfg" >>"$3/codes" 2>/dev/null || break
	done
}
# The PID of serve's child ROLE (keyd, api): its argv[0] names it.
child() {	# ROLE
	local p
	for p in $(cat /proc/"$SRV_PID"/task/*/children 2>/dev/null); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null |
		    grep -q "^clearvault: $1 " && echo "$p"
	done
}
# login_fresh without a Python to read the token: on this busy a machine
# each interpreter costs a quarter of a second, and every round logs in.
login_tok() {	# USER: a fresh TOTP step; status in $code, the token in $tok
	req "k/$1" POST /v1/session \
	    "{\"totp\":\"$(fresh_totp "$T/k/$1.otpauth" "$T/k/$1.step")\"}"
	tok=$(sed -n 's/.*"token":"\([^"]*\)".*/\1/p' "$T/body")
}
healthy() {	# the server answers (up to 10 s)
	for _ in $(seq 1 100); do
		req "" GET /healthz
		[ "$code" = 200 ] && return 0
		sleep 0.1
	done
	return 1
}
# Reads bud's records FROM on, one by one, while they answer 200 and at
# most N: the count of 200s in $got, the last reply's code in $code.
bud_reads() {	# TOKEN FROM N
	got=0
	for id in $(sed -n "$2,\$p" "$T/bud.ids" | head -"$3"); do
		req k/bud GET "/v1/records/$id?purpose=$CASE" "" "$1"
		[ "$code" = 200 ] || return 0
		got=$((got + 1))
	done
}

"$CV" ca-cert --dir "$T/v" >"$T/ca.pem"
echo "set up in $((($(now_ms) - t_start) / 1000)) s"
audit_out() { "$CV" audit verify --dir "$T/v" >"$T/out" 2>"$T/err"; }
audit_out
log_since "$T/v" 0 "$T/log"
next=$LOG_SIZE
bud_used=0 bud_next=1 locked=() round=0 modes=""
while [ "$KILLS" -lt "$WANT" ] && [ "$round" -lt $((2 * WANT)) ]; do
	round=$((round + 1))
	reader=${readers[$(((round - 1) % NR))]}
	start_server "$T/v" || { bad "round $round: the server starts"; break; }
	login_tok "$reader"
	expect_code "round $round: $reader logs in" 201
	rtok=$tok
	# bud spends 3 of its budget in every eighth round.
	if [ $((round % 8)) = 1 ]; then
		login_tok bud
		bud_reads "$tok" "$bud_next" 3
		expect_eq "round $round: bud reads 3" 3 "$got"
		bud_used=$((bud_used + got)) bud_next=$((bud_next + got))
	fi
	# A thief reads a canary: locked, its record received.
	thief=
	if [ $((round % 10)) = 3 ] && [ "${#locked[@]}" -lt "$NT" ]; then
		thief=${thieves[${#locked[@]}]}
		login_tok "$thief"
		req "k/$thief" GET "/v1/records/$(sed -n \
		    "$((${#locked[@]} + 1))p" "$T/canaries")?purpose=$CASE" "" \
		    "$tok"
		expect_code "round $round: $thief reads a canary" 200
		locked+=("$thief")
	fi
	rm -f "$T/stop"
	rm -rf "$T/rd"
	reader_loop "$reader" "$rtok" "$T/rd" &
	RDR=$!
	delay=$(rand_ms 1200)
	case $((RANDOM % 4)) in
	0) mode=supervisor ;;
	1) mode=all ;;
	2) mode=keyd ;;
	3) mode=api ;;
	esac
	what="round $round (delay $delay ms, $mode${thief:+, $thief locked})"
	sleep_ms "$delay"
	keyd=$(child keyd) api=$(child api)
	case $mode in
	supervisor) kill -9 "$SRV_PID" ;;
	all) kill -9 "$SRV_PID" $keyd $api ;;
	keyd) kill -9 $keyd ;;
	api) kill -9 $api ;;
	esac
	KILLS=$((KILLS + 1))
	modes="$modes $mode"
	if [ "$mode" = api ]; then
		# Started again by the supervisor: it serves, then stops.
		healthy && ok || bad "$what: no api worker after the kill"
		[ -n "$(child api)" ] && [ "$(child api)" != "$api" ] && ok ||
		    bad "$what: the api worker was not started again"
		stop_server
		expect_eq "$what: the server stops cleanly" 0 "$SRV_RC"
	else
		wait "$SRV_PID" 2>/dev/null
	fi
	wait_gone $keyd $api || bad "$what: keyd or api outlived the kill"
	touch "$T/stop"
	wait "$RDR"
	RDR=

	audit_out && ok || bad "$what: audit verify: $(head -c 300 "$T/err")"
	torn_seen
	log_since "$T/v" "$next" "$T/log"
	next=$LOG_SIZE
	python3 - "$T/log" "$reader" "$T/rd/codes" "$URL" <<'PY' ||
import json, sys
log, user, codes, url = sys.argv[1:]
got = set()
es = [json.loads(l) for l in open(log)]
for e in es:
    if (e["action"] == "records.get" and e["outcome"] == "allowed" and
            e["actor"] == user):
        got.update(e["records"])
sent = whole = cut = other = 0
missing = []
for line in open(codes):
    code, ex, path, u = line.split(" ", 3)
    if code != "200":
        other += 1
        continue
    rid = u.strip().split("/v1/records/")[1].split("?")[0]
    sent += 1
    try:
        ok = json.load(open(path))["id"] == rid and ex == "0"
    except (OSError, ValueError, KeyError):
        ok = False
    whole += ok
    cut += not ok
    if rid not in got:
        missing.append((rid, "whole" if ok else "cut short"))
print("  %s: %d records sent (%d whole, %d cut short), %d other replies"
      % (user, sent, whole, cut, other))
assert not missing, ("sent without their entries", missing[:5])
PY
	    bad "$what: a record sent without its entry (log $T/log)"
	if [ "${#locked[@]}" -gt 0 ]; then
		"$CV" user list --dir "$T/v" >"$T/users"
		for u in "${locked[@]}"; do
			grep -q "^$u  *investigator  *locked " "$T/users" && ok ||
			    bad "$what: $u not locked after the kill"
		done
	fi
	echo "$what: done"
	[ "$fails" -eq 0 ] || break
done

# The next server: the locks hold, and bud's budget is what was left.
start_server "$T/v" || { bad "the last server starts"; finish; exit 1; }
for u in "${locked[@]}"; do
	login_fresh "$u"
	expect_problem "$u: still locked" 403
	expect_eq "$u: locked" locked "$(json_field "$T/body" "d['title']")"
done
login_fresh bud
bud_reads "$tok" "$bud_next" $((BUD + 5))
expect_eq "bud: what the kills left of its budget" $((BUD - bud_used)) \
    "$got"
expect_eq "bud: then a step-up" "403 step-up required" \
    "$code $(json_field "$T/body" "d.get('title')")"
stop_server
expect_eq "the last server stops cleanly" 0 "$SRV_RC"
audit_out && ok || bad "audit verify at the end: $(head -c 300 "$T/err")"
echo "kills by target:$(echo "$modes" | tr ' ' '\n' | grep . | sort | uniq -c |
    awk '{ printf " %s %s", $2, $1 }')"
kills_done serve $((($(now_ms) - t_start) / 1000))
echo "serve: token.object torn by $TORN of the kills, and put back"
finish
