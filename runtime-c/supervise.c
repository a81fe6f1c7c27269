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

/* The reports come from the exit log in the region (truk_fleet.h, "Exit
 * log"): whoever frees a member's ACTIVE slot appends one record, and each
 * watcher reads the records from the head it saw when it joined, in order,
 * each once. What remains here is making sure a member that dies without
 * leaving (SIGKILL) has its slot freed promptly, which appends its record:
 * per slot the occupant this process knows and a pidfd of it; a pidfd that
 * fires makes this watcher reap the slot. The table is looked at again at
 * least every WATCH_REFRESH_MS (shared memory, not /proc) to open pidfds for
 * newcomers; where pidfd_open is missing (old kernels, qemu-user), for members
 * beyond WATCH_MAX_FDS, or out of descriptors, that member's liveness is read
 * from /proc at each refresh instead. Between looks the watcher sleeps on the
 * log's futex word, waking at least every WATCH_PIDFD_MS to poll its pidfds. */
#include "truk_fleet.h"

#include <limits.h>
#include <linux/futex.h>

#define WATCH_REFRESH_MS 100
#define WATCH_PIDFD_MS 20
/* pidfds a watcher holds at most, to leave the program its descriptors; the
 * members beyond are watched through /proc at each refresh. */
#define WATCH_MAX_FDS 256

struct watched {
    uint64_t word; /* the slot's word as last seen */
    int fd;        /* its pidfd, -1 without, -2 not opened yet */
};

bool __truk_fleet_slot_reap(struct truk_fleet_slot *s, uint64_t w);
struct truk_fleet_slot *__truk_fleet_slots(uint32_t *capacity);
struct truk_fleet_exitlog *__truk_fleet_exitlog(uint64_t *len);

static struct watched *watch;
static uint32_t watch_n;
static int watch_fds;       /* pidfds open */
static uint64_t log_next;   /* the next sequence number to report */
static int64_t log_stalled; /* since when log_next is claimed but unpublished (ms), 0 not */

static uint32_t word_pid(uint64_t w) { return (uint32_t)(w >> TRUK_SLOT_PID_SHIFT); }
static bool active(uint64_t w) { return (w & TRUK_SLOT_STATUS_MASK) == TRUK_SLOT_ACTIVE; }

static void watch_close(struct watched *x) {
    if (x->fd >= 0) {
        close(x->fd);
        watch_fds--;
    }
    x->fd = -1;
}

/* Opens a pidfd for the occupant of slot s (word w). */
static void watch_open(struct truk_fleet_slot *s, struct watched *x, uint64_t w) {
    x->fd = -1;
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
    uint64_t len;
    struct truk_fleet_slot *t = __truk_fleet_slots(&cap);
    struct truk_fleet_exitlog *l = __truk_fleet_exitlog(&len);
    if (!t || !l)
        return;
    /* Only the exits from now on (a forked child starts afresh too). */
    log_next = __atomic_load_n(&l->head, __ATOMIC_ACQUIRE);
    log_stalled = 0;
    if (watch)
        return;
    watch = calloc(cap, sizeof *watch);
    if (!watch)
        return;
    watch_n = cap;
    for (uint32_t i = 0; i < cap; i++) {
        watch[i].word = 0;
        watch[i].fd = -1;
    }
}

/* Looks at the table: opens pidfds for new occupants, and without a pidfd
 * reads liveness from /proc (a dead member's slot is freed: its record). */
static void watch_refresh(struct truk_fleet_slot *t) {
    uint32_t self = (uint32_t)getpid();
    for (uint32_t i = 0; i < watch_n; i++) {
        struct watched *x = &watch[i];
        uint64_t w = __atomic_load_n(&t[i].word, __ATOMIC_ACQUIRE);
        if (w != x->word) {
            watch_close(x);
            x->word = w;
            x->fd = -2;
        }
        if (!active(w) || word_pid(w) == self)
            continue;
        if (x->fd == -2)
            watch_open(&t[i], x, w);
        if (x->fd < 0)
            __truk_fleet_slot_reap(&t[i], w);
    }
}

/* The next exit in the log for this watcher, or -1 (none yet). */
static int64_t log_take(struct truk_fleet_exitlog *l, uint64_t len) {
    struct truk_fleet_exit *recs = (struct truk_fleet_exit *)(l + 1);
    for (;;) {
        uint64_t head = __atomic_load_n(&l->head, __ATOMIC_ACQUIRE);
        if (log_next >= head)
            return -1;
        if (head - log_next > len) { /* fell behind: the older ones are overwritten */
            log_next = head - len;
            log_stalled = 0;
        }
        struct truk_fleet_exit *r = &recs[log_next % len];
        uint64_t s1 = __atomic_load_n(&r->stamp, __ATOMIC_ACQUIRE);
        uint32_t pid = __atomic_load_n(&r->pid, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        uint64_t s2 = __atomic_load_n(&r->stamp, __ATOMIC_RELAXED);
        if (s1 == log_next + 1 && s2 == s1) {
            log_next++;
            log_stalled = 0;
            return pid;
        }
        if (s1 > log_next + 1 || s2 > log_next + 1) { /* overwritten meanwhile */
            log_next++;
            log_stalled = 0;
            continue;
        }
        /* Claimed, not published yet: wait for its writer, then judge it dead. */
        int64_t now = now_ms();
        if (!log_stalled)
            log_stalled = now;
        if (now - log_stalled < TRUK_FLEET_EXIT_STALL_MS)
            return -1;
        log_next++;
        log_stalled = 0;
    }
}

/* Polls the pidfds without waiting; reaps the slots of those that fired.
 * Returns whether any did. */
static bool watch_poll(struct truk_fleet_slot *t, struct pollfd *fds, uint32_t *slot_of) {
    nfds_t n = 0;
    for (uint32_t i = 0; i < watch_n; i++)
        if (watch[i].fd >= 0) {
            fds[n] = (struct pollfd){watch[i].fd, POLLIN, 0};
            slot_of[n++] = i;
        }
    if (!n || poll(fds, n, 0) <= 0)
        return false;
    bool any = false;
    for (nfds_t k = 0; k < n; k++) {
        if (!fds[k].revents)
            continue;
        struct watched *x = &watch[slot_of[k]];
        __truk_fleet_slot_reap(&t[slot_of[k]], x->word); /* appends its record */
        watch_close(x);
        any = true;
    }
    return any;
}

int64_t __truk_fleet_wait_exit(int64_t timeout_ms) {
    uint32_t cap;
    uint64_t len;
    struct truk_fleet_slot *t = __truk_fleet_slots(&cap);
    struct truk_fleet_exitlog *l = __truk_fleet_exitlog(&len);
    if (!t || !l || !watch)
        __truk_panic_cstr("fleet_wait_exit: this process has not joined its fleet");
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    struct pollfd *fds = calloc(watch_n, sizeof *fds);
    uint32_t *slot_of = calloc(watch_n, sizeof *slot_of);
    int64_t pid = -1, last_refresh = 0;
    for (;;) {
        uint32_t v = __atomic_load_n(&l->wake, __ATOMIC_ACQUIRE);
        pid = log_take(l, len);
        if (pid >= 0)
            break;
        int64_t now = now_ms();
        if (now - last_refresh >= WATCH_REFRESH_MS) {
            watch_refresh(t);
            last_refresh = now;
        }
        if (fds && slot_of && watch_poll(t, fds, slot_of))
            continue;
        int64_t left = deadline < 0 ? WATCH_REFRESH_MS : deadline - now_ms();
        if (left <= 0) {
            pid = log_take(l, len);
            break;
        }
        int64_t nap = watch_fds > 0 || log_stalled ? WATCH_PIDFD_MS : WATCH_REFRESH_MS;
        if (left > nap)
            left = nap;
        struct timespec ts = {(time_t)(left / 1000), (long)(left % 1000) * 1000000};
        syscall(SYS_futex, &l->wake, FUTEX_WAIT, v, &ts, NULL, 0);
    }
    free(fds);
    free(slot_of);
    return pid;
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
