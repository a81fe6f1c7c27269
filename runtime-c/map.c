/* map.c: the hash table behind Truk's map[K, V].
 *
 * Layout: one open-addressing array of slots (linear probing, power-of-two size), each
 * slot [u64 ctrl][u64 key][value]: the key and value inline, so that a lookup touches one
 * slot (a separate index in front of an entry array cost a second dependent miss per
 * lookup: 1.23x the D1 misses of a C table in bench/codegen/maps).
 * ctrl: SLOT_EMPTY, SLOT_TOMB (removed), or the key's hash with bit 1 set (a live slot).
 * Every key is stored as 8 bytes: an integer zero-extended, a float's canonical bits
 * (zero-extended), a string's private copy (char *). Each key kind has its own entry
 * points (get, upsert, remove: _int, _str, _float), the key by value, so that with
 * -ffunction-sections a program links only the kinds it uses (a program with integer keys
 * carries no string hashing). A probe starts at the top bits of the hash (multiply-shift),
 * so integer keys need only a multiply.
 * Live slots plus tombstones stay at or below half the slots: `growth` counts the empty
 * slots an insert may still take; at 0 the table is rebuilt (tombstones dropped) with at
 * least four slots per live key. Iteration walks the slots in order; removing marks a
 * tombstone, so the entry being visited may be removed. A slot never becomes empty again
 * (a rebuild starts from a zeroed array), so an empty slot is all zeros: the inline insert
 * of codegen/map.rs writes only the ctrl word and the key.
 */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include "truk_rt.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define SLOT_EMPTY 0u
#define SLOT_TOMB 1u
#define SLOT_LIVE 2u /* set in a live slot's ctrl (its hash) */
#define MIN_SLOTS 16u
#define SLOT_KEY 8u
#define SLOT_VAL 16u

/* Code that runs once per map or per doubling, built as small as the compiler can (clang's
 * -Oz for one function; gcc has no such attribute): the rest of the file is -Os, as its
 * lookups and inserts are hot. */
#if defined(__clang__)
#define SMALL __attribute__((minsize))
#else
#define SMALL
#endif

typedef struct {
    uint32_t key_kind;
    uint32_t shift;      /* 64 - log2(cap): the home slot of hash h is h >> shift */
    uint64_t key_size;   /* the key's own size (a float's: 4 or 8); 8 bytes are stored */
    uint64_t slot_size;  /* 16 + the value's size rounded up to 8 */
    unsigned char *slots;
    uint64_t mask;       /* cap - 1 (cap: a power of two, or 0 with no slots) */
    uint64_t len;        /* live slots */
    uint64_t growth;     /* empty slots that inserts may still take before a rebuild */
} truk_map;

/* Optimized builds look integer keys up, insert and remove them inline
 * (compiler/src/codegen/map.rs): the fields they read stay where they expect them. */
_Static_assert(offsetof(truk_map, shift) == 4 && offsetof(truk_map, slots) == 24 &&
                   offsetof(truk_map, mask) == 32 && offsetof(truk_map, len) == 40 &&
                   offsetof(truk_map, growth) == 48,
               "truk_map's fields as codegen/map.rs reads them");

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
 * change reaches the top bits (where a probe starts) and the low ones (compared in ctrl).
 * A nil string hashes as the empty one. Not inlined: inline in the string entry points it
 * saved 5.3M of bench/codegen/maps' 628.5M instructions, but its 88 bytes took the binary
 * past a 4 KiB page (16,416 -> 20,512 bytes; C's twin: 16,352). */
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
static void store64(void *p, uint64_t v) { memcpy(p, &v, 8); }

static unsigned char *slot_at(const truk_map *m, uint64_t i) { return m->slots + i * m->slot_size; }
static bool slot_live(const unsigned char *s) { return load64(s) >= SLOT_LIVE; }

static void release_key(truk_map *m, unsigned char *s) {
    if (m->key_kind == TRUK_KEY_STRING)
        free((char *)(uintptr_t)load64(s + SLOT_KEY));
}

SMALL void *__truk_map_new(uint32_t key_kind, uint64_t key_size, uint64_t val_size) {
    if (key_kind > TRUK_KEY_STRING || key_size > 8)
        __truk_panic_cstr("map: unsupported key"); /* a float key of other than 4 bytes is 8 */
    truk_map *m = __truk_alloc(sizeof *m);
    m->key_kind = key_kind;
    m->key_size = key_kind == TRUK_KEY_STRING ? sizeof(char *) : key_size;
    /* A value whose size is a multiple of 16 may need 16-byte alignment: then so is the
     * slot's size (and malloc's blocks are 16-aligned). */
    m->slot_size = SLOT_VAL + ((val_size + 7u) & ~(uint64_t)7u);
    return m;
}

/* The live slot holding key (stored as 8 bytes) with hash h, or NULL. Strings compare by
 * content (after the whole hash), anything else by its 8 stored bytes. Inlined into one
 * copy per kind: find_u64 and find_str. */
static inline __attribute__((always_inline)) unsigned char *probe(const truk_map *m, uint64_t key, uint64_t h, bool str) {
    if (!m->slots)
        return NULL;
    uint64_t want = h | SLOT_LIVE;
    for (uint64_t i = h >> m->shift;; i = (i + 1) & m->mask) {
        unsigned char *s = slot_at(m, i);
        uint64_t c = load64(s);
        if (c == SLOT_EMPTY)
            return NULL;
        if (c != want)
            continue;
        uint64_t k = load64(s + SLOT_KEY);
        if (!str ? k == key : (k && key ? strcmp((const char *)(uintptr_t)k, (const char *)(uintptr_t)key) == 0 : k == key))
            return s;
    }
}

/* Integer and float keys: one u64 compare per probe. One copy for their entry points
 * (integer keys are inline in optimized code; these run on rebuilds, float keys and
 * unoptimized builds). */
__attribute__((noinline)) static unsigned char *find_u64(const truk_map *m, uint64_t key, uint64_t h) {
    return probe(m, key, h, false);
}

__attribute__((noinline)) static unsigned char *find_str(const truk_map *m, const char *key, uint64_t h) {
    return probe(m, (uint64_t)(uintptr_t)key, h, true);
}

static void *value_at(unsigned char *s) { return s ? s + SLOT_VAL : NULL; }

/* The first empty or removed slot on h's probe path. */
static unsigned char *free_slot(const truk_map *m, uint64_t h) {
    uint64_t i = h >> m->shift;
    while (slot_live(slot_at(m, i)))
        i = (i + 1) & m->mask;
    return slot_at(m, i);
}

/* Called when no empty slot may be taken: a table of at least MIN_SLOTS and four slots
 * per live key (so at least a quarter of it can fill before the next rebuild), the live
 * slots moved over, tombstones dropped. Cold (once per doubling): built for size. */
SMALL __attribute__((noinline, cold)) static void rebuild(truk_map *m) {
    uint64_t cap = MIN_SLOTS;
    while (cap < 4 * (m->len + 1)) {
        if (cap >= (1ull << 58) / m->slot_size)
            __truk_panic_cstr("out of memory");
        cap *= 2;
    }
    unsigned char *old = m->slots;
    uint64_t old_cap = old ? m->mask + 1 : 0;
    m->slots = __truk_alloc_array(m->slot_size, cap); /* zeroed: every slot empty */
    m->mask = cap - 1;
    m->shift = (uint32_t)__builtin_clzll(cap) + 1;
    m->growth = cap / 2 - m->len;
    for (uint64_t i = 0; i < old_cap; i++) {
        unsigned char *s = old + i * m->slot_size;
        if (slot_live(s))
            memcpy(free_slot(m, load64(s)), s, (size_t)m->slot_size);
    }
    free(old);
}

/* A new live slot for key (its 8 stored bytes) with hash h, which is not in the map, its
 * value zero-filled: the value's address. A removed slot on the probe path is taken
 * again; an empty one only while `growth` allows. One copy for every kind. */
__attribute__((noinline)) static void *insert(truk_map *m, uint64_t key, uint64_t h) {
    unsigned char *s = m->slots ? free_slot(m, h) : NULL;
    if (!s || load64(s) == SLOT_EMPTY) {
        if (m->growth == 0) {
            rebuild(m);
            s = free_slot(m, h);
        }
        m->growth--;
    }
    uint64_t head[2] = {h | SLOT_LIVE, key};
    memcpy(s, head, sizeof head);
    memset(s + SLOT_VAL, 0, (size_t)(m->slot_size - SLOT_VAL));
    m->len++;
    return s + SLOT_VAL;
}

static truk_map *assignable(void *mp) {
    if (!mp)
        __truk_panic_cstr("assignment to a nil map");
    return mp;
}

static void remove_slot(truk_map *m, unsigned char *s) {
    if (!s)
        return;
    release_key(m, s);
    store64(s, SLOT_TOMB);
    m->len--;
}

/* Integer, bool and enum keys, zero-extended to u64. */
void *__truk_map_get_int(void *mp, uint64_t key) {
    truk_map *m = mp;
    return m ? value_at(find_u64(m, key, int_hash(key))) : NULL;
}

void *__truk_map_upsert_int(void *mp, uint64_t key) {
    truk_map *m = assignable(mp);
    uint64_t h = int_hash(key);
    unsigned char *slot = find_u64(m, key, h);
    return slot ? value_at(slot) : insert(m, key, h);
}

void __truk_map_remove_int(void *mp, uint64_t key) {
    truk_map *m = mp;
    if (m)
        remove_slot(m, find_u64(m, key, int_hash(key)));
}

/* String keys: the map stores (and frees) a private copy of each. */
void *__truk_map_get_str(void *mp, const char *key) {
    truk_map *m = mp;
    return m ? value_at(find_str(m, key, str_hash(key))) : NULL;
}

void *__truk_map_upsert_str(void *mp, const char *key) {
    truk_map *m = assignable(mp);
    uint64_t h = str_hash(key);
    unsigned char *slot = find_str(m, key, h);
    if (slot)
        return value_at(slot);
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
    return value_at(find_u64(m, k, mix64(k)));
}

void *__truk_map_upsert_float(void *mp, double key) {
    truk_map *m = assignable(mp);
    uint64_t k = float_bits(m, key), h = mix64(k);
    unsigned char *slot = key == key ? find_u64(m, k, h) : NULL;
    return slot ? value_at(slot) : insert(m, k, h);
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
    /* Only string keys own memory: the other kinds skip a walk over every slot (11.7M
     * instructions and 0.39M D1 misses of bench/codegen/maps). */
    for (uint64_t i = 0; m->key_kind == TRUK_KEY_STRING && m->slots && i <= m->mask; i++) {
        unsigned char *s = slot_at(m, i);
        if (slot_live(s))
            release_key(m, s);
    }
    free(m->slots);
    free(m);
}

uint64_t __truk_map_len(void *mp) {
    truk_map *m = mp;
    return m ? m->len : 0;
}

uint64_t __truk_map_next(void *mp, uint64_t cursor, void **key_out, void **val_out) {
    truk_map *m = mp;
    if (!m || !m->slots)
        return 0;
    for (uint64_t i = cursor; i <= m->mask; i++) {
        unsigned char *s = slot_at(m, i);
        if (!slot_live(s))
            continue;
        if (key_out)
            *key_out = s + SLOT_KEY;
        if (val_out)
            *val_out = s + SLOT_VAL;
        return i + 1;
    }
    return 0;
}
