/*
 * ring.c - a bounded hand-over between a producer and a consumer thread, for
 * capture's writer thread, the pipe and inputs' read-ahead: one mutex, one
 * condition for "a slot was handed over", one for "a slot came back".
 */
#include "common/common.h"

#include <string.h>

void tide_ring_init(struct tide_ring *r, uint64_t cap)
{
    memset(r, 0, sizeof(*r));
    r->cap = cap;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->more, NULL);
    pthread_cond_init(&r->room, NULL);
}

void tide_ring_destroy(struct tide_ring *r)
{
    pthread_cond_destroy(&r->room);
    pthread_cond_destroy(&r->more);
    pthread_mutex_destroy(&r->mu);
}

/* Under mu: the filling slot is free once fewer than cap are handed over. */
static void wait_room(struct tide_ring *r)
{
    while (r->head - r->tail >= r->cap && !r->closing)
        pthread_cond_wait(&r->room, &r->mu);
}

bool tide_ring_wait_room(struct tide_ring *r)
{
    bool open;
    pthread_mutex_lock(&r->mu);
    wait_room(r);
    open = !r->closing;
    pthread_mutex_unlock(&r->mu);
    return open;
}

void tide_ring_publish(struct tide_ring *r)
{
    pthread_mutex_lock(&r->mu);
    r->head++;
    pthread_cond_signal(&r->more);
    pthread_mutex_unlock(&r->mu);
}

uint64_t tide_ring_put(struct tide_ring *r)
{
    uint64_t h;
    pthread_mutex_lock(&r->mu);
    h = ++r->head;
    pthread_cond_signal(&r->more);
    wait_room(r);
    pthread_mutex_unlock(&r->mu);
    return h;
}

bool tide_ring_get(struct tide_ring *r, uint64_t *slot)
{
    bool got;
    pthread_mutex_lock(&r->mu);
    while (r->tail == r->head && !r->closing)
        pthread_cond_wait(&r->more, &r->mu);
    got = r->tail != r->head;
    *slot = r->tail;
    pthread_mutex_unlock(&r->mu);
    return got;
}

void tide_ring_done(struct tide_ring *r)
{
    pthread_mutex_lock(&r->mu);
    __atomic_store_n(&r->tail, r->tail + 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&r->room);
    pthread_mutex_unlock(&r->mu);
}

void tide_ring_wait_empty(struct tide_ring *r)
{
    pthread_mutex_lock(&r->mu);
    while (r->tail != r->head && !r->closing)
        pthread_cond_wait(&r->room, &r->mu);
    pthread_mutex_unlock(&r->mu);
}

void tide_ring_close(struct tide_ring *r)
{
    pthread_mutex_lock(&r->mu);
    r->closing = true;
    pthread_cond_broadcast(&r->more);
    pthread_cond_broadcast(&r->room);
    pthread_mutex_unlock(&r->mu);
}

void tide_ring_fail(struct tide_ring *r, int rc, const struct tide_err *err)
{
    pthread_mutex_lock(&r->mu);
    if (!r->failed) {
        if (err)
            r->fail_err = *err;
        else
            memset(&r->fail_err, 0, sizeof(r->fail_err));
        __atomic_store_n(&r->failed, rc, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&r->mu);
}

int tide_ring_failure(struct tide_ring *r, struct tide_err *err)
{
    int rc = __atomic_load_n(&r->failed, __ATOMIC_ACQUIRE);
    if (rc && err)
        *err = r->fail_err;
    return rc;
}
