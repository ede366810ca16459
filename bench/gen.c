/*
 * gen.c - synthetic but realistic traffic for benchmarks: a school platform's
 * routes, crawlers and browsers, sessions with repeated clients and cookies,
 * a diurnal curve. Deterministic (seeded), so runs compare.
 *
 *   gen trace N OUT.tide     write N records as a trace (timed: write rate)
 *   gen read TRACE           decode every record (timed: read rate)
 *   gen jsonl N              N records as JSON lines on stdout
 *   gen log BYTES            a combined access log of about BYTES on stdout
 *   gen trace-bytes BYTES OUT  a trace of about BYTES whose POSTs carry JSON
 *                            essays (1-4 KB of words), as the platform's do
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include "formats/trace.h"

static uint64_t st = 42;
static uint64_t rnd(void)
{
    uint64_t z = (st += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static const char *UAS[] = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
};
static const char *ROUTES[] = {"/", "/essays/%u", "/api/students/%u/essays", "/api/feedback",
                               "/search", "/static/app.%u.js", "/login", "/api/essays",
                               "/topics/%u/examples", "/api/me"};

struct gen {
    int64_t t;
    bool bodies;
    char body[5000];
    char path[128], query[64], client[32], session[32], cookie[64], src[32];
    struct tide_header h[5];
    struct tide_record r;
};

static void next(struct gen *g, uint64_t i)
{
    unsigned route = (unsigned)(rnd() % 10), sess = (unsigned)(rnd() % 20000);
    double hour = (double)((g->t / TIDE_NS_PER_SEC) % 86400) / 3600.0;
    double rate = 200 + 150 * __builtin_sin((hour - 6) / 24 * 6.2831853);
    g->t += (int64_t)(1e9 / rate * (0.5 + (double)(rnd() % 1000) / 1000.0));
    snprintf(g->path, sizeof(g->path), ROUTES[route], (unsigned)(rnd() % 50000));
    g->query[0] = 0;
    if (route == 4)
        snprintf(g->query, sizeof(g->query), "q=topic+%u&page=%u", (unsigned)(rnd() % 500), (unsigned)(rnd() % 5 + 1));
    else if (route == 2)
        snprintf(g->query, sizeof(g->query), "page=%u", (unsigned)(rnd() % 5 + 1));
    snprintf(g->client, sizeof(g->client), "203.0.%u.%u", sess % 200, sess % 251 + 1);
    snprintf(g->session, sizeof(g->session), "t_s%07u", sess);
    snprintf(g->cookie, sizeof(g->cookie), "sessionid=t_s%07u; lang=en", sess);
    snprintf(g->src, sizeof(g->src), "gen:%llu", (unsigned long long)i);
    memset(&g->r, 0, sizeof(g->r));
    g->r.ts_ns = g->t;
    g->r.duration_ns = (int64_t)(rnd() % 200000) * 1000;
    g->r.resp_bytes = (int64_t)(rnd() % 60000);
    g->r.status = route == 9 && rnd() % 3 == 0 ? 401 : rnd() % 50 == 0 ? 404 : 200;
    g->r.method = tide_str_c(route == 3 || route == 7 ? "POST" : "GET");
    g->r.scheme = tide_str_c("https");
    g->r.host = tide_str_c("learn.example.edu");
    g->r.path = tide_str_c(g->path);
    g->r.query = tide_str_c(g->query);
    g->r.version = tide_str_c("HTTP/1.1");
    g->r.client = tide_str_c(g->client);
    g->r.session = tide_str_c(g->session);
    g->r.source = tide_str_c(g->src);
    g->h[0] = (struct tide_header){tide_str_c("Host"), tide_str_c("learn.example.edu")};
    g->h[1] = (struct tide_header){tide_str_c("User-Agent"), tide_str_c(UAS[sess % 6])};
    g->h[2] = (struct tide_header){tide_str_c("Accept"), tide_str_c("text/html,application/json;q=0.9,*/*;q=0.8")};
    g->h[3] = (struct tide_header){tide_str_c("Accept-Language"), tide_str_c("en-US,en;q=0.9")};
    g->h[4] = (struct tide_header){tide_str_c("Cookie"), tide_str_c(g->cookie)};
    g->r.headers = g->h;
    g->r.n_headers = 5;
    if (g->bodies && (route == 3 || route == 7)) {
        static const char *W[] = {"the", "photosynthesis", "of", "plants", "energy", "and", "light",
                                  "in", "chlorophyll", "leaves", "water", "carbon", "dioxide", "a",
                                  "process", "which", "sugar", "oxygen", "is", "cells", "my",
                                  "essay", "argues", "that", "because", "evidence", "shows", "we",
                                  "history", "revolution", "causes", "economic", "social", "war"};
        size_t n = 0, want = 1000 + rnd() % 3000;
        n += (size_t)snprintf(g->body, sizeof(g->body), "{\"student_id\":%u,\"title\":\"Essay %u\",\"text\":\"",
                              sess, (unsigned)(rnd() % 100000));
        while (n < want) {
            const char *w = W[rnd() % (sizeof(W) / sizeof(*W))];
            size_t l = strlen(w);
            memcpy(g->body + n, w, l);
            g->body[n + l] = rnd() % 12 == 0 ? '.' : ' ';
            n += l + 1;
        }
        n += (size_t)snprintf(g->body + n, sizeof(g->body) - n, "\"}");
        g->r.body = tide_str_make(g->body, n);
        g->r.flags |= TIDE_REC_HAS_BODY;
        g->h[2] = (struct tide_header){tide_str_c("Content-Type"), tide_str_c("application/json")};
    }
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    static struct gen g;
    struct tide_err err;
    g.t = 1763640000LL * TIDE_NS_PER_SEC; /* 2025-11-20T12:00:00Z: the busy hours */
    if (argc == 4 && strcmp(argv[1], "trace") == 0) {
        uint64_t n = strtoull(argv[2], NULL, 10), i;
        int fd = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        struct tide_trace_writer *w;
        double t0;
        if (fd < 0 || tide_trace_writer_open(&w, fd, argv[3], "{\"raw\":false,\"sources\":[{\"name\":\"gen\",\"kind\":\"bench\"}]}", NULL, &err))
            return 1;
        t0 = now();
        for (i = 0; i < n; i++) {
            next(&g, i);
            if (tide_trace_writer_add(w, &g.r, &err))
                return 1;
        }
        if (tide_trace_writer_close(w, NULL, &err))
            return 1;
        printf("write %llu records in %.3f s: %.0f records/s\n", (unsigned long long)n, now() - t0,
               (double)n / (now() - t0));
        tide_trace_writer_free(w);
        close(fd);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "read") == 0) {
        int fd = open(argv[2], O_RDONLY);
        struct tide_trace_reader *r;
        const struct tide_record *rec;
        uint64_t n = 0, sum = 0;
        double t0 = now();
        if (fd < 0 || tide_trace_reader_open(&r, fd, argv[2], NULL, &err))
            return 1;
        while (tide_trace_reader_next(r, &rec, &err) == 1) {
            n++;
            sum += rec->path.len + rec->n_headers;
        }
        printf("read %llu records in %.3f s: %.0f records/s (checksum %llu)\n", (unsigned long long)n,
               now() - t0, (double)n / (now() - t0), (unsigned long long)sum);
        tide_trace_reader_free(r);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "jsonl") == 0) {
        uint64_t n = strtoull(argv[2], NULL, 10), i;
        struct tide_buf b;
        tide_buf_init(&b, 0);
        for (i = 0; i < n; i++) {
            next(&g, i);
            g.r.flags = 0;
            tide_record_to_json(&g.r, &b);
            if (b.len > (1 << 20)) {
                fwrite(b.p, 1, b.len, stdout);
                b.len = 0;
            }
        }
        fwrite(b.p, 1, b.len, stdout);
        tide_buf_free(&b);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "log") == 0) {
        uint64_t want = strtoull(argv[2], NULL, 10), out = 0, i = 0;
        static const char *MON[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        char line[1024];
        while (out < want) {
            time_t s;
            struct tm tm;
            int n;
            next(&g, i++);
            s = (time_t)(g.t / TIDE_NS_PER_SEC);
            gmtime_r(&s, &tm);
            n = snprintf(line, sizeof(line),
                         "%s - - [%02d/%s/%04d:%02d:%02d:%02d +0000] \"%s %s%s%s HTTP/1.1\" %d %lld \"-\" \"%s\" %.3f\n",
                         g.client, tm.tm_mday, MON[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                         tm.tm_sec, g.r.method.p, g.path, g.query[0] ? "?" : "", g.query, g.r.status,
                         (long long)g.r.resp_bytes, g.h[1].value.p, (double)g.r.duration_ns / 1e9);
            fwrite(line, 1, (size_t)n, stdout);
            out += (uint64_t)n;
        }
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "trace-bytes") == 0) {
        uint64_t want = strtoull(argv[2], NULL, 10), i = 0;
        int fd = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        struct tide_trace_writer *w;
        if (fd < 0 || tide_trace_writer_open(&w, fd, argv[3], "{\"raw\":false,\"sources\":[{\"name\":\"gen\",\"kind\":\"bench\"}]}", NULL, &err))
            return 1;
        g.bodies = true;
        for (;;) {
            next(&g, i++);
            if (tide_trace_writer_add(w, &g.r, &err))
                return 1;
            if (i % 65536 == 0 && (uint64_t)lseek(fd, 0, SEEK_END) >= want)
                break;
        }
        if (tide_trace_writer_close(w, NULL, &err))
            return 1;
        printf("wrote %llu records\n", (unsigned long long)i);
        tide_trace_writer_free(w);
        close(fd);
        return 0;
    }
    fprintf(stderr, "usage: gen trace N OUT | gen trace-bytes BYTES OUT | gen read TRACE | gen jsonl N | gen log BYTES\n");
    return 2;
}
