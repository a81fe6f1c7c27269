//! `truk fleet ls` and `truk fleet gc`: the region protocol read through the runtime crate
//! (truk-runtime, which mirrors runtime-c/truk_fleet.h). Both return the text to print or
//! a one-line error; hostile region files are reported, never trusted.

use std::fmt::Write;
use std::path::Path;

use truk_runtime::layout::{check_ns, hex, DIR, STATE_INIT, STATE_READY};
use truk_runtime::{Entry, GcOutcome, Owner, RegionInfo};

/// A JSON string literal.
fn json_str(s: &str) -> String {
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

fn state_name(state: u32) -> &'static str {
    match state {
        STATE_READY => "ready",
        STATE_INIT => "initializing",
        _ => "unknown",
    }
}

fn in_ns(path: &Path, ns: Option<&str>) -> bool {
    ns.is_none_or(|ns| {
        path.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(&format!("-{ns}")))
    })
}

fn check_ns_arg(ns: Option<&str>) -> Result<(), String> {
    match ns {
        Some(ns) => check_ns(ns).map_err(|e| format!("--ns {ns:?}: {e}")),
        None => Ok(()),
    }
}

/// The regions `ls` shows (foreign files among them, as damaged), and how many other
/// users' regions it leaves out.
fn entries(ns: Option<&str>, all_users: bool) -> Result<(Vec<Entry>, usize), String> {
    check_ns_arg(ns)?;
    let (uid, _) = truk_runtime::region::identity()?;
    let mut shown = Vec::new();
    let mut skipped = 0;
    for e in truk_runtime::list(Path::new(DIR))? {
        let path = match &e {
            Entry::Region(r) => r.path.clone(),
            Entry::Damaged(p, _) => p.clone(),
        };
        if !in_ns(&path, ns) {
            continue;
        }
        match truk_runtime::owner(&path, uid) {
            Owner::Foreign(why) => shown.push(Entry::Damaged(path, why)),
            Owner::Other(_) if !all_users => skipped += 1,
            _ => shown.push(e),
        }
    }
    Ok((shown, skipped))
}

/// "N regions of other users not shown ..." (empty when none).
fn skipped_line(n: usize) -> String {
    match n {
        0 => String::new(),
        1 => "1 region of other users not shown (--all-users shows them)\n".into(),
        n => format!("{n} regions of other users not shown (--all-users shows them)\n"),
    }
}

fn region_json(r: &RegionInfo) -> String {
    let h = &r.header;
    let members: Vec<String> = r
        .members
        .iter()
        .map(|m| {
            format!(
                "{{\"pid\":{},\"slot\":{},\"start_time\":{}}}",
                m.pid, m.slot, m.start_time
            )
        })
        .collect();
    format!(
        "{{\"path\":{},\"build_fingerprint\":\"{}\",\"layout_fingerprint\":\"{}\",\"namespace\":{},\"uid\":{},\"pid_namespace\":{},\"generation\":{},\"state\":\"{}\",\"region_size\":{},\"file_size\":{},\"capacity\":{},\"members\":[{}]}}",
        json_str(&r.path.to_string_lossy()),
        hex(&h.build_fp),
        hex(&h.layout_fp),
        json_str(&r.name.ns),
        r.name.uid,
        r.name.pidns,
        h.generation,
        state_name(h.state),
        h.region_size,
        h.file_size,
        h.capacity,
        members.join(",")
    )
}

/// `truk fleet ls [--json] [--ns NS] [--all-users]`.
pub fn ls(json: bool, ns: Option<&str>, all_users: bool) -> Result<String, String> {
    let (entries, skipped) = entries(ns, all_users)?;
    let mut out = String::new();
    if json {
        let mut regions = Vec::new();
        let mut damaged = Vec::new();
        for e in &entries {
            match e {
                Entry::Region(r) => regions.push(region_json(r)),
                Entry::Damaged(p, why) => damaged.push(format!(
                    "{{\"path\":{},\"reason\":{}}}",
                    json_str(&p.to_string_lossy()),
                    json_str(why)
                )),
            }
        }
        let _ = writeln!(
            out,
            "{{\"regions\":[{}],\"other_users_skipped\":{skipped},\"damaged\":[{}]}}",
            regions.join(","),
            damaged.join(",")
        );
        return Ok(out);
    }
    if entries.is_empty() {
        out.push_str("no fleet regions\n");
    }
    for e in &entries {
        match e {
            Entry::Region(r) => {
                let h = &r.header;
                let _ = writeln!(
                    out,
                    "{}  ns {}  generation {}  {}  size {} bytes  {} of {} members",
                    hex(&h.build_fp),
                    r.name.ns,
                    h.generation,
                    state_name(h.state),
                    h.region_size,
                    r.members.len(),
                    h.capacity
                );
                for m in &r.members {
                    let _ = writeln!(
                        out,
                        "    slot {:<5} pid {:<8} start time {}",
                        m.slot, m.pid, m.start_time
                    );
                }
            }
            Entry::Damaged(p, why) if why.ends_with("left alone)") => {
                let _ = writeln!(out, "{}: {why}", p.display());
            }
            Entry::Damaged(p, why) => {
                let _ = writeln!(out, "{}: {} (not a usable region)", p.display(), why);
            }
        }
    }
    out.push_str(&skipped_line(skipped));
    Ok(out)
}

/// `truk fleet gc [--ns NS] [--all-users]`.
pub fn gc(ns: Option<&str>, all_users: bool) -> Result<String, String> {
    check_ns_arg(ns)?;
    let outcomes = truk_runtime::gc(Path::new(DIR), ns, all_users)?;
    let mut out = String::new();
    let (mut removed, mut in_use, mut damaged, mut skipped) = (0, 0, 0, 0);
    for o in &outcomes {
        match o {
            GcOutcome::Removed(p) => {
                removed += 1;
                let _ = writeln!(out, "removed {}", p.display());
            }
            GcOutcome::InUse(_) | GcOutcome::NotOurs(_) => in_use += 1,
            GcOutcome::Skipped(p, uid) => {
                skipped += 1;
                let _ = writeln!(
                    out,
                    "skipped {} (uid {uid}'s; --all-users to include it)",
                    p.display()
                );
            }
            GcOutcome::Damaged(p, why) => {
                damaged += 1;
                let _ = writeln!(out, "left untouched {}: {why}", p.display());
            }
        }
    }
    let _ = write!(
        out,
        "gc: {removed} removed, {in_use} in use, {damaged} damaged left untouched"
    );
    if skipped > 0 {
        let _ = write!(out, ", {skipped} of other users skipped");
    }
    out.push('\n');
    Ok(out)
}
