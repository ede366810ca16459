/*
 * common.c - errors, string views, bounded buffers, the scratch arena and
 * varints. Small, hot helpers used on every record by every module; they do
 * no I/O and keep no global state.
 */
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_MAX ((size_t)1 << 30)

int tide_err_set(struct tide_err *err, int code, const char *where, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        snprintf(err->where, sizeof(err->where), "%s", where ? where : "");
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}

void tide_err_clear(struct tide_err *err)
{
    if (err) {
        err->code = 0;
        err->where[0] = 0;
        err->msg[0] = 0;
    }
}

const char *tide_err_str(const struct tide_err *err, char *buf, size_t cap)
{
    if (err->where[0])
        snprintf(buf, cap, "%s: %s", err->where, err->msg);
    else
        snprintf(buf, cap, "%s", err->msg[0] ? err->msg : tide_errcode_name(err->code));
    return buf;
}

const char *tide_errcode_name(int code)
{
    switch (code) {
    case TIDE_OK: return "ok";
    case TIDE_E_NOMEM: return "out of memory";
    case TIDE_E_IO: return "i/o error";
    case TIDE_E_FORMAT: return "malformed input";
    case TIDE_E_VERSION: return "unsupported version";
    case TIDE_E_CORRUPT: return "corrupt";
    case TIDE_E_TRUNCATED: return "truncated";
    case TIDE_E_LIMIT: return "limit exceeded";
    case TIDE_E_USAGE: return "usage";
    case TIDE_E_NOTFOUND: return "not found";
    default: return "internal error";
    }
}

struct tide_str tide_str_c(const char *cstr)
{
    return tide_str_make(cstr, cstr ? strlen(cstr) : 0);
}

bool tide_str_is_eq(struct tide_str a, struct tide_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

bool tide_str_is_eq_c(struct tide_str a, const char *cstr)
{
    return tide_str_is_eq(a, tide_str_c(cstr));
}

bool tide_str_is_eq_nocase_c(struct tide_str a, const char *cstr)
{
    size_t n = strlen(cstr);
    return a.len == n && (n == 0 || strncasecmp(a.p, cstr, n) == 0);
}

/* ---- tide_buf ------------------------------------------------------------ */

void tide_buf_init(struct tide_buf *b, size_t max)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max ? max : DEFAULT_MAX;
}

void tide_buf_free(struct tide_buf *b)
{
    if (!b)
        return;
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

int tide_buf_reserve(struct tide_buf *b, size_t extra)
{
    size_t need, ncap;
    char *np;
    if (extra > b->max || b->len > b->max - extra)
        return TIDE_E_LIMIT;
    need = b->len + extra;
    if (need <= b->cap)
        return 0;
    ncap = b->cap ? b->cap : 256;
    while (ncap < need)
        ncap = ncap > b->max / 2 ? b->max : ncap * 2;
    np = realloc(b->p, ncap + 1); /* +1: room for a NUL some callers add */
    if (!np)
        return TIDE_E_NOMEM;
    b->p = np;
    b->cap = ncap;
    return 0;
}

int tide_buf_append(struct tide_buf *b, const void *p, size_t n)
{
    int rc;
    if (n == 0)
        return 0;
    rc = tide_buf_reserve(b, n);
    if (rc)
        return rc;
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

int tide_buf_putc(struct tide_buf *b, char c)
{
    if (b->len < b->cap) {
        b->p[b->len++] = c;
        return 0;
    }
    return tide_buf_append(b, &c, 1);
}

int tide_buf_printf(struct tide_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n, rc;
    char small[256];
    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return TIDE_E_INTERNAL;
    if ((size_t)n < sizeof(small))
        return tide_buf_append(b, small, (size_t)n);
    rc = tide_buf_reserve(b, (size_t)n + 1);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

size_t tide_u64_dec(char out[20], uint64_t v)
{
    char d[20];
    size_t n = 0, k = 0;
    do
        d[n++] = (char)('0' + v % 10);
    while ((v /= 10));
    while (n)
        out[k++] = d[--n];
    return k;
}

int tide__buf_put_uvar_slow(struct tide_buf *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    return tide_buf_append(b, tmp, n);
}

int tide_buf_put_u32le(struct tide_buf *b, uint32_t v)
{
    uint8_t tmp[4];
    tide_put_u32le(tmp, v);
    return tide_buf_append(b, tmp, 4);
}

int tide_buf_put_u64le(struct tide_buf *b, uint64_t v)
{
    uint8_t tmp[8];
    tide_put_u64le(tmp, v);
    return tide_buf_append(b, tmp, 8);
}

int tide_get_uvar(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
    const uint8_t *p = *pp;
    uint64_t v = 0;
    unsigned shift = 0;
    while (p < end) {
        uint8_t c = *p++;
        if (shift == 63 && c > 1)
            return TIDE_E_FORMAT;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *pp = p;
            *out = v;
            return 0;
        }
        shift += 7;
        if (shift > 63)
            return TIDE_E_FORMAT;
    }
    return TIDE_E_FORMAT;
}

int tide_get_svar(const uint8_t **pp, const uint8_t *end, int64_t *out)
{
    uint64_t u;
    int rc = tide_get_uvar(pp, end, &u);
    if (rc)
        return rc;
    *out = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
    return 0;
}

/* ---- arena --------------------------------------------------------------- */

struct tide_arena_chunk {
    struct tide_arena_chunk *next;
    size_t size;
    size_t used;
    max_align_t data[];
};

#define CHUNK_MIN ((size_t)64 * 1024)

void tide_arena_init(struct tide_arena *a, size_t max)
{
    a->head = NULL;
    a->used_total = 0;
    a->max = max ? max : DEFAULT_MAX;
}

void tide_arena_free(struct tide_arena *a)
{
    struct tide_arena_chunk *c, *n;
    if (!a)
        return;
    for (c = a->head; c; c = n) {
        n = c->next;
        free(c);
    }
    a->head = NULL;
    a->used_total = 0;
}

void tide_arena_reset(struct tide_arena *a)
{
    struct tide_arena_chunk *c, *n, *keep = NULL;
    /* keep the largest chunk, free the rest */
    for (c = a->head; c; c = c->next)
        if (!keep || c->size > keep->size)
            keep = c;
    for (c = a->head; c; c = n) {
        n = c->next;
        if (c != keep)
            free(c);
    }
    a->head = keep;
    if (keep) {
        keep->next = NULL;
        keep->used = 0;
    }
    a->used_total = 0;
}

void *tide_arena_alloc(struct tide_arena *a, size_t n)
{
    struct tide_arena_chunk *c = a->head;
    size_t need = (n + 7) & ~(size_t)7;
    void *p;
    if (need < n || need > a->max || a->used_total > a->max - need)
        return NULL;
    if (!c || c->size - c->used < need) {
        size_t sz = need > CHUNK_MIN ? need : CHUNK_MIN;
        if (c && c->size * 2 > sz && c->size * 2 <= a->max)
            sz = c->size * 2;
        c = malloc(sizeof(*c) + sz);
        if (!c)
            return NULL;
        c->size = sz;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    p = (char *)c->data + c->used;
    c->used += need;
    a->used_total += need;
    return p;
}

struct tide_str tide_arena_dup(struct tide_arena *a, struct tide_str s)
{
    char *p;
    if (s.len == 0)
        return tide_str_make("", 0);
    p = tide_arena_alloc(a, s.len);
    if (!p)
        return tide_str_make(NULL, s.len);
    memcpy(p, s.p, s.len);
    return tide_str_make(p, s.len);
}

int tide_parse_i64(const char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    uint64_t v = 0;
    if (len == 0)
        return TIDE_E_FORMAT;
    if (s[0] == '-' || s[0] == '+') {
        neg = s[0] == '-';
        i = 1;
        if (len == 1)
            return TIDE_E_FORMAT;
    }
    for (; i < len; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9)
            return TIDE_E_FORMAT;
        if (v > (UINT64_C(9223372036854775807) - d) / 10)
            return TIDE_E_FORMAT;
        v = v * 10 + d;
    }
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 0;
}

static bool pct_decode(struct tide_buf *b, const char *s, size_t n, bool plus)
{
    size_t i;
    bool any = false;
    for (i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && tide_hex_value(s[i + 1]) >= 0 && tide_hex_value(s[i + 2]) >= 0) {
            tide_buf_putc(b, (char)(tide_hex_value(s[i + 1]) << 4 | tide_hex_value(s[i + 2])));
            i += 2;
            any = true;
        } else if (plus && s[i] == '+') {
            tide_buf_putc(b, ' ');
            any = true;
        } else {
            tide_buf_putc(b, s[i]);
        }
    }
    return any;
}

char *tide_utf8_put(char *q, unsigned cp)
{
    if (cp < 0x80) {
        *q++ = (char)cp;
    } else if (cp < 0x800) {
        *q++ = (char)(0xc0 | cp >> 6);
        *q++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *q++ = (char)(0xe0 | cp >> 12);
        *q++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *q++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *q++ = (char)(0xf0 | cp >> 18);
        *q++ = (char)(0x80 | ((cp >> 12) & 0x3f));
        *q++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *q++ = (char)(0x80 | (cp & 0x3f));
    }
    return q;
}

bool tide_percent_decode(struct tide_buf *b, const char *s, size_t n) { return pct_decode(b, s, n, true); }

bool tide_percent_decode_path(struct tide_buf *b, const char *s, size_t n) { return pct_decode(b, s, n, false); }

bool tide_is_ip(const char *s, size_t n)
{
    char b[64];
    uint8_t a[16];
    if (n == 0 || n >= sizeof(b))
        return false;
    memcpy(b, s, n);
    b[n] = 0;
    return inet_pton(memchr(s, ':', n) ? AF_INET6 : AF_INET, b, a) == 1;
}

/* ---- base64 and JSON escaping ---------------------------------------------- */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int tide_base64_encode(struct tide_buf *b, const void *p, size_t n)
{
    const uint8_t *s = p;
    size_t i;
    char *o;
    int rc = tide_buf_reserve(b, (n + 2) / 3 * 4);
    if (rc)
        return rc;
    o = b->p + b->len;
    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        *o++ = B64[v >> 18];
        *o++ = B64[(v >> 12) & 63];
        *o++ = B64[(v >> 6) & 63];
        *o++ = B64[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0);
        *o++ = B64[v >> 18];
        *o++ = B64[(v >> 12) & 63];
        *o++ = i + 1 < n ? B64[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    b->len = (size_t)(o - b->p);
    return 0;
}

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

int tide_base64_decode(struct tide_buf *b, const char *s, size_t n)
{
    uint32_t acc = 0;
    int bits = 0, rc;
    size_t i;
    while (n > 0 && s[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return TIDE_E_FORMAT;
    rc = tide_buf_reserve(b, n / 4 * 3 + 3);
    if (rc)
        return rc;
    for (i = 0; i < n; i++) {
        int v = b64val((unsigned char)s[i]);
        if (v < 0)
            return TIDE_E_FORMAT;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            b->p[b->len++] = (char)(acc >> bits);
        }
    }
    return 0;
}

/* Length of a valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_len(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
            return 0;
        if (c == 0xe0 && s[1] < 0xa0)
            return 0; /* overlong */
        if (c == 0xed && s[1] >= 0xa0)
            return 0; /* surrogate */
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
            return 0;
        if (c == 0xf0 && s[1] < 0x90)
            return 0;
        if (c == 0xf4 && s[1] >= 0x90)
            return 0;
        return 4;
    }
    return 0;
}

int tide_json_escape(struct tide_buf *b, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *s = (const uint8_t *)str;
    size_t i = 0, run = 0;
    int rc = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t ul;
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            run++;
            continue;
        }
        if (run) {
            rc = tide_buf_append(b, s + i - run, run);
            if (rc)
                return rc;
            run = 0;
        }
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            rc = tide_buf_append(b, e, 2);
            i++;
        } else if (c < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            if (c == '\n' || c == '\r' || c == '\t') {
                e[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
                rc = tide_buf_append(b, e, 2);
            } else {
                rc = tide_buf_append(b, e, 6);
            }
            i++;
        } else if ((ul = utf8_len(s + i, n - i)) > 0) {
            rc = tide_buf_append(b, s + i, ul);
            i += ul;
        } else {
            char e[6] = {'\\', 'u', 'd', 'c', hex[c >> 4], hex[c & 15]};
            rc = tide_buf_append(b, e, 6);
            i++;
        }
        if (rc)
            return rc;
    }
    if (run)
        rc = tide_buf_append(b, s + i - run, run);
    return rc;
}
