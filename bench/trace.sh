#!/usr/bin/env bash
# The trace format: size against zstd -19 of the same records as JSON lines,
# write and read rates, and what a --from/--to window costs on a 100k and a
# 10M-record trace. Usage: bench/trace.sh
. "$(dirname "$0")/common.sh"
"$GEN" jsonl 200000 >"$B/200k.jsonl"
"$TIDE" import --raw "$B/200k.jsonl" -o "$B/200k.tide" 2>/dev/null
zstd -19 -T1 -q -f "$B/200k.jsonl" -o "$B/200k.jsonl.zst"
t=$(stat -c %s "$B/200k.tide"); z=$(stat -c %s "$B/200k.jsonl.zst"); j=$(stat -c %s "$B/200k.jsonl")
echo "size, 200k synthetic records: JSON lines $j B, zstd -19 $z B, tide $t B = $(echo "scale=2; $t / $z" | bc)x of zstd -19"
for f in "${CORPUS:-$ROOT/../shared/corpus/logs}"/nielsbasjes-logparser/hackers-access.log "${CORPUS:-$ROOT/../shared/corpus/logs}"/lnav/logfile_shop_access_log.0; do
  [ -f "$f" ] || continue
  "$TIDE" capture log --raw "$f" -o "$B/real.tide" 2>/dev/null
  "$TIDE" cat --allow-raw "$B/real.tide" >"$B/real.jsonl"
  t=$(stat -c %s "$B/real.tide"); z=$(zstd -19 -T1 -q -c "$B/real.jsonl" | wc -c)
  echo "size, $(basename "$f") ($(wc -l <"$f") real lines): zstd -19 of JSON lines $z B, tide $t B = $(echo "scale=2; $t / $z" | bc)x"
done
"$GEN" trace 1000000 "$B/1m.tide"
"$GEN" read "$B/1m.tide"
"$GEN" trace 100000 "$B/100k.tide" >/dev/null
"$GEN" trace 10000000 "$B/10m.tide" >/dev/null
for n in 100k 10m; do
  measure "cat --from +3m --to +4m on $n records" "$TIDE" cat --from +3m --to +4m "$B/$n.tide"
  echo "  $("$TIDE" cat --from +3m --to +4m "$B/$n.tide" | wc -l) records in the window; trace $(stat -c %s "$B/$n.tide") B"
done
measure "cat of the whole 10m trace (for scale)" "$TIDE" cat "$B/10m.tide"
