/* Table benchmarks (runtime-c/table.c), each beside a plain-C baseline measured
 * in the same run. Built and run by ci/bench-fleet; processes (fork) share an
 * anonymous shared mapping, as members share the region. Not a test: numbers
 * only, medians [min .. max] of several runs.
 *   single process: get and put (replace) on u64 keys, 75% full, against a C
 *     open-addressing table of the same capacity without locks (CPU time);
 *   90% gets, 10% puts, random keys: two processes against one (the same table
 *     shared; each process pinned to its own CPU), beside a C table under one
 *     Mutex (what users write without it). The controls run the same mix on the
 *     plain C table without locks (its 10% puts plain stores), and gets only: what
 *     the machine itself allows two processes; and arithmetic alone, which two
 *     processes double unless other programs hold the CPUs. "per CPU second" sums each
 *     process's ops over its own CPU time: the same ratio without the time other
 *     programs of a busy machine took the CPUs (it still counts what the two
 *     processes cost each other: cache lines moving between the cores).
 * `table_bench c` prints only the C table's get and put (M ops/s): the yardstick
 * of table.truk, the same loops in a Truk program. */
#define _GNU_SOURCE
#include "truk_fleet.h"
#include "truk_rt.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CAP 65536
#define FILLED (CAP * 3 / 4)
#define RUNS 5

typedef struct { uint64_t hits; uint32_t size; } entry; /* struct Entry { hits: u64, size: u32 } */
#define TABLE_BYTES (TRUK_TABLE_HEADER_SIZE + CAP * truk_table_stride(8, sizeof(entry)))

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* CPU time of this process: the single-process rows count the work, not the
 * time other programs of a busy machine had the CPU. */
static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void *shared(size_t n) {
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    return p;
}

static uint64_t rnd(uint64_t *x) {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* The keys: spread, never 0. */
static uint64_t key_of(uint64_t i) { return (i + 1) * 0x9E3779B97F4A7C15ull; }

/* ---- the C baseline: open addressing, linear probing, no locks ------------ */
typedef struct { uint64_t key; uint64_t used; entry v; } cslot;
typedef struct { uint32_t lock[10]; cslot s[CAP]; } ctable; /* lock: a Truk Mutex, 40 bytes */

static uint64_t chome(uint64_t k) {
    uint64_t h = k; /* the same hash as table.c */
    h ^= h >> 30;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 27;
    h *= 0x94D049BB133111EBull;
    h ^= h >> 31;
    return (uint64_t)(((unsigned __int128)h * CAP) >> 64);
}

static int c_get(ctable *t, uint64_t k, entry *out) {
    for (uint64_t i = chome(k), n = 0; n < CAP; n++, i = (i + 1) & (CAP - 1)) {
        cslot *s = &t->s[i];
        if (!s->used)
            return 0;
        if (s->key == k) {
            *out = s->v;
            return 1;
        }
    }
    return 0;
}

static int c_put(ctable *t, uint64_t k, const entry *v) {
    for (uint64_t i = chome(k), n = 0; n < CAP; n++, i = (i + 1) & (CAP - 1)) {
        cslot *s = &t->s[i];
        if (!s->used || s->key == k) {
            s->key = k;
            s->v = *v;
            s->used = 1;
            return 1;
        }
    }
    return 0;
}

/* ---- single process --------------------------------------------------------- */
#define OPS 4000000

static volatile uint64_t sink;

static double truk_single(void *t, int put) {
    uint64_t x = 88172645463325252ull;
    entry v = {1, 2};
    double t0 = cpu_now();
    for (int i = 0; i < OPS; i++) {
        uint64_t k = key_of(rnd(&x) % FILLED);
        if (put) {
            v.hits = (uint64_t)i;
            __truk_table_put(t, CAP, 8, sizeof(entry), &k, &v);
        } else {
            __truk_table_get(t, CAP, 8, sizeof(entry), &k, &v);
            sink += v.hits;
        }
    }
    return OPS / (cpu_now() - t0) / 1e6;
}

static double c_single(ctable *t, int put) {
    uint64_t x = 88172645463325252ull;
    entry v = {1, 2};
    double t0 = cpu_now();
    for (int i = 0; i < OPS; i++) {
        uint64_t k = key_of(rnd(&x) % FILLED);
        if (put) {
            v.hits = (uint64_t)i;
            c_put(t, k, &v);
        } else {
            c_get(t, k, &v);
            sink += v.hits;
        }
    }
    return OPS / (cpu_now() - t0) / 1e6;
}

/* ---- 90% gets, in `procs` processes at once for `secs` -------------------- */
enum kind { TRUK, MUTEX, PLAIN, GETS, ALU }; /* PLAIN, GETS: the C table, no locks; ALU: no table */

/* Process p on the p-th CPU this program may use (with fewer CPUs, round). */
static void pin(int p) {
    cpu_set_t all, one;
    if (sched_getaffinity(0, sizeof all, &all) != 0 || CPU_COUNT(&all) == 0)
        return;
    int want = p % CPU_COUNT(&all);
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (CPU_ISSET(c, &all) && want-- == 0) {
            CPU_ZERO(&one);
            CPU_SET(c, &one);
            sched_setaffinity(0, sizeof one, &one);
            return;
        }
    }
}

struct rate { double wall, cpu; }; /* M ops/s: over the run's time; summed over each process's CPU time */

static struct rate mixed(void *t, enum kind kind, int procs, double secs) {
    uint64_t *counts = shared(64 * 8); /* process p's count and rate on their own line */
    volatile uint32_t *go = (uint32_t *)(counts + 56);
    memset(counts, 0, 64 * 8);
    for (int p = 0; p < procs; p++) {
        if (fork() == 0) {
            pin(p);
            uint64_t x = 88172645463325252ull * (uint64_t)(p + 1), n = 0, acc = 0;
            entry v = {1, 2};
            ctable *c = t;
            while (!*go)
                ;
            double end = now() + secs, c0 = cpu_now();
            for (;;) {
                for (int i = 0; i < 1000; i++, n++) {
                    uint64_t r = rnd(&x), k = key_of(r % FILLED);
                    int put = (r >> 40) % 10 == 0;
                    switch (kind) {
                    case TRUK:
                        if (put)
                            __truk_table_put(t, CAP, 8, sizeof(entry), &k, &v);
                        else
                            __truk_table_get(t, CAP, 8, sizeof(entry), &k, &v);
                        break;
                    case MUTEX:
                        __truk_mutex_lock(c->lock);
                        if (put)
                            c_put(c, k, &v);
                        else
                            c_get(c, k, &v);
                        __truk_mutex_unlock(c->lock);
                        break;
                    case PLAIN:
                        if (put)
                            c_put(c, k, &v);
                        else
                            c_get(c, k, &v);
                        break;
                    case GETS:
                        c_get(c, k, &v);
                        break;
                    case ALU:
                        v.hits += k >> 7;
                        break;
                    }
                    acc += v.hits;
                }
                if (now() >= end)
                    break;
            }
            double rate = n / (cpu_now() - c0);
            sink = acc;
            counts[p * 8] = n;
            memcpy(&counts[p * 8 + 1], &rate, sizeof rate);
            _exit(0);
        }
    }
    __atomic_store_n(go, 1, __ATOMIC_SEQ_CST);
    for (int p = 0; p < procs; p++)
        wait(NULL);
    struct rate r = {0, 0};
    for (int p = 0; p < procs; p++) {
        double rate;
        memcpy(&rate, &counts[p * 8 + 1], sizeof rate);
        r.wall += counts[p * 8] / secs / 1e6;
        r.cpu += rate / 1e6;
    }
    munmap(counts, 64 * 8);
    return r;
}

/* Two processes against one, RUNS times: ratios of the wall and CPU rates. */
static void scaling(void *t, enum kind kind, double *one, double *two, double *wall, double *cpu) {
    for (int i = 0; i < RUNS; i++) {
        struct rate a = mixed(t, kind, 1, 0.3), b = mixed(t, kind, 2, 0.3);
        one[i] = a.wall;
        two[i] = b.wall;
        wall[i] = b.wall / a.wall;
        cpu[i] = b.cpu / a.cpu;
    }
}

static void row(const char *what, double *v, int n, const char *unit) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    printf("%-44s %7.2f [%.2f .. %.2f] %s", what, v[n / 2], v[0], v[n - 1], unit);
}

static void ratio_row(const char *what, double *wall, double *cpu) {
    row(what, wall, RUNS, "| ");
    qsort(cpu, RUNS, sizeof *cpu, cmp_double);
    printf("per CPU second %.2f [%.2f .. %.2f]\n", cpu[RUNS / 2], cpu[0], cpu[RUNS - 1]);
}

int32_t __truk_main(int32_t argc, char **argv) {
    void *t = shared(TABLE_BYTES);
    ctable *c = shared(sizeof(ctable));
    entry v = {1, 2};
    if (argc > 1 && !strcmp(argv[1], "c")) {
        for (uint64_t i = 0; i < FILLED; i++)
            c_put(c, key_of(i), &v);
        double get = c_single(c, 0);
        printf("%.2f %.2f\n", get, c_single(c, 1));
        return 0;
    }
    for (uint64_t i = 0; i < FILLED; i++) {
        uint64_t k = key_of(i);
        __truk_table_put(t, CAP, 8, sizeof(entry), &k, &v);
        c_put(c, k, &v);
    }
    printf("tables: table[u64, Entry, %d], %d keys (75%% full)\n", CAP, FILLED);
    const char *names[2] = {"get", "put (replace)"};
    for (int put = 0; put < 2; put++) {
        double a[RUNS], b[RUNS], r[RUNS];
        for (int i = 0; i < RUNS; i++) {
            a[i] = truk_single(t, put);
            b[i] = c_single(c, put);
            r[i] = b[i] / a[i];
        }
        char what[64];
        snprintf(what, sizeof what, "one process, %s", names[put]);
        row(what, a, RUNS, "M ops/s | ");
        row("C table, no locks", b, RUNS, "M ops/s | ");
        qsort(r, RUNS, sizeof *r, cmp_double);
        printf("C/table %.2f [%.2f .. %.2f]\n", r[RUNS / 2], r[0], r[RUNS - 1]);
    }
    double one[RUNS], two[RUNS], wall[RUNS], cpu[RUNS];
    scaling(t, TRUK, one, two, wall, cpu);
    row("90% gets, one process", one, RUNS, "M ops/s\n");
    row("90% gets, two processes (total)", two, RUNS, "M ops/s\n");
    ratio_row("two processes / one", wall, cpu);
    const struct { enum kind kind; const char *what; } controls[] = {
        {PLAIN, "control: C table, no locks, 10% puts: 2 / 1"},
        {GETS, "control: C table, gets only: 2 / 1"},
        {ALU, "control: no memory (below 2: a busy machine)"},
    };
    for (int k = 0; k < 3; k++) {
        scaling(c, controls[k].kind, one, two, wall, cpu);
        ratio_row(controls[k].what, wall, cpu);
    }
    scaling(c, MUTEX, one, two, wall, cpu);
    row("reference: C table under one Mutex, one", one, RUNS, "M ops/s\n");
    row("reference: C table under one Mutex, two", two, RUNS, "M ops/s\n");
    return 0;
}
