/*
 * cmd_replay.c - `tide replay TRACE --target URL`: the safety checks (each
 * refusal exits 2 before anything is sent), --dry-run, the kill switch
 * (SIGINT/SIGTERM stop sending, drain, report), and the reports.
 */
#include "cli_int.h"

#include "capture/capture.h"
#include "replay/replay.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static volatile int g_stop;

/* The first SIGINT/SIGTERM stops sending and waits up to --drain for the
 * answers in flight; a second abandons them (the report is still written). */
static void on_signal(int sig)
{
    static const char M1[] = "\ntide: replay: stopping: no new requests; waiting up to --drain for the answers in "
                             "flight (again to stop at once)\n",
                      M2[] = "tide: replay: stopping at once; the answers still in flight are abandoned\n";
    (void)sig;
    if (g_stop) {
        g_stop = 2;
        (void)!write(2, M2, sizeof(M2) - 1);
    } else {
        g_stop = 1;
        (void)!write(2, M1, sizeof(M1) - 1);
    }
}

void help_replay(FILE *f)
{
    fprintf(f,
            "usage: tide replay TRACE --target URL [options]\n"
            "Plays TRACE against URL open-loop: each request is sent at its due time,\n"
            "start + (recorded start - window start) / speed, whatever earlier requests do.\n\n"
            "  -t, --target URL         scheme://host:port of the system under test\n"
            "      --speed S            time compression (24 = a day in an hour; default 1)\n"
            "      --multiplier M       volume: whole session clones plus a hashed fraction;\n"
            "                           below 1, sessions are sampled (default 1)\n"
            "      --from T, --to T     window: RFC 3339 or +OFFSET from the trace start\n"
            "      --loop N             play the window N times (soak)\n"
            "      --profile FILE|SPEC  stages (docs/replay.md): JSON file, or inline\n"
            "                           warm=1x/2m/warmup,base=1x/10m,peak=3x/10m,spike=900rps/2m\n"
            "      --max-gap D          shorten idle stretches longer than D\n"
            "      --threads N          worker threads (default: cores)\n"
            "      --connections N      keep-alive connections per worker (default: as needed)\n"
            "      --timeout D          per request (default 10s)\n"
            "      --drain D            after the last due time or a stop, wait this long (default 5s)\n"
            "      --host-header keep|target|VALUE  the Host sent (default keep)\n"
            "      --header 'K: V'      add a header (repeatable)\n"
            "      --methods LIST|all   methods to replay (default GET,HEAD,OPTIONS)\n"
            "      --include-path RE, --exclude-path RE  filter by path (POSIX ERE)\n"
            "      --expect-status LIST statuses that are not errors (e.g. 401,403)\n"
            "      --auth-map FILE      staging credentials ('Cookie: ...' lines) per session\n"
            "      --shard K/N          play only shard K of N (sessions split by hash)\n"
            "      --start-at T         start the schedule at this RFC 3339 time\n"
            "      --allow-raw          replay a raw (not anonymized) trace\n"
            "      --allow-capture-host let the target be a host recorded in the trace\n"
            "      --http2, --insecure, --cacert FILE\n"
            "      --client native|curl the HTTP client: tide's own HTTP/1.1 client (default for\n"
            "                           http://) or libcurl (always for https:// and --http2)\n"
            "      --dry-run            print the schedule, send nothing\n"
            "      --report-json FILE   the full report (docs/report.md)\n"
            "      --report-html FILE   the report as one self-contained page (charts, tables)\n"
            "      --run-id ID          the X-Tide-Run value (default: random)\n"
            "      --no-progress        no live line on stderr\n"
            "      --abort-if EXPR      a kill switch, repeatable: 'error_rate>0.5%% for 2m',\n"
            "                           'p99>2s for 1m' (over the last window; default 10s):\n"
            "                           stop sending, drain, report, exit 3\n"
            "      --metrics-addr H:P   Prometheus text at http://H:P/metrics while running\n"
            "      --slo EXPR           an objective, repeatable: p95<=120ms, p99<=250ms,\n"
            "                           error_rate<=0.1%%, availability>=99.9%%, scoped with\n"
            "                           route=NAME: or class=googlebot: (exit 1 if one is missed)\n"
            "Exit: 0 ok, 1 an SLO missed, 2 refused or bad usage, 3 aborted by --abort-if,\n"
            "4 runtime failure.\n");
}

/* Prints the SLO verdict table; EXIT_FINDINGS if any objective was missed. */
/* One verdict row; returns 1 if the objective was missed. */
static int verdict(const char *label, const struct tide_slo *s, int ok, double v, const char *absent)
{
    char m[32];
    if (s->metric <= TIDE_SLO_MAX)
        snprintf(m, sizeof(m), "%.1f ms", v);
    else
        snprintf(m, sizeof(m), "%.3f%%", v * 100);
    printf("  %-50.50s %12s   %s\n", label, ok < 0 ? "-" : m, ok < 0 ? absent : ok ? "pass" : "FAIL");
    return ok != 1;
}

int cli_slo_verdicts(const struct tide_replay_result *r, const struct tide_slo *slos, int n)
{
    int i, k, missed = 0, total = 0;
    if (!n)
        return EXIT_OK;
    printf("\n  SLO                                                 measured      verdict\n");
    for (i = 0; i < n; i++) {
        double v = 0;
        int ok = tide_slo_eval(r, &slos[i], &v);
        missed += verdict(slos[i].text, &slos[i], ok, v, "FAIL (no such route or class)");
        total++;
        /* with a profile, an unscoped objective is also judged in each non-warm-up stage */
        for (k = 0; !slos[i].scope_kind && k < tide_replay_result_stages(r); k++) {
            bool warm;
            const char *nm = tide_replay_result_stage(r, k, &warm);
            char label[128];
            if (warm)
                continue;
            ok = tide_slo_eval_stage(r, &slos[i], k, &v);
            snprintf(label, sizeof(label), "  stage %s", nm);
            missed += verdict(label, &slos[i], ok, v, "FAIL (nothing scheduled)");
            total++;
        }
    }
    printf("  %s: %d of %d objectives met\n", missed ? "FAIL" : "PASS", total - missed, total);
    return missed ? EXIT_FINDINGS : EXIT_OK;
}

int cli_load_profile(const char *arg, struct tide_stage **stages, int *n)
{
    struct tide_err err = {0};
    size_t len = 0;
    char *txt = NULL;
    int rc;
    size_t al = strlen(arg);
    if (access(arg, F_OK) == 0 || (al > 5 && strcmp(arg + al - 5, ".json") == 0)) {
        txt = cli_slurp(arg, &len, &err);
        if (!txt) {
            cli_error(&err);
            return EXIT_USAGE;
        }
    }
    rc = txt ? tide_profile_parse(txt, len, stages, n, &err) : tide_profile_parse(arg, strlen(arg), stages, n, &err);
    if (rc) {
        if (txt)
            cli_errorf("%s: %s", arg, err.msg);
        else
            cli_error(&err);
    }
    free(txt);
    return rc ? EXIT_USAGE : 0;
}

void cli_print_stages(FILE *f, const struct tide_stage *st, int n, uint64_t records, int64_t span_ns,
                      double speed)
{
    double avg = records ? (double)records / ((double)span_ns / 1e9 + 1.0) : 0; /* req/s at speed 1 */
    double total = 0, secs = 0;
    int k;
    fprintf(f, "stages:\n  %-20s %10s %8s %11s %10s %12s\n", "name", "duration", "speed", "multiplier", "req/s",
            "requests");
    for (k = 0; k < n; k++) {
        double sp = st[k].speed > 0 ? st[k].speed : speed;
        double mult = st[k].multiplier > 0 ? st[k].multiplier : avg > 0 ? st[k].rate / (avg * sp) : 0;
        double rps = avg * sp * mult, d = (double)st[k].duration_ns / 1e9;
        fprintf(f, "  %-20.20s %9.0fs %7gx %10.3fx %10.1f %12.0f%s\n", st[k].name, d, sp, mult, rps, rps * d,
                st[k].warmup ? "  (warm-up)" : "");
        total += rps * d;
        secs += d;
    }
    fprintf(f, "  %-20s %9.0fs %8s %11s %10s %12.0f\n", "total", secs, "", "", "", total);
}

static const char *METHOD_NAMES[] = {"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"};

static int parse_methods(const char *s, uint32_t *mask, bool *all)
{
    char buf[256], *tok, *save = NULL;
    *mask = 0;
    *all = false;
    if (strcasecmp(s, "all") == 0) {
        *all = true;
        return 0;
    }
    snprintf(buf, sizeof(buf), "%s", s);
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        size_t i;
        bool found = false;
        for (i = 0; i < 7; i++)
            if (strcasecmp(tok, METHOD_NAMES[i]) == 0) {
                *mask |= 1u << i;
                found = true;
            }
        if (!found)
            return -1;
    }
    return 0;
}

/* host part of a URL: "http://h:8080/x" -> "h" */
static void url_host(const char *url, char *out, size_t cap)
{
    const char *p = strstr(url, "://"), *at;
    size_t n = 0;
    p = p ? p + 3 : url;
    at = strchr(p, '@');
    if (at && at < p + strcspn(p, "/?#"))
        p = at + 1; /* user:password@ */
    if (*p == '[') {
        p++;
        while (p[n] && p[n] != ']')
            n++;
    } else {
        while (p[n] && p[n] != ':' && p[n] != '/')
            n++;
    }
    snprintf(out, cap, "%.*s", (int)n, p);
}

/* Collects hosts, methods and per-minute counts of the window for checks and --dry-run. */
struct prescan {
    char hosts[64][256];
    int n_hosts;
    uint64_t records, by_method[8], skipped_method;
    uint64_t *per_min;
    int n_min;
    int64_t first, last;
    struct tide_strmap routes;
};

static int prescan(const char *path, const struct tide_replay_opts *o, struct prescan *ps,
                   bool full, struct tide_err *err)
{
    struct tide_trace_reader_opts ro = {.from_ns = o->from_ns, .to_ns = o->to_ns,
                                        .from_is_offset = o->from_is_offset,
                                        .to_is_offset = o->to_is_offset};
    struct tide_trace_reader *r;
    const struct tide_record *rec;
    struct tide_buf tb;
    int fd = cli_in_open(path, err), rc;
    if (fd < 0)
        return TIDE_E_NOTFOUND;
    rc = tide_trace_reader_open(&r, fd, path, &ro, err);
    if (rc) {
        close(fd);
        return rc;
    }
    tide_buf_init(&tb, 0);
    ps->per_min = calloc(100000, sizeof(uint64_t));
    ps->first = TIDE_TIME_UNKNOWN;
    while ((rc = tide_trace_reader_next(r, &rec, err)) == 1) {
        struct tide_str h = tide_record_header(rec, "Host");
        int i, m = 7;
        if (!h.p)
            h = rec->host;
        if (h.len && ps->n_hosts < 64) {
            char hb[256];
            size_t hl = h.len;
            const char *c = memchr(h.p, ':', h.len);
            if (c && h.p[0] != '[')
                hl = (size_t)(c - h.p);
            snprintf(hb, sizeof(hb), "%.*s", (int)(hl > 255 ? 255 : hl), h.p);
            for (i = 0; i < ps->n_hosts && strcasecmp(ps->hosts[i], hb) != 0; i++)
                ;
            if (i == ps->n_hosts)
                snprintf(ps->hosts[ps->n_hosts++], 256, "%s", hb);
        }
        ps->records++;
        for (i = 0; i < 7; i++)
            if (tide_str_is_eq_c(rec->method, METHOD_NAMES[i]))
                m = i;
        ps->by_method[m]++;
        if (ps->first == TIDE_TIME_UNKNOWN)
            ps->first = rec->ts_ns;
        if (rec->ts_ns > ps->last)
            ps->last = rec->ts_ns;
        if (full && ps->per_min) {
            int64_t mi = (rec->ts_ns - ps->first) / (int64_t)(60 * TIDE_NS_PER_SEC * o->speed);
            bool added;
            int rc2;
            struct tide_strmap_ent *e;
            if (mi >= 0 && mi < 100000) {
                ps->per_min[mi]++;
                if (mi + 1 > ps->n_min)
                    ps->n_min = (int)mi + 1;
            }
            tide_buf_reset(&tb);
            tide_buf_append(&tb, rec->method.p, rec->method.len);
            tide_buf_putc(&tb, ' ');
            tide_route_template(rec->path, &tb);
            e = tide_strmap_upsert(&ps->routes, tide_str_make(tb.p, tb.len), &added, &rc2);
            if (e)
                e->value++;
        }
        if (!full && ps->records >= 200000)
            break;
    }
    tide_buf_free(&tb);
    tide_trace_reader_free(r);
    close(fd);
    return rc < 0 && rc != TIDE_E_TRUNCATED ? rc : 0;
}

void help_report(FILE *f)
{
    fprintf(f, "usage: tide report REPORT.json... [--slo EXPR]... [--report-json OUT] [--report-html OUT]\n"
               "Merges the JSON reports of several runs or shards (--shard K/N) exactly:\n"
               "counts add and latency histograms merge bucket by bucket. Prints the merged\n"
               "report and evaluates SLOs on it. Exit 0, 1 an SLO missed, 2 bad input.\n");
}

/* Writes a report (text owned and freed here); EXIT_OK or EXIT_RUNTIME. */
static int write_report(const char *path, char *text, const char *what)
{
    FILE *f = fopen(path, "w");
    int ok = text && f && fputs(text, f) >= 0;
    if (f && fclose(f) != 0)
        ok = 0;
    free(text);
    if (!ok) {
        cli_errorf("%s: cannot write the %s", path, what);
        return EXIT_RUNTIME;
    }
    return EXIT_OK;
}

/* Whether a report can be written at path (opt names the option): checked
 * before a run, so an hour's test does not end unable to write its report. */
static bool report_path_ok(const char *opt, const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    struct stat sb;
    const char *same = cli_same_as_input(path);
    if (same) {
        cli_errorf("%s %s: is also an input (%s): the report would overwrite it; nothing was sent", opt, path, same);
        return false;
    }
    if (stat(path, &sb) == 0) {
        if (S_ISDIR(sb.st_mode) || access(path, W_OK) != 0) {
            cli_errorf("%s %s: %s; nothing was sent", opt, path,
                       S_ISDIR(sb.st_mode) ? "is a directory" : "cannot be written");
            return false;
        }
        return true;
    }
    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) + (slash == path) : 1, slash ? path : ".");
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode) || access(dir, W_OK) != 0) {
        cli_errorf("%s %s: the directory %s %s; nothing was sent", opt, path, dir,
                   stat(dir, &sb) != 0 ? "does not exist" : !S_ISDIR(sb.st_mode) ? "is not a directory"
                                                                                   : "cannot be written to");
        return false;
    }
    return true;
}

int cmd_report(int argc, char **argv)
{
    static const struct option longopts[] = {{"slo", required_argument, 0, 'O'},
                                             {"report-json", required_argument, 0, 'j'},
                                             {"report-html", required_argument, 0, 'W'},
                                             {0, 0, 0, 0}};
    const char *html = NULL;
    struct tide_slo slos[32];
    struct tide_replay_result *all = NULL;
    struct tide_err err = {0};
    const char *out = NULL;
    int c, i, n_slo = 0, ex = EXIT_OK;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'O') {
            if (n_slo >= 32 || tide_slo_parse(optarg, &slos[n_slo], &err)) {
                cli_error(&err);
                return EXIT_USAGE;
            }
            n_slo++;
        } else if (c == 'j') {
            out = optarg;
        } else if (c == 'W') {
            html = optarg;
        } else {
            help_report(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        cli_errorf("report: no reports given");
        return EXIT_USAGE;
    }
    for (i = optind; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        char *buf = NULL;
        long n = 0;
        struct tide_replay_result *r;
        if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
            (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
            if (tide_replay_result_from_json(buf, (size_t)n, &r, &err)) {
                snprintf(err.where, sizeof(err.where), "%s", argv[i]);
                cli_error(&err);
                ex = EXIT_USAGE;
            } else if (!all) {
                all = r;
            } else {
                tide_replay_result_merge(all, r);
                tide_replay_result_free(r);
            }
        } else {
            cli_errorf("%s: cannot read", argv[i]);
            ex = EXIT_USAGE;
        }
        free(buf);
        if (f)
            fclose(f);
        if (ex != EXIT_OK)
            break;
    }
    if (ex == EXIT_OK) {
        char *txt = tide_replay_report_text(all);
        printf("merged %d report(s)\n%s", argc - optind, txt);
        free(txt);
        ex = cli_slo_verdicts(all, slos, n_slo);
        if (out && write_report(out, tide_replay_report_json(all), "report") != EXIT_OK)
            ex = EXIT_RUNTIME;
        if (html && write_report(html, tide_replay_report_html(all, slos, n_slo), "HTML report") != EXIT_OK)
            ex = EXIT_RUNTIME;
    }
    tide_replay_result_free(all);
    return ex;
}

int cmd_replay(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"target", required_argument, 0, 't'}, {"speed", required_argument, 0, 's'},
        {"multiplier", required_argument, 0, 'm'}, {"from", required_argument, 0, 'f'},
        {"to", required_argument, 0, 'T'}, {"loop", required_argument, 0, 'L'},
        {"max-gap", required_argument, 0, 'g'}, {"threads", required_argument, 0, 'n'},
        {"connections", required_argument, 0, 'c'}, {"timeout", required_argument, 0, 'o'},
        {"drain", required_argument, 0, 'd'}, {"host-header", required_argument, 0, 'H'},
        {"header", required_argument, 0, 'h'}, {"methods", required_argument, 0, 'M'},
        {"include-path", required_argument, 0, 'i'}, {"exclude-path", required_argument, 0, 'x'},
        {"expect-status", required_argument, 0, 'e'}, {"auth-map", required_argument, 0, 'a'},
        {"shard", required_argument, 0, 'k'}, {"start-at", required_argument, 0, 'S'},
        {"allow-raw", no_argument, 0, 'R'}, {"allow-capture-host", no_argument, 0, 'C'},
        {"http2", no_argument, 0, '2'}, {"insecure", no_argument, 0, 'I'},
        {"cacert", required_argument, 0, 'A'}, {"dry-run", no_argument, 0, 'D'},
        {"report-json", required_argument, 0, 'j'}, {"run-id", required_argument, 0, 'r'},
        {"no-progress", no_argument, 0, 'P'}, {"slo", required_argument, 0, 'O'},
        {"profile", required_argument, 0, 'F'}, {"abort-if", required_argument, 0, 'B'},
        {"metrics-addr", required_argument, 0, 'X'}, {"report-html", required_argument, 0, 'W'},
        {"client", required_argument, 0, 'K'}, {0, 0, 0, 0}};
    const char *report_html = NULL;
    struct tide_abort aborts[16];
    struct tide_replay_opts o;
    struct tide_stage *stages = NULL;
    struct tide_err err = {0};
    struct tide_replay_result *res = NULL;
    const char *from = NULL, *to = NULL, *report_json = NULL, *headers[64], *expects[64];
    bool allow_raw = false, allow_host = false, dry = false, no_progress = false;
    char run_id[40], tb[64], trace_range[100] = "";
    int c, n_headers = 0, n_expect = 0, ex = EXIT_OK, rc, n_slo = 0;
    struct tide_slo slos[32];
    struct prescan ps;
    struct tide_trace_reader *r;
    uint64_t skipped = 0;
    int fd;

    memset(&o, 0, sizeof(o));
    memset(&ps, 0, sizeof(ps));
    o.speed = 1;
    o.multiplier = 1;
    o.loops = 1;
    o.threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    o.timeout_ns = 10 * TIDE_NS_PER_SEC;
    o.drain_ns = 5 * TIDE_NS_PER_SEC;
    o.from_ns = o.to_ns = TIDE_TIME_UNKNOWN;
    o.shard_n = 1;
    {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        snprintf(run_id, sizeof(run_id), "r%08lx%04x", (unsigned long)t.tv_sec, (unsigned)(t.tv_nsec / 1000) & 0xffff);
    }
    o.run_id = run_id;
    optind = 1;
    while ((c = getopt_long(argc, argv, "t:", longopts, NULL)) != -1) {
        int64_t v;
        bool off;
        switch (c) {
        case 't': o.target = optarg; break;
        case 's': o.speed = atof(optarg); break;
        case 'm': o.multiplier = atof(optarg); break;
        case 'f': from = optarg; break;
        case 'T': to = optarg; break;
        case 'L': o.loops = atoi(optarg); break;
        case 'g':
            if (tide_duration_parse(optarg, &o.max_gap_ns)) {
                cli_errorf("--max-gap: not a duration");
                ex = EXIT_USAGE;
                goto out;
            }
            break;
        case 'n': o.threads = atoi(optarg); break;
        case 'c': o.connections = atoi(optarg); break;
        case 'o':
        case 'd':
            if (tide_duration_parse(optarg, &v) || v <= 0) {
                cli_errorf("--%s: not a duration", c == 'o' ? "timeout" : "drain");
                ex = EXIT_USAGE;
                goto out;
            }
            if (c == 'o')
                o.timeout_ns = v;
            else
                o.drain_ns = v;
            break;
        case 'H': o.host_header = optarg; break;
        case 'h':
            if (n_headers < 64 && strchr(optarg, ':'))
                headers[n_headers++] = optarg;
            else {
                cli_errorf("--header: expected 'Name: value'");
                ex = EXIT_USAGE;
                goto out;
            }
            break;
        case 'M':
            if (parse_methods(optarg, &o.methods_mask, &o.allow_all_methods)) {
                cli_errorf("--methods: a list of GET,HEAD,OPTIONS,POST,PUT,PATCH,DELETE, or all");
                ex = EXIT_USAGE;
                goto out;
            }
            break;
        case 'i': o.include_re = optarg; break;
        case 'x': o.exclude_re = optarg; break;
        case 'e': {
            char *dup = strdup(optarg), *tok, *save = NULL;
            for (tok = strtok_r(dup, ",", &save); tok && n_expect < 64; tok = strtok_r(NULL, ",", &save))
                expects[n_expect++] = strdup(tok);
            free(dup);
            break;
        }
        case 'a': o.auth_map = optarg; break;
        case 'k':
            if (sscanf(optarg, "%d/%d", &o.shard_k, &o.shard_n) != 2 || o.shard_n < 1 || o.shard_k < 0 ||
                o.shard_k >= o.shard_n) {
                cli_errorf("--shard: K/N with 0 <= K < N");
                ex = EXIT_USAGE;
                goto out;
            }
            break;
        case 'S':
            if (cli_parse_when(optarg, &v, &off) || off) {
                cli_errorf("--start-at: an RFC 3339 time");
                ex = EXIT_USAGE;
                goto out;
            }
            o.start_at_ns = v;
            break;
        case 'R': allow_raw = true; break;
        case 'C': allow_host = true; break;
        case '2': o.http2 = true; break;
        case 'K':
            if (strcmp(optarg, "native") != 0 && strcmp(optarg, "curl") != 0) {
                cli_errorf("replay: --client must be native or curl");
                ex = EXIT_USAGE;
                goto out;
            }
            o.client = optarg;
            break;
        case 'I': o.insecure = true; break;
        case 'A': o.cacert = optarg; break;
        case 'D': dry = true; break;
        case 'j': report_json = optarg; break;
        case 'r': o.run_id = optarg; break;
        case 'P': no_progress = true; break;
        case 'O':
            if (n_slo >= 32 || tide_slo_parse(optarg, &slos[n_slo], &err)) {
                cli_error(&err);
                ex = EXIT_USAGE;
                goto out;
            }
            n_slo++;
            break;
        case 'X': o.metrics_addr = optarg; break;
        case 'W': report_html = optarg; break;
        case 'B':
            if (o.n_aborts >= 16 || tide_abort_parse(optarg, &aborts[o.n_aborts], &err)) {
                if (o.n_aborts >= 16)
                    cli_errorf("--abort-if: at most 16 triggers");
                else
                    cli_error(&err);
                ex = EXIT_USAGE;
                goto out;
            }
            o.n_aborts++;
            o.aborts = aborts;
            break;
        case 'F':
            free(stages);
            stages = NULL;
            if (cli_load_profile(optarg, &stages, &o.n_stages)) {
                free(stages);
                ex = EXIT_USAGE;
                goto out;
            }
            o.stages = stages;
            break;
        default:
            help_replay(stderr);
            ex = EXIT_USAGE;
            goto out;
        }
    }
    o.headers = headers;
    o.n_headers = n_headers;
    o.expect_status = expects;
    o.n_expect = n_expect;
    if (optind != argc - 1) {
        cli_errorf("replay: exactly one trace expected");
        ex = EXIT_USAGE;
        goto out;
    }
    o.trace_path = argv[optind];
    if (!dry && !o.target) {
        cli_errorf("replay: --target http://host:port (or https://) is required");
        ex = EXIT_USAGE;
        goto out;
    }
    if (o.target && strncasecmp(o.target, "http://", 7) != 0 && strncasecmp(o.target, "https://", 8) != 0) {
        cli_errorf("replay: --target must start with http:// or https:// (got '%.200s')", o.target);
        ex = EXIT_USAGE;
        goto out;
    }
    if (o.client && strcmp(o.client, "native") == 0 && (o.http2 || (o.target && strncmp(o.target, "https://", 8) == 0))) {
        cli_errorf("replay: --client native speaks HTTP/1.1 over plain http:// only; HTTPS and --http2 use libcurl "
                   "(drop --client, or --client curl)");
        ex = EXIT_USAGE;
        goto out;
    }
    if (o.speed <= 0 || !isfinite(o.speed) || o.multiplier <= 0 || o.multiplier > 1000 || o.threads < 1 ||
        o.threads > 256 || o.loops < 1 || o.connections < 0) {
        cli_errorf("replay: --speed and --multiplier must be > 0 (multiplier <= 1000), --threads 1..256, --loop >= 1, "
                   "--connections >= 0");
        ex = EXIT_USAGE;
        goto out;
    }
    if (o.n_stages && (o.multiplier != 1 || o.loops != 1)) {
        cli_errorf("replay: with --profile, each stage sets its own volume and the trace loops as needed; "
                   "drop --multiplier and --loop");
        ex = EXIT_USAGE;
        goto out;
    }
    if ((from && cli_parse_when(from, &o.from_ns, &o.from_is_offset)) ||
        (to && cli_parse_when(to, &o.to_ns, &o.to_is_offset))) {
        cli_errorf("--from/--to: RFC 3339 or +OFFSET");
        ex = EXIT_USAGE;
        goto out;
    }
    if (tide_input_is_stream(o.trace_path)) {
        cli_errorf("replay: the trace must be a file, not stdin or a pipe (it is read more than once, and by "
                   "each worker)");
        ex = EXIT_USAGE;
        goto out;
    }
    /* refusals, before anything is sent */
    fd = cli_in_open(o.trace_path, &err);
    if (fd < 0 || tide_trace_reader_open(&r, fd, o.trace_path, NULL, &err)) {
        cli_error(&err);
        if (fd >= 0)
            close(fd);
        ex = EXIT_USAGE;
        goto out;
    }
    if (tide_trace_reader_is_raw(r) && !allow_raw) {
        cli_errorf("%s: this trace is raw (not anonymized); replaying it sends personal data to the "
                   "target. Anonymize it (tide anonymize) or pass --allow-raw", o.trace_path);
        tide_trace_reader_free(r);
        close(fd);
        ex = EXIT_USAGE;
        goto out;
    }
    {
        /* the trace's time range, for a window that holds nothing */
        cJSON *fm = tide_trace_reader_final_meta(r) ? cJSON_Parse(tide_trace_reader_final_meta(r)) : NULL;
        cJSON *f0 = cJSON_GetObjectItem(fm, "first_ts"), *f1 = cJSON_GetObjectItem(fm, "last_ts");
        if (cJSON_IsString(f0) && cJSON_IsString(f1))
            snprintf(trace_range, sizeof(trace_range), "%.40s to %.40s", f0->valuestring, f1->valuestring);
        cJSON_Delete(fm);
    }
    tide_trace_reader_free(r);
    close(fd);
    tide_strmap_init(&ps.routes, 100000);
    if (prescan(o.trace_path, &o, &ps, dry, &err)) {
        cli_error(&err);
        ex = EXIT_USAGE;
        goto out;
    }
    if (ps.records == 0 && (from || to)) {
        cli_errorf("replay: no requests between --from and --to%s%s", trace_range[0] ? ": the trace runs from " : "",
                   trace_range);
        ex = EXIT_USAGE;
        goto out;
    }
    if (o.target && !allow_host) {
        char th[256];
        int i;
        url_host(o.target, th, sizeof(th));
        for (i = 0; i < ps.n_hosts; i++)
            if (strcasecmp(ps.hosts[i], th) == 0) {
                cli_errorf("replay: the target host is one recorded in the trace (production?); "
                           "pass --allow-capture-host if it really is your staging system");
                ex = EXIT_USAGE;
                goto out;
            }
    }
    if (!dry && ((report_json && !report_path_ok("--report-json", report_json)) ||
                 (report_html && !report_path_ok("--report-html", report_html)))) {
        ex = EXIT_USAGE;
        goto out;
    }
    if (o.target && !dry) {
        /* a target that does not resolve (a typo, staging's name not in
         * this machine's DNS): said now, not as a run of timeouts */
        char th[256];
        struct addrinfo hints, *ai = NULL;
        int grc;
        url_host(o.target, th, sizeof(th));
        memset(&hints, 0, sizeof(hints));
        hints.ai_socktype = SOCK_STREAM;
        if ((grc = getaddrinfo(th, NULL, &hints, &ai)) != 0) {
            cli_errorf("replay: the target host '%s' does not resolve (%s); nothing was sent", th,
                       grc == EAI_SYSTEM ? strerror(errno) : gai_strerror(grc));
            ex = EXIT_USAGE;
            goto out;
        }
        freeaddrinfo(ai);
    }
    {
        int i;
        for (i = 0; i < 8; i++)
            if (!(o.allow_all_methods || (o.methods_mask ? (i < 7 && (o.methods_mask & (1u << i))) : i < 3)))
                skipped += ps.by_method[i];
        if (skipped)
            fprintf(stderr, "tide: replay: %llu of %llu requests in the window use methods not replayed "
                            "(only %s; --methods LIST|all changes that)\n",
                    (unsigned long long)skipped, (unsigned long long)ps.records,
                    o.allow_all_methods ? "all" : o.methods_mask ? "the listed ones" : "GET, HEAD, OPTIONS");
    }
    if (dry) {
        int i;
        struct tide_strmap_ent **v;
        size_t k, nv = 0;
        printf("dry run: %llu requests in the window, speed %gx, multiplier %gx (about %.0f requests)\n",
               (unsigned long long)ps.records, o.speed, o.multiplier, (double)ps.records * o.multiplier);
        printf("methods:");
        for (i = 0; i < 7; i++)
            if (ps.by_method[i])
                printf(" %s %llu", METHOD_NAMES[i], (unsigned long long)ps.by_method[i]);
        if (ps.by_method[7])
            printf(" other %llu", (unsigned long long)ps.by_method[7]);
        putchar('\n');
        if (o.n_stages)
            cli_print_stages(stdout, o.stages, o.n_stages, ps.records - skipped, ps.last - ps.first, o.speed);
        printf("requests per minute of the replay (before the multiplier):\n");
        for (i = 0; i < ps.n_min; i++)
            printf("  +%dm %llu\n", i, (unsigned long long)ps.per_min[i]);
        printf("routes:\n");
        v = calloc(ps.routes.n + 1, sizeof(*v));
        for (k = 0; v && k < ps.routes.cap; k++)
            if (ps.routes.ents[k].key.p)
                v[nv++] = &ps.routes.ents[k];
        for (k = 0; v && k < nv && k < 30; k++) {
            size_t best = k, j;
            for (j = k + 1; j < nv; j++)
                if (v[j]->value > v[best]->value)
                    best = j;
            {
                struct tide_strmap_ent *t = v[k];
                v[k] = v[best];
                v[best] = t;
            }
            printf("  %8llu  %.*s\n", (unsigned long long)v[k]->value, (int)v[k]->key.len, v[k]->key.p);
        }
        free(v);
        goto out;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    o.stop = &g_stop;
    o.progress = !no_progress && isatty(2);
    tide_time_format_rfc3339(o.start_at_ns, tb);
    fprintf(stderr, "tide: replay %s: %llu requests in the window -> %s (speed %gx, multiplier %gx, %d threads)\n",
            o.run_id, (unsigned long long)ps.records, o.target, o.speed, o.multiplier, o.threads);
    rc = tide_replay_run(&o, &res, &err);
    if (rc) {
        cli_error(&err);
        ex = rc == TIDE_E_NOMEM || rc == TIDE_E_IO ? EXIT_RUNTIME : EXIT_USAGE;
        goto out;
    }
    {
        char *txt = tide_replay_report_text(res);
        printf("%s", txt);
        free(txt);
    }
    if (n_slo)
        ex = cli_slo_verdicts(res, slos, n_slo);
    if (tide_replay_result_aborted(res)[0]) {
        fprintf(stderr, "tide: replay aborted: %s\n", tide_replay_result_aborted(res));
        ex = EXIT_ABORTED;
    }
    if (report_json && write_report(report_json, tide_replay_report_json(res), "report") != EXIT_OK)
        ex = EXIT_RUNTIME;
    if (report_html && write_report(report_html, tide_replay_report_html(res, slos, n_slo), "HTML report") != EXIT_OK)
        ex = EXIT_RUNTIME;
out:
    free(ps.per_min);
    tide_strmap_free(&ps.routes);
    tide_replay_result_free(res);
    for (c = 0; c < n_expect; c++)
        free((char *)expects[c]);
    free(stages);
    return ex;
}
