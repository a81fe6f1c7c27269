//! The Truk Mutex and futex waits from Rust, interoperable with runtime-c/fleet.c (layout
//! and algorithm: `struct truk_mutex_layout` in truk_fleet.h, which explains the robust
//! list this file joins the same way).

use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::atomic::{compiler_fence, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use crate::layout::{
    MutexLayout, MUTEX_BACKSTOP_MS, MUTEX_OWNER_DIED, MUTEX_TID_MASK, MUTEX_WAITERS,
};
use crate::region::{proc_stat, Proc};

/// A Truk Mutex living in (shared) memory: 40 bytes, 8-aligned, zero = unlocked.
/// Ownership is per thread.
pub struct Mutex<'a> {
    base: *mut u8,
    _memory: PhantomData<&'a MutexLayout>,
}

/// The environment variable that makes waiters poll instead of using the robust list.
pub const POLL_ENV: &str = "TRUK_MUTEX_POLL";
const POLL_MAX: Duration = Duration::from_millis(64);
const OFF_LISTED: usize = std::mem::offset_of!(MutexLayout, listed);
const OFF_OWNER: usize = std::mem::offset_of!(MutexLayout, owner);
const OFF_PREV: usize = std::mem::offset_of!(MutexLayout, prev);
const OFF_NEXT: usize = std::mem::offset_of!(MutexLayout, next);

/// The kernel's `struct robust_list_head` (linux/futex.h), as glibc fills it.
#[repr(C)]
struct RobustListHead {
    list: usize,
    futex_offset: libc::c_long,
    list_op_pending: usize,
}

/// Who this thread is, for the Mutex: tid, owner value, robust list head (0: poll).
#[derive(Clone, Copy)]
struct Me {
    tid: u32,
    owner: u64,
    head: usize,
}

thread_local! {
    static ME: Cell<Option<Me>> = const { Cell::new(None) };
}

extern "C" {
    fn pthread_atfork(
        prepare: Option<extern "C" fn()>,
        parent: Option<extern "C" fn()>,
        child: Option<extern "C" fn()>,
    ) -> libc::c_int;
}

/// In a fork child: another tid, and glibc emptied the child's robust list.
extern "C" fn forget_after_fork() {
    let _ = ME.try_with(|m| m.set(None));
}

/// This thread's robust list head when it has glibc's layout (the futex word 32 bytes
/// before the next link), else 0 (qemu-user: ENOSYS).
fn robust_head() -> usize {
    if std::env::var(POLL_ENV).is_ok_and(|v| !v.is_empty() && v != "0") {
        return 0;
    }
    let mut head: *mut RobustListHead = std::ptr::null_mut();
    let mut len: libc::size_t = 0;
    // SAFETY: get_robust_list of this thread into two locals.
    let r = unsafe { libc::syscall(libc::SYS_get_robust_list, 0, &mut head, &mut len) };
    if r != 0 || head.is_null() || len != std::mem::size_of::<RobustListHead>() {
        return 0;
    }
    // SAFETY: the kernel holds this pointer as this thread's list head: glibc's, live
    // as long as the thread.
    let off = unsafe { (*head).futex_offset };
    if off != -(OFF_NEXT as libc::c_long) {
        return 0;
    }
    head as usize
}

fn me() -> Me {
    if let Some(m) = ME.with(Cell::get) {
        return m;
    }
    static ATFORK: std::sync::Once = std::sync::Once::new();
    // SAFETY: registers a handler that only resets a thread-local.
    ATFORK.call_once(|| unsafe {
        pthread_atfork(None, None, Some(forget_after_fork));
    });
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) } as u32;
    let start = match proc_stat(tid) {
        Proc::Alive(start) => start,
        _ => 0,
    };
    let m = Me {
        tid,
        owner: ((start & 0xffff_ffff) << 32) | tid as u64,
        head: robust_head(),
    };
    ME.with(|c| c.set(Some(m)));
    m
}

/// Reads and writes of list links: plain memory of this thread's list (glibc's entries
/// included), ordered against each other for the kernel that walks it when we die.
unsafe fn link_read(at: usize) -> usize {
    std::ptr::read_volatile(at as *const usize)
}
unsafe fn link_write(at: usize, v: usize) {
    std::ptr::write_volatile(at as *mut usize, v);
    compiler_fence(Ordering::SeqCst);
}
/// The prev link of the entry whose next link is at `next`.
fn link_prev(next: usize) -> usize {
    (next & !1) - 8
}

/// Sleeps while `*word == expected` (non-private futex), at most `timeout` (None: no
/// limit). Returns false on time-out.
pub fn wait_on(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> bool {
    let ts = timeout.map(|d| libc::timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64 / 2) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    });
    let tp = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: FUTEX_WAIT on a live, aligned u32; a relative time-out or NULL.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            tp,
        )
    };
    !(r != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ETIMEDOUT))
}

/// Wakes up to `count` sleepers on `word`; returns how many were woken.
pub fn wake(word: &AtomicU32, count: u32) -> u32 {
    if count == 0 {
        return 0;
    }
    // SAFETY: FUTEX_WAKE on a live, aligned u32.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            count.min(i32::MAX as u32),
        )
    };
    r.max(0) as u32
}

impl<'a> Mutex<'a> {
    /// The Mutex at `p`.
    ///
    /// # Safety
    /// `p` must point to 40 bytes, 8-aligned, valid for `'a`, used only as a Truk Mutex,
    /// and stay mapped while a thread of this process holds it (the thread's robust list
    /// points into it; `Member`'s drop hands on what the dropping thread holds).
    pub unsafe fn at(p: *mut u8) -> Mutex<'a> {
        Mutex {
            base: p,
            _memory: PhantomData,
        }
    }

    fn word(&self) -> &AtomicU32 {
        // SAFETY: `at`'s contract: 40 live, aligned bytes.
        unsafe { &*(self.base as *const AtomicU32) }
    }
    fn listed(&self) -> &AtomicU32 {
        // SAFETY: as in word().
        unsafe { &*(self.base.add(OFF_LISTED) as *const AtomicU32) }
    }
    fn owner(&self) -> &AtomicU64 {
        // SAFETY: as in word().
        unsafe { &*(self.base.add(OFF_OWNER) as *const AtomicU64) }
    }
    fn next_link(&self) -> usize {
        self.base as usize + OFF_NEXT
    }

    fn set_pending(&self, me: &Me, on: bool) {
        if me.head != 0 {
            let v = if on { self.next_link() } else { 0 };
            // SAFETY: list_op_pending of this thread's live list head.
            unsafe {
                link_write(
                    me.head + std::mem::offset_of!(RobustListHead, list_op_pending),
                    v,
                )
            };
        }
    }

    /// Puts this Mutex first on the thread's list (glibc's ENQUEUE_MUTEX).
    fn list_add(&self, head: usize) {
        let next = self.next_link();
        // SAFETY: the head and every entry of this thread's list are live (see `at`).
        unsafe {
            let first = link_read(head);
            link_write(link_prev(first), next);
            link_write(next, first);
            link_write(self.base as usize + OFF_PREV, head);
            link_write(head, next);
        }
    }

    fn list_del(&self) {
        let (prev_at, next_at) = (self.base as usize + OFF_PREV, self.next_link());
        // SAFETY: as in list_add.
        unsafe {
            let (prev, next) = (link_read(prev_at), link_read(next_at));
            link_write(link_prev(next), prev);
            link_write(prev & !1, next);
            link_write(prev_at, 0);
            link_write(next_at, 0);
        }
    }

    /// Just acquired (list_op_pending, if any, names this Mutex): record ourselves.
    fn took(&self, me: &Me) {
        if me.head != 0 {
            self.list_add(me.head);
            self.set_pending(me, false);
        }
        self.owner().store(me.owner, Ordering::Relaxed);
        self.listed()
            .store((me.head != 0) as u32, Ordering::Relaxed);
    }

    fn mine(&self, me: &Me, word: u32) -> bool {
        word & MUTEX_TID_MASK == me.tid && self.owner().load(Ordering::Relaxed) == me.owner
    }

    /// Did the holder named by `word` die? OWNER_DIED says so, else /proc.
    fn holder_dead(&self, word: u32) -> bool {
        let tid = word & MUTEX_TID_MASK;
        if word & MUTEX_OWNER_DIED != 0 || tid == 0 {
            return true;
        }
        let owner = self.owner().load(Ordering::Relaxed);
        match proc_stat(tid) {
            Proc::Dead => true,
            Proc::Alive(start) => owner as u32 == tid && (start & 0xffff_ffff) != owner >> 32,
            Proc::Unknown => false,
        }
    }

    /// Will the kernel wake us when the holder named by `word` dies?
    fn holder_listed(&self, word: u32) -> bool {
        self.listed().load(Ordering::Relaxed) != 0
            && self.owner().load(Ordering::Relaxed) as u32 == word & MUTEX_TID_MASK
    }

    fn cas(&self, from: u32, to: u32) -> bool {
        self.word()
            .compare_exchange(from, to, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Blocks until held; true when the previous holder died holding it.
    pub fn lock(&self) -> bool {
        let me = me();
        self.set_pending(&me, true);
        if self.cas(0, me.tid) {
            self.took(&me);
            return false;
        }
        if self.mine(&me, self.word().load(Ordering::Relaxed)) {
            self.set_pending(&me, false);
            panic!("Mutex: lock by the process that already holds it (deadlock)");
        }
        let mine = me.tid | MUTEX_WAITERS;
        let mut poll = Duration::from_millis(1);
        let mut check = false;
        loop {
            let mut cur = self.word().load(Ordering::Relaxed);
            if cur == 0 {
                if self.cas(0, mine) {
                    self.took(&me);
                    return false;
                }
                continue;
            }
            if (check || cur & MUTEX_OWNER_DIED != 0) && self.holder_dead(cur) {
                if self.cas(cur, mine) {
                    self.took(&me);
                    return true;
                }
                continue;
            }
            if cur & MUTEX_WAITERS == 0 {
                if !self.cas(cur, cur | MUTEX_WAITERS) {
                    continue;
                }
                cur |= MUTEX_WAITERS;
            }
            let listed = self.holder_listed(cur);
            let sleep = if listed {
                Duration::from_millis(MUTEX_BACKSTOP_MS)
            } else {
                poll
            };
            check = !wait_on(self.word(), cur, Some(sleep));
            if check && !listed && poll < POLL_MAX {
                poll *= 2;
            }
        }
    }

    /// Takes the Mutex if it is free or its holder is dead; true when acquired.
    pub fn try_lock(&self) -> bool {
        let me = me();
        self.set_pending(&me, true);
        if self.cas(0, me.tid) {
            self.took(&me);
            return true;
        }
        let cur = self.word().load(Ordering::Relaxed);
        if cur != 0
            && cur & MUTEX_TID_MASK != me.tid
            && self.holder_dead(cur)
            && self.cas(cur, me.tid | (cur & MUTEX_WAITERS))
        {
            self.took(&me);
            return true;
        }
        self.set_pending(&me, false);
        false
    }

    /// Releases the Mutex, which we hold; `died` marks it a dead holder's instead.
    fn release(&self, me: &Me, died: bool) {
        let listed = me.head != 0 && self.listed().load(Ordering::Relaxed) != 0;
        self.owner().store(0, Ordering::Relaxed);
        self.listed().store(0, Ordering::Relaxed);
        if listed {
            self.set_pending(me, true);
            self.list_del();
        }
        let old = if died {
            let mut old = self.word().load(Ordering::Relaxed);
            while let Err(now) = self.word().compare_exchange(
                old,
                (old & MUTEX_WAITERS) | MUTEX_OWNER_DIED,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                old = now;
            }
            old
        } else {
            self.word().swap(0, Ordering::Release)
        };
        if old & MUTEX_WAITERS != 0 {
            wake(self.word(), 1);
        }
        if listed {
            self.set_pending(me, false);
        }
    }

    /// Releases the Mutex; Err when this thread does not hold it.
    pub fn unlock(&self) -> Result<(), String> {
        let me = me();
        if !self.mine(&me, self.word().load(Ordering::Relaxed)) {
            return Err("Mutex: unlock by a process that does not hold it".into());
        }
        self.release(&me, false);
        Ok(())
    }
}

/// Before `[base, base + size)` is unmapped: every Mutex in it that this thread holds is
/// handed on as a dead holder's (the next lock returns true), and leaves the thread's
/// robust list, which must not point into unmapped memory.
pub fn abandon_in(base: *mut u8, size: usize) {
    let Some(me) = ME.with(Cell::get) else {
        return;
    };
    if me.head == 0 {
        return;
    }
    // SAFETY: walks this thread's live list (bounded, as the kernel does).
    let mut e = unsafe { link_read(me.head) } & !1;
    for _ in 0..4096 {
        if e == me.head {
            break;
        }
        let next = unsafe { link_read(e) } & !1;
        let m = e.wrapping_sub(OFF_NEXT);
        if m.wrapping_sub(base as usize) < size {
            // SAFETY: an entry in the region: a Mutex (see `at`).
            let mutex = unsafe { Mutex::at(m as *mut u8) };
            if mutex.mine(&me, mutex.word().load(Ordering::Relaxed)) {
                mutex.release(&me, true);
            }
        }
        e = next;
    }
}
