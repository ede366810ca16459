/*
 * tcpflow.c - TCP reassembly and HTTP/1.x request/response pairing.
 *
 * Each connection has two halves (client->server, server->client). Segments
 * are placed by sequence number (32-bit wraparound via signed differences);
 * in-order bytes are appended to the half's buffer, later ones wait (first
 * copy wins on overlap, conflicts counted), and a gap that never fills is
 * skipped and counted, after which the parser looks for the next message
 * start. Connections picked up mid-stream start at their first byte and
 * resync the same way. Requests wait in a FIFO per connection (pipelining)
 * for their responses; a response completes the oldest. Every byte that
 * could not be used is counted by reason. Memory is capped per connection
 * and overall; the oldest connections are evicted (and counted) past it.
 */
#define _GNU_SOURCE
#include "capture_int.h"
#include "tcpflow_int.h"

#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_OOO_SEGMENTS 256
#define HALF_CAP (4u << 20) /* buffered bytes per direction */

struct seg {
    uint32_t seq;
    int64_t ts;
    size_t len;
    char *data;
};

struct tsmark {
    uint64_t off; /* stream offset of the first byte of a packet */
    int64_t ts;
};

struct half {
    bool seq_set;
    uint32_t next;          /* next expected sequence number */
    struct tide_buf buf;    /* in-order bytes not yet consumed */
    uint64_t base;          /* stream offset of buf[0] */
    struct tsmark *marks;   /* packet times by stream offset, ascending */
    size_t n_marks, cap_marks;
    struct seg segs[MAX_OOO_SEGMENTS];
    size_t n_segs, seg_bytes;
    bool fin, resync;
    bool borrowed;       /* buf views the packet being parsed (see parse_in_place) */
    struct tide_buf own; /* buf's own storage meanwhile */
};

/* One request waiting for its response. */
struct pending {
    struct tide__entry *e;
    struct pending *next;
    bool head; /* HEAD: the response has no body */
};

enum { C_UNKNOWN, C_HTTP, C_TLS, C_HTTP2, C_NOT_HTTP };

struct conn {
    struct tide__flowkey key; /* key.a = client once known */
    bool client_known;
    uint8_t client_len; /* key.a as text, made at the first request */
    char client[INET6_ADDRSTRLEN];
    int kind;
    struct half h[2]; /* 0: client->server, 1: server->client */
    int64_t last_ts;
    /* request parsing */
    int rq_state; /* 0 head, 1 body by length, 2 chunked */
    struct tide_http_head rh;
    struct tide_buf rq_head; /* copy of the head being completed */
    struct tide_buf rq_body;
    uint64_t rq_left;
    bool rq_trunc;
    int64_t rq_start;
    struct tide_http_chunks rq_ch;
    uint64_t rq_body_total;
    /* response parsing */
    int rs_state; /* 0 head, 1 by length, 2 chunked, 3 until close, 4 upgraded */
    int rs_status;
    uint64_t rs_left, rs_bytes;
    struct tide_http_chunks rs_ch;
    /* a whole response to the request whose body is still coming (a server
     * that answers before reading it: an early 401 or 413, `return 201`) */
    bool early;
    int early_status;
    int64_t early_bytes, early_end;
    struct pending *fifo, *fifo_tail;
    struct conn *lru_prev, *lru_next;
    struct conn *hnext; /* hash chain */
    size_t mem;
};

struct tide__flows {
    struct conn **tab;
    size_t cap, n;
    struct conn *lru_head, *lru_tail; /* head: most recent */
    struct tide__flow_opts o;
    struct tide_pcap_stats *st;
    struct tide__reorder *ro;
    size_t mem;
    struct tide_record rec;
    struct pending *spare; /* pending requests to reuse */
};

const char *tide_pcap_skip_name(int k)
{
    static const char *N[] = {"truncated packets (snaplen)", "malformed headers", "not TCP",
                              "TCP on other ports", "IP fragments never completed", "TCP gaps",
                              "evicted at memory caps", "TLS", "HTTP/2", "not HTTP/1.x",
                              "unparsable bytes skipped"};
    return k >= 0 && k < TIDE_PCAP_SKIP_KINDS ? N[k] : "?";
}

/* An endpoint as three words (address halves; port, family and padding). */
static inline void ep_words(const struct tide__endpoint *e, uint64_t w[3])
{
    uint32_t z;
    memcpy(&w[0], e->addr, 8);
    memcpy(&w[1], e->addr + 8, 8);
    memcpy(&z, &e->port, 4);
    w[2] = z;
}

static uint64_t ep_mix(const struct tide__endpoint *e)
{
    uint64_t w[3];
    ep_words(e, w);
    return w[0] * 0x9E3779B97F4A7C15ull ^ w[1] * 0xC2B2AE3D27D4EB4Full ^ w[2] * 0x165667B19E3779F9ull;
}

/* Direction-independent (the endpoints' hashes are added): this runs for
 * every packet, so it is a few multiplies, not a general byte hash. */
static uint64_t key_hash(const struct tide__flowkey *k)
{
    uint64_t h = ep_mix(&k->a) + ep_mix(&k->b);
    h ^= h >> 31;
    h *= 0xD6E8FEB86659FD93ull;
    return h ^ (h >> 32);
}

static bool same_ep(const struct tide__endpoint *x, const struct tide__endpoint *y)
{
    uint64_t a[3], b[3];
    ep_words(x, a);
    ep_words(y, b);
    return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2])) == 0;
}

struct tide__flows *tide__flows_new(const struct tide__flow_opts *o, struct tide_pcap_stats *st,
                                    struct tide__reorder *ro)
{
    struct tide__flows *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->o = *o;
    f->st = st;
    f->ro = ro;
    f->cap = 4096;
    f->tab = calloc(f->cap, sizeof(*f->tab));
    if (!f->tab) {
        free(f);
        return NULL;
    }
    return f;
}

static void lru_unlink(struct tide__flows *f, struct conn *c)
{
    if (c->lru_prev)
        c->lru_prev->lru_next = c->lru_next;
    else
        f->lru_head = c->lru_next;
    if (c->lru_next)
        c->lru_next->lru_prev = c->lru_prev;
    else
        f->lru_tail = c->lru_prev;
    c->lru_prev = c->lru_next = NULL;
}

static void lru_front(struct tide__flows *f, struct conn *c)
{
    if (f->lru_head == c)
        return;
    if (c->lru_prev || c->lru_next || f->lru_tail == c)
        lru_unlink(f, c);
    c->lru_next = f->lru_head;
    if (f->lru_head)
        f->lru_head->lru_prev = c;
    f->lru_head = c;
    if (!f->lru_tail)
        f->lru_tail = c;
}

static void half_free(struct half *h)
{
    size_t i;
    tide_buf_free(&h->buf);
    free(h->marks);
    for (i = 0; i < h->n_segs; i++)
        free(h->segs[i].data);
}

/* Time of the packet that carried stream offset off. */
static int64_t ts_at(const struct half *h, uint64_t off, int64_t dflt)
{
    size_t lo = 0, hi = h->n_marks;
    if (!h->n_marks)
        return dflt;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (h->marks[mid].off <= off)
            lo = mid;
        else
            hi = mid;
    }
    return h->marks[lo].ts;
}

/* Drops n consumed bytes from the front of a half's buffer. */
static void consume(struct tide__flows *f, struct conn *c, struct half *h, size_t n)
{
    size_t k = 0;
    if (n > h->buf.len)
        n = h->buf.len;
    if (n == 0)
        return;
    if (h->borrowed) {
        h->buf.p += n; /* the packet's bytes: nothing to move, nothing held */
    } else {
        memmove(h->buf.p, h->buf.p + n, h->buf.len - n);
        c->mem -= n;
        f->mem -= n;
    }
    h->buf.len -= n;
    h->base += n;
    while (k + 1 < h->n_marks && h->marks[k + 1].off <= h->base)
        k++;
    if (k) {
        memmove(h->marks, h->marks + k, (h->n_marks - k) * sizeof(*h->marks));
        h->n_marks -= k;
    }
}

/* A pending request's record is with the re-order window: the struct is reused. */
static void pending_put(struct tide__flows *f, struct pending *p)
{
    p->next = f->spare;
    f->spare = p;
}

static void emit_pending(struct tide__flows *f, struct pending *p, int status, int64_t resp_bytes,
                         int64_t end_ts)
{
    struct tide_err err;
    if (tide__outside_window(p->e->rec.ts_ns, f->o.since_ns, f->o.until_ns)) {
        tide__count_outside(&f->st->outside, &f->st->outside_first, &f->st->outside_last, p->e->rec.ts_ns);
        tide__reorder_put(f->ro, p->e);
        pending_put(f, p);
        return;
    }
    if (status >= 0) {
        p->e->rec.status = status;
        p->e->rec.resp_bytes = resp_bytes;
        p->e->rec.duration_ns = end_ts >= p->e->rec.ts_ns ? end_ts - p->e->rec.ts_ns : 0;
        f->st->responses++;
    } else {
        f->st->no_response++;
    }
    f->st->requests++;
    tide__reorder_add(f->ro, p->e, &err);
    pending_put(f, p);
}

static void finish_response(struct tide__flows *f, struct conn *c, int64_t ts)
{
    struct pending *p = c->fifo;
    if (!p && c->rq_state != 0 && !c->early) {
        /* the request's body is still coming: this answers it, once it is whole */
        c->early = true;
        c->early_status = c->rs_status;
        c->early_bytes = (int64_t)c->rs_bytes;
        c->early_end = ts;
        return;
    }
    if (!p)
        return; /* a response without a request we saw (mid-stream): nothing to pair */
    c->fifo = p->next;
    if (!c->fifo)
        c->fifo_tail = NULL;
    emit_pending(f, p, c->rs_status, (int64_t)c->rs_bytes, ts);
}

/* Builds the record of the request whose head is rh (views into c->rq_head). */
static void queue_request(struct tide__flows *f, struct conn *c)
{
    struct tide_record *r = &f->rec;
    struct tide_str host;
    const char *q;
    struct pending *p;
    tide_record_clear(r);
    r->ts_ns = c->rq_start;
    r->method = c->rh.method;
    r->version = c->rh.version;
    r->scheme = tide_str_c("http");
    q = memchr(c->rh.target.p, '?', c->rh.target.len);
    if (c->rh.target.len > 7 && (c->rh.target.p[0] | 0x20) == 'h' && strncasecmp(c->rh.target.p, "http://", 7) == 0) {
        /* absolute form (a proxy request): host from it */
        const char *sl = memchr(c->rh.target.p + 7, '/', c->rh.target.len - 7);
        size_t hs = 7, he = sl ? (size_t)(sl - c->rh.target.p) : c->rh.target.len;
        r->host = tide_str_make(c->rh.target.p + hs, he - hs);
        c->rh.target = tide_str_make(c->rh.target.p + he, c->rh.target.len - he);
        q = memchr(c->rh.target.p, '?', c->rh.target.len);
    }
    if (q) {
        r->path = tide_str_make(c->rh.target.p, (size_t)(q - c->rh.target.p));
        r->query = tide_str_make(q + 1, c->rh.target.len - (size_t)(q - c->rh.target.p) - 1);
    } else {
        r->path = c->rh.target;
    }
    r->headers = c->rh.headers;
    r->n_headers = c->rh.n_headers;
    host = c->rh.host;
    if (host.p && !r->host.len)
        r->host = host;
    if (!c->client_len) {
        tide__endpoint_addr(&c->key.a, c->client, sizeof(c->client));
        c->client_len = (uint8_t)strlen(c->client);
    }
    r->client = tide_str_make(c->client, c->client_len);
    if (c->rq_body.len || c->rq_body_total || c->rh.content_length > 0 || c->rh.chunked) {
        r->flags |= TIDE_REC_HAS_BODY;
        r->body = tide_str_make(c->rq_body.p ? c->rq_body.p : "", c->rq_body.len);
    }
    if (c->rq_trunc) {
        r->flags |= TIDE_REC_BODY_TRUNCATED;
        f->st->bodies_truncated++;
    }
    if ((p = f->spare) != NULL)
        f->spare = p->next;
    else if (!(p = malloc(sizeof(*p))))
        return;
    /* source: file and packet number */
    p->e = tide__reorder_pack(f->ro, r, f->o.source_name ? f->o.source_name : "pcap", f->o.packet_no);
    if (!p->e) {
        pending_put(f, p);
        return;
    }
    p->next = NULL;
    p->head = tide_str_is_eq_c(c->rh.method, "HEAD");
    if (c->early && !c->fifo) {
        /* answered before its body was whole: written now, with that answer */
        c->early = false;
        emit_pending(f, p, c->early_status, c->early_bytes, c->early_end);
        return;
    }
    if (c->fifo_tail)
        c->fifo_tail->next = p;
    else
        c->fifo = p;
    c->fifo_tail = p;
}

/* Finds the next request start (a method token at a line start) in buf. */
static size_t resync_request(const char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if ((i == 0 || p[i - 1] == '\n') && tide_http_is_method_start(p + i, n - i)) {
            struct tide_http_head h;
            long r = tide_http_request_head(p + i, n - i, &h);
            if (r != -1)
                return i;
        }
    }
    return n;
}

static size_t resync_response(const char *p, size_t n)
{
    size_t i;
    for (i = 0; i + 7 <= n; i++)
        if ((i == 0 || p[i - 1] == '\n') && memcmp(p + i, "HTTP/1.", 7) == 0)
            return i;
    return n > 7 ? n - 7 : 0;
}

static void classify(struct tide__flows *f, struct conn *c, const struct half *h)
{
    const char *p = h->buf.p;
    size_t n = h->buf.len;
    if (c->kind != C_UNKNOWN || n == 0)
        return;
    if (n >= 3 && (uint8_t)p[0] == 0x16 && p[1] == 0x03 && (uint8_t)p[2] <= 0x04) {
        c->kind = C_TLS;
        f->st->skipped[TIDE_PCAP_SKIP_TLS]++;
    } else if (n >= 14 && memcmp(p, "PRI * HTTP/2.0", 14) == 0) {
        c->kind = C_HTTP2;
        f->st->skipped[TIDE_PCAP_SKIP_HTTP2]++;
    } else if (tide_http_is_method_start(p, n)) {
        c->kind = C_HTTP;
    } else if (n >= 16) {
        /* picked up mid-stream? a request line may still follow */
        size_t at = resync_request(p, n);
        if (at < n)
            c->kind = C_HTTP;
        else if (n > 4096) {
            c->kind = C_NOT_HTTP;
            f->st->skipped[TIDE_PCAP_SKIP_NOT_HTTP]++;
        }
    }
}

/* Moves a parsed head's views from one copy of its n bytes to another. */
static void rebase_one(struct tide_str *s, const char *from, size_t n, char *to)
{
    if (s->p && (uintptr_t)s->p >= (uintptr_t)from && (uintptr_t)s->p - (uintptr_t)from <= n)
        s->p = to + ((uintptr_t)s->p - (uintptr_t)from);
}

static void rebase(struct tide_http_head *rh, const char *from, size_t n, char *to)
{
    uint32_t i;
    rebase_one(&rh->method, from, n, to);
    rebase_one(&rh->target, from, n, to);
    rebase_one(&rh->version, from, n, to);
    rebase_one(&rh->host, from, n, to);
    for (i = 0; i < rh->n_headers; i++) {
        rebase_one(&rh->headers[i].name, from, n, to);
        rebase_one(&rh->headers[i].value, from, n, to);
    }
}

/* Runs the request parser over the client half. */
static void parse_requests(struct tide__flows *f, struct conn *c, int64_t now)
{
    struct half *h = &c->h[0];
    for (;;) {
        if (c->kind != C_HTTP || h->buf.len == 0)
            return;
        if (c->rq_state == 0) {
            long r;
            if (h->resync || !tide_http_is_method_start(h->buf.p, h->buf.len)) {
                size_t at = resync_request(h->buf.p, h->buf.len);
                if (at) {
                    f->st->skipped_bytes[TIDE_PCAP_SKIP_UNPARSABLE] += at;
                    consume(f, c, h, at);
                }
                if (!h->buf.len)
                    return;
                h->resync = false;
            }
            r = tide_http_request_head(h->buf.p, h->buf.len, &c->rh);
            if (r == 0)
                return;
            if (r < 0) {
                h->resync = true;
                f->st->skipped_bytes[TIDE_PCAP_SKIP_UNPARSABLE]++;
                consume(f, c, h, 1);
                continue;
            }
            c->rq_start = ts_at(h, h->base, now);
            tide_buf_reset(&c->rq_body);
            c->rq_trunc = false;
            c->rq_body_total = 0;
            if (!c->rh.chunked && c->rh.content_length <= 0) {
                /* no body: the record is made while the head's views are good */
                queue_request(f, c);
                consume(f, c, h, (size_t)r);
                continue;
            }
            /* a body follows: keep the head, as the buffer moves */
            tide_buf_reset(&c->rq_head);
            if (tide_buf_append(&c->rq_head, h->buf.p, (size_t)r)) {
                /* no memory for the head: the request is lost, and said so */
                f->st->skipped_bytes[TIDE_PCAP_SKIP_EVICTED] += (uint64_t)r;
                consume(f, c, h, (size_t)r);
                h->resync = true;
                continue;
            }
            rebase(&c->rh, h->buf.p, (size_t)r, c->rq_head.p);
            consume(f, c, h, (size_t)r);
            if (c->rh.chunked) {
                c->rq_state = 2;
                memset(&c->rq_ch, 0, sizeof(c->rq_ch));
            } else {
                c->rq_state = 1;
                c->rq_left = (uint64_t)c->rh.content_length;
            }
        }
        if (c->rq_state == 1) {
            size_t take = h->buf.len < c->rq_left ? h->buf.len : (size_t)c->rq_left;
            size_t room = c->rq_body.len < f->o.max_body ? f->o.max_body - c->rq_body.len : 0;
            tide_buf_append(&c->rq_body, h->buf.p, take < room ? take : room);
            if (take > room)
                c->rq_trunc = true;
            c->rq_body_total += take;
            c->rq_left -= take;
            consume(f, c, h, take);
            if (c->rq_left)
                return;
            queue_request(f, c);
            c->rq_state = 0;
            continue;
        }
        if (c->rq_state == 2) {
            long used = tide_http_chunked(&c->rq_ch, h->buf.p, h->buf.len, &c->rq_body_total, &c->rq_body,
                                           f->o.max_body, &c->rq_trunc);
            if (used < 0) {
                h->resync = true;
                c->rq_state = 0;
                c->early = false; /* the request it answered is lost */
                continue;
            }
            consume(f, c, h, (size_t)used);
            if (c->rq_ch.state != TIDE_CH_DONE)
                return;
            queue_request(f, c);
            c->rq_state = 0;
        }
    }
}

/* Runs the response parser over the server half. */
static void parse_responses(struct tide__flows *f, struct conn *c, int64_t now)
{
    struct half *h = &c->h[1];
    for (;;) {
        if (c->kind != C_HTTP || h->buf.len == 0 || c->rs_state == 4)
            return;
        if (c->rs_state == 0) {
            struct tide_http_head rh;
            long r;
            if (h->resync || (h->buf.len >= 5 && memcmp(h->buf.p, "HTTP/", 5) != 0)) {
                size_t at = resync_response(h->buf.p, h->buf.len);
                if (at) {
                    f->st->skipped_bytes[TIDE_PCAP_SKIP_UNPARSABLE] += at;
                    consume(f, c, h, at);
                }
                h->resync = false;
                if (h->buf.len < 7)
                    return;
            }
            r = tide_http_response_head(h->buf.p, h->buf.len, &rh);
            if (r == 0)
                return;
            if (r < 0) {
                h->resync = true;
                f->st->skipped_bytes[TIDE_PCAP_SKIP_UNPARSABLE]++;
                consume(f, c, h, 1);
                continue;
            }
            consume(f, c, h, (size_t)r);
            c->rs_status = rh.status;
            c->rs_bytes = 0;
            if (rh.status >= 100 && rh.status < 200 && rh.status != 101)
                continue; /* interim (100 Continue): the real answer follows */
            if (rh.status == 101) {
                finish_response(f, c, ts_at(h, h->base - 1, now));
                c->rs_state = 4; /* upgraded: no more HTTP on this connection */
                return;
            }
            if ((c->fifo && c->fifo->head) || rh.status == 204 || rh.status == 304) {
                finish_response(f, c, ts_at(h, h->base - 1, now));
                continue;
            }
            if (rh.chunked) {
                c->rs_state = 2;
                memset(&c->rs_ch, 0, sizeof(c->rs_ch));
            } else if (rh.content_length >= 0) {
                if (rh.content_length == 0) {
                    finish_response(f, c, ts_at(h, h->base - 1, now));
                    continue;
                }
                c->rs_state = 1;
                c->rs_left = (uint64_t)rh.content_length;
            } else {
                c->rs_state = 3; /* delimited by close */
            }
        }
        if (c->rs_state == 1) {
            size_t take = h->buf.len < c->rs_left ? h->buf.len : (size_t)c->rs_left;
            c->rs_left -= take;
            c->rs_bytes += take;
            consume(f, c, h, take);
            if (c->rs_left)
                return;
            finish_response(f, c, ts_at(h, h->base - 1, now));
            c->rs_state = 0;
            continue;
        }
        if (c->rs_state == 2) {
            long used = tide_http_chunked(&c->rs_ch, h->buf.p, h->buf.len, &c->rs_bytes, NULL, 0, NULL);
            if (used < 0) {
                h->resync = true;
                c->rs_state = 0;
                continue;
            }
            consume(f, c, h, (size_t)used);
            if (c->rs_ch.state != TIDE_CH_DONE)
                return;
            finish_response(f, c, ts_at(h, h->base - 1, now));
            c->rs_state = 0;
            continue;
        }
        if (c->rs_state == 3) {
            c->rs_bytes += h->buf.len;
            consume(f, c, h, h->buf.len);
            return; /* completes when the server closes */
        }
    }
}

static void conn_close(struct tide__flows *f, struct conn *c, int64_t ts)
{
    struct pending *p;
    struct conn **pp;
    if (c->rs_state == 3)
        finish_response(f, c, ts);
    if (c->early && c->rq_state != 0 && !c->fifo) {
        /* answered early and closed before the body was whole (a 413, a 401
         * that did not read the upload): kept, its body flagged cut short */
        c->rq_trunc = true;
        queue_request(f, c);
        c->rq_state = 0;
    }
    while ((p = c->fifo)) {
        c->fifo = p->next;
        emit_pending(f, p, -1, -1, 0);
    }
    pp = &f->tab[key_hash(&c->key) & (f->cap - 1)];
    while (*pp && *pp != c)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = c->hnext;
    lru_unlink(f, c);
    f->mem -= c->mem;
    f->n--;
    half_free(&c->h[0]);
    half_free(&c->h[1]);
    tide_buf_free(&c->rq_head);
    tide_buf_free(&c->rq_body);
    free(c);
}

static struct conn *lookup(struct tide__flows *f, const struct tide__flowkey *k, int *dir, bool create,
                           int64_t ts)
{
    size_t i = key_hash(k) & (f->cap - 1);
    struct conn *c;
    for (c = f->tab[i]; c; c = c->hnext) {
        if (same_ep(&c->key.a, &k->a) && same_ep(&c->key.b, &k->b)) {
            *dir = 0;
            return c;
        }
        if (same_ep(&c->key.a, &k->b) && same_ep(&c->key.b, &k->a)) {
            *dir = 1;
            return c;
        }
    }
    if (!create)
        return NULL;
    if (f->n * 2 >= f->cap) { /* grow the table */
        size_t nc = f->cap * 2, j;
        struct conn **nt = calloc(nc, sizeof(*nt));
        if (nt) {
            for (j = 0; j < f->cap; j++)
                while (f->tab[j]) {
                    struct conn *x = f->tab[j];
                    f->tab[j] = x->hnext;
                    x->hnext = nt[key_hash(&x->key) & (nc - 1)];
                    nt[key_hash(&x->key) & (nc - 1)] = x;
                }
            free(f->tab);
            f->tab = nt;
            f->cap = nc;
            i = key_hash(k) & (f->cap - 1);
        }
    }
    c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->key = *k;
    c->last_ts = ts;
    tide_buf_init(&c->h[0].buf, 0);
    tide_buf_init(&c->h[1].buf, 0);
    tide_buf_init(&c->rq_head, 0);
    tide_buf_init(&c->rq_body, 0);
    c->hnext = f->tab[i];
    f->tab[i] = c;
    f->n++;
    f->st->connections++;
    *dir = 0;
    return c;
}

static void add_mark(struct half *h, uint64_t off, int64_t ts)
{
    if (h->n_marks && h->marks[h->n_marks - 1].ts == ts)
        return;
    if (h->n_marks == h->cap_marks) {
        size_t nc = h->cap_marks ? h->cap_marks * 2 : 16;
        struct tsmark *nm = realloc(h->marks, nc * sizeof(*nm));
        if (!nm)
            return;
        h->marks = nm;
        h->cap_marks = nc;
    }
    h->marks[h->n_marks].off = off;
    h->marks[h->n_marks].ts = ts;
    h->n_marks++;
}

/* Keeps n stream bytes at the end of h's buffer. With no memory for them,
 * they and what the buffer held are counted as evicted, and the parser
 * starts again at the next message after them. */
static void keep(struct tide__flows *f, struct conn *c, struct half *h, const char *p, size_t n)
{
    if (tide_buf_append(&h->buf, p, n) == 0) {
        c->mem += n;
        f->mem += n;
        return;
    }
    f->st->skipped_bytes[TIDE_PCAP_SKIP_EVICTED] += h->buf.len + n;
    consume(f, c, h, h->buf.len);
    h->base += n;
    h->resync = true;
}

static void append(struct tide__flows *f, struct conn *c, struct half *h, const char *p, size_t n, int64_t ts)
{
    if (h->buf.len + n > HALF_CAP) {
        /* nobody is reading this far ahead: the stream is not usable HTTP */
        f->st->skipped_bytes[TIDE_PCAP_SKIP_EVICTED] += h->buf.len;
        consume(f, c, h, h->buf.len);
        h->resync = true;
    }
    add_mark(h, h->base + h->buf.len, ts);
    keep(f, c, h, p, n);
    h->next += (uint32_t)n;
}

/* The common case: a segment in order with nothing buffered before it. The
 * parsers read it where it lies; only what they leave (a message cut at the
 * segment's end) is copied into the buffer. */
static void parse_in_place(struct tide__flows *f, struct conn *c, struct half *h, const char *p, size_t n,
                           int64_t ts)
{
    add_mark(h, h->base, ts);
    h->next += (uint32_t)n;
    h->own = h->buf;
    h->buf.p = (char *)(uintptr_t)p; /* read only: consume() moves the view, not the bytes */
    h->buf.len = n;
    h->borrowed = true;
    parse_requests(f, c, ts);
    parse_responses(f, c, ts);
    p = h->buf.p;
    n = h->buf.len;
    h->buf = h->own;
    h->borrowed = false;
    if (n)
        keep(f, c, h, p, n);
}

/* Moves waiting segments that now fit in order into the buffer. */
static void drain_ooo(struct tide__flows *f, struct conn *c, struct half *h)
{
    bool moved = true;
    while (moved) {
        size_t i;
        moved = false;
        for (i = 0; i < h->n_segs; i++) {
            struct seg *s = &h->segs[i];
            int32_t d = (int32_t)(s->seq - h->next);
            if (d <= 0) {
                size_t skip = (size_t)(0u - (uint32_t)d); /* d <= 0: how far the segment starts before next */
                if (skip < s->len)
                    append(f, c, h, s->data + skip, s->len - skip, s->ts);
                free(s->data);
                f->mem -= s->len;
                c->mem -= s->len;
                h->seg_bytes -= s->len;
                h->segs[i] = h->segs[--h->n_segs];
                moved = true;
                break;
            }
        }
    }
}

/* Gives up on the bytes missing before the earliest waiting segment. */
static void skip_gap(struct tide__flows *f, struct conn *c, struct half *h)
{
    size_t i, best = 0;
    uint32_t gap;
    if (!h->n_segs)
        return;
    for (i = 1; i < h->n_segs; i++)
        if ((int32_t)(h->segs[i].seq - h->segs[best].seq) < 0)
            best = i;
    gap = h->segs[best].seq - h->next;
    f->st->skipped[TIDE_PCAP_SKIP_GAP]++;
    f->st->skipped_bytes[TIDE_PCAP_SKIP_GAP] += gap;
    /* what was half-parsed cannot complete: the parser restarts at a message start */
    h->base += h->buf.len + gap;
    f->mem -= h->buf.len;
    c->mem -= h->buf.len;
    h->buf.len = 0;
    h->n_marks = 0;
    h->next = h->segs[best].seq;
    h->resync = true;
    if (h == &c->h[0]) {
        c->rq_state = 0;
        c->early = false;
    } else if (c->rs_state != 4)
        c->rs_state = 0;
    drain_ooo(f, c, h);
}

void tide__flows_segment(struct tide__flows *f, const struct tide__flowkey *k, uint32_t seq, uint8_t flags,
                         const char *data, size_t len, int64_t ts)
{
    int dir;
    struct conn *c;
    struct half *h;
    bool syn = flags & 0x02, ack = flags & 0x10, fin = flags & 0x01, rst = flags & 0x04;
    c = lookup(f, k, &dir, len > 0 || (syn && !ack), ts);
    if (!c)
        return;
    if (!c->client_known) {
        /* the client: who sent the SYN, else who talks to a server port */
        bool a_is_client;
        if (syn && !ack)
            a_is_client = dir == 0;
        else if (syn && ack)
            a_is_client = dir == 1;
        else
            a_is_client = f->o.is_server_port(f->o.userp, dir == 0 ? k->b.port : k->a.port) ? dir == 0 : dir == 1;
        if (!a_is_client) {
            struct tide__endpoint t = c->key.a;
            c->key.a = c->key.b;
            c->key.b = t;
            dir = 1 - dir;
        }
        c->client_known = true;
    }
    h = &c->h[dir];
    c->last_ts = ts;
    lru_front(f, c);
    if (syn) {
        h->seq_set = true;
        h->next = seq + 1;
    }
    if (len > 0) {
        int32_t d;
        if (!h->seq_set && len == 1 && !(flags & 0x08)) {
            /* picked up mid-stream and the first segment is one byte without PSH: a
             * keep-alive probe (it repeats the byte before the stream's next one) */
            return;
        }
        if (!h->seq_set) { /* picked up mid-stream */
            h->seq_set = true;
            h->next = seq;
            h->resync = true; /* the parser starts at the next message start */
        }
        d = (int32_t)(seq - h->next);
        if (d == 0 && h->buf.len == 0 && h->n_segs == 0 && c->kind == C_HTTP) {
            parse_in_place(f, c, h, data, len, ts);
            goto parsed;
        }
        if (d <= 0) {
            size_t skip = (size_t)(0u - (uint32_t)d); /* d <= 0: how far the segment starts before next */
            if (skip < len) /* retransmission overlap: the first copy won */
                append(f, c, h, data + skip, len - skip, ts);
            drain_ooo(f, c, h);
        } else if (h->n_segs < MAX_OOO_SEGMENTS && h->seg_bytes + len <= HALF_CAP) {
            struct seg *s = &h->segs[h->n_segs];
            s->data = malloc(len);
            if (s->data) {
                memcpy(s->data, data, len);
                s->seq = seq;
                s->len = len;
                s->ts = ts;
                h->n_segs++;
                h->seg_bytes += len;
                c->mem += len;
                f->mem += len;
            }
        } else {
            skip_gap(f, c, h); /* too much waiting: the hole will not fill */
        }
        classify(f, c, &c->h[0]);
        if (c->kind == C_HTTP) {
            parse_requests(f, c, ts);
            parse_responses(f, c, ts);
        } else if (c->kind != C_UNKNOWN) {
            /* not ours: drop what is buffered, keep counting the bytes */
            size_t drop = h->buf.len;
            f->st->skipped_bytes[c->kind == C_TLS ? TIDE_PCAP_SKIP_TLS : c->kind == C_HTTP2 ? TIDE_PCAP_SKIP_HTTP2 : TIDE_PCAP_SKIP_NOT_HTTP] += len;
            consume(f, c, h, drop);
        }
    }
parsed:
    if (fin || rst) {
        if (fin)
            h->fin = true;
        if (h->n_segs)
            skip_gap(f, c, h);
        if (c->kind == C_HTTP) {
            parse_requests(f, c, ts);
            parse_responses(f, c, ts);
        }
        if (dir == 1 && c->rs_state == 3) {
            finish_response(f, c, ts);
            c->rs_state = 0;
        }
        if (rst || (c->h[0].fin && c->h[1].fin))
            conn_close(f, c, ts);
    }
    while (f->mem > f->o.max_memory && f->lru_tail && f->lru_tail != c) {
        f->st->skipped[TIDE_PCAP_SKIP_EVICTED]++;
        f->st->skipped_bytes[TIDE_PCAP_SKIP_EVICTED] += f->lru_tail->mem;
        conn_close(f, f->lru_tail, ts);
    }
}

int64_t tide__flows_oldest_pending(const struct tide__flows *f, int64_t now)
{
    int64_t t = now;
    const struct conn *c;
    for (c = f->lru_head; c; c = c->lru_next) {
        if (c->fifo && c->fifo->e->rec.ts_ns < t)
            t = c->fifo->e->rec.ts_ns;
        if (c->rq_state != 0 && c->rq_start < t)
            t = c->rq_start; /* a request body still arriving */
        if (c->rq_state == 0 && c->h[0].buf.len && c->h[0].n_marks && c->h[0].marks[0].ts < t)
            t = c->h[0].marks[0].ts; /* a request head still arriving */
        if (c->h[0].n_segs)
            for (size_t i = 0; i < c->h[0].n_segs; i++)
                if (c->h[0].segs[i].ts < t)
                    t = c->h[0].segs[i].ts; /* waiting segments may complete an earlier one */
    }
    return t;
}

void tide__flows_expire(struct tide__flows *f, int64_t now)
{
    while (f->lru_tail && now - f->lru_tail->last_ts > f->o.idle_timeout_ns)
        conn_close(f, f->lru_tail, now);
}

void tide__flows_free(struct tide__flows *f, int64_t now)
{
    if (!f)
        return;
    while (f->lru_tail)
        conn_close(f, f->lru_tail, now);
    while (f->spare) {
        struct pending *p = f->spare;
        f->spare = p->next;
        free(p);
    }
    free(f->tab);
    free(f);
}

struct tide__flow_opts *tide__flows_opts(struct tide__flows *f) { return &f->o; }

void tide__endpoint_addr(const struct tide__endpoint *e, char *out, size_t cap)
{
    inet_ntop(e->v6 ? AF_INET6 : AF_INET, e->addr, out, (socklen_t)cap);
}
