/*
 * fuzz_profile.c - the stage-profile parser (JSON and inline) and the SLO
 * expression parser on arbitrary bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "replay/replay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tide_stage *st = NULL;
    struct tide_err err;
    struct tide_slo slo;
    char *s;
    int n = 0, k;
    if (tide_profile_parse((const char *)data, size, &st, &n, &err) == 0) {
        for (k = 0; k < n; k++)
            if (st[k].duration_ns <= 0 || (st[k].multiplier > 0) == (st[k].rate > 0) || !st[k].name[0])
                abort(); /* the parser promised a usable stage */
        free(st);
    }
    s = malloc(size + 1);
    if (s) {
        memcpy(s, data, size);
        s[size] = 0;
        tide_slo_parse(s, &slo, &err);
        free(s);
    }
    return 0;
}
