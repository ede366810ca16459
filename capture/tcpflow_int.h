/*
 * tcpflow_int.h - the interface between pcap input (src_pcap.c) and TCP
 * reassembly with HTTP pairing (tcpflow.c).
 */
#ifndef TIDE_TCPFLOW_INT_H
#define TIDE_TCPFLOW_INT_H

#include "capture_int.h"

struct tide__endpoint {
    uint8_t addr[16]; /* IPv4 in the first 4 bytes */
    uint16_t port;
    uint8_t v6;
    uint8_t pad;
};

struct tide__flowkey {
    struct tide__endpoint a, b; /* a sent this segment */
};

struct tide__flow_opts {
    size_t max_body, max_memory;
    int64_t idle_timeout_ns;
    int64_t since_ns, until_ns; /* requests outside are counted, not written (0: no bound) */
    bool (*is_server_port)(void *userp, uint16_t port);
    void *userp;
    const char *source_name; /* set by the caller per file */
    uint64_t packet_no;      /* set by the caller per packet */
};

struct tide__flows;
struct tide__flows *tide__flows_new(const struct tide__flow_opts *o, struct tide_pcap_stats *st,
                                    struct tide__reorder *ro);
/* Access to the options the caller updates per packet (source, packet number). */
struct tide__flow_opts *tide__flows_opts(struct tide__flows *f);
void tide__flows_segment(struct tide__flows *f, const struct tide__flowkey *k, uint32_t seq, uint8_t flags,
                         const char *data, size_t len, int64_t ts);
/* The earliest start of a request not yet finished (pending a response, or
 * still arriving); now if there is none. No record can start before it. */
int64_t tide__flows_oldest_pending(const struct tide__flows *f, int64_t now);
/* Closes connections idle longer than the timeout (packet time). */
void tide__flows_expire(struct tide__flows *f, int64_t now);
/* Closes everything (requests without answers are written with unknown status). */
void tide__flows_free(struct tide__flows *f, int64_t now);
void tide__endpoint_addr(const struct tide__endpoint *e, char *out, size_t cap);

#endif
