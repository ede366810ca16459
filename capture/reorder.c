/*
 * reorder.c - puts captured records in request-start order within a bounded
 * window, for every capture source.
 *
 * Access logs are written when requests end, and pcap capture finishes a
 * request when its response ends: both produce records roughly, not exactly,
 * in start order. Records are packed into pooled buffers (reused, so steady
 * state allocates nothing per record) and wait in a min-heap keyed by start
 * time (ties by arrival) until the source says its clock has passed them by
 * more than the window. A record whose start is already behind what was
 * written is kept all the same, flagged late and counted.
 */
#include "capture_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tide__reorder {
    struct tide_sink sink;
    int64_t window;
    uint64_t max_pending;
    struct slot {
        int64_t ts;
        uint64_t seq;
        struct tide__entry *e;
    } *heap; /* the key beside the pointer: comparing touches no record */
    size_t heap_n, heap_cap;
    struct tide__entry *free_list;
    uint64_t seq;
    bool emitted;
    int64_t last_emitted;
    struct tide__reorder_stats st;
};

struct tide__reorder *tide__reorder_new(struct tide_sink sink, int64_t window, uint64_t max_pending)
{
    struct tide__reorder *ro = calloc(1, sizeof(*ro));
    if (!ro)
        return NULL;
    ro->sink = sink;
    ro->window = window > 0 ? window : 60 * TIDE_NS_PER_SEC;
    ro->max_pending = max_pending ? max_pending : 1000000;
    return ro;
}

const struct tide__reorder_stats *tide__reorder_stats(const struct tide__reorder *ro) { return &ro->st; }

static void put(struct tide__reorder *ro, struct tide__entry *e)
{
    e->next_free = ro->free_list;
    ro->free_list = e;
}

void tide__reorder_put(struct tide__reorder *ro, struct tide__entry *e)
{
    if (e)
        put(ro, e);
}

/* Writes "name:no" without printf (this runs once per record). */
static size_t source_text(char *out, size_t cap, const char *name, uint64_t no)
{
    size_t n = strlen(name), k = 0;
    char digits[24];
    if (n > cap - 22)
        n = cap - 22;
    memcpy(out, name, n);
    out[n++] = ':';
    do {
        digits[k++] = (char)('0' + no % 10);
        no /= 10;
    } while (no);
    while (k)
        out[n++] = digits[--k];
    return n;
}

struct tide__entry *tide__reorder_pack(struct tide__reorder *ro, const struct tide_record *r,
                                       const char *src_name, uint64_t src_no)
{
    struct tide__entry *e = ro->free_list;
    struct tide_str *fields[8];
    char src[300];
    size_t need, off, i, srclen;
    char *p;
    if (e) {
        ro->free_list = e->next_free;
    } else {
        e = calloc(1, sizeof(*e));
        if (!e)
            return NULL;
        tide_buf_init(&e->store, 0);
    }
    srclen = src_name ? source_text(src, sizeof(src), src_name, src_no) : 0;
    e->rec = *r;
    fields[0] = &e->rec.method;
    fields[1] = &e->rec.scheme;
    fields[2] = &e->rec.host;
    fields[3] = &e->rec.path;
    fields[4] = &e->rec.query;
    fields[5] = &e->rec.version;
    fields[6] = &e->rec.client;
    fields[7] = &e->rec.session;
    need = r->n_headers * sizeof(struct tide_header) + (src_name ? srclen : r->source.len) + r->body.len + 8;
    for (i = 0; i < 8; i++)
        need += fields[i]->len;
    for (i = 0; i < r->n_headers; i++)
        need += r->headers[i].name.len + r->headers[i].value.len;
    tide_buf_reset(&e->store);
    if (tide_buf_reserve(&e->store, need)) {
        put(ro, e);
        return NULL;
    }
    p = e->store.p;
    e->rec.headers = (struct tide_header *)(void *)p;
    off = r->n_headers * sizeof(struct tide_header);
    for (i = 0; i < 8 + 2 * (size_t)r->n_headers + 2; i++) {
        struct tide_str from, *to;
        if (i < 8) {
            to = fields[i];
            from = *to;
        } else if (i < 8 + 2 * (size_t)r->n_headers) {
            size_t h = (i - 8) / 2;
            from = (i - 8) % 2 ? r->headers[h].value : r->headers[h].name;
            to = (i - 8) % 2 ? &e->rec.headers[h].value : &e->rec.headers[h].name;
        } else if (i == 8 + 2 * (size_t)r->n_headers) {
            from = r->body;
            to = &e->rec.body;
        } else {
            from = src_name ? tide_str_make(src, srclen) : r->source;
            to = &e->rec.source;
        }
        if (from.len)
            memcpy(p + off, from.p, from.len);
        *to = tide_str_make(p + off, from.len);
        off += from.len;
    }
    e->store.len = off;
    e->seq = ro->seq++;
    return e;
}

static bool before(const struct slot *a, const struct slot *b)
{
    return a->ts < b->ts || (a->ts == b->ts && a->seq < b->seq);
}

static struct tide__entry *pop(struct tide__reorder *ro)
{
    struct tide__entry *top = ro->heap[0].e;
    struct slot last = ro->heap[--ro->heap_n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < ro->heap_n && before(&ro->heap[l], &last))
            m = l;
        if (l + 1 < ro->heap_n && before(&ro->heap[l + 1], m == i ? &last : &ro->heap[l]))
            m = l + 1;
        if (m == i)
            break;
        ro->heap[i] = ro->heap[m];
        i = m;
    }
    if (ro->heap_n)
        ro->heap[i] = last;
    return top;
}

static int emit(struct tide__reorder *ro, struct tide__entry *e, struct tide_err *err)
{
    int rc;
    if (ro->st.records == 0 || e->rec.ts_ns < ro->st.first_ts)
        ro->st.first_ts = e->rec.ts_ns;
    if (ro->st.records == 0 || e->rec.ts_ns > ro->st.last_ts)
        ro->st.last_ts = e->rec.ts_ns;
    ro->st.records++;
    rc = ro->sink.fn(ro->sink.userp, &e->rec, err);
    if (!ro->emitted || e->rec.ts_ns > ro->last_emitted)
        ro->last_emitted = e->rec.ts_ns;
    ro->emitted = true;
    put(ro, e);
    return rc;
}

int tide__reorder_add(struct tide__reorder *ro, struct tide__entry *e, struct tide_err *err)
{
    size_t i;
    if (ro->emitted && e->rec.ts_ns < ro->last_emitted) {
        e->rec.flags |= TIDE_REC_LATE;
        ro->st.late++;
        return emit(ro, e, err);
    }
    if (ro->heap_n == ro->heap_cap) {
        size_t nc = ro->heap_cap ? ro->heap_cap * 2 : 1024;
        struct slot *nh = realloc(ro->heap, nc * sizeof(*nh));
        if (!nh) {
            put(ro, e);
            return tide_err_set(err, TIDE_E_NOMEM, "", "out of memory");
        }
        ro->heap = nh;
        ro->heap_cap = nc;
    }
    i = ro->heap_n++;
    {
        struct slot k = {e->rec.ts_ns, e->seq, e};
        while (i > 0 && before(&k, &ro->heap[(i - 1) / 2])) {
            ro->heap[i] = ro->heap[(i - 1) / 2];
            i = (i - 1) / 2;
        }
        ro->heap[i] = k;
    }
    return 0;
}

int tide__reorder_release(struct tide__reorder *ro, int64_t clock, struct tide_err *err)
{
    int rc = 0;
    while (!rc && ro->heap_n &&
           (ro->heap_n > ro->max_pending ||
            (clock != INT64_MAX && ro->heap[0].ts <= clock - ro->window)))
        rc = emit(ro, pop(ro), err);
    return rc;
}

int tide__reorder_release_before(struct tide__reorder *ro, int64_t t, struct tide_err *err)
{
    int rc = 0;
    while (!rc && ro->heap_n && (ro->heap_n > ro->max_pending || ro->heap[0].ts < t))
        rc = emit(ro, pop(ro), err);
    return rc;
}

int tide__reorder_drain(struct tide__reorder *ro, struct tide_err *err)
{
    int rc = 0;
    while (!rc && ro->heap_n)
        rc = emit(ro, pop(ro), err);
    return rc;
}

void tide__reorder_free(struct tide__reorder *ro)
{
    struct tide__entry *e;
    if (!ro)
        return;
    while (ro->heap_n)
        put(ro, pop(ro));
    while ((e = ro->free_list)) {
        ro->free_list = e->next_free;
        tide_buf_free(&e->store);
        free(e);
    }
    free(ro->heap);
    free(ro);
}
