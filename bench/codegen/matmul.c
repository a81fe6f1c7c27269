/* The C twin of matmul.truk. */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>

static void matmul(const double *a, const double *b, double *c, uint64_t n) {
    for (uint64_t i = 0; i < n * n; i++) c[i] = 0.0;
    for (uint64_t i = 0; i < n; i++)
        for (uint64_t k = 0; k < n; k++) {
            double aik = a[i * n + k];
            for (uint64_t j = 0; j < n; j++) c[i * n + j] += aik * b[k * n + j];
        }
}

int main(int argc, char **argv) {
    uint64_t n = 900;
    if (argc > 1) n = (uint64_t)atoll(argv[1]);
    double *a = malloc(n * n * sizeof *a), *b = malloc(n * n * sizeof *b), *c = malloc(n * n * sizeof *c);
    for (uint64_t i = 0; i < n * n; i++) {
        a[i] = (double)((i * 7) % 13) * 0.5;
        b[i] = (double)((i * 11) % 17) * 0.25;
    }
    for (int r = 0; r < 3; r++) matmul(a, b, c, n);
    double trace = 0.0;
    for (uint64_t i = 0; i < n; i++) trace += c[i * n + i];
    printf("%.1f\n", trace);
    free(a); free(b); free(c);
    return 0;
}
