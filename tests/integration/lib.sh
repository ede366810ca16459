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
    for _ in $(seq 50); do
      if curl -sk -o /dev/null "${NGINX_SCHEME:-http}://127.0.0.1:$port/__probe" 2>/dev/null; then
        NGINX_PORT=$port
        sleep 0.1
        : >"$dir/logs/access.log" 2>/dev/null || true
        return 0
      fi
      kill -0 "$NGINX_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill "$NGINX_PID" 2>/dev/null; wait "$NGINX_PID" 2>/dev/null
    NGINX_PID=""
  done
  return 1
}
nginx_stop() {
  if [ -n "${NGINX_PID:-}" ]; then kill "$NGINX_PID" 2>/dev/null; wait "$NGINX_PID" 2>/dev/null; fi
  NGINX_PID=""
}
