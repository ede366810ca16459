/*
 * audit.c - an independent scan of anonymized traces for personal data.
 *
 * It does not trust the anonymizer: every field of every record is decoded
 * (percent-encoding, base64, JSON) and run through every detector; values
 * under personal keys (name, email, student_id, ...) must be in a pseudonym
 * form; long high-entropy values must be tide tokens. Residual risk is
 * measured too: how many records are unique on client prefix + user agent +
 * hour (quasi-identifiers). Findings carry record numbers and masked
 * samples (two characters and a length), never a whole value.
 */
#define _GNU_SOURCE
#include "anon_int.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SAMPLES 3

struct finding {
    char field[48];
    int kind;
    uint64_t count;
    uint64_t recs[SAMPLES];
    char samples[SAMPLES][40];
    int n;
};

struct tide_audit {
    struct finding *f;
    size_t n, cap;
    uint64_t records, values_scanned, bytes_scanned;
    uint64_t ip_informational; /* addresses seen where the manifest says IPs are anonymized */
    uint64_t id_shaped;        /* id-shaped values under personal keys: pseudonyms keep that shape */
    uint64_t validators;       /* key-like entity tags in If-None-Match / If-Match / If-Range */
    bool in_validator;         /* scanning one of those headers now */
    /* the record's values the policy calls personal (decoded), where an id's
     * pseudonym (a UUID, a hex or mixed id, shape kept) looks like a key */
    struct tide_buf pv;
    struct tide_buf dec; /* the record's body, decoded (gzip, deflate, zstd) */
    struct tide_buf unesc; /* a JSON body with its strings' escapes undone */
    size_t pv_off[64], pv_len[64];
    int npv;
    bool ips_anonymized;
    struct tide_strmap quasi;
    struct tide_strmap clean; /* values that held nothing: traffic repeats them */
    struct tide_strmap clean_text; /* the same, of bodies and queries (names looked for too) */
    uint64_t cur_rec;
    const char *cur_field;
    uint64_t hits; /* findings and informational hits so far */
};

/* Whether v lies within a value of this record that the policy calls personal. */
static bool in_personal(const struct tide_audit *au, const char *v, size_t n)
{
    int i;
    for (i = 0; i < au->npv; i++)
        if (au->pv_len[i] >= n && memmem(au->pv.p + au->pv_off[i], au->pv_len[i], v, n))
            return true;
    return false;
}

static void add_pv(void *u, const char *s, size_t n)
{
    struct tide_audit *au = u;
    if (n < 8 || au->npv == 64)
        return; /* short ones are no key; past 64, a hit stays a finding */
    au->pv_off[au->npv] = au->pv.len;
    au->pv_len[au->npv] = n;
    tide_buf_append(&au->pv, s, n);
    au->npv++;
}

static void add_finding(struct tide_audit *au, const char *field, int kind, const char *v, size_t n)
{
    size_t i;
    struct finding *f = NULL;
    au->hits++;
    if ((kind == TIDE_PII_APIKEY || kind == TIDE_PII_HIGH_ENTROPY) && in_personal(au, v, n)) {
        au->id_shaped++;
        return;
    }
    if (au->in_validator && (kind == TIDE_PII_APIKEY || kind == TIDE_PII_HIGH_ENTROPY)) {
        /* an entity tag is the server's hash of a resource, kept for 304s:
         * residual risk (a server may tag per user), not a finding */
        au->validators++;
        return;
    }
    if (kind == TIDE_PII_IPV4 || kind == TIDE_PII_IPV6) {
        if (au->ips_anonymized) {
            au->ip_informational++;
            return;
        }
    }
    for (i = 0; i < au->n; i++)
        if (au->f[i].kind == kind && strcmp(au->f[i].field, field) == 0)
            f = &au->f[i];
    if (!f) {
        if (au->n == au->cap) {
            size_t nc = au->cap ? au->cap * 2 : 16;
            struct finding *nf = realloc(au->f, nc * sizeof(*nf));
            if (!nf)
                return;
            au->f = nf;
            au->cap = nc;
        }
        f = &au->f[au->n++];
        memset(f, 0, sizeof(*f));
        snprintf(f->field, sizeof(f->field), "%s", field);
        f->kind = kind;
    }
    f->count++;
    if (f->n < SAMPLES) {
        /* masked: the first two characters and the length, nothing more; of
         * a password or a token not even those */
        f->recs[f->n] = au->cur_rec;
        snprintf(f->samples[f->n], sizeof(f->samples[0]), "%.2s... (%zu chars)",
                 n >= 6 && kind != TIDE_PII_SECRET_FIELD ? v : "**", n);
        for (char *c = f->samples[f->n]; *c && c < f->samples[f->n] + 2; c++)
            if (!isprint((unsigned char)*c))
                *c = '?';
        f->n++;
    }
}

static void on_hit(void *userp, const struct tide_pii_hit *h, const char *text)
{
    struct tide_audit *au = userp;
    add_finding(au, au->cur_field, h->kind, text + h->start, h->len);
}

static void scan(struct tide_audit *au, const char *field, const char *s, size_t n)
{
    uint64_t before = au->hits;
    bool added, text = strcmp(field, "query") == 0 || strcmp(field, "body") == 0; /* people's writing */
    struct tide_strmap *clean = text ? &au->clean_text : &au->clean;
    int rc;
    if (!n)
        return;
    au->values_scanned++;
    au->bytes_scanned += n;
    au->cur_field = field;
    /* the same bytes scanned before and clean (user agents, cookies repeat):
     * not again; a value under 64 bytes (a path, an address) costs less to
     * scan than to look up in a table that misses the cache */
    if (n >= 64 && n <= 512 && tide_strmap_get(clean, tide_str_make(s, n)))
        return;
    if (text)
        tide_pii_scan_text(s, n, on_hit, au);
    else
        tide_pii_scan(s, n, on_hit, au);
    if (au->hits == before && n >= 64 && n <= 512) {
        if (clean->n >= 200000) {
            tide_strmap_free(clean);
            tide_strmap_init(clean, 0);
        }
        tide_strmap_upsert(clean, tide_str_make(s, n), &added, &rc);
    }
}

static double entropy(const char *s, size_t n)
{
    unsigned cnt[256] = {0};
    size_t i;
    double e = 0;
    for (i = 0; i < n; i++)
        cnt[(unsigned char)s[i]]++;
    for (i = 0; i < 256; i++)
        if (cnt[i]) {
            double p = (double)cnt[i] / (double)n;
            e -= p * log2(p);
        }
    return e;
}

static void expect_pseudonym(struct tide_audit *au, const char *field, const char *v, size_t vn);

/* A value under a personal key must be a pseudonym. An id (4711, S-12345, a
 * UUID) cannot be told from its pseudonym, which keeps its shape: counted as
 * residual risk, not a finding. */
static void personal_value(struct tide_audit *au, const char *field, const struct tide_anon_policy *p,
                           const char *k, size_t kn, const char *v, size_t vn)
{
    int act = tide__policy_field(p, k, kn);
    if (vn && (act == ACT_DROP || (act == ACT_SECRET && !tide__is_pseudonym(v, vn)))) {
        /* a password the policy drops, a token it replaces: there at all, or not a tide token */
        add_finding(au, field, TIDE_PII_SECRET_FIELD, v, vn);
        return;
    }
    if (act != ACT_PSEUDONYMIZE || vn == 0)
        return;
    expect_pseudonym(au, field, v, vn);
}

/* A value that must be a pseudonym: under a personal key, or a person-like
 * path segment (/students/jane-doe). An id keeps its shape: residual risk. */
static void expect_pseudonym(struct tide_audit *au, const char *field, const char *v, size_t vn)
{
    size_t i, letters = 0, digits = 0;
    for (i = 0; i < vn; i++) {
        letters += isalpha((unsigned char)v[i]) != 0;
        digits += isdigit((unsigned char)v[i]) != 0;
    }
    if (tide__is_pseudonym(v, vn) || tide_is_ip(v, vn))
        return;
    if (digits > 0 && (digits * 2 >= letters || tide__is_uuid(v, vn))) {
        au->id_shaped++;
        return;
    }
    {
        /* emails of the reserved domain and p_ words inside free text pass */
        char tmp[256];
        snprintf(tmp, sizeof(tmp), "%.*s", (int)(vn > 255 ? 255 : vn), v);
        if (strstr(tmp, "@example.invalid") || strncmp(tmp, "p_", 2) == 0 || strcmp(tmp, "[redacted]") == 0)
            return;
    }
    add_finding(au, field, TIDE_PII_NAME, v, vn);
}

/* A person-like path segment, as it reads once percent-decoded. */
static void path_person(void *u, const char *seg, size_t len)
{
    struct tide_audit *au = u;
    struct tide_buf d;
    tide_buf_init(&d, 0);
    if (memchr(seg, '%', len) && tide_percent_decode_path(&d, seg, len))
        expect_pseudonym(au, "path", d.p ? d.p : "", d.len);
    else
        expect_pseudonym(au, "path", seg, len);
    tide_buf_free(&d);
}

static void high_entropy(struct tide_audit *au, const char *field, const char *v, size_t n)
{
    size_t i, alnum = 0;
    if (n < 20 || tide__is_pseudonym(v, n) || tide__is_b64_text(v, n))
        return; /* base64 of text is scanned decoded, as a layer */
    for (i = 0; i < n; i++)
        alnum += isalnum((unsigned char)v[i]) != 0;
    if (alnum * 10 >= n * 9 && entropy(v, n) > 4.0 && !memchr(v, ' ', n))
        add_finding(au, field, TIDE_PII_HIGH_ENTROPY, v, n);
}

/* JSON text with the escapes inside its strings undone (\n, \", \u0040,
 * surrogate pairs as one character), for the detectors: no longer JSON,
 * but what a reader of the strings sees. */
static void json_unescape(const char *s, size_t n, struct tide_buf *o)
{
    size_t i = 0;
    tide_buf_reset(o);
    while (i < n) {
        const char *b = memchr(s + i, '\\', n - i);
        size_t run = b ? (size_t)(b - (s + i)) : n - i;
        tide_buf_append(o, s + i, run);
        i += run;
        if (i + 1 >= n) {
            if (i < n)
                tide_buf_putc(o, s[i++]);
            break;
        }
        switch (s[i + 1]) {
        case 'n': tide_buf_putc(o, '\n'); i += 2; break;
        case 'r': tide_buf_putc(o, '\r'); i += 2; break;
        case 't': tide_buf_putc(o, '\t'); i += 2; break;
        case 'b': case 'f': tide_buf_putc(o, ' '); i += 2; break;
        case 'u': {
            unsigned cp = 0;
            int k, h;
            char u8[4];
            for (k = 0; k < 4 && i + 2 + (size_t)k < n && (h = tide_hex_value(s[i + 2 + k])) >= 0; k++)
                cp = cp * 16 + (unsigned)h;
            if (k < 4) { /* not an escape after all: kept as written */
                tide_buf_putc(o, s[i++]);
                break;
            }
            i += 6;
            if (cp >= 0xd800 && cp < 0xdc00 && i + 5 < n && s[i] == '\\' && s[i + 1] == 'u') {
                unsigned lo = 0;
                for (k = 0; k < 4 && (h = tide_hex_value(s[i + 2 + k])) >= 0; k++)
                    lo = lo * 16 + (unsigned)h;
                if (k == 4 && lo >= 0xdc00 && lo < 0xe000) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    i += 6;
                }
            }
            tide_buf_append(o, u8, (size_t)(tide_utf8_put(u8, cp) - u8));
            break;
        }
        default: /* \" \\ \/ and anything else: the character itself */
            tide_buf_putc(o, s[i + 1]);
            i += 2;
        }
    }
}

static void json_walk(struct tide_audit *au, const struct tide_anon_policy *p, cJSON *node,
                      const char *key)
{
    cJSON *c;
    if (cJSON_IsObject(node) || cJSON_IsArray(node)) {
        for (c = node->child; c; c = c->next)
            json_walk(au, p, c, c->string ? c->string : key);
    } else if (cJSON_IsString(node) && key) {
        personal_value(au, "json body", p, key, strlen(key), node->valuestring, strlen(node->valuestring));
    }
}

/* A JSON body that does not parse (cut at --max-body): its members as far
 * as its tokens go. */
struct jm_ctx {
    struct tide_audit *au;
    const struct tide_anon_policy *p;
    const char *s;
    bool collect;
    const char *field;
};

static void jm_member(void *u, const struct tide__jm *m)
{
    struct jm_ctx *c = u;
    bool own = tide__policy_field(c->p, m->key, m->klen) == ACT_PSEUDONYMIZE;
    const char *k = own || !m->parent ? m->key : m->parent;
    size_t kl = own || !m->parent ? m->klen : m->plen;
    if (!m->quoted)
        return;
    if (c->collect) {
        if (tide__policy_field(c->p, k, kl) == ACT_PSEUDONYMIZE)
            add_pv(c->au, c->s + m->vs, m->vl);
    } else {
        personal_value(c->au, c->field, c->p, k, kl, c->s + m->vs, m->vl);
    }
}

/* A JSON text's personal values, checked (or with collect, gathered for the
 * pre-pass); a text that does not parse is read by its tokens. */
static void pv_json(struct tide_audit *au, const struct tide_anon_policy *p, cJSON *node, bool personal);

static void json_values(struct tide_audit *au, const struct tide_anon_policy *p, const char *s, size_t n,
                        const char *field, bool collect)
{
    cJSON *j = cJSON_ParseWithLength(s, n);
    struct jm_ctx c = {au, p, s, collect, field};
    if (j && collect)
        pv_json(au, p, j, false);
    else if (j)
        json_walk(au, p, j, NULL);
    else
        tide__json_members(s, n, jm_member, &c);
    cJSON_Delete(j);
}

/* A multipart body's parts by name, as form fields: checked, or with
 * collect gathered for the pre-pass. */
static void multipart_values(struct tide_audit *au, const struct tide_anon_policy *p, const char *s, size_t n,
                             struct tide_str bd, bool collect)
{
    struct tide__mp_part pt;
    size_t at;
    for (at = tide__mp_first(s, n, bd); tide__mp_part(s, n, bd, at, &pt); at = pt.next) {
        size_t cl = pt.pe > pt.body_at ? pt.pe - pt.body_at : 0;
        if (!pt.name.len || !cl)
            continue;
        if (!collect)
            personal_value(au, "multipart body", p, pt.name.p, pt.name.len, s + pt.body_at, cl);
        else if (tide__policy_field(p, pt.name.p, pt.name.len) == ACT_PSEUDONYMIZE)
            add_pv(au, s + pt.body_at, cl);
    }
}

/* Calls fn with each key=value of s (split at sep; spaces before a key
 * skipped; a part without '=' passed over). */
static void each_pair(const char *s, size_t n, char sep,
                      void (*fn)(void *u, const char *k, size_t kl, const char *v, size_t vn), void *u)
{
    size_t i = 0;
    while (i < n) {
        const char *e = memchr(s + i, sep, n - i), *eq;
        size_t end = e ? (size_t)(e - s) : n, ks = i;
        while (ks < end && s[ks] == ' ')
            ks++;
        eq = memchr(s + ks, '=', end - ks);
        if (eq)
            fn(u, s + ks, (size_t)(eq - (s + ks)), eq + 1, end - (size_t)(eq + 1 - s));
        i = end + 1;
    }
}

struct pair_ctx {
    struct tide_audit *au;
    const struct tide_anon_policy *p;
    const char *field;
};

static void pair_check(void *u, const char *k, size_t kl, const char *v, size_t vn)
{
    const struct pair_ctx *pc = u;
    struct tide_audit *au = pc->au;
    const struct tide_anon_policy *p = pc->p;
    const char *field = pc->field;
    struct tide_buf d;
    tide_buf_init(&d, 0);
    tide_percent_decode(&d, v, vn);
    personal_value(au, field, p, k, kl, d.p ? d.p : "", d.len);
    /* a value under a personal key is judged there: an id's pseudonym
     * keeps its shape, and some shapes look random ("name=914f105cd1ed2653.jpg") */
    if (tide__policy_field(p, k, kl) != ACT_PSEUDONYMIZE) {
        /* judged as it reads: "contact%20p_...%40example.invalid" (encoded twice) is text */
        struct tide_buf d2;
        int layer;
        tide_buf_init(&d2, 0);
        for (layer = 0; layer < 2 && d.len && memchr(d.p, '%', d.len); layer++) {
            tide_buf_reset(&d2);
            if (!tide_percent_decode(&d2, d.p, d.len))
                break;
            tide_buf_reset(&d);
            tide_buf_append(&d, d2.p, d2.len);
        }
        tide_buf_free(&d2);
        high_entropy(au, field, d.p ? d.p : "", d.len);
    }
    if (d.len > 1 && (d.p[0] == '{' || d.p[0] == '['))
        json_values(au, p, d.p, d.len, field, false); /* JSON in a value (maybe cut with the URL) */
    tide_buf_free(&d);
}

static void pairs(struct tide_audit *au, const struct tide_anon_policy *p, const char *field,
                  const char *s, size_t n, char sep)
{
    struct pair_ctx c = {au, p, field};
    each_pair(s, n, sep, pair_check, &c);
}

/* Pre-pass: the values under personal keys in k=v pairs, as written and decoded. */
static void pv_pair(void *u, const char *k, size_t kl, const char *v, size_t vn)
{
    struct pair_ctx *c = u;
    struct tide_buf d;
    if (tide__policy_field(c->p, k, kl) != ACT_PSEUDONYMIZE)
        return;
    tide_buf_init(&d, 0);
    add_pv(c->au, v, vn);
    if (tide_percent_decode(&d, v, vn))
        add_pv(c->au, d.p, d.len);
    tide_buf_free(&d);
}

static void pv_pairs(struct tide_audit *au, const struct tide_anon_policy *p, const char *s, size_t n, char sep)
{
    struct pair_ctx c = {au, p, NULL};
    each_pair(s, n, sep, pv_pair, &c);
}

static void pv_json(struct tide_audit *au, const struct tide_anon_policy *p, cJSON *node, bool personal)
{
    cJSON *c;
    if (cJSON_IsObject(node) || cJSON_IsArray(node)) {
        for (c = node->child; c; c = c->next)
            pv_json(au, p, c,
                    personal || (c->string && tide__policy_field(p, c->string, strlen(c->string)) == ACT_PSEUDONYMIZE));
    } else if (personal && cJSON_IsString(node)) {
        add_pv(au, node->valuestring, strlen(node->valuestring));
    }
}

/* XML and CSV bodies (xmlcsv.c): each value judged by its name, as under a
 * key; the pre-pass gathers the personal ones. */

struct kv_ctx {
    struct tide_audit *au;
    const struct tide_anon_policy *p;
    const char *s;
    const char *field;
};

static void kv_check(void *u, const char *k, size_t kl, size_t vs, size_t vl)
{
    struct kv_ctx *c = u;
    personal_value(c->au, c->field, c->p, k, kl, c->s + vs, vl);
}

/* A pair written in text (freetext.c), judged as it reads decoded. */
static void text_pair_check(void *u, const char *k, size_t kl, size_t vs, size_t vl)
{
    struct kv_ctx *c = u;
    struct tide_buf d;
    tide_buf_init(&d, 0);
    if (memchr(c->s + vs, '%', vl) && tide_percent_decode(&d, c->s + vs, vl))
        personal_value(c->au, c->field, c->p, k, kl, d.p ? d.p : "", d.len);
    else
        personal_value(c->au, c->field, c->p, k, kl, c->s + vs, vl);
    tide_buf_free(&d);
}

static void kv_pv(void *u, const char *k, size_t kl, size_t vs, size_t vl)
{
    struct kv_ctx *c = u;
    if (tide__policy_field(c->p, k, kl) == ACT_PSEUDONYMIZE)
        add_pv(c->au, c->s + vs, vl);
}

int tide_audit_create(struct tide_audit **out, bool ips_anonymized)
{
    struct tide_audit *au = calloc(1, sizeof(*au));
    if (!au)
        return TIDE_E_NOMEM;
    au->ips_anonymized = ips_anonymized;
    tide_strmap_init(&au->quasi, 5000000);
    tide_strmap_init(&au->clean, 0);
    tide_strmap_init(&au->clean_text, 0);
    tide_buf_init(&au->pv, 0);
    tide_buf_init(&au->dec, 0);
    tide_buf_init(&au->unesc, 0);
    *out = au;
    return 0;
}

void tide_audit_set_ips_anonymized(struct tide_audit *au, bool yes) { au->ips_anonymized = yes; }

void tide_audit_record(struct tide_audit *au, const struct tide_anon_policy *p,
                       const struct tide_record *r)
{
    uint32_t i;
    bool validator, form;
    char field[80], q[512];
    struct tide_str ua = tide_record_header(r, "User-Agent");
    struct tide_str ct = r->body.len ? tide_record_header(r, "Content-Type") : tide_str_make(NULL, 0);
    struct tide_str mp = r->body.len ? tide__mp_boundary(ct) : tide_str_make(NULL, 0);
    struct tide_str ce = r->body.len ? tide_record_header(r, "Content-Encoding") : tide_str_make(NULL, 0);
    struct tide_str body = r->body;
    int enc = ce.p ? tide__body_encoding(ce) : TIDE__CE_NONE;
    tide__kv_reader kv = NULL; /* an XML or CSV body: values by their names */
    struct kv_ctx kc = {au, p, NULL, NULL};
    au->cur_rec = au->records++;
    /* a compressed body is read as it decodes; one that cannot be read cannot pass */
    tide_buf_reset(&au->dec);
    if (body.len && enc != TIDE__CE_NONE) {
        if (enc != TIDE__CE_OTHER && tide__body_decode(body.p, body.len, enc, &au->dec)) {
            body = tide_str_make(au->dec.p ? au->dec.p : "", au->dec.len);
        } else {
            add_finding(au, "body", TIDE_PII_UNREADABLE, body.p, body.len);
            body = tide_str_make(NULL, 0);
        }
    }
    /* a form as the anonymizer takes one: by its Content-Type, or without one by its look */
    form = body.len && !mp.len && body.p[0] != '{' && body.p[0] != '[' &&
           ((ct.p && memmem(ct.p, ct.len, "x-www-form-urlencoded", 21)) ||
            (!ct.p && tide__looks_like_form(body.p, body.len)));
    if (body.len && !mp.len && !form && body.p[0] != '{' && body.p[0] != '[' &&
        (kv = tide__kv_reader_for(ct, body.p, body.len))) {
        kc.s = body.p;
        kc.field = tide__kv_field(kv);
    }
    au->npv = 0;
    tide_buf_reset(&au->pv);
    if (p) {
        tide__path_personal(p, r->path.p ? r->path.p : "", r->path.len, add_pv, au);
        pv_pairs(au, p, r->query.p ? r->query.p : "", r->query.len, '&');
        for (i = 0; i < r->n_headers; i++)
            if (tide_str_is_eq_nocase_c(r->headers[i].name, "Cookie"))
                pv_pairs(au, p, r->headers[i].value.p ? r->headers[i].value.p : "", r->headers[i].value.len, ';');
        if (mp.len)
            multipart_values(au, p, body.p, body.len, mp, true);
        else if (body.len && (body.p[0] == '{' || body.p[0] == '['))
            json_values(au, p, body.p, body.len, "json body", true);
        else if (kv)
            kv(body.p, body.len, kv_pv, &kc);
        else if (form)
            pv_pairs(au, p, body.p, body.len, '&');
    }
    scan(au, "path", r->path.p, r->path.len);
    if (p)
        tide__path_personal(p, r->path.p ? r->path.p : "", r->path.len, path_person, au);
    scan(au, "query", r->query.p, r->query.len);
    pairs(au, p, "query", r->query.p ? r->query.p : "", r->query.len, '&');
    for (i = 0; i < r->n_headers; i++) {
        const struct tide_header *h = &r->headers[i];
        snprintf(field, sizeof(field), "header:%.*s", (int)(h->name.len > 40 ? 40 : h->name.len), h->name.p);
        for (char *c = field + 7; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        /* an entity tag: residual risk for the detectors, and not judged by its entropy */
        validator = tide_str_is_eq_nocase_c(h->name, "If-None-Match") || tide_str_is_eq_nocase_c(h->name, "If-Match") ||
                    tide_str_is_eq_nocase_c(h->name, "If-Range");
        au->in_validator = validator;
        scan(au, field, h->value.p, h->value.len);
        au->in_validator = false;
        if (tide_str_is_eq_nocase_c(h->name, "Cookie"))
            pairs(au, p, "cookie", h->value.p, h->value.len, ';');
        else if (!validator && !tide_str_is_eq_nocase_c(h->name, "User-Agent") &&
                 !tide_str_is_eq_nocase_c(h->name, "Referer"))
            high_entropy(au, field, h->value.p ? h->value.p : "", h->value.len);
    }
    if (body.len) {
        struct tide_str t = body;
        if ((body.p[0] == '{' || body.p[0] == '[') && memchr(body.p, '\\', body.len)) {
            /* JSON's escapes hide text from the detectors ("Sincerely,\\nJane
             * Doe", "jane\\u0040school.edu"): scanned as the strings read */
            json_unescape(body.p, body.len, &au->unesc);
            t = tide_str_make(au->unesc.p ? au->unesc.p : "", au->unesc.len);
        }
        scan(au, "body", t.p, t.len);
        if (!mp.len && !kv && !form) {
            /* pairs written in the text (a GraphQL query's lastName: "Smith") */
            struct kv_ctx tc = {au, p, t.p, "text body"};
            tide__text_pairs(t.p, t.len, text_pair_check, &tc);
        }
        if (mp.len) {
            multipart_values(au, p, body.p, body.len, mp, false);
        } else if (body.p[0] == '{' || body.p[0] == '[') {
            json_values(au, p, body.p, body.len, "json body", false);
        } else if (kv) {
            kv(body.p, body.len, kv_check, &kc);
        } else if (form) {
            pairs(au, p, "form body", body.p, body.len, '&');
        }
    }
    scan(au, "client", r->client.p, r->client.len);
    if (r->session.len && !tide__is_pseudonym(r->session.p, r->session.len))
        high_entropy(au, "session", r->session.p, r->session.len);
    /* quasi-identifiers: client prefix (up to the last separator) + UA + hour */
    {
        size_t cp = r->client.len;
        while (cp > 0 && r->client.p[cp - 1] != '.' && r->client.p[cp - 1] != ':')
            cp--;
        snprintf(q, sizeof(q), "%.*s|%.*s|%lld", (int)cp, r->client.p ? r->client.p : "",
                 (int)(ua.len > 300 ? 300 : ua.len), ua.p ? ua.p : "",
                 (long long)(r->ts_ns / (3600 * TIDE_NS_PER_SEC)));
        {
            bool added;
            int rc;
            struct tide_strmap_ent *e = tide_strmap_upsert(&au->quasi, tide_str_c(q), &added, &rc);
            if (e)
                e->value++;
        }
    }
}

char *tide_audit_report(const struct tide_audit *au, bool any_raw, const char *scanned_note)
{
    cJSON *o = cJSON_CreateObject(), *arr, *sc;
    uint64_t unique = 0, total = 0;
    size_t i;
    char *s;
    bool fail = any_raw || au->n > 0;
    for (i = 0; i < au->quasi.cap; i++)
        if (au->quasi.ents[i].key.p) {
            total += au->quasi.ents[i].value;
            unique += au->quasi.ents[i].value == 1;
        }
    cJSON_AddStringToObject(o, "verdict", fail ? "FAIL" : "PASS");
    cJSON_AddBoolToObject(o, "raw_trace", any_raw);
    arr = cJSON_AddArrayToObject(o, "findings");
    for (i = 0; i < au->n; i++) {
        const struct finding *f = &au->f[i];
        cJSON *e = cJSON_CreateObject(), *recs, *smp;
        int k;
        cJSON_AddStringToObject(e, "type", tide_pii_kind_name(f->kind));
        cJSON_AddStringToObject(e, "field", f->field);
        cJSON_AddNumberToObject(e, "count", (double)f->count);
        recs = cJSON_AddArrayToObject(e, "records");
        smp = cJSON_AddArrayToObject(e, "masked_samples");
        for (k = 0; k < f->n; k++) {
            cJSON_AddItemToArray(recs, cJSON_CreateNumber((double)f->recs[k]));
            cJSON_AddItemToArray(smp, cJSON_CreateString(f->samples[k]));
        }
        cJSON_AddItemToArray(arr, e);
    }
    sc = cJSON_AddObjectToObject(o, "scanned");
    cJSON_AddNumberToObject(sc, "records", (double)au->records);
    cJSON_AddNumberToObject(sc, "values", (double)au->values_scanned);
    cJSON_AddNumberToObject(sc, "bytes", (double)au->bytes_scanned);
    cJSON_AddStringToObject(sc, "fields", scanned_note);
    cJSON_AddStringToObject(sc, "detectors", "email phone ssn card(luhn) ipv4 ipv6 jwt bearer api_key "
                                             "date_of_birth personal_field high_entropy secret_field unreadable_body person_name street_address student_id; layers: "
                                             "percent-encoding, base64, JSON, gzip/deflate/zstd bodies");
    sc = cJSON_AddObjectToObject(o, "residual_risk");
    cJSON_AddNumberToObject(sc, "ip_addresses_anonymized_per_manifest", (double)au->ip_informational);
    cJSON_AddNumberToObject(sc, "id_shaped_personal_values", (double)au->id_shaped);
    cJSON_AddNumberToObject(sc, "entity_tags_kept", (double)au->validators);
    cJSON_AddNumberToObject(sc, "quasi_identifier_groups", (double)au->quasi.n);
    cJSON_AddNumberToObject(sc, "records_unique_on_client_prefix_ua_hour", (double)unique);
    cJSON_AddNumberToObject(sc, "unique_share", total ? (double)unique / (double)total : 0);
    s = cJSON_Print(o);
    cJSON_Delete(o);
    return s;
}

void tide_audit_free(struct tide_audit *au)
{
    if (!au)
        return;
    free(au->f);
    tide_strmap_free(&au->quasi);
    tide_strmap_free(&au->clean);
    tide_strmap_free(&au->clean_text);
    tide_buf_free(&au->pv);
    tide_buf_free(&au->dec);
    tide_buf_free(&au->unesc);
    free(au);
}
