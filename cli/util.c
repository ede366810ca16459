/*
 * util.c - output files that never look complete when they are not, input
 * opening, time-window arguments and error printing for every command.
 */
#define _GNU_SOURCE /* mkostemp */
#include "cli_int.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void cli_error(const struct tide_err *err)
{
    char buf[1024];
    fprintf(stderr, "tide: %s\n", tide_err_str(err, buf, sizeof(buf)));
}

void cli_errorf(const char *fmt, ...)
{
    va_list ap;
    fputs("tide: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void cli_warnf(const char *fmt, ...)
{
    va_list ap;
    fputs("tide: warning: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* The inputs of this run, by path: an output that is one of them would be
 * truncated before it is read (tide anonymize day.tide -o day.tide lost the
 * trace). */
static char *g_inputs[1024];
static int g_n_inputs;

void cli_note_input(const char *path)
{
    if (strcmp(path, "-") == 0 || g_n_inputs == (int)(sizeof(g_inputs) / sizeof(g_inputs[0])))
        return;
    if ((g_inputs[g_n_inputs] = strdup(path)) != NULL)
        g_n_inputs++;
}

const char *cli_same_as_input(const char *path)
{
    struct stat out, in;
    int i;
    if (stat(path, &out) != 0 || !S_ISREG(out.st_mode))
        return NULL;
    for (i = 0; i < g_n_inputs; i++)
        if (stat(g_inputs[i], &in) == 0 && in.st_dev == out.st_dev && in.st_ino == out.st_ino)
            return g_inputs[i];
    return NULL;
}

bool cli_out_in_place;

int cli_out_open(struct cli_out *o, const char *path, bool raw, struct tide_err *err)
{
    const char *same;
    mode_t mode = raw ? 0600 : 0644; /* raw traces hold personal data: readable by the owner only */
    memset(o, 0, sizeof(*o));
    if (!path)
        return tide_err_set(err, TIDE_E_USAGE, "", "an output is required (-o FILE, or -o - for stdout)");
    snprintf(o->path, sizeof(o->path), "%s", path);
    if (strcmp(path, "-") != 0 && (same = cli_same_as_input(path)) != NULL)
        return tide_err_set(err, TIDE_E_USAGE, path, "is also an input (%s): writing it would destroy what is to be "
                                                     "read; choose another -o", same);
    if (strcmp(path, "-") == 0) {
        if (isatty(1))
            return tide_err_set(err, TIDE_E_USAGE, "", "refusing to write a binary trace to a terminal");
        o->fd = 1;
        return 0;
    }
    {
        /* a regular file (or none yet) is written beside it and renamed over
         * it at the end: a run that fails leaves an existing output as it was */
        struct stat lst;
        bool exists = lstat(path, &lst) == 0;
        int fd = -1;
        if (!cli_out_in_place && (!exists || S_ISREG(lst.st_mode))) {
            snprintf(o->tmp, sizeof(o->tmp), "%s.part-XXXXXX", path);
            fd = mkostemp(o->tmp, O_CLOEXEC);
            if (fd < 0 && !(exists && errno == EACCES)) /* else: a file we may write, in a directory we may not */
                return tide_err_set(err, TIDE_E_IO, path, "cannot create: %s", strerror(errno));
        }
        if (fd >= 0) {
            mode_t um = umask(0);
            umask(um);
            if (fchmod(fd, mode & ~um) != 0) { /* as open() would make it */
                int e = errno;
                close(fd);
                unlink(o->tmp);
                return tide_err_set(err, TIDE_E_IO, path, "cannot create: %s", strerror(e));
            }
            o->fd = fd;
            o->via_tmp = o->is_file = true;
            return 0;
        }
    }
    o->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (o->fd < 0)
        return tide_err_set(err, TIDE_E_IO, path, "cannot create: %s", strerror(errno));
    {
        /* only a regular file is removed when the run fails: -o /dev/full or a
         * FIFO is written to, never unlinked (as root that deleted the node) */
        struct stat st;
        o->is_file = fstat(o->fd, &st) == 0 && S_ISREG(st.st_mode);
    }
    return 0;
}

int cli_out_close(struct cli_out *o, struct tide_err *err)
{
    int rc = 0;
    if (o->fd > 1) {
        if (o->is_file && fsync(o->fd) != 0 && errno != EINVAL)
            rc = tide_err_set(err, TIDE_E_IO, o->path, "fsync failed: %s", strerror(errno));
        if (close(o->fd) != 0 && !rc)
            rc = tide_err_set(err, TIDE_E_IO, o->path, "close failed: %s", strerror(errno));
        if (!rc && o->via_tmp && rename(o->tmp, o->path) != 0)
            rc = tide_err_set(err, TIDE_E_IO, o->path, "cannot put the output in place: %s", strerror(errno));
        if (rc && o->is_file)
            unlink(o->via_tmp ? o->tmp : o->path);
    }
    o->fd = -1;
    return rc;
}

void cli_out_abort(struct cli_out *o)
{
    if (o->fd > 1)
        close(o->fd);
    if (o->is_file && o->fd >= 0)
        unlink(o->via_tmp ? o->tmp : o->path);
    o->fd = -1;
}

int cli_in_open(const char *path, struct tide_err *err)
{
    int fd;
    if (strcmp(path, "-") == 0)
        return 0;
    cli_note_input(path);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        tide_err_set(err, errno == ENOENT ? TIDE_E_NOTFOUND : TIDE_E_IO, path, "cannot open: %s",
                     strerror(errno));
    return fd;
}

int cli_parse_when(const char *s, int64_t *ns, bool *is_offset)
{
    if (s[0] == '+') {
        *is_offset = true;
        return tide_duration_parse(s + 1, ns);
    }
    *is_offset = false;
    return tide_time_parse_rfc3339(s, strlen(s), ns);
}

int cli_stdout_write(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(1, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EPIPE)
                return 1; /* the reader went away (| head): not a failure */
            cli_errorf("writing standard output failed: %s", strerror(errno));
            return TIDE_E_IO;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

int cli_reader_end(struct tide_trace_reader *r, int rc, const struct tide_err *err)
{
    const struct tide_trace_stats *st = tide_trace_reader_stats(r);
    if (rc == TIDE_E_TRUNCATED) {
        cli_error(err);
        return EXIT_INCOMPLETE;
    }
    if (rc == TIDE_E_CORRUPT) {
        cli_error(err);
        cli_errorf("stopped at the corrupt block; --skip-corrupt reads past it");
        return EXIT_INCOMPLETE;
    }
    if (rc == TIDE_E_VERSION || rc == TIDE_E_FORMAT) {
        cli_error(err);
        return EXIT_USAGE;
    }
    if (rc < 0) {
        cli_error(err);
        return EXIT_RUNTIME;
    }
    if (st->blocks_corrupt) {
        cli_errorf("%llu corrupt block(s) skipped (%llu records by the index); the last: %s: %s",
                   (unsigned long long)st->blocks_corrupt,
                   (unsigned long long)st->records_in_corrupt, err->where, err->msg);
        return EXIT_INCOMPLETE;
    }
    return EXIT_OK;
}

char *cli_meta_json(bool raw, const char *kind, const char *const *sources, int n_sources)
{
    return cli_meta_json_kinds(raw, kind, NULL, sources, n_sources);
}

char *cli_meta_json_kinds(bool raw, const char *kind, const char *const *kinds, const char *const *sources,
                          int n_sources)
{
    cJSON *o = cJSON_CreateObject(), *arr;
    char tbuf[31], *s;
    struct timespec now;
    int i;
    if (!o)
        return NULL;
    clock_gettime(CLOCK_REALTIME, &now);
    tide_time_format_rfc3339((int64_t)now.tv_sec * TIDE_NS_PER_SEC + now.tv_nsec, tbuf);
    cJSON_AddStringToObject(o, "tool", "tide " TIDE_VERSION);
    cJSON_AddNumberToObject(o, "format_version", TIDE_FORMAT_VERSION_MAJOR);
    cJSON_AddStringToObject(o, "created", tbuf);
    cJSON_AddBoolToObject(o, "raw", raw);
    arr = cJSON_AddArrayToObject(o, "sources");
    for (i = 0; i < n_sources; i++) {
        cJSON *src = cJSON_CreateObject();
        cJSON_AddNumberToObject(src, "id", i);
        cJSON_AddStringToObject(src, "name", sources[i]);
        cJSON_AddStringToObject(src, "kind", kinds ? kinds[i] : kind);
        cJSON_AddItemToArray(arr, src);
    }
    s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

int cli_parse_range(const char *s, int64_t lo, int64_t hi, const char *what, int64_t *out)
{
    int64_t v;
    if (tide_parse_i64(s, strlen(s), &v) || v < lo || v > hi) {
        cli_errorf("%s", what);
        return EXIT_USAGE;
    }
    *out = v;
    return 0;
}

int cli_parse_level(const char *s, int *out)
{
    int64_t v;
    if (cli_parse_range(s, 1, 22, "--level: a zstd level from 1 to 22", &v))
        return EXIT_USAGE;
    *out = (int)v;
    return 0;
}
