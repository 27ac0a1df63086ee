#!/bin/sh
# usage: sh tests/fuzz/seeds.sh DIR
#
# Seed inputs for every fuzz target, made fresh: DIR/<target>/ (the
# target's name without fuzz_), real files of each format, from a scratch
# vault made in DIR/work (removed at the end). make check (tests/run.sh)
# and make fuzz (tests/fuzz/campaign.sh) start each target from these and
# its committed corpus, tests/fuzz/corpus/<target>/.
#
# CLEARVAULT: the binary that makes the vault (default ./build/clearvault).
set -u
mkdir -p "$1" || exit 1
seeds=$(cd "$1" && pwd)
cd "$(dirname "$0")/../.."
cv=${CLEARVAULT:-./build/clearvault}
w="$seeds/work"
mkdir -p "$w"
for t in record config keyring envelope audit_entry proof api_bodies \
    guard_state audit_view evidence csr binding backup_sums keyd \
    alert_5424 tile_path witness_request witness_reply http; do
	mkdir -p "$seeds/$t"
done

printf '0/x001/x234/067.p/12' >"$seeds/tile_path/a"
printf 'entries/x005/000' >"$seeds/tile_path/b"
printf '7/000.p/255' >"$seeds/tile_path/c"
printf 'CVTB\001\0000123456789abcdef0123456789abcdef\000\004host\000\006/srv/v' \
    >"$seeds/binding/a"
# keyd frames: a decrypt (ticket 5, alice, CV-1, identity), a blind
# index, an append (allowed get by bob of CV-1)
printf '\000\000\000\045\000\003\000\000\000\000\000\000\000\000\000\001\000\000\000\000\000\000\000\005\000\005alice\000\004CV-1\000\000\000\001' >"$seeds/keyd/a"
printf '\000\000\000\024\000\004\000\000\000\000\000\000\000\000\000\002\001\000\000\000\003abc' >"$seeds/keyd/b"
printf '\000\000\000\057\000\001\000\000\000\000\000\000\000\000\000\003\001\000\003get\000\003bob\000\000\000\000\000\000\000\000\000\000\000\000\000\001\000\000\000\001\000\004CV-1' >"$seeds/keyd/c"
# an alert line as alert.c writes it, and a forged one
printf '{"@timestamp":"2026-12-06T09:56:51.008085Z","event":{"kind":"alert","category":["intrusion_detection"],"action":"canary","severity":99,"id":"ebbc68f224d6cc7b2169816f52566ab0"},"message":"a canary record was read","log":{"level":"critical"},"rule":{"name":"canary"},"labels":{"vault_id":"77b12915e9c8eb7e"},"clearvault":{"session":"ce24","locked":true,"audit_indices":[29,30]},"user":{"name":"inv"},"source":{"ip":"127.0.0.1"}}\n' \
    >"$seeds/alert_5424/a"
printf '{"event":{"action":"k k"},"log":{"level":"info"},"user":{"name":"a\\n]\\"\\\\"},"message":"\\u001b\\u00e9"}' \
    >"$seeds/alert_5424/b"
printf '{"totp":"123456"}' >"$seeds/api_bodies/a"
printf '{"users":["alice"],"records":["CV-1"]}' >"$seeds/api_bodies/b"
printf '{"name":"bob","role":"auditor"}' >"$seeds/api_bodies/c"
printf '{"title":"Breach review"}' >"$seeds/api_bodies/d"
printf '{"role":"adjudicator"}' >"$seeds/api_bodies/e"
printf '{"budget":[1,2,3,4,5,6]}' >"$seeds/api_bodies/f"
printf '{"name":"amy","code":"ABCDE-FGHJK-MNPQR-STUVW","csr":"x"}' \
    >"$seeds/api_bodies/g"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj /CN=amy -keyout /dev/null -out "$seeds/csr/ec" 2>/dev/null
openssl req -new -newkey rsa:2048 -nodes -subj /CN=amy \
    -keyout /dev/null -out "$seeds/csr/rsa" 2>/dev/null
"$cv" gen --count 8 --seed 99 | split -l 1 - "$seeds/record/g"
v="$w/v"
"$cv" init --dir "$v" >/dev/null 2>&1
"$cv" gen --count 3 | "$cv" load --dir "$v" --quiet
cp "$v/clearvault.conf" "$seeds/config/"
printf 'handshake_timeout = 10\nidle_timeout = 30\n' |
    cat "$v/clearvault.conf" - >"$seeds/config/timeouts"
cp "$v/keyring" "$seeds/keyring/"
sqlite3 "$v/vault.db" \
    "SELECT writefile('$seeds/envelope/b' || id, body) FROM records" \
    >/dev/null
"$cv" audit prove --dir "$v" --index 0 >"$w/p1"
"$cv" audit checkpoint --dir "$v" >"$w/c1"
(cat "$w/p1"; printf '\0'; cat "$w/c1") >"$seeds/proof/a"
# add-checkpoint bodies: a first one, one with a proof, a note with
# a cosignature line appended (the vault side's verifier)
(printf 'old 0\n\n'; cat "$w/c1") >"$seeds/witness_request/a"
(printf 'old 5\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n\n'
    sed "1s|.*|PeterNeumann|" "$w/c1") >"$seeds/witness_request/b"
cosigned='example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\342\200\224 witness.example/w1 Ro2ZuwAAAABkGFDLQB2dbiQ7rPMIDjq/twq5Ixt42T+awjiYS4+fxrnLnI31x5abVjZlhDVvZAcRRLyAiG4oQlhTgi4DsxiPwiDaDg==\n'
printf "$cosigned" >"$seeds/witness_request/c"
# a witness's replies: a cosignature, a 409 with the size it has, a note
# with the cosignature line (what the quorum count reads)
printf 'HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 104\r\n\r\n\342\200\224 witness.example/w1 Ro2ZuwAAAABkGFDLQB2dbiQ7rPMIDjq/twq5Ixt42T+awjiYS4+fxrnLnI31x5abVjZlhDVvZAcRRLyAiG4oQlhTgi4DsxiPwiDaDg==\n' \
    >"$seeds/witness_reply/a"
printf 'HTTP/1.1 409 Conflict\r\nContent-Type: text/x.tlog.size\r\nContent-Length: 9\r\n\r\n20852163\n' \
    >"$seeds/witness_reply/b"
printf "$cosigned" >"$seeds/witness_reply/c"
"$cv" audit tail --dir "$v" --json -n 5 | python3 -c '
import base64, json, sys
for i, l in enumerate(sys.stdin):
    open(sys.argv[1] + "/e%d" % i, "wb").write(base64.b64decode(json.loads(l)["leaf"]))
' "$seeds/audit_entry"
cp "$seeds"/audit_entry/* "$seeds/audit_view/"
"$cv" evidence export --dir "$v" --incident fuzz \
    --principal "$(id -un)" --out "$seeds/evidence/a" 2>/dev/null
"$cv" backup --dir "$v" --out "$w/bk" --quiet &&
    cp "$w/bk/SHA256SUMS" "$seeds/backup_sums/a"

# fuzz_http: the first byte picks the client certificate (i investigator,
# j adjudicator, s and t security officers, u auditor, a administrator,
# m metrics; anything else: none), @T is that user's session token. The
# records and the case are those fuzz_http.c makes (cv_gen_record seed 16).
h=$seeds/http
r1=CV-7FAFD14E54332853 r2=CV-91F2CE18EB7A50E8 case=CASE-00000000f022
auth='Host: cv\r\nAuthorization: Bearer @T\r\n'
# a request with BODY (printf escapes) and its Content-Length
body() {	# METHOD PATH BODY
	printf "%s %s HTTP/1.1\r\n${auth}Content-Length: %s\r\n\r\n$3" \
	    "$1" "$2" "$(printf "$3" | wc -c | tr -d ' ')"
}
printf 'xGET /healthz HTTP/1.1\r\nHost: cv\r\n\r\n' >"$h/healthz"
printf 'iGET /v1/session HTTP/1.1\r\n'"$auth"'\r\n' >"$h/whoami"
printf 'iPOST /v1/session HTTP/1.1\r\nHost: cv\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{"totp":"123456"}' \
    >"$h/login"
printf "iGET /v1/records/$r1?purpose=$case&section=identity&section=contact HTTP/1.1\r\n$auth\r\n" \
    >"$h/read"
printf "jGET /v1/records/$r2?purpose=$case HTTP/1.1\r\n$auth\r\n" >"$h/read_adj"
printf "iGET /v1/records/$r2?break_glass=urgent%%20review HTTP/1.1\r\n$auth\r\n" \
    >"$h/break_glass"
printf "iGET /v1/records?ssn=933-86-3030&purpose=$case HTTP/1.1\r\n$auth\r\n" \
    >"$h/search_ssn"
printf "iGET /v1/records?last=Gray&dob=1967-05-19&purpose=$case HTTP/1.1\r\n$auth\r\n" \
    >"$h/search_name"
# pipelined: three requests in one write, the last closes
printf "iGET /v1/session HTTP/1.1\r\n$auth\r\nGET /v1/records/$r1?purpose=$case HTTP/1.1\r\n$auth\r\nGET /healthz HTTP/1.1\r\nHost: cv\r\nConnection: close\r\n\r\n" \
    >"$h/pipelined"
# a chunked body, with a chunk extension and a trailer
printf 'sPOST /v1/cases HTTP/1.1\r\nHost: cv\r\nAuthorization: Bearer @T\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n9;x=y\r\n{"title":\r\n8\r\n"Review"\r\n1\r\n}\r\n0\r\nX-Trailer: 1\r\n\r\n' \
    >"$h/chunked"
(printf s; body POST /v1/cases/$case/members \
    "{\"users\":[\"inv\"],\"records\":[\"$r2\"]}") >"$h/members"
(printf s; body DELETE /v1/cases/$case/members '{"users":["adj"]}') \
    >"$h/members_remove"
printf "sGET /v1/cases HTTP/1.1\r\n$auth\r\nGET /v1/cases/$case HTTP/1.1\r\n$auth\r\nGET /v1/alerts HTTP/1.1\r\n$auth\r\nGET /v1/locks HTTP/1.1\r\n$auth\r\nGET /v1/reads?user=inv HTTP/1.1\r\n$auth\r\n" \
    >"$h/officer_views"
printf "sGET /v1/approvals HTTP/1.1\r\n$auth\r\nPOST /v1/approvals/1/approve HTTP/1.1\r\n${auth}Content-Length: 0\r\n\r\nPOST /v1/approvals/2/reject HTTP/1.1\r\n${auth}Content-Length: 0\r\n\r\n" \
    >"$h/approvals"
printf "tPOST /v1/users/inv/unlock HTTP/1.1\r\n${auth}Content-Length: 0\r\n\r\n" \
    >"$h/unlock"
(printf a; body POST /v1/users '{"name":"bob","role":"investigator"}') \
    >"$h/user_add"
printf "aGET /v1/users HTTP/1.1\r\n$auth\r\nPOST /v1/users/adj/role HTTP/1.1\r\n${auth}Content-Length: 23\r\n\r\n{\"role\":\"investigator\"}POST /v1/users/inv/budget HTTP/1.1\r\n${auth}Content-Length: 26\r\n\r\n{\"budget\":[1,2,3,4,5,6]}\r\n" \
    >"$h/user_change"
printf "aPOST /v1/users/aud/disable HTTP/1.1\r\n${auth}Content-Length: 0\r\n\r\nPOST /v1/users/aud/enable HTTP/1.1\r\n${auth}Content-Length: 0\r\n\r\n" \
    >"$h/user_disable"
printf "uGET /v1/audit/checkpoint HTTP/1.1\r\n$auth\r\nGET /v1/audit/entries?from=0&count=5 HTTP/1.1\r\n$auth\r\nGET /v1/audit/proof?index=1&size=5 HTTP/1.1\r\n$auth\r\nGET /v1/audit/consistency?from=2&size=5 HTTP/1.1\r\n$auth\r\n" \
    >"$h/audit"
printf "uGET /checkpoint HTTP/1.1\r\n$auth\r\nGET /tile/0/000.p/5 HTTP/1.1\r\n$auth\r\nGET /tile/entries/000.p/5 HTTP/1.1\r\n$auth\r\n" \
    >"$h/tiles"
printf "sGET /v1/scope?subject=leak%%20review&from=2026-01-01&to=2027-01-01 HTTP/1.1\r\n$auth\r\nGET /v1/drills/latest HTTP/1.1\r\n$auth\r\n" \
    >"$h/scope"
printf 'mGET /metrics HTTP/1.1\r\nHost: cv\r\n\r\n' >"$h/metrics"
printf 'aGET /metrics HTTP/1.1\r\nHost: cv\r\nAuthorization: Bearer @T\r\n\r\n' \
    >"$h/metrics_session"
printf 'iGET / HTTP/1.1\r\nHost: cv\r\n\r\nGET /console.js HTTP/1.1\r\nHost: cv\r\n\r\nGET /v1/openapi.json HTTP/1.1\r\nHost: cv\r\nAuthorization: Bearer @T\r\n\r\n' \
    >"$h/console"
printf 'xPOST /v1/enrol HTTP/1.1\r\nHost: cv\r\nContent-Length: 55\r\n\r\n{"name":"amy","code":"ABCDE-FGHJK-MNPQR-STUVW","csr":"x"}' \
    >"$h/enrol"
printf "iPOST /v1/records HTTP/1.1\r\n${auth}Content-Length: 2\r\n\r\n{}PUT /v1/records/$r1 HTTP/1.1\r\n${auth}Content-Length: 2\r\n\r\n{}" \
    >"$h/record_put"
printf "iPOST /v1/session/step-up HTTP/1.1\r\n${auth}Content-Length: 17\r\n\r\n{\"totp\":\"000000\"}DELETE /v1/session HTTP/1.1\r\n$auth\r\n" \
    >"$h/step_up_logout"
printf 'iPOST /v1/cases HTTP/1.1\r\nHost: cv\r\nAuthorization: Bearer @T\r\nExpect: 100-continue\r\nContent-Length: 19\r\n\r\n{"title":"Expect"}\n' \
    >"$h/expect"
# what the framing checks refuse (RFC 9112 6.3, 3.2) and the library's
# own refusals: two lengths, both framings, no Host, two Hosts, a folded
# header, HTTP/1.0, a bad version, a bad chunk size, a huge length
printf 'iPOST /v1/session HTTP/1.1\r\nHost: cv\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}' \
    >"$h/bad_two_lengths"
printf 'iPOST /v1/session HTTP/1.1\r\nHost: cv\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' \
    >"$h/bad_te_cl"
printf 'iGET /healthz HTTP/1.1\r\n\r\nGET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n' \
    >"$h/bad_host"
printf 'iGET /v1/session HTTP/1.1\r\nHost: cv\r\nAuthorization: Bearer\r\n @T\r\n\r\n' \
    >"$h/bad_fold"
printf 'iGET /v1/session HTTP/1.0\r\nAuthorization: Bearer @T\r\n\r\n' \
    >"$h/http10"
printf 'xGET /healthz HTTP/2.0\r\nHost: cv\r\n\r\nGET /healthz HTTX/1.1\r\n\r\n' \
    >"$h/bad_version"
printf 'sPOST /v1/cases HTTP/1.1\r\nHost: cv\r\nAuthorization: Bearer @T\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\nx\r\n0\r\n\r\n' \
    >"$h/bad_chunk"
printf 'iPOST /v1/session HTTP/1.1\r\nHost: cv\r\nContent-Length: 99999999999999999999\r\n\r\n{}' \
    >"$h/bad_length"
printf 'iGET /v1/records/%%00 HTTP/1.1\r\nHost: cv\r\nAuthorization: Bearer @T\r\nX:\377\376\r\n\r\n' \
    >"$h/bad_bytes"

rm -rf "$w"
