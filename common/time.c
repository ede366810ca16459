/*
 * time.c - civil-time arithmetic without the C library's time zone state.
 *
 * Capture parses millions of timestamps; gmtime/timegm/strptime are slow and
 * consult global locale and TZ state, so tide does the Gregorian arithmetic
 * itself (Howard Hinnant's days_from_civil) and keeps every time as int64
 * nanoseconds since the Unix epoch, UTC.
 */
#include "common.h"

#include <stdio.h>
#include <string.h>

int64_t tide_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void tide_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t era;
    unsigned doe, yoe, doy, mp;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int digits(const char *s, size_t len, size_t *i, unsigned n, unsigned *out)
{
    unsigned v = 0, k;
    for (k = 0; k < n; k++) {
        unsigned d;
        if (*i >= len)
            return -1;
        d = (unsigned char)s[*i] - '0';
        if (d > 9)
            return -1;
        v = v * 10 + d;
        (*i)++;
    }
    *out = v;
    return 0;
}

static const unsigned MDAYS[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

int tide_time_parse_rfc3339(const char *s, size_t len, int64_t *ns)
{
    size_t i = 0;
    unsigned Y, M, D, h, mi, sec = 0;
    int64_t frac = 0, off = 0;
    if (digits(s, len, &i, 4, &Y) || i >= len || s[i++] != '-' || digits(s, len, &i, 2, &M) ||
        i >= len || s[i++] != '-' || digits(s, len, &i, 2, &D))
        return TIDE_E_FORMAT;
    if (i >= len || (s[i] != 'T' && s[i] != 't' && s[i] != ' '))
        return TIDE_E_FORMAT;
    i++;
    if (digits(s, len, &i, 2, &h) || i >= len || s[i++] != ':' || digits(s, len, &i, 2, &mi))
        return TIDE_E_FORMAT;
    if (i < len && s[i] == ':') {
        i++;
        if (digits(s, len, &i, 2, &sec))
            return TIDE_E_FORMAT;
    }
    if (i < len && (s[i] == '.' || s[i] == ',')) {
        unsigned nd = 0;
        i++;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (nd < 9) {
                frac = frac * 10 + (s[i] - '0');
                nd++;
            }
            i++;
        }
        if (nd == 0)
            return TIDE_E_FORMAT;
        while (nd++ < 9)
            frac *= 10;
    }
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        int sign = s[i] == '-' ? -1 : 1;
        unsigned oh, om = 0;
        i++;
        if (digits(s, len, &i, 2, &oh))
            return TIDE_E_FORMAT;
        if (i < len && s[i] == ':')
            i++;
        if (i < len && digits(s, len, &i, 2, &om))
            return TIDE_E_FORMAT;
        if (oh > 23 || om > 59)
            return TIDE_E_FORMAT;
        off = sign * (int64_t)(oh * 3600 + om * 60);
    }
    if (i != len)
        return TIDE_E_FORMAT;
    if (M < 1 || M > 12 || D < 1 || D > MDAYS[M - 1] || h > 23 || mi > 59 || sec > 60)
        return TIDE_E_FORMAT;
    if (Y < 1700 || Y > 2200) /* int64 nanoseconds span 1678..2262 */
        return TIDE_E_FORMAT;
    *ns = ((tide_days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + sec) - off) *
              TIDE_NS_PER_SEC +
          frac;
    return 0;
}

void tide_time_format_rfc3339(int64_t ns, char out[31])
{
    int64_t secs = ns / TIDE_NS_PER_SEC, frac = ns % TIDE_NS_PER_SEC, days, sod, y;
    unsigned m, d;
    if (frac < 0) {
        frac += TIDE_NS_PER_SEC;
        secs--;
    }
    days = secs / 86400;
    sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    tide_civil_from_days(days, &y, &m, &d);
    char tmp[64];
    if (y < 0 || y > 9999) /* outside RFC 3339's range: clamp, never overflow */
        y = y < 0 ? 0 : 9999;
    snprintf(tmp, sizeof(tmp), "%04d-%02u-%02uT%02d:%02d:%02d.%09dZ", (int)y, m, d,
             (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), (int)frac);
    memcpy(out, tmp, 30);
    out[30] = 0;
}

int tide_duration_parse(const char *s, int64_t *ns)
{
    int64_t total = 0;
    size_t len = strlen(s), i = 0;
    if (len == 0)
        return TIDE_E_FORMAT;
    while (i < len) {
        int64_t whole = 0, frac = 0, fscale = 1, unit;
        size_t start = i;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (whole > INT64_MAX / 10 - 9)
                return TIDE_E_FORMAT;
            whole = whole * 10 + (s[i++] - '0');
        }
        if (i < len && s[i] == '.') {
            i++;
            while (i < len && s[i] >= '0' && s[i] <= '9') {
                if (fscale < TIDE_NS_PER_SEC) {
                    frac = frac * 10 + (s[i] - '0');
                    fscale *= 10;
                }
                i++;
            }
        }
        if (i == start)
            return TIDE_E_FORMAT;
        if (i == len && start == 0)
            unit = TIDE_NS_PER_SEC; /* bare number: seconds */
        else if (i + 1 < len && s[i] == 'm' && s[i + 1] == 's')
            unit = 1000000, i += 2;
        else if (i + 1 < len && s[i] == 'u' && s[i + 1] == 's')
            unit = 1000, i += 2;
        else if (i + 1 < len && s[i] == 'n' && s[i + 1] == 's')
            unit = 1, i += 2;
        else if (i < len && s[i] == 's')
            unit = TIDE_NS_PER_SEC, i++;
        else if (i < len && s[i] == 'm')
            unit = 60 * TIDE_NS_PER_SEC, i++;
        else if (i < len && s[i] == 'h')
            unit = 3600 * TIDE_NS_PER_SEC, i++;
        else if (i < len && s[i] == 'd')
            unit = 86400 * TIDE_NS_PER_SEC, i++;
        else
            return TIDE_E_FORMAT;
        if (whole > (INT64_MAX / 4) / unit)
            return TIDE_E_FORMAT;
        total += whole * unit + (int64_t)((double)frac / (double)fscale * (double)unit);
    }
    *ns = total;
    return 0;
}
