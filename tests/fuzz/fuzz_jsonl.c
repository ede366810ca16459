/*
 * fuzz_jsonl.c - the JSON-lines record parser on arbitrary bytes. A line
 * that parses must print and parse again to the same JSON (the round trip
 * `tide cat | tide import | tide cat` depends on it).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tide_arena a;
    struct tide_record r, r2;
    struct tide_err err;
    struct tide_buf b1, b2;
    tide_arena_init(&a, 0);
    tide_buf_init(&b1, 0);
    tide_buf_init(&b2, 0);
    memset(&r, 0, sizeof(r));
    if (tide_record_from_json((const char *)data, size, &r, &a, &err) == 0) {
        memset(&r2, 0, sizeof(r2));
        if (tide_record_to_json(&r, &b1) == 0) {
            if (tide_record_from_json(b1.p, b1.len - 1, &r2, &a, &err) != 0)
                abort();
            if (tide_record_to_json(&r2, &b2) != 0 || b1.len != b2.len ||
                memcmp(b1.p, b2.p, b1.len) != 0)
                abort();
        }
    }
    tide_buf_free(&b1);
    tide_buf_free(&b2);
    tide_arena_free(&a);
    return 0;
}
