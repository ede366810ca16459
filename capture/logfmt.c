/*
 * logfmt.c - access-log formats: compiling nginx log_format and Apache
 * LogFormat strings into a list of literals and fields, and matching lines
 * against that list.
 *
 * The matcher walks the line once: a field ends where the next literal
 * begins, and a field between quotes ends at the first quote not escaped by a
 * backslash (Apache writes \" inside quoted fields). Fields are views into
 * the line; only escaped values are copied (unescaped) into the scratch
 * arena. Expected load: a few hundred MB/s of log per core, so nothing here
 * allocates per line beyond those unescaped copies.
 */
#define _GNU_SOURCE
#include "capture_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- shared helpers --------------------------------------------------------- */

static const char *MONTHS[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static int num(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    size_t i;
    if (n == 0)
        return -1;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return 0;
}

/* ---- Apache's %{strftime}t, read back ---------------------------------------- */

static const char STRF_OK[] = "YymdeHIpMSTFDRbhBaAzZs%nt";

int tide__strf_check(const char *pat, char *bad)
{
    for (; *pat; pat++)
        if (*pat == '%') {
            if (!pat[1] || !strchr(STRF_OK, pat[1])) {
                *bad = pat[1];
                return TIDE_E_USAGE;
            }
            pat++;
        }
    return 0;
}

/* n digits (at most; at least 1, or exactly n if exact) at *p. */
static int strf_num(const char **p, const char *end, int n, bool exact, int64_t *out)
{
    int k = 0;
    int64_t v = 0;
    while (k < n && *p < end && isdigit((unsigned char)**p)) {
        v = v * 10 + (**p - '0');
        (*p)++;
        k++;
    }
    if (k == 0 || (exact && k < n))
        return -1;
    *out = v;
    return 0;
}

static int strf_month(const char **p, const char *end, bool full, int64_t *mo)
{
    static const char *FULL[] = {"January", "February", "March",     "April",   "May",      "June",
                                 "July",    "August",   "September", "October", "November", "December"};
    int k;
    for (k = 0; k < 12; k++) {
        const char *name = full ? FULL[k] : MONTHS[k];
        size_t n = strlen(name);
        if ((size_t)(end - *p) >= n && strncasecmp(*p, name, n) == 0) {
            *p += n;
            *mo = k + 1;
            return 0;
        }
    }
    return -1;
}

int tide__strf_read(const char *pat, struct tide_str v, struct tide__strf *st)
{
    const char *p = v.p, *end = v.p + v.len;
    bool pm = false, twelve = false;
    for (; *pat; pat++) {
        int rc = 0;
        if (*pat != '%') {
            if (p >= end || *p != *pat)
                return TIDE_E_FORMAT;
            p++;
            continue;
        }
        switch (*++pat) {
        case 'Y': rc = strf_num(&p, end, 4, true, &st->y); st->date = true; break;
        case 'y':
            rc = strf_num(&p, end, 2, true, &st->y);
            st->y += st->y < 69 ? 2000 : 1900;
            st->date = true;
            break;
        case 'm': rc = strf_num(&p, end, 2, false, &st->mo); break;
        case 'e':
            if (p < end && *p == ' ')
                p++;
            /* fall through */
        case 'd': rc = strf_num(&p, end, 2, false, &st->d); break;
        case 'H': rc = strf_num(&p, end, 2, false, &st->h); break;
        case 'I': rc = strf_num(&p, end, 2, false, &st->h); twelve = true; break;
        case 'p':
            if (end - p >= 2 && (strncasecmp(p, "AM", 2) == 0 || strncasecmp(p, "PM", 2) == 0)) {
                pm = toupper((unsigned char)p[0]) == 'P';
                p += 2;
            } else {
                rc = -1;
            }
            break;
        case 'M': rc = strf_num(&p, end, 2, false, &st->mi); break;
        case 'S': rc = strf_num(&p, end, 2, false, &st->s); break;
        case 'T':
        case 'R':
            rc = strf_num(&p, end, 2, false, &st->h);
            rc |= p < end && *p == ':' ? (p++, strf_num(&p, end, 2, false, &st->mi)) : -1;
            if (*pat == 'T')
                rc |= p < end && *p == ':' ? (p++, strf_num(&p, end, 2, false, &st->s)) : -1;
            break;
        case 'F':
            rc = strf_num(&p, end, 4, true, &st->y);
            rc |= p < end && *p == '-' ? (p++, strf_num(&p, end, 2, false, &st->mo)) : -1;
            rc |= p < end && *p == '-' ? (p++, strf_num(&p, end, 2, false, &st->d)) : -1;
            st->date = true;
            break;
        case 'D':
            rc = strf_num(&p, end, 2, false, &st->mo);
            rc |= p < end && *p == '/' ? (p++, strf_num(&p, end, 2, false, &st->d)) : -1;
            rc |= p < end && *p == '/' ? (p++, strf_num(&p, end, 2, true, &st->y)) : -1;
            st->y += st->y < 69 ? 2000 : 1900;
            st->date = true;
            break;
        case 'b':
        case 'h': rc = strf_month(&p, end, false, &st->mo); break;
        case 'B': rc = strf_month(&p, end, true, &st->mo); break;
        case 'a':
        case 'A':
        case 'Z':
            /* names: skipped (a zone's name says nothing tide can use but UTC) */
            if (*pat == 'Z' && end - p >= 3 && (strncmp(p, "UTC", 3) == 0 || strncmp(p, "GMT", 3) == 0)) {
                st->zone = true;
                st->off_s = 0;
            }
            if (p >= end || !isalpha((unsigned char)*p))
                rc = -1;
            while (p < end && isalpha((unsigned char)*p))
                p++;
            break;
        case 'z': {
            int64_t hh = 0, mm = 0;
            int sign = p < end && *p == '-' ? -1 : 1;
            if (p >= end || (*p != '+' && *p != '-')) {
                rc = -1;
                break;
            }
            p++;
            rc = strf_num(&p, end, 2, true, &hh);
            if (p < end && *p == ':')
                p++;
            rc |= strf_num(&p, end, 2, true, &mm);
            st->off_s = sign * (hh * 3600 + mm * 60);
            st->zone = true;
            break;
        }
        case 's': {
            int64_t sec, days, yy;
            unsigned m2, d2;
            rc = strf_num(&p, end, 12, false, &sec);
            if (rc)
                break;
            days = sec / 86400;
            tide_civil_from_days(days, &yy, &m2, &d2);
            st->y = yy;
            st->mo = m2;
            st->d = d2;
            st->h = (sec % 86400) / 3600;
            st->mi = (sec % 3600) / 60;
            st->s = sec % 60;
            st->zone = true;
            st->off_s = 0;
            st->date = true;
            break;
        }
        case 'n':
        case 't':
            while (p < end && (*p == ' ' || *p == '\t'))
                p++;
            break;
        case '%':
            rc = p < end && *p == '%' ? (p++, 0) : -1;
            break;
        default: return TIDE_E_FORMAT;
        }
        if (rc)
            return TIDE_E_FORMAT;
    }
    if (p != end)
        return TIDE_E_FORMAT;
    if (twelve && st->h >= 1 && st->h <= 12)
        st->h = st->h % 12 + (pm ? 12 : 0);
    if (st->date && (st->mo < 1 || st->mo > 12 || st->d < 1 || st->d > 31 || st->h > 23 || st->mi > 59 || st->s > 60 ||
                     st->y < 1700 || st->y > 2200))
        return TIDE_E_FORMAT;
    return 0;
}

int tide__log_time_local(struct tide_str s, int64_t *ns)
{
    /* [10/Oct/2000:13:55:36 -0700] or 10/Oct/2000:13:55:36.123 -0700 */
    const char *p = s.p;
    size_t n = s.len, i = 0;
    unsigned d, mo = 0, y, h, mi, sec, oh, om;
    int64_t frac = 0, off;
    int sign, k;
    if (n && p[0] == '[') {
        p++;
        n--;
    }
    if (n && p[n - 1] == ']')
        n--;
    if (n < 20 || p[2] != '/' || p[6] != '/' || p[11] != ':' || p[14] != ':' || p[17] != ':')
        return TIDE_E_FORMAT;
    if (num(p, 2, &d) || num(p + 7, 4, &y) || num(p + 12, 2, &h) || num(p + 15, 2, &mi) ||
        num(p + 18, 2, &sec))
        return TIDE_E_FORMAT;
    for (k = 0; k < 12; k++)
        if (strncmp(p + 3, MONTHS[k], 3) == 0)
            mo = (unsigned)k + 1;
    if (!mo || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1700 || y > 2200)
        return TIDE_E_FORMAT;
    i = 20;
    if (i < n && (p[i] == '.' || p[i] == ',')) {
        int nd = 0;
        i++;
        while (i < n && isdigit((unsigned char)p[i])) {
            if (nd < 9) {
                frac = frac * 10 + (p[i] - '0');
                nd++;
            }
            i++;
        }
        while (nd++ < 9)
            frac *= 10;
    }
    off = 0;
    if (i < n) {
        if (p[i] != ' ' || i + 6 > n)
            return TIDE_E_FORMAT;
        sign = p[i + 1] == '-' ? -1 : p[i + 1] == '+' ? 1 : 0;
        if (!sign || num(p + i + 2, 2, &oh) || num(p + i + 4, 2, &om) || i + 6 != n)
            return TIDE_E_FORMAT;
        off = sign * (int64_t)(oh * 3600 + om * 60);
    }
    *ns = ((tide_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) - off) *
              TIDE_NS_PER_SEC +
          frac;
    return 0;
}

int tide__log_decimal_ns(struct tide_str s, int64_t scale_ns, int64_t *ns)
{
    /* "0.123" seconds (scale 1e9), "123" us (scale 1000), ... exact, no doubles */
    int64_t whole = 0, frac = 0, fscale = 1;
    size_t i = 0;
    if (s.len == 0)
        return TIDE_E_FORMAT;
    for (; i < s.len && isdigit((unsigned char)s.p[i]); i++) {
        whole = whole * 10 + (s.p[i] - '0');
        if (whole > INT64_MAX / 4 / scale_ns)
            return TIDE_E_FORMAT;
    }
    if (i == 0)
        return TIDE_E_FORMAT;
    if (i < s.len && s.p[i] == '.') {
        for (i++; i < s.len && isdigit((unsigned char)s.p[i]); i++)
            if (fscale < TIDE_NS_PER_SEC) {
                frac = frac * 10 + (s.p[i] - '0');
                fscale *= 10;
            }
    }
    if (i != s.len)
        return TIDE_E_FORMAT;
    *ns = whole * scale_ns + frac * scale_ns / fscale;
    return 0;
}

struct tide_str tide__log_unescape(struct tide_str s, struct tide_arena *a)
{
    char *o, *base;
    size_t i;
    if (!s.len || !memchr(s.p, '\\', s.len))
        return s;
    base = o = tide_arena_alloc(a, s.len * 2);
    if (!base)
        return s;
    for (i = 0; i < s.len; i++) {
        char c;
        /* the text up to the next backslash goes in one copy */
        const char *bs = memchr(s.p + i, '\\', s.len - i);
        size_t run = (bs ? (size_t)(bs - s.p) : s.len) - i;
        memcpy(o, s.p + i, run);
        o += run;
        i += run;
        if (i >= s.len)
            break;
        if (i + 1 >= s.len) {
            *o++ = '\\';
            continue;
        }
        c = s.p[++i];
        switch (c) {
        case 'x':
            if (i + 2 < s.len + 0 && tide_hex_value(s.p[i + 1]) >= 0 && tide_hex_value(s.p[i + 2]) >= 0) {
                *o++ = (char)(tide_hex_value(s.p[i + 1]) << 4 | tide_hex_value(s.p[i + 2]));
                i += 2;
            } else {
                *o++ = '\\';
                *o++ = 'x';
            }
            break;
        case 'u':
            if (i + 4 < s.len && tide_hex_value(s.p[i + 1]) >= 0 && tide_hex_value(s.p[i + 2]) >= 0 &&
                tide_hex_value(s.p[i + 3]) >= 0 && tide_hex_value(s.p[i + 4]) >= 0) {
                unsigned cp = (unsigned)(tide_hex_value(s.p[i + 1]) << 12 | tide_hex_value(s.p[i + 2]) << 8 |
                                         tide_hex_value(s.p[i + 3]) << 4 | tide_hex_value(s.p[i + 4]));
                i += 4;
                o = tide_utf8_put(o, cp);
            } else {
                *o++ = '\\';
                *o++ = 'u';
            }
            break;
        case 'n': *o++ = '\n'; break;
        case 't': *o++ = '\t'; break;
        case 'r': *o++ = '\r'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        default:
            *o++ = '\\';
            *o++ = c;
        }
    }
    return tide_str_make(base, (size_t)(o - base));
}

int tide__log_add_header(struct tide_logfmt *f, struct tide_record *r, struct tide_str name,
                         struct tide_str value)
{
    if (r->n_headers >= TIDE__LOG_MAX_HEADERS)
        return TIDE_E_LIMIT;
    f->hdrs[r->n_headers].name = name;
    f->hdrs[r->n_headers].value = value;
    r->headers = f->hdrs;
    r->n_headers++;
    return 0;
}

int tide__log_split_uri(struct tide_str uri, struct tide_record *r)
{
    const char *q;
    /* absolute form: scheme://host[:port]/path */
    if (uri.len > 8 && (strncasecmp(uri.p, "http://", 7) == 0 || strncasecmp(uri.p, "https://", 8) == 0)) {
        size_t sl = uri.p[4] == ':' ? 4 : 5, hs = sl + 3, he = hs;
        r->scheme = tide_str_make(uri.p, sl);
        while (he < uri.len && uri.p[he] != '/' && uri.p[he] != '?')
            he++;
        r->host = tide_str_make(uri.p + hs, he - hs);
        uri = tide_str_make(uri.p + he, uri.len - he);
        if (uri.len == 0)
            uri = tide_str_make("/", 1);
    }
    q = uri.len ? memchr(uri.p, '?', uri.len) : NULL;
    if (q) {
        r->path = tide_str_make(uri.p, (size_t)(q - uri.p));
        r->query = tide_str_make(q + 1, uri.len - (size_t)(q - uri.p) - 1);
    } else {
        r->path = uri;
    }
    return 0;
}

int tide__log_request_line(struct tide_str req, struct tide_record *r, const char **reason)
{
    const char *sp1, *sp2;
    size_t rest;
    if (req.len == 0 || (req.len == 1 && req.p[0] == '-') ||
        (req.len >= 5 && memcmp(req.p, "- - -", 5) == 0)) {
        *reason = "no request line (the client sent none)";
        return 0;
    }
    sp1 = memchr(req.p, ' ', req.len);
    if (!sp1) {
        *reason = "request line has no URI";
        return TIDE_E_FORMAT;
    }
    r->method = tide_str_make(req.p, (size_t)(sp1 - req.p));
    for (size_t i = 0; i < r->method.len; i++)
        if (!isupper((unsigned char)r->method.p[i]) && r->method.p[i] != '-' && r->method.p[i] != '_') {
            *reason = "request line has an invalid method";
            return TIDE_E_FORMAT;
        }
    rest = req.len - r->method.len - 1;
    sp2 = rest ? memrchr(sp1 + 1, ' ', rest) : NULL;
    if (!sp2 || (size_t)(req.p + req.len - sp2 - 1) < 5 || memcmp(sp2 + 1, "HTTP/", 5) != 0) {
        *reason = "request line has no HTTP version";
        return TIDE_E_FORMAT;
    }
    r->version = tide_str_make(sp2 + 1, (size_t)(req.p + req.len - sp2 - 1));
    tide__log_split_uri(tide_str_make(sp1 + 1, (size_t)(sp2 - sp1 - 1)), r);
    if (r->path.len == 0) {
        *reason = "request line has no URI";
        return TIDE_E_FORMAT;
    }
    return 1;
}

/* Space-separated tokens; "quoted tokens" may hold spaces and \" escapes,
 * and with brackets, so may [bracketed] ones (S3's [time +zone]). */
int tide__log_tokens(const char *line, size_t len, struct tide_str *tok, int max, bool brackets)
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
        } else if (brackets && line[i] == '[' && memchr(line + i, ']', len - i)) {
            st = i;
            i = (size_t)((const char *)memchr(line + i, ']', len - i) - line) + 1;
            tok[n++] = tide_str_make(line + st, i - st);
        } else {
            st = i;
            while (i < len && line[i] != ' ')
                i++;
            tok[n++] = tide_str_make(line + st, i - st);
        }
    }
    return n;
}


/* A host name, optionally with :port (a virtual host before the client). */
static bool is_host(struct tide_str v)
{
    size_t i = 0;
    while (i < v.len && (isalnum((unsigned char)v.p[i]) || v.p[i] == '.' || v.p[i] == '-' || v.p[i] == '_'))
        i++;
    if (i == 0)
        return false;
    if (i < v.len && v.p[i] == ':') {
        size_t d = ++i;
        while (i < v.len && isdigit((unsigned char)v.p[i]))
            i++;
        if (i == d)
            return false;
    }
    return i == v.len;
}


int tide__log_set_field(struct tide_logfmt *f, struct tide_record *r, enum tide__ftype t,
                        const char *name, struct tide_str v, struct tide_arena *a,
                        int64_t *end_ns, int64_t *start_ns, int64_t *dur_ns,
                        const char **reason)
{
    int64_t x;
    int rc;
    switch (t) {
    case F_IGNORE:
    case F_BYTES_ALL: /* resolved at compile time; not read if left */
        return 1;
    case F_CLIENT: {
        const char *comma;
        if (tide__log_dash(v))
            return 1;
        if (v.p[0] == '"') {
            /* "xff list" addr: a quoted X-Forwarded-For before the peer address */
            const char *q = memchr(v.p + 1, '"', v.len - 1);
            if (q) {
                struct tide_str rest = tide_str_make(q + 1, v.len - (size_t)(q + 1 - v.p));
                while (rest.len && rest.p[0] == ' ')
                    rest = tide_str_make(rest.p + 1, rest.len - 1);
                tide__log_add_header(f, r, tide_str_c("X-Forwarded-For"),
                                     tide_str_make(v.p + 1, (size_t)(q - v.p - 1)));
                if (rest.len) {
                    r->client = rest;
                    return 1;
                }
                v = tide_str_make(v.p + 1, (size_t)(q - v.p - 1));
            }
        }
        /* an address has no spaces; a list has them only after its commas.
         * One more space before an address: "list addr" is an X-Forwarded-For
         * list before the peer address ($http_x_forwarded_for $remote_addr),
         * "host addr" a virtual host before the client (a vhost-prefixed line
         * among plain ones). Anything else with a space is not an address (a
         * syslog header before the line would pass for one). */
        {
            size_t sp = 0, at = 0;
            for (size_t i = 0; i < v.len; i++)
                if (v.p[i] == ' ' && (i == 0 || (v.p[i - 1] != ',' && v.p[i - 1] != ' ')))
                    sp++, at = i;
            if (sp == 1 && tide_is_ip(v.p + at + 1, v.len - at - 1)) {
                if (memchr(v.p, ',', at)) {
                    v = tide_str_make(v.p, at); /* the list: its first hop is the client */
                } else if (!is_host(tide_str_make(v.p, at))) {
                    *reason = "client address holds a space";
                    return TIDE_E_FORMAT;
                } else {
                    if (r->host.len == 0)
                        r->host = tide_str_make(v.p, at);
                    v = tide_str_make(v.p + at + 1, v.len - at - 1);
                }
            } else if (sp) {
                *reason = "client address holds a space";
                return TIDE_E_FORMAT;
            }
        }
        comma = memchr(v.p, ',', v.len);
        if (comma) {
            /* an X-Forwarded-For list in the client field: first hop is the client */
            tide__log_add_header(f, r, tide_str_c("X-Forwarded-For"), v);
            v = tide_str_make(v.p, (size_t)(comma - v.p));
        }
        r->client = v;
        return 1;
    }
    case F_TIME_LOCAL:
    case F_TIME_LOCAL_START:
        if (tide__log_time_local(v, &x)) {
            *reason = "bad time (expected dd/Mon/yyyy:hh:mm:ss +zzzz)";
            return TIDE_E_FORMAT;
        }
        if (!memchr(v.p, ' ', v.len))
            x -= f->tz_ns; /* no zone written: --tz says which */
        *(t == F_TIME_LOCAL_START ? start_ns : end_ns) = x;
        return 1;
    case F_TIME_ISO:
    case F_TIME_START_ISO:
        if (tide_time_parse_rfc3339(v.p, v.len, &x)) {
            if (t == F_TIME_START_ISO && tide__log_dash(v))
                return 1;
            *reason = "bad time (expected ISO 8601)";
            return TIDE_E_FORMAT;
        }
        if (t == F_TIME_START_ISO)
            *start_ns = x;
        else
            *end_ns = x;
        return 1;
    case F_TIME_MSEC: /* seconds with a fraction, nginx's $msec */
    case F_EPOCH_S_START:
    case F_EPOCH_MS:
    case F_EPOCH_MS_START:
    case F_EPOCH_US:
    case F_EPOCH_US_START:
        if (tide__log_decimal_ns(v, t == F_EPOCH_MS || t == F_EPOCH_MS_START ? 1000000
                                    : t == F_EPOCH_US || t == F_EPOCH_US_START ? 1000
                                                                               : TIDE_NS_PER_SEC,
                                 &x)) {
            *reason = "bad epoch time";
            return TIDE_E_FORMAT;
        }
        *(t == F_EPOCH_S_START || t == F_EPOCH_MS_START || t == F_EPOCH_US_START ? start_ns : end_ns) = x;
        return 1;
    case F_STRF_START:
    case F_STRF_END:
        if (tide__strf_read(name, v, &f->strf)) {
            *reason = "bad time (not as the LogFormat's %{...}t pattern)";
            return TIDE_E_FORMAT;
        }
        f->strf.end |= t == F_STRF_END;
        return 1;
    case F_FRAC_MS:
    case F_FRAC_US: {
        size_t i;
        int64_t x2 = 0;
        if (v.len != (t == F_FRAC_MS ? 3u : 6u)) {
            *reason = "bad time fraction";
            return TIDE_E_FORMAT;
        }
        for (i = 0; i < v.len; i++) {
            if (!isdigit((unsigned char)v.p[i])) {
                *reason = "bad time fraction";
                return TIDE_E_FORMAT;
            }
            x2 = x2 * 10 + (v.p[i] - '0');
        }
        f->strf.frac_ns = x2 * (t == F_FRAC_MS ? 1000000 : 1000);
        return 1;
    }
    case F_REQUEST:
        return tide__log_request_line(tide__log_unescape(v, a), r, reason);
    case F_METHOD:
        if (!tide__log_dash(v))
            r->method = v;
        return 1;
    case F_REQUEST_URI:
        if (!tide__log_dash(v))
            tide__log_split_uri(tide__log_unescape(v, a), r);
        return 1;
    case F_BODY:
        if (!tide__log_dash(v) && v.len) {
            r->body = tide__log_unescape(v, a);
            r->flags |= TIDE_REC_HAS_BODY;
        }
        return 1;
    case F_PATH:
        if (!tide__log_dash(v) && r->path.len == 0)
            r->path = tide__log_unescape(v, a);
        return 1;
    case F_QUERY:
        if (!tide__log_dash(v) && r->query.len == 0) {
            v = tide__log_unescape(v, a);
            if (v.len && v.p[0] == '?')
                v = tide_str_make(v.p + 1, v.len - 1);
            r->query = v;
        }
        return 1;
    case F_PROTOCOL:
        if (!tide__log_dash(v))
            r->version = v;
        return 1;
    case F_SCHEME:
        if (!tide__log_dash(v))
            r->scheme = v;
        return 1;
    case F_HOST:
        if (!tide__log_dash(v) && r->host.len == 0)
            r->host = v;
        return 1;
    case F_VHOST:
        if (tide__log_dash(v))
            return 1;
        if (!is_host(v)) {
            *reason = "virtual host is not a host name";
            return TIDE_E_FORMAT;
        }
        if (r->host.len == 0)
            r->host = v;
        return 1;
    case F_PORT:
        for (size_t i = 0; i < v.len; i++)
            if (!isdigit((unsigned char)v.p[i]) && !tide__log_dash(v)) {
                *reason = "port is not a number";
                return TIDE_E_FORMAT;
            }
        return 1;
    case F_VHOST_PORT: {
        const char *c = memchr(v.p, ':', v.len);
        if (!tide__log_dash(v) && !is_host(v)) {
            *reason = "virtual host is not a host name (or host:port)";
            return TIDE_E_FORMAT;
        }
        if (!tide__log_dash(v) && r->host.len == 0)
            r->host = c ? tide_str_make(v.p, (size_t)(c - v.p)) : v;
        return 1;
    }
    case F_STATUS: {
        unsigned st;
        if (tide__log_dash(v))
            return 1;
        if (num(v.p, v.len, &st) || st > 999) {
            *reason = "status is not a number";
            return TIDE_E_FORMAT;
        }
        r->status = (int32_t)st;
        return 1;
    }
    case F_BYTES:
        if (tide__log_dash(v)) {
            r->resp_bytes = v.len ? 0 : -1;
            return 1;
        }
        if (tide_parse_i64(v.p, v.len, &x) || x < 0) {
            *reason = "byte count is not a number";
            return TIDE_E_FORMAT;
        }
        r->resp_bytes = x;
        return 1;
    case F_DUR_S:
    case F_DUR_MS:
    case F_DUR_US:
        if (tide__log_dash(v))
            return 1;
        {
            /* upstream times may be lists ("0.1, 0.2"): the request time is the last */
            const char *c = memrchr(v.p, ' ', v.len);
            if (c)
                v = tide_str_make(c + 1, v.len - (size_t)(c + 1 - v.p));
        }
        rc = tide__log_decimal_ns(v, t == F_DUR_S ? TIDE_NS_PER_SEC : t == F_DUR_MS ? 1000000 : 1000,
                                  &x);
        if (rc) {
            *reason = "request time is not a number";
            return TIDE_E_FORMAT;
        }
        *dur_ns = x;
        return 1;
    case F_HEADER:
        if (tide__log_dash(v))
            return 1;
        if (tide__log_add_header(f, r, tide_str_c(name), tide__log_unescape(v, a))) {
            *reason = "too many header fields";
            return TIDE_E_FORMAT;
        }
        return 1;
    case F_COOKIE: {
        /* several $cookie_x fields become one Cookie header: "a=1; b=2" */
        uint32_t i;
        struct tide_str prev = tide_str_make(NULL, 0);
        size_t nl = strlen(name);
        char *p;
        if (tide__log_dash(v))
            return 1;
        v = tide__log_unescape(v, a);
        for (i = 0; i < r->n_headers; i++)
            if (tide_str_is_eq_c(r->headers[i].name, "Cookie"))
                prev = r->headers[i].value;
        p = tide_arena_alloc(a, prev.len + 2 + nl + 1 + v.len);
        if (!p)
            return TIDE_E_NOMEM;
        {
            size_t o = 0;
            if (prev.len) {
                memcpy(p, prev.p, prev.len);
                o = prev.len;
                memcpy(p + o, "; ", 2);
                o += 2;
            }
            memcpy(p + o, name, nl);
            o += nl;
            p[o++] = '=';
            memcpy(p + o, v.p, v.len);
            o += v.len;
            if (prev.len) {
                for (i = 0; i < r->n_headers; i++)
                    if (tide_str_is_eq_c(r->headers[i].name, "Cookie"))
                        f->hdrs[i].value = tide_str_make(p, o);
            } else if (tide__log_add_header(f, r, tide_str_c("Cookie"), tide_str_make(p, o))) {
                *reason = "too many header fields";
                return TIDE_E_FORMAT;
            }
        }
        return 1;
    }
    }
    return 1;
}

/* ---- compiling nginx and Apache format strings --------------------------------- */

struct var {
    const char *name;
    enum tide__ftype t;
};

static const struct var NGINX_VARS[] = {
    {"remote_addr", F_CLIENT},       {"remote_user", F_IGNORE},
    {"time_local", F_TIME_LOCAL},    {"time_iso8601", F_TIME_ISO},
    {"msec", F_TIME_MSEC},           {"request", F_REQUEST},
    {"request_method", F_METHOD},    {"request_uri", F_REQUEST_URI},
    {"uri", F_PATH},                 {"document_uri", F_PATH},
    {"args", F_QUERY},               {"query_string", F_QUERY},
    {"server_protocol", F_PROTOCOL}, {"scheme", F_SCHEME},
    {"host", F_HOST},                {"http_host", F_HOST},
    {"server_name", F_HOST},         {"status", F_STATUS},
    {"body_bytes_sent", F_BYTES},    {"bytes_sent", F_BYTES_ALL},
    {"request_length", F_IGNORE},    {"request_time", F_DUR_S},
    {"upstream_response_time", F_IGNORE}, {"connection", F_IGNORE},
    {"pipe", F_IGNORE},              {"request_body", F_BODY},
};

/* A literal part of a format. */
#define LIT(p, n) ((struct tide__item){.lit = true, .s = (p), .len = (n), .t = F_IGNORE})

static int add_item(struct tide_logfmt *f, struct tide__item it, struct tide_err *err)
{
    if (f->n_items >= TIDE__LOG_MAX_ITEMS)
        return tide_err_set(err, TIDE_E_USAGE, "", "log format has more than %d parts",
                            TIDE__LOG_MAX_ITEMS);
    /* merge adjacent literals */
    if (it.lit && f->n_items && f->items[f->n_items - 1].lit &&
        f->items[f->n_items - 1].s + f->items[f->n_items - 1].len == it.s) {
        f->items[f->n_items - 1].len += it.len;
        return 0;
    }
    f->items[f->n_items++] = it;
    return 0;
}

/* "user_agent" -> "User-Agent" */
static void header_name(const char *in, size_t n, char *out, size_t cap)
{
    size_t i;
    bool up = true;
    for (i = 0; i < n && i + 1 < cap; i++) {
        char c = in[i] == '_' ? '-' : in[i];
        out[i] = up ? (char)toupper((unsigned char)c) : (char)tolower((unsigned char)c);
        up = c == '-';
    }
    out[i] = 0;
}

static int compile_nginx(struct tide_logfmt *f, char *s, struct tide_err *err)
{
    size_t i = 0, n = strlen(s), lit_start = 0;
    int rc = 0;
    while (i < n && !rc) {
        size_t st, vn;
        struct tide__item it;
        bool braced;
        if (s[i] != '$') {
            i++;
            continue;
        }
        if (i > lit_start)
            rc = add_item(f, LIT(s + lit_start, i - lit_start), err);
        braced = i + 1 < n && s[i + 1] == '{';
        st = i + 1 + braced;
        vn = 0;
        while (st + vn < n && (isalnum((unsigned char)s[st + vn]) || s[st + vn] == '_'))
            vn++;
        if (vn == 0 || (braced && (st + vn >= n || s[st + vn] != '}')))
            return tide_err_set(err, TIDE_E_USAGE, "", "log format: bad variable at character %zu",
                                i + 1);
        memset(&it, 0, sizeof(it));
        it.t = F_IGNORE;
        if (vn > 5 && strncmp(s + st, "http_", 5) == 0) {
            it.t = F_HEADER;
            header_name(s + st + 5, vn - 5, it.name, sizeof(it.name));
            if (strcasecmp(it.name, "Host") == 0)
                it.t = F_HOST;
        } else if (vn > 7 && strncmp(s + st, "cookie_", 7) == 0) {
            it.t = F_COOKIE;
            snprintf(it.name, sizeof(it.name), "%.*s", (int)(vn - 7), s + st + 7);
        } else {
            size_t k;
            bool known = false;
            for (k = 0; k < sizeof(NGINX_VARS) / sizeof(NGINX_VARS[0]); k++)
                if (strlen(NGINX_VARS[k].name) == vn && strncmp(NGINX_VARS[k].name, s + st, vn) == 0) {
                    it.t = NGINX_VARS[k].t;
                    known = true;
                }
            (void)known; /* unknown variables ($sent_http_*, $upstream_*) are matched and ignored */
        }
        rc = add_item(f, it, err);
        i = st + vn + braced;
        lit_start = i;
    }
    if (!rc && n > lit_start)
        rc = add_item(f, LIT(s + lit_start, n - lit_start), err);
    return rc;
}

static int compile_apache(struct tide_logfmt *f, char *s, struct tide_err *err)
{
    size_t i = 0, n = strlen(s), lit_start = 0;
    int rc = 0;
    while (i < n && !rc) {
        struct tide__item it;
        const char *arg = NULL;
        size_t argn = 0, st;
        char d;
        bool bracketed = false;
        if (s[i] != '%') {
            i++;
            continue;
        }
        if (i + 1 < n && s[i + 1] == '%') { /* literal percent */
            if (i + 1 > lit_start)
                rc = add_item(f, LIT(s + lit_start, i + 1 - lit_start), err);
            i += 2;
            lit_start = i;
            continue;
        }
        if (i > lit_start)
            rc = add_item(f, LIT(s + lit_start, i - lit_start), err);
        st = i + 1;
        while (st < n && (s[st] == '>' || s[st] == '<' || s[st] == '!' || s[st] == ',' ||
                          isdigit((unsigned char)s[st])))
            st++; /* modifiers: %>s, %<s, %!200,304i ... */
        if (st < n && s[st] == '{') {
            const char *close = strchr(s + st, '}');
            if (!close)
                return tide_err_set(err, TIDE_E_USAGE, "", "LogFormat: unclosed { at character %zu", st + 1);
            arg = s + st + 1;
            argn = (size_t)(close - arg);
            st = (size_t)(close - s) + 1;
        }
        if (st >= n)
            return tide_err_set(err, TIDE_E_USAGE, "", "LogFormat: %% at the end");
        d = s[st];
        memset(&it, 0, sizeof(it));
        switch (d) {
        case 'h': case 'a': it.t = F_CLIENT; break;
        case 'l': case 'u': it.t = F_IGNORE; break;
        case 't': {
            /* when the request was received (begin:, the default) or the line written (end:) */
            bool end = false;
            if (arg && argn >= 6 && strncmp(arg, "begin:", 6) == 0) {
                arg += 6;
                argn -= 6;
            } else if (arg && argn >= 4 && strncmp(arg, "end:", 4) == 0) {
                end = true;
                arg += 4;
                argn -= 4;
            }
            if (!arg || argn == 0) {
                /* Apache writes it in brackets, [10/Oct/2000:13:55:36 -0700]:
                 * they are the field's bounds, as the time holds a space
                 * (first in a format, "%t %h", it ended there) */
                it.t = end ? F_TIME_LOCAL : F_TIME_LOCAL_START;
                bracketed = true;
            }
            else if (argn == 3 && strncmp(arg, "sec", 3) == 0)
                it.t = end ? F_TIME_MSEC : F_EPOCH_S_START;
            else if (argn == 4 && strncmp(arg, "msec", 4) == 0)
                it.t = end ? F_EPOCH_MS : F_EPOCH_MS_START;
            else if (argn == 4 && strncmp(arg, "usec", 4) == 0)
                it.t = end ? F_EPOCH_US : F_EPOCH_US_START;
            else if (argn == 9 && strncmp(arg, "msec_frac", 9) == 0)
                it.t = F_FRAC_MS;
            else if (argn == 9 && strncmp(arg, "usec_frac", 9) == 0)
                it.t = F_FRAC_US;
            else if (argn < sizeof(it.name) && memchr(arg, '%', argn)) {
                char bad = 0;
                snprintf(it.name, sizeof(it.name), "%.*s", (int)argn, arg);
                if (tide__strf_check(it.name, &bad))
                    return tide_err_set(err, TIDE_E_USAGE, "", "LogFormat: %%{...}t: strftime %%%c is not read back "
                                                               "(%%Y %%y %%m %%d %%e %%H %%I %%p %%M %%S %%T %%F %%D %%R "
                                                               "%%b %%h %%B %%a %%A %%z %%Z %%s %%%% are)",
                                        bad ? bad : '?');
                it.t = end ? F_STRF_END : F_STRF_START;
                f->has_strf = true;
            } else
                return tide_err_set(err, TIDE_E_USAGE, "", "LogFormat: %%{...}t form not supported (use %%t, "
                                                           "%%{sec}t, %%{msec}t, %%{usec}t, a strftime pattern, "
                                                           "with begin: or end:)");
            break;
        }
        case 'r': it.t = F_REQUEST; break;
        case 's': it.t = F_STATUS; break;
        case 'b': case 'B': it.t = F_BYTES; break;
        case 'O': it.t = F_BYTES_ALL; break;
        case 'I': case 'S': it.t = F_IGNORE; break;
        case 'D': it.t = F_DUR_US; break;
        case 'T': it.t = arg && argn == 2 && strncmp(arg, "ms", 2) == 0 ? F_DUR_MS
                       : arg && argn == 2 && strncmp(arg, "us", 2) == 0 ? F_DUR_US : F_DUR_S; break;
        case 'v': case 'V': it.t = F_VHOST; break;
        case 'p': it.t = F_PORT; break;
        case 'H': it.t = F_PROTOCOL; break;
        case 'm': it.t = F_METHOD; break;
        case 'U': it.t = F_PATH; break;
        case 'q': it.t = F_QUERY; break;
        case 'P': case 'k': case 'X': case 'L': case 'f': case 'R': case 'x': it.t = F_IGNORE; break;
        case 'i':
            if (!arg)
                return tide_err_set(err, TIDE_E_USAGE, "", "LogFormat: %%i needs a header name");
            if (argn == 4 && strncasecmp(arg, "host", 4) == 0) {
                it.t = F_HOST;
            } else {
                it.t = F_HEADER;
                snprintf(it.name, sizeof(it.name), "%.*s", (int)argn, arg);
            }
            break;
        case 'C':
            if (!arg)
                return tide_err_set(err, TIDE_E_USAGE, "", "LogFormat: %%C needs a cookie name");
            it.t = F_COOKIE;
            snprintf(it.name, sizeof(it.name), "%.*s", (int)argn, arg);
            break;
        case 'o': case 'n': case 'e': case '^': it.t = F_IGNORE; break;
        default:
            return tide_err_set(err, TIDE_E_USAGE, "", "LogFormat: unknown directive %%%c", d);
        }
        if (bracketed && !rc)
            rc = add_item(f, LIT("[", 1), err);
        if (!rc)
            rc = add_item(f, it, err);
        if (bracketed && !rc)
            rc = add_item(f, LIT("]", 1), err);
        i = st + 1;
        lit_start = i;
    }
    if (!rc && n > lit_start)
        rc = add_item(f, LIT(s + lit_start, n - lit_start), err);
    return rc;
}

/* The runs of spaces a field's value always holds: a time is written with
 * one before its zone ($time_local, %t: "10/Oct/2000:13:55:36 -0700"), a
 * strftime pattern with those it has ("%d/%b/%Y %T"; %e pads with one more,
 * in the same run). Its end is looked for past them: first in a format
 * ("$time_local $remote_addr"), the first space would end it. */
static uint8_t value_spaces(const struct tide__item *it)
{
    const char *c;
    uint8_t n = 0;
    if (it->t == F_TIME_LOCAL || it->t == F_TIME_LOCAL_START)
        return 1;
    if (it->t != F_STRF_START && it->t != F_STRF_END)
        return 0;
    for (c = it->name; *c; c++)
        if (*c == ' ' && (c == it->name || c[-1] != ' '))
            n++;
    return n;
}

/* p past n runs of spaces (end if there are fewer). */
static const char *past_spaces(const char *p, const char *end, unsigned n)
{
    while (n--) {
        const char *sp = memchr(p, ' ', (size_t)(end - p));
        if (!sp)
            return end;
        p = sp;
        while (p < end && *p == ' ')
            p++;
    }
    return p;
}

/* The Kubernetes ingress-nginx controller's default log-format-upstream:
 * combined, then request length and time, the upstream's name, address,
 * response length, time and status, and the request id. */
#define INGRESS_NGINX                                                                              \
    "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "            \
    "\"$http_referer\" \"$http_user_agent\" $request_length $request_time [$proxy_upstream_name] " \
    "[$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length "               \
    "$upstream_response_time $upstream_status $req_id"

/* The formats read by a parser of their own, without a format string. */
static int reader_kind(const char *spec)
{
    static const struct {
        const char *name;
        enum tide__fmtkind kind;
    } READERS[] = {{"alb", FMT_ALB}, {"cloudfront", FMT_CLOUDFRONT}, {"w3c", FMT_W3C},
                   {"s3", FMT_S3},   {"haproxy", FMT_HAPROXY},       {"envoy", FMT_ENVOY}};
    size_t k;
    for (k = 0; k < sizeof(READERS) / sizeof(READERS[0]); k++)
        if (strcmp(spec, READERS[k].name) == 0)
            return (int)READERS[k].kind;
    return -1;
}

int tide_logfmt_compile(struct tide_logfmt **out, const char *spec, const char *map,
                        struct tide_err *err)
{
    struct tide_logfmt *f;
    const char *body = NULL, *full = spec;
    int rc = 0, kind;
    bool apache = false;
    *out = NULL;
    f = calloc(1, sizeof(*f));
    if (!f)
        return tide_err_set(err, TIDE_E_NOMEM, "", "out of memory");
    snprintf(f->name, sizeof(f->name), "%s", full);
    tide_buf_init(&f->piece, 0);
    f->wrap = tide__wrap_kind(full, &spec); /* docker+, cri+, syslog+: lines inside lines */
    if (strcmp(spec, "combined") == 0)
        body = "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
               "\"$http_referer\" \"$http_user_agent\"";
    else if (strcmp(spec, "common") == 0)
        body = "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent";
    else if (strcmp(spec, "ingress_nginx") == 0)
        body = INGRESS_NGINX;
    else if (strcmp(spec, "vhost_combined") == 0) {
        body = "%v:%p %h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"";
        apache = true;
    } else if (strcmp(spec, "traefik") == 0) {
        /* Traefik's default (CLF) access log: combined, then the request count,
         * router and server, and the duration with its unit; the date is the start */
        body = "%h - %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\" %k \"%{router}x\" \"%{server}x\" %{ms}Tms";
        apache = true;
    } else if (strcmp(spec, "ssl_request") == 0) {
        /* mod_ssl's request log, in Red Hat's and Fedora's ssl.conf:
         * CustomLog logs/ssl_request_log (no status, no duration) */
        body = TIDE_SSL_REQUEST_FORMAT;
        apache = true;
    } else if (strcmp(spec, "vhost_common") == 0) {
        /* the combined tail is optional, so vhost-prefixed common and combined lines both read */
        body = "%v %h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"";
        apache = true;
    } else if (strncmp(spec, "nginx:", 6) == 0)
        body = spec + 6;
    else if (strncmp(spec, "apache:", 7) == 0) {
        body = spec + 7;
        apache = true;
    } else if (strcmp(spec, "json") == 0) {
        f->kind = FMT_JSON;
        rc = tide__json_compile(f, map, err);
    } else if (strcmp(spec, "kv") == 0) {
        f->kind = FMT_KV;
        rc = tide__json_compile(f, map, err);
    } else if (strcmp(spec, "heroku") == 0) {
        /* Heroku's router: key=value, its time in the syslog header before it
         * (`heroku logs`, log drains: syslog+heroku); protocol is the scheme,
         * service the time the app took, fwd the X-Forwarded-For list */
        f->kind = FMT_KV;
        f->heroku = true;
        rc = map ? tide_err_set(err, TIDE_E_USAGE, "", "--map: heroku's fields are fixed (use kv for a map)")
                 : tide__json_compile(f, "client=fwd,scheme=protocol,resp_bytes=bytes,duration_ms=service,"
                                         "host=host,path=path,method=method,status=status", err);
    } else if ((kind = reader_kind(spec)) >= 0) {
        f->kind = (enum tide__fmtkind)kind;
    } else if (strncmp(spec, "haproxy:", 8) == 0) {
        f->kind = FMT_HAPROXY;
        rc = tide__haproxy_compile(f, spec + 8, err);
    } else {
        rc = tide_err_set(err, TIDE_E_USAGE, "",
                          "unknown log format '%.60s' (combined, common, vhost_combined, "
                          "vhost_common, ingress_nginx, traefik, ssl_request, nginx:'...', apache:'...', json, kv, heroku, alb, "
                          "cloudfront, w3c, s3, haproxy[:HEADER,...], envoy; any of them after docker+, cri+, "
                          "syslog+ or journal+)", spec);
    }
    if (!rc && map && *map && f->kind != FMT_JSON && f->kind != FMT_KV)
        rc = tide_err_set(err, TIDE_E_USAGE, "", "--map is for the json and kv formats, not '%.60s'", full);
    if (!rc && body) {
        size_t bl = strlen(body);
        /* strip one level of quotes copied from a config file: 'fmt' */
        if (bl >= 2 && body[0] == '\'' && body[bl - 1] == '\'') {
            body++;
            bl -= 2;
        }
        f->spec_copy = strndup(body, bl);
        if (!f->spec_copy)
            rc = tide_err_set(err, TIDE_E_NOMEM, "", "out of memory");
        else
            rc = apache ? compile_apache(f, f->spec_copy, err) : compile_nginx(f, f->spec_copy, err);
        if (!rc) {
            int k, fields = 0;
            for (k = 0; k < f->n_items; k++)
                if (!f->items[k].lit) {
                    f->items[k].spaces = value_spaces(&f->items[k]);
                    fields++;
                    if (k > 0 && !f->items[k - 1].lit)
                        rc = tide_err_set(err, TIDE_E_USAGE, "",
                                          "log format: two fields with nothing between them "
                                          "(part %d) cannot be told apart", k + 1);
                }
            if (!rc && fields == 0)
                rc = tide_err_set(err, TIDE_E_USAGE, "", "log format has no fields");
            if (!rc) {
                /* bytes sent with headers stand for the response's size only
                 * when the format writes no body size */
                bool body_size = false;
                for (k = 0; k < f->n_items; k++)
                    body_size |= !f->items[k].lit && f->items[k].t == F_BYTES;
                for (k = 0; k < f->n_items; k++)
                    if (!f->items[k].lit && f->items[k].t == F_BYTES_ALL)
                        f->items[k].t = body_size ? F_IGNORE : F_BYTES;
            }
        }
    }
    if (rc) {
        tide_logfmt_free(f);
        return rc;
    }
    *out = f;
    return 0;
}

void tide_logfmt_free(struct tide_logfmt *f)
{
    if (!f)
        return;
    tide_buf_free(&f->piece);
    free(f->spec_copy);
    free(f);
}

const char *tide_logfmt_name(const struct tide_logfmt *f) { return f->name; }

void tide_logfmt_set_tz(struct tide_logfmt *f, int64_t offset_ns) { f->tz_ns = offset_ns; }

void tide_logfmt_set_year(struct tide_logfmt *f, int year, int64_t ref_ns)
{
    f->year_cur = year > 0 ? year : 0;
    f->year_last_month = 0;
    f->year_ref_ns = ref_ns;
}

int tide_tz_parse(const char *s, int64_t *offset_ns)
{
    size_t n = strlen(s);
    unsigned h = 0, m = 0;
    int sign;
    if (strcmp(s, "Z") == 0 || strcmp(s, "UTC") == 0) {
        *offset_ns = 0;
        return 0;
    }
    if (n < 3 || (s[0] != '+' && s[0] != '-'))
        return TIDE_E_FORMAT;
    sign = s[0] == '-' ? -1 : 1;
    if (num(s + 1, 2, &h))
        return TIDE_E_FORMAT;
    if (n == 6 && s[3] == ':' ? num(s + 4, 2, &m) : n == 5 ? num(s + 3, 2, &m) : n != 3)
        return TIDE_E_FORMAT;
    if (h > 14 || m > 59)
        return TIDE_E_FORMAT;
    *offset_ns = sign * (int64_t)(h * 3600 + m * 60) * TIDE_NS_PER_SEC;
    return 0;
}

/* ---- matching ------------------------------------------------------------------- */

/* End of a quoted field starting at p: the first '"' not escaped by '\'. */
static const char *quoted_end(const char *p, const char *end)
{
    while (p < end) {
        if (*p == '\\' && p + 1 < end) {
            p += 2;
            continue;
        }
        if (*p == '"')
            return p;
        p++;
    }
    return NULL;
}

/* True if every field from item k on may be absent (headers, ignored ones). */
static bool rest_optional(const struct tide_logfmt *f, int k)
{
    for (; k < f->n_items; k++)
        if (!f->items[k].lit && f->items[k].t != F_HEADER && f->items[k].t != F_IGNORE &&
            f->items[k].t != F_COOKIE)
            return false;
    return true;
}

/* The first place in [p, end) where the n bytes of lit start, or NULL. The
 * literals between fields are short (" ", " - ", " [", "\" "): memchr for
 * the first byte beats memmem's setup, per field of every line; at most n
 * compares per byte whatever the line holds. */
static const char *find_lit(const char *p, const char *end, const char *lit, size_t n)
{
    if (n == 0)
        return p;
    while ((size_t)(end - p) >= n) {
        const char *q = memchr(p, lit[0], (size_t)(end - p) - n + 1);
        if (!q)
            return NULL;
        if (n == 1 || memcmp(q + 1, lit + 1, n - 1) == 0)
            return q;
        p = q + 1;
    }
    return NULL;
}

static int parse_tokens(struct tide_logfmt *f, const char *line, size_t len, struct tide_record *r,
                        struct tide_arena *a, const char **reason)
{
    const char *p = line, *end = line + len;
    int64_t end_ns = TIDE_TIME_UNKNOWN, start_ns = TIDE_TIME_UNKNOWN, dur_ns = -1;
    int k, rc, have_req = -1;
    if (f->has_strf)
        memset(&f->strf, 0, sizeof(f->strf));
    for (k = 0; k < f->n_items; k++) {
        const struct tide__item *it = &f->items[k];
        const char *fe;
        if (it->lit) {
            if ((size_t)(end - p) < it->len || memcmp(p, it->s, it->len) != 0) {
                /* a line that ends here (or within this literal: the closing
                 * quote of the field before), where only optional fields
                 * (headers, ignored ones) remain, is whole: a "common" line in a
                 * log whose format is "combined" */
                if ((size_t)(end - p) < it->len && memcmp(p, it->s, (size_t)(end - p)) == 0 && k > 0 &&
                    rest_optional(f, k + 1)) {
                    p = end;
                    break;
                }
                snprintf(f->reason, sizeof(f->reason),
                         "line does not match the format (at part %d of %d)", k + 1, f->n_items);
                *reason = f->reason;
                return TIDE_E_FORMAT;
            }
            p += it->len;
            continue;
        }
        if (k + 1 < f->n_items) {
            const struct tide__item *nx = &f->items[k + 1];
            bool quoted = k > 0 && f->items[k - 1].len && f->items[k - 1].s[f->items[k - 1].len - 1] == '"' &&
                          nx->s[0] == '"';
            if (quoted) {
                fe = quoted_end(p, end);
                /* a quote inside the value not escaped (nginx escapes as \x22): try
                 * later quotes until the rest matches the next literal */
                while (fe && ((size_t)(end - fe) < nx->len || memcmp(fe, nx->s, nx->len) != 0))
                    fe = quoted_end(fe + 1, end);
            } else {
                fe = find_lit(it->spaces ? past_spaces(p, end, it->spaces) : p, end, nx->s, nx->len);
            }
            if (!fe && rest_optional(f, k + 1)) {
                /* the line stops after this field; the rest is optional. A
                 * quoted value still ends at its closing quote, which must not
                 * become part of it */
                fe = quoted ? quoted_end(p, end) : NULL;
                if (!fe)
                    fe = end;
            }
            if (!fe) {
                snprintf(f->reason, sizeof(f->reason),
                         "line does not match the format (at part %d of %d)", k + 1, f->n_items);
                *reason = f->reason;
                return TIDE_E_FORMAT;
            }
        } else if (it->t == F_STATUS || it->t == F_BYTES || it->t == F_DUR_S || it->t == F_DUR_MS ||
                   it->t == F_DUR_US || it->t == F_TIME_MSEC ||
                   (it->t >= F_EPOCH_S_START && it->t <= F_EPOCH_US_START) || it->t == F_FRAC_MS ||
                   it->t == F_FRAC_US) {
            /* a number last in the format ends at a space: fields may follow it */
            fe = memchr(p, ' ', (size_t)(end - p));
            if (!fe)
                fe = end;
        } else {
            fe = end;
        }
        rc = tide__log_set_field(f, r, it->t, it->name, tide_str_make(p, (size_t)(fe - p)), a,
                                 &end_ns, &start_ns, &dur_ns, reason);
        if (rc < 0)
            return rc;
        if (it->t == F_REQUEST)
            have_req = rc;
        p = fe;
    }
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    f->tail = (size_t)(end - p);
    if (have_req == 0)
        return 0; /* "-" request: counted as no request */
    if (f->has_strf && f->strf.date) {
        /* the pieces of an Apache %{...}t time: local time, its zone written or --tz */
        const struct tide__strf *st = &f->strf;
        int64_t x = ((tide_days_from_civil(st->y, (unsigned)st->mo, (unsigned)st->d) * 86400 + st->h * 3600 +
                      st->mi * 60 + st->s - (st->zone ? st->off_s : 0)) *
                     TIDE_NS_PER_SEC) +
                    st->frac_ns - (st->zone ? 0 : f->tz_ns);
        *(st->end ? &end_ns : &start_ns) = x;
    }
    if (end_ns == TIDE_TIME_UNKNOWN && start_ns == TIDE_TIME_UNKNOWN && tide__wrap_time(f, &end_ns) != 0) {
        *reason = "line has no time";
        return TIDE_E_FORMAT;
    }
    if (r->method.len == 0 || r->path.len == 0) {
        *reason = "line has no request method or path";
        return TIDE_E_FORMAT;
    }
    r->duration_ns = dur_ns;
    if (start_ns != TIDE_TIME_UNKNOWN)
        r->ts_ns = start_ns;
    else
        r->ts_ns = end_ns - (dur_ns > 0 ? dur_ns : 0);
    return 1;
}

/* The line, unwrapped, by the format's reader. */
static int parse_inner(struct tide_logfmt *f, const char *line, size_t len, struct tide_record *r,
                       struct tide_arena *scratch, const char **reason)
{
    switch (f->kind) {
    case FMT_TOKENS:
        if (line[0] == '#') {
            *reason = "comment line";
            return 0;
        }
        return parse_tokens(f, line, len, r, scratch, reason);
    case FMT_JSON:
        return tide__json_parse(f, line, len, r, scratch, reason);
    case FMT_KV:
        return tide__kv_parse(f, line, len, r, scratch, reason);
    case FMT_ALB:
        return tide__alb_parse(f, line, len, r, scratch, reason);
    case FMT_CLOUDFRONT:
    case FMT_W3C:
        return tide__w3c_parse(f, line, len, r, scratch, reason);
    case FMT_S3:
        return tide__s3_parse(f, line, len, r, scratch, reason);
    case FMT_HAPROXY:
        return tide__haproxy_parse(f, line, len, r, scratch, reason);
    case FMT_ENVOY:
        return tide__envoy_parse(f, line, len, r, scratch, reason);
    }
    return TIDE_E_INTERNAL;
}

/* The slot of tag among the n tags kept (cut to a slot's size), added if
 * add and there is room (max in all); -1 if it is not there. */
static int tag_slot(char tags[][TIDE__TAG_LEN], int *n, int max, struct tide_str tag, bool add)
{
    int i;
    if (tag.len >= TIDE__TAG_LEN)
        tag.len = TIDE__TAG_LEN - 1;
    for (i = 0; i < *n; i++)
        if (strlen(tags[i]) == tag.len && memcmp(tags[i], tag.p, tag.len) == 0)
            return i;
    if (!add || *n >= max)
        return -1;
    memcpy(tags[*n], tag.p, tag.len);
    tags[*n][tag.len] = 0;
    return (*n)++;
}

/* A syslog file holds every program's lines. A line that is no access-log
 * line, from a program (tag) none of whose lines were, is that program's:
 * counted apart, not as bad. rc: what the line inside gave. */
static int syslog_program(struct tide_logfmt *f, int rc, const char **reason)
{
    if (f->sniffing)
        return rc; /* a guess is judged on every line of the program tried */
    /* a program whose lines are requests (this one, read as one, joins them) */
    if (tag_slot(f->tags, &f->n_tags, (int)(sizeof(f->tags) / sizeof(f->tags[0])), f->wrap_tag, rc == 1) >= 0 ||
        rc == 1)
        return rc;
    if (rc == TIDE_E_FORMAT) {
        *reason = f->wrap == TIDE__WRAP_JOURNAL ? "another program's journal entry" : "another program's syslog line";
        return 0;
    }
    return rc;
}

int tide_logfmt_parse(struct tide_logfmt *f, const char *line, size_t len,
                      struct tide_record *r, struct tide_arena *scratch, const char **reason)
{
    size_t k = 0;
    tide_record_clear(r);
    r->headers = f->hdrs;
    r->n_headers = 0;
    while (k < len && (line[k] == ' ' || line[k] == '\t'))
        k++;
    if (k == len) {
        *reason = "blank line";
        return 0;
    }
    if (f->wrap) {
        struct tide_str in;
        int rc = tide__unwrap(f, line, len, &in, scratch, reason);
        if (rc <= 0)
            return rc;
        line = in.p;
        len = in.len;
        for (k = 0; k < len && (line[k] == ' ' || line[k] == '\t');)
            k++;
        if (k == len) {
            *reason = "blank line";
            return 0;
        }
        if (TIDE__WRAP_TAGGED(f->wrap))
            return syslog_program(f, parse_inner(f, line, len, r, scratch, reason), reason);
    }
    return parse_inner(f, line, len, r, scratch, reason);
}

/* ---- sniffing ------------------------------------------------------------------- */

/* nginx's combined format with the request time after it, the most common
 * addition (alone, or after "$http_x_forwarded_for"): without it a guess of
 * "combined" would read the lines but lose every request's duration, and so
 * its true start. Tried before "combined", which they tie with otherwise. */
#define NGX_COMBINED "nginx:$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent " \
                     "\"$http_referer\" \"$http_user_agent\""
static const char SNIFF_XFF_RT[] = NGX_COMBINED " \"$http_x_forwarded_for\" $request_time";
static const char SNIFF_RT[] = NGX_COMBINED " $request_time";
static const char SNIFF_XFF[] = NGX_COMBINED " \"$http_x_forwarded_for\""; /* nginx's "main" */

bool tide_logfmt_is_ssl_request(const char *spec)
{
    return strcmp(spec, "ssl_request") == 0 ||
           (strncmp(spec, "apache:", 7) == 0 && strcmp(spec + 7, TIDE_SSL_REQUEST_FORMAT) == 0);
}

/* The format most of the lines in buf read with; wrap ("syslog+", ...)
 * before each candidate when the lines are wrapped. */
static int sniff_plain(const char *buf, size_t len, const char *wrap, char *out, size_t cap, int *tailed)
{
    static const char *CANDIDATES[] = {"cloudfront", "w3c", "alb", "s3", "haproxy", "envoy",
                                       "json",       "heroku", "kv", "vhost_combined", "vhost_common", "traefik", "ssl_request",
                                       SNIFF_XFF_RT, SNIFF_RT, "combined", SNIFF_XFF, "ingress_nginx", "common"};
    size_t c;
    int best_ok = 0, best_tailed = 0, best_recs = 0;
    char best[600] = "";
    for (c = 0; c < sizeof(CANDIDATES) / sizeof(CANDIDATES[0]); c++) {
        struct tide_logfmt *f;
        struct tide_arena a;
        struct tide_record r;
        const char *p = buf, *end = buf + len, *reason;
        char spec[600];
        int ok = 0, tried = 0, tail = 0, recs = 0;
        snprintf(spec, sizeof(spec), "%s%s", wrap, CANDIDATES[c]);
        if (tide_logfmt_compile(&f, spec, NULL, NULL))
            continue;
        f->sniffing = true;
        tide_arena_init(&a, 0);
        memset(&r, 0, sizeof(r));
        while (p < end && tried < 50) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t ll;
            int rc;
            if (!nl)
                break; /* a partial last line says nothing */
            ll = (size_t)(nl - p);
            if (ll && p[ll - 1] == '\r')
                ll--;
            tide_arena_reset(&a);
            reason = NULL;
            rc = tide_logfmt_parse(f, p, ll, &r, &a, &reason);
            /* nginx writes $request_time with a fraction ("0.163"); a whole
             * number of seconds there is more likely Apache's %D (microseconds)
             * and must not be read as seconds */
            if (rc == 1 && (CANDIDATES[c] == SNIFF_RT || CANDIDATES[c] == SNIFF_XFF_RT) && r.duration_ns > 0 &&
                r.duration_ns % 1000000000 == 0)
                rc = TIDE_E_FORMAT;
            if (rc == 1 || (rc == 0 && reason && strncmp(reason, "no request", 10) == 0)) {
                tried++;
                ok++;
                recs += rc == 1;
                tail += rc == 1 && f->tail > 0;
            } else if (rc < 0) {
                tried++;
            } /* blank, comment and header lines say nothing */
            p = nl + 1;
        }
        if (tried == 0 && p < end) { /* a single line without newline */
            tide_arena_reset(&a);
            tried = 1;
            ok = recs = tide_logfmt_parse(f, p, (size_t)(end - p), &r, &a, &reason) == 1;
        }
        tide_arena_free(&a);
        tide_logfmt_free(f);
        /* the most lines read, formats that read a request first (a reader
         * that takes odd lines for lines without a request must not win over
         * one that reads them); on a tie, the format that leaves the least
         * unread (so nginx's "main", combined with X-Forwarded-For after it,
         * is told from combined), else the earlier */
        if (tried && ok * 10 >= tried * 6 && (recs > 0) >= best_recs &&
            ((recs > 0) > best_recs || ok > best_ok || (ok == best_ok && tail < best_tailed))) {
            best_recs = recs > 0;
            best_ok = ok;
            best_tailed = tail;
            snprintf(best, sizeof(best), "%s", spec);
        }
    }
    if (!best[0])
        return TIDE_E_NOTFOUND;
    if (strlen(best) >= cap)
        return TIDE_E_LIMIT; /* a cut spec would compile into another format */
    if (tailed)
        *tailed = best_tailed;
    snprintf(out, cap, "%s", best);
    return 0;
}

/* Lines wrapped in another log's lines (docker, cri, syslog): when most of
 * the first lines unwrap, the format of what is inside them, read as the
 * capture will (wrapper and all: a line without a time of its own takes the
 * wrapper's). A syslog file holds every program's lines: each program's
 * (tag's) are tried apart, the one with the most lines whose format is
 * found wins. */
static int sniff_wrapped(const char *buf, size_t len, char *out, size_t cap, int *tailed)
{
    static const char *WRAPS[] = {"docker+common", "journal+common", "cri+common", "syslog+common"};
    enum { MAX_TAGS = 8 };
    size_t w;
    for (w = 0; w < sizeof(WRAPS) / sizeof(WRAPS[0]); w++) {
        struct tide_logfmt *f;
        struct tide_arena a;
        struct tide_buf lines[MAX_TAGS];
        char tags[MAX_TAGS][TIDE__TAG_LEN], wrap[16];
        int n_lines[MAX_TAGS] = {0}, n_tags = 0, t, best = -1, best_tailed = 0;
        char best_spec[600];
        const char *p = buf, *end = buf + len, *reason;
        int ok = 0, tried = 0, rc = TIDE_E_NOTFOUND;
        if (tide_logfmt_compile(&f, WRAPS[w], NULL, NULL))
            continue;
        snprintf(wrap, sizeof(wrap), "%s+", tide__wrap_name(f->wrap));
        tide_arena_init(&a, 0);
        for (t = 0; t < MAX_TAGS; t++)
            tide_buf_init(&lines[t], 0);
        while (p < end && tried < 50) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
            struct tide_str msg;
            int u;
            if (ll && p[ll - 1] == '\r')
                ll--;
            if (ll) {
                tide_arena_reset(&a);
                tried++;
                u = tide__unwrap(f, p, ll, &msg, &a, &reason);
                ok += u >= 0;
                if (u >= 0) {
                    /* the tag's lines (docker and cri have one, empty, tag) */
                    t = tag_slot(tags, &n_tags, MAX_TAGS,
                                 TIDE__WRAP_TAGGED(f->wrap) ? f->wrap_tag : tide_str_make("", 0), true);
                    if (t >= 0) {
                        n_lines[t] += u == 1;
                        if (tide_buf_append(&lines[t], p, ll) || tide_buf_append(&lines[t], "\n", 1))
                            break;
                    }
                }
            }
            if (!nl)
                break;
            p = nl + 1;
        }
        if (tried && ok * 10 >= tried * 6) {
            for (t = 0; t < n_tags; t++) {
                char spec[600];
                int tl = 0;
                if (n_lines[t] && (best < 0 || n_lines[t] > n_lines[best]) &&
                    sniff_plain(lines[t].p, lines[t].len, wrap, spec, sizeof(spec), &tl) == 0) {
                    best = t;
                    best_tailed = tl;
                    snprintf(best_spec, sizeof(best_spec), "%s", spec);
                }
            }
            if (best >= 0) {
                rc = strlen(best_spec) >= cap ? TIDE_E_LIMIT : 0;
                if (rc == 0) {
                    snprintf(out, cap, "%s", best_spec);
                    if (tailed)
                        *tailed = best_tailed;
                }
            }
        }
        for (t = 0; t < MAX_TAGS; t++)
            tide_buf_free(&lines[t]);
        tide_arena_free(&a);
        tide_logfmt_free(f);
        if (rc != TIDE_E_NOTFOUND)
            return rc;
    }
    return TIDE_E_NOTFOUND;
}

int tide_logfmt_sniff(const char *buf, size_t len, char *out, size_t cap, int *tailed)
{
    int rc = sniff_plain(buf, len, "", out, cap, tailed);
    return rc == TIDE_E_NOTFOUND ? sniff_wrapped(buf, len, out, cap, tailed) : rc;
}
