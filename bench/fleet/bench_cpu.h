/* Pinning for the C benchmarks: a process on one CPU of its own, and back. */
#ifndef BENCH_CPU_H
#define BENCH_CPU_H
#include <sched.h>
#include <unistd.h>

/* Runs the caller on CPU `cpu` alone (no-op on a one-CPU machine). Left to
 * the scheduler, two processes that should contend or ping-pong often share
 * one CPU and take turns a time slice each, or a woken one lands beside its
 * waker, where spinning cannot help. */
static inline void pin(int cpu) {
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
}

/* Runs the caller on every CPU again. */
static inline void unpin(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int i = 0; i < sysconf(_SC_NPROCESSORS_ONLN) && i < CPU_SETSIZE; i++)
        CPU_SET(i, &set);
    sched_setaffinity(0, sizeof set, &set);
}
#endif
