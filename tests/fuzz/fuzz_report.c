/*
 * fuzz_report.c - the replay report reader (`tide report` input) on arbitrary
 * bytes; a report that reads is merged with itself and rendered as text,
 * JSON and HTML.
 */
#include <stdint.h>
#include <stdlib.h>

#include "replay/replay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tide_replay_result *r, *r2;
    struct tide_err err;
    struct tide_slo slo;
    if (tide_replay_result_from_json((const char *)data, size, &r, &err) == 0) {
        if (tide_replay_result_from_json((const char *)data, size, &r2, &err) == 0) {
            tide_replay_result_merge(r, r2);
            tide_replay_result_free(r2);
        }
        free(tide_replay_report_text(r));
        free(tide_replay_report_json(r));
        if (tide_slo_parse("p99<=250ms", &slo, &err) == 0)
            free(tide_replay_report_html(r, &slo, 1));
        tide_replay_result_free(r);
    }
    return 0;
}
