# Shared by bench/*.sh: build the release binaries, a scratch folder, timing.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cmake -S "$ROOT" -B "$ROOT/build-release" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$ROOT/build-release" >/dev/null
TIDE=$ROOT/build-release/tide
GEN=$ROOT/build-release/tide_bench_gen
B=${BENCH_DIR:-/tmp/tide-bench}
mkdir -p "$B"
# usage: measure LABEL CMD...  -> prints "LABEL: wall s, user+sys s, max RSS KB"
measure() {
  local label=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$B/time.out" "$@" >/dev/null 2>"$B/cmd.err" || { cat "$B/cmd.err"; return 1; }
  read -r wall user sys rss <"$B/time.out"
  printf '%-46s wall %7.2f s  cpu %7.2f s  rss %8d KB\n' "$label" "$wall" "$(echo "$user + $sys" | bc)" "$rss"
  LAST_WALL=$wall
  LAST_CPU=$(echo "$user + $sys" | bc)
  LAST_RSS=$rss
}
echo "# $(date -u +%FT%TZ) on $(nproc) cores, $(uname -m); tide $("$TIDE" --version | cut -d' ' -f2)"
