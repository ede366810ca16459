/*
 * anon.c - the anonymizing transform, record to record.
 *
 * Per record: first the values the policy calls personal (a student's name
 * in a query or JSON field, an id under /students/) are collected with their
 * pseudonyms; then every part is rewritten by its rule, and free text
 * (scanned values, essays, search queries) has every detector hit and every
 * collected personal value replaced, so a name in the body's name field is
 * also replaced where the essay mentions it. Layers are decoded before they
 * are looked at (percent-encoding, base64, JSON in a query value, JSON and
 * form bodies) and re-encoded after; a value nothing changed keeps its bytes.
 * Output strings live in a per-record arena: no allocation per record once
 * it has grown. Counts per field and action feed the manifest.
 */
#define _GNU_SOURCE
#include "anon_int.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <zlib.h>
#include <zstd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct tide_anon {
    const struct tide_anon_policy *p;
    struct tide_anon_opts o;
    struct tide__pseudo *ps;
    struct tide_arena arena;
    struct tide_header *hdrs;
    size_t cap_hdrs;
    struct tide_record out;
    struct tide_sink next;
    struct tide_strmap counts;
#define COUNT_HINTS 16
    struct count_hint {
        const char *field, *what;
        size_t cap;
        struct tide_strmap_ent *e;
    } hint[COUNT_HINTS]; /* where count() found a key last */
    uint64_t records;
    int64_t shift_ns;
    struct tide_strmap names; /* personal words seen so far (lower case) -> pseudonym */
    struct tide_strmap clean; /* scanned values that needed no change (value = names.n then) */
    EVP_MD_CTX *in_hash, *out_hash; /* SHA-256 of every record in and out, for the manifest */
    struct tide_buf hbuf[2];        /* records' content not yet hashed, in and out */
    struct hasher *hasher;          /* hashes full buffers on its own thread (NULL: inline) */
    struct tide_strmap hinfo;       /* header name -> struct hinfo */
    bool hasher_tried, hash_failed;
    char fingerprint[17];
};

/* ---- small helpers --------------------------------------------------------------- */

static void count(struct tide_anon *a, const char *field, const char *what)
{
    char k[160];
    size_t fl = strlen(field), wl = strlen(what);
    struct tide_strmap_ent *e;
    struct count_hint *c = &a->hint[(((uintptr_t)field >> 3) ^ ((uintptr_t)what >> 3) * 31) % COUNT_HINTS];
    bool added;
    int rc;
    /* the same two strings as last time in this slot: the entry is known (its
     * place holds while the map has not grown; the content is checked, as a
     * buffer can hold other text by now) */
    if (c->field == field && c->what == what && c->cap == a->counts.cap && c->e &&
        c->e->key.len == fl + 1 + wl && memcmp(c->e->key.p, field, fl) == 0 &&
        memcmp(c->e->key.p + fl + 1, what, wl) == 0) {
        c->e->value++;
        return;
    }
    if (fl + wl + 1 > sizeof(k))
        fl = sizeof(k) - wl - 1;
    memcpy(k, field, fl);
    k[fl] = '\t';
    memcpy(k + fl + 1, what, wl);
    e = tide_strmap_upsert(&a->counts, tide_str_make(k, fl + 1 + wl), &added, &rc);
    if (e)
        e->value++;
    c->field = field;
    c->what = what;
    c->cap = a->counts.cap;
    c->e = e;
}

static struct tide_str adup(struct tide_anon *a, const char *p, size_t n)
{
    return tide_arena_dup(&a->arena, tide_str_make(p, n));
}

/* Percent-encodes a replaced value. A space is '+' in a query or form
 * (plus) and %20 elsewhere: in a path '+' is a plus sign. */
static void pct_encode(const char *s, size_t n, struct tide_buf *b, bool plus)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || strchr("-._~@!$'()*,;:/", c))
            tide_buf_putc(b, (char)c);
        else if (c == ' ' && plus)
            tide_buf_putc(b, '+');
        else {
            tide_buf_putc(b, '%');
            tide_buf_putc(b, hex[c >> 4]);
            tide_buf_putc(b, hex[c & 15]);
        }
    }
}

/*
 * Encodes x, the anonymized text of d (which e, percent-encoded, decodes to),
 * as e was written: the bytes before the first change and after the last are
 * e's own, and between them a character is written as e writes it (plain or
 * %XX), one e does not have as pct_encode would. So "https%3A%2F%2Fx.edu%2F
 * %3Femail%3D..." keeps its %3A%2F%2F, and an inner URL's '?' and '=' stay
 * what they were. plus: a '+' in e is a space (a query or form, not a path).
 */
static void reencode(const char *e, size_t en, const char *d, size_t dn, const char *x, size_t xn, bool plus,
                     struct tide_buf *o)
{
    static const char hex[] = "0123456789ABCDEF";
    bool lit[256] = {false}, esc[256] = {false};
    size_t p = 0, sfx = 0, i, k, *map = malloc((dn + 1) * sizeof(*map));
    if (!map) {
        pct_encode(x, xn, o, plus);
        return;
    }
    for (i = 0, k = 0; i < en && k < dn; k++) {
        map[k] = i;
        if (e[i] == '%' && i + 2 < en && tide_hex_value(e[i + 1]) >= 0 && tide_hex_value(e[i + 2]) >= 0) {
            esc[tide_hex_value(e[i + 1]) << 4 | tide_hex_value(e[i + 2])] = true;
            i += 3;
        } else {
            lit[(unsigned char)(plus && e[i] == '+' ? ' ' : e[i])] = true;
            i++;
        }
    }
    for (; k <= dn; k++)
        map[k] = en;
    while (p < dn && p < xn && d[p] == x[p])
        p++;
    while (sfx < dn - p && sfx < xn - p && d[dn - 1 - sfx] == x[xn - 1 - sfx])
        sfx++;
    tide_buf_append(o, e, map[p]);
    for (i = p; i < xn - sfx; i++) {
        unsigned char c = (unsigned char)x[i];
        if (c == ' ') {
            if (plus && !esc[' '])
                tide_buf_putc(o, '+');
            else
                tide_buf_append(o, "%20", 3);
        } else if (isalnum(c) || (lit[c] && !(plus && c == '+'))) {
            tide_buf_putc(o, (char)c);
        } else if (esc[c]) {
            tide_buf_putc(o, '%');
            tide_buf_putc(o, hex[c >> 4]);
            tide_buf_putc(o, hex[c & 15]);
        } else {
            pct_encode((const char *)&x[i], 1, o, false);
        }
    }
    tide_buf_append(o, e + map[dn - sfx], en - map[dn - sfx]);
    free(map);
}

static bool all_digits(const char *s, size_t n)
{
    size_t i;
    if (!n)
        return false;
    for (i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

bool tide__is_uuid(const char *s, size_t n)
{
    size_t i;
    if (n != 36)
        return false;
    for (i = 0; i < 36; i++)
        if ((i == 8 || i == 13 || i == 18 || i == 23) ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* The shape a personal value keeps. */
static int shape_of(const char *s, size_t n)
{
    struct tide_pii_hit h[2];
    if (memchr(s, '@', n) && n > 3)
        return SH_EMAIL;
    if (tide__detect(s, n, h, 2) == 1 && h[0].start == 0 && h[0].len == n) {
        if (h[0].kind == TIDE_PII_PHONE)
            return SH_PHONE;
        if (h[0].kind == TIDE_PII_SSN)
            return SH_SSN;
        if (h[0].kind == TIDE_PII_CARD)
            return SH_CARD;
    }
    if (tide__is_uuid(s, n))
        return SH_UUID;
    if (all_digits(s, n))
        return SH_DIGITS;
    {
        size_t i, d = 0, l = 0;
        for (i = 0; i < n; i++) {
            d += isdigit((unsigned char)s[i]) != 0;
            l += isalpha((unsigned char)s[i]) != 0;
        }
        if (d > 0 && d * 2 >= l)
            return SH_CLASSES; /* S-12345, +1 555 0100, 02139 */
    }
    return SH_NAME;
}

/* Pseudonym of a personal value, copied into the record arena. */
static struct tide_str pseudo(struct tide_anon *a, int sh, const char *s, size_t n)
{
    struct tide_str ps = tide__pseudo(a->ps, sh, tide_str_make(s, n));
    return adup(a, ps.p, ps.len);
}

/* Pseudonym of a value the policy calls personal, taken as what it says:
 * percent-encoding (also double) is undone first, so "jane%40school.edu" in a
 * path or a twice-encoded query value gets the email's pseudonym, the one
 * the person has everywhere else. */
static struct tide_str personal(struct tide_anon *a, const char *s, size_t n)
{
    struct tide_buf d[2];
    struct tide_str r;
    int k, cur = -1;
    tide_buf_init(&d[0], 0);
    tide_buf_init(&d[1], 0);
    for (k = 0; k < 3 && memchr(s, '%', n); k++) {
        int nx = cur == 0 ? 1 : 0;
        tide_buf_reset(&d[nx]);
        if (!tide_percent_decode_path(&d[nx], s, n))
            break;
        cur = nx;
        s = d[cur].p;
        n = d[cur].len;
    }
    r = pseudo(a, shape_of(s, n), s, n);
    tide_buf_free(&d[0]);
    tide_buf_free(&d[1]);
    return r;
}

/* "2010-05-17" -> "2010-01-01"; "5/17/2010" -> "01/01/2010"; "17.05.2010" ->
 * "01.01.2010"; "May 17, 2010" -> "January 1, 2010"; a year stays; else "[date]" */
static struct tide_str generalize(struct tide_anon *a, const char *s, size_t n)
{
    char b[24];
    /* a numeric date at the start, year first or last, its separator kept
     * (what follows it, a time, goes) */
    if (n >= 8 && all_digits(s, 4) && (s[4] == '-' || s[4] == '/' || s[4] == '.')) {
        snprintf(b, sizeof(b), "%.4s%c01%c01", s, s[4], s[4]);
        return adup(a, b, 10);
    }
    {
        size_t i = 0, d1, d2;
        while (i < n && i < 2 && isdigit((unsigned char)s[i]))
            i++;
        d1 = i;
        if (d1 && i < n && (s[i] == '-' || s[i] == '/' || s[i] == '.')) {
            char sep = s[i++];
            while (i < n && i < d1 + 3 && isdigit((unsigned char)s[i]))
                i++;
            d2 = i - d1 - 1;
            if (d2 && i + 5 <= n && s[i] == sep && all_digits(s + i + 1, 4) &&
                (i + 5 == n || !isdigit((unsigned char)s[i + 5]))) {
                snprintf(b, sizeof(b), "01%c01%c%.4s", sep, sep, s + i + 1);
                return adup(a, b, 10);
            }
        }
    }
    if (n >= 4 && all_digits(s, 4))
        return adup(a, s, 4);
    if (n > 10 && all_digits(s + n - 4, 4)) { /* a month's name: "March 3, 2011", "3rd of March 2011" */
        snprintf(b, sizeof(b), isdigit((unsigned char)s[0]) ? "1 January %.4s" : "January 1, %.4s", s + n - 4);
        return adup(a, b, strlen(b));
    }
    return adup(a, "[date]", 6);
}

#define MAX_NAMES 200000

/* Adds one personal word or phrase (lower-cased) to the cross-record map. */
static void learn(struct tide_anon *a, const char *s, size_t n, struct tide_str ps)
{
    char low[256];
    size_t i;
    struct tide_strmap_ent *e;
    bool added;
    int rc;
    if (n < 3 || n >= sizeof(low))
        return;
    for (i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)s[i]);
    if (a->names.n >= MAX_NAMES) { /* bounded: start over rather than grow */
        tide_strmap_free(&a->names);
        tide_strmap_init(&a->names, 0);
    }
    e = tide_strmap_upsert(&a->names, tide_str_make(low, n), &added, &rc);
    if (e && added) {
        e->ptr = tide_arena_alloc(&a->names.arena, ps.len ? ps.len : 1);
        if (e->ptr)
            memcpy(e->ptr, ps.p, ps.len);
        e->value = e->ptr ? ps.len : 0;
    }
}

/*
 * Remembers a personal value so free text mentioning it is rewritten too, in
 * this record and the ones after: the whole value (one or two words) and each
 * of its words of three letters or more.
 */
static void remember(struct tide_anon *a, const char *s, size_t n, struct tide_str ps)
{
    size_t i, w, words = 1;
    if (n < 3 || memchr(s, '@', n) || all_digits(s, n))
        return; /* emails are found by their detector; a bare number in free text is
                   more often a page or a count than this person's id */
    for (i = 0; i < n; i++)
        words += s[i] == ' ';
    if (words <= 2)
        learn(a, s, n, ps);
    if (words == 1)
        return;
    for (i = 0; i < n; i = w + 1) {
        for (w = i; w < n && s[w] != ' '; w++)
            ;
        if (w - i >= 3 && isalpha((unsigned char)s[i])) {
            struct tide_str wp = pseudo(a, SH_NAME, s + i, w - i);
            learn(a, s + i, w - i, wp);
        }
    }
}

/* ---- free text --------------------------------------------------------------------- */

static void text_scan(struct tide_anon *a, const char *s, size_t n, struct tide_buf *o,
                      const char *field, int depth);
static void text_scan_j(struct tide_anon *a, const char *s, size_t n, struct tide_buf *o,
                        const char *field, int depth, bool json);
static void json_broken(struct tide_anon *a, const char *s, size_t n, struct tide_buf *o, const char *field,
                        int depth);

static bool word_char(char c) { return isalnum((unsigned char)c) || c == '\'' || c == '-'; }

static struct tide_strmap_ent *name_at(struct tide_anon *a, const char *s, size_t n)
{
    char low[256];
    size_t i;
    if (n < 3 || n >= sizeof(low))
        return NULL;
    for (i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)s[i]);
    return tide_strmap_get(&a->names, tide_str_make(low, n));
}

/* Rewrites remembered personal words and two-word phrases in b. */
static bool replace_personal(struct tide_anon *a, struct tide_buf *b, const char *field)
{
    struct tide_buf o;
    size_t i = 0;
    bool changed = false;
    if (a->names.n == 0)
        return false;
    tide_buf_init(&o, 0);
    while (i < b->len) {
        size_t w = i, w2, w2e;
        struct tide_strmap_ent *e = NULL;
        if (!word_char(b->p[i]) || (i > 0 && word_char(b->p[i - 1]))) {
            tide_buf_putc(&o, b->p[i++]);
            continue;
        }
        while (w < b->len && word_char(b->p[w]))
            w++;
        /* a two-word phrase first ("Maria Lopez"), then the word */
        w2 = w;
        if (w2 < b->len && (b->p[w2] == ' ' || b->p[w2] == '+')) {
            w2e = w2 + 1;
            while (w2e < b->len && word_char(b->p[w2e]))
                w2e++;
            if (w2e > w2 + 1) {
                char tmp[256];
                size_t n = w2e - i;
                if (n < sizeof(tmp)) {
                    memcpy(tmp, b->p + i, n);
                    tmp[w2 - i] = ' ';
                    e = name_at(a, tmp, n);
                    if (e)
                        w = w2e;
                }
            }
        }
        if (!e)
            e = name_at(a, b->p + i, w - i);
        if (e && e->ptr) {
            tide_buf_append(&o, e->ptr, (size_t)e->value);
            count(a, field, "personal value in text");
            changed = true;
        } else {
            tide_buf_append(&o, b->p + i, w - i);
        }
        i = w;
    }
    if (changed) {
        tide_buf_reset(b);
        tide_buf_append(b, o.p, o.len);
    }
    tide_buf_free(&o);
    return changed;
}

/* A base64 value holding text: anonymize the text and re-encode. */
static bool try_base64(struct tide_anon *a, const char *s, size_t n, struct tide_buf *o,
                       const char *field, int depth)
{
    struct tide_buf d, x;
    size_t i, pr = 0;
    bool url = false, ok;
    if (n < 16 || depth > 2)
        return false;
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (!(isalnum((unsigned char)c) || c == '+' || c == '/' || c == '=' || c == '-' || c == '_'))
            return false;
        url = url || c == '-' || c == '_';
    }
    tide_buf_init(&d, 1 << 20);
    ok = tide_base64_decode(&d, s, n) == 0 && d.len > 0;
    for (i = 0; ok && i < d.len; i++)
        pr += (d.p[i] >= 0x20 && d.p[i] < 0x7f) || d.p[i] == '\n' || d.p[i] == '\t';
    if (!ok || pr * 10 < d.len * 9) {
        tide_buf_free(&d);
        return false;
    }
    tide_buf_init(&x, 0);
    text_scan(a, d.p, d.len, &x, field, depth + 1);
    if (x.len == d.len && memcmp(x.p, d.p, d.len) == 0) {
        tide_buf_free(&d);
        tide_buf_free(&x);
        return false;
    }
    {
        size_t start = o->len;
        tide_base64_encode(o, x.p, x.len);
        if (url)
            for (i = start; i < o->len; i++)
                o->p[i] = o->p[i] == '+' ? '-' : o->p[i] == '/' ? '_' : o->p[i];
        if (s[n - 1] != '=')
            while (o->len > start && o->p[o->len - 1] == '=')
                o->len--;
    }
    count(a, field, "base64 layer rewritten");
    tide_buf_free(&d);
    tide_buf_free(&x);
    return true;
}

static void json_text(struct tide_anon *a, const char *s, size_t n, struct tide_buf *o,
                      const char *field, int inherited, bool *changed);

/* Whether a field holds people's writing (a body, a query value), where a
 * capitalized name is a name; in a path or a header it is a route or a product. */
static bool free_text(const char *field)
{
    size_t n = strlen(field);
    return strcmp(field, "query") == 0 || strcmp(field, "referer query") == 0 ||
           (n >= 5 && strcmp(field + n - 5, " body") == 0);
}

/* Whether pairs written in a field's text are read (freetext.c): people's
 * writing, not a structure read by names already (XML, CSV, a multipart
 * body's part headers) */
static bool pairs_text(const char *field)
{
    return free_text(field) && strcmp(field, "multipart body") != 0 && strcmp(field, "xml body") != 0 &&
           strcmp(field, "csv body") != 0;
}

/* Appends s with detector hits and personal values replaced. */
static void text_scan(struct tide_anon *a, const char *s, size_t n, struct tide_buf *o,
                      const char *field, int depth)
{
    text_scan_j(a, s, n, o, field, depth, true);
}

struct kv_out {
    struct tide_anon *a;
    const char *s;
    struct tide_buf *o;
    size_t at;
    const char *field;
    bool text; /* pairs written in text, not an XML or CSV body's fields */
};
static void kv_value(void *u, const char *k, size_t kl, size_t vs, size_t vl);

/* Appends s from at with the hits (by start, none before at) replaced;
 * returns where the last one ended. */
static size_t scan_hits(struct tide_anon *a, const char *s, const struct tide_pii_hit *hits, size_t nh, size_t at,
                        struct tide_buf *o, const char *field)
{
    size_t i;
    for (i = 0; i < nh; i++) {
        const struct tide_pii_hit *h = &hits[i];
        const char *v = s + h->start;
        struct tide_str r;
        bool ch;
        char what[64];
        tide_buf_append(o, s + at, h->start - at);
        switch (h->kind) {
        case TIDE_PII_EMAIL: r = tide__pseudo(a->ps, SH_EMAIL, tide_str_make(v, h->len)); break;
        case TIDE_PII_PHONE: r = tide__pseudo(a->ps, SH_PHONE, tide_str_make(v, h->len)); break;
        case TIDE_PII_SSN: r = tide__pseudo(a->ps, SH_SSN, tide_str_make(v, h->len)); break;
        case TIDE_PII_CARD: r = tide__pseudo(a->ps, SH_CARD, tide_str_make(v, h->len)); break;
        case TIDE_PII_IPV4:
        case TIDE_PII_IPV6: r = tide__pseudo_ip(a->ps, tide_str_make(v, h->len), &ch); break;
        case TIDE_PII_BEARER:
            tide_buf_append(o, v, 7);
            r = tide__pseudo(a->ps, SH_TOKEN, tide_str_make(v + 7, h->len - 7));
            break;
        case TIDE_PII_DOB: r = generalize(a, v, h->len); break;
        case TIDE_PII_PERSON_NAME:
        case TIDE_PII_STREET_ADDRESS:
        case TIDE_PII_STUDENT_ID: /* a p_ word, not the id's shape: the audit can tell it in text */
            r = tide__pseudo(a->ps, SH_NAME, tide_str_make(v, h->len));
            break;
        default: /* a UUID (an essay's, a capability link's) stays one: routes still match */
            r = tide__pseudo(a->ps, tide__is_uuid(v, h->len) ? SH_UUID : SH_TOKEN, tide_str_make(v, h->len));
        }
        tide_buf_append(o, r.p, r.len);
        snprintf(what, sizeof(what), "%s replaced", tide_pii_kind_name(h->kind));
        count(a, field, what);
        at = h->start + h->len;
    }
    return at;
}

/* json: text that looks like JSON is read as JSON (whole, or member by
 * member if it does not parse); false for the text between such members. */
static void text_scan_j(struct tide_anon *a, const char *s, size_t n, struct tide_buf *o,
                        const char *field, int depth, bool json)
{
    struct tide_pii_hit hits[TIDE__MAX_HITS];
    size_t nh, i, at = 0, base, start = o->len;
    struct tide_buf kv;
    if (json && n > 1 && depth < 3 && (s[0] == '{' || s[0] == '[')) {
        bool changed = false;
        json_text(a, s, n, o, field, ACT_NONE, &changed);
        if (o->len == start)
            json_broken(a, s, n, o, field, depth); /* JSON in a query value, cut with the URL */
        if (o->len > start)
            return;
    }
    if (try_base64(a, s, n, o, field, depth))
        return;
    tide_buf_init(&kv, 0);
    if (pairs_text(field) && n && (memchr(s, ':', n) || memchr(s, '=', n))) {
        /* pairs written in the text first ("lastName: \"Smith\"", "password: ...") */
        struct kv_out ko = {a, s, &kv, 0, field, true};
        tide__text_pairs(s, n, kv_value, &ko);
        if (ko.at) {
            tide_buf_append(&kv, s + ko.at, n - ko.at);
            s = kv.p;
            n = kv.len;
        }
    }
    /* in rounds of TIDE__MAX_HITS hits: a roster of 400 emails had its last
     * 144 kept */
    for (base = 0;; base = at) {
        nh = free_text(field) ? tide__detect_text(s + base, n - base, hits, TIDE__MAX_HITS)
                              : tide__detect(s + base, n - base, hits, TIDE__MAX_HITS);
        for (i = 0; i < nh; i++)
            hits[i].start += base;
        at = scan_hits(a, s, hits, nh, at, o, field);
        if (nh < TIDE__MAX_HITS || at <= base)
            break;
    }
    tide_buf_append(o, s + at, n - at);
    if (depth < 3 && n && o->len > start && memchr(s, '%', n)) {
        /* a percent-encoded layer inside the text (double encoding): decode, look, re-encode */
        struct tide_buf d, x;
        tide_buf_init(&d, 0);
        tide_buf_init(&x, 0);
        if (tide_percent_decode(&d, o->p + start, o->len - start)) {
            text_scan(a, d.p, d.len, &x, field, depth + 1);
            if (x.len != d.len || memcmp(x.p, d.p, d.len) != 0) {
                struct tide_buf e;
                tide_buf_init(&e, 0);
                tide_buf_append(&e, o->p + start, o->len - start);
                o->len = start;
                reencode(e.p, e.len, d.p, d.len, x.p, x.len, strcmp(field, "path") != 0, o);
                tide_buf_free(&e);
            }
        }
        tide_buf_free(&d);
        tide_buf_free(&x);
    }
    if (a->names.n && o->len > start) {
        /* replace in the part just written */
        struct tide_buf tail;
        tide_buf_init(&tail, 0);
        tide_buf_append(&tail, o->p + start, o->len - start);
        if (replace_personal(a, &tail, field)) {
            o->len = start;
            tide_buf_append(o, tail.p, tail.len);
        }
        tide_buf_free(&tail);
    }
    tide_buf_free(&kv);
}

/*
 * text_scan with a memory: user agents, referers and path segments repeat
 * endlessly, and nearly all need no change. A value that needed none is
 * remembered (with how many personal words were known then, since a word
 * learned later could make it need a change); it then costs one lookup.
 * Values that did change are not cached, so the manifest counts every
 * replacement.
 */
#define CLEAN_MAX 200000
static void scan_value(struct tide_anon *a, const char *s, size_t n, struct tide_buf *o,
                       const char *field)
{
    struct tide_strmap_ent *e;
    size_t start = o->len;
    bool added;
    int rc;
    /* short values without a possible detector hit (ids, words) cost less to
     * scan than to look up, and would churn the cache with one-off entries */
    if (n < 4 || n > 512 || (n < 16 && s[0] != '{' && s[0] != '[' && !tide__detect_maybe(s, n))) {
        text_scan(a, s, n, o, field, 0);
        return;
    }
    e = tide_strmap_get(&a->clean, tide_str_make(s, n));
    if (e && e->value == a->names.n) {
        tide_buf_append(o, s, n);
        return;
    }
    text_scan(a, s, n, o, field, 0);
    if (o->len - start == n && memcmp(o->p + start, s, n) == 0) {
        if (a->clean.n >= CLEAN_MAX) {
            tide_strmap_free(&a->clean);
            tide_strmap_init(&a->clean, 0);
        }
        e = tide_strmap_upsert(&a->clean, tide_str_make(s, n), &added, &rc);
        if (e)
            e->value = a->names.n;
    }
}

/* ---- values by rule ------------------------------------------------------------------ */

/*
 * Applies act to a (decoded) value; appends the result to o. Returns false
 * when the value must be dropped. json_string: the value is a JSON string
 * (a pseudonym of digits stays digits either way).
 */
static bool apply(struct tide_anon *a, int act, const char *s, size_t n, struct tide_buf *o,
                  const char *field)
{
    struct tide_str r;
    switch (act) {
    case ACT_KEEP:
        tide_buf_append(o, s, n);
        count(a, field, "kept (allowlist)");
        return true;
    case ACT_DROP:
        count(a, field, "dropped");
        return false;
    case ACT_REDACT:
        tide_buf_append(o, "[redacted]", 10);
        count(a, field, "redacted");
        return true;
    case ACT_SECRET:
        if (n == 0) {
            return true;
        }
        r = tide__pseudo(a->ps, tide__is_uuid(s, n) ? SH_UUID : SH_TOKEN, tide_str_make(s, n));
        tide_buf_append(o, r.p, r.len);
        count(a, field, "secret tokenized");
        return true;
    case ACT_TRUNCATE:
        tide_buf_append(o, s, n > 8 ? 8 : n);
        count(a, field, "truncated");
        return true;
    case ACT_GENERALIZE:
        r = generalize(a, s, n);
        tide_buf_append(o, r.p, r.len);
        count(a, field, "generalized");
        return true;
    case ACT_PSEUDONYMIZE: {
        bool ch;
        if (n == 0)
            return true;
        if (tide_is_ip(s, n))
            r = tide__pseudo_ip(a->ps, tide_str_make(s, n), &ch);
        else
            r = personal(a, s, n);
        tide_buf_append(o, r.p, r.len);
        count(a, field, "pseudonymized");
        return true;
    }
    default:
        scan_value(a, s, n, o, field);
        return true;
    }
}

/* ---- JSON -------------------------------------------------------------------------- */

static bool json_walk(struct tide_anon *a, cJSON *node, int inherited, const char *field);

static bool json_leaf(struct tide_anon *a, cJSON *node, int act, const char *field)
{
    struct tide_buf o;
    bool keep;
    if (cJSON_IsString(node)) {
        size_t n = strlen(node->valuestring);
        tide_buf_init(&o, 0);
        keep = apply(a, act, node->valuestring, n, &o, field);
        if (keep && (o.len != n || memcmp(o.p ? o.p : "", node->valuestring, n) != 0)) {
            tide_buf_putc(&o, 0);
            cJSON_SetValuestring(node, o.p);
        }
        tide_buf_free(&o);
        return keep;
    }
    if (cJSON_IsNumber(node) && act != ACT_NONE && act != ACT_SCAN && act != ACT_KEEP) {
        char num[64];
        if (act == ACT_DROP) {
            count(a, field, "dropped");
            return false;
        }
        snprintf(num, sizeof(num), "%.0f", node->valuedouble < 0 ? -node->valuedouble : node->valuedouble);
        if (act == ACT_GENERALIZE) {
            count(a, field, "generalized");
            return true;
        }
        {
            struct tide_str r = tide__pseudo(a->ps, SH_DIGITS, tide_str_c(num));
            char b[64];
            snprintf(b, sizeof(b), "%.*s", (int)r.len, r.p);
            cJSON_SetNumberValue(node, strtod(b, NULL)); /* a number stays a number */
            count(a, field, "pseudonymized");
        }
    }
    return true;
}

/* The rule for a JSON member: its dotted path from the body root first
 * ("student.name"; arrays are transparent), then its own key. */
static int json_rule(struct tide_anon *a, const char *path, const char *key)
{
    int k = path[0] ? tide__policy_field(a->p, path, strlen(path)) : ACT_NONE;
    return k ? k : tide__policy_field(a->p, key, strlen(key));
}

/* Appends ".key" to the path (or leaves it when too deep to name). */
static size_t path_push(char *path, size_t cap, size_t len, const char *key)
{
    size_t kl = strlen(key);
    if (len + kl + 2 >= cap)
        return len;
    if (len)
        path[len++] = '.';
    memcpy(path + len, key, kl);
    path[len + kl] = 0;
    return len + kl;
}

/* A member's name is structure and kept, but not personal data in it: a
 * map keyed by students' emails ({"jane@school.edu": 93}) gets its names'
 * detector hits replaced, as in free text. */
static void json_key(struct tide_anon *a, cJSON *c, const char *field)
{
    struct tide_buf x;
    size_t n = strlen(c->string);
    if ((c->type & cJSON_StringIsConst) || !tide__detect_maybe(c->string, n))
        return;
    tide_buf_init(&x, 0);
    text_scan(a, c->string, n, &x, field, 0);
    if (x.len != n || memcmp(x.p, c->string, n) != 0) {
        char *k = cJSON_malloc(x.len + 1);
        if (k) {
            memcpy(k, x.p, x.len);
            k[x.len] = 0;
            cJSON_free(c->string);
            c->string = k;
        }
    }
    tide_buf_free(&x);
}

static bool json_walk_at(struct tide_anon *a, cJSON *node, int inherited, const char *field, char *path,
                         size_t plen)
{
    cJSON *c, *next;
    if (cJSON_IsObject(node) || cJSON_IsArray(node)) {
        for (c = node->child; c; c = next) {
            int act = inherited;
            size_t l = plen;
            next = c->next;
            if (c->string) {
                int k;
                l = path_push(path, 512, plen, c->string);
                k = json_rule(a, path, c->string);
                if (k)
                    act = k;
                json_key(a, c, field);
            }
            if (!json_walk_at(a, c, act, field, path, l))
                cJSON_DetachItemViaPointer(node, c), cJSON_Delete(c);
            path[plen] = 0;
        }
        return true;
    }
    return json_leaf(a, node, inherited == ACT_NONE ? a->p->json_default : inherited, field);
}

static bool json_walk(struct tide_anon *a, cJSON *node, int inherited, const char *field)
{
    char path[512] = "";
    return json_walk_at(a, node, inherited, field, path, 0);
}

/* Collects personal values in a JSON tree (pre-pass). */
static void json_collect_at(struct tide_anon *a, cJSON *node, int inherited, char *path, size_t plen)
{
    cJSON *c;
    if (cJSON_IsObject(node) || cJSON_IsArray(node)) {
        for (c = node->child; c; c = c->next) {
            int act = inherited;
            size_t l = plen;
            if (c->string) {
                int k;
                l = path_push(path, 512, plen, c->string);
                k = json_rule(a, path, c->string);
                if (k)
                    act = k;
            }
            json_collect_at(a, c, act, path, l);
            path[plen] = 0;
        }
    } else if (cJSON_IsString(node) && inherited == ACT_PSEUDONYMIZE) {
        const char *s = node->valuestring;
        size_t n = strlen(s);
        if (!tide_is_ip(s, n))
            remember(a, s, n, pseudo(a, shape_of(s, n), s, n));
    }
}

static void json_collect(struct tide_anon *a, cJSON *node, int inherited)
{
    char path[512] = "";
    json_collect_at(a, node, inherited, path, 0);
}

static void json_text(struct tide_anon *a, const char *s, size_t n, struct tide_buf *o,
                      const char *field, int inherited, bool *changed)
{
    cJSON *root = cJSON_ParseWithLength(s, n);
    char *txt;
    if (!root)
        return;
    json_walk(a, root, inherited, field);
    txt = cJSON_PrintUnformatted(root);
    if (txt) {
        *changed = strlen(txt) != n || memcmp(txt, s, n) != 0;
        tide_buf_append(o, txt, strlen(txt));
        free(txt);
    }
    cJSON_Delete(root);
}

/*
 * Walks the members of a JSON text that does not parse as a whole (a body cut
 * at --max-body, or malformed): each "key": value found by its tokens, with
 * the key of the nearest enclosing member (a rule on "guardian" covers
 * "guardian": {"name": ...}). A string value cut by the end runs to the end.
 */
void tide__json_members(const char *s, size_t n, void (*fn)(void *u, const struct tide__jm *m), void *u)
{
    struct {
        const char *k;
        size_t kl;
    } st[32];
    int depth = 0;
    const char *lk = NULL; /* the last key seen whose value is not yet taken */
    size_t lkl = 0, i = 0;
    while (i < n) {
        char c = s[i];
        if (c == '"') {
            size_t j = i + 1, k;
            while (j < n && s[j] != '"')
                j += s[j] == '\\' ? 2 : 1;
            if (j > n)
                j = n;
            k = j + 1;
            while (k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r' || s[k] == '\n'))
                k++;
            if (k < n && s[k] == ':') { /* a key */
                lk = s + i + 1;
                lkl = j - i - 1;
                k++;
                while (k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r' || s[k] == '\n'))
                    k++;
                if (k < n && s[k] != '{' && s[k] != '[') {
                    struct tide__jm m;
                    m.key = lk;
                    m.klen = lkl;
                    m.parent = depth ? st[depth - 1].k : NULL;
                    m.plen = depth ? st[depth - 1].kl : 0;
                    if (s[k] == '"') {
                        size_t e = k + 1;
                        while (e < n && s[e] != '"')
                            e += s[e] == '\\' ? 2 : 1;
                        if (e > n)
                            e = n;
                        m.vs = k + 1;
                        m.vl = e - k - 1;
                        m.quoted = true;
                        i = e + 1;
                    } else {
                        size_t e = k;
                        while (e < n && !strchr(",}] \t\r\n", s[e]))
                            e++;
                        m.vs = k;
                        m.vl = e - k;
                        m.quoted = false;
                        i = e;
                    }
                    lk = NULL;
                    fn(u, &m);
                    continue;
                }
                i = k;
                continue;
            }
            i = j + 1; /* a string that is no key: an array's element */
            continue;
        }
        if (c == '{' || c == '[') {
            if (depth < 32) {
                /* a member's container takes its key; an array's element its parent's */
                st[depth].k = lk ? lk : depth ? st[depth - 1].k : NULL;
                st[depth].kl = lk ? lkl : depth ? st[depth - 1].kl : 0;
                depth++;
            }
            lk = NULL;
        } else if ((c == '}' || c == ']') && depth > 0) {
            depth--;
        }
        i++;
    }
}

struct jm_out {
    struct tide_anon *a;
    const char *s;
    struct tide_buf *o;
    size_t at; /* written up to */
    const char *field;
    int depth;
};

static void jm_member(void *u, const struct tide__jm *m)
{
    struct jm_out *j = u;
    struct tide_anon *a = j->a;
    struct tide_buf v;
    int act = tide__policy_field(a->p, m->key, m->klen);
    if (!act && m->parent)
        act = tide__policy_field(a->p, m->parent, m->plen);
    if (!act)
        act = a->p->json_default;
    /* what lies between members (keys, punctuation, an array's strings) is text */
    text_scan_j(a, j->s + j->at, m->vs - j->at, j->o, j->field, j->depth, false);
    tide_buf_init(&v, 0);
    if (!m->quoted && act == ACT_SECRET)
        act = ACT_PSEUDONYMIZE; /* a number stays a number */
    if (!m->quoted && act != ACT_DROP && act != ACT_PSEUDONYMIZE) {
        tide_buf_append(&v, j->s + m->vs, m->vl); /* a number, true, false, null */
    } else if (!apply(a, act, j->s + m->vs, m->vl, &v, j->field)) {
        if (!m->quoted)
            tide_buf_putc(&v, '0'); /* dropped: the member stays, its value goes */
    }
    tide_buf_append(j->o, v.p ? v.p : "", v.len);
    tide_buf_free(&v);
    j->at = m->vs + m->vl;
}

/* Pre-pass: the personal values of a JSON text that does not parse. */
static void jm_collect(void *u, const struct tide__jm *m)
{
    struct jm_out *j = u;
    int act = tide__policy_field(j->a->p, m->key, m->klen);
    if (!act && m->parent)
        act = tide__policy_field(j->a->p, m->parent, m->plen);
    if (act == ACT_PSEUDONYMIZE && m->vl && !tide_is_ip(j->s + m->vs, m->vl))
        remember(j->a, j->s + m->vs, m->vl, personal(j->a, j->s + m->vs, m->vl));
}

/* A JSON body that does not parse (cut at --max-body): member by member as
 * far as its tokens go, each value by its key's rule; the rest as text. */
static void json_broken(struct tide_anon *a, const char *s, size_t n, struct tide_buf *o, const char *field,
                        int depth)
{
    struct jm_out j = {a, s, o, 0, field, depth};
    tide__json_members(s, n, jm_member, &j);
    text_scan_j(a, s + j.at, n - j.at, o, field, depth, false);
}

/* ---- query strings and forms ------------------------------------------------------------ */

/* Pre-pass: personal values in k=v&... */
static void query_collect(struct tide_anon *a, const char *s, size_t n)
{
    size_t i = 0;
    struct tide_buf d;
    tide_buf_init(&d, 0);
    while (i < n) {
        const char *amp = memchr(s + i, '&', n - i), *eq;
        size_t end = amp ? (size_t)(amp - s) : n;
        eq = memchr(s + i, '=', end - i);
        if (eq) {
            size_t kl = (size_t)(eq - (s + i));
            int act = tide__policy_field(a->p, s + i, kl);
            if (act == ACT_PSEUDONYMIZE) {
                tide_buf_reset(&d);
                tide_percent_decode(&d, eq + 1, end - (size_t)(eq + 1 - s));
                if (d.len && !tide_is_ip(d.p, d.len))
                    remember(a, d.p, d.len, pseudo(a, shape_of(d.p, d.len), d.p, d.len));
            } else if (act == ACT_NONE) {
                /* JSON inside a query value */
                tide_buf_reset(&d);
                tide_percent_decode(&d, eq + 1, end - (size_t)(eq + 1 - s));
                if (d.len > 1 && (d.p[0] == '{' || d.p[0] == '[')) {
                    cJSON *j = cJSON_ParseWithLength(d.p, d.len);
                    if (j)
                        json_collect(a, j, ACT_NONE);
                    cJSON_Delete(j);
                }
            }
        }
        i = end + 1;
    }
    tide_buf_free(&d);
}

/* A query key is structure and kept, but not personal data in it:
 * "?jane@school.edu=1", "/verify?jane@school.edu" (the key's detector hits
 * are replaced, as in free text). */
static void query_key(struct tide_anon *a, const char *k, size_t kn, struct tide_buf *o, const char *field)
{
    struct tide_buf d, x;
    if (!tide__detect_maybe(k, kn) && !memchr(k, '%', kn)) {
        tide_buf_append(o, k, kn);
        return;
    }
    tide_buf_init(&d, 0);
    tide_buf_init(&x, 0);
    tide_percent_decode(&d, k, kn);
    text_scan(a, d.p ? d.p : "", d.len, &x, field, 0);
    if (x.len == d.len && (d.len == 0 || memcmp(x.p, d.p, d.len) == 0))
        tide_buf_append(o, k, kn);
    else
        reencode(k, kn, d.p, d.len, x.p, x.len, true, o);
    tide_buf_free(&d);
    tide_buf_free(&x);
}

static struct tide_str query_rewrite(struct tide_anon *a, const char *s, size_t n, int dflt,
                                     const char *field)
{
    struct tide_buf o, d, v;
    size_t i = 0;
    bool first = true;
    struct tide_str r;
    tide_buf_init(&o, 0);
    tide_buf_init(&d, 0);
    tide_buf_init(&v, 0);
    while (i < n) {
        const char *amp = memchr(s + i, '&', n - i), *eq;
        size_t end = amp ? (size_t)(amp - s) : n, kl;
        int act;
        bool encoded;
        eq = memchr(s + i, '=', end - i);
        kl = eq ? (size_t)(eq - (s + i)) : end - i;
        act = tide__policy_field(a->p, s + i, kl);
        if (!act)
            act = dflt;
        if (!eq) { /* a bare key: kept (key names are structure) */
            if (act != ACT_DROP) {
                if (!first)
                    tide_buf_putc(&o, '&');
                query_key(a, s + i, kl, &o, field);
                first = false;
            }
            i = end + 1;
            continue;
        }
        tide_buf_reset(&d);
        tide_buf_reset(&v);
        encoded = tide_percent_decode(&d, eq + 1, end - (size_t)(eq + 1 - s));
        if (apply(a, act, d.p ? d.p : "", d.len, &v, field)) {
            if (!first)
                tide_buf_putc(&o, '&');
            first = false;
            query_key(a, s + i, kl, &o, field);
            tide_buf_putc(&o, '=');
            if (v.len == d.len && (d.len == 0 || memcmp(v.p, d.p, d.len) == 0))
                tide_buf_append(&o, eq + 1, end - (size_t)(eq + 1 - s)); /* unchanged: same bytes */
            else if (encoded)
                reencode(eq + 1, end - (size_t)(eq + 1 - s), d.p, d.len, v.p, v.len, true, &o);
            else if (memchr(v.p, '&', v.len) || memchr(v.p, '=', v.len) || memchr(v.p, ' ', v.len))
                pct_encode(v.p, v.len, &o, true);
            else
                tide_buf_append(&o, v.p, v.len);
        }
        i = end + 1;
    }
    r = adup(a, o.p ? o.p : "", o.len);
    tide_buf_free(&o);
    tide_buf_free(&d);
    tide_buf_free(&v);
    return r;
}

/* ---- multipart/form-data ------------------------------------------------------------------ */

static const char *strcasestr_n(const char *h, size_t n, const char *needle)
{
    size_t k = strlen(needle), i;
    for (i = 0; i + k <= n; i++)
        if (strncasecmp(h + i, needle, k) == 0)
            return h + i;
    return NULL;
}

/* The boundary of a multipart body, from its Content-Type (quoted or not);
 * empty if it has none. */
struct tide_str tide__mp_boundary(struct tide_str ct)
{
    const char *b = ct.p ? strcasestr_n(ct.p, ct.len, "boundary=") : NULL;
    size_t i, e;
    if (!ct.p || !memmem(ct.p, ct.len, "multipart/", 10) || !b)
        return tide_str_make(NULL, 0);
    i = (size_t)(b - ct.p) + 9;
    if (i < ct.len && ct.p[i] == '"') {
        for (e = ++i; e < ct.len && ct.p[e] != '"'; e++)
            ;
    } else {
        for (e = i; e < ct.len && ct.p[e] != ';' && ct.p[e] != ' '; e++)
            ;
    }
    return e > i && e - i <= 200 ? tide_str_make(ct.p + i, e - i) : tide_str_make(NULL, 0);
}

/* The value of NAME="..." in a part's headers, or empty. */
static struct tide_str mp_param(const char *h, size_t hn, const char *name)
{
    size_t nl = strlen(name), i;
    for (i = 0; i + nl + 2 <= hn; i++) {
        if ((i == 0 || h[i - 1] == ' ' || h[i - 1] == ';') && strncasecmp(h + i, name, nl) == 0 &&
            h[i + nl] == '=' && h[i + nl + 1] == '"') {
            const char *v = h + i + nl + 2, *q = memchr(v, '"', hn - (size_t)(v - h));
            return q ? tide_str_make(v, (size_t)(q - v)) : tide_str_make(NULL, 0);
        }
    }
    return tide_str_make(NULL, 0);
}

size_t tide__mp_first(const char *s, size_t n, struct tide_str bd)
{
    size_t dl = bd.len + 2, pos;
    for (pos = 0; pos + dl <= n; pos++) /* at the start or after a line end */
        if (s[pos] == '-' && s[pos + 1] == '-' && memcmp(s + pos + 2, bd.p, bd.len) == 0 &&
            (pos == 0 || s[pos - 1] == '\n'))
            return pos;
    return n;
}

bool tide__mp_part(const char *s, size_t n, struct tide_str bd, size_t at, struct tide__mp_part *pt)
{
    size_t dl = bd.len + 2, he;
    const char *le, *e1, *e2;
    /* at: a delimiter line; "--" after it closes the body */
    if (at >= n || (at + dl + 2 <= n && s[at + dl] == '-' && s[at + dl + 1] == '-'))
        return false;
    pt->at = at;
    le = at + dl <= n ? memchr(s + at + dl, '\n', n - at - dl) : NULL;
    pt->ps = le ? (size_t)(le - s) + 1 : n;
    /* the part runs to the line end before the next delimiter */
    for (pt->next = pt->ps; pt->next + dl <= n; pt->next++)
        if (s[pt->next] == '-' && s[pt->next + 1] == '-' && memcmp(s + pt->next + 2, bd.p, bd.len) == 0 &&
            pt->next > 0 && s[pt->next - 1] == '\n')
            break;
    if (pt->next + dl > n)
        pt->next = n;
    pt->pe = pt->next;
    if (pt->pe < n && pt->pe > pt->ps && s[pt->pe - 1] == '\n') {
        pt->pe--;
        if (pt->pe > pt->ps && s[pt->pe - 1] == '\r')
            pt->pe--;
    }
    /* its headers end at the first empty line */
    e1 = memmem(s + pt->ps, pt->pe - pt->ps, "\r\n\r\n", 4);
    e2 = memmem(s + pt->ps, pt->pe - pt->ps, "\n\n", 2);
    if (e1 && (!e2 || e1 < e2)) {
        he = (size_t)(e1 - s);
        pt->body_at = he + 4;
    } else if (e2) {
        he = (size_t)(e2 - s);
        pt->body_at = he + 2;
    } else {
        he = pt->body_at = pt->pe; /* headers only */
    }
    pt->name = mp_param(s + pt->ps, he - pt->ps, "name");
    pt->fname = mp_param(s + pt->ps, he - pt->ps, "filename");
    return true;
}

/*
 * A multipart/form-data body, part by part (an essay uploaded with the
 * student's name and email beside it). The delimiters are structure and kept
 * as they were (they must match the Content-Type's boundary, which is kept);
 * a part's headers are scanned (a filename may name someone); its content is
 * treated by the part's name as a form field is: a "password" part is dropped
 * whole, an "email" part pseudonymized, what no rule names scanned. With
 * collect, only the personal values are learned (the pre-pass). False if the
 * body is not one (no delimiter): the caller scans it as text.
 */
static bool multipart(struct tide_anon *a, const char *s, size_t n, struct tide_str bd, struct tide_buf *o,
                      bool collect)
{
    struct tide_buf v;
    struct tide__mp_part pt;
    size_t at = tide__mp_first(s, n, bd);
    if (at == n)
        return false;
    tide_buf_init(&v, 0);
    if (!collect)
        text_scan(a, s, at, o, "multipart body", 0); /* a preamble, if any */
    for (; tide__mp_part(s, n, bd, at, &pt); at = pt.next) {
        size_t cl = pt.pe > pt.body_at ? pt.pe - pt.body_at : 0;
        int act = pt.name.len ? tide__policy_field(a->p, pt.name.p, pt.name.len) : ACT_NONE;
        if (!act)
            act = pt.fname.len ? ACT_SCAN : a->p->form_default;
        if (collect) {
            if (act == ACT_PSEUDONYMIZE && cl && !tide_is_ip(s + pt.body_at, cl))
                remember(a, s + pt.body_at, cl, personal(a, s + pt.body_at, cl));
            continue;
        }
        tide_buf_reset(&v);
        if (apply(a, act, s + pt.body_at, cl, &v, "multipart body")) {
            tide_buf_append(o, s + at, pt.ps - at); /* the delimiter line */
            text_scan(a, s + pt.ps, pt.body_at - pt.ps, o, "multipart body", 0);
            tide_buf_append(o, v.p ? v.p : "", v.len);
            tide_buf_append(o, s + pt.pe, pt.next - pt.pe); /* the line end before the next delimiter */
        }
    }
    if (at < n && !collect) { /* the closing delimiter, and an epilogue if any */
        tide_buf_append(o, s + at, bd.len + 4);
        text_scan(a, s + at + bd.len + 4, n - at - bd.len - 4, o, "multipart body", 0);
    }
    tide_buf_free(&v);
    return true;
}

/* ---- paths ------------------------------------------------------------------------------ */

static bool is_parent(const struct tide_anon_policy *p, const char *s, size_t n)
{
    char k[64];
    tide__norm(s, n, k);
    return tide_strmap_get(&p->parent_map, tide_str_c(k)) != NULL;
}

/* Whether a segment after a person-like parent is a route's own word, not a
 * person (/users/me/settings, /users/new, /students/search): kept, so that
 * replayed requests reach the same route. Compared up to an extension
 * (search.json), in lower case. */
static bool route_word(const char *s, size_t n)
{
    static const char *const W[] = {
        "account", "active", "add", "all", "api", "auth", "autocomplete", "avatar", "batch", "bulk",
        "callback", "confirm", "count", "create", "current", "dashboard", "delete", "edit", "export",
        "feed", "filter", "find", "home", "import", "inactive", "index", "invitations", "invite", "invites",
        "list", "login", "logout", "lookup", "me", "mine", "new", "notifications", "online", "page",
        "password", "permissions", "photo", "picture", "popular", "preferences", "profile", "recent",
        "register", "reset", "roles", "search", "self", "session", "sessions", "settings", "show", "signin",
        "signout", "signup", "sort", "stats", "suggest", "summary", "top", "update", "verify"};
    const char *dot = memchr(s, '.', n);
    return tide__word_listed(W, sizeof(W) / sizeof(W[0]), s, dot ? (size_t)(dot - s) : n);
}

/* Segment index i of path template t is a placeholder? */
static bool tmpl_placeholder(const struct tide_anon_policy *p, const char *path, size_t n,
                             int seg)
{
    size_t t;
    for (t = 0; t < p->n_paths; t++) {
        const char *tp = p->paths[t].tmpl;
        int si = 0;
        size_t i = 0, j = 0;
        bool match = true, hole = false;
        /* walk both segment lists in step */
        while (match && (i < n || tp[j])) {
            size_t ie = i, je = j;
            while (ie < n && path[ie] != '/')
                ie++;
            while (tp[je] && tp[je] != '/')
                je++;
            if ((i >= n) != (!tp[j])) {
                match = false;
                break;
            }
            if (je > j && tp[j] == '{') {
                if (si == seg)
                    hole = true;
            } else if (ie - i != je - j || memcmp(path + i, tp + j, ie - i) != 0) {
                match = false;
            }
            si++;
            i = ie < n ? ie + 1 : ie;
            j = tp[je] ? je + 1 : je;
            if (i >= n && !tp[j])
                break;
        }
        if (match && hole)
            return true;
    }
    return false;
}

void tide__path_personal(const struct tide_anon_policy *p, const char *s, size_t n,
                         void (*fn)(void *u, const char *seg, size_t len), void *u)
{
    size_t i = 0, prev_s = 0, prev_n = 0;
    int seg = 0;
    while (i <= n) {
        size_t e = i;
        while (e < n && s[e] != '/')
            e++;
        if (e > i && ((prev_n && is_parent(p, s + prev_s, prev_n) && !route_word(s + i, e - i)) ||
                      tmpl_placeholder(p, s, n, seg)))
            fn(u, s + i, e - i);
        prev_s = i;
        prev_n = e - i;
        seg++;
        i = e + 1;
    }
}

static void path_remember(void *u, const char *seg, size_t len)
{
    struct tide_anon *a = u;
    /* ids that are numbers are not remembered (see remember): skip the work */
    if (!all_digits(seg, len))
        remember(a, seg, len, personal(a, seg, len));
}

static void path_collect(struct tide_anon *a, const char *s, size_t n)
{
    tide__path_personal(a->p, s, n, path_remember, a);
}

static struct tide_str path_rewrite(struct tide_anon *a, const char *s, size_t n)
{
    struct tide_buf o;
    size_t i = 0, prev_s = 0, prev_n = 0;
    int seg = 0;
    struct tide_str r;
    tide_buf_init(&o, 0);
    while (i <= n) {
        size_t e = i;
        while (e < n && s[e] != '/')
            e++;
        if (e > i) {
            if ((prev_n && is_parent(a->p, s + prev_s, prev_n) && !route_word(s + i, e - i)) ||
                tmpl_placeholder(a->p, s, n, seg)) {
                struct tide_str ps = personal(a, s + i, e - i);
                tide_buf_append(&o, ps.p, ps.len);
                count(a, "path", "id pseudonymized");
            } else if (!memchr(s + i, '%', e - i)) {
                scan_value(a, s + i, e - i, &o, "path"); /* nothing to decode */
            } else {
                struct tide_buf d;
                tide_buf_init(&d, 0);
                if (tide_percent_decode_path(&d, s + i, e - i)) {
                    struct tide_buf x;
                    tide_buf_init(&x, 0);
                    text_scan(a, d.p, d.len, &x, "path", 0);
                    if (x.len == d.len && memcmp(x.p, d.p, d.len) == 0)
                        tide_buf_append(&o, s + i, e - i);
                    else
                        reencode(s + i, e - i, d.p, d.len, x.p, x.len, false, &o);
                    tide_buf_free(&x);
                } else {
                    scan_value(a, s + i, e - i, &o, "path");
                }
                tide_buf_free(&d);
            }
        }
        if (e < n)
            tide_buf_putc(&o, '/');
        prev_s = i;
        prev_n = e - i;
        seg++;
        i = e + 1;
    }
    r = adup(a, o.p ? o.p : "", o.len);
    tide_buf_free(&o);
    return r;
}

/* ---- XML and CSV bodies ------------------------------------------------------------------- */

/* A value of an XML or CSV body by its name (xmlcsv.c), or of a pair written
 * in text: with o, the policy's rule for the name is applied (a dropped value
 * leaves its element or field empty); without, a personal value is learned
 * for the pre-pass. A pseudonym is left as it is. */
static void kv_value(void *u, const char *k, size_t kl, size_t vs, size_t vl)
{
    struct kv_out *c = u;
    int act = tide__policy_field(c->a->p, k, kl);
    if (act == ACT_NONE || act == ACT_SCAN || act == ACT_KEEP || vl == 0 || tide__is_pseudonym(c->s + vs, vl) ||
        (c->o && (act == ACT_PSEUDONYMIZE || act == ACT_GENERALIZE) && memchr(c->s + vs, '%', vl)))
        return; /* scanned with the rest (an encoded personal value by its layers, which keep its encoding) */
    if (!c->o) {
        if (act == ACT_PSEUDONYMIZE)
            remember(c->a, c->s + vs, vl, personal(c->a, c->s + vs, vl));
        return;
    }
    if (vs < c->at)
        return; /* inside a value already replaced */
    tide_buf_append(c->o, c->s + c->at, vs - c->at);
    if (c->text && act == ACT_PSEUDONYMIZE && shape_of(c->s + vs, vl) == SH_CLASSES) {
        /* in text, a mixed value ("9254 N. Elm Rd") becomes a p_ word: its
         * shape-kept pseudonym is made-up words ("1136 W. Mrs Xyz") that the
         * detectors then read as a title and a name, or an address */
        struct tide_str r = pseudo(c->a, SH_NAME, c->s + vs, vl);
        tide_buf_append(c->o, r.p, r.len);
        count(c->a, c->field, "pseudonymized");
    } else {
        apply(c->a, act, c->s + vs, vl, c->o, c->field);
    }
    c->at = vs + vl;
}

/* ---- headers ------------------------------------------------------------------------------ */

static struct tide_str ip_list(struct tide_anon *a, struct tide_str v, const char *field)
{
    /* "1.2.3.4, 5.6.7.8" or Forwarded: for=1.2.3.4;proto=https */
    struct tide_buf o;
    size_t i = 0;
    struct tide_str r;
    tide_buf_init(&o, 0);
    while (i < v.len) {
        size_t j = i;
        bool ch;
        while (j < v.len && (isxdigit((unsigned char)v.p[j]) || v.p[j] == '.' || v.p[j] == ':'))
            j++;
        if (j > i) {
            struct tide_str x = tide_str_make(v.p + i, j - i), port = tide_str_make("", 0);
            struct tide_str ps = tide__pseudo_ip(a->ps, x, &ch);
            const char *c = memrchr(x.p, ':', x.len);
            const char *d = c ? c + 1 : NULL;
            while (d && d < x.p + x.len && isdigit((unsigned char)*d))
                d++;
            if (!ch && c && c > x.p && memchr(x.p, '.', (size_t)(c - x.p)) && d == x.p + x.len) {
                /* an IPv4 address with its port (Azure's X-Forwarded-For,
                 * Forwarded: for="192.0.2.7:4711"): the port stays */
                port = tide_str_make(c, (size_t)(x.p + x.len - c));
                x.len = (size_t)(c - x.p);
                ps = tide__pseudo_ip(a->ps, x, &ch);
            }
            if (ch) {
                count(a, field, "ip anonymized");
                tide_buf_append(&o, ps.p, ps.len);
            } else {
                tide_buf_append(&o, x.p, x.len);
            }
            tide_buf_append(&o, port.p, port.len);
            i = j;
        } else {
            tide_buf_putc(&o, v.p[i]);
            i++;
        }
    }
    r = adup(a, o.p ? o.p : "", o.len);
    tide_buf_free(&o);
    return r;
}

static struct tide_str cookies(struct tide_anon *a, struct tide_str v)
{
    struct tide_buf o, x;
    size_t i = 0;
    bool first = true;
    struct tide_str r;
    tide_buf_init(&o, 0);
    tide_buf_init(&x, 0);
    while (i < v.len) {
        const char *semi = memchr(v.p + i, ';', v.len - i), *eq;
        size_t end = semi ? (size_t)(semi - v.p) : v.len, ks = i, kl;
        int act;
        while (ks < end && v.p[ks] == ' ')
            ks++;
        eq = memchr(v.p + ks, '=', end - ks);
        kl = eq ? (size_t)(eq - (v.p + ks)) : end - ks;
        act = tide__policy_field(a->p, v.p + ks, kl);
        if (!act)
            act = a->p->cookie_default;
        tide_buf_reset(&x);
        if (eq && apply(a, act, eq + 1, end - (size_t)(eq + 1 - v.p), &x, "cookie")) {
            if (!first)
                tide_buf_append(&o, "; ", 2);
            first = false;
            tide_buf_append(&o, v.p + ks, kl + 1);
            tide_buf_append(&o, x.p, x.len);
        }
        i = end + 1;
    }
    r = adup(a, o.p ? o.p : "", o.len);
    tide_buf_free(&o);
    tide_buf_free(&x);
    return r;
}

/*
 * A URL in a header (Referer, Origin), by parts: the user in the authority
 * pseudonymized and a password there dropped ("https://jane:pw@host/" ->
 * "https://p_...@host/"); the path as a request's; the query and a fragment
 * by their keys' rules (an OAuth callback's "#access_token=..." is a secret
 * like "?access_token=..."), a fragment without keys scanned as text.
 */
static struct tide_str url_rewrite(struct tide_anon *a, struct tide_str v)
{
    const char *scheme = memmem(v.p, v.len, "://", 3), *q, *h;
    size_t ps = 0, qs, hs, as = 0, ae = 0;
    struct tide_buf o;
    struct tide_str path, query, frag, r;
    h = memchr(v.p, '#', v.len);
    hs = h ? (size_t)(h - v.p) : v.len;
    if (scheme) {
        as = (size_t)(scheme + 3 - v.p);
        for (ae = as; ae < hs && v.p[ae] != '/' && v.p[ae] != '?'; ae++)
            ;
        ps = ae;
    }
    q = memchr(v.p + ps, '?', hs - ps);
    qs = q ? (size_t)(q - v.p) : hs;
    path = path_rewrite(a, v.p + ps, qs - ps);
    query = q ? query_rewrite(a, q + 1, hs - qs - 1, a->p->query_default, "referer query")
              : tide_str_make("", 0);
    frag = tide_str_make("", 0);
    if (h && memchr(h + 1, '=', v.len - hs - 1)) {
        frag = query_rewrite(a, h + 1, v.len - hs - 1, a->p->query_default, "referer fragment");
    } else if (h) {
        struct tide_buf f;
        tide_buf_init(&f, 0);
        scan_value(a, h + 1, v.len - hs - 1, &f, "referer fragment");
        frag = adup(a, f.p ? f.p : "", f.len);
        tide_buf_free(&f);
    }
    tide_buf_init(&o, 0);
    {
        const char *at = ae > as ? memrchr(v.p + as, '@', ae - as) : NULL;
        if (at) {
            const char *colon = memchr(v.p + as, ':', (size_t)(at - (v.p + as)));
            size_t ul = (size_t)((colon ? colon : at) - (v.p + as));
            tide_buf_append(&o, v.p, as);
            if (ul) {
                /* a name's pseudonym: an email's would put a second '@' here */
                struct tide_str u = pseudo(a, SH_NAME, v.p + as, ul);
                tide_buf_append(&o, u.p, u.len);
                count(a, "referer user", "pseudonymized");
            }
            if (colon)
                count(a, "referer password", "dropped");
            tide_buf_append(&o, at, ps - (size_t)(at - v.p));
        } else {
            tide_buf_append(&o, v.p, ps);
        }
    }
    tide_buf_append(&o, path.p, path.len);
    if (q) {
        tide_buf_putc(&o, '?');
        tide_buf_append(&o, query.p, query.len);
    }
    if (h) {
        tide_buf_putc(&o, '#');
        tide_buf_append(&o, frag.p, frag.len);
    }
    r = adup(a, o.p ? o.p : "", o.len);
    tide_buf_free(&o);
    return r;
}

/* ---- content hashes and gzip bodies ------------------------------------------------------ */

/*
 * The hasher: SHA-256 of every record's content in and out costs as much as
 * the rest of the per-record work, and nothing waits for it until the
 * manifest. Full 1 MiB buffers go to a thread in order; the manifest waits
 * for it to catch up. Bounded: at most HQ buffers wait, then the caller waits.
 */
#define HQ 8
struct hasher {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    EVP_MD_CTX *ctx[2];
    struct {
        int k;
        struct tide_buf b;
    } q[HQ];
    size_t head, n; /* queue: q[head], ... (n of them) */
    bool busy, stop;
    struct tide_buf spare[HQ + 2]; /* emptied buffers to reuse */
    size_t n_spare;
};

static void *hasher_main(void *arg)
{
    struct hasher *h = arg;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        int k;
        struct tide_buf b;
        while (!h->n && !h->stop)
            pthread_cond_wait(&h->work, &h->mu);
        if (!h->n)
            break;
        k = h->q[h->head].k;
        b = h->q[h->head].b;
        h->head = (h->head + 1) % HQ;
        h->n--;
        h->busy = true;
        pthread_cond_broadcast(&h->done); /* a slot is free */
        pthread_mutex_unlock(&h->mu);
        EVP_DigestUpdate(h->ctx[k], b.p, b.len);
        pthread_mutex_lock(&h->mu);
        h->busy = false;
        tide_buf_reset(&b);
        if (h->n_spare < HQ + 2)
            h->spare[h->n_spare++] = b;
        else
            tide_buf_free(&b);
        pthread_cond_broadcast(&h->done);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

static struct hasher *hasher_start(EVP_MD_CTX *in, EVP_MD_CTX *out)
{
    struct hasher *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->ctx[0] = in;
    h->ctx[1] = out;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->work, NULL);
    pthread_cond_init(&h->done, NULL);
    if (pthread_create(&h->th, NULL, hasher_main, h) != 0) {
        pthread_mutex_destroy(&h->mu);
        pthread_cond_destroy(&h->work);
        pthread_cond_destroy(&h->done);
        free(h);
        return NULL;
    }
    return h;
}

/* Hands *b (full) to the thread for stream k; *b becomes an empty buffer. */
static void hasher_push(struct hasher *h, int k, struct tide_buf *b)
{
    pthread_mutex_lock(&h->mu);
    while (h->n == HQ)
        pthread_cond_wait(&h->done, &h->mu);
    h->q[(h->head + h->n) % HQ].k = k;
    h->q[(h->head + h->n) % HQ].b = *b;
    h->n++;
    if (h->n_spare)
        *b = h->spare[--h->n_spare];
    else
        tide_buf_init(b, 0);
    pthread_cond_signal(&h->work);
    pthread_mutex_unlock(&h->mu);
}

/* Waits until every handed buffer is hashed. */
static void hasher_drain(struct hasher *h)
{
    pthread_mutex_lock(&h->mu);
    while (h->n || h->busy)
        pthread_cond_wait(&h->done, &h->mu);
    pthread_mutex_unlock(&h->mu);
}

static void hasher_stop(struct hasher *h)
{
    size_t i;
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->stop = true;
    pthread_cond_signal(&h->work);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->th, NULL); /* it finishes the queue first */
    for (i = 0; i < h->n_spare; i++)
        tide_buf_free(&h->spare[i]);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->work);
    pthread_cond_destroy(&h->done);
    free(h);
}

static char *hash_str(char *o, struct tide_str s)
{
    /* length-prefixed: fields cannot run into each other */
    o[0] = (char)s.len, o[1] = (char)(s.len >> 8), o[2] = (char)(s.len >> 16), o[3] = (char)(s.len >> 24);
    if (s.len)
        memcpy(o + 4, s.p, s.len);
    return o + 4 + s.len;
}

/*
 * A record's content in a fixed order (times and numbers too), for the
 * manifest's hashes. Gathered into a buffer and hashed 1 MiB at a time:
 * SHA-256 over thirty small updates per record cost more than the rest of the
 * anonymizer's per-record work (the digest is the same either way; the
 * manifest adds what is still pending).
 */
static void hash_record(struct tide_anon *a, int k, const struct tide_record *r)
{
    struct tide_buf *b = &a->hbuf[k];
    int64_t nums[4] = {r->ts_ns, r->duration_ns, r->resp_bytes, r->status};
    const struct tide_str *f[] = {&r->method, &r->scheme, &r->host, &r->path,
                                  &r->query,  &r->version, &r->client, &r->session};
    size_t need = sizeof(nums) + 4 * (9 + 2 * (size_t)r->n_headers) + r->body.len, i;
    char *o;
    for (i = 0; i < sizeof(f) / sizeof(*f); i++)
        need += f[i]->len;
    for (i = 0; i < r->n_headers; i++)
        need += r->headers[i].name.len + r->headers[i].value.len;
    if (a->hash_failed || tide_buf_reserve(b, need)) {
        a->hash_failed = true; /* out of memory: the manifest leaves the hashes out */
        return;
    }
    o = b->p + b->len;
    memcpy(o, nums, sizeof(nums));
    o += sizeof(nums);
    for (i = 0; i < sizeof(f) / sizeof(*f); i++)
        o = hash_str(o, *f[i]);
    for (i = 0; i < r->n_headers; i++) {
        o = hash_str(o, r->headers[i].name);
        o = hash_str(o, r->headers[i].value);
    }
    o = hash_str(o, r->body);
    b->len = (size_t)(o - b->p);
    if (b->len >= (1u << 20)) {
        if (!a->hasher && !a->hasher_tried) { /* started when there is work enough for it */
            a->hasher_tried = true;
            a->hasher = hasher_start(a->in_hash, a->out_hash);
        }
        if (a->hasher) {
            hasher_push(a->hasher, k, b);
        } else {
            EVP_DigestUpdate(k ? a->out_hash : a->in_hash, b->p, b->len);
            tide_buf_reset(b);
        }
    }
}

#define GZ_MAX ((size_t)16 << 20)

/* Inflates zlib (15), gzip (16 + 15) or raw deflate (-15) data into o
 * (capped); false if it is not whole. */
static bool inflate_buf(const char *p, size_t n, int bits, struct tide_buf *o)
{
    z_stream z;
    int zr = Z_OK;
    bool ok;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, bits) != Z_OK)
        return false;
    z.next_in = (Bytef *)(uintptr_t)p;
    z.avail_in = (uInt)n;
    while (zr == Z_OK) {
        if (tide_buf_reserve(o, 65536) || o->len > GZ_MAX)
            break;
        z.next_out = (Bytef *)o->p + o->len;
        z.avail_out = 65536;
        zr = inflate(&z, Z_NO_FLUSH);
        o->len = (size_t)((char *)z.next_out - o->p);
    }
    ok = zr == Z_STREAM_END;
    inflateEnd(&z);
    return ok;
}

static bool deflate_buf(const char *p, size_t n, int bits, struct tide_buf *o)
{
    z_stream z;
    int zr;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, 6, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return false;
    if (tide_buf_reserve(o, deflateBound(&z, (uLong)n))) {
        deflateEnd(&z);
        return false;
    }
    z.next_in = (Bytef *)(uintptr_t)p;
    z.avail_in = (uInt)n;
    z.next_out = (Bytef *)o->p + o->len;
    z.avail_out = (uInt)(o->cap - o->len);
    zr = deflate(&z, Z_FINISH);
    o->len = (size_t)((char *)z.next_out - o->p);
    deflateEnd(&z);
    return zr == Z_STREAM_END;
}

int tide__body_encoding(struct tide_str ce)
{
    while (ce.len && (ce.p[0] == ' ' || ce.p[0] == '\t'))
        ce = tide_str_make(ce.p + 1, ce.len - 1);
    while (ce.len && (ce.p[ce.len - 1] == ' ' || ce.p[ce.len - 1] == '\t'))
        ce.len--;
    if (!ce.len || tide_str_is_eq_nocase_c(ce, "identity"))
        return TIDE__CE_NONE;
    if (tide_str_is_eq_nocase_c(ce, "gzip") || tide_str_is_eq_nocase_c(ce, "x-gzip"))
        return TIDE__CE_GZIP;
    if (tide_str_is_eq_nocase_c(ce, "deflate"))
        return TIDE__CE_DEFLATE;
    if (tide_str_is_eq_nocase_c(ce, "zstd"))
        return TIDE__CE_ZSTD;
    return TIDE__CE_OTHER; /* br, compress, or a list of several */
}

bool tide__body_decode(const char *p, size_t n, int ce, struct tide_buf *o)
{
    switch (ce) {
    case TIDE__CE_GZIP:
        return inflate_buf(p, n, 16 + 15, o);
    case TIDE__CE_DEFLATE: /* zlib, as HTTP says; some send raw deflate */
        if (inflate_buf(p, n, 15, o))
            return true;
        o->len = 0;
        return inflate_buf(p, n, -15, o);
    case TIDE__CE_ZSTD: {
        ZSTD_DStream *zd = ZSTD_createDStream();
        ZSTD_inBuffer in = {p, n, 0};
        size_t r = 1;
        if (!zd)
            return false;
        while (r != 0 && !ZSTD_isError(r) && o->len <= GZ_MAX) {
            ZSTD_outBuffer out;
            if (tide_buf_reserve(o, 65536))
                break;
            out = (ZSTD_outBuffer){o->p + o->len, 65536, 0};
            r = ZSTD_decompressStream(zd, &out, &in);
            o->len += out.pos;
            if (!ZSTD_isError(r) && r != 0 && in.pos == in.size && out.pos < out.size)
                break; /* cut short */
        }
        ZSTD_freeDStream(zd);
        return r == 0;
    }
    default:
        return false;
    }
}

/* Encodes o's anonymized body again as it came (z: the result). */
static bool body_encode(const char *p, size_t n, int ce, struct tide_buf *z)
{
    switch (ce) {
    case TIDE__CE_GZIP:
        return deflate_buf(p, n, 16 + 15, z);
    case TIDE__CE_DEFLATE:
        return deflate_buf(p, n, 15, z);
    case TIDE__CE_ZSTD: {
        size_t bound = ZSTD_compressBound(n), r;
        if (tide_buf_reserve(z, bound))
            return false;
        r = ZSTD_compress(z->p + z->len, bound, p, n, 3);
        if (ZSTD_isError(r))
            return false;
        z->len += r;
        return true;
    }
    default:
        return false;
    }
}

/* ---- the record ------------------------------------------------------------------------- */

int tide_anon_create(struct tide_anon **out, const struct tide_anon_policy *p,
                     const struct tide_anon_opts *o, struct tide_err *err)
{
    struct tide_anon *a = calloc(1, sizeof(*a));
    int ip_mode;
    *out = NULL;
    if (!a)
        return tide_err_set(err, TIDE_E_NOMEM, "", "out of memory");
    a->p = p;
    a->o = *o;
    ip_mode = o->ip_mode >= 0 ? o->ip_mode : p->ip_mode;
    a->o.ip_mode = ip_mode;
    if (tide__pseudo_create(&a->ps, o->key, ip_mode)) {
        free(a);
        return tide_err_set(err, TIDE_E_INTERNAL, "", "cannot set up keyed pseudonyms (libcrypto)");
    }
    if (o->time_shift)
        a->shift_ns = (int64_t)tide__pseudo_weeks(a->ps) * 7 * 86400 * TIDE_NS_PER_SEC;
    tide_arena_init(&a->arena, 0);
    tide_strmap_init(&a->counts, 10000);
    tide_strmap_init(&a->names, 0);
    tide_strmap_init(&a->clean, 0);
    tide_buf_init(&a->hbuf[0], 0);
    tide_buf_init(&a->hbuf[1], 0);
    tide_strmap_init(&a->hinfo, 0);
    tide_key_fingerprint(o->key, a->fingerprint);
    a->in_hash = EVP_MD_CTX_new();
    a->out_hash = EVP_MD_CTX_new();
    if (!a->in_hash || !a->out_hash || !EVP_DigestInit_ex(a->in_hash, EVP_sha256(), NULL) ||
        !EVP_DigestInit_ex(a->out_hash, EVP_sha256(), NULL)) {
        tide_anon_free(a);
        return tide_err_set(err, TIDE_E_INTERNAL, "", "cannot set up SHA-256 (libcrypto)");
    }
    *out = a;
    return 0;
}

void tide_anon_set_next(struct tide_anon *a, struct tide_sink next) { a->next = next; }
uint64_t tide_anon_records(const struct tide_anon *a) { return a->records; }

static bool header_is(struct tide_str n, const char *s) { return tide_str_is_eq_nocase_c(n, s); }

/*
 * What the policy does with a header, and its name in the counts
 * ("header:user-agent"): worked out once per header name, not per record.
 */
struct hinfo {
    int act;
    bool url; /* Referer, Origin: a URL to rewrite by parts */
    char field[80];
};
#define HINFO_MAX 4096

static void hinfo_make(struct tide_anon *a, struct tide_str n, struct hinfo *hi)
{
    hi->act = tide__policy_header(a->p, n.p ? n.p : "", n.len);
    hi->url = header_is(n, "Referer") || header_is(n, "Origin");
    snprintf(hi->field, sizeof(hi->field), "header:%.*s", (int)(n.len > 60 ? 60 : n.len), n.p ? n.p : "");
    for (char *c = hi->field + 7; *c; c++)
        *c = (char)tolower((unsigned char)*c);
}

static const struct hinfo *header_info(struct tide_anon *a, struct tide_str n, struct hinfo *tmp)
{
    struct tide_strmap_ent *e = tide_strmap_get(&a->hinfo, n);
    bool added;
    int rc;
    if (e && e->ptr)
        return e->ptr;
    hinfo_make(a, n, tmp);
    if (a->hinfo.n >= HINFO_MAX) /* bounded: start over rather than grow */
        tide_strmap_free(&a->hinfo), tide_strmap_init(&a->hinfo, 0);
    e = tide_strmap_upsert(&a->hinfo, n, &added, &rc);
    if (!e || !(e->ptr = tide_arena_alloc(&a->hinfo.arena, sizeof(*tmp))))
        return tmp;
    memcpy(e->ptr, tmp, sizeof(*tmp));
    return e->ptr;
}

/* "k=v&k2=v2": printable, no spaces, a key and '=' first. */
bool tide__looks_like_form(const char *s, size_t n)
{
    size_t i;
    const char *eq, *amp;
    if (n < 2)
        return false;
    eq = memchr(s, '=', n);
    amp = memchr(s, '&', n);
    if (!eq || eq == s || (amp && amp < eq))
        return false;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

int tide_anon_record(struct tide_anon *a, const struct tide_record *in, struct tide_record *out,
                     struct tide_err *err)
{
    uint32_t i;
    /* the body's type decides how it is read: only looked up if there is one */
    struct tide_str ctype = in->body.len ? tide_record_header(in, "Content-Type")
                                         : tide_str_make(NULL, 0);
    bool json_body = false, form_body = false, encoded = false;
    tide__kv_reader kv = NULL; /* an XML or CSV body: values by their names */
    struct tide_str mp = tide_str_make(NULL, 0), body = in->body;
    struct tide_buf dec; /* the body decoded (gzip, deflate, zstd) */
    int ce = TIDE__CE_NONE;
    tide_arena_reset(&a->arena);
    tide_buf_init(&dec, 0);
    if (body.len) {
        /* the body as it reads, before anything is looked for in it */
        struct tide_str cenc = tide_record_header(in, "Content-Encoding");
        ce = cenc.p ? tide__body_encoding(cenc) : TIDE__CE_NONE;
        if (ce == TIDE__CE_OTHER) {
            /* br, compress, several: what cannot be looked into is not kept */
            count(a, "body", "dropped (a Content-Encoding tide does not read)");
            body = tide_str_make("", 0);
        } else if (ce != TIDE__CE_NONE) {
            /* gzip, deflate, zstd: look inside, and encode the result again */
            if (tide__body_decode(body.p, body.len, ce, &dec)) {
                body = tide_str_make(dec.p ? dec.p : "", dec.len);
                encoded = true;
            } else {
                count(a, "body", "dropped (compressed data that does not decode)");
                body = tide_str_make("", 0);
            }
        }
    }
    if (in->n_headers > a->cap_hdrs) {
        struct tide_header *nh = realloc(a->hdrs, in->n_headers * sizeof(*nh));
        if (!nh) {
            tide_buf_free(&dec);
            return tide_err_set(err, TIDE_E_NOMEM, "", "out of memory");
        }
        a->hdrs = nh;
        a->cap_hdrs = in->n_headers;
    }
    *out = *in;
    out->headers = a->hdrs;
    out->n_headers = 0;
    if (ctype.p && memmem(ctype.p, ctype.len, "json", 4))
        json_body = true;
    else if (ctype.p && memmem(ctype.p, ctype.len, "x-www-form-urlencoded", 21))
        form_body = true;
    else if (ctype.p && (mp = tide__mp_boundary(ctype)).len)
        ;
    else if (body.len > 1 && (body.p[0] == '{' || body.p[0] == '['))
        json_body = true;
    else if (!ctype.p && tide__looks_like_form(body.p, body.len))
        form_body = true; /* a body from a log ($request_body): no Content-Type to tell */
    else
        kv = tide__kv_reader_for(ctype, body.p, body.len);

    /* pre-pass: personal values anywhere in the record (a compressed body's
     * as it decodes: they were looked for in its compressed bytes) */
    path_collect(a, in->path.p ? in->path.p : "", in->path.len);
    query_collect(a, in->query.p ? in->query.p : "", in->query.len);
    if (form_body)
        query_collect(a, body.p, body.len);
    if (mp.len && body.len <= a->p->max_body)
        multipart(a, body.p, body.len, mp, NULL, true);
    if (kv && body.len <= a->p->max_body) {
        struct kv_out ko = {a, body.p, NULL, 0, NULL, false};
        kv(body.p, body.len, kv_value, &ko);
    }
    if (json_body && body.len <= a->p->max_body) {
        cJSON *j = cJSON_ParseWithLength(body.p, body.len);
        if (j) {
            json_collect(a, j, ACT_NONE);
        } else {
            struct jm_out jo = {a, body.p, NULL, 0, "json body", 0};
            tide__json_members(body.p, body.len, jm_collect, &jo);
        }
        cJSON_Delete(j);
    }

    out->ts_ns = in->ts_ns - a->shift_ns;
    out->path = path_rewrite(a, in->path.p ? in->path.p : "", in->path.len);
    out->query = query_rewrite(a, in->query.p ? in->query.p : "", in->query.len,
                               a->p->query_default, "query");
    if (in->client.len) {
        bool ch;
        struct tide_str c = tide__pseudo_ip(a->ps, in->client, &ch);
        out->client = ch ? adup(a, c.p, c.len) : pseudo(a, SH_NAME, in->client.p, in->client.len);
        count(a, "client", ch ? "ip anonymized" : "pseudonymized");
    }
    if (in->session.len) {
        out->session = pseudo(a, SH_TOKEN, in->session.p, in->session.len);
        count(a, "session", "secret tokenized");
    }
    for (i = 0; i < in->n_headers; i++) {
        const struct tide_header *h = &in->headers[i];
        struct hinfo hi_tmp;
        const struct hinfo *hi = header_info(a, h->name, &hi_tmp);
        int act = hi->act;
        const char *field = hi->field;
        struct tide_buf o;
        struct tide_header *oh = &out->headers[out->n_headers];
        oh->name = h->name;
        switch (act) {
        case ACT_IP:
            oh->value = ip_list(a, h->value, field);
            break;
        case ACT_COOKIES:
            oh->value = cookies(a, h->value);
            break;
        case ACT_SCAN:
            if (hi->url) {
                oh->value = url_rewrite(a, h->value);
                break;
            }
            /* fall through */
        default:
            tide_buf_init(&o, 0);
            if (!apply(a, act, h->value.p ? h->value.p : "", h->value.len, &o, field)) {
                tide_buf_free(&o);
                continue;
            }
            oh->value = adup(a, o.p ? o.p : "", o.len);
            tide_buf_free(&o);
        }
        out->n_headers++;
    }
    if (in->body.len) {
        struct tide_buf o;
        tide_buf_init(&o, 0);
        if (body.len > a->p->max_body) {
            count(a, "body", "dropped (over max_bytes)");
            out->body = tide_str_make("", 0);
            out->flags |= TIDE_REC_BODY_TRUNCATED;
        } else {
            bool changed = false;
            if (json_body) {
                json_text(a, body.p, body.len, &o, "json body", ACT_NONE, &changed);
                if (o.len == 0 && body.len && (body.p[0] == '{' || body.p[0] == '['))
                    json_broken(a, body.p, body.len, &o, "json body", 0);
            }
            if (o.len == 0) {
                if (form_body) {
                    struct tide_str q = query_rewrite(a, body.p, body.len, a->p->form_default, "form body");
                    tide_buf_append(&o, q.p, q.len);
                } else if (mp.len && multipart(a, body.p, body.len, mp, &o, false)) {
                    ;
                } else if (kv) {
                    /* values by their names first, then the whole as text */
                    struct tide_buf k;
                    struct kv_out ko = {a, body.p, &k, 0, tide__kv_field(kv), false};
                    tide_buf_init(&k, 0);
                    kv(body.p, body.len, kv_value, &ko);
                    tide_buf_append(&k, body.p + ko.at, body.len - ko.at);
                    text_scan(a, k.p ? k.p : "", k.len, &o, ko.field, 0);
                    tide_buf_free(&k);
                } else if (body.len) {
                    text_scan(a, body.p, body.len, &o, "text body", 0);
                }
            }
            if (encoded) {
                struct tide_buf z;
                tide_buf_init(&z, 0);
                if (body_encode(o.p ? o.p : "", o.len, ce, &z)) {
                    out->body = adup(a, z.p, z.len);
                    count(a, "body", ce == TIDE__CE_GZIP ? "gzip layer rewritten" : "compressed layer rewritten");
                } else {
                    out->body = tide_str_make("", 0);
                    count(a, "body", "dropped (could not compress again)");
                }
                tide_buf_free(&z);
            } else {
                out->body = adup(a, o.p ? o.p : "", o.len);
            }
        }
        tide_buf_free(&o);
    }
    tide_buf_free(&dec);
    hash_record(a, 0, in);
    hash_record(a, 1, out);
    a->records++;
    return 0;
}

int tide_anon_sink(void *userp, const struct tide_record *r, struct tide_err *err)
{
    struct tide_anon *a = userp;
    int rc = tide_anon_record(a, r, &a->out, err);
    if (rc) {
        char where[256];
        snprintf(where, sizeof(where), "%.*s", (int)(r->source.len > 200 ? 200 : r->source.len),
                 r->source.p ? r->source.p : "");
        snprintf(err->where, sizeof(err->where), "%s", where);
        return rc;
    }
    return a->next.fn(a->next.userp, &a->out, err);
}

char *tide_anon_manifest(const struct tide_anon *a)
{
    cJSON *o = cJSON_CreateObject(), *c;
    size_t i;
    char *s;
    cJSON_AddStringToObject(o, "tool", "tide " TIDE_VERSION);
    cJSON_AddStringToObject(o, "key_fingerprint", a->fingerprint);
    cJSON_AddBoolToObject(o, "key_ephemeral", a->o.key_is_ephemeral);
    cJSON_AddStringToObject(o, "pseudonyms", "HMAC-SHA256, shape-keeping");
    cJSON_AddStringToObject(o, "ip", a->o.ip_mode == TIDE_IP_TRUNCATE ? "truncate (/24, /48)" : "crypto-pan (prefix-preserving, AES-128)");
    cJSON_AddNumberToObject(o, "time_shift_weeks", (double)(a->shift_ns / (7 * 86400 * TIDE_NS_PER_SEC)));
    cJSON_AddStringToObject(o, "policy_sha256", a->p->sha256);
    cJSON_AddStringToObject(o, "policy", a->p->text);
    cJSON_AddNumberToObject(o, "records", (double)a->records);
    {
        static const char hex[] = "0123456789abcdef";
        EVP_MD_CTX *hs[2] = {a->in_hash, a->out_hash};
        const char *names[2] = {"input_sha256", "output_sha256"};
        int k;
        if (a->hasher)
            hasher_drain(a->hasher);
        for (k = a->hash_failed ? 2 : 0; k < 2; k++) { /* no hashes rather than wrong ones */
            uint8_t d[32];
            unsigned dl = 0;
            char hx[65];
            EVP_MD_CTX *cp = EVP_MD_CTX_new();
            if (cp && EVP_MD_CTX_copy_ex(cp, hs[k]) &&
                (!a->hbuf[k].len || EVP_DigestUpdate(cp, a->hbuf[k].p, a->hbuf[k].len)) &&
                EVP_DigestFinal_ex(cp, d, &dl)) {
                for (unsigned i2 = 0; i2 < dl && i2 < 32; i2++) {
                    hx[2 * i2] = hex[d[i2] >> 4];
                    hx[2 * i2 + 1] = hex[d[i2] & 15];
                }
                hx[64] = 0;
                cJSON_AddStringToObject(o, names[k], hx);
            }
            EVP_MD_CTX_free(cp);
        }
    }
    c = cJSON_AddObjectToObject(o, "counts");
    for (i = 0; i < a->counts.cap; i++) {
        const struct tide_strmap_ent *e = &a->counts.ents[i];
        char k[200], *tab;
        cJSON *f;
        if (!e->key.p)
            continue;
        snprintf(k, sizeof(k), "%.*s", (int)e->key.len, e->key.p);
        tab = strchr(k, '\t');
        if (!tab)
            continue;
        *tab = 0;
        f = cJSON_GetObjectItemCaseSensitive(c, k);
        if (!f)
            f = cJSON_AddObjectToObject(c, k);
        cJSON_AddNumberToObject(f, tab + 1, (double)e->value);
    }
    s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

void tide_anon_free(struct tide_anon *a)
{
    if (!a)
        return;
    tide__pseudo_free(a->ps);
    tide_arena_free(&a->arena);
    tide_strmap_free(&a->counts);
    tide_strmap_free(&a->names);
    tide_strmap_free(&a->clean);
    hasher_stop(a->hasher);
    tide_strmap_free(&a->hinfo);
    tide_buf_free(&a->hbuf[0]);
    tide_buf_free(&a->hbuf[1]);
    EVP_MD_CTX_free(a->in_hash);
    EVP_MD_CTX_free(a->out_hash);
    free(a->hdrs);
    free(a);
}
