/*
 * pseudo.c - keys and keyed pseudonyms.
 *
 * Every pseudonym is derived from HMAC-SHA256(key, shape || value), so the
 * same value under the same key maps to the same pseudonym in every field,
 * file and run, and nothing can be reversed without the key. Shapes keep
 * what replay needs to parse (an email stays an email, a UUID a UUID, a card
 * number Luhn-valid). Client addresses use Crypto-PAn (Xu et al.), which is
 * prefix-preserving: two addresses in one /24 stay in one /24. Traffic
 * repeats values heavily, so results are cached: a repeated value costs a
 * hash lookup, not an HMAC.
 */
#include "anon_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define CACHE_MAX 1000000

struct tide__pseudo {
    uint8_t key[TIDE_KEY_LEN];
    int ip_mode;
    EVP_CIPHER_CTX *aes;
    uint8_t pad[16];
    EVP_MD_CTX *inner, *outer, *tmp_md; /* HMAC states after the key's pads; scratch */
    struct tide_strmap cache;
    struct tide_buf tmp;
    /* IPv4 addresses: a table of 32-bit address -> 32-bit result (no strings,
     * one probe sequence in a few MB), and the text of the last result */
    struct v4ent {
        uint32_t addr, out;
        uint32_t used;
    } *v4;
    size_t v4cap, v4n;
    char v4text[16];
};

/* ---- keys ---------------------------------------------------------------------------- */

int tide_key_random(uint8_t key[TIDE_KEY_LEN], struct tide_err *err)
{
    size_t got = 0;
    while (got < TIDE_KEY_LEN) {
        ssize_t k = getrandom(key + got, TIDE_KEY_LEN - got, 0);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return tide_err_set(err, TIDE_E_IO, "", "getrandom failed: %s", strerror(errno));
        }
        got += (size_t)k;
    }
    return 0;
}

int tide_key_load(const char *path, uint8_t key[TIDE_KEY_LEN], struct tide_err *err)
{
    uint8_t buf[130];
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC), i;
    if (fd < 0)
        return tide_err_set(err, TIDE_E_NOTFOUND, path, "cannot open key file: %s", strerror(errno));
    n = read(fd, buf, sizeof(buf));
    close(fd);
    if (n == TIDE_KEY_LEN) {
        memcpy(key, buf, TIDE_KEY_LEN);
        return 0;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    if (n == 2 * TIDE_KEY_LEN) {
        for (i = 0; i < TIDE_KEY_LEN; i++) {
            int h = tide_hex_value((char)buf[2 * i]), l = tide_hex_value((char)buf[2 * i + 1]);
            if (h < 0 || l < 0)
                return tide_err_set(err, TIDE_E_FORMAT, path, "key file is not 64 hex characters");
            key[i] = (uint8_t)(h << 4 | l);
        }
        return 0;
    }
    return tide_err_set(err, TIDE_E_FORMAT, path,
                        "key file must hold exactly %d bytes or %d hex characters (tide keygen)",
                        TIDE_KEY_LEN, 2 * TIDE_KEY_LEN);
}

int tide_key_generate(const char *path, struct tide_err *err)
{
    uint8_t key[TIDE_KEY_LEN];
    int fd, rc = tide_key_random(key, err);
    if (rc)
        return rc;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return tide_err_set(err, TIDE_E_IO, path, "cannot create key file: %s", strerror(errno));
    if (write(fd, key, sizeof(key)) != (ssize_t)sizeof(key) || fsync(fd) != 0) {
        close(fd);
        unlink(path);
        return tide_err_set(err, TIDE_E_IO, path, "cannot write key file: %s", strerror(errno));
    }
    close(fd);
    return 0;
}

void tide_key_fingerprint(const uint8_t key[TIDE_KEY_LEN], char out[17])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t d[SHA256_DIGEST_LENGTH], in[20 + TIDE_KEY_LEN];
    int i;
    memcpy(in, "tide key fingerprint", 20);
    memcpy(in + 20, key, TIDE_KEY_LEN);
    SHA256(in, sizeof(in), d);
    OPENSSL_cleanse(in, sizeof(in));
    for (i = 0; i < 8; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[16] = 0;
}

/* ---- pseudonyms -------------------------------------------------------------------------- */

/*
 * HMAC-SHA256(key, domain || p). The key's inner and outer pads are hashed
 * once (at create); each call copies those states. OpenSSL 3's one-shot HMAC()
 * fetches the algorithm and sets the key up on every call, which cost more
 * than the hashing for the short values pseudonymized here.
 */
static void mac(const struct tide__pseudo *ps, int domain, const void *p, size_t n, uint8_t out[32])
{
    unsigned int len = 32;
    uint8_t d = (uint8_t)domain, inner[32];
    if (!EVP_MD_CTX_copy_ex(ps->tmp_md, ps->inner) || !EVP_DigestUpdate(ps->tmp_md, &d, 1) ||
        !EVP_DigestUpdate(ps->tmp_md, p, n) || !EVP_DigestFinal_ex(ps->tmp_md, inner, &len) ||
        !EVP_MD_CTX_copy_ex(ps->tmp_md, ps->outer) || !EVP_DigestUpdate(ps->tmp_md, inner, 32) ||
        !EVP_DigestFinal_ex(ps->tmp_md, out, &len)) {
        /* cannot happen short of memory: a still keyed, deterministic fallback */
        uint8_t *buf = malloc(n + 1);
        if (buf) {
            buf[0] = d;
            memcpy(buf + 1, p, n);
        }
        HMAC(EVP_sha256(), ps->key, TIDE_KEY_LEN, buf ? buf : p, buf ? n + 1 : n, out, &len);
        free(buf);
    }
}

/* The inner and outer HMAC states for ps->key (TIDE_KEY_LEN <= the 64-byte block). */
static bool mac_setup(struct tide__pseudo *ps)
{
    uint8_t ipad[64], opad[64];
    size_t i;
    bool ok;
    ps->inner = EVP_MD_CTX_new();
    ps->outer = EVP_MD_CTX_new();
    ps->tmp_md = EVP_MD_CTX_new();
    if (!ps->inner || !ps->outer || !ps->tmp_md)
        return false;
    memset(ipad, 0x36, sizeof(ipad));
    memset(opad, 0x5c, sizeof(opad));
    for (i = 0; i < TIDE_KEY_LEN; i++) {
        ipad[i] ^= ps->key[i];
        opad[i] ^= ps->key[i];
    }
    ok = EVP_DigestInit_ex(ps->inner, EVP_sha256(), NULL) && EVP_DigestUpdate(ps->inner, ipad, 64) &&
         EVP_DigestInit_ex(ps->outer, EVP_sha256(), NULL) && EVP_DigestUpdate(ps->outer, opad, 64);
    OPENSSL_cleanse(ipad, sizeof(ipad));
    OPENSSL_cleanse(opad, sizeof(opad));
    return ok;
}

static void aes_block(struct tide__pseudo *ps, const uint8_t in[16], uint8_t out[16])
{
    int len = 16;
    EVP_EncryptUpdate(ps->aes, out, &len, in, 16);
}

int tide__pseudo_create(struct tide__pseudo **out, const uint8_t key[TIDE_KEY_LEN], int ip_mode)
{
    struct tide__pseudo *ps = calloc(1, sizeof(*ps));
    uint8_t k2[32];
    if (!ps)
        return TIDE_E_NOMEM;
    memcpy(ps->key, key, TIDE_KEY_LEN);
    ps->ip_mode = ip_mode;
    if (!mac_setup(ps)) {
        tide__pseudo_free(ps);
        return TIDE_E_INTERNAL;
    }
    mac(ps, 'C', "crypto-pan", 10, k2); /* Crypto-PAn key: AES key || pad seed */
    ps->aes = EVP_CIPHER_CTX_new();
    if (!ps->aes || !EVP_EncryptInit_ex(ps->aes, EVP_aes_128_ecb(), NULL, k2, NULL)) {
        tide__pseudo_free(ps);
        return TIDE_E_INTERNAL;
    }
    EVP_CIPHER_CTX_set_padding(ps->aes, 0);
    aes_block(ps, k2 + 16, ps->pad);
    tide_strmap_init(&ps->cache, 0);
    tide_buf_init(&ps->tmp, 0);
    *out = ps;
    return 0;
}

void tide__pseudo_free(struct tide__pseudo *ps)
{
    if (!ps)
        return;
    EVP_CIPHER_CTX_free(ps->aes);
    EVP_MD_CTX_free(ps->inner);
    EVP_MD_CTX_free(ps->outer);
    EVP_MD_CTX_free(ps->tmp_md);
    tide_strmap_free(&ps->cache);
    free(ps->v4);
    tide_buf_free(&ps->tmp);
    OPENSSL_cleanse(ps->key, sizeof(ps->key));
    free(ps);
}

static const char B32[] = "abcdefghijklmnopqrstuvwxyz234567";

static void b32(const uint8_t *h, char *out, int n)
{
    int i;
    for (i = 0; i < n; i++)
        out[i] = B32[h[i] & 31];
}

bool tide__is_fictional(int kind, const char *s, size_t n)
{
    char d[32];
    size_t i, nd = 0;
    for (i = 0; i < n && nd < sizeof(d); i++)
        if (s[i] >= '0' && s[i] <= '9')
            d[nd++] = s[i];
    switch (kind) {
    case TIDE_PII_PHONE:
        return nd >= 7 && memcmp(d + nd - 7, "55501", 5) == 0;
    case TIDE_PII_SSN:
        return nd == 9 && d[0] == '9';
    case TIDE_PII_CARD:
        return nd >= 13 && memcmp(d, "400000", 6) == 0;
    case TIDE_PII_DOB: /* generalized to the year: yyyy-01-01 or 01/01/yyyy */
        return nd == 8 && (memcmp(d + 4, "0101", 4) == 0 || memcmp(d, "0101", 4) == 0);
    default:
        return false;
    }
}

bool tide__is_pseudonym(const char *s, size_t n)
{
    size_t i;
    if (n == 36 && tide__is_uuid(s, n))
        return s[14] == '4' && strchr("89abAB", s[19]) && strncasecmp(s + 24, "7e570000", 8) == 0;
    if (n >= 12 && (s[0] == 'p' || s[0] == 't') && s[1] == '_') {
        for (i = 2; i < 12; i++)
            if (!strchr(B32, s[i]))
                return false;
        return true;
    }
    return n > 16 && memcmp(s + n - 16, "@example.invalid", 16) == 0 && n >= 28 &&
           tide__is_pseudonym(s, 12);
}

/* Builds the pseudonym of v in shape sh into ps->tmp. */
static void make(struct tide__pseudo *ps, int sh, struct tide_str v)
{
    uint8_t h[32], h2[32];
    struct tide_buf *b = &ps->tmp;
    size_t i, nd = 0;
    char low[256];
    bool upper = false; /* a UUID written in capitals */
    for (i = 0; sh == SH_UUID && i < v.len; i++)
        upper |= v.p[i] >= 'A' && v.p[i] <= 'F';
    if ((sh == SH_EMAIL || sh == SH_UUID) && v.len > 0 && v.len <= sizeof(low)) {
        /* JANE.DOE@SCHOOL.EDU is jane.doe@school.edu: one person, one
         * pseudonym; a UUID in capitals is the same UUID */
        for (i = 0; i < v.len; i++)
            low[i] = (char)tolower((unsigned char)v.p[i]);
        v = tide_str_make(low, v.len);
    }
    mac(ps, sh, v.p, v.len, h);
    mac(ps, 100 + sh, h, 32, h2); /* more key stream for long values */
    tide_buf_reset(b);
    switch (sh) {
    case SH_DIGITS:
    case SH_CLASSES:
    case SH_PHONE:
    case SH_SSN: {
        /* a hex id (a MongoDB ObjectId, a hash) stays hex: routes that
         * check for one still match */
        int letters = 26;
        if (sh == SH_CLASSES) {
            letters = 6;
            for (i = 0; i < v.len && letters == 6; i++)
                if (isalpha((unsigned char)v.p[i]) && !isxdigit((unsigned char)v.p[i]))
                    letters = 26;
        }
        for (i = 0; i < v.len; i++) {
            unsigned char c = (unsigned char)v.p[i];
            uint8_t r = i < 32 ? h[i] : h2[i % 32] ^ (uint8_t)(i * 131);
            if (c >= '0' && c <= '9') {
                char d = (char)('0' + r % 10);
                if (nd++ == 0 && c != '0' && d == '0')
                    d = (char)('1' + r % 9); /* no new leading zero */
                tide_buf_putc(b, d);
            } else if (c >= 'a' && c <= 'z') {
                tide_buf_putc(b, (char)('a' + r % letters));
            } else if (c >= 'A' && c <= 'Z') {
                tide_buf_putc(b, (char)('A' + r % letters));
            } else {
                tide_buf_putc(b, (char)c);
            }
        }
        if (sh == SH_DIGITS || sh == SH_CLASSES) {
            /* a run of 13-19 digits that passes Luhn's check reads as a
             * payment card to any scanner (tide audit's too): the pseudonym
             * of an id is made not to (its last digit moved by one) */
            size_t st = 0, rd = 0;
#define DIG(k) ((k) < b->len && b->p[k] >= '0' && b->p[k] <= '9')
            for (i = 0; i <= b->len; i++) {
                if (DIG(i)) {
                    rd++;
                    continue;
                }
                /* single spaces or dashes between digits, as card numbers are written */
                if (i < b->len && (b->p[i] == ' ' || b->p[i] == '-') && i > st && DIG(i - 1) && DIG(i + 1))
                    continue;
                if (rd >= 13 && rd <= 19 && tide__luhn(b->p + st, i - st))
                    b->p[i - 1] = (char)('0' + (b->p[i - 1] - '0' + 1) % 10);
                st = i + 1;
                rd = 0;
            }
#undef DIG
        }
        if (sh == SH_CLASSES) {
            /* made-up capitalized words can read as a title and a name or as
             * a street ("9254 N. Elm Rd" to "1136 W. Mrs Kd", or "... Ln"):
             * then written in lower case, which neither rule reads */
            struct tide_pii_hit hh[8];
            size_t nh = tide__detect_text(b->p, b->len, hh, 8), k;
            for (k = 0; k < nh; k++)
                if (hh[k].kind == TIDE_PII_PERSON_NAME || hh[k].kind == TIDE_PII_STREET_ADDRESS) {
                    for (i = 0; i < b->len; i++)
                        b->p[i] = (char)tolower((unsigned char)b->p[i]);
                    break;
                }
        }
        if (sh == SH_SSN) {
            for (i = 0; i < b->len; i++)
                if (b->p[i] >= '0' && b->p[i] <= '9') {
                    b->p[i] = '9';
                    break;
                }
        } else if (sh == SH_PHONE) {
            static const char tail[] = "55501";
            size_t k, seen = 0;
            for (k = b->len; k-- > 0 && seen < 7;)
                if (b->p[k] >= '0' && b->p[k] <= '9') {
                    if (seen >= 2)
                        b->p[k] = tail[4 - (seen - 2)];
                    seen++;
                }
        }
        break;
    }
    case SH_EMAIL: {
        char t[12] = {'p', '_'};
        b32(h, t + 2, 10);
        tide_buf_append(b, t, 12);
        tide_buf_append(b, "@example.invalid", 16);
        break;
    }
    case SH_UUID: {
        /* version 4, variant 10, and the last group starting 7e570000
         * ("test"): a real UUID, as routes and columns check it, that the
         * detectors and the audit can tell for a pseudonym (a random UUID
         * carries the mark one time in 2^32); 90 bits of it are keyed.
         * Written in the case of the value. */
        const char *hex = upper ? "0123456789ABCDEF" : "0123456789abcdef";
        for (i = 0; i < 16; i++) {
            uint8_t x = h[i];
            if (i == 6)
                x = (uint8_t)(0x40 | (x & 0x0f));
            if (i == 8)
                x = (uint8_t)(0x80 | (x & 0x3f));
            if (i == 10 || i == 11)
                x = i == 10 ? 0x7e : 0x57;
            if (i == 12 || i == 13)
                x = 0;
            if (i == 4 || i == 6 || i == 8 || i == 10)
                tide_buf_putc(b, '-');
            tide_buf_putc(b, hex[x >> 4]);
            tide_buf_putc(b, hex[x & 15]);
        }
        break;
    }
    case SH_CARD: {
        char d[16];
        int sum = 0, k;
        memcpy(d, "400000", 6); /* a test-card range: never a real card */
        for (k = 6; k < 15; k++)
            d[k] = (char)('0' + h[k] % 10);
        for (k = 14; k >= 0; k--) { /* Luhn check digit over d[0..14] */
            int x = d[k] - '0';
            if ((14 - k) % 2 == 0) {
                x *= 2;
                if (x > 9)
                    x -= 9;
            }
            sum += x;
        }
        d[15] = (char)('0' + (10 - sum % 10) % 10);
        tide_buf_append(b, d, 16);
        break;
    }
    case SH_TOKEN: {
        char t[24] = {'t', '_'};
        b32(h, t + 2, 22);
        tide_buf_append(b, t, 24);
        break;
    }
    default: {
        char t[12] = {'p', '_'};
        b32(h, t + 2, 10);
        tide_buf_append(b, t, 12);
    }
    }
}

struct tide_str tide__pseudo(struct tide__pseudo *ps, int sh, struct tide_str v)
{
    struct tide_strmap_ent *e;
    bool added;
    int rc;
    char kb[4096];
    struct tide_str key;
    if (v.len + 1 > sizeof(kb)) { /* long values are not cached */
        make(ps, sh, v);
        return tide_str_make(ps->tmp.p, ps->tmp.len);
    }
    kb[0] = (char)sh;
    memcpy(kb + 1, v.p, v.len);
    key = tide_str_make(kb, v.len + 1);
    if (ps->cache.n >= CACHE_MAX) { /* bounded: start over rather than grow */
        tide_strmap_free(&ps->cache);
        tide_strmap_init(&ps->cache, 0);
    }
    e = tide_strmap_upsert(&ps->cache, key, &added, &rc);
    if (!e) {
        make(ps, sh, v);
        return tide_str_make(ps->tmp.p, ps->tmp.len);
    }
    if (added) {
        make(ps, sh, v);
        e->ptr = tide_arena_alloc(&ps->cache.arena, ps->tmp.len ? ps->tmp.len : 1);
        if (!e->ptr)
            return tide_str_make(ps->tmp.p, ps->tmp.len);
        memcpy(e->ptr, ps->tmp.p, ps->tmp.len);
        e->value = ps->tmp.len;
    }
    return tide_str_make(e->ptr, (size_t)e->value);
}

/* Crypto-PAn over n bytes of address a. */
static void cryptopan(struct tide__pseudo *ps, uint8_t *a, int nbytes)
{
    uint8_t orig[16], in[16], out[16], res[16];
    int bits = nbytes * 8, i;
    memcpy(orig, a, (size_t)nbytes);
    memset(res, 0, sizeof(res));
    for (i = 0; i < bits; i++) {
        int byte = i / 8, bit = 7 - i % 8, k;
        /* first i bits of the original, then the pad */
        for (k = 0; k < 16; k++) {
            uint8_t mask;
            if (k < byte)
                mask = 0xff;
            else if (k == byte)
                mask = (uint8_t)(0xff << (8 - i % 8));
            else
                mask = 0;
            in[k] = (uint8_t)((k < nbytes ? orig[k] : 0) & mask) | (uint8_t)(ps->pad[k] & ~mask);
        }
        aes_block(ps, in, out);
        res[byte] |= (uint8_t)(((out[0] >> 7) & 1) << bit);
    }
    for (i = 0; i < nbytes; i++)
        a[i] = orig[i] ^ res[i];
}

/* Dotted quad as inet_pton reads it (no leading zeros, each part <= 255). */
static bool parse_v4(const char *s, size_t n, uint32_t *out)
{
    uint32_t a = 0, part = 0;
    size_t i, digits = 0;
    int dots = 0;
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            if (digits == 1 && part == 0)
                return false;
            part = part * 10 + (uint32_t)(c - '0');
            if (++digits > 3 || part > 255)
                return false;
        } else if (c == '.' && digits && dots < 3) {
            a = a << 8 | part;
            part = 0;
            digits = 0;
            dots++;
        } else {
            return false;
        }
    }
    if (dots != 3 || !digits)
        return false;
    *out = a << 8 | part;
    return true;
}

static size_t format_v4(uint32_t a, char *o)
{
    size_t n = 0;
    for (int k = 3; k >= 0; k--) {
        unsigned b = (a >> (8 * k)) & 0xff;
        if (b >= 100)
            o[n++] = (char)('0' + b / 100);
        if (b >= 10)
            o[n++] = (char)('0' + b / 10 % 10);
        o[n++] = (char)('0' + b % 10);
        if (k)
            o[n++] = '.';
    }
    return n;
}

/* An address's bytes (4 or 16) as the IP mode says: truncated to /24 or /48, or Crypto-PAn. */
static void anon_addr(struct tide__pseudo *ps, uint8_t *a, int nbytes)
{
    if (ps->ip_mode != TIDE_IP_TRUNCATE)
        cryptopan(ps, a, nbytes);
    else if (nbytes == 4)
        a[3] = 0;
    else
        memset(a + 6, 0, 10);
}

static uint32_t v4_compute(struct tide__pseudo *ps, uint32_t addr)
{
    uint8_t a[4] = {(uint8_t)(addr >> 24), (uint8_t)(addr >> 16), (uint8_t)(addr >> 8), (uint8_t)addr};
    anon_addr(ps, a, 4);
    return (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
}

static size_t v4_hash(uint32_t a) { return (size_t)(((uint64_t)a * 0x9e3779b97f4a7c15ull) >> 40); }

/* The anonymized form of IPv4 address addr, through the table. */
static uint32_t v4_lookup(struct tide__pseudo *ps, uint32_t addr)
{
    size_t i;
    if (ps->v4n * 2 >= ps->v4cap) {
        size_t nc = ps->v4cap ? ps->v4cap * 2 : 4096;
        struct v4ent *ne;
        if (ps->v4n >= CACHE_MAX) /* bounded: start over rather than grow */
            nc = ps->v4cap;
        ne = calloc(nc, sizeof(*ne));
        if (!ne)
            return v4_compute(ps, addr);
        if (ps->v4n < CACHE_MAX)
            for (size_t j = 0; j < ps->v4cap; j++) {
                if (!ps->v4[j].used)
                    continue;
                for (i = v4_hash(ps->v4[j].addr) & (nc - 1); ne[i].used; i = (i + 1) & (nc - 1))
                    ;
                ne[i] = ps->v4[j];
            }
        else
            ps->v4n = 0;
        free(ps->v4);
        ps->v4 = ne;
        ps->v4cap = nc;
    }
    for (i = v4_hash(addr) & (ps->v4cap - 1); ps->v4[i].used; i = (i + 1) & (ps->v4cap - 1))
        if (ps->v4[i].addr == addr)
            return ps->v4[i].out;
    ps->v4[i].addr = addr;
    ps->v4[i].out = v4_compute(ps, addr);
    ps->v4[i].used = 1;
    ps->v4n++;
    return ps->v4[i].out;
}

struct tide_str tide__pseudo_ip(struct tide__pseudo *ps, struct tide_str v, bool *changed)
{
    char in[64], out[64];
    uint8_t a[16];
    int fam;
    struct tide_strmap_ent *e;
    bool added;
    int rc;
    char kb[66];
    uint32_t v4;
    *changed = false;
    if (v.len == 0 || v.len >= sizeof(in))
        return v;
    if (v.len <= 15 && parse_v4(v.p, v.len, &v4)) {
        *changed = true;
        return tide_str_make(ps->v4text, format_v4(v4_lookup(ps, v4), ps->v4text));
    }
    kb[0] = 'I';
    memcpy(kb + 1, v.p, v.len);
    e = tide_strmap_get(&ps->cache, tide_str_make(kb, v.len + 1));
    if (e && e->ptr) { /* only addresses are cached */
        *changed = true;
        return tide_str_make(e->ptr, (size_t)e->value);
    }
    memcpy(in, v.p, v.len);
    in[v.len] = 0;
    fam = memchr(v.p, ':', v.len) ? AF_INET6 : AF_INET;
    if (inet_pton(fam, in, a) != 1)
        return v;
    *changed = true;
    e = tide_strmap_upsert(&ps->cache, tide_str_make(kb, v.len + 1), &added, &rc);
    if (fam == AF_INET6 && !memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12)) {
        /* an IPv4 client on a dual-stack socket (::ffff:192.0.2.7, as Node's
         * req.ip and nginx on [::] write it): the IPv4 address is anonymized
         * as IPv4, so it stays the client it is in an IPv4 log, and keeps
         * its prefix (truncated, all such clients became "::") */
        char v4t[16];
        uint32_t m = (uint32_t)a[12] << 24 | (uint32_t)a[13] << 16 | (uint32_t)a[14] << 8 | a[15];
        const char *lc = v.p + v.len - 1;
        while (*lc != ':') /* the text holds a colon: it parsed as IPv6 */
            lc--;
        size_t n4 = format_v4(v4_lookup(ps, m), v4t);
        if (memchr(lc, '.', v.len - (size_t)(lc - v.p)))
            snprintf(out, sizeof(out), "%.*s%.*s", (int)(lc - v.p + 1), v.p, (int)n4, v4t);
        else
            snprintf(out, sizeof(out), "::ffff:%.*s", (int)n4, v4t);
    } else {
        anon_addr(ps, a, fam == AF_INET ? 4 : 16);
        inet_ntop(fam, a, out, sizeof(out));
    }
    if (!e)
        return tide_str_make(NULL, 0);
    e->ptr = tide_arena_alloc(&ps->cache.arena, strlen(out));
    if (!e->ptr)
        return tide_str_make(NULL, 0);
    memcpy(e->ptr, out, strlen(out));
    e->value = strlen(out);
    return tide_str_make(e->ptr, (size_t)e->value);
}

int tide__pseudo_weeks(struct tide__pseudo *ps)
{
    uint8_t h[32];
    mac(ps, 'W', "time-shift", 10, h);
    return 1 + (int)(((uint32_t)h[0] << 8 | h[1]) % 52);
}
