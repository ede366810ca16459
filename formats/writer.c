/*
 * writer.c - streams records into a .tide trace.
 *
 * Records are split into columns as they arrive (one growable buffer per
 * column, reused across blocks); a full block is laid out column after column
 * and compressed as one zstd frame, then written as a BLCK section. Columns of
 * like values (all paths, all user agents) compress far better than rows.
 * The writer only appends, so the output can be a pipe; the index and final
 * metadata go at the end. Expected load: millions of records per second per
 * core of capture or import; nothing is allocated per record once the column
 * buffers have grown to a block's size.
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

/* A per-block dictionary of one string field: literals by hash, by offset
 * into the field's data column (no copies). */
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
};

struct tide_trace_writer {
    int fd;
    char name[200];
    uint64_t offset; /* bytes written so far */
    struct tide_buf col[COL_COUNT];
    struct tide_buf raw, out;
    uint32_t n;       /* records in the pending block */
    size_t pend_raw;  /* bytes in the pending block's columns */
    int64_t min_ts, max_ts;
    int64_t *num[6]; /* ts, duration, resp_bytes, status, flags, source line of the block */
    size_t cap_num;
    struct wdict dict[TIDE__N_DICTS];
    uint64_t total;
    int64_t first_ts, last_ts;
    uint64_t bytes_raw, bytes_comp;
    struct index_entry *idx;
    size_t n_idx, cap_idx;
    ZSTD_CCtx *cctx;
    uint32_t block_records, block_bytes;
    bool failed;
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
            return tide_err_set(err, TIDE_E_IO, w->name, "write failed at offset %llu: %s",
                                (unsigned long long)w->offset,
                                errno == EPIPE ? "the reading end of the pipe closed"
                                               : strerror(errno));
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
    tide_buf_init(&w->out, 0);
    w->block_records = opts && opts->block_records ? opts->block_records : 65536;
    if (w->block_records > TIDE_MAX_BLOCK_RECORDS)
        w->block_records = TIDE_MAX_BLOCK_RECORDS;
    w->block_bytes = opts && opts->block_bytes ? opts->block_bytes : 8u << 20;
    if (w->block_bytes > TIDE_MAX_BLOCK_RAW / 2)
        w->block_bytes = TIDE_MAX_BLOCK_RAW / 2;
    level = opts && opts->level ? opts->level : 9;
    w->first_ts = w->last_ts = TIDE_TIME_UNKNOWN;
    w->cctx = ZSTD_createCCtx();
    if (!w->cctx) {
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

static uint64_t hash_str(struct tide_str s)
{
    return XXH3_64bits(s.p, s.len);
}

/* Looks s up in dictionary d over data column dc; returns id+1, or 0. Adds
 * it (as the next id) when absent and the dictionary rule allows. */
static uint64_t dict_ref(struct wdict *d, const struct tide_buf *dc, struct tide_str s,
                         bool *nomem)
{
    uint64_t h;
    size_t i;
    if (s.len > TIDE__DICT_MAX_LEN)
        return 0;
    if (d->has_last && d->slot[d->last].len == s.len &&
        (s.len == 0 || memcmp(dc->p + d->slot[d->last].off, s.p, s.len) == 0))
        return (uint64_t)d->slot[d->last].id + 1;
    h = hash_str(s);
    if (d->cap) {
        for (i = h & (d->cap - 1); d->slot[i].len != UINT32_MAX; i = (i + 1) & (d->cap - 1))
            if (d->slot[i].h == h && d->slot[i].len == s.len &&
                (s.len == 0 || memcmp(dc->p + d->slot[i].off, s.p, s.len) == 0)) {
                d->last = i;
                d->has_last = true;
                return (uint64_t)d->slot[i].id + 1;
            }
    }
    if (d->n >= TIDE__DICT_MAX_ENTRIES)
        return 0;
    if ((d->n + 1) * 2 > d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 256, j;
        void *ns = malloc(nc * sizeof(*d->slot));
        if (!ns) {
            *nomem = true;
            return 0;
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
    for (i = h & (d->cap - 1); d->slot[i].len != UINT32_MAX; i = (i + 1) & (d->cap - 1))
        ;
    d->slot[i].h = h;
    d->slot[i].off = (uint32_t)dc->len; /* the literal is appended right after */
    d->slot[i].len = s.len;
    d->slot[i].id = (uint32_t)d->n++;
    d->last = i; /* a growth above moved the slots: set after it */
    d->has_last = true;
    return 0;
}

static void dict_reset(struct wdict *d)
{
    if (d->cap)
        memset(d->slot, 0xff, d->cap * sizeof(*d->slot));
    d->n = 0;
    d->has_last = false;
}

/* A string into the (refs, lens, data) columns starting at col, dictionary k. */
static int put_dstr(struct tide_trace_writer *w, int col, int k, struct tide_str s)
{
    bool nomem = false;
    uint64_t ref = dict_ref(&w->dict[k], &w->col[col + 2], s, &nomem);
    int rc = nomem ? TIDE_E_NOMEM : tide_buf_put_uvar(&w->col[col], ref);
    if (!rc && ref == 0) {
        rc = tide_buf_put_uvar(&w->col[col + 1], s.len);
        if (!rc)
            rc = tide_buf_append(&w->col[col + 2], s.p, s.len);
        w->pend_raw += s.len;
    }
    w->pend_raw += 2;
    return rc;
}

/* Largest e <= 9 with every value a multiple of 10^e (unknown values skipped). */
static unsigned scale_of(const int64_t *v, size_t n, bool skip_negative)
{
    static const int64_t P[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000,
                                1000000000};
    unsigned e = 9;
    size_t i;
    for (i = 0; i < n && e > 0; i++) {
        if (skip_negative && v[i] < 0)
            continue;
        while (e > 0 && v[i] % P[e] != 0)
            e--;
    }
    return e;
}

/* Encodes the block's numeric arrays into their columns. */
static int encode_numbers(struct tide_trace_writer *w)
{
    static const int64_t P[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000,
                                1000000000};
    int64_t *ts = w->num[0], prev = w->min_ts;
    unsigned e;
    uint32_t i;
    int c, rc = 0;
    /* ts: deltas in place (restored below is not needed: the block is done) */
    for (i = 0; i < w->n; i++) {
        int64_t t = ts[i];
        ts[i] = (int64_t)((uint64_t)t - (uint64_t)prev);
        prev = t;
    }
    e = scale_of(ts, w->n, false);
    rc |= tide_buf_put_uvar(&w->col[COL_TS], e);
    for (i = 0; i < w->n; i++)
        rc |= tide_buf_put_svar(&w->col[COL_TS], ts[i] / P[e]);
    for (c = 1; c < 5; c++) {
        const int64_t *v = w->num[c];
        e = c == 4 ? 0 : scale_of(v, w->n, true);
        rc |= tide_buf_put_uvar(&w->col[COL_TS + c], e);
        for (i = 0; i < w->n; i++)
            rc |= tide_buf_put_uvar(&w->col[COL_TS + c],
                                    c == 4 ? (uint64_t)v[i]
                                    : v[i] < 0 ? 0
                                               : (uint64_t)(v[i] / P[e]) + 1);
    }
    {
        int64_t prev_line = 0; /* line numbers of "file:line" sources, as deltas */
        for (i = 0; i < w->n; i++) {
            rc |= tide_buf_put_svar(&w->col[COL_SRC_LINE], (int64_t)((uint64_t)w->num[5][i] - (uint64_t)prev_line));
            prev_line = w->num[5][i];
        }
    }
    return rc ? TIDE_E_NOMEM : 0;
}

int tide_trace_writer_flush(struct tide_trace_writer *w, struct tide_err *err)
{
    uint8_t bh[TIDE__BLOCK_HDR_LEN];
    size_t bound, z, raw_len;
    int i, rc;
    struct index_entry *e;

    if (w->failed)
        return tide_err_set(err, TIDE_E_IO, w->name, "writer failed earlier");
    if (w->n == 0)
        return 0;
    if (encode_numbers(w))
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
    w->n_idx++;
    w->bytes_raw += raw_len;
    w->bytes_comp += z;
    for (i = 0; i < COL_COUNT; i++)
        tide_buf_reset(&w->col[i]);
    for (i = 0; i < TIDE__N_DICTS; i++)
        dict_reset(&w->dict[i]);
    w->n = 0;
    w->pend_raw = 0;
    return 0;
}

int tide_trace_writer_add(struct tide_trace_writer *w, const struct tide_record *r,
                          struct tide_err *err)
{
    int rc = 0, i;
    uint32_t h;
    struct tide_record *mr = (struct tide_record *)r; /* read-only use via tide__rec_str */

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
    if (w->n == w->cap_num) {
        size_t nc = w->cap_num ? w->cap_num * 2 : 1024;
        for (i = 0; i < 6; i++) {
            int64_t *nv = realloc(w->num[i], nc * sizeof(int64_t));
            if (!nv)
                return tide_err_set(err, TIDE_E_NOMEM, w->name, "out of memory");
            w->num[i] = nv;
        }
        w->cap_num = nc;
    }
    w->num[0][w->n] = r->ts_ns;
    w->num[1][w->n] = r->duration_ns < 0 ? -1 : r->duration_ns;
    w->num[2][w->n] = r->resp_bytes < 0 ? -1 : r->resp_bytes;
    w->num[3][w->n] = r->status < 0 ? -1 : r->status;
    w->num[4][w->n] = r->flags;
    for (i = 0; i < TIDE__N_PLAIN_STR; i++)
        rc |= put_dstr(w, COL_STR_FIRST + 3 * i, i, *tide__rec_str(mr, i));
    {
        struct tide_str name;
        w->num[5][w->n] = (int64_t)tide__src_split(r->source, &name);
        rc |= put_dstr(w, COL_SRC, TIDE__N_PLAIN_STR, name);
    }
    rc |= tide_buf_put_uvar(&w->col[COL_HDR_COUNT], r->n_headers);
    for (h = 0; h < r->n_headers; h++) {
        rc |= put_dstr(w, COL_HNAME, TIDE__N_STR_FIELDS, r->headers[h].name);
        rc |= put_dstr(w, COL_HVAL, TIDE__N_STR_FIELDS + 1, r->headers[h].value);
    }
    rc |= tide_buf_put_uvar(&w->col[COL_BODY_LEN], r->body.len);
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
    ZSTD_freeCCtx(w->cctx);
    free(w->idx);
    for (i = 0; i < 6; i++)
        free(w->num[i]);
    for (i = 0; i < TIDE__N_DICTS; i++)
        free(w->dict[i].slot);
    free(w);
}
