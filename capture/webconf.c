/*
 * webconf.c - the log formats a web server's configuration gives its access
 * logs, so `tide capture log --nginx-conf /etc/nginx/nginx.conf FILE...` (or
 * --apache-conf /etc/apache2/apache2.conf) needs no format copied by hand.
 *
 * nginx: words, '…' and "…" strings with backslash escapes, # comments, ';'
 * ending a directive, '{' '}' blocks. Kept wherever they are: `log_format
 * NAME [escape=…] STRING...;` (the strings joined) and `access_log PATH
 * [NAME] [params];` (NAME defaults to combined; `off` and syslog: are
 * skipped); `include` followed.
 *
 * Apache: a directive a line (a '\' at the end joins the next), names in any
 * case, "…" strings, # comment lines, <Section> lines skipped. Kept:
 * `LogFormat "FORMAT" [NICKNAME]`, `CustomLog PATH NICKNAME|"FORMAT"`
 * (piped logs skipped), `TransferLog PATH` (the last LogFormat without a
 * nickname, else the common format); `Include` and `IncludeOptional`
 * followed, relative to `ServerRoot` once it is set.
 *
 * Includes: globs, relative to the first file's directory (nginx's prefix),
 * at most 8 deep. A log file is matched to the access log with the same
 * path, or with the same name before a rotation suffix (access.log.1,
 * access.log.2.gz, access.log-20240501.gz), wherever it was copied.
 */
#define _GNU_SOURCE
#include "capture_int.h"

#include <errno.h>
#include <glob.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define MAX_WORDS 64
#define MAX_DEPTH 8
#define MAX_FILES 256

struct named {
    char *name, *value; /* log_format: name, format; access_log: path, format name */
};

struct tide_webconf {
    int kind; /* TIDE_WEBCONF_* */
    struct named *fmts, *logs; /* Apache: a log's value starting with '%' is a format of its own */
    size_t n_fmts, n_logs;
    int files;
    char dir[4096]; /* where relative includes are found */
    bool no_include; /* made without a directory: includes are not followed */
    int missing;           /* includes that were not there (a configuration copied off its server) */
    char first_missing[300]; /* "file:line" of the first */
};

static int add(struct named **v, size_t *n, const char *name, size_t nl, const char *value, size_t vl)
{
    struct named *nv = realloc(*v, (*n + 1) * sizeof(**v));
    if (!nv)
        return TIDE_E_NOMEM;
    *v = nv;
    nv[*n].name = strndup(name, nl);
    nv[*n].value = strndup(value, vl);
    if (!nv[*n].name || !nv[*n].value) {
        free(nv[*n].name);
        free(nv[*n].value);
        return TIDE_E_NOMEM;
    }
    (*n)++;
    return 0;
}

static int load_file(struct tide_webconf *c, const char *path, int depth, struct tide_err *err);

/* Reads the files pattern names (a glob; relative to c->dir); a name
 * without wildcards that is not there is an error if must. */
static int include(struct tide_webconf *c, const char *w, size_t wl, bool must, const char *file, int line,
                   int depth, struct tide_err *err)
{
    char pat[4096];
    glob_t g;
    size_t i;
    int rc = 0, pn = w[0] == '/' ? snprintf(pat, sizeof(pat), "%.*s", (int)wl, w)
                                 : snprintf(pat, sizeof(pat), "%s/%.*s", c->dir, (int)wl, w);
    if (pn < 0 || (size_t)pn >= sizeof(pat))
        return tide_err_set(err, TIDE_E_FORMAT, file, "line %d: include path too long", line);
    if (c->no_include)
        return 0;
    if (depth >= MAX_DEPTH)
        return tide_err_set(err, TIDE_E_FORMAT, file, "line %d: includes nested more than %d deep", line, MAX_DEPTH);
    if (glob(pat, 0, NULL, &g) == 0) {
        for (i = 0; i < g.gl_pathc && !rc; i++) {
            struct stat sb;
            if (stat(g.gl_pathv[i], &sb) == 0 && S_ISDIR(sb.st_mode)) {
                /* Apache's Include of a directory: the files in it */
                char sub[4096];
                glob_t g2;
                size_t j;
                if ((size_t)snprintf(sub, sizeof(sub), "%s/*", g.gl_pathv[i]) < sizeof(sub) &&
                    glob(sub, 0, NULL, &g2) == 0) {
                    for (j = 0; j < g2.gl_pathc && !rc; j++)
                        if (stat(g2.gl_pathv[j], &sb) == 0 && S_ISREG(sb.st_mode))
                            rc = load_file(c, g2.gl_pathv[j], depth + 1, err);
                    globfree(&g2);
                }
            } else {
                rc = load_file(c, g.gl_pathv[i], depth + 1, err);
            }
        }
        globfree(&g);
    } else if (must && !strpbrk(pat, "*?[")) {
        /* skipped, and remembered: a file no access log names then may be one of its */
        if (!c->missing++)
            snprintf(c->first_missing, sizeof(c->first_missing), "%.280s:%d", file, line);
    }
    return rc;
}

/* A directive's n words, kept one after another in w, each ended by a NUL
 * and starting at off[k], as views. */
static void word_views(const struct tide_buf *w, const size_t *off, int n, const char **word, size_t *len)
{
    int k;
    for (k = 0; k < n; k++) {
        word[k] = w->p + off[k];
        len[k] = (k + 1 < n ? off[k + 1] - 1 : w->len - 1) - off[k];
    }
}

/* One nginx directive's words (strings unquoted, escapes kept as nginx keeps
 * them: a log_format's \" stays for the format compiler). */
static int directive(struct tide_webconf *c, const char **word, const size_t *len, int n, const char *file,
                     int line, int depth, struct tide_err *err)
{
    int k, rc = 0;
    if (n >= 3 && len[0] == 10 && memcmp(word[0], "log_format", 10) == 0) {
        struct tide_buf fmt;
        tide_buf_init(&fmt, 0);
        for (k = 2; k < n; k++) {
            if (k == 2 && len[k] > 7 && memcmp(word[k], "escape=", 7) == 0)
                continue; /* tide reads \xHH and JSON escapes alike */
            if (tide_buf_append(&fmt, word[k], len[k])) {
                tide_buf_free(&fmt);
                return TIDE_E_NOMEM;
            }
        }
        rc = add(&c->fmts, &c->n_fmts, word[1], len[1], fmt.p ? fmt.p : "", fmt.len);
        tide_buf_free(&fmt);
    } else if (n >= 2 && len[0] == 10 && memcmp(word[0], "access_log", 10) == 0) {
        bool named = n >= 3 && !memchr(word[2], '=', len[2]); /* else a parameter: buffer=, if=, ... */
        if (!(len[1] == 3 && memcmp(word[1], "off", 3) == 0) && !(len[1] > 7 && memcmp(word[1], "syslog:", 7) == 0))
            rc = add(&c->logs, &c->n_logs, word[1], len[1], named ? word[2] : "combined", named ? len[2] : 8);
    } else if (n == 2 && len[0] == 7 && memcmp(word[0], "include", 7) == 0) {
        rc = include(c, word[1], len[1], true, file, line, depth, err);
    }
    return rc;
}

/* nginx's escapes: \" \' \\ stand for the character, \t \r \n for the
 * control; any other backslash stays (the format compiler reads \xHH). i is
 * at the backslash; left at the last character used. */
static int unescape(struct tide_buf *w, const char *buf, size_t *i)
{
    char c = buf[*i + 1];
    (*i)++;
    switch (c) {
    case '"': case '\'': case '\\': return tide_buf_append(w, &c, 1) ? TIDE_E_NOMEM : 0;
    case 't': return tide_buf_append(w, "\t", 1) ? TIDE_E_NOMEM : 0;
    case 'r': return tide_buf_append(w, "\r", 1) ? TIDE_E_NOMEM : 0;
    case 'n': return tide_buf_append(w, "\n", 1) ? TIDE_E_NOMEM : 0;
    default: return tide_buf_append(w, "\\", 1) || tide_buf_append(w, &c, 1) ? TIDE_E_NOMEM : 0;
    }
}

static int nginx_parse(struct tide_webconf *c, const char *buf, size_t len, const char *file, int depth,
                       struct tide_err *err)
{
    struct tide_buf w; /* the directive's words, each NUL-terminated */
    size_t off[MAX_WORDS], i = 0;
    int n = 0, line = 1, rc = 0;
    tide_buf_init(&w, 0);
    while (i < len && !rc) {
        char ch = buf[i];
        if (ch == '\n') {
            line++;
            i++;
        } else if (ch == ' ' || ch == '\t' || ch == '\r') {
            i++;
        } else if (ch == '#') {
            while (i < len && buf[i] != '\n')
                i++;
        } else if (ch == ';' || ch == '{' || ch == '}') {
            if (ch == ';' && n == 0) {
                rc = tide_err_set(err, TIDE_E_FORMAT, file, "line %d: ';' without a directive", line);
                break;
            }
            if (n) {
                const char *word[MAX_WORDS];
                size_t wl[MAX_WORDS];
                word_views(&w, off, n, word, wl);
                rc = directive(c, word, wl, n, file, line, depth, err);
            }
            n = 0;
            tide_buf_reset(&w);
            i++;
        } else {
            if (n == MAX_WORDS) {
                rc = tide_err_set(err, TIDE_E_FORMAT, file, "line %d: more than %d words in a directive", line,
                                  MAX_WORDS);
                break;
            }
            off[n++] = w.len;
            if (ch == '\'' || ch == '"') {
                char q = ch;
                int start = line;
                for (i++; i < len && buf[i] != q; i++) {
                    if (buf[i] == '\n')
                        line++;
                    if (buf[i] == '\\' && i + 1 < len)
                        rc |= unescape(&w, buf, &i);
                    else if (tide_buf_append(&w, buf + i, 1))
                        rc = TIDE_E_NOMEM;
                }
                if (i >= len) {
                    rc = tide_err_set(err, TIDE_E_FORMAT, file, "line %d: unterminated string", start);
                    break;
                }
                i++;
            } else {
                /* a word ends at a space, ';', '{' or '}' ('#' inside one is part of it) */
                for (; i < len && !strchr(" \t\r\n;{}", buf[i]); i++) {
                    if (buf[i] == '\\' && i + 1 < len)
                        rc |= unescape(&w, buf, &i);
                    else if (tide_buf_append(&w, buf + i, 1))
                        rc = TIDE_E_NOMEM;
                }
            }
            if (tide_buf_append(&w, "", 1))
                rc = TIDE_E_NOMEM;
        }
    }
    if (!rc && n)
        rc = tide_err_set(err, TIDE_E_FORMAT, file, "line %d: the last directive has no ';'", line);
    tide_buf_free(&w);
    return rc == TIDE_E_NOMEM ? tide_err_set(err, rc, file, "out of memory") : rc;
}

/* One Apache directive's words. */
static int apache_directive(struct tide_webconf *c, const char **word, const size_t *len, int n, const char *file,
                            int line, int depth, struct tide_err *err)
{
#define IS(k, s) (len[k] == sizeof(s) - 1 && strncasecmp(word[k], s, sizeof(s) - 1) == 0)
    if (n >= 2 && IS(0, "LogFormat"))
        return add(&c->fmts, &c->n_fmts, n >= 3 ? word[2] : "", n >= 3 ? len[2] : 0, word[1], len[1]);
    if (n >= 3 && IS(0, "CustomLog") && word[1][0] != '|')
        return add(&c->logs, &c->n_logs, word[1], len[1], word[2], len[2]);
    if (n >= 2 && IS(0, "TransferLog") && word[1][0] != '|')
        return add(&c->logs, &c->n_logs, word[1], len[1], "", 0);
    if (n == 2 && IS(0, "ServerRoot")) {
        snprintf(c->dir, sizeof(c->dir), "%.*s", (int)len[1], word[1]);
        return 0;
    }
    if (n >= 2 && (IS(0, "Include") || IS(0, "IncludeOptional"))) {
        int k, rc = 0;
        for (k = 1; k < n && !rc; k++)
            rc = include(c, word[k], len[k], IS(0, "Include"), file, line, depth, err);
        return rc;
    }
    return 0;
#undef IS
}

static int apache_parse(struct tide_webconf *c, const char *buf, size_t len, const char *file, int depth,
                        struct tide_err *err)
{
    struct tide_buf w;
    size_t off[MAX_WORDS], i = 0;
    int line = 1, rc = 0;
    tide_buf_init(&w, 0);
    while (i < len && !rc) {
        /* one directive: a line, with the lines a trailing '\' joins to it */
        int n = 0, start = line;
        bool comment;
        tide_buf_reset(&w);
        while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r'))
            i++;
        comment = i < len && (buf[i] == '#' || buf[i] == '<');
        while (i < len && buf[i] != '\n' && !rc) {
            if (buf[i] == '\\' && i + 1 < len &&
                (buf[i + 1] == '\n' || (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n'))) {
                i += buf[i + 1] == '\r' ? 3 : 2;
                line++;
                continue;
            }
            if (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r') {
                i++;
                continue;
            }
            if (comment) {
                i++;
                continue;
            }
            if (n == MAX_WORDS) {
                rc = tide_err_set(err, TIDE_E_FORMAT, file, "line %d: more than %d words in a directive", start,
                                  MAX_WORDS);
                break;
            }
            off[n++] = w.len;
            if (buf[i] == '"' || buf[i] == '\'') {
                char q = buf[i];
                for (i++; i < len && buf[i] != q && buf[i] != '\n'; i++) {
                    if (buf[i] == '\\' && i + 1 < len && buf[i + 1] == q)
                        i++; /* \" is the quote; other backslashes stay, for the format */
                    if (tide_buf_append(&w, buf + i, 1))
                        rc = TIDE_E_NOMEM;
                }
                if (i >= len || buf[i] != q) {
                    rc = tide_err_set(err, TIDE_E_FORMAT, file, "line %d: unterminated string", start);
                    break;
                }
                i++;
            } else {
                size_t s0 = i;
                while (i < len && buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n' && buf[i] != '\r')
                    i++;
                if (tide_buf_append(&w, buf + s0, i - s0))
                    rc = TIDE_E_NOMEM;
            }
            if (tide_buf_append(&w, "", 1))
                rc = TIDE_E_NOMEM;
        }
        if (!rc && n) {
            const char *word[MAX_WORDS];
            size_t wl[MAX_WORDS];
            word_views(&w, off, n, word, wl);
            rc = apache_directive(c, word, wl, n, file, start, depth, err);
        }
        if (i < len && buf[i] == '\n') {
            i++;
            line++;
        }
    }
    tide_buf_free(&w);
    return rc == TIDE_E_NOMEM ? tide_err_set(err, rc, file, "out of memory") : rc;
}

int tide_webconf_parse(struct tide_webconf *c, const char *buf, size_t len, const char *file, int depth,
                       struct tide_err *err)
{
    return c->kind == TIDE_WEBCONF_APACHE ? apache_parse(c, buf, len, file, depth, err)
                                          : nginx_parse(c, buf, len, file, depth, err);
}

static int load_file(struct tide_webconf *c, const char *path, int depth, struct tide_err *err)
{
    FILE *fp;
    struct tide_buf b;
    char chunk[65536];
    size_t k;
    int rc;
    if (++c->files > MAX_FILES)
        return tide_err_set(err, TIDE_E_FORMAT, path, "more than %d configuration files", MAX_FILES);
    fp = fopen(path, "rb");
    if (!fp)
        return tide_err_set(err, TIDE_E_NOTFOUND, path, "cannot open: %s", strerror(errno));
    tide_buf_init(&b, 0);
    while ((k = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        if (tide_buf_append(&b, chunk, k) || b.len > ((size_t)16 << 20)) {
            fclose(fp);
            tide_buf_free(&b);
            return tide_err_set(err, TIDE_E_LIMIT, path, "configuration file too large");
        }
    fclose(fp);
    rc = tide_webconf_parse(c, b.p ? b.p : "", b.len, path, depth, err);
    tide_buf_free(&b);
    return rc;
}

struct tide_webconf *tide_webconf_new(const char *dir, int kind)
{
    struct tide_webconf *c = calloc(1, sizeof(*c));
    if (c) {
        c->kind = kind;
        snprintf(c->dir, sizeof(c->dir), "%s", dir ? dir : ".");
        c->no_include = !dir;
    }
    return c;
}

int tide_webconf_load(struct tide_webconf **out, const char *path, int kind, struct tide_err *err)
{
    char *copy = strdup(path);
    struct tide_webconf *c = copy ? tide_webconf_new(dirname(copy), kind) : NULL;
    int rc;
    free(copy);
    *out = NULL;
    if (!c)
        return tide_err_set(err, TIDE_E_NOMEM, path, "out of memory");
    rc = load_file(c, path, 0, err);
    if (rc) {
        tide_webconf_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void tide_webconf_free(struct tide_webconf *c)
{
    size_t i;
    if (!c)
        return;
    for (i = 0; i < c->n_fmts; i++) {
        free(c->fmts[i].name);
        free(c->fmts[i].value);
    }
    for (i = 0; i < c->n_logs; i++) {
        free(c->logs[i].name);
        free(c->logs[i].value);
    }
    free(c->fmts);
    free(c->logs);
    free(c);
}

/* Whether log file `file` is access log `path` or one of its rotations. */
static bool same_log(const char *file, const char *path)
{
    const char *fb = strrchr(file, '/'), *pb = strrchr(path, '/');
    size_t n;
    if (strcmp(file, path) == 0)
        return true;
    fb = fb ? fb + 1 : file;
    pb = pb ? pb + 1 : path;
    n = strlen(pb);
    return n && strncmp(fb, pb, n) == 0 && (fb[n] == 0 || fb[n] == '.' || fb[n] == '-');
}

/* The spec for format `name` (nginx: a log_format; Apache: a nickname, or
 * a format of its own when it holds a '%'; "" for TransferLog's); 0, or
 * TIDE_E_NOTFOUND. */
static int spec_of(const struct tide_webconf *c, const char *name, char *out, size_t cap, bool *long_spec)
{
    const char *fmt = NULL;
    size_t i;
    int k;
    if (c->kind == TIDE_WEBCONF_APACHE && strchr(name, '%')) {
        fmt = name;
    } else {
        for (i = c->n_fmts; i-- > 0 && !fmt;)
            if (strcmp(c->fmts[i].name, name) == 0)
                fmt = c->fmts[i].value;
    }
    if (!fmt) {
        /* nginx's combined is built in; Apache's usual nicknames are tide's own */
        if (strcmp(name, "combined") == 0 || (c->kind == TIDE_WEBCONF_APACHE && strcmp(name, "common") == 0))
            k = snprintf(out, cap, "%s", name);
        else if (c->kind == TIDE_WEBCONF_APACHE && !name[0])
            k = snprintf(out, cap, "common"); /* TransferLog without a LogFormat: the common format */
        else
            return TIDE_E_NOTFOUND;
    } else {
        k = snprintf(out, cap, "%s:%s", c->kind == TIDE_WEBCONF_APACHE ? "apache" : "nginx", fmt);
    }
    *long_spec = k < 0 || (size_t)k >= cap;
    return 0;
}

/* The format name the access logs that are file share (file NULL: all the
 * access logs): 0 and *name (NULL: none), or -1 when they have two. */
static int shared_format_name(const struct tide_webconf *c, const char *file, const char **name)
{
    size_t i;
    *name = NULL;
    for (i = 0; i < c->n_logs; i++) {
        /* a variable in the name: no file can be told by it */
        if (file && (strchr(strrchr(c->logs[i].name, '/') ? strrchr(c->logs[i].name, '/') : c->logs[i].name, '$') ||
                     !same_log(file, c->logs[i].name)))
            continue;
        if (*name && strcmp(*name, c->logs[i].value) != 0)
            return -1;
        *name = c->logs[i].value;
    }
    return 0;
}

int tide_webconf_format_for(const struct tide_webconf *c, const char *file, char *out, size_t cap,
                            struct tide_err *err)
{
    const char *name, *what = c->kind == TIDE_WEBCONF_APACHE ? "Apache" : "nginx";
    bool too_long = false;
    if (shared_format_name(c, file, &name))
        return tide_err_set(err, TIDE_E_USAGE, file,
                            "%s configuration: the access logs of this file's name have two formats; give --format",
                            what);
    if (!name) {
        /* no access log by this name: one format for every access log will do */
        if (shared_format_name(c, NULL, &name))
            return tide_err_set(err, TIDE_E_USAGE, file,
                                "%s configuration: no access log is this file, and its access logs use "
                                "several formats; give --format",
                                what);
        if (!name || c->missing)
            return tide_err_set(err, TIDE_E_USAGE, file, "%s configuration: %s%s%s%s; give --format", what,
                                name ? "no access log is this file" : "no access log in it",
                                c->missing ? " (an included file was not found: " : "", c->first_missing,
                                c->missing ? ")" : "");
    }
    if (spec_of(c, name, out, cap, &too_long))
        return tide_err_set(err, TIDE_E_USAGE, file, "%s configuration: no %s '%.60s'", what,
                            c->kind == TIDE_WEBCONF_APACHE ? "LogFormat" : "log_format", name);
    if (too_long)
        return tide_err_set(err, TIDE_E_LIMIT, file, "%s configuration: log format '%.60s' too long", what, name);
    return 0;
}

const char *tide_webconf_missing(const struct tide_webconf *c, int *n)
{
    *n = c->missing;
    return c->missing ? c->first_missing : NULL;
}
