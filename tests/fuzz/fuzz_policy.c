/*
 * fuzz_policy.c - the policy parser on arbitrary bytes; a policy that parses
 * is used to anonymize a fixed record.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "anonymize/anonymize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tide_anon_policy *p;
    struct tide_err err;
    if (tide_anon_policy_parse(&p, (const char *)data, size, "fuzz", &err) == 0) {
        struct tide_anon *a;
        struct tide_anon_opts o;
        struct tide_record r, out;
        struct tide_header h[2] = {{{"Cookie", 6}, {"sid=abc; name=Maria", 19}},
                                   {{"Referer", 7}, {"https://x/u/42?email=a%40b.co", 29}}};
        memset(&o, 0, sizeof(o));
        memset(o.key, 7, sizeof(o.key));
        o.ip_mode = -1;
        o.time_shift = true;
        if (tide_anon_create(&a, p, &o, &err) == 0) {
            memset(&r, 0, sizeof(r));
            r.path = tide_str_c("/students/4711/essays");
            r.query = tide_str_c("name=Maria+Lopez&q=call+617-555-0123");
            r.client = tide_str_c("192.0.2.1");
            r.headers = h;
            r.n_headers = 2;
            r.body = tide_str_c("{\"student\":{\"name\":\"Maria\"},\"essay\":\"Maria wrote this\"}");
            tide_anon_record(a, &r, &out, &err);
            free(tide_anon_manifest(a));
            tide_anon_free(a);
        }
        tide_anon_policy_free(p);
    }
    return 0;
}
