/*
 * sched.c - the arithmetic of a replay: due times, multipliers, clones and
 * their jitter, traffic classes, and the log-linear histogram. Everything
 * here is pure (no clock, no I/O), so the schedule is unit-tested with
 * made-up times instead of sleeping.
 */
#define _GNU_SOURCE
#include "replay_int.h"

#include <ctype.h>
#include <math.h>
#include <string.h>
#include <strings.h>

/* ---- histogram ---------------------------------------------------------------------- */

#define HIST_MAX_US ((uint64_t)1 << 40)

int tide_hist_bucket(uint64_t v)
{
    int msb, shift;
    uint64_t mant;
    if (v < 128)
        return (int)v;
    if (v >= HIST_MAX_US)
        v = HIST_MAX_US - 1;
    msb = 63 - __builtin_clzll(v);
    shift = msb - 6;
    mant = v >> shift;
    return 128 + (shift - 1) * 64 + (int)(mant - 64);
}

uint64_t tide_hist_bucket_high(int idx)
{
    int k, shift;
    uint64_t mant;
    if (idx < 128)
        return (uint64_t)idx;
    k = idx - 128;
    shift = k / 64 + 1;
    mant = (uint64_t)(k % 64) + 64;
    return ((mant + 1) << shift) - 1;
}

void tide_hist_add(struct tide_hist *h, uint64_t us)
{
    h->b[tide_hist_bucket(us)]++;
    h->count++;
    h->sum += us;
    if (us > h->max)
        h->max = us;
}

void tide_hist_merge(struct tide_hist *dst, const struct tide_hist *src)
{
    int i;
    for (i = 0; i < TIDE_HIST_BUCKETS; i++)
        dst->b[i] += src->b[i];
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t tide_hist_quantile(const struct tide_hist *h, double q)
{
    uint64_t want, seen = 0;
    int i;
    if (h->count == 0)
        return 0;
    want = (uint64_t)ceil(q * (double)h->count);
    if (want < 1)
        want = 1;
    for (i = 0; i < TIDE_HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= want) {
            uint64_t hi = tide_hist_bucket_high(i);
            return hi < h->max ? hi : h->max;
        }
    }
    return h->max;
}

/* ---- classes and sessions ---------------------------------------------------------------- */

/* needle (lower case) in s, which is already lower case */
static bool has(const char *s, size_t n, const char *needle)
{
    return memmem(s, n, needle, strlen(needle)) != NULL;
}

/* One lower-cased copy of the user agent, then a memmem per pattern (this runs
 * for every record a replay reads; strncasecmp at every offset cost 8 us). */
int tide_traffic_class(struct tide_str ua)
{
    char low[1024];
    size_t n = ua.len < sizeof(low) ? ua.len : sizeof(low), i;
    if (!ua.len)
        return TIDE_CLASS_HUMAN;
    for (i = 0; i < n; i++) {
        char c = ua.p[i];
        low[i] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
    }
    if (has(low, n, "googlebot") || has(low, n, "google-inspectiontool") || has(low, n, "adsbot-google"))
        return TIDE_CLASS_GOOGLEBOT;
    if (has(low, n, "bingbot") || has(low, n, "bingpreview"))
        return TIDE_CLASS_BINGBOT;
    if (has(low, n, "bot") || has(low, n, "crawler") || has(low, n, "spider") || has(low, n, "slurp") ||
        has(low, n, "facebookexternalhit") || has(low, n, "curl/") || has(low, n, "wget/"))
        return TIDE_CLASS_CRAWLER;
    return TIDE_CLASS_HUMAN;
}

const char *tide_traffic_class_name(int c)
{
    static const char *N[] = {"googlebot", "bingbot", "other crawlers", "humans"};
    return c >= 0 && c < TIDE_CLASSES ? N[c] : "?";
}

struct tide_str tide_session_key(const struct tide_record *r)
{
    if (r->session.len)
        return r->session;
    return r->client;
}

uint64_t tide_session_hash(struct tide_str key) { return tide_hash_bytes(key.p, key.len, 0x7469646531ull); }

/* ---- schedule --------------------------------------------------------------------------- */

int64_t tide_sched_due(int64_t start_at, int64_t window_start, int64_t ts, double speed)
{
    double rel = (double)(ts - window_start) / speed;
    return start_at + (int64_t)llround(rel);
}

int tide_sched_copies(uint64_t h, double m)
{
    double whole = floor(m), frac = m - whole;
    /* a uniform number in [0,1) from the hash, independent of the worker split */
    double u = (double)(tide_hash_bytes(&h, sizeof(h), 0x636f7079ull) >> 11) / 9007199254740992.0;
    return (int)whole + (u < frac ? 1 : 0);
}

int64_t tide_sched_jitter(uint64_t h, int clone, int64_t max_ns)
{
    uint64_t x;
    if (clone == 0 || max_ns <= 0)
        return 0;
    x = tide_hash_bytes(&clone, sizeof(clone), h);
    return (int64_t)(x % (uint64_t)max_ns);
}

static const char B32[] = "abcdefghijklmnopqrstuvwxyz234567";

int tide_clone_rewrite(struct tide_str s, int clone, struct tide_buf *b)
{
    size_t i = 0;
    int rc = 0;
    if (clone == 0)
        return tide_buf_append(b, s.p, s.len);
    while (i < s.len && !rc) {
        size_t j, want;
        bool boundary = i == 0 || !isalnum((unsigned char)s.p[i - 1]);
        if (boundary && i + 2 < s.len && (s.p[i] == 'p' || s.p[i] == 't') && s.p[i + 1] == '_') {
            want = s.p[i] == 'p' ? 10 : 22;
            for (j = i + 2; j < s.len && j < i + 2 + want && strchr(B32, s.p[j]) && s.p[j]; j++)
                ;
            if (j == i + 2 + want && (j == s.len || !isalnum((unsigned char)s.p[j]))) {
                /* same token, same clone -> same rewrite: ids stay consistent */
                uint64_t hh = tide_hash_bytes(s.p + i, want + 2, (uint64_t)clone * 0x9e3779b97f4a7c15ull);
                char tok[24];
                memcpy(tok, s.p + i, want + 2);
                tok[want - 1] = B32[hh & 31];
                tok[want] = B32[(hh >> 5) & 31];
                tok[want + 1] = B32[(hh >> 10) & 31];
                rc = tide_buf_append(b, tok, want + 2);
                i = j;
                continue;
            }
        }
        rc = tide_buf_putc(b, s.p[i]);
        i++;
    }
    return rc;
}

/* ---- the timeline's coarse latency buckets ---------------------------------------------- */

int tide__tl_bucket(uint64_t us)
{
    int b = us ? (int)floor(4.0 * log2((double)us + 1.0)) : 0;
    return b < 0 ? 0 : b >= TIDE__TL_LAT ? TIDE__TL_LAT - 1 : b;
}

uint64_t tide__tl_quantile(const uint32_t *lat, double q)
{
    uint64_t n = 0, want, c = 0;
    int i;
    for (i = 0; i < TIDE__TL_LAT; i++)
        n += lat[i];
    if (!n)
        return 0;
    want = (uint64_t)ceil(q * (double)n);
    if (want < 1)
        want = 1;
    for (i = 0; i < TIDE__TL_LAT; i++) {
        c += lat[i];
        if (c >= want)
            return (uint64_t)(exp2((double)(i + 1) / 4.0) - 1.0); /* the bucket's upper bound */
    }
    return 0;
}
