#!/usr/bin/env bash
# A real HAProxy on 127.0.0.1 in front of a real nginx, logging its HTTP log
# (option httplog) to stdout with two captured request headers; curl sends a
# known set of requests; `tide capture log` reads HAProxy's own log, guessed
# and with the captured headers named (haproxy:Host,User-Agent), and every
# record is checked against what was sent: count, method, path, query,
# status, host and user agent from the captures, start time within the
# request's window, the slow route's duration.
set -u
TIDE=${1:?usage: capture_haproxy.sh TIDE}
. "$(dirname "$0")/lib.sh"
need nginx
need haproxy
need curl
need jq

W=$(mktemp -d)
HAPROXY_PID=""
haproxy_stop() {
  if [ -n "$HAPROXY_PID" ]; then kill "$HAPROXY_PID" 2>/dev/null; wait "$HAPROXY_PID" 2>/dev/null; fi
  HAPROXY_PID=""
}
trap 'haproxy_stop; nginx_stop; rm -rf "$W"' EXIT

mkdir -p "$W/html"
echo "hello" >"$W/html/index.html"
head -c 30000 /dev/zero >"$W/html/slow.bin"
chmod -R a+rX "$W"
nginx_start "$W" '$remote_addr [$time_local] "$request" $status' 'location /api/ { return 201 "created\n"; }
    location = /slow.bin { limit_rate 20k; }' ||
  skip "nginx did not start: $(tail -3 "$W/logs/start.err" "$W/logs/error.log" 2>/dev/null)"

started=""
for try in 1 2 3 4 5; do
  port=$((20000 + (RANDOM % 20000)))
  cat >"$W/haproxy.cfg" <<CFG
global
  log stdout format raw local0
defaults
  mode http
  log global
  option httplog
  timeout connect 5s
  timeout client 10s
  timeout server 10s
frontend fe
  bind 127.0.0.1:$port
  capture request header Host len 64
  capture request header User-Agent len 128
  default_backend be
backend be
  server web1 127.0.0.1:$NGINX_PORT
CFG
  haproxy -db -f "$W/haproxy.cfg" >"$W/haproxy.log" 2>"$W/haproxy.err" &
  HAPROXY_PID=$!
  wait_http "http://127.0.0.1:$port/__probe" "$HAPROXY_PID" && started=1 && break
  haproxy_stop
done
[ -n "$started" ] || skip "haproxy did not start: $(tail -3 "$W/haproxy.err")"
B="http://127.0.0.1:$port"

now() { date +%s%N; }
# method path query status user-agent extra-curl-args...
send() {
  local m=$1 path=$2 q=$3 want=$4 ua=$5; shift 5
  local url="$B$path"; [ -n "$q" ] && url="$url?$q"
  local t0 t1 code
  t0=$(now)
  code=$(curl -s -o /dev/null -w '%{http_code}' -X "$m" -A "$ua" -H "Host: essays.example.org" "$@" "$url")
  t1=$(now)
  [ "$code" = "$want" ] || fail "curl $m $path got $code, want $want"
  echo "$m $path ${q:--} $want $t0 $t1 $ua" >>"$W/sent"
}
send GET /index.html "x=1&y=two" 200 "tide-test/1 (a|b {c})"
send GET /missing "" 404 "tide-test/2"
send POST /api/essays "" 201 "tide-test/3" -H 'Content-Type: application/json' --data '{"text":"my essay"}'
send GET /slow.bin "" 200 "tide-test/4"
send DELETE /api/items/7 "a=%20b" 201 "tide-test/5"
n_sent=$(wc -l <"$W/sent")

# HAProxy writes its line when a request ends; then stop it (by PID) so the log is whole
sleep 0.3
haproxy_stop
grep -v __probe "$W/haproxy.log" >"$W/access.log"
[ "$(wc -l <"$W/access.log")" -eq "$n_sent" ] || fail "haproxy logged $(wc -l <"$W/access.log") request lines: $(cat "$W/haproxy.log")"

"$TIDE" capture log --raw "$W/access.log" -o "$W/g.tide" 2>"$W/err" || fail "guessed capture: $(cat "$W/err")"
grep -q "format haproxy (guessed" "$W/err" || fail "not guessed as haproxy: $(cat "$W/err")"
[ "$("$TIDE" cat --allow-raw "$W/g.tide" | jq -s 'map(.headers | length) | add')" = 0 ] ||
  fail "captured headers kept without names"
pass "HAProxy's log is guessed; its captured headers, logged without names, are not kept"

"$TIDE" capture log --raw --format haproxy:Host,User-Agent "$W/access.log" -o "$W/t.tide" 2>"$W/err" ||
  fail "capture failed: $(cat "$W/err")"
grep -q "$n_sent records written" "$W/err" || fail "summary: $(cat "$W/err")"
"$TIDE" cat --allow-raw "$W/t.tide" >"$W/t.jsonl"
[ "$(wc -l <"$W/t.jsonl")" -eq "$n_sent" ] || fail "trace has $(wc -l <"$W/t.jsonl") records, want $n_sent"
pass "every request HAProxy logged became exactly one record"

i=0
while read -r m path q want t0 t1 ua; do
  i=$((i + 1)); [ "$q" = - ] && q=""
  rec=$(jq -c --arg m "$m" --arg p "$path" 'select(.method == $m and .path == $p)' "$W/t.jsonl")
  [ "$(echo "$rec" | grep -c .)" -eq 1 ] || fail "request $i ($m $path): $(echo "$rec" | grep -c .) records"
  [ "$(echo "$rec" | jq -r .query)" = "$q" ] || fail "request $i: query $(echo "$rec" | jq -r .query), want $q"
  [ "$(echo "$rec" | jq -r .status)" = "$want" ] || fail "request $i: status"
  [ "$(echo "$rec" | jq -r .client)" = "127.0.0.1" ] || fail "request $i: client"
  [ "$(echo "$rec" | jq -r .host)" = "essays.example.org" ] || fail "request $i: host $(echo "$rec" | jq -r .host)"
  [ "$(echo "$rec" | jq -r '.headers | map(select(.[0] == "User-Agent")) | .[0][1]')" = "$ua" ] ||
    fail "request $i: user agent $(echo "$rec" | jq -c .headers)"
  # HAProxy's date is the request's start, in ms (local time: this machine's zone)
  ts=$(echo "$rec" | jq -r .ts)
  start_ns=$(date -d "${ts%Z}Z" +%s%N)
  off=$(( $(date +%z | sed -E 's/^([+-])0?([0-9]+)([0-9]{2})$/\1(\2*3600+\3*60)/') ))
  start_ns=$((start_ns - off * 1000000000))
  [ "$start_ns" -ge $((t0 - 2000000)) ] && [ "$start_ns" -le $((t1 + 2000000)) ] ||
    fail "request $i: start $ts outside [$t0, $t1]"
done <"$W/sent"
pass "method, path, query, status, client, captured Host and User-Agent (with | and { } in it), start time match what was sent"

awk -v d="$(jq -r 'select(.path == "/slow.bin") | .duration_ms' "$W/t.jsonl")" 'BEGIN { exit !(d >= 500) }' ||
  fail "slow request duration $(jq -r 'select(.path == "/slow.bin") | .duration_ms' "$W/t.jsonl") ms"
pass "the slow route's duration is HAProxy's Ta"

finish
