/* Supervision: wait_any_child, spawn_linked and the linked child's side of
 * it, fleet_wait_exit. Kept apart from fleet.c: the region protocol is
 * there, this is about processes. */
#define _GNU_SOURCE
#include "truk_rt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int64_t now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms) {
    struct timespec t = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    while (nanosleep(&t, &t) < 0 && errno == EINTR)
        ;
}

/* ---- wait_any_child ------------------------------------------------------ */

/* SIGCHLD is blocked while we wait, so a child that ends between waitpid and
 * sigtimedwait leaves the signal pending and the wait returns at once. */
void __truk_wait_any_child(int64_t timeout_ms, struct truk_child_exit *out) {
    out->pid = -1;
    out->status = 0;
    sigset_t chld, old;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &chld, &old);
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    for (;;) {
        int st;
        pid_t pid = waitpid(-1, &st, WNOHANG);
        if (pid > 0) {
            out->pid = pid;
            out->status = WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
            break;
        }
        if (pid < 0 && errno == EINTR)
            continue;
        if (pid < 0) /* ECHILD: no children (or SIGCHLD ignored: they reap themselves) */
            break;
        int64_t left = deadline < 0 ? 1000 : deadline - now_ms();
        if (left <= 0)
            break;
        /* Look again at least every second: another thread may have taken the signal. */
        if (left > 1000)
            left = 1000;
        struct timespec ts = {(time_t)(left / 1000), (long)(left % 1000) * 1000000};
        sigtimedwait(&chld, NULL, &ts);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* ---- spawn_linked -------------------------------------------------------- */

/* The parent's pid, for the child's runtime (read and removed at start-up). */
#define LINKED_ENV "TRUK_LINKED_PARENT"

int64_t __truk_spawn_linked(const char *const *args, uint64_t len) {
    size_t n = 0;
    while (environ && environ[n])
        n++;
    char **envp = calloc(n + 2, sizeof *envp);
    if (!envp)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], LINKED_ENV "=", sizeof LINKED_ENV) != 0)
            envp[k++] = environ[i];
    char mine[64];
    snprintf(mine, sizeof mine, LINKED_ENV "=%ld", (long)getpid());
    envp[k++] = mine;
    int64_t pid = __truk_spawn_env(args, len, envp);
    free(envp);
    return pid;
}

static pid_t linked_parent;

/* The watchdog of a linked child: once the parent is gone (a pidfd, or where
 * pidfd_open is missing, e.g. under qemu-user, getppid every 100 ms), SIGTERM
 * has been sent by the kernel (PR_SET_PDEATHSIG); if the process still runs
 * after the grace period (it handles SIGTERM itself), SIGKILL. */
static void *linked_watchdog(void *arg) {
    (void)arg;
    int fd = (int)syscall(SYS_pidfd_open, linked_parent, 0);
    if (fd >= 0 && getppid() == linked_parent) {
        struct pollfd p = {fd, POLLIN, 0};
        while (poll(&p, 1, -1) < 0 && errno == EINTR)
            ;
    } else {
        while (getppid() == linked_parent)
            sleep_ms(100);
    }
    kill(getpid(), SIGTERM); /* PDEATHSIG follows the parent's thread: send it ourselves too */
    sleep_ms(TRUK_LINK_GRACE_MS);
    kill(getpid(), SIGKILL);
    return NULL;
}

void __truk_linked_start(void) {
    const char *v = getenv(LINKED_ENV);
    if (!v)
        return;
    char *end;
    long parent = strtol(v, &end, 10);
    unsetenv(LINKED_ENV); /* our own children are not linked to our parent */
    if (parent <= 0 || *end)
        return;
    linked_parent = (pid_t)parent;
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    /* The parent may have died before the line above: then we were reparented. */
    if (getppid() != linked_parent) {
        signal(SIGTERM, SIG_DFL);
        raise(SIGTERM);
        _exit(128 + SIGTERM);
    }
    /* The watchdog takes no signals: they stay the main thread's. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 64 * 1024);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    pthread_create(&t, &a, linked_watchdog, NULL);
    pthread_attr_destroy(&a);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* ---- fleet_wait_exit ----------------------------------------------------- */

/* Each process keeps its own view of the attach table: per slot the
 * occupant it knows (claim count and pid) and a pidfd of it. A slot whose
 * occupant changed, or whose pidfd says the process ended, is an exit; each
 * is queued once. The view starts when the process joins (__truk_watch_start),
 * so every exit from then on is reported, once a watcher's view has seen the
 * member: the table is looked at again at least every WATCH_REFRESH_MS (shared
 * memory, not /proc), and a process's end wakes poll() on its pidfd at once.
 * Where pidfd_open is missing (old kernels, qemu-user), for members beyond
 * WATCH_MAX_FDS, or out of descriptors, that member's liveness is read from
 * /proc at each refresh instead. */
#include "truk_fleet.h"

#define WATCH_REFRESH_MS 100
/* pidfds a watcher holds at most, to leave the program its descriptors; the
 * members beyond are watched through /proc at each refresh. */
#define WATCH_MAX_FDS 256

struct watched {
    uint64_t word; /* the slot's word as last seen */
    int fd;        /* its pidfd, -1 without, -2 not opened yet */
    bool done;     /* its end is queued: not again until the slot changes */
};

bool __truk_fleet_slot_reap(struct truk_fleet_slot *s, uint64_t w);
struct truk_fleet_slot *__truk_fleet_slots(uint32_t *capacity);

static struct watched *watch;
static uint32_t watch_n;
static int watch_fds; /* pidfds open */
static int64_t *exits; /* pids found ended, not yet returned */
static size_t exits_n, exits_cap;

static uint32_t word_pid(uint64_t w) { return (uint32_t)(w >> TRUK_SLOT_PID_SHIFT); }
static bool occupied(uint64_t w) { return (w & TRUK_SLOT_STATUS_MASK) != TRUK_SLOT_FREE; }

/* The pids reported last: a fork reservation (truk_fleet.h) names the parent's
 * pid in a second slot, so one process's end may free two slots. */
#define WATCH_RECENT 64
static int64_t recent[WATCH_RECENT];
static unsigned recent_next;

static void exit_push(uint64_t w) {
    int64_t pid = word_pid(w);
    for (unsigned i = 0; i < WATCH_RECENT; i++)
        if (recent[i] == pid)
            return;
    recent[recent_next++ % WATCH_RECENT] = pid;
    if (exits_n == exits_cap) {
        size_t cap = exits_cap ? exits_cap * 2 : 64;
        int64_t *e = realloc(exits, cap * sizeof *e);
        if (!e)
            return;
        exits = e;
        exits_cap = cap;
    }
    exits[exits_n++] = pid;
}

static void watch_close(struct watched *x) {
    if (x->fd >= 0) {
        close(x->fd);
        watch_fds--;
    }
    x->fd = -1;
}

static void watch_forget(struct watched *x) {
    watch_close(x);
    x->fd = -1;
    x->word = 0;
    x->done = false;
}

/* The occupant ended: queue it once; the slot stays in the view until it changes. */
static void watch_ended(struct watched *x) {
    if (!x->done)
        exit_push(x->word);
    watch_close(x);
    x->done = true;
}

/* Takes the current occupant of slot i into the view. */
static void watch_take(struct truk_fleet_slot *s, struct watched *x, uint64_t w) {
    x->word = w;
    x->done = false;
    x->fd = -1;
    if (word_pid(w) == (uint32_t)getpid())
        return;
    if (watch_fds >= WATCH_MAX_FDS)
        return;
    int fd = (int)syscall(SYS_pidfd_open, (pid_t)word_pid(w), 0);
    /* The pid may have been reused before the open: the pidfd counts only
     * while the slot still names a live member afterwards. */
    if (fd >= 0 && (__atomic_load_n(&s->word, __ATOMIC_ACQUIRE) != w || __truk_fleet_slot_reap(s, w))) {
        close(fd);
        fd = -1;
    }
    x->fd = fd;
    if (fd >= 0)
        watch_fds++;
}

void __truk_watch_start(void) {
    uint32_t cap;
    struct truk_fleet_slot *t = __truk_fleet_slots(&cap);
    if (!t || watch)
        return;
    watch = calloc(cap, sizeof *watch);
    if (!watch)
        return;
    watch_n = cap;
    /* Who is there now; pidfds are opened at the first fleet_wait_exit. */
    for (uint32_t i = 0; i < cap; i++) {
        watch[i].word = __atomic_load_n(&t[i].word, __ATOMIC_ACQUIRE);
        watch[i].fd = -2;
    }
}

/* Compares the view with the table: queues the exits, takes in newcomers.
 * A freed slot keeps its last occupant's pid (truk_fleet.h), so a member
 * that came and went between two looks is reported too, unless its slot was
 * taken again meanwhile (the claim count then moved by two or more). */
static void watch_refresh(struct truk_fleet_slot *t) {
    uint32_t self = (uint32_t)getpid();
    for (uint32_t i = 0; i < watch_n; i++) {
        struct watched *x = &watch[i];
        uint64_t w = __atomic_load_n(&t[i].word, __ATOMIC_ACQUIRE);
        uint64_t count = w & TRUK_SLOT_COUNT_MASK, was = x->word & TRUK_SLOT_COUNT_MASK;
        if (occupied(w) && occupied(x->word) && count == was) {
            if (word_pid(w) != word_pid(x->word)) { /* a fork reservation handed on */
                watch_forget(x);
                watch_take(&t[i], x, w);
                continue;
            }
            x->word = w; /* CLAIMED -> ACTIVE */
            if (x->done || word_pid(w) == self)
                continue;
            if (x->fd == -2)
                watch_take(&t[i], x, w);
            /* Without a pidfd, liveness from /proc (bounded by the refresh). */
            if (x->fd < 0 && __truk_fleet_slot_reap(&t[i], w))
                watch_ended(x);
            continue;
        }
        if (w == x->word)
            continue;
        if (occupied(x->word))
            watch_ended(x); /* it left, or someone freed its slot */
        if (!occupied(w) && count != was && word_pid(w) && word_pid(w) != self)
            exit_push(w); /* came and went unseen */
        watch_forget(x);
        x->word = w;
        if (occupied(w))
            watch_take(&t[i], x, w);
    }
}

int64_t __truk_fleet_wait_exit(int64_t timeout_ms) {
    uint32_t cap;
    struct truk_fleet_slot *t = __truk_fleet_slots(&cap);
    if (!t || !watch)
        __truk_panic_cstr("fleet_wait_exit: this process has not joined its fleet");
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    struct pollfd *fds = NULL;
    uint32_t *slot_of = NULL;
    for (;;) {
        watch_refresh(t);
        if (exits_n) {
            int64_t pid = exits[0];
            memmove(exits, exits + 1, --exits_n * sizeof *exits);
            free(fds);
            free(slot_of);
            return pid;
        }
        int64_t left = deadline < 0 ? WATCH_REFRESH_MS : deadline - now_ms();
        if (left <= 0)
            break;
        if (left > WATCH_REFRESH_MS)
            left = WATCH_REFRESH_MS;
        if (!fds) {
            fds = calloc(watch_n, sizeof *fds);
            slot_of = calloc(watch_n, sizeof *slot_of);
            if (!fds || !slot_of) {
                sleep_ms(left);
                continue;
            }
        }
        nfds_t n = 0;
        for (uint32_t i = 0; i < watch_n; i++)
            if (occupied(watch[i].word) && watch[i].fd >= 0) {
                fds[n] = (struct pollfd){watch[i].fd, POLLIN, 0};
                slot_of[n++] = i;
            }
        int r = poll(fds, n, (int)left);
        for (nfds_t k = 0; r > 0 && k < n; k++) {
            if (!fds[k].revents)
                continue;
            struct watched *x = &watch[slot_of[k]];
            __truk_fleet_slot_reap(&t[slot_of[k]], x->word); /* free it for fleet_size */
            watch_ended(x);
        }
    }
    free(fds);
    free(slot_of);
    return -1;
}

/* ---- for std/supervisor.truk ---------------------------------------------- */

/* Under their own names, so that a program may declare kill, snprintf, ...
 * itself beside `import "supervisor"`. */
int64_t __truk_now_ms(void) { return now_ms(); }

int32_t __truk_kill(int64_t pid, int32_t sig) {
    if (pid <= 0 || pid > INT32_MAX)
        return -1;
    return kill((pid_t)pid, sig);
}

int32_t __truk_format(char *buf, uint64_t size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

/* One line on stderr in one write: lines of several processes do not mix. */
void __truk_eprint_line(const char *s) {
    char line[1024];
    int n = snprintf(line, sizeof line, "%s\n", s);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line)
        n = sizeof line - 1, line[n - 1] = '\n';
    fflush(stderr);
    ssize_t w = write(2, line, (size_t)n);
    (void)w;
}
