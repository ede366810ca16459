/*
 * fuzz_h1rx.c - the native replay client's response framing (replay/h1.c) on
 * arbitrary bytes: fed whole and fed in pieces, it must reach the same verdict
 * (not HTTP, or the same state, status, body bytes and bytes past the end).
 * The first byte picks HEAD or not, the second the piece size.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "replay/replay_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tide__h1_rx a, b;
    bool no_body;
    size_t step, i;
    int ra, rb = 0;
    if (size < 2)
        return 0;
    no_body = data[0] & 1;
    step = (size_t)(data[1] % 64) + 1;
    data += 2;
    size -= 2;
    tide__h1_rx_init(&a);
    tide__h1_rx_init(&b);
    tide__h1_rx_reset(&a);
    tide__h1_rx_reset(&b);
    ra = tide__h1_rx_feed(&a, (const char *)data, size, no_body);
    for (i = 0; i < size && rb == 0; i += step)
        rb = tide__h1_rx_feed(&b, (const char *)data + i, size - i < step ? size - i : step, no_body);
    if ((ra < 0) != (rb < 0))
        abort();
    if (ra == 0 && (a.state != b.state || a.status != b.status || a.bytes != b.bytes || a.extra != b.extra ||
                    a.close != b.close))
        abort();
    if (ra == 0 && a.state == TIDE__RX_DONE && (a.status < 100 || a.status > 599))
        abort();
    tide__h1_rx_free(&a);
    tide__h1_rx_free(&b);
    return 0;
}
