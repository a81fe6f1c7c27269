/* testfw.c: the runtime half of `truk test`.
 *
 * The compiler generates a __truk_main that passes the file's test_* functions
 * to __truk_test_run. Each test runs in a child process of its own (fork), so
 * a test that panics or crashes (SIGSEGV, abort) is reported failed and the
 * others still run; setup, the test and teardown share one fresh context. A
 * failed assertion marks the test failed, names its FILE:LINE:COL (the call
 * site, which generated code passes to __truk_test_at before each call of the
 * framework) and both values, and the test goes on. Log and failure lines are
 * printed under the test's "[PASS] name" / "[FAIL] name" line; the summary
 * line "N passed, M failed" ends the run.
 *
 * Environment (set by `truk test`): TRUK_TEST_FILTER runs only the tests whose
 * name contains it; TRUK_TEST_LIST=1 prints the names instead of running;
 * TRUK_TEST_RESULTS=PATH writes "PASSED FAILED" there for a summary over files. */
#include "truk_rt.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

struct __truk_test_context_s {
    int32_t argc;
    char **argv;
    uint64_t assertions;
    uint64_t failures;
    char *out; /* collected "    LOG: ..." / "    FAIL: ..." lines */
    size_t out_len, out_cap;
};

static __truk_test_ctx *current;      /* the running test's context */
static const char *current_name;
static bool exit_hook_registered;
static bool in_child;                 /* this process runs one test for a parent */
static const char *current_at;        /* the file of the framework call running */
static uint64_t current_at_line_col;  /* its line << 32 | column */

void __truk_test_at(const char *file, uint64_t at) {
    current_at = file;
    current_at_line_col = at;
}

/* "FILE:LINE:COL: " of the failing call, when generated code gave it. */
static const char *at(void) {
    static char buf[1024];
    if (!current_at)
        return "";
    char site[sizeof buf - 2];
    snprintf(buf, sizeof buf, "%s: ", __truk_site(site, sizeof site, current_at, current_at_line_col));
    return buf;
}

static void add_line(__truk_test_ctx *t, const char *fmt, ...) {
    char stack[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(stack, sizeof stack, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    char *line = stack;
    if ((size_t)n >= sizeof stack) {
        line = __truk_alloc((uint64_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(line, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    size_t need = t->out_len + (size_t)n + 2;
    if (need > t->out_cap) {
        size_t cap = t->out_cap ? t->out_cap : 256;
        while (cap < need)
            cap *= 2;
        char *o = realloc(t->out, cap);
        if (!o)
            __truk_panic_cstr("out of memory");
        t->out = o;
        t->out_cap = cap;
    }
    memcpy(t->out + t->out_len, line, (size_t)n);
    t->out_len += (size_t)n;
    t->out[t->out_len++] = '\n';
    t->out[t->out_len] = '\0';
    if (line != stack)
        free(line);
}

/* Calls with a NULL context fall back to the running test's context. */
static __truk_test_ctx *ctx(__truk_test_ctx *t) {
    if (t)
        return t;
    if (current)
        return current;
    __truk_panic_cstr("test framework function called outside of a test");
}

static const char *sep(const char *msg) { return msg && *msg ? " - " : ""; }
static const char *text(const char *msg) { return msg ? msg : ""; }

/* Records one assertion; ok == false adds a FAIL line built from detail. */
#define CHECK(t, ok, msg, detail_fmt, ...)                                                \
    do {                                                                                  \
        __truk_test_ctx *c_ = ctx(t);                                                     \
        c_->assertions++;                                                                 \
        if (!(ok)) {                                                                      \
            c_->failures++;                                                               \
            add_line(c_, "    FAIL: %s" detail_fmt "%s%s", at(), __VA_ARGS__, sep(msg), text(msg)); \
        }                                                                                 \
    } while (0)

void __truk_test_fail(__truk_test_ctx *t, const char *msg) {
    t = ctx(t);
    t->failures++;
    add_line(t, "    FAIL: %s%s", at(), msg && *msg ? msg : "test failed");
}

void __truk_test_log(__truk_test_ctx *t, const char *msg) {
    add_line(ctx(t), "    LOG: %s", text(msg));
}

#define ASSERT_SIGNED(NAME, T)                                                             \
    void __truk_test_assert_##NAME(__truk_test_ctx *t, T expected, T actual, const char *msg) { \
        CHECK(t, expected == actual, msg, "Expected %" PRId64 ", got %" PRId64,          \
              (int64_t)expected, (int64_t)actual);                                         \
    }
#define ASSERT_UNSIGNED(NAME, T)                                                           \
    void __truk_test_assert_##NAME(__truk_test_ctx *t, T expected, T actual, const char *msg) { \
        CHECK(t, expected == actual, msg, "Expected %" PRIu64 ", got %" PRIu64,          \
              (uint64_t)expected, (uint64_t)actual);                                       \
    }
ASSERT_SIGNED(i8, int8_t)
ASSERT_SIGNED(i16, int16_t)
ASSERT_SIGNED(i32, int32_t)
ASSERT_SIGNED(i64, int64_t)
ASSERT_UNSIGNED(u8, uint8_t)
ASSERT_UNSIGNED(u16, uint16_t)
ASSERT_UNSIGNED(u32, uint32_t)
ASSERT_UNSIGNED(u64, uint64_t)

void __truk_test_assert_f32(__truk_test_ctx *t, float expected, float actual, const char *msg) {
    CHECK(t, expected == actual, msg, "Expected %.9g, got %.9g", (double)expected, (double)actual);
}

void __truk_test_assert_f64(__truk_test_ctx *t, double expected, double actual, const char *msg) {
    CHECK(t, expected == actual, msg, "Expected %.17g, got %.17g", expected, actual);
}

static const char *tf(bool b) { return b ? "true" : "false"; }

void __truk_test_assert_bool(__truk_test_ctx *t, bool expected, bool actual, const char *msg) {
    CHECK(t, expected == actual, msg, "Expected %s, got %s", tf(expected), tf(actual));
}

void __truk_test_assert_true(__truk_test_ctx *t, bool condition, const char *msg) {
    CHECK(t, condition, msg, "Expected %s, got %s", "true", "false");
}

void __truk_test_assert_false(__truk_test_ctx *t, bool condition, const char *msg) {
    CHECK(t, !condition, msg, "Expected %s, got %s", "false", "true");
}

void __truk_test_assert_ptr_ne_nil(__truk_test_ctx *t, const void *ptr, const char *msg) {
    CHECK(t, ptr != NULL, msg, "Expected %s, got %s", "non-nil pointer", "nil");
}

void __truk_test_assert_ptr_eq_nil(__truk_test_ctx *t, const void *ptr, const char *msg) {
    CHECK(t, ptr == NULL, msg, "Expected nil, got %p", ptr);
}

void __truk_test_assert_bytes_eq(__truk_test_ctx *t, const uint8_t *expected,
                                 const uint8_t *actual, uint64_t len, const char *msg) {
    if (len > 0 && (!expected || !actual)) {
        CHECK(t, false, msg, "Expected %s, got %s", expected ? "bytes" : "nil",
              actual ? "bytes" : "nil");
        return;
    }
    uint64_t i = 0;
    while (i < len && expected[i] == actual[i])
        i++;
    CHECK(t, i == len, msg, "Expected 0x%02x, got 0x%02x at byte %" PRIu64,
          i < len ? expected[i] : 0, i < len ? actual[i] : 0, i);
}

int32_t __truk_test_get_argc(__truk_test_ctx *t) { return ctx(t)->argc; }
char **__truk_test_get_argv(__truk_test_ctx *t) { return ctx(t)->argv; }

/* ---- runner ---- */

static void report(const char *name, __truk_test_ctx *t, const char *note) {
    printf("[%s] %s%s\n", t->failures ? "FAIL" : "PASS", name, note);
    if (t->out_len)
        fputs(t->out, stdout);
}

/* A test that panics (exit 101) or calls exit() still gets its "[FAIL]" line
 * and its log; in a child, the parent then sees a failure whatever the status. */
static void report_interrupted(void) {
    if (!current)
        return;
    __truk_test_ctx *t = current;
    current = NULL;
    t->failures++;
    report(current_name, t, __truk_rt_panicking() ? " (panicked)" : " (exited)");
    fflush(stdout);
    if (in_child) {
        __truk_rt_exit();
        _exit(1);
    }
}

static bool selected(const char *name) {
    const char *f = getenv("TRUK_TEST_FILTER");
    return !f || !*f || strstr(name, f);
}

/* Setup, the test and teardown in this process; true when no assertion failed. */
static bool run_here(int32_t argc, char **argv, const struct __truk_test_case *tc, const char *name,
                     void (*setup)(__truk_test_ctx *), void (*teardown)(__truk_test_ctx *)) {
    __truk_test_ctx t = {.argc = argc, .argv = argv};
    current = &t;
    current_name = name;
    if (setup)
        setup(&t);
    if (tc->fn)
        tc->fn(&t);
    if (teardown)
        teardown(&t);
    current = NULL;
    report(name, &t, "");
    free(t.out);
    return t.failures == 0;
}

static const char *signal_name(int sig) {
    static char buf[32];
    switch (sig) {
    case SIGSEGV: return "SIGSEGV, a bad memory access";
    case SIGBUS: return "SIGBUS, a bad memory access";
    case SIGABRT: return "SIGABRT, aborted";
    case SIGFPE: return "SIGFPE, an arithmetic fault";
    case SIGILL: return "SIGILL, an illegal instruction";
    case SIGKILL: return "SIGKILL, killed";
    default: snprintf(buf, sizeof buf, "signal %d", sig); return buf;
    }
}

/* One test in a child process: true when it passed. A child killed by a signal
 * printed nothing: its "[FAIL]" line says how it ended. */
static bool run_forked(int32_t argc, char **argv, const struct __truk_test_case *tc, const char *name,
                       void (*setup)(__truk_test_ctx *), void (*teardown)(__truk_test_ctx *)) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) /* no process to spare: run it here, as before */
        return run_here(argc, argv, tc, name, setup, teardown);
    if (pid == 0) {
        in_child = true;
        bool ok = run_here(argc, argv, tc, name, setup, teardown);
        fflush(stdout);
        exit(ok ? 0 : 1);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        ;
    if (WIFSIGNALED(st)) {
        printf("[FAIL] %s (crashed: %s)\n", name, signal_name(WTERMSIG(st)));
        return false;
    }
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int32_t __truk_test_run(int32_t argc, char **argv, const struct __truk_test_case *tests,
                        uint64_t count, void (*setup)(struct __truk_test_context_s *),
                        void (*teardown)(struct __truk_test_context_s *)) {
    bool list = getenv("TRUK_TEST_LIST") != NULL;
    if (!exit_hook_registered) {
        exit_hook_registered = true;
        atexit(report_interrupted);
    }
    uint64_t passed = 0, failed = 0, filtered = 0;
    for (uint64_t i = 0; i < count; i++) {
        const char *name = tests[i].name ? tests[i].name : "(unnamed)";
        if (!selected(name))
            filtered++;
        else if (list)
            printf("%s\n", name);
        else if (run_forked(argc, argv, &tests[i], name, setup, teardown))
            passed++;
        else
            failed++;
    }
    if (list) {
        fflush(stdout);
        return 0;
    }
    if (filtered)
        printf("%" PRIu64 " filtered out\n", filtered);
    printf("%" PRIu64 " passed, %" PRIu64 " failed\n", passed, failed);
    fflush(stdout);
    const char *results = getenv("TRUK_TEST_RESULTS");
    FILE *rf = results && *results ? fopen(results, "w") : NULL;
    if (rf) {
        fprintf(rf, "%" PRIu64 " %" PRIu64 "\n", passed, failed);
        fclose(rf);
    }
    return (int32_t)(failed > 255 ? 255 : failed);
}
