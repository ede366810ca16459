#!/usr/bin/env bash
# A disk that fills during a capture: the trace writer runs on a thread of its
# own, and its failure must still stop the run with the reason, exit 4, and no
# half-written trace left behind. Log and pcap capture, raw and anonymized, and
# tide anonymize, each into a 64 KiB tmpfs (the first block, past 65,536
# records, cannot be written); -o /dev/full fails at once and the device stays.
set -u
TIDE=${1:?usage: capture_full_disk.sh TIDE}
. "$(dirname "$0")/lib.sh"
need python3
W=$(mktemp -d)
MNT="$W/small"
mkdir -p "$MNT"
trap 'mountpoint -q "$MNT" && umount "$MNT"; rm -rf "$W"' EXIT
if ! mount -t tmpfs -o size=64k tmpfs "$MNT" 2>/dev/null; then
  skip "cannot mount a small tmpfs here (needs root and mount rights)"
fi
"$TIDE" keygen -o "$W/k" 2>/dev/null || fail "keygen"

# 70,000 log lines and a pcap of 70,000 requests: more than one block each
python3 - "$W" <<'PY'
import random, struct, sys
W = sys.argv[1]
rnd = random.Random(3)
with open(W + "/a.log", "w") as f:
    for i in range(70000):
        f.write('10.0.%d.%d - - [10/Oct/2025:13:%02d:%02d +0000] "GET /p/%d HTTP/1.1" 200 %d "-" "ua"\n'
                % (i // 250 % 250, i % 250 + 1, i // 3600 % 60, i // 60 % 60, i, i % 5000))
out = open(W + "/a.pcap", "wb")
out.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
t = [1700000000, 0]
def pkt(sp, dp, seq, ack, flags, payload):
    tcp = struct.pack(">HHIIBBHHH", sp, dp, seq & 0xffffffff, ack & 0xffffffff, 5 << 4, flags, 65535, 0, 0)
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 0, 0, 64, 6, 0, bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]))
    frame = bytes(12) + b"\x08\x00" + ip + tcp + payload
    t[1] += 10
    out.write(struct.pack("<IIII", t[0] + t[1] // 1000000, t[1] % 1000000, len(frame), len(frame)) + frame)
cs, ss = 1001, 5001
pkt(40000, 80, 1000, 0, 0x02, b"")
pkt(80, 40000, 5000, 1001, 0x12, b"")
for i in range(70000):
    rq = b"GET /p/%d?t=%016x HTTP/1.1\r\nHost: a\r\n\r\n" % (i, rnd.getrandbits(64))
    pkt(40000, 80, cs, ss, 0x18, rq); cs += len(rq)
    rs = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    pkt(80, 40000, ss, cs, 0x18, rs); ss += len(rs)
PY

full() { # full LABEL ARGS...: the run must fail with the reason and leave nothing
  local label=$1; shift
  rm -f "$MNT"/*
  "$TIDE" "$@" -o "$MNT/o.tide" 2>"$W/err"
  local rc=$?
  [ $rc -eq 4 ] || fail "$label: exit $rc, want 4: $(cat "$W/err")"
  grep -q "No space left on device" "$W/err" || fail "$label: the reason is missing: $(cat "$W/err")"
  [ ! -e "$MNT/o.tide" ] || fail "$label: a half-written trace was left"
}
full "log, raw" capture log --raw --format combined "$W/a.log"
full "log, anonymized" capture log --key-file "$W/k" --format combined "$W/a.log"
full "pcap, raw" capture pcap --raw --ports 80 "$W/a.pcap"
full "pcap, anonymized" capture pcap --key-file "$W/k" --ports 80 "$W/a.pcap"
"$TIDE" capture log --raw --format combined "$W/a.log" -o "$W/a.tide" 2>/dev/null || fail "capture to a roomy disk"
full "anonymize" anonymize --key-file "$W/k" "$W/a.tide"
pass "a disk that fills mid-capture: exit 4, the reason, no trace left (log, pcap, anonymize; raw and anonymized)"

if [ -c /dev/full ]; then
  "$TIDE" capture log --raw --format combined "$W/a.log" -o /dev/full 2>"$W/err"
  [ $? -eq 4 ] && grep -q "No space left" "$W/err" || fail "/dev/full: $(cat "$W/err")"
  [ -c /dev/full ] || fail "/dev/full is no longer a device (tide removed it)"
  pass "-o /dev/full fails clearly and the device is left alone"
fi
finish
