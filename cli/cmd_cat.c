/*
 * cmd_cat.c - `tide cat TRACE`: records as JSON lines, optionally a time
 * window (a seek through the index) and a limit. What was good is printed
 * even when the trace is cut short or has corrupt blocks; the exit code says.
 */
#include "cli_int.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void help_cat(FILE *f)
{
    fprintf(f,
            "usage: tide cat TRACE [options]\n"
            "Prints the records of TRACE ('-' = stdin) as JSON lines (docs/jsonl.md).\n\n"
            "      --from T         first request start to print: RFC 3339, or +OFFSET\n"
            "                       from the trace start (+90m, +1h30m)\n"
            "      --to T           end of the window (exclusive), same forms\n"
            "      --limit N        print at most N records\n"
            "      --allow-raw      print a raw (not anonymized) trace\n"
            "      --skip-corrupt   go on past corrupt blocks, counting what was skipped\n");
}

/* Shared by cat and inspect: --from/--to into reader options. */
static int parse_window(const char *from, const char *to, struct tide_trace_reader_opts *o)
{
    o->from_ns = o->to_ns = TIDE_TIME_UNKNOWN;
    if (from && cli_parse_when(from, &o->from_ns, &o->from_is_offset)) {
        cli_errorf("--from: not an RFC 3339 time or +OFFSET");
        return -1;
    }
    if (to && cli_parse_when(to, &o->to_ns, &o->to_is_offset)) {
        cli_errorf("--to: not an RFC 3339 time or +OFFSET");
        return -1;
    }
    return 0;
}

int cmd_cat(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"from", required_argument, 0, 'f'}, {"to", required_argument, 0, 't'},
        {"limit", required_argument, 0, 'n'}, {"allow-raw", no_argument, 0, 'R'},
        {"skip-corrupt", no_argument, 0, 'S'}, {0, 0, 0, 0}};
    const char *from = NULL, *to = NULL;
    long long limit = -1, n = 0;
    bool allow_raw = false;
    struct tide_trace_reader_opts ro = {0};
    struct tide_trace_reader *r = NULL;
    struct tide_err err = {0};
    struct tide_buf out;
    const struct tide_record *rec;
    int c, fd, rc, ex, wrc = 0;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'f': from = optarg; break;
        case 't': to = optarg; break;
        case 'n': limit = strtoll(optarg, NULL, 10); break;
        case 'R': allow_raw = true; break;
        case 'S': ro.skip_corrupt = true; break;
        default: help_cat(stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        cli_errorf("cat: exactly one trace expected");
        return EXIT_USAGE;
    }
    if (parse_window(from, to, &ro))
        return EXIT_USAGE;
    fd = cli_in_open(argv[optind], &err);
    if (fd < 0) {
        cli_error(&err);
        return EXIT_USAGE;
    }
    rc = tide_trace_reader_open(&r, fd, argv[optind], &ro, &err);
    if (rc) {
        cli_error(&err);
        if (fd > 0)
            close(fd);
        return rc == TIDE_E_IO || rc == TIDE_E_NOMEM ? EXIT_RUNTIME : EXIT_USAGE;
    }
    if (tide_trace_reader_is_raw(r) && !allow_raw) {
        cli_errorf("%s: this trace is raw (not anonymized) and may hold personal data; "
                   "pass --allow-raw to print it", argv[optind]);
        tide_trace_reader_free(r);
        if (fd > 0)
            close(fd);
        return EXIT_USAGE;
    }
    tide_buf_init(&out, 0);
    rc = 0;
    while (limit < 0 || n < limit) {
        rc = tide_trace_reader_next(r, &rec, &err);
        if (rc <= 0)
            break;
        if (tide_record_to_json(rec, &out)) {
            cli_errorf("cat: record too large to print");
            rc = TIDE_E_LIMIT;
            break;
        }
        n++;
        if (out.len >= 1 << 16) {
            if ((wrc = cli_stdout_write(out.p, out.len)) != 0) {
                rc = 0; /* the reader of our output went away, or the disk is full (said) */
                out.len = 0;
                break;
            }
            out.len = 0;
        }
    }
    if (out.len && !wrc)
        wrc = cli_stdout_write(out.p, out.len);
    ex = cli_reader_end(r, rc, &err);
    if (wrc < 0 && ex == EXIT_OK)
        ex = EXIT_RUNTIME;
    tide_buf_free(&out);
    tide_trace_reader_free(r);
    if (fd > 0)
        close(fd);
    return ex;
}
