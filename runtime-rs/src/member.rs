//! Joining a fleet as a member from Rust: the same protocol as runtime-c/fleet.c (see
//! truk_fleet.h, "Lifecycle"), so Rust and C processes of one build share a region.

use std::ffi::CString;
use std::path::PathBuf;
use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

use crate::layout::*;
use crate::region::{access_problem, identity, self_ident, slot_dead};

/// A joined member. Dropping it leaves the fleet (and removes the region when it was
/// the last member).
pub struct Member {
    fd: libc::c_int,
    base: *mut u8,
    size: usize,
    shared_offset: u64,
    region_size: u64,
    capacity: u32,
    desc: Vec<u8>,
    slot: u32,
    slot_word: u64,
    first: bool,
    path: PathBuf,
    cpath: CString,
}

// The mapping is shared memory accessed through atomics; the handle itself may move.
unsafe impl Send for Member {}

enum Attempt {
    Joined(Member),
    Retry,
    Absent,
}

fn os_err(what: &str, path: &std::path::Path) -> String {
    format!(
        "{what} {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    )
}

/// The region's file name for `build` in namespace `ns` (None: $TRUK_FLEET_NS or default).
pub fn region_path(build: &Build, ns: Option<&str>) -> Result<PathBuf, String> {
    let env = std::env::var(NS_ENV).ok().filter(|s| !s.is_empty());
    let ns = ns
        .map(str::to_string)
        .or(env)
        .unwrap_or_else(|| NS_DEFAULT.to_string());
    check_ns(&ns)?;
    let (uid, pidns) = identity()?;
    Ok(PathBuf::from(DIR).join(RegionName::new(uid, pidns, &build.build_fp, &ns).file_name()))
}

impl Member {
    /// Joins the fleet of `build` in namespace `ns`. `init` sees the zero-filled shared
    /// area of a new generation before anyone else can (it plays the constant initializers'
    /// role). Errors are one line, as the C runtime prints them after "fleet: ".
    pub fn join(
        build: &Build,
        ns: Option<&str>,
        mut init: impl FnMut(&mut [u8]),
    ) -> Result<Member, String> {
        if build.capacity == 0 || build.capacity > MAX_CAPACITY {
            return Err(format!(
                "capacity {} (1 to {MAX_CAPACITY} allowed)",
                build.capacity
            ));
        }
        let path = region_path(build, ns)?;
        for _ in 0..10000 {
            let a = match Member::attach(build, &path, &mut init)? {
                Attempt::Absent => Member::create(build, &path, &mut init)?,
                a => a,
            };
            if let Attempt::Joined(m) = a {
                return Ok(m);
            }
        }
        Err(format!(
            "cannot join {}: it keeps changing under us",
            path.display()
        ))
    }

    fn blank(build: &Build, path: &std::path::Path, fd: libc::c_int) -> Member {
        let shared_offset = shared_offset(build.capacity);
        let size = file_size(build.capacity, build.region_size, build.desc.len() as u64);
        Member {
            fd,
            base: std::ptr::null_mut(),
            // An impossible size fails at fallocate or at the header check.
            size: size.unwrap_or(u64::MAX) as usize,
            shared_offset,
            region_size: build.region_size,
            capacity: build.capacity,
            desc: build.desc.clone(),
            slot: 0,
            slot_word: 0,
            first: false,
            path: path.to_path_buf(),
            cpath: CString::new(path.as_os_str().as_encoded_bytes()).unwrap(),
        }
    }

    fn map(&mut self) -> Result<(), String> {
        // SAFETY: mapping a file we hold open, of the size checked before.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                self.size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                self.fd,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(os_err("cannot map", &self.path));
        }
        self.base = p as *mut u8;
        Ok(())
    }

    fn header_u64(&self, off: usize) -> &AtomicU64 {
        // SAFETY: off is the 8-aligned offset of a u64 header field inside the mapping.
        unsafe { &*(self.base.add(off) as *const AtomicU64) }
    }

    fn state(&self) -> &AtomicU32 {
        // SAFETY: offset of Header::state, 4-aligned, inside the mapping.
        unsafe { &*(self.base.add(std::mem::offset_of!(Header, state)) as *const AtomicU32) }
    }

    fn generation_cell(&self) -> &AtomicU64 {
        self.header_u64(std::mem::offset_of!(Header, generation))
    }

    fn slot_word(&self, i: u32) -> &AtomicU64 {
        self.header_u64(HEADER_SIZE + i as usize * SLOT_SIZE)
    }

    fn slot_start(&self, i: u32) -> &AtomicU64 {
        self.header_u64(HEADER_SIZE + i as usize * SLOT_SIZE + 8)
    }

    /// Frees slot `i` (word `w` seen): CAS to FREE, keeping the pid (truk_fleet.h); the
    /// winner for an ACTIVE slot appends its exit record. False: someone changed it first.
    fn slot_free(&self, i: u32, w: u64) -> bool {
        let start = self.slot_start(i).load(Ordering::Relaxed);
        if self
            .slot_word(i)
            .compare_exchange(w, w & !SLOT_STATUS_MASK, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return false;
        }
        if w & SLOT_STATUS_MASK == SLOT_ACTIVE {
            self.exitlog_append(i, w, start);
        }
        true
    }

    /// Appends an exit record (truk_fleet.h, "Exit log").
    fn exitlog_append(&self, slot: u32, w: u64, start: u64) {
        let log = exitlog_offset(self.capacity) as usize;
        let seq = self.header_u64(log).fetch_add(1, Ordering::SeqCst);
        let rec = log
            + EXITLOG_HEADER_SIZE
            + (seq % exitlog_len(self.capacity)) as usize * EXIT_RECORD_SIZE;
        let stamp = self.header_u64(rec);
        stamp.store(0, Ordering::Relaxed);
        fence(Ordering::Release);
        // SAFETY: offsets of ExitRecord::pid and ::slot, 4-aligned, inside the mapping.
        let (pid, slot_cell) = unsafe {
            (
                &*(self.base.add(rec + 16) as *const AtomicU32),
                &*(self.base.add(rec + 20) as *const AtomicU32),
            )
        };
        pid.store((w >> SLOT_PID_SHIFT) as u32, Ordering::Relaxed);
        slot_cell.store(slot, Ordering::Relaxed);
        self.header_u64(rec + 8).store(start, Ordering::Relaxed);
        stamp.store(seq + 1, Ordering::Release);
        // SAFETY: offset of ExitLogHeader::wake, 4-aligned, inside the mapping.
        let wake = unsafe { &*(self.base.add(log + 8) as *const AtomicU32) };
        wake.fetch_add(1, Ordering::SeqCst);
        crate::sync::wake(wake, u32::MAX);
    }

    /// Frees dead members' slots; returns the number of live ones.
    fn sweep(&self, own: bool) -> u32 {
        let mut live = 0;
        for i in 0..self.capacity {
            let w = self.slot_word(i).load(Ordering::Acquire);
            if w & SLOT_STATUS_MASK == SLOT_FREE {
                continue;
            }
            if !(own && i == self.slot) && slot_dead(w, self.slot_start(i).load(Ordering::Relaxed))
            {
                self.slot_free(i, w); // a lost race: someone else freed it
                continue;
            }
            live += 1;
        }
        live
    }

    fn register(&mut self) -> Result<(), String> {
        let (pid, start) = self_ident();
        for pass in 0..2 {
            for i in 0..self.capacity {
                let cell = self.slot_word(i);
                let w = cell.load(Ordering::Acquire);
                if w & SLOT_STATUS_MASK != SLOT_FREE {
                    continue;
                }
                let count = ((w & SLOT_COUNT_MASK) + SLOT_COUNT_ONE) & SLOT_COUNT_MASK;
                let claimed = ((pid as u64) << SLOT_PID_SHIFT) | count | SLOT_CLAIMED;
                if cell
                    .compare_exchange(w, claimed, Ordering::SeqCst, Ordering::SeqCst)
                    .is_err()
                {
                    continue;
                }
                self.slot_start(i).store(start, Ordering::Relaxed);
                self.header_u64(HEADER_SIZE + i as usize * SLOT_SIZE + 16).store(0, Ordering::Relaxed); // in_op
                let active = (claimed & !SLOT_STATUS_MASK) | SLOT_ACTIVE;
                cell.store(active, Ordering::Release);
                self.slot = i;
                self.slot_word = active;
                return Ok(());
            }
            if pass == 0 {
                self.sweep(false);
            }
        }
        Err(format!(
            "{}: the attach table is full ({} members)",
            self.path.display(),
            self.capacity
        ))
    }

    fn generation_start(&mut self, init: &mut dyn FnMut(&mut [u8])) -> Result<(), String> {
        self.state().store(STATE_INIT, Ordering::SeqCst);
        // SAFETY: we hold the region exclusively (new file or exclusive flock): no one
        // else reads or writes the table or the shared area now.
        unsafe {
            std::ptr::write_bytes(self.base.add(HEADER_SIZE), 0, self.size - HEADER_SIZE);
            init(std::slice::from_raw_parts_mut(
                self.base.add(self.shared_offset as usize),
                self.region_size as usize,
            ));
        }
        let g = self.generation_cell().load(Ordering::Relaxed);
        self.generation_cell().store(g + 1, Ordering::Relaxed);
        let creator = std::mem::offset_of!(Header, creator_pid);
        let time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        // SAFETY: plain header fields inside the mapping, written while exclusive.
        unsafe {
            (self.base.add(creator) as *mut u32).write(std::process::id());
            (self.base.add(std::mem::offset_of!(Header, generation_time)) as *mut u64).write(time);
        }
        self.write_info();
        self.register()?;
        self.first = true;
        self.state().store(STATE_READY, Ordering::Release);
        Ok(())
    }

    /// The program path and the description after the shared area (header: where).
    fn write_info(&mut self) {
        let exe = std::fs::read_link("/proc/self/exe").unwrap_or_default();
        let exe = exe.as_os_str().as_encoded_bytes();
        let exe = &exe[..exe.len().min(PROGRAM_SIZE as usize - 1)];
        // SAFETY: the header was checked (or written) for this mapping's size, and we hold
        // the region exclusively.
        unsafe {
            let h = &*(self.base as *const Header);
            let (prog, desc) = (h.program_offset as usize, h.desc_offset as usize);
            std::ptr::copy_nonoverlapping(exe.as_ptr(), self.base.add(prog), exe.len());
            std::ptr::copy_nonoverlapping(self.desc.as_ptr(), self.base.add(desc), self.desc.len());
        }
    }

    fn lock_shared(&self) -> Result<(), String> {
        // SAFETY: flock on our descriptor.
        while unsafe { libc::flock(self.fd, libc::LOCK_SH) } != 0 {
            if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                return Err(os_err("cannot lock", &self.path));
            }
        }
        fence(Ordering::SeqCst);
        Ok(())
    }

    fn fstat(&self) -> Result<libc::stat, String> {
        // SAFETY: fstat into a zeroed struct on our descriptor.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        if unsafe { libc::fstat(self.fd, &mut st) } != 0 {
            return Err(os_err("cannot stat", &self.path));
        }
        Ok(st)
    }

    /// Unmaps and closes (dropping the flock) without the leave protocol.
    fn discard(&mut self) {
        // SAFETY: our own mapping and descriptor, not used afterwards.
        unsafe {
            if !self.base.is_null() {
                libc::munmap(self.base as *mut libc::c_void, self.size);
            }
            libc::close(self.fd);
        }
        self.base = std::ptr::null_mut();
        self.fd = -1;
    }

    fn create(
        build: &Build,
        path: &std::path::Path,
        init: &mut dyn FnMut(&mut [u8]),
    ) -> Result<Attempt, String> {
        let dir = CString::new(DIR).unwrap();
        // SAFETY: plain system calls on a descriptor we own.
        let fd = unsafe {
            libc::open(
                dir.as_ptr(),
                libc::O_TMPFILE | libc::O_RDWR | libc::O_CLOEXEC,
                0o600,
            )
        };
        let mut m = Member::blank(build, path, fd);
        if fd < 0 {
            return Err(os_err(
                "cannot create a region in",
                std::path::Path::new(DIR),
            ));
        }
        if unsafe { libc::fchmod(fd, 0o600) } != 0 || unsafe { libc::flock(fd, libc::LOCK_SH) } != 0
        {
            let e = os_err("cannot prepare a region in", std::path::Path::new(DIR));
            m.discard();
            return Err(e);
        }
        let err = unsafe { libc::posix_fallocate(fd, 0, m.size as libc::off_t) };
        if err != 0 {
            m.discard();
            return Err(format!(
                "cannot reserve {} bytes in {DIR} for the region: {}",
                m.size,
                std::io::Error::from_raw_os_error(err)
            ));
        }
        if let Err(e) = m.map() {
            m.discard();
            return Err(e);
        }
        let h = Header::new(
            build.build_fp,
            build.layout_fp,
            build.capacity,
            build.region_size,
            build.desc.len() as u64,
        );
        // SAFETY: the new file is ours alone; the header fits in the mapping.
        unsafe { std::ptr::write(m.base as *mut Header, h) };
        m.generation_start(init)?;
        fence(Ordering::SeqCst);
        let proc = CString::new(format!("/proc/self/fd/{fd}")).unwrap();
        if unsafe {
            libc::linkat(
                libc::AT_FDCWD,
                proc.as_ptr(),
                libc::AT_FDCWD,
                m.cpath.as_ptr(),
                libc::AT_SYMLINK_FOLLOW,
            )
        } == 0
        {
            return Ok(Attempt::Joined(m));
        }
        let e = std::io::Error::last_os_error();
        m.discard();
        if e.raw_os_error() == Some(libc::EEXIST) {
            return Ok(Attempt::Retry);
        }
        Err(format!("cannot publish the region {}: {e}", path.display()))
    }

    fn attach(
        build: &Build,
        path: &std::path::Path,
        init: &mut dyn FnMut(&mut [u8]),
    ) -> Result<Attempt, String> {
        let cpath = CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: plain system calls on a descriptor we own.
        let fd = unsafe {
            libc::open(
                cpath.as_ptr(),
                libc::O_RDWR | libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NONBLOCK,
            )
        };
        if fd < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOENT) {
                return Ok(Attempt::Absent);
            }
            return Err(os_err("cannot open", path));
        }
        let mut m = Member::blank(build, path, fd);
        let r = m.attach_open(build, init);
        if !matches!(r, Ok(true)) {
            m.discard();
        }
        Ok(match r? {
            true => Attempt::Joined(m),
            false => Attempt::Retry,
        })
    }

    /// The rest of attach, on an open descriptor: Ok(false) means start over.
    fn attach_open(
        &mut self,
        build: &Build,
        init: &mut dyn FnMut(&mut [u8]),
    ) -> Result<bool, String> {
        let st = self.fstat()?;
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            return Err(format!(
                "{} is not a regular file; refusing to use it",
                self.path.display()
            ));
        }
        if st.st_uid != unsafe { libc::geteuid() } {
            return Err(format!(
                "{} belongs to uid {}, not to us; refusing to use it",
                self.path.display(),
                st.st_uid
            ));
        }
        self.check_access(&st)?;
        // SAFETY: flock on our descriptor.
        let excl = unsafe { libc::flock(self.fd, libc::LOCK_EX | libc::LOCK_NB) } == 0;
        if excl {
            fence(Ordering::SeqCst);
        } else {
            self.lock_shared()?;
        }
        let st = self.fstat()?;
        if st.st_nlink == 0 {
            return Ok(false);
        }
        self.check_access(&st)?; // again: a link or chmod while we waited for the lock
        let mut bytes = [0u8; HEADER_SIZE];
        let n = unsafe {
            libc::pread(
                self.fd,
                bytes.as_mut_ptr() as *mut libc::c_void,
                HEADER_SIZE,
                0,
            )
        };
        let untouched = |why: String| {
            format!(
                "{}: {why}; refusing to use it (left untouched)",
                self.path.display()
            )
        };
        if n != HEADER_SIZE as isize {
            return Err(untouched("too small to be a Truk fleet region".into()));
        }
        let h = Header::from_bytes(&bytes).unwrap();
        h.check_for(st.st_size as u64, build).map_err(untouched)?;
        self.map()?;
        let ready = self.state().load(Ordering::Acquire) == STATE_READY;
        if excl {
            if ready && self.sweep(false) > 0 {
                self.register()?;
            } else {
                self.generation_start(init)?;
            }
            fence(Ordering::SeqCst);
            self.lock_shared()?;
        } else {
            if !ready {
                return Ok(false);
            }
            self.register()?;
        }
        if self.fstat()?.st_nlink == 0 {
            self.deregister();
            return Ok(false);
        }
        Ok(true)
    }

    /// Refuses a file others could reach (see [`access_problem`]).
    #[allow(clippy::useless_conversion)] // nlink_t is u32 on aarch64
    fn check_access(&self, st: &libc::stat) -> Result<(), String> {
        match access_problem(st.st_mode, u64::from(st.st_nlink)) {
            Some(why) => Err(format!(
                "{} {why}; refusing to use it (left untouched)",
                self.path.display()
            )),
            None => Ok(()),
        }
    }

    fn deregister(&self) {
        self.slot_free(self.slot, self.slot_word);
    }

    /// The shared-variable area (region_size bytes, 64-byte aligned).
    pub fn shared(&self) -> *mut u8 {
        // SAFETY: shared_offset is inside the mapping.
        unsafe { self.base.add(self.shared_offset as usize) }
    }

    /// The u64 at byte `off` of the shared area, as an atomic.
    pub fn shared_u64(&self, off: usize) -> &AtomicU64 {
        assert!(
            off.is_multiple_of(8) && off as u64 + 8 <= self.region_size,
            "shared_u64({off})"
        );
        // SAFETY: aligned, in bounds (checked above), shared memory accessed atomically.
        unsafe { &*(self.shared().add(off) as *const AtomicU64) }
    }

    pub fn slot(&self) -> u32 {
        self.slot
    }

    /// This member started the current generation.
    pub fn first(&self) -> bool {
        self.first
    }

    pub fn generation(&self) -> u64 {
        self.generation_cell().load(Ordering::Acquire)
    }

    /// Live members, after reaping the dead.
    pub fn size(&self) -> u32 {
        self.sweep(true)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Leaves the fleet (also what dropping does).
    pub fn leave(self) {}
}

impl Drop for Member {
    fn drop(&mut self) {
        if self.base.is_null() {
            return;
        }
        crate::sync::abandon_in(self.base, self.size); // before the region is unmapped
        self.deregister();
        fence(Ordering::SeqCst);
        // Converting SH to EX|NB drops our lock first: success means no other holder,
        // and no live slot means nobody is between its locks either.
        // SAFETY: flock and unlink on our own descriptor and region name.
        if unsafe { libc::flock(self.fd, libc::LOCK_EX | libc::LOCK_NB) } == 0
            && self.fstat().map(|s| s.st_nlink > 0).unwrap_or(false)
            && self.sweep(false) == 0
        {
            unsafe { libc::unlink(self.cpath.as_ptr()) };
        }
        self.discard();
    }
}
