//! Hostile conditions for fleets, with real processes: region files others could reach,
//! PID namespaces without their own /proc, members that fork, and members killed by
//! SIGINT/SIGTERM/SIGHUP. Each test runs in its own TRUK_FLEET_NS.

mod fleet_support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use fleet_support::*;

/// The status word of `slot` in the region file (0 free, 1 claimed, 2 active).
fn slot_status(region: &Path, slot: u32) -> u64 {
    use std::os::unix::fs::FileExt;
    let mut w = [0u8; 8];
    std::fs::File::open(region)
        .unwrap()
        .read_exact_at(&mut w, truk_runtime::layout::HEADER_SIZE as u64 + truk_runtime::layout::SLOT_SIZE as u64 * slot as u64)
        .unwrap();
    u64::from_ne_bytes(w) & 3
}

/// A dead region of this namespace (its only member SIGKILLed): path and bytes.
fn left_over(f: &mut Fleet) -> (PathBuf, Vec<u8>) {
    let a = f.agent();
    f.kill(&a);
    let region = f.region();
    let bytes = std::fs::read(&region).unwrap();
    (region, bytes)
}

/// Asserts that nothing about `path` changed: bytes, mode, mtime, link count.
fn untouched(path: &Path, bytes: &[u8], before: &std::fs::Metadata, what: &str) {
    let now = std::fs::metadata(path).unwrap();
    assert_eq!(std::fs::read(path).unwrap(), bytes, "{what}: contents changed");
    assert_eq!(now.mode(), before.mode(), "{what}: mode changed");
    assert_eq!(now.mtime_nsec(), before.mtime_nsec(), "{what}: written");
    assert_eq!(now.nlink(), before.nlink(), "{what}: links changed");
}

#[test]
fn region_files_that_others_could_reach_are_refused_and_left_untouched() {
    let exe = agent_exe();
    let mut f = Fleet::new("reach", &exe);
    let (region, bytes) = left_over(&mut f);
    let planted = region.with_file_name(format!("planted-{}", f.ns));
    let build = agent_build();
    for (what, mode, link) in [
        ("mode 0666", 0o666, false),
        ("mode 0640", 0o640, false),
        ("mode 0604", 0o604, false),
        ("a second link", 0o600, true),
    ] {
        std::fs::set_permissions(&region, PermissionsExt::from_mode(mode)).unwrap();
        if link {
            std::fs::hard_link(&region, &planted).unwrap();
        }
        let before = std::fs::metadata(&region).unwrap();
        let err = refused(&f, &exe);
        let expect = if link { "has 2 links" } else { "has mode 0" };
        assert!(
            err.contains(expect) && err.contains("left untouched"),
            "{what}: {err}"
        );
        untouched(&region, &bytes, &before, what);
        // The Rust runtime (Rust members, `truk fleet`) refuses it too.
        let e = truk_runtime::Member::join(&build, Some(&f.ns), |_| {})
            .err()
            .unwrap_or_else(|| panic!("{what}: Rust joined"));
        assert!(e.contains(expect), "{what}: {e}");
        let (code, out, _) = truk(&["fleet", "gc", "--ns", &f.ns]);
        assert_eq!(code, 0);
        assert!(
            out.contains("left untouched") && out.contains(expect),
            "{what}: {out}"
        );
        let (_, out, _) = truk(&["fleet", "ls", "--ns", &f.ns]);
        assert!(out.contains(expect), "{what}: {out}");
        untouched(&region, &bytes, &before, what);
        if link {
            std::fs::remove_file(&planted).unwrap();
        }
    }
    // Back to 0600 and one link: joined, and the dead generation replaced.
    std::fs::set_permissions(&region, PermissionsExt::from_mode(0o600)).unwrap();
    let mut a = f.agent();
    assert_eq!((a.joined.generation, a.joined.first), (2, true));
    a.send("exit 0");
    assert_eq!(f.wait(a.index()), Some(0));
    assert!(f.regions().is_empty());
}

#[test]
fn ls_and_gc_act_on_the_callers_regions_unless_all_users() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipping: needs root to give region files to another user");
        return;
    }
    let exe = agent_exe();
    let mut f = Fleet::new("users", &exe);
    let (region, bytes) = left_over(&mut f);
    let name = region.file_name().unwrap().to_str().unwrap().to_string();
    // Another user's dead region (named for uid 4242, owned by it), and a foreign file:
    // named for us but owned by uid 4243.
    let theirs = region.with_file_name(name.replacen("truk-0-", "truk-4242-", 1));
    std::fs::rename(&region, &theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(4242), None).unwrap();
    write_private(&region, &bytes);
    std::os::unix::fs::chown(&region, Some(4243), None).unwrap();
    let (code, out, err) = truk(&["fleet", "ls", "--ns", &f.ns]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!(
            "{}: owned by uid 4243, not by uid 0 as its name says (a foreign file; left alone)",
            region.display()
        )),
        "{out}"
    );
    assert!(!out.contains("4242-"), "another user's region listed: {out}");
    assert!(
        out.contains("1 region of other users not shown (--all-users shows them)"),
        "{out}"
    );
    let (_, out, _) = truk(&["fleet", "ls", "--all-users", "--ns", &f.ns]);
    assert!(
        out.contains(&format!("ns {}  generation 1  ready  size 4096 bytes  0 of 1024", f.ns)),
        "{out}"
    );
    let (_, json, _) = truk(&["fleet", "ls", "--json", "--all-users", "--ns", &f.ns]);
    assert!(json.contains("\"uid\":4242"), "{json}");
    let (code, out, _) = truk(&["fleet", "gc", "--ns", &f.ns]);
    assert_eq!(code, 0);
    assert!(
        out.contains(&format!("skipped {} (uid 4242's; --all-users to include it)", theirs.display())),
        "{out}"
    );
    assert!(out.contains("left untouched") && out.contains("owned by uid 4243"), "{out}");
    assert!(
        out.ends_with("gc: 0 removed, 0 in use, 1 damaged left untouched, 1 of other users skipped\n"),
        "{out}"
    );
    assert!(theirs.exists() && region.exists());
    let (_, out, _) = truk(&["fleet", "gc", "--all-users", "--ns", &f.ns]);
    assert!(out.contains(&format!("removed {}", theirs.display())), "{out}");
    assert!(!theirs.exists(), "--all-users removes another user's dead region");
    assert_eq!(std::fs::read(&region).unwrap(), bytes, "the foreign file stays");
    std::fs::remove_file(&region).unwrap();
}

#[test]
fn a_pid_namespace_without_its_own_proc_is_refused() {
    let exe = agent_exe();
    let f = Fleet::new("pidns", &exe);
    let probe = std::process::Command::new("unshare")
        .args(["--pid", "--fork", "true"])
        .output();
    if !probe.as_ref().is_ok_and(|o| o.status.success()) {
        eprintln!("skipping: `unshare --pid --fork` is not permitted here ({probe:?})");
        return;
    }
    let run = |args: &[&str]| {
        let mut c = std::process::Command::new("unshare");
        c.args(args)
            .arg(&exe)
            .arg("churn")
            .env("TRUK_FLEET_NS", &f.ns)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let o = run(&["--pid", "--fork"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(70), "{err}");
    assert!(
        err.starts_with("fleet: /proc is not this PID namespace's own (/proc/self is ")
            && err.contains("getpid() is 1)")
            && err.contains("unshare --pid --fork --mount-proc")
            && err.lines().count() == 1,
        "{err}"
    );
    assert!(f.regions().is_empty(), "nothing created: {:?}", f.regions());
    // `truk fleet gc` would judge liveness by the wrong processes too: refused.
    let o = std::process::Command::new("unshare")
        .args(["--pid", "--fork"])
        .arg(env!("CARGO_BIN_EXE_truk"))
        .args(["fleet", "gc"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        err.contains("/proc is not this PID namespace's own") && err.lines().count() == 1,
        "{err}"
    );
    // With its own /proc it is a fleet of its own, and cleans up after itself.
    let o = run(&["--pid", "--fork", "--mount-proc"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).ends_with(" 1\n"), "{o:?}");
    assert!(f.regions().is_empty(), "{:?}", f.regions());
}

#[test]
fn a_forked_child_is_a_member_of_its_own() {
    forked_child(Fleet::new("fork", &agent_exe()));
}

#[test]
fn aarch64_forked_child_under_qemu() {
    if let Some(f) = arm_fleet("armfork") {
        forked_child(f);
    }
}

/// Own slot, own Mutex identity, outlives the parent, a grandchild; the last removes.
fn forked_child(mut f: Fleet) {
    let mut a = f.agent();
    assert_eq!(a.cmd("lock"), "lock 0");
    let mut c = f.fork_agent(&mut a, "");
    let pid: u32 = a.line().parse().unwrap();
    assert_eq!(pid, c.pid);
    assert_ne!(c.joined.slot, a.joined.slot, "own slot");
    assert_eq!((c.joined.size, c.joined.first), (2, false));
    assert_eq!(c.joined.tag, a.joined.tag);
    assert_eq!(slot_status(&f.region(), c.joined.slot), 2, "active");
    // The Mutex the parent held at fork stays the parent's.
    assert_eq!(c.cmd("trylock"), "trylock 0");
    assert_eq!(a.cmd("unlock"), "ok");
    assert_eq!(c.cmd("lock"), "lock 0");
    assert_eq!(c.cmd("set 3 33"), "ok");
    // The parent leaves; the child, holding the Mutex, keeps the region and its data,
    // and a newcomer does not take its Mutex for a dead holder's.
    a.send("exit 0");
    assert_eq!(f.wait(a.index()), Some(0));
    assert_eq!(f.regions().len(), 1);
    let mut b = f.agent();
    assert_eq!((b.joined.size, b.joined.generation), (2, 1));
    assert_eq!(b.get(3), 33);
    assert_eq!(b.cmd("trylock"), "trylock 0", "the child holds it and lives");
    assert_eq!(c.cmd("unlock"), "ok");
    // A grandchild: forked by a forked child.
    let mut g = f.fork_agent(&mut c, "");
    assert_eq!(c.line(), g.pid.to_string());
    assert_eq!(g.cmd("size"), "3");
    // The region goes when the last of them leaves.
    b.send("exit 0");
    assert_eq!(f.wait(b.index()), Some(0));
    c.send("exit 0");
    c.wait_eof();
    assert_eq!(f.regions().len(), 1);
    assert_eq!(g.cmd("size"), "1");
    g.send("exit 0");
    g.wait_eof();
    assert!(f.regions().is_empty(), "{:?}", f.regions());
}

#[test]
fn a_parent_leaving_or_dying_right_after_fork_keeps_the_childs_region() {
    let mut f = Fleet::new("forkrace", &agent_exe());
    for (mode, other) in [("exit", false), ("exit", true), ("kill", false), ("kill", true)] {
        // `other`: a second member that leaves before the child does (the parent's
        // leave then fails to take the exclusive lock).
        let mut a = f.agent();
        let mut b = other.then(|| f.agent());
        assert_eq!(a.cmd("set 7 70"), "ok");
        let mut c = f.fork_agent(&mut a, mode);
        let status = f.child(a.index()).wait().unwrap();
        assert_eq!(status.code(), (mode == "exit").then_some(0), "{mode}");
        if let Some(b) = b.as_mut() {
            b.send("exit 0");
            assert_eq!(f.wait(b.index()), Some(0));
        }
        assert_eq!(f.regions().len(), 1, "{mode} {other}: the child's region was removed");
        assert_eq!(c.cmd("add 7 1"), "70", "{mode} {other}");
        assert_eq!(c.cmd("size"), "1", "{mode} {other}");
        let mut n = f.agent();
        assert_eq!((n.joined.first, n.get(7)), (false, 71), "{mode} {other}");
        n.send("exit 0");
        assert_eq!(f.wait(n.index()), Some(0));
        c.send("exit 0");
        c.wait_eof();
        assert!(f.regions().is_empty(), "{mode} {other}: {:?}", f.regions());
    }
}

/// A Truk program that forks: the child outlives its parent, writes, and waits for a
/// later process (`probe`) to have seen the write.
const FORK_PROGRAM: &str = r#"cimport <stdio.h>;
cimport <string.h>;
extern fn printf(fmt: *i8, ...args) : i32;
extern fn strcmp(a: *i8, b: *i8) : i32;
extern fn fork() : i32;
extern fn getpid() : i32;
extern fn getppid() : i32;
extern fn usleep(us: u32) : i32;
extern fn fflush(f: *u8) : i32;
shared var n: u64;
shared var seen: u32;
fn main(argc: i32, argv: **i8) : i32 {
  if argc > 1 && strcmp(argv[1], "probe") == 0 {
    printf("probe n=%llu size=%u\n", atomic_load(&n), fleet_size());
    atomic_store(&seen, 1);
    wake(&seen, 1);
    return 0;
  }
  atomic_add(&n, 1);
  var parent: i32 = getpid();
  var pid: i32 = fork();
  if pid == 0 {
    // Until the parent has exited (we are reparented); 10 s at most.
    for var i: i32 = 0; i < 10000 && getppid() == parent; i += 1 {
      usleep(1000);
    }
    atomic_add(&n, 10);
    printf("child self=%u size=%u n=%llu\n", fleet_self(), fleet_size(), atomic_load(&n));
    fflush(nil);
    for var i: i32 = 0; i < 150 && atomic_load(&seen) == 0; i += 1 {
      wait_on(&seen, 0, 200);
    }
    return 0;
  }
  printf("parent self=%u size=%u\n", fleet_self(), fleet_size());
  return 0;
}
"#;

#[test]
fn a_truk_program_whose_forked_child_outlives_it() {
    use std::io::BufRead;
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fleet").join("forkprog");
    std::fs::create_dir_all(&dir).unwrap();
    let (src, exe) = (dir.join("fork.truk"), dir.join("fork"));
    std::fs::write(&src, FORK_PROGRAM).unwrap();
    let (code, _, err) = truk(&["build", src.to_str().unwrap(), "-o", exe.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let mut f = Fleet::new("forkprog", &exe);
    let i = f.start_with(&exe, &[]);
    let mut out = std::io::BufReader::new(f.child(i).stdout.take().unwrap());
    assert_eq!(f.wait(i), Some(0), "the parent");
    let mut lines = Vec::new();
    for _ in 0..2 {
        let mut l = String::new();
        out.read_line(&mut l).unwrap();
        lines.push(l);
    }
    let parent = lines[0].strip_prefix("parent self=").expect(&lines[0]);
    assert!(parent.ends_with(" size=2\n"), "{lines:?}");
    let child = lines[1].strip_prefix("child self=").expect(&lines[1]);
    assert!(child.ends_with(" size=1 n=11\n"), "{lines:?}");
    assert_ne!(parent.split(' ').next(), child.split(' ').next(), "own slot");
    assert_eq!(f.regions().len(), 1, "the child keeps the region");
    let o = f.command(&exe, &["probe"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "probe n=11 size=2\n");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert_eq!(rest, "");
    assert!(f.regions().is_empty(), "the last leaver removed it: {:?}", f.regions());
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        _ => "SIGHUP",
    }
}

fn send(pid: u32, sig: i32) {
    // SAFETY: kill has no memory preconditions; pid is a child of ours.
    assert_eq!(unsafe { libc::kill(pid as i32, sig) }, 0);
}

#[test]
fn sigint_sigterm_sighup_make_a_member_leave_then_die_of_it() {
    leave_signals(Fleet::new("signals", &agent_exe()));
}

#[test]
fn aarch64_leave_signals_under_qemu() {
    if let Some(f) = arm_fleet("armsignals") {
        leave_signals(f);
    }
}

/// Each leave signal on a member that is not the last, then on the last.
fn leave_signals(mut f: Fleet) {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        let what = signal_name(sig);
        // Not the last: its slot is freed at once, by itself.
        let mut a = f.agent();
        let b = f.agent();
        send(b.pid, sig);
        let status = f.child(b.index()).wait().unwrap();
        assert_eq!(status.signal(), Some(sig), "{what}: {status:?}");
        assert_eq!(slot_status(&f.region(), b.joined.slot), 0, "{what}: slot not freed");
        assert_eq!(a.cmd("size"), "1");
        // The last: the region goes.
        send(a.pid, sig);
        let status = f.child(a.index()).wait().unwrap();
        assert_eq!(status.signal(), Some(sig), "{what}: {status:?}");
        assert!(f.regions().is_empty(), "{what}: {:?}", f.regions());
    }
}

#[test]
fn ignored_or_handled_leave_signals_are_left_to_the_program() {
    let exe = agent_exe();
    let mut f = Fleet::new("sigown", &exe);
    // Ignored before the program started (nohup): still ignored.
    let mut cmd = f.command(&exe, &["agent"]);
    // SAFETY: signal() is async-signal-safe, as pre_exec requires.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
            Ok(())
        });
    }
    let i = f.start_command(cmd);
    let mut a = Agent::from_child(&mut f, i);
    send(a.pid, libc::SIGHUP);
    assert_eq!(a.cmd("size"), "1", "SIGHUP stayed ignored");
    // A handler the program installs after joining replaces ours.
    assert_eq!(a.cmd("trap 15"), "ok");
    send(a.pid, libc::SIGTERM);
    assert_eq!(a.cmd("trapped"), "1");
    assert_eq!(a.cmd("size"), "1");
    a.send("exit 0");
    assert_eq!(f.wait(a.index()), Some(0));
    assert!(f.regions().is_empty());
}
