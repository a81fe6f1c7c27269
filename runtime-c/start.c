/* start.c: process entry, exit hook, panics and allocation. */
#define _GNU_SOURCE /* REG_RSP */
#include "truk_rt.h"

#include <signal.h>
#include <ucontext.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int rt_argc;
static char **rt_argv;
static bool rt_exited;
static bool rt_panicking;

/* Set by __truk_fleet_join: detaching is reached only through this pointer,
 * so programs that never join do not link fleet.c. */
void (*__truk_rt_fleet_exit_hook)(void);

int __truk_rt_argc(void) { return rt_argc; }
bool __truk_rt_panicking(void) { return rt_panicking; }
char **__truk_rt_argv(void) { return rt_argv; }

static void rt_atexit(void) { __truk_rt_exit(); }

/* ---- stack overflow ----
 * A fault close to the stack pointer is the stack running into its guard: it becomes the
 * panic "stack overflow" (exit status 101, like every panic), handled on an alternate
 * stack since the thread's own is exhausted. Any other SIGSEGV keeps its default action:
 * the handler resets it and the faulting instruction runs again (or, for a SIGSEGV sent by
 * kill or raise, the handler sends it again). */

static char rt_alt_stack[64 * 1024];

static uintptr_t fault_sp(void *uc) {
#if defined(__x86_64__)
    return (uintptr_t)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
    return (uintptr_t)((ucontext_t *)uc)->uc_mcontext.sp;
#else
    (void)uc;
    return 0;
#endif
}

static void rt_on_segv(int sig, siginfo_t *info, void *uc) {
    uintptr_t addr = (uintptr_t)info->si_addr, sp = fault_sp(uc);
    /* Below the stack pointer (a call or a push), or within the frame: locals of 1 MiB or
     * more live on the heap, so frames are smaller than that. */
    if (sp && addr + 64 * 1024 >= sp && addr <= sp + (1u << 20))
        __truk_panic_cstr("stack overflow");
    static struct sigaction dfl; /* all zero: SIG_DFL, no flags; never written */
    sigaction(sig, &dfl, NULL);
    /* Sent by kill or raise (si_code <= 0), no instruction runs again: send it once more. */
    if (info->si_code <= 0)
        raise(sig);
}

static void rt_catch_stack_overflow(void) {
    /* Zeroed statics (this runs once) filled field by field: an initializer would be a
     * constant template in .data.rel.ro, a section (and a relocation) of its own in every
     * binary, and a zeroed local a call of memset at -Os. */
    static stack_t ss;
    ss.ss_sp = rt_alt_stack;
    ss.ss_size = sizeof rt_alt_stack;
    if (sigaltstack(&ss, NULL) != 0)
        return;
    static struct sigaction sa;
    sa.sa_sigaction = rt_on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigaction(SIGSEGV, &sa, NULL);
}

static void rt_init(int argc, char **argv) {
    rt_argc = argc;
    rt_argv = argv;
    /* Runs the exit hook on every normal exit path: return from main, exit(),
     * panics (which call exit). Fleets attach in generated code
     * (__truk_fleet_join) and detach through the exit hook. */
    atexit(rt_atexit);
    rt_catch_stack_overflow();
}

void __truk_rt_exit(void) {
    if (rt_exited)
        return;
    rt_exited = true;
    fflush(NULL); /* stdout, and any stream the program left open */
    if (__truk_rt_fleet_exit_hook)
        __truk_rt_fleet_exit_hook();
}

/* The C entry's debug info is not named `main`, and the linked executable's symbol `main`
 * loses its name when the program has DWARF (driver/link.rs), so that gdb's `break main`
 * finds only the Truk `main`. */
static int truk_c_entry(int argc, char **argv) {
    rt_init(argc, argv);
    int32_t status = __truk_main((int32_t)argc, argv);
    __truk_rt_exit();
    return (int)status;
}
int main(int argc, char **argv) __attribute__((alias("truk_c_entry")));

/* ---- panics ---- */

/* Every panic line goes through vdprintf to fd 2: one libc import instead of four (a C
 * compiler turns fprintf with a plain string into fputs, fputc or fwrite), and neither the
 * `stderr` variable nor a flush of it (each call writes its text before it returns; the
 * program's own buffered output, stderr's too, is flushed before the first line). */
__attribute__((format(printf, 1, 2))) static void rt_eprintf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vdprintf(2, fmt, ap);
    va_end(ap);
}

static _Noreturn void panic_finish(void) {
    rt_eprintf("\n");
    exit(TRUK_PANIC_STATUS); /* runs the exit hook */
}

/* A panic raised while already panicking (e.g. from an exit hook) must not
 * recurse into exit() again. */
static void panic_begin(void) {
    if (rt_panicking) {
        rt_eprintf("panic: panicked while panicking\n");
        _exit(TRUK_PANIC_STATUS);
    }
    rt_panicking = true;
    fflush(NULL); /* keep program output ahead of the panic line */
    rt_eprintf("panic: ");
}

_Noreturn void __truk_panic(const uint8_t *msg, uint64_t len) {
    panic_begin();
    /* Every byte, NULs too (where %.*s would stop), in pieces %.*s can take. */
    const char *p = (const char *)msg, *end = msg ? p + len : p;
    while (p < end) {
        const char *q = p;
        while (q < end && *q && q - p < INT_MAX)
            q++;
        rt_eprintf("%.*s", (int)(q - p), p);
        if (q < end && !*q) {
            rt_eprintf("%c", 0);
            q++;
        }
        p = q;
    }
    panic_finish();
}

_Noreturn void __truk_panic_cstr(const char *msg) {
    panic_begin();
    rt_eprintf("%s", msg ? msg : "(null)");
    panic_finish();
}

char *__truk_site(char *buf, uint64_t size, const char *file, uint64_t at) {
    if (!size)
        return buf;
    buf[0] = 0;
    if (file && *file)
        snprintf(buf, size, "%s:%" PRIu32 ":%" PRIu32, file, (uint32_t)(at >> 32), (uint32_t)at);
    return buf;
}

/* " (at FILE:LINE:COL)" after a failure's message, when the site is known. */
static void eprint_site(const char *file, uint64_t at) {
    if (file && *file)
        rt_eprintf(" (at %s:%" PRIu32 ":%" PRIu32 ")", file, (uint32_t)(at >> 32), (uint32_t)at);
}

_Noreturn void __truk_bounds_fail(uint64_t index, uint64_t len, const char *file, uint64_t at) {
    panic_begin();
    rt_eprintf("index out of bounds: the index is %" PRIu64 " but the length is %" PRIu64, index, len);
    eprint_site(file, at);
    panic_finish();
}

_Noreturn void __truk_nil_fail(const char *file, uint64_t at) {
    panic_begin();
    rt_eprintf("nil dereference");
    eprint_site(file, at);
    panic_finish();
}

_Noreturn void __truk_div_fail(const char *file, uint64_t at) {
    panic_begin();
    rt_eprintf("integer division by zero");
    eprint_site(file, at);
    panic_finish();
}

_Noreturn void __truk_div_overflow(int32_t bits, int32_t op, const char *file, uint64_t at) {
    panic_begin();
    /* The minimum of a bits-wide signed integer, -2^(bits-1), in decimal (bits <= 64). */
    uint64_t mag = bits >= 64 ? (uint64_t)1 << 63 : (uint64_t)1 << (bits - 1);
    rt_eprintf("integer overflow: -%" PRIu64 " %c -1: the quotient does not fit in i%d", mag, (char)op, (int)bits);
    eprint_site(file, at);
    panic_finish();
}

/* ---- memory ---- */

/* Inlined into both callers, so that a program calling one links one symbol. */
static inline __attribute__((always_inline)) void *alloc_zeroed(uint64_t size) {
#if UINT64_MAX > SIZE_MAX
    if (size > SIZE_MAX)
        __truk_panic_cstr("out of memory");
#endif
    void *p = calloc(1, size ? (size_t)size : 1);
    if (!p)
        __truk_panic_cstr("out of memory");
    return p;
}

void *__truk_alloc(uint64_t size) { return alloc_zeroed(size); }

void __truk_out_of_memory(void) { __truk_panic_cstr("out of memory"); }

/* `make(@T)` where the program has a malloc of its own (else codegen calls malloc): not zeroed (the caller zeroes the few bytes inline, which the optimizer drops
 * where the fields are stored next), as glibc's calloc skips the thread cache that malloc
 * takes: an allocation-heavy program ran about 30% more instructions on calloc. */
void *__truk_new(uint64_t size) {
#if UINT64_MAX > SIZE_MAX
    if (size > SIZE_MAX)
        __truk_panic_cstr("out of memory");
#endif
    void *p = malloc(size ? (size_t)size : 1);
    if (!p)
        __truk_panic_cstr("out of memory");
    return p;
}

void *__truk_alloc_array(uint64_t elem_size, uint64_t count) {
    uint64_t total;
    if (__builtin_mul_overflow(elem_size, count, &total))
        __truk_panic_cstr("allocation size overflow");
    return alloc_zeroed(total);
}

void __truk_free(void *p) { free(p); }
