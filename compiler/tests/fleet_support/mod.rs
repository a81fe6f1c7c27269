//! Helpers for the fleet tests: build C fleet members (fleet_support/agent.c) with a
//! hand-made note, run them, and clean up after them even when a test fails.
#![allow(dead_code)]

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use truk::driver::link::link;
use truk::driver::runtime::{runtime_objects_in, RUNTIME_HEADERS};
use truk::fingerprint::{note_record, NoteInfo};

pub const X86: &str = "x86_64-unknown-linux-gnu";
pub const ARM: &str = "aarch64-unknown-linux-gnu";
pub const AGENT_C: &str = include_str!("agent.c");
/// Bytes of shared variables the agent uses (see the OFF_ constants in agent.c).
pub const REGION_SIZE: u64 = 4096;
/// Offsets in the shared area, as in agent.c.
pub const OFF_TAG: usize = 512;
pub const OFF_INIT: usize = 520;

/// A note for a test build: `seed` picks the fingerprints.
pub fn note(seed: u8, capacity: u32, region_size: u64) -> NoteInfo {
    note_for(X86, seed, capacity, region_size)
}

/// A note for a test build for `target`.
pub fn note_for(target: &str, seed: u8, capacity: u32, region_size: u64) -> NoteInfo {
    NoteInfo {
        build_fp: [seed; 32],
        layout_fp: [seed ^ 0x5a; 32],
        target: target.into(),
        profile: "debug".into(),
        compiler_version: "fleet-test".into(),
        region_size,
        fleet_capacity: capacity,
    }
}

/// A test note as the Rust runtime sees a build.
pub fn rust_build(n: &NoteInfo) -> truk_runtime::Build {
    truk_runtime::Build {
        build_fp: n.build_fp,
        layout_fp: n.layout_fp,
        capacity: n.fleet_capacity,
        region_size: n.region_size,
        desc: vec![], // the C agents carry no description
    }
}

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("fleet")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn runtime_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("fleet_runtime_cache")
}

/// The note as a C array in section .note.truk (the compiler's exact record).
fn note_header(info: &NoteInfo) -> String {
    let bytes = note_record(info, &info.target);
    let list: Vec<String> = bytes.iter().map(|b| format!("0x{b:02x}")).collect();
    format!(
        "__attribute__((section(\".note.truk\"), aligned(4), used, retain))\n\
         static const unsigned char truk_test_note[{}] = {{{}}};\n",
        bytes.len(),
        list.join(",")
    )
}

/// Compile `src` (C, may include "fleet_note.h") with the runtime headers and link it with
/// the runtime objects, as the driver links a Truk program, for the note's target.
pub fn build_c(name: &str, src: &str, info: &NoteInfo) -> PathBuf {
    let target = info.target.as_str();
    let dir = scratch(name);
    for (h, text) in RUNTIME_HEADERS {
        std::fs::write(dir.join(h), text).unwrap();
    }
    std::fs::write(dir.join("fleet_note.h"), note_header(info)).unwrap();
    let c = dir.join(format!("{name}.c"));
    std::fs::write(&c, src).unwrap();
    let obj = dir.join(format!("{name}.o"));
    let out = Command::new("clang-19")
        .arg(format!("--target={target}"))
        .args(["-std=c11", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-c"])
        .arg(&c)
        .arg("-I")
        .arg(&dir)
        .arg("-o")
        .arg(&obj)
        .output()
        .expect("clang-19 runs");
    assert!(
        out.status.success(),
        "clang-19 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut objects = vec![obj];
    objects.extend(runtime_objects_in(&runtime_cache(), target, false).expect("runtime compiles"));
    let exe = dir.join(name);
    link(&objects, &exe, target, false, true).expect("links");
    exe
}

/// The agent program built with `info`'s note.
pub fn build_agent(name: &str, info: &NoteInfo) -> PathBuf {
    build_c(name, AGENT_C, info)
}

/// A fleet namespace unique to this test run, and the guard that cleans up after it:
/// on drop it kills and reaps every child it started and removes its namespace's region
/// files, pass or fail.
pub struct Fleet {
    pub ns: String,
    pub exe: PathBuf,
    /// The emulator (qemu-user) that members run under; empty for native members.
    pub runner: Vec<OsString>,
    children: Vec<Child>,
    /// Members that are not our children (forked by an agent): SIGKILLed on drop.
    others: Vec<u32>,
}

/// The command prefix that runs aarch64 programs here (qemu-user when the host is not
/// aarch64), or None, saying why, when the cross toolchain or qemu is missing.
pub fn arm_runner() -> Option<Vec<OsString>> {
    let t = truk::driver::target::parse(ARM).unwrap();
    match t.link_problem().map_or_else(|| t.runner(), Err) {
        Ok(r) => Some(r),
        Err(e) => {
            eprintln!("skipping the aarch64 fleet test: {e}");
            None
        }
    }
}

impl Fleet {
    pub fn new(test: &str, exe: &Path) -> Fleet {
        Fleet::under(test, exe, Vec::new())
    }

    /// A fleet whose members run under `runner` (see arm_runner).
    pub fn under(test: &str, exe: &Path, runner: Vec<OsString>) -> Fleet {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let f = Fleet {
            ns: format!("t{}-{nanos:x}-{test}", std::process::id()),
            exe: exe.to_path_buf(),
            runner,
            children: Vec::new(),
            others: Vec::new(),
        };
        f.cleanup_files();
        f
    }

    /// A command running the agent in this namespace (under the runner, which its
    /// `spawn` then uses too, as under `truk run`).
    pub fn command(&self, exe: &Path, args: &[&str]) -> Command {
        let mut c = truk::driver::target::command_under(&self.runner, exe);
        c.args(args).env("TRUK_FLEET_NS", &self.ns);
        c
    }

    /// Start the agent in `mode` with piped stdin/stdout; the guard owns it.
    pub fn start_with(&mut self, exe: &Path, args: &[&str]) -> usize {
        let cmd = self.command(exe, args);
        self.start_command(cmd)
    }

    /// Start `cmd` (which must run in this namespace) with piped stdin/stdout; the guard
    /// owns it.
    pub fn start_command(&mut self, mut cmd: Command) -> usize {
        let child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn agent");
        self.children.push(child);
        self.children.len() - 1
    }

    /// Start an interactive agent and wait for its `joined` line.
    pub fn agent(&mut self) -> Agent {
        let exe = self.exe.clone();
        self.agent_of(&exe)
    }

    pub fn agent_of(&mut self, exe: &Path) -> Agent {
        let mut a = self.agent_started(exe, &[]);
        a.wait_joined(self);
        a
    }

    /// Start an interactive agent (with extra environment) without waiting for it to join.
    pub fn agent_started(&mut self, exe: &Path, env: &[(&str, &str)]) -> Agent {
        let mut cmd = self.command(exe, &["agent"]);
        cmd.envs(env.iter().copied());
        let i = self.start_command(cmd);
        Agent::of_child(self, i)
    }

    /// Makes `parent` fork (agent command `fork IN OUT MODE`) and returns the child as an
    /// agent talking through two FIFOs; the guard SIGKILLs it on drop. With MODE "" the
    /// parent then answers the child's pid (left for the caller to read).
    pub fn fork_agent(&mut self, parent: &mut Agent, mode: &str) -> Agent {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = scratch(&format!("fifo-{}-{}", self.ns, self.others.len()));
        let (inp, out) = (dir.join("in"), dir.join("out"));
        for p in [&inp, &out] {
            assert!(Command::new("mkfifo").arg(p).status().unwrap().success());
        }
        // Open our ends without blocking, so that a child that never comes fails the
        // test instead of hanging it: the read end now, the write end once the child
        // has opened its read end (ENXIO until then), which it opens last.
        let reader = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&out)
            .unwrap();
        parent.send(&format!("fork {} {} {mode}", inp.display(), out.display()));
        let t = std::time::Instant::now();
        let writer = loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&inp)
            {
                Ok(w) => break w,
                Err(e) if t.elapsed().as_secs() < 20 => {
                    assert_eq!(e.raw_os_error(), Some(libc::ENXIO), "{e}");
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                Err(e) => panic!("the forked child never opened its FIFO: {e}"),
            }
        };
        for f in [&reader as &std::fs::File, &writer] {
            // SAFETY: fcntl on descriptors we own: back to blocking I/O.
            unsafe { libc::fcntl(std::os::unix::io::AsRawFd::as_raw_fd(f), libc::F_SETFL, 0) };
        }
        let mut a = Agent {
            index: usize::MAX,
            pid: 0,
            stdin: Some(Box::new(writer)),
            stdout: BufReader::new(Box::new(reader)),
            joined: Joined::default(),
        };
        let line = a.line();
        a.joined = Joined::parse(&line).unwrap_or_else(|| panic!("forked child: {line:?}"));
        a.pid = a.cmd("pid").parse().unwrap();
        self.others.push(a.pid);
        a
    }
}

impl Agent {
    /// The agent run by the guard's child `i` (started with `start_command`).
    pub fn of_child(f: &mut Fleet, i: usize) -> Agent {
        let child = &mut f.children[i];
        Agent {
            index: i,
            pid: child.id(),
            stdin: child.stdin.take().map(|w| Box::new(w) as Box<dyn Write + Send>),
            stdout: BufReader::new(Box::new(child.stdout.take().unwrap())),
            joined: Joined::default(),
        }
    }

    /// The agent run by the guard's child `i`, once it has joined.
    pub fn from_child(f: &mut Fleet, i: usize) -> Agent {
        let mut a = Agent::of_child(f, i);
        a.wait_joined(f);
        a
    }

    /// Read the agent's `joined` line.
    pub fn wait_joined(&mut self, f: &mut Fleet) {
        let i = self.index;
        let a = self;
        let line = a.line();
        a.joined = Joined::parse(&line).unwrap_or_else(|| {
            let err = f.stderr_of(i);
            panic!("agent did not join: {line:?} {err}")
        });
    }
}

impl Fleet {
    pub fn child(&mut self, i: usize) -> &mut Child {
        &mut self.children[i]
    }

    /// SIGKILL an agent and reap it.
    pub fn kill(&mut self, a: &Agent) {
        let c = &mut self.children[a.index];
        let _ = c.kill();
        let _ = c.wait();
    }

    /// Wait for a child's exit; returns its code (None: killed).
    pub fn wait(&mut self, i: usize) -> Option<i32> {
        self.children[i].wait().unwrap().code()
    }

    pub fn stderr_of(&mut self, i: usize) -> String {
        let mut s = String::new();
        if let Some(mut e) = self.children[i].stderr.take() {
            use std::io::Read;
            let _ = e.read_to_string(&mut s);
        }
        s
    }

    /// Sleeps long enough for a member to act on a line it was sent: `ms` natively, five
    /// times as long under an emulator (qemu is slow, the more so on a busy machine).
    pub fn pause(&self, ms: u64) {
        let factor = if self.runner.is_empty() { 1 } else { 5 };
        std::thread::sleep(std::time::Duration::from_millis(ms * factor));
    }

    /// Region files of this namespace in /dev/shm.
    pub fn regions(&self) -> Vec<PathBuf> {
        let suffix = format!("-{}", self.ns);
        std::fs::read_dir("/dev/shm")
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|p| {
                        p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with("truk-") && n.ends_with(&suffix))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The one region of this namespace (panics when there is not exactly one).
    pub fn region(&self) -> PathBuf {
        let r = self.regions();
        assert_eq!(r.len(), 1, "regions: {r:?}");
        r[0].clone()
    }

    fn cleanup_files(&self) {
        for p in self.regions() {
            let _ = std::fs::remove_file(p);
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for &pid in &self.others {
            // SAFETY: kill has no memory preconditions; the pid was a member we started.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.cleanup_files();
    }
}

/// What an agent printed when it joined: `joined SLOT FIRST GEN SIZE TAG INIT`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Joined {
    pub slot: u32,
    pub first: bool,
    pub generation: u64,
    pub size: u32,
    pub tag: String,
    pub init: String,
}

impl Joined {
    pub fn parse(line: &str) -> Option<Joined> {
        let w: Vec<&str> = line.split_whitespace().collect();
        if w.len() != 7 || w[0] != "joined" {
            return None;
        }
        Some(Joined {
            slot: w[1].parse().ok()?,
            first: w[2] == "1",
            generation: w[3].parse().ok()?,
            size: w[4].parse().ok()?,
            tag: w[5].to_string(),
            init: w[6].to_string(),
        })
    }
}

/// An interactive agent: one command line in, one answer line out.
pub struct Agent {
    index: usize,
    pub pid: u32,
    stdin: Option<Box<dyn Write + Send>>,
    stdout: BufReader<Box<dyn Read + Send>>,
    pub joined: Joined,
}

impl Agent {
    pub fn line(&mut self) -> String {
        let mut s = String::new();
        self.stdout.read_line(&mut s).unwrap();
        s.trim_end().to_string()
    }

    pub fn cmd(&mut self, c: &str) -> String {
        let i = self.stdin.as_mut().expect("agent stdin");
        writeln!(i, "{c}").unwrap();
        i.flush().unwrap();
        self.line()
    }

    /// Send a command that ends the agent (no answer expected).
    pub fn send(&mut self, c: &str) {
        let i = self.stdin.as_mut().expect("agent stdin");
        let _ = writeln!(i, "{c}");
        let _ = i.flush();
    }

    pub fn get(&mut self, cell: u32) -> u64 {
        let a = self.cmd(&format!("get {cell}"));
        a.parse().unwrap_or_else(|_| panic!("get: {a:?}"))
    }

    pub fn index(&self) -> usize {
        self.index
    }

    /// Reads until the agent's output ends (it has exited: its exit hook has run).
    pub fn wait_eof(&mut self) -> String {
        let mut rest = String::new();
        let _ = self.stdout.read_to_string(&mut rest);
        rest
    }
}

/// The agent with the default test note (fingerprint seed 1, 1024 slots), built once.
pub fn agent_exe() -> PathBuf {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| build_agent("agent", &note(1, 1024, REGION_SIZE)))
        .clone()
}

/// Runs the `truk` binary: exit code, stdout, stderr.
pub fn truk(args: &[&str]) -> (i32, String, String) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_truk"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Runs the agent once in `f`'s namespace, expecting it to refuse to join.
pub fn refused(f: &Fleet, exe: &std::path::Path) -> String {
    let o = f
        .command(exe, &["agent"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(70), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        err.starts_with("fleet: ") && err.ends_with('\n') && err.lines().count() == 1,
        "{err:?}"
    );
    err
}

/// Field 22 of /proc/PID/stat.
pub fn start_time_of(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &s[s.rfind(')').unwrap() + 2..];
    rest.split_whitespace().nth(19).unwrap().parse().unwrap()
}

/// The agent's note as the Rust runtime sees it.
pub fn agent_build() -> truk_runtime::Build {
    rust_build(&note(1, 1024, REGION_SIZE))
}

/// The agent built for aarch64 (same note, another target), and the runner for it; None
/// (the test is skipped, with a message) without the cross toolchain or qemu.
pub fn arm_fleet(test: &str) -> Option<Fleet> {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    let runner = arm_runner()?;
    let exe = EXE.get_or_init(|| build_agent("agent_arm", &note_for(ARM, 1, 1024, REGION_SIZE)));
    Some(Fleet::under(test, exe, runner))
}

/// Writes a file only its owner can reach (mode 0600), as regions are.
pub fn write_private(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
}

/// Builds the Truk program `src` (a file name, its text) into a folder of its own under the
/// test's scratch folder, as `name`.
pub fn build_truk(name: &str, src: (&str, &str), target: Option<&str>, release: bool) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fleet").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(src.0);
    std::fs::write(&file, src.1).unwrap();
    let exe = dir.join(name);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_truk"));
    cmd.arg("build").arg(&file).arg("-o").arg(&exe);
    if release {
        cmd.arg("--release");
    }
    if let Some(t) = target {
        cmd.args(["--target", t]);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    exe
}

/// The members of a storm (the fleet's program started with a role as its arguments);
/// every one still running is killed and reaped on drop.
pub struct Members {
    pub live: Vec<(String, Child)>,
}

impl Members {
    pub fn new() -> Members {
        Members { live: vec![] }
    }

    pub fn start(&mut self, f: &Fleet, role: &str) {
        let args: Vec<&str> = role.split(' ').collect();
        // A busy machine may refuse a fork for a moment (EAGAIN): try again.
        let mut tries = 0;
        let child = loop {
            match f.command(&f.exe, &args).stdin(Stdio::null()).stdout(Stdio::inherit()).stderr(Stdio::inherit()).spawn() {
                Ok(c) => break c,
                Err(e) if tries < 100 => {
                    tries += 1;
                    eprintln!("start `{role}`: {e}; again");
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => panic!("start `{role}`: {e}"),
            }
        };
        self.live.push((role.to_string(), child));
    }

    /// Waits up to `limit` for every member whose role starts with `prefix` to exit 0;
    /// `what` names the shared object that would be wedged if one does not.
    pub fn finish(&mut self, prefix: &str, limit: std::time::Duration, what: &str) -> Result<(), String> {
        let t = std::time::Instant::now();
        for (role, c) in self.live.iter_mut().filter(|(r, _)| r.starts_with(prefix)) {
            loop {
                if let Some(s) = c.try_wait().unwrap() {
                    if !s.success() {
                        return Err(format!("`{role}` ended with {s}"));
                    }
                    break;
                }
                if t.elapsed() > limit {
                    return Err(format!("`{role}` still runs {limit:?} after it was told to stop: the {what} is wedged"));
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
        Ok(())
    }
}

impl Drop for Members {
    fn drop(&mut self) {
        for (_, c) in &mut self.live {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A small xorshift: the storms need no statistical quality, only spread.
pub fn next(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// Runs the fleet's program once with `args` (split at spaces): its exit code and output.
pub fn run(f: &Fleet, args: &str) -> (i32, String) {
    let args: Vec<&str> = args.split(' ').collect();
    let o = f.command(&f.exe, &args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    (o.status.code().unwrap_or(-1), text)
}
