/*
 * profile.c - stage profiles: the plateaus and spikes of a capacity test.
 *
 * Two spellings of the same thing:
 *   JSON   {"stages":[{"name":"base","duration":"10m","multiplier":1,"warmup":true},
 *                     {"name":"3x","duration":"20m","multiplier":3},
 *                     {"name":"spike","duration":"2m","rate":900,"speed":2}]}
 *   inline base=1x/10m/warmup,3x=3x/20m,spike=900rps/2m@2
 * Errors name the stage (by position) and the field, never more.
 */
#include "replay_int.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int bad(struct tide_err *err, int k, const char *what)
{
    return tide_err_set(err, TIDE_E_FORMAT, "", "profile: stage %d: %s", k + 1, what);
}

/* The stage's name from n bytes of s (no NUL among them). */
static int set_name(struct tide_stage *g, const char *s, size_t n, int k, struct tide_err *err)
{
    size_t i;
    if (n >= sizeof(g->name))
        return bad(err, k, "name longer than 63 bytes");
    for (i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("-_.:", s[i]))
            return bad(err, k, "name may hold letters, digits and - _ . : only");
    memcpy(g->name, s, n);
    g->name[n] = 0;
    return 0;
}

static int check(struct tide_stage *g, int k, struct tide_err *err)
{
    if (g->duration_ns <= 0)
        return bad(err, k, "needs a duration greater than zero");
    if (g->duration_ns > (int64_t)366 * 86400 * TIDE_NS_PER_SEC)
        return bad(err, k, "duration longer than a year");
    if ((g->multiplier > 0) == (g->rate > 0))
        return bad(err, k, "needs exactly one of multiplier or rate, greater than zero");
    if (!(g->multiplier <= 1000) || !(g->rate <= 1e7))
        return bad(err, k, "multiplier above 1000 or rate above 10M/s");
    if (g->speed < 0 || !(g->speed <= 10000))
        return bad(err, k, "speed must be in (0, 10000]");
    if (!g->name[0])
        snprintf(g->name, sizeof(g->name), "stage%d", k + 1);
    return 0;
}

static int parse_json(const char *json, size_t len, struct tide_stage *st, int *n, struct tide_err *err)
{
    cJSON *o = cJSON_ParseWithLength(json, len), *arr, *e;
    int k = 0, rc = 0;
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return tide_err_set(err, TIDE_E_FORMAT, "", "profile: not a JSON object");
    }
    arr = cJSON_GetObjectItemCaseSensitive(o, "stages");
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0) {
        cJSON_Delete(o);
        return tide_err_set(err, TIDE_E_FORMAT, "", "profile: needs a non-empty \"stages\" array");
    }
    cJSON_ArrayForEach(e, arr)
    {
        struct tide_stage *g = &st[k];
        cJSON *x;
        if (k >= TIDE_MAX_STAGES) {
            rc = tide_err_set(err, TIDE_E_FORMAT, "", "profile: more than %d stages", TIDE_MAX_STAGES);
            break;
        }
        memset(g, 0, sizeof(*g));
        if (!cJSON_IsObject(e)) {
            rc = bad(err, k, "not an object");
            break;
        }
        x = cJSON_GetObjectItemCaseSensitive(e, "name");
        if (x && !cJSON_IsString(x)) {
            rc = bad(err, k, "name is not a string");
            break;
        }
        if (x && (rc = set_name(g, x->valuestring, strlen(x->valuestring), k, err)))
            break;
        x = cJSON_GetObjectItemCaseSensitive(e, "duration");
        if (cJSON_IsString(x)) {
            if (tide_duration_parse(x->valuestring, &g->duration_ns)) {
                rc = bad(err, k, "duration is not a duration (e.g. 90s, 15m, 1h30m)");
                break;
            }
        } else if (cJSON_IsNumber(x) && x->valuedouble > 0 && x->valuedouble < 1e8) {
            g->duration_ns = (int64_t)(x->valuedouble * 1e9);
        }
        x = cJSON_GetObjectItemCaseSensitive(e, "multiplier");
        if (x && !cJSON_IsNumber(x)) {
            rc = bad(err, k, "multiplier is not a number");
            break;
        }
        g->multiplier = x ? x->valuedouble : 0;
        x = cJSON_GetObjectItemCaseSensitive(e, "rate");
        if (x && !cJSON_IsNumber(x)) {
            rc = bad(err, k, "rate is not a number");
            break;
        }
        g->rate = x ? x->valuedouble : 0;
        x = cJSON_GetObjectItemCaseSensitive(e, "speed");
        if (x && (!cJSON_IsNumber(x) || !(x->valuedouble > 0))) {
            rc = bad(err, k, "speed is not a number greater than zero");
            break;
        }
        g->speed = x ? x->valuedouble : 0;
        x = cJSON_GetObjectItemCaseSensitive(e, "warmup");
        if (x && !cJSON_IsBool(x)) {
            rc = bad(err, k, "warmup is not true or false");
            break;
        }
        g->warmup = cJSON_IsTrue(x);
        if ((rc = check(g, k, err)))
            break;
        k++;
    }
    cJSON_Delete(o);
    *n = k;
    return rc;
}

/* name=VOLUME/DURATION[@SPEED][/warmup], VOLUME "3x" or "250rps" */
static int parse_inline(const char *s, size_t len, struct tide_stage *st, int *n, struct tide_err *err)
{
    size_t p = 0;
    int k = 0;
    while (p < len) {
        size_t e = p, eq;
        struct tide_stage *g = &st[k];
        char item[160], *vol, *dur, *rest, *end;
        while (e < len && s[e] != ',')
            e++;
        if (k >= TIDE_MAX_STAGES)
            return tide_err_set(err, TIDE_E_FORMAT, "", "profile: more than %d stages", TIDE_MAX_STAGES);
        if (e - p >= sizeof(item))
            return bad(err, k, "longer than 159 bytes");
        memcpy(item, s + p, e - p);
        item[e - p] = 0;
        if (memchr(item, 0, e - p))
            return bad(err, k, "holds a NUL byte");
        memset(g, 0, sizeof(*g));
        vol = item;
        eq = strcspn(item, "=");
        if (item[eq] == '=') {
            if (eq == 0)
                return bad(err, k, "name is empty");
            if (set_name(g, item, eq, k, err))
                return TIDE_E_FORMAT;
            vol = item + eq + 1;
        }
        dur = strchr(vol, '/');
        if (!dur)
            return bad(err, k, "expected VOLUME/DURATION, e.g. 3x/10m or 250rps/5m");
        *dur++ = 0;
        rest = strchr(dur, '/');
        if (rest) {
            *rest++ = 0;
            if (strcmp(rest, "warmup") != 0)
                return bad(err, k, "only \"warmup\" may follow the duration");
            g->warmup = true;
        }
        {
            char *at = strchr(dur, '@');
            if (at) {
                *at++ = 0;
                g->speed = strtod(at, &end);
                if (end == at || *end || !(g->speed > 0))
                    return bad(err, k, "speed after @ is not a number greater than zero");
            }
        }
        if (tide_duration_parse(dur, &g->duration_ns))
            return bad(err, k, "duration is not a duration (e.g. 90s, 15m, 1h30m)");
        {
            double v = strtod(vol, &end);
            if (end == vol || !(v > 0))
                return bad(err, k, "volume is not a number greater than zero");
            if (strcmp(end, "x") == 0)
                g->multiplier = v;
            else if (strcmp(end, "rps") == 0 || strcmp(end, "/s") == 0)
                g->rate = v;
            else
                return bad(err, k, "volume takes x (multiplier) or rps (requests/s)");
        }
        if (check(g, k, err))
            return TIDE_E_FORMAT;
        k++;
        p = e + 1;
    }
    *n = k;
    if (k == 0)
        return tide_err_set(err, TIDE_E_FORMAT, "", "profile: no stages");
    return 0;
}

int tide_profile_parse(const char *text, size_t len, struct tide_stage **out, int *n, struct tide_err *err)
{
    struct tide_stage *st = calloc(TIDE_MAX_STAGES, sizeof(*st));
    size_t p = 0;
    int rc;
    *out = NULL;
    *n = 0;
    if (!st)
        return tide_err_set(err, TIDE_E_NOMEM, "", "out of memory");
    while (p < len && isspace((unsigned char)text[p]))
        p++;
    while (len > p && isspace((unsigned char)text[len - 1]))
        len--;
    if (p < len && text[p] == '{')
        rc = parse_json(text + p, len - p, st, n, err);
    else
        rc = parse_inline(text + p, len - p, st, n, err);
    if (rc) {
        free(st);
        *n = 0;
        return rc;
    }
    *out = st;
    return 0;
}
