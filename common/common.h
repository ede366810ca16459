/*
 * common.h - the ground floor of tide: error reporting, string views, bounded
 * growable buffers, a scratch arena, varints and time parsing/formatting.
 *
 * Everything above (formats, capture, anonymize, replay, cli) uses these; this
 * module uses libc only. Nothing here allocates per item in steady state:
 * buffers and arenas are reset and reused by their owners.
 *
 * Conventions (said once, used everywhere):
 *   - actions return int: 0 ok, negative TIDE_E_*;
 *   - iterators return 1 (item), 0 (end), negative TIDE_E_* (error);
 *   - predicates are tide_*_is_*() and return bool.
 */
#ifndef TIDE_COMMON_H
#define TIDE_COMMON_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIDE_VERSION "0.1.0"

enum tide_errcode {
    TIDE_OK = 0,
    TIDE_E_NOMEM = -1,     /* allocation failed */
    TIDE_E_IO = -2,        /* read/write/open failed (errno in message) */
    TIDE_E_FORMAT = -3,    /* input is malformed */
    TIDE_E_VERSION = -4,   /* input is of a newer, unsupported version */
    TIDE_E_CORRUPT = -5,   /* checksum mismatch or undecodable block */
    TIDE_E_TRUNCATED = -6, /* input ends early */
    TIDE_E_LIMIT = -7,     /* a configured cap was exceeded */
    TIDE_E_USAGE = -8,     /* caller passed invalid arguments */
    TIDE_E_NOTFOUND = -9,  /* named thing does not exist */
    TIDE_E_INTERNAL = -10, /* a bug or an unexpected library failure */
    TIDE_E_AGAIN = -11,    /* nothing yet: a followed input is at its end for now */
};

/*
 * Error details, filled by the function that fails. `where` names the input
 * and position ("day.tide: block 17 at offset 4194304"), `msg` says why. Never
 * a value from the input: records and fields are named, not quoted.
 */
struct tide_err {
    int code;
    char where[256];
    char msg[512];
};

/* Sets err (may be NULL) and returns code, so callers write
 * `return tide_err_set(err, TIDE_E_FORMAT, "x.log:3", "bad %s", what);`. */
int tide_err_set(struct tide_err *err, int code, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Clears err (may be NULL). */
void tide_err_clear(struct tide_err *err);
/* Formats "where: msg" into buf (borrowed). Returns buf. */
const char *tide_err_str(const struct tide_err *err, char *buf, size_t cap);
/* Short name of an error code ("corrupt", "truncated", ...). */
const char *tide_errcode_name(int code);

/* A string view: borrowed bytes, not NUL-terminated. p may be NULL iff len==0. */
struct tide_str {
    const char *p;
    uint32_t len;
};

static inline struct tide_str tide_str_make(const char *p, size_t len)
{
    struct tide_str s = {p, (uint32_t)len};
    return s;
}
struct tide_str tide_str_c(const char *cstr);
bool tide_str_is_eq(struct tide_str a, struct tide_str b);
bool tide_str_is_eq_c(struct tide_str a, const char *cstr);
bool tide_str_is_eq_nocase_c(struct tide_str a, const char *cstr);

/*
 * A growable byte buffer with a hard cap (curl's dynbuf). Appends past the cap
 * fail with TIDE_E_LIMIT and leave the contents as they were.
 */
struct tide_buf {
    char *p;
    size_t len;
    size_t cap;
    size_t max; /* hard cap; 0 = 1 GiB */
};

void tide_buf_init(struct tide_buf *b, size_t max);
void tide_buf_free(struct tide_buf *b);
static inline void tide_buf_reset(struct tide_buf *b) { b->len = 0; }
int tide_buf_reserve(struct tide_buf *b, size_t extra);
int tide_buf_append(struct tide_buf *b, const void *p, size_t n);
int tide_buf_putc(struct tide_buf *b, char c);
int tide_buf_printf(struct tide_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* v in decimal into out (at most 20 bytes, no NUL); returns the length. For
 * per-record and per-request paths, where printf's machinery shows. */
size_t tide_u64_dec(char out[20], uint64_t v);
/* LEB128 unsigned varint and zigzag signed varint. Inline: the trace
 * writer puts a dozen per record; with room for ten bytes there is no call. */
int tide__buf_put_uvar_slow(struct tide_buf *b, uint64_t v);
static inline int tide_buf_put_uvar(struct tide_buf *b, uint64_t v)
{
    uint8_t *p;
    if (b->cap - b->len < 10)
        return tide__buf_put_uvar_slow(b, v);
    p = (uint8_t *)b->p + b->len;
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    b->len = (size_t)((char *)p - b->p);
    return 0;
}
static inline int tide_buf_put_svar(struct tide_buf *b, int64_t v)
{
    return tide_buf_put_uvar(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}
int tide_buf_put_u32le(struct tide_buf *b, uint32_t v);
int tide_buf_put_u64le(struct tide_buf *b, uint64_t v);

/* Reads a varint from [*pp, end). Returns 0 ok (advances *pp), TIDE_E_FORMAT. */
int tide_get_uvar(const uint8_t **pp, const uint8_t *end, uint64_t *out);
int tide_get_svar(const uint8_t **pp, const uint8_t *end, int64_t *out);
static inline uint32_t tide_get_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t tide_get_u64le(const uint8_t *p)
{
    return (uint64_t)tide_get_u32le(p) | (uint64_t)tide_get_u32le(p + 4) << 32;
}
static inline void tide_put_u32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline void tide_put_u64le(uint8_t *p, uint64_t v)
{
    tide_put_u32le(p, (uint32_t)v);
    tide_put_u32le(p + 4, (uint32_t)(v >> 32));
}

/*
 * A scratch arena: bump allocation from chunks, freed all at once by reset.
 * Reset keeps the first chunk, so a reused arena allocates nothing in steady
 * state. Allocations over `max` total fail (NULL).
 */
struct tide_arena_chunk;
struct tide_arena {
    struct tide_arena_chunk *head;
    size_t used_total;
    size_t max; /* 0 = 1 GiB */
};

void tide_arena_init(struct tide_arena *a, size_t max);
void tide_arena_free(struct tide_arena *a);
void tide_arena_reset(struct tide_arena *a);
/* Returns n bytes aligned to 8, owned by the arena; NULL past the cap. */
void *tide_arena_alloc(struct tide_arena *a, size_t n);
/* Copies s into the arena; returns the copy's view (p==NULL on failure iff len>0). */
struct tide_str tide_arena_dup(struct tide_arena *a, struct tide_str s);

/* ---- time ---------------------------------------------------------------- */

#define TIDE_NS_PER_SEC INT64_C(1000000000)
#define TIDE_TIME_UNKNOWN INT64_MIN

/* Days since 1970-01-01 for a proleptic Gregorian date (no range check). */
int64_t tide_days_from_civil(int64_t y, unsigned m, unsigned d);
/* The date of day z since 1970-01-01 (its inverse). */
void tide_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

/*
 * Parses an RFC 3339 / ISO 8601 time ("2026-11-21T10:00:00.123Z",
 * "2026-11-21 10:00:00+01:00", fractional digits up to 9). A missing offset is
 * UTC. Returns 0 and ns since the epoch (UTC), or TIDE_E_FORMAT.
 */
int tide_time_parse_rfc3339(const char *s, size_t len, int64_t *ns);
/* Writes "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" (30 chars + NUL) into out[31]. */
void tide_time_format_rfc3339(int64_t ns, char out[31]);
/*
 * Parses a duration: "90m", "1h30m", "2.5s", "250ms", "1d", "45" (seconds).
 * Returns 0 and ns, or TIDE_E_FORMAT.
 */
int tide_duration_parse(const char *s, int64_t *ns);

/* The value of a hex digit (0..15), or -1. */
static inline int tide_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Writes code point cp (up to 0x10ffff) as UTF-8 at q, 1 to 4 bytes;
 * returns the byte after them. */
char *tide_utf8_put(char *q, unsigned cp);

/* Percent-decodes s (and '+' as a space) onto b. Returns true if anything
 * was encoded (a % escape or a '+'), false if the text came through as is. */
bool tide_percent_decode(struct tide_buf *b, const char *s, size_t n);
/* The same for a path segment, where '+' is a plus sign, not a space. */
bool tide_percent_decode_path(struct tide_buf *b, const char *s, size_t n);

/* Whether s (n bytes) is an IPv4 or IPv6 address as inet_pton reads it. */
bool tide_is_ip(const char *s, size_t n);

/* Parses a decimal integer in [s, s+len) fully; 0 ok, TIDE_E_FORMAT. */
int tide_parse_i64(const char *s, size_t len, int64_t *out);

/* ---- encoding helpers ----------------------------------------------------- */

/* Base64 (standard alphabet, padded). Appends to b. */
int tide_base64_encode(struct tide_buf *b, const void *p, size_t n);
/* Decodes standard or url alphabet, padding optional. Appends to b; TIDE_E_FORMAT. */
int tide_base64_decode(struct tide_buf *b, const char *s, size_t n);
/*
 * Appends s as the body of a JSON string (no quotes), escaping as RFC 8259
 * requires. Valid UTF-8 passes through; each byte that is not part of valid
 * UTF-8 becomes the escape \udcXX (a lone low surrogate, as Python's
 * "surrogateescape"), which tide's own JSON reader turns back into the byte,
 * so any byte string survives a round trip. Returns 0 or TIDE_E_LIMIT.
 */
int tide_json_escape(struct tide_buf *b, const char *s, size_t n);

/* ---- string map ---------------------------------------------------------------- */

/*
 * A hash map from byte strings (copied into the map's arena) to a uint64 and a
 * pointer-sized payload. Open addressing, grows by doubling; at most max_keys
 * keys (0 = no cap): a put past the cap returns TIDE_E_LIMIT, so input cannot
 * grow it without bound.
 */
struct tide_strmap_ent {
    struct tide_str key;
    uint64_t hash;
    uint64_t value;
    void *ptr;
};
struct tide_strmap {
    struct tide_strmap_ent *ents;
    size_t cap, n, max_keys;
    struct tide_arena arena;
};

void tide_strmap_init(struct tide_strmap *m, size_t max_keys);
void tide_strmap_free(struct tide_strmap *m);
/* Returns the entry for key, adding it with value 0 if absent (*added set).
 * NULL with *rc = TIDE_E_LIMIT past the cap, TIDE_E_NOMEM on failure. */
struct tide_strmap_ent *tide_strmap_upsert(struct tide_strmap *m, struct tide_str key,
                                           bool *added, int *rc);
/* Returns the entry or NULL. */
struct tide_strmap_ent *tide_strmap_get(const struct tide_strmap *m, struct tide_str key);
uint64_t tide_hash_bytes(const void *p, size_t n, uint64_t seed);

/* ---- line reader ------------------------------------------------------------ */

/* A byte source: returns bytes read (0 at end) or -1 with a message in err. */
typedef long (*tide_read_fn)(void *userp, void *buf, size_t n, struct tide_err *err);

/*
 * Splits a byte source into lines. A line longer than max_line is reported
 * (TIDE_E_LIMIT, its number known) and skipped whole, so one bad line never
 * costs the rest of the file. CRLF is folded to LF; a last line without a
 * newline is still a line.
 */
struct tide_lines {
    tide_read_fn read;
    void *userp;
    char *buf;
    size_t cap, start, end;
    size_t max_line;
    uint64_t lineno; /* number of the line last returned (1-based) */
    bool eof, skipping;
};

void tide_lines_init(struct tide_lines *l, tide_read_fn read, void *userp, size_t max_line);
/*
 * Iterator: 1 and a view of the next line (without its newline; valid until
 * the next call); 0 at the end; TIDE_E_LIMIT for an over-long line (skipped;
 * call again to go on); other negatives from the source.
 */
int tide_lines_next(struct tide_lines *l, struct tide_str *line, struct tide_err *err);
void tide_lines_free(struct tide_lines *l);

/* A tide_read_fn over a file descriptor (userp = pointer to int fd). */
long tide_read_fd(void *userp, void *buf, size_t n, struct tide_err *err);

/*
 * A bounded hand-over between a producer and a consumer thread (ring.c), over
 * slots the caller keeps: the slot numbered head is the producer's to fill,
 * [tail, head) are handed over, tail is the consumer's (slot n is n % cap).
 * Either side may keep a first failure for the other to return. tail may be
 * read with __atomic_load_n() without the lock.
 */
struct tide_ring {
    pthread_mutex_t mu;
    pthread_cond_t more, room;
    uint64_t head, tail, cap;
    bool closing;
    int failed;
    struct tide_err fail_err;
};
void tide_ring_init(struct tide_ring *r, uint64_t cap);
void tide_ring_destroy(struct tide_ring *r);
/* Producer: hands the filling slot over, then waits until the next one is free;
 * returns the next slot's number. */
uint64_t tide_ring_put(struct tide_ring *r);
/* Producer, the other order: waits until the filling slot is free (false: closed),
 * fills it, then hands it over without waiting. */
bool tide_ring_wait_room(struct tide_ring *r);
void tide_ring_publish(struct tide_ring *r);
/* Consumer: waits for a handed-over slot, sets *slot; false once closed with none left. */
bool tide_ring_get(struct tide_ring *r, uint64_t *slot);
/* Consumer: gives the slot from tide_ring_get() back. */
void tide_ring_done(struct tide_ring *r);
/* Producer: waits until every slot handed over has come back (or closed). */
void tide_ring_wait_empty(struct tide_ring *r);
/* No more slots: wakes both sides. */
void tide_ring_close(struct tide_ring *r);
/* Keeps rc (and err, may be NULL) if nothing failed before. */
void tide_ring_fail(struct tide_ring *r, int rc, const struct tide_err *err);
/* The failure kept (0: none), copied to err (may be NULL). */
int tide_ring_failure(struct tide_ring *r, struct tide_err *err);

#endif
