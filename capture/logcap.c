/*
 * logcap.c - reads access logs into records ordered by request start.
 *
 * Access logs are written when requests end, so their lines are ordered by
 * end time; tide wants start time (end minus request time). Records pass
 * through a min-heap that holds a bounded window (--reorder-window, default
 * 60 s) and leave it in start order; a record whose start is already behind
 * what was emitted is still kept, flagged late and counted. Several inputs
 * (rotated files, several servers) are read together, always advancing the
 * one that is furthest behind, so the merge stays a single pass. Records are
 * packed into pooled buffers that are reused, so the steady state allocates
 * nothing per line.
 */
#include "capture_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct entry {
    uint64_t seq;
    struct tide_record rec;
    struct tide_buf store;
    struct entry *next_free;
};

struct src {
    const char *path;
    struct tide_logfmt *fmt;
    struct tide_input *in;
    struct tide_lines lines;
    struct entry *pending;
    int64_t pending_end;
    bool done;
};

struct cap {
    struct src *srcs;
    int n;
    const struct tide_logcap_opts *o;
    struct tide_logcap_stats *st;
    struct tide_sink sink;
    struct entry **heap;
    size_t heap_n, heap_cap;
    struct entry *free_list;
    uint64_t seq;
    struct tide_arena scratch;
    struct tide_record tmp;
    bool emitted;
    int64_t last_emitted;
};

static void count_reason(struct tide_logcap_stats *st, const char *reason, bool bad)
{
    int i;
    for (i = 0; i < st->n_skipped; i++)
        if (strcmp(st->skipped[i].reason, reason) == 0) {
            st->skipped[i].count++;
            return;
        }
    if (st->n_skipped < TIDE_LOGCAP_MAX_REASONS) {
        i = st->n_skipped++;
        snprintf(st->skipped[i].reason, sizeof(st->skipped[i].reason), "%s", reason);
        st->skipped[i].count = 1;
        st->skipped[i].bad = bad;
    } else {
        st->skipped[TIDE_LOGCAP_MAX_REASONS - 1].count++;
    }
}

static struct entry *entry_get(struct cap *c)
{
    struct entry *e = c->free_list;
    if (e) {
        c->free_list = e->next_free;
        return e;
    }
    e = calloc(1, sizeof(*e));
    if (e)
        tide_buf_init(&e->store, 0);
    return e;
}

static void entry_put(struct cap *c, struct entry *e)
{
    e->next_free = c->free_list;
    c->free_list = e;
}

/* Copies r (views into a line) into e's own buffer. */
static int pack(struct entry *e, const struct tide_record *r, const char *path, uint64_t line)
{
    struct tide_str *fields[] = {&e->rec.method, &e->rec.scheme, &e->rec.host, &e->rec.path,
                                 &e->rec.query, &e->rec.version, &e->rec.client, &e->rec.session};
    char src[300];
    size_t need, off, i, srclen;
    char *p;
    srclen = (size_t)snprintf(src, sizeof(src), "%s:%llu", path, (unsigned long long)line);
    if (srclen >= sizeof(src))
        srclen = sizeof(src) - 1;
    e->rec = *r;
    need = r->n_headers * sizeof(struct tide_header) + srclen + r->body.len + 8;
    for (i = 0; i < 8; i++)
        need += fields[i]->len;
    for (i = 0; i < r->n_headers; i++)
        need += r->headers[i].name.len + r->headers[i].value.len;
    tide_buf_reset(&e->store);
    if (tide_buf_reserve(&e->store, need))
        return TIDE_E_NOMEM;
    p = e->store.p;
    off = 0;
    e->rec.headers = (struct tide_header *)(void *)p;
    off += r->n_headers * sizeof(struct tide_header);
#define COPY(dst, s)                                                                     \
    do {                                                                                 \
        struct tide_str s_ = (s);                                                        \
        if (s_.len)                                                                      \
            memcpy(p + off, s_.p, s_.len);                                               \
        (dst) = tide_str_make(p + off, s_.len);                                          \
        off += s_.len;                                                                   \
    } while (0)
    for (i = 0; i < 8; i++)
        COPY(*fields[i], *fields[i]);
    for (i = 0; i < r->n_headers; i++) {
        COPY(e->rec.headers[i].name, r->headers[i].name);
        COPY(e->rec.headers[i].value, r->headers[i].value);
    }
    COPY(e->rec.body, r->body);
    COPY(e->rec.source, tide_str_make(src, srclen));
#undef COPY
    e->store.len = off;
    return 0;
}

/* Reads src up to its next record (counting everything else). */
static int advance(struct cap *c, struct src *s, struct tide_err *err)
{
    struct tide_str line;
    const char *reason;
    for (;;) {
        int rc;
        tide_err_clear(err);
        rc = tide_lines_next(&s->lines, &line, err);
        if (rc == 0) {
            s->done = true;
            return 0;
        }
        if (rc == TIDE_E_LIMIT) {
            c->st->lines++;
            c->st->bad++;
            count_reason(c->st, "line too long", true);
            if (c->o->on_bad)
                c->o->on_bad(c->o->on_bad_userp, s->path, s->lines.lineno, "line too long");
            if (c->o->strict)
                return tide_err_set(err, TIDE_E_FORMAT, s->path, "line %llu: line too long",
                                    (unsigned long long)s->lines.lineno);
            continue;
        }
        if (rc < 0) {
            /* the input broke (truncated .gz, I/O): keep what we have, say so */
            char msg[600];
            snprintf(msg, sizeof(msg), "input ended in an error: %s", err->msg);
            c->st->inputs_failed++;
            if (c->o->on_bad)
                c->o->on_bad(c->o->on_bad_userp, s->path, s->lines.lineno + 1, msg);
            s->done = true;
            if (c->o->strict)
                return rc;
            return 0;
        }
        c->st->lines++;
        tide_arena_reset(&c->scratch);
        reason = NULL;
        rc = tide_logfmt_parse(s->fmt, line.p, line.len, &c->tmp, &c->scratch, &reason);
        if (rc == 1) {
            struct entry *e = entry_get(c);
            if (!e || pack(e, &c->tmp, s->path, s->lines.lineno))
                return tide_err_set(err, TIDE_E_NOMEM, s->path, "out of memory");
            e->seq = c->seq++;
            s->pending = e;
            s->pending_end = e->rec.ts_ns + (e->rec.duration_ns > 0 ? e->rec.duration_ns : 0);
            return 0;
        }
        if (rc == 0) {
            if (reason && strncmp(reason, "no request", 10) == 0)
                c->st->no_request++;
            count_reason(c->st, reason ? reason : "no request", false);
            continue;
        }
        c->st->bad++;
        count_reason(c->st, reason ? reason : "unparsable", true);
        if (c->o->on_bad)
            c->o->on_bad(c->o->on_bad_userp, s->path, s->lines.lineno, reason ? reason : "unparsable");
        if (c->o->strict)
            return tide_err_set(err, TIDE_E_FORMAT, s->path, "line %llu: %s",
                                (unsigned long long)s->lines.lineno, reason ? reason : "unparsable");
    }
}

static bool before(const struct entry *a, const struct entry *b)
{
    return a->rec.ts_ns < b->rec.ts_ns || (a->rec.ts_ns == b->rec.ts_ns && a->seq < b->seq);
}

static int heap_push(struct cap *c, struct entry *e)
{
    size_t i;
    if (c->heap_n == c->heap_cap) {
        size_t nc = c->heap_cap ? c->heap_cap * 2 : 1024;
        struct entry **nh = realloc(c->heap, nc * sizeof(*nh));
        if (!nh)
            return TIDE_E_NOMEM;
        c->heap = nh;
        c->heap_cap = nc;
    }
    i = c->heap_n++;
    while (i > 0 && before(e, c->heap[(i - 1) / 2])) {
        c->heap[i] = c->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    c->heap[i] = e;
    return 0;
}

static struct entry *heap_pop(struct cap *c)
{
    struct entry *top = c->heap[0], *last = c->heap[--c->heap_n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < c->heap_n && before(c->heap[l], last))
            m = l;
        if (l + 1 < c->heap_n && before(c->heap[l + 1], m == i ? last : c->heap[l]))
            m = l + 1;
        if (m == i)
            break;
        c->heap[i] = c->heap[m];
        i = m;
    }
    if (c->heap_n)
        c->heap[i] = last;
    return top;
}

static int emit(struct cap *c, struct entry *e, struct tide_err *err)
{
    int rc;
    if (c->st->records == 0 || e->rec.ts_ns < c->st->first_ts)
        c->st->first_ts = e->rec.ts_ns;
    if (c->st->records == 0 || e->rec.ts_ns > c->st->last_ts)
        c->st->last_ts = e->rec.ts_ns;
    c->st->records++;
    rc = c->sink.fn(c->sink.userp, &e->rec, err);
    if (!c->emitted || e->rec.ts_ns > c->last_emitted)
        c->last_emitted = e->rec.ts_ns;
    c->emitted = true;
    entry_put(c, e);
    return rc;
}

/* While a followed log is idle: write what the window has let go, then the caller's hook. */
static void on_follow_idle(void *userp)
{
    struct cap *c = userp;
    struct timespec t;
    struct tide_err err;
    int64_t now, window = c->o->reorder_window_ns > 0 ? c->o->reorder_window_ns : 60 * TIDE_NS_PER_SEC;
    clock_gettime(CLOCK_REALTIME, &t);
    now = (int64_t)t.tv_sec * TIDE_NS_PER_SEC + t.tv_nsec;
    while (c->heap_n && c->heap[0]->rec.ts_ns <= now - window)
        if (emit(c, heap_pop(c), &err))
            break;
    if (c->o->on_idle)
        c->o->on_idle(c->o->on_idle_userp);
}

int tide_logcap_run(const char *const *paths, struct tide_logfmt *const *formats, int n,
                    const struct tide_logcap_opts *opts, struct tide_sink sink,
                    struct tide_logcap_stats *stats, struct tide_err *err)
{
    struct cap c;
    int i, rc = 0;
    int64_t window;
    uint64_t max_pending;
    struct entry *e;

    memset(&c, 0, sizeof(c));
    memset(stats, 0, sizeof(*stats));
    c.o = opts;
    c.st = stats;
    c.sink = sink;
    c.n = n;
    window = opts->reorder_window_ns > 0 ? opts->reorder_window_ns : 60 * TIDE_NS_PER_SEC;
    max_pending = opts->max_pending ? opts->max_pending : 1000000;
    tide_arena_init(&c.scratch, 0);
    c.srcs = calloc((size_t)n, sizeof(*c.srcs));
    if (!c.srcs)
        return tide_err_set(err, TIDE_E_NOMEM, "", "out of memory");
    for (i = 0; i < n; i++) {
        c.srcs[i].path = paths[i];
        c.srcs[i].fmt = formats[i];
        rc = tide_input_open(&c.srcs[i].in, paths[i], err);
        if (rc)
            goto out_close;
        tide_lines_init(&c.srcs[i].lines, tide_input_read, c.srcs[i].in, (size_t)16 << 20);
        if (opts->follow_stop)
            tide_input_follow(c.srcs[i].in, opts->follow_stop, on_follow_idle, &c);
    }
    for (i = 0; i < n && !rc; i++)
        rc = advance(&c, &c.srcs[i], err);
    while (!rc) {
        struct src *best = NULL;
        int64_t watermark = INT64_MAX;
        for (i = 0; i < n; i++)
            if (c.srcs[i].pending && (!best || c.srcs[i].pending_end < best->pending_end))
                best = &c.srcs[i];
        if (!best)
            break;
        e = best->pending;
        best->pending = NULL;
        if (c.emitted && e->rec.ts_ns < c.last_emitted) {
            e->rec.flags |= TIDE_REC_LATE;
            stats->late++;
            rc = emit(&c, e, err);
        } else {
            rc = heap_push(&c, e);
        }
        if (!rc)
            rc = advance(&c, best, err);
        for (i = 0; i < n; i++)
            if (c.srcs[i].pending && c.srcs[i].pending_end < watermark)
                watermark = c.srcs[i].pending_end;
        while (!rc && c.heap_n &&
               (c.heap_n > max_pending || (watermark != INT64_MAX && c.heap[0]->rec.ts_ns <= watermark - window)))
            rc = emit(&c, heap_pop(&c), err);
    }
    while (!rc && c.heap_n)
        rc = emit(&c, heap_pop(&c), err);

out_close:
    for (i = 0; i < n; i++) {
        stats->bytes_in += c.srcs[i].in ? tide_input_bytes(c.srcs[i].in) : 0;
        if (c.srcs[i].pending)
            entry_put(&c, c.srcs[i].pending);
        tide_lines_free(&c.srcs[i].lines);
        tide_input_close(c.srcs[i].in);
    }
    while (c.heap_n)
        entry_put(&c, heap_pop(&c));
    while ((e = c.free_list)) {
        c.free_list = e->next_free;
        tide_buf_free(&e->store);
        free(e);
    }
    free(c.heap);
    free(c.srcs);
    tide_arena_free(&c.scratch);
    return rc;
}
