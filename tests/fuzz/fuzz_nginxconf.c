/*
 * fuzz_nginxconf.c - the nginx configuration reader on arbitrary bytes
 * (includes not followed); the formats it finds are looked up for a log
 * file and compiled.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/capture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tide_nginx_conf *c = tide_nginx_conf_new(NULL);
    struct tide_err err;
    static const char *FILES[] = {"/var/log/nginx/access.log", "access.log.2.gz", "other.log"};
    size_t i;
    if (!c)
        return 0;
    if (tide_nginx_conf_parse(c, (const char *)data, size, "fuzz.conf", 0, &err) == 0) {
        for (i = 0; i < sizeof(FILES) / sizeof(FILES[0]); i++) {
            char spec[4096];
            struct tide_logfmt *f;
            if (tide_nginx_conf_format_for(c, FILES[i], spec, sizeof(spec), &err) == 0 &&
                tide_logfmt_compile(&f, spec, NULL, &err) == 0)
                tide_logfmt_free(f);
        }
    }
    tide_nginx_conf_free(c);
    return 0;
}
