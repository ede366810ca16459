#!/usr/bin/env bash
# Log capture: MB/s and lines/s of `tide capture log --raw` on a generated
# combined log, against zstd -3 -T1 (the floor for anything that reads and
# compresses it) and goaccess (a peer log parser) in the same run; inline
# anonymization's cost; peak RSS at two input sizes. Usage: bench/capture.sh [BYTES]
. "$(dirname "$0")/common.sh"
SIZE=${1:-1000000000}
"$GEN" log 100000000 >"$B/100m.log"
"$GEN" log "$SIZE" >"$B/big.log"
lines=$(wc -l <"$B/big.log")
echo "input: $(stat -c %s "$B/big.log") bytes, $lines lines"
FMT='nginx:$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time'
measure "zstd -3 -T1" zstd -3 -T1 -q -c "$B/big.log"
zs=$LAST_WALL
measure "tide capture log --raw" "$TIDE" capture log --raw --format "$FMT" "$B/big.log" -o "$B/big.tide"
tr=$LAST_WALL; rss_big=$LAST_RSS
echo "  tide: $(echo "scale=1; $(stat -c %s "$B/big.log") / $tr / 1000000" | bc) MB/s, $(echo "$lines / $tr" | bc) lines/s; $(echo "scale=2; $tr / $zs" | bc)x zstd -3's time"
"$TIDE" keygen -o "$B/k" 2>/dev/null || true
measure "tide capture log (anonymized inline)" "$TIDE" capture log --key-file "$B/k" --format "$FMT" "$B/big.log" -o "$B/big-anon.tide"
echo "  inline anonymization: $(echo "scale=2; $LAST_WALL / $tr" | bc)x the raw capture's time"
if command -v goaccess >/dev/null; then
  measure "goaccess (COMBINED, JSON report)" goaccess "$B/big.log" --log-format=COMBINED -o "$B/ga.json"
fi
measure "tide capture log --raw, 100 MB input" "$TIDE" capture log --raw --format "$FMT" "$B/100m.log" -o "$B/100m.tide"
echo "peak RSS: $LAST_RSS KB at 100 MB input, $rss_big KB at $(stat -c %s "$B/big.log") bytes"
zstd -19 -T1 -q -c "$B/100m.log" >"$B/100m.log.zst"
echo "trace size: $(stat -c %s "$B/100m.tide") B; zstd -19 of the log $(stat -c %s "$B/100m.log.zst") B = $(echo "scale=2; $(stat -c %s "$B/100m.tide") / $(stat -c %s "$B/100m.log.zst")" | bc)x"
measure "tide audit (anonymized trace)" "$TIDE" audit "$B/big-anon.tide"
au=$LAST_WALL
measure "tide cat (same trace)" "$TIDE" cat "$B/big-anon.tide"
echo "  audit scans at $(echo "scale=2; $LAST_WALL / $au" | bc)x the speed cat prints"
