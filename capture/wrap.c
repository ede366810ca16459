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
 *           in its place, or RFC 5424's "<pri>1 time host app pid msgid sd ".
 *
 * The official nginx image sends the access log to stdout and the error log
 * to stderr: stderr lines are counted as lines without a request, never
 * parsed. Container runtimes split lines longer than 16 KiB into pieces
 * (cri: tag P; docker: a piece without its newline): the pieces are joined
 * back before the line is read, each piece but the last counted apart.
 */
#define _GNU_SOURCE
#include "capture_int.h"

#include <ctype.h>
#include <string.h>

static const struct {
    const char *name;
    int kind;
} WRAPPERS[] = {{"docker", TIDE__WRAP_DOCKER}, {"cri", TIDE__WRAP_CRI}, {"syslog", TIDE__WRAP_SYSLOG}};

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

/* The message of a syslog line; false if it has no syslog header. */
static bool syslog_msg(const char *p, size_t n, struct tide_str *msg)
{
    size_t i = 0, t;
    int k;
    if (n && p[0] == '<') { /* <pri> */
        for (i = 1; i < n && i < 5 && isdigit((unsigned char)p[i]); i++)
            ;
        if (i == 1 || i >= n || p[i] != '>')
            return false;
        i++;
        if (i + 1 < n && p[i] == '1' && p[i + 1] == ' ') {
            /* RFC 5424: version time host app procid msgid structured-data msg */
            i += 2;
            for (k = 0; k < 5; k++) {
                i = skip_token(p, i, n);
                if (i >= n)
                    return false;
                i = skip_spaces(p, i, n);
            }
            if (i < n && p[i] == '-') {
                i++;
            } else {
                while (i < n && p[i] == '[') { /* [id k="v" ...] ..., "]" escaped as \] */
                    for (i++; i < n && p[i] != ']'; i++)
                        if (p[i] == '\\')
                            i++;
                    if (i >= n)
                        return false;
                    i++;
                }
            }
            if (i < n && p[i] == ' ')
                i++;
            if (n - i >= 3 && memcmp(p + i, "\xEF\xBB\xBF", 3) == 0)
                i += 3; /* a BOM before a UTF-8 message */
            *msg = tide_str_make(p + i, n - i);
            return true;
        }
    }
    /* RFC 3164: "Mmm dd hh:mm:ss" or an RFC 3339 time; host; "tag:" or "tag[pid]:" */
    if (n - i >= 16 && isupper((unsigned char)p[i]) && islower((unsigned char)p[i + 1]) &&
        p[i + 3] == ' ' && p[i + 6] == ' ' && p[i + 9] == ':' && p[i + 12] == ':' && p[i + 15] == ' ') {
        i += 16;
    } else if (n - i >= 20 && isdigit((unsigned char)p[i]) && p[i + 4] == '-' && p[i + 7] == '-' &&
               p[i + 10] == 'T') {
        i = skip_spaces(p, skip_token(p, i, n), n);
    } else {
        return false;
    }
    /* the tag is the first of the next two tokens to end in ':' (the host may be missing) */
    for (k = 0; k < 2 && i < n; k++) {
        t = skip_token(p, i, n);
        if (t > i && p[t - 1] == ':') {
            i = t < n ? t + 1 : t;
            *msg = tide_str_make(p + i, n - i);
            return true;
        }
        i = skip_spaces(p, t, n);
    }
    return false;
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
    switch (f->wrap) {
    case TIDE__WRAP_SYSLOG:
        if (!syslog_msg(line, len, &msg)) {
            *reason = "no syslog header";
            return TIDE_E_FORMAT;
        }
        *out = msg;
        return 1;
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
