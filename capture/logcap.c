/*
 * logcap.c - reads access logs into records ordered by request start.
 * (The re-order window itself is reorder.c, shared with pcap capture.)
 *
 * Access logs are written when requests end, so their lines are ordered by
 * end time; tide wants start time (end minus request time). Records pass
 * through a min-heap that holds a bounded window (--reorder-window, default
 * 60 s) and leave it in start order; a record whose start is already behind
 * what was emitted is still kept, flagged late and counted. Several inputs
 * (rotated files, several servers) are read together, always advancing the
 * one that is furthest behind, so the merge stays a single pass. Records are
 * packed into pooled buffers that are reused, so the steady state allocates
 * nothing per line.
 */
#include "capture_int.h"

#include <fnmatch.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct src {
    const char *path;
    char *owned;  /* path, when a --follow pattern found it while running */
    bool matched; /* a --follow pattern's: ends once deleted, and is taken up again if made anew */
    bool refused; /* found by a pattern, given no format, or (retry_open) not opened */
    bool retry_open; /* could not be opened (no access, no descriptor left): tried again at each look */
    struct tide_logfmt *fmt;
    struct tide_input *in;
    struct tide_lines lines;
    struct tide__entry *pending;
    int64_t pending_end;
    bool done;
    bool waiting; /* followed, at its end for now: looked at again later */
};

struct cap {
    struct src *srcs;
    int n, cap;
    struct timespec last_look; /* for files new to the follow patterns */
    const struct tide_logcap_opts *o;
    struct tide_logcap_stats *st;
    struct tide__reorder *ro;
    struct tide_arena scratch;
    struct tide_record tmp;
};

static void count_reason(struct tide_logcap_stats *st, const char *reason, bool bad)
{
    int i;
    for (i = 0; i < st->n_skipped; i++)
        if (strcmp(st->skipped[i].reason, reason) == 0) {
            st->skipped[i].count++;
            return;
        }
    if (st->n_skipped < TIDE_LOGCAP_MAX_REASONS) {
        i = st->n_skipped++;
        snprintf(st->skipped[i].reason, sizeof(st->skipped[i].reason), "%s", reason);
        st->skipped[i].count = 1;
        st->skipped[i].bad = bad;
    } else {
        st->skipped[TIDE_LOGCAP_MAX_REASONS - 1].count++;
    }
}

/* Opens a source's input; followed, its end reads as "nothing new yet". */
static int open_src(struct cap *c, struct src *s, struct tide_err *err)
{
    int rc = tide_input_open(&s->in, s->path, err);
    if (rc)
        return rc;
    tide_lines_init(&s->lines, tide_input_read, s->in, (size_t)16 << 20);
    if (c->o->follow_stop) {
        tide_input_follow_nb(s->in, c->o->follow_stop);
        tide_input_rotate_wait(s->in, c->o->rotate_wait_ns);
        if (s->matched)
            tide_input_end_when_gone(s->in);
    }
    return 0;
}

/* Reads src up to its next record (counting everything else). */
static int advance(struct cap *c, struct src *s, struct tide_err *err)
{
    struct tide_str line;
    const char *reason;
    if (!s->in) {
        /* followed before it exists: looked for again, like tail -F */
        int rc = open_src(c, s, err);
        if (rc == TIDE_E_NOTFOUND) {
            tide_err_clear(err);
            s->waiting = true;
            return 0;
        }
        if (rc)
            return rc;
    }
    for (;;) {
        int rc;
        tide_err_clear(err);
        s->waiting = false;
        rc = tide_lines_next(&s->lines, &line, err);
        if (rc == 0) {
            s->done = true;
            if (s->matched && c->o->follow_stop && !*c->o->follow_stop) {
                /* a pattern's file, deleted: let go now (pods come and go) */
                c->st->files_let_go++;
                c->st->bytes_in += tide_input_bytes(s->in);
                tide_lines_free(&s->lines);
                tide_input_close(s->in);
                s->in = NULL;
            }
            if (s->fmt->piece.len) {
                /* the runtime split a line and the file ends before its last piece */
                static const char WHY[] =
                    "a line split by the container runtime ends with the file (its last piece is missing)";
                tide_buf_reset(&s->fmt->piece);
                c->st->bad++;
                count_reason(c->st, WHY, true);
                if (c->o->on_bad)
                    c->o->on_bad(c->o->on_bad_userp, s->path, s->lines.lineno, WHY);
                if (c->o->strict)
                    return tide_err_set(err, TIDE_E_FORMAT, s->path, "line %llu: %s",
                                        (unsigned long long)s->lines.lineno, WHY);
            }
            return 0;
        }
        if (rc == TIDE_E_AGAIN) { /* a followed log with nothing new yet */
            s->waiting = true;
            return 0;
        }
        if (rc == TIDE_E_LIMIT) {
            c->st->lines++;
            c->st->bad++;
            count_reason(c->st, "line too long", true);
            if (c->o->on_bad)
                c->o->on_bad(c->o->on_bad_userp, s->path, s->lines.lineno, "line too long");
            if (c->o->strict)
                return tide_err_set(err, TIDE_E_FORMAT, s->path, "line %llu: line too long",
                                    (unsigned long long)s->lines.lineno);
            continue;
        }
        if (rc < 0) {
            /* the input broke (truncated .gz, I/O): keep what we have, say so */
            char msg[600];
            snprintf(msg, sizeof(msg), "input ended in an error: %s", err->msg);
            c->st->inputs_failed++;
            if (c->o->on_bad)
                c->o->on_bad(c->o->on_bad_userp, s->path, s->lines.lineno + 1, msg);
            s->done = true;
            if (c->o->strict)
                return rc;
            return 0;
        }
        c->st->lines++;
        if (s->lines.lineno == 1 && line.len >= 3 && memcmp(line.p, "\xef\xbb\xbf", 3) == 0) {
            line.p += 3; /* a UTF-8 byte order mark (Windows tools write one) */
            line.len -= 3;
        }
        tide_arena_reset(&c->scratch);
        reason = NULL;
        rc = tide_logfmt_parse(s->fmt, line.p, line.len, &c->tmp, &c->scratch, &reason);
        if (rc == 1) {
            struct tide__entry *e;
            c->st->unread_tail += s->fmt->tail > 0;
            if (tide__outside_window(c->tmp.ts_ns, c->o->since_ns, c->o->until_ns)) {
                tide__count_outside(&c->st->outside, &c->st->outside_first, &c->st->outside_last, c->tmp.ts_ns);
                continue;
            }
            e = tide__reorder_pack(c->ro, &c->tmp, s->path, s->lines.lineno);
            if (!e)
                return tide_err_set(err, TIDE_E_NOMEM, s->path, "out of memory");
            s->pending = e;
            s->pending_end = e->rec.ts_ns + (e->rec.duration_ns > 0 ? e->rec.duration_ns : 0);
            return 0;
        }
        if (rc == 0) {
            if (reason && strncmp(reason, "no request", 10) == 0)
                c->st->no_request++;
            count_reason(c->st, reason ? reason : "no request", false);
            continue;
        }
        c->st->bad++;
        count_reason(c->st, reason ? reason : "unparsable", true);
        if (c->o->on_bad)
            c->o->on_bad(c->o->on_bad_userp, s->path, s->lines.lineno, reason ? reason : "unparsable");
        if (c->o->strict)
            return tide_err_set(err, TIDE_E_FORMAT, s->path, "line %llu: %s",
                                (unsigned long long)s->lines.lineno, reason ? reason : "unparsable");
    }
}

/* Followed with patterns, about every second: files that newly match one are
 * added as inputs (read from their start). A file already an input, or one
 * the caller gives no format, is passed over. */
static int look_for_new_files(struct cap *c, struct tide_err *err)
{
    struct timespec now;
    int p, rc = 0;
    if (!c->o->n_follow_globs || !c->o->new_format || (c->o->follow_stop && *c->o->follow_stop))
        return 0; /* stopping: inputs end, and none is taken up again */
    clock_gettime(CLOCK_MONOTONIC, &now);
    if ((now.tv_sec - c->last_look.tv_sec) * 1000 + (now.tv_nsec - c->last_look.tv_nsec) / 1000000 < 1000)
        return 0;
    c->last_look = now;
    for (p = 0; p < c->o->n_follow_globs && !rc; p++) {
        glob_t g;
        size_t k;
        if (glob(c->o->follow_globs[p], 0, NULL, &g) != 0)
            continue;
        for (k = 0; k < g.gl_pathc && !rc; k++) {
            struct src *s;
            struct tide_logfmt *f = NULL;
            int i, said;
            for (i = 0; i < c->n && strcmp(c->srcs[i].path, g.gl_pathv[k]) != 0; i++)
                ;
            if (i < c->n) {
                s = &c->srcs[i];
                if (s->retry_open) {
                    /* not opened before: its start is still to read; said once */
                    if (open_src(c, s, err) == 0) {
                        s->retry_open = s->refused = s->done = false;
                        c->st->inputs_failed--;
                        c->st->files_new++;
                        c->st->files_opened_late++;
                        rc = advance(c, s, err);
                    } else {
                        tide_err_clear(err);
                    }
                    continue;
                }
                if (!s->matched || s->refused || !s->done || s->pending || s->in)
                    continue; /* only a file let go (deleted, its descriptor closed) is taken up again */
                /* a file made again where one was deleted and let go: a new input */
                tide_lines_free(&s->lines);
                tide_input_close(s->in);
                s->in = NULL;
                s->done = s->waiting = false;
                if ((rc = open_src(c, s, err)) == TIDE_E_NOTFOUND) {
                    tide_err_clear(err);
                    s->done = true;
                    rc = 0;
                } else if (!rc) {
                    c->st->files_new++;
                    rc = advance(c, s, err);
                }
                continue;
            }
            if (c->n == c->cap) {
                int nc = c->cap * 2 + 4;
                struct src *ns = realloc(c->srcs, (size_t)nc * sizeof(*ns));
                if (!ns) {
                    rc = tide_err_set(err, TIDE_E_NOMEM, "", "out of memory");
                    break;
                }
                c->srcs = ns;
                c->cap = nc;
            }
            said = c->o->new_format(c->o->new_format_userp, g.gl_pathv[k], c->o->follow_globs[p], &f);
            if (said == 2)
                continue; /* not yet: looked at again next time */
            s = &c->srcs[c->n];
            memset(s, 0, sizeof(*s));
            if (!(s->owned = strdup(g.gl_pathv[k]))) {
                rc = tide_err_set(err, TIDE_E_NOMEM, "", "out of memory");
                break;
            }
            s->path = s->owned;
            s->matched = true;
            c->n++; /* known from now on, followed or not */
            if (said != 0 || !f) {
                s->done = s->refused = true;
                continue;
            }
            s->fmt = f;
            rc = open_src(c, s, err);
            if (rc == TIDE_E_NOTFOUND) { /* gone again already */
                tide_err_clear(err);
                s->done = true;
                rc = 0;
                continue;
            }
            if (rc && rc != TIDE_E_NOMEM) {
                /* one new file that cannot be read (no access, no descriptor
                 * left) does not end the capture: said and counted, and
                 * tried again at each look (counted while it stays unread) */
                char msg[600];
                snprintf(msg, sizeof(msg), "%s; tried again every second", err->msg);
                c->st->inputs_failed++;
                if (c->o->on_bad)
                    c->o->on_bad(c->o->on_bad_userp, s->path, 0, msg);
                tide_err_clear(err);
                s->done = s->refused = s->retry_open = true;
                rc = 0;
                continue;
            }
            c->st->files_new++;
            if (!rc)
                rc = advance(c, s, err);
        }
        globfree(&g);
    }
    return rc;
}

/* While a followed log is idle: write what the window has let go, then the
 * caller's hook. The writer's failure (a full disk) ends the capture at
 * once: 0, or it. */
static int on_follow_idle(struct cap *c, struct tide_err *err)
{
    struct timespec t;
    int rc;
    clock_gettime(CLOCK_REALTIME, &t);
    rc = tide__reorder_release(c->ro, (int64_t)t.tv_sec * TIDE_NS_PER_SEC + t.tv_nsec, err);
    if (!rc && c->o->on_idle) {
        rc = tide__reorder_sync(c->ro, err); /* the hook may flush the sink */
        if (!rc)
            c->o->on_idle(c->o->on_idle_userp);
    }
    return rc;
}

int tide_logcap_run(const char *const *paths, struct tide_logfmt *const *formats, int n,
                    const struct tide_logcap_opts *opts, struct tide_sink sink,
                    struct tide_logcap_stats *stats, struct tide_err *err)
{
    struct cap c;
    int i, rc = 0;
    struct timespec last_progress, last_idle;
    uint64_t iter = 0;

    memset(&c, 0, sizeof(c));
    memset(stats, 0, sizeof(*stats));
    c.o = opts;
    c.st = stats;
    c.n = c.cap = n;
    tide_arena_init(&c.scratch, 0);
    c.ro = tide__reorder_new(sink, opts->reorder_window_ns, opts->max_pending);
    c.srcs = calloc((size_t)n + 1, sizeof(*c.srcs));
    if (!c.srcs || !c.ro) {
        free(c.srcs);
        tide__reorder_free(c.ro);
        return tide_err_set(err, TIDE_E_NOMEM, "", "out of memory");
    }
    /* the window and what follows it (anonymizing, or the trace writer) run
     * beside parsing */
    if ((rc = tide__reorder_async(c.ro, err)) != 0) {
        free(c.srcs);
        tide__reorder_free(c.ro);
        return rc;
    }
    for (i = 0; i < n; i++) {
        int p;
        c.srcs[i].path = paths[i];
        c.srcs[i].fmt = formats[i];
        for (p = 0; p < opts->n_follow_globs && !c.srcs[i].matched; p++)
            c.srcs[i].matched = fnmatch(opts->follow_globs[p], paths[i], FNM_PATHNAME | FNM_PERIOD) == 0;
        rc = open_src(&c, &c.srcs[i], err);
        if (rc == TIDE_E_NOTFOUND && opts->follow_stop && strcmp(paths[i], "-") != 0) {
            rc = 0; /* followed: it may be made later (advance looks again) */
            tide_err_clear(err);
            continue;
        }
        if (rc)
            goto out_close;
    }
    for (i = 0; i < n && !rc; i++)
        rc = advance(&c, &c.srcs[i], err);
    clock_gettime(CLOCK_MONOTONIC, &last_progress);
    c.last_look = last_progress;
    last_idle = last_progress;
    /* k-way: always advance the input that is furthest behind in log time; a
     * record leaves the window once every input has passed it by the window */
    while (!rc) {
        struct src *best = NULL;
        int64_t watermark = INT64_MAX;
        struct tide__entry *e;
        for (i = 0; i < c.n; i++)
            if (c.srcs[i].pending && (!best || c.srcs[i].pending_end < best->pending_end))
                best = &c.srcs[i];
        if (!best) {
            /* followed logs all at their end for now: write what the wall
             * clock lets go, wait a little, look again (a stop ends them) */
            bool waiting = false;
            for (i = 0; i < c.n; i++)
                waiting |= c.srcs[i].waiting;
            /* with patterns, a capture waits for files to come until stopped */
            if (!waiting && !(opts->follow_stop && opts->n_follow_globs && !*opts->follow_stop))
                break;
            if ((rc = on_follow_idle(&c, err)) != 0)
                break;
            {
                struct timespec ts = {0, 200000000};
                nanosleep(&ts, NULL);
            }
            clock_gettime(CLOCK_MONOTONIC, &last_idle);
            for (i = 0; i < c.n && !rc; i++)
                if (c.srcs[i].waiting)
                    rc = advance(&c, &c.srcs[i], err);
            if (!rc)
                rc = look_for_new_files(&c, err);
            continue;
        }
        /* a followed log at its end is looked at again now and then while
         * others keep the merge busy (a record it writes meanwhile may come
         * late, within the window) */
        iter++;
        if (opts->follow_stop && (iter & 1023) == 0) {
            struct timespec now;
            for (i = 0; i < c.n && !rc; i++)
                if (c.srcs[i].waiting)
                    rc = advance(&c, &c.srcs[i], err);
            if (!rc)
                rc = look_for_new_files(&c, err);
            /* logs that never all wait at once still get their --flush */
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (!rc && (now.tv_sec - last_idle.tv_sec) * 1000 + (now.tv_nsec - last_idle.tv_nsec) / 1000000 >= 200) {
                rc = on_follow_idle(&c, err);
                last_idle = now;
            }
        }
        if (rc)
            break;
        e = best->pending;
        best->pending = NULL;
        rc = tide__reorder_add(c.ro, e, err);
        if (!rc)
            rc = advance(&c, best, err);
        for (i = 0; i < c.n; i++)
            if (c.srcs[i].pending && c.srcs[i].pending_end < watermark)
                watermark = c.srcs[i].pending_end;
        if (!rc)
            rc = tide__reorder_release(c.ro, watermark, err);
        if (opts->on_progress && (iter & 8191) == 0) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (opts->progress_ms < 0 ||
                (now.tv_sec - last_progress.tv_sec) * 1000 + (now.tv_nsec - last_progress.tv_nsec) / 1000000 >=
                    (opts->progress_ms ? opts->progress_ms : 500)) {
                uint64_t bytes = 0;
                for (i = 0; i < c.n; i++)
                    bytes += c.srcs[i].in ? tide_input_bytes(c.srcs[i].in) : 0;
                opts->on_progress(opts->on_progress_userp, stats->lines, bytes);
                last_progress = now;
            }
        }
    }
    if (!rc)
        rc = tide__reorder_drain(c.ro, err);

out_close:
    tide__reorder_sync(c.ro, NULL); /* the window's statistics are the writer thread's until now */
    {
        const struct tide__reorder_stats *rs = tide__reorder_stats(c.ro);
        stats->records = rs->records;
        stats->late = rs->late;
        stats->first_ts = rs->first_ts;
        stats->last_ts = rs->last_ts;
    }
    for (i = 0; i < c.n; i++) {
        stats->bytes_in += c.srcs[i].in ? tide_input_bytes(c.srcs[i].in) : 0;
        tide__reorder_put(c.ro, c.srcs[i].pending);
        tide_lines_free(&c.srcs[i].lines);
        tide_input_close(c.srcs[i].in);
        free(c.srcs[i].owned);
    }
    tide__reorder_free(c.ro);
    free(c.srcs);
    tide_arena_free(&c.scratch);
    return rc;
}
