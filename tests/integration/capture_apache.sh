#!/usr/bin/env bash
# A real Apache httpd on 127.0.0.1 writing two access logs: the combined
# format with %D after it, and one with %{msec}t. Apache's times are when a
# request was received, so tide must not take %D off them. curl sends a known
# set of requests (one slow, rate-limited route); `tide capture log` reads
# Apache's own logs and every record is checked against what was sent: count,
# method, path, query, status, bytes, user agent, start time within the
# request's window (to the second from %t, to the ms from %{msec}t), duration.
set -u
TIDE=${1:?usage: capture_apache.sh TIDE}
. "$(dirname "$0")/lib.sh"
need apache2
need curl
need jq
apache_modules mpm_prefork authz_core alias ratelimit env

W=$(mktemp -d)
trap 'apache_stop; rm -rf "$W"' EXIT

mkdir -p "$W/html/api" "$W/logs"
echo "hello" >"$W/html/index.html"
echo "created" >"$W/html/api/essays"
head -c 30000 /dev/zero >"$W/html/slow.bin"
chmod -R a+rX "$W"
F1='%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\" %D'
F2='%h %{msec}t \"%r\" %>s %b %D'
F3='%h [%{%d/%b/%Y %T}t.%{msec_frac}t %{%z}t] \"%r\" %>s %b %D'
apache_conf() {
  cat <<CFG
ErrorLog "$W/logs/error.log"
LogFormat "$F1" combined_d
LogFormat "$F2" msec_d
LogFormat "$F3" strf_d
CustomLog "$W/logs/access.log" combined_d
CustomLog "$W/logs/msec.log" msec_d
CustomLog "$W/logs/strf.log" strf_d
Redirect 301 /old /index.html
<Location "/slow.bin">
  SetOutputFilter RATE_LIMIT
  SetEnv rate-limit 20
</Location>
CFG
}
apache_start "$W" http "" mpm_prefork authz_core alias ratelimit env ||
  skip "apache did not start: $(tail -3 "$W/logs/start.out" "$W/logs/error.log" 2>/dev/null)"
B="http://127.0.0.1:$APACHE_PORT"

now() { date +%s%N; }
# method path query status extra-curl-args...
send() {
  local m=$1 path=$2 q=$3 want=$4; shift 4
  local url="$B$path"; [ -n "$q" ] && url="$url?$q"
  local t0 t1 code
  t0=$(now)
  code=$(curl -s -o /dev/null -w '%{http_code}' -X "$m" -A "tide-test $path" "$@" "$url")
  t1=$(now)
  [ "$code" = "$want" ] || fail "curl $m $path got $code, want $want"
  echo "$m $path ${q:--} $want $t0 $t1" >>"$W/sent"
}
send GET /index.html "x=1&y=two" 200
send GET /missing "" 404
send GET /api/essays "" 200
send HEAD /index.html "" 200
send GET /slow.bin "" 200
send GET /old "" 301
n_sent=$(wc -l <"$W/sent")
sleep 0.3
apache_stop
for l in access msec strf; do
  grep -v __probe "$W/logs/$l.log" >"$W/$l.log"
  [ "$(wc -l <"$W/$l.log")" -eq "$n_sent" ] || fail "apache logged $(wc -l <"$W/$l.log") lines in $l.log"
done

"$TIDE" capture log --raw --format "apache:${F1//\\/}" "$W/access.log" -o "$W/a.tide" 2>"$W/err" ||
  fail "capture (combined + %D): $(cat "$W/err")"
"$TIDE" capture log --raw --format "apache:${F2//\\/}" "$W/msec.log" -o "$W/m.tide" 2>"$W/err" ||
  fail "capture (%{msec}t): $(cat "$W/err")"
"$TIDE" capture log --raw --format "apache:${F3//\\/}" "$W/strf.log" -o "$W/s.tide" 2>"$W/err" ||
  fail "capture (%{strftime}t): $(cat "$W/err")"
"$TIDE" cat --allow-raw "$W/s.tide" >"$W/s.jsonl"
"$TIDE" cat --allow-raw "$W/a.tide" >"$W/a.jsonl"
"$TIDE" cat --allow-raw "$W/m.tide" >"$W/m.jsonl"
[ "$(wc -l <"$W/a.jsonl")" -eq "$n_sent" ] && [ "$(wc -l <"$W/m.jsonl")" -eq "$n_sent" ] && [ "$(wc -l <"$W/s.jsonl")" -eq "$n_sent" ] ||
  fail "records: $(wc -l <"$W/a.jsonl") and $(wc -l <"$W/m.jsonl"), want $n_sent"
pass "every request Apache logged became exactly one record, in all three logs"

# the same logs read with their formats taken from Apache's own configuration
for t in access:a msec:m strf:s; do
  "$TIDE" capture log --raw --apache-conf "$W/httpd.conf" "$W/${t%%:*}.log" -o "$W/c.tide" 2>"$W/err" ||
    fail "--apache-conf capture failed: $(cat "$W/err")"
  grep -q "format apache:.* (from $W/httpd.conf)" "$W/err" || fail "--apache-conf: $(cat "$W/err")"
  "$TIDE" cat --allow-raw "$W/c.tide" | cmp -s - "$W/${t#*:}.jsonl" || fail "--apache-conf gives other records than --format (${t%%:*}.log)"
done
pass "--apache-conf finds each CustomLog's LogFormat in Apache's own configuration"

# a glob of Apache's log directory takes its error log in too: said and left out
[ -s "$W/logs/error.log" ] || fail "Apache wrote no error log"
"$TIDE" capture log --raw --apache-conf "$W/httpd.conf" "$W/logs/error.log" "$W/access.log" -o "$W/e.tide" 2>"$W/err" ||
  fail "error log among the inputs: $(cat "$W/err")"
grep -q "error.log: Apache's error log, not an access log: left out" "$W/err" || fail "error log not said: $(cat "$W/err"; head -2 "$W/logs/error.log")"
"$TIDE" cat --allow-raw "$W/e.tide" | cmp -s - "$W/a.jsonl" || fail "with the error log left out: other records"
pass "Apache's error log given with its access log is said and left out"

i=0
while read -r m path q want t0 t1; do
  i=$((i + 1)); [ "$q" = - ] && q=""
  for t in a m s; do
    rec=$(jq -c --arg m "$m" --arg p "$path" 'select(.method == $m and .path == $p)' "$W/$t.jsonl")
    [ "$(echo "$rec" | grep -c .)" -eq 1 ] || fail "$t: request $i ($m $path): $(echo "$rec" | grep -c .) records"
    [ "$(echo "$rec" | jq -r .query)" = "$q" ] || fail "$t: request $i: query"
    [ "$(echo "$rec" | jq -r .status)" = "$want" ] || fail "$t: request $i: status"
    [ "$(echo "$rec" | jq -r .client)" = "127.0.0.1" ] || fail "$t: request $i: client"
    start_ns=$(date -d "$(echo "$rec" | jq -r .ts)" +%s%N)
    # %t is whole seconds: the start lies in the second of t0 .. t1; %{msec}t to the ms
    if [ "$t" = a ]; then lo=$((t0 / 1000000000 * 1000000000)); else lo=$((t0 - 2000000)); fi
    [ "$start_ns" -ge "$lo" ] && [ "$start_ns" -le $((t1 + 2000000)) ] ||
      fail "$t: request $i ($path): start $(echo "$rec" | jq -r .ts) outside [$t0, $t1]"
  done
  [ "$(jq -r --arg p "$path" --arg m "$m" 'select(.method == $m and .path == $p) | .headers | map(select(.[0] == "User-Agent")) | .[0][1]' "$W/a.jsonl")" = "tide-test $path" ] ||
    fail "request $i: user agent"
done <"$W/sent"
pass "method, path, query, status, client, user agent and start time (%t, %{msec}t and %{%d/%b/%Y %T}t.%{msec_frac}t are the start) match what was sent"

for t in a m s; do
  d=$(jq -r 'select(.path == "/slow.bin") | .duration_ms' "$W/$t.jsonl")
  awk -v d="$d" 'BEGIN { exit !(d >= 500) }' || fail "$t: slow request duration $d ms"
  [ "$(jq -r 'select(.path == "/slow.bin") | .resp_bytes' "$W/$t.jsonl")" -eq 30000 ] || fail "$t: slow.bin bytes"
done
pass "the slow route's duration (%D) and bytes come from Apache's own log"

finish
