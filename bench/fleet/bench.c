/* Fleet runtime benchmarks, each figure printed beside its plain-C baseline from
 * the same run. Built and run by ci/bench-fleet (linked with the runtime like a
 * Truk program; the note below plays the compiler's). Not a test: numbers only. */
#define _GNU_SOURCE
#include "truk_rt.h"
#include "bench_note.h"
#include "bench_cpu.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Region 4096 bytes, fingerprints 0xbe/0xbf. */
BENCH_NOTE(0, 16, 0, 0xbe, 0xbf);

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void row(const char *what, double ours, const char *base, double theirs, const char *unit) {
    printf("%-38s %10.1f %-3s | C %-34s %10.1f %-3s | ratio %.2f\n", what, ours, unit, base,
           theirs, unit, ours / theirs);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[0..n) (sorts v). */
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* A figure as median [min .. max] of n samples, beside its baseline's (sorts both). */
static void row_spread(const char *what, double *ours, const char *base, double *theirs, int n,
                       const char *unit) {
    double mo = median(ours, n), mt = median(theirs, n);
    printf("%-38s %8.1f [%.1f .. %.1f] %-3s | C %-30s %8.1f [%.1f .. %.1f] %-3s | ratio %.2f\n",
           what, mo, ours[0], ours[n - 1], unit, base, mt, theirs[0], theirs[n - 1], unit, mo / mt);
}

enum { PING = 0, ADD = 64 }; /* byte offsets in the shared area */

static uint32_t *ping_word(unsigned char *b) { return (uint32_t *)(b + PING); }

/* The other side of a ping-pong: waits for odd values, answers with the next even. */
static void pong_truk(uint32_t *w, uint32_t rounds) {
    for (uint32_t i = 0; i < rounds; i++) {
        uint32_t want = 2 * i + 1;
        uint32_t v;
        while ((v = __atomic_load_n(w, __ATOMIC_ACQUIRE)) != want)
            __truk_wait_on(w, v, -1);
        __atomic_store_n(w, want + 1, __ATOMIC_RELEASE);
        __truk_wake(w, 1);
    }
}

static void ping_truk(uint32_t *w, uint32_t rounds) {
    for (uint32_t i = 0; i < rounds; i++) {
        __atomic_store_n(w, 2 * i + 1, __ATOMIC_RELEASE);
        __truk_wake(w, 1);
        uint32_t v;
        while ((v = __atomic_load_n(w, __ATOMIC_ACQUIRE)) != 2 * i + 2)
            __truk_wait_on(w, v, -1);
    }
}

static long raw_futex(uint32_t *w, int op, uint32_t v) {
    return syscall(SYS_futex, w, op, v, NULL, NULL, 0);
}

static void pong_raw(uint32_t *w, uint32_t rounds) {
    for (uint32_t i = 0; i < rounds; i++) {
        uint32_t want = 2 * i + 1, v;
        while ((v = __atomic_load_n(w, __ATOMIC_ACQUIRE)) != want)
            raw_futex(w, FUTEX_WAIT, v);
        __atomic_store_n(w, want + 1, __ATOMIC_RELEASE);
        raw_futex(w, FUTEX_WAKE, 1);
    }
}

static void ping_raw(uint32_t *w, uint32_t rounds) {
    for (uint32_t i = 0; i < rounds; i++) {
        __atomic_store_n(w, 2 * i + 1, __ATOMIC_RELEASE);
        raw_futex(w, FUTEX_WAKE, 1);
        uint32_t v;
        while ((v = __atomic_load_n(w, __ATOMIC_ACQUIRE)) != 2 * i + 2)
            raw_futex(w, FUTEX_WAIT, v);
    }
}

static uint64_t adds;
static void *add_thread(void *p) {
    for (uint64_t i = 0; i < adds; i++)
        __atomic_fetch_add((uint64_t *)p, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

#define ROUNDS 20000u
#define ATTACHES 2000
#define LOCKS 2000000
#define ADDS 10000000ull
#define FORKS 300

/* ---- dead holder: SIGKILL of a Mutex's holder -> the waiter's lock returns ---- */

#define KILLS 20
enum lock_kind { TRUK_ROBUST, TRUK_POLL, PTHREAD_ROBUST };
enum { LOCKS_AT = 256, LOCK_STRIDE = 48, READY_AT = 1280 }; /* shared-area offsets */
_Static_assert(TRUK_MUTEX_SIZE <= LOCK_STRIDE && sizeof(pthread_mutex_t) <= LOCK_STRIDE, "stride");
_Static_assert(LOCKS_AT + KILLS * LOCK_STRIDE <= READY_AT, "locks before the ready words");

static unsigned char *shared;
static void *lock_at(int i) { return shared + LOCKS_AT + LOCK_STRIDE * i; }
static uint32_t *ready_at(int i) { return (uint32_t *)(shared + READY_AT) + i; }

/* A robust process-shared pthread mutex at p, the C baseline. */
static void robust_init(pthread_mutex_t *p) {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(p, &a);
}

static bool take(enum lock_kind k, int i) {
    if (k != PTHREAD_ROBUST)
        return __truk_mutex_lock(lock_at(i));
    pthread_mutex_t *p = lock_at(i);
    if (pthread_mutex_lock(p) != EOWNERDEAD)
        return false;
    pthread_mutex_consistent(p);
    return true;
}

static void release(enum lock_kind k, int i) {
    if (k == PTHREAD_ROBUST)
        pthread_mutex_unlock(lock_at(i));
    else
        __truk_mutex_unlock(lock_at(i));
}

/* `bench hold KIND I` (a spawned member): takes lock I, says so, waits to be killed. */
static int hold(enum lock_kind k, int i) {
    take(k, i);
    __atomic_store_n(ready_at(i), 1, __ATOMIC_RELEASE);
    __truk_wake(ready_at(i), 1);
    for (;;)
        pause();
}

struct waiter {
    enum lock_kind kind;
    int i;
    bool died; /* lock said the holder died */
    double returned;
};

static void *wait_thread(void *p) {
    struct waiter *w = p;
    w->died = take(w->kind, w->i);
    w->returned = now();
    release(w->kind, w->i);
    return NULL;
}

/* KILLS rounds: holders take locks 0..KILLS, waiter threads block on them for
 * `wait_ms`, then each holder is SIGKILLed in turn (the next only once the
 * previous waiter returned). long_wait: all waiters start together (the run
 * stays near wait_ms, later waiters wait a little longer); else each round
 * starts its own waiter wait_ms before its kill. Fills lat[] (us). */
static void dead_holders(enum lock_kind k, int wait_ms, bool long_wait, double *lat) {
    if (k == TRUK_POLL)
        setenv("TRUK_MUTEX_POLL", "1", 1); /* read by holders and new waiter threads */
    else
        unsetenv("TRUK_MUTEX_POLL");
    int64_t pid[KILLS];
    char kind[8], idx[8];
    snprintf(kind, sizeof kind, "%d", (int)k);
    for (int i = 0; i < KILLS; i++) {
        memset(lock_at(i), 0, LOCK_STRIDE);
        if (k == PTHREAD_ROBUST)
            robust_init(lock_at(i));
        *ready_at(i) = 0;
        snprintf(idx, sizeof idx, "%d", i);
        const char *args[] = {"hold", kind, idx};
        pid[i] = __truk_spawn(args, 3);
    }
    for (int i = 0; i < KILLS; i++)
        while (!__atomic_load_n(ready_at(i), __ATOMIC_ACQUIRE))
            __truk_wait_on(ready_at(i), 0, 100);
    struct waiter w[KILLS];
    pthread_t th[KILLS];
    for (int i = 0; i < KILLS; i++)
        w[i] = (struct waiter){.kind = k, .i = i};
    for (int i = 0; i < KILLS; i++) {
        if (!long_wait || i == 0) {
            for (int j = i; j < (long_wait ? KILLS : i + 1); j++)
                pthread_create(&th[j], NULL, wait_thread, &w[j]);
            usleep((useconds_t)wait_ms * 1000);
        }
        double t = now();
        kill((pid_t)pid[i], SIGKILL);
        pthread_join(th[i], NULL);
        lat[i] = (w[i].returned - t) * 1e6;
        __truk_wait_child(pid[i]);
        if (!w[i].died)
            printf("round %d: lock did not report the dead holder\n", i);
    }
    unsetenv("TRUK_MUTEX_POLL");
}

static void dead_holder_rows(void) {
    static const struct { int ms; bool long_wait; const char *what; } waits[] = {
        {10, false, "10 ms"}, {2000, true, "2 s"}};
    for (int j = 0; j < 2; j++) {
        double ours[KILLS], poll[KILLS], theirs[KILLS];
        dead_holders(TRUK_ROBUST, waits[j].ms, waits[j].long_wait, ours);
        dead_holders(TRUK_POLL, waits[j].ms, waits[j].long_wait, poll);
        dead_holders(PTHREAD_ROBUST, waits[j].ms, waits[j].long_wait, theirs);
        char what[80];
        snprintf(what, sizeof what, "dead holder -> lock, %s wait", waits[j].what);
        row_spread(what, ours, "robust pthread mutex", theirs, KILLS, "us");
        snprintf(what, sizeof what, "  the same, TRUK_MUTEX_POLL=1");
        row_spread(what, poll, "robust pthread mutex", theirs, KILLS, "us");
    }
}

/* ---- uncontended lock+unlock: median of REPEATS runs of LOCKS pairs ---------- */

#define REPEATS 7

static double truk_pairs(void *m) {
    double t0 = now();
    for (int i = 0; i < LOCKS; i++) {
        __truk_mutex_lock(m);
        __truk_mutex_unlock(m);
    }
    return (now() - t0) / LOCKS * 1e9;
}

static double pthread_pairs(pthread_mutex_t *m) {
    double t0 = now();
    for (int i = 0; i < LOCKS; i++) {
        pthread_mutex_lock(m);
        pthread_mutex_unlock(m);
    }
    return (now() - t0) / LOCKS * 1e9;
}

static void uncontended_rows(unsigned char *b) {
    static unsigned char private_mutex[TRUK_MUTEX_SIZE] __attribute__((aligned(8)));
    pthread_mutex_t *robust = (pthread_mutex_t *)(b + LOCKS_AT);
    robust_init(robust);
    pthread_mutex_t plain = PTHREAD_MUTEX_INITIALIZER;
    double ours[REPEATS], priv[REPEATS], rob[REPEATS], pl[REPEATS];
    for (int r = 0; r < REPEATS; r++) { /* interleaved: load changes hit all alike */
        ours[r] = truk_pairs(b + 128);
        priv[r] = truk_pairs(private_mutex);
        rob[r] = pthread_pairs(robust);
        pl[r] = pthread_pairs(&plain);
    }
    row_spread("Mutex lock+unlock, in the region", ours, "robust pshared pthread_mutex", rob,
               REPEATS, "ns");
    row_spread("Mutex lock+unlock, in the region", ours, "plain pthread_mutex", pl, REPEATS, "ns");
    row_spread("Mutex lock+unlock, private memory", priv, "plain pthread_mutex", pl, REPEATS, "ns");
}

/* ---- contended lock+unlock: 2 processes on one lock, CONTENDED pairs each ---- */

#define CONTENDED 300000
enum { GO_AT = 1400 }; /* shared-area offset of the start word, after the ready words */
_Static_assert(READY_AT + 4 * KILLS <= GO_AT, "start word after the ready words");

static uint32_t *go_word(void) { return (uint32_t *)(shared + GO_AT); }

static void contended_pairs(enum lock_kind k) {
    for (int i = 0; i < CONTENDED; i++) {
        take(k, 0);
        release(k, 0);
    }
}

/* `bench contend KIND` (a spawned member): says it is ready, waits for the start. */
static int contend(enum lock_kind k) {
    pin(1);
    __atomic_store_n(ready_at(0), 1, __ATOMIC_RELEASE);
    __truk_wake(ready_at(0), 1);
    while (!__atomic_load_n(go_word(), __ATOMIC_ACQUIRE))
        __truk_wait_on(go_word(), 0, 100);
    contended_pairs(k);
    return 0;
}

/* ns per lock+unlock pair, both processes hammering lock 0 at once. */
static double contended_run(enum lock_kind k) {
    memset(lock_at(0), 0, LOCK_STRIDE);
    if (k == PTHREAD_ROBUST)
        robust_init(lock_at(0));
    *ready_at(0) = 0;
    *go_word() = 0;
    char kind[8];
    snprintf(kind, sizeof kind, "%d", (int)k);
    const char *args[] = {"contend", kind};
    int64_t pid = __truk_spawn(args, 2);
    while (!__atomic_load_n(ready_at(0), __ATOMIC_ACQUIRE))
        __truk_wait_on(ready_at(0), 0, 100);
    pin(0);
    double t0 = now();
    __atomic_store_n(go_word(), 1, __ATOMIC_RELEASE);
    __truk_wake(go_word(), 1);
    contended_pairs(k);
    __truk_wait_child(pid);
    double ns = (now() - t0) / (2.0 * CONTENDED) * 1e9;
    unpin();
    return ns;
}

static void contended_rows(void) {
    double ours[REPEATS], theirs[REPEATS];
    for (int r = 0; r < REPEATS; r++) { /* interleaved */
        ours[r] = contended_run(TRUK_ROBUST);
        theirs[r] = contended_run(PTHREAD_ROBUST);
    }
    row_spread("Mutex lock+unlock, 2 processes contend", ours, "robust pshared pthread_mutex", theirs,
               REPEATS, "ns");
}


int32_t __truk_main(int32_t argc, char **argv) {
    bool mutex_only = argc > 1 && !strcmp(argv[1], "mutex"); /* `bench mutex`: the Mutex rows alone */
    if (argc > 1 && !mutex_only) { /* the spawned second process */
        unsigned char *b = __truk_fleet_join(NULL);
        shared = b;
        if (!strcmp(argv[1], "hold") && argc > 3)
            return hold((enum lock_kind)atoi(argv[2]), atoi(argv[3]));
        if (!strcmp(argv[1], "contend") && argc > 2)
            return contend((enum lock_kind)atoi(argv[2]));
        if (!strcmp(argv[1], "pong"))
            pong_truk(ping_word(b), ROUNDS);
        else if (!strcmp(argv[1], "add"))
            for (uint64_t i = 0; i < ADDS; i++)
                __atomic_fetch_add((uint64_t *)(b + ADD), 1, __ATOMIC_SEQ_CST);
        return 0;
    }
    char ns[64];
    snprintf(ns, sizeof ns, "bench-%d", (int)getpid());
    setenv("TRUK_FLEET_NS", ns, 1);
    unsigned char *b = __truk_fleet_join(NULL);
    if (mutex_only) {
        shared = b;
        if (argc > 2) { /* `bench mutex truk|pthread`: one contended run's ns per pair, for paired runs */
            printf("%.1f\n", contended_run(strcmp(argv[2], "truk") ? PTHREAD_ROBUST : TRUK_ROBUST));
            return 0;
        }
        uncontended_rows(b);
        contended_rows();
        return 0;
    }

    /* attach: join + leave of a region that another member keeps alive, against
     * shm_open + mmap + first touch + munmap + close of an existing object. */
    const char *hold[] = {"hold"};
    int64_t holder = __truk_spawn(hold, 1); /* joins, returns at once: then hold via pong */
    __truk_wait_child(holder);
    const char *pong[] = {"pong"};
    holder = __truk_spawn(pong, 1); /* stays a member until the ping-pong below */
    while (__truk_fleet_size() < 2)
        usleep(100);
    double t0 = now();
    for (int i = 0; i < ATTACHES; i++) {
        __truk_rt_fleet_exit_hook();
        b = __truk_fleet_join(NULL);
    }
    double ours = (now() - t0) / ATTACHES * 1e9;
    char shm[80];
    snprintf(shm, sizeof shm, "/truk-bench-raw-%d", (int)getpid());
    int fd0 = shm_open(shm, O_CREAT | O_RDWR, 0600);
    if (fd0 < 0 || ftruncate(fd0, 8192) != 0)
        return 1;
    close(fd0);
    t0 = now();
    for (int i = 0; i < ATTACHES; i++) {
        int fd = shm_open(shm, O_RDWR, 0);
        struct stat st;
        fstat(fd, &st);
        volatile unsigned char *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        m[0]++;
        munmap((void *)m, (size_t)st.st_size);
        close(fd);
    }
    double raw = (now() - t0) / ATTACHES * 1e9;
    shm_unlink(shm);
    row("attach (join + leave, 2nd member)", ours, "shm_open+mmap+touch+munmap", raw, "ns");

    /* cross-process round trip: wait_on/wake against raw futex syscalls */
    t0 = now();
    ping_truk(ping_word(b), ROUNDS);
    ours = (now() - t0) / ROUNDS * 1e9;
    __truk_wait_child(holder);
    uint32_t *rw = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pid_t c = fork();
    if (c == 0) {
        pong_raw(rw, ROUNDS);
        _exit(0);
    }
    t0 = now();
    ping_raw(rw, ROUNDS);
    raw = (now() - t0) / ROUNDS * 1e9;
    waitpid(c, NULL, 0);
    row("round trip wait_on/wake, 2 processes", ours, "futex ping-pong, 2 processes", raw, "ns");

    /* uncontended lock/unlock, then a holder's death */
    shared = b;
    uncontended_rows(b);
    contended_rows();
    dead_holder_rows();

    /* contended atomic add: 2 processes on the region against 2 threads */
    const char *add[] = {"add"};
    int64_t adder = __truk_spawn(add, 1);
    t0 = now();
    for (uint64_t i = 0; i < ADDS; i++)
        __atomic_fetch_add((uint64_t *)(b + ADD), 1, __ATOMIC_SEQ_CST);
    __truk_wait_child(adder);
    ours = (now() - t0) * 1e3;
    uint64_t total = *(uint64_t *)(b + ADD);
    static uint64_t counter;
    adds = ADDS;
    pthread_t th;
    t0 = now();
    pthread_create(&th, NULL, add_thread, &counter);
    add_thread(&counter);
    pthread_join(th, NULL);
    raw = (now() - t0) * 1e3;
    row("atomic add x1e7 each, 2 processes", ours, "2 threads", raw, "ms");

    /* fork: a member's child becomes a member and leaves at exit, against the same
     * fork + exit + wait in a process that is not a member */
    fflush(stdout); /* the children exit(): no buffered output to repeat */
    double fork_us[2];
    for (int member = 1; member >= 0; member--) {
        if (!member)
            __truk_rt_fleet_exit_hook();
        t0 = now();
        for (int i = 0; i < FORKS; i++) {
            pid_t p = fork();
            if (p == 0)
                exit(0);
            waitpid(p, NULL, 0);
        }
        fork_us[member] = (now() - t0) / FORKS * 1e6;
    }
    b = __truk_fleet_join(NULL);
    row("fork + exit + wait (child is a member)", fork_us[1], "fork + exit + wait, no fleet",
        fork_us[0], "us");
    if (total != 2 * ADDS || counter != 2 * ADDS) {
        printf("lost increments: %llu %llu\n", (unsigned long long)total, (unsigned long long)counter);
        return 1;
    }
    return 0;
}
