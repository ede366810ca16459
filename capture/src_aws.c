/*
 * src_aws.c - AWS access logs: Application (and classic) Load Balancer logs
 * and S3 server access logs. (CloudFront's are W3C logs: src_w3c.c.)
 */
#define _GNU_SOURCE
#include "capture_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_TOK 64

static struct tide_str strip_port(struct tide_str s)
{
    const char *c = s.len ? memrchr(s.p, ':', s.len) : NULL;
    if (c && memchr(s.p, ':', s.len) == c) /* IPv4 or name: one colon */
        return tide_str_make(s.p, (size_t)(c - s.p));
    if (c && s.p[0] == '[') /* [v6]:port */
        return tide_str_make(s.p + 1, (size_t)(c - s.p) - 2);
    if (c) /* v6:port as ALB writes it */
        return tide_str_make(s.p, (size_t)(c - s.p));
    return s;
}

int tide__alb_parse(struct tide_logfmt *f, const char *line, size_t len, struct tide_record *r,
                    struct tide_arena *a, const char **reason)
{
    struct tide_str t[MAX_TOK];
    int n = tide__log_tokens(line, len, t, MAX_TOK, false), o, rc, k;
    int64_t end_ns, start_ns = TIDE_TIME_UNKNOWN, dur = 0, x;
    if (line[0] == '#') {
        *reason = "comment line";
        return 0;
    }
    /* classic ELB lines start with the time, ALB lines with the type */
    o = n > 0 && tide_time_parse_rfc3339(t[0].p, t[0].len, &x) == 0 ? -1 : 0;
    if (n < 13 + o) {
        *reason = "too few fields for an ALB/ELB line";
        return TIDE_E_FORMAT;
    }
    if (tide_time_parse_rfc3339(t[1 + o].p, t[1 + o].len, &end_ns)) {
        *reason = "bad time (expected ISO 8601)";
        return TIDE_E_FORMAT;
    }
    /* the client is ip:port (or "-" on a TCP listener's line); checked before
     * the request, whose "-" would make any line a line without a request */
    if (!(t[3 + o].len == 1 && t[3 + o].p[0] == '-')) {
        struct tide_str ip = strip_port(t[3 + o]);
        const char *c = memrchr(t[3 + o].p, ':', t[3 + o].len);
        size_t k2;
        bool port = c && c + 1 < t[3 + o].p + t[3 + o].len;
        for (k2 = c ? (size_t)(c + 1 - t[3 + o].p) : 0; port && k2 < t[3 + o].len; k2++)
            port = isdigit((unsigned char)t[3 + o].p[k2]) != 0;
        if (!port || !tide_is_ip(ip.p, ip.len)) {
            *reason = "client is not ip:port";
            return TIDE_E_FORMAT;
        }
    }
    rc = tide__log_request_line(t[12 + o], r, reason);
    if (rc <= 0)
        return rc;
    if (o == 0 && t[0].len)
        r->scheme = t[0].len >= 5 && strncmp(t[0].p, "https", 5) == 0 ? tide_str_c("https")
                    : strncmp(t[0].p, "http", 4) == 0 ? tide_str_c("http") : r->scheme;
    r->client = strip_port(t[3 + o]);
    for (k = 5; k <= 7; k++) {
        int64_t v;
        if (t[k + o].len && t[k + o].p[0] == '-') {
            dur = -1; /* -1: the request did not reach or return from a target */
            break;
        }
        if (tide__log_decimal_ns(t[k + o], TIDE_NS_PER_SEC, &v)) {
            *reason = "processing time is not a number";
            return TIDE_E_FORMAT;
        }
        dur += v;
    }
    {
        const char *dummy;
        int64_t e2, s2, d2;
        if (tide__log_set_field(f, r, F_STATUS, "", t[8 + o], a, &e2, &s2, &d2, reason) < 0)
            return TIDE_E_FORMAT;
        if (tide__log_set_field(f, r, F_BYTES, "", t[11 + o], a, &e2, &s2, &d2, &dummy) < 0)
            r->resp_bytes = -1;
    }
    if (n > 13 + o && !tide__log_dash(t[13 + o]))
        tide__log_add_header(f, r, tide_str_c("User-Agent"), tide__log_unescape(t[13 + o], a));
    if (o == 0 && n > 21 && tide_time_parse_rfc3339(t[21].p, t[21].len, &x) == 0)
        start_ns = x; /* request_creation_time: the real start */
    r->duration_ns = dur;
    r->ts_ns = start_ns != TIDE_TIME_UNKNOWN ? start_ns : end_ns - (dur > 0 ? dur : 0);
    return 1;
}

/* ---- S3 server access logs ------------------------------------------------------ */

/*
 * owner bucket [time] ip requester request-id operation key "request" status
 * error bytes-sent object-size total-time turnaround "referer" "user-agent"
 * version host-id sigv cipher auth host-header tls-version ...
 * The time is when S3 received the request (its start), to the second;
 * total-time is milliseconds until the last byte went out. Newer fields are
 * appended over the years: those past the user agent are read when present.
 */
int tide__s3_parse(struct tide_logfmt *f, const char *line, size_t len, struct tide_record *r,
                   struct tide_arena *a, const char **reason)
{
    struct tide_str t[MAX_TOK];
    int n = tide__log_tokens(line, len, t, MAX_TOK, true), rc;
    int64_t end_ns = TIDE_TIME_UNKNOWN, start_ns = TIDE_TIME_UNKNOWN, dur = -1;
    const char *dummy;
    if (n < 17) {
        *reason = "too few fields for an S3 access log line";
        return TIDE_E_FORMAT;
    }
    if (t[2].len < 2 || t[2].p[0] != '[' || tide__log_time_local(t[2], &start_ns)) {
        *reason = "bad time (expected [dd/Mon/yyyy:hh:mm:ss +zzzz])";
        return TIDE_E_FORMAT;
    }
    if ((rc = tide__log_set_field(f, r, F_STATUS, "", t[9], a, &end_ns, &start_ns, &dur, reason)) < 0)
        return rc;
    rc = tide__log_request_line(tide__log_unescape(t[8], a), r, reason);
    if (rc <= 0)
        return rc;
    r->client = t[3];
    if (tide__log_set_field(f, r, F_BYTES, "", t[11], a, &end_ns, &start_ns, &dur, &dummy) < 0)
        r->resp_bytes = -1;
    if ((rc = tide__log_set_field(f, r, F_DUR_MS, "", t[13], a, &end_ns, &start_ns, &dur, reason)) < 0)
        return rc;
    if (!tide__log_dash(t[15]))
        tide__log_add_header(f, r, tide_str_c("Referer"), tide__log_unescape(t[15], a));
    if (!tide__log_dash(t[16]))
        tide__log_add_header(f, r, tide_str_c("User-Agent"), tide__log_unescape(t[16], a));
    if (n > 22 && !tide__log_dash(t[22]))
        r->host = t[22];
    if (n > 23)
        r->scheme = t[23].len == 1 && t[23].p[0] == '-' ? tide_str_c("http") : tide_str_c("https");
    r->duration_ns = dur;
    r->ts_ns = start_ns;
    return 1;
}
