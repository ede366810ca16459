/*
 * h1.c - the native HTTP/1.1 client replay uses for plain http:// targets:
 * keep-alive connections to one address on one libuv loop, one request at a
 * time on each (no pipelining), responses framed by Content-Length, chunked
 * encoding or the connection's close, and counted, not kept.
 *
 * Why not libcurl here: at replay's rates libcurl and the libc calls it makes
 * (URL parsing, header checks, printf, malloc, poll-set changes on every
 * request) cost several times what sending the bytes costs
 * (docs/performance.md). A request here is one write of bytes the engine has
 * already laid out; the connection's read interest stays on. libcurl still
 * serves HTTPS, HTTP/2 and `--client curl`.
 *
 * Requests that find no idle connection open a new one (an open loop does not
 * wait for connections) unless `max_conns` is set, then they queue in order.
 * A request that fails on a reused connection before any byte of its answer
 * is sent once more on a new one, as libcurl does: the server may have closed
 * the idle connection just as the request went out.
 */
#define _GNU_SOURCE
#include "replay_int.h"

#include <stdlib.h>
#include <string.h>

#define HOLD_MAX (TIDE_HTTP_MAX_HEAD + 4096) /* a head, or a chunk-size line, waiting for more */
#define IDLE_MAX 256                         /* idle connections kept */

/* ---- response framing, apart from the sockets (the fuzz target drives this) ---------------- */

void tide__h1_rx_init(struct tide__h1_rx *rx)
{
    memset(rx, 0, sizeof(*rx));
    tide_buf_init(&rx->hold, HOLD_MAX);
}

void tide__h1_rx_free(struct tide__h1_rx *rx) { tide_buf_free(&rx->hold); }

void tide__h1_rx_reset(struct tide__h1_rx *rx)
{
    rx->state = TIDE__RX_HEAD;
    rx->status = 0;
    rx->close = false;
    rx->left = rx->bytes = 0;
    rx->extra = 0;
    memset(&rx->ch, 0, sizeof(rx->ch));
    tide_buf_reset(&rx->hold);
}

/* Keeps q[i..len) for the next feed; q may be the hold buffer itself. */
static int hold_rest(struct tide__h1_rx *rx, const char *q, size_t i, size_t len)
{
    if (q == rx->hold.p) {
        memmove(rx->hold.p, rx->hold.p + i, len - i);
        rx->hold.len = len - i;
        return 0;
    }
    tide_buf_reset(&rx->hold);
    return tide_buf_append(&rx->hold, q + i, len - i) ? -1 : 0;
}

int tide__h1_rx_feed(struct tide__h1_rx *rx, const char *p, size_t n, bool no_body)
{
    const char *q = p;
    size_t len = n, i = 0;
    if (rx->state == TIDE__RX_DONE) {
        rx->extra += n;
        return 0;
    }
    if (rx->hold.len) {
        if (tide_buf_append(&rx->hold, p, n))
            return -1; /* more than a head's worth without an end */
        q = rx->hold.p;
        len = rx->hold.len;
    }
    while (i < len && rx->state != TIDE__RX_DONE) {
        switch (rx->state) {
        case TIDE__RX_HEAD: {
            struct tide_http_head h;
            long r = tide_http_response_head(q + i, len - i, &h);
            if (r < 0)
                return -1;
            if (r == 0)
                return hold_rest(rx, q, i, len);
            i += (size_t)r;
            if (h.status < 100 || h.status > 599)
                return -1; /* RFC 9110's range */
            if (h.status < 200 && h.status != 101)
                break; /* an interim answer (100 Continue, 103 Early Hints): the final one follows */
            rx->status = h.status;
            /* HTTP/1.0 answers close unless told otherwise; tide asks 1.1 */
            rx->close = h.conn_close || (h.version.len == 8 && h.version.p[7] == '0');
            if (no_body || h.status == 204 || h.status == 304 || h.status == 101) {
                rx->state = TIDE__RX_DONE;
                rx->close |= h.status == 101;
            } else if (h.chunked) {
                rx->state = TIDE__RX_CHUNKED;
            } else if (h.content_length >= 0) {
                rx->left = (uint64_t)h.content_length;
                rx->state = rx->left ? TIDE__RX_LENGTH : TIDE__RX_DONE;
            } else {
                rx->state = TIDE__RX_CLOSE;
                rx->close = true;
            }
            break;
        }
        case TIDE__RX_LENGTH: {
            size_t take = len - i < rx->left ? len - i : (size_t)rx->left;
            rx->bytes += take;
            rx->left -= take;
            i += take;
            if (!rx->left)
                rx->state = TIDE__RX_DONE;
            break;
        }
        case TIDE__RX_CHUNKED: {
            bool trunc = false;
            long r = tide_http_chunked(&rx->ch, q + i, len - i, &rx->bytes, NULL, 0, &trunc);
            if (r < 0)
                return -1;
            i += (size_t)r;
            if (rx->ch.state == TIDE_CH_DONE)
                rx->state = TIDE__RX_DONE;
            else if (i < len)
                return hold_rest(rx, q, i, len); /* a partial size line or chunk end */
            break;
        }
        case TIDE__RX_CLOSE:
            rx->bytes += len - i;
            i = len;
            break;
        }
    }
    rx->extra += len - i; /* bytes past the answer: nothing was asked for them */
    if (q == rx->hold.p)
        tide_buf_reset(&rx->hold);
    return 0;
}

/* ---- connections ---------------------------------------------------------------------------- */

enum { C_CONNECTING, C_OPEN };

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t wr;
    struct tide__h1 *h;
    struct tide__h1_req *req; /* in flight, or NULL: idle */
    struct tide__h1_rx rx;
    int state, open_handles;
    bool reused;  /* has answered before: a failure with nothing read may be a stale keep-alive */
    bool got;     /* some of this request's answer arrived */
    bool writing; /* a uv_write is pending */
    bool closing, in_idle;
    struct conn *next_idle;
    struct conn *prev, *next; /* all of them, to close at the end */
};

struct tide__h1 {
    uv_loop_t *loop;
    struct sockaddr_storage addr;
    int max_conns, n_conns, n_idle;
    int64_t timeout_ms;
    tide__h1_done_fn done;
    tide__h1_hook_fn enter, leave;
    void *arg;
    struct conn *idle;                    /* most recently used first */
    struct conn *all;
    struct tide__h1_req *pend, *pend_tail; /* waiting for a connection (max_conns reached) */
    bool closing, kicking;
    char rbuf[64 * 1024]; /* reads land here and are framed at once: one loop, one buffer */
};

static void conn_take(struct tide__h1 *h, struct conn *c, struct tide__h1_req *r, int64_t ms);
static struct conn *conn_new(struct tide__h1 *h, int *errk);
static void report(struct tide__h1 *h, struct tide__h1_req *r, int status, int errk, uint64_t bytes);

/* The first waiting request and what is left of its timeout (<= 0: none), or NULL. */
static struct tide__h1_req *pend_pop(struct tide__h1 *h, int64_t *ms)
{
    struct tide__h1_req *r = h->pend;
    if (!r)
        return NULL;
    h->pend = r->next;
    if (!h->pend)
        h->pend_tail = NULL;
    /* the wait for a connection counts against the timeout */
    *ms = h->timeout_ms - (int64_t)(uv_now(h->loop) - r->queued_ms);
    return r;
}

/* A connection has gone: waiting requests get new ones, up to the limit. */
static void pend_kick(struct tide__h1 *h)
{
    struct tide__h1_req *r;
    int64_t ms;
    if (h->kicking || h->closing)
        return;
    h->kicking = true;
    while (h->pend && h->n_conns < h->max_conns && (r = pend_pop(h, &ms))) {
        int errk = ERR_TIMEOUT;
        struct conn *c = ms > 0 ? conn_new(h, &errk) : NULL;
        if (c)
            conn_take(h, c, r, ms);
        else
            report(h, r, 0, errk, 0);
    }
    h->kicking = false;
}

static void on_handle_closed(uv_handle_t *hd)
{
    struct conn *c = hd->data;
    if (--c->open_handles == 0) {
        tide__h1_rx_free(&c->rx);
        free(c);
    }
}

static void conn_close(struct conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    c->h->n_conns--;
    if (c->in_idle) { /* rare: the server closed an idle connection */
        struct conn **pp = &c->h->idle;
        while (*pp != c)
            pp = &(*pp)->next_idle;
        *pp = c->next_idle;
        c->h->n_idle--;
        c->in_idle = false;
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        c->h->all = c->next;
    if (c->next)
        c->next->prev = c->prev;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    pend_kick(c->h);
}

static void report(struct tide__h1 *h, struct tide__h1_req *r, int status, int errk, uint64_t bytes)
{
    if (!h->closing)
        h->done(h->arg, r, status, errk, bytes);
}

/* The connection has no request: the next waiting one, or the idle list, or closed. */
static void conn_idle(struct conn *c)
{
    struct tide__h1 *h = c->h;
    struct tide__h1_req *r;
    int64_t ms;
    c->reused = true;
    while ((r = pend_pop(h, &ms))) {
        if (ms <= 0) {
            report(h, r, 0, ERR_TIMEOUT, 0);
            continue;
        }
        conn_take(h, c, r, ms);
        return;
    }
    if (h->n_idle >= IDLE_MAX) {
        conn_close(c);
        return;
    }
    c->next_idle = h->idle;
    c->in_idle = true;
    h->idle = c;
    h->n_idle++;
}

/* Ends c's request. Decides the connection's fate before telling the engine,
 * which may send again at once. */
static void conn_end(struct conn *c, int status, int errk, bool keep)
{
    struct tide__h1_req *r = c->req;
    uint64_t bytes = c->rx.bytes;
    c->req = NULL;
    uv_timer_stop(&c->timer);
    if (keep && !c->writing && !c->rx.close && !c->rx.extra)
        conn_idle(c);
    else
        conn_close(c);
    report(c->h, r, status, errk, bytes);
}

/* A failure before any answer on a connection that had answered before:
 * the request goes once more on a new connection. */
static bool retry(struct conn *c)
{
    struct tide__h1_req *r = c->req;
    if (!r || c->got || !c->reused || r->tries > 0 || c->h->closing)
        return false;
    r->tries++;
    c->req = NULL;
    conn_close(c);
    tide__h1_send(c->h, r);
    return true;
}

static void on_written(uv_write_t *wr, int status)
{
    struct conn *c = wr->data;
    c->writing = false;
    if (status == UV_ECANCELED || c->closing)
        return;
    c->h->enter(c->h->arg);
    if (status < 0 && c->req && !retry(c))
        conn_end(c, 0, ERR_RESET, false);
    c->h->leave(c->h->arg);
}

/* Writes the head and the body (kept apart: the body is not copied), what the
 * socket does not take at once through uv_write. */
static void conn_write(struct conn *c)
{
    struct tide__h1_req *r = c->req;
    uv_buf_t b[2];
    size_t total = r->len + r->body_len, done;
    int n;
    unsigned nb = r->body_len ? 2 : 1;
    b[0] = uv_buf_init((char *)r->wire, (unsigned)r->len);
    b[1] = uv_buf_init((char *)r->body, (unsigned)r->body_len);
    n = uv_try_write((uv_stream_t *)&c->tcp, b, nb);
    if (n >= 0 && (size_t)n == total)
        return;
    if (n < 0 && n != UV_EAGAIN) {
        if (!retry(c))
            conn_end(c, 0, ERR_RESET, false);
        return;
    }
    done = n < 0 ? 0 : (size_t)n;
    if (done >= r->len) { /* into the body: only its rest is left */
        b[0] = uv_buf_init((char *)r->body + (done - r->len), (unsigned)(total - done));
        nb = 1;
    } else {
        b[0] = uv_buf_init((char *)r->wire + done, (unsigned)(r->len - done));
    }
    c->writing = true;
    c->wr.data = c;
    if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, b, nb, on_written) != 0) {
        c->writing = false;
        conn_end(c, 0, ERR_RESET, false);
    }
}

static void on_timeout(uv_timer_t *t)
{
    struct conn *c = t->data;
    c->h->enter(c->h->arg);
    if (c->req)
        conn_end(c, 0, ERR_TIMEOUT, false);
    c->h->leave(c->h->arg);
}

static void on_alloc(uv_handle_t *hd, size_t want, uv_buf_t *b)
{
    struct conn *c = hd->data;
    (void)want;
    *b = uv_buf_init(c->h->rbuf, sizeof(c->h->rbuf));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct conn *c = s->data;
    struct tide__h1 *h = c->h;
    if (n == 0 || c->closing)
        return;
    h->enter(h->arg);
    if (!c->req) {
        conn_close(c); /* idle: the server closed it, or said something unasked */
    } else if (n > 0) {
        c->got = true;
        if (tide__h1_rx_feed(&c->rx, b->base, (size_t)n, c->req->no_body) < 0)
            conn_end(c, 0, ERR_GARBAGE, false);
        else if (c->rx.state == TIDE__RX_DONE)
            conn_end(c, c->rx.status, -1, true);
    } else if (n == UV_EOF && c->rx.state == TIDE__RX_CLOSE) {
        conn_end(c, c->rx.status, -1, false); /* the close was the end of the body */
    } else if (!retry(c)) {
        conn_end(c, 0, !c->got && n == UV_EOF ? ERR_EMPTY : ERR_RESET, false);
    }
    h->leave(h->arg);
}

static void on_connect(uv_connect_t *cr, int status)
{
    struct conn *c = cr->data;
    free(cr);
    if (c->closing)
        return;
    c->h->enter(c->h->arg);
    if (status < 0) {
        /* refused, unreachable or timed out: libcurl's "could not connect" */
        if (c->req)
            conn_end(c, 0, ERR_REFUSED, false);
        else
            conn_close(c);
    } else {
        c->state = C_OPEN;
        uv_tcp_nodelay(&c->tcp, 1);
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
            if (c->req)
                conn_end(c, 0, ERR_OTHER, false);
            else
                conn_close(c);
        } else if (c->req) {
            conn_write(c);
        }
    }
    c->h->leave(c->h->arg);
}

/* A new connection, connecting; NULL with *errk set if it could not even
 * start (refused at once; out of descriptors: ERR_NOFD; out of memory: ERR_OTHER). */
static struct conn *conn_new(struct tide__h1 *h, int *errk)
{
    struct conn *c = calloc(1, sizeof(*c));
    uv_connect_t *cr = malloc(sizeof(*cr));
    int rc;
    *errk = ERR_OTHER;
    if (!c || !cr || uv_tcp_init(h->loop, &c->tcp) != 0) {
        free(c);
        free(cr);
        return NULL;
    }
    uv_timer_init(h->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->open_handles = 2;
    c->h = h;
    tide__h1_rx_init(&c->rx);
    h->n_conns++;
    c->next = h->all;
    if (h->all)
        h->all->prev = c;
    h->all = c;
    cr->data = c;
    if ((rc = uv_tcp_connect(cr, &c->tcp, (const struct sockaddr *)&h->addr, on_connect)) != 0) {
        free(cr);
        conn_close(c);
        if (rc == UV_ECONNREFUSED)
            *errk = ERR_REFUSED;
        else if (rc == UV_EMFILE || rc == UV_ENFILE)
            *errk = ERR_NOFD; /* the load machine's limit, not the target */
        return NULL;
    }
    return c;
}

static void conn_take(struct tide__h1 *h, struct conn *c, struct tide__h1_req *r, int64_t ms)
{
    c->req = r;
    c->got = false;
    tide__h1_rx_reset(&c->rx);
    uv_timer_start(&c->timer, on_timeout, (uint64_t)ms, 0);
    if (c->state == C_OPEN)
        conn_write(c);
}

void tide__h1_send(struct tide__h1 *h, struct tide__h1_req *r)
{
    struct conn *c = r->tries ? NULL : h->idle; /* a retry goes on a new connection */
    int errk;
    r->next = NULL;
    if (c) {
        h->idle = c->next_idle;
        h->n_idle--;
        c->in_idle = false;
        conn_take(h, c, r, h->timeout_ms);
        return;
    }
    if (h->max_conns > 0 && h->n_conns >= h->max_conns) {
        r->queued_ms = uv_now(h->loop);
        if (h->pend_tail)
            h->pend_tail->next = r;
        else
            h->pend = r;
        h->pend_tail = r;
        return;
    }
    c = conn_new(h, &errk);
    if (!c) {
        report(h, r, 0, errk, 0);
        return;
    }
    conn_take(h, c, r, h->timeout_ms);
}

struct tide__h1 *tide__h1_new(uv_loop_t *loop, const struct sockaddr_storage *addr, int max_conns,
                              int64_t timeout_ns, tide__h1_done_fn done, tide__h1_hook_fn enter,
                              tide__h1_hook_fn leave, void *arg)
{
    struct tide__h1 *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->loop = loop;
    h->addr = *addr;
    h->max_conns = max_conns;
    h->timeout_ms = timeout_ns / 1000000 > 0 ? timeout_ns / 1000000 : 1;
    h->done = done;
    h->enter = enter;
    h->leave = leave;
    h->arg = arg;
    return h;
}

void tide__h1_close(struct tide__h1 *h)
{
    struct conn *c;
    if (!h)
        return;
    h->closing = true; /* what is in flight is abandoned, not reported */
    while ((c = h->all))
        conn_close(c);
    h->pend = h->pend_tail = NULL;
}

void tide__h1_free(struct tide__h1 *h) { free(h); }
