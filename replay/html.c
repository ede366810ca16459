/*
 * html.c - the replay report as one self-contained page: inline SVG charts
 * and tables, no script, no network (docs/report.md).
 */
#include "replay_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const double QS[] = {0.5, 0.9, 0.95, 0.99, 0.999};

static void esc(struct tide_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': tide_buf_printf(b, "&lt;"); break;
        case '>': tide_buf_printf(b, "&gt;"); break;
        case '&': tide_buf_printf(b, "&amp;"); break;
        case '"': tide_buf_printf(b, "&quot;"); break;
        default: tide_buf_putc(b, *s);
        }
    }
}

/* 1, 2, 5 x 10^k at or above v */
static double nice(double v)
{
    double p, m;
    if (!(v > 0))
        return 1;
    p = pow(10, floor(log10(v)));
    m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

struct series {
    const char *name, *color;
    const double *y; /* NAN: no point */
    bool dashed;
};

#define CW 880
#define CH 240
#define ML 60
#define MR 20
#define MT 30
#define MB 40

static void axes(struct tide_buf *b, const char *title, double xmax, const char *xunit, double ymax, const char *yunit)
{
    int i;
    tide_buf_printf(b, "<svg class=\"chart\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\">"
                       "<title>", CW, CH, CW, CH);
    esc(b, title);
    tide_buf_printf(b, "</title><text x=\"%d\" y=\"18\" class=\"ct\">", ML);
    esc(b, title);
    tide_buf_printf(b, " (%s)</text>", yunit);
    for (i = 0; i <= 4; i++) {
        double y = MT + (CH - MT - MB) * (1 - i / 4.0);
        tide_buf_printf(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"grid\"/>"
                           "<text x=\"%d\" y=\"%.1f\" class=\"yl\">%.4g</text>",
                        ML, y, CW - MR, y, ML - 6, y + 4, ymax * i / 4);
        tide_buf_printf(b, "<text x=\"%.1f\" y=\"%d\" class=\"xl\">%.4g</text>",
                        ML + (CW - ML - MR) * i / 4.0, CH - MB + 16, xmax * i / 4);
    }
    tide_buf_printf(b, "<text x=\"%d\" y=\"%d\" class=\"xl\">%s</text>", CW / 2, CH - 6, xunit);
}

static void legend(struct tide_buf *b, const struct series *ss, int ns)
{
    int i;
    for (i = 0; i < ns; i++)
        tide_buf_printf(b, "<rect x=\"%d\" y=\"8\" width=\"12\" height=\"4\" fill=\"%s\"/>"
                           "<text x=\"%d\" y=\"14\" class=\"lg\">%s</text>",
                        CW - MR - 95 * (ns - i), ss[i].color, CW - MR - 95 * (ns - i) + 16, ss[i].name);
}

/* Lines over the timeline; x in minutes from the start. */
static void line_chart(struct tide_buf *b, const char *title, const char *yunit, int n, double step_s,
                       const struct series *ss, int ns)
{
    double unit = n * step_s >= 180 ? 60.0 : 1.0; /* minutes, or seconds for short runs */
    double ymax = 0, xmax = n * step_s / unit;
    int i, k;
    for (k = 0; k < ns; k++)
        for (i = 0; i < n; i++)
            if (!isnan(ss[k].y[i]) && ss[k].y[i] > ymax)
                ymax = ss[k].y[i];
    ymax = nice(ymax * 1.05);
    axes(b, title, xmax, unit > 1 ? "minutes from the start" : "seconds from the start", ymax, yunit);
    for (k = 0; k < ns; k++) {
        bool open = false;
        for (i = 0; i < n; i++) {
            double x = ML + (CW - ML - MR) * ((i + 0.5) * step_s / unit) / (xmax > 0 ? xmax : 1);
            double y = MT + (CH - MT - MB) * (1 - ss[k].y[i] / ymax);
            if (isnan(ss[k].y[i])) {
                if (open)
                    tide_buf_printf(b, "\"/>");
                open = false;
                continue;
            }
            if (!open)
                tide_buf_printf(b, "<polyline class=\"s\" stroke=\"%s\"%s points=\"", ss[k].color,
                                ss[k].dashed ? " stroke-dasharray=\"5 4\"" : "");
            tide_buf_printf(b, "%.1f,%.1f ", x, y);
            open = true;
        }
        if (open)
            tide_buf_printf(b, "\"/>");
    }
    legend(b, ss, ns);
    tide_buf_printf(b, "</svg>\n");
}

static void slice_row(struct tide_buf *b, const char *name, const struct tide__slice *s, double secs)
{
    int i;
    tide_buf_printf(b, "<tr><td>");
    esc(b, name);
    tide_buf_printf(b, "</td><td>%llu</td><td>%llu</td>", (unsigned long long)s->sent,
                    (unsigned long long)s->completed);
    if (secs > 0)
        tide_buf_printf(b, "<td>%.1f</td>", (double)s->sent / secs);
    tide_buf_printf(b, "<td>%.2f%%</td>", s->completed ? 100.0 * (double)s->errors / (double)s->completed : 0.0);
    for (i = 0; i < 5; i++)
        tide_buf_printf(b, "<td>%.1f</td>", (double)tide_hist_quantile(&s->from_due, QS[i]) / 1000.0);
    tide_buf_printf(b, "<td>%.1f</td></tr>\n", (double)s->from_due.max / 1000.0);
}

static void table_head(struct tide_buf *b, const char *first, bool rate)
{
    tide_buf_printf(b, "<table><tr><th>%s</th><th>sent</th><th>done</th>%s<th>errors</th><th>p50 ms</th>"
                       "<th>p90 ms</th><th>p95 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>max ms</th></tr>\n",
                    first, rate ? "<th>req/s</th>" : "");
}

static void verdict_row(struct tide_buf *b, const char *label, const struct tide_slo *s, int ok, double v)
{
    tide_buf_printf(b, "<tr class=\"%s\"><td>", ok == 1 ? "pass" : "fail");
    esc(b, label);
    tide_buf_printf(b, "</td><td>");
    if (ok >= 0) {
        if (s->metric <= TIDE_SLO_MAX)
            tide_buf_printf(b, "%.1f ms", v);
        else
            tide_buf_printf(b, "%.3f%%", v * 100);
    } else
        tide_buf_printf(b, "-");
    tide_buf_printf(b, "</td><td>%s</td></tr>\n", ok == 1 ? "pass" : ok == 0 ? "FAIL" : "FAIL (nothing measured)");
}

char *tide_replay_report_html(const struct tide_replay_result *r, const struct tide_slo *slos, int n_slo)
{
    struct tide_buf b;
    int n = 0, i, k;
    double step = (double)r->tl_step_ns / 1e9;
    double *ys = NULL;
    char t[31];
    tide_buf_init(&b, 0);
    tide_buf_printf(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                        "<title>tide replay ");
    esc(&b, r->run_id);
    tide_buf_printf(&b, "</title><style>\n"
                        "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:960px}\n"
                        "h1{font-size:20px}h2{font-size:16px;margin-top:28px}\n"
                        "table{border-collapse:collapse;margin:8px 0}td,th{padding:3px 8px;border-bottom:1px solid #ddd;"
                        "text-align:right}td:first-child,th:first-child{text-align:left}\n"
                        ".pass td:last-child{color:#17803d}.fail td:last-child{color:#c0262d;font-weight:bold}\n"
                        ".chart{display:block;margin:8px 0}.grid{stroke:#e4e4e4}.s{fill:none;stroke-width:1.6}\n"
                        ".ct{font-weight:bold;font-size:13px}.yl{text-anchor:end;font-size:11px;fill:#555}"
                        ".xl{text-anchor:middle;font-size:11px;fill:#555}.ul,.lg{font-size:11px;fill:#555}\n"
                        ".dot{stroke:#fff}.banner{padding:8px;background:#fde8e8;border:1px solid #c0262d}\n"
                        "</style></head><body>\n<h1>tide replay ");
    esc(&b, r->run_id);
    tide_buf_printf(&b, " &rarr; ");
    esc(&b, r->target);
    tide_buf_printf(&b, "</h1>\n");
    if (r->aborted[0]) {
        tide_buf_printf(&b, "<p class=\"banner\">Aborted: ");
        esc(&b, r->aborted);
        tide_buf_printf(&b, "</p>\n");
    } else if (r->stopped)
        tide_buf_printf(&b, "<p class=\"banner\">Stopped early.</p>\n");
    tide_time_format_rfc3339(r->started_ns, t);
    tide_buf_printf(&b, "<p>Started %s; speed %gx, multiplier %gx, %d thread(s). Scheduled %llu, sent %llu, "
                        "completed %llu in %.1f s (schedule %.1f s). Errors %llu (%.3f%%); expected statuses (%s) "
                        "%llu. Lag behind schedule: p99 %.3f ms.</p>\n",
                    t, r->speed, r->multiplier, r->threads, (unsigned long long)r->all.scheduled,
                    (unsigned long long)r->all.sent, (unsigned long long)r->all.completed,
                    (double)(r->ended_ns - r->started_ns) / 1e9, (double)r->schedule_ns / 1e9,
                    (unsigned long long)r->all.errors,
                    r->all.completed ? 100.0 * (double)r->all.errors / (double)r->all.completed : 0.0,
                    r->expect[0] ? r->expect : "none", (unsigned long long)r->all.expected,
                    (double)tide_hist_quantile(&r->lag, 0.99) / 1000.0);

    /* SLO verdicts first: the answer */
    if (n_slo) {
        int missed = 0, total = 0;
        tide_buf_printf(&b, "<h2>SLO verdicts</h2>\n<table><tr><th>objective</th><th>measured</th><th>verdict</th></tr>\n");
        for (i = 0; i < n_slo; i++) {
            double v = 0;
            int ok = tide_slo_eval(r, &slos[i], &v);
            verdict_row(&b, slos[i].text, &slos[i], ok, v);
            missed += ok != 1;
            total++;
            for (k = 0; !slos[i].scope_kind && k < r->n_stages; k++) {
                char label[400];
                if (r->stage_warmup[k])
                    continue;
                ok = tide_slo_eval_stage(r, &slos[i], k, &v);
                snprintf(label, sizeof(label), "%s in stage %s", slos[i].text, r->stage_name[k]);
                verdict_row(&b, label, &slos[i], ok, v);
                missed += ok != 1;
                total++;
            }
        }
        tide_buf_printf(&b, "</table><p><b>%s</b>: %d of %d objectives met.</p>\n", missed ? "FAIL" : "PASS",
                        total - missed, total);
    }

    for (i = 0; i < r->n_tl && i < TIDE__TL_POINTS; i++)
        if (r->tl[i].sched || r->tl[i].sent || r->tl[i].completed || r->tl[i].rec)
            n = i + 1;
    if (n > 0 && step > 0 && (ys = calloc((size_t)n * 8, sizeof(double)))) {
        double *sch = ys, *snt = ys + n, *rec = ys + 2 * n, *q[4] = {ys + 3 * n, ys + 4 * n, ys + 5 * n, ys + 6 * n};
        double *er = ys + 7 * n;
        static const double QQ[] = {0.5, 0.9, 0.95, 0.99};
        for (i = 0; i < n; i++) {
            const struct tide__tlpt *p = &r->tl[i];
            sch[i] = (double)p->sched / step;
            snt[i] = (double)p->sent / step;
            rec[i] = (double)p->rec / step;
            for (k = 0; k < 4; k++)
                q[k][i] = p->completed ? (double)tide__tl_quantile(p->lat, QQ[k]) / 1000.0 : NAN;
            er[i] = p->completed ? 100.0 * (double)p->errors / (double)p->completed : NAN;
        }
        {
            struct series s1[] = {{"scheduled", "#1f77b4", sch, false}, {"achieved", "#ff7f0e", snt, false},
                                  {"recorded 1x", "#7f7f7f", rec, true}};
            struct series s2[] = {{"p50", "#2ca02c", q[0], false}, {"p90", "#1f77b4", q[1], false},
                                  {"p95", "#ff7f0e", q[2], false}, {"p99", "#d62728", q[3], false}};
            struct series s3[] = {{"error rate", "#d62728", er, false}};
            tide_buf_printf(&b, "<h2>Over time</h2>\n");
            line_chart(&b, "Request rate: scheduled, achieved, recorded", "req/s", n, step, s1, 3);
            line_chart(&b, "Latency from due time (coarse buckets)", "ms", n, step, s2, 4);
            line_chart(&b, "Errors", "% of completed", n, step, s3, 1);
        }
        free(ys);
    }

    if (r->n_stages) {
        double xmax = 0, ymax = 0;
        tide_buf_printf(&b, "<h2>Stages</h2>\n");
        table_head(&b, "stage", true);
        for (i = 0; i < r->n_stages; i++) {
            char nm[96];
            snprintf(nm, sizeof(nm), "%s%s", r->stage_name[i], r->stage_warmup[i] ? " (warm-up)" : "");
            slice_row(&b, nm, &r->stages[i], (double)r->stage_dur_ns[i] / 1e9);
        }
        tide_buf_printf(&b, "</table>\n");
        /* latency against rate, one point per non-warm-up stage */
        for (i = 0; i < r->n_stages; i++) {
            double x = r->stage_dur_ns[i] > 0 ? (double)r->stages[i].sent / ((double)r->stage_dur_ns[i] / 1e9) : 0;
            double y = (double)tide_hist_quantile(&r->stages[i].from_due, 0.99) / 1000.0;
            if (!r->stage_warmup[i] && r->stages[i].completed) {
                xmax = x > xmax ? x : xmax;
                ymax = y > ymax ? y : ymax;
            }
        }
        if (xmax > 0) {
            static const double QQ[] = {0.5, 0.95, 0.99};
            static const char *CO[] = {"#2ca02c", "#ff7f0e", "#d62728"};
            static const char *NM[] = {"p50", "p95", "p99"};
            struct series lg[3];
            xmax = nice(xmax * 1.05);
            ymax = nice(ymax * 1.05);
            axes(&b, "Latency against achieved rate, per stage", xmax, "req/s", ymax, "ms");
            for (k = 0; k < 3; k++) {
                for (i = 0; i < r->n_stages; i++) {
                    double x, y;
                    if (r->stage_warmup[i] || !r->stages[i].completed || r->stage_dur_ns[i] <= 0)
                        continue;
                    x = (double)r->stages[i].sent / ((double)r->stage_dur_ns[i] / 1e9);
                    y = (double)tide_hist_quantile(&r->stages[i].from_due, QQ[k]) / 1000.0;
                    tide_buf_printf(&b, "<circle class=\"dot\" cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"><title>",
                                    ML + (CW - ML - MR) * x / xmax, MT + (CH - MT - MB) * (1 - y / ymax), CO[k]);
                    esc(&b, r->stage_name[i]);
                    tide_buf_printf(&b, " %s %.1f ms at %.1f req/s</title></circle>", NM[k], y, x);
                }
                lg[k].name = NM[k];
                lg[k].color = CO[k];
            }
            legend(&b, lg, 3);
            tide_buf_printf(&b, "</svg>\n");
        }
    }

    tide_buf_printf(&b, "<h2>Traffic classes</h2>\n");
    table_head(&b, "class", false);
    slice_row(&b, "all", &r->all, 0);
    for (i = 0; i < TIDE_CLASSES; i++)
        if (r->classes[i].scheduled)
            slice_row(&b, tide_traffic_class_name(i), &r->classes[i], 0);
    tide_buf_printf(&b, "</table>\n<h2>Route families</h2>\n");
    table_head(&b, "route", false);
    {
        int order[TIDE__MAX_FAMILIES], m = 0;
        for (i = 0; i < TIDE__MAX_FAMILIES; i++)
            if (r->families[i].scheduled)
                order[m++] = i;
        for (i = 1; i < m; i++)
            for (k = i; k > 0 && r->families[order[k]].sent > r->families[order[k - 1]].sent; k--) {
                int tmp = order[k];
                order[k] = order[k - 1];
                order[k - 1] = tmp;
            }
        for (i = 0; i < m && i < 50; i++)
            slice_row(&b, r->family_name[order[i]], &r->families[order[i]], 0);
        tide_buf_printf(&b, "</table>\n");
        if (m > 50)
            tide_buf_printf(&b, "<p>%d more route families in the JSON report.</p>\n", m - 50);
    }
    tide_buf_printf(&b, "<p>tide %s; latency is measured from each request's due time, so queueing in the "
                        "target is not hidden (no coordinated omission). Over-time latency uses coarse buckets "
                        "(4 per octave); the tables are exact to 1.6%%.</p>\n</body></html>\n",
                    TIDE_VERSION);
    tide_buf_putc(&b, 0);
    return b.p;
}
