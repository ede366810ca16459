/*
 * fuzz_trace_reader.c - the trace reader on arbitrary bytes, read as a file
 * (memfd: index path) and with a time window. It must never crash, never
 * loop, and every record it hands out must be re-encodable.
 *
 * An input starting with "C" is a block's decompressed content instead:
 * "C", a version byte (odd: 2.x, even: 1.x), a u16 record count, then the
 * column table and columns. The harness wraps it in a trace (header, META,
 * one BLCK compressed here), so mutations reach the column decoders, which
 * zstd's framing would otherwise shield.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string.h>
#include <zstd.h>

#include "formats/formats_int.h" /* the layout the writer uses */

/* Fills in the section header at sec for a payload of len bytes after it,
 * checksum included (so the seeds decode in normal builds too). */
static void section(uint8_t *sec, uint32_t type, size_t len)
{
    tide_put_u32le(sec, type);
    tide_put_u32le(sec + 4, 0);
    tide_put_u64le(sec + 8, len);
    tide_put_u64le(sec + 16, tide__sec_checksum(sec, sec + TIDE__SEC_HDR_LEN, len));
}

/* Writes a trace holding one block whose content is raw[0..n) to fd. */
static int wrap_block(int fd, unsigned major, uint32_t count, const uint8_t *raw, size_t n)
{
    static const char meta[] = "{\"raw\":true}";
    const size_t ml = sizeof(meta) - 1;
    size_t bound = ZSTD_compressBound(n), z, len;
    uint8_t *buf = malloc(TIDE__FILE_HDR_LEN + 2 * TIDE__SEC_HDR_LEN + ml + TIDE__BLOCK_HDR_LEN +
                          bound),
            *p = buf, *blk;
    int ok;
    if (!buf)
        return -1;
    memcpy(p, TIDE__MAGIC, TIDE__MAGIC_LEN);
    p[8] = (uint8_t)major, p[9] = 0, p[10] = 0, p[11] = 0;
    tide_put_u32le(p + 12, 0);
    p += TIDE__FILE_HDR_LEN;
    memcpy(p + TIDE__SEC_HDR_LEN, meta, ml);
    section(p, TIDE__SEC_META, ml);
    p += TIDE__SEC_HDR_LEN + ml;
    blk = p + TIDE__SEC_HDR_LEN;
    z = ZSTD_compress(blk + TIDE__BLOCK_HDR_LEN, bound, raw, n, 1);
    if (ZSTD_isError(z)) {
        free(buf);
        return -1;
    }
    tide_put_u32le(blk, count);
    tide_put_u32le(blk + 4, (uint32_t)n);
    tide_put_u64le(blk + 8, 1700000000000000000ull);
    tide_put_u64le(blk + 16, 1700000000000000000ull);
    section(p, TIDE__SEC_BLCK, TIDE__BLOCK_HDR_LEN + z);
    len = (size_t)(blk + TIDE__BLOCK_HDR_LEN + z - buf);
    ok = write(fd, buf, len) == (ssize_t)len;
    free(buf);
    return ok ? 0 : -1;
}

static void read_all(int fd, const struct tide_trace_reader_opts *o)
{
    struct tide_trace_reader *r;
    struct tide_err err;
    const struct tide_record *rec;
    struct tide_buf b;
    int n = 0;
    if (tide_trace_reader_open(&r, fd, "fuzz", o, &err))
        return;
    tide_buf_init(&b, 0);
    while (tide_trace_reader_next(r, &rec, &err) == 1 && n++ < 100000) {
        tide_buf_reset(&b);
        tide_record_to_json(rec, &b);
    }
    tide_buf_free(&b);
    tide_trace_reader_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tide_trace_reader_opts o = {.from_ns = TIDE_TIME_UNKNOWN, .to_ns = TIDE_TIME_UNKNOWN};
    int fd = memfd_create("fuzz", 0);
    if (fd < 0)
        return 0;
    if (size >= 4 && data[0] == 'C') {
        if (wrap_block(fd, data[1] & 1 ? 2 : 1, 1u + (data[2] | (uint32_t)data[3] << 8),
                       data + 4, size - 4)) {
            close(fd);
            return 0;
        }
    } else if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    read_all(fd, &o);
    o.skip_corrupt = true;
    o.from_ns = 1000;
    o.from_is_offset = true;
    read_all(fd, &o);
    close(fd);
    return 0;
}
