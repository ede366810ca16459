/*
 * fuzz_pcap.c - the pcap/pcapng reader and every layer above it (link, IP,
 * fragments, TCP, HTTP) on arbitrary file bytes, through a memfd path.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "capture/capture.h"

static int sink(void *userp, const struct tide_record *r, struct tide_err *err)
{
    (void)userp;
    (void)r;
    (void)err;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tide_pcap_opts o = {0};
    struct tide_pcap_stats st;
    struct tide_err err;
    char path[64];
    const char *files[1];
    int fd = memfd_create("fuzz.pcap", 0);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    files[0] = path;
    o.files = files;
    o.n_files = 1;
    o.detect = true;
    o.max_body = 512;
    o.max_memory = 1 << 18;
    tide_pcap_run(&o, (struct tide_sink){sink, NULL}, &st, &err);
    close(fd);
    return 0;
}
