//! `truk fleet stop`: SIGTERM to every member of one fleet. Members leave on SIGTERM
//! (truk_fleet.h, "Signals"), and the last one removes the region.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use truk_runtime::layout::hex;
use truk_runtime::region::{identity, proc_stat, Proc};
use truk_runtime::Entry;

use crate::{entries, Output};

/// How long stop waits for the regions to go away.
const WAIT: Duration = Duration::from_secs(5);

/// `truk fleet stop [--ns NS] FP-PREFIX`.
pub fn stop(ns: Option<&str>, prefix: &str) -> Result<Output, String> {
    let (entries, _) = entries(ns, Some(prefix), false)?;
    let (_, pidns) = identity().map_err(|e| format!("fleet: {e}"))?;
    let regions: Vec<_> = entries
        .into_iter()
        .filter_map(|e| match e {
            // Pids of another PID namespace name other processes here.
            Entry::Region(r) if r.name.pidns == pidns => Some(r),
            _ => None,
        })
        .collect();
    let builds: BTreeSet<String> = regions.iter().map(|r| hex(&r.header.build_fp)).collect();
    if builds.is_empty() {
        return Err(format!("fleet: no fleet of yours matches {prefix}"));
    }
    if builds.len() > 1 {
        let list: Vec<&str> = builds.iter().map(|b| &b[..16]).collect();
        return Err(format!("fleet: {prefix} matches {} builds ({}); give more digits", builds.len(), list.join(", ")));
    }
    let mut out = String::new();
    let mut waited = vec![];
    for r in &regions {
        // Each member must still be the process that joined (not a reused pid): all are
        // checked before the first signal, which may make others end (a Mutex handed on).
        let live: Vec<u32> =
            r.members.iter().filter(|m| proc_stat(m.pid) == Proc::Alive(m.start_time)).map(|m| m.pid).collect();
        // SAFETY: kill has no memory preconditions.
        let sent = live.iter().filter(|&&pid| unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) } == 0).count();
        if sent > 0 {
            waited.push(r);
        }
        out.push_str(&format!(
            "sent SIGTERM to {sent} members of {} (ns {})\n",
            &hex(&r.header.build_fp)[..16],
            r.name.ns
        ));
    }
    let deadline = Instant::now() + WAIT;
    while waited.iter().any(|r| r.path.exists()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let left: Vec<_> = waited.iter().filter(|r| r.path.exists()).collect();
    for r in &left {
        eprintln!("fleet: {} is still there after {} s (members that ignore SIGTERM?)", r.path.display(), WAIT.as_secs());
    }
    Ok(Output { text: out, ok: left.is_empty() })
}
