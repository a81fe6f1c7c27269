//! The region layout, mirrored from `runtime-c/truk_fleet.h` (the single source; a test
//! compiles that header and compares every size and offset with these).

/// Where regions live.
pub const DIR: &str = "/dev/shm";
/// Every region file name starts with this.
pub const PREFIX: &str = "truk-";
pub const NS_ENV: &str = "TRUK_FLEET_NS";
pub const NS_DEFAULT: &str = "default";
pub const NS_MAX: usize = 64;

pub const MAGIC: [u8; 8] = *b"TRUKFLT\0";
/// 3: the program path and the description of the shared variables after the shared area.
pub const PROTOCOL: u32 = 4;
pub const HEADER_SIZE: usize = 256;
pub const SLOT_SIZE: usize = 64;
pub const SHARED_ALIGN: u64 = 64;
pub const FP_SIZE: usize = 32;
/// Exit status of a C member that cannot join.
pub const EXIT_STATUS: i32 = 70;
/// Largest attach table the runtimes accept.
pub const MAX_CAPACITY: u32 = 1 << 24;

pub const STATE_INIT: u32 = 1;
pub const STATE_READY: u32 = 2;

pub const SLOT_FREE: u64 = 0;
pub const SLOT_CLAIMED: u64 = 1;
pub const SLOT_ACTIVE: u64 = 2;
pub const SLOT_STATUS_MASK: u64 = 3;
pub const SLOT_COUNT_ONE: u64 = 4;
pub const SLOT_COUNT_MASK: u64 = 0xffff_fffc;
pub const SLOT_PID_SHIFT: u32 = 32;

/// The region header (`struct truk_fleet_header`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Header {
    pub magic: [u8; 8],
    pub protocol: u32,
    pub header_size: u32,
    pub build_fp: [u8; FP_SIZE],
    pub layout_fp: [u8; FP_SIZE],
    pub region_size: u64,
    pub file_size: u64,
    pub table_offset: u64,
    pub shared_offset: u64,
    pub capacity: u32,
    pub slot_size: u32,
    /// Atomic in the region.
    pub generation: u64,
    /// Atomic in the region.
    pub state: u32,
    pub creator_pid: u32,
    pub generation_time: u64,
    /// The creator's executable path, NUL-terminated, in PROGRAM_SIZE bytes.
    pub program_offset: u64,
    pub program_size: u64,
    /// The description of the shared variables (`desc.rs`), from the binary.
    pub desc_offset: u64,
    pub desc_size: u64,
    pub reserved: [u8; HEADER_SIZE - 176],
}

/// One attach-table slot (`struct truk_fleet_slot`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Slot {
    /// Atomic in the region: status | claim count | pid << 32.
    pub word: u64,
    pub start_time: u64,
    /// The channel side this member is inside an operation on (region offset of its lease
    /// word), 0 none; Rust members send and receive nothing, so theirs stays 0.
    pub in_op: u64,
    pub pad: [u8; SLOT_SIZE - 24],
}

impl Default for Slot {
    fn default() -> Slot {
        Slot { word: 0, start_time: 0, in_op: 0, pad: [0; SLOT_SIZE - 24] }
    }
}

pub const EXITLOG_HEADER_SIZE: usize = 64;
pub const EXIT_RECORD_SIZE: usize = 32;
/// An unpublished exit record's writer is judged dead after this many milliseconds.
pub const EXIT_STALL_MS: u64 = 1000;

/// The exit log's header (`struct truk_fleet_exitlog`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ExitLogHeader {
    /// Atomic: sequence numbers claimed so far.
    pub head: u64,
    /// Atomic futex word: + 1 after each record is published.
    pub wake: u32,
    pub pad0: u32,
    pub reserved: [u8; EXITLOG_HEADER_SIZE - 16],
}

/// One exit record (`struct truk_fleet_exit`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ExitRecord {
    /// Atomic: seq + 1 once published, 0 while written.
    pub stamp: u64,
    pub start_time: u64,
    pub pid: u32,
    pub slot: u32,
    pub reserved: u64,
}

const _: () = assert!(std::mem::size_of::<ExitLogHeader>() == EXITLOG_HEADER_SIZE);
const _: () = assert!(std::mem::size_of::<ExitRecord>() == EXIT_RECORD_SIZE);

fn align_shared(x: u64) -> u64 {
    (x + SHARED_ALIGN - 1) & !(SHARED_ALIGN - 1)
}

/// Records in the exit log for `capacity` slots.
pub fn exitlog_len(capacity: u32) -> u64 {
    4 * capacity as u64 + 256
}

/// Where the exit log starts for `capacity` slots (after the table).
pub fn exitlog_offset(capacity: u32) -> u64 {
    align_shared(HEADER_SIZE as u64 + capacity as u64 * SLOT_SIZE as u64)
}

/// The Mutex of truk_rt.h (`struct truk_mutex_layout`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MutexLayout {
    /// Atomic: holder tid | WAITERS, or OWNER_DIED (| WAITERS).
    pub word: u32,
    /// 1 while the holder has it on its robust list.
    pub listed: u32,
    /// (holder thread's start time low 32 bits) << 32 | holder tid.
    pub owner: u64,
    pub spare: u64,
    /// Robust list links, in the holder's address space.
    pub prev: u64,
    pub next: u64,
}
pub const MUTEX_WAITERS: u32 = 0x8000_0000;
pub const MUTEX_OWNER_DIED: u32 = 0x4000_0000;
pub const MUTEX_TID_MASK: u32 = 0x3fff_ffff;
pub const MUTEX_BACKSTOP_MS: u64 = 1000;

/// The header of a `chan[T, N]` (`struct truk_chan_header`, "Channels" in truk_fleet.h);
/// N cells of `chan_stride(sizeof T)` bytes follow it.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ChanHeader {
    pub tail: u64,
    /// The send side's lease: 0 shared, a mover id, | LEASE_REVOKING, | LEASE_CLOSED.
    pub send_lease: u32,
    pub send_backoff: u32,
    pub send_calm: u64,
    pub pad0: [u8; 40],
    pub head: u64,
    pub recv_lease: u32,
    pub recv_backoff: u32,
    pub recv_calm: u64,
    pub pad1: [u8; 40],
    pub sent: u32,
    pub recvd: u32,
    pub recv_sleepers: u32,
    pub send_sleepers: u32,
    pub closed: u32,
    pub pad2: [u8; CHAN_HEADER_SIZE - 148],
}
pub const CHAN_HEADER_SIZE: usize = 192;
pub const CHAN_CELL_PAYLOAD: u64 = 8;
pub const CHAN_EMPTY: u64 = 0;
pub const CHAN_WRITING: u64 = 1;
pub const CHAN_FULL: u64 = 2;
pub const CHAN_LEASE_REVOKING: u32 = 0x4000_0000;
pub const CHAN_LEASE_CLOSED: u32 = 0x8000_0000;
pub const CHAN_MOVER_MASK: u64 = 0x3fff_ffff;
pub const CHAN_MOVER_SLOT_BITS: u32 = 17;

/// Bytes of one cell for an element of `elem_size` bytes.
pub fn chan_stride(elem_size: u64) -> u64 {
    CHAN_CELL_PAYLOAD + elem_size.div_ceil(8) * 8
}

/// Bytes of a `chan[T, cap]` whose T has `elem_size` bytes.
pub fn chan_size(elem_size: u64, cap: u64) -> u64 {
    CHAN_HEADER_SIZE as u64 + cap * chan_stride(elem_size)
}

/// The true next positions `(tail, head)` of a channel from its two hints: walks on over
/// cells whose state shows the position was claimed (tail) or taken (head), at most `cap`
/// steps each, as chan.c does. `state(p)` reads the state word of position p's cell.
pub fn chan_positions(cap: u64, tail: u64, head: u64, state: impl Fn(u64) -> u64) -> (u64, u64) {
    let d = |p: u64| ((state(p) >> 32) as u32).wrapping_sub((p / cap) as u32) as i32;
    let (mut t, mut h) = (tail, head);
    for _ in 0..cap {
        let claimed = d(t) > 0 || (d(t) == 0 && state(t) & 3 != CHAN_EMPTY);
        if !claimed {
            break;
        }
        t += 1;
    }
    for _ in 0..cap {
        if d(h) <= 0 {
            break;
        }
        h += 1;
    }
    (t, h)
}

/// The header of a `table[K, V, N]` (`struct truk_table_header`, "Tables" in
/// truk_fleet.h); N slots of `table_stride(sizeof K, sizeof V)` bytes follow it.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct TableHeader {
    pub epoch: u64,
    pub pad0: [u8; 56],
    pub len: u64,
    pub stale: u64,
    pub dels: u64,
    pub pad1: [u8; 40],
    pub locks: [u64; TABLE_STRIPES],
}
pub const TABLE_STRIPES: usize = 64;
pub const TABLE_HEADER_SIZE: usize = 128 + 8 * TABLE_STRIPES;
pub const TABLE_EMPTY: u64 = 0;
pub const TABLE_BUSY: u64 = 1;
pub const TABLE_FULL: u64 = 2;
pub const TABLE_TOMB: u64 = 3;
pub const TABLE_EPOCH_MASK: u64 = 0x3fff_ffff;

/// Bytes of one slot: state word, key, two copies of the value, each padded to 8.
pub fn table_stride(key_size: u64, value_size: u64) -> u64 {
    8 + key_size.div_ceil(8) * 8 + 2 * (value_size.div_ceil(8) * 8)
}

/// Bytes of a `table[K, V, cap]`.
pub fn table_size(key_size: u64, value_size: u64, cap: u64) -> u64 {
    TABLE_HEADER_SIZE as u64 + cap * table_stride(key_size, value_size)
}

const _: () = assert!(std::mem::size_of::<ChanHeader>() == CHAN_HEADER_SIZE);
const _: () = assert!(std::mem::size_of::<TableHeader>() == TABLE_HEADER_SIZE);
const _: () = assert!(std::mem::size_of::<Header>() == HEADER_SIZE);
const _: () = assert!(std::mem::size_of::<Slot>() == SLOT_SIZE);
const _: () = assert!(std::mem::size_of::<MutexLayout>() == 40);

/// Where the shared area starts for `capacity` slots.
pub fn shared_offset(capacity: u32) -> u64 {
    align_shared(
        exitlog_offset(capacity)
            + EXITLOG_HEADER_SIZE as u64
            + exitlog_len(capacity) * EXIT_RECORD_SIZE as u64,
    )
}

/// Bytes kept for the creator's executable path (NUL-terminated).
pub const PROGRAM_SIZE: u64 = 4096;
/// The largest description a region may carry.
pub const DESC_MAX: u64 = 1 << 26;

/// Where the program path starts: after the shared area (None: impossible sizes).
pub fn program_offset(capacity: u32, region_size: u64) -> Option<u64> {
    let end = shared_offset(capacity).checked_add(region_size)?;
    (end <= i64::MAX as u64 / 2).then(|| align_shared(end))
}

/// The whole file: header, table, exit log, shared area, program path, description.
pub fn file_size(capacity: u32, region_size: u64, desc_size: u64) -> Option<u64> {
    if desc_size > DESC_MAX {
        return None;
    }
    Some(program_offset(capacity, region_size)? + PROGRAM_SIZE + desc_size)
}

impl Header {
    /// Reads a header from the first bytes of a region file (None: too short).
    pub fn from_bytes(b: &[u8]) -> Option<Header> {
        if b.len() < HEADER_SIZE {
            return None;
        }
        // SAFETY: Header is plain old data (integers and byte arrays, every bit pattern is
        // valid) and `b` holds at least size_of::<Header>() bytes; read_unaligned copies.
        Some(unsafe { std::ptr::read_unaligned(b.as_ptr() as *const Header) })
    }

    /// A new header for a region of this shape (generation 0, state INIT).
    pub fn new(build_fp: [u8; 32], layout_fp: [u8; 32], capacity: u32, region_size: u64, desc_size: u64) -> Header {
        let shared = shared_offset(capacity);
        let program = program_offset(capacity, region_size).unwrap_or(0);
        Header {
            magic: MAGIC,
            protocol: PROTOCOL,
            header_size: HEADER_SIZE as u32,
            build_fp,
            layout_fp,
            region_size,
            file_size: program + PROGRAM_SIZE + desc_size,
            table_offset: HEADER_SIZE as u64,
            shared_offset: shared,
            capacity,
            slot_size: SLOT_SIZE as u32,
            generation: 0,
            state: STATE_INIT,
            creator_pid: 0,
            generation_time: 0,
            program_offset: program,
            program_size: PROGRAM_SIZE,
            desc_offset: program + PROGRAM_SIZE,
            desc_size,
            reserved: [0; HEADER_SIZE - 176],
        }
    }

    /// Checks that the header is well formed and describes a file of `file_len` bytes.
    /// The error is one line saying what is wrong.
    pub fn check(&self, file_len: u64) -> Result<(), String> {
        if self.magic != MAGIC {
            return Err("not a Truk fleet region (bad magic)".into());
        }
        if self.protocol != PROTOCOL {
            return Err(format!(
                "region protocol {}, this runtime speaks {PROTOCOL}",
                self.protocol
            ));
        }
        if self.header_size as usize != HEADER_SIZE
            || self.slot_size as usize != SLOT_SIZE
            || self.table_offset != HEADER_SIZE as u64
        {
            return Err("damaged header (sizes)".into());
        }
        if self.capacity == 0 || self.capacity > MAX_CAPACITY {
            return Err(format!("damaged header (capacity {})", self.capacity));
        }
        if self.shared_offset != shared_offset(self.capacity)
            || Some(self.program_offset) != program_offset(self.capacity, self.region_size)
            || self.program_size != PROGRAM_SIZE
            || self.desc_offset != self.program_offset + PROGRAM_SIZE
            || Some(self.file_size) != file_size(self.capacity, self.region_size, self.desc_size)
        {
            return Err("damaged header (offsets)".into());
        }
        if file_len != self.file_size {
            return Err(format!(
                "file is {file_len} bytes, the header says {}",
                self.file_size
            ));
        }
        Ok(())
    }

    /// Also checks that the region belongs to the build described by `e` (what a member
    /// checks before it trusts the region).
    pub fn check_for(&self, file_len: u64, e: &Build) -> Result<(), String> {
        self.check(file_len)?;
        if self.build_fp != e.build_fp {
            return Err("made by another build (build fingerprint differs)".into());
        }
        if self.layout_fp != e.layout_fp {
            return Err(
                "shared variables laid out differently (layout fingerprint differs)".into(),
            );
        }
        if self.capacity != e.capacity
            || self.region_size != e.region_size
            || self.desc_size != e.desc.len() as u64
        {
            return Err(format!(
                "damaged header (capacity {}, region size {}; expected {}, {})",
                self.capacity, self.region_size, e.capacity, e.region_size
            ));
        }
        Ok(())
    }
}

/// What a build says about its region (the note's fixed part).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Build {
    pub build_fp: [u8; 32],
    pub layout_fp: [u8; 32],
    pub capacity: u32,
    pub region_size: u64,
    /// The description of the shared variables (`desc.rs`; empty: none).
    pub desc: Vec<u8>,
}

/// The parts of a region file name `truk-<uid>-<pidns>-<fp32>-<ns>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionName {
    pub uid: u32,
    pub pidns: u64,
    pub fp_prefix: String,
    pub ns: String,
}

impl RegionName {
    pub fn parse(file_name: &str) -> Option<RegionName> {
        let rest = file_name.strip_prefix(PREFIX)?;
        let mut it = rest.splitn(4, '-');
        let uid = it.next()?.parse().ok()?;
        let pidns = it.next()?.parse().ok()?;
        let fp_prefix = it.next()?.to_string();
        let ns = it.next()?.to_string();
        if fp_prefix.len() != 32 || !fp_prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        check_ns(&ns).ok()?;
        Some(RegionName {
            uid,
            pidns,
            fp_prefix,
            ns,
        })
    }

    pub fn new(uid: u32, pidns: u64, build_fp: &[u8; 32], ns: &str) -> RegionName {
        RegionName {
            uid,
            pidns,
            fp_prefix: hex(&build_fp[..16]),
            ns: ns.to_string(),
        }
    }

    pub fn file_name(&self) -> String {
        format!(
            "{PREFIX}{}-{}-{}-{}",
            self.uid, self.pidns, self.fp_prefix, self.ns
        )
    }
}

/// A fleet namespace must be 1 to NS_MAX characters of [A-Za-z0-9_.-], not starting with
/// '.'. (An empty or unset TRUK_FLEET_NS means "default".)
pub fn check_ns(ns: &str) -> Result<(), String> {
    let ok = !ns.is_empty()
        && ns.len() <= NS_MAX
        && !ns.starts_with('.')
        && ns
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{NS_ENV} must be 1 to {NS_MAX} characters of A-Z a-z 0-9 _ . - (not starting with '.')"
        ))
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chan_positions_walk_past_hints_left_behind() {
        // cap 4: positions 0..5 were sent, 0..2 taken; both hints were left one behind.
        let lap = |p: u64, kind: u64| (p / 4) << 32 | kind;
        let cells = [lap(4, CHAN_FULL), lap(5, CHAN_WRITING), lap(6, CHAN_EMPTY), lap(3, CHAN_FULL)];
        let state = |p: u64| cells[(p % 4) as usize];
        assert_eq!(chan_positions(4, 5, 2, state), (6, 3));
        assert_eq!(chan_positions(4, 6, 3, state), (6, 3), "hints in place: no walk");
        assert_eq!(chan_positions(4, 0, 0, |_| 0), (0, 0), "all zero: empty");
    }
}
