#!/bin/bash
# Users: the bootstrap of the first officers, enrolment with a key made on
# the user's side (certificates from the vault CA, checked by OpenSSL),
# proposals for everything that grants read power, list, disable, revoke;
# every step audited, no private key or TOTP secret on the server's side.
. "$(dirname "$0")/lib.sh"

expect_ok "init with the first officers" "$CV" init --dir "$T/v" \
    --admin ann --officer olga --officer oscar
for u in ann olga oscar; do
	grep -q "^user $u .*enrolment code [A-Z2-9]\{5\}-" "$T/out" && ok ||
	    bad "no code for $u"
done
code() { sed -n "s/^user $1 .*enrolment code \([A-Z0-9-]*\).*/\1/p" "$T/$2"; }
cp "$T/out" "$T/codes"
expect_fail "init: one officer alone" "two different officers" "$CV" init \
    --dir "$T/x" --officer olga
expect_ok "ca-cert" "$CV" ca-cert --dir "$T/v"
cp "$T/out" "$T/ca.pem"
grep -q "BEGIN CERTIFICATE" "$T/ca.pem" && ok || bad "ca-cert prints PEM"
expect_ok "server cert chains to the CA" openssl verify -CAfile "$T/ca.pem" \
    "$T/v/server.pem"
expect_ok "server cert names loopback" openssl x509 -in "$T/v/server.pem" \
    -noout -ext subjectAltName
grep -q "IP Address:127.0.0.1" "$T/out" && ok || bad "no 127.0.0.1 SAN"

# ---- enrolment: the key is made by `enrol`, on the user's side -----------
mkdir -p "$T/keys"
expect_ok "list: waiting for enrolment" "$CV" user list --dir "$T/v"
grep -q "^olga *security_officer *enrolling *0/0" "$T/out" && ok ||
    bad "olga not enrolling"
expect_fail "enrol: wrong code" "wrong enrolment code" "$CV" enrol \
    --dir "$T/v" --name olga --code AAAAA-AAAAA-AAAAA-AAAAA --out "$T/keys"
[ -e "$T/keys/olga.key" ] && bad "a refused enrolment wrote a key" || ok
expect_fail "enrol: another user's code" "wrong enrolment code" "$CV" enrol \
    --dir "$T/v" --name olga --code "$(code oscar codes)" --out "$T/keys"
expect_ok "enrol" "$CV" enrol --dir "$T/v" --name olga \
    --code "$(code olga codes)" --out "$T/keys"
grep -q "^otpauth://totp/clearvault%20[0-9a-f]*:olga?secret=[A-Z2-7]*&" \
    "$T/out" && ok ||
    bad "otpauth URI not shown"
mkdir -p "$T/k2"
expect_fail "enrol: the code is spent" "no enrolment is open" "$CV" enrol \
    --dir "$T/v" --name olga --code "$(code olga codes)" --out "$T/k2"
expect_ok "enrol from stdin" sh -c "echo '$(code oscar codes)' | '$CV' enrol \
    --dir '$T/v' --name oscar --out '$T/keys'"
expect_eq "key file mode" 600 "$(stat -c %a "$T/keys/olga.key")"
expect_eq "otpauth file mode" 600 "$(stat -c %a "$T/keys/olga.otpauth")"
expect_eq "PKCS#12 file mode" 600 "$(stat -c %a "$T/keys/olga.p12")"
expect_ok "PKCS#12 opens with its password" openssl pkcs12 \
    -in "$T/keys/olga.p12" -passin "file:$T/keys/olga.p12.pass" -nodes
grep -q "BEGIN PRIVATE KEY" "$T/out" && grep -q "CN = olga" "$T/out" && ok ||
    bad "PKCS#12 holds the key and the certificate"
expect_fail "PKCS#12 refuses another password" "" openssl pkcs12 \
    -in "$T/keys/olga.p12" -passin pass:wrong -nokeys
expect_ok "client cert chains to the CA" openssl verify -CAfile "$T/ca.pem" \
    "$T/keys/olga.crt"
expect_ok "client cert subject" openssl x509 -in "$T/keys/olga.crt" -noout \
    -subject -ext extendedKeyUsage
grep -q "CN = olga, OU = security_officer" "$T/out" && ok || bad "subject"
grep -q "TLS Web Client Authentication" "$T/out" && ok || bad "client EKU"
expect_ok "key matches cert" sh -c "[ \"\$(openssl x509 -in '$T/keys/olga.crt' \
    -noout -pubkey)\" = \"\$(openssl pkey -in '$T/keys/olga.key' -pubout)\" ]"
# The vault holds neither the key nor the TOTP secret in the clear.
secret=$(sed 's/.*secret=\([A-Z2-7]*\).*/\1/' "$T/keys/olga.otpauth")
grep -rqF "$secret" "$T/v" && bad "TOTP secret stored in the clear" || ok
keyb64=$(sed -n 2p "$T/keys/olga.key")
grep -rqF "$keyb64" "$T/v" && bad "the user's key is in the vault" || ok
expect_ok "enrol ann" "$CV" enrol --dir "$T/v" --name ann \
    --code "$(code ann codes)" --out "$T/keys"

# ---- after the bootstrap, everything that grants read power is proposed --
expect_ok "user add: a proposal" "$CV" user add --dir "$T/v" alice \
    --role investigator
grep -q "^proposal 1: user.create alice" "$T/out" && ok || bad "no proposal"
expect_ok "list" "$CV" user list --dir "$T/v"
grep -q "^alice" "$T/out" && bad "a proposal made an account" || ok
expect_ok "an officer too, once two exist" "$CV" user add --dir "$T/v" \
    mallory --role security_officer
grep -q "^proposal 2: user.create mallory" "$T/out" && ok ||
    bad "bootstrap still open"
expect_ok "role: a proposal" "$CV" user role --dir "$T/v" oscar \
    --role adjudicator
expect_ok "budget: a proposal" "$CV" user budget --dir "$T/v" oscar \
    --minute 5/10 --hour 50/100 --day 200/400
expect_eq "no budget before approval" "0" "$(sql "$T/v" \
    "SELECT count(*) FROM budgets")"
expect_ok "proposals" "$CV" user proposals --dir "$T/v"
expect_eq "four pending" 4 "$(grep -c ' pending ' "$T/out")"
grep -q "user.budget *oscar .*\[5,50,200,10,100,400\]" "$T/out" && ok ||
    bad "budget proposal"
expect_fail "add: --out is gone" "enrol" "$CV" user add --dir "$T/v" bob \
    --role auditor --out "$T/keys"
expect_fail "bad role" "role must be" "$CV" user add --dir "$T/v" bob \
    --role king
expect_fail "bad name" "user names" "$CV" user add --dir "$T/v" "Bob Smith" \
    --role admin
expect_fail "user add twice" "exists" "$CV" user add --dir "$T/v" olga \
    --role admin
expect_fail "role: unknown user" "no user" "$CV" user role --dir "$T/v" carol \
    --role admin
expect_fail "budget: soft above hard" "SOFT <= HARD" "$CV" user budget \
    --dir "$T/v" oscar --minute 10/5 --hour 50/100 --day 200/400
expect_fail "budget: a window missing" "--minute, --hour and" "$CV" user \
    budget --dir "$T/v" oscar --minute 5/10
expect_fail "budget: not a number" "SOFT/HARD" "$CV" user budget \
    --dir "$T/v" oscar --minute five/10 --hour 50/100 --day 200/400

# ---- taking power away needs one person ---------------------------------
expect_ok "disable" "$CV" user disable --dir "$T/v" oscar
expect_ok "revoke" "$CV" user revoke-cert --dir "$T/v" ann
expect_ok "list after" "$CV" user list --dir "$T/v"
grep -q "^oscar *security_officer *disabled" "$T/out" && ok || bad "disabled"
grep -q "^ann *admin *active *0/1" "$T/out" && ok || bad "revoked"
expect_fail "disable unknown" "no user" "$CV" user disable --dir "$T/v" carol
expect_ok "enable: a proposal" "$CV" user enable --dir "$T/v" oscar
expect_ok "list: still disabled" "$CV" user list --dir "$T/v"
grep -q "^oscar *security_officer *disabled" "$T/out" && ok ||
    bad "enable took effect alone"

expect_ok "audit" "$CV" audit tail --dir "$T/v" -n 40
for act in user.add users.enrol user.create user.role user.budget \
    user.enable user.disable user.revoke-cert ca-cert; do
	grep -q " $act " "$T/out" && ok || bad "no $act entry"
done
grep -qF "$secret" "$T/out" && bad "TOTP secret in the log" || ok
grep -qF "$(code olga codes)" "$T/out" && bad "enrolment code in the log" ||
    ok
finish
