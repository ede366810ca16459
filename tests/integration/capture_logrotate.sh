#!/usr/bin/env bash
# `tide capture log --follow` on a real nginx's log while the real logrotate
# rotates it, the ways Debian's servers are set up: `create` with a reopen
# signal in postrotate (nginx's own logrotate file: USR1 to the master) and
# delaycompress, so the older rotation is gzipped while followed; then
# copytruncate, with the copy left plain and then gzipped at once (compress
# without delaycompress); all under traffic. Every request in nginx's own files is in
# the trace exactly once, including those nginx wrote to the renamed file
# before it reopened its log, and those copytruncate's copy took after
# tide's last read. The same requests also go to a second log nginx writes
# as gzip members (gzip=1), empty when tide starts following it and rotated
# too: each file's kind is told by its first bytes.
set -u
TIDE=${1:?usage: capture_logrotate.sh TIDE}
. "$(dirname "$0")/lib.sh"
need nginx
need curl
need jq
need logrotate

W=$(mktemp -d)
CAP_PID=""
GZ_PID=""
LOAD_PID=""
trap 'for p in "$LOAD_PID" "$CAP_PID" "$GZ_PID"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done; nginx_stop; rm -rf "$W"' EXIT
mkdir -p "$W/html"
echo "hello" >"$W/html/index.html"
chmod -R a+rX "$W"
FMT='$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time'
# a second log of the same requests, written as gzip members every second
# (gzip=1: nginx buffers and compresses), empty until its first flush
nginx_start "$W" "$FMT" 'location /r/ { return 200 "ok\n"; }
    access_log '"$W"'/logs/gz.log.gz t gzip=1 flush=1s;' ||
  skip "nginx did not start: $(tail -3 "$W/logs/start.err" "$W/logs/error.log" 2>/dev/null)"
LOG=$W/logs/access.log
GZ=$W/logs/gz.log.gz
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
cat >"$W/gz.conf" <<EOF
$GZ {
  rotate 5
  create 0640 root root
  postrotate
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
# copytruncate with compress and no delaycompress: the copy is gzipped (and
# the plain one removed) at once, before tide sees the truncation; dated
# names keep it apart from the numbered rotations above
cat >"$W/copyz.conf" <<EOF
$LOG {
  rotate 5
  compress
  copytruncate
  dateext
  dateformat -z%s
}
EOF
rotate() { logrotate -f -s "$W/state" "$W/$1.conf" 2>>"$W/logrotate.err" || fail "logrotate $1: $(cat "$W/logrotate.err")"; }

"$TIDE" capture log --raw --follow --flush 1s --reorder-window 5s --rotate-wait 2s --format "nginx:$FMT" "$LOG" \
  -o "$W/live.tide" 2>"$W/err" &
CAP_PID=$!
"$TIDE" capture log --raw --follow --flush 1s --reorder-window 5s --rotate-wait 2s --format "nginx:$FMT" "$GZ" \
  -o "$W/gz.tide" 2>"$W/gz.err" &
GZ_PID=$!
sleep 0.5

# traffic all along, until told to stop (bounded: at most 3000 requests)
(
  for i in $(seq 3000); do
    [ -f "$W/stop-load" ] && break
    curl -s -o /dev/null --max-time 5 "$B/r/$i" || echo "$i" >>"$W/curl-failed"
    echo "$i" >>"$W/sent"
    sleep 0.01
  done
) &
LOAD_PID=$!
# rotations further apart than --rotate-wait, as a day's are
sleep 1
rotate create # access.log -> .1, a new access.log, nginx told to reopen
rotate gz     # gz.log.gz -> gz.log.gz.1, a new one, nginx told to reopen
sleep 3
rotate create # .1 -> .2.gz (delaycompress), access.log -> .1
sleep 3
rotate copy   # .1 -> .2 (.2.gz -> .3.gz), access.log copied to .1 and truncated in place
sleep 3
rotate copyz  # access.log copied to access.log-z<time>, truncated, the copy gzipped at once
sleep 1
touch "$W/stop-load"
wait "$LOAD_PID"
LOAD_PID=""
N=$(wc -l <"$W/sent")
[ -f "$W/curl-failed" ] && fail "curl failed for $(wc -l <"$W/curl-failed") requests"
[ -f "$W/logs/access.log.3.gz" ] || fail "logrotate did not make access.log.3.gz: $(ls "$W/logs")"
ls "$W/logs/access.log-z"*.gz >/dev/null 2>&1 || fail "logrotate did not make access.log-z<time>.gz: $(ls "$W/logs")"
sleep 2.5
kill -INT "$CAP_PID" "$GZ_PID"
wait "$CAP_PID"
rc=$?
CAP_PID=""
[ $rc -eq 0 ] || fail "capture exit $rc: $(cat "$W/err")"
wait "$GZ_PID"
rc=$?
GZ_PID=""
[ $rc -eq 0 ] || fail "capture of the gzip log: exit $rc: $(cat "$W/gz.err")"

# what nginx's own files hold: every request once, but for those written
# between copytruncate's copy and its truncation (logrotate loses them)
paths() { sed -n 's#.*"GET /r/\([0-9]*\) .*#\1#p' | sort; }
(cat "$W/logs/access.log" "$W/logs/access.log.1"; zcat "$W/logs/access.log."[2-9].gz "$W/logs/access.log-z"*.gz) |
  paths >"$W/logged"
[ "$(sort -u "$W/logged" | wc -l)" -eq "$(wc -l <"$W/logged")" ] || fail "nginx's files hold a request twice"
lost=$((N - $(wc -l <"$W/logged")))
[ "$lost" -le 10 ] || fail "nginx's rotated files lack $lost of the $N requests"
"$TIDE" cat --allow-raw "$W/live.tide" | jq -r '.path' | sed -n 's#^/r/##p' | sort >"$W/got"
[ "$(sort -u "$W/got" | wc -l)" -eq "$(wc -l <"$W/got")" ] || fail "a request captured twice: $(uniq -d "$W/got" | head -3 | tr '\n' ' ')"
missing=$(comm -23 "$W/logged" "$W/got" | head -20 | tr '\n' ' ')
[ -z "$missing" ] || fail "requests in nginx's files but not captured: $missing"
sort "$W/sent" >"$W/sent.sorted"
extra=$(comm -13 "$W/sent.sorted" "$W/got" | head -20 | tr '\n' ' ')
[ -z "$extra" ] || fail "records of requests never sent: $extra"
zcat "$GZ" "$GZ.1" | paths >"$W/gz.logged"
"$TIDE" cat --allow-raw "$W/gz.tide" | jq -r '.path' | sed -n 's#^/r/##p' | sort >"$W/gz.got"
[ "$(wc -l <"$W/gz.logged")" -eq "$N" ] || fail "nginx's gzip logs hold $(wc -l <"$W/gz.logged") of the $N requests"
cmp -s "$W/gz.logged" "$W/gz.got" || fail "the gzip log's trace differs from nginx's gzip logs: $(comm -3 "$W/gz.logged" "$W/gz.got" | head -5 | tr '\n' ' ')"
pass "nginx's gzip=1 log, empty when followed, rotated (create + reopen): all $N requests captured once"
pass "real nginx + logrotate under traffic (create + reopen, delaycompress, copytruncate, copytruncate with the copy gzipped at once): every request in nginx's files captured once ($(wc -l <"$W/got") of $N; nginx's files lost $lost)"
finish
