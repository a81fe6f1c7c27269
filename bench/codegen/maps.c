/* The C twin of maps.truk: hand-written open-addressing tables (linear probing,
 * tombstones, power-of-two size, load <= 1/2), one for u64 keys with a multiply-shift
 * hash and one for strings (FNV-1a) that owns a copy of each key, as Truk's map does. */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <stddef.h>

enum { EMPTY, FULL, TOMB };

typedef struct {
    uint64_t key, val;
    uint8_t state;
} IntSlot;

typedef struct {
    IntSlot *s;
    uint64_t cap, used; /* used: full + tombstones */
    int shift;
} IntMap;

static uint64_t int_hash(const IntMap *m, uint64_t k) {
    return (k * 0x9e3779b97f4a7c15ull) >> m->shift;
}

static void int_grow(IntMap *m);

static uint64_t *int_get(IntMap *m, uint64_t k) {
    if (!m->cap) return NULL;
    for (uint64_t i = int_hash(m, k);; i = (i + 1) & (m->cap - 1)) {
        IntSlot *s = &m->s[i];
        if (s->state == EMPTY) return NULL;
        if (s->state == FULL && s->key == k) return &s->val;
    }
}

static uint64_t *int_put(IntMap *m, uint64_t k) {
    uint64_t *v = int_get(m, k);
    if (v) return v;
    if (2 * (m->used + 1) > m->cap) int_grow(m);
    uint64_t i = int_hash(m, k);
    while (m->s[i].state == FULL) i = (i + 1) & (m->cap - 1);
    if (m->s[i].state == EMPTY) m->used++;
    m->s[i] = (IntSlot){k, 0, FULL};
    return &m->s[i].val;
}

static void int_grow(IntMap *m) {
    IntSlot *old = m->s;
    uint64_t old_cap = m->cap;
    m->cap = old_cap ? old_cap * 2 : 16;
    m->shift = 64 - __builtin_ctzll(m->cap);
    m->s = calloc(m->cap, sizeof *m->s);
    m->used = 0;
    for (uint64_t i = 0; i < old_cap; i++)
        if (old[i].state == FULL) *int_put(m, old[i].key) = old[i].val;
    free(old);
}

static void int_del(IntMap *m, uint64_t k) {
    uint64_t *v = int_get(m, k);
    if (v) ((IntSlot *)((char *)v - offsetof(IntSlot, val)))->state = TOMB;
}

typedef struct {
    char *key;
    uint64_t hash, val;
} StrSlot; /* key NULL: empty; key == TOMB_KEY: removed */

static char tomb_key[1];

typedef struct {
    StrSlot *s;
    uint64_t cap, used;
} StrMap;

static uint64_t str_hash(const char *p) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *p; p++) h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

static void str_grow(StrMap *m);

static StrSlot *str_find(StrMap *m, const char *k, uint64_t h) {
    if (!m->cap) return NULL;
    for (uint64_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        StrSlot *s = &m->s[i];
        if (!s->key) return NULL;
        if (s->key != tomb_key && s->hash == h && strcmp(s->key, k) == 0) return s;
    }
}

static void str_insert(StrMap *m, char *owned, uint64_t h, uint64_t val) {
    uint64_t i = h & (m->cap - 1);
    while (m->s[i].key && m->s[i].key != tomb_key) i = (i + 1) & (m->cap - 1);
    if (!m->s[i].key) m->used++;
    m->s[i] = (StrSlot){owned, h, val};
}

static uint64_t *str_get(StrMap *m, const char *k) {
    StrSlot *s = str_find(m, k, str_hash(k));
    return s ? &s->val : NULL;
}

static uint64_t *str_put(StrMap *m, const char *k) {
    uint64_t h = str_hash(k);
    StrSlot *s = str_find(m, k, h);
    if (s) return &s->val;
    if (2 * (m->used + 1) > m->cap) str_grow(m);
    str_insert(m, strdup(k), h, 0);
    return &str_find(m, k, h)->val;
}

static void str_grow(StrMap *m) {
    StrSlot *old = m->s;
    uint64_t old_cap = m->cap;
    m->cap = old_cap ? old_cap * 2 : 16;
    m->s = calloc(m->cap, sizeof *m->s);
    m->used = 0;
    for (uint64_t i = 0; i < old_cap; i++)
        if (old[i].key && old[i].key != tomb_key) str_insert(m, old[i].key, old[i].hash, old[i].val);
    free(old);
}

static void str_del(StrMap *m, const char *k) {
    StrSlot *s = str_find(m, k, str_hash(k));
    if (s) {
        free(s->key);
        s->key = tomb_key;
    }
}

static void int_keys(uint64_t n) {
    IntMap m = {0};
    uint64_t x = 88172645463325252ull;
    for (uint64_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint64_t k = x % (n * 2);
        uint64_t *p = int_get(&m, k);
        if (!p) *int_put(&m, k) = i;
        else *p += i;
    }
    for (uint64_t i = 0; i < n; i += 2) int_del(&m, i);
    uint64_t hits = 0, sum = 0;
    for (uint64_t r = 0; r < 4; r++)
        for (uint64_t i = 0; i < n * 2; i++) {
            uint64_t *p = int_get(&m, i);
            if (p) {
                hits++;
                sum += *p;
            }
        }
    printf("int: %llu hits, sum %llu\n", (unsigned long long)hits, (unsigned long long)sum);
    free(m.s);
}

static void string_keys(uint64_t n) {
    StrMap m = {0};
    char buf[32];
    uint64_t x = 2463534242ull;
    for (uint64_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        snprintf(buf, 32, "key%llu", (unsigned long long)(x % (n * 2)));
        uint64_t *p = str_get(&m, buf);
        if (!p) *str_put(&m, buf) = i;
        else *p += i;
    }
    for (uint64_t i = 0; i < n; i += 2) {
        snprintf(buf, 32, "key%llu", (unsigned long long)i);
        str_del(&m, buf);
    }
    uint64_t hits = 0, sum = 0;
    for (uint64_t i = 0; i < n * 2; i++) {
        snprintf(buf, 32, "key%llu", (unsigned long long)i);
        uint64_t *p = str_get(&m, buf);
        if (p) {
            hits++;
            sum += *p;
        }
    }
    printf("string: %llu hits, sum %llu\n", (unsigned long long)hits, (unsigned long long)sum);
    for (uint64_t i = 0; i < m.cap; i++)
        if (m.s[i].key && m.s[i].key != tomb_key) free(m.s[i].key);
    free(m.s);
}

int main(int argc, char **argv) {
    uint64_t n = 500000;
    if (argc > 1) n = (uint64_t)atoll(argv[1]);
    int_keys(n);
    string_keys(n / 4);
    return 0;
}
