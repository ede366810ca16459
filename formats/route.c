/*
 * route.c - path to route template ("/students/4711" -> "/students/{id}").
 *
 * Route families group latency and counts in inspect and replay reports; the
 * rules are simple and documented (docs/cli.md) so users can predict them,
 * and --route NAME=REGEX overrides them in replay.
 */
#include "formats_int.h"

#include <ctype.h>

static bool is_id_segment(const char *s, size_t n)
{
    size_t i, digits = 0, hex = 0, alpha = 0;
    if (n == 0)
        return false;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isdigit(c))
            digits++;
        if (isxdigit(c))
            hex++;
        if (isalpha(c))
            alpha++;
    }
    if (digits == n)
        return true; /* 4711 */
    if (n == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-' && hex == 32)
        return true; /* UUID */
    if (n >= 8 && hex == n && digits > 0)
        return true; /* 5f2b9c0e... */
    if (n >= 16 && digits > 0 && alpha > 0 && digits + alpha + 0 >= n - n / 8)
        return true; /* long mixed token */
    if (n > 3 && s[0] == 'p' && s[1] == '_' && digits > 0)
        return true; /* tide pseudonym form p_... */
    return false;
}

int tide_route_template(struct tide_str path, struct tide_buf *b)
{
    size_t i = 0;
    int rc = 0;
    if (path.len == 0)
        return tide_buf_putc(b, '/');
    while (i < path.len && !rc) {
        size_t j = i;
        if (path.p[i] == '/') {
            rc = tide_buf_putc(b, '/');
            i++;
            continue;
        }
        while (j < path.len && path.p[j] != '/')
            j++;
        if (is_id_segment(path.p + i, j - i))
            rc = tide_buf_append(b, "{id}", 4);
        else
            rc = tide_buf_append(b, path.p + i, j - i);
        i = j;
    }
    return rc;
}
