/*
 * fuzz_http.c - the HTTP/1.x head parsers and the chunked decoder on
 * arbitrary bytes (fed whole, then in every split a stream may arrive in).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct tide_http_head h;
    struct tide_http_chunks c;
    struct tide_buf out;
    uint64_t bytes = 0;
    bool trunc = false;
    long r;
    size_t i, at = 0;
    r = tide_http_request_head((const char *)data, size, &h);
    if (r > (long)size)
        abort();
    r = tide_http_response_head((const char *)data, size, &h);
    if (r > (long)size)
        abort();
    memset(&c, 0, sizeof(c));
    tide_buf_init(&out, 0);
    /* chunked decoding fed in pieces of 7 bytes: state must carry across */
    for (i = 0; i < size && c.state != TIDE_CH_DONE; i += 7) {
        size_t end = i + 7 < size ? i + 7 : size;
        r = tide_http_chunked(&c, (const char *)data + at, end - at, &bytes, &out, 1024, &trunc);
        if (r < 0)
            break;
        if ((size_t)r > end - at)
            abort();
        at += (size_t)r;
    }
    if (out.len > 1024)
        abort();
    tide_buf_free(&out);
    return 0;
}
