/*
 * cmd_mock.c - `tide mock TRACE --listen ADDR`: serve a trace's recorded
 * answers until SIGINT/SIGTERM, so replay can be tried without staging.
 */
#include "cli_int.h"
#include "capture/capture.h"

#include "replay/replay.h"

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static volatile int g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

void help_mock(FILE *f)
{
    fprintf(f, "usage: tide mock TRACE --listen ADDR:PORT [options]\n"
               "Answers each route (method + path template) with the statuses, sizes and\n"
               "latencies recorded in TRACE, in recorded order; unknown routes get 404.\n\n"
               "  -l, --listen ADDR:PORT   where to listen (127.0.0.1:8080; port 0 = any)\n"
               "      --latency-scale X    recorded latencies times X (default 1)\n"
               "      --latency D          answer every request after D instead\n"
               "      --stall-every N      every Nth request is never answered\n"
               "      --reset-every N      every Nth request's connection is reset\n"
               "      --garbage-every N    every Nth request gets a non-HTTP answer\n"
               "      --allow-raw          serve from a raw trace\n");
}

static void ready(void *userp, int port)
{
    (void)userp;
    fprintf(stderr, "tide: mock listening on port %d\n", port);
    fflush(stderr);
}

int cmd_mock(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, 0, 'l'}, {"latency-scale", required_argument, 0, 's'},
        {"latency", required_argument, 0, 'L'}, {"stall-every", required_argument, 0, 'S'},
        {"reset-every", required_argument, 0, 'R'}, {"garbage-every", required_argument, 0, 'G'},
        {"allow-raw", no_argument, 0, 'a'}, {0, 0, 0, 0}};
    struct tide_mock_opts o;
    struct tide_err err = {0};
    struct tide_trace_reader *r;
    bool allow_raw = false;
    int c, fd;
    memset(&o, 0, sizeof(o));
    o.latency_scale = 1;
    o.fixed_latency_ns = -1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "l:", longopts, NULL)) != -1) {
        switch (c) {
        case 'l': o.listen = optarg; break;
        case 's': o.latency_scale = atof(optarg); break;
        case 'L':
            if (tide_duration_parse(optarg, &o.fixed_latency_ns)) {
                cli_errorf("--latency: not a duration");
                return EXIT_USAGE;
            }
            break;
        case 'S': o.stall_every = atoi(optarg); break;
        case 'R': o.reset_every = atoi(optarg); break;
        case 'G': o.garbage_every = atoi(optarg); break;
        case 'a': allow_raw = true; break;
        default: help_mock(stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc - 1 || !o.listen) {
        cli_errorf("mock: one trace and --listen ADDR:PORT are required");
        return EXIT_USAGE;
    }
    o.trace_path = argv[optind];
    if (tide_input_is_stream(o.trace_path)) {
        cli_errorf("mock: the trace must be a file, not stdin or a pipe (it is read more than once)");
        return EXIT_USAGE;
    }
    fd = cli_in_open(o.trace_path, &err);
    if (fd < 0 || tide_trace_reader_open(&r, fd, o.trace_path, NULL, &err)) {
        cli_error(&err);
        return EXIT_USAGE;
    }
    if (tide_trace_reader_is_raw(r) && !allow_raw) {
        cli_errorf("%s: this trace is raw (not anonymized); pass --allow-raw to serve from it",
                   o.trace_path);
        tide_trace_reader_free(r);
        return EXIT_USAGE;
    }
    tide_trace_reader_free(r);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    o.stop = &g_stop;
    o.on_ready = ready;
    if (tide_mock_run(&o, &err)) {
        cli_error(&err);
        return err.code == TIDE_E_USAGE ? EXIT_USAGE : EXIT_RUNTIME;
    }
    return EXIT_OK;
}
