/*
 * formats_int.h - layout constants shared by the trace writer and reader.
 * docs/trace-format.md is the normative description; keep the two in step.
 */
#ifndef TIDE_FORMATS_INT_H
#define TIDE_FORMATS_INT_H

#include "formats/trace.h"

#include <stddef.h>

#define TIDE__MAGIC "\x89TIDE\r\n\x1a"
#define TIDE__MAGIC_LEN 8
#define TIDE__FILE_HDR_LEN 16
#define TIDE__SEC_HDR_LEN 24
#define TIDE__TRAILER_MAGIC "TIDETAIL"
#define TIDE__TRAILER_LEN 24 /* u64 FMET offset, u64 INDX offset, magic */
#define TIDE__BLOCK_HDR_LEN 24 /* count, raw size, min ts, max ts */
#define TIDE__INDEX_ENTRY_LEN 40

#define TIDE__SEC_OPTIONAL 0x1u

/* Section types, as little-endian u32 of their four ASCII letters */
#define TIDE__FOURCC(a, b, c, d)                                                         \
    ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define TIDE__SEC_META TIDE__FOURCC('M', 'E', 'T', 'A')
#define TIDE__SEC_BLCK TIDE__FOURCC('B', 'L', 'C', 'K')
#define TIDE__SEC_FMET TIDE__FOURCC('F', 'M', 'E', 'T')
#define TIDE__SEC_INDX TIDE__FOURCC('I', 'N', 'D', 'X')

/*
 * Columns of a block, in order. Numeric columns open with a uvar scale
 * exponent e (every value is a multiple of 10^e, stored divided by it).
 * String fields take three columns each: refs (uvar: 0 = literal follows,
 * k = the k-th distinct literal of this field in this block), lengths of the
 * literals (uvar) and their bytes. A reader needs at least COL_COUNT
 * columns; a later minor version may append more, which older readers ignore.
 */
enum {
    COL_TS = 0,   /* svar: delta from previous record (first: from block min) */
    COL_DURATION, /* uvar: duration_ns / 10^e + 1 (0 = unknown) */
    COL_RESP_BYTES,
    COL_STATUS,
    COL_FLAGS,
    COL_STR_FIRST, /* 8 string fields x (refs, lens, data): method .. session */
    COL_SRC = COL_STR_FIRST + 24, /* source without its ":line" suffix (refs, lens, data) */
    COL_SRC_LINE = COL_SRC + 3,   /* svar: delta of (line + 1), 0 = no line suffix */
    COL_HDR_COUNT,
    COL_HNAME, /* refs, lens, data */
    COL_HVAL = COL_HNAME + 3,
    COL_BODY_LEN = COL_HVAL + 3,
    COL_BODY,
    COL_COUNT
};

/* String fields stored generically (all but source, which splits off its line number). */
#define TIDE__N_PLAIN_STR 8

/* Splits "name:123" into name and 123 (returns 0 if there is no such suffix). */
static inline uint64_t tide__src_split(struct tide_str s, struct tide_str *name)
{
    size_t i = s.len, digits = 0;
    uint64_t v = 0;
    *name = s;
    while (i > 0 && s.p[i - 1] >= '0' && s.p[i - 1] <= '9')
        i--, digits++;
    if (digits == 0 || digits > 18 || i == 0 || s.p[i - 1] != ':' || (digits > 1 && s.p[i] == '0'))
        return 0;
    for (size_t k = i; k < s.len; k++)
        v = v * 10 + (uint64_t)(s.p[k] - '0');
    *name = tide_str_make(s.p, i - 1);
    return v + 1;
}

/* Dictionary rule, identical in writer and reader: a literal joins its
 * field's table if it is at most DICT_MAX_LEN bytes and the table has fewer
 * than DICT_MAX_ENTRIES entries. */
#define TIDE__DICT_MAX_LEN 4096
#define TIDE__DICT_MAX_ENTRIES 65536
static inline bool tide__dict_joins(size_t len, size_t entries)
{
    return len <= TIDE__DICT_MAX_LEN && entries < TIDE__DICT_MAX_ENTRIES;
}
#define TIDE__N_DICTS (TIDE__N_STR_FIELDS + 2)

#define TIDE__N_STR_FIELDS 9

/* Pointers to the 9 string fields of a record, in column order (a table of
 * offsets: this runs for every field of every record written or read). */
static inline struct tide_str *tide__rec_str(struct tide_record *r, int i)
{
    static const size_t off[TIDE__N_STR_FIELDS] = {
        offsetof(struct tide_record, method),  offsetof(struct tide_record, scheme),
        offsetof(struct tide_record, host),    offsetof(struct tide_record, path),
        offsetof(struct tide_record, query),   offsetof(struct tide_record, version),
        offsetof(struct tide_record, client),  offsetof(struct tide_record, session),
        offsetof(struct tide_record, source)};
    return (struct tide_str *)((char *)r + off[i]);
}

/* Stored order of a block's records (writer) and their order by start
 * (reader): keys sorted stably, in O(n log n) whatever their order. True if
 * they were in order already (then untouched). */
struct tide__sort_key {
    uint64_t k;
    uint32_t i;
};
bool tide__sort_keys(struct tide__sort_key *k, struct tide__sort_key *tmp, size_t n);

/* 10^e for a numeric column's scale exponent e (0..9). */
static const int64_t TIDE__POW10[10] = {1,      10,      100,      1000,      10000,
                                        100000, 1000000, 10000000, 100000000, 1000000000};

uint64_t tide__sec_checksum(const uint8_t hdr[16], const void *payload, size_t len);

#endif
