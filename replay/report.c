/*
 * report.c - a replay's report: a text table for people and a JSON document
 * for machines (docs/report.md), histograms included losslessly (sparse
 * bucket counts), so reports of shards run on many machines merge exactly.
 */
#include "replay_int.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* p99 lag past which the text report says the load machine fell behind (us) */
#define LAG_WARN_US 50000

static const double QS[] = {0.5, 0.9, 0.95, 0.99, 0.999};
static const char *QN[] = {"p50", "p90", "p95", "p99", "p99_9"};

static cJSON *hist_json(const struct tide_hist *h)
{
    cJSON *o = cJSON_CreateObject(), *b;
    int i;
    cJSON_AddStringToObject(o, "unit", "us");
    cJSON_AddStringToObject(o, "scheme", "log-linear: exact below 128, then 64 buckets per power of two");
    cJSON_AddNumberToObject(o, "count", (double)h->count);
    cJSON_AddNumberToObject(o, "sum", (double)h->sum);
    cJSON_AddNumberToObject(o, "max", (double)h->max);
    for (i = 0; i < 5; i++)
        cJSON_AddNumberToObject(o, QN[i], (double)tide_hist_quantile(h, QS[i]));
    b = cJSON_AddArrayToObject(o, "buckets"); /* [index, count] pairs, non-zero only */
    for (i = 0; i < TIDE_HIST_BUCKETS; i++)
        if (h->b[i]) {
            cJSON *pair = cJSON_CreateArray();
            cJSON_AddItemToArray(pair, cJSON_CreateNumber(i));
            cJSON_AddItemToArray(pair, cJSON_CreateNumber((double)h->b[i]));
            cJSON_AddItemToArray(b, pair);
        }
    return o;
}

static cJSON *slice_json(const struct tide__slice *s)
{
    cJSON *o = cJSON_CreateObject(), *st;
    static const char *SN[] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};
    int i;
    cJSON_AddNumberToObject(o, "scheduled", (double)s->scheduled);
    cJSON_AddNumberToObject(o, "sent", (double)s->sent);
    cJSON_AddNumberToObject(o, "completed", (double)s->completed);
    cJSON_AddNumberToObject(o, "errors", (double)s->errors);
    cJSON_AddNumberToObject(o, "error_rate", s->completed ? (double)s->errors / (double)s->completed : 0);
    cJSON_AddNumberToObject(o, "expected_status", (double)s->expected);
    cJSON_AddNumberToObject(o, "timeouts", (double)s->timeouts);
    cJSON_AddNumberToObject(o, "status_class_differs_from_recorded", (double)s->class_mismatch);
    cJSON_AddNumberToObject(o, "bytes", (double)s->bytes);
    st = cJSON_AddObjectToObject(o, "status");
    for (i = 0; i < 6; i++)
        cJSON_AddNumberToObject(st, SN[i], (double)s->status[i]);
    cJSON_AddItemToObject(o, "latency_from_due", hist_json(&s->from_due));
    cJSON_AddItemToObject(o, "latency_from_send", hist_json(&s->from_send));
    return o;
}

static double fidelity(const struct tide_replay_result *r)
{
    uint64_t diff = 0, tot = 0;
    int i;
    for (i = 0; i < r->n_minutes; i++) {
        uint64_t a = r->min_sched[i], b = r->min_sent[i];
        diff += a > b ? a - b : b - a;
        tot += a;
    }
    return tot ? 1.0 - (double)diff / (double)tot : 1.0;
}

char *tide_replay_report_json(const struct tide_replay_result *r)
{
    cJSON *o = cJSON_CreateObject(), *x, *arr;
    char t[31], *s;
    int i;
    cJSON_AddStringToObject(o, "tool", "tide " TIDE_VERSION);
    cJSON_AddNumberToObject(o, "report_version", 1);
    cJSON_AddStringToObject(o, "run_id", r->run_id);
    cJSON_AddStringToObject(o, "target", r->target);
    cJSON_AddNumberToObject(o, "speed", r->speed);
    cJSON_AddNumberToObject(o, "multiplier", r->multiplier);
    cJSON_AddNumberToObject(o, "threads", r->threads);
    cJSON_AddStringToObject(o, "client", r->client[0] ? r->client : "curl");
    tide_time_format_rfc3339(r->window_start_ns, t);
    cJSON_AddStringToObject(o, "window_start", t);
    tide_time_format_rfc3339(r->window_end_ns, t);
    cJSON_AddStringToObject(o, "window_end", t);
    tide_time_format_rfc3339(r->started_ns, t);
    cJSON_AddStringToObject(o, "started", t);
    cJSON_AddNumberToObject(o, "schedule_seconds", (double)r->schedule_ns / 1e9);
    cJSON_AddNumberToObject(o, "elapsed_seconds", (double)(r->ended_ns - r->started_ns) / 1e9);
    cJSON_AddBoolToObject(o, "stopped_early", r->stopped);
    if (r->aborted[0])
        cJSON_AddStringToObject(o, "aborted", r->aborted);
    cJSON_AddStringToObject(o, "expected_statuses", r->expect);
    x = cJSON_AddObjectToObject(o, "skipped");
    cJSON_AddNumberToObject(x, "method_not_allowed", (double)r->skipped_method);
    cJSON_AddNumberToObject(x, "path_filtered", (double)r->skipped_path);
    cJSON_AddNumberToObject(x, "other_shards", (double)r->skipped_shard);
    cJSON_AddItemToObject(o, "overall", slice_json(&r->all));
    x = cJSON_AddObjectToObject(o, "lag");
    cJSON_AddItemToObject(x, "histogram", hist_json(&r->lag));
    cJSON_AddNumberToObject(x, "share_within_1ms", r->all.sent ? (double)r->lag_within_1ms / (double)r->all.sent : 0);
    x = cJSON_AddObjectToObject(o, "errors_by_reason");
    for (i = 0; i < ERR_KINDS; i++)
        cJSON_AddNumberToObject(x, tide__err_name(i), (double)r->err[i]);
    x = cJSON_AddObjectToObject(o, "classes");
    for (i = 0; i < TIDE_CLASSES; i++)
        if (r->classes[i].scheduled)
            cJSON_AddItemToObject(x, tide_traffic_class_name(i), slice_json(&r->classes[i]));
    x = cJSON_AddObjectToObject(o, "routes");
    for (i = 0; i < TIDE__MAX_FAMILIES; i++)
        if (r->families[i].scheduled)
            cJSON_AddItemToObject(x, r->family_name[i], slice_json(&r->families[i]));
    if (r->n_stages) {
        x = cJSON_AddArrayToObject(o, "stages");
        for (i = 0; i < r->n_stages; i++) {
            cJSON *st = slice_json(&r->stages[i]);
            cJSON_AddStringToObject(st, "name", r->stage_name[i]);
            cJSON_AddBoolToObject(st, "warmup", r->stage_warmup[i]);
            cJSON_AddNumberToObject(st, "duration_seconds", (double)r->stage_dur_ns[i] / 1e9);
            cJSON_AddItemToArray(x, st);
        }
    }
    if (r->tl_step_ns > 0) {
        static const char *NM[] = {"scheduled", "recorded", "sent", "completed", "errors"};
        int n = 0, f;
        for (i = 0; i < r->n_tl && i < TIDE__TL_POINTS; i++)
            if (r->tl[i].sched || r->tl[i].rec || r->tl[i].sent || r->tl[i].completed)
                n = i + 1;
        x = cJSON_AddObjectToObject(o, "timeline");
        cJSON_AddNumberToObject(x, "step_seconds", (double)r->tl_step_ns / 1e9);
        for (f = 0; f < 5; f++) {
            arr = cJSON_AddArrayToObject(x, NM[f]);
            for (i = 0; i < n; i++) {
                const struct tide__tlpt *p = &r->tl[i];
                uint64_t v = f == 0 ? p->sched : f == 1 ? p->rec : f == 2 ? p->sent : f == 3 ? p->completed : p->errors;
                cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)v));
            }
        }
        arr = cJSON_AddArrayToObject(x, "latency_buckets"); /* per point: [bucket, count] pairs */
        for (i = 0; i < n; i++) {
            cJSON *pt = cJSON_CreateArray();
            for (f = 0; f < TIDE__TL_LAT; f++)
                if (r->tl[i].lat[f]) {
                    cJSON *pair = cJSON_CreateArray();
                    cJSON_AddItemToArray(pair, cJSON_CreateNumber(f));
                    cJSON_AddItemToArray(pair, cJSON_CreateNumber(r->tl[i].lat[f]));
                    cJSON_AddItemToArray(pt, pair);
                }
            cJSON_AddItemToArray(arr, pt);
        }
    }
    x = cJSON_AddObjectToObject(o, "per_minute");
    arr = cJSON_AddArrayToObject(x, "scheduled");
    for (i = 0; i < r->n_minutes; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)r->min_sched[i]));
    arr = cJSON_AddArrayToObject(x, "sent");
    for (i = 0; i < r->n_minutes; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)r->min_sent[i]));
    cJSON_AddNumberToObject(x, "shape_fidelity", fidelity(r));
    s = cJSON_Print(o);
    cJSON_Delete(o);
    return s;
}

static void ms(struct tide_buf *b, uint64_t us)
{
    if (us >= 10000000)
        tide_buf_printf(b, "%8.1fs", (double)us / 1e6);
    else
        tide_buf_printf(b, "%7.1fms", (double)us / 1000.0);
}

static void row(struct tide_buf *b, const char *name, const struct tide__slice *s)
{
    int i;
    tide_buf_printf(b, "  %-34.34s %8llu %8llu %6.2f%%", name, (unsigned long long)s->sent,
                    (unsigned long long)s->completed,
                    s->completed ? 100.0 * (double)s->errors / (double)s->completed : 0.0);
    for (i = 0; i < 5; i++) {
        tide_buf_putc(b, ' ');
        ms(b, tide_hist_quantile(&s->from_due, QS[i]));
    }
    tide_buf_putc(b, ' ');
    ms(b, s->from_due.max);
    tide_buf_putc(b, '\n');
}

char *tide_replay_report_text(const struct tide_replay_result *r)
{
    struct tide_buf b;
    int i, k;
    tide_buf_init(&b, 0);
    tide_buf_printf(&b, "tide replay %s -> %s  speed %gx  multiplier %gx  %d thread(s), %s client%s\n",
                    r->run_id, r->target, r->speed, r->multiplier, r->threads, r->client[0] ? r->client : "curl",
                    r->stopped ? "  STOPPED EARLY" : "");
    if (r->aborted[0])
        tide_buf_printf(&b, "  ABORTED: %s\n", r->aborted);
    tide_buf_printf(&b, "  scheduled %llu, sent %llu, completed %llu in %.1fs (schedule %.1fs); skipped: %llu by "
                        "method, %llu by path\n",
                    (unsigned long long)r->all.scheduled, (unsigned long long)r->all.sent,
                    (unsigned long long)r->all.completed, (double)(r->ended_ns - r->started_ns) / 1e9,
                    (double)r->schedule_ns / 1e9, (unsigned long long)r->skipped_method,
                    (unsigned long long)r->skipped_path);
    tide_buf_printf(&b, "  lag behind schedule: p50 %.3fms p99 %.3fms max %.3fms; %.1f%% sent within 1 ms\n",
                    (double)tide_hist_quantile(&r->lag, 0.5) / 1000, (double)tide_hist_quantile(&r->lag, 0.99) / 1000,
                    (double)r->lag.max / 1000, r->all.sent ? 100.0 * (double)r->lag_within_1ms / (double)r->all.sent : 0);
    if (tide_hist_quantile(&r->lag, 0.99) > LAG_WARN_US)
        tide_buf_printf(&b, "  tide fell behind its schedule (p99 lag over %d ms): the load machine held requests "
                            "back, not the target; latency from due time includes that wait. More --threads, a "
                            "lighter --client, or --shard across machines\n",
                        LAG_WARN_US / 1000);
    tide_buf_printf(&b, "  status: 2xx %llu  3xx %llu  4xx %llu  5xx %llu  no answer %llu; expected (%s) %llu; "
                        "class differs from recorded %llu\n",
                    (unsigned long long)r->all.status[2], (unsigned long long)r->all.status[3],
                    (unsigned long long)r->all.status[4], (unsigned long long)r->all.status[5],
                    (unsigned long long)r->all.status[0], r->expect[0] ? r->expect : "none",
                    (unsigned long long)r->all.expected, (unsigned long long)r->all.class_mismatch);
    tide_buf_printf(&b, "  errors by reason:");
    for (i = 0; i < ERR_KINDS; i++)
        if (r->err[i])
            tide_buf_printf(&b, " %s %llu;", tide__err_name(i), (unsigned long long)r->err[i]);
    tide_buf_printf(&b, "%s\n", r->all.errors ? "" : " none");
    if (r->err[ERR_NOFD])
        tide_buf_printf(&b, "  tide had no descriptor left for %llu request(s): those errors are the load machine's, "
                            "not the target's; raise its open-file limit (ulimit -Hn) or cap --connections\n",
                        (unsigned long long)r->err[ERR_NOFD]);
    tide_buf_printf(&b, "  shape fidelity (sent vs scheduled per minute): %.1f%%\n\n", 100 * fidelity(r));
    tide_buf_printf(&b, "  latency from due time      %-9s %8s %8s %7s %9s %9s %9s %9s %9s %9s\n", "", "sent", "done",
                    "errors", "p50", "p90", "p95", "p99", "p99.9", "max");
    row(&b, "ALL", &r->all);
    for (i = 0; i < TIDE_CLASSES; i++)
        if (r->classes[i].scheduled) {
            char n[64];
            snprintf(n, sizeof(n), "class %s", tide_traffic_class_name(i));
            row(&b, n, &r->classes[i]);
        }
    for (i = 0; i < r->n_stages; i++) {
        char n[80];
        snprintf(n, sizeof(n), "stage %s%s", r->stage_name[i], r->stage_warmup[i] ? " (warm-up)" : "");
        row(&b, n, &r->stages[i]);
    }
    /* route families, busiest first, at most 20 */
    {
        int order[TIDE__MAX_FAMILIES], n = 0;
        for (i = 0; i < TIDE__MAX_FAMILIES; i++)
            if (r->families[i].scheduled)
                order[n++] = i;
        for (i = 1; i < n; i++)
            for (k = i; k > 0 && r->families[order[k]].sent > r->families[order[k - 1]].sent; k--) {
                int t = order[k];
                order[k] = order[k - 1];
                order[k - 1] = t;
            }
        for (i = 0; i < n && i < 20; i++)
            row(&b, r->family_name[order[i]], &r->families[order[i]]);
        if (n > 20)
            tide_buf_printf(&b, "  (%d more route families in the JSON report)\n", n - 20);
    }
    tide_buf_putc(&b, 0);
    return b.p;
}
