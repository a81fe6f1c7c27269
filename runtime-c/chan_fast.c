/* chan_fast.c: the entry points of the busy leased path of chan[T, N], whose
 * steps are chan_fast.h's (chan.c has the rest).
 * A leased send or receive of a message of 1 to 8 bytes, the cell at the
 * position hint ready, a power-of-two capacity: most of what such an
 * operation cost was the set-up of the general path (chan_t, side_t, the
 * waiter, saved registers), so it runs here first with none of it: no stack
 * frame, no call but tail calls. The same steps in the same order as chan.c's
 * leased_op with fast_send or fast_recv: in_op, then the lease (no fence: see
 * op_enter); the payload, then the state (release); the hint; the wake-up
 * (which leaves the operation itself); in_op back to 0. Anything else: out of
 * the operation with nothing moved, and the general path starts over.
 *
 * Release builds inline these two functions into the program: the driver
 * compiles this file to LLVM bitcode as well (compiler/src/driver/inline_rt.rs)
 * and loads it as available_externally definitions, so the capacity and the
 * element size are constants there; this object keeps the real definitions.
 * So everything here reaches chan.c only through hidden external functions,
 * holds no data of its own, and its static functions are always inlined. */
#define _GNU_SOURCE
#include "chan_fast.h"

bool __truk_chan_send(void *p, uint64_t cap, uint64_t elem_size, const void *val, int64_t timeout_ms) {
    return chan_short_send(p, cap, elem_size, val, timeout_ms);
}

bool __truk_chan_recv(void *p, uint64_t cap, uint64_t elem_size, void *out, int64_t timeout_ms) {
    return chan_short_recv(p, cap, elem_size, out, timeout_ms);
}
