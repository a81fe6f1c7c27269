//! `truk fleet`: the region protocol read through the runtime crate (truk-runtime, which
//! mirrors runtime-c/truk_fleet.h). No LLVM here: the light `truk` binary runs these
//! commands itself. Hostile region files are reported, never trusted.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use truk_runtime::layout::{check_ns, hex, RegionName, DIR};
use truk_runtime::region::in_ns;
use truk_runtime::{Entry, Owner, RegionInfo};

pub mod inspect;
pub mod ls;
pub mod stop;
pub mod value;
pub mod watch;

#[derive(Subcommand)]
pub enum FleetCmd {
    /// List the regions in /dev/shm: fingerprint, namespace, program, generation, members.
    Ls {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Only regions of this fleet namespace (TRUK_FLEET_NS); nothing else is read.
        #[arg(long)]
        ns: Option<String>,
        /// Also other users' regions (by default only the caller's are listed).
        #[arg(long)]
        all_users: bool,
    },
    /// Remove the regions that have no live member (damaged files are reported, not touched).
    Gc {
        /// Only regions of this fleet namespace (TRUK_FLEET_NS).
        #[arg(long)]
        ns: Option<String>,
        /// Also other users' regions (by default only the caller's are removed).
        #[arg(long)]
        all_users: bool,
    },
    /// Show each shared variable of live fleets by name, type and current value.
    Inspect {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Only regions of this fleet namespace (TRUK_FLEET_NS); nothing else is read.
        #[arg(long)]
        ns: Option<String>,
        /// Print every element of long arrays (text; JSON always has them all).
        #[arg(long)]
        full: bool,
        /// Only the fleet whose build fingerprint starts with these hex digits.
        fp_prefix: Option<String>,
    },
    /// A live view of fleets: members, shared variables (changes highlighted), channel rates.
    Watch {
        /// Only regions of this fleet namespace (TRUK_FLEET_NS); nothing else is read.
        #[arg(long)]
        ns: Option<String>,
        /// Milliseconds between refreshes.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..=3_600_000))]
        interval: u64,
        /// Print N plain snapshots, one interval apart, and exit (no terminal needed).
        #[arg(long, value_name = "N")]
        count: Option<u64>,
        /// Only the fleet whose build fingerprint starts with these hex digits.
        fp_prefix: Option<String>,
    },
    /// Send SIGTERM to every member of a fleet (the last one to leave removes the region).
    Stop {
        /// Only regions of this fleet namespace (TRUK_FLEET_NS).
        #[arg(long)]
        ns: Option<String>,
        /// The fleet: hex digits its build fingerprint starts with.
        fp_prefix: String,
    },
}

/// Runs a `truk fleet` command: prints its output, or one line on stderr.
pub fn run(cmd: FleetCmd) -> ExitCode {
    let r = match cmd {
        FleetCmd::Ls { json, ns, all_users } => ls::ls(json, ns.as_deref(), all_users),
        FleetCmd::Gc { ns, all_users } => ls::gc(ns.as_deref(), all_users),
        FleetCmd::Inspect { json, ns, full, fp_prefix } => {
            inspect::inspect(json, full, ns.as_deref(), fp_prefix.as_deref())
        }
        FleetCmd::Watch { ns, interval, count, fp_prefix } => {
            watch::watch(ns.as_deref(), fp_prefix.as_deref(), interval, count)
        }
        FleetCmd::Stop { ns, fp_prefix } => stop::stop(ns.as_deref(), &fp_prefix),
    };
    match r {
        Ok(Output { text, ok }) => {
            print!("{text}");
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// What a command prints on stdout, and whether it succeeded (its failures went to stderr).
pub struct Output {
    pub text: String,
    pub ok: bool,
}

impl From<String> for Output {
    fn from(text: String) -> Output {
        Output { text, ok: true }
    }
}

/// A JSON string literal.
pub fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn check_ns_arg(ns: Option<&str>) -> Result<(), String> {
    match ns {
        Some(ns) => check_ns(ns).map_err(|e| format!("error: --ns {ns:?}: {e}")),
        None => Ok(()),
    }
}

fn check_prefix(p: Option<&str>) -> Result<(), String> {
    match p {
        Some(p) if p.is_empty() || p.len() > 64 || !p.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Err(format!("fleet: {p:?} is not a fingerprint prefix (1 to 64 hex digits)"))
        }
        _ => Ok(()),
    }
}

/// Whether a file name could belong to a build whose fingerprint starts with `prefix`
/// (the name holds its first 32 hex digits).
fn name_matches(path: &Path, prefix: Option<&str>) -> bool {
    let Some(p) = prefix else { return true };
    let p = p.to_ascii_lowercase();
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(RegionName::parse)
        .is_some_and(|n| n.fp_prefix.starts_with(&p[..p.len().min(32)]))
}

/// The regions a command looks at (foreign files among them, as damaged), and how many
/// other users' regions it leaves out. With `ns` or `prefix`, files named otherwise are
/// never opened, and their members' /proc entries never read.
pub fn entries(
    ns: Option<&str>,
    prefix: Option<&str>,
    all_users: bool,
) -> Result<(Vec<Entry>, usize), String> {
    check_ns_arg(ns)?;
    check_prefix(prefix)?;
    let (uid, _) = truk_runtime::region::identity().map_err(|e| format!("error: {e}"))?;
    let mut shown = Vec::new();
    let mut skipped = 0;
    let paths = truk_runtime::region::paths(Path::new(DIR)).map_err(|e| format!("error: {e}"))?;
    for path in paths.into_iter().filter(|p| in_ns(p, ns) && name_matches(p, prefix)) {
        match truk_runtime::owner(&path, uid) {
            Owner::Foreign(why) => shown.push(Entry::Damaged(path, why)),
            Owner::Other(_) if !all_users => skipped += 1,
            _ => match truk_runtime::read_region(&path) {
                Entry::Region(r) if !fp_matches(&r, prefix) => {}
                e => shown.push(e),
            },
        }
    }
    Ok((shown, skipped))
}

fn fp_matches(r: &RegionInfo, prefix: Option<&str>) -> bool {
    prefix.is_none_or(|p| hex(&r.header.build_fp).starts_with(&p.to_ascii_lowercase()))
}

/// The executable path the creator of the region's generation recorded.
pub fn program(r: &RegionInfo) -> String {
    let h = &r.header;
    match truk_runtime::region::read_at(&r.path, h.program_offset, h.program_size as usize) {
        Ok(b) => {
            let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
            String::from_utf8_lossy(&b[..end]).into_owned()
        }
        Err(_) => String::new(),
    }
}

/// "N regions of other users not shown ..." (empty when none).
fn skipped_line(n: usize) -> String {
    match n {
        0 => String::new(),
        1 => "1 region of other users not shown (--all-users shows them)\n".into(),
        n => format!("{n} regions of other users not shown (--all-users shows them)\n"),
    }
}

/// The path of a damaged entry, or of a region.
fn entry_path(e: &Entry) -> &PathBuf {
    match e {
        Entry::Region(r) => &r.path,
        Entry::Damaged(p, _) => p,
    }
}
