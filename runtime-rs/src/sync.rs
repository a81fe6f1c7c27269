//! The Truk Mutex and futex waits from Rust, interoperable with runtime-c/fleet.c (layout
//! and algorithm: `struct truk_mutex_layout` in truk_fleet.h).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use crate::layout::{MUTEX_PID_MASK, MUTEX_WAITERS};
use crate::region::{proc_stat, self_ident, Proc};

/// A Truk Mutex living in (shared) memory: 16 bytes, 8-aligned, zero = unlocked.
pub struct Mutex<'a> {
    word: &'a AtomicU32,
    owner: &'a AtomicU64,
}

fn owner_value() -> u64 {
    let (pid, start) = self_ident();
    ((start & 0xffff_ffff) << 32) | pid as u64
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
    /// `p` must point to 16 bytes, 8-aligned, valid for `'a`, used only as a Truk Mutex.
    pub unsafe fn at(p: *mut u8) -> Mutex<'a> {
        Mutex {
            word: &*(p as *const AtomicU32),
            owner: &*(p.add(8) as *const AtomicU64),
        }
    }

    fn took(&self) {
        self.owner.store(owner_value(), Ordering::Relaxed);
    }

    fn holder_dead(&self, word: u32) -> bool {
        let pid = word & MUTEX_PID_MASK;
        let owner = self.owner.load(Ordering::Relaxed);
        match proc_stat(pid) {
            Proc::Dead => true,
            Proc::Alive(start) => owner as u32 == pid && (start & 0xffff_ffff) != owner >> 32,
            Proc::Unknown => false,
        }
    }

    fn cas(&self, from: u32, to: u32) -> bool {
        self.word
            .compare_exchange(from, to, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Blocks until held; true when the previous holder died holding it.
    pub fn lock(&self) -> bool {
        let (pid, _) = self_ident();
        if self.cas(0, pid) {
            self.took();
            return false;
        }
        let cur = self.word.load(Ordering::Relaxed);
        assert!(
            !(cur & MUTEX_PID_MASK == pid && self.owner.load(Ordering::Relaxed) == owner_value()),
            "Mutex: lock by the process that already holds it (deadlock)"
        );
        let mut sleep = Duration::from_millis(1);
        let mut check = false;
        loop {
            let cur = self.word.load(Ordering::Relaxed);
            if cur == 0 {
                if self.cas(0, pid | MUTEX_WAITERS) {
                    self.took();
                    return false;
                }
                continue;
            }
            if check && self.holder_dead(cur) {
                if self.cas(cur, pid | MUTEX_WAITERS) {
                    self.took();
                    return true;
                }
                continue;
            }
            let mut cur = cur;
            if cur & MUTEX_WAITERS == 0 {
                if !self.cas(cur, cur | MUTEX_WAITERS) {
                    continue;
                }
                cur |= MUTEX_WAITERS;
            }
            check = !wait_on(self.word, cur, Some(sleep));
            if check && sleep < Duration::from_millis(64) {
                sleep *= 2;
            }
        }
    }

    /// Takes the Mutex if it is free or its holder is dead; true when acquired.
    pub fn try_lock(&self) -> bool {
        let (pid, _) = self_ident();
        if self.cas(0, pid) {
            self.took();
            return true;
        }
        let cur = self.word.load(Ordering::Relaxed);
        if cur != 0
            && cur & MUTEX_PID_MASK != pid
            && self.holder_dead(cur)
            && self.cas(cur, pid | (cur & MUTEX_WAITERS))
        {
            self.took();
            return true;
        }
        false
    }

    /// Releases the Mutex; Err when this process does not hold it.
    pub fn unlock(&self) -> Result<(), String> {
        let (pid, _) = self_ident();
        if self.word.load(Ordering::Relaxed) & MUTEX_PID_MASK != pid
            || self.owner.load(Ordering::Relaxed) != owner_value()
        {
            return Err("Mutex: unlock by a process that does not hold it".into());
        }
        self.owner.store(0, Ordering::Relaxed);
        if self.word.swap(0, Ordering::Release) & MUTEX_WAITERS != 0 {
            wake(self.word, 1);
        }
        Ok(())
    }
}
