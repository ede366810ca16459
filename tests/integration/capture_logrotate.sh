#!/usr/bin/env bash
# `tide capture log --follow` on a real nginx's log while the real logrotate
# rotates it, the ways Debian's servers are set up: `create` with a reopen
# signal in postrotate (nginx's own logrotate file: USR1 to the master) and
# delaycompress, so the older rotation is gzipped while followed, under
# traffic; then copytruncate. Every request curl sent is in the trace exactly
# once, including those nginx wrote to the renamed file before it reopened
# its log.
set -u
TIDE=${1:?usage: capture_logrotate.sh TIDE}
. "$(dirname "$0")/lib.sh"
need nginx
need curl
need jq
need logrotate

W=$(mktemp -d)
CAP_PID=""
LOAD_PID=""
trap '[ -n "$LOAD_PID" ] && kill "$LOAD_PID" 2>/dev/null; [ -n "$CAP_PID" ] && kill "$CAP_PID" 2>/dev/null; nginx_stop; rm -rf "$W"' EXIT
mkdir -p "$W/html"
echo "hello" >"$W/html/index.html"
chmod -R a+rX "$W"
FMT='$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time'
nginx_start "$W" "$FMT" 'location /r/ { return 200 "ok\n"; }' ||
  skip "nginx did not start: $(tail -3 "$W/logs/start.err" "$W/logs/error.log" 2>/dev/null)"
LOG=$W/logs/access.log
B="http://127.0.0.1:$NGINX_PORT"

# nginx's own logrotate file (Debian's, with the reopen signal sent to this
# nginx by its PID), and a copytruncate one
cat >"$W/create.conf" <<EOF
$LOG {
  rotate 5
  missingok
  compress
  delaycompress
  create 0640 root root
  postrotate
    sleep 0.3 # as invoke-rc.d takes its time
    kill -USR1 $NGINX_PID
  endscript
}
EOF
cat >"$W/copy.conf" <<EOF
$LOG {
  rotate 5
  compress
  delaycompress
  copytruncate
}
EOF
rotate() { logrotate -f -s "$W/state" "$W/$1.conf" 2>>"$W/logrotate.err" || fail "logrotate $1: $(cat "$W/logrotate.err")"; }

"$TIDE" capture log --raw --follow --flush 1s --reorder-window 5s --rotate-wait 2s --format "nginx:$FMT" "$LOG" \
  -o "$W/live.tide" 2>"$W/err" &
CAP_PID=$!
sleep 0.5

# traffic all along: requests one after another (bounded: they end by themselves)
load() { # FROM TO
  for i in $(seq "$1" "$2"); do
    curl -s -o /dev/null --max-time 5 "$B/r/$i" || echo "$i" >>"$W/curl-failed"
    sleep 0.01
  done
}
N=450
load 1 300 &
LOAD_PID=$!
sleep 1
rotate create # access.log -> .1, a new access.log, nginx told to reopen
sleep 1
rotate create # .1 -> .2.gz (delaycompress), access.log -> .1
wait "$LOAD_PID"
LOAD_PID=""
# copytruncate loses what the server writes between the copy and the
# truncation (in nginx's own files too), so it runs between requests
sleep 1
rotate copy # copied to .1, truncated in place
load 301 "$N"
[ -f "$W/curl-failed" ] && fail "curl failed for $(wc -l <"$W/curl-failed") requests"
[ -f "$W/logs/access.log.2.gz" ] || fail "logrotate did not make access.log.2.gz: $(ls "$W/logs")"

# nginx's own files hold every request once (what tide must match)
logged=$( (cat "$W/logs/access.log" "$W/logs/access.log.1"; zcat "$W/logs/access.log."[2-9].gz) | grep -c '"GET /r/')
[ "$logged" -eq "$N" ] || fail "nginx's rotated files hold $logged of the $N requests"
sleep 2.5
kill -INT "$CAP_PID"
wait "$CAP_PID"
rc=$?
CAP_PID=""
[ $rc -eq 0 ] || fail "capture exit $rc: $(cat "$W/err")"
"$TIDE" cat --allow-raw "$W/live.tide" | jq -r 'select(.path | startswith("/r/")) | .path' | sed 's#/r/##' | sort >"$W/got"
[ "$(sort -u "$W/got" | wc -l)" -eq "$(wc -l <"$W/got")" ] || fail "a request captured twice: $(uniq -d "$W/got" | head -3 | tr '\n' ' ')"
seq "$N" | sort >"$W/want"
missing=$(comm -23 "$W/want" "$W/got" | tr '\n' ' ')
[ -z "$missing" ] || fail "requests not captured (nginx logged $logged of $N): $missing"
pass "real nginx + logrotate under traffic (create + reopen, delaycompress, copytruncate): all $N requests captured once"
finish
