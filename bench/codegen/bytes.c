/* The C twin of bytes.truk. */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <stdbool.h>

static uint64_t count_words(const uint8_t *s, uint64_t n) {
    uint64_t words = 0;
    bool in_word = false;
    for (uint64_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c == ' ' || c == '\n') in_word = false;
        else if (!in_word) {
            in_word = true;
            words++;
        }
    }
    return words;
}

static void flip_case(uint8_t *s, uint64_t n) {
    for (uint64_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c >= 'a' && c <= 'z') s[i] = c - 32;
        else if (c >= 'A' && c <= 'Z') s[i] = c + 32;
    }
}

static void reverse_words(uint8_t *s, uint64_t n) {
    uint64_t i = 0;
    while (i < n) {
        while (i < n && s[i] == ' ') i++;
        uint64_t j = i;
        while (j < n && s[j] != ' ') j++;
        if (j > i) {
            uint64_t lo = i, hi = j - 1;
            while (lo < hi) {
                uint8_t t = s[lo];
                s[lo] = s[hi];
                s[hi] = t;
                lo++;
                hi--;
            }
        }
        i = j;
    }
}

static uint64_t fnv(const uint8_t *s, uint64_t n) {
    uint64_t h = 14695981039346656037ull;
    for (uint64_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

int main(int argc, char **argv) {
    uint64_t n = 4000000;
    if (argc > 1) n = (uint64_t)atoll(argv[1]);
    uint8_t *s = malloc(n);
    uint64_t x = 2463534242ull;
    for (uint64_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint64_t r = x % 32;
        s[i] = r < 5 ? ' ' : (uint8_t)('a' + r - 5);
    }
    uint64_t words = 0, h = 0;
    for (int pass = 0; pass < 10; pass++) {
        words += count_words(s, n);
        flip_case(s, n);
        reverse_words(s, n);
        h ^= fnv(s, n);
    }
    printf("%llu words, hash %llu\n", (unsigned long long)words, (unsigned long long)h);
    free(s);
    return 0;
}
