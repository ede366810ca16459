/*
 * wrap.c - access-log lines inside another log's lines: "WRAPPER+FORMAT".
 *
 *   docker  Docker's json-file driver: {"log":"<line>\n","stream":"stdout",
 *           "time":"..."} (what `docker logs` and many shippers keep);
 *   cri     the container runtime's files under /var/log/containers on
 *           Kubernetes: "<time> stdout F <line>" (and what `kubectl logs
 *           --timestamps` prints: "<time> <line>");
 *   syslog  a syslog header before the line (nginx's access_log syslog:,
 *           rsyslog files): "Mmm dd hh:mm:ss host tag: ", an RFC 3339 time
 *           in its place, or RFC 5424's "<pri>1 time host app pid msgid sd ";
 *   journal systemd's journal as `journalctl -o json` exports it: one JSON
 *           object per entry, the line in MESSAGE (a string, or an array of
 *           byte values when it is not UTF-8), __REALTIME_TIMESTAMP (us),
 *           SYSLOG_IDENTIFIER (or _COMM) the program.
 *
 * The official nginx image sends the access log to stdout and the error log
 * to stderr: stderr lines are counted as lines without a request, never
 * parsed. Container runtimes split lines longer than 16 KiB into pieces
 * (cri: tag P; docker: a piece without its newline): the pieces are joined
 * back before the line is read, each piece but the last counted apart.
 */
#define _GNU_SOURCE
#include "capture_int.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <string.h>
#include <time.h>

static const struct {
    const char *name;
    int kind;
} WRAPPERS[] = {{"docker", TIDE__WRAP_DOCKER},
                {"cri", TIDE__WRAP_CRI},
                {"syslog", TIDE__WRAP_SYSLOG},
                {"journal", TIDE__WRAP_JOURNAL}};

int tide__wrap_kind(const char *spec, const char **inner)
{
    size_t k;
    for (k = 0; k < sizeof(WRAPPERS) / sizeof(WRAPPERS[0]); k++) {
        size_t n = strlen(WRAPPERS[k].name);
        if (strncmp(spec, WRAPPERS[k].name, n) == 0 && spec[n] == '+') {
            *inner = spec + n + 1;
            return WRAPPERS[k].kind;
        }
    }
    *inner = spec;
    return TIDE__WRAP_NONE;
}

const char *tide__wrap_name(int kind)
{
    size_t k;
    for (k = 0; k < sizeof(WRAPPERS) / sizeof(WRAPPERS[0]); k++)
        if (WRAPPERS[k].kind == kind)
            return WRAPPERS[k].name;
    return "";
}

static size_t skip_spaces(const char *p, size_t i, size_t n)
{
    while (i < n && p[i] == ' ')
        i++;
    return i;
}

static size_t skip_token(const char *p, size_t i, size_t n)
{
    while (i < n && p[i] != ' ')
        i++;
    return i;
}

/* A token's text without a trailing ':' and "[pid]": a syslog tag. A
 * bracket that holds no number stays ("heroku[router]": Heroku's process
 * names are the programs). */
static struct tide_str tag_of(const char *p, size_t i, size_t t)
{
    const char *b, *d;
    if (t > i && p[t - 1] == ':')
        t--;
    b = memchr(p + i, '[', t - i);
    if (!b)
        return tide_str_make(p + i, t - i);
    for (d = b + 1; d < p + t && isdigit((unsigned char)*d);)
        d++;
    if (d > b + 1 && d < p + t && *d == ']')
        return tide_str_make(p + i, (size_t)(b - (p + i))); /* a pid */
    return tide_str_make(p + i, t - i);
}

/* syslogd's note that it left out repeats of the line before ("last message
 * repeated 3 times", rsyslog's "--- last message repeated 3 times ---"). */
static bool repeat_note(const char *p, size_t n)
{
    static const char NOTE[] = "last message repeated ";
    return memmem(p, n, NOTE, sizeof(NOTE) - 1) != NULL;
}

/* Reads a syslog line's header: 1 and the message (time and tag into f), 0
 * for syslogd's own note of repeats left out, -1 without a syslog header. */
static int syslog_msg(struct tide_logfmt *f, const char *p, size_t n, struct tide_str *msg)
{
    size_t i = 0, t;
    int k;
    f->wrap_tag = tide_str_make(p, 0);
    if (n && p[0] == '<') { /* <pri> */
        for (i = 1; i < n && i < 5 && isdigit((unsigned char)p[i]); i++)
            ;
        if (i == 1 || i >= n || p[i] != '>')
            return -1;
        i++;
        if (i + 1 < n && p[i] == '1' && p[i + 1] == ' ') {
            /* RFC 5424: version time host app procid msgid structured-data msg */
            i += 2;
            for (k = 0; k < 5; k++) {
                t = skip_token(p, i, n);
                if (t >= n)
                    return -1;
                if (k == 0 && !(t - i == 1 && p[i] == '-')) {
                    f->wrap_time = tide_str_make(p + i, t - i);
                    f->wrap_time_kind = TIDE__WT_RFC3339;
                } else if (k == 2 && !(t - i == 1 && p[i] == '-')) {
                    f->wrap_tag = tide_str_make(p + i, t - i);
                }
                i = skip_spaces(p, t, n);
            }
            if (i < n && p[i] == '-') {
                i++;
            } else {
                while (i < n && p[i] == '[') { /* [id k="v" ...] ..., "]" escaped as \] */
                    for (i++; i < n && p[i] != ']'; i++)
                        if (p[i] == '\\')
                            i++;
                    if (i >= n)
                        return -1;
                    i++;
                }
            }
            if (i < n && p[i] == ' ')
                i++;
            if (n - i >= 3 && memcmp(p + i, "\xEF\xBB\xBF", 3) == 0)
                i += 3; /* a BOM before a UTF-8 message */
            *msg = tide_str_make(p + i, n - i);
            return 1;
        }
    }
    /* RFC 3164: "Mmm dd hh:mm:ss" or an RFC 3339 time; host; "tag:" or "tag[pid]:" */
    if (n - i >= 16 && isupper((unsigned char)p[i]) && islower((unsigned char)p[i + 1]) &&
        p[i + 3] == ' ' && p[i + 6] == ' ' && p[i + 9] == ':' && p[i + 12] == ':' && p[i + 15] == ' ') {
        f->wrap_time = tide_str_make(p + i, 15);
        f->wrap_time_kind = TIDE__WT_SYSLOG;
        i += 16;
    } else if (n - i >= 20 && isdigit((unsigned char)p[i]) && p[i + 4] == '-' && p[i + 7] == '-' &&
               p[i + 10] == 'T') {
        t = skip_token(p, i, n);
        f->wrap_time = tide_str_make(p + i, t - i);
        f->wrap_time_kind = TIDE__WT_RFC3339;
        i = skip_spaces(p, t, n);
    } else {
        return -1;
    }
    /* the tag is the first of the next two tokens to end in ':' (the host may be missing) */
    for (k = 0; k < 2 && i < n; k++) {
        t = skip_token(p, i, n);
        if (t > i && p[t - 1] == ':') {
            f->wrap_tag = tag_of(p, i, t);
            i = t < n ? t + 1 : t;
            *msg = tide_str_make(p + i, n - i);
            return 1;
        }
        i = skip_spaces(p, t, n);
    }
    return repeat_note(p, n) ? 0 : -1;
}

/* Now, in ns since the epoch. */
static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * TIDE_NS_PER_SEC + ts.tv_nsec;
}

/* A syslog header's "Mmm dd hh:mm:ss": local time (--tz) without a year. The
 * year is --year's (stepping on where the months go back, December to
 * January), or else the one that puts the date no later than the file's last
 * write (a day's grace for clocks), or than now. */
static int syslog_date(struct tide_logfmt *f, struct tide_str s, int64_t *ns)
{
    static const char MON[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    const char *p = s.p, *m;
    unsigned mo, d, h, mi, sec;
    int64_t y, secs_of_day, t;
    if (s.len != 15 || (m = strstr(MON, (char[4]){p[0], p[1], p[2], 0})) == NULL || (m - MON) % 3)
        return TIDE_E_NOTFOUND;
    mo = (unsigned)(m - MON) / 3 + 1;
    if (!(p[4] == ' ' || isdigit((unsigned char)p[4])) || !isdigit((unsigned char)p[5]) ||
        !isdigit((unsigned char)p[7]) || !isdigit((unsigned char)p[8]) || !isdigit((unsigned char)p[10]) ||
        !isdigit((unsigned char)p[11]) || !isdigit((unsigned char)p[13]) || !isdigit((unsigned char)p[14]))
        return TIDE_E_NOTFOUND;
    d = (p[4] == ' ' ? 0 : (unsigned)(p[4] - '0') * 10) + (unsigned)(p[5] - '0');
    h = (unsigned)(p[7] - '0') * 10 + (unsigned)(p[8] - '0');
    mi = (unsigned)(p[10] - '0') * 10 + (unsigned)(p[11] - '0');
    sec = (unsigned)(p[13] - '0') * 10 + (unsigned)(p[14] - '0');
    if (d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return TIDE_E_NOTFOUND;
    secs_of_day = (int64_t)h * 3600 + mi * 60 + sec;
    if (f->year_cur) {
        if (f->year_last_month && mo + 6 < f->year_last_month)
            f->year_cur++;
        f->year_last_month = mo;
        y = f->year_cur;
    } else {
        int64_t ref = f->year_ref_ns ? f->year_ref_ns : now_ns(), local = ref + f->tz_ns;
        unsigned rm, rd;
        tide_civil_from_days((local >= 0 ? local : local - 86399999999999) / (86400 * TIDE_NS_PER_SEC), &y, &rm,
                             &rd);
        t = (tide_days_from_civil(y, mo, d) * 86400 + secs_of_day) * TIDE_NS_PER_SEC - f->tz_ns;
        if (t > ref + 86400 * TIDE_NS_PER_SEC)
            y--;
    }
    *ns = (tide_days_from_civil(y, mo, d) * 86400 + secs_of_day) * TIDE_NS_PER_SEC - f->tz_ns;
    return 0;
}

int tide__wrap_time(struct tide_logfmt *f, int64_t *ns)
{
    if (f->wrap_time_kind == TIDE__WT_EPOCH_US) {
        int64_t us;
        if (tide_parse_i64(f->wrap_time.p, f->wrap_time.len, &us) || us < 0 || us > INT64_MAX / 1000)
            return TIDE_E_NOTFOUND;
        *ns = us * 1000;
        return 0;
    }
    if (f->wrap_time_kind == TIDE__WT_RFC3339)
        return tide_time_parse_rfc3339(f->wrap_time.p, f->wrap_time.len, ns) ? TIDE_E_NOTFOUND : 0;
    if (f->wrap_time_kind == TIDE__WT_SYSLOG)
        return syslog_date(f, f->wrap_time, ns);
    return TIDE_E_NOTFOUND;
}

/* Keeps a piece of a split line; the next whole piece completes it. */
static int keep_piece(struct tide_logfmt *f, struct tide_str piece, const char **reason)
{
    if (f->piece.len + piece.len > TIDE__WRAP_MAX_JOINED) {
        tide_buf_reset(&f->piece);
        *reason = "line split by the container runtime is too long to join";
        return TIDE_E_FORMAT;
    }
    if (tide_buf_append(&f->piece, piece.p, piece.len))
        return TIDE_E_NOMEM;
    *reason = "piece of a long line (joined with the next)";
    return 0;
}

/* The whole line: earlier pieces kept, then this one. */
static struct tide_str joined(struct tide_logfmt *f, struct tide_str last, struct tide_arena *a)
{
    char *p;
    size_t n;
    if (!f->piece.len)
        return last;
    n = f->piece.len + last.len;
    p = tide_arena_alloc(a, n ? n : 1);
    if (!p)
        return last;
    memcpy(p, f->piece.p, f->piece.len);
    memcpy(p + f->piece.len, last.p, last.len);
    tide_buf_reset(&f->piece);
    return tide_str_make(p, n);
}

int tide__unwrap(struct tide_logfmt *f, const char *line, size_t len, struct tide_str *out,
                 struct tide_arena *a, const char **reason)
{
    struct tide_str msg;
    int rc;
    f->wrap_time_kind = TIDE__WT_NONE;
    switch (f->wrap) {
    case TIDE__WRAP_SYSLOG:
        rc = syslog_msg(f, line, len, &msg);
        if (rc < 0) {
            *reason = "no syslog header";
            return TIDE_E_FORMAT;
        }
        if (rc == 0) {
            *reason = "syslog's note of repeats it left out (they are not in the log)";
            return 0;
        }
        *out = msg;
        return 1;
    case TIDE__WRAP_JOURNAL: {
        cJSON *o = len && line[0] == '{' ? cJSON_ParseWithLength(line, len) : NULL, *m, *x;
        if (!o || !cJSON_IsObject(o)) {
            cJSON_Delete(o);
            *reason = "not a journal entry (journalctl -o json)";
            return TIDE_E_FORMAT;
        }
        f->wrap_tag = tide_str_make("", 0);
        if (cJSON_IsString(x = cJSON_GetObjectItemCaseSensitive(o, "SYSLOG_IDENTIFIER")) ||
            cJSON_IsString(x = cJSON_GetObjectItemCaseSensitive(o, "_COMM")))
            f->wrap_tag = tide_arena_dup(a, tide_str_c(x->valuestring));
        if (cJSON_IsString(x = cJSON_GetObjectItemCaseSensitive(o, "__REALTIME_TIMESTAMP"))) {
            f->wrap_time = tide_arena_dup(a, tide_str_c(x->valuestring));
            f->wrap_time_kind = TIDE__WT_EPOCH_US;
        }
        m = cJSON_GetObjectItemCaseSensitive(o, "MESSAGE");
        if (cJSON_IsArray(m) && cJSON_IsString(cJSON_GetArrayItem(m, 0)))
            m = cJSON_GetArrayItem(m, 0); /* a field given more than once: the first */
        if (cJSON_IsString(m)) {
            msg = tide_arena_dup(a, tide_str_c(m->valuestring));
        } else if (cJSON_IsArray(m)) { /* not UTF-8: the bytes as numbers */
            int n = cJSON_GetArraySize(m), k;
            char *b = tide_arena_alloc(a, n > 0 ? (size_t)n : 1);
            msg = tide_str_make(b, 0);
            for (k = 0; b && k < n; k++) {
                cJSON *e = cJSON_GetArrayItem(m, k);
                if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > 255)
                    break;
                b[msg.len++] = (char)(unsigned char)e->valueint;
            }
            if (!b || k < n) {
                cJSON_Delete(o);
                *reason = "journal entry: MESSAGE is neither text nor bytes";
                return TIDE_E_FORMAT;
            }
        } else {
            bool cut = cJSON_IsNull(m);
            cJSON_Delete(o);
            /* journalctl leaves out values over 4 KiB unless --all: a request lost */
            *reason = cut ? "journal entry: MESSAGE left out by journalctl (export with --all)"
                          : "journal entry without a MESSAGE";
            return cut ? TIDE_E_FORMAT : 0;
        }
        cJSON_Delete(o);
        while (msg.len && (msg.p[msg.len - 1] == '\n' || msg.p[msg.len - 1] == '\r'))
            msg.len--;
        *out = msg;
        return 1;
    }
    case TIDE__WRAP_CRI: {
        /* time stream tag message; or `kubectl logs --timestamps`: time message */
        size_t i = skip_token(line, 0, len), s0, s1, t0, t1;
        s0 = skip_spaces(line, i, len);
        s1 = skip_token(line, s0, len);
        t0 = skip_spaces(line, s1, len);
        t1 = skip_token(line, t0, len);
        if (i < 20 || !isdigit((unsigned char)line[0]) || line[4] != '-' || line[10] != 'T') {
            *reason = "not a container runtime (CRI) log line";
            return TIDE_E_FORMAT;
        }
        f->wrap_time = tide_str_make(line, i);
        f->wrap_time_kind = TIDE__WT_RFC3339;
        if (!((s1 - s0 == 6 && (memcmp(line + s0, "stdout", 6) == 0 || memcmp(line + s0, "stderr", 6) == 0)) &&
              t1 > t0)) {
            *out = tide_str_make(line + s0, len - s0); /* kubectl's: no stream, no tag */
            return 1;
        }
        msg = tide_str_make(line + (t1 < len ? t1 + 1 : t1), len - (t1 < len ? t1 + 1 : t1));
        if (s1 - s0 == 6 && memcmp(line + s0, "stderr", 6) == 0) {
            *reason = "no request (a stderr line: the error log)";
            return 0;
        }
        if (line[t0] == 'P')
            return keep_piece(f, msg, reason);
        *out = joined(f, msg, a);
        return 1;
    }
    case TIDE__WRAP_DOCKER: {
        /* {"log":"...","stream":"stdout","time":"..."}: the log string, unescaped */
        const char *k = len && line[0] == '{' ? memmem(line, len, "\"log\"", 5) : NULL, *q;
        size_t i;
        if (!k) {
            *reason = "not a Docker json-file log line";
            return TIDE_E_FORMAT;
        }
        i = (size_t)(k - line) + 5;
        while (i < len && (line[i] == ' ' || line[i] == ':'))
            i++;
        if (i >= len || line[i] != '"') {
            *reason = "Docker log line: \"log\" is not a string";
            return TIDE_E_FORMAT;
        }
        /* the closing quote: the first one after an even run of backslashes */
        for (q = line + i + 1; (q = memchr(q, '"', (size_t)(line + len - q))) != NULL; q++) {
            const char *b = q;
            while (b > line + i + 1 && b[-1] == '\\')
                b--;
            if ((q - b) % 2 == 0)
                break;
        }
        if (!q) {
            *reason = "Docker log line: unterminated \"log\" string";
            return TIDE_E_FORMAT;
        }
        msg = tide__log_unescape(tide_str_make(line + i + 1, (size_t)(q - line - i - 1)), a);
        if ((k = memmem(q, (size_t)(line + len - q), "\"time\"", 6)) != NULL) {
            const char *e;
            for (i = (size_t)(k - line) + 6; i < len && (line[i] == ' ' || line[i] == ':');)
                i++;
            if (i < len && line[i] == '"' && (e = memchr(line + i + 1, '"', len - i - 1)) != NULL) {
                f->wrap_time = tide_str_make(line + i + 1, (size_t)(e - line - i - 1));
                f->wrap_time_kind = TIDE__WT_RFC3339;
            }
        }
        if ((k = memmem(q, (size_t)(line + len - q), "\"stream\"", 8)) != NULL) {
            for (i = (size_t)(k - line) + 8; i < len && (line[i] == ' ' || line[i] == ':');)
                i++;
            if (len - i >= 8 && memcmp(line + i, "\"stderr\"", 8) == 0) {
                *reason = "no request (a stderr line: the error log)";
                return 0;
            }
        }
        if (!msg.len || msg.p[msg.len - 1] != '\n')
            return keep_piece(f, msg, reason); /* split at 16 KiB: no newline yet */
        msg.len--;
        if (msg.len && msg.p[msg.len - 1] == '\r')
            msg.len--;
        *out = joined(f, msg, a);
        return 1;
    }
    }
    *out = tide_str_make(line, len);
    return 1;
}
