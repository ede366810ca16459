/*
 * fuzz_anon.c - the detectors, decoders and the anonymizing transform on
 * arbitrary bytes: the input is scanned as text, then used as a query, a
 * path, a header value and a JSON/form/multipart/XML/CSV/text body of one record. It must
 * never crash, and the audit of the result (and of the raw record) must run.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "anonymize/anonymize.h"

static void on_hit(void *userp, const struct tide_pii_hit *h, const char *text)
{
    (void)userp;
    (void)text;
    if (h->kind < 0 || h->kind >= TIDE_PII_KINDS)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct tide_anon_policy *p;
    struct tide_anon *a;
    struct tide_anon_opts o;
    struct tide_record r, out;
    struct tide_err err;
    struct tide_audit *au;
    struct tide_str v = tide_str_make((const char *)data, size);
    struct tide_header h[3] = {{{"Cookie", 6}, v}, {{"Content-Type", 12}, {"application/json", 16}},
                               {{"X-Forwarded-For", 15}, v}};
    if (!p && tide_anon_policy_parse(&p, tide_anon_default_policy(),
                                     strlen(tide_anon_default_policy()), "d", &err))
        abort();
    tide_pii_scan((const char *)data, size, on_hit, NULL);
    tide_pii_scan_text((const char *)data, size, on_hit, NULL); /* with people's names */
    memset(&o, 0, sizeof(o));
    o.ip_mode = -1;
    if (tide_anon_create(&a, p, &o, &err))
        abort();
    memset(&r, 0, sizeof(r));
    r.path = v;
    r.query = v;
    r.client = v;
    r.session = v;
    r.headers = h;
    r.n_headers = 3;
    r.body = v;
    r.flags = TIDE_REC_HAS_BODY;
    if (tide_anon_record(a, &r, &out, &err) == 0 && tide_audit_create(&au, true) == 0) {
        tide_audit_record(au, p, &out);
        tide_audit_record(au, p, &r); /* the raw record too: the audit's own readers on any bytes */
        free(tide_audit_report(au, false, "fuzz"));
        tide_audit_free(au);
    }
    h[1].value = tide_str_c("application/x-www-form-urlencoded");
    tide_anon_record(a, &r, &out, &err);
    /* multipart: a fixed boundary, then the Content-Type itself from the input */
    h[1].value = tide_str_c("multipart/form-data; boundary=XyZ");
    if (tide_anon_record(a, &r, &out, &err) == 0 && tide_audit_create(&au, true) == 0) {
        tide_audit_record(au, p, &out);
        free(tide_audit_report(au, false, "fuzz"));
        tide_audit_free(au);
    }
    /* XML and CSV: values by their names, in the anonymizer and the audit */
    {
        static const char *const ct[] = {"application/xml", "text/csv"};
        size_t k;
        for (k = 0; k < 2; k++) {
            h[1].value = tide_str_c(ct[k]);
            if (tide_anon_record(a, &r, &out, &err) == 0 && tide_audit_create(&au, true) == 0) {
                tide_audit_record(au, p, &out);
                tide_audit_record(au, p, &r);
                free(tide_audit_report(au, false, "fuzz"));
                tide_audit_free(au);
            }
        }
    }
    h[1].value = v;
    tide_anon_record(a, &r, &out, &err);
    /* compressed bodies: arbitrary bytes as gzip, deflate and zstd data */
    {
        static const char *const enc[] = {"gzip", "deflate", "zstd", "br"};
        struct tide_header h2[2] = {{{"Content-Type", 12}, {"application/json", 16}}, {{"Content-Encoding", 16}, {"", 0}}};
        size_t k;
        r.headers = h2;
        r.n_headers = 2;
        for (k = 0; k < 4; k++) {
            h2[1].value = tide_str_c(enc[k]);
            if (tide_anon_record(a, &r, &out, &err) == 0 && tide_audit_create(&au, true) == 0) {
                tide_audit_record(au, p, &r);
                free(tide_audit_report(au, false, "fuzz"));
                tide_audit_free(au);
            }
        }
    }
    tide_anon_free(a);
    return 0;
}
