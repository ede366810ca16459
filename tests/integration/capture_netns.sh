#!/usr/bin/env bash
# Live capture where only a network namespace of the test's own can set the
# scene. Linux NFLOG captures (`tcpdump -i nflog:N`: the packets an nftables or
# iptables log rule hands to userspace, a common way to record only chosen
# traffic on a server). In a network namespace of its own (unshare -n, so no
# rule touches the machine's), nftables logs a real nginx's traffic on
# 127.0.0.1 to two NFLOG groups; tcpdump records one to a file while `tide
# capture pcap --interface nflog:6` takes the other live. Both must hold
# exactly the requests curl sent; so must the file rewritten in the other
# byte order (NFLOG's TLV headers are in the capturing host's).
set -u
TIDE=${1:?usage: capture_netns.sh TIDE}
. "$(dirname "$0")/lib.sh"
need nginx
need curl
need jq
need tcpdump
need nft
need unshare
need python3
need ip
if [ -z "${TIDE_IN_NETNS:-}" ]; then
  # run again inside a network namespace made for this test
  unshare -n true 2>/dev/null || skip "cannot make a network namespace (unshare -n)"
  TIDE_IN_NETNS=1 exec unshare -n bash "$0" "$TIDE"
fi
ip link set lo up || skip "cannot bring lo up in the namespace"
pcap_test_setup
nginx_start "$W/ngx" '$remote_addr "$request" $status' 'location /api/ { return 201 "created\n"; }' ||
  skip "nginx did not start"
P=$NGINX_PORT
nft add table inet tide_test &&
  nft add chain inet tide_test out '{ type filter hook output priority 0; }' &&
  nft add rule inet tide_test out tcp dport "$P" log group 5 &&
  nft add rule inet tide_test out tcp sport "$P" log group 5 &&
  nft add rule inet tide_test out tcp dport "$P" log group 6 &&
  nft add rule inet tide_test out tcp sport "$P" log group 6 ||
  skip "nftables cannot add log rules here"

tcpdump -i nflog:5 -w "$W/nf.pcap" -U 2>"$W/td.err" &
TD_PID=$!
"$TIDE" capture pcap --raw --interface nflog:6 --ports "$P" -o "$W/live.tide" 2>"$W/live.err" &
CAP_PID=$!
for _ in $(seq 50); do grep -q "listening on" "$W/td.err" && grep -q "capturing" "$W/live.err" && break; sleep 0.1; done
grep -q "listening on" "$W/td.err" || skip "tcpdump cannot listen on nflog:5: $(cat "$W/td.err")"
B="http://127.0.0.1:$P"
curl -s -o /dev/null "$B/index.html?x=1"
curl -s -o /dev/null "$B/missing"
curl -s -o /dev/null -X POST --data '{"essay":"hi"}' "$B/api/essays"
curl -s -o /dev/null -o /dev/null "$B/index.html" "$B/index.html?again=1" # two on one connection
printf '%s\n' "GET /index.html 200" "GET /missing 404" "POST /api/essays 201" "GET /index.html 200" \
  "GET /index.html 200" >"$W/want"
sleep 1.5 # the kernel hands NFLOG packets over in batches, at least once a second
kill -INT "$TD_PID"; wait "$TD_PID" 2>/dev/null; TD_PID=""
kill -INT "$CAP_PID"; wait "$CAP_PID"; rc=$?; CAP_PID=""
[ $rc -eq 0 ] || fail "live capture on nflog:6: exit $rc: $(cat "$W/live.err")"
records() { "$TIDE" cat --allow-raw "$1" | jq -r '"\(.method) \(.path) \(.status)"'; }

"$TIDE" capture pcap --raw --ports "$P" "$W/nf.pcap" -o "$W/nf.tide" 2>"$W/err" || fail "capture of the file: $(cat "$W/err")"
grep -q "link types: nflog" "$W/err" || fail "link type not said: $(cat "$W/err")"
records "$W/nf.tide" | diff "$W/want" - >"$W/diff" || fail "the file's records differ: $(cat "$W/diff")"
pass "tcpdump -i nflog:5 of a real nginx's traffic: the 5 requests curl sent, with their statuses"
records "$W/live.tide" | diff "$W/want" - >"$W/diff" || fail "live records differ: $(cat "$W/diff")"
pass "tide capture pcap --interface nflog:6 live: the same 5 requests"

# the same file in the other byte order: the pcap headers and every NFLOG TLV header swapped
python3 - "$W/nf.pcap" "$W/swapped.pcap" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
magic, vmaj, vmin, tz, sig, snap, lt = struct.unpack("<IHHiIII", d[:24])
out = [struct.pack(">IHHiIII", magic, vmaj, vmin, tz, sig, snap, lt)]
at = 24
while at + 16 <= len(d):
    sec, frac, cap, orig = struct.unpack("<IIII", d[at:at + 16])
    pkt = bytearray(d[at + 16:at + 16 + cap])
    t = 4
    while t + 4 <= len(pkt):
        tl, tt = struct.unpack("<HH", pkt[t:t + 4])
        pkt[t:t + 4] = struct.pack(">HH", tl, tt)
        if tl < 4:
            break
        t += (tl + 3) & ~3
    out.append(struct.pack(">IIII", sec, frac, cap, orig) + bytes(pkt))
    at += 16 + cap
open(sys.argv[2], "wb").write(b"".join(out))
PY
"$TIDE" capture pcap --raw --ports "$P" "$W/swapped.pcap" -o "$W/sw.tide" 2>"$W/err" || fail "capture of the swapped file: $(cat "$W/err")"
records "$W/sw.tide" | diff "$W/want" - >"$W/diff" || fail "the swapped file's records differ: $(cat "$W/diff")"
pass "the same NFLOG capture written in the other byte order: the same 5 requests"

# an interface that disappears under a live capture (a container's veth when
# it stops): said, the trace kept, exit 5; it ended as if all were well
if ip link add tide0 type veth peer name tide1 2>/dev/null && ip link set tide0 up && ip link set tide1 up; then
  "$TIDE" capture pcap --raw --interface tide0 -o "$W/gone.tide" 2>"$W/err" &
  CAP_PID=$!
  for _ in $(seq 50); do grep -q "capturing" "$W/err" && break; sleep 0.1; done
  ip link del tide0
  for _ in $(seq 50); do kill -0 "$CAP_PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$CAP_PID" 2>/dev/null && fail "the capture still runs 5 s after its interface went away"
  wait "$CAP_PID"
  rc=$?
  CAP_PID=""
  [ $rc -eq 5 ] && grep -q "tide0: the capture stopped: .* (the requests before it are kept)" "$W/err" ||
    fail "interface gone: exit $rc: $(cat "$W/err")"
  "$TIDE" inspect "$W/gone.tide" >/dev/null 2>&1 || fail "interface gone: the trace is not whole"
  pass "an interface that disappears under a live capture is said (exit 5) and the trace kept whole"
else
  echo "skip - veth interfaces cannot be made here"
fi
finish
