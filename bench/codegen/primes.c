/* The C twin of primes.truk. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>

static uint64_t count_primes(uint64_t limit) {
    bool *composite = malloc(limit + 1);
    for (uint64_t i = 0; i <= limit; i++) composite[i] = false;
    uint64_t count = 0;
    for (uint64_t n = 2; n <= limit; n++) {
        if (!composite[n]) {
            count++;
            for (uint64_t m = n * n; m <= limit; m += n) composite[m] = true;
        }
    }
    free(composite);
    return count;
}

int main(int argc, char **argv) {
    uint64_t limit = 50000000;
    if (argc > 1) limit = (uint64_t)atoll(argv[1]);
    printf("%llu\n", (unsigned long long)count_primes(limit));
    return 0;
}
