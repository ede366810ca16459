#!/usr/bin/env bash
# What the live views cost a run: replay the bundled example at 30x against
# tide mock three ways (plain, with --metrics-addr scraped every 0.5 s, with
# two --abort-if triggers) and compare CPU and lag; time each /metrics scrape.
# Processes started here are stopped by PID.
. "$(dirname "$0")/common.sh"
MOCK=""
trap '[ -n "$MOCK" ] && kill "$MOCK" 2>/dev/null; true' EXIT
[ -f "$B/ex.key" ] || "$TIDE" keygen -o "$B/ex.key" 2>/dev/null
"$TIDE" capture log --key-file "$B/ex.key" "$ROOT/examples/access.log" -o "$B/ex.tide" 2>/dev/null
"$TIDE" mock "$B/ex.tide" --listen 127.0.0.1:0 --latency 2ms 2>"$B/mock.err" &
MOCK=$!
for _ in $(seq 50); do grep -q "listening on port" "$B/mock.err" && break; sleep 0.1; done
T="http://127.0.0.1:$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$B/mock.err")"
R="$TIDE replay $B/ex.tide --target $T --speed 30 --multiplier 3 --no-progress --expect-status 401"
lag() { jq -r '"lag p99 \(.lag.histogram.p99) us, within 1 ms \(.lag.share_within_1ms * 100 | floor)%"' "$1"; }

measure "replay (plain)" $R --report-json "$B/m0.json"; echo "  $(lag "$B/m0.json")"
measure "replay --abort-if x2" $R --abort-if 'error_rate>50% for 10s' --abort-if 'p99>5s for 10s' --report-json "$B/m1.json"
echo "  $(lag "$B/m1.json")"
# with /metrics, scraped every 0.5 s by curl while it runs
/usr/bin/time -f "%e %U %S %M" -o "$B/time.out" $R --metrics-addr 127.0.0.1:0 --report-json "$B/m2.json" >/dev/null 2>"$B/m2.err" &
RP=$!
for _ in $(seq 50); do grep -q "metrics on" "$B/m2.err" && break; sleep 0.1; done
U=$(sed -n 's#.*metrics on \(http://[^ ]*\).*#\1#p' "$B/m2.err")
: >"$B/scrapes"
for _ in $(seq 30); do
  curl -s -o /dev/null -w '%{time_total}\n' "$U" >>"$B/scrapes" 2>/dev/null || break
  sleep 0.5
done
wait "$RP"
read -r wall user sys rss <"$B/time.out"
printf '%-46s wall %7.2f s  cpu %7.2f s  rss %8d KB\n' "replay --metrics-addr (scraped every 0.5 s)" "$wall" "$(echo "$user + $sys" | bc)" "$rss"
echo "  $(lag "$B/m2.json")"
sort -n "$B/scrapes" | awk '{a[NR] = $1} END { if (NR) printf "  %d scrapes (curl time_total): median %.1f ms, max %.1f ms\n", NR, a[int((NR + 1) / 2)] * 1000, a[NR] * 1000 }'
