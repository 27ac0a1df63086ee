#!/bin/sh
# make run: a demo vault under demo/ (made once: 100,000 synthetic records,
# a user of every role, a case), a look at what it does, then the server in
# the foreground with ready-to-paste curl commands. `rm -rf demo` starts
# afresh; DEMO_NO_SERVE=1 stops before the server.
set -eu
cd "$(dirname "$0")/.."
CV=./build/clearvault
V=demo/vault
SEED=2015
N=${DEMO_RECORDS:-100000}

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

PORT=${DEMO_PORT:-8443}
# The record the server part shows (the tour below shreds another one).
sid=$($CV gen --count 1 --start 7 --seed $SEED | cut -c8-26)
if [ -f $V/keyring ]; then
	say "The demo vault exists ($V); rm -rf demo to start afresh"
	exec_server=1
else
rm -rf demo
mkdir -p demo
say "A new vault: root keys in a private SoftHSM2 token, never extractable"
show $CV init --dir $V

say "Load $N synthetic SF-86-style records (SSNs from the never-issued 900-999 range)"
printf '$ %s\n' "$CV gen --count $N --seed $SEED | $CV load --dir $V"
$CV gen --count "$N" --seed $SEED | $CV load --dir $V
echo "(the canaries are decoys mixed in at random places; only the keyring"
echo " knows which they are: $CV canaries --dir $V | head -3)"
$CV canaries --dir $V | head -3

rec=$($CV gen --count 1 --start 41 --seed $SEED)
id=$(printf '%s' "$rec" | cut -c8-26)
ssn=$(printf '%s' "$rec" | grep -o '"ssn":"[0-9-]*"' | cut -d'"' -f4)
last=$(printf '%s' "$rec" | grep -o '"last":"[^"]*"' | head -1 | cut -d'"' -f4)
dob=$(printf '%s' "$rec" | grep -o '"birth_date":"[0-9-]*"' | head -1 |
    cut -d'"' -f4)

say "Read one record, only the sections asked for (only those are decrypted)"
show $CV get --dir $V "$id" --section identity --section adjudication

say "Find by SSN and by last name + birth date: blind indexes, no decryption"
show $CV find --dir $V --ssn "$ssn"
show $CV find --dir $V --name "$last" --dob "$dob"

say "What a thief who copies the folder gets: no plaintext anywhere"
printf '$ grep -rF "%s" %s   (the SSN)\n' "$ssn" "$V"
if grep -rqF "$ssn" "$V"; then echo "FOUND - this is a bug"; exit 1; fi
echo "(no match)"
printf '$ grep -rF "%s" %s   (the last name)\n' "$last" "$V"
if grep -rqF "\"$last\"" "$V"; then echo "FOUND - this is a bug"; exit 1; fi
echo "(no match)"
printf '$ sqlite3 %s/vault.db "SELECT rid, hex(substr(body, 1, 24)) FROM records LIMIT 2"\n' "$V"
sqlite3 $V/vault.db "SELECT rid, hex(substr(body, 1, 24)) FROM records LIMIT 2"

say "Rotate the keyring key: every data key rewrapped, the old key destroyed"
show $CV rotate --dir $V

say "Crypto-shred one record"
show $CV shred --dir $V "$id"
printf '$ %s\n' "$CV get --dir $V $id"
$CV get --dir $V "$id" || true

say "Every operation above is in the audit log, durable before its data was shown"
show $CV audit tail --dir $V -n 6
show $CV audit checkpoint --dir $V
show $CV audit verify --dir $V

say "People: no single person can give anyone the power to read"
echo "The operator's bootstrap makes the first administrator and two security"
echo "officers; each gets a one-time enrolment code and makes its own key:"
mkdir -p demo/users
CVB_ADM=admin CVB_SO=security_officer CVB_SO2=officer2
. scripts/users.sh
cv_boot_users $V demo/users
cat demo/users/admin.enrol | head -1
echo "Everyone else is proposed by the administrator, approved by an officer"
echo "(never the proposer), and enrolled by the user with the code the"
echo "officer hands over; the server never sees their private keys:"
cv_grants_begin $V demo/users demo/users/ca.pem
cv_grant_users demo/users investigator:investigator adjudicator:adjudicator \
    auditor:auditor
cv_grants_end
show $CV user list --dir $V
show $CV audit tail --dir $V -n 4
fi

if [ -n "${DEMO_NO_SERVE:-}" ]; then
	say "Done. The vault is in $V; try: $CV --help"
	exit 0
fi
U=demo/users
C="curl -s --cacert $U/ca.pem"
cat <<EOT

[1m== The server, on https://127.0.0.1:$PORT (Ctrl-C stops it)[0m
In another terminal, from $(pwd):

  # log in as the security officer: a TOTP code (scripts/totp computes the
  # one an authenticator app would show from $U/NAME.otpauth)
  T=\$($C --cert $U/security_officer.crt --key $U/security_officer.key \\
      -d "{\"totp\":\"\$(scripts/totp $U/security_officer.otpauth)\"}" \\
      https://127.0.0.1:$PORT/v1/session | sed 's/.*"token":"\([^"]*\)".*/\1/')
  # a case holding the investigator and one record
  CASE=\$($C --cert $U/security_officer.crt --key $U/security_officer.key \\
      -H "Authorization: Bearer \$T" -d '{"title":"demo"}' \\
      https://127.0.0.1:$PORT/v1/cases | sed 's/.*"id":"\([^"]*\)".*/\1/')
  # adding people or records to a case is a proposal...
  $C --cert $U/security_officer.crt --key $U/security_officer.key \\
      -H "Authorization: Bearer \$T" \\
      -d '{"users":["investigator"],"records":["$sid"]}' \\
      https://127.0.0.1:$PORT/v1/cases/\$CASE/members
  # ...that a second security officer approves (ID from the reply above)
  T2=\$($C --cert $U/officer2.crt --key $U/officer2.key \\
      -d "{\"totp\":\"\$(scripts/totp $U/officer2.otpauth)\"}" \\
      https://127.0.0.1:$PORT/v1/session | sed 's/.*"token":"\([^"]*\)".*/\1/')
  $C --cert $U/officer2.crt --key $U/officer2.key \\
      -H "Authorization: Bearer \$T2" -X POST \\
      https://127.0.0.1:$PORT/v1/approvals/ID/approve
  # the investigator reads it (all sections but adjudication)
  TI=\$($C --cert $U/investigator.crt --key $U/investigator.key \\
      -d "{\"totp\":\"\$(scripts/totp $U/investigator.otpauth)\"}" \\
      https://127.0.0.1:$PORT/v1/session | sed 's/.*"token":"\([^"]*\)".*/\1/')
  $C --cert $U/investigator.crt --key $U/investigator.key \\
      -H "Authorization: Bearer \$TI" \\
      "https://127.0.0.1:$PORT/v1/records/$sid?purpose=\$CASE"
  # without a certificate, or for a record outside the case: refused
  $C https://127.0.0.1:$PORT/v1/records/$sid
  # a canary in the case: the investigator reads it once, and is locked
  CAN=\$($CV canaries --dir $V | head -1)
  $C --cert $U/security_officer.crt --key $U/security_officer.key \\
      -H "Authorization: Bearer \$T" -d "{\"records\":[\"\$CAN\"]}" \\
      https://127.0.0.1:$PORT/v1/cases/\$CASE/members
  #   (and officer2 approves it, as above)
  $C --cert $U/investigator.crt --key $U/investigator.key \\
      -H "Authorization: Bearer \$TI" \\
      "https://127.0.0.1:$PORT/v1/records/\$CAN?purpose=\$CASE" | head -c 200; echo
  $C --cert $U/investigator.crt --key $U/investigator.key \\
      -H "Authorization: Bearer \$TI" \\
      "https://127.0.0.1:$PORT/v1/records/$sid?purpose=\$CASE"
  # the security office sees the alert (also in $V/alerts.jsonl and syslog)
  $C --cert $U/security_officer.crt --key $U/security_officer.key \\
      -H "Authorization: Bearer \$T" https://127.0.0.1:$PORT/v1/alerts
  # unlocking takes two different security officers:
  #   POST /v1/users/investigator/unlock, by each of them

EOT
exec $CV serve --dir $V --listen 127.0.0.1:$PORT
