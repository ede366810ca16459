/*
 * slo.c - service-level objectives over a replay's result, and reading
 * reports back so shard reports merge exactly (`tide report`).
 *
 * An SLO is a comparison of one measured value with a threshold, over the
 * whole run, a route family or a traffic class. Latency objectives use the
 * latency from due time, the one a slow target cannot hide queueing from.
 */
#include "replay_int.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int tide_slo_parse(const char *expr, struct tide_slo *o, struct tide_err *err)
{
    static const struct {
        const char *name;
        int m;
    } M[] = {{"p50", TIDE_SLO_P50},   {"p90", TIDE_SLO_P90},   {"p95", TIDE_SLO_P95},
             {"p99.9", TIDE_SLO_P999}, {"p999", TIDE_SLO_P999}, {"p99", TIDE_SLO_P99},
             {"max", TIDE_SLO_MAX},   {"error_rate", TIDE_SLO_ERROR_RATE},
             {"availability", TIDE_SLO_AVAILABILITY}};
    const char *p = expr, *colon;
    char *end;
    size_t i, ml = 0;
    memset(o, 0, sizeof(*o));
    snprintf(o->text, sizeof(o->text), "%s", expr);
    if (strncmp(p, "route=", 6) == 0 || strncmp(p, "class=", 6) == 0) {
        colon = strrchr(p, ':');
        if (!colon || colon - p - 6 <= 0 || (size_t)(colon - p - 6) >= sizeof(o->scope))
            return tide_err_set(err, TIDE_E_USAGE, "", "--slo '%s': expected route=NAME:METRIC...", expr);
        o->scope_kind = p[0] == 'r' ? 'r' : 'c';
        snprintf(o->scope, sizeof(o->scope), "%.*s", (int)(colon - p - 6), p + 6);
        p = colon + 1;
    }
    for (i = 0; i < sizeof(M) / sizeof(M[0]); i++)
        if (strncmp(p, M[i].name, strlen(M[i].name)) == 0) {
            o->metric = M[i].m;
            ml = strlen(M[i].name);
            break;
        }
    if (!ml)
        return tide_err_set(err, TIDE_E_USAGE, "", "--slo '%s': unknown metric (p50 p90 p95 p99 p99.9 max error_rate availability)", expr);
    p += ml;
    if (strncmp(p, "<=", 2) == 0)
        o->op = TIDE_SLO_LE, p += 2;
    else if (strncmp(p, ">=", 2) == 0)
        o->op = TIDE_SLO_GE, p += 2;
    else if (*p == '<')
        o->op = TIDE_SLO_LT, p++;
    else if (*p == '>')
        o->op = TIDE_SLO_GT, p++;
    else
        return tide_err_set(err, TIDE_E_USAGE, "", "--slo '%s': expected <=, <, >= or >", expr);
    o->value = strtod(p, &end);
    if (end == p || o->value < 0)
        return tide_err_set(err, TIDE_E_USAGE, "", "--slo '%s': expected a number", expr);
    if (o->metric <= TIDE_SLO_MAX) {
        if (strcmp(end, "ms") == 0)
            ;
        else if (strcmp(end, "s") == 0)
            o->value *= 1000;
        else if (strcmp(end, "us") == 0)
            o->value /= 1000;
        else
            return tide_err_set(err, TIDE_E_USAGE, "", "--slo '%s': latencies take ms, s or us", expr);
    } else {
        if (strcmp(end, "%") == 0)
            o->value /= 100;
        else if (*end)
            return tide_err_set(err, TIDE_E_USAGE, "", "--slo '%s': rates take %% or a fraction", expr);
    }
    return 0;
}

static const struct tide__slice *scope_slice(const struct tide_replay_result *r, const struct tide_slo *s)
{
    int i;
    if (!s->scope_kind)
        return &r->all;
    if (s->scope_kind == 'c') {
        for (i = 0; i < TIDE_CLASSES; i++)
            if (strcasecmp(tide_traffic_class_name(i), s->scope) == 0 ||
                (i == TIDE_CLASS_CRAWLER && strcasecmp(s->scope, "crawler") == 0) ||
                (i == TIDE_CLASS_HUMAN && strcasecmp(s->scope, "human") == 0))
                return r->classes[i].scheduled ? &r->classes[i] : NULL;
        return NULL;
    }
    for (i = 0; i < TIDE__MAX_FAMILIES; i++)
        if (r->families[i].scheduled && strcmp(r->family_name[i], s->scope) == 0)
            return &r->families[i];
    return NULL;
}

int tide__slo_eval_slice(const struct tide__slice *sl, const struct tide_slo *s, double *actual)
{
    static const double Q[] = {0.5, 0.9, 0.95, 0.99, 0.999};
    double v;
    if (s->metric <= TIDE_SLO_P999)
        v = (double)tide_hist_quantile(&sl->from_due, Q[s->metric]) / 1000.0;
    else if (s->metric == TIDE_SLO_MAX)
        v = (double)sl->from_due.max / 1000.0;
    else if (s->metric == TIDE_SLO_ERROR_RATE)
        v = sl->completed ? (double)sl->errors / (double)sl->completed : 0;
    else /* availability: answered without a transport error or a 5xx */
        v = sl->completed ? 1.0 - (double)(sl->status[0] + sl->status[5]) / (double)sl->completed : 1;
    *actual = v;
    switch (s->op) {
    case TIDE_SLO_LE: return v <= s->value;
    case TIDE_SLO_LT: return v < s->value;
    case TIDE_SLO_GE: return v >= s->value;
    default: return v > s->value;
    }
}

int tide_slo_eval(const struct tide_replay_result *r, const struct tide_slo *s, double *actual)
{
    const struct tide__slice *sl = scope_slice(r, s);
    if (!sl)
        return -1;
    return tide__slo_eval_slice(sl, s, actual);
}

int tide_slo_eval_stage(const struct tide_replay_result *r, const struct tide_slo *s, int stage, double *actual)
{
    if (s->scope_kind || stage < 0 || stage >= r->n_stages || !r->stages[stage].scheduled)
        return -1;
    return tide__slo_eval_slice(&r->stages[stage], s, actual);
}

int tide_abort_parse(const char *expr, struct tide_abort *out, struct tide_err *err)
{
    char buf[256];
    const char *f = strstr(expr, " for ");
    size_t n = f ? (size_t)(f - expr) : strlen(expr);
    memset(out, 0, sizeof(*out));
    out->window_ns = 10 * TIDE_NS_PER_SEC;
    if (n >= sizeof(buf))
        return tide_err_set(err, TIDE_E_USAGE, "", "--abort-if: expression too long");
    memcpy(buf, expr, n);
    buf[n] = 0;
    if (f) {
        const char *d = f + 5;
        while (*d == ' ')
            d++;
        if (tide_duration_parse(d, &out->window_ns) || out->window_ns < TIDE_NS_PER_SEC ||
            out->window_ns > 600 * TIDE_NS_PER_SEC)
            return tide_err_set(err, TIDE_E_USAGE, "", "--abort-if '%s': the window after 'for' must be 1s..10m", expr);
    }
    if (tide_slo_parse(buf, &out->cond, err))
        return TIDE_E_USAGE;
    if (out->cond.scope_kind)
        return tide_err_set(err, TIDE_E_USAGE, "", "--abort-if '%s': triggers watch the whole run (no route= or class=)", expr);
    snprintf(out->cond.text, sizeof(out->cond.text), "%s", expr);
    return 0;
}

const char *tide_replay_result_aborted(const struct tide_replay_result *r)
{
    return r->aborted;
}

int tide_replay_result_stages(const struct tide_replay_result *r)
{
    return r->n_stages;
}

const char *tide_replay_result_stage(const struct tide_replay_result *r, int k, bool *warmup)
{
    if (k < 0 || k >= r->n_stages)
        return NULL;
    if (warmup)
        *warmup = r->stage_warmup[k];
    return r->stage_name[k];
}

/* ---- reports back into results ------------------------------------------------------------------ */

/* A count from a report: 0 unless a number in [0, 2^63) (casting others is undefined). */
static uint64_t count_of(const cJSON *v)
{
    return cJSON_IsNumber(v) && v->valuedouble > 0 && v->valuedouble < 9.2e18 ? (uint64_t)v->valuedouble : 0;
}

/* Seconds from a report as ns: 0 unless a number within +-100 years. */
static int64_t ns_of(const cJSON *v)
{
    return cJSON_IsNumber(v) && v->valuedouble > -3.2e9 && v->valuedouble < 3.2e9 ? (int64_t)(v->valuedouble * 1e9) : 0;
}

static uint64_t num(cJSON *o, const char *k) { return count_of(cJSON_GetObjectItemCaseSensitive(o, k)); }

static int hist_from(cJSON *j, struct tide_hist *h)
{
    cJSON *b, *pair;
    memset(h, 0, sizeof(*h));
    if (!cJSON_IsObject(j))
        return TIDE_E_FORMAT;
    h->count = num(j, "count");
    h->sum = num(j, "sum");
    h->max = num(j, "max");
    b = cJSON_GetObjectItemCaseSensitive(j, "buckets");
    cJSON_ArrayForEach(pair, b)
    {
        cJSON *i = cJSON_GetArrayItem(pair, 0), *c = cJSON_GetArrayItem(pair, 1);
        if (!cJSON_IsNumber(i) || !cJSON_IsNumber(c) || i->valuedouble < 0 || i->valuedouble >= TIDE_HIST_BUCKETS ||
            !(c->valuedouble >= 0 && c->valuedouble < 9.2e18))
            return TIDE_E_FORMAT;
        h->b[(int)i->valuedouble] += (uint64_t)c->valuedouble;
    }
    return 0;
}

static int slice_from(cJSON *j, struct tide__slice *s)
{
    static const char *SN[] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};
    cJSON *st;
    int i;
    memset(s, 0, sizeof(*s));
    if (!cJSON_IsObject(j))
        return TIDE_E_FORMAT;
    s->scheduled = num(j, "scheduled");
    s->sent = num(j, "sent");
    s->completed = num(j, "completed");
    s->errors = num(j, "errors");
    s->expected = num(j, "expected_status");
    s->timeouts = num(j, "timeouts");
    s->class_mismatch = num(j, "status_class_differs_from_recorded");
    s->bytes = num(j, "bytes");
    st = cJSON_GetObjectItemCaseSensitive(j, "status");
    for (i = 0; i < 6; i++)
        s->status[i] = num(st, SN[i]);
    if (hist_from(cJSON_GetObjectItemCaseSensitive(j, "latency_from_due"), &s->from_due) ||
        hist_from(cJSON_GetObjectItemCaseSensitive(j, "latency_from_send"), &s->from_send))
        return TIDE_E_FORMAT;
    return 0;
}

int tide_replay_result_from_json(const char *json, size_t len, struct tide_replay_result **out,
                                 struct tide_err *err)
{
    cJSON *o = cJSON_ParseWithLength(json, len), *x, *e;
    struct tide_replay_result *r;
    int i, rc = 0;
    *out = NULL;
    if (!o || !cJSON_IsObject(o) || num(o, "report_version") != 1) {
        cJSON_Delete(o);
        return tide_err_set(err, TIDE_E_FORMAT, "", "not a tide replay report (report_version 1)");
    }
    r = tide__result_new();
    if (!r) {
        cJSON_Delete(o);
        return tide_err_set(err, TIDE_E_NOMEM, "", "out of memory");
    }
    x = cJSON_GetObjectItemCaseSensitive(o, "run_id");
    snprintf(r->run_id, sizeof(r->run_id), "%s", cJSON_IsString(x) ? x->valuestring : "?");
    x = cJSON_GetObjectItemCaseSensitive(o, "target");
    snprintf(r->target, sizeof(r->target), "%s", cJSON_IsString(x) ? x->valuestring : "?");
    {
        static const char *TK[] = {"started", "window_start", "window_end"};
        int64_t *TV[] = {&r->started_ns, &r->window_start_ns, &r->window_end_ns};
        for (i = 0; i < 3; i++) {
            x = cJSON_GetObjectItemCaseSensitive(o, TK[i]);
            if (cJSON_IsString(x) && tide_time_parse_rfc3339(x->valuestring, strlen(x->valuestring), TV[i]) != 0)
                *TV[i] = 0;
        }
    }
    x = cJSON_GetObjectItemCaseSensitive(o, "expected_statuses");
    snprintf(r->expect, sizeof(r->expect), "%s", cJSON_IsString(x) ? x->valuestring : "");
    x = cJSON_GetObjectItemCaseSensitive(o, "speed");
    r->speed = cJSON_IsNumber(x) ? x->valuedouble : 1;
    x = cJSON_GetObjectItemCaseSensitive(o, "multiplier");
    r->multiplier = cJSON_IsNumber(x) ? x->valuedouble : 1;
    r->threads = (int)num(o, "threads");
    x = cJSON_GetObjectItemCaseSensitive(o, "client");
    snprintf(r->client, sizeof(r->client), "%s", cJSON_IsString(x) ? x->valuestring : "");
    r->schedule_ns = ns_of(cJSON_GetObjectItemCaseSensitive(o, "schedule_seconds"));
    r->ended_ns = ns_of(cJSON_GetObjectItemCaseSensitive(o, "elapsed_seconds"));
    r->ended_ns += r->started_ns;
    r->stopped = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "stopped_early"));
    x = cJSON_GetObjectItemCaseSensitive(o, "aborted");
    snprintf(r->aborted, sizeof(r->aborted), "%s", cJSON_IsString(x) ? x->valuestring : "");
    x = cJSON_GetObjectItemCaseSensitive(o, "skipped");
    r->skipped_method = num(x, "method_not_allowed");
    r->skipped_path = num(x, "path_filtered");
    r->skipped_shard = num(x, "other_shards");
    rc |= slice_from(cJSON_GetObjectItemCaseSensitive(o, "overall"), &r->all);
    x = cJSON_GetObjectItemCaseSensitive(o, "lag");
    rc |= hist_from(cJSON_GetObjectItemCaseSensitive(x, "histogram"), &r->lag);
    {
        cJSON *sh = cJSON_GetObjectItemCaseSensitive(x, "share_within_1ms");
        r->lag_within_1ms = cJSON_IsNumber(sh) && sh->valuedouble >= 0 && sh->valuedouble <= 1
                                ? (uint64_t)llround(sh->valuedouble * (double)r->all.sent) : 0;
    }
    x = cJSON_GetObjectItemCaseSensitive(o, "errors_by_reason");
    for (i = 0; i < ERR_KINDS; i++)
        r->err[i] = num(x, tide__err_name(i));
    x = cJSON_GetObjectItemCaseSensitive(o, "classes");
    for (i = 0; i < TIDE_CLASSES; i++)
        if ((e = cJSON_GetObjectItemCaseSensitive(x, tide_traffic_class_name(i))))
            rc |= slice_from(e, &r->classes[i]);
    x = cJSON_GetObjectItemCaseSensitive(o, "routes");
    cJSON_ArrayForEach(e, x)
    {
        int k;
        if (!e->string)
            continue; /* "routes" is an object of name -> slice */
        k = r->n_families < TIDE__MAX_FAMILIES - 1 ? r->n_families++ : TIDE__MAX_FAMILIES - 1;
        if (k != TIDE__MAX_FAMILIES - 1)
            snprintf(r->family_name[k], 128, "%s", e->string);
        rc |= slice_from(e, &r->families[k]);
    }
    x = cJSON_GetObjectItemCaseSensitive(o, "stages");
    cJSON_ArrayForEach(e, x)
    {
        cJSON *nm = cJSON_GetObjectItemCaseSensitive(e, "name");
        if (r->n_stages >= TIDE_MAX_STAGES)
            break;
        snprintf(r->stage_name[r->n_stages], sizeof(r->stage_name[0]), "%s",
                 cJSON_IsString(nm) ? nm->valuestring : "?");
        r->stage_warmup[r->n_stages] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "warmup"));
        nm = cJSON_GetObjectItemCaseSensitive(e, "duration_seconds");
        r->stage_dur_ns[r->n_stages] = cJSON_IsNumber(nm) && nm->valuedouble > 0 && nm->valuedouble < 1e9
                                           ? (int64_t)(nm->valuedouble * 1e9) : 0;
        rc |= slice_from(e, &r->stages[r->n_stages]);
        r->n_stages++;
    }
    x = cJSON_GetObjectItemCaseSensitive(o, "timeline");
    if (cJSON_IsObject(x)) {
        static const char *NM[] = {"scheduled", "recorded", "sent", "completed", "errors"};
        cJSON *st = cJSON_GetObjectItemCaseSensitive(x, "step_seconds"), *lb;
        int f, n = 0;
        r->tl_step_ns = cJSON_IsNumber(st) && st->valuedouble >= 0.1 && st->valuedouble < 1e7 ? (int64_t)llround(st->valuedouble * 1e9) : 0;
        for (f = 0; f < 5; f++) {
            cJSON *a = cJSON_GetObjectItemCaseSensitive(x, NM[f]), *v;
            i = 0;
            cJSON_ArrayForEach(v, a)
            {
                uint64_t u = count_of(v);
                struct tide__tlpt *p;
                if (i >= TIDE__TL_POINTS)
                    break;
                p = &r->tl[i++];
                if (f == 0)
                    p->sched = u;
                else if (f == 1)
                    p->rec = u;
                else if (f == 2)
                    p->sent = u;
                else if (f == 3)
                    p->completed = u;
                else
                    p->errors = u;
            }
            if (i > n)
                n = i;
        }
        lb = cJSON_GetObjectItemCaseSensitive(x, "latency_buckets");
        i = 0;
        cJSON_ArrayForEach(e, lb)
        {
            cJSON *pair;
            if (i >= TIDE__TL_POINTS)
                break;
            cJSON_ArrayForEach(pair, e)
            {
                cJSON *b = cJSON_GetArrayItem(pair, 0), *c = cJSON_GetArrayItem(pair, 1);
                if (cJSON_IsNumber(b) && cJSON_IsNumber(c) && b->valuedouble >= 0 && b->valuedouble < TIDE__TL_LAT &&
                    c->valuedouble >= 0 && c->valuedouble < 4e9)
                    r->tl[i].lat[(int)b->valuedouble] += (uint32_t)c->valuedouble;
            }
            i++;
        }
        r->n_tl = n > i ? n : i;
    }
    x = cJSON_GetObjectItemCaseSensitive(o, "per_minute");
    {
        cJSON *a = cJSON_GetObjectItemCaseSensitive(x, "scheduled"), *b = cJSON_GetObjectItemCaseSensitive(x, "sent");
        int n = cJSON_GetArraySize(a);
        for (i = 0; i < n && i < TIDE__MAX_MINUTES; i++) {
            r->min_sched[i] = count_of(cJSON_GetArrayItem(a, i));
            r->min_sent[i] = count_of(cJSON_GetArrayItem(b, i));
        }
        r->n_minutes = n < TIDE__MAX_MINUTES ? n : TIDE__MAX_MINUTES;
    }
    cJSON_Delete(o);
    if (rc) {
        tide_replay_result_free(r);
        return tide_err_set(err, TIDE_E_FORMAT, "", "malformed slice or histogram in the report");
    }
    *out = r;
    return 0;
}
