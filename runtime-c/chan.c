/* chan.c: chan[T, N], a bounded many-to-many channel that lives inline in
 * shared (or private) memory and survives members killed at any instruction.
 * Layout and protocol: truk_fleet.h, "Channels". Only programs that call a
 * chan_* builtin link any of this (gc-sections).
 *
 * Each cell's state word says which lap of positions it is at and, while a
 * sender writes a message in, who writes it; every step is a CAS on the exact
 * word, so of the parties that race for a step (two senders, two receivers, a
 * repairer...) exactly one wins. A receiver copies the message out first and
 * takes it with its one CAS. A sender found dead is repaired: its cell goes to
 * the next lap's EMPTY and the message it was writing is dropped, once.
 * Messages of 1 to 8 bytes move whole instead: one 16-byte CAS of state and
 * payload per send or receive, with no WRITING state (try_send_whole). head
 * and tail are only hints, moved on with plain stores.
 * That is the shared mode. A side (send or receive) of a channel in the region
 * that one member uses alone is leased to it (Leases, below): its steps are
 * then plain loads and stores, no locked instruction, and a member that
 * comes second issues a membarrier and waits the holder out of the operation
 * it may be inside before the side goes back to shared mode. */
#define _GNU_SOURCE
#include "truk_fleet.h"
#include "truk_rt.h"
#include "chan_fast.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdbool.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Debug counters (built with -DTRUK_CHAN_COUNT, as chan_bench can be): how
 * often the lease machinery runs, per process. */
#ifdef TRUK_CHAN_COUNT
struct truk_chan_counts {
    uint64_t take_tries, takes, take_aborts, settles, membarriers, quiesce_ns, take_quiesce_ns, sleep_fences, waits, sleeps;
} __truk_chan_counts;
#define COUNT(f, n) (__truk_chan_counts.f += (n))
#else
#define COUNT(f, n) ((void)0)
#endif

typedef struct {
    struct truk_chan_header *h;
    unsigned char *cells;
    uint64_t cap, stride, size;
    int shift; /* log2(cap) when cap is a power of two, else -1 */
    bool whole; /* messages move whole: one 16-byte CAS of state and payload */
} chan_t;

static chan_t chan_of(void *p, uint64_t cap, uint64_t elem_size) {
    int shift = (cap & (cap - 1)) == 0 ? __builtin_ctzll(cap) : -1;
    /* 16-aligned (the compiler aligns these channels so) 16-byte cells */
    bool whole = truk_chan_whole(elem_size) && ((uintptr_t)p & 15) == 0;
    chan_t c = {p, (unsigned char *)p + TRUK_CHAN_HEADER_SIZE, cap, truk_chan_stride(elem_size), elem_size, shift, whole};
    return c;
}

/* A position's lap and cell; a shift and a mask for the usual power-of-two
 * capacity (a 64-bit division costs tens of cycles on the busy path). */
static uint32_t lap_at(const chan_t *c, uint64_t pos) {
    return (uint32_t)(c->shift >= 0 ? pos >> c->shift : pos / c->cap);
}

static uint64_t *cell_at(const chan_t *c, uint64_t pos) {
    uint64_t i = c->shift >= 0 ? pos & (c->cap - 1) : pos % c->cap;
    return (uint64_t *)(c->cells + i * c->stride);
}
static uint32_t lap_of(uint64_t s) { return (uint32_t)(s >> 32); }
static unsigned kind_of(uint64_t s) { return (unsigned)(s & 3u); }
static uint32_t mover_of(uint64_t s) { return (uint32_t)((s >> 2) & TRUK_CHAN_MOVER_MASK); }
static uint64_t state(uint32_t lap, uint32_t mover, unsigned kind) {
    return (uint64_t)lap << 32 | (uint64_t)(mover & TRUK_CHAN_MOVER_MASK) << 2 | kind;
}

static uint64_t ld(uint64_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static uint32_t ld32(uint32_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static bool cas(uint64_t *p, uint64_t expected, uint64_t desired) {
    return __atomic_compare_exchange_n(p, &expected, desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

/* The 16-byte CAS of a cell {state, payload} (16-aligned): cmpxchg16b on
 * x86_64, an LDAXP/STLXP loop on aarch64 (LSE's casp is not in the baseline
 * armv8.0). Inline assembly, not __atomic: 16-byte __atomic calls libatomic
 * without -mcx16. Full barrier, as the seq_cst CAS. On failure `e` gets the
 * cell's words (possibly torn on aarch64: only a guess for the next try). */
static bool cas16(uint64_t *p, uint64_t e[2], uint64_t s, uint64_t v) {
#if defined(__x86_64__)
    bool ok;
    __asm__ __volatile__("lock cmpxchg16b %1"
                         : "=@ccz"(ok), "+m"(*(volatile unsigned __int128 *)p), "+a"(e[0]), "+d"(e[1])
                         : "b"(s), "c"(v)
                         : "memory");
    return ok;
#elif defined(__aarch64__)
    uint64_t lo, hi;
    uint32_t fail;
    do {
        __asm__ __volatile__("ldaxp %0, %1, [%2]" : "=&r"(lo), "=&r"(hi) : "r"(p) : "memory");
        if (lo != e[0] || hi != e[1]) {
            __asm__ __volatile__("clrex" ::: "memory");
            e[0] = lo, e[1] = hi;
            return false;
        }
        __asm__ __volatile__("stlxp %w0, %2, %3, [%1]" : "=&r"(fail) : "r"(p), "r"(s), "r"(v) : "memory");
    } while (fail);
    return true;
#else
#error "chan.c: no 16-byte CAS for this architecture"
#endif
}

static long futex(uint32_t *p, int op, uint32_t val, const struct timespec *ts) {
    return syscall(SYS_futex, p, op, val, ts, NULL, FUTEX_BITSET_MATCH_ANY);
}

/* Tells the other side that a cell changed, with a system call only when
 * someone sleeps. The caller's seq_cst CAS or store on the cell comes first:
 * a sleeper counts itself (seq_cst) before it looks at the cell again. */
static __attribute__((noinline, cold)) void wake(uint32_t *word) {
    __atomic_fetch_add(word, 1, __ATOMIC_SEQ_CST);
    futex(word, FUTEX_WAKE, INT_MAX, NULL);
}

static void notify(uint32_t *word, uint32_t *sleepers) {
    if (ld32(sleepers) != 0)
        wake(word); /* out of line: the busy path stays free of calls */
}

static void notify_both(const chan_t *c) {
    notify(&c->h->sent, &c->h->recv_sleepers);
    notify(&c->h->recvd, &c->h->send_sleepers);
}

static void relax(void) { truk_cpu_relax(); }

static void now(struct timespec *t) { clock_gettime(CLOCK_MONOTONIC, t); }

/* The sender of a WRITING cell found dead: the cell skips to the next lap's
 * EMPTY (the message it was writing is dropped). */
static void judge(const chan_t *c, uint64_t *cell, uint64_t s) {
    if (kind_of(s) != TRUK_CHAN_WRITING)
        return;
    if (!__truk_fleet_mover_dead(mover_of(s)))
        return;
    if (cas(cell, s, state(lap_of(s) + 1, 0, TRUK_CHAN_EMPTY)))
        notify_both(c);
}

enum step { DONE, BLOCKED, CLOSED, LATE /* timed out waiting for a lease holder */ };

/* Moves a position hint (tail or head) forward to v. A plain store: two
 * racing movers may set it back by a little, which only costs the next one a
 * step of walking; it never passes a position that was not taken. */
static void advance(uint64_t *hint, uint64_t v) {
    if (__atomic_load_n(hint, __ATOMIC_RELAXED) < v)
        __atomic_store_n(hint, v, __ATOMIC_RELEASE);
}

/* The payload copy: 8 bytes (the common u64 or pointer) inline. */
static void copy(void *dst, const void *src, uint64_t n) {
    if (n == 8)
        memcpy(dst, src, 8);
    else
        memcpy(dst, src, n);
}

/* A send of a small message to a 16-aligned cell: one 16-byte CAS from
 * {EMPTY(l), 0} to {FULL(l), message}, so nothing is ever half-written and
 * there is no WRITING state to repair. Receivers leave {EMPTY(l + 1), 0}, so
 * the first look's guess (see try_send) is exact. Later looks, after a wait,
 * load the cell first: a CAS on a full channel's cell would take its line
 * from the receiver at every try. */
static void close_side(const chan_t *c, bool send, uint64_t deadline_ns);

static enum step try_send_whole(const chan_t *c, const void *val, bool guess, bool leased, uint64_t **cell,
                                uint64_t *seen) {
    struct truk_chan_header *h = c->h;
    uint64_t t = ld(&h->tail), v = 0;
    copy(&v, val, c->size);
    if (__atomic_load_n(&h->closed, __ATOMIC_ACQUIRE))
        return CLOSED;
    uint64_t e[2] = {state(lap_at(c, t), 0, TRUK_CHAN_EMPTY), 0};
    for (;;) {
        uint32_t lap = lap_at(c, t);
        uint64_t *cs = cell_at(c, t);
        if (!guess) {
            e[0] = ld(cs), e[1] = __atomic_load_n(cs + 1, __ATOMIC_RELAXED);
            guess = kind_of(e[0]) == TRUK_CHAN_EMPTY && lap_of(e[0]) == lap;
        }
        if (guess && cas16(cs, e, state(lap, 0, TRUK_CHAN_FULL), v)) {
            advance(&h->tail, t + 1);
            if (ld32(&h->closed)) {
                /* Closed before our CAS landed (a receiver may have seen
                 * "closed and empty"): take the message back unless a
                 * receiver already has it. A receiver holding its side's
                 * lease takes with a plain store: wait it out first. */
                if (leased)
                    close_side(c, false, 0);
                uint64_t mine[2] = {state(lap, 0, TRUK_CHAN_FULL), v};
                if (cas16(cs, mine, state(lap + 1, 0, TRUK_CHAN_EMPTY), 0)) {
                    notify_both(c);
                    return CLOSED;
                }
            }
            notify(&h->sent, &h->recv_sleepers);
            return DONE;
        }
        uint64_t s = e[0];
        int32_t d = (int32_t)(lap_of(s) - lap);
        /* EMPTY beside another payload (left by a hand-written mover, never
         * by this protocol): CAS on what is there. */
        if ((guess = d == 0 && kind_of(s) == TRUK_CHAN_EMPTY))
            continue;
        if (d >= 0) { /* position t is taken: walk on, guessing as at first */
            t++;
            if (__atomic_load_n(&h->closed, __ATOMIC_ACQUIRE))
                return CLOSED;
            e[0] = state(lap_at(c, t), 0, TRUK_CHAN_EMPTY), e[1] = 0;
            guess = true;
            continue;
        }
        *cell = cs; /* the previous lap is still here: full */
        *seen = s;
        return BLOCKED;
    }
}

/* guess: the send's first look. It claims at once as if the cell were EMPTY
 * of this lap: the CAS fetches the cell's line once, where a load and then a
 * CAS would fetch it twice from the receiver that last wrote it. */
static enum step try_send(const chan_t *c, const void *val, uint32_t me, bool guess, uint64_t **cell, uint64_t *seen) {
    struct truk_chan_header *h = c->h;
    uint64_t t = ld(&h->tail);
    for (;;) {
        if (__atomic_load_n(&h->closed, __ATOMIC_ACQUIRE))
            return CLOSED;
        uint32_t lap = lap_at(c, t);
        uint64_t *cs = cell_at(c, t);
        uint64_t s = guess ? state(lap, 0, TRUK_CHAN_EMPTY) : ld(cs);
        guess = false;
        int32_t d = (int32_t)(lap_of(s) - lap);
        if (d == 0 && kind_of(s) == TRUK_CHAN_EMPTY) {
            if (!cas(cs, s, state(lap, me, TRUK_CHAN_WRITING)))
                continue;
            if (ld32(&h->closed)) {
                /* Closed while we claimed: skip the position, so that no
                 * message lands after a receiver saw "closed and empty". */
                cas(cs, state(lap, me, TRUK_CHAN_WRITING), state(lap + 1, 0, TRUK_CHAN_EMPTY));
                advance(&h->tail, t + 1);
                notify_both(c);
                return CLOSED;
            }
            copy((unsigned char *)cs + TRUK_CHAN_CELL_PAYLOAD, val, c->size);
            /* A CAS, not a store: should we ever be taken for dead (never, with
             * a correct liveness check) the repair stands and we send again. */
            bool ok = cas(cs, state(lap, me, TRUK_CHAN_WRITING), state(lap, 0, TRUK_CHAN_FULL));
            advance(&h->tail, t + 1);
            if (!ok)
                continue;
            notify(&h->sent, &h->recv_sleepers);
            return DONE;
        }
        if (d >= 0) { /* position t is taken: walk on */
            t++;
            continue;
        }
        *cell = cs; /* the previous lap is still here: full */
        *seen = s;
        return BLOCKED;
    }
}

static enum step try_recv(const chan_t *c, void *out, uint64_t **cell, uint64_t *seen) {
    struct truk_chan_header *h = c->h;
    uint64_t hd = ld(&h->head);
    for (;;) {
        uint32_t lap = lap_at(c, hd);
        uint64_t *cs = cell_at(c, hd);
        uint64_t s = ld(cs);
        int32_t d = (int32_t)(lap_of(s) - lap);
        if (d == 0 && kind_of(s) == TRUK_CHAN_FULL) {
            /* Copy first, then take the message with one CAS: FULL(l) is left
             * only by a receiver's CAS, so if ours wins the copy was whole. A
             * lost CAS discards the copy; a receiver killed after its CAS
             * drops the message, before it nothing happened. */
            if (c->whole) {
                /* One 16-byte CAS takes the message and clears the payload
                 * for the next send's guess; if it wins, v was the message. */
                uint64_t e[2] = {s, __atomic_load_n(cs + 1, __ATOMIC_RELAXED)}, v = e[1];
                if (!cas16(cs, e, state(lap + 1, 0, TRUK_CHAN_EMPTY), 0))
                    continue;
                if (out)
                    copy(out, &v, c->size);
            } else {
                if (out)
                    copy(out, (unsigned char *)cs + TRUK_CHAN_CELL_PAYLOAD, c->size);
                if (!cas(cs, s, state(lap + 1, 0, TRUK_CHAN_EMPTY)))
                    continue;
            }
            advance(&h->head, hd + 1);
            notify(&h->recvd, &h->send_sleepers);
            return DONE;
        }
        if (d > 0) { /* position hd was taken: walk on */
            hd++;
            continue;
        }
        /* EMPTY or WRITING of this lap: nothing to take yet. Closed is read
         * before the cell again, so a sender that claims after this read sees
         * closed (see try_send). */
        if (kind_of(s) != TRUK_CHAN_WRITING && ld32(&h->closed) && ld(cs) == s)
            return CLOSED;
        *cell = cs;
        *seen = s;
        return BLOCKED;
    }
}

static bool before(struct timespec a, struct timespec b) {
    return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

static uint64_t mono_ns(void) {
    struct timespec t;
    now(&t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Spinning for at most `ns`. The clock is read only every 32 pauses, the
 * first time after 32 of them: most waits of a busy pair end sooner, and a
 * clock read (tens of ns in a VM) would delay the reply. No sched_yield: on
 * a busy machine it hands the CPU to another program for a whole time
 * slice, and a futex wake-up would have been faster. */
typedef struct {
    uint64_t until;
    unsigned n;
    bool done;
} spinner;

static bool spin(spinner *s, uint64_t ns) {
    if (s->done)
        return false;
    if ((++s->n & 31) == 0) {
        uint64_t t = mono_ns();
        if (s->until == 0)
            s->until = t + ns;
        else if (t >= s->until) {
            s->done = true;
            return false;
        }
    }
    relax();
    return true;
}

/* ---- Leases (truk_fleet.h, "Channels": leases) --------------------------------
 * A side (send or receive) used by one member is leased to it: its operations
 * then move cells with plain loads and stores, no locked instruction. Every
 * operation on a channel in the region brackets itself with this member's
 * in_op word; a member that takes or revokes a lease issues a membarrier
 * and then waits out the members inside an operation on that side. */
typedef struct {
    uint32_t *lease, *backoff;
    uint64_t *calm, *pos;
    uint32_t *sleepers; /* members asleep on this side (waiting to do the same) */
    uint64_t id;    /* the in_op value: the lease word's offset in the region */
    uint64_t *inop; /* this member's in_op word */
} side_t;

static void membarrier(void) {
    COUNT(membarriers, 1);
    __truk_fleet_membarrier();
}

static bool quiesce(uint64_t side, uint32_t holder, uint64_t deadline_ns) {
#ifdef TRUK_CHAN_COUNT
    uint64_t t = mono_ns();
    bool r = __truk_fleet_quiesce(side, holder, deadline_ns);
    if (holder)
        COUNT(quiesce_ns, mono_ns() - t);
    else
        COUNT(take_quiesce_ns, mono_ns() - t);
    return r;
#else
    return __truk_fleet_quiesce(side, holder, deadline_ns);
#endif
}

static bool leasable(const void *p) {
    return __truk_fleet_inop && (const unsigned char *)p >= __truk_fleet_lo &&
           (const unsigned char *)p < __truk_fleet_hi;
}

static side_t side_of(struct truk_chan_header *h, bool send) {
    side_t s = send ? (side_t){&h->send_lease, &h->send_backoff, &h->send_calm, &h->tail, &h->send_sleepers, 0,
                               __truk_fleet_inop}
                    : (side_t){&h->recv_lease, &h->recv_backoff, &h->recv_calm, &h->head, &h->recv_sleepers, 0,
                               __truk_fleet_inop};
    s.id = (uint64_t)((unsigned char *)s.lease - __truk_fleet_lo);
    return s;
}

static bool cas32(uint32_t *p, uint32_t expected, uint32_t desired) {
    return __atomic_compare_exchange_n(p, &expected, desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

/* Enters an operation on side `sd` and reads its lease. No fence between the
 * store and the load: a taker's membarrier stands in for it (either our
 * in_op is seen after it, or our load sees the taker's lease word). */
static uint32_t op_enter(const side_t *sd) {
    __atomic_store_n(sd->inop, sd->id, __ATOMIC_RELAXED);
    __asm__ __volatile__("" ::: "memory");
    return __atomic_load_n(sd->lease, __ATOMIC_ACQUIRE);
}

static void op_leave(const side_t *sd) { __atomic_store_n(sd->inop, 0, __ATOMIC_RELEASE); }

static uint64_t deadline_of(int64_t timeout_ms) {
    return timeout_ms < 0 ? 0 : mono_ns() + (uint64_t)(timeout_ms ? timeout_ms : TRUK_CHAN_JUDGE_MS) * 1000000u;
}

/* Contention: no lease on this side for the next `backoff` positions, which
 * grows 8 times at each takeover (heuristic words: plain stores). A takeover
 * waits for the holder, which a busy machine may have preempted inside an
 * operation for a time slice: fast growth keeps that rare on MPMC sides. */
static void back_off(const side_t *sd) {
    uint32_t b = __atomic_load_n(sd->backoff, __ATOMIC_RELAXED);
    b = b == 0 ? TRUK_CHAN_BACKOFF_MIN : b < TRUK_CHAN_BACKOFF_MAX / 8 ? b * 8 : TRUK_CHAN_BACKOFF_MAX;
    __atomic_store_n(sd->backoff, b, __ATOMIC_RELAXED);
    __atomic_store_n(sd->calm, __atomic_load_n(sd->pos, __ATOMIC_RELAXED) + b, __ATOMIC_RELAXED);
}

/* Ends a REVOKING lease word `l` (ours or a helper's): once its holder is out
 * of any operation on the side (or dead), shared mode (or CLOSED). false:
 * `deadline_ns` passed while a live holder was inside (a stopped one). */
static bool finish_revoke(const side_t *sd, uint32_t l, uint32_t me, uint64_t deadline_ns) {
    uint32_t x = l & TRUK_CHAN_MOVER_MASK;
    membarrier();
    if (x != 0 && x != me && !quiesce(sd->id, x, deadline_ns))
        return false;
    cas32(sd->lease, l, l & TRUK_CHAN_LEASE_CLOSED);
    return true;
}

/* Takes the side from another holder back to shared mode, or helps a
 * revocation under way; `l` is neither 0, CLOSED nor ours. */
static bool settle(const side_t *sd, uint32_t l, uint32_t me, int64_t timeout_ms) {
    COUNT(settles, 1);
    if (!(l & TRUK_CHAN_LEASE_REVOKING)) {
        if (!cas32(sd->lease, l, l | TRUK_CHAN_LEASE_REVOKING))
            return true; /* changed meanwhile: look again */
        l |= TRUK_CHAN_LEASE_REVOKING;
        back_off(sd);
    }
    return finish_revoke(sd, l, me, deadline_of(timeout_ms));
}

/* Signs that this member uses a side alone (private to the process, a few
 * sides at once): the side's position hint after our last shared-mode
 * operation on it, and how many of ours in a row moved it by exactly one. */
static struct {
    const uint32_t *lease;
    uint64_t pos;
    uint32_t run;
} alone[8];

/* After an operation in shared mode: a free lease past the calm position is
 * ours after TRUK_CHAN_TAKE_RUN operations in a row with nobody else's in
 * between, if nobody sleeps waiting to do the same and no other member is
 * inside an operation on the side at our
 * look (no waiting: with more members than CPUs one is often preempted
 * inside, and a take that waits for it holds up the whole side). Anything
 * else backs off. A member that meets the pending word ends it, back to
 * shared mode: contention.
 * A member that sees another's operation between two of its own (the hint
 * moved by more than its own step) pushes calm TRUK_CHAN_QUIET positions on:
 * with more members than CPUs, one often runs alone for a whole time slice,
 * far more than TRUK_CHAN_TAKE_RUN operations, and a lease it took then would
 * cost the others a takeover when they come back. calm shares its line with
 * the hint that the operation has just moved, and is stored at most once
 * every TRUK_CHAN_QUIET / 2 positions: no new line traffic. */
static void maybe_take(const side_t *sd, uint32_t me) {
    static int never = -1; /* TRUK_CHAN_NO_LEASE: this member takes none (it still honours others') */
    if (never < 0)
        never = getenv("TRUK_CHAN_NO_LEASE") != NULL;
    uint64_t pos = __atomic_load_n(sd->pos, __ATOMIC_RELAXED), calm = __atomic_load_n(sd->calm, __ATOMIC_RELAXED);
    __typeof__(alone[0]) *a = &alone[((uintptr_t)sd->lease >> 6) % 8];
    bool mine = a->lease == sd->lease, run = mine && pos == a->pos + 1;
    a->lease = sd->lease, a->pos = pos, a->run = run ? a->run + 1 : 0;
    if (mine && !run && calm < pos + TRUK_CHAN_QUIET / 2)
        __atomic_store_n(sd->calm, calm = pos + TRUK_CHAN_QUIET, __ATOMIC_RELAXED);
    if (never || pos < calm || a->run < TRUK_CHAN_TAKE_RUN || __atomic_load_n(sd->sleepers, __ATOMIC_RELAXED) ||
        !__truk_fleet_membarrier_register())
        return;
    a->run = 0;
    uint32_t pending = TRUK_CHAN_LEASE_REVOKING | me;
    COUNT(take_tries, 1);
    if (!cas32(sd->lease, 0, pending))
        return;
    membarrier();
    bool quiet = quiesce(sd->id, 0, TRUK_FLEET_QUIESCE_NOW);
    if (!cas32(sd->lease, pending, quiet ? me : 0) || !quiet) {
        COUNT(take_aborts, 1);
        back_off(sd);
    } else
        COUNT(takes, 1);
}

/* Closing, in lease mode: the side's lease word ends CLOSED once no holder
 * can be inside an operation on it. Anyone may finish it. */
static void close_side(const chan_t *c, bool send, uint64_t deadline_ns) {
    side_t sd = side_of(c->h, send);
    uint32_t me = __truk_fleet_me;
    for (;;) {
        uint32_t l = __atomic_load_n(sd.lease, __ATOMIC_ACQUIRE);
        if (l == TRUK_CHAN_LEASE_CLOSED)
            return;
        uint32_t n = l | TRUK_CHAN_LEASE_CLOSED | TRUK_CHAN_LEASE_REVOKING;
        if (l != n && !cas32(sd.lease, l, n))
            continue;
        if (!finish_revoke(&sd, n, me, deadline_ns))
            return;
    }
}

/* A holder's look at position `pos`: its lap, its cell and the cell's state. */
static uint64_t *look(const chan_t *c, uint64_t pos, uint32_t *lap, uint64_t *s) {
    uint64_t *cs = cell_at(c, pos);
    *lap = lap_at(c, pos);
    *s = __atomic_load_n(cs, __ATOMIC_ACQUIRE);
    return cs;
}

/* The holder's send: plain loads and stores; nobody else sends meanwhile,
 * and receivers touch only FULL cells. The payload first, then the state
 * (release): a holder killed in between sent nothing (the cell is EMPTY). */
static enum step fast_send(const chan_t *c, const void *val, uint64_t **cell, uint64_t *seen) {
    struct truk_chan_header *h = c->h;
    if (__atomic_load_n(&h->closed, __ATOMIC_RELAXED))
        return CLOSED;
    uint64_t t = __atomic_load_n(&h->tail, __ATOMIC_RELAXED);
    for (;;) {
        uint32_t lap;
        uint64_t s, *cs = look(c, t, &lap, &s);
        int32_t d = (int32_t)(lap_of(s) - lap);
        if (d == 0 && kind_of(s) == TRUK_CHAN_EMPTY) {
            if (c->whole) {
                uint64_t v = 0;
                copy(&v, val, c->size);
                __atomic_store_n(cs + 1, v, __ATOMIC_RELAXED);
            } else {
                copy((unsigned char *)cs + TRUK_CHAN_CELL_PAYLOAD, val, c->size);
            }
            __atomic_store_n(cs, state(lap, 0, TRUK_CHAN_FULL), __ATOMIC_RELEASE);
            __atomic_store_n(&h->tail, t + 1, __ATOMIC_RELAXED);
            notify(&h->sent, &h->recv_sleepers);
            return DONE;
        }
        if (d >= 0) { /* taken (or WRITING, left by a sender killed in shared mode) */
            t++;
            continue;
        }
        *cell = cs;
        *seen = s;
        return BLOCKED;
    }
}

/* The holder's receive: copy out, then EMPTY(l + 1) (release). The payload
 * stays (zeroing it first would let a holder killed in between leave a FULL
 * cell with a wrong message; zeroing it after could land on the next send's). */
static enum step fast_recv(const chan_t *c, void *out, uint64_t **cell, uint64_t *seen) {
    struct truk_chan_header *h = c->h;
    uint64_t hd = __atomic_load_n(&h->head, __ATOMIC_RELAXED);
    for (;;) {
        uint32_t lap;
        uint64_t s, *cs = look(c, hd, &lap, &s);
        int32_t d = (int32_t)(lap_of(s) - lap);
        if (d == 0 && kind_of(s) == TRUK_CHAN_FULL) {
            if (out)
                copy(out, (unsigned char *)cs + TRUK_CHAN_CELL_PAYLOAD, c->size);
            __atomic_store_n(cs, state(lap + 1, 0, TRUK_CHAN_EMPTY), __ATOMIC_RELEASE);
            __atomic_store_n(&h->head, hd + 1, __ATOMIC_RELAXED);
            notify(&h->recvd, &h->send_sleepers);
            return DONE;
        }
        if (d > 0) {
            hd++;
            continue;
        }
        if (kind_of(s) != TRUK_CHAN_WRITING && ld32(&h->closed))
            return CLOSED; /* the caller makes sure no send holder is still inside */
        *cell = cs;
        *seen = s;
        return BLOCKED;
    }
}

/* One attempt of a send or receive on a channel that may be leased (inlined
 * into each, where `send` is a constant). */
static inline __attribute__((always_inline)) enum step leased_op(const chan_t *c, bool send, const void *val, void *out, bool first, int64_t timeout_ms,
                           uint64_t **cell, uint64_t *seen) {
    side_t sd = side_of(c->h, send);
    uint32_t me = __truk_fleet_me;
    for (;;) {
        uint32_t l = op_enter(&sd);
        enum step r;
        if (l == me)
            r = send ? fast_send(c, val, cell, seen) : fast_recv(c, out, cell, seen);
        else if (l == 0 || l == TRUK_CHAN_LEASE_CLOSED)
            r = !send       ? try_recv(c, out, cell, seen)
                : c->whole ? try_send_whole(c, val, first, true, cell, seen)
                           : try_send(c, val, me, first, cell, seen);
        else {
            op_leave(&sd);
            if (!settle(&sd, l, me, timeout_ms))
                return LATE;
            continue;
        }
        op_leave(&sd);
        if (r == CLOSED && !send && __atomic_load_n(&c->h->send_lease, __ATOMIC_ACQUIRE) != TRUK_CHAN_LEASE_CLOSED) {
            /* "Closed and drained" only once no send holder is inside */
            close_side(c, true, deadline_of(timeout_ms));
            if (__atomic_load_n(&c->h->send_lease, __ATOMIC_ACQUIRE) != TRUK_CHAN_LEASE_CLOSED)
                return LATE;
            continue;
        }
        if (r == DONE && l == 0)
            maybe_take(&sd, me);
        return r;
    }
}

/* A blocking operation's waiting: spin, then sleep on `word` while the cell
 * still holds `seen`. While a mover is in the way the sleep is cut to
 * TRUK_CHAN_JUDGE_MS so that its death is noticed that fast, and any sleep
 * to TRUK_CHAN_BACKSTOP_MS. */
typedef struct {
    int64_t timeout_ms;
    bool have_deadline;
    struct timespec deadline;
    spinner spin;
    bool judged;          /* since the last wake-up */
    uint32_t *other_lease; /* lease mode: the waking side's lease word */
} waiter;

/* Before a sleeper's last look at the cell, after it counted itself: a
 * holder on the waking side stores the cell and loads the count with no
 * fence between, so a membarrier takes the fence's place (as for a lease
 * taker). A free lease needs none: its taker's own membarrier comes after
 * our count. */
static void sleep_fence(const uint32_t *other_lease) {
    if (!other_lease)
        return;
    uint32_t l = ld32((uint32_t *)other_lease);
    if (l != 0 && l != TRUK_CHAN_LEASE_CLOSED) {
        COUNT(sleep_fences, 1);
        membarrier();
    }
}

/* false: timed out. */
static bool wait_step(waiter *w, const chan_t *c, uint32_t *word, uint32_t *sleepers, uint64_t *cell, uint64_t seen) {
    if (w->timeout_ms == 0)
        return false;
    COUNT(waits, 1);
    bool mover = kind_of(seen) == TRUK_CHAN_WRITING;
    if (mover && w->spin.n >= TRUK_CHAN_JUDGE_AFTER && !w->judged) {
        /* A live mover finishes within a few pauses: judge early, once per
         * wake-up (reading /proc costs microseconds). */
        w->judged = true;
        judge(c, cell, seen);
        if (ld(cell) != seen)
            return true;
    }
    /* Spin on the one word we wait for (a load and a pause a turn, not a whole
     * attempt: the change is seen sooner), a few dozen turns at a time. */
    for (unsigned k = 0; spin(&w->spin, TRUK_CHAN_SPIN_US * 1000u);)
        if (ld(cell) != seen || ++k == TRUK_CHAN_JUDGE_AFTER)
            return true;
    struct timespec t;
    now(&t);
    if (w->timeout_ms > 0 && !w->have_deadline) {
        w->deadline = truk_ms_after(t, w->timeout_ms);
        w->have_deadline = true;
    }
    if (w->have_deadline && !before(t, w->deadline))
        return false;
    if (mover) {
        judge(c, cell, seen);
        if (ld(cell) != seen)
            return true;
    }
    /* Never an unbounded sleep: a member killed between its step on the cell
     * and its wake-up call never wakes us, so we look again after a slice. */
    struct timespec until = truk_ms_after(t, mover ? TRUK_CHAN_JUDGE_MS : TRUK_CHAN_BACKSTOP_MS);
    if (w->have_deadline && before(w->deadline, until))
        until = w->deadline;
    uint32_t v = ld32(word);
    __atomic_fetch_add(sleepers, 1, __ATOMIC_SEQ_CST);
    sleep_fence(w->other_lease);
    /* Closed: a blocked receiver looks again at once (it returns unless a
     * sender is still writing); a blocked sender returns. */
    bool closed = ld32(&c->h->closed) && kind_of(seen) != TRUK_CHAN_WRITING;
    if (ld(cell) == seen && !closed) {
        COUNT(sleeps, 1);
        futex(word, FUTEX_WAIT_BITSET, v, &until);
    }
    __atomic_fetch_sub(sleepers, 1, __ATOMIC_SEQ_CST);
    /* Woken: spin again before sleeping again. */
    w->spin = (spinner){0};
    w->judged = false;
    return true;
}

static bool send_slow(void *p, uint64_t cap, uint64_t elem_size, const void *val, int64_t timeout_ms) {
    chan_t c = chan_of(p, cap, elem_size);
    bool leased = leasable(p);
    uint32_t me = c.whole ? 0 : __truk_fleet_mover();
    waiter w; /* set up at the first wait: most operations never wait */
    for (bool first = true;; first = false) {
        uint64_t *cell = NULL, seen = 0;
        enum step r = leased ? leased_op(&c, true, val, NULL, first, timeout_ms, &cell, &seen)
                      : c.whole ? try_send_whole(&c, val, first, false, &cell, &seen)
                                : try_send(&c, val, me, first, &cell, &seen);
        if (r != BLOCKED)
            return r == DONE;
        if (first)
            w = (waiter){.timeout_ms = timeout_ms, .other_lease = leased ? &c.h->recv_lease : NULL};
        if (!wait_step(&w, &c, &c.h->recvd, &c.h->send_sleepers, cell, seen))
            return false;
    }
}

/* A receive that may wait, on a side leased to us of a channel the short
 * path serves (1 to 8 bytes, a power-of-two capacity) whose cell at head is
 * still empty: spins on that cell first, with none of the general path's
 * set-up, which takes longer than a busy partner's reply (chan_bench rtt:
 * the set-up before the spin cost about a seventh of the busy round trip).
 * true: the cell is full, the short path may now take it. Reads only: the
 * operation itself, with in_op and the lease check, is the short path's. */
static bool await_cell(void *p, uint64_t cap, uint64_t elem_size, int64_t timeout_ms) {
    struct truk_chan_header *h = p;
    if (timeout_ms == 0 || !leasable(p) || !truk_chan_whole(elem_size) || ((uintptr_t)p & 15) != 0 ||
        (cap & (cap - 1)) != 0 || __atomic_load_n(&h->recv_lease, __ATOMIC_RELAXED) != __truk_fleet_me)
        return false;
    uint64_t hd = __atomic_load_n(&h->head, __ATOMIC_RELAXED);
    uint64_t *cs = (uint64_t *)((unsigned char *)p + TRUK_CHAN_HEADER_SIZE + (hd & (cap - 1)) * 16);
    uint32_t lap = (uint32_t)(hd >> __builtin_ctzll(cap));
    uint64_t empty = state(lap, 0, TRUK_CHAN_EMPTY), full = state(lap, 0, TRUK_CHAN_FULL);
    for (unsigned n = 0; n < TRUK_CHAN_AWAIT_TURNS; n++) {
        uint64_t s = __atomic_load_n(cs, __ATOMIC_ACQUIRE);
        if (s != empty) /* full: the short path takes it; anything else (a sender killed while */
            return s == full; /* writing it, in shared mode) is the general path's to repair */
        relax();
    }
    return false;
}

static bool recv_slow(void *p, uint64_t cap, uint64_t elem_size, void *out, int64_t timeout_ms) {
    if (await_cell(p, cap, elem_size, timeout_ms))
        return chan_short_recv(p, cap, elem_size, out, timeout_ms); /* past that cell, or back here if the lease moved */
    chan_t c = chan_of(p, cap, elem_size);
    bool leased = leasable(p);
    waiter w; /* set up at the first wait */
    for (bool first = true;; first = false) {
        uint64_t *cell = NULL, seen = 0;
        enum step r = leased ? leased_op(&c, false, NULL, out, false, timeout_ms, &cell, &seen)
                             : try_recv(&c, out, &cell, &seen);
        if (r == DONE)
            return true;
        if (r == CLOSED || r == LATE) {
            memset(out, 0, elem_size);
            return false;
        }
        if (first)
            w = (waiter){.timeout_ms = timeout_ms, .other_lease = leased ? &c.h->send_lease : NULL};
        if (!wait_step(&w, &c, &c.h->sent, &c.h->recv_sleepers, cell, seen)) {
            memset(out, 0, elem_size);
            return false;
        }
    }
}

/* ---- The busy leased path: chan_fast.c, beside its slow path here ------------
 * Entered from __truk_chan_send/recv when the short path does not apply (hidden:
 * compiled code that inlines the short path calls them directly). */
__attribute__((cold)) bool __truk_chan_wake_leave(uint32_t *word, uint64_t *inop) {
    wake(word);
    __atomic_store_n(inop, 0, __ATOMIC_RELEASE);
    return true;
}

bool __truk_chan_send_slow(void *p, uint64_t cap, uint64_t elem_size, const void *val, int64_t timeout_ms) {
    return send_slow(p, cap, elem_size, val, timeout_ms);
}

bool __truk_chan_recv_slow(void *p, uint64_t cap, uint64_t elem_size, void *out, int64_t timeout_ms) {
    return recv_slow(p, cap, elem_size, out, timeout_ms);
}

void __truk_chan_close(void *p) {
    struct truk_chan_header *h = p;
    __atomic_store_n(&h->closed, 1, __ATOMIC_SEQ_CST);
    chan_t c = {.h = h};
    if (leasable(p)) {
        /* Best effort: whoever needs a side closed (a receiver about to say
         * "drained", a sender taking its message back) finishes it. */
        close_side(&c, true, deadline_of(0));
        close_side(&c, false, deadline_of(0));
    }
    notify_both(&c);
}

/* The first position from the hint `hd` that was not taken yet (head is a
 * hint: a receiver killed after its CAS leaves it behind). */
static uint64_t untaken(const chan_t *c, uint64_t hd) {
    for (uint64_t i = 0; i < c->cap && (int32_t)(lap_of(ld(cell_at(c, hd))) - lap_at(c, hd)) > 0; i++)
        hd++;
    return hd;
}

/* The first position from the hint `t` that was not claimed yet. */
static uint64_t unclaimed(const chan_t *c, uint64_t t) {
    for (uint64_t i = 0; i < c->cap; i++, t++) {
        uint64_t s = ld(cell_at(c, t));
        int32_t d = (int32_t)(lap_of(s) - lap_at(c, t));
        if (d < 0 || (d == 0 && kind_of(s) == TRUK_CHAN_EMPTY))
            break;
    }
    return t;
}

uint64_t __truk_chan_len(void *p, uint64_t cap, uint64_t elem_size) {
    chan_t c = chan_of(p, cap, elem_size);
    uint64_t hd = untaken(&c, ld(&c.h->head)), t = unclaimed(&c, ld(&c.h->tail));
    if (t <= hd)
        return 0;
    return t - hd > cap ? cap : t - hd;
}

/* Ready for chan_select: the cell at head holds a message, or the channel is
 * closed. Repairs a dead mover in the way on the slow path. */
static bool ready(const chan_t *c, bool judging) {
    uint64_t hd = untaken(c, ld(&c->h->head));
    uint64_t *cs = cell_at(c, hd);
    uint64_t s = ld(cs);
    if (lap_of(s) == lap_at(c, hd) && kind_of(s) == TRUK_CHAN_FULL)
        return true;
    if (ld32(&c->h->closed))
        return true;
    if (judging)
        judge(c, cs, s);
    return false;
}

/* futex_waitv (Linux 5.16): sleeps on the `sent` words of every channel at
 * once. false when it is missing (older kernels, qemu-user): then the caller
 * sleeps on one word and polls the others. */
#ifndef FUTEX2_SIZE_U32
#define FUTEX2_SIZE_U32 0x02 /* newer kernel headers name it */
#endif

static bool waitv(const struct truk_chan_ref *refs, uint64_t n, const uint32_t *vals, const struct timespec *until) {
#if defined(SYS_futex_waitv) && defined(FUTEX_WAITV_MAX)
    static bool missing;
    if (missing || n > FUTEX_WAITV_MAX)
        return false;
    struct futex_waitv w[FUTEX_WAITV_MAX];
    for (uint64_t i = 0; i < n; i++)
        w[i] = (struct futex_waitv){.val = vals[i], .uaddr = (uintptr_t) & ((struct truk_chan_header *)refs[i].chan)->sent,
                                    .flags = FUTEX2_SIZE_U32};
    if (syscall(SYS_futex_waitv, w, (unsigned)n, 0, until, CLOCK_MONOTONIC) < 0 && errno == ENOSYS) {
        missing = true;
        return false;
    }
    return true;
#else
    (void)refs, (void)n, (void)vals, (void)until;
    return false;
#endif
}

int32_t __truk_chan_select(int64_t timeout_ms, uint64_t n, const struct truk_chan_ref *refs) {
    static uint32_t rot; /* where the scan starts: no channel starves the others */
    struct timespec t0, t;
    now(&t0);
    spinner sp = {0};
    unsigned sleep_ms = 1;
    uint32_t vals[128];
    for (;;) {
        bool judging = sp.done;
        uint32_t start = n ? rot++ % (uint32_t)n : 0;
        for (uint64_t k = 0; k < n; k++) {
            uint64_t i = (start + k) % n;
            chan_t c = chan_of(refs[i].chan, refs[i].cap, refs[i].elem_size);
            if (ready(&c, judging))
                return (int32_t)i;
        }
        if (timeout_ms == 0 || n == 0)
            return -1;
        if (spin(&sp, TRUK_CHAN_SPIN_US * 1000u))
            continue;
        now(&t);
        int64_t waited = (int64_t)(t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (timeout_ms > 0 && waited >= timeout_ms)
            return -1;
        /* With futex_waitv: sleep on every channel until the deadline, at most
         * TRUK_CHAN_SELECT_BACKSTOP_MS. Without: sleep on the first channel's
         * word; the others are looked at again after a sleep that doubles up
         * to 8 ms while idle. */
        bool all = n <= 128;
        int64_t ms = all ? TRUK_CHAN_SELECT_BACKSTOP_MS : sleep_ms;
        if (timeout_ms > 0 && timeout_ms - waited < ms)
            ms = timeout_ms - waited;
        struct timespec until = truk_ms_after(t, ms);
        for (uint64_t i = 0; i < n; i++) {
            struct truk_chan_header *h = refs[i].chan;
            if (i < 128)
                vals[i] = ld32(&h->sent);
            __atomic_fetch_add(&h->recv_sleepers, 1, __ATOMIC_SEQ_CST);
        }
        bool fence = false; /* one membarrier covers every channel */
        for (uint64_t i = 0; i < n && !fence; i++)
            if (leasable(refs[i].chan)) {
                uint32_t l = ld32(&((struct truk_chan_header *)refs[i].chan)->send_lease);
                fence = l != 0 && l != TRUK_CHAN_LEASE_CLOSED;
            }
        if (fence)
            membarrier();
        bool any = false;
        for (uint64_t i = 0; i < n && !any; i++) {
            chan_t c = chan_of(refs[i].chan, refs[i].cap, refs[i].elem_size);
            any = ready(&c, false);
        }
        if (!any && !(all && waitv(refs, n, vals, &until))) {
            if (ms > sleep_ms)
                until = truk_ms_after(t, sleep_ms);
            futex(&((struct truk_chan_header *)refs[0].chan)->sent, FUTEX_WAIT_BITSET, vals[0], &until);
            if (sleep_ms < 8)
                sleep_ms *= 2;
        }
        for (uint64_t i = 0; i < n; i++)
            __atomic_fetch_sub(&((struct truk_chan_header *)refs[i].chan)->recv_sleepers, 1, __ATOMIC_SEQ_CST);
        sp = (spinner){0};
    }
}
