/*
 * fuzz_webconf.c - the nginx and Apache configuration readers on arbitrary
 * bytes (the first picks which; includes not followed); the formats they
 * find are looked up for log files and compiled.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/capture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tide_webconf *c;
    struct tide_err err;
    static const char *FILES[] = {"/var/log/nginx/access.log", "access.log.2.gz", "other.log"};
    size_t i;
    if (size < 1 || !(c = tide_webconf_new(NULL, data[0] & 1 ? TIDE_WEBCONF_APACHE : TIDE_WEBCONF_NGINX)))
        return 0;
    if (tide_webconf_parse(c, (const char *)data + 1, size - 1, "fuzz.conf", 0, &err) == 0) {
        for (i = 0; i < sizeof(FILES) / sizeof(FILES[0]); i++) {
            char spec[4096];
            struct tide_logfmt *f;
            if (tide_webconf_format_for(c, FILES[i], spec, sizeof(spec), &err) == 0 &&
                tide_logfmt_compile(&f, spec, NULL, &err) == 0)
                tide_logfmt_free(f);
        }
    }
    tide_webconf_free(c);
    return 0;
}
