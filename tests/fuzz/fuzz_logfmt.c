/*
 * fuzz_logfmt.c - the nginx, Apache and --map compilers on arbitrary format
 * strings; a format that compiles is then used on a fixed line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/capture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *LINE = "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET /a?b=1 HTTP/1.1\" 200 "
                              "12 \"-\" \"ua\" 0.5";
    char *spec;
    struct tide_logfmt *f;
    struct tide_err err;
    if (size < 1)
        return 0;
    spec = malloc(size + 8);
    if (!spec)
        return 0;
    memcpy(spec, data[0] & 1 ? "apache:" : "nginx:", data[0] & 1 ? 7 : 6);
    memcpy(spec + (data[0] & 1 ? 7 : 6), data + 1, size - 1);
    spec[(data[0] & 1 ? 7 : 6) + size - 1] = 0;
    if (tide_logfmt_compile(&f, spec, NULL, &err) == 0) {
        struct tide_arena a;
        struct tide_record r;
        const char *reason;
        tide_arena_init(&a, 0);
        memset(&r, 0, sizeof(r));
        tide_logfmt_parse(f, LINE, strlen(LINE), &r, &a, &reason);
        tide_arena_free(&a);
        tide_logfmt_free(f);
    }
    if (tide_logfmt_compile(&f, "json", spec, &err) == 0) /* the same bytes as a --map */
        tide_logfmt_free(f);
    {
        /* and as haproxy's captured header names */
        char *h = malloc(size + 8);
        if (h) {
            memcpy(h, "haproxy:", 8);
            memcpy(h + 8, data + 1, size - 1);
            h[8 + size - 1] = 0;
            if (tide_logfmt_compile(&f, h, NULL, &err) == 0)
                tide_logfmt_free(f);
            free(h);
        }
    }
    free(spec);
    return 0;
}
