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
 *
 * With tide__reorder_async(), the window and the sink run on a writer thread:
 * the capture thread hands over whole entries (no second copy) and its
 * release calls, in batches and in order; the writer thread gives entries
 * back to the pool once written. The window's state and statistics belong to
 * the writer thread until tide__reorder_sync() or _drain() returns. A sink's
 * failure is kept and returned by every later call.
 */
#include "capture_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 512 /* entries handed over at once */
#define BATCH_BYTES ((size_t)1 << 20) /* or fewer, once their records pass this */
#define RING 64    /* batches in flight: bounds what waits for the writer */

/* What the capture thread asks of the writer thread, in order. */
enum { OP_ADD, OP_RELEASE_AT, OP_RELEASE_BEFORE, OP_DRAIN };
struct item {
    int op;
    int64_t t;
    struct tide__entry *e;
};
struct batch {
    size_t n, bytes;
    struct item it[BATCH];
};

struct evec {
    struct tide__entry **v;
    size_t n, cap;
};

/* Async, the fields fall in three groups, each on cache lines of its own
 * (a line written by one core and read by the other costs a transfer every
 * time): the capture thread's, the writer thread's, and the hand-over's. */
struct tide__reorder {
    /* set once, then read by both */
    struct tide_sink sink;
    int64_t window;
    uint64_t max_pending;
    bool async;
    pthread_t thread;
    struct batch *ring;
    /* the capture thread's */
    _Alignas(64) struct tide__entry *free_list;
    uint64_t seq;
    uint64_t head_mine; /* head as the capture thread last set it */
    struct evec spare;  /* entries taken back from ret */
    /* the window: the writer thread's, async (the caller's otherwise) */
    _Alignas(64) struct slot {
        int64_t ts;
        uint64_t seq;
        struct tide__entry *e;
    } *heap; /* the key beside the pointer: comparing touches no record */
    size_t heap_n, heap_cap;
    /* records that came in start order wait in a queue instead (most do, in
     * pcap capture): no heap work for them; the next out is the smaller of
     * the queue's front and the heap's top */
    struct slot *run;
    size_t run_head, run_n, run_cap; /* a ring; run_cap a power of two */
    bool emitted;
    int64_t last_emitted;
    struct tide__reorder_stats st;
    struct evec done; /* written entries, until the batch ends */
    /* batches go over q (slot n is ring[n % RING]), which also keeps the
     * sink's first failure; written entries come back through ret, under
     * q.mu (the writer thread only reads an entry, so the capture thread's
     * next write to it finds no line the other core has changed) */
    _Alignas(64) struct tide_ring q;
    struct evec ret;
};

struct tide__reorder *tide__reorder_new(struct tide_sink sink, int64_t window, uint64_t max_pending)
{
    size_t size = (sizeof(struct tide__reorder) + 63) / 64 * 64;
    struct tide__reorder *ro = aligned_alloc(64, size);
    if (!ro)
        return NULL;
    memset(ro, 0, size);
    ro->sink = sink;
    ro->window = window > 0 ? window : 60 * TIDE_NS_PER_SEC;
    ro->max_pending = max_pending ? max_pending : 1000000;
    tide_ring_init(&ro->q, RING);
    return ro;
}

const struct tide__reorder_stats *tide__reorder_stats(const struct tide__reorder *ro) { return &ro->st; }

static void entry_free(struct tide__entry *e)
{
    tide_buf_free(&e->store);
    free(e);
}

static int evec_grow(struct evec *a, size_t more)
{
    if (a->n + more > a->cap) {
        size_t nc = a->cap ? a->cap : 1024;
        struct tide__entry **nv;
        while (nc < a->n + more)
            nc *= 2;
        if (!(nv = realloc(a->v, nc * sizeof(*nv))))
            return TIDE_E_NOMEM;
        a->v = nv;
        a->cap = nc;
    }
    return 0;
}

/* On the writer thread: a written entry goes back to the capture thread's
 * pool when the batch ends (freed if there is no memory to list it). */
static void give_back(struct tide__reorder *ro, struct tide__entry *e)
{
    if (evec_grow(&ro->done, 1))
        entry_free(e);
    else
        ro->done.v[ro->done.n++] = e;
}

static void put(struct tide__reorder *ro, struct tide__entry *e)
{
    e->next_free = ro->free_list;
    ro->free_list = e;
}

/* A written (or refused) entry goes back: to the pool, or async from the
 * writer thread, to the list that returns to the capture thread. */
static void let_go(struct tide__reorder *ro, struct tide__entry *e)
{
    if (ro->async)
        give_back(ro, e);
    else
        put(ro, e);
}

void tide__reorder_put(struct tide__reorder *ro, struct tide__entry *e)
{
    if (e)
        put(ro, e);
}

/* Writes "name:no" without printf (this runs once per record). */
static size_t source_text(char *out, size_t cap, const char *name, uint64_t no)
{
    size_t n = strlen(name);
    if (n > cap - 22)
        n = cap - 22;
    memcpy(out, name, n);
    out[n++] = ':';
    return n + tide_u64_dec(out + n, no);
}

struct tide__entry *tide__reorder_pack(struct tide__reorder *ro, const struct tide_record *r,
                                       const char *src_name, uint64_t src_no)
{
    struct tide__entry *e;
    struct tide_str *fields[8];
    char src[300];
    size_t need, off, i, srclen;
    char *p;
    if (ro->async && !ro->spare.n) {
        struct evec t;
        pthread_mutex_lock(&ro->q.mu);
        t = ro->ret;
        ro->ret = ro->spare;
        ro->spare = t;
        pthread_mutex_unlock(&ro->q.mu);
    }
    e = ro->free_list;
    if (ro->spare.n) {
        e = ro->spare.v[--ro->spare.n];
    } else if (e) {
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
    if (e->store.cap > ((size_t)64 << 10) && need < e->store.cap / 4) {
        /* a pooled entry that once held a large body gives the memory back,
         * so the pool does not grow to its count times the largest record */
        tide_buf_free(&e->store);
        tide_buf_init(&e->store, 0);
    }
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

static size_t pending(const struct tide__reorder *ro) { return ro->heap_n + ro->run_n; }

/* The key of the next record out (pending() > 0). */
static const struct slot *next_key(const struct tide__reorder *ro)
{
    const struct slot *r = ro->run_n ? &ro->run[ro->run_head] : NULL;
    if (!ro->heap_n || (r && before(r, &ro->heap[0])))
        return r;
    return &ro->heap[0];
}

/* Takes the next record out, from the queue or the heap. */
static struct tide__entry *take(struct tide__reorder *ro)
{
    if (ro->heap_n && next_key(ro) == &ro->heap[0])
        return pop(ro);
    {
        struct tide__entry *e = ro->run[ro->run_head].e;
        ro->run_head = (ro->run_head + 1) & (ro->run_cap - 1);
        ro->run_n--;
        return e;
    }
}

/* Appends k to the queue if it keeps it in order; false if it does not (or
 * there is no room). */
static bool run_push(struct tide__reorder *ro, struct slot k)
{
    if (ro->run_n && before(&k, &ro->run[(ro->run_head + ro->run_n - 1) & (ro->run_cap - 1)]))
        return false;
    if (ro->run_n == ro->run_cap) {
        size_t nc = ro->run_cap ? ro->run_cap * 2 : 1024, i;
        struct slot *nr = malloc(nc * sizeof(*nr));
        if (!nr)
            return false;
        for (i = 0; i < ro->run_n; i++)
            nr[i] = ro->run[(ro->run_head + i) & (ro->run_cap - 1)];
        free(ro->run);
        ro->run = nr;
        ro->run_cap = nc;
        ro->run_head = 0;
    }
    ro->run[(ro->run_head + ro->run_n) & (ro->run_cap - 1)] = k;
    ro->run_n++;
    return true;
}

static void note(struct tide__reorder *ro, const struct tide_record *r)
{
    if (ro->st.records == 0 || r->ts_ns < ro->st.first_ts)
        ro->st.first_ts = r->ts_ns;
    if (ro->st.records == 0 || r->ts_ns > ro->st.last_ts)
        ro->st.last_ts = r->ts_ns;
    ro->st.records++;
    if (!ro->emitted || r->ts_ns > ro->last_emitted)
        ro->last_emitted = r->ts_ns;
    ro->emitted = true;
}

/* Writes one record; a sink's failure is kept and returned from then on. */
static int emit(struct tide__reorder *ro, struct tide__entry *e, struct tide_err *err)
{
    int rc = tide_ring_failure(&ro->q, err);
    note(ro, &e->rec);
    if (!rc && (rc = ro->sink.fn(ro->sink.userp, &e->rec, err)) != 0)
        tide_ring_fail(&ro->q, rc, err);
    let_go(ro, e);
    return rc;
}

static int add_now(struct tide__reorder *ro, struct tide__entry *e, struct tide_err *err)
{
    size_t i;
    if (ro->emitted && e->rec.ts_ns < ro->last_emitted) {
        e->rec.flags |= TIDE_REC_LATE;
        ro->st.late++;
        return emit(ro, e, err);
    }
    if (run_push(ro, (struct slot){e->rec.ts_ns, e->seq, e}))
        return 0;
    if (ro->heap_n == ro->heap_cap) {
        size_t nc = ro->heap_cap ? ro->heap_cap * 2 : 1024;
        struct slot *nh = realloc(ro->heap, nc * sizeof(*nh));
        if (!nh) {
            let_go(ro, e);
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

/* Writes what starts before t (strictly, or at or before with inclusive),
 * and whatever is over the cap. */
static int release_now(struct tide__reorder *ro, int64_t t, bool inclusive, struct tide_err *err)
{
    int rc = 0;
    while (!rc && pending(ro)) {
        const struct slot *k = next_key(ro);
        if (!(pending(ro) > ro->max_pending || k->ts < t || (inclusive && k->ts == t)))
            break;
        rc = emit(ro, take(ro), err);
    }
    return rc;
}

/* ---- async: the window and the sink on a writer thread ---- */

/* Hands the filling batch to the writer thread; waits until the next slot is
 * free (batches in flight are [tail, head), the filling one is head). */
static int submit(struct tide__reorder *ro, struct tide_err *err)
{
    ro->head_mine = tide_ring_put(&ro->q);
    ro->ring[ro->head_mine % RING].n = ro->ring[ro->head_mine % RING].bytes = 0;
    return tide_ring_failure(&ro->q, err);
}

static int enqueue(struct tide__reorder *ro, int op, struct tide__entry *e, int64_t t, struct tide_err *err)
{
    struct batch *b = &ro->ring[ro->head_mine % RING];
    b->it[b->n++] = (struct item){op, t, e};
    if (e)
        b->bytes += e->store.len;
    /* full, or holding large records (bodies): what waits stays bounded by bytes too */
    return b->n == BATCH || b->bytes >= BATCH_BYTES ? submit(ro, err) : 0;
}

/* After a release: a partial batch of some size goes now if the writer
 * thread has nothing to do (when capture is the slower side, the writer
 * keeps busy; smaller batches would cost a wake-up every few records). A
 * few records may wait for the next batch; sync and drain send them. */
static int nudge(struct tide__reorder *ro, int rc, struct tide_err *err)
{
    if (rc)
        return rc;
    if (ro->ring[ro->head_mine % RING].n >= BATCH / 8 &&
        __atomic_load_n(&ro->q.tail, __ATOMIC_ACQUIRE) == ro->head_mine)
        return submit(ro, err);
    return tide_ring_failure(&ro->q, err);
}

/* The writer thread: runs each batch's operations in order and gives the
 * written entries back. */
static void *writer_main(void *arg)
{
    struct tide__reorder *ro = arg;
    uint64_t slot;
    while (tide_ring_get(&ro->q, &slot)) {
        struct batch *b = &ro->ring[slot % RING];
        size_t i;
        for (i = 0; i < b->n; i++) {
            struct item *it = &b->it[i];
            struct tide_err err;
            if (it->op == OP_ADD)
                add_now(ro, it->e, &err);
            else if (it->op == OP_DRAIN)
                release_now(ro, INT64_MAX, true, &err);
            else if (!tide_ring_failure(&ro->q, NULL))
                release_now(ro, it->t, it->op == OP_RELEASE_AT, &err);
        }
        pthread_mutex_lock(&ro->q.mu);
        if (ro->done.n && evec_grow(&ro->ret, ro->done.n) == 0) {
            memcpy(ro->ret.v + ro->ret.n, ro->done.v, ro->done.n * sizeof(*ro->done.v));
            ro->ret.n += ro->done.n;
        } else {
            for (i = 0; i < ro->done.n; i++)
                entry_free(ro->done.v[i]);
        }
        pthread_mutex_unlock(&ro->q.mu);
        ro->done.n = 0;
        tide_ring_done(&ro->q);
    }
    return NULL;
}

int tide__reorder_async(struct tide__reorder *ro, struct tide_err *err)
{
    ro->ring = calloc(RING, sizeof(*ro->ring));
    if (!ro->ring)
        return tide_err_set(err, TIDE_E_NOMEM, "", "out of memory");
    ro->async = true;
    if (pthread_create(&ro->thread, NULL, writer_main, ro)) {
        ro->async = false;
        free(ro->ring);
        ro->ring = NULL;
        return tide_err_set(err, TIDE_E_NOMEM, "", "cannot start the writer thread");
    }
    return 0;
}

int tide__reorder_sync(struct tide__reorder *ro, struct tide_err *err)
{
    if (ro->async) {
        if (ro->ring[ro->head_mine % RING].n)
            submit(ro, NULL);
        tide_ring_wait_empty(&ro->q);
    }
    return tide_ring_failure(&ro->q, err);
}
/* ---- the calls the capture sources make ---- */

int tide__reorder_add(struct tide__reorder *ro, struct tide__entry *e, struct tide_err *err)
{
    if (ro->async)
        return enqueue(ro, OP_ADD, e, 0, err);
    return add_now(ro, e, err);
}

int tide__reorder_release(struct tide__reorder *ro, int64_t clock, struct tide_err *err)
{
    /* INT64_MAX: only what is over the cap */
    bool at = clock != INT64_MAX && clock >= INT64_MIN + ro->window;
    int64_t t = at ? clock - ro->window : INT64_MIN;
    if (ro->async)
        return nudge(ro, enqueue(ro, at ? OP_RELEASE_AT : OP_RELEASE_BEFORE, NULL, t, err), err);
    return release_now(ro, t, at, err);
}

int tide__reorder_release_before(struct tide__reorder *ro, int64_t t, struct tide_err *err)
{
    if (ro->async)
        return nudge(ro, enqueue(ro, OP_RELEASE_BEFORE, NULL, t, err), err);
    return release_now(ro, t, false, err);
}

int tide__reorder_drain(struct tide__reorder *ro, struct tide_err *err)
{
    int rc;
    if (!ro->async)
        return release_now(ro, INT64_MAX, true, err);
    rc = enqueue(ro, OP_DRAIN, NULL, 0, err);
    return rc ? rc : tide__reorder_sync(ro, err);
}

void tide__reorder_free(struct tide__reorder *ro)
{
    struct tide__entry *e;
    if (!ro)
        return;
    if (ro->async) {
        /* what is still queued is not written: a run that ends here failed */
        tide_ring_fail(&ro->q, TIDE_E_IO, NULL);
        if (ro->ring[ro->head_mine % RING].n)
            submit(ro, NULL);
        tide_ring_close(&ro->q);
        pthread_join(ro->thread, NULL);
        free(ro->ring);
        {
            struct evec *vs[3] = {&ro->done, &ro->ret, &ro->spare};
            for (int k = 0; k < 3; k++) {
                for (size_t i = 0; i < vs[k]->n; i++)
                    entry_free(vs[k]->v[i]);
                free(vs[k]->v);
            }
        }
    }
    while (pending(ro))
        put(ro, take(ro));
    while ((e = ro->free_list)) {
        ro->free_list = e->next_free;
        entry_free(e);
    }
    tide_ring_destroy(&ro->q);
    free(ro->heap);
    free(ro->run);
    free(ro);
}
