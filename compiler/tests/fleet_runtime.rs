//! The fleet runtime (runtime-c/fleet.c) with real processes: C members built from
//! fleet_support/agent.c with hand-made notes, each test in its own TRUK_FLEET_NS.

mod fleet_support;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::Stdio;

use fleet_support::*;


#[test]
fn seed_lifecycle_t0_to_t5() {
    lifecycle(Fleet::new("life", &agent_exe()));
}

#[test]
fn aarch64_seed_lifecycle_under_qemu() {
    if let Some(f) = arm_fleet("armlife") {
        lifecycle(f);
    }
}

/// T0 to T5 of the spec's seed scenario.
fn lifecycle(mut f: Fleet) {
    // T0: A creates and writes.
    let mut a = f.agent();
    assert!(a.joined.first, "{:?}", a.joined);
    assert_eq!(a.joined.generation, 1);
    assert_eq!(a.joined.init, "c0ffee");
    assert_eq!(a.cmd("set 1 111"), "ok");
    let region = f.region();
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&region).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    // T1: B attaches, reads A's data, writes more.
    let mut b = f.agent();
    assert!(!b.joined.first);
    assert_eq!(b.joined.tag, a.joined.tag);
    assert_eq!(b.joined.size, 2);
    assert_eq!(b.get(1), 111);
    assert_eq!(b.cmd("set 2 222"), "ok");
    assert_eq!(a.get(2), 222);
    // `truk fleet gc` (native, runtime-rs) agrees that both live: under qemu too, where
    // they recorded their start times from inside the emulator.
    let (code, out, err) = truk(&["fleet", "gc", "--ns", &f.ns]);
    assert_eq!(
        (code, out.as_str()),
        (0, "gc: 0 removed, 1 in use, 0 damaged left untouched\n"),
        "{err}"
    );
    let (_, out, _) = truk(&["fleet", "ls", "--ns", &f.ns]);
    assert!(out.contains("2 of 1024 members"), "{out}");
    // T2: A crashes.
    f.kill(&a);
    assert_eq!(f.regions().len(), 1);
    // T3: C sees A's and B's data; A is reaped.
    let mut c = f.agent();
    assert!(!c.joined.first);
    assert_eq!(c.joined.generation, 1);
    assert_eq!((c.get(1), c.get(2)), (111, 222));
    assert_eq!(c.cmd("size"), "2");
    // T4: B exits; the region stays.
    b.send("exit 0");
    assert_eq!(f.wait(b.index()), Some(0));
    assert_eq!(f.regions().len(), 1);
    assert_eq!(c.cmd("size"), "1");
    assert_eq!(c.get(2), 222);
    // T5: C exits; the region is gone.
    c.send("exit 0");
    assert_eq!(f.wait(c.index()), Some(0));
    assert!(f.regions().is_empty(), "{:?}", f.regions());
}

#[test]
fn last_member_killed_then_fresh_generation() {
    let mut f = Fleet::new("fresh", &agent_exe());
    let mut a = f.agent();
    assert_eq!(a.cmd("set 5 55"), "ok");
    f.kill(&a);
    let left = f.region(); // a left-over: nobody deregistered
    let mut b = f.agent();
    assert!(b.joined.first, "{:?}", b.joined);
    assert_eq!(b.joined.generation, 2);
    assert_ne!(b.joined.tag, a.joined.tag);
    assert_eq!(b.joined.init, "c0ffee", "initializers run again");
    assert_eq!(b.get(5), 0, "a fresh generation is zeroed");
    assert_eq!(b.joined.size, 1);
    assert_eq!(f.region(), left, "same file, new generation");
    b.send("exit 0");
    assert_eq!(f.wait(b.index()), Some(0));
    assert!(f.regions().is_empty());
}

#[test]
fn many_members_at_the_same_instant_make_one_fleet() {
    burst(Fleet::new("burst", &agent_exe()), 24);
}

#[test]
fn aarch64_members_starting_at_once_under_qemu() {
    // Fewer: every member is a qemu process, and qemu starts slowly.
    if let Some(f) = arm_fleet("armburst") {
        burst(f, 8);
    }
}

/// N members released at the same instant make one fleet of one generation.
fn burst(mut f: Fleet, n: usize) {
    let exe = f.exe.clone();
    for _ in 0..n {
        f.start_with(&exe, &["burst"]);
    }
    // Everyone is started and blocked on stdin: release them together.
    for i in 0..n {
        writeln!(f.child(i).stdin.as_mut().unwrap(), "go").unwrap();
    }
    let mut joined = Vec::new();
    for i in 0..n {
        let mut line = String::new();
        BufReader::new(f.child(i).stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        joined.push(Joined::parse(line.trim()).unwrap_or_else(|| panic!("{line:?}")));
    }
    assert_eq!(joined.iter().filter(|j| j.first).count(), 1, "{joined:?}");
    assert!(
        joined
            .iter()
            .all(|j| j.tag == joined[0].tag && j.generation == 1),
        "{joined:?}"
    );
    let mut slots: Vec<u32> = joined.iter().map(|j| j.slot).collect();
    slots.sort();
    slots.dedup();
    assert_eq!(slots.len(), n, "distinct slots");
    let mut check = f.agent();
    assert_eq!(check.get(0), n as u64);
    assert_eq!(check.cmd("size"), (n + 1).to_string());
    for i in 0..n {
        writeln!(f.child(i).stdin.as_mut().unwrap(), "end").unwrap();
    }
    for i in 0..n {
        assert_eq!(f.wait(i), Some(0));
    }
    assert_eq!(check.cmd("size"), "1");
    check.send("exit 0");
    assert_eq!(f.wait(check.index()), Some(0));
    assert!(f.regions().is_empty());
}

/// Runs `total` short-lived `churn` members, `parallel` at a time; returns their
/// (tag, start, end, first) lines.
fn churn(
    f: &mut Fleet,
    total: usize,
    parallel: usize,
    stay_us: u32,
) -> Vec<(String, u64, u64, bool)> {
    let exe = f.exe.clone();
    let stay = stay_us.to_string();
    let mut running: Vec<std::process::Child> = Vec::new();
    let mut out = Vec::new();
    let mut started = 0;
    let finish = |c: std::process::Child, out: &mut Vec<_>| {
        let o = c.wait_with_output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "churn member: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let s = String::from_utf8_lossy(&o.stdout).into_owned();
        let w: Vec<&str> = s.split_whitespace().collect();
        assert_eq!(w.len(), 4, "{s:?}");
        out.push((
            w[0].to_string(),
            w[1].parse().unwrap(),
            w[2].parse().unwrap(),
            w[3] == "1",
        ));
    };
    while started < total || !running.is_empty() {
        while started < total && running.len() < parallel {
            running.push(
                f.command(&exe, &["churn", &stay])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap(),
            );
            started += 1;
        }
        let c = running.remove(0);
        finish(c, &mut out);
    }
    out
}

#[test]
fn churn_keeps_every_increment_and_never_splits() {
    let exe = agent_exe();
    let mut f = Fleet::new("churn", &exe);
    let t = std::time::Instant::now();
    // With a member that stays: every increment of every short-lived member is kept.
    let mut anchor = f.agent();
    let anchored = churn(&mut f, 600, 6, 300);
    assert!(anchored.iter().all(|r| r.0 == anchor.joined.tag && !r.3));
    assert_eq!(anchor.get(0), 600);
    anchor.send("exit 0");
    assert_eq!(f.wait(anchor.index()), Some(0));
    assert!(f.regions().is_empty());
    // Without: regions come and go; members alive at the same time share one generation.
    let free = churn(&mut f, 900, 6, 2000);
    let mut by_start = free.clone();
    by_start.sort_by_key(|r| r.1);
    let mut generations = 0;
    for (i, r) in by_start.iter().enumerate() {
        generations += r.3 as usize;
        for o in &by_start[i + 1..] {
            if o.1 > r.2 {
                break;
            }
            assert_eq!(
                r.0, o.0,
                "members alive at the same time in different regions: {r:?} {o:?}"
            );
        }
    }
    assert!(f.regions().is_empty(), "leaked: {:?}", f.regions());
    eprintln!(
        "churn: {} members, {} generations without an anchor, {:?}",
        anchored.len() + free.len(),
        generations,
        t.elapsed()
    );
}

#[test]
fn sigkill_storm_under_a_mutex() {
    let exe = agent_exe();
    let mut f = Fleet::new("storm", &exe);
    let mut watcher = f.agent();
    let mut rng = 0x2545F4914F6CDD1Du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    // Lockers hold the lock 300us per step: most kills land inside a critical section.
    let mut live: Vec<usize> = Vec::new();
    let mut id = 0;
    let mut kills = 0;
    for _ in 0..6 {
        live.push(f.start_with(&exe, &["locker", &id.to_string(), "100000", "300"]));
        id += 1;
    }
    for round in 0..60 {
        std::thread::sleep(std::time::Duration::from_millis(15 + next() % 20));
        // Every third kill aims at the current holder (the Mutex word names its tid, the pid).
        let holder = (watcher.get(1024 / 8) & 0x3fff_ffff) as u32;
        let pick = match live.iter().position(|&i| f.child(i).id() == holder) {
            Some(p) if round % 3 == 0 => p,
            _ => (next() % live.len() as u64) as usize,
        };
        let victim = live.remove(pick);
        let _ = f.child(victim).kill();
        let _ = f.child(victim).wait();
        kills += 1;
        live.push(f.start_with(&exe, &["locker", &id.to_string(), "100000", "300"]));
        id += 1;
    }
    for v in live.drain(..) {
        let _ = f.child(v).kill();
        let _ = f.child(v).wait();
        kills += 1;
    }
    // Finishers: they run to completion and see a consistent state.
    let finishers: Vec<usize> = (0..3)
        .map(|k| f.start_with(&exe, &["locker", &(100 + k).to_string(), "200", "0"]))
        .collect();
    for i in finishers {
        assert_eq!(f.wait(i), Some(0), "{}", f.stderr_of(i));
    }
    let cell = |off: usize| (off / 8) as u32;
    let a = watcher.get(cell(1064));
    let b = watcher.get(cell(1072));
    let died = watcher.get(cell(1080));
    let done: u64 = (0..128).map(|i| watcher.get(cell(1088) + i)).sum();
    assert_eq!(a, b, "a half-done critical section was not repaired");
    assert_eq!(a, done, "lost or doubled increments");
    assert!(
        died >= 1,
        "no lock() reported a dead holder after {kills} kills"
    );
    assert_eq!(watcher.cmd("size"), "1");
    eprintln!("storm: {id} lockers + 3 finishers, {kills} SIGKILLs, {died} dead holders reported, {done} increments checked");
    watcher.send("exit 0");
    assert_eq!(f.wait(watcher.index()), Some(0));
    assert!(f.regions().is_empty());
}

#[test]
fn mutex_owner_death_unlock_by_stranger_and_try_lock() {
    robust_mutex(Fleet::new("mutex", &agent_exe()));
}

#[test]
fn aarch64_robust_mutex_under_qemu() {
    if let Some(f) = arm_fleet("armmutex") {
        robust_mutex(f);
    }
}

/// A holder SIGKILLed: the next lock says so; unlock by a stranger; try_lock; pid reuse.
fn robust_mutex(mut f: Fleet) {
    let mut a = f.agent();
    let mut b = f.agent();
    assert_eq!(a.cmd("lock"), "lock 0");
    assert_eq!(b.cmd("trylock"), "trylock 0");
    f.kill(&a);
    assert_eq!(b.cmd("lock"), "lock 1", "the holder died: lock says so");
    assert_eq!(b.cmd("unlock"), "ok");
    assert_eq!(b.cmd("trylock"), "trylock 1");
    let mut c = f.agent();
    c.send("unlock");
    assert_eq!(f.wait(c.index()), Some(101));
    assert_eq!(
        f.stderr_of(c.index()),
        "panic: Mutex: unlock by a process that does not hold it\n"
    );
    assert_eq!(b.cmd("size"), "1", "a panic deregisters");
    // A holder killed while another waits: the waiter takes over.
    let mut d = f.agent();
    assert_eq!(b.cmd("unlock"), "ok");
    assert_eq!(d.cmd("lock"), "lock 0");
    b.send("lock");
    f.pause(30);
    f.kill(&d);
    assert_eq!(b.line(), "lock 1");
    assert_eq!(b.cmd("unlock"), "ok");
    // The holder's pid now belongs to another process (another start time): dead holder.
    let mut sleeper = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let (pid, start) = (sleeper.id(), start_time_of(sleeper.id()));
    let write_mutex = |start: u64| {
        use std::os::unix::fs::FileExt;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(f.region())
            .unwrap();
        let mut m = pid.to_ne_bytes().to_vec();
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&(((start & 0xffff_ffff) << 32) | pid as u64).to_ne_bytes());
        let shared = truk_runtime::layout::shared_offset(1024);
        file.write_all_at(&m, shared + 1024).unwrap();
    };
    write_mutex(start);
    assert_eq!(b.cmd("trylock"), "trylock 0", "a live holder keeps it");
    write_mutex(start + 1);
    assert_eq!(b.cmd("lock"), "lock 1", "pid reuse: the holder is dead");
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    b.send("exit 0");
    assert_eq!(f.wait(b.index()), Some(0));
    assert!(f.regions().is_empty());
}

#[test]
fn wait_on_wake_spawn_and_wait_child() {
    futex_and_spawn(Fleet::new("futex", &agent_exe()));
}

#[test]
fn aarch64_wait_on_wake_and_spawn_under_qemu() {
    if let Some(f) = arm_fleet("armfutex") {
        futex_and_spawn(f);
    }
}

/// wait_on/wake between members; spawn starts this binary in the same fleet.
fn futex_and_spawn(mut f: Fleet) {
    let mut a = f.agent();
    let mut b = f.agent();
    assert_eq!(
        a.cmd("waiton 3 1 20"),
        "waiton 1",
        "value differs: returns at once"
    );
    assert_eq!(a.cmd("waiton 3 0 30"), "waiton 0", "time-out");
    a.send("waiton 3 0 -1");
    f.pause(30);
    assert_eq!(b.cmd("wake 3 0"), "woke 0", "count 0 wakes nobody");
    assert_eq!(b.cmd("set 3 1"), "ok");
    assert_eq!(b.cmd("wake 3 10"), "woke 1");
    assert_eq!(a.line(), "waiton 1");
    // spawn: the child is this binary and joins the same fleet.
    // The child shares our stdout: its report, with our region's tag, comes before the
    // answer to waitchild, and on a busy machine even before the pid.
    let first = a.cmd("spawn churn 0");
    let (pid, report) = match first.parse::<i64>() {
        Ok(pid) => (pid, a.cmd(&format!("waitchild {pid}"))),
        Err(_) => {
            let pid = a.line();
            a.send(&format!("waitchild {pid}"));
            (
                pid.parse().unwrap_or_else(|_| panic!("{first:?} {pid:?}")),
                first,
            )
        }
    };
    assert!(pid > 0, "{pid}");
    assert!(
        report.starts_with(&format!("{} ", a.joined.tag)),
        "{report}"
    );
    assert_eq!(a.line(), "0");
    assert_eq!(a.get(0), 1, "the child added to cell 0");
    let pid = a.cmd("spawn nosuchmode");
    assert_eq!(a.cmd(&format!("waitchild {pid}")), "2");
    let pid = a.cmd("spawn sleep");
    unsafe_kill(pid.parse().unwrap());
    assert_eq!(a.cmd(&format!("waitchild {pid}")), "137");
    assert_eq!(a.cmd("waitchild 999999999"), "-1");
}

fn unsafe_kill(pid: i32) {
    let _ = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status();
}

/// Writes a slot of the region by hand: word = status | count | pid << 32.
fn write_slot(region: &std::path::Path, slot: u64, pid: u32, start_time: u64) {
    use std::os::unix::fs::FileExt;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(region)
        .unwrap();
    let word = ((pid as u64) << 32) | 4 | 2;
    let mut bytes = word.to_ne_bytes().to_vec();
    bytes.extend_from_slice(&start_time.to_ne_bytes());
    file.write_all_at(&bytes, truk_runtime::layout::HEADER_SIZE as u64 + truk_runtime::layout::SLOT_SIZE as u64 * slot).unwrap();
}


#[test]
fn dead_zombie_and_reused_pids_are_reaped() {
    let mut f = Fleet::new("reap", &agent_exe());
    let mut a = f.agent();
    let region = f.region();
    // pid reuse: a live pid (A's own) with another start time.
    write_slot(&region, 5, a.pid, start_time_of(a.pid) + 1);
    // a zombie: a child of ours that exited and was not waited for.
    let zombie = std::process::Command::new("true").spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    write_slot(&region, 6, zombie.id(), start_time_of(zombie.id()));
    // a pid that is gone.
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let gone_pid = gone.id();
    gone.wait().unwrap();
    write_slot(&region, 7, gone_pid, 1);
    // a live process with the right start time counts.
    let mut sleeper = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    write_slot(&region, 8, sleeper.id(), start_time_of(sleeper.id()));
    assert_eq!(a.cmd("size"), "2");
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    assert_eq!(a.cmd("size"), "1");
    drop(zombie);
    a.send("exit 0");
    assert_eq!(f.wait(a.index()), Some(0));
    assert!(f.regions().is_empty());
}


#[test]
fn foreign_or_damaged_files_are_refused_and_left_untouched() {
    let exe = agent_exe();
    let mut f = Fleet::new("damaged", &exe);
    let mut a = f.agent();
    let region = f.region();
    let good = std::fs::read(&region).unwrap();
    a.send("exit 0");
    assert_eq!(f.wait(a.index()), Some(0));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("too small", b"hello".to_vec()),
        ("bad magic", vec![0x41; good.len()]),
        ("another build", {
            let mut g = good.clone();
            g[16] ^= 1;
            g
        }),
        ("another layout", {
            let mut g = good.clone();
            g[48] ^= 1;
            g
        }),
        ("protocol", {
            let mut g = good.clone();
            g[8] = 99;
            g
        }),
        ("capacity", {
            let mut g = good.clone();
            g[112] ^= 3;
            g
        }),
        ("truncated", good[..good.len() - 8].to_vec()),
    ];
    for (what, bytes) in cases {
        write_private(&region, &bytes);
        let before = std::fs::metadata(&region).unwrap().modified().unwrap();
        let err = refused(&f, &exe);
        assert!(err.contains("left untouched"), "{what}: {err}");
        assert_eq!(
            std::fs::read(&region).unwrap(),
            bytes,
            "{what}: file changed"
        );
        assert_eq!(
            std::fs::metadata(&region).unwrap().modified().unwrap(),
            before,
            "{what}"
        );
    }
    std::fs::remove_file(&region).unwrap();
    // A symlink or a directory under the name is refused too.
    std::os::unix::fs::symlink("/etc/passwd", &region).unwrap();
    refused(&f, &exe);
    std::fs::remove_file(&region).unwrap();
    std::fs::create_dir(&region).unwrap();
    refused(&f, &exe);
    std::fs::remove_dir(&region).unwrap();
    // A FIFO blocks neither a member nor `truk fleet ls`.
    assert!(std::process::Command::new("mkfifo")
        .arg(&region)
        .status()
        .unwrap()
        .success());
    assert!(refused(&f, &exe).contains("not a regular file"));
    let (code, out, _) = truk(&["fleet", "ls", "--ns", &f.ns]);
    assert_eq!(code, 0);
    assert!(
        out.contains("not a regular file (not a usable region)"),
        "{out}"
    );
    std::fs::remove_file(&region).unwrap();
}

#[test]
fn full_attach_table_is_a_clear_error() {
    let exe = build_agent("agent_cap2", &note(3, 2, REGION_SIZE));
    let mut f = Fleet::new("full", &exe);
    let _a = f.agent();
    let b = f.agent();
    let err = refused(&f, &exe);
    assert!(err.contains("attach table is full (2 members)"), "{err}");
    f.kill(&b);
    let c = f.agent();
    assert_eq!(c.joined.size, 2, "the dead member's slot was reaped");
}

#[test]
fn fleet_namespaces_and_fingerprints_separate_fleets() {
    let exe = agent_exe();
    let other = build_agent("agent_fp2", &note(2, 1024, REGION_SIZE));
    let mut f = Fleet::new("nsA", &exe);
    let mut g = Fleet::new("nsB", &exe);
    let a = f.agent();
    let b = g.agent();
    assert!(a.joined.first && b.joined.first);
    assert_ne!(a.joined.tag, b.joined.tag);
    let c = f.agent_of(&other);
    assert!(c.joined.first, "another fingerprint: another fleet");
    assert_eq!(f.regions().len(), 2);
    assert_eq!(g.regions().len(), 1);
    for bad in ["", "a/b", ".hidden", "x y", &"n".repeat(65)] {
        if bad.is_empty() {
            continue; // empty means the default namespace
        }
        let o = std::process::Command::new(&exe)
            .arg("agent")
            .env("TRUK_FLEET_NS", bad)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(70));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.starts_with("fleet: TRUK_FLEET_NS must be"), "{err}");
    }
}

#[test]
fn full_dev_shm_is_a_clear_error_at_start() {
    let probe = std::process::Command::new("unshare")
        .args([
            "-rm",
            "sh",
            "-c",
            "mount -t tmpfs -o size=64k tmpfs /dev/shm",
        ])
        .output();
    match probe {
        Ok(o) if o.status.success() => {}
        other => {
            eprintln!(
                "skipping: cannot mount a private tmpfs on /dev/shm with `unshare -rm` ({other:?})"
            );
            return;
        }
    }
    let exe = build_agent("agent_big", &note(4, 1024, 1 << 20));
    let f = Fleet::new("shmfull", &exe);
    let o = std::process::Command::new("unshare")
        .args([
            "-rm",
            "sh",
            "-c",
            "mount -t tmpfs -o size=64k tmpfs /dev/shm && exec \"$0\" agent",
        ])
        .arg(&exe)
        .env("TRUK_FLEET_NS", &f.ns)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(70), "{err}");
    assert!(
        err.starts_with("fleet: cannot reserve") && err.contains("No space left"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1);
}

#[test]
fn programs_without_fleets_do_not_link_the_fleet_runtime() {
    let exe = build_c(
        "nofleet",
        "#include \"truk_rt.h\"\n#include <stdio.h>\nint32_t __truk_main(int32_t c, char **v) { (void)c; (void)v; puts(\"hi\"); return 0; }\n",
        &note(5, 1024, 0),
    );
    // The code: no symbol of it defined. libc's `flock`: no relocation against it (gold, which
    // links debug builds, keeps an unused import of code it dropped in `.dynsym`, never bound).
    let syms = std::process::Command::new("nm").arg("--defined-only").arg(&exe).output().unwrap();
    let syms = String::from_utf8_lossy(&syms.stdout);
    for s in ["__truk_fleet_join", "fleet_leave", "__truk_mutex_lock"] {
        assert!(
            !syms.contains(s),
            "{s} linked into a program without fleets"
        );
    }
    let relocs = std::process::Command::new("readelf").arg("-rW").arg(&exe).output().unwrap();
    let relocs = String::from_utf8_lossy(&relocs.stdout);
    assert!(relocs.contains("exit") && !relocs.contains("flock"), "{relocs}");
    let o = std::process::Command::new(&exe).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "hi\n");
}

#[test]
fn rust_and_c_members_share_one_region() {
    use std::sync::atomic::Ordering::SeqCst;
    let mut f = Fleet::new("interop", &agent_exe());
    // C creates, Rust attaches.
    let mut a = f.agent();
    assert_eq!(a.cmd("set 1 7"), "ok");
    let m = truk_runtime::Member::join(&agent_build(), Some(&f.ns), |_| panic!("not the creator"))
        .expect("Rust joins the C region");
    assert!(!m.first());
    assert_eq!(m.generation(), 1);
    assert_eq!(m.path(), f.region());
    assert_eq!(m.shared_u64(8).load(SeqCst), 7);
    assert_eq!(
        format!("{:x}", m.shared_u64(OFF_TAG).load(SeqCst)),
        a.joined.tag
    );
    m.shared_u64(16).store(99, SeqCst);
    assert_eq!(a.get(2), 99);
    // The same Mutex from both sides (agent.c's Mutex is at byte 1024 of the shared area).
    let mutex = unsafe { truk_runtime::sync::Mutex::at(m.shared().add(1024)) };
    assert!(!mutex.lock());
    assert_eq!(a.cmd("trylock"), "trylock 0");
    a.send("lock");
    std::thread::sleep(std::time::Duration::from_millis(20));
    mutex.unlock().unwrap();
    assert_eq!(a.line(), "lock 0", "woken by the Rust unlock");
    assert!(!mutex.try_lock());
    assert!(mutex.unlock().is_err(), "not the holder");
    // wait_on/wake across the two runtimes.
    let word = unsafe { &*(m.shared().add(40) as *const std::sync::atomic::AtomicU32) };
    assert!(!truk_runtime::sync::wait_on(
        word,
        0,
        Some(std::time::Duration::from_millis(10))
    ));
    a.send("waiton 5 0 -1");
    std::thread::sleep(std::time::Duration::from_millis(20));
    word.store(1, SeqCst);
    assert_eq!(truk_runtime::sync::wake(word, 5), 1);
    assert_eq!(a.line(), "waiton 1");
    assert_eq!(a.cmd("size"), "2");
    assert_eq!(m.size(), 2);
    f.kill(&a);
    assert_eq!(m.size(), 1, "the C member's death is seen from Rust");
    assert!(mutex.lock(), "the C holder died: Rust's lock says so");
    mutex.unlock().unwrap();
    m.leave();
    assert!(
        f.regions().is_empty(),
        "the Rust member was the last: it removed the region"
    );
    // Rust creates (its init plays the constant initializers), C attaches.
    let m = truk_runtime::Member::join(&agent_build(), Some(&f.ns), |shared| {
        shared[OFF_INIT..OFF_INIT + 8].copy_from_slice(&0xC0FFEEu64.to_ne_bytes());
        shared[OFF_TAG..OFF_TAG + 8].copy_from_slice(&0x1234u64.to_ne_bytes());
    })
    .unwrap();
    assert!(m.first());
    let mut b = f.agent();
    assert!(!b.joined.first);
    assert_eq!(
        (b.joined.tag.as_str(), b.joined.init.as_str()),
        ("1234", "c0ffee")
    );
    assert_eq!(b.joined.size, 2);
    assert_eq!(b.cmd("add 4 5"), "0");
    assert_eq!(m.shared_u64(32).load(SeqCst), 5);
    drop(m);
    assert_eq!(b.cmd("size"), "1");
    b.send("exit 0");
    assert_eq!(f.wait(b.index()), Some(0));
    assert!(f.regions().is_empty());
    // A damaged file under the name: Rust refuses it too, untouched.
    let path = truk_runtime::member::region_path(&agent_build(), Some(&f.ns)).unwrap();
    write_private(&path, &[7u8; 5000]);
    let err = truk_runtime::Member::join(&agent_build(), Some(&f.ns), |_| {})
        .err()
        .unwrap();
    assert!(
        err.contains("bad magic") && err.contains("left untouched"),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), vec![7u8; 5000]);
}


#[test]
fn truk_fleet_ls_and_gc_on_real_regions() {
    let exe = agent_exe();
    let other = build_agent("agent_ls2", &note(6, 8, 64));
    let mut f = Fleet::new("cli", &exe);
    let a = f.agent();
    let b = f.agent();
    let c = f.agent_of(&other);
    let (code, out, err) = truk(&["fleet", "ls", "--ns", &f.ns]);
    assert_eq!(code, 0, "{err}");
    for (fp, rest) in [
        ("01", "size 4096 bytes  2 of 1024 members"),
        ("06", "size 64 bytes  1 of 8 members"),
    ] {
        let line = format!(
            "{}  ns {}  generation 1  ready  {rest}",
            fp.repeat(32),
            f.ns
        );
        assert!(out.contains(&line), "{out}");
    }
    for (slot, pid) in [(a.joined.slot, a.pid), (b.joined.slot, b.pid)] {
        assert!(
            out.contains(&format!("slot {slot:<5} pid {pid:<8} start time")),
            "{out}"
        );
    }
    let (code, json, _) = truk(&["fleet", "ls", "--json", "--ns", &f.ns]);
    assert_eq!(code, 0);
    assert!(
        json.starts_with("{\"regions\":[{\"path\":\"/dev/shm/truk-"),
        "{json}"
    );
    assert!(
        json.contains(&format!("\"build_fingerprint\":\"{}\"", "01".repeat(32))),
        "{json}"
    );
    assert!(
        json.contains(&format!("\"namespace\":\"{}\"", f.ns)),
        "{json}"
    );
    assert!(
        json.contains(&format!(
            "{{\"pid\":{},\"slot\":{},\"start_time\":",
            a.pid, a.joined.slot
        )),
        "{json}"
    );
    assert!(json.ends_with("\"damaged\":[]}\n"), "{json}");
    // gc keeps regions in use.
    let (code, out, _) = truk(&["fleet", "gc", "--ns", &f.ns]);
    assert_eq!(
        (code, out.as_str()),
        (0, "gc: 0 removed, 2 in use, 0 damaged left untouched\n")
    );
    // Every member SIGKILLed: left-overs that gc removes without starting anything.
    for x in [&a, &b, &c] {
        f.kill(x);
    }
    assert_eq!(f.regions().len(), 2);
    let damaged = f.regions()[0].with_file_name(format!("truk-0-0-{}-{}", "ee".repeat(16), f.ns));
    write_private(&damaged, b"not a region");
    let (code, out, _) = truk(&["fleet", "ls", "--ns", &f.ns]);
    assert_eq!(code, 0);
    assert!(
        out.contains("0 of 1024 members")
            && out.contains("too small to be a Truk fleet region (not a usable region)"),
        "{out}"
    );
    let (code, out, _) = truk(&["fleet", "gc", "--ns", &f.ns]);
    assert_eq!(code, 0);
    assert_eq!(out.matches("removed /dev/shm/truk-").count(), 2, "{out}");
    assert!(
        out.ends_with("gc: 2 removed, 0 in use, 1 damaged left untouched\n"),
        "{out}"
    );
    assert_eq!(std::fs::read(&damaged).unwrap(), b"not a region");
    assert_eq!(f.regions(), vec![damaged]);
    // One-line errors, non-zero exit, no panic.
    let (code, out, err) = truk(&["fleet", "ls", "--ns", "../x"]);
    assert_ne!(code, 0);
    assert!(
        out.is_empty() && err.starts_with("error: --ns") && err.lines().count() == 1,
        "{err}"
    );
}

#[test]
fn a_creator_killed_while_initializing_is_taken_over() {
    let exe = agent_exe();
    let mut f = Fleet::new("initdeath", &exe);
    let slow = [("AGENT_INIT_SLEEP_MS", "5000")];
    // A brand-new region: the slow creator builds it unnamed, so a newcomer never
    // waits for it and creates its own; the killed creator leaves nothing behind.
    let mut s = f.agent_started(&exe, &slow);
    assert_eq!(s.line(), "initializing");
    assert!(
        f.regions().is_empty(),
        "nothing is published before it is complete"
    );
    let mut a = f.agent();
    assert!(a.joined.first && a.joined.generation == 1);
    f.kill(&s);
    assert_eq!(a.cmd("size"), "1");
    // An abandoned region: the slow re-initializer holds it exclusively; a newcomer waits,
    // and when the re-initializer dies half-way it starts the generation itself.
    f.kill(&a);
    let mut s = f.agent_started(&exe, &slow);
    assert_eq!(s.line(), "initializing");
    let mut n = f.agent_started(&exe, &[]);
    std::thread::sleep(std::time::Duration::from_millis(100));
    f.kill(&s);
    n.wait_joined(&mut f);
    assert!(n.joined.first, "{:?}", n.joined);
    assert_eq!(
        n.joined.generation, 2,
        "the dead re-initializer never finished generation 2"
    );
    assert_eq!((n.joined.size, n.joined.init.as_str()), (1, "c0ffee"));
    n.send("exit 0");
    assert_eq!(f.wait(n.index()), Some(0));
    assert!(f.regions().is_empty());
}

/// Two members that wait for each other's writes to shared variables, and a third
/// that the first starts with `spawn` and that adds them up.
const SHARED_PROGRAM: &str = r#"cimport <stdio.h>;
cimport <string.h>;
extern fn printf(fmt: *i8, ...args) : i32;
extern fn strcmp(a: *i8, b: *i8) : i32;
shared var a: u32;
shared var b: u32;
shared var c: u32;
// The value at p once it is not 0; 0 after 30 s (a test that failed never leaves us behind).
fn wait_for(p: *u32) : u32 {
  for var i: i32 = 0; i < 150 && atomic_load(p) == 0; i += 1 {
    wait_on(p, 0, 200);
  }
  return atomic_load(p);
}
fn publish(p: *u32, v: u32) : void {
  atomic_store(p, v);
  wake(p, 16);
}
fn main(argc: i32, argv: **i8) : i32 {
  if argc > 1 && strcmp(argv[1], "b") == 0 {
    printf("b sees a=%u\n", wait_for(&a));
    publish(&b, 22);
    return 0;
  }
  if argc > 1 && strcmp(argv[1], "child") == 0 {
    publish(&c, wait_for(&a) + wait_for(&b));
    return 0;
  }
  publish(&a, 11);
  printf("a sees b=%u\n", wait_for(&b));
  var args: []*u8 = make(@*u8, 1);
  defer delete(args);
  args[0] = "child";
  var status: i32 = wait_child(spawn(args));
  printf("child %d c=%u\n", status, atomic_load(&c));
  return 0;
}
"#;

/// `truk build --target aarch64... [flags]` of `src` into the test's scratch folder.
fn truk_build_arm(name: &str, src: &std::path::Path, flags: &[&str]) -> PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("fleet")
        .join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join(name);
    let (src, out) = (src.to_str().unwrap(), exe.to_str().unwrap());
    let mut args = vec!["build", "--target", ARM, src, "-o", out];
    args.extend_from_slice(flags);
    let (code, _, err) = truk(&args);
    assert_eq!(code, 0, "{err}");
    exe
}

/// Waits for a member started with `start_with` and returns its stdout.
fn output_of(f: &mut Fleet, i: usize) -> String {
    let mut out = String::new();
    use std::io::Read;
    f.child(i)
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let code = f.wait(i);
    assert_eq!(code, Some(0), "{out}{}", f.stderr_of(i));
    out
}

#[test]
fn aarch64_truk_members_share_variables_under_qemu() {
    let Some(runner) = arm_runner() else { return };
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("fleet");
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("arm_shared.truk");
    std::fs::write(&src, SHARED_PROGRAM).unwrap();
    let exe = truk_build_arm("arm_shared", &src, &[]);
    let mut f = Fleet::under("armshared", &exe, runner);
    // Both started from the outside: the first by `truk run` (the same build: the same
    // fleet), which tells it how to spawn the third under qemu; the second under qemu.
    let mut run = std::process::Command::new(env!("CARGO_BIN_EXE_truk"));
    run.args(["run", "--target", ARM])
        .arg(&src)
        .env("TRUK_FLEET_NS", &f.ns);
    let first = f.start_command(run);
    let second = f.start_with(&exe, &["b"]);
    assert_eq!(output_of(&mut f, second), "b sees a=11\n");
    assert_eq!(output_of(&mut f, first), "a sees b=22\nchild 0 c=33\n");
    assert!(f.regions().is_empty(), "{:?}", f.regions());
}

#[test]
fn aarch64_example_fleet_under_qemu() {
    let Some(runner) = arm_runner() else { return };
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/fleet.truk");
    // Release, as ci/example builds it: the leader's single-process check is slow
    // under qemu unoptimized.
    let exe = truk_build_arm("arm_example", &src, &["--release"]);
    let mut f = Fleet::under("armexample", &exe, runner);
    let t = std::time::Instant::now();
    let leader = f.start_with(&exe, &[]);
    let out = output_of(&mut f, leader);
    assert!(out.contains(": 1 chunk(s) handed back"), "the killed worker's replacement: {out}");
    assert!(out.contains("primes below 2560000: 187134 ("), "{out}");
    assert!(f.regions().is_empty(), "{:?}", f.regions());
    eprintln!("example fleet under qemu: {:?}", t.elapsed());
}
