/* Fleet runtime benchmarks, each figure printed beside its plain-C baseline from
 * the same run. Built and run by ci/bench-fleet (linked with the runtime like a
 * Truk program; the note below plays the compiler's). Not a test: numbers only. */
#define _GNU_SOURCE
#include "truk_rt.h"
#include "truk_note.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The note: namesz 5, descsz 92, type, "Truk", then the version-1 descriptor
 * (capacity 64, region 4096 bytes, fingerprints 0xbe/0xbf, three empty strings). */
#define FP8(b) b, b, b, b, b, b, b, b
#define FP32(b) FP8(b), FP8(b), FP8(b), FP8(b)
__attribute__((section(".note.truk"), aligned(4), used, retain))
static const unsigned char bench_note[12 + 8 + 92] = {
    5, 0, 0, 0, 92, 0, 0, 0, 0x31, 0x4b, 0x52, 0x54, 'T', 'r', 'u', 'k', 0, 0, 0, 0,
    1, 0, 0, 0, 64, 0, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, FP32(0xbe), FP32(0xbf),
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
_Static_assert(TRUK_NOTE_TYPE == 0x54524b31, "note type bytes above");

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void row(const char *what, double ours, const char *base, double theirs, const char *unit) {
    printf("%-38s %10.1f %-3s | C %-34s %10.1f %-3s | ratio %.2f\n", what, ours, unit, base,
           theirs, unit, ours / theirs);
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

int32_t __truk_main(int32_t argc, char **argv) {
    if (argc > 1) { /* the spawned second process */
        unsigned char *b = __truk_fleet_join(NULL);
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

    /* uncontended lock/unlock */
    void *m = b + 128;
    t0 = now();
    for (int i = 0; i < LOCKS; i++) {
        __truk_mutex_lock(m);
        __truk_mutex_unlock(m);
    }
    ours = (now() - t0) / LOCKS * 1e9;
    pthread_mutex_t pm = PTHREAD_MUTEX_INITIALIZER;
    t0 = now();
    for (int i = 0; i < LOCKS; i++) {
        pthread_mutex_lock(&pm);
        pthread_mutex_unlock(&pm);
    }
    raw = (now() - t0) / LOCKS * 1e9;
    row("Mutex lock+unlock, uncontended", ours, "pthread_mutex lock+unlock", raw, "ns");

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
