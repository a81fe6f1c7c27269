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
 * Entry: [u64 hash][u64 live][key: 8 bytes][pad][value]
 * Every key is stored as 8 bytes: an integer zero-extended, a float's canonical bits
 * (zero-extended), a string's private copy (char *). Each key kind has its own entry
 * points (get, upsert, remove: _int, _str, _float), the key by value, so that with
 * -ffunction-sections a program links only the kinds it uses (a program with integer keys
 * carries no string hashing). An index lookup starts at the top bits of the hash
 * (multiply-shift), so integer keys need only a multiply.
 */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include "truk_rt.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define SLOT_EMPTY 0u
#define SLOT_TOMB UINT64_MAX /* otherwise: low 32 bits of the hash << 32 | entry number + 1 */
#define MAX_ENTRIES (1ull << 31) /* entry number + 1 fits the low half of a slot */
#define MIN_ENTRIES 8u
#define ENTRY_HDR 16u

/* Code that runs once per map or per doubling, built as small as the compiler can (clang's
 * -Oz for one function; gcc has no such attribute): the rest of the file is -Os, as its
 * lookups and inserts are hot (-Oz everywhere ran 3% more instructions in
 * bench/codegen/maps). */
#if defined(__clang__)
#define SMALL __attribute__((minsize))
#else
#define SMALL
#endif

typedef struct {
    uint32_t key_kind;
    uint64_t key_size;   /* the key's own size (a float's: 4 or 8); 8 bytes are stored */
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

/* Optimized builds look integer keys up inline (compiler/src/codegen/map.rs, as find_u64
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

/* Fibonacci hashing: the top bits of the product are well mixed. */
static uint64_t int_hash(uint64_t k) { return k * 0x9e3779b97f4a7c15ULL; }

/* FNV-1a over the bytes, its halves folded and multiplied like an integer key: a byte's
 * change reaches the top bits (where an index lookup starts) and the low ones (the tag).
 * A nil string hashes as the empty one. */
__attribute__((noinline)) static uint64_t str_hash(const char *s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; s && *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return int_hash(h ^ h >> 32);
}

static uint64_t load64(const void *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static unsigned char *entry_at(const truk_map *m, uint64_t i) {
    return m->entries + i * m->entry_size;
}
static bool entry_live(const unsigned char *e) { return load64(e + 8) != 0; }

static void release_key(truk_map *m, unsigned char *e) {
    if (m->key_kind == TRUK_KEY_STRING)
        free((char *)(uintptr_t)load64(e + ENTRY_HDR));
}

SMALL void *__truk_map_new(uint32_t key_kind, uint64_t key_size, uint64_t val_size) {
    if (key_kind > TRUK_KEY_STRING || key_size > 8)
        __truk_panic_cstr("map: unsupported key"); /* a float key of other than 4 bytes is 8 */
    truk_map *m = __truk_alloc(sizeof *m);
    m->key_kind = key_kind;
    m->key_size = key_kind == TRUK_KEY_STRING ? sizeof(char *) : key_size;
    m->val_size = val_size;
    m->val_off = align16(ENTRY_HDR + 8);
    m->entry_size = align16(m->val_off + val_size);
    return m;
}

/* The tag lets a probe skip a slot whose hash differs without loading its entry. */
static uint64_t make_slot(uint64_t h, uint64_t entry_no) { return h << 32 | (entry_no + 1); }
static bool slot_matches(uint64_t s, uint64_t h) { return s != SLOT_TOMB && s >> 32 == (h & 0xffffffffu); }
static uint64_t slot_entry(uint64_t s) { return (s & 0xffffffffu) - 1; }

/* The index slot holding key (stored as 8 bytes) with hash h, or NULL. Strings compare by
 * content (after the whole hash), anything else by its 8 stored bytes. Inlined into one
 * copy per kind: find_u64 and find_str. */
static inline __attribute__((always_inline)) uint64_t *probe(const truk_map *m, uint64_t key, uint64_t h, bool str) {
    if (!m->index)
        return NULL;
    uint64_t mask = 2 * m->cap - 1;
    for (uint64_t i = h >> m->shift;; i = (i + 1) & mask) {
        uint64_t s = m->index[i];
        if (s == SLOT_EMPTY)
            return NULL;
        if (!slot_matches(s, h))
            continue;
        const unsigned char *e = entry_at(m, slot_entry(s));
        uint64_t k = load64(e + ENTRY_HDR);
        if (!str ? k == key
                 : load64(e) == h && (k && key ? strcmp((const char *)(uintptr_t)k, (const char *)(uintptr_t)key) == 0 : k == key))
            return &m->index[i];
    }
}

/* Integer and float keys: one u64 compare per probe. One copy for their entry points
 * (lookups of integer keys are inline in optimized code; these run on inserts, removes,
 * float keys and unoptimized builds). */
__attribute__((noinline)) static uint64_t *find_u64(const truk_map *m, uint64_t key, uint64_t h) {
    return probe(m, key, h, false);
}

__attribute__((noinline)) static uint64_t *find_str(const truk_map *m, const char *key, uint64_t h) {
    return probe(m, (uint64_t)(uintptr_t)key, h, true);
}

static void *value_at(const truk_map *m, const uint64_t *slot) {
    return slot ? entry_at(m, slot_entry(*slot)) + m->val_off : NULL;
}

static inline __attribute__((always_inline)) void index_put(truk_map *m, uint64_t h, uint64_t entry_no) {
    uint64_t mask = 2 * m->cap - 1;
    uint64_t i = h >> m->shift;
    while (m->index[i] != SLOT_EMPTY && m->index[i] != SLOT_TOMB)
        i = (i + 1) & mask;
    m->index[i] = make_slot(h, entry_no);
}

/* Called when the entry array is full: drop dead entries, size the array to
 * twice the live count (so at least half of it is free), rebuild the index.
 * Cold (once per doubling): kept out of insert's callers, built for size (SMALL). */
SMALL __attribute__((noinline, cold)) static void rebuild(truk_map *m) {
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
        index_put(m, load64(entry_at(m, i)), i);
}

/* A new live entry for key (its 8 stored bytes) with hash h, indexed, its value
 * zero-filled: the value's address. One copy for every kind. */
__attribute__((noinline)) static void *insert(truk_map *m, uint64_t key, uint64_t h) {
    if (m->n_entries == m->cap)
        rebuild(m);
    uint64_t n = m->n_entries++;
    unsigned char *e = entry_at(m, n);
    uint64_t head[3] = {h, 1, key};
    memcpy(e, head, sizeof head);
    memset(e + sizeof head, 0, (size_t)(m->entry_size - sizeof head));
    index_put(m, h, n);
    m->len++;
    return e + m->val_off;
}

static truk_map *assignable(void *mp) {
    if (!mp)
        __truk_panic_cstr("assignment to a nil map");
    return mp;
}

static void remove_slot(truk_map *m, uint64_t *slot) {
    if (!slot)
        return;
    unsigned char *e = entry_at(m, slot_entry(*slot));
    release_key(m, e);
    memset(e + 8, 0, 8); /* not live */
    *slot = SLOT_TOMB;
    m->len--;
}

/* Integer, bool and enum keys, zero-extended to u64. */
void *__truk_map_get_int(void *mp, uint64_t key) {
    truk_map *m = mp;
    return m ? value_at(m, find_u64(m, key, int_hash(key))) : NULL;
}

void *__truk_map_upsert_int(void *mp, uint64_t key) {
    truk_map *m = assignable(mp);
    uint64_t h = int_hash(key), *slot = find_u64(m, key, h);
    return slot ? value_at(m, slot) : insert(m, key, h);
}

void __truk_map_remove_int(void *mp, uint64_t key) {
    truk_map *m = mp;
    if (m)
        remove_slot(m, find_u64(m, key, int_hash(key)));
}

/* String keys: the map stores (and frees) a private copy of each. */
void *__truk_map_get_str(void *mp, const char *key) {
    truk_map *m = mp;
    return m ? value_at(m, find_str(m, key, str_hash(key))) : NULL;
}

void *__truk_map_upsert_str(void *mp, const char *key) {
    truk_map *m = assignable(mp);
    uint64_t h = str_hash(key), *slot = find_str(m, key, h);
    if (slot)
        return value_at(m, slot);
    char *copy = key ? strdup(key) : NULL;
    if (key && !copy)
        __truk_panic_cstr("out of memory");
    return insert(m, (uint64_t)(uintptr_t)copy, h);
}

void __truk_map_remove_str(void *mp, const char *key) {
    truk_map *m = mp;
    if (m)
        remove_slot(m, find_str(m, key, str_hash(key)));
}

/* Float keys (an f32 widened, exactly): stored as their bits, -0.0 as 0.0, so that equal
 * keys are equal bits; a NaN equals nothing, so it is never found and each insert of one
 * adds an entry. */
static uint64_t float_bits(const truk_map *m, double d) {
    uint64_t v = 0;
    if (d == 0.0)
        d = 0.0;
    if (m->key_size == 4) {
        float f = (float)d;
        memcpy(&v, &f, 4); /* little-endian targets: the float is the low bytes */
    } else {
        memcpy(&v, &d, 8);
    }
    return v;
}

void *__truk_map_get_float(void *mp, double key) {
    truk_map *m = mp;
    if (!m || key != key)
        return NULL;
    uint64_t k = float_bits(m, key);
    return value_at(m, find_u64(m, k, mix64(k)));
}

void *__truk_map_upsert_float(void *mp, double key) {
    truk_map *m = assignable(mp);
    uint64_t k = float_bits(m, key), h = mix64(k);
    uint64_t *slot = key == key ? find_u64(m, k, h) : NULL;
    return slot ? value_at(m, slot) : insert(m, k, h);
}

void __truk_map_remove_float(void *mp, double key) {
    truk_map *m = mp;
    if (m && key == key) {
        uint64_t k = float_bits(m, key);
        remove_slot(m, find_u64(m, k, mix64(k)));
    }
}

SMALL void __truk_map_free(void *mp) {
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
