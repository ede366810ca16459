/*
 * Unit tests for formats/: record round trips through the trace writer and
 * reader (random, empty and maximal fields, binary bodies, many blocks),
 * index seeks at block boundaries, truncation at every byte offset, corrupt
 * bytes, version refusal, pipes, and the JSON-lines form.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "formats/formats_int.h"
#include "formats/trace.h"

/* ---- helpers ------------------------------------------------------------ */

static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static struct tide_str rstr(struct tide_arena *a, size_t maxlen, bool binary)
{
    size_t n = maxlen ? rnd() % (maxlen + 1) : 0, i;
    char *p = tide_arena_alloc(a, n + 1);
    for (i = 0; i < n; i++)
        p[i] = binary ? (char)rnd() : (char)('a' + rnd() % 26);
    return tide_str_make(p, n);
}

/* A random record; base_ts + i seconds-ish so that time grows. */
static void rand_record(struct tide_record *r, struct tide_arena *a, int64_t ts)
{
    uint32_t i;
    memset(r, 0, sizeof(*r));
    r->ts_ns = ts;
    r->duration_ns = rnd() % 4 == 0 ? -1 : (int64_t)(rnd() % 10000000000ull);
    r->resp_bytes = rnd() % 5 == 0 ? -1 : (int64_t)(rnd() % 100000);
    r->status = rnd() % 6 == 0 ? -1 : (int32_t)(100 + rnd() % 500);
    r->method = rstr(a, 7, false);
    r->scheme = rstr(a, 5, false);
    r->host = rstr(a, 20, false);
    r->path = rstr(a, 200, rnd() % 8 == 0);
    r->query = rstr(a, 50, false);
    r->version = rstr(a, 8, false);
    r->client = rstr(a, 39, false);
    r->session = rstr(a, 32, false);
    r->source = rstr(a, 20, false);
    if (rnd() % 2) { /* "file:line" sources take the split encoding; odd forms must survive too */
        static const char *forms[] = {"access.log:%llu", "a:0", "x:007", ":%llu", "f:%llu:9", "s3:%llu",
                                      "huge:%llu"};
        char *p = tide_arena_alloc(a, 64);
        int k = (int)(rnd() % 7);
        /* lines up to 18 digits: past the writer's 48-bit ordering key */
        snprintf(p, 64, forms[k], (unsigned long long)(k == 6 ? 999999999999999999ull - rnd() % 1000
                                                              : rnd() % 1000000));
        r->source = tide_str_c(p);
    }
    r->n_headers = (uint32_t)(rnd() % 12);
    r->headers = tide_arena_alloc(a, (r->n_headers + 1) * sizeof(*r->headers));
    for (i = 0; i < r->n_headers; i++) {
        r->headers[i].name = rstr(a, 20, false);
        r->headers[i].value = rstr(a, 100, rnd() % 10 == 0);
    }
    if (rnd() % 3 == 0) {
        r->flags |= TIDE_REC_HAS_BODY;
        r->body = rstr(a, 2000, true);
    }
    if (rnd() % 10 == 0)
        r->flags |= TIDE_REC_BODY_TRUNCATED;
}

static bool str_eq(struct tide_str a, struct tide_str b) { return tide_str_is_eq(a, b); }

static void assert_record_equal(const struct tide_record *a, const struct tide_record *b)
{
    uint32_t i;
    assert_true(a->ts_ns == b->ts_ns);
    assert_true(a->duration_ns == b->duration_ns);
    assert_true(a->resp_bytes == b->resp_bytes);
    assert_int_equal(a->status, b->status);
    assert_int_equal(a->flags, b->flags);
    assert_true(str_eq(a->method, b->method));
    assert_true(str_eq(a->scheme, b->scheme));
    assert_true(str_eq(a->host, b->host));
    assert_true(str_eq(a->path, b->path));
    assert_true(str_eq(a->query, b->query));
    assert_true(str_eq(a->version, b->version));
    assert_true(str_eq(a->client, b->client));
    assert_true(str_eq(a->session, b->session));
    assert_true(str_eq(a->source, b->source));
    assert_int_equal(a->n_headers, b->n_headers);
    for (i = 0; i < a->n_headers; i++) {
        assert_true(str_eq(a->headers[i].name, b->headers[i].name));
        assert_true(str_eq(a->headers[i].value, b->headers[i].value));
    }
    assert_true(str_eq(a->body, b->body));
}

struct fixture {
    struct tide_arena arena;
    struct tide_record *recs;
    size_t n;
    char path[64];
};

/* Writes n random records (block_records per block) to a temp file. */
static void make_trace(struct fixture *f, size_t n, uint32_t block_records, uint64_t seed,
                       bool close_it)
{
    struct tide_trace_writer *w;
    struct tide_trace_writer_opts o = {0};
    struct tide_err err;
    size_t i;
    int fd;
    rng_state = seed;
    tide_arena_init(&f->arena, 0);
    f->recs = calloc(n ? n : 1, sizeof(*f->recs));
    f->n = n;
    for (i = 0; i < n; i++)
        rand_record(&f->recs[i], &f->arena, 1700000000LL * TIDE_NS_PER_SEC + (int64_t)i * 1000000007LL);
    snprintf(f->path, sizeof(f->path), "/tmp/tide-test-XXXXXX");
    fd = mkstemp(f->path);
    assert_true(fd >= 0);
    o.block_records = block_records;
    o.level = 1;
    assert_int_equal(tide_trace_writer_open(&w, fd, f->path, "{\"raw\":false}", &o, &err), 0);
    for (i = 0; i < n; i++)
        assert_int_equal(tide_trace_writer_add(w, &f->recs[i], &err), 0);
    if (close_it)
        assert_int_equal(tide_trace_writer_close(w, "{\"x\":1}", &err), 0);
    else
        assert_int_equal(tide_trace_writer_flush(w, &err), 0);
    tide_trace_writer_free(w);
    close(fd);
}

static void free_fixture(struct fixture *f)
{
    unlink(f->path);
    free(f->recs);
    tide_arena_free(&f->arena);
}

/* Reads all records of fd; checks each equals f->recs[first + k]. Returns count. */
static size_t read_check(struct fixture *f, int fd, const struct tide_trace_reader_opts *o,
                         size_t first, int *last_rc, struct tide_trace_stats *st_out)
{
    struct tide_trace_reader *r;
    struct tide_err err;
    const struct tide_record *rec;
    size_t k = 0;
    int rc = tide_trace_reader_open(&r, fd, "t", o, &err);
    if (rc) {
        *last_rc = rc;
        return 0;
    }
    while ((rc = tide_trace_reader_next(r, &rec, &err)) == 1) {
        assert_true(first + k < f->n);
        assert_record_equal(rec, &f->recs[first + k]);
        k++;
    }
    *last_rc = rc;
    if (st_out)
        *st_out = *tide_trace_reader_stats(r);
    tide_trace_reader_free(r);
    return k;
}

/* ---- tests --------------------------------------------------------------- */

static void trace_roundtrip_random_records_many_blocks(void **state)
{
    struct fixture f;
    struct tide_trace_stats st;
    int rc, fd;
    make_trace(&f, 5000, 333, 42, true);
    fd = open(f.path, O_RDONLY);
    assert_int_equal(read_check(&f, fd, NULL, 0, &rc, &st), 5000);
    assert_int_equal(rc, 0);
    assert_true(st.has_tail);
    assert_false(st.truncated);
    assert_int_equal(st.blocks_read, (5000 + 332) / 333);
    close(fd);
    free_fixture(&f);
}

static void trace_roundtrip_empty_and_maximal_fields(void **state)
{
    struct tide_trace_writer *w;
    struct tide_trace_reader *r;
    struct tide_err err;
    struct tide_record recs[2], big;
    const struct tide_record *rec;
    static struct tide_header hdrs[TIDE_MAX_HEADERS];
    char path[] = "/tmp/tide-test-XXXXXX";
    char *field = malloc(TIDE_MAX_FIELD);
    char *body = malloc(1 << 20);
    int fd = mkstemp(path), i;
    memset(field, 'f', TIDE_MAX_FIELD);
    for (i = 0; i < (1 << 20); i++)
        body[i] = (char)i;
    memset(&recs[0], 0, sizeof(recs[0]));
    recs[0].duration_ns = recs[0].resp_bytes = -1;
    recs[0].status = -1;
    big = recs[0];
    big.ts_ns = INT64_MAX / 2;
    big.path = tide_str_make(field, TIDE_MAX_FIELD);
    big.host = tide_str_make(field, TIDE_MAX_FIELD);
    for (i = 0; i < TIDE_MAX_HEADERS; i++) {
        hdrs[i].name = tide_str_make("X-H", 3);
        hdrs[i].value = tide_str_make(field, 100);
    }
    big.headers = hdrs;
    big.n_headers = TIDE_MAX_HEADERS;
    big.body = tide_str_make(body, 1 << 20);
    big.flags = TIDE_REC_HAS_BODY;
    big.status = 999;
    recs[1] = big;
    assert_int_equal(tide_trace_writer_open(&w, fd, path, "{\"raw\":true}", NULL, &err), 0);
    assert_int_equal(tide_trace_writer_add(w, &recs[0], &err), 0);
    assert_int_equal(tide_trace_writer_add(w, &recs[1], &err), 0);
    /* one more header than the cap is refused, not written */
    big.n_headers = TIDE_MAX_HEADERS + 1;
    assert_int_equal(tide_trace_writer_add(w, &big, &err), TIDE_E_LIMIT);
    assert_int_equal(tide_trace_writer_close(w, NULL, &err), 0);
    tide_trace_writer_free(w);
    lseek(fd, 0, SEEK_SET);
    assert_int_equal(tide_trace_reader_open(&r, fd, path, NULL, &err), 0);
    assert_true(tide_trace_reader_is_raw(r));
    assert_int_equal(tide_trace_reader_next(r, &rec, &err), 1);
    assert_record_equal(rec, &recs[0]);
    assert_int_equal(tide_trace_reader_next(r, &rec, &err), 1);
    assert_record_equal(rec, &recs[1]);
    assert_int_equal(tide_trace_reader_next(r, &rec, &err), 0);
    tide_trace_reader_free(r);
    close(fd);
    unlink(path);
    free(field);
    free(body);
}

static int cmp_start(const void *a, const void *b)
{
    const struct tide_record *x = a, *y = b;
    return x->ts_ns < y->ts_ns ? -1 : x->ts_ns > y->ts_ns;
}

/*
 * A log's records as capture hands them over (by start), from two files
 * whose lines were written when requests ended. The writer stores them by
 * file and line, renumbering its per-block dictionaries (here past their
 * 65,536 entries, with literals too long to join); the reader must give
 * every record back, by start, ties in line order.
 */
/* The line of a "x.log:LINE" source: its digits within the string's length
 * (a record's strings are not NUL-terminated; reading on past them read the
 * next field's bytes, and the test failed one run in ten) */
static unsigned long src_line(struct tide_str s)
{
    unsigned long v = 0;
    size_t i;
    for (i = 6; i < s.len && s.p[i] >= '0' && s.p[i] <= '9'; i++)
        v = v * 10 + (unsigned long)(s.p[i] - '0');
    return v;
}

static void trace_stored_order_by_line_reads_back_by_start(void **state)
{
    enum { N = 120000 };
    struct tide_arena a;
    struct tide_record *in = calloc(N, sizeof(*in)), *out = calloc(N, sizeof(*out));
    size_t *at = calloc(N, sizeof(*at));
    const struct tide_record *rec;
    struct tide_trace_writer *w;
    struct tide_trace_reader *r;
    struct tide_trace_writer_opts o = {.block_records = TIDE_MAX_BLOCK_RECORDS, .level = 1};
    struct tide_err err;
    char path[64] = "/tmp/tide-test-XXXXXX", *longp = malloc(5001);
    size_t i, k = 0;
    int fd, rc;
    const int64_t base = 1700000000LL * TIDE_NS_PER_SEC;
    rng_state = 7;
    tide_arena_init(&a, 0);
    memset(longp, 'x', 5000);
    for (i = 0; i < N; i++) {
        struct tide_record *x = &in[i];
        char *p = tide_arena_alloc(&a, 64);
        unsigned line = (unsigned)(i / 2) + 1;
        tide_record_clear(x);
        /* lines end in order, 40 a second; starts are ends minus 0..2.999 s */
        x->duration_ns = (int64_t)(rnd() % 3000) * 1000000;
        if (i % 13 == 0 && i > 0)
            x->duration_ns = in[i - 1].duration_ns; /* a tie (the other file, a line apart) */
        x->ts_ns = base + (int64_t)(line / 40) * TIDE_NS_PER_SEC - x->duration_ns;
        x->status = 200;
        x->resp_bytes = (int64_t)(rnd() % 60000);
        x->method = tide_str_c(i % 3 ? "GET" : "POST");
        snprintf(p, 64, "%s.log:%u", i % 2 ? "b" : "a", line);
        x->source = tide_str_c(p);
        p = tide_arena_alloc(&a, 32);
        snprintf(p, 32, "/p/%zu", i % 8 >= 6 ? i - 2 : i); /* 77,000 values, some twice */
        x->path = i % 7 == 0 ? tide_str_c("/same") : tide_str_c(p);
        if (i % 1000 == 1)
            x->path = tide_str_make(longp, 4100 + i % 2); /* two long values, each repeated */
        x->client = tide_str_c(i % 5 ? "198.51.100.7" : "203.0.113.9");
    }
    qsort(in, N, sizeof(*in), cmp_start); /* capture's order (ties: any) */
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(tide_trace_writer_open(&w, fd, path, "{\"raw\":true}", &o, &err), 0);
    for (i = 0; i < N; i++)
        assert_int_equal(tide_trace_writer_add(w, &in[i], &err), 0);
    assert_int_equal(tide_trace_writer_close(w, NULL, &err), 0);
    tide_trace_writer_free(w);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    assert_int_equal(tide_trace_reader_open(&r, fd, path, NULL, &err), 0);
    while ((rc = tide_trace_reader_next(r, &rec, &err)) == 1) {
        assert_true(k < N);
        assert_int_equal(tide_record_copy(&out[k], rec, &a), 0);
        if (k > 0) {
            assert_true(out[k - 1].ts_ns <= out[k].ts_ns);
            if (out[k - 1].ts_ns == out[k].ts_ns && out[k - 1].source.p[0] == out[k].source.p[0])
                assert_true(src_line(out[k - 1].source) <
                            src_line(out[k].source));
        }
        k++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(k, N);
    assert_int_equal(tide_trace_reader_stats(r)->blocks_read, 1);
    /* the same records: each output record equals the input one of its
     * source ("a.log:L" came from 2(L-1), "b.log:L" from 2(L-1)+1) */
    for (i = 0; i < N; i++)
        at[2 * (src_line(in[i].source) - 1) + (in[i].source.p[0] == 'b')] = i;
    for (i = 0; i < N; i++) {
        size_t j = at[2 * (src_line(out[i].source) - 1) + (out[i].source.p[0] == 'b')];
        assert_true(str_eq(in[j].source, out[i].source));
        assert_record_equal(&out[i], &in[j]);
    }
    tide_trace_reader_free(r);
    /* any_order (inspect's counts) hands them out as stored: by file (in
     * order of first arrival), then line */
    {
        char first = 0;
        struct tide_trace_reader_opts ao = {.from_ns = TIDE_TIME_UNKNOWN,
                                            .to_ns = TIDE_TIME_UNKNOWN, .any_order = true};
        unsigned long prev = 0;
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        assert_int_equal(tide_trace_reader_open(&r, fd, path, &ao, &err), 0);
        for (k = 0; (rc = tide_trace_reader_next(r, &rec, &err)) == 1; k++) {
            unsigned long line = src_line(rec->source);
            if (k == 0)
                first = rec->source.p[0];
            assert_true((rec->source.p[0] == first) == (k < N / 2));
            assert_true(k == N / 2 || line > prev);
            prev = line;
        }
        assert_int_equal(k, N);
        tide_trace_reader_free(r);
    }
    close(fd);
    unlink(path);
    tide_arena_free(&a);
    free(longp);
    free(in);
    free(out);
    free(at);
}

static void trace_empty_trace_reads_zero_records(void **state)
{
    struct fixture f;
    int rc, fd;
    make_trace(&f, 0, 10, 1, true);
    fd = open(f.path, O_RDONLY);
    assert_int_equal(read_check(&f, fd, NULL, 0, &rc, NULL), 0);
    assert_int_equal(rc, 0);
    close(fd);
    free_fixture(&f);
}

static void trace_index_seek_at_block_boundaries(void **state)
{
    struct fixture f;
    struct tide_trace_reader_opts o;
    struct tide_trace_stats st;
    int rc, fd;
    size_t from, len;
    make_trace(&f, 1000, 100, 7, true);
    fd = open(f.path, O_RDONLY);
    size_t cases[][2] = {{0, 1000}, {99, 2}, {100, 100}, {199, 1}, {500, 500}, {999, 1}, {0, 0}};
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        from = cases[c][0];
        len = cases[c][1];
        memset(&o, 0, sizeof(o));
        o.from_ns = f.recs[from].ts_ns;
        o.to_ns = from + len < f.n ? f.recs[from + len].ts_ns : TIDE_TIME_UNKNOWN;
        if (len == 0)
            o.to_ns = o.from_ns;
        assert_int_equal(read_check(&f, fd, &o, from, &rc, &st), len);
        assert_int_equal(rc, 0);
        if (len > 0 && len <= 100) {
            /* only the blocks holding the window are read */
            assert_true(st.blocks_read <= 2);
            assert_true(st.blocks_skipped_by_index >= 8);
        }
    }
    /* offsets from the trace start */
    memset(&o, 0, sizeof(o));
    o.from_ns = f.recs[300].ts_ns - f.recs[0].ts_ns;
    o.from_is_offset = true;
    o.to_ns = TIDE_TIME_UNKNOWN;
    assert_int_equal(read_check(&f, fd, &o, 300, &rc, NULL), 700);
    close(fd);
    free_fixture(&f);
}

static void trace_reader_truncated_tail_reports_lost_blocks(void **state)
{
    struct fixture f;
    struct tide_trace_stats st;
    struct stat sb;
    char *data;
    size_t size, cut, prev = 0;
    int rc, fd;
    make_trace(&f, 40, 10, 9, true);
    fd = open(f.path, O_RDONLY);
    fstat(fd, &sb);
    size = (size_t)sb.st_size;
    data = malloc(size);
    assert_int_equal(read(fd, data, size), (ssize_t)size);
    close(fd);
    for (cut = 0; cut < size; cut++) {
        char p2[] = "/tmp/tide-cut-XXXXXX";
        size_t got;
        int tfd = mkstemp(p2);
        assert_int_equal(write(tfd, data, cut), (ssize_t)cut);
        lseek(tfd, 0, SEEK_SET);
        got = read_check(&f, tfd, NULL, 0, &rc, &st);
        /* a prefix of the records, whole blocks only, growing with the cut */
        assert_true(got % 10 == 0);
        assert_true(got >= prev);
        prev = got;
        assert_true(rc == TIDE_E_TRUNCATED || rc == TIDE_E_FORMAT);
        if (rc == TIDE_E_TRUNCATED && got > 0) {
            assert_true(st.truncated);
            assert_int_equal(st.last_good_block, got / 10);
            assert_int_equal(st.truncated_at + st.truncated_lost_bytes, cut);
        }
        close(tfd);
        unlink(p2);
    }
    assert_int_equal(prev, 40);
    free(data);
    free_fixture(&f);
}

static void trace_reader_writer_without_close_is_readable_and_incomplete(void **state)
{
    struct fixture f;
    struct tide_trace_stats st;
    int rc, fd;
    make_trace(&f, 25, 10, 11, false);
    fd = open(f.path, O_RDONLY);
    assert_int_equal(read_check(&f, fd, NULL, 0, &rc, &st), 25);
    assert_int_equal(rc, TIDE_E_TRUNCATED);
    assert_int_equal(st.truncated_lost_bytes, 0);
    assert_false(st.has_tail);
    close(fd);
    free_fixture(&f);
}

static void trace_reader_corrupt_byte_never_yields_wrong_records(void **state)
{
    struct fixture f;
    struct stat sb;
    char *data;
    size_t size, at;
    int rc, fd;
    make_trace(&f, 30, 10, 13, true);
    fd = open(f.path, O_RDONLY);
    fstat(fd, &sb);
    size = (size_t)sb.st_size;
    data = malloc(size);
    assert_int_equal(read(fd, data, size), (ssize_t)size);
    close(fd);
    for (at = 0; at < size; at += 3) {
        char p2[] = "/tmp/tide-flip-XXXXXX";
        struct tide_trace_reader_opts o = {.from_ns = TIDE_TIME_UNKNOWN, .to_ns = TIDE_TIME_UNKNOWN};
        int tfd = mkstemp(p2);
        data[at] ^= 0x41;
        assert_int_equal(write(tfd, data, size), (ssize_t)size);
        data[at] ^= 0x41;
        /* read_check asserts every record handed out equals the original */
        lseek(tfd, 0, SEEK_SET);
        read_check(&f, tfd, &o, 0, &rc, NULL);
        assert_true(rc <= 0);
        close(tfd);
        unlink(p2);
    }
    free(data);
    free_fixture(&f);
}

static void trace_reader_skip_corrupt_continues_and_counts(void **state)
{
    struct fixture f;
    struct tide_trace_reader *r;
    struct tide_trace_reader_opts o = {.from_ns = TIDE_TIME_UNKNOWN, .to_ns = TIDE_TIME_UNKNOWN,
                                       .skip_corrupt = true};
    struct tide_err err;
    const struct tide_record *rec;
    uint8_t hdr[TIDE__SEC_HDR_LEN];
    uint64_t off;
    size_t k = 0;
    int fd, rc;
    make_trace(&f, 30, 10, 17, true);
    fd = open(f.path, O_RDWR);
    /* find block 1: skip header, META, block 0 */
    off = TIDE__FILE_HDR_LEN;
    for (int s = 0; s < 2; s++) {
        assert_int_equal(pread(fd, hdr, sizeof(hdr), (off_t)off), (ssize_t)sizeof(hdr));
        off += TIDE__SEC_HDR_LEN + tide_get_u64le(hdr + 8);
    }
    {
        uint8_t b;
        assert_int_equal(pread(fd, &b, 1, (off_t)(off + TIDE__SEC_HDR_LEN + 30)), 1);
        b ^= 0xff;
        assert_int_equal(pwrite(fd, &b, 1, (off_t)(off + TIDE__SEC_HDR_LEN + 30)), 1);
    }
    /* without skip: stops at block 1 with its number and offset */
    {
        o.skip_corrupt = false;
        assert_int_equal(tide_trace_reader_open(&r, fd, "t", &o, &err), 0);
        while ((rc = tide_trace_reader_next(r, &rec, &err)) == 1)
            k++;
        assert_int_equal(rc, TIDE_E_CORRUPT);
        assert_int_equal(k, 10);
        char want[64];
        snprintf(want, sizeof(want), "block 1 at offset %llu", (unsigned long long)off);
        assert_non_null(strstr(err.where, want));
        tide_trace_reader_free(r);
    }
    o.skip_corrupt = true;
    k = 0;
    assert_int_equal(tide_trace_reader_open(&r, fd, "t", &o, &err), 0);
    while ((rc = tide_trace_reader_next(r, &rec, &err)) == 1) {
        size_t idx = k < 10 ? k : k + 10;
        assert_record_equal(rec, &f.recs[idx]);
        k++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(k, 20);
    assert_int_equal(tide_trace_reader_stats(r)->blocks_corrupt, 1);
    assert_int_equal(tide_trace_reader_stats(r)->records_in_corrupt, 10);
    tide_trace_reader_free(r);
    close(fd);
    free_fixture(&f);
}

static void trace_reader_refuses_newer_major_version(void **state)
{
    struct fixture f;
    struct tide_trace_reader *r;
    struct tide_err err;
    uint8_t v = TIDE_FORMAT_VERSION_MAJOR + 1;
    char want[64];
    int fd;
    make_trace(&f, 3, 10, 19, true);
    fd = open(f.path, O_RDWR);
    assert_int_equal(pwrite(fd, &v, 1, 8), 1);
    assert_int_equal(tide_trace_reader_open(&r, fd, "t", NULL, &err), TIDE_E_VERSION);
    snprintf(want, sizeof(want), "version %d.0 is not supported", TIDE_FORMAT_VERSION_MAJOR + 1);
    assert_non_null(strstr(err.msg, want));
    v = 0; /* there never was a 0.x */
    assert_int_equal(pwrite(fd, &v, 1, 8), 1);
    assert_int_equal(tide_trace_reader_open(&r, fd, "t", NULL, &err), TIDE_E_VERSION);
    close(fd);
    free_fixture(&f);
}

static void trace_reader_refuses_non_trace(void **state)
{
    struct tide_trace_reader *r;
    struct tide_err err;
    char path[] = "/tmp/tide-test-XXXXXX";
    int fd = mkstemp(path);
    assert_int_equal(write(fd, "hello world, not a trace\n", 25), 25);
    lseek(fd, 0, SEEK_SET);
    assert_int_equal(tide_trace_reader_open(&r, fd, "t", NULL, &err), TIDE_E_FORMAT);
    assert_non_null(strstr(err.msg, "not a tide trace"));
    close(fd);
    unlink(path);
}

/* Appends a section to fd at its end (before nothing: used on tail-less traces). */
static void append_section(int fd, uint32_t type, uint32_t flags, const char *payload)
{
    uint8_t h[TIDE__SEC_HDR_LEN];
    size_t n = strlen(payload);
    tide_put_u32le(h, type);
    tide_put_u32le(h + 4, flags);
    tide_put_u64le(h + 8, n);
    tide_put_u64le(h + 16, tide__sec_checksum(h, payload, n));
    lseek(fd, 0, SEEK_END);
    assert_int_equal(write(fd, h, sizeof(h)), (ssize_t)sizeof(h));
    assert_int_equal(write(fd, payload, n), (ssize_t)n);
}

static void trace_reader_skips_unknown_optional_refuses_unknown_required(void **state)
{
    struct fixture f;
    int fd, rc;
    make_trace(&f, 10, 5, 23, false); /* no tail: the reader walks sections */
    fd = open(f.path, O_RDWR);
    append_section(fd, TIDE__FOURCC('X', 'T', 'R', 'A'), TIDE__SEC_OPTIONAL, "future stuff");
    lseek(fd, 0, SEEK_SET);
    assert_int_equal(read_check(&f, fd, NULL, 0, &rc, NULL), 10);
    assert_int_equal(rc, TIDE_E_TRUNCATED); /* still no tail */
    append_section(fd, TIDE__FOURCC('N', 'E', 'E', 'D'), 0, "must understand");
    lseek(fd, 0, SEEK_SET);
    assert_int_equal(read_check(&f, fd, NULL, 0, &rc, NULL), 10);
    assert_int_equal(rc, TIDE_E_VERSION);
    close(fd);
    free_fixture(&f);
}

static void trace_reader_reads_from_pipe(void **state)
{
    struct fixture f;
    struct tide_trace_stats st;
    int p[2], rc;
    pid_t pid;
    make_trace(&f, 300, 50, 29, true);
    assert_int_equal(pipe(p), 0);
    pid = fork();
    if (pid == 0) {
        char buf[4096];
        ssize_t k;
        int fd = open(f.path, O_RDONLY);
        close(p[0]);
        while ((k = read(fd, buf, sizeof(buf))) > 0)
            if (write(p[1], buf, (size_t)k) != k)
                _exit(1);
        _exit(0);
    }
    close(p[1]);
    assert_int_equal(read_check(&f, p[0], NULL, 0, &rc, &st), 300);
    assert_int_equal(rc, 0);
    assert_true(st.has_tail);
    close(p[0]);
    waitpid(pid, NULL, 0);
    free_fixture(&f);
}

static void trace_writer_to_closed_pipe_fails_cleanly(void **state)
{
    struct tide_trace_writer *w;
    struct tide_err err;
    struct tide_record r;
    int p[2], rc = 0, i;
    signal(SIGPIPE, SIG_IGN);
    assert_int_equal(pipe(p), 0);
    close(p[0]);
    memset(&r, 0, sizeof(r));
    r.status = -1;
    rc = tide_trace_writer_open(&w, p[1], "pipe", "{\"raw\":false}", NULL, &err);
    assert_int_equal(rc, TIDE_E_IO);
    assert_non_null(strstr(err.msg, "pipe closed"));
    (void)i;
    close(p[1]);
}

static void jsonl_roundtrip_random_records(void **state)
{
    struct tide_arena a, scratch;
    struct tide_buf b;
    struct tide_record r, back;
    struct tide_err err;
    int i;
    rng_state = 99;
    tide_arena_init(&a, 0);
    tide_arena_init(&scratch, 0);
    tide_buf_init(&b, 0);
    for (i = 0; i < 2000; i++) {
        tide_arena_reset(&a);
        tide_arena_reset(&scratch);
        rand_record(&r, &a, (int64_t)rnd() % (4000000000LL * TIDE_NS_PER_SEC));
        /* JSON carries ms with 6 decimals: ns precision of durations */
        tide_buf_reset(&b);
        assert_int_equal(tide_record_to_json(&r, &b), 0);
        assert_true(b.len > 0 && b.p[b.len - 1] == '\n');
        memset(&back, 0, sizeof(back));
        assert_int_equal(tide_record_from_json(b.p, b.len - 1, &back, &scratch, &err), 0);
        if (!(r.flags & TIDE_REC_HAS_BODY))
            r.body = tide_str_make(NULL, 0);
        assert_record_equal(&back, &r);
    }
    tide_buf_free(&b);
    tide_arena_free(&a);
    tide_arena_free(&scratch);
}

static void jsonl_bad_lines_name_reason_not_value(void **state)
{
    struct tide_arena scratch;
    struct tide_record r;
    struct tide_err err;
    const char *bad[] = {
        "",
        "[1,2]",
        "{\"method\":\"GET\"}",
        "{\"ts\":\"secret-not-a-time\"}",
        "{\"ts\":\"2026-01-01T00:00:00Z\",\"status\":\"200\"}",
        "{\"ts\":\"2026-01-01T00:00:00Z\",\"headers\":[[\"a\"]]}",
        "{\"ts\":\"2026-01-01T00:00:00Z\",\"body\":\"!!!\"}",
        "{\"ts\":\"2026-01-01T00:00:00Z\"} trailing",
        "{\"ts\":\"2026-01-01T00:00:00Z\",\"path\":\"\\ud800\"}",
        "{\"ts\":\"2026-01-01T00:00:00Z\",\"path\":\"unterminated}",
    };
    size_t i;
    tide_arena_init(&scratch, 0);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&r, 0, sizeof(r));
        assert_int_equal(tide_record_from_json(bad[i], strlen(bad[i]), &r, &scratch, &err),
                         TIDE_E_FORMAT);
        assert_non_null(strstr(err.msg, "column"));
        assert_null(strstr(err.msg, "secret"));
    }
    tide_arena_free(&scratch);
}

static void jsonl_unknown_keys_are_skipped(void **state)
{
    struct tide_arena scratch;
    struct tide_record r;
    struct tide_err err;
    const char *line = "{\"future\":{\"a\":[1,2,{\"b\":null}]},\"ts\":\"2026-01-01T00:00:00Z\","
                       "\"method\":\"GET\",\"n\":-1.5e3}";
    tide_arena_init(&scratch, 0);
    memset(&r, 0, sizeof(r));
    assert_int_equal(tide_record_from_json(line, strlen(line), &r, &scratch, &err), 0);
    assert_true(tide_str_is_eq_c(r.method, "GET"));
    tide_arena_free(&scratch);
}

static void route_template_replaces_ids(void **state)
{
    struct {
        const char *in, *out;
    } c[] = {
        {"/api/students/4711/essays", "/api/students/{id}/essays"},
        {"/u/123e4567-e89b-12d3-a456-426614174000", "/u/{id}"},
        {"/blob/5f2b9c0e1a", "/blob/{id}"},
        {"/about", "/about"},
        {"", "/"},
        {"/a//b/", "/a//b/"},
        {"/t/p_8f3k2", "/t/{id}"},
    };
    size_t i;
    struct tide_buf b;
    tide_buf_init(&b, 0);
    for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        tide_buf_reset(&b);
        assert_int_equal(tide_route_template(tide_str_c(c[i].in), &b), 0);
        assert_int_equal(b.len, strlen(c[i].out));
        assert_memory_equal(b.p, c[i].out, b.len);
    }
    tide_buf_free(&b);
}

/* ---- the pipe: records passed on by another thread, in order ---- */

struct pipe_out {
    size_t n, fail_at;
    char path[30000][24];
    char hdr[30000][8];
    size_t body_len[30000];
};

static int pipe_collect(void *userp, const struct tide_record *r, struct tide_err *err)
{
    struct pipe_out *o = userp;
    if (o->fail_at && o->n + 1 == o->fail_at)
        return tide_err_set(err, TIDE_E_IO, "out.tide", "disk full");
    snprintf(o->path[o->n], sizeof(o->path[0]), "%.*s", (int)r->path.len, r->path.p);
    snprintf(o->hdr[o->n], sizeof(o->hdr[0]), "%.*s", r->n_headers ? (int)r->headers[0].value.len : 0,
             r->n_headers ? r->headers[0].value.p : "");
    o->body_len[o->n] = r->body.len;
    o->n++;
    return 0;
}

/* Sends n records through a pipe, from buffers reused for every record (the
 * pipe must copy), with a sync half way; returns the final sync's rc. */
static int pipe_feed(struct pipe_out *o, int n, struct tide_err *err)
{
    struct tide_pipe *p;
    static char body[300000];
    int rc = 0, i;
    assert_int_equal(tide_pipe_new(&p, (struct tide_sink){pipe_collect, o}, err), 0);
    for (i = 0; i < n && !rc; i++) {
        char path[24], v[8];
        struct tide_header h;
        struct tide_record r;
        memset(&r, 0, sizeof(r));
        snprintf(path, sizeof(path), "/p/%d", i);
        snprintf(v, sizeof(v), "v%d", i % 1000);
        h.name = tide_str_c("X-N");
        h.value = tide_str_c(v);
        r.path = tide_str_c(path);
        r.headers = &h;
        r.n_headers = 1;
        r.body = tide_str_make(body, i % 5000 == 7 ? sizeof(body) : (size_t)(i % 100)); /* some over a batch's bytes */
        rc = tide_pipe_sink(p, &r, err);
        memset(path, 'x', sizeof(path) - 1);
        if (!rc && i == n / 2) {
            rc = tide_pipe_sync(p, err);
            assert_true(rc || o->n == (size_t)i + 1);
        }
    }
    if (!rc)
        rc = tide_pipe_sync(p, err);
    tide_pipe_free(p);
    return rc;
}

static void pipe_passes_records_in_order(void **state)
{
    static struct pipe_out o;
    struct tide_err err;
    size_t i;
    memset(&o, 0, sizeof(o));
    assert_int_equal(pipe_feed(&o, 30000, &err), 0);
    assert_int_equal(o.n, 30000);
    for (i = 0; i < o.n; i++) {
        char want[24];
        snprintf(want, sizeof(want), "/p/%zu", i);
        assert_string_equal(o.path[i], want);
        snprintf(want, sizeof(want), "v%zu", i % 1000);
        assert_string_equal(o.hdr[i], want);
        assert_int_equal(o.body_len[i], i % 5000 == 7 ? 300000 : i % 100);
    }
}

static void pipe_returns_the_sinks_failure(void **state)
{
    static struct pipe_out o;
    struct tide_err err;
    memset(&o, 0, sizeof(o));
    o.fail_at = 20000;
    assert_int_equal(pipe_feed(&o, 30000, &err), TIDE_E_IO);
    assert_non_null(strstr(err.msg, "disk full"));
    assert_int_equal(o.n, 19999); /* nothing passed on after the failure */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(trace_roundtrip_random_records_many_blocks),
        cmocka_unit_test(trace_roundtrip_empty_and_maximal_fields),
        cmocka_unit_test(trace_stored_order_by_line_reads_back_by_start),
        cmocka_unit_test(trace_empty_trace_reads_zero_records),
        cmocka_unit_test(trace_index_seek_at_block_boundaries),
        cmocka_unit_test(trace_reader_truncated_tail_reports_lost_blocks),
        cmocka_unit_test(trace_reader_writer_without_close_is_readable_and_incomplete),
        cmocka_unit_test(trace_reader_corrupt_byte_never_yields_wrong_records),
        cmocka_unit_test(trace_reader_skip_corrupt_continues_and_counts),
        cmocka_unit_test(trace_reader_refuses_newer_major_version),
        cmocka_unit_test(trace_reader_refuses_non_trace),
        cmocka_unit_test(trace_reader_skips_unknown_optional_refuses_unknown_required),
        cmocka_unit_test(trace_reader_reads_from_pipe),
        cmocka_unit_test(trace_writer_to_closed_pipe_fails_cleanly),
        cmocka_unit_test(jsonl_roundtrip_random_records),
        cmocka_unit_test(jsonl_bad_lines_name_reason_not_value),
        cmocka_unit_test(jsonl_unknown_keys_are_skipped),
        cmocka_unit_test(route_template_replaces_ids),
        cmocka_unit_test(pipe_passes_records_in_order),
        cmocka_unit_test(pipe_returns_the_sinks_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
