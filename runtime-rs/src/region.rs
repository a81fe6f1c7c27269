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
            start_time: u64::from_ne_bytes(c[8..16].try_into().unwrap()),
            in_op: u64::from_ne_bytes(c[16..24].try_into().unwrap()),
            pad: [0; SLOT_SIZE - 24],
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

/// Why a region file others could reach must not be used: group or other permission
/// bits, or a second name (a hard link planted by someone else reads and writes the fleet
/// through it). None when it is private. A link count of 0 (a leaver unlinked it) is not
/// a problem here: callers see that the file is gone.
pub fn access_problem(mode: u32, nlink: u64) -> Option<String> {
    if mode & 0o077 != 0 {
        return Some(format!(
            "has mode {:04o}: other users could read or write the fleet's memory",
            mode & 0o7777
        ));
    }
    if nlink > 1 {
        return Some(format!(
            "has {nlink} links: another name reaches the fleet's memory"
        ));
    }
    None
}

/// Whose a file named like a region is, judged from its name and its owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    /// The caller's (or unreadable: then reading it reports why).
    Caller,
    /// Another user's, named for that user.
    Other(u32),
    /// Owned by someone other than the user its name says: the one-line reason.
    Foreign(String),
}

/// Classifies `path` for a caller with effective uid `euid` (no symlink followed).
pub fn owner(path: &Path, euid: u32) -> Owner {
    let Ok(m) = std::fs::symlink_metadata(path) else {
        return Owner::Caller;
    };
    let named = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(RegionName::parse)
        .map(|n| n.uid);
    match named {
        Some(uid) if uid != m.uid() => Owner::Foreign(format!(
            "owned by uid {}, not by uid {uid} as its name says (a foreign file; left alone)",
            m.uid()
        )),
        _ if m.uid() == euid => Owner::Caller,
        _ => Owner::Other(m.uid()),
    }
}

/// Opens a region file for reading or writing: a regular file (no symlink followed) that
/// only its owner can reach.
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
    if let Some(why) = access_problem(m.mode(), m.nlink()) {
        return Err(why);
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

/// Whether `path` is named like a region of fleet namespace `ns` (None: any file). Only
/// the name is looked at, so that `--ns` touches nothing of other namespaces.
pub fn in_ns(path: &Path, ns: Option<&str>) -> bool {
    ns.is_none_or(|ns| {
        path.file_name()
            .and_then(|n| n.to_str())
            .and_then(RegionName::parse)
            .is_some_and(|n| n.ns == ns)
    })
}

/// `len` bytes at `offset` of a region file (opened as `read_region` opens it): a copy
/// read without locks, for `truk fleet inspect`.
pub fn read_at(path: &Path, offset: u64, len: usize) -> Result<Vec<u8>, String> {
    let f = open_region(path, false)?;
    let mut bytes = vec![0u8; len];
    f.read_exact_at(&mut bytes, offset)
        .map_err(|e| format!("cannot read: {e}"))?;
    Ok(bytes)
}

/// Every `truk-*` file of `dir` (normally [`DIR`]), sorted by name.
pub fn list(dir: &Path) -> Result<Vec<Entry>, String> {
    Ok(paths(dir)?.iter().map(|p| read_region(p)).collect())
}

/// The paths of the `truk-*` files of `dir`, sorted.
pub fn paths(dir: &Path) -> Result<Vec<PathBuf>, String> {
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
    Ok(paths)
}

/// What gc did with one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GcOutcome {
    Removed(PathBuf),
    InUse(PathBuf),
    /// Another PID namespace's: liveness cannot be judged from here.
    NotOurs(PathBuf),
    /// Another user's (that uid), left alone without `all_users`.
    Skipped(PathBuf, u32),
    /// Left untouched, with the reason.
    Damaged(PathBuf, String),
}

/// The effective uid and the PID namespace of this process. Fails, saying why, where
/// /proc is not this PID namespace's own: liveness would be judged by other processes.
pub fn identity() -> Result<(u32, u64), String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    let ns = std::fs::metadata("/proc/self/ns/pid")
        .map_err(|e| format!("cannot read /proc/self/ns/pid (is /proc mounted?): {e}"))?;
    proc_check()?;
    Ok((uid, ns.ino()))
}

/// The pid /proc/self names must be ours (see fleet.c, proc_check).
fn proc_check() -> Result<(), String> {
    let me = std::process::id();
    let link = std::fs::read_link("/proc/self").ok();
    let seen = link.as_ref().and_then(|l| l.to_str());
    if seen.and_then(|s| s.parse::<u32>().ok()) == Some(me) {
        return Ok(());
    }
    Err(format!(
        "/proc is not this PID namespace's own (/proc/self is {}, getpid() is {me}): members' \
         liveness cannot be checked here; give the namespace its own /proc (e.g. unshare \
         --pid --fork --mount-proc)",
        seen.unwrap_or("unreadable")
    ))
}

/// Removes the regions of `dir` that have no live member, the way a leaving member
/// would: under an exclusive lock, after checking the table. Damaged and foreign files
/// are reported and left alone. Only regions of this PID namespace are considered, and
/// only this user's unless `all_users`; `only_ns` restricts gc to one fleet namespace.
pub fn gc(dir: &Path, only_ns: Option<&str>, all_users: bool) -> Result<Vec<GcOutcome>, String> {
    let (uid, pidns) = identity()?;
    let mut out = Vec::new();
    for path in paths(dir)?.into_iter().filter(|p| in_ns(p, only_ns)) {
        match owner(&path, uid) {
            Owner::Foreign(why) => {
                out.push(GcOutcome::Damaged(path, why));
                continue;
            }
            Owner::Other(u) if !all_users => {
                out.push(GcOutcome::Skipped(path, u));
                continue;
            }
            _ => {}
        }
        out.push(match read_region(&path) {
            Entry::Damaged(p, why) => GcOutcome::Damaged(p, why),
            Entry::Region(info) if info.name.pidns != pidns => GcOutcome::NotOurs(path),
            Entry::Region(_) => gc_one(&path),
        });
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
    let m = match f.metadata() {
        Ok(m) => m,
        Err(e) => return damaged(format!("cannot stat: {e}")),
    };
    if let Some(why) = access_problem(m.mode(), m.nlink()) {
        return damaged(why); // linked or opened up while we waited
    }
    let linked = m.nlink() > 0;
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
