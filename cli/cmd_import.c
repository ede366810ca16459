/*
 * cmd_import.c - `tide import FILE.jsonl -o OUT.tide`: JSON lines (the form
 * `tide cat` prints) into a trace. Bad lines are reported by line number and
 * reason, counted, and fail the run past --max-bad.
 */
#include "cli_int.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void help_import(FILE *f)
{
    fprintf(f,
            "usage: tide import FILE.jsonl... -o OUT.tide [options]\n"
            "Converts JSON lines (one record per line, as 'tide cat' prints them; '-' reads\n"
            "stdin) into a trace. Field reference: docs/jsonl.md.\n\n"
            "  -o, --output FILE    the trace to write ('-' = stdout)\n"
            CLI_ANON_HELP
            "      --max-bad N      fail if more than N lines are bad (default 0)\n"
            "      --level N        zstd level 1-22 (default 9)\n"
            "      --block-records N  records per block (default 65536)\n");
}

int cmd_import(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'}, {"raw", no_argument, 0, 'r'},
        {"max-bad", required_argument, 0, 'b'}, {"level", required_argument, 0, 'l'},
        {"block-records", required_argument, 0, 'B'}, CLI_ANON_LONGOPTS, {0, 0, 0, 0}};
    const char *outpath = NULL;
    bool raw = false;
    long max_bad = 0;
    struct tide_trace_writer_opts wo = {0};
    struct tide_err err = {0};
    struct cli_trace_out to;
    struct tide_arena scratch;
    struct tide_record rec = {0};
    uint64_t bad = 0, lines = 0, written = 0;
    int c, i, rc, ex = EXIT_OK;
    struct cli_anon ca;
    struct tide_sink sink;

    cli_anon_init(&ca);
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
        int ac = cli_anon_option(&ca, c, optarg);
        if (ac < 0)
            return EXIT_USAGE;
        if (ac > 0)
            continue;
        switch (c) {
        case 'o': outpath = optarg; break;
        case 'r': raw = true; break;
        case 'b': max_bad = strtol(optarg, NULL, 10); break;
        case 'l':
            if (cli_parse_level(optarg, &wo.level))
                return EXIT_USAGE;
            break;
        case 'B': wo.block_records = (uint32_t)strtoul(optarg, NULL, 10); break;
        default: help_import(stderr); return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        cli_errorf("import: no input files (use '-' for stdin)");
        return EXIT_USAGE;
    }
    for (i = optind; i < argc; i++)
        cli_note_input(argv[i]);
    ex = cli_trace_out_open(&to, outpath, raw, &ca, "jsonl", (const char *const *)argv + optind,
                            argc - optind, &wo);
    if (ex != EXIT_OK) {
        cli_trace_out_free(&to);
        return ex;
    }
    tide_arena_init(&scratch, 0);
    sink = to.sink;
    for (i = optind; i < argc && ex == EXIT_OK; i++) {
        struct tide_lines lr;
        struct tide_str line;
        int fd = cli_in_open(argv[i], &err);
        if (fd < 0) {
            cli_error(&err);
            ex = EXIT_USAGE;
            break;
        }
        tide_lines_init(&lr, tide_read_fd, &fd, TIDE_MAX_BODY * 2);
        for (;;) {
            tide_err_clear(&err);
            rc = tide_lines_next(&lr, &line, &err);
            if (rc == 0)
                break;
            lines++;
            if (rc == 1) {
                size_t k = 0;
                while (k < line.len && (line.p[k] == ' ' || line.p[k] == '\t'))
                    k++;
                if (k == line.len) {
                    lines--; /* blank lines are not records */
                    continue;
                }
                tide_arena_reset(&scratch);
                rc = tide_record_from_json(line.p, line.len, &rec, &scratch, &err);
                if (rc == 0) {
                    rc = sink.fn(sink.userp, &rec, &err);
                    if (rc) {
                        cli_error(&err);
                        ex = rc == TIDE_E_LIMIT ? EXIT_USAGE : EXIT_RUNTIME;
                        break;
                    }
                    written++;
                    continue;
                }
            }
            if (rc == TIDE_E_FORMAT || rc == TIDE_E_LIMIT) {
                bad++;
                if (bad <= 10)
                    fprintf(stderr, "tide: %s:%llu: %s\n", argv[i],
                            (unsigned long long)lr.lineno, err.msg);
                continue;
            }
            snprintf(err.where, sizeof(err.where), "%s", argv[i]);
            cli_error(&err);
            ex = EXIT_RUNTIME;
            break;
        }
        tide_lines_free(&lr);
        if (fd > 0)
            close(fd);
    }
    if (ex == EXIT_OK && (long)bad > max_bad) {
        cli_errorf("import: %llu bad line(s), more than --max-bad %ld; nothing written",
                   (unsigned long long)bad, max_bad);
        ex = EXIT_USAGE;
    }
    if (ex == EXIT_OK) {
        char fin[128];
        snprintf(fin, sizeof(fin), "{\"import\":{\"lines\":%llu,\"bad\":%llu}}",
                 (unsigned long long)lines, (unsigned long long)bad);
        ex = cli_trace_out_close(&to, fin);
        if (ex != EXIT_OK)
            goto out_free; /* closing said why and removed the file */
    }
    if (ex != EXIT_OK)
        cli_trace_out_abort(&to);
    else
        fprintf(stderr, "tide: import: %llu lines, %llu records written, %llu bad\n",
                (unsigned long long)lines, (unsigned long long)written, (unsigned long long)bad);
out_free:
    cli_trace_out_free(&to);
    tide_arena_free(&scratch);
    return ex;
}
