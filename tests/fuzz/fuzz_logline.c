/*
 * fuzz_logline.c - every access-log line parser on arbitrary bytes. The first
 * byte picks the format; the rest is one or more lines (later lines of a
 * CloudFront or W3C log see the #Fields and #Software state left by earlier
 * ones).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/capture.h"

static const char *FORMATS[] = {
    "combined", "common", "vhost_combined", "vhost_common", "json", "alb", "cloudfront",
    ("nginx:$remote_addr [$time_iso8601] \"$request_method $request_uri $server_protocol\" $status "
     "$body_bytes_sent $request_time \"$http_x_a\" $cookie_sid $msec"),
    "apache:%h %t \"%r\" %>s %b %D \"%{Cookie}i\" %{sid}C %v %T",
    "w3c", "haproxy", "s3", "docker+combined", "cri+common", "syslog+combined", "envoy",
    /* lines without a time of their own: the wrapper's (a syslog date, Docker's "time") */
    "syslog+apache:%h %l %u \"%r\" %>s %b %T", "docker+json",
    "haproxy:Host,User-Agent,Referer", /* captured headers named */
    "apache:%h %{msec}t %{end:usec}t \"%r\" %>s %{begin:sec}t", /* epoch times, start and end */
    "traefik", "kv", "syslog+heroku", "journal+apache:%h \"%r\" %>s %T",
    "apache:%h [%{%d/%b/%Y %T}t.%{msec_frac}t %{%z}t] %{end:%a %e %B %y %I:%M:%S %p %Z}t %{%s}t \"%r\"",
    "ssl_request", /* %t first */
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tide_logfmt *f;
    struct tide_arena a;
    struct tide_record r;
    struct tide_buf b;
    const char *p, *end, *reason;
    if (size < 1)
        return 0;
    if (tide_logfmt_compile(&f, FORMATS[data[0] % (sizeof(FORMATS) / sizeof(FORMATS[0]))], NULL, NULL))
        abort();
    tide_arena_init(&a, 0);
    tide_buf_init(&b, 0);
    memset(&r, 0, sizeof(r));
    p = (const char *)data + 1;
    end = (const char *)data + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        tide_arena_reset(&a);
        if (tide_logfmt_parse(f, p, n, &r, &a, &reason) == 1) {
            tide_buf_reset(&b);
            if (tide_record_to_json(&r, &b) != 0)
                abort();
        }
        p += n + 1;
    }
    {
        char out[512];
        int tailed;
        tide_logfmt_sniff((const char *)data, size, out, sizeof(out), &tailed);
    }
    tide_buf_free(&b);
    tide_arena_free(&a);
    tide_logfmt_free(f);
    return 0;
}
