/* A fleet member for the tests, playing the generated code's role: its note
 * (fleet_note.h, written by the test) gives fingerprints, capacity and region
 * size; __truk_main joins and then obeys its mode (see the test helpers). */
#define _GNU_SOURCE
#include "truk_rt.h"
#include "fleet_note.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The shared area (REGION_SIZE bytes, see fleet_support/mod.rs). */
#define OFF_DATA 0      /* 64 u64 cells for the tests' own use */
#define REGION_CELLS 512 /* get/set/add reach all 4096 bytes */
#define OFF_TAG 512     /* random, new for every generation (init) */
#define OFF_INIT 520    /* 0xC0FFEE, the "constant initializer" */
#define OFF_MUTEX 1024  /* Mutex 0 (TRUK_MUTEX_SIZE bytes) */
#define OFF_A 1064      /* a and b: bumped one after the other under the Mutex */
#define OFF_B 1072
#define OFF_DIED 1080   /* lock() reported a dead holder */
#define OFF_DONE 1088   /* 128 u64: completed critical sections per locker id */
#define OFF_MUTEXES 3072 /* Mutex 1, 2, ...: every 64 bytes from here */
#define OFF_PTHREAD 3584 /* a robust process-shared pthread mutex (init) */

static unsigned char *base;
#define U64(off) ((uint64_t *)(base + (off)))

static void init(void *b) {
    const char *slow = getenv("AGENT_INIT_SLEEP_MS"); /* to be killed while initializing */
    if (slow) {
        printf("initializing\n");
        fflush(stdout);
        usleep((useconds_t)atoi(slow) * 1000);
    }
    uint64_t tag = 0;
    if (getrandom(&tag, sizeof tag, 0) != sizeof tag)
        tag = (uint64_t)getpid() * 2654435761u ^ (uint64_t)time(NULL);
    tag |= 1;
    memcpy((unsigned char *)b + OFF_TAG, &tag, 8);
    *(uint64_t *)((unsigned char *)b + OFF_INIT) = 0xC0FFEE;
    /* C code of the same process using glibc's robust mutexes beside ours
     * (no robust list under qemu-user: then it stays unused) */
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init((pthread_mutex_t *)((unsigned char *)b + OFF_PTHREAD), &a);
}

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void join(void) {
    base = __truk_fleet_join(init);
    if (((uintptr_t)base & 15) != 0) {
        printf("misaligned\n");
        exit(9);
    }
}

static void say_joined(void) {
    printf("joined %u %d %llu %u %llx %llx\n", __truk_fleet_self(), (int)__truk_fleet_first(),
           (unsigned long long)__truk_fleet_generation(), __truk_fleet_size(),
           (unsigned long long)*U64(OFF_TAG), (unsigned long long)*U64(OFF_INIT));
    fflush(stdout);
}

/* cell i: the u64 at byte 8 * i of the shared area (any of it) */
static uint64_t cell(const char *s) { return 8 * (strtoull(s, NULL, 10) % (REGION_CELLS)); }

/* One critical section: a, done[id], b. A holder killed in between leaves
 * a != b; the next holder is told (lock returns true) and repairs. */
static void locked_step(unsigned id, unsigned hold_us) {
    if (__truk_mutex_lock(base + OFF_MUTEX)) {
        __atomic_add_fetch(U64(OFF_DIED), 1, __ATOMIC_SEQ_CST);
        uint64_t sum = 0;
        for (int i = 0; i < 128; i++)
            sum += *U64(OFF_DONE + 8 * i);
        *U64(OFF_A) = sum;
        *U64(OFF_B) = sum;
    }
    (*U64(OFF_A))++;
    (*U64(OFF_DONE + 8 * (id % 128)))++;
    if (hold_us)
        usleep(hold_us);
    (*U64(OFF_B))++;
    __truk_mutex_unlock(base + OFF_MUTEX);
}

/* Mutex i of the agent: 0 is the one locked_step uses. */
static void *mutex_n(const char *s) {
    unsigned i = (unsigned)atoi(s) % 8;
    return i == 0 ? base + OFF_MUTEX : base + OFF_MUTEXES + 64 * (i - 1);
}

static const char *plock(void) {
    int e = pthread_mutex_lock((pthread_mutex_t *)(base + OFF_PTHREAD));
    if (e == EOWNERDEAD) {
        pthread_mutex_consistent((pthread_mutex_t *)(base + OFF_PTHREAD));
        return "plock owner-died";
    }
    return e ? strerror(e) : "plock 0";
}

/* A fork child of a holder must not release the parent's Mutex: it panics. The
 * child is not a fleet member here, so it leaves nothing on its way out. */
static int fork_unlock(void *m) {
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        __truk_rt_fleet_exit_hook = NULL;
        __truk_mutex_unlock(m);
        _exit(0);
    }
    int st = 0;
    waitpid(c, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static volatile sig_atomic_t trapped;
static void on_trap(int sig) {
    (void)sig;
    trapped++;
}

static int agent(void) {
    join();
    say_joined();
    char line[512];
    while (fgets(line, sizeof line, stdin)) {
        char *argv[8] = {0};
        int n = 0;
        for (char *t = strtok(line, " \n"); t && n < 8; t = strtok(NULL, " \n"))
            argv[n++] = t;
        if (n == 0)
            continue;
        const char *c = argv[0];
        const char *a1 = n > 1 ? argv[1] : "0", *a2 = n > 2 ? argv[2] : "0";
        const char *a3 = n > 3 ? argv[3] : "0";
        if (!strcmp(c, "get"))
            printf("%llu\n", (unsigned long long)__atomic_load_n(U64(cell(a1)), __ATOMIC_SEQ_CST));
        else if (!strcmp(c, "set")) {
            __atomic_store_n(U64(cell(a1)), strtoull(a2, NULL, 10), __ATOMIC_SEQ_CST);
            printf("ok\n");
        } else if (!strcmp(c, "add"))
            printf("%llu\n", (unsigned long long)__atomic_fetch_add(U64(cell(a1)), strtoull(a2, NULL, 10),
                                                                    __ATOMIC_SEQ_CST));
        else if (!strcmp(c, "size"))
            printf("%u\n", __truk_fleet_size());
        else if (!strcmp(c, "info"))
            say_joined();
        else if (!strcmp(c, "lock"))
            printf("lock %d\n", (int)__truk_mutex_lock(mutex_n(a1)));
        else if (!strcmp(c, "trylock"))
            printf("trylock %d\n", (int)__truk_mutex_try_lock(mutex_n(a1)));
        else if (!strcmp(c, "unlock")) {
            __truk_mutex_unlock(mutex_n(a1));
            printf("ok\n");
        } else if (!strcmp(c, "plock"))
            printf("%s\n", plock());
        else if (!strcmp(c, "punlock"))
            printf("punlock %d\n", pthread_mutex_unlock((pthread_mutex_t *)(base + OFF_PTHREAD)));
        else if (!strcmp(c, "forkunlock"))
            printf("child %d\n", fork_unlock(mutex_n(a1)));
        else if (!strcmp(c, "exec")) { /* becomes `sleep 60`: same pid, a new image */
            fflush(stdout);
            execlp("sleep", "sleep", "60", (char *)NULL);
            printf("exec failed\n");
        } else if (!strcmp(c, "waiton"))
            printf("waiton %d\n", (int)__truk_wait_on((uint32_t *)U64(cell(a1)), (uint32_t)strtoul(a2, NULL, 10),
                                                      strtoll(a3, NULL, 10)));
        else if (!strcmp(c, "wake"))
            printf("woke %u\n", __truk_wake((uint32_t *)U64(cell(a1)), (uint32_t)strtoul(a2, NULL, 10)));
        else if (!strcmp(c, "spawn")) {
            const char *args[6];
            for (int i = 1; i < n; i++)
                args[i - 1] = argv[i];
            printf("%lld\n", (long long)__truk_spawn(args, (uint64_t)(n - 1)));
        } else if (!strcmp(c, "waitchild"))
            printf("%d\n", __truk_wait_child(strtoll(a1, NULL, 10)));
        else if (!strcmp(c, "fork")) {
            /* fork IN OUT [exit|kill]: the child obeys the FIFO IN and answers on
             * OUT; the parent answers the child's pid, or at once leaves (exit 0)
             * or dies (SIGKILL) */
            fflush(stdout);
            pid_t p = fork();
            if (p == 0) {
                int out = open(a2, O_WRONLY), in = open(a1, O_RDONLY); /* the test waits for in */
                if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0)
                    _exit(12);
                close(in);
                close(out);
                say_joined();
                continue;
            }
            if (!strcmp(a3, "exit"))
                exit(0);
            if (!strcmp(a3, "kill"))
                raise(SIGKILL);
            printf("%d\n", (int)p);
        } else if (!strcmp(c, "pid"))
            printf("%d\n", (int)getpid());
        else if (!strcmp(c, "trap")) {
            /* trap SIG: the program's own handler, which only counts */
            signal(atoi(a1), on_trap);
            printf("ok\n");
        } else if (!strcmp(c, "trapped"))
            printf("%d\n", (int)trapped);
        else if (!strcmp(c, "exit"))
            exit(atoi(a1));
        else if (!strcmp(c, "panic"))
            __truk_panic_cstr("asked to");
        else
            printf("unknown %s\n", c);
        fflush(stdout);
    }
    return 0;
}

int32_t __truk_main(int32_t argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "agent";
    if (!strcmp(mode, "agent"))
        return agent();
    if (!strcmp(mode, "churn")) {
        /* join, add 1 to cell 0, stay a little, report when we were a member */
        join();
        uint64_t start = now_ns();
        __atomic_fetch_add(U64(OFF_DATA), 1, __ATOMIC_SEQ_CST);
        if (__truk_fleet_size() < 1 || *U64(OFF_INIT) != 0xC0FFEE)
            return 3;
        unsigned stay = argc > 2 ? (unsigned)atoi(argv[2]) : 0;
        if (stay)
            usleep((unsigned)(getpid() % stay));
        printf("%llx %llu %llu %d\n", (unsigned long long)*U64(OFF_TAG), (unsigned long long)start,
               (unsigned long long)now_ns(), (int)__truk_fleet_first());
        return 0;
    }
    if (!strcmp(mode, "burst")) {
        /* wait for the go line, join, count in, wait for the end line */
        char line[16];
        if (!fgets(line, sizeof line, stdin))
            return 4;
        join();
        __atomic_fetch_add(U64(OFF_DATA), 1, __ATOMIC_SEQ_CST);
        say_joined();
        if (!fgets(line, sizeof line, stdin))
            return 0;
        return 0;
    }
    if (!strcmp(mode, "locker") && argc > 4) {
        /* locker ID STEPS HOLD_US */
        join();
        unsigned id = (unsigned)atoi(argv[2]), steps = (unsigned)atoi(argv[3]);
        unsigned hold = (unsigned)atoi(argv[4]);
        for (unsigned i = 0; i < steps; i++)
            locked_step(id, hold);
        printf("done %u\n", steps);
        return 0;
    }
    if (!strcmp(mode, "sleep")) { /* a member that stays until killed */
        join();
        sleep(60);
        return 0;
    }
    if (!strcmp(mode, "nojoin")) {
        printf("ok\n");
        return 0;
    }
    return 2;
}
