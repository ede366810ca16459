/*
 * record.c - record helpers and the JSON-lines form of a record.
 *
 * JSON lines are tide's interchange form (`tide cat`, `tide import`). The
 * printer is hand-written for speed and for exact control of number and
 * string forms; the parser is hand-written too, because a record's strings
 * may hold any bytes (attack traffic is not UTF-8), which tide writes as
 * \udcXX escapes that general JSON libraries refuse. The parser takes
 * (buf, len), allocates only from the caller's scratch arena, and names the
 * column and the field when it refuses a line, never the value.
 */
#include "formats_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void tide_record_clear(struct tide_record *r)
{
    struct tide_header *h = r->headers;
    memset(r, 0, sizeof(*r));
    r->headers = h;
    r->ts_ns = 0;
    r->duration_ns = -1;
    r->resp_bytes = -1;
    r->status = -1;
}

int tide_record_copy(struct tide_record *dst, const struct tide_record *src,
                     struct tide_arena *a)
{
    uint32_t i;
    int f;
    *dst = *src;
    dst->headers = NULL;
    if (src->n_headers) {
        dst->headers = tide_arena_alloc(a, src->n_headers * sizeof(*dst->headers));
        if (!dst->headers)
            return TIDE_E_NOMEM;
        for (i = 0; i < src->n_headers; i++) {
            dst->headers[i].name = tide_arena_dup(a, src->headers[i].name);
            dst->headers[i].value = tide_arena_dup(a, src->headers[i].value);
            if ((!dst->headers[i].name.p && src->headers[i].name.len) ||
                (!dst->headers[i].value.p && src->headers[i].value.len))
                return TIDE_E_NOMEM;
        }
    }
    for (f = 0; f < TIDE__N_STR_FIELDS; f++) {
        struct tide_str *s = tide__rec_str(dst, f);
        *s = tide_arena_dup(a, *s);
        if (!s->p && s->len)
            return TIDE_E_NOMEM;
    }
    dst->body = tide_arena_dup(a, src->body);
    if (!dst->body.p && src->body.len)
        return TIDE_E_NOMEM;
    return 0;
}

struct tide_str tide_record_header(const struct tide_record *r, const char *name)
{
    uint32_t i;
    for (i = 0; i < r->n_headers; i++)
        if (tide_str_is_eq_nocase_c(r->headers[i].name, name))
            return r->headers[i].value;
    return tide_str_make(NULL, 0);
}

/* ---- printing -------------------------------------------------------------- */

static int put_kstr(struct tide_buf *b, const char *key, struct tide_str v)
{
    int rc = tide_buf_printf(b, ",\"%s\":\"", key);
    if (!rc)
        rc = tide_json_escape(b, v.p, v.len);
    if (!rc)
        rc = tide_buf_putc(b, '"');
    return rc;
}

static int put_str(struct tide_buf *b, struct tide_str v)
{
    int rc = tide_buf_putc(b, '"');
    if (!rc)
        rc = tide_json_escape(b, v.p, v.len);
    if (!rc)
        rc = tide_buf_putc(b, '"');
    return rc;
}

int tide_record_to_json(const struct tide_record *r, struct tide_buf *b)
{
    char ts[31];
    uint32_t i;
    int rc;
    tide_time_format_rfc3339(r->ts_ns, ts);
    rc = tide_buf_printf(b, "{\"ts\":\"%s\"", ts);
    rc |= put_kstr(b, "method", r->method);
    rc |= put_kstr(b, "scheme", r->scheme);
    rc |= put_kstr(b, "host", r->host);
    rc |= put_kstr(b, "path", r->path);
    rc |= put_kstr(b, "query", r->query);
    rc |= put_kstr(b, "version", r->version);
    rc |= tide_buf_printf(b, ",\"headers\":[");
    for (i = 0; i < r->n_headers; i++) {
        rc |= tide_buf_append(b, i ? ",[" : "[", i ? 2 : 1);
        rc |= put_str(b, r->headers[i].name);
        rc |= tide_buf_putc(b, ',');
        rc |= put_str(b, r->headers[i].value);
        rc |= tide_buf_putc(b, ']');
    }
    rc |= tide_buf_putc(b, ']');
    if (r->flags & TIDE_REC_HAS_BODY) {
        rc |= tide_buf_printf(b, ",\"body\":\"");
        rc |= tide_base64_encode(b, r->body.p, r->body.len);
        rc |= tide_buf_putc(b, '"');
    }
    if (r->status >= 0)
        rc |= tide_buf_printf(b, ",\"status\":%d", (int)r->status);
    else
        rc |= tide_buf_printf(b, ",\"status\":null");
    if (r->resp_bytes >= 0)
        rc |= tide_buf_printf(b, ",\"resp_bytes\":%lld", (long long)r->resp_bytes);
    else
        rc |= tide_buf_printf(b, ",\"resp_bytes\":null");
    if (r->duration_ns >= 0) {
        long long ms = r->duration_ns / 1000000, frac = r->duration_ns % 1000000;
        if (frac == 0) {
            rc |= tide_buf_printf(b, ",\"duration_ms\":%lld", ms);
        } else {
            char fb[8];
            int n = 6;
            snprintf(fb, sizeof(fb), "%06lld", frac);
            while (n > 0 && fb[n - 1] == '0')
                fb[--n] = 0;
            rc |= tide_buf_printf(b, ",\"duration_ms\":%lld.%s", ms, fb);
        }
    } else {
        rc |= tide_buf_printf(b, ",\"duration_ms\":null");
    }
    rc |= put_kstr(b, "client", r->client);
    rc |= put_kstr(b, "session", r->session);
    rc |= put_kstr(b, "source", r->source);
    if (r->flags & TIDE_REC_BODY_TRUNCATED)
        rc |= tide_buf_printf(b, ",\"body_truncated\":true");
    if (r->flags & TIDE_REC_LATE)
        rc |= tide_buf_printf(b, ",\"late\":true");
    rc |= tide_buf_append(b, "}\n", 2);
    return rc ? TIDE_E_LIMIT : 0;
}

/* ---- parsing --------------------------------------------------------------- */

struct jp {
    const char *s;
    size_t n, i;
    struct tide_arena *a;
    struct tide_err *err;
    struct tide_buf *tmp;
};

static int fail(struct jp *p, const char *fmt, const char *what)
{
    char m[200];
    snprintf(m, sizeof(m), fmt, what);
    return tide_err_set(p->err, TIDE_E_FORMAT, "", "column %zu: %s",
                        p->i + 1, m);
}

static void ws(struct jp *p)
{
    while (p->i < p->n &&
           (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\r' || p->s[p->i] == '\n'))
        p->i++;
}

static int hex4(struct jp *p, size_t at, unsigned *out)
{
    unsigned v = 0;
    int k;
    if (at + 4 > p->n)
        return -1;
    for (k = 0; k < 4; k++) {
        int h = tide_hex_value(p->s[at + (size_t)k]);
        if (h < 0)
            return -1;
        v = v << 4 | (unsigned)h;
    }
    *out = v;
    return 0;
}

/* Parses a JSON string at p->i; *out views the line or the arena. */
static int pstring(struct jp *p, struct tide_str *out, const char *field)
{
    size_t start, j;
    bool esc = false;
    char *o, *base;
    if (p->i >= p->n || p->s[p->i] != '"')
        return fail(p, "field '%s' is not a string", field);
    start = ++p->i;
    for (j = start; j < p->n && p->s[j] != '"'; j++) {
        if ((unsigned char)p->s[j] < 0x20)
            return fail(p, "control character inside string of field '%s'", field);
        if (p->s[j] == '\\') {
            esc = true;
            j++;
        }
    }
    if (j >= p->n)
        return fail(p, "unterminated string in field '%s'", field);
    if (!esc) {
        *out = tide_str_make(p->s + start, j - start);
        p->i = j + 1;
        return 0;
    }
    base = o = tide_arena_alloc(p->a, j - start);
    if (!base)
        return tide_err_set(p->err, TIDE_E_NOMEM, "", "out of memory");
    for (j = start; p->s[j] != '"'; j++) {
        unsigned cp, lo;
        char c = p->s[j];
        if (c != '\\') {
            *o++ = c;
            continue;
        }
        c = p->s[++j];
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u':
            p->i = j;
            if (hex4(p, j + 1, &cp))
                return fail(p, "bad \\u escape in field '%s'", field);
            j += 4;
            if (cp >= 0xdc00 && cp <= 0xdfff) {
                if (cp >= 0xdc80 && cp <= 0xdcff) {
                    *o++ = (char)(cp & 0xff); /* a raw byte (surrogateescape) */
                    break;
                }
                return fail(p, "lone low surrogate in field '%s'", field);
            }
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (j + 6 >= p->n || p->s[j + 1] != '\\' || p->s[j + 2] != 'u' ||
                    hex4(p, j + 3, &lo) || lo < 0xdc00 || lo > 0xdfff)
                    return fail(p, "unpaired surrogate in field '%s'", field);
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                j += 6;
            }
            o = tide_utf8_put(o, cp);
            break;
        default:
            p->i = j;
            return fail(p, "bad escape in field '%s'", field);
        }
    }
    *out = tide_str_make(base, (size_t)(o - base));
    p->i = j + 1;
    return 0;
}

static bool lit(struct jp *p, const char *w)
{
    size_t n = strlen(w);
    if (p->i + n <= p->n && memcmp(p->s + p->i, w, n) == 0) {
        p->i += n;
        return true;
    }
    return false;
}

/* Integer or null; null gives -1. */
static int pint(struct jp *p, int64_t *out, const char *field, int64_t max)
{
    size_t st = p->i;
    if (lit(p, "null")) {
        *out = -1;
        return 0;
    }
    while (p->i < p->n && ((p->s[p->i] >= '0' && p->s[p->i] <= '9') || p->s[p->i] == '-'))
        p->i++;
    if (tide_parse_i64(p->s + st, p->i - st, out) || *out < 0 || *out > max) {
        p->i = st;
        return fail(p, "field '%s' is not a non-negative integer in range, or null", field);
    }
    return 0;
}

/* Milliseconds with up to 6 decimals (exact), or null (-1). */
static int pms(struct jp *p, int64_t *ns, const char *field)
{
    int64_t whole = 0, frac = 0;
    int nd = 0;
    size_t st = p->i;
    if (lit(p, "null")) {
        *ns = -1;
        return 0;
    }
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
        if (whole > INT64_MAX / 10000000)
            return fail(p, "field '%s' is out of range", field);
        whole = whole * 10 + (p->s[p->i++] - '0');
    }
    if (p->i == st)
        return fail(p, "field '%s' is not a non-negative number or null", field);
    if (p->i < p->n && p->s[p->i] == '.') {
        p->i++;
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
            if (nd < 6) {
                frac = frac * 10 + (p->s[p->i] - '0');
                nd++;
            }
            p->i++;
        }
        if (nd == 0)
            return fail(p, "field '%s' has a bad fraction", field);
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E'))
        return fail(p, "field '%s': exponents are not accepted", field);
    while (nd++ < 6)
        frac *= 10;
    *ns = whole * 1000000 + frac;
    return 0;
}

/* Skips any JSON value (for unknown keys), depth-limited. */
static int pskip(struct jp *p, int depth)
{
    struct tide_str s;
    if (depth > 64)
        return fail(p, "%s", "nesting too deep");
    ws(p);
    if (p->i >= p->n)
        return fail(p, "%s", "value expected");
    switch (p->s[p->i]) {
    case '"':
        return pstring(p, &s, "(unknown)");
    case '{':
    case '[': {
        char close = p->s[p->i] == '{' ? '}' : ']';
        bool obj = close == '}';
        p->i++;
        ws(p);
        if (p->i < p->n && p->s[p->i] == close) {
            p->i++;
            return 0;
        }
        for (;;) {
            int rc;
            ws(p);
            if (obj) {
                if ((rc = pstring(p, &s, "(key)")))
                    return rc;
                ws(p);
                if (p->i >= p->n || p->s[p->i] != ':')
                    return fail(p, "%s", "expected ':'");
                p->i++;
            }
            if ((rc = pskip(p, depth + 1)))
                return rc;
            ws(p);
            if (p->i < p->n && p->s[p->i] == ',') {
                p->i++;
                continue;
            }
            if (p->i < p->n && p->s[p->i] == close) {
                p->i++;
                return 0;
            }
            return fail(p, "%s", "expected ',' or end of container");
        }
    }
    default:
        if (lit(p, "true") || lit(p, "false") || lit(p, "null"))
            return 0;
        {
            size_t st = p->i;
            while (p->i < p->n && strchr("+-0123456789.eE", p->s[p->i]) && p->s[p->i])
                p->i++;
            if (p->i == st)
                return fail(p, "%s", "invalid value");
        }
        return 0;
    }
}

static int pheaders(struct jp *p, struct tide_record *r)
{
    struct tide_header *h;
    size_t cap = 16, n = 0;
    int rc;
    if (lit(p, "null")) {
        r->n_headers = 0;
        return 0;
    }
    if (p->i >= p->n || p->s[p->i] != '[')
        return fail(p, "field '%s' is not an array", "headers");
    p->i++;
    h = tide_arena_alloc(p->a, cap * sizeof(*h));
    if (!h)
        return tide_err_set(p->err, TIDE_E_NOMEM, "", "out of memory");
    ws(p);
    if (p->i < p->n && p->s[p->i] == ']') {
        p->i++;
        r->headers = h;
        r->n_headers = 0;
        return 0;
    }
    for (;;) {
        ws(p);
        if (n == TIDE_MAX_HEADERS)
            return fail(p, "more than %s headers", "1024");
        if (n == cap) {
            struct tide_header *nh = tide_arena_alloc(p->a, cap * 2 * sizeof(*nh));
            if (!nh)
                return tide_err_set(p->err, TIDE_E_NOMEM, "", "out of memory");
            memcpy(nh, h, cap * sizeof(*nh));
            h = nh;
            cap *= 2;
        }
        if (p->i >= p->n || p->s[p->i] != '[')
            return fail(p, "field '%s' must hold [name, value] pairs", "headers");
        p->i++;
        ws(p);
        if ((rc = pstring(p, &h[n].name, "headers")))
            return rc;
        ws(p);
        if (p->i >= p->n || p->s[p->i] != ',')
            return fail(p, "field '%s' must hold [name, value] pairs", "headers");
        p->i++;
        ws(p);
        if ((rc = pstring(p, &h[n].value, "headers")))
            return rc;
        ws(p);
        if (p->i >= p->n || p->s[p->i] != ']')
            return fail(p, "field '%s' must hold [name, value] pairs", "headers");
        p->i++;
        n++;
        ws(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->n && p->s[p->i] == ']') {
            p->i++;
            break;
        }
        return fail(p, "field '%s': expected ',' or ']'", "headers");
    }
    r->headers = h;
    r->n_headers = (uint32_t)n;
    return 0;
}

static int pbool(struct jp *p, bool *v, const char *field)
{
    if (lit(p, "true"))
        *v = true;
    else if (lit(p, "false"))
        *v = false;
    else
        return fail(p, "field '%s' is not a boolean", field);
    return 0;
}

int tide_record_from_json(const char *line, size_t len, struct tide_record *r,
                          struct tide_arena *scratch, struct tide_err *err)
{
    struct jp p = {line, len, 0, scratch, err, NULL};
    bool have_ts = false;
    int rc = 0;

    r->headers = NULL;
    tide_record_clear(r);
    ws(&p);
    if (p.i >= p.n || line[p.i] != '{')
        return fail(&p, "%s", "line is not a JSON object");
    p.i++;
    ws(&p);
    if (p.i < p.n && line[p.i] == '}') {
        p.i++;
        goto done;
    }
    for (;;) {
        struct tide_str key;
        ws(&p);
        if ((rc = pstring(&p, &key, "(key)")))
            return rc;
        ws(&p);
        if (p.i >= p.n || line[p.i] != ':')
            return fail(&p, "%s", "expected ':' after key");
        p.i++;
        ws(&p);
        if (tide_str_is_eq_c(key, "ts")) {
            struct tide_str t;
            if ((rc = pstring(&p, &t, "ts")))
                return rc;
            if (tide_time_parse_rfc3339(t.p, t.len, &r->ts_ns))
                return fail(&p, "field '%s' is not an RFC 3339 time", "ts");
            have_ts = true;
        } else if (tide_str_is_eq_c(key, "method")) {
            rc = pstring(&p, &r->method, "method");
        } else if (tide_str_is_eq_c(key, "scheme")) {
            rc = pstring(&p, &r->scheme, "scheme");
        } else if (tide_str_is_eq_c(key, "host")) {
            rc = pstring(&p, &r->host, "host");
        } else if (tide_str_is_eq_c(key, "path")) {
            rc = pstring(&p, &r->path, "path");
        } else if (tide_str_is_eq_c(key, "query")) {
            rc = pstring(&p, &r->query, "query");
        } else if (tide_str_is_eq_c(key, "version")) {
            rc = pstring(&p, &r->version, "version");
        } else if (tide_str_is_eq_c(key, "client")) {
            rc = pstring(&p, &r->client, "client");
        } else if (tide_str_is_eq_c(key, "session")) {
            rc = pstring(&p, &r->session, "session");
        } else if (tide_str_is_eq_c(key, "source")) {
            rc = pstring(&p, &r->source, "source");
        } else if (tide_str_is_eq_c(key, "headers")) {
            rc = pheaders(&p, r);
        } else if (tide_str_is_eq_c(key, "body")) {
            if (lit(&p, "null")) {
                r->flags &= ~TIDE_REC_HAS_BODY;
                r->body = tide_str_make(NULL, 0);
            } else {
                struct tide_str b64;
                struct tide_buf tb;
                if ((rc = pstring(&p, &b64, "body")))
                    return rc;
                tide_buf_init(&tb, TIDE_MAX_BODY);
                rc = tide_base64_decode(&tb, b64.p, b64.len);
                if (rc) {
                    tide_buf_free(&tb);
                    return fail(&p, "field '%s' is not valid base64", "body");
                }
                r->body = tide_arena_dup(scratch, tide_str_make(tb.p, tb.len));
                tide_buf_free(&tb);
                if (!r->body.p && tb.len)
                    return tide_err_set(err, TIDE_E_NOMEM, "", "out of memory");
                r->flags |= TIDE_REC_HAS_BODY;
            }
        } else if (tide_str_is_eq_c(key, "status")) {
            int64_t v;
            rc = pint(&p, &v, "status", 999);
            r->status = (int32_t)v;
        } else if (tide_str_is_eq_c(key, "resp_bytes")) {
            rc = pint(&p, &r->resp_bytes, "resp_bytes", INT64_MAX);
        } else if (tide_str_is_eq_c(key, "duration_ms")) {
            rc = pms(&p, &r->duration_ns, "duration_ms");
        } else if (tide_str_is_eq_c(key, "body_truncated") || tide_str_is_eq_c(key, "late")) {
            bool v = false;
            uint32_t bit = key.len == 4 ? TIDE_REC_LATE : TIDE_REC_BODY_TRUNCATED;
            rc = pbool(&p, &v, key.len == 4 ? "late" : "body_truncated");
            r->flags = v ? (r->flags | bit) : (r->flags & ~bit);
        } else {
            rc = pskip(&p, 0);
        }
        if (rc)
            return rc;
        ws(&p);
        if (p.i < p.n && line[p.i] == ',') {
            p.i++;
            continue;
        }
        if (p.i < p.n && line[p.i] == '}') {
            p.i++;
            break;
        }
        return fail(&p, "%s", "expected ',' or '}'");
    }
done:
    ws(&p);
    if (p.i != p.n)
        return fail(&p, "%s", "trailing data after the object");
    if (!have_ts)
        return fail(&p, "required field '%s' is missing", "ts");
    return 0;
}
