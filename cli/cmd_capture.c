/*
 * cmd_capture.c - `tide capture log` and `tide capture pcap`: access logs or
 * packets into a trace, in one pass (capture -> anonymize -> write), with a
 * summary that accounts for every line or packet.
 */
#include "cli_int.h"

#include "capture/capture.h"

#include <getopt.h>
#include <glob.h>
#include <regex.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

void help_capture(FILE *f)
{
    fprintf(f,
            "usage: tide capture log [options] FILE... -o OUT.tide\n"
            "       tide capture pcap [options] FILE... -o OUT.tide\n"
            "       tide capture pcap --interface IF [--filter BPF] [--duration D] -o OUT.tide\n"
            "Records requests into a trace, anonymized unless --raw (docs/capture.md).\n\n"
            "tide capture log: access logs (plain, .gz, .zst, .bz2, .xz, or '-' for stdin),\n"
            "several at once (rotated files, several servers), merged by request start time.\n"
            "  -f, --format F           combined | common | vhost_combined | vhost_common |\n"
            "                           ingress_nginx | traefik | ssl_request |\n"
            "                           nginx:'<log_format>' |\n"
            "                           apache:'<LogFormat>' | json | kv | heroku | w3c\n"
            "                           (IIS, NetScaler) | haproxy[:HEADER,...] | envoy |\n"
            "                           alb | cloudfront | s3; docker+F, cri+F, syslog+F,\n"
            "                           journal+F: F inside those logs' lines\n"
            "                           (default: guessed from the first lines, and said)\n"
            "      --nginx-conf FILE, --apache-conf FILE   take the format from the\n"
            "                           server's configuration: that of the access log\n"
            "                           that is each file\n"
            "      --map FIELD=PATH,... where json and kv fields are (docs/capture.md)\n"
            "      --reorder-window D   how far lines may be out of start order (default 60s)\n"
            "      --since T, --until T only requests that start from --since to before\n"
            "                           --until (RFC 3339): an incident out of a day's\n"
            "                           logs; with --follow, --until ends the capture\n"
            "      --tz OFFSET          times written without a zone (HAProxy's) are at\n"
            "                           this offset from UTC: +02:00, -0500 (default Z)\n"
            "      --year Y             syslog dates have no year: the first line's is Y\n"
            "                           (default: the year that puts them no later than\n"
            "                           the file's last change)\n"

            "      --max-bad N|P%%       fail above N bad lines or P%% of lines (default 1%%)\n"
            "      --strict             stop at the first bad line\n"
            "      --follow             follow live logs like tail -F (rotation and\n"
            "                           truncation handled) until SIGINT/SIGTERM; '-': a\n"
            "                           live pipe (journalctl -f, kubectl logs -f) until\n"
            "                           it ends or SIGINT/SIGTERM; a quoted pattern\n"
            "                           ('/var/log/containers/web-*.log') also takes up\n"
            "                           files made later\n"
            "      --flush D            with --follow: write a whole block at least every D\n"
            "                           (default 10s), so a crash loses at most that\n"
            "      --rotate-wait D      with --follow: after a rotation, read the old file\n"
            "                           until it has been quiet for D (default 5s): the\n"
            "                           server writes on into it until it reopens its log\n\n"
            "tide capture pcap: pcap/pcapng files (or a live interface); reassembles TCP\n"
            "and pairs HTTP/1.x requests with responses.\n"
            "  -i, --interface IF       live capture ('any' for all, 'nflog:N' for an\n"
            "                           nftables log group); SIGINT ends it\n"
            "  -f, --filter BPF         a capture filter (tcp port 80)\n"
            "      --duration D, -c, --count N   stop after D or N packets\n"
            "      --snaplen N          live snapshot length (default 262144)\n"
            "      --ports LIST         HTTP server ports (default 80,8080,8000,8008,8888,3000,5000,9000,8081)\n"
            "      --detect             find HTTP on any port\n"
            "      --max-body N         request bodies kept up to N bytes (default 65536; longer: truncated, flagged)\n"
            "      --max-memory N       buffered stream bytes in all (default 256 MiB; past it: evictions, counted)\n"
            "      --reconcile LOG      compare requests per minute with the server's access log\n"
            "      --since T, --until T only requests that start from --since to before\n"
            "                           --until (RFC 3339)\n\n"
            "Both:\n"
            "  -o, --output FILE        the trace to write ('-' = stdout)\n"
            "      --progress, --no-progress   a live line on stderr: MB read of the whole,\n"
            "                           lines or packets, rate, time left (default: on a\n"
            "                           terminal; not with --follow)\n"
            CLI_ANON_HELP
            "      --level N            zstd level 1-22 (default 9)\n");
}

/* A live line on stderr while a capture runs (on a terminal, or --progress). */
struct progress {
    uint64_t total; /* input bytes in all; 0 if unknown (stdin, a pipe, live) */
    struct timespec t0;
    const char *unit; /* "lines", "packets" */
    bool shown;
};

static void progress_clear(struct progress *p)
{
    if (p && p->shown) {
        fputs("\r\033[K", stderr);
        p->shown = false;
    }
}

static void on_progress(void *userp, uint64_t lines, uint64_t bytes)
{
    struct progress *p = userp;
    struct timespec now;
    double secs, rate;
    char line[256];
    size_t k;
    clock_gettime(CLOCK_MONOTONIC, &now);
    secs = (double)(now.tv_sec - p->t0.tv_sec) + (double)(now.tv_nsec - p->t0.tv_nsec) / 1e9;
    rate = secs > 0 ? (double)bytes / secs : 0;
    k = (size_t)snprintf(line, sizeof(line), "tide: capture: %.1f MB", (double)bytes / 1e6);
    if (p->total)
        k += (size_t)snprintf(line + k, sizeof(line) - k, " of %.1f MB (%.0f%%)", (double)p->total / 1e6,
                              100.0 * (double)bytes / (double)p->total);
    k += (size_t)snprintf(line + k, sizeof(line) - k, ", %llu %s, %.0f MB/s", (unsigned long long)lines,
                          p->unit, rate / 1e6);
    if (p->total && rate > 0 && bytes < p->total && k < sizeof(line))
        snprintf(line + k, sizeof(line) - k, ", about %.0f s left", (double)(p->total - bytes) / rate);
    fprintf(stderr, "\r%s\033[K", line);
    p->shown = true;
}

/* Whether to show progress (-1: on a terminal), and the inputs' whole size. */
static bool progress_start(struct progress *p, int want, const char *unit, const char *const *files, int n)
{
    int i;
    if (!(want == 1 || (want < 0 && isatty(2))))
        return false;
    clock_gettime(CLOCK_MONOTONIC, &p->t0);
    p->unit = unit;
    p->total = 0;
    for (i = 0; i < n; i++) {
        struct stat sb;
        if (strcmp(files[i], "-") == 0 || stat(files[i], &sb) || !S_ISREG(sb.st_mode)) {
            p->total = 0; /* a pipe somewhere: the whole is unknown */
            break;
        }
        p->total += (uint64_t)sb.st_size;
    }
    return true;
}

struct bad_report {
    uint64_t shown;
    struct progress *pr; /* cleared before a bad line is said */
};

static volatile int g_stop;
static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* --follow: write out the pending block every --flush */
struct flusher {
    struct cli_trace_out *to;
    int64_t every, last;
    int64_t stop_at; /* --follow --until: the wall-clock time to end (0: none) */
    struct tide_err failed; /* a flush that failed (a full disk): the capture ends with it */
};

static void on_idle(void *userp)
{
    struct flusher *f = userp;
    struct timespec t;
    struct tide_err err;
    int64_t now;
    clock_gettime(CLOCK_MONOTONIC, &t);
    now = (int64_t)t.tv_sec * TIDE_NS_PER_SEC + t.tv_nsec;
    if (now - f->last >= f->every) {
        if ((cli_trace_out_sync(f->to, &err) || tide_trace_writer_flush(f->to->w, &err)) && !f->failed.code) {
            f->failed = err;
            g_stop = 1; /* nothing more can be written */
        }
        f->last = now;
    }
    if (f->stop_at) {
        clock_gettime(CLOCK_REALTIME, &t);
        if ((int64_t)t.tv_sec * TIDE_NS_PER_SEC + t.tv_nsec >= f->stop_at)
            g_stop = 1; /* nothing later can start before --until */
    }
}

static void on_bad(void *userp, const char *file, uint64_t line, const char *reason)
{
    struct bad_report *b = userp;
    if (b->shown < 11)
        progress_clear(b->pr);
    if (b->shown++ < 10) {
        if (line == 0) /* the file as a whole */
            fprintf(stderr, "tide: %s: %s\n", file, reason);
        else
            fprintf(stderr, "tide: %s:%llu: %s\n", file, (unsigned long long)line, reason);
    } else if (b->shown == 11)
        fprintf(stderr, "tide: (more bad lines: counted in the summary)\n");
}

#define START_LEN 65536 /* what is read of a log's start: for the guess, and to tell an error log */

/* Reads the start of a log (decompressed) into buf (START_LEN bytes): 0 and
 * *len, or the input's error. */
static int read_start(const char *path, char *buf, size_t *len, struct tide_err *err)
{
    struct tide_input *in;
    int rc = tide_input_open(&in, path, err);
    *len = 0;
    if (rc)
        return rc;
    while (*len < START_LEN) {
        long k = tide_input_read(in, buf + *len, START_LEN - *len, err);
        if (k <= 0)
            break;
        *len += (size_t)k;
    }
    tide_input_close(in);
    return 0;
}

/* Guesses a log's format from its start (buf, len); *tailed: lines with
 * fields the guess ignores. An empty log has nothing to guess from: with
 * empty, *empty says so (and out is ""); without, it is an error. */
static int guess_format(const char *path, const char *buf, size_t len, char *out, size_t cap, int *tailed,
                        bool *empty, struct tide_err *err)
{
    int rc;
    if (len == 0 && empty) {
        *empty = true;
        out[0] = 0;
        return 0;
    }
    {
        size_t bom = len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0 ? 3 : 0; /* read past it too */
        rc = tide_logfmt_sniff(buf + bom, len - bom, out, cap, tailed);
    }
    if (rc && len == 0)
        tide_err_set(err, rc, path, "is empty: nothing to tell its format from; give --format, or the "
                                    "server's configuration (--nginx-conf, --apache-conf)");
    else if (rc)
        tide_err_set(err, rc, path, "cannot tell the log format from the first lines; give --format, or the "
                                    "server's configuration (--nginx-conf, --apache-conf)");
    return rc;
}

/* Reads the start of a log to guess its format (guess_format). */
static int sniff(const char *path, char *out, size_t cap, int *tailed, bool *empty, struct tide_err *err)
{
    char *buf = malloc(START_LEN);
    size_t len;
    int rc;
    if (!buf)
        return TIDE_E_NOMEM;
    rc = read_start(path, buf, &len, err);
    if (!rc)
        rc = guess_format(path, buf, len, out, cap, tailed, empty, err);
    free(buf);
    return rc;
}

static char *final_json(const struct tide_logcap_stats *st, const char *const *fmts, int n)
{
    struct tide_buf b;
    int i;
    tide_buf_init(&b, 0);
    tide_buf_printf(&b, "{\"capture\":{\"kind\":\"log\",\"lines\":%llu,\"records\":%llu,\"late\":%llu,"
                        "\"no_request\":%llu,\"bad\":%llu,\"inputs_failed\":%llu,\"unread_tail\":%llu,"
                        "\"outside\":%llu,"
                        "\"skipped\":{",
                    (unsigned long long)st->lines, (unsigned long long)st->records,
                    (unsigned long long)st->late, (unsigned long long)st->no_request,
                    (unsigned long long)st->bad, (unsigned long long)st->inputs_failed,
                    (unsigned long long)st->unread_tail, (unsigned long long)st->outside);
    for (i = 0; i < st->n_skipped; i++) {
        tide_buf_printf(&b, "%s\"", i ? "," : "");
        tide_json_escape(&b, st->skipped[i].reason, strlen(st->skipped[i].reason));
        tide_buf_printf(&b, "\":%llu", (unsigned long long)st->skipped[i].count);
    }
    tide_buf_printf(&b, "},\"formats\":[");
    for (i = 0; i < n; i++) {
        tide_buf_printf(&b, "%s\"", i ? "," : "");
        tide_json_escape(&b, fmts[i], strlen(fmts[i]));
        tide_buf_putc(&b, '"');
    }
    tide_buf_printf(&b, "]}}");
    tide_buf_putc(&b, 0);
    return b.p;
}

/* --since T, --until T (c 'S' or 'T'): *since or *until, or an error said. */
static int window_option(int c, const char *arg, int64_t *since, int64_t *until)
{
    if (tide_time_parse_rfc3339(arg, strlen(arg), c == 'S' ? since : until) == 0)
        return 0;
    cli_errorf("--%s: not an RFC 3339 time (2026-03-02T14:00:00Z)", c == 'S' ? "since" : "until");
    return EXIT_USAGE;
}

/* Says where a file's format came from (note: "guessed; --format sets it",
 * "from nginx.conf"), once for a run of files that share it (a log's
 * rotations): those after the first are counted in *same and said as a
 * number when the run ends (a different format, a file with more to say
 * (alone), or file NULL: the end). prev: the file before's format, or NULL. */
static void say_format(const char *file, const char *spec, const char *prev, const char *note, bool alone,
                       int *same)
{
    if (file && prev && !alone && strcmp(prev, spec) == 0) {
        (*same)++;
        return;
    }
    if (*same)
        fprintf(stderr, "tide:   (and %d more file(s) of that format)\n", *same);
    *same = 0;
    if (file)
        fprintf(stderr, "tide: %s: format %s (%s)\n", file, spec, note);
}

/* The summary's line for requests --since/--until left out, with the times
 * they span (none: no line). */
static void say_outside(uint64_t n, int64_t first, int64_t last)
{
    char a[31], b[31];
    if (!n)
        return;
    tide_time_format_rfc3339(first, a);
    tide_time_format_rfc3339(last, b);
    fprintf(stderr, "tide:   %llu request(s) outside --since/--until (they start from %s to %s), not written\n",
            (unsigned long long)n, a, b);
}

/* Whose error log a log is, by its first lines (start, len: read_start; a
 * shell glob of every .log in nginx's log directory takes it in with the
 * access logs), or NULL. */
static const char *error_log_in(const char *start, size_t len)
{
    static const struct {
        const char *who, *re;
    } K[] = {
        /* 2026/11/22 21:40:01 [error] 1234#1234: ... */
        {"nginx's", "^[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} "
                    "\\[(debug|info|notice|warn|error|crit|alert|emerg)\\] [0-9]+#[0-9]+: "},
        /* [Sun Nov 22 21:40:01.123456 2026] [core:error] [pid 1234...] ... */
        {"Apache's", "^\\[[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9][0-9] [0-9:.]+ [0-9]{4}\\] "
                     "\\[([a-z_0-9]+:)?(emerg|alert|crit|error|warn|notice|info|debug|trace[1-8])\\] "}};
    char buf[4096]; /* the first lines are enough */
    const char *who = NULL;
    size_t i;
    if (len > sizeof(buf) - 1)
        len = sizeof(buf) - 1;
    memcpy(buf, start, len);
    buf[len] = 0;
    for (i = 0; i < sizeof(K) / sizeof(K[0]) && !who; i++) {
        regex_t re;
        if (regcomp(&re, K[i].re, REG_EXTENDED | REG_NOSUB | REG_NEWLINE) != 0)
            continue;
        if (regexec(&re, buf, 0, NULL, 0) == 0)
            who = K[i].who;
        regfree(&re);
    }
    return who;
}

#define SSL_REQUEST_NOTE "mod_ssl's request log (the HTTPS requests of the access log beside it, without " \
                         "their status): left out; given alone it is read"

/* Red Hat's httpd writes each HTTPS request twice: to ssl_access_log and to
 * mod_ssl's ssl_request_log (no status). A glob of the log directory takes
 * in both; read together every HTTPS request would be replayed twice. So
 * among other logs, those told as ssl_request logs are said and left out.
 * The inputs (paths, formats and their names, n of them; paths owned) lose
 * them: their new count. */
/* Whether any of the named inputs' formats (names[i] NULL: none yet) is not
 * an ssl_request log. */
static bool other_than_ssl_request(char *const *names, int n)
{
    int i;
    for (i = 0; i < n; i++)
        if (names[i] && !tide_logfmt_is_ssl_request(names[i]))
            return true;
    return false;
}

static int leave_out_ssl_request(char **paths, struct tide_logfmt **fmts, char **names, int n)
{
    int i, k = 0;
    if (!other_than_ssl_request(names, n))
        return n;
    for (i = 0; i < n; i++) {
        if (names[i] && tide_logfmt_is_ssl_request(names[i])) {
            fprintf(stderr, "tide: %s: " SSL_REQUEST_NOTE "\n", paths[i]);
            free(paths[i]);
            tide_logfmt_free(fmts[i]);
            free(names[i]);
            continue;
        }
        paths[k] = paths[i];
        fmts[k] = fmts[i];
        names[k++] = names[i];
    }
    for (i = k; i < n; i++) {
        paths[i] = NULL;
        fmts[i] = NULL;
        names[i] = NULL;
    }
    return k;
}

/* Compiles input path's format, with the time zone and the year for dates
 * without one. */
static int setup_format(struct tide_logfmt **f, const char *spec, const char *map, int64_t tz, int year,
                        bool follow, const char *path, struct tide_err *err)
{
    struct stat sb;
    int64_t ref = 0;
    if (tide_logfmt_compile(f, spec, map, err))
        return err->code;
    tide_logfmt_set_tz(*f, tz);
    /* syslog dates without a year: no later than the file's last change (a
     * followed log's lines are new: the time they are read) */
    if (!follow && strcmp(path, "-") != 0 && stat(path, &sb) == 0)
        ref = (int64_t)sb.st_mtim.tv_sec * TIDE_NS_PER_SEC + sb.st_mtim.tv_nsec;
    tide_logfmt_set_year(*f, year, ref);
    return 0;
}

/* The format all the named inputs share (those without a name yet passed
 * over), or NULL when they have several or none. */
static const char *shared_format(char *const *names, int n)
{
    const char *common = NULL;
    int i;
    for (i = 0; i < n; i++) {
        if (!names[i])
            continue;
        if (common && strcmp(common, names[i]) != 0)
            return NULL;
        common = names[i];
    }
    return common;
}

/* The format of a log that was empty when guessing began: the one the other
 * inputs share. Followed, lines will come, so without one it is an error;
 * read once, it has no lines, and any format reads them. */
static const char *empty_log_format(const char *path, char *const *names, int n, bool follow,
                                    struct tide_err *err)
{
    const char *common = shared_format(names, n);
    if (common) {
        fprintf(stderr, "tide: %s: empty; %s with the format of the others (%s)\n", path,
                follow ? "followed" : "read", common);
        return common;
    }
    if (follow) {
        tide_err_set(err, TIDE_E_USAGE, path, "is empty: nothing to tell its format from; give --format, or the "
                                              "server's configuration (--nginx-conf, --apache-conf)");
        return NULL;
    }
    fprintf(stderr, "tide: %s: empty\n", path);
    return "combined";
}

static void free_strv(char **v, int n)
{
    int i;
    for (i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Appends a copy of str to the list (*v, *n): 0, or TIDE_E_NOMEM. */
static int strv_push(char ***v, int *n, const char *str)
{
    char **nv = realloc(*v, (size_t)(*n + 1) * sizeof(**v));
    if (!nv)
        return TIDE_E_NOMEM;
    *v = nv;
    if (!(nv[*n] = strdup(str)))
        return TIDE_E_NOMEM;
    (*n)++;
    return 0;
}

/* Inputs as given, with quoted patterns (access.log*, /var/log/containers/web-*.log)
 * expanded; with follow, the patterns are kept to find files made later (one
 * that matches nothing yet waits for them). *out and *pats are allocated:
 * free with free_strv. */
static int expand_inputs(char *const *args, int n, bool follow, char ***out, int *n_out, char ***pats,
                         int *n_pats)
{
    char **v = NULL, **p = NULL;
    int nv = 0, np = 0, i, rc = 0;
    for (i = 0; i < n && !rc; i++) {
        glob_t g;
        size_t k;
        bool pattern = strcmp(args[i], "-") != 0 && strpbrk(args[i], "*?[") && access(args[i], F_OK) != 0;
        if (pattern && follow)
            rc = strv_push(&p, &np, args[i]);
        if (pattern && glob(args[i], 0, NULL, &g) == 0) {
            for (k = 0; k < g.gl_pathc && !rc; k++)
                rc = strv_push(&v, &nv, g.gl_pathv[k]);
            globfree(&g);
        } else if (!rc && !(pattern && follow)) {
            rc = strv_push(&v, &nv, args[i]); /* a pattern matching nothing: said when opened */
        }
    }
    if (rc) {
        free_strv(v, nv);
        free_strv(p, np);
        return rc;
    }
    *out = v;
    *n_out = nv;
    *pats = p;
    *n_pats = np;
    return 0;
}

/* --follow with patterns: the format of a file that newly matches one. */
struct new_files {
    const char *format, *map;
    int64_t tz;
    int year;
    struct tide_webconf *webconf;
    char *const *names; /* the first inputs' formats: an empty new file takes the one they share */
    int n_names;
    struct tide_logfmt **made;
    int n_made;
    const char *output; /* the trace being written: under a pattern of the log directory, it is no log */
    struct unknown { /* files whose format could not be told yet: looked at again when they grow */
        char *path;
        off_t size; /* and its last change, when last looked at */
        struct timespec ctime;
    } *unknown;
    int n_unknown;
};

/* The entry of a file whose format was not told, or NULL. */
static struct unknown *unknown_entry(struct new_files *nf, const char *path)
{
    int i;
    for (i = 0; i < nf->n_unknown; i++)
        if (nf->unknown[i].path && strcmp(nf->unknown[i].path, path) == 0)
            return &nf->unknown[i];
    return NULL;
}

/* A new file's format could not be told from its start (why: a reason, or
 * err's message): said once, and looked at again when it has grown (its
 * first line may have been half written). 2: not yet. */
static int format_not_told(struct new_files *nf, const char *path, const char *pattern, const struct stat *sb,
                           const char *why)
{
    struct unknown *u = unknown_entry(nf, path);
    if (!u) {
        if (!(u = realloc(nf->unknown, (size_t)(nf->n_unknown + 1) * sizeof(*u))))
            return 2;
        nf->unknown = u;
        u += nf->n_unknown;
        if (!(u->path = strdup(path)))
            return 2;
        nf->n_unknown++;
    } else {
        why = NULL; /* said already */
    }
    u->size = sb->st_size;
    u->ctime = sb->st_ctim;
    if (!why)
        return 2;
    fprintf(stderr, "tide: %s: new file matching %s: %s; looked at again as it grows (--format sets the format)\n",
            path, pattern, why);
    return 2;
}

static int new_file_format(void *userp, const char *path, const char *pattern, struct tide_logfmt **f)
{
    struct new_files *nf = userp;
    char guessed[512];
    const char *spec = nf->format;
    struct tide_err err = {0};
    struct tide_logfmt **m;
    struct unknown *u = unknown_entry(nf, path);
    struct stat sb;
    if (stat(path, &sb) != 0)
        return 2; /* gone again already */
    if (u && u->size == sb.st_size && u->ctime.tv_sec == sb.st_ctim.tv_sec && u->ctime.tv_nsec == sb.st_ctim.tv_nsec)
        return 2; /* not told from what it held last time, and not changed since */
    {
        struct stat o;
        if (nf->output && stat(nf->output, &o) == 0 && o.st_dev == sb.st_dev && o.st_ino == sb.st_ino)
            return 1; /* the trace itself */
    }
    if (!spec && tide_input_is_stream(path)) {
        fprintf(stderr, "tide: %s: new file matching %s is a pipe (or a device): not followed without --format\n",
                path, pattern);
        return 1;
    }
    if (!spec) {
        /* as for the inputs given at the start: an error log is told first,
         * then the configuration's format, then the guess */
        bool empty = false;
        int tailed = 0, rc = 0, read_rc;
        size_t len;
        const char *who;
        char *start = malloc(START_LEN);
        if (!start)
            return 1;
        read_rc = read_start(path, start, &len, &err);
        who = read_rc ? NULL : error_log_in(start, len);
        if (!read_rc && !who && nf->webconf &&
            tide_webconf_format_for(nf->webconf, path, guessed, sizeof(guessed), &err) == 0)
            spec = guessed;
        else if (!read_rc && !who)
            rc = guess_format(path, start, len, guessed, sizeof(guessed), &tailed, &empty, &err);
        free(start);
        if (who) {
            fprintf(stderr, "tide: %s: %s error log, not an access log: left out\n", path, who);
            return 1;
        }
        if (read_rc == TIDE_E_NOTFOUND)
            return 2; /* gone again already */
        if (read_rc)
            return format_not_told(nf, path, pattern, &sb, err.msg); /* no access, say */
        if (!spec && rc == 0 && !empty)
            spec = guessed;
        else if (!spec && empty && !(spec = shared_format(nf->names, nf->n_names)))
            return 2; /* nothing to tell from yet: asked again when it has lines */
        else if (!spec)
            return format_not_told(nf, path, pattern, &sb, "cannot tell its format yet");
        if (tide_logfmt_is_ssl_request(spec) && other_than_ssl_request(nf->names, nf->n_names)) {
            fprintf(stderr, "tide: %s: " SSL_REQUEST_NOTE "\n", path); /* as at the start: left out */
            return 1;
        }
    }
    if (!(m = realloc(nf->made, (size_t)(nf->n_made + 1) * sizeof(*m))))
        return 1;
    nf->made = m;
    if (setup_format(f, spec, nf->map, nf->tz, nf->year, true, path, &err)) {
        cli_error(&err);
        return 1;
    }
    nf->made[nf->n_made++] = *f;
    if (u) { /* told at last */
        free(u->path);
        u->path = NULL;
    }
    fprintf(stderr, "tide: %s: new file matching %s, followed (format %s)\n", path, pattern, spec);
    return 0;
}

static int capture_log(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'}, {"format", required_argument, 0, 'f'},
        {"map", required_argument, 0, 'm'}, {"raw", no_argument, 0, 'r'},
        {"reorder-window", required_argument, 0, 'w'}, {"max-bad", required_argument, 0, 'b'},
        {"strict", no_argument, 0, 's'}, {"level", required_argument, 0, 'l'},
        {"follow", no_argument, 0, 'F'}, {"flush", required_argument, 0, 'U'},
        {"rotate-wait", required_argument, 0, 'Q'},
        {"tz", required_argument, 0, 'z'}, {"year", required_argument, 0, 'Y'},
        {"nginx-conf", required_argument, 0, 'C'}, {"apache-conf", required_argument, 0, 'A'},
        {"since", required_argument, 0, 'S'}, {"until", required_argument, 0, 'T'},
        {"progress", no_argument, 0, 'P'},
        {"no-progress", no_argument, 0, 'N'}, CLI_ANON_LONGOPTS, {0, 0, 0, 0}};
    const char *outpath = NULL, *format = NULL, *map = NULL, *max_bad = "1%", *server_conf = NULL;
    int conf_kind = TIDE_WEBCONF_NGINX;
    char **inputs = NULL, **patterns = NULL, *start = NULL;
    int n_inputs = 0, n_patterns = 0;
    struct new_files nf = {0};
    struct tide_webconf *webconf = NULL;
    char conf_note[4200];
    int64_t tz = 0;
    int year = 0, same = 0; /* files guessed as the one before, not said yet */
    int show_progress = -1; /* -1: on a terminal */
    struct progress pr = {0};
    bool raw = false;
    struct tide_logcap_opts lo = {0};
    struct tide_trace_writer_opts wo = {0};
    struct tide_err err = {0};
    struct tide_logcap_stats st;
    struct bad_report br = {0};
    struct cli_trace_out to = {0};
    struct tide_logfmt **fmts = NULL;
    char **fmt_names = NULL;
    int c, i, n, rc, ex = EXIT_OK, untold = 0;
    bool keep_live = false; /* --follow above --max-bad: the trace is written all the same */
    char *fin = NULL;
    struct timespec t0, t1;
    double secs;
    struct cli_anon ca;
    struct tide_sink sink;
    bool follow = false, max_bad_given = false, bad_is_pct = true;
    double bad_pct = 1;   /* --max-bad as parsed: a share of the lines, */
    uint64_t bad_count = 0; /* or a number of them */
    struct flusher fl = {.every = 10 * TIDE_NS_PER_SEC};

    cli_anon_init(&ca);
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:f:", longopts, NULL)) != -1) {
        int ac = cli_anon_option(&ca, c, optarg);
        if (ac < 0)
            return EXIT_USAGE;
        if (ac > 0)
            continue;
        switch (c) {
        case 'o': outpath = optarg; break;
        case 'f': format = optarg; break;
        case 'S':
        case 'T':
            if (window_option(c, optarg, &lo.since_ns, &lo.until_ns))
                return EXIT_USAGE;
            break;
        case 'C':
        case 'A':
            if (server_conf) {
                cli_errorf("capture log: one server configuration (--nginx-conf or --apache-conf)");
                return EXIT_USAGE;
            }
            server_conf = optarg;
            conf_kind = c == 'A' ? TIDE_WEBCONF_APACHE : TIDE_WEBCONF_NGINX;
            break;
        case 'm': map = optarg; break;
        case 'r': raw = true; break;
        case 'w':
            if (tide_duration_parse(optarg, &lo.reorder_window_ns)) {
                cli_errorf("--reorder-window: not a duration (60s, 2m, ...)");
                return EXIT_USAGE;
            }
            break;
        case 'P': show_progress = 1; break;
        case 'N': show_progress = 0; break;
        case 'z':
            if (tide_tz_parse(optarg, &tz)) {
                cli_errorf("--tz: not an offset from UTC (Z, +02:00, -0500, ...)");
                return EXIT_USAGE;
            }
            break;
        case 'Y': {
            char *end = NULL;
            long y = strtol(optarg, &end, 10);
            if (!*optarg || *end || y < 1970 || y > 9999) {
                cli_errorf("--year: not a year (1970-9999)");
                return EXIT_USAGE;
            }
            year = (int)y;
            break;
        }
        case 'b': {
            /* a count, or a share of the lines: 0..100% */
            size_t ml = strlen(optarg);
            char *end = NULL;
            int64_t v;
            bad_is_pct = ml && optarg[ml - 1] == '%';
            if (bad_is_pct)
                bad_pct = strtod(optarg, &end);
            if (bad_is_pct ? !(end == optarg + ml - 1 && bad_pct >= 0 && bad_pct <= 100)
                           : (tide_parse_i64(optarg, ml, &v) || v < 0)) {
                cli_errorf("--max-bad: a number of lines, or a share from 0%% to 100%%");
                return EXIT_USAGE;
            }
            if (!bad_is_pct)
                bad_count = (uint64_t)v;
            max_bad = optarg;
            max_bad_given = true;
            break;
        }
        case 's': lo.strict = true; break;
        case 'l':
            if (cli_parse_level(optarg, &wo.level))
                return EXIT_USAGE;
            break;
        case 'F': follow = true; break;
        case 'U':
            if (tide_duration_parse(optarg, &fl.every) || fl.every <= 0) {
                cli_errorf("--flush: not a duration");
                return EXIT_USAGE;
            }
            break;
        case 'Q':
            if (tide_duration_parse(optarg, &lo.rotate_wait_ns) || lo.rotate_wait_ns <= 0) {
                cli_errorf("--rotate-wait: not a duration");
                return EXIT_USAGE;
            }
            break;
        default: help_capture(stderr); return EXIT_USAGE;
        }
    }
    n = argc - optind;
    if (n < 1) {
        cli_errorf("capture log: no input files (use '-' for stdin)");
        return EXIT_USAGE;
    }
    if (!outpath) { /* said before any input is read or guessed */
        cli_errorf("capture log: an output is required (-o FILE, or -o - for stdout)");
        return EXIT_USAGE;
    }
    if (lo.since_ns && lo.until_ns && lo.until_ns <= lo.since_ns) {
        cli_errorf("capture log: --until is not after --since");
        return EXIT_USAGE;
    }
    if (server_conf && format) {
        cli_errorf("capture log: give --format or the server's configuration, not both");
        return EXIT_USAGE;
    }
    snprintf(conf_note, sizeof(conf_note), "from %s", server_conf ? server_conf : "");
    if (server_conf && tide_webconf_load(&webconf, server_conf, conf_kind, &err)) {
        cli_error(&err);
        return EXIT_USAGE;
    }
    if (webconf) {
        int nm;
        const char *at = tide_webconf_missing(webconf, &nm);
        if (at)
            fprintf(stderr, "tide: %s: included file not found, skipped%s (%d in all)\n", at,
                    nm > 1 ? ", and others" : "", nm);
    }
    if (expand_inputs(argv + optind, n, follow, &inputs, &n_inputs, &patterns, &n_patterns)) {
        ex = EXIT_RUNTIME;
        goto out_free;
    }
    if (n_inputs == 0 && n_patterns == 0) {
        cli_errorf("capture log: no file matches %s", argv[optind]);
        ex = EXIT_USAGE;
        goto out_free;
    }
    argv = inputs; /* from here on, the inputs are argv[optind..optind + n) */
    optind = 0;
    n = n_inputs;
    for (i = 0; i < n; i++)
        cli_note_input(argv[i]);
    fmts = calloc((size_t)n + 1, sizeof(*fmts));
    fmt_names = calloc((size_t)n + 1, sizeof(*fmt_names));
    if (!fmts || !fmt_names) {
        ex = EXIT_RUNTIME;
        goto out_free;
    }
    if (!format && !(start = malloc(START_LEN))) {
        ex = EXIT_RUNTIME;
        goto out_free;
    }
    for (i = 0; i < n; i++) {
        char guessed[512];
        int tailed = 0, read_rc = 1;
        bool empty = false;
        size_t start_len = 0;
        const char *spec = format, *who = NULL;
        struct tide_err read_err = {0};
        bool stream = tide_input_is_stream(argv[optind + i]); /* its bytes can be read only once */
        if (!format && !stream) { /* read once: the error-log check, then the guess */
            read_rc = read_start(argv[optind + i], start, &start_len, &read_err);
            who = read_rc ? NULL : error_log_in(start, start_len);
        }
        if (who && n > 1) { /* a glob of the log directory took it in: said, and left out */
            fprintf(stderr, "tide: %s: %s error log, not an access log: left out\n", argv[optind + i], who);
            free(argv[optind + i]); /* argv is inputs here */
            memmove(&argv[optind + i], &argv[optind + i + 1], (size_t)(n - i - 1) * sizeof(*argv));
            argv[optind + n - 1] = NULL;
            n--;
            i--;
            continue;
        }
        if (who) {
            cli_errorf("%s: %s error log, not an access log", argv[optind + i], who);
            ex = EXIT_USAGE;
            goto out_free;
        }
        if (!spec && webconf) {
            if (tide_webconf_format_for(webconf, argv[optind + i], guessed, sizeof(guessed), &err)) {
                cli_error(&err);
                ex = EXIT_USAGE;
                goto out_free;
            }
            say_format(argv[optind + i], guessed, i ? fmt_names[i - 1] : NULL, conf_note, false, &same);
            spec = guessed;
        }
        if (!spec) {
            if (stream) {
                /* what the guess read would be lost to the capture */
                if (strcmp(argv[optind + i], "-") == 0)
                    cli_errorf("capture log: give --format when reading stdin");
                else
                    cli_errorf("capture log: %s is a pipe (or a device): what a guess reads of it would be "
                               "lost; give --format", argv[optind + i]);
                ex = EXIT_USAGE;
                goto out_free;
            }
            if (read_rc || guess_format(argv[optind + i], start, start_len, guessed, sizeof(guessed), &tailed,
                                        &empty, &err)) {
                cli_error(read_rc ? &read_err : &err);
                ex = EXIT_USAGE;
                goto out_free;
            }
            if (empty)
                continue; /* below, once the others are known */
            say_format(argv[optind + i], guessed, i ? fmt_names[i - 1] : NULL, "guessed; --format sets it",
                       tailed > 0, &same);
            if (tailed)
                fprintf(stderr, "tide: %s: %d of the lines read to guess it carry fields after what that format "
                        "reads; they are not stored (--format with the log's own format string reads them)\n",
                        argv[optind + i], tailed);
            spec = guessed;
        }
        if (setup_format(&fmts[i], spec, map, tz, year, follow, argv[optind + i], &err) ||
            !(fmt_names[i] = strdup(spec))) {
            cli_error(&err);
            ex = EXIT_USAGE;
            goto out_free;
        }
    }
    say_format(NULL, NULL, NULL, NULL, false, &same);
    if (!format)
        n = leave_out_ssl_request(argv + optind, fmts, fmt_names, n);
    for (i = 0; i < n; i++) {
        const char *spec;
        if (fmts[i])
            continue;
        spec = empty_log_format(argv[optind + i], fmt_names, n, follow, &err);
        if (!spec || setup_format(&fmts[i], spec, map, tz, year, follow, argv[optind + i], &err) ||
            !(fmt_names[i] = strdup(spec))) {
            cli_error(&err);
            ex = EXIT_USAGE;
            goto out_free;
        }
    }
    {
        /* the trace's sources: the inputs, then the patterns followed for more */
        const char **msrc = calloc((size_t)(n + n_patterns) + 1, sizeof(*msrc));
        const char **mkind = calloc((size_t)(n + n_patterns) + 1, sizeof(*mkind));
        if (!msrc || !mkind) {
            free(msrc);
            free(mkind);
            ex = EXIT_RUNTIME;
            goto out_free;
        }
        for (i = 0; i < n; i++) {
            msrc[i] = argv[optind + i];
            mkind[i] = fmt_names[i];
        }
        for (i = 0; i < n_patterns; i++) {
            msrc[n + i] = patterns[i];
            mkind[n + i] = format ? format : "each new file's own";
        }
        cli_out_in_place = follow; /* readers see a live trace grow */
        ex = cli_trace_out_open_kinds(&to, outpath, raw, &ca, mkind, msrc, n + n_patterns, &wo);
        free(msrc);
        free(mkind);
    }
    if (ex != EXIT_OK)
        goto out_free;
    lo.on_bad = on_bad;
    lo.on_bad_userp = &br;
    if (follow) {
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        lo.follow_stop = &g_stop;
        lo.follow_globs = (const char *const *)patterns;
        lo.n_follow_globs = n_patterns;
        nf.format = format;
        nf.map = map;
        nf.tz = tz;
        nf.year = year;
        nf.webconf = webconf;
        nf.names = fmt_names;
        nf.n_names = n;
        nf.output = outpath;
        lo.new_format = new_file_format;
        lo.new_format_userp = &nf;
        fl.to = &to;
        if (lo.until_ns) /* past --until and the window: the capture is whole */
            fl.stop_at = lo.until_ns + (lo.reorder_window_ns > 0 ? lo.reorder_window_ns : 60 * TIDE_NS_PER_SEC);
        lo.on_idle = on_idle;
        lo.on_idle_userp = &fl;
        if (!max_bad_given) { /* a live capture is not thrown away for bad lines */
            max_bad = "100%";
            bad_pct = 100;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (progress_start(&pr, follow && show_progress < 0 ? 0 : show_progress, "lines",
                       (const char *const *)argv + optind, n)) {
        lo.on_progress = on_progress;
        lo.on_progress_userp = &pr;
        br.pr = &pr;
    }
    sink = to.sink;
    rc = tide_logcap_run((const char *const *)argv + optind, fmts, n, &lo, sink, &st, &err);
    if (!rc && fl.failed.code) { /* a --flush that failed stopped the capture */
        rc = fl.failed.code;
        err = fl.failed;
    }
    progress_clear(&pr);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (rc) {
        cli_error(&err);
        ex = rc == TIDE_E_FORMAT || rc == TIDE_E_NOTFOUND || rc == TIDE_E_USAGE ? EXIT_USAGE : EXIT_RUNTIME;
    } else {
        uint64_t limit = bad_is_pct ? (uint64_t)(bad_pct / 100.0 * (double)st.lines) : bad_count;
        uint64_t events = 0;
        for (int k = 0; k < st.n_skipped; k++)
            if (strcmp(st.skipped[k].reason, TIDE_LOG_EVENT_REASON) == 0)
                events = st.skipped[k].count;
        if (!follow && st.records == 0 && events > 0) {
            /* no line held a request: the names are not the ones tide knows
             * (skipping them as log events would write an empty trace) */
            cli_errorf("capture log: no line held a request: %llu lines had no path, method or status under "
                       "the names tide knows; give --map FIELD=PATH,... (docs/capture.md); nothing written",
                       (unsigned long long)events);
            ex = EXIT_USAGE;
        } else if (st.bad > limit) {
            /* a live capture cannot be taken again: its trace is written all the same */
            cli_errorf("capture log: %llu bad lines, more than --max-bad %s (%llu)%s", (unsigned long long)st.bad,
                       max_bad, (unsigned long long)limit,
                       follow ? "; the trace is written all the same (a live capture cannot be taken again)"
                              : "; nothing written");
            ex = EXIT_USAGE;
            keep_live = follow;
        }
    }
    if (ex == EXIT_OK || keep_live) {
        int cex;
        fin = final_json(&st, (const char *const *)fmt_names, n);
        if ((cex = cli_trace_out_close(&to, fin)) != EXIT_OK)
            ex = cex;
    }
    if (ex != EXIT_OK && !keep_live) {
        cli_trace_out_abort(&to);
    } else {
        char a[31], b[31];
        fprintf(stderr, "tide: capture: %llu lines read, %llu records written, %llu late, %llu "
                        "without a request, %llu bad\n",
                (unsigned long long)st.lines, (unsigned long long)st.records,
                (unsigned long long)st.late, (unsigned long long)st.no_request,
                (unsigned long long)st.bad);
        for (i = 0; i < st.n_skipped; i++)
            fprintf(stderr, "tide:   skipped %llu: %s%s\n", (unsigned long long)st.skipped[i].count,
                    st.skipped[i].reason, st.skipped[i].bad ? "" : " (not a request)");
        say_outside(st.outside, st.outside_first, st.outside_last);
        if (st.inputs_failed)
            fprintf(stderr, "tide:   %llu input(s) ended in an error; records before it were kept\n",
                    (unsigned long long)st.inputs_failed);
        if (n_patterns) {
            char late[64] = "";
            if (st.files_opened_late)
                snprintf(late, sizeof(late), " (%llu opened on a later try)",
                         (unsigned long long)st.files_opened_late);
            fprintf(stderr, "tide:   followed %llu file(s): %llu new while running%s, %llu deleted and let go\n",
                    (unsigned long long)n + st.files_new, (unsigned long long)st.files_new, late,
                    (unsigned long long)st.files_let_go);
        }
        for (i = 0; i < nf.n_unknown; i++)
            untold += nf.unknown[i].path != NULL;
        if (untold)
            fprintf(stderr, "tide:   %d file(s) matching a pattern not read: their format was never told "
                            "(--format sets it)\n", untold);
        if (st.unread_tail)
            fprintf(stderr, "tide:   %llu record(s) from lines that go on past what the format reads; the rest "
                            "of those lines is not stored (--format with the log's own format string reads it)\n",
                    (unsigned long long)st.unread_tail);
        if (st.records) {
            tide_time_format_rfc3339(st.first_ts, a);
            tide_time_format_rfc3339(st.last_ts, b);
            fprintf(stderr, "tide:   time range %s .. %s\n", a, b);
        }
        fprintf(stderr, "tide:   %.1f MB in %.2f s (%.1f MB/s, %.0f lines/s)\n",
                (double)st.bytes_in / 1e6, secs, secs > 0 ? (double)st.bytes_in / 1e6 / secs : 0,
                secs > 0 ? (double)st.lines / secs : 0);
        if ((st.inputs_failed || untold) && ex == EXIT_OK)
            ex = EXIT_INCOMPLETE;
    }
out_free:
    cli_trace_out_free(&to);
    for (i = 0; fmts && i < n; i++) {
        tide_logfmt_free(fmts[i]);
        free(fmt_names[i]);
    }
    free(fmts);
    free(fmt_names);
    free(fin);
    tide_webconf_free(webconf);
    for (i = 0; i < nf.n_made; i++)
        tide_logfmt_free(nf.made[i]);
    free(nf.made);
    for (i = 0; i < nf.n_unknown; i++)
        free(nf.unknown[i].path);
    free(nf.unknown);
    free_strv(inputs, n_inputs);
    free_strv(patterns, n_patterns);
    free(start);
    return ex;
}

/* --reconcile: requests per minute of start, counted as they pass */
struct per_minute {
    struct tide_sink next;
    int64_t base; /* first minute seen */
    uint64_t *n;
    size_t cap;
    bool have;
};

static void pm_count(struct per_minute *pm, int64_t ts)
{
    int64_t m = ts / (60 * TIDE_NS_PER_SEC);
    if (!pm->have) {
        pm->base = m - 1440; /* room for a day before the first record */
        pm->have = true;
    }
    if (m >= pm->base && (size_t)(m - pm->base) < pm->cap)
        pm->n[m - pm->base]++;
}

static int pm_sink(void *userp, const struct tide_record *r, struct tide_err *err)
{
    struct per_minute *pm = userp;
    pm_count(pm, r->ts_ns);
    return pm->next.fn ? pm->next.fn(pm->next.userp, r, err) : 0;
}

/* Compares the capture's requests per minute with a server's access log. */
static int reconcile(const char *log, struct per_minute *cap, struct tide_err *err)
{
    struct per_minute srv = {{NULL, NULL}, cap->base, NULL, cap->cap, true};
    struct tide_logfmt *fmt = NULL;
    struct tide_logcap_opts lo = {0};
    struct tide_logcap_stats st;
    char spec[512];
    const char *paths[1] = {log};
    size_t i, diffs = 0;
    uint64_t tc = 0, ts = 0;
    int rc;
    srv.n = calloc(srv.cap, sizeof(uint64_t));
    if (!srv.n)
        return TIDE_E_NOMEM;
    rc = sniff(log, spec, sizeof(spec), NULL, NULL, err);
    if (!rc)
        rc = tide_logfmt_compile(&fmt, spec, NULL, err);
    if (!rc)
        rc = tide_logcap_run(paths, &fmt, 1, &lo, (struct tide_sink){pm_sink, &srv}, &st, err);
    if (!rc) {
        printf("reconcile with %s (%s): requests per minute, capture vs server log\n", log, spec);
        for (i = 0; i < cap->cap; i++) {
            tc += cap->n[i];
            ts += srv.n[i];
            if (cap->n[i] != srv.n[i]) {
                char t[31];
                tide_time_format_rfc3339((cap->base + (int64_t)i) * 60 * TIDE_NS_PER_SEC, t);
                if (diffs++ < 50)
                    printf("  %.16s  capture %6llu  log %6llu  difference %+lld\n", t, (unsigned long long)cap->n[i],
                           (unsigned long long)srv.n[i], (long long)srv.n[i] - (long long)cap->n[i]);
            }
        }
        printf("  total: capture %llu, log %llu (%+lld); %zu minute(s) differ%s\n", (unsigned long long)tc,
               (unsigned long long)ts, (long long)ts - (long long)tc, diffs, diffs > 50 ? " (first 50 shown)" : "");
    }
    tide_logfmt_free(fmt);
    free(srv.n);
    return rc;
}

static void pcap_ready(void *userp)
{
    (void)userp;
    fprintf(stderr, "tide: capturing (SIGINT or SIGTERM ends it with a complete trace)\n");
}

static int capture_pcap(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'}, {"interface", required_argument, 0, 'i'},
        {"filter", required_argument, 0, 'f'}, {"duration", required_argument, 0, 'd'},
        {"count", required_argument, 0, 'c'}, {"snaplen", required_argument, 0, 's'},
        {"ports", required_argument, 0, 'p'}, {"detect", no_argument, 0, 'D'},
        {"max-body", required_argument, 0, 'b'}, {"max-memory", required_argument, 0, 'm'},
        {"raw", no_argument, 0, 'r'}, {"level", required_argument, 0, 'l'},
        {"reconcile", required_argument, 0, 'R'}, {"progress", no_argument, 0, 'P'},
        {"no-progress", no_argument, 0, 'N'}, {"since", required_argument, 0, 'S'},
        {"until", required_argument, 0, 'T'}, CLI_ANON_LONGOPTS, {0, 0, 0, 0}};
    struct tide_pcap_opts po;
    struct progress pr = {0};
    int show_progress = -1;
    const char *reconcile_log = NULL;
    struct per_minute pm = {{NULL, NULL}, 0, NULL, 0, false};
    struct tide_pcap_stats st;
    struct tide_trace_writer_opts wo = {0};
    struct tide_err err = {0};
    struct cli_trace_out to = {0};
    struct cli_anon ca;
    struct tide_sink sink;
    uint16_t ports[64];
    const char *outpath = NULL;
    bool raw = false;
    int c, i, rc, ex = EXIT_OK, n_ports = 0;

    struct tide_buf fb;

    memset(&po, 0, sizeof(po));
    cli_anon_init(&ca);
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:i:f:c:", longopts, NULL)) != -1) {
        int ac = cli_anon_option(&ca, c, optarg);
        int64_t v;
        if (ac < 0)
            return EXIT_USAGE;
        if (ac > 0)
            continue;
        switch (c) {
        case 'o': outpath = optarg; break;
        case 'P': show_progress = 1; break;
        case 'N': show_progress = 0; break;
        case 'S':
        case 'T':
            if (window_option(c, optarg, &po.since_ns, &po.until_ns))
                return EXIT_USAGE;
            break;
        case 'i': po.interface = optarg; break;
        case 'f': po.filter = optarg; break;
        case 'd':
            if (tide_duration_parse(optarg, &po.duration_ns)) {
                cli_errorf("--duration: not a duration");
                return EXIT_USAGE;
            }
            break;
        case 'c':
            if (cli_parse_range(optarg, 1, INT64_MAX, "--count: a number of packets, 1 or more", &v))
                return EXIT_USAGE;
            po.count = (uint64_t)v;
            break;
        case 's':
            if (cli_parse_range(optarg, 1, 262144, "--snaplen: bytes, 1 to 262144", &v))
                return EXIT_USAGE;
            po.snaplen = (int)v;
            break;
        case 'p': {
            char *dup = strdup(optarg), *tok, *save = NULL;
            for (tok = strtok_r(dup, ",", &save); tok && n_ports < 64; tok = strtok_r(NULL, ",", &save)) {
                long v2 = strtol(tok, NULL, 10);
                if (v2 <= 0 || v2 > 65535) {
                    cli_errorf("--ports: a comma-separated list of port numbers");
                    free(dup);
                    return EXIT_USAGE;
                }
                ports[n_ports++] = (uint16_t)v2;
            }
            free(dup);
            break;
        }
        case 'D': po.detect = true; break;
        case 'b':
            if (cli_parse_range(optarg, 0, INT64_MAX, "--max-body: bytes", &v))
                return EXIT_USAGE;
            po.max_body = (size_t)v;
            break;
        case 'm':
            if (cli_parse_range(optarg, 1, INT64_MAX, "--max-memory: bytes", &v))
                return EXIT_USAGE;
            po.max_memory = (size_t)v;
            break;
        case 'r': raw = true; break;
        case 'l':
            if (cli_parse_level(optarg, &wo.level))
                return EXIT_USAGE;
            break;
        case 'R': reconcile_log = optarg; break;
        default: help_capture(stderr); return EXIT_USAGE;
        }
    }
    if (n_ports) {
        po.ports = ports;
        po.n_ports = n_ports;
    }
    if (!po.interface && optind >= argc) {
        cli_errorf("capture pcap: give pcap files ('-' for stdin) or --interface IF");
        return EXIT_USAGE;
    }
    if (po.interface && optind < argc) {
        cli_errorf("capture pcap: files or --interface, not both");
        return EXIT_USAGE;
    }
    if (reconcile_log && tide_input_is_stream(reconcile_log)) {
        /* its format is guessed from its start, then it is read from the start */
        cli_errorf("capture pcap: --reconcile %s: give the log as a file (a pipe can be read only once)",
                   reconcile_log);
        return EXIT_USAGE;
    }
    if (!outpath) {
        cli_errorf("capture pcap: an output is required (-o FILE, or -o - for stdout)");
        return EXIT_USAGE;
    }
    if (!po.interface) {
        po.files = (const char *const *)argv + optind;
        po.n_files = argc - optind;
    }
    for (i = 0; !po.interface && i < po.n_files; i++)
        cli_note_input(po.files[i]);
    if (reconcile_log)
        cli_note_input(reconcile_log);
    cli_out_in_place = po.interface != NULL;
    ex = cli_trace_out_open(&to, outpath, raw, &ca, po.interface ? "pcap:live" : "pcap",
                            po.interface ? &po.interface : po.files, po.interface ? 1 : po.n_files, &wo);
    if (ex != EXIT_OK) {
        cli_trace_out_free(&to);
        return ex;
    }
    sink = to.sink;
    if (reconcile_log) {
        /* counted before anonymization: a time shift must not skew the comparison */
        pm.cap = 1440 * 8;
        pm.n = calloc(pm.cap, sizeof(uint64_t));
        pm.next = sink;
        if (pm.n)
            sink = (struct tide_sink){pm_sink, &pm};
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    po.stop = &g_stop;
    if (po.interface)
        po.on_ready = pcap_ready;
    if (progress_start(&pr, show_progress, "packets", po.interface ? NULL : po.files,
                       po.interface ? 0 : po.n_files)) {
        po.on_progress = on_progress;
        po.userp = &pr;
    }
    rc = tide_pcap_run(&po, sink, &st, &err);
    progress_clear(&pr);
    if (rc && rc != TIDE_E_TRUNCATED) {
        cli_error(&err);
        ex = rc == TIDE_E_FORMAT || rc == TIDE_E_USAGE ? EXIT_USAGE : EXIT_RUNTIME;
        cli_trace_out_abort(&to);
        goto out_free;
    }
    if (rc == TIDE_E_TRUNCATED) {
        cli_error(&err);
        ex = EXIT_INCOMPLETE;
    }
    tide_buf_init(&fb, 0);
    tide_buf_printf(&fb, "{\"capture\":{\"kind\":\"pcap\",\"packets\":%llu,\"connections\":%llu,"
                         "\"requests\":%llu,\"responses\":%llu,\"no_response\":%llu,\"kernel_drops\":%llu,"
                         "\"outside\":%llu,\"empty_files\":%llu,\"skipped\":{",
                    (unsigned long long)st.packets, (unsigned long long)st.connections,
                    (unsigned long long)st.requests, (unsigned long long)st.responses,
                    (unsigned long long)st.no_response, (unsigned long long)st.kernel_drops,
                    (unsigned long long)st.outside, (unsigned long long)st.empty_files);
    for (i = 0; i < TIDE_PCAP_SKIP_KINDS; i++)
        tide_buf_printf(&fb, "%s\"%s\":[%llu,%llu]", i ? "," : "", tide_pcap_skip_name(i),
                        (unsigned long long)st.skipped[i], (unsigned long long)st.skipped_bytes[i]);
    tide_buf_printf(&fb, "}}}");
    tide_buf_putc(&fb, 0);
    rc = cli_trace_out_close(&to, fb.p);
    tide_buf_free(&fb);
    if (rc != EXIT_OK) {
        ex = rc;
        goto out_free;
    }
    {
        static const char *LT[] = {"ethernet", "linux-sll", "linux-sll2", "null/loop", "raw ip", "other", "nflog"};
        fprintf(stderr, "tide: capture: %llu packets (%llu bytes), %llu connections, %llu requests written "
                        "(%llu answered, %llu without a response), %llu late\n",
                (unsigned long long)st.packets, (unsigned long long)st.bytes,
                (unsigned long long)st.connections, (unsigned long long)st.requests,
                (unsigned long long)st.responses, (unsigned long long)st.no_response, (unsigned long long)st.late);
        say_outside(st.outside, st.outside_first, st.outside_last);
        if (st.empty_files)
            fprintf(stderr, "tide:   %llu empty file(s): no packets, not even a file header\n",
                    (unsigned long long)st.empty_files);
        if (st.packets) {
            fprintf(stderr, "tide:   link types:");
            for (i = 0; i < (int)(sizeof(LT) / sizeof(LT[0])); i++)
                if (st.by_linktype[i])
                    fprintf(stderr, " %s %llu", LT[i], (unsigned long long)st.by_linktype[i]);
            fprintf(stderr, "\n");
        }
        for (i = 0; i < TIDE_PCAP_SKIP_KINDS; i++)
            if (st.skipped[i] || st.skipped_bytes[i])
                fprintf(stderr, "tide:   not used: %s: %llu (%llu bytes)\n", tide_pcap_skip_name(i),
                        (unsigned long long)st.skipped[i], (unsigned long long)st.skipped_bytes[i]);
        if (st.skipped[TIDE_PCAP_SKIP_TRUNCATED_PACKET])
            fprintf(stderr, "tide:   (the capture kept only the first bytes of %s packets: record with the whole "
                            "packet, tcpdump -s 0)\n",
                    st.skipped[TIDE_PCAP_SKIP_TRUNCATED_PACKET] == st.packets ? "all" : "those");
        if (st.bodies_truncated)
            fprintf(stderr, "tide:   %llu request bodies truncated at --max-body (flagged)\n",
                    (unsigned long long)st.bodies_truncated);
        if (po.interface)
            fprintf(stderr, "tide:   kernel drops %llu, interface drops %llu\n",
                    (unsigned long long)st.kernel_drops, (unsigned long long)st.if_drops);
    }
    if (reconcile_log && pm.n && reconcile(reconcile_log, &pm, &err)) {
        cli_error(&err);
        ex = EXIT_USAGE;
    }
out_free:
    cli_trace_out_free(&to);
    free(pm.n);
    return ex;
}

int cmd_capture(int argc, char **argv)
{
    if (argc < 2) {
        help_capture(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "log") == 0)
        return capture_log(argc - 1, argv + 1);
    if (strcmp(argv[1], "pcap") == 0)
        return capture_pcap(argc - 1, argv + 1);
    cli_errorf("capture: unknown source '%s' (log)", argv[1]);
    return EXIT_USAGE;
}
