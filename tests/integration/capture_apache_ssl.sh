#!/usr/bin/env bash
# A real Apache httpd with mod_ssl on 127.0.0.1, logging as Red Hat's and
# Fedora's ssl.conf does: every HTTPS request both to ssl_access_log
# (TransferLog, combined) and to mod_ssl's ssl_request_log
# ("%t %h %{SSL_PROTOCOL}x %{SSL_CIPHER}x \"%r\" %b", no status), and its
# errors to ssl_error_log. A glob of the log directory takes in all three:
# tide reads every request once (the request log and the error log are said
# and left out), with its format guessed or taken from the configuration.
# Given alone, the request log is read: %t first in a format holds a space.
set -u
TIDE=${1:?usage: capture_apache_ssl.sh TIDE}
. "$(dirname "$0")/lib.sh"
need apache2
need curl
need jq
need openssl
apache_modules mpm_prefork authz_core ssl socache_shmcb

W=$(mktemp -d)
trap 'apache_stop; rm -rf "$W"' EXIT

mkdir -p "$W/html/essays" "$W/logs"
echo "hello" >"$W/html/index.html"
echo "an essay" >"$W/html/essays/42"
chmod -R a+rX "$W"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$W/key.pem" -out "$W/cert.pem" -days 1 \
  -subj "/CN=127.0.0.1" >/dev/null 2>&1 || skip "openssl could not make a certificate"
apache_conf() {
  cat <<CFG
LogFormat "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"" combined
LogFormat "%h %l %u %t \"%r\" %>s %b"
SSLSessionCache shmcb:$W/ssl_scache(512000)
<VirtualHost _default_:$1>
  ErrorLog "$W/logs/ssl_error_log"
  TransferLog "$W/logs/ssl_access_log"
  LogLevel warn
  SSLEngine on
  SSLCertificateFile "$W/cert.pem"
  SSLCertificateKeyFile "$W/key.pem"
  CustomLog "$W/logs/ssl_request_log" \\
          "%t %h %{SSL_PROTOCOL}x %{SSL_CIPHER}x \"%r\" %b"
</VirtualHost>
CFG
}
apache_start "$W" https https mpm_prefork authz_core socache_shmcb ssl ||
  skip "apache did not start: $(tail -3 "$W/logs/start.out" 2>/dev/null)"
B="https://127.0.0.1:$APACHE_PORT"

now() { date +%s%N; }
send() { # path query status
  local url="$B$1" t0 t1 code
  [ -n "$2" ] && url="$url?$2"
  t0=$(now)
  code=$(curl -sk -o /dev/null -w '%{http_code}' -A "tide-test" "$url")
  t1=$(now)
  [ "$code" = "$3" ] || fail "curl $1 got $code, want $3"
  echo "$1 ${2:--} $3 $t0 $t1" >>"$W/sent"
}
send /index.html "page=1" 200
send /essays/42 "" 200
send /missing "" 404
send /index.html "page=2&q=x" 200
n_sent=$(wc -l <"$W/sent")
sleep 0.3
apache_stop
# the probe's lines are taken out, so the files hold exactly what was sent;
# an error log line is written if Apache left none
for l in ssl_access_log ssl_request_log; do
  grep -v __probe "$W/logs/$l" >"$W/$l.tmp" && mv "$W/$l.tmp" "$W/logs/$l"
  [ "$(wc -l <"$W/logs/$l")" -eq "$n_sent" ] || fail "apache wrote $(wc -l <"$W/logs/$l") lines to $l, want $n_sent"
done
[ -s "$W/logs/ssl_error_log" ] || fail "Apache wrote no error log"
rm -f "$W/logs/start.out"

# the directory, guessed, and with the configuration: each request once
for how in guess conf; do
  opt=()
  [ "$how" = conf ] && opt=(--apache-conf "$W/httpd.conf")
  "$TIDE" capture log --raw "${opt[@]}" "$W/logs/"* -o "$W/all-$how.tide" 2>"$W/err" || fail "$how: $(cat "$W/err")"
  grep -q "ssl_request_log: mod_ssl's request log .*: left out" "$W/err" ||
    fail "$how: the request log not said: $(cat "$W/err")"
  grep -q "ssl_error_log: Apache's error log, not an access log: left out" "$W/err" ||
    fail "$how: the error log not said: $(cat "$W/err")"
  "$TIDE" cat --allow-raw "$W/all-$how.tide" | jq -r '[.path, (.query | if . == "" then "-" else . end), .status] | @tsv' |
    sort >"$W/got-$how"
  awk '{ print $1 "\t" $2 "\t" $3 }' "$W/sent" | sort >"$W/want"
  cmp -s "$W/got-$how" "$W/want" || fail "$how: records: $(cat "$W/got-$how" | tr '\n' ' ')"
done
pass "Apache's log directory with mod_ssl's request log: every HTTPS request once, request and error logs left out ($n_sent)"

# the request log alone: read (guessed), its %t first
"$TIDE" capture log --raw "$W/logs/ssl_request_log" -o "$W/req.tide" 2>"$W/err" || fail "request log alone: $(cat "$W/err")"
grep -q "format ssl_request (guessed" "$W/err" || fail "request log alone: not guessed: $(cat "$W/err")"
"$TIDE" cat --allow-raw "$W/req.tide" >"$W/req.jsonl"
[ "$(wc -l <"$W/req.jsonl")" -eq "$n_sent" ] || fail "request log alone: $(wc -l <"$W/req.jsonl") records"
i=0
while read -r path q want t0 t1; do
  i=$((i + 1)); [ "$q" = - ] && q=""
  rec=$(jq -c --arg p "$path" --arg q "$q" 'select(.path == $p and .query == $q)' "$W/req.jsonl")
  [ "$(echo "$rec" | grep -c .)" -eq 1 ] || fail "request $i ($path): $(echo "$rec" | grep -c .) records"
  [ "$(echo "$rec" | jq -r .client)" = "127.0.0.1" ] || fail "request $i: client $(echo "$rec" | jq -r .client)"
  start_ns=$(date -d "$(echo "$rec" | jq -r .ts)" +%s%N)
  lo=$((t0 / 1000000000 * 1000000000))
  [ "$start_ns" -ge "$lo" ] && [ "$start_ns" -le "$t1" ] ||
    fail "request $i ($path): start $(echo "$rec" | jq -r .ts) outside [$t0, $t1]"
done <"$W/sent"
pass "mod_ssl's request log alone is read: path, query, client and start time (its %t first) match what was sent"
finish
