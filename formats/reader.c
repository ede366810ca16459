/*
 * reader.c - reads a .tide trace, from a file or a pipe.
 *
 * On a seekable file with an intact tail, the index drives the read: blocks
 * outside --from/--to are never touched, so a window costs the same on a
 * ten-million-record trace as on a small one. Without a tail (a capture that
 * was killed, or a pipe) the reader walks sections in order and says what it
 * lost at the end. Every section's XXH64 is checked before its bytes are
 * believed; a block that fails is reported by number and offset and never
 * handed out as records. One block is decoded at a time into reused arrays;
 * records point into the decompressed block and live until the next call.
 */
#include "formats_int.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

/* Fuzzing builds skip checksum comparison so the fuzzer reaches the decoders
 * behind it (zstd's convention); never defined in a normal build. */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
static const bool CHECK_SUMS = false;
#else
static const bool CHECK_SUMS = true;
#endif

struct ridx {
    uint64_t offset;
    uint32_t count;
    int64_t min_ts, max_ts;
    uint64_t first;
};

struct tide_trace_reader {
    int fd;
    char name[200];
    bool seekable;
    uint64_t file_size;
    uint64_t pos; /* offset of the next section to read */
    struct tide_trace_reader_opts o;
    char *meta, *fmeta;
    bool raw;
    struct ridx *idx;
    uint64_t n_idx, next_idx;
    bool use_index;
    uint64_t block_no; /* number of the next block */
    struct tide_buf sec, dec;
    ZSTD_DCtx *dctx;
    unsigned major; /* the file's format version */
    struct tide_record *recs;
    size_t cap_recs;
    /* a 2.x block stores records in its own order: order by start, when
     * that is not the stored one */
    struct tide__sort_key *order, *order_tmp;
    bool reorder;
    struct tide_header *hdrs;
    size_t cap_hdrs;
    struct tide_arena src_arena; /* rebuilt "file:line" sources of the current block */
    struct rdict {
        struct tide_str *v;
        size_t n, cap;
    } dict[TIDE__N_DICTS];
    uint32_t n_recs, cur;
    struct tide_trace_stats st;
    bool done;
    int pending_rc; /* error to return once records of the block are out */
    struct tide_err pending_err;
};

static void resolve_offsets(struct tide_trace_reader *r, int64_t start);

/* Reads n bytes at off. Returns bytes read (< n only at end of input), or -1. */
static ssize_t rd(struct tide_trace_reader *r, uint64_t off, void *buf, size_t n)
{
    size_t got = 0;
    if (!r->seekable && off != r->pos) {
        /* pipes only move forward; callers never ask otherwise */
        errno = ESPIPE;
        return -1;
    }
    while (got < n) {
        ssize_t k = r->seekable ? pread(r->fd, (char *)buf + got, n - got, (off_t)(off + got))
                                : read(r->fd, (char *)buf + got, n - got);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (k == 0)
            break;
        got += (size_t)k;
    }
    if (!r->seekable)
        r->pos += got;
    return (ssize_t)got;
}

static void where(struct tide_trace_reader *r, char *buf, size_t cap, uint64_t off)
{
    snprintf(buf, cap, "%s: offset %llu", r->name, (unsigned long long)off);
}

static void where_block(struct tide_trace_reader *r, char *buf, size_t cap, uint64_t no,
                        uint64_t off)
{
    snprintf(buf, cap, "%s: block %llu at offset %llu", r->name, (unsigned long long)no,
             (unsigned long long)off);
}

enum sec_result { SEC_OK = 0, SEC_EOF = 1, SEC_SHORT = 2, SEC_BADSUM = 3, SEC_IOERR = 4 };

/*
 * Reads the section at off into r->sec. *type, *flags, *len from its header.
 * SEC_EOF: no byte at off. SEC_SHORT: the file ends inside it (*got = bytes).
 */
static int read_section(struct tide_trace_reader *r, uint64_t off, uint32_t *type,
                        uint32_t *flags, uint64_t *len, uint64_t *got)
{
    uint8_t h[TIDE__SEC_HDR_LEN];
    ssize_t k = rd(r, off, h, sizeof(h));
    int rc;
    *got = 0;
    if (k < 0)
        return SEC_IOERR;
    if (k == 0)
        return SEC_EOF;
    if ((size_t)k < sizeof(h)) {
        *got = (uint64_t)k;
        return SEC_SHORT;
    }
    *type = tide_get_u32le(h);
    *flags = tide_get_u32le(h + 4);
    *len = tide_get_u64le(h + 8);
    if (*len > (uint64_t)TIDE_MAX_BLOCK_RAW + 65536 + TIDE_MAX_META)
        return SEC_BADSUM; /* no sane section is this large: the header is damaged */
    if (r->seekable && off + sizeof(h) + *len > r->file_size) {
        *got = r->file_size - off;
        /* consume nothing more: the section is cut */
        return SEC_SHORT;
    }
    tide_buf_reset(&r->sec);
    rc = tide_buf_reserve(&r->sec, (size_t)*len);
    if (rc)
        return SEC_IOERR;
    k = rd(r, off + sizeof(h), r->sec.p, (size_t)*len);
    if (k < 0)
        return SEC_IOERR;
    if ((uint64_t)k < *len) {
        *got = sizeof(h) + (uint64_t)k;
        return SEC_SHORT;
    }
    r->sec.len = (size_t)*len;
    if (CHECK_SUMS && tide__sec_checksum(h, r->sec.p, r->sec.len) != tide_get_u64le(h + 16))
        return SEC_BADSUM;
    return SEC_OK;
}

static char *dup_json(const char *p, size_t n, bool *raw, bool need_raw)
{
    char *s = malloc(n + 1);
    cJSON *o;
    if (!s)
        return NULL;
    if (n)
        memcpy(s, p, n);
    s[n] = 0;
    o = cJSON_ParseWithLength(s, n);
    if (!o || !cJSON_IsObject(o) || (need_raw && !cJSON_IsBool(cJSON_GetObjectItem(o, "raw")))) {
        cJSON_Delete(o);
        free(s);
        return NULL;
    }
    if (raw)
        *raw = cJSON_IsTrue(cJSON_GetObjectItem(o, "raw"));
    cJSON_Delete(o);
    return s;
}

static int load_index(struct tide_trace_reader *r)
{
    uint8_t tr[TIDE__TRAILER_LEN];
    uint64_t fmet_off, idx_off, n, i, len, got, min_off = TIDE__FILE_HDR_LEN;
    uint32_t type, flags;
    const uint8_t *p;

    if (!r->seekable || r->file_size < TIDE__FILE_HDR_LEN + TIDE__TRAILER_LEN)
        return 0;
    if (rd(r, r->file_size - TIDE__TRAILER_LEN, tr, sizeof(tr)) != (ssize_t)sizeof(tr))
        return 0;
    if (memcmp(tr + 16, TIDE__TRAILER_MAGIC, 8) != 0)
        return 0;
    fmet_off = tide_get_u64le(tr);
    idx_off = tide_get_u64le(tr + 8);
    if (idx_off >= r->file_size || fmet_off >= idx_off)
        return 0;
    if (read_section(r, idx_off, &type, &flags, &len, &got) != SEC_OK || type != TIDE__SEC_INDX ||
        idx_off + TIDE__SEC_HDR_LEN + len + TIDE__TRAILER_LEN != r->file_size)
        return 0;
    p = (const uint8_t *)r->sec.p;
    if (len < 8)
        return 0;
    n = tide_get_u64le(p);
    if (n > (len - 8) / TIDE__INDEX_ENTRY_LEN || 8 + n * TIDE__INDEX_ENTRY_LEN != len)
        return 0;
    r->idx = calloc(n ? n : 1, sizeof(*r->idx));
    if (!r->idx)
        return TIDE_E_NOMEM;
    for (i = 0; i < n; i++) {
        const uint8_t *e = p + 8 + i * TIDE__INDEX_ENTRY_LEN;
        r->idx[i].offset = tide_get_u64le(e);
        r->idx[i].count = tide_get_u32le(e + 8);
        r->idx[i].min_ts = (int64_t)tide_get_u64le(e + 16);
        r->idx[i].max_ts = (int64_t)tide_get_u64le(e + 24);
        r->idx[i].first = tide_get_u64le(e + 32);
        if (r->idx[i].offset < min_off || r->idx[i].offset >= fmet_off ||
            r->idx[i].count > TIDE_MAX_BLOCK_RECORDS) {
            free(r->idx);
            r->idx = NULL;
            return 0;
        }
        min_off = r->idx[i].offset + TIDE__SEC_HDR_LEN;
    }
    if (read_section(r, fmet_off, &type, &flags, &len, &got) != SEC_OK || type != TIDE__SEC_FMET ||
        !(r->fmeta = dup_json(r->sec.p, r->sec.len, NULL, false))) {
        free(r->idx);
        r->idx = NULL;
        return 0;
    }
    r->n_idx = n;
    r->use_index = true;
    if (n) {
        int64_t start = r->idx[0].min_ts;
        for (i = 1; i < n; i++)
            if (r->idx[i].min_ts < start)
                start = r->idx[i].min_ts;
        resolve_offsets(r, start);
    }
    r->st.has_tail = true;
    return 0;
}

int tide_trace_reader_open(struct tide_trace_reader **out, int fd, const char *name,
                           const struct tide_trace_reader_opts *opts, struct tide_err *err)
{
    struct tide_trace_reader *r;
    uint8_t fh[TIDE__FILE_HDR_LEN];
    struct stat sb;
    uint32_t type, flags;
    uint64_t len, got;
    ssize_t k;
    int rc, src;
    char wbuf[256];

    *out = NULL;
    r = calloc(1, sizeof(*r));
    if (!r)
        return tide_err_set(err, TIDE_E_NOMEM, name, "out of memory");
    r->fd = fd;
    snprintf(r->name, sizeof(r->name), "%s", name);
    if (opts)
        r->o = *opts;
    else {
        r->o.from_ns = TIDE_TIME_UNKNOWN;
        r->o.to_ns = TIDE_TIME_UNKNOWN;
    }
    tide_buf_init(&r->sec, (size_t)TIDE_MAX_BLOCK_RAW + 65536 + TIDE_MAX_META);
    tide_buf_init(&r->dec, TIDE_MAX_BLOCK_RAW);
    tide_arena_init(&r->src_arena, 0);
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
        r->seekable = true;
        r->file_size = (uint64_t)sb.st_size;
    }
    r->dctx = ZSTD_createDCtx();
    if (!r->dctx) {
        rc = tide_err_set(err, TIDE_E_NOMEM, name, "out of memory");
        goto out_free_r;
    }
    k = rd(r, 0, fh, sizeof(fh));
    if (k < 0) {
        rc = tide_err_set(err, TIDE_E_IO, name, "read failed: %s", strerror(errno));
        goto out_free_r;
    }
    if ((size_t)k < TIDE__MAGIC_LEN || memcmp(fh, TIDE__MAGIC, TIDE__MAGIC_LEN) != 0) {
        rc = tide_err_set(err, TIDE_E_FORMAT, name, "not a tide trace (no tide magic at offset 0)");
        goto out_free_r;
    }
    if ((size_t)k < sizeof(fh)) {
        rc = tide_err_set(err, TIDE_E_TRUNCATED, name, "truncated inside the file header");
        goto out_free_r;
    }
    if (fh[8] < 1 || fh[8] > TIDE_FORMAT_VERSION_MAJOR || fh[9] != 0) {
        rc = tide_err_set(err, TIDE_E_VERSION, name,
                          "trace format version %u.%u is not supported by this tide (reads 1.x"
                          " to %d.x); use a newer tide",
                          fh[8] | fh[9] << 8, fh[10] | fh[11] << 8, TIDE_FORMAT_VERSION_MAJOR);
        goto out_free_r;
    }
    r->major = fh[8];
    r->pos = TIDE__FILE_HDR_LEN;
    if (r->seekable)
        r->pos = TIDE__FILE_HDR_LEN;
    src = read_section(r, TIDE__FILE_HDR_LEN, &type, &flags, &len, &got);
    where(r, wbuf, sizeof(wbuf), TIDE__FILE_HDR_LEN);
    if (src == SEC_EOF || src == SEC_SHORT) {
        rc = tide_err_set(err, TIDE_E_TRUNCATED, wbuf, "truncated inside the metadata section");
        goto out_free_r;
    }
    if (src == SEC_IOERR) {
        rc = tide_err_set(err, TIDE_E_IO, wbuf, "read failed: %s", strerror(errno));
        goto out_free_r;
    }
    if (src == SEC_BADSUM) {
        rc = tide_err_set(err, TIDE_E_CORRUPT, wbuf, "metadata section: checksum mismatch");
        goto out_free_r;
    }
    if (type != TIDE__SEC_META || !(r->meta = dup_json(r->sec.p, r->sec.len, &r->raw, true))) {
        rc = tide_err_set(err, TIDE_E_FORMAT, wbuf, "first section is not valid JSON metadata");
        goto out_free_r;
    }
    r->pos = TIDE__FILE_HDR_LEN + TIDE__SEC_HDR_LEN + len;
    rc = load_index(r);
    if (rc) {
        tide_err_set(err, rc, name, "out of memory");
        goto out_free_r;
    }
    *out = r;
    return 0;

out_free_r:
    tide_trace_reader_free(r);
    return rc;
}

/* Takes one string from the (refs, lens, data) columns at c, dictionary d. */
static int get_dstr(const uint8_t **col, const uint8_t **end, int c, struct rdict *d,
                    struct tide_str *out)
{
    uint64_t ref, l;
    if (tide_get_uvar(&col[c], end[c], &ref))
        return TIDE_E_FORMAT;
    if (ref > 0) {
        if (ref > d->n)
            return TIDE_E_FORMAT;
        *out = d->v[ref - 1];
        return 0;
    }
    if (tide_get_uvar(&col[c + 1], end[c + 1], &l) || l > (uint64_t)(end[c + 2] - col[c + 2]))
        return TIDE_E_FORMAT;
    *out = tide_str_make((const char *)col[c + 2], (size_t)l);
    col[c + 2] += l;
    if (tide__dict_joins(l, d->n)) {
        if (d->n == d->cap) {
            size_t nc = d->cap ? d->cap * 2 : 256;
            struct tide_str *nv = realloc(d->v, nc * sizeof(*nv));
            if (!nv)
                return TIDE_E_NOMEM;
            d->v = nv;
            d->cap = nc;
        }
        d->v[d->n++] = *out;
    }
    return 0;
}


/* Reads a numeric column's scale exponent. */
static int get_scale(const uint8_t **col, const uint8_t **end, int c, int64_t *mul)
{
    uint64_t e;
    if (tide_get_uvar(&col[c], end[c], &e) || e > 9)
        return TIDE_E_FORMAT;
    *mul = TIDE__POW10[e];
    return 0;
}

/* A numeric column of a block: varints read in turn, or (2.x encoding 1)
 * byte planes: k planes of count bytes, byte j of every value in plane j. */
struct numcol {
    const uint8_t *planes;
    unsigned k;
};

/* Reads the encoding of numeric column c (2.x) and sets n up for it. */
static int get_encoding(const uint8_t **col, const uint8_t **end, int c, uint32_t count,
                        struct numcol *n)
{
    uint64_t enc, k;
    n->planes = NULL;
    if (tide_get_uvar(&col[c], end[c], &enc) || enc > 1)
        return TIDE_E_FORMAT;
    if (enc == 0)
        return 0;
    if (tide_get_uvar(&col[c], end[c], &k) || k < 1 || k > 8 ||
        (uint64_t)(end[c] - col[c]) < k * count)
        return TIDE_E_FORMAT;
    n->planes = col[c];
    n->k = (unsigned)k;
    col[c] += k * count;
    return 0;
}

/* Value i of numeric column c. */
static inline int get_num(const uint8_t **col, const uint8_t **end, int c,
                          const struct numcol *n, uint32_t count, uint32_t i, uint64_t *v)
{
    unsigned j;
    if (!n->planes)
        return tide_get_uvar(&col[c], end[c], v);
    *v = 0;
    for (j = 0; j < n->k; j++)
        *v |= (uint64_t)n->planes[(size_t)j * count + i] << (8 * j);
    return 0;
}

/* Decodes the block now in r->sec into r->recs. Returns 0 or TIDE_E_CORRUPT. */
static int decode_block(struct tide_trace_reader *r, const char *wb, struct tide_err *err)
{
    const uint8_t *p = (const uint8_t *)r->sec.p;
    uint32_t count, raw_size, ncols, i, c;
    int64_t min_ts;
    unsigned long long fsz;
    size_t z;
    const uint8_t *col[COL_COUNT], *end[COL_COUNT], *q;
    uint64_t total_hdrs = 0, off;
    int64_t mul[5];
    uint64_t ts_mode = 0;
    struct numcol nc[4] = {{0}};
    bool in_order = true;

    if (r->sec.len < TIDE__BLOCK_HDR_LEN)
        return tide_err_set(err, TIDE_E_CORRUPT, wb, "block header too short");
    count = tide_get_u32le(p);
    raw_size = tide_get_u32le(p + 4);
    min_ts = (int64_t)tide_get_u64le(p + 8);
    if (count == 0 || count > TIDE_MAX_BLOCK_RECORDS || raw_size > TIDE_MAX_BLOCK_RAW)
        return tide_err_set(err, TIDE_E_CORRUPT, wb, "block header out of range");
    fsz = ZSTD_getFrameContentSize(p + TIDE__BLOCK_HDR_LEN, r->sec.len - TIDE__BLOCK_HDR_LEN);
    if (fsz != raw_size)
        return tide_err_set(err, TIDE_E_CORRUPT, wb, "zstd frame size disagrees with header");
    tide_buf_reset(&r->dec);
    if (tide_buf_reserve(&r->dec, raw_size ? raw_size : 1))
        return tide_err_set(err, TIDE_E_NOMEM, wb, "out of memory");
    z = ZSTD_decompressDCtx(r->dctx, r->dec.p, raw_size, p + TIDE__BLOCK_HDR_LEN,
                            r->sec.len - TIDE__BLOCK_HDR_LEN);
    if (ZSTD_isError(z) || z != raw_size)
        return tide_err_set(err, TIDE_E_CORRUPT, wb, "zstd: %s",
                            ZSTD_isError(z) ? ZSTD_getErrorName(z) : "short frame");
    r->dec.len = raw_size;
    p = (const uint8_t *)r->dec.p;
    if (raw_size < 4 || (ncols = tide_get_u32le(p)) < COL_COUNT || ncols > 4096 ||
        raw_size < 4 + 4ull * ncols)
        return tide_err_set(err, TIDE_E_CORRUPT, wb, "bad column table");
    off = 4 + 4ull * ncols;
    for (c = 0; c < ncols; c++) {
        uint32_t sz = tide_get_u32le(p + 4 + 4 * c);
        if (off + sz > raw_size)
            return tide_err_set(err, TIDE_E_CORRUPT, wb, "column %u overruns the block", c);
        if (c < COL_COUNT) {
            col[c] = p + off;
            end[c] = p + off + sz;
        }
        off += sz;
    }
    /* header total, to size the header array before decoding */
    q = col[COL_HDR_COUNT];
    for (i = 0; i < count; i++) {
        uint64_t h;
        if (tide_get_uvar(&q, end[COL_HDR_COUNT], &h) || h > TIDE_MAX_HEADERS)
            return tide_err_set(err, TIDE_E_CORRUPT, wb, "record %u: bad header count", i);
        total_hdrs += h;
    }
    if (total_hdrs > (uint64_t)(end[COL_HNAME] - col[COL_HNAME]))
        return tide_err_set(err, TIDE_E_CORRUPT, wb, "header count exceeds header column");
    if (count > r->cap_recs) {
        struct tide_record *nr = realloc(r->recs, count * sizeof(*nr));
        struct tide__sort_key *no;
        if (!nr)
            return tide_err_set(err, TIDE_E_NOMEM, wb, "out of memory");
        r->recs = nr;
        if (!(no = realloc(r->order, count * sizeof(*no))))
            return tide_err_set(err, TIDE_E_NOMEM, wb, "out of memory");
        r->order = no;
        if (!(no = realloc(r->order_tmp, count * sizeof(*no))))
            return tide_err_set(err, TIDE_E_NOMEM, wb, "out of memory");
        r->order_tmp = no;
        r->cap_recs = count;
    }
    if (total_hdrs > r->cap_hdrs) {
        struct tide_header *nh = realloc(r->hdrs, total_hdrs * sizeof(*nh));
        if (!nh)
            return tide_err_set(err, TIDE_E_NOMEM, wb, "out of memory");
        r->hdrs = nh;
        r->cap_hdrs = total_hdrs;
    }

    for (c = 0; c < TIDE__N_DICTS; c++)
        r->dict[c].n = 0;
    /* 2.x: times as deltas of starts (0) or of ends, start + duration (1) */
    if (r->major >= 2 && (tide_get_uvar(&col[COL_TS], end[COL_TS], &ts_mode) || ts_mode > 1)) {
        i = 0;
        goto out_bad;
    }
    if (get_scale(col, end, COL_TS, &mul[0]) || get_scale(col, end, COL_DURATION, &mul[1]) ||
        get_scale(col, end, COL_RESP_BYTES, &mul[2]) || get_scale(col, end, COL_STATUS, &mul[3]) ||
        get_scale(col, end, COL_FLAGS, &mul[4])) {
        i = 0;
        goto out_bad;
    }
    for (c = 0; r->major >= 2 && c < 4; c++)
        if (get_encoding(col, end, COL_TS + (int)c, count, &nc[c])) {
            i = 0;
            goto out_bad;
        }
    tide_arena_reset(&r->src_arena);
    {
        int64_t ts = min_ts, prev_start = INT64_MIN, line = 0;
        struct tide_header *hp = r->hdrs;
        for (i = 0; i < count; i++) {
            struct tide_record *rec = &r->recs[i];
            int64_t d;
            uint64_t v, nh;
            int f;
            if (get_num(col, end, COL_DURATION, &nc[1], count, i, &v))
                goto out_bad;
            rec->duration_ns = v == 0 || v - 1 > (uint64_t)(INT64_MAX / mul[1]) ? -1 : (int64_t)(v - 1) * mul[1];
            if (get_num(col, end, COL_TS, &nc[0], count, i, &v))
                goto out_bad;
            d = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
            ts = (int64_t)((uint64_t)ts + (uint64_t)d * (uint64_t)mul[0]);
            rec->ts_ns = ts_mode && rec->duration_ns > 0
                             ? (int64_t)((uint64_t)ts - (uint64_t)rec->duration_ns)
                             : ts;
            if (rec->ts_ns < prev_start)
                in_order = false;
            prev_start = rec->ts_ns;
            if (get_num(col, end, COL_RESP_BYTES, &nc[2], count, i, &v))
                goto out_bad;
            rec->resp_bytes = v == 0 || v - 1 > (uint64_t)(INT64_MAX / mul[2]) ? -1 : (int64_t)(v - 1) * mul[2];
            if (get_num(col, end, COL_STATUS, &nc[3], count, i, &v))
                goto out_bad;
            rec->status = v == 0 || v - 1 > (uint64_t)(1000 / mul[3]) ? -1 : (int32_t)((int64_t)(v - 1) * mul[3]);
            if (tide_get_uvar(&col[COL_FLAGS], end[COL_FLAGS], &v))
                goto out_bad;
            rec->flags = (uint32_t)v;
            for (f = 0; f < TIDE__N_PLAIN_STR; f++)
                if (get_dstr(col, end, COL_STR_FIRST + 3 * f, &r->dict[f], tide__rec_str(rec, f)))
                    goto out_bad;
            if (get_dstr(col, end, COL_SRC, &r->dict[TIDE__N_PLAIN_STR], &rec->source) ||
                tide_get_svar(&col[COL_SRC_LINE], end[COL_SRC_LINE], &d))
                goto out_bad;
            line = (int64_t)((uint64_t)line + (uint64_t)d);
            if (line > 0) {
                char num[24], *p2;
                /* ":LINE" without printf: this runs for every record read */
                size_t nl = 1 + tide_u64_dec(num + 1, (uint64_t)(line - 1));
                num[0] = ':';
                p2 = tide_arena_alloc(&r->src_arena, rec->source.len + nl);
                if (!p2)
                    goto out_bad;
                if (rec->source.len)
                    memcpy(p2, rec->source.p, rec->source.len);
                memcpy(p2 + rec->source.len, num, nl);
                rec->source = tide_str_make(p2, rec->source.len + nl);
            } else if (line < 0) {
                goto out_bad;
            }
            if (tide_get_uvar(&col[COL_HDR_COUNT], end[COL_HDR_COUNT], &nh))
                goto out_bad;
            rec->headers = hp;
            rec->n_headers = (uint32_t)nh;
            for (v = 0; v < nh; v++, hp++)
                if (get_dstr(col, end, COL_HNAME, &r->dict[TIDE__N_STR_FIELDS], &hp->name) ||
                    get_dstr(col, end, COL_HVAL, &r->dict[TIDE__N_STR_FIELDS + 1], &hp->value))
                    goto out_bad;
            if (tide_get_uvar(&col[COL_BODY_LEN], end[COL_BODY_LEN], &v) ||
                v > (uint64_t)(end[COL_BODY] - col[COL_BODY]))
                goto out_bad;
            rec->body = tide_str_make((const char *)col[COL_BODY], (size_t)v);
            col[COL_BODY] += v;
        }
    }
    r->n_recs = count;
    r->cur = 0;
    r->st.records_read += count;
    /* 2.x hands records out by start (ties in stored order); a 1.x block's
     * order is the one it was written in */
    r->reorder = r->major >= 2 && !in_order && !r->o.any_order;
    if (r->reorder) {
        for (i = 0; i < count; i++) {
            r->order[i].k = (uint64_t)r->recs[i].ts_ns ^ (UINT64_C(1) << 63);
            r->order[i].i = i;
        }
        tide__sort_keys(r->order, r->order_tmp, count);
    }
    return 0;

out_bad:
    return tide_err_set(err, TIDE_E_CORRUPT, wb, "record %u: column data malformed", i);
}

/* Turns --from/--to offsets into times once the trace's start is known. */
static void resolve_offsets(struct tide_trace_reader *r, int64_t start)
{
    if (r->o.from_is_offset && r->o.from_ns != TIDE_TIME_UNKNOWN)
        r->o.from_ns += start;
    if (r->o.to_is_offset && r->o.to_ns != TIDE_TIME_UNKNOWN)
        r->o.to_ns += start;
    r->o.from_is_offset = r->o.to_is_offset = false;
}

static bool block_outside(struct tide_trace_reader *r, int64_t min_ts, int64_t max_ts)
{
    if (r->o.from_is_offset || r->o.to_is_offset)
        resolve_offsets(r, min_ts); /* sequential read: the first block starts the trace */
    if (r->o.from_ns != TIDE_TIME_UNKNOWN && max_ts < r->o.from_ns)
        return true;
    if (r->o.to_ns != TIDE_TIME_UNKNOWN && min_ts >= r->o.to_ns)
        return true;
    return false;
}

static int set_truncated(struct tide_trace_reader *r, uint64_t at, uint64_t lost,
                         struct tide_err *err)
{
    char wb[256];
    r->st.truncated = true;
    r->st.truncated_at = at;
    r->st.truncated_lost_bytes = lost;
    r->done = true;
    where(r, wb, sizeof(wb), at);
    if (r->st.last_good_block)
        return tide_err_set(err, TIDE_E_TRUNCATED, wb,
                            "trace is incomplete: %llu bytes after block %llu lost (no index: "
                            "the writer did not finish, or is still writing)",
                            (unsigned long long)lost, (unsigned long long)r->st.last_good_block - 1);
    return tide_err_set(err, TIDE_E_TRUNCATED, wb,
                        "trace is incomplete: %llu bytes after the metadata lost, no whole block "
                        "(the writer did not finish, or is still writing)",
                        (unsigned long long)lost);
}

/* Scans forward from off for the next section whose checksum holds (seekable only). */
static uint64_t resync(struct tide_trace_reader *r, uint64_t off)
{
    uint8_t buf[65536];
    uint64_t at = off;
    while (at + TIDE__SEC_HDR_LEN <= r->file_size) {
        ssize_t k = rd(r, at, buf, sizeof(buf));
        ssize_t i;
        if (k < 4)
            break;
        for (i = 0; i + 4 <= k; i++) {
            uint32_t t = tide_get_u32le(buf + i);
            uint32_t type, flags;
            uint64_t len, got;
            if (t != TIDE__SEC_BLCK && t != TIDE__SEC_FMET && t != TIDE__SEC_INDX)
                continue;
            if (read_section(r, at + (uint64_t)i, &type, &flags, &len, &got) == SEC_OK)
                return at + (uint64_t)i;
        }
        at += (uint64_t)(k - 3);
    }
    return r->file_size;
}

/* Loads the next block to hand out. 1 loaded, 0 end, negative error. */
static int next_block(struct tide_trace_reader *r, struct tide_err *err)
{
    char wb[256];
    for (;;) {
        uint32_t type = 0, flags = 0;
        uint64_t len = 0, got = 0, off, no;
        int src, rc;

        if (r->done)
            return 0;
        if (r->use_index) {
            struct ridx *e;
            if (r->next_idx >= r->n_idx) {
                r->done = true;
                return 0;
            }
            e = &r->idx[r->next_idx];
            no = r->next_idx++;
            if (block_outside(r, e->min_ts, e->max_ts)) {
                r->st.blocks_skipped_by_index++;
                continue;
            }
            off = e->offset;
            src = read_section(r, off, &type, &flags, &len, &got);
            where_block(r, wb, sizeof(wb), no, off);
            if (src == SEC_IOERR)
                return tide_err_set(err, TIDE_E_IO, wb, "read failed: %s", strerror(errno));
            if (src != SEC_OK || type != TIDE__SEC_BLCK) {
                r->st.blocks_corrupt++;
                r->st.records_in_corrupt += e->count;
                tide_err_set(err, TIDE_E_CORRUPT, wb, "checksum mismatch");
                if (r->o.skip_corrupt)
                    continue;
                r->done = true;
                return TIDE_E_CORRUPT;
            }
        } else {
            off = r->pos;
            no = r->block_no;
            src = read_section(r, off, &type, &flags, &len, &got);
            if (src == SEC_IOERR) {
                where(r, wb, sizeof(wb), off);
                return tide_err_set(err, TIDE_E_IO, wb, "read failed: %s", strerror(errno));
            }
            if (src == SEC_EOF)
                return set_truncated(r, off, 0, err);
            if (src == SEC_SHORT)
                return set_truncated(r, off, got, err);
            if (src == SEC_BADSUM) {
                where_block(r, wb, sizeof(wb), no, off);
                r->st.blocks_corrupt++;
                r->block_no++;
                tide_err_set(err, TIDE_E_CORRUPT, wb, "checksum mismatch");
                if (!r->o.skip_corrupt || !r->seekable) {
                    r->done = true;
                    return TIDE_E_CORRUPT;
                }
                r->pos = resync(r, off + 1);
                continue;
            }
            r->pos = off + TIDE__SEC_HDR_LEN + len;
            if (type == TIDE__SEC_FMET) {
                free(r->fmeta);
                r->fmeta = dup_json(r->sec.p, r->sec.len, NULL, false);
                continue;
            }
            if (type == TIDE__SEC_INDX) {
                uint8_t tr[TIDE__TRAILER_LEN];
                ssize_t k = rd(r, r->pos, tr, sizeof(tr));
                if (k == (ssize_t)sizeof(tr) && memcmp(tr + 16, TIDE__TRAILER_MAGIC, 8) == 0) {
                    r->st.has_tail = true;
                    r->done = true;
                    return 0;
                }
                return set_truncated(r, r->pos, k < 0 ? 0 : (uint64_t)k, err);
            }
            if (type != TIDE__SEC_BLCK) {
                where(r, wb, sizeof(wb), off);
                if (flags & TIDE__SEC_OPTIONAL)
                    continue; /* a newer minor version's optional section */
                r->done = true;
                return tide_err_set(err, TIDE_E_VERSION, wb,
                                    "required section of unknown type 0x%08x: written by a "
                                    "newer tide",
                                    type);
            }
            r->block_no++;
            if (r->sec.len >= TIDE__BLOCK_HDR_LEN &&
                block_outside(r, (int64_t)tide_get_u64le((uint8_t *)r->sec.p + 8),
                              (int64_t)tide_get_u64le((uint8_t *)r->sec.p + 16))) {
                r->st.last_good_block = no + 1;
                continue;
            }
        }
        where_block(r, wb, sizeof(wb), no, off);
        rc = decode_block(r, wb, err);
        if (rc) {
            r->st.blocks_corrupt++;
            if (r->use_index)
                r->st.records_in_corrupt += r->idx[no].count;
            if (r->o.skip_corrupt)
                continue;
            r->done = true;
            return rc;
        }
        r->st.blocks_read++;
        r->st.bytes_compressed += len;
        r->st.bytes_raw += r->dec.len;
        r->st.last_good_block = no + 1;
        return 1;
    }
}

int tide_trace_reader_next(struct tide_trace_reader *r, const struct tide_record **rec,
                           struct tide_err *err)
{
    for (;;) {
        while (r->cur < r->n_recs) {
            const struct tide_record *x =
                &r->recs[r->reorder ? r->order[r->cur].i : r->cur];
            r->cur++;
            if (r->o.from_ns != TIDE_TIME_UNKNOWN && x->ts_ns < r->o.from_ns)
                continue;
            if (r->o.to_ns != TIDE_TIME_UNKNOWN && x->ts_ns >= r->o.to_ns)
                continue;
            if (r->o.verify_only)
                continue;
            *rec = x;
            return 1;
        }
        r->n_recs = r->cur = 0;
        {
            int rc = next_block(r, err);
            if (rc <= 0)
                return rc;
        }
    }
}

const char *tide_trace_reader_meta(const struct tide_trace_reader *r) { return r->meta; }
const char *tide_trace_reader_final_meta(const struct tide_trace_reader *r) { return r->fmeta; }
const struct tide_trace_stats *tide_trace_reader_stats(const struct tide_trace_reader *r)
{
    return &r->st;
}
bool tide_trace_reader_is_raw(const struct tide_trace_reader *r) { return r->raw; }
unsigned tide_trace_reader_format_major(const struct tide_trace_reader *r) { return r->major; }
uint64_t tide_trace_reader_index_blocks(const struct tide_trace_reader *r) { return r->n_idx; }
uint64_t tide_trace_reader_index_records(const struct tide_trace_reader *r)
{
    return r->n_idx ? r->idx[r->n_idx - 1].first + r->idx[r->n_idx - 1].count : 0;
}

void tide_trace_reader_free(struct tide_trace_reader *r)
{
    if (!r)
        return;
    free(r->meta);
    free(r->fmeta);
    free(r->idx);
    tide_buf_free(&r->sec);
    tide_buf_free(&r->dec);
    ZSTD_freeDCtx(r->dctx);
    free(r->recs);
    free(r->order);
    free(r->order_tmp);
    free(r->hdrs);
    tide_arena_free(&r->src_arena);
    for (int k = 0; k < TIDE__N_DICTS; k++)
        free(r->dict[k].v);
    free(r);
}
