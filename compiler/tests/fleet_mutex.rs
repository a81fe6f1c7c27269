//! The fleet Mutex's owner-death detection with real processes (runtime-c/fleet.c,
//! runtime-rs/src/sync.rs; protocol in truk_fleet.h): the kernel's robust futex list
//! wakes a waiter when the holder dies, execs or leaves; the polling fallback still
//! recovers; glibc's own robust mutexes in the same process keep working.
//! Timing bounds are only "before the backstop time-out" (1 s): a waiter the kernel
//! did not wake cannot answer earlier than that.

mod fleet_support;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use fleet_support::*;

fn agent_exe() -> PathBuf {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| build_agent("agent_mutex", &note(3, 64, REGION_SIZE)))
        .clone()
}

/// The waiters' backstop time-out (TRUK_MUTEX_BACKSTOP_MS).
const BACKSTOP: Duration = Duration::from_millis(1000);

/// Byte offset of agent Mutex 0 in the region file (capacity 64; the shared area starts
/// at truk_fleet_shared_offset(64)).
fn mutex_at() -> u64 {
    truk_runtime::layout::shared_offset(64) + 1024
}

/// The Mutex's bytes as the region file holds them: (word, listed, owner, next).
fn mutex_bytes(f: &Fleet) -> (u32, u32, u64, u64) {
    use std::os::unix::fs::FileExt;
    let mut b = [0u8; 40];
    std::fs::File::open(f.region())
        .unwrap()
        .read_exact_at(&mut b, mutex_at())
        .unwrap();
    let u32_at = |i: usize| u32::from_ne_bytes(b[i..i + 4].try_into().unwrap());
    let u64_at = |i: usize| u64::from_ne_bytes(b[i..i + 8].try_into().unwrap());
    (u32_at(0), u32_at(4), u64_at(8), u64_at(32))
}

/// The agent's next line; if none comes within `limit`, the agent is killed (its line is
/// then empty), so that a waiter nobody wakes fails the test instead of hanging it.
fn line_within(a: &mut Agent, limit: Duration) -> String {
    let pid = a.pid.to_string();
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let watchdog = std::thread::spawn(move || {
        let end = Instant::now() + limit;
        while !d.load(Ordering::SeqCst) && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(10));
        }
        if !d.load(Ordering::SeqCst) {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid])
                .status();
        }
    });
    let line = a.line();
    done.store(true, Ordering::SeqCst);
    watchdog.join().unwrap();
    line
}

/// `waiter` asks for a Mutex that another holds (`lock_cmd`), then `end` ends that hold
/// (kill, exec, exit...): the waiter must be told that the holder died, sooner than its
/// backstop time-out could have told it.
fn told_at_once(f: &mut Fleet, waiter: &mut Agent, lock_cmd: &str, end: impl FnOnce(&mut Fleet)) {
    let t = Instant::now();
    waiter.send(lock_cmd);
    f.pause(50);
    end(f);
    assert_eq!(line_within(waiter, Duration::from_secs(10)), "lock 1");
    assert!(
        t.elapsed() < BACKSTOP,
        "told after {:?}: by the backstop",
        t.elapsed()
    );
}

#[test]
fn a_killed_holder_wakes_its_waiter_at_once() {
    let mut f = Fleet::new("robust", &agent_exe());
    let mut a = f.agent();
    let mut b = f.agent();
    assert_eq!(a.cmd("lock"), "lock 0");
    let (word, listed, _, next) = mutex_bytes(&f);
    assert_eq!(
        (word, listed),
        (a.pid, 1),
        "the holder is on its robust list"
    );
    assert_ne!(next, 0, "the list link is set");
    // A short wait: the kernel wakes b, long before the backstop would.
    told_at_once(&mut f, &mut b, "lock", |f| f.kill(&a));
    // A long wait (the backstop fired once meanwhile, finding the holder alive).
    let mut c = f.agent();
    c.send("lock");
    let t = Instant::now();
    std::thread::sleep(BACKSTOP + Duration::from_millis(300));
    f.kill(&b);
    assert_eq!(line_within(&mut c, Duration::from_secs(10)), "lock 1");
    assert!(
        t.elapsed() < 2 * BACKSTOP,
        "woken after {:?}: by the backstop",
        t.elapsed()
    );
    assert_eq!(c.cmd("unlock"), "ok");
    assert_eq!(
        mutex_bytes(&f),
        (0, 0, 0, 0),
        "unlock leaves all zero bytes"
    );
    c.send("exit 0");
    assert_eq!(f.wait(c.index()), Some(0));
    assert!(f.regions().is_empty());
}

#[test]
fn forced_polling_still_recovers_a_dead_holders_mutex() {
    let mut f = Fleet::new("poll", &agent_exe());
    let poll = [("TRUK_MUTEX_POLL", "1")];
    let mut a = f.agent_started(&agent_exe(), &poll);
    a.wait_joined(&mut f);
    let mut b = f.agent_started(&agent_exe(), &poll);
    b.wait_joined(&mut f);
    assert_eq!(a.cmd("lock"), "lock 0");
    let (word, listed, owner, next) = mutex_bytes(&f);
    assert_eq!(
        (word, listed, owner as u32, next),
        (a.pid, 0, a.pid, 0),
        "not listed"
    );
    b.send("lock");
    f.pause(100);
    f.kill(&a);
    assert_eq!(line_within(&mut b, Duration::from_secs(10)), "lock 1");
    assert_eq!(b.cmd("trylock"), "trylock 0", "held by b now");
    assert_eq!(b.cmd("unlock"), "ok");
    b.send("exit 0");
    assert_eq!(f.wait(b.index()), Some(0));
}

#[test]
fn a_holder_that_execs_leaves_the_mutex_to_the_next_lock() {
    let mut f = Fleet::new("exec", &agent_exe());
    let mut a = f.agent();
    let mut b = f.agent();
    assert_eq!(a.cmd("lock"), "lock 0");
    // Same pid, still alive: only the kernel's walk of the list at exec tells.
    told_at_once(&mut f, &mut b, "lock", |_| a.send("exec"));
    assert!(
        f.child(a.index()).try_wait().unwrap().is_none(),
        "a lives on, as sleep"
    );
    assert_eq!(b.cmd("unlock"), "ok");
}

#[test]
fn a_member_leaving_while_holding_hands_its_mutexes_on() {
    let mut f = Fleet::new("leave", &agent_exe());
    let mut a = f.agent();
    let mut b = f.agent();
    assert_eq!(a.cmd("lock 0"), "lock 0");
    assert_eq!(a.cmd("lock 1"), "lock 0");
    told_at_once(&mut f, &mut b, "lock 0", |_| a.send("exit 0"));
    assert_eq!(f.wait(a.index()), Some(0), "{}", f.stderr_of(a.index()));
    assert_eq!(b.cmd("lock 1"), "lock 1", "the other one too");
}

#[test]
fn glibc_robust_mutexes_of_the_same_process_keep_working() {
    let mut f = Fleet::new("glibc", &agent_exe());
    let mut a = f.agent();
    let mut b = f.agent();
    // Interleave glibc's and our entries on a's one robust list, adding and removing
    // on both sides: list (newest first) P; M0 P; M1 M0 P; M1 M0; P M1 M0; P M0; M2 P M0.
    for (cmd, answer) in [
        ("plock", "plock 0"),
        ("lock 0", "lock 0"),
        ("lock 1", "lock 0"),
        ("punlock", "punlock 0"),
        ("plock", "plock 0"),
        ("unlock 1", "ok"),
        ("lock 2", "lock 0"),
    ] {
        assert_eq!(a.cmd(cmd), answer, "{cmd}");
    }
    let t = Instant::now();
    f.kill(&a);
    // The kernel walked the whole list: every entry, glibc's included, was marked.
    assert_eq!(b.cmd("lock 0"), "lock 1");
    assert_eq!(b.cmd("lock 2"), "lock 1");
    assert!(
        t.elapsed() < BACKSTOP,
        "marked by the kernel, not found by the backstop"
    );
    b.send("plock");
    assert_eq!(
        line_within(&mut b, Duration::from_secs(10)),
        "plock owner-died"
    );
    assert_eq!(b.cmd("trylock 1"), "trylock 1", "unlocked before the kill");
    for cmd in ["punlock", "unlock 0", "unlock 1", "unlock 2"] {
        assert!(matches!(b.cmd(cmd).as_str(), "ok" | "punlock 0"), "{cmd}");
    }
    b.send("exit 0");
    assert_eq!(f.wait(b.index()), Some(0));
}

#[test]
fn a_fork_child_cannot_unlock_and_the_parents_death_still_counts() {
    let mut f = Fleet::new("fork", &agent_exe());
    let mut a = f.agent();
    let mut b = f.agent();
    assert_eq!(a.cmd("lock"), "lock 0");
    assert_eq!(a.cmd("forkunlock"), "child 101", "the child panics");
    assert_eq!(mutex_bytes(&f).0, a.pid, "still the parent's");
    told_at_once(&mut f, &mut b, "lock", |f| f.kill(&a));
    assert_eq!(
        f.stderr_of(a.index()),
        "panic: Mutex: unlock by a process that does not hold it\n"
    );
    assert_eq!(b.cmd("unlock"), "ok");
}

fn agent_build() -> truk_runtime::Build {
    rust_build(&note(3, 64, REGION_SIZE))
}

#[test]
fn rust_and_c_members_notice_each_others_death_on_one_mutex() {
    let mut f = Fleet::new("rustc", &agent_exe());
    let mut a = f.agent();
    let ns = f.ns.clone();
    let join = || {
        truk_runtime::Member::join(&agent_build(), Some(&ns), |_| panic!("not the creator"))
            .expect("Rust joins the C region")
    };
    let m = join();
    // SAFETY: agent Mutex 0, in the region m keeps mapped.
    let mutex = unsafe { truk_runtime::sync::Mutex::at(m.shared().add(1024)) };
    assert!(!mutex.lock());
    assert_eq!(
        mutex_bytes(&f).1,
        1,
        "the Rust holder is on its thread's robust list"
    );
    told_at_once(&mut f, &mut a, "lock", |_| drop(m)); // leaving while holding
                                                       // The C holder is killed while Rust waits.
    let m = join();
    // SAFETY: as above.
    let mutex = unsafe { truk_runtime::sync::Mutex::at(m.shared().add(1024)) };
    let pid = a.pid.to_string();
    let t = Instant::now();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid])
            .status();
    });
    assert!(mutex.lock(), "the C holder died: Rust's lock says so");
    killer.join().unwrap();
    assert!(t.elapsed() < BACKSTOP, "seen after {:?}", t.elapsed());
    mutex.unlock().unwrap();
    f.kill(&a); // reaped: the kernel wakes waiters before the dying process is a zombie
    drop(m);
    assert!(f.regions().is_empty(), "the Rust member was the last");
}
