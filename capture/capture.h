/*
 * capture.h - the public face of capture/: turning outside inputs (access
 * logs today; pcap later) into records handed to a sink.
 *
 * Capture knows nothing of anonymization: the CLI composes capture's sink
 * with the anonymizer and the trace writer, so raw values never touch disk.
 */
#ifndef TIDE_CAPTURE_H
#define TIDE_CAPTURE_H

#include "formats/trace.h"

/* ---- log formats ------------------------------------------------------------ */

struct tide_logfmt;

/*
 * Compiles a log format. spec is one of:
 *   "combined", "common", "vhost_combined"  (nginx and Apache defaults)
 *   "ingress_nginx"                          Kubernetes ingress-nginx's default
 *   "nginx:<log_format string>"              nginx variables ($remote_addr, ...)
 *   "apache:<LogFormat string>"              Apache directives (%h, %t, ...)
 *   "json"                                   JSON lines; map says where fields are
 *   "alb", "cloudfront", "s3"                AWS load balancer, CDN and S3 logs
 *   "w3c"                                    W3C extended logs (IIS, NetScaler)
 *   "haproxy[:HEADER,...]"                   HAProxy's HTTP log (option httplog)
 *   "envoy"                                  Envoy's and Istio's default access logs
 *   "traefik", "kv", "heroku"                Traefik CLF, key=value lines, Heroku router
 *   "docker+F", "cri+F", "syslog+F",         format F inside container, syslog or
 *   "journal+F"                              journal (journalctl -o json) lines
 * map (json and kv only, may be NULL): "ts=time,method=request.method,..." (docs/capture.md).
 * On error returns TIDE_E_USAGE with the reason.
 */
int tide_logfmt_compile(struct tide_logfmt **out, const char *spec, const char *map,
                        struct tide_err *err);
void tide_logfmt_free(struct tide_logfmt *f);
/* Times the log writes without a zone (HAProxy's dates, a format string's
 * [dd/Mon/yyyy:hh:mm:ss] without +zzzz) are offset_ns ahead of UTC (default 0). */
void tide_logfmt_set_tz(struct tide_logfmt *f, int64_t offset_ns);
/* Syslog dates have no year ("Mar 24 14:02:50"): with year > 0, the first
 * line's is that year, and the year steps on where the months go back
 * (December to January); else a date is put in the year that makes it no
 * later than ref_ns (the file's last write; a day's grace), or than the time
 * of reading if ref_ns is 0 (the default; what a followed log wants). */
void tide_logfmt_set_year(struct tide_logfmt *f, int year, int64_t ref_ns);
/* Parses an offset from UTC: Z, UTC, +HH, +HHMM, +HH:MM (or -). 0 or TIDE_E_FORMAT. */
int tide_tz_parse(const char *s, int64_t *offset_ns);
/* ---- a web server configuration's access log formats (webconf.c) ---- */
struct tide_webconf;
enum { TIDE_WEBCONF_NGINX, TIDE_WEBCONF_APACHE };
/* Reads path and what it includes: its log formats and access logs. */
int tide_webconf_load(struct tide_webconf **out, const char *path, int kind, struct tide_err *err);
/* An empty configuration, includes relative to dir (NULL: not followed);
 * then _parse text into it (file names errors; depth: include nesting so
 * far, 0). */
struct tide_webconf *tide_webconf_new(const char *dir, int kind);
int tide_webconf_parse(struct tide_webconf *c, const char *buf, size_t len, const char *file, int depth,
                       struct tide_err *err);
/* The format spec for log file `file` ("nginx:...", "apache:...",
 * "combined"): the access log that is this file (or a rotation of it); else
 * the one format all access logs share. TIDE_E_USAGE with the reason if
 * neither. */
int tide_webconf_format_for(const struct tide_webconf *c, const char *file, char *out, size_t cap,
                            struct tide_err *err);
/* Includes that were not there (skipped): how many, and "file:line" of the
 * first (NULL if none). */
const char *tide_webconf_missing(const struct tide_webconf *c, int *n);
void tide_webconf_free(struct tide_webconf *c);

/* The format's name as given ("combined", "nginx:...", ...); borrowed. */
const char *tide_logfmt_name(const struct tide_logfmt *f);

/*
 * Parses one line (without newline). Returns:
 *   1: a record in *rec; its strings point into line or scratch (caller owns
 *      scratch and resets it between lines); rec->ts_ns is the request START
 *      (log time minus request time where the format has it);
 *   0: the line holds no request (blank, comment, header): *reason says which;
 *   TIDE_E_FORMAT: the line is bad; *reason (borrowed, valid until the next
 *      call) says why without quoting the line.
 * rec->headers is set to storage inside f, valid until the next call.
 */
int tide_logfmt_parse(struct tide_logfmt *f, const char *line, size_t len,
                      struct tide_record *rec, struct tide_arena *scratch, const char **reason);

/*
 * Guesses the format of a log from its first lines (buf holds the start of
 * the file). Writes the spec of the best match to out and returns 0, or
 * TIDE_E_NOTFOUND when nothing matches most lines, TIDE_E_LIMIT when out
 * cannot hold the spec (give it 512 bytes: a guess may be an nginx: spec).
 * *tailed (may be NULL): how many of the lines read carry text after what
 * the guess reads, which it would ignore.
 */
int tide_logfmt_sniff(const char *buf, size_t len, char *out, size_t cap, int *tailed);

/* mod_ssl's request log (format "ssl_request"): the same HTTPS requests as
 * the access log beside it, without status or duration. */
#define TIDE_SSL_REQUEST_FORMAT "%t %h %{SSL_PROTOCOL}x %{SSL_CIPHER}x \"%r\" %b"
/* Whether spec (a --format, a guess, or a configuration's apache:'...') is
 * that log's. */
bool tide_logfmt_is_ssl_request(const char *spec);

/* ---- inputs ----------------------------------------------------------------- */

struct tide_input;

/*
 * Opens a log input: a path ("-" = stdin), decompressing .gz, .zst, .bz2 and .xz by
 * their magic bytes (not their names). Returns 0 or TIDE_E_NOTFOUND/IO.
 */
int tide_input_open(struct tide_input **out, const char *path, struct tide_err *err);
/* A tide_read_fn over an input (userp = the input). */
long tide_input_read(void *userp, void *buf, size_t n, struct tide_err *err);
/*
 * Follows a live plain file like `tail -F` from its start: at the end of the
 * data it waits for more, calling idle(userp) about every 200 ms, and returns
 * end of input only once *stop is set. A rotated file (a new inode at path) is
 * read on until it has stopped growing for the rotation wait (default 5 s; a
 * server writes on into it until it reopens its log), then the new file from
 * its start; a truncated file (copytruncate) is read again from its start,
 * after what its copy beside it (name.1, name-DATE) holds past what was read.
 */
typedef void (*tide_idle_fn)(void *userp);
void tide_input_follow(struct tide_input *in, volatile int *stop, tide_idle_fn idle, void *userp);
/* Follows without waiting: at the end of the file, a read fails with
 * TIDE_E_AGAIN (err says so) until more data, a rotation or a truncation
 * comes; after *stop, it ends. For several followed inputs at once. */
void tide_input_follow_nb(struct tide_input *in, volatile int *stop);
/* How long a followed file must have stopped growing after a rotation before
 * it is left for the new one (> 0; default 5 s). */
void tide_input_rotate_wait(struct tide_input *in, int64_t ns);
/* Followed: the input ends once its file is deleted (no link left, nothing
 * at its path) and left alone for the rotation wait. */
void tide_input_end_when_gone(struct tide_input *in);
/* Whether path's bytes can be read only once: "-", a pipe or FIFO (bash's
 * <(...) too), a device or socket. Nothing may be read from it to guess what
 * it is before it is read for good. */
bool tide_input_is_stream(const char *path);

/*
 * Reads (and decompresses) on a thread of its own, a few 1 MiB chunks ahead
 * of the caller. Regular files only: for a followed file, a pipe or stdin it
 * returns 0 and does nothing.
 */
int tide_input_readahead(struct tide_input *in, struct tide_err *err);
/*
 * The next chunk of decoded bytes, without a copy: its length, 0 at the end,
 * -1 with err set. *p stays valid until the next call. Do not mix with
 * tide_input_read() on one input.
 */
long tide_input_chunk(struct tide_input *in, const char **p, struct tide_err *err);

/* Bytes read from the underlying file so far (compressed size for .gz/.zst). */
uint64_t tide_input_bytes(const struct tide_input *in);
void tide_input_close(struct tide_input *in);

/* ---- log capture ------------------------------------------------------------ */

#define TIDE_LOGCAP_MAX_REASONS 32
/* the reason a JSON or key=value line without a path, method or status is
 * skipped: an application's other log lines ("server listening") */
#define TIDE_LOG_EVENT_REASON "an application's log event (no path, method or status)"

struct tide_logcap_stats {
    uint64_t lines, records, late, no_request;
    uint64_t bad;          /* lines that could not be used, all reasons */
    uint64_t bytes_in;
    int64_t first_ts, last_ts;
    uint64_t inputs_failed;    /* inputs that ended in an error (truncated .gz, ...) */
    uint64_t unread_tail;      /* records whose line went on past what the format reads (not stored) */
    uint64_t outside;          /* records outside [since, until): not written */
    int64_t outside_first, outside_last; /* their earliest and latest start (when outside) */
    uint64_t files_new;        /* --follow patterns: files followed that came while running */
    uint64_t files_let_go;     /* --follow patterns: files deleted and let go */
    uint64_t files_opened_late; /* --follow patterns: new files opened on a later try (in files_new) */
    struct {
        char reason[96];
        uint64_t count;
        bool bad;              /* a bad line (counts toward --max-bad), not a no-request line */
    } skipped[TIDE_LOGCAP_MAX_REASONS];
    int n_skipped;
};

/* Called for each bad line (file, 1-based line number, reason; borrowed). */
typedef void (*tide_logcap_bad_fn)(void *userp, const char *file, uint64_t line,
                                   const char *reason);

struct tide_logcap_opts {
    int64_t reorder_window_ns; /* default 60 s */
    uint64_t max_pending;      /* records held for re-ordering; default 1,000,000 */
    bool strict;               /* stop at the first bad line */
    tide_logcap_bad_fn on_bad;
    void *on_bad_userp;
    /* live capture (one input): follow it until *stop; while it is idle, records
     * older than the wall clock minus the window are written and on_idle runs */
    volatile int *follow_stop;
    int64_t rotate_wait_ns; /* 0: the input's default (tide_input_rotate_wait) */
    tide_idle_fn on_idle;
    void *on_idle_userp;
    /* every progress_ms of a run (0: 500; < 0: every 8,192 lines), on the
     * calling thread: lines and input bytes (as stored: compressed for .gz)
     * read so far */
    void (*on_progress)(void *userp, uint64_t lines, uint64_t bytes_in);
    void *on_progress_userp;
    int progress_ms;
    /* only requests that start in [since_ns, until_ns) are written (the others
     * are counted); TIDE_TIME_UNKNOWN (or 0 in a zeroed struct): no bound */
    int64_t since_ns, until_ns;
    /* followed: glob(3) patterns looked at again about every second; a file
     * that newly matches one is followed from its start with the format
     * new_format gives (returning 0 and *f; 1: not followed; 2: asked again
     * later, as when it is still empty), and ends once it is deleted and left
     * alone for the rotation wait (a pod's log in /var/log/containers) */
    const char *const *follow_globs;
    int n_follow_globs;
    int (*new_format)(void *userp, const char *path, const char *pattern, struct tide_logfmt **f);
    void *new_format_userp;
};

/*
 * Reads every input with its format (formats[i] for paths[i], borrowed),
 * merges them by request start time through a bounded re-order window, and
 * hands each record to sink. Lines that hold no request are counted by
 * reason, never dropped silently. Returns 0, the sink's error, TIDE_E_FORMAT
 * (strict mode, at the first bad line), or an input error.
 */
int tide_logcap_run(const char *const *paths, struct tide_logfmt *const *formats, int n,
                    const struct tide_logcap_opts *opts, struct tide_sink sink,
                    struct tide_logcap_stats *stats, struct tide_err *err);

/* ---- pcap capture ------------------------------------------------------------ */

/* Reasons a pcap capture could not use something; each is counted. */
enum {
    TIDE_PCAP_SKIP_TRUNCATED_PACKET, /* captured shorter than its headers (snaplen) */
    TIDE_PCAP_SKIP_BAD_HEADER,       /* malformed link, IP or TCP header */
    TIDE_PCAP_SKIP_NOT_TCP,          /* UDP, ICMP, ARP, ... */
    TIDE_PCAP_SKIP_OTHER_PORT,       /* TCP to a port not chosen (--ports) */
    TIDE_PCAP_SKIP_FRAGMENT_LOST,    /* IP fragments that never completed */
    TIDE_PCAP_SKIP_GAP,              /* bytes missing from a TCP stream */
    TIDE_PCAP_SKIP_EVICTED,          /* connections dropped at a memory cap */
    TIDE_PCAP_SKIP_TLS,              /* encrypted connections */
    TIDE_PCAP_SKIP_HTTP2,            /* HTTP/2 connections */
    TIDE_PCAP_SKIP_NOT_HTTP,         /* streams that are not HTTP/1.x */
    TIDE_PCAP_SKIP_UNPARSABLE,       /* bytes skipped to find the next message */
    TIDE_PCAP_SKIP_KINDS
};
const char *tide_pcap_skip_name(int k);

struct tide_pcap_stats {
    uint64_t packets, bytes;
    uint64_t by_linktype[8]; /* ethernet, sll, sll2, null/loop, raw, other, nflog */
    uint64_t connections, requests, responses, no_response, bodies_truncated;
    uint64_t late;
    uint64_t skipped[TIDE_PCAP_SKIP_KINDS];   /* packets or connections, by reason */
    uint64_t skipped_bytes[TIDE_PCAP_SKIP_KINDS];
    uint64_t kernel_drops, if_drops;          /* live capture (pcap_stats) */
    bool file_truncated;                      /* a file ended inside a packet */
    uint64_t empty_files;                     /* files without a byte (not even a file header): no packets */
    uint64_t outside;                         /* requests outside [since, until): not written */
    int64_t outside_first, outside_last;      /* their earliest and latest start (when outside) */
    int64_t first_ts, last_ts;
};

struct tide_pcap_opts {
    const char *const *files; /* NULL for a live capture */
    int n_files;
    const char *interface;    /* live */
    const char *filter;       /* BPF */
    int64_t duration_ns;      /* live: stop after (0 = until *stop) */
    uint64_t count;           /* stop after this many packets (0 = no limit) */
    int snaplen;              /* live; default 262144 */
    int64_t since_ns, until_ns; /* only requests that start in [since, until) (0: no bound) */
    const uint16_t *ports;    /* HTTP server ports; NULL = defaults */
    int n_ports;
    bool detect;              /* HTTP on any port */
    size_t max_body;          /* default 64 KiB */
    size_t max_memory;        /* buffered stream bytes in all; default 256 MiB */
    int64_t idle_timeout_ns;  /* default 120 s (packet time) */
    int64_t reorder_window_ns;
    volatile int *stop;
    void (*on_ready)(void *userp); /* live: called once the capture is running */
    void *userp;
    /* every progress_ms (0: 500; < 0: every 8,192 packets), on the calling
     * thread: packets so far, and bytes of the files read so far (each
     * packet's captured bytes and its record header: close to the files'
     * size; live, the packets' bytes) */
    void (*on_progress)(void *userp, uint64_t packets, uint64_t bytes_in);
    int progress_ms;
};

/*
 * Reads pcap/pcapng files (in time order of their first packets) or a live
 * interface, reassembles TCP, parses HTTP/1.x requests and pairs them with
 * their responses, and hands each request to sink in start order. The start
 * is the first byte of the request; the duration runs to the last byte of the
 * response. Returns 0, the sink's error, or an input error (unsupported link
 * type, unreadable file) with the reason.
 */
int tide_pcap_run(const struct tide_pcap_opts *o, struct tide_sink sink, struct tide_pcap_stats *st,
                  struct tide_err *err);

#endif
