#!/bin/bash
# Users: certificates from the vault CA (checked by OpenSSL), TOTP
# enrolment, list, disable, revoke; every step audited.
. "$(dirname "$0")/lib.sh"

"$CV" init --dir "$T/v" 2>/dev/null
expect_ok "ca-cert" "$CV" ca-cert --dir "$T/v"
cp "$T/out" "$T/ca.pem"
grep -q "BEGIN CERTIFICATE" "$T/ca.pem" && ok || bad "ca-cert prints PEM"
expect_ok "server cert chains to the CA" openssl verify -CAfile "$T/ca.pem" \
    "$T/v/server.pem"
expect_ok "server cert names loopback" openssl x509 -in "$T/v/server.pem" \
    -noout -ext subjectAltName
grep -q "IP Address:127.0.0.1" "$T/out" && ok || bad "no 127.0.0.1 SAN"

mkdir -p "$T/keys"
expect_ok "user add" "$CV" user add --dir "$T/v" alice --role investigator \
    --out "$T/keys"
grep -q "^otpauth://totp/clearvault:alice?secret=[A-Z2-7]*&" "$T/out" && ok ||
    bad "otpauth URI not shown"
expect_eq "key file mode" 600 "$(stat -c %a "$T/keys/alice.key")"
expect_eq "otpauth file mode" 600 "$(stat -c %a "$T/keys/alice.otpauth")"
expect_eq "PKCS#12 file mode" 600 "$(stat -c %a "$T/keys/alice.p12")"
expect_ok "PKCS#12 opens with its password" openssl pkcs12 \
    -in "$T/keys/alice.p12" -passin "file:$T/keys/alice.p12.pass" -nodes
grep -q "BEGIN PRIVATE KEY" "$T/out" && grep -q "CN = alice" "$T/out" && ok ||
    bad "PKCS#12 holds the key and the certificate"
expect_fail "PKCS#12 refuses another password" "" openssl pkcs12 \
    -in "$T/keys/alice.p12" -passin pass:wrong -nokeys
expect_ok "client cert chains to the CA" openssl verify -CAfile "$T/ca.pem" \
    "$T/keys/alice.crt"
expect_ok "client cert subject" openssl x509 -in "$T/keys/alice.crt" -noout \
    -subject -ext extendedKeyUsage
grep -q "CN = alice, OU = investigator" "$T/out" && ok || bad "subject"
grep -q "TLS Web Client Authentication" "$T/out" && ok || bad "client EKU"
expect_ok "key matches cert" sh -c "[ \"\$(openssl x509 -in '$T/keys/alice.crt' \
    -noout -pubkey)\" = \"\$(openssl pkey -in '$T/keys/alice.key' -pubout)\" ]"
secret=$(sed 's/.*secret=\([A-Z2-7]*\).*/\1/' "$T/keys/alice.otpauth")
grep -rqF "$secret" "$T/v" && bad "TOTP secret stored in the clear" || ok

expect_fail "user add twice" "exists" "$CV" user add --dir "$T/v" alice \
    --role admin --out "$T/keys"
expect_fail "bad role" "role must be" "$CV" user add --dir "$T/v" bob \
    --role king --out "$T/keys"
expect_fail "bad name" "user names" "$CV" user add --dir "$T/v" "Bob Smith" \
    --role admin --out "$T/keys"
expect_fail "no out folder" "existing folder" "$CV" user add --dir "$T/v" \
    bob --role admin --out "$T/nope"
expect_ok "second user" "$CV" user add --dir "$T/v" bob --role auditor \
    --out "$T/keys"
expect_ok "list" "$CV" user list --dir "$T/v"
grep -q "^alice *investigator *active *1/1" "$T/out" && ok || bad "list alice"
grep -q "^bob *auditor *active *1/1" "$T/out" && ok || bad "list bob"
expect_ok "disable" "$CV" user disable --dir "$T/v" alice
expect_ok "revoke" "$CV" user revoke-cert --dir "$T/v" bob
expect_ok "list after" "$CV" user list --dir "$T/v"
grep -q "^alice *investigator *disabled" "$T/out" && ok || bad "disabled"
grep -q "^bob *auditor *active *0/1" "$T/out" && ok || bad "revoked"
expect_fail "disable unknown" "no user" "$CV" user disable --dir "$T/v" carol
# Per-user read budgets: all three windows, SOFT/HARD with SOFT <= HARD.
expect_ok "budget" "$CV" user budget --dir "$T/v" alice --minute 5/10 \
    --hour 50/100 --day 200/400
expect_eq "budget stored" "5|50|200|10|100|400" "$(sqlite3 "$T/v/vault.db" \
    "SELECT sm, sh, sd, hm, hh, hd FROM budgets WHERE user = 'alice'")"
expect_fail "budget: soft above hard" "SOFT <= HARD" "$CV" user budget \
    --dir "$T/v" alice --minute 10/5 --hour 50/100 --day 200/400
expect_fail "budget: a window missing" "--minute, --hour and" "$CV" user \
    budget --dir "$T/v" alice --minute 5/10
expect_fail "budget: not a number" "SOFT/HARD" "$CV" user budget \
    --dir "$T/v" alice --minute five/10 --hour 50/100 --day 200/400
expect_fail "budget: unknown user" "no user" "$CV" user budget --dir "$T/v" \
    carol --minute 5/10 --hour 50/100 --day 200/400
expect_ok "budget cleared" "$CV" user budget --dir "$T/v" alice --clear
expect_eq "budget gone" "0" "$(sqlite3 "$T/v/vault.db" \
    "SELECT count(*) FROM budgets")"
expect_ok "audit" "$CV" audit tail --dir "$T/v" -n 20
for act in user.add user.disable user.revoke-cert user.budget ca-cert; do
	grep -q " $act " "$T/out" && ok || bad "no $act entry"
done
grep -qF "$secret" "$T/out" && bad "TOTP secret in the log" || ok
finish
