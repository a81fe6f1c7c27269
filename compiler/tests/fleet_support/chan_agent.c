/* A channel member for the dead-mover tests: a chan[u64, 4] at the start of the
 * shared area. `stall-send` claims a cell as chan.c does for messages of more
 * than 8 bytes and dies (SIGKILL) before it completes the send; `stall-recv`
 * takes a message with an 8-byte CAS of the state and dies before it moves
 * head on or wakes anyone: a member killed at that instruction. A u64 moves
 * whole in chan.c (one 16-byte CAS, no WRITING), so both leave what only a
 * hand-written mover would: the runtime repairs it all the same and sends
 * beside the payload left behind. The others use the channel through the
 * runtime. */
#define _GNU_SOURCE
#include "truk_fleet.h"
#include "truk_rt.h"
#include "fleet_note.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CAP 4

static unsigned char *ch;

static uint64_t *cell0(uint64_t pos) { return (uint64_t *)(ch + TRUK_CHAN_HEADER_SIZE + (pos % CAP) * truk_chan_stride(8)); }

static uint64_t state(uint64_t pos, unsigned kind) {
    return (pos / CAP) << 32 | (uint64_t)__truk_fleet_mover() << 2 | kind;
}

static double ms_since(struct timespec t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0.tv_sec) * 1e3 + (double)(t.tv_nsec - t0.tv_nsec) / 1e6;
}

int32_t __truk_main(int32_t argc, char **argv) {
    ch = __truk_fleet_join(NULL);
    struct truk_chan_header *h = (struct truk_chan_header *)ch;
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "hold")) {
        pause();
        return 0;
    }
    if (!strcmp(mode, "stall-send")) { /* claimed, half written, dead */
        uint64_t t = __atomic_load_n(&h->tail, __ATOMIC_SEQ_CST);
        uint64_t *s = cell0(t);
        __atomic_store_n(s, state(t, TRUK_CHAN_WRITING), __ATOMIC_SEQ_CST);
        __atomic_store_n(&h->tail, t + 1, __ATOMIC_SEQ_CST);
        memset(s + 1, 0xAB, 4);
        raise(SIGKILL);
    }
    if (!strcmp(mode, "stall-recv")) { /* took the oldest message, dead before returning it */
        uint64_t hd = __atomic_load_n(&h->head, __ATOMIC_SEQ_CST);
        uint64_t *s = cell0(hd), lap = hd / CAP;
        uint64_t full = lap << 32 | TRUK_CHAN_FULL;
        if (!__atomic_compare_exchange_n(s, &full, (lap + 1) << 32 | TRUK_CHAN_EMPTY, false, __ATOMIC_SEQ_CST,
                                         __ATOMIC_SEQ_CST))
            return 3; /* no message at head */
        raise(SIGKILL); /* before head moves on and before any wake-up call */
    }
    if (!strcmp(mode, "send") && argc > 3) {
        uint64_t v = strtoull(argv[2], NULL, 10);
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        bool ok = __truk_chan_send(ch, CAP, 8, &v, atoll(argv[3]));
        printf("send %d %.3f\n", ok, ms_since(t0));
        return 0;
    }
    if (!strcmp(mode, "recv") && argc > 2) {
        uint64_t v = 0;
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        bool ok = __truk_chan_recv(ch, CAP, 8, &v, atoll(argv[2]));
        printf("recv %d %llu %.3f\n", ok, (unsigned long long)v, ms_since(t0));
        return 0;
    }
    if (!strcmp(mode, "leased-recv") && argc > 2) {
        /* Alone on both sides for 200 round trips (both leases taken), then 7
         * waits at head for a `stall-recv` to take and die with; then 8 goes in
         * and one receive, still leased, must walk past the dead receiver's
         * cell to 8. */
        for (uint64_t i = 0; i < 200; i++) {
            uint64_t v;
            if (!__truk_chan_send(ch, CAP, 8, &i, 1000) || !__truk_chan_recv(ch, CAP, 8, &v, 1000) || v != i)
                return 4;
        }
        uint64_t me = __truk_fleet_me;
        if (__atomic_load_n(&h->send_lease, __ATOMIC_SEQ_CST) != me || __atomic_load_n(&h->recv_lease, __ATOMIC_SEQ_CST) != me)
            return 5;
        uint64_t v = 7;
        if (!__truk_chan_send(ch, CAP, 8, &v, 0))
            return 6;
        printf("ready\n");
        fflush(stdout);
        char line[16];
        if (!fgets(line, sizeof line, stdin))
            return 7;
        v = 8;
        if (!__truk_chan_send(ch, CAP, 8, &v, 0))
            return 8;
        v = 0;
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        bool ok = __truk_chan_recv(ch, CAP, 8, &v, atoll(argv[2]));
        printf("recv %d %llu %.3f\n", ok, (unsigned long long)v, ms_since(t0));
        return 0;
    }
    if (!strcmp(mode, "len")) {
        printf("len %llu\n", (unsigned long long)__truk_chan_len(ch, CAP, 8));
        return 0;
    }
    return 2;
}
