#!/usr/bin/env bash
# Replay against nginx on 127.0.0.1 in the same run as wrk: CPU seconds per
# 1000 requests for both (wrk is the floor: a closed loop with no schedule),
# and tide's lag at increasing rates, with tide's own HTTP/1.1 client and with
# libcurl. Usage: bench/replay.sh
# nginx gets 8192 connections: an open loop opens as many as it has requests
# in flight.
. "$(dirname "$0")/common.sh"
. "$ROOT/tests/integration/lib.sh"
trap 'nginx_stop' EXIT
NGINX_WORKER_CONNECTIONS=8192 nginx_start "$B/ngx" '$msec' 'access_log off; location / { return 200 "ok\n"; }'
T="http://127.0.0.1:$NGINX_PORT"
/usr/bin/time -f "%e %U %S %M" -o "$B/time.out" wrk -t1 -c16 -d10s "$T/" >"$B/wrk.out" 2>&1
read -r wall user sys rss <"$B/time.out"
LAST_CPU=$(echo "$user + $sys" | bc)
reqs=$(awk '/requests in/ {print $1}' "$B/wrk.out")
echo "wrk -t1 -c16 -d10s: wall $wall s, cpu $LAST_CPU s, rss $rss KB"
echo "  wrk: $reqs requests; cpu per 1000 requests: $(echo "scale=4; $LAST_CPU * 1000 / $reqs" | bc) s"
"$GEN" trace 300000 "$B/r.tide" >/dev/null
# Saturated, as wrk is: one thread, 16 connections, a schedule far faster than
# the target answers (--speed 1000), so every wakeup finds work. This is the
# like-for-like CPU per request.
for client in native curl; do
  measure "tide replay saturated (1 thread, 16 conns) --client $client" "$TIDE" replay "$B/r.tide" --target "$T" \
    --speed 1000 --threads 1 --connections 16 --client "$client" --methods all --allow-capture-host --to +10m \
    --no-progress --report-json "$B/rep.json"
  sent=$(jq .overall.sent "$B/rep.json")
  echo "  sent $sent in $(jq .elapsed_seconds "$B/rep.json") s = $(echo "scale=0; $sent / $(jq .elapsed_seconds "$B/rep.json")" | bc) req/s; cpu per 1000: $(echo "scale=4; $LAST_CPU * 1000 / $sent" | bc) s; errors $(jq .overall.errors "$B/rep.json")"
done
# Paced (the open loop as used): both HTTP clients at each rate, 2 threads,
# connections as needed. Each send is a timer wakeup and each answer another.
for speed in ${SPEEDS:-10 20 40 50 60}; do
  for client in native curl; do
    measure "tide replay --speed $speed --client $client" "$TIDE" replay "$B/r.tide" --target "$T" --speed "$speed" \
      --client "$client" --methods all --allow-capture-host --to +10m --no-progress --report-json "$B/rep.json"
    sent=$(jq .overall.sent "$B/rep.json")
    echo "  sent $sent in $(jq .elapsed_seconds "$B/rep.json") s = $(echo "scale=0; $sent / $(jq .elapsed_seconds "$B/rep.json")" | bc) req/s; cpu per 1000: $(echo "scale=4; $LAST_CPU * 1000 / $sent" | bc) s; lag p99 $(jq .lag.histogram.p99 "$B/rep.json") us, within 1 ms $(jq .lag.share_within_1ms "$B/rep.json"); errors $(jq .overall.errors "$B/rep.json"); rss $LAST_RSS KB"
  done
done
[ -n "${SKIP_MEMORY:-}" ] && exit 0 # SPEEDS="20 40" SKIP_MEMORY=1 bench/replay.sh: rates only
# Memory: a 1 GB trace (essay POST bodies, as the platform's) replayed for two
# trace minutes at speed 10; the trace's size must not show in peak RSS.
[ -s "$B/1g.tide" ] && [ "$(stat -c %Y "$B/1g.tide")" -gt "$(stat -c %Y "$GEN")" ] || "$GEN" trace-bytes 1000000000 "$B/1g.tide" >/dev/null
for th in 1 2; do
  measure "tide replay 1 GB trace, --threads $th" "$TIDE" replay "$B/1g.tide" --target "$T" --speed 10 --threads "$th" \
    --methods all --allow-capture-host --to +2m --no-progress --report-json "$B/rep.json"
  echo "  trace $(stat -c %s "$B/1g.tide") bytes; sent $(jq .overall.sent "$B/rep.json"); peak RSS $LAST_RSS KB"
done
