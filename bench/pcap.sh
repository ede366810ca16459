#!/usr/bin/env bash
# pcap capture: packets/s and MB/s of `tide capture pcap --raw` on a capture
# of real HTTP traffic (wrk against nginx on lo, recorded by tcpdump), against
# `tcpdump -r FILE -w /dev/null` (the floor: reading the file) and tshark
# extracting request URIs (a peer HTTP extractor), in the same run.
# The issue asks for a pcap of at least 1 GB: traffic runs in 5 s rounds until
# the file is that large (at most 60 s of traffic).
# Usage: bench/pcap.sh [MIN_BYTES]   (default 1100000000)
. "$(dirname "$0")/common.sh"
. "$ROOT/tests/integration/lib.sh"
MIN=${1:-1100000000}
trap 'nginx_stop; [ -n "${TD:-}" ] && kill "$TD" 2>/dev/null' EXIT
nginx_start "$B/pngx" '$msec' 'access_log off; location / { return 200 "ok ok ok ok ok ok ok ok\n"; }'
rm -f "$B/http.pcap"
tcpdump -i lo -s 0 -B 65536 -w "$B/http.pcap" "tcp port $NGINX_PORT" 2>"$B/td.err" &
TD=$!
sleep 1
sent=0
for _ in $(seq 12); do
  wrk -t2 -c32 -d5s "http://127.0.0.1:$NGINX_PORT/some/page?x=1" >"$B/wrk.out"
  sent=$((sent + $(awk '/requests in/ {print $1}' "$B/wrk.out")))
  [ "$(stat -c %s "$B/http.pcap")" -ge "$MIN" ] && break
done
sleep 1
kill -INT "$TD"; wait "$TD" 2>/dev/null; TD=""
size=$(stat -c %s "$B/http.pcap")
pk=$(tcpdump -r "$B/http.pcap" 2>/dev/null | wc -l)
echo "input: $size bytes, $pk packets ($sent requests sent by wrk; $(grep -o '[0-9]* packets dropped by kernel' "$B/td.err"))"
# three runs each, alternating; the ratio is of the fastest of each
tdw=999; tw=999
for _ in 1 2 3; do
  measure "tcpdump -r FILE -w /dev/null (floor)" tcpdump -r "$B/http.pcap" -w /dev/null
  tdw=$(echo "if ($LAST_WALL < $tdw) $LAST_WALL else $tdw" | bc)
  measure "tide capture pcap --raw" "$TIDE" capture pcap --raw --ports "$NGINX_PORT" "$B/http.pcap" -o "$B/p.tide"
  tw=$(echo "if ($LAST_WALL < $tw) $LAST_WALL else $tw" | bc)
done
echo "  tide: $(echo "scale=1; $size / $tw / 1000000" | bc) MB/s, $(echo "$pk / $tw" | bc) packets/s; $(echo "scale=2; $tw / $tdw" | bc)x tcpdump's time; $("$TIDE" inspect --json "$B/p.tide" 2>/dev/null | jq .records) requests"
"$TIDE" keygen -o "$B/k" 2>/dev/null || true
measure "tide capture pcap (anonymized inline)" "$TIDE" capture pcap --key-file "$B/k" --ports "$NGINX_PORT" "$B/http.pcap" -o "$B/pa.tide"
echo "  inline anonymization: $(echo "scale=2; $LAST_WALL / $tw" | bc)x the raw capture's time"
measure "tshark -Y http.request -T fields -e http.request.uri" tshark -r "$B/http.pcap" -Y http.request -T fields -e http.request.uri
echo "  tide is $(echo "scale=1; $LAST_WALL / $tw" | bc)x faster than tshark"
