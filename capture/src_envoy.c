/*
 * src_envoy.c - Envoy's default access log, and Istio's (the sidecars of a
 * service mesh write it to stdout, so on Kubernetes it is read as
 * cri+envoy):
 *
 *   [START_TIME] "METHOD PATH PROTOCOL" CODE FLAGS
 *     (Istio: CODE_DETAILS TERMINATION_DETAILS "TRANSPORT_FAILURE")
 *   BYTES_RECEIVED BYTES_SENT DURATION UPSTREAM_SERVICE_TIME "X-FORWARDED-FOR"
 *   "USER-AGENT" "X-REQUEST-ID" "AUTHORITY" "UPSTREAM_HOST"
 *     (Istio: CLUSTER UPSTREAM_LOCAL DOWNSTREAM_LOCAL DOWNSTREAM_REMOTE SNI ROUTE)
 *
 * START_TIME is when the request started (ms); DURATION is milliseconds to
 * the last byte. The client is the first X-Forwarded-For hop, else Istio's
 * downstream remote address. A TCP proxy's line ("- - -") holds no request.
 */
#define _GNU_SOURCE
#include "capture_int.h"

#include <ctype.h>
#include <string.h>

#define MAX_TOK 40


static bool digits(struct tide_str v)
{
    size_t i;
    if (!v.len)
        return false;
    for (i = 0; i < v.len; i++)
        if (!isdigit((unsigned char)v.p[i]))
            return false;
    return true;
}

int tide__envoy_parse(struct tide_logfmt *f, const char *line, size_t len, struct tide_record *r,
                      struct tide_arena *a, const char **reason)
{
    struct tide_str t[MAX_TOK];
    const char *close;
    int64_t start_ns = TIDE_TIME_UNKNOWN, end_ns = TIDE_TIME_UNKNOWN, dur = -1;
    int n, o, rc;
    if (len < 3 || line[0] != '[' || !(close = memchr(line, ']', len)) ||
        tide_time_parse_rfc3339(line + 1, (size_t)(close - line) - 1, &start_ns)) {
        *reason = "no [start time] (expected an Envoy access log line)";
        return TIDE_E_FORMAT;
    }
    n = tide__log_tokens(close + 1, len - (size_t)(close + 1 - line), t, MAX_TOK, false);
    /* request, code, flags, then Envoy's bytes received or Istio's code details */
    if (n < 12 || !(digits(t[1]) || tide__log_dash(t[1]))) {
        *reason = "too few fields for an Envoy access log line";
        return TIDE_E_FORMAT;
    }
    o = digits(t[3]) ? 0 : 3; /* Istio: three fields more after the flags */
    if (n < 12 + o || !digits(t[3 + o]) || !(digits(t[5 + o]) || tide__log_dash(t[5 + o]))) {
        *reason = "byte counts or duration are not numbers";
        return TIDE_E_FORMAT;
    }
    if (t[0].len == 5 && memcmp(t[0].p, "- - -", 5) == 0) {
        *reason = "no request line (a TCP connection)";
        return 0;
    }
    rc = tide__log_request_line(t[0], r, reason);
    if (rc <= 0)
        return rc;
    if (digits(t[1]) && (rc = tide__log_set_field(f, r, F_STATUS, "", t[1], a, &end_ns, &start_ns, &dur,
                                                  reason)) < 0)
        return rc;
    if (tide__log_set_field(f, r, F_BYTES, "", t[4 + o], a, &end_ns, &start_ns, &dur, reason) < 0)
        r->resp_bytes = -1;
    if (!tide__log_dash(t[5 + o]) &&
        (rc = tide__log_set_field(f, r, F_DUR_MS, "", t[5 + o], a, &end_ns, &start_ns, &dur, reason)) < 0)
        return rc;
    if (!tide__log_dash(t[7 + o]))
        tide__log_set_field(f, r, F_CLIENT, "", t[7 + o], a, &end_ns, &start_ns, &dur, reason);
    if (!tide__log_dash(t[8 + o]))
        tide__log_add_header(f, r, tide_str_c("User-Agent"), t[8 + o]);
    if (!tide__log_dash(t[9 + o]))
        tide__log_add_header(f, r, tide_str_c("X-Request-Id"), t[9 + o]);
    if (!tide__log_dash(t[10 + o]))
        r->host = t[10 + o];
    if (o && r->client.len == 0 && n > 15 + o && !tide__log_dash(t[15 + o])) {
        /* Istio's downstream remote address, ip:port ([v6]:port) */
        struct tide_str c = t[15 + o];
        const char *colon = memrchr(c.p, ':', c.len);
        if (colon)
            c.len = (size_t)(colon - c.p);
        if (c.len >= 2 && c.p[0] == '[' && c.p[c.len - 1] == ']')
            c = tide_str_make(c.p + 1, c.len - 2);
        r->client = c;
    }
    r->duration_ns = dur;
    r->ts_ns = start_ns;
    return 1;
}
