#!/usr/bin/env bash
# `tide capture log --follow` on a live log: lines appended later are
# captured; a rotation (mv + new file, with the server writing on into the
# renamed file for a while) and a truncation (copytruncate) are
# followed; blocks are written while it runs (--flush), so a reader sees them
# before the end; SIGINT ends it with a complete, indexed trace. Several logs
# are followed at once.
set -u
TIDE=${1:?usage: capture_follow.sh TIDE}
. "$(dirname "$0")/lib.sh"
need jq
W=$(mktemp -d)
CAP_PID=""
trap '[ -n "$CAP_PID" ] && kill "$CAP_PID" 2>/dev/null; rm -rf "$W"' EXIT
# Ends the capture started as CAP_PID with SIGINT; its exit status in rc.
interrupt_capture() {
  kill -INT "$CAP_PID"
  wait "$CAP_PID"
  rc=$?
  CAP_PID=""
}
# Fails with WHAT and the capture's messages unless they hold PATTERN.
said() { grep -q "$1" "$W/err" || fail "$2: $(cat "$W/err")"; }
# The page numbers a trace's records asked for, sorted, on one line.
pages() { "$TIDE" cat --allow-raw "$1" | jq -r .path | sed 's#/page/##' | sort -n | tr '\n' ' '; }
# Starts a live capture (--follow, a 1 s flush and window) of ARGS in the
# background: its messages in $W/err, its PID in CAP_PID.
start_follow() {
  "$TIDE" capture log --raw --follow --flush 1s --reorder-window 1s "$@" 2>"$W/err" &
  CAP_PID=$!
}
line() { # n: a combined line whose time is now (the window lets it go after 1 s)
  printf '10.0.0.%d - - [%s] "GET /page/%d HTTP/1.1" 200 %d "-" "test"\n' "$(( $1 % 250 + 1 ))" "$(date -u '+%d/%b/%Y:%H:%M:%S +0000')" "$1" "$1"
}
for i in 1 2 3; do line $i; done >"$W/access.log"
start_follow --rotate-wait 1s --format combined "$W/access.log" -o "$W/live.tide"
sleep 1
for i in 4 5 6; do line $i >>"$W/access.log"; done
sleep 2.5
# written while running: a reader sees whole blocks already (the trace has no tail yet)
n=$("$TIDE" cat --allow-raw "$W/live.tide" 2>/dev/null | wc -l)
[ "$n" -ge 3 ] || fail "nothing flushed while running ($n records readable)"
pass "blocks are written while following (--flush): $n records readable before the end"
mv "$W/access.log" "$W/access.log.1"          # rotation
for i in 8 9; do line $i; done >"$W/access.log" # the new file
sleep 0.5
line 7 >>"$W/access.log.1"                     # the server writes on into the old file
sleep 2.5                                      # until it has been quiet for --rotate-wait
: >"$W/access.log"                             # copytruncate
for i in 10 11; do line $i >>"$W/access.log"; done
sleep 1.5
interrupt_capture
[ $rc -eq 0 ] || fail "capture exit $rc: $(cat "$W/err")"
"$TIDE" inspect "$W/live.tide" >"$W/i.txt" 2>&1 || fail "trace incomplete after SIGINT: $(cat "$W/i.txt")"
got=$(pages "$W/live.tide")
[ "$got" = "1 2 3 4 5 6 7 8 9 10 11 " ] || fail "records: $got"
pass "appended lines, a rotation and a truncation are followed; SIGINT leaves a complete, indexed trace"

# anonymized: the records pass the window's thread, the anonymizer and the
# writer's own thread; --flush must still put them on disk while running
"$TIDE" keygen -o "$W/k" 2>/dev/null || fail "keygen"
for i in 1 2 3; do line $i; done >"$W/anon.log"
"$TIDE" capture log --key-file "$W/k" --follow --flush 1s --reorder-window 1s --format combined "$W/anon.log" -o "$W/anon.tide" 2>"$W/err" &
CAP_PID=$!
sleep 1
for i in 4 5 6; do line $i >>"$W/anon.log"; done
sleep 2.5
n=$("$TIDE" cat "$W/anon.tide" 2>/dev/null | wc -l)
[ "$n" -ge 3 ] || fail "anonymized: nothing flushed while running ($n records readable)"
interrupt_capture
[ $rc -eq 0 ] || fail "anonymized capture exit $rc: $(cat "$W/err")"
[ "$("$TIDE" cat "$W/anon.tide" | wc -l)" -eq 6 ] || fail "anonymized: not all 6 records after SIGINT"
"$TIDE" cat "$W/anon.tide" | grep -q '"client":"10\.0\.0\.' && fail "anonymized: a client address in clear"
pass "anonymized --follow: blocks written while running ($n records readable), all 6 after SIGINT, no address in clear"

# several live logs at once (two servers, or two pods' container logs): one
# goes quiet while the other keeps writing; the quiet one holds nothing
# back (the busy one's records reach disk while running), and its lines are
# taken up again when it writes; a rotation of one is followed
for i in 1 2; do line $i; done >"$W/a.log"
for i in 101 102; do line $i; done >"$W/b.log"
start_follow --format combined "$W/a.log" "$W/b.log" \
  -o "$W/two.tide"
sleep 1
for i in 3 4 5; do line $i >>"$W/a.log"; sleep 0.3; done # b.log quiet
sleep 2.5
got=$("$TIDE" cat --allow-raw "$W/two.tide" 2>/dev/null | jq -r .path | sed 's#/page/##' | sort -n | tr '\n' ' ')
case "$got" in *"3 4 5"*) ;; *) fail "a quiet log held the other back: readable while running: $got" ;; esac
line 103 >>"$W/b.log"
mv "$W/a.log" "$W/a.log.1"
line 6 >"$W/a.log"
sleep 1.5
interrupt_capture
[ $rc -eq 0 ] || fail "two logs: capture exit $rc: $(cat "$W/err")"
got=$(pages "$W/two.tide")
[ "$got" = "1 2 3 4 5 6 101 102 103 " ] || fail "two logs: records: $got"
pass "two logs followed at once: a quiet one holds nothing back, is taken up again, and a rotation is followed"

# a live pipe on stdin (journalctl -f, kubectl logs -f): blocks written while
# it runs; SIGINT ends it with a complete trace; and the writer closing the
# pipe ends it by itself
mkfifo "$W/pipe"
"$TIDE" capture log --raw --follow --flush 1s --reorder-window 1s --format combined - -o "$W/pipe.tide" <"$W/pipe" 2>"$W/err" &
CAP_PID=$! # not start_follow: opening the FIFO waits for its writer, so it must happen in the background
exec 3>"$W/pipe"
for i in 1 2 3; do line $i >&3; done
sleep 3
n=$("$TIDE" cat --allow-raw "$W/pipe.tide" 2>/dev/null | wc -l)
[ "$n" -eq 3 ] || fail "stdin: $n records readable while running, want 3"
line 4 >&3
sleep 0.5
interrupt_capture
exec 3>&-
[ $rc -eq 0 ] || fail "stdin: capture exit $rc: $(cat "$W/err")"
[ "$("$TIDE" cat --allow-raw "$W/pipe.tide" | jq -r .path | sed 's#/page/##' | tr '\n' ' ')" = "1 2 3 4 " ] || fail "stdin: records"
for i in 5 6; do line $i; done | "$TIDE" capture log --raw --follow --format combined - -o "$W/pipe2.tide" 2>"$W/err" ||
  fail "stdin closed: $(cat "$W/err")"
[ "$("$TIDE" cat --allow-raw "$W/pipe2.tide" | wc -l)" -eq 2 ] || fail "stdin closed: records"
pass "--follow on a live pipe (stdin): blocks written while running, SIGINT or the pipe's end finish the trace"

# --follow on a log that does not exist yet: looked for until it does (tail -F)
start_follow --format combined "$W/later.log" -o "$W/later.tide"
sleep 1
kill -0 "$CAP_PID" 2>/dev/null || fail "--follow on a missing file gave up: $(cat "$W/err")"
for i in 1 2; do line $i; done >"$W/later.log"
sleep 2.5
interrupt_capture
[ $rc -eq 0 ] || fail "--follow on a missing file: exit $rc: $(cat "$W/err")"
[ "$("$TIDE" cat --allow-raw "$W/later.tide" | wc -l)" -eq 2 ] || fail "--follow on a missing file: records"
pass "--follow on a log made later: waited for, then read"

# --follow --until: the capture ends by itself once the wall clock is past
# --until and the window (a live capture of an hour, left running)
for i in 1 2; do line $i; done >"$W/u.log"
"$TIDE" capture log --raw --follow --reorder-window 1s --until "$(date -u -d '+2 seconds' '+%Y-%m-%dT%H:%M:%SZ')" \
  --format combined "$W/u.log" -o "$W/u.tide" 2>"$W/err" &
CAP_PID=$!
line 3 >>"$W/u.log"
for _ in $(seq 100); do kill -0 "$CAP_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$CAP_PID" 2>/dev/null && fail "--follow --until: still running 10 s on"
wait "$CAP_PID"
rc=$?
CAP_PID=""
[ $rc -eq 0 ] || fail "--follow --until: exit $rc: $(cat "$W/err")"
[ "$("$TIDE" cat --allow-raw "$W/u.tide" | wc -l)" -eq 3 ] || fail "--follow --until: records"
pass "--follow --until ends by itself once past --until and the window, with a whole trace"

# a quoted pattern (a pod's logs in /var/log/containers): files made later are
# followed (an empty one takes the format the first shares), a deleted one is
# let go (its descriptor closed) and taken up again when made anew
mkdir "$W/pods"
line 1 >"$W/pods/web-a.log"
start_follow --rotate-wait 1s "$W/pods/web-*.log" -o "$W/pods.tide"
sleep 1.2
: >"$W/pods/web-b.log" # a new pod: its log empty at first
line 99 >"$W/pods/other.log" # not matched
sleep 1.5
line 2 >>"$W/pods/web-b.log"
line 3 >"$W/pods/web-c.log"
rm "$W/pods/web-a.log" # the first pod is gone
sleep 3
open_fds=$(ls -l "/proc/$CAP_PID/fd" | grep -c "/pods/web-")
line 4 >"$W/pods/web-a.log" # and a pod of that name again
sleep 2
interrupt_capture
[ $rc -eq 0 ] || fail "pattern: capture exit $rc: $(cat "$W/err")"
[ "$open_fds" -eq 2 ] || fail "pattern: $open_fds files open after one was deleted, want 2"
grep -q "web-b.log: new file matching .*web-\*.log, followed (format combined)" "$W/err" || fail "pattern: new file not said: $(cat "$W/err")"
got=$(pages "$W/pods.tide")
[ "$got" = "1 2 3 4 " ] || fail "pattern: records: $got"
grep -q "followed 4 file(s): 3 new while running, 1 deleted and let go" "$W/err" || fail "pattern: summary: $(cat "$W/err")"
pass "--follow on a quoted pattern: files made later followed, a deleted one let go and taken up again"

# a new file that cannot be opened (here: no descriptor left) is said and
# counted; the capture goes on with the others and ends incomplete (exit 5)
mkdir "$W/many"
line 0 >"$W/many/web-0.log"
(ulimit -n 14; exec "$TIDE" capture log --raw --follow --flush 1s --reorder-window 1s --format combined \
  "$W/many/web-*.log" -o "$W/many.tide" 2>"$W/err") &
CAP_PID=$!
sleep 1.2
for i in $(seq 1 20); do line "$i" >"$W/many/web-$i.log"; done
sleep 2.5
interrupt_capture
[ $rc -eq 5 ] || fail "no descriptor left: exit $rc, want 5: $(cat "$W/err")"
grep -q "cannot open: Too many open files" "$W/err" && grep -q "input(s) ended in an error" "$W/err" ||
  fail "no descriptor left: not said: $(cat "$W/err")"
n=$("$TIDE" cat --allow-raw "$W/many.tide" | wc -l)
[ "$n" -ge 2 ] && [ "$n" -lt 21 ] || fail "no descriptor left: $n records"
pass "a new file that cannot be opened is said and counted; the others are captured ($n of 21), exit 5"

# a new file that could not be opened is tried again every second: once the
# capture lets go of deleted files (freeing descriptors) it is read from its
# start, and nothing is missing (exit 0)
mkdir "$W/retry"
line 0 >"$W/retry/web-0.log"
(ulimit -n 14; exec "$TIDE" capture log --raw --follow --flush 1s --reorder-window 1s --rotate-wait 1s \
  --format combined "$W/retry/web-*.log" -o "$W/retry.tide" 2>"$W/err") &
CAP_PID=$!
sleep 1.2
for i in $(seq 1 12); do line "$i" >"$W/retry/web-$i.log"; done
sleep 1.5
for _ in $(seq 15); do # delete the files the capture has open, until none is left
  [ -z "$(ls "$W/retry")" ] && break
  for f in $(ls -l "/proc/$CAP_PID/fd" | grep -o "/retry/web-[0-9]*\.log" | sort -u); do rm -f "$W$f"; done
  sleep 2.5
done
interrupt_capture
[ $rc -eq 0 ] || fail "retried open: exit $rc, want 0: $(cat "$W/err")"
said "cannot open: Too many open files.*; tried again every second" "retried open: the first failure not said"
said "12 new while running ([1-9][0-9]* opened on a later try), 13 deleted and let go" "retried open: summary"
[ "$(pages "$W/retry.tide")" = "0 1 2 3 4 5 6 7 8 9 10 11 12 " ] || fail "retried open: records: $(pages "$W/retry.tide")"
pass "a new file that could not be opened is tried again and read whole once a descriptor is free"

# a new file whose first line is half written when it is found: its format is
# told once it has grown; a file whose format is never told is said in the
# summary and the capture ends incomplete (exit 5)
mkdir "$W/half"
line 1 >"$W/half/web-a.log"
start_follow "$W/half/web-*.log" -o "$W/half.tide"
sleep 1.2
l=$(line 2)
printf '%s' "${l:0:20}" >"$W/half/web-b.log"
printf 'not a log line at all\n' >"$W/half/web-junk.log"
sleep 2.2
printf '%s\n' "${l:20}" >>"$W/half/web-b.log"
line 3 >>"$W/half/web-b.log"
sleep 2.2
interrupt_capture
[ $rc -eq 5 ] || fail "half line: exit $rc, want 5: $(cat "$W/err")"
said "web-b.log: new file matching .*: cannot tell its format yet; looked at again as it grows" "half line: not said"
said "web-b.log: new file matching .*, followed (format combined)" "half line: not followed"
[ "$(grep -c "web-junk.log: new file matching .*: cannot tell its format yet" "$W/err")" -eq 1 ] ||
  fail "half line: the junk file said more than once, or not: $(cat "$W/err")"
said "1 file(s) matching a pattern not read: their format was never told" "half line: summary"
[ "$(pages "$W/half.tide")" = "1 2 3 " ] || fail "half line: records: $(pages "$W/half.tide")"
pass "a new file whose first line was half written is followed once it has grown; one never told is said (exit 5)"

# with the server's configuration, an error log new to a followed pattern is
# told and left out, as it is among the inputs given at the start
mkdir "$W/ng"
printf 'http {\n  access_log %s combined;\n  server { listen 80; }\n}\n' "$W/ng/access.log" >"$W/ng.conf"
line 1 >"$W/ng/access.log"
start_follow --nginx-conf "$W/ng.conf" "$W/ng/*.log" \
  -o "$W/ng.tide"
sleep 1.2
echo "$(date -u '+%Y/%m/%d %H:%M:%S') [error] 12#12: *1 open() \"/srv/x\" failed (2: No such file or directory)" \
  >"$W/ng/error.log"
line 2 >>"$W/ng/access.log"
sleep 2.2
interrupt_capture
[ $rc -eq 0 ] || fail "error log under a pattern: exit $rc: $(cat "$W/err")"
said "error.log: nginx's error log, not an access log: left out" "error log under a pattern: not said"
said " 0 bad" "error log under a pattern: read as an access log"
[ "$("$TIDE" cat --allow-raw "$W/ng.tide" | wc -l)" -eq 2 ] || fail "error log under a pattern: records"
pass "with --nginx-conf, an error log new to a followed pattern is told and left out"

# a live capture whose disk fills: it ends by itself with the write error,
# and the trace is kept (its whole blocks readable), not removed (a live
# capture cannot be taken again). A 300 KiB tmpfs in a mount namespace of
# the test's own.
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
  mkdir "$W/full"
  : >"$W/full.log"
  python3 - "$W/full.log" <<'PY' &
import random, sys, time
with open(sys.argv[1], "a") as f:
    for sec in range(12):
        for i in range(3000):
            f.write('10.%d.%d.%d - - [%s] "GET /p/%d?x=%d HTTP/1.1" 200 %d "-" "ua-%d"\n' % (
                random.randint(0, 255), random.randint(0, 255), random.randint(0, 255),
                time.strftime('%d/%b/%Y:%H:%M:%S +0000', time.gmtime()), random.randint(0, 10**9),
                random.randint(0, 10**9), random.randint(0, 10**6), random.randint(0, 10**6)))
        f.flush()
        time.sleep(1)
PY
  GEN_PID=$!
  unshare -m bash -c '
    mount -t tmpfs -o size=300k tmpfs "$1" || exit 99
    timeout 30 "$2" capture log --raw --follow --flush 1s --reorder-window 1s --format combined "$3" -o "$1/f.tide" 2>"$4/err"
    echo $? >"$4/full.rc"
    "$2" cat --allow-raw "$1/f.tide" 2>/dev/null | wc -l >"$4/full.n"
  ' _ "$W/full" "$TIDE" "$W/full.log" "$W"
  kill "$GEN_PID" 2>/dev/null; wait "$GEN_PID" 2>/dev/null
  [ "$(cat "$W/full.rc")" = 4 ] || fail "full disk: exit $(cat "$W/full.rc"), want 4 (124: it did not end by itself): $(cat "$W/err")"
  said "write failed at offset [0-9]*: No space left on device" "full disk: the write error not said"
  said "kept as written so far (a live capture cannot be taken again)" "full disk: the trace not kept"
  [ "$(cat "$W/full.n")" -ge 3000 ] || fail "full disk: $(cat "$W/full.n") records readable in the kept trace"
  pass "a live capture whose disk fills ends by itself, says why, and keeps its blocks ($(cat "$W/full.n") records)"
else
  echo "skip - a full disk needs root and a mount namespace"
fi

# the trace written into the directory a pattern follows is no log: passed
# over quietly (it is no file whose format is missing), each line read once
mkdir "$W/dir"
line 1 >"$W/dir/a.log"
start_follow "$W/dir/*" -o "$W/dir/live.tide"
sleep 1.5
line 2 >>"$W/dir/a.log"
sleep 2.5
interrupt_capture
[ $rc -eq 0 ] || fail "output under the pattern: exit $rc: $(cat "$W/err")"
grep -q "live.tide" "$W/err" && fail "output under the pattern: the trace taken for a log: $(cat "$W/err")"
[ "$(pages "$W/dir/live.tide")" = "1 2 " ] || fail "output under the pattern: records: $(pages "$W/dir/live.tide")"
pass "the trace written under a followed pattern is passed over quietly"

# without --follow a quoted pattern is expanded as the shell would
"$TIDE" capture log --raw "$W/pods/web-*.log" -o "$W/pq.tide" 2>"$W/err" || fail "quoted pattern: $(cat "$W/err")"
[ "$("$TIDE" cat --allow-raw "$W/pq.tide" | wc -l)" -eq 3 ] || fail "quoted pattern: records"
pass "a quoted pattern is expanded"
finish
