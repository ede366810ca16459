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
#include <xxhash.h>
#include <zstd.h>

#include "formats/trace.h"

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A section's checksum: XXH64 of its header's first 16 bytes, then payload
 * (right ones, so the seeds decode in normal builds too). */
static void seal(uint8_t *sec, size_t payload_len)
{
    XXH64_state_t *st = XXH64_createState();
    XXH64_reset(st, 0);
    XXH64_update(st, sec, 16);
    XXH64_update(st, sec + 24, payload_len);
    put64(sec + 16, XXH64_digest(st));
    XXH64_freeState(st);
}

/* Writes a trace holding one block whose content is raw[0..n) to fd. */
static int wrap_block(int fd, unsigned major, uint32_t count, const uint8_t *raw, size_t n)
{
    static const char meta[] = "{\"raw\":true}";
    size_t bound = ZSTD_compressBound(n), z, len;
    uint8_t *buf = malloc(16 + 24 + sizeof(meta) - 1 + 24 + 24 + bound), *p = buf;
    int ok;
    if (!buf)
        return -1;
    memcpy(p, "\x89TIDE\r\n\x1a", 8);
    p[8] = (uint8_t)major, p[9] = 0, p[10] = 0, p[11] = 0;
    put32(p + 12, 0);
    p += 16;
    memcpy(p, "META", 4);
    put32(p + 4, 0);
    put64(p + 8, sizeof(meta) - 1);
    memcpy(p + 24, meta, sizeof(meta) - 1);
    seal(p, sizeof(meta) - 1);
    p += 24 + sizeof(meta) - 1;
    z = ZSTD_compress(p + 48, bound, raw, n, 1);
    if (ZSTD_isError(z)) {
        free(buf);
        return -1;
    }
    memcpy(p, "BLCK", 4);
    put32(p + 4, 0);
    put64(p + 8, 24 + z);
    put64(p + 16, 0);
    put32(p + 24, count);
    put32(p + 28, (uint32_t)n);
    put64(p + 32, 1700000000000000000ull);
    put64(p + 40, 1700000000000000000ull);
    seal(p, 24 + z);
    len = (size_t)(p + 48 + z - buf);
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
