#!/usr/bin/env bash
# Drives the built tide binary through import, cat, inspect and merge:
# round trips, windows, golden files, truncated and corrupt traces, refusals.
# Usage: cli_trace.sh PATH/TO/tide   (run from the repository root)
set -u
TIDE=${1:?usage: cli_trace.sh TIDE}
. "$(dirname "$0")/lib.sh"
need python3

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

ex=examples/school.jsonl

# --- round trip: cat | import | cat reproduces its input exactly -------------
"$TIDE" import --raw "$ex" -o "$W/a.tide" 2>"$W/err" || fail "import failed: $(cat "$W/err")"
grep -q "1500 records written, 0 bad" "$W/err" || fail "import summary missing: $(cat "$W/err")"
"$TIDE" cat --allow-raw "$W/a.tide" >"$W/a.jsonl" || fail "cat failed"
[ "$(wc -l <"$W/a.jsonl")" -eq 1500 ] || fail "cat printed $(wc -l <"$W/a.jsonl") lines, want 1500"
"$TIDE" import --raw - -o "$W/b.tide" <"$W/a.jsonl" 2>/dev/null || fail "import from stdin failed"
"$TIDE" cat --allow-raw "$W/b.tide" >"$W/b.jsonl"
cmp -s "$W/a.jsonl" "$W/b.jsonl" || fail "cat | import | cat is not exact"
pass "cat | import | cat round trip is exact"

# the JSON is accepted by a general JSON parser, field by field
first_ts=$(head -1 "$W/a.jsonl" | jq -r .ts)
[ "$first_ts" = "2026-11-20T00:00:00.195657000Z" ] || fail "first ts is $first_ts"
pass "cat output is valid JSON with RFC 3339 ns timestamps"

# --- raw traces are refused without --allow-raw ------------------------------
"$TIDE" cat "$W/a.tide" >/dev/null 2>"$W/err"
[ $? -eq 2 ] || fail "cat of a raw trace did not exit 2"
grep -q "raw" "$W/err" || fail "refusal does not say raw"
pass "cat refuses a raw trace without --allow-raw"
[ "$(stat -c %a "$W/a.tide")" = 600 ] || fail "raw trace mode is $(stat -c %a "$W/a.tide"), want 600"
pass "raw traces are created owner-only (0600)"

# --- windows: --from/--to absolute and as offsets, --limit --------------------
n=$("$TIDE" cat --allow-raw --from 2026-11-20T00:05:00Z --to 2026-11-20T00:06:00Z "$W/a.tide" | wc -l)
want=$(jq -r 'select(.ts >= "2026-11-20T00:05:00" and .ts < "2026-11-20T00:06:00") | .ts' "$W/a.jsonl" | wc -l)
[ "$n" -eq "$want" ] && [ "$n" -gt 0 ] || fail "window printed $n records, want $want"
n2=$("$TIDE" cat --allow-raw --from +4m59.804343s --to +5m59.804343s "$W/a.tide" | wc -l)
[ "$n2" -eq "$want" ] || fail "offset window printed $n2, want $want"
[ "$("$TIDE" cat --allow-raw --limit 7 "$W/a.tide" | wc -l)" -eq 7 ] || fail "--limit"
"$TIDE" cat --allow-raw --from yesterday "$W/a.tide" >/dev/null 2>&1
[ $? -eq 2 ] || fail "bad --from accepted"
pass "--from/--to (absolute and offsets) and --limit"

# a forgotten -o is said first and alone: nothing is read, guessed or warned about
"$TIDE" cat --allow-raw "$W/a.tide" | head -3 >"$W/few.jsonl"
for cmd in "import $W/few.jsonl" "anonymize $W/a.tide" "capture log $W/few.jsonl" "capture pcap $W/few.jsonl"; do
  # shellcheck disable=SC2086
  "$TIDE" $cmd 2>"$W/err"
  [ $? -eq 2 ] || fail "tide $cmd without -o: exit not 2"
  [ "$(wc -l <"$W/err")" -eq 1 ] && grep -q "an output is required" "$W/err" || fail "tide $cmd without -o: $(cat "$W/err")"
done
pass "a missing -o is the one thing said (import, anonymize, capture log, capture pcap)"

# reading from a pipe gives the same records
cat "$W/a.tide" | "$TIDE" cat --allow-raw - >"$W/p.jsonl" || fail "cat from pipe"
cmp -s "$W/a.jsonl" "$W/p.jsonl" || fail "pipe read differs"
"$TIDE" cat --allow-raw "$W/a.tide" | "$TIDE" import --raw - -o - 2>/dev/null | "$TIDE" cat --allow-raw - >"$W/pp.jsonl"
cmp -s "$W/a.jsonl" "$W/pp.jsonl" || fail "trace written to a pipe differs"
pass "traces are readable from and writable to pipes"

# --- golden file of format version 1 stays readable ---------------------------
"$TIDE" cat --allow-raw tests/data/v1/golden-40-records.tide >"$W/g.jsonl" || fail "golden unreadable"
cmp -s "$W/g.jsonl" tests/data/v1/golden-40-records.jsonl || fail "golden v1 decodes differently"
pass "golden v1 trace decodes to its recorded JSON"
# 2.x: a capture of tests/data/v2/golden.log (nginx, $request_time), stored
# in line order with times as ends and sizes as byte planes, read by start
"$TIDE" cat --allow-raw tests/data/v2/golden-60-records.tide >"$W/g2.jsonl" || fail "golden v2 unreadable"
cmp -s "$W/g2.jsonl" tests/data/v2/golden-60-records.jsonl || fail "golden v2 decodes differently"
jq -r .ts "$W/g2.jsonl" | sort -c 2>/dev/null || fail "golden v2 not handed out by start"
[ "$(jq -r .source "$W/g2.jsonl" | head -3 | tr '\n' ' ')" != "golden.log:1 golden.log:2 golden.log:3 " ] || fail "golden v2 is in line order: it tests nothing"
[ "$("$TIDE" inspect --json tests/data/v1/golden-40-records.tide | jq .format_version)" = 1 ] &&
  [ "$("$TIDE" inspect --json tests/data/v2/golden-60-records.tide | jq .format_version)" = 2 ] || fail "inspect names the wrong format version"
pass "golden v2 trace decodes to its recorded JSON, by start"

# --- inspect -----------------------------------------------------------------
"$TIDE" inspect "$W/a.tide" >"$W/i.txt" || fail "inspect failed"
grep -q "records       1500" "$W/i.txt" || fail "inspect record count"
grep -q "RAW" "$W/i.txt" || fail "inspect does not flag raw"
grep -q "all 1 blocks verified OK" "$W/i.txt" || fail "inspect checksum line: $(grep checksums "$W/i.txt")"
grep -q "GET /essays/{id}" "$W/i.txt" || fail "inspect route templates"
"$TIDE" inspect --json "$W/a.tide" >"$W/i.json" || fail "inspect --json failed"
[ "$(jq .records "$W/i.json")" -eq 1500 ] || fail "inspect --json records"
[ "$(jq '.requests_per_minute | add' "$W/i.json")" -eq 1500 ] || fail "per-minute counts do not add up"
[ "$(jq -r '.methods.POST' "$W/i.json")" -eq "$(grep -c '"method":"POST"' "$W/a.jsonl")" ] || fail "POST count"
pass "inspect text and --json"

# --- truncated trace: prints what was good, says what was lost, exits 5 -------
"$TIDE" import --raw --block-records 100 "$ex" -o "$W/m.tide" 2>/dev/null
size=$(stat -c %s "$W/m.tide")
head -c $((size * 2 / 3)) "$W/m.tide" >"$W/cut.tide"
"$TIDE" cat --allow-raw "$W/cut.tide" >"$W/cut.jsonl" 2>"$W/err"
rc=$?
[ $rc -eq 5 ] || fail "truncated cat exit $rc, want 5"
grep -q "bytes after block" "$W/err" || fail "truncation message: $(cat "$W/err")"
lines=$(wc -l <"$W/cut.jsonl")
[ $((lines % 100)) -eq 0 ] && [ "$lines" -gt 0 ] || fail "truncated read gave $lines records"
head -n "$lines" "$W/a.jsonl" | cmp -s - "$W/cut.jsonl" || fail "truncated read is not a prefix"
"$TIDE" inspect "$W/cut.tide" >"$W/i.txt" 2>/dev/null
[ $? -eq 5 ] || fail "inspect of truncated trace should exit 5"
grep -q "INCOMPLETE" "$W/i.txt" || fail "inspect does not say INCOMPLETE"
pass "truncated trace: good blocks printed, loss reported, exit 5"

# --- corrupt block: named by number and offset; --skip-corrupt goes on -------
cp "$W/m.tide" "$W/bad.tide"
printf '\xff\xfe\xfd' | dd of="$W/bad.tide" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
"$TIDE" cat --allow-raw "$W/bad.tide" >"$W/bad.jsonl" 2>"$W/err"
[ $? -eq 5 ] || fail "corrupt cat should exit 5"
grep -Eq "block [0-9]+ at offset [0-9]+: checksum mismatch" "$W/err" || fail "corrupt message: $(cat "$W/err")"
"$TIDE" cat --allow-raw --skip-corrupt "$W/bad.tide" >"$W/skip.jsonl" 2>"$W/err"
[ $? -eq 5 ] || fail "skip-corrupt should still exit 5"
[ "$(wc -l <"$W/skip.jsonl")" -eq 1400 ] || fail "skip-corrupt printed $(wc -l <"$W/skip.jsonl"), want 1400"
grep -q "1 corrupt block(s) skipped (100 records" "$W/err" || fail "skip message: $(cat "$W/err")"
pass "corrupt block reported by number and offset; --skip-corrupt counts and continues"

# --- refusals ------------------------------------------------------------------
echo "not a trace" >"$W/x.tide"
"$TIDE" cat "$W/x.tide" 2>"$W/err"
[ $? -eq 2 ] && grep -q "not a tide trace" "$W/err" || fail "non-trace not refused"
cp "$W/a.tide" "$W/v9.tide"
printf '\x09' | dd of="$W/v9.tide" bs=1 seek=8 conv=notrunc 2>/dev/null
"$TIDE" inspect "$W/v9.tide" 2>"$W/err"
[ $? -eq 2 ] && grep -q "version 9.0 is not supported" "$W/err" || fail "newer version: $(cat "$W/err")"
[ "$(wc -l <"$W/err")" -eq 1 ] || fail "refusal is not one line"
pass "non-traces and newer versions are refused in one line"

# --- import: bad lines by number and reason, never the value -----------------
{ head -3 "$ex"; echo '{"ts":"2026-11-20T00:00:01Z","method":"GET","status":"oops-secret"}'; echo 'garbage secret@example.com'; tail -2 "$ex"; } >"$W/bad.jsonl"
rm -f "$W/bad.tide"
"$TIDE" import --raw "$W/bad.jsonl" -o "$W/bad.tide" 2>"$W/err"
[ $? -eq 2 ] || fail "bad lines should fail the import"
[ ! -e "$W/bad.tide" ] && [ -z "$(ls "$W" | grep '\.part-')" ] || fail "failed import left an output file"
# an output that was there before a failed run is left as it was
cp "$W/m.tide" "$W/kept.tide"
"$TIDE" import --raw "$W/bad.jsonl" -o "$W/kept.tide" 2>/dev/null && fail "bad lines should fail the import (kept)"
cmp -s "$W/m.tide" "$W/kept.tide" || fail "a failed run changed the output that was there before"
grep -q "bad.jsonl:4: column" "$W/err" || fail "line 4 not reported: $(cat "$W/err")"
grep -q "bad.jsonl:5: column" "$W/err" || fail "line 5 not reported"
grep -q "secret" "$W/err" && fail "an input value was echoed in an error"
"$TIDE" import --raw --max-bad 2 "$W/bad.jsonl" -o "$W/bad.tide" 2>"$W/err" || fail "--max-bad 2 should pass"
grep -q "5 records written, 2 bad" "$W/err" || fail "summary: $(cat "$W/err")"
pass "import reports bad lines by number and reason, never values; --max-bad"

# --- a closed pipe or a full disk: clear error, non-zero, no complete-looking file
# a pipe whose reader is gone before tide writes (a `| head -c 10` races with
# a trace small enough to fit the pipe buffer)
rc=$(python3 - "$TIDE" "$ex" "$W/err" <<'PY'
import os, subprocess, sys
r, w = os.pipe()
os.close(r)
with open(sys.argv[3], "w") as err:
    p = subprocess.run([sys.argv[1], "import", "--raw", sys.argv[2], "-o", "-"], stdout=w, stderr=err)
print(p.returncode)
PY
)
[ "$rc" -eq 4 ] || fail "closed pipe: exit $rc, want 4"
grep -q "pipe closed" "$W/err" || fail "closed pipe message: $(cat "$W/err")"
if [ -w /dev/full ]; then
  "$TIDE" import --raw "$ex" -o /dev/full 2>"$W/err"
  [ $? -eq 4 ] && grep -q "No space left" "$W/err" || fail "full disk: $(cat "$W/err")"
  # what a command prints to a full disk is a failure too (it exited 0, the file cut short)
  "$TIDE" import --raw "$ex" -o "$W/ok.tide" 2>/dev/null || fail "import for the stdout checks"
  for c in "cat --allow-raw $W/ok.tide" "inspect $W/ok.tide" "inspect --json $W/ok.tide" "--help"; do
    "$TIDE" $c >/dev/full 2>"$W/err"
    rc=$?
    [ $rc -eq 4 ] && grep -q "writing standard output failed: No space left on device" "$W/err" ||
      fail "tide $c > /dev/full: exit $rc: $(cat "$W/err")"
  done
fi
# a reader that goes away (| head) is no failure, and nothing is said
"$TIDE" cat --allow-raw "$W/ok.tide" 2>"$W/err" | head -c 10 >/dev/null
[ "${PIPESTATUS[0]}" -eq 0 ] && [ ! -s "$W/err" ] || fail "cat | head: exit ${PIPESTATUS[0]}: $(cat "$W/err")"
pass "closed pipe and full disk fail clearly with exit 4, for traces and for what commands print; | head is no failure"

# --- merge -----------------------------------------------------------------------
awk 'NR % 2 == 1' "$W/a.jsonl" >"$W/odd.jsonl"
awk 'NR % 2 == 0' "$W/a.jsonl" >"$W/even.jsonl"
"$TIDE" import --raw "$W/odd.jsonl" -o "$W/odd.tide" 2>/dev/null
"$TIDE" import --raw "$W/even.jsonl" -o "$W/even.tide" 2>/dev/null
"$TIDE" merge "$W/even.tide" "$W/odd.tide" -o "$W/merged.tide" 2>/dev/null || fail "merge failed"
"$TIDE" cat --allow-raw "$W/merged.tide" | jq -r .source >"$W/msrc"
jq -r .source "$W/a.jsonl" | cmp -s - "$W/msrc" || fail "merge did not restore time order"
[ "$("$TIDE" inspect --json "$W/merged.tide" | jq '.metadata.sources | length')" -eq 2 ] || fail "merged sources"
pass "merge orders by start time and lists every source"
# anonymized inputs: the same key and shift merge quietly; different keys or
# time shifts are said (pseudonyms, and times, would not line up)
"$TIDE" keygen -o "$W/k1" 2>/dev/null && "$TIDE" keygen -o "$W/k2" 2>/dev/null || fail "keygen"
"$TIDE" import --key-file "$W/k1" "$W/odd.jsonl" -o "$W/odd1.tide" 2>/dev/null &&
  "$TIDE" import --key-file "$W/k1" "$W/even.jsonl" -o "$W/even1.tide" 2>/dev/null &&
  "$TIDE" import --key-file "$W/k2" "$W/even.jsonl" -o "$W/even2.tide" 2>/dev/null &&
  "$TIDE" import --key-file "$W/k1" --time-shift "$W/even.jsonl" -o "$W/evens.tide" 2>/dev/null || fail "anonymized imports"
"$TIDE" merge "$W/odd1.tide" "$W/even1.tide" -o "$W/m1.tide" 2>"$W/err" || fail "merge, one key"
grep -q "different" "$W/err" && fail "one key: a difference said: $(cat "$W/err")"
"$TIDE" merge "$W/odd1.tide" "$W/even2.tide" -o "$W/m2.tide" 2>"$W/err" || fail "merge, two keys"
grep -q "odd1.tide and .*even2.tide were anonymized with different keys" "$W/err" || fail "two keys not said: $(cat "$W/err")"
"$TIDE" merge "$W/odd1.tide" "$W/evens.tide" -o "$W/m3.tide" 2>"$W/err" || fail "merge, two shifts"
grep -q "were moved by different time shifts (0 and [0-9]* weeks)" "$W/err" || fail "two shifts not said: $(cat "$W/err")"
pass "merge says when anonymized inputs differ in key or time shift, and is quiet when they agree"

# --- an output that is also an input is refused, the input untouched ---------------
cp "$W/odd.tide" "$W/same.tide"
cp "$W/odd.jsonl" "$W/same.jsonl"
head -3 "$W/odd.jsonl" | jq -r '"10.0.0.1 - - [20/Nov/2026:10:00:00 +0000] \"GET \(.path) HTTP/1.1\" 200 5 \"-\" \"x\""' >"$W/same.log"
sums() { md5sum "$W/same.tide" "$W/same.jsonl" "$W/same.log"; }
before=$(sums)
for c in "anonymize --key-file $W/k1 $W/same.tide -o $W/same.tide" "merge $W/odd.tide $W/same.tide -o $W/./same.tide" \
  "import --raw $W/same.jsonl -o $W/same.jsonl" "capture log --raw $W/same.log -o $W/same.log"; do
  "$TIDE" $c 2>"$W/err" >/dev/null
  rc=$?
  [ $rc -eq 2 ] && grep -q "is also an input (.*same\.[a-z]*): writing it would destroy what is to be read" "$W/err" ||
    fail "tide $c: exit $rc: $(cat "$W/err")"
done
[ "$(sums)" = "$before" ] || fail "an input was changed by a refused run"
pass "an output that is also an input (anonymize, merge, import, capture) is refused and the input left whole"

# --- help ---------------------------------------------------------------------
for c in import cat inspect merge capture replay plan report mock anonymize audit keygen; do
  "$TIDE" "$c" --help 2>&1 | grep -q "usage: tide $c" || fail "$c --help"
done
# capture's help shows each mode's options under its own heading
"$TIDE" capture --help 2>&1 | sed -n '/^tide capture log:/,/^$/p' | grep -q -- "--follow" || fail "capture log options"
"$TIDE" capture --help 2>&1 | sed -n '/^tide capture pcap:/,/^$/p' | grep -q -- "--interface" || fail "capture pcap options"
"$TIDE" --help | grep -q "inspect" || fail "tide --help"
pass "help for every command"

finish
