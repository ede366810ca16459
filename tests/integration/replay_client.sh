#!/usr/bin/env bash
# tide's own HTTP/1.1 client (the default for http://) against a real nginx,
# beside libcurl (--client curl) on the same trace, checked from nginx's log
# and the reports: the same requests arrive (request line, Host, body length);
# the same answers are counted: Content-Length bodies, chunked bodies (nginx's
# sub_filter answers chunked; decoded, they must count the file's size), HEAD
# answers without a body, 404s; and connections nginx closes after every
# third request (keepalive_requests 3) cost no errors.
set -u
TIDE=${1:?usage: replay_client.sh TIDE}
. "$(dirname "$0")/lib.sh"
need nginx
need jq
need python3
W=$(mktemp -d)
MOCK_PID=""
trap 'nginx_stop; [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$W"' EXIT

# 6 sessions x 12 requests over 20 s: each kind of answer twice per session
python3 - "$W" <<'PY'
import base64, json, sys
W = sys.argv[1]
kinds = [("GET", "/cl", 200), ("GET", "/big.txt", 200), ("GET", "/chunked/big.txt", 200),
         ("GET", "/missing", 404), ("HEAD", "/big.txt", 200), ("POST", "/cl", 200)]
with open(W + "/t.jsonl", "w") as f:
    for s in range(6):
        for k in range(12):
            m, p, st = kinds[k % 6]
            t = 1 + s * 3 + k * 0.13
            r = {"ts": "2026-11-20T10:00:%02d.%03d000000Z" % (int(t), int(t * 1000) % 1000),
                 "method": m, "scheme": "http", "host": "prod.example.edu", "path": p,
                 "query": "s=%d&k=%d" % (s, k), "version": "HTTP/1.1",
                 "headers": [["Host", "prod.example.edu"], ["User-Agent", "Mozilla/5.0"]],
                 "status": st, "resp_bytes": 10, "duration_ms": 5, "client": "198.51.100.%d" % (s + 1),
                 "session": "session-%d" % s, "source": "gen:%d:%d" % (s, k)}
            if m == "POST":
                r["body"] = "eyJ0ZXh0IjoiaGkifQ=="
            if m == "POST" and s == 0 and k == 5:  # more than a socket takes at once
                r["path"] = "/up"
                r["body"] = base64.b64encode(bytes(range(256)) * 12288).decode()
            f.write(json.dumps(r) + "\n")
PY
# raw: this test is about the client (anonymizing would drop the binary body)
"$TIDE" import --raw "$W/t.jsonl" -o "$W/t.tide" 2>/dev/null || fail "import"

chmod 755 "$W" && mkdir -p "$W/ngx/html" && chmod 755 "$W/ngx" "$W/ngx/html" # nginx's workers read the files
python3 -c "import sys; sys.stdout.write(''.join('line %06d: a quick brown fox\n' % i for i in range(12000)))" >"$W/ngx/html/big.txt"
SIZE=$(stat -c %s "$W/ngx/html/big.txt")
FMT='$msec "$request" $status $body_bytes_sent "$http_host" "$http_content_length" $connection $connection_requests $request_length'
# /up reads the whole body (proxied to a second server on a unix socket)
nginx_start "$W/ngx" "$FMT" "keepalive_requests 3; client_max_body_size 8m; client_body_buffer_size 8m;
    location = /cl { return 200 \"ok\\n\"; }
    location = /up { proxy_pass http://unix:$W/ngx/up.sock:/cl; }
    location /chunked/ { alias $W/ngx/html/; sub_filter 'a' 'b'; sub_filter_once off; sub_filter_types *; }
  }
  server {
    listen unix:$W/ngx/up.sock;
    client_max_body_size 8m; client_body_buffer_size 8m;
    location / { return 200 \"ok\\n\"; }" ||
  skip "nginx did not start: $(tail -3 "$W/ngx/logs/error.log" 2>/dev/null)"
T="http://127.0.0.1:$NGINX_PORT"
LOG="$W/ngx/logs/access.log"

for client in native curl; do
  : >"$LOG"
  "$TIDE" replay "$W/t.tide" --target "$T" --speed 10 --methods all --threads 2 --client "$client" --allow-raw \
    --no-progress --report-json "$W/$client.json" >/dev/null 2>"$W/$client.err" || fail "$client: $(cat "$W/$client.err")"
  sleep 0.3
  cp "$LOG" "$W/$client.log"
  [ "$(wc -l <"$LOG")" -eq 72 ] || fail "$client: nginx saw $(wc -l <"$LOG") requests, want 72"
  [ "$(jq -r .client "$W/$client.json")" = "$client" ] || fail "$client: the report says client $(jq -r .client "$W/$client.json")"
  [ "$(jq .overall.completed "$W/$client.json")" -eq 72 ] && [ "$(jq .overall.errors "$W/$client.json")" -eq 0 ] ||
    fail "$client: completed $(jq .overall.completed "$W/$client.json"), errors $(jq -c .errors_by_reason "$W/$client.json")"
  [ "$(jq '.overall.status["2xx"]' "$W/$client.json")" -eq 60 ] && [ "$(jq '.overall.status["4xx"]' "$W/$client.json")" -eq 12 ] ||
    fail "$client: statuses $(jq -c .overall.status "$W/$client.json")"
  # body bytes: nginx's count for plain answers, the file's size for each chunked one (decoded)
  want=$(awk -v size="$SIZE" '$3 ~ /^\/chunked\// { n += size; next } { n += $6 } END { print n }' "$LOG")
  got=$(jq .overall.bytes "$W/$client.json")
  [ "$got" = "$want" ] || fail "$client: counted $got body bytes, nginx sent $want"
  grep -q '"POST /up?s=0&k=5 .* "3145728" ' "$LOG" && [ "$(grep '"POST /up?s=0&k=5 ' "$LOG" | awk '{print $NF}')" -gt 3145728 ] ||
    fail "$client: the 3 MiB body did not arrive whole: $(grep '"POST /up?s=0&k=5 ' "$LOG")"
done
awk '{print $2, $3, $4, $7, $8}' "$W/native.log" | sort >"$W/n.req"
awk '{print $2, $3, $4, $7, $8}' "$W/curl.log" | sort >"$W/c.req"
cmp -s "$W/n.req" "$W/c.req" || fail "the clients sent different requests: $(diff "$W/n.req" "$W/c.req" | head -6 | tr '\n' ';')"
pass "tide's HTTP/1.1 client and libcurl send the same 72 requests (line, Host, body length) and count the same answers (a 3 MiB POST body arrives whole): $(jq .overall.bytes "$W/native.json") body bytes incl. chunked, HEAD, 404s, no errors"
[ "$(awk '{print $(NF-1)}' "$W/native.log" | sort -n | tail -1)" -eq 3 ] || fail "no connection served 3 requests: keep-alive not used"
[ "$(awk '{print $(NF-2)}' "$W/native.log" | sort -u | wc -l)" -ge 24 ] || fail "fewer than 24 connections for 72 requests at 3 each"
pass "keep-alive: connections carry up to 3 requests each, and nginx closing them costs no request"

# the native client on IPv6, against tide mock (skipped where ::1 is missing)
# (the mock answers each route as recorded: 200s, and the 404s; it resets a
# request as large as the 3 MiB POST, so that one is left out)
"$TIDE" mock "$W/t.tide" --listen '[::1]:0' --allow-raw 2>"$W/mock.err" &
MOCK_PID=$!
for _ in $(seq 50); do grep -q "listening on port" "$W/mock.err" && break; sleep 0.1; done
MPORT=$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$W/mock.err")
if [ -n "$MPORT" ]; then
  "$TIDE" replay "$W/t.tide" --target "http://[::1]:$MPORT" --speed 20 --methods all --allow-raw --no-progress \
    --exclude-path '^/up' --report-json "$W/v6.json" >/dev/null 2>"$W/v6.err" || fail "IPv6: $(cat "$W/v6.err")"
  [ "$(jq .overall.completed "$W/v6.json")" -eq 71 ] && [ "$(jq .overall.errors "$W/v6.json")" -eq 0 ] ||
    fail "IPv6: $(jq -c '[.overall.completed, .errors_by_reason]' "$W/v6.json")"
  pass "the native client reaches an IPv6 target ([::1]): 71 answered, no errors"
else
  echo "skip - no IPv6 loopback here: $(head -1 "$W/mock.err")"
fi
kill "$MOCK_PID" 2>/dev/null; wait "$MOCK_PID" 2>/dev/null; MOCK_PID=""

"$TIDE" replay "$W/t.tide" --target "https://127.0.0.1:$NGINX_PORT" --client native --allow-raw >/dev/null 2>"$W/err"
[ $? -eq 2 ] && grep -q "plain http:// only" "$W/err" || fail "--client native with https not refused"
"$TIDE" replay "$W/t.tide" --target "$T" --client h3 --allow-raw >/dev/null 2>"$W/err"
[ $? -eq 2 ] || fail "--client h3 not refused"
pass "--client native with https://, and an unknown --client, are refused (exit 2)"
