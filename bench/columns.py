#!/usr/bin/env python3
"""Bytes per record of each column of a .tide trace (format 1.x or 2.x),
each column compressed alone with `zstd -9` and summed over all blocks.
Usage: bench/columns.py TRACE.tide   (needs the zstd command)"""
import struct
import subprocess
import sys

NAMES = ["ts", "duration", "resp_bytes", "status", "flags"]
for f in ["method", "scheme", "host", "path", "query", "version", "client", "session", "source"]:
    NAMES += [f + ".refs", f + ".lens", f + ".data"]
NAMES += ["source_line", "header_count", "hname.refs", "hname.lens", "hname.data",
          "hval.refs", "hval.lens", "hval.data", "body_len", "body"]


def zstd(args, data):
    return subprocess.run(["zstd", "-q", "-c"] + args, input=data, capture_output=True, check=True).stdout


def main(path):
    data = open(path, "rb").read()
    pos, total, records = 16, [0] * len(NAMES), 0
    while pos + 24 <= len(data):
        kind, length = data[pos:pos + 4], struct.unpack_from("<Q", data, pos + 8)[0]
        if kind == b"BLCK":
            records += struct.unpack_from("<I", data, pos + 24)[0]
            raw = zstd(["-d"], data[pos + 48:pos + 24 + length])
            ncols = struct.unpack_from("<I", raw, 0)[0]
            sizes = struct.unpack_from("<%dI" % ncols, raw, 4)
            off = 4 + 4 * ncols
            for c in range(min(ncols, len(NAMES))):
                if sizes[c]:
                    total[c] += len(zstd(["-9"], raw[off:off + sizes[c]]))
                off += sizes[c]
        elif kind not in (b"META", b"FMET", b"INDX"):
            break
        pos += 24 + length
    if not records:
        sys.exit("%s: no records" % path)
    print("%s: %d records, %d bytes, %.3f bytes a record" % (path, records, len(data), len(data) / records))
    for name, t in sorted(zip(NAMES, total), key=lambda x: -x[1]):
        if t / records >= 0.001:
            print("  %-14s %.3f" % (name, t / records))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
