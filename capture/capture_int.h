/*
 * capture_int.h - shared internals of capture/: the compiled log format and
 * helpers the format variants share (request lines, times, unescaping).
 */
#ifndef TIDE_CAPTURE_INT_H
#define TIDE_CAPTURE_INT_H

#include "capture/capture.h"

#define TIDE__LOG_MAX_HEADERS 64
#define TIDE__LOG_MAX_ITEMS 128

/* What a format field means for the record. */
enum tide__ftype {
    F_IGNORE = 0,
    F_CLIENT,       /* client address (an X-Forwarded-For list: first is kept) */
    F_TIME_LOCAL,   /* 10/Oct/2000:13:55:36 -0700, optionally in [] */
    F_TIME_ISO,     /* RFC 3339 / ISO 8601 */
    F_TIME_MSEC,    /* epoch seconds with fraction (nginx $msec) */
    F_TIME_START_ISO, /* request start, ISO 8601 (ALB request_creation_time) */
    F_REQUEST,      /* "GET /path?q HTTP/1.1" */
    F_METHOD,
    F_REQUEST_URI,  /* path?query */
    F_PATH,
    F_QUERY,        /* with or without a leading '?' */
    F_PROTOCOL,
    F_SCHEME,
    F_HOST,
    F_VHOST_PORT,   /* host:port (Apache %v:%p in vhost_combined) */
    F_STATUS,
    F_BYTES,        /* response body bytes, '-' = 0 (Apache %b) */
    F_DUR_S,        /* request time in seconds with fraction */
    F_DUR_MS,
    F_DUR_US,
    F_HEADER,       /* request header, name in item */
    F_COOKIE,       /* one cookie, name in item */
    F_PORT,         /* a port number (checked, not kept: Apache %p) */
    F_VHOST,        /* Apache's %v: a host name (checked) */
    /* Apache's times: %t and %{sec|msec|usec}t are when the request was
     * received (the start) unless %{end:...}t; whole ms and us since the epoch */
    F_TIME_LOCAL_START,
    F_EPOCH_S_START,
    F_EPOCH_MS,
    F_EPOCH_MS_START,
    F_EPOCH_US,
    F_EPOCH_US_START,
    /* Apache's %{strftime}t (the pattern in the item's name), start or end,
     * and %{msec_frac}t, %{usec_frac}t: pieces of one time per line */
    F_STRF_START,
    F_STRF_END,
    F_FRAC_MS,
    F_FRAC_US,
    /* bytes sent with the headers (Apache's %O, nginx's $bytes_sent): the
     * response's size when the format has no body size, else not read */
    F_BYTES_ALL,
    F_BODY,         /* the request body (nginx's $request_body), escaped as the log escapes */
};

/* Kinds of format: one parse function each. */
enum tide__fmtkind { FMT_TOKENS, FMT_JSON, FMT_KV, FMT_ALB, FMT_CLOUDFRONT, FMT_W3C, FMT_S3, FMT_HAPROXY, FMT_ENVOY };

struct tide__item {
    bool lit;
    const char *s; /* literal text (points into fmt->spec_copy) */
    size_t len;
    enum tide__ftype t;
    char name[64]; /* header or cookie name, for F_HEADER/F_COOKIE; strftime pattern */
    uint8_t spaces; /* runs of spaces its value always holds (a time's before its zone): the
                       next literal is looked for past them */
};

/* The pieces of a time Apache's %{...}t items write apart, per line. */
struct tide__strf {
    int64_t y, mo, d, h, mi, s, frac_ns, off_s;
    bool date, zone, end;
};

/* A JSON --map entry: record field <- dotted path */
struct tide__jmap {
    enum tide__ftype t;
    char path[128];
    int field; /* index of the record field in src_jsonlog.c's table */
};

/* Logs that wrap each access-log line in one of their own (wrap.c). */
enum { TIDE__WRAP_NONE, TIDE__WRAP_DOCKER, TIDE__WRAP_CRI, TIDE__WRAP_SYSLOG, TIDE__WRAP_JOURNAL };
/* wrappers whose lines come from many programs, told apart by a tag */
#define TIDE__WRAP_TAGGED(w) ((w) == TIDE__WRAP_SYSLOG || (w) == TIDE__WRAP_JOURNAL)
#define TIDE__TAG_LEN 64 /* a syslog tag kept (cut to this, NUL included) */
enum { TIDE__WT_NONE, TIDE__WT_RFC3339, TIDE__WT_SYSLOG /* Mmm dd hh:mm:ss */, TIDE__WT_EPOCH_US };
#define TIDE__WRAP_MAX_JOINED ((size_t)1 << 20) /* a line split in pieces, joined */

struct tide_logfmt {
    char name[512];
    enum tide__fmtkind kind;
    int wrap;              /* TIDE__WRAP_*: what each line is wrapped in */
    struct tide_buf piece; /* pieces of a line the container runtime split, so far */
    char *spec_copy;
    struct tide__item items[TIDE__LOG_MAX_ITEMS];
    int n_items;
    struct tide__jmap jmap[32];
    int n_jmap;
    /* cloudfront and w3c: column meaning by #Fields (names: a cs(Name) column's header) */
    enum tide__ftype cf_cols[64];
    char cf_names[64][48];
    int n_cf;
    bool w3c_ms; /* w3c: time-taken in milliseconds (#Software named IIS) */
    /* haproxy:NAME,...: the headers `capture request header` logs, in order */
    char hap_hdr[16][48];
    int n_hap;
    int64_t tz_ns; /* offset from UTC of times written without a zone (--tz) */
    /* the wrapper's time of the line being read (tide__wrap_time), used when
     * the line inside has none; and, syslog, its tag (program) */
    struct tide_str wrap_time, wrap_tag;
    int wrap_time_kind; /* TIDE__WT_* */
    /* syslog dates without a year (tide_logfmt_set_year) */
    int64_t year_ref_ns; /* the latest a date can be (the file's mtime); 0: the time of reading */
    int year_cur;        /* --year: the year of the current line, from the first */
    unsigned year_last_month;
    /* syslog: tags whose lines were read as requests (a line that is not one
     * from another tag is that program's, not a bad access-log line) */
    char tags[8][TIDE__TAG_LEN];
    int n_tags;
    bool sniffing; /* guessing a format: every line is judged as is */
    bool heroku;   /* kv: Heroku's router lines (they begin "at=") */
    bool has_strf; /* the format has %{strftime}t items; their pieces, this line: */
    struct tide__strf strf;
    /* per-line scratch */
    struct tide_header hdrs[TIDE__LOG_MAX_HEADERS];
    char reason[160];
    size_t tail; /* bytes after what the last line's format read (spaces aside); token formats
                  * set it, the others leave it 0 */
};

/* Counts a request left out by --since/--until, and the range they span. */
static inline void tide__count_outside(uint64_t *n, int64_t *first, int64_t *last, int64_t ts)
{
    if (*n == 0 || ts < *first)
        *first = ts;
    if (*n == 0 || ts > *last)
        *last = ts;
    (*n)++;
}

/* Outside the [since, until) window of --since/--until (0 or TIDE_TIME_UNKNOWN: no bound). */
static inline bool tide__outside_window(int64_t ts, int64_t since, int64_t until)
{
    return (since && since != TIDE_TIME_UNKNOWN && ts < since) || (until && until != TIDE_TIME_UNKNOWN && ts >= until);
}

/* Shared helpers (logfmt.c). */
/* An empty field or a lone '-': the log's way of saying "none". */
static inline bool tide__log_dash(struct tide_str v) { return v.len == 0 || (v.len == 1 && v.p[0] == '-'); }
int tide__log_request_line(struct tide_str req, struct tide_record *r, const char **reason);
/* Space-separated tokens into tok (at most max); "quoted" ones (quotes
 * dropped) may hold spaces and \" escapes, and with brackets, so may
 * [bracketed] ones (kept with their brackets). Returns how many. */
int tide__log_tokens(const char *line, size_t len, struct tide_str *tok, int max, bool brackets);
int tide__log_split_uri(struct tide_str uri, struct tide_record *r);
int tide__log_time_local(struct tide_str s, int64_t *ns);
/* Checks a strftime pattern tide can read back (0, or TIDE_E_USAGE and the
 * conversion it cannot); reads v by it into st (0 or TIDE_E_FORMAT). */
int tide__strf_check(const char *pat, char *bad);
int tide__strf_read(const char *pat, struct tide_str v, struct tide__strf *st);
int tide__log_decimal_ns(struct tide_str s, int64_t scale_ns, int64_t *ns);
struct tide_str tide__log_unescape(struct tide_str s, struct tide_arena *a);
int tide__log_add_header(struct tide_logfmt *f, struct tide_record *r, struct tide_str name,
                         struct tide_str value);
int tide__log_set_field(struct tide_logfmt *f, struct tide_record *r, enum tide__ftype t,
                        const char *name, struct tide_str v, struct tide_arena *a,
                        int64_t *end_ns, int64_t *start_ns, int64_t *dur_ns,
                        const char **reason);

/* ---- the re-order window (reorder.c), shared by log and pcap capture ---- */
struct tide__entry {
    uint64_t seq;
    struct tide_record rec; /* strings point into store */
    struct tide_buf store;
    struct tide__entry *next_free;
};
struct tide__reorder_stats {
    uint64_t records, late;
    int64_t first_ts, last_ts;
};
struct tide__reorder;
struct tide__reorder *tide__reorder_new(struct tide_sink sink, int64_t window, uint64_t max_pending);
/* Copies r into a pooled entry; source becomes "src_name:src_no" (or r's own if NULL). */
struct tide__entry *tide__reorder_pack(struct tide__reorder *ro, const struct tide_record *r,
                                       const char *src_name, uint64_t src_no);
/* Takes the entry: into the window, or written at once (flagged late) if behind. */
int tide__reorder_add(struct tide__reorder *ro, struct tide__entry *e, struct tide_err *err);
/* Returns an unused entry to the pool (NULL ok). */
void tide__reorder_put(struct tide__reorder *ro, struct tide__entry *e);
/* Writes records that start at or before clock - window (INT64_MAX: only the cap). */
int tide__reorder_release(struct tide__reorder *ro, int64_t clock, struct tide_err *err);
/* Writes records that start before t (a source that knows nothing earlier can come). */
int tide__reorder_release_before(struct tide__reorder *ro, int64_t t, struct tide_err *err);
/* Writes everything still waiting (and, async, waits until it is written). */
int tide__reorder_drain(struct tide__reorder *ro, struct tide_err *err);
/* From now on the sink runs on a writer thread of its own; entries are handed
 * over in batches. The sink must not be touched by the caller until
 * tide__reorder_sync() or tide__reorder_drain() returns. */
int tide__reorder_async(struct tide__reorder *ro, struct tide_err *err);
/* Async: waits until every record emitted so far has passed through the sink. */
int tide__reorder_sync(struct tide__reorder *ro, struct tide_err *err);
const struct tide__reorder_stats *tide__reorder_stats(const struct tide__reorder *ro);
void tide__reorder_free(struct tide__reorder *ro);

/* The time the wrapper gave the line being read (docker's "time", cri's
 * first field, a syslog header's date): 0 and *ns, or TIDE_E_NOTFOUND. */
int tide__wrap_time(struct tide_logfmt *f, int64_t *ns);
/* "docker+combined" -> TIDE__WRAP_DOCKER, *inner "combined" (no wrapper: NONE, spec). */
int tide__wrap_kind(const char *spec, const char **inner);
const char *tide__wrap_name(int kind);
/* The access-log line inside a wrapped line: 1 with *out set; 0 with *reason
 * when it holds none (a stderr line, a piece of a split line kept for the
 * next); TIDE_E_FORMAT when it is not such a line. */
int tide__unwrap(struct tide_logfmt *f, const char *line, size_t len, struct tide_str *out,
                 struct tide_arena *a, const char **reason);

int tide__json_compile(struct tide_logfmt *f, const char *map, struct tide_err *err);
/* key=value lines (logfmt: Heroku's router, Go and Ruby apps), read by
 * the JSON reader's fields and --map. */
int tide__kv_parse(struct tide_logfmt *f, const char *line, size_t len, struct tide_record *r,
                   struct tide_arena *a, const char **reason);
int tide__json_parse(struct tide_logfmt *f, const char *line, size_t len, struct tide_record *r,
                     struct tide_arena *a, const char **reason);
int tide__alb_parse(struct tide_logfmt *f, const char *line, size_t len, struct tide_record *r,
                    struct tide_arena *a, const char **reason);
int tide__s3_parse(struct tide_logfmt *f, const char *line, size_t len, struct tide_record *r,
                   struct tide_arena *a, const char **reason);
/* cloudfront and w3c (by f->kind) */
int tide__w3c_parse(struct tide_logfmt *f, const char *line, size_t len, struct tide_record *r,
                    struct tide_arena *a, const char **reason);
int tide__envoy_parse(struct tide_logfmt *f, const char *line, size_t len, struct tide_record *r,
                      struct tide_arena *a, const char **reason);
/* haproxy:NAME,...: the names of the request headers the proxy captures. */
int tide__haproxy_compile(struct tide_logfmt *f, const char *names, struct tide_err *err);
int tide__haproxy_parse(struct tide_logfmt *f, const char *line, size_t len, struct tide_record *r,
                        struct tide_arena *a, const char **reason);

#endif
