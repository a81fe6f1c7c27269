/* The C twin of lambdas.truk. */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>

typedef struct {
    uint64_t (*run)(uint64_t, uint64_t);
} Op;

static uint64_t add(uint64_t a, uint64_t b) { return a + b; }
static uint64_t mix(uint64_t a, uint64_t b) { return (a ^ b) * 0x100000001b3ull; }
static uint64_t sub_shift(uint64_t a, uint64_t b) { return a - (b << 3); }
static uint64_t shift_or(uint64_t a, uint64_t b) { return (a >> 7) | (b * 13); }
static uint64_t poly(uint64_t acc, uint64_t i) { return acc * 31 + i; }

static uint64_t fold(uint64_t n, uint64_t seed, uint64_t (*step)(uint64_t, uint64_t)) {
    uint64_t acc = seed;
    for (uint64_t i = 0; i < n; i++) acc = step(acc, i);
    return acc;
}

int main(int argc, char **argv) {
    uint64_t n = 50000000;
    if (argc > 1) n = (uint64_t)atoll(argv[1]);
    Op *ops = malloc(4 * sizeof *ops);
    ops[0] = (Op){add};
    ops[1] = (Op){mix};
    ops[2] = (Op){sub_shift};
    ops[3] = (Op){shift_or};
    uint64_t acc = 1, x = 88172645463325252ull;
    for (uint64_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        acc = ops[x % 4].run(acc, x);
    }
    uint64_t a = fold(n, 7, poly);
    uint64_t b = fold(n, 9, mix);
    printf("%llu %llu %llu\n", (unsigned long long)acc, (unsigned long long)a, (unsigned long long)b);
    free(ops);
    return 0;
}
