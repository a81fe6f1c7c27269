//! `truk fleet ls` and `truk fleet gc`.

use std::fmt::Write;
use std::path::Path;

use truk_runtime::layout::{hex, DIR, STATE_INIT, STATE_READY};
use truk_runtime::{Entry, GcOutcome, RegionInfo};

use crate::{check_ns_arg, entries, json_str, program, skipped_line, Output};

pub(crate) fn state_name(state: u32) -> &'static str {
    match state {
        STATE_READY => "ready",
        STATE_INIT => "initializing",
        _ => "unknown",
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
        "{{\"path\":{},\"build_fingerprint\":\"{}\",\"layout_fingerprint\":\"{}\",\"namespace\":{},\"program\":{},\"uid\":{},\"pid_namespace\":{},\"generation\":{},\"state\":\"{}\",\"region_size\":{},\"file_size\":{},\"capacity\":{},\"members\":[{}]}}",
        json_str(&r.path.to_string_lossy()),
        hex(&h.build_fp),
        hex(&h.layout_fp),
        json_str(&r.name.ns),
        json_str(&program(r)),
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
pub fn ls(json: bool, ns: Option<&str>, all_users: bool) -> Result<Output, String> {
    let (entries, skipped) = entries(ns, None, all_users)?;
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
        return Ok(out.into());
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
                let _ = writeln!(out, "    program {}", program(r));
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
    Ok(out.into())
}

/// `truk fleet gc [--ns NS] [--all-users]`.
pub fn gc(ns: Option<&str>, all_users: bool) -> Result<Output, String> {
    check_ns_arg(ns)?;
    let outcomes = truk_runtime::gc(Path::new(DIR), ns, all_users).map_err(|e| format!("error: {e}"))?;
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
    Ok(out.into())
}
