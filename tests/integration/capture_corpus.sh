#!/usr/bin/env bash
# Every access log in ../shared/corpus/logs parses with the format it is:
# for each file, the lines read, records written, late lines, lines without a
# request and bad lines are stated below (checked by hand against the files;
# see ../shared/corpus/logs/SOURCES.md), and the guessed format where tide
# guesses it. Skips when the corpus is absent (a user's clone has none).
set -u
TIDE=${1:?usage: capture_corpus.sh TIDE}
. "$(dirname "$0")/lib.sh"
C=../shared/corpus/logs
[ -d "$C" ] || skip "../shared/corpus/logs is absent (only developer checkouts have it)"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

# file | --format (empty: guessed) | format tide must guess | lines records late no-request bad
# ("main": nginx's combined with "$http_x_forwarded_for" after it, as below)
MAIN='nginx:$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for"'
# Notes: rtmp logs hold streaming events, not HTTP requests: every event line
# is bad by design. apache_access_test.log line 7 and nginx_access_access.log
# line 13 are vhost-prefixed lines among combined ones: their host and client
# are told apart (checked below). logfile_syslog_with_access_log.0 is a syslog file in which
# two of five lines carry an access-log payload without a date of its own (the
# syslog header's date is theirs), among other programs' lines: checked below,
# with its format given. vhost_combined.log line 5, logfile_bad_access_log.0 line 2
# and mapreduce-access_log.gz line 2 are junk lines in the upstream files.
while IFS='|' read -r f fmt guess nums; do
  [ -n "$f" ] || continue
  out=$("$TIDE" capture log --raw --max-bad 100% ${fmt:+--format "$fmt"} "$C/$f" -o "$W/t.tide" 2>&1) ||
    fail "$f: capture failed: $out"
  got=$(echo "$out" | sed -nE 's/.*capture: ([0-9]+) lines read, ([0-9]+) records written, ([0-9]+) late, ([0-9]+) without a request, ([0-9]+) bad/\1 \2 \3 \4 \5/p')
  [ "$got" = "$nums" ] || fail "$f: got '$got' (lines records late no-request bad), want '$nums'"
  if [ "$guess" != - ]; then
    [ "$guess" = main ] && guess=$MAIN
    echo "$out" | grep -qF "format $guess (guessed" || fail "$f: guessed $(echo "$out" | grep -o 'format .* (guessed')"
  fi
  n=$("$TIDE" cat --allow-raw "$W/t.tide" | wc -l)
  [ "$n" -eq "$(echo "$nums" | cut -d' ' -f2)" ] || fail "$f: trace holds $n records"
  echo "$out" | grep -E "tide: [^ ]+:[0-9]+: " | grep -qE '"|Mozilla|GET /' && fail "$f: an error line quotes the input"
  pass "$f: $nums"
done <<'LIST'
apachelogs/joomla_exploit_escaped_ua.log||vhost_combined|1 1 0 0 0
apachelogs/vhost_combined.log||vhost_combined|7 6 0 0 1
beats-filebeat/apache_access_darwin-2.4.23.log||combined|6 5 0 1 0
beats-filebeat/apache_access_ssl-request.log||ssl_request|2 2 0 0 0
beats-filebeat/apache_access_test.log||main|7 5 0 2 0
beats-filebeat/nginx_access_access.log||combined|13 13 0 0 0
beats-filebeat/nginx_access_test.log||main|7 6 1 1 0
cloudfront-log-parser/kinesis-1-0.txt|cloudfront|-|3 1 0 0 0
cloudfront-log-parser/rtmp-1-0.txt|cloudfront|-|8 0 0 0 6
cloudfront-log-parser/web-1-0.txt||cloudfront|4 2 0 0 0
lnav/logfile_access_log.0||combined|3 3 0 0 0
lnav/logfile_access_log.1||combined|1 0 0 1 0
lnav/logfile_bad_access_log.0||combined|3 2 0 0 1
lnav/logfile_regexp_access_log.0||vhost_combined|2 2 0 0 0
lnav/logfile_shop_access_log.0||main|1000 1000 0 0 0
matomo/alb.log||alb|1 1 0 0 0
matomo/amazon_cloudfront_rtmp.log|cloudfront|-|4 0 0 0 2
matomo/amazon_cloudfront_web.log||cloudfront|3 1 0 0 0
matomo/caddy_json.log||json|3 3 0 0 0
matomo/common.log||combined|1 1 0 0 0
matomo/common.log.gz||combined|1 1 0 0 0
matomo/common.log.bz2||combined|1 1 0 0 0
matomo/common_complete.log||vhost_common|1 1 0 0 0
matomo/common_encoding_big5.log||vhost_common|1 1 0 0 0
matomo/common_vhost.log||vhost_common|1 1 0 0 0
matomo/elb.log||alb|3 1 0 1 0
matomo/haproxy.log||haproxy|1 1 0 0 0
matomo/iis.log||w3c|5 1 0 0 0
matomo/logs_to_tests.log||combined|6 4 0 0 0
matomo/ncsa_extended.log||combined|1 1 0 0 0
matomo/netscaler.log||w3c|5 1 0 0 0
matomo/nginx_json.log||json|2 2 0 0 0
matomo/s3.log||s3|1 1 0 0 0
matomo/static_ignores.log||vhost_common|4 4 0 0 0
matomo/traefik_json.log||json|1 1 0 0 0
nielsbasjes-logparser/hackers-access.log||combined|3456 3456 0 0 0
nielsbasjes-logparser/inputformat-access.log||combined|1 1 0 0 0
nielsbasjes-logparser/mapreduce-access_log.gz||combined|17 16 0 0 1
LIST

# spot checks of field values
"$TIDE" capture log --raw "$C/apachelogs/joomla_exploit_escaped_ua.log" -o "$W/j.tide" 2>/dev/null
ua=$("$TIDE" cat --allow-raw "$W/j.tide" | jq -r '.headers[] | select(.[0] == "User-Agent") | .[1]')
case "$ua" in *'"JDatabaseDriverMysqli"'*'𝌆') pass "Apache escapes (\\\", \\xHH) are decoded" ;; *) fail "escaped UA decoded wrong" ;; esac
"$TIDE" capture log --raw "$C/beats-filebeat/nginx_access_test.log" -o "$W/x.tide" 2>/dev/null
[ "$("$TIDE" cat --allow-raw "$W/x.tide" | jq -r 'select(.source | endswith(".log:1")) | .client')" = 10.0.0.2 ] || fail "XFF list client"
pass "an X-Forwarded-For list in the client field keeps the first hop as client"
# nginx's "main" format guessed: the X-Forwarded-For after the user agent is
# kept (13 lines of the shop log carry one), and no user agent keeps its
# closing quote (lines without the field end after it)
"$TIDE" capture log --raw "$C/lnav/logfile_shop_access_log.0" -o "$W/m.tide" 2>/dev/null
[ "$("$TIDE" cat --allow-raw "$W/m.tide" | jq -r '.headers[] | select(.[0] == "X-Forwarded-For") | .[1]' | grep -c .)" -eq 13 ] ||
  fail "X-Forwarded-For after the user agent not kept"
[ "$("$TIDE" cat --allow-raw "$W/m.tide" | jq -r '.headers[] | select(.[0] == "User-Agent") | .[1]' | grep -c '"$')" -eq 0 ] ||
  fail "a user agent kept its closing quote"
pass "nginx's main format (combined + X-Forwarded-For) is guessed and its X-Forwarded-For kept (13 of 1000 lines)"
"$TIDE" capture log --raw "$C/beats-filebeat/apache_access_ssl-request.log" -o "$W/r.tide" 2>/dev/null
got=$("$TIDE" cat --allow-raw "$W/r.tide" | jq -r '[.ts,.client,.path,.resp_bytes] | join(" ")' | tr '\n' ' ')
[ "$got" = "2018-08-10T07:45:56.000000000Z 172.30.0.119 /nagiosxi/ajaxhelper.php 1375 2019-10-16T09:53:47.000000000Z 81.2.69.143 /appl/ajaxhelper.php 0 " ] ||
  fail "mod_ssl request log fields: $got"
pass "mod_ssl's request log: %t first is read whole (its zone applied), the client after it"
"$TIDE" capture log --raw "$C/matomo/alb.log" -o "$W/a.tide" 2>/dev/null
[ "$("$TIDE" cat --allow-raw "$W/a.tide" | jq -r '[.ts,.scheme,.host,.path,.status,.duration_ms,.client] | join(" ")')" = \
  "2020-01-01T00:55:04.023000000Z https www.example.com:443 /path/index.html 200 103 1.2.3.4" ] || fail "ALB fields: $("$TIDE" cat --allow-raw "$W/a.tide")"
pass "ALB: start from request_creation_time, duration from processing times"
q='[.ts,.scheme,.host,.path,.query,.status,.resp_bytes,.duration_ms,.client,(.headers | map(.[0] + "=" + .[1]) | join("|"))] | join(" ")'
"$TIDE" capture log --raw "$C/matomo/iis.log" -o "$W/i.tide" 2>/dev/null
got=$("$TIDE" cat --allow-raw "$W/i.tide" | jq -r "$q")
[ "$got" = "2012-04-01T00:00:11.313000000Z http example.com /foo/bar topCat1=divinity&submit=Search 200 27028 1687 1.2.3.4 User-Agent=Mozilla/5.0 (X11; U; Linux i686; en-US; rv:1.9.2.7) Gecko/20100722 Firefox/3.6.7|Cookie=ASP.NET_SessionId=sldfkjs; __utma=21468.206199.142713.144683.183.1; utmccn=(direct)|utmcsr=(direct)|utmcmd=(none)" ] ||
  fail "IIS fields: $got"
pass "IIS (w3c): columns by #Fields, time-taken in ms (start = end - 1.687 s), '+' read as spaces"
"$TIDE" capture log --raw "$C/matomo/netscaler.log" -o "$W/n.tide" 2>/dev/null
got=$("$TIDE" cat --allow-raw "$W/n.tide" | jq -r '[.ts,.duration_ms,.status,.resp_bytes] | join(" ")')
[ "$got" = "2012-08-16T11:55:12.000000000Z 1000 302 355" ] || fail "NetScaler fields: $got"
pass "NetScaler (w3c): time-taken in seconds"
"$TIDE" capture log --raw "$C/matomo/haproxy.log" -o "$W/hp.tide" 2>/dev/null
got=$("$TIDE" cat --allow-raw "$W/hp.tide" | jq -r "$q")
[ "$got" = "2018-09-25T06:05:27.584000000Z https  /user/  200 7456 72 4.3.2.1 " ] || fail "HAProxy fields: $got"
"$TIDE" capture log --raw --tz +02:00 "$C/matomo/haproxy.log" -o "$W/hp2.tide" 2>/dev/null
[ "$("$TIDE" cat --allow-raw "$W/hp2.tide" | jq -r .ts)" = "2018-09-25T04:05:27.584000000Z" ] || fail "HAProxy --tz +02:00"
pass "HAProxy: syslog header skipped, start from the date (ms; --tz gives its zone), Ta as duration, ~ frontend is https"
"$TIDE" capture log --raw "$C/matomo/s3.log" -o "$W/s3.tide" 2>/dev/null
got=$("$TIDE" cat --allow-raw "$W/s3.tide" | jq -r '[.ts,.method,.path,.status,.resp_bytes,.duration_ms,.client] | join(" ")')
[ "$got" = "2012-02-10T21:42:07.000000000Z GET /index 200 368 10 1.2.3.4" ] || fail "S3 fields: $got"
pass "S3: start from the received time, total-time as duration"
"$TIDE" capture log --raw "$C/cloudfront-log-parser/web-1-0.txt" -o "$W/cf.tide" 2>/dev/null
[ "$("$TIDE" cat --allow-raw "$W/cf.tide" | jq -r '.headers[] | select(.[0] == "User-Agent") | .[1]' | head -1)" = \
  "Mozilla/5.0 (iPhone; CPU iPhone OS 10_2_1 like Mac OS X) AppleWebKit/602.4.6 (KHTML, like Gecko) Version/10.0 Mobile/14D27 Safari/602.1" ] ||
  fail "CloudFront user agent not decoded from %2520"
pass "CloudFront: a user agent's %2520 is read as a space"
"$TIDE" capture log --raw "$C/lnav/logfile_syslog_with_access_log.0" -o "$W/sys.tide" 2>"$W/err"
[ $? -ne 0 ] && [ ! -e "$W/sys.tide" ] && grep -q "cannot tell the log format" "$W/err" ||
  fail "syslog file: $(cat "$W/err")"
pass "a syslog file with undated access-log payloads is not guessed: tide says to give --format"
cp "$C/lnav/logfile_syslog_with_access_log.0" "$W/sys.log"
touch -d 2013-06-01T00:00:00Z "$W/sys.log"
"$TIDE" capture log --raw --format 'syslog+apache:%h %l %u "%r" %>s %b %T' "$W/sys.log" -o "$W/sys.tide" 2>"$W/err" ||
  fail "syslog file with its format: $(cat "$W/err")"
grep -q "5 lines read, 2 records written, 0 late, 0 without a request, 0 bad" "$W/err" &&
  grep -q "skipped 2: another program's syslog line" "$W/err" && grep -q "skipped 1: syslog's note of repeats" "$W/err" ||
  fail "syslog file counts: $(cat "$W/err")"
got=$("$TIDE" cat --allow-raw "$W/sys.tide" | jq -r '[.ts,.path,.status,.duration_ms] | join(" ")' | tr '\n' ';')
[ "$got" = "2013-03-24T14:02:45.614000000Z /includes/js/combined-javascript.js 200 4386;2013-03-24T14:02:45.614000000Z /bad.foo 404 4386;" ] ||
  fail "syslog file records: $got"
"$TIDE" capture log --raw --year 2011 --format 'syslog+apache:%h %l %u "%r" %>s %b %T' "$W/sys.log" -o "$W/sys2.tide" 2>/dev/null
[ "$("$TIDE" cat --allow-raw "$W/sys2.tide" | jq -r .ts | head -1)" = "2011-03-24T14:02:45.614000000Z" ] || fail "syslog --year"
pass "the syslog file with its format: the header's date (year from the file's last change, or --year) minus %T; other programs' lines and syslogd's repeat note counted apart"
"$TIDE" capture log --raw "$C/beats-filebeat/nginx_access_access.log" -o "$W/v.tide" 2>/dev/null
got=$("$TIDE" cat --allow-raw "$W/v.tide" | jq -r 'select(.source | endswith(":13")) | [.host, .client] | join(" ")')
[ "$got" = "lessons.example.com 192.168.0.1" ] || fail "vhost-prefixed line: host and client '$got'"
pass "a vhost-prefixed line among combined ones: host and client told apart"
"$TIDE" capture log --raw "$C/nielsbasjes-logparser/hackers-access.log" -o "$W/h.tide" 2>/dev/null
[ "$("$TIDE" cat --allow-raw "$W/h.tide" | jq -r '.client' | grep -c ':')" -gt 0 ] || fail "no IPv6 clients"
pass "IPv6 clients are kept"
# over the --max-bad default (1%), the run fails and leaves no file
"$TIDE" capture log --raw "$C/lnav/logfile_bad_access_log.0" -o "$W/bad.tide" 2>"$W/err"
[ $? -eq 2 ] && [ ! -e "$W/bad.tide" ] || fail "--max-bad default did not fail the run"
grep -q "logfile_bad_access_log.0:2: line does not match" "$W/err" || fail "bad line not named: $(cat "$W/err")"
"$TIDE" capture log --raw --strict "$C/apachelogs/vhost_combined.log" -o "$W/s.tide" 2>"$W/err"
[ $? -eq 2 ] && grep -q "line 5" "$W/err" || fail "--strict: $(cat "$W/err")"
pass "--max-bad and --strict fail the run, naming file and line"

# Fidelity: anonymizing real logs keeps what is not personal. User agents
# (browser versions such as Chrome/120.0.0.0 are not addresses) and page slugs
# (installing-fedora-linux-via-pxe-x86-64 is not a key) come out as they went in.
"$TIDE" keygen -o "$W/k" 2>/dev/null
for f in nielsbasjes-logparser/hackers-access.log lnav/logfile_shop_access_log.0; do
  "$TIDE" capture log --raw "$C/$f" -o "$W/raw.tide" 2>/dev/null || fail "$f: raw capture"
  "$TIDE" capture log --key-file "$W/k" "$C/$f" -o "$W/an.tide" 2>/dev/null || fail "$f: anonymized capture"
  q='[.path, ([.headers[] | select(.[0] == "User-Agent") | .[1]] | .[0] // "")] | @json'
  "$TIDE" cat --allow-raw "$W/raw.tide" | jq -r "$q" >"$W/a"
  "$TIDE" cat "$W/an.tide" | jq -r "$q" >"$W/b"
  ua=$(paste "$W/a" "$W/b" | awk -F'\t' '{split($1, x, "\",\""); split($2, y, "\",\"")} x[2] != y[2]' | grep -vc '@')
  paths=$(paste "$W/a" "$W/b" | awk -F'\t' '{split($1, x, "\",\""); split($2, y, "\",\"")} x[1] != y[1]' | wc -l)
  echo "  $f: $(wc -l <"$W/a") records, user agents changed (beyond emails) $ua, paths changed $paths"
  [ "$ua" -eq 0 ] || fail "$f: $ua user agents changed that hold no email"
  case $f in
  *hackers*) [ "$paths" -eq 4 ] || fail "$f: $paths paths changed (want 4: a random token in one path)" ;;
  *shop*) [ "$paths" -eq 0 ] || fail "$f: $paths paths changed (want 0)" ;;
  esac
done
pass "anonymizing real logs keeps user agents and page paths that hold nothing personal"

# tide's audit passes what tide's anonymizer makes of every log here that
# tide reads without being told its format
n=0
while read -r f; do
  "$TIDE" capture log --key-file "$W/k" --max-bad 100% "$f" -o "$W/an.tide" >/dev/null 2>&1 || continue
  "$TIDE" audit "$W/an.tide" >"$W/audit" 2>&1 || fail "${f#"$C"/}: audit of the anonymized capture: $(grep -E 'FINDING|tide' "$W/audit" | head -3)"
  n=$((n + 1))
done < <(find "$C" -type f ! -name SOURCES.md | sort)
[ "$n" -ge 30 ] || fail "only $n logs audited"
pass "the audit passes tide's anonymized capture of each of $n logs"
finish
