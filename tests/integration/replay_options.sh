#!/usr/bin/env bash
# More of tide replay against a real nginx, checked from nginx's own log:
# --auth-map gives each session one staging credential; --loop repeats the
# window; --max-gap shortens idle stretches; --shard K/N splits sessions with
# no overlap and no loss; --host-header; HTTPS with --cacert and --insecure.
set -u
TIDE=${1:?usage: replay_options.sh TIDE}
. "$(dirname "$0")/lib.sh"
need nginx
need curl
need jq
need python3
need openssl
W=$(mktemp -d)
trap 'nginx_stop; rm -rf "$W"' EXIT

# 6 sessions x 3 GETs; a 40 s silence in the middle of the trace
python3 - "$W" <<'PY'
import json, sys
W = sys.argv[1]
with open(W + "/t.jsonl", "w") as f:
    for s in range(6):
        for k in range(3):
            t = s * 0.5 + k * 0.1 + (45 if s >= 3 else 0)
            f.write(json.dumps({"ts": "2026-11-20T10:00:%02d.%03d000000Z" % (int(t), round(t * 1000) % 1000),
                "method": "GET", "path": "/s%d/%d" % (s, k), "query": "", "version": "HTTP/1.1",
                "headers": [["Host", "prod.example.edu"], ["Cookie", "sessionid=orig-%d" % s]],
                "status": 200, "client": "198.51.100.%d" % (s + 1), "session": "sess-%d" % s,
                "source": "gen"}) + "\n")
PY
# a fixed key: sessions' pseudonyms, and so their hashes (credentials, shards), are the same every run;
# a random key left all 6 sessions on one of the 2 credentials once in 32 runs
printf 'tide-replay-options-fixed-key-32' >"$W/key"
chmod 600 "$W/key"
"$TIDE" import --key-file "$W/key" "$W/t.jsonl" -o "$W/t.tide" 2>/dev/null || fail "import"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$W/key.pem" -out "$W/cert.pem" -days 2 \
  -subj "/CN=localhost" -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null || skip "openssl cannot make a certificate"
FMT='$msec "$request" "$http_cookie" "$http_host" "$scheme"'
nginx_start "$W/ngx" "$FMT" 'location / { return 200 "ok\n"; }' || skip "nginx did not start"
T="http://127.0.0.1:$NGINX_PORT"
LOG="$W/ngx/logs/access.log"
reset_log() { : >"$LOG"; }

# --- auth map ---------------------------------------------------------------------------
printf '# staging users\nCookie: sessionid=staging-a\nCookie: sessionid=staging-b\n' >"$W/auth"
reset_log
"$TIDE" replay "$W/t.tide" --target "$T" --speed 50 --max-gap 1s --auth-map "$W/auth" --no-progress >/dev/null 2>&1 || fail "auth map run"
sleep 0.3
[ "$(wc -l <"$LOG")" -eq 18 ] || fail "auth map: $(wc -l <"$LOG") requests"
[ "$(awk -F'"' '{print $4}' "$LOG" | sort -u | tr '\n' ' ')" = "sessionid=staging-a sessionid=staging-b " ] || fail "credentials: $(awk -F'"' '{print $4}' "$LOG" | sort -u)"
for s in 0 1 2 3 4 5; do
  [ "$(grep " /s$s/" "$LOG" | awk -F'"' '{print $4}' | sort -u | wc -l)" -eq 1 ] || fail "session $s got two credentials"
done
pass "--auth-map replaces the session cookie with a staging credential, the same for a whole session"

# --- max-gap and loop ---------------------------------------------------------------------
reset_log
start=$(date +%s.%N)
"$TIDE" replay "$W/t.tide" --target "$T" --speed 10 --max-gap 1s --no-progress >/dev/null 2>&1
took=$(echo "$(date +%s.%N) - $start" | bc)
awk -v t="$took" 'BEGIN { exit !(t < 2.5) }' || fail "--max-gap 1s still played the 45 s silence ($took s)"
reset_log
"$TIDE" replay "$W/t.tide" --target "$T" --speed 50 --max-gap 1s --loop 3 --no-progress --report-json "$W/loop.json" >/dev/null 2>&1
sleep 0.3
[ "$(wc -l <"$LOG")" -eq 54 ] || fail "--loop 3 sent $(wc -l <"$LOG"), want 54"
[ "$(grep -c ' /s0/0 ' "$LOG")" -eq 3 ] || fail "loop order"
pass "--max-gap shortens the 45 s silence (${took} s at 10x); --loop 3 plays the window three times"

# --- shards: no overlap, no loss ------------------------------------------------------------
reset_log
for k in 0 1 2; do
  "$TIDE" replay "$W/t.tide" --target "$T" --speed 50 --max-gap 1s --shard "$k/3" --run-id "shard$k" --no-progress >/dev/null 2>&1 || fail "shard $k"
done
sleep 0.3
[ "$(wc -l <"$LOG")" -eq 18 ] || fail "3 shards sent $(wc -l <"$LOG") requests, want 18"
[ "$(sed -E 's#.*"GET ([^ ]+) .*#\1#' "$LOG" | sort -u | wc -l)" -eq 18 ] || fail "shards overlap"
pass "--shard K/3: the three shards send every request exactly once"

# --- host header ------------------------------------------------------------------------------
reset_log
"$TIDE" replay "$W/t.tide" --target "$T" --speed 50 --max-gap 1s --host-header staging.example.edu --no-progress >/dev/null 2>&1
sleep 0.3
[ "$(awk -F'"' '{print $6}' "$LOG" | sort -u)" = staging.example.edu ] || fail "--host-header VALUE"
reset_log
"$TIDE" replay "$W/t.tide" --target "$T" --speed 50 --max-gap 1s --host-header target --no-progress >/dev/null 2>&1
sleep 0.3
[ "$(awk -F'"' '{print $6}' "$LOG" | sort -u)" = "127.0.0.1:$NGINX_PORT" ] || fail "--host-header target"
pass "--host-header VALUE and target"
nginx_stop

# --- HTTPS -------------------------------------------------------------------------------------
NGINX_LISTEN_OPTS="ssl http2" NGINX_SCHEME=https nginx_start "$W/ngs" "$FMT" \
  "ssl_certificate $W/cert.pem; ssl_certificate_key $W/key.pem; location / { return 200 \"ok\\n\"; }" ||
  skip "nginx with TLS did not start"
PORT=$NGINX_PORT
: >"$W/ngs/logs/access.log"
"$TIDE" replay "$W/t.tide" --target "https://127.0.0.1:$PORT" --speed 50 --max-gap 1s --no-progress --report-json "$W/tls0.json" >/dev/null 2>&1
[ "$(jq '.errors_by_reason.tls' "$W/tls0.json")" -eq 18 ] || fail "an unverified certificate was accepted: $(jq -c .errors_by_reason "$W/tls0.json")"
"$TIDE" replay "$W/t.tide" --target "https://127.0.0.1:$PORT" --speed 50 --max-gap 1s --cacert "$W/cert.pem" --no-progress --report-json "$W/tls1.json" >/dev/null 2>&1
"$TIDE" replay "$W/t.tide" --target "https://127.0.0.1:$PORT" --speed 50 --max-gap 1s --insecure --no-progress --report-json "$W/tls2.json" >/dev/null 2>&1
sleep 0.3
[ "$(jq '.overall.status["2xx"]' "$W/tls1.json")" -eq 18 ] && [ "$(jq '.overall.status["2xx"]' "$W/tls2.json")" -eq 18 ] || fail "--cacert / --insecure"
[ "$(awk -F'"' '$8 == "https"' "$W/ngs/logs/access.log" | wc -l)" -eq 36 ] || fail "nginx did not see 36 https requests"
pass "HTTPS: an unknown certificate is refused; --cacert and --insecure connect"
: >"$W/ngs/logs/access.log"
"$TIDE" replay "$W/t.tide" --target "https://127.0.0.1:$PORT" --speed 50 --max-gap 1s --insecure --http2 --no-progress --report-json "$W/h2.json" >/dev/null 2>&1
sleep 0.3
[ "$(grep -c 'HTTP/2.0"' "$W/ngs/logs/access.log")" -eq 18 ] || fail "--http2: $(head -2 "$W/ngs/logs/access.log")"
pass "--http2 speaks HTTP/2 to the target (18 requests as HTTP/2.0 in nginx's log)"
nginx_stop

# --- the load machine out of descriptors --------------------------------------------------------
# 300 requests due within a second to a route nginx answers slowly (limit_rate):
# each holds a connection. Under a limit of 64 descriptors those that find
# none are counted as the load machine's errors, and said so, not as the
# target's (they were "other" before)
python3 - "$W" <<'PY'
import json, sys
with open(sys.argv[1] + "/burst.jsonl", "w") as f:
    for i in range(300):
        f.write(json.dumps({"ts": "2026-11-20T10:00:00.%03d000000Z" % (i * 3), "method": "GET", "path": "/slow.txt",
            "query": "i=%d" % i, "version": "HTTP/1.1", "headers": [], "status": 200, "client": "198.51.100.1",
            "session": "", "source": "gen"}) + "\n")
PY
"$TIDE" import --key-file "$W/key" "$W/burst.jsonl" -o "$W/burst.tide" 2>/dev/null || fail "import burst"
nginx_start "$W/ngd" "$FMT" "location / { limit_rate 100; }" || skip "nginx did not start"
head -c 600 /dev/zero | tr '\0' x >"$W/ngd/html/slow.txt"
chmod -R a+rX "$W/ngd/html"
(ulimit -n 64; exec "$TIDE" replay "$W/burst.tide" --target "http://127.0.0.1:$NGINX_PORT" --timeout 2s --drain 3s \
  --no-progress --report-json "$W/nofd.json" >"$W/nofd.txt" 2>&1)
nofd=$(jq '.errors_by_reason["no descriptor left"]' "$W/nofd.json")
[ "$nofd" -ge 100 ] && [ "$(jq '.errors_by_reason.other' "$W/nofd.json")" -eq 0 ] ||
  fail "out of descriptors: $(jq -c .errors_by_reason "$W/nofd.json")"
grep -q "tide had no descriptor left for $nofd request(s): those errors are the load machine's" "$W/nofd.txt" ||
  fail "out of descriptors not said: $(cat "$W/nofd.txt")"
pass "requests the load machine had no descriptor for are counted apart and said ($nofd of 300 under ulimit -n 64)"
finish
