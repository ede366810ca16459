/*
 * replay.h - the public face of replay/: schedules, the open-loop HTTP
 * engine (libuv + libcurl), histograms and reports, and the mock target.
 *
 * Open loop: every request has a due time computed from its recorded start,
 * the speed and the window; it is sent then whether or not earlier requests
 * have answered. Latency is measured from the due time (no coordinated
 * omission) and from the actual send; lag behind schedule is measured too.
 */
#ifndef TIDE_REPLAY_H
#define TIDE_REPLAY_H

#include "formats/trace.h"

/* ---- histograms --------------------------------------------------------------- */

/*
 * Log-linear histogram of microsecond values: exact below 128, then 64
 * sub-buckets per power of two (relative error under 1.6%). Fixed size,
 * mergeable by adding counts, serialized losslessly in reports.
 */
#define TIDE_HIST_BUCKETS 2560
struct tide_hist {
    uint64_t count;
    uint64_t max;
    uint64_t sum;
    uint64_t b[TIDE_HIST_BUCKETS];
};

void tide_hist_add(struct tide_hist *h, uint64_t us);
void tide_hist_merge(struct tide_hist *dst, const struct tide_hist *src);
/* The value at quantile q (0..1), as the upper edge of its bucket; 0 if empty. */
uint64_t tide_hist_quantile(const struct tide_hist *h, double q);
int tide_hist_bucket(uint64_t us);
uint64_t tide_hist_bucket_high(int idx);

/* ---- schedule ------------------------------------------------------------------ */

/* Traffic classes, from the user agent. */
enum { TIDE_CLASS_GOOGLEBOT, TIDE_CLASS_BINGBOT, TIDE_CLASS_CRAWLER, TIDE_CLASS_HUMAN, TIDE_CLASSES };
int tide_traffic_class(struct tide_str user_agent);
const char *tide_traffic_class_name(int c);

/* The key that keeps a session together: session, else client, else "". */
struct tide_str tide_session_key(const struct tide_record *r);
uint64_t tide_session_hash(struct tide_str key);

/*
 * Due time of a record: start_at + (ts - window_start) / speed, plus a clone's
 * jitter. Pure arithmetic, unit-tested with made-up clocks.
 */
int64_t tide_sched_due(int64_t start_at, int64_t window_start, int64_t ts, double speed);

/*
 * How many copies of a session the multiplier M asks for: floor(M) whole
 * clones plus one more for a hash-chosen fraction of sessions; below 1,
 * sessions are sampled. Decided per session so a session is never split.
 */
int tide_sched_copies(uint64_t session_hash, double multiplier);
/* A clone's deterministic jitter in ns, within [0, max_ns). Clone 0 has none. */
int64_t tide_sched_jitter(uint64_t session_hash, int clone, int64_t max_ns);
/*
 * Rewrites tide pseudonyms (p_..., t_...) in s for clone k (k > 0), so each
 * clone is a distinct user whose ids stay consistent across its requests.
 * Appends to b.
 */
int tide_clone_rewrite(struct tide_str s, int clone, struct tide_buf *b);

/* ---- stage profiles ----------------------------------------------------------------- */

#define TIDE_MAX_STAGES 64

/* One stage of a capacity test: how long, at what volume (a multiplier, or a
 * target rate the trace is scaled to), at what speed; warm-up stages run but
 * are left out of SLO verdicts. */
struct tide_stage {
    char name[64];
    int64_t duration_ns;
    double multiplier; /* > 0, or 0 when rate is set */
    double rate;       /* requests/s the stage averages, or 0 */
    double speed;      /* 0: the run's --speed */
    bool warmup;
};

/* Parses {"stages":[{"name":..,"duration":"15m","multiplier":3|"rate":250,"speed":..,"warmup":..}]}.
 * *out (caller frees) gets n stages. */
int tide_profile_parse(const char *json, size_t len, struct tide_stage **out, int *n,
                       struct tide_err *err);

/* ---- the run ---------------------------------------------------------------------- */

struct tide_replay_opts {
    const char *trace_path;
    const char *target;      /* scheme://host:port */
    double speed;            /* > 0 */
    double multiplier;       /* > 0 */
    int64_t from_ns, to_ns;  /* window; TIDE_TIME_UNKNOWN = open */
    bool from_is_offset, to_is_offset;
    int64_t max_gap_ns;      /* shorten idle stretches longer than this (0 = off) */
    int loops;               /* play the window this many times (>= 1) */
    int threads;
    int connections;         /* keep-alive connections per worker */
    int64_t timeout_ns;
    int64_t drain_ns;        /* after the last due time / a stop: wait this long for answers */
    int64_t start_at_ns;     /* 0 = now + 100 ms */
    const char *host_header; /* "keep", "target" or a value */
    const char **headers;    /* extra "K: V" headers */
    int n_headers;
    const char *run_id;
    uint32_t methods_mask;   /* bit per method index in replay.c's table; 0 = all */
    bool allow_all_methods;
    const char *include_re, *exclude_re;
    const char **expect_status; /* "401" ... */
    int n_expect;
    bool http2, insecure;
    const char *client;      /* "native" (default for http://) or "curl" */
    const char *cacert;
    int shard_k, shard_n;    /* 0/1: everything */
    const char *auth_map;    /* file of credentials, one per line */
    volatile int *stop;      /* set non-zero to stop sending (SIGINT); 2: and stop waiting for answers */
    bool progress;           /* a live line on stderr */
    const struct tide_stage *stages; /* a profile (NULL: one stage of --speed/--multiplier/--loop) */
    int n_stages;
    const struct tide_abort *aborts; /* kill switches, checked once a second */
    int n_aborts;
    const char *metrics_addr; /* HOST:PORT for Prometheus /metrics while running (port 0: any) */
};

struct tide_replay_result;

/*
 * Runs the replay. *out (caller frees with tide_replay_result_free) holds
 * the merged metrics even when the run was stopped. Returns 0, or an error
 * before anything was sent (unreadable trace, bad target).
 */
int tide_replay_run(const struct tide_replay_opts *o, struct tide_replay_result **out,
                    struct tide_err *err);
/* The report as JSON text (caller frees); schema in docs/report.md. */
char *tide_replay_report_json(const struct tide_replay_result *r);
/* The report as a text table (caller frees). */
char *tide_replay_report_text(const struct tide_replay_result *r);
struct tide_slo;
/* One self-contained HTML page (inline SVG, no script or network); slos are
 * judged into its verdict table. Caller frees. */
char *tide_replay_report_html(const struct tide_replay_result *r, const struct tide_slo *slos, int n_slo);
void tide_replay_result_free(struct tide_replay_result *r);

/* ---- reports of several runs, and SLOs ------------------------------------------------------ */

/* Reads a report written by tide_replay_report_json back (caller frees). */
int tide_replay_result_from_json(const char *json, size_t len, struct tide_replay_result **out,
                                 struct tide_err *err);
/* Adds src into dst: counts add, histograms merge bucket by bucket (exact). */
void tide_replay_result_merge(struct tide_replay_result *dst, const struct tide_replay_result *src);

enum { TIDE_SLO_P50, TIDE_SLO_P90, TIDE_SLO_P95, TIDE_SLO_P99, TIDE_SLO_P999, TIDE_SLO_MAX,
       TIDE_SLO_ERROR_RATE, TIDE_SLO_AVAILABILITY };
enum { TIDE_SLO_LE, TIDE_SLO_LT, TIDE_SLO_GE, TIDE_SLO_GT };

/* "p95<=120ms", "error_rate<=0.1%", "availability>=99.9%", scoped by
 * "route=NAME:" or "class=NAME:" ("route=GET /api/{id}:p99<=250ms"). */
struct tide_slo {
    char text[256];
    char scope_kind; /* 0 all, 'r' route, 'c' class */
    char scope[160];
    int metric, op;
    double value; /* ms for latencies, a fraction for rates */
};
int tide_slo_parse(const char *expr, struct tide_slo *out, struct tide_err *err);
/* 1 met, 0 missed, -1 no such route or class in the result; *actual is the measured value. */
int tide_slo_eval(const struct tide_replay_result *r, const struct tide_slo *s, double *actual);
/* The same over one stage of a profile (unscoped objectives only; -1 otherwise). */
int tide_slo_eval_stage(const struct tide_replay_result *r, const struct tide_slo *s, int stage, double *actual);
/*
 * An abort trigger: "error_rate>0.5% for 2m", "p99>2s for 1m" - the metric over
 * the requests completed in the last window (default 10s, at most 10m),
 * checked once a second once the run is a window old. Unscoped only.
 */
struct tide_abort {
    struct tide_slo cond; /* "met" means the trigger holds */
    int64_t window_ns;
};
int tide_abort_parse(const char *expr, struct tide_abort *out, struct tide_err *err);
/* Why the run was aborted ("" when it was not): the trigger's text and the measured value. */
const char *tide_replay_result_aborted(const struct tide_replay_result *r);

/* Stages in a result, their names (borrowed) and whether each is a warm-up. */
int tide_replay_result_stages(const struct tide_replay_result *r);
const char *tide_replay_result_stage(const struct tide_replay_result *r, int k, bool *warmup);

/* ---- the mock target ------------------------------------------------------------------ */

struct tide_mock_opts {
    const char *trace_path;
    const char *listen;      /* "127.0.0.1:8080" */
    int stall_every;         /* every Nth request never answers (0 = off) */
    int reset_every;         /* every Nth request's connection is reset */
    int garbage_every;       /* every Nth request gets a non-HTTP answer */
    double latency_scale;    /* recorded latencies times this (default 1) */
    int64_t fixed_latency_ns; /* >= 0: answer every request after this long instead */
    volatile int *stop;
    void (*on_ready)(void *userp, int port);
    void *userp;
};

/* Serves until *stop is set. Returns 0 or an error (cannot listen, bad trace). */
int tide_mock_run(const struct tide_mock_opts *o, struct tide_err *err);

#endif
