/* truk_fleet.h: the fleet region protocol and the single source of the region
 * layout. fleet.c (linked into programs) and runtime-rs (used by `truk fleet`
 * and by Rust members) both follow it; runtime-rs mirrors these structs with
 * #[repr(C)] and a test compares sizeof/offsetof with this file.
 * The contract is the fleet spec (fleet.md); this is how it is met.
 *
 * ---- Name -----------------------------------------------------------------
 *   /dev/shm/truk-<uid>-<pidns>-<fp32>-<ns>
 *     uid    the effective user id, decimal
 *     pidns  the inode of /proc/self/ns/pid, decimal (containers never share)
 *     fp32   the first 32 hex digits of the build fingerprint
 *     ns     $TRUK_FLEET_NS, or "default": 1 to TRUK_FLEET_NS_MAX characters
 *            of [A-Za-z0-9_.-], not starting with '.'; anything else is an error
 *   The file is mode 0600, owned by that user, with one link. The full
 *   fingerprints are in the header; the name only finds the file.
 *
 * ---- Layout (host byte order: a region never leaves its machine) ----------
 *   [0, TRUK_FLEET_HEADER_SIZE)            struct truk_fleet_header
 *   [table_offset, + capacity * 64)        struct truk_fleet_slot[capacity]
 *   [truk_fleet_exitlog_offset(capacity),   struct truk_fleet_exitlog, then
 *    + 64 + exitlog_len * 32)               struct truk_fleet_exit[exitlog_len]
 *                                          (exitlog_len = 4 * capacity + 256)
 *   [shared_offset, + region_size)         the shared variables, zero-filled on
 *                                          creation; shared_offset is a multiple
 *                                          of TRUK_FLEET_SHARED_ALIGN
 *   [program_offset, + TRUK_FLEET_PROGRAM_SIZE)  the executable path of the member
 *                                          that started the generation, NUL-
 *                                          terminated (readlink /proc/self/exe);
 *                                          program_offset = align(shared end)
 *   [desc_offset, + desc_size)             the description of the shared
 *                                          variables (names, types, offsets:
 *                                          runtime-rs/src/desc.rs), copied from
 *                                          the binary's __truk_fleet_desc (none:
 *                                          size 0); desc_offset = program_offset
 *                                          + TRUK_FLEET_PROGRAM_SIZE. The layout
 *                                          fingerprint covers everything in it.
 *   file_size == desc_offset + desc_size; all pages reserved at creation.
 *   Both are written by whoever starts a generation, before READY; `truk fleet
 *   inspect` needs only the region to show the shared variables.
 *
 * ---- Lifecycle --------------------------------------------------------------
 * Liveness is a flock on the file: every member holds LOCK_SH for its whole
 * life, and the kernel drops it however the process dies.
 *   join:
 *     1. open(name). ENOENT: build a new region as an O_TMPFILE in /dev/shm
 *        (LOCK_SH taken first, posix_fallocate, header, init, register self,
 *        state READY), then linkat it to the name. EEXIST: someone else won,
 *        drop ours and go to 1. Nobody ever sees a half-built region.
 *     2. Check it is a regular file of ours, mode without group/other bits,
 *        at most one link (else refuse, file untouched: a hard link planted by
 *        another user reads and writes the fleet through its other name), then
 *        try LOCK_EX|LOCK_NB.
 *        a. Got it: nobody holds LOCK_SH, so no member lives. If st_nlink == 0
 *           (a leaver unlinked it) go to 1. Validate the header (below; a
 *           failure is fatal and the file is left untouched). If the state is
 *           READY and the table still shows a live member (one caught between
 *           EX and SH, see 3), attach normally. Else start a fresh generation
 *           (generation + 1 also after a re-initializer died): state INIT,
 *           zero table and shared area, init, generation + 1, register self,
 *           state READY. Then convert to LOCK_SH.
 *        b. Not got: take LOCK_SH (blocks while a leaver or a re-initializer
 *           holds LOCK_EX). If st_nlink == 0, go to 1. Check the file again
 *           (mode, links) and validate. If the state
 *           is not READY (a re-initializer died), go to 1. Register.
 *     3. After holding LOCK_SH, re-check st_nlink > 0 (else deregister, go to
 *        1): flock conversions are not promised atomic, so a leaver may have
 *        slipped into the gap; it would only unlink after finding no live
 *        slot, which our registration prevents, but the check is cheap.
 *   leave: free own slot, then convert LOCK_SH to LOCK_EX|LOCK_NB. Got it and
 *     the table shows no live member: unlink the name (we hold EX, so the name
 *     still points at our file: only EX holders unlink, and a new file cannot
 *     be linked over an existing name). Close. Skip the conversion while a
 *     forked child has not taken its slot yet (see fork). The leave signals
 *     are blocked meanwhile.
 *   gc (`truk fleet gc`): open, check and validate (damaged: report, leave),
 *     take LOCK_EX|LOCK_NB, check again, no live slot: unlink.
 *   Before joining, readlink(/proc/self) must be getpid(): in a PID namespace
 *     made without its own /proc, /proc/<pid> is another process (liveness
 *     would judge the wrong ones), so joining is refused there, saying so.
 *
 * ---- fork ---------------------------------------------------------------------
 * The child of a member is a member from the moment fork returns (handlers of
 * pthread_atfork; posix_spawn, which spawn uses, runs none and execs anyway):
 *   prepare  block the leave signals; claim a slot for the child: CLAIMED,
 *            the parent's pid and start time (alive while the parent is).
 *   child    own pid and start time; CAS the reservation's exact word to
 *            CLAIMED(own pid), store start time, ACTIVE (if a reaper freed it
 *            meanwhile, claim a new slot); open a new open file description
 *            via /proc/self/fd/N, mmap it MAP_FIXED over the inherited mapping,
 *            close the inherited descriptor, take LOCK_SH on the new one;
 *            restore the signal mask.
 *   parent   restore the signal mask.
 * Why this is safe: a flock belongs to the open file description (OFD), which
 * lives while any descriptor or mapping refers to it, so until the child has
 * dropped both, the parent's lock is also the child's. Cases:
 *   - The parent dies (any way) before the child took over: death converts
 *     nothing; the shared OFD keeps its LOCK_SH through the child's references,
 *     so no leaver or gc gets LOCK_EX; a reaper may free the reservation (dead
 *     pid), and the child then claims a new slot.
 *   - The parent leaves before the child took over: it sees its pid in a
 *     CLAIMED slot not its own and skips the EX conversion (a failed EX|NB
 *     conversion removes the OFD's lock, a successful one would hold out the
 *     child's LOCK_SH): the shared OFD keeps LOCK_SH as above. If the fork
 *     failed, the reservation makes a last parent leave the region behind, to
 *     be reused or removed like a killed member's.
 *   - The parent leaves after the child took over: it converts the shared OFD.
 *     Got EX: its sweep sees the child's live slot, so no unlink; the EX lasts
 *     until the child drops the inherited references, which it does before
 *     its blocking LOCK_SH. Failed: the OFD has no lock; the child's live slot
 *     keeps any other leaver from unlinking.
 *   - Between dropping the inherited OFD and LOCK_SH on its own, the child is
 *     a live slot without a lock: the "between EX and SH" state of join step
 *     2a, which leavers and newcomers already respect.
 * A Mutex held by the parent at fork stays the parent's (it names the
 * parent); the child's own identity keeps its Mutexes its own.
 *
 * ---- Signals -------------------------------------------------------------------
 * After joining, SIGINT, SIGTERM and SIGHUP whose disposition is SIG_DFL get a
 * handler (mask: all three) that leaves (async-signal-safe: atomics and system
 * calls only; /proc is read with open/read; the region stays mapped, for the
 * kernel's processing of our death) and then dies of the same signal
 * (SIG_DFL, raise, unblock). SIG_IGN and the program's own handlers stay; a
 * handler installed later replaces ours. A signal during join finds no
 * membership and kills as SIGKILL would (the protocol survives that); leave
 * runs with the three blocked, so a signal then waits for it to finish.
 *
 * ---- Validation -------------------------------------------------------------
 * Before anything is written, and before anything read is trusted: a regular
 * file owned by this user, with no group/other permission bits and one link,
 * whose size is at least the header; magic, protocol,
 * header_size, slot_size, both fingerprints, region_size, capacity, offsets and
 * file_size equal to what this binary expects, and file_size == st_size; then
 * (mapped, nothing written yet) the description equal to this binary's.
 *
 * ---- Attach table -----------------------------------------------------------
 * Each slot's `word` is updated only by 64-bit compare-and-swap:
 *   bits  0..1  status (FREE, CLAIMED, ACTIVE)
 *   bits  2..31 claim count, bumped by every claim (so a reaper's CAS cannot
 *               free a slot that was freed and claimed again since it looked)
 *   bits 32..63 pid
 * Claim: CAS FREE -> CLAIMED(pid), store start_time and in_op = 0, store
 * ACTIVE (release).
 * Free (own slot or a dead member's): CAS the exact word seen -> FREE(same
 * count, same pid): a free slot names its last occupant. The one whose CAS
 * freed an ACTIVE slot appends its exit record (see Exit log). A member is dead when /proc/<pid>/task/<pid>/stat (its main
 * thread's stat) is gone, says zombie or dead, or its field 22 (start time,
 * clock ticks since boot) differs from start_time (pid reuse). A CLAIMED slot
 * has no start time yet: only the pid is checked. Every reader, a member
 * about itself included, uses that path: qemu-user fakes /proc/self/stat and
 * /proc/<own pid>/stat for the program it emulates, but not the task path.
 *
 * ---- Exit log ------------------------------------------------------------------
 * Whoever frees an ACTIVE slot (the member itself at leave, or a reaper that
 * found it dead: the CAS on the slot word picks exactly one) appends one
 * record, with the start time read before the CAS:
 *   seq = fetch_add(head, 1); r = &rec[seq % len]; r.stamp = 0; release fence;
 *   r.pid, r.slot, r.start_time; r.stamp = seq + 1 (release);
 *   wake + 1; FUTEX_WAKE(wake, all).
 * Freeing a CLAIMED slot (a fork reservation, a joiner killed before it was
 * ACTIVE) appends nothing: the reservation's pid is reported by its own slot,
 * and a joiner that never became ACTIVE was never a member.
 * A reader (fleet_wait_exit, supervise.c) keeps `next`, the head when it
 * joined, and reads rec[next % len] as a seqlock: stamp (acquire), fields,
 * acquire fence, stamp again; both seq + 1: the record, next + 1. A stamp
 * below seq + 1 is a record claimed but not yet published: the reader waits
 * for it up to TRUK_FLEET_EXIT_STALL_MS, then judges its writer dead (killed
 * between fetch_add and publish) and skips it; a stamp above, or head - next
 * > len, means the reader fell more than len records behind: it goes on at
 * head - len and those older exits are lost to it. A writer killed anywhere
 * leaves at most one skipped hole, never a torn or repeated record, and the
 * log goes on. Each exit is one record, so a reused pid or a reused slot is
 * a new record: nothing is missed for that reason.
 * Sleeping: a reader loads `wake`, looks at the log, then FUTEX_WAITs on
 * `wake` (a publish in between changes it, so the wait returns at once).
 *
 * ---- Choices where the spec is silent ----------------------------------------
 *   - An empty TRUK_FLEET_NS means "default", like an unset one.
 *   - The Mutex is a futex word with the kernel's robust-futex protocol (see
 *     the Mutex section below), not a pthread mutex: the same 40 bytes on every
 *     target, and a holder's death wakes a waiter at once (robust list), or,
 *     where the robust list cannot be used, is found by the waiters polling
 *     the holder's liveness (tid and start time).
 *   - Mutex ownership is per thread (a Truk program is one thread); locking
 *     a Mutex the caller already holds panics instead of deadlocking.
 *   - try_lock also takes over the lock of a dead holder (and says true).
 *   - Leaving while holding a Mutex marks it as a dead holder's (as the kernel
 *     would at exit; in the polling fallback it is one once the process ends):
 *     the next lock() takes it over and returns true.
 *   - A member that exec()s loses its lock (the descriptor is close-on-exec)
 *     but its slot stays live until the process ends; the region then stays
 *     until a later newcomer or `truk fleet gc` finds no live member.
 *   - spawn executes /proc/self/exe; when TRUK_SPAWN_WRAPPER is set (truk
 *     run/test set it for a program they run under qemu-user, which cannot
 *     exec /proc/self/exe without binfmt_misc) it runs the wrapper's words,
 *     then readlink(/proc/self/exe) (qemu answers with the emulated program),
 *     then the arguments.
 *   - Regions are only read by `truk fleet ls/inspect/watch`, without locks; they show and act only on
 *     this user's regions unless --all-users (and say what they skipped), gc
 *     only on this PID namespace's, never on a file that fails validation or
 *     whose owner is not the user its name says.
 *
 * ---- Memory ordering --------------------------------------------------------
 * flock and linkat are system calls whose kernel locks order everything the
 * caller wrote before them against everything the next holder reads after
 * them; the code adds seq_cst fences around them anyway, so no architecture
 * argument is needed. Slot words, state and generation are C11 atomics
 * (acquire loads, release stores, seq_cst CAS).
 */
#ifndef TRUK_FLEET_H
#define TRUK_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define TRUK_FLEET_DIR "/dev/shm"
#define TRUK_FLEET_PREFIX "truk-"
#define TRUK_FLEET_NS_ENV "TRUK_FLEET_NS"
#define TRUK_FLEET_NS_DEFAULT "default"
#define TRUK_FLEET_NS_MAX 64

#define TRUK_FLEET_MAGIC "TRUKFLT\0" /* 8 bytes, the last one NUL */
#define TRUK_FLEET_MAGIC_SIZE 8
#define TRUK_FLEET_PROTOCOL 4 /* 2: the exit log; 3: program path and description; 4: in_op */
#define TRUK_FLEET_HEADER_SIZE 256
#define TRUK_FLEET_SLOT_SIZE 64 /* a cache line: in_op is stored on every channel operation */
#define TRUK_FLEET_SHARED_ALIGN 64 /* a cache line; more than the 16 promised */
#define TRUK_FLEET_FP_SIZE 32
#define TRUK_FLEET_PROGRAM_SIZE 4096
#define TRUK_FLEET_DESC_MAX (1ull << 26) /* the largest description accepted */
#define TRUK_FLEET_EXIT_STATUS 70 /* every failure to join */
#define TRUK_FLEET_EXIT_STALL_MS 1000 /* an unpublished exit record's writer is judged dead after */

/* header.state */
#define TRUK_FLEET_STATE_INIT 1  /* a (re-)initializer is at work */
#define TRUK_FLEET_STATE_READY 2 /* complete; members may attach */

/* slot word */
#define TRUK_SLOT_FREE 0u
#define TRUK_SLOT_CLAIMED 1u
#define TRUK_SLOT_ACTIVE 2u
#define TRUK_SLOT_STATUS_MASK 3u
#define TRUK_SLOT_COUNT_ONE 4u
#define TRUK_SLOT_COUNT_MASK 0xfffffffcu
#define TRUK_SLOT_PID_SHIFT 32

struct truk_fleet_header {
    char magic[TRUK_FLEET_MAGIC_SIZE];       /*   0 TRUK_FLEET_MAGIC */
    uint32_t protocol;                       /*   8 TRUK_FLEET_PROTOCOL */
    uint32_t header_size;                    /*  12 TRUK_FLEET_HEADER_SIZE */
    uint8_t build_fp[TRUK_FLEET_FP_SIZE];    /*  16 from the note */
    uint8_t layout_fp[TRUK_FLEET_FP_SIZE];   /*  48 from the note */
    uint64_t region_size;                    /*  80 shared-variable bytes (note) */
    uint64_t file_size;                      /*  88 desc_offset + desc_size */
    uint64_t table_offset;                   /*  96 == TRUK_FLEET_HEADER_SIZE */
    uint64_t shared_offset;                  /* 104 */
    uint32_t capacity;                       /* 112 attach table slots (note) */
    uint32_t slot_size;                      /* 116 TRUK_FLEET_SLOT_SIZE */
    uint64_t generation;                     /* 120 atomic; 1 for a new region */
    uint32_t state;                          /* 128 atomic; TRUK_FLEET_STATE_* */
    uint32_t creator_pid;                    /* 132 who started this generation */
    uint64_t generation_time;                /* 136 when (Unix seconds) */
    uint64_t program_offset;                 /* 144 the creator's executable path */
    uint64_t program_size;                   /* 152 TRUK_FLEET_PROGRAM_SIZE */
    uint64_t desc_offset;                    /* 160 program_offset + program_size */
    uint64_t desc_size;                      /* 168 bytes of the description */
    uint8_t reserved[TRUK_FLEET_HEADER_SIZE - 176]; /* 176 zero */
};

struct truk_fleet_slot {
    uint64_t word;       /* 0 atomic: status | claim count | pid << 32 */
    uint64_t start_time; /* 8 field 22 of /proc/<pid>/task/<pid>/stat */
    uint64_t in_op;      /* 16 the channel side this member is inside an operation on
                          *    (its lease word's region offset), 0 none: "Channels" */
    uint8_t pad[TRUK_FLEET_SLOT_SIZE - 24];
};

_Static_assert(sizeof(struct truk_fleet_header) == TRUK_FLEET_HEADER_SIZE, "header size");
_Static_assert(offsetof(struct truk_fleet_header, generation) % 8 == 0, "generation aligned");
_Static_assert(sizeof(struct truk_fleet_slot) == TRUK_FLEET_SLOT_SIZE, "slot size");
_Static_assert(TRUK_FLEET_HEADER_SIZE % TRUK_FLEET_SHARED_ALIGN == 0, "header keeps alignment");

/* The exit log (see "Exit log" above): a header, then exitlog_len records. */
#define TRUK_FLEET_EXITLOG_HEADER_SIZE 64
#define TRUK_FLEET_EXIT_RECORD_SIZE 32
struct truk_fleet_exitlog {
    uint64_t head;   /* 0 atomic: sequence numbers claimed so far */
    uint32_t wake;   /* 8 atomic futex word: + 1 after each record is published */
    uint32_t pad0;   /* 12 zero */
    uint8_t reserved[TRUK_FLEET_EXITLOG_HEADER_SIZE - 16]; /* 16 zero */
};
struct truk_fleet_exit {
    uint64_t stamp;      /*  0 atomic: seq + 1 once published, 0 while written */
    uint64_t start_time; /*  8 the member's start time (slot start_time) */
    uint32_t pid;        /* 16 atomic */
    uint32_t slot;       /* 20 atomic */
    uint64_t reserved;   /* 24 zero */
};
_Static_assert(sizeof(struct truk_fleet_exitlog) == TRUK_FLEET_EXITLOG_HEADER_SIZE, "exit log header size");
_Static_assert(sizeof(struct truk_fleet_exit) == TRUK_FLEET_EXIT_RECORD_SIZE, "exit record size");

static inline uint64_t truk_fleet_align(uint64_t x) {
    return (x + TRUK_FLEET_SHARED_ALIGN - 1) & ~(uint64_t)(TRUK_FLEET_SHARED_ALIGN - 1);
}

/* Records in the exit log for `capacity` slots. */
static inline uint64_t truk_fleet_exitlog_len(uint32_t capacity) {
    return 4 * (uint64_t)capacity + 256;
}

/* Where the exit log starts for `capacity` slots (after the table). */
static inline uint64_t truk_fleet_exitlog_offset(uint32_t capacity) {
    return truk_fleet_align((uint64_t)TRUK_FLEET_HEADER_SIZE + (uint64_t)capacity * TRUK_FLEET_SLOT_SIZE);
}

/* Where the shared area starts for `capacity` slots. */
static inline uint64_t truk_fleet_shared_offset(uint32_t capacity) {
    return truk_fleet_align(truk_fleet_exitlog_offset(capacity) + TRUK_FLEET_EXITLOG_HEADER_SIZE +
                            truk_fleet_exitlog_len(capacity) * TRUK_FLEET_EXIT_RECORD_SIZE);
}

/* Where the program path starts: after the shared area. */
static inline uint64_t truk_fleet_program_offset(uint32_t capacity, uint64_t region_size) {
    return truk_fleet_align(truk_fleet_shared_offset(capacity) + region_size);
}

/* ---- The Mutex of truk_rt.h (TRUK_MUTEX_SIZE bytes, zero = unlocked) --------
 *   word    0  uint32 futex word: 0 unlocked, else holder tid | WAITERS, or
 *              OWNER_DIED (| WAITERS) after the kernel saw the holder die
 *   listed  4  uint32 1 while the holder has it on its robust list (below)
 *   owner   8  uint64 (low 32 bits of the holder thread's start time) << 32 |
 *              holder tid, written right after the lock is taken, cleared
 *              before unlock
 *   spare  16  uint64 zero
 *   prev   24  pointer } robust list links, meaningful only to the holder
 *   next   32  pointer } (addresses in its own address space)
 * Death is noticed by the kernel's robust futex list (Documentation/locking/
 * robust-futexes.rst): every thread has one list head, which glibc registers
 * for every thread it starts (struct pthread's robust_head, futex_offset -32
 * on x86_64 and aarch64: the futex word sits 32 bytes before the list's next
 * pointer, as in pthread_mutex_t). A holder joins that list, following
 * glibc's conventions so that both glibc and the kernel keep seeing one
 * consistent list: doubly linked, each entry's prev 8 bytes before its next,
 * the head's prev (glibc's robust_prev) 8 bytes before the head, bit 0 never
 * set (it marks PI mutexes); list_op_pending names the Mutex during lock and
 * unlock. When a thread ends (SIGKILL, exit, exec), the kernel walks its
 * list: a word whose TID bits name that thread becomes OWNER_DIED, WAITERS
 * kept, and one waiter is woken (shared futex wake). That waiter takes the
 * Mutex over by CAS and lock returns true: within a wake-up of the death
 * (ci/bench-fleet: tens of microseconds, as a robust pthread mutex, also
 * after a wait of seconds; polling took 5 ms after a 10 ms wait, 64 ms after
 * a long one).
 * A waiter keeps list_op_pending on the Mutex while it sleeps (as glibc
 * does): if it dies after its wake-up, the kernel wakes the next one. A
 * member that leaves first hands on each listed Mutex it holds in the region
 * the same way (OWNER_DIED, wake), so that no list entry points into the
 * unmapped region. A fork child does not hold its parent's Mutex: glibc
 * empties the child's list and the word names the parent's tid.
 * Waiters sleep on `word` (non-private futex: works across processes) with
 * a one-second backstop time-out after which they check the holder's
 * liveness as below (a holder whose list could not be walked, e.g. a region
 * unmapped under it).
 * Fallback: where the list cannot be joined (get_robust_list fails, as under
 * qemu-user; another futex_offset; TRUK_MUTEX_POLL=1 in the environment; a
 * Mutex outside the fleet's region, which only this process can see), the
 * holder leaves `listed` 0 and its waiters poll: after time-outs of 1 ms,
 * doubling up to 64 ms, they check the holder: tid gone or zombie, or `owner`
 * names the same tid with another start time, means it died holding the lock;
 * the waiter takes it over by CAS on `word` (one winner). A holder that execs
 * is only seen dead in this mode once its process ends. */
struct truk_mutex_layout {
    uint32_t word;
    uint32_t listed;
    uint64_t owner;
    uint64_t spare;
    uint64_t prev;
    uint64_t next;
};
#define TRUK_MUTEX_WAITERS 0x80000000u    /* FUTEX_WAITERS */
#define TRUK_MUTEX_OWNER_DIED 0x40000000u /* FUTEX_OWNER_DIED */
#define TRUK_MUTEX_TID_MASK 0x3fffffffu   /* FUTEX_TID_MASK */
#define TRUK_MUTEX_BACKSTOP_MS 1000
_Static_assert(sizeof(struct truk_mutex_layout) == 40, "mutex size");
_Static_assert(offsetof(struct truk_mutex_layout, next) - offsetof(struct truk_mutex_layout, prev) == 8,
               "prev sits 8 bytes before next, as in glibc's __pthread_list_t");

/* ---- Channels: chan[T, N] of truk_rt.h (chan.c) -------------------------------
 * A channel is inline memory, in the region or anywhere else; all zero bytes
 * is an open, empty channel. Size: TRUK_CHAN_HEADER_SIZE + N * stride, with
 * stride = truk_chan_stride(sizeof T); 16-aligned when T is 1 to 8 bytes
 * (truk_chan_whole: 16-byte cells that move whole, below), else 8-aligned.
 * The compiler's mir/layout.rs computes the same.
 *   header (struct truk_chan_header), then N cells of
 *     state    0  uint64 atomic, below
 *     payload  8  sizeof T bytes, padded to a multiple of 8
 * Positions are u64 counters that only grow; position p lives in cell p % N,
 * lap p / N (its low 32 bits go in the state). `tail` and `head` are hints:
 * every position below tail was claimed by a sender, every one below head was
 * taken by a receiver, and the true next positions are found by walking on
 * from them over cells that show they were. A cell's state:
 *   bits  0..1  kind: EMPTY, WRITING, FULL (3 is not used)
 *   bits  2..31 the mover (WRITING; 0 otherwise): see below
 *   bits 32..63 lap
 * For each lap a cell goes EMPTY(l) -> WRITING(l, me) -> FULL(l) -> EMPTY(l + 1).
 *   send: from t = tail, skip cells that show t was claimed (this lap and not
 *     EMPTY, or a later lap); at EMPTY(lap(t)) CAS to WRITING(lap, me) (the
 *     first try guesses EMPTY without loading the cell first), copy
 *     the message in, CAS WRITING(lap, me) -> FULL(lap), then store tail t+1
 *     if tail is lower (a plain store: racing senders may set it back a
 *     little, never past an unclaimed position). A cell of the previous lap
 *     at t: the channel is full.
 *   recv: from hd = head, skip cells of a later lap; at FULL(lap(hd)) copy the
 *     message out, then CAS FULL(lap) -> EMPTY(lap + 1): the one CAS takes it
 *     (FULL(l) is left only by such a CAS, so if ours wins, the copy was
 *     whole; if it loses, the copy is dropped and we look again), then store
 *     head hd+1 if lower. EMPTY or WRITING of this lap: nothing yet.
 * A receiver killed at any instruction leaves the cell FULL (the message is
 * still there) or EMPTY(l + 1) (it took the message, which is dropped: its
 * program never got it); head may stay behind, and the next receiver walks
 * past. A sender killed between its claim and its commit leaves its cell
 * WRITING. Whoever is blocked behind that cell checks the mover's liveness
 * after a spin and then every TRUK_CHAN_JUDGE_MS; if the mover is dead it
 * CASes the exact word to EMPTY(l + 1): the half-written message is dropped,
 * exactly once, and the position is skipped. No other message moves, so
 * nothing else is lost, duplicated or reordered. The commit is a CAS on the
 * exact WRITING(l, me) word (not a store), so a mover wrongly taken for dead
 * could never overwrite the repair: its CAS fails and it sends again. A
 * release store would be safe only as long as the liveness check never errs,
 * and would save nothing: the wake-up check after it needs a store-load fence
 * (on x86_64 as dear as the CAS), which the CAS gives.
 * Whole cells: when T is 1 to 8 bytes and the cell is 16-aligned, a cell's
 * {state, payload} moves with one 16-byte CAS (cmpxchg16b; LDAXP/STLXP on
 * aarch64) and never shows WRITING: send CASes {EMPTY(l), 0} ->
 * {FULL(l), message} (the first try guesses, as above; a payload other than
 * 0 beside EMPTY, left by a hand-written mover, is CASed on as found), recv
 * CASes {FULL(l), message} -> {EMPTY(l + 1), 0}, so the message it copied is
 * the one it took. A sender killed at any instruction sent or did not; none
 * is ever in anyone's way. The walk, closing and waiting are as below.
 * The mover is (attach-table slot + 1) in its low 17 bits and the low 13
 * bits of that slot's claim count above: dead when the slot no longer has
 * that claim count or its member is dead (pid and start time, as for the
 * table). A process that has not joined a fleet moves as 0, never dead:
 * such a channel is private to it.
 * Closing: `closed` is set once. A sender checks it before its claim and
 * again after (seq_cst); closed by then, it skips its position (EMPTY(l+1))
 * and fails (a whole send CASes its message back out, unless a receiver has
 * already taken it: then it was sent). A receiver that finds nothing reads `closed` and then the cell
 * again: closed and still nothing means drained.
 * Leases (channels in the region, where the kernel has the expedited global
 * membarrier; elsewhere everyone stays in the shared mode above; a member
 * registers for it before it takes its first lease, as the holder's CPU must
 * be interrupted by a taker's membarrier). Each side has a lease
 * word on its own line: 0 shared; a mover id: held, and only that member
 * moves cells out of the side's states, with plain loads and stores (send:
 * payload, then FULL(l) released; receive: copy out, then EMPTY(l + 1)
 * released, the payload left as it is, which the next whole send's first
 * guess then misses once); | REVOKING: being waited out; | CLOSED: never
 * again. Every operation (in both modes) first stores this member's slot's
 * in_op = the side's lease-word offset, then loads the lease with no fence
 * between, and stores in_op = 0 when the attempt ends (never across a wait).
 * Whoever changes a lease word issues membarrier(GLOBAL_EXPEDITED) after its
 * CAS and then reads in_op words: either a member's in_op store is seen, or
 * its lease load sees the new word (asymmetric Dekker, as liburcu's membarrier
 * flavour); it then waits until that in_op changes or its member is dead.
 *   take (after TRUK_CHAN_TAKE_RUN operations in shared mode in a row by
 *     this member, each moving the position hint by one, at a position >=
 *     calm, with no sleeper on the side; a member that finds the hint moved
 *     by another since its own last operation sets calm = position +
 *     TRUK_CHAN_QUIET, once every QUIET / 2 positions at most: time slices
 *     let one of many members run alone for thousands of operations): CAS
 *     0 -> REVOKING | me, membarrier,
 *     one look at every member's in_op (no waiting: with more members than
 *     CPUs one is often preempted inside, and a take that waited for it would
 *     hold up the whole side), CAS -> me if nobody was inside, else -> 0 and
 *     back off. A member meeting REVOKING | x helps (membarrier, wait out x,
 *     CAS -> 0), which also ends a take that others contend with.
 *   takeover (the lease is x, not me): CAS x -> REVOKING | x, calm = position +
 *     backoff (256, times 8 at each takeover or failed take up to 2^22: MPMC
 *     sides stay shared instead of passing leases around), membarrier, wait
 *     out x, CAS -> 0; then the operation goes on in shared mode.
 *   close: closed = 1, then each side's word -> CLOSED | REVOKING | x, wait
 *     out x, -> CLOSED. A receiver says "closed and drained" only once the
 *     send side is CLOSED, and a whole send takes its message back only once
 *     the receive side is (a holder's plain take could race its CAS): either
 *     finishes the close itself, so a closer killed half-way stops nobody.
 * Ring mode (designed, built twice and measured, not used): the receive
 *   holder would take with its head store alone, leaving the cell FULL(l); a
 *   sender finding FULL(l - 1) at t takes it as EMPTY(l) when head > t - cap
 *   (head never passes an untaken position, so no cell needs repair when a
 *   lease is lost), a send holder keeping a copy of head on its own line, and
 *   a sender of a full channel waits on head, not the cell. Against the same
 *   build with the state store kept, alternated runs of chan_bench: SPSC
 *   throughput 0.71x [0.54 .. 0.90] (12 pairs); busy round trip p50, vCPUs
 *   near (C spin 0.09-0.10 us) 0.18 against 0.13 us, far (C spin 0.42 us)
 *   0.70 against 0.44: the sender loads a cell the receiver only read, and its
 *   store then needs a second transaction. Built again with a send holder that
 *   stores blind (its tail exact, the copy of head saying the cell is free):
 *   near 0.12 against 0.13 us, far 0.49 against 0.44 (16-44 runs each). Far
 *   apart, a store to a line the other side only read costs more than taking
 *   one it wrote; so the store stays. The floor is the layout: a channel
 *   pair's bare memory traffic (chan_bench rttmean, CELLS) takes 0.100 us a
 *   round trip near, C spin's one shared line 0.050, the channels 0.110.
 * A holder killed inside an operation sent nothing (its cell is still EMPTY)
 * or took nothing (still FULL), or did the whole step: exactly once or
 * dropped, as above; whoever next finds its lease waits it out only until its
 * death is seen (slot freed or /proc; spinning 64 pauses, then ~50 us naps).
 * A holder *stopped* (SIGSTOP) inside an operation (a window of some tens of
 * instructions) holds up a takeover of its side until it continues or dies:
 * a blocked operation with a time-out returns false at its time-out (a
 * time-out of 0 waits up to TRUK_CHAN_JUDGE_MS for it), one without waits.
 * A sleeper's last look at the cell, after it counted itself, follows a
 * membarrier when the waking side is leased (the holder's store-then-load of
 * the count has no fence): sleeping costs one more system call then.
 * Waiting: a leased receive of a channel the short path serves first spins
 * TRUK_CHAN_AWAIT_TURNS pauses on its cell, reading only, then tries again;
 * otherwise spin for TRUK_CHAN_SPIN_US, then sleep on `sent` (receivers) or
 * `recvd` (senders), counted in recv_sleepers / send_sleepers; the other side
 * bumps the word and wakes only when that count is not 0, after each commit
 * or take (that CAS orders the cell before the count). A sleep lasts at most
 * TRUK_CHAN_JUDGE_MS while a sender is writing in the way and at most
 * TRUK_CHAN_BACKSTOP_MS otherwise: a member killed between its CAS and its
 * wake-up call wakes nobody, and the sleeper finds the change itself. */
#define TRUK_CHAN_HEADER_SIZE 192
#define TRUK_CHAN_CELL_PAYLOAD 8
#define TRUK_CHAN_ALIGN 8
#define TRUK_CHAN_EMPTY 0u
#define TRUK_CHAN_WRITING 1u
#define TRUK_CHAN_FULL 2u
#define TRUK_CHAN_MOVER_MASK 0x3fffffffu
#define TRUK_CHAN_MOVER_SLOT_BITS 17
#define TRUK_CHAN_SPIN_US 20   /* spinning (pauses) before sleeping */
#define TRUK_CHAN_JUDGE_AFTER 64 /* pauses before a mover in the way is judged */
#define TRUK_CHAN_AWAIT_TURNS 128 /* a leased receive's first spin on its cell, before the general path */
#define TRUK_CHAN_JUDGE_MS 1  /* sleep slice while a mover is in the way */
#define TRUK_CHAN_BACKSTOP_MS 50 /* longest sleep: a waker killed before its wake-up call */
#define TRUK_CHAN_SELECT_BACKSTOP_MS 1000 /* chan_select's longest sleep (futex_waitv) */
#define TRUK_CHAN_LEASE_REVOKING 0x40000000u /* lease word: its holder is being waited out */
#define TRUK_CHAN_LEASE_CLOSED 0x80000000u   /* lease word: closed, no lease ever again */
#define TRUK_CHAN_BACKOFF_MIN 256           /* shared-mode positions after a first takeover */
#define TRUK_CHAN_BACKOFF_MAX (1u << 22)    /* ... times 8 up to this */
#define TRUK_CHAN_TAKE_RUN 64               /* a take follows this many shared-mode operations in a row by one member */
#define TRUK_CHAN_QUIET (1u << 16)          /* no take within this many positions of another member's operation */
struct truk_chan_header {
    uint64_t tail;          /*   0 hint: the next position to send to */
    uint32_t send_lease;    /*   8 the send side's lease (below) */
    uint32_t send_backoff;  /*  12 positions of shared mode after the next takeover */
    uint64_t send_calm;     /*  16 no send lease is taken before this position */
    uint8_t pad0[40];
    uint64_t head;          /*  64 hint: the next position to receive from */
    uint32_t recv_lease;    /*  72 the receive side's lease */
    uint32_t recv_backoff;  /*  76 */
    uint64_t recv_calm;     /*  80 */
    uint8_t pad1[40];
    uint32_t sent;          /* 128 futex word: bumped for sleeping receivers */
    uint32_t recvd;         /* 132 futex word: bumped for sleeping senders */
    uint32_t recv_sleepers; /* 136 receivers (and selects) asleep */
    uint32_t send_sleepers; /* 140 senders asleep */
    uint32_t closed;        /* 144 0 open, 1 closed */
    uint8_t pad2[TRUK_CHAN_HEADER_SIZE - 148];
};
_Static_assert(sizeof(struct truk_chan_header) == TRUK_CHAN_HEADER_SIZE, "channel header size");
static inline uint64_t truk_chan_stride(uint64_t elem_size) {
    return TRUK_CHAN_CELL_PAYLOAD + ((elem_size + 7) & ~(uint64_t)7);
}
/* chan.c, for chan_fast.c (the busy leased path, which release builds inline into
 * the program): the general send and receive, and a holder's wake-up of sleepers
 * that also leaves the operation (true). */
__attribute__((visibility("hidden"))) bool __truk_chan_send_slow(void *p, uint64_t cap, uint64_t elem_size,
                                                                 const void *val, int64_t timeout_ms);
__attribute__((visibility("hidden"))) bool __truk_chan_recv_slow(void *p, uint64_t cap, uint64_t elem_size, void *out,
                                                                 int64_t timeout_ms);
__attribute__((visibility("hidden"), cold)) bool __truk_chan_wake_leave(uint32_t *word, uint64_t *inop);
/* Elements that move whole with their state: one 16-byte CAS per send or receive. */
static inline __attribute__((always_inline)) bool truk_chan_whole(uint64_t elem_size) { return elem_size >= 1 && elem_size <= 8; }
/* A pause in a spin loop. */
static inline void truk_cpu_relax(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}
/* `t` plus `ms` milliseconds, for futex deadlines (fleet.c, chan.c); `ms` is
 * clamped so that a huge time-out stays a far, valid deadline. */
static inline struct timespec truk_ms_after(struct timespec t, int64_t ms) {
    if (ms > INT64_MAX / 2)
        ms = INT64_MAX / 2;
    t.tv_sec += (time_t)(ms / 1000);
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}
/* chan_select's view of one channel. */
struct truk_chan_ref {
    void *chan;
    uint64_t cap;
    uint64_t elem_size;
};
/* ---- Tables: table[K, V, N] of truk_rt.h (table.c) ----------------------------
 * A table is inline memory, in the region or anywhere else; all zero bytes is
 * an empty table. Size: TRUK_TABLE_HEADER_SIZE + N * stride, with stride =
 * truk_table_stride(sizeof K, sizeof V); 8-aligned. mir/layout.rs computes
 * the same. Open addressing, linear probing, no entry ever moves.
 *   header (struct truk_table_header), then N slots of
 *     state   0  uint64 atomic, below
 *     key     8  sizeof K bytes, padded to a multiple of 8
 *     value      two copies of sizeof V bytes, each padded to a multiple of 8
 * A slot's state:
 *   bits  0..1  kind: EMPTY, BUSY (a writer is in it), FULL, TOMB (deleted)
 *   bit   2     the current value copy (FULL, TOMB, BUSY: the old one)
 *   bit   3     BUSY only: the slot was FULL (a replace), else an insert
 *   bits  4..33 BUSY: the writer (a channel mover, truk_fleet.h); else a
 *               version, bumped by every commit
 *   bits 34..63 epoch: a slot of another epoch than the header's is EMPTY
 * Readers lock nothing: they read the state (acquire), the key and the
 * current copy, and the state again; unchanged FULL means a consistent copy,
 * because a writer only ever writes the copy that is not current (and the
 * key only of a slot that is not FULL), and every commit changes the
 * version. A reader (or writer) that meets a BUSY replace, of any epoch,
 * waits for it (the writer's next replace could repeat the BUSY word after
 * writing the copy read), and judges its writer after a spin, rolling it
 * back when dead; a BUSY insert is not there yet.
 * Keys come and go (insert, del) under the lock of the key's stripe (hash of
 * the key), one of TRUK_TABLE_STRIPES words: 1 | writer << 1 | (slot + 1) <<
 * 32, the slot written in the lock word before an insert claims it. Only one
 * writer can thus add or remove a given key: no duplicates. Every change of a
 * FULL slot is a CAS on its exact state word, so that of two writers of the
 * same slot exactly one goes ahead and the other looks again:
 *   put, key found in FULL(c, v) (probing as a reader does, no lock): CAS to
 *     BUSY(c, replace, me), write copy !c, store FULL(!c, v + 1). Not found:
 *     take the stripe lock and probe again: found, replace as above; else the
 *     first TOMB or EMPTY slot of the probe, CAS to BUSY(0, insert, me),
 *     write key and copy 0, store FULL(0, v + 1).
 *   del (stripe lock held): CAS FULL(c, v) to TOMB(c, v + 1).
 * (For 8-byte keys the compiler emits get and this replace inline, as
 * table.c's probe8 does them: compiler/src/codegen/table.rs follows any change.)
 * A replace takes no lock because it neither adds nor removes a key: its CAS
 * succeeds only on the very word it probed, so the key it compared was the
 * slot's throughout (a key is written only while its slot is BUSY insert,
 * and every commit bumps the version); a del or another replace of that word
 * makes it fail and look again, and it makes theirs fail while it is BUSY.
 * A writer killed at any instruction of a replace leaves the slot FULL(c, v)
 * (before the CAS: nothing happened), FULL(!c, v + 1) (after the store:
 * whole), or BUSY(c, replace, writer) in between, with copy c untouched:
 * whoever meets that slot (a get, put or del of any key probing through it,
 * table_each) judges the writer after a spin and rolls it back, a CAS of the
 * exact word to FULL(c) with a new version: not at all.
 * A writer waiting for a stripe lock judges its holder after a spin: if it
 * is dead, the slot its lock word names goes back if its BUSY word names the
 * holder (CAS on the exact word): an insert to TOMB; then the lock changes
 * hands. So a killed put or del happened whole or not at all, and no other
 * entry is touched.
 * clear takes every stripe lock in order (repairing dead holders' slots, so
 * no BUSY insert is left), adds 1 to `epoch`, sets `len` to 0 and `stale` to
 * 0, and lets them go: one store makes every slot EMPTY. A replace in flight
 * ends in the old epoch (committed or rolled back): EMPTY now, ordered before
 * the clear; until then a probe of the new epoch waits for it (so that a slot
 * left BUSY by a dead replacer is rolled back, not lost).
 * `len`: an insert adds 1 after its commit, a del takes 1 after its TOMB,
 * each still under its stripe lock, so with every lock held `len` is the
 * number of FULL slots. A writer killed between its commit and its count
 * leaves it off by one: whoever takes a dead holder's lock over sets `stale`
 * first. table_len first takes and lets go every stripe lock that is held
 * (waiting for live holders, taking dead ones over), then returns `len`,
 * unless it is stale: then it takes every stripe lock, counts the FULL
 * slots and BUSY replaces of the epoch, stores that in `len`, clears `stale` and lets the locks go.
 * Tombstones: a TOMB stays (a probe may have to pass it) until a sweep, run
 * by the del whose count `dels` reaches a multiple of
 * TRUK_TABLE_SWEEP_EVERY(N) after it lets its lock go: with every stripe lock
 * held (no key comes or goes, no BUSY insert), each TOMB slot that lies on
 * no FULL (or BUSY replace) key's probe path (from the key's home slot to its slot) becomes EMPTY. No probe
 * for a key in the table thus stops short, so a lock-free reader in flight
 * misses nothing, and every prefix of the sweep is a valid table: a sweeper
 * killed midway is taken over like any lock holder. O(N) every N/8 deletes. */
#define TRUK_TABLE_SWEEP_EVERY(cap) ((cap) / 8 < 16 ? 16 : (cap) / 8)
#define TRUK_TABLE_STRIPES 64
#define TRUK_TABLE_HEADER_SIZE (128 + 8 * TRUK_TABLE_STRIPES)
#define TRUK_TABLE_EMPTY 0u
#define TRUK_TABLE_BUSY 1u
#define TRUK_TABLE_FULL 2u
#define TRUK_TABLE_TOMB 3u
#define TRUK_TABLE_EPOCH_MASK 0x3fffffffu
struct truk_table_header {
    uint64_t epoch; /*   0 clears so far */
    uint8_t pad0[56];
    uint64_t len;   /*  64 entries (inserts - deletes since the last clear) */
    uint64_t stale; /*  72 1: len may be off (a writer died), recount */
    uint64_t dels;  /*  80 deletes so far: every sweep_every(N)th sweeps */
    uint8_t pad1[40];
    uint64_t locks[TRUK_TABLE_STRIPES]; /* 128 stripe locks */
};
_Static_assert(sizeof(struct truk_table_header) == TRUK_TABLE_HEADER_SIZE, "table header size");
static inline uint64_t truk_table_stride(uint64_t key_size, uint64_t value_size) {
    return 8 + ((key_size + 7) & ~(uint64_t)7) + 2 * ((value_size + 7) & ~(uint64_t)7);
}
#endif /* TRUK_FLEET_H */
