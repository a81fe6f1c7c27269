/* Channel benchmarks (runtime-c/chan.c), each beside a plain-C baseline measured
 * in the same run. Built and run by ci/bench-fleet; the processes (fork) are
 * members of one fleet and everything measured lives in its region, where
 * channels may be leased (the baselines too, alike). Not a test:
 * numbers only. Latencies are per round trip, p50 and p99 over the samples,
 * taken in blocks that alternate with the baseline's in one pair of processes;
 * throughputs are medians [min .. max] of several runs. Every process is
 * pinned to CPU 0 or 1, for ours and the baselines alike. For paired runs of two
 * builds or settings, one figure alone: `chan_bench mpmc`, `spsc` or `cring` (the
 * C ring) prints a throughput in M msg/s, `rtt` the busy round trip's p50 (ours,
 * then C spin's, in us), `rttmean` its block means (ours and C spin's, then ours and
 * the bare cells', below: no clock read between round trips), `pairs N` runs N send+recv pairs in one process (for
 * instruction counts). Built with -DTRUK_CHAN_COUNT (chan.c too), each process
 * prints chan.c's lease and wait counters. */
#define _GNU_SOURCE
#include "truk_fleet.h"
#include "bench_note.h"
#include "bench_cpu.h"
#include "truk_rt.h"

#include <linux/futex.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CAP 256
#define CHAN_BYTES (TRUK_CHAN_HEADER_SIZE + CAP * 16) /* chan[u64, 256] */

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(double *v, int n, double p) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[(int)(p * (n - 1))];
}

/* Region 64 KiB, fingerprints 0xce/0xcf. */
BENCH_NOTE(0, 0, 1, 0xce, 0xcf);
#define REGION_BYTES 65536

/* The memory of one measurement (they run one after another): the region's
 * shared area, zeroed; nothing to unmap. */
static void *shared(size_t n) {
    if (n > REGION_BYTES) {
        fprintf(stderr, "chan_bench: %zu bytes do not fit the region\n", n);
        exit(1);
    }
    void *p = __truk_fleet_join(NULL);
    memset(p, 0, n);
    return p;
}


static void relax(void) { truk_cpu_relax(); }

static long futex(uint32_t *p, int op, uint32_t v) { return syscall(SYS_futex, p, op, v, NULL, NULL, 0); }

static void sleep_us(long us) {
    struct timespec t = {0, us * 1000};
    nanosleep(&t, NULL);
}

#ifdef TRUK_CHAN_COUNT
/* chan.c's debug counters (built with -DTRUK_CHAN_COUNT), one line per process. */
extern struct truk_chan_counts {
    uint64_t take_tries, takes, take_aborts, settles, membarriers, quiesce_ns, take_quiesce_ns, sleep_fences, waits, sleeps;
} __truk_chan_counts;

static void report_counts(const char *who) {
    struct truk_chan_counts *k = &__truk_chan_counts;
    fprintf(stderr, "%s: take tries %lu takes %lu aborted %lu settles %lu membarriers %lu (sleep fences %lu) waits: settle %.2f ms take %.2f ms; waits %lu sleeps %lu\n", who,
            (unsigned long)k->take_tries, (unsigned long)k->takes, (unsigned long)k->take_aborts,
            (unsigned long)k->settles, (unsigned long)k->membarriers, (unsigned long)k->sleep_fences,
            (double)k->quiesce_ns / 1e6, (double)k->take_quiesce_ns / 1e6, (unsigned long)k->waits, (unsigned long)k->sleeps);
}
#endif

/* ---- round trips ----------------------------------------------------------
 * mode 0: busy (the next ping goes out at once); 1: parked (the pinger sleeps
 * 2 ms between round trips, so the ponger has gone to sleep). */

enum { CHAN, SPIN, FUTEX, CELLS };

struct pp {
    /* spin/futex words: a = ping count, b = pong count. On one line, as a
     * careful C programmer would put them: each way is then one line transfer,
     * where a pair of channels moves two lines each way (the cells of both).
     * With a and b on lines of their own, C spin's p50 was about 13% slower. */
    uint32_t a, b;
    unsigned char pad[56];
    unsigned char ca[CHAN_BYTES] __attribute__((aligned(64)));
    unsigned char cb[CHAN_BYTES] __attribute__((aligned(64)));
    /* CELLS: the memory a leased channel pair moves, with no protocol around it:
     * 16-byte cells, 4 to a line, the next one at each message. The sender
     * looks at its cell and stores the message; the receiver waits for it and
     * then writes the cell (as a receiver writes EMPTY). */
    uint64_t bare_a[2 * CAP] __attribute__((aligned(64)));
    uint64_t bare_b[2 * CAP] __attribute__((aligned(64)));
};

/* A CELLS message i: look at the cell, store i; wait for i in the other cell, then write it. */
static void bare_send(uint64_t *cells, uint32_t i) {
    volatile uint64_t *c = &cells[2 * ((i - 1) % CAP)];
    (void)*c;
    __atomic_store_n(c, i, __ATOMIC_RELEASE);
}

static void bare_recv(uint64_t *cells, uint32_t i) {
    uint64_t *c = &cells[2 * ((i - 1) % CAP)];
    while (__atomic_load_n(c, __ATOMIC_ACQUIRE) != i)
        relax();
    __atomic_store_n(c + 1, i, __ATOMIC_RELEASE);
}

/* Blocks of ROUND_BLOCK round trips alternate between the channel (even blocks) and the
 * C baseline (odd ones) in one pair of processes, so that both see the same machine: a
 * neighbour's load or the host moving a virtual CPU changes both alike. */
enum { ROUND_BLOCKS = 20 };

static int kind_of_round(uint32_t i, int rounds, int base_kind) {
    uint32_t block = (uint32_t)(rounds / ROUND_BLOCKS);
    return ((i - 1) / (block ? block : 1)) % 2 ? base_kind : CHAN;
}

static void pong(struct pp *s, int base_kind, int rounds) {
    for (uint32_t i = 1; i <= (uint32_t)(2 * rounds); i++) {
        int kind = kind_of_round(i, rounds, base_kind);
        if (kind == CHAN) {
            uint64_t v;
            __truk_chan_recv(s->ca, CAP, 8, &v, -1);
            __truk_chan_send(s->cb, CAP, 8, &v, -1);
        } else if (kind == SPIN) {
            while (__atomic_load_n(&s->a, __ATOMIC_ACQUIRE) != i)
                relax();
            __atomic_store_n(&s->b, i, __ATOMIC_RELEASE);
        } else if (kind == CELLS) {
            bare_recv(s->bare_a, i);
            bare_send(s->bare_b, i);
        } else {
            for (uint32_t a; (a = __atomic_load_n(&s->a, __ATOMIC_ACQUIRE)) != i;)
                futex(&s->a, FUTEX_WAIT, a);
            __atomic_store_n(&s->b, i, __ATOMIC_RELEASE);
            futex(&s->b, FUTEX_WAKE, 1);
        }
    }
}

/* Fills ours[] and theirs[] (`rounds` each) with round-trip times in microseconds, in
 * alternating blocks; the two sides on CPUs 0 and 1. With `blocks`, one figure per
 * block instead (ROUND_BLOCKS / 2 each): its mean round trip, timed as a whole. The
 * clock read around each round trip (tens of ns in a VM) is then left out, which
 * otherwise adds the same to both sides and hides part of a difference between them;
 * the round trips follow one another with nothing in between, as in a busy program. */
static void round_trips(int base_kind, int parked, double *ours, double *theirs, int rounds, bool blocks) {
    struct pp *s = shared(sizeof *s);
    memset(s, 0, sizeof *s);
    pid_t pid = fork();
    if (pid == 0) {
        pin(1);
        pong(s, base_kind, rounds);
#ifdef TRUK_CHAN_COUNT
        report_counts("ponger");
#endif
        _exit(0);
    }
    pin(0);
    int no = 0, nt = 0;
    uint32_t block = (uint32_t)(rounds / ROUND_BLOCKS);
    double t = 0;
    for (uint32_t i = 1; i <= (uint32_t)(2 * rounds); i++) {
        int kind = kind_of_round(i, rounds, base_kind);
        if (parked)
            sleep_us(2000);
        if (!blocks || (i - 1) % block == 0)
            t = now();
        if (kind == CHAN) {
            uint64_t v = i;
            __truk_chan_send(s->ca, CAP, 8, &v, -1);
            __truk_chan_recv(s->cb, CAP, 8, &v, -1);
        } else if (kind == SPIN) {
            __atomic_store_n(&s->a, i, __ATOMIC_RELEASE);
            while (__atomic_load_n(&s->b, __ATOMIC_ACQUIRE) != i)
                relax();
        } else if (kind == CELLS) {
            bare_send(s->bare_a, i);
            bare_recv(s->bare_b, i);
        } else {
            __atomic_store_n(&s->a, i, __ATOMIC_RELEASE);
            futex(&s->a, FUTEX_WAKE, 1);
            for (uint32_t b; (b = __atomic_load_n(&s->b, __ATOMIC_ACQUIRE)) != i;)
                futex(&s->b, FUTEX_WAIT, b);
        }
        if (blocks && i % block != 0)
            continue;
        t = (now() - t) * 1e6 / (blocks ? block : 1);
        if (kind == CHAN && no < rounds)
            ours[no++] = t;
        else if (kind != CHAN && nt < rounds)
            theirs[nt++] = t;
    }
    waitpid(pid, NULL, 0);
    unpin();
}

static void rtt_row(const char *what, int parked, int rounds, int base_kind, const char *base) {
    double *ours = malloc(sizeof(double) * (size_t)rounds), *theirs = malloc(sizeof(double) * (size_t)rounds);
    round_trips(base_kind, parked, ours, theirs, rounds, false);
    double o50 = pct(ours, rounds, 0.5), o99 = pct(ours, rounds, 0.99);
    double t50 = pct(theirs, rounds, 0.5), t99 = pct(theirs, rounds, 0.99);
    printf("%-34s p50 %7.2f p99 %8.2f us | C %-18s p50 %7.2f p99 %8.2f us | ratio p50 %.2f p99 %.2f\n", what, o50,
           o99, base, t50, t99, o50 / t50, o99 / t99);
    free(ours);
    free(theirs);
}

/* The busy round trip as block means (us, the median of each side's 10 blocks of
 * 5000; no clock read between round trips): ours and C spin's one shared line, then
 * ours again and a channel pair's bare cells (CELLS), the floor of any round trip
 * over two channels: two lines each way with no protocol around them. */
static void block_means(double m[4]) {
    enum { N = 100000 };
    static double ours[N], theirs[N];
    for (int k = 0; k < 2; k++) {
        round_trips(k == 0 ? SPIN : CELLS, 0, ours, theirs, N, true);
        m[2 * k] = pct(ours, ROUND_BLOCKS / 2, 0.5);
        m[2 * k + 1] = pct(theirs, ROUND_BLOCKS / 2, 0.5);
    }
}

static void means_row(void) {
    double m[4];
    block_means(m);
    printf("%-34s mean %6.3f us | C spin ping-pong mean %6.3f us | bare channel cells %6.3f us | ratio %.2f, to cells %.2f\n",
           "round trip, busy, block means", m[0], m[1], m[3], m[0] / m[1], m[2] / m[3]);
}

/* ---- throughput -------------------------------------------------------------- */

/* The C baseline: a single-producer single-consumer ring of u64 with
 * release/acquire indices on their own cache lines (and cached copies of the
 * other side's index), the ring a careful C programmer would write. */
struct ring {
    uint64_t head __attribute__((aligned(64)));
    uint64_t tail __attribute__((aligned(64)));
    uint64_t slot[CAP] __attribute__((aligned(64)));
};

/* SEQ_CST: the reference ring stores its indices with __ATOMIC_SEQ_CST (xchg on x86_64):
 * one locked instruction per message per side, as few as any channel that many senders
 * and many receivers may share can have (each must claim its position). */
static int ring_order = __ATOMIC_RELEASE;

static void ring_send(struct ring *r, uint64_t *cached_head, uint64_t *tail, uint64_t v) {
    while (*tail - *cached_head == CAP) {
        *cached_head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
        if (*tail - *cached_head == CAP)
            relax();
    }
    r->slot[*tail % CAP] = v;
    __atomic_store_n(&r->tail, ++*tail, ring_order);
}

static uint64_t ring_recv(struct ring *r, uint64_t *head, uint64_t *cached_tail) {
    while (*cached_tail == *head) {
        *cached_tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
        if (*cached_tail == *head)
            relax();
    }
    uint64_t v = r->slot[*head % CAP];
    __atomic_store_n(&r->head, ++*head, ring_order);
    return v;
}

/* msgs/s of `senders` x `receivers` processes moving n messages in all. */
static double throughput(int use_ring, int senders, int receivers, uint64_t n) {
    size_t bytes = sizeof(struct ring) + CHAN_BYTES + 64;
    unsigned char *m = shared(bytes);
    memset(m, 0, bytes);
    struct ring *r = (struct ring *)m;
    unsigned char *ch = m + sizeof(struct ring);
    volatile uint32_t *go = (uint32_t *)(ch + CHAN_BYTES);
    pid_t pids[16];
    int np = 0;
    for (int k = 0; k < senders + receivers; k++) {
        int sender = k < senders;
        uint64_t share = sender ? n / (uint64_t)senders : n / (uint64_t)receivers;
        pid_t pid = fork();
        if (pid == 0) {
            pin(k % 2); /* SPSC: the sender on CPU 0, the receiver on CPU 1 */
            while (!*go)
                relax();
            uint64_t a = 0, b = 0, sum = 0;
            for (uint64_t i = 0; i < share; i++) {
                if (use_ring && sender)
                    ring_send(r, &a, &b, i);
                else if (use_ring)
                    sum += ring_recv(r, &a, &b);
                else if (sender)
                    __truk_chan_send(ch, CAP, 8, &i, -1);
                else {
                    uint64_t v;
                    __truk_chan_recv(ch, CAP, 8, &v, -1);
                    if (senders == 1 && v != i) { /* one sender: its messages in order */
                        fprintf(stderr, "chan_bench: message %lu received as message %lu\n", (unsigned long)v,
                                (unsigned long)i);
                        _exit(3);
                    }
                    sum += v;
                }
            }
#ifdef TRUK_CHAN_COUNT
            report_counts(sender ? "send" : "recv");
#endif
            _exit(sum == 1); /* keeps the sum alive */
        }
        pids[np++] = pid;
    }
    double t = now();
    *go = 1;
    for (int i = 0; i < np; i++) {
        int st = 0;
        waitpid(pids[i], &st, 0);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 3)
            exit(3);
    }
    double secs = now() - t;
    return (double)n / secs;
}

static void tput_row(const char *what, double *ours, const char *base, double *theirs, int runs) {
    double o = pct(ours, runs, 0.5), t = pct(theirs, runs, 0.5);
    printf("%-34s %7.2f [%.2f .. %.2f] M msg/s | C %-18s %7.2f [%.2f .. %.2f] M msg/s | ratio %.2f\n", what, o / 1e6,
           ours[0] / 1e6, ours[runs - 1] / 1e6, base, t / 1e6, theirs[0] / 1e6, theirs[runs - 1] / 1e6, o / t);
}

/* ---- lease takeover ------------------------------------------------------------
 * The parent sends and receives a few messages (its sides become leased); a child
 * then sends twice: the first send takes the send side over (a membarrier and the
 * wait for the holder, runtime-c/chan.c), the second runs in shared mode. Times in
 * microseconds, medians [min .. max] of `runs` children. */
static void takeover_row(int runs) {
    double first[32], second[32];
    for (int i = 0; i < runs && i < 32; i++) {
        unsigned char *ch = shared(CHAN_BYTES + 64);
        double *out = (double *)(ch + CHAN_BYTES);
        for (uint64_t v = 0; v < 2 * TRUK_CHAN_TAKE_RUN; v++) {
            __truk_chan_send(ch, CAP, 8, &v, -1);
            __truk_chan_recv(ch, CAP, 8, &v, -1);
        }
        pid_t pid = fork();
        if (pid == 0) {
            uint64_t v = 1;
            double t = now();
            __truk_chan_send(ch, CAP, 8, &v, -1);
            double t2 = now();
            __truk_chan_send(ch, CAP, 8, &v, -1);
            out[0] = (t2 - t) * 1e6, out[1] = (now() - t2) * 1e6;
            _exit(0);
        }
        waitpid(pid, NULL, 0);
        first[i] = out[0], second[i] = out[1];
    }
    double f50 = pct(first, runs, 0.5), s50 = pct(second, runs, 0.5);
    printf("%-34s %7.2f [%.2f .. %.2f] us | next send (shared mode) %.2f [%.2f .. %.2f] us\n",
           "lease takeover: a 2nd sender's send", f50, first[0], first[runs - 1], s50, second[0], second[runs - 1]);
}

/* ---- ring_twin: bench/fleet/ring.truk in C, line for line ---------------- */

#define TWIN_N 20000000u
struct twin {
    uint64_t head, pad1[7], tail, pad2[7], slot[CAP];
    uint32_t ready;
    uint64_t result;
};

static void twin_produce(struct twin *r, uint64_t n) {
    uint64_t tail = 0, head = 0;
    for (uint64_t i = 0; i < n; i++) {
        while (tail - head == CAP)
            head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
        r->slot[tail % CAP] = i;
        tail++;
        __atomic_store_n(&r->tail, tail, __ATOMIC_RELEASE);
    }
}

static uint64_t twin_consume(struct twin *r, uint64_t n) {
    uint64_t head = 0, tail = 0, sum = 0;
    for (uint64_t i = 0; i < n; i++) {
        while (head == tail)
            tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
        sum += r->slot[head % CAP];
        head++;
        __atomic_store_n(&r->head, head, __ATOMIC_RELEASE);
    }
    return sum;
}

static int ring_twin(void) {
    struct twin *r = shared(sizeof *r);
    memset(r, 0, sizeof *r);
    pin(0); /* as ring.truk: the producer on CPU 0, the consumer on CPU 1 */
    pid_t pid = fork();
    if (pid == 0) {
        pin(1);
        __atomic_store_n(&r->ready, 1, __ATOMIC_SEQ_CST);
        __atomic_store_n(&r->result, twin_consume(r, TWIN_N) + 1, __ATOMIC_RELEASE);
        _exit(0);
    }
    while (__atomic_load_n(&r->ready, __ATOMIC_SEQ_CST) == 0)
        ;
    double t = now();
    twin_produce(r, TWIN_N);
    while (__atomic_load_n(&r->result, __ATOMIC_ACQUIRE) == 0)
        ;
    t = now() - t;
    waitpid(pid, NULL, 0);
    if (r->result != (uint64_t)TWIN_N * (TWIN_N - 1) / 2 + 1) {
        printf("wrong sum\n");
        return 1;
    }
    printf("%.2f M msg/s\n", TWIN_N / t / 1e6);
    return 0;
}

int32_t __truk_main(int32_t argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "ring") == 0)
        return ring_twin();
    if (argc > 1 && (!strcmp(argv[1], "mpmc") || !strcmp(argv[1], "spsc") || !strcmp(argv[1], "cring"))) {
        /* One throughput figure (M msg/s), for paired runs of two builds or settings. */
        int k = strcmp(argv[1], "mpmc") == 0 ? 4 : 1;
        printf("%.2f\n", throughput(!strcmp(argv[1], "cring"), k, k, 1000000) / 1e6);
        return 0;
    }
    if (argc > 2 && strcmp(argv[1], "pairs") == 0) {
        /* One process: send+recv pairs on a region channel (both sides leased to
         * it after the first messages), for instruction counts. */
        unsigned char *ch = shared(CHAN_BYTES);
        uint64_t n = strtoull(argv[2], NULL, 10), sum = 0;
        for (uint64_t i = 0; i < n; i++) {
            uint64_t v = i;
            __truk_chan_send(ch, CAP, 8, &v, -1);
            __truk_chan_recv(ch, CAP, 8, &v, -1);
            sum += v;
        }
        printf("%lu\n", (unsigned long)sum);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "rtt") == 0) {
        /* The busy round trip's p50 in us (ours, then C spin's), for paired runs. */
        enum { N = 20000 };
        static double ours[N], theirs[N];
        round_trips(SPIN, 0, ours, theirs, N, false);
        printf("%.3f %.3f\n", pct(ours, N, 0.5), pct(theirs, N, 0.5));
#ifdef TRUK_CHAN_COUNT
        report_counts("pinger");
#endif
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "rttmean") == 0) {
        /* block_means' four figures, for paired runs. */
        double m[4];
        block_means(m);
        printf("%.4f %.4f %.4f %.4f\n", m[0], m[1], m[2], m[3]);
        return 0;
    }
    int rounds = argc > 1 ? atoi(argv[1]) : 20000;
    if (rounds <= 0)
        rounds = 20000;
    uint64_t n = 1000000;
    enum { RUNS = 5 };
    printf("channels: chan[u64, %d] between processes (fork), %d round trips on CPUs 0 and 1\n", CAP, rounds);
    rtt_row("round trip, busy", 0, rounds, SPIN, "spin ping-pong");
    means_row();
    rtt_row("round trip, parked", 1, rounds / 40, FUTEX, "futex ping-pong");
    double ours[RUNS], theirs[RUNS];
    for (int i = 0; i < RUNS; i++) {
        ours[i] = throughput(0, 1, 1, n);
        theirs[i] = throughput(1, 1, 1, n);
    }
    tput_row("SPSC throughput, 8 bytes", ours, "SPSC ring acq/rel", theirs, RUNS);
    ring_order = __ATOMIC_SEQ_CST;
    for (int i = 0; i < RUNS; i++) {
        ours[i] = throughput(0, 1, 1, n);
        theirs[i] = throughput(1, 1, 1, n);
    }
    ring_order = __ATOMIC_RELEASE;
    tput_row("SPSC throughput, again", ours, "ring, seq_cst stores", theirs, RUNS);
    double mpmc[RUNS];
    for (int i = 0; i < RUNS; i++)
        mpmc[i] = throughput(0, 4, 4, n);
    qsort(mpmc, RUNS, sizeof(double), cmp_double);
    printf("%-34s %7.2f [%.2f .. %.2f] M msg/s (4 senders, 4 receivers)\n", "MPMC throughput, 8 bytes",
           mpmc[RUNS / 2] / 1e6, mpmc[0] / 1e6, mpmc[RUNS - 1] / 1e6);
    takeover_row(21);
    return 0;
}
