#!/usr/bin/env bash
# A real nginx on 127.0.0.1 with a log_format holding $msec and $request_time;
# curl sends a known set of requests; `tide capture log` reads nginx's own log;
# every record is checked against what was sent: count, method, path, query,
# status, bytes, header, and start time within the request's window.
set -u
TIDE=${1:?usage: capture_nginx.sh TIDE}
. "$(dirname "$0")/lib.sh"
need nginx
need curl
need jq

W=$(mktemp -d)
trap 'nginx_stop; rm -rf "$W"' EXIT

mkdir -p "$W/html"
echo "hello" >"$W/html/index.html"
head -c 40000 /dev/zero >"$W/html/slow.bin"
chmod -R a+rX "$W"
FMT='$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $msec $request_time "$http_x_test"'
nginx_start "$W" "$FMT" 'location /api/ { return 201 "created\n"; }
    location = /old { return 301 /index.html; }
    location = /slow.bin { limit_rate 20k; }' ||
  skip "nginx did not start: $(tail -3 "$W/logs/start.err" "$W/logs/error.log" 2>/dev/null)"
B="http://127.0.0.1:$NGINX_PORT"
probes=0

now() { date +%s%N; }
# method path query status extra-curl-args...
send() {
  local m=$1 path=$2 q=$3 want=$4; shift 4
  local url="$B$path"; [ -n "$q" ] && url="$url?$q"
  local t0 t1 code
  t0=$(now)
  if [ "$m" = HEAD ]; then
    code=$(curl -s -o /dev/null -w '%{http_code}' -I "$@" "$url")
  else
    code=$(curl -s -o /dev/null -w '%{http_code}' -X "$m" "$@" "$url")
  fi
  t1=$(now)
  [ "$code" = "$want" ] || fail "curl $m $path got $code, want $want"
  echo "$m $path ${q:--} $want $t0 $t1" >>"$W/sent"
}

send GET /index.html "x=1&y=two" 200
send GET /missing "" 404
send POST /api/essays "" 201 -H 'Content-Type: application/json' --data '{"text":"my essay"}'
send HEAD /index.html "" 200
send GET /slow.bin "" 200
send GET /index.html "" 200 -H 'X-Test: marker-42'
send DELETE /api/items/7 "a=%20b" 201
send GET /old "" 301
n_sent=$(wc -l <"$W/sent")

# nginx writes its log line when a request ends; give it a moment, then check
sleep 0.3
[ "$(wc -l <"$W/logs/access.log")" -eq $((probes + n_sent)) ] || fail "nginx logged $(wc -l <"$W/logs/access.log") lines"
tail -n "$n_sent" "$W/logs/access.log" >"$W/access.log"

"$TIDE" capture log --raw --format "nginx:$FMT" "$W/access.log" -o "$W/t.tide" 2>"$W/err" || fail "capture failed: $(cat "$W/err")"
grep -q "$n_sent records written" "$W/err" || fail "summary: $(cat "$W/err")"
"$TIDE" cat --allow-raw "$W/t.tide" >"$W/t.jsonl"
[ "$(wc -l <"$W/t.jsonl")" -eq "$n_sent" ] || fail "trace has $(wc -l <"$W/t.jsonl") records, want $n_sent"
pass "every request nginx logged became exactly one record"

# the same log read with the format taken from nginx's own configuration
"$TIDE" capture log --raw --nginx-conf "$W/nginx.conf" "$W/access.log" -o "$W/c.tide" 2>"$W/err" ||
  fail "--nginx-conf capture failed: $(cat "$W/err")"
grep -q "format nginx:.* (from $W/nginx.conf)" "$W/err" || fail "--nginx-conf: $(cat "$W/err")"
"$TIDE" cat --allow-raw "$W/c.tide" | cmp -s - "$W/t.jsonl" || fail "--nginx-conf gives other records than --format"
pass "--nginx-conf finds the log_format of the access_log in nginx's own configuration"

# a glob of nginx's log directory takes its error log in too: said and left out
grep -q '\[error\]' "$W/logs/error.log" || fail "nginx logged no error (the 404 should be one)"
"$TIDE" capture log --raw --nginx-conf "$W/nginx.conf" "$W/logs/error.log" "$W/access.log" -o "$W/e.tide" 2>"$W/err" ||
  fail "error log among the inputs: $(cat "$W/err")"
grep -q "error.log: nginx's error log, not an access log: left out" "$W/err" || fail "error log not said: $(cat "$W/err")"
"$TIDE" cat --allow-raw "$W/e.tide" | cmp -s - "$W/t.jsonl" || fail "with the error log left out: other records"
"$TIDE" capture log --raw "$W/logs/error.log" -o "$W/e1.tide" 2>"$W/err"
[ $? -eq 2 ] && grep -q "nginx's error log, not an access log" "$W/err" || fail "error log alone: $(cat "$W/err")"
pass "nginx's error log given with its access log is said and left out; alone, refused as what it is"

# match records to sent requests by method+path (unique in this set)
i=0
while read -r m path q want t0 t1; do
  i=$((i + 1)); [ "$q" = - ] && q=""
  rec=$(jq -c --arg m "$m" --arg p "$path" --arg q "$q" 'select(.method == $m and .path == $p and .query == $q)' "$W/t.jsonl")
  [ "$(echo "$rec" | grep -c .)" -eq 1 ] || fail "request $i ($m $path): $(echo "$rec" | grep -c .) records"
  [ "$(echo "$rec" | jq -r .query)" = "$q" ] || fail "request $i: query $(echo "$rec" | jq -r .query), want $q"
  [ "$(echo "$rec" | jq -r .status)" = "$want" ] || fail "request $i: status"
  [ "$(echo "$rec" | jq -r .version)" = "HTTP/1.1" ] || fail "request $i: version"
  [ "$(echo "$rec" | jq -r .client)" = "127.0.0.1" ] || fail "request $i: client"
  # start time (log time - request time, ms precision) lies within [t0, t1]
  ts=$(echo "$rec" | jq -r .ts)
  start_ns=$(date -d "${ts%Z}Z" +%s%N)
  [ "$start_ns" -ge $((t0 - 2000000)) ] && [ "$start_ns" -le $((t1 + 2000000)) ] ||
    fail "request $i: start $ts outside [$t0, $t1]"
done <"$W/sent"
pass "method, path, query, status, version, client and start time match what was sent"

slow=$(jq -c 'select(.path == "/slow.bin")' "$W/t.jsonl")
[ "$(echo "$slow" | jq -r .resp_bytes)" -eq 40000 ] || fail "slow.bin bytes"
awk -v d="$(echo "$slow" | jq -r .duration_ms)" 'BEGIN { exit !(d >= 500) }' || fail "slow request duration $(echo "$slow" | jq -r .duration_ms) ms"
[ "$(jq -r 'select(.path == "/missing") | .resp_bytes' "$W/t.jsonl")" -gt 0 ] || fail "404 bytes"
[ "$(jq -r 'select(.method == "HEAD") | .resp_bytes' "$W/t.jsonl")" -eq 0 ] || fail "HEAD bytes"
pass "response bytes and the slow route's duration come from nginx's own log"

[ "$(jq -r 'select(.headers | map(select(.[0] == "X-Test" and .[1] == "marker-42")) | length > 0) | .path' "$W/t.jsonl")" = "/index.html" ] || fail "X-Test header not captured"
[ "$(jq -r 'select(.method == "GET" and .path == "/index.html" and .query == "x=1&y=two") | .headers | map(select(.[0] == "User-Agent")) | .[0][1]' "$W/t.jsonl")" != "" ] || fail "User-Agent not captured"
pass "request headers named in the log format are captured"

# the trace is in start order, and a gzip'd and a zstd'd copy read the same
jq -r .ts "$W/t.jsonl" | sort -c || fail "records not in start order"
gzip -c "$W/access.log" >"$W/access.log.1.gz"
zstd -q -c "$W/access.log" >"$W/access.log.2.zst"
"$TIDE" capture log --raw --format "nginx:$FMT" "$W/access.log.1.gz" -o "$W/gz.tide" 2>/dev/null || fail "gz capture"
"$TIDE" capture log --raw --format "nginx:$FMT" "$W/access.log.2.zst" -o "$W/zst.tide" 2>/dev/null || fail "zst capture"
for t in gz zst; do
  "$TIDE" cat --allow-raw "$W/$t.tide" | jq -c 'del(.source)' >"$W/$t.jsonl"
done
jq -c 'del(.source)' "$W/t.jsonl" >"$W/plain.jsonl"
cmp -s "$W/plain.jsonl" "$W/gz.jsonl" && cmp -s "$W/plain.jsonl" "$W/zst.jsonl" || fail ".gz/.zst differ from plain"
pass "records are in start order; .gz and .zst inputs give the same records"

# $request_body: nginx logs the bodies it reads (here: proxied) with its
# escaping; tide takes them back as the records' bodies, byte for byte, and
# anonymizes them as bodies (a form from a log has no Content-Type: its
# password is dropped all the same)
nginx_stop
FMT2='$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$request_body"'
nginx_start "$W" "$FMT2" 'location /api/ { proxy_pass http://127.0.0.1:$server_port/echo; }
    location = /echo { access_log off; return 201 "created\n"; }' ||
  skip "nginx did not start: $(tail -3 "$W/logs/error.log" 2>/dev/null)"
B="http://127.0.0.1:$NGINX_PORT"
: >"$W/logs/access.log"
printf '%s' '{"name":"Maria Lopez","password":"hunter2","essay":"caf\u00e9 \"quoted\" \\ back"}' >"$W/b1"
printf '%s' 'user=maria.lopez&password=hunter2&remember=1' >"$W/b2"
curl -s -o /dev/null -H 'Content-Type: application/json' --data-binary @"$W/b1" "$B/api/essays" || fail "curl b1"
curl -s -o /dev/null --data-binary @"$W/b2" "$B/api/login" || fail "curl b2"
curl -s -o /dev/null "$B/api/empty" || fail "curl empty"
sleep 0.3
[ "$(grep -c ' /api/' "$W/logs/access.log")" -eq 3 ] || fail "nginx logged: $(cat "$W/logs/access.log")"
grep ' /api/' "$W/logs/access.log" >"$W/body.log"
"$TIDE" capture log --raw --format "nginx:$FMT2" "$W/body.log" -o "$W/b.tide" 2>"$W/err" || fail "capture: $(cat "$W/err")"
"$TIDE" cat --allow-raw "$W/b.tide" | jq -r 'select(.path == "/api/essays") | .body' | base64 -d >"$W/got1"
"$TIDE" cat --allow-raw "$W/b.tide" | jq -r 'select(.path == "/api/login") | .body' | base64 -d >"$W/got2"
cmp -s "$W/b1" "$W/got1" && cmp -s "$W/b2" "$W/got2" || fail "bodies differ: $(cat "$W/got1") / $(cat "$W/got2")"
[ "$("$TIDE" cat --allow-raw "$W/b.tide" | jq -r 'select(.path == "/api/empty") | has("body")')" = false ] || fail "'-' became a body"
"$TIDE" keygen -o "$W/k" 2>/dev/null
"$TIDE" capture log --key-file "$W/k" --format "nginx:$FMT2" "$W/body.log" -o "$W/ba.tide" 2>/dev/null || fail "anonymized capture"
"$TIDE" cat "$W/ba.tide" | jq -r '.body // empty' | base64 -d >"$W/abodies"
grep -q -e Maria -e hunter2 -e maria.lopez "$W/abodies" && fail "a logged body kept personal data: $(cat "$W/abodies")"
grep -q '"essay":"caf' "$W/abodies" && grep -q 'remember=1' "$W/abodies" || fail "anonymized bodies lost their structure: $(cat "$W/abodies")"
"$TIDE" audit "$W/ba.tide" >/dev/null || fail "audit: $("$TIDE" audit "$W/ba.tide" | grep FINDING)"
pass "\$request_body: logged bodies are captured byte for byte ('-' is none) and anonymized as bodies"

finish
