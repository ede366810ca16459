/*
 * src_jsonlog.c - application logs as JSON lines (nginx escape=json, Caddy,
 * Traefik, Google Cloud load balancers, Cloudflare Logpush, Node's pino-http
 * and express-winston, app loggers). `--map field=path,...` says where each record field
 * sits (dotted paths into nested objects); fields without a map entry are
 * looked up under the names common loggers use. Values are copied into the
 * scratch arena because cJSON's tree is freed after each line.
 */
#include "capture_int.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* map entry kinds beyond the record fields */
enum { J_TS = 100, J_START, J_HEADERS, J_BODY, J_SESSION, J_UA, J_REFERER, J_URI };

struct jfield {
    const char *key; /* --map name */
    int kind;        /* enum tide__ftype or J_* */
    const char *defaults[12];
};

static const struct jfield JFIELDS[] = {
    {"ts", J_TS,
     {"time", "timestamp", "ts", "@timestamp", "date", "time_iso8601", "time_local", "msec", "EdgeEndTimestamp", NULL}},
    /* API Gateway's requestTime is when the request came in */
    {"start", J_START, {"StartUTC", "EdgeStartTimestamp", "requestTimeEpoch", "requestTime", NULL}},
    {"method", F_METHOD,
     {"method", "request_method", "request.method", "RequestMethod", "http.method", "httpRequest.requestMethod",
      "ClientRequestMethod", "httpMethod", "req.method", "meta.req.method", NULL}},
    {"scheme", F_SCHEME, {"scheme", "request.scheme", "RequestScheme", "ClientRequestScheme", NULL}},
    {"host", F_HOST, {"host", "http_host", "request.host", "RequestHost", "server_name", "ClientRequestHost", NULL}},
    {"path", J_URI,
     {"uri", "request_uri", "path", "request.uri", "RequestPath", "url", "request.path", "httpRequest.requestUrl",
      "ClientRequestURI", "req.url", "meta.req.url", NULL}},
    {"query", F_QUERY, {"query", "args", "query_string", "request.query", NULL}},
    {"version", F_PROTOCOL,
     {"protocol", "proto", "request.proto", "RequestProtocol", "server_protocol", "httpRequest.protocol",
      "ClientRequestProtocol", NULL}},
    {"status", F_STATUS,
     {"status", "DownstreamStatus", "response.status", "http.status_code", "httpRequest.status", "EdgeResponseStatus",
      "res.statusCode", "meta.res.statusCode", "statusCode", NULL}},
    {"resp_bytes", F_BYTES,
     {"size", "length", "body_bytes_sent", "DownstreamContentSize", "response.size", "bytes_sent",
      "httpRequest.responseSize", "EdgeResponseBytes", "responseLength", NULL}},
    /* pino-http's and express-winston's responseTime are milliseconds */
    {"duration_ms", F_DUR_MS,
     {"duration_ms", "generation_time_milli", "responseLatency", "responseTime", "meta.responseTime", NULL}},
    {"duration_s", F_DUR_S, {"request_time", "duration", "httpRequest.latency", NULL}},
    {"duration_us", F_DUR_US, {NULL}},
    {"duration_ns", F_IGNORE + 1000, {"Duration", NULL}},
    {"client", F_CLIENT,
     {"ip", "remote_addr", "client_ip", "request.remote_ip", "request.client_ip", "ClientHost", "remote_ip",
      "httpRequest.remoteIp", "ClientIP", "sourceIp", "req.remoteAddress", NULL}},
    {"session", J_SESSION, {"session", "session_id", NULL}},
    {"headers", J_HEADERS, {"request.headers", "headers", "req.headers", "meta.req.headers", NULL}},
    {"body", J_BODY, {"body", "request.body", NULL}},
    {"user_agent", J_UA,
     {"user_agent", "http_user_agent", "request_User-Agent", "httpRequest.userAgent", "ClientRequestUserAgent",
      "userAgent", NULL}},
    {"referer", J_REFERER,
     {"referrer", "referer", "http_referer", "request_Referer", "httpRequest.referer", "ClientRequestReferer", NULL}},
};
#define N_JFIELDS (sizeof(JFIELDS) / sizeof(JFIELDS[0]))

int tide__json_compile(struct tide_logfmt *f, const char *map, struct tide_err *err)
{
    const char *p = map;
    f->n_jmap = 0;
    while (p && *p) {
        const char *comma = strchr(p, ','), *eq = strchr(p, '=');
        size_t n = comma ? (size_t)(comma - p) : strlen(p), k;
        bool found = false;
        if (!eq || eq > p + n)
            return tide_err_set(err, TIDE_E_USAGE, "", "--map: expected FIELD=PATH, got '%.*s'",
                                (int)(n > 40 ? 40 : n), p);
        for (k = 0; k < N_JFIELDS; k++)
            if (strlen(JFIELDS[k].key) == (size_t)(eq - p) && strncmp(JFIELDS[k].key, p, (size_t)(eq - p)) == 0) {
                struct tide__jmap *m = &f->jmap[f->n_jmap];
                if (f->n_jmap >= 32)
                    return tide_err_set(err, TIDE_E_USAGE, "", "--map: too many entries");
                m->t = (enum tide__ftype)JFIELDS[k].kind;
                snprintf(m->path, sizeof(m->path), "%.*s", (int)(p + n - eq - 1), eq + 1);
                m->field = (int)k; /* index into JFIELDS */
                f->n_jmap++;
                found = true;
            }
        if (!found)
            return tide_err_set(err, TIDE_E_USAGE, "",
                                "--map: unknown field '%.*s' (ts, start, method, scheme, host, path, query, "
                                "version, status, resp_bytes, duration_ms, duration_s, client, "
                                "session, headers, body, user_agent, referer)",
                                (int)(eq - p > 30 ? 30 : eq - p), p);
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

/* Walks a dotted path; a key holding dots itself is tried first. */
static cJSON *walk(cJSON *o, const char *path)
{
    char part[128];
    const char *p = path;
    cJSON *direct = cJSON_GetObjectItemCaseSensitive(o, path);
    if (direct)
        return direct;
    while (o && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= sizeof(part))
            return NULL;
        memcpy(part, p, n);
        part[n] = 0;
        if (cJSON_IsArray(o) && isdigit((unsigned char)part[0]))
            o = cJSON_GetArrayItem(o, atoi(part));
        else
            o = cJSON_GetObjectItemCaseSensitive(o, part);
        p = dot ? dot + 1 : p + n;
    }
    return o;
}

/* A JSON scalar as text in the arena (numbers printed exactly as given). */
static struct tide_str text(cJSON *v, struct tide_arena *a)
{
    if (cJSON_IsString(v))
        return tide_arena_dup(a, tide_str_c(v->valuestring));
    if (cJSON_IsNumber(v)) {
        char b[64];
        double d = v->valuedouble;
        if (d == floor(d) && fabs(d) < 9e15)
            snprintf(b, sizeof(b), "%.0f", d);
        else
            snprintf(b, sizeof(b), "%.9f", d);
        return tide_arena_dup(a, tide_str_c(b));
    }
    if (cJSON_IsArray(v) && cJSON_GetArraySize(v) > 0)
        return text(cJSON_GetArrayItem(v, 0), a); /* headers as lists: the first value */
    return tide_str_make(NULL, 0);
}

/* An epoch time, its unit by its magnitude: ns, us, ms, else s (to the us);
 * a time past what int64 ns hold (the year 2262) is not a time. */
static int epoch_ts(double d, int64_t *out)
{
    if (d > 1e17 && d < 9.2e18)
        *out = (int64_t)d;
    else if (d > 1e14 && d < 9.2e15)
        *out = (int64_t)llround(d) * 1000;
    else if (d > 1e11 && d < 9.2e12)
        *out = (int64_t)llround(d) * 1000000;
    else if (d > -9.2e9 && d < 9.2e9)
        *out = (int64_t)llround(d * 1e6) * 1000;
    else
        return -1;
    return 0;
}

static int set_ts(cJSON *v, int64_t *out)
{
    if (cJSON_IsNumber(v))
        return epoch_ts(v->valuedouble, out);
    if (cJSON_IsString(v) && v->valuestring[0] && strspn(v->valuestring, "0123456789.") == strlen(v->valuestring))
        return epoch_ts(strtod(v->valuestring, NULL), out); /* a number written as a string (key=value logs) */
    if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        size_t n = strlen(s);
        if (tide_time_parse_rfc3339(s, n, out) == 0)
            return 0;
        if (tide__log_time_local(tide_str_make(s, n), out) == 0)
            return 0;
        if (tide__log_decimal_ns(tide_str_make(s, n), TIDE_NS_PER_SEC, out) == 0)
            return 0;
    }
    return TIDE_E_FORMAT;
}

static int add_headers(struct tide_logfmt *f, struct tide_record *r, cJSON *h, struct tide_arena *a)
{
    cJSON *e;
    if (cJSON_IsObject(h)) {
        cJSON_ArrayForEach(e, h)
        {
            if (cJSON_IsArray(e)) {
                cJSON *x;
                cJSON_ArrayForEach(x, e) if (tide__log_add_header(f, r, tide_arena_dup(a, tide_str_c(e->string)), text(x, a))) return TIDE_E_LIMIT;
            } else if (tide__log_add_header(f, r, tide_arena_dup(a, tide_str_c(e->string)), text(e, a))) {
                return TIDE_E_LIMIT;
            }
        }
    } else if (cJSON_IsArray(h)) {
        cJSON_ArrayForEach(e, h)
        {
            cJSON *n = cJSON_IsArray(e) ? cJSON_GetArrayItem(e, 0) : cJSON_GetObjectItem(e, "name");
            cJSON *v = cJSON_IsArray(e) ? cJSON_GetArrayItem(e, 1) : cJSON_GetObjectItem(e, "value");
            if (!cJSON_IsString(n))
                continue;
            if (tide__log_add_header(f, r, tide_arena_dup(a, tide_str_c(n->valuestring)), text(v, a)))
                return TIDE_E_LIMIT;
        }
    }
    return 0;
}

static bool has_header(const struct tide_record *r, const char *name)
{
    return tide_record_header(r, name).p != NULL;
}

/* Whether path is --map'ped to a field (then no other field guesses it). */
static bool mapped(const struct tide_logfmt *f, const char *path)
{
    int m;
    for (m = 0; m < f->n_jmap; m++)
        if (strcmp(f->jmap[m].path, path) == 0)
            return true;
    return false;
}

/* The record from a line's object (takes o). */
static int object_record(struct tide_logfmt *f, cJSON *o, struct tide_record *r, struct tide_arena *a,
                         const char **reason)
{
    int64_t end_ns = TIDE_TIME_UNKNOWN, start_ns = TIDE_TIME_UNKNOWN, dur = -1;
    size_t k;
    int rc = 1;
    for (k = 0; k < N_JFIELDS && rc > 0; k++) {
        const struct jfield *jf = &JFIELDS[k];
        cJSON *v = NULL;
        int m, d;
        for (m = 0; m < f->n_jmap; m++)
            if (f->jmap[m].field == (int)k)
                v = walk(o, f->jmap[m].path);
        for (d = 0; !v && jf->defaults[d]; d++) {
            /* a name --map gives to a field is that field's, not guessed for another */
            if (!mapped(f, jf->defaults[d]))
                v = walk(o, jf->defaults[d]);
        }
        if (!v || cJSON_IsNull(v))
            continue;
        switch (jf->kind) {
        case J_TS:
        case J_START:
            if (set_ts(v, jf->kind == J_START ? &start_ns : &end_ns)) {
                *reason = "time field is not a time";
                rc = TIDE_E_FORMAT;
            }
            break;
        case J_URI:
            tide__log_split_uri(text(v, a), r);
            break;
        case J_HEADERS:
            if (add_headers(f, r, v, a)) {
                *reason = "too many header fields";
                rc = TIDE_E_FORMAT;
            }
            break;
        case J_BODY: {
            char *s = cJSON_IsString(v) ? NULL : cJSON_PrintUnformatted(v);
            r->body = tide_arena_dup(a, tide_str_c(s ? s : v->valuestring));
            r->flags |= TIDE_REC_HAS_BODY;
            free(s);
            break;
        }
        case J_SESSION:
            r->session = text(v, a);
            break;
        case J_UA:
            if (!has_header(r, "User-Agent"))
                tide__log_add_header(f, r, tide_str_c("User-Agent"), text(v, a));
            break;
        case J_REFERER:
            if (!has_header(r, "Referer"))
                tide__log_add_header(f, r, tide_str_c("Referer"), text(v, a));
            break;
        case F_IGNORE + 1000: /* ns durations (Traefik) */
            if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 9e18)
                dur = (int64_t)v->valuedouble;
            break;
        case F_DUR_S:
        case F_DUR_MS:
        case F_DUR_US:
            /* a duration with its unit ("0.058927s", Go's "1.2ms"): by the unit; else as below */
            if (cJSON_IsString(v) && v->valuestring[0] &&
                isalpha((unsigned char)v->valuestring[strlen(v->valuestring) - 1])) {
                if (tide_duration_parse(v->valuestring, &dur) || dur < 0) {
                    *reason = "duration is not a duration";
                    rc = TIDE_E_FORMAT;
                }
                break;
            }
            /* fall through */
        default:
            rc = tide__log_set_field(f, r, (enum tide__ftype)jf->kind, "", text(v, a), a, &end_ns,
                                     &start_ns, &dur, reason);
        }
    }
    cJSON_Delete(o);
    if (rc <= 0)
        return rc;
    if (end_ns == TIDE_TIME_UNKNOWN && start_ns == TIDE_TIME_UNKNOWN && tide__wrap_time(f, &end_ns) != 0) {
        *reason = "line has no time field";
        return TIDE_E_FORMAT;
    }
    if (r->path.len == 0 && r->method.len == 0 && r->status < 0) {
        /* an application log's other lines ("server listening"): no request */
        *reason = TIDE_LOG_EVENT_REASON;
        return 0;
    }
    if (r->method.len == 0)
        r->method = tide_str_make("GET", 3); /* many app logs omit it for page views */
    if (r->path.len == 0) {
        *reason = "line has no path field";
        return TIDE_E_FORMAT;
    }
    if (dur < 0 && start_ns != TIDE_TIME_UNKNOWN && end_ns != TIDE_TIME_UNKNOWN && end_ns >= start_ns)
        dur = end_ns - start_ns; /* a start and an end (Cloudflare's): the duration between them */
    r->duration_ns = dur;
    r->ts_ns = start_ns != TIDE_TIME_UNKNOWN ? start_ns : end_ns - (dur > 0 ? dur : 0);
    return 1;
}

int tide__json_parse(struct tide_logfmt *f, const char *line, size_t len, struct tide_record *r,
                     struct tide_arena *a, const char **reason)
{
    cJSON *o = cJSON_ParseWithLength(line, len);
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        *reason = line[0] == '#' ? "comment line" : "line is not a JSON object";
        return line[0] == '#' ? 0 : TIDE_E_FORMAT;
    }
    return object_record(f, o, r, a, reason);
}

int tide__kv_parse(struct tide_logfmt *f, const char *line, size_t len, struct tide_record *r,
                   struct tide_arena *a, const char **reason)
{
    /* key=value key="quoted \"value\"" ...: an object of strings */
    cJSON *o;
    size_t i = 0, pairs = 0;
    char key[128];
    struct tide_buf val;
    if (line[0] == '#') {
        *reason = "comment line";
        return 0;
    }
    if (f->heroku && !(len > 3 && memcmp(line, "at=", 3) == 0)) {
        *reason = "not a Heroku router line (at=...)";
        return TIDE_E_FORMAT;
    }
    if (!(o = cJSON_CreateObject()))
        return TIDE_E_NOMEM;
    tide_buf_init(&val, 0);
    while (i < len) {
        size_t k0, k1;
        while (i < len && (line[i] == ' ' || line[i] == '\t'))
            i++;
        k0 = i;
        while (i < len && line[i] != '=' && line[i] != ' ' && line[i] != '\t')
            i++;
        k1 = i;
        tide_buf_reset(&val);
        if (i < len && line[i] == '=') {
            i++;
            if (i < len && line[i] == '"') {
                for (i++; i < len && line[i] != '"'; i++) {
                    char c = line[i];
                    if (c == '\\' && i + 1 < len) {
                        c = line[++i];
                        c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
                    }
                    if (tide_buf_append(&val, &c, 1))
                        goto nomem;
                }
                if (i >= len) {
                    cJSON_Delete(o);
                    tide_buf_free(&val);
                    *reason = "unterminated quoted value";
                    return TIDE_E_FORMAT;
                }
                i++;
            } else {
                size_t v0 = i;
                while (i < len && line[i] != ' ' && line[i] != '\t')
                    i++;
                if (tide_buf_append(&val, line + v0, i - v0))
                    goto nomem;
            }
        } else if (k1 == k0) {
            break;
        }
        if (k1 > k0 && k1 - k0 < sizeof(key)) { /* a bare word: a key without a value, skipped */
            memcpy(key, line + k0, k1 - k0);
            key[k1 - k0] = 0;
            if (k1 < len && line[k1] == '=') {
                if (tide_buf_append(&val, "", 1) || !cJSON_AddStringToObject(o, key, val.p))
                    goto nomem;
                pairs++;
            }
        }
    }
    tide_buf_free(&val);
    if (!pairs) {
        cJSON_Delete(o);
        *reason = "line has no key=value pairs";
        return TIDE_E_FORMAT;
    }
    return object_record(f, o, r, a, reason);
nomem:
    cJSON_Delete(o);
    tide_buf_free(&val);
    return TIDE_E_NOMEM;
}
