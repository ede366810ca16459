/*
 * fuzz_tcpflow.c - TCP reassembly and HTTP pairing fed packet sequences
 * decoded from the input: each packet is [dir, flags, seq(4), len, data...].
 * Two endpoints, one connection; every record handed out must be printable.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/tcpflow_int.h"

static int sink(void *userp, const struct tide_record *r, struct tide_err *err)
{
    struct tide_buf b;
    (void)userp;
    (void)err;
    tide_buf_init(&b, 0);
    if (tide_record_to_json(r, &b))
        abort();
    tide_buf_free(&b);
    return 0;
}

static bool any_port(void *userp, uint16_t port)
{
    (void)userp;
    return port == 80;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tide_pcap_stats st;
    struct tide__flow_opts o;
    struct tide__reorder *ro = tide__reorder_new((struct tide_sink){sink, NULL}, 1000000000, 0);
    struct tide__flows *f;
    struct tide__flowkey k[2];
    size_t at = 0;
    int64_t ts = 1000000000;
    memset(&st, 0, sizeof(st));
    memset(&o, 0, sizeof(o));
    o.max_body = 256;
    o.max_memory = 1 << 16;
    o.idle_timeout_ns = 5000000000;
    o.is_server_port = any_port;
    f = tide__flows_new(&o, &st, ro);
    memset(k, 0, sizeof(k));
    k[0].a.addr[0] = 10;
    k[0].a.port = 40000;
    k[0].b.addr[0] = 10;
    k[0].b.addr[3] = 1;
    k[0].b.port = 80;
    k[1].a = k[0].b;
    k[1].b = k[0].a;
    while (at + 7 <= size) {
        int dir = data[at] & 1;
        uint8_t flags = data[at + 1];
        uint32_t seq = (uint32_t)data[at + 2] << 24 | (uint32_t)data[at + 3] << 16 | (uint32_t)data[at + 4] << 8 | data[at + 5];
        size_t len = data[at + 6];
        at += 7;
        if (len > size - at)
            len = size - at;
        tide__flows_segment(f, &k[dir], seq, flags, (const char *)data + at, len, ts);
        at += len;
        ts += 1000000;
        if ((flags & 0xc0) == 0xc0)
            tide__flows_expire(f, ts + 10000000000);
    }
    tide__flows_free(f, ts);
    {
        struct tide_err err;
        tide__reorder_drain(ro, &err);
    }
    tide__reorder_free(ro);
    return 0;
}
