/*
 * replay_int.h - internals shared by replay's files: metrics and results.
 */
#ifndef TIDE_REPLAY_INT_H
#define TIDE_REPLAY_INT_H

#include "replay/replay.h"

#define TIDE__MAX_FAMILIES 256
#define TIDE__MAX_MINUTES 100000

enum {
    ERR_TIMEOUT,
    ERR_REFUSED,
    ERR_RESET,
    ERR_EMPTY,
    ERR_GARBAGE,
    ERR_TLS,
    ERR_NOFD, /* the replay itself had no descriptor left for a connection */
    ERR_OTHER,
    ERR_KINDS
};

/* Counts and latency for one slice (overall, a route family, a class). */
struct tide__slice {
    uint64_t scheduled, sent, completed, errors, expected, timeouts;
    uint64_t status[6]; /* 0: none (error), 1xx..5xx */
    uint64_t class_mismatch; /* status class differs from the recorded one */
    uint64_t bytes;
    struct tide_hist from_due, from_send;
};

/* The run over time: TIDE__TL_POINTS points of tl_step_ns each (by due time;
 * sent by send time), latency in coarse log buckets (4 per octave). */
#define TIDE__TL_POINTS 300
#define TIDE__TL_LAT 96
struct tide__tlpt {
    uint64_t sched, rec, sent, completed, errors;
    uint32_t lat[TIDE__TL_LAT];
};
int tide__tl_bucket(uint64_t us);
uint64_t tide__tl_quantile(const uint32_t *lat, double q); /* us */

struct tide_replay_result {
    char run_id[64];
    char target[256];
    char client[8];          /* "native" or "curl": the HTTP client that sent */
    double speed, multiplier;
    int threads;
    int64_t started_ns, ended_ns, window_start_ns, window_end_ns;
    int64_t schedule_ns;     /* length of the schedule */
    bool stopped;            /* a stop (SIGINT) ended it early */
    uint64_t skipped_method, skipped_path, skipped_shard;
    struct tide__slice all;
    struct tide_hist lag;
    uint64_t lag_within_1ms;
    uint64_t err[ERR_KINDS];
    struct tide__slice classes[TIDE_CLASSES];
    char family_name[TIDE__MAX_FAMILIES][128];
    struct tide__slice *families; /* TIDE__MAX_FAMILIES */
    int n_families;
    uint64_t *min_sched, *min_sent; /* per minute of the schedule */
    struct tide__slice stages[TIDE_MAX_STAGES];
    char stage_name[TIDE_MAX_STAGES][64];
    bool stage_warmup[TIDE_MAX_STAGES];
    int64_t stage_dur_ns[TIDE_MAX_STAGES];
    int n_stages; /* 0 without a profile */
    char aborted[320]; /* the abort trigger that stopped the run, or "" */
    int n_minutes;
    char expect[256];
    int64_t tl_step_ns; /* 0: no timeline */
    int n_tl;
    struct tide__tlpt tl[TIDE__TL_POINTS];
};

const char *tide__err_name(int k);
/* ADDR:PORT or [ADDR]:PORT, numeric, for a listener; opt names the option in errors. */
struct sockaddr_storage;
int tide__parse_addr(const char *spec, const char *opt, struct sockaddr_storage *out, struct tide_err *err);
/* An empty result with its arrays allocated, or NULL. */
struct tide_replay_result *tide__result_new(void);
void tide__slice_merge(struct tide__slice *d, const struct tide__slice *s);

/* ---- the native HTTP/1.1 client (h1.c) ---- */
#include <uv.h>
#include <sys/socket.h>

/* A response as it arrives: head, then the body framed and counted. */
enum { TIDE__RX_HEAD, TIDE__RX_LENGTH, TIDE__RX_CHUNKED, TIDE__RX_CLOSE, TIDE__RX_DONE };
struct tide__h1_rx {
    int state, status;
    bool close;      /* the connection ends after this answer */
    uint64_t left;   /* body bytes still due (RX_LENGTH) */
    uint64_t bytes;  /* body bytes so far (chunked: the data, without framing) */
    uint64_t extra;  /* bytes after the answer's end */
    struct tide_http_chunks ch;
    struct tide_buf hold; /* a partial head or chunk line, waiting for more */
};
void tide__h1_rx_init(struct tide__h1_rx *rx);
void tide__h1_rx_reset(struct tide__h1_rx *rx);
void tide__h1_rx_free(struct tide__h1_rx *rx);
/* Frames n more bytes (no_body: the request was HEAD). 0, or -1: not an HTTP/1.x answer. */
int tide__h1_rx_feed(struct tide__h1_rx *rx, const char *p, size_t n, bool no_body);

/* A request, laid out by the caller (head, and body apart), owned by it until done. */
struct tide__h1_req {
    const char *wire, *body;
    size_t len, body_len;
    bool no_body;
    uint8_t tries;
    uint64_t queued_ms;
    struct tide__h1_req *next;
};
struct tide__h1;
/* status (0 on errors), errk an ERR_* or -1, bytes: body bytes received. */
typedef void (*tide__h1_done_fn)(void *arg, struct tide__h1_req *r, int status, int errk, uint64_t bytes);
typedef void (*tide__h1_hook_fn)(void *arg);
/* enter/leave run around each of its libuv callbacks (the engine locks, then sends what is due). */
struct tide__h1 *tide__h1_new(uv_loop_t *loop, const struct sockaddr_storage *addr, int max_conns,
                              int64_t timeout_ns, tide__h1_done_fn done, tide__h1_hook_fn enter,
                              tide__h1_hook_fn leave, void *arg);
void tide__h1_send(struct tide__h1 *h, struct tide__h1_req *r);
/* Closes every connection; what is in flight is abandoned unreported. Run the loop after. */
void tide__h1_close(struct tide__h1 *h);
void tide__h1_free(struct tide__h1 *h);

/* Prometheus text of a (snapshot) result (metrics.c). */
void tide__metrics_render(const struct tide_replay_result *r, const char *run_id, struct tide_buf *b);

/* An objective over one slice (slo.c). */
int tide__slo_eval_slice(const struct tide__slice *sl, const struct tide_slo *s, double *actual);

#endif
