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
