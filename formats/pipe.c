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
    pthread_mutex_t mu;
    pthread_cond_t more, room;
    struct pipe_batch ring[PIPE_RING];
    uint64_t head, tail; /* [tail, head) handed over; head is filling */
    bool closing;
    int failed;
    struct tide_err fail_err;
};

static int failure(struct tide_pipe *p, struct tide_err *err)
{
    int rc = __atomic_load_n(&p->failed, __ATOMIC_ACQUIRE);
    if (rc && err)
        *err = p->fail_err;
    return rc;
}

static void *run(void *arg)
{
    struct tide_pipe *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        struct pipe_batch *b;
        size_t i;
        while (p->tail == p->head && !p->closing)
            pthread_cond_wait(&p->more, &p->mu);
        if (p->tail == p->head)
            break;
        b = &p->ring[p->tail % PIPE_RING];
        pthread_mutex_unlock(&p->mu);
        for (i = 0; i < b->n && !__atomic_load_n(&p->failed, __ATOMIC_RELAXED); i++) {
            struct tide_err err;
            int rc = p->next.fn(p->next.userp, &b->r[i], &err);
            if (rc) {
                p->fail_err = err;
                __atomic_store_n(&p->failed, rc, __ATOMIC_RELEASE);
            }
        }
        pthread_mutex_lock(&p->mu);
        p->tail++;
        pthread_cond_broadcast(&p->room);
    }
    pthread_mutex_unlock(&p->mu);
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
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->more, NULL);
    pthread_cond_init(&p->room, NULL);
    if (pthread_create(&p->thread, NULL, run, p)) {
        p->closing = true;
        tide_pipe_free(p);
        return tide_err_set(err, TIDE_E_NOMEM, "", "cannot start a thread");
    }
    *out = p;
    return 0;
}

/* Hands the filling batch over and waits until the next slot is free. */
static void submit(struct tide_pipe *p)
{
    struct pipe_batch *b;
    pthread_mutex_lock(&p->mu);
    p->head++;
    pthread_cond_signal(&p->more);
    while (p->head - p->tail >= PIPE_RING)
        pthread_cond_wait(&p->room, &p->mu);
    pthread_mutex_unlock(&p->mu);
    b = &p->ring[p->head % PIPE_RING];
    b->n = b->bytes = 0;
    tide_arena_reset(&b->arena);
}

int tide_pipe_sink(void *userp, const struct tide_record *r, struct tide_err *err)
{
    struct tide_pipe *p = userp;
    struct pipe_batch *b = &p->ring[p->head % PIPE_RING];
    int rc = failure(p, err);
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
    if (p->ring[p->head % PIPE_RING].n)
        submit(p);
    pthread_mutex_lock(&p->mu);
    while (p->tail != p->head)
        pthread_cond_wait(&p->room, &p->mu);
    pthread_mutex_unlock(&p->mu);
    return failure(p, err);
}

void tide_pipe_free(struct tide_pipe *p)
{
    int i;
    if (!p)
        return;
    if (!p->closing) {
        /* what was not synced is not passed on: a run that ends here failed */
        __atomic_store_n(&p->failed, TIDE_E_IO, __ATOMIC_RELEASE);
        pthread_mutex_lock(&p->mu);
        p->closing = true;
        pthread_cond_signal(&p->more);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->thread, NULL);
    }
    pthread_cond_destroy(&p->room);
    pthread_cond_destroy(&p->more);
    pthread_mutex_destroy(&p->mu);
    for (i = 0; i < PIPE_RING; i++)
        tide_arena_free(&p->ring[i].arena);
    free(p);
}
