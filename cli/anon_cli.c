/*
 * anon_cli.c - the anonymizer as the CLI composes it: options shared by
 * capture, import and anonymize (--policy, --key-file, --ip, --time-shift),
 * `tide anonymize` itself, and `tide keygen`.
 */
#include "cli_int.h"

#include "anonymize/anonymize.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void cli_anon_init(struct cli_anon *ca)
{
    memset(ca, 0, sizeof(*ca));
    ca->ip_mode = -1;
}

int cli_anon_option(struct cli_anon *ca, int c, const char *arg)
{
    switch (c) {
    case CLI_OPT_POLICY: ca->policy_path = arg; return 1;
    case CLI_OPT_KEYFILE: ca->key_path = arg; return 1;
    case CLI_OPT_IP:
        if (strcmp(arg, "truncate") == 0)
            ca->ip_mode = TIDE_IP_TRUNCATE;
        else if (strcmp(arg, "cryptopan") == 0)
            ca->ip_mode = TIDE_IP_CRYPTOPAN;
        else {
            cli_errorf("--ip: cryptopan or truncate");
            return -1;
        }
        return 1;
    case CLI_OPT_TIMESHIFT: ca->time_shift = true; return 1;
    default: return 0;
    }
}

char *cli_slurp(const char *path, size_t *len, struct tide_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    char *b;
    if (fd < 0) {
        tide_err_set(err, TIDE_E_NOTFOUND, path, "cannot open");
        return NULL;
    }
    if (fstat(fd, &sb) != 0 || sb.st_size > (16 << 20)) {
        close(fd);
        tide_err_set(err, TIDE_E_LIMIT, path, "not a regular file under 16 MiB");
        return NULL;
    }
    b = malloc((size_t)sb.st_size + 1);
    if (b && read(fd, b, (size_t)sb.st_size) != sb.st_size) {
        free(b);
        b = NULL;
        tide_err_set(err, TIDE_E_IO, path, "read failed");
    }
    close(fd);
    if (b) {
        b[sb.st_size] = 0;
        *len = (size_t)sb.st_size;
    }
    return b;
}

int cli_anon_setup(struct cli_anon *ca, struct tide_err *err)
{
    struct tide_anon_opts o;
    const char *key_path = ca->key_path ? ca->key_path : getenv("TIDE_KEY_FILE");
    int rc;
    memset(&o, 0, sizeof(o));
    if (ca->policy_path) {
        size_t len = 0;
        char *txt = cli_slurp(ca->policy_path, &len, err);
        if (!txt)
            return TIDE_E_USAGE;
        rc = tide_anon_policy_parse(&ca->policy, txt, len, ca->policy_path, err);
        free(txt);
    } else {
        const char *d = tide_anon_default_policy();
        rc = tide_anon_policy_parse(&ca->policy, d, strlen(d), "default policy", err);
    }
    if (rc)
        return TIDE_E_USAGE;
    if (key_path && key_path[0]) {
        rc = tide_key_load(key_path, o.key, err);
        if (rc)
            return TIDE_E_USAGE;
    } else {
        rc = tide_key_random(o.key, err);
        if (rc)
            return rc;
        o.key_is_ephemeral = true;
        cli_warnf("no --key-file (or TIDE_KEY_FILE): a random key is used for this trace only; "
                  "its pseudonyms will not link to other traces ('tide keygen -o KEY' makes one)");
    }
    o.ip_mode = ca->ip_mode;
    o.time_shift = ca->time_shift;
    rc = tide_anon_create(&ca->anon, ca->policy, &o, err);
    memset(o.key, 0, sizeof(o.key));
    return rc;
}

void cli_anon_free(struct cli_anon *ca)
{
    tide_anon_free(ca->anon);
    tide_anon_policy_free(ca->policy);
    ca->anon = NULL;
    ca->policy = NULL;
}

char *cli_anon_meta(struct cli_anon *ca, const char *meta_json)
{
    cJSON *m = cJSON_Parse(meta_json), *man;
    char *ms, *s;
    if (!m)
        return NULL;
    ms = tide_anon_manifest(ca->anon);
    man = ms ? cJSON_Parse(ms) : NULL;
    free(ms);
    if (man) {
        cJSON_DeleteItemFromObject(man, "counts"); /* known at the end: in the final metadata */
        cJSON_DeleteItemFromObject(man, "records");
        cJSON_AddItemToObject(m, "anonymization", man);
    }
    cJSON_DeleteItemFromObject(m, "raw");
    cJSON_AddBoolToObject(m, "raw", false);
    s = cJSON_PrintUnformatted(m);
    cJSON_Delete(m);
    return s;
}

char *cli_anon_final(struct cli_anon *ca, const char *final_json)
{
    cJSON *f = final_json ? cJSON_Parse(final_json) : cJSON_CreateObject(), *man;
    char *ms = tide_anon_manifest(ca->anon), *s;
    if (!f)
        f = cJSON_CreateObject();
    man = ms ? cJSON_Parse(ms) : NULL;
    free(ms);
    if (man) {
        cJSON_DeleteItemFromObject(man, "policy"); /* the text is in the start metadata */
        cJSON_AddItemToObject(f, "anonymization", man);
    }
    s = cJSON_PrintUnformatted(f);
    cJSON_Delete(f);
    return s;
}

struct tide_sink cli_anon_sink(struct cli_anon *ca, struct tide_sink next)
{
    tide_anon_set_next(ca->anon, next);
    return (struct tide_sink){tide_anon_sink, ca->anon};
}

/* ---- tide anonymize ------------------------------------------------------------------- */

void help_anonymize(FILE *f)
{
    fprintf(f, "usage: tide anonymize IN.tide -o OUT.tide [options]\n"
               "Anonymizes a trace (usually a raw one) by a policy; the same transform runs\n"
               "inline in 'tide capture' and 'tide import' unless they are given --raw.\n\n"
               "  -o, --output FILE        the trace to write ('-' = stdout)\n"
               "      --policy FILE        a JSON policy (docs/policy.md); default: the strict one\n"
               "      --key-file K         32-byte key (tide keygen); also TIDE_KEY_FILE\n"
               "      --ip cryptopan|truncate  client addresses: prefix-preserving, or /24 and /48\n"
               "      --time-shift         move all times back by a keyed number of whole weeks\n"
               "      --again              anonymize a trace that is anonymized already (a\n"
               "                           stricter policy, a new key); refused without it\n"
               "      --print-default-policy  print the default policy and exit\n");
}

int cmd_anonymize(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'}, {"policy", required_argument, 0, CLI_OPT_POLICY},
        {"key-file", required_argument, 0, CLI_OPT_KEYFILE}, {"ip", required_argument, 0, CLI_OPT_IP},
        {"time-shift", no_argument, 0, CLI_OPT_TIMESHIFT}, {"again", no_argument, 0, 'A'},
        {"print-default-policy", no_argument, 0, 'P'}, {0, 0, 0, 0}};
    struct cli_anon ca;
    struct tide_err err = {0};
    const char *outpath = NULL;
    struct tide_trace_reader *r = NULL;
    struct tide_trace_writer *w = NULL;
    struct tide_pipe *pipe = NULL;
    struct cli_out out;
    const struct tide_record *rec;
    int c, fd = -1, rc, ex = EXIT_OK;
    char *meta = NULL, *fin = NULL;
    struct tide_sink sink;
    bool again = false;

    cli_anon_init(&ca);
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
        if (c == 'o') {
            outpath = optarg;
        } else if (c == 'A') {
            again = true;
        } else if (c == 'P') {
            fputs(tide_anon_default_policy(), stdout);
            return EXIT_OK;
        } else if (cli_anon_option(&ca, c, optarg) <= 0) {
            help_anonymize(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        cli_errorf("anonymize: exactly one input trace expected");
        return EXIT_USAGE;
    }
    if (!outpath) {
        cli_errorf("anonymize: an output is required (-o FILE, or -o - for stdout)");
        return EXIT_USAGE;
    }
    fd = cli_in_open(argv[optind], &err);
    if (fd < 0 || tide_trace_reader_open(&r, fd, argv[optind], NULL, &err)) {
        cli_error(&err);
        ex = EXIT_USAGE;
        goto out_close;
    }
    {
        /* a trace anonymized already: again, its pseudonyms would become
         * pseudonyms of pseudonyms, matching no other trace of its key */
        cJSON *m = cJSON_Parse(tide_trace_reader_meta(r)), *e, *anon = cJSON_GetObjectItem(m, "anonymization");
        cJSON *kf;
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(m, "merged_from")) /* tide merge of anonymized traces */
        {
            if (!anon)
                anon = cJSON_GetObjectItem(e, "anonymization");
        }
        kf = cJSON_GetObjectItem(anon, "key_fingerprint");
        if (!again && !tide_trace_reader_is_raw(r) && anon) {
            cli_errorf("anonymize: %s is anonymized already (key %s): again, its pseudonyms would be replaced "
                       "by pseudonyms of them, and it would match no other trace of that key; give --again "
                       "to do it anyway (a stricter policy, a new key)",
                       argv[optind], cJSON_IsString(kf) ? kf->valuestring : "?");
            cJSON_Delete(m);
            ex = EXIT_USAGE;
            goto out_close;
        }
        cJSON_Delete(m);
    }
    if (cli_anon_setup(&ca, &err)) {
        cli_error(&err);
        ex = EXIT_USAGE;
        goto out_close;
    }
    {
        /* the input's sources carry over; a note says what was anonymized,
         * and an anonymization the input had already is kept as a former one */
        cJSON *m = cJSON_Parse(tide_trace_reader_meta(r));
        char *ms;
        if (m) {
            cJSON *before = cJSON_DetachItemFromObject(m, "anonymization");
            if (before) {
                cJSON *list = cJSON_GetObjectItem(m, "anonymized_before");
                if (!cJSON_IsArray(list)) {
                    cJSON_DeleteItemFromObject(m, "anonymized_before");
                    list = cJSON_AddArrayToObject(m, "anonymized_before");
                }
                cJSON_AddItemToArray(list, before);
            }
            cJSON_DeleteItemFromObject(m, "created");
            cJSON_DeleteItemFromObject(m, "anonymized_from");
            cJSON_AddStringToObject(m, "anonymized_from", argv[optind]);
        }
        ms = m ? cJSON_PrintUnformatted(m) : NULL;
        cJSON_Delete(m);
        meta = ms ? cli_anon_meta(&ca, ms) : NULL;
        free(ms);
    }
    if (!meta || cli_out_open(&out, outpath, false, &err)) {
        cli_error(&err);
        ex = EXIT_USAGE;
        goto out_close;
    }
    if (tide_trace_writer_open(&w, out.fd, out.path, meta, NULL, &err)) {
        cli_error(&err);
        cli_out_abort(&out);
        ex = EXIT_RUNTIME;
        goto out_close;
    }
    /* the writer (columns, zstd) on a thread of its own, beside reading and anonymizing */
    if (tide_pipe_new(&pipe, (struct tide_sink){tide_trace_writer_sink, w}, &err)) {
        cli_error(&err);
        cli_out_abort(&out);
        ex = EXIT_RUNTIME;
        goto out_close;
    }
    sink = cli_anon_sink(&ca, (struct tide_sink){tide_pipe_sink, pipe});
    while ((rc = tide_trace_reader_next(r, &rec, &err)) == 1)
        if ((rc = sink.fn(sink.userp, rec, &err)) != 0)
            break;
    if (rc < 0) {
        ex = cli_reader_end(r, rc, &err);
        if (ex == EXIT_OK)
            ex = EXIT_RUNTIME;
        /* a truncated input still yields a complete output of what was good */
        if (ex != EXIT_INCOMPLETE) {
            cli_out_abort(&out);
            goto out_close;
        }
    }
    if (tide_pipe_sync(pipe, &err)) { /* everything anonymized is with the writer */
        cli_error(&err);
        cli_out_abort(&out);
        ex = EXIT_RUNTIME;
        goto out_close;
    }
    fin = cli_anon_final(&ca, NULL);
    if (tide_trace_writer_close(w, fin, &err) || cli_out_close(&out, &err)) {
        cli_error(&err);
        cli_out_abort(&out);
        ex = EXIT_RUNTIME;
        goto out_close;
    }
    fprintf(stderr, "tide: anonymize: %llu records written\n",
            (unsigned long long)tide_anon_records(ca.anon));
out_close:
    free(meta);
    free(fin);
    tide_pipe_free(pipe);
    tide_trace_writer_free(w);
    tide_trace_reader_free(r);
    if (fd > 0)
        close(fd);
    cli_anon_free(&ca);
    return ex;
}

/* ---- tide keygen ----------------------------------------------------------------------- */

void help_keygen(FILE *f)
{
    fprintf(f, "usage: tide keygen -o KEYFILE\n"
               "Writes 32 random bytes (mode 0600) for --key-file. Keep it secret: it links\n"
               "pseudonyms across traces, and anyone holding it can test guesses against them.\n");
}

int cmd_keygen(int argc, char **argv)
{
    struct tide_err err = {0};
    int c;
    const char *out = NULL;
    optind = 1;
    while ((c = getopt(argc, argv, "o:")) != -1) {
        if (c == 'o')
            out = optarg;
        else {
            help_keygen(stderr);
            return EXIT_USAGE;
        }
    }
    if (!out) {
        cli_errorf("keygen: -o KEYFILE is required");
        return EXIT_USAGE;
    }
    if (tide_key_generate(out, &err)) {
        cli_error(&err);
        return EXIT_USAGE;
    }
    {
        uint8_t k[TIDE_KEY_LEN] = {0};
        char fp[17];
        if (tide_key_load(out, k, &err)) { /* read back as every command will read it */
            cli_error(&err);
            return EXIT_RUNTIME;
        }
        tide_key_fingerprint(k, fp);
        memset(k, 0, sizeof(k));
        fprintf(stderr, "tide: key written to %s (fingerprint %s)\n", out, fp);
    }
    return EXIT_OK;
}

/* ---- a trace output behind optional inline anonymization --------------------------------- */

static int trace_out_open(struct cli_trace_out *t, const char *outpath, bool raw, struct cli_anon *ca,
                          const char *kind, const char *const *kinds, const char *const *sources, int n_sources,
                          const struct tide_trace_writer_opts *wo)
{
    struct tide_err err = {0};
    char *meta;
    memset(t, 0, sizeof(*t));
    t->raw = raw;
    t->keep = cli_out_in_place; /* a live capture's output: kept on a failure */
    t->ca = ca;
    t->out.fd = -1;
    if (!outpath) { /* said before the key is set up (and warned about) */
        cli_errorf("an output is required (-o FILE, or -o - for stdout)");
        return EXIT_USAGE;
    }
    if (!raw && cli_anon_setup(ca, &err)) {
        cli_error(&err);
        return EXIT_USAGE;
    }
    meta = cli_meta_json_kinds(raw, kind, kinds, sources, n_sources);
    if (meta && !raw) {
        char *m2 = cli_anon_meta(ca, meta);
        free(meta);
        meta = m2;
    }
    if (!meta)
        return EXIT_RUNTIME;
    if (cli_out_open(&t->out, outpath, raw, &err)) {
        free(meta);
        cli_error(&err);
        return EXIT_USAGE;
    }
    if (tide_trace_writer_open(&t->w, t->out.fd, t->out.path, meta, wo, &err)) {
        free(meta);
        cli_error(&err);
        cli_out_abort(&t->out);
        return EXIT_RUNTIME;
    }
    free(meta);
    t->sink = (struct tide_sink){tide_trace_writer_sink, t->w};
    if (!raw) {
        /* anonymizing and writing (columns, zstd) take about the same time:
         * the writer gets a thread of its own */
        if (tide_pipe_new(&t->pipe, t->sink, &err)) {
            cli_error(&err);
            cli_out_abort(&t->out);
            return EXIT_RUNTIME;
        }
        t->sink = cli_anon_sink(ca, (struct tide_sink){tide_pipe_sink, t->pipe});
    }
    return EXIT_OK;
}

int cli_trace_out_open(struct cli_trace_out *t, const char *outpath, bool raw, struct cli_anon *ca,
                       const char *kind, const char *const *sources, int n_sources,
                       const struct tide_trace_writer_opts *wo)
{
    return trace_out_open(t, outpath, raw, ca, kind, NULL, sources, n_sources, wo);
}

int cli_trace_out_open_kinds(struct cli_trace_out *t, const char *outpath, bool raw, struct cli_anon *ca,
                             const char *const *kinds, const char *const *sources, int n_sources,
                             const struct tide_trace_writer_opts *wo)
{
    return trace_out_open(t, outpath, raw, ca, kinds[0], kinds, sources, n_sources, wo);
}

int cli_trace_out_sync(struct cli_trace_out *t, struct tide_err *err)
{
    return t->pipe ? tide_pipe_sync(t->pipe, err) : 0;
}

int cli_trace_out_close(struct cli_trace_out *t, const char *final_json)
{
    struct tide_err err = {0};
    int rc = cli_trace_out_sync(t, &err);
    char *fin = t->raw ? NULL : cli_anon_final(t->ca, final_json);
    if (!rc)
        rc = tide_trace_writer_close(t->w, fin ? fin : final_json, &err);
    free(fin);
    if (!rc)
        rc = cli_out_close(&t->out, &err);
    if (rc) {
        cli_error(&err);
        cli_trace_out_abort(t);
        return EXIT_RUNTIME;
    }
    return EXIT_OK;
}

void cli_trace_out_abort(struct cli_trace_out *t)
{
    uint64_t blocks = tide_trace_writer_blocks(t->w);
    if (t->keep && t->out.is_file && t->out.fd >= 0 && blocks > 0) {
        /* hours of live traffic are not thrown away for a full disk: the
         * whole blocks written so far read as a trace cut short */
        fprintf(stderr, "tide: %s: kept as written so far (a live capture cannot be taken again): its %llu "
                        "whole block(s) can be read (tide cat, tide inspect), its index is missing\n",
                t->out.path, (unsigned long long)blocks);
        close(t->out.fd);
        t->out.fd = -1;
        return;
    }
    cli_out_abort(&t->out);
}

void cli_trace_out_free(struct cli_trace_out *t)
{
    tide_pipe_free(t->pipe);
    t->pipe = NULL;
    tide_trace_writer_free(t->w);
    t->w = NULL;
    if (t->ca)
        cli_anon_free(t->ca);
}
