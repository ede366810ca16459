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

int cmd_replay(int argc, char **argv);
void help_replay(FILE *f);
int cmd_plan(int argc, char **argv);
void help_plan(FILE *f);
int cmd_report(int argc, char **argv);
void help_report(FILE *f);
int cmd_mock(int argc, char **argv);
void help_mock(FILE *f);
int cmd_anonymize(int argc, char **argv);
void help_anonymize(FILE *f);
int cmd_keygen(int argc, char **argv);
void help_keygen(FILE *f);
int cmd_audit(int argc, char **argv);
void help_audit(FILE *f);

/* ---- inline anonymization, shared by capture, import and anonymize ---- */
enum { CLI_OPT_POLICY = 1000, CLI_OPT_KEYFILE, CLI_OPT_IP, CLI_OPT_TIMESHIFT };
#define CLI_ANON_LONGOPTS                                                                \
    {"policy", required_argument, 0, CLI_OPT_POLICY},                                    \
        {"key-file", required_argument, 0, CLI_OPT_KEYFILE},                             \
        {"ip", required_argument, 0, CLI_OPT_IP}, {"time-shift", no_argument, 0, CLI_OPT_TIMESHIFT}
#define CLI_ANON_HELP                                                                    \
    "      --raw                keep personal data: no anonymization, the trace is\n"    \
    "                           marked raw (replay, cat and mock then need --allow-raw)\n" \
    "      --policy FILE        anonymization policy (default: tide anonymize\n"          \
    "                           --print-default-policy; docs/policy.md)\n"                 \
    "      --key-file K         pseudonym key (tide keygen); also TIDE_KEY_FILE\n"        \
    "      --ip cryptopan|truncate  client addresses (default cryptopan)\n"              \
    "      --time-shift         move times back by a keyed number of whole weeks\n"

struct tide_anon;
struct tide_anon_policy;
struct cli_anon {
    const char *policy_path, *key_path;
    int ip_mode;
    bool time_shift;
    struct tide_anon_policy *policy;
    struct tide_anon *anon;
};
void cli_anon_init(struct cli_anon *ca);
/* 1 if c was an anonymization option (consumed), 0 if not, -1 on a bad value. */
int cli_anon_option(struct cli_anon *ca, int c, const char *arg);
int cli_anon_setup(struct cli_anon *ca, struct tide_err *err);
/* Start metadata with the manifest (caller frees); final metadata with counts. */
char *cli_anon_meta(struct cli_anon *ca, const char *meta_json);
char *cli_anon_final(struct cli_anon *ca, const char *final_json);
struct tide_sink cli_anon_sink(struct cli_anon *ca, struct tide_sink next);
void cli_anon_free(struct cli_anon *ca);

/* Prints "tide: <where>: <msg>" to stderr. */
void cli_error(const struct tide_err *err);
void cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warnf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* An output trace file: "-" is stdout. Removed on cli_out_abort. */
struct cli_out {
    int fd;
    char path[4096];
    bool is_file; /* a regular file: synced at close, removed on failure (never a device or FIFO) */
    char tmp[4120]; /* a regular file is written as path.part-XXXXXX beside it, renamed at close */
    bool via_tmp;
};
/* Set before opening a live capture's output: written in place (readers see
 * it grow, and it is kept on a failure), not beside it and renamed. */
extern bool cli_out_in_place;
/* Notes a path this run reads (cli_in_open does it): cli_out_open refuses an
 * output that is the same file. */
void cli_note_input(const char *path);
/* The noted input that is the same file as path (when path exists), or NULL. */
const char *cli_same_as_input(const char *path);
int cli_out_open(struct cli_out *o, const char *path, bool raw, struct tide_err *err);
/* Closes; on failure (fsync/close error) returns TIDE_E_IO and removes the file. */
int cli_out_close(struct cli_out *o, struct tide_err *err);
/* Closes and removes a file that must not look complete. */
void cli_out_abort(struct cli_out *o);

/*
 * A trace output, anonymized inline unless raw: opening sets up the
 * anonymizer (unless raw), writes metadata with its manifest, and gives the
 * sink to hand records to; closing adds the manifest's counts and removes the
 * file if it cannot be completed. Errors are printed; the result is an exit
 * code (EXIT_OK, EXIT_USAGE, EXIT_RUNTIME).
 */
struct cli_trace_out {
    struct cli_out out;
    struct tide_trace_writer *w;
    struct cli_anon *ca; /* borrowed; freed by cli_trace_out_free */
    bool raw;
    struct tide_pipe *pipe; /* anonymized: the writer runs on its own thread behind it */
    struct tide_sink sink;
    bool keep; /* a live capture's (cli_out_in_place at open): kept on a failure, not removed */
};
int cli_trace_out_open(struct cli_trace_out *t, const char *outpath, bool raw, struct cli_anon *ca,
                       const char *kind, const char *const *sources, int n_sources,
                       const struct tide_trace_writer_opts *wo);
/* The same, each source with a kind of its own (a log format per file). */
int cli_trace_out_open_kinds(struct cli_trace_out *t, const char *outpath, bool raw, struct cli_anon *ca,
                             const char *const *kinds, const char *const *sources, int n_sources,
                             const struct tide_trace_writer_opts *wo);
int cli_trace_out_close(struct cli_trace_out *t, const char *final_json);
/* Waits until every record given to t->sink is with the writer (before touching t->w). */
int cli_trace_out_sync(struct cli_trace_out *t, struct tide_err *err);
void cli_trace_out_abort(struct cli_trace_out *t);
void cli_trace_out_free(struct cli_trace_out *t);

struct tide_stage;

/* A small file (< 16 MiB) read whole, NUL-terminated; NULL with err set. */
char *cli_slurp(const char *path, size_t *len, struct tide_err *err);

/* --profile: a JSON file, or an inline spec when no such file exists.
 * Prints the error itself; returns 0 or EXIT_USAGE. */
int cli_load_profile(const char *arg, struct tide_stage **stages, int *n);
/* The stage table: duration, speed, volume and the requests each stage should
 * send, from a window of `records` requests spanning span_ns. */
void cli_print_stages(FILE *f, const struct tide_stage *st, int n, uint64_t records, int64_t span_ns,
                      double speed);

/* Opens an input trace path ("-" = stdin). Returns fd or -1 with err set. */
int cli_in_open(const char *path, struct tide_err *err);

/*
 * Parses a --from/--to value: RFC 3339 (absolute) or "+90m" (offset from
 * the trace start). Returns 0 or TIDE_E_FORMAT.
 */
int cli_parse_when(const char *s, int64_t *ns, bool *is_offset);
/* An integer option from lo to hi into *out, or EXIT_USAGE after printing what. */
int cli_parse_range(const char *s, int64_t lo, int64_t hi, const char *what, int64_t *out);
/* --level N: 1..22 into *out, or EXIT_USAGE after saying why. */
int cli_parse_level(const char *s, int *out);

/* Writes to standard output: 0; 1 when its reader went away (EPIPE: quiet);
 * TIDE_E_IO on another failure (a full disk), said. */
int cli_stdout_write(const char *p, size_t n);

/* Reports a reader's ending: prints what was lost. Returns the exit code
 * (EXIT_OK, EXIT_INCOMPLETE, EXIT_RUNTIME, EXIT_USAGE) for the iterator rc. */
int cli_reader_end(struct tide_trace_reader *r, int rc, const struct tide_err *err);

/* Metadata JSON for a new trace. Caller owns the result (free). */
char *cli_meta_json(bool raw, const char *kind, const char *const *sources, int n_sources);
/* kinds[i] for sources[i] (NULL kinds: kind for all). */
char *cli_meta_json_kinds(bool raw, const char *kind, const char *const *kinds, const char *const *sources,
                          int n_sources);

#endif
