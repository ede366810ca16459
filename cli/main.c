/*
 * main.c - the tide binary: dispatches to one command per file (cmd_*.c).
 *
 * Exit codes are documented in docs/cli.md and listed in cli_int.h.
 */
#include "cli_int.h"

#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <string.h>

static void help_help(FILE *f);
static int cmd_help(int argc, char **argv);

static const struct cli_cmd CMDS[] = {
    {"capture", "record traffic from access logs or pcap into a trace", cmd_capture, help_capture},
    {"replay", "play a trace against a target, open loop, and measure", cmd_replay, help_replay},
    {"plan", "turn a traffic forecast into a stage profile for replay", cmd_plan, help_plan},
    {"report", "merge replay reports (shards) and check SLOs", cmd_report, help_report},
    {"mock", "serve a trace's recorded answers (a target to try replay on)", cmd_mock, help_mock},
    {"anonymize", "anonymize a trace by a policy", cmd_anonymize, help_anonymize},
    {"audit", "scan traces for personal data: PASS or FAIL", cmd_audit, help_audit},
    {"keygen", "make a pseudonym key file", cmd_keygen, help_keygen},
    {"import", "convert JSON lines into a .tide trace", cmd_import, help_import},
    {"cat", "print a trace's records as JSON lines", cmd_cat, help_cat},
    {"inspect", "summarize a trace and verify its checksums", cmd_inspect, help_inspect},
    {"merge", "merge traces by request start time", cmd_merge, help_merge},
    {"help", "show help for a command", cmd_help, help_help},
};
#define N_CMDS (sizeof(CMDS) / sizeof(CMDS[0]))

static void usage(FILE *f)
{
    size_t i;
    fprintf(f, "tide %s - capture, anonymize and replay real HTTP traffic\n\n"
               "usage: tide <command> [options]\n\ncommands:\n",
            TIDE_VERSION);
    for (i = 0; i < N_CMDS; i++)
        fprintf(f, "  %-10s %s\n", CMDS[i].name, CMDS[i].summary);
    fprintf(f, "\n'tide <command> --help' or 'tide help <command>' lists a command's options.\n"
               "Exit codes: 0 ok, 1 findings/SLO failed, 2 bad usage or input, 3 aborted,\n"
               "4 runtime failure, 5 input incomplete (what was good was still output).\n");
}

static const struct cli_cmd *find(const char *name)
{
    size_t i;
    for (i = 0; i < N_CMDS; i++)
        if (strcmp(CMDS[i].name, name) == 0)
            return &CMDS[i];
    return NULL;
}

static void help_help(FILE *f) { fprintf(f, "usage: tide help [COMMAND]\n"); }

static int cmd_help(int argc, char **argv)
{
    const struct cli_cmd *c;
    if (argc < 2) {
        usage(stdout);
        return EXIT_OK;
    }
    c = find(argv[1]);
    if (!c) {
        cli_errorf("no command '%s'; 'tide help' lists them", argv[1]);
        return EXIT_USAGE;
    }
    c->help(stdout);
    return EXIT_OK;
}

/* Descriptors: the soft limit (often 1024) is raised to the hard one, as
 * servers do. A capture reads every input at once (three years of daily
 * logs: over a thousand files), and a replay against a slow target holds a
 * connection for each request in flight. */
static void raise_open_file_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* What a command printed must have reached its reader: a full disk under
 * `tide inspect --json > out.json` is a failure (exit 4), said; a reader that
 * went away (| head) is not. ex: the command's exit status. */
static int finish_stdout(int ex)
{
    if (fflush(stdout) == 0 && !ferror(stdout))
        return ex;
    if (errno == EPIPE)
        return ex;
    cli_errorf("writing standard output failed: %s", strerror(errno));
    return ex == EXIT_OK ? EXIT_RUNTIME : ex;
}

int main(int argc, char **argv)
{
    const struct cli_cmd *c;
    int i;
    signal(SIGPIPE, SIG_IGN); /* a closed pipe becomes EPIPE, reported where it happens */
    raise_open_file_limit();
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return finish_stdout(EXIT_OK);
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("tide %s (trace format %d.%d)\n", TIDE_VERSION, TIDE_FORMAT_VERSION_MAJOR,
               TIDE_FORMAT_VERSION_MINOR);
        return finish_stdout(EXIT_OK);
    }
    c = find(argv[1]);
    if (!c) {
        cli_errorf("unknown command '%s'; 'tide --help' lists the commands", argv[1]);
        return EXIT_USAGE;
    }
    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            c->help(stdout);
            return finish_stdout(EXIT_OK);
        }
    }
    return finish_stdout(c->run(argc - 1, argv + 1));
}
