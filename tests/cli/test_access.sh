#!/bin/bash
# clearvault access review against logins and reads made through the real
# server: the users with read power and their cases, last login (set for
# those who logged in, null for one who never did), distinct records read
# (a record read twice counts once; denied reads and searches not at all;
# checked against an independent count from `audit tail --json`), the
# guard's lock, the unused flag at a "now" a month later
# (CLEARVAULT_ACCESS_NOW, test-only), --disable-unused disabling exactly
# the flagged accounts (user list, refused logins), the audit entries of
# both, table and JSON output, usage errors.
. "$(dirname "$0")/lib.sh"

SRV_PID=
trap 'kill "$SRV_PID" 2>/dev/null; cv_cleanup' EXIT
make_vault v 30 --canaries 0 || { bad "setup"; finish; exit 1; }
add_users "$T/v" so:security_officer inva:investigator invb:investigator \
    adj:adjudicator aud:auditor || { bad "users"; finish; exit 1; }
for i in 1 2 3 4 5 6; do eval "R$i=\$(sed -n ${i}p \"\$T/v.jsonl\" | cut -c8-26)"; done
SSN6=$(sed -n 6p "$T/v.jsonl" | grep -o '"ssn":"[0-9-]*"' | cut -d'"' -f4)
# adj is locked by the guard at its second distinct record.
expect_ok "adj's budget" set_budget "$T/v" adj 1/1 1/1 1/1

code() { fresh_totp "$T/k/$1.otpauth" "$T/k/$1.step"; }
login2() {	# USER: a new session; its token in $tok
	req "k/$1" POST /v1/session "{\"totp\":\"$(code "$1")\"}"
	tok=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1])).get('token',''))" "$T/body" 2>/dev/null)
}
now() { python3 -c 'import datetime; print(datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))'; }
# T + DAYS days, as RFC 3339 (microseconds kept)
plus_days() {
	python3 -c 'import datetime,sys; t=datetime.datetime.strptime(sys.argv[1],"%Y-%m-%dT%H:%M:%S.%fZ")+datetime.timedelta(days=int(sys.argv[2])); print(t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))' "$1" "$2"
}
get() {	# WHO TOKEN CASE RECORD [EXTRA QUERY]
	req "k/$1" GET "/v1/records/$4?purpose=$3${5:-}" "" "$2"
}

start_server "$T/v" || { bad "server start"; finish; exit 1; }
login2 so
expect_code "login so" 201
t_so=$tok
new_case() {	# USERS-JSON RECORDS-JSON: the case id in $CASE
	req k/so POST /v1/cases '{"title":"Access review"}' "$t_so"
	expect_code "case created" 201
	CASE=$(json_field "$T/body" "d['id']")
	add_members k/so "$t_so" "$CASE" "{\"users\":$1,\"records\":$2}"
	expect_code "members added" 200
}
new_case '["inva","adj"]' "[\"$R1\",\"$R2\",\"$R3\"]"
C1=$CASE
new_case '["inva"]' "[\"$R4\",\"$R6\"]"
C2=$CASE
# Everything after M happened within "30 days before M + 30 days".
sleep 0.3; M=$(now); sleep 0.3

login2 inva
expect_code "login inva" 201
t_inva=$tok
get inva "$t_inva" "$C1" "$R1"
expect_code "inva reads R1" 200
get inva "$t_inva" "$C1" "$R1"
expect_code "inva reads R1 again" 200
get inva "$t_inva" "$C1" "$R2" "&section=identity"
expect_code "inva reads R2's identity" 200
get inva "$t_inva" "$C1" "$R5"
expect_problem "inva is refused R5 (in no case of hers)" 403
req k/inva GET "/v1/records?ssn=$SSN6&purpose=$C2" "" "$t_inva"
expect_code "inva searches (ids only: not a read)" 200
login2 inva
expect_code "inva logs in again" 201
get inva "$tok" "$C1" "$R1"
expect_code "inva reads R1 in a second session" 200

login2 adj
expect_code "login adj" 201
t_adj=$tok
get adj "$t_adj" "$C1" "$R3"
expect_code "adj reads R3" 200
get adj "$t_adj" "$C1" "$R1"
expect_problem "adj past its hard budget" 403
expect_eq "adj is locked" locked "$(json_field "$T/body" "d['title']" 2>/dev/null)"
# invb and aud never log in.

# review [ARGS...]: a JSON review in $T/review.json (exit status checked)
review() {
	run "$CV" access review --dir "$T/v" --format json "$@"
	if [ "$rc" -ne 0 ]; then
		bad "review $*: exit $rc: $(head -c 300 "$T/err")"
		echo '{}' >"$T/review.json"
		return
	fi
	cp "$T/out" "$T/review.json"
	python3 -c "import json,sys; json.load(open(sys.argv[1]))" \
	    "$T/review.json" && ok || bad "review $*: not JSON"
}
u() {	# USER EXPR-of-u: a field of one user of the last review
	json_field "$T/review.json" "[$2 for u in d['users'] if u['name'] == '$1']"
}
names() { json_field "$T/review.json" "' '.join(u['name'] for u in d['users'])"; }
flagged() { json_field "$T/review.json" "' '.join(u['name'] for u in d['users'] if u['unused'])"; }
nreviews=0

# ---- the review, today --------------------------------------------------
review
nreviews=$((nreviews + 1))
# cvboot-so1 and cvboot-so2 are the vault's bootstrap officers (lib.sh):
# real accounts with read power, listed like everyone else.
expect_eq "read power only, by name" "adj cvboot-so1 cvboot-so2 inva invb so" \
    "$(names)"
expect_eq "roles" "['adjudicator'] ['investigator'] ['investigator'] ['security_officer']" \
    "$(u adj "u['role']") $(u inva "u['role']") $(u invb "u['role']") $(u so "u['role']")"
expect_eq "inva's cases" "$(printf '%s\n' "$C1" "$C2" | sort | tr '\n' ' ')" \
    "$(json_field "$T/review.json" "' '.join([u for u in d['users'] if u['name'] == 'inva'][0]['cases'])") "
expect_eq "adj's cases" "[['$C1']]" "$(u adj "u['cases']")"
expect_eq "invb and so: no case" "[[]] [[]]" "$(u invb "u['cases']") $(u so "u['cases']")"
expect_eq "invb never logged in" "[None]" "$(u invb "u['last_login']")"
expect_eq "distinct records read (R1 three times, R2 once; R5 refused)" \
    "[2] [1] [0] [0]" \
    "$(u inva "u['records_read']") $(u adj "u['records_read']") $(u invb "u['records_read']") $(u so "u['records_read']")"
expect_eq "states" "['locked'] ['active'] ['active'] ['active']" \
    "$(u adj "u['state']") $(u inva "u['state']") $(u invb "u['state']") $(u so "u['state']")"
expect_eq "nobody unused today (invb counts from its creation)" "" "$(flagged)"
expect_eq "window, totals" "90 30 6 0 0" "$(json_field "$T/review.json" \
    "d['window_days'], d['unused_days'], d['totals']['users'], d['totals']['unused'], d['totals']['disabled_now']" | tr -d '(),')"

# Last logins and reads, independently from the log.
"$CV" audit tail --dir "$T/v" --json -n 100000 >"$T/log"
python3 - "$T/log" "$T/review.json" <<'PY' && ok || bad "the review differs from the log"
import json, sys
log = [json.loads(l) for l in open(sys.argv[1])]
rev = {u["name"]: u for u in json.load(open(sys.argv[2]))["users"]}
for name, u in rev.items():
    logins = [e["time"] for e in log if e["actor"] == name and
              e["action"] == "session.create" and e["outcome"] == "allowed"]
    assert u["last_login"] == (max(logins) if logins else None), (name, u, logins)
    read = set()
    for e in log:
        if (e["actor"] == name and e["outcome"] == "allowed" and e["sections"]
                and e["action"] in ("records.get", "get", "scope.notify")):
            read |= set(e["records"])
    assert u["records_read"] == len(read), (name, u["records_read"], read)
assert len([e for e in log if e["actor"] == "inva" and
            e["action"] == "session.create" and e["outcome"] == "allowed"]) == 2
PY

review --all
nreviews=$((nreviews + 1))
expect_eq "--all adds the auditor" \
    "adj aud cvboot-adm cvboot-so1 cvboot-so2 inva invb so" "$(names)"
expect_eq "aud: never logged in, read nothing" "[None] [0]" \
    "$(u aud "u['last_login']") $(u aud "u['records_read']")"

# ---- table --------------------------------------------------------------
expect_ok "table" "$CV" access review --dir "$T/v"
nreviews=$((nreviews + 1))
cp "$T/out" "$T/table"
expect_eq "table: header, 6 rows, blank, summary" 9 "$(wc -l <"$T/table")"
grep -q '^USER  *ROLE  *STATE  *CREATED  *LAST LOGIN  *READ 90d  *UNUSED  *CASES$' \
    "$T/table" && ok || bad "table header: $(head -1 "$T/table")"
grep -q "^inva  *investigator  *active  *20[0-9-]*  *20[0-9T:-]*Z  *2  *-  *" \
    "$T/table" && ok || bad "table: inva's row: $(grep '^inva' "$T/table")"
grep -q "^invb  *investigator  *active  .*  never  *0  " "$T/table" && ok ||
    bad "table: invb's row: $(grep '^invb' "$T/table")"
expect_eq "table: columns aligned (STATE starts at one place)" 1 \
    "$(sed -n 1,5p "$T/table" | awk '{ print index($0, $3) }' | sort -u | wc -l)"
grep -q '^6 users with read power, 0 unused (no login in 30 days)' \
    "$T/table" && ok || bad "table summary: $(tail -1 "$T/table")"

# ---- a month later --------------------------------------------------------
# At M + 30 days, the last 30 days start at M: so logged in before M and
# invb was created before it; inva and adj logged in after.
LATER=$(plus_days "$M" 30)
export CLEARVAULT_ACCESS_NOW=$LATER
review --unused 30
nreviews=$((nreviews + 1))
expect_eq "unused a month later" "cvboot-so1 cvboot-so2 invb so" \
    "$(flagged)"
expect_eq "generated_at is the review's now" "$LATER" \
    "$(json_field "$T/review.json" "d['generated_at']")"
expect_eq "reads of the last 90 days still counted" "[2]" "$(u inva "u['records_read']")"
review --days 1
nreviews=$((nreviews + 1))
expect_eq "no read in the last day (a month later)" "0 0 0 0 0 0" \
    "$(json_field "$T/review.json" "' '.join(str(u['records_read']) for u in d['users'])")"
review --unused 31
nreviews=$((nreviews + 1))
expect_eq "--unused 31: nobody yet" "" "$(flagged)"

review --disable-unused
nreviews=$((nreviews + 1))
expect_eq "--disable-unused: the flagged ones disabled now" \
    "cvboot-so1 cvboot-so2 invb so" \
    "$(json_field "$T/review.json" "' '.join(u['name'] for u in d['users'] if u['disabled_now'])")"
expect_eq "states after" "['locked'] ['active'] ['disabled'] ['disabled']" \
    "$(u adj "u['state']") $(u inva "u['state']") $(u invb "u['state']") $(u so "u['state']")"
unset CLEARVAULT_ACCESS_NOW
expect_ok "user list" "$CV" user list --dir "$T/v"
for x in adj:locked aud:active inva:active invb:disabled so:disabled; do
	grep -q "^${x%%:*} .* ${x#*:} " "$T/out" && ok ||
	    bad "user list: ${x%%:*} not ${x#*:}: $(grep "^${x%%:*} " "$T/out")"
done
login2 so
expect_problem "so's login refused once disabled" 401
login2 invb
expect_problem "invb's login refused once disabled" 401
login2 inva
expect_code "inva still logs in" 201

# Both kinds of entry in the log: the review before the disables it made.
expect_ok "audit tail" "$CV" audit tail --dir "$T/v" --json -n 100000
python3 - "$T/out" "$nreviews" <<'PY' && ok || bad "audit entries of the review"
import json, sys
log = [json.loads(l) for l in open(sys.argv[1])]
rev = [i for i, e in enumerate(log) if e["action"] == "access.review"]
dis = [i for i, e in enumerate(log) if e["action"] == "access.disable-unused"]
assert len(rev) == int(sys.argv[2]), (len(rev), sys.argv[2])
assert all(log[i]["outcome"] == "allowed" and log[i]["source"] == "cli"
           for i in rev + dis)
assert len(dis) == 4, dis
assert sorted(log[i]["reason"].split()[1] for i in dis) == \
    ["cvboot-so1", "cvboot-so2", "invb", "so"], \
    [log[i]["reason"] for i in dis]
assert rev[-1] < dis[0], (rev, dis)
assert "CLEARVAULT_ACCESS_NOW" in log[rev[-1]]["reason"], log[rev[-1]]
PY
expect_ok "audit tail (text) shows both" "$CV" audit tail --dir "$T/v" -n 30
grep -q "access.review" "$T/out" && grep -q "access.disable-unused" "$T/out" &&
    ok || bad "audit tail: $(cat "$T/out")"

# Again: the disabled stay flagged but are not disabled a second time.
CLEARVAULT_ACCESS_NOW=$LATER run "$CV" access review --dir "$T/v" \
    --format json --disable-unused
expect_eq "second --disable-unused: exit" 0 "$rc"
expect_eq "second --disable-unused: nothing new" "0" \
    "$(json_field "$T/out" "d['totals']['disabled_now']")"
"$CV" audit tail --dir "$T/v" --json -n 100000 >"$T/log"
expect_eq "still four disable entries" 4 "$(grep -c '"access.disable-unused"' "$T/log")"

stop_server
expect_eq "server exit status" 0 "$SRV_RC"

# The lock survives the server's stop (its snapshot): still reported.
review
expect_eq "adj still locked after the server stopped" "['locked']" "$(u adj "u['state']")"

# ---- usage and failures ---------------------------------------------------
usage() {	# DESC PATTERN ARGS...: exit 2, PATTERN on stderr, no stdout
	local desc=$1 pat=$2
	shift 2
	expect_fail "$desc" "$pat" "$CV" access "$@"
	expect_eq "$desc: exit 2" 2 "$rc"
}
usage "no subcommand" "which subcommand"
usage "unknown subcommand" "unknown subcommand 'list'" list --dir "$T/v"
usage "--days 0" "--days wants a number of days" review --dir "$T/v" --days 0
usage "--days x" "--days wants a number of days" review --dir "$T/v" --days x
usage "--unused too large" "--unused wants" review --dir "$T/v" --unused 36501
usage "--format xml" "no format 'xml'" review --dir "$T/v" --format xml
usage "stray argument" "unexpected argument 'extra'" review --dir "$T/v" extra
usage "unknown option" "bad option" review --dir "$T/v" --bogus
CLEARVAULT_ACCESS_NOW=yesterday usage "bad test clock" \
    "CLEARVAULT_ACCESS_NOW" review --dir "$T/v"
expect_fail "no vault" "access" env -u CLEARVAULT_DIR "$CV" access review
expect_eq "no vault: exit 2" 2 "$rc"
expect_fail "a folder that is no vault" "access" "$CV" access review \
    --dir "$T/none"
expect_eq "not a vault: exit 1" 1 "$rc"
expect_ok "help" "$CV" access review --help
grep -q -- "--disable-unused" "$T/out" && ok || bad "help lacks --disable-unused"

# A guard snapshot that does not open is refused, not read as "no locks".
python3 -c "
import sys
b = bytearray(open(sys.argv[1], 'rb').read()); b[50] ^= 1
open(sys.argv[1], 'wb').write(b)" "$T/v/guard.state"
expect_fail "altered guard.state" "guard.state" "$CV" access review \
    --dir "$T/v"
expect_eq "altered guard.state: exit 1" 1 "$rc"

finish
