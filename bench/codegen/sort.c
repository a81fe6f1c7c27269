/* The C twin of sort.truk. */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>

static void sift_down(uint64_t *a, uint64_t start, uint64_t end) {
    uint64_t root = start;
    while (root * 2 + 1 < end) {
        uint64_t child = root * 2 + 1;
        if (child + 1 < end && a[child] < a[child + 1]) child++;
        if (a[root] >= a[child]) return;
        uint64_t t = a[root];
        a[root] = a[child];
        a[child] = t;
        root = child;
    }
}

static void heap_sort(uint64_t *a, uint64_t n) {
    uint64_t start = n / 2;
    while (start > 0) {
        start--;
        sift_down(a, start, n);
    }
    uint64_t end = n;
    while (end > 1) {
        end--;
        uint64_t t = a[0];
        a[0] = a[end];
        a[end] = t;
        sift_down(a, 0, end);
    }
}

int main(int argc, char **argv) {
    uint64_t n = 4000000;
    if (argc > 1) n = (uint64_t)atoll(argv[1]);
    uint64_t *a = malloc(n * sizeof *a);
    uint64_t x = 88172645463325252ull;
    for (uint64_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        a[i] = x;
    }
    heap_sort(a, n);
    uint64_t sum = 0;
    for (uint64_t i = 1; i < n; i++) {
        if (a[i - 1] > a[i]) {
            printf("not sorted\n");
            return 1;
        }
        sum ^= a[i] * i;
    }
    printf("%llu\n", (unsigned long long)sum);
    free(a);
    return 0;
}
