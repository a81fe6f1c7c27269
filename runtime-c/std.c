/* std.c: what the standard library's modules (std/io.truk, str.truk, os.truk,
 * mem.truk) need from libc, under __truk_ names so that a program may declare
 * printf, memcpy, getenv, ... itself beside `import "io"`. Each function is in
 * its own section: a program links only those it calls. */
#define _GNU_SOURCE
#include "truk_rt.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A Truk []u8, passed by value. */
struct truk_bytes {
    const char *p;
    uint64_t n;
};

/* ---- io: the print builtins (stream 1 is stdout, 2 stderr) --------------- */

static FILE *stream(int32_t s) { return s == 2 ? stderr : stdout; }

int32_t __truk_io_put_i64(int32_t s, int64_t v) {
    fprintf(stream(s), "%lld", (long long)v);
    return s;
}

int32_t __truk_io_put_u64(int32_t s, uint64_t v) {
    fprintf(stream(s), "%llu", (unsigned long long)v);
    return s;
}

/* The shortest text that reads back as the same double: 15 digits always
 * do for a number that has a shorter form (DBL_DIG), else 16 or 17. */
uint64_t __truk_str_format_f64(char *buf, double v) {
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, 32, "%.*g", prec, v);
        if (isnan(v) || strtod(buf, NULL) == v)
            break;
    }
    return (uint64_t)n;
}

static uint64_t format_f32(char *buf, float v) {
    int n = 0;
    for (int prec = 6; prec <= 9; prec++) {
        n = snprintf(buf, 32, "%.*g", prec, (double)v);
        if (isnan(v) || strtof(buf, NULL) == v)
            break;
    }
    return (uint64_t)n;
}

int32_t __truk_io_put_f64(int32_t s, double v) {
    char buf[32];
    fwrite(buf, 1, __truk_str_format_f64(buf, v), stream(s));
    return s;
}

int32_t __truk_io_put_f32(int32_t s, float v) {
    char buf[32];
    fwrite(buf, 1, format_f32(buf, v), stream(s));
    return s;
}

int32_t __truk_io_put_bool(int32_t s, int32_t v) {
    fputs(v ? "true" : "false", stream(s));
    return s;
}

int32_t __truk_io_put_char(int32_t s, uint8_t c) {
    fputc(c, stream(s));
    return s;
}

int32_t __truk_io_put_str(int32_t s, const char *p) {
    fputs(p ? p : "nil", stream(s));
    return s;
}

int32_t __truk_io_put_bytes(int32_t s, struct truk_bytes b) {
    fwrite(b.p, 1, b.n, stream(s));
    return s;
}

int32_t __truk_io_put_ptr(int32_t s, const void *p) {
    if (p)
        fprintf(stream(s), "%p", p);
    else
        fputs("nil", stream(s));
    return s;
}

void __truk_io_put_end(int32_t s, int32_t newline) {
    if (newline)
        fputc('\n', stream(s));
}

int32_t __truk_io_printf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vprintf(fmt, ap);
    va_end(ap);
    return n;
}

int32_t __truk_io_eprintf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vfprintf(stderr, fmt, ap);
    va_end(ap);
    return n;
}

void __truk_io_flush(void) {
    fflush(stdout);
    fflush(stderr);
}

/* ---- io: files ------------------------------------------------------------ */

/* The whole of f in a malloc'd block with a zero after it (so that it is also a
 * C string); NULL with *err set on failure. */
static char *read_all(FILE *f, uint64_t *len, const char **err) {
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        cap *= 2;
        char *more = realloc(buf, cap + 1);
        if (!more)
            free(buf);
        buf = more;
    }
    if (!buf) {
        *err = "out of memory";
        return NULL;
    }
    if (ferror(f)) {
        *err = strerror(errno);
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

char *__truk_io_read_file(const char *path, uint64_t *len, const char **err) {
    *len = 0;
    *err = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        *err = strerror(errno);
        return NULL;
    }
    char *buf = read_all(f, len, err);
    fclose(f);
    return buf;
}

char *__truk_io_read_stdin(uint64_t *len, const char **err) {
    *len = 0;
    *err = NULL;
    return read_all(stdin, len, err);
}

/* The next line of stdin without its line end, in a buffer reused by the next
 * call; NULL at the end of the input. */
char *__truk_io_read_line(uint64_t *len) {
    static char *buf;
    static size_t cap;
    ssize_t n = getline(&buf, &cap, stdin);
    if (n < 0) {
        *len = 0;
        return NULL;
    }
    if (n > 0 && buf[n - 1] == '\n')
        buf[--n] = 0;
    if (n > 0 && buf[n - 1] == '\r')
        buf[--n] = 0;
    *len = (uint64_t)n;
    return buf;
}

/* NULL when all n bytes were written, else why not. */
const char *__truk_io_write_file(const char *path, struct truk_bytes data, int32_t append) {
    FILE *f = fopen(path, append ? "ab" : "wb");
    if (!f)
        return strerror(errno);
    size_t w = fwrite(data.p, 1, data.n, f);
    int saved = errno;
    if (fclose(f) != 0 && w == data.n)
        return strerror(errno);
    return w == data.n ? NULL : strerror(saved);
}

const char *__truk_io_remove(const char *path) { return remove(path) == 0 ? NULL : strerror(errno); }

/* ---- str: numbers --------------------------------------------------------- */

/* The bytes as a C string in buf (size 64); false when they do not fit or are
 * empty or start with a blank (strtoll and strtod would skip it). */
static int as_cstr(struct truk_bytes b, char *buf) {
    if (b.n == 0 || b.n >= 64 || b.p[0] == ' ' || (b.p[0] >= '\t' && b.p[0] <= '\r'))
        return 0;
    memcpy(buf, b.p, b.n);
    buf[b.n] = 0;
    return 1;
}

int64_t __truk_str_parse_int(struct truk_bytes b, const char **err) {
    char buf[64], *end;
    *err = NULL;
    if (!as_cstr(b, buf)) {
        *err = "invalid number";
        return 0;
    }
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (*end != 0)
        *err = "invalid number";
    else if (errno == ERANGE)
        *err = "number out of range";
    return *err ? 0 : (int64_t)v;
}

double __truk_str_parse_float(struct truk_bytes b, const char **err) {
    char buf[64], *end;
    *err = NULL;
    if (!as_cstr(b, buf)) {
        *err = "invalid number";
        return 0;
    }
    errno = 0;
    double v = strtod(buf, &end);
    if (*end != 0)
        *err = "invalid number";
    else if (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL))
        *err = "number out of range";
    return *err ? 0 : v;
}

/* buf holds at least 24 bytes; returns the length written. */
uint64_t __truk_str_format_i64(char *buf, int64_t v) { return (uint64_t)snprintf(buf, 24, "%lld", (long long)v); }

/* ---- os ------------------------------------------------------------------- */

const char *__truk_os_getenv(const char *name) { return getenv(name); }

_Noreturn void __truk_os_exit(int32_t code) { exit(code); }

static int64_t clock_ns(clockid_t c) {
    struct timespec ts;
    clock_gettime(c, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t __truk_os_monotonic_ns(void) { return clock_ns(CLOCK_MONOTONIC); }

int64_t __truk_os_wall_ns(void) { return clock_ns(CLOCK_REALTIME); }

/* Sleeps the whole time, also when a signal interrupts it. */
void __truk_os_sleep_ms(int64_t ms) {
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- mem ------------------------------------------------------------------ */

/* The areas may overlap. */
void __truk_mem_copy(void *dst, const void *src, uint64_t n) {
    if (n)
        memmove(dst, src, n);
}

void __truk_mem_set(void *dst, uint8_t byte, uint64_t n) {
    if (n)
        memset(dst, byte, n);
}

/* -1, 0 or 1, as the first differing byte (unsigned) decides. */
int32_t __truk_mem_compare(const void *a, const void *b, uint64_t n) {
    int c = n ? memcmp(a, b, n) : 0;
    return (c > 0) - (c < 0);
}
