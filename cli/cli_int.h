/*
 * cli_int.h - shared pieces of the tide command line: exit codes, output
 * files, option helpers and the per-command entry points.
 *
 * Only cli/ prints to the terminal, calls exit() or touches signals.
 */
#ifndef TIDE_CLI_INT_H
#define TIDE_CLI_INT_H

#include <stdio.h>

#include "common/common.h"
#include "formats/trace.h"

/* Exit codes (docs/cli.md) */
enum {
    EXIT_OK = 0,
    EXIT_FINDINGS = 1,   /* audit findings, SLO failed */
    EXIT_USAGE = 2,      /* bad usage or bad input, refused before work */
    EXIT_ABORTED = 3,    /* replay stopped by an abort trigger */
    EXIT_RUNTIME = 4,    /* I/O failure, out of memory, ... */
    EXIT_INCOMPLETE = 5, /* what was good was output; input truncated/corrupt */
};

struct cli_cmd {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
    void (*help)(FILE *f);
};

int cmd_capture(int argc, char **argv);
void help_capture(FILE *f);
int cmd_import(int argc, char **argv);
void help_import(FILE *f);
int cmd_cat(int argc, char **argv);
void help_cat(FILE *f);
int cmd_inspect(int argc, char **argv);
void help_inspect(FILE *f);
int cmd_merge(int argc, char **argv);
void help_merge(FILE *f);

/* Prints "tide: <where>: <msg>" to stderr. */
void cli_error(const struct tide_err *err);
void cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warnf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* An output trace file: "-" is stdout. Removed on cli_out_abort. */
struct cli_out {
    int fd;
    char path[4096];
    bool is_file;
};
int cli_out_open(struct cli_out *o, const char *path, bool raw, struct tide_err *err);
/* Closes; on failure (fsync/close error) returns TIDE_E_IO and removes the file. */
int cli_out_close(struct cli_out *o, struct tide_err *err);
/* Closes and removes a file that must not look complete. */
void cli_out_abort(struct cli_out *o);

/* Opens an input trace path ("-" = stdin). Returns fd or -1 with err set. */
int cli_in_open(const char *path, struct tide_err *err);

/*
 * Parses a --from/--to value: RFC 3339 (absolute) or "+90m" (offset from
 * the trace start). Returns 0 or TIDE_E_FORMAT.
 */
int cli_parse_when(const char *s, int64_t *ns, bool *is_offset);

/* Writes all of b to fd 1; returns 0 or TIDE_E_IO (EPIPE quiet). */
int cli_stdout_write(const char *p, size_t n);

/* Reports a reader's ending: prints what was lost. Returns the exit code
 * (EXIT_OK, EXIT_INCOMPLETE, EXIT_RUNTIME, EXIT_USAGE) for the iterator rc. */
int cli_reader_end(struct tide_trace_reader *r, int rc, const struct tide_err *err);

/* Metadata JSON for a new trace. Caller owns the result (free). */
char *cli_meta_json(bool raw, const char *kind, const char *const *sources, int n_sources);

#endif
