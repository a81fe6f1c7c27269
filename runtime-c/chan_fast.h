/* chan_fast.h: the busy leased path of chan[T, N], as always-inlined static
 * functions: chan_fast.c makes them the entry points __truk_chan_send/recv
 * (whose bitcode release builds inline, see there), and chan.c's recv_slow
 * retries the receive through its own copy after waiting on the cell, so a
 * program whose compiled code inlines the short path links no out-of-line
 * copy of it. */
#ifndef TRUK_CHAN_FAST_H
#define TRUK_CHAN_FAST_H
#include "truk_fleet.h"
#include "truk_rt.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static inline __attribute__((always_inline)) uint64_t cell_state(uint32_t lap, unsigned kind) { return (uint64_t)lap << 32 | kind; }

/* 1 to 8 bytes in or out of a register, without a call to memcpy or a
 * stack slot (little-endian, as x86_64 and aarch64 run: the register holds
 * the bytes in memory order, as a memcpy into it would). */
static inline __attribute__((always_inline)) uint64_t load_small(const void *src, uint64_t n) {
    const unsigned char *s = src;
    uint64_t v = 0;
    if (n == 8) {
        memcpy(&v, s, 8);
        return v;
    }
    unsigned sh = 0;
    if (n & 4) {
        uint32_t x;
        memcpy(&x, s, 4);
        v = x, sh = 32, s += 4;
    }
    if (n & 2) {
        uint16_t x;
        memcpy(&x, s, 2);
        v |= (uint64_t)x << sh, sh += 16, s += 2;
    }
    if (n & 1)
        v |= (uint64_t)*s << sh;
    return v;
}

static inline __attribute__((always_inline)) void store_small(void *dst, uint64_t v, uint64_t n) {
    unsigned char *d = dst;
    if (n == 8) {
        memcpy(d, &v, 8);
        return;
    }
    if (n & 4) {
        uint32_t x = (uint32_t)v;
        memcpy(d, &x, 4);
        v >>= 32, d += 4;
    }
    if (n & 2) {
        uint16_t x = (uint16_t)v;
        memcpy(d, &x, 2);
        v >>= 16, d += 2;
    }
    if (n & 1)
        *d = (unsigned char)v;
}

/* in_op set and the lease ours: this member's in_op word, else NULL (not
 * inside). A power of two: cap & (cap - 1) is 0, with cap - 1 hidden from
 * clang, which would make the test a popcount (20 instructions without
 * -mpopcnt), unless cap is a constant (inlined with the bitcode). */
static inline __attribute__((always_inline)) uint64_t *now_enter(struct truk_chan_header *h, uint32_t *lease,
                                                                  uint64_t cap, uint64_t elem_size) {
    uint64_t *inop = __truk_fleet_inop;
    unsigned char *lo = __truk_fleet_lo, *p = (unsigned char *)h;
    uint64_t mask = cap - 1;
    if (!__builtin_constant_p(cap))
        __asm__("" : "+r"(mask));
    if (!inop || p < lo || p >= __truk_fleet_hi || !truk_chan_whole(elem_size) || ((uintptr_t)p & 15) != 0 ||
        cap == 0 || (cap & mask) != 0)
        return NULL;
    __atomic_store_n(inop, (uint64_t)((unsigned char *)lease - lo), __ATOMIC_RELAXED);
    __asm__ __volatile__("" ::: "memory");
    if (__atomic_load_n(lease, __ATOMIC_ACQUIRE) != __truk_fleet_me) {
        __atomic_store_n(inop, 0, __ATOMIC_RELEASE);
        return NULL;
    }
    return inop;
}

static inline __attribute__((always_inline)) bool chan_short_send(void *p, uint64_t cap, uint64_t elem_size, const void *val,
                                                                   int64_t timeout_ms) {
    struct truk_chan_header *h = p;
    uint64_t *inop = now_enter(h, &h->send_lease, cap, elem_size);
    if (!inop)
        return __truk_chan_send_slow(p, cap, elem_size, val, timeout_ms);
    uint64_t v = load_small(val, elem_size);
    uint64_t t = __atomic_load_n(&h->tail, __ATOMIC_RELAXED);
    uint32_t lap = (uint32_t)(t >> __builtin_ctzll(cap));
    uint64_t *cs = (uint64_t *)((unsigned char *)p + TRUK_CHAN_HEADER_SIZE + (t & (cap - 1)) * 16);
    if (__atomic_load_n(&h->closed, __ATOMIC_RELAXED) || __atomic_load_n(cs, __ATOMIC_ACQUIRE) != cell_state(lap, TRUK_CHAN_EMPTY)) {
        __atomic_store_n(inop, 0, __ATOMIC_RELEASE);
        return __truk_chan_send_slow(p, cap, elem_size, val, timeout_ms);
    }
    __atomic_store_n(cs + 1, v, __ATOMIC_RELAXED);
    __atomic_store_n(cs, cell_state(lap, TRUK_CHAN_FULL), __ATOMIC_RELEASE);
    __atomic_store_n(&h->tail, t + 1, __ATOMIC_RELAXED);
    if (__atomic_load_n(&h->recv_sleepers, __ATOMIC_SEQ_CST) != 0)
        return __truk_chan_wake_leave(&h->sent, inop);
    __atomic_store_n(inop, 0, __ATOMIC_RELEASE);
    return true;
}

static inline __attribute__((always_inline)) bool chan_short_recv(void *p, uint64_t cap, uint64_t elem_size, void *out,
                                                                   int64_t timeout_ms) {
    struct truk_chan_header *h = p;
    uint64_t *inop = now_enter(h, &h->recv_lease, cap, elem_size);
    if (!inop)
        return __truk_chan_recv_slow(p, cap, elem_size, out, timeout_ms);
    uint64_t hd = __atomic_load_n(&h->head, __ATOMIC_RELAXED);
    uint32_t lap = (uint32_t)(hd >> __builtin_ctzll(cap));
    uint64_t *cs = (uint64_t *)((unsigned char *)p + TRUK_CHAN_HEADER_SIZE + (hd & (cap - 1)) * 16);
    if (__atomic_load_n(cs, __ATOMIC_ACQUIRE) != cell_state(lap, TRUK_CHAN_FULL)) {
        __atomic_store_n(inop, 0, __ATOMIC_RELEASE);
        return __truk_chan_recv_slow(p, cap, elem_size, out, timeout_ms);
    }
    if (out)
        store_small(out, __atomic_load_n(cs + 1, __ATOMIC_RELAXED), elem_size);
    __atomic_store_n(cs, cell_state(lap + 1, TRUK_CHAN_EMPTY), __ATOMIC_RELEASE);
    __atomic_store_n(&h->head, hd + 1, __ATOMIC_RELAXED);
    if (__atomic_load_n(&h->send_sleepers, __ATOMIC_SEQ_CST) != 0)
        return __truk_chan_wake_leave(&h->recvd, inop);
    __atomic_store_n(inop, 0, __ATOMIC_RELEASE);
    return true;
}

#endif
