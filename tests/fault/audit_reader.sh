# Shared by the audit fault tests that need a reader with data to read:
# vault $T/v (10 records), users so (security officer) and inv
# (investigator), and case $CASE holding inv and records $R1 and $R2, set
# up through a server of its own (stopped again). Source after lib.sh.

fresh_login() {	# USER: a new session (a fresh TOTP step each time); $tok
	req "k/$1" POST /v1/session \
	    "{\"totp\":\"$(fresh_totp "$T/k/$1.otpauth" "$T/k/$1.step")\"}"
	tok=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1])).get('token',''))" "$T/body" 2>/dev/null)
}

make_vault v 10 --canaries 0 || { bad "setup"; finish; exit 1; }
add_users "$T/v" so:security_officer inv:investigator ||
    { bad "users"; finish; exit 1; }
R1=$(sed -n 1p "$T/v.jsonl" | cut -c8-26)
R2=$(sed -n 2p "$T/v.jsonl" | cut -c8-26)
start_server "$T/v" || { bad "server start"; finish; exit 1; }
fresh_login so
req k/so POST /v1/cases '{"title":"audit faults"}' "$tok"
CASE=$(json_field "$T/body" "d['id']")
add_members k/so "$tok" "$CASE" \
    "{\"users\":[\"inv\"],\"records\":[\"$R1\",\"$R2\"]}"
expect_code "case filled" 200
stop_server
