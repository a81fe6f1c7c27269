/* Supervision: wait_any_child, spawn_linked and the linked child's side of
 * it, fleet_wait_exit. Kept apart from fleet.c: the region protocol is
 * there, this is about processes. */
#define _GNU_SOURCE
#include "truk_rt.h"

#include <errno.h>
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
