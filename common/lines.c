/*
 * lines.c - splits a byte stream into lines with a bounded buffer.
 *
 * Access logs and JSON lines are read through this at hundreds of MB/s, so
 * lines are handed out as views into one growing buffer (no copy, no
 * allocation per line). A line over the cap is skipped whole and reported,
 * never truncated into a different line.
 */
#include "common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK ((size_t)256 * 1024)

void tide_lines_init(struct tide_lines *l, tide_read_fn read, void *userp, size_t max_line)
{
    memset(l, 0, sizeof(*l));
    l->read = read;
    l->userp = userp;
    l->max_line = max_line ? max_line : ((size_t)64 << 20);
}

void tide_lines_free(struct tide_lines *l)
{
    if (!l)
        return;
    free(l->buf);
    l->buf = NULL;
}

long tide_read_fd(void *userp, void *buf, size_t n, struct tide_err *err)
{
    int fd = *(int *)userp;
    for (;;) {
        ssize_t k = read(fd, buf, n);
        if (k >= 0)
            return (long)k;
        if (errno != EINTR) {
            tide_err_set(err, TIDE_E_IO, "", "read failed: %s", strerror(errno));
            return -1;
        }
    }
}

/* Makes room for at least READ_CHUNK bytes after end. */
static int room(struct tide_lines *l)
{
    if (l->start > 0 && (l->start == l->end || l->cap - l->end < READ_CHUNK)) {
        memmove(l->buf, l->buf + l->start, l->end - l->start);
        l->end -= l->start;
        l->start = 0;
    }
    if (l->cap - l->end < READ_CHUNK) {
        size_t nc = l->cap ? l->cap * 2 : READ_CHUNK * 2;
        char *nb;
        while (nc - l->end < READ_CHUNK)
            nc *= 2;
        nb = realloc(l->buf, nc);
        if (!nb)
            return TIDE_E_NOMEM;
        l->buf = nb;
        l->cap = nc;
    }
    return 0;
}

int tide_lines_next(struct tide_lines *l, struct tide_str *line, struct tide_err *err)
{
    size_t scan = l->start;
    for (;;) {
        char *nl = scan < l->end ? memchr(l->buf + scan, '\n', l->end - scan) : NULL;
        if (nl) {
            size_t len = (size_t)(nl - (l->buf + l->start));
            const char *p = l->buf + l->start;
            l->start += len + 1;
            l->lineno++;
            if (l->skipping) {
                l->skipping = false;
                return tide_err_set(err, TIDE_E_LIMIT, "", "line %llu: longer than %zu bytes",
                                    (unsigned long long)l->lineno, l->max_line);
            }
            if (len > 0 && p[len - 1] == '\r')
                len--;
            *line = tide_str_make(p, len);
            return 1;
        }
        scan = l->end;
        if (l->end - l->start > l->max_line) {
            /* drop what we have of the over-long line, remember to skip the rest */
            l->skipping = true;
            l->start = l->end = scan = 0;
        }
        if (l->eof) {
            if (l->start < l->end || l->skipping) {
                size_t len = l->end - l->start;
                const char *p = l->buf + l->start;
                l->start = l->end;
                l->lineno++;
                if (l->skipping) {
                    l->skipping = false;
                    return tide_err_set(err, TIDE_E_LIMIT, "", "line %llu: longer than %zu bytes",
                                        (unsigned long long)l->lineno, l->max_line);
                }
                if (len > 0 && p[len - 1] == '\r')
                    len--;
                *line = tide_str_make(p, len);
                return 1;
            }
            return 0;
        }
        {
            long k;
            size_t off = scan - l->start;
            if (room(l))
                return tide_err_set(err, TIDE_E_NOMEM, "", "out of memory");
            scan = l->start + off;
            k = l->read(l->userp, l->buf + l->end, l->cap - l->end, err);
            if (k < 0)
                return err ? err->code : TIDE_E_IO;
            if (k == 0)
                l->eof = true;
            l->end += (size_t)k;
        }
    }
}
