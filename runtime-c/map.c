/* map.c: the hash table behind Truk's map[K, V].
 *
 * Layout ("compact dict"): entries live in a dense array in insertion order;
 * an open-addressing index (linear probing, power-of-two size) maps a hash to
 * an entry number. Removing marks the entry dead and leaves a tombstone in the
 * index. When the entry array is full it is compacted (dead entries dropped)
 * and resized to twice the live count; the index is then rebuilt.
 * The index always has twice as many slots as the entry array, so its load
 * (live + tombstones) stays at or below 1/2.
 *
 * Entry: [u64 hash][u64 live][key (key_size, or char* for strings)][pad][value]
 * An index lookup starts at the top bits of the hash (multiply-shift), so integer keys
 * need only a multiply. Integer keys of up to 8 bytes are stored zero-extended to 8 bytes
 * (the key room is at least 16 bytes), so the *_int entry points compare one u64.
 */
#include "truk_rt.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define SLOT_EMPTY 0u
#define SLOT_TOMB UINT64_MAX /* otherwise: low 32 bits of the hash << 32 | entry number + 1 */
#define MAX_ENTRIES (1ull << 31) /* entry number + 1 fits the low half of a slot */
#define MIN_ENTRIES 8u
#define ENTRY_HDR 16u

typedef struct {
    uint32_t key_kind;
    uint64_t key_size;   /* bytes stored for the key */
    uint64_t val_size;
    uint64_t val_off;    /* offset of the value inside an entry */
    uint64_t entry_size; /* multiple of 16 */
    unsigned char *entries;
    uint64_t n_entries;  /* used entries, live or dead */
    uint64_t cap;        /* entry capacity (power of two, or 0) */
    uint64_t len;        /* live entries */
    uint64_t *index;     /* 2 * cap slots */
    uint32_t shift;      /* 64 - log2(2 * cap): the index slot of hash h is h >> shift */
} truk_map;

/* Optimized builds look integer keys up inline (compiler/src/codegen/map.rs, as find_int
 * does): the fields it reads stay where it expects them. */
_Static_assert(offsetof(truk_map, val_off) == 24 && offsetof(truk_map, entry_size) == 32 &&
                   offsetof(truk_map, entries) == 40 && offsetof(truk_map, cap) == 56 &&
                   offsetof(truk_map, index) == 72 && offsetof(truk_map, shift) == 80,
               "truk_map's fields as codegen/map.rs reads them");

static uint64_t align16(uint64_t n) { return (n + 15u) & ~(uint64_t)15u; }

static uint64_t mix64(uint64_t h) { /* murmur3 finalizer */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* One copy for every key kind that needs it (strings, floats, keys of more than 8 bytes). */
__attribute__((noinline)) static uint64_t hash_bytes(const unsigned char *p, uint64_t n) {
    if (n <= 8) {
        uint64_t v = 0;
        memcpy(&v, p, (size_t)n);
        return mix64(v ^ (n << 56));
    }
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
    for (uint64_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return mix64(h);
}

/* Fibonacci hashing: the top bits of the product are well mixed. */
static uint64_t int_hash(uint64_t k) { return k * 0x9e3779b97f4a7c15ULL; }

static uint64_t load64(const void *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* The bits a float key is stored and hashed as: -0.0 becomes 0.0, zero-extended. */
static uint64_t float_bits(const truk_map *m, const void *key) {
    uint64_t v = 0;
    if (m->key_size == 4) {
        float f;
        memcpy(&f, key, 4);
        if (f == 0.0f)
            f = 0.0f;
        memcpy(&v, &f, 4);
    } else {
        double d;
        memcpy(&d, key, 8);
        if (d == 0.0)
            d = 0.0;
        memcpy(&v, &d, 8);
    }
    return v;
}

static uint64_t key_hash(const truk_map *m, const void *key) {
    switch (m->key_kind) {
    case TRUK_KEY_FLOAT: {
        uint64_t v = float_bits(m, key); /* little-endian targets: a float is the low bytes */
        return hash_bytes((const unsigned char *)&v, m->key_size);
    }
    case TRUK_KEY_STRING: {
        const char *s;
        memcpy(&s, key, sizeof s);
        return s ? hash_bytes((const unsigned char *)s, strlen(s)) : 0x9e3779b97f4a7c15ULL;
    }
    default:
        if (m->key_size <= 8) {
            uint64_t v = 0;
            memcpy(&v, key, (size_t)m->key_size);
            return int_hash(v);
        }
        return hash_bytes(key, m->key_size);
    }
}

/* stored: the key inside an entry; key: the caller's key argument. */
static bool key_eq(const truk_map *m, const void *stored, const void *key) {
    switch (m->key_kind) {
    case TRUK_KEY_FLOAT:
        if (m->key_size == 4) {
            float a, b;
            memcpy(&a, stored, 4);
            memcpy(&b, key, 4);
            return a == b;
        } else {
            double a, b;
            memcpy(&a, stored, 8);
            memcpy(&b, key, 8);
            return a == b;
        }
    case TRUK_KEY_STRING: {
        const char *a, *b;
        memcpy(&a, stored, sizeof a);
        memcpy(&b, key, sizeof b);
        if (!a || !b)
            return a == b;
        return strcmp(a, b) == 0;
    }
    default:
        return memcmp(stored, key, (size_t)m->key_size) == 0;
    }
}

static unsigned char *entry_at(const truk_map *m, uint64_t i) {
    return m->entries + i * m->entry_size;
}
static uint64_t entry_hash(const unsigned char *e) {
    uint64_t h;
    memcpy(&h, e, 8);
    return h;
}
static bool entry_live(const unsigned char *e) {
    uint64_t l;
    memcpy(&l, e + 8, 8);
    return l != 0;
}
static void set_live(unsigned char *e, uint64_t live) { memcpy(e + 8, &live, 8); }

static void release_key(truk_map *m, unsigned char *e) {
    if (m->key_kind == TRUK_KEY_STRING) {
        char *s;
        memcpy(&s, e + ENTRY_HDR, sizeof s);
        free(s);
    }
}

void *__truk_map_new(uint32_t key_kind, uint64_t key_size, uint64_t val_size) {
    if (key_kind > TRUK_KEY_STRING)
        __truk_panic_cstr("map: unknown key kind");
    if (key_kind == TRUK_KEY_FLOAT && key_size != 4 && key_size != 8)
        __truk_panic_cstr("map: float keys must be 4 or 8 bytes");
    if (key_kind == TRUK_KEY_STRING)
        key_size = sizeof(char *);
    truk_map *m = __truk_alloc(sizeof *m);
    m->key_kind = key_kind;
    m->key_size = key_size;
    m->val_size = val_size;
    m->val_off = align16(ENTRY_HDR + key_size);
    m->entry_size = align16(m->val_off + val_size);
    return m;
}

/* The tag lets a probe skip a slot whose hash differs without loading its entry. */
static uint64_t make_slot(uint64_t h, uint64_t entry_no) { return h << 32 | (entry_no + 1); }
static bool slot_matches(uint64_t s, uint64_t h) { return s != SLOT_TOMB && s >> 32 == (h & 0xffffffffu); }
static uint64_t slot_entry(uint64_t s) { return (s & 0xffffffffu) - 1; }

/* Index slot holding key, or NULL. */
static uint64_t *find_slot(const truk_map *m, const void *key, uint64_t h) {
    if (!m->index)
        return NULL;
    uint64_t mask = 2 * m->cap - 1;
    for (uint64_t i = h >> m->shift;; i = (i + 1) & mask) {
        uint64_t s = m->index[i];
        if (s == SLOT_EMPTY)
            return NULL;
        if (slot_matches(s, h)) {
            unsigned char *e = entry_at(m, slot_entry(s));
            if (entry_hash(e) == h && key_eq(m, e + ENTRY_HDR, key))
                return &m->index[i];
        }
    }
}

/* find_slot for an integer key (kind BYTES, key_size <= 8): one u64 compare per probe.
 * One copy for the three *_int entry points (lookups of such keys are inline in optimized
 * code; these run on inserts, removes and unoptimized builds). */
__attribute__((noinline)) static uint64_t *find_int(const truk_map *m, uint64_t key) {
    if (!m->index)
        return NULL;
    uint64_t mask = 2 * m->cap - 1, h = int_hash(key);
    for (uint64_t i = h >> m->shift;; i = (i + 1) & mask) {
        uint64_t s = m->index[i];
        if (s == SLOT_EMPTY)
            return NULL;
        if (slot_matches(s, h) && load64(entry_at(m, slot_entry(s)) + ENTRY_HDR) == key)
            return &m->index[i];
    }
}

static void index_put(truk_map *m, uint64_t h, uint64_t entry_no) {
    uint64_t mask = 2 * m->cap - 1;
    uint64_t i = h >> m->shift;
    while (m->index[i] != SLOT_EMPTY && m->index[i] != SLOT_TOMB)
        i = (i + 1) & mask;
    m->index[i] = make_slot(h, entry_no);
}

/* Called when the entry array is full: drop dead entries, size the array to
 * twice the live count (so at least half of it is free), rebuild the index.
 * Cold (once per doubling): kept out of append's callers. */
__attribute__((noinline, cold)) static void rebuild(truk_map *m) {
    uint64_t w = 0;
    for (uint64_t r = 0; r < m->n_entries; r++) {
        unsigned char *e = entry_at(m, r);
        if (!entry_live(e))
            continue;
        if (w != r)
            memcpy(entry_at(m, w), e, (size_t)m->entry_size);
        w++;
    }
    m->n_entries = w;
    uint64_t cap = MIN_ENTRIES;
    while (cap < 2 * w) {
        if (cap >= MAX_ENTRIES)
            __truk_panic_cstr("out of memory");
        cap *= 2;
    }
    if (cap != m->cap) {
        unsigned char *ne = realloc(m->entries, (size_t)(cap * m->entry_size));
        if (!ne)
            __truk_panic_cstr("out of memory");
        m->entries = ne;
        m->cap = cap;
        m->shift = (uint32_t)__builtin_clzll(2 * cap) + 1;
    }
    free(m->index);
    m->index = __truk_alloc_array(sizeof(uint64_t), 2 * cap);
    for (uint64_t i = 0; i < w; i++)
        index_put(m, entry_hash(entry_at(m, i)), i);
}

void *__truk_map_get(void *mp, const void *key) {
    truk_map *m = mp;
    if (!m)
        return NULL;
    uint64_t *slot = find_slot(m, key, key_hash(m, key));
    return slot ? entry_at(m, slot_entry(*slot)) + m->val_off : NULL;
}

/* The bytes an entry stores for key: a private copy of a string, a float with
 * -0.0 turned into 0.0 (so iteration reports one canonical key), else the key. */
static void make_stored_key(const truk_map *m, const void *key, unsigned char *out) {
    if (m->key_kind == TRUK_KEY_STRING) {
        const char *s;
        memcpy(&s, key, sizeof s);
        char *copy = NULL;
        if (s) {
            size_t l = strlen(s) + 1;
            copy = __truk_alloc(l);
            memcpy(copy, s, l);
        }
        memcpy(out, &copy, sizeof copy);
    } else if (m->key_kind == TRUK_KEY_FLOAT) {
        uint64_t v = float_bits(m, key); /* little-endian targets: the float is the low bytes */
        memcpy(out, &v, (size_t)m->key_size);
    } else {
        memcpy(out, key, (size_t)m->key_size);
    }
}

/* A new zero-filled live entry with hash h, indexed; the caller stores the key. One copy
 * for both inserts. */
__attribute__((noinline)) static unsigned char *append(truk_map *m, uint64_t h) {
    if (m->n_entries == m->cap)
        rebuild(m);
    uint64_t n = m->n_entries++;
    unsigned char *e = entry_at(m, n);
    memset(e, 0, (size_t)m->entry_size);
    memcpy(e, &h, 8);
    set_live(e, 1);
    index_put(m, h, n);
    m->len++;
    return e;
}

void *__truk_map_upsert(void *mp, const void *key) {
    truk_map *m = mp;
    if (!m)
        __truk_panic_cstr("assignment to a nil map");
    uint64_t h = key_hash(m, key);
    uint64_t *slot = find_slot(m, key, h);
    if (slot)
        return entry_at(m, slot_entry(*slot)) + m->val_off;
    /* Take the key before rebuild() moves the entries: the caller's key may
     * point into this map (a key pointer from __truk_map_next). */
    unsigned char small[16];
    unsigned char *kb = m->key_size <= sizeof small ? small : __truk_alloc(m->key_size);
    make_stored_key(m, key, kb);
    unsigned char *e = append(m, h);
    memcpy(e + ENTRY_HDR, kb, (size_t)m->key_size);
    if (kb != small)
        free(kb);
    return e + m->val_off;
}

static void remove_slot(truk_map *m, uint64_t *slot) {
    unsigned char *e = entry_at(m, slot_entry(*slot));
    release_key(m, e);
    set_live(e, 0);
    *slot = SLOT_TOMB;
    m->len--;
}

void __truk_map_remove(void *mp, const void *key) {
    truk_map *m = mp;
    uint64_t *slot = m ? find_slot(m, key, key_hash(m, key)) : NULL;
    if (slot)
        remove_slot(m, slot);
}

/* The same operations for integer keys (kind BYTES, key_size <= 8), zero-extended to u64, by value. */
void *__truk_map_get_int(void *mp, uint64_t key) {
    truk_map *m = mp;
    uint64_t *slot = m ? find_int(m, key) : NULL;
    return slot ? entry_at(m, slot_entry(*slot)) + m->val_off : NULL;
}

void *__truk_map_upsert_int(void *mp, uint64_t key) {
    truk_map *m = mp;
    if (!m)
        __truk_panic_cstr("assignment to a nil map");
    uint64_t *slot = find_int(m, key);
    if (slot)
        return entry_at(m, slot_entry(*slot)) + m->val_off;
    unsigned char *e = append(m, int_hash(key));
    memcpy(e + ENTRY_HDR, &key, 8);
    return e + m->val_off;
}

void __truk_map_remove_int(void *mp, uint64_t key) {
    truk_map *m = mp;
    uint64_t *slot = m ? find_int(m, key) : NULL;
    if (slot)
        remove_slot(m, slot);
}

void __truk_map_free(void *mp) {
    truk_map *m = mp;
    if (!m)
        return;
    for (uint64_t i = 0; i < m->n_entries; i++) {
        unsigned char *e = entry_at(m, i);
        if (entry_live(e))
            release_key(m, e);
    }
    free(m->entries);
    free(m->index);
    free(m);
}

uint64_t __truk_map_len(void *mp) {
    truk_map *m = mp;
    return m ? m->len : 0;
}

uint64_t __truk_map_next(void *mp, uint64_t cursor, void **key_out, void **val_out) {
    truk_map *m = mp;
    if (!m)
        return 0;
    for (uint64_t i = cursor; i < m->n_entries; i++) {
        unsigned char *e = entry_at(m, i);
        if (!entry_live(e))
            continue;
        if (key_out)
            *key_out = e + ENTRY_HDR;
        if (val_out)
            *val_out = e + m->val_off;
        return i + 1;
    }
    return 0;
}
