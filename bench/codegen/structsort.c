/* The C twin of structsort.truk. */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <stdbool.h>

typedef struct {
    uint32_t key, id;
    double weight;
} Rec;

static bool less(Rec a, Rec b) {
    if (a.key != b.key) return a.key < b.key;
    return a.id < b.id;
}

static void insertion(Rec *a, uint64_t lo, uint64_t hi) {
    for (uint64_t i = lo + 1; i < hi; i++) {
        Rec v = a[i];
        uint64_t j = i;
        while (j > lo && less(v, a[j - 1])) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = v;
    }
}

static void quick(Rec *a, uint64_t lo, uint64_t hi) {
    while (hi - lo > 16) {
        Rec p = a[lo + (hi - lo) / 2];
        uint64_t i = lo, j = hi - 1;
        for (;;) {
            while (less(a[i], p)) i++;
            while (less(p, a[j])) j--;
            if (i >= j) break;
            Rec t = a[i];
            a[i] = a[j];
            a[j] = t;
            i++;
            j--;
        }
        quick(a, lo, j + 1);
        lo = j + 1;
    }
    insertion(a, lo, hi);
}

int main(int argc, char **argv) {
    uint64_t n = 2000000;
    if (argc > 1) n = (uint64_t)atoll(argv[1]);
    Rec *a = malloc(n * sizeof *a);
    uint64_t x = 88172645463325252ull;
    for (uint64_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        a[i] = (Rec){(uint32_t)(x % 100000), (uint32_t)i, (double)(x % 1000) / 8.0};
    }
    quick(a, 0, n);
    uint64_t sum = 0;
    double w = 0.0;
    for (uint64_t i = 1; i < n; i++) {
        if (less(a[i], a[i - 1])) {
            printf("not sorted\n");
            return 1;
        }
        sum = sum * 31 + a[i].id;
        w += a[i].weight * (double)(i % 7);
    }
    printf("%llu %.3f\n", (unsigned long long)sum, w);
    free(a);
    return 0;
}
