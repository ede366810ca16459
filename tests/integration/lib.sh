# Helpers for integration tests: pass/fail lines and a final tally that
# ctest and CI read ("N passed, N failed").
PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "ok   - $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL - $*"; finish; }
skip() { echo "skip - $*"; exit 77; }
finish() {
  echo "$(basename "$0"): $PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ] && exit 0 || exit 1
}
need() { command -v "$1" >/dev/null 2>&1 || skip "$1 is not installed"; }

# Waits up to 5 s for a server started as PID to answer URL: 0 once it does,
# 1 if it exits or never answers.
wait_http() {
  local url=$1 pid=$2
  for _ in $(seq 50); do
    curl -sk -o /dev/null "$url" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# Starts nginx on 127.0.0.1 (a random free port) with one server block.
# Usage: nginx_start DIR LOG_FORMAT SERVER_DIRECTIVES
# (NGINX_LISTEN_OPTS=ssl and NGINX_SCHEME=https for a TLS server.)
# Sets NGINX_PID and NGINX_PORT; the access log is DIR/logs/access.log.
# Stop it with nginx_stop (by PID; never by name).
nginx_start() {
  local dir=$1 fmt=$2 body=$3 port try
  mkdir -p "$dir/logs" "$dir/html"
  NGINX_PID=""
  for try in 1 2 3 4 5; do
    port=$((20000 + (RANDOM % 20000)))
    cat >"$dir/nginx.conf" <<NGX
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log;
events { worker_connections ${NGINX_WORKER_CONNECTIONS:-256}; }
http {
  access_log off;
  log_format t '$fmt';
  client_body_temp_path $dir/tmp_body;
  proxy_temp_path $dir/tmp_proxy;
  fastcgi_temp_path $dir/tmp_fcgi;
  uwsgi_temp_path $dir/tmp_uwsgi;
  scgi_temp_path $dir/tmp_scgi;
  server {
    listen 127.0.0.1:$port ${NGINX_LISTEN_OPTS:-};
    root $dir/html;
    access_log $dir/logs/access.log t;
    $body
  }
}
NGX
    nginx -c "$dir/nginx.conf" -p "$dir" 2>>"$dir/logs/start.err" &
    NGINX_PID=$!
    if wait_http "${NGINX_SCHEME:-http}://127.0.0.1:$port/__probe" "$NGINX_PID"; then
      NGINX_PORT=$port
      sleep 0.1
      : >"$dir/logs/access.log" 2>/dev/null || true
      return 0
    fi
    kill "$NGINX_PID" 2>/dev/null; wait "$NGINX_PID" 2>/dev/null
    NGINX_PID=""
  done
  return 1
}
nginx_stop() {
  if [ -n "${NGINX_PID:-}" ]; then kill "$NGINX_PID" 2>/dev/null; wait "$NGINX_PID" 2>/dev/null; fi
  NGINX_PID=""
}

# Apache httpd in the foreground (-X) on 127.0.0.1, a random free port.
# apache_modules NAME...: skips the test unless each module is installed.
# apache_start DIR SCHEME LISTEN_PROTO MODULE... (http "" or https https):
# writes DIR/httpd.conf:
# ServerRoot, the modules, Listen, ServerName, PidFile, DocumentRoot DIR/html
# open to all, then what the test's function apache_conf PORT prints; starts
# it and waits for an answer (up to five ports). Sets APACHE_PID and
# APACHE_PORT. Stop it with apache_stop (by PID; never by name).
APACHE_MODS=/usr/lib/apache2/modules
apache_modules() {
  local mod
  for mod in "$@"; do
    [ -e "$APACHE_MODS/mod_$mod.so" ] || skip "Apache module $mod is not installed"
  done
}
apache_start() {
  local dir=$1 scheme=$2 proto=$3 port mod
  shift 3
  APACHE_PID=""
  mkdir -p "$dir/logs" "$dir/html"
  for _ in 1 2 3 4 5; do
    port=$((20000 + (RANDOM % 20000)))
    {
      echo "ServerRoot \"$dir\""
      echo "DefaultRuntimeDir \"$dir\""
      for mod in "$@"; do echo "LoadModule ${mod}_module $APACHE_MODS/mod_$mod.so"; done
      echo "Listen 127.0.0.1:$port $proto"
      echo "ServerName 127.0.0.1"
      echo "PidFile \"$dir/httpd.pid\""
      echo "DocumentRoot \"$dir/html\""
      echo "<Directory \"$dir/html\">"
      echo "  Require all granted"
      echo "</Directory>"
      apache_conf "$port"
    } >"$dir/httpd.conf"
    apache2 -X -f "$dir/httpd.conf" >"$dir/logs/start.out" 2>&1 &
    APACHE_PID=$!
    if wait_http "$scheme://127.0.0.1:$port/__probe" "$APACHE_PID"; then
      APACHE_PORT=$port
      return 0
    fi
    apache_stop
  done
  return 1
}
apache_stop() {
  if [ -n "${APACHE_PID:-}" ]; then kill "$APACHE_PID" 2>/dev/null; wait "$APACHE_PID" 2>/dev/null; fi
  APACHE_PID=""
}

# For tests that record nginx's traffic: a work directory W holding nginx's
# html (index.html: "hello"), and an exit trap that stops tcpdump (TD_PID), a
# capture (CAP_PID) and nginx, each by its PID, and removes W.
pcap_test_setup() {
  W=$(mktemp -d)
  TD_PID=""
  CAP_PID=""
  trap '[ -n "$TD_PID" ] && kill "$TD_PID" 2>/dev/null; [ -n "$CAP_PID" ] && kill "$CAP_PID" 2>/dev/null; nginx_stop; rm -rf "$W"' EXIT
  mkdir -p "$W/ngx/html"
  echo hello >"$W/ngx/html/index.html"
  chmod -R a+rX "$W"
}
