/*
 * writer.c - streams records into a .tide trace.
 *
 * Records are staged as they arrive: each string is looked up in its field's
 * per-block dictionary and kept as a number (bodies and literals too long
 * for a dictionary are copied apart). A full block is then laid out column
 * after column in its stored order, by source file and line (a log's own
 * order: docs/trace-format.md), and compressed as one zstd frame, written as
 * a BLCK section. Columns of like values (all paths, all user agents)
 * compress far better than rows. The writer only appends, so the output can
 * be a pipe; the index and final metadata go at the end. Expected load:
 * millions of records per second per core of capture or import; nothing is
 * allocated per record once the block's buffers have grown to its size.
 */
#include "formats_int.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>
#include <zstd.h>

struct index_entry {
    uint64_t offset;
    uint32_t count;
    int64_t min_ts, max_ts;
    uint64_t first;
};

/* A per-block dictionary of one string field: literals by hash (slots), by
 * number (id_off/id_len), their bytes in lit. Numbers are given in arrival
 * order; a block is stored in another order (by source line), so at flush
 * each is renumbered (remap) by its first use in stored order. */
struct wdict {
    struct {
        uint64_t h;
        uint32_t off, len, id;
    } *slot;
    size_t cap, n;
    /* the slot found or added last: consecutive records often repeat a
     * value (method, host, a header), which then costs a compare, not a hash */
    size_t last;
    bool has_last;
    uint32_t *id_off, *id_len, *remap;
    size_t cap_ids;
    struct tide_buf lit;
    uint32_t n_final; /* entries of the reader's dictionary so far, at flush */
};

/* A record of the pending block, as staged by add(): its numbers, and where
 * its strings are (refs[ref0...]: dictionary numbers, or STAGED | index into
 * xlit for a literal kept apart). */
struct wrec {
    int64_t ts, dur, resp;
    int32_t status;
    uint32_t flags;
    uint64_t key;  /* stored order: source name's number, then line */
    uint64_t line; /* line + 1 of a "file:line" source, else 0 */
    uint32_t ref0, n_headers;
    uint32_t body_off, body_len;
};

/* The stored order's key: source name's group above bit 48, line below. */
#define LINE_KEY_MASK ((UINT64_C(1) << 48) - 1)

#define STAGED 0x80000000u
#define REMAP_UNSET UINT32_MAX
#define REMAP_NONE (UINT32_MAX - 1) /* never joined: written as a literal each time */

struct tide_trace_writer {
    int fd;
    char name[200];
    uint64_t offset; /* bytes written so far */
    struct tide_buf col[COL_COUNT];
    struct tide_buf raw, out;
    uint32_t n;       /* records in the pending block */
    size_t pend_raw;  /* bytes in the pending block's columns */
    int64_t min_ts, max_ts;
    struct wrec *rec; /* the pending block */
    size_t cap_rec;
    uint32_t *refs;
    size_t n_refs, cap_refs;
    struct {
        uint32_t off, len;
    } *xlit;
    size_t n_xlit, cap_xlit;
    struct tide_buf stage;   /* literals kept apart */
    struct tide_buf body_tmp; /* the body column in stored order, when that differs */
    struct tide__sort_key *order, *order_tmp;
    int64_t *num[6]; /* ts, duration, resp_bytes, status, flags, scratch: in stored order */
    struct wdict dict[TIDE__N_DICTS];
    uint64_t total;
    int64_t first_ts, last_ts;
    uint64_t bytes_raw, bytes_comp;
    struct index_entry *idx;
    size_t n_idx, cap_idx;
    ZSTD_CCtx *cctx;
    ZSTD_CCtx *probe_cctx;      /* level 1, to choose a numeric column's encoding */
    struct tide_buf probe[3];   /* the two encodings, and the compressed probe */
    uint32_t block_records, block_bytes;
    bool failed;
    struct tide_err fail; /* what the failure said: said again by every later call */
};

uint64_t tide__sec_checksum(const uint8_t hdr[16], const void *payload, size_t len)
{
    XXH64_state_t st;
    XXH64_reset(&st, 0);
    XXH64_update(&st, hdr, 16);
    XXH64_update(&st, payload, len);
    return XXH64_digest(&st);
}

static int write_all(struct tide_trace_writer *w, const void *p, size_t n, struct tide_err *err)
{
    const char *s = p;
    while (n > 0) {
        ssize_t k = write(w->fd, s, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            w->failed = true;
            tide_err_set(&w->fail, TIDE_E_IO, w->name, "write failed at offset %llu: %s",
                         (unsigned long long)w->offset,
                         errno == EPIPE ? "the reading end of the pipe closed" : strerror(errno));
            if (err)
                *err = w->fail;
            return TIDE_E_IO;
        }
        s += k;
        n -= (size_t)k;
        w->offset += (uint64_t)k;
    }
    return 0;
}

static int write_section(struct tide_trace_writer *w, uint32_t type, uint32_t flags,
                         const void *payload, size_t len, struct tide_err *err)
{
    uint8_t hdr[TIDE__SEC_HDR_LEN];
    int rc;
    tide_put_u32le(hdr, type);
    tide_put_u32le(hdr + 4, flags);
    tide_put_u64le(hdr + 8, len);
    tide_put_u64le(hdr + 16, tide__sec_checksum(hdr, payload, len));
    rc = write_all(w, hdr, sizeof(hdr), err);
    if (!rc)
        rc = write_all(w, payload, len, err);
    return rc;
}

int tide_trace_writer_open(struct tide_trace_writer **out, int fd, const char *name,
                           const char *meta_json, const struct tide_trace_writer_opts *opts,
                           struct tide_err *err)
{
    struct tide_trace_writer *w;
    uint8_t fh[TIDE__FILE_HDR_LEN];
    cJSON *meta;
    int rc, i, level;

    *out = NULL;
    meta = cJSON_Parse(meta_json);
    if (!meta || !cJSON_IsObject(meta) || !cJSON_IsBool(cJSON_GetObjectItem(meta, "raw"))) {
        cJSON_Delete(meta);
        return tide_err_set(err, TIDE_E_USAGE, name, "metadata must be an object with \"raw\"");
    }
    cJSON_Delete(meta);
    w = calloc(1, sizeof(*w));
    if (!w)
        return tide_err_set(err, TIDE_E_NOMEM, name, "out of memory");
    w->fd = fd;
    snprintf(w->name, sizeof(w->name), "%s", name);
    for (i = 0; i < COL_COUNT; i++)
        tide_buf_init(&w->col[i], TIDE_MAX_BLOCK_RAW);
    tide_buf_init(&w->raw, TIDE_MAX_BLOCK_RAW + 4096);
    tide_buf_init(&w->stage, TIDE_MAX_BLOCK_RAW);
    tide_buf_init(&w->body_tmp, TIDE_MAX_BLOCK_RAW);
    for (i = 0; i < TIDE__N_DICTS; i++)
        tide_buf_init(&w->dict[i].lit, TIDE_MAX_BLOCK_RAW);
    tide_buf_init(&w->out, 0);
    w->block_records = opts && opts->block_records ? opts->block_records : 65536;
    if (w->block_records > TIDE_MAX_BLOCK_RECORDS)
        w->block_records = TIDE_MAX_BLOCK_RECORDS;
    w->block_bytes = opts && opts->block_bytes ? opts->block_bytes : 8u << 20;
    if (w->block_bytes > TIDE_MAX_BLOCK_RAW / 2)
        w->block_bytes = TIDE_MAX_BLOCK_RAW / 2;
    level = opts && opts->level ? opts->level : 9;
    w->first_ts = w->last_ts = TIDE_TIME_UNKNOWN;
    for (i = 0; i < 3; i++)
        tide_buf_init(&w->probe[i], TIDE_MAX_BLOCK_RAW);
    w->cctx = ZSTD_createCCtx();
    w->probe_cctx = ZSTD_createCCtx();
    if (!w->cctx || !w->probe_cctx) {
        rc = tide_err_set(err, TIDE_E_NOMEM, name, "out of memory");
        goto out_free_w;
    }
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1);

    memcpy(fh, TIDE__MAGIC, TIDE__MAGIC_LEN);
    fh[8] = TIDE_FORMAT_VERSION_MAJOR;
    fh[9] = 0;
    fh[10] = TIDE_FORMAT_VERSION_MINOR;
    fh[11] = 0;
    tide_put_u32le(fh + 12, 0);
    rc = write_all(w, fh, sizeof(fh), err);
    if (!rc)
        rc = write_section(w, TIDE__SEC_META, 0, meta_json, strlen(meta_json), err);
    if (rc)
        goto out_free_w;
    *out = w;
    return 0;

out_free_w:
    tide_trace_writer_free(w);
    return rc;
}

uint64_t tide_trace_writer_records(const struct tide_trace_writer *w) { return w->total; }

uint64_t tide_trace_writer_blocks(const struct tide_trace_writer *w)
{
    return w ? (uint64_t)__atomic_load_n(&w->n_idx, __ATOMIC_ACQUIRE) : 0;
}

static uint64_t hash_str(struct tide_str s)
{
    return XXH3_64bits(s.p, s.len);
}

/* Grows the number-indexed arrays of d to hold one more entry. */
static int dict_grow_ids(struct wdict *d)
{
    size_t nc = d->cap_ids ? d->cap_ids * 2 : 256;
    uint32_t *a = realloc(d->id_off, nc * sizeof(uint32_t));
    if (!a)
        return TIDE_E_NOMEM;
    d->id_off = a;
    if (!(a = realloc(d->id_len, nc * sizeof(uint32_t))))
        return TIDE_E_NOMEM;
    d->id_len = a;
    if (!(a = realloc(d->remap, nc * sizeof(uint32_t))))
        return TIDE_E_NOMEM;
    d->remap = a;
    d->cap_ids = nc;
    return 0;
}

/* The number of s in dictionary d, added (with its bytes) when absent and
 * the dictionary rule allows; STAGED when it is not in the dictionary. */
static uint32_t dict_ref(struct wdict *d, struct tide_str s, bool *nomem)
{
    uint64_t h;
    size_t i;
    if (s.len > TIDE__DICT_MAX_LEN)
        return STAGED;
    if (d->has_last && d->slot[d->last].len == s.len &&
        (s.len == 0 || memcmp(d->lit.p + d->slot[d->last].off, s.p, s.len) == 0))
        return d->slot[d->last].id;
    h = hash_str(s);
    if (d->cap) {
        for (i = h & (d->cap - 1); d->slot[i].len != UINT32_MAX; i = (i + 1) & (d->cap - 1))
            if (d->slot[i].h == h && d->slot[i].len == s.len &&
                (s.len == 0 || memcmp(d->lit.p + d->slot[i].off, s.p, s.len) == 0)) {
                d->last = i;
                d->has_last = true;
                return d->slot[i].id;
            }
    }
    if (d->n >= TIDE__DICT_MAX_ENTRIES)
        return STAGED;
    if ((d->n + 1) * 2 > d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 256, j;
        void *ns = malloc(nc * sizeof(*d->slot));
        if (!ns) {
            *nomem = true;
            return STAGED;
        }
        memset(ns, 0xff, nc * sizeof(*d->slot)); /* len = UINT32_MAX marks empty */
        for (j = 0; j < d->cap; j++) {
            size_t k;
            if (d->slot[j].len == UINT32_MAX)
                continue;
            for (k = d->slot[j].h & (nc - 1); ((__typeof__(d->slot))ns)[k].len != UINT32_MAX;
                 k = (k + 1) & (nc - 1))
                ;
            ((__typeof__(d->slot))ns)[k] = d->slot[j];
        }
        free(d->slot);
        d->slot = ns;
        d->cap = nc;
    }
    if (d->n == d->cap_ids && dict_grow_ids(d)) {
        *nomem = true;
        return STAGED;
    }
    if (tide_buf_append(&d->lit, s.p, s.len)) {
        *nomem = true;
        return STAGED;
    }
    for (i = h & (d->cap - 1); d->slot[i].len != UINT32_MAX; i = (i + 1) & (d->cap - 1))
        ;
    d->slot[i].h = h;
    d->slot[i].off = (uint32_t)(d->lit.len - s.len);
    d->slot[i].len = (uint32_t)s.len;
    d->slot[i].id = (uint32_t)d->n;
    d->id_off[d->n] = d->slot[i].off;
    d->id_len[d->n] = (uint32_t)s.len;
    d->remap[d->n] = REMAP_UNSET;
    d->last = i; /* a growth above moved the slots: set after it */
    d->has_last = true;
    return (uint32_t)d->n++;
}

static void dict_reset(struct wdict *d)
{
    if (d->cap)
        memset(d->slot, 0xff, d->cap * sizeof(*d->slot));
    d->n = 0;
    d->n_final = 0;
    d->has_last = false;
    tide_buf_reset(&d->lit);
}

/* Stages string s of dictionary k for the pending record: its number, or
 * a copy kept apart. Counts the bytes its columns will take. */
static int stage_str(struct tide_trace_writer *w, int k, struct tide_str s)
{
    bool nomem = false;
    size_t lit0 = w->dict[k].lit.len;
    uint32_t ref = dict_ref(&w->dict[k], s, &nomem);
    if (nomem)
        return TIDE_E_NOMEM;
    if (ref == STAGED) {
        if (w->n_xlit == w->cap_xlit) {
            size_t nc = w->cap_xlit ? w->cap_xlit * 2 : 64;
            void *nx = realloc(w->xlit, nc * sizeof(*w->xlit));
            if (!nx)
                return TIDE_E_NOMEM;
            w->xlit = nx;
            w->cap_xlit = nc;
        }
        w->xlit[w->n_xlit].off = (uint32_t)w->stage.len;
        w->xlit[w->n_xlit].len = (uint32_t)s.len;
        if (tide_buf_append(&w->stage, s.p, s.len))
            return TIDE_E_LIMIT;
        ref = STAGED | (uint32_t)w->n_xlit++;
        w->pend_raw += s.len;
    } else {
        w->pend_raw += w->dict[k].lit.len - lit0; /* a new literal */
    }
    if (w->n_refs == w->cap_refs) {
        size_t nc = w->cap_refs ? w->cap_refs * 2 : 4096;
        uint32_t *nr = realloc(w->refs, nc * sizeof(uint32_t));
        if (!nr)
            return TIDE_E_NOMEM;
        w->refs = nr;
        w->cap_refs = nc;
    }
    w->refs[w->n_refs++] = ref;
    w->pend_raw += 2;
    return 0;
}

/* Writes one staged string into the (refs, lens, data) columns at col, in
 * stored order: a reference to an earlier literal, or the literal itself
 * (which then joins the reader's dictionary by the rule). */
static int put_ref(struct tide_trace_writer *w, int col, int k, uint32_t ref)
{
    struct wdict *d = &w->dict[k];
    const char *p;
    uint32_t len;
    int rc;
    if (!(ref & STAGED)) {
        uint32_t f = d->remap[ref];
        if (f < REMAP_NONE)
            return tide_buf_put_uvar(&w->col[col], (uint64_t)f + 1);
        p = d->lit.p + d->id_off[ref];
        len = d->id_len[ref];
        if (f == REMAP_UNSET)
            d->remap[ref] = d->n_final < TIDE__DICT_MAX_ENTRIES ? d->n_final : REMAP_NONE;
    } else {
        p = w->stage.p + w->xlit[ref & ~STAGED].off;
        len = w->xlit[ref & ~STAGED].len;
    }
    if (tide__dict_joins(len, d->n_final))
        d->n_final++; /* the reader adds every such literal */
    rc = tide_buf_put_uvar(&w->col[col], 0);
    rc |= tide_buf_put_uvar(&w->col[col + 1], len);
    rc |= tide_buf_append(&w->col[col + 2], p, len);
    return rc;
}

/* Largest e <= 9 with every value a multiple of 10^e (unknown values skipped). */
static unsigned scale_of(const int64_t *v, size_t n, bool skip_negative)
{
    unsigned e = 9;
    size_t i;
    for (i = 0; i < n && e > 0; i++) {
        if (skip_negative && v[i] < 0)
            continue;
        while (e > 0 && v[i] % TIDE__POW10[e] != 0)
            e--;
    }
    return e;
}

static unsigned svar_len(int64_t v)
{
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    unsigned n = 1;
    while (u >= 0x80)
        u >>= 7, n++;
    return n;
}

/* Times as deltas in place: of starts (mode 0) or of ends, start + duration
 * (mode 1). Returns the varint bytes they would take at their scale. */
static size_t time_deltas(const int64_t *ts, const int64_t *dur, int64_t *out, uint32_t n,
                          int64_t prev, int mode, unsigned *e)
{
    size_t bytes = 0;
    uint32_t i;
    for (i = 0; i < n; i++) {
        int64_t t = mode && dur[i] > 0 ? (int64_t)((uint64_t)ts[i] + (uint64_t)dur[i]) : ts[i];
        out[i] = (int64_t)((uint64_t)t - (uint64_t)prev);
        prev = t;
    }
    *e = scale_of(out, n, false);
    for (i = 0; i < n; i++)
        bytes += svar_len(out[i] / TIDE__POW10[*e]);
    return bytes;
}

static int put_varints(struct tide_buf *b, const uint64_t *u, uint32_t n)
{
    int rc = 0;
    uint32_t i;
    for (i = 0; i < n; i++)
        rc |= tide_buf_put_uvar(b, u[i]);
    return rc;
}

/*
 * A numeric column's values, after its scale: as varints (encoding 0), or
 * as byte planes (1): k, then byte 0 of every value, byte 1 of every value,
 * ... byte k-1. Planes suit wide values spread over their range (response
 * sizes, durations): zstd's entropy stage then sees one byte position at a
 * time, where varints mix them; varints suit small and repetitive ones
 * (statuses, time deltas, a real site's few response sizes).
 */
static int put_numbers(struct tide_buf *b, const uint64_t *u, uint32_t n, bool planes)
{
    uint64_t all = 0;
    unsigned k = 1, j;
    uint32_t i;
    int rc;
    if (!planes)
        return tide_buf_put_uvar(b, 0) | put_varints(b, u, n);
    for (i = 0; i < n; i++)
        all |= u[i];
    while (k < 8 && all >> (8 * k))
        k++;
    rc = tide_buf_put_uvar(b, 1);
    rc |= tide_buf_put_uvar(b, k);
    if (rc || tide_buf_reserve(b, (size_t)k * n))
        return TIDE_E_NOMEM;
    for (j = 0; j < k; j++) {
        uint8_t *o = (uint8_t *)b->p + b->len;
        for (i = 0; i < n; i++)
            o[i] = (uint8_t)(u[i] >> (8 * j));
        b->len += n;
    }
    return 0;
}

/*
 * Writes a numeric column in whichever encoding zstd makes smaller, judged
 * by compressing each alone at level 1: planes win on values spread over
 * their range (the generated log's response sizes: 2.33 to 2.00 bytes a
 * record), varints on repetitive ones (a real log's few static files: 0.44
 * against 0.65). The probe costs about 1% of a capture's CPU.
 */
static int put_numbers_best(struct tide_trace_writer *w, struct tide_buf *col, const uint64_t *u,
                            uint32_t n)
{
    struct tide_buf *v = &w->probe[0], *pl = &w->probe[1], *z = &w->probe[2];
    size_t zv, zp, bound;
    tide_buf_reset(v);
    tide_buf_reset(pl);
    tide_buf_reset(z);
    if (put_numbers(v, u, n, false) || put_numbers(pl, u, n, true))
        return TIDE_E_NOMEM;
    bound = ZSTD_compressBound(v->len > pl->len ? v->len : pl->len);
    if (tide_buf_reserve(z, bound))
        return TIDE_E_NOMEM;
    zv = ZSTD_compressCCtx(w->probe_cctx, z->p, bound, v->p, v->len, 1);
    zp = ZSTD_compressCCtx(w->probe_cctx, z->p, bound, pl->p, pl->len, 1);
    if (!ZSTD_isError(zv) && !ZSTD_isError(zp) && zp < zv)
        return tide_buf_append(col, pl->p, pl->len);
    return tide_buf_append(col, v->p, v->len);
}

/* Encodes the block's numeric arrays (in stored order) into their columns.
 * Times go as deltas of starts or of ends, whichever is smaller: a log
 * stored in line order has its ends in order, its starts not. */
static int encode_numbers(struct tide_trace_writer *w)
{
    int64_t *d0 = w->num[5];
    unsigned e, e1;
    uint32_t i;
    int c, rc = 0, mode = 0;
    size_t b0, b1;
    b0 = time_deltas(w->num[0], w->num[1], d0, w->n, w->min_ts, 0, &e);
    b1 = time_deltas(w->num[0], w->num[1], d0, w->n, w->min_ts, 1, &e1);
    if (b1 < b0)
        mode = 1, e = e1;
    else
        time_deltas(w->num[0], w->num[1], d0, w->n, w->min_ts, 0, &e);
    rc |= tide_buf_put_uvar(&w->col[COL_TS], (uint64_t)mode);
    rc |= tide_buf_put_uvar(&w->col[COL_TS], e);
    for (i = 0; i < w->n; i++) { /* zigzag, in place */
        int64_t v = d0[i] / TIDE__POW10[e];
        ((uint64_t *)d0)[i] = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    }
    rc |= put_numbers(&w->col[COL_TS], (const uint64_t *)d0, w->n, false);
    for (c = 1; c < 5; c++) {
        const int64_t *v = w->num[c];
        uint64_t *u = (uint64_t *)w->num[5];
        e = c == 4 ? 0 : scale_of(v, w->n, true);
        rc |= tide_buf_put_uvar(&w->col[COL_TS + c], e);
        for (i = 0; i < w->n; i++)
            u[i] = c == 4 ? (uint64_t)v[i] : v[i] < 0 ? 0 : (uint64_t)(v[i] / TIDE__POW10[e]) + 1;
        if (c == 4)
            rc |= put_varints(&w->col[COL_TS + c], u, w->n);
        else
            rc |= put_numbers_best(w, &w->col[COL_TS + c], u, w->n);
    }
    return rc ? TIDE_E_NOMEM : 0;
}

/* Lays the staged block out in columns, records in stored order: by source
 * name (in order of first appearance), then line, then arrival. A log's
 * lines then cost a constant delta, and its times, written when requests
 * end, go in order; readers hand records out by start again. */
static int encode_block(struct tide_trace_writer *w)
{
    uint32_t i, j;
    int rc = 0, k;
    int64_t prev_line = 0;
    bool in_order;
    for (i = 0; i < w->n; i++) {
        w->order[i].k = w->rec[i].key;
        w->order[i].i = i;
    }
    in_order = tide__sort_keys(w->order, w->order_tmp, w->n);
    for (k = 0; k < TIDE__N_DICTS; k++)
        for (j = 0; j < w->dict[k].n; j++)
            w->dict[k].remap[j] = REMAP_UNSET;
    for (i = 0; i < w->n; i++) {
        const struct wrec *r = &w->rec[w->order[i].i];
        const uint32_t *ref = w->refs + r->ref0;
        int64_t line = (int64_t)r->line;
        w->num[0][i] = r->ts;
        w->num[1][i] = r->dur;
        w->num[2][i] = r->resp;
        w->num[3][i] = r->status;
        w->num[4][i] = r->flags;
        for (k = 0; k < TIDE__N_PLAIN_STR; k++)
            rc |= put_ref(w, COL_STR_FIRST + 3 * k, k, *ref++);
        rc |= put_ref(w, COL_SRC, TIDE__N_PLAIN_STR, *ref++);
        rc |= tide_buf_put_svar(&w->col[COL_SRC_LINE],
                                (int64_t)((uint64_t)line - (uint64_t)prev_line));
        prev_line = line;
        rc |= tide_buf_put_uvar(&w->col[COL_HDR_COUNT], r->n_headers);
        for (j = 0; j < r->n_headers; j++) {
            rc |= put_ref(w, COL_HNAME, TIDE__N_STR_FIELDS, *ref++);
            rc |= put_ref(w, COL_HVAL, TIDE__N_STR_FIELDS + 1, *ref++);
        }
        rc |= tide_buf_put_uvar(&w->col[COL_BODY_LEN], r->body_len);
        if (!in_order)
            rc |= tide_buf_append(&w->body_tmp, w->col[COL_BODY].p + r->body_off, r->body_len);
    }
    if (!in_order) {
        struct tide_buf t = w->col[COL_BODY];
        w->col[COL_BODY] = w->body_tmp;
        w->body_tmp = t;
        tide_buf_reset(&w->body_tmp);
    }
    return rc || encode_numbers(w) ? TIDE_E_NOMEM : 0;
}

int tide_trace_writer_flush(struct tide_trace_writer *w, struct tide_err *err)
{
    uint8_t bh[TIDE__BLOCK_HDR_LEN];
    size_t bound, z, raw_len;
    int i, rc;
    struct index_entry *e;

    if (w->failed) { /* the first failure, as it was said */
        if (err)
            *err = w->fail;
        return TIDE_E_IO;
    }
    if (w->n == 0)
        return 0;
    if (encode_block(w))
        return tide_err_set(err, TIDE_E_NOMEM, w->name, "out of memory");
    tide_buf_reset(&w->raw);
    rc = tide_buf_put_u32le(&w->raw, COL_COUNT);
    for (i = 0; i < COL_COUNT && !rc; i++)
        rc = tide_buf_put_u32le(&w->raw, (uint32_t)w->col[i].len);
    for (i = 0; i < COL_COUNT && !rc; i++)
        rc = tide_buf_append(&w->raw, w->col[i].p, w->col[i].len);
    if (rc)
        return tide_err_set(err, rc, w->name, "block too large (more than %u bytes)",
                            TIDE_MAX_BLOCK_RAW);
    raw_len = w->raw.len;
    bound = ZSTD_compressBound(raw_len);
    tide_buf_reset(&w->out);
    rc = tide_buf_reserve(&w->out, TIDE__BLOCK_HDR_LEN + bound);
    if (rc)
        return tide_err_set(err, rc, w->name, "out of memory");
    tide_put_u32le(bh, w->n);
    tide_put_u32le(bh + 4, (uint32_t)raw_len);
    tide_put_u64le(bh + 8, (uint64_t)w->min_ts);
    tide_put_u64le(bh + 16, (uint64_t)w->max_ts);
    memcpy(w->out.p, bh, sizeof(bh));
    z = ZSTD_compress2(w->cctx, w->out.p + TIDE__BLOCK_HDR_LEN, bound, w->raw.p, raw_len);
    if (ZSTD_isError(z))
        return tide_err_set(err, TIDE_E_INTERNAL, w->name, "zstd: %s", ZSTD_getErrorName(z));
    w->out.len = TIDE__BLOCK_HDR_LEN + z;

    if (w->n_idx == w->cap_idx) {
        size_t nc = w->cap_idx ? w->cap_idx * 2 : 64;
        struct index_entry *ni = realloc(w->idx, nc * sizeof(*ni));
        if (!ni)
            return tide_err_set(err, TIDE_E_NOMEM, w->name, "out of memory");
        w->idx = ni;
        w->cap_idx = nc;
    }
    e = &w->idx[w->n_idx];
    e->offset = w->offset;
    e->count = w->n;
    e->min_ts = w->min_ts;
    e->max_ts = w->max_ts;
    e->first = w->total - w->n;
    rc = write_section(w, TIDE__SEC_BLCK, 0, w->out.p, w->out.len, err);
    if (rc)
        return rc;
    __atomic_store_n(&w->n_idx, w->n_idx + 1, __ATOMIC_RELEASE); /* read by tide_trace_writer_blocks */
    w->bytes_raw += raw_len;
    w->bytes_comp += z;
    for (i = 0; i < COL_COUNT; i++)
        tide_buf_reset(&w->col[i]);
    for (i = 0; i < TIDE__N_DICTS; i++)
        dict_reset(&w->dict[i]);
    tide_buf_reset(&w->stage);
    w->n = 0;
    w->n_refs = w->n_xlit = 0;
    w->pend_raw = 0;
    return 0;
}

/* Room for one more record in the pending block's arrays. */
static int grow_block(struct tide_trace_writer *w)
{
    size_t nc = w->cap_rec ? w->cap_rec * 2 : 1024;
    void *p;
    int i;
    if (!(p = realloc(w->rec, nc * sizeof(*w->rec))))
        return TIDE_E_NOMEM;
    w->rec = p;
    if (!(p = realloc(w->order, nc * sizeof(*w->order))))
        return TIDE_E_NOMEM;
    w->order = p;
    if (!(p = realloc(w->order_tmp, nc * sizeof(*w->order_tmp))))
        return TIDE_E_NOMEM;
    w->order_tmp = p;
    for (i = 0; i < 6; i++) {
        if (!(p = realloc(w->num[i], nc * sizeof(int64_t))))
            return TIDE_E_NOMEM;
        w->num[i] = p;
    }
    w->cap_rec = nc;
    return 0;
}

int tide_trace_writer_add(struct tide_trace_writer *w, const struct tide_record *r,
                          struct tide_err *err)
{
    int rc = 0, i;
    uint32_t h;
    struct tide_record *mr = (struct tide_record *)r; /* read-only use via tide__rec_str */
    struct wrec *s;

    if (r->n_headers > TIDE_MAX_HEADERS)
        return tide_err_set(err, TIDE_E_LIMIT, w->name, "record %llu: %u headers (cap %u)",
                            (unsigned long long)w->total, r->n_headers, TIDE_MAX_HEADERS);
    if (r->body.len > TIDE_MAX_BODY)
        return tide_err_set(err, TIDE_E_LIMIT, w->name, "record %llu: body over %u bytes",
                            (unsigned long long)w->total, TIDE_MAX_BODY);
    for (i = 0; i < TIDE__N_STR_FIELDS; i++)
        if (tide__rec_str(mr, i)->len > TIDE_MAX_FIELD)
            return tide_err_set(err, TIDE_E_LIMIT, w->name,
                                "record %llu: field %d over %u bytes",
                                (unsigned long long)w->total, i, TIDE_MAX_FIELD);
    if (w->n == 0)
        w->min_ts = w->max_ts = r->ts_ns;
    if (w->n == w->cap_rec && grow_block(w))
        return tide_err_set(err, TIDE_E_NOMEM, w->name, "out of memory");
    s = &w->rec[w->n];
    s->ts = r->ts_ns;
    s->dur = r->duration_ns < 0 ? -1 : r->duration_ns;
    s->resp = r->resp_bytes < 0 ? -1 : r->resp_bytes;
    s->status = r->status < 0 ? -1 : r->status;
    s->flags = r->flags;
    s->ref0 = (uint32_t)w->n_refs;
    s->n_headers = r->n_headers;
    for (i = 0; i < TIDE__N_PLAIN_STR; i++)
        rc |= stage_str(w, i, *tide__rec_str(mr, i));
    {
        struct tide_str name;
        uint64_t line = tide__src_split(r->source, &name), group;
        rc |= stage_str(w, TIDE__N_PLAIN_STR, name);
        group = w->n_refs ? w->refs[w->n_refs - 1] : STAGED;
        /* the stored order's key: a name past the first 65,534 (or kept
         * apart) shares the last group; a line past 2^48 is clamped. Either
         * only costs compression: the key never changes what is stored. */
        if (group >= 0xffff)
            group = 0xffff;
        s->key = group << 48 | (line > LINE_KEY_MASK ? LINE_KEY_MASK : line);
        s->line = line;
    }
    for (h = 0; h < r->n_headers; h++) {
        rc |= stage_str(w, TIDE__N_STR_FIELDS, r->headers[h].name);
        rc |= stage_str(w, TIDE__N_STR_FIELDS + 1, r->headers[h].value);
    }
    /* bodies go to their column at once, in arrival order: copied again at
     * flush only if the stored order differs (pcap's order seldom does) */
    s->body_off = (uint32_t)w->col[COL_BODY].len;
    s->body_len = (uint32_t)r->body.len;
    rc |= tide_buf_append(&w->col[COL_BODY], r->body.p, r->body.len);
    w->pend_raw += r->body.len;
    if (rc)
        return tide_err_set(err, TIDE_E_NOMEM, w->name, "record %llu: out of memory",
                            (unsigned long long)w->total);
    w->pend_raw += 24;
    if (r->ts_ns < w->min_ts)
        w->min_ts = r->ts_ns;
    if (r->ts_ns > w->max_ts)
        w->max_ts = r->ts_ns;
    if (w->first_ts == TIDE_TIME_UNKNOWN || r->ts_ns < w->first_ts)
        w->first_ts = r->ts_ns;
    if (w->last_ts == TIDE_TIME_UNKNOWN || r->ts_ns > w->last_ts)
        w->last_ts = r->ts_ns;
    w->n++;
    w->total++;
    if (w->n >= w->block_records || w->pend_raw >= w->block_bytes)
        return tide_trace_writer_flush(w, err);
    return 0;
}

int tide_trace_writer_sink(void *userp, const struct tide_record *r, struct tide_err *err)
{
    return tide_trace_writer_add(userp, r, err);
}

static char *final_meta(struct tide_trace_writer *w, const char *final_json)
{
    cJSON *o = final_json ? cJSON_Parse(final_json) : NULL;
    char tbuf[31], *s;
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        o = cJSON_CreateObject();
    }
    if (!o)
        return NULL;
    cJSON_DeleteItemFromObject(o, "records");
    cJSON_AddNumberToObject(o, "records", (double)w->total);
    cJSON_AddNumberToObject(o, "blocks", (double)w->n_idx);
    if (w->total) {
        tide_time_format_rfc3339(w->first_ts, tbuf);
        cJSON_AddStringToObject(o, "first_ts", tbuf);
        tide_time_format_rfc3339(w->last_ts, tbuf);
        cJSON_AddStringToObject(o, "last_ts", tbuf);
    }
    cJSON_AddNumberToObject(o, "bytes_raw", (double)w->bytes_raw);
    cJSON_AddNumberToObject(o, "bytes_compressed", (double)w->bytes_comp);
    s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

int tide_trace_writer_close(struct tide_trace_writer *w, const char *final_json,
                            struct tide_err *err)
{
    struct tide_buf ib;
    uint8_t tr[TIDE__TRAILER_LEN];
    uint64_t idx_off, fmet_off;
    char *fm;
    size_t i;
    int rc = tide_trace_writer_flush(w, err);
    if (rc)
        return rc;
    fm = final_meta(w, final_json);
    if (!fm)
        return tide_err_set(err, TIDE_E_NOMEM, w->name, "out of memory");
    fmet_off = w->offset;
    rc = write_section(w, TIDE__SEC_FMET, 0, fm, strlen(fm), err);
    free(fm);
    if (rc)
        return rc;
    tide_buf_init(&ib, 0);
    rc = tide_buf_put_u64le(&ib, w->n_idx);
    for (i = 0; i < w->n_idx && !rc; i++) {
        rc |= tide_buf_put_u64le(&ib, w->idx[i].offset);
        rc |= tide_buf_put_u32le(&ib, w->idx[i].count);
        rc |= tide_buf_put_u32le(&ib, 0);
        rc |= tide_buf_put_u64le(&ib, (uint64_t)w->idx[i].min_ts);
        rc |= tide_buf_put_u64le(&ib, (uint64_t)w->idx[i].max_ts);
        rc |= tide_buf_put_u64le(&ib, w->idx[i].first);
    }
    if (rc) {
        tide_buf_free(&ib);
        return tide_err_set(err, TIDE_E_NOMEM, w->name, "out of memory");
    }
    idx_off = w->offset;
    rc = write_section(w, TIDE__SEC_INDX, 0, ib.p, ib.len, err);
    tide_buf_free(&ib);
    if (rc)
        return rc;
    tide_put_u64le(tr, fmet_off);
    tide_put_u64le(tr + 8, idx_off);
    memcpy(tr + 16, TIDE__TRAILER_MAGIC, 8);
    return write_all(w, tr, sizeof(tr), err);
}

void tide_trace_writer_free(struct tide_trace_writer *w)
{
    int i;
    if (!w)
        return;
    for (i = 0; i < COL_COUNT; i++)
        tide_buf_free(&w->col[i]);
    tide_buf_free(&w->raw);
    tide_buf_free(&w->out);
    tide_buf_free(&w->stage);
    tide_buf_free(&w->body_tmp);
    ZSTD_freeCCtx(w->cctx);
    ZSTD_freeCCtx(w->probe_cctx);
    for (i = 0; i < 3; i++)
        tide_buf_free(&w->probe[i]);
    free(w->idx);
    free(w->rec);
    free(w->refs);
    free(w->xlit);
    free(w->order);
    free(w->order_tmp);
    for (i = 0; i < 6; i++)
        free(w->num[i]);
    for (i = 0; i < TIDE__N_DICTS; i++) {
        free(w->dict[i].slot);
        free(w->dict[i].id_off);
        free(w->dict[i].id_len);
        free(w->dict[i].remap);
        tide_buf_free(&w->dict[i].lit);
    }
    free(w);
}
