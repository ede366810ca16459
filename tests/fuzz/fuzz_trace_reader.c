/*
 * fuzz_trace_reader.c - the trace reader on arbitrary bytes, read as a file
 * (memfd: index path) and with a time window. It must never crash, never
 * loop, and every record it hands out must be re-encodable.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "formats/trace.h"

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
    struct tide_trace_reader_opts o = {TIDE_TIME_UNKNOWN, TIDE_TIME_UNKNOWN, 0, 0, 0, 0};
    int fd = memfd_create("fuzz", 0);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
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
