//! Supervision with real processes: wait_any_child, spawn_linked, fleet_wait_exit and the
//! `supervisor` module. Each test runs in its own fleet namespace; the guard kills every
//! process the test learned of and removes the namespace's regions, even on failure.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
mod fleet_support;
use common::{truk, Scratch};
use fleet_support::{arm_runner, ARM};

/// The grace period of a linked child (TRUK_LINK_GRACE_MS in runtime-c/truk_rt.h).
const GRACE: Duration = Duration::from_millis(1000);

struct Guard {
    ns: String,
    children: Vec<Child>,
    pids: Vec<i32>,
    /// The emulator (qemu-user) the programs run under; empty for native ones.
    runner: Vec<std::ffi::OsString>,
}

impl Guard {
    fn new(name: &str) -> Guard {
        Guard {
            ns: format!("sup-{name}-{}", std::process::id()),
            children: vec![],
            pids: vec![],
            runner: vec![],
        }
    }

    fn command(&self, exe: &Path, args: &[&str]) -> Command {
        let mut c = truk_core::driver::target::command_under(&self.runner, exe);
        c.args(args)
            .env("TRUK_FLEET_NS", &self.ns)
            .env_remove("TRUK_LINKED_PARENT");
        c
    }

    /// Starts `exe args` with its stdout piped; the guard owns it.
    fn start(&mut self, exe: &Path, args: &[&str]) -> usize {
        let c = self
            .command(exe, args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        self.pids.push(c.id() as i32);
        self.children.push(c);
        self.children.len() - 1
    }

    /// Reads `n` pids, one a line, from child `i`'s stdout; the guard kills them at the end.
    fn read_pids(&mut self, i: usize, n: usize) -> Vec<i32> {
        let out = self.children[i].stdout.take().unwrap();
        let mut r = BufReader::new(out);
        let mut pids = vec![];
        for _ in 0..n {
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            let pid: i32 = line
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("a pid, found {line:?}"));
            assert!(pid > 0, "spawn failed");
            self.pids.push(pid);
            pids.push(pid);
        }
        self.children[i].stdout = None;
        pids
    }

    fn regions(&self) -> Vec<PathBuf> {
        let suffix = format!("-{}", self.ns);
        std::fs::read_dir("/dev/shm")
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.file_name().unwrap().to_string_lossy().ends_with(&suffix))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        for &p in &self.pids {
            // SAFETY: kill has no memory preconditions; the pids are processes this test started.
            unsafe { libc::kill(p, libc::SIGKILL) };
        }
        for c in &mut self.children {
            let _ = c.wait();
        }
        for p in self.regions() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Whether `pid` runs: not gone, not a zombie (the container's init may never reap).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Waits until none of `pids` runs, at most `limit`; the ones still running.
fn wait_gone(pids: &[i32], limit: Duration) -> Vec<i32> {
    let end = Instant::now() + limit;
    loop {
        let left: Vec<i32> = pids.iter().copied().filter(|&p| alive(p)).collect();
        if left.is_empty() || Instant::now() > end {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn build(s: &Scratch, name: &str, src: &str) -> PathBuf {
    build_for(s, name, src, &[])
}

fn build_for(s: &Scratch, name: &str, src: &str, flags: &[&str]) -> PathBuf {
    let file = s.write(&format!("{name}.truk"), src);
    let exe = s.0.join(name);
    let o = truk()
        .arg("build")
        .args(flags)
        .arg(&file)
        .arg("-o")
        .arg(&exe)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", common::text(&o.stderr));
    exe
}

#[test]
fn linked_children_die_with_a_killed_parent_after_at_most_the_grace_period() {
    let s = Scratch::new("linked-kill");
    let exe = build(&s, "linked", include_str!("supervision/linked.truk"));
    let mut g = Guard::new("linked-kill");
    let leader = g.start(&exe, &[]);
    let pids = g.read_pids(leader, 2);
    assert!(pids.iter().all(|&p| alive(p)));
    g.children[leader].kill().unwrap();
    g.children[leader].wait().unwrap();
    // The sleeper dies of the SIGTERM at once, the stubborn one of SIGKILL after the grace.
    let left = wait_gone(&pids, GRACE + Duration::from_secs(3));
    assert!(
        left.is_empty(),
        "still running after the parent's SIGKILL: {left:?}"
    );
}

#[test]
fn linked_children_of_a_parent_gone_before_they_start_stop_too() {
    let s = Scratch::new("linked-race");
    let exe = build(&s, "linked", include_str!("supervision/linked.truk"));
    let mut g = Guard::new("linked-race");
    let mut all = vec![];
    for _ in 0..10 {
        let leader = g.start(&exe, &["quick"]);
        all.extend(g.read_pids(leader, 2));
        g.children[leader].wait().unwrap();
    }
    let left = wait_gone(&all, GRACE + Duration::from_secs(3));
    assert!(
        left.is_empty(),
        "still running after their parent returned: {left:?}"
    );
}

/// Reads lines from child `i` until `end` (included) or its end of output.
fn lines_until(g: &mut Guard, i: usize, end: &str) -> Vec<String> {
    let out = g.children[i].stdout.take().unwrap();
    let mut r = BufReader::new(out);
    let mut v = vec![];
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap() == 0 {
            break;
        }
        let line = line.trim().to_string();
        let stop = line == end;
        v.push(line);
        if stop {
            break;
        }
    }
    g.children[i].stdout = Some(r.into_inner());
    v
}

#[test]
fn fleet_wait_exit_reports_each_of_50_killed_members_once_to_each_of_3_watchers() {
    let s = Scratch::new("watch");
    let exe = build(&s, "watch", include_str!("supervision/watch.truk"));
    let mut g = Guard::new("watch");
    let watchers: Vec<usize> = (0..3).map(|_| g.start(&exe, &["watch"])).collect();
    for &w in &watchers {
        assert_eq!(lines_until(&mut g, w, "ready"), ["ready"]);
    }
    let mut members = vec![];
    for _ in 0..50 {
        let m = g.start(&exe, &["member"]);
        members.push(g.read_pids(m, 1)[0]);
    }
    // Killed in an order that is not the order they started in.
    let mut order = members.clone();
    order.sort_by_key(|p| (p * 7919) % 101);
    for &p in &order {
        // SAFETY: kill has no memory preconditions; p is a member this test started.
        unsafe { libc::kill(p, libc::SIGKILL) };
    }
    each_reported_once(&mut g, &watchers, &members);
}

/// Reads each watcher's reports until "done": every pid of `members` exactly once (the
/// other watchers, which may finish first, aside).
fn each_reported_once(g: &mut Guard, watchers: &[usize], members: &[i32]) {
    let watcher_pids: Vec<String> = watchers
        .iter()
        .map(|&w| g.children[w].id().to_string())
        .collect();
    let mut want = members.to_vec();
    want.sort();
    for &w in watchers {
        let got = lines_until(g, w, "done");
        assert_eq!(got.last().map(String::as_str), Some("done"), "{got:?}");
        let mut reported: Vec<i32> = got[..got.len() - 1]
            .iter()
            .filter(|l| !watcher_pids.contains(l)) // a watcher that finished first left
            .map(|l| l.parse().unwrap())
            .collect();
        reported.sort();
        assert_eq!(reported, want, "watcher {w}: each member's exit exactly once");
    }
}

#[test]
fn fleet_wait_exit_reports_short_lived_members_whose_slots_are_reused_once_to_each_watcher() {
    let s = Scratch::new("watch-brief");
    let exe = build(&s, "watch", include_str!("supervision/watch.truk"));
    let mut g = Guard::new("watch-brief");
    let watchers: Vec<usize> = (0..3).map(|_| g.start(&exe, &["watch"])).collect();
    for &w in &watchers {
        assert_eq!(lines_until(&mut g, w, "ready"), ["ready"]);
    }
    // Members that come and go (leaving, or killed) in a few milliseconds each: the
    // same few slots are taken and freed many times within one 100 ms look.
    let started = Instant::now();
    let mut members = vec![];
    for k in 0..80 {
        if k % 2 == 0 {
            let m = g.start(&exe, &["brief"]);
            members.push(g.read_pids(m, 1)[0]);
        } else {
            let m = g.start(&exe, &["member"]);
            let p = g.read_pids(m, 1)[0];
            // SAFETY: kill has no memory preconditions; p is a member this test started.
            unsafe { libc::kill(p, libc::SIGKILL) };
            members.push(p);
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "starting the members took {:?}",
        started.elapsed()
    );
    each_reported_once(&mut g, &watchers, &members);
}

/// Reads "start K PID" lines from the supervisor (its workers share its stdout) until
/// `n` were read; the pids go to the guard. Returns (K, PID) in order.
fn starts(
    g: &mut Guard,
    r: &mut BufReader<std::process::ChildStdout>,
    n: usize,
) -> Vec<(i64, i32)> {
    let mut v = vec![];
    while v.len() < n {
        let mut line = String::new();
        assert!(
            r.read_line(&mut line).unwrap() > 0,
            "the supervisor ended early after {v:?}"
        );
        let w: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(w.first(), Some(&"start"), "{line:?}");
        let (k, pid) = (w[1].parse().unwrap(), w[2].parse().unwrap());
        g.pids.push(pid);
        v.push((k, pid));
    }
    v
}

fn rest_of(r: &mut BufReader<std::process::ChildStdout>) -> String {
    let mut s = String::new();
    std::io::Read::read_to_string(r, &mut s).unwrap();
    s
}

/// A victim of the three workers, different from run to run.
fn random_victim() -> usize {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    (nanos % 3) as usize
}

/// supervision/sup.truk built (for aarch64 when there is a runner) in a scratch folder,
/// and a guard; each of its own beside the native test of the same name.
fn sup_program(name: &str, runner: Option<Vec<std::ffi::OsString>>) -> (Scratch, PathBuf, Guard) {
    let name = format!("{}{name}", if runner.is_some() { "arm-" } else { "" });
    let s = Scratch::new(&name);
    let flags: &[&str] = if runner.is_some() {
        &["--target", ARM]
    } else {
        &[]
    };
    let exe = build_for(&s, "sup", include_str!("supervision/sup.truk"), flags);
    let mut g = Guard::new(&name);
    g.runner = runner.unwrap_or_default();
    (s, exe, g)
}

fn restart_under(strategy: &str, expect: impl Fn(usize, usize) -> u32) {
    restart_with(strategy, expect, None);
}

/// `runner`: build for aarch64 and run under it.
fn restart_with(
    strategy: &str,
    expect: impl Fn(usize, usize) -> u32,
    runner: Option<Vec<std::ffi::OsString>>,
) {
    let (_s, exe, mut g) = sup_program(strategy, runner);
    let sup = g.start(&exe, &[strategy]);
    let mut r = BufReader::new(g.children[sup].stdout.take().unwrap());
    let first = starts(&mut g, &mut r, 3);
    let victim = random_victim();
    let pid = first.iter().find(|(k, _)| *k == victim as i64).unwrap().1;
    // SAFETY: kill has no memory preconditions; pid is a worker of this test.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let again: u32 = (0..3).map(|k| expect(k, victim) - 1).sum();
    let restarted = starts(&mut g, &mut r, again as usize);
    let st = g.command(&exe, &["release"]).status().unwrap();
    assert!(st.success());
    let out = rest_of(&mut r);
    let status = g.children[sup].wait().unwrap();
    let want: Vec<String> = (0..3).map(|k| expect(k, victim).to_string()).collect();
    assert_eq!(
        out.trim(),
        format!("code 0 starts {}", want.join(" ")),
        "{strategy}, victim {victim}, restarted {restarted:?}"
    );
    assert_eq!(status.code(), Some(0));
}

#[test]
fn one_for_one_restarts_only_the_killed_worker() {
    restart_under("one_for_one", |k, v| if k == v { 2 } else { 1 });
}

#[test]
fn one_for_all_restarts_every_worker() {
    restart_under("one_for_all", |_, _| 2);
}

#[test]
fn rest_for_one_restarts_the_killed_worker_and_those_after_it() {
    restart_under("rest_for_one", |k, v| if k >= v { 2 } else { 1 });
}

#[test]
fn a_child_that_always_crashes_makes_the_supervisor_give_up_leaving_no_process() {
    let s = Scratch::new("crash");
    let exe = build(&s, "sup", include_str!("supervision/sup.truk"));
    let mut g = Guard::new("crash");
    let t0 = Instant::now();
    let out = g
        .command(&exe, &["crash"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let took = t0.elapsed();
    let text = common::text(&out.stdout);
    let pids: Vec<i32> = text
        .lines()
        .filter_map(|l| l.strip_prefix("start "))
        .map(|l| l.split_whitespace().nth(1).unwrap().parse().unwrap())
        .collect();
    g.pids.extend(&pids);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.ends_with("code 1\n"), "{text}");
    let err = common::text(&out.stderr);
    assert!(
        err.contains("supervisor: child 2 [\"crasher\"] died (exit 3), restart 1 of 1"),
        "{err}"
    );
    assert!(
        err.contains(
            "supervisor: child 2 [\"crasher\"] died (exit 3), 2 restarts in 5000 ms: giving up"
        ),
        "{err}"
    );
    // Within the period plus the grace time (and a margin for a loaded machine).
    assert!(
        took < Duration::from_millis(5000) + GRACE + Duration::from_secs(5),
        "{took:?}"
    );
    assert!(pids.len() >= 3, "{text}");
    // The stubborn sleeper (SIGTERM ignored) was SIGKILLed after the grace: nothing runs.
    let left = wait_gone(&pids, Duration::from_millis(500));
    assert!(
        left.is_empty(),
        "still running after supervisor_run returned: {left:?}"
    );
}

/// Starts `mode`, reads `n` start lines, SIGKILLs the top supervisor: after the grace
/// period (per level) nothing it started runs.
fn kill_supervisor(mode: &str, n: usize) {
    kill_supervisor_with(mode, n, None);
}

fn kill_supervisor_with(mode: &str, n: usize, runner: Option<Vec<std::ffi::OsString>>) {
    let (_s, exe, mut g) = sup_program(mode, runner);
    let sup = g.start(&exe, &[mode]);
    let mut r = BufReader::new(g.children[sup].stdout.take().unwrap());
    let pids: Vec<i32> = starts(&mut g, &mut r, n)
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    g.children[sup].kill().unwrap();
    g.children[sup].wait().unwrap();
    let left = wait_gone(&pids, 2 * GRACE + Duration::from_secs(3));
    assert!(
        left.is_empty(),
        "{mode}: alive after the supervisor's SIGKILL: {left:?}"
    );
}

#[test]
fn a_supervisor_killed_leaves_no_child_after_the_grace_period() {
    // Two sleepers that ignore SIGTERM (and the stubborn supervisor's own start line).
    kill_supervisor("stubborn", 3);
}

#[test]
fn a_supervision_tree_killed_at_the_top_leaves_no_process() {
    // The sub-supervisor, its two sleepers, and the top's own sleeper.
    kill_supervisor("tree", 4);
}

#[test]
fn aarch64_under_qemu_a_killed_worker_is_restarted_and_a_killed_supervisor_leaves_nothing() {
    let Some(runner) = arm_runner() else { return };
    restart_with(
        "one_for_one",
        |k, v| if k == v { 2 } else { 1 },
        Some(runner.clone()),
    );
    kill_supervisor_with("stubborn", 3, Some(runner));
}
