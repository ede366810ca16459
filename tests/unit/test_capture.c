/*
 * Unit tests for capture/: log time and number parsing, request lines, the
 * nginx/Apache format compilers, field escapes, the W3C, HAProxy and S3
 * readers, and the re-ordering merge of
 * several inputs by request start time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <zlib.h>

#include "capture/capture.h"
#include "capture/capture_int.h"

static void log_time_local_with_offset_and_brackets(void **state)
{
    int64_t ns, want;
    assert_int_equal(tide__log_time_local(tide_str_c("[10/Oct/2000:13:55:36 -0700]"), &ns), 0);
    assert_int_equal(tide_time_parse_rfc3339("2000-10-10T20:55:36Z", 20, &want), 0);
    assert_true(ns == want);
    assert_int_equal(tide__log_time_local(tide_str_c("07/Dec/2016:11:05:07.250 +0100"), &ns), 0);
    assert_int_equal(tide_time_parse_rfc3339("2016-12-07T10:05:07.25Z", 23, &want), 0);
    assert_true(ns == want);
    assert_int_equal(tide__log_time_local(tide_str_c("[10/Foo/2000:13:55:36 -0700]"), &ns), TIDE_E_FORMAT);
    assert_int_equal(tide__log_time_local(tide_str_c("[10/Oct/2000:13:55:36 0700]"), &ns), TIDE_E_FORMAT);
}

static void log_decimal_is_exact(void **state)
{
    int64_t ns;
    assert_int_equal(tide__log_decimal_ns(tide_str_c("0.123"), TIDE_NS_PER_SEC, &ns), 0);
    assert_true(ns == 123000000);
    assert_int_equal(tide__log_decimal_ns(tide_str_c("1607374321.541"), TIDE_NS_PER_SEC, &ns), 0);
    assert_true(ns == 1607374321541000000LL);
    assert_int_equal(tide__log_decimal_ns(tide_str_c("2500"), 1000, &ns), 0);
    assert_true(ns == 2500000);
    assert_int_equal(tide__log_decimal_ns(tide_str_c("1e3"), 1000, &ns), TIDE_E_FORMAT);
    assert_int_equal(tide__log_decimal_ns(tide_str_c(""), 1000, &ns), TIDE_E_FORMAT);
}

static void request_line_forms(void **state)
{
    struct tide_record r;
    const char *reason = NULL;
    memset(&r, 0, sizeof(r));
    assert_int_equal(tide__log_request_line(tide_str_c("GET /a/b?x=1&y HTTP/1.1"), &r, &reason), 1);
    assert_true(tide_str_is_eq_c(r.method, "GET"));
    assert_true(tide_str_is_eq_c(r.path, "/a/b"));
    assert_true(tide_str_is_eq_c(r.query, "x=1&y"));
    assert_true(tide_str_is_eq_c(r.version, "HTTP/1.1"));
    memset(&r, 0, sizeof(r));
    assert_int_equal(tide__log_request_line(tide_str_c("GET https://h.example:443/p?q HTTP/2.0"), &r, &reason), 1);
    assert_true(tide_str_is_eq_c(r.scheme, "https"));
    assert_true(tide_str_is_eq_c(r.host, "h.example:443"));
    assert_true(tide_str_is_eq_c(r.path, "/p"));
    assert_int_equal(tide__log_request_line(tide_str_c("-"), &r, &reason), 0);
    assert_int_equal(tide__log_request_line(tide_str_c("GET /nover"), &r, &reason), TIDE_E_FORMAT);
    assert_string_equal(reason, "request line has no HTTP version");
    assert_int_equal(tide__log_request_line(tide_str_c("\x16\x03\x01 junk HTTP/1.1"), &r, &reason), TIDE_E_FORMAT);
}

static void format_compile_errors_are_clear(void **state)
{
    struct tide_logfmt *f;
    struct tide_err err;
    assert_int_equal(tide_logfmt_compile(&f, "nginx:$remote_addr$status", NULL, &err), TIDE_E_USAGE);
    assert_non_null(strstr(err.msg, "two fields"));
    assert_int_equal(tide_logfmt_compile(&f, "apache:%{Referer", NULL, &err), TIDE_E_USAGE);
    assert_int_equal(tide_logfmt_compile(&f, "apache:%Q", NULL, &err), TIDE_E_USAGE);
    assert_non_null(strstr(err.msg, "unknown directive"));
    assert_int_equal(tide_logfmt_compile(&f, "nosuch", NULL, &err), TIDE_E_USAGE);
    assert_int_equal(tide_logfmt_compile(&f, "json", "bogus=x", &err), TIDE_E_USAGE);
    assert_int_equal(tide_logfmt_compile(&f, "nginx:'plain text'", NULL, &err), TIDE_E_USAGE);
    /* a --map for a format that has no fields by name is said, not ignored */
    assert_int_equal(tide_logfmt_compile(&f, "cri+combined", "ts=t", &err), TIDE_E_USAGE);
    assert_non_null(strstr(err.msg, "json and kv"));
    assert_int_equal(tide_logfmt_compile(&f, "docker+kv", "ts=t", &err), 0);
    tide_logfmt_free(f);
}

static int64_t at(const char *rfc3339);

static int parse1(const char *spec, const char *map, const char *line, struct tide_record *r,
                  struct tide_arena *a, struct tide_logfmt **fout)
{
    struct tide_err err;
    const char *reason;
    assert_int_equal(tide_logfmt_compile(fout, spec, map, &err), 0);
    return tide_logfmt_parse(*fout, line, strlen(line), r, a, &reason);
}

static void nginx_format_with_msec_request_time_headers_cookies(void **state)
{
    struct tide_logfmt *f;
    struct tide_arena a;
    struct tide_record r;
    int64_t want;
    tide_arena_init(&a, 0);
    memset(&r, 0, sizeof(r));
    assert_int_equal(parse1("nginx:'$remote_addr \"$request\" $status $body_bytes_sent $msec $request_time "
                            "\"$http_user_agent\" $cookie_sid $cookie_lang'",
                            NULL,
                            "10.1.2.3 \"POST /api/x?y=1 HTTP/1.1\" 201 17 1700000000.500 0.250 "
                            "\"Mo\\x22zilla\" abc en",
                            &r, &a, &f),
                     1);
    want = 1700000000250000000LL; /* 1700000000.500 - 0.250 */
    assert_true(r.ts_ns == want);
    assert_true(r.duration_ns == 250000000);
    assert_int_equal(r.status, 201);
    assert_true(r.resp_bytes == 17);
    assert_true(tide_str_is_eq_c(r.client, "10.1.2.3"));
    assert_true(tide_str_is_eq_c(tide_record_header(&r, "User-Agent"), "Mo\"zilla"));
    assert_true(tide_str_is_eq_c(tide_record_header(&r, "Cookie"), "sid=abc; lang=en"));
    tide_logfmt_free(f);
    tide_arena_free(&a);
}

static void apache_format_with_microseconds_and_escapes(void **state)
{
    struct tide_logfmt *f;
    struct tide_arena a;
    struct tide_record r;
    int64_t end;
    tide_arena_init(&a, 0);
    memset(&r, 0, sizeof(r));
    assert_int_equal(parse1("apache:%h %l %u %t \"%r\" %>s %b \"%{User-Agent}i\" %D", NULL,
                            "::1 - - [26/Dec/2016:16:16:29 +0200] \"GET /x HTTP/1.0\" 404 - "
                            "\"a \\\"q\\\" b\" 1500",
                            &r, &a, &f),
                     1);
    assert_true(tide_str_is_eq_c(r.client, "::1"));
    assert_true(r.resp_bytes == 0); /* %b writes '-' for zero */
    assert_true(r.duration_ns == 1500000);
    assert_true(tide_str_is_eq_c(tide_record_header(&r, "User-Agent"), "a \"q\" b"));
    /* %O and $bytes_sent (bytes with headers) are the size only without a body size */
    tide_logfmt_free(f);
    assert_int_equal(parse1("apache:%h %t \"%r\" %>s %O", NULL, "1.2.3.4 [26/Dec/2016:16:16:29 +0200] \"GET / HTTP/1.0\" 200 312",
                            &r, &a, &f),
                     1);
    assert_true(r.resp_bytes == 312);
    tide_logfmt_free(f);
    assert_int_equal(parse1("apache:%h %t \"%r\" %>s %b %O", NULL,
                            "1.2.3.4 [26/Dec/2016:16:16:29 +0200] \"GET / HTTP/1.0\" 200 100 312", &r, &a, &f),
                     1);
    assert_true(r.resp_bytes == 100);
    tide_logfmt_free(f);
    /* a time first in a format, the space inside it not ending it: Apache's
     * %t (mod_ssl's ssl_request_log) in its brackets, nginx's $time_local, a
     * strftime time (%e pads a day with one more) */
    {
        static const struct {
            const char *spec, *line;
            int64_t ts;
        } T[] = {{"ssl_request",
                  "[26/Dec/2016:16:16:29 +0200] 1.2.3.4 TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 \"GET /a?b=1 HTTP/1.1\" 312",
                  1482761789},
                 {"nginx:$time_local $remote_addr \"$request\" $status",
                  "26/Dec/2016:16:16:29 +0200 1.2.3.4 \"GET /a?b=1 HTTP/1.1\" 200", 1482761789},
                 {"apache:%{%b %e %H:%M:%S %Y}t %h \"%r\" %>s",
                  "Dec  6 16:16:29 2016 1.2.3.4 \"GET /a?b=1 HTTP/1.1\" 200", 1481040989}};
        size_t i;
        for (i = 0; i < sizeof(T) / sizeof(T[0]); i++) {
            assert_int_equal(parse1(T[i].spec, NULL, T[i].line, &r, &a, &f), 1);
            assert_true(r.ts_ns == T[i].ts * TIDE_NS_PER_SEC);
            assert_true(tide_str_is_eq_c(r.client, "1.2.3.4"));
            assert_true(tide_str_is_eq_c(r.path, "/a") && tide_str_is_eq_c(r.query, "b=1"));
            tide_logfmt_free(f);
        }
    }
    assert_true(tide_logfmt_is_ssl_request("ssl_request"));
    assert_true(tide_logfmt_is_ssl_request("apache:" TIDE_SSL_REQUEST_FORMAT));
    assert_false(tide_logfmt_is_ssl_request("combined"));
    assert_int_equal(parse1("nginx:$remote_addr [$time_local] \"$request\" $status $bytes_sent", NULL,
                            "1.2.3.4 [26/Dec/2016:16:16:29 +0200] \"GET / HTTP/1.0\" 200 312", &r, &a, &f),
                     1);
    assert_true(r.resp_bytes == 312);
    tide_logfmt_free(f);
    assert_int_equal(parse1("apache:%h %l %u %t \"%r\" %>s %b \"%{User-Agent}i\" %D", NULL,
                            "::1 - - [26/Dec/2016:16:16:29 +0200] \"GET /x HTTP/1.0\" 404 - "
                            "\"a \\\"q\\\" b\" 1500",
                            &r, &a, &f),
                     1);
    /* Apache's %t is when the request was received: the start itself */
    assert_int_equal(tide__log_time_local(tide_str_c("26/Dec/2016:16:16:29 +0200"), &end), 0);
    assert_true(r.ts_ns == end);
    tide_logfmt_free(f);
    /* %{msec}t, %{usec}t, %{sec}t: whole units since the epoch, the start
     * unless end: (then minus the duration) */
    assert_int_equal(parse1("apache:%h %{msec}t \"%r\" %>s %D", NULL, "1.2.3.4 1700000000123 \"GET / HTTP/1.1\" 200 5000",
                            &r, &a, &f),
                     1);
    assert_true(r.ts_ns == INT64_C(1700000000123000000));
    tide_logfmt_free(f);
    assert_int_equal(parse1("apache:%h %{begin:usec}t \"%r\" %>s", NULL, "1.2.3.4 1700000000123456 \"GET / HTTP/1.1\" 200",
                            &r, &a, &f),
                     1);
    assert_true(r.ts_ns == INT64_C(1700000000123456000));
    tide_logfmt_free(f);
    assert_int_equal(parse1("apache:%h %{end:sec}t \"%r\" %>s %{ms}T", NULL, "1.2.3.4 1700000001 \"GET / HTTP/1.1\" 200 250",
                            &r, &a, &f),
                     1);
    assert_true(r.ts_ns == INT64_C(1700000000750000000));
    tide_logfmt_free(f);
    assert_int_equal(parse1("apache:%h %{end:msec}t \"%r\" %>s %D", NULL, "1.2.3.4 1700000000500 \"GET / HTTP/1.1\" 200 1000",
                            &r, &a, &f),
                     1);
    assert_true(r.ts_ns == INT64_C(1700000000499000000));
    tide_logfmt_free(f);
    assert_int_equal(parse1("apache:%h %{end:}t \"%r\" %>s %D", NULL,
                            "1.2.3.4 [26/Dec/2016:16:16:29 +0200] \"GET / HTTP/1.1\" 200 1000", &r, &a, &f),
                     1);
    assert_true(r.ts_ns == end - 1000000);
    tide_logfmt_free(f);
    /* %{strftime}t pieces of one time (Apache's recipe for ms), its zone
     * written or --tz's; begin: (the default) and end: */
    assert_int_equal(parse1("apache:%h [%{%d/%b/%Y %T}t.%{msec_frac}t %{%z}t] \"%r\" %>s %D", NULL,
                            "1.2.3.4 [01/May/2024 10:00:00.123 +0200] \"GET / HTTP/1.1\" 200 1500", &r, &a, &f),
                     1);
    assert_true(r.ts_ns == at("2024-05-01T08:00:00.123Z"));
    tide_logfmt_free(f);
    assert_int_equal(parse1("apache:%h %{end:%Y-%m-%d %H:%M:%S}t.%{usec_frac}t \"%r\" %>s %D", NULL,
                            "1.2.3.4 2024-05-01 10:00:00.500000 \"GET / HTTP/1.1\" 200 1500", &r, &a, &f),
                     1);
    assert_true(r.ts_ns == at("2024-05-01T10:00:00.4985Z")); /* the end, minus %D */
    tide_logfmt_free(f);
    assert_int_equal(parse1("apache:%h %{%a, %e %B %y %I:%M:%S %p %Z}t \"%r\"", NULL,
                            "1.2.3.4 Wed,  1 May 24 01:02:03 PM UTC \"GET / HTTP/1.1\"", &r, &a, &f),
                     1);
    assert_true(r.ts_ns == at("2024-05-01T13:02:03Z"));
    tide_logfmt_free(f);
    assert_int_equal(parse1("apache:%h %{%s}t \"%r\"", NULL, "1.2.3.4 1714557600 \"GET / HTTP/1.1\"", &r, &a, &f), 1);
    assert_true(r.ts_ns == INT64_C(1714557600000000000));
    tide_logfmt_free(f);
    /* a time that is not as the pattern says: a bad line */
    assert_int_equal(parse1("apache:%h %{%F %T}t \"%r\"", NULL, "1.2.3.4 2024-13-01 10:00:00 \"GET / HTTP/1.1\"", &r, &a,
                            &f),
                     TIDE_E_FORMAT);
    tide_logfmt_free(f);
    assert_int_equal(tide_logfmt_compile(&f, "apache:%h %{%j}t \"%r\"", NULL, NULL), TIDE_E_USAGE);
    assert_int_equal(tide_logfmt_compile(&f, "apache:%h %{nope}t \"%r\"", NULL, NULL), TIDE_E_USAGE);
    tide_arena_free(&a);
}

static void json_format_with_map_and_nested_headers(void **state)
{
    struct tide_logfmt *f;
    struct tide_arena a;
    struct tide_record r;
    tide_arena_init(&a, 0);
    memset(&r, 0, sizeof(r));
    assert_int_equal(parse1("json", "ts=t,method=req.m,path=req.p,client=peer.ip,headers=req.h,body=req.body,duration_ms=lat",
                            "{\"t\":1700000000123,\"req\":{\"m\":\"PUT\",\"p\":\"/e/1?x=2\",\"h\":{\"X-A\":\"1\","
                            "\"Accept\":[\"a\",\"b\"]},\"body\":{\"text\":\"hi\",\"n\":3}},\"peer\":{\"ip\":\"1.2.3.4\"},"
                            "\"lat\":20,\"status\":204}",
                            &r, &a, &f),
                     1);
    assert_true(tide_str_is_eq_c(r.method, "PUT"));
    assert_true(tide_str_is_eq_c(r.path, "/e/1"));
    assert_true(tide_str_is_eq_c(r.query, "x=2"));
    assert_true(tide_str_is_eq_c(r.client, "1.2.3.4"));
    assert_int_equal(r.status, 204);
    assert_int_equal(r.n_headers, 3);
    assert_true(tide_str_is_eq_c(r.body, "{\"text\":\"hi\",\"n\":3}"));
    assert_true(r.ts_ns == 1700000000123000000LL - 20000000);
    tide_logfmt_free(f);
    tide_arena_free(&a);
}

static int parse_lines(struct tide_logfmt *f, const char *text, struct tide_record *r,
                       struct tide_arena *a, const char **reason);

/* JSON: a start time (Traefik's StartUTC, --map start=), durations written
 * with their unit ("0.058927s", Go's "12.5ms"), Cloud Logging's httpRequest */
static void json_start_times_durations_with_units_and_cloud_logging(void **state)
{
    struct tide_logfmt *f;
    struct tide_arena a;
    struct tide_record r;
    const char *reason;
    int64_t t;
    (void)state;
    tide_arena_init(&a, 0);
    assert_int_equal(tide_logfmt_compile(&f, "json", NULL, NULL), 0);
    assert_int_equal(parse_lines(f,
                                 "{\"httpRequest\":{\"latency\":\"0.058927s\",\"remoteIp\":\"198.51.100.1\","
                                 "\"requestMethod\":\"GET\",\"requestUrl\":\"https://example.org/c/?a=1\","
                                 "\"responseSize\":\"1467\",\"status\":302,\"userAgent\":\"Mo\"},"
                                 "\"timestamp\":\"2024-05-01T10:00:00.100000Z\"}",
                                 &r, &a, &reason),
                     1);
    assert_int_equal(tide_time_parse_rfc3339("2024-05-01T10:00:00.100000Z", 27, &t), 0);
    assert_true(r.duration_ns == 58927000);
    assert_true(r.ts_ns == t - 58927000); /* the timestamp taken as the end */
    assert_true(tide_str_is_eq_c(r.scheme, "https"));
    assert_true(tide_str_is_eq_c(r.host, "example.org"));
    assert_true(tide_str_is_eq_c(r.path, "/c/"));
    assert_true(tide_str_is_eq_c(r.client, "198.51.100.1"));
    assert_int_equal(r.status, 302);
    assert_true(r.resp_bytes == 1467);
    assert_int_equal(parse_lines(f, "{\"ts\":1714557600.5,\"method\":\"POST\",\"path\":\"/x\",\"duration\":\"12.5ms\"}",
                                 &r, &a, &reason),
                     1);
    assert_true(r.duration_ns == 12500000);
    assert_int_equal(parse_lines(f, "{\"ts\":1714557600.5,\"path\":\"/x\",\"duration\":\"fast\"}", &r, &a, &reason),
                     TIDE_E_FORMAT);
    /* Traefik: StartUTC is the start, whatever "time" says */
    assert_int_equal(parse_lines(f,
                                 "{\"StartUTC\":\"2023-08-11T11:39:21.5Z\",\"time\":\"2023-08-11T11:41:25Z\","
                                 "\"RequestMethod\":\"GET\",\"RequestPath\":\"/\",\"Duration\":10000000000}",
                                 &r, &a, &reason),
                     1);
    assert_int_equal(tide_time_parse_rfc3339("2023-08-11T11:39:21.5Z", 22, &t), 0);
    assert_true(r.ts_ns == t);
    /* Cloudflare Logpush (http_requests): its own field names; the duration
     * from edge start to end; times as RFC 3339 or unixnano */
    assert_int_equal(parse_lines(f,
                                 "{\"ClientIP\":\"198.51.100.9\",\"ClientRequestHost\":\"essays.example.org\","
                                 "\"ClientRequestMethod\":\"GET\",\"ClientRequestURI\":\"/essays/7?ref=a\","
                                 "\"ClientRequestProtocol\":\"HTTP/2\",\"ClientRequestScheme\":\"https\","
                                 "\"ClientRequestUserAgent\":\"Googlebot/2.1\",\"ClientRequestReferer\":\"https://s.example/\","
                                 "\"EdgeStartTimestamp\":\"2024-05-01T10:00:00.1Z\",\"EdgeEndTimestamp\":\"2024-05-01T10:00:00.35Z\","
                                 "\"EdgeResponseStatus\":200,\"EdgeResponseBytes\":5120,\"RayID\":\"7c1\"}",
                                 &r, &a, &reason),
                     1);
    assert_int_equal(tide_time_parse_rfc3339("2024-05-01T10:00:00.1Z", 22, &t), 0);
    assert_true(r.ts_ns == t);
    assert_true(r.duration_ns == 250000000);
    assert_true(tide_str_is_eq_c(r.client, "198.51.100.9"));
    assert_true(tide_str_is_eq_c(r.host, "essays.example.org"));
    assert_true(tide_str_is_eq_c(r.scheme, "https"));
    assert_true(tide_str_is_eq_c(r.path, "/essays/7"));
    assert_true(tide_str_is_eq_c(r.query, "ref=a"));
    assert_true(tide_str_is_eq_c(r.version, "HTTP/2"));
    assert_int_equal(r.status, 200);
    assert_true(r.resp_bytes == 5120);
    assert_true(tide_str_is_eq_c(tide_record_header(&r, "User-Agent"), "Googlebot/2.1"));
    assert_true(tide_str_is_eq_c(tide_record_header(&r, "Referer"), "https://s.example/"));
    assert_int_equal(parse_lines(f,
                                 "{\"ClientRequestMethod\":\"POST\",\"ClientRequestURI\":\"/f\","
                                 "\"EdgeStartTimestamp\":1714557600100000000,\"EdgeEndTimestamp\":1714557600600000000,"
                                 "\"EdgeResponseStatus\":201}",
                                 &r, &a, &reason),
                     1);
    assert_true(r.ts_ns / 1000000 == INT64_C(1714557600100)); /* a double holds ns to ~256 ns */
    assert_true(r.duration_ns / 1000000 == 500);
    /* API Gateway access logs ($context variables in JSON): requestTime is
     * when the request came in (the start), responseLatency the duration */
    assert_int_equal(parse_lines(f,
                                 "{\"requestId\":\"c6af9ac6\",\"ip\":\"203.0.113.7\",\"requestTime\":\"21/Nov/2026:10:00:00 "
                                 "+0000\",\"httpMethod\":\"POST\",\"path\":\"/prod/essays\",\"routeKey\":\"POST /essays\","
                                 "\"status\":\"201\",\"protocol\":\"HTTP/1.1\",\"responseLength\":\"42\",\"responseLatency\":\"87\"}",
                                 &r, &a, &reason),
                     1);
    assert_true(r.ts_ns == at("2026-11-21T10:00:00Z"));
    assert_true(r.duration_ns == 87000000);
    assert_true(tide_str_is_eq_c(r.method, "POST"));
    assert_true(tide_str_is_eq_c(r.path, "/prod/essays"));
    assert_true(r.resp_bytes == 42);
    assert_true(tide_str_is_eq_c(r.client, "203.0.113.7"));
    /* its default format has only the route's template (routeKey): no path, a bad line, not a made-up one */
    assert_int_equal(parse_lines(f, "{\"ip\":\"203.0.113.7\",\"requestTime\":\"21/Nov/2026:10:00:00 +0000\","
                                    "\"httpMethod\":\"GET\",\"routeKey\":\"GET /pets/{id}\",\"status\":\"200\"}",
                                 &r, &a, &reason),
                     TIDE_E_FORMAT);
    assert_string_equal(reason, "line has no path field");
    tide_logfmt_free(f);
    /* --map start=: an app that logs when a request begins */
    assert_int_equal(tide_logfmt_compile(&f, "json", "start=begun,path=p", NULL), 0);
    assert_int_equal(parse_lines(f, "{\"begun\":\"2024-05-01T10:00:00Z\",\"p\":\"/y\",\"duration_ms\":40}", &r, &a, &reason), 1);
    assert_int_equal(tide_time_parse_rfc3339("2024-05-01T10:00:00Z", 20, &t), 0);
    assert_true(r.ts_ns == t);
    assert_true(r.duration_ns == 40000000);
    tide_logfmt_free(f);
    tide_arena_free(&a);
}

static void sniff_picks_the_matching_format(void **state)
{
    char out[512];
    const char *comb = "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 1 \"-\" \"x\"\n"
                       "1.2.3.5 - - [10/Oct/2000:13:55:37 -0700] \"GET /a HTTP/1.1\" 200 1 \"-\" \"x\"\n";
    const char *json = "{\"time\":\"2020-01-01T00:00:00Z\",\"uri\":\"/a\",\"status\":200}\n";
    int tailed = -1;
    const char *more = "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 1 \"-\" \"x\" \"9.9.9.9\"\n"
                       "1.2.3.5 - - [10/Oct/2000:13:55:37 -0700] \"GET /a HTTP/1.1\" 200 1 \"-\" \"x\"\n";
    assert_int_equal(tide_logfmt_sniff(comb, strlen(comb), out, sizeof(out), &tailed), 0);
    assert_string_equal(out, "combined");
    assert_int_equal(tailed, 0);
    /* fields after what the guess reads are counted, so the caller can say they are not stored */
    assert_int_equal(tide_logfmt_sniff(more, strlen(more), out, sizeof(out), &tailed), 0);
    assert_non_null(strstr(out, "\"$http_user_agent\" \"$http_x_forwarded_for\""));
    assert_int_equal(tailed, 0);
    /* an unquoted field there is not X-Forwarded-For: combined, and the field counted as unread */
    more = "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 1 \"-\" \"x\" 116075\n";
    assert_int_equal(tide_logfmt_sniff(more, strlen(more), out, sizeof(out), &tailed), 0);
    assert_string_equal(out, "combined");
    assert_int_equal(tailed, 1);
    assert_int_equal(tide_logfmt_sniff(json, strlen(json), out, sizeof(out), NULL), 0);
    assert_string_equal(out, "json");
    assert_int_equal(tide_logfmt_sniff("hello\nworld\n", 12, out, sizeof(out), NULL), TIDE_E_NOTFOUND);
    (void)state;
}

/* combined with the request time after it (nginx's most common addition) is
 * guessed as such, so durations and true starts are not lost; a whole number
 * there (Apache's %D, microseconds) is not taken for seconds */
static void sniff_keeps_the_request_time(void **state)
{
    char out[512], small[64];
    const char *rt = "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 1 \"-\" \"x\" 0.163\n"
                     "1.2.3.5 - - [10/Oct/2000:13:55:37 -0700] \"GET /a HTTP/1.1\" 200 1 \"-\" \"x\" 1.020 0.9\n";
    const char *xff = "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 1 \"-\" \"x\" \"9.9.9.9\" 0.163\n"
                      "1.2.3.5 - - [10/Oct/2000:13:55:37 -0700] \"GET /a HTTP/1.1\" 200 1 \"-\" \"x\" \"-\" 0.001\n";
    const char *usec = "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 1 \"-\" \"x\" 163000\n"
                       "1.2.3.5 - - [10/Oct/2000:13:55:37 -0700] \"GET /a HTTP/1.1\" 200 1 \"-\" \"x\" 2500\n";
    struct tide_logfmt *f;
    struct tide_record r;
    struct tide_arena a;
    const char *reason = NULL;
    (void)state;
    assert_int_equal(tide_logfmt_sniff(rt, strlen(rt), out, sizeof(out), NULL), 0);
    assert_non_null(strstr(out, "\"$http_user_agent\" $request_time"));
    assert_null(strstr(out, "x_forwarded_for"));
    /* and the guess reads the duration, so the start is the log time minus it */
    assert_int_equal(tide_logfmt_compile(&f, out, NULL, NULL), 0);
    tide_arena_init(&a, 0);
    memset(&r, 0, sizeof(r));
    assert_int_equal(tide_logfmt_parse(f, rt, strcspn(rt, "\n"), &r, &a, &reason), 1);
    assert_int_equal(r.duration_ns, 163000000);
    assert_int_equal(r.status, 200);
    tide_logfmt_free(f);
    tide_arena_free(&a);
    assert_int_equal(tide_logfmt_sniff(xff, strlen(xff), out, sizeof(out), NULL), 0);
    assert_non_null(strstr(out, "\"$http_x_forwarded_for\" $request_time"));
    assert_int_equal(tide_logfmt_sniff(usec, strlen(usec), out, sizeof(out), NULL), 0);
    assert_string_equal(out, "combined");
    /* a buffer too small for the guess is an error, never a cut spec */
    assert_int_equal(tide_logfmt_sniff(rt, strlen(rt), small, sizeof(small), NULL), TIDE_E_LIMIT);
}

/* ---- W3C (IIS, NetScaler, CloudFront), HAProxy, S3 ------------------------------ */

/* Parses each line of text in order with one compiled format (header lines
 * set state); returns the last line's result, its record in *r. */
static int parse_lines(struct tide_logfmt *f, const char *text, struct tide_record *r,
                       struct tide_arena *a, const char **reason)
{
    int rc = TIDE_E_FORMAT;
    while (*text) {
        size_t n = strcspn(text, "\n");
        tide_arena_reset(a);
        memset(r, 0, sizeof(*r));
        *reason = NULL;
        rc = tide_logfmt_parse(f, text, n, r, a, reason);
        text += n + (text[n] == '\n');
    }
    return rc;
}

static void w3c_reads_iis_and_netscaler_logs(void **state)
{
    struct tide_logfmt *f;
    struct tide_arena a;
    struct tide_record r;
    const char *reason;
    int64_t end;
    (void)state;
    tide_arena_init(&a, 0);
    assert_int_equal(tide_logfmt_compile(&f, "w3c", NULL, NULL), 0);
    /* no #Fields yet: a clear error */
    assert_int_equal(parse_lines(f, "2024-01-02 03:04:05 GET / - 80", &r, &a, &reason), TIDE_E_FORMAT);
    assert_non_null(strstr(reason, "#Fields"));
    /* IIS: time-taken in ms, '+' for spaces ("++" a space and a plus), cs(Name) headers, port 443 */
    assert_int_equal(parse_lines(f,
                                 "#Software: Microsoft Internet Information Services 10.0\n"
                                 "#Version: 1.0\n"
                                 "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port c-ip "
                                 "cs(User-Agent) cs(Cookie) cs(X-Forwarded-For) sc-status sc-bytes time-taken\n"
                                 "2024-01-02 03:04:05 10.0.0.1 GET /essays/7 a=1 443 192.0.2.9 "
                                 "Mozilla/5.0+(compatible;+Googlebot/2.1;++http://www.google.com/bot.html) "
                                 "sid=a+b;+lang=en 198.51.100.1,10.0.0.2 200 512 1250",
                                 &r, &a, &reason),
                     1);
    assert_int_equal(tide_time_parse_rfc3339("2024-01-02T03:04:05Z", 20, &end), 0);
    assert_true(r.duration_ns == 1250000000LL);
    assert_true(r.ts_ns == end - 1250000000LL); /* the time is the end */
    assert_true(tide_str_is_eq_c(r.method, "GET"));
    assert_true(tide_str_is_eq_c(r.path, "/essays/7"));
    assert_true(tide_str_is_eq_c(r.query, "a=1"));
    assert_true(tide_str_is_eq_c(r.scheme, "https"));
    assert_true(tide_str_is_eq_c(r.client, "192.0.2.9"));
    assert_int_equal(r.status, 200);
    assert_true(r.resp_bytes == 512);
    assert_true(tide_str_is_eq_c(tide_record_header(&r, "User-Agent"),
                                 "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"));
    assert_true(tide_str_is_eq_c(tide_record_header(&r, "Cookie"), "sid=a+b; lang=en"));
    assert_true(tide_str_is_eq_c(tide_record_header(&r, "X-Forwarded-For"), "198.51.100.1,10.0.0.2"));
    /* a new header block mid-file (IIS restarted) renames the columns; a quoted value keeps its spaces */
    assert_int_equal(parse_lines(f,
                                 "#Fields: date time cs-method cs-uri-stem c-ip cs(Cookie) sc-status time-taken\n"
                                 "2024-01-02 03:05:00 POST /api/feedback 192.0.2.10 \"a=1; b=2\" 201 40",
                                 &r, &a, &reason),
                     1);
    assert_true(tide_str_is_eq_c(r.method, "POST"));
    assert_true(tide_str_is_eq_c(r.client, "192.0.2.10"));
    assert_true(tide_str_is_eq_c(tide_record_header(&r, "Cookie"), "a=1; b=2"));
    assert_true(r.duration_ns == 40000000);
    tide_logfmt_free(f);
    /* NetScaler (and the W3C draft): time-taken in seconds */
    assert_int_equal(tide_logfmt_compile(&f, "w3c", NULL, NULL), 0);
    assert_int_equal(parse_lines(f,
                                 "#Version: 1.0\n#Software: Netscaler Web Logging(NSWL)\n"
                                 "#Fields: date time c-ip cs-method cs-uri-stem sc-status time-taken\n"
                                 "2014-02-18 11:55:13 172.20.1.0 GET /login.jsp 302 2",
                                 &r, &a, &reason),
                     1);
    assert_true(r.duration_ns == 2000000000LL);
    assert_int_equal(r.status, 302);
    tide_logfmt_free(f);
    /* CloudFront writes a user agent's space as %2520: decoded twice */
    assert_int_equal(tide_logfmt_compile(&f, "cloudfront", NULL, NULL), 0);
    assert_int_equal(parse_lines(f,
                                 "#Fields: date time c-ip cs-method cs-uri-stem sc-status cs(User-Agent) time-taken\n"
                                 "2014-05-23\t01:13:11\t192.0.2.10\tGET\t/a\t200\tMozilla/5.0%2520(iPhone;%2520x)\t0.001",
                                 &r, &a, &reason),
                     1);
    assert_true(tide_str_is_eq_c(tide_record_header(&r, "User-Agent"), "Mozilla/5.0 (iPhone; x)"));
    tide_logfmt_free(f);
    tide_arena_free(&a);
}

static void haproxy_reads_http_logs(void **state)
{
    struct tide_logfmt *f;
    struct tide_arena a;
    struct tide_record r;
    const char *reason;
    int64_t start;
    (void)state;
    tide_arena_init(&a, 0);
    assert_int_equal(tide_logfmt_compile(&f, "haproxy", NULL, NULL), 0);
    /* with a syslog header; a TLS frontend (~); captured headers before the request */
    assert_int_equal(parse_lines(f,
                                 "Sep 25 06:05:27 lb1 haproxy[6801]: 4.3.2.1:55008 [25/Sep/2018:06:05:27.584] "
                                 "ft_https~ bk_app/web1 0/0/1/71/72 200 7456 - - ---- 5/4/0/1/0 0/0 "
                                 "{example.org|Mozilla} {} \"POST /user/?x=1 HTTP/1.1\"",
                                 &r, &a, &reason),
                     1);
    assert_int_equal(tide__log_time_local(tide_str_c("25/Sep/2018:06:05:27.584"), &start), 0);
    assert_true(r.ts_ns == start); /* the date is the start */
    assert_true(r.duration_ns == 72000000);
    assert_true(tide_str_is_eq_c(r.client, "4.3.2.1"));
    assert_true(tide_str_is_eq_c(r.scheme, "https"));
    assert_true(tide_str_is_eq_c(r.method, "POST"));
    assert_true(tide_str_is_eq_c(r.path, "/user/"));
    assert_true(tide_str_is_eq_c(r.query, "x=1"));
    assert_int_equal(r.status, 200);
    assert_true(r.resp_bytes == 7456);
    assert_int_equal(r.n_headers, 0); /* captured headers without names: not kept */
    assert_int_equal(r.host.len, 0);
    /* haproxy:NAMES: the captured request headers kept under their names (#XX
     * decoded; an empty capture is a header the request did not have); the
     * response block after it is not read */
    {
        struct tide_logfmt *h;
        assert_int_equal(tide_logfmt_compile(&h, "haproxy:Host,User-Agent,Referer,X-Id", NULL, NULL), 0);
        assert_int_equal(parse_lines(h,
                                     "4.3.2.1:55008 [25/Sep/2018:06:05:27.584] ft bk/web1 0/0/1/71/72 200 7456 - - ---- "
                                     "5/4/0/1/0 0/0 {example.org|Mo #7B1#7C2#7D #23 #e2#80#99||7} {text/html|x} "
                                     "\"GET /a HTTP/1.1\"",
                                     &r, &a, &reason),
                         1);
        assert_true(tide_str_is_eq_c(r.host, "example.org"));
        assert_true(tide_str_is_eq_c(tide_record_header(&r, "User-Agent"), "Mo {1|2} # \xe2\x80\x99"));
        assert_int_equal(tide_record_header(&r, "Referer").len, 0);
        assert_true(tide_str_is_eq_c(tide_record_header(&r, "X-Id"), "7"));
        assert_int_equal(r.n_headers, 2);
        /* fewer values than names, and a line without captures */
        assert_int_equal(parse_lines(h,
                                     "4.3.2.1:55008 [25/Sep/2018:06:05:27.584] ft bk/web1 0/0/1/71/72 200 7456 - - ---- "
                                     "5/4/0/1/0 0/0 {a.org} \"GET /b HTTP/1.1\"",
                                     &r, &a, &reason),
                         1);
        assert_true(tide_str_is_eq_c(r.host, "a.org"));
        assert_int_equal(r.n_headers, 0);
        assert_int_equal(parse_lines(h,
                                     "4.3.2.1:55008 [25/Sep/2018:06:05:27.584] ft bk/web1 0/0/1/71/72 200 7456 - - ---- "
                                     "5/4/0/1/0 0/0 \"GET /c HTTP/1.1\"",
                                     &r, &a, &reason),
                         1);
        assert_int_equal(r.host.len, 0);
        tide_logfmt_free(h);
        assert_int_not_equal(tide_logfmt_compile(&h, "haproxy:", NULL, NULL), 0);
        assert_int_not_equal(tide_logfmt_compile(&h, "haproxy:Host,", NULL, NULL), 0);
        assert_int_not_equal(tide_logfmt_compile(&h, "haproxy:Host,,Referer", NULL, NULL), 0);
        assert_int_not_equal(tide_logfmt_compile(&h, "haproxy:User Agent", NULL, NULL), 0);
    }
    /* bare (stdout), an IPv6 client, a request that never completed (-1), logasap (+) */
    assert_int_equal(parse_lines(f,
                                 "2001:db8::7:41000 [25/Sep/2018:06:05:28.000] ft_http be/s1 10/0/-1/-1/-1 503 212 - - "
                                 "SC-- 1/1/0/0/3 0/0 \"GET / HTTP/1.1\"",
                                 &r, &a, &reason),
                     1);
    assert_true(tide_str_is_eq_c(r.client, "2001:db8::7"));
    assert_true(tide_str_is_eq_c(r.scheme, "http"));
    assert_true(r.duration_ns == -1);
    assert_int_equal(r.status, 503);
    assert_int_equal(parse_lines(f,
                                 "10.0.0.1:1 [25/Sep/2018:06:05:29.100] fe be/s 0/0/0/5/+5 200 1 - - ---- 1/1/1/1/0 0/0 "
                                 "\"GET /late HTTP/1.1\"",
                                 &r, &a, &reason),
                     1);
    assert_true(r.duration_ns == 5000000);
    /* <BADREQ>: a line without a request, not a bad line */
    assert_int_equal(parse_lines(f,
                                 "10.0.0.1:2 [25/Sep/2018:06:05:30.000] fe fe/<NOSRV> -1/-1/-1/-1/0 400 187 - - "
                                 "PR-- 1/1/0/0/0 0/0 \"<BADREQ>\"",
                                 &r, &a, &reason),
                     0);
    assert_true(strncmp(reason, "no request", 10) == 0);
    /* --tz: a proxy two hours ahead of UTC */
    tide_logfmt_set_tz(f, 2 * 3600 * TIDE_NS_PER_SEC);
    assert_int_equal(parse_lines(f,
                                 "10.0.0.1:1 [25/Sep/2018:06:05:29.100] fe be/s 0/0/0/5/5 200 1 - - ---- 1/1/1/1/0 0/0 "
                                 "\"GET /tz HTTP/1.1\"",
                                 &r, &a, &reason),
                     1);
    assert_int_equal(tide__log_time_local(tide_str_c("25/Sep/2018:04:05:29.100"), &start), 0);
    assert_true(r.ts_ns == start);
    tide_logfmt_set_tz(f, 0);
    {
        int64_t off;
        assert_int_equal(tide_tz_parse("+02:00", &off), 0);
        assert_true(off == 7200 * TIDE_NS_PER_SEC);
        assert_int_equal(tide_tz_parse("-0530", &off), 0);
        assert_true(off == -19800 * TIDE_NS_PER_SEC);
        assert_int_equal(tide_tz_parse("Z", &off), 0);
        assert_true(off == 0);
        assert_int_equal(tide_tz_parse("+2", &off), TIDE_E_FORMAT);
        assert_int_equal(tide_tz_parse("+25:00", &off), TIDE_E_FORMAT);
        assert_int_equal(tide_tz_parse("0200", &off), TIDE_E_FORMAT);
    }
    /* a combined line is not an HAProxy line */
    assert_int_equal(parse_lines(f,
                                 "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 1 \"-\" \"x\"",
                                 &r, &a, &reason),
                     TIDE_E_FORMAT);
    tide_logfmt_free(f);
    tide_arena_free(&a);
}

static void s3_reads_server_access_logs(void **state)
{
    struct tide_logfmt *f;
    struct tide_arena a;
    struct tide_record r;
    const char *reason;
    int64_t start;
    (void)state;
    tide_arena_init(&a, 0);
    assert_int_equal(tide_logfmt_compile(&f, "s3", NULL, NULL), 0);
    assert_int_equal(parse_lines(f,
                                 "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be amzn-s3-demo-bucket1 "
                                 "[06/Feb/2019:00:00:38 +0000] 192.0.2.3 "
                                 "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be 3E57427F3EXAMPLE "
                                 "REST.GET.VERSIONING - \"GET /amzn-s3-demo-bucket1?versioning HTTP/1.1\" 200 - 113 - 7 - "
                                 "\"-\" \"S3Console/0.4\" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= "
                                 "SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com "
                                 "TLSV1.2 arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP Yes",
                                 &r, &a, &reason),
                     1);
    assert_int_equal(tide__log_time_local(tide_str_c("[06/Feb/2019:00:00:38 +0000]"), &start), 0);
    assert_true(r.ts_ns == start); /* S3's time is when it received the request */
    assert_true(r.duration_ns == 7000000);
    assert_true(tide_str_is_eq_c(r.client, "192.0.2.3"));
    assert_true(tide_str_is_eq_c(r.path, "/amzn-s3-demo-bucket1"));
    assert_true(tide_str_is_eq_c(r.query, "versioning"));
    assert_true(tide_str_is_eq_c(r.host, "amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com"));
    assert_true(tide_str_is_eq_c(r.scheme, "https"));
    assert_true(r.resp_bytes == 113);
    assert_true(tide_str_is_eq_c(tide_record_header(&r, "User-Agent"), "S3Console/0.4"));
    assert_int_equal(parse_lines(f, "owner bucket [06/Feb/2019:00:00:38 +0000] 1.2.3.4 - id OP key", &r, &a, &reason),
                     TIDE_E_FORMAT);
    tide_logfmt_free(f);
    tide_arena_free(&a);
}

static void sniff_tells_w3c_haproxy_and_s3(void **state)
{
    char out[512];
    const char *iis = "#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n"
                      "#Fields: date time cs-method cs-uri-stem c-ip sc-status time-taken\n"
                      "2024-01-02 03:04:05 GET / 192.0.2.9 200 15\n";
    const char *hap = "Sep 25 06:05:27 lb1 haproxy[6801]: 4.3.2.1:55008 [25/Sep/2018:06:05:27.584] ft bk/abc "
                      "0/0/0/72/72 200 7456 - - ---- 5/4/0/1/0 0/0 \"POST /user/ HTTP/1.1\"\n";
    const char *s3 = "abc bucket [10/Feb/2012:16:42:07 -0500] 1.2.3.4 - EB35 WEBSITE.GET.OBJECT index "
                     "\"GET /index HTTP/1.1\" 200 - 368 368 10 9 \"-\" \"Mozilla/5.0\" -\n";
    (void)state;
    assert_int_equal(tide_logfmt_sniff(iis, strlen(iis), out, sizeof(out), NULL), 0);
    assert_string_equal(out, "w3c");
    assert_int_equal(tide_logfmt_sniff(hap, strlen(hap), out, sizeof(out), NULL), 0);
    assert_string_equal(out, "haproxy");
    assert_int_equal(tide_logfmt_sniff(s3, strlen(s3), out, sizeof(out), NULL), 0);
    assert_string_equal(out, "s3");
}

/* Kubernetes ingress-nginx's default format is guessed whole (its request
 * time kept, upstream lists with ", " in them read), also inside CRI lines */
static void sniff_tells_ingress_nginx(void **state)
{
    char out[512], tailed_out[8];
    int tailed = -1;
    struct tide_logfmt *f;
    struct tide_arena a;
    struct tide_record r;
    const char *reason;
    const char *ing = "192.168.65.3 - - [10/Oct/2025:13:55:36 +0000] \"GET /e/12?d=1 HTTP/1.1\" 200 615 \"-\" "
                      "\"curl/8.1.2\" 83 0.012 [default-web-80] [] 10.244.0.5:8080 615 0.011 200 4a1c\n"
                      "192.168.65.3 - - [10/Oct/2025:13:55:37 +0000] \"POST /api/f HTTP/2.0\" 502 150 \"-\" "
                      "\"Mozilla/5.0 (X11)\" 512 1.503 [default-web-80] [] 10.244.0.5:8080, 10.244.0.6:8080 0, 0 "
                      "0.750, 0.751 502, 502 5b2d\n";
    char cri[1024];
    (void)state;
    (void)tailed_out;
    assert_int_equal(tide_logfmt_sniff(ing, strlen(ing), out, sizeof(out), &tailed), 0);
    assert_string_equal(out, "ingress_nginx");
    assert_int_equal(tailed, 0);
    tide_arena_init(&a, 0);
    assert_int_equal(tide_logfmt_compile(&f, "ingress_nginx", NULL, NULL), 0);
    assert_int_equal(parse_lines(f, ing, &r, &a, &reason), 1);
    assert_true(r.duration_ns == 1503000000LL);
    assert_int_equal(r.status, 502);
    tide_logfmt_free(f);
    tide_arena_free(&a);
    snprintf(cri, sizeof(cri), "2025-10-10T13:55:36Z stdout F %.*s\n", (int)strcspn(ing, "\n"), ing);
    assert_int_equal(tide_logfmt_sniff(cri, strlen(cri), out, sizeof(out), NULL), 0);
    assert_string_equal(out, "cri+ingress_nginx");
}

/* Traefik's default (CLF) access log is guessed whole: the date is the
 * start, the duration is read with its unit ("12ms") */
static void sniff_tells_traefik(void **state)
{
    const char *tr = "192.168.1.1 - - [10/Oct/2023:13:55:36 +0000] \"GET /essays/7?x=1 HTTP/1.1\" 200 2326 \"-\" "
                     "\"Mozilla/4.08 [en] (Win98; I ;Nav)\" 1 \"websecure-app@kubernetes\" \"http://10.42.0.12:8080\" 12ms\n"
                     "10.0.0.2 - - [10/Oct/2023:13:55:37 +0000] \"POST /api/f HTTP/2.0\" 201 51 \"-\" \"curl/8.0\" 2 "
                     "\"websecure-app@kubernetes\" \"http://10.42.0.12:8080\" 1530ms\n";
    char out[512];
    int tailed = -1;
    struct tide_logfmt *f;
    struct tide_arena a;
    struct tide_record r;
    const char *reason;
    int64_t t;
    (void)state;
    assert_int_equal(tide_logfmt_sniff(tr, strlen(tr), out, sizeof(out), &tailed), 0);
    assert_string_equal(out, "traefik");
    assert_int_equal(tailed, 0);
    tide_arena_init(&a, 0);
    assert_int_equal(tide_logfmt_compile(&f, "traefik", NULL, NULL), 0);
    assert_int_equal(parse_lines(f, tr, &r, &a, &reason), 1); /* the last line */
    assert_true(r.duration_ns == 1530000000);
    assert_int_equal(tide__log_time_local(tide_str_c("10/Oct/2023:13:55:37 +0000"), &t), 0);
    assert_true(r.ts_ns == t);
    assert_true(tide_str_is_eq_c(r.path, "/api/f"));
    assert_true(tide_str_is_eq_c(r.version, "HTTP/2.0"));
    assert_true(tide_str_is_eq_c(tide_record_header(&r, "User-Agent"), "curl/8.0"));
    tide_logfmt_free(f);
    tide_arena_free(&a);
}

/* key=value lines (logfmt): the JSON reader's fields and --map over them;
 * Heroku's router lines inside their syslog lines, guessed */
static void kv_and_heroku_router_logs(void **state)
{
    static const char HK[] =
        "2024-05-01T10:00:00.5+00:00 heroku[router]: at=info method=GET path=\"/essays/7?x=1\" "
        "host=essays.herokuapp.com request_id=8601 fwd=\"204.204.204.204\" dyno=web.1 connect=1ms service=18ms "
        "status=200 bytes=13 protocol=https\n"
        "2024-05-01T10:00:00.6+00:00 app[web.1]: Started GET \"/essays/7\" for 204.204.204.204\n"
        "2024-05-01T10:00:01+00:00 heroku[router]: at=error code=H12 desc=\"Request timeout\" method=POST "
        "path=\"/api/f\" host=essays.herokuapp.com fwd=\"10.1.1.1,204.204.204.205\" dyno=web.1 connect=0ms "
        "service=30000ms status=503 bytes=0 protocol=https\n"
        "2024-05-01T10:00:02+00:00 heroku[web.1]: State changed from starting to up\n";
    struct tide_logfmt *f;
    struct tide_arena a;
    struct tide_record r;
    const char *reason;
    char out[512];
    (void)state;
    tide_arena_init(&a, 0);
    assert_int_equal(tide_logfmt_compile(&f, "kv", NULL, NULL), 0);
    assert_int_equal(parse_lines(f,
                                 "time=2024-05-01T10:00:00Z level=info msg=\"said \\\"hi\\\"\" ok method=POST "
                                 "path=\"/a b\" status=201 duration=1.5s remote_ip=1.2.3.5 user_agent=\"Mo (X)\"",
                                 &r, &a, &reason),
                     1);
    assert_true(r.ts_ns == at("2024-05-01T09:59:58.5Z"));
    assert_true(tide_str_is_eq_c(r.method, "POST"));
    assert_true(tide_str_is_eq_c(r.path, "/a b"));
    assert_int_equal(r.status, 201);
    assert_true(tide_str_is_eq_c(r.client, "1.2.3.5"));
    assert_true(tide_str_is_eq_c(tide_record_header(&r, "User-Agent"), "Mo (X)"));
    /* an epoch time written as a string: its unit by its size, as in JSON */
    assert_int_equal(parse_lines(f, "ts=1714557600123 path=/e", &r, &a, &reason), 1);
    assert_true(r.ts_ns == INT64_C(1714557600123000000));
    assert_int_equal(parse_lines(f, "just words here", &r, &a, &reason), TIDE_E_FORMAT);
    assert_string_equal(reason, "line has no key=value pairs");
    assert_int_equal(parse_lines(f, "time=2024-05-01T10:00:00Z path=\"/open", &r, &a, &reason), TIDE_E_FORMAT);
    assert_string_equal(reason, "unterminated quoted value");
    tide_logfmt_free(f);
    /* heroku: protocol is the scheme (not the version), fwd the client,
     * service the duration; its time from the syslog header */
    assert_int_equal(tide_logfmt_compile(&f, "syslog+heroku", NULL, NULL), 0);
    {
        const char *p = HK;
        int want[] = {1, 0, 1, 0}, i;
        for (i = 0; i < 4; i++) {
            size_t n = strcspn(p, "\n");
            tide_arena_reset(&a);
            assert_int_equal(tide_logfmt_parse(f, p, n, &r, &a, &reason), want[i]);
            if (i == 0) {
                assert_true(r.ts_ns == at("2024-05-01T10:00:00.482Z")); /* logged at the end: minus service */
                assert_true(r.duration_ns == 18000000);
                assert_true(tide_str_is_eq_c(r.scheme, "https"));
                assert_int_equal(r.version.len, 0);
                assert_true(tide_str_is_eq_c(r.host, "essays.herokuapp.com"));
                assert_true(tide_str_is_eq_c(r.path, "/essays/7"));
                assert_true(tide_str_is_eq_c(r.query, "x=1"));
                assert_true(tide_str_is_eq_c(r.client, "204.204.204.204"));
                assert_true(r.resp_bytes == 13);
            } else if (i == 2) {
                assert_int_equal(r.status, 503);
                assert_true(tide_str_is_eq_c(r.client, "10.1.1.1")); /* the list's first hop */
            } else {
                assert_string_equal(reason, "another program's syslog line"); /* app[web.1], heroku[web.1] */
            }
            p += n + 1;
        }
    }
    tide_logfmt_free(f);
    assert_int_not_equal(tide_logfmt_compile(&f, "heroku", "path=p", NULL), 0);
    assert_int_equal(tide_logfmt_sniff(HK, sizeof(HK) - 1, out, sizeof(out), NULL), 0);
    assert_string_equal(out, "syslog+heroku");
    /* a name --map gives to one field is not guessed for another */
    assert_int_equal(tide_logfmt_compile(&f, "json", "scheme=protocol", NULL), 0);
    assert_int_equal(parse_lines(f, "{\"time\":\"2024-05-01T10:00:00Z\",\"path\":\"/a\",\"protocol\":\"https\"}", &r, &a,
                                 &reason),
                     1);
    assert_true(tide_str_is_eq_c(r.scheme, "https"));
    assert_int_equal(r.version.len, 0);
    tide_logfmt_free(f);
    tide_arena_free(&a);
}

/* Envoy's default access log and Istio's longer one: start time, duration in
 * ms, client from X-Forwarded-For or Istio's downstream address */
static void envoy_reads_envoy_and_istio_logs(void **state)
{
    static const char *LOG =
        "[2016-04-15T20:17:00.310Z] \"POST /api/v1/locations HTTP/2\" 204 - 154 0 226 100 \"10.0.35.28, 10.0.0.1\" "
        "\"nsq2http\" \"cc21d9b0\" \"locations\" \"tcp://10.0.2.1:80\"\n"
        "[2020-11-25T21:26:18.409Z] \"GET /status/418?x=1 HTTP/1.1\" 418 - via_upstream - \"-\" 0 135 4 4 \"-\" "
        "\"curl/7.73.0-DEV\" \"8496\" \"httpbin:8000\" \"10.44.1.27:80\" outbound|8000||httpbin 10.44.1.23:37652 "
        "10.0.45.184:8000 [2001:db8::5]:46520 - default\n"
        "[2020-11-25T21:26:19.000Z] \"- - -\" 0 - - - \"-\" 1234 5678 30 - \"-\" \"-\" \"-\" \"-\" \"10.44.1.27:3306\" "
        "outbound|3306||mysql 10.44.1.23:37652 10.0.45.184:3306 10.44.1.23:46520 - -\n";
    struct tide_logfmt *f;
    struct tide_arena a;
    struct tide_record r;
    const char *reason;
    char out[512];
    const char *p = LOG;
    int64_t t;
    size_t n;
    (void)state;
    tide_arena_init(&a, 0);
    assert_int_equal(tide_logfmt_compile(&f, "envoy", NULL, NULL), 0);
    n = strcspn(p, "\n");
    memset(&r, 0, sizeof(r));
    assert_int_equal(tide_logfmt_parse(f, p, n, &r, &a, &reason), 1);
    assert_int_equal(tide_time_parse_rfc3339("2016-04-15T20:17:00.310Z", 24, &t), 0);
    assert_true(r.ts_ns == t); /* START_TIME is the start */
    assert_true(r.duration_ns == 226000000);
    assert_int_equal(r.status, 204);
    assert_true(tide_str_is_eq_c(r.host, "locations"));
    assert_true(tide_str_is_eq_c(r.client, "10.0.35.28"));
    assert_true(tide_str_is_eq_c(tide_record_header(&r, "User-Agent"), "nsq2http"));
    p += n + 1;
    n = strcspn(p, "\n");
    tide_arena_reset(&a);
    assert_int_equal(tide_logfmt_parse(f, p, n, &r, &a, &reason), 1);
    assert_true(r.duration_ns == 4000000);
    assert_int_equal(r.status, 418);
    assert_true(r.resp_bytes == 135);
    assert_true(tide_str_is_eq_c(r.query, "x=1"));
    assert_true(tide_str_is_eq_c(r.client, "2001:db8::5")); /* Istio's downstream remote address */
    p += n + 1;
    n = strcspn(p, "\n");
    tide_arena_reset(&a);
    assert_int_equal(tide_logfmt_parse(f, p, n, &r, &a, &reason), 0); /* a TCP connection */
    assert_true(strncmp(reason, "no request", 10) == 0);
    tide_logfmt_free(f);
    tide_arena_free(&a);
    assert_int_equal(tide_logfmt_sniff(LOG, strlen(LOG), out, sizeof(out), NULL), 0);
    assert_string_equal(out, "envoy");
}

/* Lines inside other logs' lines: Docker json-file, CRI (Kubernetes), syslog. */
static void wrapped_lines_are_read_inside_their_wrappers(void **state)
{
    static const char *L = "192.0.2.1 - - [10/Oct/2025:13:55:36 +0000] \"GET /a?x=1 HTTP/1.1\" 200 612 \"-\" "
                           "\"Mo \\x22z\\x22\"";
    struct tide_logfmt *f;
    struct tide_arena a;
    struct tide_record r;
    const char *reason;
    char line[1024], out[512];
    (void)state;
    tide_arena_init(&a, 0);
    /* docker: the log string JSON-unescaped (the line's own \xHH escapes kept for the format) */
    assert_int_equal(tide_logfmt_compile(&f, "docker+combined", NULL, NULL), 0);
    snprintf(line, sizeof(line), "{\"log\":\"192.0.2.1 - - [10/Oct/2025:13:55:36 +0000] \\\"GET /a?x=1 HTTP/1.1\\\" "
                                 "200 612 \\\"-\\\" \\\"Mo \\\\x22z\\\\x22\\\"\\n\",\"stream\":\"stdout\",\"time\":\"x\"}");
    assert_int_equal(parse_lines(f, line, &r, &a, &reason), 1);
    assert_true(tide_str_is_eq_c(r.client, "192.0.2.1"));
    assert_true(tide_str_is_eq_c(r.query, "x=1"));
    assert_true(tide_str_is_eq_c(tide_record_header(&r, "User-Agent"), "Mo \"z\""));
    /* stderr (the error log) is a line without a request; a line split in two is joined */
    assert_int_equal(parse_lines(f, "{\"log\":\"2025/10/10 [error] x\\n\",\"stream\":\"stderr\"}", &r, &a, &reason), 0);
    assert_true(strncmp(reason, "no request", 10) == 0);
    assert_int_equal(parse_lines(f, "{\"log\":\"192.0.2.1 - - [10/Oct/2025:13:55:36 +0000] \\\"GET /lo\",\"stream\":\"stdout\"}",
                                 &r, &a, &reason),
                     0);
    assert_non_null(strstr(reason, "joined"));
    assert_int_equal(parse_lines(f, "{\"log\":\"ng HTTP/1.1\\\" 200 1\\n\",\"stream\":\"stdout\"}", &r, &a, &reason), 1);
    assert_true(tide_str_is_eq_c(r.path, "/long"));
    assert_int_equal(parse_lines(f, "not json", &r, &a, &reason), TIDE_E_FORMAT);
    tide_logfmt_free(f);
    /* cri: time stream tag message; P pieces joined to the F that ends them */
    assert_int_equal(tide_logfmt_compile(&f, "cri+combined", NULL, NULL), 0);
    snprintf(line, sizeof(line), "2025-10-10T13:55:36.123456789Z stdout F %s", L);
    assert_int_equal(parse_lines(f, line, &r, &a, &reason), 1);
    assert_true(tide_str_is_eq_c(r.path, "/a"));
    assert_int_equal(parse_lines(f, "2025-10-10T13:55:36Z stderr F boom", &r, &a, &reason), 0);
    assert_int_equal(parse_lines(f, "2025-10-10T13:55:36Z stdout P 192.0.2.1 - - [10/Oct/2025:13:55:36 +0000] \"GET /lo",
                                 &r, &a, &reason),
                     0);
    assert_int_equal(parse_lines(f, "2025-10-10T13:55:36Z stdout F ng HTTP/1.1\" 200 1", &r, &a, &reason), 1);
    assert_true(tide_str_is_eq_c(r.path, "/long"));
    /* kubectl logs --timestamps: the time, then the line */
    snprintf(line, sizeof(line), "2025-10-10T13:55:36.123456789Z %s", L);
    assert_int_equal(parse_lines(f, line, &r, &a, &reason), 1);
    assert_true(tide_str_is_eq_c(r.path, "/a"));
    assert_int_equal(parse_lines(f, L, &r, &a, &reason), TIDE_E_FORMAT); /* no time before it */
    tide_logfmt_free(f);
    /* syslog: RFC 3164, RFC 3339 time, RFC 5424 with structured data */
    assert_int_equal(tide_logfmt_compile(&f, "syslog+combined", NULL, NULL), 0);
    snprintf(line, sizeof(line), "Oct 10 13:55:36 web1 nginx: %s", L);
    assert_int_equal(parse_lines(f, line, &r, &a, &reason), 1);
    assert_true(tide_str_is_eq_c(r.client, "192.0.2.1"));
    snprintf(line, sizeof(line), "2025-10-10T13:55:36.5+00:00 web1 nginx[29]: %s", L);
    assert_int_equal(parse_lines(f, line, &r, &a, &reason), 1);
    assert_true(tide_str_is_eq_c(r.path, "/a"));
    snprintf(line, sizeof(line), "<190>1 2025-10-10T13:55:37Z web1 nginx 29 - [m x=\"1\\]\"] %s", L);
    assert_int_equal(parse_lines(f, line, &r, &a, &reason), 1);
    assert_true(tide_str_is_eq_c(r.client, "192.0.2.1"));
    assert_int_equal(parse_lines(f, L, &r, &a, &reason), TIDE_E_FORMAT); /* no header */
    tide_logfmt_free(f);
    /* guessed: the wrapper and the format inside it */
    snprintf(line, sizeof(line), "2025-10-10T13:55:36Z stdout F %s\n2025-10-10T13:55:36Z stderr F x\n", L);
    assert_int_equal(tide_logfmt_sniff(line, strlen(line), out, sizeof(out), NULL), 0);
    assert_string_equal(out, "cri+combined");
    snprintf(line, sizeof(line), "Oct 10 13:55:36 web1 nginx: %s\n", L);
    assert_int_equal(tide_logfmt_sniff(line, strlen(line), out, sizeof(out), NULL), 0);
    assert_string_equal(out, "syslog+combined");
    snprintf(line, sizeof(line), "2025-10-10T13:55:36.123456789Z %s\n", L);
    assert_int_equal(tide_logfmt_sniff(line, strlen(line), out, sizeof(out), NULL), 0);
    assert_string_equal(out, "cri+combined");
    tide_arena_free(&a);
}

/* Lines without a time of their own take their wrapper's: a syslog header's
 * date (its year from --year, or else the latest that is not after the
 * file's last change), Docker's "time", CRI's first field. A syslog file's
 * lines from other programs, and syslogd's notes of repeats, are not bad. */
static int64_t at(const char *rfc3339)
{
    int64_t t = 0;
    assert_int_equal(tide_time_parse_rfc3339(rfc3339, strlen(rfc3339), &t), 0);
    return t;
}

static void wrapper_time_and_syslog_programs(void **state)
{
    static const char *AL = "tomcat.log: 127.0.0.1 - - \"GET /a HTTP/1.1\" 200 5 1.5";
    struct tide_logfmt *f;
    struct tide_arena a;
    struct tide_record r;
    const char *reason;
    char line[512];
    (void)state;
    tide_arena_init(&a, 0);
    assert_int_equal(tide_logfmt_compile(&f, "syslog+apache:%h %l %u \"%r\" %>s %b %T", NULL, NULL), 0);
    /* the year that puts the date no later than the file's last change */
    tide_logfmt_set_year(f, 0, at("2019-06-01T00:00:00Z"));
    snprintf(line, sizeof(line), "Mar 24 14:02:50 web1 %s", AL);
    assert_int_equal(parse_lines(f, line, &r, &a, &reason), 1);
    assert_true(r.ts_ns == at("2019-03-24T14:02:48.5Z")); /* logged at the end: minus %T */
    tide_logfmt_set_year(f, 0, at("2019-02-01T00:00:00Z"));
    assert_int_equal(parse_lines(f, line, &r, &a, &reason), 1);
    assert_true(r.ts_ns == at("2018-03-24T14:02:48.5Z"));
    /* a day's grace for clocks; the day padded with a space; --tz */
    tide_logfmt_set_year(f, 0, at("2019-03-24T00:00:00Z"));
    tide_logfmt_set_tz(f, 2 * 3600 * TIDE_NS_PER_SEC);
    assert_int_equal(parse_lines(f, line, &r, &a, &reason), 1);
    assert_true(r.ts_ns == at("2019-03-24T12:02:48.5Z"));
    tide_logfmt_set_tz(f, 0);
    /* --year: the first line's; the year steps on from December to January */
    tide_logfmt_set_year(f, 2015, 0);
    snprintf(line, sizeof(line), "Dec 31 23:59:59 web1 %s", AL);
    assert_int_equal(parse_lines(f, line, &r, &a, &reason), 1);
    assert_true(r.ts_ns == at("2015-12-31T23:59:57.5Z"));
    snprintf(line, sizeof(line), "Jan  1 00:00:03 web1 %s", AL);
    assert_int_equal(parse_lines(f, line, &r, &a, &reason), 1);
    assert_true(r.ts_ns == at("2016-01-01T00:00:01.5Z"));
    snprintf(line, sizeof(line), "Jan  1 00:00:04 web1 %s", AL);
    assert_int_equal(parse_lines(f, line, &r, &a, &reason), 1);
    assert_true(r.ts_ns == at("2016-01-01T00:00:02.5Z"));
    /* an RFC 3339 or RFC 5424 time needs no year */
    snprintf(line, sizeof(line), "2025-10-10T13:55:36+02:00 web1 %s", AL);
    assert_int_equal(parse_lines(f, line, &r, &a, &reason), 1);
    assert_true(r.ts_ns == at("2025-10-10T11:55:34.5Z"));
    assert_int_equal(parse_lines(f, "<14>1 2025-10-10T13:55:36Z web1 tomcat.log - - - 127.0.0.1 - - \"GET /a HTTP/1.1\" 200 5 1",
                                 &r, &a, &reason),
                     1);
    assert_true(r.ts_ns == at("2025-10-10T13:55:35Z"));
    /* another program's line is not bad; a bad line from tomcat.log is */
    assert_int_equal(parse_lines(f, "Mar 24 14:02:51 web1 automount[7999]: lookup(file): lookup for opt failed", &r, &a,
                                 &reason),
                     0);
    assert_string_equal(reason, "another program's syslog line");
    assert_int_equal(parse_lines(f, "Mar 24 14:02:51 web1 tomcat.log: 127.0.0.1 - - GET", &r, &a, &reason),
                     TIDE_E_FORMAT);
    /* syslogd's notes of repeats it left out, both spellings */
    assert_int_equal(parse_lines(f, "Mar 24 14:26:01 --- last message repeated 2 times ---", &r, &a, &reason), 0);
    assert_non_null(strstr(reason, "repeats"));
    assert_int_equal(parse_lines(f, "Mar 24 14:26:01 web1 last message repeated 3 times", &r, &a, &reason), 0);
    /* a date that is none is a bad line, not a made-up time */
    assert_int_equal(parse_lines(f, "Mar 32 14:02:50 web1 tomcat.log: 127.0.0.1 - - \"GET /a HTTP/1.1\" 200 5 1",
                                 &r, &a, &reason),
                     TIDE_E_FORMAT);
    assert_string_equal(reason, "line has no time");
    tide_logfmt_free(f);
    /* Docker's "time" and CRI's, for lines without one */
    assert_int_equal(tide_logfmt_compile(&f, "docker+apache:%h \"%r\" %>s", NULL, NULL), 0);
    assert_int_equal(parse_lines(f, "{\"log\":\"192.0.2.1 \\\"GET /d HTTP/1.1\\\" 200\\n\",\"stream\":\"stdout\","
                                    "\"time\":\"2025-10-10T13:55:36.25Z\"}",
                                 &r, &a, &reason),
                     1);
    assert_true(r.ts_ns == at("2025-10-10T13:55:36.25Z"));
    assert_int_equal(parse_lines(f, "{\"log\":\"192.0.2.1 \\\"GET /d HTTP/1.1\\\" 200\\n\",\"stream\":\"stdout\"}", &r,
                                 &a, &reason),
                     TIDE_E_FORMAT);
    tide_logfmt_free(f);
    assert_int_equal(tide_logfmt_compile(&f, "cri+json", "method=m,path=p", NULL), 0);
    assert_int_equal(parse_lines(f, "2025-10-10T13:55:36.5Z stdout F {\"m\":\"POST\",\"p\":\"/j\"}", &r, &a, &reason), 1);
    assert_true(r.ts_ns == at("2025-10-10T13:55:36.5Z"));
    assert_true(tide_str_is_eq_c(r.method, "POST"));
    tide_logfmt_free(f);
    /* guessed in a syslog file where other programs write most lines: each tag tried apart */
    {
        static const char SYS[] =
            "Mar 24 14:02:49 web1 sudo: tim : TTY=pts/6 ; PWD=/tmp ; USER=root ; COMMAND=/usr/bin/tail\n"
            "Mar 24 14:02:50 web1 nginx: 192.0.2.1 - - [24/Mar/2025:14:02:50 +0000] \"GET /a HTTP/1.1\" 200 1 \"-\" \"M\"\n"
            "Mar 24 14:02:51 web1 automount[7999]: lookup(file): lookup for opt failed\n"
            "Mar 24 14:02:51 web1 cron[12]: (root) CMD (run-parts /etc/cron.hourly)\n"
            "Mar 24 14:02:52 web1 nginx: 192.0.2.2 - - [24/Mar/2025:14:02:52 +0000] \"GET /b HTTP/1.1\" 404 1 \"-\" \"M\"\n"
            "Mar 24 14:02:53 web1 kernel: [ 1.0] eth0: link up\n";
        char out[512];
        assert_int_equal(tide_logfmt_sniff(SYS, sizeof(SYS) - 1, out, sizeof(out), NULL), 0);
        assert_string_equal(out, "syslog+combined");
    }
    /* a time first and a "-" field where an ELB line has its request: not an
     * ELB line without a request (its client is no ip:port), and the guess
     * prefers a format that reads a request */
    {
        static const char SI[] = "2024-05-01T10:00:00+0000 web1 nginx[12]: 1.2.3.4 - - [01/May/2024:10:00:00 +0000] "
                                 "\"GET / HTTP/1.1\" 200 5 \"-\" \"M\"\n";
        char out[512];
        assert_int_equal(tide_logfmt_sniff(SI, sizeof(SI) - 1, out, sizeof(out), NULL), 0);
        assert_string_equal(out, "syslog+combined");
        assert_int_equal(tide_logfmt_compile(&f, "alb", NULL, NULL), 0);
        assert_int_equal(parse_lines(f, SI, &r, &a, &reason), TIDE_E_FORMAT);
        assert_string_equal(reason, "client is not ip:port");
        tide_logfmt_free(f);
    }
    /* a line with a time of its own keeps it */
    assert_int_equal(tide_logfmt_compile(&f, "cri+common", NULL, NULL), 0);
    assert_int_equal(parse_lines(f, "2025-10-10T13:55:36Z stdout F 192.0.2.1 - - [10/Oct/2025:13:00:00 +0000] \"GET / HTTP/1.1\" 200 1",
                                 &r, &a, &reason),
                     1);
    assert_true(r.ts_ns == at("2025-10-10T13:00:00Z"));
    tide_logfmt_free(f);
    tide_arena_free(&a);
}

/* systemd's journal as `journalctl -o json` exports it: MESSAGE as text or
 * bytes, the time from __REALTIME_TIMESTAMP for lines without one, other
 * programs' entries counted apart, a MESSAGE journalctl left out is bad */
static void journal_entries(void **state)
{
    struct tide_logfmt *f;
    struct tide_arena a;
    struct tide_record r;
    const char *reason;
    char out[512];
    static const char J[] =
        "{\"__REALTIME_TIMESTAMP\":\"1714557600500000\",\"SYSLOG_IDENTIFIER\":\"nginx\",\"MESSAGE\":\"1.2.3.4 - - "
        "[01/May/2024:10:00:00 +0000] \\\"GET /e HTTP/1.1\\\" 200 5 \\\"-\\\" \\\"Mo\\\"\"}\n"
        "{\"__REALTIME_TIMESTAMP\":\"1714557601000000\",\"SYSLOG_IDENTIFIER\":\"sshd\",\"MESSAGE\":\"Accepted key\"}\n"
        "{\"__REALTIME_TIMESTAMP\":\"1714557602000000\",\"SYSLOG_IDENTIFIER\":\"cron\",\"MESSAGE\":\"(root) CMD\"}\n";
    (void)state;
    tide_arena_init(&a, 0);
    assert_int_equal(tide_logfmt_sniff(J, sizeof(J) - 1, out, sizeof(out), NULL), 0);
    assert_string_equal(out, "journal+combined");
    assert_int_equal(tide_logfmt_compile(&f, "journal+apache:%h \"%r\" %>s %T", NULL, NULL), 0);
    /* the time from the entry (the line has none), minus %T */
    assert_int_equal(parse_lines(f, "{\"__REALTIME_TIMESTAMP\":\"1714557600500000\",\"SYSLOG_IDENTIFIER\":\"app\","
                                    "\"MESSAGE\":\"203.0.113.9 \\\"GET /a?x=1 HTTP/1.1\\\" 200 0.25\\n\"}",
                                 &r, &a, &reason),
                     1);
    assert_true(r.ts_ns == INT64_C(1714557600250000000));
    assert_true(tide_str_is_eq_c(r.query, "x=1"));
    /* MESSAGE as bytes (not UTF-8) */
    assert_int_equal(parse_lines(f, "{\"__REALTIME_TIMESTAMP\":\"1714557600500000\",\"SYSLOG_IDENTIFIER\":\"app\","
                                    "\"MESSAGE\":[49,32,34,71,69,84,32,47,255,32,72,84,84,80,47,49,46,49,34,32,50,48,48,32,49]}",
                                 &r, &a, &reason),
                     1);
    assert_true(tide_str_is_eq_c(r.path, "/\xff"));
    /* another program; a MESSAGE journalctl left out (over 4 KiB without --all); not JSON */
    assert_int_equal(parse_lines(f, "{\"SYSLOG_IDENTIFIER\":\"systemd\",\"MESSAGE\":\"Started x.\"}", &r, &a, &reason), 0);
    assert_string_equal(reason, "another program's journal entry");
    assert_int_equal(parse_lines(f, "{\"SYSLOG_IDENTIFIER\":\"app\",\"MESSAGE\":null}", &r, &a, &reason), TIDE_E_FORMAT);
    assert_non_null(strstr(reason, "--all"));
    assert_int_equal(parse_lines(f, "{\"SYSLOG_IDENTIFIER\":\"app\",\"MESSAGE\":[1,300]}", &r, &a, &reason), TIDE_E_FORMAT);
    assert_int_equal(parse_lines(f, "Mar 24 14:02:50 web1 app: x", &r, &a, &reason), TIDE_E_FORMAT);
    tide_logfmt_free(f);
    tide_arena_free(&a);
}

/* nginx's configuration: log_format strings joined and unescaped as nginx
 * does, access_log matched to log files (rotations too), clear errors */
static void nginx_conf_gives_formats(void **state)
{
    static const char CONF[] =
        "# comment; with { braces }\n"
        "http {\n"
        "  log_format main '$remote_addr - $remote_user [$time_local] \"$request\" '\n"
        "                  '$status $body_bytes_sent \\'$x\\' \\\\ \\xAB'  # trailing comment\n"
        "                  \"\\\"$http_user_agent\\\" $request_time\";\n"
        "  log_format j escape=json '{\"t\":\"$time_iso8601\"}';\n"
        "  access_log /var/log/nginx/access.log main buffer=32k;\n"
        "  server { access_log /var/log/nginx/api.log j; location /x { access_log off; } }\n"
        "  access_log syslog:server=unix:/dev/log main;\n"
        "  access_log /var/log/nginx/plain.log;\n"
        "}\n";
    struct tide_webconf *c = tide_webconf_new(NULL, TIDE_WEBCONF_NGINX);
    struct tide_err err;
    char out[1024];
    (void)state;
    assert_non_null(c);
    assert_int_equal(tide_webconf_parse(c, CONF, sizeof(CONF) - 1, "nginx.conf", 0, &err), 0);
    assert_int_equal(tide_webconf_format_for(c, "/var/log/nginx/access.log", out, sizeof(out), &err), 0);
    assert_string_equal(out, "nginx:$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
                             "'$x' \\ \\xAB\"$http_user_agent\" $request_time");
    /* rotations by name, wherever they are now */
    assert_int_equal(tide_webconf_format_for(c, "/backup/access.log.2.gz", out, sizeof(out), &err), 0);
    assert_true(strncmp(out, "nginx:$remote_addr", 18) == 0);
    assert_int_equal(tide_webconf_format_for(c, "api.log-20240501.gz", out, sizeof(out), &err), 0);
    assert_string_equal(out, "nginx:{\"t\":\"$time_iso8601\"}");
    assert_int_equal(tide_webconf_format_for(c, "plain.log", out, sizeof(out), &err), 0);
    assert_string_equal(out, "combined"); /* access_log without a format: nginx's combined */
    /* a file no access_log names, among logs of several formats: say so */
    assert_int_equal(tide_webconf_format_for(c, "other.log", out, sizeof(out), &err), TIDE_E_USAGE);
    assert_non_null(strstr(err.msg, "several formats"));
    tide_webconf_free(c);
    /* one format for every access log: any file takes it */
    c = tide_webconf_new(NULL, TIDE_WEBCONF_NGINX);
    assert_int_equal(tide_webconf_parse(c, "log_format m '$status';access_log /l/a.log m;", 45, "n.conf", 0, &err), 0);
    assert_int_equal(tide_webconf_format_for(c, "copy.txt", out, sizeof(out), &err), 0);
    assert_string_equal(out, "nginx:$status");
    tide_webconf_free(c);
    /* errors name the file and line */
    c = tide_webconf_new(NULL, TIDE_WEBCONF_NGINX);
    assert_int_equal(tide_webconf_parse(c, "http {\n  log_format m '$status;\n}\n", 31, "n.conf", 0, &err),
                     TIDE_E_FORMAT);
    assert_string_equal(err.where, "n.conf");
    assert_non_null(strstr(err.msg, "line 2: unterminated string"));
    assert_int_equal(tide_webconf_parse(c, "access_log /a m", 15, "n.conf", 0, &err), TIDE_E_FORMAT);
    assert_non_null(strstr(err.msg, "no ';'"));
    assert_int_equal(tide_webconf_parse(c, "access_log /a nope;", 19, "n.conf", 0, &err), 0);
    assert_int_equal(tide_webconf_format_for(c, "/a", out, sizeof(out), &err), TIDE_E_USAGE);
    assert_non_null(strstr(err.msg, "no log_format 'nope'"));
    tide_webconf_free(c);
    assert_int_equal(tide_webconf_load(&c, "/nonexistent/nginx.conf", TIDE_WEBCONF_NGINX, &err), TIDE_E_NOTFOUND);
    /* a configuration copied off its server: missing includes are skipped and
     * said; a file no access log names is then refused, not guessed */
    {
        char path[] = "/tmp/tide-ngx-XXXXXX";
        int fd = mkstemp(path), nm = 0;
        static const char TXT[] = "include /nonexistent/mime.types;\n"
                                  "http { log_format m '$status'; access_log /var/log/nginx/access.log m; }\n";
        assert_true(fd >= 0);
        assert_int_equal(write(fd, TXT, sizeof(TXT) - 1), (int)sizeof(TXT) - 1);
        close(fd);
        assert_int_equal(tide_webconf_load(&c, path, TIDE_WEBCONF_NGINX, &err), 0);
        unlink(path);
        assert_non_null(strstr(tide_webconf_missing(c, &nm), ":1"));
        assert_int_equal(nm, 1);
        assert_int_equal(tide_webconf_format_for(c, "access.log.1", out, sizeof(out), &err), 0);
        assert_string_equal(out, "nginx:$status");
        assert_int_equal(tide_webconf_format_for(c, "other.log", out, sizeof(out), &err), TIDE_E_USAGE);
        assert_non_null(strstr(err.msg, "an included file was not found"));
        tide_webconf_free(c);
    }
    /* Apache: Include of a directory reads the files in it */
    {
        char dir[] = "/tmp/tide-apache-XXXXXX", p1[128], p2[128], p3[128];
        FILE *fp;
        assert_non_null(mkdtemp(dir));
        snprintf(p1, sizeof(p1), "%s/apache2.conf", dir);
        snprintf(p2, sizeof(p2), "%s/conf.d", dir);
        snprintf(p3, sizeof(p3), "%s/conf.d/site.conf", dir);
        assert_int_equal(mkdir(p2, 0700), 0);
        assert_non_null(fp = fopen(p1, "w"));
        fputs("LogFormat \"%h %t \\\"%r\\\" %>s\" mine\nInclude conf.d\n", fp);
        fclose(fp);
        assert_non_null(fp = fopen(p3, "w"));
        fputs("CustomLog /var/log/apache2/site.log mine\n", fp);
        fclose(fp);
        assert_int_equal(tide_webconf_load(&c, p1, TIDE_WEBCONF_APACHE, &err), 0);
        assert_int_equal(tide_webconf_format_for(c, "site.log", out, sizeof(out), &err), 0);
        assert_string_equal(out, "apache:%h %t \"%r\" %>s");
        tide_webconf_free(c);
        unlink(p3);
        rmdir(p2);
        unlink(p1);
        rmdir(dir);
    }
    /* Apache: LogFormat nicknames, CustomLog with a nickname or a format of
     * its own, TransferLog, continued lines, ${VARS} in directories */
    {
        static const char AP[] =
            "ServerRoot \"/etc/apache2\"\n"
            "# LogFormat \"%h\" commented\n"
            "LogFormat \"%h %l %u %t \\\"%r\\\" %>s %b %D\" timed\n"
            "logformat \"%h %t \\\"%r\\\"\"\n"
            "<VirtualHost *:80>\n"
            "  CustomLog ${APACHE_LOG_DIR}/access.log timed\n"
            "  CustomLog \"|/usr/bin/rotatelogs /var/log/x.%Y 86400\" common\n"
            "  CustomLog logs/own.log \"%h %{msec}t \\\"%r\\\" %>s\" env=!dontlog\n"
            "  TransferLog logs/t.log\n"
            "</VirtualHost>\n"
            "CustomLog /var/log/apache2/vhost.log \\\n"
            "    combined\n";
        c = tide_webconf_new(NULL, TIDE_WEBCONF_APACHE);
        assert_int_equal(tide_webconf_parse(c, AP, sizeof(AP) - 1, "apache2.conf", 0, &err), 0);
        assert_int_equal(tide_webconf_format_for(c, "/var/log/apache2/access.log.1", out, sizeof(out), &err), 0);
        assert_string_equal(out, "apache:%h %l %u %t \"%r\" %>s %b %D");
        assert_int_equal(tide_webconf_format_for(c, "own.log", out, sizeof(out), &err), 0);
        assert_string_equal(out, "apache:%h %{msec}t \"%r\" %>s");
        assert_int_equal(tide_webconf_format_for(c, "t.log.2.gz", out, sizeof(out), &err), 0);
        assert_string_equal(out, "apache:%h %t \"%r\""); /* the last LogFormat without a nickname */
        assert_int_equal(tide_webconf_format_for(c, "vhost.log", out, sizeof(out), &err), 0);
        assert_string_equal(out, "combined");
        assert_int_equal(tide_webconf_format_for(c, "x.2024", out, sizeof(out), &err), TIDE_E_USAGE); /* piped: not a file */
        tide_webconf_free(c);
        c = tide_webconf_new(NULL, TIDE_WEBCONF_APACHE);
        assert_int_equal(tide_webconf_parse(c, "LogFormat \"%h\n", 13, "a.conf", 0, &err), TIDE_E_FORMAT);
        assert_non_null(strstr(err.msg, "line 1: unterminated string"));
        tide_webconf_free(c);
    }
}

/* A client address has no spaces: a syslog header before the line is not
 * taken for one; "host addr" (a vhost-prefixed line) and "list addr" (an
 * X-Forwarded-For list before the peer) are told apart. */
static void client_field_with_spaces(void **state)
{
    struct tide_logfmt *f;
    struct tide_arena a;
    struct tide_record r;
    const char *reason;
    (void)state;
    tide_arena_init(&a, 0);
    assert_int_equal(tide_logfmt_compile(&f, "common", NULL, NULL), 0);
    assert_int_equal(parse_lines(f, "Oct 10 13:55:36 web1 nginx: 192.0.2.1 - - [10/Oct/2025:13:55:36 +0000] "
                                    "\"GET / HTTP/1.1\" 200 1",
                                 &r, &a, &reason),
                     TIDE_E_FORMAT);
    assert_string_equal(reason, "client address holds a space");
    assert_int_equal(parse_lines(f, "www.example.org 192.0.2.7 - - [10/Oct/2025:13:55:36 +0000] \"GET / HTTP/1.1\" 200 1",
                                 &r, &a, &reason),
                     1);
    assert_true(tide_str_is_eq_c(r.client, "192.0.2.7"));
    assert_true(tide_str_is_eq_c(r.host, "www.example.org"));
    /* a time before the address is no host name (kubectl logs --timestamps) */
    assert_int_equal(parse_lines(f, "2025-10-10T13:55:36.1Z 192.0.2.7 - - [10/Oct/2025:13:55:36 +0000] \"GET / HTTP/1.1\" 200 1",
                                 &r, &a, &reason),
                     TIDE_E_FORMAT);
    assert_int_equal(parse_lines(f, "2001:db8::1, 10.0.0.1 10.2.2.121 - - [10/Oct/2025:13:55:36 +0000] \"GET / HTTP/1.1\" 200 1",
                                 &r, &a, &reason),
                     1);
    assert_true(tide_str_is_eq_c(r.client, "2001:db8::1"));
    assert_true(tide_str_is_eq_c(tide_record_header(&r, "X-Forwarded-For"), "2001:db8::1, 10.0.0.1"));
    tide_logfmt_free(f);
    tide_arena_free(&a);
}

/* ---- the re-ordering merge ------------------------------------------------------- */

struct collected {
    int64_t ts[64];
    uint32_t flags[64];
    char src[64][64];
    int n;
};

static int collect(void *userp, const struct tide_record *r, struct tide_err *err)
{
    struct collected *c = userp;
    c->ts[c->n] = r->ts_ns;
    c->flags[c->n] = r->flags;
    snprintf(c->src[c->n], sizeof(c->src[0]), "%.*s", (int)r->source.len, r->source.p);
    c->n++;
    return 0;
}

static void write_file(char *path, const char *text)
{
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void logcap_orders_by_start_and_flags_late_lines(void **state)
{
    /* nginx logs at request end: line 2 ends after line 1 but started before it */
    char p1[] = "/tmp/tide-cap-XXXXXX", p2[] = "/tmp/tide-cap-XXXXXX";
    const char *fmt = "nginx:$msec $request_time \"$request\" $status";
    struct tide_logfmt *f[2];
    struct tide_err err;
    struct tide_logcap_stats st;
    struct tide_logcap_opts o = {0};
    static struct collected c;
    const char *paths[2];
    write_file(p1, "1000.000 0.100 \"GET /a HTTP/1.1\" 200\n"   /* start 999.900 */
                   "1000.500 2.000 \"GET /b HTTP/1.1\" 200\n"   /* start 998.500 */
                   "not a log line\n"
                   "1200.000 0.000 \"GET /c HTTP/1.1\" 200\n"   /* start 1200 */
                   "1200.100 150.000 \"GET /late HTTP/1.1\" 200\n"); /* start 1050.1: late */
    write_file(p2, "999.000 0.000 \"GET /x HTTP/1.1\" 200\n"       /* another server */
                   "1100.000 0.000 \"GET /y HTTP/1.1\" 200\n");
    assert_int_equal(tide_logfmt_compile(&f[0], fmt, NULL, &err), 0);
    assert_int_equal(tide_logfmt_compile(&f[1], fmt, NULL, &err), 0);
    paths[0] = p1;
    paths[1] = p2;
    o.reorder_window_ns = 60 * TIDE_NS_PER_SEC;
    memset(&c, 0, sizeof(c));
    assert_int_equal(tide_logcap_run(paths, f, 2, &o, (struct tide_sink){collect, &c}, &st, &err), 0);
    assert_int_equal(c.n, 6);
    assert_true(c.ts[0] == 998500000000LL);
    assert_true(c.ts[1] == 999000000000LL);
    assert_true(c.ts[2] == 999900000000LL);
    assert_true(c.ts[3] == 1100000000000LL);
    /* the 150 s request arrives after the 60 s window passed its start: it is
     * kept, flagged late, and written when it arrives */
    assert_true(c.ts[4] == 1050100000000LL);
    assert_true(c.flags[4] & TIDE_REC_LATE);
    assert_false(c.flags[3] & TIDE_REC_LATE);
    assert_true(c.ts[5] == 1200000000000LL);
    assert_int_equal(st.late, 1);
    assert_int_equal(st.bad, 1);
    assert_int_equal(st.lines, 7);
    assert_int_equal(st.records, 6);
    assert_non_null(strstr(c.src[0], ":2"));
    tide_logfmt_free(f[0]);
    tide_logfmt_free(f[1]);
    unlink(p1);
    unlink(p2);
}

static void logcap_strict_stops_at_first_bad_line(void **state)
{
    char p1[] = "/tmp/tide-cap-XXXXXX";
    struct tide_logfmt *f;
    struct tide_err err;
    struct tide_logcap_stats st;
    struct tide_logcap_opts o = {0};
    static struct collected c;
    const char *paths[1];
    write_file(p1, "1000.000 0.1 \"GET /a HTTP/1.1\" 200\ngarbage\n1001.000 0.1 \"GET /b HTTP/1.1\" 200\n");
    assert_int_equal(tide_logfmt_compile(&f, "nginx:$msec $request_time \"$request\" $status", NULL, &err), 0);
    paths[0] = p1;
    o.strict = true;
    memset(&c, 0, sizeof(c));
    assert_int_equal(tide_logcap_run(paths, &f, 1, &o, (struct tide_sink){collect, &c}, &st, &err),
                     TIDE_E_FORMAT);
    assert_non_null(strstr(err.msg, "line 2"));
    assert_null(strstr(err.msg, "garbage"));
    tide_logfmt_free(f);
    unlink(p1);
}

static int count_sink(void *userp, const struct tide_record *r, struct tide_err *err)
{
    (void)r;
    (void)err;
    ++*(uint64_t *)userp;
    return 0;
}

struct prog {
    int calls;
    uint64_t lines, bytes;
    bool monotonic;
};

static void on_prog(void *userp, uint64_t lines, uint64_t bytes)
{
    struct prog *p = userp;
    if (lines < p->lines || bytes < p->bytes)
        p->monotonic = false;
    p->lines = lines;
    p->bytes = bytes;
    p->calls++;
}

/* progress reports lines and input bytes read so far, growing, within the input */
static void logcap_reports_progress(void **state)
{
    char p1[] = "/tmp/tide-cap-XXXXXX";
    struct tide_logfmt *f;
    struct tide_err err;
    struct tide_logcap_stats st;
    struct tide_logcap_opts o = {0};
    struct prog pg = {0, 0, 0, true};
    uint64_t written = 0;
    const char *paths[1];
    char *text = malloc(40000 * 48), *w = text;
    size_t size;
    int i;
    (void)state;
    assert_non_null(text);
    for (i = 0; i < 40000; i++)
        w += sprintf(w, "%d.000 0.1 \"GET /a%d HTTP/1.1\" 200\n", 1000000 + i, i % 97);
    size = (size_t)(w - text);
    write_file(p1, text);
    free(text);
    assert_int_equal(tide_logfmt_compile(&f, "nginx:$msec $request_time \"$request\" $status", NULL, &err), 0);
    paths[0] = p1;
    o.on_progress = on_prog;
    o.on_progress_userp = &pg;
    o.progress_ms = -1; /* at every check: every 8,192 lines */
    assert_int_equal(tide_logcap_run(paths, &f, 1, &o, (struct tide_sink){count_sink, &written}, &st, &err), 0);
    assert_true(written == 40000);
    assert_int_equal(pg.calls, 4); /* after 8192, 16384, 24576, 32768 lines */
    assert_true(pg.monotonic);
    assert_true(pg.lines >= 32768 && pg.lines <= 40000);
    assert_true(pg.bytes > 0 && pg.bytes <= size);
    tide_logfmt_free(f);
    unlink(p1);
}

/* pcap capture's progress: packets, and file bytes read (each packet's
 * captured bytes and its 16-byte record header) */
static void pcap_reports_progress(void **state)
{
    char p1[] = "/tmp/tide-pcap-XXXXXX";
    static uint8_t file[24 + 20000 * (16 + 42)];
    uint8_t *w = file;
    struct tide_pcap_opts o = {0};
    struct tide_pcap_stats st;
    struct tide_err err;
    struct prog pg = {0, 0, 0, true};
    uint64_t written = 0;
    const char *files[1];
    int i, fd;
    (void)state;
    /* classic pcap, microseconds, Ethernet; 20,000 UDP packets of 42 bytes */
    memcpy(w, "\xd4\xc3\xb2\xa1\x02\x00\x04\x00\0\0\0\0\0\0\0\0\xff\xff\x00\x00\x01\x00\x00\x00", 24);
    w += 24;
    for (i = 0; i < 20000; i++) {
        uint32_t hdr[4] = {1700000000u + (uint32_t)i / 1000, (uint32_t)i % 1000 * 1000, 42, 42};
        static const uint8_t pkt[42] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00, /* Ethernet, IPv4 */
                                        0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, /* UDP */
                                        0x30, 0x39, 0x00, 0x35, 0, 8, 0, 0};
        memcpy(w, hdr, 16);
        memcpy(w + 16, pkt, 42);
        w += 58;
    }
    fd = mkstemp(p1);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, file, (size_t)(w - file)), (ssize_t)(w - file));
    close(fd);
    files[0] = p1;
    o.files = files;
    o.n_files = 1;
    o.on_progress = on_prog;
    o.userp = &pg;
    o.progress_ms = -1; /* every 8,192 packets */
    assert_int_equal(tide_pcap_run(&o, (struct tide_sink){count_sink, &written}, &st, &err), 0);
    assert_true(st.packets == 20000);
    assert_int_equal(pg.calls, 2);
    assert_true(pg.monotonic);
    assert_true(pg.lines == 16384);
    assert_true(pg.bytes == 16384 * 58);
    unlink(p1);
}

/* ---- HTTP/1.x heads (pcap capture) ---- */

static void http_heads_frame_messages_in_any_case(void **state)
{
    static struct tide_http_head h;
    const char *rq = "POST /essays?x=1 HTTP/1.1\r\nhost: school.example\r\nHOST: other\r\n"
                     "Transfer-Encoding: gzip, CHUNKED\r\nConnection: Keep-Alive, Close\r\n\r\nbody";
    const char *rs = "HTTP/1.1 200 OK\r\nCONTENT-LENGTH: 12\r\nconnection: keep-alive\r\n\r\n";
    long n = tide_http_request_head(rq, strlen(rq), &h);
    assert_int_equal(n, (long)(strstr(rq, "body") - rq));
    assert_true(tide_str_is_eq_c(h.method, "POST"));
    assert_true(tide_str_is_eq_c(h.target, "/essays?x=1"));
    assert_true(tide_str_is_eq_c(h.host, "school.example")); /* the first Host */
    assert_true(h.chunked);
    assert_true(h.conn_close);
    assert_int_equal(h.n_headers, 4);
    n = tide_http_response_head(rs, strlen(rs), &h);
    assert_int_equal(n, (long)strlen(rs));
    assert_int_equal(h.status, 200);
    assert_true(h.content_length == 12);
    assert_false(h.chunked);
    assert_false(h.conn_close);
    assert_null(h.host.p);
    /* a head cut short needs more; conflicting lengths are refused (smuggling) */
    assert_int_equal(tide_http_request_head(rq, 20, &h), 0);
    rs = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\nContent-Length: 13\r\n\r\n";
    assert_true(tide_http_response_head(rs, strlen(rs), &h) < 0);
    rs = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked-not\r\n\r\n";
    assert_true(tide_http_response_head(rs, strlen(rs), &h) > 0);
    assert_false(h.chunked);
}

/* ---- the re-order window, on the caller's thread and on a writer thread ---- */

struct ro_out {
    size_t n, fail_at; /* fail_at: the call that fails (0: none) */
    int64_t ts[20000];
    uint32_t flags[20000];
    char path[20000][16];
};

static int ro_collect(void *userp, const struct tide_record *r, struct tide_err *err)
{
    struct ro_out *o = userp;
    if (o->fail_at && o->n + 1 == o->fail_at)
        return tide_err_set(err, TIDE_E_IO, "out.tide", "disk full");
    o->ts[o->n] = r->ts_ns;
    o->flags[o->n] = r->flags;
    snprintf(o->path[o->n], sizeof(o->path[0]), "%.*s", (int)r->path.len, r->path.p);
    o->n++;
    return 0;
}

/* Feeds 20,000 records whose starts jitter by up to 2 s (a few by 10 s, which
 * the 5 s window makes late), releasing as a capture does; returns drain's rc. */
static int ro_feed(struct ro_out *o, bool async, struct tide_err *err)
{
    struct tide__reorder *ro = tide__reorder_new((struct tide_sink){ro_collect, o}, 5 * TIDE_NS_PER_SEC, 0);
    uint32_t x = 12345;
    int rc = 0, i;
    assert_non_null(ro);
    if (async)
        assert_int_equal(tide__reorder_async(ro, err), 0);
    for (i = 0; i < 20000 && !rc; i++) {
        struct tide_record r;
        struct tide__entry *e;
        char path[16];
        int64_t clock = (int64_t)i * 1000000; /* 1 ms apart */
        x = x * 1103515245u + 12345u;
        memset(&r, 0, sizeof(r));
        r.ts_ns = clock - (int64_t)(x >> 8) % 2000000000;
        if (i % 997 == 0 && i > 10000)
            r.ts_ns = clock - 10 * (int64_t)TIDE_NS_PER_SEC;
        snprintf(path, sizeof(path), "/r/%d", i);
        r.path = tide_str_c(path);
        e = tide__reorder_pack(ro, &r, "t", (uint64_t)i);
        assert_non_null(e);
        rc = tide__reorder_add(ro, e, err);
        if (!rc && i % 50 == 0)
            rc = tide__reorder_release(ro, clock, err);
        if (!rc && i == 12000) {
            /* sync: everything emitted so far has reached the sink */
            rc = tide__reorder_sync(ro, err);
            assert_true(rc || (o->n > 5000 && tide__reorder_stats(ro)->records == o->n));
        }
    }
    if (!rc)
        rc = tide__reorder_drain(ro, err);
    tide__reorder_free(ro);
    return rc;
}

static void reorder_async_writes_what_sync_writes(void **state)
{
    static struct ro_out a, b;
    struct tide_err err;
    size_t i, late = 0;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    assert_int_equal(ro_feed(&a, false, &err), 0);
    assert_int_equal(ro_feed(&b, true, &err), 0);
    assert_int_equal(a.n, 20000);
    assert_int_equal(b.n, 20000);
    for (i = 0; i < a.n; i++) {
        assert_true(a.ts[i] == b.ts[i]);
        assert_int_equal(a.flags[i], b.flags[i]);
        assert_string_equal(a.path[i], b.path[i]);
        if (a.flags[i] & TIDE_REC_LATE)
            late++;
        else if (i > 0 && !(a.flags[i - 1] & TIDE_REC_LATE))
            assert_true(a.ts[i - 1] <= a.ts[i]); /* start order, but for late records */
    }
    assert_true(late >= 5);
}

static void reorder_sink_failure_is_returned(void **state)
{
    static struct ro_out o;
    struct tide_err err;
    for (int async = 0; async < 2; async++) {
        memset(&o, 0, sizeof(o));
        o.fail_at = 3000;
        memset(&err, 0, sizeof(err));
        assert_int_equal(ro_feed(&o, async, &err), TIDE_E_IO);
        assert_non_null(strstr(err.msg, "disk full"));
        assert_int_equal(o.n, 2999); /* nothing written after the failure */
    }
}

/* Reads a followed input until it says "nothing new yet": what came. */
static size_t read_until_again(struct tide_input *in, char *out, size_t cap)
{
    size_t n = 0;
    for (;;) {
        struct tide_err err = {0};
        long k = tide_input_read(in, out + n, cap - 1 - n, &err);
        if (k <= 0) {
            assert_int_equal(err.code, k < 0 ? TIDE_E_AGAIN : 0);
            break;
        }
        n += (size_t)k;
    }
    out[n] = 0;
    return n;
}

static void append(const char *path, const char *text)
{
    FILE *f = fopen(path, "a");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* A followed log in a directory of its own: the log and its rotations' names. */
struct follow_fix {
    char dir[32], log[128], r1[160], r2[160];
};

static struct tide_input *follow_open(struct follow_fix *f, const char *name, const char *first,
                                      volatile int *stop, int64_t rotate_wait_ns)
{
    struct tide_input *in;
    struct tide_err err = {0};
    snprintf(f->dir, sizeof(f->dir), "/tmp/tide-follow-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->log, sizeof(f->log), "%s/%s", f->dir, name);
    snprintf(f->r1, sizeof(f->r1), "%s.1", f->log);
    snprintf(f->r2, sizeof(f->r2), "%s.2", f->log);
    append(f->log, first);
    assert_int_equal(tide_input_open(&in, f->log, &err), 0);
    tide_input_follow_nb(in, stop);
    tide_input_rotate_wait(in, rotate_wait_ns);
    return in;
}

static void follow_done(struct follow_fix *f, struct tide_input *in)
{
    tide_input_close(in);
    unlink(f->log);
    unlink(f->r1);
    unlink(f->r2);
    rmdir(f->dir);
}

/* A followed log after a rotation: the server writes on into the renamed
 * file until it reopens its log, so that file is read until it has been left
 * alone for the rotation wait; a second rotation in that time renames the
 * new file too, and it is still read, before the newest. */
static void follow_reads_a_renamed_log_until_it_is_quiet(void **state)
{
    (void)state;
    struct follow_fix fx;
    char *log = fx.log, *r1 = fx.r1, *r2 = fx.r2, got[256];
    volatile int stop = 0;
    struct timespec wait = {0, 450 * 1000000};
    struct tide_input *in = follow_open(&fx, "access.log", "a1\n", &stop, 300 * 1000000);
    read_until_again(in, got, sizeof(got));
    assert_string_equal(got, "a1\n");

    assert_int_equal(rename(log, r1), 0); /* rotated: a new file at the path */
    append(log, "b1\n");
    append(r1, "a2\n"); /* the server has not reopened its log yet */
    read_until_again(in, got, sizeof(got));
    assert_string_equal(got, "a2\n");
    assert_int_equal(rename(r1, r2), 0); /* a second rotation within the wait */
    assert_int_equal(rename(log, r1), 0);
    append(log, "c1\n");
    append(r1, "b2\n");
    read_until_again(in, got, sizeof(got));
    assert_string_equal(got, ""); /* the renamed file was written lately */
    nanosleep(&wait, NULL);
    /* the middle file whole (left alone since its rename, longer than the
     * wait ago: no second wait for it), then the newest */
    read_until_again(in, got, sizeof(got));
    assert_string_equal(got, "b1\nb2\nc1\n");

    /* a rotation then a stop: what the new file holds is read before the end */
    assert_int_equal(rename(log, r2), 0);
    append(log, "d1\n");
    stop = 1;
    read_until_again(in, got, sizeof(got));
    assert_string_equal(got, "d1\n");
    follow_done(&fx, in);
}

/* A followed log truncated in place (copytruncate): what was written after
 * the last read and before the copy is read from the copy beside it, then
 * the log from its start; a file that is not its copy is not read. */
static void follow_reads_the_rest_from_a_copytruncate_copy(void **state)
{
    (void)state;
    struct follow_fix fx;
    char *log = fx.log, *r1 = fx.r1, other[160], got[256];
    volatile int stop = 0;
    FILE *f;
    struct tide_input *in = follow_open(&fx, "access.log", "a1\n", &stop, 5 * TIDE_NS_PER_SEC);
    snprintf(other, sizeof(other), "%s/access.log-20261121", fx.dir);
    append(other, "x1\nx2\nx3\nx4\n"); /* an older rotation: not the copy */
    read_until_again(in, got, sizeof(got));
    assert_string_equal(got, "a1\n");
    append(log, "a2\n"); /* written, not read yet, when logrotate copies */
    append(r1, "a1\na2\n");
    assert_non_null(f = fopen(log, "w")); /* truncated */
    fclose(f);
    append(log, "b1\n");
    read_until_again(in, got, sizeof(got));
    assert_string_equal(got, "a2\nb1\n");

    /* truncated again with no copy beside it: the log from its start */
    assert_int_equal(unlink(r1), 0);
    append(log, "b2\n");
    assert_non_null(f = fopen(log, "w"));
    fclose(f);
    append(log, "c1\n");
    read_until_again(in, got, sizeof(got));
    assert_string_equal(got, "c1\n");
    unlink(other);
    follow_done(&fx, in);
}

/* Writes text gzipped to path. */
static void write_gz(const char *path, const char *text)
{
    gzFile g = gzopen(path, "wb");
    assert_non_null(g);
    assert_int_equal(gzwrite(g, text, (unsigned)strlen(text)), (int)strlen(text));
    assert_int_equal(gzclose(g), Z_OK);
}

/* copytruncate with compress and no delaycompress: the copy is gzipped
 * (and the plain one gone) before the truncation is seen. The rest is read
 * from the compressed copy that holds the last bytes read at the same
 * offset, not from a fresh one that does not. */
static void follow_reads_the_rest_from_a_compressed_copy(void **state)
{
    (void)state;
    struct follow_fix fx;
    char *log = fx.log, other[160], copy[160], got[256];
    volatile int stop = 0;
    FILE *f;
    struct tide_input *in = follow_open(&fx, "access.log", "a1\n", &stop, 5 * TIDE_NS_PER_SEC);
    snprintf(other, sizeof(other), "%s.2.gz", log);
    snprintf(copy, sizeof(copy), "%s.1.gz", log);
    write_gz(other, "x1\nx2\nx3\nx4\n"); /* another rotation's, as fresh: not the copy */
    read_until_again(in, got, sizeof(got));
    assert_string_equal(got, "a1\n");
    append(log, "a2\na3\n"); /* written, not read yet, when logrotate copies */
    write_gz(copy, "a1\na2\na3\n");
    assert_non_null(f = fopen(log, "w")); /* truncated */
    fclose(f);
    append(log, "b1\n");
    read_until_again(in, got, sizeof(got));
    assert_string_equal(got, "a2\na3\nb1\n");
    append(log, "b2\n"); /* and followed on */
    read_until_again(in, got, sizeof(got));
    assert_string_equal(got, "b2\n");
    unlink(other);
    unlink(copy);
    follow_done(&fx, in);
}

static void append_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "ab");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

/* A followed log's kind comes from its first bytes, whenever they come: a log
 * empty when opened that nginx then writes as gzip members (gzip=1), and the
 * plain file a rotation puts in its place. */
static void follow_tells_each_files_kind_by_its_first_bytes(void **state)
{
    (void)state;
    static const uint8_t g1[] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xff, 0x4b, 0x37,
                                 0xe4, 0x02, 0x00, 0x1b, 0xea, 0x51, 0x94, 0x03, 0x00, 0x00, 0x00};
    static const uint8_t g2[] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xff, 0x4b, 0x37,
                                 0xe2, 0x02, 0x00, 0xd8, 0xb9, 0x7c, 0xbf, 0x03, 0x00, 0x00, 0x00};
    struct follow_fix fx;
    char *log = fx.log, *r1 = fx.r1, got[256];
    volatile int stop = 0;
    struct timespec wait = {0, 150 * 1000000};
    struct tide_input *in = follow_open(&fx, "access.log.gz", "", &stop, 100 * 1000000);
    read_until_again(in, got, sizeof(got));
    assert_string_equal(got, "");
    append_bytes(log, g1, sizeof(g1)); /* one member a flush */
    read_until_again(in, got, sizeof(got));
    assert_string_equal(got, "g1\n");
    append_bytes(log, g2, sizeof(g2));
    read_until_again(in, got, sizeof(got));
    assert_string_equal(got, "g2\n");
    assert_int_equal(rename(log, r1), 0); /* rotated: a plain file now */
    append(log, "p1\n");
    nanosleep(&wait, NULL);
    read_until_again(in, got, sizeof(got));
    assert_string_equal(got, "p1\n");
    follow_done(&fx, in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(log_time_local_with_offset_and_brackets),
        cmocka_unit_test(follow_reads_a_renamed_log_until_it_is_quiet),
        cmocka_unit_test(follow_reads_the_rest_from_a_copytruncate_copy),
        cmocka_unit_test(follow_reads_the_rest_from_a_compressed_copy),
        cmocka_unit_test(follow_tells_each_files_kind_by_its_first_bytes),
        cmocka_unit_test(log_decimal_is_exact),
        cmocka_unit_test(request_line_forms),
        cmocka_unit_test(format_compile_errors_are_clear),
        cmocka_unit_test(nginx_format_with_msec_request_time_headers_cookies),
        cmocka_unit_test(apache_format_with_microseconds_and_escapes),
        cmocka_unit_test(json_format_with_map_and_nested_headers),
        cmocka_unit_test(json_start_times_durations_with_units_and_cloud_logging),
        cmocka_unit_test(sniff_picks_the_matching_format),
        cmocka_unit_test(sniff_keeps_the_request_time),
        cmocka_unit_test(w3c_reads_iis_and_netscaler_logs),
        cmocka_unit_test(haproxy_reads_http_logs),
        cmocka_unit_test(s3_reads_server_access_logs),
        cmocka_unit_test(sniff_tells_w3c_haproxy_and_s3),
        cmocka_unit_test(sniff_tells_ingress_nginx),
        cmocka_unit_test(sniff_tells_traefik),
        cmocka_unit_test(kv_and_heroku_router_logs),
        cmocka_unit_test(envoy_reads_envoy_and_istio_logs),
        cmocka_unit_test(wrapped_lines_are_read_inside_their_wrappers),
        cmocka_unit_test(wrapper_time_and_syslog_programs),
        cmocka_unit_test(journal_entries),
        cmocka_unit_test(nginx_conf_gives_formats),
        cmocka_unit_test(client_field_with_spaces),
        cmocka_unit_test(logcap_orders_by_start_and_flags_late_lines),
        cmocka_unit_test(logcap_strict_stops_at_first_bad_line),
        cmocka_unit_test(logcap_reports_progress),
        cmocka_unit_test(pcap_reports_progress),
        cmocka_unit_test(http_heads_frame_messages_in_any_case),
        cmocka_unit_test(reorder_async_writes_what_sync_writes),
        cmocka_unit_test(reorder_sink_failure_is_returned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
