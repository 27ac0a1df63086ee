#!/bin/bash
# The audit log as a C2SP tlog-tiles log, through the real server (its
# sandboxed worker): GET /checkpoint, /tile/<L>/<N>[.p/<W>] and
# /tile/entries/<N>[.p/<W>], auditors only. A client that knows only the
# tiles recomputes the checkpoint's root and inclusion proofs that are
# byte for byte those of `clearvault audit prove`; entry bundles hash to
# the level-0 tiles and are the leaves GET /v1/audit/entries gives; bad
# paths are 400 or 404 problems; every request is on the log.
. "$(dirname "$0")/lib.sh"

SRV_PID=
trap 'kill "$SRV_PID" 2>/dev/null; cv_cleanup' EXIT
make_vault v 10 || { bad "setup"; finish; exit 1; }
add_users "$T/v" aud:auditor inv:investigator ||
    { bad "users"; finish; exit 1; }
start_server "$T/v" || { bad "server start"; finish; exit 1; }
hdr() {	# PATH TOKEN: headers in $T/hdr, body in $T/body, status in $code
	code=$(curl -s -o "$T/body" -D "$T/hdr" -w '%{http_code}' \
	    --cacert "$T/ca.pem" --cert "$T/k/aud.crt" --key "$T/k/aud.key" \
	    -H "Authorization: Bearer $2" "$URL${1#/}")
}

# ---- who may ask ------------------------------------------------------------
login aud
AUD=$tok
login inv
INV=$tok
for p in /checkpoint /tile/0/000.p/1 /tile/entries/000.p/1; do
	req k/aud GET "$p"
	expect_problem "no session: $p" 401
	req k/inv GET "$p" "" "$INV"
	expect_problem "an investigator: $p" 403
done
req k/aud POST /checkpoint "{}" "$AUD"
expect_problem "POST /checkpoint" 405

# ---- a log of more than 256 entries (each request is one) -------------------
for i in $(seq 1 300); do echo /v1/session; done >"$T/paths"
batch aud "$AUD" "$T/paths"
expect_eq "300 requests answered" 300 "$(grep -c '^200$' "$T/codes")"

hdr /checkpoint "$AUD"
expect_code "GET /checkpoint" 200
cp "$T/body" "$T/ck"
grep -qi '^content-type: text/plain; charset=utf-8' "$T/hdr" && ok ||
    bad "checkpoint type: $(grep -i content-type "$T/hdr")"
grep -qi '^cache-control: no-store' "$T/hdr" && ok ||
    bad "checkpoint cached: $(grep -i cache-control "$T/hdr")"
size=$(sed -n 2p "$T/ck")
[ "$size" -gt 300 ] && [ $((size % 256)) -ne 0 ] && ok ||
    bad "checkpoint size $size: want > 300, not a multiple of 256"
# The same note GET /v1/audit/checkpoint gives, or a newer one.
req k/aud GET /v1/audit/checkpoint "" "$AUD"
expect_eq "same origin" "$(head -1 "$T/ck")" "$(head -1 "$T/body")"

hdr /tile/0/000 "$AUD"
expect_code "full tile" 200
expect_eq "full tile size" 8192 "$(stat -c %s "$T/body")"
grep -qi '^content-type: application/octet-stream' "$T/hdr" && ok ||
    bad "tile type: $(grep -i content-type "$T/hdr")"
grep -qi '^cache-control: private, max-age=31536000, immutable' "$T/hdr" &&
    ok || bad "tile not immutable: $(grep -i cache-control "$T/hdr")"
hdr /tile/entries/000 "$AUD"
expect_code "full entry bundle" 200
grep -qi '^cache-control: no-store' "$T/hdr" && ok ||
    bad "entries cached: $(grep -i cache-control "$T/hdr")"

# ---- the client: tiles only, then proofs and the root -----------------------
idx="0 1 2 127 128 254 255 256 257 $(((size / 256) * 256 - 1))"
idx="$idx $(((size / 256) * 256)) $(((size / 256) * 256 + 1)) $((size - 2))"
idx="$idx $((size - 1))"
python3 - "$URL" "$T" "$AUD" "$size" $idx >"$T/client.out" 2>"$T/client.err" <<'PY'
import base64, hashlib, http.client, json, ssl, sys, urllib.parse

url, t, tok, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
indices = [int(x) for x in sys.argv[5:]]
u = urllib.parse.urlsplit(url)
ctx = ssl.create_default_context(cafile=t + "/ca.pem")
ctx.load_cert_chain(t + "/k/aud.crt", t + "/k/aud.key")
ctx.check_hostname = False
conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx)
fetched = {}

def get(path):
    conn.request("GET", path, headers={"Authorization": "Bearer " + tok})
    r = conn.getresponse()
    body = r.read()
    assert r.status == 200, (path, r.status, body[:200])
    assert r.getheader("Content-Type") == "application/octet-stream", path
    return body

def enc(n):
    s = "%03d" % (n % 1000)
    n //= 1000
    while n:
        s = "x%03d/" % (n % 1000) + s
        n //= 1000
    return s

def tile_path(kind, n, width):
    return "/tile/%s/%s%s" % (kind, enc(n), "" if width == 256 else
                              ".p/%d" % width)

def tile(level, n):
    # The tile at LEVEL holding hash N*256...: full if the checkpoint
    # covers all of it, else the partial one of this tree size.
    have = size >> (8 * level)
    width = 256 if (n + 1) * 256 <= have else have % 256
    key = (level, n)
    if key not in fetched:
        b = get(tile_path(str(level), n, width))
        assert len(b) == 32 * width, (key, len(b))
        fetched[key] = [b[i:i + 32] for i in range(0, len(b), 32)]
    return fetched[key]

def node_hash(l, r):
    return hashlib.sha256(b"\x01" + l + r).digest()

def node(level, index):
    # The complete subtree of 2^LEVEL leaves from INDEX << LEVEL: the
    # tile at level LEVEL // 8 has its 2^(LEVEL % 8) hashes.
    tl, r = divmod(level, 8)
    first = index << r
    hs = [tile(tl, (first + i) // 256)[(first + i) % 256]
          for i in range(1 << r)]
    while len(hs) > 1:
        hs = [node_hash(hs[i], hs[i + 1]) for i in range(0, len(hs), 2)]
    return hs[0]

def split(n):
    k = 1
    while k << 1 < n:
        k <<= 1
    return k

def mth(start, n):   # MTH(D[start:start+n]), start aligned as RFC 9162's
    if n & (n - 1) == 0:
        lv = n.bit_length() - 1
        return node(lv, start >> lv)
    k = split(n)
    return node_hash(mth(start, k), mth(start + k, n - k))

def path(m, start, n):   # RFC 9162 2.1.3.1 PATH(m, D[n])
    if n <= 1:
        return []
    k = split(n)
    if m < k:
        return path(m, start, k) + [mth(start + k, n - k)]
    return path(m - k, start + k, n - k) + [mth(start, k)]

b64 = lambda h: base64.b64encode(h).decode()
ck = open(t + "/ck").read().split("\n")
assert int(ck[1]) == size
root = mth(0, size)
assert b64(root) == ck[2], ("root from tiles", b64(root), ck[2])
print("root ok", file=sys.stderr)
for i in indices:
    print(json.dumps({"index": i, "size": size, "leaf_hash": b64(node(0, i)),
                      "proof": [b64(h) for h in path(i, 0, size)]}))

# Entry bundles: each entry hashes to its level-0 tile hash, and is the
# leaf GET /v1/audit/entries gives.
for n in range((size + 255) // 256):
    width = min(256, size - n * 256)
    b = get(tile_path("entries", n, width))
    leaves, p = [], 0
    while p < len(b):
        ln = int.from_bytes(b[p:p + 2], "big")
        leaves.append(b[p + 2:p + 2 + ln])
        p += 2 + ln
    assert p == len(b) and len(leaves) == width, (n, p, len(b), len(leaves))
    for i, leaf in enumerate(leaves):
        h = hashlib.sha256(b"\x00" + leaf).digest()
        assert h == node(0, n * 256 + i), ("entry hash", n * 256 + i)
    conn.request("GET", "/v1/audit/entries?from=%d&count=%d" % (n * 256,
                 width), headers={"Authorization": "Bearer " + tok})
    r = conn.getresponse()
    es = json.loads(r.read())["entries"]
    assert [base64.b64decode(e["leaf"]) for e in es] == leaves, n
print("bundles ok: %d tiles fetched" % len(fetched), file=sys.stderr)
PY
[ $? -eq 0 ] && ok || bad "tiles client: $(tail -c 600 "$T/client.err")"
grep -q "^root ok" "$T/client.err" && ok || bad "root not recomputed"
grep -q "^bundles ok" "$T/client.err" && ok || bad "bundles not checked"

# ---- paths that are not tiles, or not this log's ----------------------------
while read -r want p; do
	req k/aud GET "$p" "" "$AUD"
	expect_problem "GET $p" "$want"
done <<EOF
400 /tile/
400 /tile/0/0
400 /tile/0/0000
400 /tile/00/000
400 /tile/64/000
400 /tile/-1/000
400 /tile/a/000
400 /tile/0/000.p/0
400 /tile/0/000.p/256
400 /tile/0/000.p/07
400 /tile/0/000.p/
400 /tile/0/000.p/1/
400 /tile/0/000/
400 /tile/0/x000
400 /tile/0/x000/
400 /tile/0/x999/x999/x999/x999/x999/x999/x999
400 /tile/0/x00/000
400 /tile/0/y000/000
400 /tile/0/000.q/1
400 /tile/entries/abc
400 /tile/entries/
400 /tile/entries/000.p/1x
404 /tile/0/x000/000
404 /tile/0/x001/000
404 /tile/1/000
404 /tile/8/000.p/1
404 /tile/63/000.p/1
404 /tile/0/x999/x999/x999/x999/x999/x999/999
404 /tile/0/999.p/1
404 /tile/entries/x001/000.p/1
404 /tile/0/$(printf %03d $((size / 256 + 1))).p/1
404 /tile/entries/$(printf %03d $((size / 256 + 1)))
404 /tile/entries/x000/000
404 /tile/0/x001/x000/000.p/5
EOF
# A partial tile inside the checkpoint: the first W hashes of the full one.
hdr /tile/0/000.p/3 "$AUD"
expect_code "partial of a full tile" 200
hdr /tile/0/000 "$AUD"
expect_eq "the same hashes" "$(head -c 96 "$T/body" | sha256sum)" \
    "$(curl -s --cacert "$T/ca.pem" --cert "$T/k/aud.crt" --key \
    "$T/k/aud.key" -H "Authorization: Bearer $AUD" \
    "${URL}tile/0/000.p/3" | sha256sum)"

stop_server
expect_eq "server exit status" 0 "$SRV_RC"

# ---- the same proofs as `audit prove`, and every request on the log --------
i=0
for n in $idx; do
	i=$((i + 1))
	run "$CV" audit prove --dir "$T/v" --index "$n" --size "$size"
	if [ "$rc" -ne 0 ]; then bad "audit prove $n: $(cat "$T/err")"
	else
		python3 -c 'import json, sys
a = json.load(open(sys.argv[1]))
b = json.loads(open(sys.argv[2]).read().split("\n")[int(sys.argv[3]) - 1])
assert a == b, (a, b)' "$T/out" "$T/client.out" "$i" 2>"$T/cmp" && ok ||
		    bad "proof of $n differs: $(tail -c 400 "$T/cmp")"
	fi
done
expect_eq "proofs compared" "$(echo $idx | wc -w)" "$i"
expect_ok "tail" "$CV" audit tail --dir "$T/v" --json -n 100000
python3 - "$T/out" <<'PY' && ok || bad "tile requests not on the log as expected"
import collections, json, sys
c = collections.Counter()
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["action"].startswith("tlog."):
        c[(e["action"], e["outcome"], e["actor"])] += 1
assert c[("tlog.checkpoint", "denied", "inv")] == 1, c
assert c[("tlog.tile", "denied", "inv")] == 1, c
assert c[("tlog.entries", "denied", "inv")] == 1, c
assert c[("tlog.checkpoint", "allowed", "aud")] == 1, c
assert c[("tlog.tile", "allowed", "aud")] >= 5, c
assert c[("tlog.entries", "allowed", "aud")] >= 3, c
assert c[("tlog.tile", "denied", "aud")] >= 20, c
PY
finish
