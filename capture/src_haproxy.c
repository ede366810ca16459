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
 * their names: "haproxy:Host,User-Agent" names the request headers the
 * proxy's `capture request header` lines capture, in their order; they are
 * kept (HAProxy writes '#', '|', '{', '}', '"' and bytes outside printable
 * ASCII in them as #XX). Without names, they are not kept. A request
 * HAProxy could not parse is logged as <BADREQ>: counted as a line without
 * a request.
 */
#define _GNU_SOURCE
#include "capture_int.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

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

int tide__haproxy_compile(struct tide_logfmt *f, const char *names, struct tide_err *err)
{
    const char *p = names;
    while (*p) {
        size_t n = strcspn(p, ","), k;
        if (n == 0 || n >= sizeof(f->hap_hdr[0]))
            return tide_err_set(err, TIDE_E_USAGE, "", "haproxy: header %d: a name of 1 to %zu characters",
                                f->n_hap + 1, sizeof(f->hap_hdr[0]) - 1);
        for (k = 0; k < n; k++)
            if (!(isalnum((unsigned char)p[k]) || strchr("!#$%&'*+-.^_`|~", p[k])))
                return tide_err_set(err, TIDE_E_USAGE, "", "haproxy: header %d: not a header name",
                                    f->n_hap + 1);
        if (f->n_hap == (int)(sizeof(f->hap_hdr) / sizeof(f->hap_hdr[0])))
            return tide_err_set(err, TIDE_E_USAGE, "", "haproxy: more than %zu captured headers",
                                sizeof(f->hap_hdr) / sizeof(f->hap_hdr[0]));
        memcpy(f->hap_hdr[f->n_hap], p, n);
        f->hap_hdr[f->n_hap++][n] = 0;
        p += n;
        if (*p == ',' && *++p == 0)
            return tide_err_set(err, TIDE_E_USAGE, "", "haproxy: a header name after the last ','");
    }
    if (!f->n_hap)
        return tide_err_set(err, TIDE_E_USAGE, "", "haproxy: no header names after ':'");
    return 0;
}

/* A captured value with its #XX escapes decoded. */
static struct tide_str unhash(struct tide_str v, struct tide_arena *a)
{
    char *o;
    size_t i, n = 0;
    if (!memchr(v.p, '#', v.len) || !(o = tide_arena_alloc(a, v.len)))
        return v;
    for (i = 0; i < v.len; i++) {
        int hi, lo;
        if (v.p[i] == '#' && i + 2 < v.len && (hi = tide_hex_value(v.p[i + 1])) >= 0 &&
            (lo = tide_hex_value(v.p[i + 2])) >= 0) {
            o[n++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            o[n++] = v.p[i];
        }
    }
    return tide_str_make(o, n);
}

/* The first {a|b|...} block in [from, to): the captured request headers. */
static int captured(struct tide_logfmt *f, const char *from, const char *to, struct tide_record *r,
                    struct tide_arena *a, const char **reason)
{
    const char *b = memchr(from, '{', (size_t)(to - from)), *e, *v;
    int k;
    if (!b || !(e = memchr(b, '}', (size_t)(to - b))))
        return 0; /* nothing captured on this line */
    for (k = 0, v = b + 1; k < f->n_hap && v <= e; k++) {
        const char *bar = memchr(v, '|', (size_t)(e - v));
        struct tide_str val = tide_str_make(v, (size_t)((bar ? bar : e) - v));
        if (val.len) {
            val = unhash(val, a);
            if (strcasecmp(f->hap_hdr[k], "Host") == 0)
                r->host = val;
            else if (tide__log_add_header(f, r, tide_str_c(f->hap_hdr[k]), val)) {
                *reason = "too many header fields";
                return TIDE_E_FORMAT;
            }
        }
        if (!bar)
            break;
        v = bar + 1;
    }
    return 0;
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
    if (f->n_hap && (rc = captured(f, line + i, c, r, a, reason)) < 0)
        return rc;
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
