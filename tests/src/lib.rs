//! Helpers shared by the end-to-end tests: running a child process with a time limit,
//! finding the `truk` binary, the target to build for, and the data-driven harness behind
//! `tests/lang/`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub mod guide;
pub mod lang;

/// What a finished (or killed) child process left behind.
pub struct Out {
    /// Exit status; a signal `s` shows as `128 + s`, as a shell would.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

/// Run `cmd` with no stdin, capturing both outputs, killing it after `timeout`.
pub fn run(cmd: &mut Command, timeout: Duration) -> Out {
    let mut child = match cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn() {
        Ok(c) => c,
        Err(e) => return Out { code: None, stdout: String::new(), stderr: format!("cannot start: {e}"), timed_out: false },
    };
    // Drain pipes on threads so a chatty child cannot block on a full pipe.
    let drain = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = r.read_to_end(&mut s);
            String::from_utf8_lossy(&s).into_owned()
        })
    };
    let ho = drain(Box::new(child.stdout.take().unwrap()));
    let he = drain(Box::new(child.stderr.take().unwrap()));
    let (code, timed_out) = wait_for(&mut child, timeout);
    Out { code, stdout: ho.join().unwrap_or_default(), stderr: he.join().unwrap_or_default(), timed_out }
}

/// Wait for `child`, killing it after `timeout`: its exit status (a signal `s` as
/// `128 + s`) and whether it was killed for taking too long.
pub fn wait_for(child: &mut Child, timeout: Duration) -> (Option<i32>, bool) {
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) if start.elapsed() > timeout => {
                let _ = child.kill();
                timed_out = true;
                break child.wait().ok();
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => break None,
        }
    };
    let code = status.and_then(|s| {
        use std::os::unix::process::ExitStatusExt;
        s.code().or_else(|| s.signal().map(|sig| 128 + sig))
    });
    (code, timed_out)
}

/// The `truk` binary cargo built beside the running executable: `target/<profile>/truk`
/// (a test executable lives one level deeper, in `deps/`). `TRUK` overrides it.
pub fn truk_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TRUK") {
        return Some(PathBuf::from(p));
    }
    let me = std::env::current_exe().ok()?;
    me.ancestors().skip(1).take(2).map(|d| d.join("truk")).find(|p| p.is_file())
}

/// The project's root folder (the workspace).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The first non-blank line of `s`, cut to a readable length.
pub fn first_line(s: &str) -> String {
    s.lines().find(|l| !l.trim().is_empty()).unwrap_or("").chars().take(160).collect()
}

/// The target the runners build for: `--target TRIPLE` among `args`, else `$TRUK_TARGET`;
/// `None` builds for the host.
pub fn target_arg(args: &[String]) -> Option<String> {
    let from_args = args.iter().position(|a| a == "--target").and_then(|i| args.get(i + 1)).cloned();
    from_args.or_else(|| std::env::var("TRUK_TARGET").ok()).filter(|t| !t.is_empty())
}

/// A command that runs `exe`, built for `target`, on this machine: directly, or under
/// qemu-user (with the target's libc from Debian's cross packages) for another architecture.
pub fn exe_command(exe: &Path, target: Option<&str>) -> Command {
    let arch = target.and_then(|t| t.split('-').next()).map(|a| if a == "arm64" { "aarch64" } else { a });
    match arch {
        Some(a) if a != std::env::consts::ARCH => {
            let mut c = Command::new(format!("qemu-{a}"));
            let mut wrapper = format!("qemu-{a}");
            if std::env::var_os("QEMU_LD_PREFIX").is_none_or(|p| p.is_empty()) {
                c.arg("-L").arg(format!("/usr/{a}-linux-gnu"));
                wrapper.push_str(&format!(" -L /usr/{a}-linux-gnu"));
            }
            // As `truk run` does: the program's `spawn` starts its copies under qemu too.
            c.env("TRUK_SPAWN_WRAPPER", wrapper);
            c.arg(exe);
            c
        }
        _ => Command::new(exe),
    }
}

/// `--target TRIPLE` for truk's command line, or nothing for the host.
pub fn target_flags(target: Option<&str>) -> Vec<String> {
    target.map(|t| vec!["--target".to_string(), t.to_string()]).unwrap_or_default()
}

/// `truk_binary`, or a panic saying how to get one (for tests).
pub fn truk_or_panic() -> PathBuf {
    truk_binary().expect("no truk binary beside the test executable: build it first (cargo build -p truk) or set TRUK")
}

/// An empty scratch folder `truk-<name>-<pid>` in the temporary folder.
pub fn scratch_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("truk-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
