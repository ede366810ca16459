/*
 * trace.h - the public face of formats/: the request record, the record sink,
 * the .tide trace writer and reader, and the JSON-lines form of a record.
 *
 * A record is one HTTP request plus what is known of its response. Producers
 * (capture, the trace reader, import) fill one reused record whose strings are
 * views into memory the producer owns; consumers (anonymize, the trace writer,
 * replay) copy what they keep. docs/trace-format.md specifies the file layout.
 */
#ifndef TIDE_TRACE_H
#define TIDE_TRACE_H

#include <stdio.h>

#include "common/common.h"

#define TIDE_FORMAT_VERSION_MAJOR 2
#define TIDE_FORMAT_VERSION_MINOR 0

/* Caps applied by writer and reader alike; a record beyond them is refused. */
#define TIDE_MAX_HEADERS 1024
#define TIDE_MAX_FIELD (1u << 20)        /* 1 MiB per string field */
#define TIDE_MAX_BODY (64u << 20)        /* 64 MiB per body */
#define TIDE_MAX_BLOCK_RAW (256u << 20)  /* uncompressed block size */
#define TIDE_MAX_BLOCK_RECORDS (1u << 20)
#define TIDE_MAX_META (16u << 20)

/* Record flags */
#define TIDE_REC_HAS_BODY 0x1u       /* body present (may be empty) */
#define TIDE_REC_BODY_TRUNCATED 0x2u /* body was cut at a cap during capture */
#define TIDE_REC_LATE 0x4u           /* arrived after the reorder window */

struct tide_header {
    struct tide_str name;
    struct tide_str value;
};

/*
 * One request. Strings are views (borrowed); who owns the bytes is said by
 * whoever hands the record out. Unknown numbers are negative: status -1,
 * resp_bytes -1, duration_ns -1.
 */
struct tide_record {
    int64_t ts_ns;       /* request start, ns since epoch, UTC */
    int64_t duration_ns; /* server-side duration, -1 unknown */
    int64_t resp_bytes;  /* response body bytes, -1 unknown */
    int32_t status;      /* response status, -1 unknown */
    uint32_t flags;      /* TIDE_REC_* */
    struct tide_str method, scheme, host, path, query, version;
    struct tide_str client, session, source;
    struct tide_header *headers; /* n_headers entries */
    uint32_t n_headers;
    struct tide_str body;
};

/* Sets every field to empty/unknown (headers pointer kept as given). */
void tide_record_clear(struct tide_record *r);
/* Deep-copies src into dst using arena a; dst->headers allocated there too. */
int tide_record_copy(struct tide_record *dst, const struct tide_record *src,
                     struct tide_arena *a);
/* Looks up a header by case-insensitive name; returns its value or NULL .p. */
struct tide_str tide_record_header(const struct tide_record *r, const char *name);

/*
 * A record sink: receives records one at a time. The record is borrowed for
 * the call only. Returns 0 to continue, negative TIDE_E_* to stop the producer.
 */
typedef int (*tide_sink_fn)(void *userp, const struct tide_record *r, struct tide_err *err);

struct tide_sink {
    tide_sink_fn fn;
    void *userp;
};

/*
 * A pipe: a sink that copies records and passes them on to next on a thread
 * of its own, in order (pipe.c). next must not be used by anyone else until
 * tide_pipe_sync() returns; next's first failure is returned by every later
 * call. Free without a sync drops what was not passed on.
 */
struct tide_pipe;
int tide_pipe_new(struct tide_pipe **out, struct tide_sink next, struct tide_err *err);
int tide_pipe_sink(void *pipe, const struct tide_record *r, struct tide_err *err);
/* Waits until every record so far has passed through next. */
int tide_pipe_sync(struct tide_pipe *p, struct tide_err *err);
void tide_pipe_free(struct tide_pipe *p);

/*
 * Appends the route template of a path to b: segments that look like ids
 * (all digits, UUIDs, hex of 8+ chars, long mixed tokens, tide pseudonyms)
 * become "{id}"; the query is not part of the path. "/api/students/4711/
 * essays" gives "/api/students/{id}/essays". Used by inspect and replay.
 */
int tide_route_template(struct tide_str path, struct tide_buf *b);

/* ---- JSON lines ------------------------------------------------------------ */

/*
 * Appends one record as a JSON object and a newline to b. Field names and
 * forms are documented in docs/jsonl.md and stable.
 */
int tide_record_to_json(const struct tide_record *r, struct tide_buf *b);

/*
 * Parses one JSON line (without newline) into r. String fields point into
 * `scratch` (an arena the caller owns and resets between lines). On failure
 * returns TIDE_E_FORMAT with a reason in err->msg (no input values quoted);
 * err->where is left for the caller to fill with file:line.
 */
int tide_record_from_json(const char *line, size_t len, struct tide_record *r,
                          struct tide_arena *scratch, struct tide_err *err);

/* ---- trace writer ----------------------------------------------------------- */

struct tide_trace_writer;

struct tide_trace_writer_opts {
    int level;              /* zstd level, 0 = default (9) */
    uint32_t block_records; /* records per block, 0 = default (65536) */
    uint32_t block_bytes;   /* raw bytes per block before flush, 0 = 8 MiB (what a reader holds decoded, per reader) */
};

/*
 * Opens a writer on fd (borrowed; the caller closes it after
 * tide_trace_writer_close). `meta_json` is the start metadata object as JSON
 * text (borrowed, copied); it must contain "raw": true or false. `name` names
 * the output in errors. Writes the file header and metadata at once, so the
 * output is a valid (empty, tail-less) trace from the first moment.
 */
int tide_trace_writer_open(struct tide_trace_writer **out, int fd, const char *name,
                           const char *meta_json, const struct tide_trace_writer_opts *opts,
                           struct tide_err *err);
/* Adds one record (borrowed for the call). */
int tide_trace_writer_add(struct tide_trace_writer *w, const struct tide_record *r,
                          struct tide_err *err);
/* A tide_sink_fn over a writer (userp = writer). */
int tide_trace_writer_sink(void *userp, const struct tide_record *r, struct tide_err *err);
/* Writes out the pending block, if any (used by --flush on live capture). */
int tide_trace_writer_flush(struct tide_trace_writer *w, struct tide_err *err);
/*
 * Flushes, writes the final metadata (merged with `final_json`, a JSON object
 * text or NULL: counters the producer wants recorded), the index and the
 * trailer. Does not free; call tide_trace_writer_free after.
 */
int tide_trace_writer_close(struct tide_trace_writer *w, const char *final_json,
                            struct tide_err *err);
/* Frees the writer (NULL ok). Without a successful close the output has no tail. */
void tide_trace_writer_free(struct tide_trace_writer *w);
uint64_t tide_trace_writer_records(const struct tide_trace_writer *w);
/* Blocks written out whole so far (any thread; 0 for NULL). */
uint64_t tide_trace_writer_blocks(const struct tide_trace_writer *w);

/* ---- trace reader ----------------------------------------------------------- */

struct tide_trace_reader;

struct tide_trace_reader_opts {
    int64_t from_ns;   /* inclusive; TIDE_TIME_UNKNOWN = open */
    int64_t to_ns;     /* exclusive; TIDE_TIME_UNKNOWN = open */
    bool from_is_offset; /* from_ns is an offset from the trace's first record */
    bool to_is_offset;   /* to_ns is an offset from the trace's first record */
    bool skip_corrupt;   /* report corrupt blocks in stats and go on */
    bool verify_only;  /* decode blocks but hand out no records (inspect) */
    bool any_order;    /* a block's records may come as stored, not by start
                        * (for counts, where order does not matter: inspect) */
};

/* What the reader met, for reports; counters grow as it reads. */
struct tide_trace_stats {
    uint64_t blocks_read;
    uint64_t blocks_skipped_by_index; /* outside --from/--to, never read */
    uint64_t blocks_corrupt;
    uint64_t records_in_corrupt;      /* as far as known (index), else 0 */
    uint64_t records_read;            /* decoded, before the time filter */
    uint64_t bytes_compressed;
    uint64_t bytes_raw;
    bool has_tail;                    /* index and trailer found */
    bool truncated;                   /* file ended inside a section */
    uint64_t truncated_at;            /* offset where the unusable tail starts */
    uint64_t truncated_lost_bytes;    /* bytes after the last whole section */
    uint64_t last_good_block;         /* number of the last whole block + 1 (0: none) */
};

/*
 * Opens a trace from fd (borrowed; may be a pipe). Reads and checks the file
 * header and start metadata; for a seekable file, also the index. A file that
 * is not a trace, or of a newer major version, is refused with TIDE_E_FORMAT or
 * TIDE_E_VERSION and a one-line message.
 */
int tide_trace_reader_open(struct tide_trace_reader **out, int fd, const char *name,
                           const struct tide_trace_reader_opts *opts, struct tide_err *err);
/*
 * Iterator: 1 and *rec (valid until the next call) for a record; 0 at the end;
 * negative on error (TIDE_E_CORRUPT names block and offset; TIDE_E_TRUNCATED
 * says what was lost). Records are handed out by start: blocks in file
 * order, each block's records sorted by start, ties in stored order (2.x;
 * a 1.x block's records come as stored).
 */
int tide_trace_reader_next(struct tide_trace_reader *r, const struct tide_record **rec,
                           struct tide_err *err);
/* The start metadata (JSON text, borrowed, valid for the reader's life). */
const char *tide_trace_reader_meta(const struct tide_trace_reader *r);
/* The final metadata (JSON text, borrowed), or NULL if the tail is missing
 * or not yet reached on a pipe. */
const char *tide_trace_reader_final_meta(const struct tide_trace_reader *r);
const struct tide_trace_stats *tide_trace_reader_stats(const struct tide_trace_reader *r);
/* True if the start metadata marks the trace raw (not anonymized). */
bool tide_trace_reader_is_raw(const struct tide_trace_reader *r);
/* The major format version the trace was written in (1 or 2). */
unsigned tide_trace_reader_format_major(const struct tide_trace_reader *r);
/* Number of blocks the index lists (0 without an index). */
uint64_t tide_trace_reader_index_blocks(const struct tide_trace_reader *r);
/* Total records per the index (0 without an index). */
uint64_t tide_trace_reader_index_records(const struct tide_trace_reader *r);
/* Frees the reader (NULL ok). */
void tide_trace_reader_free(struct tide_trace_reader *r);

/* ---- HTTP/1.x message heads and chunked framing (http1.c): parsed from memory, shared by
 * capture (TCP reassembly) and replay (the native HTTP/1.1 client) ---- */
#define TIDE_HTTP_MAX_HEADERS 64
#define TIDE_HTTP_MAX_HEAD (64 * 1024)
struct tide_http_head {
    struct tide_str method, target, version;
    struct tide_str host; /* the first Host header's value (NULL .p: none) */
    int status;
    struct tide_header headers[TIDE_HTTP_MAX_HEADERS];
    uint32_t n_headers, headers_dropped;
    int64_t content_length; /* -1: none */
    bool chunked, conn_close;
};
/* Head length (> 0), 0 need more, < 0 not an HTTP/1.x head. */
long tide_http_request_head(const char *buf, size_t len, struct tide_http_head *h);
long tide_http_response_head(const char *buf, size_t len, struct tide_http_head *h);
bool tide_http_is_method_start(const char *p, size_t n);
enum { TIDE_CH_SIZE, TIDE_CH_DATA, TIDE_CH_DATA_END, TIDE_CH_TRAILER, TIDE_CH_DONE };
struct tide_http_chunks {
    int state;
    uint64_t left;
};
/* Consumes chunked framing; returns bytes consumed (state TIDE_CH_DONE at the end) or < 0.
 * Data goes to out (may be NULL) up to cap bytes; past it *truncated is set. */
long tide_http_chunked(struct tide_http_chunks *c, const char *buf, size_t len, uint64_t *body_bytes,
                        struct tide_buf *out, size_t cap, bool *truncated);

#endif
