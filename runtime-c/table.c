/* table.c: table[K, V, N], a fixed-capacity hash table that lives inline in
 * shared (or private) memory: lock-free readers, writers serialized per key
 * stripe, and members killed at any instruction repaired by the next writer.
 * Layout and protocol: truk_fleet.h, "Tables". Only programs that call a
 * table_* builtin link any of this (gc-sections). */
#define _GNU_SOURCE
#include "truk_fleet.h"
#include "truk_rt.h"

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* The operations are compiled twice: for 8-byte keys (hashed and compared
 * inline, no calls) and for any key size. */
#define SIZED __attribute__((always_inline)) static inline

typedef struct {
    struct truk_table_header *h;
    unsigned char *slots;
    uint64_t cap, stride, ks, vs, koff, voff, vstride;
} table_t;

SIZED table_t table_of(void *p, uint64_t cap, uint64_t ks, uint64_t vs) {
    uint64_t k8 = (ks + 7) & ~(uint64_t)7, v8 = (vs + 7) & ~(uint64_t)7;
    table_t t = {p, (unsigned char *)p + TRUK_TABLE_HEADER_SIZE, cap, truk_table_stride(ks, vs), ks, vs, 8, 8 + k8, v8};
    return t;
}

#define KIND(s) ((unsigned)((s)&3u))
#define CUR(s) ((unsigned)(((s) >> 2) & 1u))
#define WASFULL(s) ((unsigned)(((s) >> 3) & 1u))
#define MID(s) ((uint32_t)(((s) >> 4) & 0x3fffffffu)) /* writer (BUSY) or version */
#define EPOCH(s) ((uint32_t)((s) >> 34))

static uint64_t mk(unsigned kind, unsigned cur, unsigned wasfull, uint32_t mid, uint32_t epoch) {
    return (uint64_t)kind | (uint64_t)cur << 2 | (uint64_t)wasfull << 3 | (uint64_t)(mid & 0x3fffffffu) << 4 |
           (uint64_t)(epoch & TRUK_TABLE_EPOCH_MASK) << 34;
}

static uint64_t *state_at(const table_t *t, uint64_t i) { return (uint64_t *)(t->slots + i * t->stride); }
static unsigned char *key_at(const table_t *t, uint64_t i) { return t->slots + i * t->stride + t->koff; }
static unsigned char *val_at(const table_t *t, uint64_t i, unsigned copy) {
    return t->slots + i * t->stride + t->voff + copy * t->vstride;
}

/* memcpy of a size known only at run time, with the common sizes inlined. */
static inline void copy(void *d, const void *s, uint64_t n) {
    switch (n) {
    case 8: memcpy(d, s, 8); return;
    case 16: memcpy(d, s, 16); return;
    case 24: memcpy(d, s, 24); return;
    case 32: memcpy(d, s, 32); return;
    default: memcpy(d, s, n);
    }
}

static uint64_t ld_acq(uint64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static bool cas(uint64_t *p, uint64_t expected, uint64_t desired) {
    return __atomic_compare_exchange_n(p, &expected, desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}
static uint32_t epoch_of(const table_t *t) { return (uint32_t)(ld_acq(&t->h->epoch) & TRUK_TABLE_EPOCH_MASK); }

/* The kind a slot has in epoch e: any non-BUSY slot of another epoch is EMPTY. */
static unsigned kind_in(uint64_t s, uint32_t e) {
    unsigned k = KIND(s);
    if (k != TRUK_TABLE_BUSY && EPOCH(s) != e)
        return TRUK_TABLE_EMPTY;
    return k;
}

/* Holds a key in epoch e: FULL, or a replace in progress (which ends FULL,
 * committed or rolled back). */
static bool present(uint64_t s, uint32_t e) {
    return EPOCH(s) == e && (KIND(s) == TRUK_TABLE_FULL || (KIND(s) == TRUK_TABLE_BUSY && WASFULL(s)));
}

SIZED uint64_t hash_key(const table_t *t, const void *key) {
    uint64_t h;
    if (t->ks == 8) {
        memcpy(&h, key, 8);
    } else if (t->ks == 4) {
        uint32_t w;
        memcpy(&w, key, 4);
        h = w;
    } else {
        const unsigned char *b = key;
        h = t->ks;
        for (uint64_t i = 0; i < t->ks; i += 8) {
            uint64_t w = 0;
            memcpy(&w, b + i, t->ks - i < 8 ? t->ks - i : 8);
            h = (h ^ w) * 0x9E3779B97F4A7C15ull;
            h ^= h >> 29;
        }
    }
    /* splitmix64's finalizer: every key bit moves the high bits that pick
     * the home slot (multiples of a constant would cluster otherwise). */
    h ^= h >> 30;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 27;
    h *= 0x94D049BB133111EBull;
    return h ^ (h >> 31);
}

static uint64_t home(const table_t *t, uint64_t h) { return (uint64_t)(((unsigned __int128)h * t->cap) >> 64); }
static uint64_t *stripe(const table_t *t, uint64_t h) { return &t->h->locks[(h >> 11) % TRUK_TABLE_STRIPES]; }

/* A dead writer's slot goes back: a replace to FULL with the old copy (a new
 * version, so that no reader takes a copy from before as current), an insert
 * to TOMB (keys probed past it stay reachable). */
static void rollback(uint64_t *st, uint64_t s) {
    uint32_t who = MID(s);
    uint64_t back = WASFULL(s) ? mk(TRUK_TABLE_FULL, CUR(s), 0, who ^ 0x2aaaaaaau, EPOCH(s))
                               : mk(TRUK_TABLE_TOMB, 0, 0, who, EPOCH(s));
    cas(st, s, back);
}

static void repair(const table_t *t, uint64_t lock) {
    uint64_t slot = lock >> 32;
    if (slot == 0 || slot > t->cap)
        return;
    uint32_t who = (uint32_t)(lock >> 1) & 0x3fffffffu;
    uint64_t *st = state_at(t, slot - 1);
    uint64_t s = ld_acq(st);
    if (KIND(s) == TRUK_TABLE_BUSY && MID(s) == who)
        rollback(st, s);
}

/* A reader that meets a replace in progress waits for it (a copy of the
 * value): the writer's next replace would write the copy the reader reads
 * and could leave the same state word, so the reader could not tell. A
 * writer that takes long is judged, and rolled back when dead. Returns the
 * slot's new state. */
__attribute__((noinline, cold)) static uint64_t outwait(uint64_t *st, uint64_t s) {
    for (unsigned n = 1;; n++) {
        if (n % 1024 == 0 && __truk_fleet_mover_dead(MID(s)))
            rollback(st, s);
        if (n < 1024)
            truk_cpu_relax();
        else
            sched_yield();
        uint64_t now = ld_acq(st);
        if (now != s)
            return now;
    }
}

static uint64_t lock_word(uint32_t me, uint64_t slot_plus1) { return 1 | (uint64_t)me << 1 | slot_plus1 << 32; }

/* Not the table's address: it would escape, and the sized operations would
 * lose their constant key size. */
__attribute__((noinline)) static void lock_slow(struct truk_table_header *h, unsigned char *slots, uint64_t stride, uint64_t cap,
                                               uint64_t *l, uint64_t mine) {
    const table_t t0 = {.h = h, .slots = slots, .stride = stride, .cap = cap}, *t = &t0;
    for (unsigned n = 0;; n++) {
        uint64_t w = __atomic_load_n(l, __ATOMIC_RELAXED);
        if (w == 0) {
            if (cas(l, 0, mine))
                return;
            continue;
        }
        /* A holder is done within a few pauses unless it was preempted or
         * killed: judge it now and then (a liveness check costs microseconds). */
        if (n >= 64 && (n & 255) == 64) {
            uint32_t who = (uint32_t)(w >> 1) & 0x3fffffffu;
            if (__truk_fleet_mover_dead(who)) {
                /* It may have committed and not counted yet. */
                __atomic_store_n(&t->h->stale, 1, __ATOMIC_SEQ_CST);
                repair(t, w);
                if (cas(l, w, mine))
                    return;
                continue;
            }
        }
        if (n < 64)
            truk_cpu_relax();
        else
            sched_yield();
    }
}

/* Takes the stripe lock l, installing `mine` (lock_word). */
static inline void lock(const table_t *t, uint64_t *l, uint64_t mine) {
    if (!cas(l, 0, mine))
        lock_slow(t->h, t->slots, t->stride, t->cap, l, mine);
}

static void unlock(uint64_t *l) { __atomic_store_n(l, 0, __ATOMIC_RELEASE); }

/* A consistent copy of slot i (FULL, or BUSY replacing): key and current
 * value (val may be NULL). false: nothing there in epoch e. */
SIZED bool read_slot(const table_t *t, uint64_t i, uint32_t e, void *key, void *val, uint64_t *seen) {
    uint64_t *st = state_at(t, i);
    for (uint64_t s = ld_acq(st);; s = ld_acq(st)) {
        unsigned k = kind_in(s, e);
        if (k == TRUK_TABLE_BUSY && WASFULL(s)) {
            outwait(st, s);
            continue;
        }
        if (k != TRUK_TABLE_FULL)
            return false;
        memcpy(key, key_at(t, i), t->ks);
        if (val)
            copy(val, val_at(t, i, CUR(s)), t->vs);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(st, __ATOMIC_RELAXED) == s) {
            if (seen)
                *seen = s;
            return true;
        }
    }
}

static void lock_all(const table_t *t);
static void unlock_all(const table_t *t);

/* Tombstones on no key's probe path become EMPTY (truk_fleet.h, "Tables").
 * Going backwards twice around, `left` is how many slots from here back the
 * probe paths of the FULL slots passed so far still cover (a path runs from
 * the key's home to its slot); the second time round the counts are whole. */
__attribute__((noinline)) static void sweep(const table_t *t) {
    lock_all(t);
    uint32_t e = epoch_of(t);
    uint64_t left = 0, cap = t->cap;
    for (uint64_t k = 0, j = cap - 1; k < 2 * cap; k++, j = j == 0 ? cap - 1 : j - 1) {
        uint64_t *st = state_at(t, j), s = ld_acq(st);
        unsigned kind = kind_in(s, e);
        if (present(s, e)) { /* a replace does not change the key */
            uint64_t path = (j + cap - home(t, hash_key(t, key_at(t, j)))) % cap + 1;
            left = path > left ? path : left;
        } else if (kind == TRUK_TABLE_BUSY && !WASFULL(s)) {
            left = 2 * cap; /* an insert: not with every lock held; but never guess */
        } else if (kind == TRUK_TABLE_TOMB && left == 0 && k >= cap) {
            __atomic_store_n(st, mk(TRUK_TABLE_EMPTY, 0, 0, MID(s) + 1, e), __ATOMIC_RELEASE);
        }
        left = left ? left - 1 : 0;
    }
    unlock_all(t);
}

enum probe { FOUND, ABSENT };

/* Looks k up along its probe sequence: FOUND at *at (state *seen), or
 * ABSENT with *free the first slot a put may claim (cap if none). */
SIZED enum probe find(const table_t *t, uint64_t h, const void *k, uint32_t e, uint64_t *at, uint64_t *seen, uint64_t *free,
                       uint64_t *free_seen, void *scratch) {
    const uint64_t mask = ~(uint64_t)0 << 34 | 3u, full = (uint64_t)e << 34 | TRUK_TABLE_FULL;
    uint64_t i = home(t, h);
    *free = t->cap;
    for (uint64_t n = 0; n < t->cap; n++, i = i + 1 == t->cap ? 0 : i + 1) {
        uint64_t s = ld_acq(state_at(t, i));
        unsigned kind = (s & mask) == full ? TRUK_TABLE_FULL : kind_in(s, e);
        if (kind == TRUK_TABLE_EMPTY || kind == TRUK_TABLE_TOMB) {
            if (*free == t->cap) {
                *free = i;
                *free_seen = s;
            }
            if (kind == TRUK_TABLE_EMPTY)
                return ABSENT;
            continue;
        }
        /* Compare in place; copy (consistently) only a key that matches. */
        if (t->ks == 8 ? *(uint64_t *)key_at(t, i) != *(const uint64_t *)k : memcmp(key_at(t, i), k, t->ks) != 0)
            continue;
        if (read_slot(t, i, e, scratch, NULL, seen) && memcmp(scratch, k, t->ks) == 0) {
            *at = i;
            return FOUND;
        }
    }
    return ABSENT;
}

/* Walks k's probe sequence without a lock: true when slot *at holds k, FULL
 * in epoch e, its state *seen (k compared in place: a key never changes
 * while its slot holds it, so a compare torn by the slot's reuse is caught
 * by the caller's check of *seen). Waits out a replace in progress. */
SIZED bool probe(const table_t *t, uint64_t h, const void *k, uint32_t e, uint64_t *at, uint64_t *seen) {
    /* FULL in this epoch: kind and epoch bits at once (the common case first). */
    const uint64_t mask = ~(uint64_t)0 << 34 | 3u, full = (uint64_t)e << 34 | TRUK_TABLE_FULL;
    uint64_t i = home(t, h);
    for (uint64_t n = 0; n < t->cap;) {
        uint64_t *st = state_at(t, i);
        uint64_t s = ld_acq(st);
        if ((s & mask) == full) {
            if (t->ks == 8 ? *(uint64_t *)key_at(t, i) == *(const uint64_t *)k : memcmp(key_at(t, i), k, t->ks) == 0) {
                *at = i;
                *seen = s;
                return true;
            }
        } else if (KIND(s) == TRUK_TABLE_BUSY && WASFULL(s)) {
            outwait(st, s);
            continue; /* this slot again */
        } else if (kind_in(s, e) == TRUK_TABLE_EMPTY) {
            break;
        } /* else a tombstone, or an insert not done yet */
        n++;
        i = i + 1 == t->cap ? 0 : i + 1;
    }
    return false;
}

SIZED bool get(void *p, uint64_t cap, uint64_t ks, uint64_t vs, const void *key, void *out) {
    table_t t = table_of(p, cap, ks, vs);
    uint32_t e = epoch_of(&t);
    uint64_t h = hash_key(&t, key), i, s;
    while (probe(&t, h, key, e, &i, &s)) {
        uint64_t *st = state_at(&t, i);
        copy(out, val_at(&t, i, CUR(s)), vs);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(st, __ATOMIC_RELAXED) == s)
            return true;
        /* changed under us: look again */
    }
    memset(out, 0, vs);
    return false;
}

__attribute__((noinline)) static bool get_any(void *p, uint64_t cap, uint64_t ks, uint64_t vs, const void *key, void *out) {
    return ks == 8 ? get(p, cap, 8, vs, key, out) : get(p, cap, ks, vs, key, out);
}

/* Replaces the value of the slot at st (its copies at vals, vstride apart),
 * FULL as `s`, claiming the slot with one CAS (no stripe lock): false when
 * the slot changed since. */
SIZED bool replace_at(uint64_t *st, unsigned char *vals, uint64_t vstride, uint64_t s, uint32_t me, const void *val, uint64_t vs) {
    if (!cas(st, s, mk(TRUK_TABLE_BUSY, CUR(s), 1, me, EPOCH(s))))
        return false;
    __atomic_thread_fence(__ATOMIC_RELEASE); /* BUSY before the copy's bytes */
    copy(vals + !CUR(s) * vstride, val, vs);
    __atomic_store_n(st, mk(TRUK_TABLE_FULL, !CUR(s), 0, MID(s) + 1, EPOCH(s)), __ATOMIC_RELEASE);
    return true;
}

SIZED bool replace(const table_t *t, uint64_t i, uint64_t s, const void *val) {
    return replace_at(state_at(t, i), val_at(t, i, 0), t->vstride, s, __truk_fleet_mover(), val, t->vs);
}

SIZED bool put(void *p, uint64_t cap, uint64_t ks, uint64_t vs, const void *key, const void *val) {
    table_t t = table_of(p, cap, ks, vs);
    uint64_t h = hash_key(&t, key);
    uint32_t e = epoch_of(&t);
    /* A key already there is replaced without the stripe lock. */
    for (uint64_t at, s; probe(&t, h, key, e, &at, &s);)
        if (replace(&t, at, s, val))
            return true;
    uint64_t *l = stripe(&t, h);
    uint32_t me = __truk_fleet_mover();
    unsigned char scratch[ks ? ks : 1];
    lock(&t, l, lock_word(me, 0));
    e = epoch_of(&t);
    bool ok = false;
    for (;;) {
        uint64_t at, s = 0, free, fs = 0;
        if (find(&t, h, key, e, &at, &s, &free, &fs, scratch) == FOUND) {
            if (!replace(&t, at, s, val))
                continue; /* a replace or del of another writer came first */
            ok = true;
            break;
        }
        if (free == cap)
            break; /* full */
        __atomic_store_n(l, lock_word(me, free + 1), __ATOMIC_RELEASE);
        uint64_t busy = mk(TRUK_TABLE_BUSY, 0, 0, me, e);
        if (!cas(state_at(&t, free), fs, busy))
            continue; /* another stripe's writer took it */
        __atomic_thread_fence(__ATOMIC_RELEASE);
        memcpy(key_at(&t, free), key, ks);
        memcpy(val_at(&t, free, 0), val, vs);
        __atomic_store_n(state_at(&t, free), mk(TRUK_TABLE_FULL, 0, 0, MID(fs) + 1, e), __ATOMIC_RELEASE);
        __atomic_fetch_add(&t.h->len, 1, __ATOMIC_RELAXED);
        ok = true;
        break;
    }
    unlock(l);
    return ok;
}

__attribute__((noinline)) static bool put_any(void *p, uint64_t cap, uint64_t ks, uint64_t vs, const void *key, const void *val) {
    return ks == 8 ? put(p, cap, 8, vs, key, val) : put(p, cap, ks, vs, key, val);
}

/* The common case of get and put for 8-byte keys, in as few instructions as a
 * plain C table's probe (compiled programs do the same inline, codegen/table.rs): FULL slots and tombstones of this epoch are passed;
 * HIT: k's slot, FULL as *seen; MISS: an EMPTY slot (in this epoch) ends the
 * probe; SLOW: a replace in progress (BUSY), or a probe all the way round,
 * for the whole path to deal with. */
enum fast { HIT, MISS, SLOW };
SIZED enum fast probe8(void *p, uint64_t cap, uint64_t stride, uint64_t k, unsigned char **at, uint64_t *seen) {
    uint64_t e = ld_acq(&((struct truk_table_header *)p)->epoch) & TRUK_TABLE_EPOCH_MASK;
    const uint64_t mask = ~(uint64_t)0 << 34 | 3u, full = e << 34 | TRUK_TABLE_FULL, tomb = e << 34 | TRUK_TABLE_TOMB;
    unsigned char *slots = (unsigned char *)p + TRUK_TABLE_HEADER_SIZE, *end = slots + cap * stride;
    unsigned char *slot = slots + home(&(table_t){.cap = cap}, hash_key(&(table_t){.ks = 8}, &k)) * stride;
    for (uint64_t n = cap; n; n--) {
        uint64_t s = ld_acq((uint64_t *)slot);
        if ((s & mask) == full) {
            if (*(uint64_t *)(slot + 8) == k) {
                *at = slot;
                *seen = s;
                return HIT;
            }
        } else if ((s & mask) != tomb) {
            return KIND(s) == TRUK_TABLE_BUSY ? SLOW : MISS;
        }
        slot += stride;
        if (slot == end)
            slot = slots;
    }
    return SLOW;
}

SIZED bool get8(void *p, uint64_t cap, uint64_t vs, const void *key, void *out) {
    unsigned char *slot;
    uint64_t k, s;
    memcpy(&k, key, 8);
    switch (probe8(p, cap, truk_table_stride(8, vs), k, &slot, &s)) {
    case HIT:
        copy(out, slot + 16 + CUR(s) * ((vs + 7) & ~(uint64_t)7), vs);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n((uint64_t *)slot, __ATOMIC_RELAXED) == s)
            return true;
        break; /* changed under us */
    case MISS:
        memset(out, 0, vs);
        return false;
    case SLOW:
        break;
    }
    return get_any(p, cap, 8, vs, key, out);
}

SIZED bool put8(void *p, uint64_t cap, uint64_t vs, const void *key, const void *val) {
    unsigned char *slot;
    uint64_t k, s;
    uint32_t me = __truk_fleet_me;
    memcpy(&k, key, 8);
    if (probe8(p, cap, truk_table_stride(8, vs), k, &slot, &s) == HIT &&
        replace_at((uint64_t *)slot, slot + 16, (vs + 7) & ~(uint64_t)7, s, me, val, vs))
        return true;
    return put_any(p, cap, 8, vs, key, val);
}

/* The value sizes `copy` inlines get their own copy of the fast path: the
 * stride and the copy constant, as the compiler's inline path has them. */
#define BY_VALUE_SIZE(f, ...)                                                                                          \
    switch (vs) {                                                                                                      \
    case 8: return f(p, cap, 8, __VA_ARGS__);                                                                          \
    case 16: return f(p, cap, 16, __VA_ARGS__);                                                                        \
    case 24: return f(p, cap, 24, __VA_ARGS__);                                                                        \
    case 32: return f(p, cap, 32, __VA_ARGS__);                                                                        \
    default: return f(p, cap, vs, __VA_ARGS__);                                                                        \
    }

bool __truk_table_get(void *p, uint64_t cap, uint64_t ks, uint64_t vs, const void *key, void *out) {
    if (ks != 8)
        return get_any(p, cap, ks, vs, key, out);
    BY_VALUE_SIZE(get8, key, out)
}

bool __truk_table_put(void *p, uint64_t cap, uint64_t ks, uint64_t vs, const void *key, const void *val) {
    if (ks != 8)
        return put_any(p, cap, ks, vs, key, val);
    BY_VALUE_SIZE(put8, key, val)
}

SIZED bool del(void *p, uint64_t cap, uint64_t ks, uint64_t vs, const void *key) {
    table_t t = table_of(p, cap, ks, vs);
    uint64_t h = hash_key(&t, key);
    uint64_t *l = stripe(&t, h);
    unsigned char scratch[ks ? ks : 1];
    lock(&t, l, lock_word(__truk_fleet_mover(), 0));
    uint32_t e = epoch_of(&t);
    uint64_t at, s = 0, free, fs;
    bool ok;
    /* A replace (no lock) may claim the slot first: then look again. */
    while ((ok = find(&t, h, key, e, &at, &s, &free, &fs, scratch) == FOUND) &&
           !cas(state_at(&t, at), s, mk(TRUK_TABLE_TOMB, CUR(s), 0, MID(s) + 1, e)))
        ;
    uint64_t dels = 0;
    if (ok) {
        __atomic_fetch_sub(&t.h->len, 1, __ATOMIC_RELAXED);
        dels = __atomic_add_fetch(&t.h->dels, 1, __ATOMIC_RELAXED);
    }
    unlock(l);
    if (ok && dels % TRUK_TABLE_SWEEP_EVERY(cap) == 0)
        sweep(&t);
    return ok;
}

bool __truk_table_del(void *p, uint64_t cap, uint64_t ks, uint64_t vs, const void *key) {
    return ks == 8 ? del(p, cap, 8, vs, key) : del(p, cap, ks, vs, key);
}

static void lock_all(const table_t *t) {
    uint32_t me = __truk_fleet_mover();
    for (int i = 0; i < TRUK_TABLE_STRIPES; i++)
        lock(t, &t->h->locks[i], lock_word(me, 0));
}

static void unlock_all(const table_t *t) {
    for (int i = TRUK_TABLE_STRIPES - 1; i >= 0; i--)
        unlock(&t->h->locks[i]);
}

void __truk_table_clear(void *p, uint64_t cap, uint64_t ks, uint64_t vs) {
    /* The real shape: a dead writer's lock taken over names its slot. */
    table_t t = table_of(p, cap, ks, vs);
    /* Whoever holds a stripe lock (or held it and died, then repaired) is
     * done with its slot: with every lock held, no insert is in progress;
     * a replace (no lock) then commits or is rolled back into the old epoch. */
    lock_all(&t);
    __atomic_fetch_add(&t.h->epoch, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&t.h->len, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&t.h->stale, 0, __ATOMIC_RELAXED);
    unlock_all(&t);
}

uint64_t __truk_table_len(void *p, uint64_t cap, uint64_t ks, uint64_t vs) {
    table_t t = table_of(p, cap, ks, vs);
    /* A writer killed between its commit and its count still holds its
     * stripe lock: passing every held lock takes such a lock over (and marks
     * len stale); a live holder is waited for. */
    uint32_t me = __truk_fleet_mover();
    for (int i = 0; i < TRUK_TABLE_STRIPES; i++) {
        if (__atomic_load_n(&t.h->locks[i], __ATOMIC_RELAXED)) {
            lock(&t, &t.h->locks[i], lock_word(me, 0));
            unlock(&t.h->locks[i]);
        }
    }
    if (!__atomic_load_n(&t.h->stale, __ATOMIC_ACQUIRE)) {
        int64_t n = (int64_t)__atomic_load_n(&t.h->len, __ATOMIC_RELAXED);
        return n < 0 ? 0 : (uint64_t)n > cap ? cap : (uint64_t)n;
    }
    /* A writer died: with every lock held no writer is between its commit and
     * its count, and no insert is in progress (a replace counts: its key stays). */
    lock_all(&t);
    uint32_t e = epoch_of(&t);
    uint64_t n = 0;
    for (uint64_t i = 0; i < cap; i++)
        n += present(ld_acq(state_at(&t, i)), e);
    __atomic_store_n(&t.h->len, n, __ATOMIC_RELAXED);
    __atomic_store_n(&t.h->stale, 0, __ATOMIC_RELAXED);
    unlock_all(&t);
    return n;
}

bool __truk_table_next(void *p, uint64_t cap, uint64_t ks, uint64_t vs, uint64_t *cursor, void *key, void *val) {
    table_t t = table_of(p, cap, ks, vs);
    uint32_t e = epoch_of(&t);
    for (uint64_t i = *cursor; i < cap; i++) {
        if (read_slot(&t, i, e, key, val, NULL)) {
            *cursor = i + 1;
            return true;
        }
    }
    *cursor = cap;
    return false;
}
