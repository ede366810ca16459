/* Unit tests for common/: varints, base64, JSON escaping, time, lines, maps. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/common.h"

static void varint_roundtrip_extremes(void **state)
{
    int64_t sv[] = {0, 1, -1, 63, -64, 64, INT64_MAX, INT64_MIN, 1234567890123LL};
    uint64_t uv[] = {0, 1, 127, 128, 16383, 16384, UINT64_MAX};
    struct tide_buf b;
    const uint8_t *p, *end;
    size_t i;
    tide_buf_init(&b, 0);
    for (i = 0; i < sizeof(sv) / sizeof(sv[0]); i++)
        assert_int_equal(tide_buf_put_svar(&b, sv[i]), 0);
    for (i = 0; i < sizeof(uv) / sizeof(uv[0]); i++)
        assert_int_equal(tide_buf_put_uvar(&b, uv[i]), 0);
    p = (const uint8_t *)b.p;
    end = p + b.len;
    for (i = 0; i < sizeof(sv) / sizeof(sv[0]); i++) {
        int64_t v;
        assert_int_equal(tide_get_svar(&p, end, &v), 0);
        assert_true(v == sv[i]);
    }
    for (i = 0; i < sizeof(uv) / sizeof(uv[0]); i++) {
        uint64_t v;
        assert_int_equal(tide_get_uvar(&p, end, &v), 0);
        assert_true(v == uv[i]);
    }
    assert_ptr_equal(p, end);
    tide_buf_free(&b);
}

/* decimal without printf: the extremes and every length, against snprintf */
static void u64_dec_matches_printf(void **state)
{
    uint64_t v[] = {0, 7, 9, 10, 99, 100, 123456789, 1000000000000ull, UINT64_MAX - 1, UINT64_MAX};
    char out[21], want[32];
    size_t i, n;
    (void)state;
    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        n = tide_u64_dec(out, v[i]);
        out[n] = 0;
        snprintf(want, sizeof(want), "%llu", (unsigned long long)v[i]);
        assert_int_equal(n, strlen(want));
        assert_string_equal(out, want);
    }
}

static void varint_truncated_is_error(void **state)
{
    uint8_t x[] = {0x80, 0x80};
    const uint8_t *p = x;
    uint64_t v;
    assert_int_equal(tide_get_uvar(&p, x + 2, &v), TIDE_E_FORMAT);
    uint8_t over[11];
    memset(over, 0xff, sizeof(over));
    p = over;
    assert_int_equal(tide_get_uvar(&p, over + 11, &v), TIDE_E_FORMAT);
}

static void base64_roundtrip_all_lengths(void **state)
{
    uint8_t data[64];
    size_t n;
    for (n = 0; n < sizeof(data); n++)
        data[n] = (uint8_t)(n * 37 + 11);
    for (n = 0; n <= sizeof(data); n++) {
        struct tide_buf e, d;
        tide_buf_init(&e, 0);
        tide_buf_init(&d, 0);
        assert_int_equal(tide_base64_encode(&e, data, n), 0);
        assert_int_equal(e.len % 4, 0);
        assert_int_equal(tide_base64_decode(&d, e.p, e.len), 0);
        assert_int_equal(d.len, n);
        assert_memory_equal(d.p ? d.p : "", data, n);
        tide_buf_free(&e);
        tide_buf_free(&d);
    }
}

static void base64_rejects_garbage(void **state)
{
    struct tide_buf d;
    tide_buf_init(&d, 0);
    assert_int_equal(tide_base64_decode(&d, "ab$d", 4), TIDE_E_FORMAT);
    assert_int_equal(tide_base64_decode(&d, "a", 1), TIDE_E_FORMAT);
    tide_buf_free(&d);
}

static void json_escape_invalid_utf8_as_surrogate_escape(void **state)
{
    struct tide_buf b;
    const char in[] = "a\"\\\n\x01\xff\xc3\xa9";
    tide_buf_init(&b, 0);
    assert_int_equal(tide_json_escape(&b, in, sizeof(in) - 1), 0);
    assert_int_equal(b.len, strlen("a\\\"\\\\\\n\\u0001\\udcff\xc3\xa9"));
    assert_memory_equal(b.p, "a\\\"\\\\\\n\\u0001\\udcff\xc3\xa9", b.len);
    tide_buf_free(&b);
}

static void time_rfc3339_parse_and_format(void **state)
{
    int64_t ns;
    char out[31];
    assert_int_equal(tide_time_parse_rfc3339("2026-11-21T10:00:00.123456789Z", 30, &ns), 0);
    tide_time_format_rfc3339(ns, out);
    assert_string_equal(out, "2026-11-21T10:00:00.123456789Z");
    assert_int_equal(tide_time_parse_rfc3339("2026-11-21T11:00:00+01:00", 25, &ns), 0);
    tide_time_format_rfc3339(ns, out);
    assert_string_equal(out, "2026-11-21T10:00:00.000000000Z");
    assert_int_equal(tide_time_parse_rfc3339("1970-01-01T00:00:00Z", 20, &ns), 0);
    assert_true(ns == 0);
    assert_int_equal(tide_time_parse_rfc3339("2024-02-29 23:59:59.5-05:30", 27, &ns), 0);
    tide_time_format_rfc3339(ns, out);
    assert_string_equal(out, "2024-03-01T05:29:59.500000000Z");
    assert_int_equal(tide_time_parse_rfc3339("2026-13-01T00:00:00Z", 20, &ns), TIDE_E_FORMAT);
    assert_int_equal(tide_time_parse_rfc3339("2026-11-21T10:00:00Zjunk", 24, &ns), TIDE_E_FORMAT);
    assert_int_equal(tide_time_parse_rfc3339("", 0, &ns), TIDE_E_FORMAT);
}

static void duration_parse_forms(void **state)
{
    int64_t ns;
    assert_int_equal(tide_duration_parse("90m", &ns), 0);
    assert_true(ns == 90LL * 60 * TIDE_NS_PER_SEC);
    assert_int_equal(tide_duration_parse("1h30m", &ns), 0);
    assert_true(ns == 90LL * 60 * TIDE_NS_PER_SEC);
    assert_int_equal(tide_duration_parse("250ms", &ns), 0);
    assert_true(ns == 250000000LL);
    assert_int_equal(tide_duration_parse("2.5s", &ns), 0);
    assert_true(ns == 2500000000LL);
    assert_int_equal(tide_duration_parse("45", &ns), 0);
    assert_true(ns == 45 * TIDE_NS_PER_SEC);
    assert_int_equal(tide_duration_parse("1d", &ns), 0);
    assert_true(ns == 86400 * TIDE_NS_PER_SEC);
    assert_int_equal(tide_duration_parse("5x", &ns), TIDE_E_FORMAT);
    assert_int_equal(tide_duration_parse("m", &ns), TIDE_E_FORMAT);
}

struct memsrc {
    const char *p;
    size_t n, off, step;
};

static long memread(void *userp, void *buf, size_t n, struct tide_err *err)
{
    struct memsrc *m = userp;
    size_t k = m->n - m->off;
    if (k > n)
        k = n;
    if (k > m->step)
        k = m->step;
    memcpy(buf, m->p + m->off, k);
    m->off += k;
    return (long)k;
}

static void lines_crlf_last_line_and_overlong(void **state)
{
    char big[300];
    char text[1000];
    struct memsrc m;
    struct tide_lines l;
    struct tide_str s;
    struct tide_err err;
    memset(big, 'x', sizeof(big));
    snprintf(text, sizeof(text), "one\r\ntwo\n\n%.*s\nlast", (int)sizeof(big), big);
    m = (struct memsrc){text, strlen(text), 0, 7};
    tide_lines_init(&l, memread, &m, 100);
    assert_int_equal(tide_lines_next(&l, &s, &err), 1);
    assert_true(tide_str_is_eq_c(s, "one"));
    assert_int_equal(tide_lines_next(&l, &s, &err), 1);
    assert_true(tide_str_is_eq_c(s, "two"));
    assert_int_equal(tide_lines_next(&l, &s, &err), 1);
    assert_int_equal(s.len, 0);
    assert_int_equal(tide_lines_next(&l, &s, &err), TIDE_E_LIMIT);
    assert_int_equal(l.lineno, 4);
    assert_int_equal(tide_lines_next(&l, &s, &err), 1);
    assert_true(tide_str_is_eq_c(s, "last"));
    assert_int_equal(l.lineno, 5);
    assert_int_equal(tide_lines_next(&l, &s, &err), 0);
    tide_lines_free(&l);
}

static void strmap_counts_and_caps(void **state)
{
    struct tide_strmap m;
    bool added;
    int rc, i;
    char k[16];
    tide_strmap_init(&m, 1000);
    for (i = 0; i < 3000; i++) {
        struct tide_strmap_ent *e;
        snprintf(k, sizeof(k), "k%d", i % 1000);
        e = tide_strmap_upsert(&m, tide_str_c(k), &added, &rc);
        assert_non_null(e);
        e->value++;
    }
    assert_int_equal(m.n, 1000);
    assert_int_equal(tide_strmap_get(&m, tide_str_c("k7"))->value, 3);
    assert_null(tide_strmap_upsert(&m, tide_str_c("new"), &added, &rc));
    assert_int_equal(rc, TIDE_E_LIMIT);
    assert_null(tide_strmap_get(&m, tide_str_c("absent")));
    tide_strmap_free(&m);
}

static void buf_cap_is_enforced(void **state)
{
    struct tide_buf b;
    tide_buf_init(&b, 10);
    assert_int_equal(tide_buf_append(&b, "0123456789", 10), 0);
    assert_int_equal(tide_buf_append(&b, "x", 1), TIDE_E_LIMIT);
    assert_int_equal(b.len, 10);
    tide_buf_free(&b);
}

static void arena_reset_reuses_memory(void **state)
{
    struct tide_arena a;
    void *p1, *p2;
    tide_arena_init(&a, 0);
    p1 = tide_arena_alloc(&a, 100);
    tide_arena_reset(&a);
    p2 = tide_arena_alloc(&a, 100);
    assert_ptr_equal(p1, p2);
    tide_arena_free(&a);
}

/* ---- the ring: a producer and a consumer thread ---- */

struct ring_case {
    struct tide_ring q;
    uint64_t slot[4];
    uint64_t sum, n;
};

static void *ring_consumer(void *arg)
{
    struct ring_case *c = arg;
    uint64_t s;
    while (tide_ring_get(&c->q, &s)) {
        c->sum += c->slot[s % 4];
        c->n++;
        tide_ring_done(&c->q);
    }
    return NULL;
}

static void ring_hands_every_slot_over_in_order(void **state)
{
    static struct ring_case c;
    struct tide_err e, got;
    pthread_t t;
    uint64_t i, head = 0, want = 0;
    tide_ring_init(&c.q, 4);
    assert_int_equal(pthread_create(&t, NULL, ring_consumer, &c), 0);
    for (i = 1; i <= 100000; i++) {
        c.slot[head % 4] = i; /* the filling slot is the producer's alone */
        want += i;
        head = tide_ring_put(&c.q);
        assert_true(head - __atomic_load_n(&c.q.tail, __ATOMIC_ACQUIRE) < 4);
    }
    tide_ring_wait_empty(&c.q);
    assert_true(c.n == 100000 && c.sum == want);
    tide_err_set(&e, TIDE_E_IO, "out", "disk full");
    tide_ring_fail(&c.q, TIDE_E_IO, &e);
    tide_ring_fail(&c.q, TIDE_E_NOMEM, NULL); /* the first failure stays */
    assert_int_equal(tide_ring_failure(&c.q, &got), TIDE_E_IO);
    assert_string_equal(got.msg, "disk full");
    tide_ring_close(&c.q);
    assert_false(tide_ring_wait_room(&c.q)); /* closed: no more room is waited for */
    assert_int_equal(pthread_join(t, NULL), 0); /* closed and empty: the consumer ends */
    tide_ring_destroy(&c.q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(varint_roundtrip_extremes),
        cmocka_unit_test(u64_dec_matches_printf),
        cmocka_unit_test(varint_truncated_is_error),
        cmocka_unit_test(base64_roundtrip_all_lengths),
        cmocka_unit_test(base64_rejects_garbage),
        cmocka_unit_test(json_escape_invalid_utf8_as_surrogate_escape),
        cmocka_unit_test(time_rfc3339_parse_and_format),
        cmocka_unit_test(duration_parse_forms),
        cmocka_unit_test(lines_crlf_last_line_and_overlong),
        cmocka_unit_test(strmap_counts_and_caps),
        cmocka_unit_test(buf_cap_is_enforced),
        cmocka_unit_test(arena_reset_reuses_memory),
        cmocka_unit_test(ring_hands_every_slot_over_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
