#!/usr/bin/env bash
# Stage profiles against a real nginx, checked from nginx's own log: each
# request carries its stage's name in X-Tide-Stage; per-stage counts equal
# the schedule computed here from the trace (the cursor runs on across
# stages, a 2x stage doubles its stretch); per-stage SLO verdicts leave the
# warm-up out; the inline spelling equals the JSON one; a bad profile is
# refused naming the stage and the field; tide plan's arithmetic; --abort-if
# stops a run whose target starts failing (exit 3, the report says why);
# --metrics-addr is scraped mid-run and checked as Prometheus text.
set -u
TIDE=${1:?usage: replay_profile.sh TIDE}
. "$(dirname "$0")/lib.sh"
need nginx
need jq
need python3
need curl
W=$(mktemp -d)
trap 'nginx_stop; rm -rf "$W"' EXIT

# an anchor at 0 s, then one GET every 0.5 s from 0.2 s to 89.7 s, 30 sessions
python3 - "$W" <<'PY'
import json, sys
W = sys.argv[1]
ts = [0.0] + [0.2 + 0.5 * k for k in range(180)]
with open(W + "/t.jsonl", "w") as f:
    for i, t in enumerate(ts):
        f.write(json.dumps({"ts": "2026-11-20T10:%02d:%02d.%03d000000Z" % (int(t) // 60, int(t) % 60, round(t * 1000) % 1000),
            "method": "GET", "path": "/p/%d" % i, "query": "", "version": "HTTP/1.1",
            "headers": [["Host", "prod.example.edu"], ["Cookie", "sessionid=s%d" % (i % 30)]],
            "status": 200, "client": "198.51.100.%d" % (i % 30 + 1), "session": "sess-%d" % (i % 30),
            "source": "gen"}) + "\n")
# expected per stage at speed 30: warm [0,30 s) x1, steady [30,60 s) x2, cool [60,90 s) x1
cnt = [sum(1 for t in ts if a <= t < b) for a, b in ((0, 30), (30, 60), (60, 90))]
open(W + "/expect", "w").write("warm %d\nsteady %d\ncool %d\n" % (cnt[0], 2 * cnt[1], cnt[2]))
PY
cat >"$W/profile.json" <<'JSON'
{"stages": [
  {"name": "warm", "duration": "1s", "multiplier": 1, "warmup": true},
  {"name": "steady", "duration": "1s", "multiplier": 2},
  {"name": "cool", "duration": 1, "multiplier": 1}
]}
JSON
"$TIDE" keygen -o "$W/key" 2>/dev/null
"$TIDE" import --key-file "$W/key" "$W/t.jsonl" -o "$W/t.tide" 2>/dev/null || fail "import"
# requests 100 and later fail with 503, but only for the run named "failing" (the abort test)
nginx_start "$W/ngx" '$http_x_tide_stage $request_uri $status' 'location / { return 200 "ok\n"; }
  location ~ "^/p/1[0-9][0-9]$" { if ($http_x_tide_run = failing) { return 503; } return 200 "ok\n"; }' ||
  skip "nginx did not start"
T="http://127.0.0.1:$NGINX_PORT"
LOG="$W/ngx/logs/access.log"

"$TIDE" replay "$W/t.tide" --target "$T" --speed 30 --profile "$W/profile.json" --no-progress \
  --slo 'p99<=5s' --report-json "$W/r.json" >"$W/out.txt" 2>"$W/err.txt" || fail "profile run: $(cat "$W/err.txt")"
sleep 0.3
awk '{print $1}' "$LOG" | sort | uniq -c | awk '{print $2, $1}' | sort >"$W/got"
sort "$W/expect" >"$W/want"
diff "$W/want" "$W/got" >/dev/null || fail "requests per stage at nginx: $(tr '\n' ' ' <"$W/got"), schedule: $(tr '\n' ' ' <"$W/want")"
pass "X-Tide-Stage arrives on every request; per-stage counts at nginx equal the schedule ($(tr '\n' ' ' <"$W/want"))"

for st in warm steady cool; do
  want=$(awk -v s=$st '$1 == s {print $2}' "$W/want")
  [ "$(jq --arg s $st '.stages[] | select(.name == $s) | .completed' "$W/r.json")" = "$want" ] ||
    fail "report stage $st completed $(jq --arg s $st '.stages[] | select(.name == $s) | .completed' "$W/r.json"), want $want"
done
[ "$(jq '.stages[0].warmup' "$W/r.json")" = true ] || fail "warm-up flag lost in the report"
grep -q "stage steady" "$W/out.txt" && grep -q "stage cool" "$W/out.txt" || fail "no per-stage rows or verdicts"
grep -A5 "^  SLO" "$W/out.txt" | grep -q "stage warm" && fail "the warm-up stage was judged"
grep -q "PASS: 3 of 3 objectives met" "$W/out.txt" || fail "verdicts: $(tail -5 "$W/out.txt")"
pass "the report breaks out by stage; SLOs are judged overall and per non-warm-up stage"

: >"$LOG"
"$TIDE" replay "$W/t.tide" --target "$T" --speed 30 --no-progress \
  --profile 'warm=1x/1s/warmup,steady=2x/1s,cool=1x/1s' >/dev/null 2>&1 || fail "inline profile run"
sleep 0.3
awk '{print $1}' "$LOG" | sort | uniq -c | awk '{print $2, $1}' | sort >"$W/got2"
diff "$W/want" "$W/got2" >/dev/null || fail "inline profile: $(tr '\n' ' ' <"$W/got2")"
pass "the inline spelling schedules the same"

"$TIDE" replay "$W/t.tide" --dry-run --speed 30 --profile 'a=1x/1s,b=60rps/2s' >"$W/dry.txt" 2>/dev/null
# 181 requests over 89.7 s + 1 s: 1.996 req/s at speed 1; 60 req/s at 30x needs 60 / (1.996 * 30) = 1.002x
grep -E '^  b +2s +30x +1\.002x +60\.0 +120' "$W/dry.txt" >/dev/null || fail "dry-run stage table: $(grep -A4 stages: "$W/dry.txt")"
pass "a rate stage becomes the multiplier that makes it (dry-run table)"

# tide plan: 12000 DAU x 2 sessions x 30 requests x 3 / 3600 = 600 req/s; three plateaus to 3x:
# 600, 1200, 1800; the trace averages 181 / 90.7 s = 1.99559 req/s, 59.868 at 30x: 10.022x, 20.044x, 30.066x
"$TIDE" plan --dau 12000 --sessions-per-dau 2 --requests-per-session 30 --concurrency-factor 3 \
  --plateaus 3 --headroom 3 --warmup 1m --hold 10m --trace "$W/t.tide" --speed 30 -o "$W/plan.json" >"$W/plan.txt" 2>&1 ||
  fail "plan: $(cat "$W/plan.txt")"
grep -q '= 600.00 req/s' "$W/plan.txt" &&
  grep -Eq '^  p1 +1.00x +600.00 +1m +10m +10.022x' "$W/plan.txt" &&
  grep -Eq '^  p2 +2.00x +1200.00 +1m +10m +20.044x' "$W/plan.txt" &&
  grep -Eq '^  p3 +3.00x +1800.00 +1m +10m +30.066x' "$W/plan.txt" || fail "plan table: $(cat "$W/plan.txt")"
[ "$(jq -c '[.stages[] | [.name, .duration, .rate, (.warmup // false)]]' "$W/plan.json")" = \
  '[["p1-warm","1m",600,true],["p1","10m",600,false],["p2-warm","1m",1200,true],["p2","10m",1200,false],["p3-warm","1m",1800,true],["p3","10m",1800,false]]' ] ||
  fail "plan profile: $(jq -c . "$W/plan.json")"
"$TIDE" replay "$W/t.tide" --dry-run --speed 30 --profile "$W/plan.json" 2>/dev/null | grep -Eq '^  p3 +600s +30x +30.066x +1800.0' ||
  fail "the plan's profile does not replay at its rates"
pass "tide plan: baseline, plateaus and the multipliers each needs match hand-computed figures; replay takes its profile"
SP() { "$TIDE" plan --dau 12000 --sessions-per-dau 2 --requests-per-session 30 --concurrency-factor 3 --spikes 3 \
  --spike-factor 10 --spike-hold 2m --gap-min 3m --gap-max 9m --warmup 1m "$@" >/dev/null 2>&1; }
SP --seed 7 -o "$W/sp7.json" && SP --seed 7 -o "$W/sp7b.json" && SP --seed 8 -o "$W/sp8.json" || fail "plan --spikes"
cmp -s "$W/sp7.json" "$W/sp7b.json" || fail "the same seed gave two profiles"
cmp -s "$W/sp7.json" "$W/sp8.json" && fail "two seeds gave the same gaps"
[ "$(jq -c '[.stages[] | .name]' "$W/sp7.json")" = '["base-warm","base1","spike1","base2","spike2","base3","spike3","recovery"]' ] &&
  [ "$(jq -c '[.stages[] | select(.name | startswith("spike")) | [.duration, .rate]] | unique' "$W/sp7.json")" = '[["2m",6000]]' ] &&
  [ "$(jq -c '[.stages[] | select(.name | test("^base[0-9]")) | .rate] | unique' "$W/sp7.json")" = '[600]' ] ||
  fail "spike profile: $(jq -c . "$W/sp7.json")"
for d in $(jq -r '.stages[] | select(.name | test("^base[0-9]")) | .duration' "$W/sp7.json"); do
  s=$(echo "$d" | sed -E 's/^([0-9]+)m$/\1*60/; s/^([0-9]+)s$/\1/' | bc)
  [ "$s" -ge 180 ] && [ "$s" -le 540 ] || fail "a gap of $d outside 3m..9m"
done
pass "tide plan --spikes: 10x the baseline three times at seeded gaps within bounds; the same seed, the same profile"

# --abort-if: the target starts failing 5 s into a 9 s run (request 100 at 50 s of trace, speed 10)
: >"$LOG"
"$TIDE" replay "$W/t.tide" --target "$T" --speed 10 --no-progress --run-id failing --drain 2s \
  --abort-if 'p99>5s for 2s' --abort-if 'error_rate>20% for 2s' --report-json "$W/ab.json" >"$W/ab.txt" 2>"$W/ab.err"
rc=$?
sleep 0.3
[ $rc -eq 3 ] || fail "abort: exit $rc, want 3: $(cat "$W/ab.err")"
jq -r .aborted "$W/ab.json" | grep -q '^error_rate>20% for 2s held at' || fail "abort reason in the report: $(jq .aborted "$W/ab.json")"
[ "$(jq .stopped_early "$W/ab.json")" = true ] && grep -q "ABORTED: error_rate>20% for 2s" "$W/ab.txt" || fail "the report does not say it stopped"
sent=$(wc -l <"$LOG")
fails=$(grep -c ' 503$' "$LOG")
[ "$sent" -lt 170 ] && [ "$fails" -ge 1 ] && [ "$sent" -eq "$(jq .overall.sent "$W/ab.json")" ] ||
  fail "abort: nginx saw $sent requests ($fails failed), report says $(jq .overall.sent "$W/ab.json") of 181"
pass "--abort-if fires when the target starts failing: sending stops ($sent of 181 sent), exit 3, the report names the trigger"
: >"$LOG"
"$TIDE" replay "$W/t.tide" --target "$T" --speed 10 --no-progress --abort-if 'p99>5s for 2s' >/dev/null 2>&1 || fail "a trigger that does not hold stopped the run"
sleep 0.3
[ "$(wc -l <"$LOG")" -eq 181 ] || fail "without the trigger holding: $(wc -l <"$LOG") of 181 sent"
"$TIDE" replay "$W/t.tide" --target "$T" --abort-if 'route=GET /x:p99>1s' >/dev/null 2>"$W/bad"
[ $? -eq 2 ] && grep -q "triggers watch the whole run" "$W/bad" || fail "scoped trigger: $(cat "$W/bad")"
pass "a trigger that never holds lets the run finish; a scoped trigger is refused"

# --metrics-addr: scraped twice while a 9 s run goes on
"$TIDE" replay "$W/t.tide" --target "$T" --speed 10 --no-progress --metrics-addr 127.0.0.1:0 \
  --profile 'first=1x/4s,second=2x/5s' --report-json "$W/m.json" >/dev/null 2>"$W/m.err" &
RP=$!
for _ in $(seq 50); do grep -q "metrics on" "$W/m.err" && break; sleep 0.1; done
MURL=$(sed -n 's#.*metrics on \(http://[^ ]*\).*#\1#p' "$W/m.err")
[ -n "$MURL" ] || { kill "$RP"; fail "no metrics address: $(cat "$W/m.err")"; }
sleep 2
curl -sf "$MURL" >"$W/m1.txt" || fail "scrape 1"
sleep 4
curl -sf "$MURL" >"$W/m2.txt" || fail "scrape 2"
[ "$(curl -s -o /dev/null -w '%{http_code}' "${MURL%/metrics}/other")" = 404 ] || fail "a path other than /metrics"
wait "$RP" || fail "the run with metrics failed"
Q='tide_requests_total{scope="all",phase="sent"} tide_requests_total{stage="first",phase="sent"} tide_requests_total{stage="second",phase="sent"} tide_latency_seconds_count tide_responses_total{scope="all",status_class="2xx"}'
python3 tests/integration/check_prom.py "$W/m1.txt" $Q >"$W/v1" 2>&1 || fail "scrape 1 is not valid exposition: $(tail -3 "$W/v1")"
python3 tests/integration/check_prom.py "$W/m2.txt" $Q >"$W/v2" 2>&1 || fail "scrape 2 is not valid exposition: $(tail -3 "$W/v2")"
s1=$(awk 'NR == 1 {print $2}' "$W/v1"); s2=$(awk 'NR == 1 {print $2}' "$W/v2")
second2=$(awk 'NR == 3 {print $2}' "$W/v2"); total=$(jq .overall.sent "$W/m.json")
grep -q missing "$W/v2" && fail "series missing: $(cat "$W/v2")"
awk -v a="$s1" -v b="$s2" -v c="$second2" -v t="$total" 'BEGIN { exit !(a > 0 && b > a && c > 0 && b <= t) }' ||
  fail "sent: scrape 1 $s1, scrape 2 $s2 (stage second $second2), run total $total"
grep -q 'tide_route_latency_seconds_bucket{route="GET /p/{id}",le="0.1"}' "$W/m2.txt" || fail "no route histogram"
pass "--metrics-addr serves valid Prometheus text while running: sent grows ($s1 -> $s2 of $total), by stage, route, status class; histograms"

"$TIDE" replay "$W/t.tide" --target "$T" --profile '{"stages":[{"name":"x","duration":"1s"}]}' >/dev/null 2>"$W/bad"
[ $? -eq 2 ] && grep -q "stage 1: needs exactly one of multiplier or rate" "$W/bad" || fail "bad profile: $(cat "$W/bad")"
"$TIDE" replay "$W/t.tide" --target "$T" --profile 'a=3y/1s' >/dev/null 2>"$W/bad"
[ $? -eq 2 ] && grep -q "stage 1: volume takes x" "$W/bad" || fail "bad inline profile: $(cat "$W/bad")"
"$TIDE" replay "$W/t.tide" --target "$T" --profile 'a=1x/1s' --multiplier 3 >/dev/null 2>"$W/bad"
[ $? -eq 2 ] && grep -q "drop --multiplier" "$W/bad" || fail "--multiplier with --profile: $(cat "$W/bad")"
pass "a bad profile is refused (exit 2) naming the stage and the field"
finish
