/*
 * anon_int.h - internals shared by the anonymizer's files: pseudonym shapes,
 * the keyed cache, the policy's parsed form, detectors.
 */
#ifndef TIDE_ANON_INT_H
#define TIDE_ANON_INT_H

#include "anonymize/anonymize.h"

/* What to do with a value. */
enum tide__act {
    ACT_NONE = 0, /* no rule: scan */
    ACT_KEEP,
    ACT_DROP,
    ACT_REDACT,       /* replace by a type tag: [redacted] */
    ACT_PSEUDONYMIZE, /* keyed, shape-keeping */
    ACT_SECRET,       /* keyed opaque token */
    ACT_TRUNCATE,     /* keep a prefix (8 chars) */
    ACT_GENERALIZE,   /* dates to their year */
    ACT_SCAN,         /* keep, replacing what detectors find inside */
    ACT_IP,           /* an address or a list of them */
    ACT_COOKIES,      /* a Cookie header: per cookie rules */
};

/* Pseudonym shapes. */
enum tide__shape {
    SH_DIGITS,  /* same number of digits */
    SH_CLASSES, /* each letter/digit replaced within its class, punctuation kept */
    SH_EMAIL,
    SH_UUID,
    SH_CARD,    /* Luhn-valid test card number */
    SH_TOKEN,   /* opaque t_... */
    SH_NAME,    /* p_... */
    SH_PHONE,   /* classes, last seven digits 555-01dd (fictional numbers) */
    SH_SSN,     /* classes, first digit 9 (never issued) */
};

/* Pseudonym forms the audit must not mistake for real data. */
bool tide__is_fictional(int kind, const char *s, size_t n);

struct tide__rule {
    char name[64]; /* normalized: lower case, '-' and '_' removed */
    int act;
};

struct tide_anon_policy {
    char *text;
    char sha256[65];
    int ip_mode;
    struct tide__rule *headers;
    size_t n_headers;
    int header_default; /* ACT_DROP in the strict policy */
    struct tide__rule *fields; /* by key name: query, form, JSON, cookies */
    size_t n_fields;
    int query_default, cookie_default, json_default, form_default, text_default;
    char (*parents)[64]; /* path segments whose next segment is a person's id */
    size_t n_parents;
    struct {
        char tmpl[256];
    } *paths;
    size_t n_paths;
    size_t max_body;
    struct tide_strmap field_map, header_map, parent_map; /* normalized name -> action (+1) */
    /* rules written "*suffix": a name that ends so, when no rule names it whole */
    struct tide__rule *field_sfx, *header_sfx;
    size_t n_field_sfx, n_header_sfx;
};

/* Normalizes a key name for rule lookup into out (cap 64). */
void tide__norm(const char *s, size_t n, char *out);
int tide__policy_field(const struct tide_anon_policy *p, const char *s, size_t n);
int tide__policy_header(const struct tide_anon_policy *p, const char *s, size_t n);

/* ---- keyed pseudonyms (pseudo.c) ---- */

struct tide__pseudo;
int tide__pseudo_create(struct tide__pseudo **out, const uint8_t key[TIDE_KEY_LEN], int ip_mode);
void tide__pseudo_free(struct tide__pseudo *ps);
/* The pseudonym of v in shape sh (borrowed, valid while the cache lives). */
struct tide_str tide__pseudo(struct tide__pseudo *ps, int sh, struct tide_str v);
/* An IPv4/IPv6 address pseudonymized (or truncated); v itself if not an
 * address. Borrowed: valid until the next call (copy it to keep it). */
struct tide_str tide__pseudo_ip(struct tide__pseudo *ps, struct tide_str v, bool *changed);
/* Keyed whole weeks (1..52) for --time-shift. */
int tide__pseudo_weeks(struct tide__pseudo *ps);
bool tide__is_pseudonym(const char *s, size_t n);
/* Calls fn with each path segment the policy calls personal (after a
 * person-like parent, or a template's placeholder). */
void tide__path_personal(const struct tide_anon_policy *p, const char *s, size_t n,
                         void (*fn)(void *u, const char *seg, size_t len), void *u);
/* A member of a JSON text found by its tokens: the key (inside its quotes),
 * the key of the nearest enclosing member (or NULL), the value's span in the
 * text (inside its quotes if quoted). */
struct tide__jm {
    const char *key, *parent;
    size_t klen, plen, vs, vl;
    bool quoted;
};
/* Calls fn for each member of a JSON text that need not parse as a whole (a
 * body cut at --max-body); a string cut by the end runs to the end. */
void tide__json_members(const char *s, size_t n, void (*fn)(void *u, const struct tide__jm *m), void *u);
/* A multipart body's boundary, from its Content-Type; empty if none. */
struct tide_str tide__mp_boundary(struct tide_str content_type);
/* One part: its delimiter line at `at`, headers from ps, content from
 * body_at to pe, the next delimiter at next; its name and filename. */
struct tide__mp_part {
    size_t at, ps, body_at, pe, next;
    struct tide_str name, fname;
};
/* Where a multipart body's first delimiter is; n if it has none. */
size_t tide__mp_first(const char *s, size_t n, struct tide_str bd);
/* The part whose delimiter is at `at`; false at the closing delimiter or the end. */
bool tide__mp_part(const char *s, size_t n, struct tide_str bd, size_t at, struct tide__mp_part *pt);
/* A body's Content-Encoding: none (or identity), one tide reads, or other. */
enum { TIDE__CE_NONE, TIDE__CE_GZIP, TIDE__CE_DEFLATE, TIDE__CE_ZSTD, TIDE__CE_OTHER };
int tide__body_encoding(struct tide_str content_encoding);
/* Decodes a gzip, deflate or zstd body into o (capped at 16 MiB); false if
 * it does not decode whole. */
bool tide__body_decode(const char *p, size_t n, int ce, struct tide_buf *o);
/* 8-4-4-4-12 hex digits */
bool tide__is_uuid(const char *s, size_t n);

/* ---- detectors (detect.c) ---- */

#define TIDE__MAX_HITS 256

/* A body without a Content-Type that reads as a form (a=b&c=d, no spaces):
 * as a logged $request_body is */
bool tide__looks_like_form(const char *s, size_t n);

/* xmlcsv.c: the values of XML and CSV bodies with their names (an element's,
 * an attribute's, a column's), as spans of s, in order */
typedef void (*tide__kv_fn)(void *u, const char *k, size_t kl, size_t vs, size_t vl);
void tide__xml_values(const char *s, size_t n, tide__kv_fn fn, void *u);
void tide__csv_values(const char *s, size_t n, tide__kv_fn fn, void *u);
/* The reader for a body by its Content-Type (one saying xml; csv or
 * tab-separated values), or an XML declaration where the type says neither;
 * NULL for any other body. Its field name for counts and findings. */
typedef void (*tide__kv_reader)(const char *s, size_t n, tide__kv_fn fn, void *u);
tide__kv_reader tide__kv_reader_for(struct tide_str ct, const char *s, size_t n);
const char *tide__kv_field(tide__kv_reader r);

/* freetext.c: whether s (len bytes, up to 15) is in a sorted list of lower-case
 * words, compared case-insensitively */
bool tide__word_listed(const char *const *list, size_t n, const char *s, size_t len);

/* freetext.c: "key: value" and "key=value" pairs written in text, in order */
void tide__text_pairs(const char *s, size_t n, tide__kv_fn fn, void *u);

/* freetext.c: people's names in free text (bodies, query values) */
bool tide__given_name(const char *s, size_t n);
size_t tide__detect_names(const char *s, size_t n, struct tide_pii_hit *hits, size_t cap);
/* tide__detect's hits, street addresses and names, by start */
size_t tide__detect_text(const char *s, size_t n, struct tide_pii_hit *hits, size_t cap);
/* Collects non-overlapping hits in text, sorted by start. Returns the count. */
size_t tide__detect(const char *s, size_t n, struct tide_pii_hit *hits, size_t cap);
/* The same without the cheap pre-check (tide__detect_maybe); for tests. */
size_t tide__detect_all(const char *s, size_t n, struct tide_pii_hit *hits, size_t cap);
bool tide__detect_maybe(const char *s, size_t n);
bool tide__luhn(const char *digits, size_t n);
/* True if s is base64 (either alphabet) of mostly printable text. */
bool tide__is_b64_text(const char *s, size_t n);

#endif
