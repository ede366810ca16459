/*
 * xmlcsv.c - the values of XML and CSV bodies by their names, read alike by
 * the anonymizer (which applies the policy's rule for each name) and the
 * audit (which checks the value against it). An XML element's text is named
 * by the element (<firstName>Jane</firstName>), an attribute's value by the
 * attribute (<student email="...">); a CSV field by its column's header
 * (OneRoster's users.csv: sourcedId,givenName,familyName,email,...).
 * Names are local: a namespace prefix (<ims:sourcedId>) is left off.
 * Values are handed out as spans of the text, in order, for a writer to
 * splice; entities and CSV quoting stay as written around them.
 */
#define _GNU_SOURCE /* memrchr */
#include "anon_int.h"

#include <string.h>

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.' || c == ':' || (unsigned char)c >= 0x80;
}

/* The local part of a qualified name: after its last ':'. */
static void local_name(const char *s, size_t n, const char **k, size_t *kl)
{
    const char *c = memrchr(s, ':', n);
    *k = c ? c + 1 : s;
    *kl = c ? n - (size_t)(c + 1 - s) : n;
}

/* Past what starts at i and ends with the string end ("-->", "]]>", "?>"). */
static size_t skip_to(const char *s, size_t n, size_t i, const char *end)
{
    size_t el = strlen(end);
    while (i + el <= n && memcmp(s + i, end, el) != 0)
        i++;
    return i + el <= n ? i + el : n;
}

void tide__xml_values(const char *s, size_t n, tide__kv_fn fn, void *u)
{
    size_t i = 0;
    while (i < n) {
        const char *lt = memchr(s + i, '<', n - i), *k;
        size_t t, ns, nl, kl;
        bool closed = false;
        if (!lt)
            return;
        t = (size_t)(lt - s);
        if (t + 1 >= n)
            return;
        if (n - t >= 4 && memcmp(s + t, "<!--", 4) == 0) {
            i = skip_to(s, n, t + 4, "-->");
            continue;
        }
        if (n - t >= 9 && memcmp(s + t, "<![CDATA[", 9) == 0) {
            i = skip_to(s, n, t + 9, "]]>");
            continue;
        }
        if (s[t + 1] == '?' || s[t + 1] == '!' || s[t + 1] == '/') {
            const char *gt = memchr(s + t, '>', n - t);
            i = gt ? (size_t)(gt - s) + 1 : n;
            continue;
        }
        /* a start tag: its name, then its attributes */
        ns = t + 1;
        for (nl = 0; ns + nl < n && name_char(s[ns + nl]); nl++)
            ;
        if (!nl) {
            i = t + 1;
            continue;
        }
        i = ns + nl;
        while (i < n && s[i] != '>') {
            size_t as, al, q;
            if (s[i] == '/' && i + 1 < n && s[i + 1] == '>') {
                closed = true;
                i++;
                break;
            }
            if (!name_char(s[i])) {
                i++;
                continue;
            }
            for (as = i, al = 0; as + al < n && name_char(s[as + al]); al++)
                ;
            i = as + al;
            while (i < n && s[i] == ' ')
                i++;
            if (i >= n || s[i] != '=')
                continue;
            i++;
            while (i < n && s[i] == ' ')
                i++;
            if (i >= n || (s[i] != '"' && s[i] != '\''))
                continue;
            q = i + 1;
            i = q;
            while (i < n && s[i] != s[q - 1])
                i++;
            if (i >= n)
                return; /* cut short */
            local_name(s + as, al, &k, &kl);
            fn(u, k, kl, q, i - q);
            i++;
        }
        if (i >= n)
            return;
        i++; /* past '>' */
        if (closed)
            continue;
        /* a leaf: text, then this element's end tag */
        {
            const char *nx = memchr(s + i, '<', n - i);
            size_t e = nx ? (size_t)(nx - s) : n;
            if (nx && e > i && e + 2 + nl <= n && s[e + 1] == '/' && memcmp(s + e + 2, s + ns, nl) == 0 &&
                (e + 2 + nl == n || !name_char(s[e + 2 + nl]))) {
                local_name(s + ns, nl, &k, &kl);
                fn(u, k, kl, i, e - i);
            }
            i = e;
        }
    }
}

/* One CSV field at i: its value's span (inside quotes if quoted) and where
 * the next field starts; *eol when the row ends after it. */
static size_t csv_field(const char *s, size_t n, size_t i, char d, size_t *vs, size_t *vl, bool *eol)
{
    size_t j;
    *eol = false;
    if (i < n && s[i] == '"') {
        j = i + 1;
        while (j < n && !(s[j] == '"' && (j + 1 >= n || s[j + 1] != '"')))
            j += s[j] == '"' ? 2 : 1;
        *vs = i + 1;
        *vl = (j < n ? j : n) - (i + 1);
        j = j < n ? j + 1 : n;
    } else {
        j = i;
        while (j < n && s[j] != d && s[j] != '\n' && s[j] != '\r')
            j++;
        *vs = i;
        *vl = j - i;
    }
    if (j >= n) {
        *eol = true;
        return n;
    }
    if (s[j] == d)
        return j + 1;
    *eol = true;
    if (s[j] == '\r' && j + 1 < n && s[j + 1] == '\n')
        j++;
    return j < n ? j + 1 : n; /* past the line's end (or junk after a quote: to the line's end) */
}

#define CSV_MAX_COLS 256

void tide__csv_values(const char *s, size_t n, tide__kv_fn fn, void *u)
{
    size_t col_s[CSV_MAX_COLS], col_l[CSV_MAX_COLS], ncols = 0, i = 0, c, vs, vl, le;
    const char *nl = memchr(s, '\n', n);
    size_t hdr_end = nl ? (size_t)(nl - s) : n;
    size_t cnt[3] = {0, 0, 0};
    static const char D[3] = {',', ';', '\t'};
    char d = ',';
    bool eol = false;
    /* the delimiter: the one the header line has most of */
    for (c = 0; c < hdr_end; c++)
        cnt[0] += s[c] == ',', cnt[1] += s[c] == ';', cnt[2] += s[c] == '\t';
    for (c = 1; c < 3; c++)
        if (cnt[c] > cnt[0] && cnt[c] >= cnt[1] && cnt[c] >= cnt[2])
            d = D[c];
    while (!eol && i < n) {
        i = csv_field(s, n, i, d, &vs, &vl, &eol);
        if (ncols < CSV_MAX_COLS) {
            col_s[ncols] = vs;
            col_l[ncols++] = vl;
        }
    }
    while (i < n) {
        for (c = 0, eol = false; !eol && i < n; c++) {
            le = i;
            i = csv_field(s, n, i, d, &vs, &vl, &eol);
            if (c < ncols && vl)
                fn(u, s + col_s[c], col_l[c], vs, vl);
            if (i <= le)
                return;
        }
    }
}

tide__kv_reader tide__kv_reader_for(struct tide_str ct, const char *s, size_t n)
{
    if ((ct.p && memmem(ct.p, ct.len, "xml", 3)) || (n > 5 && memcmp(s, "<?xml", 5) == 0))
        return tide__xml_values;
    if (ct.p && (memmem(ct.p, ct.len, "csv", 3) || memmem(ct.p, ct.len, "tab-separated", 13)))
        return tide__csv_values;
    return NULL;
}

const char *tide__kv_field(tide__kv_reader r)
{
    return r == tide__xml_values ? "xml body" : "csv body";
}
