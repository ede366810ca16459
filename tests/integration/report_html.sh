#!/usr/bin/env bash
# The HTML report, rendered in a real headless Chromium: a replay with a
# three-stage profile and SLOs against tide mock writes --report-html; the
# page is self-contained (no script, no external reference), Chromium renders
# its charts (SVG in the DOM) with no console messages, and a screenshot is
# kept as a test artifact. `tide report` writes the same page for merged
# shard reports. The console check is itself checked on a page that logs.
set -u
TIDE=${1:?usage: report_html.sh TIDE}
. "$(dirname "$0")/lib.sh"
need jq
CHROME=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$CHROME" ] || skip "chromium is not installed"
W=$(mktemp -d)
MOCK_PID=""
trap '[ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null; rm -rf "$W"' EXIT
ART=${TIDE_ARTIFACTS:-$(pwd)/build/test-artifacts}
mkdir -p "$ART"
chrome() { # chrome OUTFILE ARGS... : stdout to OUTFILE, log to OUTFILE.log
  local out=$1
  shift
  timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --no-first-run --hide-scrollbars \
    --user-data-dir="$W/profile" --enable-logging=stderr --v=0 "$@" >"$out" 2>"$out.log"
}

"$TIDE" keygen -o "$W/key" 2>/dev/null
"$TIDE" capture log --key-file "$W/key" examples/access.log -o "$W/t.tide" 2>/dev/null || fail "capture"
"$TIDE" mock "$W/t.tide" --listen 127.0.0.1:0 --latency 20ms --stall-every 40 2>"$W/mock.err" &
MOCK_PID=$!
for _ in $(seq 50); do grep -q "listening on port" "$W/mock.err" && break; sleep 0.1; done
T="http://127.0.0.1:$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$W/mock.err")"
R() { "$TIDE" replay "$W/t.tide" --target "$T" --speed 30 --no-progress --expect-status 401 --timeout 2s \
  --profile 'warm=1x/2s/warmup,base=1x/3s,peak=3x/3s' --slo 'p50<=200ms' --slo 'p99<=100ms' "$@"; }
R --report-html "$W/r.html" --report-json "$W/r.json" >/dev/null 2>"$W/err"
[ $? -eq 1 ] || fail "replay with a missed SLO: $(cat "$W/err")"
[ -s "$W/r.html" ] || fail "no HTML report"
grep -Eiq '<script|src=|href=|url\(|@import' "$W/r.html" && fail "the page loads or runs something: $(grep -Eio '<script|src=[^ ]*|href=[^ ]*|url\([^)]*|@import' "$W/r.html" | head -3)"
pass "--report-html writes one self-contained page (no script, no external reference)"

# the harness sees console messages: a page that logs one must be caught
printf '<!DOCTYPE html><html><body><script>console.error("tide-console-check")</script></body></html>' >"$W/control.html"
chrome "$W/control.dom" --dump-dom "file://$W/control.html"
grep -q 'CONSOLE.*tide-console-check' "$W/control.dom.log" || skip "this chromium does not log console messages to stderr"

chrome "$W/r.dom" --dump-dom "file://$W/r.html" || fail "chromium failed on the report: $(tail -3 "$W/r.dom.log")"
grep -q 'CONSOLE' "$W/r.dom.log" && fail "console messages: $(grep CONSOLE "$W/r.dom.log" | head -3)"
charts=$(grep -o '<svg class="chart"' "$W/r.dom" | wc -l)
lines=$(grep -o '<polyline' "$W/r.dom" | wc -l)
dots=$(grep -o '<circle' "$W/r.dom" | wc -l)
[ "$charts" -ge 4 ] && [ "$lines" -ge 8 ] && [ "$dots" -ge 6 ] || fail "rendered DOM: $charts charts, $lines lines, $dots points"
for want in 'SLO verdicts' 'p99&lt;=100ms in stage peak' 'FAIL</b>' 'warm (warm-up)' 'Request rate' 'Latency from due time' \
  'Errors' 'Latency against achieved rate' 'Traffic classes' 'Route families' 'GET /login'; do
  grep -q "$want" "$W/r.dom" || fail "the rendered page lacks '$want'"
done
chrome "$W/shot.out" --window-size=1000,2600 --screenshot="$ART/report.png" "file://$W/r.html"
[ "$(head -c 8 "$ART/report.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] && [ "$(stat -c %s "$ART/report.png")" -gt 20000 ] ||
  fail "no screenshot"
pass "Chromium renders the report: $charts charts, $lines lines, $dots stage points, verdicts, stages, classes, routes; no console messages (screenshot $ART/report.png)"

# merged shards: the same page from tide report
R --shard 0/2 --report-json "$W/s0.json" >/dev/null 2>&1
R --shard 1/2 --report-json "$W/s1.json" >/dev/null 2>&1
"$TIDE" report "$W/s0.json" "$W/s1.json" --slo 'p50<=200ms' --report-html "$W/m.html" >/dev/null 2>&1
[ -s "$W/m.html" ] || fail "tide report --report-html wrote nothing"
chrome "$W/m.dom" --dump-dom "file://$W/m.html"
grep -q 'CONSOLE' "$W/m.dom.log" && fail "console messages on the merged page"
[ "$(grep -o '<svg class="chart"' "$W/m.dom" | wc -l)" -ge 4 ] && grep -q "PASS</b>: 3 of 3" "$W/m.dom" ||
  fail "merged page: $(grep -o '<svg class="chart"' "$W/m.dom" | wc -l) charts; $(grep -o '<b>[A-Z]*</b>: [0-9]* of [0-9]*' "$W/m.dom")"
[ "$(jq '[.timeline.sent[]] | add' "$W/s0.json")" -gt 0 ] || fail "a shard's timeline is empty"
pass "tide report --report-html renders merged shard reports (timelines add), verdicts on the merge"
finish
