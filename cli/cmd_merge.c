/*
 * cmd_merge.c - `tide merge IN... -o OUT`: several traces (web servers,
 * rotated days) into one, ordered by request start time.
 *
 * A k-way merge: each input reader keeps its current record valid until its
 * own next call, so holding one record per input costs nothing. Inputs are
 * few (tens), so a linear scan for the smallest start beats a heap.
 */
#include "cli_int.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void help_merge(FILE *f)
{
    fprintf(f, "usage: tide merge IN.tide... -o OUT.tide [options]\n"
               "Merges traces by request start time. The output lists every input's sources;\n"
               "it is raw if any input is raw.\n\n"
               "  -o, --output FILE    the trace to write ('-' = stdout)\n"
               "      --skip-corrupt   go on past corrupt blocks in the inputs\n"
               "      --level N        zstd level 1-22 (default 9)\n");
}

struct input {
    int fd;
    struct tide_trace_reader *r;
    const struct tide_record *cur;
    bool live;
};

/* Start metadata for the merge: the union of the inputs' sources. */
static char *merged_meta(struct input *in, int n, char **names, bool *raw)
{
    cJSON *o = cJSON_CreateObject(), *sources, *from;
    char *s;
    int i, id = 0;
    *raw = false;
    cJSON_AddStringToObject(o, "tool", "tide " TIDE_VERSION);
    cJSON_AddNumberToObject(o, "format_version", TIDE_FORMAT_VERSION_MAJOR);
    sources = cJSON_AddArrayToObject(o, "sources");
    from = cJSON_AddArrayToObject(o, "merged_from");
    for (i = 0; i < n; i++) {
        cJSON *m = cJSON_Parse(tide_trace_reader_meta(in[i].r)), *src, *e;
        *raw = *raw || tide_trace_reader_is_raw(in[i].r);
        e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", names[i]);
        cJSON_AddBoolToObject(e, "raw", tide_trace_reader_is_raw(in[i].r));
        if (m && cJSON_GetObjectItem(m, "anonymization"))
            cJSON_AddItemToObject(e, "anonymization",
                                  cJSON_Duplicate(cJSON_GetObjectItem(m, "anonymization"), 1));
        cJSON_AddItemToArray(from, e);
        cJSON_ArrayForEach(src, cJSON_GetObjectItem(m, "sources"))
        {
            cJSON *d = cJSON_Duplicate(src, 1);
            cJSON_DeleteItemFromObject(d, "id");
            cJSON_AddNumberToObject(d, "id", id++);
            cJSON_AddStringToObject(d, "trace", names[i]);
            cJSON_AddItemToArray(sources, d);
        }
        cJSON_Delete(m);
    }
    cJSON_AddBoolToObject(o, "raw", *raw);
    s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* Anonymized inputs whose keys or time shifts differ cannot be joined
 * seamlessly: one person has a pseudonym per key (sessions that span the
 * inputs split), and times moved by different shifts do not line up. Said,
 * naming the first input that differs from the first anonymized one. */
static void say_mixed_anonymization(struct input *in, int n, char **names)
{
    char key0[32] = "", *first = NULL;
    int shift0 = 0, i;
    for (i = 0; i < n; i++) {
        cJSON *m = cJSON_Parse(tide_trace_reader_meta(in[i].r));
        cJSON *a = m ? cJSON_GetObjectItem(m, "anonymization") : NULL;
        cJSON *kf = a ? cJSON_GetObjectItem(a, "key_fingerprint") : NULL;
        cJSON *ts = a ? cJSON_GetObjectItem(a, "time_shift_weeks") : NULL;
        const char *key = cJSON_IsString(kf) ? kf->valuestring : "?";
        int shift = cJSON_IsNumber(ts) ? ts->valueint : 0;
        if (a && !first) {
            snprintf(key0, sizeof(key0), "%s", key);
            shift0 = shift;
            first = names[i];
        } else if (a && strcmp(key, key0) != 0) {
            fprintf(stderr, "tide: merge: %s and %s were anonymized with different keys (%s, %s): a person has "
                            "a different pseudonym in each, so sessions that span them are split\n",
                    first, names[i], key0, key);
        } else if (a && shift != shift0) {
            fprintf(stderr, "tide: merge: %s and %s were moved by different time shifts (%d and %d weeks): "
                            "their times do not line up\n", first, names[i], shift0, shift);
        }
        cJSON_Delete(m);
    }
}

int cmd_merge(int argc, char **argv)
{
    static const struct option longopts[] = {{"output", required_argument, 0, 'o'},
                                             {"skip-corrupt", no_argument, 0, 'S'},
                                             {"level", required_argument, 0, 'l'},
                                             {0, 0, 0, 0}};
    const char *outpath = NULL;
    struct tide_trace_reader_opts ro = {.from_ns = TIDE_TIME_UNKNOWN, .to_ns = TIDE_TIME_UNKNOWN};
    struct tide_trace_writer_opts wo = {0};
    struct tide_err err = {0};
    struct input *in;
    struct cli_out out;
    struct tide_trace_writer *w = NULL;
    int c, i, n, rc, ex = EXIT_OK;
    bool raw;
    char *meta;

    optind = 1;
    while ((c = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': outpath = optarg; break;
        case 'S': ro.skip_corrupt = true; break;
        case 'l':
            if (cli_parse_level(optarg, &wo.level))
                return EXIT_USAGE;
            break;
        default: help_merge(stderr); return EXIT_USAGE;
        }
    }
    n = argc - optind;
    if (n < 1) {
        cli_errorf("merge: no input traces");
        return EXIT_USAGE;
    }
    in = calloc((size_t)n, sizeof(*in));
    if (!in)
        return EXIT_RUNTIME;
    for (i = 0; i < n; i++) {
        in[i].fd = cli_in_open(argv[optind + i], &err);
        if (in[i].fd < 0 ||
            (rc = tide_trace_reader_open(&in[i].r, in[i].fd, argv[optind + i], &ro, &err))) {
            cli_error(&err);
            ex = EXIT_USAGE;
            goto out_close_inputs;
        }
    }
    say_mixed_anonymization(in, n, argv + optind);
    meta = merged_meta(in, n, argv + optind, &raw);
    if (!meta || cli_out_open(&out, outpath, raw, &err)) {
        free(meta);
        cli_error(&err);
        ex = EXIT_USAGE;
        goto out_close_inputs;
    }
    rc = tide_trace_writer_open(&w, out.fd, out.path, meta, &wo, &err);
    free(meta);
    if (rc) {
        cli_error(&err);
        cli_out_abort(&out);
        ex = EXIT_RUNTIME;
        goto out_close_inputs;
    }
    for (i = 0; i < n; i++) {
        rc = tide_trace_reader_next(in[i].r, &in[i].cur, &err);
        in[i].live = rc == 1;
        if (rc < 0 && (ex = cli_reader_end(in[i].r, rc, &err)) != EXIT_INCOMPLETE)
            goto out_abort;
    }
    for (;;) {
        int best = -1;
        for (i = 0; i < n; i++)
            if (in[i].live && (best < 0 || in[i].cur->ts_ns < in[best].cur->ts_ns))
                best = i;
        if (best < 0)
            break;
        rc = tide_trace_writer_add(w, in[best].cur, &err);
        if (rc) {
            cli_error(&err);
            ex = EXIT_RUNTIME;
            goto out_abort;
        }
        rc = tide_trace_reader_next(in[best].r, &in[best].cur, &err);
        in[best].live = rc == 1;
        if (rc < 0) {
            int e = cli_reader_end(in[best].r, rc, &err);
            if (e != EXIT_INCOMPLETE) {
                ex = e;
                goto out_abort;
            }
            ex = EXIT_INCOMPLETE; /* keep merging the others; say so at the end */
        }
    }
    for (i = 0; i < n; i++) {
        int e = cli_reader_end(in[i].r, 0, &err);
        if (e != EXIT_OK)
            ex = e;
    }
    rc = tide_trace_writer_close(w, NULL, &err);
    if (!rc)
        rc = cli_out_close(&out, &err);
    if (rc) {
        cli_error(&err);
        ex = EXIT_RUNTIME;
        goto out_abort;
    }
    fprintf(stderr, "tide: merge: %d traces, %llu records written\n", n,
            (unsigned long long)tide_trace_writer_records(w));
    goto out_free_writer;

out_abort:
    cli_out_abort(&out);
out_free_writer:
    tide_trace_writer_free(w);
out_close_inputs:
    for (i = 0; i < n; i++) {
        tide_trace_reader_free(in[i].r);
        if (in[i].fd > 0)
            close(in[i].fd);
    }
    free(in);
    return ex;
}
