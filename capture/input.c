/*
 * input.c - log inputs: plain files, stdin, gzip, zstd, bzip2 and xz, told apart by
 * their first bytes rather than their names (rotated logs are often renamed).
 * A truncated compressed file yields what decompressed and then an error
 * that says so.
 *
 * tide_input_readahead() moves reading and decompressing to a thread of
 * their own, a few 1 MiB chunks ahead of the caller; tide_input_chunk() hands
 * those chunks out without copying them.
 */
#define _GNU_SOURCE /* memfd_create */
#include "capture_int.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bzlib.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

enum kind { IN_PLAIN, IN_GZIP, IN_ZSTD, IN_BZIP2, IN_XZ };

struct tide_input {
    int fd;
    enum kind kind;
    char name[256];
    uint64_t bytes;
    uint8_t *ibuf;
    size_t ilen, ipos;
    bool eof;
    z_stream z;
    bool z_init, z_done;
    ZSTD_DStream *zs;
    size_t zs_last; /* last ZSTD_decompressStream result: 0 = frame complete */
    bz_stream bz;
    bool bz_init, bz_done;
    lzma_stream xz;
    bool xz_init, xz_done;
    volatile int *follow_stop; /* non-NULL: follow the file (tail -F) */
    bool stream;               /* stdin from a pipe or terminal: followed, it ends when the writer closes it */
    bool follow_nb;            /* at its end, reads fail with TIDE_E_AGAIN instead of waiting */
    tide_idle_fn idle;
    void *idle_userp;
    char path[4096];
    uint64_t offset; /* bytes read from the current file */
    uint8_t tail[64]; /* the last bytes read, to tell a truncated-and-rewritten file */
    size_t tail_len;
    int next_fd;         /* followed: the file now at path, once it is another (-1: none) */
    bool next_now;       /* next_fd is the log itself, after its copytruncate copy: no wait */
    bool need_sniff;     /* the next bytes read start a file: their magic sets the kind */
    int64_t rotate_wait; /* how long the old file must be quiet before it is left */
    bool end_when_gone;  /* followed: deleted and quiet is the end */
    /* chunks: filled by decode() here, or by the read-ahead thread */
    char *chunk;  /* without read-ahead: the chunk last handed out */
    const char *cur; /* tide_input_read() over chunks: what is left of the current one */
    size_t cur_len;
    struct ra *ra;
};

#define CHUNK ((size_t)1 << 20)
#define RA_N 4

struct ra {
    pthread_t thread;
    struct tide_ring q; /* the thread fills slot[head % RA_N]; the caller holds slot[tail % RA_N] */
    struct ra_slot {
        char *p;
        long len; /* bytes, 0 at the end, < 0 an error (in err) */
        struct tide_err err;
    } slot[RA_N];
    bool held;
};

void tide_input_follow(struct tide_input *in, volatile int *stop, tide_idle_fn idle, void *userp)
{
    in->follow_stop = stop;
    in->idle = idle;
    in->idle_userp = userp;
}

void tide_input_follow_nb(struct tide_input *in, volatile int *stop)
{
    in->follow_stop = stop;
    in->follow_nb = true;
}

/* A followed file's path names a new file (a rotation): by default, how long
 * the old one must have been left alone (its ctime: the rename, or the last
 * write) before it is left for the new. A server writes on into the renamed
 * file until it reopens its log: logrotate's `create` renames and makes the
 * new file first, then signals the server in postrotate (nginx: USR1,
 * through invoke-rc.d; Apache's graceful reload lets running requests finish
 * and log), and each worker reopens when it next gets to it. Leaving at once
 * lost those lines. */
#define ROTATE_WAIT_NS INT64_C(5000000000)

void tide_input_rotate_wait(struct tide_input *in, int64_t ns)
{
    if (ns > 0)
        in->rotate_wait = ns;
}

void tide_input_end_when_gone(struct tide_input *in) { in->end_when_gone = true; }

bool tide_input_is_stream(const char *path)
{
    struct stat st;
    return strcmp(path, "-") == 0 || (stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode));
}

/* Nanoseconds since the file's last change (ctime: a write, a rename, an unlink). */
static int64_t quiet_for(const struct stat *st)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)(now.tv_sec - st->st_ctim.tv_sec) * 1000000000 + (now.tv_nsec - st->st_ctim.tv_nsec);
}

/* The file that followed the open one at its path (a rotation), opened as
 * soon as it is seen: a second rotation within the wait renames it in turn,
 * and it must still be read. -1 while there is none. */
static int next_file(struct tide_input *in, const struct stat *cur)
{
    struct stat now;
    if (in->next_fd < 0 && stat(in->path, &now) == 0 &&
        (now.st_ino != cur->st_ino || now.st_dev != cur->st_dev))
        in->next_fd = open(in->path, O_RDONLY | O_CLOEXEC);
    return in->next_fd;
}

/* Leaves the open file, read to its end, for the next one. */
static void take_next_file(struct tide_input *in)
{
    close(in->fd);
    in->fd = in->next_fd;
    in->next_fd = -1;
    in->next_now = false;
    in->need_sniff = true;
    in->offset = 0;
    in->tail_len = 0;
}

/* A copy whose first bytes say it is compressed (gzip, zstd, bzip2, xz). */
static bool compressed_magic(const uint8_t *b, size_t n)
{
    return (n >= 2 && b[0] == 0x1f && b[1] == 0x8b) || (n >= 4 && memcmp(b, "\x28\xb5\x2f\xfd", 4) == 0) ||
           (n >= 3 && memcmp(b, "BZh", 3) == 0) || (n >= 6 && memcmp(b, "\xfd" "7zXZ\0", 6) == 0);
}

/* A compressed copy (logrotate's compress without delaycompress made
 * access.log.1.gz of it before tide looked): decoded, and if it holds what
 * was read last at the same offset, what it holds past that is put in a
 * memory file at the same offsets (the tail before it too, for
 * follow_check): open, or -1. A copy still being compressed (cut short) is
 * passed over: its plain original is still beside it then. */
static int decoded_copy(const struct tide_input *in, const char *name)
{
    struct tide_input *c;
    struct tide_err e = {0};
    uint64_t pos = 0, from = in->offset - in->tail_len;
    uint8_t have[64];
    size_t got = 0;
    int mfd = -1;
    char *buf;
    long k = 0;
    if (tide_input_open(&c, name, &e))
        return -1;
    if (!(buf = malloc(CHUNK))) {
        tide_input_close(c);
        return -1;
    }
    while ((k = tide_input_read(c, buf, CHUNK, &e)) > 0) {
        uint64_t end = pos + (uint64_t)k;
        if (end > from && pos < in->offset) { /* the bytes of the tail */
            uint64_t a = pos > from ? pos : from, b = end < in->offset ? end : in->offset;
            memcpy(have + (a - from), buf + (a - pos), (size_t)(b - a));
            got += (size_t)(b - a);
            if (got == in->tail_len && memcmp(have, in->tail, in->tail_len) != 0)
                break; /* another rotation's */
        }
        if (end > from && got == in->tail_len && memcmp(have, in->tail, in->tail_len) == 0) {
            uint64_t a = pos > from ? pos : from;
            if (mfd < 0 && (mfd = memfd_create("tide-copy", MFD_CLOEXEC)) < 0)
                break;
            if (pwrite(mfd, buf + (a - pos), (size_t)(end - a), (off_t)a) != (ssize_t)(end - a))
                break;
        }
        pos = end;
    }
    free(buf);
    tide_input_close(c);
    if (k != 0 || got != in->tail_len || mfd < 0) { /* cut short, another file's, or no memory */
        if (mfd >= 0)
            close(mfd);
        return -1;
    }
    return mfd;
}

#define COPY_FRESH_NS INT64_C(60000000000) /* a compressed copy older than this is an older rotation's */

/* The copy logrotate's copytruncate made of a followed log before
 * truncating it, if it is beside the log under a rotated name (access.log.1,
 * access.log-20261122, ...) and holds what was read last at the same offset:
 * open, or -1. Plain copies are looked at first; a compressed one made in
 * the last minute (access.log.1.gz: compress without delaycompress) is
 * decoded (decoded_copy). */
static int find_copy(const struct tide_input *in, const struct stat *live)
{
    char dir[4096], name[4096 + 256];
    const char *slash = strrchr(in->path, '/'), *base = slash ? slash + 1 : in->path;
    size_t blen = strlen(base);
    int found = -1, looked = 0, n_packed = 0, i;
    char *packed[8]; /* compressed copies, fresh: for the second look */
    struct dirent *de;
    DIR *d;
    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - in->path) : 1, slash ? in->path : ".");
    if (slash == in->path)
        snprintf(dir, sizeof(dir), "/");
    if (!(d = opendir(dir)))
        return -1;
    while (found < 0 && looked < 256 && (de = readdir(d))) {
        uint8_t chk[64];
        struct stat st;
        int fd;
        if (strncmp(de->d_name, base, blen) != 0 || (de->d_name[blen] != '.' && de->d_name[blen] != '-'))
            continue;
        looked++;
        snprintf(name, sizeof(name), "%s/%s", dir, de->d_name);
        if ((fd = open(name, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0) /* a FIFO must not block */
            continue;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_ino != live->st_ino &&
            (uint64_t)st.st_size >= in->offset &&
            pread(fd, chk, in->tail_len, (off_t)(in->offset - in->tail_len)) == (ssize_t)in->tail_len &&
            memcmp(chk, in->tail, in->tail_len) == 0) {
            found = fd;
            continue;
        }
        if (n_packed < (int)(sizeof(packed) / sizeof(packed[0])) && S_ISREG(st.st_mode) &&
            st.st_ino != live->st_ino && quiet_for(&st) < COPY_FRESH_NS &&
            pread(fd, chk, 6, 0) == 6 && compressed_magic(chk, 6) && (packed[n_packed] = strdup(name)))
            n_packed++;
        close(fd);
    }
    closedir(d);
    for (i = 0; i < n_packed; i++) {
        if (found < 0)
            found = decoded_copy(in, packed[i]);
        free(packed[i]);
    }
    return found;
}

/* A followed log truncated in place (copytruncate): read again from its
 * start, after what its copy holds past what was read (the lines written
 * between the last read and the copy, lost by tail -F). */
static void follow_truncated(struct tide_input *in, const struct stat *live)
{
    int copy = in->tail_len && in->next_fd < 0 ? find_copy(in, live) : -1;
    lseek(in->fd, 0, SEEK_SET);
    if (copy >= 0) {
        lseek(copy, (off_t)in->offset, SEEK_SET); /* offset and tail stay: they are the copy's too */
        in->next_fd = in->fd;
        in->next_now = true;
        in->fd = copy;
        return;
    }
    in->need_sniff = true;
    in->offset = 0;
    in->tail_len = 0;
}

/* At the end of a followed file, one look: 0 stopped (the real end), 1 read
 * again (more data, a rotation, a truncation), 2 nothing new yet. */
static int follow_check(struct tide_input *in)
{
    struct stat cur;
    if (fstat(in->fd, &cur) != 0)
        return *in->follow_stop ? 0 : 2;
    if (*in->follow_stop) {
        /* the real end, once a file that came after this one is read too */
        if (next_file(in, &cur) < 0)
            return 0;
        take_next_file(in);
        return 1;
    }
    if ((uint64_t)cur.st_size < in->offset) {
        follow_truncated(in, &cur);
        return 1;
    }
    if (in->tail_len) {
        /* truncated and written again past our offset before we looked: the
         * bytes before our offset are no longer the ones we read */
        uint8_t chk[64];
        if (pread(in->fd, chk, in->tail_len, (off_t)(in->offset - in->tail_len)) != (ssize_t)in->tail_len ||
            memcmp(chk, in->tail, in->tail_len) != 0) {
            follow_truncated(in, &cur);
            return 1;
        }
    }
    if ((uint64_t)cur.st_size > in->offset)
        return 1; /* more data */
    if (next_file(in, &cur) < 0) {
        struct stat at;
        if (in->end_when_gone && cur.st_nlink == 0 && stat(in->path, &at) != 0 && quiet_for(&cur) >= in->rotate_wait)
            return 0; /* deleted, and no one writes it */
        return 2;
    }
    if (!in->next_now && quiet_for(&cur) < in->rotate_wait)
        return 2; /* renamed or written lately: the server may not have reopened its log */
    take_next_file(in);
    return 1;
}

/* At the end of a followed file: wait for data, a rotation, a truncation or a stop. */
static int follow_wait(struct tide_input *in)
{
    for (;;) {
        struct timespec ts = {0, 200000000};
        int w;
        if (*in->follow_stop)
            return 0;
        if (in->idle)
            in->idle(in->idle_userp);
        nanosleep(&ts, NULL);
        if ((w = follow_check(in)) != 2)
            return w;
    }
}

#define IBUF (256 * 1024)

static long raw_read(struct tide_input *in, void *buf, size_t n, struct tide_err *err)
{
    for (;;) {
        ssize_t k;
        if (in->follow_stop && in->stream) {
            /* a live pipe (journalctl -f, kubectl logs -f): nothing yet is
             * "no new data"; a stop, or the writer closing it, is the end */
            struct pollfd pfd = {in->fd, POLLIN, 0};
            int pr;
            if (*in->follow_stop)
                return 0;
            pr = poll(&pfd, 1, in->follow_nb ? 0 : 200);
            if (pr < 0 && errno == EINTR)
                continue;
            if (pr == 0) {
                if (in->follow_nb) {
                    tide_err_set(err, TIDE_E_AGAIN, in->name, "no new data yet");
                    return -1;
                }
                if (in->idle)
                    in->idle(in->idle_userp);
                continue;
            }
        }
        k = read(in->fd, buf, n);
        if (k == 0 && in->follow_stop && !in->stream) {
            int w = in->follow_nb ? follow_check(in) : follow_wait(in);
            if (w == 1)
                continue;
            if (w == 2) {
                tide_err_set(err, TIDE_E_AGAIN, in->name, "no new data yet");
                return -1;
            }
        }
        if (k >= 0) {
            __atomic_add_fetch(&in->bytes, (uint64_t)k, __ATOMIC_RELAXED);
            in->offset += (uint64_t)k;
            if (k > 0) { /* the last bytes read, for follow_check (the first read comes before follow) */
                size_t keep = (size_t)k >= sizeof(in->tail) ? sizeof(in->tail) : (size_t)k;
                size_t old = in->tail_len + keep > sizeof(in->tail) ? sizeof(in->tail) - keep : in->tail_len;
                memmove(in->tail, in->tail + in->tail_len - old, old);
                memcpy(in->tail + old, (uint8_t *)buf + k - (ssize_t)keep, keep);
                in->tail_len = old + keep;
            }
            return (long)k;
        }
        if (errno != EINTR) {
            tide_err_set(err, TIDE_E_IO, in->name, "read failed: %s", strerror(errno));
            return -1;
        }
    }
}

/* Ends the decoder of the bytes read so far, if any. */
static void end_decoder(struct tide_input *in)
{
    if (in->z_init)
        inflateEnd(&in->z);
    in->z_init = in->z_done = false;
    ZSTD_freeDStream(in->zs);
    in->zs = NULL;
    in->zs_last = 0;
    if (in->bz_init)
        BZ2_bzDecompressEnd(&in->bz);
    in->bz_init = in->bz_done = false;
    if (in->xz_init)
        lzma_end(&in->xz);
    in->xz_init = in->xz_done = false;
    in->kind = IN_PLAIN;
}

/* Sets up the decoder the magic of the bytes in ibuf calls for (plain when
 * none), ending the one before: a followed log's next file, or the file
 * read again after a truncation, starts a stream of its own. */
static int set_kind(struct tide_input *in, struct tide_err *err)
{
    const uint8_t *b = in->ibuf + in->ipos;
    size_t k = in->ilen - in->ipos;
    end_decoder(in);
    if (k >= 2 && b[0] == 0x1f && b[1] == 0x8b) {
        in->kind = IN_GZIP;
        if (inflateInit2(&in->z, 15 + 32) != Z_OK)
            return tide_err_set(err, TIDE_E_NOMEM, in->name, "zlib init failed");
        in->z_init = true;
    } else if (k >= 4 && b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd) {
        in->kind = IN_ZSTD;
        if (!(in->zs = ZSTD_createDStream()))
            return tide_err_set(err, TIDE_E_NOMEM, in->name, "zstd init failed");
        ZSTD_initDStream(in->zs);
    } else if (k >= 3 && b[0] == 'B' && b[1] == 'Z' && b[2] == 'h') {
        in->kind = IN_BZIP2;
        if (BZ2_bzDecompressInit(&in->bz, 0, 0) != BZ_OK)
            return tide_err_set(err, TIDE_E_NOMEM, in->name, "bzip2 init failed");
        in->bz_init = true;
    } else if (k >= 6 && memcmp(b, "\xfd" "7zXZ\0", 6) == 0) {
        lzma_stream z0 = LZMA_STREAM_INIT;
        in->kind = IN_XZ;
        in->xz = z0;
        /* concatenated streams (xz of several files, cat a.xz b.xz) read through */
        if (lzma_stream_decoder(&in->xz, UINT64_MAX, LZMA_CONCATENATED) != LZMA_OK)
            return tide_err_set(err, TIDE_E_NOMEM, in->name, "xz init failed");
        in->xz_init = true;
    }
    return 0;
}

/* Reads more into ibuf once it is used up: 0, -1 (err set), or 1 when the
 * bytes read start a new file whose kind is now set (the caller decodes
 * afresh). */
static int fill(struct tide_input *in, struct tide_err *err)
{
    long k;
    if (in->ipos < in->ilen || (in->eof && !in->follow_stop))
        return 0;
    k = raw_read(in, in->ibuf, IBUF, err);
    if (k < 0)
        return -1;
    in->ilen = (size_t)k;
    in->ipos = 0;
    in->eof = k == 0; /* followed, an end may be followed by more */
    if (k > 0 && in->need_sniff) {
        in->need_sniff = false;
        return set_kind(in, err) ? -1 : 1;
    }
    return 0;
}

int tide_input_open(struct tide_input **out, const char *path, struct tide_err *err)
{
    struct tide_input *in = calloc(1, sizeof(*in));
    long k;
    *out = NULL;
    if (!in)
        return tide_err_set(err, TIDE_E_NOMEM, path, "out of memory");
    snprintf(in->name, sizeof(in->name), "%s", path);
    snprintf(in->path, sizeof(in->path), "%s", path);
    in->rotate_wait = ROTATE_WAIT_NS;
    in->next_fd = -1;
    in->ibuf = malloc(IBUF);
    if (!in->ibuf) {
        free(in);
        return tide_err_set(err, TIDE_E_NOMEM, path, "out of memory");
    }
    if (strcmp(path, "-") == 0) {
        struct stat sb;
        in->fd = 0;
        in->stream = fstat(0, &sb) != 0 || !S_ISREG(sb.st_mode);
    } else {
        struct stat sb;
        in->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (in->fd < 0) {
            int e = errno;
            struct rlimit rl;
            free(in->ibuf);
            free(in);
            if (e == EMFILE && getrlimit(RLIMIT_NOFILE, &rl) == 0)
                return tide_err_set(err, TIDE_E_IO, path,
                                    "cannot open: %s (every input is read at once, and the limit is %llu: "
                                    "raise it (ulimit -Hn), or capture fewer files at a time and join the "
                                    "traces with tide merge)",
                                    strerror(e), (unsigned long long)rl.rlim_cur);
            return tide_err_set(err, e == ENOENT ? TIDE_E_NOTFOUND : TIDE_E_IO, path,
                                "cannot open: %s", strerror(e));
        }
        if (fstat(in->fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            close(in->fd);
            free(in->ibuf);
            free(in);
            return tide_err_set(err, TIDE_E_USAGE, path, "is a directory: give the files in it");
        }
    }
    /* sniff the magic from the first read; keep the bytes for the decoder */
    k = raw_read(in, in->ibuf, IBUF, err);
    if (k < 0) {
        tide_input_close(in);
        return TIDE_E_IO;
    }
    in->ilen = (size_t)k;
    if (k == 0)
        in->eof = true;
    if (k == 0)
        in->need_sniff = true; /* an empty log, followed: its first bytes tell */
    else if (set_kind(in, err)) {
        tide_input_close(in);
        return err->code;
    }
    *out = in;
    return 0;
}

/* Reads and decodes up to n bytes: > 0, 0 at the end, -1 with err set. */
static long decode(struct tide_input *in, void *buf, size_t n, struct tide_err *err)
{
    int f;
    if (in->kind == IN_PLAIN) {
        size_t k;
        /* straight into the caller's buffer, but not when following: the
         * next file's first bytes must be seen in ibuf (fill) to tell its kind */
        if (in->ipos >= in->ilen && !in->eof && !in->follow_stop && n >= IBUF) {
            long r = raw_read(in, buf, n, err); /* straight into the caller's buffer */
            if (r == 0)
                in->eof = true;
            return r;
        }
        if ((f = fill(in, err)) != 0)
            return f < 0 ? -1 : decode(in, buf, n, err);
        if (in->follow_stop && in->ipos >= in->ilen)
            return 0; /* stopped */
        k = in->ilen - in->ipos;
        if (k > n)
            k = n;
        memcpy(buf, in->ibuf + in->ipos, k);
        in->ipos += k;
        return (long)k;
    }
    if (in->kind == IN_GZIP) {
        for (;;) {
            int zr;
            if (in->z_done && in->ipos >= in->ilen && in->eof)
                return 0;
            if ((f = fill(in, err)) != 0)
                return f < 0 ? -1 : decode(in, buf, n, err);
            if (in->ipos >= in->ilen && in->eof) {
                if (!in->z_done) {
                    tide_err_set(err, TIDE_E_TRUNCATED, in->name,
                                 "gzip stream is truncated (after %llu compressed bytes)",
                                 (unsigned long long)in->bytes);
                    return -1;
                }
                return 0;
            }
            if (in->z_done) { /* concatenated gzip members (as logrotate can make) */
                inflateReset(&in->z);
                in->z_done = false;
            }
            in->z.next_in = in->ibuf + in->ipos;
            in->z.avail_in = (uInt)(in->ilen - in->ipos);
            in->z.next_out = buf;
            in->z.avail_out = (uInt)(n > (1u << 30) ? (1u << 30) : n);
            zr = inflate(&in->z, Z_NO_FLUSH);
            in->ipos = in->ilen - in->z.avail_in;
            if (zr == Z_STREAM_END)
                in->z_done = true;
            else if (zr != Z_OK && zr != Z_BUF_ERROR) {
                tide_err_set(err, TIDE_E_FORMAT, in->name, "gzip data is corrupt near byte %llu",
                             (unsigned long long)in->bytes);
                return -1;
            }
            if ((size_t)((char *)in->z.next_out - (char *)buf) > 0)
                return (long)((char *)in->z.next_out - (char *)buf);
        }
    }
    if (in->kind == IN_BZIP2) {
        for (;;) {
            int br;
            if ((f = fill(in, err)) != 0)
                return f < 0 ? -1 : decode(in, buf, n, err);
            if (in->ipos >= in->ilen && in->eof) {
                if (!in->bz_done) {
                    tide_err_set(err, TIDE_E_TRUNCATED, in->name,
                                 "bzip2 stream is truncated (after %llu compressed bytes)",
                                 (unsigned long long)in->bytes);
                    return -1;
                }
                return 0;
            }
            if (in->bz_done) { /* concatenated streams (pbzip2, cat a.bz2 b.bz2) */
                BZ2_bzDecompressEnd(&in->bz);
                in->bz_init = false;
                if (BZ2_bzDecompressInit(&in->bz, 0, 0) != BZ_OK) {
                    tide_err_set(err, TIDE_E_NOMEM, in->name, "bzip2 init failed");
                    return -1;
                }
                in->bz_init = true;
                in->bz_done = false;
            }
            in->bz.next_in = (char *)in->ibuf + in->ipos;
            in->bz.avail_in = (unsigned)(in->ilen - in->ipos);
            in->bz.next_out = buf;
            in->bz.avail_out = (unsigned)(n > (1u << 30) ? (1u << 30) : n);
            br = BZ2_bzDecompress(&in->bz);
            in->ipos = in->ilen - in->bz.avail_in;
            if (br == BZ_STREAM_END)
                in->bz_done = true;
            else if (br != BZ_OK) {
                tide_err_set(err, TIDE_E_FORMAT, in->name, "bzip2 data is corrupt near byte %llu",
                             (unsigned long long)in->bytes);
                return -1;
            }
            if (in->bz.next_out - (char *)buf > 0)
                return (long)(in->bz.next_out - (char *)buf);
        }
    }
    if (in->kind == IN_XZ) {
        for (;;) {
            lzma_ret xr;
            bool end;
            if (in->xz_done)
                return 0;
            if ((f = fill(in, err)) != 0)
                return f < 0 ? -1 : decode(in, buf, n, err);
            end = in->ipos >= in->ilen && in->eof;
            in->xz.next_in = in->ibuf + in->ipos;
            in->xz.avail_in = in->ilen - in->ipos;
            in->xz.next_out = buf;
            in->xz.avail_out = n;
            /* LZMA_FINISH once the input is all given: a stream cut short
             * then ends in LZMA_BUF_ERROR (no progress on two calls) */
            xr = lzma_code(&in->xz, end ? LZMA_FINISH : LZMA_RUN);
            in->ipos = in->ilen - in->xz.avail_in;
            if (xr == LZMA_STREAM_END)
                in->xz_done = true;
            else if (xr == LZMA_BUF_ERROR && end) {
                tide_err_set(err, TIDE_E_TRUNCATED, in->name,
                             "xz stream is truncated (after %llu compressed bytes)",
                             (unsigned long long)in->bytes);
                return -1;
            } else if (xr == LZMA_MEM_ERROR) {
                tide_err_set(err, TIDE_E_NOMEM, in->name, "out of memory decoding xz");
                return -1;
            } else if (xr != LZMA_OK && xr != LZMA_BUF_ERROR) {
                tide_err_set(err, TIDE_E_FORMAT, in->name, "xz data is corrupt near byte %llu",
                             (unsigned long long)in->bytes);
                return -1;
            }
            if (in->xz.next_out - (uint8_t *)buf > 0)
                return (long)(in->xz.next_out - (uint8_t *)buf);
        }
    }
    for (;;) { /* zstd */
        ZSTD_inBuffer ib;
        ZSTD_outBuffer ob = {buf, n, 0};
        if ((f = fill(in, err)) != 0)
            return f < 0 ? -1 : decode(in, buf, n, err);
        if (in->ipos >= in->ilen && in->eof) {
            if (in->zs_last != 0) {
                tide_err_set(err, TIDE_E_TRUNCATED, in->name, "zstd stream is truncated");
                return -1;
            }
            return 0;
        }
        ib.src = in->ibuf + in->ipos;
        ib.size = in->ilen - in->ipos;
        ib.pos = 0;
        in->zs_last = ZSTD_decompressStream(in->zs, &ob, &ib);
        in->ipos += ib.pos;
        if (ZSTD_isError(in->zs_last)) {
            tide_err_set(err, TIDE_E_FORMAT, in->name, "zstd data is corrupt: %s",
                         ZSTD_getErrorName(in->zs_last));
            return -1;
        }
        if (ob.pos > 0)
            return (long)ob.pos;
    }
}

/* Fills p with up to CHUNK decoded bytes: the count, 0 at the end, -1 (err). */
static long fill_chunk(struct tide_input *in, char *p, struct tide_err *err)
{
    size_t n = 0;
    while (n < CHUNK) {
        long k = decode(in, p + n, CHUNK - n, err);
        if (k < 0)
            return n ? (long)n : -1; /* what came before the error goes first */
        if (k == 0)
            break;
        n += (size_t)k;
    }
    return (long)n;
}

static void *ra_main(void *arg)
{
    struct tide_input *in = arg;
    struct ra *ra = in->ra;
    bool done = false;
    while (!done && tide_ring_wait_room(&ra->q)) {
        struct ra_slot *s = &ra->slot[ra->q.head % RA_N];
        s->len = fill_chunk(in, s->p, &s->err);
        done = s->len <= 0; /* the end, or an error: the last slot */
        tide_ring_publish(&ra->q);
    }
    return NULL;
}

int tide_input_readahead(struct tide_input *in, struct tide_err *err)
{
    struct ra *ra;
    struct stat sb;
    int i;
    if (in->ra || in->follow_stop)
        return 0; /* a followed file is read as it grows */
    if (fstat(in->fd, &sb) || !S_ISREG(sb.st_mode))
        return 0; /* a pipe or a terminal: a thread blocked in read() would hold up the end of a run */
    ra = calloc(1, sizeof(*ra));
    if (!ra)
        return tide_err_set(err, TIDE_E_NOMEM, in->name, "out of memory");
    for (i = 0; i < RA_N; i++)
        if (!(ra->slot[i].p = malloc(CHUNK)))
            goto fail;
    tide_ring_init(&ra->q, RA_N);
    in->ra = ra;
    if (pthread_create(&ra->thread, NULL, ra_main, in) == 0)
        return 0;
    in->ra = NULL;
    tide_ring_destroy(&ra->q);
fail:
    for (i = 0; i < RA_N; i++)
        free(ra->slot[i].p);
    free(ra);
    return tide_err_set(err, TIDE_E_NOMEM, in->name, "cannot start the read-ahead thread");
}

long tide_input_chunk(struct tide_input *in, const char **p, struct tide_err *err)
{
    struct ra *ra = in->ra;
    struct ra_slot *s;
    uint64_t slot;
    long n;
    if (!ra) {
        if (!in->chunk && !(in->chunk = malloc(CHUNK)))
            return tide_err_set(err, TIDE_E_NOMEM, in->name, "out of memory"), -1;
        n = fill_chunk(in, in->chunk, err);
        *p = in->chunk;
        return n;
    }
    if (ra->held) { /* the chunk handed out last time goes back */
        ra->held = false;
        tide_ring_done(&ra->q);
    }
    tide_ring_get(&ra->q, &slot); /* the thread's last slot says the end: it always comes */
    s = &ra->slot[slot % RA_N];
    if (s->len <= 0) { /* the end, or an error: it stays the answer */
        if (s->len < 0)
            *err = s->err;
        return s->len;
    }
    ra->held = true;
    *p = s->p;
    return s->len;
}

long tide_input_read(void *userp, void *buf, size_t n, struct tide_err *err)
{
    struct tide_input *in = userp;
    if (!in->ra)
        return decode(in, buf, n, err);
    if (!in->cur_len) {
        long k = tide_input_chunk(in, &in->cur, err);
        if (k <= 0)
            return k;
        in->cur_len = (size_t)k;
    }
    if (n > in->cur_len)
        n = in->cur_len;
    memcpy(buf, in->cur, n);
    in->cur += n;
    in->cur_len -= n;
    return (long)n;
}

uint64_t tide_input_bytes(const struct tide_input *in)
{
    return __atomic_load_n(&in->bytes, __ATOMIC_RELAXED);
}

void tide_input_close(struct tide_input *in)
{
    if (!in)
        return;
    if (in->ra) {
        struct ra *ra = in->ra;
        int i;
        tide_ring_close(&ra->q);
        pthread_join(ra->thread, NULL);
        tide_ring_destroy(&ra->q);
        for (i = 0; i < RA_N; i++)
            free(ra->slot[i].p);
        free(ra);
    }
    free(in->chunk);
    end_decoder(in);
    if (in->fd > 0)
        close(in->fd);
    if (in->next_fd >= 0)
        close(in->next_fd);
    free(in->ibuf);
    free(in);
}
