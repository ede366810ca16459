/*
 * mock.c - `tide mock`: an HTTP/1.1 server (libuv) that answers each route
 * with the statuses, sizes and latencies recorded in a trace, in recorded
 * order, so replay can be tried without a staging system. It can also stall,
 * reset or answer garbage every Nth request, to test a replay's fault
 * handling. One connection serves one request at a time (pipelined requests
 * wait their turn), which keeps answers in order.
 */
#define _GNU_SOURCE
#include "replay_int.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <uv.h>
#include <fcntl.h>

#define MAX_SAMPLES 4096
#define MAX_REQ (1 << 20)
#define ZCHUNK 65536

struct sample {
    int status;
    int64_t bytes, dur_ns;
};

struct route {
    struct sample *s;
    size_t n, next;
};

struct mock {
    const struct tide_mock_opts *o;
    uv_loop_t loop;
    uv_tcp_t server;
    uv_timer_t stop_timer;
    struct tide_strmap routes; /* key -> index into r */
    struct route *r;
    size_t n_r;
    uint64_t requests;
    struct tide_buf tmp;
};

struct conn {
    uv_tcp_t tcp;
    struct mock *m;
    char *buf;
    size_t len, cap;
    bool busy, closing, head;
    uv_timer_t delay;
    int status;
    int64_t bytes;
    size_t consumed;
    bool keepalive;
};

static const char ZEROS[ZCHUNK];

static const char *reason(int s)
{
    switch (s) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

static int load(struct mock *m, struct tide_err *err)
{
    struct tide_trace_reader *r;
    const struct tide_record *rec;
    int fd = open(m->o->trace_path, O_RDONLY | O_CLOEXEC), rc;
    if (fd < 0)
        return tide_err_set(err, TIDE_E_NOTFOUND, m->o->trace_path, "cannot open");
    rc = tide_trace_reader_open(&r, fd, m->o->trace_path, NULL, err);
    if (rc) {
        close(fd);
        return rc;
    }
    while ((rc = tide_trace_reader_next(r, &rec, err)) == 1) {
        struct tide_strmap_ent *e;
        bool added;
        int rc2;
        struct route *rt;
        tide_buf_reset(&m->tmp);
        tide_buf_append(&m->tmp, rec->method.p, rec->method.len);
        tide_buf_putc(&m->tmp, ' ');
        tide_route_template(rec->path, &m->tmp);
        e = tide_strmap_upsert(&m->routes, tide_str_make(m->tmp.p, m->tmp.len), &added, &rc2);
        if (!e)
            continue;
        if (added) {
            struct route *nr = realloc(m->r, (m->n_r + 1) * sizeof(*nr));
            if (!nr)
                break;
            m->r = nr;
            memset(&m->r[m->n_r], 0, sizeof(*m->r));
            e->value = m->n_r++;
        }
        rt = &m->r[e->value];
        if (rt->n < MAX_SAMPLES) {
            struct sample *ns = realloc(rt->s, (rt->n + 1) * sizeof(*ns));
            if (!ns)
                break;
            rt->s = ns;
            rt->s[rt->n].status = rec->status > 0 ? rec->status : 200;
            rt->s[rt->n].bytes = rec->resp_bytes > 0 ? rec->resp_bytes : 0;
            rt->s[rt->n].dur_ns = rec->duration_ns > 0 ? rec->duration_ns : 0;
            rt->n++;
        }
    }
    tide_trace_reader_free(r);
    close(fd);
    return rc < 0 && rc != TIDE_E_TRUNCATED ? rc : 0;
}

static void on_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    free(c->buf);
    free(c);
}

static void on_delay_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_delay_closed_reset(uv_handle_t *h)
{
    struct conn *c = h->data;
    if (uv_tcp_close_reset(&c->tcp, on_closed) != 0)
        uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void conn_close(struct conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    uv_timer_stop(&c->delay);
    uv_close((uv_handle_t *)&c->delay, on_delay_closed);
}

static void process(struct conn *c);

struct wreq {
    uv_write_t w;
    char *hdr;
    struct conn *c;
    bool close_after;
};

static void on_written(uv_write_t *w, int status)
{
    struct wreq *wr = (struct wreq *)w;
    struct conn *c = wr->c;
    free(wr->hdr);
    if (status < 0 || wr->close_after) {
        free(wr);
        conn_close(c);
        return;
    }
    free(wr);
    if (!c->closing) {
        c->busy = false;
        process(c);
    }
}

static void respond(struct conn *c)
{
    struct wreq *wr = calloc(1, sizeof(*wr));
    uv_buf_t bufs[257];
    int nb = 1;
    int64_t body = (c->head || c->status == 204 || c->status == 304) ? 0 : c->bytes;
    char hdr[256];
    int hl;
    if (body > (int64_t)256 * ZCHUNK)
        body = (int64_t)256 * ZCHUNK;
    hl = snprintf(hdr, sizeof(hdr), "HTTP/1.1 %d %s\r\nContent-Length: %lld\r\nContent-Type: "
                                    "application/octet-stream\r\nServer: tide-mock\r\n%s\r\n",
                  c->status, reason(c->status), (long long)(c->head ? c->bytes : body),
                  c->keepalive ? "" : "Connection: close\r\n");
    if (!wr) {
        conn_close(c);
        return;
    }
    wr->hdr = strndup(hdr, (size_t)hl);
    wr->c = c;
    wr->close_after = !c->keepalive;
    bufs[0] = uv_buf_init(wr->hdr, (unsigned)hl);
    while (body > 0 && nb < 257) {
        unsigned n = body > ZCHUNK ? ZCHUNK : (unsigned)body;
        bufs[nb++] = uv_buf_init((char *)ZEROS, n);
        body -= n;
    }
    uv_write(&wr->w, (uv_stream_t *)&c->tcp, bufs, (unsigned)nb, on_written);
}

static void on_delay(uv_timer_t *t) { respond(t->data); }

/* Handles the next whole request in the buffer, if any. */
static void process(struct conn *c)
{
    struct mock *m = c->m;
    char *end, *line_end, *sp1, *sp2, *p;
    size_t hlen, body = 0;
    const struct sample *s = NULL;
    uint64_t n;
    if (c->busy || c->closing)
        return;
    if (c->consumed) {
        memmove(c->buf, c->buf + c->consumed, c->len - c->consumed);
        c->len -= c->consumed;
        c->consumed = 0;
    }
    end = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
    if (!end)
        return;
    hlen = (size_t)(end - c->buf) + 4;
    line_end = memmem(c->buf, hlen, "\r\n", 2);
    sp1 = memchr(c->buf, ' ', (size_t)(line_end - c->buf));
    sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(line_end - sp1 - 1)) : NULL;
    if (!sp1 || !sp2) {
        conn_close(c);
        return;
    }
    c->keepalive = true;
    for (p = line_end + 2; p < end;) {
        char *le = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
        if (!le)
            break;
        if ((size_t)(le - p) > 15 && strncasecmp(p, "Content-Length:", 15) == 0)
            body = (size_t)strtoull(p + 15, NULL, 10);
        if ((size_t)(le - p) >= 17 && strncasecmp(p, "Connection: close", 17) == 0)
            c->keepalive = false;
        p = le + 2;
    }
    if (body > MAX_REQ) {
        conn_close(c);
        return;
    }
    if (c->len < hlen + body)
        return; /* wait for the body */
    c->consumed = hlen + body;
    c->busy = true;
    n = ++m->requests;
    if (m->o->stall_every && n % (uint64_t)m->o->stall_every == 0)
        return; /* never answers; the client must give up on its own */
    if (m->o->reset_every && n % (uint64_t)m->o->reset_every == 0) {
        c->closing = true; /* the timer first, then the connection with an RST */
        uv_close((uv_handle_t *)&c->delay, on_delay_closed_reset);
        return;
    }
    if (m->o->garbage_every && n % (uint64_t)m->o->garbage_every == 0) {
        struct wreq *wr = calloc(1, sizeof(*wr));
        uv_buf_t b;
        if (!wr) {
            conn_close(c);
            return;
        }
        wr->hdr = strdup("GARBAGE \x01\x02 not http\r\n\r\n");
        wr->c = c;
        wr->close_after = true;
        b = uv_buf_init(wr->hdr, (unsigned)strlen(wr->hdr));
        uv_write(&wr->w, (uv_stream_t *)&c->tcp, &b, 1, on_written);
        return;
    }
    c->head = (size_t)(sp1 - c->buf) == 4 && strncmp(c->buf, "HEAD", 4) == 0;
    {
        char *q = memchr(sp1 + 1, '?', (size_t)(sp2 - sp1 - 1));
        struct tide_strmap_ent *e;
        tide_buf_reset(&m->tmp);
        tide_buf_append(&m->tmp, c->buf, (size_t)(sp1 - c->buf + 1));
        tide_route_template(tide_str_make(sp1 + 1, (size_t)((q ? q : sp2) - sp1 - 1)), &m->tmp);
        e = tide_strmap_get(&m->routes, tide_str_make(m->tmp.p, m->tmp.len));
        if (e) {
            struct route *rt = &m->r[e->value];
            s = &rt->s[rt->next++ % rt->n];
        }
    }
    c->status = s ? s->status : 404;
    c->bytes = s ? s->bytes : 10;
    {
        int64_t d = m->o->fixed_latency_ns >= 0 ? m->o->fixed_latency_ns
                    : s ? (int64_t)((double)s->dur_ns * (m->o->latency_scale > 0 ? m->o->latency_scale : 1)) : 0;
        if (d >= 1000000)
            uv_timer_start(&c->delay, on_delay, (uint64_t)(d / 1000000), 0);
        else
            respond(c);
    }
}

static void on_alloc(uv_handle_t *h, size_t sug, uv_buf_t *b)
{
    struct conn *c = h->data;
    (void)sug;
    if (c->cap - c->len < 65536) {
        size_t nc = c->cap ? c->cap * 2 : 131072;
        char *nb = nc <= MAX_REQ * 2 ? realloc(c->buf, nc) : NULL;
        if (!nb) {
            *b = uv_buf_init(NULL, 0);
            return;
        }
        c->buf = nb;
        c->cap = nc;
    }
    *b = uv_buf_init(c->buf + c->len, (unsigned)(c->cap - c->len));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct conn *c = s->data;
    (void)b;
    if (n < 0) {
        conn_close(c);
        return;
    }
    c->len += (size_t)n;
    process(c);
}

static void on_conn(uv_stream_t *srv, int status)
{
    struct mock *m = srv->data;
    struct conn *c;
    if (status < 0)
        return;
    c = calloc(1, sizeof(*c));
    if (!c)
        return;
    c->m = m;
    uv_tcp_init(&m->loop, &c->tcp);
    uv_timer_init(&m->loop, &c->delay);
    c->tcp.data = c->delay.data = c;
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void close_all(uv_handle_t *h, void *arg)
{
    struct mock *m = arg;
    if (uv_is_closing(h))
        return;
    if (h == (uv_handle_t *)&m->server || h == (uv_handle_t *)&m->stop_timer)
        uv_close(h, NULL);
    else if (h->type == UV_TCP)
        conn_close(h->data); /* closes the connection's timer too */
}

static void on_stop_check(uv_timer_t *t)
{
    struct mock *m = t->data;
    if (m->o->stop && *m->o->stop) {
        uv_walk(&m->loop, close_all, m);
    }
}

int tide__parse_addr(const char *spec, const char *opt, struct sockaddr_storage *out, struct tide_err *err)
{
    char host[256];
    const char *colon = strrchr(spec, ':'), *d;
    size_t hl;
    long port;
    if (!colon || !colon[1])
        return tide_err_set(err, TIDE_E_USAGE, "", "%s: expected ADDR:PORT", opt);
    for (d = colon + 1; *d; d++)
        if (*d < '0' || *d > '9')
            return tide_err_set(err, TIDE_E_USAGE, "", "%s: expected ADDR:PORT", opt);
    port = strtol(colon + 1, NULL, 10);
    hl = (size_t)(colon - spec);
    if (port > 65535 || d - colon > 7 || hl >= sizeof(host))
        return tide_err_set(err, TIDE_E_USAGE, "", "%s: expected ADDR:PORT", opt);
    if (hl >= 2 && spec[0] == '[' && spec[hl - 1] == ']') {
        spec++;
        hl -= 2;
    }
    memcpy(host, spec, hl);
    host[hl] = 0;
    memset(out, 0, sizeof(*out));
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)out) != 0 &&
        uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)out) != 0)
        return tide_err_set(err, TIDE_E_USAGE, "", "%s: not an IP address", opt);
    return 0;
}

int tide_mock_run(const struct tide_mock_opts *o, struct tide_err *err)
{
    struct mock m;
    struct sockaddr_storage addr;
    int rc;
    size_t i;
    if ((rc = tide__parse_addr(o->listen, "--listen", &addr, err)))
        return rc;
    memset(&m, 0, sizeof(m));
    m.o = o;
    tide_strmap_init(&m.routes, 100000);
    tide_buf_init(&m.tmp, 0);
    rc = load(&m, err);
    if (rc)
        goto out_free;
    uv_loop_init(&m.loop);
    uv_tcp_init(&m.loop, &m.server);
    m.server.data = &m;
    uv_timer_init(&m.loop, &m.stop_timer);
    m.stop_timer.data = &m;
    if ((rc = uv_tcp_bind(&m.server, (struct sockaddr *)&addr, 0)) != 0 ||
        (rc = uv_listen((uv_stream_t *)&m.server, 1024, on_conn)) != 0) {
        rc = tide_err_set(err, TIDE_E_IO, o->listen, "cannot listen: %s", uv_strerror(rc));
        uv_walk(&m.loop, close_all, &m);
        uv_run(&m.loop, UV_RUN_DEFAULT);
        uv_loop_close(&m.loop);
        goto out_free;
    }
    if (o->on_ready) {
        struct sockaddr_storage got;
        int len = sizeof(got);
        uv_tcp_getsockname(&m.server, (struct sockaddr *)&got, &len);
        o->on_ready(o->userp, ntohs(((struct sockaddr_in *)&got)->sin_port));
    }
    uv_timer_start(&m.stop_timer, on_stop_check, 50, 50);
    uv_run(&m.loop, UV_RUN_DEFAULT);
    uv_loop_close(&m.loop);
    rc = 0;
out_free:
    for (i = 0; i < m.n_r; i++)
        free(m.r[i].s);
    free(m.r);
    tide_strmap_free(&m.routes);
    tide_buf_free(&m.tmp);
    return rc;
}
