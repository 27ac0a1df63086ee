#!/bin/bash
# A witness (C2SP tlog-witness) cosigning a real vault's checkpoints over
# HTTP: every status code the spec names, a cosignature checked by an
# independent implementation (cosig_check.py), a rollback and a fork of
# the vault refused, the state kept across a restart.
. "$(dirname "$0")/lib.sh"
CHECK=$(dirname "$0")/cosig_check.py
WPID=

stop_witness() {
	[ -n "$WPID" ] || return 0
	kill "$WPID" && wait "$WPID"
	expect_eq "the witness stops cleanly" 0 $?
	WPID=
}
start_witness() {
	# Emptied here, not by the child's redirection: that may come after
	# the loop below has read the last server's address.
	: >"$T/w.out"
	URL=
	"$CV" witness serve --dir "$T/w" --listen 127.0.0.1:0 \
	    >"$T/w.out" 2>"$T/w.err" &
	WPID=$!
	for _ in $(seq 100); do
		URL=$(sed -n 's/^clearvault witness: listening on \(http:[^ ]*\)$/\1/p' \
		    "$T/w.out")
		[ -n "$URL" ] && return 0
		sleep 0.1
	done
	bad "witness did not start: $(cat "$T/w.err")"
	return 1
}
trap '[ -n "$WPID" ] && kill "$WPID"; cv_cleanup' EXIT

# post FILE: the reply in $T/reply, the status in $status, type in $ctype
post() {
	local h
	h=$(curl -s -o "$T/reply" -w '%{http_code} %{content_type}' \
	    --data-binary @"$1" "${URL}add-checkpoint")
	status=${h%% *}
	ctype=${h#* }
}
# request OLD PROOF_JSON|- CHECKPOINT OUT: an add-checkpoint body
request() {
	{
		echo "old $1"
		[ "$2" = - ] || python3 -c '
import json, sys
for p in json.load(open(sys.argv[1]))["proof"]: print(p)' "$2"
		echo
		cat "$3"
	} >"$4"
}
size_of() { sed -n 2p "$1"; }
# grow DIR N: N more entries (each audit checkpoint is one)
grow() {
	for _ in $(seq "$2"); do "$CV" audit checkpoint --dir "$1" >/dev/null; done
}

make_vault v 3 || { bad "make vault"; finish; exit; }
LOGKEY=$("$CV" audit pubkey --dir "$T/v")
"$CV" audit checkpoint --dir "$T/v" >"$T/c1"
ORIGIN=$(head -1 "$T/c1")
# A copy of the vault as it is now: later the rolled-back or forked one.
cp -a "$T/v" "$T/vc"

# --- init and add-log ---
expect_ok "witness --help" "$CV" witness --help
grep -q "add-checkpoint" "$T/out" && ok || bad "help names the endpoint"
expect_fail "bad witness name" "witness name" \
    "$CV" witness init --dir "$T/bad" --name "has space"
expect_ok "witness init" "$CV" witness init --dir "$T/w" --name ig.example/w1
WKEY=$(cat "$T/out")
case $WKEY in ig.example/w1+????????+*) ok ;; *) bad "vkey: $WKEY" ;; esac
# type byte 0x04: base64 of 0x04 followed by key bytes starts with "B"
kb=${WKEY#*+}; kb=${kb#*+}	# (base64 may hold '+' itself)
case $kb in B*) ok ;; *) bad "vkey type is not 0x04" ;; esac
expect_eq "folder 0700" 700 "$(stat -c %a "$T/w")"
expect_eq "key 0600" 600 "$(stat -c %a "$T/w/witness.key")"
expect_fail "init twice" "not empty" \
    "$CV" witness init --dir "$T/w" --name ig.example/w1
expect_ok "vkey again" "$CV" witness vkey --dir "$T/w"
expect_eq "the same vkey" "$WKEY" "$(cat "$T/out")"
expect_fail "add-log bad vkey" "verifier key" \
    "$CV" witness add-log --dir "$T/w" --origin "$ORIGIN" --vkey nonsense
expect_fail "add-log a witness key" "Ed25519" \
    "$CV" witness add-log --dir "$T/w" --origin "$ORIGIN" --vkey "$WKEY"
expect_ok "add-log" "$CV" witness add-log --dir "$T/w" --origin "$ORIGIN" \
    --vkey "$LOGKEY"
expect_fail "add-log twice" "already" \
    "$CV" witness add-log --dir "$T/w" --origin "$ORIGIN" --vkey "$LOGKEY"

start_witness || { finish; exit; }
run "$CV" witness serve --dir "$T/w" --listen 127.0.0.1:0
expect_eq "a second server on the folder is refused" 1 "$rc"

# --- the first checkpoint: old 0, no proof ---
request 0 - "$T/c1" "$T/r1"
post "$T/r1"
expect_eq "first checkpoint: 200" 200 "$status"
run python3 "$CHECK" "$LOGKEY" "$WKEY" "$T/c1" "$T/reply"
expect_eq "independent check of the cosignature: $(cat "$T/err")" \
    "ok $(size_of "$T/c1")" "$(cut -d' ' -f1,2 "$T/out")"
# the reply appended to the note is a note with two signatures
cat "$T/c1" "$T/reply" >"$T/c1w"
run python3 "$CHECK" "$LOGKEY" "$WKEY" "$T/c1w" "$T/reply"
expect_eq "reply concatenated to the note" 0 "$rc"
# a cosignature of another checkpoint does not check out
"$CV" gen --count 2 --seed 8 | "$CV" load --dir "$T/v" --quiet
"$CV" audit consistency --dir "$T/v" --from "$T/c1" >"$T/p12"
S2=$(json_field "$T/p12" 'd["size2"]')
"$CV" audit checkpoint --dir "$T/v" --size "$S2" >"$T/c2"
run python3 "$CHECK" "$LOGKEY" "$WKEY" "$T/c2" "$T/reply"
[ "$rc" -ne 0 ] && ok || bad "a cosignature verified on another checkpoint"

# --- the same again is 409 with the size; the grown one with a proof ---
request "$(size_of "$T/c1")" - "$T/c1" "$T/r11"
post "$T/r11"
expect_eq "the same checkpoint again (old = its size): 200" 200 "$status"
request "$(size_of "$T/c1")" "$T/p12" "$T/c2" "$T/r2"
post "$T/r2"
expect_eq "grown checkpoint with a proof: 200" 200 "$status"
run python3 "$CHECK" "$LOGKEY" "$WKEY" "$T/c2" "$T/reply"
expect_eq "its cosignature: $(cat "$T/err")" "ok $S2" \
    "$(cut -d' ' -f1,2 "$T/out")"
post "$T/r2"
expect_eq "old size no longer current: 409" 409 "$status"
expect_eq "409 body: the latest size" "$S2" "$(cat "$T/reply")"
expect_eq "409 content type" "text/x.tlog.size" "$ctype"
post "$T/r1"
expect_eq "old 0 after a cosignature: 409" 409 "$status"
request "$S2" - "$T/c2" "$T/r22"
post "$T/r22"
expect_eq "the latest again (old = size, no proof): 200" 200 "$status"

# --- a bad proof: 422; then the right one ---
grow "$T/v" 5
"$CV" audit consistency --dir "$T/v" --from "$T/c2" >"$T/p23"
S3=$(json_field "$T/p23" 'd["size2"]')
"$CV" audit checkpoint --dir "$T/v" --size "$S3" >"$T/c3"
request "$S2" "$T/p23" "$T/c3" "$T/r3"
python3 - "$T/r3" "$T/r3bad" <<-'EOF'
	import base64, sys
	lines = open(sys.argv[1]).read().split("\n")
	h = bytearray(base64.b64decode(lines[1])); h[0] ^= 1
	lines[1] = base64.b64encode(bytes(h)).decode()
	open(sys.argv[2], "w").write("\n".join(lines))
EOF
post "$T/r3bad"
expect_eq "a bad consistency proof: 422" 422 "$status"
sed '2d' "$T/r3" >"$T/r3short"
post "$T/r3short"
expect_eq "a proof missing a hash: 422" 422 "$status"

# --- a bad signature: 403; unknown origin: 404 ---
python3 - "$T/r3" "$T/r3sig" <<-'EOF'
	import base64, sys
	t = open(sys.argv[1]).read().rstrip("\n").split("\n")
	head, b = t[-1].rsplit(" ", 1)
	s = bytearray(base64.b64decode(b)); s[10] ^= 1
	t[-1] = head + " " + base64.b64encode(bytes(s)).decode()
	open(sys.argv[2], "w").write("\n".join(t) + "\n")
EOF
post "$T/r3sig"
expect_eq "a bad log signature: 403" 403 "$status"
# signed by a key the witness does not know, under the log's name: ignored,
# so no trusted signature at all
make_vault other 1
"$CV" audit checkpoint --dir "$T/other" >"$T/co"
{ echo "old 0"; echo; sed "1s|.*|$ORIGIN|" "$T/co" |
    sed "s|^— [^ ]*|— ${LOGKEY%%+*}|"; } >"$T/r403"
post "$T/r403"
expect_eq "signed by an unknown key only: 403" 403 "$status"
request 0 - "$T/co" "$T/r404"
post "$T/r404"
expect_eq "unknown origin: 404" 404 "$status"

# --- malformed: 400; too big: 413; not POST: 405 ---
printf 'garbage' >"$T/g1"
post "$T/g1"
expect_eq "garbage: 400" 400 "$status"
{ echo "old 01"; echo; cat "$T/c3"; } >"$T/g2"
post "$T/g2"
expect_eq "a leading zero: 400" 400 "$status"
{ echo "old 0"; echo "not-base64"; echo; cat "$T/c3"; } >"$T/g3"
post "$T/g3"
expect_eq "a proof line that is no hash: 400" 400 "$status"
{ echo "old $((S3 + 1))"; echo; cat "$T/c3"; } >"$T/g4"
post "$T/g4"
expect_eq "old size above the checkpoint's: 400" 400 "$status"
{ echo "old 0"; for _ in $(seq 64); do sed -n 2p "$T/r3"; done; echo;
    cat "$T/c3"; } >"$T/g5"
post "$T/g5"
expect_eq "64 proof lines: 400" 400 "$status"
head -c 40000 /dev/zero | tr '\0' a >"$T/g6"
post "$T/g6"
expect_eq "a 40 kB body: 413" 413 "$status"
expect_eq "GET: 405" 405 "$(curl -s -o /dev/null -w '%{http_code}' \
    "${URL}add-checkpoint")"
expect_eq "other paths: 404" 404 "$(curl -s -o /dev/null -w '%{http_code}' \
    -d x "${URL}checkpoint")"
# nothing above moved the witness
post "$T/r3"
expect_eq "the right proof after all that: 200" 200 "$status"
run python3 "$CHECK" "$LOGKEY" "$WKEY" "$T/c3" "$T/reply"
expect_eq "its cosignature" 0 "$rc"

# --- rollback: the copy of the vault from before ---
request "$(size_of "$T/c1")" - "$T/c1" "$T/rb1"
post "$T/rb1"
expect_eq "a rolled-back checkpoint (old = its size): 409" 409 "$status"
expect_eq "...naming the latest size" "$S3" "$(cat "$T/reply")"
request "$S3" - "$T/c1" "$T/rb2"
post "$T/rb2"
expect_eq "a rolled-back checkpoint (old = latest): 400" 400 "$status"

# --- fork: the copy, grown to the same size with other entries ---
for _ in $(seq 100); do
	"$CV" audit checkpoint --dir "$T/vc" >"$T/cf"
	[ "$(size_of "$T/cf")" -ge "$S3" ] && break
done
expect_eq "the fork reached the witnessed size" "$S3" "$(size_of "$T/cf")"
request "$S3" - "$T/cf" "$T/rf1"
post "$T/rf1"
expect_eq "a fork at the same size: 409" 409 "$status"
grow "$T/vc" 3
"$CV" audit consistency --dir "$T/vc" --from "$T/cf" >"$T/pf"
SF=$(json_field "$T/pf" 'd["size2"]')
"$CV" audit checkpoint --dir "$T/vc" --size "$SF" >"$T/cf2"
request "$S3" "$T/pf" "$T/cf2" "$T/rf2"
post "$T/rf2"
expect_eq "a fork grown past it, proved from its own tree: 422" 422 "$status"

# --- the state survives a restart ---
stop_witness
expect_eq "state file 0600" 600 "$(stat -c %a "$T"/w/state/*)"
start_witness || { finish; exit; }
post "$T/rf1"
expect_eq "after a restart the fork is still refused" 409 "$status"
post "$T/r2"
expect_eq "after a restart: 409" 409 "$status"
expect_eq "...with the size from before" "$S3" "$(cat "$T/reply")"
request "$S3" - "$T/c3" "$T/r33"
post "$T/r33"
expect_eq "after a restart the latest again: 200" 200 "$status"
stop_witness

# --- a state write that fails: nothing cosigned, the log's updates stop
# until a restart (test builds: fault injection) ---
HOOKS=
env CLEARVAULT_FAULT=x "$CV" --version 2>&1 | grep -q "test hook" || HOOKS=1
if [ -n "$HOOKS" ]; then
	grow "$T/v" 2
	"$CV" audit consistency --dir "$T/v" --from "$T/c3" >"$T/p34"
	S4=$(json_field "$T/p34" 'd["size2"]')
	"$CV" audit checkpoint --dir "$T/v" --size "$S4" >"$T/c4"
	request "$S3" "$T/p34" "$T/c4" "$T/r4"
	CLEARVAULT_FAULT=witness.state_write:1 start_witness || { finish; exit; }
	post "$T/r4"
	expect_eq "state not written: 500" 500 "$status"
	grep -q "cosigned" "$T/reply" && ok || bad "500 says nothing was cosigned"
	post "$T/r4"
	expect_eq "and no more updates of that log: 500" 500 "$status"
	stop_witness
	start_witness || { finish; exit; }
	post "$T/r33"
	expect_eq "after the restart the witness is where it was" 200 "$status"
	post "$T/r4"
	expect_eq "...and takes the update" 200 "$status"
	run python3 "$CHECK" "$LOGKEY" "$WKEY" "$T/c4" "$T/reply"
	expect_eq "its cosignature" 0 "$rc"
	stop_witness
fi

finish
