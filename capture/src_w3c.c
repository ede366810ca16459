/*
 * src_w3c.c - W3C extended logs: columns named by a "#Fields:" directive,
 * one reader for three producers:
 *   cloudfront  CloudFront standard logs: tab-separated, cookies
 *               percent-encoded and user agents twice ("%2520" for a
 *               space), time-taken in seconds; a default column list when
 *               the header was cut off;
 *   w3c         IIS, NetScaler and other W3C writers: columns separated by
 *               spaces (a "quoted" value may hold spaces), spaces inside
 *               header values written as '+', time-taken in milliseconds
 *               when #Software names IIS (IIS's own reading of the W3C
 *               draft), in seconds otherwise (the draft, NetScaler).
 * A log may name its columns again mid-file (IIS writes a new header block
 * when it restarts): each "#Fields:" line applies from there on. date and
 * time are UTC and mark when the request ended, so start = end - time-taken.
 * Any cs(Name) column becomes request header Name.
 */
#define _GNU_SOURCE
#include "capture_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { W_DATE = 200, W_TIME, W_EPOCH, W_UA, W_REFERER, W_COOKIE, W_XHOST, W_TAKEN, W_PORT, W_HEADER };

static const struct {
    const char *name;
    int t;
} NAMES[] = {
    {"date", W_DATE},          {"time", W_TIME},
    {"timestamp", W_EPOCH},    {"c-ip", F_CLIENT},
    {"cs-method", F_METHOD},    {"cs(Host)", F_HOST},
    {"cs-host", F_HOST},        {"x-host-header", W_XHOST},
    {"cs-uri-stem", F_REQUEST_URI}, {"cs-uri", F_REQUEST_URI},
    {"cs-uri-query", F_QUERY},  {"sc-status", F_STATUS},
    {"sc-bytes", F_BYTES},      {"time-taken", W_TAKEN},
    {"cs(User-Agent)", W_UA},   {"cs-user-agent", W_UA},
    {"cs(Referer)", W_REFERER}, {"cs-referer", W_REFERER},
    {"cs(Cookie)", W_COOKIE},   {"cs-cookie", W_COOKIE},
    {"cs-protocol", F_SCHEME},  {"cs-protocol-version", F_PROTOCOL},
    {"cs-version", F_PROTOCOL}, {"s-port", W_PORT},
};

static const char *CF_DEFAULT = "date time x-edge-location sc-bytes c-ip cs-method cs(Host) "
                                "cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query "
                                "cs(Cookie) x-edge-result-type x-edge-request-id x-host-header "
                                "cs-protocol cs-bytes time-taken";

/* Reads a "#Fields:" list: each column's meaning, by name. */
static void fields(struct tide_logfmt *f, const char *s, size_t n)
{
    size_t i = 0;
    f->n_cf = 0;
    while (i < n && f->n_cf < 64) {
        size_t st, k, len;
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        st = i;
        while (i < n && s[i] != ' ' && s[i] != '\t')
            i++;
        if (i == st)
            break;
        len = i - st;
        f->cf_cols[f->n_cf] = F_IGNORE;
        snprintf(f->cf_names[f->n_cf], sizeof(f->cf_names[0]), "%.*s", (int)len, s + st);
        for (k = 0; k < sizeof(NAMES) / sizeof(NAMES[0]); k++)
            if (strlen(NAMES[k].name) == len && strncasecmp(NAMES[k].name, s + st, len) == 0)
                f->cf_cols[f->n_cf] = (enum tide__ftype)NAMES[k].t;
        /* any other cs(Name): request header Name (when the name fits) */
        if (f->cf_cols[f->n_cf] == F_IGNORE && len > 4 && len < sizeof(f->cf_names[0]) &&
            strncasecmp(s + st, "cs(", 3) == 0 && s[i - 1] == ')') {
            snprintf(f->cf_names[f->n_cf], sizeof(f->cf_names[0]), "%.*s", (int)len - 4, s + st + 3);
            f->cf_cols[f->n_cf] = (enum tide__ftype)W_HEADER;
        }
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
        if (s.p[i] == '%' && i + 2 < s.len && tide_hex_value(s.p[i + 1]) >= 0 && tide_hex_value(s.p[i + 2]) >= 0) {
            *o++ = (char)(tide_hex_value(s.p[i + 1]) << 4 | tide_hex_value(s.p[i + 2]));
            i += 2;
        } else {
            *o++ = s.p[i];
        }
    }
    return tide_str_make(base, (size_t)(o - base));
}

/* IIS writes a header value's spaces as '+': back to spaces, except that
 * "++" is " +" (a space, then a real plus: Googlebot's "; +http://..."). In
 * a cookie only "; " is restored (a value may hold a real '+': base64). */
static struct tide_str plus_decode(struct tide_str s, bool cookie, struct tide_arena *a)
{
    char *o, *base;
    size_t i;
    if (!memchr(s.p, '+', s.len))
        return s;
    base = o = tide_arena_alloc(a, s.len);
    if (!base)
        return s;
    for (i = 0; i < s.len; i++) {
        char c = s.p[i];
        if (c == '+' && (cookie ? i > 0 && s.p[i - 1] == ';' : i == 0 || s.p[i - 1] != '+'))
            c = ' ';
        *o++ = c;
    }
    return tide_str_make(base, (size_t)(o - base));
}

/* The next column of a line: up to the next tab (CloudFront) or run of
 * spaces and tabs (W3C; a value in double quotes may hold spaces, quotes
 * dropped). Returns false at the end of the line. */
static bool next_col(const char *line, size_t len, size_t *i, bool tabs, struct tide_str *v)
{
    size_t st;
    if (tabs) {
        const char *tab;
        if (*i > len)
            return false;
        tab = memchr(line + *i, '\t', len - *i);
        *v = tide_str_make(line + *i, (tab ? (size_t)(tab - line) : len) - *i);
        *i = tab ? (size_t)(tab - line) + 1 : len + 1;
        return true;
    }
    while (*i < len && (line[*i] == ' ' || line[*i] == '\t'))
        (*i)++;
    if (*i >= len)
        return false;
    if (line[*i] == '"') {
        const char *q = memchr(line + *i + 1, '"', len - *i - 1);
        if (q) {
            *v = tide_str_make(line + *i + 1, (size_t)(q - line) - *i - 1);
            *i = (size_t)(q - line) + 1;
            return true;
        }
    }
    st = *i;
    while (*i < len && line[*i] != ' ' && line[*i] != '\t')
        (*i)++;
    *v = tide_str_make(line + st, *i - st);
    return true;
}

/* A directive line ("#Fields:", "#Software:", ...): what it says for the
 * lines after it. */
static void directive(struct tide_logfmt *f, const char *line, size_t len)
{
    if (len > 8 && strncasecmp(line, "#Fields:", 8) == 0)
        fields(f, line + 8, len - 8);
    else if (len > 10 && strncasecmp(line, "#Software:", 10) == 0)
        f->w3c_ms = memmem(line, len, "Internet Information Services", 29) != NULL;
}

int tide__w3c_parse(struct tide_logfmt *f, const char *line, size_t len, struct tide_record *r,
                    struct tide_arena *a, const char **reason)
{
    struct tide_str date = {0}, tm = {0}, xhost = {0}, port = {0}, v;
    int64_t end_ns = TIDE_TIME_UNKNOWN, start_ns = TIDE_TIME_UNKNOWN, dur = -1;
    size_t i = 0;
    int col = 0, rc;
    bool cf = f->kind == FMT_CLOUDFRONT;
    if (line[0] == '#') {
        directive(f, line, len);
        *reason = "header line";
        return 0;
    }
    if (f->n_cf == 0) {
        if (!cf) {
            *reason = "no #Fields line before it (a W3C log names its columns first)";
            return TIDE_E_FORMAT;
        }
        fields(f, CF_DEFAULT, strlen(CF_DEFAULT));
    }
    if (cf && !memchr(line, '\t', len)) {
        *reason = "not a tab-separated CloudFront line";
        return TIDE_E_FORMAT;
    }
    while (col < f->n_cf && next_col(line, len, &i, cf, &v)) {
        int t = f->cf_cols[col];
        bool dash = tide__log_dash(v);
        switch (t) {
        case W_DATE: date = v; break;
        case W_TIME: tm = v; break;
        case W_EPOCH:
            if (tide__log_decimal_ns(v, TIDE_NS_PER_SEC, &end_ns)) {
                *reason = "bad epoch timestamp";
                return TIDE_E_FORMAT;
            }
            break;
        case W_XHOST: xhost = v; break;
        case W_PORT: port = v; break;
        case W_TAKEN:
            rc = tide__log_set_field(f, r, cf || !f->w3c_ms ? F_DUR_S : F_DUR_MS, "", v, a, &end_ns,
                                     &start_ns, &dur, reason);
            if (rc < 0)
                return rc;
            break;
        case W_UA:
            if (!dash)
                tide__log_add_header(f, r, tide_str_c("User-Agent"),
                                     cf ? pct_decode(pct_decode(v, a), a) : plus_decode(v, false, a));
            break;
        case W_REFERER:
            if (!dash)
                tide__log_add_header(f, r, tide_str_c("Referer"), v);
            break;
        case W_COOKIE:
            if (!dash)
                tide__log_add_header(f, r, tide_str_c("Cookie"),
                                     cf ? pct_decode(v, a) : plus_decode(v, true, a));
            break;
        case W_HEADER:
            if (!dash && tide__log_add_header(f, r, tide_str_c(f->cf_names[col]),
                                              cf ? v : plus_decode(v, false, a))) {
                *reason = "too many header fields";
                return TIDE_E_FORMAT;
            }
            break;
        default:
            rc = tide__log_set_field(f, r, (enum tide__ftype)t, "", v, a, &end_ns, &start_ns, &dur,
                                     reason);
            if (rc < 0)
                return rc;
        }
        col++;
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
    if (!tide__log_dash(xhost))
        r->host = xhost; /* the Host the viewer asked for, not the distribution's */
    if (r->scheme.len == 0 && port.len == 3 && memcmp(port.p, "443", 3) == 0)
        r->scheme = tide_str_c("https");
    else if (r->scheme.len == 0 && port.len == 2 && memcmp(port.p, "80", 2) == 0)
        r->scheme = tide_str_c("http");
    r->duration_ns = dur;
    r->ts_ns = end_ns - (dur > 0 ? dur : 0);
    return 1;
}
