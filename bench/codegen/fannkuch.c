/* The C twin of fannkuch.truk. */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>

int main(int argc, char **argv) {
    int64_t n = 10;
    if (argc > 1) n = atoll(argv[1]);
    int64_t *perm = malloc(n * sizeof *perm);
    int64_t *perm1 = malloc(n * sizeof *perm1);
    int64_t *count = malloc(n * sizeof *count);
    for (int64_t i = 0; i < n; i++) perm1[i] = i;
    int64_t max_flips = 0, checksum = 0, perm_count = 0, r = n;
    for (;;) {
        while (r != 1) {
            count[r - 1] = r;
            r--;
        }
        for (int64_t i = 0; i < n; i++) perm[i] = perm1[i];
        int64_t flips = 0;
        int64_t k = perm[0];
        while (k != 0) {
            int64_t lo = 0, hi = k;
            while (lo < hi) {
                int64_t t = perm[lo];
                perm[lo] = perm[hi];
                perm[hi] = t;
                lo++;
                hi--;
            }
            flips++;
            k = perm[0];
        }
        if (flips > max_flips) max_flips = flips;
        if (perm_count % 2 == 0) checksum += flips;
        else checksum -= flips;
        for (;;) {
            if (r == n) {
                printf("%lld\nPfannkuchen(%lld) = %lld\n", (long long)checksum, (long long)n, (long long)max_flips);
                free(perm); free(perm1); free(count);
                return 0;
            }
            int64_t p0 = perm1[0];
            for (int64_t i = 0; i < r; i++) perm1[i] = perm1[i + 1];
            perm1[r] = p0;
            count[r]--;
            if (count[r] > 0) break;
            r++;
        }
        perm_count++;
    }
}
