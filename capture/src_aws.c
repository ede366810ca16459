/*
 * src_aws.c - AWS access logs: Application (and classic) Load Balancer logs,
 * and CloudFront standard logs (W3C, tab-separated, columns named by their
 * #Fields header). Common fronts of SEO traffic: crawlers hit the CDN first.
 */
#define _GNU_SOURCE
#include "capture_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_TOK 64

/* Space-separated tokens; "quoted tokens" may hold spaces and \" escapes. */
static int tokens(const char *line, size_t len, struct tide_str *tok, int max)
{
    size_t i = 0;
    int n = 0;
    while (i < len && n < max) {
        size_t st;
        while (i < len && line[i] == ' ')
            i++;
        if (i >= len)
            break;
        if (line[i] == '"') {
            st = ++i;
            while (i < len && line[i] != '"') {
                if (line[i] == '\\' && i + 1 < len)
                    i++;
                i++;
            }
            tok[n++] = tide_str_make(line + st, i - st);
            i++;
        } else {
            st = i;
            while (i < len && line[i] != ' ')
                i++;
            tok[n++] = tide_str_make(line + st, i - st);
        }
    }
    return n;
}

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
    int n = tokens(line, len, t, MAX_TOK), o, rc, k;
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
    if (n > 13 + o && t[13 + o].len && !(t[13 + o].len == 1 && t[13 + o].p[0] == '-'))
        tide__log_add_header(f, r, tide_str_c("User-Agent"), tide__log_unescape(t[13 + o], a));
    if (o == 0 && n > 21 && tide_time_parse_rfc3339(t[21].p, t[21].len, &x) == 0)
        start_ns = x; /* request_creation_time: the real start */
    r->duration_ns = dur;
    r->ts_ns = start_ns != TIDE_TIME_UNKNOWN ? start_ns : end_ns - (dur > 0 ? dur : 0);
    return 1;
}

/* ---- CloudFront ----------------------------------------------------------------- */

enum { CF_DATE = 200, CF_TIME, CF_EPOCH, CF_UA, CF_REFERER, CF_COOKIE, CF_XHOST };

static const struct {
    const char *name;
    int t;
} CF_NAMES[] = {
    {"date", CF_DATE},          {"time", CF_TIME},
    {"timestamp", CF_EPOCH},    {"c-ip", F_CLIENT},
    {"cs-method", F_METHOD},    {"cs(Host)", F_HOST},
    {"cs-host", F_HOST},        {"x-host-header", CF_XHOST},
    {"cs-uri-stem", F_REQUEST_URI}, {"cs-uri-query", F_QUERY},
    {"sc-status", F_STATUS},    {"sc-bytes", F_BYTES},
    {"time-taken", F_DUR_S},    {"cs(User-Agent)", CF_UA},
    {"cs-user-agent", CF_UA},   {"cs(Referer)", CF_REFERER},
    {"cs-referer", CF_REFERER}, {"cs(Cookie)", CF_COOKIE},
    {"cs-cookie", CF_COOKIE},   {"cs-protocol", F_SCHEME},
    {"cs-protocol-version", F_PROTOCOL},
};

static const char *CF_DEFAULT = "date time x-edge-location sc-bytes c-ip cs-method cs(Host) "
                                "cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query "
                                "cs(Cookie) x-edge-result-type x-edge-request-id x-host-header "
                                "cs-protocol cs-bytes time-taken";

static void cf_fields(struct tide_logfmt *f, const char *s, size_t n)
{
    size_t i = 0;
    f->n_cf = 0;
    while (i < n && f->n_cf < 64) {
        size_t st, k;
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        st = i;
        while (i < n && s[i] != ' ' && s[i] != '\t')
            i++;
        if (i == st)
            break;
        f->cf_cols[f->n_cf] = F_IGNORE;
        snprintf(f->cf_names[f->n_cf], sizeof(f->cf_names[0]), "%.*s", (int)(i - st), s + st);
        for (k = 0; k < sizeof(CF_NAMES) / sizeof(CF_NAMES[0]); k++)
            if (strlen(CF_NAMES[k].name) == i - st && strncmp(CF_NAMES[k].name, s + st, i - st) == 0)
                f->cf_cols[f->n_cf] = (enum tide__ftype)CF_NAMES[k].t;
        f->n_cf++;
    }
}

/* Percent-decodes once into the arena ("%2520" -> "%20"). */
static struct tide_str pct_decode(struct tide_str s, struct tide_arena *a)
{
    char *o, *base;
    size_t i;
    if (!memchr(s.p, '%', s.len))
        return s;
    base = o = tide_arena_alloc(a, s.len);
    if (!base)
        return s;
    for (i = 0; i < s.len; i++) {
        if (s.p[i] == '%' && i + 2 < s.len + 0 && isxdigit((unsigned char)s.p[i + 1]) &&
            isxdigit((unsigned char)s.p[i + 2])) {
            char h[3] = {s.p[i + 1], s.p[i + 2], 0};
            *o++ = (char)strtol(h, NULL, 16);
            i += 2;
        } else {
            *o++ = s.p[i];
        }
    }
    return tide_str_make(base, (size_t)(o - base));
}

int tide__cloudfront_parse(struct tide_logfmt *f, const char *line, size_t len,
                           struct tide_record *r, struct tide_arena *a, const char **reason)
{
    struct tide_str date = {0}, tm = {0}, xhost = {0};
    int64_t end_ns = TIDE_TIME_UNKNOWN, start_ns = TIDE_TIME_UNKNOWN, dur = -1;
    size_t i = 0;
    int col = 0, rc;
    if (line[0] == '#') {
        if (len > 8 && strncmp(line, "#Fields:", 8) == 0)
            cf_fields(f, line + 8, len - 8);
        *reason = "header line";
        return 0;
    }
    if (f->n_cf == 0)
        cf_fields(f, CF_DEFAULT, strlen(CF_DEFAULT));
    if (!memchr(line, '\t', len)) {
        *reason = "not a tab-separated CloudFront line";
        return TIDE_E_FORMAT;
    }
    while (i <= len && col < f->n_cf) {
        const char *tab = memchr(line + i, '\t', len - i);
        struct tide_str v = tide_str_make(line + i, (tab ? (size_t)(tab - line) : len) - i);
        int t = f->cf_cols[col];
        bool dash = v.len == 1 && v.p[0] == '-';
        switch (t) {
        case CF_DATE: date = v; break;
        case CF_TIME: tm = v; break;
        case CF_EPOCH:
            if (tide__log_decimal_ns(v, TIDE_NS_PER_SEC, &end_ns)) {
                *reason = "bad epoch timestamp";
                return TIDE_E_FORMAT;
            }
            break;
        case CF_XHOST: xhost = v; break;
        case CF_UA:
            if (!dash)
                tide__log_add_header(f, r, tide_str_c("User-Agent"), pct_decode(v, a));
            break;
        case CF_REFERER:
            if (!dash)
                tide__log_add_header(f, r, tide_str_c("Referer"), v);
            break;
        case CF_COOKIE:
            if (!dash)
                tide__log_add_header(f, r, tide_str_c("Cookie"), pct_decode(v, a));
            break;
        default:
            rc = tide__log_set_field(f, r, (enum tide__ftype)t, "", v, a, &end_ns, &start_ns, &dur,
                                     reason);
            if (rc < 0)
                return rc;
        }
        col++;
        if (!tab)
            break;
        i = (size_t)(tab - line) + 1;
    }
    if (date.len && tm.len) {
        char buf[64];
        snprintf(buf, sizeof(buf), "%.*sT%.*sZ", (int)(date.len > 20 ? 20 : date.len), date.p,
                 (int)(tm.len > 20 ? 20 : tm.len), tm.p);
        if (tide_time_parse_rfc3339(buf, strlen(buf), &end_ns)) {
            *reason = "bad date or time";
            return TIDE_E_FORMAT;
        }
    }
    if (end_ns == TIDE_TIME_UNKNOWN) {
        *reason = "line has no time";
        return TIDE_E_FORMAT;
    }
    if (r->method.len == 0 || r->path.len == 0) {
        *reason = "line has no method or path";
        return TIDE_E_FORMAT;
    }
    if (xhost.len && !(xhost.len == 1 && xhost.p[0] == '-'))
        r->host = xhost; /* the Host the viewer asked for, not the distribution's */
    r->duration_ns = dur;
    r->ts_ns = end_ns - (dur > 0 ? dur : 0);
    return 1;
}
