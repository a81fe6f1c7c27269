//! The targets truk knows: their canonical triples, what this machine needs to link for
//! them (the cross toolchain) and to run what it built (qemu-user when the architecture is
//! not the host's). Every problem is one line naming the Debian packages that fix it.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};

use super::runtime::{host_arch, Arch};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Os {
    Linux,
    Darwin,
}

/// A supported target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetSpec {
    /// The canonical triple: the one in the fingerprint, whichever alias was asked for.
    pub triple: &'static str,
    pub arch: Arch,
    pub os: Os,
}

/// Every target truk can produce code for, canonical triple first.
pub const TARGETS: &[TargetSpec] = &[
    TargetSpec { triple: "x86_64-unknown-linux-gnu", arch: Arch::X86_64, os: Os::Linux },
    TargetSpec { triple: "aarch64-unknown-linux-gnu", arch: Arch::Aarch64, os: Os::Linux },
    TargetSpec { triple: "x86_64-apple-darwin", arch: Arch::X86_64, os: Os::Darwin },
    TargetSpec { triple: "aarch64-apple-darwin", arch: Arch::Aarch64, os: Os::Darwin },
];

const ALIASES: &[(&str, &str)] = &[
    ("x86_64-linux-gnu", "x86_64-unknown-linux-gnu"),
    ("x86_64-pc-linux-gnu", "x86_64-unknown-linux-gnu"),
    ("aarch64-linux-gnu", "aarch64-unknown-linux-gnu"),
    ("arm64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"),
    ("arm64-apple-darwin", "aarch64-apple-darwin"),
    ("arm64-apple-macos", "aarch64-apple-darwin"),
    ("aarch64-apple-macos", "aarch64-apple-darwin"),
    ("x86_64-apple-macos", "x86_64-apple-darwin"),
];

/// Look a triple (or one of its common spellings) up.
pub fn parse(triple: &str) -> Result<&'static TargetSpec, String> {
    let canon = ALIASES.iter().find(|(a, _)| *a == triple).map(|(_, c)| *c).unwrap_or(triple);
    TARGETS.iter().find(|t| t.triple == canon).ok_or_else(|| {
        let all: Vec<&str> = TARGETS.iter().map(|t| t.triple).collect();
        format!("unsupported target `{triple}` (supported: {}; see `truk targets`)", all.join(", "))
    })
}

impl Arch {
    /// The GNU name of the architecture, as in `aarch64-linux-gnu-gcc` and `qemu-aarch64`.
    pub fn gnu_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }
    /// Debian's name of the architecture, as in `libc6-dev-arm64-cross`.
    fn debian_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "amd64",
            Arch::Aarch64 => "arm64",
        }
    }
}

impl TargetSpec {
    pub fn is_native(&self) -> bool {
        self.os == Os::Linux && host_arch() == Some(self.arch)
    }

    /// The folder holding the target's libc when it is a cross target (Debian's layout).
    pub fn sysroot(&self) -> String {
        format!("/usr/{}-linux-gnu", self.arch.gnu_name())
    }

    /// Why this machine cannot link executables for the target, if it cannot.
    pub fn link_problem(&self) -> Option<String> {
        if self.os == Os::Darwin {
            return Some(format!(
                "linking for macOS is not supported here (build an object for {} with --emit obj)",
                self.triple
            ));
        }
        if self.is_native() {
            return None;
        }
        let gcc = format!("{}-linux-gnu-gcc", self.arch.gnu_name());
        let libc = Path::new(&self.sysroot()).join("lib/crt1.o");
        let mut missing = vec![];
        let mut packages = vec![];
        // `--version` is cached by the program's identity (`runtime::version_of`): running it
        // cost every cross build about 5 ms, once in `truk` and again in `truk-compiler`.
        if super::runtime::version_of(&gcc).is_none() {
            missing.push(gcc.clone());
            packages.push(format!("gcc-{}-linux-gnu", self.arch.gnu_name()));
        }
        if !libc.is_file() {
            missing.push(format!("the {} C library ({})", self.arch.gnu_name(), self.sysroot()));
            packages.push(format!("libc6-dev-{}-cross", self.arch.debian_name()));
        }
        if missing.is_empty() {
            return None;
        }
        Some(format!(
            "cannot link for {}: {} missing (install the Debian packages {}; ci/setup does)",
            self.triple,
            missing.join(" and "),
            packages.join(" ")
        ))
    }

    /// The command prefix that runs a program built for the target on this machine: empty
    /// when native, qemu-user with the target's libc (Debian's cross folder, or
    /// `$QEMU_LD_PREFIX`) otherwise.
    pub fn runner(&self) -> Result<Vec<OsString>, String> {
        if self.os == Os::Darwin {
            return Err(self.link_problem().unwrap_or_default());
        }
        if self.is_native() {
            return Ok(vec![]);
        }
        let arch = self.arch.gnu_name();
        let qemu = [format!("qemu-{arch}"), format!("qemu-{arch}-static")].into_iter().find(|q| runs(q));
        match qemu {
            // QEMU_LD_PREFIX, when set, names the target's libc folder instead.
            Some(q) if std::env::var_os("QEMU_LD_PREFIX").is_some_and(|p| !p.is_empty()) => Ok(vec![q.into()]),
            Some(q) => Ok(vec![q.into(), "-L".into(), self.sysroot().into()]),
            None => Err(format!(
                "cannot run {} programs on this {} machine: qemu-{arch} is missing (install the Debian package qemu-user; ci/setup does)",
                self.triple,
                std::env::consts::ARCH
            )),
        }
    }
}

/// The environment variable naming the emulator a program runs under, for its `spawn`
/// (read by runtime-c/fleet.c): its words separated by spaces.
pub const SPAWN_WRAPPER_ENV: &str = "TRUK_SPAWN_WRAPPER";

/// The command that runs `exe` under `runner` (see `TargetSpec::runner`). Under an
/// emulator, SPAWN_WRAPPER_ENV tells the program's `spawn` to start its copies through the
/// same one: without binfmt_misc, the kernel cannot exec /proc/self/exe.
pub fn command_under(runner: &[OsString], exe: &Path) -> Command {
    match runner.split_first() {
        Some((prog, pre)) => {
            let mut wrapper = OsString::new();
            for (i, w) in runner.iter().enumerate() {
                if i > 0 {
                    wrapper.push(" ");
                }
                wrapper.push(w);
            }
            let mut c = Command::new(prog);
            c.args(pre).arg(exe).env(SPAWN_WRAPPER_ENV, wrapper);
            c
        }
        None => Command::new(exe),
    }
}

/// Does `program` start (a `--version` that exits 0)?
fn runs(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// One line per target for `truk targets`: what this machine can do with it, and what it
/// lacks for the rest.
pub fn describe_all() -> String {
    let mut s = String::new();
    for t in TARGETS {
        let what = match (t.link_problem(), t.os) {
            (Some(_), Os::Darwin) => "objects only (--emit obj): linking for macOS is not supported here".to_string(),
            (Some(p), _) => format!("objects only: {p}"),
            (None, _) if t.is_native() => "build, run (native)".to_string(),
            (None, _) => match t.runner() {
                Ok(r) => format!("build, run (under {})", r[0].to_string_lossy()),
                Err(e) => format!("build; {e}"),
            },
        };
        s.push_str(&format!("{:<27} {what}\n", t.triple));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_are_canonical_and_unknown_triples_are_one_line() {
        assert_eq!(parse("aarch64-linux-gnu").unwrap().triple, "aarch64-unknown-linux-gnu");
        assert_eq!(parse("arm64-apple-darwin").unwrap().triple, "aarch64-apple-darwin");
        assert_eq!(parse("x86_64-unknown-linux-gnu").unwrap().os, Os::Linux);
        let e = parse("riscv64-unknown-linux-gnu").unwrap_err();
        assert!(e.starts_with("unsupported target `riscv64") && !e.contains('\n'), "{e}");
    }

    #[test]
    fn programs_under_an_emulator_learn_how_to_spawn() {
        let qemu: Vec<OsString> = vec!["qemu-aarch64".into(), "-L".into(), "/usr/x".into()];
        let c = command_under(&qemu, Path::new("prog"));
        assert_eq!(c.get_program(), "qemu-aarch64");
        assert_eq!(c.get_args().collect::<Vec<_>>(), ["-L", "/usr/x", "prog"]);
        let env: Vec<_> = c.get_envs().collect();
        assert_eq!(env, [(SPAWN_WRAPPER_ENV.as_ref(), Some("qemu-aarch64 -L /usr/x".as_ref()))]);
        let native = command_under(&[], Path::new("prog"));
        assert_eq!((native.get_program(), native.get_envs().count()), ("prog".as_ref(), 0));
    }

    #[test]
    fn darwin_cannot_link_or_run_here() {
        let t = parse("x86_64-apple-darwin").unwrap();
        assert!(t.link_problem().unwrap().contains("--emit obj"));
        assert!(t.runner().is_err());
        assert!(describe_all().lines().count() == TARGETS.len());
    }
}
