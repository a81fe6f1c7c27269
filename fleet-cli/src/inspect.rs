//! `truk fleet inspect`: each shared variable of a live fleet by name, type and value,
//! read from a copy of the region (no lock taken, nothing written) through the
//! description its creator stored in it (truk_runtime::desc). The binary is not needed.

use std::fmt::Write;
use std::path::PathBuf;

use truk_runtime::desc::{self, Type, Var};
use truk_runtime::layout::hex;
use truk_runtime::region::read_at;
use truk_runtime::{Entry, RegionInfo};

use crate::value::{read, Value, SHOWN};
use crate::{entries, entry_path, json_str, program, Output};

/// A region read at one moment: its members, program, variables and shared area.
pub struct Snapshot {
    pub info: RegionInfo,
    pub program: String,
    pub vars: Vec<Var>,
    pub area: Vec<u8>,
}

impl Snapshot {
    /// Reads the region `info` was read from (a damaged description: the reason).
    pub fn read(info: RegionInfo) -> Result<Snapshot, String> {
        let h = &info.header;
        let vars = match h.desc_size {
            0 => vec![],
            n => desc::decode(&read_at(&info.path, h.desc_offset, n as usize)?, h.region_size)?,
        };
        let area = read_at(&info.path, h.shared_offset, h.region_size as usize)?;
        Ok(Snapshot { program: program(&info), info, vars, area })
    }

    /// Each variable's value; arrays beyond `limit` elements cut.
    pub fn values(&self, limit: Option<u64>) -> Vec<(&Var, Value)> {
        self.vars.iter().map(|v| (v, read(&self.area, v.offset, &v.ty, limit))).collect()
    }
}

/// The regions of `ns` (and fingerprint prefix) as snapshots, or the path and reason of
/// those that cannot be read.
pub fn snapshots(
    ns: Option<&str>,
    prefix: Option<&str>,
) -> Result<Vec<Result<Snapshot, (PathBuf, String)>>, String> {
    let (entries, _) = entries(ns, prefix, false)?;
    Ok(entries
        .into_iter()
        .map(|e| {
            let path = entry_path(&e).clone();
            match e {
                Entry::Region(r) => Snapshot::read(*r).map_err(|why| (path, why)),
                Entry::Damaged(_, why) => Err((path, why)),
            }
        })
        .collect())
}

/// `truk fleet inspect [--json] [--full] [--ns NS] [FP-PREFIX]`.
pub fn inspect(json: bool, full: bool, ns: Option<&str>, prefix: Option<&str>) -> Result<Output, String> {
    let snaps = snapshots(ns, prefix)?;
    let mut ok = true;
    for (path, why) in snaps.iter().filter_map(|s| s.as_ref().err()) {
        eprintln!("fleet: {}: {why}", path.display());
        ok = false;
    }
    let good = snaps.iter().filter_map(|s| s.as_ref().ok());
    let text = if json {
        let regions: Vec<String> = good.map(region_json).collect();
        let damaged: Vec<String> = snaps
            .iter()
            .filter_map(|s| s.as_ref().err())
            .map(|(p, why)| format!("{{\"path\":{},\"reason\":{}}}", json_str(&p.to_string_lossy()), json_str(why)))
            .collect();
        format!("{{\"regions\":[{}],\"damaged\":[{}]}}\n", regions.join(","), damaged.join(","))
    } else {
        let mut out = String::new();
        for s in good {
            out.push_str(&region_text(s, if full { None } else { Some(SHOWN) }));
        }
        if snaps.is_empty() {
            out.push_str("no fleet regions\n");
        }
        out
    };
    Ok(Output { text, ok })
}

/// The first line of a region in text: fingerprint, namespace, generation, program.
pub fn region_title(s: &Snapshot) -> String {
    format!(
        "{}  ns {}  generation {}  program {}",
        hex(&s.info.header.build_fp),
        s.info.name.ns,
        s.info.header.generation,
        if s.program.is_empty() { "(unknown)" } else { &s.program }
    )
}

/// `name: type = value`, one line per variable.
pub fn var_lines(s: &Snapshot, limit: Option<u64>) -> Vec<String> {
    if s.vars.is_empty() {
        return vec!["(no shared variables described)".into()];
    }
    s.values(limit)
        .iter()
        .map(|(v, val)| format!("{}: {} = {}", v.name, v.ty.name(), val.text()))
        .collect()
}

fn region_text(s: &Snapshot, limit: Option<u64>) -> String {
    let mut out = region_title(s);
    out.push('\n');
    let pids: Vec<String> = s.info.members.iter().map(|m| m.pid.to_string()).collect();
    let _ = writeln!(out, "  {} members: pids {}", pids.len(), pids.join(", "));
    for l in var_lines(s, limit) {
        let _ = writeln!(out, "  {l}");
    }
    out
}

fn region_json(s: &Snapshot) -> String {
    let members: Vec<String> = s
        .info
        .members
        .iter()
        .map(|m| format!("{{\"pid\":{},\"slot\":{},\"start_time\":{}}}", m.pid, m.slot, m.start_time))
        .collect();
    let vars: Vec<String> = s
        .values(None)
        .iter()
        .map(|(v, val)| {
            format!(
                "{{\"name\":{},\"type\":{},\"offset\":{},\"value\":{}}}",
                json_str(&v.name),
                json_str(&v.ty.name()),
                v.offset,
                val.json()
            )
        })
        .collect();
    format!(
        "{{\"path\":{},\"fingerprint\":\"{}\",\"ns\":{},\"generation\":{},\"program\":{},\"members\":[{}],\"variables\":[{}]}}",
        json_str(&s.info.path.to_string_lossy()),
        hex(&s.info.header.build_fp),
        json_str(&s.info.name.ns),
        s.info.header.generation,
        json_str(&s.program),
        members.join(","),
        vars.join(",")
    )
}

/// The message counters of the channels among the top-level variables (for rates).
pub fn chan_counters(s: &Snapshot) -> Vec<(String, u64)> {
    s.values(Some(0))
        .into_iter()
        .filter(|(v, _)| matches!(v.ty, Type::Chan { .. }))
        .filter_map(|(v, val)| match val {
            Value::Chan { sent, .. } => Some((v.name.clone(), sent)),
            _ => None,
        })
        .collect()
}
