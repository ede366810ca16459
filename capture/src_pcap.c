/*
 * src_pcap.c - packets in (libpcap: pcap and pcapng files, or a live
 * interface), TCP segments out to tcpflow.c.
 *
 * Link layers: Ethernet with 802.1Q/QinQ tags, Linux cooked SLL and SLL2
 * (`-i any`), BSD loopback (NULL/LOOP), raw IPv4/IPv6, Linux NFLOG (`-i
 * nflog:N`: packets an iptables/nftables log rule sent). IPv4 fragments and
 * IPv6 fragment headers are reassembled (bounded; what never completes is
 * counted); IPv6 extension headers are walked. Several files are read in the
 * time order of their first packets. Every packet that cannot be used is
 * counted by reason. Packet data is libpcap's, valid until the next read.
 */
#define _GNU_SOURCE
#include "capture_int.h"
#include "tcpflow_int.h"

#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_FRAG_SETS 1024
#define MAX_FRAG_BYTES 65535

struct fragset {
    bool used, v6;
    uint8_t src[16], dst[16];
    uint32_t id;
    uint8_t proto;
    uint8_t data[MAX_FRAG_BYTES];
    uint8_t have[MAX_FRAG_BYTES / 8 + 1]; /* one bit per 8-byte unit */
    size_t total;                          /* known once the last fragment came */
    int64_t ts;
};

struct pcapctx {
    const struct tide_pcap_opts *o;
    struct tide_pcap_stats *st;
    struct tide__flows *flows;
    struct tide__reorder *ro;
    struct fragset *frags; /* MAX_FRAG_SETS, allocated on the first fragment */
    int linktype;
    bool swapped; /* the file was written in the other byte order (NFLOG's TLVs are in the writer's) */
    int64_t last_release, last_expire;
    int64_t now;
    int rc;             /* the writer's failure: stops the capture */
    struct tide_err err; /* ... and what it said */
    uint64_t read_bytes; /* captured bytes and record headers, for progress */
    struct timespec last_progress;
};

/* Calls the progress hook when its time has come (every 8,192 packets, or
 * always when force, the live loop's once-a-poll check). */
static void progress(struct pcapctx *x, bool force)
{
    struct timespec now;
    if (!x->o->on_progress || (!force && (x->st->packets & 8191) != 0))
        return;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (x->o->progress_ms < 0 ||
        (now.tv_sec - x->last_progress.tv_sec) * 1000 + (now.tv_nsec - x->last_progress.tv_nsec) / 1000000 >=
            (x->o->progress_ms ? x->o->progress_ms : 500)) {
        x->o->on_progress(x->o->userp, x->st->packets, x->o->files ? x->read_bytes : x->st->bytes);
        x->last_progress = now;
    }
}

static const uint16_t DEFAULT_PORTS[] = {80, 8080, 8000, 8008, 8888, 3000, 5000, 9000, 8081};

static bool is_server_port(void *userp, uint16_t port)
{
    const struct pcapctx *x = userp;
    const uint16_t *p = x->o->ports ? x->o->ports : DEFAULT_PORTS;
    int n = x->o->ports ? x->o->n_ports : (int)(sizeof(DEFAULT_PORTS) / sizeof(DEFAULT_PORTS[0]));
    int i;
    for (i = 0; i < n; i++)
        if (p[i] == port)
            return true;
    return false;
}

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static void skip(struct pcapctx *x, int why) { x->st->skipped[why]++; }

/* The run has what it asked for: --count packets, or a stop (a signal). */
static bool enough(const struct pcapctx *x)
{
    return (x->o->count && x->st->packets >= x->o->count) || (x->o->stop && *x->o->stop);
}

static void tcp(struct pcapctx *x, const uint8_t *src, const uint8_t *dst, bool v6, const uint8_t *p,
                size_t n)
{
    struct tide__flowkey k;
    size_t off;
    uint16_t sp, dp;
    if (n < 20) {
        skip(x, TIDE_PCAP_SKIP_TRUNCATED_PACKET);
        return;
    }
    off = (size_t)(p[12] >> 4) * 4;
    if (off < 20 || off > n) {
        skip(x, off < 20 ? TIDE_PCAP_SKIP_BAD_HEADER : TIDE_PCAP_SKIP_TRUNCATED_PACKET);
        return;
    }
    sp = be16(p);
    dp = be16(p + 2);
    if (!x->o->detect && !is_server_port(x, sp) && !is_server_port(x, dp)) {
        skip(x, TIDE_PCAP_SKIP_OTHER_PORT);
        return;
    }
    memset(&k, 0, sizeof(k));
    memcpy(k.a.addr, src, v6 ? 16 : 4);
    memcpy(k.b.addr, dst, v6 ? 16 : 4);
    k.a.v6 = k.b.v6 = v6;
    k.a.port = sp;
    k.b.port = dp;
    tide__flows_segment(x->flows, &k, be32(p + 4), p[13], (const char *)p + off, n - off, x->now);
}

/* Adds a fragment; returns the whole datagram's payload once complete. */
static const uint8_t *fragment(struct pcapctx *x, bool v6, const uint8_t *src, const uint8_t *dst, uint32_t id,
                               uint8_t proto, size_t off, bool more, const uint8_t *p, size_t n, size_t *len)
{
    struct fragset *f = NULL, *freeslot = NULL, *oldest = NULL;
    size_t i, al = v6 ? 16 : 4;
    if (!x->frags && !(x->frags = calloc(MAX_FRAG_SETS, sizeof(*x->frags))))
        return NULL;
    for (i = 0; i < MAX_FRAG_SETS; i++) {
        struct fragset *s = &x->frags[i];
        if (!s->used) {
            if (!freeslot)
                freeslot = s;
            continue;
        }
        if (s->v6 == v6 && s->id == id && s->proto == proto && !memcmp(s->src, src, al) && !memcmp(s->dst, dst, al)) {
            f = s;
            break;
        }
        if (!oldest || s->ts < oldest->ts)
            oldest = s;
    }
    if (!f) {
        f = freeslot ? freeslot : oldest;
        if (f->used)
            skip(x, TIDE_PCAP_SKIP_FRAGMENT_LOST);
        memset(f, 0, sizeof(*f));
        f->used = true;
        f->v6 = v6;
        f->id = id;
        f->proto = proto;
        memcpy(f->src, src, al);
        memcpy(f->dst, dst, al);
    }
    f->ts = x->now;
    if (off + n > MAX_FRAG_BYTES || (more && n % 8)) {
        skip(x, TIDE_PCAP_SKIP_BAD_HEADER);
        f->used = false;
        return NULL;
    }
    memcpy(f->data + off, p, n); /* overlapping fragments: the later copy wins */
    for (i = off / 8; i < (off + n + 7) / 8; i++)
        f->have[i / 8] |= (uint8_t)(1u << (i % 8));
    if (!more)
        f->total = off + n;
    if (f->total) {
        for (i = 0; i < (f->total + 7) / 8; i++)
            if (!(f->have[i / 8] & (1u << (i % 8))))
                return NULL;
        f->used = false; /* complete; the data stays valid until the slot is reused */
        *len = f->total;
        return f->data;
    }
    return NULL;
}

static void ipv4(struct pcapctx *x, const uint8_t *p, size_t n)
{
    size_t hl, tl;
    uint16_t fo;
    if (n < 20) {
        skip(x, TIDE_PCAP_SKIP_TRUNCATED_PACKET);
        return;
    }
    hl = (size_t)(p[0] & 15) * 4;
    tl = be16(p + 2);
    if (tl == 0 && hl >= 20)
        tl = n; /* TCP segmentation offload: the length field is left 0 */
    if ((p[0] >> 4) != 4 || hl < 20 || tl < hl) {
        skip(x, TIDE_PCAP_SKIP_BAD_HEADER);
        return;
    }
    if (tl > n) {
        skip(x, TIDE_PCAP_SKIP_TRUNCATED_PACKET);
        return;
    }
    fo = be16(p + 6);
    if (p[9] != 6) {
        skip(x, TIDE_PCAP_SKIP_NOT_TCP);
        return;
    }
    if ((fo & 0x2000) || (fo & 0x1fff)) {
        size_t len;
        const uint8_t *whole = fragment(x, false, p + 12, p + 16, be16(p + 4), p[9], (size_t)(fo & 0x1fff) * 8,
                                        (fo & 0x2000) != 0, p + hl, tl - hl, &len);
        if (whole)
            tcp(x, p + 12, p + 16, false, whole, len);
        return;
    }
    tcp(x, p + 12, p + 16, false, p + hl, tl - hl);
}

static void ipv6(struct pcapctx *x, const uint8_t *p, size_t n)
{
    size_t pl, at = 40;
    uint8_t nh;
    if (n < 40) {
        skip(x, TIDE_PCAP_SKIP_TRUNCATED_PACKET);
        return;
    }
    if ((p[0] >> 4) != 6) {
        skip(x, TIDE_PCAP_SKIP_BAD_HEADER);
        return;
    }
    pl = be16(p + 4);
    if (40 + pl > n) {
        skip(x, TIDE_PCAP_SKIP_TRUNCATED_PACKET);
        return;
    }
    n = 40 + pl;
    nh = p[6];
    for (;;) {
        if (nh == 6) {
            tcp(x, p + 8, p + 24, true, p + at, n - at);
            return;
        }
        if (nh == 0 || nh == 43 || nh == 60 || nh == 51) { /* hop-by-hop, routing, dest opts, AH */
            size_t el;
            if (at + 8 > n) {
                skip(x, TIDE_PCAP_SKIP_TRUNCATED_PACKET);
                return;
            }
            el = nh == 51 ? ((size_t)p[at + 1] + 2) * 4 : ((size_t)p[at + 1] + 1) * 8;
            nh = p[at];
            at += el;
            if (at > n) {
                skip(x, TIDE_PCAP_SKIP_BAD_HEADER);
                return;
            }
            continue;
        }
        if (nh == 44) { /* fragment header */
            uint16_t fo;
            size_t len;
            const uint8_t *whole;
            if (at + 8 > n) {
                skip(x, TIDE_PCAP_SKIP_TRUNCATED_PACKET);
                return;
            }
            fo = be16(p + at + 2);
            if ((fo & 0xfff8) == 0 && !(fo & 1)) { /* an atomic fragment: the payload is whole */
                nh = p[at];
                at += 8;
                continue;
            }
            whole = fragment(x, true, p + 8, p + 24, be32(p + at + 4), p[at], (size_t)(fo & 0xfff8),
                             (fo & 1) != 0, p + at + 8, n - at - 8, &len);
            if (whole && p[at] == 6)
                tcp(x, p + 8, p + 24, true, whole, len);
            else if (whole)
                skip(x, TIDE_PCAP_SKIP_NOT_TCP);
            return;
        }
        skip(x, TIDE_PCAP_SKIP_NOT_TCP);
        return;
    }
}

static void ip_by_ethertype(struct pcapctx *x, uint16_t et, const uint8_t *p, size_t n)
{
    if (et == 0x8864) { /* PPPoE session: 6-byte header, then the PPP protocol */
        if (n < 8) {
            skip(x, TIDE_PCAP_SKIP_TRUNCATED_PACKET);
            return;
        }
        et = be16(p + 6) == 0x0021 ? 0x0800 : be16(p + 6) == 0x0057 ? 0x86dd : 0;
        p += 8;
        n -= 8;
    }
    if (et == 0x0800)
        ipv4(x, p, n);
    else if (et == 0x86dd)
        ipv6(x, p, n);
    else
        skip(x, TIDE_PCAP_SKIP_NOT_TCP);
}

/* Linux NFLOG: a 4-byte header (address family, version, group), then
 * TLVs (length and type in the capturing host's byte order, each padded to 4
 * bytes); the packet is the NFULA_PAYLOAD one (type 9), from its IP header. */
static void nflog(struct pcapctx *x, const u_char *p, size_t n)
{
    size_t at = 4;
    if (n < 4) {
        skip(x, TIDE_PCAP_SKIP_TRUNCATED_PACKET);
        return;
    }
    while (at + 4 <= n) {
        uint16_t tl = (uint16_t)(p[at] | p[at + 1] << 8), tt = (uint16_t)(p[at + 2] | p[at + 3] << 8);
        if (x->swapped) {
            tl = __builtin_bswap16(tl);
            tt = __builtin_bswap16(tt);
        }
        if (tl < 4 || tl > n - at)
            break;
        if ((tt & 0x7fff) == 9) { /* NFULA_PAYLOAD (the top bit: nested) */
            const u_char *ip = p + at + 4;
            size_t il = tl - 4u;
            if (il >= 1 && (ip[0] >> 4) == 4)
                ipv4(x, ip, il);
            else if (il >= 1 && (ip[0] >> 4) == 6)
                ipv6(x, ip, il);
            else
                skip(x, TIDE_PCAP_SKIP_BAD_HEADER);
            return;
        }
        at += ((size_t)tl + 3) & ~(size_t)3;
    }
    skip(x, at + 4 <= n ? TIDE_PCAP_SKIP_BAD_HEADER : TIDE_PCAP_SKIP_NOT_TCP); /* a bad TLV, or no packet */
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *p)
{
    struct pcapctx *x = (struct pcapctx *)user;
    size_t n = h->caplen;
    if (h->ts.tv_sec < 0 || h->ts.tv_sec > (time_t)7258118400) { /* past 2200: a broken clock or file */
        x->st->packets++;
        skip(x, TIDE_PCAP_SKIP_BAD_HEADER);
        return;
    }
    x->now = (int64_t)h->ts.tv_sec * TIDE_NS_PER_SEC + (int64_t)h->ts.tv_usec * 1000;
    x->st->packets++;
    x->st->bytes += h->len;
    x->read_bytes += h->caplen + 16;
    progress(x, false);
    tide__flows_opts(x->flows)->packet_no++;
    if (x->st->packets == 1 || x->now < x->st->first_ts)
        x->st->first_ts = x->now;
    if (x->now > x->st->last_ts)
        x->st->last_ts = x->now;
    switch (x->linktype) {
    case DLT_EN10MB: {
        size_t at = 12;
        uint16_t et;
        x->st->by_linktype[0]++;
        if (n < 14) {
            skip(x, TIDE_PCAP_SKIP_TRUNCATED_PACKET);
            break;
        }
        et = be16(p + at);
        while ((et == 0x8100 || et == 0x88a8 || et == 0x9100) && at + 6 <= n) {
            at += 4; /* 802.1Q / QinQ tags */
            et = be16(p + at);
        }
        ip_by_ethertype(x, et, p + at + 2, n - at - 2);
        break;
    }
    case DLT_LINUX_SLL:
        x->st->by_linktype[1]++;
        if (n < 16)
            skip(x, TIDE_PCAP_SKIP_TRUNCATED_PACKET);
        else
            ip_by_ethertype(x, be16(p + 14), p + 16, n - 16);
        break;
    case DLT_LINUX_SLL2:
        x->st->by_linktype[2]++;
        if (n < 20)
            skip(x, TIDE_PCAP_SKIP_TRUNCATED_PACKET);
        else
            ip_by_ethertype(x, be16(p), p + 20, n - 20);
        break;
    case DLT_NULL:
    case DLT_LOOP: {
        uint32_t fam;
        x->st->by_linktype[3]++;
        if (n < 4) {
            skip(x, TIDE_PCAP_SKIP_TRUNCATED_PACKET);
            break;
        }
        fam = x->linktype == DLT_LOOP ? be32(p) : (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        if (fam > 0xffff)
            fam = be32(p); /* written on a host of the other byte order */
        if (fam == 2)
            ipv4(x, p + 4, n - 4);
        else if (fam == 24 || fam == 28 || fam == 30 || fam == 10)
            ipv6(x, p + 4, n - 4);
        else
            skip(x, TIDE_PCAP_SKIP_NOT_TCP);
        break;
    }
    case DLT_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
        x->st->by_linktype[4]++;
        if (n < 1)
            skip(x, TIDE_PCAP_SKIP_TRUNCATED_PACKET);
        else if ((p[0] >> 4) == 4)
            ipv4(x, p, n);
        else if ((p[0] >> 4) == 6)
            ipv6(x, p, n);
        else
            skip(x, TIDE_PCAP_SKIP_BAD_HEADER);
        break;
    case DLT_NFLOG:
        x->st->by_linktype[6]++;
        nflog(x, p, n);
        break;
    default:
        x->st->by_linktype[5]++;
    }
    if (x->now - x->last_release > TIDE_NS_PER_SEC / 100) {
        /* nothing can start before the oldest unfinished request: the rest goes
         * out, every 10 ms of capture time, so few records wait (a second's
         * worth at 100k requests/s was 30 MB, and cold in cache when written) */
        if (x->now - x->last_expire > TIDE_NS_PER_SEC) {
            tide__flows_expire(x->flows, x->now);
            x->last_expire = x->now;
        }
        x->rc = tide__reorder_release_before(x->ro, tide__flows_oldest_pending(x->flows, x->now), &x->err);
        x->last_release = x->now;
    }
}

static bool link_ok(int lt)
{
    return lt == DLT_EN10MB || lt == DLT_LINUX_SLL || lt == DLT_LINUX_SLL2 || lt == DLT_NULL || lt == DLT_LOOP ||
           lt == DLT_RAW || lt == DLT_IPV4 || lt == DLT_IPV6 || lt == DLT_NFLOG;
}

/* The error for a link type tide does not read, on a file or an interface. */
static int link_refused(struct tide_err *err, const char *where, int lt)
{
    const char *name = pcap_datalink_val_to_name(lt);
    return tide_err_set(err, TIDE_E_FORMAT, where, "unsupported link type %d (%s)", lt, name ? name : "unknown");
}

/* A pcap LINKTYPE_ as libpcap's DLT_ (they differ for raw IP). */
static int dlt_of(uint32_t linktype)
{
    return linktype == 101 ? DLT_RAW : (int)linktype;
}

/* libpcap reads FILE *: give it one over tide's input layer, so .gz and .zst captures work */
static ssize_t cookie_read(void *c, char *buf, size_t n)
{
    struct tide_err err;
    long k = tide_input_read(c, buf, n, &err);
    return k < 0 ? -1 : (ssize_t)k;
}

static int cookie_close(void *c)
{
    tide_input_close(c);
    return 0;
}

static int open_file(const char *path, pcap_t **out, struct tide_err *err)
{
    char eb[PCAP_ERRBUF_SIZE];
    struct tide_input *in;
    FILE *fp;
    pcap_t *p;
    cookie_io_functions_t io = {cookie_read, NULL, NULL, cookie_close};
    if (tide_input_open(&in, path, err))
        return err->code;
    fp = fopencookie(in, "r", io);
    if (!fp) {
        tide_input_close(in);
        return tide_err_set(err, TIDE_E_NOMEM, path, "out of memory");
    }
    p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_MICRO, eb);
    if (!p)
        fclose(fp);
    if (!p)
        return tide_err_set(err, TIDE_E_FORMAT, path, "cannot read as pcap or pcapng: %s", eb);
    if (!link_ok(pcap_datalink(p))) {
        int lt = pcap_datalink(p);
        pcap_close(p);
        return link_refused(err, path, lt);
    }
    *out = p;
    return 0;
}

/* ---- pcapng, read by tide: libpcap refuses interfaces of different link types ---- */

struct ng_if {
    int linktype;
    uint64_t tsdiv; /* timestamp units per second */
};

static uint32_t rd32(const uint8_t *p, bool swap)
{
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return swap ? __builtin_bswap32(v) : v;
}

static uint16_t rd16(const uint8_t *p, bool swap)
{
    uint16_t v = (uint16_t)(p[0] | p[1] << 8);
    return swap ? __builtin_bswap16(v) : v;
}

/* Reads exactly n bytes; returns bytes read (< n at the end). */
static size_t read_n(struct tide_input *in, void *buf, size_t n, struct tide_err *err)
{
    size_t got = 0;
    while (got < n) {
        long k = tide_input_read(in, (char *)buf + got, n - got, err);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    return got;
}

static int read_pcapng(struct pcapctx *x, const char *path, struct tide_err *err)
{
    struct tide_input *in;
    struct ng_if ifs[64];
    size_t n_if = 0;
    bool swap = false;
    struct tide_buf blk;
    int rc = tide_input_open(&in, path, err);
    if (rc)
        return rc;
    if ((rc = tide_input_readahead(in, err)) != 0) { /* reading (and decompressing) beside parsing */
        tide_input_close(in);
        return rc;
    }
    tide_buf_init(&blk, 256u << 20);
    for (;;) {
        uint8_t h[8];
        uint32_t type, len;
        size_t got = read_n(in, h, 8, err);
        const uint8_t *b;
        if (got == 0)
            break;
        if (got < 8) {
            x->st->file_truncated = true;
            tide_err_set(err, TIDE_E_TRUNCATED, path, "pcapng ends inside a block header (every whole packet before it was used)");
            break;
        }
        type = rd32(h, swap);
        if (type == 0x0A0D0D0A) { /* section header: its byte order rules what follows */
            uint8_t bom[4];
            if (read_n(in, bom, 4, err) < 4) {
                x->st->file_truncated = true;
                break;
            }
            swap = rd32(bom, false) != 0x1A2B3C4D;
            if (swap && rd32(bom, true) != 0x1A2B3C4D) {
                rc = tide_err_set(err, TIDE_E_FORMAT, path, "pcapng section header with a bad byte-order magic");
                break;
            }
            len = rd32(h + 4, swap);
            n_if = 0; /* interfaces are numbered per section */
            if (len < 16 || len % 4) {
                rc = tide_err_set(err, TIDE_E_FORMAT, path, "pcapng section header of bad length %u", len);
                break;
            }
            tide_buf_reset(&blk);
            if (tide_buf_reserve(&blk, len - 12) || read_n(in, blk.p, len - 12, err) < len - 12) {
                x->st->file_truncated = true;
                break;
            }
            continue;
        }
        len = rd32(h + 4, swap);
        if (len < 12 || len % 4 || len > (256u << 20)) {
            rc = tide_err_set(err, TIDE_E_FORMAT, path, "pcapng block of bad length %u", len);
            break;
        }
        tide_buf_reset(&blk);
        if (tide_buf_reserve(&blk, len - 8) || read_n(in, blk.p, len - 8, err) < len - 8) {
            x->st->file_truncated = true;
            tide_err_set(err, TIDE_E_TRUNCATED, path, "pcapng ends inside a block (every whole packet before it was used)");
            break;
        }
        b = (const uint8_t *)blk.p;
        if (type == 1 && len >= 20) { /* interface description */
            struct ng_if *f = n_if < 64 ? &ifs[n_if++] : NULL;
            size_t at = 8;
            if (!f)
                continue;
            f->linktype = dlt_of(rd16(b, swap));
            f->tsdiv = 1000000;
            while (at + 4 <= len - 12) { /* options: if_tsresol (9) */
                uint16_t code = rd16(b + at, swap), ol = rd16(b + at + 2, swap);
                if (code == 0)
                    break;
                if (code == 9 && ol >= 1 && at + 4 < len - 12) {
                    uint8_t r = b[at + 4];
                    uint64_t d = 1;
                    int k;
                    for (k = 0; k < (r & 0x7f) && d < UINT64_C(1000000000000000000); k++)
                        d *= (r & 0x80) ? 2 : 10;
                    f->tsdiv = d;
                }
                at += 4 + (size_t)((ol + 3) & ~3);
            }
        } else if ((type == 6 && len >= 32) || (type == 3 && len >= 16)) { /* enhanced / simple packet */
            uint32_t ifid = type == 6 ? rd32(b, swap) : 0, caplen, origlen;
            const uint8_t *data;
            struct pcap_pkthdr ph;
            uint64_t t = 0;
            if (ifid >= n_if) {
                skip(x, TIDE_PCAP_SKIP_BAD_HEADER);
                continue;
            }
            if (type == 6) {
                t = (uint64_t)rd32(b + 4, swap) << 32 | rd32(b + 8, swap);
                caplen = rd32(b + 12, swap);
                origlen = rd32(b + 16, swap);
                data = b + 20;
                if (caplen > len - 32)
                    caplen = len - 32;
            } else {
                origlen = rd32(b, swap);
                caplen = origlen < len - 16 ? origlen : len - 16;
                data = b + 4;
            }
            ph.ts.tv_sec = (time_t)(t / ifs[ifid].tsdiv);
            ph.ts.tv_usec = (suseconds_t)((t % ifs[ifid].tsdiv) * 1000000 / ifs[ifid].tsdiv);
            ph.caplen = caplen;
            ph.len = origlen;
            if (!link_ok(ifs[ifid].linktype)) {
                x->st->packets++;
                skip(x, TIDE_PCAP_SKIP_BAD_HEADER); /* a link type tide does not read */
                continue;
            }
            x->linktype = ifs[ifid].linktype;
            x->swapped = swap;
            on_packet((u_char *)x, &ph, data);
            if (x->rc || enough(x))
                break;
        }
        /* other blocks (name resolution, statistics, custom, decryption secrets) carry no packets */
    }
    tide_buf_free(&blk);
    tide_input_close(in);
    return rc ? rc : x->rc;
}

/*
 * Classic pcap, read by tide: 1 MiB reads and records parsed in place.
 * libpcap reads each record with two fread()s, which cost more than tide's
 * own work on the packet. The magic says byte order and µs or ns; other
 * variants (and stdin) go to libpcap. Returns 1 when the file is not one this
 * reader takes.
 */
#define CLASSIC_MAX_PACKET (256u << 10)
/* Reading an input's chunks record by record: a record that spans two
 * chunks is put together in carry; the rest are used where they lie. */
struct cursor {
    struct tide_input *in;
    const char *p; /* the current chunk */
    size_t n, pos;
    struct tide_buf carry;
    bool eof;
};

/* need contiguous bytes at the cursor (not consumed), or NULL: at the end
 * (fewer were left; *rc stays 0) or on an error (*rc set). */
static const uint8_t *cur_peek(struct cursor *c, size_t need, int *rc, struct tide_err *err)
{
    if (!c->carry.len && c->n - c->pos >= need)
        return (const uint8_t *)c->p + c->pos;
    while (c->carry.len < need) {
        size_t take;
        if (c->pos == c->n) {
            long k;
            if (c->eof)
                return NULL;
            k = tide_input_chunk(c->in, &c->p, err);
            if (k < 0) {
                *rc = err->code ? err->code : TIDE_E_IO;
                return NULL;
            }
            c->n = (size_t)k;
            c->pos = 0;
            if (k == 0) {
                c->eof = true;
                return NULL;
            }
            if (!c->carry.len && c->n >= need)
                return (const uint8_t *)c->p; /* a fresh chunk: nothing to put together */
            continue;
        }
        take = need - c->carry.len < c->n - c->pos ? need - c->carry.len : c->n - c->pos;
        if (tide_buf_append(&c->carry, c->p + c->pos, take)) {
            *rc = tide_err_set(err, TIDE_E_NOMEM, "", "out of memory");
            return NULL;
        }
        c->pos += take;
    }
    return (const uint8_t *)c->carry.p;
}

/* Consumes n bytes that cur_peek() showed. */
static void cur_skip(struct cursor *c, size_t n)
{
    if (c->carry.len)
        c->carry.len = 0; /* the record was put together: its bytes were taken */
    else
        c->pos += n;
}

static int read_pcap_classic(struct pcapctx *x, const char *path, struct tide_err *err)
{
    struct tide_input *in;
    struct cursor cur;
    uint8_t gh[24];
    bool swap, nsec;
    uint32_t magic;
    int rc = 0;
    if (tide_input_is_stream(path) || tide_input_open(&in, path, err))
        return 1;
    if (read_n(in, gh, 24, err) < 24) {
        tide_input_close(in);
        return 1;
    }
    magic = rd32(gh, false);
    if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d) {
        swap = false;
        nsec = magic == 0xa1b23c4d;
    } else if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1) {
        swap = true;
        nsec = magic == 0x4d3cb2a1;
    } else {
        tide_input_close(in);
        return 1;
    }
    x->linktype = dlt_of(rd32(gh + 20, swap) & 0x03FFFFFF);
    x->swapped = swap;
    if (!link_ok(x->linktype)) {
        tide_input_close(in);
        return link_refused(err, path, x->linktype);
    }
    if ((rc = tide_input_readahead(in, err)) != 0) {
        tide_input_close(in);
        return rc;
    }
    memset(&cur, 0, sizeof(cur));
    cur.in = in;
    tide_buf_init(&cur.carry, 0);
    for (;;) {
        const uint8_t *r;
        uint32_t caplen, origlen, frac;
        struct pcap_pkthdr ph;
        if (!(r = cur_peek(&cur, 16, &rc, err)))
            break;
        caplen = rd32(r + 8, swap);
        if (caplen > CLASSIC_MAX_PACKET) {
            rc = tide_err_set(err, TIDE_E_FORMAT, path, "packet %llu: capture length %u is more than %u (not a pcap record)",
                              (unsigned long long)x->st->packets + 1, caplen, CLASSIC_MAX_PACKET);
            break;
        }
        if (!(r = cur_peek(&cur, 16 + (size_t)caplen, &rc, err)))
            break;
        origlen = rd32(r + 12, swap);
        frac = rd32(r + 4, swap);
        ph.ts.tv_sec = (time_t)rd32(r, swap);
        ph.ts.tv_usec = (suseconds_t)(nsec ? frac / 1000 : frac);
        ph.caplen = caplen;
        ph.len = origlen;
        on_packet((u_char *)x, &ph, r + 16);
        cur_skip(&cur, 16 + (size_t)caplen);
        if (x->rc || enough(x))
            break;
    }
    if (!rc && !x->rc && cur.eof && cur.carry.len) { /* at the end, a record put together only in part */
        x->st->file_truncated = true;
        rc = tide_err_set(err, TIDE_E_TRUNCATED, path,
                          "the file ends inside packet %llu (every whole packet before it was used)",
                          (unsigned long long)x->st->packets + 1);
    }
    tide_buf_free(&cur.carry);
    tide_input_close(in);
    return rc ? rc : x->rc;
}

/* What a file's first bytes (decompressed) say it is: nothing at all (a
 * capture that never wrote its header: no packets, not a broken file),
 * pcapng, or something for the classic reader or libpcap. */
enum start_kind { START_EMPTY, START_PCAPNG, START_OTHER };

static enum start_kind start_kind(const char *path)
{
    struct tide_input *in;
    struct tide_err err;
    uint8_t m[4];
    size_t got;
    if (tide_input_is_stream(path) || tide_input_open(&in, path, &err))
        return START_OTHER;
    got = read_n(in, m, 4, &err);
    tide_input_close(in);
    if (got == 0)
        return START_EMPTY;
    return got == 4 && m[0] == 0x0A && m[1] == 0x0D && m[2] == 0x0D && m[3] == 0x0A ? START_PCAPNG : START_OTHER;
}

/* The time of a file's first packet, to read several files in time order. */
static int64_t first_time(const char *path)
{
    pcap_t *p;
    struct tide_err err;
    struct pcap_pkthdr *h;
    const u_char *d;
    int64_t t = INT64_MAX;
    if (tide_input_is_stream(path) || open_file(path, &p, &err))
        return t;
    if (pcap_next_ex(p, &h, &d) == 1)
        t = (int64_t)h->ts.tv_sec * TIDE_NS_PER_SEC + (int64_t)h->ts.tv_usec * 1000;
    pcap_close(p);
    return t;
}

int tide_pcap_run(const struct tide_pcap_opts *o, struct tide_sink sink, struct tide_pcap_stats *st,
                  struct tide_err *err)
{
    struct pcapctx x;
    struct tide__flow_opts fo;
    int rc = 0, i, *order = NULL;
    memset(&x, 0, sizeof(x));
    memset(st, 0, sizeof(*st));
    x.o = o;
    x.st = st;
    clock_gettime(CLOCK_MONOTONIC, &x.last_progress);
    x.ro = tide__reorder_new(sink, o->reorder_window_ns, 0);
    memset(&fo, 0, sizeof(fo));
    fo.max_body = o->max_body ? o->max_body : 64 * 1024;
    fo.max_memory = o->max_memory ? o->max_memory : (size_t)256 << 20;
    fo.idle_timeout_ns = o->idle_timeout_ns > 0 ? o->idle_timeout_ns : 120 * TIDE_NS_PER_SEC;
    fo.since_ns = o->since_ns;
    fo.until_ns = o->until_ns;
    fo.is_server_port = is_server_port;
    fo.userp = &x;
    x.flows = x.ro ? tide__flows_new(&fo, st, x.ro) : NULL;
    if (!x.flows) {
        tide__reorder_free(x.ro);
        return tide_err_set(err, TIDE_E_NOMEM, "", "out of memory");
    }
    /* the trace writer (columns, zstd) runs beside reassembly and parsing */
    if ((rc = tide__reorder_async(x.ro, err)) != 0) {
        tide__flows_free(x.flows, 0);
        tide__reorder_free(x.ro);
        return rc;
    }
    if (o->files) {
        int64_t *t = calloc((size_t)o->n_files, sizeof(*t));
        order = calloc((size_t)o->n_files, sizeof(*order));
        if (!t || !order) {
            free(t);
            rc = tide_err_set(err, TIDE_E_NOMEM, "", "out of memory");
            goto out;
        }
        for (i = 0; i < o->n_files; i++) {
            int k;
            t[i] = first_time(o->files[i]);
            for (k = i; k > 0 && t[order[k - 1]] > t[i]; k--)
                order[k] = order[k - 1];
            order[k] = i;
        }
        free(t);
        for (i = 0; i < o->n_files && !rc; i++) {
            const char *path = o->files[order[i]];
            enum start_kind kind;
            pcap_t *p;
            struct pcap_pkthdr *h;
            const u_char *d;
            int r;
            tide__flows_opts(x.flows)->source_name = path;
            tide__flows_opts(x.flows)->packet_no = 0;
            kind = start_kind(path);
            if (kind == START_EMPTY) {
                st->empty_files++;
                continue;
            }
            /* tide's own readers; 1: a pcap variant (or stdin) for libpcap */
            if ((rc = kind == START_PCAPNG ? read_pcapng(&x, path, err) : read_pcap_classic(&x, path, err)) != 1) {
                if (rc == TIDE_E_TRUNCATED)
                    rc = 0; /* said in the stats; other files still read */
                continue;
            }
            rc = open_file(path, &p, err);
            if (rc)
                break;
            x.linktype = pcap_datalink(p);
            while ((r = pcap_next_ex(p, &h, &d)) == 1 && !x.rc) {
                on_packet((u_char *)&x, h, d);
                if (enough(&x))
                    break;
            }
            if (r == PCAP_ERROR) {
                /* libpcap stops at a packet cut short; what came before was used */
                st->file_truncated = true;
                tide_err_set(err, TIDE_E_TRUNCATED, path, "%s (every whole packet before it was used)",
                             pcap_geterr(p));
            }
            pcap_close(p);
            rc = x.rc;
        }
    } else {
        char eb[PCAP_ERRBUF_SIZE];
        pcap_t *p = pcap_create(o->interface, eb);
        struct bpf_program prog;
        int64_t t0;
        struct timespec ts;
        int arc;
        if (!p) {
            rc = tide_err_set(err, TIDE_E_IO, o->interface, "cannot open: %s", eb);
            goto out;
        }
        pcap_set_snaplen(p, o->snaplen > 0 ? o->snaplen : 262144);
        pcap_set_timeout(p, 100);
        pcap_set_immediate_mode(p, 1);
        pcap_set_buffer_size(p, 32 << 20);
        if ((arc = pcap_activate(p)) < 0) {
            const char *hint = arc == PCAP_ERROR_PERM_DENIED
                                   ? " (live capture needs root, or the capabilities CAP_NET_RAW and CAP_NET_ADMIN: "
                                     "setcap cap_net_raw,cap_net_admin=eip on the tide binary)"
                               : arc == PCAP_ERROR_NO_SUCH_DEVICE ? " (tcpdump -D lists the interfaces)" : "";
            rc = tide_err_set(err, TIDE_E_IO, o->interface, "cannot capture: %s%s", pcap_geterr(p), hint);
            pcap_close(p);
            goto out;
        }
        x.linktype = pcap_datalink(p);
        if (!link_ok(x.linktype)) {
            rc = link_refused(err, o->interface, x.linktype);
            pcap_close(p);
            goto out;
        }
        if (o->filter) {
            if (pcap_compile(p, &prog, o->filter, 1, PCAP_NETMASK_UNKNOWN) < 0 || pcap_setfilter(p, &prog) < 0) {
                rc = tide_err_set(err, TIDE_E_USAGE, o->interface, "bad filter: %s%s", pcap_geterr(p),
                                  x.linktype == DLT_NFLOG ? " (the nftables or iptables rule that logs the packets "
                                                            "is the filter)" : "");
                pcap_close(p);
                goto out;
            }
            pcap_freecode(&prog);
        }
        tide__flows_opts(x.flows)->source_name = o->interface;
        if (o->on_ready)
            o->on_ready(o->userp);
        clock_gettime(CLOCK_MONOTONIC, &ts);
        t0 = (int64_t)ts.tv_sec * TIDE_NS_PER_SEC + ts.tv_nsec;
        /* non-blocking reads behind our own poll, so a stop is seen within 100 ms
         * even when no packet comes (immediate mode would otherwise block).
         * libpcap's NFLOG reader takes "nothing yet" for an error: there it
         * reads only once the poll says a message is waiting */
        bool nb = x.linktype != DLT_NFLOG;
        if (nb)
            pcap_setnonblock(p, 1, eb);
        for (;;) {
            struct pollfd pfd = {pcap_get_selectable_fd(p), POLLIN, 0};
            int r = 0, ready = 1;
            if (pfd.fd >= 0)
                ready = poll(&pfd, 1, 100) > 0 && (pfd.revents & (POLLIN | POLLERR | POLLHUP));
            if (nb || ready)
                r = pcap_dispatch(p, -1, on_packet, (u_char *)&x);
            struct pcap_stat ps;
            if (r == PCAP_ERROR) { /* the interface went away: said, and what came before kept */
                rc = tide_err_set(err, TIDE_E_TRUNCATED, o->interface,
                                  "the capture stopped: %s (the requests before it are kept)", pcap_geterr(p));
                break;
            }
            if (r < 0 || x.rc)
                break;
            if (enough(&x))
                break;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            if (o->duration_ns > 0 && (int64_t)ts.tv_sec * TIDE_NS_PER_SEC + ts.tv_nsec - t0 >= o->duration_ns)
                break;
            if (pcap_stats(p, &ps) == 0) {
                st->kernel_drops = ps.ps_drop;
                st->if_drops = ps.ps_ifdrop;
            }
            progress(&x, true);
        }
        {
            struct pcap_stat ps;
            if (pcap_stats(p, &ps) == 0) {
                st->kernel_drops = ps.ps_drop;
                st->if_drops = ps.ps_ifdrop;
            }
        }
        pcap_close(p);
        if (!rc)
            rc = x.rc;
    }
out:
    if (rc && rc == x.rc)
        *err = x.err; /* the trace writer failed (a full disk): say why */
    tide__flows_free(x.flows, x.now);
    if (!rc || rc == TIDE_E_TRUNCATED) {
        int rc2 = tide__reorder_drain(x.ro, err);
        if (rc2)
            rc = rc2;
    }
    {
        const struct tide__reorder_stats *rs = tide__reorder_stats(x.ro);
        st->late = rs->late;
    }
    tide__reorder_free(x.ro);
    free(x.frags);
    free(order);
    if (!rc && st->file_truncated)
        rc = TIDE_E_TRUNCATED;
    return rc;
}
