/*
 * engine.c - the open-loop replay engine: worker threads, each with one
 * libuv loop driving either tide's own HTTP/1.1 client (h1.c, the default for
 * http://) or one libcurl multi handle through its socket interface (HTTPS,
 * HTTP/2, --client curl).
 *
 * Each worker reads the trace itself (decoding is far cheaper than sending)
 * and keeps the sessions whose hash falls to it, so a session stays in order
 * on one worker and no queue crosses threads. Read-ahead is bounded by a
 * fixed pool of job slots: memory is flat however long the trace. Jobs wait
 * in a min-heap by due time; a timerfd (libuv's timers have millisecond
 * resolution) wakes the loop just before each due time, and the job is sent
 * then whether or not earlier requests have answered. Latency is measured from the due time and from the send; how
 * late each send was is measured as lag. Expected load: up to tens of
 * thousands of requests per second per worker.
 */
#define _GNU_SOURCE
#include "replay_int.h"

#include <curl/curl.h>
#include <pthread.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stddef.h>
#include <strings.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

#define JOBS 2048 /* job slots per worker: bounds read-ahead and in-flight requests (each holds a curl handle) */
#define EARLY_NS 20000 /* wake this much before a due time; send what is due within 100 us */

struct worker;

struct job {
    int64_t due, sent;
    struct tide_buf url, hdrs, body;
    char method[16];
    int family, klass, rec_status, clone, stage;
    bool has_body;
    bool send_body; /* the request carries j->body: neither GET nor HEAD, and a body recorded or POST/PUT */
    struct curl_slist *hl; /* the request's header list, over hdrs (grown, never shrunk) */
    size_t cap_hl;
    bool flying; /* sent, not yet done */
    CURL *easy;
    struct tide__h1_req h1; /* the native client's request, over wire */
    struct tide_buf wire;
    struct worker *w;
    struct job *next_free;
    uint64_t bytes;
};

struct sockctx {
    uv_poll_t poll;
    curl_socket_t fd;
    struct worker *w;
};

/* A stage as the schedule uses it: where it starts on the wall clock and in the
 * (looped) trace, how fast the trace runs through it, at what volume. */
struct sched_stage {
    int64_t wall_from, trace_from, trace_len; /* ns */
    double speed, mult;
};

struct abort_sec {
    uint64_t completed, errors, no_answer, s5xx;
    struct tide_hist h;
};

struct shared {
    const struct tide_replay_opts *o;
    int64_t window_start, window_end, start_at, loop_len;
    uint64_t window_records;
    struct sched_stage st[TIDE_MAX_STAGES];
    int n_st;
    int64_t trace_total; /* trace time the whole schedule consumes (looped) */
    int64_t schedule_len; /* wall time from the start to the end of the last stage */
    int64_t tl_step;     /* the timeline's point width */
    char base[512]; /* target without trailing slash */
    bool native;              /* the native HTTP/1.1 client (h1.c), not libcurl */
    struct sockaddr_storage addr; /* the target's address (native) */
    size_t origin_len;        /* "http://host:port" in base; the rest is a path prefix */
    char host_line[320];      /* "Host: host[:port]\r\n", when the record has none */
    size_t host_line_len;
    size_t run_id_len;
    char host_value[256];
    int host_mode; /* 0 keep, 1 target, 2 value */
    char **auth;
    size_t n_auth;
    int expect[64];
    int n_expect;
    volatile int *stop;
    /* abort triggers: one slot per second of the run, written by workers as
     * requests complete, read by the watcher once a second */
    struct abort_sec *ring;
    int ring_n;
    volatile int abort_flag, finished;
    int mfd; /* the /metrics listener, or -1 */
    struct worker *ws;
    int n_ws;
    char abort_reason[320];
    volatile uint64_t progress_sent, progress_done, progress_err, progress_sched;
    volatile uint64_t p95_us[256]; /* each worker's P95 from due time, published every second */
};

struct worker {
    int id;
    pthread_t th;
    pthread_mutex_t mu; /* held while a callback runs, when /metrics may read res */
    struct shared *sh;
    uv_loop_t loop;
    uv_timer_t sched_timer, curl_timer, stop_timer;
    int tfd;          /* timerfd: nanosecond wakeups, which libuv's ms timers lack */
    uv_poll_t tpoll;
    bool tpoll_on;
    CURLM *multi;
    struct tide__h1 *h1; /* instead of multi, for plain http:// */
    int fd;
    struct tide_trace_reader *r;
    bool reader_done;
    int loop_no, stage_hint;
    int64_t gap_offset, prev_ts;
    bool have_prev;
    struct job *jobs, *free_jobs;
    struct hslot {
        int64_t due;
        struct job *j;
    } *heap;
    size_t heap_n, in_flight;
    CURL **easy_pool;
    size_t n_easy;
    regex_t inc, exc;
    bool has_inc, has_exc;
    struct tide_strmap fam;
    struct kcache {
        uint64_t h;
        uint32_t len;
        int klass; /* -1: empty */
    } kc[256]; /* user agent -> traffic class, by hash */
    struct tide_replay_result *res;
    struct tide_buf tmp;
    bool stopping, finished;
    int ticks;
    int64_t drain_deadline;
    uint64_t rec_no;
    int rc;
    char errmsg[1024];
};

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * TIDE_NS_PER_SEC + t.tv_nsec;
}

const char *tide__err_name(int k)
{
    static const char *N[] = {"timeout", "connection refused", "connection reset",
                              "empty reply", "garbage reply", "tls", "no descriptor left",
                              "other"};
    return k >= 0 && k < ERR_KINDS ? N[k] : "?";
}

/* ---- heap of jobs by due time ---------------------------------------------------------- */

/* The heap holds each job's due time beside it: comparing touches no job. */
static void heap_push(struct worker *w, struct job *j)
{
    size_t i = w->heap_n++;
    while (i > 0 && j->due < w->heap[(i - 1) / 2].due) {
        w->heap[i] = w->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    w->heap[i].due = j->due;
    w->heap[i].j = j;
}

static struct job *heap_pop(struct worker *w)
{
    struct job *top = w->heap[0].j;
    struct hslot last = w->heap[--w->heap_n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        int64_t md = last.due;
        if (l < w->heap_n && w->heap[l].due < md) {
            m = l;
            md = w->heap[l].due;
        }
        if (l + 1 < w->heap_n && w->heap[l + 1].due < md)
            m = l + 1;
        if (m == i)
            break;
        w->heap[i] = w->heap[m];
        i = m;
    }
    if (w->heap_n)
        w->heap[i] = last;
    return top;
}

/* ---- building jobs from records ------------------------------------------------------------ */

static const char *METHODS_SAFE[] = {"GET", "HEAD", "OPTIONS"};

static bool method_allowed(const struct tide_replay_opts *o, struct tide_str m)
{
    size_t i;
    if (o->allow_all_methods)
        return true;
    if (o->methods_mask == 0) {
        for (i = 0; i < 3; i++)
            if (tide_str_is_eq_c(m, METHODS_SAFE[i]))
                return true;
        return false;
    }
    {
        static const char *ALL[] = {"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"};
        for (i = 0; i < 7; i++)
            if ((o->methods_mask & (1u << i)) && tide_str_is_eq_c(m, ALL[i]))
                return true;
    }
    return false;
}

static int family_of(struct worker *w, const struct tide_record *r)
{
    struct tide_strmap_ent *e;
    bool added;
    int rc;
    tide_buf_reset(&w->tmp);
    tide_buf_append(&w->tmp, r->method.p, r->method.len);
    tide_buf_putc(&w->tmp, ' ');
    tide_route_template(r->path, &w->tmp);
    e = tide_strmap_upsert(&w->fam, tide_str_make(w->tmp.p, w->tmp.len), &added, &rc);
    if (!e)
        return TIDE__MAX_FAMILIES - 1; /* "(other)" */
    if (added) {
        e->value = w->fam.n - 1;
        snprintf(w->res->family_name[e->value], sizeof(w->res->family_name[0]), "%.*s",
                 (int)(w->tmp.len > 120 ? 120 : w->tmp.len), w->tmp.p);
        if (w->res->n_families < (int)w->fam.n)
            w->res->n_families = (int)w->fam.n;
    }
    return (int)e->value;
}

static bool skip_header(struct tide_str n)
{
    static const struct {
        const char *s;
        size_t len;
    } H[] = {{"Host", 4},          {"Content-Length", 14},  {"Transfer-Encoding", 17}, {"Connection", 10},
             {"Keep-Alive", 10},   {"Expect", 6},           {"Upgrade", 7},            {"TE", 2},
             {"Proxy-Connection", 16}, {"X-Request-Id", 12}, {"X-Tide-Run", 10}};
    size_t i;
    for (i = 0; i < sizeof(H) / sizeof(H[0]); i++) /* lengths first: this runs for every header sent */
        if (n.len == H[i].len && strncasecmp(n.p, H[i].s, n.len) == 0)
            return true;
    return false;
}

/* v in decimal onto b (printf's machinery cost a visible share of a request). */
static void put_dec(struct tide_buf *b, uint64_t v)
{
    char d[20];
    tide_buf_append(b, d, tide_u64_dec(d, v));
}

/* The traffic class of a user agent, remembered by its hash: a trace holds few
 * distinct user agents, and matching a dozen names in each cost more than hashing. */
static int class_of(struct worker *w, struct tide_str ua)
{
    uint64_t hv = tide_hash_bytes(ua.p, ua.len, 0x75612d636c617373ull);
    struct kcache *e = &w->kc[hv & 255];
    if (e->klass < 0 || e->h != hv || e->len != ua.len) {
        e->h = hv;
        e->len = (uint32_t)ua.len;
        e->klass = tide_traffic_class(ua);
    }
    return e->klass;
}

/* Fills job j for clone c of record r. */
static struct tide__tlpt *tl_at(struct worker *w, int64_t t)
{
    int64_t i = (t - w->sh->start_at) / w->sh->tl_step;
    return &w->res->tl[i < 0 ? 0 : i >= TIDE__TL_POINTS ? TIDE__TL_POINTS - 1 : i];
}

/* Header lines as the job's client wants them: NUL-terminated lines for
 * libcurl's list, or HTTP/1.1 bytes (CRLF) for the native client, which also
 * leaves out what libcurl would (a line without a value) and what would break
 * the message (CR or LF in a value), and notes Host and Accept. */
struct emit {
    struct tide_buf *b;
    bool native, host, accept;
    size_t line; /* where the current line starts */
};

static void hdr_begin(struct emit *e, const char *name, size_t nl)
{
    e->line = e->b->len;
    tide_buf_append(e->b, name, nl);
    tide_buf_append(e->b, ": ", 2);
}

static void hdr_end(struct emit *e)
{
    struct tide_buf *b = e->b;
    const char *ln = b->p + e->line, *colon;
    size_t n = b->len - e->line;
    if (!e->native) {
        tide_buf_putc(b, 0);
        return;
    }
    colon = memchr(ln, ':', n);
    if (colon) {
        const char *v = colon + 1;
        while (v < ln + n && (*v == ' ' || *v == '\t'))
            v++;
        if (v == ln + n)
            colon = NULL; /* no value */
    }
    if (!colon || memchr(ln, '\r', n) || memchr(ln, '\n', n)) {
        b->len = e->line;
        return;
    }
    e->host |= colon - ln == 4 && strncasecmp(ln, "Host", 4) == 0;
    e->accept |= colon - ln == 6 && strncasecmp(ln, "Accept", 6) == 0;
    tide_buf_append(b, "\r\n", 2);
}

/* A whole "Name: value" line. */
static void hdr_line(struct emit *e, const char *line, size_t n)
{
    e->line = e->b->len;
    tide_buf_append(e->b, line, n);
    hdr_end(e);
}

/* Percent-encodes, in place, bytes a request line cannot hold in b[from..). */
static void encode_target(struct worker *w, struct tide_buf *b, size_t from)
{
    size_t i, n = b->len - from;
    for (i = 0; i < n; i++)
        if ((unsigned char)b->p[from + i] <= 0x20 || (unsigned char)b->p[from + i] >= 0x7f)
            break;
    if (i == n)
        return; /* the usual case */
    tide_buf_reset(&w->tmp);
    tide_buf_append(&w->tmp, b->p + from, n);
    b->len = from;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)w->tmp.p[i];
        if (ch <= 0x20 || ch >= 0x7f)
            tide_buf_printf(b, "%%%02X", ch);
        else
            tide_buf_putc(b, (char)ch);
    }
}

/* Fills job j for clone c of record r: a URL and header lines for libcurl, or
 * the request's bytes (all but the body) for the native client. */
static void build_job(struct worker *w, struct job *j, const struct tide_record *r, int c,
                      uint64_t sh, int family, int klass)
{
    struct shared *s = w->sh;
    const struct tide_replay_opts *o = s->o;
    uint32_t i;
    const char *auth_line = NULL;
    size_t auth_nl = 0;
    struct emit e = {w->h1 ? &j->wire : &j->hdrs, w->h1 != NULL, false, false, 0};
    struct tide_buf *b = e.b;
    if (s->n_auth) {
        auth_line = s->auth[(sh + (uint64_t)c * 7919) % s->n_auth];
        auth_nl = (size_t)(strchr(auth_line, ':') - auth_line);
    }
    {
        size_t ml = r->method.len > 15 ? 15 : r->method.len;
        memcpy(j->method, r->method.p, ml);
        j->method[ml] = 0;
    }
    /* the URL (libcurl) or the request line (native) */
    {
        struct tide_buf *u = e.native ? b : &j->url;
        size_t from;
        tide_buf_reset(u);
        if (e.native) {
            tide_buf_append(u, j->method, strlen(j->method));
            tide_buf_putc(u, ' ');
            from = u->len;
            tide_buf_append(u, s->base + s->origin_len, strlen(s->base + s->origin_len));
        } else {
            from = 0;
            tide_buf_append(u, s->base, strlen(s->base));
        }
        if (!r->path.len || r->path.p[0] != '/')
            tide_buf_putc(u, '/');
        tide_clone_rewrite(r->path, c, u);
        if (r->query.len) {
            tide_buf_putc(u, '?');
            tide_clone_rewrite(r->query, c, u);
        }
        if (e.native) {
            encode_target(w, u, from);
            tide_buf_append(u, " HTTP/1.1\r\n", 11);
        } else {
            tide_buf_putc(u, 0);
            tide_buf_reset(b);
        }
    }
    for (i = 0; i < r->n_headers; i++) {
        const struct tide_header *h = &r->headers[i];
        if (skip_header(h->name))
            continue;
        if (auth_line && h->name.len == auth_nl && strncasecmp(h->name.p, auth_line, auth_nl) == 0)
            continue; /* replaced by the auth map's credential */
        hdr_begin(&e, h->name.p, h->name.len);
        tide_clone_rewrite(h->value, c, b);
        hdr_end(&e);
    }
    if (auth_line)
        hdr_line(&e, auth_line, strlen(auth_line));
    if (s->host_mode == 0) {
        struct tide_str hv = tide_record_header(r, "Host");
        if (!hv.p)
            hv = r->host;
        if (hv.len) {
            hdr_begin(&e, "Host", 4);
            tide_buf_append(b, hv.p, hv.len);
            hdr_end(&e);
        }
    } else if (s->host_mode == 2) {
        hdr_begin(&e, "Host", 4);
        tide_buf_append(b, s->host_value, strlen(s->host_value));
        hdr_end(&e);
    }
    hdr_begin(&e, "X-Request-Id", 12); /* <run>-<record>-<clone> */
    tide_buf_append(b, o->run_id, s->run_id_len);
    tide_buf_putc(b, '-');
    put_dec(b, w->rec_no);
    tide_buf_putc(b, '-');
    put_dec(b, (uint64_t)c);
    hdr_end(&e);
    hdr_begin(&e, "X-Tide-Run", 10);
    tide_buf_append(b, o->run_id, s->run_id_len);
    hdr_end(&e);
    if (o->n_stages > 0 && j->stage < o->n_stages) {
        hdr_begin(&e, "X-Tide-Stage", 12);
        tide_buf_append(b, o->stages[j->stage].name, strlen(o->stages[j->stage].name));
        hdr_end(&e);
    }
    for (i = 0; i < (uint32_t)o->n_headers; i++)
        hdr_line(&e, o->headers[i], strlen(o->headers[i]));
    tide_buf_reset(&j->body);
    j->has_body = (r->flags & TIDE_REC_HAS_BODY) != 0 || r->body.len > 0;
    if (j->has_body)
        tide_clone_rewrite(r->body, c, &j->body);
    j->send_body = strcmp(j->method, "GET") != 0 && strcmp(j->method, "HEAD") != 0 &&
                   (j->has_body || strcmp(j->method, "POST") == 0 || strcmp(j->method, "PUT") == 0);
    if (!e.native) {
        tide_buf_append(b, "Expect:", 8); /* no 100-continue round trip */
    } else {
        /* libcurl's defaults, and the body's length; the body goes apart */
        if (!e.host)
            tide_buf_append(b, s->host_line, s->host_line_len);
        if (!e.accept)
            tide_buf_append(b, "Accept: */*\r\n", 13);
        if (j->send_body) {
            tide_buf_append(b, "Content-Length: ", 16);
            put_dec(b, j->body.len);
            tide_buf_append(b, "\r\n", 2);
        }
        tide_buf_append(b, "\r\n", 2);
        j->h1.wire = b->p;
        j->h1.len = b->len;
        j->h1.body = j->send_body ? j->body.p : NULL;
        j->h1.body_len = j->send_body ? j->body.len : 0;
        j->h1.no_body = strcmp(j->method, "HEAD") == 0;
        j->h1.tries = 0;
        j->h1.queued_ms = 0;
    }
    j->family = family;
    j->klass = klass;
    j->rec_status = r->status;
    j->clone = c;
}

/* Reads records until the job pool is nearly full or the trace ends. */
static void fill(struct worker *w)
{
    struct shared *s = w->sh;
    const struct tide_replay_opts *o = s->o;
    int copies_max = (int)o->multiplier + 2;
    while (!w->reader_done && !w->stopping) {
        const struct tide_record *r;
        struct tide_err err;
        struct tide_str key;
        uint64_t h, part;
        int copies, c, family, klass, rc;
        int64_t ts;
        size_t freec = 0;
        struct job *f;
        for (f = w->free_jobs; f && freec < (size_t)copies_max; f = f->next_free)
            freec++;
        if (freec < (size_t)copies_max)
            return;
        rc = tide_trace_reader_next(w->r, &r, &err);
        if (rc <= 0) {
            if (rc < 0 && w->id == 0)
                snprintf(w->errmsg, sizeof(w->errmsg), "%s: %s", err.where, err.msg);
            if (rc == 0 && (int64_t)(w->loop_no + 1) * s->loop_len < s->trace_total) {
                struct tide_trace_reader_opts ro = {.from_ns = s->window_start,
                                                    .to_ns = s->window_end + 1};
                tide_trace_reader_free(w->r);
                w->r = NULL;
                w->loop_no++;
                w->have_prev = false;
                if (tide_trace_reader_open(&w->r, w->fd, o->trace_path, &ro, &err) == 0)
                    continue;
            }
            w->reader_done = true;
            return;
        }
        w->rec_no++;
        ts = r->ts_ns;
        if (o->max_gap_ns > 0) {
            if (w->have_prev && ts - w->prev_ts > o->max_gap_ns)
                w->gap_offset += ts - w->prev_ts - o->max_gap_ns;
            w->prev_ts = ts;
            w->have_prev = true;
        }
        key = tide_session_key(r);
        h = key.len ? tide_session_hash(key) : w->rec_no * 0x9e3779b97f4a7c15ull;
        part = h / (uint64_t)(o->shard_n > 0 ? o->shard_n : 1);
        if (o->shard_n > 1 && (int)(h % (uint64_t)o->shard_n) != o->shard_k) {
            if (w->id == 0)
                w->res->skipped_shard++;
            continue;
        }
        if ((int)(part % (uint64_t)o->threads) != w->id)
            continue;
        if (!method_allowed(o, r->method)) {
            w->res->skipped_method++;
            continue;
        }
        if (w->has_inc || w->has_exc) {
            char pbuf[4096];
            snprintf(pbuf, sizeof(pbuf), "%.*s", (int)(r->path.len > 4000 ? 4000 : r->path.len), r->path.p);
            if ((w->has_inc && regexec(&w->inc, pbuf, 0, NULL, 0) != 0) ||
                (w->has_exc && regexec(&w->exc, pbuf, 0, NULL, 0) == 0)) {
                w->res->skipped_path++;
                continue;
            }
        }
        {
            /* where this record falls in the (looped) trace, and so in which stage */
            int64_t r_rel = ts - s->window_start - w->gap_offset + (int64_t)w->loop_no * s->loop_len, due;
            int k = w->stage_hint;
            const struct sched_stage *sg;
            while (k + 1 < s->n_st && r_rel >= s->st[k].trace_from + s->st[k].trace_len)
                k++;
            while (k > 0 && r_rel < s->st[k].trace_from)
                k--;
            w->stage_hint = k;
            sg = &s->st[k];
            if (r_rel >= sg->trace_from + sg->trace_len) {
                w->reader_done = true; /* past the last stage: the schedule is complete */
                return;
            }
            copies = tide_sched_copies(h, sg->mult);
            due = s->start_at + sg->wall_from + (int64_t)((double)(r_rel - sg->trace_from) / sg->speed);
            tl_at(w, due)->rec++;
            if (copies == 0)
                continue;
            family = family_of(w, r);
            klass = class_of(w, tide_record_header(r, "User-Agent"));
            for (c = 0; c < copies; c++) {
                struct job *j = w->free_jobs;
                int64_t rel;
                int minute;
                w->free_jobs = j->next_free;
                j->stage = k;
                build_job(w, j, r, c, h, family, klass);
                j->due = due + tide_sched_jitter(h, c, (int64_t)(250 * 1000000 / (sg->speed > 1 ? sg->speed : 1)));
            heap_push(w, j);
            w->res->all.scheduled++;
            __atomic_add_fetch(&s->progress_sched, 1, __ATOMIC_RELAXED);
            w->res->families[family].scheduled++;
            w->res->classes[klass].scheduled++;
            rel = (j->due - s->start_at) / (60 * TIDE_NS_PER_SEC);
            minute = rel < 0 ? 0 : rel >= TIDE__MAX_MINUTES ? TIDE__MAX_MINUTES - 1 : (int)rel;
            w->res->min_sched[minute]++;
            if (minute + 1 > w->res->n_minutes)
                w->res->n_minutes = minute + 1;
            if (o->n_stages)
                w->res->stages[k].scheduled++;
            tl_at(w, j->due)->sched++;
            }
        }
    }
}

/* ---- sending and completing -------------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *userp)
{
    struct job *j = userp;
    (void)p;
    j->bytes += size * n;
    return size * n;
}

/* A new easy handle with the options every request shares (set once, not per request). */
static CURL *easy_new(struct worker *w)
{
    const struct tide_replay_opts *o = w->sh->o;
    CURL *e = curl_easy_init();
    if (!e)
        return NULL;
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(o->timeout_ns / 1000000));
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, NULL);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, o->http2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1);
    if (o->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (o->cacert)
        curl_easy_setopt(e, CURLOPT_CAINFO, o->cacert);
    return e;
}

/* Hands j to libcurl; false if no handle could be had. */
static bool curl_send(struct worker *w, struct job *j)
{
    CURL *e = w->n_easy ? w->easy_pool[--w->n_easy] : easy_new(w);
    char *p, *end;
    size_t k = 0;
    if (!e)
        return false;
    j->easy = e;
    /* the header list points into j->hdrs (NUL-separated lines): no copy, and
     * no malloc once the job has carried as many headers before; linked once
     * the array has stopped moving */
    for (p = j->hdrs.p, end = j->hdrs.p + j->hdrs.len; p && p < end; p += strlen(p) + 1, k++) {
        if (k == j->cap_hl) {
            size_t nc = j->cap_hl ? j->cap_hl * 2 : 16;
            struct curl_slist *nh = realloc(j->hl, nc * sizeof(*nh));
            if (!nh)
                break; /* out of memory: the headers so far */
            j->hl = nh;
            j->cap_hl = nc;
        }
        j->hl[k].data = p;
    }
    for (size_t x = 0; x < k; x++)
        j->hl[x].next = x + 1 < k ? &j->hl[x + 1] : NULL;
    curl_easy_setopt(e, CURLOPT_URL, j->url.p);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, k ? j->hl : NULL);
    curl_easy_setopt(e, CURLOPT_PRIVATE, j);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
    /* the method: a reused handle keeps the last request's, so each is set in full */
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
    if (strcmp(j->method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (strcmp(j->method, "GET") != 0) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, j->method);
        if (j->send_body) {
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->body.p ? j->body.p : "");
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->body.len);
        }
    }
    curl_multi_add_handle(w->multi, e);
    return true;
}

static void send_job(struct worker *w, struct job *j, int64_t now)
{
    int64_t lag = now - j->due;
    int minute;
    j->w = w;
    j->bytes = 0;
    j->sent = now;
    if (!w->h1 && !curl_send(w, j)) {
        w->res->err[ERR_OTHER]++;
        j->next_free = w->free_jobs;
        w->free_jobs = j;
        return;
    }
    j->flying = true;
    w->in_flight++;
    w->res->all.sent++;
    w->res->families[j->family].sent++;
    w->res->classes[j->klass].sent++;
    if (w->sh->o->n_stages)
        w->res->stages[j->stage].sent++;
    tl_at(w, now)->sent++;
    tide_hist_add(&w->res->lag, lag > 0 ? (uint64_t)(lag / 1000) : 0);
    if (lag <= 1000000)
        w->res->lag_within_1ms++;
    minute = (int)((j->due - w->sh->start_at) / (60 * TIDE_NS_PER_SEC));
    if (minute >= 0 && minute < TIDE__MAX_MINUTES)
        w->res->min_sent[minute]++;
    __atomic_add_fetch(&w->sh->progress_sent, 1, __ATOMIC_RELAXED);
    if (w->h1)
        tide__h1_send(w->h1, &j->h1); /* last: a failure is reported at once */
}

static bool expected(struct shared *s, long code)
{
    int i;
    for (i = 0; i < s->n_expect; i++)
        if (s->expect[i] == code)
            return true;
    return false;
}

static void account(struct tide__slice *sl, struct job *j, long code, int errk, bool exp,
                    bool is_err, int64_t done)
{
    int64_t fd = done - j->due, fs = done - j->sent;
    sl->completed++;
    sl->bytes += j->bytes;
    if (errk >= 0) {
        sl->errors++;
        sl->status[0]++;
        if (errk == ERR_TIMEOUT)
            sl->timeouts++;
    } else {
        int cls = code >= 100 && code < 600 ? (int)(code / 100) : 0;
        sl->status[cls]++;
        if (exp)
            sl->expected++;
        if (is_err)
            sl->errors++;
        if (j->rec_status >= 100 && j->rec_status / 100 != cls)
            sl->class_mismatch++;
    }
    tide_hist_add(&sl->from_due, fd > 0 ? (uint64_t)(fd / 1000) : 0);
    tide_hist_add(&sl->from_send, fs > 0 ? (uint64_t)(fs / 1000) : 0);
}

static void pump(struct worker *w);

/* Job j has its answer (code) or failed (errk >= 0): counted everywhere, its slot freed. */
static void complete(struct worker *w, struct job *j, long code, int errk)
{
    bool exp, is_err;
    int64_t done = now_ns();
    if (errk >= 0)
        w->res->err[errk]++;
    exp = errk < 0 && expected(w->sh, code);
    /* an error: no answer, a 5xx, or a 4xx that production did not answer with */
    is_err = errk < 0 && !exp &&
             (code >= 500 || (code >= 400 && !(j->rec_status >= 400 && j->rec_status < 500)));
    account(&w->res->all, j, code, errk, exp, is_err, done);
    account(&w->res->families[j->family], j, code, errk, exp, is_err, done);
    account(&w->res->classes[j->klass], j, code, errk, exp, is_err, done);
    if (w->sh->o->n_stages)
        account(&w->res->stages[j->stage], j, code, errk, exp, is_err, done);
    {
        struct tide__tlpt *pt = tl_at(w, j->due);
        int64_t fd = done - j->due;
        pt->completed++;
        pt->errors += errk >= 0 || is_err;
        pt->lat[tide__tl_bucket(fd > 0 ? (uint64_t)(fd / 1000) : 0)]++;
    }
    if (w->sh->ring && done >= w->sh->start_at) {
        struct abort_sec *a = &w->sh->ring[((done - w->sh->start_at) / TIDE_NS_PER_SEC) % w->sh->ring_n];
        int64_t fd = done - j->due;
        uint64_t us = fd > 0 ? (uint64_t)(fd / 1000) : 0, mx;
        __atomic_add_fetch(&a->completed, 1, __ATOMIC_RELAXED);
        if (errk >= 0 || is_err)
            __atomic_add_fetch(&a->errors, 1, __ATOMIC_RELAXED);
        if (errk >= 0)
            __atomic_add_fetch(&a->no_answer, 1, __ATOMIC_RELAXED);
        else if (code >= 500)
            __atomic_add_fetch(&a->s5xx, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&a->h.b[tide_hist_bucket(us)], 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&a->h.count, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&a->h.sum, us, __ATOMIC_RELAXED);
        mx = __atomic_load_n(&a->h.max, __ATOMIC_RELAXED);
        while (us > mx && !__atomic_compare_exchange_n(&a->h.max, &mx, us, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            ;
    }
    __atomic_add_fetch(&w->sh->progress_done, 1, __ATOMIC_RELAXED);
    if (errk >= 0 || is_err)
        __atomic_add_fetch(&w->sh->progress_err, 1, __ATOMIC_RELAXED);
    j->flying = false;
    w->in_flight--;
    j->next_free = w->free_jobs;
    w->free_jobs = j;
}

static void check_done(struct worker *w)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(w->multi, &left))) {
        struct job *j;
        long code = 0;
        int errk = -1;
        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &code);
        switch (m->data.result) {
        case CURLE_OK: break;
        case CURLE_OPERATION_TIMEDOUT: errk = ERR_TIMEOUT; break;
        case CURLE_COULDNT_CONNECT: errk = ERR_REFUSED; break;
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR: errk = ERR_RESET; break;
        case CURLE_GOT_NOTHING: errk = ERR_EMPTY; break;
        case CURLE_WEIRD_SERVER_REPLY:
        case CURLE_UNSUPPORTED_PROTOCOL: errk = ERR_GARBAGE; break;
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CERTPROBLEM: errk = ERR_TLS; break;
        default: errk = ERR_OTHER;
        }
        curl_multi_remove_handle(w->multi, m->easy_handle);
        w->easy_pool[w->n_easy++] = m->easy_handle;
        complete(w, j, code, errk);
    }
}

/* ---- libcurl's socket interface on libuv ------------------------------------------------ */

/* Callbacks hold the worker's lock only when /metrics may read its results. */
static void w_lock(struct worker *w)
{
    if (w->sh->mfd >= 0)
        pthread_mutex_lock(&w->mu);
}

static void w_unlock(struct worker *w)
{
    if (w->sh->mfd >= 0)
        pthread_mutex_unlock(&w->mu);
}

static void on_poll_locked(uv_poll_t *p, int status, int events)
{
    struct sockctx *sc = p->data;
    struct worker *w = sc->w;
    int running, flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(w->multi, sc->fd, flags, &running);
    check_done(w);
    pump(w);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct worker *w_ = ((struct sockctx *)p->data)->w;
    w_lock(w_);
    on_poll_locked(p, status, events);
    w_unlock(w_);
}

static void close_sock(uv_handle_t *h) { free(h->data); }

static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct worker *w = userp;
    struct sockctx *sc = socketp;
    int ev = 0;
    (void)e;
    if (what == CURL_POLL_REMOVE) {
        if (sc) {
            uv_poll_stop(&sc->poll);
            uv_close((uv_handle_t *)&sc->poll, close_sock);
            curl_multi_assign(w->multi, fd, NULL);
        }
        return 0;
    }
    if (!sc) {
        sc = calloc(1, sizeof(*sc));
        if (!sc)
            return -1;
        sc->fd = fd;
        sc->w = w;
        uv_poll_init_socket(&w->loop, &sc->poll, fd);
        sc->poll.data = sc;
        curl_multi_assign(w->multi, fd, sc);
    }
    if (what & CURL_POLL_IN)
        ev |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        ev |= UV_WRITABLE;
    uv_poll_start(&sc->poll, ev, on_poll);
    return 0;
}

static void on_curl_timer_locked(uv_timer_t *t)
{
    struct worker *w = t->data;
    int running;
    curl_multi_socket_action(w->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(w);
    pump(w);
}

static void on_curl_timer(uv_timer_t *t)
{
    struct worker *w_ = t->data;
    w_lock(w_);
    on_curl_timer_locked(t);
    w_unlock(w_);
}

static int on_timer(CURLM *m, long ms, void *userp)
{
    struct worker *w = userp;
    (void)m;
    if (ms < 0)
        uv_timer_stop(&w->curl_timer);
    else
        uv_timer_start(&w->curl_timer, on_curl_timer, (uint64_t)ms, 0);
    return 0;
}

/* ---- the native client's callbacks ------------------------------------------------------- */

static void on_h1_done(void *arg, struct tide__h1_req *r, int status, int errk, uint64_t bytes)
{
    struct job *j = (struct job *)((char *)r - offsetof(struct job, h1));
    (void)arg;
    j->bytes = bytes;
    complete(j->w, j, status, errk);
}

static void on_h1_enter(void *arg) { w_lock(arg); }

static void on_h1_leave(void *arg)
{
    pump(arg);
    w_unlock(arg);
}

/* ---- the loop ------------------------------------------------------------------------------ */

static void on_sched(uv_timer_t *t)
{
    struct worker *w = t->data;
    w_lock(w);
    pump(w);
    w_unlock(w);
}

static void finish(struct worker *w)
{
    if (w->finished)
        return;
    w->finished = true;
    uv_timer_stop(&w->sched_timer);
    uv_timer_stop(&w->stop_timer);
    if (w->tpoll_on) {
        uv_poll_stop(&w->tpoll);
        w->tpoll_on = false;
    }
    uv_stop(&w->loop);
}

static void pump(struct worker *w)
{
    int64_t now;
    if (w->finished)
        return;
    if (w->stopping) {
        if (w->in_flight == 0 || now_ns() >= w->drain_deadline)
            finish(w);
        return;
    }
    fill(w);
    now = now_ns();
    while (w->heap_n && w->heap[0].due <= now + 100000) {
        send_job(w, heap_pop(w), now);
        now = now_ns();
    }
    if (w->heap_n == 0 && w->reader_done) {
        if (w->in_flight == 0)
            finish(w);
        return;
    }
    if (w->heap_n == 0) {
        fill(w);
        return;
    }
    {
        /* arm the timerfd for the next due time (absolute, CLOCK_REALTIME) */
        struct itimerspec its;
        int64_t at = w->heap[0].due - EARLY_NS;
        memset(&its, 0, sizeof(its));
        if (at <= now)
            at = now + 1000;
        its.it_value.tv_sec = at / TIDE_NS_PER_SEC;
        its.it_value.tv_nsec = at % TIDE_NS_PER_SEC;
        timerfd_settime(w->tfd, TFD_TIMER_ABSTIME, &its, NULL);
    }
}

static void on_tfd_locked(uv_poll_t *p, int status, int events)
{
    struct worker *w = p->data;
    uint64_t expirations;
    (void)status;
    (void)events;
    while (read(w->tfd, &expirations, sizeof(expirations)) > 0)
        ;
    pump(w);
}

static void on_tfd(uv_poll_t *p, int status, int events)
{
    struct worker *w_ = p->data;
    w_lock(w_);
    on_tfd_locked(p, status, events);
    w_unlock(w_);
}

static void on_stop_check_locked(uv_timer_t *t)
{
    struct worker *w = t->data;
    if (++w->ticks % 50 == 0 && w->id < 256)
        __atomic_store_n(&w->sh->p95_us[w->id], tide_hist_quantile(&w->res->all.from_due, 0.95), __ATOMIC_RELAXED);
    if (!w->stopping && ((w->sh->stop && *w->sh->stop) || w->sh->abort_flag)) {
        struct job *j;
        w->stopping = true;
        w->drain_deadline = now_ns() + w->sh->o->drain_ns;
        w->res->stopped = true;
        while (w->heap_n) { /* scheduled, never sent: they stay counted as scheduled */
            j = heap_pop(w);
            j->next_free = w->free_jobs;
            w->free_jobs = j;
        }
    }
    if (w->stopping && w->sh->stop && *w->sh->stop >= 2)
        w->drain_deadline = 0; /* asked twice: the answers in flight are abandoned now */
    if (w->stopping)
        pump(w);
}

static void on_stop_check(uv_timer_t *t)
{
    struct worker *w_ = t->data;
    w_lock(w_);
    on_stop_check_locked(t);
    w_unlock(w_);
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    size_t i;
    uv_run(&w->loop, UV_RUN_DEFAULT);
    /* abandon what is still in flight (drain deadline passed) */
    for (i = 0; i < JOBS; i++)
        if (w->jobs[i].flying && w->multi) {
            curl_multi_remove_handle(w->multi, w->jobs[i].easy);
            w->jobs[i].flying = false;
            w->easy_pool[w->n_easy++] = w->jobs[i].easy;
        }
    if (w->multi)
        curl_multi_cleanup(w->multi);
    w->multi = NULL;
    tide__h1_close(w->h1);
    uv_walk(&w->loop, close_walk, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    return NULL;
}

/* ---- setup and teardown ---------------------------------------------------------------------- */

/* A result shaped for this run: its stages and timeline step (workers' and the merged one alike). */
static struct tide_replay_result *run_result(const struct shared *s)
{
    const struct tide_replay_opts *o = s->o;
    struct tide_replay_result *r = tide__result_new();
    int i;
    if (!r)
        return NULL;
    r->n_stages = o->n_stages > 0 ? o->n_stages : 0;
    for (i = 0; i < r->n_stages; i++) {
        snprintf(r->stage_name[i], sizeof(r->stage_name[i]), "%s", o->stages[i].name);
        r->stage_warmup[i] = o->stages[i].warmup;
        r->stage_dur_ns[i] = o->stages[i].duration_ns;
    }
    r->tl_step_ns = s->tl_step;
    r->n_tl = TIDE__TL_POINTS;
    return r;
}

static int worker_init(struct worker *w, struct shared *s, int id, struct tide_err *err)
{
    const struct tide_replay_opts *o = s->o;
    struct tide_trace_reader_opts ro = {.from_ns = s->window_start, .to_ns = s->window_end + 1};
    size_t i;
    w->id = id;
    w->sh = s;
    pthread_mutex_init(&w->mu, NULL);
    w->res = run_result(s);
    w->jobs = calloc(JOBS, sizeof(*w->jobs));
    w->heap = calloc(JOBS, sizeof(*w->heap));
    w->easy_pool = calloc(JOBS, sizeof(*w->easy_pool));
    if (!w->res || !w->jobs || !w->heap || !w->easy_pool)
        return tide_err_set(err, TIDE_E_NOMEM, "", "out of memory");
    for (i = 0; i < JOBS; i++) {
        tide_buf_init(&w->jobs[i].url, 1 << 20);
        tide_buf_init(&w->jobs[i].hdrs, 1 << 20);
        tide_buf_init(&w->jobs[i].body, TIDE_MAX_BODY);
        tide_buf_init(&w->jobs[i].wire, 0);
        w->jobs[i].next_free = w->free_jobs;
        w->free_jobs = &w->jobs[i];
    }
    tide_strmap_init(&w->fam, TIDE__MAX_FAMILIES - 1);
    for (i = 0; i < 256; i++)
        w->kc[i].klass = -1;
    tide_buf_init(&w->tmp, 0);
    if (o->include_re && regcomp(&w->inc, o->include_re, REG_EXTENDED | REG_NOSUB) == 0)
        w->has_inc = true;
    if (o->exclude_re && regcomp(&w->exc, o->exclude_re, REG_EXTENDED | REG_NOSUB) == 0)
        w->has_exc = true;
    w->fd = open(o->trace_path, O_RDONLY | O_CLOEXEC);
    if (w->fd < 0 || tide_trace_reader_open(&w->r, w->fd, o->trace_path, &ro, err))
        return err->code ? err->code : tide_err_set(err, TIDE_E_IO, o->trace_path, "cannot open");
    uv_loop_init(&w->loop);
    uv_timer_init(&w->loop, &w->sched_timer);
    uv_timer_init(&w->loop, &w->curl_timer);
    uv_timer_init(&w->loop, &w->stop_timer);
    w->tfd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
    if (w->tfd < 0)
        return tide_err_set(err, TIDE_E_IO, "", "timerfd_create failed");
    uv_poll_init(&w->loop, &w->tpoll, w->tfd);
    w->tpoll.data = w;
    uv_poll_start(&w->tpoll, UV_READABLE, on_tfd);
    w->tpoll_on = true;
    w->sched_timer.data = w->curl_timer.data = w->stop_timer.data = w;
    if (s->native) {
        w->h1 = tide__h1_new(&w->loop, &s->addr, o->connections, o->timeout_ns, on_h1_done, on_h1_enter,
                             on_h1_leave, w);
        if (!w->h1)
            return tide_err_set(err, TIDE_E_NOMEM, "", "out of memory");
    } else {
        w->multi = curl_multi_init();
        curl_multi_setopt(w->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
        curl_multi_setopt(w->multi, CURLMOPT_SOCKETDATA, w);
        curl_multi_setopt(w->multi, CURLMOPT_TIMERFUNCTION, on_timer);
        curl_multi_setopt(w->multi, CURLMOPT_TIMERDATA, w);
        if (o->connections > 0)
            curl_multi_setopt(w->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)o->connections);
        curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS, (long)(o->connections > 0 ? o->connections : 256));
        if (o->http2)
            curl_multi_setopt(w->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    }
    uv_timer_start(&w->stop_timer, on_stop_check, 20, 20);
    uv_timer_start(&w->sched_timer, on_sched, 0, 0);
    return 0;
}

static void worker_free(struct worker *w)
{
    size_t i;
    if (w->sh)
        pthread_mutex_destroy(&w->mu);
    if (!w->jobs)
        return;
    for (i = 0; i < JOBS; i++) {
        tide_buf_free(&w->jobs[i].url);
        tide_buf_free(&w->jobs[i].hdrs);
        tide_buf_free(&w->jobs[i].body);
        tide_buf_free(&w->jobs[i].wire);
        free(w->jobs[i].hl);
    }
    for (i = 0; i < w->n_easy; i++)
        curl_easy_cleanup(w->easy_pool[i]);
    if (w->multi)
        curl_multi_cleanup(w->multi);
    tide__h1_free(w->h1);
    uv_loop_close(&w->loop);
    if (w->tfd > 0)
        close(w->tfd);
    tide_trace_reader_free(w->r);
    if (w->fd >= 0)
        close(w->fd);
    if (w->has_inc)
        regfree(&w->inc);
    if (w->has_exc)
        regfree(&w->exc);
    tide_strmap_free(&w->fam);
    tide_buf_free(&w->tmp);
    free(w->jobs);
    free(w->heap);
    free(w->easy_pool);
}

void tide__slice_merge(struct tide__slice *d, const struct tide__slice *s)
{
    int i;
    d->scheduled += s->scheduled;
    d->sent += s->sent;
    d->completed += s->completed;
    d->errors += s->errors;
    d->expected += s->expected;
    d->timeouts += s->timeouts;
    d->class_mismatch += s->class_mismatch;
    d->bytes += s->bytes;
    for (i = 0; i < 6; i++)
        d->status[i] += s->status[i];
    tide_hist_merge(&d->from_due, &s->from_due);
    tide_hist_merge(&d->from_send, &s->from_send);
}

/* Adds result src into dst, matching route families by name. */
void tide_replay_result_merge(struct tide_replay_result *d, const struct tide_replay_result *s)
{
    int i, k;
    tide__slice_merge(&d->all, &s->all);
    tide_hist_merge(&d->lag, &s->lag);
    d->lag_within_1ms += s->lag_within_1ms;
    d->skipped_method += s->skipped_method;
    d->skipped_path += s->skipped_path;
    d->skipped_shard += s->skipped_shard;
    d->stopped = d->stopped || s->stopped;
    if (!d->tl_step_ns)
        d->tl_step_ns = s->tl_step_ns;
    if (s->tl_step_ns == d->tl_step_ns) {
        for (i = 0; i < s->n_tl && i < TIDE__TL_POINTS; i++) {
            struct tide__tlpt *a = &d->tl[i];
            const struct tide__tlpt *b = &s->tl[i];
            a->sched += b->sched;
            a->rec += b->rec;
            a->sent += b->sent;
            a->completed += b->completed;
            a->errors += b->errors;
            for (k = 0; k < TIDE__TL_LAT; k++)
                a->lat[k] += b->lat[k];
        }
        if (s->n_tl > d->n_tl)
            d->n_tl = s->n_tl;
    }
    if (!d->client[0] && s->client[0])
        snprintf(d->client, sizeof(d->client), "%s", s->client);
    if (!d->aborted[0] && s->aborted[0])
        snprintf(d->aborted, sizeof(d->aborted), "%s", s->aborted);
    for (i = 0; i < ERR_KINDS; i++)
        d->err[i] += s->err[i];
    for (i = 0; i < TIDE_CLASSES; i++)
        tide__slice_merge(&d->classes[i], &s->classes[i]);
    for (i = 0; i < TIDE__MAX_FAMILIES; i++) {
        if (!s->families[i].scheduled)
            continue;
        for (k = 0; k < d->n_families; k++)
            if (strcmp(d->family_name[k], s->family_name[i]) == 0)
                break;
        if (k == d->n_families) {
            if (d->n_families >= TIDE__MAX_FAMILIES - 1)
                k = TIDE__MAX_FAMILIES - 1;
            else
                snprintf(d->family_name[d->n_families++], 128, "%s", s->family_name[i]);
        }
        tide__slice_merge(&d->families[k], &s->families[i]);
    }
    for (i = 0; i < s->n_stages && i < TIDE_MAX_STAGES; i++) {
        if (i >= d->n_stages) {
            snprintf(d->stage_name[i], sizeof(d->stage_name[i]), "%s", s->stage_name[i]);
            d->stage_warmup[i] = s->stage_warmup[i];
            d->stage_dur_ns[i] = s->stage_dur_ns[i];
        }
        tide__slice_merge(&d->stages[i], &s->stages[i]);
    }
    if (s->n_stages > d->n_stages)
        d->n_stages = s->n_stages;
    for (i = 0; i < s->n_minutes; i++) {
        d->min_sched[i] += s->min_sched[i];
        d->min_sent[i] += s->min_sent[i];
    }
    if (s->n_minutes > d->n_minutes)
        d->n_minutes = s->n_minutes;
}

struct tide_replay_result *tide__result_new(void)
{
    struct tide_replay_result *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->families = calloc(TIDE__MAX_FAMILIES, sizeof(*r->families));
    r->min_sched = calloc(TIDE__MAX_MINUTES, sizeof(uint64_t));
    r->min_sent = calloc(TIDE__MAX_MINUTES, sizeof(uint64_t));
    if (!r->families || !r->min_sched || !r->min_sent) {
        tide_replay_result_free(r);
        return NULL;
    }
    snprintf(r->family_name[TIDE__MAX_FAMILIES - 1], 128, "(other)");
    return r;
}

void tide_replay_result_free(struct tide_replay_result *r)
{
    if (!r)
        return;
    free(r->families);
    free(r->min_sched);
    free(r->min_sent);
    free(r);
}

/* Window bounds and the time the first record starts. */
static int resolve_window(struct shared *s, struct tide_err *err)
{
    const struct tide_replay_opts *o = s->o;
    struct tide_trace_reader_opts ro = {.from_ns = o->from_ns, .to_ns = o->to_ns,
                                        .from_is_offset = o->from_is_offset,
                                        .to_is_offset = o->to_is_offset};
    struct tide_trace_reader *r;
    const struct tide_record *rec;
    int fd = open(o->trace_path, O_RDONLY | O_CLOEXEC), rc;
    int64_t first = TIDE_TIME_UNKNOWN, last = TIDE_TIME_UNKNOWN;
    if (fd < 0)
        return tide_err_set(err, TIDE_E_NOTFOUND, o->trace_path, "cannot open");
    rc = tide_trace_reader_open(&r, fd, o->trace_path, &ro, err);
    if (rc) {
        close(fd);
        return rc;
    }
    while ((rc = tide_trace_reader_next(r, &rec, err)) == 1) {
        /* a stage's target rate is of requests replayed: methods not replayed do not count */
        if (method_allowed(o, rec->method))
            s->window_records++;
        if (first == TIDE_TIME_UNKNOWN || rec->ts_ns < first)
            first = rec->ts_ns;
        if (last == TIDE_TIME_UNKNOWN || rec->ts_ns > last)
            last = rec->ts_ns;
    }
    tide_trace_reader_free(r);
    close(fd);
    if (rc < 0 && rc != TIDE_E_TRUNCATED)
        return rc;
    if (first == TIDE_TIME_UNKNOWN)
        return tide_err_set(err, TIDE_E_NOTFOUND, o->trace_path, "no records in the window");
    s->window_start = first;
    s->window_end = last;
    s->loop_len = last - first + (int64_t)(o->speed > 0 ? 1 : 1) * TIDE_NS_PER_SEC;
    return 0;
}

/*
 * The stage table. Without a profile: one stage of --speed and --multiplier
 * over the window played --loop times. With one: the trace cursor runs on
 * across stages (looping the window as needed), each stage scaling it by its
 * own speed and volume; a target rate becomes the multiplier that makes the
 * window's average rate, at the stage's speed, equal it.
 */
static int build_stages(struct shared *s, struct tide_err *err)
{
    const struct tide_replay_opts *o = s->o;
    double avg = (double)s->window_records / ((double)s->loop_len / 1e9); /* requests/s at speed 1 */
    int64_t wall = 0, trace = 0;
    int k;
    if (o->n_stages <= 0) {
        s->n_st = 1;
        s->st[0].wall_from = 0;
        s->st[0].trace_from = 0;
        s->st[0].trace_len = (int64_t)(o->loops > 0 ? o->loops : 1) * s->loop_len;
        s->st[0].speed = o->speed;
        s->st[0].mult = o->multiplier;
        s->trace_total = s->st[0].trace_len;
        s->schedule_len = (int64_t)((double)s->st[0].trace_len / s->st[0].speed);
        return 0;
    }
    if (o->n_stages > TIDE_MAX_STAGES)
        return tide_err_set(err, TIDE_E_USAGE, "", "profile: at most %d stages", TIDE_MAX_STAGES);
    for (k = 0; k < o->n_stages; k++) {
        const struct tide_stage *g = &o->stages[k];
        struct sched_stage *t = &s->st[k];
        t->speed = g->speed > 0 ? g->speed : o->speed;
        t->mult = g->multiplier > 0 ? g->multiplier : avg > 0 ? g->rate / (avg * t->speed) : 0;
        t->wall_from = wall;
        t->trace_from = trace;
        t->trace_len = (int64_t)((double)g->duration_ns * t->speed);
        wall += g->duration_ns;
        trace += t->trace_len;
    }
    s->n_st = o->n_stages;
    s->trace_total = trace;
    s->schedule_len = wall;
    return 0;
}

static void *progress_main(void *arg)
{
    struct shared *s = arg;
    int64_t total = s->schedule_len;
    uint64_t prev = 0;
    while (!(s->stop && *s->stop == 2)) {
        int64_t el = now_ns() - s->start_at;
        uint64_t sent = __atomic_load_n(&s->progress_sent, __ATOMIC_RELAXED);
        uint64_t done = __atomic_load_n(&s->progress_done, __ATOMIC_RELAXED);
        uint64_t errs = __atomic_load_n(&s->progress_err, __ATOMIC_RELAXED), p95 = 0;
        for (int k = 0; k < s->o->threads && k < 256; k++) {
            uint64_t v = __atomic_load_n(&s->p95_us[k], __ATOMIC_RELAXED);
            if (v > p95)
                p95 = v; /* the worst worker's P95: an upper bound of the whole */
        }
        if (el > 0)
            fprintf(stderr, "\r  %6.1fs / %.1fs  scheduled %llu  sent %llu (%llu/s)  P95 %.1fms  errors %.2f%%   ",
                    (double)el / 1e9, (double)total / 1e9, (unsigned long long)s->progress_sched,
                    (unsigned long long)sent, (unsigned long long)(sent - prev), (double)p95 / 1000.0,
                    done ? 100.0 * (double)errs / (double)done : 0.0);
        prev = sent;
        for (int i = 0; i < 10 && !(s->stop && *s->stop == 2); i++)
            usleep(100000);
    }
    fprintf(stderr, "\n");
    return NULL;
}

/* ---- Prometheus /metrics while running ---------------------------------------------- */

static int metrics_listen(struct shared *s, const char *addr, struct tide_err *err)
{
    struct sockaddr_storage sa;
    socklen_t sl = sizeof(sa);
    int fd, one = 1, rc;
    if ((rc = tide__parse_addr(addr, "--metrics-addr", &sa, err)))
        return rc;
    fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&sa,
             sa.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in)) != 0 ||
        listen(fd, 16) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return tide_err_set(err, TIDE_E_USAGE, "", "--metrics-addr %s: cannot listen (%s)", addr, strerror(e));
    }
    if (getsockname(fd, (struct sockaddr *)&sa, &sl) == 0) {
        char host[64] = "?";
        bool v6 = sa.ss_family == AF_INET6;
        if (v6)
            uv_ip6_name((struct sockaddr_in6 *)&sa, host, sizeof(host));
        else
            uv_ip4_name((struct sockaddr_in *)&sa, host, sizeof(host));
        fprintf(stderr, "tide: metrics on http://%s%s%s:%d/metrics\n", v6 ? "[" : "", host, v6 ? "]" : "",
                ntohs(v6 ? ((struct sockaddr_in6 *)&sa)->sin6_port : ((struct sockaddr_in *)&sa)->sin_port));
    }
    s->mfd = fd;
    return 0;
}

/* Merges the workers' results, each under its lock, and renders them. */
static char *metrics_snapshot(struct shared *s, size_t *len)
{
    struct tide_replay_result *r = tide__result_new();
    struct tide_buf b;
    int i;
    if (!r)
        return NULL;
    for (i = 0; i < s->n_ws; i++) {
        pthread_mutex_lock(&s->ws[i].mu);
        tide_replay_result_merge(r, s->ws[i].res);
        pthread_mutex_unlock(&s->ws[i].mu);
    }
    tide_buf_init(&b, 0);
    tide__metrics_render(r, s->o->run_id ? s->o->run_id : "", &b);
    tide_replay_result_free(r);
    *len = b.len;
    return b.p;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k <= 0)
            return;
        p += k;
        n -= (size_t)k;
    }
}

static void *metrics_main(void *arg)
{
    struct shared *s = arg;
    while (!s->finished) {
        struct pollfd pf = {s->mfd, POLLIN, 0};
        struct timeval tv = {1, 0};
        char req[4096], hdr[256];
        size_t got = 0;
        int c;
        if (poll(&pf, 1, 200) <= 0)
            continue;
        c = accept4(s->mfd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
            continue;
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        while (got < sizeof(req) - 1) {
            ssize_t k = read(c, req + got, sizeof(req) - 1 - got);
            if (k <= 0)
                break;
            got += (size_t)k;
            req[got] = 0;
            if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
                break;
        }
        req[got] = 0;
        if (strncmp(req, "GET /metrics", 12) == 0 && (req[12] == ' ' || req[12] == '?')) {
            size_t n = 0;
            char *body = metrics_snapshot(s, &n);
            if (body) {
                int hn = snprintf(hdr, sizeof(hdr),
                                  "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                                  "Content-Length: %zu\r\nConnection: close\r\n\r\n", n);
                write_all(c, hdr, (size_t)hn);
                write_all(c, body, n);
                free(body);
            } else {
                static const char E[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
                write_all(c, E, sizeof(E) - 1);
            }
        } else {
            static const char NF[] = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n"
                                     "Connection: close\r\n\r\ntry /metrics\r\n";
            write_all(c, NF, sizeof(NF) - 1);
        }
        close(c);
    }
    return NULL;
}

/*
 * The abort watcher: once a second, each trigger's metric over the requests
 * completed in its last window (whole seconds); the first that holds stops
 * the run (workers stop sending and drain, bounded by --drain).
 */
static void *abort_main(void *arg)
{
    struct shared *s = arg;
    const struct tide_replay_opts *o = s->o;
    struct tide__slice *sl = calloc(1, sizeof(*sl));
    int64_t done_sec = -1;
    while (sl && !s->finished && !s->abort_flag) {
        int64_t el = now_ns() - s->start_at, cur = el >= 0 ? el / TIDE_NS_PER_SEC : -1;
        if (cur > done_sec) {
            int k;
            int64_t t0;
            /* clear the slots of the seconds to come (they held seconds older than any window) */
            for (t0 = done_sec + 2; t0 <= cur + 1 && t0 <= done_sec + 1 + s->ring_n; t0++)
                if (t0 > 0)
                    memset(&s->ring[t0 % s->ring_n], 0, sizeof(s->ring[0]));
            done_sec = cur;
            for (k = 0; k < o->n_aborts && cur >= 1; k++) {
                int64_t w = o->aborts[k].window_ns / TIDE_NS_PER_SEC, t;
                double v = 0;
                if (cur < w)
                    continue; /* not a window old yet */
                memset(sl, 0, sizeof(*sl));
                for (t = cur - w; t < cur; t++) {
                    struct abort_sec *a = &s->ring[t % s->ring_n];
                    int i;
                    sl->completed += __atomic_load_n(&a->completed, __ATOMIC_RELAXED);
                    sl->errors += __atomic_load_n(&a->errors, __ATOMIC_RELAXED);
                    sl->status[0] += __atomic_load_n(&a->no_answer, __ATOMIC_RELAXED);
                    sl->status[5] += __atomic_load_n(&a->s5xx, __ATOMIC_RELAXED);
                    sl->from_due.count += __atomic_load_n(&a->h.count, __ATOMIC_RELAXED);
                    sl->from_due.sum += __atomic_load_n(&a->h.sum, __ATOMIC_RELAXED);
                    uint64_t mx = __atomic_load_n(&a->h.max, __ATOMIC_RELAXED);
                    if (mx > sl->from_due.max)
                        sl->from_due.max = mx;
                    for (i = 0; i < TIDE_HIST_BUCKETS; i++)
                        sl->from_due.b[i] += __atomic_load_n(&a->h.b[i], __ATOMIC_RELAXED);
                }
                if (sl->completed && tide__slo_eval_slice(sl, &o->aborts[k].cond, &v) == 1) {
                    const struct tide_slo *c = &o->aborts[k].cond;
                    if (c->metric <= TIDE_SLO_MAX)
                        snprintf(s->abort_reason, sizeof(s->abort_reason),
                                 "%s held at %.0fs of the run (measured %.1f ms over %llu requests)", c->text,
                                 (double)el / 1e9, v, (unsigned long long)sl->completed);
                    else
                        snprintf(s->abort_reason, sizeof(s->abort_reason),
                                 "%s held at %.0fs of the run (measured %.3f%% over %llu requests)", c->text,
                                 (double)el / 1e9, v * 100, (unsigned long long)sl->completed);
                    __atomic_store_n(&s->abort_flag, 1, __ATOMIC_SEQ_CST);
                    break;
                }
            }
        }
        usleep(50000);
    }
    free(sl);
    return NULL;
}

/* The native client serves plain http:// targets whose host resolves, unless
 * asked otherwise (HTTPS, HTTP/2 and --client curl go through libcurl; so does
 * a host that does not resolve now, and libcurl then says why per request:
 * the CLI refuses such a target before this). */
static bool pick_native(struct shared *s)
{
    const struct tide_replay_opts *o = s->o;
    const char *a = s->base + 7, *e, *port = NULL, *host = a;
    char hbuf[256];
    size_t hl;
    struct addrinfo hints, *ai = NULL;
    if ((o->client && strcmp(o->client, "curl") == 0) || o->http2 || strncasecmp(s->base, "http://", 7) != 0)
        return false;
    e = a + strcspn(a, "/?#");
    if (e == a || (size_t)(e - a) >= sizeof(s->host_line) - 10 || memchr(a, '@', (size_t)(e - a)))
        return false; /* empty, too long, or with credentials: libcurl's job */
    if (*a == '[') {
        const char *rb = memchr(a, ']', (size_t)(e - a));
        if (!rb)
            return false;
        host = a + 1;
        hl = (size_t)(rb - host);
        if (rb + 1 < e && rb[1] == ':')
            port = rb + 2;
    } else {
        const char *c = memchr(a, ':', (size_t)(e - a));
        hl = (size_t)((c ? c : e) - a);
        if (c)
            port = c + 1;
    }
    if (!hl || hl >= sizeof(hbuf))
        return false;
    memcpy(hbuf, host, hl);
    hbuf[hl] = 0;
    {
        char pbuf[8];
        size_t pl = port ? (size_t)(e - port) : 0;
        if (port && (pl == 0 || pl > 5 || strspn(port, "0123456789") < pl))
            return false;
        snprintf(pbuf, sizeof(pbuf), "%.*s", port ? (int)pl : 2, port ? port : "80");
        memset(&hints, 0, sizeof(hints));
        hints.ai_socktype = SOCK_STREAM;
        if (getaddrinfo(hbuf, pbuf, &hints, &ai) != 0 || !ai)
            return false;
        memcpy(&s->addr, ai->ai_addr, ai->ai_addrlen);
        freeaddrinfo(ai);
    }
    s->origin_len = (size_t)(e - s->base);
    /* libcurl's Host: the authority, without the default port */
    {
        int al = (int)(e - a);
        if (port && strncmp(port, "80", 2) == 0 && port + 2 == e)
            al = (int)(port - 1 - a);
        snprintf(s->host_line, sizeof(s->host_line), "Host: %.*s\r\n", al, a);
        s->host_line_len = strlen(s->host_line);
    }
    return true;
}

int tide_replay_run(const struct tide_replay_opts *o, struct tide_replay_result **out,
                    struct tide_err *err)
{
    struct shared s;
    struct worker *ws;
    struct tide_replay_result *res;
    pthread_t prog, watch, mth;
    bool prog_on = false, watch_on = false, metrics_on = false;
    int i, rc = 0, n = o->threads > 0 ? o->threads : 1;
    volatile int done_flag = 0;
    *out = NULL;
    memset(&s, 0, sizeof(s));
    s.mfd = -1;
    s.o = o;
    s.stop = o->stop;
    snprintf(s.base, sizeof(s.base), "%s", o->target);
    while (strlen(s.base) && s.base[strlen(s.base) - 1] == '/')
        s.base[strlen(s.base) - 1] = 0;
    s.native = pick_native(&s);
    s.run_id_len = strlen(o->run_id);
    if (!o->host_header || strcmp(o->host_header, "keep") == 0)
        s.host_mode = 0;
    else if (strcmp(o->host_header, "target") == 0)
        s.host_mode = 1;
    else {
        s.host_mode = 2;
        snprintf(s.host_value, sizeof(s.host_value), "%s", o->host_header);
    }
    for (i = 0; i < o->n_expect && i < 64; i++)
        s.expect[s.n_expect++] = atoi(o->expect_status[i]);
    if (o->auth_map) {
        FILE *f = fopen(o->auth_map, "r");
        char line[4096];
        if (!f)
            return tide_err_set(err, TIDE_E_NOTFOUND, o->auth_map, "cannot open the auth map");
        while (fgets(line, sizeof(line), f)) {
            size_t l = strcspn(line, "\r\n");
            char **na;
            line[l] = 0;
            if (!l || line[0] == '#')
                continue;
            if (!strchr(line, ':')) {
                fclose(f);
                return tide_err_set(err, TIDE_E_FORMAT, o->auth_map,
                                    "line %zu: expected 'Header: value' (Cookie: ... or Authorization: ...)", s.n_auth + 1);
            }
            na = realloc(s.auth, (s.n_auth + 1) * sizeof(*na));
            if (!na)
                break;
            s.auth = na;
            s.auth[s.n_auth++] = strdup(line);
        }
        fclose(f);
        if (!s.n_auth)
            return tide_err_set(err, TIDE_E_FORMAT, o->auth_map, "no credentials in the auth map");
    }
    rc = resolve_window(&s, err);
    if (rc)
        goto out_free_auth;
    rc = build_stages(&s, err);
    if (rc)
        goto out_free_auth;
    {
        int64_t step = (s.schedule_len + TIDE__TL_POINTS - 1) / TIDE__TL_POINTS;
        const int64_t q = step >= 10 * TIDE_NS_PER_SEC ? TIDE_NS_PER_SEC : TIDE_NS_PER_SEC / 10;
        step = (step + q - 1) / q * q; /* whole seconds, or tenths for short runs */
        s.tl_step = step < q ? q : step;
    }
    s.start_at = o->start_at_ns > 0 ? o->start_at_ns : now_ns() + 100000000;
    if (o->metrics_addr && (rc = metrics_listen(&s, o->metrics_addr, err)))
        goto out_free_auth;
    if (o->n_aborts > 0) {
        int64_t wmax = 0;
        for (i = 0; i < o->n_aborts; i++)
            if (o->aborts[i].window_ns > wmax)
                wmax = o->aborts[i].window_ns;
        s.ring_n = (int)(wmax / TIDE_NS_PER_SEC) + 3;
        s.ring = calloc((size_t)s.ring_n, sizeof(*s.ring));
        if (!s.ring) {
            rc = tide_err_set(err, TIDE_E_NOMEM, "", "out of memory");
            goto out_free_auth;
        }
    }
    ws = calloc((size_t)n, sizeof(*ws));
    res = run_result(&s);
    if (!ws || !res) {
        free(ws);
        tide_replay_result_free(res);
        rc = tide_err_set(err, TIDE_E_NOMEM, "", "out of memory");
        goto out_free_auth;
    }
    for (i = 0; i < n; i++)
        ws[i].fd = -1;
    for (i = 0; i < n && !rc; i++)
        rc = worker_init(&ws[i], &s, i, err);
    if (!rc) {
        res->started_ns = s.start_at;
        if (o->progress && pthread_create(&prog, NULL, progress_main, &s) == 0)
            prog_on = true;
        if (s.ring && pthread_create(&watch, NULL, abort_main, &s) == 0)
            watch_on = true;
        s.ws = ws;
        s.n_ws = n;
        if (s.mfd >= 0 && pthread_create(&mth, NULL, metrics_main, &s) == 0)
            metrics_on = true;
        for (i = 0; i < n; i++)
            pthread_create(&ws[i].th, NULL, worker_main, &ws[i]);
        for (i = 0; i < n; i++)
            pthread_join(ws[i].th, NULL);
        res->ended_ns = now_ns();
        s.finished = 1;
        if (watch_on)
            pthread_join(watch, NULL);
        if (metrics_on)
            pthread_join(mth, NULL);
        snprintf(res->aborted, sizeof(res->aborted), "%s", s.abort_reason);
        if (prog_on) {
            done_flag = 2;
            s.stop = &done_flag;
            pthread_join(prog, NULL);
        }
        for (i = 0; i < n; i++)
            tide_replay_result_merge(res, ws[i].res);
    }
    for (i = 0; i < n; i++) {
        worker_free(&ws[i]);
        tide_replay_result_free(ws[i].res);
    }
    free(ws);
    if (rc) {
        tide_replay_result_free(res);
        goto out_free_auth;
    }
    snprintf(res->run_id, sizeof(res->run_id), "%s", o->run_id);
    snprintf(res->target, sizeof(res->target), "%s", o->target);
    snprintf(res->client, sizeof(res->client), "%s", s.native ? "native" : "curl");
    res->speed = o->speed;
    res->multiplier = o->multiplier;
    res->threads = n;
    res->window_start_ns = s.window_start;
    res->window_end_ns = s.window_end;
    res->schedule_ns = s.schedule_len;
    for (i = 0; i < o->n_expect && i < 16; i++)
        snprintf(res->expect + strlen(res->expect), sizeof(res->expect) - strlen(res->expect), "%s%s",
                 i ? "," : "", o->expect_status[i]);
    *out = res;
out_free_auth:
    free(s.ring);
    if (s.mfd >= 0)
        close(s.mfd);
    for (size_t k = 0; k < s.n_auth; k++)
        free(s.auth[k]);
    free(s.auth);
    return rc;
}
