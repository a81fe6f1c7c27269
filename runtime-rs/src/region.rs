//! Reading regions without joining them: listing, liveness of members, and gc.

use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use crate::layout::*;

/// What /proc says about a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proc {
    /// Gone, zombie or dead.
    Dead,
    /// Running, with its start time (field 22 of /proc/PID/stat).
    Alive(u64),
    /// Cannot tell (e.g. /proc hides it): treated as alive.
    Unknown,
}

/// Reads /proc/PID/task/PID/stat, the main thread's stat: the path fleet.c reads, which
/// qemu-user does not fake (see truk_fleet.h, "Attach table").
pub fn proc_stat(pid: u32) -> Proc {
    if pid == 0 || pid > MUTEX_TID_MASK {
        return Proc::Dead;
    }
    let text = match std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/stat")) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Proc::Dead,
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Proc::Dead,
        Err(_) => return Proc::Unknown,
    };
    // comm may hold anything, spaces and parentheses included: skip to the last ')'.
    let Some(close) = text.rfind(')') else {
        return Proc::Unknown;
    };
    let mut fields = text[close + 1..].split_whitespace(); // field 3 onwards
    match fields.next() {
        Some("Z") | Some("X") | Some("x") => return Proc::Dead,
        Some(_) => {}
        None => return Proc::Unknown,
    }
    match fields.nth(18).and_then(|s| s.parse().ok()) {
        Some(start) => Proc::Alive(start),
        None => Proc::Unknown,
    }
}

/// This process's pid and start time (read once).
pub fn self_ident() -> (u32, u64) {
    static ME: std::sync::OnceLock<(u32, u64)> = std::sync::OnceLock::new();
    *ME.get_or_init(|| {
        let pid = std::process::id();
        match proc_stat(pid) {
            Proc::Alive(start) => (pid, start),
            _ => (pid, 0),
        }
    })
}

/// Is the member in a slot with this word and start time dead?
pub fn slot_dead(word: u64, start_time: u64) -> bool {
    let pid = (word >> SLOT_PID_SHIFT) as u32;
    match (proc_stat(pid), word & SLOT_STATUS_MASK) {
        (Proc::Dead, _) => true,
        (Proc::Alive(now), SLOT_ACTIVE) => now != start_time,
        _ => false, // CLAIMED has no start time yet; Unknown counts as alive
    }
}

/// A live member as listed by `truk fleet ls`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberInfo {
    pub slot: u32,
    pub pid: u32,
    pub start_time: u64,
}

/// A region file read without joining it.
#[derive(Clone, Debug)]
pub struct RegionInfo {
    pub path: PathBuf,
    pub name: RegionName,
    pub header: Header,
    /// Live members (dead ones are not listed; nothing is written).
    pub members: Vec<MemberInfo>,
}

/// One entry of `/dev/shm` that looks like a region.
#[derive(Clone, Debug)]
pub enum Entry {
    Region(Box<RegionInfo>),
    /// Named like a region but not readable as one: the one-line reason.
    Damaged(PathBuf, String),
}

/// The slots of a region, read from its file.
fn read_table(f: &File, h: &Header) -> std::io::Result<Vec<Slot>> {
    let mut bytes = vec![0u8; h.capacity as usize * SLOT_SIZE];
    f.read_exact_at(&mut bytes, h.table_offset)?;
    Ok(bytes
        .chunks_exact(SLOT_SIZE)
        .map(|c| Slot {
            word: u64::from_ne_bytes(c[..8].try_into().unwrap()),
            start_time: u64::from_ne_bytes(c[8..].try_into().unwrap()),
        })
        .collect())
}

fn live_members(slots: &[Slot]) -> Vec<MemberInfo> {
    slots
        .iter()
        .enumerate()
        .filter(|(_, s)| s.word & SLOT_STATUS_MASK != SLOT_FREE && !slot_dead(s.word, s.start_time))
        .map(|(i, s)| MemberInfo {
            slot: i as u32,
            pid: (s.word >> SLOT_PID_SHIFT) as u32,
            start_time: s.start_time,
        })
        .collect()
}

/// Opens a region file for reading or writing: a regular file (no symlink followed).
fn open_region(path: &Path, write: bool) -> Result<File, String> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(write)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("cannot open: {e}"))?;
    let m = f.metadata().map_err(|e| format!("cannot stat: {e}"))?;
    if !m.file_type().is_file() {
        return Err("not a regular file".into());
    }
    Ok(f)
}

/// Reads and checks a region file's header (and its name).
fn read_checked(path: &Path, f: &File) -> Result<(RegionName, Header), String> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(RegionName::parse)
        .ok_or("not named like a region")?;
    let len = f.metadata().map_err(|e| format!("cannot stat: {e}"))?.len();
    let mut bytes = [0u8; HEADER_SIZE];
    if len < HEADER_SIZE as u64 || f.read_exact_at(&mut bytes, 0).is_err() {
        return Err("too small to be a Truk fleet region".into());
    }
    let h = Header::from_bytes(&bytes).ok_or("too small to be a Truk fleet region")?;
    h.check(len)?;
    if hex(&h.build_fp[..16]) != name.fp_prefix {
        return Err("the name and the build fingerprint in the header disagree".into());
    }
    Ok((name, h))
}

/// Reads one region file (nothing is written, no lock is taken).
pub fn read_region(path: &Path) -> Entry {
    let r = (|| {
        let f = open_region(path, false)?;
        let (name, header) = read_checked(path, &f)?;
        let slots = read_table(&f, &header).map_err(|e| format!("cannot read: {e}"))?;
        Ok(RegionInfo {
            path: path.to_path_buf(),
            name,
            header,
            members: live_members(&slots),
        })
    })();
    match r {
        Ok(info) => Entry::Region(Box::new(info)),
        Err(e) => Entry::Damaged(path.to_path_buf(), e),
    }
}

/// Every `truk-*` file of `dir` (normally [`DIR`]), sorted by name.
pub fn list(dir: &Path) -> Result<Vec<Entry>, String> {
    let rd = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = rd
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(PREFIX))
        })
        .map(|e| e.path())
        .collect();
    paths.sort();
    Ok(paths.iter().map(|p| read_region(p)).collect())
}

/// What gc did with one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GcOutcome {
    Removed(PathBuf),
    InUse(PathBuf),
    /// Another user's or another PID namespace's: liveness cannot be judged from here.
    NotOurs(PathBuf),
    /// Left untouched, with the reason.
    Damaged(PathBuf, String),
}

/// The effective uid and the PID namespace of this process.
pub fn identity() -> Result<(u32, u64), String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    let ns = std::fs::metadata("/proc/self/ns/pid")
        .map_err(|e| format!("cannot read /proc/self/ns/pid (is /proc mounted?): {e}"))?;
    Ok((uid, ns.ino()))
}

/// Removes the regions of `dir` that have no live member, the way a leaving member
/// would: under an exclusive lock, after checking the table. Damaged files are reported
/// and left alone. Only this user's regions of this PID namespace are considered;
/// `only_ns` restricts gc to one fleet namespace.
pub fn gc(dir: &Path, only_ns: Option<&str>) -> Result<Vec<GcOutcome>, String> {
    let (uid, pidns) = identity()?;
    let mut out = Vec::new();
    let in_ns = |p: &Path| {
        only_ns.is_none_or(|ns| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(&format!("-{ns}")))
        })
    };
    for e in list(dir)? {
        let path = match &e {
            Entry::Region(r) => r.path.clone(),
            Entry::Damaged(p, _) if !in_ns(p) => continue,
            Entry::Damaged(p, why) => {
                out.push(GcOutcome::Damaged(p.clone(), why.clone()));
                continue;
            }
        };
        let Entry::Region(info) = e else {
            unreachable!()
        };
        if !in_ns(&path) {
            continue;
        }
        if info.name.uid != uid || info.name.pidns != pidns {
            out.push(GcOutcome::NotOurs(path));
            continue;
        }
        out.push(gc_one(&path));
    }
    Ok(out)
}

fn gc_one(path: &Path) -> GcOutcome {
    let damaged = |why: String| GcOutcome::Damaged(path.to_path_buf(), why);
    let f = match open_region(path, false) {
        Ok(f) => f,
        Err(e) => return damaged(e),
    };
    // SAFETY: flock on a file descriptor we own.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return GcOutcome::InUse(path.to_path_buf());
    }
    // Under the exclusive lock nobody can join or leave: read again, then decide.
    let header = match read_checked(path, &f) {
        Ok((_, h)) => h,
        Err(e) => return damaged(e),
    };
    let linked = f.metadata().map(|m| m.nlink() > 0).unwrap_or(false);
    let live = match read_table(&f, &header) {
        Ok(slots) => live_members(&slots).len(),
        Err(e) => return damaged(format!("cannot read: {e}")),
    };
    if !linked || live > 0 {
        return GcOutcome::InUse(path.to_path_buf());
    }
    match std::fs::remove_file(path) {
        Ok(()) => GcOutcome::Removed(path.to_path_buf()),
        Err(e) => damaged(format!("cannot remove: {e}")),
    }
}
