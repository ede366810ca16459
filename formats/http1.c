/*
 * http1.c - HTTP/1.x message heads, parsed from memory (picohttpparser's
 * contract): given (buf, len), return the head's length, 0 for "need more",
 * or a negative value for "not HTTP". Nothing is allocated; the head's fields
 * are views into buf. Bodies are framed by the caller (tcpflow.c) from what
 * the head says: Content-Length, chunked, or until the connection closes.
 * Capture's TCP reassembly and replay's native HTTP/1.1 client share it.
 */
#define _GNU_SOURCE
#include "formats/trace.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* RFC 9110 token characters, by table (this runs for every byte of every header name) */
static const bool TCHAR[256] = {
    ['0' ... '9'] = true, ['A' ... 'Z'] = true, ['a' ... 'z'] = true,
    ['!'] = true, ['#'] = true, ['$'] = true, ['%'] = true, ['&'] = true, ['\''] = true,
    ['*'] = true, ['+'] = true, ['-'] = true, ['.'] = true, ['^'] = true, ['_'] = true,
    ['`'] = true, ['|'] = true, ['~'] = true,
};
static bool is_tchar(unsigned char c) { return TCHAR[c]; }

/* n bytes of p equal lower-case ASCII word w, ignoring case (letters and '-' only in w). */
static bool eq_word(const char *p, const char *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)p[i] | 0x20) != (unsigned char)w[i])
            return false;
    return true;
}

/* A header name, against a lower-case one. */
static bool name_is(struct tide_str name, const char *w, size_t n) { return name.len == n && eq_word(name.p, w, n); }

/* "close" among a Connection header's options, in any case. */
static bool has_close(struct tide_str v)
{
    for (size_t i = 0; i + 5 <= v.len; i++)
        if ((v.p[i] | 0x20) == 'c' && eq_word(v.p + i, "close", 5))
            return true;
    return false;
}

/* A head with nothing in it (the header array is filled as it is read, not cleared). */
static void head_init(struct tide_http_head *h)
{
    h->method = h->target = h->version = h->host = tide_str_make(NULL, 0);
    h->status = 0;
    h->n_headers = h->headers_dropped = 0;
    h->content_length = -1;
    h->chunked = h->conn_close = false;
}

bool tide_http_is_method_start(const char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n && i < 16; i++) {
        if (p[i] == ' ')
            return i > 0;
        if (!isupper((unsigned char)p[i]) && p[i] != '-' && p[i] != '_')
            return false;
    }
    return n < 16; /* too short to tell: maybe */
}

/* Parses header lines from p (after the start line) up to the blank line. */
static long parse_headers(const char *buf, size_t len, size_t at, struct tide_http_head *h)
{
    while (at < len) {
        const char *eol, *colon, *c = buf + at, *end = buf + len;
        size_t le, ve, vs;
        /* one pass over the name: token characters up to the colon */
        while (c < end && is_tchar((unsigned char)*c))
            c++;
        if (c == end)
            return 0; /* need more */
        if (*c != ':' || c == buf + at) {
            /* not a header: the blank line that ends the head, or junk */
            if (c == buf + at && (*c == '\n' || (*c == '\r' && c + 1 < end && c[1] == '\n')))
                return (long)(c - buf) + (*c == '\r' ? 2 : 1);
            if (c == buf + at && *c == '\r' && c + 1 == end)
                return 0;
            eol = memchr(c, '\n', (size_t)(end - c));
            return eol ? -1 : 0; /* a whole line that is not a header */
        }
        colon = c;
        eol = memchr(colon, '\n', (size_t)(end - colon));
        if (!eol)
            return 0;
        le = (size_t)(eol - buf);
        vs = (size_t)(colon - buf) + 1;
        while (vs < le && (buf[vs] == ' ' || buf[vs] == '\t'))
            vs++;
        ve = le;
        while (ve > vs && (buf[ve - 1] == '\r' || buf[ve - 1] == ' ' || buf[ve - 1] == '\t'))
            ve--;
        if (h->n_headers < TIDE_HTTP_MAX_HEADERS) {
            struct tide_header *x = &h->headers[h->n_headers++];
            x->name = tide_str_make(buf + at, (size_t)(colon - (buf + at)));
            x->value = tide_str_make(buf + vs, ve - vs);
            if (x->name.len == 4) {
                if (!h->host.p && name_is(x->name, "host", 4))
                    h->host = x->value;
            } else if (x->name.len != 14 && x->name.len != 17 && x->name.len != 10) {
                /* none of the three that frame a message */
            } else if (name_is(x->name, "content-length", 14)) {
                int64_t v;
                if (tide_parse_i64(x->value.p, x->value.len, &v) || v < 0)
                    return -1; /* a bad length cannot be framed */
                if (h->content_length >= 0 && h->content_length != v)
                    return -1; /* conflicting lengths: request smuggling */
                h->content_length = v;
            } else if (name_is(x->name, "transfer-encoding", 17)) {
                if (x->value.len >= 7 && eq_word(x->value.p + x->value.len - 7, "chunked", 7))
                    h->chunked = true;
            } else if (name_is(x->name, "connection", 10)) {
                if (has_close(x->value))
                    h->conn_close = true;
            }
        } else {
            h->headers_dropped++;
        }
        at = le + 1;
    }
    return 0;
}

long tide_http_request_head(const char *buf, size_t len, struct tide_http_head *h)
{
    const char *eol, *sp1, *sp2;
    size_t le;
    head_init(h);
    eol = len ? memchr(buf, '\n', len) : NULL;
    if (!eol)
        return len > TIDE_HTTP_MAX_HEAD ? -1 : 0;
    le = (size_t)(eol - buf);
    if (le > 0 && buf[le - 1] == '\r')
        le--;
    sp1 = memchr(buf, ' ', le);
    if (!sp1 || sp1 == buf)
        return -1;
    for (const char *c = buf; c < sp1; c++)
        if (!is_tchar((unsigned char)*c))
            return -1;
    sp2 = memrchr(sp1 + 1, ' ', le - (size_t)(sp1 + 1 - buf));
    if (!sp2 || sp2 == sp1 + 1 || (size_t)(buf + le - sp2 - 1) < 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0)
        return -1;
    h->method = tide_str_make(buf, (size_t)(sp1 - buf));
    h->target = tide_str_make(sp1 + 1, (size_t)(sp2 - sp1 - 1));
    h->version = tide_str_make(sp2 + 1, (size_t)(buf + le - sp2 - 1));
    {
        long r = parse_headers(buf, len, (size_t)(eol - buf) + 1, h);
        if (r == 0 && len > TIDE_HTTP_MAX_HEAD)
            return -1;
        return r;
    }
}

long tide_http_response_head(const char *buf, size_t len, struct tide_http_head *h)
{
    const char *eol;
    size_t le;
    int st;
    head_init(h);
    if (len >= 5 && memcmp(buf, "HTTP/", 5) != 0)
        return -1;
    eol = len ? memchr(buf, '\n', len) : NULL;
    if (!eol)
        return len > TIDE_HTTP_MAX_HEAD ? -1 : 0;
    le = (size_t)(eol - buf);
    if (le < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ' || !isdigit((unsigned char)buf[9]) ||
        !isdigit((unsigned char)buf[10]) || !isdigit((unsigned char)buf[11]))
        return -1;
    st = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    h->status = st;
    h->version = tide_str_make(buf, 8);
    {
        long r = parse_headers(buf, len, (size_t)(eol - buf) + 1, h);
        if (r == 0 && len > TIDE_HTTP_MAX_HEAD)
            return -1;
        return r;
    }
}

long tide_http_chunked(struct tide_http_chunks *c, const char *buf, size_t len, uint64_t *body_bytes,
                        struct tide_buf *out, size_t cap, bool *truncated)
{
    size_t i = 0;
    while (i < len) {
        switch (c->state) {
        case TIDE_CH_SIZE: {
            const char *eol = memchr(buf + i, '\n', len - i);
            size_t k;
            uint64_t v = 0;
            int digits = 0;
            if (!eol)
                return len - i > 1024 ? -1 : (long)i; /* need more */
            if ((size_t)(eol - buf) - i > 1024)
                return -1; /* the same limit however the line arrived */
            for (k = i; k < (size_t)(eol - buf) && isxdigit((unsigned char)buf[k]); k++) {
                if (++digits > 15)
                    return -1; /* 2^60 and more: an overflow attack, not a body */
                v = v * 16 + (uint64_t)(isdigit((unsigned char)buf[k]) ? buf[k] - '0' : (tolower((unsigned char)buf[k]) - 'a' + 10));
            }
            if (digits == 0)
                return -1;
            c->left = v;
            i = (size_t)(eol - buf) + 1;
            c->state = v == 0 ? TIDE_CH_TRAILER : TIDE_CH_DATA;
            break;
        }
        case TIDE_CH_DATA: {
            size_t take = len - i < c->left ? len - i : (size_t)c->left;
            *body_bytes += take;
            if (out) {
                size_t room = out->len < cap ? cap - out->len : 0;
                if (take > room)
                    *truncated = true;
                tide_buf_append(out, buf + i, take < room ? take : room);
            }
            c->left -= take;
            i += take;
            if (c->left == 0)
                c->state = TIDE_CH_DATA_END;
            break;
        }
        case TIDE_CH_DATA_END: {
            const char *eol = memchr(buf + i, '\n', len - i);
            if (!eol)
                return len - i > 2 ? -1 : (long)i;
            if ((size_t)(eol - buf) - i > 1 || ((size_t)(eol - buf) - i == 1 && buf[i] != '\r'))
                return -1; /* the data's end is CRLF (or LF), nothing else */
            i = (size_t)(eol - buf) + 1;
            c->state = TIDE_CH_SIZE;
            break;
        }
        case TIDE_CH_TRAILER: {
            const char *eol = memchr(buf + i, '\n', len - i);
            if (!eol || (size_t)(eol - buf) - i > 8192)
                return !eol && len - i <= 8192 ? (long)i : -1;
            if ((size_t)(eol - buf) == i || ((size_t)(eol - buf) == i + 1 && buf[i] == '\r')) {
                c->state = TIDE_CH_DONE;
                return (long)((size_t)(eol - buf) + 1);
            }
            i = (size_t)(eol - buf) + 1;
            break;
        }
        case TIDE_CH_DONE:
            return (long)i;
        }
    }
    return (long)i;
}
