/*
 * cmd_plan.c - tide plan: from a traffic forecast to a stage profile.
 *
 * baseline RPS = DAU x sessions per DAU x requests per session x concurrency
 * factor / 3600 (the busy hour's rate); plateaus rise evenly from the
 * baseline to headroom x baseline, each a warm-up then a hold at that rate.
 * With --trace, the table also says what multiplier each plateau needs of
 * that trace (the average rate of its replayed requests, at --speed).
 */
#include "cli_int.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "replay/replay.h"

void help_plan(FILE *f)
{
    fprintf(f, "usage: tide plan --dau N --sessions-per-dau S --requests-per-session R\n"
               "                 --concurrency-factor C [options] [-o PROFILE.json]\n"
               "Turns a forecast into a capacity-test profile for tide replay --profile.\n"
               "baseline req/s = N x S x R x C / 3600 (C: the peak hour's share of a day's\n"
               "traffic times 24, e.g. 2.5); plateaus rise evenly up to headroom x baseline.\n\n"
               "      --headroom H       the last plateau's factor over the baseline (default 3)\n"
               "      --plateaus P       how many plateaus (default 5)\n"
               "      --warmup D         warm-up before each plateau (default 2m; 0 for none)\n"
               "      --hold D           each plateau's measured time (default 15m)\n"
               "      --trace TRACE      also print the multiplier of TRACE each plateau needs\n"
               "      --speed S          the replay speed those multipliers assume (default 1)\n"
               "  -o, --output FILE      write the profile (JSON); without it, the table only\n\n"
               "Spikes instead of plateaus:\n"
               "      --spikes N         N spikes over the baseline, at random gaps\n"
               "      --spike-factor F   each spike's factor over the baseline (default 10)\n"
               "      --spike-hold D     each spike's length (default 5m)\n"
               "      --gap-min D, --gap-max D  the baseline stretch before each spike (default 5m..20m)\n"
               "      --seed S           the gaps' random seed (default 1): the same seed, the same profile\n");
}

static void dur_str(int64_t ns, char *b, size_t n)
{
    int64_t s = ns / TIDE_NS_PER_SEC;
    if (ns % TIDE_NS_PER_SEC)
        snprintf(b, n, "%gs", (double)ns / 1e9);
    else if (s && s % 3600 == 0)
        snprintf(b, n, "%lldh", (long long)(s / 3600));
    else if (s && s % 60 == 0)
        snprintf(b, n, "%lldm", (long long)(s / 60));
    else
        snprintf(b, n, "%llds", (long long)s);
}

/* The average rate (req/s at speed 1) of the requests replay sends by default. */
static int trace_rate(const char *path, double *rate, uint64_t *n_out)
{
    struct tide_err err = {0};
    struct tide_trace_reader *r;
    const struct tide_record *rec;
    int64_t first = TIDE_TIME_UNKNOWN, last = 0;
    uint64_t n = 0;
    int fd = cli_in_open(path, &err), rc;
    if (fd < 0 || tide_trace_reader_open(&r, fd, path, NULL, &err)) {
        cli_error(&err);
        if (fd >= 0)
            close(fd);
        return EXIT_USAGE;
    }
    while ((rc = tide_trace_reader_next(r, &rec, &err)) == 1) {
        if (first == TIDE_TIME_UNKNOWN || rec->ts_ns < first)
            first = rec->ts_ns;
        if (rec->ts_ns > last)
            last = rec->ts_ns;
        if (tide_str_is_eq_c(rec->method, "GET") || tide_str_is_eq_c(rec->method, "HEAD") ||
            tide_str_is_eq_c(rec->method, "OPTIONS"))
            n++;
    }
    rc = cli_reader_end(r, rc, &err);
    tide_trace_reader_free(r);
    close(fd);
    if (rc != EXIT_OK)
        return rc;
    if (!n) {
        cli_errorf("%s: no GET, HEAD or OPTIONS requests to scale", path);
        return EXIT_USAGE;
    }
    /* the same span the replay engine loops over: first to last plus a second */
    *rate = (double)n / ((double)(last - first) / 1e9 + 1.0);
    *n_out = n;
    return EXIT_OK;
}

static int num_arg(const char *name, const char *s, double *v)
{
    char *end;
    *v = strtod(s, &end);
    if (end == s || *end || !isfinite(*v) || *v <= 0) {
        cli_errorf("plan: --%s takes a number greater than zero", name);
        return -1;
    }
    return 0;
}

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A profile stage at a target rate (to the cent). */
static void stage_json(cJSON *arr, const char *name, const char *dur, double rate, bool warmup)
{
    cJSON *st = cJSON_CreateObject();
    cJSON_AddStringToObject(st, "name", name);
    cJSON_AddStringToObject(st, "duration", dur);
    cJSON_AddNumberToObject(st, "rate", round(rate * 100) / 100);
    if (warmup)
        cJSON_AddBoolToObject(st, "warmup", 1);
    cJSON_AddItemToArray(arr, st);
}

/* A stage of a spike profile, as a table row and into the profile. */
static void add_stage(cJSON *arr, const char *name, int64_t dur, double rate, bool warmup, double factor,
                      double trace_rps)
{
    char d[32];
    dur_str(dur, d, sizeof(d));
    stage_json(arr, name, d, rate, warmup);
    printf("  %-10s %7.2fx %10.2f %10s%s", name, factor, rate, d, warmup ? "  (warm-up)" : "");
    if (trace_rps > 0)
        printf("  %10.3fx", rate / trace_rps);
    putchar('\n');
}

/* A warm-up at the baseline, then N times (baseline for a random gap, a spike),
 * then a recovery at the baseline as long as the shortest gap. Gaps are whole
 * seconds drawn from the seed. */
static void plan_spikes(cJSON *arr, double base, double trace_rps, int n, double f, int64_t hold, int64_t gmin,
                        int64_t gmax, int64_t warm, uint64_t seed)
{
    uint64_t x = seed;
    int64_t span = (gmax - gmin) / TIDE_NS_PER_SEC + 1;
    char name[32];
    int k;
    printf("\n  %-10s %8s %10s %10s%s\n", "stage", "factor", "req/s", "duration", trace_rps > 0 ? "  multiplier" : "");
    if (warm > 0)
        add_stage(arr, "base-warm", warm, base, true, 1, trace_rps);
    for (k = 0; k < n; k++) {
        int64_t gap = gmin + (int64_t)(splitmix(&x) % (uint64_t)span) * TIDE_NS_PER_SEC;
        snprintf(name, sizeof(name), "base%d", k + 1);
        add_stage(arr, name, gap, base, false, 1, trace_rps);
        snprintf(name, sizeof(name), "spike%d", k + 1);
        add_stage(arr, name, hold, base * f, false, f, trace_rps);
    }
    add_stage(arr, "recovery", gmin, base, false, 1, trace_rps);
}

int cmd_plan(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"dau", required_argument, 0, 'D'}, {"sessions-per-dau", required_argument, 0, 'S'},
        {"requests-per-session", required_argument, 0, 'R'}, {"concurrency-factor", required_argument, 0, 'C'},
        {"headroom", required_argument, 0, 'H'}, {"plateaus", required_argument, 0, 'P'},
        {"warmup", required_argument, 0, 'w'}, {"hold", required_argument, 0, 'h'},
        {"trace", required_argument, 0, 't'}, {"speed", required_argument, 0, 's'},
        {"output", required_argument, 0, 'o'}, {"spikes", required_argument, 0, 'K'},
        {"spike-factor", required_argument, 0, 'F'}, {"spike-hold", required_argument, 0, 'L'},
        {"gap-min", required_argument, 0, 'g'}, {"gap-max", required_argument, 0, 'G'},
        {"seed", required_argument, 0, 'e'}, {0, 0, 0, 0}};
    int spikes = 0;
    double spike_f = 10;
    int64_t spike_hold = 300 * TIDE_NS_PER_SEC, gap_min = 300 * TIDE_NS_PER_SEC, gap_max = 1200 * TIDE_NS_PER_SEC;
    uint64_t seed = 1;
    double dau = 0, spd = 0, rps_s = 0, cf = 0, headroom = 3, speed = 1, trate = 0, v;
    int64_t warm = 120 * TIDE_NS_PER_SEC, hold = 900 * TIDE_NS_PER_SEC;
    int plateaus = 5, c, k, ex = EXIT_OK;
    const char *trace = NULL, *out = NULL;
    uint64_t tn = 0;
    double base;
    cJSON *prof, *arr;

    optind = 1;
    while ((c = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
        switch (c) {
        case 'D': if (num_arg("dau", optarg, &dau)) return EXIT_USAGE; break;
        case 'S': if (num_arg("sessions-per-dau", optarg, &spd)) return EXIT_USAGE; break;
        case 'R': if (num_arg("requests-per-session", optarg, &rps_s)) return EXIT_USAGE; break;
        case 'C': if (num_arg("concurrency-factor", optarg, &cf)) return EXIT_USAGE; break;
        case 'H': if (num_arg("headroom", optarg, &headroom)) return EXIT_USAGE; break;
        case 's': if (num_arg("speed", optarg, &speed)) return EXIT_USAGE; break;
        case 'P':
            if (num_arg("plateaus", optarg, &v) || v != floor(v) || v > 30) {
                cli_errorf("plan: --plateaus takes a whole number from 1 to 30");
                return EXIT_USAGE;
            }
            plateaus = (int)v;
            break;
        case 'w':
        case 'h':
            if (tide_duration_parse(optarg, c == 'w' ? &warm : &hold) || (c == 'h' && hold <= 0)) {
                cli_errorf("plan: --%s takes a duration (90s, 15m, 1h)", c == 'w' ? "warmup" : "hold");
                return EXIT_USAGE;
            }
            break;
        case 'K':
            if (num_arg("spikes", optarg, &v) || v != floor(v) || v > 20) {
                cli_errorf("plan: --spikes takes a whole number from 1 to 20");
                return EXIT_USAGE;
            }
            spikes = (int)v;
            break;
        case 'F': if (num_arg("spike-factor", optarg, &spike_f)) return EXIT_USAGE; break;
        case 'L':
        case 'g':
        case 'G': {
            int64_t *d = c == 'L' ? &spike_hold : c == 'g' ? &gap_min : &gap_max;
            if (tide_duration_parse(optarg, d) || *d < TIDE_NS_PER_SEC) {
                cli_errorf("plan: --%s takes a duration of at least 1s", c == 'L' ? "spike-hold" : c == 'g' ? "gap-min" : "gap-max");
                return EXIT_USAGE;
            }
            break;
        }
        case 'e': seed = strtoull(optarg, NULL, 10); break;
        case 't': trace = optarg; break;
        case 'o': out = optarg; break;
        default: help_plan(stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc || !dau || !spd || !rps_s || !cf) {
        cli_errorf("plan: --dau, --sessions-per-dau, --requests-per-session and --concurrency-factor are required");
        return EXIT_USAGE;
    }
    if (headroom < 1 || headroom > 1000) {
        cli_errorf("plan: --headroom must be from 1 to 1000");
        return EXIT_USAGE;
    }
    if (gap_max < gap_min) {
        cli_errorf("plan: --gap-max is shorter than --gap-min");
        return EXIT_USAGE;
    }
    if (spike_f > 1000) {
        cli_errorf("plan: --spike-factor must be at most 1000");
        return EXIT_USAGE;
    }
    if (trace && (ex = trace_rate(trace, &trate, &tn)) != EXIT_OK)
        return ex;
    base = dau * spd * rps_s * cf / 3600.0;
    printf("baseline: %g DAU x %g sessions x %g requests x %g / 3600 s = %.2f req/s\n", dau, spd, rps_s, cf, base);
    if (trace)
        printf("trace: %llu replayable requests, %.3f req/s on average at speed 1 (%.3f at %gx)\n",
               (unsigned long long)tn, trate, trate * speed, speed);
    if (!spikes)
        printf("\n  %-8s %8s %10s %10s %10s%s\n", "plateau", "factor", "req/s", "warm-up", "hold",
               trace ? "  multiplier" : "");
    prof = cJSON_CreateObject();
    arr = cJSON_AddArrayToObject(prof, "stages");
    if (spikes) {
        plan_spikes(arr, base, trace ? trate * speed : 0, spikes, spike_f, spike_hold, gap_min, gap_max, warm, seed);
        if (trace && base * spike_f / (trate * speed) > 1000)
            fprintf(stderr, "tide: plan: the spikes need more than 1000x of this trace; raise --speed\n");
    } else {
        for (k = 0; k < plateaus; k++) {
            double f = plateaus == 1 ? headroom : 1.0 + (headroom - 1.0) * k / (plateaus - 1);
            double rate = base * f;
            char name[32], wd[32], hd[32];
            dur_str(warm, wd, sizeof(wd));
            dur_str(hold, hd, sizeof(hd));
            printf("  p%-7d %7.2fx %10.2f %10s %10s", k + 1, f, rate, warm > 0 ? wd : "-", hd);
            if (trace)
                printf("  %10.3fx", rate / (trate * speed));
            putchar('\n');
            if (warm > 0) {
                snprintf(name, sizeof(name), "p%d-warm", k + 1);
                stage_json(arr, name, wd, rate, true);
            }
            snprintf(name, sizeof(name), "p%d", k + 1);
            stage_json(arr, name, hd, rate, false);
        }
        {
            char tot[32];
            dur_str((warm + hold) * plateaus, tot, sizeof(tot));
            printf("  total %s\n", tot);
        }
        if (trace && base * headroom / (trate * speed) > 1000)
            fprintf(stderr, "tide: plan: the top plateau needs more than 1000x of this trace; raise --speed\n");
    }
    if (out && cli_same_as_input(out)) {
        cli_errorf("%s: is also an input (the trace): the profile would overwrite it; choose another -o", out);
        ex = EXIT_USAGE;
    } else if (out) {
        char *js = cJSON_Print(prof);
        FILE *f = fopen(out, "w");
        if (!js || !f || fputs(js, f) < 0 || fputc('\n', f) < 0 || fclose(f) != 0) {
            cli_errorf("%s: cannot write the profile", out);
            ex = EXIT_RUNTIME;
        }
        free(js);
    }
    cJSON_Delete(prof);
    return ex;
}
