/*
 * Unit tests for replay/'s pure parts: due times with a made-up clock,
 * multiplier copies and sampling, clone jitter and rewriting, traffic
 * classes, and the histogram (buckets, quantiles, merging).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "replay/replay.h"

#define S TIDE_NS_PER_SEC

static void due_times_scale_by_speed(void **state)
{
    int64_t start_at = 1000 * S, w0 = 5000 * S;
    assert_true(tide_sched_due(start_at, w0, w0, 1) == start_at);
    assert_true(tide_sched_due(start_at, w0, w0 + 60 * S, 10) == start_at + 6 * S);
    /* a day in an hour */
    assert_true(tide_sched_due(start_at, w0, w0 + 86400 * S, 24) == start_at + 3600 * S);
    assert_true(tide_sched_due(start_at, w0, w0 + 10 * S, 0.5) == start_at + 20 * S);
}

static void multiplier_whole_clones_plus_a_hashed_fraction(void **state)
{
    int i, n3 = 0, extra = 0, sampled = 0;
    for (i = 0; i < 10000; i++) {
        uint64_t h = tide_session_hash(tide_str_make((const char *)&i, sizeof(i)));
        n3 += tide_sched_copies(h, 3) == 3;
        extra += tide_sched_copies(h, 2.5) == 3;
        sampled += tide_sched_copies(h, 0.1);
        /* the same session always gets the same answer */
        assert_int_equal(tide_sched_copies(h, 2.5), tide_sched_copies(h, 2.5));
    }
    assert_int_equal(n3, 10000);
    assert_in_range(extra, 4500, 5500);  /* half of the sessions get a third copy */
    assert_in_range(sampled, 800, 1200); /* a tenth of the sessions are kept */
}

static void clone_jitter_is_bounded_and_deterministic(void **state)
{
    uint64_t h = 12345;
    int c;
    assert_true(tide_sched_jitter(h, 0, S) == 0);
    for (c = 1; c < 50; c++) {
        int64_t j = tide_sched_jitter(h, c, 250000000);
        assert_true(j >= 0 && j < 250000000);
        assert_true(j == tide_sched_jitter(h, c, 250000000));
    }
}

static void clone_rewrite_changes_pseudonyms_consistently(void **state)
{
    struct tide_buf a, b, c0;
    const char *in = "/u/p_abcdefghij/x?sid=t_abcdefghijklmnopqrstuv&page=2&word=p_short";
    tide_buf_init(&a, 0);
    tide_buf_init(&b, 0);
    tide_buf_init(&c0, 0);
    tide_clone_rewrite(tide_str_c(in), 0, &c0);
    assert_int_equal(c0.len, strlen(in));
    assert_memory_equal(c0.p, in, c0.len);
    tide_clone_rewrite(tide_str_c(in), 1, &a);
    tide_clone_rewrite(tide_str_c(in), 1, &b);
    assert_int_equal(a.len, strlen(in));
    assert_memory_equal(a.p, b.p, a.len);          /* consistent */
    assert_true(memcmp(a.p, in, a.len) != 0);      /* distinct from the original */
    assert_memory_equal(a.p, "/u/p_abcdefg", 12);  /* shape and prefix kept */
    assert_non_null(memmem(a.p, a.len, "&page=2&word=p_short", 20)); /* non-pseudonyms untouched */
    tide_buf_reset(&b);
    tide_clone_rewrite(tide_str_c(in), 2, &b);
    assert_true(memcmp(a.p, b.p, a.len) != 0);     /* clones differ from each other */
    tide_buf_free(&a);
    tide_buf_free(&b);
    tide_buf_free(&c0);
}

static void traffic_classes_from_user_agents(void **state)
{
    assert_int_equal(tide_traffic_class(tide_str_c("Mozilla/5.0 (compatible; Googlebot/2.1)")), TIDE_CLASS_GOOGLEBOT);
    assert_int_equal(tide_traffic_class(tide_str_c("Mozilla/5.0 (compatible; bingbot/2.0)")), TIDE_CLASS_BINGBOT);
    assert_int_equal(tide_traffic_class(tide_str_c("AhrefsBot/7.0")), TIDE_CLASS_CRAWLER);
    assert_int_equal(tide_traffic_class(tide_str_c("Mozilla/5.0 (iPhone)")), TIDE_CLASS_HUMAN);
    assert_int_equal(tide_traffic_class(tide_str_make(NULL, 0)), TIDE_CLASS_HUMAN);
}

static void histogram_relative_error_and_merge(void **state)
{
    static struct tide_hist a, b;
    uint64_t v;
    int i;
    for (v = 1; v < ((uint64_t)1 << 36); v = v * 3 / 2 + 1) {
        int idx = tide_hist_bucket(v);
        uint64_t hi = tide_hist_bucket_high(idx);
        assert_true(idx < TIDE_HIST_BUCKETS);
        assert_true(hi >= v);
        assert_true((double)(hi - v) <= (double)v / 64.0 + 1); /* under 1.6% */
        if (idx > 0)
            assert_true(tide_hist_bucket_high(idx - 1) < v);
    }
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    for (i = 1; i <= 1000; i++)
        tide_hist_add(i <= 500 ? &a : &b, (uint64_t)i * 1000);
    tide_hist_merge(&a, &b);
    assert_int_equal(a.count, 1000);
    assert_int_equal(a.max, 1000000);
    v = tide_hist_quantile(&a, 0.5);
    assert_in_range(v, 500000, 508000);
    v = tide_hist_quantile(&a, 0.99);
    assert_in_range(v, 990000, 1000000);
    assert_int_equal(tide_hist_quantile(&a, 1.0), 1000000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(due_times_scale_by_speed),
        cmocka_unit_test(multiplier_whole_clones_plus_a_hashed_fraction),
        cmocka_unit_test(clone_jitter_is_bounded_and_deterministic),
        cmocka_unit_test(clone_rewrite_changes_pseudonyms_consistently),
        cmocka_unit_test(traffic_classes_from_user_agents),
        cmocka_unit_test(histogram_relative_error_and_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
