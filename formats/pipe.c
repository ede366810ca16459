/*
 * pipe.c - a sink that passes records on to another sink on a thread of its
 * own, so two stages of a capture (say, anonymizing and writing the trace)
 * run side by side on two cores.
 *
 * Records are copied into batches (an arena each, reused: steady state
 * allocates nothing) and handed over through a small ring; the producer waits
 * when the ring is full, so memory stays bounded. The next sink's first
 * failure is kept and returned by every later call.
 */
#include "formats/trace.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define PIPE_BATCH 1024             /* records handed over at once */
#define PIPE_BATCH_BYTES (256u << 10) /* or fewer, once their bytes pass this */
#define PIPE_RING 64 /* 65,536 small records, or 16 MiB, can wait: about a block's worth, so a
                       * writer compressing a block does not stop the producer */

struct pipe_batch {
    size_t n, bytes;
    struct tide_record r[PIPE_BATCH];
    struct tide_arena arena;
};

struct tide_pipe {
    struct tide_sink next;
    pthread_t thread;
    struct tide_ring q; /* slot n is ring[n % PIPE_RING]; the next sink's failure is kept here */
    struct pipe_batch ring[PIPE_RING];
    bool started;
};

static void *run(void *arg)
{
    struct tide_pipe *p = arg;
    uint64_t slot;
    while (tide_ring_get(&p->q, &slot)) {
        struct pipe_batch *b = &p->ring[slot % PIPE_RING];
        size_t i;
        for (i = 0; i < b->n && !tide_ring_failure(&p->q, NULL); i++) {
            struct tide_err err;
            int rc = p->next.fn(p->next.userp, &b->r[i], &err);
            if (rc)
                tide_ring_fail(&p->q, rc, &err);
        }
        tide_ring_done(&p->q);
    }
    return NULL;
}

int tide_pipe_new(struct tide_pipe **out, struct tide_sink next, struct tide_err *err)
{
    struct tide_pipe *p = calloc(1, sizeof(*p));
    int i;
    *out = NULL;
    if (!p)
        return tide_err_set(err, TIDE_E_NOMEM, "", "out of memory");
    p->next = next;
    for (i = 0; i < PIPE_RING; i++)
        tide_arena_init(&p->ring[i].arena, 0);
    tide_ring_init(&p->q, PIPE_RING);
    if (pthread_create(&p->thread, NULL, run, p)) {
        tide_pipe_free(p);
        return tide_err_set(err, TIDE_E_NOMEM, "", "cannot start a thread");
    }
    p->started = true;
    *out = p;
    return 0;
}

/* Hands the filling batch over and waits until the next slot is free. */
static void submit(struct tide_pipe *p)
{
    struct pipe_batch *b = &p->ring[tide_ring_put(&p->q) % PIPE_RING];
    b->n = b->bytes = 0;
    tide_arena_reset(&b->arena);
}

int tide_pipe_sink(void *userp, const struct tide_record *r, struct tide_err *err)
{
    struct tide_pipe *p = userp;
    struct pipe_batch *b = &p->ring[p->q.head % PIPE_RING];
    int rc = tide_ring_failure(&p->q, err);
    uint32_t i;
    if (rc)
        return rc;
    if (tide_record_copy(&b->r[b->n], r, &b->arena))
        return tide_err_set(err, TIDE_E_NOMEM, "", "out of memory");
    b->bytes += r->body.len + r->path.len + r->query.len + r->source.len;
    for (i = 0; i < r->n_headers; i++)
        b->bytes += r->headers[i].name.len + r->headers[i].value.len;
    if (++b->n == PIPE_BATCH || b->bytes >= PIPE_BATCH_BYTES)
        submit(p);
    return 0;
}

int tide_pipe_sync(struct tide_pipe *p, struct tide_err *err)
{
    if (p->ring[p->q.head % PIPE_RING].n)
        submit(p);
    tide_ring_wait_empty(&p->q);
    return tide_ring_failure(&p->q, err);
}

void tide_pipe_free(struct tide_pipe *p)
{
    int i;
    if (!p)
        return;
    if (p->started) {
        /* what was not synced is not passed on: a run that ends here failed */
        tide_ring_fail(&p->q, TIDE_E_IO, NULL);
        tide_ring_close(&p->q);
        pthread_join(p->thread, NULL);
    }
    tide_ring_destroy(&p->q);
    for (i = 0; i < PIPE_RING; i++)
        tide_arena_free(&p->ring[i].arena);
    free(p);
}
