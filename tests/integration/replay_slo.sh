#!/usr/bin/env bash
# SLOs and merged reports, against tide mock answering after a fixed latency:
# an objective above the latency passes, one below fails (exit 1); scoped
# objectives; two shards' reports merged by `tide report` equal one unsharded
# run (requests per route, histogram totals), and SLOs evaluate on the merge.
set -u
TIDE=${1:?usage: replay_slo.sh TIDE}
. "$(dirname "$0")/lib.sh"
need jq
W=$(mktemp -d)
MOCK_PID=""
trap '[ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null; rm -rf "$W"' EXIT
"$TIDE" keygen -o "$W/key" 2>/dev/null
"$TIDE" capture log --key-file "$W/key" examples/access.log -o "$W/t.tide" 2>/dev/null || fail "capture"
"$TIDE" mock "$W/t.tide" --listen 127.0.0.1:0 --latency 30ms 2>"$W/mock.err" &
MOCK_PID=$!
for _ in $(seq 50); do grep -q "listening on port" "$W/mock.err" && break; sleep 0.1; done
T="http://127.0.0.1:$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$W/mock.err")"
R() { "$TIDE" replay "$W/t.tide" --target "$T" --to +2m --speed 30 --no-progress --expect-status 401 "$@"; }

R --slo 'p95<=500ms' --slo 'error_rate<=1%' --slo 'availability>=99.9%' --slo 'class=googlebot:p99<=1s' >"$W/pass.txt" 2>/dev/null
rc=$?
[ $rc -eq 0 ] && grep -q "PASS: 4 of 4 objectives met" "$W/pass.txt" || fail "objectives above a 30 ms latency: exit $rc $(tail -6 "$W/pass.txt")"
pass "objectives above the measured latency pass (exit 0)"
R --slo 'p50<=10ms' --slo 'route=GET /login:p95<=5ms' --slo 'route=GET /nope:p95<=5ms' >"$W/fail.txt" 2>/dev/null
rc=$?
[ $rc -eq 1 ] && grep -q "FAIL: 0 of 3 objectives met" "$W/fail.txt" && grep -q "no such route" "$W/fail.txt" ||
  fail "objectives below a 30 ms latency: exit $rc $(tail -6 "$W/fail.txt")"
pass "objectives below it fail (exit 1), scoped by route; an unknown route fails, said so"

P='one=1x/2s,two=2x/2s'
R --profile "$P" --report-json "$W/all.json" >/dev/null 2>&1 || fail "unsharded run"
R --profile "$P" --shard 0/2 --report-json "$W/s0.json" >/dev/null 2>&1 || fail "shard 0"
R --profile "$P" --shard 1/2 --report-json "$W/s1.json" >/dev/null 2>&1 || fail "shard 1"
"$TIDE" report "$W/s0.json" "$W/s1.json" --report-json "$W/merged.json" --slo 'p95<=500ms' >"$W/m.txt" 2>&1 || fail "report: $(cat "$W/m.txt")"
for q in '.overall.sent' '.overall.completed' '.overall.latency_from_due.count' '[.routes[] | .sent] | add' '.routes | keys | length'; do
  a=$(jq "$q" "$W/all.json"); b=$(jq "$q" "$W/merged.json")
  [ "$a" = "$b" ] || fail "merged $q = $b, unsharded $a"
done
[ "$(jq -S '[.routes | to_entries[] | {(.key): .value.sent}] | add' "$W/all.json")" = "$(jq -S '[.routes | to_entries[] | {(.key): .value.sent}] | add' "$W/merged.json")" ] || fail "requests per route differ"
[ "$(jq -c '[.stages[] | [.name, .sent, .latency_from_due.count]]' "$W/all.json")" = "$(jq -c '[.stages[] | [.name, .sent, .latency_from_due.count]]' "$W/merged.json")" ] &&
  [ "$(jq '.stages | length' "$W/merged.json")" -eq 2 ] || fail "requests per stage differ: $(jq -c '[.stages[] | .sent]' "$W/all.json") vs $(jq -c '[.stages[] | .sent]' "$W/merged.json")"
[ "$(jq -c '.timeline.sent | add' "$W/all.json")" = "$(jq -c '.timeline.sent | add' "$W/merged.json")" ] || fail "timelines differ"
[ "$(jq '.overall.latency_from_due.count' "$W/s0.json")" -gt 0 ] && [ "$(jq '.overall.latency_from_due.count' "$W/s1.json")" -gt 0 ] || fail "a shard was empty"
grep -q "PASS: 3 of 3 objectives met" "$W/m.txt" || fail "SLO on the merge (overall and per stage): $(tail -5 "$W/m.txt")"
pass "two shards merged by tide report equal one unsharded run (per route, per stage, histogram totals, timeline); SLOs evaluate on the merge"
# the load machine falling behind its schedule is said (the lag histogram
# of a real run, moved to about 1 s), and not when it kept up
grep -q "fell behind its schedule" "$W/m.txt" && fail "a run that kept up said to have fallen behind"
jq '.lag.histogram.buckets = [[954, .lag.histogram.count]] | .lag.histogram.max = 1000000' "$W/all.json" >"$W/lag.json"
"$TIDE" report "$W/lag.json" >"$W/lag.txt" 2>&1 || fail "report of a lagging run: $(cat "$W/lag.txt")"
grep -q "tide fell behind its schedule (p99 lag over 50 ms): the load machine held requests back" "$W/lag.txt" ||
  fail "lag not said: $(grep lag "$W/lag.txt")"
pass "a run whose load machine fell behind its schedule says so; one that kept up does not"
echo '{"not":"a report"}' >"$W/bad.json"
"$TIDE" report "$W/bad.json" >/dev/null 2>"$W/err"
[ $? -eq 2 ] && grep -q "not a tide replay report" "$W/err" || fail "bad report accepted"
pass "a file that is not a report is refused (exit 2)"
finish
