/*
 * cmd_audit.c - `tide audit TRACE...`: what a compliance officer runs and
 * files. PASS or FAIL, findings by type and field with record numbers and
 * masked samples, what was scanned. Exit 0 pass, 1 findings, 2 error.
 */
#include "cli_int.h"

#include "anonymize/anonymize.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void help_audit(FILE *f)
{
    fprintf(f, "usage: tide audit TRACE... [--json] [--policy FILE]\n"
               "Scans every field of every record (decoding percent-encoding, base64 and JSON)\n"
               "with every detector, checks the raw flag, values under personal keys, high-\n"
               "entropy values, and quasi-identifiers. Prints PASS or FAIL.\n"
               "Exit 0 PASS, 1 findings, 2 error.\n\n"
               "      --json           the report as JSON\n"
               "      --policy FILE    the personal keys to check (default: the default policy's)\n");
}

int cmd_audit(int argc, char **argv)
{
    static const struct option longopts[] = {{"json", no_argument, 0, 'j'},
                                             {"policy", required_argument, 0, 'p'},
                                             {0, 0, 0, 0}};
    struct tide_anon_policy *pol = NULL;
    struct tide_audit *au = NULL;
    struct tide_err err = {0};
    bool json = false, any_raw = false, ips = true;
    const char *policy = NULL;
    int c, i, ex = EXIT_OK;
    char *rep, note[256];

    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'j')
            json = true;
        else if (c == 'p')
            policy = optarg;
        else {
            help_audit(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        cli_errorf("audit: no traces given");
        return EXIT_USAGE;
    }
    {
        /* only the policy is needed: parse it the same way the anonymizer does */
        if (policy) {
            FILE *pf = fopen(policy, "rb");
            char *txt = NULL;
            size_t len = 0;
            if (pf) {
                fseek(pf, 0, SEEK_END);
                len = (size_t)ftell(pf);
                fseek(pf, 0, SEEK_SET);
                txt = malloc(len + 1);
                if (txt && fread(txt, 1, len, pf) != len)
                    len = 0;
                fclose(pf);
            }
            if (!txt || tide_anon_policy_parse(&pol, txt, len, policy, &err)) {
                free(txt);
                if (!err.msg[0])
                    tide_err_set(&err, TIDE_E_NOTFOUND, policy, "cannot read");
                cli_error(&err);
                return EXIT_USAGE;
            }
            free(txt);
        } else if (tide_anon_policy_parse(&pol, tide_anon_default_policy(),
                                          strlen(tide_anon_default_policy()), "default", &err)) {
            cli_error(&err);
            return EXIT_RUNTIME;
        }
    }
    if (tide_audit_create(&au, true)) {
        tide_anon_policy_free(pol);
        return EXIT_RUNTIME;
    }
    for (i = optind; i < argc && ex == EXIT_OK; i++) {
        struct tide_trace_reader *r = NULL;
        const struct tide_record *rec;
        int fd = cli_in_open(argv[i], &err), rc;
        cJSON *m;
        if (fd < 0 || tide_trace_reader_open(&r, fd, argv[i], NULL, &err)) {
            cli_error(&err);
            ex = EXIT_USAGE;
            if (fd > 0)
                close(fd);
            break;
        }
        any_raw = any_raw || tide_trace_reader_is_raw(r);
        m = cJSON_Parse(tide_trace_reader_meta(r));
        /* addresses count as anonymized only if the manifest says so */
        ips = ips && m && cJSON_GetObjectItem(m, "anonymization") && !tide_trace_reader_is_raw(r);
        cJSON_Delete(m);
        tide_audit_set_ips_anonymized(au, ips);
        while ((rc = tide_trace_reader_next(r, &rec, &err)) == 1)
            tide_audit_record(au, pol, rec);
        if (rc < 0) {
            cli_error(&err);
            ex = EXIT_USAGE; /* an audit of part of a trace is no audit */
        }
        tide_trace_reader_free(r);
        if (fd > 0)
            close(fd);
    }
    if (ex == EXIT_OK) {
        snprintf(note, sizeof(note), "path, query, every header, cookies, body, client, session of %d trace(s)",
                 argc - optind);
        rep = tide_audit_report(au, any_raw, note);
        if (json) {
            printf("%s\n", rep);
        } else {
            cJSON *o = cJSON_Parse(rep), *f, *rr = cJSON_GetObjectItem(o, "residual_risk");
            cJSON *sc = cJSON_GetObjectItem(o, "scanned");
            printf("tide audit: %s\n", cJSON_GetObjectItem(o, "verdict")->valuestring);
            if (any_raw)
                printf("  RAW: a trace is marked raw (not anonymized)\n");
            printf("  scanned %.0f records, %.0f values, %.0f bytes: %s\n",
                   cJSON_GetObjectItem(sc, "records")->valuedouble,
                   cJSON_GetObjectItem(sc, "values")->valuedouble,
                   cJSON_GetObjectItem(sc, "bytes")->valuedouble, note);
            printf("  detectors: %s\n", cJSON_GetObjectItem(sc, "detectors")->valuestring);
            cJSON_ArrayForEach(f, cJSON_GetObjectItem(o, "findings"))
            {
                cJSON *rec, *smp = cJSON_GetObjectItem(f, "masked_samples");
                int k = 0;
                printf("  FINDING %-14s in %-22s x%.0f  records", cJSON_GetObjectItem(f, "type")->valuestring,
                       cJSON_GetObjectItem(f, "field")->valuestring, cJSON_GetObjectItem(f, "count")->valuedouble);
                cJSON_ArrayForEach(rec, cJSON_GetObjectItem(f, "records")) printf(" #%.0f", rec->valuedouble);
                printf("  samples");
                cJSON_ArrayForEach(rec, smp) printf("%s \"%s\"", k++ ? "," : "", rec->valuestring);
                printf("\n");
            }
            printf("  residual risk (not findings):\n"
                   "    %.0f records unique on client prefix + user agent + hour (%.1f%%)\n"
                   "    %.0f addresses, anonymized as the manifest says (Crypto-PAn output looks like any address)\n"
                   "    %.0f id-shaped values under personal keys (their pseudonyms keep the shape)\n"
                   "    %.0f key-like entity tags (If-None-Match) kept\n",
                   cJSON_GetObjectItem(rr, "records_unique_on_client_prefix_ua_hour")->valuedouble,
                   100 * cJSON_GetObjectItem(rr, "unique_share")->valuedouble,
                   cJSON_GetObjectItem(rr, "ip_addresses_anonymized_per_manifest")->valuedouble,
                   cJSON_GetObjectItem(rr, "id_shaped_personal_values")->valuedouble,
                   cJSON_GetObjectItem(rr, "entity_tags_kept")->valuedouble);
            cJSON_Delete(o);
        }
        ex = strstr(rep, "\"FAIL\"") ? EXIT_FINDINGS : EXIT_OK;
        free(rep);
    }
    tide_audit_free(au);
    tide_anon_policy_free(pol);
    return ex;
}
