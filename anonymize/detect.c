/*
 * detect.c - detectors for personal data in free text: emails, phone numbers,
 * US SSNs, payment cards (Luhn), IPv4/IPv6 addresses, JWTs, bearer tokens and
 * API keys, dates of birth (a date near "born"/"birth"/"dob").
 *
 * One pass, hand-written matchers tried at word boundaries; no regex engine,
 * no allocation. Hits never overlap: the earliest (then longest) wins. The
 * anonymizer replaces hits; the audit reports them. Values already in tide's
 * pseudonym forms are not hits, so an anonymized trace audits clean.
 */
#define _GNU_SOURCE
#include "anon_int.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* ASCII classes by table: isalnum() goes through the locale on every call */
enum { C_ALNUM = 1, C_DIGIT = 2, C_B64URL = 4 };
static const uint8_t CLS[256] = {
    ['0' ... '9'] = C_ALNUM | C_DIGIT | C_B64URL,
    ['A' ... 'Z'] = C_ALNUM | C_B64URL,
    ['a' ... 'z'] = C_ALNUM | C_B64URL,
    ['-'] = C_B64URL,
    ['_'] = C_B64URL,
};
static bool is_alnum(char c) { return CLS[(uint8_t)c] & C_ALNUM; }
static bool is_digit(char c) { return CLS[(uint8_t)c] & C_DIGIT; }
static bool is_b64url(char c) { return CLS[(uint8_t)c] & C_B64URL; }

bool tide__luhn(const char *d, size_t n)
{
    int sum = 0, k = 0;
    size_t i;
    for (i = n; i-- > 0;) {
        int x;
        if (!is_digit(d[i]))
            continue;
        x = d[i] - '0';
        if (k++ % 2 == 1) {
            x *= 2;
            if (x > 9)
                x -= 9;
        }
        sum += x;
    }
    return k >= 13 && sum % 10 == 0;
}

/* email around an '@' at position at: returns start/len through pointers */
static bool email_at(const char *s, size_t n, size_t at, size_t *st, size_t *len)
{
    size_t l = at, r = at + 1, dot = 0;
    while (l > 0 && (is_alnum(s[l - 1]) || strchr("._%+-", s[l - 1])))
        l--;
    while (r < n && (is_alnum(s[r]) || s[r] == '.' || s[r] == '-'))
        r++;
    while (r > at + 1 && s[r - 1] == '.')
        r--; /* a sentence's full stop: "write to jane@school.edu." */
    for (size_t k = at + 1; k < r; k++)
        if (s[k] == '.')
            dot = k; /* the last dot of the domain, once the full stop is off */
    if (l == at || !dot || dot >= r - 2 || dot == at + 1)
        return false;
    for (size_t k = dot + 1; k < r; k++)
        if (!isalpha((unsigned char)s[k]))
            return false;
    *st = l;
    *len = r - l;
    return true;
}

/* Where a pseudonym email starts inside what looks like one longer email,
 * right after an encoded separator ('+' or %XX); 0 if it does not. No real
 * address is at example.invalid (RFC 6761). */
static size_t pseudonym_after_separator(const char *s, size_t n)
{
    size_t k;
    if (n <= 28 || memcmp(s + n - 16, "@example.invalid", 16) != 0 || s[n - 28] != 'p' ||
        !tide__is_pseudonym(s + n - 28, 12))
        return 0;
    k = n - 28;
    if (s[k - 1] == '+')
        return k;
    /* %3D, or encoded again %253D, %25253D */
    if (k >= 3 && isxdigit((unsigned char)s[k - 2]) && isxdigit((unsigned char)s[k - 1])) {
        size_t j = k - 2;
        while (j >= 3 && s[j - 1] == '5' && s[j - 2] == '2')
            j -= 2;
        if (j >= 1 && s[j - 1] == '%')
            return k;
    }
    return 0;
}

bool tide__is_b64_text(const char *s, size_t n)
{
    struct tide_buf d;
    size_t k, pr = 0;
    bool yes = false;
    if (n < 16)
        return false;
    tide_buf_init(&d, 1 << 20);
    if (tide_base64_decode(&d, s, n) == 0 && d.len >= 8) {
        for (k = 0; k < d.len; k++)
            pr += (d.p[k] >= 0x20 && d.p[k] < 0x7f) || d.p[k] == '\n' || d.p[k] == '\t';
        yes = pr * 10 >= d.len * 9;
    }
    tide_buf_free(&d);
    return yes;
}

/*
 * "installing-fedora-linux-via-pxe-x86-64": words joined by '-' or '_', as
 * in the URLs of articles and SEO pages, not a key. Keys are one long random
 * run (sk_live_51HxQ2eK9zVbT7uA8mN3pR6wY4, ghp_..., 32 hex digits); random
 * base64url has a '-' or '_' about every 32 bytes. A slug: two separators or
 * more, and no part of 12 characters or more; or a longest part without a
 * digit ("MicWinHarComPCA_2010-11-01": a name and a date), which a random
 * run of 12 or more rarely is.
 */
static bool is_slug(const char *s, size_t n)
{
    size_t i, part = 0, longest = 0, seps = 0, dg = 0, dg_longest = 0;
    for (i = 0; i < n; i++) {
        if (s[i] == '-' || s[i] == '_') {
            seps++;
            part = dg = 0;
            continue;
        }
        dg += is_digit(s[i]);
        if (++part > longest) {
            longest = part;
            dg_longest = dg;
        }
    }
    return seps >= 1 && (longest < 12 ? seps >= 2 : dg_longest == 0);
}

/* Whether the run at i is a MIME boundary: after "boundary=" (a
 * Content-Type's, maybe quoted), or after two dashes or more at a line's
 * start (a multipart body's delimiter). Random, but nobody's. */
static bool mime_boundary(const char *s, size_t i)
{
    size_t k = i, dashes = 0;
    while (k > 0 && s[k - 1] == '-')
        k--, dashes++;
    if (dashes >= 2 && (k == 0 || s[k - 1] == '\n'))
        return true;
    if (k > 0 && s[k - 1] == '"')
        k--;
    return k >= 9 && strncasecmp(s + k - 9, "boundary=", 9) == 0;
}

/* A numeric date at i: yyyy-mm-dd, mm/dd/yyyy, dd.mm.yyyy, with one or two
 * digits for month and day and the same separator twice; its length, or 0. */
static size_t numeric_date(const char *s, size_t n, size_t i)
{
    size_t p[3], j = i, k;
    char sep = 0;
    for (k = 0; k < 3; k++) {
        size_t d = j;
        while (j < n && is_digit(s[j]) && j - d < 5)
            j++;
        p[k] = j - d;
        if (p[k] == 0 || p[k] > 4)
            return 0;
        if (k < 2) {
            if (j >= n || (s[j] != '-' && s[j] != '/' && s[j] != '.') || (sep && s[j] != sep))
                return 0;
            sep = s[j++];
        }
    }
    if (j < n && is_digit(s[j]))
        return 0;
    if (p[0] == 4 && p[1] <= 2 && p[2] <= 2 && (s[i] == '1' || s[i] == '2'))
        return j - i; /* 2011-03-14, 2011-3-14 */
    if (p[2] == 4 && p[0] <= 2 && p[1] <= 2 && (s[j - 4] == '1' || s[j - 4] == '2'))
        return j - i; /* 03/14/2011, 3/14/2011, 14.03.2011 */
    return 0;
}

/* Matches at i; returns the length and sets *kind, or 0. */
static size_t match_at(const char *s, size_t n, size_t i, int *kind)
{
    size_t j, k, digits;
    /* JWT: three base64url parts, the first starting eyJ ({" in base64) */
    if (n - i > 20 && memcmp(s + i, "eyJ", 3) == 0) {
        int dots = 0;
        for (j = i; j < n && (is_b64url(s[j]) || s[j] == '.'); j++)
            dots += s[j] == '.';
        if (dots == 2 && j - i > 30) {
            *kind = TIDE_PII_JWT;
            return j - i;
        }
    }
    /* Bearer <token> */
    if ((s[i] == 'B' || s[i] == 'b') && n - i > 10 && strncasecmp(s + i, "bearer ", 7) == 0) {
        for (j = i + 7; j < n && (is_b64url(s[j]) || s[j] == '.' || s[j] == '~' || s[j] == '+' || s[j] == '/' || s[j] == '='); j++)
            ;
        if (j - i - 7 >= 8) {
            *kind = TIDE_PII_BEARER;
            return j - i;
        }
    }
    /* IPv6 (at least two colons, parses) */
    if (isxdigit((unsigned char)s[i]) || s[i] == ':') {
        int colons = 0;
        for (j = i; j < n && (isxdigit((unsigned char)s[j]) || s[j] == ':' || s[j] == '.'); j++)
            colons += s[j] == ':';
        while (j > i && s[j - 1] == '.')
            j--;
        if (colons >= 2 && tide_is_ip(s + i, j - i)) {
            *kind = TIDE_PII_IPV6;
            return j - i;
        }
    }
    if (is_digit(s[i])) {
        /* IPv4 */
        int dots = 0;
        for (j = i; j < n && (is_digit(s[j]) || s[j] == '.'); j++)
            dots += s[j] == '.';
        while (j > i && s[j - 1] == '.') {
            j--;
            dots--;
        }
        /* "Chrome/120.0.0.0", "rv:1.9.0.13": a product's version, not an address
         * (a letter, then '/'; or Gecko's "rv:") */
        bool version = (i >= 2 && s[i - 1] == '/' && is_alnum(s[i - 2]) && !is_digit(s[i - 2])) ||
                       (i >= 3 && memcmp(s + i - 3, "rv:", 3) == 0);
        if (dots == 3 && !version && (j >= n || !is_alnum(s[j])) && tide_is_ip(s + i, j - i)) {
            *kind = TIDE_PII_IPV4;
            return j - i;
        }
        /* SSN ddd-dd-dddd */
        if (n - i >= 11 && is_digit(s[i + 1]) && is_digit(s[i + 2]) && s[i + 3] == '-' &&
            is_digit(s[i + 4]) && is_digit(s[i + 5]) && s[i + 6] == '-' && is_digit(s[i + 7]) &&
            is_digit(s[i + 8]) && is_digit(s[i + 9]) && is_digit(s[i + 10]) &&
            (n - i == 11 || !is_alnum(s[i + 11]))) {
            *kind = TIDE_PII_SSN;
            return 11;
        }
        /* a card: 13-19 digits, single spaces or dashes between groups, Luhn-valid */
        for (j = i, digits = 0; j < n && digits < 19; j++) {
            if (is_digit(s[j]))
                digits++;
            else if ((s[j] == ' ' || s[j] == '-') && j + 1 < n && is_digit(s[j + 1]) && is_digit(s[j - 1]))
                continue;
            else
                break;
        }
        if (digits >= 13 && (j >= n || !is_alnum(s[j])) && tide__luhn(s + i, j - i)) {
            *kind = TIDE_PII_CARD;
            return j - i;
        }
    }
    /* phone: +E.164, or (ddd) ddd-dddd, or ddd-ddd-dddd / ddd.ddd.dddd / ddd ddd dddd */
    if (s[i] == '+' && n - i > 8 && is_digit(s[i + 1])) {
        for (j = i + 1, digits = 0; j < n && (is_digit(s[j]) || ((s[j] == ' ' || s[j] == '-') && j + 1 < n && is_digit(s[j + 1]))); j++)
            digits += is_digit(s[j]);
        if (digits >= 8 && digits <= 15 && (j >= n || !is_alnum(s[j]))) {
            *kind = TIDE_PII_PHONE;
            return j - i;
        }
    }
    if (s[i] == '(' && n - i >= 12 && is_digit(s[i + 1]) && is_digit(s[i + 2]) && is_digit(s[i + 3]) &&
        s[i + 4] == ')') {
        k = i + 5;
        if (k < n && s[k] == ' ')
            k++;
        if (n - k >= 8 && is_digit(s[k]) && is_digit(s[k + 1]) && is_digit(s[k + 2]) &&
            (s[k + 3] == '-' || s[k + 3] == '.' || s[k + 3] == ' ') && is_digit(s[k + 4]) &&
            is_digit(s[k + 5]) && is_digit(s[k + 6]) && is_digit(s[k + 7])) {
            *kind = TIDE_PII_PHONE;
            return k + 8 - i;
        }
        if (n - k >= 7 && (n - k == 7 || !is_alnum(s[k + 7]))) { /* (415)5552671 */
            for (j = k; j < k + 7 && is_digit(s[j]); j++)
                ;
            if (j == k + 7) {
                *kind = TIDE_PII_PHONE;
                return j - i;
            }
        }
    }
    if (is_digit(s[i]) && n - i >= 12 && is_digit(s[i + 1]) && is_digit(s[i + 2]) &&
        strchr("-. ", s[i + 3]) && is_digit(s[i + 4]) && is_digit(s[i + 5]) && is_digit(s[i + 6]) &&
        s[i + 7] == s[i + 3] && is_digit(s[i + 8]) && is_digit(s[i + 9]) && is_digit(s[i + 10]) &&
        is_digit(s[i + 11]) && (n - i == 12 || !is_alnum(s[i + 12]))) {
        *kind = TIDE_PII_PHONE;
        return 12;
    }
    /* an SSN without dashes, 123456789 or 123 45 6789, within 24 bytes after
     * "ssn" or "social security" (nine digits alone are any number) */
    if (is_digit(s[i]) && i > 0 && n - i >= 9) {
        size_t m = 0;
        for (j = i, digits = 0; j < n && digits < 10; j++) {
            if (is_digit(s[j]))
                digits++;
            else if (s[j] == ' ' && (digits == 3 || digits == 5) && j + 1 < n && is_digit(s[j + 1]))
                continue;
            else
                break;
        }
        if (digits == 9 && (j >= n || !is_alnum(s[j])))
            m = j - i;
        if (m) {
            size_t back = i > 24 ? i - 24 : 0;
            bool ctx = false;
            for (k = back; k + 3 <= i && !ctx; k++)
                ctx = strncasecmp(s + k, "ssn", 3) == 0 || (k + 6 <= i && strncasecmp(s + k, "social", 6) == 0);
            if (ctx) {
                *kind = TIDE_PII_SSN;
                return m;
            }
        }
    }
    /* date of birth: a numeric date (numeric_date) within 24 bytes after born/birth/dob
     * (the shape first: it is cheap and rarely there; the context only then) */
    if (is_digit(s[i]) && i > 0 && n - i >= 8) {
        size_t m = numeric_date(s, n, i);
        if (m) {
            size_t back = i > 24 ? i - 24 : 0;
            bool ctx = false;
            for (k = back; k + 3 <= i && !ctx; k++)
                ctx = strncasecmp(s + k, "born", 4) == 0 || strncasecmp(s + k, "birth", 5) == 0 ||
                      strncasecmp(s + k, "dob", 3) == 0;
            if (ctx) {
                *kind = TIDE_PII_DOB;
                return m;
            }
        }
    }
    /* API keys: sk_live_..., AKIA..., ghp_..., or any 24+ char token of letters
     * and digits with both (not a pseudonym) */
    if (is_alnum(s[i])) {
        size_t up = 0, lo = 0, dg = 0;
        for (j = i; j < n && (is_b64url(s[j])); j++) {
            up += isupper((unsigned char)s[j]) != 0;
            lo += islower((unsigned char)s[j]) != 0;
            dg += is_digit(s[j]);
        }
        if (j - i >= 24 && dg >= 4 && (up + lo) >= 4 && !tide__is_pseudonym(s + i, j - i) &&
            !is_slug(s + i, j - i) && !mime_boundary(s, i)) {
            bool hexonly = true;
            for (k = i; k < j && hexonly; k++)
                hexonly = isxdigit((unsigned char)s[k]) != 0;
            /* base64 of text is a layer (scanned decoded), not a key */
            if ((!hexonly || j - i >= 32) && !tide__is_b64_text(s + i, j - i)) {
                *kind = TIDE_PII_APIKEY;
                return j - i;
            }
        }
    }
    return 0;
}

/*
 * Whether any detector could match somewhere in s, from what each one needs
 * at the least: an '@' (email), two colons (IPv6), three dots and four digits
 * (IPv4), eight digits (SSN, card, phone, date of birth) or six and two
 * separators (a short date), a run of 24
 * base64url-or-dot bytes (API key, JWT), "bearer " (a bearer token). One
 * pass; most path segments, user agents and ids fail it and cost nothing more.
 */
bool tide__detect_maybe(const char *s, size_t n)
{
    size_t i, digits = 0, dots = 0, colons = 0, run = 0, seps = 0;
    for (i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i], k = CLS[c];
        if (k & C_B64URL) {
            digits += (k & C_DIGIT) != 0;
            seps += c == '-';
            if (++run >= 24)
                return true;
            continue;
        }
        if (c == '.') {
            dots++;
            if (++run >= 24)
                return true;
            continue;
        }
        run = 0;
        seps += c == '/';
        if (c == '@')
            return true;
        if (c == ':' && ++colons >= 2)
            return true;
        if (c == ' ' && i >= 6 && (s[i - 1] | 0x20) == 'r' && n - i > 8 && strncasecmp(s + i - 6, "bearer", 6) == 0)
            return true;
    }
    /* a short date (3/14/2011, 14.03.2011) has six digits and two separators */
    return digits >= 8 || (dots >= 3 && digits >= 4) || (digits >= 6 && seps + dots >= 2);
}

size_t tide__detect(const char *s, size_t n, struct tide_pii_hit *hits, size_t cap)
{
    return tide__detect_maybe(s, n) ? tide__detect_all(s, n, hits, cap) : 0;
}

size_t tide__detect_all(const char *s, size_t n, struct tide_pii_hit *hits, size_t cap)
{
    size_t i = 0, nh = 0;
    while (i < n && nh < cap) {
        size_t st, len;
        int kind;
        bool boundary = i == 0 || !is_alnum(s[i - 1]);
        /* emails are anchored on '@': look ahead to the next '@' in this word */
        if (s[i] == '@' && email_at(s, n, i, &st, &len)) {
            size_t k = pseudonym_after_separator(s + st, len);
            /* "contact+p_...@example.invalid", "%22p_...@example.invalid": a
             * pseudonym after an encoded space or quote (a query's text, JSON in a
             * query value) is the email; what is before it was scanned as text */
            st += k;
            len -= k;
            /* an email starts before i: drop hits that it overlaps */
            while (nh > 0 && hits[nh - 1].start + hits[nh - 1].len > st)
                nh--;
            if (!tide__is_pseudonym(s + st, len))
                hits[nh++] = (struct tide_pii_hit){TIDE_PII_EMAIL, st, len};
            i = st + len;
            continue;
        }
        if (boundary && n - i >= 36 && s[i + 8] == '-' && s[i + 13] == '-' && tide__is_pseudonym(s + i, 36) &&
            (n - i == 36 || !is_alnum(s[i + 36]))) {
            i += 36; /* a UUID's pseudonym: no hit, nor its groups after a '-' */
            continue;
        }
        if (boundary && (len = match_at(s, n, i, &kind)) > 0) {
            /* tide's own fictional forms (555-01xx phones, 9xx SSNs, test cards) are not hits */
            if (!tide__is_fictional(kind, s + i, len))
                hits[nh++] = (struct tide_pii_hit){kind, i, len};
            i += len;
            continue;
        }
        i++;
    }
    return nh;
}

const char *tide_pii_kind_name(int kind)
{
    static const char *N[] = {"email", "phone", "ssn", "card", "ipv4", "ipv6", "jwt", "bearer",
                              "api_key", "date_of_birth", "personal_field", "high_entropy",
                              "secret_field", "unreadable_body", "person_name", "street_address", "student_id"};
    return kind >= 0 && kind < TIDE_PII_KINDS ? N[kind] : "unknown";
}

/* ---- decoding layers for the scan ---------------------------------------------------------- */

struct scan_ctx {
    tide_pii_fn fn;
    void *userp;
    bool names; /* people's writing: names count */
};

static void scan_layer(const char *s, size_t n, struct scan_ctx *c, int depth)
{
    struct tide_pii_hit hits[TIDE__MAX_HITS];
    size_t nh, i, base = 0;
    /* in rounds of TIDE__MAX_HITS hits: what follows 256 informational hits
     * (anonymized addresses) is looked at too */
    do {
        nh = c->names ? tide__detect_text(s + base, n - base, hits, TIDE__MAX_HITS)
                      : tide__detect(s + base, n - base, hits, TIDE__MAX_HITS);
        for (i = 0; i < nh; i++)
            c->fn(c->userp, &hits[i], s + base);
        if (nh < TIDE__MAX_HITS || hits[nh - 1].start + hits[nh - 1].len == 0)
            break;
        base += hits[nh - 1].start + hits[nh - 1].len;
    } while (base < n);
    if (depth >= 3)
        return;
    /* percent-encoded: decode and look again */
    if (memchr(s, '%', n) || memchr(s, '+', n)) {
        struct tide_buf d;
        tide_buf_init(&d, 1 << 20);
        if (tide_percent_decode(&d, s, n))
            scan_layer(d.p, d.len, c, depth + 1);
        tide_buf_free(&d);
    }
    /* base64 / base64url runs of 16+ chars that decode to mostly printable text */
    for (i = 0; i < n;) {
        size_t j = i;
        while (j < n && (is_b64url(s[j]) || s[j] == '+' || s[j] == '/'))
            j++;
        while (j < n && s[j] == '=')
            j++;
        if (j - i >= 16) {
            struct tide_buf d;
            tide_buf_init(&d, 1 << 20);
            if (tide_base64_decode(&d, s + i, j - i) == 0 && d.len) {
                size_t pr = 0, k;
                for (k = 0; k < d.len; k++)
                    pr += (d.p[k] >= 0x20 && d.p[k] < 0x7f) || d.p[k] == '\n' || d.p[k] == '\t';
                if (pr * 10 >= d.len * 9)
                    scan_layer(d.p, d.len, c, depth + 1);
            }
            tide_buf_free(&d);
        }
        i = j > i ? j : i + 1;
    }
}

void tide_pii_scan(const char *text, size_t len, tide_pii_fn fn, void *userp)
{
    struct scan_ctx c = {fn, userp, false};
    scan_layer(text, len, &c, 0);
}

void tide_pii_scan_text(const char *text, size_t len, tide_pii_fn fn, void *userp)
{
    struct scan_ctx c = {fn, userp, true};
    scan_layer(text, len, &c, 0);
}
