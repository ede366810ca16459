#!/usr/bin/env bash
# Log capture on the awkward inputs a real log has: CRLF line endings, a last
# line without a newline, escape=json fields, a URL over 64 KiB, raw non-UTF-8
# bytes, a truncated .gz, .bz2 and .xz (what decompressed is kept, the run says
# so and exits 5), concatenated .gz, .bz2 and .xz streams, stdin, two rotated
# files merged by start time, and access logs inside container runtimes' logs.
set -u
TIDE=${1:?usage: capture_log_edges.sh TIDE}
. "$(dirname "$0")/lib.sh"
need jq
need python3
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
L1='1.2.3.4 - - [10/Oct/2025:13:55:36 +0000] "GET /a?x=1 HTTP/1.1" 200 10 "-" "ua one"'
L2='::1 - - [10/Oct/2025:13:55:37 +0000] "GET /b HTTP/1.1" 404 0 "-" "ua two"'
printf '%s\r\n%s' "$L1" "$L2" >"$W/crlf.log"
"$TIDE" capture log --raw --format combined "$W/crlf.log" -o "$W/c.tide" 2>/dev/null || fail "crlf"
[ "$("$TIDE" cat --allow-raw "$W/c.tide" | jq -r '.headers[0][1]' | tr '\n' '|')" = "ua one|ua two|" ] || fail "CRLF or last line"
pass "CRLF line endings and a last line without a newline"

# a UTF-8 byte order mark first (Windows tools write one): not part of the first line, nor of the guess
printf '\xef\xbb\xbf%s\n%s\n' "$L1" "$L2" >"$W/bom.log"
printf '\xef\xbb\xbf#Software: Microsoft Internet Information Services 10.0\r\n#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) sc-status sc-substatus sc-win32-status time-taken\r\n2025-11-20 12:00:01 10.0.0.1 GET /a x=1 80 - 1.2.3.4 Mozilla/5.0 200 0 0 15\r\n' >"$W/bom-iis.log"
"$TIDE" capture log --raw "$W/bom.log" "$W/bom-iis.log" -o "$W/bom.tide" 2>"$W/err" || fail "byte order mark: $(cat "$W/err")"
grep -q "bom-iis.log: format w3c" "$W/err" || fail "a W3C log with a byte order mark not guessed: $(cat "$W/err")"
[ "$("$TIDE" cat --allow-raw "$W/bom.tide" | jq -r .client | sort | tr '\n' '|')" = "1.2.3.4|1.2.3.4|::1|" ] || fail "byte order mark kept in a field"
pass "a UTF-8 byte order mark before the first line is read past (combined, and IIS's W3C guessed)"

python3 - "$W" <<'PY'
import sys
W = sys.argv[1]
long_path = "/search/" + "x" * 70000
with open(W + "/edge.log", "wb") as f:
    f.write(b'5.6.7.8 - - [10/Oct/2025:13:55:38 +0000] "GET ' + long_path.encode() + b' HTTP/1.1" 200 1 "-" "ua"\n')
    f.write(b'5.6.7.8 - - [10/Oct/2025:13:55:39 +0000] "GET /caf\xe9/\xff HTTP/1.1" 200 1 "-" "ua \\x22quoted\\x22"\n')
with open(W + "/json.log", "w") as f:
    f.write('{"time":"2025-10-10T13:55:40+02:00","request_uri":"/j?q=\\"x\\"","status":"200","http_user_agent":"a\\u00e9b"}\n')
PY
"$TIDE" capture log --raw --format combined "$W/edge.log" -o "$W/e.tide" 2>/dev/null || fail "long URL / raw bytes"
"$TIDE" cat --allow-raw "$W/e.tide" >"$W/e.jsonl"
[ "$(head -1 "$W/e.jsonl" | jq -r '.path | length')" -eq 70008 ] || fail "70 KiB URL"
sed -n 2p "$W/e.jsonl" | grep -q '"/caf\\udce9/\\udcff"' || fail "raw non-UTF-8 bytes not kept exactly"
[ "$(sed -n 2p "$W/e.jsonl" | jq -r '.headers[0][1]')" = 'ua "quoted"' ] || fail "\\x22 not decoded"
"$TIDE" capture log --raw --format json "$W/json.log" -o "$W/j.tide" 2>/dev/null || fail "json"
r=$("$TIDE" cat --allow-raw "$W/j.tide")
[ "$(echo "$r" | jq -r .ts)" = 2025-10-10T11:55:40.000000000Z ] && [ "$(echo "$r" | jq -r .query)" = 'q="x"' ] &&
  [ "$(echo "$r" | jq -r '.headers[0][1]')" = "aéb" ] || fail "escape=json / offsets: $r"
pass "a 70 KiB URL, raw non-UTF-8 bytes kept exactly, \\xHH and escape=json decoded, time zones honoured"

cat "$W/crlf.log" | "$TIDE" capture log --raw --format combined - -o "$W/s.tide" 2>/dev/null || fail "stdin"
[ "$("$TIDE" cat --allow-raw "$W/s.tide" | wc -l)" -eq 2 ] || fail "stdin records"
printf '%s\n' "$L2" | sed 's/13:55:37/13:55:35/' >"$W/access.log.1"
printf '%s\n' "$L1" >"$W/access.log"
gzip -c "$W/access.log.1" >"$W/access.log.1.gz"
"$TIDE" capture log --raw --format combined "$W/access.log" "$W/access.log.1.gz" -o "$W/m.tide" 2>/dev/null || fail "merge"
[ "$("$TIDE" cat --allow-raw "$W/m.tide" | jq -r .path | tr '\n' ' ')" = "/b /a " ] || fail "rotated files not merged by time"
pass "stdin, and rotated files (plain + .gz) merged by start time"

# gzip, bzip2 and xz (logrotate's compresscmd can be any): concatenated streams
# are read through; a cut one keeps what decompressed, says so, exits 5
python3 -c "
import sys
l = '9.9.9.9 - - [10/Oct/2025:13:55:36 +0000] \"GET /z HTTP/1.1\" 200 1 \"-\" \"ua\"\n'
sys.stdout.write(l * 20000)" >"$W/big.plain"
for c in gzip:gz bzip2:bz2 xz:xz; do
  tool=${c%%:*} ext=${c#*:}
  "$tool" -1 -c "$W/big.plain" >"$W/big.$ext"
  cat "$W/big.$ext" "$W/big.$ext" >"$W/two.$ext"
  "$TIDE" capture log --raw --format combined "$W/two.$ext" -o "$W/two.tide" 2>"$W/err" || fail "two .$ext streams: $(cat "$W/err")"
  [ "$("$TIDE" cat --allow-raw "$W/two.tide" | wc -l)" -eq 40000 ] || fail "two .$ext streams: not 40000 records"
  size=$(stat -c %s "$W/big.$ext")
  head -c $((size / 2)) "$W/big.$ext" >"$W/cut.$ext"
  "$TIDE" capture log --raw --format combined "$W/cut.$ext" -o "$W/cutb.tide" 2>"$W/err"
  [ $? -eq 5 ] || fail "truncated .$ext: exit not 5: $(cat "$W/err")"
  grep -q "$tool stream is truncated" "$W/err" || fail "truncated .$ext not said: $(cat "$W/err")"
  n=$("$TIDE" cat --allow-raw "$W/cutb.tide" | wc -l)
  [ "$n" -gt 1000 ] && [ "$n" -lt 20000 ] || fail "truncated .$ext kept $n records"
  pass ".$ext: two concatenated streams read through (40000 records); a cut one keeps $n records, says so, exits 5"
done

# nginx in a container: the runtime's own log lines wrap the access log's
# (Kubernetes CRI files, Docker json-file), stderr carries the error log, and
# a line over 16 KiB comes in pieces. Guessed, read inside the wrapper,
# pieces joined, stderr counted as lines without a request; anonymized by
# default like any other log.
python3 - "$W" <<'PY'
import json, sys
w = sys.argv[1]
line = lambda i, path: '192.0.2.%d - - [10/Oct/2025:13:55:%02d +0000] "GET %s HTTP/1.1" 200 612 "-" "Mozilla/5.0" 0.0%02d' % (i, i, path, i)
longp = '/search?q=' + 'a' * 40000
with open(w + '/cri.log', 'w') as f:
    for i in range(1, 6):
        f.write('2025-10-10T13:55:%02d.5Z stdout F %s\n' % (i, line(i, '/essays/%d' % i)))
    f.write('2025-10-10T13:55:06Z stderr F 2025/10/10 13:55:06 [error] 29#29: *1 open() failed\n')
    l = line(7, longp)
    pieces = [l[k:k + 16384] for k in range(0, len(l), 16384)]
    for k, p in enumerate(pieces):
        f.write('2025-10-10T13:55:07Z stdout %s %s\n' % ('F' if k == len(pieces) - 1 else 'P', p))
with open(w + '/docker.log', 'w') as f:
    for i in range(1, 6):
        f.write(json.dumps({"log": line(i, '/essays/%d' % i) + "\n", "stream": "stdout", "time": "x"}, separators=(',', ':')) + '\n')
    f.write(json.dumps({"log": "2025/10/10 [error] x\n", "stream": "stderr", "time": "x"}, separators=(',', ':')) + '\n')
    l = line(7, longp) + "\n"
    for k in range(0, len(l), 16384):
        f.write(json.dumps({"log": l[k:k + 16384], "stream": "stdout", "time": "x"}, separators=(',', ':')) + '\n')
PY
"$TIDE" keygen -o "$W/k" 2>/dev/null
for f in cri docker; do
  "$TIDE" capture log --raw "$W/$f.log" -o "$W/$f.tide" 2>"$W/err" || fail "$f: $(cat "$W/err")"
  grep -q "format $f+nginx:.*\$request_time (guessed" "$W/err" || fail "$f: not guessed: $(cat "$W/err")"
  grep -q "capture: 9 lines read, 6 records written, 0 late, 1 without a request, 0 bad" "$W/err" || fail "$f: counts: $(cat "$W/err")"
  grep -q "skipped 2: piece of a long line" "$W/err" || fail "$f: pieces not counted: $(cat "$W/err")"
  [ "$("$TIDE" cat --allow-raw "$W/$f.tide" | jq -r 'select(.path == "/search") | .query | length')" = 40002 ] || fail "$f: long line not joined"
  [ "$("$TIDE" cat --allow-raw "$W/$f.tide" | jq -s 'map(.duration_ms) | add')" = 22 ] || fail "$f: request times"
  "$TIDE" capture log --key-file "$W/k" "$W/$f.log" -o "$W/$f-anon.tide" 2>/dev/null || fail "$f: anonymized capture"
  "$TIDE" audit "$W/$f-anon.tide" >/dev/null 2>&1 || fail "$f: audit of the anonymized capture"
done
pass "container logs (cri, docker): guessed, lines read inside the wrapper, a 40 KB line joined from 3 pieces, stderr counted apart"
# two files of two formats in one trace: each source keeps its own format
"$TIDE" capture log --raw "$W/cri.log" "$W/docker.log" -o "$W/both.tide" 2>/dev/null || fail "cri + docker in one capture"
src=$("$TIDE" inspect "$W/both.tide" | grep '^sources')
case "$src" in *"cri.log (cri+nginx:"*"docker.log (docker+nginx:"*) ;; *) fail "sources' formats: $src" ;; esac
[ "$("$TIDE" cat --allow-raw "$W/both.tide" | wc -l)" -eq 12 ] || fail "cri + docker: not 12 records"
pass "logs of two formats in one capture: each source is listed with its own format"
# Heroku's router lines among the app's own, as `heroku logs` prints them;
# a Go app's key=value request log: both guessed, read whole
cat >"$W/heroku.log" <<'LOG'
2024-05-01T10:00:00.5+00:00 heroku[router]: at=info method=GET path="/essays/7?x=1" host=essays.herokuapp.com request_id=8601 fwd="204.204.204.204" dyno=web.1 connect=1ms service=18ms status=200 bytes=13 protocol=https
2024-05-01T10:00:00.6+00:00 app[web.1]: Started GET "/essays/7" for 204.204.204.204
2024-05-01T10:00:01+00:00 heroku[router]: at=error code=H12 desc="Request timeout" method=POST path="/api/f" host=essays.herokuapp.com fwd="10.1.1.1,204.204.204.205" dyno=web.1 connect=0ms service=30000ms status=503 bytes=0 protocol=https
2024-05-01T10:00:02+00:00 heroku[web.1]: State changed from starting to up
LOG
"$TIDE" capture log --raw "$W/heroku.log" -o "$W/heroku.tide" 2>"$W/err" || fail "heroku: $(cat "$W/err")"
grep -q "format syslog+heroku (guessed" "$W/err" && grep -q "4 lines read, 2 records written, 0 late, 0 without a request, 0 bad" "$W/err" &&
  grep -q "skipped 2: another program's syslog line" "$W/err" || fail "heroku: $(cat "$W/err")"
got=$("$TIDE" cat --allow-raw "$W/heroku.tide" | jq -r '[.ts,.method,.scheme,.host,.path,.status,.duration_ms,.client] | join(" ")' | tr '\n' ';')
[ "$got" = "2024-05-01T09:59:31.000000000Z POST https essays.herokuapp.com /api/f 503 30000 10.1.1.1;2024-05-01T10:00:00.482000000Z GET https essays.herokuapp.com /essays/7 200 18 204.204.204.204;" ] ||
  fail "heroku records: $got"
printf '%s\n' 'time=2024-05-01T10:00:00Z level=info msg="done" method=GET path=/a?b=1 status=200 duration=12ms remote_ip=1.2.3.4' \
  'time=2024-05-01T10:00:01Z level=info method=POST path="/api/x" status=201 duration=1.5s remote_ip=1.2.3.5' >"$W/kv.log"
"$TIDE" capture log --raw "$W/kv.log" -o "$W/kv.tide" 2>"$W/err" && grep -q "format kv (guessed" "$W/err" || fail "kv: $(cat "$W/err")"
[ "$("$TIDE" cat --allow-raw "$W/kv.tide" | jq -r '[.path,.duration_ms] | join(" ")' | tr '\n' ';')" = "/api/x 1500;/a 12;" ] || fail "kv records"
pass "Heroku router lines (syslog+heroku) and key=value app logs (kv): guessed, read whole, other programs' lines counted apart"

# a journal export (journalctl -o json) of nginx logging to syslog, among
# other programs' entries: guessed, the entries' programs told apart
python3 - "$W/journal.json" <<'PY'
import json, sys
with open(sys.argv[1], 'w') as f:
    for i in range(1, 4):
        line = '192.0.2.%d - - [10/Oct/2025:13:55:0%d +0000] "GET /e/%d HTTP/1.1" 200 5 "-" "Mo"' % (i, i, i)
        f.write(json.dumps({"__REALTIME_TIMESTAMP": str(1760104500000000 + i), "SYSLOG_IDENTIFIER": "nginx", "_PID": "7", "MESSAGE": line}) + "\n")
        f.write(json.dumps({"__REALTIME_TIMESTAMP": str(1760104500000000 + i), "SYSLOG_IDENTIFIER": "sshd", "MESSAGE": "Accepted publickey"}) + "\n")
    f.write(json.dumps({"__REALTIME_TIMESTAMP": "1760104510000000", "SYSLOG_IDENTIFIER": "nginx", "MESSAGE": None}) + "\n")
PY
"$TIDE" capture log --raw --max-bad 100% "$W/journal.json" -o "$W/journal.tide" 2>"$W/err" || fail "journal: $(cat "$W/err")"
grep -q "format journal+combined (guessed" "$W/err" && grep -q "7 lines read, 3 records written, 0 late, 0 without a request, 1 bad" "$W/err" &&
  grep -q "skipped 3: another program's journal entry" "$W/err" && grep -q "journal.json:7: journal entry: MESSAGE left out by journalctl" "$W/err" ||
  fail "journal: $(cat "$W/err")"
[ "$("$TIDE" cat --allow-raw "$W/journal.tide" | jq -r .path | tr '\n' ' ')" = "/e/1 /e/2 /e/3 " ] || fail "journal records"
pass "a journal export: guessed (journal+combined), other programs' entries counted apart, a MESSAGE left out is a bad line"

# --since/--until: an incident's window out of a longer log; the rest counted
for i in 1 2 3 4 5 6; do
  printf '192.0.2.%d - - [10/Oct/2025:13:55:0%d +0000] "GET /e/%d HTTP/1.1" 200 5 "-" "M"\n' $i $i $i
done >"$W/day.log"
"$TIDE" capture log --raw --since 2025-10-10T13:55:02Z --until 2025-10-10T13:55:04Z "$W/day.log" -o "$W/win.tide" 2>"$W/err" ||
  fail "--since/--until: $(cat "$W/err")"
grep -q "6 lines read, 2 records written" "$W/err" &&
  grep -q "4 request(s) outside --since/--until (they start from 2025-10-10T13:55:01.000000000Z to 2025-10-10T13:55:06.000000000Z)" "$W/err" ||
  fail "--since/--until counts: $(cat "$W/err")"
[ "$("$TIDE" cat --allow-raw "$W/win.tide" | jq -r .path | tr '\n' ' ')" = "/e/2 /e/3 " ] || fail "--since/--until records"
"$TIDE" capture log --raw --since 2025-10-10T13:55:04Z --until 2025-10-10T13:55:02Z "$W/day.log" -o "$W/x.tide" 2>/dev/null
[ $? -eq 2 ] || fail "--until before --since not refused"
pass "--since/--until keep the requests that start in the window and count the rest"

# a directory for a file: said, exit 2
mkdir -p "$W/logdir"
"$TIDE" capture log --raw --format combined "$W/logdir" -o "$W/d.tide" 2>"$W/err"
[ $? -eq 2 ] && grep -q "is a directory" "$W/err" || fail "a directory given: $(cat "$W/err")"
pass "a directory given for a log: a clear error, exit 2"

# a log's rotations guessed alike: said once, then counted
cp "$W/day.log" "$W/day.log.1"
gzip -c "$W/day.log" >"$W/day.log.2.gz"
"$TIDE" capture log --raw "$W/day.log.2.gz" "$W/day.log.1" "$W/day.log" -o "$W/rot.tide" 2>"$W/err" || fail "rotations: $(cat "$W/err")"
[ "$(grep -c "(guessed; --format sets it)" "$W/err")" -eq 1 ] && grep -q "(and 2 more file(s) of that format)" "$W/err" ||
  fail "rotations guessed: $(cat "$W/err")"
pass "a log's rotations, guessed alike, are said once"

# right after logrotate the live log is empty: it takes its rotations' format
# (nothing to guess from); alone and followed, --format is asked for
: >"$W/fresh.log"
"$TIDE" capture log --raw "$W/day.log.1" "$W/fresh.log" -o "$W/fresh.tide" 2>"$W/err" || fail "an empty log among its rotations: $(cat "$W/err")"
grep -q "fresh.log: empty; read with the format of the others" "$W/err" || fail "empty log not said: $(cat "$W/err")"
[ "$("$TIDE" cat --allow-raw "$W/fresh.tide" | wc -l)" -eq "$("$TIDE" cat --allow-raw "$W/rot.tide" | wc -l | awk '{print $1 / 3}')" ] ||
  fail "an empty log among its rotations: records lost"
"$TIDE" capture log --raw --follow "$W/fresh.log" -o "$W/f2.tide" 2>"$W/err"
[ $? -eq 2 ] && grep -q "is empty: nothing to tell its format from; give --format" "$W/err" || fail "empty followed log: $(cat "$W/err")"
pass "an empty log (just rotated) takes its rotations' format; followed alone, --format is asked for"

# a file that ends inside a split line (the runtime died before the last
# piece): the pieces are one bad line, not lost without a word
head -n 7 "$W/cri.log" >"$W/cut.log"
"$TIDE" capture log --raw --max-bad 100% "$W/cut.log" -o "$W/cut.tide" 2>"$W/err" || fail "cut split line: $(cat "$W/err")"
grep -q "capture: 7 lines read, 5 records written, 0 late, 1 without a request, 1 bad" "$W/err" &&
  grep -q "cut.log:7: a line split by the container runtime ends with the file" "$W/err" || fail "cut split line: $(cat "$W/err")"
"$TIDE" capture log --raw "$W/cut.log" -o "$W/cut2.tide" 2>/dev/null && fail "cut split line: passed --max-bad 1%"
pass "a file ending inside a split line: its pieces count as one bad line"

# the live progress line is for terminals: stderr to a file gets none (nor its
# carriage returns) unless --progress asks; the summary is there either way
"$TIDE" capture log --raw --format combined "$W/big.bz2" -o "$W/p.tide" 2>"$W/err" || fail "progress: capture"
grep -q $'\r' "$W/err" && fail "progress line written to a file without --progress"
"$TIDE" capture log --raw --progress --format combined "$W/big.bz2" -o "$W/p.tide" 2>"$W/err" || fail "--progress: capture"
grep -q "capture: 20000 lines read, 20000 records written" "$W/err" || fail "--progress: summary: $(cat "$W/err")"
pass "no progress line on stderr that is not a terminal unless --progress; the summary stays whole"

# options out of range are refused before any work, saying which
for bad in "--max-bad -3" "--max-bad 200%" "--max-bad x" "--level 0" "--level 99" "--reorder-window -5s" "--tz 25" "--tz +2"; do
  "$TIDE" capture log --raw --format combined $bad "$W/crlf.log" -o "$W/bad.tide" 2>"$W/err"
  [ $? -eq 2 ] && [ ! -e "$W/bad.tide" ] && grep -q -- "${bad%% *}" "$W/err" || fail "$bad not refused: $(cat "$W/err")"
done
"$TIDE" capture log --raw --format combined --max-bad 1.5% --level 19 "$W/crlf.log" -o "$W/ok.tide" 2>/dev/null || fail "--max-bad 1.5% --level 19"
pass "out-of-range --max-bad, --level, --reorder-window, --tz are refused (exit 2, no file); in-range ones work"

# lines that go on past what the format reads are counted and said (their
# rest is not stored); the same lines under the format they are leave none
printf '%s\n' '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "x" 0.163' \
  '1.2.3.5 - - [10/Oct/2000:13:55:37 -0700] "GET /a HTTP/1.1" 200 1 "-" "x" 0.2' \
  '1.2.3.6 - - [10/Oct/2000:13:55:38 -0700] "GET /b HTTP/1.1" 200 1 "-" "x" 0.001' >"$W/tail.log"
"$TIDE" capture log --raw --format combined "$W/tail.log" -o "$W/tail.tide" 2>"$W/err" || fail "tail capture"
grep -q "3 record(s) from lines that go on past what the format reads" "$W/err" || fail "unread tails not said: $(cat "$W/err")"
"$TIDE" capture log --raw "$W/tail.log" -o "$W/tail2.tide" 2>"$W/err" || fail "tail capture, guessed"
grep -q "go on past" "$W/err" && fail "guessed combined + \$request_time still leaves something unread: $(cat "$W/err")"
[ "$("$TIDE" cat --allow-raw "$W/tail2.tide" | jq -s 'map(.duration_ms) | add')" = 364 ] || fail "request times not read"
pass "lines that go on past the format are counted and said; the guessed format reads them (durations 163+200+1 ms)"

# three years of daily logs are read together: past a soft open-file limit
# of 256 (tide raises it to the hard one); with a hard limit that low, the
# error says the limit and what to do
mkdir "$W/days"
for i in $(seq 1 1100); do
  printf '10.0.0.1 - - [%s] "GET /p/%d HTTP/1.1" 200 5 "-" "x"\n' \
    "$(date -u -d "2026-01-01 +$i minutes" '+%d/%b/%Y:%H:%M:%S +0000')" "$i"
done | split -l 1 -a 4 - "$W/days/access.log."
(ulimit -S -n 256; exec "$TIDE" capture log --raw "$W/days/"access.log.* -o "$W/days.tide" 2>"$W/err") ||
  fail "1100 files past a soft limit of 256: $(tail -2 "$W/err")"
[ "$("$TIDE" cat --allow-raw "$W/days.tide" | wc -l)" -eq 1100 ] || fail "1100 files: records"
(ulimit -n 256; exec "$TIDE" capture log --raw "$W/days/"access.log.* -o "$W/days2.tide" 2>"$W/err")
rc=$?
[ $rc -ne 0 ] && [ ! -e "$W/days2.tide" ] && grep -q "Too many open files (every input is read at once, and the limit is 256" "$W/err" ||
  fail "a hard limit of 256: exit $rc: $(tail -2 "$W/err")"
pass "1100 log files read together past a soft open-file limit; a hard limit too low is said with its value"

# a pipe given by name (bash's <(...), a FIFO) can be read once: with
# --format every line is captured; without, tide refuses rather than guess
# from its start (which the guess would have eaten: 0 records, exit 0)
"$TIDE" capture log --raw --format combined <(cat "$W/days/"access.log.*) -o "$W/pipe.tide" 2>"$W/err" ||
  fail "a named pipe with --format: $(cat "$W/err")"
[ "$("$TIDE" cat --allow-raw "$W/pipe.tide" | wc -l)" -eq 1100 ] || fail "a named pipe: records"
"$TIDE" capture log --raw <(cat "$W/days/"access.log.*) -o "$W/pipe2.tide" 2>"$W/err"
[ $? -eq 2 ] && grep -q "is a pipe (or a device): what a guess reads of it would be lost; give --format" "$W/err" ||
  fail "a named pipe without --format: $(cat "$W/err")"
mkfifo "$W/fifo"
cat "$W/days/"access.log.* >"$W/fifo" &
"$TIDE" capture log --raw --format combined "$W/fifo" -o "$W/fifo.tide" 2>/dev/null || fail "a FIFO with --format"
wait
[ "$("$TIDE" cat --allow-raw "$W/fifo.tide" | wc -l)" -eq 1100 ] || fail "a FIFO: records"
pass "logs from a pipe given by name (<(...), a FIFO): whole with --format, refused without (a guess would eat its start)"

# Node's pino-http: JSON lines guessed without a map (req.method, req.url,
# req.headers, req.remoteAddress, res.statusCode, responseTime in ms); the
# application's other lines are log events, skipped as no request, not bad
cat >"$W/pino.log" <<'EOF2'
{"level":30,"time":1763632800000,"pid":42,"hostname":"web-1","msg":"server listening on 3000"}
{"level":30,"time":1763632800123,"pid":42,"hostname":"web-1","req":{"id":1,"method":"GET","url":"/essays/42?draft=1","query":{"draft":"1"},"headers":{"host":"learn.example.edu","user-agent":"Mozilla/5.0"},"remoteAddress":"::ffff:198.51.100.7","remotePort":51234},"res":{"statusCode":200,"headers":{}},"responseTime":5.2,"msg":"request completed"}
{"level":40,"time":1763632800300,"pid":42,"hostname":"web-1","msg":"slow query","ms":812}
{"level":30,"time":1763632800456,"pid":42,"hostname":"web-1","req":{"id":2,"method":"POST","url":"/api/login","headers":{"host":"learn.example.edu"},"remoteAddress":"::ffff:198.51.100.8"},"res":{"statusCode":401},"responseTime":12,"msg":"request completed"}
EOF2
"$TIDE" capture log --raw "$W/pino.log" -o "$W/pino.tide" 2>"$W/err" || fail "pino-http log: $(cat "$W/err")"
grep -q "format json (guessed" "$W/err" && grep -q "4 lines read, 2 records written, 0 late, 0 without a request, 0 bad" "$W/err" &&
  grep -q "skipped 2: an application's log event" "$W/err" || fail "pino-http counts: $(cat "$W/err")"
got=$("$TIDE" cat --allow-raw "$W/pino.tide" | jq -r '[.ts, .method, .path, .query, .client, .status, .duration_ms] | join(" ")' | tr '\n' ';')
[ "$got" = "2025-11-20T10:00:00.117800000Z GET /essays/42 draft=1 ::ffff:198.51.100.7 200 5.2;2025-11-20T10:00:00.444000000Z POST /api/login  ::ffff:198.51.100.8 401 12;" ] ||
  fail "pino-http records: $got"
# a JSON log whose names tide does not know: not an empty trace of "events"
printf '%s\n' '{"time":"2026-11-20T10:00:00Z","u":"/x","m":"GET"}' '{"time":"2026-11-20T10:00:01Z","u":"/y","m":"GET"}' >"$W/odd.log"
"$TIDE" capture log --raw --format json "$W/odd.log" -o "$W/odd.tide" 2>"$W/err"
[ $? -eq 2 ] && [ ! -e "$W/odd.tide" ] && grep -q "no line held a request: 2 lines had no path, method or status" "$W/err" ||
  fail "a JSON log of unknown names: $(cat "$W/err")"
pass "Node's pino-http logs: guessed, start = time - responseTime, other log events skipped as no request; a log of unknown names is refused, not written empty"
finish
