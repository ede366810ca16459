/*
 * src_haproxy.c - HAProxy's HTTP log (option httplog), as HAProxy sends it
 * to syslog or stdout, with or without the syslog header before it:
 *
 *   [Mmm dd hh:mm:ss host haproxy[pid]: ]ip:port [date] frontend[~]
 *   backend/server TR/Tw/Tc/Tr/Ta status bytes req-cookie resp-cookie
 *   termination ac/fc/bc/sc/rc sq/bq [{req headers}] [{resp headers}] "request"
 *
 * [date] is when the request started (HAProxy 1.9 and later; the
 * connection's accept before), in the proxy's local time without a zone:
 * UTC unless --tz says otherwise (tide_logfmt_set_tz). The duration is the last timer (Ta, or Tt before 1.9), in
 * milliseconds; -1 means the request never completed. A frontend name
 * ending in '~' is a TLS one (https). Captured headers are logged without
 * their names, so they are not kept. A request HAProxy could not parse is
 * logged as <BADREQ>: counted as a line without a request.
 */
#define _GNU_SOURCE
#include "capture_int.h"

#include <ctype.h>
#include <string.h>

/* The next space-separated token from *i ("" at the end). */
static struct tide_str word(const char *line, size_t len, size_t *i)
{
    size_t st;
    while (*i < len && line[*i] == ' ')
        (*i)++;
    st = *i;
    while (*i < len && line[*i] != ' ')
        (*i)++;
    return tide_str_make(line + st, *i - st);
}

/* Where the "[dd/Mon/yyyy:" date starts, after an "ip:port " token; NULL if nowhere. */
static const char *find_date(const char *line, size_t len)
{
    const char *p = line, *end = line + len;
    while ((p = memchr(p, '[', (size_t)(end - p))) != NULL) {
        if (p > line + 1 && p[-1] == ' ' && end - p > 13 && isdigit((unsigned char)p[1]) &&
            isdigit((unsigned char)p[2]) && p[3] == '/' && p[7] == '/' && p[12] == ':')
            return p;
        p++;
    }
    return NULL;
}

int tide__haproxy_parse(struct tide_logfmt *f, const char *line, size_t len, struct tide_record *r,
                        struct tide_arena *a, const char **reason)
{
    const char *date = find_date(line, len), *c, *close, *slash;
    struct tide_str client, fe, timers, st, bytes, req;
    int64_t end_ns = TIDE_TIME_UNKNOWN, start_ns = TIDE_TIME_UNKNOWN, dur = -1;
    size_t i, k;
    int rc;
    if (!date) {
        *reason = "no [date] after a client address (not an HAProxy HTTP log line)";
        return TIDE_E_FORMAT;
    }
    /* the client: the token before the date, ip:port */
    k = (size_t)(date - line) - 1;
    i = k;
    while (i > 0 && line[i - 1] != ' ')
        i--;
    client = tide_str_make(line + i, k - i);
    c = client.len ? memrchr(client.p, ':', client.len) : NULL;
    if (!c) {
        *reason = "no client ip:port before the date";
        return TIDE_E_FORMAT;
    }
    r->client = tide_str_make(client.p, (size_t)(c - client.p));
    close = memchr(date, ']', (size_t)(line + len - date));
    if (!close || tide__log_time_local(tide_str_make(date, (size_t)(close - date) + 1), &start_ns)) {
        *reason = "bad date (expected [dd/Mon/yyyy:hh:mm:ss.mmm])";
        return TIDE_E_FORMAT;
    }
    start_ns -= f->tz_ns; /* a local time without a zone: --tz says which */
    i = (size_t)(close - line) + 1;
    fe = word(line, len, &i);
    word(line, len, &i); /* backend/server */
    timers = word(line, len, &i);
    st = word(line, len, &i);
    bytes = word(line, len, &i);
    slash = timers.len ? memrchr(timers.p, '/', timers.len) : NULL;
    if (!fe.len || !slash || !st.len || !bytes.len) {
        *reason = "too few fields for an HAProxy HTTP log line";
        return TIDE_E_FORMAT;
    }
    {
        /* the total time, the last timer: "+72" with option logasap, -1 if it never ended */
        struct tide_str tt = tide_str_make(slash + 1, (size_t)(timers.p + timers.len - slash - 1));
        if (tt.len && tt.p[0] == '+')
            tt = tide_str_make(tt.p + 1, tt.len - 1);
        if (!(tt.len && tt.p[0] == '-') &&
            tide__log_set_field(f, r, F_DUR_MS, "", tt, a, &end_ns, &start_ns, &dur, reason) < 0) {
            *reason = "total time is not a number";
            return TIDE_E_FORMAT;
        }
    }
    if (!(st.len == 2 && st.p[0] == '-' && st.p[1] == '1') &&
        (rc = tide__log_set_field(f, r, F_STATUS, "", st, a, &end_ns, &start_ns, &dur, reason)) < 0)
        return rc;
    if (tide_parse_i64(bytes.p, bytes.len, &r->resp_bytes) || r->resp_bytes < 0) {
        *reason = "byte count is not a number";
        return TIDE_E_FORMAT;
    }
    /* the request is the last field, in quotes (cut short, the closing one may be missing) */
    c = memchr(line + i, '"', len - i);
    if (!c) {
        *reason = "no quoted request";
        return TIDE_E_FORMAT;
    }
    req = tide_str_make(c + 1, (size_t)(line + len - c - 1));
    if (req.len && req.p[req.len - 1] == '"')
        req.len--;
    if (tide_str_is_eq_c(req, "<BADREQ>")) {
        *reason = "no request line (HAProxy logged <BADREQ>)";
        return 0;
    }
    rc = tide__log_request_line(req, r, reason);
    if (rc <= 0)
        return rc;
    r->scheme = fe.p[fe.len - 1] == '~' ? tide_str_c("https") : tide_str_c("http");
    r->duration_ns = dur;
    r->ts_ns = start_ns;
    return 1;
}
