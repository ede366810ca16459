/*
 * cmd_inspect.c - `tide inspect TRACE [--json]`: what a trace holds, whether
 * it is anonymized, its shape over time, and whether every block's checksum
 * holds. It decodes every block (that is how it verifies), tallying as it
 * goes; memory is bounded by the per-minute array and the route map's cap.
 */
#include "cli_int.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ROUTES 100000
#define MAX_MINUTES (1u << 22)

void help_inspect(FILE *f)
{
    fprintf(f, "usage: tide inspect TRACE [--json]\n"
               "Summarizes TRACE ('-' = stdin): format version, raw or anonymized, sources,\n"
               "time range, records, blocks, sizes and ratio, requests per minute, top route\n"
               "templates, method and status mix, the anonymization manifest. Verifies every\n"
               "block's checksum.\n\n"
               "      --json           print one JSON object instead of text\n"
               "      --top N          route templates to list (default 10)\n"
               "      --skip-corrupt   go on past corrupt blocks\n");
}

struct tally {
    uint64_t records;
    int64_t first, last;
    uint64_t *minutes; /* counts per minute from base_min */
    int64_t base_min;
    size_t n_min;
    uint64_t minutes_dropped;
    struct tide_strmap routes, methods;
    uint64_t routes_other;
    uint64_t status[7]; /* unknown, 1xx..5xx, other */
    struct tide_buf tmp;
};

static int add_minute(struct tally *t, int64_t ts)
{
    int64_t m = ts >= 0 ? ts / (60 * TIDE_NS_PER_SEC) : -((-ts + 60 * TIDE_NS_PER_SEC - 1) / (60 * TIDE_NS_PER_SEC));
    if (!t->minutes) {
        t->minutes = calloc(1024, sizeof(uint64_t));
        if (!t->minutes)
            return TIDE_E_NOMEM;
        t->base_min = m;
        t->n_min = 1024;
    }
    if (m < t->base_min) {
        size_t shift = (size_t)(t->base_min - m);
        uint64_t *nm;
        if ((uint64_t)(t->base_min - m) + t->n_min > MAX_MINUTES) {
            t->minutes_dropped++;
            return 0;
        }
        nm = calloc(t->n_min + shift, sizeof(uint64_t));
        if (!nm)
            return TIDE_E_NOMEM;
        memcpy(nm + shift, t->minutes, t->n_min * sizeof(uint64_t));
        free(t->minutes);
        t->minutes = nm;
        t->n_min += shift;
        t->base_min = m;
    }
    if ((uint64_t)(m - t->base_min) >= t->n_min) {
        size_t need = (size_t)(m - t->base_min) + 1, nc = t->n_min;
        uint64_t *nm;
        if (need > MAX_MINUTES) {
            t->minutes_dropped++;
            return 0;
        }
        while (nc < need)
            nc *= 2;
        nm = realloc(t->minutes, nc * sizeof(uint64_t));
        if (!nm)
            return TIDE_E_NOMEM;
        memset(nm + t->n_min, 0, (nc - t->n_min) * sizeof(uint64_t));
        t->minutes = nm;
        t->n_min = nc;
    }
    t->minutes[m - t->base_min]++;
    return 0;
}

static int tally_record(struct tally *t, const struct tide_record *r)
{
    struct tide_strmap_ent *e;
    bool added;
    int rc;
    if (t->records == 0 || r->ts_ns < t->first)
        t->first = r->ts_ns;
    if (t->records == 0 || r->ts_ns > t->last)
        t->last = r->ts_ns;
    t->records++;
    if ((rc = add_minute(t, r->ts_ns)))
        return rc;
    tide_buf_reset(&t->tmp);
    tide_buf_append(&t->tmp, r->method.p, r->method.len);
    tide_buf_putc(&t->tmp, ' ');
    if (tide_route_template(r->path, &t->tmp))
        return TIDE_E_NOMEM;
    e = tide_strmap_upsert(&t->routes, tide_str_make(t->tmp.p, t->tmp.len), &added, &rc);
    if (e)
        e->value++;
    else if (rc == TIDE_E_LIMIT)
        t->routes_other++;
    else
        return rc;
    e = tide_strmap_upsert(&t->methods, r->method, &added, &rc);
    if (e)
        e->value++;
    t->status[r->status < 0 ? 0 : r->status >= 100 && r->status < 600 ? r->status / 100 : 6]++;
    return 0;
}

static int cmp_ent(const void *a, const void *b)
{
    const struct tide_strmap_ent *x = *(const struct tide_strmap_ent *const *)a;
    const struct tide_strmap_ent *y = *(const struct tide_strmap_ent *const *)b;
    if (x->value != y->value)
        return x->value < y->value ? 1 : -1;
    if (x->key.len != y->key.len)
        return x->key.len < y->key.len ? -1 : 1;
    return memcmp(x->key.p, y->key.p, x->key.len);
}

/* Entries sorted by count, descending. Caller frees the array. */
static struct tide_strmap_ent **sorted(struct tide_strmap *m)
{
    struct tide_strmap_ent **v = calloc(m->n ? m->n : 1, sizeof(*v));
    size_t i, k = 0;
    if (!v)
        return NULL;
    for (i = 0; i < m->cap; i++)
        if (m->ents[i].key.p)
            v[k++] = &m->ents[i];
    qsort(v, k, sizeof(*v), cmp_ent);
    return v;
}

static void human_bytes(double b, char *out, size_t cap)
{
    const char *u[] = {"B", "KB", "MB", "GB", "TB"};
    int i = 0;
    while (b >= 1000 && i < 4) {
        b /= 1000;
        i++;
    }
    snprintf(out, cap, i ? "%.1f %s" : "%.0f %s", b, u[i]);
}

static void human_dur(int64_t ns, char *out, size_t cap)
{
    int64_t s = ns / TIDE_NS_PER_SEC;
    if (s >= 86400)
        snprintf(out, cap, "%lldd %lldh %lldm", (long long)(s / 86400), (long long)(s / 3600 % 24),
                 (long long)(s / 60 % 60));
    else if (s >= 3600)
        snprintf(out, cap, "%lldh %lldm %llds", (long long)(s / 3600), (long long)(s / 60 % 60),
                 (long long)(s % 60));
    else if (s >= 60)
        snprintf(out, cap, "%lldm %llds", (long long)(s / 60), (long long)(s % 60));
    else
        snprintf(out, cap, "%.3fs", (double)ns / 1e9);
}

/* The occupied range of the minute array: [lo, hi). */
static void minute_range(const struct tally *t, size_t *lo, size_t *hi)
{
    *lo = 0;
    *hi = 0;
    if (!t->records || !t->minutes)
        return;
    *lo = (size_t)(t->first / (60 * TIDE_NS_PER_SEC) - t->base_min);
    *hi = (size_t)(t->last / (60 * TIDE_NS_PER_SEC) - t->base_min) + 1;
    if (*hi > t->n_min)
        *hi = t->n_min;
    if (*lo > *hi)
        *lo = *hi;
}

static void draw_rpm(const struct tally *t)
{
    static const char *bars[] = {" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
    size_t lo, hi, span, width = 72, per, col, i;
    uint64_t peak = 0, peak_min = 0, maxcol = 0;
    double vals[72];
    char a[31], b[31];
    minute_range(t, &lo, &hi);
    span = hi - lo;
    if (span == 0)
        return;
    for (i = lo; i < hi; i++)
        if (t->minutes[i] > peak) {
            peak = t->minutes[i];
            peak_min = i;
        }
    if (span < width)
        width = span;
    per = (span + width - 1) / width;
    width = (span + per - 1) / per;
    for (col = 0; col < width; col++) {
        uint64_t sum = 0, n = 0;
        for (i = lo + col * per; i < lo + (col + 1) * per && i < hi; i++, n++)
            sum += t->minutes[i];
        vals[col] = n ? (double)sum / (double)n : 0;
        if (vals[col] > (double)maxcol)
            maxcol = (uint64_t)(vals[col] + 0.5);
    }
    tide_time_format_rfc3339((int64_t)(t->base_min + (int64_t)peak_min) * 60 * TIDE_NS_PER_SEC, a);
    printf("requests/min  peak %llu at %.16s, %zu minute(s) per column\n",
           (unsigned long long)peak, a, per);
    printf("  |");
    for (col = 0; col < width; col++) {
        int level = maxcol ? (int)(vals[col] * 8.0 / (double)maxcol + 0.5) : 0;
        if (level == 0 && vals[col] > 0)
            level = 1;
        printf("%s", bars[level > 8 ? 8 : level]);
    }
    printf("|\n");
    tide_time_format_rfc3339((t->base_min + (int64_t)lo) * 60 * TIDE_NS_PER_SEC, a);
    tide_time_format_rfc3339((t->base_min + (int64_t)hi) * 60 * TIDE_NS_PER_SEC, b);
    printf("   %.16s%*s%.16s\n", a, (int)(width > 32 ? width - 32 : 1), "", b);
}

static const char *STATUS_NAMES[] = {"unknown", "1xx", "2xx", "3xx", "4xx", "5xx", "other"};

static cJSON *json_report(const char *name, struct tide_trace_reader *r, struct tally *t,
                          int top, const char *verdict)
{
    cJSON *o = cJSON_CreateObject(), *x;
    const struct tide_trace_stats *st = tide_trace_reader_stats(r);
    const char *fm = tide_trace_reader_final_meta(r);
    struct tide_strmap_ent **v;
    size_t lo, hi, i;
    char tb[31];
    cJSON_AddStringToObject(o, "trace", name);
    cJSON_AddNumberToObject(o, "format_version", tide_trace_reader_format_major(r));
    cJSON_AddBoolToObject(o, "raw", tide_trace_reader_is_raw(r));
    cJSON_AddItemToObject(o, "metadata", cJSON_Parse(tide_trace_reader_meta(r)));
    if (fm)
        cJSON_AddItemToObject(o, "final_metadata", cJSON_Parse(fm));
    cJSON_AddNumberToObject(o, "records", (double)t->records);
    cJSON_AddNumberToObject(o, "blocks", (double)(st->blocks_read + st->blocks_corrupt));
    cJSON_AddNumberToObject(o, "blocks_corrupt", (double)st->blocks_corrupt);
    cJSON_AddNumberToObject(o, "bytes_compressed", (double)st->bytes_compressed);
    cJSON_AddNumberToObject(o, "bytes_raw", (double)st->bytes_raw);
    cJSON_AddNumberToObject(o, "ratio", st->bytes_compressed ? (double)st->bytes_raw / (double)st->bytes_compressed : 0);
    cJSON_AddBoolToObject(o, "complete", st->has_tail && !st->truncated);
    if (st->truncated) {
        cJSON_AddNumberToObject(o, "truncated_at", (double)st->truncated_at);
        cJSON_AddNumberToObject(o, "truncated_lost_bytes", (double)st->truncated_lost_bytes);
    }
    cJSON_AddStringToObject(o, "checksums", verdict);
    if (t->records) {
        tide_time_format_rfc3339(t->first, tb);
        cJSON_AddStringToObject(o, "first_ts", tb);
        tide_time_format_rfc3339(t->last, tb);
        cJSON_AddStringToObject(o, "last_ts", tb);
    }
    minute_range(t, &lo, &hi);
    if (hi > lo) {
        tide_time_format_rfc3339((t->base_min + (int64_t)lo) * 60 * TIDE_NS_PER_SEC, tb);
        cJSON_AddStringToObject(o, "requests_per_minute_start", tb);
    }
    x = cJSON_AddArrayToObject(o, "requests_per_minute");
    for (i = lo; i < hi; i++)
        cJSON_AddItemToArray(x, cJSON_CreateNumber((double)t->minutes[i]));
    x = cJSON_AddObjectToObject(o, "methods");
    v = sorted(&t->methods);
    for (i = 0; v && i < t->methods.n; i++) {
        char k[64];
        snprintf(k, sizeof(k), "%.*s", (int)(v[i]->key.len > 60 ? 60 : v[i]->key.len), v[i]->key.p);
        cJSON_AddNumberToObject(x, k, (double)v[i]->value);
    }
    free(v);
    x = cJSON_AddObjectToObject(o, "status_classes");
    for (i = 0; i < 7; i++)
        cJSON_AddNumberToObject(x, STATUS_NAMES[i], (double)t->status[i]);
    x = cJSON_AddArrayToObject(o, "top_routes");
    v = sorted(&t->routes);
    for (i = 0; v && i < t->routes.n && (int)i < top; i++) {
        cJSON *e = cJSON_CreateObject();
        char *k = strndup(v[i]->key.p, v[i]->key.len);
        cJSON_AddStringToObject(e, "route", k ? k : "");
        cJSON_AddNumberToObject(e, "count", (double)v[i]->value);
        free(k);
        cJSON_AddItemToArray(x, e);
    }
    free(v);
    return o;
}

static void text_report(const char *name, struct tide_trace_reader *r, struct tally *t, int top,
                        const char *verdict)
{
    const struct tide_trace_stats *st = tide_trace_reader_stats(r);
    cJSON *meta = cJSON_Parse(tide_trace_reader_meta(r)), *src, *anon;
    struct tide_strmap_ent **v;
    char a[31], b[31], s1[32], s2[32];
    size_t i;

    printf("trace         %s\n", name);
    printf("format        tide trace %u.x, %s\n", tide_trace_reader_format_major(r),
           tide_trace_reader_is_raw(r) ? "RAW: not anonymized, may hold personal data"
                                       : "anonymized");
    if (meta) {
        cJSON *tool = cJSON_GetObjectItem(meta, "tool"), *cr = cJSON_GetObjectItem(meta, "created");
        printf("written by    %s%s%s\n", cJSON_IsString(tool) ? tool->valuestring : "?",
               cJSON_IsString(cr) ? ", " : "", cJSON_IsString(cr) ? cr->valuestring : "");
        printf("sources      ");
        i = 0;
        cJSON_ArrayForEach(src, cJSON_GetObjectItem(meta, "sources"))
        {
            cJSON *n = cJSON_GetObjectItem(src, "name"), *k = cJSON_GetObjectItem(src, "kind");
            if (i++ < 8)
                printf(" %s (%s)", cJSON_IsString(n) ? n->valuestring : "?",
                       cJSON_IsString(k) ? k->valuestring : "?");
        }
        if (i > 8)
            printf(" and %zu more", i - 8);
        printf("\n");
    }
    if (t->records) {
        tide_time_format_rfc3339(t->first, a);
        tide_time_format_rfc3339(t->last, b);
        human_dur(t->last - t->first, s1, sizeof(s1));
        printf("time range    %s .. %s (%s)\n", a, b, s1);
    }
    printf("records       %llu in %llu blocks\n", (unsigned long long)t->records,
           (unsigned long long)(st->blocks_read + st->blocks_corrupt));
    human_bytes((double)st->bytes_compressed, s1, sizeof(s1));
    human_bytes((double)st->bytes_raw, s2, sizeof(s2));
    printf("size          %s compressed, %s decoded (ratio %.1fx)\n", s1, s2,
           st->bytes_compressed ? (double)st->bytes_raw / (double)st->bytes_compressed : 0.0);
    printf("checksums     %s\n", verdict);
    if (t->records) {
        draw_rpm(t);
        printf("methods      ");
        v = sorted(&t->methods);
        for (i = 0; v && i < t->methods.n && i < 8; i++)
            printf(" %.*s %.1f%%", (int)(v[i]->key.len > 16 ? 16 : v[i]->key.len), v[i]->key.p,
                   100.0 * (double)v[i]->value / (double)t->records);
        free(v);
        printf("\nstatuses     ");
        for (i = 0; i < 7; i++)
            if (t->status[i])
                printf(" %s %.1f%%", STATUS_NAMES[i], 100.0 * (double)t->status[i] / (double)t->records);
        printf("\ntop routes\n");
        v = sorted(&t->routes);
        for (i = 0; v && i < t->routes.n && (int)i < top; i++)
            printf("  %6.2f%%  %8llu  %.*s\n", 100.0 * (double)v[i]->value / (double)t->records,
                   (unsigned long long)v[i]->value, (int)(v[i]->key.len > 120 ? 120 : v[i]->key.len),
                   v[i]->key.p);
        free(v);
        if (t->routes_other)
            printf("  (%llu records in routes past the %d-route cap)\n",
                   (unsigned long long)t->routes_other, MAX_ROUTES);
    }
    anon = meta ? cJSON_GetObjectItem(meta, "anonymization") : NULL;
    if (anon) {
        cJSON *fm = tide_trace_reader_final_meta(r) ? cJSON_Parse(tide_trace_reader_final_meta(r)) : NULL;
        cJSON *fa = fm ? cJSON_GetObjectItem(fm, "anonymization") : NULL, *f, *x;
        cJSON *kf = cJSON_GetObjectItem(anon, "key_fingerprint"), *ke = cJSON_GetObjectItem(anon, "key_ephemeral");
        cJSON *ph = cJSON_GetObjectItem(anon, "policy_sha256"), *ip = cJSON_GetObjectItem(anon, "ip");
        cJSON *ts = cJSON_GetObjectItem(anon, "time_shift_weeks");
        printf("anonymization key %s%s, policy sha256 %.16s..., ip %s, time shift %d weeks\n",
               cJSON_IsString(kf) ? kf->valuestring : "?", cJSON_IsTrue(ke) ? " (ephemeral)" : "",
               cJSON_IsString(ph) ? ph->valuestring : "?", cJSON_IsString(ip) ? ip->valuestring : "?",
               cJSON_IsNumber(ts) ? ts->valueint : 0);
        cJSON_ArrayForEach(f, cJSON_GetObjectItem(fa, "counts"))
        {
            printf("  %-28s", f->string ? f->string : "?"); /* the trace's own metadata: may be damaged */
            cJSON_ArrayForEach(x, f) printf(" %s %.0f;", x->string ? x->string : "?", x->valuedouble);
            printf("\n");
        }
        if (!fa)
            printf("  (no counts: the trace has no final metadata)\n");
        cJSON_Delete(fm);
    } else if (!tide_trace_reader_is_raw(r)) {
        printf("anonymization (no manifest)\n");
    }
    cJSON_Delete(meta);
}

int cmd_inspect(int argc, char **argv)
{
    static const struct option longopts[] = {{"json", no_argument, 0, 'j'},
                                             {"top", required_argument, 0, 'T'},
                                             {"skip-corrupt", no_argument, 0, 'S'},
                                             {0, 0, 0, 0}};
    /* counts only: a block's records need not be sorted by start */
    struct tide_trace_reader_opts ro = {.from_ns = TIDE_TIME_UNKNOWN, .to_ns = TIDE_TIME_UNKNOWN,
                                        .any_order = true};
    struct tide_trace_reader *r = NULL;
    struct tide_err err = {0};
    const struct tide_record *rec;
    struct tally t;
    bool json = false;
    int top = 10, c, fd, rc, ex;
    char verdict[1024];
    const struct tide_trace_stats *st;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 'T': top = atoi(optarg); break;
        case 'S': ro.skip_corrupt = true; break;
        default: help_inspect(stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        cli_errorf("inspect: exactly one trace expected");
        return EXIT_USAGE;
    }
    fd = cli_in_open(argv[optind], &err);
    if (fd < 0) {
        cli_error(&err);
        return EXIT_USAGE;
    }
    rc = tide_trace_reader_open(&r, fd, argv[optind], &ro, &err);
    if (rc) {
        cli_error(&err);
        if (fd > 0)
            close(fd);
        return rc == TIDE_E_IO || rc == TIDE_E_NOMEM ? EXIT_RUNTIME : EXIT_USAGE;
    }
    memset(&t, 0, sizeof(t));
    tide_strmap_init(&t.routes, MAX_ROUTES);
    tide_strmap_init(&t.methods, 256);
    tide_buf_init(&t.tmp, 0);
    while ((rc = tide_trace_reader_next(r, &rec, &err)) == 1)
        if (tally_record(&t, rec)) {
            rc = TIDE_E_NOMEM;
            tide_err_set(&err, rc, argv[optind], "out of memory");
            break;
        }
    st = tide_trace_reader_stats(r);
    if (rc == TIDE_E_TRUNCATED)
        snprintf(verdict, sizeof(verdict),
                 "%llu whole blocks verified OK; INCOMPLETE (no index: the writer did not finish, or is "
                 "still writing): %llu bytes after block %llu not read",
                 (unsigned long long)st->blocks_read, (unsigned long long)st->truncated_lost_bytes,
                 (unsigned long long)(st->last_good_block ? st->last_good_block - 1 : 0));
    else if (rc == TIDE_E_CORRUPT || st->blocks_corrupt)
        snprintf(verdict, sizeof(verdict), "%llu blocks OK, %llu CORRUPT (first: %s: %s)",
                 (unsigned long long)st->blocks_read, (unsigned long long)st->blocks_corrupt,
                 err.where, err.msg);
    else if (rc < 0)
        snprintf(verdict, sizeof(verdict), "not verified: %s", err.msg);
    else
        snprintf(verdict, sizeof(verdict), "all %llu blocks verified OK",
                 (unsigned long long)st->blocks_read);
    if (json) {
        cJSON *o = json_report(argv[optind], r, &t, top, verdict);
        char *s = cJSON_Print(o);
        if (s)
            printf("%s\n", s);
        free(s);
        cJSON_Delete(o);
    } else {
        text_report(argv[optind], r, &t, top, verdict);
    }
    fflush(stdout);
    ex = cli_reader_end(r, rc, &err);
    free(t.minutes);
    tide_strmap_free(&t.routes);
    tide_strmap_free(&t.methods);
    tide_buf_free(&t.tmp);
    tide_trace_reader_free(r);
    if (fd > 0)
        close(fd);
    return ex;
}
