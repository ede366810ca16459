/*
 * metrics.c - a running replay as Prometheus text exposition (version 0.0.4).
 *
 * Rendered from a snapshot of the workers' results merged under their locks
 * (engine.c serves it). Counters are totals since the run began;
 * latency histograms are cumulative over fixed buckets in seconds, so
 * Grafana's histogram_quantile() and rate() apply.
 */
#include "replay_int.h"

#include <string.h>

static const double LE[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
#define N_LE (sizeof(LE) / sizeof(LE[0]))
static const char *SC[] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};

/* A label value: backslash, double quote and newline escaped. */
static void label(struct tide_buf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            tide_buf_printf(b, "\\%c", *v);
        else if (*v == '\n')
            tide_buf_printf(b, "\\n");
        else
            tide_buf_putc(b, *v);
    }
}

static void hist(struct tide_buf *b, const char *name, const char *lk, const char *lv, const struct tide_hist *h)
{
    uint64_t cum = 0;
    size_t i;
    int k = 0;
    for (i = 0; i < N_LE; i++) {
        uint64_t lim_us = (uint64_t)(LE[i] * 1e6);
        /* buckets whose values all lie at or below the bound */
        while (k < TIDE_HIST_BUCKETS && tide_hist_bucket_high(k) <= lim_us)
            cum += h->b[k++];
        tide_buf_printf(b, "%s_bucket{", name);
        if (lk) {
            tide_buf_printf(b, "%s=\"", lk);
            label(b, lv);
            tide_buf_printf(b, "\",");
        }
        tide_buf_printf(b, "le=\"%g\"} %llu\n", LE[i], (unsigned long long)cum);
    }
    tide_buf_printf(b, "%s_bucket{", name);
    if (lk) {
        tide_buf_printf(b, "%s=\"", lk);
        label(b, lv);
        tide_buf_printf(b, "\",");
    }
    tide_buf_printf(b, "le=\"+Inf\"} %llu\n", (unsigned long long)h->count);
    tide_buf_printf(b, "%s_sum", name);
    if (lk) {
        tide_buf_printf(b, "{%s=\"", lk);
        label(b, lv);
        tide_buf_printf(b, "\"}");
    }
    tide_buf_printf(b, " %.6f\n%s_count", (double)h->sum / 1e6, name);
    if (lk) {
        tide_buf_printf(b, "{%s=\"", lk);
        label(b, lv);
        tide_buf_printf(b, "\"}");
    }
    tide_buf_printf(b, " %llu\n", (unsigned long long)h->count);
}

/* One line per value of a counter family, for one scope: what = 0 requests by
 * phase, 1 responses by status class, 2 errors. */
static void counts(struct tide_buf *b, int what, const char *lk, const char *lv, const struct tide__slice *s)
{
    static const char *PH[] = {"scheduled", "sent"};
    static const char *NAME[] = {"tide_requests_total", "tide_responses_total", "tide_errors_total"};
    uint64_t v[2] = {s->scheduled, s->sent};
    int i, n = what == 0 ? 2 : what == 1 ? 6 : 1;
    for (i = 0; i < n; i++) {
        tide_buf_printf(b, "%s{%s=\"", NAME[what], lk);
        label(b, lv);
        if (what == 0)
            tide_buf_printf(b, "\",phase=\"%s\"} %llu\n", PH[i], (unsigned long long)v[i]);
        else if (what == 1)
            tide_buf_printf(b, "\",status_class=\"%s\"} %llu\n", SC[i], (unsigned long long)s->status[i]);
        else
            tide_buf_printf(b, "\"} %llu\n", (unsigned long long)s->errors);
    }
}

void tide__metrics_render(const struct tide_replay_result *r, const char *run_id, struct tide_buf *b)
{
    int i;
    static const char *HELP[] = {
        "# HELP tide_requests_total Requests scheduled and sent, by scope.\n# TYPE tide_requests_total counter\n",
        "# HELP tide_responses_total Requests completed, by scope and status class (none: no answer).\n"
        "# TYPE tide_responses_total counter\n",
        "# HELP tide_errors_total Errors (no answer, 5xx, 4xx production did not give), by scope.\n"
        "# TYPE tide_errors_total counter\n"};
    int what;
    /* each family's lines together, as the exposition format requires */
    for (what = 0; what < 3; what++) {
        tide_buf_printf(b, "%s", HELP[what]);
        counts(b, what, "scope", "all", &r->all);
        for (i = 0; i < r->n_stages; i++)
            counts(b, what, "stage", r->stage_name[i], &r->stages[i]);
        for (i = 0; i < TIDE_CLASSES; i++)
            if (r->classes[i].scheduled)
                counts(b, what, "class", tide_traffic_class_name(i), &r->classes[i]);
        for (i = 0; i < TIDE__MAX_FAMILIES; i++)
            if (r->families[i].scheduled)
                counts(b, what, "route", r->family_name[i], &r->families[i]);
    }
    tide_buf_printf(b, "# HELP tide_in_flight Requests sent and not yet answered.\n# TYPE tide_in_flight gauge\n"
                       "tide_in_flight %llu\n",
                    (unsigned long long)(r->all.sent > r->all.completed ? r->all.sent - r->all.completed : 0));
    tide_buf_printf(b, "# HELP tide_latency_seconds Latency from the due time (coordinated omission corrected).\n"
                       "# TYPE tide_latency_seconds histogram\n");
    hist(b, "tide_latency_seconds", NULL, NULL, &r->all.from_due);
    tide_buf_printf(b, "# HELP tide_stage_latency_seconds Latency from the due time, by stage.\n"
                       "# TYPE tide_stage_latency_seconds histogram\n");
    for (i = 0; i < r->n_stages; i++)
        hist(b, "tide_stage_latency_seconds", "stage", r->stage_name[i], &r->stages[i].from_due);
    tide_buf_printf(b, "# HELP tide_route_latency_seconds Latency from the due time, by route family.\n"
                       "# TYPE tide_route_latency_seconds histogram\n");
    for (i = 0; i < TIDE__MAX_FAMILIES; i++)
        if (r->families[i].completed)
            hist(b, "tide_route_latency_seconds", "route", r->family_name[i], &r->families[i].from_due);
    tide_buf_printf(b, "# HELP tide_class_latency_seconds Latency from the due time, by traffic class.\n"
                       "# TYPE tide_class_latency_seconds histogram\n");
    for (i = 0; i < TIDE_CLASSES; i++)
        if (r->classes[i].completed)
            hist(b, "tide_class_latency_seconds", "class", tide_traffic_class_name(i), &r->classes[i].from_due);
    tide_buf_printf(b, "# HELP tide_lag_seconds How late each request was sent behind its due time.\n"
                       "# TYPE tide_lag_seconds histogram\n");
    hist(b, "tide_lag_seconds", NULL, NULL, &r->lag);
    tide_buf_printf(b, "# HELP tide_run_info The run.\n# TYPE tide_run_info gauge\ntide_run_info{run_id=\"");
    label(b, run_id);
    tide_buf_printf(b, "\",version=\"%s\"} 1\n", TIDE_VERSION);
}
