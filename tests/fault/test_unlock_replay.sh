#!/bin/bash
# A lost guard.state: the server rebuilds the guard from the whole audit
# log, and the log says what the two-person unlock did as well as what
# the guard locked. A user locked and then unlocked by two officers is not
# locked after the restart; one locked again after an unlock is; one with
# a single approval (of the two it takes) is still locked, and the second
# approval after the restart unlocks them.
. "$(dirname "$0")/../cli/lib.sh"

SRV_PID=
trap 'kill "$SRV_PID" 2>/dev/null; cv_cleanup' EXIT

title() { json_field "$T/body" "d.get('title','')" 2>/dev/null; }
# USER reads the canary (returned, and USER locked).
canary_lock() {
	login_fresh "$1"
	expect_code "login $1" 201
	req "k/$1" GET "/v1/records/$CANARY?purpose=$CASE" "" "$tok"
	expect_code "$1 reads the canary" 200
	login_fresh "$1"
	expect_eq "$1 locked by the canary" "403 locked" "$code $(title)"
}
approve() {	# OFFICER USER
	eval "req k/$1 POST /v1/users/$2/unlock '' \"\$t_$1\""
	expect_code "$1 approves unlocking $2" 200
}
officers() {
	for u in so so2; do
		login_fresh "$u"
		expect_code "login $u" 201
		eval "t_$u=\$tok"
	done
}

make_vault v 30 || { bad "setup"; finish; exit 1; }
echo "probation_days = 0" >>"$T/v/clearvault.conf"
CANARY=$("$CV" canaries --dir "$T/v" | head -1)
add_users "$T/v" so:security_officer so2:security_officer \
    freed:investigator relocked:investigator pending:investigator ||
    { bad "users"; finish; exit 1; }
start_server "$T/v" || { bad "server start"; finish; exit 1; }
officers
req k/so POST /v1/cases '{"title":"replay"}' "$t_so"
CASE=$(json_field "$T/body" "d['id']")
add_members k/so "$t_so" "$CASE" "{\"users\":[\"freed\",\"relocked\",\
\"pending\"],\"records\":[\"$CANARY\"]}"
expect_code "a case holding the canary" 200

canary_lock freed
approve so freed
approve so2 freed
login_fresh freed
expect_code "freed: unlocked by two officers, logs in" 201

canary_lock relocked
approve so relocked
approve so2 relocked
canary_lock relocked

canary_lock pending
approve so pending

stop_server
expect_eq "server exit status" 0 "$SRV_RC"
rm -f "$T/v/guard.state"
start_server "$T/v" || { bad "restart"; finish; exit 1; }

login_fresh freed
expect_code "after a restart without guard.state: the unlocked user logs in" \
    201
login_fresh relocked
expect_eq "after a restart: the user locked again after the unlock" \
    "403 locked" "$code $(title)"
login_fresh pending
expect_eq "after a restart: one approval of two does not unlock" \
    "403 locked" "$code $(title)"
officers
# The pending approval came back too: so2's is the second one.
req k/so POST /v1/users/pending/unlock "" "$t_so"
expect_problem "after a restart: so's approval is remembered" 409
approve so2 pending
login_fresh pending
expect_code "after a restart: the second approval unlocks" 201
stop_server
expect_eq "server exit status (second run)" 0 "$SRV_RC"
finish
