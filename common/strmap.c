/*
 * strmap.c - an open-addressing hash map from byte strings to counters.
 *
 * Used for per-route and per-value tallies (inspect, audit, pseudonym
 * caches), where keys repeat heavily: lookups must be cheap and the map must
 * stay bounded whatever the input does.
 */
#include "common.h"

#include <stdlib.h>
#include <string.h>

static inline uint64_t mix64(uint64_t h)
{
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

uint64_t tide_hash_bytes(const void *p, size_t n, uint64_t seed)
{
    /* eight bytes at a time, each word folded in with a multiply; a final
     * avalanche (splitmix64). Not cryptographic: for tables and splits only. */
    const uint8_t *s = p;
    uint64_t h = seed ^ ((uint64_t)n * 0x9e3779b97f4a7c15ull), v;
    while (n >= 8) {
        memcpy(&v, s, 8);
        h = (h ^ (v * 0xff51afd7ed558ccdull)) * 0xc4ceb9fe1a85ec53ull;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    v = 0;
    if (n)
        memcpy(&v, s, n);
    h = (h ^ (v * 0xff51afd7ed558ccdull)) * 0xc4ceb9fe1a85ec53ull;
    return mix64(h);
}

void tide_strmap_init(struct tide_strmap *m, size_t max_keys)
{
    memset(m, 0, sizeof(*m));
    m->max_keys = max_keys;
    tide_arena_init(&m->arena, 0);
}

void tide_strmap_free(struct tide_strmap *m)
{
    if (!m)
        return;
    free(m->ents);
    m->ents = NULL;
    m->cap = m->n = 0;
    tide_arena_free(&m->arena);
}

static struct tide_strmap_ent *slot(struct tide_strmap_ent *ents, size_t cap, struct tide_str key,
                                    uint64_t h)
{
    size_t i = (size_t)h & (cap - 1);
    for (;;) {
        struct tide_strmap_ent *e = &ents[i];
        if (!e->key.p)
            return e;
        if (e->hash == h && tide_str_is_eq(e->key, key))
            return e;
        i = (i + 1) & (cap - 1);
    }
}

static int grow(struct tide_strmap *m)
{
    size_t nc = m->cap ? m->cap * 2 : 64, i;
    struct tide_strmap_ent *ne = calloc(nc, sizeof(*ne));
    if (!ne)
        return TIDE_E_NOMEM;
    for (i = 0; i < m->cap; i++)
        if (m->ents[i].key.p)
            *slot(ne, nc, m->ents[i].key, m->ents[i].hash) = m->ents[i];
    free(m->ents);
    m->ents = ne;
    m->cap = nc;
    return 0;
}

struct tide_strmap_ent *tide_strmap_get(const struct tide_strmap *m, struct tide_str key)
{
    struct tide_strmap_ent *e;
    if (!m->cap)
        return NULL;
    e = slot(m->ents, m->cap, key, tide_hash_bytes(key.p, key.len, 0));
    return e->key.p ? e : NULL;
}

struct tide_strmap_ent *tide_strmap_upsert(struct tide_strmap *m, struct tide_str key,
                                           bool *added, int *rc)
{
    uint64_t h = tide_hash_bytes(key.p, key.len, 0);
    struct tide_strmap_ent *e;
    char *copy;
    *added = false;
    *rc = 0;
    if (m->cap) {
        e = slot(m->ents, m->cap, key, h);
        if (e->key.p)
            return e;
    }
    if (m->max_keys && m->n >= m->max_keys) {
        *rc = TIDE_E_LIMIT;
        return NULL;
    }
    if ((m->n + 1) * 4 > m->cap * 3 && (*rc = grow(m)))
        return NULL;
    copy = tide_arena_alloc(&m->arena, key.len ? key.len : 1);
    if (!copy) {
        *rc = TIDE_E_NOMEM;
        return NULL;
    }
    if (key.len)
        memcpy(copy, key.p, key.len);
    e = slot(m->ents, m->cap, key, h);
    e->key = tide_str_make(copy, key.len);
    e->hash = h;
    e->value = 0;
    e->ptr = NULL;
    m->n++;
    *added = true;
    return e;
}
