#ifndef TRUK_TESTS_FLAGS_H
#define TRUK_TESTS_FLAGS_H
#include <stdbool.h>

struct flags { bool a; bool b; long n; };

/* Adds the bytes: a bool stored as anything but 0 or 1 shows. */
static inline int flags_count(const bool *xs, long n) {
    int c = 0;
    for (long i = 0; i < n; i++) c += *(const unsigned char *)&xs[i];
    return c;
}
static inline int flags_sum(const struct flags *f) { return f->a + 2 * f->b + 4 * (int)f->n; }
static inline void flags_set(struct flags *f, bool a) { f->a = a; f->b = !a; }
static inline bool flags_only_b(struct flags f) { return f.b && !f.a; }

#endif
