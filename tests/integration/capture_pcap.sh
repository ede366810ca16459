#!/usr/bin/env bash
# tcpdump records real traffic on lo while curl sends a known set of requests
# to a real nginx on 127.0.0.1: GETs with query strings, a POST with a JSON
# body, a chunked upload, keep-alive, and pipelined requests over one raw
# socket. `tide capture pcap` must yield exactly the requests sent, none
# missing, none invented, with matching statuses; then the same traffic
# captured live with `--interface lo`.
set -u
TIDE=${1:?usage: capture_pcap.sh TIDE}
. "$(dirname "$0")/lib.sh"
need nginx
need curl
need jq
need tcpdump
need python3
pcap_test_setup
nginx_start "$W/ngx" '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"' 'location /api/ { client_body_buffer_size 1m; return 201 "created\n"; }
    location /small/ { client_max_body_size 1k; return 200; }
    location = /nothing { return 204; }' || skip "nginx did not start"
P=$NGINX_PORT
B="http://127.0.0.1:$P"

traffic() {
  curl -s -o /dev/null "$B/index.html?x=1&y=two"
  curl -s -o /dev/null "$B/missing?q=a+b"
  curl -s -o /dev/null -X POST -H 'Content-Type: application/json' --data '{"essay":"hello world"}' "$B/api/essays"
  printf 'part one|part two|part three' | curl -s -o /dev/null -X POST -H 'Transfer-Encoding: chunked' --data-binary @- "$B/api/upload"
  curl -s -o /dev/null -o /dev/null "$B/index.html" "$B/nothing" # keep-alive: two requests, one connection
  curl -s -o /dev/null -I "$B/index.html"
  python3 - "$P" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /pipe/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /pipe/2 HTTP/1.1\r\nHost: x\r\n\r\nGET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
data = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    data += d
s.close()
PY
  # a server that answers before it reads the body (nginx's return; an early
  # 401 or 413): curl sends Expect: 100-continue, gets 100 then 201, then sends the body anyway
  head -c 3000 /dev/zero | tr '\0' 'e' | curl -s -o /dev/null -H 'Expect: 100-continue' --data-binary @- "$B/api/early"
  # too large: 413 at once, and the body never sent (curl waits for 100 Continue)
  head -c 3000 /dev/zero | tr '\0' 'e' | curl -s -o /dev/null -H 'Expect: 100-continue' --data-binary @- "$B/small/up"
}
# method path status, in order of sending
cat >"$W/want" <<'EOF'
GET /index.html 200
GET /missing 404
POST /api/essays 201
POST /api/upload 201
GET /index.html 200
GET /nothing 204
HEAD /index.html 200
GET /pipe/1 404
GET /pipe/2 404
GET /index.html 200
POST /api/early 201
POST /small/up 413
EOF

# --- a file made by tcpdump --------------------------------------------------------
tcpdump -i lo -w "$W/t.pcap" -U "tcp port $P" 2>"$W/td.err" &
TD_PID=$!
for _ in $(seq 50); do grep -q "listening on" "$W/td.err" && break; sleep 0.1; done
sleep 0.3
traffic
sleep 0.5
kill "$TD_PID"; wait "$TD_PID" 2>/dev/null; TD_PID=""
"$TIDE" capture pcap --raw --ports "$P" "$W/t.pcap" -o "$W/t.tide" 2>"$W/err" || fail "capture failed: $(cat "$W/err")"
"$TIDE" cat --allow-raw "$W/t.tide" | jq -r '"\(.method) \(.path) \(.status)"' >"$W/got"
diff "$W/want" "$W/got" >"$W/diff" || fail "records differ from the requests sent: $(cat "$W/diff")"
pass "tcpdump file: exactly the 12 requests sent, in order, with their statuses (one answered before its body was sent, one refused before it)"
"$TIDE" cat --allow-raw "$W/t.tide" >"$W/t.jsonl"
[ "$(jq -r 'select(.path == "/index.html" and .query != "") | .query' "$W/t.jsonl")" = "x=1&y=two" ] || fail "query"
[ "$(jq -r 'select(.path == "/api/essays") | .body' "$W/t.jsonl" | base64 -d)" = '{"essay":"hello world"}' ] || fail "JSON body"
[ "$(jq -r 'select(.path == "/api/upload") | .body' "$W/t.jsonl" | base64 -d)" = 'part one|part two|part three' ] || fail "chunked body not de-chunked"
[ "$(jq -r 'select(.method == "HEAD") | .resp_bytes' "$W/t.jsonl")" = 0 ] || fail "HEAD has a body"
[ "$(jq -r 'select(.path == "/missing") | .client' "$W/t.jsonl")" = 127.0.0.1 ] || fail "client"
jq -e 'select(.duration_ms == null or .duration_ms < 0)' "$W/t.jsonl" >/dev/null && fail "a duration is missing"
[ "$(jq -r 'select(.path == "/small/up") | .body_truncated' "$W/t.jsonl")" = true ] ||
  fail "a request refused before its body: not flagged as cut short: $(jq -c 'select(.path == "/small/up")' "$W/t.jsonl")"
pass "query, JSON body, de-chunked upload, HEAD without body, client and durations are right"
grep -q "12 requests written (12 answered, 0 without a response)" "$W/err" || fail "summary: $(cat "$W/err")"
pass "the summary accounts for every request"

# --since/--until: the requests that start in a window; the rest counted
since=$(jq -rs '.[4].ts' "$W/t.jsonl")
until=$(jq -rs '.[7].ts' "$W/t.jsonl")
"$TIDE" capture pcap --raw --ports "$P" --since "$since" --until "$until" "$W/t.pcap" -o "$W/w.tide" 2>"$W/err" ||
  fail "--since/--until: $(cat "$W/err")"
[ "$("$TIDE" cat --allow-raw "$W/w.tide" | jq -c '[.method, .path]' | tr -d '\n')" = "$(jq -c '[.method, .path]' "$W/t.jsonl" | sed -n 5,7p | tr -d '\n')" ] ||
  fail "--since/--until: records"
grep -q "3 requests written (3 answered, 0 without a response)" "$W/err" && grep -q "9 request(s) outside --since/--until" "$W/err" ||
  fail "--since/--until summary: $(cat "$W/err")"
pass "--since/--until keep the requests that start in the window; the summary counts the rest"

# --- reconcile with nginx's own log of the same traffic ------------------------------------
"$TIDE" capture pcap --raw --ports "$P" --reconcile "$W/ngx/logs/access.log" "$W/t.pcap" -o "$W/r.tide" >"$W/rec" 2>/dev/null ||
  fail "reconcile failed"
grep -q "total: capture 12, log 12 (+0)" "$W/rec" || fail "reconcile: $(cat "$W/rec")"
pass "--reconcile compares requests per minute with the server's access log (12 and 12)"

# --- the same capture as nanosecond pcap and big-endian pcap: the same records -------------
python3 - "$W/t.pcap" "$W/ns.pcap" "$W/be.pcap" <<'PY'
import struct, sys
src = open(sys.argv[1], "rb").read()
gh, body = src[:24], src[24:]
magic, vmaj, vmin, tz, sig, snap, lt = struct.unpack("<IHHiIII", gh)
assert magic == 0xa1b2c3d4
ns, be = [struct.pack("<IHHiIII", 0xa1b23c4d, vmaj, vmin, tz, sig, snap, lt)], [struct.pack(">IHHiIII", magic, vmaj, vmin, tz, sig, snap, lt)]
at = 0
while at + 16 <= len(body):
    sec, usec, incl, orig = struct.unpack("<IIII", body[at:at + 16])
    data = body[at + 16:at + 16 + incl]
    ns.append(struct.pack("<IIII", sec, usec * 1000 + 999, incl, orig) + data)
    be.append(struct.pack(">IIII", sec, usec, incl, orig) + data)
    at += 16 + incl
open(sys.argv[2], "wb").write(b"".join(ns))
open(sys.argv[3], "wb").write(b"".join(be))
PY
"$TIDE" capture pcap --raw --ports "$P" "$W/t.pcap" -o "$W/v0.tide" 2>/dev/null || fail "µs pcap"
for v in ns be; do
  "$TIDE" capture pcap --raw --ports "$P" "$W/$v.pcap" -o "$W/$v.tide" 2>"$W/err" || fail "$v pcap: $(cat "$W/err")"
  cmp -s <("$TIDE" cat --allow-raw "$W/v0.tide" | jq -c 'del(.source)') <("$TIDE" cat --allow-raw "$W/$v.tide" | jq -c 'del(.source)') ||
    fail "$v pcap: records differ from the µs little-endian file's"
done
pass "nanosecond and big-endian pcap files give the same records"

# --- a file of several 1 MiB read chunks: records that span two chunks -----------------------
# the same capture with UDP packets of many sizes between its packets, so that
# chunk boundaries fall inside record headers and inside packet data
python3 - "$W/t.pcap" "$W/big.pcap" <<'PY'
import random, struct, sys
src = open(sys.argv[1], "rb").read()
out, at, rnd = [src[:24]], 24, random.Random(7)
while at + 16 <= len(src):
    sec, usec, incl, orig = struct.unpack("<IIII", src[at:at + 16])
    out.append(src[at:at + 16 + incl])
    at += 16 + incl
    for _ in range(40):
        n = rnd.choice([rnd.randint(1, 40), rnd.randint(100, 60000)])
        udp = struct.pack(">HHHH", 9, 9, 8 + n, 0) + bytes(n)
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
        frame = bytes(12) + b"\x08\x00" + ip + udp
        out.append(struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame)
open(sys.argv[2], "wb").write(b"".join(out))
PY
[ "$(stat -c %s "$W/big.pcap")" -gt 3000000 ] || fail "the padded pcap is too small to span chunks"
gzip -1 -c "$W/big.pcap" >"$W/big.pcap.gz"
bzip2 -1 -c "$W/big.pcap" >"$W/big.pcap.bz2"
xz -1 -c "$W/big.pcap" >"$W/big.pcap.xz"
for v in big.pcap big.pcap.gz big.pcap.bz2 big.pcap.xz; do
  "$TIDE" capture pcap --raw --ports "$P" "$W/$v" -o "$W/$v.tide" 2>"$W/err" || fail "$v: $(cat "$W/err")"
  cmp -s <("$TIDE" cat --allow-raw "$W/v0.tide" | jq -c 'del(.source)') <("$TIDE" cat --allow-raw "$W/$v.tide" | jq -c 'del(.source)') ||
    fail "$v: records differ from the plain file's"
done
pass "a pcap of several read chunks, plain, gzipped, bzipped and xz-compressed: the same records"
"$TIDE" capture pcap --raw --ports "$P" - -o "$W/stdin.tide" <"$W/big.pcap" 2>"$W/err" || fail "stdin: $(cat "$W/err")"
cmp -s <("$TIDE" cat --allow-raw "$W/v0.tide" | jq -c 'del(.source)') <("$TIDE" cat --allow-raw "$W/stdin.tide" | jq -c 'del(.source)') ||
  fail "stdin: records differ from the file's"
pass "a pcap on standard input (-): the same records"

# --- tcpdump's rotated files (-C): connections that run on from one file into the next ---
tcpdump -Z "$(id -un)" -r "$W/big.pcap" -w "$W/part.pcap" -C 1 2>/dev/null || fail "tcpdump -C could not split the capture"
parts=$(ls "$W"/part.pcap* | sort -r) # newest first: tide orders them by their first packets
[ "$(echo "$parts" | wc -l)" -ge 3 ] || fail "tcpdump -C made fewer than 3 files"
# shellcheck disable=SC2086
"$TIDE" capture pcap --raw --ports "$P" $parts -o "$W/parts.tide" 2>"$W/err" || fail "rotated files: $(cat "$W/err")"
cmp -s <("$TIDE" cat --allow-raw "$W/v0.tide" | jq -c 'del(.source)') <("$TIDE" cat --allow-raw "$W/parts.tide" | jq -c 'del(.source)') ||
  fail "rotated files: records differ from the one file's"
pass "tcpdump -C's rotated files, given in any order: the same records as one file"
: >"$W/empty.pcap" # a capture killed before it wrote its header
"$TIDE" capture pcap --raw --ports "$P" "$W/empty.pcap" "$W/t.pcap" -o "$W/withempty.tide" 2>"$W/err" || fail "an empty file among pcaps: $(cat "$W/err")"
grep -q "1 empty file(s): no packets" "$W/err" || fail "empty pcap not said: $(cat "$W/err")"
cmp -s <("$TIDE" cat --allow-raw "$W/v0.tide" | jq -c 'del(.source)') <("$TIDE" cat --allow-raw "$W/withempty.tide" | jq -c 'del(.source)') ||
  fail "an empty file among pcaps: records differ"
pass "an empty pcap file among others: counted and said, not an error"
python3 - "$W/t.pcap" "$W/snap.pcap" <<'PY2' # as tcpdump -s 96 records: each packet cut at 96 bytes
import struct, sys
src = open(sys.argv[1], "rb").read()
out, at = [src[:24]], 24
while at + 16 <= len(src):
    sec, usec, incl, orig = struct.unpack("<IIII", src[at:at + 16])
    k = min(incl, 96)
    out.append(struct.pack("<IIII", sec, usec, k, orig) + src[at + 16:at + 16 + k])
    at += 16 + incl
open(sys.argv[2], "wb").write(b"".join(out))
PY2
"$TIDE" capture pcap --raw --ports "$P" "$W/snap.pcap" -o "$W/snap.tide" 2>"$W/err" || fail "snaplen-cut pcap: $(cat "$W/err")"
grep -q "not used: truncated packets (snaplen): [1-9]" "$W/err" && grep -q "tcpdump -s 0" "$W/err" || fail "snaplen cut not said: $(cat "$W/err")"
pass "packets cut by a short snaplen are counted and the fix is said"

# --- truncated mid-packet: every whole packet is used ------------------------------------
size=$(stat -c %s "$W/t.pcap")
head -c $((size - 7)) "$W/t.pcap" >"$W/cut.pcap"
"$TIDE" capture pcap --raw --ports "$P" "$W/cut.pcap" -o "$W/cut.tide" 2>"$W/err"
[ $? -eq 5 ] && grep -q "every whole packet before it was used" "$W/err" || fail "truncated pcap: $(cat "$W/err")"
[ "$("$TIDE" cat --allow-raw "$W/cut.tide" | wc -l)" -ge 9 ] || fail "truncated pcap lost requests"
pass "a pcap cut mid-packet: whole packets used, a clear note, exit 5"

# --- live: --interface lo -----------------------------------------------------------------
"$TIDE" capture pcap --raw --interface lo --filter "tcp port $P" --ports "$P" -o "$W/live.tide" 2>"$W/live.err" &
CAP_PID=$!
for _ in $(seq 50); do grep -q "capturing" "$W/live.err" && break; sleep 0.1; done
sleep 0.3
traffic
sleep 0.5
kill -INT "$CAP_PID"; wait "$CAP_PID"; rc=$?; CAP_PID=""
[ $rc -eq 0 ] || fail "live capture exit $rc: $(cat "$W/live.err")"
"$TIDE" cat --allow-raw "$W/live.tide" | jq -r '"\(.method) \(.path) \(.status)"' >"$W/got2"
diff "$W/want" "$W/got2" >"$W/diff" || fail "live records differ: $(cat "$W/diff")"
grep -q "kernel drops 0" "$W/live.err" || fail "kernel drops not reported: $(cat "$W/live.err")"
pass "live --interface lo: the same 12 requests; SIGINT ends with a complete trace; drops reported"

# live capture that cannot start says what to do: without the capabilities
# (root's taken away with setpriv) and on an interface that does not exist
if command -v setpriv >/dev/null; then
  setpriv --bounding-set=-net_raw,-net_admin "$TIDE" capture pcap --raw --interface lo --duration 1s \
    -o "$W/np.tide" 2>"$W/err"
  [ $? -eq 4 ] && [ ! -e "$W/np.tide" ] && grep -q "lo: cannot capture: .*(live capture needs root, or the capabilities CAP_NET_RAW and CAP_NET_ADMIN" "$W/err" ||
    fail "no capture rights: $(cat "$W/err")"
fi
"$TIDE" capture pcap --raw --interface tide-nosuch0 --duration 1s -o "$W/ns.tide" 2>"$W/err"
[ $? -eq 4 ] && grep -q "tide-nosuch0: cannot capture: .*(tcpdump -D lists the interfaces)" "$W/err" ||
  fail "no such interface: $(cat "$W/err")"
pass "a live capture that cannot start says why and what to do (rights, interface names), and writes no trace"

# a capture given through a pipe (bash's <(...), compressed too): read once,
# whole (the first bytes looked at before reading ate it: 0 packets, exit 0)
"$TIDE" capture pcap --raw --ports "$P" <(cat "$W/t.pcap") -o "$W/pp.tide" 2>"$W/err" || fail "pcap through a pipe: $(cat "$W/err")"
"$TIDE" capture pcap --raw --ports "$P" <(gzip -c "$W/t.pcap") -o "$W/ppz.tide" 2>"$W/err" || fail "gzipped pcap through a pipe: $(cat "$W/err")"
"$TIDE" cat --allow-raw "$W/pp.tide" | jq -r '"\(.method) \(.path) \(.status)"' | diff "$W/want" - >/dev/null &&
  "$TIDE" cat --allow-raw "$W/ppz.tide" | jq -r '"\(.method) \(.path) \(.status)"' | diff "$W/want" - >/dev/null ||
  fail "pcap through a pipe: records differ"
pass "a pcap given through a pipe (<(...), gzipped too) is read whole, once"

finish
