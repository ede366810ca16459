/*
 * sort.c - the stable key sort behind a block's stored order (writer) and
 * its order by start (reader). A block's keys are nearly in order (lines of
 * a log re-ordered within a second or so), so runs already in order are
 * left alone; otherwise runs of 32 by insertion, then merged pairwise:
 * O(n log n) whatever a damaged or hostile block holds.
 */
#include "formats_int.h"

#include <string.h>

#define RUN 32

bool tide__sort_keys(struct tide__sort_key *k, struct tide__sort_key *tmp, size_t n)
{
    struct tide__sort_key *src = k, *dst = tmp, *sw;
    size_t i, lo, w;
    for (i = 1; i < n && k[i - 1].k <= k[i].k; i++)
        ;
    if (i >= n)
        return true;
    for (lo = 0; lo < n; lo += RUN) {
        size_t hi = lo + RUN < n ? lo + RUN : n;
        for (i = lo + 1; i < hi; i++) {
            struct tide__sort_key x = k[i];
            size_t j = i;
            while (j > lo && k[j - 1].k > x.k) {
                k[j] = k[j - 1];
                j--;
            }
            k[j] = x;
        }
    }
    for (w = RUN; w < n; w *= 2) {
        for (lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t a = lo, b = mid, o = lo;
            if (mid == hi || src[mid - 1].k <= src[mid].k) {
                memcpy(dst + lo, src + lo, (hi - lo) * sizeof(*src));
                continue;
            }
            while (a < mid && b < hi)
                dst[o++] = src[b].k < src[a].k ? src[b++] : src[a++];
            while (a < mid)
                dst[o++] = src[a++];
            while (b < hi)
                dst[o++] = src[b++];
        }
        sw = src, src = dst, dst = sw;
    }
    if (src != k)
        memcpy(k, src, n * sizeof(*k));
    return false;
}
